"""Closing the alert episodes of lenses an account no longer has.

A lens (``monitor.subscriptions.routing.Lens``) is a set of thresholds some watcher of the
account uses. When the last such watcher leaves or changes its thresholds, the lens's state
stays behind; were it resumed as it was, a chat that later set those thresholds again would
have a warning told long ago hold back today's (or hear a recovery from an episode it never
heard begin). So when the routing table changes, the open episode of every lens gone is closed
without a word: its state goes back to ok in a new episode (alerts are unique per episode, so
a lens that comes back tells what it finds as news).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.models import MarginAccount
from indexer.store.accounts import load_accounts
from indexer.store.engine import write_transaction
from monitor.alerts.levels import Level
from monitor.tables import LensStateRow

_lens_states = LensStateRow.__table__  # type: ignore[attr-defined]
_CHUNK = 400  # (account, lens) pairs per statement: two parameters each


def close_gone_lenses(engine: Engine, lens_keys: Callable[[MarginAccount], Collection[str]]) -> int:
    """Close the open episode (any level but ok) of every stored secondary-lens state whose
    account's lenses (``lens_keys``: their keys) no longer include it; how many were closed.
    (An account that is gone takes its states with it.)"""
    query = sa.select(_lens_states.c.account_id, _lens_states.c.lens).where(
        _lens_states.c.level != Level.OK.value
    )
    with engine.connect() as conn:
        open_ = [(int(account_id), str(key)) for account_id, key in conn.execute(query)]
    if not open_:
        return 0
    ids = sorted({account_id for account_id, _ in open_})
    accounts = dict(load_accounts(engine, status=None, ids=ids, children=False))
    gone = [
        (account_id, key)
        for account_id, key in open_
        if account_id in accounts and key not in lens_keys(accounts[account_id])
    ]
    pair = sa.tuple_(_lens_states.c.account_id, _lens_states.c.lens)
    closed = {"level": Level.OK.value, "episode": _lens_states.c.episode + 1, "alerted": [],
              "health": None, "since": None}  # fmt: skip
    with write_transaction(engine) as conn:
        for start in range(0, len(gone), _CHUNK):
            chunk = gone[start : start + _CHUNK]
            conn.execute(_lens_states.update().where(pair.in_(chunk)).values(**closed))
    return len(gone)
