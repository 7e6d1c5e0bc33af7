/**
 * Option objects checked at run time (schema/README.md, rule 12): a key a call does not know,
 * or a value of the wrong type, is an INVALID_ARGUMENT (`ERROR_BAD_OPTION`) naming it and,
 * for a likely misspelling, the closest known key (`fileserver_url` → "did you mean
 * `fileserverUrl`?"). TypeScript catches these at compile time; JavaScript callers, and
 * values built at run time, would otherwise see the option silently ignored.
 *
 * Each options interface has its spec beside it, written
 * `{ ... } as const satisfies OptionSpec<TheOptions>`: a key of the interface missing from the
 * spec, or a spec key the interface does not have, is a compile error, so the two cannot drift.
 */
import { ERROR_BAD_OPTION } from "@natsbridge/types";
import { NatsBridgeError, shownValue } from "./errors.js";
import { allowedHost } from "./hosts.js";

/** What an option's value must be (`undefined` is always accepted: the option is absent). */
export type OptionKind =
  | "string"
  /** A number (not NaN; Infinity allowed where a lifetime may be unbounded). */
  | "number"
  /** An integer of 0 or more (a size, a count). */
  | "count"
  /** An integer of 1 or more. */
  | "positive"
  /** A finite number of 0 or more (a delay or timeout in ms). */
  | "duration"
  /** A number above 0, Infinity allowed (a lifetime that may be unbounded). */
  | "lifetime"
  /** A list of allowed hosts: each an http(s) URL or origin, or `*` (see `allowedHost`). */
  | "hosts"
  /** An array (of anything: what is in it is checked where it is used). */
  | "array"
  /** A Uint8Array. */
  | "bytes"
  /** A replay start: a string of the grammar, an integer sequence, or a Date (see `parseStart`). */
  | "start"
  | "boolean"
  | "function"
  /** A non-null object that is not an array (a connection, a client, a plain record). */
  | "object"
  /** `null` or an object. */
  | "object-or-null"
  /** A plain object whose values are strings (headers). */
  | "strings-record"
  /** An array of strings (hosts, subjects). */
  | "strings"
  /** A valid `Date`. */
  | "date"
  /** A connection or a broker URL. */
  | "object-or-string"
  /** A string or an array of strings. */
  | "string-or-strings"
  /** A function or an array of functions. */
  | "function-or-functions"
  /** One of the listed strings. */
  | { readonly oneOf: readonly string[] }
  /** A nested options object, checked by its own spec. */
  | { readonly nested: { readonly [key: string]: OptionKind } };

/** The spec of an options type: exactly its keys, each with its kind. */
export type OptionSpec<T> = { readonly [K in keyof T]-?: OptionKind };

/** What was given, for a message: `the string "x"`, `the number -1`, `NaN`, `null`, `an array (2 items)`, … */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "string":
      return `the string ${shownValue(value)}`;
    case "number":
      return Number.isNaN(value) ? "NaN" : `the number ${String(value)}`;
    case "boolean":
      return `the boolean ${String(value)}`;
    case "symbol":
      return `the symbol ${shownValue(value)}`;
    case "bigint":
      return `the bigint ${shownValue(value)}`;
    default:
      return shownValue(value);
  }
}

/** Options and keywords whose value is a secret (any runtime's spelling): a value of the wrong type is told by its type only. */
const SECRET_OPTIONS: ReadonlySet<string> = new Set(["password", "token", "pass", "fileserver_token", "fileserverToken"]);

/** What was given, by its type only (`a number`, `an object`, `null`): for a secret's value. */
function typeOnly(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const t = typeof value;
  return t === "object" || t === "undefined" ? `an ${t}` : `a ${t}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What is wrong with `value` for `kind`, or `undefined` when it fits. */
function mismatch(kind: OptionKind, value: unknown): string | undefined {
  if (typeof kind === "object") {
    if ("oneOf" in kind) {
      return typeof value === "string" && kind.oneOf.includes(value) ? undefined : `one of ${kind.oneOf.map((v) => JSON.stringify(v)).join(", ")}`;
    }
    return isPlainObject(value) ? undefined : "an options object";
  }
  switch (kind) {
    case "string":
      return typeof value === "string" ? undefined : "a string";
    case "number":
      return typeof value === "number" && !Number.isNaN(value) ? undefined : "a number";
    case "count":
      return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? undefined : "an integer of 0 or more";
    case "positive":
      return typeof value === "number" && Number.isSafeInteger(value) && value >= 1 ? undefined : "an integer of 1 or more";
    case "duration":
      return typeof value === "number" && Number.isFinite(value) && value >= 0 ? undefined : "a finite number of milliseconds, 0 or more";
    case "lifetime":
      return typeof value === "number" && value > 0 ? undefined : "a number above 0 (Infinity: no end)";
    case "boolean":
      return typeof value === "boolean" ? undefined : "a boolean";
    case "function":
      return typeof value === "function" ? undefined : "a function";
    case "object":
      return isPlainObject(value) ? undefined : "an object";
    case "object-or-null":
      return value === null || isPlainObject(value) ? undefined : "an object or null";
    case "strings-record":
      return isPlainObject(value) ? undefined : "an object of strings";
    case "strings":
      return Array.isArray(value) && value.every((v) => typeof v === "string") ? undefined : "an array of strings";
    case "hosts":
      return Array.isArray(value) ? undefined : "a list of URLs";
    case "array":
      return Array.isArray(value) ? undefined : "an array";
    case "bytes":
      return value instanceof Uint8Array ? undefined : "a Uint8Array";
    case "start":
      return typeof value === "string" || typeof value === "number" || value instanceof Date ? undefined : "a start: `all`, `new`, a sequence, a duration (`10m`), an RFC 3339 time, or a Date";
    case "date":
      return value instanceof Date && !Number.isNaN(value.getTime()) ? undefined : "a valid Date";
    case "object-or-string":
      return typeof value === "string" || isPlainObject(value) ? undefined : "a connection or a URL string";
    case "string-or-strings":
      return typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string")) ? undefined : "a string or an array of strings";
    case "function-or-functions":
      return typeof value === "function" || (Array.isArray(value) && value.every((v) => typeof v === "function")) ? undefined : "a function or an array of functions";
  }
}

function normalized(key: string): string {
  return key.toLowerCase().replace(/[_\-\s]/g, "");
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The known key `key` is most likely a misspelling of, if any. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const k = normalized(key);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(k, normalized(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(k.length / 3)) ? best : undefined;
}

/**
 * Checks `options` (what `where`, e.g. `smartsend`, was given) against `spec`: throws
 * INVALID_ARGUMENT (`ERROR_BAD_OPTION`) for something that is not an options object, an
 * unknown key or a value of the wrong kind. `undefined` stands for "no options". `hints` maps
 * a key that is not an option (one a call used to take, or a name from elsewhere) to the one
 * to use instead.
 */
export function checkOptions(options: unknown, spec: { readonly [key: string]: OptionKind }, where: string, hints: Readonly<Record<string, string>> = {}): void {
  if (options === undefined) return;
  if (!isPlainObject(options) || options instanceof Date) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: its options must be an object ({ key: value, … }), got ${describe(options)}`);
  }
  for (const key in options) {
    if (!Object.prototype.hasOwnProperty.call(options, key)) continue;
    const kind = Object.prototype.hasOwnProperty.call(spec, key) ? spec[key] : undefined;
    if (kind === undefined) {
      const known = Object.keys(spec);
      const guess = Object.prototype.hasOwnProperty.call(hints, key) ? hints[key] : closestKey(key, known);
      const hint = guess !== undefined ? `: did you mean \`${guess}\`?` : ` (known options: ${known.map((k) => `\`${k}\``).join(", ")})`;
      throw new NatsBridgeError(ERROR_BAD_OPTION, `unknown option \`${key}\` of ${where}${hint}`);
    }
    const value = options[key];
    if (value === undefined) continue;
    checkKind(value, kind, `option \`${key}\` of ${where}`, key);
    if (typeof kind === "object" && "nested" in kind) checkOptions(value, kind.nested, `${where} \`${key}\``);
  }
}

/** Throws INVALID_ARGUMENT unless `value` is of `kind`; `what` names it (`option `x` of f`, `` `timeout` of f``). */
function checkKind(value: unknown, kind: OptionKind, what: string, name: string): void {
  if (kind === "hosts" && typeof value === "string") {
    throw new NatsBridgeError(
      ERROR_BAD_OPTION,
      `${what}: ${name} must be a list of URLs; got the string \`${value}\`: wrap it in a list ([${JSON.stringify(value)}])`,
    );
  }
  const wrong = mismatch(kind, value);
  if (wrong !== undefined) throw new NatsBridgeError(ERROR_BAD_OPTION, `${what} must be ${wrong}, got ${SECRET_OPTIONS.has(name) ? typeOnly(value) : describe(value)}`);
  if (kind === "strings-record") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v !== "string") {
        const as = typeof v === "number" || typeof v === "boolean" ? `: write it as text (${JSON.stringify(String(v))})` : "";
        throw new NatsBridgeError(ERROR_BAD_OPTION, `\`${k}\` in ${what} must be a string, got ${describe(v)}${as}`);
      }
    }
  }
  if (kind === "hosts") {
    (value as unknown[]).forEach((v, i) => {
      try {
        allowedHost(v);
      } catch (e) {
        throw new NatsBridgeError(ERROR_BAD_OPTION, `${what}, item ${i}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }
}

/** A positional argument that must be of `kind` (`undefined` accepted when `optional`), checked as an option is. */
export function checkArgument(value: unknown, kind: OptionKind, name: string, where: string, optional = false): void {
  if (value === undefined && optional) return;
  if (value === undefined) throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: \`${name}\` is missing`);
  checkKind(value, kind, `\`${name}\` of ${where}`, name);
}

/** A positional argument that must be a number (a timeout), checked as an option is. */
export function checkNumberArgument(value: unknown, name: string, where: string): void {
  checkArgument(value, "duration", name, where, true);
}

/** A non-empty string argument (a subject, a stream name, a URL). */
export function checkText(value: unknown, name: string, where: string): asserts value is string {
  if (typeof value !== "string" || value === "") {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: \`${name}\` must be a non-empty string, got ${describe(value)}`);
  }
}

/** A NATS connection argument (an object with `publish` and `subscribe`, as nats.js's `connect` returns). */
export function checkConnection(value: unknown, name: string, where: string): void {
  const c = value as { publish?: unknown; subscribe?: unknown } | null | undefined;
  if (typeof c !== "object" || c === null || typeof c.publish !== "function" || typeof c.subscribe !== "function") {
    throw new NatsBridgeError(
      ERROR_BAD_OPTION,
      `calling ${where}: \`${name}\` must be a NATS connection (\`await connect({ servers })\`), got ${describe(value)}`,
    );
  }
}

/** Refuses arguments past the last one a function takes (a JavaScript caller of an older signature). */
export function checkNoMoreArguments(extra: readonly unknown[], where: string, hint: string): void {
  if (extra.length > 0 && extra.some((v) => v !== undefined)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where} with ${extra.length} argument${extra.length === 1 ? "" : "s"} too many: ${hint}`);
  }
}
