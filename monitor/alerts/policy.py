"""Alert thresholds as levels: which level a reading reaches, and when a level clears.

Pure: no I/O. A ``Reading`` holds the health factor equity / maintenance from
``monitor.health.account`` (≤ 1 ⇒ liquidatable), the smallest adverse move that liquidates
the account in percent of the price, and that move in σ of the markets' recent moves.
Warning and critical each have up to three triggers (health, distance, σ) and fire when any
does; liquidatable is health ≤ 1 alone, the protocols' own rule.

    >>> policy = Policy.from_thresholds(alert_config.for_account("gmx_v2", wallet))
    >>> policy.raw_level(Reading(health=2.0, move_pct=2.5))
    <Level.CRITICAL: 'critical'>
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from indexer.config.sections import Thresholds
from indexer.errors import ConfigError
from monitor.alerts.levels import Level

LIQUIDATABLE_AT = 1.0
"""Health at or below which an account can be liquidated: the definition of the factor."""

LADDER: tuple[Level, ...] = (Level.OK, Level.WARNING, Level.CRITICAL, Level.LIQUIDATABLE)
"""The health levels, safest first; ``unknown`` and ``liquidated`` sit outside it."""

_RANK = {level: rank for rank, level in enumerate(LADDER)}
_DOWN_THE_LADDER = tuple(reversed(LADDER[1:]))
_OPTIONAL_KINDS = ((1, "distance_pct"), (2, "sigma"))  # index into a reading's values


def rank(level: Level) -> int:
    """Position of a health level on ``LADDER``; raises ``KeyError`` for any other level."""
    return _RANK[level]


def covered_by(level: Level) -> frozenset[Level]:
    """The alert levels an alert at ``level`` stands for: it and every milder alert level.

    Once an episode has alerted at critical, a later warning in the same episode says nothing
    new, so escalating past several levels at once marks the skipped ones as covered.
    """
    return frozenset(LADDER[1 : rank(level) + 1])


@dataclass(frozen=True, slots=True)
class Reading:
    """What one evaluation says about an account, as the thresholds see it.

    ``move_pct``: the smallest adverse price move that liquidates it, percent of the mark
    (``AccountHealth.move_pct``); ``move_sigma``: the same in σ of its markets
    (``monitor.health.volatility.sigma_move``). None where not known: such a trigger is silent.
    """

    health: float
    move_pct: float | None = None
    move_sigma: float | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    """One threshold of a level and the value it is compared with (fires at value ≤ it)."""

    kind: str  # "health", "distance_pct" or "sigma"
    threshold: float
    value: float

    def describe(self) -> str:
        """E.g. "health 1.12 ≤ 1.15", "liquidation 2.8% away ≤ 3%"."""
        if self.kind == "health":
            return f"health {self.value:.2f} ≤ {self.threshold:.2f}"
        if self.kind == "sigma":
            return f"liquidation {self.value:.1f}σ away ≤ {self.threshold:g}σ"
        return f"liquidation {self.value:.1f}% away ≤ {self.threshold:g}%"


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds (``indexer.config.sections.Thresholds``) for one account, as levels.

    A level is reached when any of its triggers has ``value ≤ threshold``; once reached it holds
    until every trigger is past ``Thresholds.clear_above`` of its threshold (default +5 %):
    hysteresis, so a value hovering around a threshold does not flap.
    """

    thresholds: Thresholds = field(default_factory=Thresholds)
    # Per level, its triggers as (index into (health, move_pct, move_sigma), threshold), and
    # the clearing factor: read from the thresholds once. A crash steps thousands of accounts
    # through ``raw_level`` and ``holds``, and building ``Trigger``s by attribute name each
    # time was a large part of the rules' time; ``triggers`` stays the definition (a property
    # test holds the two equal).
    _limits: dict[Level, tuple[tuple[int, float], ...]] = field(
        init=False, repr=False, compare=False
    )
    _clear_factor: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        t = self.thresholds
        limits: dict[Level, tuple[tuple[int, float], ...]] = {
            Level.LIQUIDATABLE: ((0, LIQUIDATABLE_AT),)
        }
        for level in (Level.WARNING, Level.CRITICAL):
            name = level.value
            optional = [(i, getattr(t, f"{name}_{kind}")) for i, kind in _OPTIONAL_KINDS]
            limits[level] = ((0, getattr(t, name)), *((i, x) for i, x in optional if x))
        object.__setattr__(self, "_limits", limits)
        object.__setattr__(self, "_clear_factor", 1 + t.clear_margin)

    @classmethod
    def from_thresholds(cls, thresholds: Thresholds) -> Policy:
        """The policy for resolved thresholds (``AlertConfig.for_account``).

        Raises ``ConfigError`` if a critical threshold is not below its warning one.
        """
        if problem := thresholds.ordering_problem():
            raise ConfigError(f"alerts: {problem}")
        return cls(thresholds)

    def triggers(self, level: Level, reading: Reading) -> list[Trigger]:
        """The configured triggers of ``level`` (warning..liquidatable) whose value is known."""
        if level is Level.LIQUIDATABLE:
            return [Trigger("health", LIQUIDATABLE_AT, reading.health)]
        if level not in (Level.WARNING, Level.CRITICAL):
            raise ValueError(f"{level} has no thresholds")
        t, name = self.thresholds, level.value
        out = [Trigger("health", getattr(t, name), reading.health)]
        for kind, value in (("distance_pct", reading.move_pct), ("sigma", reading.move_sigma)):
            threshold = getattr(t, f"{name}_{kind}")
            if threshold and value is not None:  # 0: the trigger is off
                out.append(Trigger(kind, threshold, value))
        return out

    def firing(self, level: Level, reading: Reading) -> list[Trigger]:
        """The triggers of ``level`` that fire on ``reading``."""
        return [t for t in self.triggers(level, reading) if t.value <= t.threshold]

    def raw_level(self, reading: Reading) -> Level:
        """The level ``reading`` reaches with no history (no hysteresis)."""
        for level in _DOWN_THE_LADDER:
            if self._reached(level, reading, 1.0):
                return level
        return Level.OK

    def holds(self, level: Level, reading: Reading) -> bool:
        """Whether an account already at ``level`` stays there: a trigger has not cleared
        (its value is at most ``Thresholds.clear_above`` its threshold)."""
        return self._reached(level, reading, self._clear_factor)

    def _reached(self, level: Level, reading: Reading, factor: float) -> bool:
        """Whether a known trigger value of ``level`` is at most its threshold · ``factor``."""
        values = (reading.health, reading.move_pct, reading.move_sigma)
        for index, threshold in self._limits[level]:
            value = values[index]
            if value is not None and value <= threshold * factor:
                return True
        return False

    def held_level(self, current: Level, reading: Reading) -> Level:
        """The level after ``current`` (a ladder level) sees ``reading``, with hysteresis.

        Escalation is immediate (the raw level wins when higher); de-escalation stops at the
        highest level at or below ``current`` that has not cleared.
        """
        raw = self.raw_level(reading)
        for level in reversed(LADDER[1 : rank(current) + 1]):
            if self.holds(level, reading):
                return raw if rank(raw) > rank(level) else level
        return raw

    def reason(self, level: Level, reading: Reading) -> str:
        """A short human line saying why ``level`` was reached: its firing triggers, e.g.
        "liquidation 2.8% away ≤ 3%; health 1.12 ≤ 1.15" (distance first: it is the default)."""
        order = {"distance_pct": 0, "sigma": 1, "health": 2}
        fired = sorted(self.firing(level, reading), key=lambda t: order[t.kind])
        return "; ".join(t.describe() for t in fired) or self.triggers(level, reading)[0].describe()


@functools.lru_cache(maxsize=1024)
def policy_of(thresholds: Thresholds) -> Policy:
    """The policy of ``thresholds`` (frozen, so hashable), built once per distinct value: a
    book's accounts mostly share one, and a crash first steps thousands of them at once."""
    return Policy(thresholds)
