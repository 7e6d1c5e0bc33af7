/**
 * `natsbridge-js send` and `request`: build the envelope the flags describe and publish it,
 * through core NATS or a JetStream stream, or print it without publishing; `request` waits for
 * the reply and prints it as `receive` prints an envelope, or prints the responder's error line
 * (`"remote": true`, and `"application_code"` for an application error) and exits 1.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { CLI_STREAM_MAX_AGE_SECONDS } from "@natsbridge/types";
import { CONNECT_FLAG_NAMES, connectWith, resolveConnectSettings, type ConnectFlags, type ConnectSettings } from "../connect.js";
import { digestOfSent } from "../digest.js";
import { NatsBridgeError } from "../errors.js";
import { publishToStream } from "../jetstream.js";
import { shownServer } from "../servers.js";
import { smartrequest } from "../request.js";
import { smartsend } from "../send.js";
import type { Flags } from "./args.js";
import { payloads, sendOptions } from "./envelope.js";
import { Output, asciiJson, asciiLine, errorLine } from "./output.js";
import { streamCapturing, streamName } from "./stream.js";

const MS_PER_SECOND = 1000;
/** How long `request` waits for its reply unless `--timeout`, seconds (the Rust CLI's). */
const REQUEST_TIMEOUT_SECONDS = 30;

/** The connection flags given (`--server`, `--context`, `--token`, …), as the library takes them. */
export function connectFlags(flags: Flags): ConnectFlags {
  const out: Record<string, string | boolean> = {};
  for (const [key, name] of Object.entries(CONNECT_FLAG_NAMES)) {
    if (key === "noContext" || key === "tlsFirst") {
      if (flags.on(name)) out[key] = true;
    } else {
      const v = flags.opt(name);
      if (v !== undefined) out[key] = v;
    }
  }
  return out as ConnectFlags;
}

/** The connection settings of the flags, the environment (read by the resolver, so each source is known) and the nats CLI's context. */
export function connectSettings(flags: Flags): ConnectSettings {
  return resolveConnectSettings(connectFlags(flags));
}

/** Connects with the connection flags, the environment and the context in use. */
export async function connectServer(flags: Flags): Promise<NatsConnection> {
  return connectWith(connectSettings(flags));
}

export async function send(flags: Flags): Promise<number> {
  const subject = flags.one("subject");
  const stream = streamName(flags);
  const maxAge = flags.count("max-age") ?? CLI_STREAM_MAX_AGE_SECONDS;
  const replicas = flags.count("replicas") ?? 1;
  const parsed = payloads(flags);
  const tuples = parsed.map((x) => x.tuple);
  const options = sendOptions(flags);
  if (flags.on("no-publish")) {
    // Nothing connects: the envelope names the servers the flags (else the environment, else
    // the context) give, as every CLI does.
    const brokerUrl = connectSettings(flags).servers.map(shownServer).join(",");
    const sent = await smartsend(subject, tuples, { ...options, brokerUrl, publish: false });
    console.log(asciiLine(sent.json));
    return 0;
  }
  const nc = await connectServer(flags);
  try {
    let sent;
    if (stream === undefined) {
      // The process exits right after: flushed, so the envelope is on the server first.
      sent = await smartsend(subject, tuples, { ...options, connection: nc, flush: true });
    } else {
      await streamCapturing(nc, stream, subject, maxAge, replicas);
      sent = await publishToStream(nc, subject, tuples, options);
      // The ack, as the Rust and Python CLIs print it.
      console.error(asciiJson({ stream, stream_sequence: sent.streamSequence }));
    }
    console.log(asciiLine(digestOfSent(sent.envelope, parsed.map((x) => x.rows))));
    return 0;
  } finally {
    await nc.close().catch(() => {});
  }
}

export async function request(flags: Flags): Promise<number> {
  const subject = flags.one("subject");
  const timeout = flags.count("timeout") ?? REQUEST_TIMEOUT_SECONDS;
  const tuples = payloads(flags).map((x) => x.tuple);
  // The request sets its own inbox as `reply_to`.
  const { replyTo: _replyTo, ...options } = sendOptions(flags);
  const output = Output.of(flags);
  const nc = await connectServer(flags);
  try {
    let reply;
    try {
      reply = await smartrequest(nc, subject, tuples, { ...options, timeout: timeout * MS_PER_SECOND, receive: output.receive });
    } catch (e) {
      if (!(e instanceof NatsBridgeError)) throw e;
      console.log(errorLine(e));
      return 1;
    }
    output.print(reply);
    return 0;
  } finally {
    await nc.close().catch(() => {});
  }
}
