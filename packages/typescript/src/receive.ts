/**
 * `smartreceive`: limits first, parse and check the envelope (the generated reader
 * validator), then for each payload decode the base64 or download the link (allowed hosts
 * only, `fetchWithBackoff`), verify `size` and `metadata.sha256`, and deserialize. A link
 * Arrow table is decoded over the downloaded buffer without copying its column data.
 */
import {
  ERROR_BAD_BYTES,
  ERROR_BAD_OPTION,
  ERROR_ENVELOPE_TOO_LARGE,
  ERROR_HOST_NOT_ALLOWED,
  ERROR_INTEGRITY,
  ERROR_NOT_ENVELOPE,
  ERROR_NOT_JSON,
  ERROR_PAYLOAD_TOO_LARGE,
  ERROR_UNKNOWN_PAYLOAD_TYPE,
  ERROR_UNKNOWN_TRANSPORT,
  HEADER_CORRELATION_ID,
  MAX_ENVELOPE_BYTES,
  MAX_PAYLOADS,
  validateMsgEnvelopeV1,
  type MsgEnvelopeV1,
  type MsgPayloadV1,
  type PayloadType,
} from "@natsbridge/types";
import { fileserverUrlSourced, installedFileLinkReader } from "./config.js";
import { allowedHost } from "./hosts.js";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { DEFAULT_FETCH, FETCH_OPTIONS, fetchHashed, type FetchOptions } from "./fetch.js";
import { parseStrictJson } from "./json.js";
import { emit, logging } from "./log.js";
import { checkArgument, checkOptions, describe, type OptionSpec } from "./options.js";
import { DEFAULT_TABLE_LIMITS, TABLE_LIMITS_OPTIONS, decodePayload, isKnownPayloadType, numRows, type DecodedData, type TableLimits } from "./payload.js";
import { base64Decode, hostAllowed, hostOf, redact, sha256Hex, sha256HexNow, utf8Length } from "./wire.js";

export interface ReceiveOptions {
  /**
   * Hosts links may be downloaded from: a list of http(s) URLs or origins (`http://files:8080`,
   * `https://secure.example`; see `allowedHost`), or `*` for any. Default: the host of
   * `FILESERVER_URL` (or of its default).
   */
  allowedHosts?: string[];
  /**
   * Directories `file://` links may be read from (a sender's local blob store on the same
   * machine, e.g. `natsbridge send --store dir:PATH`). Node only; none by default, and a
   * `file://` link outside them is URL_NOT_ALLOWED without the file system being touched.
   */
  allowedDirs?: string[];
  /** Retry schedule and limits of downloads (`maxBytes` also bounds declared sizes). */
  fetch?: ReceiveFetchOptions;
  /** Largest envelope accepted, bytes. Default MAX_ENVELOPE_BYTES (64 MiB). */
  maxEnvelopeBytes?: number;
  /** Most payloads per envelope. Default MAX_PAYLOADS (10 000). */
  maxPayloads?: number;
  /** Verify `metadata.sha256` when present. Default true. */
  verifySha256?: boolean;
  tableLimits?: TableLimits;
}

/** The download options a receive takes (the rest are the payload's). */
export type ReceiveFetchOptions = Omit<FetchOptions, "expectedSize" | "correlationId" | "hash">;

const { expectedSize: _e, correlationId: _c, hash: _h, ...RECEIVE_FETCH_OPTIONS } = FETCH_OPTIONS;

/** Every key of {@link ReceiveOptions} with its kind: unknown keys and wrong types are refused. */
export const RECEIVE_OPTIONS = {
  allowedHosts: "hosts",
  allowedDirs: "strings",
  fetch: { nested: RECEIVE_FETCH_OPTIONS satisfies OptionSpec<ReceiveFetchOptions> },
  maxEnvelopeBytes: "number",
  maxPayloads: "number",
  verifySha256: "boolean",
  tableLimits: { nested: TABLE_LIMITS_OPTIONS },
} as const satisfies OptionSpec<ReceiveOptions>;

/** A message as NATS delivers it (`Msg` from nats.js, a `JsMsg`, or anything with `data`). */
export interface MessageLike {
  data: Uint8Array;
  headers?: { get(name: string): string; keys(): string[] } | undefined;
}

/** One decoded payload: `dataname`, `data`, `payload_type`, plus how it travelled. */
export type ReceivedPayload = {
  [K in PayloadType]: {
    dataname: string;
    payload_type: K;
    data: DecodedData[K];
    transport: "direct" | "link";
    /** The serialized bytes as carried (after base64 decoding or download). */
    bytes: Uint8Array;
    /** Lowercase hex SHA-256 of `bytes`. */
    sha256: string;
  };
}[PayloadType];

/** A received envelope with its payloads decoded. */
export interface Received {
  /** The envelope as it arrived (link payloads still hold their URLs). */
  envelope: MsgEnvelopeV1;
  /** The payloads, decoded, in envelope order. */
  payloads: ReceivedPayload[];
  /** The NATS headers of the message. */
  headers: Record<string, string>;
  /**
   * The first payload named `dataname` (`received.payload(name)`, as in every runtime). A
   * non-enumerable own method: the object stays plain data for `JSON.stringify`,
   * `structuredClone` and `assert.deepStrictEqual`; a copy made by spreading (`{...received}`)
   * does not keep it (use {@link payloadNamed} there).
   */
  readonly payload: (dataname: string) => ReceivedPayload | undefined;
}

/** The fields of a {@link Received}, without its `payload` lookup. */
export type ReceivedFields = Omit<Received, "payload">;

/** `fields` as a {@link Received}: the same object, given its non-enumerable `payload(dataname)` lookup. */
export function withPayloadLookup(fields: ReceivedFields): Received {
  return Object.defineProperty(fields, "payload", {
    value: (dataname: string) => fields.payloads.find((p) => p.dataname === dataname),
    enumerable: false,
    writable: false,
    configurable: true,
  }) as Received;
}

/**
 * The first payload named `dataname`.
 * @deprecated Use `received.payload(dataname)`, the name every runtime uses; `payloadNamed`
 * stays for one release.
 */
export function payloadNamed(received: ReceivedFields, dataname: string): ReceivedPayload | undefined {
  checkReceived(received, "received", "payloadNamed");
  checkArgument(dataname, "string", "dataname", "payloadNamed");
  return received.payloads.find((p) => p.dataname === dataname);
}

/** The reference's shape: `[dataname, data, payload_type]` per payload. */
export function payloadTuples(received: Received): [string, unknown, PayloadType][] {
  checkReceived(received, "received", "payloadTuples");
  return received.payloads.map((p) => [p.dataname, p.data, p.payload_type]);
}

function headersOf(msg: MessageLike): Record<string, string> {
  const out: Record<string, string> = {};
  const h = msg.headers;
  if (h === undefined || h === null) return out;
  // nats.js's headers iterate as [name, values] (what `get` reads the first of), without the
  // array of every name `get` builds per call; anything else is read through keys and get.
  if (typeof (h as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function") {
    let all = true;
    for (const entry of h as unknown as Iterable<unknown>) {
      const [k, v] = Array.isArray(entry) ? (entry as [unknown, unknown]) : [undefined, undefined];
      if (typeof k !== "string" || !Array.isArray(v)) {
        all = false;
        break;
      }
      out[k] = v[0] as string;
    }
    if (all) return out;
    for (const k of Object.keys(out)) delete out[k];
  }
  for (const k of h.keys()) out[k] = h.get(k);
  return out;
}

/** Best effort: the correlation id of something that failed to parse as an envelope. */
function looseCorrelationId(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const c = (value as Record<string, unknown>)["correlation_id"];
  return typeof c === "string" ? Array.from(c).slice(0, 100).join("") : undefined;
}

/** INVALID_ARGUMENT unless `value` is what smartreceive returned (an object with `envelope` and `payloads`). */
export function checkReceived(value: unknown, name: string, where: string): void {
  const r = value as { envelope?: unknown; payloads?: unknown } | null;
  if (typeof r !== "object" || r === null || typeof r.envelope !== "object" || r.envelope === null || !Array.isArray(r.payloads)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: \`${name}\` must be what smartreceive returned ({ envelope, payloads, … }), got ${describe(value)}`);
  }
}

/** INVALID_ARGUMENT unless `msg` is a NATS message (an object with `data` bytes), bytes or text. */
export function checkMessage(msg: unknown, where: string): void {
  if (typeof msg === "string" || msg instanceof Uint8Array) return;
  const m = msg as { data?: unknown; headers?: { get?: unknown; keys?: unknown } } | null;
  if (typeof m === "object" && m !== null && m.data instanceof Uint8Array) {
    if (m.headers === undefined || m.headers === null || (typeof m.headers.get === "function" && typeof m.headers.keys === "function")) return;
  }
  throw new NatsBridgeError(
    ERROR_BAD_OPTION,
    `calling ${where}: \`msg\` must be a NATS message (what a subscription yields), envelope bytes (a Uint8Array) or envelope text, got ${describe(msg)}`,
  );
}

/** Decodes a NATS message (or raw envelope bytes / text) carrying a `msg_envelope_v1`. */
export async function smartreceive(msg: MessageLike | Uint8Array | string, options: ReceiveOptions = {}): Promise<Received> {
  checkOptions(options, RECEIVE_OPTIONS, "smartreceive");
  checkMessage(msg, "smartreceive");
  const received = receiveChecked(msg, options);
  return received instanceof Promise ? await received : received;
}

/**
 * {@link smartreceive} of a message and options already checked (an EnvelopeConsumer checks its
 * options once). An envelope whose payloads are all direct is decoded without waiting for
 * anything (the result is not a Promise) where SHA-256 is synchronous (Node, or small payloads).
 */
export function receiveChecked(msg: MessageLike | Uint8Array | string, options: ReceiveOptions): Received | Promise<Received> {
  const isMsg = typeof msg === "object" && !(msg instanceof Uint8Array);
  const headers = isMsg ? headersOf(msg) : {};
  const hint = headers[HEADER_CORRELATION_ID];
  const failed = (e: unknown, cid: string | undefined): never => {
    const err = asBridgeError(e, ERROR_BAD_BYTES, "receiving", { correlationId: cid });
    emit("warn", "receive failed", cid ?? "", { stage: "receive", code: err.code, dataname: err.dataname, error: err.message });
    throw err;
  };
  let envelope: MsgEnvelopeV1;
  const named: Named = { correlationId: hint };
  try {
    envelope = readEnvelope(isMsg ? msg.data : msg, options, named);
  } catch (e) {
    return failed(e, named.correlationId);
  }
  const cid = envelope.correlation_id;
  const payloads: ReceivedPayload[] = [];
  const list = envelope.payloads;
  let allowed: Allowed | undefined;
  const allowedHosts = (): Allowed => (allowed ??= allowedList(options.allowedHosts));
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    let got: ReceivedPayload | Promise<ReceivedPayload>;
    try {
      got = receivePayload(p, options, allowedHosts, cid);
    } catch (e) {
      return failed(asBridgeError(e, ERROR_BAD_BYTES, "decoding", { dataname: p.dataname }), cid);
    }
    if (got instanceof Promise) return receiveRest(envelope, headers, payloads, i, got, options, allowedHosts).catch((e: unknown) => failed(e, cid));
    payloads.push(got);
  }
  return withPayloadLookup({ envelope, payloads, headers });
}

/** The payloads from `i` on, the first of them `pending`, once one had to be waited for. */
async function receiveRest(
  envelope: MsgEnvelopeV1,
  headers: Record<string, string>,
  payloads: ReceivedPayload[],
  i: number,
  pending: Promise<ReceivedPayload>,
  options: ReceiveOptions,
  allowedHosts: () => Allowed,
): Promise<Received> {
  const list = envelope.payloads;
  for (let j = i; j < list.length; j++) {
    const p = list[j]!;
    try {
      payloads.push(await (j === i ? pending : receivePayload(p, options, allowedHosts, envelope.correlation_id)));
    } catch (e) {
      throw asBridgeError(e, ERROR_BAD_BYTES, "decoding", { dataname: p.dataname });
    }
  }
  return withPayloadLookup({ envelope, payloads, headers });
}

/** The correlation id a failure names: the header's, then one read loosely from the JSON, then the envelope's. */
interface Named {
  correlationId: string | undefined;
}

/** The generated validator's reader mode (unknown enum values accepted), one object for every call. */
const READER = { reader: true } as const;

/** Limits, strict JSON, the reader's schema check: the envelope; `named` says whose it is as soon as that is known. */
function readEnvelope(body: Uint8Array | string, options: ReceiveOptions, named: Named): MsgEnvelopeV1 {
  const maxEnvelope = options.maxEnvelopeBytes ?? MAX_ENVELOPE_BYTES;
  // The limit is in UTF-8 bytes: text has at least one per UTF-16 unit, at most three.
  let length = typeof body === "string" ? body.length : body.byteLength;
  if (typeof body === "string" && length <= maxEnvelope && length * 3 > maxEnvelope) length = utf8Length(body);
  if (length > maxEnvelope) {
    throw new NatsBridgeError(ERROR_ENVELOPE_TOO_LARGE, `envelope of ${length} bytes exceeds the limit ${maxEnvelope}`);
  }
  const parsed = parseStrictJson(body, { envelope: true });
  if (!parsed.ok) {
    // Sound JSON with an integer written 5.0 is a schema failure, naming its correlation id;
    // nothing is read from JSON that is not strict.
    if (parsed.value !== undefined) {
      named.correlationId = looseCorrelationId(parsed.value) ?? named.correlationId;
      throw new NatsBridgeError(ERROR_NOT_ENVELOPE, `not a valid msg_envelope_v1: ${parsed.reason}`);
    }
    throw new NatsBridgeError(ERROR_NOT_JSON, `not a valid msg_envelope_v1: not strict JSON: ${parsed.reason}`, { cause: parsed.cause });
  }
  const value = parsed.value;
  const checked = validateMsgEnvelopeV1(value, READER);
  if (!checked.ok) {
    named.correlationId = looseCorrelationId(value) ?? named.correlationId;
    const why = checked.issues.slice(0, 3).map((i) => `${i.path || "/"} ${i.message}`).join("; ");
    throw new NatsBridgeError(ERROR_NOT_ENVELOPE, `not a valid msg_envelope_v1: ${why}`);
  }
  const envelope = checked.value;
  named.correlationId = envelope.correlation_id;
  if (logging()) emit("info", "received", envelope.correlation_id, { stage: "receive", subject: envelope.send_to, bytes: length, payloads: envelope.payloads.length });
  const maxPayloads = options.maxPayloads ?? MAX_PAYLOADS;
  if (envelope.payloads.length > maxPayloads) {
    throw new NatsBridgeError(ERROR_ENVELOPE_TOO_LARGE, `${envelope.payloads.length} payloads, more than the limit ${maxPayloads}`);
  }
  return envelope;
}

/** The bytes of a `file://` link, read by the installed reader (Node) from an allowed directory. */
async function readFileLink(url: string, size: number, allowedDirs: readonly string[]): Promise<Uint8Array> {
  if (allowedDirs.length === 0) {
    throw new NatsBridgeError(ERROR_HOST_NOT_ALLOWED, `file:// links are not allowed (no allowed directory): ${redact(url)}`);
  }
  const reader = installedFileLinkReader();
  if (reader === undefined) throw new NatsBridgeError(ERROR_HOST_NOT_ALLOWED, `file:// links are read only in Node: ${redact(url)}`);
  return reader(url, size, allowedDirs);
}

/** The allowed hosts as `host:port` (or `*`): those given, else the host of the file server URL, with where they came from. */
interface Allowed {
  hosts: string[];
  /** How to allow another host, and where the list came from, for URL_NOT_ALLOWED. */
  source: string;
}

function allowedList(given: readonly string[] | undefined): Allowed {
  if (given !== undefined) return { hosts: given.map(allowedHost), source: "the allowedHosts option" };
  const { url, source } = fileserverUrlSourced();
  const host = hostOf(url);
  return { hosts: host === undefined ? [] : [host], source: `the host of the file server URL; ${source}` };
}

/**
 * One payload: checked, its bytes had (base64, a file, a download), verified and decoded. A
 * direct payload whose hash needs no waiting is done at once (not a Promise).
 */
function receivePayload(p: MsgPayloadV1, options: ReceiveOptions, allowed: () => Allowed, cid: string): ReceivedPayload | Promise<ReceivedPayload> {
  if (!isKnownPayloadType(p.payload_type)) {
    throw new NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, `unknown payload_type \`${p.payload_type}\``);
  }
  const maxBytes = options.fetch?.maxBytes ?? DEFAULT_FETCH.maxBytes;
  if (p.size > maxBytes) {
    throw new NatsBridgeError(ERROR_PAYLOAD_TOO_LARGE, `declared size ${p.size} exceeds the limit ${maxBytes}`);
  }
  if (!Number.isSafeInteger(p.size) || p.size < 0) {
    throw new NatsBridgeError(ERROR_NOT_ENVELOPE, `\`size\` ${p.size} is not a byte count`);
  }
  if (p.transport === "direct") {
    const bytes = base64Decode(p.data, p.size);
    const sha256 = sha256HexNow(bytes);
    if (sha256 !== undefined) return verifiedPayload(p, bytes, sha256, options, cid);
    return sha256Hex(bytes).then((h) => verifiedPayload(p, bytes, h, options, cid));
  }
  if (p.transport !== "link") throw new NatsBridgeError(ERROR_UNKNOWN_TRANSPORT, `unknown transport \`${p.transport}\``);
  return linkPayload(p, options, allowed(), cid);
}

async function linkPayload(p: MsgPayloadV1, options: ReceiveOptions, allowed: Allowed, cid: string): Promise<ReceivedPayload> {
  let bytes: Uint8Array;
  let sha256: string | undefined;
  if (/^file:/i.test(p.data)) {
    bytes = await readFileLink(p.data, p.size, options.allowedDirs ?? []);
  } else {
    if (hostOf(p.data) === undefined) {
      throw new NatsBridgeError(ERROR_HOST_NOT_ALLOWED, `link payload \`data\` is not an http(s) URL: ${redact(p.data)}`);
    }
    if (!hostAllowed(p.data, allowed.hosts)) {
      const host = hostOf(p.data) ?? "?";
      throw new NatsBridgeError(
        ERROR_HOST_NOT_ALLOWED,
        `downloading ${redact(p.data)}: links to ${host} are not allowed (allowed: ${allowed.hosts.join(", ") || "none"}, ${allowed.source}). If you trust it, add its origin to allowedHosts (\`http://${host}\`)`,
      );
    }
    const fetched = await fetchHashed(p.data, { ...options.fetch, expectedSize: p.size, correlationId: cid });
    bytes = fetched.bytes;
    sha256 = fetched.sha256;
  }
  sha256 ??= await sha256Hex(bytes);
  return verifiedPayload(p, bytes, sha256, options, cid);
}

/** The declared SHA-256 checked against the bytes', then the bytes decoded. */
function verifiedPayload(p: MsgPayloadV1, bytes: Uint8Array, sha256: string, options: ReceiveOptions, cid: string): ReceivedPayload {
  const declared = p.metadata?.["sha256"];
  if (typeof declared === "string" && (options.verifySha256 ?? true) && declared.toLowerCase() !== sha256) {
    throw new NatsBridgeError(ERROR_INTEGRITY, `sha256 of the bytes is ${sha256}, the payload declares ${declared}`);
  }
  const data = decodePayload(p.payload_type as PayloadType, bytes, options.tableLimits ?? DEFAULT_TABLE_LIMITS);
  if (logging()) {
    emit("debug", "decoded", cid, { stage: "deserialize", dataname: p.dataname, transport: p.transport, bytes: bytes.byteLength, rows: numRows(p.payload_type, data) });
  }
  return { dataname: p.dataname, payload_type: p.payload_type, data, transport: p.transport, bytes, sha256 } as ReceivedPayload;
}
