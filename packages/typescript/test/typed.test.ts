/**
 * Typed operations (src/typed.ts) through the package generated from the example team spec
 * (examples/simulation/asyncapi.yaml → examples/simulation/generated/typescript,
 * `@simulation/api`), against a real nats-server: request/reply with typed replies, typed
 * errors for messages the schema refuses (the subscription goes on), headers, JetStream
 * publish and replay, subject parameters, Arrow tables, and interop with plain
 * smartsend / smartrequest / smartreply in both directions.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { tableFromArrays } from "apache-arrow";
import { ERROR_BAD_OPTION } from "@natsbridge/types";
import {
  COMMAND_WILDCARD,
  HEALTH_STREAM,
  HEALTH_WILDCARD,
  analyzeAudio,
  commandSubject,
  handleCommand,
  handleCommandReply,
  publishHealth,
  replayHealth,
  requestTable,
  sendCommand,
  serveAudio,
  serveAudioReply,
  serveTable,
  serveTableReply,
  type Command,
  type Health,
} from "@simulation/api";
import {
  Bridge,
  NatsBridgeError,
  connect,
  ensureStream,
  newUuid,
  publishToStream,
  smartreceive,
  smartreply,
  smartrequest,
  smartsend,
  typed,
  type DeliveredMessage,
  type Incoming,
  type Stored,
  type Subscription,
} from "../dist/node.js";
import { reader, startNats, type Running } from "./helpers.ts";

let nats: Running;
let nc: Awaited<ReturnType<typeof connect>>;
let bridge: Bridge;

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  bridge = new Bridge(nc, { timeoutMs: 5_000, send: { senderName: "typed-test" } });
});

after(async () => {
  await nc?.close();
  await nats?.stop();
});


function ok<M>(item: Incoming<M> | NatsBridgeError): Incoming<M> {
  if (item instanceof NatsBridgeError) assert.fail(`expected a message, got ${item.report()}`);
  return item;
}

function failed<M>(item: Incoming<M> | NatsBridgeError): NatsBridgeError {
  if (!(item instanceof NatsBridgeError)) assert.fail(`expected an error, got ${JSON.stringify(item.message)}`);
  return item;
}

/** Serves `handleCommand` for one service until the subscription closes: every good command answered "Running". */
async function commandService(service: string): Promise<{ sub: Subscription<Command>; errors: NatsBridgeError[] }> {
  const sub = await handleCommand(bridge, { service });
  const errors: NatsBridgeError[] = [];
  void (async () => {
    for await (const item of sub) {
      if (item instanceof NatsBridgeError) {
        errors.push(item);
        continue;
      }
      await handleCommandReply(bridge, item, { state: "Running", detail: `${item.message.iterations} steps on ${item.subject}` });
    }
  })();
  return { sub, errors };
}

test("sendCommand / handleCommand: a typed request gets its typed reply, same correlation id", async () => {
  const { sub } = await commandService("*");
  try {
    const correlationId = newUuid();
    const reply = await sendCommand(bridge, { service: "sim1" }, { step_size: 0.01, iterations: 1000 }, { correlationId });
    assert.equal(reply.message.state, "Running");
    assert.equal(reply.message.detail, "1000 steps on sim.sim1.command");
    assert.equal(reply.correlationId, correlationId);
    const env = reply.received.envelope;
    assert.equal(env.payloads.length, 1);
    assert.equal(env.payloads[0]?.dataname, "status");
    assert.equal(env.payloads[0]?.payload_type, "dictionary");
    assert.equal(env.msg_purpose, "event");
    assert.notEqual(env.reply_to_msg_id, "");
  } finally {
    sub.unsubscribe();
  }
});

test("a command the schema refuses yields a typed error with its correlation id; the subscription goes on", async () => {
  const sub = await handleCommand(bridge, { service: "strict" });
  const next = reader(sub);
  const subject = commandSubject({ service: "strict" });
  try {
    const send = async (payloads: Parameters<typeof smartsend>[1]) => {
      const correlationId = newUuid();
      await smartsend(subject, payloads, { connection: nc, correlationId, msgPurpose: "command" });
      return correlationId;
    };

    let cid = await send([["command", { step_size: 0.1, iterations: 0 }, "dictionary"]]);
    let err = failed(await next());
    assert.equal(err.code, "DESERIALIZATION_ERROR");
    assert.equal(err.correlationId, cid);
    assert.equal(err.dataname, "command");
    assert.match(err.message, /iterations/);

    cid = await send([["command", { iterations: 5 }, "dictionary"]]);
    err = failed(await next());
    assert.equal(err.code, "DESERIALIZATION_ERROR");
    assert.equal(err.correlationId, cid);
    assert.match(err.message, /step_size/);

    // No payload named `command`, or one of another type.
    cid = await send([["other", { step_size: 0.1, iterations: 5 }, "dictionary"]]);
    err = failed(await next());
    assert.equal(err.code, "INVALID_PAYLOAD_TYPE");
    assert.equal(err.correlationId, cid);
    assert.equal(err.dataname, "command");
    cid = await send([["command", "step_size=0.1", "text"]]);
    err = failed(await next());
    assert.equal(err.code, "INVALID_PAYLOAD_TYPE");
    assert.equal(err.correlationId, cid);

    // Not an envelope at all.
    nc.publish(subject, "hello");
    err = failed(await next());
    assert.equal(err.code, "INVALID_ENVELOPE");

    // ... and the next good one arrives.
    cid = await send([["command", { step_size: 0.5, iterations: 3 }, "dictionary"]]);
    const good = ok(await next());
    assert.deepEqual(good.message, { step_size: 0.5, iterations: 3 });
    assert.equal(good.correlationId, cid);
    assert.equal(good.subject, subject);
  } finally {
    sub.unsubscribe();
  }
});

test("a bad request is answered with an error response, so the requester fails at once", async () => {
  const { sub, errors } = await commandService("answers");
  try {
    const correlationId = newUuid();
    const started = Date.now();
    await assert.rejects(
      smartrequest(nc, commandSubject({ service: "answers" }), [["command", { step_size: 1, iterations: -1 }, "dictionary"]], { correlationId, timeout: 5_000 }),
      (e: unknown) => e instanceof NatsBridgeError && e.remote && e.code === "DESERIALIZATION_ERROR" && e.correlationId === correlationId,
    );
    assert.ok(Date.now() - started < 4_000);
    for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.correlationId, correlationId);
    // ... and it goes on serving.
    const good = await sendCommand(bridge, { service: "answers" }, { step_size: 1, iterations: 1 });
    assert.equal(good.message.state, "Running");
  } finally {
    sub.unsubscribe();
  }
});

test("typed sends refuse what the schema refuses (SERIALIZATION_ERROR) before publishing", async () => {
  const sub = await handleCommand(bridge, { service: "refuse" });
  const next = reader(sub, 500);
  try {
    await assert.rejects(
      sendCommand(bridge, { service: "refuse" }, { step_size: 0.1, iterations: 0 }),
      (e: unknown) => e instanceof NatsBridgeError && e.code === "SERIALIZATION_ERROR" && e.dataname === "command",
    );
    await assert.rejects(
      sendCommand(bridge, { service: "refuse" }, { iterations: 2 } as unknown as Command),
      (e: unknown) => e instanceof NatsBridgeError && e.code === "SERIALIZATION_ERROR" && /step_size/.test(e.message),
    );
    await assert.rejects(next(), /nothing from/);
  } finally {
    sub.unsubscribe();
  }
});

test("untyped smartsend / smartrequest and typed code interoperate both ways", async () => {
  // Plain smartrequest with a `command` dictionary → handleCommand → typed reply, read untyped.
  const { sub } = await commandService("interop");
  try {
    const received = await smartrequest(nc, "sim.interop.command", [["command", { step_size: 0.25, iterations: 7 }, "dictionary"]], { msgPurpose: "command" });
    const status = received.payloads.find((p) => p.dataname === "status");
    assert.equal(status?.payload_type, "dictionary");
    assert.deepEqual(status?.data, { state: "Running", detail: "7 steps on sim.interop.command" });
  } finally {
    sub.unsubscribe();
  }

  // Typed sendCommand → a plain smartreceive / smartreply service.
  const plain = nc.subscribe("sim.plain.command", { max: 1 });
  const served = (async () => {
    for await (const m of plain) {
      const req = await smartreceive(m);
      assert.equal(req.envelope.msg_purpose, "command");
      assert.deepEqual(req.payloads.map((p) => [p.dataname, p.payload_type, p.data]), [["command", "dictionary", { step_size: 2, iterations: 9 }]]);
      await smartreply(nc, req.envelope, [["status", { state: "Done", extra: [1, 2] }, "dictionary"]]);
    }
  })();
  const reply = await sendCommand(bridge, { service: "plain" }, { step_size: 2, iterations: 9 });
  await served;
  assert.equal(reply.message.state, "Done");
  assert.deepEqual(reply.message["extra"], [1, 2]); // unknown properties kept
});

test("analyzeAudio / serveAudio: bytes with typed headers (Sample-Rate, Channels), typed spectrum reply", async () => {
  const sub = await serveAudio(bridge, { device: "*" });
  const seen: Incoming<unknown>[] = [];
  void (async () => {
    for await (const item of sub) {
      if (item instanceof NatsBridgeError) continue;
      seen.push(item);
      const { data, headers } = item.message;
      await serveAudioReply(bridge, item, { peak_hz: headers.sampleRate / 4, bins: [data.length, headers.channels] });
    }
  })();
  try {
    const samples = Uint8Array.from({ length: 4096 }, (_, i) => i % 251);
    const reply = await analyzeAudio(bridge, { device: "mic1" }, { data: samples, headers: { sampleRate: 16_000, channels: 2 } });
    assert.deepEqual(reply.message, { peak_hz: 4000, bins: [4096, 2] });
    const request = seen[0];
    assert.ok(request !== undefined);
    assert.equal(request.received.headers["Sample-Rate"], "16000");
    assert.equal(request.received.headers["Channels"], "2");
    assert.equal(request.received.payloads[0]?.payload_type, "audio");
    assert.equal(request.received.payloads[0]?.dataname, "clip");
    assert.deepEqual((request.message as { data: Uint8Array }).data, samples);
  } finally {
    sub.unsubscribe();
  }
});

test("a missing or unparsable header is a typed error; a bad header value is refused on send", async () => {
  const sub = await serveAudio(bridge, { device: "hdr" });
  const next = reader(sub);
  try {
    const clip = (headers: Record<string, string>) => {
      const correlationId = newUuid();
      return smartsend("sim.hdr.audio", [["clip", new Uint8Array([1, 2, 3]), "audio"]], { connection: nc, correlationId, headers }).then(() => correlationId);
    };
    let cid = await clip({ "Sample-Rate": "fast", Channels: "2" });
    let err = failed(await next());
    assert.equal(err.code, "DESERIALIZATION_ERROR");
    assert.equal(err.correlationId, cid);
    assert.equal(err.dataname, "clip");
    assert.match(err.message, /Sample-Rate/);

    cid = await clip({ "Sample-Rate": "8000" });
    err = failed(await next());
    assert.equal(err.code, "DESERIALIZATION_ERROR");
    assert.equal(err.correlationId, cid);
    assert.match(err.message, /Channels/);

    cid = await clip({ "Sample-Rate": "-5", Channels: "1" });
    err = failed(await next());
    assert.equal(err.code, "DESERIALIZATION_ERROR");

    cid = await clip({ "Sample-Rate": "8000", Channels: "1" });
    const good = ok(await next());
    assert.deepEqual(good.message.headers, { sampleRate: 8000, channels: 1 });
    assert.equal(good.correlationId, cid);

    await assert.rejects(
      analyzeAudio(bridge, { device: "hdr" }, { data: new Uint8Array(1), headers: { sampleRate: 44.1, channels: 1 } }),
      (e: unknown) => e instanceof NatsBridgeError && e.code === "SERIALIZATION_ERROR" && /Sample-Rate/.test(e.message),
    );
  } finally {
    sub.unsubscribe();
  }
});

test("publishHealth / replayHealth through JetStream: acked, replayed typed, a bad one is an error and replay goes on", async () => {
  await ensureStream(nc, { name: HEALTH_STREAM, subjects: [HEALTH_WILDCARD], maxAgeMs: 3_600_000 });
  const a1 = await publishHealth(bridge, { service: "a" }, { status: "ok", uptime_s: 1 });
  assert.ok((a1.streamSequence ?? 0) > 0);
  assert.equal(a1.duplicate, false);
  // Written by plain code, missing `uptime_s`.
  const bad = await publishToStream(nc, "sim.b.health", [["health", { status: "degraded" }, "dictionary"]]);
  await publishHealth(bridge, { service: "b" }, { status: "degraded", uptime_s: 5, load: 0.9 });
  await publishHealth(bridge, { service: "a" }, { status: "ok", uptime_s: 2 });

  // Rule 18: the bad one is terminated (`+TERM`), not merely skipped; the server's advisory
  // says so (listened for before the replay reads it).
  const terminated = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${HEALTH_STREAM}.>`, { max: 1 });
  await nc.flush();
  const nextTerminated = reader({ subject: terminated.getSubject(), [Symbol.asyncIterator]: () => terminated[Symbol.asyncIterator]() }, 5_000);
  const all = await replayHealth(bridge, { service: "*" }, { batch: 2 });
  try {
    // `Stored`, the name every runtime gives a typed replayed message; the old name still types it.
    const first: Stored<Health> = await all.next(5_000);
    const legacy: DeliveredMessage<Health> = first;
    assert.equal(legacy, first);
    assert.deepEqual(first.message, { status: "ok", uptime_s: 1 });
    assert.equal(first.subject, "sim.a.health");
    assert.equal(first.seq, a1.streamSequence);
    await first.ack();
    await assert.rejects(
      all.next(5_000),
      (e: unknown) => e instanceof NatsBridgeError && e.code === "DESERIALIZATION_ERROR" && e.correlationId === bad.envelope.correlation_id && e.dataname === "health",
    );
    const advisory = await nextTerminated().catch((e: unknown) => assert.fail(`no MSG_TERMINATED advisory: the bad message was not terminated (${String(e)})`));
    assert.equal(advisory.json<{ stream_seq: number }>().stream_seq, bad.streamSequence, advisory.string());
    const third = await all.next(5_000);
    assert.deepEqual(third.message, { status: "degraded", uptime_s: 5, load: 0.9 });
    await third.ack();
    const fourth = await all.next(5_000);
    assert.equal(fourth.message.uptime_s, 2);
    // Both acks of rule 18: sent (above), and confirmed by the server.
    await fourth.ackConfirmed();
    await assert.rejects(all.next(1_500), (e: unknown) => e instanceof NatsBridgeError && e.code === "TIMEOUT");
  } finally {
    terminated.unsubscribe();
    await all.close();
  }

  const onlyA = await replayHealth(bridge, { service: "a" });
  try {
    assert.equal((await onlyA.next(5_000)).message.uptime_s, 1);
    assert.equal((await onlyA.next(5_000)).message.uptime_s, 2);
    await assert.rejects(onlyA.next(1_000), (e: unknown) => e instanceof NatsBridgeError && e.code === "TIMEOUT");
  } finally {
    await onlyA.close();
  }
});

test("channel parameters are one subject token: `a.b`, empty, `*`, `>` and spaces are refused on send", async () => {
  for (const service of ["a.b", "", "*", ">", "two words", "tab\t"]) {
    assert.throws(
      () => commandSubject({ service }),
      (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION,
      JSON.stringify(service),
    );
    await assert.rejects(
      sendCommand(bridge, { service }, { step_size: 1, iterations: 1 }),
      (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && e.message.includes("service"),
    );
  }
  assert.equal(commandSubject({ service: "sim-1_x" }), "sim.sim-1_x.command");
  assert.equal(commandSubject({ service: "*" }, { wildcard: true }), COMMAND_WILDCARD);
  assert.throws(() => commandSubject({ service: "a.b" }, { wildcard: true }), NatsBridgeError);
  assert.equal(typed.token("p", "x"), "x");
  assert.throws(() => typed.token("p", "*"), NatsBridgeError);
  assert.equal(typed.token("p", "*", true), "*");
});

test("requestTable / serveTable: an apache-arrow Table as the typed reply", async () => {
  const sub = await serveTable(bridge, { service: "*" });
  void (async () => {
    for await (const item of sub) {
      if (item instanceof NatsBridgeError) continue;
      const n = item.message.rows;
      const table = tableFromArrays({
        step: Int32Array.from({ length: n }, (_, i) => i),
        value: Float64Array.from({ length: n }, (_, i) => i * 0.5),
      });
      await serveTableReply(bridge, item, { table });
    }
  })();
  try {
    const reply = await requestTable(bridge, { service: "sim1" }, { rows: 5 });
    const { table } = reply.message;
    assert.equal(table.numRows, 5);
    assert.deepEqual(table.schema.fields.map((f) => f.name), ["step", "value"]);
    assert.deepEqual(Array.from(table.getChild("value")?.toArray() ?? []), [0, 0.5, 1, 1.5, 2]);
    assert.equal(reply.received.payloads[0]?.payload_type, "arrowtable");
    assert.equal(reply.received.payloads[0]?.dataname, "results");
    // A request the schema refuses (rows: 0) is answered with an error at once.
    await assert.rejects(
      smartrequest(nc, "sim.sim1.table", [["table_request", { rows: 0 }, "dictionary"]], { timeout: 5_000 }),
      (e: unknown) => e instanceof NatsBridgeError && e.remote && e.code === "DESERIALIZATION_ERROR",
    );
  } finally {
    sub.unsubscribe();
  }
});
