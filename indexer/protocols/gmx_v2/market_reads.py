"""Which DataStore keys the adapter reads for a GMX v2 market, and their values as
:class:`~indexer.protocols.gmx_v2.market.MarketParams`. Pure: keys out, integers in.

The keys are listed once, as ``(field, key)`` pairs in call order, so that the calls and the
decoding cannot drift apart. They come in two kinds:

- configuration (``config_keys``): factors only GMX's ``Config`` contract sets, each write of
  which it announces with a ``SetUint``/``SetBool``/``SetBytes32`` event
  (:mod:`indexer.protocols.gmx_v2.config_memory` keeps them between reads);
- state (``state_keys``): what trading moves (cumulative factors, open interest, pools).

Single-token markets (long token == short token) halve open interest and pool amounts, as
``MarketUtils`` does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from indexer.protocols.gmx_v2 import keys as k
from indexer.protocols.gmx_v2.decode import (
    GmxMarket,
    cumulative_borrowing_factor_key,
    funding_per_size_key,
)
from indexer.protocols.gmx_v2.market import MarketParams
from indexer.protocols.gmx_v2.terms import BorrowingConfig, ImpactConfig

SIDES = (True, False)
_UPDATED_AT = k.CUMULATIVE_BORROWING_FACTOR_UPDATED_AT
_BORROWING = (
    ("factor_e30", k.BORROWING_FACTOR),
    ("exponent_e30", k.BORROWING_EXPONENT_FACTOR),
    ("optimal_usage_e30", k.OPTIMAL_USAGE_FACTOR),
    ("base_e30", k.BASE_BORROWING_FACTOR),
    ("above_optimal_e30", k.ABOVE_OPTIMAL_USAGE_BORROWING_FACTOR),
    ("reserve_factor_e30", k.OPEN_INTEREST_RESERVE_FACTOR),
)
_IMPACT = (
    ("impact_factor", k.POSITION_IMPACT_FACTOR),
    ("impact_exponent", k.POSITION_IMPACT_EXPONENT_FACTOR),
    ("impact_max", k.MAX_POSITION_IMPACT_FACTOR),
)


Field = tuple[str, object]
"""A value's field name in :func:`market_params` and its sub-key (side, collateral, or None)."""

CONFIG_BASE_KEYS = frozenset(
    {
        k.MIN_COLLATERAL_USD,
        k.SKIP_BORROWING_FEE_FOR_SMALLER_SIDE,
        k.USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE,
        k.VIRTUAL_TOKEN_ID,
        k.MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION,
        k.MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS,
        k.MAX_FUNDING_FACTOR_PER_SECOND,
        k.POSITION_FEE_FACTOR,
        k.MAX_PNL_FACTOR,
    }
    | {base for _, base in _IMPACT}
    | {base for _, base in _BORROWING}
)
"""The ``Keys.sol`` base keys of every configuration value the adapter reads (the globals and
the :data:`CONFIG_FIELDS`): a ``Config`` write of another key (oracle settings, pool caps,
swap fees…) changes nothing perpwatch computes."""

CONFIG_FIELDS = frozenset(
    {"liquidation", "impact_cap", "max_funding", "fee", "max_pnl"}
    | {name for name, _ in _IMPACT}
    | {name for name, _ in _BORROWING}
)
"""Fields whose keys only ``Config.setUint`` writes (checked against GMX's sources: no other
contract sets them)."""


@functools.cache
def market_keys(m: GmxMarket) -> tuple[tuple[Field, bytes], ...]:
    """``((field, sub-key), DataStore key)`` for every ``getUint`` of market ``m``, in order.
    Cached: a market's keys never change, and every read (and its decoding) asks for them."""
    t = m.market_token
    collaterals = (m.long_token, m.short_token)
    out: list[tuple[tuple[str, object], bytes]] = [
        (("liquidation", None), k.min_collateral_factor_for_liquidation_key(t)),
        (("impact_cap", None), k.market_key(k.MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS, t)),
        (("funding_updated", None), k.market_key(k.FUNDING_UPDATED_AT, t)),
        (("max_funding", None), k.market_key(k.MAX_FUNDING_FACTOR_PER_SECOND, t)),
    ]
    for flag in SIDES:
        out += [
            (("fee", flag), k.position_fee_factor_key(t, flag)),
            (("borrowing", flag), cumulative_borrowing_factor_key(t, flag)),
            (("borrowing_updated", flag), k.market_flag_key(_UPDATED_AT, t, flag)),
            (("max_pnl", flag), k.max_pnl_factor_for_traders_key(t, flag)),
        ]
        out += [((name, flag), k.market_flag_key(base, t, flag)) for name, base in _IMPACT]
        out += [((name, flag), k.market_flag_key(base, t, flag)) for name, base in _BORROWING]
        for c in collaterals:
            out += [
                (("funding", (c, flag)), funding_per_size_key(t, c, flag)),
                (("oi_usd", (c, flag)), k.open_interest_key(t, c, flag, in_tokens=False)),
                (("oi_raw", (c, flag)), k.open_interest_key(t, c, flag, in_tokens=True)),
            ]
    for flag, token in zip(SIDES, collaterals, strict=True):
        out.append((("pool", flag), k.pool_amount_key(t, token)))
    return tuple(out)


@functools.cache
def config_keys(m: GmxMarket) -> tuple[tuple[Field, bytes], ...]:
    """The configuration part of :func:`market_keys`, in its order."""
    return tuple(entry for entry in market_keys(m) if entry[0][0] in CONFIG_FIELDS)


@functools.cache
def state_keys(m: GmxMarket) -> tuple[tuple[Field, bytes], ...]:
    """The state part of :func:`market_keys`, in its order."""
    return tuple(entry for entry in market_keys(m) if entry[0][0] not in CONFIG_FIELDS)


def market_params(
    m: GmxMarket, config: Sequence[int], state: Sequence[int], virtual_token_id: int
) -> MarketParams:
    """The values of ``config_keys(m)`` and ``state_keys(m)``, each in order, as the market's
    parameters."""
    fields = [f for f, _ in config_keys(m)] + [f for f, _ in state_keys(m)]
    got: dict[Field, int] = {}
    for (name, sub), value in zip(fields, [*config, *state], strict=True):
        key = (name, sub)
        # A single-token market lists each OI key twice: MarketUtils sums both, then halves.
        got[key] = value if name not in ("oi_usd", "oi_raw") else got.get(key, 0) + value
    divisor = 2 if m.long_token == m.short_token else 1

    def side_total(name: str, flag: bool) -> int:
        tokens = {m.long_token, m.short_token}
        return sum(got[name, (c, flag)] for c in tokens) // divisor

    def by_side(name: str) -> dict[bool, int]:
        return {flag: got[name, flag] for flag in SIDES}

    impact = ImpactConfig(
        factor_e30=by_side("impact_factor"),
        exponent_e30=by_side("impact_exponent"),
        max_factor_e30=by_side("impact_max"),
        liquidation_cap_e30=got["impact_cap", None],
    )
    borrowing = {
        flag: BorrowingConfig(**{name: got[name, flag] for name, _ in _BORROWING}) for flag in SIDES
    }
    return MarketParams(
        market=m,
        liquidation_factor_e30=got["liquidation", None],
        position_fee_factor_e30=by_side("fee"),
        borrowing_e30=by_side("borrowing"),
        funding_per_size={
            (c, flag): got["funding", (c, flag)]
            for c in (m.long_token, m.short_token)
            for flag in SIDES
        },
        open_interest_e30={flag: side_total("oi_usd", flag) for flag in SIDES},
        open_interest_raw={flag: side_total("oi_raw", flag) for flag in SIDES},
        pool_raw={flag: got["pool", flag] // divisor for flag in SIDES},
        max_pnl_factor_e30=by_side("max_pnl"),
        impact=impact,
        borrowing_updated_at=by_side("borrowing_updated"),
        borrowing_config=borrowing,
        funding_updated_at=got["funding_updated", None],
        max_funding_per_second_e30=got["max_funding", None],
        virtual_inventory=virtual_token_id != 0,
    )
