// Resumable multipart upload straight to S3 with presigned part URLs.
// Mount: <form data-upload data-lecture-id data-max-bytes data-allowed-ext> with input[type=file][name=file],
// <progress>, [data-upload-status] and [data-upload-cancel] buttons.
import { api } from "./api.js";
import { backoffDelay, sleep, waitOnline } from "./lib/backoff.js";
import { formatBytes, percentOf, uploadStatusText } from "./lib/format.js";
import {
  classifyPut, nextUrlBatch, partRange, pendingParts, planMatchesFile, SpeedMeter, storedBytes, validateFile,
} from "./lib/parts.js";
import { mountMediaStatus } from "./media-status.js";

const CONCURRENCY = 4;
const MAX_ATTEMPTS = 10; // per part, transient failures only; offline waiting does not count
const MAX_RENEWALS = 4; // consecutive 403s on one part before giving up
const STALL_MS = 60000; // no progress for this long → treat the PUT as a network failure

class Stop extends Error {}

/** PUT one blob with XHR (upload progress events). Resolves to the HTTP status, 0 on network failure. */
function putPart(url, blob, onProgress, signal) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    let last = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - last > STALL_MS) xhr.abort();
    }, 5000);
    const finish = (status) => {
      clearInterval(watchdog);
      signal.removeEventListener("abort", onAbort);
      resolve(status);
    };
    const onAbort = () => xhr.abort();
    xhr.open("PUT", url);
    xhr.upload.onprogress = (e) => {
      last = Date.now();
      onProgress(e.loaded);
    };
    xhr.onload = () => finish(xhr.status);
    xhr.onerror = () => finish(0);
    xhr.onabort = () => finish(0);
    signal.addEventListener("abort", onAbort);
    xhr.send(blob);
  });
}

class Uploader {
  constructor(form) {
    this.form = form;
    this.lectureId = form.dataset.lectureId;
    this.input = form.querySelector('input[type="file"][name="file"]') || form.querySelector('input[type="file"]');
    this.progress = form.querySelector("progress");
    this.status = form.querySelector("[data-upload-status]");
    this.cancelButtons = [...form.querySelectorAll("[data-upload-cancel]")];
    this.submit = form.querySelector('[type="submit"]');
    this.file = null;
    this.busy = false;
    if (this.status) this.status.setAttribute("aria-live", "polite");
    this.setBusy(false);
    this.bind();
  }

  bind() {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!this.busy) this.start();
    });
    if (this.input) this.input.addEventListener("change", () => this.choose(this.input.files[0] || null));
    this.form.addEventListener("dragover", (e) => {
      e.preventDefault();
      this.form.classList.add("is-dragover");
    });
    this.form.addEventListener("dragleave", () => this.form.classList.remove("is-dragover"));
    this.form.addEventListener("drop", (e) => {
      e.preventDefault();
      this.form.classList.remove("is-dragover");
      if (!this.busy && e.dataTransfer && e.dataTransfer.files.length) this.choose(e.dataTransfer.files[0]);
    });
    for (const b of this.cancelButtons) b.addEventListener("click", (e) => {
      e.preventDefault();
      this.cancel();
    });
    this.onBeforeUnload = (e) => {
      e.preventDefault();
      e.returnValue = "上传尚未完成，离开页面会中断上传。";
      return e.returnValue;
    };
  }

  choose(file) {
    this.file = file;
    if (!file) return this.say("");
    const problem = this.validate(file);
    this.say(problem || `已选择：${file.name}（${formatBytes(file.size)}）`, Boolean(problem));
  }

  validate(file) {
    const allowedExt = (this.form.dataset.allowedExt || "").split(",");
    return validateFile(file, { allowedExt, maxBytes: Number(this.form.dataset.maxBytes) || 0 });
  }

  say(text, isError = false) {
    if (!this.status) return;
    this.status.textContent = text;
    this.status.classList.toggle("is-error", isError);
  }

  setBusy(busy) {
    this.busy = busy;
    this.form.classList.toggle("is-uploading", busy);
    for (const b of this.cancelButtons) b.hidden = !busy;
    if (this.submit) this.submit.disabled = busy;
    if (this.input) this.input.disabled = busy;
    if (busy) window.addEventListener("beforeunload", this.onBeforeUnload);
    else window.removeEventListener("beforeunload", this.onBeforeUnload);
  }

  async start() {
    const file = this.file || (this.input && this.input.files[0]);
    if (!file) return this.say("请先选择要上传的视频文件。", true);
    const problem = this.validate(file);
    if (problem) return this.say(problem, true);
    this.file = file;
    this.controller = new AbortController();
    this.setBusy(true);
    this.say("正在准备上传…");
    const lock = await (navigator.wakeLock ? navigator.wakeLock.request("screen").catch(() => null) : null);
    try {
      await this.run(file);
    } catch (e) {
      if (!(e instanceof Stop)) this.say(e.message || "上传失败，请重试。", true);
    } finally {
      if (lock) lock.release().catch(() => {});
      this.setBusy(false);
    }
  }

  /** Calls the API with retries on network/5xx failures; other errors abort the upload. */
  async call(path, opts, what) {
    for (let attempt = 1; ; attempt += 1) {
      this.checkAborted();
      try {
        return await api(path, { ...opts, signal: this.controller.signal });
      } catch (e) {
        this.checkAborted();
        const transient = e.status === 0 || e.status >= 500 || e.status === 429;
        if (!transient || attempt >= 5) throw new Error(e.status === 0 ? `${what}失败：网络连接中断，请检查网络后重新选择同一文件继续上传。` : e.message);
        this.say(`${what}失败，正在重试…`, true);
        await waitOnline(this.controller.signal);
        await sleep(backoffDelay(attempt), this.controller.signal);
      }
    }
  }

  checkAborted() {
    if (this.controller.signal.aborted) throw new Stop();
  }

  async run(file) {
    const plan = await this.call(`/api/v1/lectures/${this.lectureId}/uploads`, {
      method: "POST",
      body: { filename: file.name, size: file.size, content_type: file.type || "application/octet-stream", last_modified: file.lastModified || 0 },
    }, "创建上传");
    if (!planMatchesFile(plan, file.size)) throw new Error("服务器返回的分片信息与文件不一致，请刷新页面后重试。");
    this.uploadId = plan.upload_id;
    this.partSize = plan.part_size;
    this.queue = pendingParts(plan.part_count, plan.uploaded_parts);
    this.urls = new Map();
    this.inflight = new Map();
    this.base = storedBytes(plan.uploaded_parts, plan.part_size, file.size);
    this.sent = 0;
    this.meter = new SpeedMeter();
    this.lastRender = 0;
    this.render(true);
    const todo = this.queue.slice();
    const workers = [];
    for (let i = 0; i < Math.min(CONCURRENCY, todo.length); i += 1) workers.push(this.worker(todo));
    try {
      await Promise.all(workers);
    } catch (e) {
      this.controller.abort();
      throw e;
    }
    this.say("正在合并文件…");
    const done = await this.call(`/api/v1/uploads/${this.uploadId}/complete`, { method: "POST", body: {} }, "完成上传");
    if (this.progress) this.progress.value = 100;
    this.say("上传完成，视频正在处理，请稍候。");
    this.form.dispatchEvent(new CustomEvent("jt:upload-complete", { bubbles: true, detail: done }));
    this.handOver();
  }

  async worker(todo) {
    while (todo.length) {
      const n = todo.shift();
      await this.uploadPart(n);
    }
  }

  async urlFor(n) {
    while (!this.urls.has(n)) {
      if (!this.urlRequest) {
        const rest = this.queue.filter((p) => p !== n);
        const batch = [n, ...nextUrlBatch(rest, (p) => this.urls.has(p), 19)];
        this.urlRequest = this.call(`/api/v1/uploads/${this.uploadId}/part-urls`, { method: "POST", body: { part_numbers: batch } }, "获取上传地址")
          .then((res) => {
            for (const [k, v] of Object.entries((res && res.urls) || {})) this.urls.set(Number(k), v);
            if (!this.urls.has(n)) throw new Error("服务器未返回上传地址，请刷新页面后重试。");
          })
          .finally(() => {
            this.urlRequest = null;
          });
      }
      await this.urlRequest;
    }
    return this.urls.get(n);
  }

  async uploadPart(n) {
    const { start, end } = partRange(n, this.partSize, this.file.size);
    const blob = this.file.slice(start, end);
    let attempts = 0;
    let renewals = 0;
    for (;;) {
      this.checkAborted();
      if (navigator.onLine === false) {
        this.say("网络已断开，恢复后将自动继续上传…", true);
        await waitOnline(this.controller.signal);
        this.checkAborted();
      }
      const url = await this.urlFor(n);
      this.inflight.set(n, 0);
      const status = await putPart(url, blob, (loaded) => {
        this.inflight.set(n, loaded);
        this.render();
      }, this.controller.signal);
      this.inflight.delete(n);
      this.checkAborted();
      const action = classifyPut(status);
      if (action === "done") {
        this.sent += blob.size;
        this.queue = this.queue.filter((p) => p !== n);
        this.render(true);
        return;
      }
      if (action === "renew") {
        renewals += 1;
        if (renewals > MAX_RENEWALS) throw new Error("上传授权已失效，请刷新页面后重新选择同一文件继续上传。");
        this.urls.clear();
        continue;
      }
      if (action === "fatal") throw new Error(`存储服务拒绝了上传（${status}），上传可能已取消或过期，请刷新页面后重新选择文件。`);
      attempts += 1;
      if (attempts >= MAX_ATTEMPTS) throw new Error("网络不稳定，上传已中断。已上传的部分会保留，请检查网络后重新选择同一文件继续上传。");
      this.say(`网络不稳定，第 ${n} 段正在重试（${attempts}/${MAX_ATTEMPTS - 1}）…`, true);
      await sleep(backoffDelay(attempts), this.controller.signal);
    }
  }

  render(force = false) {
    const now = Date.now();
    if (!force && now - this.lastRender < 250) return;
    this.lastRender = now;
    let inflight = 0;
    for (const v of this.inflight.values()) inflight += v;
    const sent = this.sent + inflight;
    this.meter.add(sent);
    const done = Math.min(this.file.size, this.base + sent);
    if (this.progress) {
      this.progress.max = 100;
      this.progress.value = percentOf(done, this.file.size);
    }
    if (navigator.onLine === false) return;
    const text = uploadStatusText({
      done, total: this.file.size, bytesPerSecond: this.meter.rate(), etaSeconds: this.meter.eta(this.file.size - done),
    });
    this.say(this.base > 0 ? `续传（之前已上传 ${percentOf(this.base, this.file.size)}%）· ${text}` : text);
  }

  async cancel() {
    if (!this.busy) return;
    if (!window.confirm("确定取消上传吗？已上传的部分将被删除。")) return;
    this.controller.abort();
    const uploadId = this.uploadId;
    if (!uploadId) return this.say("已取消上传。");
    try {
      await api(`/api/v1/uploads/${uploadId}`, { method: "DELETE" });
      this.say("已取消上传，已上传的部分已删除。");
      if (this.progress) this.progress.value = 0;
    } catch (e) {
      this.say(`取消失败：${e.message}`, true);
    }
  }

  handOver() {
    let el = document.querySelector(`[data-media-status][data-lecture-id="${CSS.escape(String(this.lectureId))}"]`);
    if (!el) {
      el = document.createElement("div");
      el.className = "media-status";
      el.setAttribute("data-media-status", "");
      el.setAttribute("data-lecture-id", this.lectureId);
      this.form.insertAdjacentElement("afterend", el);
    }
    mountMediaStatus(el, { kick: true });
  }
}

export function mountUpload(form) {
  if (!form.jtUpload) form.jtUpload = new Uploader(form);
  return form.jtUpload;
}

document.querySelectorAll("form[data-upload]").forEach((form) => mountUpload(form));
