// Lecture player: native HLS on Apple WebKit (iOS WeChat has no MediaSource), hls.js elsewhere.
// Mount: <div data-player data-lecture-id data-src data-poster data-thumbs data-duration data-resume-s>.
import { Attendance } from "./attendance.js";
import { chooseEngine } from "./lib/engine.js";
import { formatClock } from "./lib/format.js";
import { loadScript } from "./load-script.js";
import { Scrub } from "./scrub.js";

const SPEEDS = [0.75, 1, 1.25, 1.5, 2];
const HLS_URL = new URL("../vendor/hls.min.js", import.meta.url).href;
const HLS_TYPE = "application/vnd.apple.mpegurl";
const UNSUPPORTED = "当前浏览器无法播放此视频，请升级微信或用系统浏览器打开。";

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

class Player {
  constructor(root) {
    this.root = root;
    const ds = root.dataset;
    this.src = ds.src;
    this.resumeAt = Number(ds.resumeS) || 0;
    this.duration = Number(ds.duration) || 0;
    this.hls = null;
    this.started = false;
    this.retries = 0;
    this.startAt = 0;
    this.lastTime = 0;
    root.classList.add("player");
    const stage = el("div", { class: "player__stage" });
    const v = el("video", {
      playsinline: "", "webkit-playsinline": "", "x5-playsinline": "", "x5-video-player-type": "h5",
      controls: "", preload: "metadata",
    });
    if (ds.poster) v.poster = ds.poster;
    this.video = v;
    this.errorBox = el("div", { class: "player__error", role: "alert" });
    this.errorBox.hidden = true;
    this.errorText = el("p");
    const retry = el("button", { type: "button", class: "btn btn--primary" }, "重试");
    retry.addEventListener("click", () => this.retry());
    this.errorBox.append(this.errorText, retry);
    stage.append(v, this.errorBox);
    const bar = el("div", { class: "player__bar" });
    this.resumeBtn = el("button", { type: "button", class: "btn btn--secondary btn--small player__resume" });
    this.resumeBtn.hidden = true;
    this.resumeBtn.addEventListener("click", () => this.resume());
    this.scrub = new Scrub(v, { container: bar, thumbsUrl: ds.thumbs, duration: this.duration });
    const controls = el("div", { class: "player__controls" });
    this.speed = el("select", { "aria-label": "播放速度" });
    // Faster than the course's max rate earns no study credit, so it is not offered.
    const maxRate = Number(ds.maxRate) || Math.max(...SPEEDS);
    for (const s of SPEEDS.filter((x) => x <= maxRate)) {
      this.speed.append(el("option", { value: String(s) }, `${s}×`));
    }
    this.speed.value = "1";
    this.speed.addEventListener("change", () => {
      // The default rate too: attaching the stream (hls.js, or a first play) resets playbackRate to it.
      v.defaultPlaybackRate = Number(this.speed.value);
      v.playbackRate = v.defaultPlaybackRate;
    });
    this.quality = el("select", { "aria-label": "清晰度" });
    this.quality.append(el("option", { value: "-1" }, "自动"));
    this.quality.hidden = true;
    this.quality.addEventListener("change", () => {
      if (this.hls) this.hls.currentLevel = Number(this.quality.value);
    });
    const full = el("button", { type: "button", class: "btn btn--secondary btn--small", "aria-label": "全屏（F）" }, "全屏");
    full.addEventListener("click", () => this.toggleFullscreen());
    controls.append(this.resumeBtn, this.labelled("倍速", this.speed), this.labelled("清晰度", this.quality), full);
    bar.append(controls);
    root.textContent = "";
    root.append(stage, bar);
    this.bind();
    this.attendance = new Attendance(v, {
      lectureId: ds.lectureId,
      container: root,
      onSession: (s) => {
        const pos = Number(s.resume_position_s);
        if (pos > 0 && v.currentTime < 5) this.offerResume(pos);
      },
    });
    this.offerResume(this.resumeAt);
    this.load();
  }

  labelled(text, control) {
    const label = el("label", { class: "player__field" });
    label.append(el("span", { class: "visually-hidden" }, text), control);
    control.addEventListener("change", () => control.blur());
    return label;
  }

  bind() {
    const v = this.video;
    v.addEventListener("play", () => {
      if (this.hls && !this.started) {
        this.started = true;
        this.hls.startLoad(this.startAt > 0 ? this.startAt : -1);
      }
    });
    v.addEventListener("loadedmetadata", () => {
      if (this.startAt > 0 && Math.abs(v.currentTime - this.startAt) > 2) v.currentTime = this.startAt;
      this.startAt = 0;
    });
    v.addEventListener("ratechange", () => {
      const r = String(v.playbackRate);
      if (SPEEDS.map(String).includes(r)) this.speed.value = r;
    });
    v.addEventListener("timeupdate", () => {
      if (!this.resumeBtn.hidden && v.currentTime > this.resumeAt) this.resumeBtn.hidden = true;
      this.lastTime = v.currentTime;
    });
    v.addEventListener("playing", () => {
      this.retries = 0;
      this.hideError();
    });
    v.addEventListener("error", () => {
      if (this.hls) return; // hls.js reports its own errors with more detail
      const code = v.error ? v.error.code : 0;
      if (code === 2) this.fail("视频加载失败，请检查网络后重试。");
      else if (code === 3) this.fail("视频解码出错，请重试。");
      else this.fail("视频无法播放：地址已失效或格式不受支持。请刷新页面重试。");
    });
    document.addEventListener("keydown", (e) => this.onKey(e));
  }

  offerResume(pos) {
    const d = this.duration || this.video.duration || 0;
    if (!(pos > 5) || (d > 0 && pos > d - 5)) return;
    this.resumeAt = pos;
    this.resumeBtn.textContent = `继续观看 ${formatClock(pos)}`;
    this.resumeBtn.hidden = false;
  }

  resume() {
    this.resumeBtn.hidden = true;
    this.seekTo(this.resumeAt);
    this.play();
  }

  seekTo(t) {
    if (this.video.readyState >= 1) this.video.currentTime = t;
    else this.startAt = t;
  }

  play() {
    const p = this.video.play();
    if (p && p.catch) p.catch(() => {}); // blocked without a gesture: the native play button remains
  }

  async load() {
    const v = this.video;
    const nativeHls = v.canPlayType(HLS_TYPE) !== "";
    const mse = Boolean(window.MediaSource || window.ManagedMediaSource || window.WebKitMediaSource);
    const engine = chooseEngine({ nativeHls, mse, ua: navigator.userAgent });
    if (engine === "none") return this.fail(UNSUPPORTED, false);
    if (engine === "native") {
      v.src = this.src;
      return;
    }
    let Hls;
    try {
      Hls = await loadScript(HLS_URL, "Hls");
    } catch (e) {
      return this.fail("播放器组件加载失败，请检查网络后重试。");
    }
    if (Hls.isSupported()) this.attachHls(Hls);
    else if (nativeHls) v.src = this.src;
    else this.fail(UNSUPPORTED, false);
  }

  attachHls(Hls) {
    const hls = new Hls({
      autoStartLoad: false, // phones on metered data: fetch segments only once the viewer presses play
      capLevelToPlayerSize: true,
      maxBufferLength: 30,
      maxMaxBufferLength: 60,
      backBufferLength: 30,
    });
    this.hls = hls;
    this.started = false;
    hls.on(Hls.Events.MANIFEST_PARSED, () => this.fillQualities());
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
      const lvl = hls.levels[data.level];
      const auto = this.quality.options[0];
      if (auto) auto.textContent = hls.autoLevelEnabled && lvl && lvl.height ? `自动（${lvl.height}p）` : "自动";
    });
    hls.on(Hls.Events.FRAG_BUFFERED, () => {
      this.retries = 0;
      if (this.errorBox.classList.contains("is-notice")) this.hideError();
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      this.retries += 1;
      // Without levels the playlist itself failed (expired link, not published): restarting cannot help.
      const haveLevels = hls.levels && hls.levels.length > 0;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && haveLevels && this.retries <= 2) {
        this.showNotice("网络不稳定，正在重新连接…");
        setTimeout(() => hls === this.hls && hls.startLoad(), 2000 * this.retries);
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.retries <= 2) {
        hls.recoverMediaError();
      } else {
        this.fail(data.type === Hls.ErrorTypes.NETWORK_ERROR
          ? "视频加载失败，请检查网络后重试。"
          : "视频无法播放，请重试；如仍失败请刷新页面。");
      }
    });
    hls.loadSource(this.src);
    hls.attachMedia(this.video);
    if (!this.video.paused || this.startAt > 0) {
      this.started = true;
      hls.startLoad(this.startAt > 0 ? this.startAt : -1);
    }
  }

  fillQualities() {
    const levels = this.hls.levels.map((l, i) => ({ i, h: l.height || 0, b: l.bitrate || 0 }));
    levels.sort((a, b) => b.h - a.h || b.b - a.b);
    const seen = new Set();
    while (this.quality.options.length > 1) this.quality.remove(1);
    for (const l of levels) {
      const label = l.h ? `${l.h}p` : "仅音频";
      if (seen.has(label)) continue;
      seen.add(label);
      this.quality.append(el("option", { value: String(l.i) }, label));
    }
    this.quality.value = "-1";
    this.quality.hidden = this.quality.options.length <= 2;
  }

  showNotice(text) {
    this.errorText.textContent = text;
    this.errorBox.hidden = false;
    this.errorBox.classList.add("is-notice");
  }

  hideError() {
    this.errorBox.hidden = true;
    this.errorBox.classList.remove("is-notice");
  }

  fail(text, canRetry = true) {
    this.errorText.textContent = text;
    this.errorBox.classList.remove("is-notice");
    this.errorBox.querySelector("button").hidden = !canRetry;
    this.errorBox.hidden = false;
  }

  retry() {
    this.hideError();
    const at = this.lastTime || 0;
    const wasPlaying = this.started || at > 0;
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    this.video.removeAttribute("src");
    this.video.load();
    this.retries = 0;
    this.startAt = at;
    this.load().then(() => {
      if (wasPlaying) this.play();
    });
  }

  toggleFullscreen() {
    const d = document;
    if (d.fullscreenElement || d.webkitFullscreenElement) {
      const exit = d.exitFullscreen || d.webkitExitFullscreen;
      if (exit) Promise.resolve(exit.call(d)).catch(() => {});
      return;
    }
    const r = this.root;
    if (r.requestFullscreen) r.requestFullscreen().catch(() => {});
    else if (r.webkitRequestFullscreen) r.webkitRequestFullscreen();
    else if (this.video.webkitEnterFullscreen) this.video.webkitEnterFullscreen();
  }

  onKey(e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    const inside = this.root.contains(t);
    if (!inside && !(t === document.body && document.querySelector("[data-player]") === this.root)) return;
    const formControl = t.closest && t.closest("input, select, textarea, button");
    const v = this.video;
    const key = e.key;
    if (formControl && (key === " " || key.startsWith("Arrow") || key === "Enter")) return;
    if (key === " " || key === "k" || key === "K") {
      if (v.paused) this.play();
      else v.pause();
    } else if (key === "ArrowLeft" || key === "ArrowRight") {
      const d = Number.isFinite(v.duration) ? v.duration : Infinity;
      v.currentTime = Math.min(d, Math.max(0, v.currentTime + (key === "ArrowLeft" ? -10 : 10)));
    } else if (key === "f" || key === "F") {
      this.toggleFullscreen();
    } else {
      return;
    }
    e.preventDefault();
  }
}

export function mountPlayer(root) {
  if (!root.jtPlayer && root.dataset.src) root.jtPlayer = new Player(root);
  return root.jtPlayer;
}

document.querySelectorAll("[data-player]").forEach((root) => mountPlayer(root));
