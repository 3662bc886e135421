"""What every ``[[protocols]]`` table has, and a protocol's known deployments, as data.

Each protocol plugin (``indexer.protocols.<name>``) subclasses :class:`ProtocolConfig` with its
own options and ``name: Literal["<name>"]``; ``indexer.config.loader.Config`` validates every
table with the model of the plugin its ``name`` selects, so an option of another protocol is an
unknown key, reported with its path.

    class MyOptions(ProtocolConfig):
        name: Literal["my_perps"]
        markets: tuple[int, ...] = ()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from indexer.config.scalars import STRICT, Address


@dataclass(frozen=True, slots=True)
class Deployment:
    """One protocol's contracts on one chain.

    ``start_block`` is the first block worth scanning (the deployment of the contract whose logs
    reveal touched accounts); ``source`` names where the numbers were checked; ``defaults`` are
    other option values this deployment implies (e.g. GMX's tickers URL).
    """

    addresses: Mapping[str, str]
    start_block: int
    source: str
    defaults: Mapping[str, object] = field(default_factory=dict)


FAR_WALLETS_PER_S = 20.0
"""Far wallets polled per second before their period stretches past the near one: a trader's
handful of wallets costs next to nothing to keep as fresh as the near ones, a risk team's
thousands do not."""


@dataclass(frozen=True, slots=True)
class PollCadence:
    """How often the monitor re-reads a watched wallet of a protocol whose changes emit no
    events, when the wallet is not at risk: every ``near_s`` seconds when an account of it is
    near a warning; otherwise (far from every threshold, or holding nothing) every ``near_s``
    too while the far ones are few, stretching to ``far_s`` as they grow (``far_period_s``)."""

    near_s: float
    far_s: float

    def far_period_s(self, far_wallets: int) -> float:
        """The far period when ``far_wallets`` are far: polled at up to ``FAR_WALLETS_PER_S``
        a second, never less often than ``far_s`` nor more often than ``near_s``."""
        return min(self.far_s, max(self.near_s, far_wallets / FAR_WALLETS_PER_S))


class ProtocolConfig(BaseModel):
    """One protocol deployment to index, on a configured chain.

    When validated inside a ``Config``, ``addresses`` and ``start_block`` default to the known
    deployment for the chain's ``chain_id`` (the plugin's ``deployments``); values given here
    win. Chainlink-style USD feeds update at least every 24 h (plus on a deviation), so a price
    older than ``price_heartbeat_s`` is stale and an account valued with it is reported unknown,
    never safe.

    ``watch`` is what the monitor evaluates and alerts on: ``"wallets"`` (the ``[[wallets]]``
    only: a trader's view) or ``"protocol"`` (every account the indexer finds: a risk team's
    view). Unset, it is ``"wallets"`` when wallets are configured and ``"protocol"`` otherwise.
    Indexing is the same either way.
    """

    model_config = STRICT

    name: str
    chain: str
    addresses: dict[str, Address] = Field(default_factory=dict)
    start_block: int = Field(default=0, ge=0)
    price_heartbeat_s: float = Field(default=90_000, gt=0)
    watch: Literal["wallets", "protocol"] | None = None

    def poll_cadence(self) -> PollCadence | None:
        """How often the monitor re-reads a watched wallet that is not at risk, for protocols
        whose state changes emit no events (None: events say when to re-read)."""
        return None
