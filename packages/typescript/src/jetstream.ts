/**
 * JetStream: `ensureStream` (limits retention), `publishToStream` (acked, deduplicated by
 * `msg_id`, link uploads kept at least as long as the stream keeps the message) and
 * `EnvelopeConsumer`, a pull consumer with backpressure (at most `batch` messages asked for
 * at a time, the next pull only when they are handled), ack after decode, replay from a
 * start time ("the last 10 minutes").
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
import type { NatsConnection } from "@nats-io/nats-core";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import type { PayloadTuple } from "./payload.js";
import { smartreceive, type ReceiveOptions, type Received } from "./receive.js";
import { smartsend, type SendOptions, type Sent } from "./send.js";
import { log } from "./log.js";

const NANOS_PER_MS = 1_000_000;
/** Extra lifetime given to link uploads beyond the stream's `max_age`, seconds. */
export const LINK_TTL_SLACK_SECONDS = 3600;

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
}

/** Creates the stream, or updates it to these options. */
export async function ensureStream(nc: NatsConnection, options: StreamOptions): Promise<StreamInfo> {
  try {
    const jsm = await jetstreamManager(nc);
    const window = options.duplicateWindowMs ?? 120_000;
    const config = {
      name: options.name,
      subjects: options.subjects,
      retention: RetentionPolicy.Limits,
      storage: options.storage === "memory" ? StorageType.Memory : StorageType.File,
      max_age: options.maxAgeMs * NANOS_PER_MS,
      max_bytes: options.maxBytes ?? -1,
      // The window cannot outlast the messages (the server refuses it); max age 0 = no limit.
      duplicate_window: (options.maxAgeMs > 0 ? Math.min(window, options.maxAgeMs) : window) * NANOS_PER_MS,
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
  let ttl = options.linkTtlSeconds;
  try {
    const jsm = await jetstreamManager(nc);
    const stream = await jsm.streams.find(subject);
    const info = await jsm.streams.info(stream);
    const maxAgeS = info.config.max_age / 1e9;
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
  /** Replay everything published at or after this time. */
  startTime?: Date;
  /** Replay from this stream sequence. */
  startSequence?: number;
  /** Only messages published from now on. */
  deliverNew?: boolean;
  /** Most messages per pull request (backpressure). Default 16. */
  batch?: number;
  /** Redelivery timer, ms; must exceed the worst-case download. Default 60 s. */
  ackWaitMs?: number;
  /** Most unacknowledged messages outstanding. Default 256. */
  maxAckPending?: number;
  /** Delay before a nak'ed (transiently failing) message comes back, ms. Default 1 s. */
  nakDelayMs?: number;
  receive?: ReceiveOptions;
}

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

  private constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly name: string,
    private readonly ephemeral: boolean,
    private readonly options: ConsumerOptions,
  ) {}

  /** Creates (or binds to) the consumer on `stream`; nothing is fetched until `next()`. */
  static async create(nc: NatsConnection, stream: string, options: ConsumerOptions = {}): Promise<EnvelopeConsumer> {
    try {
      const jsm = await jetstreamManager(nc);
      const config: Partial<ConsumerConfig> = {
        ack_policy: AckPolicy.Explicit,
        ack_wait: (options.ackWaitMs ?? 60_000) * NANOS_PER_MS,
        max_ack_pending: options.maxAckPending ?? 256,
        deliver_policy: DeliverPolicy.All,
      };
      if (options.durable !== undefined) config.durable_name = options.durable;
      else config.inactive_threshold = 300_000 * NANOS_PER_MS;
      if (options.filterSubject !== undefined) config.filter_subject = options.filterSubject;
      if (options.startTime !== undefined) {
        config.deliver_policy = DeliverPolicy.StartTime;
        config.opt_start_time = options.startTime.toISOString();
      } else if (options.startSequence !== undefined) {
        config.deliver_policy = DeliverPolicy.StartSequence;
        config.opt_start_seq = options.startSequence;
      } else if (options.deliverNew === true) {
        config.deliver_policy = DeliverPolicy.New;
      }
      const info = await jsm.consumers.add(stream, config);
      return new EnvelopeConsumer(nc, stream, info.name, options.durable === undefined, options);
    } catch (e) {
      throw asBridgeError(e, "NATS_CONNECTION_FAILED", `creating a consumer on stream \`${stream}\``);
    }
  }

  /**
   * The next decoded envelope, waiting at most `timeoutMs` (TIMEOUT after). An envelope that
   * can never be decoded is terminated on the server and its error thrown; one that failed
   * transiently (download) is nak'ed for redelivery and its error thrown. The next call goes on.
   */
  async next(timeoutMs = 30_000): Promise<Delivered> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const remaining = until - Date.now();
      if (remaining <= 0) throw new NatsBridgeError("TIMEOUT", `no message from stream \`${this.stream}\` within ${timeoutMs} ms`);
      if (this.batchIter === undefined) {
        try {
          const js = jetstream(this.nc);
          const consumer = await js.consumers.get(this.stream, this.name);
          this.batchMsgs = await consumer.fetch({ max_messages: this.options.batch ?? 16, expires: Math.max(1000, Math.min(remaining, 30_000)) });
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
      let received: Received;
      try {
        received = await smartreceive(m, this.options.receive ?? {});
      } catch (e) {
        const err = asBridgeError(e, "DESERIALIZATION_ERROR", "decoding a stream message");
        const transient = err.code === "DOWNLOAD_FAILED" || err.code === "TIMEOUT";
        if (transient) m.nak(this.options.nakDelayMs ?? 1000);
        else m.term(`${err.code}: ${err.message}`);
        log("warn", transient ? "nak: will be redelivered" : "term: can never be decoded", err.correlationId ?? "", { stage: "receive", seq: m.seq, code: err.code });
        throw err;
      }
      return {
        received,
        seq: m.seq,
        subject: m.subject,
        timestamp: new Date(m.info.timestampNanos / NANOS_PER_MS),
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
