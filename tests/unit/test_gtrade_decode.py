"""gTrade's pure pieces: return data of the diamond, events to touches, lookback rounds, options."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from indexer.decode.abi import abi_entry, canonical_type
from indexer.errors import ConfigError, DecodeError
from indexer.protocols.gtrade.adapter import GTradeAdapter
from indexer.protocols.gtrade.decode import FeedRound, decode_collaterals, decode_trades
from indexer.protocols.gtrade.events import EVENT_TOPICS, touched_by
from indexer.protocols.gtrade.lookback import GTradePair, round_ids
from indexer.protocols.gtrade.options import GTradeOptions
from indexer.scan.rows import TouchKind

DIAMOND = "0x" + "d1" * 20
ALICE = "0x" + "a1" * 20
TOPIC = {name: topic for topic, name in EVENT_TOPICS.items()}


def _result(name: str, value: Any) -> tuple[bool, bytes]:
    outputs = abi_entry("gtrade/GNSMultiCollatDiamond.json", name)["outputs"]
    return True, encode([canonical_type(o) for o in outputs], [value])


def _trade(index: int, collateral: int, trade_type: int = 0) -> tuple[Any, ...]:
    return (ALICE, index, 3, 25_000, True, True, collateral, trade_type, 10**9, 10**15,
            0, 0, False, 12345, 0)  # fmt: skip


def test_batch_trades_drop_empty_slots_and_keep_the_v10_fields() -> None:
    empty = (("0x" + "00" * 20), 0, 0, 0, False, False, 0, 0, 0, 0, 0, 0, False, 0, 0)
    data = _result("getAllTradesForTraders", [_trade(4, 3), _trade(7, 1, 1), empty, empty])
    trades = decode_trades("getAllTradesForTraders", data)
    assert [(t.index, t.collateral_index, t.trade_type) for t in trades] == [(4, 3, 0), (7, 1, 1)]
    assert (trades[0].user, trades[0].pair_index, trades[0].leverage_e3) == (ALICE, 3, 25_000)
    assert (trades[0].collateral_raw, trades[0].open_price_e10) == (10**9, 10**15)


def test_a_failed_read_is_a_decode_error_naming_it() -> None:
    with pytest.raises(DecodeError, match="getTrades reverted"):
        decode_trades("getTrades", (False, b"\x01"))


def test_collaterals_are_one_based_with_decimals_from_precision() -> None:
    raw = [(ALICE, True, 0, 10**18, 1), (DIAMOND, True, 0, 10**6, 10**12)]
    collaterals = decode_collaterals(_result("getCollaterals", raw))
    assert {i: c.decimals for i, c in collaterals.items()} == {1: 18, 2: 6}
    bad = decode_collaterals(_result("getCollaterals", [(ALICE, True, 0, 3 * 10**6, 1)]))
    with pytest.raises(DecodeError, match="precision"):
        _ = bad[1].decimals


def _row(event: str, args: dict[str, Any], address: str = DIAMOND) -> dict[str, Any]:
    return {"topic0": TOPIC[event], "address": address, "args": args, "block_number": 9}


def test_events_touch_close_and_liquidate_trades_by_trader_and_index() -> None:
    rows = [
        _row("TradeStored", {"user": ALICE.upper().replace("0X", "0x"), "index": 2}),
        _row("LimitExecuted", {"user": ALICE, "index": 3, "orderType": 6}),
        _row("LimitExecuted", {"user": ALICE, "index": 4, "orderType": 5}),  # SL close
        _row("TradeClosed", {"user": ALICE, "index": 5}),
        _row("PositionSizeDecreaseExecuted", {"trader": ALICE, "index": "6"}),
        _row("TradeClosed", {"user": ALICE, "index": 7}, address="0x" + "ee" * 20),
        {**_row("TradeClosed", {"user": ALICE, "index": 8}), "topic0": "0x" + "00" * 32},
    ]
    touches = touched_by(rows, DIAMOND)
    assert [(t.ref, t.kind) for t in touches] == [
        (f"{ALICE}:2", TouchKind.TOUCHED),
        (f"{ALICE}:3", TouchKind.LIQUIDATED),
        (f"{ALICE}:4", TouchKind.TOUCHED),
        (f"{ALICE}:5", TouchKind.CLOSED),
        (f"{ALICE}:6", TouchKind.TOUCHED),
    ]
    assert {t.owner for t in touches} == {ALICE}
    assert len(EVENT_TOPICS) == 8


@given(st.one_of(st.none(), st.integers(0, 10**6)), st.integers(1, 10**6), st.integers(1, 100))
def test_lookback_rounds_lie_between_the_last_seen_and_the_latest(
    last_seen: int | None, latest: int, max_rounds: int
) -> None:
    ids = round_ids(last_seen, latest, max_rounds)
    if last_seen is None or last_seen >= latest:
        assert ids == []
        return
    kept = min(latest - last_seen - 1, max_rounds - 1)  # the newest rounds, none twice
    assert ids == list(range(latest - kept, latest))
    assert all(last_seen < r < latest for r in ids)


def test_feed_answers_convert_to_gtrade_prices() -> None:
    assert FeedRound(1, 6_000_012_345_678, 8, 0).price_e10 == 600_001_234_567_800
    assert FeedRound(1, 6 * 10**22, 18, 0).price_e10 == 6 * 10**14
    assert FeedRound(1, 6_000_012_345_678, 8, 0).price == 60000.12345678


def test_a_collateral_named_like_a_pair_is_refused() -> None:
    base = {"name": "gtrade", "chain": "arbitrum", "pairs": {"1": {"asset": "ETH", "feed": ALICE}}}
    with pytest.raises(ValidationError, match=r"collaterals\.2\.asset"):
        GTradeOptions.model_validate({**base, "collaterals": {"2": {"asset": "ETH"}}})
    options = GTradeOptions.model_validate({**base, "collaterals": {"2": {"asset": "WETH"}}})
    assert options.pairs[1].asset == "ETH"  # TOML's string keys become pair indexes
    with pytest.raises(ConfigError, match="both a pair and a collateral"):
        GTradeAdapter(1, DIAMOND, pairs={1: GTradePair("ETH", ALICE)}, collaterals={2: "ETH"})


def test_positions_are_priced_at_the_adverse_lookback_extreme() -> None:
    adapter = GTradeAdapter(1, DIAMOND, pairs={0: GTradePair("BTC", ALICE)})
    assert (adapter.position_asset("BTC", True), adapter.position_asset("BTC", False)) == (
        "BTC:low",
        "BTC:high",
    )
    latest = GTradeAdapter(1, DIAMOND, lookback=False)
    assert latest.position_asset("BTC", True) == "BTC"
