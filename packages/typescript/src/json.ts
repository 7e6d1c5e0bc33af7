/**
 * The strict JSON reader every NATSBridge runtime applies to what arrives from the network
 * (schema/README.md, reader rules 8 and 9), so that all of them give the same verdict on the
 * same bytes. `JSON.parse` alone accepts what other readers refuse (a duplicate key keeps the
 * last value, `1e400` becomes Infinity, `\ud800` a lone surrogate); {@link strictJsonReason}
 * finds those in one linear scan over the text, then `JSON.parse` checks the grammar and
 * builds the value.
 *
 * The scan reads char codes; a string is skipped with `indexOf` (native, vectorised) up to its
 * closing quote, and escapes are looked at only where a backslash is, so the large base64
 * `data` of a direct payload costs about a memchr.
 */
import { JSON_MAX_DEPTH } from "@natsbridge/types";

/** How {@link strictJsonReason} reads: an envelope also has its integer fields' forms checked. */
export interface StrictJsonMode {
  /**
   * The text is a `msg_envelope_v1`: `payloads[i].size`, when a number, must be written
   * `0` or `[1-9][0-9]*` (rule 9). Payload JSON has no schema, so no integer rule.
   */
  envelope?: boolean;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const BOM = 0xfeff;

/** The roles a container can play in an envelope, for the integer rule. */
const ROLE_NONE = 0;
const ROLE_ENVELOPE = 1;
const ROLE_PAYLOADS = 2;
const ROLE_PAYLOAD = 3;

const INTEGER = /^(?:0|[1-9][0-9]*)$/;

function hex4(text: string, at: number): number {
  if (at + 4 > text.length) return -1;
  let v = 0;
  for (let k = at; k < at + 4; k++) {
    const c = text.charCodeAt(k);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

/** Whether a JavaScript string holds a lone (unpaired) surrogate: it has no UTF-8 form. */
function hasLoneSurrogate(text: string): boolean {
  const native = (text as { isWellFormed?: () => boolean }).isWellFormed;
  if (native !== undefined) return !native.call(text);
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/**
 * Why `text` is not strict JSON under reader rules 8 (and 9 with `envelope`), or `undefined`
 * when the scan finds nothing: a BOM, a duplicate member name at any depth (compared after
 * unescaping), a number that is not finite as a double, a lone surrogate (escaped, or raw in
 * a JavaScript string), nesting deeper than JSON_MAX_DEPTH. The grammar itself (raw control
 * characters, `NaN`, leading zeros, trailing commas, anything after the value) is left to
 * `JSON.parse`, which {@link parseStrictJson} runs next.
 */
export function strictJsonReason(text: string, mode: StrictJsonMode = {}): string | undefined {
  const integer: IntegerForm = {};
  return scan(text, mode.envelope === true, integer) ?? (hasLoneSurrogate(text) ? "a lone surrogate in the text" : undefined) ?? integer.reason;
}

/** Where {@link scan} notes the first integer field written in another form (rule 9). */
interface IntegerForm {
  reason?: string;
}

/**
 * What a counting scan found instead of comparing member names: how many members it met (a
 * duplicate name makes JSON.parse's value hold fewer), or that it met an escaped name (then
 * only the full scan can tell).
 */
interface Counted {
  members: number;
  escapedName: boolean;
}

/** {@link scan}'s per-depth state, reused from one scan to the next (no allocation per message). */
const KINDS: number[] = [];
const ROLES: number[] = [];
const NAMES: (string[] | Set<string> | undefined)[] = [];
const CURRENT: string[] = [];

/**
 * {@link strictJsonReason} for text known to be well-formed (decoded from UTF-8). With
 * `counted`, member names are counted, not compared (duplicates are then found by counting the
 * parsed value's members: {@link parseStrictJson}); everything else is checked the same way.
 */
function scan(text: string, envelope: boolean, integer: IntegerForm, counted?: Counted): string | undefined {
  const n = text.length;
  if (n > 0 && text.charCodeAt(0) === BOM) return "a byte-order mark (U+FEFF) before the value";
  // Per open container (index = depth - 1): 1 object / 2 array, its role, its member names,
  // the current member name, and whether the next string is a member name. The module's
  // scratch arrays (a scan calls nothing that scans): each slot is set when its container opens.
  const kinds = KINDS;
  const roles = ROLES;
  const names = NAMES;
  const current = CURRENT;
  let expectName = false;
  let inObject = false;
  let depth = 0;
  let nextBackslash = -2; // -2: not looked for yet; -1: none left
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      // A number: digits, sign, point, exponent. Sliced only when its value or form matters.
      const start = i;
      let exponent = false;
      let d = c;
      while ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x2d || d === 0x2b || ((d === 0x65 || d === 0x45) && (exponent = true))) {
        d = text.charCodeAt(++i);
      }
      // Only long tokens and exponents can leave the doubles.
      if (exponent || i - start > 15) {
        const token = text.slice(start, i);
        const v = Number(token);
        // NaN: not a JSON number at all, which JSON.parse names.
        if (Number.isNaN(v)) return undefined;
        if (!Number.isFinite(v)) return `a number that is not finite as a double (${token.length > 40 ? token.slice(0, 40) + "…" : token})`;
      }
      if (envelope && depth > 0 && roles[depth - 1] === ROLE_PAYLOAD && current[depth - 1] === "size") {
        const token = text.slice(start, i);
        // Noted, not fatal: the JSON itself is sound, so the envelope's correlation id can still be named.
        if (!INTEGER.test(token) && integer.reason === undefined) {
          integer.reason = `\`size\` written ${JSON.stringify(token)}: an integer must be written 0 or [1-9][0-9]*`;
        }
      }
    } else if (c === 0x2c /* , */) {
      expectName = inObject;
      i++;
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x3a) {
      i++;
    } else if (c === QUOTE) {
      // A string: find its end, looking at escapes only where a backslash is.
      const start = i + 1;
      let end = text.indexOf('"', start);
      if (end < 0) return "a string that does not end";
      if (nextBackslash !== -1 && nextBackslash < start) nextBackslash = text.indexOf("\\", start);
      let escaped = false;
      if (nextBackslash !== -1 && nextBackslash < end) {
        escaped = true;
        let j = nextBackslash;
        for (;;) {
          // j is at a backslash inside the string.
          const e = text.charCodeAt(j + 1);
          if (e === 0x75 /* u */) {
            const code = hex4(text, j + 2);
            if (code < 0) return "an invalid \\u escape";
            if (code >= 0xd800 && code <= 0xdbff) {
              const low = text.charCodeAt(j + 6) === BACKSLASH && text.charCodeAt(j + 7) === 0x75 ? hex4(text, j + 8) : -1;
              if (low < 0xdc00 || low > 0xdfff) return "a lone surrogate escape (\\u" + code.toString(16) + ")";
              j += 12;
            } else if (code >= 0xdc00 && code <= 0xdfff) {
              return "a lone surrogate escape (\\u" + code.toString(16) + ")";
            } else {
              j += 6;
            }
          } else {
            j += 2; // `\"`, `\\` and the one-letter escapes (JSON.parse checks which)
          }
          if (j > end) end = text.indexOf('"', j);
          if (end < 0) return "a string that does not end";
          const b = text.indexOf("\\", j);
          if (b < 0 || b > end) {
            nextBackslash = b;
            break;
          }
          j = b;
        }
      }
      i = end + 1;
      if (expectName && counted !== undefined) {
        expectName = false;
        if (escaped) {
          counted.escapedName = true;
          return undefined;
        }
        counted.members++;
        // The names the envelope's integer rule needs, told without slicing them out.
        const role = roles[depth - 1];
        const length = end - start;
        current[depth - 1] =
          role === ROLE_ENVELOPE && length === 8 && text.startsWith("payloads", start)
            ? "payloads"
            : role === ROLE_PAYLOAD && length === 4 && text.startsWith("size", start)
              ? "size"
              : "";
      } else if (expectName) {
        expectName = false;
        let name: string;
        if (escaped) {
          try {
            name = JSON.parse(text.slice(start - 1, end + 1)) as string;
          } catch {
            return "an invalid escape in a member name";
          }
        } else {
          name = text.slice(start, end);
        }
        const seen = names[depth - 1];
        if (seen === undefined) {
          names[depth - 1] = [name];
        } else if (Array.isArray(seen)) {
          if (seen.includes(name)) return `a duplicate member name ${JSON.stringify(name)}`;
          if (seen.length < 16) seen.push(name);
          else names[depth - 1] = new Set([...seen, name]);
        } else {
          if (seen.has(name)) return `a duplicate member name ${JSON.stringify(name)}`;
          seen.add(name);
        }
        current[depth - 1] = name;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth >= JSON_MAX_DEPTH) return `nesting deeper than ${JSON_MAX_DEPTH}`;
      const isObject = c === 0x7b;
      let role = ROLE_NONE;
      if (envelope) {
        if (depth === 0) role = isObject ? ROLE_ENVELOPE : ROLE_NONE;
        else if (roles[depth - 1] === ROLE_ENVELOPE && !isObject && current[depth - 1] === "payloads") role = ROLE_PAYLOADS;
        else if (roles[depth - 1] === ROLE_PAYLOADS && isObject) role = ROLE_PAYLOAD;
      }
      kinds[depth] = isObject ? 1 : 2;
      roles[depth] = role;
      names[depth] = undefined;
      current[depth] = "";
      depth++;
      expectName = isObject;
      inObject = isObject;
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (depth === 0) return "a closing bracket without an opening one";
      depth--;
      names[depth] = undefined; // not kept past the container
      expectName = false;
      inObject = depth > 0 && kinds[depth - 1] === 1;
      i++;
    } else if (c >= 0x61 && c <= 0x7a) {
      // true, false, null (JSON.parse checks the spelling; NaN and Infinity are refused by it)
      while (i < n && text.charCodeAt(i) >= 0x61 && text.charCodeAt(i) <= 0x7a) i++;
    } else {
      // Anything else is outside the grammar: JSON.parse names it.
      return undefined;
    }
  }
  return undefined;
}

/** Why bytes or text cannot be read as strict JSON; `value` when they can. */
export type StrictJson =
  | { ok: true; value: unknown }
  /**
   * `value` is there when the text is strict JSON but an integer field of the envelope is
   * written in another form (rule 9): a schema failure (`ERROR_NOT_ENVELOPE`), not a JSON one.
   */
  | { ok: false; reason: string; cause?: unknown; value?: unknown };

/**
 * Reads `input` as strict JSON (reader rules 8, and 9 with `envelope`): bytes must be UTF-8,
 * strictly (a fatal decoder that keeps a BOM, so it is refused), then the text is scanned by
 * {@link strictJsonReason} and parsed by `JSON.parse`.
 */
export function parseStrictJson(input: string | Uint8Array, mode: StrictJsonMode = {}): StrictJson {
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else {
    try {
      text = strictUtf8.decode(input);
    } catch (e) {
      return { ok: false, reason: "not UTF-8", cause: e };
    }
  }
  // Decoded bytes are well-formed (the decoder is fatal); text may hold a raw lone surrogate.
  // The integer rule is checked last: the value of sound JSON is kept for the caller.
  const envelope = mode.envelope === true;
  const loneSurrogate = (): string | undefined => (typeof input === "string" && hasLoneSurrogate(text) ? "a lone surrogate in the text" : undefined);
  let integer: IntegerForm = {};
  // The full scan, for the first fault in the text (what every verdict names); it also redoes
  // the integer rule (a counting scan stops at an escaped name).
  const full = (): StrictJson | undefined => {
    integer = {};
    const reason = scan(text, envelope, integer) ?? loneSurrogate();
    return reason === undefined ? undefined : { ok: false, reason };
  };
  // First a scan that counts member names instead of comparing them (no name is sliced out):
  // the parsed value holding as many members says there is no duplicate. Any fault, or a
  // count that differs, and the full scan decides, so every verdict is the full scan's.
  const counted: Counted = { members: 0, escapedName: false };
  const quick = scan(text, envelope, integer, counted) ?? loneSurrogate();
  if (quick !== undefined || counted.escapedName) {
    const failed = full();
    if (failed !== undefined) return failed;
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    return full() ?? { ok: false, reason: `not JSON: ${e instanceof Error ? e.message : String(e)}`, cause: e };
  }
  if (!counted.escapedName && membersOf(value) !== counted.members) {
    const failed = full();
    if (failed !== undefined) return failed;
  }
  return integer.reason === undefined ? { ok: true, value } : { ok: false, reason: integer.reason, value };
}

/** Members of every object in a parsed JSON value (a duplicate name in the text leaves one). */
function membersOf(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v === "object" && v !== null) n += membersOf(v);
    }
    return n;
  }
  for (const key in value) {
    // Own members only: a polluted Object.prototype must not make up for a duplicate.
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    n++;
    const v: unknown = (value as Record<string, unknown>)[key];
    if (typeof v === "object" && v !== null) n += membersOf(v);
  }
  return n;
}
