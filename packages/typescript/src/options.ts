/**
 * Option objects checked at run time (schema/README.md, rule 12): a key a call does not know,
 * or a value of the wrong type, is a SERIALIZATION_ERROR (`ERROR_BAD_OPTION`) naming it and,
 * for a likely misspelling, the closest known key (`fileserver_url` → "did you mean
 * `fileserverUrl`?"). TypeScript catches these at compile time; JavaScript callers, and
 * values built at run time, would otherwise see the option silently ignored.
 *
 * Each options interface has its spec beside it, written
 * `{ ... } as const satisfies OptionSpec<TheOptions>`: a key of the interface missing from the
 * spec, or a spec key the interface does not have, is a compile error, so the two cannot drift.
 */
import { ERROR_BAD_OPTION } from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";

/** What an option's value must be (`undefined` is always accepted: the option is absent). */
export type OptionKind =
  | "string"
  /** A number (not NaN; Infinity allowed where a lifetime may be unbounded). */
  | "number"
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

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a Date";
  const t = typeof value;
  return t === "object" ? "an object" : t === "undefined" ? "undefined" : `a ${t}${t === "number" && Number.isNaN(value) ? " (NaN)" : ""}`;
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
    case "boolean":
      return typeof value === "boolean" ? undefined : "a boolean";
    case "function":
      return typeof value === "function" ? undefined : "a function";
    case "object":
      return isPlainObject(value) ? undefined : "an object";
    case "object-or-null":
      return value === null || isPlainObject(value) ? undefined : "an object or null";
    case "strings-record":
      return isPlainObject(value) && Object.values(value).every((v) => typeof v === "string") ? undefined : "an object of strings";
    case "strings":
      return Array.isArray(value) && value.every((v) => typeof v === "string") ? undefined : "an array of strings";
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
 * SERIALIZATION_ERROR (`ERROR_BAD_OPTION`) for something that is not an options object, an
 * unknown key or a value of the wrong kind. `undefined` stands for "no options".
 */
export function checkOptions(options: unknown, spec: { readonly [key: string]: OptionKind }, where: string): void {
  if (options === undefined) return;
  if (!isPlainObject(options)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `the options of ${where} must be an object, got ${describe(options)}`);
  }
  for (const key in options) {
    if (!Object.prototype.hasOwnProperty.call(options, key)) continue;
    const kind = Object.prototype.hasOwnProperty.call(spec, key) ? spec[key] : undefined;
    if (kind === undefined) {
      const known = Object.keys(spec);
      const guess = closestKey(key, known);
      const hint = guess !== undefined ? `: did you mean \`${guess}\`?` : ` (known options: ${known.map((k) => `\`${k}\``).join(", ")})`;
      throw new NatsBridgeError(ERROR_BAD_OPTION, `unknown option \`${key}\` of ${where}${hint}`);
    }
    const value = options[key];
    if (value === undefined) continue;
    const wrong = mismatch(kind, value);
    if (wrong !== undefined) {
      throw new NatsBridgeError(ERROR_BAD_OPTION, `option \`${key}\` of ${where} must be ${wrong}, got ${describe(value)}`);
    }
    if (typeof kind === "object" && "nested" in kind) checkOptions(value, kind.nested, `${where} \`${key}\``);
  }
}

/** A positional argument that must be a number (a timeout), checked as an option is. */
export function checkNumberArgument(value: unknown, name: string, where: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `\`${name}\` of ${where} must be a number, got ${describe(value)}`);
  }
}
