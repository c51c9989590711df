import { test } from "node:test";
import assert from "node:assert/strict";
import { cueAt, parseThumbnailVtt } from "../lib/vtt.js";

const VTT = `WEBVTT

1
00:00:00.000 --> 00:00:05.000
sprite.jpg#xywh=0,0,160,90

00:00:05.000 --> 00:00:10.000
sprite.jpg#xywh=160,0,160,90

01:00.000 --> 01:05.500
https://cdn.example/other.jpg#xywh=0,90,160,90

00:02:00.000 --> 00:01:00.000
bad.jpg#xywh=0,0,1,1

00:03:00.000 --> 00:03:05.000
broken.jpg#xywh=0,0,abc,1
`;

test("parses sprite cues and resolves relative URLs against the VTT", () => {
  const cues = parseThumbnailVtt(VTT, "https://s3.example/media/1/a/thumbs.vtt?X-Amz=1");
  assert.equal(cues.length, 3);
  assert.deepEqual(cues[1], { start: 5, end: 10, url: "https://s3.example/media/1/a/sprite.jpg", x: 160, y: 0, w: 160, h: 90 });
  assert.equal(cues[2].start, 60);
  assert.equal(cues[2].end, 65.5);
  assert.equal(cues[2].url, "https://cdn.example/other.jpg");
});

test("cueAt finds the covering or nearest earlier cue", () => {
  const cues = parseThumbnailVtt(VTT, "https://s3.example/t.vtt");
  assert.equal(cueAt(cues, 0).x, 0);
  assert.equal(cueAt(cues, 7.2).x, 160);
  assert.equal(cueAt(cues, 30).x, 160);
  assert.equal(cueAt(cues, 62).y, 90);
  assert.equal(cueAt([], 3), null);
});

test("handles CRLF and whole images without xywh", () => {
  const cues = parseThumbnailVtt("WEBVTT\r\n\r\n00:00.000 --> 00:02.000\r\nthumb1.jpg\r\n", "https://a.example/x/t.vtt");
  assert.deepEqual(cues, [{ start: 0, end: 2, url: "https://a.example/x/thumb1.jpg", x: 0, y: 0, w: 0, h: 0 }]);
});
