"""Apply the alert rules to evaluated accounts and persist the outcome atomically.

    decided = apply_rules(engine, observations, policies, channels, now)
    decided = apply_rules(engine, observations, policies, router, now)   # routed per alert

``channels`` is either the fixed list every alert goes to, or a :data:`Router` that names the
channels of each alert from its account, level and reading (``monitor.subscriptions``: a chat
hears only about the wallets it watches).

For every observed account: load its ``AlertState``, ``step`` it with the pure rules, and write
the new state together with any alerts (and their outbox rows) in ONE transaction, so a crash
between deciding and recording can neither lose an alert nor make it twice.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from indexer.crash_points import crash_point
from indexer.models import AccountStatus, MarginAccount
from indexer.protocols.plugin import plain_market
from indexer.registry import PLUGINS
from indexer.store.accounts import load_accounts
from indexer.store.bulk import BulkInsert
from indexer.store.columns import driver_datetime
from indexer.store.engine import is_postgres, write_transaction
from indexer.store.tables import Account
from monitor.alerts.inference import PartialLiquidation
from monitor.alerts.levels import Level
from monitor.alerts.policy import Reading
from monitor.alerts.rules import (
    PRIMARY_LENS,
    AlertDecision,
    AlertState,
    Policy,
    PriceFreshness,
    Report,
    step,
)
from monitor.delivery.outbox import NewAlert, enqueue_many
from monitor.health.account import AccountHealth
from monitor.health.volatility import Sigmas, position_sigma, sigma_move
from monitor.notify.message import AlertPayload, PositionPayload
from monitor.tables import AlertStateRow, LensStateRow

_states = AlertStateRow.__table__  # type: ignore[attr-defined]
_lens_states = LensStateRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Observation:
    """What one pass saw of an account: its health (None: could not be valued), whether the
    chain says it was liquidated, and whether the node head is stalled.

    ``marks_usd`` (asset → USD, the prices it was valued at) and ``sigmas`` (recent σ of its
    markets, from the monitor's price windows) let the rules count the move to liquidation in
    σ; without them the σ triggers stay silent. ``partial`` says what a partial liquidation
    closed, when this is the account as it left it (``Report.partial``).
    """

    account_id: int
    account: MarginAccount
    health: AccountHealth | None
    block_number: int
    liquidated: bool = False
    head_stalled: bool = False
    previous_marks: Mapping[str, float] | None = None
    prices: tuple[PriceFreshness, ...] = ()
    marks_usd: Mapping[str, float] | None = None
    sigmas: Sigmas | None = None
    partial: PartialLiquidation | None = None


@dataclass(frozen=True, slots=True)
class Decided:
    """An alert that was recorded (and queued for every channel)."""

    account_id: int
    alert_id: int
    decision: AlertDecision
    block_number: int


PolicyFor = Callable[[MarginAccount], Policy]
LensesFor = Callable[[MarginAccount], Sequence[tuple[str, Policy]]]
"""An account's secondary lenses (``monitor.subscriptions.routing.Lens``): each key, never the
primary's ``""``, with the policy of that lens's thresholds. Most accounts have none."""
Router = Callable[[MarginAccount, Level, str], Sequence[str]]
"""The channels of one alert: its account, level and the key of the lens that decided it
(``""``: the primary, stepped with ``PolicyFor``'s policy)."""


def apply_rules(
    engine: Engine,
    observations: Sequence[Observation],
    policy_for: PolicyFor,
    channels: Sequence[str] | Router,
    now: datetime,
    known: dict[int, AlertState] | None = None,
    reports: Sequence[Report] | None = None,
    lenses: LensesFor | None = None,
) -> list[Decided]:
    """Step every observed account's alert state; record states and alerts atomically, each
    alert with an outbox row per channel ``channels`` names for it.

    ``known``, when given, holds the stored state of accounts stepped before, and receives
    each observed account's state as stored once this commits (its level is what the steady
    screen ranks): those are not loaded again. Only the chain's lease holder may keep one (no
    one else writes its accounts' states), and only while it holds the lease: a crash moves
    thousands of accounts, and loading their states was a sixth of the rules' time.

    ``reports``, when given, is each observation's report as :func:`rule_inputs` built it
    (the caller compared them to skip unchanged accounts): not built again.

    ``lenses``, when given, names each account's secondary lenses: each has an alert state
    of its own (``alert_lens_states``), stepped from the same report with its own policy,
    and its alerts are routed with its key. ``known`` holds primary states only."""
    route = channels if callable(channels) else _fixed(channels)
    decided: list[Decided] = []
    account_ids = [o.account_id for o in observations]
    extra = [lenses(o.account) for o in observations] if lenses is not None else []
    # It reads (the states not cached) before it writes, beside other writers (reads stored
    # behind the tick, delivery, the bot): take the write lock up front.
    with write_transaction(engine) as conn:
        cached = known if known is not None else {}
        primary = {i: cached[i] for i in account_ids if i in cached}
        primary.update(_load(conn, [i for i in account_ids if i not in cached]))
        lensed = [o.account_id for o, more in zip(observations, extra, strict=False) if more]
        states = _load_lenses(conn, lensed)
        states.update(((i, PRIMARY_LENS), s) for i, s in primary.items())
        changed: dict[tuple[int, str], AlertState] = {}
        alerts: list[tuple[Observation, AlertDecision, NewAlert]] = []
        built = reports if reports is not None else [None] * len(observations)
        for n, (obs, report) in enumerate(zip(observations, built, strict=True)):
            report = report if report is not None else _report(obs)
            for key, policy in [
                (PRIMARY_LENS, policy_for(obs.account)),
                *(extra[n] if extra else ()),
            ]:
                state = states.get((obs.account_id, key), AlertState())
                stepped = _step_lens(obs, report, state, policy, now)
                if stepped is None:
                    continue  # already told it was liquidated
                new, decisions, told, told_report = stepped
                if _decisive(new) != _decisive(state):
                    changed[obs.account_id, key] = new
                alerts += _new_alerts(told, told_report, decisions, route, key)
        _save_all(conn, changed)
        alert_ids = enqueue_many(conn, [new_alert for _, _, new_alert in alerts], now=now)
        decided += [
            Decided(obs.account_id, alert_id, decision, obs.block_number)
            for (obs, decision, _), alert_id in zip(alerts, alert_ids, strict=True)
            if alert_id is not None
        ]
        if decided:
            crash_point("alerts-before-commit")
    if decided:
        crash_point("alerts-committed")
    # Only once committed (a failed commit leaves the caller unsure), as stored now: changed,
    # loaded, or no row (the initial state).
    if known is not None:
        for i in account_ids:
            stored = changed.get((i, PRIMARY_LENS))
            known[i] = _as_stored(stored) if stored is not None else primary.get(i, AlertState())
    return decided


def _step_lens(
    obs: Observation, report: Report, state: AlertState, policy: Policy, now: datetime
) -> tuple[AlertState, list[AlertDecision], Observation, Report] | None:
    """``state`` (one lens's) stepped with ``obs``'s ``report`` and ``policy``; None when it
    already told the liquidation ``obs`` reports (a second report would open a new episode).
    The observation and report as stepped come back with it: a partial liquidation this
    state already told is left out of both."""
    if obs.liquidated and state.level is Level.LIQUIDATED:
        return None
    if obs.partial is not None and _told(state, obs.partial):
        obs = replace(obs, partial=None)
        report = _report(obs)
    new, decisions = step(state, report, policy, now)
    return new, decisions, obs, report


def _new_alerts(
    obs: Observation,
    report: Report,
    decisions: Sequence[AlertDecision],
    route: Router,
    lens: str,
) -> list[tuple[Observation, AlertDecision, NewAlert]]:
    """An alert (with its channels) per decision of ``lens``."""
    out = []
    for decision in decisions:
        payload = dict(alert_payload(obs, decision, report.move_sigma))
        channels = route(obs.account, decision.level, lens)
        new_alert = NewAlert(
            obs.account_id, decision.level, decision.episode, payload, channels, lens
        )
        out.append((obs, decision, new_alert))
    return out


def _told(state: AlertState, partial: PartialLiquidation) -> bool:
    """Whether ``state`` already told ``partial``: a step at or after its inference alerted a
    liquidation (a commit the caller could not confirm, retried; a second report would open
    a new episode and tell it twice)."""
    told_at = state.updated_at
    return (
        Level.LIQUIDATED in state.alerted and told_at is not None and told_at >= partial.inferred_at
    )


def _fixed(channels: Sequence[str]) -> Router:
    return lambda _account, _level, _lens: channels


def _reading(report: Report) -> Reading | None:
    if report.liquidated or report.health is None or math.isnan(report.health):
        return None
    return Reading(report.health, report.move_pct, report.move_sigma)


def _report(obs: Observation) -> Report:
    if obs.liquidated:
        return Report(liquidated=True)
    if obs.health is None:
        return Report(health=None, head_stalled=obs.head_stalled, partial=_closed(obs))
    return Report.from_health(
        obs.health,
        obs.prices,
        head_stalled=obs.head_stalled,
        move_sigma=_move_sigma(obs),
        partial=_closed(obs),
    )


def _closed(obs: Observation) -> str | None:
    return obs.partial.closed if obs.partial is not None else None


POLL_EVERY_TICK = frozenset({Level.CRITICAL, Level.LIQUIDATABLE})
"""Raw levels whose wallets an event-less protocol re-reads every tick. Not warning: prices are
re-read and the book re-priced every tick anyway, and in a falling market a sixth of a book sits
at warning, so polling those every tick made each tick's cost grow with the book."""


def at_risk(obs: Observation, policy: Policy) -> bool:
    """Whether ``obs`` is unknown, or critical or worse by its thresholds alone (no
    hysteresis): the accounts whose state is worth re-reading every tick."""
    reading = _reading(_report(obs))
    return reading is None or policy.raw_level(reading) in POLL_EVERY_TICK


def rule_inputs(obs: Observation, now: datetime) -> tuple[Report, tuple[str, ...]]:
    """Everything ``step`` decides from for this observation at ``now`` (the policy aside,
    which is fixed per account): its report and what is stale at ``now``. Equal inputs and an
    equal state give an equal step."""
    report = _report(obs)
    return report, tuple(report.staleness(now))


def _market_label(protocol: str, market: str, asset: str) -> str:
    # An account stored by a protocol no longer registered is still alerted on, plainly.
    found = PLUGINS.get(protocol)
    return (found.market_label if found else plain_market)(market, asset)


def _move_sigma(obs: Observation) -> float | None:
    if obs.sigmas is None or obs.health is None or not obs.health.known:
        return None
    return sigma_move(obs.account, obs.marks_usd, obs.sigmas.by_asset, obs.health.positions)


def alert_payload(
    obs: Observation, decision: AlertDecision, move_sigma: float | None = None
) -> AlertPayload:
    """The notifier-facing description of one alert (display floats; see ``message.py``):
    the account's move to liquidation in percent and (``move_sigma``, when known) in σ, and
    per position its liquidation price and distance."""
    account, health = obs.account, obs.health
    sigmas = obs.sigmas.by_asset if obs.sigmas is not None else {}
    positions: list[PositionPayload] = []
    risks = health.positions if health is not None else ()
    for position, risk in zip(account.positions, risks, strict=False):
        before = (obs.previous_marks or {}).get(risk.asset)
        move = 0.0 if not before else (risk.mark_price / before - 1.0) * 100.0
        positions.append(
            PositionPayload(
                market=_market_label(account.protocol, risk.market, risk.asset),
                asset=risk.asset,
                side="long" if position.is_long else "short",
                mark_price_usd=risk.mark_price,
                liquidation_price_usd=risk.liquidation_price,
                distance_pct=risk.distance_pct,
                distance_sigma=position_sigma(risk, sigmas),
                adverse_move_pct=-move if position.is_long else move,
            )
        )
    valued = health is not None and health.known  # else a bad price: NaN values
    finite = valued and health is not None and math.isfinite(health.health)
    payload = AlertPayload(
        chain_id=account.chain_id,
        protocol=account.protocol,
        owner=account.owner,
        account_ref=account.ref,
        mode=account.mode.value,
        level=decision.level.value,
        health=health.health if finite and health is not None else None,
        equity_usd=health.equity_usd if valued and health is not None else 0.0,
        maintenance_usd=health.maintenance_usd if valued and health is not None else 0.0,
        block_number=obs.block_number,
        positions=positions,
        reason=decision.reason,
        move_pct=health.move_pct if valued and health is not None else None,
        move_sigma=move_sigma,
        sigma_horizon_s=obs.sigmas.horizon_s if obs.sigmas is not None else None,
    )
    if decision.partial is not None:
        payload["partial"] = decision.partial
    return payload


def _load(conn: Connection, ids: list[int]) -> dict[int, AlertState]:
    """The primary states of accounts ``ids`` that have one stored."""
    return {row["account_id"]: _state_of(row) for row in _rows(conn, _states, ids)}


def _load_lenses(conn: Connection, ids: list[int]) -> dict[tuple[int, str], AlertState]:
    """The secondary lenses' states of accounts ``ids`` that have any stored."""
    return {
        (row["account_id"], row["lens"]): _state_of(row) for row in _rows(conn, _lens_states, ids)
    }


def _rows(conn: Connection, table: sa.Table, ids: list[int]) -> list[sa.RowMapping]:
    out: list[sa.RowMapping] = []
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        out += conn.execute(sa.select(table).where(table.c.account_id.in_(chunk))).mappings()
    return out


def _state_of(row: sa.RowMapping) -> AlertState:
    return AlertState(
        level=Level(row["level"]),
        episode=row["episode"],
        alerted=frozenset(Level(v) for v in row["alerted"]),
        health=row["health"],
        since=row["since"],
        updated_at=row["updated_at"],
    )


def _decisive(state: AlertState) -> Hashable:
    """What of a state decides later steps (and what other readers use: the level). Its
    ``health`` and ``updated_at`` only record the last evaluation; writing them for every
    account on every tick made the rules' transaction grow with the book, so a state is
    stored when this part changes, and its row's health and time are those of that change.
    No row at all is the initial state (ok)."""
    return state.level, state.episode, state.alerted, state.since


def _stored_health(health: float | None) -> float | None:
    """``health`` as its column keeps it: a finite double, else nothing (no liquidation
    threshold is near 1e300; infinity and NaN are no reading)."""
    return health if health is None or health < 1e300 else None


def _as_stored(state: AlertState) -> AlertState:
    """``state`` as :func:`_load` would read it back once :func:`_save_all` wrote it."""
    health = _stored_health(state.health)
    return state if health == state.health else replace(state, health=health)


def _save_all(conn: Connection, changed: Mapping[tuple[int, str], AlertState]) -> None:
    """Write the ``changed`` states (by account and lens), new or stored, as one multi-row
    upsert per table of plain tuples (:mod:`indexer.store.bulk`): a crash moves thousands of
    accounts at once, and an update per row through SQLAlchemy's parameter processing took a
    third of the rules' time."""
    primary = [((i,), s) for (i, key), s in changed.items() if key == PRIMARY_LENS]
    lenses = [((i, key), s) for (i, key), s in changed.items() if key != PRIMARY_LENS]
    if primary:
        _STATE_UPSERT.execute(conn, _state_rows(conn, primary))
    if lenses:
        _LENS_STATE_UPSERT.execute(conn, _state_rows(conn, lenses))


def _state_rows(
    conn: Connection, keyed: Iterable[tuple[tuple[int | str, ...], AlertState]]
) -> list[tuple[object, ...]]:
    """Each ``(key, state)`` as the row its table stores: the key's columns, then the state's."""
    # A tick's states share a few times (its ``now``, the ``since`` of levels entered before)
    # and a few sets of alerted levels: each converted once.
    stamp = functools.cache(functools.partial(driver_datetime, postgres=is_postgres(conn)))
    return [
        (*key, s.level.value, s.episode, _alerted_json(s.alerted),
         _stored_health(s.health), stamp(s.since), stamp(s.updated_at))
        for key, s in keyed
    ]  # fmt: skip


@functools.cache
def _alerted_json(alerted: frozenset[Level]) -> str:
    """The ``alerted`` column's text: the levels' values, sorted."""
    return orjson.dumps(sorted(level.value for level in alerted)).decode()


_STATE_COLUMNS_AFTER_KEY = {
    "level": "text", "episode": "integer", "alerted": "json",
    "health": "double precision", "since": "timestamptz", "updated_at": "timestamptz",
}  # fmt: skip
_STATE_COLUMNS = {"account_id": "integer", **_STATE_COLUMNS_AFTER_KEY}
_STATE_UPSERT = BulkInsert.upsert("alert_states", _STATE_COLUMNS, ["account_id"])
_LENS_STATE_UPSERT = BulkInsert.upsert(
    "alert_lens_states",
    {"account_id": "integer", "lens": "text", **_STATE_COLUMNS_AFTER_KEY},
    ["account_id", "lens"],
)


def newly_liquidated(
    engine: Engine,
    chain_id: int,
    eventless_protocols: Collection[str],
    breached: Collection[int] = (),
    *,
    since_block: int | None = None,
) -> list[tuple[int, MarginAccount]]:
    """Liquidated accounts of ``chain_id`` not yet alerted as liquidated, without their
    positions and collateral (an ended account's positions are gone from the store anyway).

    For protocols that emit no liquidation event (``eventless_protocols``, e.g. Hyperliquid,
    whose liquidations happen on HyperCore), an account that disappeared (closed) while its
    alert level was liquidatable, or whose id is in ``breached`` (gone below its maintenance
    margin: ``monitor.alerts.inference``), is taken to have been liquidated and recorded so.

    ``since_block``: only accounts stored at or above it (and ``breached``). An account's end is
    stored with the block of the read or events that found it, so a caller that has already
    looked below some block passes it and the lookup follows what changed since, not every
    account that ever ended (a whole scan cost 19 ms at 25,000 accounts, 236 ms at 400,000).
    """
    accounts, states = _accounts_table(), _states
    joined = accounts.outerjoin(states, states.c.account_id == accounts.c.id)
    alerted = sa.func.coalesce(states.c.level, Level.OK.value)
    inferred = sa.and_(
        accounts.c.status == AccountStatus.CLOSED.value,
        accounts.c.protocol.in_(list(eventless_protocols)),
        sa.or_(alerted == Level.LIQUIDATABLE.value, accounts.c.id.in_(list(breached))),
    )
    reported = sa.and_(
        accounts.c.status == AccountStatus.LIQUIDATED.value, alerted != Level.LIQUIDATED.value
    )
    ended = accounts.c.status.in_([AccountStatus.CLOSED.value, AccountStatus.LIQUIDATED.value])
    found = sa.select(accounts.c.id, inferred.label("inferred")).select_from(joined)
    found = found.where(accounts.c.chain_id == chain_id, ended, sa.or_(inferred, reported))
    # The breached ones apart: in one OR with the block range, no index serves the range.
    lookups = [found]
    if since_block is not None:
        lookups = [found.where(accounts.c.block_number >= since_block)]
        if breached:
            lookups.append(found.where(accounts.c.id.in_(list(breached))))
    with engine.connect() as conn:
        rows = list({row.id: row for lookup in lookups for row in conn.execute(lookup)}.values())
    guessed = [row.id for row in rows if row.inferred]
    if guessed:
        # A transaction of its own that writes first: had it read first, a writer committing
        # meanwhile (reads stored behind the tick) would make it fail with "database is
        # locked" on SQLite. Still closed: a read since may have found one open again.
        with write_transaction(engine) as conn:
            conn.execute(
                accounts.update()
                .where(
                    accounts.c.id.in_(guessed),
                    accounts.c.status == AccountStatus.CLOSED.value,
                )
                .values(status=AccountStatus.LIQUIDATED.value)
            )
    # Without positions and collateral: a liquidated alert tells who, not what was held, and
    # a crash ends thousands (3,500 accounts of a position and a collateral each: 131 ms to
    # load whole, 37 ms without).
    ids = [row.id for row in rows]
    return load_accounts(engine, status=None, ids=ids, children=False) if ids else []


def _accounts_table() -> sa.Table:
    return Account.__table__  # type: ignore[attr-defined, no-any-return]
