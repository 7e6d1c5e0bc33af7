// Peer benchmark for the TypeScript runtime (packages/typescript/dist, the Node entry).
//
// The Rust harness (crates/natsbridge-bench) starts this as a subprocess and compares its
// figures with its own, case for case, to print Rust/TypeScript ratios:
//   --mode cpu     smartsend(publish: false) of a dictionary payload of --bytes bytes of
//                  JSON, then smartreceive of the envelope's JSON bytes; no network. After
//                  a warm-up of min(2000, N), each run times N sends, then N receives of
//                  the last envelope (as the harness's envelope_cpu does).
//   --mode pubsub  a publisher and a subscriber connection to --nats; N envelopes published
//                  without a flush each (one flush at the end), at most --window in flight,
//                  each decoded by smartreceive; first publish to last decode (as the
//                  harness's stream_once does). One unreported warm-up run of min(2000, N).
//   --mode floor   the Node format floor against the runtime, run for run in this process:
//                  the same stream as `pubsub`, but written plainly with nats.js (the same
//                  v1 JSON envelope made with JSON.stringify, Buffer base64 and node:crypto
//                  SHA-256; read with JSON.parse and the reader's checks written by hand).
//                  `baseline_msgs_per_sec` is the floor, `msgs_per_sec` the runtime.
//   --mode replay  a stream of N envelopes (published untimed through the runtime, acked),
//                  then run for run: a raw @nats-io/jetstream pull consumer (consume() with
//                  the library's defaults, ack() each) and the runtime's EnvelopeConsumer
//                  (its defaults; each envelope decoded, checked, ack() awaited) read all N
//                  from the start. `baseline_msgs_per_sec` is raw, `msgs_per_sec` the bridge.
// In floor and replay the baseline goes first in even runs and second in odd ones, so that
// neither always gets the warmer server. Prints exactly one JSON line on stdout; any
// mismatch or a 120 s timeout exits non-zero.
//
//   node bench/peers/node.mjs --mode cpu|pubsub|floor|replay --count N --runs R [--nats URL] [--bytes 1024] [--window 2048] [--bounds]
import { createHash, randomUUID } from "node:crypto";
import { isDeepStrictEqual, parseArgs } from "node:util";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect, headers as natsHeaders } from "@nats-io/transport-node";
import {
  DEFAULT_MSG_PURPOSE,
  HEADER_CORRELATION_ID,
  HEADER_MSG_ID,
  MAX_ENVELOPE_BYTES,
  MAX_PAYLOADS,
  MAX_PAYLOAD_SIZE,
  isKnownPayloadType,
} from "@natsbridge/types";

const { EnvelopeConsumer, connect, ensureStream, smartreceive, smartsend } = await import(
  new URL("../../packages/typescript/dist/node.js", import.meta.url).href
);

const { values: args } = parseArgs({
  options: {
    mode: { type: "string" },
    count: { type: "string" },
    runs: { type: "string" },
    nats: { type: "string", default: process.env.NATS_URL ?? "nats://127.0.0.1:4222" },
    bytes: { type: "string", default: "1024" },
    window: { type: "string", default: "2048" },
    // Diagnostics: what bounds the runtime, measured in the same runs (see the README).
    bounds: { type: "boolean", default: false },
  },
});
const count = Number(args.count);
const runs = Number(args.runs);
const bytes = Number(args.bytes);
const window = Number(args.window);
const MODES = ["cpu", "pubsub", "floor", "replay"];
if (!MODES.includes(args.mode) || ![count, runs, window].every((n) => Number.isInteger(n) && n > 0)) {
  fail("usage: node.mjs --mode cpu|pubsub|floor|replay --count N --runs R [--nats URL] [--bytes 1024] [--window 2048] [--bounds]");
}

function fail(message) {
  process.stderr.write(`node peer: ${message}\n`);
  process.exit(1);
}

const overhead = JSON.stringify({ config: "" }).length;
if (bytes < overhead) fail(`--bytes must be at least ${overhead}`);
const payload = { config: "x".repeat(bytes - overhead) };
const payloads = [["data", payload, "dictionary"]];
const receiveOptions = {};
const TIMEOUT_MS = 120_000;
let envelopeBytes = 0;

async function cpu() {
  const rates = [], sendUs = [], recvUs = [];
  for (let i = 0; i < Math.min(2000, count); i++) {
    const sent = await smartsend("bench.cpu", payloads, { publish: false });
    const got = await smartreceive(Buffer.from(sent.json), receiveOptions);
    if (i === 0 && !isDeepStrictEqual(got.payloads[0].data, payload)) fail("the decoded dictionary differs from the one sent");
  }
  for (let r = 0; r < runs; r++) {
    let json = "";
    let t = performance.now();
    for (let i = 0; i < count; i++) json = (await smartsend("bench.cpu", payloads, { publish: false })).json;
    const send = ((performance.now() - t) * 1e3) / count;
    const body = Buffer.from(json);
    envelopeBytes = body.byteLength;
    let got;
    t = performance.now();
    for (let i = 0; i < count; i++) got = await smartreceive(body, receiveOptions);
    const recv = ((performance.now() - t) * 1e3) / count;
    if (!isDeepStrictEqual(got.payloads[0].data, payload)) fail("the decoded dictionary differs from the one sent");
    sendUs.push(send);
    recvUs.push(recv);
    rates.push(1e6 / (send + recv));
  }
  return { msgs_per_sec: rates, send_us: sendUs, recv_us: recvUs };
}

// The format floor: what a nats.js program writing and reading the same v1 envelope by hand
// costs, with no NATSBridge code. The envelope has the fields smartsend writes, in its order.
const FLOOR_SENDER_ID = randomUUID();
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const TIMESTAMP_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Publishes one envelope of `value` (a dictionary) on `subject`, as a plain nats.js program would. */
function floorSend(nc, subject, value) {
  const bytes = Buffer.from(JSON.stringify(value));
  const correlationId = randomUUID();
  const msgId = randomUUID();
  const envelope = {
    correlation_id: correlationId,
    msg_id: msgId,
    timestamp: new Date().toISOString(),
    send_to: subject,
    msg_purpose: DEFAULT_MSG_PURPOSE,
    sender_name: "natsbridge-floor",
    sender_id: FLOOR_SENDER_ID,
    receiver_name: "",
    receiver_id: "",
    reply_to: "",
    reply_to_msg_id: "",
    broker_url: args.nats,
    metadata: {},
    payloads: [
      {
        id: randomUUID(),
        dataname: "data",
        payload_type: "dictionary",
        transport: "direct",
        encoding: "base64",
        size: bytes.byteLength,
        data: bytes.toString("base64"),
        metadata: { sha256: createHash("sha256").update(bytes).digest("hex") },
      },
    ],
  };
  const h = natsHeaders();
  h.set(HEADER_MSG_ID, msgId);
  h.set(HEADER_CORRELATION_ID, correlationId);
  nc.publish(subject, JSON.stringify(envelope), { headers: h });
}

function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The checks the runtime's reader makes, by hand: throws on the first that fails; the payload's bytes. */
function floorReceive(msg) {
  const body = msg.data;
  if (body.byteLength > MAX_ENVELOPE_BYTES) throw new Error("envelope too large");
  const e = JSON.parse(strictUtf8.decode(body));
  if (!isObject(e)) throw new Error("not an envelope");
  for (const k of ["correlation_id", "msg_id"]) if (typeof e[k] !== "string" || !UUID_RE.test(e[k])) throw new Error(`bad ${k}`);
  if (typeof e.timestamp !== "string" || !TIMESTAMP_RE.test(e.timestamp)) throw new Error("bad timestamp");
  for (const k of ["send_to", "msg_purpose", "sender_name"]) if (typeof e[k] !== "string" || e[k] === "") throw new Error(`bad ${k}`);
  for (const k of ["sender_id", "receiver_name", "receiver_id", "reply_to", "reply_to_msg_id"]) if (typeof e[k] !== "string") throw new Error(`bad ${k}`);
  if (e.broker_url !== undefined && typeof e.broker_url !== "string") throw new Error("bad broker_url");
  if (e.metadata !== undefined && !isObject(e.metadata)) throw new Error("bad metadata");
  if (!Array.isArray(e.payloads) || e.payloads.length > MAX_PAYLOADS) throw new Error("bad payloads");
  let bytes;
  for (const p of e.payloads) {
    if (!isObject(p) || typeof p.id !== "string" || !UUID_RE.test(p.id)) throw new Error("bad payload id");
    if (typeof p.dataname !== "string" || typeof p.encoding !== "string" || typeof p.data !== "string") throw new Error("bad payload field");
    if (typeof p.payload_type !== "string" || !isKnownPayloadType(p.payload_type)) throw new Error("bad payload_type");
    if (p.transport !== "direct") throw new Error("not a direct payload");
    if (!Number.isSafeInteger(p.size) || p.size < 0 || p.size > MAX_PAYLOAD_SIZE) throw new Error("bad size");
    if (p.metadata !== undefined && !isObject(p.metadata)) throw new Error("bad payload metadata");
    // Strict base64: the length the size implies, the alphabet, the decoded length, canonical.
    if (p.data.length !== Math.ceil(p.size / 3) * 4 || !BASE64_RE.test(p.data)) throw new Error("bad base64");
    bytes = Buffer.from(p.data, "base64");
    if (bytes.byteLength !== p.size) throw new Error("size mismatch");
    if (bytes.toString("base64") !== p.data) throw new Error("not canonical base64");
    const sha = p.metadata?.sha256;
    if (typeof sha === "string" && createHash("sha256").update(bytes).digest("hex") !== sha.toLowerCase()) throw new Error("sha256 mismatch");
    if (!isObject(JSON.parse(strictUtf8.decode(bytes)))) throw new Error("the dictionary is no object");
  }
  return bytes;
}

/**
 * One publish → subscribe run of `n` messages on a fresh subject, through the runtime or (with
 * `floor`) the plain nats.js floor, which with `awaitEach` awaits after each publish (as a
 * caller of an async send must); messages per second.
 */
async function streamOnce(n, floor = false, awaitEach = false) {
  const open = floor ? natsConnect : connect;
  const publisher = await open({ servers: args.nats });
  const subscriber = await open({ servers: args.nats });
  try {
    const subject = `bench.peer.node.${process.hrtime.bigint().toString(16)}`;
    const sub = subscriber.subscribe(subject);
    await subscriber.flush(); // nats.js writes SUB before the PING: the PONG proves it registered
    let credits = window;
    let wake = null; // the publisher, waiting for a credit
    let got = 0;
    const consumer = (async () => {
      let total = 0;
      for await (const msg of sub) {
        if (got === 0) envelopeBytes = msg.data.byteLength;
        total += floor ? floorReceive(msg).byteLength : (await smartreceive(msg, receiveOptions)).payloads[0].bytes.byteLength;
        credits++;
        if (wake !== null) { const w = wake; wake = null; w(); }
        if (++got === n) break;
      }
      return total;
    })();
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the subscriber got ${got} of ${n} messages within 120 s`)), TIMEOUT_MS);
    });
    const started = performance.now();
    const publish = (async () => {
      for (let i = 0; i < n; i++) {
        while (credits === 0) await new Promise((resolve) => (wake = resolve));
        credits--;
        if (floor) {
          floorSend(publisher, subject, payload);
          if (awaitEach) await undefined;
        } else await smartsend(subject, payloads, { connection: publisher, flush: false });
      }
      await publisher.flush();
    })();
    const [, received] = await Promise.race([Promise.all([publish, consumer]), timeout]).finally(() => clearTimeout(timer));
    const secs = (performance.now() - started) / 1e3;
    if (received !== n * bytes) fail(`received ${received} payload bytes, expected ${n * bytes}`);
    return n / secs;
  } finally {
    await publisher.close();
    await subscriber.close();
  }
}

async function pubsub() {
  await streamOnce(Math.min(2000, count)); // warm-up: JIT, connections, allocator
  const rates = [];
  for (let r = 0; r < runs; r++) rates.push(await streamOnce(count));
  return { msgs_per_sec: rates };
}

async function floor() {
  await streamOnce(Math.min(2000, count), true); // warm-up of both
  await streamOnce(Math.min(2000, count));
  const baseline = [], rates = [], awaited = [];
  for (let r = 0; r < runs; r++) {
    if (r % 2 === 0) {
      baseline.push(await streamOnce(count, true));
      rates.push(await streamOnce(count));
    } else {
      rates.push(await streamOnce(count));
      baseline.push(await streamOnce(count, true));
    }
    if (args.bounds) awaited.push(await streamOnce(count, true, true));
  }
  return { baseline_msgs_per_sec: baseline, msgs_per_sec: rates, ...(args.bounds ? { floor_await_msgs_per_sec: awaited } : {}) };
}

/** Rejects after TIMEOUT_MS unless `work` settles first. */
async function timed(work, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within 120 s`)), TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A raw nats.js replay: an ephemeral explicit-ack pull consumer, consume() with its defaults,
 * ack() each; with `decode`, each message decoded by smartreceive first (the bound: the
 * runtime's decode without its consumer).
 */
async function rawReplay(nc, stream, n, decode = false) {
  const started = performance.now();
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.add(stream, { ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
  const consumer = await jetstream(nc).consumers.get(stream, info.name);
  const messages = await consumer.consume();
  let got = 0;
  await timed(
    (async () => {
      for await (const m of messages) {
        if (m.data.byteLength === 0) fail("an empty message in the stream");
        if (decode && (await smartreceive(m, receiveOptions)).payloads[0].data.config !== payload.config) fail("the replayed dictionary differs from the one sent");
        m.ack();
        if (++got === n) break;
      }
    })(),
    `the raw consumer (${got} of ${n})`,
  );
  const secs = (performance.now() - started) / 1e3;
  messages.stop();
  await jsm.consumers.delete(stream, info.name).catch(() => {});
  return n / secs;
}

/** The runtime's replay: EnvelopeConsumer with its defaults, each envelope decoded, checked and acked. */
async function bridgeReplay(nc, stream, n) {
  const started = performance.now();
  const consumer = await EnvelopeConsumer.create(nc, stream);
  try {
    await timed(
      (async () => {
        for (let i = 0; i < n; i++) {
          const d = await consumer.next();
          if (d.received.payloads[0].data.config !== payload.config) fail("the replayed dictionary differs from the one sent");
          await d.ack();
        }
      })(),
      "the EnvelopeConsumer",
    );
    return n / ((performance.now() - started) / 1e3);
  } finally {
    await consumer.close();
  }
}

async function replay() {
  const nc = await connect({ servers: args.nats });
  const id = `${process.pid}_${process.hrtime.bigint().toString(16)}`;
  const stream = `BENCH_REPLAY_NODE_${id}`;
  const subject = `bench.replay.node.${id}`;
  try {
    await ensureStream(nc, { name: stream, subjects: [subject], maxAgeMs: 3_600_000 });
    const js = jetstream(nc);
    // Filled untimed, 256 acked publishes in flight.
    for (let i = 0; i < count; i += 256) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 256); j++) batch.push(smartsend(subject, payloads, { connection: nc, jetstream: js }));
      const sent = await Promise.all(batch);
      if (i === 0) envelopeBytes = Buffer.byteLength(sent[0].json);
    }
    const baseline = [], rates = [], decoded = [];
    for (let r = 0; r < runs; r++) {
      if (r % 2 === 0) {
        baseline.push(await rawReplay(nc, stream, count));
        rates.push(await bridgeReplay(nc, stream, count));
      } else {
        rates.push(await bridgeReplay(nc, stream, count));
        baseline.push(await rawReplay(nc, stream, count));
      }
      if (args.bounds) decoded.push(await rawReplay(nc, stream, count, true));
    }
    return { baseline_msgs_per_sec: baseline, msgs_per_sec: rates, ...(args.bounds ? { raw_decode_msgs_per_sec: decoded } : {}) };
  } finally {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
    await nc.close();
  }
}

try {
  const figures = await { cpu, pubsub, floor, replay }[args.mode]();
  const line = { runtime: "typescript", mode: args.mode, bytes, envelope_bytes: envelopeBytes, count, runs, ...figures };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} catch (e) {
  fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
}
