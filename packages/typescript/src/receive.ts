/**
 * `smartreceive`: limits first, parse and check the envelope (the generated reader
 * validator), then for each payload decode the base64 or download the link (allowed hosts
 * only, `fetchWithBackoff`), verify `size` and `metadata.sha256`, and deserialize. A link
 * Arrow table is decoded over the downloaded buffer without copying its column data.
 */
import { validateMsgEnvelopeV1, type MsgEnvelopeV1, type MsgPayloadV1, type PayloadType } from "@natsbridge/types";
import { fileserverUrl } from "./config.js";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { DEFAULT_FETCH, fetchHashed, type FetchOptions } from "./fetch.js";
import { log } from "./log.js";
import { DEFAULT_TABLE_LIMITS, deserializePayload, isKnownPayloadType, numRows, type DecodedData, type TableLimits } from "./payload.js";
import { HEADER_CORRELATION_ID, base64Decode, hostAllowed, hostOf, normalizeHost, redact, sha256Hex, utf8Length } from "./wire.js";

export interface ReceiveOptions {
  /** Hosts links may be downloaded from (`host`, `host:port` or a URL; `*` = any). Default: the host of `FILESERVER_URL`. */
  allowedHosts?: string[];
  /** Retry schedule and limits of downloads (`maxBytes` also bounds declared sizes). */
  fetch?: Omit<FetchOptions, "expectedSize" | "correlationId" | "hash">;
  /** Largest envelope accepted, bytes. Default 64 MiB. */
  maxEnvelopeBytes?: number;
  /** Most payloads per envelope. Default 10 000. */
  maxPayloads?: number;
  /** Verify `metadata.sha256` when present. Default true. */
  verifySha256?: boolean;
  tableLimits?: TableLimits;
}

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
}

/** The first payload named `dataname`. */
export function payloadNamed(received: Received, dataname: string): ReceivedPayload | undefined {
  return received.payloads.find((p) => p.dataname === dataname);
}

/** The reference's shape: `[dataname, data, payload_type]` per payload. */
export function payloadTuples(received: Received): [string, unknown, PayloadType][] {
  return received.payloads.map((p) => [p.dataname, p.data, p.payload_type]);
}

const MAX_ENVELOPE_BYTES = 64 * 2 ** 20;
const MAX_PAYLOADS = 10_000;

function headersOf(msg: MessageLike): Record<string, string> {
  const out: Record<string, string> = {};
  const h = msg.headers;
  if (h === undefined) return out;
  for (const k of h.keys()) out[k] = h.get(k);
  return out;
}

/** Best effort: the correlation id of something that failed to parse as an envelope. */
function looseCorrelationId(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const c = (value as Record<string, unknown>)["correlation_id"];
  return typeof c === "string" ? Array.from(c).slice(0, 100).join("") : undefined;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes a NATS message (or raw envelope bytes / text) carrying a `msg_envelope_v1`. */
export async function smartreceive(msg: MessageLike | Uint8Array | string, options: ReceiveOptions = {}): Promise<Received> {
  const isMsg = typeof msg === "object" && !(msg instanceof Uint8Array);
  const headers = isMsg ? headersOf(msg) : {};
  const hint = headers[HEADER_CORRELATION_ID];
  let cid: string | undefined = hint;
  try {
    const body = isMsg ? msg.data : msg;
    const maxEnvelope = options.maxEnvelopeBytes ?? MAX_ENVELOPE_BYTES;
    // The limit is in UTF-8 bytes: text has at least one per UTF-16 unit, at most three.
    let length = typeof body === "string" ? body.length : body.byteLength;
    if (typeof body === "string" && length <= maxEnvelope && length * 3 > maxEnvelope) length = utf8Length(body);
    if (length > maxEnvelope) {
      throw new NatsBridgeError("PAYLOAD_TOO_LARGE", `envelope of ${length} bytes exceeds the limit ${maxEnvelope}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(typeof body === "string" ? body : strictUtf8.decode(body));
    } catch (e) {
      throw new NatsBridgeError("INVALID_ENVELOPE", "not a valid msg_envelope_v1: not JSON", { cause: e });
    }
    const checked = validateMsgEnvelopeV1(value, { reader: true });
    if (!checked.ok) {
      cid = looseCorrelationId(value) ?? hint;
      const why = checked.issues.slice(0, 3).map((i) => `${i.path || "/"} ${i.message}`).join("; ");
      throw new NatsBridgeError("INVALID_ENVELOPE", `not a valid msg_envelope_v1: ${why}`);
    }
    const envelope = checked.value;
    cid = envelope.correlation_id;
    log("info", "received", cid, { stage: "receive", subject: envelope.send_to, bytes: length, payloads: envelope.payloads.length });
    const maxPayloads = options.maxPayloads ?? MAX_PAYLOADS;
    if (envelope.payloads.length > maxPayloads) {
      throw new NatsBridgeError("PAYLOAD_TOO_LARGE", `${envelope.payloads.length} payloads, more than the limit ${maxPayloads}`);
    }
    const allowed = (options.allowedHosts ?? [fileserverUrl()]).map(normalizeHost);
    const payloads: ReceivedPayload[] = [];
    for (const p of envelope.payloads) {
      try {
        payloads.push(await receivePayload(p, options, allowed, cid));
      } catch (e) {
        throw asBridgeError(e, "DESERIALIZATION_ERROR", "decoding", { dataname: p.dataname });
      }
    }
    return { envelope, payloads, headers };
  } catch (e) {
    const err = asBridgeError(e, "DESERIALIZATION_ERROR", "receiving", { correlationId: cid });
    log("warn", "receive failed", cid ?? "", { stage: "receive", code: err.code, dataname: err.dataname, error: err.message });
    throw err;
  }
}

async function receivePayload(p: MsgPayloadV1, options: ReceiveOptions, allowed: string[], cid: string): Promise<ReceivedPayload> {
  if (!isKnownPayloadType(p.payload_type)) {
    throw new NatsBridgeError("INVALID_PAYLOAD_TYPE", `unknown payload_type \`${p.payload_type}\``);
  }
  const maxBytes = options.fetch?.maxBytes ?? DEFAULT_FETCH.maxBytes;
  if (p.size > maxBytes) {
    throw new NatsBridgeError("PAYLOAD_TOO_LARGE", `declared size ${p.size} exceeds the limit ${maxBytes}`);
  }
  if (!Number.isSafeInteger(p.size) || p.size < 0) {
    throw new NatsBridgeError("INVALID_ENVELOPE", `\`size\` ${p.size} is not a byte count`);
  }
  let bytes: Uint8Array;
  let sha256: string | undefined;
  if (p.transport === "direct") {
    bytes = base64Decode(p.data, p.size);
  } else if (p.transport === "link") {
    if (hostOf(p.data) === undefined) {
      throw new NatsBridgeError("URL_NOT_ALLOWED", `link payload \`data\` is not an http(s) URL: ${redact(p.data)}`);
    }
    if (!hostAllowed(p.data, allowed)) {
      throw new NatsBridgeError("URL_NOT_ALLOWED", `links to ${hostOf(p.data) ?? "?"} are not allowed (allowed: ${allowed.join(", ")})`);
    }
    const fetched = await fetchHashed(p.data, { ...options.fetch, expectedSize: p.size, correlationId: cid });
    bytes = fetched.bytes;
    sha256 = fetched.sha256;
  } else {
    throw new NatsBridgeError("INVALID_TRANSPORT", `unknown transport \`${p.transport}\``);
  }
  sha256 ??= await sha256Hex(bytes);
  const declared = p.metadata?.["sha256"];
  if (typeof declared === "string" && (options.verifySha256 ?? true) && declared.toLowerCase() !== sha256) {
    throw new NatsBridgeError("INTEGRITY_MISMATCH", `sha256 of the bytes is ${sha256}, the payload declares ${declared}`);
  }
  const data = deserializePayload(p.payload_type, bytes, options.tableLimits ?? DEFAULT_TABLE_LIMITS);
  log("debug", "decoded", cid, { stage: "deserialize", dataname: p.dataname, transport: p.transport, bytes: bytes.byteLength, rows: numRows(p.payload_type, data) });
  return { dataname: p.dataname, payload_type: p.payload_type, data, transport: p.transport, bytes, sha256 } as ReceivedPayload;
}
