/**
 * A small pluggable logger. Every record carries `correlation_id` (the type requires it) and
 * the stage it comes from (`serialize`, `upload`, `publish`, `receive`, `download`,
 * `deserialize`). The default logger drops everything; `setLogger(jsonLogger())` writes one
 * JSON object per record.
 */

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
  current = logger;
}

/** A logger writing one JSON line per record at or above `minLevel` (default: console.error, info). */
export function jsonLogger(minLevel: LogLevel = "info", write: (line: string) => void = (l) => console.error(l)): Logger {
  const min = LEVELS[minLevel];
  return (record) => {
    if (LEVELS[record.level] >= min) write(JSON.stringify({ time: new Date().toISOString(), ...record }));
  };
}

/** Emits one record; a logger that throws never breaks a send or receive. */
export function log(level: LogLevel, msg: string, correlationId: string, fields: Record<string, unknown> = {}): void {
  if (current === undefined) return;
  try {
    current({ ...fields, level, msg, correlation_id: correlationId });
  } catch {
    // logging must not change behaviour
  }
}
