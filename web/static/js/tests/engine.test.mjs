import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseEngine, isAppleWebKit } from "../lib/engine.js";

const IOS_WECHAT = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40";
const ANDROID_WECHAT = "Mozilla/5.0 (Linux; Android 12; V2049A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.99 XWEB/4317 MMWEBSDK/20220903 Mobile Safari/537.36 MicroMessenger/8.0.28";
const MAC_SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";
const MAC_CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

test("iOS WeChat (no MSE) and Safari use native HLS", () => {
  assert.equal(chooseEngine({ nativeHls: true, mse: false, ua: IOS_WECHAT }), "native");
  assert.equal(chooseEngine({ nativeHls: true, mse: true, ua: MAC_SAFARI }), "native");
  assert.ok(isAppleWebKit(MAC_SAFARI));
  assert.ok(!isAppleWebKit(MAC_CHROME));
});

test("Android WeChat uses hls.js even though it claims native HLS", () => {
  assert.equal(chooseEngine({ nativeHls: true, mse: true, ua: ANDROID_WECHAT }), "hls");
  assert.equal(chooseEngine({ nativeHls: false, mse: true, ua: MAC_CHROME }), "hls");
});

test("no engine at all is reported, not guessed", () => {
  assert.equal(chooseEngine({ nativeHls: false, mse: false, ua: ANDROID_WECHAT }), "none");
  assert.equal(chooseEngine({ nativeHls: true, mse: false, ua: ANDROID_WECHAT }), "native");
});
