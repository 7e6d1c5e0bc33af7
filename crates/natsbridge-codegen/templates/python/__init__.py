{{ preamble -}}
"""{{ title }}

Values are plain dicts typed with TypedDict, so unknown fields survive a relay.
Enum-typed fields are open (``Literal[...] | str``): a reader never rejects a value a
newer writer added. ``parse_x`` is the reader's check (unknown enum values accepted);
``validate_x`` checks what a v1 writer must produce (``reader=True`` relaxes enums the
same way); ``dump_x`` serializes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any, Final, Literal, NotRequired,{% if any_union %} TypeAlias,{% endif %} TypedDict, cast

import jsonschema
import regress

from ._schema import OPEN_ENUMS, SCHEMA

__all__ = [
{%- for e in exports %}
    "{{ e }}",
{%- endfor %}
]
{% for e in enums %}
{{ e.name }} = Literal[{{ e.literal }}]
"""{{ e.doc }}"""

{{ e.values_const }}: Final[tuple[str, ...]] = ({{ e.values }},)
"""Every {{ e.name }} value this schema version knows, in schema order."""
{% endfor %}
{%- for a in aliases %}
{{ a.name }}{% if a.explicit %}: TypeAlias{% endif %} = {{ a.ty }}
"""{{ a.doc }}"""
{% endfor %}
{%- for s in structs %}
{%- if s.class_syntax %}

class {{ s.name }}(TypedDict):
    """{{ s.doc }}"""
{% for f in s.fields %}
    {{ f.key }}: {{ f.ty }}
    """{{ f.doc }}"""
{%- endfor %}
{%- else %}

{{ s.name }} = TypedDict(
    "{{ s.name }}",
    {
{%- for f in s.fields %}
        "{{ f.key }}": "{{ f.ty }}",
{%- endfor %}
    },
)
"""{{ s.doc }}"""
{%- endif %}
{% endfor %}

@dataclass(frozen=True)
class ValidationIssue:
    """One way a value broke the schema."""

    path: str
    """JSON Pointer to the offending value ("" for the root)."""
    keyword: str
    """The schema keyword that failed, e.g. ``required``, ``pattern``, ``type``."""
    message: str


class SchemaValidationError(ValueError):
    """Raised by the ``parse_x`` functions."""

    def __init__(self, type_name: str, issues: list[ValidationIssue]) -> None:
        super().__init__(f"invalid {type_name}: " + "; ".join(f"{i.path or '/'} {i.message}" for i in issues))
        self.issues = issues


_PATTERNS: dict[str, regress.Regex] = {}


def _ecma_pattern(
    validator: Any, pattern: str, instance: object, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    """``pattern`` with ECMA-262 semantics, as JSON Schema says (Python's ``re`` lets ``$``
    match before a final newline): the ``regress`` engine, the same as Rust's validators."""
    if not isinstance(instance, str):
        return
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = regress.Regex(pattern)
    if compiled.find(instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft7Validator, validators={"pattern": _ecma_pattern}
)
_VALIDATORS: dict[tuple[str, bool], Any] = {}


def _definitions(reader: bool) -> dict[str, Any]:
    definitions: dict[str, Any] = SCHEMA["definitions"]
    if not reader:
        return definitions
    # A reader accepts enum values that newer writers added: `enum` goes, `type: string` stays.
    return {
        name: {k: v for k, v in d.items() if k != "enum"} if name in OPEN_ENUMS else d
        for name, d in definitions.items()
    }


def _validator(type_name: str, reader: bool) -> Any:
    v = _VALIDATORS.get((type_name, reader))
    if v is None:
        schema = {"$ref": f"#/definitions/{type_name}", "definitions": _definitions(reader)}
        v = _Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        _VALIDATORS[(type_name, reader)] = v
    return v


def validate(type_name: str, value: object, *, reader: bool = False) -> list[ValidationIssue]:
    """Validates ``value`` against the named schema type; returns the issues (empty when valid).

    With ``reader=True`` enum values this version does not know are accepted."""
    issues = []
    for err in _validator(type_name, reader).iter_errors(value):
        path = "".join(f"/{p}" for p in err.absolute_path)
        issues.append(ValidationIssue(path=path, keyword=str(err.validator), message=err.message))
    return sorted(issues, key=lambda i: (i.path, i.keyword))
{% for p in patterns %}

{{ p.konst }}: Final = regress.Regex({{ p.pattern }})
{%- endfor %}
{% for s in structs %}

def _plain_{{ s.snake }}(v: object, reader: bool) -> bool:
    if type(v) is not dict:
        return False
{%- if let Some(keys) = s.closed_keys %}
    if not set(v) <= { {{- keys -}} }:
        return False
{%- endif %}
{%- for f in s.fields %}
{%- if f.required %}
    if "{{ f.key }}" not in v:
        return False
    x = v["{{ f.key }}"]
    if not {{ f.check }}:
        return False
{%- else %}
    if "{{ f.key }}" in v:
        x = v["{{ f.key }}"]
        if not {{ f.check }}:
            return False
{%- endif %}
{%- endfor %}
    return True
{% endfor %}
{%- for s in structs %}

def plainly_valid_{{ s.snake }}(value: object, *, reader: bool = False) -> bool:
    """``True`` only when ``validate_{{ s.snake }}`` finds no issues, at a fraction of its cost:
    the check for hot paths, generated from the schema. Conservative in one place: an
    integer field holding a float (``5.0``, which JSON Schema counts as an integer and
    schema/README.md rule 9 refuses on the wire) gives ``False``; ask the validator then."""
    return _plain_{{ s.snake }}(value, reader)

def validate_{{ s.snake }}(value: object, *, reader: bool = False) -> list[ValidationIssue]:
    """Validates a value as a {{ s.name }}; returns the issues (empty when valid)."""
    return validate("{{ s.schema_name }}", value, reader=reader)


def parse_{{ s.snake }}(text: str | bytes) -> {{ s.name }}:
    """Parses JSON text and validates it as a {{ s.name }} (as a reader: unknown enum values
    are accepted); raises SchemaValidationError."""
    value: object = json.loads(text)
    issues = validate("{{ s.schema_name }}", value, reader=True)
    if issues:
        raise SchemaValidationError("{{ s.schema_name }}", issues)
    return cast({{ s.name }}, value)


def dump_{{ s.snake }}(value: {{ s.name }}) -> str:
    """Serializes a {{ s.name }} to compact JSON text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
{% endfor -%}
{%- for (sn, schema_name, name) in other_roots %}

def validate_{{ sn }}(value: object, *, reader: bool = False) -> list[ValidationIssue]:
    """Validates a value as a {{ name }}; returns the issues (empty when valid)."""
    return validate("{{ schema_name }}", value, reader=reader)
{% endfor -%}
