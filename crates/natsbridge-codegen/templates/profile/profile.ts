{{ preamble -}}
/**
 * The runtime profile of wire v1 (`schema/runtime_profile_v1.json`): every constant and
 * rule a runtime applies beyond the wire shapes. The Rust, Python, MicroPython and Julia
 * runtimes get the same names from the same file; the hand-written runtime never spells
 * these values itself.
 */

/** HTTP statuses: the listed ones and the inclusive ranges, less the exceptions. */
export interface StatusRule {
  readonly statuses: readonly number[];
  readonly ranges: readonly (readonly [number, number])[];
  readonly except: readonly number[];
}

/** Whether `rule` takes `status`. */
export function statusMatches(rule: StatusRule, status: number): boolean {
  return !rule.except.includes(status) && (rule.statuses.includes(status) || rule.ranges.some(([a, b]) => status >= a && status <= b));
}
{% for g in groups %}
// {{ g.name }}: {{ g.doc }}
{% for c in g.constants %}
/**
{%- for line in c.doc %}
 * {{ line }}
{%- endfor %}
 */
export const {{ c.name }}{% if c.rust_ty == "StatusRule" %}: StatusRule{% endif %} = {{ c.ts }};
{% endfor %}
{%- endfor %}
{%- for p in predicates %}
/** Whether `{{ p.konst }}` takes `status`. */
export function {{ p.camel }}(status: number): boolean {
  return statusMatches({{ p.konst }}, status);
}
{% endfor %}
