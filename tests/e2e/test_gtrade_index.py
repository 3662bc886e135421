"""``perpwatch index`` on the gTrade simulator: the diamond's v10 events are stored decoded and
mark the trades they touch, closed or liquidated (ref ``trader:index``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from devnet.deploy import Devnet
from devnet.scenario import World, build_world
from indexer.store.engine import make_engine
from tests.config_helpers import clean_env as clean_env
from tests.config_helpers import run, world_config_file

pytestmark = [pytest.mark.chain, pytest.mark.usefixtures("clean_env")]


@pytest.fixture
def world(devnet_session: Devnet) -> Iterator[World]:
    snapshot_id = devnet_session.anvil.snapshot()
    yield build_world(devnet_session, gmx_traders=0, hl_traders=0, gtrade_traders=3)
    devnet_session.anvil.revert(snapshot_id)


def _index(config: Path) -> dict[str, Any]:
    result = run("--config", str(config), "index", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["source"]: r for r in json.loads(result.stdout)}
    return dict(rows["devnet:gtrade"])


def _rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    with make_engine(f"sqlite:///{db}").connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(query))]


def test_events_are_stored_decoded_and_touch_their_trades(world: World, tmp_path: Path) -> None:
    assert world.gtrade is not None
    book, gt = world.gtrade, world.gtrade.gt
    config = world_config_file(world, tmp_path)
    db = tmp_path / "perpwatch.db"
    trades = list(book.trades)
    assert _index(config)["logs"] == 2 * len(trades)  # TradeStored + MarketExecuted each
    diamond = gt.diamond.address.lower()
    names = _rows(
        db,
        f"SELECT event_name, count(*) FROM raw_events WHERE address = '{diamond}' "
        "GROUP BY event_name",
    )
    assert dict(names) == {"TradeStored": len(trades), "MarketExecuted": len(trades)}
    touched = _rows(db, "SELECT ref, owner, kind FROM touched_accounts WHERE protocol = 'gtrade'")
    assert sorted(touched) == sorted((t.ref, t.trader, "touched") for t in trades)

    closed, liquidated = trades[0], trades[1]
    gt.close(closed.trader, closed.index)
    gt.update_collateral(trades[2].trader, trades[2].index, 10**6)
    start = gt.latest_round(liquidated.pair) + 1
    trader = gt.diamond.w3.to_checksum_address(liquidated.trader)
    long = bool(gt.diamond.functions.getTrade(trader, liquidated.index).call()[4])
    price = gt.prices_usd[liquidated.pair]
    gt.set_price(liquidated.pair, Decimal(1) if long else price * 3)  # far past either way
    gt.liquidate(liquidated.trader, liquidated.index, start)
    after = _index(config)
    assert after["logs"] == 2 + 1 + 2  # close: Market+Closed; collateral; Limit(6)+Closed
    kinds = dict(_rows(db, "SELECT ref, kind FROM account_endings WHERE protocol = 'gtrade'"))
    assert kinds == {closed.ref: "closed", liquidated.ref: "liquidated"}
    args = _rows(db, "SELECT args FROM raw_events WHERE event_name = 'LimitExecuted'")
    (limit,) = [json.loads(a) if isinstance(a, str) else a for (a,) in args]
    assert int(limit["orderType"]) == 6
    assert limit["user"].lower() == liquidated.trader
