// Retry timing shared by uploads and heartbeats. Pure apart from the injectable random source.

/**
 * Exponential backoff with "equal jitter": half the exponential step is fixed, half random,
 * so retries from many phones after an outage spread out but never fire immediately.
 * attempt counts from 1.
 */
export function backoffDelay(attempt, { baseMs = 1000, maxMs = 30000, random = Math.random } = {}) {
  const n = Math.max(1, Math.floor(attempt));
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(n - 1, 30));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Promise that resolves after ms, or early when signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal && signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      if (signal) signal.removeEventListener("abort", done);
      resolve();
    }
    if (signal) signal.addEventListener("abort", done);
  });
}

/** Resolves once the browser reports being online (immediately if it already does). */
export function waitOnline(signal) {
  return new Promise((resolve) => {
    if (typeof navigator === "undefined" || navigator.onLine !== false) return resolve();
    function done() {
      window.removeEventListener("online", done);
      if (signal) signal.removeEventListener("abort", done);
      resolve();
    }
    window.addEventListener("online", done);
    if (signal) signal.addEventListener("abort", done);
  });
}
