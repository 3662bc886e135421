"""``bench.ingest`` on tiny devnets: every key the ingest issue names is reported for both
densities, every mode saw exactly the chain's logs (the bench exits otherwise), and the shape
split of ``fill_logs`` is what the bench expects."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.ingest import DENSITIES, _shape_logs, range_blocks
from devnet.logfill import FilledLogs
from tests.scan_helpers import REPO_ROOT

ISSUE_KEYS = (
    "flat_perpwatch_logs_per_s", "flat_cryo_logs_per_s", "flat_vs_cryo", "flat_fraction_of_raw",
    "gmx_perpwatch_logs_per_s", "gmx_fraction_of_raw", "perpwatch_peak_rss_mb",
)  # fmt: skip


def test_shape_split_and_ranges() -> None:
    fill = FilledLogs("0xa", "0xb", ("0x1", "0x2"), 2_550, 1, 26)
    # Blocks 0-24 full (GMX at even indices: 13; flat: 12), block 25 (odd: flat) the last 50.
    assert _shape_logs(fill, "gmx", 100) + _shape_logs(fill, "flat", 100) == 2_550
    assert _shape_logs(fill, "gmx", 100) == 13 * 100
    assert _shape_logs(fill, "flat", 100) == 12 * 100 + 50
    assert range_blocks(DENSITIES["dense"]) == 4
    assert range_blocks(DENSITIES["sparse"]) == 40


@pytest.mark.chain
@pytest.mark.slow
def test_tiny_run_reports_every_key() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--logs", "4000", "--json", "--skip-web3"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for density in DENSITIES:
        assert report[f"{density}_logs"] == 4_000
        for key in (*ISSUE_KEYS, "gmx_perpwatch_pg_logs_per_s", "flat_perpwatch_pg_logs_per_s"):
            assert report[f"{density}_{key}"] > 0, key
    assert report["logs"] == 4_000
    assert report["fraction_of_raw"] > 0
    assert report["speedup_vs_web3"] is None  # skipped
