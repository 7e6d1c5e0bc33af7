/**
 * `smartsend`: serialize every payload, choose direct or link per payload so that the whole
 * message fits the server's `max_payload`, upload the links, publish the envelope with the
 * `Nats-Msg-Id` and `Correlation-Id` headers.
 */
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import type { JetStreamClient } from "@nats-io/jetstream";
import {
  DEFAULT_FLUSH,
  DEFAULT_MAX_PAYLOAD,
  ERROR_BAD_OPTION,
  DEFAULT_MSG_PURPOSE,
  ERROR_TOO_LARGE_TO_SEND,
  ERROR_UPLOAD,
  ERROR_WRITER_RULE,
  HEADER_CORRELATION_ID,
  HEADER_MSG_ID,
  LINK_URL_ALLOWANCE,
  type MsgEnvelopeV1,
  type MsgPayloadV1,
  type MsgPurpose,
} from "@natsbridge/types";
import { fileserverToken, fileserverUrlSourced, openConnection, processSenderId, sizeThreshold, unpublishedBrokerUrl, type SourcedUrl } from "./config.js";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { parseStrictJson } from "./json.js";
import { emit, logging } from "./log.js";
import { checkArgument, checkConnection, checkOptions, checkText, describe, type OptionSpec } from "./options.js";
import { extensionOf, serializeWith, type PayloadTuple } from "./payload.js";
import { UploadFailure, plikUploader, uploadAdvice, type Uploader } from "./plik.js";
import {
  base64Encode,
  buildHeaders,
  checkedUuid,
  encodedLen,
  fileName,
  headerLen,
  jsonHasLoneSurrogate,
  nowTimestamp,
  ownBytes,
  sha256Hex,
  sha256HexNow,
  utf8Encode,
  utf8Length,
} from "./wire.js";
import { shownServer, shownServers } from "./servers.js";
import { checkEnvelopeToWrite } from "./writer.js";

export interface SendOptions {
  /**
   * An open connection, or a broker URL to connect to (and close again). Default: in Node the
   * connection settings (`NATS_URL`, `NATS_TOKEN`, `NATS_CREDS`, the nats CLI's context, …: see
   * `resolveConnectSettings`), in a browser `NATS_URL`'s default. User info in a URL is sent as
   * credentials, never written to `broker_url`.
   */
  connection?: NatsConnection | string;
  /** Publish the envelope (default true). With `false`, only the envelope and its JSON are made (links are still uploaded). */
  publish?: boolean;
  /** Publish through JetStream (acked; duplicates within the stream's window dropped by `msg_id`).
   * Give `connection` too, so the server's `max_payload` is known. */
  jetstream?: JetStreamClient;
  /** Plik-compatible file server for link payloads. Default: `FILESERVER_URL`. */
  fileserverUrl?: string;
  /** The token the file server asks of uploads (`natsbridge fileserver --token`, a Plik account token). Default: `FILESERVER_TOKEN`. A secret, never shown. */
  fileserverToken?: string;
  /** Custom blob store (the reference's `fileserver_upload_handler`); replaces `fileserverUrl`. */
  uploader?: Uploader;
  /** Payloads of this many serialized bytes or more go by link. Default: `SIZE_THRESHOLD` or 500 000. */
  sizeThreshold?: number;
  /** The server's `max_payload` when not publishing (a connection's own value wins). Default 1 MiB. */
  maxPayload?: number;
  correlationId?: string;
  msgId?: string;
  msgPurpose?: MsgPurpose | (string & {});
  senderName?: string;
  senderId?: string;
  receiverName?: string;
  receiverId?: string;
  replyTo?: string;
  replyToMsgId?: string;
  /**
   * Written as `broker_url` (each seed without user info, `nats://` when it has no scheme, a
   * query as `?REDACTED`). Default: the server connected to; without publishing, the servers
   * `connection` names, else (in Node) those of the connection settings.
   */
  brokerUrl?: string;
  /** Message-level metadata. */
  metadata?: Record<string, unknown>;
  /** Extra NATS headers (e.g. `Sample-Rate`). */
  headers?: Record<string, string>;
  /** Lifetime of link uploads, seconds (the store's default when absent). */
  linkTtlSeconds?: number;
  /** One-shot link uploads (deleted after the first download). Default false. */
  oneShot?: boolean;
  /**
   * Wait for the server to have read the envelope (a flush round trip) after a core publish on
   * the connection given, so that errors surface here. Default false (the profile's
   * DEFAULT_FLUSH): publishes are queued, as NATS clients publish. A connection smartsend opens
   * itself (a URL in `connection`, or none) is always flushed before it is closed.
   */
  flush?: boolean;
}

/** Every key of {@link SendOptions} with its kind: unknown keys and wrong types are refused. */
export const SEND_OPTIONS = {
  connection: "object-or-string",
  publish: "boolean",
  jetstream: "object",
  fileserverUrl: "string",
  fileserverToken: "string",
  uploader: "function",
  sizeThreshold: "count",
  maxPayload: "positive",
  correlationId: "string",
  msgId: "string",
  msgPurpose: "string",
  senderName: "string",
  senderId: "string",
  receiverName: "string",
  receiverId: "string",
  replyTo: "string",
  replyToMsgId: "string",
  brokerUrl: "string",
  metadata: "object",
  headers: "strings-record",
  linkTtlSeconds: "lifetime",
  oneShot: "boolean",
  flush: "boolean",
} as const satisfies OptionSpec<SendOptions>;

/** Names from other runtimes or older versions, and the option meant. */
export const SEND_HINTS = { fileServerUrl: "fileserverUrl", sizeThreshhold: "sizeThreshold", fileserver: "fileserverUrl" };

/** What {@link smartsend} sent. */
export interface Sent {
  /** The envelope, with each direct payload's base64 and each link's URL in `data`. */
  envelope: MsgEnvelopeV1;
  /** The envelope's JSON text: the bytes that were (or, without publishing, would be) published. */
  json: string;
  /** The NATS headers it travelled with. */
  headers: Record<string, string>;
  /** Stream sequence, when published through JetStream. */
  streamSequence?: number;
  /** True when JetStream dropped it as a duplicate `msg_id`. */
  duplicate?: boolean;
}

interface Prepared {
  dataname: string;
  payloadType: string;
  /** The serialized bytes; text written by `utf8Encode` (a Buffer in Node) when `text`. */
  bytes: Uint8Array;
  text: boolean;
  link: boolean;
  id: string;
}

/** The bytes an uploader is given: a plain Uint8Array over a buffer of its own when smartsend wrote them. */
function uploadBytes(p: Prepared): Uint8Array {
  return p.text ? ownBytes(p.bytes) : p.bytes;
}

function wirePayload(p: Prepared, data: string, sha256: string): MsgPayloadV1 {
  return {
    id: p.id,
    dataname: p.dataname,
    payload_type: p.payloadType,
    transport: p.link ? "link" : "direct",
    encoding: p.link ? "none" : "base64",
    size: p.bytes.byteLength,
    data,
    metadata: { sha256 },
  };
}

/** The payloads' `data` in the envelope: base64 of the direct ones, LINK_URL_ALLOWANCE per link. */
function payloadBytes(prepared: Prepared[]): number {
  let n = 0;
  for (const p of prepared) n += p.link ? LINK_URL_ALLOWANCE : encodedLen(p.bytes.byteLength);
  return n;
}

/**
 * An upper bound of the UTF-8 bytes of the envelope's JSON without its payloads' `data`, from
 * `chars`, the length of that JSON with every `sha256` and `broker_url` empty: 64 hex digits
 * per payload and a `"broker_url":…,` member at most 6 characters per unit of the URL (an
 * escape), each character at most 3 bytes.
 */
function skeletonBound(chars: number, payloads: number, brokerUrl: string | undefined): number {
  return 3 * (chars + 64 * payloads + (brokerUrl === undefined ? 0 : 16 + 6 * brokerUrl.length));
}

/**
 * Moves the largest direct payloads to link until the message fits `maxPayload`: the envelope's
 * JSON (a link URL counted as LINK_URL_ALLOWANCE bytes), every direct payload's base64, and the
 * headers. PAYLOAD_TOO_LARGE only when even all links do not fit.
 */
function fitMaxPayload(envelope: MsgEnvelopeV1, prepared: Prepared[], headerBytes: number, maxPayload: number, skeletonBound: number): void {
  // Most envelopes are far below the limit: an upper bound of their size settles it without
  // writing the skeleton out again (the exact count below decides only near the limit).
  if (skeletonBound + payloadBytes(prepared) + headerBytes <= maxPayload) return;
  for (;;) {
    envelope.payloads = prepared.map((p) => wirePayload(p, "", "0".repeat(64)));
    const skeleton = utf8Length(JSON.stringify(envelope));
    const total = skeleton + payloadBytes(prepared) + headerBytes;
    if (total <= maxPayload) return;
    let largest: Prepared | undefined;
    for (const p of prepared) if (!p.link && (largest === undefined || p.bytes.byteLength > largest.bytes.byteLength)) largest = p;
    if (largest === undefined) {
      throw new NatsBridgeError(ERROR_TOO_LARGE_TO_SEND, `the envelope alone is ${total} bytes, over the server's max_payload ${maxPayload}`);
    }
    emit("debug", "moving payload to link to fit max_payload", envelope.correlation_id, {
      stage: "serialize",
      dataname: largest.dataname,
      total,
      max_payload: maxPayload,
    });
    largest.link = true;
  }
}

/**
 * Packs `payloads` (`[dataname, data, payloadType]` each) into one `msg_envelope_v1` and
 * publishes it on `subject`. Payloads of `sizeThreshold` serialized bytes or more go by link;
 * when the direct ones would still overflow the server's `max_payload` (base64 grows data by
 * 4/3, headers count too), the largest are moved to link until the message fits.
 */
export async function smartsend(subject: string, payloads: readonly PayloadTuple[], options: SendOptions = {}): Promise<Sent> {
  checkArgument(subject, "string", "subject", "smartsend");
  checkArgument(payloads, "array", "payloads", "smartsend");
  checkOptions(options, SEND_OPTIONS, "smartsend", SEND_HINTS);
  let cid: string | undefined = options.correlationId;
  try {
    cid = checkedUuid(options.correlationId, "correlation_id");
    const sent = smartsendInner(subject, payloads, options, cid);
    return sent instanceof Promise ? await sent : sent;
  } catch (e) {
    throw asBridgeError(e, "PUBLISH_FAILED", `sending on \`${String(subject)}\``, { correlationId: cid });
  }
}

/** The envelope's fields before `broker_url`, in schema order. */
type EnvelopeHead = Pick<
  MsgEnvelopeV1,
  "correlation_id" | "msg_id" | "timestamp" | "send_to" | "msg_purpose" | "sender_name" | "sender_id" | "receiver_name" | "receiver_id" | "reply_to" | "reply_to_msg_id"
>;

/**
 * The envelope's fields in schema order, `broker_url` in its place when known. Written out
 * (no spread) so the object has one fast shape for the validator and JSON.stringify.
 */
function envelopeOf(f: EnvelopeHead, brokerUrl: string | undefined, metadata: Record<string, unknown>, payloads: MsgPayloadV1[]): MsgEnvelopeV1 {
  if (brokerUrl === undefined) {
    return {
      correlation_id: f.correlation_id,
      msg_id: f.msg_id,
      timestamp: f.timestamp,
      send_to: f.send_to,
      msg_purpose: f.msg_purpose,
      sender_name: f.sender_name,
      sender_id: f.sender_id,
      receiver_name: f.receiver_name,
      receiver_id: f.receiver_id,
      reply_to: f.reply_to,
      reply_to_msg_id: f.reply_to_msg_id,
      metadata,
      payloads,
    };
  }
  return {
    correlation_id: f.correlation_id,
    msg_id: f.msg_id,
    timestamp: f.timestamp,
    send_to: f.send_to,
    msg_purpose: f.msg_purpose,
    sender_name: f.sender_name,
    sender_id: f.sender_id,
    receiver_name: f.receiver_name,
    receiver_id: f.receiver_id,
    reply_to: f.reply_to,
    reply_to_msg_id: f.reply_to_msg_id,
    broker_url: brokerUrl,
    metadata,
    payloads,
  };
}

/** What is fixed before connecting: the payloads serialized, the envelope's fields checked. */
interface Plan {
  subject: string;
  options: SendOptions;
  cid: string;
  publish: boolean;
  prepared: Prepared[];
  fields: EnvelopeHead;
  metadata: Record<string, unknown>;
  /** `broker_url` as the caller gave it (shown), if given. */
  givenBroker: string | undefined;
  /** Length of the envelope's JSON with every payload's `data` and `sha256` empty, `broker_url` as given. */
  skeletonChars: number;
}

/**
 * smartsend's work. A core publish on a connection given, without flush, whose payloads all go
 * direct, is done without waiting for anything (the result is not a Promise): nothing in it
 * is asynchronous, and no await per envelope is paid for nothing.
 */
function smartsendInner(subject: string, payloads: readonly PayloadTuple[], options: SendOptions, cid: string): Sent | Promise<Sent> {
  const plan = prepare(subject, payloads, options, cid);
  // 3. Connect (to learn max_payload) when publishing.
  const connection = options.connection;
  if (typeof connection === "object") return afterConnect(plan, connection, plan.givenBroker);
  if (plan.publish && options.jetstream === undefined) return sendOnOwnConnection(plan);
  // Not published: the servers it would go to (in Node with no connection given, those of
  // the connection settings: the environment and the nats CLI's context).
  return afterConnect(plan, undefined, plan.givenBroker ?? (typeof connection === "string" || !plan.publish ? unpublishedBrokerUrl(connection) : undefined));
}

/** 1 and 2: serialize, then the writer rules, before connecting, uploading or publishing. */
function prepare(subject: string, payloads: readonly PayloadTuple[], options: SendOptions, cid: string): Plan {
  if (!Array.isArray(payloads)) throw new NatsBridgeError(ERROR_BAD_OPTION, "the payloads must be an array of [dataname, data, payloadType] tuples");
  const threshold = options.sizeThreshold ?? sizeThreshold();
  const publish = options.publish ?? true;

  // 1. Serialize.
  const prepared: Prepared[] = payloads.map((tuple) => {
    if (!Array.isArray(tuple)) throw new NatsBridgeError(ERROR_BAD_OPTION, `calling smartsend: each payload must be a [dataname, data, payloadType] tuple, got ${describe(tuple)}`);
    if (typeof tuple[0] !== "string") throw new NatsBridgeError(ERROR_BAD_OPTION, `calling smartsend: a payload's dataname must be a string, got ${describe(tuple[0])}`);
    if (typeof tuple[2] !== "string") throw new NatsBridgeError(ERROR_BAD_OPTION, `calling smartsend: the payload_type of \`${tuple[0]}\` must be a string, got ${describe(tuple[2])}`);
    const [dataname, data, payloadType] = tuple;
    let bytes: Uint8Array;
    let text = false; // written by utf8Encode
    try {
      bytes = serializeWith(payloadType, data, dataname, (t) => {
        text = true;
        return utf8Encode(t);
      });
    } catch (e) {
      throw asBridgeError(e, ERROR_WRITER_RULE, "serializing", { dataname });
    }
    const link = bytes.byteLength >= threshold;
    if (logging()) emit("debug", "serialized", cid, { stage: "serialize", dataname, bytes: bytes.byteLength, link });
    return { dataname, payloadType, bytes, text, link, id: checkedUuid(undefined, "id") };
  });

  // 2. The writer rules, before connecting, uploading or publishing: every field but the
  // payloads' data (base64 or URLs, made here) and broker_url (a URL) is final.
  const msgId = checkedUuid(options.msgId, "msg_id");
  const fields: EnvelopeHead = {
    correlation_id: cid,
    msg_id: msgId,
    timestamp: nowTimestamp(),
    send_to: subject,
    msg_purpose: options.msgPurpose ?? DEFAULT_MSG_PURPOSE,
    sender_name: options.senderName ?? "natsbridge-js",
    sender_id: options.senderId ?? processSenderId(),
    receiver_name: options.receiverName ?? "",
    receiver_id: options.receiverId ?? "",
    reply_to: options.replyTo ?? "",
    reply_to_msg_id: options.replyToMsgId ?? "",
  };
  const metadata = options.metadata ?? {};
  // A caller's broker URL never carries its credentials into the envelope.
  const givenBroker = options.brokerUrl === undefined ? undefined : shownServers(options.brokerUrl);
  // The caller gave no metadata (its own object, which may change between calls): the verdict on
  // the same caller part is the one given last time.
  const madeIds: [boolean, boolean] = [options.correlationId === undefined, options.msgId === undefined];
  let skeletonChars = options.metadata === undefined ? checkedBefore(fields, madeIds, givenBroker, prepared) : undefined;
  if (skeletonChars === undefined) {
    const skeleton = envelopeOf(fields, givenBroker, metadata, prepared.map((p) => wirePayload(p, "", "")));
    checkEnvelopeToWrite(skeleton, cid);
    const skeletonJson = JSON.stringify(skeleton);
    if (jsonHasLoneSurrogate(skeletonJson)) {
      throw new NatsBridgeError(ERROR_WRITER_RULE, "the envelope holds text that is not valid Unicode (a lone surrogate)");
    }
    skeletonChars = skeletonJson.length;
    if (options.metadata === undefined) rememberChecked(fields, madeIds, givenBroker, prepared, skeletonChars);
  }
  return { subject, options, cid, publish, prepared, fields, metadata, givenBroker, skeletonChars };
}

/**
 * The caller's part of the last skeleton that passed the writer rules (with the default, empty,
 * metadata): the verdict and the skeleton's length depend on nothing else. What smartsend makes
 * itself (ids, the timestamp, sizes, transport, encoding) has the forms that were checked, by
 * construction, as the `data` and `sha256` it fills in after the check have; an id the caller
 * gave must be the same one again.
 */
interface Checked {
  fields: EnvelopeHead;
  /** Whether smartsend made the correlation id and the msg_id itself (else the caller gave them). */
  madeIds: [boolean, boolean];
  givenBroker: string | undefined;
  datanames: string[];
  payloadTypes: string[];
  links: boolean[];
  /** The skeleton's JSON length less the digits of its sizes. */
  charsLessSizes: number;
}

let lastChecked: Checked | undefined;

/** Decimal digits of a size (a safe integer of 0 or more). */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** An id as last checked: made here both times, or given both times and the same. */
function sameId(made: boolean, id: string, lastMade: boolean, lastId: string): boolean {
  return made ? lastMade : !lastMade && id === lastId;
}

/** The skeleton's length when this one's caller part passed the writer rules last time; `undefined` otherwise (check it). */
function checkedBefore(f: EnvelopeHead, madeIds: [boolean, boolean], givenBroker: string | undefined, prepared: readonly Prepared[]): number | undefined {
  const c = lastChecked;
  if (c === undefined || c.givenBroker !== givenBroker || c.datanames.length !== prepared.length) return undefined;
  const l = c.fields;
  if (!sameId(madeIds[0], f.correlation_id, c.madeIds[0], l.correlation_id) || !sameId(madeIds[1], f.msg_id, c.madeIds[1], l.msg_id)) return undefined;
  if (
    f.timestamp.length !== l.timestamp.length ||
    f.send_to !== l.send_to ||
    f.msg_purpose !== l.msg_purpose ||
    f.sender_name !== l.sender_name ||
    f.sender_id !== l.sender_id ||
    f.receiver_name !== l.receiver_name ||
    f.receiver_id !== l.receiver_id ||
    f.reply_to !== l.reply_to ||
    f.reply_to_msg_id !== l.reply_to_msg_id
  ) {
    return undefined;
  }
  let chars = c.charsLessSizes;
  for (let i = 0; i < prepared.length; i++) {
    const p = prepared[i]!;
    if (p.dataname !== c.datanames[i] || p.payloadType !== c.payloadTypes[i] || p.link !== c.links[i]) return undefined;
    chars += digits(p.bytes.byteLength);
  }
  return chars;
}

function rememberChecked(f: EnvelopeHead, madeIds: [boolean, boolean], givenBroker: string | undefined, prepared: readonly Prepared[], skeletonChars: number): void {
  let sizes = 0;
  for (const p of prepared) sizes += digits(p.bytes.byteLength);
  lastChecked = {
    fields: f,
    madeIds,
    givenBroker,
    datanames: prepared.map((p) => p.dataname),
    payloadTypes: prepared.map((p) => p.payloadType),
    links: prepared.map((p) => p.link),
    charsLessSizes: skeletonChars - sizes,
  };
}

/** A send on a connection it opens itself (a URL in `connection`, or none): flushed, then closed. */
async function sendOnOwnConnection(plan: Plan): Promise<Sent> {
  const opened = await openConnection({
    url: plan.options.connection as string | undefined,
    label: "the connection argument",
    where: "smartsend",
    pass: "pass an open connection (`connection`)",
  });
  const nc = opened.nc;
  try {
    return await afterConnect(plan, nc, plan.givenBroker, true);
  } finally {
    await nc.close().catch(() => {});
  }
}

/** The server `nc` is connected to, as it was given (shown), per connection while it stays on it. */
const brokerUrls = new WeakMap<NatsConnection, { listen: string; url: string | undefined }>();

function connectedBrokerUrl(nc: NatsConnection): string | undefined {
  const listen = nc.getServer();
  const known = brokerUrls.get(nc);
  if (known !== undefined && known.listen === listen) return known.url;
  let url: string | undefined;
  if (listen !== "") {
    // The server connected to, as it was given (ws:// for a WebSocket), shown; nats.js's
    // WebSocket transport writes `ws://h:p` as `ws://h:p/`: no `/` is added to a seed.
    const src = nc.getServers().find((s) => s.listen === listen)?.src ?? listen;
    url = shownServer(src.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]+)\/$/, "$1"));
  }
  brokerUrls.set(nc, { listen, url });
  return url;
}

/** 4 to 6, once the connection (if any) is known. */
function afterConnect(plan: Plan, nc: NatsConnection | undefined, givenBroker: string | undefined, owned = false): Sent | Promise<Sent> {
  const { options, cid, prepared } = plan;
  const brokerUrl = givenBroker ?? (nc === undefined ? undefined : connectedBrokerUrl(nc));
  const serverMax = nc?.info?.max_payload;
  const maxPayload = serverMax !== undefined && serverMax > 0 ? serverMax : (options.maxPayload ?? DEFAULT_MAX_PAYLOAD);
  const headerList = buildHeaders(plan.fields.msg_id, cid, options.headers);
  const envelope = envelopeOf(plan.fields, brokerUrl, plan.metadata, []);

  // 4. Fit the budget.
  const added = plan.givenBroker === undefined ? brokerUrl : undefined; // broker_url not in the skeleton measured
  fitMaxPayload(envelope, prepared, headerLen(headerList), maxPayload, skeletonBound(plan.skeletonChars, prepared.length, added));

  // 5. Inline the direct payloads, hashed now where that needs no waiting (always in Node);
  // otherwise upload the links (hashing meanwhile).
  const wire: MsgPayloadV1[] = [];
  for (const p of prepared) {
    const sha = p.link ? undefined : sha256HexNow(p.bytes);
    if (sha === undefined) return finishAsync(plan, nc, envelope, headerList, owned);
    wire.push(wirePayload(p, base64Encode(p.bytes), sha));
  }
  envelope.payloads = wire;
  return publishEnvelope(plan, nc, envelope, headerList, owned);
}

/** Step 5 with links to upload or hashes to wait for, then 6. */
async function finishAsync(plan: Plan, nc: NatsConnection | undefined, envelope: MsgEnvelopeV1, headerList: [string, string][], owned: boolean): Promise<Sent> {
  const { options, cid } = plan;
  let uploader = options.uploader;
  let fileserver: SourcedUrl | undefined;
  envelope.payloads = await Promise.all(
    plan.prepared.map(async (p) => {
      const hashing = sha256Hex(p.bytes);
      if (!p.link) return wirePayload(p, base64Encode(p.bytes), await hashing);
      const server = (fileserver ??= fileserverUrlSourced(options.fileserverUrl));
      if (uploader === undefined) {
        const token = fileserverToken(options.fileserverToken);
        uploader = plikUploader(server.url, token === undefined ? {} : { token });
      }
      const name = `${fileName(p.dataname)}.${extensionOf(p.payloadType)}`;
      let url: unknown;
      try {
        url = await uploader(name, uploadBytes(p), {
          correlationId: cid,
          oneShot: options.oneShot ?? false,
          ...(options.linkTtlSeconds === undefined ? {} : { ttlSeconds: options.linkTtlSeconds }),
        });
      } catch (e) {
        const what = `uploading payload \`${p.dataname}\` (${p.bytes.byteLength} bytes)`;
        if (e instanceof UploadFailure && options.uploader === undefined) {
          throw new NatsBridgeError(ERROR_UPLOAD, `${what} to ${e.target} failed: ${e.why} (${server.source}). ${uploadAdvice(e.kind, e.status, "pass fileserverUrl")}.`, {
            dataname: p.dataname,
            cause: e.cause,
          });
        }
        throw asBridgeError(e, ERROR_UPLOAD, `${what} with the uploader failed`, { dataname: p.dataname });
      }
      if (typeof url !== "string" || url === "") {
        throw new NatsBridgeError(ERROR_UPLOAD, "the uploader did not answer a URL", { dataname: p.dataname });
      }
      return wirePayload(p, url, await hashing);
    }),
  );
  return publishEnvelope(plan, nc, envelope, headerList, owned);
}

/** Direct `data` at least this long is put into the envelope's JSON by {@link envelopeJson} rather than by JSON.stringify. */
const SPLICED_DATA = 64;

/**
 * `JSON.stringify(envelope)`, without JSON.stringify looking through each direct payload's
 * base64 for characters to escape (it has none: its JSON is the text in quotes), which is most
 * of the work for a payload of a few KB: the envelope is written with those `data` empty and
 * each is put back in its place. The payloads are the envelope's last member and every string
 * in them is written escaped, so from the end of the JSON the occurrences of `"data":""` are,
 * in reverse order, exactly those of the payloads whose `data` is then empty.
 */
function envelopeJson(envelope: MsgEnvelopeV1): string {
  const payloads = envelope.payloads;
  let spliced: string[] | undefined;
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i]!;
    if (p.transport === "direct" && p.data.length >= SPLICED_DATA) (spliced ??= new Array<string>(payloads.length).fill(""))[i] = p.data;
  }
  if (spliced === undefined) return JSON.stringify(envelope);
  let text: string;
  try {
    for (let i = 0; i < payloads.length; i++) if (spliced[i] !== "") payloads[i]!.data = "";
    text = JSON.stringify(envelope);
  } finally {
    for (let i = 0; i < payloads.length; i++) if (spliced[i] !== "") payloads[i]!.data = spliced[i]!;
  }
  const EMPTY_DATA = '"data":""';
  let cut = text.length; // text from here on is in `out`
  let before = text.length; // the next occurrence starts before this
  let out = "";
  for (let i = payloads.length - 1; i >= 0; i--) {
    if (spliced[i] === "" && payloads[i]!.data !== "") continue; // written as it is, no empty `data`
    const found = text.lastIndexOf(EMPTY_DATA, before - 1);
    if (found < 0) return JSON.stringify(envelope); // never: every payload has its `data`
    before = found;
    if (spliced[i] !== "") {
      const quote = found + EMPTY_DATA.length - 1; // the closing quote of the empty string
      out = spliced[i] + text.slice(quote, cut) + out;
      cut = quote;
    }
  }
  return text.slice(0, cut) + out;
}

/** 6. Publish (core or JetStream); waits only for what must be waited for (a JetStream ack, a flush). */
function publishEnvelope(plan: Plan, nc: NatsConnection | undefined, envelope: MsgEnvelopeV1, headerList: [string, string][], owned: boolean): Sent | Promise<Sent> {
  const { subject, options, cid } = plan;
  const json = envelopeJson(envelope);
  const sent: Sent = { envelope, json, headers: Object.fromEntries(headerList) };
  if (!plan.publish || (nc === undefined && options.jetstream === undefined)) return sent;
  const h = natsHeaders();
  for (const [k, v] of headerList) h.set(k, v);
  const published = (): Sent => {
    if (logging()) emit("info", "published", cid, { stage: "publish", subject, bytes: json.length, payloads: envelope.payloads.length });
    return sent;
  };
  const js = options.jetstream;
  if (js !== undefined) {
    return (async () => {
      try {
        const ack = await js.publish(subject, json, { msgID: plan.fields.msg_id, headers: h });
        sent.streamSequence = ack.seq;
        sent.duplicate = ack.duplicate;
      } catch (e) {
        throw new NatsBridgeError("PUBLISH_FAILED", `JetStream publish on \`${subject}\``, { cause: e });
      }
      return published();
    })();
  }
  try {
    if (nc === undefined) throw new Error("no connection");
    // The same bytes nats.js would encode from the text, written by Buffer where there is one.
    nc.publish(subject, utf8Encode(json), { headers: h });
  } catch (e) {
    throw new NatsBridgeError("PUBLISH_FAILED", `publish on \`${subject}\``, { cause: e });
  }
  // A connection opened for this call is closed next: flushed first, so nothing is lost.
  if (owned || (options.flush ?? DEFAULT_FLUSH)) {
    return nc.flush().then(published, (e: unknown) => {
      throw new NatsBridgeError("PUBLISH_FAILED", `publish on \`${subject}\``, { cause: e });
    });
  }
  return published();
}

/**
 * Publishes already-serialized envelope text (the reference's `publish_message`) with the
 * `Correlation-Id` header and `Nats-Msg-Id` (its `msg_id`); flushed as smartsend flushes. The text must be a
 * `msg_envelope_v1` a v1 writer may publish, in strict JSON (SERIALIZATION_ERROR otherwise):
 * this runtime publishes nothing another one refuses.
 */
export async function publishMessage(connection: NatsConnection | string, subject: string, text: string, correlationId: string): Promise<void> {
  if (typeof connection !== "string") checkConnection(connection, "connection", "publishMessage");
  checkText(subject, "subject", "publishMessage");
  checkArgument(text, "string", "text", "publishMessage");
  checkArgument(correlationId, "string", "correlationId", "publishMessage");
  let nc: NatsConnection | undefined;
  const owned = typeof connection === "string";
  try {
    if (typeof text !== "string") throw new NatsBridgeError(ERROR_WRITER_RULE, "the envelope text must be a string");
    const parsed = parseStrictJson(text, { envelope: true });
    if (!parsed.ok) throw new NatsBridgeError(ERROR_WRITER_RULE, `the envelope text is not strict JSON: ${parsed.reason}`);
    checkEnvelopeToWrite(parsed.value, correlationId);
    const msgId = (parsed.value as MsgEnvelopeV1).msg_id;
    nc =
      typeof connection === "string"
        ? (await openConnection({ url: connection, label: "the connection argument of publishMessage", where: "publishMessage", pass: "check the URL" })).nc
        : connection;
    const h = natsHeaders();
    h.set(HEADER_CORRELATION_ID, correlationId);
    h.set(HEADER_MSG_ID, msgId);
    nc.publish(subject, text, { headers: h });
    if (owned || DEFAULT_FLUSH) await nc.flush();
    emit("info", "published", correlationId, { stage: "publish", subject, bytes: text.length });
  } catch (e) {
    throw asBridgeError(e, "PUBLISH_FAILED", `publish on \`${subject}\``, { correlationId });
  } finally {
    if (owned && nc !== undefined) await nc.close().catch(() => {});
  }
}
