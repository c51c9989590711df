// Live transcode progress for a lecture's recording.
// Mount: <div data-media-status data-lecture-id="ID" [data-no-reload]></div>; polls GET /api/v1/lectures/{id}/media-status.
import { api } from "./api.js";
import { backoffDelay } from "./lib/backoff.js";
import { formatEta } from "./lib/format.js";

const LABELS = {
  none: "尚未上传",
  queued: "排队中",
  probing: "检查文件",
  transcoding: "转码中",
  publishing: "发布中",
  ready: "已就绪",
  failed: "失败",
};
const ACTIVE = new Set(["queued", "probing", "transcoding", "publishing"]);
const VISIBLE_MS = 2000;
const HIDDEN_MS = 15000;
const GRACE_MS = 60000; // after an upload the server may still report "none" for a moment
const RELOAD_KEY = "jt.ms.reloaded.";

function make(tag, className, parent) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (parent) parent.appendChild(el);
  return el;
}

class MediaStatus {
  constructor(el) {
    this.el = el;
    this.lectureId = el.dataset.lectureId;
    this.timer = 0;
    this.failures = 0;
    this.kickedAt = 0;
    el.classList.add("media-status");
    el.setAttribute("role", "status");
    el.setAttribute("aria-live", "polite");
    el.textContent = "";
    const head = make("div", "media-status__head", el);
    this.badge = make("span", "badge badge--state", head);
    this.eta = make("span", "media-status__eta", head);
    const bar = make("div", "progress", el);
    this.bar = make("progress", "", bar);
    this.bar.max = 100;
    this.bar.setAttribute("aria-label", "视频处理进度");
    this.text = make("span", "progress__text", bar);
    this.message = make("p", "media-status__message", el);
    this.badge.textContent = "正在获取状态…";
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.timer) this.poll(false);
    });
  }

  /** Poll now and keep polling while processing; called at mount and when an upload completes. */
  poll(kick = true) {
    if (kick) {
      this.kickedAt = Date.now();
      try {
        sessionStorage.removeItem(RELOAD_KEY + this.lectureId);
      } catch (e) {
        // No storage: reloadOnce falls back to a message.
      }
    }
    clearTimeout(this.timer);
    this.timer = 0;
    this.fetch();
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fetch(), ms);
  }

  async fetch() {
    let data;
    try {
      data = await api(`/api/v1/lectures/${this.lectureId}/media-status`);
      this.failures = 0;
    } catch (e) {
      this.failures += 1;
      this.message.textContent = e.status === 0 ? "暂时无法获取处理进度，正在重试…" : e.message;
      this.message.classList.add("is-error");
      if (e.status === 0 || e.status >= 500) this.schedule(backoffDelay(this.failures, { baseMs: 2000, maxMs: 60000 }));
      return;
    }
    this.render(data || {});
    if (data && data.playable && !document.querySelector("[data-player]") && this.reloadOnce()) return;
    const state = data && data.state;
    const waiting = state === "none" && Date.now() - this.kickedAt < GRACE_MS;
    if (ACTIVE.has(state) || waiting) this.schedule(document.hidden ? HIDDEN_MS : VISIBLE_MS);
    else this.timer = 0;
  }

  render(data) {
    const state = LABELS[data.state] ? data.state : "none";
    this.el.dataset.state = state;
    this.badge.textContent = LABELS[state];
    this.badge.className = `badge badge--state badge--${state}`;
    const pct = Number(data.percent);
    const known = Number.isFinite(pct) && (state === "transcoding" || state === "publishing" || state === "ready");
    if (state === "ready") this.bar.value = 100;
    else if (known) this.bar.value = Math.max(0, Math.min(100, pct));
    else this.bar.removeAttribute("value"); // indeterminate while queued/probing
    this.bar.hidden = state === "none" || state === "failed";
    this.text.textContent = known || state === "ready" ? `${Math.floor(state === "ready" ? 100 : pct)}%` : "";
    this.eta.textContent = ACTIVE.has(state) ? formatEta(data.eta_s) : "";
    let message = data.message || "";
    if (!message && state === "failed") message = "视频处理失败，请检查文件后重新上传。";
    if (!message && ACTIVE.has(state) && data.playable) message = "已可先行观看，更高清晰度仍在处理中。";
    this.message.textContent = message;
    this.message.classList.toggle("is-error", state === "failed");
  }

  /**
   * Reload once per lecture per tab (sessionStorage), so a page whose player never appears cannot loop.
   * A new upload (kick) re-arms it. data-no-reload on the element opts out (e.g. an admin upload page).
   */
  reloadOnce() {
    const key = RELOAD_KEY + this.lectureId;
    if (!this.el.hasAttribute("data-no-reload")) {
      try {
        if (!sessionStorage.getItem(key)) {
          sessionStorage.setItem(key, String(Date.now()));
          window.location.reload();
          return true;
        }
      } catch (e) {
        // Without sessionStorage a reload could repeat forever; ask the user instead.
      }
    }
    this.message.textContent = "视频已可以播放，请刷新页面观看。";
    return false;
  }
}

/** kick: an upload just completed, so keep polling through a brief "none". */
export function mountMediaStatus(el, { kick = false } = {}) {
  if (!el.jtMediaStatus) el.jtMediaStatus = new MediaStatus(el);
  else if (!kick) return el.jtMediaStatus;
  el.jtMediaStatus.poll(kick);
  return el.jtMediaStatus;
}

document.querySelectorAll("[data-media-status][data-lecture-id]").forEach((el) => mountMediaStatus(el));
