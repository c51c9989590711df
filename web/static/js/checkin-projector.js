// Projector page for on-site check-in: a rotating QR code and a live head count.
// Mount: <div data-projector data-lecture-id="ID">; optional children [data-projector-qr],
// [data-projector-count], [data-projector-countdown], [data-projector-status] are used if present.
import { api } from "./api.js";
import { backoffDelay } from "./lib/backoff.js";

const REFRESH_S = 15;

function part(root, name, tag, className) {
  let node = root.querySelector(`[data-projector-${name}]`);
  if (!node) {
    node = document.createElement(tag);
    node.setAttribute(`data-projector-${name}`, "");
    node.className = className;
    root.appendChild(node);
  }
  return node;
}

class Projector {
  constructor(root) {
    this.root = root;
    this.lectureId = root.dataset.lectureId;
    root.classList.add("projector");
    const qrBox = part(root, "qr", "div", "projector__qr");
    this.img = document.createElement("img");
    this.img.alt = "签到二维码：请用微信扫一扫";
    qrBox.textContent = "";
    qrBox.appendChild(this.img);
    this.qrBox = qrBox;
    this.count = part(root, "count", "p", "projector__count");
    this.countdown = part(root, "countdown", "p", "projector__countdown");
    this.status = part(root, "status", "p", "projector__status");
    this.count.setAttribute("aria-live", "polite");
    this.status.setAttribute("role", "status");
    this.expiresAt = 0;
    this.nextFetchAt = 0;
    this.failures = 0;
    this.wakeLock = null;
    setInterval(() => this.tick(), 1000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) {
        this.keepAwake();
        this.fetch();
      }
    });
    this.keepAwake();
    this.fetch();
  }

  async keepAwake() {
    // A projector laptop must not dim mid-session; unsupported browsers simply skip this.
    if (!navigator.wakeLock || this.wakeLock) return;
    try {
      this.wakeLock = await navigator.wakeLock.request("screen");
      this.wakeLock.addEventListener("release", () => {
        this.wakeLock = null;
      });
    } catch (e) {
      this.wakeLock = null;
    }
  }

  async fetch() {
    if (this.loading) return;
    this.loading = true;
    try {
      const data = await api(`/api/v1/lectures/${this.lectureId}/checkin-qr`);
      this.failures = 0;
      this.show(data || {});
    } catch (e) {
      this.failures += 1;
      this.status.textContent = e.status === 0 ? "网络中断，正在重新连接…" : e.message;
      this.status.classList.add("is-error");
      this.nextFetchAt = Date.now() + Math.min(REFRESH_S * 1000, backoffDelay(this.failures));
    } finally {
      this.loading = false;
    }
  }

  show(data) {
    if (data.svg) this.img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(data.svg)}`;
    const count = Number(data.count) || 0;
    this.count.textContent = `已签到 ${count} 人`;
    const ttl = Number(data.expires_in_s) > 0 ? Number(data.expires_in_s) : REFRESH_S;
    const now = Date.now();
    this.expiresAt = now + ttl * 1000;
    this.nextFetchAt = now + Math.min(REFRESH_S, ttl) * 1000;
    this.status.textContent = "";
    this.status.classList.remove("is-error");
    this.qrBox.classList.remove("is-stale");
    this.tick();
  }

  tick() {
    const now = Date.now();
    if (this.expiresAt) {
      const expired = now >= this.expiresAt;
      const left = Math.max(0, Math.ceil((Math.min(this.nextFetchAt, this.expiresAt) - now) / 1000));
      this.countdown.textContent = expired ? "二维码已过期，正在刷新…" : `二维码 ${left} 秒后刷新`;
      this.qrBox.classList.toggle("is-stale", expired);
    }
    if (now >= this.nextFetchAt && !document.hidden) this.fetch();
  }
}

export function mountProjector(root) {
  if (!root.jtProjector) root.jtProjector = new Projector(root);
  return root.jtProjector;
}

document.querySelectorAll("[data-projector][data-lecture-id]").forEach((root) => mountProjector(root));
