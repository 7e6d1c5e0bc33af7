/**
 * Configuration names shared with every NATSBridge runtime (`NATS_URL`, `FILESERVER_URL`,
 * `SIZE_THRESHOLD`), read from `process.env` where there is one (Node) and defaulted
 * elsewhere (a browser), and the connector used when a caller gives a broker URL instead of
 * a connection: WebSocket (`wsconnect`) in the core, TCP in the Node entry point.
 */
import { wsconnect, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core";
import { NatsBridgeError } from "./errors.js";
import { newUuid, redact } from "./wire.js";

export const DEFAULT_NATS_URL = "nats://localhost:4222";
export const DEFAULT_FILESERVER_URL = "http://localhost:8080";
export const DEFAULT_SIZE_THRESHOLD = 500_000;
/** NATS's default `max_payload`, used when no connection tells otherwise. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

function env(name: string): string | undefined {
  const e = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = e?.[name];
  return v === undefined || v === "" ? undefined : v;
}

export function natsUrl(): string {
  return env("NATS_URL") ?? DEFAULT_NATS_URL;
}

export function fileserverUrl(): string {
  return env("FILESERVER_URL") ?? DEFAULT_FILESERVER_URL;
}

/** `SIZE_THRESHOLD` when it is a non-negative integer, else 500 000. */
export function sizeThreshold(): number {
  const v = env("SIZE_THRESHOLD");
  const n = v === undefined ? NaN : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : DEFAULT_SIZE_THRESHOLD;
}

let senderId: string | undefined;
/** This process's `sender_id` (one UUID per process). */
export function processSenderId(): string {
  senderId ??= newUuid();
  return senderId;
}

export type Connector = (options: ConnectionOptions) => Promise<NatsConnection>;

let connector: Connector = wsconnect;

/** Replaces how broker URLs are connected to (the Node entry point installs TCP). */
export function setConnector(c: Connector): void {
  connector = c;
}

/** Connects to `url` (a NATS URL or a comma-separated list); NATS_CONNECTION_FAILED on failure. */
export async function connectTo(url: string, options: Omit<ConnectionOptions, "servers"> = {}): Promise<NatsConnection> {
  const servers = url.split(",").map((s) => s.trim()).filter((s) => s !== "");
  try {
    return await connector({ ...options, servers });
  } catch (e) {
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `cannot connect to ${servers.map(redact).join(", ")}`, { cause: e });
  }
}
