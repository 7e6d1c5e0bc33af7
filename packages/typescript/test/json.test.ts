/**
 * The strict JSON reader (schema/README.md, reader rules 8 and 9), rule by rule with both
 * verdicts, on text and on bytes; then through smartreceive: the envelope is INVALID_ENVELOPE
 * (ERROR_NOT_JSON / ERROR_NOT_ENVELOPE), a dictionary or jsontable payload's bytes
 * DESERIALIZATION_ERROR (ERROR_BAD_BYTES). No servers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ERROR_BAD_BYTES, ERROR_NOT_ENVELOPE, ERROR_NOT_JSON, JSON_MAX_DEPTH, MAX_PAYLOAD_SIZE } from "@natsbridge/types";
import { NatsBridgeError, smartreceive, smartsend } from "../dist/node.js";
import { parseStrictJson, strictJsonReason } from "../dist/json.js";
import { isWellFormed } from "../dist/wire.js";

const utf8 = new TextEncoder();

/** The verdict on `input` as text and, when it has a UTF-8 form, as bytes: both must agree. */
function verdict(input: string | Uint8Array, envelope = false): boolean {
  const r = parseStrictJson(input, { envelope });
  if (typeof input === "string" && isWellFormed(input)) {
    const b = parseStrictJson(utf8.encode(input), { envelope });
    assert.equal(b.ok, r.ok, `text and bytes disagree on ${JSON.stringify(input).slice(0, 80)}: ${r.ok ? "" : r.reason} / ${b.ok ? "" : b.reason}`);
  }
  return r.ok;
}

function accepts(input: string | Uint8Array, envelope = false): void {
  const r = parseStrictJson(input, { envelope });
  assert.ok(r.ok, `should accept ${typeof input === "string" ? JSON.stringify(input).slice(0, 120) : "bytes"}: ${r.ok ? "" : r.reason}`);
  assert.ok(verdict(input, envelope));
}

function refuses(input: string | Uint8Array, why: RegExp, envelope = false): void {
  const r = parseStrictJson(input, { envelope });
  assert.ok(!r.ok, `should refuse ${typeof input === "string" ? JSON.stringify(input).slice(0, 120) : "bytes"}`);
  assert.match(r.reason, why);
  assert.equal(verdict(input, envelope), false);
}

const nest = (depth: number, inner = "0") => "[".repeat(depth) + inner + "]".repeat(depth);

test("UTF-8: strict, no BOM", () => {
  accepts(utf8.encode('{"a":"é 你好 😀"}'));
  accepts(new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xef, 0xbb, 0xbf, 0x22, 0x7d])); // U+FEFF inside a string is a character
  refuses(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), /byte-order mark/);
  refuses("\ufeff{}", /byte-order mark/);
  refuses(new Uint8Array([0x22, 0xff, 0x22]), /not UTF-8/); // a byte no UTF-8 has
  refuses(new Uint8Array([0x22, 0xc0, 0xaf, 0x22]), /not UTF-8/); // overlong '/'
  refuses(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), /not UTF-8/); // an encoded surrogate (CESU-8)
  refuses(new Uint8Array([0x22, 0xe4, 0xbd, 0x22]), /not UTF-8/); // a character cut short
  refuses(new Uint8Array([0x7b, 0x00, 0x7d, 0x00]), /not JSON/); // UTF-16LE "{}"
});

test("one value, RFC 8259 grammar: whitespace is space, tab, LF, CR; nothing after", () => {
  accepts(' \t\r\n{"a":[1,true,false,null,"s",{}]} \n');
  accepts("0");
  accepts('"just a string"');
  for (const bad of ["", " ", '{"a":1} x', '{"a":1}{"a":1}', "\f{}", "\u00a0{}", "{'a':1}", '{"a":1,}', "[1,]", '{"a":01}', '{"a":+1}', '{"a":.5}', '{"a":0x10}',
    '{"a":NaN}', '{"a":Infinity}', '{"a":-Infinity}', '{"a":1 /* c */}', '{"a":"\\x41"}', '{"a":"raw\nline"}', '{"a":"raw\u0000nul"}', '{"a":"\u0001"}', '{"a":tru}', "[", "]", "}"]) {
    refuses(bad, /./);
  }
});

test("duplicate member names at any depth, compared after unescaping; siblings are not duplicates", () => {
  refuses('{"a":1,"a":1}', /duplicate member name "a"/);
  refuses('{"a":1,"b":{"c":[{"d":1,"e":2,"d":3}]}}', /duplicate member name "d"/);
  refuses('{"a":1,"\\u0061":2}', /duplicate member name "a"/);
  refuses('{"\\"q":1,"\\u0022q":2}', /duplicate member name "\\"q"/);
  refuses('{"":1,"":2}', /duplicate member name ""/);
  // Many members (past the small-object array) still find the duplicate.
  const many = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(",");
  accepts(`{${many}}`);
  refuses(`{${many},"k7":0}`, /duplicate member name "k7"/);
  accepts('{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}');
  accepts('{"a":1,"A":2,"a ":3,"\\u0062":4}');
  accepts('{"a":"\\"a\\"","b":"a"}'); // escaped quotes in values are not member names
  accepts('["a","a",{"a":1}]');
  // JSON.parse alone would keep the last value: the strict reader never hands that over.
  assert.equal((JSON.parse('{"a":1,"a":2}') as { a: number }).a, 2);
});

test("numbers must be finite doubles; any finite form is fine outside integer fields", () => {
  for (const bad of ['{"n":1e400}', '{"n":-1e400}', '{"n":1E309}', "1" + "0".repeat(400), `[${"9".repeat(310)}.5]`]) refuses(bad, /not finite/);
  for (const good of ['{"n":1e308}', '{"n":1E-400}', '{"n":-0}', '{"n":5.0}', '{"n":5e0}', `{"n":${"1".repeat(30)}}`, '{"n":1.7976931348623157e308}', '{"n":123456789012345678}']) accepts(good);
});

test("lone surrogate escapes are refused, pairs and \\u0000 accepted", () => {
  for (const bad of ['"\\ud800"', '"\\udc00"', '"a\\ud800b"', '"\\ud800\\u0041"', '"\\udc00\\ud800"', '"\\ud800\\ud800"', '"x\\uDBFF"', '{"\\ud800":1}', '["\\ud83d", "\\ude00"]']) {
    refuses(bad, /lone surrogate/);
  }
  accepts('"\\ud83d\\ude00"');
  accepts('"\\uD83D\\uDE00 and \\u00e9"');
  accepts('{"\\ud83d\\ude00":1}');
  accepts('"\\\\ud800"'); // an escaped backslash, then text
  const nul = parseStrictJson('{"a":"x\\u0000y"}');
  assert.ok(nul.ok);
  assert.deepEqual(nul.value, { a: "x\u0000y" });
  // A JavaScript string may hold a raw lone surrogate: it has no UTF-8 form.
  refuses('{"a":"\ud800"}', /lone surrogate/);
  refuses('"\\ud800\udc00"', /lone surrogate/);
});

test(`nesting at most JSON_MAX_DEPTH (${JSON_MAX_DEPTH}) deep, the outermost value depth 1`, () => {
  accepts(nest(JSON_MAX_DEPTH));
  accepts(nest(JSON_MAX_DEPTH - 1, "{}"));
  refuses(nest(JSON_MAX_DEPTH + 1), /nesting deeper than 64/);
  refuses(nest(JSON_MAX_DEPTH, "{}"), /nesting deeper than 64/);
  refuses('{"a":' + nest(JSON_MAX_DEPTH) + "}", /nesting deeper/);
  refuses(nest(100_000), /nesting deeper/); // no stack is exhausted
  refuses("[".repeat(100_000), /nesting deeper/);
});

test("envelope mode: payloads[].size is written 0 or [1-9][0-9]*", () => {
  const env = (size: string, extra = "") => `{"a":1,"payloads":[{"dataname":"x","size":${size}${extra}}],"metadata":{"size":5.0}}`;
  for (const good of ["0", "5", "123", String(MAX_PAYLOAD_SIZE)]) accepts(env(good), true);
  for (const bad of ["5.0", "5e0", "5E0", "-0", "1E2", "-5", "0.0", "50e-1"]) refuses(env(bad), /`size` written/, true);
  // Only the envelope's payloads: metadata, other depths, and non-envelope mode are free.
  accepts(env("5"), true);
  accepts('{"size":5.0,"payloads":[]}', true);
  accepts('{"payloads":[{"metadata":{"size":5.0},"size":5}]}', true);
  accepts('{"metadata":{"payloads":[{"size":5.0}]}}', true);
  accepts(env("5.0"));
  // A size that is not a number is the schema's business, not the scanner's.
  accepts(env('"5"'), true);
  assert.equal(strictJsonReason(env("5.0"), { envelope: true })?.includes("size"), true);
});

test("a long string costs a memchr, not a character loop", () => {
  const big = "A".repeat(32 * 2 ** 20);
  const text = `{"data":"${big}","k":"\\u00e9"}`;
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) assert.equal(strictJsonReason(text), undefined);
  const perMb = (performance.now() - t0) / 5 / 32;
  assert.ok(perMb < 2, `${perMb.toFixed(3)} ms per MB`);
});

async function receiveCode(body: string | Uint8Array): Promise<string> {
  try {
    // sha256 is not what this is about: payload bytes are swapped below.
    await smartreceive(body, { verifySha256: false });
    return "ok";
  } catch (e) {
    assert.ok(e instanceof NatsBridgeError, String(e));
    return e.code;
  }
}

test("smartreceive: a non-strict envelope is INVALID_ENVELOPE, a non-strict JSON payload DESERIALIZATION_ERROR", async () => {
  const sent = await smartsend("s", [["d", { a: 1 }, "dictionary"], ["t", "hi", "text"]], { publish: false });
  const json = sent.json;
  assert.equal(await receiveCode(json), "ok");
  assert.equal(await receiveCode(utf8.encode(json)), "ok");
  const code = (body: string | Uint8Array) => receiveCode(body);
  assert.equal(await code(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8.encode(json)])), ERROR_NOT_JSON);
  assert.equal(await code(json.replace('"metadata":{}', '"metadata":{"k":1,"k":2}')), ERROR_NOT_JSON);
  assert.equal(await code(json.replace('"metadata":{}', '"metadata":{"k":1e400}')), ERROR_NOT_JSON);
  assert.equal(await code(json.replace('"dataname":"t"', '"dataname":"\\udc00"')), ERROR_NOT_JSON);
  assert.equal(await code(json.replace('"metadata":{}', `"metadata":${nest(JSON_MAX_DEPTH - 1)}`)), ERROR_NOT_ENVELOPE); // depth 64 passes the reader, the schema wants an object
  assert.equal(await code(json.replace('"metadata":{}', `"metadata":{"x":${nest(JSON_MAX_DEPTH - 2)}}`)), "ok");
  assert.equal(await code(json.replace('"metadata":{}', `"metadata":{"x":${nest(JSON_MAX_DEPTH - 1)}}`)), ERROR_NOT_JSON);
  assert.equal(await code(json.replace('"size":2,', '"size":2.0,')), ERROR_NOT_ENVELOPE);
  assert.equal(await code(json.replace('"size":2,', '"size":2e0,')), ERROR_NOT_ENVELOPE);
  const withData = (text: string) => {
    const b = Buffer.from(text);
    return json.replace(/"size":7,"data":"[^"]*"/, `"size":${b.length},"data":"${b.toString("base64")}"`);
  };
  assert.match(json, /"size":7,"data":"/, "the dictionary payload is the 7 bytes {\"a\":1}");
  assert.equal(await code(withData('{"a":2}')), "ok");
  assert.equal(await code(withData('{"a":1,"a":2}')), ERROR_BAD_BYTES);
  assert.equal(await code(withData('{"a":"\\ud800"}')), ERROR_BAD_BYTES);
  assert.equal(await code(withData('{"a":1e400}')), ERROR_BAD_BYTES);
  assert.equal(await code(withData('\ufeff{"a":1}')), ERROR_BAD_BYTES);
  assert.equal(await code(withData(nest(JSON_MAX_DEPTH))), "ok"); // depth from the payload's own root
  assert.equal(await code(withData(nest(JSON_MAX_DEPTH + 1))), ERROR_BAD_BYTES);
  assert.equal(await code(withData('{"n":-0,"f":5.0,"z":"\\u0000"}')), "ok"); // no integer rule in payloads
});
