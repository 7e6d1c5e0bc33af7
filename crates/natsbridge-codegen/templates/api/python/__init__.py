{{ preamble -}}
"""{{ title }}: typed NATSBridge operations.
{%- if !description.is_empty() %}

{{ description }}
{%- endif %}

The application data of every message travels as one payload of a ``msg_envelope_v1``
named after the message, so these operations and plain ``smartsend`` / ``smartreceive``
interoperate. ``channels`` has the subjects, ``messages`` how each message travels,
``operations`` one function per operation; all of them, the payload types and the
runtime's ``Bridge`` are importable from ``{{ package }}`` itself.
"""

from __future__ import annotations

from natsbridge.typed import (
{%- for n in runtime %}
    {{ n }},
{%- endfor %}
)

from . import channels, messages, operations
from ._types import (
{%- for n in types %}
    {{ n }},
{%- endfor %}
)
{% if !channels.is_empty() -%}
from .channels import (
{%- for n in channels %}
    {{ n }},
{%- endfor %}
)
{% endif -%}
{% if !messages.is_empty() -%}
from .messages import (
{%- for n in messages %}
    {{ n }},
{%- endfor %}
)
{% endif -%}
{% if !operations.is_empty() -%}
from .operations import (
{%- for n in operations %}
    {{ n }},
{%- endfor %}
)
{% endif %}
__all__ = [
    "channels",
    "messages",
    "operations",
{%- for e in exports %}
    "{{ e }}",
{%- endfor %}
]
