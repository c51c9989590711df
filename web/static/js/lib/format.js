// Pure formatting helpers for Chinese UI text. No DOM, so they run under node --test.

const MB = 1024 * 1024;

/** "4:05" or "1:02:03" for a media position. */
export function formatClock(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  if (h > 0) return `${h}:${String(m).padStart(2, "0")}:${ss}`;
  return `${m}:${ss}`;
}

/** Study time as "3分20秒", "1小时5分", "45秒". */
export function formatStudyTime(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return m > 0 ? `${h}小时${m}分` : `${h}小时`;
  if (m > 0) return s > 0 ? `${m}分${s}秒` : `${m}分`;
  return `${s}秒`;
}

/** Rough remaining time: "剩余约 3 分钟". Empty string when unknown. */
export function formatEta(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "";
  const s = Math.ceil(seconds);
  if (s < 10) return "即将完成";
  if (s < 60) return `剩余约 ${Math.ceil(s / 10) * 10} 秒`;
  if (s < 3600) return `剩余约 ${Math.round(s / 60)} 分钟`;
  const h = Math.floor(s / 3600);
  const m = Math.round((s % 3600) / 60);
  if (m === 60) return `剩余约 ${h + 1} 小时`;
  return m > 0 ? `剩余约 ${h} 小时 ${m} 分钟` : `剩余约 ${h} 小时`;
}

/** Transfer speed in MB/秒 with one decimal (two below 0.1). */
export function formatSpeed(bytesPerSecond) {
  const v = Math.max(0, Number(bytesPerSecond) || 0) / MB;
  const digits = v > 0 && v < 0.1 ? 2 : 1;
  return `${v.toFixed(digits)} MB/秒`;
}

/** File size: "512 KB", "3.4 MB", "1.20 GB". */
export function formatBytes(bytes) {
  const b = Math.max(0, Number(bytes) || 0);
  if (b < MB) return `${Math.max(1, Math.round(b / 1024))} KB`;
  if (b < 1024 * MB) return `${(b / MB).toFixed(1)} MB`;
  return `${(b / (1024 * MB)).toFixed(2)} GB`;
}

/** Whole percent, floored so 100 % only shows when everything is done. */
export function percentOf(done, total) {
  if (!total || total <= 0) return 0;
  return Math.min(100, Math.max(0, Math.floor((done / total) * 100)));
}

/** "已上传 45% · 2.1 MB/秒 · 剩余约 3 分钟"; speed/ETA omitted until measurable. */
export function uploadStatusText({ done, total, bytesPerSecond, etaSeconds }) {
  const parts = [`已上传 ${percentOf(done, total)}%`];
  if (bytesPerSecond > 0) parts.push(formatSpeed(bytesPerSecond));
  const eta = formatEta(etaSeconds);
  if (eta) parts.push(eta);
  return parts.join(" · ");
}
