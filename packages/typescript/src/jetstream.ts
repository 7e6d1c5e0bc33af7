/**
 * JetStream: `ensureStream` (limits retention), `publishToStream` (acked, deduplicated by
 * `msg_id`, link uploads kept at least as long as the stream keeps the message) and
 * `EnvelopeConsumer`, a pull consumer with backpressure (at most `batch` messages asked for
 * at a time, the next pull only when they are handled), ack after decode, replay from a
 * start (`start: "10m"`, "the last 10 minutes"; the grammar of `parseStart`).
 */
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type ConsumerMessages,
  type JsMsg,
  type StreamInfo,
} from "@nats-io/jetstream";
import { millis, nanos, type NatsConnection } from "@nats-io/nats-core";
import { ERROR_BAD_BYTES, ERROR_BAD_OPTION, ERROR_DEADLINE, ERROR_DOWNLOAD, LINK_TTL_SLACK_SECONDS, START_ALL, START_NEW } from "@natsbridge/types";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { checkArgument, checkConnection, checkNumberArgument, checkOptions, checkText, type OptionSpec } from "./options.js";
import { startOf, type Start } from "./start.js";
import type { PayloadTuple } from "./payload.js";
import { RECEIVE_OPTIONS, smartreceive, type ReceiveOptions, type Received } from "./receive.js";
import { SEND_OPTIONS, smartsend, type SendOptions, type Sent } from "./send.js";
import { log } from "./log.js";

/** The profile's extra lifetime of link uploads beyond the stream's `max_age`, seconds (re-exported). */
export { LINK_TTL_SLACK_SECONDS };

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
/** The duplicate window of {@link ensureStream} by default: 2 minutes. */
const DEFAULT_DUPLICATE_WINDOW_MS = 2 * MS_PER_MINUTE;
/** How long a pull waits at most, and {@link EnvelopeConsumer.next}'s default wait: 30 s. */
const MAX_PULL_WAIT_MS = 30 * MS_PER_SECOND;

export interface StreamOptions {
  name: string;
  subjects: string[];
  /** How long messages are kept (limits retention), ms; 0 = forever. */
  maxAgeMs: number;
  /** Largest total size, bytes (-1 = unlimited). */
  maxBytes?: number;
  /** Window in which a repeated `Nats-Msg-Id` is dropped, ms. Default 2 minutes; at most `maxAgeMs` when that is not 0. */
  duplicateWindowMs?: number;
  storage?: "file" | "memory";
  /** Copies kept on distinct servers of a cluster (3 survives the loss of any one). Default: the server's (1). */
  replicas?: number;
}

/** Every key of {@link StreamOptions} with its kind: unknown keys and wrong types are refused. */
export const STREAM_OPTIONS = {
  name: "string",
  subjects: "strings",
  maxAgeMs: "duration",
  maxBytes: "number",
  duplicateWindowMs: "duration",
  storage: { oneOf: ["file", "memory"] },
  replicas: "positive",
} as const satisfies OptionSpec<StreamOptions>;

/** Creates the stream, or updates it to these options. */
export async function ensureStream(nc: NatsConnection, options: StreamOptions): Promise<StreamInfo> {
  checkConnection(nc, "nc", "ensureStream");
  checkArgument(options, "object", "options", "ensureStream");
  checkOptions(options, STREAM_OPTIONS, "ensureStream");
  for (const key of ["name", "subjects", "maxAgeMs"] as const) {
    if (options[key] === undefined) checkArgument(undefined, "string", `options.${key}`, "ensureStream");
  }
  checkText(options.name, "options.name", "ensureStream");
  try {
    const jsm = await jetstreamManager(nc);
    const window = options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    const config = {
      name: options.name,
      subjects: options.subjects,
      retention: RetentionPolicy.Limits,
      storage: options.storage === "memory" ? StorageType.Memory : StorageType.File,
      max_age: nanos(options.maxAgeMs),
      max_bytes: options.maxBytes ?? -1,
      // The window cannot outlast the messages (the server refuses it); max age 0 = no limit.
      duplicate_window: nanos(options.maxAgeMs > 0 ? Math.min(window, options.maxAgeMs) : window),
      ...(options.replicas === undefined ? {} : { num_replicas: options.replicas }),
    };
    try {
      return await jsm.streams.info(options.name).then(() => jsm.streams.update(options.name, config));
    } catch {
      return await jsm.streams.add(config);
    }
  } catch (e) {
    throw asBridgeError(e, "NATS_CONNECTION_FAILED", `creating stream \`${options.name}\``);
  }
}

/**
 * Publishes an envelope into the stream that captures `subject` and waits for the ack. Link
 * uploads live at least the stream's `max_age` plus LINK_TTL_SLACK_SECONDS (for ever when the
 * stream has no `max_age`: a store that cannot keep them that long fails the publish) and are
 * never one-shot, so a late consumer can still download them.
 */
export async function publishToStream(nc: NatsConnection, subject: string, payloads: readonly PayloadTuple[], options: SendOptions = {}): Promise<Sent> {
  checkConnection(nc, "nc", "publishToStream");
  checkText(subject, "subject", "publishToStream");
  checkArgument(payloads, "array", "payloads", "publishToStream");
  checkOptions(options, SEND_OPTIONS, "publishToStream");
  let ttl = options.linkTtlSeconds;
  try {
    const jsm = await jetstreamManager(nc);
    const stream = await jsm.streams.find(subject);
    const info = await jsm.streams.info(stream);
    const maxAgeS = millis(info.config.max_age) / MS_PER_SECOND;
    // A stream without max_age keeps messages for ever: so must its links (Infinity), or the store refuses.
    ttl = Math.max(ttl ?? 0, maxAgeS > 0 ? Math.ceil(maxAgeS) + LINK_TTL_SLACK_SECONDS : Infinity);
  } catch (e) {
    throw asBridgeError(e, "PUBLISH_FAILED", `no stream captures \`${subject}\``, { correlationId: options.correlationId });
  }
  return smartsend(subject, payloads, {
    ...options,
    connection: nc,
    jetstream: jetstream(nc),
    oneShot: false,
    ...(ttl === undefined ? {} : { linkTtlSeconds: ttl }),
  });
}

export interface ConsumerOptions {
  /** Durable name (survives restarts on the server); ephemeral when absent. */
  durable?: string;
  filterSubject?: string;
  /**
   * Where the replay starts (see `parseStart`): `"all"` (the default: the whole stream),
   * `"new"` (only what is published from now on), a stream sequence (`42` or `"42"`), a
   * duration back from now (`"10m"`, `"1h30m"`), an RFC 3339 time with its offset
   * (`"2026-12-06T09:00:00Z"`) or a `Date`. Anything else is INVALID_ARGUMENT when the
   * consumer is created, before any server call.
   */
  start?: string | number | Date;
  /** Most messages per pull request (backpressure). Default 16. */
  batch?: number;
  /** Redelivery timer, ms; must exceed the worst-case download. Default 60 s. */
  ackWaitMs?: number;
  /** Most unacknowledged messages outstanding. Default 256. */
  maxAckPending?: number;
  /** Delay before a nak'ed (transiently failing) message comes back, ms. Default 1 s. */
  nakDelayMs?: number;
  /**
   * Hand over at most this many envelopes (decode failures included). Pull requests then never
   * ask the server for more than are still to be handed over, so nothing is left pulled but
   * unacknowledged: a durable consumer's next run starts right after the last one handed over
   * instead of waiting out `ackWaitMs`. Past it, `next()` throws INVALID_ARGUMENT. Absent: no end.
   */
  limit?: number;
  receive?: ReceiveOptions;
}

/** Every key of {@link ConsumerOptions} with its kind: unknown keys and wrong types are refused. */
export const CONSUMER_OPTIONS = {
  durable: "string",
  filterSubject: "string",
  start: "start",
  batch: "positive",
  ackWaitMs: "duration",
  maxAckPending: "number",
  nakDelayMs: "duration",
  limit: "count",
  receive: { nested: RECEIVE_OPTIONS },
} as const satisfies OptionSpec<ConsumerOptions>;

/** Options the consumer used to take, or other names for a start, and the option meant. */
export const CONSUMER_HINTS = { startTime: "start", startSequence: "start", deliverNew: "start", since: "start", deliverPolicy: "start" };

/** An envelope handed to the application, decoded; ack it when done. */
export interface Delivered {
  received: Received;
  /** Its stream sequence. */
  seq: number;
  /** The subject it was published on. */
  subject: string;
  /** When the server stored it. */
  timestamp: Date;
  /** Acknowledges the message and waits for the server's confirmation. */
  ack(): Promise<void>;
  /** Tells the server never to deliver it again (the application cannot use it). */
  term(reason?: string): void;
}

/** A pull consumer of envelopes with backpressure. */
export class EnvelopeConsumer {
  private batchIter: AsyncIterator<JsMsg> | undefined;
  private batchMsgs: ConsumerMessages | undefined;
  /** Envelopes handed over, decode failures included (for {@link ConsumerOptions.limit}). */
  private returned = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly name: string,
    private readonly ephemeral: boolean,
    private readonly options: ConsumerOptions,
  ) {}

  /** Creates (or binds to) the consumer on `stream`; nothing is fetched until `next()`. */
  static async create(nc: NatsConnection, stream: string, options: ConsumerOptions = {}): Promise<EnvelopeConsumer> {
    const where = "EnvelopeConsumer.create";
    checkConnection(nc, "nc", where);
    checkText(stream, "stream", where);
    checkOptions(options, CONSUMER_OPTIONS, where, CONSUMER_HINTS);
    const start: Start = options.start === undefined ? { kind: START_ALL } : startOf(options.start, `option \`start\` of ${where}`);
    try {
      const jsm = await jetstreamManager(nc);
      const config: Partial<ConsumerConfig> = {
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(options.ackWaitMs ?? MS_PER_MINUTE),
        max_ack_pending: options.maxAckPending ?? 256,
        deliver_policy: DeliverPolicy.All,
      };
      if (options.durable !== undefined) config.durable_name = options.durable;
      else config.inactive_threshold = nanos(5 * MS_PER_MINUTE);
      if (options.filterSubject !== undefined) config.filter_subject = options.filterSubject;
      if (start.kind === "time") {
        config.deliver_policy = DeliverPolicy.StartTime;
        config.opt_start_time = start.time.toISOString();
      } else if (start.kind === "sequence") {
        config.deliver_policy = DeliverPolicy.StartSequence;
        config.opt_start_seq = start.sequence;
      } else if (start.kind === START_NEW) {
        config.deliver_policy = DeliverPolicy.New;
      }
      const info = await jsm.consumers.add(stream, config);
      return new EnvelopeConsumer(nc, stream, info.name, options.durable === undefined, options);
    } catch (e) {
      throw asBridgeError(e, "NATS_CONNECTION_FAILED", `creating a consumer on stream \`${stream}\` failed: ${e instanceof Error ? e.message : String(e)}. Check that the stream exists (ensureStream) and the server runs JetStream`);
    }
  }

  /**
   * The next decoded envelope, waiting at most `timeoutMs` (TIMEOUT after). An envelope that
   * can never be decoded is terminated on the server and its error thrown; one that failed
   * transiently (download) is nak'ed for redelivery and its error thrown. The next call goes on.
   * Past {@link ConsumerOptions.limit}, INVALID_ARGUMENT (nothing more is pulled).
   */
  async next(timeoutMs = MAX_PULL_WAIT_MS): Promise<Delivered> {
    checkNumberArgument(timeoutMs, "timeoutMs", "EnvelopeConsumer.next");
    const limit = this.options.limit;
    if (limit !== undefined && this.returned >= limit) {
      throw new NatsBridgeError(ERROR_BAD_OPTION, `the consumer's limit of ${limit} envelopes is reached`);
    }
    const until = Date.now() + timeoutMs;
    for (;;) {
      const remaining = until - Date.now();
      if (remaining <= 0) throw new NatsBridgeError("TIMEOUT", `no message from stream \`${this.stream}\` within ${timeoutMs} ms`);
      if (this.batchIter === undefined) {
        try {
          const js = jetstream(this.nc);
          const consumer = await js.consumers.get(this.stream, this.name);
          // With a limit, no more than is still to be handed over: the batch in flight and the
          // envelopes handed over never add up to more than `limit`.
          const batch = this.options.batch ?? 16;
          const max = limit === undefined ? batch : Math.max(1, Math.min(batch, limit - this.returned));
          this.batchMsgs = await consumer.fetch({ max_messages: max, expires: Math.max(MS_PER_SECOND, Math.min(remaining, MAX_PULL_WAIT_MS)) });
          this.batchIter = this.batchMsgs[Symbol.asyncIterator]();
        } catch (e) {
          throw asBridgeError(e, "NATS_CONNECTION_FAILED", `pulling from stream \`${this.stream}\``);
        }
      }
      let r: IteratorResult<JsMsg>;
      try {
        r = await this.batchIter.next();
      } catch (e) {
        this.batchIter = undefined;
        throw asBridgeError(e, "NATS_CONNECTION_FAILED", `pulling from stream \`${this.stream}\``);
      }
      if (r.done === true) {
        this.batchIter = undefined;
        continue;
      }
      const m = r.value;
      this.returned++;
      let received: Received;
      try {
        received = await smartreceive(m, this.options.receive ?? {});
      } catch (e) {
        const err = asBridgeError(e, ERROR_BAD_BYTES, "decoding a stream message");
        const transient = err.code === ERROR_DOWNLOAD || err.code === ERROR_DEADLINE;
        if (transient) m.nak(this.options.nakDelayMs ?? MS_PER_SECOND);
        else m.term(`${err.code}: ${err.message}`);
        log("warn", transient ? "nak: will be redelivered" : "term: can never be decoded", err.correlationId ?? "", { stage: "receive", seq: m.seq, code: err.code });
        throw err;
      }
      return {
        received,
        seq: m.seq,
        subject: m.subject,
        timestamp: new Date(millis(m.info.timestampNanos)),
        ack: async () => {
          try {
            await m.ackAck();
          } catch (e) {
            throw new NatsBridgeError("NATS_CONNECTION_FAILED", "acknowledging", { correlationId: received.envelope.correlation_id, cause: e });
          }
        },
        term: (reason?: string) => {
          m.term(reason);
          log("warn", "term: the application cannot use it", received.envelope.correlation_id, { stage: "receive", seq: m.seq });
        },
      };
    }
  }

  /** Stops pulling; deletes an ephemeral consumer. */
  async close(): Promise<void> {
    this.batchMsgs?.stop();
    this.batchIter = undefined;
    if (this.ephemeral) {
      try {
        const jsm = await jetstreamManager(this.nc);
        await jsm.consumers.delete(this.stream, this.name);
      } catch {
        // already gone
      }
    }
  }
}
