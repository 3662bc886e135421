"""Accounts and observations for routing tests: one isolated account per owner."""

from __future__ import annotations

import math

from sqlalchemy.engine import Engine

from indexer.models import MarginAccount, MarginMode
from indexer.store.engine import session
from indexer.store.tables import Account, validated
from monitor.alerts.apply import Observation
from monitor.health.account import AccountHealth

__all__ = ["OWNERS", "observe", "owner_account"]

OWNERS = ["0x" + f"{i:02x}" * 20 for i in range(1, 6)]


def owner_account(
    engine: Engine, owner: str, protocol: str = "gmx_v2"
) -> tuple[int, MarginAccount]:
    """An account row for ``owner`` and its model."""
    account = MarginAccount(
        chain_id=42161, protocol=protocol, owner=owner, ref=owner[:10] + protocol,
        mode=MarginMode.ISOLATED, collateral=(), positions=(), block_number=1,
    )  # fmt: skip
    with session(engine) as s:
        row = validated(Account, chain_id=42161, protocol=protocol, owner=owner, ref=account.ref,
                        mode=MarginMode.ISOLATED, block_number=1)  # fmt: skip
        s.add(row)
        s.flush()
        assert row.id is not None
        return row.id, account


def observe(account_id: int, account: MarginAccount, health: float, block: int = 10) -> Observation:
    """The account seen at ``health`` (no positions: only the health triggers apply)."""
    valued = AccountHealth(health * 100.0, 100.0, health, (), None, None)
    return Observation(account_id, account, valued if math.isfinite(health) else None, block)
