"""The alert outbox on SQLite and PostgreSQL: idempotent enqueue in the caller's transaction,
ordered claims with leases, acks, retries with backoff, and the pure claim/backoff decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import select

from indexer.store.engine import session
from monitor.alerts.levels import Level
from monitor.delivery.outbox import (
    NewAlert,
    QueueRow,
    RetryPolicy,
    ack,
    claim,
    claimable,
    due_channels,
    enqueue,
    enqueue_many,
    fail,
    release,
)
from monitor.tables import Alert, OutboxMessage, OutboxStatus
from tests.outbox_helpers import T0, add_account, add_alerts, alert_payload, statuses

POLICY = RetryPolicy(lease_s=60, base_s=10, cap_s=600, max_attempts=3)
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


def test_enqueue_is_idempotent(engine: Engine) -> None:
    account = add_account(engine)
    with session(engine) as s:
        first = enqueue(
            s, account, "warning", 1, alert_payload(), ["console", "webhook", "console"], now=T0
        )
        again = enqueue(s, account, Level.WARNING, 1, alert_payload(), ["telegram:1"], now=T0)
    assert first is not None
    assert again is None
    assert statuses(engine, "console") == [("pending", 0)]
    assert statuses(engine, "webhook") == [("pending", 0)]
    assert statuses(engine, "telegram:1") == []


def test_enqueue_many_writes_what_is_new_and_returns_ids_in_order(engine: Engine) -> None:
    accounts = [add_account(engine, f"0x{i:02x}") for i in range(3)]
    with session(engine) as s:
        old = enqueue(s, accounts[1], "warning", 1, alert_payload(), ["console"], now=T0)
    batch = [
        NewAlert(accounts[0], Level.CRITICAL, 1, alert_payload(n=0), ["console", "telegram:1"]),
        NewAlert(accounts[1], Level.WARNING, 1, alert_payload(n=1), ["console"]),  # exists
        NewAlert(accounts[2], Level.WARNING, 2, alert_payload(n=2), ["console", "console"]),
        NewAlert(accounts[0], Level.LIQUIDATABLE, 1, alert_payload(n=3), []),
    ]
    with engine.begin() as conn:
        ids = enqueue_many(conn, batch, now=T0)
    assert ids[1] is None
    new = [i for i in ids if i is not None]
    assert len(new) == 3
    assert old is not None
    assert sorted(new) == new  # written in the given order
    assert min(new) > old
    assert statuses(engine, "console") == [("pending", 0)] * 3  # the old one and two new
    assert statuses(engine, "telegram:1") == [("pending", 0)]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, account_id, level, episode FROM alerts")).all()
    assert {(i, a, str(level), e) for i, a, level, e in rows} == {
        (old, accounts[1], "warning", 1),
        (ids[0], accounts[0], "critical", 1),
        (ids[2], accounts[2], "warning", 2),
        (ids[3], accounts[0], "liquidatable", 1),
    }
    with pytest.raises(ValueError, match="not an alert"), engine.begin() as conn:
        enqueue_many(conn, [NewAlert(accounts[2], Level.OK, 3, alert_payload(), [])], now=T0)
    with engine.begin() as conn:
        assert enqueue_many(conn, [], now=T0) == []


def test_enqueue_many_stores_payloads_and_times_that_read_back_exactly(engine: Engine) -> None:
    """Alerts and deliveries go to the driver as plain tuples (JSON text, timestamps as the
    column stores them): reading them back through the tables gives what was enqueued."""
    account = add_account(engine)
    now = T0 + timedelta(seconds=7, microseconds=654_321)
    payload = {**alert_payload(n=5), "move_sigma": None, "reason": "health 1.10 ≤ 1.15"}
    with engine.begin() as conn:
        (alert_id,) = enqueue_many(
            conn, [NewAlert(account, Level.CRITICAL, 4, payload, ["console"])], now=now
        )
    with session(engine) as s:
        alert = s.get(Alert, alert_id)
        assert alert is not None
        assert (alert.payload, alert.created_at, alert.level) == (payload, now, Level.CRITICAL)
        (delivery,) = s.exec(select(OutboxMessage).where(OutboxMessage.alert_id == alert_id))
        assert (delivery.channel, delivery.next_attempt_at) == ("console", now)
        assert (delivery.status, delivery.attempts) == (OutboxStatus.PENDING, 0)


def test_enqueue_rides_the_callers_transaction(engine: Engine) -> None:
    account = add_account(engine)

    def state_change_that_fails() -> None:
        with session(engine) as s:
            assert enqueue(s, account, "critical", 1, alert_payload(), ["console"], now=T0)
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        state_change_that_fails()
    assert statuses(engine, "console") == []
    with engine.begin() as conn:  # a plain Connection works too
        assert enqueue(conn, account, "critical", 1, alert_payload(), ["console"], now=T0)
    assert statuses(engine, "console") == [("pending", 0)]


def test_enqueue_refuses_ok(engine: Engine) -> None:
    account = add_account(engine)
    with pytest.raises(ValueError, match="not an alert"), session(engine) as s:
        enqueue(s, account, "ok", 1, alert_payload(), ["console"], now=T0)


def test_claim_takes_due_rows_in_alert_order_with_a_lease(engine: Engine) -> None:
    alerts = add_alerts(engine, add_account(engine), 3, ["telegram:7", "webhook"])
    assert due_channels(engine, T0) == ["telegram:7", "webhook"]
    batch = claim(engine, "telegram:7", 2, T0, policy=POLICY)
    assert [d.alert_id for d in batch] == alerts[:2]
    assert [d.attempts for d in batch] == [1, 1]
    assert batch[0].payload["block_number"] == 100
    assert batch[0].level is Level.CRITICAL
    # Alert 3 waits: alert 1 and 2 are leased, and nothing may overtake them.
    assert claim(engine, "telegram:7", 5, T0, policy=POLICY) == []
    assert claim(engine, "telegram:7", 5, T0 + timedelta(seconds=59), policy=POLICY) == []
    assert ack(engine, batch[0].id, T0)
    # The lease of alert 2 runs out: it is claimable again, followed by alert 3.
    again = claim(engine, "telegram:7", 5, T0 + timedelta(seconds=61), policy=POLICY)
    assert [(d.alert_id, d.attempts) for d in again] == [(alerts[1], 2), (alerts[2], 1)]
    assert statuses(engine, "telegram:7") == [("sent", 1), ("sending", 2), ("sending", 1)]


def test_ack_is_final(engine: Engine) -> None:
    add_alerts(engine, add_account(engine), 1, ["console"])
    (delivery,) = claim(engine, "console", 1, T0, policy=POLICY)
    assert ack(engine, delivery.id, T0)
    assert not ack(engine, delivery.id, T0)
    assert fail(engine, delivery.id, "late", None, now=T0) is None
    assert claim(engine, "console", 1, T0 + timedelta(days=1), policy=POLICY) == []
    assert due_channels(engine, T0 + timedelta(days=1)) == []


def test_a_failed_row_holds_back_later_alerts_until_its_retry(engine: Engine) -> None:
    alerts = add_alerts(engine, add_account(engine), 2, ["telegram:7"])
    first, second = claim(engine, "telegram:7", 2, T0, policy=POLICY)
    status = fail(engine, first.id, "HTTP 502", 30.0, now=T0, policy=POLICY, jitter=0.0)
    release(engine, [second.id], T0)
    assert status is OutboxStatus.PENDING
    assert statuses(engine, "telegram:7") == [("pending", 1), ("pending", 0)]
    assert claim(engine, "telegram:7", 2, T0 + timedelta(seconds=29), policy=POLICY) == []
    later = claim(engine, "telegram:7", 2, T0 + timedelta(seconds=30), policy=POLICY)
    assert [d.alert_id for d in later] == alerts


def test_fail_gives_up_after_max_attempts_and_on_permanent_errors(engine: Engine) -> None:
    add_alerts(engine, add_account(engine), 2, ["webhook"])
    now = T0
    for expected in ("pending", "pending", "failed"):
        (delivery, *_) = claim(engine, "webhook", 1, now, policy=POLICY)
        status = fail(engine, delivery.id, "HTTP 503", None, now=now, policy=POLICY)
        assert status is not None
        assert status.value == expected
        now += timedelta(hours=1)
    (second,) = claim(engine, "webhook", 1, now, policy=POLICY)  # a failed row blocks nothing
    assert fail(engine, second.id, "HTTP 404", None, now=now, permanent=True) is OutboxStatus.FAILED
    assert statuses(engine, "webhook") == [("failed", 3), ("failed", 1)]
    with engine.connect() as conn:
        errors = conn.execute(sa.select(_outbox.c.last_error).order_by(_outbox.c.id)).scalars()
        assert list(errors) == ["HTTP 503", "HTTP 404"]


def test_an_unbounded_retry_after_is_bounded_not_a_crash(engine: Engine) -> None:
    # A receiver may answer "Retry-After: inf" or 1e12: the next attempt must still be a date.
    add_alerts(engine, add_account(engine), 2, ["webhook"])
    cap = timedelta(seconds=POLICY.retry_after_cap_s)
    for hint in (float("inf"), 1e12):
        (delivery, *_) = claim(engine, "webhook", 1, T0 + cap * 2, policy=POLICY)
        status = fail(engine, delivery.id, "HTTP 429", hint, now=T0, policy=POLICY, jitter=0.0)
        assert status is OutboxStatus.PENDING
        assert claim(engine, "webhook", 1, T0 + cap - timedelta(seconds=1), policy=POLICY) == []


def test_postgres_never_jumps_a_row_another_worker_holds(postgres_url: str) -> None:
    from indexer.store.engine import make_engine, upgrade

    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        alerts = add_alerts(engine, add_account(engine), 2, ["telegram:7"])
        with engine.connect() as other, other.begin():
            other.execute(
                sa.select(_outbox.c.id).where(_outbox.c.alert_id == alerts[0]).with_for_update()
            )
            assert claim(engine, "telegram:7", 5, T0, policy=POLICY) == []
        assert [d.alert_id for d in claim(engine, "telegram:7", 5, T0, policy=POLICY)] == alerts
    finally:
        engine.dispose()


open_rows = st.lists(
    st.tuples(st.sampled_from(list(OutboxStatus)), st.integers(-100, 100)), max_size=12
)


@given(rows=open_rows, limit=st.integers(1, 15), locked=st.sets(st.integers(0, 11)))
def test_claimable_is_the_due_unlocked_prefix(
    rows: list[tuple[OutboxStatus, int]], limit: int, locked: set[int]
) -> None:
    order = list(range(len(rows)))
    mapping = {
        i: QueueRow(i, status, T0 + timedelta(seconds=offset))
        for i, (status, offset) in enumerate(rows)
        if i not in locked
    }
    chosen = claimable(order, mapping, T0, limit)
    assert chosen == order[: len(chosen)]
    assert len(chosen) <= limit
    for i in chosen:
        assert rows[i][0] in (OutboxStatus.PENDING, OutboxStatus.SENDING)
        assert rows[i][1] <= 0
    if len(chosen) < min(limit, len(order)):  # it stopped at a row it may not take
        nxt = len(chosen)
        status, offset = rows[nxt]
        assert nxt in locked or status in (OutboxStatus.SENT, OutboxStatus.FAILED) or offset > 0


@given(
    attempts=st.integers(1, 40),
    retry_after=st.none() | st.floats(0, 10_000),
    jitter=st.floats(0, 1, exclude_max=True),
)
def test_backoff_grows_is_capped_and_honours_retry_after(
    attempts: int, retry_after: float | None, jitter: float
) -> None:
    delay = POLICY.delay_s(attempts, retry_after, jitter)
    assert delay >= (retry_after or 0.0)
    assert delay <= max(POLICY.cap_s, retry_after or 0.0)
    if retry_after is None:
        assert delay >= min(POLICY.cap_s, POLICY.base_s * 2 ** (attempts - 1)) / 2
    assert POLICY.delay_s(attempts + 1, None, jitter) >= POLICY.delay_s(attempts, None, jitter)


@given(retry_after=st.sampled_from([float("inf"), 1e12, 1e300]))
def test_retry_after_beyond_its_cap_waits_the_cap(retry_after: float) -> None:
    assert POLICY.delay_s(1, retry_after, 0.0) == POLICY.retry_after_cap_s


def test_a_nan_retry_after_is_no_hint() -> None:
    assert POLICY.delay_s(2, float("nan"), 0.0) == POLICY.delay_s(2, None, 0.0) == 10.0
