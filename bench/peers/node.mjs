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
// Prints exactly one JSON line on stdout; any mismatch or a 120 s timeout exits non-zero.
//
//   node bench/peers/node.mjs --mode cpu|pubsub --count N --runs R [--nats URL] [--bytes 1024] [--window 2048]
import { isDeepStrictEqual, parseArgs } from "node:util";

const { connect, smartreceive, smartsend } = await import(new URL("../../packages/typescript/dist/node.js", import.meta.url).href);

const { values: args } = parseArgs({
  options: {
    mode: { type: "string" },
    count: { type: "string" },
    runs: { type: "string" },
    nats: { type: "string", default: process.env.NATS_URL ?? "nats://127.0.0.1:4222" },
    bytes: { type: "string", default: "1024" },
    window: { type: "string", default: "2048" },
  },
});
const count = Number(args.count);
const runs = Number(args.runs);
const bytes = Number(args.bytes);
const window = Number(args.window);
if (!["cpu", "pubsub"].includes(args.mode) || ![count, runs, window].every((n) => Number.isInteger(n) && n > 0)) {
  fail("usage: node.mjs --mode cpu|pubsub --count N --runs R [--nats URL] [--bytes 1024] [--window 2048]");
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

/** One publish → subscribe run of `n` messages on a fresh subject; messages per second. */
async function streamOnce(n) {
  const publisher = await connect({ servers: args.nats });
  const subscriber = await connect({ servers: args.nats });
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
        total += (await smartreceive(msg, receiveOptions)).payloads[0].bytes.byteLength;
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
        await smartsend(subject, payloads, { connection: publisher, flush: false });
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

try {
  const figures = args.mode === "cpu" ? await cpu() : await pubsub();
  const line = { runtime: "typescript", mode: args.mode, bytes, envelope_bytes: envelopeBytes, count, runs, ...figures };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} catch (e) {
  fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
}
