/**
 * Typed operations: what the code `natsbridge codegen` writes from a team's AsyncAPI document
 * calls. A generated package describes each message with a {@link MessageCodec} (its
 * `dataname`, its payload type, how its value and headers become one envelope payload plus
 * NATS headers and back) and each operation as one call of this module over a {@link Bridge}:
 * {@link publish}, {@link request}, {@link subscribe} with {@link reply} / {@link replyError},
 * {@link publishToStream} and {@link replay}. Subjects are built with {@link token} (or
 * {@link tokenOf} for a parameter restricted to an enum); several messages on one channel or
 * operation share one {@link unionCodec} of {@link Variant}s.
 *
 * The wire mapping, the same in every language: one message is one `msg_envelope_v1` with
 * one payload named after the message; its declared headers travel as NATS headers (integers
 * and numbers in decimal, booleans `true` / `false`). So typed code and plain `smartsend`
 * interoperate in both directions. A message's AsyncAPI `correlationId` is the envelope's
 * `correlation_id`, read from its payload or carried in a header as its `location` says (see
 * {@link Encoded}).
 *
 * Errors are {@link NatsBridgeError}s with the exchange's correlation id and the message's
 * dataname. A subscription yields a bad message's error in its place and goes on: nothing
 * ends it but `unsubscribe` / `drain` or the connection closing.
 */
import type { NatsConnection, Subscription as NatsSubscription } from "@nats-io/nats-core";
import { ERROR_BAD_BYTES, ERROR_BAD_OPTION, ERROR_UNKNOWN_PAYLOAD_TYPE, ERROR_WRITER_RULE } from "@natsbridge/types";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { CONSUMER_HINTS, CONSUMER_OPTIONS, EnvelopeConsumer, publishToStream as publishEnvelopeToStream, type ConsumerOptions } from "./jetstream.js";
import { checkArgument, checkConnection, checkNumberArgument, checkOptions, checkText, describe, type OptionSpec } from "./options.js";
import type { DecodedData, PayloadTuple, PayloadType } from "./payload.js";
import { RECEIVE_OPTIONS, checkReceived, smartreceive, type ReceiveOptions, type Received } from "./receive.js";
import { DEFAULT_REQUEST_TIMEOUT_MS, smartreply, smartreplyError, smartrequest, type RequestOptions } from "./request.js";
import { SEND_OPTIONS, smartsend, type SendOptions, type Sent } from "./send.js";
import { newUuid } from "./wire.js";

export type { Table } from "apache-arrow";

/** What every typed operation shares: the connection, default options and the request timeout. */
export interface BridgeOptions {
  /** Defaults for every send (file server, size threshold, sender name, …). */
  send?: SendOptions;
  /** Options for every receive (allowed link hosts, limits, …). */
  receive?: ReceiveOptions;
  /** How long a request waits for its reply, ms. Default 10 000. */
  timeoutMs?: number;
}

/** Every key of {@link BridgeOptions} with its kind: unknown keys and wrong types are refused. */
export const BRIDGE_OPTIONS = {
  send: { nested: SEND_OPTIONS },
  receive: { nested: RECEIVE_OPTIONS },
  timeoutMs: "duration",
} as const satisfies OptionSpec<BridgeOptions>;

/** A NATS connection with the options typed operations send and receive with. */
export class Bridge {
  readonly connection: NatsConnection;
  readonly sendOptions: SendOptions;
  readonly receiveOptions: ReceiveOptions;
  readonly timeoutMs: number;

  constructor(connection: NatsConnection, options: BridgeOptions = {}) {
    checkConnection(connection, "connection", "new Bridge");
    checkOptions(options, BRIDGE_OPTIONS, "Bridge");
    this.connection = connection;
    this.sendOptions = options.send ?? {};
    this.receiveOptions = options.receive ?? {};
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }
}

/**
 * One message as it travels: its single envelope payload and its NATS headers, and what its
 * AsyncAPI `correlationId` says (a generated codec sets at most one of the two):
 *
 * - `correlationId`: the message's own correlation id (`location: $message.payload#/…`, read
 *   from its value). A typed send uses it as the envelope's `correlation_id` unless the caller
 *   passes one (`options.correlationId`), which wins; it must be a UUID like that option (the
 *   same error when not).
 * - `correlationHeader`: a NATS header that carries the envelope's correlation id
 *   (`location: $message.header#/Name`). A typed send sets it to the id the envelope carries
 *   (the caller's, else the message's own, else a new UUID), over a declared header of the same
 *   name; a {@link reply} sets it to the request's.
 */
export interface Encoded {
  payload: PayloadTuple;
  headers: Record<string, string>;
  /** The message's own correlation id, read from its payload. */
  correlationId?: string;
  /** A NATS header that must carry the envelope's correlation id. */
  correlationHeader?: string;
}

/**
 * How one message type maps to the envelope (generated per message). `encode` and `decode`
 * throw {@link NatsBridgeError}s: SERIALIZATION_ERROR for a value the schema refuses,
 * INVALID_PAYLOAD_TYPE when the envelope has no payload of this name and type,
 * DESERIALIZATION_ERROR for data or headers the schema refuses.
 */
export interface MessageCodec<M> {
  /** The payload's `dataname`. */
  readonly name: string;
  /** The payload's `payload_type`. */
  readonly payloadType: PayloadType;
  encode(message: M): Encoded;
  decode(received: Received): M;
}

/** A typed message as received, with the envelope it came in. */
export interface Incoming<M> {
  readonly message: M;
  /** The decoded envelope (its headers, every payload). */
  readonly received: Received;
  /** The exchange's correlation id. */
  readonly correlationId: string;
  /** The subject it arrived on. */
  readonly subject: string;
}

/** Options of one send: anything of {@link SendOptions} over the bridge's defaults. */
export type SendOverrides = Omit<SendOptions, "connection" | "jetstream" | "publish">;

const { connection: _c, jetstream: _j, publish: _p, ...SEND_OVERRIDES_SPEC } = SEND_OPTIONS;
/** Every key of {@link SendOverrides} with its kind: unknown keys and wrong types are refused. */
export const SEND_OVERRIDES = SEND_OVERRIDES_SPEC satisfies OptionSpec<SendOverrides>;

/** INVALID_ARGUMENT unless `bridge` is a {@link Bridge}. */
function checkBridge(bridge: unknown, where: string): void {
  if (!(bridge instanceof Bridge)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: \`bridge\` must be a Bridge (\`new Bridge(nc)\`), got ${describe(bridge)}`);
  }
}

/** INVALID_ARGUMENT unless `codec` is a {@link MessageCodec} (what generated packages export). */
function checkCodec(codec: unknown, name: string, where: string): void {
  const c = codec as Partial<MessageCodec<unknown>> | null;
  if (typeof c !== "object" || c === null || typeof c.name !== "string" || typeof c.payloadType !== "string" || typeof c.encode !== "function" || typeof c.decode !== "function") {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: \`${name}\` must be a message codec ({ name, payloadType, encode, decode }), got ${describe(codec)}`);
  }
}

/** INVALID_ARGUMENT unless `to` is an {@link Incoming} (a request a subscription yielded). */
function checkIncoming(to: unknown, where: string): void {
  const i = to as Partial<Incoming<unknown>> | null;
  if (typeof i !== "object" || i === null || typeof i.correlationId !== "string") {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: \`to\` must be the request a subscription yielded (an Incoming), got ${describe(to)}`);
  }
  checkReceived(i.received, "to.received", where);
}

/** The checks every typed send shares: bridge, subject, codec, purpose. */
function checkSend(where: string, bridge: unknown, subject: unknown, codec: unknown, purpose: unknown): void {
  checkBridge(bridge, where);
  checkText(subject, "subject", where);
  checkCodec(codec, "codec", where);
  checkArgument(purpose, "string", "purpose", where);
}

/**
 * The envelope's correlation id for a send of `encoded`: the caller's `correlationId` when
 * given (or the bridge's default), else the message's own, else a new one when a header must
 * carry it, else none (smartsend makes one). Not checked here: smartsend / smartrequest check
 * it as they check the caller's option, with the same error.
 */
function correlationOf(encoded: Encoded, callerId: string | undefined): string | undefined {
  if (callerId !== undefined) return callerId;
  if (encoded.correlationId !== undefined) return encoded.correlationId;
  return encoded.correlationHeader !== undefined ? newUuid() : undefined;
}

/**
 * The send options: the bridge's, then the caller's, then the message's headers; the
 * envelope's correlation id (`replyId` for a reply, else {@link correlationOf}), also in the
 * message's correlation header when it has one (over any header of that name, whatever its case).
 */
function sendOptions(bridge: Bridge, purpose: string, encoded: Encoded, overrides: SendOverrides, replyId?: string): SendOptions {
  checkOptions(overrides, SEND_OVERRIDES, "a typed send");
  const correlationId = replyId ?? correlationOf(encoded, overrides.correlationId ?? bridge.sendOptions.correlationId);
  const headers: Record<string, string> = { ...bridge.sendOptions.headers, ...overrides.headers, ...encoded.headers };
  const header = encoded.correlationHeader;
  if (header !== undefined && correlationId !== undefined) {
    const lower = header.toLowerCase();
    for (const k of Object.keys(headers)) if (k.toLowerCase() === lower) delete headers[k];
    headers[header] = correlationId;
  }
  return {
    ...bridge.sendOptions,
    msgPurpose: purpose,
    ...overrides,
    ...(correlationId === undefined ? {} : { correlationId }),
    headers,
    connection: bridge.connection,
  };
}

function encode<M>(codec: MessageCodec<M>, message: M, correlationId: string | undefined): Encoded {
  try {
    return codec.encode(message);
  } catch (e) {
    throw asBridgeError(e, ERROR_WRITER_RULE, `encoding \`${codec.name}\``, { correlationId, dataname: codec.name });
  }
}

function decode<M>(codec: MessageCodec<M>, received: Received, subject: string): Incoming<M> {
  const correlationId = received.envelope.correlation_id;
  try {
    return { message: codec.decode(received), received, correlationId, subject };
  } catch (e) {
    throw asBridgeError(e, ERROR_BAD_BYTES, `decoding \`${codec.name}\``, { correlationId, dataname: codec.name });
  }
}

/** Publishes `message` on `subject` (core NATS). */
export async function publish<M>(
  bridge: Bridge,
  subject: string,
  codec: MessageCodec<M>,
  message: M,
  purpose = "event",
  options: SendOverrides = {},
): Promise<Sent> {
  checkSend("typed.publish", bridge, subject, codec, purpose);
  checkOptions(options, SEND_OVERRIDES, "a typed send");
  const encoded = encode(codec, message, options.correlationId);
  return smartsend(subject, [encoded.payload], sendOptions(bridge, purpose, encoded, options));
}

/**
 * Sends `message` as a request on `subject` and waits (the bridge's `timeoutMs`) for the
 * typed reply. A responder's `error_response_v1` is thrown as a remote NatsBridgeError; a
 * reply that is not a `reply` message is INVALID_PAYLOAD_TYPE / DESERIALIZATION_ERROR.
 */
export async function request<M, R>(
  bridge: Bridge,
  subject: string,
  codec: MessageCodec<M>,
  replyCodec: MessageCodec<R>,
  message: M,
  purpose = "command",
  options: SendOverrides = {},
): Promise<Incoming<R>> {
  checkSend("typed.request", bridge, subject, codec, purpose);
  checkCodec(replyCodec, "replyCodec", "typed.request");
  checkOptions(options, SEND_OVERRIDES, "a typed send");
  const encoded = encode(codec, message, options.correlationId);
  const { connection: _c, publish: _p, jetstream: _j, replyTo: _r, ...send } = sendOptions(bridge, purpose, encoded, options);
  const requestOptions: RequestOptions = { ...send, timeout: bridge.timeoutMs, receive: bridge.receiveOptions };
  const received = await smartrequest(bridge.connection, subject, [encoded.payload], requestOptions);
  return decode(replyCodec, received, received.envelope.send_to);
}

/** Options of {@link subscribe}. */
export interface SubscribeOptions {
  /** A queue group: each message goes to one member. */
  queue?: string;
  /**
   * Answer a request that cannot be decoded with an `error_response_v1` (when it is an
   * envelope with a `reply_to`), so the requester fails at once instead of timing out. The
   * error is yielded all the same. Generated serve operations set it.
   */
  answerErrors?: boolean;
}

/** Every key of {@link SubscribeOptions} with its kind: unknown keys and wrong types are refused. */
export const SUBSCRIBE_OPTIONS = { queue: "string", answerErrors: "boolean" } as const satisfies OptionSpec<SubscribeOptions>;

/**
 * Typed messages from a subject: iterate it with `for await`. Each item is an
 * {@link Incoming} message or, for a message that could not be decoded, the
 * {@link NatsBridgeError} saying why (with its correlation id when the envelope had one); the
 * iteration goes on after an error and ends only when the subscription is closed.
 */
export class Subscription<M> implements AsyncIterable<Incoming<M> | NatsBridgeError> {
  /** @internal Made by {@link subscribe}. */
  constructor(
    private readonly bridge: Bridge,
    private readonly sub: NatsSubscription,
    private readonly codec: MessageCodec<M>,
    private readonly options: SubscribeOptions,
  ) {}

  /** The subject (or wildcard) subscribed to. */
  get subject(): string {
    return this.sub.getSubject();
  }

  /** Stops at once; messages not yet yielded are dropped. */
  unsubscribe(): void {
    this.sub.unsubscribe();
  }

  /** Stops after the messages already received are yielded. */
  async drain(): Promise<void> {
    try {
      await this.sub.drain();
    } catch (e) {
      throw asBridgeError(e, "NATS_CONNECTION_FAILED", `draining \`${this.subject}\``);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Incoming<M> | NatsBridgeError> {
    for await (const m of this.sub) {
      let received: Received;
      try {
        received = await smartreceive(m, this.bridge.receiveOptions);
      } catch (e) {
        yield asBridgeError(e, ERROR_BAD_BYTES, `receiving on \`${m.subject}\``, { dataname: this.codec.name });
        continue;
      }
      try {
        yield decode(this.codec, received, m.subject);
      } catch (e) {
        const err = asBridgeError(e, ERROR_BAD_BYTES, `decoding \`${this.codec.name}\``);
        if (this.options.answerErrors === true && received.envelope.reply_to !== "") {
          try {
            await smartreplyError(this.bridge.connection, received.envelope, err);
          } catch {
            // The requester times out instead; the error is yielded either way.
          }
        }
        yield err;
      }
    }
  }
}

/**
 * Subscribes to `subject` (parameters may be the wildcard `*`). Resolves once the server has
 * the subscription, so a message published afterwards is received.
 */
export async function subscribe<M>(bridge: Bridge, subject: string, codec: MessageCodec<M>, options: SubscribeOptions = {}): Promise<Subscription<M>> {
  checkBridge(bridge, "typed.subscribe");
  checkText(subject, "subject", "typed.subscribe");
  checkCodec(codec, "codec", "typed.subscribe");
  checkOptions(options, SUBSCRIBE_OPTIONS, "typed.subscribe");
  let sub: NatsSubscription;
  try {
    sub = bridge.connection.subscribe(subject, options.queue === undefined ? {} : { queue: options.queue });
    await bridge.connection.flush();
  } catch (e) {
    throw asBridgeError(e, "NATS_CONNECTION_FAILED", `subscribing to \`${subject}\``);
  }
  return new Subscription(bridge, sub, codec, options);
}

/** Answers a received request with `message` (same correlation id, `reply_to_msg_id` = the request's `msg_id`). */
export async function reply<M, R>(
  bridge: Bridge,
  to: Incoming<M>,
  codec: MessageCodec<R>,
  message: R,
  purpose = "event",
  options: SendOverrides = {},
): Promise<Sent> {
  checkBridge(bridge, "typed.reply");
  checkIncoming(to, "typed.reply");
  checkCodec(codec, "codec", "typed.reply");
  checkArgument(purpose, "string", "purpose", "typed.reply");
  checkOptions(options, SEND_OVERRIDES, "a typed send");
  const encoded = encode(codec, message, to.correlationId);
  // A reply always carries the request's correlation id (smartreply sets it), in the header too.
  return smartreply(bridge.connection, to.received.envelope, [encoded.payload], sendOptions(bridge, purpose, encoded, options, to.correlationId));
}

/**
 * Answers a received request with an `error_response_v1` (an `ApplicationError`, any other
 * NatsBridgeError, or anything thrown: see `errorResponse`); the requester's {@link request}
 * throws it (`remote: true`).
 */
export async function replyError<M>(bridge: Bridge, to: Incoming<M>, error: unknown): Promise<void> {
  checkBridge(bridge, "typed.replyError");
  checkIncoming(to, "typed.replyError");
  await smartreplyError(bridge.connection, to.received.envelope, error instanceof NatsBridgeError ? error.withCorrelationId(to.correlationId) : error);
}

/** Publishes `message` into the JetStream stream that captures `subject` and waits for the ack. */
export async function publishToStream<M>(
  bridge: Bridge,
  subject: string,
  codec: MessageCodec<M>,
  message: M,
  purpose = "event",
  options: SendOverrides = {},
): Promise<Sent> {
  checkSend("typed.publishToStream", bridge, subject, codec, purpose);
  checkOptions(options, SEND_OVERRIDES, "a typed send");
  const encoded = encode(codec, message, options.correlationId);
  return publishEnvelopeToStream(bridge.connection, subject, [encoded.payload], sendOptions(bridge, purpose, encoded, options));
}

/** A typed message from a stream (the name every runtime uses: Rust's `Stored<M>`); acknowledge it when done. */
export interface Stored<M> extends Incoming<M> {
  /** Its stream sequence. */
  readonly seq: number;
  /** When the server stored it. */
  readonly timestamp: Date;
  /** Acknowledges the message without waiting for the server: at least once (schema/README.md rule 18; `Delivered.ack`). */
  ack(): Promise<void>;
  /** Acknowledges the message and waits for the server to record it: a durable consumer started again does not see it (`Delivered.ackConfirmed`). */
  ackConfirmed(): Promise<void>;
}

/**
 * @deprecated Renamed {@link Stored} (the name every runtime uses); this alias stays for one
 * release.
 */
export type DeliveredMessage<M> = Stored<M>;

/**
 * Typed messages replayed from a stream by a pull consumer ({@link EnvelopeConsumer}).
 * `next()` throws a bad message's NatsBridgeError (the message is terminated on the server,
 * or nak'ed when its download failed transiently); the next call goes on.
 */
export class Replay<M> {
  /** @internal Made by {@link replay}. */
  constructor(
    private readonly consumer: EnvelopeConsumer,
    private readonly codec: MessageCodec<M>,
  ) {}

  /** The next message, waiting at most `timeoutMs` (TIMEOUT after). */
  async next(timeoutMs?: number): Promise<Stored<M>> {
    checkNumberArgument(timeoutMs, "timeoutMs", "Replay.next");
    let d;
    try {
      d = await this.consumer.next(timeoutMs);
    } catch (e) {
      throw asBridgeError(e, ERROR_BAD_BYTES, "replaying", { dataname: this.codec.name });
    }
    let incoming: Incoming<M>;
    try {
      incoming = decode(this.codec, d.received, d.subject);
    } catch (e) {
      // Decoded as an envelope but not as this message: it never will be.
      const err = asBridgeError(e, ERROR_BAD_BYTES, `decoding \`${this.codec.name}\``);
      d.term(`${err.code}: ${err.message}`);
      throw err;
    }
    return { ...incoming, seq: d.seq, timestamp: d.timestamp, ack: d.ack, ackConfirmed: d.ackConfirmed };
  }

  /** Stops pulling; deletes an ephemeral consumer. */
  async close(): Promise<void> {
    await this.consumer.close();
  }
}

/** Replays `stream` (only `filterSubject` when given, e.g. a channel's subject) as typed messages. */
export async function replay<M>(bridge: Bridge, stream: string, codec: MessageCodec<M>, options: ConsumerOptions = {}): Promise<Replay<M>> {
  checkBridge(bridge, "typed.replay");
  checkText(stream, "stream", "typed.replay");
  checkCodec(codec, "codec", "typed.replay");
  checkOptions(options, CONSUMER_OPTIONS, "typed.replay", CONSUMER_HINTS);
  const consumer = await EnvelopeConsumer.create(bridge.connection, stream, { receive: bridge.receiveOptions, ...options });
  return new Replay(consumer, codec);
}

/**
 * `value` when it can stand for the channel parameter `param` in a subject: one NATS token,
 * non-empty, without `.`, `*`, `>` or whitespace (`*` alone is allowed with `wildcardOk`, for
 * subscribing). INVALID_ARGUMENT otherwise.
 */
export function token(param: string, value: string, wildcardOk = false): string {
  checkArgument(param, "string", "param", "typed.token");
  checkArgument(wildcardOk, "boolean", "wildcardOk", "typed.token");
  if (wildcardOk && value === "*") return value;
  if (typeof value !== "string" || value === "" || /[.*>\s]/u.test(value)) {
    throw new NatsBridgeError(
      ERROR_BAD_OPTION,
      `channel parameter \`${param}\` must be one subject token (non-empty, no \`.\`, \`*\`, \`>\` or whitespace), got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * {@link token}, for a channel parameter whose schema is an enum: `value` when it is one subject
 * token (the same checks and error as {@link token}) and one of `allowed` (`*` alone passes
 * with `wildcardOk`, for subscribing). INVALID_ARGUMENT otherwise, naming the allowed values.
 */
export function tokenOf(param: string, value: string, allowed: readonly string[], wildcardOk = false): string {
  checkArgument(param, "string", "param", "typed.tokenOf");
  checkArgument(allowed, "strings", "allowed", "typed.tokenOf");
  checkArgument(wildcardOk, "boolean", "wildcardOk", "typed.tokenOf");
  token(param, value, wildcardOk);
  if (wildcardOk && value === "*") return value;
  if (!allowed.includes(value)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `parameter \`${param}\`: \`${value}\` is not one of ${namesText(allowed)}`);
  }
  return value;
}

/** `` `a`, `b` ``: names as error messages list them. */
function namesText(names: readonly string[]): string {
  return names.map((n) => `\`${n}\``).join(", ") || "none";
}

// ---- helpers for generated codecs ----

/** A validator as the generated packages write them (`validateX(value, { reader })`). */
export type Validator<T> = (
  value: unknown,
  options?: { reader?: boolean },
) => { ok: true; value: T } | { ok: false; issues: { path: string; message: string }[] };

function issuesText(issues: { path: string; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path || "/"} ${i.message}`)
    .join("; ");
}

/**
 * Where a message declares its correlation id (AsyncAPI `correlationId.location`):
 * `{ header: "Name" }` for `$message.header#/Name`, `{ payload: ["a", "b"] }` for
 * `$message.payload#/a/b`.
 */
export type Correlation = { readonly header: string } | { readonly payload: readonly string[] };

function checkCorrelation(correlation: unknown, where: string): void {
  if (correlation === undefined) return;
  const c = correlation as { header?: unknown; payload?: unknown } | null;
  const ok =
    typeof c === "object" &&
    c !== null &&
    ((typeof c.header === "string" && c.header !== "" && c.payload === undefined) ||
      (Array.isArray(c.payload) && c.payload.length > 0 && c.payload.every((p) => typeof p === "string") && c.header === undefined));
  if (!ok) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: \`correlation\` must be { header: "Name" } or { payload: ["path", ...] }, got ${describe(correlation)}`);
  }
}

/**
 * `encoded` with the message's declared correlation (what generated codecs call): a header
 * location sets `correlationHeader`; a payload location sets `correlationId` to the text at
 * that path of `value` (nothing when it holds no text there).
 */
export function correlate(encoded: Encoded, correlation: Correlation | undefined, value: unknown): Encoded {
  const e = encoded as Partial<Encoded> | null;
  if (typeof e !== "object" || e === null || !Array.isArray(e.payload) || typeof e.headers !== "object" || e.headers === null) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling typed.correlate: \`encoded\` must be what a codec's encode returns ({ payload, headers }), got ${describe(encoded)}`);
  }
  checkCorrelation(correlation, "typed.correlate");
  if (correlation === undefined) return encoded;
  if ("header" in correlation) return { ...encoded, correlationHeader: correlation.header };
  let at: unknown = value;
  for (const key of correlation.payload) {
    at = typeof at === "object" && at !== null && !Array.isArray(at) ? (at as Record<string, unknown>)[key] : undefined;
  }
  return typeof at === "string" ? { ...encoded, correlationId: at } : encoded;
}

/** The payload named `name` of type `payloadType`; INVALID_PAYLOAD_TYPE when the envelope has none. */
export function payloadOf<K extends PayloadType>(received: Received, name: string, payloadType: K): DecodedData[K] {
  checkReceived(received, "received", "typed.payloadOf");
  checkArgument(name, "string", "name", "typed.payloadOf");
  checkArgument(payloadType, "string", "payloadType", "typed.payloadOf");
  const p = received.payloads.find((x) => x.dataname === name && x.payload_type === payloadType);
  if (p === undefined) {
    const found = received.payloads.map((x) => `\`${x.dataname}\` (${x.payload_type})`).join(", ") || "none";
    throw new NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, `no ${payloadType} payload named \`${name}\` (payloads: ${found})`, {
      correlationId: received.envelope.correlation_id,
      dataname: name,
    });
  }
  return p.data as DecodedData[K];
}

/**
 * A codec for a JSON message (`dictionary`): the value checked by `validate` on both sides
 * (as a writer when sending, SERIALIZATION_ERROR; as a reader when receiving, so unknown
 * enum values pass, DESERIALIZATION_ERROR).
 */
export function jsonCodec<M>(
  name: string,
  validate: Validator<M>,
  payloadType: "dictionary" | "jsontable" = "dictionary",
  correlation?: Correlation,
): MessageCodec<M> {
  checkText(name, "name", "typed.jsonCodec");
  checkArgument(validate, "function", "validate", "typed.jsonCodec");
  checkArgument(payloadType, { oneOf: ["dictionary", "jsontable"] }, "payloadType", "typed.jsonCodec");
  checkCorrelation(correlation, "typed.jsonCodec");
  return {
    name,
    payloadType,
    encode(message: M): Encoded {
      const checked = validate(message);
      if (!checked.ok) throw new NatsBridgeError(ERROR_WRITER_RULE, `not a valid \`${name}\`: ${issuesText(checked.issues)}`, { dataname: name });
      return correlate({ payload: [name, message, payloadType] as PayloadTuple, headers: {} }, correlation, message);
    },
    decode(received: Received): M {
      const data = payloadOf(received, name, payloadType);
      const checked = validate(data, { reader: true });
      if (!checked.ok) {
        throw new NatsBridgeError(ERROR_BAD_BYTES, `not a valid \`${name}\`: ${issuesText(checked.issues)}`, {
          correlationId: received.envelope.correlation_id,
          dataname: name,
        });
      }
      return checked.value;
    },
  };
}

/** One of several messages: which (its `dataname`) and its value. */
export interface Variant<N extends string, T> {
  readonly name: N;
  readonly value: T;
}

/**
 * A codec for `Variant<"a", A> | Variant<"b", B> | …` (several messages on one channel or
 * operation) from the variants' own codecs, dispatched by message name (the payload's
 * `dataname`), so one subscription hands each message its own type. Its `name` is the
 * variants' names joined with ` | ` and its `payloadType` their common payload type, else the
 * first variant's: both are used only in messages (each variant travels as its own codec
 * writes it).
 *
 * `encode` hands `value` to the codec named `name` (anything else, or a name that is no
 * variant's, is SERIALIZATION_ERROR); `decode` uses the first codec, in the order given, whose
 * name is the `dataname` of one of the envelope's payloads (none: INVALID_PAYLOAD_TYPE); a
 * variant's own errors pass unchanged. INVALID_ARGUMENT for no codecs, something that is not
 * a codec, or two codecs of the same name.
 */
export function unionCodec<V extends Variant<string, unknown>>(codecs: readonly MessageCodec<any>[]): MessageCodec<V> {
  const where = "typed.unionCodec";
  checkArgument(codecs, "array", "codecs", where);
  if (codecs.length === 0) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: \`codecs\` must hold at least one message codec, got an empty array`);
  }
  const variants: MessageCodec<unknown>[] = [...codecs];
  variants.forEach((c, i) => checkCodec(c, `codecs[${i}]`, where));
  const byName = new Map<string, MessageCodec<unknown>>();
  for (const c of variants) {
    if (byName.has(c.name)) {
      throw new NatsBridgeError(
        ERROR_BAD_OPTION,
        `calling ${where}: two codecs are named \`${c.name}\` (codecs: ${namesText(variants.map((v) => v.name))}); each message of a union needs its own name`,
      );
    }
    byName.set(c.name, c);
  }
  const names = variants.map((c) => c.name);
  const name = names.join(" | ");
  // Their common payload type when they share one, else the first variant's: the first's either way (used only in messages).
  const payloadType = variants[0]!.payloadType;
  return {
    name,
    payloadType,
    encode(message: V): Encoded {
      const m = message as Partial<Variant<string, unknown>> | null;
      if (typeof m !== "object" || m === null || typeof m.name !== "string" || !("value" in m)) {
        throw new NatsBridgeError(ERROR_WRITER_RULE, `a message of \`${name}\` must be { name, value } with \`name\` one of ${namesText(names)}, got ${describe(message)}`);
      }
      const codec = byName.get(m.name);
      if (codec === undefined) {
        throw new NatsBridgeError(ERROR_WRITER_RULE, `message \`${m.name}\` is not one of ${namesText(names)}`);
      }
      return codec.encode(m.value);
    },
    decode(received: Received): V {
      checkReceived(received, "received", `${where} decode`);
      const present = new Set(received.payloads.map((p) => p.dataname));
      const codec = variants.find((c) => present.has(c.name));
      if (codec === undefined) {
        const found = received.payloads.map((x) => `\`${x.dataname}\` (${x.payload_type})`).join(", ") || "none";
        throw new NatsBridgeError(ERROR_UNKNOWN_PAYLOAD_TYPE, `the envelope has none of the payloads ${namesText(names)} (payloads: ${found})`, {
          correlationId: received.envelope.correlation_id,
          dataname: name,
        });
      }
      return { name: codec.name, value: codec.decode(received) } as V;
    },
  };
}

/** How a declared header's value is written: `unsigned` is an integer of 0 or more. */
export type HeaderKind = "string" | "integer" | "unsigned" | "number" | "boolean";
/** The TypeScript type of a header kind. */
export type HeaderValue<K extends HeaderKind> = K extends "string" ? string : K extends "boolean" ? boolean : number;

/** A header's text for `value`; SERIALIZATION_ERROR when it is not of its kind. */
export function writeHeader<K extends HeaderKind>(name: string, kind: K, value: HeaderValue<K>, dataname: string): string {
  checkHeaderCall("typed.writeHeader", name, kind, dataname);
  const bad = (why: string) => new NatsBridgeError(ERROR_WRITER_RULE, `header \`${name}\`: ${why}, got ${describe(value)}`, { dataname });
  switch (kind) {
    case "string":
      if (typeof value !== "string") throw bad("needs a string");
      if (/[\r\n]/u.test(value)) throw bad("a header value cannot hold a line break");
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw bad("needs a boolean");
      return value ? "true" : "false";
    case "integer":
    case "unsigned":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw bad("needs an integer");
      if (kind === "unsigned" && value < 0) throw bad("needs an integer of 0 or more");
      return String(value);
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) throw bad("needs a finite number");
      return String(value);
  }
  throw bad(`unknown header kind ${String(kind)}`);
}

const HEADER_KINDS: readonly HeaderKind[] = ["string", "integer", "unsigned", "number", "boolean"];

function checkHeaderCall(where: string, name: unknown, kind: unknown, dataname: unknown): void {
  checkText(name, "name", where);
  checkArgument(kind, { oneOf: HEADER_KINDS }, "kind", where);
  checkArgument(dataname, "string", "dataname", where);
}

function headerText(received: Received, name: string): string | undefined {
  const exact = received.headers[name];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(received.headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** A declared header of a received message, parsed; `undefined` when absent. DESERIALIZATION_ERROR when unparsable. */
export function readHeader<K extends HeaderKind>(received: Received, name: string, kind: K, dataname: string): HeaderValue<K> | undefined {
  checkReceived(received, "received", "typed.readHeader");
  checkHeaderCall("typed.readHeader", name, kind, dataname);
  const text = headerText(received, name);
  if (text === undefined) return undefined;
  const bad = (why: string) =>
    new NatsBridgeError(ERROR_BAD_BYTES, `header \`${name}\`: ${why}, got ${JSON.stringify(text)}`, {
      correlationId: received.envelope.correlation_id,
      dataname,
    });
  switch (kind) {
    case "string":
      return text as HeaderValue<K>;
    case "boolean":
      if (text === "true") return true as HeaderValue<K>;
      if (text === "false") return false as HeaderValue<K>;
      throw bad("not `true` or `false`");
    case "integer":
    case "unsigned": {
      const t = text.trim();
      if (!(kind === "unsigned" ? /^\+?[0-9]+$/u : /^[+-]?[0-9]+$/u).test(t)) throw bad(kind === "unsigned" ? "not an integer of 0 or more" : "not an integer");
      const n = Number(t);
      if (!Number.isSafeInteger(n)) throw bad("out of range");
      return n as HeaderValue<K>;
    }
    case "number": {
      const t = text.trim();
      const n = t === "" ? NaN : Number(t);
      if (!Number.isFinite(n) || !/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/u.test(t)) throw bad("not a decimal number");
      return n as HeaderValue<K>;
    }
  }
  throw bad(`unknown header kind ${String(kind)}`);
}

/** A required header: DESERIALIZATION_ERROR when absent or unparsable. */
export function requireHeader<K extends HeaderKind>(received: Received, name: string, kind: K, dataname: string): HeaderValue<K> {
  checkReceived(received, "received", "typed.requireHeader");
  checkHeaderCall("typed.requireHeader", name, kind, dataname);
  const value = readHeader(received, name, kind, dataname);
  if (value === undefined) {
    throw new NatsBridgeError(ERROR_BAD_BYTES, `required header \`${name}\` is missing`, {
      correlationId: received.envelope.correlation_id,
      dataname,
    });
  }
  return value;
}
