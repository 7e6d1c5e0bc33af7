{% if typed %}{{ preamble -}}
"""The runtime profile of wire v1 (``schema/runtime_profile_v1.json``): every constant and
rule a runtime applies beyond the wire shapes. The Rust, TypeScript, MicroPython and Julia
runtimes get the same names from the same file; the hand-written runtime never spells these
values itself."""

from __future__ import annotations

from typing import Final, NamedTuple


class StatusRule(NamedTuple):
    """HTTP statuses: the listed ones and the inclusive ranges, less the exceptions."""

    statuses: tuple[int, ...]
    ranges: tuple[tuple[int, int], ...]
    exceptions: tuple[int, ...]

    def matches(self, status: int) -> bool:
        """Whether the rule takes ``status``."""
        return status not in self.exceptions and (
            status in self.statuses or any(a <= status <= b for a, b in self.ranges)
        )
{% else %}
# --- The runtime profile (schema/runtime_profile_v1.json): the same names in every runtime ---
{{ preamble -}}


class StatusRule:
    """HTTP statuses: the listed ones and the inclusive ranges, less the exceptions."""

    def __init__(self, statuses, ranges, exceptions):
        self.statuses = statuses
        self.ranges = ranges
        self.exceptions = exceptions

    def matches(self, status):
        if status in self.exceptions:
            return False
        if status in self.statuses:
            return True
        for a, b in self.ranges:
            if a <= status <= b:
                return True
        return False
{% endif %}
{%- for g in groups %}

# {{ g.name }}: {{ g.doc }}
{% for c in g.constants %}
{{ c.name }}{% if typed %}: Final = {{ c.py }}{% else %} = {{ c.mp }}{% endif %}
{%- for line in c.doc %}
{% if loop.first %}"""{% endif %}{{ line }}{% if loop.last %}"""{% endif %}
{%- endfor %}
{% endfor %}
{%- endfor %}
{%- for p in predicates %}

def {{ p.snake }}(status{% if typed %}: int{% endif %}){% if typed %} -> bool{% endif %}:
    """Whether ``{{ p.konst }}`` takes ``status``."""
    return {{ p.konst }}.matches(status)
{% endfor %}
