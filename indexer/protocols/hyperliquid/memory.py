"""What the last read of each wallet found, so that polling an unchanged wallet costs its
margin summaries and isolated positions, not a position call per configured market.

HyperCore emits no events, so watched wallets are polled, and a full poll asks ``position``
of every configured market for every wallet (21 calls a wallet at 20 markets). But a wallet's
cross positions change only through trades, liquidations and transfers, and each of those
moves the dex's raw USD: a trade of ``Δszi`` at ``px`` moves ``-Δszi · px`` into it (plus
fees on the venue), margin moved to or from an isolated position moves it, funding settles
into it. So when a dex's ``accountMarginSummary`` shows the raw USD of the last read, and its
``ntlPos`` and ``accountValue`` are what the remembered cross sizes give at today's marks

    ntlPos       = Σ |szi| · mark
    accountValue = rawUsd + Σ szi · mark

the remembered cross positions still hold, and only the isolated ones (whose liquidation
leaves the cross summary as it was) are read again. A cross risk depends on the raw USD and
the sizes alone, so a round trip that left both as they were but moved the entry notional
(no fees on the devnet) changes no health, only the collateral/PnL split; every
``FULL_READ_EVERY``-th poll of a wallet reads every market anyway, which bounds that and any
coincidence the three equalities could miss. Where the venue's summary does not follow this
arithmetic, the check fails and the wallet is read in full: slower, never wrong.

Pure apart from :class:`WalletMemory`'s dictionary; no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from indexer.protocols.hyperliquid.decode import MarginSummary, RawPosition, dex_of

FULL_READ_EVERY = 20
"""One poll in this many reads the wallet's every market, whatever its summaries say."""


@dataclass(frozen=True, slots=True)
class SeenWallet:
    """One wallet at ``block``: raw USD by dex, the cross positions (non-empty, by perp), the
    perps it holds on isolated margin, and how many reads since the last full one."""

    block: int
    raw_usd_e6: Mapping[int, int]
    cross: Mapping[int, RawPosition]
    isolated: tuple[int, ...]
    reads_since_full: int = 0


def seen_wallet(
    block: int,
    summaries: Mapping[int, MarginSummary],
    positions: Mapping[int, RawPosition],
    reads_since_full: int = 0,
) -> SeenWallet:
    """What a read of every market (or the remembered cross ones plus fresh isolated ones)
    says about the wallet."""
    return SeenWallet(
        block,
        {dex: s.raw_usd_e6 for dex, s in summaries.items()},
        {m: p for m, p in positions.items() if p.szi != 0 and not p.is_isolated},
        tuple(m for m, p in positions.items() if p.szi != 0 and p.is_isolated),
        reads_since_full,
    )


def cross_unchanged(
    seen: SeenWallet,
    summaries: Mapping[int, MarginSummary],
    isolated: Mapping[int, RawPosition],
    mark_px: Mapping[int, int],
) -> bool:
    """Whether today's summaries (by dex) and fresh reads of the remembered isolated perps
    agree with ``seen``'s cross positions at today's marks (raw units, see the module)."""
    if any(p.szi != 0 and not p.is_isolated for p in isolated.values()):
        return False  # an isolated position closed and reopened on cross margin
    for dex, summary in summaries.items():
        if summary.raw_usd_e6 != seen.raw_usd_e6.get(dex):
            return False
        legs = [(p.szi, mark_px[m]) for m, p in seen.cross.items() if dex_of(m) == dex]
        if summary.ntl_pos_usd_e6 != sum(abs(szi) * px for szi, px in legs):
            return False
        if summary.account_value_usd_e6 != summary.raw_usd_e6 + sum(szi * px for szi, px in legs):
            return False
    return True


class WalletMemory:
    """The last read of each wallet, newest block wins (reads of one wallet at two blocks may
    finish out of order), and how the reads went (``outcomes``): ``unchanged`` (the summaries
    sufficed), ``changed`` (a second step read the cross positions), ``in_full`` (every market
    at once: never read, due a full read, or expected to change). Where the venue's summaries
    do not follow the module's arithmetic, ``changed`` is every read of a wallet with a cross
    position: an operator sees it in ``perpwatch_owner_reads_total``."""

    def __init__(self) -> None:
        self._seen: dict[str, SeenWallet] = {}
        self.outcomes: Counter[str] = Counter()

    def recall(self, owner: str) -> SeenWallet | None:
        """The wallet as last read, or None when it was never read or is due a full read."""
        seen = self._seen.get(owner)
        if seen is None or seen.reads_since_full >= FULL_READ_EVERY - 1:
            return None
        return seen

    def forget(self, owners: Iterable[str]) -> None:
        """Read these wallets in full next time (they are likely to have changed)."""
        for owner in owners:
            self._seen.pop(owner, None)

    def remember(self, owner: str, seen: SeenWallet) -> None:
        known = self._seen.get(owner)
        if known is None or known.block <= seen.block:
            self._seen[owner] = seen
