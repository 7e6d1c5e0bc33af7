/**
 * `smartsend`: serialize every payload, choose direct or link per payload so that the whole
 * message fits the server's `max_payload`, upload the links, publish the envelope with the
 * `Nats-Msg-Id` and `Correlation-Id` headers.
 */
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { MsgEnvelopeV1, MsgPayloadV1, MsgPurpose } from "@natsbridge/types";
import { DEFAULT_MAX_PAYLOAD, connectTo, fileserverUrl, natsUrl, processSenderId, sizeThreshold } from "./config.js";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { log } from "./log.js";
import { extensionOf, serializePayload, type PayloadTuple } from "./payload.js";
import { plikUploader, type Uploader } from "./plik.js";
import {
  base64Encode,
  buildHeaders,
  checkedUuid,
  encodedLen,
  fileName,
  headerLen,
  jsonHasLoneSurrogate,
  nowTimestamp,
  redact,
  sha256Hex,
} from "./wire.js";

export interface SendOptions {
  /** An open connection, or a broker URL to connect to (and close again). Default: `NATS_URL`. */
  connection?: NatsConnection | string;
  /** Publish the envelope (default true). With `false`, only the envelope and its JSON are made (links are still uploaded). */
  publish?: boolean;
  /** Publish through JetStream (acked; duplicates within the stream's window dropped by `msg_id`).
   * Give `connection` too, so the server's `max_payload` is known. */
  jetstream?: JetStreamClient;
  /** Plik-compatible file server for link payloads. Default: `FILESERVER_URL`. */
  fileserverUrl?: string;
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
  /** Written as `broker_url`; defaults to the URL connected to, when known. */
  brokerUrl?: string;
  /** Message-level metadata. */
  metadata?: Record<string, unknown>;
  /** Extra NATS headers (e.g. `Sample-Rate`). */
  headers?: Record<string, string>;
  /** Lifetime of link uploads, seconds (the store's default when absent). */
  linkTtlSeconds?: number;
  /** One-shot link uploads (deleted after the first download). Default false. */
  oneShot?: boolean;
  /** Flush after a core publish so errors surface here (default true). */
  flush?: boolean;
}

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
  bytes: Uint8Array;
  link: boolean;
  id: string;
}

/** Room kept in the budget for each link's URL, which is only known after the upload. */
const LINK_URL_ALLOWANCE = 1024;

const utf8 = new TextEncoder();

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

/**
 * Moves the largest direct payloads to link until the message fits `maxPayload`: the envelope's
 * JSON (a link URL counted as LINK_URL_ALLOWANCE bytes), every direct payload's base64, and the
 * headers. PAYLOAD_TOO_LARGE only when even all links do not fit.
 */
function fitMaxPayload(envelope: MsgEnvelopeV1, prepared: Prepared[], headerBytes: number, maxPayload: number): void {
  for (;;) {
    envelope.payloads = prepared.map((p) => wirePayload(p, "", "0".repeat(64)));
    const skeleton = utf8.encode(JSON.stringify(envelope)).length;
    let inline = 0;
    let links = 0;
    for (const p of prepared) {
      if (p.link) links += LINK_URL_ALLOWANCE;
      else inline += encodedLen(p.bytes.byteLength);
    }
    const total = skeleton + inline + links + headerBytes;
    if (total <= maxPayload) return;
    let largest: Prepared | undefined;
    for (const p of prepared) if (!p.link && (largest === undefined || p.bytes.byteLength > largest.bytes.byteLength)) largest = p;
    if (largest === undefined) {
      throw new NatsBridgeError("PAYLOAD_TOO_LARGE", `the envelope alone is ${total} bytes, over the server's max_payload ${maxPayload}`);
    }
    log("debug", "moving payload to link to fit max_payload", envelope.correlation_id, {
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
  let cid: string | undefined = options.correlationId;
  try {
    cid = checkedUuid(options.correlationId, "correlation_id");
    return await smartsendInner(subject, payloads, options, cid);
  } catch (e) {
    throw asBridgeError(e, "PUBLISH_FAILED", `sending on \`${subject}\``, { correlationId: cid });
  }
}

async function smartsendInner(subject: string, payloads: readonly PayloadTuple[], options: SendOptions, cid: string): Promise<Sent> {
  if (subject === "") throw new NatsBridgeError("INVALID_ENVELOPE", "the subject must not be empty");
  const senderName = options.senderName ?? "natsbridge-js";
  if (senderName === "") throw new NatsBridgeError("INVALID_ENVELOPE", "`sender_name` must not be empty");
  const threshold = options.sizeThreshold ?? sizeThreshold();
  const publish = options.publish ?? true;

  // 1. Serialize.
  const prepared: Prepared[] = payloads.map(([dataname, data, payloadType]) => {
    let bytes: Uint8Array;
    try {
      bytes = serializePayload(payloadType, data, dataname);
    } catch (e) {
      throw asBridgeError(e, "SERIALIZATION_ERROR", "serializing", { dataname });
    }
    const link = bytes.byteLength >= threshold;
    log("debug", "serialized", cid, { stage: "serialize", dataname, bytes: bytes.byteLength, link });
    return { dataname, payloadType, bytes, link, id: checkedUuid(undefined, "id") };
  });

  // 2. Connect (to learn max_payload) when publishing.
  let nc: NatsConnection | undefined;
  let owned = false;
  let brokerUrl = options.brokerUrl;
  if (typeof options.connection === "object") {
    nc = options.connection; // also tells max_payload when not publishing
  } else if (publish && options.jetstream === undefined) {
    const url = options.connection ?? natsUrl();
    nc = await connectTo(url);
    owned = true;
    brokerUrl ??= redact(url.split(",")[0] ?? url);
  } else if (typeof options.connection === "string") {
    brokerUrl ??= redact(options.connection);
  }
  if (brokerUrl === undefined && nc !== undefined) {
    // The server connected to, with the scheme it was reached by (ws:// for a WebSocket).
    const listen = nc.getServer();
    const src = nc.getServers().find((s) => s.listen === listen)?.src ?? listen;
    if (listen !== "") brokerUrl = src.includes("://") ? redact(src).replace(/^([a-z]+:\/\/[^/]+)\/$/, "$1") : `nats://${listen}`;
  }
  try {
    const serverMax = nc?.info?.max_payload;
    const maxPayload = serverMax !== undefined && serverMax > 0 ? serverMax : (options.maxPayload ?? DEFAULT_MAX_PAYLOAD);

    const msgId = checkedUuid(options.msgId, "msg_id");
    const headerList = buildHeaders(msgId, cid, options.headers);
    const envelope: MsgEnvelopeV1 = {
      correlation_id: cid,
      msg_id: msgId,
      timestamp: nowTimestamp(),
      send_to: subject,
      msg_purpose: options.msgPurpose ?? "chat",
      sender_name: senderName,
      sender_id: options.senderId ?? processSenderId(),
      receiver_name: options.receiverName ?? "",
      receiver_id: options.receiverId ?? "",
      reply_to: options.replyTo ?? "",
      reply_to_msg_id: options.replyToMsgId ?? "",
      ...(brokerUrl === undefined ? {} : { broker_url: brokerUrl }),
      metadata: options.metadata ?? {},
      payloads: [],
    };

    // 3. Fit the budget.
    fitMaxPayload(envelope, prepared, headerLen(headerList), maxPayload);
    // Every field but the payloads' data (base64 or URLs) is in the skeleton fitMaxPayload left.
    if (jsonHasLoneSurrogate(JSON.stringify(envelope))) {
      throw new NatsBridgeError("SERIALIZATION_ERROR", "the envelope holds text that is not valid Unicode (a lone surrogate)");
    }

    // 4. Upload links (hashing meanwhile), inline the rest.
    let uploader = options.uploader;
    envelope.payloads = await Promise.all(
      prepared.map(async (p) => {
        const hashing = sha256Hex(p.bytes);
        if (!p.link) return wirePayload(p, base64Encode(p.bytes), await hashing);
        uploader ??= plikUploader(options.fileserverUrl ?? fileserverUrl());
        const name = `${fileName(p.dataname)}.${extensionOf(p.payloadType)}`;
        let url: string;
        try {
          url = await uploader(name, p.bytes, {
            correlationId: cid,
            oneShot: options.oneShot ?? false,
            ...(options.linkTtlSeconds === undefined ? {} : { ttlSeconds: options.linkTtlSeconds }),
          });
        } catch (e) {
          throw asBridgeError(e, "UPLOAD_FAILED", "uploading", { dataname: p.dataname });
        }
        return wirePayload(p, url, await hashing);
      }),
    );
    const json = JSON.stringify(envelope);
    const headerRecord = Object.fromEntries(headerList);

    // 5. Publish.
    const sent: Sent = { envelope, json, headers: headerRecord };
    if (publish && (nc !== undefined || options.jetstream !== undefined)) {
      const h = natsHeaders();
      for (const [k, v] of headerList) h.set(k, v);
      if (options.jetstream !== undefined) {
        try {
          const ack = await options.jetstream.publish(subject, json, { msgID: msgId, headers: h });
          sent.streamSequence = ack.seq;
          sent.duplicate = ack.duplicate;
        } catch (e) {
          throw new NatsBridgeError("PUBLISH_FAILED", `JetStream publish on \`${subject}\``, { cause: e });
        }
      } else {
        try {
          if (nc === undefined) throw new Error("no connection");
          nc.publish(subject, json, { headers: h });
          if (options.flush ?? true) await nc.flush();
        } catch (e) {
          throw new NatsBridgeError("PUBLISH_FAILED", `publish on \`${subject}\``, { cause: e });
        }
      }
      log("info", "published", cid, { stage: "publish", subject, bytes: json.length, payloads: envelope.payloads.length });
    }
    return sent;
  } finally {
    if (owned && nc !== undefined) await nc.close().catch(() => {});
  }
}

/**
 * Publishes already-serialized envelope text (the reference's `publish_message`) with the
 * `Correlation-Id` header, and `Nats-Msg-Id` when the text is an envelope with a `msg_id`.
 */
export async function publishMessage(connection: NatsConnection | string, subject: string, text: string, correlationId: string): Promise<void> {
  let nc: NatsConnection | undefined;
  const owned = typeof connection === "string";
  try {
    nc = typeof connection === "string" ? await connectTo(connection) : connection;
    const h = natsHeaders();
    h.set("Correlation-Id", correlationId);
    try {
      const v: unknown = JSON.parse(text);
      const msgId = typeof v === "object" && v !== null ? (v as Record<string, unknown>)["msg_id"] : undefined;
      if (typeof msgId === "string" && msgId !== "") h.set("Nats-Msg-Id", msgId);
    } catch {
      // not JSON: sent as is
    }
    nc.publish(subject, text, { headers: h });
    await nc.flush();
    log("info", "published", correlationId, { stage: "publish", subject, bytes: text.length });
  } catch (e) {
    throw asBridgeError(e, "PUBLISH_FAILED", `publish on \`${subject}\``, { correlationId });
  } finally {
    if (owned && nc !== undefined) await nc.close().catch(() => {});
  }
}
