/**
 * What went wrong on the network, in words an error message can carry: the refused
 * connection, the failed DNS lookup, the browser's opaque "failed to fetch" (a network error
 * or a CORS block), each with what to try. Node's `fetch` hides the reason in `cause.code`
 * (`TypeError: fetch failed`); nats.js in its own message or `cause`.
 */

import { withoutCredentials } from "./errors.js";

/** The kind of failure, for the advice that follows it. */
export type FailureKind = "unreachable" | "opaque" | "other";

export interface NetworkReason {
  /** `connection refused`, `DNS lookup of files failed (ENOTFOUND)`, … */
  why: string;
  kind: FailureKind;
}

const CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_SOCKET: "connection closed by the server",
  EPIPE: "connection closed by the server",
};

/** Browsers' messages for a fetch that failed without an answer (network error or CORS). */
const OPAQUE = /^(Failed to fetch|NetworkError when attempting to fetch resource\.?|Load failed)$/;

function chain(e: unknown): unknown[] {
  const out: unknown[] = [];
  let c: unknown = e;
  while (c !== undefined && c !== null && out.length < 8 && !out.includes(c)) {
    out.push(c);
    c = typeof c === "object" ? (c as { cause?: unknown }).cause : undefined;
  }
  return out;
}

/** The reason `e` (what `fetch` or a NATS connect threw) gives, in words (without any password a URL in it held). */
export function networkReason(e: unknown): NetworkReason {
  const reason = rawReason(e);
  return { why: withoutCredentials(reason.why), kind: reason.kind };
}

function rawReason(e: unknown): NetworkReason {
  const links = chain(e);
  for (const link of links) {
    if (typeof link !== "object" || link === null) continue;
    const { code, hostname, message } = link as { code?: unknown; hostname?: unknown; message?: unknown };
    if (typeof code === "string") {
      if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
        const host = typeof hostname === "string" ? ` of ${hostname}` : "";
        return { why: `DNS lookup${host} failed (${code}: no such host)`, kind: "unreachable" };
      }
      const known = CODES[code];
      if (known !== undefined) return { why: known, kind: "unreachable" };
      if (code.startsWith("ERR_TLS") || code.includes("CERT")) return { why: `TLS failed (${code}${typeof message === "string" ? `: ${message}` : ""})`, kind: "other" };
    }
    if (typeof message === "string") {
      if (/connection refused|ECONNREFUSED/i.test(message)) return { why: "connection refused", kind: "unreachable" };
      const dns = /getaddrinfo (ENOTFOUND|EAI_AGAIN) (\S+)/.exec(message);
      if (dns !== null) return { why: `DNS lookup of ${dns[2]} failed (${dns[1]}: no such host)`, kind: "unreachable" };
    }
  }
  const first = links[0];
  if (first instanceof TypeError && OPAQUE.test(first.message)) {
    return {
      why: `the request failed without an answer (\`TypeError: ${first.message}\`: a network error or a CORS block; the browser does not say which, its console does)`,
      kind: "opaque",
    };
  }
  const parts = links.map((l) => (l instanceof Error ? l.message : typeof l === "string" ? l : "")).filter((t) => t !== "");
  return { why: parts.length > 0 ? parts.join(": ") : "unknown error", kind: "other" };
}
