"""Column types for exact on-chain integers and UTC timestamps, and their pydantic twins.

On-chain amounts are uint256/int256. Neither SQLite nor PostgreSQL has such an integer type, so
an exact integer is stored as NUMERIC(78, 0) on PostgreSQL (78 digits hold 2**256 - 1) and as
decimal TEXT on SQLite (its INTEGER stops at 2**63 - 1). Python always sees a plain ``int``.

Caveat: on SQLite the stored text compares as text, so ``ORDER BY`` or ``<`` on an exact-integer
column is wrong there; compare in Python, or on PostgreSQL only.

    class Position(SQLModel, table=True):
        size_raw: ExactInt = Field(sa_type=ExactIntType)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from annotated_types import Ge, Le
from pydantic import Strict
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

INT256_MIN = -(2**255)
UINT256_MAX = 2**256 - 1

ExactInt = Annotated[int, Strict(), Ge(INT256_MIN), Le(UINT256_MAX)]
"""Any int256 or uint256 value; ``bool``, ``float`` and ``str`` are rejected (strict)."""

UnsignedExactInt = Annotated[int, Strict(), Ge(0), Le(UINT256_MAX)]
"""Any uint256 value."""


def check_exact_int(value: object) -> int:
    """Return ``value`` if it is an int in [INT256_MIN, UINT256_MAX].

    Raises:
        TypeError: ``value`` is not an ``int`` (``bool`` counts as not an int here).
        ValueError: ``value`` lies outside the int256/uint256 range.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"exact integer column needs an int, got {type(value).__name__}")
    if not INT256_MIN <= value <= UINT256_MAX:
        raise ValueError(f"exact integer {value} is outside the int256/uint256 range")
    return value


class ExactIntType(TypeDecorator[int]):
    """An exact integer column: NUMERIC(78, 0) on PostgreSQL, decimal TEXT on SQLite."""

    impl = sa.Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(78, 0, asdecimal=True))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return driver_exact_int(value, postgres=dialect.name != "sqlite")

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, Decimal) and value != value.to_integral_value():
            raise ValueError(f"exact integer column holds a fraction: {value}")
        return int(value)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both backends.

    SQLite has no time zones: the value is stored as UTC without an offset and read back with
    ``tzinfo=UTC``. PostgreSQL stores TIMESTAMPTZ; values come back converted to UTC.

    Raises ValueError on a naive datetime: its zone would be a guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = _aware_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy's SQLite ``DATETIME`` stores a timestamp (its ``_storage_format``)."""


def driver_exact_int(value: int, *, postgres: bool) -> str | Decimal:
    """An :class:`ExactIntType` value as bound: decimal text on SQLite, a Decimal on PostgreSQL
    (not an int: psycopg would send a big int as NUMERIC anyway, but an explicit Decimal keeps
    the parameter type stable for the statement cache). Also what a driver-level statement
    (:mod:`indexer.store.bulk`) binds. Raises as :func:`check_exact_int`."""
    value = check_exact_int(value)
    return Decimal(value) if postgres else str(value)


def driver_datetime(value: datetime | None, *, postgres: bool) -> datetime | str | None:
    """A :class:`UtcDateTime` value as a driver-level statement binds it (bypassing
    SQLAlchemy's processing, see :mod:`indexer.store.bulk`): aware UTC for PostgreSQL, the
    text SQLAlchemy would store for SQLite; so either reads back through the column type.

    Raises ValueError on a naive datetime, as the column type does."""
    if value is None:
        return None
    value = _aware_utc(value)
    return value if postgres else value.replace(tzinfo=None).strftime(SQLITE_DATETIME_FORMAT)


def _aware_utc(value: datetime) -> datetime:
    """``value`` in UTC; ValueError if it is naive (its zone would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware one")
    return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the default for timestamp columns)."""
    return datetime.now(UTC)


def json_safe(value: Any) -> Any:
    """Make decoded event arguments safe for a JSON column without losing precision.

    ints become decimal strings (JSON numbers lose precision past 2**53 in most readers),
    bytes become ``0x`` hex, tuples become lists; mappings and lists are converted recursively.
    bools, None, floats and strings pass through unchanged.
    """
    if isinstance(value, bool) or value is None or isinstance(value, float | str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    raise TypeError(f"cannot store a {type(value).__name__} in a JSON column")
