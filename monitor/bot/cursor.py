"""The bot's ``getUpdates`` offset in the database: a restart neither replays nor skips.

offset = load_offset(engine, "telegram")     # 0 the first time: every pending update
save_offset(engine, "telegram", update_id + 1)
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.store.columns import utcnow
from indexer.store.engine import upsert_insert, write_transaction
from monitor.subscriptions.tables import BotCursor

__all__ = ["load_offset", "save_offset"]

_CURSORS = BotCursor.__table__  # type: ignore[attr-defined]


def load_offset(engine: Engine, name: str) -> int:
    """The next update id bot ``name`` asks for (0: none handled yet)."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(_CURSORS.c.update_offset).where(_CURSORS.c.name == name)
        ).scalar_one_or_none()
    return int(found or 0)


def save_offset(engine: Engine, name: str, offset: int) -> None:
    """Record that every update below ``offset`` was handled (never moves backwards)."""
    with write_transaction(engine) as conn:
        stmt = upsert_insert(conn)(_CURSORS).values(
            name=name, update_offset=offset, updated_at=utcnow()
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "update_offset": sa.func.max(_CURSORS.c.update_offset, offset)
                    if conn.dialect.name == "sqlite"
                    else sa.func.greatest(_CURSORS.c.update_offset, offset),
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )
