"""``PERPWATCH_*`` environment overrides: every variable must name a real setting.

    data, origins = env_overrides(Config, os.environ)
    # PERPWATCH_ALERTS__WARNING=1.4 -> data {"alerts": {"warning": 1.4}},
    #                                  origins {("alerts", "warning"): "PERPWATCH_ALERTS__WARNING"}

Nested keys are joined with ``__`` and matched case-insensitively against the config models, so
a typo (``PERPWATCH_ALERTS__WARNIGN``, ``PERPWATCH_FOO``) is a ``ConfigError`` naming the
variable instead of being ignored. Values are JSON (``1.4``, ``true``, ``[…]``) where the setting
is not a string, so they meet the same strict types as the TOML file; string settings (URLs,
secrets, names) take the value as written. Pure: the environment is passed in.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from indexer.errors import ConfigError

__all__ = ["PREFIX", "env_overrides"]

PREFIX = "PERPWATCH_"
# Read by the command line (PERPWATCH_CONFIG) and the test suite (PERPWATCH_TEST_*), not settings.
_NOT_SETTINGS = ("PERPWATCH_CONFIG",)
_NOT_SETTINGS_PREFIX = "PERPWATCH_TEST_"
_ANY_KEY = object()  # a dict level: any key is a valid name there


def env_overrides(
    model: type[BaseModel], environ: Mapping[str, str]
) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The overrides in ``environ`` as nested data for ``model``, and each one's variable.

    Raises:
        ConfigError: a variable names no setting of ``model`` (the message names it).
    """
    data: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in _NOT_SETTINGS:
            continue
        if upper.startswith(_NOT_SETTINGS_PREFIX) or environ[name] == "":
            continue  # empty values are ignored, as an unset variable
        keys = tuple(upper.removeprefix(PREFIX).lower().split("__"))
        annotation = _resolve(model, keys)
        if annotation is None:
            raise ConfigError(
                f"environment variable {name}: no setting {'.'.join(keys)!r} (nested keys are "
                "joined with '__', e.g. PERPWATCH_ALERTS__WARNING); unset it or fix the name"
            )
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = _value(environ[name], annotation)
        origins[keys] = name
    return data, origins


def _resolve(model: type[BaseModel], keys: tuple[str, ...]) -> object | None:
    """The annotation ``keys`` reach inside ``model``; None if a key is not a setting."""
    annotation: object = model
    for key in keys:
        inner = bare_type(annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            field = inner.model_fields.get(key)
            if field is None or key.startswith("_"):
                return None
            annotation = field.annotation
        elif get_origin(inner) is dict:
            annotation = get_args(inner)[1]  # the key is a name (a protocol, an asset id)
        else:
            return None  # a scalar or an array has no sub-keys
    return annotation


def bare_type(annotation: object) -> object:
    """``X`` for ``Annotated[X, …]`` and ``X | None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _takes_text(annotation: object) -> bool:
    """Whether a setting of this type is written as plain text (kept as the variable says)."""
    inner = bare_type(annotation)
    if inner in (str, SecretStr):
        return True
    if get_origin(inner) is Literal:
        return all(isinstance(a, str) for a in get_args(inner))
    if get_origin(inner) in (Union, types.UnionType):
        return any(_takes_text(a) for a in get_args(inner))
    return False


def _value(raw: str, annotation: object) -> Any:
    if _takes_text(annotation):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # validation names the variable and says what it must be
