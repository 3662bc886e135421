"""Alert thresholds as levels: which level a health factor reaches, and when a level clears.

Pure: no I/O. Health is the dimensionless factor equity / maintenance from
``monitor.health.account``
(≤ 1 ⇒ liquidatable); distances are percent moves of a mark price towards its liquidation price.

    >>> policy = Policy.from_thresholds(alert_config.for_account("gmx_v2", wallet))
    >>> policy.raw_level(1.12, None)
    <Level.CRITICAL: 'critical'>
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer.config.sections import Thresholds
from indexer.errors import ConfigError
from monitor.alerts.levels import Level

LIQUIDATABLE_AT = 1.0
"""Health at or below which an account can be liquidated: the definition of the factor."""

LADDER: tuple[Level, ...] = (Level.OK, Level.WARNING, Level.CRITICAL, Level.LIQUIDATABLE)
"""The health levels, safest first; ``unknown`` and ``liquidated`` sit outside it."""

_RANK = {level: rank for rank, level in enumerate(LADDER)}


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
class Policy:
    """Thresholds on health (and optionally distance to liquidation) for one account.

    Warning at ``health ≤ warning`` (default 1.5) or, when ``distance_pct`` is set, at a
    minimum distance to liquidation ``< distance_pct`` percent; critical at ``health ≤
    critical`` (1.15); liquidatable at ``health ≤ 1``. A level, once reached, holds until the
    value passes ``Thresholds.clear_above`` of its threshold (default +5 %): hysteresis, so
    health hovering around a threshold does not flap.
    """

    thresholds: Thresholds = field(default_factory=Thresholds)

    @classmethod
    def from_thresholds(cls, thresholds: Thresholds) -> Policy:
        """The policy for resolved thresholds (``AlertConfig.for_account``).

        Raises ``ConfigError`` if critical is not below warning.
        """
        if problem := thresholds.ordering_problem():
            raise ConfigError(f"alerts: {problem}")
        return cls(thresholds)

    def threshold(self, level: Level) -> float:
        """The health factor at or below which ``level`` is reached (warning..liquidatable)."""
        if level is Level.WARNING:
            return self.thresholds.warning
        if level is Level.CRITICAL:
            return self.thresholds.critical
        if level is Level.LIQUIDATABLE:
            return LIQUIDATABLE_AT
        raise ValueError(f"{level} has no health threshold")

    def too_close(self, distance_pct: float | None) -> bool:
        """Whether the distance trigger is set and the price is within it (strictly)."""
        trigger = self.thresholds.distance_pct
        return trigger is not None and distance_pct is not None and distance_pct < trigger

    def raw_level(self, health: float, distance_pct: float | None) -> Level:
        """The level these values reach with no history (no hysteresis)."""
        for level in reversed(LADDER[1:]):
            if health <= self.threshold(level):
                return level
        return Level.WARNING if self.too_close(distance_pct) else Level.OK

    def holds(self, level: Level, health: float, distance_pct: float | None) -> bool:
        """Whether an account already at ``level`` stays there: it has not cleared yet."""
        if health <= self.thresholds.clear_above(self.threshold(level)):
            return True
        trigger = self.thresholds.distance_pct
        if level is not Level.WARNING or trigger is None or distance_pct is None:
            return False
        return distance_pct <= self.thresholds.clear_above(trigger)

    def held_level(self, current: Level, health: float, distance_pct: float | None) -> Level:
        """The level after ``current`` (a ladder level) sees these values, with hysteresis.

        Escalation is immediate (the raw level wins when higher); de-escalation stops at the
        highest level at or below ``current`` that has not cleared.
        """
        raw = self.raw_level(health, distance_pct)
        for level in reversed(LADDER[1 : rank(current) + 1]):
            if self.holds(level, health, distance_pct):
                return raw if rank(raw) > rank(level) else level
        return raw

    def reason(self, level: Level, health: float, distance_pct: float | None) -> str:
        """A short human line saying why ``level`` was reached, e.g. "health 1.12 ≤ 1.15"."""
        if level is not Level.WARNING or health <= self.thresholds.warning:
            return f"health {health:.2f} ≤ {self.threshold(level):.2f}"
        return f"price {distance_pct:.1f}% from liquidation < {self.thresholds.distance_pct:g}%"
