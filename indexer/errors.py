"""perpwatch's exception tree, split by what the caller does next.

PerpwatchError
├── UserError            bad input: config, address, unknown protocol, chain-id mismatch.
│   ├── ConfigError      the CLI prints it on one line and exits with code 2.
│   └── SchemaError      the database schema is missing or out of date.
├── RetryableError       transient: try again after ``retry_after`` seconds (or backoff).
│   └── RangeTooLarge    the node refused a block range or result size: split it.
├── ReorgTooDeep         the fork point lies below the kept window of block hashes.
└── DecodeError          bytes that do not match the ABI they claim.
"""

from __future__ import annotations


class PerpwatchError(Exception):
    """Root of every error perpwatch raises on purpose."""


class UserError(PerpwatchError):
    """The user can fix this (config, arguments, environment). CLI exit code 2."""

    exit_code = 2


class ConfigError(UserError):
    """Invalid configuration; the message names the key and the problem on one line."""


class SchemaError(UserError):
    """The database schema is missing or out of date; the message names the fix."""


class RetryableError(PerpwatchError):
    """A transient failure; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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
