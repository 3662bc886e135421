"""Adding a protocol is one package and one registry line: a plugin defined here, registered
for this test only, is validated by the config, scanned, decoded and stored by ``perpwatch
index`` end to end, with no other module changed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest
import sqlalchemy as sa

from devnet.chain import Anvil
from devnet.logfill import FilledLogs, fill_logs
from devnet.solc import Artifact
from devnet.toml import write_config
from indexer.config.protocol import Deployment, ProtocolConfig
from indexer.config.sections import ChainConfig
from indexer.decode import abi
from indexer.models import MarginAccount
from indexer.protocols.base import Read
from indexer.protocols.plugin import ProtocolPlugin
from indexer.registry import PLUGINS
from indexer.scan.rows import EventRow, LogSource, Touch
from indexer.store.engine import make_engine
from tests.config_helpers import clean_env as clean_env
from tests.config_helpers import one_error_line, run

pytestmark = pytest.mark.chain

ANSWER_UPDATED = abi.abi_entry("chainlink/AggregatorInterface.json", "AnswerUpdated", "event")
OWNER = "0x" + "5a" * 20


class OracleWatchOptions(ProtocolConfig):
    name: Literal["oracle_watch"]
    label: str = "feed"


class OracleWatchAdapter:
    """Every ``AnswerUpdated`` of the configured feed touches one account per round."""

    name = "oracle_watch"

    def __init__(self, chain: ChainConfig, options: OracleWatchOptions) -> None:
        self.chain_id = chain.chain_id
        self.feed = options.addresses["feed"].lower()
        self.start_block = options.start_block
        self.label = options.label

    def log_source(self) -> LogSource:
        topic0 = "0x" + abi.topic0(abi.event_signature(ANSWER_UPDATED)).hex()
        return LogSource(f"{self.label}:oracle_watch", self.chain_id, (self.feed,), ((topic0,),),
                         self.start_block)  # fmt: skip

    def touched(self, rows: Sequence[EventRow]) -> list[Touch]:
        return [
            Touch(self.name, str(row["args"]["roundId"]), OWNER, row["block_number"])
            for row in rows
        ]

    def read_accounts(self, owners: Sequence[str]) -> Read[list[MarginAccount]]:
        return Read((), lambda _results: [])

    def read_prices(self, assets: Sequence[str]) -> Read[dict[str, float]]:
        return Read((), lambda _results: {})


PLUGIN = ProtocolPlugin(
    name="oracle_watch",
    options=OracleWatchOptions,
    make_adapter=OracleWatchAdapter,
    required_addresses=("feed",),
    deployments={31337: Deployment({}, 0, "this test")},
    events=(ANSWER_UPDATED,),
)


@pytest.fixture
def filled(anvil: Anvil, artifacts: dict[str, Artifact]) -> Iterator[FilledLogs]:
    snapshot_id = anvil.snapshot()
    yield fill_logs(anvil, artifacts, logs=40, logs_per_block=10)
    anvil.revert(snapshot_id)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PLUGINS, PLUGIN.name, PLUGIN)


def _config(tmp_path: Path, anvil: Anvil, protocol: dict[str, Any]) -> Path:
    return write_config(
        tmp_path / "perpwatch.toml",
        {
            "database_url": f"sqlite:///{tmp_path / 'perpwatch.db'}",
            "chains": [{"name": "devnet", "chain_id": 31337, "rpc_urls": [anvil.rpc_url],
                        "finality_blocks": 0, "block_time": 1.0}],
            "protocols": [{"name": "oracle_watch", "chain": "devnet", **protocol}],
        },
    )  # fmt: skip


@pytest.mark.usefixtures("clean_env", "registered")
def test_a_plugin_defined_in_a_test_is_indexed_end_to_end(
    tmp_path: Path, anvil: Anvil, filled: FilledLogs
) -> None:
    protocol = {"addresses": {"feed": filled.aggregator}, "start_block": filled.first_block}
    config = _config(tmp_path, anvil, protocol)
    result = run("--config", str(config), "index", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["source"] == "feed:oracle_watch"
    assert row["logs"] == 20  # the flat half of fill_logs' logs, from the aggregator
    with make_engine(f"sqlite:///{tmp_path / 'perpwatch.db'}").connect() as conn:
        names = conn.execute(sa.text("SELECT DISTINCT event_name FROM raw_events")).scalars()
        touched = conn.execute(
            sa.text("SELECT count(*) FROM touched_accounts WHERE protocol = 'oracle_watch'")
        ).scalar_one()
    assert list(names) == ["AnswerUpdated"]
    assert touched == 20  # one account per round id (topics[2] varies per log)


@pytest.mark.usefixtures("clean_env", "registered")
def test_the_plugins_own_options_are_validated(tmp_path: Path, anvil: Anvil) -> None:
    config = _config(tmp_path, anvil, {"addresses": {"feed": OWNER}, "tickers_url": "x"})
    assert "protocols[0].tickers_url: unknown key" in one_error_line(
        run("--config", str(config), "index")
    )
    config = _config(tmp_path, anvil, {})
    assert "protocols[0].addresses: missing feed" in one_error_line(
        run("--config", str(config), "index")
    )


@pytest.mark.usefixtures("clean_env")
def test_an_unregistered_protocol_is_unknown(tmp_path: Path, anvil: Anvil) -> None:
    config = _config(tmp_path, anvil, {"addresses": {"feed": OWNER}})
    line = one_error_line(run("--config", str(config), "index"))
    assert (
        "protocols[0].name: unknown protocol 'oracle_watch' (known: gmx_v2, gtrade, hyperliquid)"
        in line
    )
