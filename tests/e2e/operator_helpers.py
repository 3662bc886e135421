"""Run ``perpwatch`` as a user does (a child process, a shell-like environment) and read how it
ended: exit code, stdout and stderr lines, and what it left on disk.

    result = perpwatch(tmp_path, "index", env={"DATABASE_URL": url})
    assert result.code == 3 and len(result.err_lines) == 1
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

WAIT_S = 60.0  # a bound on a hung child, never a timing assertion


@dataclass(frozen=True, slots=True)
class Ended:
    code: int
    out: str
    err: str
    seconds: float

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def out_lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]

    def one_error(self) -> str:
        """The single ``error: …`` line on stderr (asserting there is nothing else)."""
        assert len(self.err_lines) == 1, self.err
        assert self.err_lines[0].startswith("error: "), self.err
        assert "Traceback" not in self.err + self.out
        return self.err_lines[0]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without perpwatch settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("PERPWATCH_") and k.upper() != "DATABASE_URL"
    }
    env["COLUMNS"] = "200"
    return {**env, **(extra or {})}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def perpwatch(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Ended:
    """Run ``perpwatch args`` in ``cwd`` to its end."""
    started = time.monotonic()
    done = subprocess.run(
        command(*args), cwd=cwd, env=clean_env(env), capture_output=True, text=True,
        timeout=WAIT_S, check=False,
    )  # fmt: skip
    return Ended(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def interrupt(
    cwd: Path,
    *args: str,
    after_s: float,
    sig: int = signal.SIGINT,
    env: dict[str, str] | None = None,
    ready: threading.Event | None = None,
) -> tuple[Ended, float]:
    """Start ``perpwatch args``, send ``sig`` ``after_s`` after it started (or, with ``ready``,
    after ``ready`` was set: e.g. the node's first request, so that a slow start on a busy
    machine is not mistaken for the state under test); (how it ended, seconds from the signal
    to its exit)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        command(*args), cwd=cwd, env=clean_env(env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    if ready is not None:
        assert ready.wait(WAIT_S), "it never got as far as the node"
    time.sleep(after_s)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    signalled = time.monotonic()
    out, err = proc.communicate(timeout=WAIT_S)
    ended = time.monotonic()
    return Ended(proc.returncode, out, err, ended - started), ended - signalled


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def node_config(path: Path, rpc_url: str, db: Path, *, chain_id: int = 31337) -> Path:
    """A config with one chain at ``rpc_url`` and GMX v2 on it (addresses given: no known
    deployment on a dev chain id), its SQLite database at ``db``."""
    path.write_text(
        f'database_url = "sqlite:///{db}"\n'
        "[[chains]]\n"
        'name = "dev"\n'
        f"chain_id = {chain_id}\n"
        f'rpc_urls = ["{rpc_url}"]\n'
        "finality_blocks = 0\n"
        "block_time = 0.2\n"
        "[[protocols]]\n"
        'name = "gmx_v2"\n'
        'chain = "dev"\n'
        "[protocols.addresses]\n"
        'data_store = "0x1111111111111111111111111111111111111111"\n'
        'reader = "0x2222222222222222222222222222222222222222"\n'
        'event_emitter = "0x3333333333333333333333333333333333333333"\n',
        encoding="utf-8",
    )
    return path
