/**
 * A small pluggable logger. Every record carries `correlation_id` (the type requires it) and
 * the stage it comes from (`serialize`, `upload`, `publish`, `receive`, `download`,
 * `deserialize`). The default logger drops everything; `setLogger(jsonLogger())` writes one
 * JSON object per record.
 */

import { ERROR_BAD_OPTION } from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";
import { checkArgument, describe } from "./options.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogRecord {
  level: LogLevel;
  msg: string;
  correlation_id: string;
  stage?: string;
  [field: string]: unknown;
}

export type Logger = (record: LogRecord) => void;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let current: Logger | undefined;

/** Replaces the process-wide logger (`undefined` silences logging). */
export function setLogger(logger: Logger | undefined): void {
  checkArgument(logger, "function", "logger", "setLogger", true);
  current = logger;
}

/** A logger writing one JSON line per record at or above `minLevel` (default: console.error, info). */
export function jsonLogger(minLevel: LogLevel = "info", write: (line: string) => void = (l) => console.error(l)): Logger {
  checkLevel(minLevel, "minLevel", "jsonLogger");
  checkArgument(write, "function", "write", "jsonLogger");
  const min = LEVELS[minLevel];
  return (record) => {
    if (LEVELS[record.level] >= min) write(JSON.stringify({ time: new Date().toISOString(), ...record }));
  };
}

/** Emits one record; a logger that throws never breaks a send or receive. */
export function log(level: LogLevel, msg: string, correlationId: string, fields: Record<string, unknown> = {}): void {
  checkLevel(level, "level", "log");
  checkArgument(msg, "string", "msg", "log");
  checkArgument(correlationId, "string", "correlationId", "log");
  checkArgument(fields, "object", "fields", "log");
  if (current === undefined) return;
  try {
    current({ ...fields, level, msg, correlation_id: correlationId });
  } catch {
    // logging must not change behaviour
  }
}

/**
 * {@link log} for the runtime's own records, whose arguments are always well-formed: nothing
 * is checked, and nothing done at all when no logger is set (the hot paths call it per message).
 */
export function emit(level: LogLevel, msg: string, correlationId: string, fields: Record<string, unknown>): void {
  if (current === undefined) return;
  try {
    current({ ...fields, level, msg, correlation_id: correlationId });
  } catch {
    // logging must not change behaviour
  }
}

/** Whether a logger is set: a caller may skip building a record's fields when none is. */
export function logging(): boolean {
  return current !== undefined;
}

function checkLevel(level: unknown, name: string, where: string): void {
  if (typeof level !== "string" || !Object.prototype.hasOwnProperty.call(LEVELS, level)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `\`${name}\` of ${where} must be one of ${Object.keys(LEVELS).map((l) => JSON.stringify(l)).join(", ")}, got ${describe(level)}`);
  }
}
