/**
 * Request/reply on top of smartsend and smartreceive: a request carries a fresh inbox in
 * `reply_to`; the reply keeps the request's correlation id and names it in `reply_to_msg_id`.
 * A responder that cannot handle a request answers with an `error_response_v1`
 * ({@link smartreplyError}); {@link smartrequest} throws it as a remote NatsBridgeError with
 * the responder's code (`remote: true`).
 */
import { createInbox, headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import {
  DEFAULT_FLUSH,
  ERROR_NOT_ENVELOPE,
  ERROR_NOT_JSON,
  ERROR_WRITER_RULE,
  validateErrorResponseV1,
  type ErrorResponseV1,
  type MsgEnvelopeV1,
} from "@natsbridge/types";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { parseStrictJson } from "./json.js";
import { log } from "./log.js";
import { checkNumberArgument, checkOptions } from "./options.js";
import type { PayloadTuple } from "./payload.js";
import { RECEIVE_OPTIONS, smartreceive, type MessageLike, type ReceiveOptions, type Received } from "./receive.js";
import { SEND_OPTIONS, smartsend, type SendOptions, type Sent } from "./send.js";
import { buildHeaders, checkedUuid, jsonHasLoneSurrogate, nowTimestamp } from "./wire.js";
import { checkErrorResponseToWrite } from "./writer.js";

const MS_PER_SECOND = 1000;
/** How long {@link smartrequest} waits for its reply by default: 10 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10 * MS_PER_SECOND;

/** Sends a request envelope and waits for the first reply envelope (decoded) on a fresh inbox. */
export async function smartrequest(
  nc: NatsConnection,
  subject: string,
  payloads: readonly PayloadTuple[],
  options: SendOptions = {},
  receive: ReceiveOptions = {},
  timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
): Promise<Received> {
  checkOptions(options, SEND_OPTIONS, "smartrequest");
  checkOptions(receive, RECEIVE_OPTIONS, "smartrequest (receive options)");
  checkNumberArgument(timeoutMs, "timeoutMs", "smartrequest");
  const cid = checkedUuid(options.correlationId, "correlation_id");
  const inbox = createInbox();
  let sub;
  try {
    sub = nc.subscribe(inbox, { max: 1 });
  } catch (e) {
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", "subscribing to the reply inbox", { correlationId: cid, cause: e });
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = (async () => {
      for await (const m of sub) return m;
      return undefined;
    })();
    await smartsend(subject, payloads, { ...options, connection: nc, correlationId: cid, replyTo: inbox, publish: true });
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), timeoutMs);
    });
    const m = await Promise.race([first, timeout]);
    if (m === "timeout") throw new NatsBridgeError("TIMEOUT", `no reply on \`${subject}\` within ${timeoutMs} ms`, { correlationId: cid });
    if (m === undefined) throw new NatsBridgeError("NATS_CONNECTION_FAILED", "reply subscription closed", { correlationId: cid });
    try {
      return await smartreceive(m, receive);
    } catch (e) {
      // Not an envelope: perhaps the responder's error_response_v1. Looked at only then, so a
      // good reply costs nothing more.
      if (e instanceof NatsBridgeError && (e.code === ERROR_NOT_ENVELOPE || e.code === ERROR_NOT_JSON)) throw errorResponse(m, cid) ?? e;
      throw e;
    }
  } catch (e) {
    throw asBridgeError(e, "NATS_CONNECTION_FAILED", `request on \`${subject}\``, { correlationId: cid });
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
}

/** The remote error in an `error_response_v1` answering the request `cid`; `undefined` when `msg` is not one (in strict JSON). */
function errorResponse(msg: MessageLike, cid: string): NatsBridgeError | undefined {
  const parsed = parseStrictJson(msg.data);
  if (!parsed.ok) return undefined;
  const checked = validateErrorResponseV1(parsed.value, { reader: true });
  return checked.ok ? NatsBridgeError.fromErrorBody(checked.value.error, cid) : undefined;
}

/**
 * Answers `request` with an `error_response_v1` on its `reply_to`: `error`'s code and message
 * (its {@link NatsBridgeError.report}), the request's correlation id (also in
 * `error.details`), a new `msg_id`, with the `Nats-Msg-Id` and `Correlation-Id` headers. The
 * requester's {@link smartrequest} throws it as a remote NatsBridgeError. Returns what was
 * published.
 */
export async function smartreplyError(nc: NatsConnection, request: MsgEnvelopeV1, error: NatsBridgeError): Promise<ErrorResponseV1> {
  const cid = request.correlation_id;
  if (!request.reply_to) {
    throw new NatsBridgeError(ERROR_NOT_ENVELOPE, "the request has no `reply_to`", { correlationId: cid });
  }
  const body = error.toErrorBody();
  body.details = { ...body.details, correlation_id: cid };
  const msgId = checkedUuid(undefined, "msg_id");
  const response: ErrorResponseV1 = {
    correlation_id: cid,
    msg_id: msgId,
    timestamp: nowTimestamp(),
    send_to: request.reply_to,
    error: body,
  };
  checkErrorResponseToWrite(response, cid);
  const json = JSON.stringify(response);
  if (jsonHasLoneSurrogate(json)) {
    throw new NatsBridgeError(ERROR_WRITER_RULE, "the error response holds text that is not valid Unicode (a lone surrogate)", { correlationId: cid });
  }
  try {
    const h = natsHeaders();
    for (const [k, v] of buildHeaders(msgId, cid)) h.set(k, v);
    nc.publish(request.reply_to, json, { headers: h });
    if (DEFAULT_FLUSH) await nc.flush();
  } catch (e) {
    throw new NatsBridgeError("PUBLISH_FAILED", `publish on \`${request.reply_to}\``, { correlationId: cid, cause: e });
  }
  log("info", "published error response", cid, { stage: "publish", subject: request.reply_to, bytes: json.length, code: body.code });
  return response;
}

/** Answers `request` on its `reply_to`, same correlation id, `reply_to_msg_id` = its `msg_id`. */
export async function smartreply(
  nc: NatsConnection,
  request: MsgEnvelopeV1,
  payloads: readonly PayloadTuple[],
  options: SendOptions = {},
): Promise<Sent> {
  checkOptions(options, SEND_OPTIONS, "smartreply");
  if (request.reply_to === "") {
    throw new NatsBridgeError(ERROR_NOT_ENVELOPE, "the request has no `reply_to`", { correlationId: request.correlation_id });
  }
  return smartsend(request.reply_to, payloads, {
    ...options,
    connection: nc,
    correlationId: request.correlation_id,
    replyToMsgId: request.msg_id,
    receiverName: request.sender_name,
    receiverId: request.sender_id,
  });
}
