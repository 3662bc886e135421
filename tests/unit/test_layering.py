"""The package layering, checked on the source (AST) rather than trusted.

- ``indexer`` never imports ``monitor``, ``cli`` or ``devnet``; ``monitor`` never imports ``cli``
  or ``devnet`` (the demo and simulators are the CLI's, not the product's);
- pure modules (margin math, alert rules, range planning, reorg decisions, message formatting,
  retry policies) reach no HTTP client, ORM, migration tool or network code, not even through
  the perpwatch modules they import;
- no protocol is named in code outside ``indexer/protocols/`` and the registry.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("indexer", "monitor", "cli", "devnet")
FORBIDDEN_PACKAGES = {
    "indexer": {"monitor", "cli", "devnet"},
    "monitor": {"cli", "devnet"},
}
PURE = (
    "monitor.health.account",
    "monitor.health.book",
    "monitor.health.chunked",
    "monitor.health.tick",
    "monitor.runtime.rolling",
    "monitor.analysis.book",
    "monitor.analysis.drift",
    "monitor.analysis.ladder",
    "monitor.analysis.stress",
    "monitor.analysis.whatif",
    "monitor.analysis.documents",
    "monitor.analysis.performance",
    "monitor.latest.fees",
    "monitor.alerts.rules",
    "monitor.alerts.policy",
    "monitor.alerts.levels",
    "monitor.alerts.chain",
    "monitor.alerts.screen",
    "monitor.alerts.inference",
    "monitor.notify.message",
    "monitor.notify.chain_message",
    "monitor.notify.markup",
    "monitor.subscriptions.routing",
    "monitor.bot.commands",
    "monitor.bot.replies",
    "monitor.delivery.fair",
    "indexer.rpc.ranges",
    "indexer.rpc.faults",
    "indexer.rpc.answers",
    "indexer.retry",
    "indexer.scan.reorg",
    "indexer.scan.checks",
    "indexer.scan.grouping",
    "indexer.scan.touches",
    "indexer.models",
    "indexer.protocols.gtrade.margin",
)
IO_LIBRARIES = {"httpx", "sqlalchemy", "sqlmodel", "alembic", "psycopg", "socket", "web3"}


def module_file(module: str) -> Path | None:
    base = ROOT / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module ``module`` imports at run time (absolute names, TYPE_CHECKING excluded)."""
    path = module_file(module)
    if path is None:
        return frozenset()
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one.
            found.update(
                f"{node.module}.{a.name}"
                for a in node.names
                if module_file(f"{node.module}.{a.name}")
            )
    return frozenset(found)


def reachable(module: str) -> set[str]:
    """``module`` and every module it reaches through perpwatch's own modules."""
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo += [m for m in imports_of(current) if m.split(".")[0] in OURS]
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        parts = current.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
    return seen


def all_modules(package: str) -> list[str]:
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / package).rglob("*.py")
    )


@pytest.mark.parametrize("package", sorted(FORBIDDEN_PACKAGES))
def test_packages_import_only_downwards(package: str) -> None:
    bad = [
        f"{module} imports {imported}"
        for module in all_modules(package)
        for imported in imports_of(module)
        if imported.split(".")[0] in FORBIDDEN_PACKAGES[package]
    ]
    assert bad == []


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_reach_no_io(module: str) -> None:
    assert module_file(module) is not None, f"{module} does not exist"
    bad = sorted(
        f"{reached} imports {imported}"
        for reached in reachable(module)
        for imported in imports_of(reached)
        if imported.split(".")[0] in IO_LIBRARIES or (imported == "asyncio" and reached != module)
    )
    assert bad == []


def test_the_checker_sees_a_violation() -> None:
    # An I/O module must be found as such, or the tests above could pass vacuously.
    assert "httpx" in {m.split(".")[0] for m in imports_of("indexer.rpc.transport")}
    assert "indexer.store.tables" in reachable("monitor.tables")


PROTOCOL_NAMES = ("gmx_v2", "hyperliquid", "synthetix")


def test_no_protocol_named_in_code_outside_its_plugin() -> None:
    bad = []
    for package in ("indexer", "monitor"):
        for module in all_modules(package):
            if module.startswith("indexer.protocols") or module == "indexer.registry":
                continue
            path = module_file(module)
            assert path is not None
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    text = node.value
                elif isinstance(node, ast.Name | ast.Attribute):
                    text = ast.unparse(node)
                else:
                    continue
                if any(name in text.lower() for name in PROTOCOL_NAMES) and not _is_doc(text):
                    bad.append(f"{module}: {text[:60]!r}")
    assert bad == []


def _is_doc(text: str) -> bool:
    # Docstrings and comments may name a protocol as an example; code may not.
    return "\n" in text or " " in text.strip()
