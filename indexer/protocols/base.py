"""The protocol adapter interface: adapters describe, one runner executes.

An adapter holds a protocol's deployment facts and knows its ABIs. It never talks to a node or
a database: it returns log filters and eth_calls as data, and decodes bytes into the normal
form. :mod:`indexer.scan.scanner` runs its log source; :mod:`indexer.reads.execute` runs its reads
through
Multicall3 and hands the results back to the ``decode`` function of the :class:`Read`.

    adapter = ADAPTERS["gmx_v2"](chain_id=42161, addresses={...}, start_block=107737756)
    source = adapter.log_source()                      # None where the protocol has no events
    accounts = await state.run(rpc, adapter.read_accounts(["0xabc…"]), block=head)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, NoReturn, Protocol, TypeVar, runtime_checkable

from indexer.models import MarginAccount
from indexer.reads.multicall import Call3
from indexer.scan.rows import EventRow, LogSource, Touch

T = TypeVar("T")

CallResult = tuple[bool, bytes]
"""One Multicall3 sub-call's (success, return data)."""


@dataclass(frozen=True, slots=True)
class Read(Generic[T]):
    """Calls to make at one block, and the pure function turning their results into ``T``.

    ``decode`` receives exactly one ``CallResult`` per call, in order. ``batch_size`` caps the
    calls per Multicall3 request (HyperEVM precompiles burn all forwarded gas on failure, so
    its batches stay small). ``follow``, when set, replaces ``decode``: it turns the results
    into the next ``Read`` at the same block, for reads whose calls depend on earlier answers
    (gTrade's holding fees take the pair price and the trade indices as arguments).
    ``shared``: how many of the first ``calls`` are the same whoever is read (the block
    number, market state, feeds): reads of one block may share their answers
    (``indexer.reads.execute.ReadCache``).
    """

    calls: tuple[Call3, ...]
    decode: Callable[[Sequence[CallResult]], T]
    batch_size: int = 500
    follow: Callable[[Sequence[CallResult]], Read[T]] | None = None
    shared: int = 0


def followed(results: Sequence[CallResult]) -> NoReturn:
    """The ``decode`` of a read with ``follow``, which is never called: ``follow`` replaces it."""
    raise AssertionError("a read with follow is not decoded")  # pragma: no cover


class ProtocolAdapter(Protocol):
    """One protocol on one chain. Implementations live one per file in this package."""

    name: str
    chain_id: int

    def log_source(self) -> LogSource | None:
        """Logs that reveal touched accounts, or None when the protocol emits none."""
        ...

    def touched(self, rows: Sequence[EventRow]) -> list[Touch]:
        """Accounts touched, closed or liquidated by these decoded ``raw_events`` rows."""
        ...

    def read_accounts(self, owners: Sequence[str]) -> Read[list[MarginAccount]]:
        """Every open margin account of ``owners`` (lower-case 0x addresses), complete: an
        account of an owner that is missing from the answer is no longer open."""
        ...

    def read_prices(self, assets: Sequence[str]) -> Read[dict[str, float]]:
        """The prices the protocol itself uses, USD per whole unit, by normal-form asset."""
        ...


def events_end_accounts(adapter: ProtocolAdapter) -> bool:
    """Whether the adapter's ending touches (``TouchKind.CLOSED``/``LIQUIDATED``) are final:
    the account they name is gone at that block, whatever else the block did to its owner's
    other accounts. An adapter says so with ``events_end_accounts = True``; the monitor then
    ends such accounts from their events and confirms them with a later read
    (``indexer.store.accounts.end_from_events``)."""
    return getattr(adapter, "events_end_accounts", False) is True


@runtime_checkable
class RemembersOwners(Protocol):
    """An adapter that reads an owner it read before in two steps, first what would show a
    change (Hyperliquid: the margin summary), then the rest only if it changed. Told which
    owners are likely to have changed (the marks put them at or below maintenance: the venue
    is about to act), it reads those in one step, in full."""

    def expect_changes(self, owners: Iterable[str]) -> None: ...

    def read_outcomes(self) -> Mapping[str, int]:
        """Owners read since the start, by outcome: ``unchanged`` (the first step sufficed),
        ``changed`` (a second step), ``in_full`` (one step, in full)."""
        ...


@runtime_checkable
class AnnouncesConfig(Protocol):
    """An adapter whose venue announces its configuration writes in the events it scans
    (GMX's ``Config``: fee, liquidation and impact factors). A write can change every open
    account's terms with no event of theirs, so the monitor re-reads the whole book when
    told."""

    def take_config_change(self) -> bool:
        """Whether a scan handed it a configuration write since the last call (and forget
        that it did)."""
        ...

    def forget_config(self) -> None:
        """Read the configuration again with the next read (another worker may have scanned
        a write meanwhile)."""
        ...


class Quote(Protocol):
    """A price and when its source last updated it (Unix seconds)."""

    @property
    def price(self) -> float: ...

    @property
    def updated_at(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PricesSeen:
    """A price read that remembers: prices and update times by asset, and ``memory`` (e.g.
    the last feed round seen, by feed) to hand to the next read."""

    prices: dict[str, float]
    updated_at: dict[str, int]
    memory: dict[str, int]


@runtime_checkable
class RememberingPrices(Protocol):
    """An adapter whose prices depend on what the previous read saw: gTrade values trades at
    the extreme feed rounds published since then (it liquidates on lookback high/low)."""

    def read_prices_since(
        self, assets: Sequence[str], memory: Mapping[str, int]
    ) -> Read[PricesSeen]: ...


@runtime_checkable
class QuotedPrices(Protocol):
    """An adapter whose price source says when each price was updated (Chainlink feeds do),
    so stale prices can be reported instead of trusted."""

    def read_price_quotes(self, assets: Sequence[str]) -> Read[Mapping[str, Quote]]: ...
