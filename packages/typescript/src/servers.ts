/**
 * NATS server lists as users write them (schema/README.md rule 17): comma-separated seeds,
 * spaces trimmed, a seed without a scheme read as `nats://…` *before* its user info is split
 * off (so `alice:pw@host:4222` is never taken for a URL of scheme `alice`), the user info of
 * the first seed that has one taken out as the cluster's credential (`user:password@` or
 * `token@`, percent-decoded; `alice:@` is alice with an empty password, an empty `@` none).
 * A seed is kept as written but for that: its scheme lowercased, its user info removed,
 * `nats://` added when it has no scheme (no trailing `/`, no host lowercased). A seed as it
 * may be shown ({@link shownServer}, the one redactor of NATS URLs: settings, errors,
 * `broker_url`) is that with a query as `?REDACTED`. nats.js v3 ignores user info in a URL: it
 * must be taken out and sent as `user`/`pass` or `token`. Pure string work, for the browser
 * and Node alike.
 */
import { ERROR_CONNECT_SETTINGS } from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";

/** The credential a URL's user info carries. */
export type UrlCredential = { kind: "user_password"; user: string; password: string } | { kind: "token"; token: string };

/** A server list taken apart. */
export interface Seeds {
  /** Each seed with a scheme and without user info, otherwise as written (its query kept: nats.js may need it). */
  seeds: string[];
  /** The user info of the first seed that has one. */
  credential: UrlCredential | undefined;
}

const SCHEME_SEPARATOR = "://";
const DEFAULT_SCHEME = "nats";
const WITH_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

/** `%2F` → `/`; text that is not valid percent-encoding is kept as written. */
function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

interface Seed {
  scheme: string;
  /** host[:port], as written */
  hostPort: string;
  /** path, query and fragment, as written */
  rest: string;
  credential: UrlCredential | undefined;
}

/** One seed taken apart; `undefined` when it is not a URL (never shown: it may hold a password). */
function parseSeed(text: string): Seed | undefined {
  const full = text.includes(SCHEME_SEPARATOR) ? text : `${DEFAULT_SCHEME}${SCHEME_SEPARATOR}${text}`;
  const m = WITH_SCHEME.exec(full);
  if (m === null) return undefined;
  const [, scheme = "", authority = "", rest = ""] = m;
  const at = authority.lastIndexOf("@");
  const hostPort = at < 0 ? authority : authority.slice(at + 1);
  if (hostPort === "") return undefined;
  try {
    // The host and port must parse (a port out of range, a bad IPv6 literal are refused).
    new URL(`${scheme}${SCHEME_SEPARATOR}${hostPort}${rest}`);
  } catch {
    return undefined;
  }
  let credential: UrlCredential | undefined;
  const info = at < 0 ? "" : authority.slice(0, at);
  if (info !== "") {
    const colon = info.indexOf(":");
    credential =
      colon < 0
        ? { kind: "token", token: percentDecoded(info) }
        : { kind: "user_password", user: percentDecoded(info.slice(0, colon)), password: percentDecoded(info.slice(colon + 1)) };
  }
  return { scheme: scheme.toLowerCase(), hostPort, rest, credential };
}

/**
 * `text` (one seed or a comma-separated list) taken apart; INVALID_ARGUMENT naming `source`
 * (never the text) for a list without a seed or a seed that is not a URL.
 */
export function parseServers(text: string, source: string): Seeds {
  const seeds: string[] = [];
  let credential: UrlCredential | undefined;
  for (const part of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const seed = parseSeed(part);
    if (seed === undefined) {
      throw new NatsBridgeError(ERROR_CONNECT_SETTINGS, `a server URL of ${source} does not parse (it is not shown: it may hold a password)`);
    }
    seeds.push(`${seed.scheme}${SCHEME_SEPARATOR}${seed.hostPort}${seed.rest}`);
    credential ??= seed.credential;
  }
  if (seeds.length === 0) throw new NatsBridgeError(ERROR_CONNECT_SETTINGS, `${source} names no server URL`);
  return { seeds, credential };
}

/**
 * A seed as it may be printed (in settings, errors, `broker_url`): as written, but its scheme
 * lowercased (`nats://` when it has none), no user info, and a query as `?REDACTED`.
 */
export function shownServer(seed: string): string {
  const s = parseSeed(seed.trim());
  if (s === undefined) return "<unparseable url>";
  const q = s.rest.indexOf("?");
  const rest = q < 0 ? s.rest : `${s.rest.slice(0, q)}?REDACTED`;
  return `${s.scheme}${SCHEME_SEPARATOR}${s.hostPort}${rest}`;
}

/** A comma-separated server list as it may be printed: each seed by {@link shownServer}, comma-joined. */
export function shownServers(text: string): string {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(shownServer)
    .join(",");
}

/** Whether a seed's scheme asks for TLS (`tls://`, `wss://`). */
export function tlsScheme(seed: string): boolean {
  const s = parseSeed(seed);
  return s !== undefined && (s.scheme === "tls" || s.scheme === "wss");
}
