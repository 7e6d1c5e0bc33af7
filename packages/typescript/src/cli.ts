#!/usr/bin/env node
/**
 * `natsbridge-js send|receive`: the same contract as the Rust `natsbridge send` / `receive`
 * (same flags where they make sense, the same digest line), so any two implementations can be
 * compared from a shell.
 *
 *   natsbridge-js send --server URL --subject S [--fileserver URL] [--threshold N] [--purpose P]
 *                      [--correlation-id ID] [--header K=V]... --payload NAME:TYPE:SOURCE...
 *   natsbridge-js receive --server URL --subject S [--count N] [--timeout SECS]
 *                      [--allow-host HOST]... [--show-header NAME]...
 *
 * SOURCE is literal text or `@PATH`. Global: `--log-format text|json`, `--log-level LEVEL`.
 */
import { readFileSync } from "node:fs";
import { Table, tableFromIPC } from "apache-arrow";
import {
  NatsBridgeError,
  connect,
  decodeTable,
  digestOfReceived,
  digestOfSent,
  fileserverUrl,
  jsonLogger,
  natsUrl,
  setLogger,
  sizeThreshold,
  smartreceive,
  smartsend,
  type LogLevel,
  type PayloadTuple,
} from "./node.js";

class Usage extends Error {}

interface Parsed {
  flags: Map<string, string[]>;
}

const BOOLEAN_FLAGS = new Set<string>();

function parse(args: string[]): Parsed {
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("--")) throw new Usage(`unexpected argument \`${a}\``);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else if (BOOLEAN_FLAGS.has(name)) {
      value = "true";
    } else {
      value = args[++i];
      if (value === undefined) throw new Usage(`--${name} needs a value`);
    }
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { flags };
}

function one(p: Parsed, name: string, fallback?: string): string {
  const v = p.flags.get(name)?.at(-1) ?? fallback;
  if (v === undefined) throw new Usage(`--${name} is required`);
  return v;
}

function opt(p: Parsed, name: string): string | undefined {
  return p.flags.get(name)?.at(-1);
}

function many(p: Parsed, name: string): string[] {
  return p.flags.get(name) ?? [];
}

function int(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Usage(`--${name} must be a non-negative integer`);
  return n;
}

const ALLOWED_FLAGS: Record<string, string[]> = {
  send: ["server", "subject", "fileserver", "threshold", "purpose", "correlation-id", "header", "payload", "log-format", "log-level"],
  receive: ["server", "subject", "count", "timeout", "allow-host", "show-header", "log-format", "log-level"],
};

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

async function send(p: Parsed): Promise<number> {
  const specs = many(p, "payload");
  if (specs.length === 0) throw new Usage("--payload is required");
  const parsed = specs.map(parsePayload);
  const headers: Record<string, string> = {};
  for (const h of many(p, "header")) {
    const eq = h.indexOf("=");
    if (eq < 0) throw new Usage(`--header \`${h}\` is not K=V`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const server = one(p, "server", natsUrl());
  const nc = await connect({ servers: server.split(",") }).catch((e: unknown) => {
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `cannot connect to ${server}`, { cause: e });
  });
  try {
    const correlationId = opt(p, "correlation-id");
    const sent = await smartsend(
      one(p, "subject"),
      parsed.map((x) => x.tuple),
      {
        connection: nc,
        brokerUrl: server,
        fileserverUrl: one(p, "fileserver", fileserverUrl()),
        sizeThreshold: int(one(p, "threshold", String(sizeThreshold())), "threshold"),
        msgPurpose: one(p, "purpose", "chat"),
        headers,
        ...(correlationId === undefined ? {} : { correlationId }),
      },
    );
    console.log(digestOfSent(sent.envelope, parsed.map((x) => x.rows)));
    return 0;
  } finally {
    await nc.close().catch(() => {});
  }
}

async function receive(p: Parsed): Promise<number> {
  const server = one(p, "server", natsUrl());
  const count = opt(p, "count") === undefined ? undefined : int(one(p, "count"), "count");
  const timeout = opt(p, "timeout") === undefined ? undefined : int(one(p, "timeout"), "timeout");
  const allowedHosts = [fileserverUrl(), ...many(p, "allow-host")];
  const showHeaders = many(p, "show-header");
  const nc = await connect({ servers: server.split(",") }).catch((e: unknown) => {
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `cannot connect to ${server}`, { cause: e });
  });
  const sub = nc.subscribe(one(p, "subject"));
  await nc.flush();
  console.error(JSON.stringify({ subscribed: true }));
  const timer = timeout === undefined ? undefined : setTimeout(() => sub.unsubscribe(), timeout * 1000);
  let seen = 0;
  try {
    if (count === 0) return 0;
    for await (const msg of sub) {
      seen++;
      let out: string;
      try {
        const received = await smartreceive(msg, { allowedHosts });
        out = digestOfReceived(received);
        if (showHeaders.length > 0) {
          const v = JSON.parse(out) as Record<string, unknown>;
          v["headers"] = Object.fromEntries(showHeaders.map((n) => [n, msg.headers?.has(n) === true ? msg.headers.get(n) : null]));
          out = JSON.stringify(v);
        }
      } catch (e) {
        out = JSON.stringify(e instanceof NatsBridgeError ? e.toJSON() : { error: "DESERIALIZATION_ERROR", correlation_id: null, message: String(e) });
      }
      console.log(out);
      if (count !== undefined && seen >= count) break;
    }
  } finally {
    clearTimeout(timer);
    await nc.close().catch(() => {});
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
    const p = parse(rest);
    for (const name of p.flags.keys()) {
      if (!ALLOWED_FLAGS[command]!.includes(name)) throw new Usage(`unknown flag --${name} for ${command}`);
    }
    if (opt(p, "log-format") === "json") setLogger(jsonLogger((opt(p, "log-level") ?? "warn") as LogLevel));
    return command === "send" ? await send(p) : await receive(p);
  } catch (e) {
    if (e instanceof Usage) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    console.error(`error: ${e instanceof NatsBridgeError ? e.report() : String(e)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
