"""The subscription router (pure): an alert reaches only subscribers watching its account,
never a paused one; every watcher is in exactly one lens, whose thresholds are its own, and
hears every liquidatable alert of it; the primary lens has the config's thresholds; the
thresholds freshness follows are at least as sensitive as every watcher's own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from indexer.config.sections import ThresholdOverride, Thresholds
from indexer.models import MarginAccount, MarginMode
from monitor.alerts.levels import Level
from monitor.alerts.rules import PRIMARY_LENS
from monitor.subscriptions.routing import RouteTable, SubscriberRoute, WatchRoute, most_sensitive

OWNERS = ["0x" + c * 40 for c in "abc"]
BASE = Thresholds()


def account(owner: str, protocol: str) -> MarginAccount:
    return MarginAccount(chain_id=1, protocol=protocol, owner=owner, ref="r", mode=MarginMode.CROSS,
                         collateral=(), positions=(), block_number=1)  # fmt: skip


overrides = st.builds(
    lambda w, c: ThresholdOverride(warning=max(w, c) + 0.1, critical=min(w, c))
    if w is not None and c is not None else ThresholdOverride(),
    st.one_of(st.none(), st.floats(1.01, 4.0)), st.one_of(st.none(), st.floats(1.01, 4.0)),
)  # fmt: skip


@st.composite
def tables(draw: st.DrawFn) -> RouteTable:
    n = draw(st.integers(1, 6))
    subs = {
        i: SubscriberRoute(
            i, f"telegram:{i}", paused=draw(st.booleans()), watch_all=draw(st.booleans()),
            overrides=draw(overrides), quiet_from=draw(st.one_of(st.none(), st.integers(0, 23))),
            quiet_to=draw(st.integers(0, 23)),
        )
        for i in range(n)
    }  # fmt: skip
    watches: dict[str, list[WatchRoute]] = {}
    for i in subs:
        for owner in draw(st.lists(st.sampled_from(OWNERS), max_size=3, unique=True)):
            protocol = draw(st.sampled_from([None, "gmx_v2", "hyperliquid"]))
            watches.setdefault(owner, []).append(WatchRoute(i, protocol))
    return RouteTable(("console",), subs, watches)


def watches(table: RouteTable, sub: SubscriberRoute, acct: MarginAccount) -> bool:
    return sub.watch_all or any(
        w.subscriber_id == sub.id and w.protocol in (None, acct.protocol)
        for w in table.watches.get(acct.owner, ())
    )


@given(
    tables(), st.sampled_from(OWNERS), st.sampled_from(["gmx_v2", "hyperliquid"]),
    st.sampled_from(list(Level)), st.integers(0, 23),
)  # fmt: skip
def test_an_alert_reaches_watchers_only_and_never_a_paused_one(
    table: RouteTable, owner: str, protocol: str, level: Level, hour: int
) -> None:
    acct = account(owner, protocol)
    lenses = table.lenses(acct, BASE)
    assert lenses[0].key == PRIMARY_LENS
    assert lenses[0].thresholds == BASE  # the config's
    assert len({lens.key for lens in lenses}) == len(lenses)
    by_channel = {s.channel: s for s in table.subscribers.values()}
    heard: list[str] = []
    for lens in lenses:
        channels = table.channels(level, hour, lens)
        if lens.key == PRIMARY_LENS:
            assert channels[0] == "console"
            channels = channels[1:]
        for channel in channels:
            sub = by_channel[channel]
            assert watches(table, sub, acct)
            assert not sub.paused
            assert BASE.merged(sub.overrides) == lens.thresholds  # its own thresholds
        heard += channels
    assert len(heard) == len(set(heard))  # one lens each: no watcher hears an alert twice
    if level in (Level.LIQUIDATABLE, Level.LIQUIDATED):
        expected = {s.channel for s in table.subscribers.values()
                    if watches(table, s, acct) and not s.paused}  # fmt: skip
        assert set(heard) == expected


@given(st.lists(overrides, max_size=5))
def test_stepping_thresholds_are_as_sensitive_as_every_watcher(
    own: list[ThresholdOverride],
) -> None:
    merged = most_sensitive(BASE, own)
    for override in own:
        mine = BASE.merged(override)
        assert merged.warning >= mine.warning
        assert merged.critical >= mine.critical
        assert merged.warning_distance_pct >= mine.warning_distance_pct


@given(tables(), st.lists(st.sampled_from(OWNERS), max_size=3))
def test_a_chain_alert_reaches_every_unpaused_subscriber_watching_the_chain(
    table: RouteTable, owners: list[str]
) -> None:
    accounts = [account(owner, "gmx_v2") for owner in owners]
    chosen = table.chain_channels(accounts)
    expected = {
        s.channel
        for s in table.subscribers.values()
        if not s.paused and (s.watch_all or any(watches(table, s, a) for a in accounts))
    }
    assert chosen[0] == "console"
    assert set(chosen[1:]) == expected
    assert len(chosen) == len(set(chosen))
