"""The risk views as JSON-ready documents, one shape for ``perpwatch stress|ladder|whatif
--json`` and the HTTP API (dataclasses as objects, NaN and infinities as null). Pure.

    document = stress_document(stress_report(book), unpriced=2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from indexer.models import MarginAccount
from monitor.analysis.drift import fee_drift
from monitor.analysis.ladder import Ladder, LadderSide
from monitor.analysis.performance import Performance
from monitor.analysis.stress import StressReport
from monitor.analysis.whatif import VenueWhatIf


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: orjson writes dataclasses, and NaN/inf as null."""
    return orjson.loads(orjson.dumps(value))


def stress_document(report: StressReport, *, unpriced: int) -> dict[str, Any]:
    return {
        "accounts": report.accounts,
        "unpriced_accounts": unpriced,
        "unknown_accounts": report.unknown_accounts,
        "curves": plain(report.curves),
        "joint": plain(report.joint),
    }


def _side_doc(side: LadderSide) -> dict[str, Any]:
    return {**plain(side), "total_notional_usd": side.total_notional_usd}


def ladder_document(ladder: Ladder, *, unpriced: int) -> dict[str, Any]:
    head = {k: v for k, v in plain(ladder).items() if k not in ("long", "short")}
    side_docs = {"long": _side_doc(ladder.long), "short": _side_doc(ladder.short)}
    return {**head, "unpriced_accounts": unpriced, **side_docs}


def _venue_doc(venue: VenueWhatIf) -> dict[str, Any]:
    positions = [
        {
            "market": p.market,
            "asset": p.asset,
            "side": "long" if p.is_long else "short",
            "size": p.size,
            "mark_price_usd": venue.prices[p.asset],
            "notional_usd": notional,
        }
        for p, notional in zip(venue.positions, venue.notional_usd, strict=True)
    ]
    variants = [
        {
            "name": v.name,
            "first": v.first,
            "outcomes": plain(v.outcomes),
            "accounts": [
                {"ref": a.ref, "positions": len(a.positions), "joint_survives_pct": joint}
                for a, joint in zip(v.accounts, v.joint_survives_pct, strict=True)
            ],
        }
        for v in venue.variants
    ]
    head = {"chain_id": venue.chain_id, "protocol": venue.protocol}
    return {**head, "positions": positions, "variants": variants}


def whatif_document(owner: str, venues: list[VenueWhatIf], *, unpriced: int) -> dict[str, Any]:
    venue_docs = [_venue_doc(v) for v in venues]
    return {"owner": owner, "unpriced_accounts": unpriced, "venues": venue_docs}


def performance_document(perf: Performance) -> dict[str, Any]:
    """Alert performance: a summary, then each liquidation and each never-liquidated episode."""
    leads = [
        {
            "account_id": lead.liquidation.account_id,
            "liquidation_block": lead.liquidation.block_number,
            "liquidated_at": lead.liquidation.at,
            "partial": lead.liquidation.partial,
            "first_warning": plain(lead.first_warning),
            "lead_blocks": lead.lead_blocks,
            "lead_s": lead.lead_s,
        }
        for lead in perf.leads
    ]
    return {
        "liquidations": perf.liquidations,
        "missed": perf.missed,
        "partial_liquidations": perf.partial,
        "median_lead_blocks": perf.median_lead_blocks,
        "median_lead_s": perf.median_lead_s,
        "never_liquidated_recovered": perf.recovered_episodes,
        "never_liquidated_open": perf.open_episodes,
        "leads": plain(leads),
        "never_liquidated": plain(perf.never_liquidated),
    }


def drift_document(
    account: MarginAccount, prices: Mapping[str, float], growth: Mapping[str, float]
) -> dict[str, Any]:
    """Time to liquidation and liquidation-price drift of ``account`` at ``prices`` with fee
    ``growth`` (market → USD per hour; markets left out do not grow)."""
    rates = [growth.get(p.market, 0.0) for p in account.positions]
    drift = fee_drift(account, prices, rates)
    positions = [
        {**plain(d), "fee_growth_usd_per_hour": rate}
        for d, rate in zip(drift.positions, rates, strict=True)
    ]
    return {
        "fee_growth_usd_per_hour": drift.fee_growth_usd_per_hour,
        "hours_to_liquidation": drift.hours_to_liquidation,
        "positions": positions,
    }
