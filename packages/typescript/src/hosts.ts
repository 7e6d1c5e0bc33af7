/**
 * Allowed hosts, one form everywhere (`ReceiveOptions.allowedHosts`, the CLI's
 * `--allow-host`): an http(s) URL or origin (`http://files:8080`, `https://secure.example`,
 * the default port filled in, a path ignored), normalized to `host:port`; or `*`, every host.
 * Anything else (`files:8080`, `bare-host`, `ftp://x`, `""`, a number, a list where one host is
 * expected) is INVALID_ARGUMENT saying how to write it.
 */
import { ERROR_BAD_OPTION } from "@natsbridge/types";
import { NatsBridgeError, shownValue } from "./errors.js";

/** Every host. */
const ANY_HOST = "*";

const DEFAULT_PORTS: Readonly<Record<string, string>> = { "http:": "80", "https:": "443" };

/** What to write instead of `text`, which is not an http(s) URL. */
function suggestion(text: string): string {
  const rest = text.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, "");
  return rest === "" ? "http://HOST:PORT" : `http://${rest}`;
}

/**
 * The `host:port` an allowed host stands for (`http://files:8080` → `files:8080`,
 * `https://secure.example/x` → `secure.example:443`), or `*`. INVALID_ARGUMENT for anything
 * that is not an http(s) URL or origin, or `*`.
 */
export function allowedHost(value: unknown): string {
  if (Array.isArray(value)) {
    throw new NatsBridgeError(
      ERROR_BAD_OPTION,
      `reading an allowed host: one host was expected, got ${shownValue(value)}. Give each URL on its own (in allowedHosts, a list of URLs, each item is one)`,
    );
  }
  if (typeof value !== "string") {
    throw new NatsBridgeError(
      ERROR_BAD_OPTION,
      `reading an allowed host: it must be a URL string such as \`http://files:8080\` (or \`*\` for every host), got ${typeof value === "number" ? `the number ${shownValue(value)}` : shownValue(value)}`,
    );
  }
  if (value === ANY_HOST) return ANY_HOST;
  if (value === "") {
    throw new NatsBridgeError(ERROR_BAD_OPTION, "allowed host `` is empty; write a URL such as `http://files:8080` (or https://..., or `*` for every host)");
  }
  let url: URL | undefined;
  try {
    url = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value) ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || url.hostname === "") {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `allowed host \`${value}\` is not a URL; write \`${suggestion(value)}\` (or https://...)`);
  }
  const port = DEFAULT_PORTS[url.protocol];
  if (port === undefined) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `allowed host \`${value}\` is not an http(s) URL; write \`${suggestion(value)}\` (or https://...)`);
  }
  return `${url.hostname}:${url.port === "" ? port : url.port}`;
}

/** Whether `hostPort` (a link's `host:port`) is one of `allowed` (normalized entries), or `*` is. */
export function hostIn(hostPort: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => a === ANY_HOST || a === hostPort);
}
