/**
 * Configuration names shared with every NATSBridge runtime (`NATS_URL`, `FILESERVER_URL`,
 * `SIZE_THRESHOLD`), read from `process.env` where there is one (Node) and defaulted
 * elsewhere (a browser), and the connector used when a caller gives a broker URL instead of
 * a connection: WebSocket (`wsconnect`) in the core, TCP in the Node entry point.
 */
import { wsconnect, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core";
import {
  DEFAULT_FILESERVER_URL,
  DEFAULT_NATS_URL,
  DEFAULT_SIZE_THRESHOLD,
  ENV_FILESERVER_URL,
  ENV_NATS_URL,
  ENV_SIZE_THRESHOLD,
  ERROR_BAD_OPTION,
} from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";
import { networkReason } from "./net.js";
import { checkArgument, checkOptions, checkText, type OptionSpec } from "./options.js";
import { newUuid, redact } from "./wire.js";

/** The profile's defaults (`@natsbridge/types`), re-exported under the names this package always had. */
export { DEFAULT_FILESERVER_URL, DEFAULT_NATS_URL, DEFAULT_SIZE_THRESHOLD };

function env(name: string): string | undefined {
  const e = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = e?.[name];
  return v === undefined || v === "" ? undefined : v;
}

export function natsUrl(): string {
  return env(ENV_NATS_URL) ?? DEFAULT_NATS_URL;
}

export function fileserverUrl(): string {
  return env(ENV_FILESERVER_URL) ?? DEFAULT_FILESERVER_URL;
}

/** A URL and where it came from, said in errors: `(the NATS URL comes from NATS_URL)`. */
export interface SourcedUrl {
  url: string;
  /** `the file server URL is the default http://localhost:8080: FILESERVER_URL is unset`, … */
  source: string;
}

function sourced(what: string, given: string | undefined, option: string, envName: string, fallback: string): SourcedUrl {
  if (given !== undefined) return { url: given, source: `the ${what} comes from the ${option} argument` };
  const fromEnv = env(envName);
  if (fromEnv !== undefined) return { url: fromEnv, source: `the ${what} comes from ${envName}` };
  return { url: fallback, source: `the ${what} is the default ${fallback}: ${envName} is unset` };
}

/** The file server URL: `given` (the `fileserverUrl` option), else `FILESERVER_URL`, else the default; with its source. */
export function fileserverUrlSourced(given?: string): SourcedUrl {
  return sourced("file server URL", given, "fileserverUrl", ENV_FILESERVER_URL, DEFAULT_FILESERVER_URL);
}

/** The NATS URL: `given` (a `connection` URL), else `NATS_URL`, else the default; with its source. */
export function natsUrlSourced(given?: string): SourcedUrl {
  return sourced("NATS URL", given, "connection", ENV_NATS_URL, DEFAULT_NATS_URL);
}

/**
 * `SIZE_THRESHOLD` (DEFAULT_SIZE_THRESHOLD when unset). A value that is not a non-negative
 * integer is an INVALID_ARGUMENT naming it, never a silent default.
 */
export function sizeThreshold(): number {
  const v = env(ENV_SIZE_THRESHOLD);
  if (v === undefined) return DEFAULT_SIZE_THRESHOLD;
  const n = /^[0-9]+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `${ENV_SIZE_THRESHOLD}=${JSON.stringify(v)} is not a non-negative integer`);
  }
  return n;
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
  checkArgument(c, "function", "connector", "setConnector");
  connector = c;
}

/**
 * Reads the bytes of a `file://` link that must lie inside one of `allowedDirs` and be `size`
 * bytes long (URL_NOT_ALLOWED, DOWNLOAD_FAILED or INTEGRITY_MISMATCH otherwise). Only Node
 * has one: the Node entry point installs it; in a browser `file://` links are refused.
 */
export type FileLinkReader = (url: string, size: number, allowedDirs: readonly string[]) => Promise<Uint8Array>;

let fileLinkReader: FileLinkReader | undefined;

/** Installs how `file://` links are read (the Node entry point does). */
export function setFileLinkReader(reader: FileLinkReader): void {
  fileLinkReader = reader;
}

/** The installed `file://` link reader, if any. */
export function installedFileLinkReader(): FileLinkReader | undefined {
  return fileLinkReader;
}

/** The options {@link connectTo} takes: nats.js's connection options but `servers`. */
export type ConnectToOptions = Omit<ConnectionOptions, "servers">;

export const CONNECT_TO_OPTIONS = {
  authenticator: "function-or-functions",
  debug: "boolean",
  maxPingOut: "number",
  maxReconnectAttempts: "number",
  name: "string",
  noEcho: "boolean",
  noRandomize: "boolean",
  pass: "string",
  pedantic: "boolean",
  pingInterval: "number",
  port: "number",
  reconnect: "boolean",
  reconnectDelayHandler: "function",
  reconnectJitter: "number",
  reconnectJitterTLS: "number",
  reconnectTimeWait: "number",
  timeout: "number",
  tls: "object-or-null",
  token: "string",
  user: "string",
  verbose: "boolean",
  waitOnFirstConnect: "boolean",
  ignoreClusterUpdates: "boolean",
  inboxPrefix: "string",
  ignoreAuthErrorAbort: "boolean",
  noAsyncTraces: "boolean",
  resolve: "boolean",
  reconnectToServer: "function",
} as const satisfies OptionSpec<ConnectToOptions>;

/**
 * Connects to `url` (a NATS URL or a comma-separated list); NATS_CONNECTION_FAILED on failure,
 * naming the URL and the reason (`connection refused`, a failed DNS lookup); INVALID_ARGUMENT
 * for an option nats.js does not know or of the wrong type.
 */
export async function connectTo(url: string, options: ConnectToOptions = {}): Promise<NatsConnection> {
  checkText(url, "url", "connectTo");
  checkOptions(options, CONNECT_TO_OPTIONS, "connectTo");
  return connectSourced({ url, source: "" }, "check the URL", options);
}

/**
 * Connects to `target.url`; a failure names the URL, the reason, where the URL came from
 * (`target.source`, e.g. `the NATS URL is the default …: NATS_URL is unset`) and what to try
 * (`pass`: how to give another URL).
 */
export async function connectSourced(target: SourcedUrl, pass: string, options: ConnectToOptions = {}): Promise<NatsConnection> {
  const servers = target.url.split(",").map((s) => s.trim()).filter((s) => s !== "");
  try {
    return await connector({ ...options, servers });
  } catch (e) {
    const reason = networkReason(e);
    const source = target.source === "" ? "" : ` (${target.source})`;
    const advice = reason.kind === "unreachable" ? `Start a NATS server (\`nats-server -js\`) or ${pass}` : `Check the server and its URL, or ${pass}`;
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `connecting to ${servers.map(redact).join(", ")} failed: ${reason.why}${source}. ${advice}.`, { cause: e });
  }
}
