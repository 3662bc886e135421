"""``perpwatch account <address>``: one wallet's margin accounts, read live from the chain.

    owner = parse_owner("0xabc…")                      # UserError (exit 2) if not an address
    rows = asyncio.run(read_wallet(cfg, owner))        # [WalletAccount], one per margin account
    console.print(wallet_table(rows))                  # or wallet_document(owner, rows) as JSON

Each configured chain is read at one block (its head at the time of the call): every adapter's
``read_accounts([owner])``, then the adapter's own prices of the assets those accounts hold,
then :func:`monitor.health.account.account_health`. Nothing touches the database, so the command
works
before ``perpwatch index`` ever ran, and shows the chain even where the store is behind.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.table import Table

from indexer.config.loader import Config
from indexer.config.scalars import normalize_address
from indexer.errors import UserError
from indexer.models import Collateral, MarginAccount, Position
from indexer.prices import OnChainPrices, PriceSource
from indexer.protocols.base import ProtocolAdapter
from indexer.reads.execute import run_read
from indexer.rpc.client import RpcClient
from indexer.scan.runner import open_rpc
from monitor.health.account import AccountHealth, PositionRisk, account_health
from monitor.runtime.chain_pass import ChainProtocols, by_chain


@dataclass(frozen=True, slots=True)
class WalletAccount:
    """One margin account of the wallet, with the prices its protocol uses (USD per whole unit).

    ``health`` is None when the protocol does not price one of the account's assets: such an
    account is shown as unknown, never as safe.
    """

    chain: str
    account: MarginAccount
    prices: dict[str, float]
    health: AccountHealth | None


def parse_owner(address: str) -> str:
    """``address`` as an EIP-55 checksum address.

    Raises:
        UserError: not 0x + 40 hex digits, or a mixed-case address with a wrong checksum.
    """
    try:
        return normalize_address(address.strip())
    except ValueError as exc:
        raise UserError(f"bad address {address!r}: {exc}") from None


async def read_wallet(cfg: Config, owner: str) -> list[WalletAccount]:
    """Every open margin account of ``owner`` on every configured chain, chains concurrently.

    Raises:
        UserError: no protocol is configured, or one has no adapter, or a node reports the
            wrong chain id.
        RetryableError: a node stayed unreachable through the RPC client's retries.
    """
    if not cfg.protocols:
        raise UserError(
            "no protocols configured: add a [[protocols]] entry to the config "
            "(`perpwatch init` writes an example)"
        )
    groups = by_chain(cfg)
    per_chain = await asyncio.gather(*(_read_chain(group, owner.lower()) for group in groups))
    return [row for rows in per_chain for row in rows]


async def _read_chain(group: ChainProtocols, owner: str) -> list[WalletAccount]:
    async with open_rpc(group.chain) as rpc:
        # One block for every protocol of the chain: accounts and prices form one snapshot.
        block = await rpc.block_number()
        per_adapter = await asyncio.gather(
            *(
                read_protocol(rpc, adapter, owner, block, source)
                for adapter, source in zip(group.adapters, group.price_sources, strict=True)
            )
        )
    return [
        WalletAccount(group.chain.name, account, prices, _health(account, prices))
        for accounts, prices in per_adapter
        for account in accounts
    ]


async def read_protocol(
    rpc: RpcClient,
    adapter: ProtocolAdapter,
    owner: str,
    block: int,
    prices: PriceSource | None = None,
) -> tuple[list[MarginAccount], dict[str, float]]:
    """``owner``'s accounts on one protocol at ``block`` and the prices of their assets (USD
    per whole unit) from the protocol's configured source (default: its own on-chain reads),
    as the monitor values them."""
    accounts = await run_read(rpc, adapter.read_accounts([owner]), block)
    assets = sorted({asset for account in accounts for asset in account.assets})
    source = prices if prices is not None else OnChainPrices(adapter)
    book = await source.read(rpc, assets, block)
    return accounts, book.prices


def _health(account: MarginAccount, prices: dict[str, float]) -> AccountHealth | None:
    if not account.assets <= prices.keys():
        return None
    return account_health(account, prices)


def _sort_key(row: WalletAccount) -> tuple[float, str, str, str]:
    """Worst first; unknown health before everything (it may be the worst of all)."""
    known = row.health is not None and row.health.known
    health = row.health.health if known and row.health is not None else -math.inf
    return (health, row.chain, row.account.protocol, row.account.ref)


def sorted_rows(rows: Sequence[WalletAccount]) -> list[WalletAccount]:
    """``rows`` worst health first, ties by chain, protocol and ref (a stable order)."""
    return sorted(rows, key=_sort_key)


# -- presentation (pure) ---------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: an account without maintenance requirement has health ``null``."""
    return value if value is not None and math.isfinite(value) else None


def _collateral_doc(c: Collateral, prices: dict[str, float]) -> dict[str, Any]:
    return {
        "asset": c.asset,
        "amount": c.amount,
        "amount_raw": str(c.amount_raw),
        "decimals": c.decimals,
        "price_usd": prices.get(c.asset),
        "haircut": c.haircut,
    }


def _position_doc(
    p: Position, risk: PositionRisk | None, prices: dict[str, float]
) -> dict[str, Any]:
    return {
        "market": p.market,
        "asset": p.asset,
        "side": "long" if p.is_long else "short",
        "size": p.size,
        "size_raw": str(p.size_raw),
        "size_decimals": p.size_decimals,
        "entry_price": p.entry_price,
        "mark_price": prices.get(p.asset),
        "liquidation_price": None if risk is None else risk.liquidation_price,
        "distance_pct": None if risk is None else risk.distance_pct,
        # Maintenance tiers in force for this position ([] when its rule has none).
        "mm_tiers": [
            {"lower_bound_usd": low, "mm_rate": rate, "deduction_usd": deduction}
            for low, rate, deduction in p.mm_tiers_usd
        ],
        # How the venue's own rule was applied, e.g. GMX's closing fee factor and balance flag.
        "venue": dict(p.venue_notes),
    }


def account_doc(row: WalletAccount) -> dict[str, Any]:
    """One account as JSON-ready data: floats for display values, exact integers as strings."""
    a, h = row.account, row.health
    risks: Sequence[PositionRisk | None] = h.positions if h else [None] * len(a.positions)
    return {
        "chain": row.chain,
        "chain_id": a.chain_id,
        "protocol": a.protocol,
        "mode": a.mode.value,
        "ref": a.ref,
        "block": a.block_number,
        "collateral": [_collateral_doc(c, row.prices) for c in a.collateral],
        "positions": [
            _position_doc(p, r, row.prices) for p, r in zip(a.positions, risks, strict=True)
        ],
        "priced": h is not None,
        "unknown_reason": None if h is None else h.reason,
        "equity_usd": None if h is None else _finite(h.equity_usd),
        "maintenance_usd": None if h is None else _finite(h.maintenance_usd),
        "health": None if h is None else _finite(h.health),
        # The smallest adverse move (percent) that liquidates the account; for a cross account
        # its markets moving against it together. No σ here: one read has no price history.
        "move_to_liquidation_pct": None if h is None else h.move_pct,
    }


def wallet_document(owner: str, rows: Sequence[WalletAccount]) -> dict[str, Any]:
    """The ``--json`` document: the owner and its accounts, worst health first."""
    return {"owner": owner, "accounts": [account_doc(row) for row in sorted_rows(rows)]}


def _price(value: float | None) -> str:
    """A USD price in at most about 8 characters: cents below 1,000, 4 digits below 1."""
    if value is None:
        return "-"
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"


def _collateral_text(account: MarginAccount) -> str:
    return ", ".join(f"{c.amount:,.4g} {c.asset}" for c in account.collateral) or "-"


def _health_text(health: AccountHealth | None) -> str:
    if health is None:
        return "unpriced"
    if not health.known:
        return "unknown"
    return "∞" if math.isinf(health.health) else f"{health.health:.3f}"


def wallet_table(rows: Sequence[WalletAccount]) -> Table:
    """One line per position (or per account without one), worst health first. Positions show
    their asset, not their market (a GMX market is a 42-character token address)."""
    # Short headers, no vertical rules, one space between columns: fits 80 characters.
    table = Table(
        title="margin accounts",
        caption="liq.: liquidation price, others fixed; dist.: adverse move to it; "
        "move: smallest adverse move of the account's markets together that liquidates it",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )
    for column, min_width in (("account", 11), ("collateral", 10), ("position", 11)):
        table.add_column(column, min_width=min_width)
    for column in ("entry", "mark", "liq.", "dist.", "health", "move"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in sorted_rows(rows):
        doc = account_doc(row)
        name = f"{doc['protocol']} {doc['mode']}\n{doc['chain']}"
        account_cells = [name, _collateral_text(row.account)]
        health_cell = _health_text(row.health)
        move = doc["move_to_liquidation_pct"]
        move_cell = "-" if move is None else f"{move:.1f}%"
        for i, p in enumerate(doc["positions"] or [None]):
            first = i == 0
            cells = account_cells if first else [""] * len(account_cells)
            ends = [health_cell, move_cell] if first else ["", ""]
            table.add_row(*cells, *_position_cells(p), *ends)
    return table


def _position_cells(p: dict[str, Any] | None) -> list[str]:
    if p is None:
        return ["-"] * 5
    distance = p["distance_pct"]
    return [
        f"{p['side']} {abs(p['size']):,.6g} {p['asset']}",
        _price(p["entry_price"]),
        _price(p["mark_price"]),
        _price(p["liquidation_price"]),
        "-" if distance is None else f"{distance:.1f}%",
    ]


def run_account(cfg: Config, owner: str, console: Console, *, as_json: bool) -> dict[str, Any]:
    """Read ``owner``'s accounts live, print them (table or JSON), return the JSON document.

    ``owner`` must already be checked (:func:`parse_owner`). Raises as :func:`read_wallet`.
    """
    rows = asyncio.run(read_wallet(cfg, owner))
    document = wallet_document(owner, rows)
    if as_json:
        console.print_json(orjson.dumps(document).decode())
    elif not rows:
        console.print(f"{owner} has no open margin account on the configured protocols.")
    else:
        console.print(f"{owner}: {len(rows)} margin account(s)")
        console.print(wallet_table(rows))
    return document
