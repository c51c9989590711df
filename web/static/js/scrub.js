// Seek slider with sprite-thumbnail previews (from a WebVTT of "sprite.jpg#xywh=" cues). Used by player.js.
import { formatClock } from "./lib/format.js";
import { cueAt, parseThumbnailVtt } from "./lib/vtt.js";

export class Scrub {
  constructor(video, { container, thumbsUrl, duration }) {
    this.video = video;
    this.thumbsUrl = thumbsUrl || "";
    this.fallbackDuration = Number(duration) || 0;
    this.cues = null;
    this.dragging = false;
    this.hovering = false;
    this.wrap = document.createElement("div");
    this.wrap.className = "player__scrub";
    this.range = document.createElement("input");
    this.range.type = "range";
    this.range.min = "0";
    this.range.step = "1";
    this.range.value = "0";
    this.range.setAttribute("aria-label", "播放进度");
    this.time = document.createElement("span");
    this.time.className = "player__time";
    this.thumb = document.createElement("div");
    this.thumb.className = "player__thumb";
    this.thumb.hidden = true;
    this.thumbLabel = document.createElement("span");
    this.thumb.appendChild(this.thumbLabel);
    this.wrap.append(this.thumb, this.range, this.time);
    container.appendChild(this.wrap);
    this.bind();
    this.sync();
  }

  duration() {
    const d = this.video.duration;
    return Number.isFinite(d) && d > 0 ? d : this.fallbackDuration;
  }

  bind() {
    const v = this.video;
    for (const ev of ["timeupdate", "durationchange", "loadedmetadata", "seeked"]) v.addEventListener(ev, () => this.sync());
    this.range.addEventListener("input", () => {
      this.dragging = true;
      const t = Number(this.range.value);
      this.label(t);
      this.preview(t, t / (this.duration() || 1));
    });
    this.range.addEventListener("change", () => {
      this.dragging = false;
      this.thumb.hidden = true;
      const t = Number(this.range.value);
      if (Number.isFinite(t)) v.currentTime = t;
    });
    this.range.addEventListener("pointermove", (e) => {
      if (this.dragging || e.pointerType === "touch") return;
      this.hovering = true;
      const rect = this.range.getBoundingClientRect();
      const f = Math.min(1, Math.max(0, (e.clientX - rect.left) / (rect.width || 1)));
      this.preview(f * this.duration(), f);
    });
    this.range.addEventListener("pointerleave", () => {
      this.hovering = false;
      if (!this.dragging) this.thumb.hidden = true;
    });
    this.range.addEventListener("blur", () => {
      this.dragging = false;
      this.thumb.hidden = true;
    });
  }

  sync() {
    const d = this.duration();
    if (d > 0) this.range.max = String(Math.floor(d));
    if (!this.dragging) {
      this.range.value = String(Math.floor(this.video.currentTime || 0));
      this.label(this.video.currentTime || 0);
    }
  }

  label(t) {
    const d = this.duration();
    const text = d > 0 ? `${formatClock(t)} / ${formatClock(d)}` : formatClock(t);
    this.time.textContent = text;
    this.range.setAttribute("aria-valuetext", text);
  }

  async loadCues() {
    if (this.cues || !this.thumbsUrl) return this.cues;
    if (!this.cuesPromise) {
      this.cuesPromise = fetch(this.thumbsUrl)
        .then((r) => (r.ok ? r.text() : ""))
        .then((text) => {
          this.cues = parseThumbnailVtt(text, new URL(this.thumbsUrl, document.baseURI).href);
          return this.cues;
        })
        .catch(() => {
          this.cues = []; // previews are a nicety: without them the slider still seeks
          return this.cues;
        });
    }
    return this.cuesPromise;
  }

  async preview(t, fraction) {
    this.thumbLabel.textContent = formatClock(t);
    const cues = await this.loadCues();
    if (!this.dragging && !this.hovering) return; // released while the cues were loading
    const cue = cues && cues.length ? cueAt(cues, t) : null;
    const s = this.thumb.style;
    if (cue) {
      const w = cue.w || 160;
      const h = cue.h || 90;
      s.width = `${w}px`;
      s.height = `${h}px`;
      s.backgroundImage = `url("${cue.url.replace(/"/g, "%22")}")`;
      s.backgroundPosition = cue.w ? `-${cue.x}px -${cue.y}px` : "center";
      s.backgroundSize = cue.w ? "auto" : "cover";
      this.thumb.classList.remove("is-text");
    } else {
      s.width = "";
      s.height = "";
      s.backgroundImage = "";
      this.thumb.classList.add("is-text");
    }
    const width = this.range.offsetWidth;
    const tw = cue ? cue.w || 160 : 64;
    const left = Math.min(Math.max(0, fraction * width - tw / 2), Math.max(0, width - tw));
    s.left = `${left}px`;
    this.thumb.hidden = false;
  }
}
