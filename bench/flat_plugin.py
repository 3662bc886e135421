"""A protocol plugin for the benchmark's flat events: every Chainlink-style ``AnswerUpdated`` of
one emitter touches one account per round id (as a flat perp event, e.g. GMX v1
``IncreasePosition``, touches one position per log).

No shipped protocol scans a flat one-word event, so ``bench.ingest`` registers this plugin in its
worker process; the scan then goes through the same config, registry, scanner and store as any
protocol's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from indexer.config.protocol import Deployment, ProtocolConfig
from indexer.config.sections import ChainConfig
from indexer.decode import abi
from indexer.models import MarginAccount
from indexer.protocols.base import Read
from indexer.protocols.plugin import ProtocolPlugin
from indexer.scan.rows import EventRow, LogSource, Touch

NAME = "bench_flat"
ANSWER_UPDATED = abi.abi_entry("chainlink/AggregatorInterface.json", "AnswerUpdated", "event")
CRYO_SIGNATURE = "AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)"
"""The same event as cryo's ``event_signature`` (cryo decodes it itself)."""
_OWNER = "0x" + "5a" * 20


class FlatOptions(ProtocolConfig):
    name: Literal["bench_flat"]


class FlatAdapter:
    """Scans ``AnswerUpdated`` of the ``feed`` address; each log touches account ``roundId``."""

    name = NAME

    def __init__(self, chain: ChainConfig, options: FlatOptions) -> None:
        self.chain_id = chain.chain_id
        self.feed = options.addresses["feed"].lower()
        self.start_block = options.start_block

    def log_source(self) -> LogSource:
        topic0 = "0x" + abi.topic0(abi.event_signature(ANSWER_UPDATED)).hex()
        return LogSource(f"{self.chain_id}:{NAME}", self.chain_id, (self.feed,), ((topic0,),),
                         self.start_block)  # fmt: skip

    def touched(self, rows: Sequence[EventRow]) -> list[Touch]:
        return [Touch(NAME, r["args"]["roundId"], _OWNER, r["block_number"]) for r in rows]

    def read_accounts(self, owners: Sequence[str]) -> Read[list[MarginAccount]]:
        return Read((), lambda _results: [])

    def read_prices(self, assets: Sequence[str]) -> Read[dict[str, float]]:
        return Read((), lambda _results: {})


PLUGIN = ProtocolPlugin(
    name=NAME,
    options=FlatOptions,
    make_adapter=FlatAdapter,
    required_addresses=("feed",),
    deployments={31337: Deployment({}, 0, "bench.ingest")},
    events=(ANSWER_UPDATED,),
)
