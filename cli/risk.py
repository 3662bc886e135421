"""``perpwatch stress``, ``perpwatch ladder <market>``, ``perpwatch whatif <wallet>``: the risk
views of ``monitor.analysis`` over the stored open book at live prices (``cli.book``);
``perpwatch drift <wallet>``: time to liquidation from fee drift, from the monitor's latest view
(``monitor.latest``: it needs the fee growth ``perpwatch run`` measures).

    document = run_stress(cfg, console, as_json=True)      # also prints it

This module only reads the book, calls the analysis and prints: tables for people, one JSON
document with ``--json`` (dataclasses as objects, NaN and infinities as null).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.table import Table

from cli.book import Book, read_book
from indexer.config.loader import Config
from indexer.errors import UserError
from indexer.store.engine import ensure_schema
from indexer.store.preflight import open_database
from monitor.analysis.documents import (
    drift_document,
    ladder_document,
    stress_document,
    whatif_document,
)
from monitor.analysis.ladder import Ladder, liquidation_ladder
from monitor.analysis.stress import StressReport, stress_report
from monitor.analysis.whatif import VenueWhatIf, wallet_whatif
from monitor.latest.read import fee_growths
from monitor.latest.read import read_book as latest_book

SHOWN_MOVES_PCT = (
    -50.0,
    -30.0,
    -20.0,
    -10.0,
    -5.0,
    -2.0,
    -1.0,
    0.0,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    30.0,
    50.0,
)
"""The rows of the stress table (``--json`` has every percent)."""


def _print_json(console: Console, document: dict[str, Any]) -> None:
    console.print_json(orjson.dumps(document).decode())


def _usd(value: float) -> str:
    return f"{value:,.0f}"


# -- stress --------------------------------------------------------------------------------------


def stress_table(report: StressReport) -> Table:
    """Liquidated notional per market and for all markets together, and the joint bad debt."""
    table = Table(
        title="stress: notional liquidated (USD) by price move",
        caption="all: every market moving together; bad debt: equity below zero",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("move", justify="right")
    for curve in (*report.curves, report.joint):
        table.add_column(curve.market, justify="right")
    table.add_column("all: bad debt", justify="right")
    curves = (*report.curves, report.joint)
    for move in SHOWN_MOVES_PCT:
        cells = [_usd(c.at(move).liquidated_notional_usd) for c in curves]
        table.add_row(f"{move:+.0f}%", *cells, _usd(report.joint.at(move).bad_debt_usd))
    return table


def run_stress(cfg: Config, console: Console, *, as_json: bool) -> dict[str, Any]:
    """Stress curves of the whole stored book; prints and returns the JSON document."""
    book = asyncio.run(read_book(cfg))
    report = stress_report(book.entries)
    document = stress_document(report, unpriced=book.unpriced)
    if as_json:
        _print_json(console, document)
    elif not book.entries:
        console.print(_empty(book))
    else:
        console.print(f"{len(book.entries)} open account(s); {_unpriced(book)}")
        console.print(stress_table(report))
    return document


def _empty(book: Book) -> str:
    return (
        f"no priced open account in the database ({book.unpriced} unpriced): "
        "`perpwatch run` writes the book"
    )


def _unpriced(book: Book) -> str:
    return f"{book.unpriced} left out (a price their protocol does not give)"


# -- ladder --------------------------------------------------------------------------------------


def ladder_table(ladder: Ladder) -> Table:
    """One row per bin where either side has positions; cumulative columns from the mark out."""
    table = Table(
        title=f"liquidation ladder {ladder.market} (mark {ladder.mark_price_usd:,.2f})",
        caption="cum.: liquidated from the mark to this move (already liquidatable included); "
        "cross: notional whose distance depends on the rest of its account",
        box=box.SIMPLE_HEAD,
    )
    for column in ("move", "longs at", "longs", "cum.", "shorts at", "shorts", "cum.", "cross"):
        table.add_column(column, justify="right")
    table.add_row("now", "", _usd(ladder.long.now.notional_usd), "", "",
                  _usd(ladder.short.now.notional_usd), "", "")  # fmt: skip
    for low, high in zip(ladder.long.bins, ladder.short.bins, strict=True):
        if not (low.amounts.positions or high.amounts.positions):
            continue
        cross = low.amounts.cross_notional_usd + high.amounts.cross_notional_usd
        table.add_row(
            f"{high.move_pct:.4g}%",
            f"{low.price_usd:,.2f}",
            _usd(low.amounts.notional_usd),
            _usd(low.cumulative_notional_usd),
            f"{high.price_usd:,.2f}",
            _usd(high.amounts.notional_usd),
            _usd(high.cumulative_notional_usd),
            _usd(cross),
        )
    beyond = (ladder.long.beyond.notional_usd, ladder.short.beyond.notional_usd)
    table.add_row("beyond", "", _usd(beyond[0]), "", "", _usd(beyond[1]), "", "")
    return table


def run_ladder(
    cfg: Config, console: Console, market: str, *, step_pct: float, max_pct: float, as_json: bool
) -> dict[str, Any]:
    """The ladder of ``market`` (market id or asset). Raises UserError (exit 2) for a market
    no open position is in (naming the ones that are) or bad bin settings."""
    if not 0.0 < step_pct <= max_pct:
        raise UserError(f"need 0 < --step-pct <= --max-pct, got {step_pct} and {max_pct}")
    book = asyncio.run(read_book(cfg))
    ladder = liquidation_ladder(book.entries, market, step_pct=step_pct, max_pct=max_pct)
    if ladder.mark_price_usd is None:
        known = sorted({p.asset for e in book.entries for p in e.account.positions})
        raise UserError(
            f"no open position in market {market!r}; open markets: {', '.join(known) or 'none'}"
        )
    document = ladder_document(ladder, unpriced=book.unpriced)
    if as_json:
        _print_json(console, document)
    else:
        console.print(ladder_table(ladder))
    return document


# -- whatif --------------------------------------------------------------------------------------


def _liq(price: float | None, distance: float | None) -> str:
    if price is None or distance is None:
        return "-"
    return f"{price:,.2f} ({distance:.1f}%)"


def whatif_table(venue: VenueWhatIf) -> Table:
    """Positions down, variants across: liquidation price (adverse distance); * goes first."""
    table = Table(
        title=f"{venue.protocol} on chain {venue.chain_id}: cross vs isolated",
        caption="liq. price (adverse move to it, others held); * liquidated first; "
        "own: each position's own collateral; even: the total split evenly; joint move: "
        "all markets against the cross account together",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("position")
    table.add_column("notional", justify="right")
    for variant in venue.variants:
        table.add_column(variant.name.replace("isolated_", "isolated "), justify="right")
    for i, (p, notional) in enumerate(zip(venue.positions, venue.notional_usd, strict=True)):
        cells = []
        for v in venue.variants:
            o = v.outcomes[i]
            mark = "*" if v.first == i else ""
            cells.append(_liq(o.liquidation_price_usd, o.distance_pct) + mark)
        side = "long" if p.is_long else "short"
        table.add_row(f"{side} {abs(p.size):,.6g} {p.asset}", _usd(notional), *cells)
    joint = venue.variants[0].joint_survives_pct[0]
    shown = "-" if joint is None else f"{joint:.1f}%"
    table.add_row("joint move", "", shown, "", "")
    return table


def run_whatif(cfg: Config, console: Console, owner: str, *, as_json: bool) -> dict[str, Any]:
    """The what-if of ``owner``'s stored open accounts (``owner`` checked by the caller)."""
    book = asyncio.run(read_book(cfg, owner))
    venues = wallet_whatif(book.entries)
    document = whatif_document(owner, venues, unpriced=book.unpriced)
    if as_json:
        _print_json(console, document)
    elif not venues:
        console.print(f"{owner} has no priced open margin account in the database.")
    else:
        for venue in venues:
            console.print(whatif_table(venue))
    return document


# -- drift ---------------------------------------------------------------------------------------


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} h"


def drift_table(ref: str, protocol: str, document: dict[str, Any]) -> Table:
    """One row per position: fee growth, liquidation price now and in a day, drift per day."""
    table = Table(
        title=f"{protocol} {ref}: liquidation in {_hours(document['hours_to_liquidation'])} "
        "at current prices",
        caption="fee growth measured by the monitor between its readings; drift: toward "
        "the mark per day",
        box=box.SIMPLE_HEAD,
    )
    for column in ("market", "fees USD/h", "liq. now", "liq. in 1 day", "drift/day", "%/day"):
        table.add_column(column, justify="right")
    for p in document["positions"]:
        cells = [p["liquidation_price_usd"], p["liquidation_price_in_1d_usd"],
                 p["drift_usd_per_day"]]  # fmt: skip
        shown = ["-" if v is None else f"{v:,.2f}" for v in cells]
        pct = "-" if p["drift_pct_per_day"] is None else f"{p['drift_pct_per_day']:.3f}%"
        table.add_row(p["asset"], f"{p['fee_growth_usd_per_hour']:,.4f}", *shown, pct)
    return table


def run_drift(cfg: Config, console: Console, owner: str, *, as_json: bool) -> dict[str, Any]:
    """Time to liquidation from fee drift for ``owner``'s open accounts, from the monitor's
    latest view (prices and measured fee growth that ``perpwatch run`` persists)."""
    engine = open_database(cfg.database_url)
    try:
        ensure_schema(engine)
        book = latest_book(engine, owner=owner)
        growths = fee_growths(engine, book.ids)
    finally:
        engine.dispose()
    accounts = [
        {"id": i, "protocol": e.account.protocol, "chain_id": e.account.chain_id,
         "ref": e.account.ref, **drift_document(e.account, e.prices, growths.get(i, {}))}
        for i, e in zip(book.ids, book.entries, strict=True)
    ]  # fmt: skip
    document = {"owner": owner, "unpriced_accounts": book.unpriced, "accounts": accounts}
    if as_json:
        _print_json(console, document)
    elif not accounts:
        console.print(
            f"{owner} has no open account priced by the monitor's latest view "
            "(`perpwatch run` persists it)."
        )
    else:
        for account in accounts:
            console.print(drift_table(account["ref"], account["protocol"], account))
    return document
