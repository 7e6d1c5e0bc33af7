/**
 * Loud argument checks (D4): bad values of every type (undefined, null, a number, NaN, a
 * string, a boolean, an array, an object, a function, a Symbol) at every parameter of every
 * public function. Each call must fail with a NatsBridgeError with a code (INVALID_ARGUMENT,
 * `ERROR_BAD_OPTION`, unless the value breaks a writer rule instead), never a raw TypeError, and
 * never hang. A value a parameter takes (a string where any string goes, `undefined` for
 * options) is not thrown at it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ENV_HOME, ERROR_BAD_OPTION, ERROR_WRITER_RULE, isKnownErrorCode } from "@natsbridge/types";
import * as client from "../dist/node.js";
import { startNats, type Running } from "./helpers.ts";

const { ApplicationError, Bridge, EnvelopeConsumer, NatsBridgeError, typed } = client;

type Label = "undefined" | "null" | "number" | "NaN" | "string" | "boolean" | "array" | "object" | "function" | "symbol";
const BAD: [Label, unknown][] = [
  ["undefined", undefined],
  ["null", null],
  ["number", 42],
  ["NaN", Number.NaN],
  ["string", "text"],
  ["boolean", true],
  ["array", [1, 2]],
  ["object", { bogus: 1 }],
  ["function", () => {}],
  ["symbol", Symbol("s")],
];
const ANY: Label[] = BAD.map(([l]) => l);

/** One public function: how to call it, valid arguments, and per parameter the labels it takes. */
interface Entry {
  name: string;
  call: (...args: unknown[]) => unknown;
  args: () => unknown[];
  accepts: Label[][];
  /** Per parameter, the codes a refusal may have besides INVALID_ARGUMENT. */
  codes?: Record<number, string[]>;
}

let nats: Running;
let nc: Awaited<ReturnType<typeof client.connect>>;
let dir: string;
const cleanup: (() => Promise<unknown> | unknown)[] = [];
const fixtures: Record<string, unknown> = {};

before(async () => {
  nats = await startNats();
  nc = await client.connect({ servers: nats.url });
  dir = mkdtempSync(join(tmpdir(), "nb-ts-args-"));
  await client.ensureStream(nc, { name: "FUZZ", subjects: ["fuzz.>"], maxAgeMs: 60_000, storage: "memory" });
  const sent = await client.smartsend("fuzz.a", [["x", "hi", "text"]], { publish: false, replyTo: "_INBOX.fuzz" });
  const received = await client.smartreceive(sent.json);
  const bridge = new Bridge(nc);
  const codec = typed.jsonCodec("thing", (v: unknown) => ({ ok: true as const, value: v }));
  const consumer = await EnvelopeConsumer.create(nc, "FUZZ", { start: "new" });
  const replay = await typed.replay(bridge, "FUZZ", codec, { start: "new" });
  cleanup.push(() => consumer.close(), () => replay.close());
  Object.assign(fixtures, {
    sent,
    received,
    request: sent.envelope,
    bridge,
    codec,
    consumer,
    replay,
    incoming: { message: {}, received, correlationId: sent.envelope.correlation_id, subject: "fuzz.a" },
  });
});

after(async () => {
  for (const c of cleanup) await c();
  await nc?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const f = (name: string) => fixtures[name];
const BYTES = new Uint8Array([1, 2, 3]);
const NO_SERVER = "http://127.0.0.1:9";
const payloads = () => [["x", "hi", "text"]];

const ENTRIES: Entry[] = [
  { name: "new NatsBridgeError", call: (a, b, c) => new NatsBridgeError(a as never, b as string, c as never), args: () => ["TIMEOUT", "m", {}], accepts: [["string"], ["string"], ["undefined"]] },
  { name: "new ApplicationError", call: (a, b, c) => new ApplicationError(a as string, b as string, c as never), args: () => ["UNKNOWN_COLUMN", "m", {}], accepts: [["string"], ["string"], ["undefined"]] },
  { name: "jsonLogger", call: client.jsonLogger as never, args: () => ["info", () => {}], accepts: [["undefined"], ["undefined", "function"]] },
  { name: "log", call: client.log as never, args: () => ["info", "m", "c", {}], accepts: [[], ["string"], ["string"], ["undefined", "object"]] },
  { name: "setLogger", call: client.setLogger as never, args: () => [undefined], accepts: [["undefined", "function"]] },
  { name: "connectTo", call: client.connectTo as never, args: () => [nats.url, {}], accepts: [["string"], ["undefined"]] },
  { name: "resolveConnectSettings", call: client.resolveConnectSettings as never, args: () => [{ server: nats.url }, { [ENV_HOME]: dir }], accepts: [["undefined"], ["undefined", "object"]] },
  { name: "connectWith", call: client.connectWith as never, args: () => [{ server: nats.url }, { name: "fuzz" }], accepts: [["undefined"], ["undefined"]] },
  { name: "setConnector", call: client.setConnector as never, args: () => [client.connect], accepts: [["function"]] },
  { name: "base64Decode", call: client.base64Decode as never, args: () => ["AQID", 3], accepts: [["string"], ["number"]] },
  { name: "base64Encode", call: client.base64Encode as never, args: () => [BYTES], accepts: [[]] },
  { name: "hostOf", call: client.hostOf as never, args: () => ["http://x"], accepts: [["string"]] },
  { name: "sha256Hex", call: client.sha256Hex as never, args: () => [BYTES], accepts: [[]] },
  { name: "sha256HexSync", call: client.sha256HexSync as never, args: () => [BYTES], accepts: [[]] },
  { name: "decodeTable", call: client.decodeTable as never, args: () => [BYTES, undefined], accepts: [[], ["undefined"]] },
  { name: "deserializePayload", call: client.deserializePayload as never, args: () => ["text", BYTES, undefined], accepts: [["string"], [], ["undefined"]] },
  { name: "serializePayload", call: client.serializePayload as never, args: () => ["text", "hi", "d"], accepts: [["string"], ["string"], ["string"]], codes: { 1: [ERROR_WRITER_RULE] } },
  { name: "fetchWithBackoff", call: client.fetchWithBackoff as never, args: () => [`${NO_SERVER}/x`, { maxAttempts: 1 }], accepts: [["string"], ["undefined"]] },
  { name: "fetchHashed", call: client.fetchHashed as never, args: () => [`${NO_SERVER}/x`, { maxAttempts: 1 }], accepts: [["string"], ["undefined"]] },
  { name: "plikOneshotUpload", call: client.plikOneshotUpload as never, args: () => [NO_SERVER, "d", BYTES], accepts: [["string"], ["string"], []] },
  { name: "plikUpload", call: client.plikUpload as never, args: () => [NO_SERVER, "n", BYTES, {}], accepts: [["string"], ["string"], [], ["undefined"]] },
  { name: "plikUploader", call: client.plikUploader as never, args: () => [NO_SERVER, {}], accepts: [["string"], ["undefined"]] },
  { name: "publishMessage", call: client.publishMessage as never, args: () => [nc, "fuzz.pm", (f("sent") as client.Sent).json, "c"], accepts: [["string"], ["string"], ["string"], ["string"]] },
  { name: "smartsend", call: client.smartsend as never, args: () => ["fuzz.s", payloads(), { publish: false }], accepts: [["string"], [], ["undefined"]] },
  { name: "payloadNamed", call: client.payloadNamed as never, args: () => [f("received"), "x"], accepts: [[], ["string"]] },
  { name: "payloadTuples", call: client.payloadTuples as never, args: () => [f("received")], accepts: [[]] },
  { name: "smartreceive", call: client.smartreceive as never, args: () => [(f("sent") as client.Sent).json, {}], accepts: [["string"], ["undefined"]] },
  { name: "smartreply", call: client.smartreply as never, args: () => [nc, f("request"), payloads(), {}], accepts: [[], [], [], ["undefined"]] },
  { name: "smartreplyError", call: client.smartreplyError as never, args: () => [nc, f("request"), new Error("x")], accepts: [[], [], ANY] },
  { name: "smartrequest", call: client.smartrequest as never, args: () => [nc, "fuzz.r", payloads(), { timeout: 100 }], accepts: [[], ["string"], [], ["undefined"]] },
  { name: "errorResponse", call: client.errorResponse as never, args: () => [f("request"), new Error("x")], accepts: [[], ANY] },
  { name: "decodeReply", call: client.decodeReply as never, args: () => [(f("sent") as client.Sent).json, "c", {}], accepts: [["string"], ["string", "undefined"], ["undefined"]] },
  { name: "serve", call: client.serve as never, args: () => [nc, "fuzz.serve", async () => undefined, {}], accepts: [[], ["string"], ["function"], ["undefined"]] },
  { name: "EnvelopeConsumer.create", call: EnvelopeConsumer.create.bind(EnvelopeConsumer) as never, args: () => [nc, "FUZZ", { start: "new" }], accepts: [[], ["string"], ["undefined"]] },
  { name: "consumer.next", call: (t) => (f("consumer") as client.EnvelopeConsumer).next(t as number), args: () => [50], accepts: [["undefined", "number"]] },
  { name: "ensureStream", call: client.ensureStream as never, args: () => [nc, { name: "FUZZ", subjects: ["fuzz.>"], maxAgeMs: 60_000, storage: "memory" }], accepts: [[], []] },
  { name: "publishToStream", call: client.publishToStream as never, args: () => [nc, "fuzz.p", payloads(), {}], accepts: [[], ["string"], [], ["undefined"]] },
  { name: "digestOfReceived", call: client.digestOfReceived as never, args: () => [f("received")], accepts: [[]] },
  { name: "digestOfSent", call: client.digestOfSent as never, args: () => [f("request"), []], accepts: [[], ["undefined", "array"]] },
  { name: "parseStart", call: client.parseStart as never, args: () => ["all", new Date()], accepts: [["number"], ["undefined"]] },
  { name: "allowedHost", call: client.allowedHost as never, args: () => ["http://x"], accepts: [[]] },
  { name: "new Bridge", call: (a, b) => new Bridge(a as never, b as never), args: () => [nc, {}], accepts: [[], ["undefined"]] },
  { name: "typed.publish", call: typed.publish as never, args: () => [f("bridge"), "fuzz.t", f("codec"), { a: 1 }, "event", {}], accepts: [[], ["string"], [], ANY, ["undefined", "string"], ["undefined"]] },
  { name: "typed.request", call: typed.request as never, args: () => [f("bridge"), "fuzz.t", f("codec"), f("codec"), { a: 1 }, "command", {}], accepts: [[], ["string"], [], [], ANY, ["undefined", "string"], ["undefined"]] },
  { name: "typed.subscribe", call: typed.subscribe as never, args: () => [f("bridge"), "fuzz.t", f("codec"), {}], accepts: [[], ["string"], [], ["undefined"]] },
  { name: "typed.reply", call: typed.reply as never, args: () => [f("bridge"), f("incoming"), f("codec"), { a: 1 }, "event", {}], accepts: [[], [], [], ANY, ["undefined", "string"], ["undefined"]] },
  { name: "typed.replyError", call: typed.replyError as never, args: () => [f("bridge"), f("incoming"), new Error("x")], accepts: [[], [], ANY] },
  { name: "typed.publishToStream", call: typed.publishToStream as never, args: () => [f("bridge"), "fuzz.t", f("codec"), { a: 1 }, "event", {}], accepts: [[], ["string"], [], ANY, ["undefined", "string"], ["undefined"]] },
  { name: "typed.replay", call: typed.replay as never, args: () => [f("bridge"), "FUZZ", f("codec"), { start: "new" }], accepts: [[], ["string"], [], ["undefined"]] },
  { name: "replay.next", call: (t) => (f("replay") as client.Replay<unknown>).next(t as number), args: () => [50], accepts: [["undefined", "number"]] },
  { name: "typed.token", call: typed.token as never, args: () => ["p", "x", false], accepts: [["string"], ["string"], ["undefined", "boolean"]] },
  { name: "typed.tokenOf", call: typed.tokenOf as never, args: () => ["p", "x", ["x", "y"], false], accepts: [["string"], ["string"], [], ["undefined", "boolean"]] },
  { name: "typed.unionCodec", call: typed.unionCodec as never, args: () => [[f("codec")]], accepts: [[]] },
  { name: "typed.payloadOf", call: typed.payloadOf as never, args: () => [f("received"), "x", "text"], accepts: [[], ["string"], ["string"]] },
  { name: "typed.jsonCodec", call: typed.jsonCodec as never, args: () => ["thing", () => ({ ok: true, value: 1 }), "dictionary"], accepts: [["string"], ["function"], ["undefined"], ["undefined"]] },
  { name: "typed.correlate", call: typed.correlate as never, args: () => [{ payload: ["x", {}, "dictionary"], headers: {} }, { header: "H" }, {}], accepts: [[], ["undefined"], ANY] },
  { name: "typed.writeHeader", call: typed.writeHeader as never, args: () => ["H", "string", "v", "d"], accepts: [["string"], [], ["string"], ["string"]], codes: { 2: [ERROR_WRITER_RULE] } },
  { name: "typed.readHeader", call: typed.readHeader as never, args: () => [f("received"), "H", "string", "d"], accepts: [[], ["string"], [], ["string"]] },
  { name: "typed.requireHeader", call: typed.requireHeader as never, args: () => [f("received"), "H", "string", "d"], accepts: [[], ["string"], [], ["string"]] },
  { name: "directoryUploader", call: client.directoryUploader as never, args: () => [dir], accepts: [["string"]] },
];

/** What a call did: returned (and what), threw (and what), or did not end within the limit. */
async function outcome(call: () => unknown): Promise<{ kind: "returned"; value: unknown } | { kind: "threw"; error: unknown } | { kind: "hung" }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const hung = new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), 5_000)));
    const value = await Promise.race([Promise.resolve().then(call), hung]);
    return value === "hung" ? { kind: "hung" } : { kind: "returned", value };
  } catch (error) {
    return { kind: "threw", error };
  } finally {
    clearTimeout(timer);
  }
}

for (const entry of ENTRIES) {
  test(`${entry.name}: bad values of every type at every parameter are a NatsBridgeError with a code`, async () => {
    const failures: string[] = [];
    let thrown = 0;
    for (let i = 0; i < entry.accepts.length; i++) {
      for (const [label, bad] of BAD) {
        if (entry.accepts[i]!.includes(label)) continue;
        const args = entry.args();
        args[i] = bad;
        const result = await outcome(() => entry.call(...args));
        const at = `parameter ${i + 1} = ${label}`;
        if (result.kind === "hung") failures.push(`${at}: no answer within 5 s`);
        else if (result.kind === "returned") {
          failures.push(`${at}: accepted`);
          const v = result.value as { close?: () => unknown; stop?: () => unknown; unsubscribe?: () => unknown } | null;
          await (v?.stop ?? v?.close ?? v?.unsubscribe)?.call(v);
        } else {
          const e = result.error;
          const codes = [ERROR_BAD_OPTION, ...(entry.codes?.[i] ?? [])];
          if (!(e instanceof NatsBridgeError)) failures.push(`${at}: threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
          else if (!isKnownErrorCode(e.code) || !codes.includes(e.code)) failures.push(`${at}: ${e.code} (${e.message})`);
          else if (e.message === "") failures.push(`${at}: no message`);
          else thrown++;
        }
      }
    }
    assert.deepEqual(failures, [], `${entry.name}:\n${failures.join("\n")}`);
    assert.ok(thrown > 0 || entry.accepts.every((a) => a.length === ANY.length), `${entry.name}: nothing was refused`);
  });
}

test("every function the package exports is in the table (or has no parameters)", () => {
  const NO_PARAMETERS = ["fileserverUrl", "natsUrl", "sizeThreshold", "newUuid", "connect"];
  const covered = new Set(ENTRIES.map((e) => e.name.replace(/^new /, "")));
  const missing = Object.entries(client)
    .filter(([name, v]) => typeof v === "function" && !NO_PARAMETERS.includes(name) && !/^[A-Z]/.test(name))
    .map(([name]) => name)
    .filter((name) => !covered.has(name));
  assert.deepEqual(missing, []);
  const typedMissing = Object.entries(typed)
    .filter(([name, v]) => typeof v === "function" && !/^[A-Z]/.test(name))
    .map(([name]) => `typed.${name}`)
    .filter((name) => !covered.has(name));
  assert.deepEqual(typedMissing, []);
});
