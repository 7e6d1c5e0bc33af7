/** smartsend → real nats-server → smartreceive, every payload type direct and by link; request/reply; logging. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Table } from "apache-arrow";
import { validateMsgEnvelopeV1 } from "@natsbridge/types";
import {
  NatsBridgeError,
  connect,
  newUuid,
  payloadNamed,
  publishMessage,
  setLogger,
  smartreceive,
  smartreply,
  smartrequest,
  smartsend,
  type LogRecord,
  type PayloadTuple,
} from "../dist/node.js";
import { startFileServer, startNats, type Running } from "./helpers.ts";
import { assertSame, bytes, sampleTable, samples } from "./samples.ts";

let nats: Running;
let files: Running;
let nc: Awaited<ReturnType<typeof connect>>;

before(async () => {
  nats = await startNats();
  files = await startFileServer();
  nc = await connect({ servers: nats.url });
});

after(async () => {
  await nc?.close();
  await files?.stop();
  await nats?.stop();
});

async function sendAndReceive(payloads: PayloadTuple[], sizeThreshold: number) {
  const subject = `rt.${newUuid()}`;
  const sub = nc.subscribe(subject, { max: 1 });
  const got = (async () => {
    for await (const m of sub) return m;
    throw new Error("no message");
  })();
  const sent = await smartsend(subject, payloads, { connection: nc, fileserverUrl: files.url, sizeThreshold, headers: { "Sample-Rate": "44100", Channels: "1" } });
  const msg = await got;
  const received = await smartreceive(msg, { allowedHosts: [files.url] });
  return { sent, msg, received };
}

for (const [label, threshold, transport] of [
  ["direct", 500_000, "direct"],
  ["link", 0, "link"],
] as const) {
  test(`every payload type round trips ${label}`, async () => {
    const payloads = samples();
    const { sent, msg, received } = await sendAndReceive(payloads, threshold);
    const writerCheck = validateMsgEnvelopeV1(JSON.parse(sent.json));
    assert.ok(writerCheck.ok, JSON.stringify(writerCheck));
    assert.equal(msg.headers?.get("Nats-Msg-Id"), sent.envelope.msg_id);
    assert.equal(msg.headers?.get("Correlation-Id"), sent.envelope.correlation_id);
    assert.equal(received.headers["Sample-Rate"], "44100");
    assert.equal(received.envelope.correlation_id, sent.envelope.correlation_id);
    assert.equal(received.payloads.length, payloads.length);
    for (const [i, p] of sent.envelope.payloads.entries()) {
      assert.equal(p.transport, transport, p.dataname);
      assert.equal(p.encoding, transport === "direct" ? "base64" : "none", p.dataname);
      assert.match(String(p.metadata?.["sha256"]), /^[0-9a-f]{64}$/);
      assert.equal(received.payloads[i]!.sha256, p.metadata?.["sha256"]);
      assert.equal(received.payloads[i]!.transport, transport);
      assertSame(payloads[i]!, received.payloads[i]!);
    }
  });
}

test("received.payload(name) finds a payload by dataname and leaves the received object plain data", async () => {
  const { received } = await sendAndReceive([["a", "first", "text"], ["b", { x: 1 }, "dictionary"], ["a", "second", "text"]], 500_000);
  assert.equal(received.payload("a")?.data, "first", "the first of that name");
  assert.deepEqual(received.payload("b")?.data, { x: 1 });
  assert.equal(received.payload("missing"), undefined);
  assert.equal(payloadNamed(received, "b"), received.payload("b"), "the deprecated payloadNamed is the same lookup");
  // Not enumerable: JSON, structuredClone and deep equality see only the data.
  const data = { envelope: received.envelope, payloads: received.payloads, headers: received.headers };
  assert.deepEqual(Object.keys(received), ["envelope", "payloads", "headers"]);
  assert.equal(JSON.stringify(received), JSON.stringify(data));
  const clone = structuredClone(received);
  assert.deepEqual(clone, data);
  assert.equal((clone as { payload?: unknown }).payload, undefined, "a clone is data only");
  assert.deepEqual(received, data);
});

test("a link Arrow table is decoded without copying its column data", async () => {
  const table = sampleTable(200_000);
  const { received } = await sendAndReceive([["big", table, "arrowtable"]], 500_000);
  const p = received.payloads[0]!;
  assert.equal(p.transport, "link");
  const downloaded = p.bytes.buffer;
  assert.equal(p.bytes.byteOffset, 0);
  assert.equal(downloaded.byteLength, p.bytes.byteLength, "the download streamed into one buffer of the declared size");
  const t = p.data as Table;
  assert.equal(t.numRows, 200_000);
  let checked = 0;
  for (const field of t.schema.fields) {
    for (const chunk of t.getChild(field.name)!.data) {
      const values = chunk.values as ArrayBufferView;
      assert.equal(values.buffer, downloaded, `${field.name}: the column's typed array shares the downloaded buffer`);
      checked++;
    }
  }
  assert.ok(checked >= 3);
});

test("an empty payload list and an empty binary travel", async () => {
  const { received } = await sendAndReceive([["nothing", new Uint8Array(0), "binary"]], 500_000);
  assert.equal((received.payloads[0]!.data as Uint8Array).byteLength, 0);
  const { received: none } = await sendAndReceive([], 500_000);
  assert.deepEqual(none.payloads, []);
});

test("request/reply: the reply keeps the correlation id and names the request", async () => {
  const sub = nc.subscribe("svc.run");
  const server = (async () => {
    for await (const m of sub) {
      const req = await smartreceive(m, { allowedHosts: [files.url] });
      await smartreply(nc, req.envelope, [["status", "Running", "text"]], { msgPurpose: "ACK" });
    }
  })();
  const reply = await smartrequest(nc, "svc.run", [["config", { step_size: 0.1, iterations: 10 }, "dictionary"]], { correlationId: "6f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20", msgPurpose: "command", timeout: 5000 });
  assert.equal(reply.payloads[0]!.data, "Running");
  assert.equal(reply.envelope.correlation_id, "6f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20");
  assert.equal(reply.envelope.msg_purpose, "ACK");
  assert.notEqual(reply.envelope.reply_to_msg_id, "");
  sub.unsubscribe();
  await server;
  await assert.rejects(smartrequest(nc, "nobody.listens", [["x", "y", "text"]], { timeout: 300 }), (e: unknown) => e instanceof NatsBridgeError && e.code === "TIMEOUT" && e.correlationId !== undefined);
});

test("publishMessage publishes envelope text with Correlation-Id and Nats-Msg-Id", async () => {
  const sent = await smartsend("pm.x", [["t", "hi", "text"]], { publish: false });
  const sub = nc.subscribe("pm.x", { max: 1 });
  const got = (async () => {
    for await (const m of sub) return m;
    throw new Error("none");
  })();
  await publishMessage(nats.url, "pm.x", sent.json, sent.envelope.correlation_id);
  const m = await got;
  assert.equal(m.headers?.get("Correlation-Id"), sent.envelope.correlation_id);
  assert.equal(m.headers?.get("Nats-Msg-Id"), sent.envelope.msg_id);
  assert.equal((await smartreceive(m)).payloads[0]!.data, "hi");
});

test("every log record carries the correlation id, at every stage", async () => {
  const records: LogRecord[] = [];
  setLogger((r) => records.push(r));
  try {
    const { sent } = await sendAndReceive([["big", bytes(600_000), "binary"], ["small", "x", "text"]], 500_000);
    const stages = new Set(records.map((r) => r.stage));
    for (const s of ["serialize", "upload", "publish", "receive", "download", "deserialize"]) assert.ok(stages.has(s), `stage ${s} logged: ${[...stages].join(",")}`);
    for (const r of records) assert.equal(r.correlation_id, sent.envelope.correlation_id, JSON.stringify(r));
  } finally {
    setLogger(undefined);
  }
});

test("a server that is not there is NATS_CONNECTION_FAILED with the correlation id", async () => {
  const cid = newUuid();
  await assert.rejects(smartsend("x", [["t", "x", "text"]], { connection: "nats://127.0.0.1:1", correlationId: cid }), (e: unknown) => {
    return e instanceof NatsBridgeError && e.code === "NATS_CONNECTION_FAILED" && e.correlationId === cid;
  });
});
