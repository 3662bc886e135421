"""perpwatch's configuration: typed, strict, validated once.

A TOML file (``perpwatch.toml``) with ``PERPWATCH_*`` environment overrides on top (nested keys
joined with ``__``, e.g. ``PERPWATCH_ALERTS__WARNING=1.4``). Every model forbids unknown keys and
is frozen. Secrets come only from the environment, as ``SecretStr``. Any problem becomes one
``ConfigError`` line naming the key path, e.g.
``perpwatch.toml: chains[0].chain_id: must be greater than 0 (got -1)``. The sections live in
``indexer.config.sections`` and the scalar types in ``indexer.config.scalars``; both are
re-exported.

    >>> cfg = load_config(None)  # ./perpwatch.toml if present, else the defaults
    >>> cfg.database_url
    'sqlite:///perpwatch.db'
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Field,
    SecretStr,
    SerializeAsAny,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from indexer.config.env import env_overrides
from indexer.config.messages import format_validation_error
from indexer.config.protocol import ProtocolConfig
from indexer.config.scalars import (
    invalid,
)
from indexer.config.sections import (
    AlertConfig,
    ApiConfig,
    ChainConfig,
    ChannelsConfig,
    WalletConfig,
    check_unique,
    raw_chain_ids,
)
from indexer.errors import ConfigError
from indexer.registry import PLUGINS, known_protocols
from indexer.store.engine import normalize_url

DEFAULT_CONFIG_PATH = Path("perpwatch.toml")


def _plugin_options(value: Any, handler: ValidatorFunctionWrapHandler) -> ProtocolConfig:
    """Validate a ``[[protocols]]`` table with the options model of the plugin it names."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return handler(value)  # type: ignore[no-any-return]
    plugin = PLUGINS.get(value["name"])
    if plugin is None:
        raise invalid("name", f"unknown protocol {value['name']!r} (known: {known_protocols()})")
    for key in value.get("addresses") or {}:
        if key not in plugin.address_keys:
            known = ", ".join(plugin.address_keys) or "none"
            raise invalid(f"addresses.{key}", f"not a {plugin.name} address (known: {known})")
    missing = [k for k in plugin.required_addresses if k not in (value.get("addresses") or {})]
    if missing:
        chains = ", ".join(str(c) for c in plugin.deployments) or "none"
        raise invalid(
            "addresses",
            f"missing {', '.join(missing)}: give them, or use a chain whose chain_id has a "
            f"known {plugin.name} deployment ({chains})",
        )
    return plugin.options.model_validate(value)


def with_known_deployment(raw: object, chain_ids: Mapping[str, object]) -> object:
    """A raw ``[[protocols]]`` table with its known deployment's values filled in as defaults.

    ``chain_ids`` maps configured chain names to their (raw) chain ids. Runs on unvalidated
    input, before the options models: anything malformed comes back unchanged for validation to
    report. Given values win; ``addresses`` merge key by key.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("chain"), str):
        return raw
    name, chain_id = raw.get("name"), chain_ids.get(raw["chain"])
    plugin = PLUGINS.get(name) if isinstance(name, str) else None
    known = plugin.deployments.get(chain_id) if plugin and type(chain_id) is int else None
    if known is None:
        return raw
    filled = {**known.defaults, "start_block": known.start_block, **raw}
    given = raw.get("addresses", {})
    if isinstance(given, dict):
        filled["addresses"] = {**known.addresses, **given}
    return filled


class _PerpwatchEnv(PydanticBaseSettingsSource):
    """``PERPWATCH_*`` variables, checked against the models (``indexer.config.env``)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return env_overrides(self.settings_cls, os.environ)[0]


def _tuples(value: Any) -> Any:
    """``value`` with every list made a tuple, recursively: the strict models take arrays as
    tuples, and TOML and JSON give lists."""
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


class _DatabaseUrlEnv(PydanticBaseSettingsSource):
    """The conventional ``DATABASE_URL``, ranked below ``PERPWATCH_DATABASE_URL``."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        value = os.environ.get("DATABASE_URL", "")
        return {"database_url": value} if value else {}


class Config(BaseSettings):
    """Everything perpwatch reads at start-up; see ``load_config``.

    Precedence: ``PERPWATCH_*`` environment variables, then (for the database only)
    ``DATABASE_URL``, then the TOML file, then the defaults here. Secrets
    (``PERPWATCH_TELEGRAM_BOT_TOKEN``, ``PERPWATCH_WEBHOOK_SECRET``, ``PERPWATCH_API_TOKEN``) are
    read from the environment only. ``database_url`` and RPC URLs are hidden from ``repr``.
    """

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix="PERPWATCH_",
        env_nested_delimiter="__",
        env_ignore_empty=True,
        case_sensitive=False,
        strict=True,
    )

    database_url: str = Field(default="sqlite:///perpwatch.db", repr=False)
    chains: tuple[ChainConfig, ...] = ()
    # SerializeAsAny: dump each table with its plugin's fields, not only the shared ones.
    protocols: tuple[
        SerializeAsAny[Annotated[ProtocolConfig, WrapValidator(_plugin_options)]], ...
    ] = ()
    wallets: tuple[WalletConfig, ...] = ()
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    telegram_bot_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    api_token: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: the environment overrides the file (passed as init kwargs); no .env files.
        return (_PerpwatchEnv(settings_cls), _DatabaseUrlEnv(settings_cls), init_settings)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        try:
            normalize_url(url)  # the engine's own check, so config and engine agree
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return url

    @model_validator(mode="before")
    @classmethod
    def _resolve_protocols(cls, data: Any) -> Any:
        # Before field validation: the known deployment fills keys that are required there.
        if not isinstance(data, dict):
            return data
        data = _tuples(data)
        chain_ids = raw_chain_ids(data.get("chains", ()))
        protocols = data.get("protocols")
        if chain_ids is None or not isinstance(protocols, list | tuple):
            return data  # malformed: the field validators report it with its path
        for i, raw in enumerate(protocols):
            chain = raw.get("chain") if isinstance(raw, dict) else None
            if isinstance(chain, str) and chain not in chain_ids:
                configured = ", ".join(chain_ids) or "none"
                raise invalid(
                    f"protocols[{i}].chain",
                    f"no chain named {chain!r} is configured (chains: {configured})",
                )
        filled = tuple(_tuples(with_known_deployment(raw, chain_ids)) for raw in protocols)
        return {**data, "protocols": filled}

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        check_unique("chains", "chain_id", [c.chain_id for c in self.chains])
        check_unique("protocols", "chain", [(p.name, p.chain) for p in self.protocols])
        check_unique("wallets", "address", [w.address for w in self.wallets])
        for name in self.alerts.protocols:
            if name not in PLUGINS:
                raise invalid(
                    f"alerts.protocols.{name}", f"unknown protocol (known: {known_protocols()})"
                )
        for i, wallet in enumerate(self.wallets):
            for override in (None, *self.alerts.protocols.values()):
                if problem := self.alerts.merged(override, wallet).ordering_problem():
                    raise invalid(f"wallets[{i}]", problem)
        if self.channels.telegram.enabled and self.telegram_bot_token is None:
            raise invalid(
                "channels.telegram.enabled",
                "telegram is enabled but PERPWATCH_TELEGRAM_BOT_TOKEN is not set",
            )
        return self

    def watched_owners(self, protocol: ProtocolConfig) -> frozenset[str] | None:
        """The owners (lower-case) the monitor covers on ``protocol``; None for all of them."""
        watch = protocol.watch or ("wallets" if self.wallets else "protocol")
        if watch == "protocol":
            return None
        return frozenset(w.address.lower() for w in self.wallets)

    def chain(self, name: str) -> ChainConfig:
        """The chain called ``name``; raises ``KeyError`` if none is configured."""
        for chain in self.chains:
            if chain.name == name:
                return chain
        raise KeyError(name)


# --- loading and error lines ---------------------------------------------------------------------

# Where a secret might be put in the file by mistake -> the variable it must come from.
_SECRET_KEYS: Mapping[tuple[str, ...], str] = {
    ("telegram_bot_token",): "PERPWATCH_TELEGRAM_BOT_TOKEN",
    ("channels", "telegram", "bot_token"): "PERPWATCH_TELEGRAM_BOT_TOKEN",
    ("channels", "telegram", "token"): "PERPWATCH_TELEGRAM_BOT_TOKEN",
    ("webhook_secret",): "PERPWATCH_WEBHOOK_SECRET",
    ("channels", "webhook", "secret"): "PERPWATCH_WEBHOOK_SECRET",
    ("api_token",): "PERPWATCH_API_TOKEN",
}


def load_config(path: Path | None = None) -> Config:
    """Read, merge with the environment, and validate the configuration. No side effects.

    ``path=None`` uses ``./perpwatch.toml`` if it exists, else the defaults (no chains).
    Raises ``ConfigError`` with one line naming the file, the key path and the problem; a missing
    ``path`` given explicitly, unreadable files and TOML syntax errors (line and column) included.
    """
    if path is None and DEFAULT_CONFIG_PATH.is_file():
        path = DEFAULT_CONFIG_PATH
    data = _read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "environment"
    for key in data:
        if key.startswith("_"):  # would reach BaseSettings' own _env_file-style init options
            raise ConfigError(f"{source}: {key}: unknown key")
    for keys, env_var in _SECRET_KEYS.items():
        if _lookup(data, keys) is not None:
            raise ConfigError(
                f"{source}: {'.'.join(keys)}: secrets must come from the environment variable "
                f"{env_var}, not the file"
            )
    _, from_env = env_overrides(Config, os.environ)  # a misnamed variable fails here, named
    try:
        return Config(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, from_env)) from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line L, column C)"
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def _lookup(data: Mapping[str, Any], keys: tuple[str, ...]) -> object:
    node: object = data
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node
