"""GMX v2 (Synthetics): isolated margin, one account per position (PROTOCOLS.md §1).

The adapter describes; :mod:`indexer.reads.execute` executes. Positions are enumerated per owner
with
``Reader.getAccountPositions`` and priced against the DataStore factors of the configured
markets, all in one Multicall3 batch (plus Multicall3's own ``getBlockNumber`` to stamp the
accounts). Decoding lives in :mod:`indexer.protocols.gmx_v2.decode`.

    adapter = GmxV2Adapter(42161, {"data_store": …, "reader": …, "event_emitter": …},
                           markets=[GmxMarket(…)], tokens={weth: GmxToken("ETH", 18, feed)})
    read = adapter.read_accounts(["0xabc…"])          # Read[list[MarginAccount]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eth_abi.abi import encode

from indexer.decode.abi import selector
from indexer.errors import ConfigError
from indexer.models import MarginAccount
from indexer.protocols.base import CallResult, Read
from indexer.protocols.gmx_v2 import keys as gmx_keys
from indexer.protocols.gmx_v2.decode import (
    PROTOCOL,
    GmxMarket,
    GmxToken,
    MarketParams,
    PriceQuote,
    cumulative_borrowing_factor_key,
    decode_positions,
    decode_uint,
    funding_per_size_key,
    margin_account,
    quotes_from_results,
    require_ok,
)
from indexer.reads.multicall import MULTICALL3_ADDRESS, Call3
from indexer.scan.rows import EventRow, LogSource, Touch, TouchKind

__all__ = ["GmxMarket", "GmxToken", "GmxV2Adapter", "PriceQuote"]

EVENT_LOG1_TOPIC = "0x137a44067c8961cd7e1d876f4754a5a3a75989b4552f1843fc69c3b372def160"
POSITION_INCREASE = "PositionIncrease"
POSITION_DECREASE = "PositionDecrease"
ORDER_TYPE_LIQUIDATION = 7

_GET_UINT = selector("getUint(bytes32)")
_GET_ACCOUNT_POSITIONS = selector("getAccountPositions(address,address,uint256,uint256)")
_GET_BLOCK_NUMBER = selector("getBlockNumber()")
_LATEST_ROUND_DATA = selector("latestRoundData()")
_DECIMALS = selector("decimals()")
_ALL = 2**256 - 1  # getBytes32ValuesAt clips `end` to the list length
_CALLS_PER_MARKET = 8


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


class GmxV2Adapter:
    """GMX v2 on one chain. ``addresses`` needs ``data_store``, ``reader`` and
    ``event_emitter``; ``markets`` are the markets whose positions can be valued, ``tokens``
    maps every index and collateral token (lower-case address) to its normal-form facts.

    Raises:
        ConfigError: a required address is missing, or a market's token is not in ``tokens``.
    """

    name = PROTOCOL

    def __init__(
        self,
        chain_id: int,
        addresses: Mapping[str, str],
        start_block: int = 0,
        *,
        markets: Sequence[GmxMarket] = (),
        tokens: Mapping[str, GmxToken] | None = None,
        source_name: str | None = None,
    ) -> None:
        missing = [k for k in ("data_store", "reader", "event_emitter") if k not in addresses]
        if missing:
            raise ConfigError(f"gmx_v2: missing addresses: {', '.join(missing)}")
        self.chain_id = chain_id
        self.start_block = start_block
        self.data_store = addresses["data_store"].lower()
        self.reader = addresses["reader"].lower()
        self.event_emitter = addresses["event_emitter"].lower()
        self.markets = {m.market_token.lower(): _lower_market(m) for m in markets}
        self.tokens = {a.lower(): t for a, t in (tokens or {}).items()}
        self.source_name = source_name or f"{chain_id}:{PROTOCOL}"
        for market in self.markets.values():
            for token in (market.index_token, market.long_token, market.short_token):
                if token not in self.tokens:
                    raise ConfigError(
                        f"gmx_v2: market {market.market_token}: unknown token {token}"
                    )

    # -- logs ----------------------------------------------------------------------------------

    def log_source(self) -> LogSource:
        """EventLog1 from the EventEmitter with eventName PositionIncrease or PositionDecrease."""
        names = tuple(
            _hex(gmx_keys.event_name_hash(n)) for n in (POSITION_INCREASE, POSITION_DECREASE)
        )
        return LogSource(
            name=self.source_name,
            chain_id=self.chain_id,
            addresses=(self.event_emitter,),
            topics=((EVENT_LOG1_TOPIC,), names),
            start_block=self.start_block,
        )

    def touched(self, rows: Sequence[EventRow]) -> list[Touch]:
        """Positions touched by decoded PositionIncrease/PositionDecrease rows. A decrease
        with orderType 7 is a liquidation; one that leaves sizeInUsd 0 a closure. Rows of
        other emitters or events are ignored."""
        out = []
        for row in rows:
            args = row.get("args")
            if row.get("address") != self.event_emitter or row.get("topic0") != EVENT_LOG1_TOPIC:
                continue
            if not args or args.get("eventName") not in (POSITION_INCREASE, POSITION_DECREASE):
                continue
            out.append(
                Touch(
                    protocol=PROTOCOL,
                    ref=str(args["positionKey"]).lower(),
                    owner=str(args["account"]).lower(),
                    block_number=int(row["block_number"]),
                    kind=_touch_kind(args),
                )
            )
        return out

    # -- accounts ------------------------------------------------------------------------------

    def read_accounts(self, owners: Sequence[str]) -> Read[list[MarginAccount]]:
        """Every open position of ``owners`` as an isolated account, at one block.

        The decode raises ``ConfigError`` for a position in a market that is not configured
        (it cannot be valued, and leaving it out would report it closed) and ``DecodeError``
        if a call failed or returned malformed data.
        """
        owners = [o.lower() for o in owners]
        markets = list(self.markets.values())
        calls = [
            Call3(MULTICALL3_ADDRESS, _GET_BLOCK_NUMBER),
            self._uint(gmx_keys.MIN_COLLATERAL_USD),
        ]
        for market in markets:
            calls += [self._uint(key) for key in _market_keys(market)]
        calls += [
            Call3(
                self.reader,
                _GET_ACCOUNT_POSITIONS
                + encode(
                    ["address", "address", "uint256", "uint256"], [self.data_store, owner, 0, _ALL]
                ),
            )
            for owner in owners
        ]

        def decode(results: Sequence[CallResult]) -> list[MarginAccount]:
            block = decode_uint(require_ok(results[0], "Multicall3.getBlockNumber"))
            floor = decode_uint(require_ok(results[1], "DataStore.getUint(MIN_COLLATERAL_USD)"))
            params = {}
            for i, market in enumerate(markets):
                start = 2 + i * _CALLS_PER_MARKET
                params[market.market_token] = _market_params(
                    market, results[start : start + _CALLS_PER_MARKET]
                )
            accounts = []
            for result in results[2 + len(markets) * _CALLS_PER_MARKET :]:
                data = require_ok(result, "Reader.getAccountPositions")
                for position in decode_positions(data, _position_key):
                    if position.market not in params:
                        raise ConfigError(
                            f"gmx_v2: position {position.key} is in market {position.market}, "
                            "which is not configured"
                        )
                    accounts.append(
                        margin_account(
                            position,
                            params[position.market],
                            self.tokens,
                            floor,
                            self.chain_id,
                            block,
                        )
                    )
            return accounts

        return Read(tuple(calls), decode)

    def _uint(self, key: bytes) -> Call3:
        return Call3(self.data_store, _GET_UINT + key)

    # -- prices --------------------------------------------------------------------------------

    def read_price_quotes(self, assets: Sequence[str]) -> Read[dict[str, PriceQuote]]:
        """Chainlink ``latestRoundData`` and ``decimals`` of each asset's configured feed.

        Assets without a configured feed are left out of the answer, as are feeds that revert
        or answer ≤ 0. ``PriceQuote.updated_at`` is for staleness checks.
        """
        feeds = self._feeds()
        wanted = [a for a in dict.fromkeys(assets) if a in feeds]
        calls = []
        for asset in wanted:
            calls += [Call3(feeds[asset], _LATEST_ROUND_DATA), Call3(feeds[asset], _DECIMALS)]

        def decode(results: Sequence[CallResult]) -> dict[str, PriceQuote]:
            return quotes_from_results(wanted, results)

        return Read(tuple(calls), decode)

    def read_prices(self, assets: Sequence[str]) -> Read[dict[str, float]]:
        """USD per whole unit from the Chainlink feeds (see ``read_price_quotes``)."""
        quotes = self.read_price_quotes(assets)

        def decode(results: Sequence[CallResult]) -> dict[str, float]:
            return {asset: q.price for asset, q in quotes.decode(results).items()}

        return Read(quotes.calls, decode)

    def _feeds(self) -> dict[str, str]:
        return {t.asset: t.feed.lower() for t in self.tokens.values() if t.feed}


def _lower_market(m: GmxMarket) -> GmxMarket:
    return GmxMarket(
        m.market_token.lower(), m.index_token.lower(), m.long_token.lower(), m.short_token.lower()
    )


def _market_keys(m: GmxMarket) -> list[bytes]:
    """The eight DataStore keys ``_market_params`` decodes, in its order."""
    token = m.market_token
    return [
        gmx_keys.min_collateral_factor_for_liquidation_key(token),
        gmx_keys.position_fee_factor_key(token, False),
        cumulative_borrowing_factor_key(token, True),
        cumulative_borrowing_factor_key(token, False),
        *(
            funding_per_size_key(token, collateral, is_long)
            for collateral in (m.long_token, m.short_token)
            for is_long in (True, False)
        ),
    ]


def _market_params(m: GmxMarket, results: Sequence[CallResult]) -> MarketParams:
    values = [decode_uint(require_ok(r, "DataStore.getUint")) for r in results]
    funding = {}
    for i, (collateral, is_long) in enumerate(
        (c, side) for c in (m.long_token, m.short_token) for side in (True, False)
    ):
        funding[collateral, is_long] = values[4 + i]
    return MarketParams(
        market=m,
        liquidation_factor_e30=values[0],
        position_fee_factor_e30=values[1],
        borrowing_e30={True: values[2], False: values[3]},
        funding_per_size=funding,
    )


def _position_key(account: str, market: str, collateral: str, is_long: bool) -> str:
    return _hex(gmx_keys.position_key(account, market, collateral, is_long))


def _touch_kind(args: Mapping[str, object]) -> TouchKind:
    if args.get("eventName") != POSITION_DECREASE:
        return TouchKind.TOUCHED
    if int(str(args.get("orderType", -1))) == ORDER_TYPE_LIQUIDATION:
        return TouchKind.LIQUIDATED
    if int(str(args.get("sizeInUsd", -1))) == 0:
        return TouchKind.CLOSED
    return TouchKind.TOUCHED
