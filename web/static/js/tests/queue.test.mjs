import { test } from "node:test";
import assert from "node:assert/strict";
import {
  classifyHeartbeat, createStore, enqueue, flushQueue, MAX_AGE_MS, MAX_ITEMS, orphanSessions, queueKey, queueLength, release,
} from "../lib/queue.js";

/** Minimal localStorage stand-in (string values, key/length API). */
class FakeStorage {
  constructor() {
    this.map = new Map();
  }
  get length() {
    return this.map.size;
  }
  key(i) {
    return [...this.map.keys()][i] ?? null;
  }
  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.map.delete(k);
  }
}

const URL = "/api/v1/viewing-sessions/s1/heartbeats";
const hb = (seq) => ({ token: "t", seq, position_s: seq * 10, event: "tick" });

function recorder(statuses) {
  const sent = [];
  const send = async (url, payload) => {
    sent.push(payload.seq);
    const status = typeof statuses === "function" ? statuses(payload) : statuses.shift() ?? 200;
    if (status === "throw") throw new TypeError("Failed to fetch");
    return { status, body: status === 409 ? { code: "superseded" } : { accepted: true, watched_s: payload.seq } };
  };
  return { sent, send };
}

test("classifyHeartbeat maps statuses to queue actions", () => {
  assert.equal(classifyHeartbeat(200), "ok");
  assert.equal(classifyHeartbeat(409), "stop");
  for (const s of [0, 408, 429, 500, 502]) assert.equal(classifyHeartbeat(s), "retry");
  for (const s of [400, 401, 403, 404, 422]) assert.equal(classifyHeartbeat(s), "drop");
});

test("flush sends in sequence order and empties the queue", async () => {
  const store = createStore(new FakeStorage());
  for (let i = 1; i <= 5; i += 1) enqueue(store, "s1", URL, hb(i));
  const { sent, send } = recorder([]);
  const results = [];
  const r = await flushQueue(store, "s1", send, (item, body) => results.push(body.watched_s));
  assert.deepEqual(r, { state: "empty" });
  assert.deepEqual(sent, [1, 2, 3, 4, 5]);
  assert.deepEqual(results, [1, 2, 3, 4, 5]);
  assert.equal(queueLength(store, "s1"), 0);
});

test("a transient failure stops the flush and keeps the head; later items queue behind it", async () => {
  const store = createStore(new FakeStorage());
  enqueue(store, "s1", URL, hb(1));
  enqueue(store, "s1", URL, hb(2));
  const first = recorder([200, "throw"]);
  assert.deepEqual(await flushQueue(store, "s1", first.send), { state: "retry" });
  assert.deepEqual(first.sent, [1, 2]);
  enqueue(store, "s1", URL, hb(3));
  const second = recorder([503]);
  assert.deepEqual(await flushQueue(store, "s1", second.send), { state: "retry" });
  assert.deepEqual(second.sent, [2]);
  const third = recorder([]);
  assert.deepEqual(await flushQueue(store, "s1", third.send), { state: "empty" });
  assert.deepEqual(third.sent, [2, 3]);
});

test("other 4xx drops only that heartbeat; 409 stops and clears the session", async () => {
  const store = createStore(new FakeStorage());
  for (let i = 1; i <= 4; i += 1) enqueue(store, "s1", URL, hb(i));
  const a = recorder([200, 422, 409]);
  const r = await flushQueue(store, "s1", a.send);
  assert.deepEqual(r, { state: "stopped", code: "superseded" });
  assert.deepEqual(a.sent, [1, 2, 3]);
  assert.equal(queueLength(store, "s1"), 0);
});

test("heartbeats enqueued while a send is in flight go out after it, in order", async () => {
  const store = createStore(new FakeStorage());
  enqueue(store, "s1", URL, hb(1));
  const sent = [];
  let n = 1;
  const send = async (url, payload) => {
    sent.push(payload.seq);
    if (n < 4) {
      n += 1;
      enqueue(store, "s1", URL, hb(n)); // the page keeps beating meanwhile
    }
    await new Promise((r) => setTimeout(r, 1));
    return { status: 200, body: {} };
  };
  await flushQueue(store, "s1", send);
  assert.deepEqual(sent, [1, 2, 3, 4]);
});

test("queues survive a reload and are found as orphans only when idle", async () => {
  const backing = new FakeStorage();
  const t0 = 1_000_000;
  enqueue(createStore(backing), "old", URL, hb(7), { now: t0, owner: "page-a" });
  enqueue(createStore(backing), "live", URL, hb(1), { now: t0 + 80_000, owner: "page-b" });
  const reloaded = createStore(backing);
  assert.equal(queueLength(reloaded, "old"), 1);
  const now = t0 + 100_000;
  assert.deepEqual(orphanSessions(reloaded, { currentSessionId: "cur", now }), ["old"]);
  assert.deepEqual(orphanSessions(reloaded, { currentSessionId: "old", now }), []);
  const { sent, send } = recorder([]);
  await flushQueue(reloaded, "old", send);
  assert.deepEqual(sent, [7]);
  assert.equal(backing.getItem(queueKey("old")), null);
});

test("a queue released at pagehide is an orphan at once", () => {
  const backing = new FakeStorage();
  const now = 5_000_000;
  const first = createStore(backing);
  enqueue(first, "s1", URL, hb(1), { now, owner: "page-a" });
  assert.deepEqual(orphanSessions(createStore(backing), { now: now + 1000 }), []);
  release(first, "s1");
  assert.deepEqual(orphanSessions(createStore(backing), { now: now + 1000 }), ["s1"]);
});

test("queues older than the max age are discarded, not resent", () => {
  const backing = new FakeStorage();
  enqueue(createStore(backing), "ancient", URL, hb(1), { now: 0 });
  backing.setItem("unrelated", "x");
  const store = createStore(backing);
  assert.deepEqual(orphanSessions(store, { now: MAX_AGE_MS + 1 }), []);
  assert.equal(backing.getItem(queueKey("ancient")), null);
  assert.equal(backing.getItem("unrelated"), "x");
});

test("a broken localStorage degrades to an in-memory queue", async () => {
  const broken = {
    length: 0,
    key: () => null,
    getItem: () => null,
    setItem: () => {
      throw new Error("QuotaExceededError");
    },
    removeItem: () => {},
  };
  const store = createStore(broken);
  enqueue(store, "s1", URL, hb(1));
  enqueue(store, "s1", URL, hb(2));
  const { sent, send } = recorder([]);
  await flushQueue(store, "s1", send);
  assert.deepEqual(sent, [1, 2]);
  assert.equal(createStore(null).get("x"), null);
});

test("the queue is capped, dropping the oldest", () => {
  const store = createStore(new FakeStorage());
  for (let i = 1; i <= MAX_ITEMS + 5; i += 1) enqueue(store, "s1", URL, hb(i));
  const q = store.get(queueKey("s1"));
  assert.equal(q.items.length, MAX_ITEMS);
  assert.equal(q.items[0].seq, 6);
});

test("on a flaky network the server sees every heartbeat, first receipts strictly increasing", async () => {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const store = createStore(new FakeStorage());
  const received = []; // seqs as the server first stored them
  const seen = new Set();
  const send = async (url, payload) => {
    const r = rand();
    if (r < 0.3) throw new TypeError("Failed to fetch"); // lost before the server
    if (!seen.has(payload.seq)) {
      seen.add(payload.seq);
      received.push(payload.seq);
    }
    if (r < 0.5) return { status: 0, body: null }; // stored, but the response was lost
    if (r < 0.55) return { status: 502, body: null };
    return { status: 200, body: { duplicate: false } };
  };
  let seq = 0;
  for (let round = 0; round < 200; round += 1) {
    enqueue(store, "s1", URL, hb((seq += 1)));
    await flushQueue(store, "s1", send);
  }
  for (let i = 0; i < 1000 && queueLength(store, "s1"); i += 1) await flushQueue(store, "s1", send);
  assert.equal(queueLength(store, "s1"), 0);
  assert.deepEqual(received, Array.from({ length: 200 }, (_, i) => i + 1));
});
