import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../lib/backoff.js";

test("backoff grows exponentially within [step/2, step]", () => {
  const lo = (a) => backoffDelay(a, { baseMs: 1000, maxMs: 30000, random: () => 0 });
  const hi = (a) => backoffDelay(a, { baseMs: 1000, maxMs: 30000, random: () => 1 });
  assert.deepEqual([1, 2, 3, 4].map(lo), [500, 1000, 2000, 4000]);
  assert.deepEqual([1, 2, 3, 4].map(hi), [1000, 2000, 4000, 8000]);
});

test("backoff is capped and never zero", () => {
  assert.equal(backoffDelay(50, { baseMs: 1000, maxMs: 30000, random: () => 1 }), 30000);
  assert.equal(backoffDelay(50, { baseMs: 1000, maxMs: 30000, random: () => 0 }), 15000);
  assert.ok(backoffDelay(0, { random: () => 0 }) > 0);
});

test("jitter spreads retries", () => {
  const seen = new Set();
  for (let i = 0; i < 50; i += 1) seen.add(backoffDelay(5));
  assert.ok(seen.size > 10);
});
