"""bench.rules runs both policies over the same crash and they decide the same alerts."""

from __future__ import annotations

import orjson
import pytest

from bench.rules import HEALTHS, main


def test_bench_rules_reports_the_same_alerts_from_both_policies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--accounts", "20", "--repeat", "1", "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["steps"] == 20 * len(HEALTHS)
    assert report["same_alerts"] is True
    assert report["alerts"] >= 2 * 20  # each account told liquidatable, then recovered
    assert report["ratio"] > 0


def test_bench_rules_refuses_no_accounts() -> None:
    with pytest.raises(SystemExit):
        main(["--accounts", "0"])
