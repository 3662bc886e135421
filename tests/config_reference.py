"""Every configuration key as (path, type, default), walked from the models, for
``docs/config.md`` and its test.

    for key in config_keys():
        print(key.path, key.type, key.default)   # chains[].chain_id  int  required

Paths: ``a.b`` for a table, ``a[]`` for an array of tables, ``a.<name>`` for a table whose keys
are names (``alerts.protocols.<protocol>``, ``tokens.<address>``); protocol options under
``protocols[<plugin>]``, one set per plugin in ``indexer.registry.PLUGINS``.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

from indexer.config.env import bare_type
from indexer.config.loader import Config
from indexer.config.protocol import ProtocolConfig
from indexer.registry import PLUGINS

REQUIRED = "required"
_PLACEHOLDER = {"Address": "<address>", "int": "<asset id>"}
_FIELD_PLACEHOLDER = {"pairs": "<pair index>", "collaterals": "<collateral index>"}
"""int-keyed tables whose keys are not asset ids (gTrade's)."""


@dataclass(frozen=True, slots=True)
class Key:
    path: str
    type: str
    default: str


def config_keys() -> list[Key]:
    """Every key of ``Config`` and of every plugin's protocol table, in model order."""
    keys = [k for k in _walk(Config, "") if not k.path.startswith("protocols")]
    for name, plugin in PLUGINS.items():
        keys.extend(_walk(plugin.options, f"protocols[{name}]."))
    return keys


def _walk(model: type[BaseModel], prefix: str) -> Iterator[Key]:
    for name, field in model.model_fields.items():
        path = prefix + name
        inner, array = _unwrap(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            if issubclass(inner, ProtocolConfig):
                continue  # walked per plugin
            yield from _walk(inner, path + ("[]." if array else "."))
            continue
        if get_origin(inner) is dict:
            key_type, value = get_args(inner)
            value_inner, value_array = _unwrap(value)
            if isinstance(value_inner, type) and issubclass(value_inner, BaseModel):
                placeholder = _FIELD_PLACEHOLDER.get(
                    name, _PLACEHOLDER.get(_name(key_type), "<protocol>")
                )
                yield from _walk(
                    value_inner, f"{path}.{placeholder}" + ("[]." if value_array else ".")
                )
                continue
        yield Key(path, type_name(field.annotation), _default(field))


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the model or type inside ``X | None``/``tuple[X, ...]``/``Annotated``, is it an array)."""
    annotation = bare_type(annotation)
    if get_origin(annotation) is tuple:
        args = get_args(annotation)
        inner = bare_type(args[0])
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner, True
    return annotation, False


def _name(annotation: Any) -> str:
    metadata = getattr(annotation, "__metadata__", ())
    for item in metadata:
        func = getattr(item, "func", None)
        if func is not None and func.__name__ == "normalize_address":
            return "Address"
    return getattr(bare_type(annotation), "__name__", str(annotation))


def type_name(annotation: Any) -> str:
    """A TOML-ish type name: string, integer, float, boolean, array of …, table, literal."""
    inner = bare_type(annotation)
    origin = get_origin(inner)
    if origin is tuple:
        return f"array of {type_name(get_args(inner)[0])}"
    if origin is dict:
        return f"table of {type_name(get_args(inner)[1])}"
    if origin is Literal:
        return " or ".join(f'"{a}"' for a in get_args(inner))
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in get_args(inner))
    names: dict[object, str] = {str: "string", int: "integer", float: "float", bool: "boolean",
                                SecretStr: "string (secret)"}  # fmt: skip
    return names.get(inner, str(inner))


def _default(field: Any) -> str:
    if field.is_required():
        return REQUIRED
    value = field.get_default(call_default_factory=True)
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)
