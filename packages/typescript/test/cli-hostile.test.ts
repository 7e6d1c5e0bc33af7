/**
 * A hostile message never stops `natsbridge-js receive`: bodies published raw to a real
 * nats-server subject (invalid UTF-8, a BOM, duplicate keys, a lone surrogate in a dataname,
 * 1e400, nesting 100 deep, a raw NUL, an integer written 2.0, a UUID followed by a newline)
 * each give one error line with the right code, in order; the good envelopes around them
 * (one with `\u0000` and non-ASCII text in its dataname) give their digest lines; every line
 * is printable ASCII JSON; the receiver exits 0 having printed all of them.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { ERROR_NOT_ENVELOPE, ERROR_NOT_JSON, JSON_MAX_DEPTH } from "@natsbridge/types";
import { connect, newUuid, smartsend } from "../dist/node.js";
import { cliArgs, startNats, startProcess, type Running } from "./helpers.ts";

let nats: Running;
let nc: NatsConnection;

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
});

after(async () => {
  await nc?.close();
  await nats?.stop();
});

const utf8 = new TextEncoder();

test("natsbridge-js receive prints one error line per hostile body and goes on", async () => {
  const subject = `hostile.${newUuid()}`;
  const cid = newUuid();
  const good = (await smartsend(subject, [["note", "hello", "text"]], { publish: false, correlationId: cid })).json;
  assert.ok(good.includes('"dataname":"note"'));
  const bytes = (text: string) => utf8.encode(text);
  const withDataname = (name: string) => good.replace('"dataname":"note"', `"dataname":${name}`);
  const deep = good.replace('"metadata":{}', `"metadata":{"x":${"[".repeat(98)}0${"]".repeat(98)}}`); // 100 deep
  const hostile: [string, Uint8Array, string, string | null][] = [
    ["invalid UTF-8", (() => {
      const b = bytes(withDataname('"n?te"'));
      b[b.indexOf(0x3f)] = 0xff;
      return b;
    })(), ERROR_NOT_JSON, null],
    ["a BOM", new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(good)]), ERROR_NOT_JSON, null],
    ["duplicate keys", bytes(good.replace('"msg_purpose":"chat"', '"msg_purpose":"chat","msg_purpose":"command"')), ERROR_NOT_JSON, null],
    ["a lone surrogate in the dataname", bytes(withDataname('"a\\ud800b"')), ERROR_NOT_JSON, null],
    ["1e400", bytes(good.replace('"metadata":{}', '"metadata":{"n":1e400}')), ERROR_NOT_JSON, null],
    [`nesting 100 deep (over ${JSON_MAX_DEPTH})`, bytes(deep), ERROR_NOT_JSON, null],
    ["a raw NUL", bytes(withDataname('"a\u0000b"')), ERROR_NOT_JSON, null],
    ["size written 5.0", bytes(good.replace(/"size":5,/, '"size":5.0,')), ERROR_NOT_ENVELOPE, cid],
    ["a correlation id followed by a newline", bytes(good.replace(`"correlation_id":"${cid}"`, `"correlation_id":"${cid}\\n"`)), ERROR_NOT_ENVELOPE, `${cid}\n`],
  ];
  const fine = withDataname('"a\\u0000b \u00e9 \ud83d\ude00"'); // NUL escape and non-ASCII are valid
  const count = hostile.length + 2;
  const [node, args] = cliArgs("receive", "--server", nats.url, "--subject", subject, "--count", String(count), "--timeout", "60");
  const rx = startProcess(node, args);
  await rx.waitStderr('"subscribed":true');
  for (const [, body] of hostile) nc.publish(subject, body);
  nc.publish(subject, fine);
  nc.publish(subject, good);
  await nc.flush();
  const out = await rx.done;
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^[\x20-\x7e\n]*$/, "every line is printable ASCII");
  const lines = out.stdout.trim().split("\n");
  assert.equal(lines.length, count, out.stdout);
  hostile.forEach(([what, , code, correlationId], i) => {
    const line = JSON.parse(lines[i]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(line), ["error", "correlation_id", "message"], what);
    assert.equal(line["error"], code, `${what}: ${lines[i]}`);
    assert.equal(line["correlation_id"], correlationId, what);
  });
  const digest = (line: string) => JSON.parse(line) as { correlation_id: string; payloads: { dataname: string }[] };
  assert.equal(digest(lines[count - 2]!).payloads[0]!.dataname, "a\u0000b \u00e9 \ud83d\ude00");
  assert.ok(lines[count - 2]!.includes("a\\u0000b \\u00e9 \\ud83d\\ude00"), String(lines[count - 2]));
  assert.equal(digest(lines[count - 1]!).correlation_id, cid);
  assert.equal(digest(lines[count - 1]!).payloads[0]!.dataname, "note");
});
