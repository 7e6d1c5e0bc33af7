{{ preamble }}
/**
 * The channels of {{ title }}: each address, its wildcard form, and a function that fills in
 * the parameters. A parameter value must be one subject token (non-empty, no `.`, `*`, `>`
 * or whitespace; INVALID_ARGUMENT otherwise); with `{ wildcard: true }` (subscribing,
 * replaying) it may also be `*`, any value.
 */
import { typed } from "@natsbridge/client";
{%- for c in channels %}

{% filter doc_wrapped("") %}{% if c.doc.is_empty() %}The `{{ c.key }}` channel.{% else %}{{ c.doc }}{% endif %}{% endfilter %}export const {{ c.upper }}_ADDRESS = {{ c.address }};

/** `{{ c.address_raw }}` with every parameter as the wildcard `*`. */
export const {{ c.upper }}_WILDCARD = {{ c.wildcard }};
{%- if let Some(stream) = c.stream %}

/** The JetStream stream that keeps this channel's messages. */
export const {{ c.upper }}_STREAM = {{ stream }};
{%- endif %}
{%- if c.params.is_empty() %}

/** The subject of `{{ c.address_raw }}`. */
export function {{ c.subject_fn }}(): string {
  return {{ c.address }};
}
{%- else %}

/** The parameters of `{{ c.address_raw }}`. */
export interface {{ c.params_type }} {
{%- for p in c.params %}
{{ p.doc|doc_wrapped("  ") }}  {{ p.field }}: {% if p.allowed.is_empty() %}string{% else %}{{ p.allowed|join(" | ") }}{% endif %};
{%- endfor %}
}

/** The subject of `{{ c.address_raw }}` for `params`; `{ wildcard: true }` lets a parameter be `*`. */
export function {{ c.subject_fn }}(params: {{ c.params_type }}, options: { wildcard?: boolean } = {}): string {
  const w = options.wildcard ?? false;
  return `{% for s in c.segments %}{% match s %}{% when SegmentView::Literal(t) %}{{ t }}{% when SegmentView::Param { name, field, allowed } %}{% if allowed.is_empty() %}${typed.token({{ name }}, params.{{ field }}, w)}{% else %}${typed.tokenOf({{ name }}, params.{{ field }}, [{{ allowed|join(", ") }}], w)}{% endif %}{% endmatch %}{% endfor %}`;
}
{%- endif %}
{%- endfor %}
