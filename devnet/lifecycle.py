"""Start/stop resources of the devnet (anvil nodes, local HTTP servers) as context managers.

with Anvil() as node: ...          # start() on entry; stop() on leaving, for any reason
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Service:
    """Base for a resource with ``start() -> self`` and an idempotent ``stop()``.

    ``with`` starts it and always stops it, also when the block raises (the exception then
    propagates): a test that fails must not leave a node or a server running.
    """

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
