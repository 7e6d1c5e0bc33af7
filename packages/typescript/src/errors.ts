/**
 * One error class for everything that can go wrong: a {@link NatsBridgeError} carries the
 * generated error code, the correlation id of the exchange and the payload's dataname.
 * Nothing from the network makes a public call throw anything else.
 */
import type { ErrorCode } from "@natsbridge/types";

export type { ErrorCode };

export interface ErrorContext {
  correlationId?: string | undefined;
  dataname?: string | undefined;
  cause?: unknown;
}

export class NatsBridgeError extends Error {
  /** The machine-readable code (the generated `ErrorCode` union). */
  readonly code: ErrorCode;
  /** The correlation id of the message being sent or received, when known. */
  correlationId: string | undefined;
  /** The payload the failure is about, when it is about one. */
  dataname: string | undefined;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = "NatsBridgeError";
    this.code = code;
    this.correlationId = context.correlationId;
    this.dataname = context.dataname;
  }

  /** Sets the correlation id unless one is already set; returns `this`. */
  withCorrelationId(correlationId: string | undefined): this {
    if (this.correlationId === undefined && correlationId !== undefined && correlationId !== "") {
      this.correlationId = correlationId;
    }
    return this;
  }

  /** Sets the dataname unless one is already set; returns `this`. */
  withDataname(dataname: string | undefined): this {
    if (this.dataname === undefined && dataname !== undefined) this.dataname = dataname;
    return this;
  }

  /** `CODE: message (payload `name`)`, then each cause once. */
  report(): string {
    let text = this.toString();
    const seen = new Set<unknown>([this]);
    let cause: unknown = this.cause;
    while (cause !== undefined && cause !== null && !seen.has(cause)) {
      seen.add(cause);
      text += `: ${cause instanceof Error ? cause.message : String(cause)}`;
      cause = cause instanceof Error ? cause.cause : undefined;
    }
    return text;
  }

  override toString(): string {
    return `${this.code}: ${this.message}${this.dataname === undefined ? "" : ` (payload \`${this.dataname}\`)`}`;
  }

  /** The CLI's error line: `{"error", "correlation_id", "message"}` (`null` when the id is unknown, as in Rust). */
  toJSON(): { error: ErrorCode; correlation_id: string | null; message: string } {
    return { error: this.code, correlation_id: this.correlationId ?? null, message: this.report() };
  }
}

/** `e` as a NatsBridgeError: kept as is when it already is one, otherwise wrapped with `code`. */
export function asBridgeError(e: unknown, code: ErrorCode, message: string, context: ErrorContext = {}): NatsBridgeError {
  if (e instanceof NatsBridgeError) {
    return e.withCorrelationId(context.correlationId).withDataname(context.dataname);
  }
  return new NatsBridgeError(code, message, { ...context, cause: e });
}
