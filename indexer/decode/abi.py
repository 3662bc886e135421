"""The official ABIs in ``contracts_abi/`` and the signature/selector helpers built on them.

``contracts_abi`` is a data-only namespace package (no ``__init__.py``): one folder per protocol,
JSON files copied from the protocol's own published artifacts (see each folder's SOURCE.md).

Usage::

    entry = abi_entry("gmx_v2/EventEmitter.json", "EventLog1", kind="event")
    topic0(event_signature(entry)).hex()   # '137a4406…'
    selector("aggregate3((address,bool,bytes)[])").hex()   # '82ad56cb'
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import json
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

AbiEntry = dict[str, Any]

_PACKAGE = "contracts_abi"


def _abi_root() -> Traversable:
    """The ``contracts_abi`` directory, installed or editable.

    Raises:
        FileNotFoundError: the package is not importable.
    """
    try:
        return importlib.resources.files(_PACKAGE)
    except NotADirectoryError:
        # CPython 3.11's namespace-package reader rejects the non-directory path entry that a
        # setuptools editable install adds to ``__path__``; the real directory is still listed.
        spec = importlib.util.find_spec(_PACKAGE)
        for entry in (spec.submodule_search_locations or []) if spec else []:
            if Path(entry).is_dir():
                return Path(entry)
        raise FileNotFoundError(f"{_PACKAGE}: no directory on its package path") from None


@functools.cache
def load_json(path: str) -> Any:
    """Parse any JSON document under ``contracts_abi/`` (e.g. ``hyperliquid/precompiles.json``).

    Cached per path; the result is shared, treat it as read-only.

    Raises:
        FileNotFoundError: no such file.
    """
    node = _abi_root()
    for part in path.split("/"):
        node = node.joinpath(part)
    return json.loads(node.read_text(encoding="utf-8"))


def load_abi(path: str) -> list[AbiEntry]:
    """Load ``contracts_abi/<path>`` (e.g. ``"gmx_v2/DataStore.json"``), cached per path.

    The returned list is shared between callers: treat it as read-only.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a JSON list of ABI entries.
    """
    data = load_json(path)
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise ValueError(f"{path}: expected a JSON list of ABI entries")
    return data


def abi_entry(path: str, name: str, kind: str = "function") -> AbiEntry:
    """The single ABI entry named ``name`` of type ``kind`` in ``path``.

    Raises:
        KeyError: none, or several (an overload), match.
    """
    found = [e for e in load_abi(path) if e.get("type") == kind and e.get("name") == name]
    if len(found) != 1:
        raise KeyError(f"{path}: {len(found)} {kind} entries named {name!r}")
    return found[0]


def canonical_type(param: AbiEntry) -> str:
    """Canonical ABI type of one parameter, tuples expanded recursively.

    ``{"type": "tuple[]", "components": [address, uint256]}`` → ``"(address,uint256)[]"``.
    """
    kind: str = param["type"]
    if not kind.startswith("tuple"):
        return kind
    inner = ",".join(canonical_type(c) for c in param["components"])
    return f"({inner}){kind[len('tuple') :]}"


def _signature(entry: AbiEntry) -> str:
    types = ",".join(canonical_type(p) for p in entry.get("inputs", []))
    return f"{entry['name']}({types})"


def function_signature(entry: AbiEntry) -> str:
    """``name(type,…)`` of a function entry, the preimage of its selector."""
    if entry.get("type", "function") != "function":
        raise ValueError(f"not a function entry: {entry.get('name')!r}")
    return _signature(entry)


def event_signature(entry: AbiEntry) -> str:
    """``Name(type,…)`` of an event entry (indexed or not), the preimage of its topic0."""
    if entry.get("type") != "event":
        raise ValueError(f"not an event entry: {entry.get('name')!r}")
    return _signature(entry)


def selector(signature: str) -> bytes:
    """First 4 bytes of keccak256(signature)."""
    return bytes(keccak(text=signature)[:4])


def topic0(signature: str) -> bytes:
    """keccak256(signature): the 32-byte topics[0] of a non-anonymous event."""
    return bytes(keccak(text=signature))
