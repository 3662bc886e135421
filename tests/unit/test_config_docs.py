"""``docs/config.md`` documents every configuration key with its real type and default.

The keys are walked from the models (``tests.config_reference``), protocol options from each
plugin in ``indexer.registry.PLUGINS``: a key added to a model without a row here, a row for a
key that no longer exists, or a changed default fails this test.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.config_reference import config_keys

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def documented() -> dict[str, tuple[str, str]]:
    """key path -> (type, default) from the doc's table rows."""
    rows: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        key, type_, default = (c.strip("`") for c in cells[:3])
        assert key not in rows, f"{key} documented twice"
        rows[key] = (type_, default)
    return rows


def test_every_key_is_documented_with_its_type_and_default() -> None:
    expected = {k.path: (k.type, k.default) for k in config_keys()}
    rows = documented()
    assert sorted(set(expected) - set(rows)) == [], "keys missing from docs/config.md"
    assert sorted(set(rows) - set(expected)) == [], "docs/config.md names keys that do not exist"
    wrong = {k: (rows[k], expected[k]) for k in expected if rows[k] != expected[k]}
    assert wrong == {}, "documented (type, default) vs the model's"


def test_the_examples_are_valid_toml() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 5
    for block in blocks:
        tomllib.loads(block)
