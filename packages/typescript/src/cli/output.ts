/**
 * What the CLI prints and writes for a received envelope: its digest line (with the headers
 * `--show-header` asks for), the envelope JSON (`--envelope`), each payload saved into a
 * directory (`--out`, the same file names as the Rust CLI), and the error line of a message
 * that could not be received. Every line is JSON in printable ASCII: nothing a hostile
 * envelope carries (NUL, lone surrogates, line separators) can break a terminal, a pipe or
 * the printing itself.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_BAD_BYTES, ERROR_DOWNLOAD, PAYLOAD_SERIALIZATION, type PayloadType } from "@natsbridge/types";
import { digestOfReceived } from "../digest.js";
import { NatsBridgeError } from "../errors.js";
import type { Received, ReceiveOptions } from "../receive.js";
import { fileserverUrl } from "../config.js";
import { allowedHost } from "../hosts.js";
import { hostOf } from "../wire.js";
import { Usage, type Flags } from "./args.js";

/**
 * JSON text with every character outside printable ASCII written as a `\uXXXX` escape: a line
 * that any terminal, pipe or reader takes, whatever a hostile envelope carried (NUL, lone
 * surrogates, which `JSON.stringify` already escapes, line separators).
 */
export function asciiLine(json: string): string {
  return json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function asciiJson(value: unknown): string {
  return asciiLine(JSON.stringify(value));
}

/**
 * The error line of something that failed: `{"error", "application_code"?, "correlation_id",
 * "message"}` (and `"remote": true`); `application_code` only for an application error.
 */
export function errorLine(e: unknown): string {
  try {
    return asciiJson(e instanceof NatsBridgeError ? e.toJSON() : { error: ERROR_BAD_BYTES, correlation_id: null, message: String(e) });
  } catch {
    return asciiJson({ error: ERROR_BAD_BYTES, correlation_id: null, message: "the error could not be described" });
  }
}

/** The receive output flags (`--allow-host`, `--allow-dir`, `--show-header`, `--out`, `--envelope`), applied. */
export class Output {
  private constructor(
    private readonly showHeaders: string[],
    private readonly out: string | undefined,
    private readonly envelope: boolean,
    /** The receive options the flags ask for. */
    readonly receive: ReceiveOptions,
  ) {}

  static of(flags: Flags): Output {
    const base = hostOf(fileserverUrl());
    const receive: ReceiveOptions = { allowedHosts: [...(base === undefined ? [] : [base]), ...flags.many("allow-host").map(allowHost)].map(asOrigin) };
    const dirs = flags.many("allow-dir");
    if (dirs.length > 0) receive.allowedDirs = dirs;
    return new Output(flags.many("show-header"), flags.opt("out"), flags.on("envelope"), receive);
  }

  /** Prints the digest line of `received` (and its envelope), and saves its payloads, as asked. */
  print(received: Received): void {
    let line = digestOfReceived(received);
    if (this.showHeaders.length > 0) {
      const v = JSON.parse(line) as Record<string, unknown>;
      v["headers"] = Object.fromEntries(this.showHeaders.map((n) => [n, received.headers[n] ?? null]));
      line = JSON.stringify(v);
    }
    console.log(asciiLine(line));
    if (this.envelope) console.log(asciiJson(received.envelope));
    if (this.out !== undefined) save(this.out, received);
  }
}

/** `--allow-host VALUE` as `host:port` (or `*`); a usage error for anything but an http(s) URL or origin. */
function allowHost(value: string): string {
  try {
    return allowedHost(value);
  } catch (e) {
    throw new Usage(`--allow-host: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A normalized `host:port` back as the origin `allowedHosts` takes (`*` as is). */
function asOrigin(hostPort: string): string {
  return hostPort === "*" ? hostPort : `http://${hostPort}`;
}

/**
 * Writes every payload of `received` into `dir` (created if missing): the bytes as carried, so
 * their sha256 is the digest line's; a name taken twice gets `-2`, `-3`, … before its extension.
 */
function save(dir: string, received: Received): void {
  const cid = received.envelope.correlation_id;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new NatsBridgeError(ERROR_DOWNLOAD, `creating ${dir}`, { correlationId: cid, cause: e });
  }
  const taken = new Set<string>();
  for (const p of received.payloads) {
    const name = savedName(p.dataname, p.payload_type);
    const dot = name.lastIndexOf(".");
    const [stem, ext] = dot < 0 ? [name, ""] : [name.slice(0, dot), name.slice(dot + 1)];
    let candidate = name;
    for (let n = 2; taken.has(candidate); n++) candidate = `${stem}-${n}.${ext}`;
    taken.add(candidate);
    const path = join(dir, candidate);
    try {
      writeFileSync(path, p.bytes);
    } catch (e) {
      throw new NatsBridgeError(ERROR_DOWNLOAD, `writing ${path}`, { correlationId: cid, cause: e });
    }
  }
}

/** The extension `--out` gives each serialization; the byte types keep the name's own. */
const SAVED_EXTENSIONS: Record<(typeof PAYLOAD_SERIALIZATION)[PayloadType], string | undefined> = {
  utf8: "txt",
  json: "json",
  json_rows: "json",
  arrow_ipc: "arrows",
  bytes: undefined,
};

/**
 * A file name for a payload, as the Rust CLI makes it: the dataname made safe (characters
 * other than ASCII letters, digits, `.`, `_`, `-` become `_`; no leading dot; `payload` when
 * nothing is left) with the type's extension; the byte types keep the name's own extension,
 * else `.bin`.
 */
export function savedName(dataname: string, payloadType: string): string {
  let safe = Array.from(dataname, (c) => (/^[A-Za-z0-9._-]$/.test(c) ? c : "_")).join("").replace(/^\.+/, "");
  if (safe === "") safe = "payload";
  const dot = safe.lastIndexOf(".");
  const ownExt = dot < 0 || dot === safe.length - 1 ? undefined : safe.slice(dot + 1);
  const serialization = Object.prototype.hasOwnProperty.call(PAYLOAD_SERIALIZATION, payloadType) ? PAYLOAD_SERIALIZATION[payloadType as PayloadType] : undefined;
  const ext = serialization === undefined ? undefined : SAVED_EXTENSIONS[serialization];
  if (ext === undefined) return ownExt === undefined ? `${safe}.bin` : safe;
  const stem = ownExt === ext ? safe.slice(0, dot) : safe;
  return `${stem}.${ext}`;
}
