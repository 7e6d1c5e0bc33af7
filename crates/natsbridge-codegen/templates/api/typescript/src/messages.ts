{% import "api/typescript/_macros.ts" as ts -%}
{#- A message's doc comment, saying how it travels. -#}
{% macro doc(m) -%}
{% filter doc_wrapped("") %}{% if m.doc.is_empty() %}The `{{ m.key }}` message.{% else %}{{ m.doc }}{% endif %}

Travels as the `{{ m.payload_type }}` payload `{{ m.name }}`.{% endfilter %}
{%- endmacro %}
{#- The payload a wrapper message's codec sends: its JSON body's, or its field's. -#}
{% macro encode(m, w) -%}
{% if w.json.is_some() %}{{ m.codec }}Body.encode(message.body).payload{% else %}[{{ m.name_lit }}, message.{{ w.field }}, "{{ m.payload_type }}"]{% endif %}
{%- endmacro -%}
{{ preamble }}
/**
 * The messages of {{ title }} and how each travels: one `msg_envelope_v1` payload named after
 * the message (its `dataname`) and, when it declares headers, NATS headers. A JSON message is
 * checked against its schema on both sides: SERIALIZATION_ERROR when sending a value the
 * schema refuses, DESERIALIZATION_ERROR when receiving one; an envelope without the payload is
 * INVALID_PAYLOAD_TYPE.
 */
{% call ts::import(client_imports) %}{% endcall %}
{%- if !type_imports.names.is_empty() %}
{% call ts::import(type_imports) %}{% endcall %}
{%- endif %}
{%- for m in messages %}
{%- if !m.union.is_empty() %}

{{ m.doc|doc_wrapped("") }}export type {{ m.ts_type }} ={% for (name, ty, _) in m.union %} | typed.Variant<{{ name }}, {{ ty }}>{% endfor %};

/** How `{{ m.ts_type }}` travels: each value as its own message, told apart by the payload's `dataname`. */
export const {{ m.codec }}: MessageCodec<{{ m.ts_type }}> = typed.unionCodec<{{ m.ts_type }}>([{% for (_, _, codec) in m.union %}{{ codec }}, {% endfor %}]);
{%- else if let Some(w) = m.wrapper %}
{%- if !m.headers.is_empty() %}

/** The headers of `{{ m.name }}`, as NATS headers on the wire. */
export interface {{ w.headers_type }} {
{%- for h in m.headers %}
{% filter doc_wrapped("  ") %}{{ h.doc }}{% if !h.doc.is_empty() %}

{% endif %}NATS header `{{ h.name }}`.{% endfilter %}  {{ h.field }}{% if !h.required %}?{% endif %}: {{ h.ts_type }};
{%- endfor %}
}
{%- endif %}

{% call doc(m) %}{% endcall %}export interface {{ m.ts_type }} {
  {{ w.field }}: {{ w.field_type }};
{%- if !m.headers.is_empty() %}
  headers: {{ w.headers_type }};
{%- endif %}
}
{%- if let Some(json) = w.json %}

const {{ m.codec }}Body: MessageCodec<{{ json.ty }}> = typed.jsonCodec<{{ json.ty }}>({{ m.name_lit }}, {{ json.validator }});
{%- endif %}

/** How `{{ m.name }}` travels: as the `{{ m.payload_type }}` payload `{{ m.name }}`{% if !m.headers.is_empty() %}, with its headers{% endif %}. */
export const {{ m.codec }}: MessageCodec<{{ m.ts_type }}> = {
  name: {{ m.name_lit }},
  payloadType: "{{ m.payload_type }}",
  encode(message: {{ m.ts_type }}): typed.Encoded {
    const headers: Record<string, string> = {};
{%- for h in m.headers %}
{%- if h.required %}
    headers[{{ h.wire }}] = typed.writeHeader({{ h.wire }}, "{{ h.kind }}", message.headers.{{ h.field }}, {{ m.name_lit }});
{%- else %}
    if (message.headers.{{ h.field }} !== undefined) {
      headers[{{ h.wire }}] = typed.writeHeader({{ h.wire }}, "{{ h.kind }}", message.headers.{{ h.field }}, {{ m.name_lit }});
    }
{%- endif %}
{%- endfor %}
{%- if let Some(c) = m.correlation %}
    return typed.correlate({ payload: {% call encode(m, w) %}{% endcall %}, headers }, {% call ts::correlation(c) %}{% endcall %}, message.{{ w.field }});
{%- else %}
    return { payload: {% call encode(m, w) %}{% endcall %}, headers };
{%- endif %}
  },
  decode(received: Received): {{ m.ts_type }} {
    return {
      {{ w.field }}: {% if w.json.is_some() %}{{ m.codec }}Body.decode(received){% else %}typed.payloadOf(received, {{ m.name_lit }}, "{{ m.payload_type }}"){% endif %},
{%- if !m.headers.is_empty() %}
      headers: {
{%- for h in m.headers %}
{%- if h.required %}
        {{ h.field }}: typed.requireHeader(received, {{ h.wire }}, "{{ h.kind }}", {{ m.name_lit }}),
{%- else %}
        {{ h.field }}: typed.readHeader(received, {{ h.wire }}, "{{ h.kind }}", {{ m.name_lit }}),
{%- endif %}
{%- endfor %}
      },
{%- endif %}
    };
  },
};
{%- else %}

{% call doc(m) %}{% endcall %}export const {{ m.codec }}: MessageCodec<{{ m.ts_type }}> = typed.jsonCodec<{{ m.ts_type }}>({{ m.name_lit }}, {{ m.validator }}{% if let Some(c) = m.correlation %}, "dictionary", {% call ts::correlation(c) %}{% endcall %}{% endif %});
{%- endif %}
{%- endfor %}
