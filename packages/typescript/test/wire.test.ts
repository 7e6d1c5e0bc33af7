/** Pure functions: SHA-256, base64, headers, names, hosts, Unicode checks. No servers. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { NatsBridgeError, base64Decode, base64Encode, sha256Hex, sha256HexSync } from "../dist/node.js";
import { buildHeaders, fileName, headerLen, hostAllowed, isWellFormed, jsonHasLoneSurrogate, utf8Length } from "../dist/wire.js";
import { allowedHost } from "../dist/hosts.js";
import { ERROR_BAD_OPTION } from "@natsbridge/types";
import { bytes } from "./samples.ts";

test("SHA-256 (JavaScript and WebCrypto) equals node:crypto at every padding boundary", async () => {
  for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 16383, 16384, 16385, 100_000]) {
    const b = bytes(n, 31);
    const expected = createHash("sha256").update(b).digest("hex");
    assert.equal(sha256HexSync(b), expected, `sync ${n}`);
    assert.equal(await sha256Hex(b), expected, `async ${n}`);
  }
});

test("base64: round trip, canonical only, length checked before decoding", () => {
  for (const n of [0, 1, 2, 3, 4, 5, 1000]) {
    const b = bytes(n);
    assert.deepEqual(Array.from(base64Decode(base64Encode(b), n)), Array.from(b));
  }
  const code = (text: string, size: number) => {
    try {
      base64Decode(text, size);
      return "ok";
    } catch (e) {
      assert.ok(e instanceof NatsBridgeError);
      return e.code;
    }
  };
  assert.equal(code("aGk=", 2), "ok");
  assert.equal(code("aGl=", 2), "DESERIALIZATION_ERROR"); // trailing bits set
  assert.equal(code("aGk", 2), "INTEGRITY_MISMATCH"); // unpadded
  assert.equal(code("aG k", 2), "DESERIALIZATION_ERROR");
  assert.equal(code("aGk=", 3), "INTEGRITY_MISMATCH");
  assert.equal(code("a=k=", 2), "DESERIALIZATION_ERROR");
  assert.equal(code("aGVsbG8-", 6), "DESERIALIZATION_ERROR"); // url-safe alphabet
});

test("headers: ids first, extras after, exact wire length", () => {
  const h = buildHeaders("m", "c", { "Sample-Rate": "44100", "Nats-Msg-Id": "ignored" });
  assert.deepEqual(h, [["Nats-Msg-Id", "m"], ["Correlation-Id", "c"], ["Sample-Rate", "44100"]]);
  assert.equal(headerLen(h), "NATS/1.0\r\nNats-Msg-Id: m\r\nCorrelation-Id: c\r\nSample-Rate: 44100\r\n\r\n".length);
});

test("file names are one safe path segment", () => {
  for (const [name, expected] of [["table", "table"], ["../../etc/passwd", ".._.._etc_passwd"], ["a b/c", "a_b_c"], ["", "payload"], ["日本", "__"]]) {
    assert.equal(fileName(name!), expected);
  }
  assert.equal(fileName("x".repeat(500)).length, 100);
});

test("allowed hosts match host and port", () => {
  const allowed = (list: string[], url: string) => hostAllowed(url, list.map(allowedHost));
  assert.ok(allowed(["http://files:8080"], "http://files:8080/file/a/b/c"));
  assert.ok(!allowed(["http://files:8080"], "http://files:8081/file/a/b/c"));
  assert.ok(allowed(["https://files.example.com"], "https://files.example.com/x"));
  assert.ok(!allowed(["https://files.example.com"], "http://files.example.com/x"));
  assert.ok(allowed(["http://files"], "http://files/x"), "the default port is filled in");
  assert.ok(!allowed(["http://files"], "http://files:9999/x"));
  assert.ok(!allowed(["http://files"], "http://files.evil/x"));
  assert.ok(!allowed(["http://files:8080"], "http://files:8080@evil:8080/x"));
  assert.ok(allowed(["http://files:8080/some/path"], "http://files:8080/x"));
  assert.ok(allowed(["*"], "http://anything/x"));
  assert.ok(!allowed([], "http://localhost/x"));
  assert.ok(!allowed(["*"], "file:///etc/passwd"));
});

test("allowedHost: an http(s) URL or origin is host:port, `*` is every host, anything else says how to write it", () => {
  const good: [string, string][] = [
    ["http://files:8080", "files:8080"],
    ["https://secure.example", "secure.example:443"],
    ["http://files", "files:80"],
    ["http://files:8080/file/a/b", "files:8080"],
    ["HTTP://Files:8080", "files:8080"],
    ["http://[::1]:8080", "[::1]:8080"],
    ["*", "*"],
  ];
  for (const [value, want] of good) assert.equal(allowedHost(value), want, value);
  const bad: [unknown, RegExp][] = [
    ["files:8080", /allowed host `files:8080` is not a URL; write `http:\/\/files:8080` \(or https:\/\/\.\.\.\)/],
    ["bare-host", /allowed host `bare-host` is not a URL; write `http:\/\/bare-host`/],
    ["ftp://x", /allowed host `ftp:\/\/x` is not an http\(s\) URL; write `http:\/\/x`/],
    ["", /allowed host `` is empty/],
    [["http://a"], /one host was expected, got an array/],
    [8080, /got the number 8080/],
    [undefined, /got undefined/],
    [null, /got null/],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => allowedHost(value), (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && message.test(e.message), String(value));
  }
});

test("lone surrogates are found in text and in JSON.stringify output; UTF-8 length without encoding", () => {
  const cases: [string, boolean][] = [
    ["", true], ["plain", true], ["é ü 你好", true], ["😀", true], ["a😀b😀", true],
    ["\ud800", false], ["\udc00", false], ["a\ud83db", false], ["\ude00\ud83d", false], ["😀\ud83d", false], ["\ud800\ud800", false],
  ];
  for (const [text, ok] of cases) {
    assert.equal(isWellFormed(text), ok, JSON.stringify(text));
    assert.equal(jsonHasLoneSurrogate(JSON.stringify({ [text]: [text] })), !ok, JSON.stringify(text));
    // Lone surrogates count as U+FFFD (3 bytes), which is what TextEncoder writes.
    assert.equal(utf8Length(text), new TextEncoder().encode(text).length, JSON.stringify(text));
  }
  // Escaped backslashes before "ud800" are text, not an escape.
  for (const text of ["\\ud800", "\\\\ud800", "x\\udfff"]) assert.equal(jsonHasLoneSurrogate(JSON.stringify(text)), false, text);
  assert.equal(jsonHasLoneSurrogate(JSON.stringify("\\\ud800")), true);
});
