{% import "api/python/_macros.py" as py -%}
{#- A message's docstring text. -#}
{% macro doc(m) -%}
{% if m.doc.is_empty() %}The ``{{ m.name_doc }}`` message.{% else %}{{ m.doc }}{% endif %}
{%- endmacro -%}
{#- The `(dataname, data, payload_type)` a codec class sends. -#}
{% macro encode(m, c) -%}
{% if let Some(j) = m.json %}{{ j.constant }}.encode(message.body).payload{% else %}({{ m.name }}, message.{{ c.field }}, {{ m.payload_type }}){% endif %}
{%- endmacro -%}
{#- The body a codec class reads from `received`. -#}
{% macro decode(m, c) -%}
{% if let Some(j) = m.json %}{{ j.constant }}.decode(received){% else if c.field == "table" %}typed.table_payload(received, {{ m.name }}){% else if c.field == "text" %}typed.text_payload(received, {{ m.name }}){% else %}typed.bytes_payload(received, {{ m.name }}, {{ m.payload_type }}){% endif %}
{%- endmacro -%}
{{ preamble -}}
"""{{ title }}: how each message travels.

One message is one ``msg_envelope_v1`` carrying one payload named after the message (its
``dataname``); its declared headers travel as NATS headers, values as text. Each codec
(``X_CODEC``) turns a message value into that payload and those headers and back, checking
JSON documents against the spec's schema both ways (``SERIALIZATION_ERROR`` on sending,
``DESERIALIZATION_ERROR`` on receipt), missing payloads (``INVALID_PAYLOAD_TYPE``) and
headers (``DESERIALIZATION_ERROR``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final{% if any_union %}, Literal, TypeAlias{% endif %}

{% if uses_pyarrow -%}
import pyarrow as pa
{% endif -%}
from natsbridge import typed
from natsbridge.receive import Received

{% if !type_imports.is_empty() -%}
from ._types import (
{%- for t in type_imports %}
    {{ t }},
{%- endfor %}
)
{% endif %}
__all__ = [
{%- for m in messages %}
{%- if let Some(c) = m.class %}
    "{{ c.name }}",
    "{{ c.codec_class }}",
{%- if let Some(h) = c.headers_class %}
    "{{ h }}",
{%- endif %}
{%- endif %}
{%- if !m.union.is_empty() %}
    "{{ m.ty }}",
{%- for (_, _, _, alias) in m.union %}
    "{{ alias }}",
{%- endfor %}
{%- endif %}
    "{{ m.codec }}",
{%- endfor %}
]
{%- for m in messages %}
{%- if let Some(c) = m.class %}
{%- if let Some(hc) = c.headers_class %}


@dataclass(frozen=True, kw_only=True)
class {{ hc }}:
    """The NATS headers of ``{{ c.name }}``."""
{% for h in c.headers %}
    {{ h.field }}: {{ h.ty }}{% if !h.required %} | None = None{% endif %}
    """``{{ h.wire }}``{% if !h.doc.is_empty() %}: {{ h.doc }}{% endif %}"""
{%- endfor %}
{%- endif %}


@dataclass(frozen=True)
class {{ c.name }}:
    """{% call doc(m) %}{% endcall %}"""

    {{ c.field }}: {{ c.field_type }}
    """{{ c.field_doc }}"""
{%- if let Some(hc) = c.headers_class %}
    headers: {{ hc }}
    """The declared headers."""
{%- endif %}
{%- if let Some(j) = m.json %}


{{ j.constant }}: Final = typed.JsonCodec[{{ j.type_name }}]({{ m.name }}, {{ m.payload_type }}, {{ j.schema_name }}, {{ j.validate }})
{%- endif %}


class {{ c.codec_class }}:
    """How ``{{ c.name }}`` travels: payload {{ m.name }} ({{ m.payload_type }}){% if !c.headers.is_empty() %} and its headers{% endif %}."""

    name: Final = {{ m.name }}
    payload_type: Final = {{ m.payload_type }}

    def encode(self, message: {{ c.name }}) -> typed.Encoded:
{%- if c.headers.is_empty() %}
{%- if m.correlation.is_none() %}
        return typed.Encoded({% call encode(m, c) %}{% endcall %}, {})
{%- else %}
        return typed.correlate(typed.Encoded({% call encode(m, c) %}{% endcall %}, {}), {% if let Some(corr) = m.correlation %}{% call py::correlation(corr) %}{% endcall %}{% endif %}, message.{{ c.field }})
{%- endif %}
{%- else %}
        headers: dict[str, str] = {}
{%- for h in c.headers %}
{%- if h.required %}
        headers[{{ h.name }}] = typed.header_text(message.headers.{{ h.field }})
{%- else %}
        if message.headers.{{ h.field }} is not None:
            headers[{{ h.name }}] = typed.header_text(message.headers.{{ h.field }})
{%- endif %}
{%- endfor %}
{%- if m.correlation.is_none() %}
        return typed.Encoded({% call encode(m, c) %}{% endcall %}, headers)
{%- else %}
        return typed.correlate(typed.Encoded({% call encode(m, c) %}{% endcall %}, headers), {% if let Some(corr) = m.correlation %}{% call py::correlation(corr) %}{% endcall %}{% endif %}, message.{{ c.field }})
{%- endif %}
{%- endif %}

    def decode(self, received: Received) -> {{ c.name }}:
{%- if let Some(hc) = c.headers_class %}
        headers = {{ hc }}(
{%- for h in c.headers %}
            {{ h.field }}=typed.{% if h.required %}required{% else %}optional{% endif %}_header(received.headers, {{ h.name }}, typed.{{ h.parse }}),
{%- endfor %}
        )
        return {{ c.name }}({% call decode(m, c) %}{% endcall %}, headers)
{%- else %}
        return {{ c.name }}({% call decode(m, c) %}{% endcall %})
{%- endif %}


{{ m.codec }}: Final = {{ c.codec_class }}()
"""{% call doc(m) %}{% endcall %}"""
{%- else if !m.union.is_empty() %}


{%- for (name, ty, _, alias) in m.union %}
{{ alias }}: TypeAlias = typed.Variant[Literal[{{ name }}], {{ ty }}]
"""``{{ m.ty }}`` holding {{ name }}: ``{{ alias }}({{ name }}, value)``."""
{%- endfor %}
{{ m.ty }}: TypeAlias = {% for (_, _, _, alias) in m.union %}{% if !loop.first %} | {% endif %}{{ alias }}{% endfor %}
"""{{ m.doc }} Each value travels as its own message, told apart by the payload's ``dataname``."""


{{ m.codec }}: Final[typed.MessageCodec[{{ m.ty }}]] = typed.UnionCodec({% for (_, _, codec, _) in m.union %}{% if !loop.first %}, {% endif %}{{ codec }}{% endfor %})
"""How ``{{ m.ty }}`` travels."""
{%- else %}
{%- if let Some(j) = m.json %}


{{ m.codec }}: Final = typed.JsonCodec[{{ j.type_name }}]({{ m.name }}, {{ m.payload_type }}, {{ j.schema_name }}, {{ j.validate }}{% if let Some(corr) = m.correlation %}, correlation={% call py::correlation(corr) %}{% endcall %}{% endif %})
"""{% call doc(m) %}{% endcall %}"""
{%- endif %}
{%- endif %}
{%- endfor %}
