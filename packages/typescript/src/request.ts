/**
 * Request/reply on top of smartsend and smartreceive: a request carries a fresh inbox in
 * `reply_to`; the reply keeps the request's correlation id and names it in `reply_to_msg_id`.
 * A responder that cannot handle a request answers with an `error_response_v1`
 * ({@link smartreplyError}, built by {@link errorResponse}); {@link smartrequest} throws it as
 * a remote NatsBridgeError with the responder's code (`remote: true`), an
 * {@link ApplicationError} for an application's own failure. {@link serve} is a responder loop
 * that answers every request, a handler that throws included, so no requester waits out its
 * timeout.
 */
import { createInbox, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import {
  DEFAULT_FLUSH,
  ERROR_BAD_BYTES,
  ERROR_APPLICATION,
  ERROR_BAD_OPTION,
  ERROR_HANDLER,
  ERROR_NOT_ENVELOPE,
  ERROR_NOT_JSON,
  ERROR_WRITER_RULE,
  HEADER_CORRELATION_ID,
  validateErrorResponseV1,
  validateMsgEnvelopeV1,
  type ErrorBody,
  type ErrorResponseV1,
  type MsgEnvelopeV1,
} from "@natsbridge/types";
import { ApplicationError, NatsBridgeError, asBridgeError, shownValue } from "./errors.js";
import { parseStrictJson } from "./json.js";
import { emit } from "./log.js";
import { checkArgument, checkConnection, checkNoMoreArguments, checkOptions, checkText, describe, type OptionSpec } from "./options.js";
import type { PayloadTuple } from "./payload.js";
import { RECEIVE_OPTIONS, checkMessage, smartreceive, type MessageLike, type ReceiveOptions, type Received } from "./receive.js";
import { SEND_OPTIONS, smartsend, type SendOptions, type Sent } from "./send.js";
import { buildHeaders, checkedUuid, jsonHasLoneSurrogate, nowTimestamp } from "./wire.js";
import { checkErrorResponseToWrite } from "./writer.js";

const MS_PER_SECOND = 1000;
/** How long {@link smartrequest} waits for its reply by default: 10 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10 * MS_PER_SECOND;

/**
 * The options of {@link smartrequest}: how long to wait (`timeout`, ms, as nats.js's
 * `request`), how to receive the reply (`receive`), and every send option but those the
 * request sets itself (`connection`, `publish`, `jetstream`, `replyTo`).
 */
export interface RequestOptions extends Omit<SendOptions, "connection" | "publish" | "jetstream" | "replyTo"> {
  /** How long to wait for the reply, ms. Default 10 000. */
  timeout?: number;
  /** How the reply is received (allowed hosts, limits, …). */
  receive?: ReceiveOptions;
}

const { connection: _c, publish: _p, jetstream: _j, replyTo: _r, ...REQUEST_SEND_OPTIONS } = SEND_OPTIONS;

/** Every key of {@link RequestOptions} with its kind: unknown keys and wrong types are refused. */
export const REQUEST_OPTIONS = {
  ...REQUEST_SEND_OPTIONS,
  timeout: "duration",
  receive: { nested: RECEIVE_OPTIONS },
} as const satisfies OptionSpec<RequestOptions>;

/** Names smartrequest used to take, or that other libraries use, and the option meant. */
const REQUEST_HINTS = { timeoutMs: "timeout", timeout_ms: "timeout", receiveOptions: "receive" };

/**
 * Sends a request envelope and waits for the first reply envelope (decoded) on a fresh inbox:
 * `smartrequest(nc, subject, payloads, { timeout, receive, ...sendOptions })`. A responder's
 * `error_response_v1` is thrown as a remote NatsBridgeError (an {@link ApplicationError} for
 * APPLICATION_ERROR); no reply within `timeout` ms is TIMEOUT.
 */
export async function smartrequest(
  nc: NatsConnection,
  subject: string,
  payloads: readonly PayloadTuple[],
  options: RequestOptions = {},
  ...extra: never[]
): Promise<Received> {
  const where = "smartrequest";
  checkNoMoreArguments(extra, where, "smartrequest(nc, subject, payloads, { timeout, receive, ...sendOptions }) takes the timeout (ms) and the receive options in its options object");
  checkConnection(nc, "nc", where);
  checkText(subject, "subject", where);
  checkArgument(payloads, "array", "payloads", where);
  checkOptions(options, REQUEST_OPTIONS, where, REQUEST_HINTS);
  const { timeout = DEFAULT_REQUEST_TIMEOUT_MS, receive = {}, ...sendOptions } = options;
  const cid = checkedUuid(options.correlationId, "correlation_id");
  const inbox = createInbox();
  let sub: Subscription;
  try {
    sub = nc.subscribe(inbox, { max: 1 });
  } catch (e) {
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `subscribing to the reply inbox of a request on \`${subject}\` failed: the connection is closed or draining. Connect again`, { correlationId: cid, cause: e });
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = (async () => {
      for await (const m of sub) return m;
      return undefined;
    })();
    await smartsend(subject, payloads, { ...sendOptions, connection: nc, correlationId: cid, replyTo: inbox, publish: true });
    const timedOut = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), timeout);
    });
    const m = await Promise.race([first, timedOut]);
    if (m === "timeout") {
      throw new NatsBridgeError(
        "TIMEOUT",
        `waiting for the reply to a request on \`${subject}\` failed: none came within ${timeout} ms. Check that a responder is subscribed to \`${subject}\` (serve), or give a longer timeout`,
        { correlationId: cid },
      );
    }
    if (m === undefined) {
      throw new NatsBridgeError("NATS_CONNECTION_FAILED", `waiting for the reply to a request on \`${subject}\` failed: the connection closed. Connect again`, { correlationId: cid });
    }
    return await decodeReply(m, cid, receive);
  } catch (e) {
    throw asBridgeError(e, "NATS_CONNECTION_FAILED", `request on \`${subject}\``, { correlationId: cid });
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
}

/**
 * What a requester does with the reply message to the request `correlationId` (the step
 * {@link smartrequest} takes once it arrived; `correlationId` labels the errors): a reply envelope is received and returned; an
 * `error_response_v1` is thrown as the responder's remote error (an {@link ApplicationError}
 * for APPLICATION_ERROR); anything else is INVALID_ENVELOPE.
 */
export async function decodeReply(msg: MessageLike | Uint8Array | string, correlationId?: string, options: ReceiveOptions = {}): Promise<Received> {
  checkMessage(msg, "decodeReply");
  checkArgument(correlationId, "string", "correlationId", "decodeReply", true);
  checkOptions(options, RECEIVE_OPTIONS, "decodeReply");
  try {
    return await smartreceive(msg, options);
  } catch (e) {
    // Not an envelope: perhaps the responder's error_response_v1. Looked at only then, so a
    // good reply costs nothing more.
    if (e instanceof NatsBridgeError && (e.code === ERROR_NOT_ENVELOPE || e.code === ERROR_NOT_JSON)) {
      throw remoteError(typeof msg === "string" || msg instanceof Uint8Array ? msg : msg.data, correlationId ?? e.correlationId) ?? e.withCorrelationId(correlationId);
    }
    throw asBridgeError(e, ERROR_BAD_BYTES, "receiving the reply", { correlationId });
  }
}

/** The remote error in an `error_response_v1` answering the request `cid`; `undefined` when `data` is not one (in strict JSON). */
function remoteError(data: Uint8Array | string, cid: string | undefined): NatsBridgeError | undefined {
  const parsed = parseStrictJson(data);
  if (!parsed.ok) return undefined;
  const checked = validateErrorResponseV1(parsed.value, { reader: true });
  return checked.ok ? NatsBridgeError.fromErrorBody(checked.value.error, cid) : undefined;
}

/** INVALID_ARGUMENT unless `request` looks like an envelope (an object with a string `correlation_id`). */
function checkRequest(request: unknown, where: string): asserts request is MsgEnvelopeV1 {
  const r = request as { correlation_id?: unknown; reply_to?: unknown } | null;
  if (typeof r !== "object" || r === null || Array.isArray(r) || typeof r.correlation_id !== "string") {
    throw new NatsBridgeError(
      ERROR_BAD_OPTION,
      `calling ${where}: \`request\` must be the request's envelope (\`received.envelope\`), got ${describe(request)}`,
    );
  }
  if (r.reply_to !== undefined && typeof r.reply_to !== "string") {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: the request's \`reply_to\` must be a string, got ${describe(r.reply_to)}`);
  }
}

/** The `error` object answering `error`: a NatsBridgeError's own, or HANDLER_FAILED for anything else thrown. */
function errorBodyOf(error: unknown, cid: string): ErrorBody {
  if (error instanceof NatsBridgeError) {
    if (error.code === ERROR_APPLICATION && !(error instanceof ApplicationError)) {
      // The same answer in every runtime: the caller's mistake, not a writer rule met by chance.
      throw new NatsBridgeError(ERROR_BAD_OPTION, `an ${ERROR_APPLICATION} needs its application code: throw new ApplicationError(code, message)`, { correlationId: cid });
    }
    const own = error.toErrorBody();
    const details: Record<string, unknown> = { ...(error instanceof ApplicationError ? error.details : {}), correlation_id: cid };
    if (error.dataname !== undefined) details["dataname"] = error.dataname;
    return { ...own, details };
  }
  let message: string;
  if (error instanceof Error) {
    const name = typeof error.name === "string" && error.name !== "" ? error.name : "Error";
    const text = new NatsBridgeError(ERROR_HANDLER, typeof error.message === "string" ? error.message : "", { cause: error.cause }).messageWithCauses();
    message = `the handler raised ${name}${text === "" ? "" : `: ${text}`}`;
  } else {
    let shown: string;
    try {
      shown = typeof error === "symbol" ? error.toString() : String(error);
    } catch {
      shown = shownValue(error);
    }
    message = `the handler threw ${shown}`;
  }
  return { code: ERROR_HANDLER, message, details: { correlation_id: cid } };
}

/**
 * The `error_response_v1` answering `request` with `error` (a pure builder: nothing is
 * published). An {@link ApplicationError} is APPLICATION_ERROR with its `application_code` and
 * `details`; any other NatsBridgeError keeps its code; anything else thrown is HANDLER_FAILED,
 * `the handler raised <name>: <message>` (never a stack trace). The message is the error's own
 * with its causes, without the code or payload name (they have their fields);
 * `details.correlation_id` is the request's, `details.dataname` the payload's when known. The
 * response goes to the request's `reply_to` (INVALID_ENVELOPE when it has none) with the
 * request's correlation id, a new `msg_id` and the current time, and is checked by the writer
 * rules (SERIALIZATION_ERROR).
 */
export function errorResponse(request: MsgEnvelopeV1, error: unknown): ErrorResponseV1 {
  checkRequest(request, "errorResponse");
  const cid = request.correlation_id;
  if (!request.reply_to) {
    throw new NatsBridgeError(ERROR_NOT_ENVELOPE, "answering the request with an error failed: the request has no `reply_to`, so there is nowhere to answer", {
      correlationId: cid,
    });
  }
  const response: ErrorResponseV1 = {
    correlation_id: cid,
    msg_id: checkedUuid(undefined, "msg_id"),
    timestamp: nowTimestamp(),
    send_to: request.reply_to,
    error: errorBodyOf(error, cid),
  };
  checkErrorResponseToWrite(response, cid);
  return response;
}

/**
 * Answers `request` with an `error_response_v1` on its `reply_to` ({@link errorResponse} of
 * `error`, which may be anything thrown), with the `Nats-Msg-Id` and `Correlation-Id`
 * headers. The requester's {@link smartrequest} throws it as a remote NatsBridgeError. Returns
 * what was published.
 */
export async function smartreplyError(nc: NatsConnection, request: MsgEnvelopeV1, error: unknown): Promise<ErrorResponseV1> {
  checkConnection(nc, "nc", "smartreplyError");
  const response = errorResponse(request, error);
  const cid = response.correlation_id;
  const json = JSON.stringify(response);
  if (jsonHasLoneSurrogate(json)) {
    throw new NatsBridgeError(ERROR_WRITER_RULE, "the error response holds text that is not valid Unicode (a lone surrogate)", { correlationId: cid });
  }
  try {
    const h = natsHeaders();
    for (const [k, v] of buildHeaders(response.msg_id, cid)) h.set(k, v);
    nc.publish(response.send_to, json, { headers: h });
    if (DEFAULT_FLUSH) await nc.flush();
  } catch (e) {
    throw new NatsBridgeError("PUBLISH_FAILED", `publishing the error response on \`${response.send_to}\` failed: the connection is closed or draining`, { correlationId: cid, cause: e });
  }
  emit("info", "published error response", cid, { stage: "publish", subject: response.send_to, bytes: json.length, code: response.error.code });
  return response;
}

/** Answers `request` on its `reply_to`, same correlation id, `reply_to_msg_id` = its `msg_id`. */
export async function smartreply(
  nc: NatsConnection,
  request: MsgEnvelopeV1,
  payloads: readonly PayloadTuple[],
  options: SendOptions = {},
): Promise<Sent> {
  checkConnection(nc, "nc", "smartreply");
  checkRequest(request, "smartreply");
  checkOptions(options, SEND_OPTIONS, "smartreply");
  if (!request.reply_to) {
    throw new NatsBridgeError(ERROR_NOT_ENVELOPE, "answering the request failed: the request has no `reply_to`, so there is nowhere to answer", {
      correlationId: request.correlation_id,
    });
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

/** The options of {@link serve}. */
export interface ServeOptions {
  /** A queue group: each request goes to one member. */
  queue?: string;
  /** Options of every answer (file server, size threshold, sender name, …). */
  send?: SendOptions;
  /** How requests are received (allowed hosts, limits, …). */
  receive?: ReceiveOptions;
}

/** Every key of {@link ServeOptions} with its kind: unknown keys and wrong types are refused. */
export const SERVE_OPTIONS = {
  queue: "string",
  send: { nested: SEND_OPTIONS },
  receive: { nested: RECEIVE_OPTIONS },
} as const satisfies OptionSpec<ServeOptions>;

/**
 * What {@link serve} calls per request: returns the answer's payloads (sent with
 * {@link smartreply}), or `undefined` when it answered itself (or there is nothing to answer).
 * Whatever it throws is answered as an error response ({@link errorResponse}).
 */
export type Handler = (request: Received) => Promise<readonly PayloadTuple[] | undefined> | readonly PayloadTuple[] | undefined;

/** A running responder (see {@link serve}). */
export interface Server {
  /** The subject served. */
  readonly subject: string;
  /** Stops taking requests, answers those already taken, and resolves when done (a drain). */
  stop(): Promise<void>;
  /** Resolves when the server has stopped (after {@link stop}, or when the connection closed). */
  readonly closed: Promise<void>;
}

/** The envelope of a message that failed to decode, when it is one (for its `reply_to`). */
function readableEnvelope(data: Uint8Array): MsgEnvelopeV1 | undefined {
  const parsed = parseStrictJson(data, { envelope: true });
  if (!parsed.ok) return undefined;
  const checked = validateMsgEnvelopeV1(parsed.value, { reader: true });
  return checked.ok ? checked.value : undefined;
}

/**
 * Serves requests on `subject`: each one is decoded and handed to `handler` (concurrently, one
 * task per request); the payloads it returns are the answer ({@link smartreply}). A handler
 * that throws, an {@link ApplicationError}, any other NatsBridgeError or anything else, is
 * answered with an `error_response_v1` ({@link smartreplyError}) and logged at `warn` with its
 * stack and the correlation id, so the requester never waits out its timeout. A request that
 * cannot be decoded is answered with its error when its `reply_to` can be read, else logged
 * with its correlation id (from the header) and skipped; nothing a request carries stops the
 * server. Resolves once the server has the subscription.
 */
export async function serve(nc: NatsConnection, subject: string, handler: Handler, options: ServeOptions = {}): Promise<Server> {
  const where = "serve";
  checkConnection(nc, "nc", where);
  checkText(subject, "subject", where);
  checkArgument(handler, "function", "handler", where);
  checkOptions(options, SERVE_OPTIONS, where);
  const send = options.send ?? {};
  const receive = options.receive ?? {};
  let sub: Subscription;
  try {
    sub = nc.subscribe(subject, options.queue === undefined ? {} : { queue: options.queue });
    await nc.flush();
  } catch (e) {
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `subscribing to \`${subject}\` to serve it failed: the connection is closed or draining. Connect again`, { cause: e });
  }

  const answerWithError = async (request: MsgEnvelopeV1, error: unknown): Promise<void> => {
    try {
      await smartreplyError(nc, request, error);
    } catch (e) {
      const err = asBridgeError(e, "PUBLISH_FAILED", "answering with an error response");
      emit("error", "could not answer with an error response", request.correlation_id, { stage: "serve", subject, code: err.code, error: err.report() });
    }
  };

  const answer = async (m: Msg): Promise<void> => {
    let request: Received;
    try {
      request = await smartreceive(m, receive);
    } catch (e) {
      const err = asBridgeError(e, ERROR_BAD_BYTES, "receiving a request");
      const envelope = readableEnvelope(m.data);
      const cid = err.correlationId ?? envelope?.correlation_id ?? m.headers?.get(HEADER_CORRELATION_ID) ?? "";
      if (envelope !== undefined && envelope.reply_to !== "") {
        emit("warn", "request could not be received: answered with its error", cid, { stage: "serve", subject, code: err.code, error: err.report() });
        await answerWithError(envelope, err);
      } else {
        emit("warn", "request could not be decoded and has no readable reply_to: skipped", cid, { stage: "serve", subject, code: err.code, error: err.report() });
      }
      return;
    }
    const envelope = request.envelope;
    const cid = envelope.correlation_id;
    let result: readonly PayloadTuple[] | undefined;
    try {
      result = await handler(request);
    } catch (e) {
      const stack = e instanceof Error ? e.stack : undefined;
      const shown = e instanceof NatsBridgeError ? e.report() : e instanceof Error ? `${e.name}: ${e.message}` : shownValue(e);
      emit("warn", "the handler failed: answered with an error response", cid, { stage: "serve", subject, error: shown, stack });
      if (envelope.reply_to !== "") await answerWithError(envelope, e);
      return;
    }
    if (result === undefined) return;
    if (envelope.reply_to === "") {
      emit("warn", "the handler answered a message without reply_to: nothing sent", cid, { stage: "serve", subject });
      return;
    }
    if (!Array.isArray(result)) {
      const err = new NatsBridgeError(ERROR_HANDLER, `the handler returned ${describe(result)}, not a list of [dataname, data, payloadType] payloads or undefined`, {
        correlationId: cid,
      });
      emit("warn", "the handler returned something else than payloads", cid, { stage: "serve", subject, error: err.message });
      await answerWithError(envelope, err);
      return;
    }
    try {
      await smartreply(nc, envelope, result, send);
    } catch (e) {
      const err = asBridgeError(e, "PUBLISH_FAILED", "answering the request", { correlationId: cid });
      emit("warn", "the answer could not be sent: answered with its error", cid, { stage: "serve", subject, code: err.code, error: err.report() });
      await answerWithError(envelope, err);
    }
  };

  const inFlight = new Set<Promise<void>>();
  const closed = (async () => {
    try {
      for await (const m of sub) {
        const task: Promise<void> = answer(m)
          .catch((e: unknown) => emit("error", "serve: a request failed unexpectedly", "", { stage: "serve", subject, error: shownValue(e) }))
          .finally(() => inFlight.delete(task));
        inFlight.add(task);
      }
    } catch (e) {
      emit("error", "serve: the subscription ended with an error", "", { stage: "serve", subject, error: e instanceof Error ? e.message : shownValue(e) });
    }
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  })();

  return {
    subject,
    closed,
    async stop(): Promise<void> {
      if (!sub.isClosed()) {
        try {
          await sub.drain();
        } catch (e) {
          if (!sub.isClosed()) throw new NatsBridgeError("NATS_CONNECTION_FAILED", `stopping the server of \`${subject}\` failed: the connection is closed`, { cause: e });
        }
      }
      await closed;
    },
  };
}
