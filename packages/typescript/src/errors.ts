/**
 * One error class for everything that can go wrong: a {@link NatsBridgeError} carries the
 * generated error code, the correlation id of the exchange and the payload's dataname.
 * Nothing from the network makes a public call throw anything else. An error a responder
 * reported in an `error_response_v1` is one too, marked {@link NatsBridgeError.remote}.
 */
import type { ErrorBody, ErrorCode } from "@natsbridge/types";

export type { ErrorCode };

export interface ErrorContext {
  correlationId?: string | undefined;
  dataname?: string | undefined;
  cause?: unknown;
}

export class NatsBridgeError extends Error {
  /**
   * The machine-readable code (the generated `ErrorCode` union). Errors this process raises
   * always use a known code; a {@link remote} error keeps the responder's code as sent, which
   * may be one a newer schema added (the generated types keep enums open the same way).
   */
  readonly code: ErrorCode | (string & {});
  /** The correlation id of the message being sent or received, when known. */
  correlationId: string | undefined;
  /** The payload the failure is about, when it is about one. */
  dataname: string | undefined;
  /**
   * True when the peer reported this error (an `error_response_v1` answered a request, see
   * `smartreplyError`) rather than this process running into it.
   */
  readonly remote: boolean;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = "NatsBridgeError";
    this.code = code;
    this.correlationId = context.correlationId;
    this.dataname = context.dataname;
    this.remote = false;
  }

  /**
   * The error a responder reported in an `error_response_v1`'s `error` object: its code
   * (kept as sent), message and `details.dataname`, with `correlationId` (the request's),
   * marked {@link remote}.
   */
  static fromErrorBody(body: ErrorBody, correlationId: string | undefined): NatsBridgeError {
    const name = body.details?.["dataname"];
    const e = new NatsBridgeError(body.code as ErrorCode, body.message, {
      correlationId,
      dataname: typeof name === "string" ? name : undefined,
    });
    (e as { remote: boolean }).remote = true;
    return e;
  }

  /**
   * The error as the wire's `error` object `{code, message, details}`: the message is
   * {@link report}, `details` holds `correlation_id` and `dataname` when known.
   */
  toErrorBody(): ErrorBody {
    const details: Record<string, unknown> = {};
    if (this.correlationId !== undefined) details["correlation_id"] = this.correlationId;
    if (this.dataname !== undefined) details["dataname"] = this.dataname;
    return { code: this.code, message: this.report(), details };
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

  /** `CODE: message (payload `name`)`; a remote error reads `CODE: the responder answered: message …`. */
  override toString(): string {
    return `${this.code}: ${this.remote ? "the responder answered: " : ""}${this.message}${this.dataname === undefined ? "" : ` (payload \`${this.dataname}\`)`}`;
  }

  /**
   * The CLI's error line: `{"error", "correlation_id", "message"}` (`null` when the id is
   * unknown), plus `"remote": true` for a {@link remote} error, as every CLI prints it.
   */
  toJSON(): { error: ErrorCode | (string & {}); correlation_id: string | null; message: string; remote?: true } {
    const line = { error: this.code, correlation_id: this.correlationId ?? null, message: this.report() };
    return this.remote ? { ...line, remote: true } : line;
  }
}

/** `e` as a NatsBridgeError: kept as is when it already is one, otherwise wrapped with `code`. */
export function asBridgeError(e: unknown, code: ErrorCode, message: string, context: ErrorContext = {}): NatsBridgeError {
  if (e instanceof NatsBridgeError) {
    return e.withCorrelationId(context.correlationId).withDataname(context.dataname);
  }
  return new NatsBridgeError(code, message, { ...context, cause: e });
}
