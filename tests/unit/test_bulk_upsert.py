"""``BulkInsert.upsert``: the conflict clause that replaces a stored row's other columns."""

from __future__ import annotations

from indexer.store.bulk import BulkInsert

COLUMNS = {"id": "bigint", "ref": "text", "owner": "text", "block_number": "bigint"}


def test_an_upsert_replaces_every_column_but_the_key_and_those_kept() -> None:
    upsert = BulkInsert.upsert("accounts", COLUMNS, ["id"], keep=["ref"])
    assert upsert.conflict == (
        "ON CONFLICT (id) DO UPDATE SET "
        "owner = excluded.owner, block_number = excluded.block_number"
    )
    assert upsert.sql(2).startswith(
        "INSERT INTO accounts (id, ref, owner, block_number) VALUES (?, ?, ?, ?), (?, ?, ?, ?) "
    )


def test_a_key_of_several_columns_is_named_in_order() -> None:
    upsert = BulkInsert.upsert("t", COLUMNS, ["ref", "id"])
    assert upsert.conflict.startswith("ON CONFLICT (ref, id) DO UPDATE SET owner = ")
