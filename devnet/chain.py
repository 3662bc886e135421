"""A local anvil node on a free 127.0.0.1 port that always stops.

    with Anvil() as chain:
        chain.mine(3)
        print(chain.rpc_url, chain.block_number())

The node runs in its own process group; leaving the ``with`` block for any reason (normal exit,
an exception, KeyboardInterrupt, a failing test) sends SIGTERM to the group, then SIGKILL after
``stop_timeout`` seconds. An atexit hook kills nodes that were never stopped, and on Linux the
kernel kills the node if the Python process dies without running either (SIGKILL, crash).
The dev methods (mine, increase_time, snapshot, reorg, ...) come from ``DevRpc``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

import httpx

from devnet.devrpc import AnvilError, AnvilRpcError, DevRpc
from devnet.lifecycle import Service
from indexer.errors import UserError

__all__ = ["Anvil", "AnvilError", "AnvilRpcError", "build_command", "parse_port", "resolve_binary"]

DEFAULT_BINARY = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "anvil"
_LISTENING = re.compile(rb"Listening on ([0-9.]+):(\d+)")
_POLL_S = 0.02

# pid → process for every node started and not yet stopped; the atexit hook's work list.
_LIVE: dict[int, subprocess.Popen[bytes]] = {}


def resolve_binary(binary: Path | None = None) -> Path:
    """``binary``, else ``$PERPWATCH_ANVIL``, else ``<repo>/node_modules/.bin/anvil``.

    Raises ``UserError`` (naming ``make setup``) if the file is missing or not executable.
    """
    env = os.environ.get("PERPWATCH_ANVIL")
    path = binary or (Path(env) if env else DEFAULT_BINARY)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise UserError(f"anvil not found at {path}: run `make setup` (or set PERPWATCH_ANVIL)")
    return path


def build_command(
    binary: Path,
    *,
    chain_id: int,
    block_time: float | None,
    accounts: int,
    load_state: Path | None,
    dump_state: Path | None,
    extra_args: Sequence[str],
) -> list[str]:
    """anvil's argv. Port 0 lets the kernel pick a free port, so two nodes never race for one."""
    cmd = [str(binary), "--host", "127.0.0.1", "--port", "0"]
    cmd += ["--chain-id", str(chain_id), "--accounts", str(accounts)]
    if block_time is not None:
        cmd += ["--block-time", f"{block_time:g}"]
    if load_state is not None:
        cmd += ["--load-state", str(load_state)]
    if dump_state is not None:
        cmd += ["--dump-state", str(dump_state)]
    return [*cmd, *extra_args]


def parse_port(log: bytes) -> int | None:
    """The port from anvil's ``Listening on 127.0.0.1:PORT`` line, or None if not printed yet."""
    match = _LISTENING.search(log)
    return int(match.group(2)) if match else None


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec hook making Linux SIGKILL the child when the spawning thread dies.

    Caveat: the kernel ties this to the *thread* that started the node, so start nodes from
    the main thread or a thread that outlives them.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    # The node leads its own session, so its pid is its process-group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE.values()):
        _kill_group(proc, signal.SIGKILL)
        proc.wait()
    _LIVE.clear()


class Anvil(DevRpc, Service):
    """One anvil node. Use as a context manager, or call ``start()`` and ``stop()``.

    ``block_time`` None means automine (a block per transaction). ``load_state`` and
    ``dump_state`` take anvil's JSON state files, to cache a big devnet between runs; the dump
    is written when the node stops. ``extra_args`` are appended to anvil's command line.
    Times are in seconds, amounts in wei.
    """

    def __init__(
        self,
        *,
        chain_id: int = 31337,
        block_time: float | None = None,
        accounts: int = 10,
        load_state: Path | None = None,
        dump_state: Path | None = None,
        extra_args: Sequence[str] = (),
        binary: Path | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.chain_id = chain_id
        self._cmd_options: dict[str, Any] = {
            "chain_id": chain_id,
            "block_time": block_time,
            "accounts": accounts,
            "load_state": load_state,
            "dump_state": dump_state,
            "extra_args": tuple(extra_args),
        }
        self._binary = binary
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the node and wait until its RPC answers with the expected chain id.

        Raises ``UserError`` if the binary is missing, ``AnvilError`` if the node exits or does
        not answer within ``startup_timeout`` seconds (the message ends with anvil's output).
        """
        if self._proc is not None:
            raise AnvilError("anvil is already running")
        cmd = build_command(resolve_binary(self._binary), **self._cmd_options)
        self._workdir = Path(tempfile.mkdtemp(prefix="perpwatch-anvil-"))
        log_path = self._workdir / "anvil.log"
        try:
            with log_path.open("wb") as log:
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(),
                )
            _LIVE[self._proc.pid] = self._proc
            deadline = time.monotonic() + self._startup_timeout
            port = self._wait_for_port(log_path, deadline)
            self._url = f"http://127.0.0.1:{port}"
            self._wait_for_rpc(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the node (SIGTERM, then SIGKILL after ``stop_timeout``); safe to call twice."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                _kill_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=self._stop_timeout)
                except subprocess.TimeoutExpired:
                    _kill_group(proc, signal.SIGKILL)
        finally:
            # Runs even if a second Ctrl-C interrupts the wait above: nothing may survive.
            if proc is not None:
                if proc.poll() is None:
                    _kill_group(proc, signal.SIGKILL)
                proc.wait()
                _LIVE.pop(proc.pid, None)
            self._close_resources()

    def _close_resources(self) -> None:
        self.close()
        self._url = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _wait_for_port(self, log_path: Path, deadline: float) -> int:
        proc = self._require_proc()
        while True:
            log = log_path.read_bytes()
            port = parse_port(log)
            if port is not None:
                return port
            if proc.poll() is not None:
                raise AnvilError(f"anvil exited with {proc.returncode}: {_tail(log)}")
            if time.monotonic() > deadline:
                raise AnvilError(f"anvil printed no listening address in time: {_tail(log)}")
            time.sleep(_POLL_S)

    def _wait_for_rpc(self, deadline: float) -> None:
        while True:
            try:
                answered = int(self.request("eth_chainId"), 16)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AnvilError(f"anvil at {self.rpc_url} did not answer in time") from None
                time.sleep(_POLL_S)
        if answered != self.chain_id:
            raise AnvilError(f"anvil answered chain id {answered}, expected {self.chain_id}")

    def _require_proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise AnvilError("anvil is not running: use `with Anvil() as chain:` or start()")
        return self._proc

    # -- identity -------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The node's process id (also its process-group id)."""
        return self._require_proc().pid

    @property
    def port(self) -> int:
        return int(self.rpc_url.rsplit(":", 1)[1])

    def __repr__(self) -> str:
        state = f"pid={self._proc.pid} url={self._url}" if self._proc else "stopped"
        return f"Anvil(chain_id={self.chain_id}, {state})"


def _tail(log: bytes, limit: int = 2000) -> str:
    return log.decode("utf-8", "replace").strip()[-limit:]
