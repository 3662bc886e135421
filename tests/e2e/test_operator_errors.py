"""Issue 11's table, a test per row: ``perpwatch`` run as a child process against real SQLite
files, the local PostgreSQL server and local HTTP servers. Each checks the exit code, the line
count, the message, and that nothing was written where nothing should be.

Exit codes: 2 the user's input or config, 3 a dependency (database, node, chain id), 130 Ctrl-C
(0 with a ``stopped`` line for ``run`` and ``index --follow``).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.config.loader import load_config
from tests.e2e.operator_helpers import files, interrupt, node_config, perpwatch
from tests.fixtures.db import ADMIN_URL
from tests.fixtures.fake_node import FakeNode

CONFIG = "perpwatch.toml"
# Bounds, not timing assertions: a second for a signal (plus interpreter start-up slack), and a
# dead node must be reported in seconds, never the old 79 s of silence.
SIGNAL_BOUND_S = 1.5
DEAD_NODE_BOUND_S = 20.0


@pytest.fixture
def hanging_node() -> Iterator[FakeNode]:
    """Accepts connections, never answers."""
    with FakeNode() as node:
        node.hang = True
        yield node


@pytest.fixture
def node() -> Iterator[FakeNode]:
    with FakeNode(head=100) as running:
        yield running


def refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the database ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        pytest.param("postgresql://nobody@127.0.0.1:1/x", "Connection refused", id="refused"),
        pytest.param(
            ADMIN_URL.replace("postgres@", "perpwatch_nobody@", 1),
            'role "perpwatch_nobody" does not exist',
            id="wrong role",
        ),
        pytest.param("sqlite:////nonexistent-dir/perpwatch.db", "does not exist", id="no dir"),
    ],
)
def test_unusable_database_is_one_line_exit_3(tmp_path: Path, url: str, cause: str) -> None:
    node_config(tmp_path / CONFIG, refused_url(), tmp_path / "unused.db")
    for args in (("index",), ("db", "upgrade")):
        result = perpwatch(tmp_path, *args, env={"DATABASE_URL": url})
        assert result.code == 3, result.err
        line = result.one_error()
        assert cause in line
        assert "DATABASE_URL" in line  # the next step
        assert files(tmp_path) == [CONFIG]


def test_random_bytes_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "perpwatch.db"
    db.write_bytes(os.urandom(64 * 1024))
    before = digest(db)
    node_config(tmp_path / CONFIG, refused_url(), db)
    for args in (("index",), ("db", "upgrade")):
        result = perpwatch(tmp_path, *args)
        assert result.code == 3
        assert "not a database" in result.one_error()
    assert digest(db) == before
    assert files(tmp_path) == ["perpwatch.db", CONFIG]


def test_sqlite_file_with_a_corrupted_page_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "perpwatch.db"
    assert perpwatch(tmp_path, "db", "upgrade", env={"DATABASE_URL": f"sqlite:///{db}"}).code == 0
    with sqlite3.connect(db) as conn:  # a table of several pages, then one page overwritten
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("CREATE TABLE filler (x BLOB)")
        conn.executemany("INSERT INTO filler VALUES (randomblob(900))", [()] * 200)
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as f:
        f.seek(page * 3)
        f.write(os.urandom(page))
    before = digest(db)
    node_config(tmp_path / CONFIG, refused_url(), db)
    for args in (("db", "upgrade"), ("index",)):
        result = perpwatch(tmp_path, *args)
        assert result.code == 3, result.err
        line = result.one_error()
        assert "perpwatch.db" in line
        assert "backup" in line
    assert digest(db) == before
    assert files(tmp_path) == ["perpwatch.db", CONFIG]


# --- the node -------------------------------------------------------------------------------------


def test_refused_rpc_is_one_line_and_a_json_error(tmp_path: Path) -> None:
    node_config(tmp_path / CONFIG, refused_url(), tmp_path / "perpwatch.db")
    result = perpwatch(tmp_path, "index")
    assert result.code == 3
    line = result.one_error()
    assert "chain dev: node unreachable" in line
    assert "rpc_urls" in line
    assert result.seconds < DEAD_NODE_BOUND_S
    as_json = perpwatch(tmp_path, "index", "--json")
    assert as_json.code == 3
    document = json.loads(as_json.out)
    assert document["exit_code"] == 3
    assert "node unreachable" in document["error"]


def test_silent_rpc_is_reported_in_seconds(tmp_path: Path, hanging_node: FakeNode) -> None:
    node_config(tmp_path / CONFIG, hanging_node.url, tmp_path / "perpwatch.db")
    result = perpwatch(tmp_path, "index")
    assert result.code == 3
    assert "did not answer" in result.one_error() or "no answer" in result.one_error()
    assert result.seconds < DEAD_NODE_BOUND_S


@pytest.mark.parametrize("follow", [False, True], ids=["index", "index --follow"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_the_node_hangs_is_honoured_at_once(
    tmp_path: Path, hanging_node: FakeNode, follow: bool, sig: int
) -> None:
    node_config(tmp_path / CONFIG, hanging_node.url, tmp_path / "perpwatch.db")
    args = ("index", "--follow") if follow else ("index",)
    # Once it waits on the node (its first request hangs), not a fixed time after its start.
    ready = hanging_node.asked
    result, after_signal_s = interrupt(tmp_path, *args, after_s=0.5, sig=sig, ready=ready)
    assert after_signal_s < SIGNAL_BOUND_S
    assert "Traceback" not in result.err
    if follow:
        assert result.code == 0, result.err
        assert result.out_lines[-1] == "stopped"
    else:
        assert result.code == 130, result.err
        assert result.err_lines == ["interrupted"]


def test_signal_during_run_while_the_node_hangs(tmp_path: Path, hanging_node: FakeNode) -> None:
    node_config(tmp_path / CONFIG, hanging_node.url, tmp_path / "perpwatch.db")
    result, after_signal_s = interrupt(tmp_path, "run", after_s=0.5, ready=hanging_node.asked)
    assert after_signal_s < SIGNAL_BOUND_S
    assert result.code == 0, result.err
    assert result.err_lines[-1] == "stopped"
    assert "Traceback" not in result.err
    assert "CancelledError" not in result.err
    assert result.out == ""  # stdout is for alerts only


def test_chain_id_mismatch_in_index_is_exit_3(tmp_path: Path, node: FakeNode) -> None:
    node_config(tmp_path / CONFIG, node.url, tmp_path / "perpwatch.db", chain_id=42)
    result = perpwatch(tmp_path, "index")
    assert result.code == 3
    line = result.one_error()
    assert "expected 42, node reports 31337" in line
    assert "chain_id" in line


# --- index ranges ---------------------------------------------------------------------------------


def test_from_block_above_to_block_is_refused_before_anything(tmp_path: Path) -> None:
    node_config(tmp_path / CONFIG, refused_url(), tmp_path / "perpwatch.db")
    result = perpwatch(tmp_path, "index", "--from-block", "500", "--to-block", "100")
    assert result.code == 2
    assert "--from-block 500 is above --to-block 100" in result.one_error()
    assert files(tmp_path) == [CONFIG]


def test_from_block_beyond_the_head_is_refused(tmp_path: Path, node: FakeNode) -> None:
    node_config(tmp_path / CONFIG, node.url, tmp_path / "perpwatch.db")
    result = perpwatch(tmp_path, "index", "--from-block", "5000")
    assert result.code == 2
    assert "beyond the head" in result.one_error()


def test_to_block_the_node_does_not_reach_says_how_far(tmp_path: Path, node: FakeNode) -> None:
    node_config(tmp_path / CONFIG, node.url, tmp_path / "perpwatch.db")
    result = perpwatch(tmp_path, "index", "--to-block", "150", "--wait", "1")
    assert result.code == 3
    line = result.one_error()
    assert "indexed up to block 100, short of --to-block 150" in line
    reached = perpwatch(tmp_path, "index", "--to-block", "100", "--json")
    assert reached.code == 0, reached.err
    (row,) = json.loads(reached.out)
    assert row["to_block"] == 100


def test_a_lagging_node_is_not_a_reorg(tmp_path: Path, node: FakeNode) -> None:
    db = tmp_path / "perpwatch.db"
    node_config(tmp_path / CONFIG, node.url, db)
    assert perpwatch(tmp_path, "index").code == 0

    def stored_above(block: int) -> int:
        with sqlite3.connect(db) as conn:
            query = "SELECT count(*) FROM block_hashes WHERE number > ?"
            return int(conn.execute(query, (block,)).fetchone()[0])

    kept = stored_above(90)
    assert kept > 0
    node.head = 90  # a fallback node that is 10 blocks behind
    result = perpwatch(tmp_path, "index", "--json")
    assert result.code == 0, result.err
    (row,) = json.loads(result.out)
    assert row["reorgs"] == 0
    assert stored_above(90) == kept


# --- the config -----------------------------------------------------------------------------------


def test_no_config_file_is_named(tmp_path: Path) -> None:
    result = perpwatch(tmp_path, "index")
    assert result.code == 2
    assert "perpwatch.toml not found" in result.one_error()
    assert files(tmp_path) == []
    upgrade = perpwatch(tmp_path, "db", "upgrade")
    assert upgrade.code == 0
    assert str(tmp_path / "perpwatch.db") in upgrade.out  # where it wrote
    assert "perpwatch.toml" in upgrade.err


def test_init_config_takes_the_rpc_urls_from_the_readme_variable(tmp_path: Path) -> None:
    assert perpwatch(tmp_path, "init").code == 0
    text = (tmp_path / CONFIG).read_text(encoding="utf-8")
    assert text.count("rpc_urls_env = ") == text.count("[[chains]]") == 3
    url = "https://arb-mainnet.example/v2/KEY"
    os.environ["ARBITRUM_RPC_URLS"] = url
    try:
        cfg = load_config(tmp_path / CONFIG)
    finally:
        del os.environ["ARBITRUM_RPC_URLS"]
    assert cfg.chain("arbitrum").rpc_urls[0] == url


@pytest.mark.parametrize("variable", ["PERPWATCH_ALERTS__WARNIGN", "PERPWATCH_FOO"])
def test_misnamed_environment_variable_is_named(tmp_path: Path, variable: str) -> None:
    assert perpwatch(tmp_path, "init").code == 0
    result = perpwatch(tmp_path, "db", "upgrade", env={variable: "1.4"})
    assert result.code == 2
    assert result.one_error().startswith(f"error: environment variable {variable}: ")
    assert files(tmp_path) == [CONFIG]


def test_a_string_chain_id_is_refused(tmp_path: Path) -> None:
    assert perpwatch(tmp_path, "init").code == 0
    path = tmp_path / CONFIG
    path.write_text(path.read_text().replace("chain_id = 42161", 'chain_id = "42161"'))
    result = perpwatch(tmp_path, "db", "upgrade")
    assert result.code == 2
    assert "chains[0].chain_id: must be a valid integer" in result.one_error()
    assert files(tmp_path) == [CONFIG]


# --- alerts ---------------------------------------------------------------------------------------


def telegram_config(path: Path, base_url: str) -> None:
    path.write_text(
        "[channels]\nconsole = false\n[channels.telegram]\nenabled = true\n"
        f'base_url = "{base_url}"\nchat_ids = [-100123]\n',
        encoding="utf-8",
    )


def test_test_alert_reports_a_silent_telegram(tmp_path: Path, hanging_node: FakeNode) -> None:
    telegram_config(tmp_path / CONFIG, hanging_node.url)
    token = "4242:secret-token-value"
    result = perpwatch(tmp_path, "test-alert", env={"PERPWATCH_TELEGRAM_BOT_TOKEN": token})
    assert result.code == 3
    assert result.out_lines == [
        "telegram:-100123: failed: telegram: the server accepted the connection but did not "
        "answer in time"
    ]
    assert "1 of 1 channel(s) failed" in result.one_error()
    assert token not in result.out + result.err


def test_test_alert_delivers_through_each_channel(tmp_path: Path) -> None:
    from devnet.telegram_api import TelegramApi

    token = "4242:secret-token-value"
    with TelegramApi(token) as api:
        telegram_config(tmp_path / CONFIG, api.url)
        text = (tmp_path / CONFIG).read_text().replace("console = false", "console = true")
        (tmp_path / CONFIG).write_text(text)
        result = perpwatch(tmp_path, "test-alert", env={"PERPWATCH_TELEGRAM_BOT_TOKEN": token})
        assert result.code == 0, result.err
        assert result.out_lines[-2:] == ["console: delivered", "telegram:-100123: delivered"]
        assert len(api.messages) == 1
        only = perpwatch(
            tmp_path, "test-alert", "--channel", "telegram",
            env={"PERPWATCH_TELEGRAM_BOT_TOKEN": token},
        )  # fmt: skip
        assert only.out_lines == ["telegram:-100123: delivered"]


# --- the command line itself ----------------------------------------------------------------------


def test_version_help_and_flags(tmp_path: Path) -> None:
    version = perpwatch(tmp_path, "--version")
    assert version.code == 0
    assert version.out.startswith("perpwatch ")
    short = perpwatch(tmp_path, "-h")
    assert short.code == 0
    assert "Usage" in short.out
    help_text = perpwatch(tmp_path, "init", "--help").out
    force = next(line for line in help_text.splitlines() if "--force" in line)
    assert "<bool>" not in force
    assert perpwatch(tmp_path, "init").code == 0
    assert perpwatch(tmp_path, "init", "--force").code == 0
    assert perpwatch(tmp_path, "init", "--force", "true").code == 2
