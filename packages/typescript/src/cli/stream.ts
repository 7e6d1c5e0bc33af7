/**
 * JetStream from the command line: stream names as nats-server takes them, `--since` (the
 * replay start grammar of `parseStart`), and the stream `send --stream` publishes into
 * (created for the subject when missing, as the other CLIs create it).
 */
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { NatsBridgeError } from "../errors.js";
import { ensureStream } from "../jetstream.js";
import { startOf, type Start } from "../start.js";
import { Usage, type Flags } from "./args.js";

const MS_PER_SECOND = 1000;

/** `--stream`, checked as a JetStream stream name as nats-server and the nats CLI accept it. */
export function streamName(flags: Flags): string | undefined {
  const name = flags.opt("stream");
  if (name !== undefined && (name === "" || /[\s.*>/\\]/u.test(name) || [...name].length > 255)) {
    throw new Usage(`--stream \`${name}\` is not a stream name (1 to 255 characters, none of whitespace . * > / \\)`);
  }
  return name;
}

/**
 * `--since`: where the replay starts, the text form every runtime and CLI takes (`all`, `new`,
 * a stream sequence, a duration back from now such as `10m` or `1h30m`, an RFC 3339 time with
 * its offset); a usage error for anything else. `undefined` when not given (the whole stream).
 */
export function since(flags: Flags, now = new Date()): string | number | Date | undefined {
  const text = flags.opt("since");
  if (text === undefined) return undefined;
  let start: Start;
  try {
    start = startOf(text, "--since", now);
  } catch (e) {
    throw new Usage(e instanceof Error ? e.message : String(e));
  }
  switch (start.kind) {
    case "time":
      return start.time;
    case "sequence":
      return start.sequence;
    default:
      return text;
  }
}

export async function streamExists(nc: NatsConnection, name: string): Promise<boolean> {
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.info(name);
    return true;
  } catch (e) {
    if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound) return false;
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `looking up the stream \`${name}\``, { cause: e });
  }
}

/**
 * Makes sure stream `name` exists and captures `subject`: an existing one is used as it is
 * configured; a missing one is created with `subject` as its only subject (file storage,
 * limits retention, `maxAgeSeconds`, `replicas`).
 */
export async function streamCapturing(nc: NatsConnection, name: string, subject: string, maxAgeSeconds: number, replicas: number): Promise<void> {
  if (!(await streamExists(nc, name))) {
    try {
      await ensureStream(nc, { name, subjects: [subject], maxAgeMs: maxAgeSeconds * MS_PER_SECOND, storage: "file", replicas });
    } catch (e) {
      if (!(await streamExists(nc, name))) throw e; // unless another process created it meanwhile
    }
  }
  let owner: string | undefined;
  try {
    owner = await (await jetstreamManager(nc)).streams.find(subject);
  } catch (e) {
    // No stream (or more than one) captures it: nats.js says StreamNotFound.
    if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) {
      throw new NatsBridgeError("NATS_CONNECTION_FAILED", `looking up the stream of \`${subject}\``, { cause: e });
    }
  }
  if (owner !== name) {
    throw new NatsBridgeError("PUBLISH_FAILED", `the stream \`${name}\` does not capture \`${subject}\`${owner === undefined ? "" : ` (\`${owner}\` does)`}`);
  }
}
