"""perpwatch's exception tree, split by what the caller does next.

PerpwatchError
├── UserError            bad input: config, address, unknown protocol, chain-id mismatch.
│   ├── ConfigError      the CLI prints it on one line and exits with code 2.
│   └── SchemaError      the database schema is missing or out of date.
├── DependencyError      something perpwatch needs is unreachable or wrong: exit code 3.
│   ├── DatabaseUnavailable  cannot connect, wrong role, unwritable or corrupt SQLite file.
│   │   └── DatabaseBusy     another writer held SQLite's write lock past the wait.
│   ├── ChainIdMismatch      a node serves another chain than the config names.
│   └── NodeUnreachable      no RPC URL of a chain answered (also a RetryableError).
├── RetryableError       transient: try again after ``retry_after`` seconds (or backoff).
│   ├── RangeTooLarge    the node refused a block range or result size: split it.
│   │   └── RpcRangeTooLarge   ... with the node's advice on how to split it.
│   ├── BlockNotFound    the node does not have the block (yet).
│   └── ChainMoved       the chain moved under a range being fetched: fetch it again.
├── RpcError             a JSON-RPC error that retrying will not fix (e.g. a revert).
├── PermanentDeliveryError  a notifier will never deliver this message (bad chat, bad payload).
├── ReorgTooDeep         the fork point lies below the kept window of block hashes.
└── DecodeError          bytes that do not match the ABI they claim.
"""

from __future__ import annotations

from indexer.rpc.ranges import RangeAdvice


class PerpwatchError(Exception):
    """Root of every error perpwatch raises on purpose."""


class UserError(PerpwatchError):
    """The user can fix this (config, arguments, environment). CLI exit code 2."""

    exit_code = 2


class ConfigError(UserError):
    """Invalid configuration; the message names the key and the problem on one line."""


class SchemaError(UserError):
    """The database schema is missing or out of date; the message names the fix."""


class DependencyError(PerpwatchError):
    """A dependency (database, node) is unreachable or not the one configured. CLI exit code 3.

    Retrying the same command later may work (the server comes back) or not (a wrong role):
    the message names the dependency, the cause and what to check.
    """

    exit_code = 3


class DatabaseUnavailable(DependencyError):
    """The database cannot be opened, reached, written or trusted (a corrupt SQLite file)."""


class DatabaseBusy(DatabaseUnavailable):
    """Another writer held the SQLite file's write lock longer than perpwatch waits for it
    (a long transaction of this process, or another process on the same file). Not the chain's
    fault: a long-running job logs it on one line and runs again at its next interval; a
    command exits 3, and running it again resumes."""


class ChainIdMismatch(DependencyError):
    """A node reports another chain id than the configured one."""


class RetryableError(PerpwatchError):
    """A transient failure; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NodeUnreachable(DependencyError, RetryableError):
    """No RPC URL of a chain answered at connect; a long-running caller may try again later."""


class RangeTooLarge(RetryableError):
    """The node refused the block range or the size of its answer; split and retry.

    ``suggested_to_block`` is the end of a range the node said it would accept, if it said.
    """

    def __init__(self, message: str, suggested_to_block: int | None = None) -> None:
        super().__init__(message)
        self.suggested_to_block = suggested_to_block


class ReorgTooDeep(PerpwatchError):
    """A reorg reaches below the kept window of block hashes: refuse to guess."""


class DecodeError(PerpwatchError):
    """Log or call data that does not decode with the ABI it was matched to."""


class RpcError(PerpwatchError):
    """The node answered with a JSON-RPC error that retrying will not fix (e.g. a revert).

    ``code``, ``rpc_message`` and ``data`` are the error's fields as sent (``data`` carries the
    revert payload for ``eth_call``); the exception message names the (redacted) endpoint.
    """

    def __init__(
        self, method: str, code: int | None, message: str, data: object, endpoint: str
    ) -> None:
        detail = f" data={data!r:.200}" if data is not None else ""
        super().__init__(f"{method} failed at {endpoint}: [{code}] {message}{detail}")
        self.method = method
        self.code = code
        self.rpc_message = message
        self.data = data


class RpcRangeTooLarge(RangeTooLarge):
    """An ``eth_getLogs`` range the node refused; ``advice`` says how to split it."""

    def __init__(self, message: str, advice: RangeAdvice, from_block: int, to_block: int) -> None:
        super().__init__(message, suggested_to_block=advice.suggested_to_block)
        self.advice = advice
        self.from_block = from_block
        self.to_block = to_block


class BlockNotFound(RetryableError):
    """The node does not have the block (yet): it lags the chain or the block was reorged."""


class ChainMoved(RetryableError):
    """The node's answers within one range disagree (a reorg in flight or a lagging node)."""


class PermanentDeliveryError(PerpwatchError):
    """The channel refused this delivery for good (bad chat id, bot blocked, 4xx)."""
