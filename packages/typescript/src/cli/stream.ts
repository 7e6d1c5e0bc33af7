/**
 * JetStream from the command line: stream names as nats-server takes them, `--since` (an RFC
 * 3339 time or a duration back from now), and the stream `send --stream` publishes into
 * (created for the subject when missing, as the other CLIs create it).
 */
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { NatsBridgeError } from "../errors.js";
import { ensureStream } from "../jetstream.js";
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

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 24 * 3600 };

/** `--since`: an RFC 3339 time (`2026-11-30T08:00:00Z`), or a duration back from now (`90s`, `10m`, `2h`, `1d`). */
export function since(flags: Flags, now = Date.now()): Date | undefined {
  const text = flags.opt("since");
  if (text === undefined) return undefined;
  if (RFC3339.test(text)) {
    const ms = Date.parse(text.replace(" ", "T"));
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  const d = /^([0-9]+)([smhd])$/.exec(text);
  if (d !== null) {
    const ms = Number(d[1]) * (UNIT_SECONDS[d[2]!] ?? 0) * MS_PER_SECOND;
    if (Number.isSafeInteger(ms)) return new Date(now - ms);
  }
  throw new Usage(`--since \`${text}\` is not an RFC 3339 time (2026-11-30T08:00:00Z) nor a duration (90s, 10m, 2h, 1d)`);
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
