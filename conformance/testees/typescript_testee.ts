/**
 * The TypeScript lane of `cargo xtask conformance`: a thin protocol adapter over the shipped
 * packages, imported by their names as a user imports them: the runtime `@natsbridge/client`
 * and the generated `@natsbridge/types` (the npm workspace links to packages/typescript and
 * generated/typescript, so their compiled `dist/`). One JSON request per line on stdin, one
 * JSON answer per line on stdout; protocol and decoding rules are in conformance/README.md.
 *
 * - `validate`: strict v1 validation with the generated validator (ajv);
 * - `roundtrip`: the generated reader's parse, then its dump;
 * - `decode`: the runtime's `smartreceive` (links only from the `--allow-host` hosts), its
 *   result mapped to the answer format; no decoding logic of its own. The envelope is `text`,
 *   or `bytes` (standard base64 of the exact bytes, which may be invalid UTF-8 or start with a
 *   BOM), handed to `smartreceive` as the `Uint8Array` a NATS message body is;
 * - `encode`: each payload becomes the value a TypeScript caller hands over (a string, a JSON
 *   value, an apache-arrow `Table` read from the given IPC stream, a `Uint8Array`), then the
 *   runtime's `smartsend` builds the envelope without publishing, every payload direct, and the
 *   answer is its JSON text as produced;
 * - `send` (groups `writer-api`, `budget`): `smartsend` from API-level inputs, the options by
 *   their language-neutral names mapped to `SendOptions`, nothing published, links uploaded to
 *   the request's `fileserver`; the answer is the envelope text or the runtime's error code;
 * - `fetch` (group `fetch`): `fetchWithBackoff` (as `fetchHashed`) with the request's schedule;
 *   the answer is the body's size and SHA-256, or the error code;
 * - `typed` (group `typed`): a message value through the package generated from the example
 *   spec (`@simulation/api`, declared in `hello`'s `capabilities.typed`): its codec's encode
 *   for `send`, `smartsend` → `smartreceive` → its codec's decode for `receive`;
 * - `start`, `allow_host` (group `arguments`): the runtime's `parseStart` (with the request's
 *   `now`) and `allowedHost`, the value handed over as given;
 * - `reply_error`, `decode_reply` (group `replies`): the runtime's `errorResponse` for an
 *   `ApplicationError`, a `NatsBridgeError` or a plain `Error`, and `decodeReply`, the
 *   requester's handling of the reply bytes (its remote error's code, application code, message
 *   and display). These four ops are declared in `hello`'s `capabilities.ops`;
 * - `connect_settings` (group `arguments`, also declared there): the Node entry's
 *   `resolveConnectSettings(flags, env)` with the request's flags (CLI names mapped to the
 *   `ConnectFlags` keys) and its whole environment (never the process's); the answer is the
 *   settings (the secrets through their getters) and `shown`, what printing them shows.
 *
 * A request that is not understood is answered `{"ok": false, "error": "INVALID_REQUEST"}`.
 * The testee never dies on a request: anything thrown is an answer `{"ok": false, "error"}`.
 *
 * Usage (from the repository root): tsx conformance/testees/typescript_testee.ts --allow-host http://127.0.0.1:PORT ...
 */
import { readdirSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Type, type DataType, type Field } from "apache-arrow";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Both packages are imported from their builds (`dist/`); a missing or stale build would test
 * other code than `src/` holds, so it fails the lane with the command that fixes it.
 */
function checkBuilds(): void {
  const stale: string[] = [];
  for (const pkg of ["generated/typescript", "packages/typescript", "examples/simulation/generated/typescript"]) {
    for (const f of readdirSync(`${ROOT}${pkg}/src`).filter((f) => f.endsWith(".ts"))) {
      const src = statSync(`${ROOT}${pkg}/src/${f}`).mtimeMs;
      let built = -1;
      try {
        built = statSync(`${ROOT}${pkg}/dist/${f.replace(/\.ts$/, ".js")}`).mtimeMs;
      } catch {
        // not built
      }
      if (built < src) stale.push(`${pkg}/src/${f}`);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(
      `typescript_testee: dist/ is missing or older than ${stale.join(", ")}: run \`npm run build --workspaces\` at the repository root\n`,
    );
    process.exit(1);
  }
}

checkBuilds();
const t = await import("@natsbridge/types");
const {
  ApplicationError,
  CONNECT_FLAG_NAMES,
  NatsBridgeError,
  allowedHost,
  base64Encode,
  decodeReply,
  decodeTable,
  errorResponse,
  fetchHashed,
  parseStart,
  resolveConnectSettings,
  smartreceive,
  smartsend,
} = await import("@natsbridge/client");
// The package generated from the example team spec, for the `typed` cases.
const simulation = await import("@simulation/api");
type PayloadTuple = import("@natsbridge/client").PayloadTuple;
type Received = import("@natsbridge/client").Received;

type Answer = Record<string, unknown>;

/** Arrow types by the names every lane uses (conformance/README.md). */
function arrowTypeName(type: DataType): string {
  switch (type.typeId) {
    case Type.Bool:
      return "bool";
    case Type.Int: {
      const i = type as unknown as { bitWidth: number; isSigned: boolean };
      return `${i.isSigned ? "int" : "uint"}${i.bitWidth}`;
    }
    case Type.Float: {
      const p = (type as unknown as { precision: number }).precision;
      return p === 2 ? "float64" : p === 1 ? "float32" : "float16";
    }
    case Type.Utf8:
      return "utf8";
    case Type.LargeUtf8:
      return "large_utf8";
    default:
      return `other:${String(type)}`;
  }
}

/** `smartreceive`'s result in the answer format: the bytes as carried, plus the values. */
function decoded(r: Received): Answer {
  return {
    ok: true,
    payloads: r.payloads.map((p) => {
      const out: Answer = {
        dataname: p.dataname,
        payload_type: p.payload_type,
        transport: p.transport,
        size: p.bytes.byteLength,
        sha256: p.sha256,
      };
      switch (p.payload_type) {
        case "text":
          out["text"] = p.data;
          break;
        case "dictionary":
          out["json"] = p.data;
          break;
        case "jsontable":
          out["json"] = p.data;
          out["num_rows"] = p.data.length;
          break;
        case "arrowtable":
          out["num_rows"] = p.data.numRows;
          out["arrow_schema"] = p.data.schema.fields.map((f: Field) => [f.name, arrowTypeName(f.type), f.nullable]);
          break;
        default:
          break;
      }
      return out;
    }),
  };
}

function failure(e: unknown): Answer {
  if (e instanceof NatsBridgeError) return { ok: false, error: e.code, message: e.report() };
  // The runtime promises NatsBridgeError only; anything else is a runtime bug, shown as such.
  return { ok: false, error: "NOT_A_NATSBRIDGE_ERROR", message: String(e) };
}

async function decode(body: string | Uint8Array, allowedHosts: string[]): Promise<Answer> {
  try {
    return decoded(await smartreceive(body, { allowedHosts }));
  } catch (e) {
    const f = failure(e);
    return { ok: false, error: f["error"] };
  }
}

class BadRequest extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Canonical standard padded base64 → bytes (anything else is a bad request). */
function requestBytes(text: unknown, dataname: string): Uint8Array {
  if (typeof text !== "string") throw new BadRequest(`${dataname}: \`base64\` must be a string`);
  const b = Buffer.from(text, "base64");
  const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (base64Encode(bytes) !== text) throw new BadRequest(`${dataname}: \`base64\` is not canonical padded standard base64`);
  return bytes;
}

/** `{"byte": B, "count": N}`: N bytes of value B. */
function filled(fill: unknown, dataname: string): Uint8Array {
  if (!isObject(fill)) throw new BadRequest(`${dataname}: \`fill\` must be an object`);
  const { byte, count } = fill;
  if (typeof byte !== "number" || !Number.isInteger(byte) || byte < 0 || byte > 255) throw new BadRequest(`${dataname}: \`fill.byte\` must be 0..255`);
  if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) throw new BadRequest(`${dataname}: \`fill.count\` must be a count`);
  return new Uint8Array(count).fill(byte);
}

const BY_KEY: Record<string, "text" | "json" | "base64"> = {
  text: "text",
  dictionary: "json",
  jsontable: "json",
  arrowtable: "base64",
  image: "base64",
  audio: "base64",
  video: "base64",
  binary: "base64",
};

/**
 * One request payload → the tuple a TypeScript caller would pass to `smartsend`. A payload type
 * the lane does not know is handed over with whatever value was given, so that the runtime's
 * own check answers (INVALID_PAYLOAD_TYPE).
 */
function nativePayload(p: unknown): PayloadTuple {
  if (!isObject(p)) throw new BadRequest("each payload must be an object");
  const { dataname, payload_type: type } = p;
  if (typeof dataname !== "string") throw new BadRequest("`dataname` must be a string");
  if (typeof type !== "string") throw new BadRequest(`${dataname}: \`payload_type\` must be a string`);
  const given = (["text", "json", "base64", "fill"] as const).filter((k) => k in p);
  if (given.length !== 1) throw new BadRequest(`${dataname}: give exactly one of \`text\`, \`json\`, \`base64\`, \`fill\``);
  const key = given[0]!;
  const want = BY_KEY[type];
  if (want !== undefined && want !== (key === "fill" ? "base64" : key)) throw new BadRequest(`${dataname}: a ${type} payload is given as \`${want}\`, not \`${key}\``);
  if (key === "text" && typeof p["text"] !== "string") throw new BadRequest(`${dataname}: \`text\` must be a string`);
  const value: unknown =
    key === "text" ? p["text"] : key === "json" ? p["json"] : key === "fill" ? filled(p["fill"], dataname) : requestBytes(p["base64"], dataname);
  switch (type) {
    case "text":
      return [dataname, value as string, "text"];
    case "dictionary":
      return [dataname, value, "dictionary"];
    case "jsontable":
      // Handed over as given: the runtime checks that it is an array of row objects.
      return [dataname, value as Record<string, unknown>[], "jsontable"];
    case "arrowtable":
      // An apache-arrow Table (tableFromIPC, with the runtime's stream checks), so that the
      // runtime's own Arrow writer produces the bytes that travel.
      return [dataname, decodeTable(value as Uint8Array), "arrowtable"];
    case "image":
    case "audio":
    case "video":
    case "binary":
      return [dataname, value as Uint8Array, type];
    default:
      return [dataname, value, type] as unknown as PayloadTuple;
  }
}

async function encode(req: Record<string, unknown>): Promise<Answer> {
  const list = req["payloads"];
  if (!Array.isArray(list)) return { ok: false, error: "INVALID_REQUEST", message: "`payloads` must be an array" };
  for (const k of ["correlation_id", "msg_id"]) {
    if (k in req && typeof req[k] !== "string") return { ok: false, error: "INVALID_REQUEST", message: `\`${k}\` must be a string` };
  }
  const correlationId = req["correlation_id"] as string | undefined;
  const msgId = req["msg_id"] as string | undefined;
  try {
    const payloads = list.map(nativePayload);
    const sent = await smartsend("conformance.encode", payloads, {
      publish: false,
      // Every payload direct: no threshold, and no server whose max_payload would move one to link.
      sizeThreshold: Number.MAX_SAFE_INTEGER,
      maxPayload: Number.MAX_SAFE_INTEGER,
      ...(correlationId === undefined ? {} : { correlationId }),
      ...(msgId === undefined ? {} : { msgId }),
    });
    return { ok: true, text: sent.json };
  } catch (e) {
    if (e instanceof BadRequest) return { ok: false, error: "INVALID_REQUEST", message: e.message };
    return failure(e);
  }
}

/** The language-neutral option names of a `send` request, as the runtime's `SendOptions` call them. */
const SEND_OPTION_NAMES: Record<string, string> = {
  correlation_id: "correlationId",
  msg_id: "msgId",
  msg_purpose: "msgPurpose",
  sender_name: "senderName",
  sender_id: "senderId",
  receiver_name: "receiverName",
  receiver_id: "receiverId",
  reply_to: "replyTo",
  reply_to_msg_id: "replyToMsgId",
  metadata: "metadata",
  size_threshold: "sizeThreshold",
  max_payload: "maxPayload",
  headers: "headers",
};

/**
 * `send`: `smartsend` from API-level inputs, nothing published; links go to the request's
 * `fileserver`. The values are handed over as given: the runtime's own option and writer
 * checks answer for them.
 */
async function send(req: Record<string, unknown>): Promise<Answer> {
  const list = req["payloads"];
  if (!Array.isArray(list)) return { ok: false, error: "INVALID_REQUEST", message: "`payloads` must be an array" };
  const given = req["options"] ?? {};
  if (!isObject(given)) return { ok: false, error: "INVALID_REQUEST", message: "`options` must be an object" };
  const options: Record<string, unknown> = { publish: false };
  for (const [key, value] of Object.entries(given)) {
    const name = SEND_OPTION_NAMES[key];
    if (name === undefined) return { ok: false, error: "INVALID_REQUEST", message: `unknown option ${JSON.stringify(key)}` };
    options[name] = value;
  }
  if (typeof req["fileserver"] === "string") options["fileserverUrl"] = req["fileserver"];
  try {
    const payloads = list.map(nativePayload);
    const sent = await smartsend(req["subject"] as string, payloads, options);
    return { ok: true, text: sent.json };
  } catch (e) {
    if (e instanceof BadRequest) return { ok: false, error: "INVALID_REQUEST", message: e.message };
    return failure(e);
  }
}

/** The language-neutral names of a `fetch` request's options, as `FetchOptions` calls them. */
const FETCH_OPTION_NAMES: Record<string, string> = {
  max_attempts: "maxAttempts",
  base_delay_ms: "baseDelayMs",
  max_delay_ms: "maxDelayMs",
  deadline_ms: "deadlineMs",
  max_bytes: "maxBytes",
  expected_size: "expectedSize",
};

/** `fetch`: `fetchWithBackoff` (its hashing form) with the request's schedule; the body's size and SHA-256. */
async function fetchOp(req: Record<string, unknown>): Promise<Answer> {
  const url = req["url"];
  if (typeof url !== "string") return { ok: false, error: "INVALID_REQUEST", message: "`url` must be a string" };
  const given = req["options"] ?? {};
  if (!isObject(given)) return { ok: false, error: "INVALID_REQUEST", message: "`options` must be an object" };
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    const name = FETCH_OPTION_NAMES[key];
    if (name === undefined) return { ok: false, error: "INVALID_REQUEST", message: `unknown option ${JSON.stringify(key)}` };
    options[name] = value;
  }
  try {
    const fetched = await fetchHashed(url, options);
    return { ok: true, size: fetched.bytes.byteLength, sha256: fetched.sha256 };
  } catch (e) {
    return failure(e);
  }
}

/** The messages of the `simulation` spec the `typed` cases name, by their conformance names. */
const TYPED_CODECS: Record<string, import("@natsbridge/client").MessageCodec<unknown>> = {
  command: simulation.commandCodec as import("@natsbridge/client").MessageCodec<unknown>,
  status: simulation.commandStatusCodec as import("@natsbridge/client").MessageCodec<unknown>,
  health: simulation.healthCodec as import("@natsbridge/client").MessageCodec<unknown>,
};

/**
 * `typed`: one message value through the generated package. `send`: its codec's encode (what a
 * typed send does before anything is published); `receive`: the value as another sender wrote
 * it (a plain `smartsend`), read back by `smartreceive` and the codec's decode.
 */
async function typedOp(req: Record<string, unknown>): Promise<Answer> {
  if (req["spec"] !== "simulation") return { ok: false, error: "INVALID_REQUEST", message: `unknown spec ${JSON.stringify(req["spec"])}` };
  const codec = typeof req["message"] === "string" ? TYPED_CODECS[req["message"]] : undefined;
  if (codec === undefined) return { ok: false, error: "INVALID_REQUEST", message: `unknown message ${JSON.stringify(req["message"])}` };
  try {
    if (req["direction"] === "send") {
      codec.encode(req["value"]);
      return { ok: true };
    }
    if (req["direction"] !== "receive") return { ok: false, error: "INVALID_REQUEST", message: "`direction` is `send` or `receive`" };
    const sent = await smartsend("conformance.typed", [[codec.name, req["value"], codec.payloadType]] as PayloadTuple[], { publish: false });
    codec.decode(await smartreceive(sent.json));
    return { ok: true };
  } catch (e) {
    return failure(e);
  }
}

/** The ops of the `arguments` and `replies` groups this lane answers (`hello`'s `capabilities.ops`). */
const OPS = ["start", "allow_host", "reply_error", "decode_reply", "connect_settings"];

/** A UTC instant as `YYYY-MM-DDTHH:MM:SS.mmmZ`. */
function utc(time: Date): string {
  return time.toISOString();
}

/** `start`: `parseStart(value, now)`, the value as given. */
function startOp(req: Record<string, unknown>): Answer {
  let now: Date | undefined;
  if ("now" in req) {
    now = typeof req["now"] === "string" ? new Date(req["now"]) : undefined;
    if (now === undefined || Number.isNaN(now.getTime())) return { ok: false, error: "INVALID_REQUEST", message: "`now` must be an RFC 3339 time" };
  }
  try {
    const start = parseStart(req["value"], now);
    switch (start.kind) {
      case "all":
      case "new":
        return { ok: true, start: start.kind };
      case "sequence":
        return { ok: true, start: { sequence: start.sequence } };
      case "time":
        return { ok: true, start: { time: utc(start.time) } };
    }
  } catch (e) {
    return failure(e);
  }
}

/** `allow_host`: `allowedHost(value)`, the value as given. */
function allowHostOp(req: Record<string, unknown>): Answer {
  try {
    return { ok: true, host: allowedHost(req["value"]) };
  } catch (e) {
    return failure(e);
  }
}

/** The error a `reply_error` request describes, as a TypeScript responder would have it. */
function requestError(spec: unknown): unknown {
  if (!isObject(spec)) throw new BadRequest("`error` must be an object");
  const message = spec["message"];
  if (typeof message !== "string") throw new BadRequest("`error.message` must be a string");
  const dataname = spec["dataname"];
  if (dataname !== undefined && typeof dataname !== "string") throw new BadRequest("`error.dataname` must be a string");
  switch (spec["kind"]) {
    case "application": {
      const details = spec["details"];
      if (details !== undefined && !isObject(details)) throw new BadRequest("`error.details` must be an object");
      // The code is handed over as given: the runtime's own check answers for it.
      return new ApplicationError(spec["application_code"] as string, message, {
        ...(details === undefined ? {} : { details }),
        ...(dataname === undefined ? {} : { dataname }),
      });
    }
    case "bridge":
      if (typeof spec["code"] !== "string") throw new BadRequest("`error.code` must be a string");
      return new NatsBridgeError(spec["code"] as import("@natsbridge/client").ErrorCode, message, dataname === undefined ? {} : { dataname });
    case "raise":
      return new Error(message);
    default:
      throw new BadRequest("`error.kind` is `application`, `bridge` or `raise`");
  }
}

/** `reply_error`: `errorResponse(request, error)`, the JSON a responder would publish. */
function replyErrorOp(req: Record<string, unknown>): Answer {
  try {
    const error = requestError(req["error"]);
    return { ok: true, text: JSON.stringify(errorResponse(req["request"] as import("@natsbridge/client").MsgEnvelopeV1, error)) };
  } catch (e) {
    if (e instanceof BadRequest) return { ok: false, error: "INVALID_REQUEST", message: e.message };
    return failure(e);
  }
}

/** `decode_reply`: `decodeReply(bytes, correlationId)`, what a requester makes of the reply message. */
async function decodeReplyOp(req: Record<string, unknown>, allowedHosts: string[]): Promise<Answer> {
  // A reply that is not JSON has no correlation id of its own to give: then none is.
  const cid = req["correlation_id"] ?? undefined;
  if (cid !== undefined && typeof cid !== "string") return { ok: false, error: "INVALID_REQUEST", message: "`correlation_id` must be a string" };
  let bytes: Uint8Array;
  try {
    bytes = requestBytes(req["bytes"], "bytes");
  } catch (e) {
    return { ok: false, error: "INVALID_REQUEST", message: e instanceof Error ? e.message : String(e) };
  }
  try {
    await decodeReply(bytes, cid, { allowedHosts });
    return { ok: true };
  } catch (e) {
    if (!(e instanceof NatsBridgeError)) return failure(e);
    return { ok: false, error: e.code, remote: e.remote, application_code: e.applicationCode ?? null, message: e.message, display: e.toString() };
  }
}

/** `connect_settings`: `resolveConnectSettings(flags, env)`, the flags by their CLI names, the request's environment only. */
function connectSettingsOp(req: Record<string, unknown>): Answer {
  const flags = req["flags"] ?? {};
  const env = req["env"] ?? {};
  if (!isObject(flags) || !isObject(env)) return { ok: false, error: "INVALID_REQUEST", message: "`flags` and `env` must be objects" };
  const byName = new Map(Object.entries(CONNECT_FLAG_NAMES).map(([key, name]) => [name as string, key]));
  const given: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(flags)) {
    const key = byName.get(name);
    if (key === undefined) return { ok: false, error: "INVALID_REQUEST", message: `unknown flag ${JSON.stringify(name)}` };
    given[key] = value;
  }
  try {
    const s = resolveConnectSettings(given, env as Record<string, string>);
    const auth: Answer = { ...s.auth };
    if (s.password !== undefined) auth["password"] = s.password;
    if (s.token !== undefined) auth["token"] = s.token;
    return {
      ok: true,
      settings: { servers: s.servers, servers_source: s.serversSource, context: s.context, auth, tls: { ...s.tls }, shown: String(s) },
    };
  } catch (e) {
    if (!(e instanceof NatsBridgeError)) return failure(e);
    return { ok: false, error: e.code, message: e.message };
  }
}

async function answer(line: string, allowedHosts: string[]): Promise<Answer> {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return { ok: false, error: "INVALID_REQUEST", message: "not JSON" };
  }
  if (!isObject(req)) return { ok: false, error: "INVALID_REQUEST", message: "not a JSON object" };
  const op = req["op"];
  const text = req["text"];
  if (op === "decode" && "bytes" in req) {
    if ("text" in req) return { ok: false, error: "INVALID_REQUEST", message: "give `text` or `bytes`, not both" };
    const b64 = req["bytes"];
    if (typeof b64 !== "string") return { ok: false, error: "INVALID_REQUEST", message: "`bytes` must be a base64 string" };
    let bytes: Uint8Array;
    try {
      bytes = requestBytes(b64, "bytes");
    } catch (e) {
      return { ok: false, error: "INVALID_REQUEST", message: e instanceof Error ? e.message : String(e) };
    }
    return decode(bytes, allowedHosts);
  }
  if ((op === "validate" || op === "roundtrip" || op === "decode") && typeof text !== "string") {
    return { ok: false, error: "INVALID_REQUEST", message: "`text` must be a string" };
  }
  switch (op) {
    case "hello":
      return { ok: true, lane: "typescript", protocol: 1, capabilities: { typed: ["simulation"], ops: OPS } };
    case "start":
      return startOp(req);
    case "allow_host":
      return allowHostOp(req);
    case "reply_error":
      return replyErrorOp(req);
    case "decode_reply":
      return decodeReplyOp(req, allowedHosts);
    case "connect_settings":
      return connectSettingsOp(req);
    case "typed":
      return typedOp(req);
    case "validate":
      try {
        return { valid: t.validateMsgEnvelopeV1(JSON.parse(text as string)).ok };
      } catch {
        return { valid: false };
      }
    case "roundtrip":
      try {
        return { ok: true, json: JSON.parse(t.dumpMsgEnvelopeV1(t.parseMsgEnvelopeV1(text as string))) };
      } catch {
        return { ok: false };
      }
    case "decode":
      return decode(text as string, allowedHosts);
    case "encode":
      return encode(req);
    case "send":
      return send(req);
    case "fetch":
      return fetchOp(req);
    default:
      return { ok: false, error: "INVALID_REQUEST", message: `unknown op ${JSON.stringify(op) ?? "undefined"}` };
  }
}

// Nothing a request causes may end the lane: a stray failure is logged and the next line read.
process.on("uncaughtException", (e) => process.stderr.write(`typescript_testee: ${String(e)}\n`));
process.on("unhandledRejection", (e) => process.stderr.write(`typescript_testee: ${String(e)}\n`));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // Only the hosts given: never the default file server's.
  const allowedHosts = args.filter((_, i) => args[i - 1] === "--allow-host");
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    let out: Answer;
    try {
      out = await answer(line, allowedHosts);
    } catch (e) {
      out = { ok: false, error: "INVALID_REQUEST", message: `the testee failed: ${String(e)}` };
    }
    let text: string;
    try {
      text = JSON.stringify(out);
    } catch (e) {
      text = JSON.stringify({ ok: false, error: "INVALID_REQUEST", message: `the answer could not be written: ${String(e)}` });
    }
    process.stdout.write(text + "\n");
  }
}

await main();
