"""The watch list the API writes: the monitor reads a listed wallet from its next tick on, even
under a wallets-only scope, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.scenario import World
from indexer.config.loader import Config
from indexer.store.accounts import load_accounts
from indexer.store.columns import utcnow
from monitor.latest.tables import LatestHealth
from monitor.runtime.service import Monitor
from monitor.watchlist import add_wallet, remove_wallet, watched_wallets
from tests.monitor_helpers import config_data
from tests.monitor_helpers import world as world

pytestmark = pytest.mark.chain

_health = LatestHealth.__table__  # type: ignore[attr-defined]


def _watched_owners(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        ids = set(conn.execute(sa.select(_health.c.account_id)).scalars())
    return {a.owner for i, a in load_accounts(engine) if i in ids}


def test_a_listed_wallet_is_monitored_from_the_next_tick(
    world: World, engine: Engine, db_url: str
) -> None:
    data = config_data(demo_config(world, db_url))
    data["wallets"] = [{"address": world.hl_traders[0]}]
    for protocol in data["protocols"]:
        protocol["watch"] = "wallets"  # the GMX book too: only watched wallets
    monitor = Monitor(Config.model_validate(data), engine, {})
    first, second = world.hl_traders[0].lower(), world.hl_traders[1].lower()

    asyncio.run(monitor.tick_all())
    assert _watched_owners(engine) == {first}

    assert add_wallet(engine, world.hl_traders[1], label="desk", now=utcnow())
    assert not add_wallet(engine, second, label="desk 2", now=utcnow())  # a label change
    assert [(w.address, w.label) for w in watched_wallets(engine)] == [(second, "desk 2")]
    asyncio.run(monitor.tick_all())
    assert _watched_owners(engine) == {first, second}

    assert remove_wallet(engine, second)
    assert not remove_wallet(engine, second)
    assert watched_wallets(engine) == []
