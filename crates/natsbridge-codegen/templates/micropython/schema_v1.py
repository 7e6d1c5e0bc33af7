{{ preamble -}}
"""msg_envelope_v1 constants for the MicroPython codec (packages/micropython).

Field kinds: a named type's snake-case name (a key of ENUMS, STRING_KINDS or OBJECT_KINDS,
or a struct), "string", "integer", "nonneg_integer" (an integer >= 0), "number",
"boolean", "any", or "list:" and the kind of the items. A pattern is a tuple of steps
(characters, min, max) matched greedily left to right; characters may be a nested tuple of
steps (a group).
"""
{% for e in enums %}
# {{ e.name }}
{{ e.konst }} = {{ e.values }}
{%- endfor %}

ENUMS = { {{- enum_map -}} }
{% for s in strings %}
# {{ s.pattern }}
{{ s.konst }} = {{ s.steps }}
{%- endfor %}

# kind: (minimum length, pattern steps or None)
STRING_KINDS = { {{- string_kinds -}} }
OBJECT_KINDS = {{ object_kinds }}
# Kinds whose pattern greedy steps cannot check exactly: not checked on a device.
UNCHECKED_PATTERNS = {{ unchecked }}
{% for t in structs %}
# {{ t.name }}: (field, kind, required), in schema order
{{ t.konst }} = (
{%- for f in t.fields %}
    {{ f }},
{%- endfor %}
)
{% endfor -%}
