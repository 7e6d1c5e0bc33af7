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
    {{ h.field }}: {{ h.ty }}
    """``{{ h.wire }}``{% if !h.doc.is_empty() %}: {{ h.doc }}{% endif %}"""
{%- endfor %}
{%- endif %}


@dataclass(frozen=True)
class {{ c.name }}:
    """{{ m.doc }}"""

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
{%- if m.correlation.is_empty() %}
        return typed.Encoded({{ c.encode }}, {})
{%- else %}
        return typed.correlate(typed.Encoded({{ c.encode }}, {}), {{ m.correlation }}, message.{{ c.field }})
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
{%- if m.correlation.is_empty() %}
        return typed.Encoded({{ c.encode }}, headers)
{%- else %}
        return typed.correlate(typed.Encoded({{ c.encode }}, headers), {{ m.correlation }}, message.{{ c.field }})
{%- endif %}
{%- endif %}

    def decode(self, received: Received) -> {{ c.name }}:
{%- if let Some(hc) = c.headers_class %}
        headers = {{ hc }}(
{%- for h in c.headers %}
            {{ h.field }}=typed.{% if h.required %}required{% else %}optional{% endif %}_header(received.headers, {{ h.name }}, {{ h.parse }}),
{%- endfor %}
        )
        return {{ c.name }}({{ c.decode }}, headers)
{%- else %}
        return {{ c.name }}({{ c.decode }})
{%- endif %}


{{ m.codec }}: Final = {{ c.codec_class }}()
"""{{ m.doc }}"""
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


{{ m.codec }}: Final = typed.JsonCodec[{{ j.type_name }}]({{ m.name }}, {{ m.payload_type }}, {{ j.schema_name }}, {{ j.validate }}{% if !m.correlation.is_empty() %}, correlation={{ m.correlation }}{% endif %})
"""{{ m.doc }}"""
{%- endif %}
{%- endif %}
{%- endfor %}
