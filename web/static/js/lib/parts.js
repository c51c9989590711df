// Pure planning for multipart uploads: which parts remain, their byte ranges, how to react to a PUT
// outcome, and a speed/ETA estimator with an injectable clock. The upload module does the I/O.

export const URL_BATCH = 20;

/** Part numbers (1-based, ascending) not yet stored on the server. */
export function pendingParts(partCount, uploadedParts) {
  const done = new Set((uploadedParts || []).map(Number));
  const out = [];
  for (let n = 1; n <= partCount; n += 1) if (!done.has(n)) out.push(n);
  return out;
}

/** Byte range [start, end) of a part; the last part is shorter. */
export function partRange(partNumber, partSize, fileSize) {
  const start = (partNumber - 1) * partSize;
  return { start, end: Math.min(fileSize, start + partSize) };
}

/** Bytes already on the server for the given stored parts. */
export function storedBytes(uploadedParts, partSize, fileSize) {
  let sum = 0;
  for (const n of uploadedParts || []) {
    const r = partRange(Number(n), partSize, fileSize);
    sum += Math.max(0, r.end - r.start);
  }
  return sum;
}

/** The server's plan must agree with the file we hold, or the parts would not line up. */
export function planMatchesFile(plan, fileSize) {
  const { part_size: partSize, part_count: partCount } = plan;
  if (!(partSize > 0) || !(partCount > 0)) return false;
  return Math.ceil(fileSize / partSize) === partCount;
}

/** Next up to `limit` parts that still need a presigned URL, in upload order. */
export function nextUrlBatch(queue, haveUrl, limit = URL_BATCH) {
  const out = [];
  for (const n of queue) {
    if (out.length >= limit) break;
    if (!haveUrl(n)) out.push(n);
  }
  return out;
}

/**
 * What to do after a part PUT finished with HTTP status (0 = network error / aborted by the network).
 * "done": stored. "renew": presigned URL expired or refused, fetch a new one and retry at once.
 * "retry": transient, back off. "fatal": the upload itself is gone or invalid.
 */
export function classifyPut(status) {
  if (status >= 200 && status < 300) return "done";
  if (status === 403) return "renew";
  if (status === 0 || status === 408 || status === 429 || status >= 500) return "retry";
  return "fatal";
}

/** Lower-case extension without the dot, "" when none. */
export function extensionOf(filename) {
  const i = String(filename).lastIndexOf(".");
  return i > 0 ? String(filename).slice(i + 1).toLowerCase() : "";
}

/**
 * Client-side pre-check of a chosen file. Returns a Chinese message, or "" when acceptable.
 * allowedExt: array of extensions without dots; maxBytes: 0/NaN = unlimited.
 */
export function validateFile({ name, size }, { allowedExt, maxBytes }) {
  if (!size) return "文件是空的，请重新选择。";
  const ext = extensionOf(name);
  const allowed = (allowedExt || []).map((e) => e.trim().replace(/^\./, "").toLowerCase()).filter(Boolean);
  if (allowed.length && !allowed.includes(ext)) {
    return `不支持该文件类型（.${ext || "无扩展名"}），请选择 ${allowed.map((e) => "." + e).join("、")} 格式的视频。`;
  }
  if (maxBytes > 0 && size > maxBytes) {
    const gib = maxBytes / 1024 ** 3;
    const limit = gib >= 1 ? `${+gib.toFixed(1)} GB` : `${Math.round(maxBytes / 1024 ** 2)} MB`;
    return `文件太大，最大允许 ${limit}。`;
  }
  return "";
}

/**
 * Throughput over a sliding window. `now` is injectable for tests; samples are cumulative byte counts
 * sent in this browser session (bytes already on the server before a resume are not speed).
 */
export class SpeedMeter {
  constructor({ windowMs = 8000, now = () => Date.now() } = {}) {
    this.windowMs = windowMs;
    this.now = now;
    this.samples = [];
  }

  add(cumulativeBytes) {
    const t = this.now();
    this.samples.push([t, cumulativeBytes]);
    while (this.samples.length > 2 && t - this.samples[0][0] > this.windowMs) this.samples.shift();
  }

  /** Bytes per second, 0 until at least one second of data exists. */
  rate() {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    const dt = t1 - t0;
    if (dt < 1000) return 0;
    return Math.max(0, ((b1 - b0) * 1000) / dt);
  }

  /** Seconds left for `remainingBytes`, null when the rate is unknown. */
  eta(remainingBytes) {
    const r = this.rate();
    return r > 0 ? remainingBytes / r : null;
  }
}
