/**
 * The eight payload types and their serialization: text → UTF-8; dictionary → JSON;
 * arrowtable → Arrow IPC *stream*; jsontable → JSON array of row objects;
 * image/audio/video/binary → raw bytes. Decoding is the reverse and checks that the bytes
 * are what the type says (DESERIALIZATION_ERROR otherwise).
 */
import { Table, tableFromIPC, tableToIPC } from "apache-arrow";
import {
  ERROR_BAD_BYTES,
  ERROR_TABLE_LIMITS,
  ERROR_UNKNOWN_PAYLOAD_TYPE,
  ERROR_WRITER_RULE,
  PAYLOAD_SERIALIZATION,
  TABLE_MAX_BATCHES,
  TABLE_MAX_COLUMNS,
  isKnownPayloadType,
  type PayloadType,
} from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";
import { parseStrictJson } from "./json.js";
import { checkArgument, checkOptions, type OptionSpec } from "./options.js";
import { isWellFormed, jsonHasLoneSurrogate } from "./wire.js";

export type { PayloadType };

/** JSON values as a dictionary or a row carries them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What each payload type accepts when sending. */
export interface PayloadData {
  text: string;
  dictionary: unknown;
  arrowtable: Table | Uint8Array;
  jsontable: Record<string, unknown>[];
  image: Uint8Array | ArrayBuffer;
  audio: Uint8Array | ArrayBuffer;
  video: Uint8Array | ArrayBuffer;
  binary: Uint8Array | ArrayBuffer;
}

/** What each payload type decodes to when receiving. */
export interface DecodedData {
  text: string;
  dictionary: JsonValue;
  arrowtable: Table;
  jsontable: Record<string, JsonValue>[];
  image: Uint8Array;
  audio: Uint8Array;
  video: Uint8Array;
  binary: Uint8Array;
}

/** One payload to send: `[dataname, data, payloadType]`, as in every NATSBridge language. */
export type PayloadTuple = { [K in PayloadType]: [dataname: string, data: PayloadData[K], payloadType: K] }[PayloadType];

const utf8 = new TextEncoder();

function bytesOf(data: unknown, dataname: string, type: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new NatsBridgeError(ERROR_WRITER_RULE, `a ${type} payload needs a Uint8Array or ArrayBuffer`, { dataname });
}

function json(data: unknown, dataname: string, encode: (text: string) => Uint8Array = (t) => utf8.encode(t)): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (e) {
    throw new NatsBridgeError(ERROR_WRITER_RULE, "the value cannot be written as JSON", { dataname, cause: e });
  }
  if (text === undefined) throw new NatsBridgeError(ERROR_WRITER_RULE, "the value cannot be written as JSON", { dataname });
  if (jsonHasLoneSurrogate(text)) {
    throw new NatsBridgeError(ERROR_WRITER_RULE, "the value holds a string that is not valid Unicode (a lone surrogate)", { dataname });
  }
  return encode(text);
}

function isRow(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** How the bytes of a payload type are made (the profile's PAYLOAD_SERIALIZATION). */
export type Serialization = (typeof PAYLOAD_SERIALIZATION)[PayloadType];

/**
 * The serialization of `type` from the profile, `undefined` for a type it does not list
 * (refused with INVALID_PAYLOAD_TYPE, reading or writing: never guessed).
 */
export function serializationOf(type: string): Serialization | undefined {
  return Object.prototype.hasOwnProperty.call(PAYLOAD_SERIALIZATION, type) ? PAYLOAD_SERIALIZATION[type as PayloadType] : undefined;
}

/** Serializes one payload to the bytes that travel (before base64) or get uploaded. */
export function serializePayload(type: string, data: unknown, dataname: string): Uint8Array {
  checkArgument(type, "string", "type", "serializePayload");
  checkArgument(dataname, "string", "dataname", "serializePayload");
  return serializeWith(type, data, dataname, (t) => utf8.encode(t));
}

/**
 * {@link serializePayload} of checked arguments, text written by `encode` (smartsend's:
 * `utf8Encode`, a Buffer in Node, made a plain Uint8Array again before it leaves the runtime).
 */
export function serializeWith(type: string, data: unknown, dataname: string, encode: (text: string) => Uint8Array): Uint8Array {
  const serialization = serializationOf(type);
  switch (serialization) {
    case "utf8":
      if (typeof data !== "string") throw new NatsBridgeError(ERROR_WRITER_RULE, "a text payload needs a string", { dataname });
      if (!isWellFormed(data)) throw new NatsBridgeError(ERROR_WRITER_RULE, "the text is not valid Unicode (a lone surrogate)", { dataname });
      return encode(data);
    case "json":
      return json(data, dataname, encode);
    case "json_rows":
      if (!Array.isArray(data) || !data.every(isRow)) {
        throw new NatsBridgeError(ERROR_WRITER_RULE, `a ${type} payload needs an array of row objects`, { dataname });
      }
      return json(data, dataname, encode);
    case "arrow_ipc":
      if (data instanceof Table) {
        try {
          return tableToIPC(data, "stream");
        } catch (e) {
          throw new NatsBridgeError(ERROR_WRITER_RULE, "writing the Arrow IPC stream", { dataname, cause: e });
        }
      }
      if (data instanceof Uint8Array) return data; // already an Arrow IPC stream
      throw new NatsBridgeError(ERROR_WRITER_RULE, `an ${type} payload needs an apache-arrow Table (or IPC stream bytes)`, { dataname });
    case "bytes":
      return bytesOf(data, dataname, type);
    case undefined:
      throw new NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, `unknown payload_type \`${String(type)}\``, { dataname });
  }
}

/** File-name extension of uploads, by serialization. */
const EXTENSIONS: Record<Serialization, string> = { utf8: "txt", json: "json", json_rows: "json", arrow_ipc: "arrow", bytes: "bin" };

/** File-name extension for uploads of this type. */
export function extensionOf(type: string): string {
  const serialization = serializationOf(type);
  return serialization === undefined ? "bin" : EXTENSIONS[serialization];
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function text(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch (e) {
    throw new NatsBridgeError(ERROR_BAD_BYTES, "the bytes are not UTF-8", { cause: e });
  }
}

/** The bytes as strict JSON (reader rule 8, depth counted from the payload's own root). */
function parseJson(bytes: Uint8Array): JsonValue {
  const parsed = parseStrictJson(bytes);
  if (!parsed.ok) throw new NatsBridgeError(ERROR_BAD_BYTES, `the bytes are not strict JSON: ${parsed.reason}`, { cause: parsed.cause });
  return parsed.value as JsonValue;
}

/** Limits on an Arrow stream, checked while decoding. */
export interface TableLimits {
  maxColumns: number;
  maxBatches: number;
}

export const TABLE_LIMITS_OPTIONS = { maxColumns: "number", maxBatches: "number" } as const satisfies OptionSpec<TableLimits>;

export const DEFAULT_TABLE_LIMITS: TableLimits = { maxColumns: TABLE_MAX_COLUMNS, maxBatches: TABLE_MAX_BATCHES };

/**
 * Decodes an Arrow IPC stream with `tableFromIPC` over `bytes` as they are: the column
 * buffers of the table are views into `bytes.buffer` (no copy of column data).
 */
export function decodeTable(bytes: Uint8Array, limits: TableLimits = DEFAULT_TABLE_LIMITS): Table {
  checkArgument(bytes, "bytes", "bytes", "decodeTable");
  checkOptions(limits, TABLE_LIMITS_OPTIONS, "decodeTable");
  // A stream starts with a continuation marker (0xFFFFFFFF) or, pre-0.15, a metadata length.
  if (bytes.byteLength < 8) throw new NatsBridgeError(ERROR_BAD_BYTES, "too short for an Arrow IPC stream");
  if (bytes[0] === 0x41 && bytes[1] === 0x52 && bytes[2] === 0x52 && bytes[3] === 0x4f && bytes[4] === 0x57 && bytes[5] === 0x31) {
    throw new NatsBridgeError(ERROR_BAD_BYTES, "an Arrow IPC *file* where a stream is expected");
  }
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw new NatsBridgeError(ERROR_BAD_BYTES, "the bytes are not an Arrow IPC stream", { cause: e });
  }
  if (table.schema.fields.length === 0 && table.batches.length === 0) {
    throw new NatsBridgeError(ERROR_BAD_BYTES, "the bytes hold no Arrow schema");
  }
  if (table.schema.fields.length > limits.maxColumns || table.batches.length > limits.maxBatches) {
    throw new NatsBridgeError(ERROR_TABLE_LIMITS, `the table has ${table.schema.fields.length} columns in ${table.batches.length} batches, over the limits`);
  }
  return table;
}

/** Decodes the bytes of one payload to its typed value. */
export function deserializePayload(type: string, bytes: Uint8Array, limits: TableLimits = DEFAULT_TABLE_LIMITS): DecodedData[PayloadType] {
  checkArgument(type, "string", "type", "deserializePayload");
  checkArgument(bytes, "bytes", "bytes", "deserializePayload");
  checkOptions(limits, TABLE_LIMITS_OPTIONS, "deserializePayload");
  return decodePayload(type, bytes, limits);
}

/** {@link deserializePayload} of arguments already checked (the receive path's, per payload). */
export function decodePayload(type: string, bytes: Uint8Array, limits: TableLimits): DecodedData[PayloadType] {
  switch (serializationOf(type)) {
    case "utf8":
      return text(bytes);
    case "json":
      return parseJson(bytes);
    case "json_rows": {
      const rows = parseJson(bytes);
      if (!Array.isArray(rows) || !rows.every(isRow)) {
        throw new NatsBridgeError(ERROR_BAD_BYTES, `a ${type} must be an array of row objects`);
      }
      return rows as Record<string, JsonValue>[];
    }
    case "arrow_ipc":
      return decodeTable(bytes, limits);
    case "bytes":
      return bytes;
    case undefined:
      throw new NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, `unknown payload_type \`${String(type)}\``);
  }
}

/** Rows of a decoded table payload (arrowtable, jsontable), for digests. */
export function numRows(type: string, data: unknown): number | undefined {
  const serialization = serializationOf(type);
  if (serialization === "arrow_ipc" && data instanceof Table) return data.numRows;
  if (serialization === "json_rows" && Array.isArray(data)) return data.length;
  return undefined;
}

export { isKnownPayloadType };
