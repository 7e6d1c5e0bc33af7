{{ preamble -}}
"""{{ title }}: the subjects of its channels.

Each channel has its address template (``X_ADDRESS``), the subject with every parameter
as the ``*`` wildcard (``X_WILDCARD``), its JetStream stream when it has one
(``X_STREAM``), and ``x_subject(...)``: the subject with the parameters filled in, each one
NATS token (``INVALID_ARGUMENT`` otherwise; ``*`` alone only with ``wildcard_ok``).
"""

from __future__ import annotations

from typing import Final

from natsbridge.typed import token{% if any_allowed %}, token_of{% endif %}

__all__ = [
{%- for c in channels %}
    "{{ c.upper }}_ADDRESS",
{%- if c.stream.is_some() %}
    "{{ c.upper }}_STREAM",
{%- endif %}
    "{{ c.upper }}_WILDCARD",
    "{{ c.func }}",
{%- endfor %}
]
{% for c in channels %}

{{ c.upper }}_ADDRESS: Final = {{ c.address }}
"""{% if c.doc.is_empty() %}The address of the channel.{% else %}{{ c.doc }}{% endif %}"""
{{ c.upper }}_WILDCARD: Final = {{ c.wildcard }}
"""Every subject of the channel."""
{%- if let Some(stream) = c.stream %}
{{ c.upper }}_STREAM: Final = {{ stream }}
"""The JetStream stream that keeps the channel's messages."""
{%- endif %}

{% if c.params.is_empty() %}
def {{ c.func }}() -> str:
    """The channel's subject."""
    return {{ c.address }}
{%- else %}
def {{ c.func }}(*{% for p in c.params %}, {{ p.arg }}: str{% endfor %}, wildcard_ok: bool = False) -> str:
    """The subject ``{{ c.address_doc }}`` with its parameters filled in.
{% for p in c.params %}
    ``{{ p.arg }}``: {% if p.doc.is_empty() %}the ``{{ p.name }}`` parameter{% else %}{{ p.doc }}{% endif %}
{%- endfor %}
    """
    return {% for s in c.segments %}{% if !loop.first %} + {% endif %}{% match s %}{% when SegmentView::Literal(t) %}{{ t }}{% when SegmentView::Param { name, arg, allowed } %}{% if allowed.is_empty() %}token({{ name }}, {{ arg }}, wildcard_ok){% else %}token_of({{ name }}, {{ arg }}, ({{ allowed|join(", ") }},), wildcard_ok){% endif %}{% endmatch %}{% endfor %}
{%- endif %}
{% endfor -%}
