{% import "api/python/_macros.py" as py -%}
{{ preamble -}}
"""{{ title }}: one function per operation of the spec.

Each sends or receives its message as one ``msg_envelope_v1`` through ``natsbridge.typed``
on the channel's subject, the channel parameters as keyword arguments. Receiving yields
``Incoming`` messages, or the ``NatsBridgeError`` of a bad one (its correlation id and
dataname set); a bad message never ends a subscription.
"""

from __future__ import annotations

from natsbridge import typed
from natsbridge.errors import NatsBridgeError
from natsbridge.jetstream import StreamSent
from natsbridge.send import Sent
from natsbridge.typed import Bridge, ConsumerOptions, Incoming, Replay, Subscription
from natsbridge_types import ErrorResponseV1

from . import channels, messages
{%- if !type_imports.is_empty() %}
from ._types import (
{%- for t in type_imports %}
    {{ t }},
{%- endfor %}
)
{%- endif %}
{%- if !class_imports.is_empty() %}
from .messages import (
{%- for t in class_imports %}
    {{ t }},
{%- endfor %}
)
{%- endif %}

__all__ = [
{%- for op in operations %}
    "{{ op.name }}",
{%- if op.kind == "serve" %}
    "{{ op.name }}_error",
    "{{ op.name }}_reply",
{%- endif %}
{%- endfor %}
]
{% for op in operations %}
{%- if op.kind == "publish" %}

async def {{ op.name }}(
    bridge: Bridge, message: {{ op.ty }}, *{% call py::args(op) %}{% endcall %}, correlation_id: str | None = None
) -> Sent:
    """{{ op.doc }}

    Publishes on ``{{ op.address }}`` (core NATS) as ``msg_purpose`` {{ op.purpose }}."""
    return await typed.publish(
        bridge,
        {% call py::subject(op) %}{% endcall %},
        messages.{{ op.codec }},
        message,
        purpose={{ op.purpose }},
        correlation_id=correlation_id,
    )
{% else if op.kind == "request" %}

async def {{ op.name }}(
    bridge: Bridge, message: {{ op.ty }}, *{% call py::args(op) %}{% endcall %}, correlation_id: str | None = None,
    timeout: float | None = None,
) -> Incoming[{{ op.reply_ty }}]:
    """{{ op.doc }}

    Sends a request on ``{{ op.address }}`` as ``msg_purpose`` {{ op.purpose }} and returns
    the reply (``TIMEOUT`` after ``timeout`` seconds, default the bridge's)."""
    return await typed.request(
        bridge,
        {% call py::subject(op) %}{% endcall %},
        messages.{{ op.codec }},
        message,
        messages.{{ op.reply_codec }},
        purpose={{ op.purpose }},
        correlation_id=correlation_id,
        timeout=timeout,
    )
{% else if op.kind == "stream_publish" %}

async def {{ op.name }}(
    bridge: Bridge, message: {{ op.ty }}, *{% call py::args(op) %}{% endcall %}, correlation_id: str | None = None,
    msg_id: str | None = None,
) -> StreamSent:
    """{{ op.doc }}

    Publishes on ``{{ op.address }}`` into the JetStream stream that captures it and waits
    for the ack (``msg_id`` to retry without duplicating)."""
    return await typed.publish_to_stream(
        bridge,
        {% call py::subject(op) %}{% endcall %},
        messages.{{ op.codec }},
        message,
        purpose={{ op.purpose }},
        correlation_id=correlation_id,
        msg_id=msg_id,
    )
{% else if op.kind == "subscribe" || op.kind == "serve" %}

async def {{ op.name }}(
    bridge: Bridge, *{% call py::args(op) %}{% endcall %}, queue: str | None = {% if let Some(q) = op.queue %}{{ q }}{% else %}None{% endif %}
) -> Subscription[{{ op.ty }}]:
    """{{ op.doc }}

    Subscribes to ``{{ op.address }}`` (a parameter may be ``*``: every value) in the queue
    group ``queue``; iterate it for ``Incoming`` messages and the errors of bad ones.
{%- if op.kind == "serve" %}
    Answer each with ``{{ op.name }}_reply`` (or ``{{ op.name }}_error``).
{%- endif %}"""
    return await typed.subscribe(
        bridge,
        {% call py::subject(op) %}{% endcall %},
        messages.{{ op.codec }},
        queue=queue,
    )
{%- if op.kind == "serve" %}


async def {{ op.name }}_reply(bridge: Bridge, to: Incoming[{{ op.ty }}], reply: {{ op.reply_ty }}) -> Sent:
    """Answers a request received by ``{{ op.name }}`` (same correlation id, ``reply_to_msg_id``
    = its ``msg_id``)."""
    return await typed.reply(bridge, to, messages.{{ op.reply_codec }}, reply)


async def {{ op.name }}_error(
    bridge: Bridge, to: Incoming[{{ op.ty }}], error: NatsBridgeError
) -> ErrorResponseV1:
    """Answers a request received by ``{{ op.name }}`` with an ``error_response_v1``; the
    requester gets it as a remote ``NatsBridgeError``."""
    return await typed.reply_error(bridge, to, error)
{%- endif %}
{% else if op.kind == "stream_consume" %}

def {{ op.name }}(
    bridge: Bridge, *{% call py::args(op) %}{% endcall %}, options: ConsumerOptions | None = None
) -> Replay[{{ op.ty }}]:
    """{{ op.doc }}

    A pull consumer of ``{{ op.address }}`` (a parameter may be ``*``: every value) on the
    stream ``{{ op.stream_name }}``; iterate it (or call ``next``) and ``ack`` each message."""
    return typed.replay(
        bridge,
        channels.{{ op.stream }}_STREAM,
        messages.{{ op.codec }},
        filter_subject={% call py::subject(op) %}{% endcall %},
        options=options,
    )
{% endif %}
{%- endfor -%}
