"""Migration 0005 converts existing ``raw_events`` rows to the lean layout (block hashes once
per block in ``blocks``) and its downgrade restores them, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from indexer.store.engine import MIGRATIONS_DIR

OLD_INSERT = sa.text(
    "INSERT INTO raw_events (chain_id, block_number, block_hash, log_index, tx_hash, address, "
    "topic0, source, event_name, args, data) VALUES (:chain, :block, :hash, :log, :tx, :address, "
    ":topic0, 'src', :name, :args, :data)"
)
ADDRESS = "0x" + "33" * 20


def _hash(tag: str) -> str:
    return "0x" + tag.encode().hex().ljust(64, "0")


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _old_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for chain in (1, 2):
        for block in (10, 11):
            for log in range(3):
                rows.append(
                    {
                        "chain": chain,
                        "block": block,
                        "hash": _hash(f"b{chain}-{block}"),
                        "log": log,
                        "tx": _hash(f"t{chain}-{block}-{log}"),
                        "address": ADDRESS,
                        "topic0": _hash("e"),
                        "name": "AnswerUpdated" if log else None,
                        "args": '{"current": "7"}' if log else None,
                        "data": None if log else b"\x01\x02",
                    }
                )
    return rows


@pytest.mark.db
def test_0005_moves_block_hashes_to_blocks_and_back(empty_engine: Engine) -> None:
    engine = empty_engine
    _migrate(engine, "0004")
    old = _old_rows()
    # A competing block's log stored later at the same (chain, number, index) (a fork never
    # rolled back): the later row wins.
    stale = old[0] | {"hash": _hash("fork"), "tx": _hash("fork-tx")}
    with engine.begin() as conn:
        conn.execute(OLD_INSERT, [old[0] | {"hash": _hash("orphan")}, *old[1:]])
        conn.execute(
            sa.text("DELETE FROM raw_events WHERE block_hash = :h"), {"h": _hash("orphan")}
        )
        conn.execute(OLD_INSERT, [stale])
    # ``stale`` replaces old[0]; everything else is as stored.
    expected = [stale, *old[1:]]

    _migrate(engine, "0005")

    with engine.connect() as conn:
        events = conn.execute(
            sa.text(
                "SELECT e.chain_id, e.block_number, b.hash, e.log_index, e.tx_hash, e.data "
                "FROM raw_events e JOIN blocks b ON b.chain_id = e.chain_id "
                "AND b.number = e.block_number"
            )
        ).all()
        blocks = conn.execute(sa.text("SELECT count(*) FROM blocks")).scalar_one()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("raw_events")}
        indexes = sa.inspect(conn).get_indexes("raw_events")
    assert blocks == 4
    assert "block_hash" not in columns
    assert "id" not in columns
    assert indexes == []
    got = {(c, b, h, i, t, None if d is None else bytes(d)) for c, b, h, i, t, d in events}
    want = {(r["chain"], r["block"], r["hash"], r["log"], r["tx"], r["data"]) for r in expected}
    # Block (1, 10) takes the hash of its newest log (the competing block's).
    want = {(c, b, _hash("fork") if (c, b) == (1, 10) else h, i, t, d) for c, b, h, i, t, d in want}
    assert got == want

    _migrate(engine, "0004", down=True)

    with engine.connect() as conn:
        back = conn.execute(
            sa.text("SELECT chain_id, block_number, block_hash, log_index FROM raw_events")
        ).all()
    assert {tuple(r) for r in back} == {(c, b, h, i) for c, b, h, i, _, _ in want}
