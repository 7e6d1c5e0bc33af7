/**
 * AsyncAPI `correlationId` in typed sends (src/typed.ts `Encoded.correlationId` /
 * `Encoded.correlationHeader`), against a real nats-server: a message whose correlation id
 * travels in a NATS header (`$message.header#/X-Corr`), one whose payload holds its own
 * (`$message.payload#/id`), the caller's `correlationId` winning over both, a payload id that
 * is no UUID failing as a bad `correlationId` option does, request/reply (the reply's header
 * carries the request's id), JetStream, and the union codec keeping both fields.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Bridge, NatsBridgeError, connect, ensureStream, newUuid, typed, type Incoming, type MessageCodec, type Received, type Subscription, type Variant } from "../dist/node.js";
import { reader, startNats, type Running } from "./helpers.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/iu;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// What a generated package writes for `correlationId: { location: "$message.header#/X-Corr" }`:
// the message also declares `X-Corr` as a header (the id set by the send wins over it).
interface Ping {
  n: number;
}
const validatePing: typed.Validator<Ping> = (value) =>
  isObject(value) && typeof value["n"] === "number" ? { ok: true, value: value as unknown as Ping } : { ok: false, issues: [{ path: "/n", message: "must be a number" }] };
const PING_JSON = typed.jsonCodec("ping", validatePing);
const PING_CODEC: MessageCodec<Ping> = {
  name: "ping",
  payloadType: "dictionary",
  encode: (message) => ({ ...PING_JSON.encode(message), headers: { "X-Corr": "declared-by-the-message", "x-corr": "lower", Other: "kept" }, correlationHeader: "X-Corr" }),
  decode: (received) => PING_JSON.decode(received),
};

// What a generated package writes for `correlationId: { location: "$message.payload#/id" }`.
interface Order {
  id: string;
  item: string;
}
const validateOrder: typed.Validator<Order> = (value) =>
  isObject(value) && typeof value["id"] === "string" && typeof value["item"] === "string"
    ? { ok: true, value: value as unknown as Order }
    : { ok: false, issues: [{ path: "/", message: "must be { id, item }" }] };
const ORDER_JSON = typed.jsonCodec("order", validateOrder);
const ORDER_CODEC: MessageCodec<Order> = {
  name: "order",
  payloadType: "dictionary",
  encode: (message) => ({ ...ORDER_JSON.encode(message), correlationId: message.id }),
  decode: (received) => ORDER_JSON.decode(received),
};

let nats: Running;
let nc: Awaited<ReturnType<typeof connect>>;
let bridge: Bridge;

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  bridge = new Bridge(nc, { timeoutMs: 5_000, send: { senderName: "typed-correlation-test" } });
});

after(async () => {
  await nc?.close();
  await nats?.stop();
});

/** Reads `sub` one message at a time; a bad message fails the test. */
function messages<M>(sub: Subscription<M>): () => Promise<Incoming<M>> {
  const next = reader(sub);
  return async () => {
    const item = await next();
    if (item instanceof NatsBridgeError) throw item;
    return item;
  };
}

/** The headers of `received` named `name`, whatever their case. */
function headersNamed(received: Received, name: string): string[] {
  return Object.entries(received.headers)
    .filter(([k]) => k.toLowerCase() === name.toLowerCase())
    .map(([, v]) => v);
}

/** The error `send` rejects with. */
async function failure(send: Promise<unknown>): Promise<NatsBridgeError> {
  try {
    await send;
  } catch (e) {
    assert.ok(e instanceof NatsBridgeError, `expected a NatsBridgeError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the send to fail");
}

test("correlationHeader: the header carries the envelope's correlation id (a new one, or the caller's), over a declared header of that name", async () => {
  const sub = await typed.subscribe(bridge, "corr.ping", PING_CODEC);
  const next = messages(sub);
  try {
    await typed.publish(bridge, "corr.ping", PING_CODEC, { n: 1 });
    const first = await next();
    assert.match(first.correlationId, UUID);
    assert.equal(first.received.envelope.correlation_id, first.correlationId);
    assert.deepEqual(headersNamed(first.received, "X-Corr"), [first.correlationId]);
    assert.equal(first.received.headers["Other"], "kept");
    assert.deepEqual(first.message, { n: 1 });

    const override = newUuid();
    await typed.publish(bridge, "corr.ping", PING_CODEC, { n: 2 }, "event", { correlationId: override });
    const second = await next();
    assert.equal(second.received.envelope.correlation_id, override);
    assert.deepEqual(headersNamed(second.received, "X-Corr"), [override]);

    // Two sends without an override: two different ids.
    await typed.publish(bridge, "corr.ping", PING_CODEC, { n: 3 });
    const third = await next();
    assert.notEqual(third.correlationId, first.correlationId);
    assert.deepEqual(headersNamed(third.received, "X-Corr"), [third.correlationId]);
  } finally {
    sub.unsubscribe();
  }
});

test("correlationId from the payload: the envelope carries it; the caller's correlationId wins; a non-UUID fails as a bad correlationId option", async () => {
  const sub = await typed.subscribe(bridge, "corr.order", ORDER_CODEC);
  const next = messages(sub);
  try {
    const own = newUuid();
    await typed.publish(bridge, "corr.order", ORDER_CODEC, { id: own, item: "tea" });
    const first = await next();
    assert.equal(first.correlationId, own);
    assert.equal(first.received.envelope.correlation_id, own);
    assert.deepEqual(first.message, { id: own, item: "tea" });

    const override = newUuid();
    await typed.publish(bridge, "corr.order", ORDER_CODEC, { id: newUuid(), item: "cake" }, "event", { correlationId: override });
    const second = await next();
    assert.equal(second.received.envelope.correlation_id, override);

    // A payload id that is no UUID: the error a bad `correlationId` option gives, nothing published.
    const badOption = await failure(typed.publish(bridge, "corr.order", ORDER_CODEC, { id: newUuid(), item: "x" }, "event", { correlationId: "order-17" }));
    const badPayload = await failure(typed.publish(bridge, "corr.order", ORDER_CODEC, { id: "order-17", item: "x" }));
    assert.equal(badPayload.code, badOption.code);
    assert.equal(badPayload.message, badOption.message);
    const badRequestOption = await failure(typed.request(bridge, "corr.nobody", ORDER_CODEC, ORDER_CODEC, { id: newUuid(), item: "x" }, "command", { correlationId: "order-17" }));
    const badRequestPayload = await failure(typed.request(bridge, "corr.nobody", ORDER_CODEC, ORDER_CODEC, { id: "order-17", item: "x" }));
    assert.equal(badRequestPayload.code, badRequestOption.code);
    assert.equal(badRequestPayload.message, badRequestOption.message);
    // A valid caller id wins over a bad payload id.
    const rescued = newUuid();
    await typed.publish(bridge, "corr.order", ORDER_CODEC, { id: "order-17", item: "pie" }, "event", { correlationId: rescued });
    const third = await next();
    assert.equal(third.correlationId, rescued);
    assert.deepEqual(third.message, { id: "order-17", item: "pie" });
  } finally {
    sub.unsubscribe();
  }
});

test("request / reply: the reply's correlation header carries the request's id, whatever the reply's payload id", async () => {
  // The reply is a `ping` (id in X-Corr); the request an `order` (id in its payload).
  const server = await typed.subscribe(bridge, "corr.serve", ORDER_CODEC);
  const nextRequest = messages(server);
  const serving = (async () => {
    for (let i = 0; i < 2; i++) {
      const req = await nextRequest();
      await typed.reply(bridge, req, PING_CODEC, { n: i });
    }
  })();
  try {
    const own = newUuid();
    const answer = await typed.request(bridge, "corr.serve", ORDER_CODEC, PING_CODEC, { id: own, item: "tea" });
    assert.equal(answer.correlationId, own);
    assert.deepEqual(headersNamed(answer.received, "X-Corr"), [own]);
    assert.deepEqual(answer.message, { n: 0 });

    const override = newUuid();
    const second = await typed.request(bridge, "corr.serve", ORDER_CODEC, PING_CODEC, { id: newUuid(), item: "tea" }, "command", { correlationId: override });
    assert.equal(second.correlationId, override);
    assert.deepEqual(headersNamed(second.received, "X-Corr"), [override]);
    await serving;
  } finally {
    server.unsubscribe();
  }

  // A reply whose own payload holds another id still carries the request's; a request with a correlation header has it set.
  const orders = await typed.subscribe(bridge, "corr.serve2", PING_CODEC);
  const nextPing = messages(orders);
  const serving2 = (async () => {
    const req = await nextPing();
    assert.deepEqual(headersNamed(req.received, "X-Corr"), [req.correlationId]);
    await typed.reply(bridge, req, ORDER_CODEC, { id: newUuid(), item: "reply" });
  })();
  try {
    const cid = newUuid();
    const answer = await typed.request(bridge, "corr.serve2", PING_CODEC, ORDER_CODEC, { n: 9 }, "command", { correlationId: cid });
    assert.equal(answer.correlationId, cid);
    await serving2;
  } finally {
    orders.unsubscribe();
  }
});

test("publishToStream: the correlation header and the payload's id reach the stream", async () => {
  await ensureStream(nc, { name: "CORR", subjects: ["corr.stream.>"], maxAgeMs: 3_600_000 });
  const own = newUuid();
  await typed.publishToStream(bridge, "corr.stream.order", ORDER_CODEC, { id: own, item: "tea" });
  await typed.publishToStream(bridge, "corr.stream.ping", PING_CODEC, { n: 5 });
  const orders = await typed.replay(bridge, "CORR", ORDER_CODEC, { filterSubject: "corr.stream.order" });
  const pings = await typed.replay(bridge, "CORR", PING_CODEC, { filterSubject: "corr.stream.ping" });
  try {
    const order = await orders.next(5_000);
    assert.equal(order.correlationId, own);
    await order.ack();
    const ping = await pings.next(5_000);
    assert.match(ping.correlationId, UUID);
    assert.deepEqual(headersNamed(ping.received, "X-Corr"), [ping.correlationId]);
    await ping.ack();
  } finally {
    await orders.close();
    await pings.close();
  }
});

test("unionCodec passes a variant's correlationId and correlationHeader through unchanged", async () => {
  const union = typed.unionCodec<Variant<"ping", Ping> | Variant<"order", Order>>([PING_CODEC, ORDER_CODEC]);
  const id = newUuid();
  const order: typed.Encoded = union.encode({ name: "order", value: { id, item: "tea" } });
  assert.deepEqual(order, ORDER_CODEC.encode({ id, item: "tea" }));
  assert.equal(order.correlationId, id);
  const ping: typed.Encoded = union.encode({ name: "ping", value: { n: 1 } });
  assert.deepEqual(ping, PING_CODEC.encode({ n: 1 }));
  assert.equal(ping.correlationHeader, "X-Corr");

  const sub = await typed.subscribe(bridge, "corr.union", union);
  const next = messages(sub);
  try {
    await typed.publish(bridge, "corr.union", union, { name: "order", value: { id, item: "tea" } });
    const first = await next();
    assert.equal(first.correlationId, id);
    await typed.publish(bridge, "corr.union", union, { name: "ping", value: { n: 2 } });
    const second = await next();
    assert.deepEqual(headersNamed(second.received, "X-Corr"), [second.correlationId]);
  } finally {
    sub.unsubscribe();
  }
});
