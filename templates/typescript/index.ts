{{ preamble }}
/**
 * NATSBridge wire types: the envelope, its payloads and the error response.
 *
 * Enum-typed fields are open: known values are listed for autocompletion, but any
 * string is accepted, so a reader never rejects a value a newer writer added.
 * Unknown properties are kept (index signature), so relaying never drops them.
 * Use `parseX` / `validateX` / `isX` to check a value received from the network.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { SCHEMA } from "./schema.js";
{% for e in enums %}
{{ e.doc }}export type {{ e.name }} = {{ e.union }};

/** Every {{ e.name }} value this schema version knows, in schema order. */
export const {{ e.values_const }} = [{{ e.values }}] as const;

/** True when `value` is a {{ e.name }} this schema version knows. */
export function isKnown{{ e.name }}(value: string): value is {{ e.name }} {
  return ({{ e.values_const }} as readonly string[]).includes(value);
}
{% endfor %}
{%- for a in aliases %}
{{ a.doc }}export type {{ a.name }} = {{ a.ty }};
{% endfor %}
{%- for s in structs %}
{{ s.doc }}export interface {{ s.name }} {
{%- for f in s.fields %}
{{ f.doc }}  {{ f.name }}{% if f.optional %}?{% endif %}: {{ f.ty }};
{%- endfor %}
{%- if s.open %}
  /** Properties this schema version does not declare are kept as they are. */
  [key: string]: unknown;
{%- endif %}
}
{% endfor %}
/** One way a value broke the schema. */
export interface ValidationIssue {
  /** JSON Pointer to the offending value (`""` for the root). */
  path: string;
  /** The schema keyword that failed, e.g. `required`, `pattern`, `type`. */
  keyword: string;
  message: string;
}

/** The outcome of validating a value. */
export type Validated<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/** Thrown by the `parseX` functions. */
export class SchemaValidationError extends Error {
  readonly issues: ValidationIssue[];
  constructor(typeName: string, issues: ValidationIssue[]) {
    super(`invalid ${typeName}: ` + issues.map((i) => `${i.path || "/"} ${i.message}`).join("; "));
    this.name = "SchemaValidationError";
    this.issues = issues;
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema(SCHEMA as unknown as object);
const validators = new Map<string, ValidateFunction>();

function validatorFor(name: string): ValidateFunction {
  let v = validators.get(name);
  if (v === undefined) {
    v = ajv.compile({ $ref: `${SCHEMA.$id}#/definitions/${name}` });
    validators.set(name, v);
  }
  return v;
}

function issues(errors: ErrorObject[] | null | undefined): ValidationIssue[] {
  return (errors ?? []).map((e) => ({ path: e.instancePath, keyword: e.keyword, message: e.message ?? e.keyword }));
}

/** Validates `value` against the named schema type. */
export function validate<T>(typeName: string, value: unknown): Validated<T> {
  const v = validatorFor(typeName);
  return v(value) ? { ok: true, value: value as T } : { ok: false, issues: issues(v.errors) };
}
{% for r in roots %}
/** Validates a value as a {{ r.name }}. */
export function validate{{ r.name }}(value: unknown): Validated<{{ r.name }}> {
  return validate<{{ r.name }}>("{{ r.schema_name }}", value);
}

/** Type guard: true when `value` is a valid {{ r.name }}. */
export function is{{ r.name }}(value: unknown): value is {{ r.name }} {
  return validate{{ r.name }}(value).ok;
}

/** Parses JSON text and validates it as a {{ r.name }}; throws SchemaValidationError. */
export function parse{{ r.name }}(text: string): {{ r.name }} {
  const result = validate{{ r.name }}(JSON.parse(text));
  if (!result.ok) {
    throw new SchemaValidationError("{{ r.schema_name }}", result.issues);
  }
  return result.value;
}

/** Serializes a {{ r.name }} to JSON text. */
export function dump{{ r.name }}(value: {{ r.name }}): string {
  return JSON.stringify(value);
}
{% endfor %}
