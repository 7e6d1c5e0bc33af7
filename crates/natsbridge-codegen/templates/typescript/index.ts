{{ preamble }}
/**
 * {{ title }}
 *
 * Enum-typed fields are open: known values are listed for autocompletion, but any
 * string is accepted, so a reader never rejects a value a newer writer added.
 * Unknown properties are kept (index signature), so relaying never drops them.
 * `parseX` is the reader's check (unknown enum values accepted); `validateX` / `isX` check
 * what a v1 writer must produce (`{ reader: true }` relaxes enums the same way).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { OPEN_ENUMS, SCHEMA } from "./schema.js";
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

/** The schema a reader validates with: enum types keep `type: string` but lose `enum`. */
function readerSchema(): object {
  const copy = JSON.parse(JSON.stringify(SCHEMA)) as { $id: string; definitions: Record<string, Record<string, unknown>> };
  for (const name of OPEN_ENUMS) {
    const definition = copy.definitions[name];
    if (definition !== undefined) {
      delete definition["enum"];
    }
  }
  copy.$id = SCHEMA.$id.replace(/\.json$/, ".reader.json");
  return copy;
}
const READER_SCHEMA_ID = SCHEMA.$id.replace(/\.json$/, ".reader.json");

// Made on first use, so importing the package costs nothing and compiles nothing (a page
// under a Content-Security-Policy without 'unsafe-eval' can import it).
let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  if (ajvInstance === undefined) {
    ajvInstance = new Ajv({ allErrors: true, strict: false, validateSchema: false });
    ajvInstance.addSchema(SCHEMA as unknown as object);
    ajvInstance.addSchema(readerSchema());
  }
  return ajvInstance;
}
const validators = new Map<string, ValidateFunction>();

function validatorFor(name: string, reader: boolean): ValidateFunction {
  const key = `${reader ? "reader" : "writer"}:${name}`;
  let v = validators.get(key);
  if (v === undefined) {
    v = ajv().compile({ $ref: `${reader ? READER_SCHEMA_ID : SCHEMA.$id}#/definitions/${name}` });
    validators.set(key, v);
  }
  return v;
}

/** `reader: true` accepts enum values this schema version does not know. */
export interface ValidateOptions {
  reader?: boolean;
}

function issues(errors: ErrorObject[] | null | undefined): ValidationIssue[] {
  return (errors ?? []).map((e) => ({ path: e.instancePath, keyword: e.keyword, message: e.message ?? e.keyword }));
}

/** Validates `value` against the named schema type. */
export function validate<T>(typeName: string, value: unknown, options: ValidateOptions = {}): Validated<T> {
  const v = validatorFor(typeName, options.reader ?? false);
  return v(value) ? { ok: true, value: value as T } : { ok: false, issues: issues(v.errors) };
}
{% for r in roots %}
/** Validates a value as a {{ r.name }}. */
export function validate{{ r.name }}(value: unknown, options: ValidateOptions = {}): Validated<{{ r.name }}> {
  return validate<{{ r.name }}>("{{ r.schema_name }}", value, options);
}

/** Type guard: true when `value` is a valid {{ r.name }}. */
export function is{{ r.name }}(value: unknown): value is {{ r.name }} {
  return validate{{ r.name }}(value).ok;
}

/** Parses JSON text and validates it as a {{ r.name }} (as a reader: unknown enum values are
 * accepted); throws SchemaValidationError. */
export function parse{{ r.name }}(text: string): {{ r.name }} {
  const result = validate{{ r.name }}(JSON.parse(text), { reader: true });
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
