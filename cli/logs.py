"""Logging for every command: stderr, one plain format, a level per command.

    setup_logging(logging.ERROR)   # one-shot commands: their result or one error line, no noise
    setup_logging(logging.INFO)    # `run`, `index --follow`: what a long-running process does

Without a handler, Python prints library warnings bare on stderr (the RPC client's retry lines),
so every command sets one. ``--debug`` lowers the level to DEBUG.
"""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# APScheduler warns at every interval a slow job overlaps ("maximum number of running instances
# reached") and logs a cancelled job's traceback at shutdown; a job's own failures are logged by
# the monitor (perpwatch.scheduler). httpx logs one INFO line per request.
_QUIET = {"apscheduler": logging.ERROR, "httpx": logging.WARNING}


def setup_logging(level: int, *, debug: bool = False, force: bool = False) -> None:
    """Send log records at ``level`` and above (DEBUG with ``debug``) to stderr.

    Without ``force`` a process whose logging is already set up (an embedding program, pytest's
    capture) is left alone; ``perpwatch run`` forces: it owns its process.
    """
    if logging.getLogger().handlers and not force:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    logging.basicConfig(level=logging.DEBUG if debug else level, handlers=[handler], force=True)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(logging.DEBUG if debug else max(quiet, level))
