/**
 * JetStream: `ensureStream` (limits retention), `publishToStream` (acked, deduplicated by
 * `msg_id`, link uploads kept at least as long as the stream keeps the message) and
 * `EnvelopeConsumer`, a pull consumer (schema/README.md rule 18: its defaults are the
 * profile's CONSUMER_*) with backpressure (at most `batch` messages pulled, handed over and
 * unsettled at once, the next pull going out while the application works on the rest),
 * decode before handing over, acks by the application (`ack` without a round trip,
 * `ackConfirmed` waiting for the server), replay from a start (`start: "10m"`, "the last 10
 * minutes"; the grammar of `parseStart`).
 */
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  type JsMsg,
  type StreamInfo,
} from "@nats-io/jetstream";
import { millis, nanos, type NatsConnection } from "@nats-io/nats-core";
import {
  CONSUMER_ACK_WAIT_SECONDS,
  CONSUMER_BATCH,
  CONSUMER_MAX_ACK_PENDING,
  CONSUMER_MAX_BYTES,
  CONSUMER_MAX_DELIVER,
  CONSUMER_NAK_DELAY_MS,
  DEFAULT_MAX_PAYLOAD,
  ERROR_BAD_BYTES,
  ERROR_BAD_OPTION,
  ERROR_DEADLINE,
  ERROR_DOWNLOAD,
  LINK_TTL_SLACK_SECONDS,
  START_ALL,
  START_NEW,
} from "@natsbridge/types";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import { checkArgument, checkConnection, checkNumberArgument, checkOptions, checkText, type OptionSpec } from "./options.js";
import { startOf, type Start } from "./start.js";
import type { PayloadTuple } from "./payload.js";
import { RECEIVE_OPTIONS, receiveChecked, type ReceiveOptions, type Received } from "./receive.js";
import { SEND_OPTIONS, smartsend, type SendOptions, type Sent } from "./send.js";
import { emit } from "./log.js";

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
  /**
   * Most messages one pull asks for, and most pulled ahead of the application: pulled, handed
   * over and not yet settled (acked, nak'ed, terminated) together. The next pull goes out as
   * soon as half of that is free, while the application works on the rest. Default
   * CONSUMER_BATCH.
   */
  batch?: number;
  /**
   * Most bytes one pull brings, roughly: nats.js takes a count or a byte size per pull, not
   * both, so a pull asks for at most `maxBytes` / the largest envelope seen so far (the server's
   * `max_payload` before the first) messages. Default CONSUMER_MAX_BYTES.
   */
  maxBytes?: number;
  /** Redelivery timer, ms: a message handed over and not acknowledged within it is delivered again; it must exceed the worst-case download. Default CONSUMER_ACK_WAIT_SECONDS. */
  ackWaitMs?: number;
  /** Most messages handed over but not yet acknowledged (the server delivers no more until acks come back). Default CONSUMER_MAX_ACK_PENDING. */
  maxAckPending?: number;
  /** Delay before a nak'ed (transiently failing: a link not downloadable yet) message comes back, ms. Default CONSUMER_NAK_DELAY_MS. */
  nakDelayMs?: number;
  /**
   * Deliveries of a message whose links keep failing before it is given up: on the last one it
   * is terminated on the server and its error thrown (0: never given up). Default CONSUMER_MAX_DELIVER.
   */
  maxDeliver?: number;
  /**
   * Hand over at most this many envelopes (decode failures included). Pull requests then never
   * ask the server for more than are still to be handed over, so nothing is left pulled but
   * unacknowledged: a durable consumer's next run starts right after the last one handed over
   * (acked, or `ackConfirmed` to be sure the server recorded it) instead of waiting out
   * `ackWaitMs`. Past it, `next()` throws INVALID_ARGUMENT. Absent: no end.
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
  maxBytes: "positive",
  ackWaitMs: "duration",
  maxAckPending: "number",
  nakDelayMs: "duration",
  maxDeliver: "count",
  limit: "count",
  receive: { nested: RECEIVE_OPTIONS },
} as const satisfies OptionSpec<ConsumerOptions>;

/** Options the consumer used to take, or other names for a start, and the option meant. */
export const CONSUMER_HINTS = { startTime: "start", startSequence: "start", deliverNew: "start", since: "start", deliverPolicy: "start" };

/**
 * An envelope handed to the application, decoded; settle it when done (`ack`, `ackConfirmed`
 * or `term`). The guarantee is at least once: a message not acknowledged within the consumer's
 * `ackWaitMs` (an ack lost on the way, a consumer killed) is delivered again, never lost; the
 * same consumer never hands a redelivered message over twice (it acks the redelivery itself).
 */
export interface Delivered {
  received: Received;
  /** Its stream sequence. */
  seq: number;
  /** The subject it was published on. */
  subject: string;
  /** When the server stored it. */
  timestamp: Date;
  /**
   * Acknowledges the message: the ack is sent and nothing waits for the server (what NATS
   * clients do; schema/README.md rule 18). While more pulled messages are waiting to be handed
   * over, acks are queued and written together (one socket write for up to 64, not one each):
   * they go out when the consumer pulls, waits for the server or is closed, and at the latest
   * when the event loop turns; the last ack of what has arrived goes out at once. Close the
   * consumer before its connection, or acks still queued are lost with it. An ack lost on the
   * way means a redelivery after `ackWaitMs`, never a loss. A bounded run (`limit`) that a
   * later run goes on from acks its last message with {@link ackConfirmed}, so the next run
   * starts right after it. NATS_CONNECTION_FAILED (with the correlation id) when it fails.
   */
  ack(): Promise<void>;
  /**
   * Acknowledges the message and waits for the server to confirm it recorded the ack (a round
   * trip: JetStream's double ack): once it returns, a consumer restarted from its durable name
   * will not see this message again. NATS_CONNECTION_FAILED (with the correlation id) when no
   * confirmation comes. After `ack()` there is nothing more to send: it returns at once.
   */
  ackConfirmed(): Promise<void>;
  /** Tells the server never to deliver it again (the application cannot use it). */
  term(reason?: string): void;
}

/** How many handed stream sequences a consumer remembers, to ack their redeliveries (as the Rust runtime). */
const REMEMBERED = 1 << 20;

/** Envelopes handed over between two turns given to the event loop while a pull is due. */
const YIELD_EVERY = 16;

/** Node's setImmediate, where there is one (a browser has none). */
const setImmediateFn: ((f: () => void) => void) | undefined =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (globalThis as unknown as { setImmediate: (f: () => void) => void }).setImmediate
    : undefined;

/** A macrotask turn (Node's setImmediate), where there is one; a browser goes without. */
const yieldToEventLoop: (() => Promise<void>) | undefined =
  setImmediateFn === undefined ? undefined : () => new Promise<void>((resolve) => setImmediateFn(resolve));

/**
 * Most acks queued by `ack()` before they are written. nats.js writes what a call queues at
 * the end of the microtask turn, so an ack sent by itself is a socket write of its own (as
 * costly as a replayed envelope's decode); acks queued and published together go out in one.
 */
const ACKS_PER_WRITE = 64;

/** Runs `f` once the event loop turns (the queued acks' latest moment): setImmediate, or a 0 ms timer. */
const afterThisTurn = (f: () => void): void => {
  if (setImmediateFn !== undefined) setImmediateFn(f);
  else setTimeout(f, 0);
};

/**
 * `p`, marked as observed: a pull's next message may fail (a lost pull, a deleted consumer)
 * before anyone waits for it (a pull started ahead, a `next()` that timed out); the failure is
 * thrown when it is waited for, never reported as an unhandled rejection that ends the process.
 */
function observed<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** One pull request in flight (a nats.js fetch): what it asked for, what was taken from it. */
interface Pull {
  msgs: ConsumerMessages;
  iter: AsyncIterator<JsMsg>;
  asked: number;
  taken: number;
  /** A `next()` of `iter` not yet consumed (one that a timeout left waiting): the next one taken. */
  waiting: Promise<IteratorResult<JsMsg>> | undefined;
}

/** A pull consumer of envelopes with backpressure, pulling ahead while the application works. */
export class EnvelopeConsumer {
  /** Pulls in flight, oldest first (messages come in that order). */
  private pulls: Pull[] = [];
  private consumer: Consumer | undefined;
  /** Envelopes handed over, decode failures included (for {@link ConsumerOptions.limit}). */
  private returned = 0;
  /** Envelopes handed over and not yet settled by the application. */
  private unsettled = 0;
  /** The largest envelope seen, bytes (the pull size under `maxBytes`); 0 before the first. */
  private largest = 0;
  private readonly handed = new Set<number>();
  private readonly handedOrder: number[] = [];
  private handedHead = 0;
  /** {@link returned} when the consumer last gave the event loop a turn. */
  private yieldedAt = 0;
  /** Acks of `ack()` not yet published: published together ({@link flushAcks}). */
  private acks: JsMsg[] = [];
  /** Whether a flush of {@link acks} is scheduled for when the event loop turns. */
  private acksScheduled = false;
  private readonly batch: number;
  private readonly maxBytes: number;
  private readonly maxDeliver: number;
  private readonly nakDelayMs: number;
  private readonly receive: ReceiveOptions;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly info: ConsumerInfo,
    private readonly ephemeral: boolean,
    private readonly options: ConsumerOptions,
  ) {
    this.batch = options.batch ?? CONSUMER_BATCH;
    this.maxBytes = options.maxBytes ?? CONSUMER_MAX_BYTES;
    this.maxDeliver = options.maxDeliver ?? CONSUMER_MAX_DELIVER;
    this.nakDelayMs = options.nakDelayMs ?? CONSUMER_NAK_DELAY_MS;
    this.receive = options.receive ?? {};
  }

  private get name(): string {
    return this.info.name;
  }

  /** Creates (or binds to) the consumer on `stream`; nothing is fetched until `next()`. */
  static async create(nc: NatsConnection, stream: string, options: ConsumerOptions = {}): Promise<EnvelopeConsumer> {
    const where = "EnvelopeConsumer.create";
    checkConnection(nc, "nc", where);
    checkText(stream, "stream", where);
    checkOptions(options, CONSUMER_OPTIONS, where, CONSUMER_HINTS);
    const start: Start = options.start === undefined ? { kind: START_ALL } : startOf(options.start, `option \`start\` of ${where}`);
    try {
      const jsm = await jetstreamManager(nc);
      const maxDeliver = options.maxDeliver ?? CONSUMER_MAX_DELIVER;
      const config: Partial<ConsumerConfig> = {
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(options.ackWaitMs ?? CONSUMER_ACK_WAIT_SECONDS * MS_PER_SECOND),
        max_ack_pending: options.maxAckPending ?? CONSUMER_MAX_ACK_PENDING,
        max_deliver: maxDeliver === 0 ? -1 : maxDeliver,
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
      return new EnvelopeConsumer(nc, stream, info, options.durable === undefined, options);
    } catch (e) {
      throw asBridgeError(e, "NATS_CONNECTION_FAILED", `creating a consumer on stream \`${stream}\` failed: ${e instanceof Error ? e.message : String(e)}. Check that the stream exists (ensureStream) and the server runs JetStream`);
    }
  }

  /** Whether every pull in flight has received all it asked for. */
  private arrived(): boolean {
    for (const p of this.pulls) if (p.msgs.getReceived() < p.asked) return false;
    return true;
  }

  /** Messages asked for by the pulls in flight and not yet taken (on their way, or arrived). */
  private inFlight(): number {
    let n = 0;
    for (const p of this.pulls) n += p.asked - p.taken;
    return n;
  }

  /**
   * Sends the next pull when it is due: when nothing is in flight, or when half the window
   * (`batch`: pulled, handed over and unsettled together) is free, and the last pull has all
   * arrived (it is then being worked on). With a limit, never more than is still to be handed
   * over.
   */
  private refill(remainingMs: number): Promise<void> | undefined {
    const inFlight = this.inFlight();
    const free = this.batch - inFlight - this.unsettled;
    let n: number;
    if (inFlight === 0) n = Math.max(1, free);
    else if (free >= Math.max(1, this.batch / 2)) n = free;
    else return undefined; // not due: nothing to wait for
    return this.pull(remainingMs, inFlight, n);
  }

  /** {@link refill} once a pull is due: `n` more fit the window, `inFlight` are on their way. */
  private async pull(remainingMs: number, inFlight: number, n: number): Promise<void> {
    // One pull request at the server at a time: the server hands messages to waiting requests
    // in turn, so two at once would split the stream between them (out of order, and one left
    // waiting for what the other got). The next goes out once the last one has all arrived.
    if (!this.arrived()) {
      // What has arrived is read from the socket only when the event loop gets a turn, which a
      // replay working through buffered messages does not give it: give it one now and then.
      if (yieldToEventLoop === undefined || this.returned - this.yieldedAt < YIELD_EVERY) return;
      this.yieldedAt = this.returned;
      await yieldToEventLoop();
      if (!this.arrived()) return;
    }
    // Before the first envelope, assume the largest the server takes.
    const serverMax = this.nc.info?.max_payload;
    const largest = this.largest > 0 ? this.largest : serverMax !== undefined && serverMax > 0 ? serverMax : DEFAULT_MAX_PAYLOAD;
    n = Math.min(n, Math.max(1, Math.floor(this.maxBytes / largest)));
    const limit = this.options.limit;
    if (limit !== undefined) n = Math.min(n, limit - this.returned - inFlight);
    if (n < 1) return;
    try {
      this.consumer ??= jetstream(this.nc).consumers.getConsumerFromInfo(this.info);
      // The queued acks go out with the pull request, in the same write.
      this.flushAcks();
      const msgs = await this.consumer.fetch({ max_messages: n, expires: Math.max(MS_PER_SECOND, Math.min(remainingMs, MAX_PULL_WAIT_MS)) });
      const iter = msgs[Symbol.asyncIterator]();
      // nats.js sends a fetch's pull request from its iterator, when it is first iterated:
      // start it now, so the request goes out while the application works on what came before.
      this.pulls.push({ msgs, iter, asked: n, taken: 0, waiting: observed(iter.next()) });
    } catch (e) {
      throw asBridgeError(e, "NATS_CONNECTION_FAILED", `pulling from stream \`${this.stream}\``);
    }
  }

  private stopPulls(): void {
    for (const p of this.pulls) p.msgs.stop();
    this.pulls = [];
  }

  private remember(seq: number): void {
    if (this.handed.has(seq)) return;
    this.handed.add(seq);
    this.handedOrder.push(seq);
    if (this.handedOrder.length - this.handedHead > REMEMBERED) {
      this.handed.delete(this.handedOrder[this.handedHead++]!);
      if (this.handedHead > REMEMBERED) {
        this.handedOrder.splice(0, this.handedHead);
        this.handedHead = 0;
      }
    }
  }

  /**
   * Acks `m` without a round trip (rule 18). While more messages are already here to be handed
   * over (the application is working through a pull), the ack is queued: queued acks are
   * published together when {@link ACKS_PER_WRITE} are queued, when a pull goes out, when the
   * consumer waits for the server or closes, and at the latest when the event loop turns.
   * Otherwise it is published at once, with any queued before it. Either way a lost ack means
   * a redelivery, never a loss.
   */
  private queueAck(m: JsMsg): void {
    this.acks.push(m);
    if (this.acks.length >= ACKS_PER_WRITE || !this.moreHere()) this.flushAcks();
    else if (!this.acksScheduled) {
      this.acksScheduled = true;
      afterThisTurn(() => {
        this.acksScheduled = false;
        this.flushAcks();
      });
    }
  }

  /** Whether messages have arrived that are not handed over yet. */
  private moreHere(): boolean {
    for (const p of this.pulls) if (p.msgs.getPending() > 0) return true;
    return false;
  }

  /** Publishes the queued acks, one after the other in one turn: nats.js writes them in one go. */
  private flushAcks(): void {
    const acks = this.acks;
    if (acks.length === 0) return;
    this.acks = [];
    for (const m of acks) {
      try {
        m.ack();
      } catch {
        // The connection closed after the ack was queued: it is lost, and the message is
        // delivered again after ack_wait (at least once).
      }
    }
  }

  /** The next message of the oldest pull, waiting at most until `until`; `undefined` when that pull is over. */
  private async take(until: number, timeoutMs: number): Promise<JsMsg | undefined> {
    const pull = this.pulls[0]!;
    // A message already there needs no timer (the common case while replaying); asked before
    // `next()`, which takes it.
    const ready = pull.waiting === undefined && pull.msgs.getPending() > 0;
    const waiting = (pull.waiting ??= observed(pull.iter.next()));
    let r: IteratorResult<JsMsg>;
    try {
      if (ready) {
        r = await waiting;
      } else {
        // About to wait for the server: the queued acks go now.
        this.flushAcks();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), Math.max(0, until - Date.now()));
        });
        const first = await Promise.race([waiting, timeout]).finally(() => clearTimeout(timer));
        if (first === "timeout") throw new NatsBridgeError("TIMEOUT", `no message from stream \`${this.stream}\` within ${timeoutMs} ms`);
        r = first;
      }
    } catch (e) {
      if (e instanceof NatsBridgeError && e.code === "TIMEOUT") throw e;
      this.stopPulls();
      throw asBridgeError(e, "NATS_CONNECTION_FAILED", `pulling from stream \`${this.stream}\``);
    }
    pull.waiting = undefined;
    if (r.done === true) {
      this.pulls.shift();
      return undefined;
    }
    pull.taken++;
    return r.value;
  }

  /**
   * The next decoded envelope, waiting at most `timeoutMs` (TIMEOUT after). An envelope that
   * can never be decoded is terminated on the server and its error thrown; one that failed
   * transiently (download) is nak'ed for redelivery (terminated on its `maxDeliver`-th
   * delivery) and its error thrown. The next call goes on. Past {@link ConsumerOptions.limit},
   * INVALID_ARGUMENT (nothing more is pulled).
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
      const pulling = this.refill(remaining);
      if (pulling !== undefined) await pulling;
      if (this.pulls.length === 0) continue;
      const m = await this.take(until, timeoutMs);
      if (m === undefined) continue;
      const seq = m.seq;
      if (this.handed.has(seq)) {
        // Handed over before and redelivered (its ack was lost, or came after ack_wait): never twice.
        this.queueAck(m);
        continue;
      }
      this.returned++;
      if (m.data.byteLength > this.largest) this.largest = m.data.byteLength;
      let received: Received;
      try {
        const got = receiveChecked(m, this.receive);
        received = got instanceof Promise ? await got : got;
      } catch (e) {
        const err = asBridgeError(e, ERROR_BAD_BYTES, "decoding a stream message");
        const transient = (err.code === ERROR_DOWNLOAD || err.code === ERROR_DEADLINE) && !(this.maxDeliver !== 0 && m.info.deliveryCount >= this.maxDeliver);
        if (transient) m.nak(this.nakDelayMs);
        else {
          m.term(`${err.code}: ${err.message}`);
          this.remember(seq);
        }
        emit("warn", transient ? "nak: will be redelivered" : "term: can never be decoded", err.correlationId ?? "", { stage: "receive", seq, code: err.code });
        throw err;
      }
      this.remember(seq);
      return this.delivered(m, received);
    }
  }

  private delivered(m: JsMsg, received: Received): Delivered {
    this.unsettled++;
    let settled = false;
    const settle = (): void => {
      if (!settled) {
        settled = true;
        this.unsettled--;
      }
    };
    const cid = received.envelope.correlation_id;
    return {
      received,
      seq: m.seq,
      subject: m.subject,
      timestamp: new Date(millis(m.info.timestampNanos)),
      ack: async () => {
        try {
          // nats.js queues an ack on a closed connection without a word: said here instead.
          if (this.nc.isClosed()) throw new Error("the connection is closed");
          this.queueAck(m);
        } catch (e) {
          throw new NatsBridgeError("NATS_CONNECTION_FAILED", "acknowledging", { correlationId: cid, cause: e });
        }
        settle();
      },
      ackConfirmed: async () => {
        try {
          if (this.nc.isClosed()) throw new Error("the connection is closed");
          await m.ackAck();
        } catch (e) {
          throw new NatsBridgeError("NATS_CONNECTION_FAILED", "acknowledging (waiting for the server's confirmation)", { correlationId: cid, cause: e });
        }
        settle();
      },
      term: (reason?: string) => {
        m.term(reason);
        settle();
        emit("warn", "term: the application cannot use it", cid, { stage: "receive", seq: m.seq });
      },
    };
  }

  /** Stops pulling; deletes an ephemeral consumer. */
  async close(): Promise<void> {
    this.flushAcks();
    this.stopPulls();
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
