"""Log decoding throughput: web3.py ``process_log`` (baseline) vs perpwatch's ``LogDecoder``.

    python -m bench.decode --logs 20000 [--repeat 3] [--json]

Decodes N synthetic logs, half GMX ``EventLog1`` PositionIncrease carrying the 25
EventLogData items GMX's ``PositionEventUtils.emitPositionIncrease`` emits, half Chainlink
``AnswerUpdated`` (a flat event), with both decoders in the same run, and prints logs/s and the
speedup. web3.py gets its own input format (HexBytes topics and data, as its ``eth_getLogs``
formatter returns them) and that conversion is not timed, which favours the baseline; perpwatch
gets the raw JSON-RPC dicts (hex strings). Best of ``--repeat`` passes for each.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from eth_abi.abi import encode
from hexbytes import HexBytes
from web3 import Web3

from indexer.decode.abi import abi_entry, event_signature, topic0
from indexer.decode.logs import LogDecoder
from indexer.protocols.gmx_v2.events import EVENT_LOG_DATA_TYPE, flatten_event_log_data
from indexer.protocols.gmx_v2.keys import event_name_hash

GMX_EVENT = abi_entry("gmx_v2/EventEmitter.json", "EventLog1", "event")
FLAT_EVENT = abi_entry("chainlink/AggregatorInterface.json", "AnswerUpdated", "event")

_UINT_KEYS = [
    "sizeInUsd",
    "sizeInTokens",
    "collateralAmount",
    "borrowingFactor",
    "fundingFeeAmountPerSize",
    "longTokenClaimableFundingAmountPerSize",
    "shortTokenClaimableFundingAmountPerSize",
    "executionPrice",
    "indexTokenPrice.max",
    "indexTokenPrice.min",
    "collateralTokenPrice.max",
    "collateralTokenPrice.min",
    "sizeDeltaUsd",
    "sizeDeltaInTokens",
    "orderType",
    "increasedAtTime",
]


def _word(i: int, salt: int) -> bytes:
    return ((i * 1_000_003 + salt) % 2**160).to_bytes(32, "big")


def _address(i: int, salt: int) -> str:
    return "0x" + _word(i, salt)[12:].hex()


def position_increase_log(i: int) -> dict[str, Any]:
    """A raw PositionIncrease EventLog1 (3 address, 16 uint, 3 int, 1 bool, 2 bytes32 items)."""
    account = _address(i, 1)
    groups: list[Any] = [
        (
            [("account", account), ("market", _address(i, 2)), ("collateralToken", _address(i, 3))],
            [],
        ),
        ([(key, 10**30 * (i + 1) + n) for n, key in enumerate(_UINT_KEYS)], []),
        (
            [
                ("collateralDeltaAmount", -i),
                ("priceImpactUsd", -(10**28)),
                ("priceImpactAmount", i),
            ],
            [],
        ),
        ([("isLong", i % 2 == 0)], []),
        ([("orderKey", _word(i, 4)), ("positionKey", _word(i, 5))], []),
        ([], []),
        ([], []),
    ]
    data = encode(
        ["address", "string", EVENT_LOG_DATA_TYPE], [_address(i, 6), "PositionIncrease", groups]
    )
    topics = [
        topic0(event_signature(GMX_EVENT)),
        event_name_hash("PositionIncrease"),
        bytes(12) + bytes.fromhex(account[2:]),
    ]
    return _raw_log(i, topics, data)


def answer_updated_log(i: int) -> dict[str, Any]:
    """A raw Chainlink AnswerUpdated (two indexed words, one data word)."""
    topics = [
        topic0(event_signature(FLAT_EVENT)),
        encode(["int256"], [2500 * 10**8 + i]),
        _word(i, 7),
    ]
    return _raw_log(i, topics, encode(["uint256"], [1_700_000_000 + i]))


def _raw_log(i: int, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
    """The log as eth_getLogs returns it over JSON-RPC: hex strings throughout."""
    return {
        "address": _address(i, 8),
        "topics": ["0x" + t.hex() for t in topics],
        "data": "0x" + data.hex(),
        "blockNumber": hex(1000 + i // 10),
        "blockHash": "0x" + _word(i // 10, 9).hex(),
        "transactionHash": "0x" + _word(i, 10).hex(),
        "transactionIndex": hex(i % 10),
        "logIndex": hex(i % 7),
        "removed": False,
    }


def as_web3_log(raw: dict[str, Any]) -> dict[str, Any]:
    """What web3.py's eth_getLogs result formatter hands to ``process_log``."""
    return {
        **raw,
        "address": Web3.to_checksum_address(raw["address"]),
        "topics": [HexBytes(t) for t in raw["topics"]],
        "data": HexBytes(raw["data"]),
        "blockNumber": int(raw["blockNumber"], 16),
        "blockHash": HexBytes(raw["blockHash"]),
        "transactionHash": HexBytes(raw["transactionHash"]),
        "transactionIndex": int(raw["transactionIndex"], 16),
        "logIndex": int(raw["logIndex"], 16),
    }


def _best_rate(run: Callable[[], object], count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def bench(n_logs: int, repeat: int) -> dict[str, Any]:
    """Decode ``n_logs`` logs with both decoders; logs/s (best pass) and the speedup."""
    raw = [position_increase_log(i) if i % 2 == 0 else answer_updated_log(i) for i in range(n_logs)]
    web3_logs = [as_web3_log(log) for log in raw]
    contract = Web3().eth.contract(abi=[GMX_EVENT, FLAT_EVENT])
    gmx_event, flat_event = contract.events.EventLog1(), contract.events.AnswerUpdated()
    decoder = LogDecoder([GMX_EVENT, FLAT_EVENT], {EVENT_LOG_DATA_TYPE: flatten_event_log_data})

    def run_web3() -> list[Any]:
        return [
            (gmx_event if i % 2 == 0 else flat_event).process_log(log)
            for i, log in enumerate(web3_logs)
        ]

    def run_perpwatch() -> list[Any]:
        return [decoder.decode(log) for log in raw]

    _check_agreement(run_web3()[:2], run_perpwatch()[:2])
    web3_rate = _best_rate(run_web3, n_logs, repeat)
    perpwatch_rate = _best_rate(run_perpwatch, n_logs, repeat)
    return {
        "logs": n_logs,
        "web3_logs_per_s": round(web3_rate),
        "perpwatch_logs_per_s": round(perpwatch_rate),
        "speedup": round(perpwatch_rate / web3_rate, 1),
    }


def _check_agreement(web3_out: list[Any], ours: list[Any]) -> None:
    """Both decoders must read the same values, or the timing compares nothing."""
    uint_items = web3_out[0]["args"]["eventData"]["uintItems"]["items"]
    web3_size = next(item["value"] for item in uint_items if item["key"] == "sizeInUsd")
    if ours[0].args["sizeInUsd"] != web3_size:
        raise SystemExit("decoders disagree on sizeInUsd")
    if ours[1].args["current"] != web3_out[1]["args"]["current"]:
        raise SystemExit("decoders disagree on AnswerUpdated.current")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.decode", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--logs", type=int, default=20_000, help="number of logs (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="passes per decoder, best counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = bench(args.logs, args.repeat)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['logs']} logs (half GMX EventLog1 PositionIncrease, half AnswerUpdated)")
    print(f"web3.py process_log  {result['web3_logs_per_s']:>10,} logs/s")
    print(f"perpwatch LogDecoder {result['perpwatch_logs_per_s']:>10,} logs/s")
    print(f"speedup              {result['speedup']:>10}x")


if __name__ == "__main__":
    main()
