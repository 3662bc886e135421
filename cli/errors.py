"""How every ``perpwatch`` command ends when it does not succeed: one line, a known exit code.

    @app.command()
    @one_line_errors
    def index(...) -> None: ...

- ``UserError`` (config, arguments): exit 2; ``DependencyError`` (database, node, chain id):
  exit 3; a node that stayed unreachable or a database driver error: exit 3 too.
- Ctrl-C or SIGTERM: exit 130 with an ``interrupted`` line (``run`` and ``index --follow`` stop
  by themselves and exit 0 instead).
- Anything else is a bug: one line naming it and ``--debug``, exit 1.

With ``--debug`` the exception propagates with its traceback. Commands with ``--json`` get the
line as a JSON object on stdout (``{"error": …, "exit_code": …}``) as well.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import orjson
import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from indexer.errors import DependencyError, RetryableError, UserError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_BUG = 1
EXIT_USER = 2
EXIT_DEPENDENCY = 3
EXIT_INTERRUPTED = 130

err_console = Console(stderr=True)


class Debug:
    """Set by ``--debug``: let exceptions through with their traceback."""

    enabled = False


def describe(exc: BaseException) -> tuple[str, int]:
    """The one line and the exit code for ``exc``."""
    if isinstance(exc, UserError):
        return str(exc), exc.exit_code
    if isinstance(exc, DependencyError):
        return str(exc), exc.exit_code
    if isinstance(exc, RetryableError):
        return f"{exc}; check the node and its URL, then run again", EXIT_DEPENDENCY
    if isinstance(exc, DBAPIError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc)
        return f"database error: {first}; check the database and DATABASE_URL", EXIT_DEPENDENCY
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (
        f"internal error: {type(exc).__name__}: {text[:200]} (run with --debug for the traceback"
        " and report it)",
        EXIT_BUG,
    )


def print_error(line: str, code: int, *, as_json: bool) -> None:
    """``error: line`` on stderr; with ``as_json`` also a JSON object on stdout."""
    err_console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        sys.stdout.write(orjson.dumps({"error": line, "exit_code": code}).decode() + "\n")
        sys.stdout.flush()


def one_line_errors(func: Callable[P, R]) -> Callable[P, R]:
    """End ``func`` as the module says instead of with a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        as_json = bool(kwargs.get("as_json", False))
        previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt as exc:
            detail = f": {exc}" if str(exc) else ""
            err_console.print(f"interrupted{detail}", markup=False, highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if Debug.enabled:
                raise
            line, code = describe(exc)
            print_error(line, code, as_json=as_json)
            raise typer.Exit(code) from None
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper


def _terminate(signum: int, frame: object) -> None:
    # Outside an event loop SIGTERM ends the command like Ctrl-C: one line, exit 130. Event
    # loops install their own handlers (cli.signals) for a graceful stop.
    raise KeyboardInterrupt
