/**
 * Several messages on one channel (src/typed.ts `unionCodec`, `Variant`): a union codec
 * dispatched by the payload's `dataname`, in memory and through `typed.publish` /
 * `typed.subscribe` on a real nats-server; its errors (an unknown variant on send, no
 * matching payload on receipt, duplicate names); and `tokenOf`, a channel parameter
 * restricted to an enum.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ERROR_BAD_BYTES, ERROR_BAD_OPTION, ERROR_UNKNOWN_PAYLOAD_TYPE, ERROR_WRITER_RULE } from "@natsbridge/types";
import {
  Bridge,
  NatsBridgeError,
  connect,
  newUuid,
  smartreceive,
  smartsend,
  typed,
  type MessageCodec,
  type Received,
  type Variant,
} from "../dist/node.js";
import { reader, startNats, type Running } from "./helpers.ts";

// What a generated package writes for a channel with the messages `lightMeasured` and `turnOn`.
interface LightMeasured {
  lumens: number;
}
interface TurnOn {
  reason?: string;
}
type StreetlightMessage = Variant<"lightMeasured", LightMeasured> | Variant<"turnOn", TurnOn>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const validateLightMeasured: typed.Validator<LightMeasured> = (value) =>
  isObject(value) && typeof value["lumens"] === "number" && value["lumens"] >= 0
    ? { ok: true, value: value as unknown as LightMeasured }
    : { ok: false, issues: [{ path: "/lumens", message: "must be a number of 0 or more" }] };

const validateTurnOn: typed.Validator<TurnOn> = (value) =>
  isObject(value) && (value["reason"] === undefined || typeof value["reason"] === "string")
    ? { ok: true, value: value as TurnOn }
    : { ok: false, issues: [{ path: "/reason", message: "must be a string" }] };

const LIGHT_MEASURED_CODEC: MessageCodec<LightMeasured> = typed.jsonCodec("lightMeasured", validateLightMeasured);
const TURN_ON_CODEC: MessageCodec<TurnOn> = typed.jsonCodec("turnOn", validateTurnOn);
const STREETLIGHT_MESSAGE_CODEC: MessageCodec<StreetlightMessage> = typed.unionCodec<StreetlightMessage>([LIGHT_MEASURED_CODEC, TURN_ON_CODEC]);

/** A `text` message, to mix payload types in one union. */
const NOTE_CODEC: MessageCodec<string> = {
  name: "note",
  payloadType: "text",
  encode: (message) => ({ payload: ["note", message, "text"], headers: {} }),
  decode: (received) => typed.payloadOf(received, "note", "text"),
};

/** The envelope `payloads` would travel in, decoded again (no server). */
async function receivedOf(payloads: Parameters<typeof smartsend>[1], correlationId = newUuid()): Promise<Received> {
  const sent = await smartsend("streetlight.in.memory", payloads, { publish: false, correlationId });
  return smartreceive(sent.json);
}

async function roundTrip(message: StreetlightMessage): Promise<StreetlightMessage> {
  const encoded = STREETLIGHT_MESSAGE_CODEC.encode(message);
  return STREETLIGHT_MESSAGE_CODEC.decode(await receivedOf([encoded.payload]));
}

function bridgeError(code: string, pattern: RegExp, extra: (e: NatsBridgeError) => boolean = () => true) {
  return (e: unknown) => {
    assert.ok(e instanceof NatsBridgeError, `expected a NatsBridgeError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return extra(e);
  };
}

test("unionCodec: name and payload type; each variant round-trips in memory as its own payload", async () => {
  assert.equal(STREETLIGHT_MESSAGE_CODEC.name, "lightMeasured | turnOn");
  assert.equal(STREETLIGHT_MESSAGE_CODEC.payloadType, "dictionary");
  // Mixed payload types: the first variant's (used only in messages).
  assert.equal(typed.unionCodec([NOTE_CODEC, LIGHT_MEASURED_CODEC]).payloadType, "text");
  assert.equal(typed.unionCodec([LIGHT_MEASURED_CODEC, NOTE_CODEC]).payloadType, "dictionary");

  const light: StreetlightMessage = { name: "lightMeasured", value: { lumens: 120 } };
  const encoded = STREETLIGHT_MESSAGE_CODEC.encode(light);
  assert.deepEqual(encoded.payload, ["lightMeasured", { lumens: 120 }, "dictionary"]);
  assert.deepEqual(encoded.headers, {});
  assert.deepEqual(await roundTrip(light), light);

  const on: StreetlightMessage = { name: "turnOn", value: { reason: "dusk" } };
  assert.deepEqual(STREETLIGHT_MESSAGE_CODEC.encode(on).payload, ["turnOn", { reason: "dusk" }, "dictionary"]);
  const back: StreetlightMessage = await roundTrip(on);
  // The result narrows on `name`.
  switch (back.name) {
    case "turnOn":
      assert.equal(back.value.reason, "dusk");
      break;
    case "lightMeasured":
      assert.fail(`expected turnOn, got lightMeasured ${back.value.lumens}`);
  }
  assert.deepEqual(back, on);

  // Mixed payload types decode each as its own.
  const mixed = typed.unionCodec<Variant<"note", string> | Variant<"lightMeasured", LightMeasured>>([NOTE_CODEC, LIGHT_MEASURED_CODEC]);
  assert.deepEqual(mixed.decode(await receivedOf([["note", "hello", "text"]])), { name: "note", value: "hello" });
  assert.deepEqual(mixed.decode(await receivedOf([["lightMeasured", { lumens: 3 }, "dictionary"]])), { name: "lightMeasured", value: { lumens: 3 } });
});

test("unionCodec decode: the first codec, in the given order, with a payload in the envelope", async () => {
  const received = await receivedOf([
    ["other", 1, "dictionary"],
    ["turnOn", {}, "dictionary"],
    ["lightMeasured", { lumens: 7 }, "dictionary"],
  ]);
  assert.deepEqual(STREETLIGHT_MESSAGE_CODEC.decode(received), { name: "lightMeasured", value: { lumens: 7 } });
  const reversed = typed.unionCodec<StreetlightMessage>([TURN_ON_CODEC, LIGHT_MEASURED_CODEC]);
  assert.deepEqual(reversed.decode(received), { name: "turnOn", value: {} });
});

test("unionCodec decode: no variant's payload is INVALID_PAYLOAD_TYPE naming them and what came; a variant's own error passes unchanged", async () => {
  const cid = newUuid();
  const received = await receivedOf([["x", { lumens: 1 }, "dictionary"]], cid);
  assert.throws(
    () => STREETLIGHT_MESSAGE_CODEC.decode(received),
    bridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, /^the envelope has none of the payloads `lightMeasured`, `turnOn` \(payloads: `x` \(dictionary\)\)$/u, (e) => {
      assert.equal(e.correlationId, cid);
      assert.equal(e.dataname, "lightMeasured | turnOn");
      return true;
    }),
  );
  // A variant's schema refuses the value: its DESERIALIZATION_ERROR, its dataname.
  const refused = await receivedOf([["lightMeasured", { lumens: -1 }, "dictionary"]]);
  const wrongType = await receivedOf([["turnOn", "now", "text"]]);
  assert.throws(
    () => STREETLIGHT_MESSAGE_CODEC.decode(refused),
    bridgeError(ERROR_BAD_BYTES, /lumens/u, (e) => e.dataname === "lightMeasured"),
  );
  // The right name with another payload type: the variant's INVALID_PAYLOAD_TYPE.
  assert.throws(
    () => STREETLIGHT_MESSAGE_CODEC.decode(wrongType),
    bridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, /no dictionary payload named `turnOn`/u, (e) => e.dataname === "turnOn"),
  );
  assert.throws(() => STREETLIGHT_MESSAGE_CODEC.decode({} as Received), bridgeError(ERROR_BAD_OPTION, /received/u));
});

test("unionCodec encode: a value that is not { name, value } or names no variant is SERIALIZATION_ERROR naming the names", () => {
  assert.throws(
    () => STREETLIGHT_MESSAGE_CODEC.encode({ name: "turnOff", value: {} } as unknown as StreetlightMessage),
    bridgeError(ERROR_WRITER_RULE, /`turnOff` is not one of `lightMeasured`, `turnOn`/u),
  );
  for (const bad of [null, "turnOn", { value: {} }, { name: "turnOn" }, { name: 3, value: {} }]) {
    assert.throws(() => STREETLIGHT_MESSAGE_CODEC.encode(bad as unknown as StreetlightMessage), bridgeError(ERROR_WRITER_RULE, /`lightMeasured`, `turnOn`/u), JSON.stringify(bad));
  }
  // The variant's own refusal, unchanged.
  assert.throws(
    () => STREETLIGHT_MESSAGE_CODEC.encode({ name: "lightMeasured", value: { lumens: -2 } }),
    bridgeError(ERROR_WRITER_RULE, /not a valid `lightMeasured`/u, (e) => e.dataname === "lightMeasured"),
  );
});

test("unionCodec refuses no codecs, non-codecs and duplicate names (INVALID_ARGUMENT)", () => {
  assert.throws(() => typed.unionCodec([]), bridgeError(ERROR_BAD_OPTION, /at least one message codec/u));
  assert.throws(() => typed.unionCodec(LIGHT_MEASURED_CODEC as never), bridgeError(ERROR_BAD_OPTION, /`codecs`/u));
  assert.throws(() => typed.unionCodec([LIGHT_MEASURED_CODEC, { name: "x" } as never]), bridgeError(ERROR_BAD_OPTION, /`codecs\[1\]` must be a message codec/u));
  assert.throws(
    () => typed.unionCodec([LIGHT_MEASURED_CODEC, TURN_ON_CODEC, typed.jsonCodec("turnOn", validateTurnOn)]),
    bridgeError(ERROR_BAD_OPTION, /two codecs are named `turnOn`/u),
  );
});

test("tokenOf: a value of the enum; token's checks first; `*` only with wildcardOk", () => {
  const allowed = ["red", "green"] as const;
  assert.equal(typed.tokenOf("color", "red", allowed), "red");
  assert.equal(typed.tokenOf("color", "green", allowed, false), "green");
  assert.throws(() => typed.tokenOf("color", "blue", allowed), bridgeError(ERROR_BAD_OPTION, /^parameter `color`: `blue` is not one of `red`, `green`$/u));
  // What `token` refuses, with token's own error.
  for (const value of ["a.b", "", ">", "two words"]) {
    let tokenError: NatsBridgeError | undefined;
    try {
      typed.token("color", value);
    } catch (e) {
      tokenError = e as NatsBridgeError;
    }
    assert.ok(tokenError !== undefined);
    assert.throws(() => typed.tokenOf("color", value, [...allowed, value]), (e: unknown) => e instanceof NatsBridgeError && e.code === tokenError.code && e.message === tokenError.message);
  }
  assert.throws(() => typed.tokenOf("color", "*", allowed), bridgeError(ERROR_BAD_OPTION, /one subject token/u));
  assert.equal(typed.tokenOf("color", "*", allowed, true), "*");
  assert.throws(() => typed.tokenOf("color", "blue", allowed, true), bridgeError(ERROR_BAD_OPTION, /`blue` is not one of/u));
  assert.throws(() => typed.tokenOf("color", "red", "red" as never), bridgeError(ERROR_BAD_OPTION, /`allowed`/u));
  assert.throws(() => typed.tokenOf("color", "red", allowed, "yes" as never), bridgeError(ERROR_BAD_OPTION, /`wildcardOk`/u));
});

// ---- on a real nats-server ----

let nats: Running;
let nc: Awaited<ReturnType<typeof connect>>;
let bridge: Bridge;

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  bridge = new Bridge(nc, { timeoutMs: 5_000, send: { senderName: "typed-union-test" } });
});

after(async () => {
  await nc?.close();
  await nats?.stop();
});


test("typed.publish / typed.subscribe with a union codec: one subscription hands each message its own type", async () => {
  const subject = `streetlight.${typed.tokenOf("lamp", "lamp1", ["lamp1", "lamp2"])}.events`;
  const sub = await typed.subscribe(bridge, `streetlight.${typed.tokenOf("lamp", "*", ["lamp1", "lamp2"], true)}.events`, STREETLIGHT_MESSAGE_CODEC);
  const next = reader(sub);
  try {
    const cid = newUuid();
    await typed.publish(bridge, subject, STREETLIGHT_MESSAGE_CODEC, { name: "lightMeasured", value: { lumens: 42 } }, "event", { correlationId: cid });
    await typed.publish(bridge, subject, STREETLIGHT_MESSAGE_CODEC, { name: "turnOn", value: {} });
    // A message of neither kind, from plain smartsend: an error, and the subscription goes on.
    const badCid = newUuid();
    await smartsend(subject, [["turnOff", {}, "dictionary"]], { connection: nc, correlationId: badCid });
    await smartsend(subject, [["turnOn", { reason: "plain" }, "dictionary"]], { connection: nc });

    const first = await next();
    assert.ok(!(first instanceof NatsBridgeError), String(first));
    assert.deepEqual(first.message, { name: "lightMeasured", value: { lumens: 42 } });
    assert.equal(first.correlationId, cid);
    assert.equal(first.subject, subject);
    assert.deepEqual(
      first.received.payloads.map((p) => [p.dataname, p.payload_type]),
      [["lightMeasured", "dictionary"]],
    );
    const second = await next();
    assert.ok(!(second instanceof NatsBridgeError), String(second));
    assert.deepEqual(second.message, { name: "turnOn", value: {} });
    const third = await next();
    assert.ok(third instanceof NatsBridgeError, "expected an error");
    assert.equal(third.code, ERROR_UNKNOWN_PAYLOAD_TYPE);
    assert.equal(third.correlationId, badCid);
    assert.match(third.message, /none of the payloads `lightMeasured`, `turnOn` \(payloads: `turnOff` \(dictionary\)\)/u);
    const fourth = await next();
    assert.ok(!(fourth instanceof NatsBridgeError), String(fourth));
    assert.deepEqual(fourth.message, { name: "turnOn", value: { reason: "plain" } });
  } finally {
    sub.unsubscribe();
  }
});

test("typed.publish of a value naming no variant is SERIALIZATION_ERROR, nothing published", async () => {
  const subject = "streetlight.lamp2.events";
  const sub = await typed.subscribe(bridge, subject, STREETLIGHT_MESSAGE_CODEC);
  const next = reader(sub, 500);
  try {
    const cid = newUuid();
    await assert.rejects(
      typed.publish(bridge, subject, STREETLIGHT_MESSAGE_CODEC, { name: "turnOff", value: {} } as unknown as StreetlightMessage, "event", { correlationId: cid }),
      bridgeError(ERROR_WRITER_RULE, /`turnOff` is not one of `lightMeasured`, `turnOn`/u, (e) => e.correlationId === cid),
    );
    await assert.rejects(
      typed.publish(bridge, subject, STREETLIGHT_MESSAGE_CODEC, { name: "lightMeasured", value: { lumens: -1 } }),
      bridgeError(ERROR_WRITER_RULE, /lumens/u, (e) => e.dataname === "lightMeasured"),
    );
    await assert.rejects(next(), /nothing from/u);
  } finally {
    sub.unsubscribe();
  }
});
