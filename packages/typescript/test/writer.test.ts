/**
 * Writers are strict and options are checked (schema/README.md, rule 12), against a real
 * nats-server: what breaks the v1 writer schema is refused with SERIALIZATION_ERROR
 * (ERROR_WRITER_RULE) naming the field, before anything is uploaded or published, by
 * smartsend, smartreply, smartreplyError, publishToStream, publishMessage and typed sends; an
 * unknown option key or an option of the wrong type is INVALID_ARGUMENT (ERROR_BAD_OPTION)
 * naming it and the likely intended key, in every call that takes options. Options are passed
 * as plain JavaScript would (`as any`). flush is false by default: a caller's connection is
 * not flushed unless asked; a connection smartsend opens is flushed before it is closed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { DEFAULT_FLUSH, ENV_SIZE_THRESHOLD, ERROR_BAD_OPTION, ERROR_WRITER_RULE, HEADER_SAMPLE_RATE, type MsgEnvelopeV1 } from "@natsbridge/types";
import {
  Bridge,
  EnvelopeConsumer,
  NatsBridgeError,
  connect,
  connectTo,
  decodeTable,
  ensureStream,
  fetchWithBackoff,
  newUuid,
  plikUpload,
  plikUploader,
  publishMessage,
  publishToStream,
  smartreceive,
  smartreply,
  smartreplyError,
  smartrequest,
  smartsend,
  typed,
  type Uploader,
} from "../dist/node.js";
import { startNats, type Running } from "./helpers.ts";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

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

/** Resolves to the NatsBridgeError `run` throws (fails when it throws anything else or nothing). */
async function failure(run: () => unknown): Promise<NatsBridgeError> {
  try {
    await run();
  } catch (e) {
    assert.ok(e instanceof NatsBridgeError, `a NatsBridgeError, not ${String(e)}`);
    return e;
  }
  assert.fail("no error");
}

async function refusedAsWriter(run: () => unknown, field: RegExp): Promise<NatsBridgeError> {
  const e = await failure(run);
  assert.equal(e.code, ERROR_WRITER_RULE, e.report());
  assert.match(e.message, field);
  return e;
}

async function refusedOption(run: () => unknown, message: RegExp): Promise<void> {
  const e = await failure(run);
  assert.equal(e.code, ERROR_BAD_OPTION, e.report());
  assert.match(e.message, message);
}

/** Everything published on `subject` while `run` runs (and a moment after). */
async function publishedDuring(subject: string, run: () => Promise<unknown>): Promise<string[]> {
  const got: string[] = [];
  const sub = nc.subscribe(subject);
  const done = (async () => {
    for await (const m of sub) got.push(m.string());
  })();
  await nc.flush();
  await run();
  await nc.flush();
  await new Promise((r) => setTimeout(r, 100));
  sub.unsubscribe();
  await done;
  return got;
}

test("smartsend refuses what the v1 writer schema refuses, naming the field, before uploading or publishing", async () => {
  const uploads: string[] = [];
  const uploader: Uploader = async (name) => {
    uploads.push(name);
    return "http://127.0.0.1:1/never";
  };
  const subject = `w.${newUuid()}`;
  const base = { connection: nc, uploader, sizeThreshold: 0 };
  const published = await publishedDuring(subject, async () => {
    await refusedAsWriter(() => smartsend(subject, [["x", "hi", "text"]], { ...base, msgPurpose: "request" }), /`msg_purpose` must be equal to one of the allowed values \(got "request"\)/);
    await refusedAsWriter(() => smartsend(subject, [["x", "hi", "text"]], { ...base, correlationId: "not-a-uuid" }), /`correlation_id` must be a UUID/);
    await refusedAsWriter(() => smartsend(subject, [["x", "hi", "text"]], { ...base, correlationId: "00000001-0000-4000-8000-000000000001\n" }), /`correlation_id` must be a UUID/);
    await refusedAsWriter(() => smartsend(subject, [["x", "hi", "text"]], { ...base, msgId: "m1" }), /`msg_id` must be a UUID/);
    await refusedAsWriter(() => smartsend(subject, [["x", "hi", "text"]], { ...base, senderName: "" }), /`sender_name` must NOT have fewer than 1 characters/);
    await refusedAsWriter(() => smartsend("", [["x", "hi", "text"]], { ...base }), /`send_to` must NOT have fewer than 1 characters/);
    await refusedOption(() => smartsend(subject, [["x", "hi", "text"]], { ...base, metadata: [] as Any }), /option `metadata` of smartsend must be an object, got an array/);
    // And the one that is right goes.
    await smartsend(subject, [["x", "hi", "text"]], { ...base, msgPurpose: "command", uploader: async () => "http://127.0.0.1:1/f/x.txt" });
  });
  assert.deepEqual(uploads, [], "nothing was uploaded for a refused envelope");
  assert.equal(published.length, 1, "only the good envelope was published");
  assert.equal((JSON.parse(published[0]!) as MsgEnvelopeV1).msg_purpose, "command");
});

test("the error names the correlation id; a bad correlation id is the writer's own field", async () => {
  const cid = newUuid();
  const e = await refusedAsWriter(() => smartsend("w.cid", [["x", "hi", "text"]], { publish: false, correlationId: cid, msgPurpose: "request" }), /msg_purpose/);
  assert.equal(e.correlationId, cid);
});

test("smartreply, smartrequest, smartreplyError, publishToStream, publishMessage and typed sends are strict writers too", async () => {
  const request = (await smartsend("w.req", [["x", "hi", "text"]], { publish: false, replyTo: "w.inbox" })).envelope;
  await refusedAsWriter(() => smartreply(nc, request, [["s", "ok", "text"]], { msgPurpose: "request" }), /msg_purpose/);
  await refusedAsWriter(() => smartrequest(nc, "w.nobody", [["x", "hi", "text"]], { msgPurpose: "request", timeout: 200 }), /msg_purpose/);
  await refusedAsWriter(() => smartrequest(nc, "w.nobody", [["x", "hi", "text"]], { correlationId: "nope", timeout: 200 }), /correlation_id/);
  // An error response with a code v1 does not define is refused: no runtime could read it as v1.
  const published = await publishedDuring("w.inbox", async () => {
    const remote = NatsBridgeError.fromErrorBody({ code: "QUOTA_EXCEEDED", message: "m" }, request.correlation_id);
    await refusedAsWriter(() => smartreplyError(nc, request, remote), /`error.code` must be equal to one of the allowed values/);
    await smartreplyError(nc, request, new NatsBridgeError("TIMEOUT", "took too long"));
  });
  assert.equal(published.length, 1);
  await ensureStream(nc, { name: "WSTRICT", subjects: ["wstrict.>"], maxAgeMs: 60_000, storage: "memory" });
  await refusedAsWriter(() => publishToStream(nc, "wstrict.a", [["x", "hi", "text"]], { msgPurpose: "request" }), /msg_purpose/);
  await refusedAsWriter(() => publishMessage(nc, "w.pm", '{"correlation_id":"x"}', newUuid()), /writer rules/);
  await refusedAsWriter(() => publishMessage(nc, "w.pm", '{"a":1,"a":2}', newUuid()), /not strict JSON/);
  const good = await smartsend("w.pm", [["x", "hi", "text"]], { publish: false });
  await refusedAsWriter(() => publishMessage(nc, "w.pm", good.json.replace('"chat"', '"request"'), good.envelope.correlation_id), /msg_purpose/);
  const bridge = new Bridge(nc, { timeoutMs: 500 });
  const codec = typed.jsonCodec("thing", (v: unknown) => ({ ok: true as const, value: v }));
  await refusedAsWriter(() => typed.publish(bridge, "w.typed", codec, { a: 1 }, "request"), /msg_purpose/);
});

test("unknown option keys name the closest known one; wrong types name the type", async () => {
  const payloads = [["x", "hi", "text"]] as Any;
  await refusedOption(() => smartsend("o.a", payloads, { publish: false, fileserver_url: "http://x" } as Any), /unknown option `fileserver_url` of smartsend: did you mean `fileserverUrl`\?/);
  await refusedOption(() => smartsend("o.a", payloads, { publish: false, fileServerUrl: "http://x" } as Any), /did you mean `fileserverUrl`\?/);
  await refusedOption(() => smartsend("o.a", payloads, { publish: false, sizeTreshold: 10 } as Any), /did you mean `sizeThreshold`\?/);
  await refusedOption(() => smartsend("o.a", payloads, { publish: false, correlation_id: newUuid() } as Any), /did you mean `correlationId`\?/);
  await refusedOption(() => smartsend("o.a", payloads, { publish: false, banana: 1 } as Any), /unknown option `banana` of smartsend \(known options: `connection`, `publish`/);
  await refusedOption(() => smartsend("o.a", payloads, { publish: false, sizeThreshold: "1000" } as Any), /option `sizeThreshold` of smartsend must be an integer of 0 or more, got the string "1000"/);
  await refusedOption(() => smartsend("o.a", payloads, { publish: "no" } as Any), /`publish` of smartsend must be a boolean/);
  await refusedOption(() => smartsend("o.a", payloads, { publish: false, headers: { [HEADER_SAMPLE_RATE]: 44100 } } as Any), /`Sample-Rate` in option `headers` of smartsend must be a string, got the number 44100: write it as text \("44100"\)/);
  await refusedOption(() => smartsend("o.a", payloads, nats.url as Any), /calling smartsend: its options must be an object \(\{ key: value, … \}\), got the string/);
  // undefined stands for an absent option.
  await smartsend("o.a", payloads, { publish: false, correlationId: undefined });

  const envelope = (await smartsend("o.a", payloads, { publish: false })).json;
  await refusedOption(() => smartreceive(envelope, { allowedHosts: "127.0.0.1:8080" } as Any), /option `allowedHosts` of smartreceive: allowedHosts must be a list of URLs; got the string `127.0.0.1:8080`: wrap it in a list/);
  await refusedOption(() => smartreceive(envelope, { allowed_hosts: ["x"] } as Any), /did you mean `allowedHosts`\?/);
  await refusedOption(() => smartreceive(envelope, { fetch: { max_attempts: 2 } } as Any), /unknown option `max_attempts` of smartreceive `fetch`: did you mean `maxAttempts`\?/);
  await refusedOption(() => smartreceive(envelope, { fetch: { expectedSize: 2 } } as Any), /unknown option `expectedSize` of smartreceive `fetch`/);
  await refusedOption(() => smartreceive(envelope, { tableLimits: { maxColumns: "9" } } as Any), /`maxColumns` of smartreceive `tableLimits` must be/);
  await refusedOption(() => smartrequest(nc, "o.r", payloads, { receive: { allowedHost: ["x"] } } as Any), /unknown option `allowedHost` of smartrequest `receive`: did you mean `allowedHosts`\?/);
  await refusedOption(() => smartrequest(nc, "o.r", payloads, { timout: 5 } as Any), /unknown option `timout` of smartrequest: did you mean `timeout`\?/);
  await refusedOption(() => smartrequest(nc, "o.r", payloads, { timeoutMs: 5 } as Any), /unknown option `timeoutMs` of smartrequest: did you mean `timeout`\?/);
  await refusedOption(() => smartrequest(nc, "o.r", payloads, { timeout: "100" } as Any), /option `timeout` of smartrequest must be a finite number of milliseconds, 0 or more, got the string "100"/);
  await refusedOption(() => smartrequest(nc, "o.r", payloads, { timeout: -1 } as Any), /option `timeout` of smartrequest must be a finite number/);
  // The old positional form (send options, receive options, timeout) is refused, saying the new one.
  await refusedOption(() => (smartrequest as (...a: unknown[]) => Promise<unknown>)(nc, "o.r", payloads, {}, {}, 100), /too many: smartrequest\(nc, subject, payloads, \{ timeout, receive, \.\.\.sendOptions \}\)/);
  const request = (await smartsend("o.req", payloads, { publish: false, replyTo: "o.inbox" })).envelope;
  await refusedOption(() => smartreply(nc, request, payloads, { msg_purpose: "ACK" } as Any), /did you mean `msgPurpose`\?/);
  await refusedOption(() => connectTo(nats.url, { servers: ["x"] } as Any), /unknown option `servers` of connectTo/);
  await refusedOption(() => connectTo(nats.url, { maxReconnectAttempts: "3" } as Any), /`maxReconnectAttempts` of connectTo must be a number/);
  await refusedOption(() => publishToStream(nc, "wstrict.b", payloads, { one_shot: true } as Any), /did you mean `oneShot`\?/);
  await refusedOption(() => ensureStream(nc, { name: "X", subjects: "x.>", maxAgeMs: 0 } as Any), /`subjects` of ensureStream must be an array of strings/);
  await refusedOption(() => ensureStream(nc, { name: "X", subjects: ["x.>"], maxAgeMs: 0, storage: "disk" } as Any), /`storage` of ensureStream must be one of "file", "memory"/);
  await refusedOption(() => EnvelopeConsumer.create(nc, "WSTRICT", { filter_subject: "wstrict.a" } as Any), /did you mean `filterSubject`\?/);
  await refusedOption(() => EnvelopeConsumer.create(nc, "WSTRICT", { startTime: "2026-01-01" } as Any), /unknown option `startTime` of EnvelopeConsumer.create: did you mean `start`\?/);
  await refusedOption(() => EnvelopeConsumer.create(nc, "WSTRICT", { start: "2026-01-01" } as Any), /replay start "2026-01-01" \(option `start` of EnvelopeConsumer.create\): a date alone/);
  await refusedOption(() => EnvelopeConsumer.create(nc, "WSTRICT", { receive: { allowedHosts: "x" } } as Any), /allowedHosts must be a list of URLs; got the string `x`: wrap it in a list/);
  await refusedOption(() => EnvelopeConsumer.create(nc, "WSTRICT", { receive: { allowedHosts: ["files:8080"] } } as Any), /allowed host `files:8080` is not a URL; write `http:\/\/files:8080`/);
  const consumer = await EnvelopeConsumer.create(nc, "WSTRICT", { start: "new" });
  await refusedOption(() => consumer.next("5" as Any), /`timeoutMs` of EnvelopeConsumer.next must be a finite number/);
  await consumer.close();
  await refusedOption(() => fetchWithBackoff("http://127.0.0.1:1/x", { retries: 3 } as Any), /unknown option `retries` of fetchWithBackoff/);
  await refusedOption(() => fetchWithBackoff("http://127.0.0.1:1/x", { deadlineMs: "1s" } as Any), /`deadlineMs` of fetchWithBackoff must be/);
  await refusedOption(() => plikUpload("http://127.0.0.1:1", "n", new Uint8Array(1), { oneshot: true } as Any), /did you mean `oneShot`\?/);
  await refusedOption(() => plikUploader("http://127.0.0.1:1", { tokn: "t" } as Any), /did you mean `token`\?/);
  await refusedOption(() => decodeTable(new Uint8Array(8), { max_columns: 1 } as Any), /did you mean `maxColumns`\?/);
  await refusedOption(() => new Bridge(nc, { timeout: 5 } as Any), /did you mean `timeoutMs`\?/);
  await refusedOption(() => new Bridge(nc, { send: { fileserver_url: "x" } } as Any), /unknown option `fileserver_url` of Bridge `send`: did you mean `fileserverUrl`\?/);
  await refusedOption(() => new Bridge(nc, { receive: { maxPayloads: "10" } } as Any), /`maxPayloads` of Bridge `receive` must be/);
  const bridge = new Bridge(nc, {});
  const codec = typed.jsonCodec("thing", (v: unknown) => ({ ok: true as const, value: v }));
  await refusedOption(() => typed.publish(bridge, "o.t", codec, { a: 1 }, "event", { connection: nc } as Any), /unknown option `connection` of a typed send/);
  await refusedOption(() => typed.publish(bridge, "o.t", codec, { a: 1 }, "event", { sender_name: "x" } as Any), /did you mean `senderName`\?/);
  await refusedOption(() => typed.subscribe(bridge, "o.t", codec, { group: "g" } as Any), /unknown option `group` of typed.subscribe/);
  await refusedOption(() => typed.replay(bridge, "WSTRICT", codec, { batch: "16" } as Any), /`batch` of typed.replay must be an integer of 1 or more/);
});

test(`${ENV_SIZE_THRESHOLD} that is not a non-negative integer is an error naming it, never a silent default`, async () => {
  const before = process.env[ENV_SIZE_THRESHOLD];
  try {
    for (const bad of ["lots", "-1", "1.5", "1e3"]) {
      process.env[ENV_SIZE_THRESHOLD] = bad;
      await refusedOption(() => smartsend("o.env", [["x", "hi", "text"]], { publish: false }), new RegExp(`${ENV_SIZE_THRESHOLD}=${JSON.stringify(bad).replace(/[.+]/g, "\\$&")} is not a non-negative integer`));
    }
    process.env[ENV_SIZE_THRESHOLD] = "1";
    const sent = await smartsend("o.env", [["x", "hi", "text"]], { publish: false, uploader: async () => "http://127.0.0.1:1/f/x.txt" });
    assert.equal(sent.envelope.payloads[0]!.transport, "link", "SIZE_THRESHOLD=1 sends 2 bytes by link");
  } finally {
    if (before === undefined) delete process.env[ENV_SIZE_THRESHOLD];
    else process.env[ENV_SIZE_THRESHOLD] = before;
  }
});

test("flush is false by default: the caller's connection is flushed only when asked; one smartsend opens is flushed before it closes", async () => {
  assert.equal(DEFAULT_FLUSH, false);
  let flushes = 0;
  const counting = new Proxy(nc, {
    get(target, key) {
      if (key === "flush") {
        return () => {
          flushes++;
          return target.flush();
        };
      }
      const v = (target as Any)[key];
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const subject = `f.${newUuid()}`;
  const published = await publishedDuring(subject, async () => {
    await smartsend(subject, [["x", "1", "text"]], { connection: counting });
    assert.equal(flushes, 0, "no flush by default");
    await smartsend(subject, [["x", "2", "text"]], { connection: counting, flush: true });
    assert.equal(flushes, 1, "flush: true flushes");
    await smartsend(subject, [["x", "3", "text"]], { connection: counting, flush: false });
    assert.equal(flushes, 1);
    // A connection smartsend opens for the call (a URL) is flushed before it is closed: nothing is lost.
    for (let i = 0; i < 20; i++) await smartsend(subject, [["x", `url ${i}`, "text"]], { connection: nats.url });
  });
  const texts = await Promise.all(published.map(async (json) => (await smartreceive(json)).payloads[0]!.data));
  assert.deepEqual(texts, ["1", "2", "3", ...Array.from({ length: 20 }, (_, i) => `url ${i}`)]);
});
