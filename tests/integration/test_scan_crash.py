"""kill -9 during a backfill loses and duplicates nothing: after every kill the index is a
prefix of the uninterrupted run's, and a restart finishes with exactly that run's rows.

A worker process (``python -m tests.scan_helpers``) backfills a ~20k-log devnet in small
ranges, printing a line after every commit. The test waits for a seeded random number of
commits plus a seeded random delay, so the SIGKILL lands anywhere in the commit cycle
(fetching, inside a transaction, between transactions).
"""

from __future__ import annotations

import itertools
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from random import Random

import pytest
from sqlalchemy.engine import Engine

from devnet.solc import Artifact
from tests.scan_helpers import (
    REPO_ROOT,
    Filled,
    IndexState,
    filled_node,
    index_state,
    source_json,
)

pytestmark = pytest.mark.chain

LOGS = 20_000
KILLS = 4
LINE_WAIT_S = 60.0  # a hang guard only


@pytest.fixture(scope="module")
def filled(
    artifacts: Mapping[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Filled]:
    """A node holding ``LOGS`` logs and the index an uninterrupted backfill makes of them."""
    workdir = tmp_path_factory.mktemp("reference")
    with filled_node(artifacts, workdir, "devnet:fill", logs=LOGS, logs_per_block=100) as filled:
        yield filled


class Worker:
    """One backfill worker process; its stdout lines arrive on a queue."""

    def __init__(self, filled: Filled, db_url: str, stderr: Path) -> None:
        cmd = [sys.executable, "-m", "tests.scan_helpers", "--rpc", filled.node.rpc_url]
        cmd += ["--db", db_url, "--source", source_json(filled.source)]
        self._stderr = stderr.open("ab")
        self.proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("eof")

    def wait_for(self, commits: int) -> bool:
        """Wait for ``commits`` commit lines; False if the backfill ended first."""
        seen = 0
        while seen < commits:
            line = self.lines.get(timeout=LINE_WAIT_S)
            if line in ("done", "eof"):
                return False
            seen += line.startswith("next ")
        return True

    def kill(self) -> int:
        self.proc.send_signal(signal.SIGKILL)
        return self.finish()

    def finish(self) -> int:
        code = self.proc.wait(timeout=LINE_WAIT_S)
        self._stderr.close()
        return code


def _assert_prefix(state: IndexState, reference: IndexState) -> None:
    """The index holds exactly the reference rows below its cursor and none at or above it."""
    assert state.cursor is not None
    assert state.row_count == len(state.rows), "duplicate rows"
    expected = {row for row in reference.rows if row[0] < state.cursor}
    assert state.rows == expected


def test_kill_9_during_backfill_loses_and_duplicates_nothing(
    filled: Filled, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    rng = Random(f"kill-9:{db_url.split(':')[0]}")
    stderr = tmp_path / "worker.stderr"
    cursors: list[int] = []
    for _ in range(KILLS):
        worker = Worker(filled, db_url, stderr)
        if not worker.wait_for(rng.randint(1, 8)):  # 4 x 8 commits < the ~40 of a backfill
            worker.finish()
            break
        threading.Event().wait(rng.uniform(0.0, 0.05))  # lands anywhere in the commit cycle
        assert worker.kill() == -signal.SIGKILL, stderr.read_text()
        state = index_state(engine, filled.source)
        _assert_prefix(state, filled.reference)
        cursors.append(state.cursor or 0)

    worker = Worker(filled, db_url, stderr)
    assert worker.finish() == 0, stderr.read_text()

    final = index_state(engine, filled.source)
    assert len(cursors) == KILLS, "every kill should land before the backfill ends"
    assert filled.reference.cursor is not None
    assert all(a < b for a, b in itertools.pairwise(cursors)), cursors
    assert cursors[-1] < filled.reference.cursor
    assert final.row_count == len(final.rows) == filled.reference.row_count
    assert final.rows == filled.reference.rows
    assert final.cursor == filled.reference.cursor
    assert final.hashes == filled.reference.hashes
