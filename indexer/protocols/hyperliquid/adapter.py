"""Hyperliquid (HyperCore perps, read through HyperEVM's read precompiles) as margin accounts.

HyperCore emits no EVM events, so ``log_source()`` is None and the owners come from the watch
list. One ``read_accounts`` is two Multicall3 batch plans at one block: Multicall3's
``getBlockNumber``, then ``perpAssetInfo`` and ``markPx`` per configured perp, then per owner
``accountMarginSummary`` per dex and ``position`` per perp (per isolated perp only for a wallet
read before); then the other perps' ``position`` of the wallets whose summaries say their cross
positions changed (:mod:`indexer.protocols.hyperliquid.memory`). Batches stay small (a failing
precompile burns the gas forwarded to it, PROTOCOLS.md §3.1).

Normal form (PROTOCOLS.md §3.2): one CROSS account per (owner, dex) with the cross positions
and a USDC collateral, one ISOLATED account per isolated position. The maintenance rate is
``1 / (2 · maxLeverage)``, or the configured margin tier at the current notional (its deduction
becomes a negative ``fixed_requirement``). Prices are HyperCore's MARK prices, which its
liquidation rule uses; USDC counts at exactly 1 USD, the unit HyperCore keeps margin in.

    adapter = HyperliquidAdapter(chain_id=999, markets=[0, 1])
    read = adapter.read_accounts(["0xabc…"])        # Read(calls, follow=…, batch_size=20)
    accounts = await run_read(rpc, read, block)     # list[MarginAccount]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from indexer.decode.abi import abi_entry, function_signature, selector
from indexer.errors import ConfigError, DecodeError
from indexer.models import MarginAccount
from indexer.protocols.base import CallResult, Read, followed
from indexer.protocols.hyperliquid.decode import (
    MarginSummary,
    PerpInfo,
    RawPosition,
    decode_margin_summary,
    decode_mark_px,
    decode_perp_info,
    decode_position,
    dex_of,
    margin_summary_call,
    mark_px_call,
    perp_asset_info_call,
    position_call,
)
from indexer.protocols.hyperliquid.margin import (
    USDC,
    AccountContext,
    MarginTier,
    PerpLeg,
    cross_account,
    isolated_account,
    mark_price_usd,
)
from indexer.protocols.hyperliquid.memory import (
    SeenWallet,
    WalletMemory,
    cross_unchanged,
    seen_wallet,
)
from indexer.reads.multicall import MULTICALL3_ADDRESS, Call3
from indexer.scan.rows import EventRow, LogSource, Touch

DEFAULT_BATCH_SIZE = 20
_BLOCK_NUMBER = Call3(
    MULTICALL3_ADDRESS,
    selector(function_signature(abi_entry("multicall3/Multicall3.json", "getBlockNumber"))),
    allow_failure=False,
)


@dataclass(frozen=True, slots=True)
class _Market:
    """One perp at the read's block: its info and mark price (USD · 10^(6 - szDecimals))."""

    info: PerpInfo
    mark_px: int


@dataclass(frozen=True, slots=True)
class _Wallet:
    """One wallet in a read: its summaries by dex, the positions known so far (read now, or
    remembered where its summaries say they hold), the perps still to read, and ``reads``
    since its last full read (0: this one is)."""

    summaries: dict[int, MarginSummary]
    positions: dict[int, RawPosition]
    unread: tuple[int, ...]
    reads: int


class HyperliquidAdapter:
    """Hyperliquid perps on HyperEVM (chain 999, or a devnet with the simulated precompiles).

    ``markets`` are perp asset ids (index in ``meta.universe``; HIP-3 ids 100000+); every
    market a watched wallet trades in must be listed, since a cross account's USDC is derived
    from the dex-wide raw USD. ``dexes`` default to the dexes of ``markets``. ``margin_tiers``
    optionally maps an asset id to its tiers (ascending ``lower_bound_usd``, the first 0).
    With ``remember_wallets`` (the default) the adapter keeps each wallet's last read, so
    that reading it again asks only what may have changed (:mod:`.memory`).

    Raises:
        ConfigError: no markets, a negative id, a batch size below 1, or bad tiers.
    """

    name = "hyperliquid"

    def __init__(
        self,
        chain_id: int,
        markets: Sequence[int],
        dexes: Sequence[int] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        margin_tiers: Mapping[int, Sequence[MarginTier]] | None = None,
        remember_wallets: bool = True,
    ) -> None:
        if not markets or any(m < 0 for m in markets) or batch_size < 1:
            raise ConfigError("hyperliquid: markets must be non-empty asset ids, batch_size >= 1")
        self.chain_id = chain_id
        self.markets = tuple(dict.fromkeys(markets))
        self.dexes = tuple(sorted(set(dexes if dexes is not None else map(dex_of, markets))))
        self.batch_size = batch_size
        self.memory = WalletMemory() if remember_wallets else None
        self.margin_tiers: dict[int, tuple[MarginTier, ...]] = {
            m: tuple(t) for m, t in (margin_tiers or {}).items()
        }
        for perp, tiers in self.margin_tiers.items():
            if not tiers or tiers[0].lower_bound_usd != 0:
                raise ConfigError(f"hyperliquid: margin tiers of {perp} must start at 0 USD")

    def log_source(self) -> LogSource | None:
        """None: HyperCore state changes emit no EVM logs."""
        return None

    def touched(self, rows: Sequence[EventRow]) -> list[Touch]:
        """Nothing: there are no events to learn touched accounts from."""
        return []

    def _market_calls(self) -> list[Call3]:
        return [c for m in self.markets for c in (perp_asset_info_call(m), mark_px_call(m))]

    def _read_markets(self, results: Iterator[CallResult]) -> dict[int, _Market]:
        markets = {}
        for perp in self.markets:
            info = decode_perp_info(perp, next(results))
            markets[perp] = _Market(info, decode_mark_px(perp, next(results)))
        return markets

    def expect_changes(self, owners: Iterable[str]) -> None:
        """Read these wallets in full next time, in one step (``RemembersOwners``)."""
        if self.memory is not None:
            self.memory.forget(owners)

    def read_outcomes(self) -> Mapping[str, int]:
        """Wallets read since the start, by outcome (``WalletMemory.outcomes``)."""
        return dict(self.memory.outcomes) if self.memory is not None else {}

    def read_accounts(self, owners: Sequence[str]) -> Read[list[MarginAccount]]:
        """Every open account of ``owners`` (lower-case 0x addresses) at one block.

        A wallet read before (:mod:`indexer.protocols.hyperliquid.memory`) is first asked its
        margin summaries and isolated positions only; the follow-up asks the other markets'
        positions of those whose summaries say their cross positions changed, often none.
        """
        owners = list(dict.fromkeys(o.lower() for o in owners))  # one read per wallet
        seen = {o: self.memory.recall(o) for o in owners} if self.memory is not None else {}
        first = {o: s.isolated if (s := seen.get(o)) else self.markets for o in owners}
        calls = [_BLOCK_NUMBER, *self._market_calls()]
        shared = len(calls)  # the block and the markets: all but the wallets'
        for owner in owners:
            calls += [margin_summary_call(dex, owner) for dex in self.dexes]
            calls += [position_call(owner, m) for m in first[owner]]

        def follow(results: Sequence[CallResult]) -> Read[list[MarginAccount]]:
            if len(results) != len(calls):
                raise DecodeError(f"hyperliquid: {len(results)} results for {len(calls)} calls")
            it = iter(results)
            block = _decode_block_number(next(it))
            markets = self._read_markets(it)
            marks = {m: market.mark_px for m, market in markets.items()}
            wallets = {o: self._wallet(it, first[o], seen.get(o), marks) for o in owners}
            more = tuple(position_call(o, m) for o, w in wallets.items() for m in w.unread)

            def decode(results: Sequence[CallResult]) -> list[MarginAccount]:
                if len(results) != len(more):
                    raise DecodeError(f"hyperliquid: {len(results)} results for {len(more)} calls")
                return self._accounts(block, markets, wallets, iter(results))

            return Read(more, decode, self.batch_size)

        return Read(tuple(calls), followed, self.batch_size, follow=follow, shared=shared)

    def _wallet(
        self,
        results: Iterator[CallResult],
        perps: Sequence[int],
        known: SeenWallet | None,
        marks: Mapping[int, int],
    ) -> _Wallet:
        """One wallet's first answers (its summaries, then ``perps``' positions): its
        remembered cross positions where the summaries say they hold at ``marks`` (raw mark
        price by perp), else the perps to read."""
        summaries = {dex: decode_margin_summary(next(results)) for dex in self.dexes}
        fresh = {m: decode_position(next(results)) for m in perps}
        unchanged = known is not None and cross_unchanged(known, summaries, fresh, marks)
        if self.memory is not None:
            outcome = "in_full" if known is None else "unchanged" if unchanged else "changed"
            self.memory.outcomes[outcome] += 1
        if known is not None and unchanged:
            return _Wallet(summaries, {**known.cross, **fresh}, (), known.reads_since_full + 1)
        return _Wallet(summaries, fresh, tuple(m for m in self.markets if m not in fresh), 0)

    def _accounts(
        self,
        block: int,
        markets: Mapping[int, _Market],
        wallets: Mapping[str, _Wallet],
        results: Iterator[CallResult],
    ) -> list[MarginAccount]:
        """The wallets' accounts, with ``results`` answering their unread perps in order; each
        wallet is remembered as read."""
        accounts: list[MarginAccount] = []
        for owner, wallet in wallets.items():
            read = dict(wallet.positions)
            read.update((m, decode_position(next(results))) for m in wallet.unread)
            positions = {m: read[m] for m in self.markets if m in read}  # market order
            ctx = AccountContext(self.chain_id, self.name, owner, block)
            accounts += self._owner_accounts(ctx, markets, wallet.summaries, positions)
            if self.memory is not None:
                seen = seen_wallet(block, wallet.summaries, positions, wallet.reads)
                self.memory.remember(owner, seen)
        return accounts

    def _owner_accounts(
        self,
        ctx: AccountContext,
        markets: Mapping[int, _Market],
        summaries: Mapping[int, MarginSummary],
        positions: Mapping[int, RawPosition],
    ) -> list[MarginAccount]:
        """The owner's cross account per dex (if it holds anything) and isolated accounts."""
        legs = [
            PerpLeg(markets[m].info, pos, markets[m].mark_px, self.margin_tiers.get(m, ()))
            for m, pos in positions.items()
            if pos.szi != 0
        ]
        accounts = []
        for dex, summary in summaries.items():
            cross = [
                leg
                for leg in legs
                if not leg.position.is_isolated and dex_of(leg.info.index) == dex
            ]
            account = cross_account(ctx, dex, summary, cross)
            if account is not None:
                accounts.append(account)
        accounts += [isolated_account(ctx, leg) for leg in legs if leg.position.is_isolated]
        return accounts

    def read_prices(self, assets: Sequence[str]) -> Read[dict[str, float]]:
        """Mark prices (USD per coin) of the requested coins among the configured markets, and
        ``USDC`` at 1.0; assets this adapter does not price are left out."""
        wanted = set(assets)
        calls = tuple(self._market_calls())

        def decode(results: Sequence[CallResult]) -> dict[str, float]:
            if len(results) != len(calls):
                raise DecodeError(f"hyperliquid: {len(results)} results for {len(calls)} calls")
            prices = {USDC: 1.0} if USDC in wanted else {}
            for market in self._read_markets(iter(results)).values():
                if market.info.coin in wanted:
                    prices[market.info.coin] = mark_price_usd(market.info, market.mark_px)
            return prices

        return Read(calls, decode, self.batch_size)


def _decode_block_number(result: CallResult) -> int:
    ok, data = result
    if not ok or len(data) != 32:
        raise DecodeError("hyperliquid: Multicall3 getBlockNumber failed")
    return int.from_bytes(data, "big")
