/**
 * Wire helpers: ids, timestamps, SHA-256 (WebCrypto), base64, the NATS headers that travel
 * beside an envelope and their exact wire length, safe file names, host rules. Pure
 * functions over web-platform APIs (no Node-only API), so they run in a browser too.
 */
import { ERROR_BAD_BYTES, ERROR_INTEGRITY, ERROR_WRITER_RULE, HEADER_CORRELATION_ID, HEADER_MSG_ID } from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";
import { checkArgument } from "./options.js";

/** The profile's header names (`@natsbridge/types`), re-exported under the names this package always had. */
export { HEADER_CORRELATION_ID, HEADER_MSG_ID };

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A random (v4) UUID. */
export function newUuid(): string {
  return globalThis.crypto.randomUUID();
}

export function isUuid(text: string): boolean {
  return UUID_RE.test(text);
}

/** `value` checked as a UUID, or a new one when there is none (SERIALIZATION_ERROR, a writer rule, otherwise). */
export function checkedUuid(value: string | undefined, field: string): string {
  if (value === undefined) return newUuid();
  if (typeof value !== "string" || !isUuid(value)) {
    throw new NatsBridgeError(ERROR_WRITER_RULE, `\`${field}\` must be a UUID (8-4-4-4-12 hex), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** INVALID_ARGUMENT unless `value` is a Uint8Array. */
export function checkBytes(value: unknown, name: string, where: string): void {
  if (!(value instanceof Uint8Array)) checkArgument(value, "bytes", name, where);
}

/** Now, as an ISO 8601 UTC timestamp with milliseconds (`2026-11-29T21:58:30.123Z`). */
export function nowTimestamp(): string {
  return new Date().toISOString();
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

/**
 * Below this many bytes SHA-256 is computed in JavaScript when the platform has no native
 * synchronous hash (a browser): WebCrypto's digest is asynchronous (a thread-pool round trip
 * of ~20 µs in Node), which dominates small messages.
 */
const SMALL_HASH = 16 * 1024;

/**
 * Below this many bytes a native synchronous hash (node:crypto in Node) is used; larger
 * inputs (link payloads) go to WebCrypto, which hashes off the event loop while an upload runs.
 * Every direct payload is smaller (the server's max_payload).
 */
const NATIVE_SYNC_HASH = 1 << 20;

/** Lowercase hex SHA-256, synchronous and native: what the Node entry installs (node:crypto). */
export type NativeSha256 = (bytes: Uint8Array) => string;

let nativeSha256: NativeSha256 | undefined;

/** Installs the platform's native synchronous SHA-256 (the Node entry installs node:crypto's). */
export function setNativeSha256(hash: NativeSha256 | undefined): void {
  checkArgument(hash, "function", "hash", "setNativeSha256", true);
  nativeSha256 = hash;
}

/**
 * Lowercase hex SHA-256 of `bytes` when it can be had without waiting (native in Node below
 * 1 MiB, JavaScript below 16 KiB), `undefined` otherwise (then {@link sha256Hex}). Unchecked:
 * for callers holding a Uint8Array.
 */
export function sha256HexNow(bytes: Uint8Array): string | undefined {
  const n = bytes.byteLength;
  if (nativeSha256 !== undefined && n < NATIVE_SYNC_HASH) return nativeSha256(bytes);
  if (n < SMALL_HASH) return sha256HexSync(bytes);
  return undefined;
}

/** Lowercase hex SHA-256: native or JavaScript for small inputs ({@link sha256HexNow}), WebCrypto (`crypto.subtle.digest`) for the rest. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  checkBytes(bytes, "bytes", "sha256Hex");
  const now = sha256HexNow(bytes);
  if (now !== undefined) return now;
  const digest = await globalThis.crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return hex(new Uint8Array(digest));
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Uint32Array(64);

/** SHA-256 (FIPS 180-4) in JavaScript, synchronous; lowercase hex. */
export function sha256HexSync(bytes: Uint8Array): string {
  checkBytes(bytes, "bytes", "sha256HexSync");
  const n = bytes.byteLength;
  const blocks = Math.ceil((n + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(bytes);
  padded[n] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(n / 0x20000000));
  view.setUint32(padded.length - 4, (n << 3) >>> 0);
  let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
  let h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  for (let off = 0; off < padded.length; off += 64) {
    for (let t = 0; t < 16; t++) W[t] = view.getUint32(off + t * 4);
    for (let t = 16; t < 64; t++) {
      const a = W[t - 15]!, b = W[t - 2]!;
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t]! + W[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
  }
  let out = "";
  for (const v of [h0, h1, h2, h3, h4, h5, h6, h7]) out += (v >>> 0).toString(16).padStart(8, "0");
  return out;
}

/** Length of the padded base64 text of `n` bytes. */
export function encodedLen(n: number): number {
  return Math.ceil(n / 3) * 4;
}

type NodeBufferInstance = Uint8Array & { toString(enc: string): string; write(text: string, encoding: string): number };
interface NodeBufferLike {
  from(data: ArrayBufferLike | string, byteOffsetOrEncoding?: number | string, length?: number): NodeBufferInstance;
  /** A buffer over its own ArrayBuffer of exactly `size` bytes (not Node's shared pool). */
  allocUnsafeSlow(size: number): NodeBufferInstance;
  byteLength(text: string, encoding: "utf8"): number;
}
// Feature detection, not an import: Node's Buffer is the fastest base64 codec where it exists;
// browsers use Uint8Array.prototype.toBase64 / fromBase64, or btoa / atob.
const NodeBuffer = (globalThis as { Buffer?: NodeBufferLike }).Buffer;
type WithBase64 = { toBase64?: () => string };
type Base64Ctor = { fromBase64?: (s: string) => Uint8Array };

const textEncoder = new TextEncoder();

/**
 * UTF-8 of `text` (well-formed) for smartsend's own use: Node's `Buffer.from` where it exists
 * (small results are slices of its shared pool: no allocation of their own), else
 * `TextEncoder`. What leaves the runtime (an uploader's bytes) goes through {@link ownBytes}.
 */
export function utf8Encode(text: string): Uint8Array {
  return NodeBuffer !== undefined ? NodeBuffer.from(text, "utf8") : textEncoder.encode(text);
}

/** `bytes` of {@link utf8Encode} as `TextEncoder` gives them: a plain Uint8Array over a buffer of its own. */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  if (Object.getPrototypeOf(bytes) === Uint8Array.prototype) return bytes;
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength) return new Uint8Array(bytes.buffer, 0, bytes.byteLength);
  return new Uint8Array(bytes);
}

/** Standard, padded base64 of `bytes`. */
export function base64Encode(bytes: Uint8Array): string {
  checkBytes(bytes, "bytes", "base64Encode");
  if (NodeBuffer !== undefined) {
    return NodeBuffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  }
  const native = (bytes as WithBase64).toBase64;
  if (native !== undefined) return native.call(bytes);
  let out = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    out += btoa(String.fromCharCode(...bytes.subarray(i, i + chunk)));
  }
  return out;
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes canonical standard padded base64 that must hold exactly `size` bytes: the length
 * is checked before anything is allocated (INTEGRITY_MISMATCH), then the alphabet, padding
 * and trailing bits (DESERIALIZATION_ERROR).
 */
export function base64Decode(text: string, size: number): Uint8Array {
  checkArgument(text, "string", "text", "base64Decode");
  checkArgument(size, "count", "size", "base64Decode");
  if (text.length !== encodedLen(size)) {
    throw new NatsBridgeError(ERROR_INTEGRITY, `\`size\` is ${size} but \`data\` holds ${text.length} base64 characters`);
  }
  if (NodeBuffer !== undefined) {
    // Decoded into its own buffer (so `bytes.buffer` holds this payload only, aligned, as Arrow
    // likes it). Text that encodes what it decodes to, exactly, is canonical base64 of the
    // alphabet holding `size` bytes: all the checks below at once. Anything else takes them
    // one by one, for the error that names the fault.
    const own = NodeBuffer.allocUnsafeSlow(size);
    if (own.write(text, "base64") === size && own.toString("base64") === text) return new Uint8Array(own.buffer, 0, size);
  }
  if (!BASE64_RE.test(text)) {
    throw new NatsBridgeError(ERROR_BAD_BYTES, "`data` is not standard padded base64");
  }
  let bytes: Uint8Array;
  if (NodeBuffer !== undefined) {
    const b = NodeBuffer.from(text, "base64");
    // Small results live in Node's shared 8 KiB pool: copy them out, so that `bytes.buffer`
    // holds this payload only (and starts aligned, as Arrow likes it).
    bytes = b.byteOffset === 0 && b.buffer.byteLength === b.byteLength ? new Uint8Array(b.buffer, 0, b.byteLength) : new Uint8Array(b);
  } else {
    const native = (Uint8Array as unknown as Base64Ctor).fromBase64;
    try {
      if (native !== undefined) {
        bytes = native(text);
      } else {
        const bin = atob(text);
        bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      }
    } catch (e) {
      throw new NatsBridgeError(ERROR_BAD_BYTES, "`data` is not standard padded base64", { cause: e });
    }
  }
  if (bytes.length !== size) {
    throw new NatsBridgeError(ERROR_INTEGRITY, `\`size\` is ${size} but \`data\` decodes to ${bytes.length} bytes`);
  }
  // Canonical: the last quantum must re-encode to exactly what was sent (padding, zero bits).
  if (size > 0) {
    const lastStart = Math.floor((size - 1) / 3) * 3;
    if (base64Encode(bytes.subarray(lastStart)) !== text.slice((lastStart / 3) * 4)) {
      throw new NatsBridgeError(ERROR_BAD_BYTES, "`data` is not canonical base64");
    }
  }
  return bytes;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// JSON.stringify writes a lone surrogate as a `\udXXX` escape (and escapes nothing else in that range).
const LONE_SURROGATE_ESCAPE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/;

/**
 * Whether `text` is valid Unicode: no lone surrogate. A JavaScript string may hold one; it has
 * no UTF-8 form (`TextEncoder` would silently write U+FFFD instead).
 */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Whether JSON text made by `JSON.stringify` holds a lone surrogate (written as a `\udXXX`
 * escape, which strict readers such as Rust's serde_json reject).
 */
export function jsonHasLoneSurrogate(json: string): boolean {
  return json.includes("\\ud") && LONE_SURROGATE_ESCAPE.test(json);
}

/** Bytes of `text` as UTF-8, without encoding it (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(text: string): number {
  // Node counts natively, and the same way (a lone surrogate is written as U+FFFD).
  if (NodeBuffer !== undefined) return NodeBuffer.byteLength(text, "utf8");
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 2 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/** The headers an envelope travels with: `Nats-Msg-Id`, `Correlation-Id`, then the extras. */
export function buildHeaders(msgId: string, correlationId: string, extra: Record<string, string> = {}): [string, string][] {
  const out: [string, string][] = [
    [HEADER_MSG_ID, msgId],
    [HEADER_CORRELATION_ID, correlationId],
  ];
  for (const [k, v] of Object.entries(extra)) {
    if (k === HEADER_MSG_ID || k === HEADER_CORRELATION_ID) continue;
    out.push([k, v]);
  }
  return out;
}

/**
 * Bytes the headers take on the wire (`NATS/1.0\r\n`, `name: value\r\n` each, `\r\n`): they
 * count against the server's `max_payload`.
 */
export function headerLen(headers: [string, string][]): number {
  let n = "NATS/1.0\r\n\r\n".length;
  for (const [k, v] of headers) n += utf8Length(k) + 2 + utf8Length(v) + 2;
  return n;
}

/** A file name of `[A-Za-z0-9._-]` from a caller's dataname (at most 100 characters; `payload` when empty). */
export function fileName(dataname: string): string {
  const s = Array.from(dataname)
    .map((c) => (/^[A-Za-z0-9._-]$/.test(c) ? c : "_"))
    .slice(0, 100)
    .join("");
  return s === "" ? "payload" : s;
}

/** `host:port` of an http(s) URL (the port defaulted from the scheme), `undefined` otherwise. */
export function hostOf(url: string): string | undefined {
  checkArgument(url, "string", "url", "hostOf");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  const port = u.port !== "" ? u.port : u.protocol === "https:" ? "443" : "80";
  return `${u.hostname}:${port}`;
}

/** Whether a link may be downloaded: its `host:port` is one of `allowed` (normalized by `allowedHost`), or `*` is. */
export function hostAllowed(url: string, allowed: readonly string[]): boolean {
  const hp = hostOf(url);
  return hp !== undefined && allowed.some((a) => a === "*" || a === hp);
}

/**
 * The URL without user info and with its query redacted, for logs and errors. Text with user
 * info but no `://` is read as `nats://…` first (`alice:pw@host:4222` is not a URL of scheme
 * `alice` whose path holds the password).
 */
export function redact(url: string): string {
  if (!url.includes("://") && url.includes("@")) return redact(`nats://${url}`);
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    if (u.search !== "") u.search = "?REDACTED";
    const text = u.toString();
    // WHATWG URLs add a `/` path to `ws://host:port`; keep the text as it was written.
    return text.endsWith("/") && !url.endsWith("/") ? text.slice(0, -1) : text;
  } catch {
    return "<unparseable url>";
  }
}
