/**
 * `natsbridge-js receive` and `reply`: subscribe (or replay a JetStream stream, from a time or
 * where a durable consumer stopped), decode each envelope, print its digest line (an error
 * line for a bad one: nothing a hostile message carries stops the receiver) and what the
 * output flags ask for; `reply` also answers each request, with payloads (its own, echoed, by
 * default) or an `error_response_v1` (`--fail CODE[:MESSAGE]`).
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { ERROR_APPLICATION, ERROR_CODE_VALUES, ERROR_DEADLINE, isKnownErrorCode, type MsgPurpose } from "@natsbridge/types";
import { NatsBridgeError } from "../errors.js";
import { EnvelopeConsumer } from "../jetstream.js";
import type { PayloadTuple } from "../payload.js";
import { smartreceive, type Received } from "../receive.js";
import { smartreply, smartreplyError } from "../request.js";
import type { SendOptions } from "../send.js";
import { fileserverUrl } from "../config.js";
import { Failure, type Flags } from "./args.js";
import { answerPayloads } from "./envelope.js";
import { Output, asciiJson, errorLine } from "./output.js";
import { connectServer } from "./send.js";
import { since, streamExists, streamName } from "./stream.js";

const MS_PER_SECOND = 1000;
/** The longest one wait of a stream receive for the next message. */
const MAX_PULL_WAIT_MS = 30 * MS_PER_SECOND;
/** What `reply` answers with (the Rust CLI's `MsgPurpose::Ack`). */
const REPLY_PURPOSE: MsgPurpose = "ACK";
/** The `sender_name` of `reply`'s answers (the Rust CLI's). */
const REPLY_SENDER_NAME = "natsbridge reply";
/** `--fail CODE` without a message. */
const DEFAULT_FAIL_MESSAGE = "the responder was told to fail";

/** `--count` and `--timeout`: how many envelopes, and until when (epoch ms; Infinity: no end). */
function listen(flags: Flags): { count: number | undefined; deadline: number } {
  const count = flags.count("count");
  const timeout = flags.count("timeout");
  return { count, deadline: timeout === undefined ? Infinity : Date.now() + timeout * MS_PER_SECOND };
}

/** 1 when fewer than `--count` arrived, else 0. */
function outcome(count: number | undefined, seen: number): number {
  return count !== undefined && seen < count ? 1 : 0;
}

/** A core subscription, registered on the server before the readiness line (`{"subscribed": true}` on stderr). */
async function subscribed(nc: NatsConnection, subject: string, queue?: string): Promise<Subscription> {
  const sub = nc.subscribe(subject, queue === undefined ? {} : { queue });
  await nc.flush();
  console.error(asciiJson({ subscribed: true }));
  return sub;
}

/** Each message of `sub` until `count` of them or the deadline, handed to `handle`; how many there were. */
async function each(sub: Subscription, count: number | undefined, deadline: number, handle: (msg: Msg) => Promise<void>): Promise<number> {
  if (count === 0) return 0;
  const timer = Number.isFinite(deadline) ? setTimeout(() => sub.unsubscribe(), Math.max(0, deadline - Date.now())) : undefined;
  let seen = 0;
  try {
    for await (const msg of sub) {
      seen++;
      await handle(msg);
      if (count !== undefined && seen >= count) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

export async function receive(flags: Flags): Promise<number> {
  const subject = flags.one("subject");
  const { count, deadline } = listen(flags);
  const stream = streamName(flags);
  const start = since(flags);
  const durable = flags.opt("durable");
  const output = Output.of(flags);
  const nc = await connectServer(flags);
  try {
    if (stream !== undefined) return await receiveStream(nc, { stream, subject, start, durable, count, deadline, output });
    const sub = await subscribed(nc, subject);
    const seen = await each(sub, count, deadline, async (msg) => {
      // A hostile message gives its error line; nothing it carries stops the receiver.
      let received: Received;
      try {
        received = await smartreceive(msg, output.receive);
      } catch (e) {
        console.log(errorLine(e));
        return;
      }
      output.print(received);
    });
    return outcome(count, seen);
  } finally {
    await nc.close().catch(() => {});
  }
}

interface StreamReceive {
  stream: string;
  subject: string;
  start: string | number | Date | undefined;
  durable: string | undefined;
  count: number | undefined;
  deadline: number;
  output: Output;
}

/**
 * Replays `stream` through the runtime's pull consumer, filtered on the subject: ephemeral,
 * from the start of the stream or from `--since` (`all`, `new`, a sequence, a duration, a time), or durable (`--durable`: a later run goes on
 * where this one stopped; with `--count` no more is pulled than is handed over, so nothing is
 * left pulled but unacknowledged). One digest line per envelope, each acked after it is
 * printed; an envelope that cannot be decoded gives its error line. The stream must exist: a
 * missing one is the user's mistake, not something to wait for.
 */
async function receiveStream(nc: NatsConnection, r: StreamReceive): Promise<number> {
  if (!(await streamExists(nc, r.stream))) throw new Failure(`the stream \`${r.stream}\` does not exist`);
  const consumer = await EnvelopeConsumer.create(nc, r.stream, {
    filterSubject: r.subject,
    ...(r.start === undefined ? {} : { start: r.start }),
    ...(r.durable === undefined ? {} : { durable: r.durable }),
    ...(r.count === undefined ? {} : { limit: r.count }),
    receive: r.output.receive,
  });
  console.error(asciiJson({ subscribed: true, stream: r.stream }));
  let seen = 0;
  try {
    while (r.count === undefined || seen < r.count) {
      const remaining = r.deadline - Date.now();
      if (remaining <= 0) break;
      try {
        const delivered = await consumer.next(Math.min(remaining, MAX_PULL_WAIT_MS));
        r.output.print(delivered.received);
        await delivered.ack();
      } catch (e) {
        if (!(e instanceof NatsBridgeError)) throw e;
        // Nothing arrived in time: the consumer's own TIMEOUT carries no correlation id (a
        // download that timed out belongs to an envelope and carries its id).
        if (e.code === ERROR_DEADLINE && e.correlationId === undefined) continue;
        if (e.code === "NATS_CONNECTION_FAILED") throw e;
        console.log(errorLine(e));
      }
      seen++;
    }
  } finally {
    await consumer.close();
  }
  return outcome(r.count, seen);
}

/** `--fail CODE[:MESSAGE]`: the error every request is answered with. */
function failure(flags: Flags): { code: (typeof ERROR_CODE_VALUES)[number]; message: string } | undefined {
  const spec = flags.opt("fail");
  if (spec === undefined) return undefined;
  const colon = spec.indexOf(":");
  const [code, message] = colon < 0 ? [spec, DEFAULT_FAIL_MESSAGE] : [spec.slice(0, colon), spec.slice(colon + 1)];
  if (!isKnownErrorCode(code)) throw new Failure(`--fail \`${spec}\`: the code is not one of ${ERROR_CODE_VALUES.join(", ")}`);
  if (code === ERROR_APPLICATION) throw new Failure(`--fail \`${spec}\`: ${ERROR_APPLICATION} needs an application code, which this CLI does not answer; use another code`);
  return { code, message };
}

/** What `reply` answers `request` with: the `--payload`s, or the request's own payloads (the bytes of a table as they came). */
function answerTo(request: Received, answer: PayloadTuple[]): PayloadTuple[] {
  if (answer.length > 0) return answer;
  return request.payloads.map((p) => (p.payload_type === "arrowtable" ? [p.dataname, p.bytes, "arrowtable"] : [p.dataname, p.data, p.payload_type]) as PayloadTuple);
}

export async function reply(flags: Flags): Promise<number> {
  const subject = flags.one("subject");
  const { count, deadline } = listen(flags);
  const fail = failure(flags);
  const answer = answerPayloads(flags).map((x) => x.tuple);
  const output = Output.of(flags);
  const options: SendOptions = { fileserverUrl: flags.one("fileserver", fileserverUrl), senderName: REPLY_SENDER_NAME, msgPurpose: REPLY_PURPOSE };
  const token = flags.opt("fileserver-token");
  if (token !== undefined) options.fileserverToken = token;
  const nc = await connectServer(flags);
  try {
    const sub = await subscribed(nc, subject, flags.opt("queue"));
    const seen = await each(sub, count, deadline, async (msg) => {
      let request: Received;
      try {
        request = await smartreceive(msg, output.receive);
      } catch (e) {
        console.log(errorLine(e));
        return;
      }
      output.print(request);
      try {
        if (fail !== undefined) {
          const error = new NatsBridgeError(fail.code, fail.message, { correlationId: request.envelope.correlation_id });
          await smartreplyError(nc, request.envelope, error);
        } else {
          await smartreply(nc, request.envelope, answerTo(request, answer), options);
        }
      } catch (e) {
        console.log(errorLine(e));
      }
    });
    // Answers are queued, not flushed one by one: the last ones must leave before exit.
    try {
      await nc.flush();
    } catch (e) {
      throw new NatsBridgeError("PUBLISH_FAILED", "flushing the replies", { cause: e });
    }
    return outcome(count, seen);
  } finally {
    await nc.close().catch(() => {});
  }
}
