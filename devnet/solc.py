"""Compile the devnet's Solidity sources with the pinned solcjs, cached by content hash.

Every ``*.sol`` under ``devnet/contracts/`` is compiled in one solc standard-JSON run (one node
process for all sources), with the optimizer on and an EVM version anvil 1.7.1 executes. The
artifacts are cached under ``<repo>/.cache/solc/`` (or ``$PERPWATCH_CACHE_DIR/solc/``) by a hash
of every source, the solc version and the settings, so a cache hit never starts node.

    from devnet.solc import compile_contracts
    artifacts = compile_contracts()
    counter = artifacts["Counter"]          # Artifact(name, abi, bytecode, deployed_bytecode)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.errors import PerpwatchError, UserError

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
SOLC_DIR = REPO_ROOT / "node_modules" / "solc"

# prague is the newest fork both solc 0.8.37 and anvil 1.7.1 (default: latest) agree on.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "prague",
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]},
    },
}

# Reads standard JSON on stdin, writes solc's standard-JSON answer on stdout.
_NODE_SCRIPT = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => { process.stdout.write(solc.compile(input)); });
"""

# Every edit of a simulator adds an entry; keep the newest few, enough for switching branches.
CACHE_ENTRIES_KEPT = 16

SolcRunner = Callable[[str], str]
"""Takes solc standard-JSON input text and returns solc's standard-JSON output text."""


class SolcError(PerpwatchError):
    """solc rejected the sources; the message carries solc's own formatted errors."""


@dataclass(frozen=True, slots=True)
class Artifact:
    """One compiled contract.

    ``bytecode`` is the creation code (ABI-encoded constructor arguments get appended to it);
    ``deployed_bytecode`` is the runtime code, what ``anvil_setCode`` installs. ``source`` is
    the file name relative to the contracts folder.
    """

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes
    source: str = ""


def compile_contracts(
    contracts_dir: Path | None = None,
    *,
    cache_dir: Path | None = None,
    solc_dir: Path | None = None,
    runner: SolcRunner | None = None,
) -> dict[str, Artifact]:
    """Compile every ``*.sol`` under ``contracts_dir`` (recursively); artifacts by contract name.

    ``runner`` replaces the node process (tests count its calls to prove a cache hit).
    Raises ``SolcError`` on compile errors, conflicting contract names or unlinked libraries,
    and ``UserError`` when node or the solc package is missing.
    """
    contracts_dir = contracts_dir or CONTRACTS_DIR
    cache_dir = cache_dir or default_cache_dir()
    solc_dir = solc_dir or SOLC_DIR
    sources = collect_sources(contracts_dir)
    cache_file = cache_dir / f"{cache_key(sources, solc_version(solc_dir), SETTINGS)}.json"
    cached = _read_cache(cache_file)
    if cached is not None:
        return cached
    run = runner or (lambda text: run_solcjs(text, solc_dir))
    artifacts = parse_output(json.loads(run(json.dumps(standard_input(sources)))))
    _write_cache(cache_file, artifacts)
    _prune_cache(cache_dir, keep=CACHE_ENTRIES_KEPT)
    return artifacts


def default_cache_dir() -> Path:
    """``$PERPWATCH_CACHE_DIR/solc`` if that is set, else ``<repo>/.cache/solc`` (git-ignored)."""
    root = os.environ.get("PERPWATCH_CACHE_DIR")
    return (Path(root) if root else REPO_ROOT / ".cache") / "solc"


def collect_sources(contracts_dir: Path) -> dict[str, str]:
    """Source unit name (posix path relative to ``contracts_dir``) → text, sorted by name.

    Relative names let sources import each other (``import "./Other.sol";``); imports from
    outside the folder are not resolved. Raises ``SolcError`` if there is no source at all.
    """
    files = sorted(contracts_dir.rglob("*.sol"))
    if not files:
        raise SolcError(f"no *.sol files under {contracts_dir}")
    return {f.relative_to(contracts_dir).as_posix(): f.read_text("utf-8") for f in files}


def solc_version(solc_dir: Path) -> str:
    """The pinned solcjs version from its package.json (read without starting node).

    Raises ``UserError`` if the package is not installed.
    """
    manifest = solc_dir / "package.json"
    if not manifest.is_file():
        raise UserError(f"solc not found at {solc_dir}: run `make setup`")
    return str(json.loads(manifest.read_text("utf-8"))["version"])


def cache_key(sources: Mapping[str, str], version: str, settings: Mapping[str, Any]) -> str:
    """sha256 (hex) over the sources, the solc version and the settings, as canonical JSON."""
    blob = json.dumps(
        {"sources": dict(sources), "solc": version, "settings": settings},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def standard_input(sources: Mapping[str, str]) -> dict[str, Any]:
    """solc standard-JSON input for ``sources`` with perpwatch's fixed ``SETTINGS``."""
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": SETTINGS,
    }


def parse_output(output: Mapping[str, Any]) -> dict[str, Artifact]:
    """Turn solc's standard-JSON output into artifacts by contract name.

    Raises ``SolcError`` with solc's messages if any has severity ``error``; warnings are
    dropped. A name defined in two files is accepted only if both compiled identically (the
    same interface declared twice); otherwise ``SolcError`` names both files.
    """
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        text = "\n".join(str(e.get("formattedMessage") or e.get("message")) for e in errors)
        raise SolcError(f"solc failed:\n{text}")
    artifacts: dict[str, Artifact] = {}
    for source, contracts in sorted(output.get("contracts", {}).items()):
        for name, data in sorted(contracts.items()):
            new = _artifact(source, name, data)
            old = artifacts.setdefault(name, new)
            if (old.abi, old.bytecode) != (new.abi, new.bytecode):
                raise SolcError(
                    f"contract {name} is defined differently in {old.source} and {source}"
                )
    return artifacts


def _artifact(source: str, name: str, data: Mapping[str, Any]) -> Artifact:
    evm = data["evm"]
    return Artifact(
        name=name,
        abi=list(data["abi"]),
        bytecode=_unhex(evm["bytecode"]["object"], name),
        deployed_bytecode=_unhex(evm["deployedBytecode"]["object"], name),
        source=source,
    )


def _unhex(code: str, name: str) -> bytes:
    try:
        return bytes.fromhex(code.removeprefix("0x"))
    except ValueError:
        # solc leaves __$…$__ placeholders where an external library's address must go.
        raise SolcError(f"{name} needs library linking, which the devnet does not do") from None


def run_solcjs(input_json: str, solc_dir: Path) -> str:
    """Run solcjs once under node on ``input_json``; returns its standard-JSON output text.

    Raises ``UserError`` if node or solc is missing, ``SolcError`` if node fails.
    """
    node = shutil.which("node")
    if node is None:
        raise UserError("node not found on PATH: install Node.js, then run `make setup`")
    solc_version(solc_dir)  # a clear error when the package is missing
    proc = subprocess.run(
        [node, "-e", _NODE_SCRIPT, str(solc_dir)],
        input=input_json,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SolcError(f"solcjs exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _read_cache(path: Path) -> dict[str, Artifact] | None:
    try:
        raw = json.loads(path.read_text("utf-8"))
        return {
            name: Artifact(
                name=name,
                abi=entry["abi"],
                bytecode=bytes.fromhex(entry["bytecode"]),
                deployed_bytecode=bytes.fromhex(entry["deployed_bytecode"]),
                source=entry["source"],
            )
            for name, entry in raw.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing or damaged: recompile and overwrite


def _write_cache(path: Path, artifacts: Mapping[str, Artifact]) -> None:
    payload = {
        name: {
            "abi": a.abi,
            "bytecode": a.bytecode.hex(),
            "deployed_bytecode": a.deployed_bytecode.hex(),
            "source": a.source,
        }
        for name, a in artifacts.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write, then rename: a concurrent reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prune_cache(cache_dir: Path, keep: int) -> None:
    entries = sorted(cache_dir.glob("*.json"), key=_mtime, reverse=True)
    for old in entries[keep:]:
        old.unlink(missing_ok=True)  # a concurrent reader just recompiles


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
