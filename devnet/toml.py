"""A config as a TOML file: one top-level key per line, values inline (for generated configs).

write_config(Path("perpwatch.toml"), cfg.model_dump(mode="json", exclude_none=True))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def toml_value(value: Any) -> str:
    """``value`` as a one-line TOML value (inline tables and arrays; JSON strings are valid
    TOML basic strings)."""
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` to ``path`` as top-level TOML keys, one a line; returns ``path``."""
    path.write_text("".join(f"{key} = {toml_value(v)}\n" for key, v in data.items()))
    return path
