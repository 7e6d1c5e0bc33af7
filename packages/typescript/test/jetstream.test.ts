/** JetStream: acked publish with de-duplication by msg_id, a late pull consumer replaying the last minutes, backpressure. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { ERROR_BAD_OPTION } from "@natsbridge/types";
import { EnvelopeConsumer, NatsBridgeError, connect, ensureStream, newUuid, publishToStream, type PayloadTuple } from "../dist/node.js";
import { startFileServer, startNats, type Running } from "./helpers.ts";
import { bytes } from "./samples.ts";

let nats: Running;
let files: Running;
let nc: Awaited<ReturnType<typeof connect>>;

before(async () => {
  nats = await startNats();
  files = await startFileServer();
  nc = await connect({ servers: nats.url });
  await ensureStream(nc, { name: "HEALTH", subjects: ["health.>"], maxAgeMs: 3_600_000 });
});
after(async () => {
  await nc?.close();
  await files?.stop();
  await nats?.stop();
});

function health(i: number): PayloadTuple[] {
  // Every third message carries a link payload.
  const p: PayloadTuple[] = [["status", { cpu: i, ok: true }, "dictionary"]];
  if (i % 3 === 0) p.push(["trace", bytes(600_000, i + 1), "binary"]);
  return p;
}

test("ensureStream is idempotent and keeps limits retention", async () => {
  const info = await ensureStream(nc, { name: "HEALTH", subjects: ["health.>"], maxAgeMs: 3_600_000 });
  assert.equal(info.config.retention, "limits");
  assert.equal(info.config.max_age, 3_600_000 * 1e6);
});

test("the duplicate window never outlasts max_age (the server refuses that); max_age 0 keeps it", async () => {
  const short = await ensureStream(nc, { name: "SHORT", subjects: ["short.>"], maxAgeMs: 30_000 });
  assert.equal(short.config.max_age, 30_000 * 1e6);
  assert.equal(short.config.duplicate_window, 30_000 * 1e6);
  const forever = await ensureStream(nc, { name: "FOREVER", subjects: ["forever.>"], maxAgeMs: 0, duplicateWindowMs: 300_000 });
  assert.equal(forever.config.max_age, 0);
  assert.equal(forever.config.duplicate_window, 300_000 * 1e6);
});

test("publishToStream is acked and de-duplicated by msg_id", async () => {
  const msgId = newUuid();
  const first = await publishToStream(nc, "health.dedup", [["x", "1", "text"]], { msgId, fileserverUrl: files.url });
  const again = await publishToStream(nc, "health.dedup", [["x", "1", "text"]], { msgId, fileserverUrl: files.url });
  assert.ok((first.streamSequence ?? 0) > 0);
  assert.equal(first.duplicate, false);
  assert.equal(again.duplicate, true);
  assert.equal(again.streamSequence, first.streamSequence);
});

test("a late consumer replays the last minutes (direct and link) with backpressure, acking as it goes", async () => {
  const old = await publishToStream(nc, "health.node1", [["status", { stale: true }, "dictionary"]], { fileserverUrl: files.url });
  await new Promise((r) => setTimeout(r, 1100));
  const since = new Date(Date.now() - 200);
  const sent = [];
  for (let i = 0; i < 9; i++) sent.push(await publishToStream(nc, "health.node1", health(i), { fileserverUrl: files.url }));
  assert.ok(sent.every((s) => (s.streamSequence ?? 0) > (old.streamSequence ?? 0)));

  const consumer = await EnvelopeConsumer.create(nc, "HEALTH", {
    filterSubject: "health.node1",
    start: since,
    batch: 2,
    receive: { allowedHosts: [files.url] },
  });
  const got = [];
  for (let i = 0; i < 9; i++) {
    const d = await consumer.next(10_000);
    got.push(d);
    // Backpressure: never more than `batch` delivered and unacknowledged at once.
    const jsm = await jetstreamManager(nc);
    const infos = await jsm.consumers.list("HEALTH").next();
    const pending = infos.reduce((n, c) => n + c.num_ack_pending, 0);
    assert.ok(pending <= 2, `ack pending ${pending}`);
    await d.ack();
  }
  assert.deepEqual(got.map((d) => d.received.envelope.msg_id), sent.map((s) => s.envelope.msg_id), "exactly the recent ones, in order");
  assert.deepEqual(got.map((d) => d.received.payloads.map((p) => p.transport).join("+")), sent.map((s) => s.envelope.payloads.map((p) => p.transport).join("+")));
  assert.ok(got.some((d) => d.received.payloads.some((p) => p.transport === "link")));
  await assert.rejects(consumer.next(1500), (e: unknown) => e instanceof NatsBridgeError && e.code === "TIMEOUT");
  await consumer.close();
});

test("an envelope that can never be decoded is terminated and reported; the next one still comes", async () => {
  const js = (await import("@nats-io/jetstream")).jetstream(nc);
  await js.publish("health.bad", "not an envelope");
  const good = await publishToStream(nc, "health.bad", [["x", "ok", "text"]], { fileserverUrl: files.url });
  const consumer = await EnvelopeConsumer.create(nc, "HEALTH", { filterSubject: "health.bad", receive: { allowedHosts: [files.url] } });
  await assert.rejects(consumer.next(5000), (e: unknown) => e instanceof NatsBridgeError && e.code === "INVALID_ENVELOPE");
  const d = await consumer.next(5000);
  assert.equal(d.received.envelope.msg_id, good.envelope.msg_id);
  await d.ack();
  await consumer.close();
});

test("a durable consumer with a limit pulls no more than it hands over: its next run goes on at once", async () => {
  const subject = `health.limit.${newUuid().slice(0, 8)}`;
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push(await publishToStream(nc, subject, [["n", String(i), "text"]], { fileserverUrl: files.url }));
  const durable = `limit-${newUuid().slice(0, 8)}`;
  const jsm = await jetstreamManager(nc);
  const first = await EnvelopeConsumer.create(nc, "HEALTH", { durable, filterSubject: subject, limit: 2, batch: 16, ackWaitMs: 60_000 });
  const a = await first.next(5000);
  await a.ackConfirmed();
  // At most what is still to be handed over is pulled (here the one more the limit allows).
  assert.ok((await jsm.consumers.info("HEALTH", durable)).num_ack_pending <= 1);
  const b = await first.next(5000);
  await b.ackConfirmed();
  await assert.rejects(first.next(1000), (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && /limit of 2/.test(e.message));
  // Nothing pulled but unacknowledged: the other three were never delivered (with a batch of 16
  // and no limit they would be, and wait out ack_wait before the next run could have them).
  const info = await jsm.consumers.info("HEALTH", durable);
  assert.deepEqual([info.num_ack_pending, info.num_pending], [0, 3]);
  await first.close();

  // The next run, well within ack_wait: the third message at once, not after a redelivery.
  const second = await EnvelopeConsumer.create(nc, "HEALTH", { durable, filterSubject: subject, limit: 3, ackWaitMs: 60_000 });
  const started = Date.now();
  const rest = [];
  for (let i = 0; i < 3; i++) {
    const d = await second.next(5000);
    await d.ack();
    rest.push(d);
  }
  assert.ok(Date.now() - started < 5000, "no wait for ack_wait");
  assert.deepEqual([a, b, ...rest].map((d) => d.received.envelope.msg_id), sent.map((s) => s.envelope.msg_id), "each once, in order");
  await second.close();
  await assert.rejects(
    EnvelopeConsumer.create(nc, "HEALTH", { filterSubject: subject, limit: -1 }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && /`limit`/.test(e.message),
  );
});

test("ackConfirmed returns once the server recorded the ack; ack sends it without waiting; both fail typed on a closed connection", async () => {
  const subject = `health.confirm.${newUuid().slice(0, 8)}`;
  const sent = [];
  for (let i = 0; i < 3; i++) sent.push(await publishToStream(nc, subject, [["n", String(i), "text"]], { fileserverUrl: files.url }));
  const durable = `confirm-${newUuid().slice(0, 8)}`;
  const jsm = await jetstreamManager(nc);
  const own = await connect({ servers: nats.url });
  const consumer = await EnvelopeConsumer.create(own, "HEALTH", { durable, filterSubject: subject, limit: 3 });
  const first = await consumer.next(5000);
  await first.ackConfirmed();
  // Confirmed: the server's ack floor is already past it, with no wait and no retry.
  const info = await jsm.consumers.info("HEALTH", durable);
  assert.equal(info.ack_floor.stream_seq, first.seq);
  assert.equal(first.seq, sent[0]!.streamSequence);
  const second = await consumer.next(5000);
  const third = await consumer.next(5000);
  await own.close();
  for (const [d, settle] of [
    [second, () => second.ack()],
    [third, () => third.ackConfirmed()],
  ] as const) {
    await assert.rejects(settle(), (e: unknown) => {
      assert.ok(e instanceof NatsBridgeError, String(e));
      assert.equal(e.code, "NATS_CONNECTION_FAILED");
      assert.equal(e.correlationId, d.received.envelope.correlation_id);
      return true;
    });
  }
  await jsm.consumers.delete("HEALTH", durable);
});

test("a message redelivered after ack_wait is not handed over twice by the same consumer", async () => {
  const subject = `health.redeliver.${newUuid().slice(0, 8)}`;
  const sent = [];
  for (let i = 0; i < 2; i++) sent.push(await publishToStream(nc, subject, [["n", String(i), "text"]], { fileserverUrl: files.url }));
  const consumer = await EnvelopeConsumer.create(nc, "HEALTH", { filterSubject: subject, ackWaitMs: 300, batch: 1 });
  const first = await consumer.next(5000);
  // Not acked within ack_wait: the server delivers it again; the consumer acks that itself.
  await new Promise((r) => setTimeout(r, 900));
  const second = await consumer.next(5000);
  await second.ackConfirmed();
  assert.deepEqual([first.seq, second.seq], sent.map((s) => s.streamSequence));
  await assert.rejects(consumer.next(1500), (e: unknown) => e instanceof NatsBridgeError && e.code === "TIMEOUT");
  await consumer.close();
});
