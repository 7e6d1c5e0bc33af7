/**
 * One error class for everything that can go wrong: a {@link NatsBridgeError} carries the
 * generated error code, the correlation id of the exchange and the payload's dataname.
 * Nothing a public call is given or reads from the network makes it throw anything else. An
 * error a responder reported in an `error_response_v1` is one too, marked
 * {@link NatsBridgeError.remote}; an application's own failure is an {@link ApplicationError}
 * (code APPLICATION_ERROR, its own code in {@link NatsBridgeError.applicationCode}).
 */
import { ERROR_APPLICATION, ERROR_BAD_OPTION, type ErrorBody, type ErrorCode } from "@natsbridge/types";

export type { ErrorCode };

export interface ErrorContext {
  correlationId?: string | undefined;
  dataname?: string | undefined;
  cause?: unknown;
}

/** The pattern of an application's own error code (the schema's `ApplicationCode`). */
const APPLICATION_CODE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** `value` as text for a message, whatever it is (a Symbol, an object whose `toString` throws). */
export function shownValue(value: unknown): string {
  try {
    if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    if (typeof value === "symbol") return value.toString();
    if (typeof value === "function") return `a function${value.name === "" ? "" : ` (${value.name})`}`;
    if (typeof value === "bigint") return `${value}n`;
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date" : `the Date ${value.toISOString()}`;
    if (Array.isArray(value)) return `an array (${value.length} item${value.length === 1 ? "" : "s"})`;
    if (typeof value === "object" && value !== null) return "an object";
    return String(value);
  } catch {
    return "a value that cannot be shown";
  }
}

function contextOf(context: unknown): ErrorContext {
  return typeof context === "object" && context !== null ? (context as ErrorContext) : {};
}

function text(value: unknown): string {
  return typeof value === "string" ? value : shownValue(value);
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
  /**
   * The application's own code of an APPLICATION_ERROR (`UNKNOWN_COLUMN`), as the responder
   * sent it; `undefined` for every other error.
   */
  readonly applicationCode: string | undefined;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    checkConstruction(code, message, context);
    const ctx = contextOf(context);
    super(text(message), ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.name = "NatsBridgeError";
    this.code = code;
    this.correlationId = typeof ctx.correlationId === "string" ? ctx.correlationId : undefined;
    this.dataname = typeof ctx.dataname === "string" ? ctx.dataname : undefined;
    this.remote = false;
    this.applicationCode = undefined;
  }

  /**
   * The error a responder reported in an `error_response_v1`'s `error` object: its code
   * (kept as sent), `application_code`, message and `details.dataname`, with `correlationId`
   * (the request's), marked {@link remote}; an APPLICATION_ERROR is an {@link ApplicationError}.
   * A 1.0 responder's message repeated its code and payload name (`CODE: … (payload `x`)`):
   * they are taken off, so each is said once.
   */
  static fromErrorBody(body: ErrorBody, correlationId: string | undefined): NatsBridgeError {
    const rawName = body.details?.["dataname"];
    const dataname = typeof rawName === "string" ? rawName : undefined;
    let message = body.message;
    if (message.startsWith(`${body.code}: `)) message = message.slice(body.code.length + 2);
    if (dataname !== undefined && message.endsWith(` (payload \`${dataname}\`)`)) message = message.slice(0, -` (payload \`${dataname}\`)`.length);
    let e: NatsBridgeError;
    if (body.code === ERROR_APPLICATION) {
      const { correlation_id: _c, dataname: _d, ...details } = body.details ?? {};
      // The reader validator checked `application_code` against its pattern; a responder that
      // left it out still gives an ApplicationError, without an application code.
      const app = typeof body.application_code === "string" && APPLICATION_CODE.test(body.application_code) ? body.application_code : "A";
      e = new ApplicationError(app, message, { details, ...(correlationId === undefined ? {} : { correlationId }), ...(dataname === undefined ? {} : { dataname }) });
      (e as { applicationCode: string | undefined }).applicationCode = app === body.application_code ? app : undefined;
    } else {
      e = new NatsBridgeError(body.code as ErrorCode, message, { correlationId, dataname });
    }
    (e as { remote: boolean }).remote = true;
    return e;
  }

  /**
   * The error as the wire's `error` object `{code, application_code?, message, details}`: the
   * message is {@link messageWithCauses} (the code and the payload name travel in their own
   * fields, so the requester says each once); `details` holds `correlation_id` and `dataname`
   * when known.
   */
  toErrorBody(): ErrorBody {
    const details: Record<string, unknown> = {};
    if (this.correlationId !== undefined) details["correlation_id"] = this.correlationId;
    if (this.dataname !== undefined) details["dataname"] = this.dataname;
    const body: ErrorBody = { code: this.code, message: this.messageWithCauses(), details };
    if (this.applicationCode !== undefined) {
      return { code: this.code, application_code: this.applicationCode, message: body.message, details };
    }
    return body;
  }

  /** Sets the correlation id unless one is already set; returns `this`. */
  withCorrelationId(correlationId: string | undefined): this {
    if (this.correlationId === undefined && typeof correlationId === "string" && correlationId !== "") {
      this.correlationId = correlationId;
    }
    return this;
  }

  /** Sets the dataname unless one is already set; returns `this`. */
  withDataname(dataname: string | undefined): this {
    if (this.dataname === undefined && typeof dataname === "string") this.dataname = dataname;
    return this;
  }

  /** The message, then each cause once (`message: cause: cause`), without the code or the payload name. */
  messageWithCauses(): string {
    return this.message + causesOf(this);
  }

  /** {@link toString}, then each cause once. */
  report(): string {
    return this.toString() + causesOf(this);
  }

  /**
   * `CODE: message (payload `name`)` (the payload part when known); an application error names
   * its own code too (`APPLICATION_ERROR UNKNOWN_COLUMN: …`), and a remote one says so
   * (`CODE from the responder: …`).
   */
  override toString(): string {
    const app = this.applicationCode === undefined ? "" : ` ${this.applicationCode}`;
    const remote = this.remote ? " from the responder" : "";
    const payload = this.dataname === undefined ? "" : ` (payload \`${this.dataname}\`)`;
    return `${this.code}${app}${remote}: ${this.message}${payload}`;
  }

  /**
   * The CLI's error line: `{"error", "application_code"?, "correlation_id", "message"}`
   * (`null` when the id is unknown; `application_code` only for an application error), plus
   * `"remote": true` for a {@link remote} error, as every CLI prints it.
   */
  toJSON(): { error: ErrorCode | (string & {}); application_code?: string; correlation_id: string | null; message: string; remote?: true } {
    const head = this.applicationCode === undefined ? { error: this.code } : { error: this.code, application_code: this.applicationCode };
    const line = { ...head, correlation_id: this.correlationId ?? null, message: this.report() };
    return this.remote ? { ...line, remote: true } : line;
  }
}

const CONTEXT_KEYS: readonly string[] = ["correlationId", "dataname", "cause"];

/** INVALID_ARGUMENT for a NatsBridgeError made with a code, message or context of the wrong kind. */
function checkConstruction(code: unknown, message: unknown, context: unknown): void {
  const where = "new NatsBridgeError";
  let why: string | undefined;
  if (typeof code !== "string" || code === "") why = `\`code\` must be an error code such as "TIMEOUT", got ${shownValue(code)}`;
  else if (typeof message !== "string") why = `\`message\` must be a string, got ${shownValue(message)}`;
  else if (context !== undefined && (typeof context !== "object" || context === null || Array.isArray(context))) {
    why = `\`context\` must be an object ({ correlationId, dataname, cause }), got ${shownValue(context)}`;
  } else if (context !== undefined) {
    const c = context as Record<string, unknown>;
    const unknown = Object.keys(c).find((k) => !CONTEXT_KEYS.includes(k));
    if (unknown !== undefined) why = `unknown option \`${unknown}\` in \`context\` (known options: ${CONTEXT_KEYS.map((k) => `\`${k}\``).join(", ")})`;
    else if (c["correlationId"] !== undefined && typeof c["correlationId"] !== "string") why = `\`context.correlationId\` must be a string, got ${shownValue(c["correlationId"])}`;
    else if (c["dataname"] !== undefined && typeof c["dataname"] !== "string") why = `\`context.dataname\` must be a string, got ${shownValue(c["dataname"])}`;
  }
  if (why !== undefined) throw new NatsBridgeError(ERROR_BAD_OPTION, `calling ${where}: ${why}`);
}

/** `text` without the user info of any URL in it (`http://user:password@host` → `http://host`): never a password in a message. */
export function withoutCredentials(text: string): string {
  return text.includes("@") ? text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, "$1") : text;
}

function causesOf(error: Error): string {
  let out = "";
  const seen = new Set<unknown>([error]);
  let cause: unknown = error.cause;
  while (cause !== undefined && cause !== null && !seen.has(cause)) {
    seen.add(cause);
    let part: string;
    try {
      part = cause instanceof Error ? cause.message : typeof cause === "string" ? cause : shownValue(cause);
    } catch {
      part = "a cause that cannot be shown";
    }
    out += `: ${withoutCredentials(part)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}

/** The options of {@link ApplicationError}. */
export interface ApplicationErrorOptions {
  /** More about the failure, sent in the error response's `details` (beside `correlation_id` and `dataname`). */
  details?: Record<string, unknown>;
  /** The payload the failure is about. */
  dataname?: string;
  correlationId?: string;
  cause?: unknown;
}

const APPLICATION_ERROR_OPTIONS: readonly string[] = ["details", "dataname", "correlationId", "cause"];

/**
 * A failure of the responder's application, with the application's own code
 * (`new ApplicationError("UNKNOWN_COLUMN", "no column `x`")`): `serve` and `smartreplyError`
 * answer it as an APPLICATION_ERROR with `application_code`, and the requester's
 * `smartrequest` throws it back as an ApplicationError (`remote: true`) with the same
 * `applicationCode`. A code outside `^[A-Za-z][A-Za-z0-9_.:-]{0,63}$` is INVALID_ARGUMENT.
 */
export class ApplicationError extends NatsBridgeError {
  /** What the application added, sent in the error response's `details`. */
  readonly details: Record<string, unknown>;

  constructor(applicationCode: string, message: string, options: ApplicationErrorOptions = {}) {
    const where = "new ApplicationError";
    if (typeof applicationCode !== "string" || !APPLICATION_CODE.test(applicationCode)) {
      throw new NatsBridgeError(
        ERROR_BAD_OPTION,
        `creating an application error with the code ${shownValue(applicationCode)} (${where}): an application code is a letter, then up to 63 letters, digits, \`_\`, \`.\`, \`:\` or \`-\`. Write it as \`UNKNOWN_COLUMN\` or \`orders.not_found\``,
      );
    }
    if (typeof message !== "string") {
      throw new NatsBridgeError(ERROR_BAD_OPTION, `creating the application error \`${applicationCode}\` (${where}): the message must be a string, got ${shownValue(message)}`);
    }
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new NatsBridgeError(ERROR_BAD_OPTION, `the options of ${where} must be an object ({ details, dataname, correlationId }), got ${shownValue(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!APPLICATION_ERROR_OPTIONS.includes(key)) {
        throw new NatsBridgeError(ERROR_BAD_OPTION, `unknown option \`${key}\` of ${where} (known options: ${APPLICATION_ERROR_OPTIONS.map((k) => `\`${k}\``).join(", ")})`);
      }
    }
    const { details, dataname, correlationId } = options;
    if (details !== undefined && (typeof details !== "object" || details === null || Array.isArray(details))) {
      throw new NatsBridgeError(ERROR_BAD_OPTION, `option \`details\` of ${where} must be an object, got ${shownValue(details)}`);
    }
    for (const [name, value] of [["dataname", dataname], ["correlationId", correlationId]] as const) {
      if (value !== undefined && typeof value !== "string") {
        throw new NatsBridgeError(ERROR_BAD_OPTION, `option \`${name}\` of ${where} must be a string, got ${shownValue(value)}`);
      }
    }
    super(ERROR_APPLICATION, message, { correlationId, dataname, cause: options.cause });
    this.name = "ApplicationError";
    (this as { applicationCode: string | undefined }).applicationCode = applicationCode;
    this.details = { ...details };
  }
}

/** `e` as a NatsBridgeError: kept as is when it already is one, otherwise wrapped with `code`. */
export function asBridgeError(e: unknown, code: ErrorCode, message: string, context: ErrorContext = {}): NatsBridgeError {
  if (e instanceof NatsBridgeError) {
    return e.withCorrelationId(context.correlationId).withDataname(context.dataname);
  }
  return new NatsBridgeError(code, message, { ...context, cause: e });
}
