// Pure parser for sprite-thumbnail WebVTT ("sprite.jpg#xywh=x,y,w,h" cues) and lookup by time.

function parseTimestamp(text) {
  const m = /^(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?$/.exec(text.trim());
  if (!m) return NaN;
  const ms = m[4] ? Number(m[4].padEnd(3, "0")) : 0;
  return Number(m[1] || 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) + ms / 1000;
}

/**
 * Returns cues sorted by start: {start, end, url, x, y, w, h}. Relative image references are
 * resolved against baseUrl (the VTT's own URL). Malformed cues are skipped, not fatal.
 */
export function parseThumbnailVtt(text, baseUrl) {
  const cues = [];
  const blocks = String(text).replace(/\r\n?/g, "\n").split(/\n{2,}/);
  for (const block of blocks) {
    const lines = block.split("\n").map((l) => l.trim()).filter(Boolean);
    const i = lines.findIndex((l) => l.includes("-->"));
    if (i < 0 || i + 1 >= lines.length) continue;
    const [a, b] = lines[i].split("-->");
    const start = parseTimestamp(a);
    const end = parseTimestamp(b.trim().split(/\s+/)[0]);
    if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) continue;
    const ref = lines[i + 1];
    const hash = ref.indexOf("#xywh=");
    let url = hash >= 0 ? ref.slice(0, hash) : ref;
    let x = 0;
    let y = 0;
    let w = 0;
    let h = 0;
    if (hash >= 0) {
      const nums = ref.slice(hash + 6).split(",").map(Number);
      if (nums.length !== 4 || nums.some((n) => !Number.isFinite(n) || n < 0)) continue;
      [x, y, w, h] = nums;
    }
    try {
      url = baseUrl ? new URL(url, baseUrl).href : url;
    } catch (e) {
      continue;
    }
    cues.push({ start, end, url, x, y, w, h });
  }
  cues.sort((p, q) => p.start - q.start);
  return cues;
}

/** Binary search for the cue covering time t (nearest earlier cue if t falls in a gap). */
export function cueAt(cues, t) {
  let lo = 0;
  let hi = cues.length - 1;
  let best = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cues[mid].start <= t) {
      best = cues[mid];
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}
