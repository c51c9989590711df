import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatBytes, formatClock, formatEta, formatSpeed, formatStudyTime, percentOf, uploadStatusText,
} from "../lib/format.js";

test("formatClock pads minutes and seconds and adds hours only when needed", () => {
  assert.equal(formatClock(0), "0:00");
  assert.equal(formatClock(754), "12:34");
  assert.equal(formatClock(3723.9), "1:02:03");
  assert.equal(formatClock(-5), "0:00");
  assert.equal(formatClock(NaN), "0:00");
});

test("formatStudyTime reads naturally in Chinese", () => {
  assert.equal(formatStudyTime(200), "3分20秒");
  assert.equal(formatStudyTime(45), "45秒");
  assert.equal(formatStudyTime(120), "2分");
  assert.equal(formatStudyTime(3900), "1小时5分");
  assert.equal(formatStudyTime(7200), "2小时");
});

test("formatEta rounds to human units and hides unknown values", () => {
  assert.equal(formatEta(null), "");
  assert.equal(formatEta(Infinity), "");
  assert.equal(formatEta(5), "即将完成");
  assert.equal(formatEta(41), "剩余约 50 秒");
  assert.equal(formatEta(180), "剩余约 3 分钟");
  assert.equal(formatEta(3600 + 20 * 60), "剩余约 1 小时 20 分钟");
  assert.equal(formatEta(2 * 3600 + 59 * 60 + 50), "剩余约 3 小时");
});

test("formatSpeed and formatBytes", () => {
  assert.equal(formatSpeed(2.1 * 1024 * 1024), "2.1 MB/秒");
  assert.equal(formatSpeed(50 * 1024), "0.05 MB/秒");
  assert.equal(formatSpeed(0), "0.0 MB/秒");
  assert.equal(formatBytes(300), "1 KB");
  assert.equal(formatBytes(3.44 * 1024 * 1024), "3.4 MB");
  assert.equal(formatBytes(1.2 * 1024 ** 3), "1.20 GB");
});

test("percentOf floors so 100% means done", () => {
  assert.equal(percentOf(999, 1000), 99);
  assert.equal(percentOf(1000, 1000), 100);
  assert.equal(percentOf(5, 0), 0);
  assert.equal(percentOf(2000, 1000), 100);
});

test("uploadStatusText matches the specified wording", () => {
  const mb = 1024 * 1024;
  assert.equal(
    uploadStatusText({ done: 45, total: 100, bytesPerSecond: 2.1 * mb, etaSeconds: 180 }),
    "已上传 45% · 2.1 MB/秒 · 剩余约 3 分钟",
  );
  assert.equal(uploadStatusText({ done: 0, total: 100, bytesPerSecond: 0, etaSeconds: null }), "已上传 0%");
});
