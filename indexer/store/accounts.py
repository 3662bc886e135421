"""Margin accounts in the database: write a fresh read, load the open book.

    save_read(engine, chain_id, "gmx_v2", owners, accounts)   # one transaction
    book = load_accounts(engine, status=AccountStatus.OPEN)    # [(account_id, MarginAccount)]

A read is complete for its owners (see ``ProtocolAdapter.read_accounts``): an open account of
one of those owners that the read no longer returns has closed, or was liquidated when its
latest ending event at or below the read's block, and above the account's stored read, is a
liquidation (``account_endings``, which reorgs roll back with the events, so the decision
follows the chain that stands; a reorg that removes an open account's read leaves no bound).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from indexer.models import (
    AccountStatus,
    Collateral,
    MarginAccount,
    MarginMode,
    MmTier,
    Position,
)
from indexer.scan.rows import TouchKind
from indexer.store.bulk import BulkInsert
from indexer.store.columns import driver_datetime, driver_exact_int, utcnow
from indexer.store.engine import is_postgres, write_transaction
from indexer.store.tables import Account, AccountEnding, TouchedAccount
from indexer.store.tables import Collateral as CollateralRow
from indexer.store.tables import Position as PositionRow

_accounts = Account.__table__  # type: ignore[attr-defined]
_positions = PositionRow.__table__  # type: ignore[attr-defined]
_collateral = CollateralRow.__table__  # type: ignore[attr-defined]
_touched = TouchedAccount.__table__  # type: ignore[attr-defined]
_endings = AccountEnding.__table__  # type: ignore[attr-defined]

T = TypeVar("T")

OWNERS_PER_STATEMENT = 500
"""Owners bound in one ``IN (…)`` (SQLite allows at most 999 parameters per statement)."""

# Column -> PostgreSQL type, in parameter order (account_id first).
_POSITION_COLUMNS = {
    "account_id": "bigint", "market": "text", "asset": "text", "size_raw": "numeric",
    "size_decimals": "integer", "entry_notional_usd_e30": "numeric",
    "pending_fees_usd_e30": "numeric", "closing_fee_rate_e30": "numeric",
    "mm_rate_e30": "numeric", "mm_rate_entry_e30": "numeric", "mm_floor_usd_e30": "numeric",
    "mm_tiers": "jsonb",
}  # fmt: skip
_COLLATERAL_COLUMNS = {
    "account_id": "bigint", "asset": "text", "amount_raw": "numeric", "decimals": "integer",
    "price_feed": "text", "haircut_e30": "numeric",
}  # fmt: skip
_POSITION_FIELDS = tuple(_POSITION_COLUMNS)[1:]
_COLLATERAL_FIELDS = tuple(_COLLATERAL_COLUMNS)[1:]


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What a save changed: accounts written, and accounts that left the open book.
    ``stored``: each account written, with its id (as ``load_accounts`` would return it)."""

    written: int
    closed: int
    liquidated: int
    stored: tuple[tuple[int, MarginAccount], ...] = ()

    @property
    def assets(self) -> set[str]:
        """Every asset the accounts written hold or trade."""
        return {asset for _, account in self.stored for asset in account.assets}


def save_read(
    engine: Engine,
    chain_id: int,
    protocol: str,
    owners: Sequence[str],
    accounts: Sequence[MarginAccount],
    *,
    read_block: int | None = None,
) -> SaveResult:
    """Store a complete read of ``owners`` on one protocol in one transaction.

    Accounts are upserted with their positions and collateral replaced; open accounts of these
    owners missing from ``accounts`` become closed or liquidated; the owners' rows in
    ``touched_accounts`` at or below the read's block are consumed. ``read_block`` is the block
    the read was made at; pass it, because a read that found no account at all carries no block
    (the default, the newest account's block, is then 0 and no touch would be consumed).
    """
    owners_lc = sorted({o.lower() for o in owners})
    if read_block is not None:
        block = read_block
    else:
        block = max((a.block_number for a in accounts), default=0)
    # It reads (the owners' open accounts) before it writes, beside other writers (the other
    # protocols' reads of a tick, the API, the bot): take the write lock up front.
    with write_transaction(engine) as conn:
        ids = _upsert_all(conn, accounts)
        seen = {a.ref for a in accounts}
        vanished = [
            (i, ref)
            for i, ref in _open_refs(conn, chain_id, protocol, owners_lc)
            if ref not in seen
        ]
        closed, liquidated = _end_accounts(conn, vanished, block)
        liquidated += _liquidated_after_close(conn, chain_id, protocol, owners_lc, block)
        if owners_lc:
            conn.execute(
                _touched.delete().where(
                    _touched.c.chain_id == chain_id,
                    _touched.c.protocol == protocol,
                    _touched.c.owner.in_(owners_lc),
                    _touched.c.block_number <= block,
                )
            )
    stored = tuple(
        (
            ids[a.chain_id, a.protocol, a.ref],
            a if a.owner.islower() else replace(a, owner=a.owner.lower()),
        )
        for a in accounts
    )  # as stored: the owner in lower case
    return SaveResult(len(accounts), closed, liquidated, stored)


def touched_owners(
    engine: Engine, chain_id: int, protocol: str, among: Collection[str] | None = None
) -> list[str]:
    """Owners with accounts events touched since they were last read; with ``among`` (lower
    case), only those owners. A monitor watching a few wallets of a whole protocol passes them:
    the touches of everyone else are never consumed by its reads, and would otherwise come back
    (and grow with the protocol) on every call."""
    return sorted(touched_owner_states(engine, chain_id, protocol, among))


def touched_owner_states(
    engine: Engine,
    chain_id: int,
    protocol: str,
    among: Collection[str] | None = None,
    *,
    block: int | None = None,
) -> dict[str, bool]:
    """Each touched owner (see :func:`touched_owners`) → whether every touch of it still to
    read is an ending (a close or liquidation) at or below ``block`` (any block if None):
    such an owner's news is already known from events (:func:`end_from_events`)."""
    plain = _touched.c.kind == TouchKind.TOUCHED.value
    if block is not None:
        plain = sa.or_(plain, _touched.c.block_number > block)
    has_plain = sa.func.max(sa.case((plain, 1), else_=0))
    query = (
        sa.select(_touched.c.owner, has_plain)
        .where(_touched.c.chain_id == chain_id, _touched.c.protocol == protocol)
        .group_by(_touched.c.owner)
    )
    with engine.connect() as conn:
        if among is None:
            return {str(owner): not plain_ for owner, plain_ in conn.execute(query)}
        found: dict[str, bool] = {}
        for chunk in _chunks(sorted(among), OWNERS_PER_STATEMENT):
            rows = conn.execute(query.where(_touched.c.owner.in_(chunk)))
            found.update((str(owner), not plain_) for owner, plain_ in rows)
        return found


@dataclass(frozen=True, slots=True)
class EndResult:
    """What :func:`end_from_events` changed: each account ended, as ``(id, owner)``."""

    closed: int
    liquidated: int
    ended: tuple[tuple[int, str], ...]


def end_from_events(
    engine: Engine, chain_id: int, protocol: str, owners: Sequence[str], block: int
) -> EndResult:
    """Close or liquidate, without reading the chain, the open accounts of ``owners`` whose
    touch at or below ``block`` is an ending event; how each ended is decided as
    :func:`save_read` decides it (the latest ending in ``account_endings``), at ``block``.

    For protocols whose ending events are final (a GMX v2 liquidation or full close, a gTrade
    ``TradeClosed``): a crash's thousand liquidations need no read to be known. The touches are
    left in place: a read still confirms the owners later (an account reopened under the same
    ref in the block that ended it would otherwise be missed), and a restart re-reads them.
    """
    owners_lc = sorted({o.lower() for o in owners})
    found: list[tuple[int, str, str]] = []  # (id, ref, owner)
    with write_transaction(engine) as conn:
        for chunk in _chunks(owners_lc, OWNERS_PER_STATEMENT):
            ending = (
                sa.select(_touched.c.ref)
                .where(
                    _touched.c.chain_id == chain_id,
                    _touched.c.protocol == protocol,
                    _touched.c.owner.in_(chunk),
                    _touched.c.kind != TouchKind.TOUCHED.value,
                    _touched.c.block_number <= block,
                )
                .scalar_subquery()
            )
            rows = conn.execute(
                sa.select(_accounts.c.id, _accounts.c.ref, _accounts.c.owner).where(
                    _accounts.c.chain_id == chain_id,
                    _accounts.c.protocol == protocol,
                    _accounts.c.ref.in_(ending),
                    _accounts.c.status == AccountStatus.OPEN.value,
                )
            )
            found += [(int(i), str(ref), str(owner)) for i, ref, owner in rows]
        vanished = [(i, ref) for i, ref, _ in found]
        closed, liquidated = _end_accounts(conn, vanished, block)
        for chunk in _chunks(owners_lc, OWNERS_PER_STATEMENT):
            liquidated += _liquidated_after_close(conn, chain_id, protocol, chunk, block)
    return EndResult(closed, liquidated, tuple((i, owner) for i, _, owner in found))


def open_owners(engine: Engine, chain_id: int, protocol: str) -> list[str]:
    """Owners with at least one open account on ``protocol``."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_accounts.c.owner)
            .where(
                _accounts.c.chain_id == chain_id,
                _accounts.c.protocol == protocol,
                _accounts.c.status == AccountStatus.OPEN.value,
            )
            .distinct()
        )
        return sorted(owner for (owner,) in rows)


def open_assets(engine: Engine, chain_id: int, protocol: str) -> list[str]:
    """Every asset held or traded by an open account of ``protocol`` on ``chain_id`` (what
    needs a price), without loading the accounts themselves."""
    open_ids = sa.select(_accounts.c.id).where(
        _accounts.c.chain_id == chain_id,
        _accounts.c.protocol == protocol,
        _accounts.c.status == AccountStatus.OPEN.value,
    )
    query = sa.union(
        sa.select(_positions.c.asset).where(_positions.c.account_id.in_(open_ids)),
        sa.select(_collateral.c.asset).where(_collateral.c.account_id.in_(open_ids)),
    )
    with engine.connect() as conn:
        return sorted(asset for (asset,) in conn.execute(query))


def load_accounts(
    engine: Engine,
    *,
    status: AccountStatus | None = AccountStatus.OPEN,
    owner: str | None = None,
    chain_id: int | None = None,
    protocol: str | None = None,
    ids: Sequence[int] | None = None,
    owners: Sequence[str] | None = None,
    children: bool = True,
) -> list[tuple[int, MarginAccount]]:
    """Accounts (with positions and collateral) as the normal form, by database id.

    ``ids`` and ``owners`` (lower-case) narrow the selection; SQLite takes at most 32,766
    bound parameters per statement. ``children=False``: without positions and collateral
    (who and what the account is, and its status), for callers that need no more."""
    query = sa.select(_accounts).order_by(_accounts.c.id)
    if ids is not None:
        query = query.where(_accounts.c.id.in_(list(ids)))
    if owners is not None:
        query = query.where(_accounts.c.owner.in_(list(owners)))
    if status is not None:
        query = query.where(_accounts.c.status == status.value)
    if owner is not None:
        query = query.where(_accounts.c.owner == owner.lower())
    if chain_id is not None:
        query = query.where(_accounts.c.chain_id == chain_id)
    if protocol is not None:
        query = query.where(_accounts.c.protocol == protocol)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        ids = [row["id"] for row in rows]
        positions = _children(conn, _positions, ids, _POSITION_FIELDS) if children else {}
        collateral = _children(conn, _collateral, ids, _COLLATERAL_FIELDS) if children else {}
    return [
        (
            row["id"],
            MarginAccount(
                chain_id=row["chain_id"],
                protocol=row["protocol"],
                owner=row["owner"],
                ref=row["ref"],
                mode=MarginMode(row["mode"]),
                collateral=tuple(Collateral(**c) for c in collateral.get(row["id"], [])),
                positions=tuple(_position(p) for p in positions.get(row["id"], [])),
                block_number=row["block_number"],
                fixed_requirement_usd_e30=row["fixed_requirement_usd_e30"],
                status=AccountStatus(row["status"]),
            ),
        )
        for row in rows
    ]


def _tiers_json(tiers: tuple[MmTier, ...]) -> list[list[str]]:
    """Tiers as JSON-safe decimal strings (exact, like every other 1e30 integer)."""
    return [
        [str(t.lower_bound_usd_e30), str(t.mm_rate_e30), str(t.deduction_usd_e30)] for t in tiers
    ]


def _position(row: dict[str, Any]) -> Position:
    tiers = tuple(MmTier(*(int(v) for v in tier)) for tier in row.pop("mm_tiers") or ())
    return Position(**row, mm_tiers=tiers)


def _children(
    conn: Connection, table: sa.Table, ids: list[int], fields: Iterable[str]
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    names = list(fields)
    for chunk in _chunks(ids, 900):  # SQLite caps bound parameters per statement
        query = sa.select(table.c.account_id, *(table.c[n] for n in names)).where(
            table.c.account_id.in_(chunk)
        )
        for row in conn.execute(query.order_by(table.c.id)).mappings():
            out.setdefault(row["account_id"], []).append({n: row[n] for n in names})
    return out


_ACCOUNT_COLUMNS = {
    "chain_id": "bigint", "protocol": "text", "ref": "text", "owner": "text", "mode": "text",
    "status": "text", "fixed_requirement_usd_e30": "numeric", "block_number": "bigint",
    "updated_at": "timestamptz",
}  # fmt: skip
# New accounts, their ids returned. Stored ones by id: a given id takes no value from the id
# sequence, where an upsert on (chain, protocol, ref) would draw one per row on PostgreSQL
# even when it updates (every read of a big book would wear the sequence down).
_NEW_ACCOUNTS = BulkInsert("accounts", _ACCOUNT_COLUMNS, "", returning=("id", "ref"))
_STORED_ACCOUNTS = BulkInsert.upsert(
    "accounts", {"id": "bigint", **_ACCOUNT_COLUMNS}, ["id"], keep=["chain_id", "protocol", "ref"]
)


def _as_stored(account: MarginAccount) -> MarginAccount:
    """``account`` as ``load_accounts`` returns it once stored: the owner in lower case."""
    owner = account.owner.lower()
    return account if account.owner == owner else replace(account, owner=owner)


def _write_children(conn: Connection, accounts: Sequence[tuple[int, MarginAccount]]) -> None:
    """Insert the positions and collateral of ``(account id, account)`` as driver-level
    multi-row statements (:mod:`indexer.store.bulk`): through SQLAlchemy's per-row parameter
    processing, a read's positions cost more than the database's own work (a 250-account read
    was stored in 24 ms, half of it building parameters)."""
    exact = functools.partial(driver_exact_int, postgres=is_postgres(conn))
    positions = [
        (account_id, p.market, p.asset, exact(p.size_raw), p.size_decimals,
         exact(p.entry_notional_usd_e30), exact(p.pending_fees_usd_e30),
         exact(p.closing_fee_rate_e30), exact(p.mm_rate_e30), exact(p.mm_rate_entry_e30),
         exact(p.mm_floor_usd_e30), orjson.dumps(_tiers_json(p.mm_tiers)).decode())
        for account_id, a in accounts
        for p in a.positions
    ]  # fmt: skip
    if positions:
        _POSITIONS.execute(conn, positions)
    collateral = [
        (account_id, c.asset, exact(c.amount_raw), c.decimals, c.price_feed,
         exact(c.haircut_e30))
        for account_id, a in accounts
        for c in a.collateral
    ]  # fmt: skip
    if collateral:
        _COLLATERAL.execute(conn, collateral)


_POSITIONS = BulkInsert("positions", _POSITION_COLUMNS, "")
_COLLATERAL = BulkInsert("collateral", _COLLATERAL_COLUMNS, "")


def _upsert_all(
    conn: Connection, accounts: Sequence[MarginAccount]
) -> dict[tuple[int, str, str], int]:
    """Upsert ``accounts`` by (chain, protocol, ref), their positions and collateral replaced:
    a few statements per chunk of accounts, not six per account (a tick re-reads hundreds).
    Returns the account id of each (chain, protocol, ref)."""
    latest = {(a.chain_id, a.protocol, a.ref): a for a in accounts}  # a repeated ref: the last
    by_book: dict[tuple[int, str], list[MarginAccount]] = {}
    out: dict[tuple[int, str, str], int] = {}
    for (chain_id, protocol, _), account in latest.items():
        by_book.setdefault((chain_id, protocol), []).append(account)
    postgres = is_postgres(conn)
    now = driver_datetime(utcnow(), postgres=postgres)
    exact = functools.partial(driver_exact_int, postgres=postgres)

    def row(a: MarginAccount) -> tuple[Any, ...]:
        return (a.chain_id, a.protocol, a.ref, a.owner.lower(), a.mode.value, a.status.value,
                exact(a.fixed_requirement_usd_e30), a.block_number, now)  # fmt: skip

    for (chain_id, protocol), book in by_book.items():
        for chunk in _chunks(book, OWNERS_PER_STATEMENT):
            ids = _ids_by_ref(conn, chain_id, protocol, [a.ref for a in chunk])
            old = [(ids[a.ref], *row(a)) for a in chunk if a.ref in ids]
            new = [row(a) for a in chunk if a.ref not in ids]
            if new:
                ids.update((str(ref), int(i)) for i, ref in _NEW_ACCOUNTS.execute(conn, new))
            if old:
                _STORED_ACCOUNTS.execute(conn, old)
                old_ids = [r[0] for r in old]
                conn.execute(_positions.delete().where(_positions.c.account_id.in_(old_ids)))
                conn.execute(_collateral.delete().where(_collateral.c.account_id.in_(old_ids)))
            _write_children(conn, [(ids[a.ref], a) for a in chunk])
            out.update(((chain_id, protocol, ref), i) for ref, i in ids.items())
    return out


def _ids_by_ref(conn: Connection, chain_id: int, protocol: str, refs: list[str]) -> dict[str, int]:
    rows = conn.execute(
        sa.select(_accounts.c.ref, _accounts.c.id).where(
            _accounts.c.chain_id == chain_id,
            _accounts.c.protocol == protocol,
            _accounts.c.ref.in_(refs),
        )
    )
    return {str(ref): int(i) for ref, i in rows}


def ending_of_account() -> sa.ColumnElement[bool]:
    """The join of ``account_endings`` to ``accounts``: the same chain, protocol and ref."""
    return sa.and_(
        _endings.c.chain_id == _accounts.c.chain_id,
        _endings.c.protocol == _accounts.c.protocol,
        _endings.c.ref == _accounts.c.ref,
    )


def _last_endings(conn: Connection, ids: list[int], block: int) -> dict[int, TouchKind]:
    """The kind of each account's latest ending event at or below ``block`` and above its
    stored read (canonical chain). Above it: a GMX position key outlives its position, so
    an ending at or below the last read that saw the account open belongs to an earlier life
    of the key (a liquidation there must not make this close one)."""
    out: dict[int, TouchKind] = {}
    for chunk in _chunks(ids, 900):  # SQLite caps bound parameters per statement
        rows = conn.execute(
            sa.select(_accounts.c.id, _endings.c.kind)
            .join(_endings, ending_of_account())
            .where(
                _accounts.c.id.in_(chunk),
                _endings.c.block_number > _accounts.c.block_number,
                _endings.c.block_number <= block,
            )
            .order_by(_endings.c.block_number)
        )
        out.update((int(i), TouchKind(kind)) for i, kind in rows)
    return out


def _end_accounts(conn: Connection, vanished: list[tuple[int, str]], block: int) -> tuple[int, int]:
    """Close or liquidate ``vanished`` ``(id, ref)`` accounts (see the module docstring) and
    drop their positions; returns (closed, liquidated)."""
    endings = _last_endings(conn, [account_id for account_id, _ in vanished], block)
    gone: dict[bool, list[int]] = {True: [], False: []}  # liquidated? → ids
    for account_id, _ in vanished:
        gone[endings.get(account_id) is TouchKind.LIQUIDATED].append(account_id)
    # The block is the read's: a reorg below it must re-read the account (the close or
    # liquidation it saw may be gone), see ScanStore.rollback_above.
    read_at = {"block_number": block} if block else {}  # 0: a read that named no block
    for liquidated, ids in gone.items():
        status = AccountStatus.LIQUIDATED if liquidated else AccountStatus.CLOSED
        for chunk in _chunks(ids, 900):  # SQLite caps bound parameters per statement
            conn.execute(
                _accounts.update()
                .where(_accounts.c.id.in_(chunk))
                .values(status=status.value, updated_at=utcnow(), **read_at)
            )
            conn.execute(_positions.delete().where(_positions.c.account_id.in_(chunk)))
    return len(gone[False]), len(gone[True])


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _liquidated_after_close(
    conn: Connection, chain_id: int, protocol: str, owners: Sequence[str], block: int
) -> int:
    """Relabel as liquidated the closed accounts of ``owners`` with a liquidation event above
    the read that closed them and at or below ``block``; returns how many.

    Seen on a devnet under load: a read pinned to the head block found gTrade trades gone whose
    liquidation event is in the next block, so they were stored as closes. The liquidation's
    own event touches the owner, whose next read lands here: the events of the chain decide how
    an account ended, not the order in which perpwatch saw them.
    """
    if not owners or not block:
        return 0
    later = sa.exists().where(
        ending_of_account(),
        _endings.c.kind == TouchKind.LIQUIDATED.value,
        _endings.c.block_number > _accounts.c.block_number,
        _endings.c.block_number <= block,
    )
    result = conn.execute(
        _accounts.update()
        .where(
            _accounts.c.chain_id == chain_id,
            _accounts.c.protocol == protocol,
            _accounts.c.owner.in_(owners),
            _accounts.c.status == AccountStatus.CLOSED.value,
            later,
        )
        .values(status=AccountStatus.LIQUIDATED.value, block_number=block, updated_at=utcnow())
    )
    return int(result.rowcount or 0)


def _open_refs(
    conn: Connection, chain_id: int, protocol: str, owners: list[str]
) -> list[tuple[int, str]]:
    if not owners:
        return []
    rows = conn.execute(
        sa.select(_accounts.c.id, _accounts.c.ref).where(
            _accounts.c.chain_id == chain_id,
            _accounts.c.protocol == protocol,
            _accounts.c.owner.in_(owners),
            _accounts.c.status == AccountStatus.OPEN.value,
        )
    )
    return [(int(i), str(r)) for i, r in rows]
