"""perpwatch's configuration sections: chains, wallets, alert thresholds, channels.

Protocol tables are their plugins' (``indexer.config.protocol``, ``indexer.protocols.<name>``).

Each model is strict and frozen (``STRICT``); ``indexer.config.loader.Config`` assembles them and
runs
the checks that span sections (unique chains, known chain names, threshold ordering per wallet).

    >>> Thresholds().merged(ThresholdOverride(critical=1.3)).critical
    1.3
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, model_validator

from indexer.config.scalars import (
    STRICT,
    Address,
    ChatId,
    EnvName,
    HttpUrl,
    RpcUrl,
    Slug,
    WsUrl,
    invalid,
)
from indexer.redact import redact_url

__all__ = [
    "AlertConfig", "ChainConfig", "ChannelsConfig", "TelegramConfig",
    "ThresholdOverride", "Thresholds", "WalletConfig", "WebhookConfig", "check_unique",
    "raw_chain_ids",
]  # fmt: skip

# --- chains, protocols, wallets -------------------------------------------------------------------


class ChainConfig(BaseModel):
    """One EVM chain and how to reach it.

    ``rpc_urls`` are tried in order (failover). RPC URLs often embed API keys, so
    ``rpc_urls_env`` may name an environment variable holding comma-separated URLs; they come
    first, followed by any ``rpc_urls`` from the file (which alone are used while the variable
    is unset; with no ``rpc_urls`` an unset variable is an error). ``ws_url`` (or the variable
    ``ws_url_env`` names, which wins) is optional: a WebSocket the node pushes new heads on,
    so the monitor does not poll for them (``indexer.rpc.heads``); everything else goes over
    ``rpc_urls``. ``block_time`` is in seconds;
    ``finality_blocks`` is how far below the head a block counts as final; the head counts as
    stalled after ``stall_after_blocks`` expected block times without a new block.
    """

    model_config = STRICT

    name: Slug
    chain_id: int = Field(gt=0)
    rpc_urls: tuple[RpcUrl, ...] = Field(default=(), repr=False)
    rpc_urls_env: EnvName | None = None
    ws_url: WsUrl | None = Field(default=None, repr=False)
    ws_url_env: EnvName | None = None
    finality_blocks: int = Field(ge=0)
    max_block_range: int = Field(default=2000, ge=1)
    block_time: float = Field(gt=0)
    stall_after_blocks: int = Field(default=10, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _urls_from_env(cls, data: Any) -> Any:
        # Before validation so env URLs get the same per-URL checks (and redaction) as file ones.
        if not isinstance(data, dict) or not isinstance(data.get("rpc_urls_env"), str):
            return data
        var = data["rpc_urls_env"]
        urls = [u.strip() for u in os.environ.get(var, "").split(",") if u.strip()]
        from_file = data.get("rpc_urls", ())
        if not urls and not from_file:
            raise invalid("rpc_urls_env", f"environment variable {var} is not set or empty")
        if not isinstance(from_file, list | tuple):
            return data
        return {**data, "rpc_urls": (*urls, *from_file)}

    @model_validator(mode="before")
    @classmethod
    def _ws_url_from_env(cls, data: Any) -> Any:
        # As rpc_urls_env: the variable's URL is checked (and redacted) like the file's.
        if not isinstance(data, dict) or not isinstance(data.get("ws_url_env"), str):
            return data
        url = os.environ.get(data["ws_url_env"], "").strip()
        if not url and data.get("ws_url") is None:
            return data  # optional: an unset variable means no subscription, and polling
        return {**data, "ws_url": url or data["ws_url"]}

    @model_validator(mode="after")
    def _has_urls(self) -> ChainConfig:
        if not self.rpc_urls:
            raise invalid("rpc_urls", "give at least one URL (or rpc_urls_env)")
        return self

    @property
    def redacted_urls(self) -> tuple[str, ...]:
        """The RPC URLs made safe for logs and error messages (see ``redact_url``)."""
        return tuple(redact_url(u) for u in self.rpc_urls)


class ThresholdOverride(BaseModel):
    """Thresholds that override the global ones; unset fields inherit (see ``Thresholds``)."""

    model_config = STRICT

    warning: float | None = Field(default=None, gt=1)
    critical: float | None = Field(default=None, gt=1)
    clear_margin: float | None = Field(default=None, ge=0, lt=1)
    warning_distance_pct: float | None = Field(default=None, ge=0, lt=100)
    critical_distance_pct: float | None = Field(default=None, ge=0, lt=100)
    warning_sigma: float | None = Field(default=None, ge=0)
    critical_sigma: float | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return _rename_distance(data)

    def overrides(self) -> dict[str, float]:
        """The threshold fields this override sets."""
        return {k: v for k, v in self.model_dump(include=_THRESHOLD_KEYS).items() if v is not None}


_THRESHOLD_KEYS = {
    "warning", "critical", "clear_margin", "warning_distance_pct", "critical_distance_pct",
    "warning_sigma", "critical_sigma",
}  # fmt: skip


def _rename_distance(data: Any) -> Any:
    """Accept the pre-0.x key ``distance_pct`` (a warning-only distance trigger) as
    ``warning_distance_pct``, so existing configs keep working."""
    if isinstance(data, dict) and "distance_pct" in data:
        data = dict(data)
        data.setdefault("warning_distance_pct", data.pop("distance_pct"))
    return data


class WalletConfig(ThresholdOverride):
    """A watched wallet, with optional per-wallet thresholds (e.g. ``critical = 1.3``)."""

    address: Address
    label: str = Field(default="", max_length=64)


class Thresholds(BaseModel):
    """Effective alert thresholds for one account. A level fires when ANY of its triggers does.

    - Distance (default on): the smallest adverse price move that liquidates the account, in
      percent of the mark (a cross account: its markets moving against it together). Warning
      at ``≤ warning_distance_pct`` (10), critical at ``≤ critical_distance_pct`` (3).
    - Volatility (off unless set): the same move counted in the markets' realised σ over
      ``AlertConfig.sigma_horizon_s``; warning at ``≤ warning_sigma``, critical ``≤
      critical_sigma``. Needs price history, so it is silent until σ is known.
    - Health factor = equity / maintenance: warning at ``≤ warning`` (1.5), critical at
      ``≤ critical`` (1.15), both > 1.

    A distance or σ trigger of 0 is off. An alert clears only once every trigger of its level
    is past ``threshold · (1 + clear_margin)`` (hysteresis). Why 10 % and 3 %: README, "How
    the default thresholds were chosen".
    """

    model_config = STRICT

    warning: float = Field(default=1.5, gt=1)
    critical: float = Field(default=1.15, gt=1)
    clear_margin: float = Field(default=0.05, ge=0, lt=1)
    warning_distance_pct: float = Field(default=10.0, ge=0, lt=100)
    critical_distance_pct: float = Field(default=3.0, ge=0, lt=100)
    warning_sigma: float = Field(default=0.0, ge=0)
    critical_sigma: float = Field(default=0.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return _rename_distance(data)

    def clear_above(self, threshold: float) -> float:
        """The value an alert raised at ``threshold`` must exceed to clear."""
        return threshold * (1 + self.clear_margin)

    def merged(self, *overrides: ThresholdOverride | None) -> Thresholds:
        """These thresholds with ``overrides`` applied in order (later ones win)."""
        values = self.model_dump(include=_THRESHOLD_KEYS)
        for override in overrides:
            values.update(override.overrides() if override else {})
        return Thresholds(**values)

    def ordering_problem(self) -> str | None:
        """Why these thresholds are inconsistent (a critical trigger milder than its warning
        one), or None. Triggers that are off (0) are not compared."""
        if self.critical >= self.warning:
            return f"critical ({self.critical}) must be below warning ({self.warning})"
        for kind in ("distance_pct", "sigma"):
            warn, crit = getattr(self, f"warning_{kind}"), getattr(self, f"critical_{kind}")
            if warn and crit and crit >= warn:
                return f"critical_{kind} ({crit}) must be below warning_{kind} ({warn})"
        return None


class AlertConfig(Thresholds):
    """Global thresholds plus per-protocol overrides (``[alerts.protocols.gmx_v2]``) and how
    the monitor measures volatility for the σ triggers (one window per market)."""

    protocols: dict[str, ThresholdOverride] = Field(default_factory=dict)
    sigma_horizon_s: float = Field(default=3600.0, gt=0)
    """σ is the standard deviation of price moves over this many seconds (1 hour)."""
    sigma_window_s: float = Field(default=86400.0, gt=0)
    """σ is estimated from the prices of the last this many seconds (24 hours)."""
    chain_outage_after_s: float = Field(default=0.0, ge=0)
    """A chain must stay unreadable this long before its outage alert (0: the first failed
    tick, itself after the RPC client's retries)."""
    chain_recovery_after_s: float = Field(default=60.0, ge=0)
    """A chain in an outage must stay readable this long before its recovery alert (a chain
    that fails again meanwhile is still in the same outage: no second alert)."""

    @model_validator(mode="after")
    def _consistent(self) -> AlertConfig:
        if problem := self.ordering_problem():
            raise ValueError(problem)
        for name, override in self.protocols.items():  # names: checked by Config
            if problem := self.merged(override).ordering_problem():
                raise invalid(f"protocols.{name}", problem)
        return self

    def for_account(self, protocol: str, wallet: WalletConfig | None = None) -> Thresholds:
        """Thresholds for an account: wallet overrides beat protocol overrides beat globals."""
        return self.merged(self.protocols.get(protocol), wallet)


# --- channels -------------------------------------------------------------------------------------


class TelegramConfig(BaseModel):
    """Telegram Bot API channel; the bot token comes from ``PERPWATCH_TELEGRAM_BOT_TOKEN``.

    ``per_chat_rate_per_min`` caps messages per chat per minute (Telegram allows about 20 a minute
    into one group). With ``paced`` (the default) alerts leave through the fair scheduler
    (``monitor.delivery.fair``): at most ``global_rate_per_s`` messages a second, one a second
    into a private chat, ``per_chat_rate_per_min`` into a group, most urgent first, a backed-up
    chat's alerts merged into digests of up to ``digest_max``. ``commands`` makes ``perpwatch
    run`` answer bot commands (``/watch`` …); a chat may watch ``max_wallets_per_chat`` wallets.
    """

    model_config = STRICT

    enabled: bool = False
    base_url: HttpUrl = "https://api.telegram.org"
    chat_ids: tuple[ChatId, ...] = ()
    per_chat_rate_per_min: int = Field(default=20, ge=1)
    paced: bool = True
    global_rate_per_s: int = Field(default=30, ge=1)
    digest_max: int = Field(default=20, ge=1, le=40)
    commands: bool = False
    max_wallets_per_chat: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _has_chats(self) -> TelegramConfig:
        if self.enabled and not self.chat_ids and not self.commands:
            raise invalid(
                "chat_ids", "telegram is enabled but no chat_ids are given (nor commands = true)"
            )
        return self


class WebhookConfig(BaseModel):
    """HTTP webhook channel; bodies are signed with ``PERPWATCH_WEBHOOK_SECRET`` when it is set.

    The URL is hidden from ``repr``: webhook URLs (Slack, Discord) embed their own tokens.
    """

    model_config = STRICT

    enabled: bool = False
    url: HttpUrl | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _has_url(self) -> WebhookConfig:
        if self.enabled and self.url is None:
            raise invalid("url", "the webhook is enabled but has no url")
        return self


class ChannelsConfig(BaseModel):
    """Where alerts go."""

    model_config = STRICT

    console: bool = True
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)


class ApiConfig(BaseModel):
    """``perpwatch serve``: the HTTP API and dashboard. Writes always need the bearer token
    ``PERPWATCH_API_TOKEN``; reads need it too unless ``public_reads``."""

    model_config = STRICT

    public_reads: bool = False


# --- checks across sections (run by Config) ------------------------------------------------------


def raw_chain_ids(chains: object) -> dict[str, object] | None:
    """Chain name -> raw chain_id from unvalidated input; None if any chain lacks a string name."""
    if not isinstance(chains, list | tuple):
        return None
    ids: dict[str, object] = {}
    for i, raw in enumerate(chains):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        if raw["name"] in ids:  # checked here: protocols are matched to chains by name
            first = list(ids).index(raw["name"])
            raise invalid(f"chains[{i}].name", f"duplicate of chains[{first}]")
        ids[raw["name"]] = raw.get("chain_id")
    return ids


def check_unique(section: str, key: str, values: Iterable[object]) -> None:
    """Raise ``invalid`` at ``section[i].key`` for the first value seen before."""
    seen: dict[object, int] = {}
    for i, value in enumerate(values):
        if value in seen:
            raise invalid(f"{section}[{i}].{key}", f"duplicate of {section}[{seen[value]}]")
        seen[value] = i
