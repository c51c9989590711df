// Pure choice of playback engine from what the browser reports.

/** Apple WebKit (Safari, iOS WeChat, every iOS browser): its own HLS stack is the most reliable there. */
export function isAppleWebKit(ua) {
  return /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && /Safari/.test(ua) && !/Chrome|Chromium|Edg\//.test(ua));
}

/**
 * "native" | "hls" | "none". nativeHls: canPlayType(HLS) was non-empty; mse: MediaSource (or Managed-) exists.
 * Android WebViews (X5/XWeb) also answer "maybe" for HLS but play it poorly, so hls.js wins wherever MSE exists,
 * except on Apple WebKit; iOS WeChat has no MSE at all and gets native.
 */
export function chooseEngine({ nativeHls, mse, ua }) {
  if (nativeHls && (!mse || isAppleWebKit(ua))) return "native";
  if (mse) return "hls";
  return nativeHls ? "native" : "none";
}
