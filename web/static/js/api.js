// Same-origin JSON fetch wrapper: CSRF header, credentials, Chinese error messages.

export class ApiError extends Error {
  constructor(message, { status = 0, code = "" } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") || "" : "";
}

const FALLBACK = {
  400: "请求有误，请检查后重试。",
  401: "登录已过期，请重新登录。",
  403: "没有权限进行此操作。",
  404: "内容不存在或已被删除。",
  409: "操作冲突，请刷新页面后重试。",
  413: "文件太大。",
  429: "操作太频繁，请稍后再试。",
};

function fallbackMessage(status) {
  if (FALLBACK[status]) return FALLBACK[status];
  if (status >= 500) return "服务器暂时出错，请稍后重试。";
  return `请求失败（${status}）。`;
}

/**
 * api(path, {method, body, signal, keepalive}) → parsed JSON (or null for empty bodies).
 * Throws ApiError: status 0 means the network failed, otherwise the server's {"error", "code"}.
 */
export async function api(path, { method = "GET", body, signal, keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
  const init = { method, headers, credentials: "same-origin", signal, keepalive };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new ApiError("网络连接失败，请检查网络后重试。", { status: 0, code: "network" });
  }
  const text = await res.text().catch(() => "");
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = null;
    }
  }
  if (!res.ok) {
    const message = data && typeof data.error === "string" && data.error ? data.error : fallbackMessage(res.status);
    throw new ApiError(message, { status: res.status, code: (data && data.code) || "" });
  }
  return data;
}
