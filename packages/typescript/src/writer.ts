/**
 * Writers are strict (schema/README.md, rule 12): what this runtime is about to publish is
 * checked against the v1 schema as a writer (the generated ajv validator of
 * `@natsbridge/types`, without `reader: true`: enums closed, UUID ids, the timestamp form,
 * non-empty `send_to` / `sender_name`) before anything is uploaded or published, and refused
 * with SERIALIZATION_ERROR (`ERROR_WRITER_RULE`) naming the field. The compiled validator
 * costs about a microsecond on a one-payload envelope; smartsend runs it once per caller part
 * (subject, options, payload names and types with the default metadata: the verdict on the
 * same part is the last one, `send.ts`), every other writer on every envelope.
 */
import { ERROR_APPLICATION, ERROR_WRITER_RULE, validateErrorResponseV1, validateMsgEnvelopeV1, type Validated, type ValidationIssue } from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";

/** `/payloads/0/dataname` → `payloads[0].dataname`; the root is `the envelope`. */
function fieldOf(path: string): string {
  if (path === "") return "";
  return path
    .slice(1)
    .split("/")
    .map((part, i) => (/^[0-9]+$/.test(part) ? `[${part}]` : `${i === 0 ? "" : "."}${part.replace(/~1/g, "/").replace(/~0/g, "~")}`))
    .join("");
}

function valueAt(root: unknown, path: string): unknown {
  let v = root;
  if (path === "") return v;
  for (const part of path.slice(1).split("/")) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return v;
}

function shown(value: unknown): string {
  if (typeof value !== "string") return "";
  const text = JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return ` (got ${text})`;
}

function describeIssues(root: unknown, issues: ValidationIssue[]): string {
  return issues
    .slice(0, 3)
    .map((i) => {
      const field = fieldOf(i.path);
      return field === "" ? i.message : `\`${field}\` ${i.message}${shown(valueAt(root, i.path))}`;
    })
    .join("; ");
}

function refuse(what: string, value: unknown, checked: Validated<unknown>, correlationId: string | undefined): void {
  if (checked.ok) return;
  const first = checked.issues[0];
  const named = first === undefined ? undefined : fieldOf(first.path);
  throw new NatsBridgeError(ERROR_WRITER_RULE, `${what} breaks the v1 writer rules: ${describeIssues(value, checked.issues)}`, {
    correlationId,
    // A payload's own field names the payload.
    dataname: named !== undefined && named.startsWith("payloads[") ? datanameAt(value, first!.path) : undefined,
  });
}

function datanameAt(root: unknown, path: string): string | undefined {
  const m = /^\/payloads\/([0-9]+)/.exec(path);
  const name = m === null ? undefined : valueAt(root, `/payloads/${m[1]}/dataname`);
  return typeof name === "string" ? name : undefined;
}

/** Throws SERIALIZATION_ERROR unless `envelope` is what a v1 writer may publish. */
export function checkEnvelopeToWrite(envelope: unknown, correlationId?: string): void {
  refuse("the envelope", envelope, validateMsgEnvelopeV1(envelope), correlationId);
}

/**
 * Throws SERIALIZATION_ERROR unless `response` is an `error_response_v1` a v1 writer may
 * publish: the schema, and `error.application_code` present exactly when `error.code` is
 * APPLICATION_ERROR.
 */
export function checkErrorResponseToWrite(response: unknown, correlationId?: string): void {
  refuse("the error response", response, validateErrorResponseV1(response), correlationId);
  const error = (response as { error: { code: string; application_code?: unknown } }).error;
  const app = error.application_code !== undefined;
  if (app !== (error.code === ERROR_APPLICATION)) {
    throw new NatsBridgeError(
      ERROR_WRITER_RULE,
      app
        ? `the error response breaks the v1 writer rules: \`error.application_code\` is only for code ${ERROR_APPLICATION}, not ${error.code}`
        : `the error response breaks the v1 writer rules: code ${ERROR_APPLICATION} needs \`error.application_code\``,
      { correlationId },
    );
  }
}
