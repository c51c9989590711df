// Viewing-session heartbeats for attendance credit. Used by player.js; not mounted on its own.
// Every heartbeat goes through a per-session localStorage queue and is sent strictly in order, so a
// weak network delays credit but never loses or reorders it. The server is idempotent on (session, seq).
import { api } from "./api.js";
import { backoffDelay } from "./lib/backoff.js";
import { formatStudyTime } from "./lib/format.js";
import { createStore, enqueue, flushQueue, orphanSessions, queueLength, release } from "./lib/queue.js";

function localStore() {
  try {
    return window.localStorage;
  } catch (e) {
    return null; // storage disabled by the browser: the queue lives in memory only
  }
}

const store = createStore(localStore());
const PAGE_ID = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
let orphansRunning = false;

function heartbeatUrl(sessionId) {
  return `/api/v1/viewing-sessions/${encodeURIComponent(sessionId)}/heartbeats`;
}

async function postHeartbeat(url, payload) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(payload),
    credentials: "same-origin",
  });
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  return { status: res.status, body };
}

/** Fire-and-forget for a page that is going away; text/plain keeps it a simple (preflight-free) request. */
function beacon(url, payload) {
  const body = JSON.stringify(payload);
  try {
    if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) return;
  } catch (e) {
    // fall through to fetch keepalive
  }
  try {
    fetch(url, { method: "POST", body, headers: { "Content-Type": "text/plain" }, keepalive: true, credentials: "same-origin" })
      .catch(() => {});
  } catch (e) {
    // The queued copy is resent by the next page.
  }
}

/** Resend queues that earlier pages could not deliver (closed tab, reload while offline). */
async function flushOrphans(currentSessionId) {
  if (orphansRunning) return;
  orphansRunning = true;
  try {
    for (const sid of orphanSessions(store, { currentSessionId, now: Date.now() })) {
      const r = await flushQueue(store, sid, postHeartbeat);
      if (r.state === "retry") break; // still offline: try again on the next round
    }
  } finally {
    orphansRunning = false;
  }
}

export class Attendance {
  constructor(video, { lectureId, container, onSession = () => {} }) {
    this.video = video;
    this.lectureId = lectureId;
    this.onSession = onSession;
    this.session = null;
    this.stopped = false;
    this.disabled = false;
    this.flushing = false;
    this.retryAttempt = 0;
    this.lastPos = 0;
    this.lastSentPos = -1;
    this.preSeekSent = false;
    this.leaving = false;
    this.buildUi(container);
    this.bind();
    flushOrphans(null);
    setInterval(() => flushOrphans(this.session && this.session.session_id), 60000);
  }

  buildUi(container) {
    this.box = document.createElement("div");
    this.box.className = "attendance";
    this.box.setAttribute("aria-live", "polite");
    this.figure = document.createElement("span");
    this.figure.className = "attendance__figure";
    this.note = document.createElement("span");
    this.note.className = "attendance__note";
    this.resumeBtn = document.createElement("button");
    this.resumeBtn.type = "button";
    this.resumeBtn.className = "btn btn--secondary btn--small";
    this.resumeBtn.textContent = "在本页继续计时";
    this.resumeBtn.hidden = true;
    this.resumeBtn.addEventListener("click", () => this.resumeHere());
    this.box.append(this.figure, this.note, this.resumeBtn);
    container.appendChild(this.box);
  }

  bind() {
    const v = this.video;
    v.addEventListener("play", () => this.onPlay());
    v.addEventListener("pause", () => {
      if (!v.ended) this.beat("pause");
    });
    v.addEventListener("ended", () => this.beat("ended"));
    v.addEventListener("ratechange", () => this.beat("ratechange"));
    v.addEventListener("timeupdate", () => {
      if (!v.seeking) this.lastPos = v.currentTime;
    });
    v.addEventListener("seeking", () => {
      // currentTime already holds the target here: report the span played just before the jump.
      if (!this.preSeekSent && !v.paused && Math.abs(this.lastPos - this.lastSentPos) > 0.5) {
        this.preSeekSent = true;
        this.beat("tick", { position: this.lastPos });
      }
    });
    v.addEventListener("seeked", () => {
      this.preSeekSent = false;
      this.lastPos = v.currentTime;
      this.beat("seek");
    });
    document.addEventListener("visibilitychange", () => {
      const hidden = document.visibilityState === "hidden";
      this.beat("visibility", { beacon: hidden });
      if (!hidden) this.flush();
    });
    window.addEventListener("pagehide", () => {
      this.beat("pagehide", { beacon: true });
      // Beats after this (visibilitychange may follow pagehide) must not re-claim the queue.
      this.leaving = true;
      if (this.session) release(store, this.session.session_id);
    });
    window.addEventListener("pageshow", (e) => {
      this.leaving = false;
      if (e.persisted) this.flush();
    });
    window.addEventListener("online", () => {
      this.retryAttempt = 0;
      this.flush();
      flushOrphans(this.session && this.session.session_id);
    });
  }

  onPlay() {
    if (this.stopped || this.disabled) return;
    if (!this.session) this.open();
    else this.beat("play");
  }

  async open() {
    if (this.opening) return this.opening;
    this.opening = this.openLoop().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  async openLoop() {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const s = await api(`/api/v1/lectures/${this.lectureId}/viewing-sessions`, { method: "POST", body: {} });
        this.start(s);
        return;
      } catch (e) {
        if (e.status !== 0 && e.status < 500) {
          this.disabled = true;
          this.say("", `学习记录未开启：${e.message}`);
          return;
        }
        this.say("", "学习记录暂时无法连接，正在重试…");
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, { baseMs: 2000, maxMs: 60000 })));
        if (this.video.paused && attempt >= 3) return; // reopened on the next play
      }
    }
  }

  start(s) {
    this.session = s;
    this.seq = 0;
    this.openedAt = performance.now();
    this.stopped = false;
    this.resumeBtn.hidden = true;
    this.say("本次已计入学习 0秒", "");
    clearInterval(this.ticker);
    const every = Math.max(2, Number(s.heartbeat_interval_s) || 10) * 1000;
    this.ticker = setInterval(() => {
      const v = this.video;
      if (!v.paused && !v.ended && !v.seeking) this.beat("tick");
    }, every);
    this.onSession(s);
    this.beat(this.video.paused ? "pause" : "play");
    flushOrphans(s.session_id);
  }

  beat(event, { beacon: viaBeacon = false, position } = {}) {
    if (!this.session || this.stopped) return;
    const v = this.video;
    const sid = this.session.session_id;
    const pos = position === undefined ? v.currentTime : position;
    const payload = {
      token: this.session.token,
      seq: (this.seq += 1),
      position_s: Math.round((Number(pos) || 0) * 1000) / 1000,
      rate: v.playbackRate,
      paused: v.paused,
      visible: document.visibilityState === "visible",
      event,
      client_elapsed_ms: Math.round(performance.now() - this.openedAt),
    };
    this.lastSentPos = payload.position_s;
    const url = heartbeatUrl(sid);
    const backlog = queueLength(store, sid);
    enqueue(store, sid, url, payload, { owner: this.leaving ? null : PAGE_ID });
    if (viaBeacon) {
      // Only when nothing older is waiting, or the beacon could overtake it. The queued copy stays and is
      // resent later; the server answers that resend as a duplicate.
      if (backlog <= 1 && !this.retryAttempt) beacon(url, payload);
      return;
    }
    this.flush();
  }

  async flush() {
    if (this.flushing || !this.session || this.stopped) return;
    this.flushing = true;
    clearTimeout(this.retryTimer);
    const sid = this.session.session_id;
    let result;
    try {
      result = await flushQueue(store, sid, postHeartbeat, (item, body) => this.accepted(sid, body));
    } finally {
      this.flushing = false;
    }
    if (result.state === "retry") {
      this.retryAttempt += 1;
      this.say(null, navigator.onLine === false ? "网络已断开，学习记录将在恢复后补传" : "网络不稳定，学习记录稍后补传");
      const wait = navigator.onLine === false ? 30000 : backoffDelay(this.retryAttempt, { maxMs: 30000 });
      this.retryTimer = setTimeout(() => this.flush(), wait);
      return;
    }
    this.retryAttempt = 0;
    if (result.state === "stopped") return this.stop(result.code);
    this.say(null, "");
    if (queueLength(store, sid)) this.flush();
  }

  accepted(sid, body) {
    if (!body || !this.session || sid !== this.session.session_id) return;
    if (Number.isFinite(Number(body.watched_s))) {
      const done = body.completed ? " · 已完成" : "";
      this.say(`本次已计入学习 ${formatStudyTime(body.watched_s)}${done}`, null);
      this.box.classList.toggle("is-completed", Boolean(body.completed));
    }
  }

  stop(code) {
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.retryTimer);
    const text = code === "superseded" || code === "session_closed"
      ? "已在其他页面或设备播放，本页暂停计时"
      : "本页学习计时已停止";
    this.say(null, text);
    this.box.classList.add("is-stopped");
    this.resumeBtn.hidden = false;
  }

  resumeHere() {
    this.session = null;
    this.stopped = false;
    this.box.classList.remove("is-stopped");
    this.resumeBtn.hidden = true;
    this.say(null, "正在恢复计时…");
    this.open();
  }

  /** figure/note: string to set, null to keep. */
  say(figure, note) {
    if (figure !== null && figure !== undefined) this.figure.textContent = figure;
    if (note !== null && note !== undefined) this.note.textContent = note;
  }
}
