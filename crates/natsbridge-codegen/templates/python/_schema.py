{{ preamble -}}
"""The bundled JSON Schema (draft-07) the types were generated from."""

import json
from typing import Any, Final

SCHEMA: Final[dict[str, Any]] = json.loads(
    r'''{{ schema }}'''
)

OPEN_ENUMS: Final[tuple[str, ...]] = ({{ open_enums }})
"""Enum types whose value lists readers do not enforce."""
