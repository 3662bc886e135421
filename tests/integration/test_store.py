"""Tables, column types and sessions: pure checks, then every backend (tests/fixtures/db.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from indexer.models import MarginMode
from indexer.store.columns import (
    INT256_MIN,
    UINT256_MAX,
    ExactIntType,
    UtcDateTime,
    check_exact_int,
    json_safe,
)
from indexer.store.engine import session
from indexer.store.tables import Account, Collateral, Position, RawEvent, validated
from monitor.alerts.levels import Level
from monitor.tables import Alert, OutboxMessage

OWNER = "0x" + "ab" * 20
exact_ints = st.integers(min_value=INT256_MIN, max_value=UINT256_MAX)

SQLITE = sqlite.dialect()
POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


def _account(ref: str = "1", **overrides: Any) -> Account:
    values: dict[str, Any] = {
        "chain_id": 42161,
        "protocol": "gmx_v2",
        "owner": OWNER,
        "ref": ref,
        "mode": "isolated",
        "block_number": 100,
    }
    return validated(Account, **(values | overrides))


def _position(account_id: int, **overrides: Any) -> Position:
    values: dict[str, Any] = {
        "account_id": account_id,
        "market": "ETH/USD",
        "asset": "ETH",
        "size_raw": -(10**18),
        "size_decimals": 18,
        "entry_notional_usd_e30": 3000 * 10**30,
    }
    return validated(Position, **(values | overrides))


def _raw_event(**overrides: Any) -> RawEvent:
    values: dict[str, Any] = {
        "chain_id": 1,
        "block_number": 5,
        "log_index": 0,
        "tx_hash": "0x" + "22" * 32,
        "address": "0x" + "33" * 20,
        "topic0": "0x" + "44" * 32,
        "source": "gmx_v2",
    }
    return validated(RawEvent, **(values | overrides))


# --- pure: column types and validation ------------------------------------------------------


@given(exact_ints)
def test_exact_int_type_round_trips_through_both_dialects(value: int) -> None:
    column = ExactIntType()
    for dialect in (SQLITE, POSTGRESQL):
        stored = column.process_bind_param(value, dialect)
        assert column.process_result_value(stored, dialect) == value
    assert column.process_bind_param(value, SQLITE) == str(value)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (True, TypeError),
        (1.0, TypeError),
        ("1", TypeError),
        (UINT256_MAX + 1, ValueError),
        (INT256_MIN - 1, ValueError),
    ],
)
def test_exact_int_type_refuses_what_it_cannot_store_exactly(bad: object, error: type) -> None:
    with pytest.raises(error):
        check_exact_int(bad)
    with pytest.raises(error):
        ExactIntType().process_bind_param(bad, POSTGRESQL)  # type: ignore[arg-type]


def test_exact_int_type_refuses_a_stored_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        ExactIntType().process_result_value(Decimal("1.5"), POSTGRESQL)


def test_utc_datetime_refuses_naive_and_normalises_to_utc() -> None:
    column = UtcDateTime()
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2025, 1, 1), SQLITE)
    plus_two = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    stored = column.process_bind_param(plus_two, SQLITE)
    assert stored == datetime(2025, 1, 1, 10)
    assert column.process_result_value(stored, SQLITE) == plus_two
    assert column.process_result_value(stored, SQLITE).tzinfo is UTC  # type: ignore[union-attr]


def test_json_safe_keeps_big_ints_exact() -> None:
    args = {"size": UINT256_MAX, "key": b"\x01\xff", "flags": (True, None), "x": [-5, 1.5]}
    assert json_safe(args) == {
        "size": str(UINT256_MAX),
        "key": "0x01ff",
        "flags": [True, None],
        "x": ["-5", 1.5],
    }
    with pytest.raises(TypeError):
        json_safe({"when": datetime.now(UTC)})


@pytest.mark.parametrize(
    "override",
    [
        {"owner": OWNER.upper().replace("0X", "0x")},
        {"owner": "0x1234"},
        {"mode": "sideways"},
        {"fixed_requirement_usd_e30": -(2**255) - 1},
        {"fixed_requirement_usd_e30": UINT256_MAX + 1},
        {"fixed_requirement_usd_e30": True},
        {"block_number": -1},
    ],
)
def test_validated_rejects_bad_rows(override: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _account(**override)


def test_validated_converts_enum_strings_and_checks_rates() -> None:
    assert _account(mode="cross").mode is MarginMode.CROSS
    with pytest.raises(ValidationError, match="mm_rate_e30"):
        _position(1, mm_rate_e30=10**30 + 1)
    with pytest.raises(ValidationError, match="topic1"):
        _raw_event(topic1="0x" + "AB" * 32)


# --- every backend ----------------------------------------------------------------------------


def test_exact_ints_round_trip_at_the_extremes(engine: Engine) -> None:
    with session(engine) as db:
        account = _account(fixed_requirement_usd_e30=UINT256_MAX)
        db.add(account)
        db.flush()
        assert account.id is not None
        db.add(_position(account.id, size_raw=INT256_MIN, entry_notional_usd_e30=UINT256_MAX))
    with session(engine) as db:
        stored_account = db.exec(select(Account)).one()
        stored_position = db.exec(select(Position)).one()
    assert stored_account.fixed_requirement_usd_e30 == UINT256_MAX
    assert (stored_position.size_raw, stored_position.entry_notional_usd_e30) == (
        INT256_MIN,
        UINT256_MAX,
    )
    assert type(stored_position.size_raw) is int


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=exact_ints)
def test_any_exact_int_round_trips(engine: Engine, value: int) -> None:
    table = SQLModel.metadata.tables["positions"]
    accounts = SQLModel.metadata.tables["accounts"]
    with engine.begin() as connection:
        if connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0:
            account_id = connection.execute(
                sa.insert(accounts).returning(accounts.c.id),
                [_account().model_dump(exclude={"id"})],
            ).scalar_one()
            connection.execute(sa.insert(table), [_position(account_id).model_dump(exclude={"id"})])
        connection.execute(sa.update(table).values(size_raw=value))
    with engine.connect() as connection:
        assert connection.execute(sa.select(table.c.size_raw)).scalar_one() == value


def test_timestamps_come_back_aware_in_utc(engine: Engine) -> None:
    when = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    with session(engine) as db:
        db.add(_account(updated_at=when))
    with session(engine) as db:
        stored = db.exec(select(Account)).one().updated_at
    assert stored == when
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)


def test_raw_events_are_unique_per_chain_block_number_and_log_index(engine: Engine) -> None:
    args = json_safe({"sizeDeltaUsd": UINT256_MAX})
    with session(engine) as db:
        db.add(_raw_event(args=args))
        # The same block and log index on another chain is another event.
        db.add(_raw_event(chain_id=2))
    with pytest.raises(sa.exc.IntegrityError), session(engine) as db:
        db.add(_raw_event(tx_hash="0x" + "55" * 32))
    with session(engine) as db:
        events = db.exec(select(RawEvent).order_by(RawEvent.chain_id)).all()  # type: ignore[arg-type]
    assert len(events) == 2
    assert events[0].args == {"sizeDeltaUsd": str(UINT256_MAX)}


def test_session_rolls_back_when_the_block_raises(engine: Engine) -> None:
    def add_then_fail() -> None:
        with session(engine) as db:
            db.add(_account())
            db.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        add_then_fail()
    with session(engine) as db:
        assert db.exec(select(Account)).all() == []


def test_alerts_and_outbox_deliveries_are_unique(engine: Engine) -> None:
    with session(engine) as db:
        account = _account()
        db.add(account)
        db.flush()
        assert account.id is not None
        alert = validated(Alert, account_id=account.id, level=Level.CRITICAL, episode=1)
        db.add(alert)
        db.flush()
        assert alert.id is not None
        db.add(validated(OutboxMessage, alert_id=alert.id, channel="telegram"))
        account_id, alert_id = account.id, alert.id
    with pytest.raises(sa.exc.IntegrityError), session(engine) as db:
        db.add(validated(Alert, account_id=account_id, level="critical", episode=1))
    with pytest.raises(sa.exc.IntegrityError), session(engine) as db:
        db.add(validated(OutboxMessage, alert_id=alert_id, channel="telegram"))


def test_deleting_an_account_deletes_everything_it_owns(engine: Engine) -> None:
    with session(engine) as db:
        doomed, kept = _account("doomed"), _account("kept", mode="cross")
        db.add_all([doomed, kept])
        db.flush()
        for account in (doomed, kept):
            assert account.id is not None
            db.add(_position(account.id))
            collateral = {"asset": "USDC", "amount_raw": 10**6, "decimals": 6, "price_feed": "p"}
            db.add(validated(Collateral, account_id=account.id, **collateral))
            alert = validated(Alert, account_id=account.id, level="warning", episode=1)
            db.add(alert)
            db.flush()
            db.add(validated(OutboxMessage, alert_id=alert.id, channel="console"))
    with session(engine) as db:
        db.delete(db.exec(select(Account).where(Account.ref == "doomed")).one())
    with session(engine) as db:
        kept_id = db.exec(select(Account.id)).one()
        for model in (Position, Collateral, Alert):
            owners = db.exec(select(model.account_id)).all()
            assert owners == [kept_id], model.__name__
        assert len(db.exec(select(OutboxMessage)).all()) == 1
