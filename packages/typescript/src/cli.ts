#!/usr/bin/env node
/**
 * `natsbridge-js send|receive`: the same contract as the Rust `natsbridge send` / `receive`
 * (same flags where they make sense, the same digest line), so any two implementations can be
 * compared from a shell.
 *
 *   natsbridge-js send --server URL --subject S [--fileserver URL] [--threshold N] [--purpose P]
 *                      [--correlation-id ID] [--header K=V]... --payload NAME:TYPE:SOURCE...
 *                      [--stream NAME]
 *   natsbridge-js receive --server URL --subject S [--count N] [--timeout SECS]
 *                      [--allow-host HOST]... [--show-header NAME]...
 *                      [--stream NAME [--since RFC3339_TIME]]
 *
 * SOURCE is literal text or `@PATH`. Global: `--log-format text|json`, `--log-level LEVEL`.
 * With `--stream`, `send` publishes through JetStream (acked; a missing stream is created with
 * `--subject` as its subject, file storage and a 24-hour max age, as the other CLIs create it)
 * and `receive` replays the existing stream through an ephemeral pull consumer filtered on
 * `--subject`, from its start or from `--since`. Usage errors exit 2, other failures 1.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Table, tableFromIPC } from "apache-arrow";
import { CLI_STREAM_MAX_AGE_SECONDS, DEFAULT_MSG_PURPOSE, ERROR_BAD_BYTES } from "@natsbridge/types";
import {
  EnvelopeConsumer,
  NatsBridgeError,
  connect,
  decodeTable,
  digestOfReceived,
  digestOfSent,
  ensureStream,
  fileserverUrl,
  jsonLogger,
  natsUrl,
  publishToStream,
  setLogger,
  sizeThreshold,
  smartreceive,
  smartsend,
  type LogLevel,
  type PayloadTuple,
  type Received,
  type SendOptions,
} from "./node.js";

/** A usage error: exit 2. */
class Usage extends Error {}
/** A failure that is not the runtime's (no error code): exit 1. */
class Failure extends Error {}

const MS_PER_SECOND = 1000;
/** How long a stream that `send --stream` creates keeps its messages (the profile's, as the Rust and Python CLIs). */
const CREATED_STREAM_MAX_AGE_MS = CLI_STREAM_MAX_AGE_SECONDS * MS_PER_SECOND;
/** The longest one wait of a stream receive for the next message. */
const MAX_PULL_WAIT_MS = 30 * MS_PER_SECOND;

type Command = "send" | "receive";

const FLAGS: Record<Command, readonly string[]> = {
  send: ["server", "subject", "fileserver", "threshold", "purpose", "correlation-id", "header", "payload", "stream", "log-format", "log-level"],
  receive: ["server", "subject", "count", "timeout", "allow-host", "show-header", "stream", "since", "log-format", "log-level"],
};

/** Every flag takes a value and may be repeated; `one`/`opt` read the last, `many` all. */
type Flags = Map<string, string[]>;

/**
 * `util.parseArgs` splits the arguments (`--flag value`, `--flag=value`, repeats); it runs
 * non-strict so that this command's own messages are kept: an unknown flag, a positional
 * argument or a flag without a value is a usage error naming it.
 */
function parse(command: Command, args: string[]): Flags {
  const allowed = FLAGS[command];
  const { tokens } = parseArgs({
    args,
    options: Object.fromEntries(allowed.map((name) => [name, { type: "string", multiple: true }] as const)),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags: Flags = new Map();
  for (const token of tokens) {
    if (token.kind === "positional") throw new Usage(`unexpected argument \`${token.value}\``);
    if (token.kind === "option-terminator" || !token.rawName.startsWith("--")) {
      throw new Usage(`unexpected argument \`${args[token.index] ?? ""}\``);
    }
    if (!allowed.includes(token.name)) throw new Usage(`unknown flag --${token.name} for ${command}`);
    if (token.value === undefined) throw new Usage(`--${token.name} needs a value`);
    flags.set(token.name, [...(flags.get(token.name) ?? []), token.value]);
  }
  return flags;
}

function one(p: Flags, name: string, fallback?: string): string {
  const v = p.get(name)?.at(-1) ?? fallback;
  if (v === undefined) throw new Usage(`--${name} is required`);
  return v;
}

function opt(p: Flags, name: string): string | undefined {
  return p.get(name)?.at(-1);
}

function many(p: Flags, name: string): string[] {
  return p.get(name) ?? [];
}

function int(text: string, name: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new Usage(`--${name} must be a non-negative integer`);
  return n;
}

/** A JetStream stream name as nats-server and the nats CLI accept it. */
function streamName(p: Flags): string | undefined {
  const name = opt(p, "stream");
  if (name !== undefined && (name === "" || /[\s.*>/\\]/u.test(name) || [...name].length > 255)) {
    throw new Usage(`--stream \`${name}\` is not a stream name (1 to 255 characters, none of whitespace . * > / \\)`);
  }
  return name;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function since(p: Flags): Date | undefined {
  const text = opt(p, "since");
  if (text === undefined) return undefined;
  const ms = RFC3339.test(text) ? Date.parse(text.replace(" ", "T")) : NaN;
  if (Number.isNaN(ms)) throw new Usage(`--since \`${text}\` is not an RFC 3339 time (e.g. 2026-11-29T21:58:30Z)`);
  return new Date(ms);
}

/** `NAME:TYPE:SOURCE` → a payload tuple and its row count (tables). */
function parsePayload(spec: string): { tuple: PayloadTuple; rows: number | undefined } {
  const first = spec.indexOf(":");
  const second = first < 0 ? -1 : spec.indexOf(":", first + 1);
  if (first < 0 || second < 0) throw new Usage(`--payload \`${spec}\` is not NAME:TYPE:SOURCE`);
  const name = spec.slice(0, first);
  const type = spec.slice(first + 1, second);
  const source = spec.slice(second + 1);
  let bytes: Uint8Array;
  if (source.startsWith("@")) {
    try {
      const b = readFileSync(source.slice(1));
      bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      throw new Usage(`reading ${source.slice(1)}: ${(e as Error).message}`);
    }
  } else {
    bytes = new TextEncoder().encode(source);
  }
  const text = () => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new Usage(`${name}: text must be UTF-8`);
    }
  };
  const json = (): unknown => {
    try {
      return JSON.parse(text());
    } catch (e) {
      throw new Usage(`${name}: not JSON: ${(e as Error).message}`);
    }
  };
  switch (type) {
    case "text":
      return { tuple: [name, text(), "text"], rows: undefined };
    case "dictionary":
      return { tuple: [name, json(), "dictionary"], rows: undefined };
    case "jsontable": {
      const rows = json();
      if (!Array.isArray(rows)) throw new Usage(`${name}: a jsontable must be a JSON array of row objects`);
      return { tuple: [name, rows as Record<string, unknown>[], "jsontable"], rows: rows.length };
    }
    case "arrowtable": {
      // An Arrow IPC file is re-encoded as a stream; a stream is checked and sent as is.
      const magic = new TextDecoder().decode(bytes.subarray(0, 6));
      if (magic === "ARROW1") {
        const table: Table = tableFromIPC(bytes);
        return { tuple: [name, table, "arrowtable"], rows: table.numRows };
      }
      const table = decodeTable(bytes);
      return { tuple: [name, bytes, "arrowtable"], rows: table.numRows };
    }
    case "image":
    case "audio":
    case "video":
    case "binary":
      return { tuple: [name, bytes, type], rows: undefined };
    default:
      throw new Usage(`${name}: unknown payload type \`${type}\``);
  }
}

async function connectServer(server: string): Promise<NatsConnection> {
  return connect({ servers: server.split(",") }).catch((e: unknown) => {
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `cannot connect to ${server}`, { cause: e });
  });
}

async function streamExists(nc: NatsConnection, name: string): Promise<boolean> {
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.info(name);
    return true;
  } catch (e) {
    if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound) return false;
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `looking up the stream \`${name}\``, { cause: e });
  }
}

/**
 * Makes sure stream `name` exists and captures `subject`: an existing one is used as it is
 * configured; a missing one is created with `subject` as its only subject (file storage,
 * limits retention, CREATED_STREAM_MAX_AGE_MS).
 */
async function streamCapturing(nc: NatsConnection, name: string, subject: string): Promise<void> {
  if (!(await streamExists(nc, name))) {
    try {
      await ensureStream(nc, { name, subjects: [subject], maxAgeMs: CREATED_STREAM_MAX_AGE_MS, storage: "file" });
    } catch (e) {
      if (!(await streamExists(nc, name))) throw e; // unless another process created it meanwhile
    }
  }
  let owner: string | undefined;
  try {
    owner = await (await jetstreamManager(nc)).streams.find(subject);
  } catch (e) {
    // No stream (or more than one) captures it: nats.js says StreamNotFound.
    if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) {
      throw new NatsBridgeError("NATS_CONNECTION_FAILED", `looking up the stream of \`${subject}\``, { cause: e });
    }
  }
  if (owner !== name) {
    throw new NatsBridgeError("PUBLISH_FAILED", `the stream \`${name}\` does not capture \`${subject}\`${owner === undefined ? "" : ` (\`${owner}\` does)`}`);
  }
}

async function send(p: Flags): Promise<number> {
  const specs = many(p, "payload");
  if (specs.length === 0) throw new Usage("--payload is required");
  const subject = one(p, "subject");
  const stream = streamName(p);
  const parsed = specs.map(parsePayload);
  const headers: Record<string, string> = {};
  for (const h of many(p, "header")) {
    const eq = h.indexOf("=");
    if (eq < 0) throw new Usage(`--header \`${h}\` is not K=V`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const server = one(p, "server", natsUrl());
  const correlationId = opt(p, "correlation-id");
  const options: SendOptions = {
    brokerUrl: server,
    fileserverUrl: one(p, "fileserver", fileserverUrl()),
    sizeThreshold: int(one(p, "threshold", String(sizeThreshold())), "threshold"),
    msgPurpose: one(p, "purpose", DEFAULT_MSG_PURPOSE),
    headers,
    ...(correlationId === undefined ? {} : { correlationId }),
  };
  const tuples = parsed.map((x) => x.tuple);
  const nc = await connectServer(server);
  try {
    let sent;
    if (stream === undefined) {
      // The connection closes right after: flushed, so the envelope is on the server first.
      sent = await smartsend(subject, tuples, { ...options, connection: nc, flush: true });
    } else {
      await streamCapturing(nc, stream, subject);
      sent = await publishToStream(nc, subject, tuples, options);
      // The ack, as the Rust and Python CLIs print it.
      console.error(asciiJson({ stream, stream_sequence: sent.streamSequence }));
    }
    console.log(asciiLine(digestOfSent(sent.envelope, parsed.map((x) => x.rows))));
    return 0;
  } finally {
    await nc.close().catch(() => {});
  }
}

/**
 * JSON text with every character outside printable ASCII written as a `\uXXXX` escape: a line
 * that any terminal, pipe or reader takes, whatever a hostile envelope carried (NUL, lone
 * surrogates, which `JSON.stringify` already escapes, line separators).
 */
function asciiLine(json: string): string {
  return json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function asciiJson(value: unknown): string {
  return asciiLine(JSON.stringify(value));
}

/** The digest line of a received envelope, with `"headers"` when `--show-header` asks for them. */
function received(r: Received, show: string[]): string {
  const out = digestOfReceived(r);
  if (show.length === 0) return asciiLine(out);
  const v = JSON.parse(out) as Record<string, unknown>;
  v["headers"] = Object.fromEntries(show.map((n) => [n, r.headers[n] ?? null]));
  return asciiJson(v);
}

/** The error line of a message that could not be received: `{"error", "correlation_id", "message"}`. */
function errorLine(e: unknown): string {
  try {
    return asciiJson(e instanceof NatsBridgeError ? e.toJSON() : { error: ERROR_BAD_BYTES, correlation_id: null, message: String(e) });
  } catch {
    return asciiJson({ error: ERROR_BAD_BYTES, correlation_id: null, message: "the error could not be described" });
  }
}

async function receive(p: Flags): Promise<number> {
  const server = one(p, "server", natsUrl());
  const subject = one(p, "subject");
  const count = opt(p, "count") === undefined ? undefined : int(one(p, "count"), "count");
  const timeout = opt(p, "timeout") === undefined ? undefined : int(one(p, "timeout"), "timeout");
  const stream = streamName(p);
  const start = since(p);
  if (start !== undefined && stream === undefined) throw new Usage("--since needs --stream");
  const allowedHosts = [fileserverUrl(), ...many(p, "allow-host")];
  const showHeaders = many(p, "show-header");
  const nc = await connectServer(server);
  try {
    return stream === undefined
      ? await receiveCore(nc, subject, count, timeout, allowedHosts, showHeaders)
      : await receiveStream(nc, stream, subject, start, count, timeout, allowedHosts, showHeaders);
  } finally {
    await nc.close().catch(() => {});
  }
}

async function receiveCore(
  nc: NatsConnection,
  subject: string,
  count: number | undefined,
  timeout: number | undefined,
  allowedHosts: string[],
  showHeaders: string[],
): Promise<number> {
  const sub = nc.subscribe(subject);
  await nc.flush();
  console.error(asciiJson({ subscribed: true }));
  const timer = timeout === undefined ? undefined : setTimeout(() => sub.unsubscribe(), timeout * 1000);
  let seen = 0;
  try {
    if (count === 0) return 0;
    for await (const msg of sub) {
      seen++;
      // A hostile message gives its error line; nothing it carries stops the receiver.
      let out: string;
      try {
        out = received(await smartreceive(msg, { allowedHosts }), showHeaders);
      } catch (e) {
        out = errorLine(e);
      }
      console.log(out);
      if (count !== undefined && seen >= count) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return count !== undefined && seen < count ? 1 : 0;
}

/**
 * Replays `stream` through the runtime's pull consumer (ephemeral, filtered on `subject`, from
 * the start of the stream or from `start`): one digest line per envelope, each acked after it
 * is printed; an envelope that cannot be decoded gives its error line, as in a core receive.
 * The stream must exist: a missing one is the user's mistake, not something to wait for.
 */
async function receiveStream(
  nc: NatsConnection,
  stream: string,
  subject: string,
  start: Date | undefined,
  count: number | undefined,
  timeout: number | undefined,
  allowedHosts: string[],
  showHeaders: string[],
): Promise<number> {
  if (!(await streamExists(nc, stream))) throw new Failure(`the stream \`${stream}\` does not exist`);
  const consumer = await EnvelopeConsumer.create(nc, stream, {
    filterSubject: subject,
    ...(start === undefined ? {} : { startTime: start }),
    receive: { allowedHosts },
  });
  console.error(asciiJson({ subscribed: true, stream }));
  const deadline = timeout === undefined ? Infinity : Date.now() + timeout * 1000;
  let seen = 0;
  try {
    while (count === undefined || seen < count) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      let out: string;
      try {
        const delivered = await consumer.next(Math.min(remaining, MAX_PULL_WAIT_MS));
        out = received(delivered.received, showHeaders);
        console.log(out);
        await delivered.ack();
      } catch (e) {
        if (!(e instanceof NatsBridgeError)) throw e;
        // Nothing arrived in time: the consumer's own TIMEOUT carries no correlation id (a
        // download that timed out belongs to an envelope and carries its id).
        if (e.code === "TIMEOUT" && e.correlationId === undefined) continue;
        if (e.code === "NATS_CONNECTION_FAILED") throw e;
        console.log(errorLine(e));
      }
      seen++;
    }
  } finally {
    await consumer.close();
  }
  return count !== undefined && seen < count ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== "send" && command !== "receive") {
    console.error("usage: natsbridge-js send|receive [flags]  (see the package README)");
    return 2;
  }
  try {
    const p = parse(command, rest);
    if (opt(p, "log-format") === "json") setLogger(jsonLogger((opt(p, "log-level") ?? "warn") as LogLevel));
    return command === "send" ? await send(p) : await receive(p);
  } catch (e) {
    if (e instanceof Usage) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    console.error(`error: ${e instanceof NatsBridgeError ? e.report() : e instanceof Failure ? e.message : String(e)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
