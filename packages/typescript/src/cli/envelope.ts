/**
 * The envelope `send` and `request` build from the command line: payloads from `--payload
 * NAME:TYPE:SOURCE` (SOURCE literal text or JSON, or `@PATH`) and `--from-stdin NAME:TYPE`,
 * every envelope field, metadata (`--metadata K=V`, V read as JSON when it parses, else a
 * string; `--metadata-json`), headers, and where link payloads go (`--store`).
 */
import { readFileSync } from "node:fs";
import { Table, tableFromIPC } from "apache-arrow";
import { DEFAULT_MSG_PURPOSE, MSG_PURPOSE_VALUES, isKnownMsgPurpose } from "@natsbridge/types";
import { fileserverUrl, sizeThreshold } from "../config.js";
import { directoryUploader } from "../file-links.js";
import { parseStrictJson } from "../json.js";
import { decodeTable, type PayloadTuple } from "../payload.js";
import type { SendOptions } from "../send.js";
import { Failure, type Flags } from "./args.js";

/** A payload to send, and its row count (tables) for the digest line. */
export interface Parsed {
  tuple: PayloadTuple;
  rows: number | undefined;
}

/** JSON from the command line, read as strictly as a receiver reads it: what one runtime sends, every runtime takes. */
function strictJson(text: string, what: string): unknown {
  const parsed = parseStrictJson(text);
  if (!parsed.ok) throw new Failure(`${what}: not JSON: ${parsed.reason}`);
  return parsed.value;
}

/** The payload `name` of type `type` made of `bytes`. */
export function payloadOf(name: string, type: string, bytes: Uint8Array): Parsed {
  const text = () => {
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new Failure(`${name}: text must be UTF-8`);
    }
  };
  switch (type) {
    case "text":
      return { tuple: [name, text(), "text"], rows: undefined };
    case "dictionary":
      return { tuple: [name, strictJson(text(), name), "dictionary"], rows: undefined };
    case "jsontable": {
      const rows = strictJson(text(), name);
      if (!Array.isArray(rows) || !rows.every((r) => typeof r === "object" && r !== null && !Array.isArray(r))) {
        throw new Failure(`${name}: a jsontable must be a JSON array of row objects`);
      }
      return { tuple: [name, rows as Record<string, unknown>[], "jsontable"], rows: rows.length };
    }
    case "arrowtable": {
      // An Arrow IPC file is re-encoded as a stream; a stream is checked and sent as is.
      try {
        if (new TextDecoder().decode(bytes.subarray(0, 6)) === "ARROW1") {
          const table: Table = tableFromIPC(bytes);
          return { tuple: [name, table, "arrowtable"], rows: table.numRows };
        }
        return { tuple: [name, bytes, "arrowtable"], rows: decodeTable(bytes).numRows };
      } catch (e) {
        throw new Failure(`${name}: not an Arrow IPC stream or file: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    case "image":
    case "audio":
    case "video":
    case "binary":
      return { tuple: [name, bytes, type], rows: undefined };
    default:
      throw new Failure(`${name}: unknown payload type \`${type}\``);
  }
}

/** `--payload NAME:TYPE:SOURCE`. */
export function parsePayload(spec: string): Parsed {
  const first = spec.indexOf(":");
  const second = first < 0 ? -1 : spec.indexOf(":", first + 1);
  if (second < 0) throw new Failure(`--payload \`${spec}\` is not NAME:TYPE:SOURCE`);
  const source = spec.slice(second + 1);
  let bytes: Uint8Array;
  if (source.startsWith("@")) {
    try {
      const b = readFileSync(source.slice(1));
      bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      throw new Failure(`reading ${source.slice(1)}: ${(e as Error).message}`);
    }
  } else {
    bytes = new TextEncoder().encode(source);
  }
  return payloadOf(spec.slice(0, first), spec.slice(first + 1, second), bytes);
}

/** Every payload the flags give (`--payload`…, then `--from-stdin`); at least one. */
export function payloads(flags: Flags): Parsed[] {
  const out = flags.many("payload").map(parsePayload);
  const stdin = flags.opt("from-stdin");
  if (stdin !== undefined) {
    const colon = stdin.indexOf(":");
    if (colon < 0) throw new Failure(`\`${stdin}\` is not NAME:TYPE`);
    const b = readFileSync(0);
    out.push(payloadOf(stdin.slice(0, colon), stdin.slice(colon + 1), new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
  }
  if (out.length === 0) throw new Failure("give at least one --payload (or --from-stdin)");
  return out;
}

/** `K=V` split at the first `=`. */
function pair(text: string, flag: string, form: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq < 0) throw new Failure(`--${flag} \`${text}\` is not ${form}`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** Envelope metadata: `--metadata-json`, then each `--metadata K=V` added (V as JSON when it parses, else a string). */
function metadata(flags: Flags): Record<string, unknown> {
  const json = flags.opt("metadata-json");
  const out: Record<string, unknown> = {};
  if (json !== undefined) {
    const v = strictJson(json, "--metadata-json");
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Failure("--metadata-json must be a JSON object");
    Object.assign(out, v);
  }
  for (const entry of flags.many("metadata")) {
    const [k, v] = pair(entry, "metadata", "KEY=VALUE");
    const parsed = parseStrictJson(v);
    out[k] = parsed.ok ? parsed.value : v;
  }
  return out;
}

/** The send options every envelope flag asks for (no connection: the command adds it). */
export function sendOptions(flags: Flags): SendOptions {
  const purpose = flags.one("purpose", () => DEFAULT_MSG_PURPOSE);
  if (!isKnownMsgPurpose(purpose)) throw new Failure(`--purpose \`${purpose}\` is not one of ${MSG_PURPOSE_VALUES.join(", ")}`);
  const threshold = flags.count("threshold") ?? sizeThreshold();
  const options: SendOptions = { sizeThreshold: threshold, msgPurpose: purpose, oneShot: flags.on("one-shot"), metadata: metadata(flags) };
  const store = flags.one("store", () => "plik");
  if (store === "plik") {
    options.fileserverUrl = flags.one("fileserver", fileserverUrl);
    // Without the flag, smartsend reads FILESERVER_TOKEN itself.
    const token = flags.opt("fileserver-token");
    if (token !== undefined) options.fileserverToken = token;
  }
  else if (store.startsWith("dir:")) options.uploader = directoryUploader(store.slice("dir:".length));
  else throw new Failure(`--store \`${store}\`: natsbridge-js has plik and dir:PATH (nats-os:BUCKET and s3:BUCKET are the Rust CLI's)`);
  const fields: [string, keyof SendOptions][] = [
    ["correlation-id", "correlationId"],
    ["msg-id", "msgId"],
    ["sender-name", "senderName"],
    ["sender-id", "senderId"],
    ["receiver-name", "receiverName"],
    ["receiver-id", "receiverId"],
    ["reply-to", "replyTo"],
    ["reply-to-msg-id", "replyToMsgId"],
  ];
  for (const [flag, key] of fields) {
    const v = flags.opt(flag);
    if (v !== undefined) (options as Record<string, unknown>)[key] = v;
  }
  const headers: Record<string, string> = {};
  for (const h of flags.many("header")) {
    const [k, v] = pair(h, "header", "K=V");
    headers[k] = v;
  }
  if (Object.keys(headers).length > 0) options.headers = headers;
  const ttl = flags.count("link-ttl");
  if (ttl !== undefined) options.linkTtlSeconds = ttl;
  return options;
}

/** The answer payloads of `reply --payload`…, which may be none (echo). */
export function answerPayloads(flags: Flags): Parsed[] {
  return flags.many("payload").map(parsePayload);
}
