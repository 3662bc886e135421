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

import time
from collections.abc import Callable, Mapping, Sequence

from indexer.decode.abi import selector
from indexer.decode.words import address_word, uint_word
from indexer.errors import ConfigError
from indexer.models import MarginAccount
from indexer.protocols.base import CallResult, Read
from indexer.protocols.gmx_v2 import keys as gmx_keys
from indexer.protocols.gmx_v2.config_memory import (
    CONFIG_EVENT_NAMES,
    CONFIG_MAX_AGE_S,
    ConfigMemory,
)
from indexer.protocols.gmx_v2.decode import (
    PROTOCOL,
    GmxMarket,
    GmxToken,
    PriceQuote,
    decode_positions,
    decode_uint,
    quotes_from_results,
    require_ok,
)
from indexer.protocols.gmx_v2.market import BlockState, margin_account
from indexer.protocols.gmx_v2.market_reads import (
    CONFIG_BASE_KEYS,
    config_keys,
    market_params,
    state_keys,
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
_GET_BYTES32 = selector("getBytes32(bytes32)")
_GET_BLOCK_NUMBER = selector("getBlockNumber()")
_GET_TIMESTAMP = selector("getCurrentBlockTimestamp()")
_LATEST_ROUND_DATA = selector("latestRoundData()")
_DECIMALS = selector("decimals()")
_ZERO_WORD = uint_word(0)
_ALL_WORD = uint_word(2**256 - 1)  # getBytes32ValuesAt clips `end` to the list length
_GET_BOOL = selector("getBool(bytes32)")


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


_EVENT_NAMES = tuple(
    _hex(gmx_keys.event_name_hash(n))
    for n in (POSITION_INCREASE, POSITION_DECREASE, *CONFIG_EVENT_NAMES)
)
"""topic2 of the EventLog1 records ``log_source`` selects (hashed once, not per call)."""
_CONFIG_BASE_TOPICS = frozenset(_hex(key) for key in CONFIG_BASE_KEYS)
"""The base keys of the ``Config`` writes that change what the adapter reads, as the rows hold
them (``topic2``: EventLog1's ``topic1``)."""


class GmxV2Adapter:
    """GMX v2 on one chain. ``addresses`` needs ``data_store``, ``reader`` and
    ``event_emitter``; ``markets`` are the markets whose positions can be valued, ``tokens``
    maps every index and collateral token (lower-case address) to its normal-form facts.
    The configuration is read again after a ``Config`` event or ``config_max_age_s``
    (:mod:`.config_memory`; 0: on every read).

    Raises:
        ConfigError: a required address is missing, or a market's token is not in ``tokens``.
    """

    name = PROTOCOL
    # A liquidation order always takes the whole size (LiquidationUtils sets sizeDeltaUsd to
    # position.sizeInUsd()), and a decrease is a close only when it leaves sizeInUsd at 0.
    events_end_accounts = True

    def __init__(
        self,
        chain_id: int,
        addresses: Mapping[str, str],
        start_block: int = 0,
        *,
        markets: Sequence[GmxMarket] = (),
        tokens: Mapping[str, GmxToken] | None = None,
        source_name: str | None = None,
        config_max_age_s: float = CONFIG_MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic,
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
        self.config = ConfigMemory(config_max_age_s, monotonic) if config_max_age_s > 0 else None
        """The configuration between reads (:mod:`.config_memory`); None reads it every time."""
        self._config_written = False  # a scan handed over a Config write (take_config_change)
        for market in self.markets.values():
            for token in (market.index_token, market.long_token, market.short_token):
                if token not in self.tokens:
                    raise ConfigError(
                        f"gmx_v2: market {market.market_token}: unknown token {token}"
                    )

    # -- logs ----------------------------------------------------------------------------------

    def log_source(self) -> LogSource:
        """EventLog1 from the EventEmitter with eventName PositionIncrease or PositionDecrease,
        or one of ``Config``'s writes (``CONFIG_EVENT_NAMES``)."""
        return LogSource(
            name=self.source_name,
            chain_id=self.chain_id,
            addresses=(self.event_emitter,),
            topics=((EVENT_LOG1_TOPIC,), _EVENT_NAMES),
            start_block=self.start_block,
        )

    def touched(self, rows: Sequence[EventRow]) -> list[Touch]:
        """Positions touched by decoded PositionIncrease/PositionDecrease rows. A decrease
        with orderType 7 is a liquidation; one that leaves sizeInUsd 0 a closure. Rows of
        other emitters or events are ignored, but a ``Config`` write of a value the adapter
        reads (``CONFIG_BASE_KEYS``) retires the remembered configuration (the scan hands every
        range here before reads at its blocks are built).
        """
        out = []
        for row in rows:
            args = row.get("args")
            if row.get("address") != self.event_emitter or row.get("topic0") != EVENT_LOG1_TOPIC:
                continue
            if args and args.get("eventName") in CONFIG_EVENT_NAMES:
                if row.get("topic2") in _CONFIG_BASE_TOPICS:  # a value perpwatch reads
                    self._config_written = True
                    if self.config is not None:
                        self.config.changed(int(row["block_number"]))
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

    def take_config_change(self) -> bool:
        """Whether ``touched`` saw a ``Config`` write since the last call (``AnnouncesConfig``):
        every open position's terms may have changed with no event of its own."""
        written, self._config_written = self._config_written, False
        return written

    def forget_config(self) -> None:
        """Read the configuration with the next read (``AnnouncesConfig``)."""
        if self.config is not None:
            self.config.forget()

    # -- accounts ------------------------------------------------------------------------------

    def read_accounts(self, owners: Sequence[str]) -> Read[list[MarginAccount]]:
        """Every open position of ``owners`` as an isolated account, at one block.

        One batch reads the block (number, timestamp), every configured market's state
        (``market_reads``), the Chainlink price of each token with a feed (for the
        price-dependent terms: impact clamp, profit cap, borrowing rate) and the owners'
        positions; and the configuration (global values, each market's factors) unless the
        adapter remembers it (:mod:`.config_memory`). The decode raises ``ConfigError`` for a
        position in a market that is not configured (it cannot be valued, and leaving it out
        would report it closed) and ``DecodeError`` if a call failed or returned malformed
        data.
        """
        owners = [o.lower() for o in owners]
        markets = list(self.markets.values())
        feeds = {a: t.feed for a, t in self.tokens.items() if t.feed}
        remembered = self.config.recall() if self.config is not None else None
        calls = [Call3(MULTICALL3_ADDRESS, _GET_BLOCK_NUMBER)]
        calls += [Call3(MULTICALL3_ADDRESS, _GET_TIMESTAMP)]
        for feed in feeds.values():
            calls += [Call3(feed, _LATEST_ROUND_DATA), Call3(feed, _DECIMALS)]
        for market in markets:
            calls += [self._uint(key) for _, key in state_keys(market)]
        # The configuration follows the shared calls, not among them: the reads of one block
        # share those whether or not they carry it (``ReadCache``).
        shared = len(calls)
        calls += self._config_calls(markets) if remembered is None else []
        first_position = len(calls)
        calls += [self._positions(owner) for owner in owners]

        def decode(results: Sequence[CallResult]) -> list[MarginAccount]:
            def uints(start: int, end: int, what: str) -> list[int]:
                return [decode_uint(require_ok(r, what)) for r in results[start:end]]

            block_number, timestamp = uints(0, 2, "block read")
            config = remembered
            if config is None:
                config = tuple(uints(shared, first_position, "configuration read"))
                if self.config is not None:
                    self.config.remember(block_number, config)
            floor, skip, in_tokens = config[:3]
            at = 2 + 2 * len(feeds)
            block = BlockState(
                timestamp, bool(skip), bool(in_tokens), self._prices(feeds, results[2:at])
            )
            state = uints(at, shared, "DataStore read")
            params, at_config, at_state = {}, 3, 0
            for market in markets:
                n_config, n_state = len(config_keys(market)), len(state_keys(market))
                params[market.market_token] = market_params(
                    market,
                    config[at_config + 1 : at_config + 1 + n_config],
                    state[at_state : at_state + n_state],
                    virtual_token_id=config[at_config],
                )
                at_config, at_state = at_config + 1 + n_config, at_state + n_state
            accounts = []
            for result in results[first_position:]:
                data = require_ok(result, "Reader.getAccountPositions")
                for position in decode_positions(data, _position_key):
                    if position.market not in params:
                        raise ConfigError(
                            f"gmx_v2: position {position.key} is in market {position.market}, "
                            "which is not configured"
                        )
                    account, _ = margin_account(
                        position, params[position.market], self.tokens, floor,
                        self.chain_id, block_number, block,
                    )  # fmt: skip
                    accounts.append(account)
            return accounts

        return Read(tuple(calls), decode, shared=shared)

    def _config_calls(self, markets: Sequence[GmxMarket]) -> list[Call3]:
        """The configuration: the global values, then per market its virtual token id and
        ``config_keys``; the order the decode (and the remembered tuple) follows."""
        calls = [
            self._uint(gmx_keys.MIN_COLLATERAL_USD),
            # DataStore keeps bools apart from uints: getUint of a bool key is always 0.
            Call3(self.data_store, _GET_BOOL + gmx_keys.SKIP_BORROWING_FEE_FOR_SMALLER_SIDE),
            Call3(self.data_store, _GET_BOOL + gmx_keys.USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE),
        ]
        for market in markets:
            calls.append(self._bytes32(gmx_keys.virtual_token_id_key(market.index_token)))
            calls += [self._uint(key) for _, key in config_keys(market)]
        return calls

    def _positions(self, owner: str) -> Call3:
        # (dataStore, account, start, end): static words, packed without eth_abi (one per owner).
        args = address_word(self.data_store) + address_word(owner) + _ZERO_WORD + _ALL_WORD
        return Call3(self.reader, _GET_ACCOUNT_POSITIONS + args)

    def _prices(self, feeds: Mapping[str, str], results: Sequence[CallResult]) -> dict[str, int]:
        """Feed answers as GMX prices: USD per smallest unit x 1e30, by token address."""
        quotes = quotes_from_results(list(feeds), results)
        return {
            token: quote.answer * 10 ** (30 - self.tokens[token].decimals - quote.decimals)
            for token, quote in quotes.items()
            if self.tokens[token].decimals + quote.decimals <= 30
        }

    def _bytes32(self, key: bytes) -> Call3:
        return Call3(self.data_store, _GET_BYTES32 + key)

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
