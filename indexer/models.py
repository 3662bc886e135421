"""perpwatch's normal form: every protocol's positions as isolated or cross margin accounts.

Everything downstream of the protocol adapters sees only these types. Amounts stay exact
integers, with their unit in the name, exactly as the store keeps them:

- ``*_raw``: an on-chain amount in the asset's smallest unit; ``decimals`` says how many.
- ``*_usd_e30``: US dollars times 10**30 (GMX's precision, wide enough for every protocol).
- ``*_rate_e30``: a dimensionless share times 10**30 (0.5 % = 5 * 10**27).

The float properties (``Position.size``, ``Collateral.amount`` ...) are the one place where an
exact value becomes a float64 for the margin math; Python's int / int division rounds correctly.

    >>> usdc = Collateral("USDC", 1_000 * 10**6, 6, "chainlink:USDC/USD")
    >>> usdc.amount
    1000.0
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter

E30 = 10**30
"""Scale of every ``*_usd_e30`` and ``*_rate_e30`` integer."""

MAX_DECIMALS = 77
"""Largest accepted ``decimals``: a uint256 has 78 decimal digits."""

_POW10: tuple[int, ...] = tuple(10**i for i in range(MAX_DECIMALS + 1))


class MarginMode(StrEnum):
    """Whether collateral backs one position (isolated) or every position of the account."""

    ISOLATED = "isolated"
    CROSS = "cross"


class AccountStatus(StrEnum):
    """Lifecycle of a margin account as last seen on chain."""

    OPEN = "open"
    CLOSED = "closed"
    LIQUIDATED = "liquidated"


def _require_int(owner: str, name: str, value: object) -> None:
    """Reject floats, strings and bools where an exact integer belongs.

    Why: rows read back from SQLite TEXT columns are strings until converted, and a float
    here would silently lose precision.
    """
    if type(value) is not int:
        raise ValueError(f"{owner}.{name} must be an int, got {type(value).__name__}")


def _require_range(owner: str, name: str, value: int, low: int, high: int | None = None) -> None:
    """Raise ValueError unless ``low <= value`` (and ``value <= high`` when given)."""
    _require_int(owner, name, value)
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{owner}.{name} must be {bound}, got {value}")


def _require_text(owner: str, name: str, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{owner}.{name} must be a non-empty string")


@dataclass(frozen=True, slots=True)
class Collateral:
    """An amount of one asset backing an account, valued at ``amount * price * (1 - haircut)``.

    ``amount_raw`` is in the asset's smallest unit (``decimals`` digits). A negative amount is
    a debt (Synthetix account debt, a negative Hyperliquid USDC balance) and takes no haircut.
    ``price_feed`` names where the price comes from; the margin math looks prices up by
    ``asset``. ``haircut_e30`` is the share of value not counted (Synthetix collateral
    discount), in [0, 1] times 10**30.

    Raises:
        ValueError: a non-integer amount, decimals outside [0, 77], a haircut outside
            [0, E30], an empty name, or a haircut on a debt.
    """

    asset: str
    amount_raw: int
    decimals: int
    price_feed: str
    haircut_e30: int = 0

    def __post_init__(self) -> None:
        _require_text("Collateral", "asset", self.asset)
        _require_text("Collateral", "price_feed", self.price_feed)
        _require_int("Collateral", "amount_raw", self.amount_raw)
        _require_range("Collateral", "decimals", self.decimals, 0, MAX_DECIMALS)
        _require_range("Collateral", "haircut_e30", self.haircut_e30, 0, E30)
        if self.amount_raw < 0 and self.haircut_e30:
            raise ValueError("Collateral.haircut_e30 must be 0 for a debt (negative amount)")

    @property
    def amount(self) -> float:
        """Amount in whole units of the asset (e.g. 1.5 WETH)."""
        return self.amount_raw / _POW10[self.decimals]

    @property
    def haircut(self) -> float:
        """Haircut as a share in [0, 1]."""
        return self.haircut_e30 / E30


@dataclass(frozen=True, slots=True)
class MmTier:
    """One maintenance tier: from ``lower_bound_usd_e30`` of mark notional ``|size|·P`` up, the
    requirement is ``mm_rate · notional - deduction`` (Hyperliquid "margin tiers").

    Raises:
        ValueError: a non-integer field, a negative bound or a rate that is not positive.
    """

    lower_bound_usd_e30: int
    mm_rate_e30: int
    deduction_usd_e30: int

    def __post_init__(self) -> None:
        _require_range("MmTier", "lower_bound_usd_e30", self.lower_bound_usd_e30, 0)
        _require_range("MmTier", "mm_rate_e30", self.mm_rate_e30, 1)
        _require_int("MmTier", "deduction_usd_e30", self.deduction_usd_e30)


def continuous_deduction_e30(previous: MmTier, lower_bound_usd_e30: int, rate_e30: int) -> int:
    """The deduction that makes the requirement continuous at ``lower_bound_usd_e30`` when the
    rate changes from ``previous``'s to ``rate_e30`` (floored to 1e-30 USD)."""
    step = lower_bound_usd_e30 * (rate_e30 - previous.mm_rate_e30) // E30
    return previous.deduction_usd_e30 + step


def _require_tiers(tiers: tuple[MmTier, ...]) -> None:
    """Tiers start at notional 0 with no deduction, ascend strictly, and keep the requirement
    continuous: a jump would let health skip over 1 without a liquidation price."""
    if not isinstance(tiers, tuple) or not all(isinstance(t, MmTier) for t in tiers):
        raise ValueError("Position.mm_tiers must be a tuple of MmTier")
    if tiers and (tiers[0].lower_bound_usd_e30, tiers[0].deduction_usd_e30) != (0, 0):
        raise ValueError("Position.mm_tiers[0] must start at notional 0 with deduction 0")
    for i in range(1, len(tiers)):
        prev, tier = tiers[i - 1], tiers[i]
        if tier.lower_bound_usd_e30 <= prev.lower_bound_usd_e30:
            raise ValueError(f"Position.mm_tiers[{i}].lower_bound_usd_e30 must ascend strictly")
        want = continuous_deduction_e30(prev, tier.lower_bound_usd_e30, tier.mm_rate_e30)
        if tier.deduction_usd_e30 != want:
            raise ValueError(
                f"Position.mm_tiers[{i}].deduction_usd_e30 must be {want} (continuous), "
                f"got {tier.deduction_usd_e30}"
            )


@dataclass(frozen=True, slots=True)
class Position:
    """One perp position, in the terms the margin math needs.

    ``size_raw`` is signed (long > 0, short < 0) in base units of ``asset`` with
    ``size_decimals`` digits; ``entry_notional_usd_e30`` is ``|size| * entry price`` (> 0), so
    price PnL is ``size * P - sign * entry_notional``. ``pending_fees_usd_e30`` are fees owed
    now (borrowing, funding, a closing fee charged on entry notional); negative is a credit.
    ``closing_fee_rate_e30`` is charged on the *mark* notional at close. The maintenance
    requirement is ``max(mm_floor_usd, mm_rate * |size| * P + mm_rate_entry * entry_notional
    + tiered(|size| * P))``, where ``tiered(n)`` is ``rate * n - deduction`` of the tier of
    ``mm_tiers`` containing ``n`` (0 without tiers): continuous and piecewise linear in P.
    ``venue_notes`` are display-only facts about how the venue's rule was applied (GMX: the
    closing fee factor and balance flag used); the margin math ignores them, the store does not
    keep them and equality does not compare them.

    Raises:
        ValueError: a zero size, a non-positive entry notional, a negative rate or floor,
            decimals outside [0, 77], non-integer amounts, an empty name, or tiers that do not
            start at 0, ascend strictly and join continuously.
    """

    market: str
    asset: str
    size_raw: int
    size_decimals: int
    entry_notional_usd_e30: int
    pending_fees_usd_e30: int
    closing_fee_rate_e30: int
    mm_rate_e30: int
    mm_rate_entry_e30: int
    mm_floor_usd_e30: int
    mm_tiers: tuple[MmTier, ...] = ()
    venue_notes: tuple[tuple[str, str | int | bool], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        _require_text("Position", "market", self.market)
        _require_text("Position", "asset", self.asset)
        _require_int("Position", "size_raw", self.size_raw)
        if self.size_raw == 0:
            raise ValueError("Position.size_raw must not be 0 (drop closed positions)")
        _require_range("Position", "size_decimals", self.size_decimals, 0, MAX_DECIMALS)
        _require_range("Position", "entry_notional_usd_e30", self.entry_notional_usd_e30, 1)
        _require_int("Position", "pending_fees_usd_e30", self.pending_fees_usd_e30)
        for name in ("closing_fee_rate_e30", "mm_rate_e30", "mm_rate_entry_e30"):
            _require_range("Position", name, getattr(self, name), 0)
        _require_range("Position", "mm_floor_usd_e30", self.mm_floor_usd_e30, 0)
        _require_tiers(self.mm_tiers)

    @property
    def is_long(self) -> bool:
        return self.size_raw > 0

    @property
    def side(self) -> int:
        """+1 for a long, -1 for a short."""
        return 1 if self.size_raw > 0 else -1

    @property
    def size(self) -> float:
        """Signed size in whole units of ``asset`` (e.g. -10.0 ETH)."""
        return self.size_raw / _POW10[self.size_decimals]

    @property
    def entry_notional_usd(self) -> float:
        return self.entry_notional_usd_e30 / E30

    @property
    def entry_price(self) -> float:
        """Average entry price, USD per whole unit of ``asset``."""
        return self.entry_notional_usd_e30 * _POW10[self.size_decimals] / (abs(self.size_raw) * E30)

    @property
    def pending_fees_usd(self) -> float:
        return self.pending_fees_usd_e30 / E30

    @property
    def closing_fee_rate(self) -> float:
        return self.closing_fee_rate_e30 / E30

    @property
    def mm_rate(self) -> float:
        return self.mm_rate_e30 / E30

    @property
    def mm_rate_entry(self) -> float:
        return self.mm_rate_entry_e30 / E30

    @property
    def mm_floor_usd(self) -> float:
        return self.mm_floor_usd_e30 / E30

    @property
    def mm_tiers_usd(self) -> tuple[tuple[float, float, float], ...]:
        """``(lower_bound_usd, mm_rate, deduction_usd)`` per tier, as floats for the math."""
        return tuple(
            (t.lower_bound_usd_e30 / E30, t.mm_rate_e30 / E30, t.deduction_usd_e30 / E30)
            for t in self.mm_tiers
        )


@dataclass(frozen=True, slots=True)
class MarginAccount:
    """A margin account at ``block_number``: collateral backing one (isolated) or all (cross)
    of its positions.

    ``ref`` is the protocol's own id (GMX position key, Synthetix account id, ...).
    ``fixed_requirement_usd_e30`` is maintenance that does not depend on prices (Synthetix
    minimum position margins); it may be negative (a Hyperliquid tier deduction).

    Raises:
        ValueError: an isolated account with more than one position, a non-positive chain id,
            a negative block number, an unknown mode or status, or an empty name.
    """

    chain_id: int
    protocol: str
    owner: str
    ref: str
    mode: MarginMode
    collateral: tuple[Collateral, ...]
    positions: tuple[Position, ...]
    block_number: int
    fixed_requirement_usd_e30: int = 0
    status: AccountStatus = AccountStatus.OPEN

    def __post_init__(self) -> None:
        _require_range("MarginAccount", "chain_id", self.chain_id, 1)
        _require_range("MarginAccount", "block_number", self.block_number, 0)
        _require_int("MarginAccount", "fixed_requirement_usd_e30", self.fixed_requirement_usd_e30)
        for name in ("protocol", "owner", "ref"):
            _require_text("MarginAccount", name, getattr(self, name))
        # Reject plain strings too: the store must convert them to the enum before building.
        if not isinstance(self.mode, MarginMode):
            raise ValueError(f"MarginAccount.mode must be a MarginMode, got {self.mode!r}")
        if not isinstance(self.status, AccountStatus):
            raise ValueError(f"MarginAccount.status must be an AccountStatus, got {self.status!r}")
        if not isinstance(self.collateral, tuple) or not isinstance(self.positions, tuple):
            raise ValueError("MarginAccount.collateral and .positions must be tuples")
        if self.mode is MarginMode.ISOLATED and len(self.positions) > 1:
            raise ValueError(
                f"isolated account {self.ref} has {len(self.positions)} positions (at most 1)"
            )

    @property
    def fixed_requirement_usd(self) -> float:
        return self.fixed_requirement_usd_e30 / E30

    @property
    def assets(self) -> frozenset[str]:
        """Every asset whose price the margin math needs for this account."""
        return frozenset(c.asset for c in self.collateral) | {p.asset for p in self.positions}

    def same_terms(self, other: MarginAccount) -> bool:
        """Whether ``other`` equals this account but for the block each was read at (a re-read
        that changed nothing). Compares the fields in place: building a copy at the other's
        block to compare whole ran every check of ``__post_init__`` again, per account read."""
        return _account_terms(self) == _account_terms(other)


_account_terms = attrgetter(*(f.name for f in fields(MarginAccount) if f.name != "block_number"))
