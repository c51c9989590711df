// Durable, strictly ordered heartbeat queue. One storage key per viewing session holds
// {url, touched, owner, items:[payload…]}; payloads are sent head-first and a later one is never sent
// before an earlier one succeeds or is dropped. Storage and transport are injected so this runs in node.

export const PREFIX = "jt.hbq.";
export const MAX_ITEMS = 3000; // ~8 h of 10 s ticks; beyond that the oldest go first
export const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

export function queueKey(sessionId) {
  return PREFIX + sessionId;
}

/** Map a heartbeat HTTP outcome to a queue action. status 0 = network failure. */
export function classifyHeartbeat(status) {
  if (status >= 200 && status < 300) return "ok";
  if (status === 409) return "stop";
  if (status === 0 || status === 408 || status === 429 || status >= 500) return "retry";
  return "drop";
}

/**
 * Storage wrapper: write-through to `backing` (localStorage) with an in-memory copy, so a full or
 * disabled localStorage (private mode, quota) degrades to a page-lifetime queue instead of throwing.
 */
export function createStore(backing) {
  const mem = new Map();
  return {
    get(key) {
      if (mem.has(key)) return mem.get(key);
      try {
        const raw = backing ? backing.getItem(key) : null;
        return raw ? JSON.parse(raw) : null;
      } catch (e) {
        return null;
      }
    },
    set(key, value) {
      mem.set(key, value);
      try {
        if (backing) backing.setItem(key, JSON.stringify(value));
      } catch (e) {
        // Quota or disabled storage: the in-memory copy still keeps order for this page.
      }
    },
    remove(key) {
      mem.delete(key);
      try {
        if (backing) backing.removeItem(key);
      } catch (e) {
        // Nothing else to do; the memory copy is gone.
      }
    },
    keys() {
      const out = new Set(mem.keys());
      try {
        if (backing) for (let i = 0; i < backing.length; i += 1) out.add(backing.key(i));
      } catch (e) {
        // Unreadable storage: only in-memory keys are known.
      }
      return [...out].filter((k) => k && k.startsWith(PREFIX));
    },
  };
}

/** Append a payload to a session's queue, owned by the calling page. Returns the queue length. */
export function enqueue(store, sessionId, url, payload, { now = Date.now(), owner = null } = {}) {
  const key = queueKey(sessionId);
  const q = store.get(key) || { url, touched: now, owner, items: [] };
  q.items.push(payload);
  if (q.items.length > MAX_ITEMS) q.items.splice(0, q.items.length - MAX_ITEMS);
  q.url = url;
  q.touched = now;
  q.owner = owner;
  store.set(key, q);
  return q.items.length;
}

/** The owning page is going away: any other page may now deliver what is left, without waiting. */
export function release(store, sessionId) {
  const key = queueKey(sessionId);
  const q = store.get(key);
  if (q) {
    q.owner = null;
    store.set(key, q);
  }
}

export function queueLength(store, sessionId) {
  const q = store.get(queueKey(sessionId));
  return q ? q.items.length : 0;
}

export function touch(store, sessionId, now = Date.now()) {
  const key = queueKey(sessionId);
  const q = store.get(key);
  if (q) {
    q.touched = now;
    store.set(key, q);
  }
}

/** Remove the head only if it is still the item that was sent (others may have been appended). */
function dropHead(store, key, sentSeq) {
  const q = store.get(key);
  if (!q || !q.items.length) return;
  if (q.items[0].seq === sentSeq) q.items.shift();
  if (q.items.length) store.set(key, q);
  else store.remove(key);
}

/**
 * Send a session's queue in order until it is empty or a send must be retried later.
 * send(url, payload) → Promise<{status, body}>; status 0 for network errors.
 * onResult(payload, body) is called for each accepted heartbeat.
 * Returns {state: "empty" | "retry" | "stopped", code?}.
 */
export async function flushQueue(store, sessionId, send, onResult = () => {}, now = () => Date.now()) {
  const key = queueKey(sessionId);
  for (;;) {
    const q = store.get(key);
    if (!q || !q.items.length) {
      if (q) store.remove(key);
      return { state: "empty" };
    }
    const item = q.items[0];
    let res;
    try {
      res = await send(q.url, item);
    } catch (e) {
      res = { status: 0, body: null };
    }
    const action = classifyHeartbeat(res.status);
    if (action === "retry") {
      touch(store, sessionId, now());
      return { state: "retry" };
    }
    if (action === "stop") {
      store.remove(key);
      return { state: "stopped", code: (res.body && res.body.code) || "session_closed" };
    }
    if (action === "ok") onResult(item, res.body);
    dropHead(store, key, item.seq);
  }
}

/**
 * Session ids with queues left by earlier pages: not the current one, and either released by their page
 * (pagehide) or untouched for idleMs (a page that died without pagehide). Queues past MAX_AGE_MS are deleted.
 */
export function orphanSessions(store, { currentSessionId = null, idleMs = 90000, now = Date.now() } = {}) {
  const out = [];
  for (const key of store.keys()) {
    const sid = key.slice(PREFIX.length);
    if (sid === String(currentSessionId)) continue;
    const q = store.get(key);
    if (!q || !Array.isArray(q.items) || !q.items.length || now - (q.touched || 0) > MAX_AGE_MS) {
      store.remove(key);
      continue;
    }
    if (!q.owner || now - (q.touched || 0) >= idleMs) out.push(sid);
  }
  return out;
}
