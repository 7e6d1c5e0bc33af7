/**
 * Where a JetStream replay starts: one grammar in every runtime and CLI (schema/README.md, rule
 * 14; the profile's `replay` group). As text, exact and case-sensitive, nothing trimmed:
 *
 * - `all` (START_ALL), the whole stream; `new` (START_NEW), only what is published from now on;
 * - a stream sequence, a decimal integer of 1 or more without sign or leading zeros (`42`);
 * - a duration back from now, one or more `<digits><unit>` groups with the units of
 *   DURATION_UNITS_MS (`250ms`, `90s`, `10m`, `1h30m`, `2d`), more than zero in all;
 * - a point in time, an RFC 3339 date-time with its offset (`2026-12-06T09:00:00Z`,
 *   `2026-12-06T18:00:00+09:00`, fractional seconds allowed).
 *
 * In TypeScript also a valid `Date` (a point in time) and an integer `number` of 1 or more (a
 * sequence). Anything else is INVALID_ARGUMENT (ERROR_BAD_OPTION) naming the value and the
 * accepted forms.
 */
import { DURATION_UNITS_MS, ERROR_BAD_OPTION, START_ALL, START_NEW } from "@natsbridge/types";
import { NatsBridgeError, shownValue } from "./errors.js";

/**
 * A parsed replay start: `{kind: "all"} | {kind: "new"} | {kind: "sequence", sequence} |
 * {kind: "time", time}` (the kinds `all` and `new` are START_ALL and START_NEW). A duration is
 * already a `time` (now minus the duration).
 */
export type Start = { kind: typeof START_ALL } | { kind: typeof START_NEW } | { kind: "sequence"; sequence: number } | { kind: "time"; time: Date };

/** The units, longest name first (`ms` before `m`), as a regex alternation. */
const UNITS = Object.keys(DURATION_UNITS_MS).sort((a, b) => b.length - a.length);
const UNIT_MS: Readonly<Record<string, number>> = DURATION_UNITS_MS;
const DURATION = new RegExp(`^(?:[0-9]+(?:${UNITS.join("|")}))+$`);
const DURATION_GROUP = new RegExp(`([0-9]+)(${UNITS.join("|")})`, "g");
const SEQUENCE = /^[1-9][0-9]*$/;
const DATE_TIME = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$/;
const DATE_ONLY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

/** The accepted forms, for messages. */
const FORMS =
  `\`${START_ALL}\`, \`${START_NEW}\`, a stream sequence (\`42\`), a duration back from now (${["250ms", "90s", "10m", "1h30m", "2d"].map((d) => `\`${d}\``).join(", ")}; units ${Object.keys(DURATION_UNITS_MS).join(", ")}) ` +
  "or an RFC 3339 time with its offset (`2026-12-06T09:00:00Z`, `2026-12-06T18:00:00+09:00`)";

function refuse(value: unknown, why: string, where: string): NatsBridgeError {
  const stop = why.endsWith("?") ? "" : ".";
  return new NatsBridgeError(ERROR_BAD_OPTION, `reading the replay start ${shownValue(value)}${where === "" ? "" : ` (${where})`}: ${why}${stop} Give ${FORMS}`);
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function dateTime(text: string, where: string): Date {
  const m = DATE_TIME.exec(text);
  if (m === null) throw refuse(text, "not a start", where);
  const [, y, mo, d, h, mi, s, frac, offset] = m;
  if (offset === undefined) {
    throw refuse(text, "the time has no UTC offset, so it could be read in any time zone; add `Z` (UTC) or the offset, e.g. `+09:00`", where);
  }
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const monthDays = month >= 1 && month <= 12 ? (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1]!) : 0;
  if (month < 1 || month > 12 || day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) {
    throw refuse(text, "not a valid date and time", where);
  }
  let offsetMinutes = 0;
  if (offset !== "Z") {
    const oh = Number(offset.slice(1, 3));
    const om = Number(offset.slice(4, 6));
    if (oh > 23 || om > 59) throw refuse(text, `the offset \`${offset}\` is not valid`, where);
    offsetMinutes = (offset.startsWith("-") ? -1 : 1) * (oh * 60 + om);
  }
  const ms = frac === undefined ? 0 : Math.floor(Number(`0${frac}`) * 1000);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0 to 99 as 1900 to 1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return new Date(date.getTime() - offsetMinutes * DURATION_UNITS_MS.m);
}

function duration(text: string, where: string): number {
  let total = 0;
  for (const g of text.matchAll(DURATION_GROUP)) total += Number(g[1]) * UNIT_MS[g[2]!]!;
  if (!Number.isSafeInteger(total)) throw refuse(text, "the duration is too long", where);
  if (total === 0) throw refuse(text, `a duration of zero is now: use \`${START_NEW}\` for what is published from now on`, where);
  return total;
}

function parseText(text: string, now: Date, where: string): Start {
  if (text === START_ALL) return { kind: START_ALL };
  if (text === START_NEW) return { kind: START_NEW };
  if (SEQUENCE.test(text)) {
    const sequence = Number(text);
    if (!Number.isSafeInteger(sequence)) throw refuse(text, "the stream sequence is too large", where);
    return { kind: "sequence", sequence };
  }
  if (DURATION.test(text)) return { kind: "time", time: new Date(now.getTime() - duration(text, where)) };
  if (DATE_ONLY.test(text)) {
    throw refuse(text, `a date alone has no time and no UTC offset; write \`${text}T00:00:00Z\` (or with your offset)`, where);
  }
  if (/^[0-9]{4}-/.test(text)) return { kind: "time", time: dateTime(text, where) };
  const lower = text.toLowerCase();
  if (lower === START_ALL || lower === START_NEW) throw refuse(text, `not a start (it is case-sensitive): did you mean \`${lower}\`?`, where);
  if (text === "0") throw refuse(text, `stream sequences start at 1: use \`${START_ALL}\` for the whole stream`, where);
  if (text.trim() !== text) throw refuse(text, "not a start (spaces are not trimmed)", where);
  return refuseText(text, where);
}

function refuseText(text: string, where: string): never {
  if (text === "") throw refuse(text, "the start is empty", where);
  if (/^[+-]/.test(text)) throw refuse(text, "a start has no sign (a duration already counts back from now)", where);
  if (/^0[0-9]+$/.test(text)) throw refuse(text, "a stream sequence has no leading zeros", where);
  if (/\s/.test(text)) throw refuse(text, "not a start (no spaces inside a duration: `5m`, not `5 m`)", where);
  throw refuse(text, "not a start", where);
}

/**
 * Parses a replay start (see the module's grammar): `"all"`, `"new"`, `"42"` or `42`, `"10m"`,
 * `"2026-12-06T09:00:00Z"` or a `Date`. A duration counts back from `now` (default: the current
 * time). INVALID_ARGUMENT for anything else, naming the value and the accepted forms.
 */
export function parseStart(value: unknown, now?: Date): Start {
  if (now !== undefined && !(now instanceof Date && !Number.isNaN(now.getTime()))) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling parseStart: \`now\` must be a valid Date, got ${shownValue(now)}`);
  }
  return startOf(value, "", now);
}

/** {@link parseStart} for `where` (`option \`start\` of EnvelopeConsumer.create`, `--since`), named in the message. */
export function startOf(value: unknown, where: string, now: Date = new Date()): Start {
  if (typeof value === "string") return parseText(value, now, where);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw refuse(value, "the Date is invalid", where);
    return { kind: "time", time: new Date(value.getTime()) };
  }
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 1) return { kind: "sequence", sequence: value };
    if (value === 0) throw refuse(value, `stream sequences start at 1: use \`${START_ALL}\` for the whole stream`, where);
    throw refuse(value, "a number is a stream sequence, an integer of 1 or more", where);
  }
  throw refuse(value, `not a start: got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`, where);
}
