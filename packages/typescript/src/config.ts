/**
 * Configuration names shared with every NATSBridge runtime (`NATS_URL`, `FILESERVER_URL`,
 * `FILESERVER_TOKEN`, `SIZE_THRESHOLD`), read from `process.env` where there is one (Node) and
 * defaulted elsewhere (a browser); the connector used when a caller gives a broker URL instead
 * of a connection (WebSocket, `wsconnect`, in the core; TCP in the Node entry point); and how
 * such a call opens its connection (the opener): here from the URL alone, its user info sent as
 * credentials; in Node through the connection settings (`connect.ts`: flags, environment, the
 * nats CLI's context). Connect errors name the servers without user info, where they came from
 * and, when the server refuses, which credential was sent from where, never its value.
 */
import { wsconnect, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core";
import {
  DEFAULT_FILESERVER_URL,
  DEFAULT_NATS_URL,
  DEFAULT_SIZE_THRESHOLD,
  ENV_FILESERVER_TOKEN,
  ENV_FILESERVER_URL,
  ENV_NATS_URL,
  ENV_SIZE_THRESHOLD,
  ERROR_BAD_OPTION,
  ERROR_CONNECT_SETTINGS,
} from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";
import { networkReason } from "./net.js";
import { checkArgument, checkOptions, checkText, type OptionSpec } from "./options.js";
import { parseServers, shownServer, shownServers } from "./servers.js";
import { newUuid } from "./wire.js";

/** The profile's defaults (`@natsbridge/types`), re-exported under the names this package always had. */
export { DEFAULT_FILESERVER_URL, DEFAULT_NATS_URL, DEFAULT_SIZE_THRESHOLD };

/** An environment variable where there is an environment (Node); a blank value is unset. */
function env(name: string): string | undefined {
  const e = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = e?.[name];
  return v === undefined || v.trim() === "" ? undefined : v;
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

function sourced(what: string, given: string | undefined, label: string, envName: string, fallback: string): SourcedUrl {
  if (given !== undefined) return { url: given, source: `the ${what} comes from ${label}` };
  const fromEnv = env(envName);
  if (fromEnv !== undefined) return { url: fromEnv, source: `the ${what} comes from ${envName}` };
  return { url: fallback, source: `the ${what} is the default ${fallback}: ${envName} is unset` };
}

/** The file server URL: `given` (the `fileserverUrl` option), else `FILESERVER_URL`, else the default; with its source. */
export function fileserverUrlSourced(given?: string): SourcedUrl {
  return sourced("file server URL", given, "the fileserverUrl argument", ENV_FILESERVER_URL, DEFAULT_FILESERVER_URL);
}

/** The token of the file server: `given` (the `fileserverToken` option) unless blank, else `FILESERVER_TOKEN`, else none. */
export function fileserverToken(given?: string): string | undefined {
  return given !== undefined && given.trim() !== "" ? given : env(ENV_FILESERVER_TOKEN);
}

/** The NATS URL: `given` (what the caller named `label`), else `NATS_URL`, else the default; with its source. */
export function natsUrlSourced(given: string | undefined, label: string): SourcedUrl {
  return sourced("NATS URL", given, label, ENV_NATS_URL, DEFAULT_NATS_URL);
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

/** The options that carry a credential: given with a URL's user info, two kinds at once. */
const AUTH_OPTIONS = ["token", "user", "pass", "authenticator"] as const;

/** A broker URL a call was given (or none: the environment's), and how its errors name it. */
export interface UrlTarget {
  /** The URL or comma-separated seeds the caller gave; `undefined`: NATS_URL (in Node: the settings), else the default. */
  url: string | undefined;
  /** What the caller gave it as, for messages: `the connection argument`. */
  label: string;
  /** The call, for option names in messages: `smartsend`. */
  where: string;
  /** What to try for another server, after a connect error: `pass an open connection (\`connection\`)`. */
  pass: string;
}

/** A connection a call opened, and the broker URL its envelopes name (no user info, no query). */
export interface Opened {
  nc: NatsConnection;
  brokerUrl: string;
}

/** How a call that was given a URL (or none) connects: by the URL alone here; the Node entry installs the settings resolver. */
export type Opener = (target: UrlTarget, options: ConnectToOptions) => Promise<Opened>;

/**
 * The URL alone (a browser: no environment, no files): its user info taken out and sent as
 * `user`/`pass` or `token` (nats.js ignores it in a URL), next to credentials given as options
 * an INVALID_ARGUMENT naming both.
 */
async function openByUrl(target: UrlTarget, given: ConnectToOptions): Promise<Opened> {
  // A blank token, user or password option says nothing, as everywhere.
  const options: ConnectToOptions = { ...given };
  for (const k of ["token", "user", "pass"] as const) if (options[k]?.trim() === "") delete options[k];
  const where = natsUrlSourced(target.url, target.label);
  const { seeds, credential } = parseServers(where.url, target.url === undefined ? ENV_NATS_URL : target.label);
  const auth: ConnectToOptions = {};
  let sent = "no credentials";
  if (credential !== undefined) {
    const given = AUTH_OPTIONS.find((k) => options[k] !== undefined);
    if (given !== undefined) {
      throw new NatsBridgeError(ERROR_CONNECT_SETTINGS, `two kinds of credentials: the user info of ${target.label} and option \`${given}\` of ${target.where}; give one`);
    }
    if (credential.kind === "token") auth.token = credential.token;
    else Object.assign(auth, { user: credential.user, pass: credential.password });
    sent = `the ${credential.kind === "token" ? "token" : `user '${credential.user}' and password`} from the user info of ${target.label}`;
  } else if (AUTH_OPTIONS.some((k) => options[k] !== undefined)) {
    sent = `the credentials of the options of ${target.where}`;
  }
  const nc = await dial({ ...options, ...auth, servers: seeds }, { source: where.source, pass: target.pass, credentials: sent });
  return { nc, brokerUrl: shownServer(seeds[0] ?? where.url) };
}

let opener: Opener = openByUrl;

/** The seeds a call given a URL (or none) would connect to: here the URL's, else NATS_URL's, else the default's; the Node entry installs the settings'. */
export type SeedsOf = (url: string | undefined) => readonly string[];

let seedsOf: SeedsOf = (url) => parseServers(url ?? natsUrl(), url === undefined ? ENV_NATS_URL : "the connection argument").seeds;

/** Replaces how the seeds of a call given a URL (or none) are found: the Node entry point installs the settings resolver. */
export function setSeedsOf(s: SeedsOf): void {
  seedsOf = s;
}

/**
 * The `broker_url` of an envelope that is not published: the seeds a call given `url` (or
 * none) would connect to, shown ({@link shownServer}), comma-joined; never absent: when the
 * settings cannot be resolved (a broken context), the URL (else NATS_URL, else the default) shown.
 */
export function unpublishedBrokerUrl(url: string | undefined): string {
  try {
    return seedsOf(url).map(shownServer).join(",");
  } catch (e) {
    if (!(e instanceof NatsBridgeError)) throw e;
    return shownServers(url ?? natsUrl());
  }
}

/** Replaces how calls given a URL (or none) connect: the Node entry point installs the settings resolver. */
export function setOpener(o: Opener): void {
  opener = o;
}

/** Opens the connection a call was given as a URL (or not at all). */
export async function openConnection(target: UrlTarget, options: ConnectToOptions = {}): Promise<Opened> {
  if (target.url !== undefined && target.url.trim() === "") throw new NatsBridgeError(ERROR_BAD_OPTION, `${target.label} is an empty URL`);
  return opener(target, options);
}

/**
 * Connects to `url` (a NATS URL or a comma-separated list; user info in it is sent as
 * `user`/`pass` or a token, never left in the URL). In Node the URL is the `server` setting
 * and the rest comes from the environment and the nats CLI's context as for
 * `resolveConnectSettings` (`NATS_TOKEN`, `NATS_CREDS`, `NATS_CA`, …). NATS_CONNECTION_FAILED on
 * failure, naming the URL (without credentials) and the reason (`connection refused`, a
 * failed DNS lookup, which credential the server refused); INVALID_ARGUMENT for an option
 * nats.js does not know or of the wrong type, or settings that contradict each other.
 */
export async function connectTo(url: string, options: ConnectToOptions = {}): Promise<NatsConnection> {
  checkText(url, "url", "connectTo");
  checkOptions(options, CONNECT_TO_OPTIONS, "connectTo");
  return (await openConnection({ url, label: "the url argument of connectTo", where: "connectTo", pass: "check the URL" }, options)).nc;
}

/** What a connect error says besides the reason: where the servers came from, what to try, which credential was sent. */
export interface DialContext {
  /** `the NATS URL comes from NATS_URL` */
  source: string;
  /** `check the URL` */
  pass: string;
  /** `the token from --token`, `no credentials`: never a secret's value. */
  credentials: string;
  /** `the CA file /etc/ca.pem from --tls-ca`, for a TLS failure. */
  trust?: string;
}

const AUTH_FAILURE = /authoriz|authenticat|credentials|nkey|signature|jwt/i;
const TLS_FAILURE = /tls|ssl|certificate|cert_|self.signed/i;

/**
 * Connects with nats.js `options` (`servers` without user info); a failure is
 * NATS_CONNECTION_FAILED naming the servers (shown without user info or query), the reason,
 * where the servers came from, which credential was sent on an authorization failure, and
 * what to try.
 */
export async function dial(options: ConnectionOptions, context: DialContext): Promise<NatsConnection> {
  const servers = Array.isArray(options.servers) ? options.servers : options.servers === undefined ? [] : [options.servers];
  try {
    return await connector(options);
  } catch (e) {
    const reason = networkReason(e);
    let why = reason.why;
    let advice = reason.kind === "unreachable" ? `Start a NATS server (\`nats-server -js\`) or ${context.pass}` : `Check the server and its URL, or ${context.pass}`;
    if (reason.kind !== "unreachable" && AUTH_FAILURE.test(why)) {
      why = `${why}: the server refused ${context.credentials}`;
      advice = `Check the credentials (a token, a user and password, an NKey seed or a .creds file; the server's log says which user it refused), or ${context.pass}`;
    } else if (reason.kind !== "unreachable" && TLS_FAILURE.test(why)) {
      why = `${why}: trusting ${context.trust ?? "the system's certificate authorities"}`;
      advice = `Check the server's certificate and the CA file (\`--tls-ca\`, NATS_CA), or ${context.pass}`;
    }
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", `connecting to ${servers.map(shownServer).join(", ")} failed: ${why} (${context.source}). ${advice}.`, { cause: e });
  }
}
