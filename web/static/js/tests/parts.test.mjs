import { test } from "node:test";
import assert from "node:assert/strict";
import {
  classifyPut, extensionOf, nextUrlBatch, partRange, pendingParts, planMatchesFile, SpeedMeter, storedBytes, validateFile,
} from "../lib/parts.js";

const MiB = 1024 * 1024;

test("pendingParts skips parts the server already stores", () => {
  assert.deepEqual(pendingParts(5, []), [1, 2, 3, 4, 5]);
  assert.deepEqual(pendingParts(5, [2, "4"]), [1, 3, 5]);
  assert.deepEqual(pendingParts(3, [1, 2, 3]), []);
});

test("partRange covers the file exactly once with a short last part", () => {
  const size = 10 * MiB + 123;
  const partSize = 4 * MiB;
  const count = Math.ceil(size / partSize);
  let expected = 0;
  for (let n = 1; n <= count; n += 1) {
    const { start, end } = partRange(n, partSize, size);
    assert.equal(start, expected);
    assert.ok(end > start);
    expected = end;
  }
  assert.equal(expected, size);
  assert.deepEqual(partRange(3, partSize, size), { start: 8 * MiB, end: size });
});

test("storedBytes counts the short last part correctly", () => {
  assert.equal(storedBytes([1, 3], 4 * MiB, 10 * MiB), 4 * MiB + 2 * MiB);
  assert.equal(storedBytes([], 4 * MiB, 10 * MiB), 0);
});

test("planMatchesFile rejects a plan that does not tile the file", () => {
  assert.ok(planMatchesFile({ part_size: 4 * MiB, part_count: 3 }, 10 * MiB));
  assert.ok(!planMatchesFile({ part_size: 4 * MiB, part_count: 2 }, 10 * MiB));
  assert.ok(!planMatchesFile({ part_size: 0, part_count: 1 }, 10));
});

test("nextUrlBatch takes at most 20 parts lacking URLs, in order", () => {
  const queue = Array.from({ length: 50 }, (_, i) => i + 1);
  const have = new Set([1, 2, 5]);
  const batch = nextUrlBatch(queue, (n) => have.has(n));
  assert.equal(batch.length, 20);
  assert.deepEqual(batch.slice(0, 3), [3, 4, 6]);
  assert.ok(batch.every((n) => !have.has(n)));
});

test("classifyPut separates expiry, transient and fatal outcomes", () => {
  assert.equal(classifyPut(200), "done");
  assert.equal(classifyPut(403), "renew");
  for (const s of [0, 408, 429, 500, 503]) assert.equal(classifyPut(s), "retry");
  for (const s of [400, 404, 410]) assert.equal(classifyPut(s), "fatal");
});

test("validateFile checks extension case-insensitively and size", () => {
  const rules = { allowedExt: ["mp4", ".MOV", " mkv "], maxBytes: 8 * 1024 ** 3 };
  assert.equal(validateFile({ name: "讲座.MP4", size: 10 }, rules), "");
  assert.equal(validateFile({ name: "a.mov", size: 10 }, rules), "");
  assert.match(validateFile({ name: "a.exe", size: 10 }, rules), /不支持该文件类型（\.exe）/);
  assert.match(validateFile({ name: "noext", size: 10 }, rules), /无扩展名/);
  assert.match(validateFile({ name: "a.mp4", size: 9 * 1024 ** 3 }, rules), /最大允许 8 GB/);
  assert.match(validateFile({ name: "a.mp4", size: 0 }, rules), /空/);
  assert.equal(validateFile({ name: "a.xyz", size: 5 }, { allowedExt: [""], maxBytes: 0 }), "");
  assert.equal(extensionOf(".hidden"), "");
});

test("SpeedMeter measures over a sliding window and estimates ETA", () => {
  let now = 0;
  const m = new SpeedMeter({ windowMs: 5000, now: () => now });
  m.add(0);
  assert.equal(m.rate(), 0);
  assert.equal(m.eta(100), null);
  for (let i = 1; i <= 10; i += 1) {
    now = i * 1000;
    m.add(i * MiB);
  }
  assert.equal(m.rate(), MiB);
  assert.equal(m.eta(30 * MiB), 30);
  // The connection slows: the old fast samples leave the window.
  for (let i = 11; i <= 20; i += 1) {
    now = i * 1000;
    m.add(10 * MiB + (i - 10) * (MiB / 4));
  }
  assert.equal(m.rate(), MiB / 4);
});
