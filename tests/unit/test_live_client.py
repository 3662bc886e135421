"""How patient a node client is: a live one (the monitor's) waits at most two block times
between retries, a backfill's keeps the default."""

from __future__ import annotations

import pytest

from indexer.config.sections import ChainConfig
from indexer.scan.runner import live_backoff_max_s, open_rpc


@pytest.mark.parametrize(("block_time_s", "expected_s"), [(0.25, 1.0), (1.0, 2.0), (12.0, 10.0)])
def test_a_live_client_waits_at_most_two_block_times_between_retries(
    block_time_s: float, expected_s: float
) -> None:
    """Within [1 s, the patient default]: a dead node is said unreadable within seconds, a
    blip of a few seconds is retried through."""
    assert live_backoff_max_s(block_time_s) == expected_s
    chain = ChainConfig(
        name="c", chain_id=1, rpc_urls=("http://127.0.0.1:1",), finality_blocks=0,
        block_time=block_time_s,
    )  # fmt: skip
    assert open_rpc(chain, live=True).backoff_max_s == expected_s
    assert open_rpc(chain).backoff_max_s == 10.0  # backfills keep the patient default
