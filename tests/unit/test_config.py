"""Configuration: strict models, env precedence, known deployments, one-line errors, the example."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from indexer.config.example import example_config, write_example
from indexer.config.loader import Config, load_config
from indexer.config.protocol import FAR_WALLETS_PER_S, PollCadence
from indexer.config.scalars import normalize_address
from indexer.config.sections import ThresholdOverride, WalletConfig
from indexer.errors import ConfigError, UserError
from indexer.protocols.gmx_v2.options import GmxV2Options
from indexer.protocols.hyperliquid.options import HyperliquidOptions
from indexer.registry import PLUGINS
from tests.config_helpers import clean_env as clean_env

# The real mainnet addresses, copied from PROTOCOLS.md §1.1 (not from the code).
GMX_ARBITRUM = {
    "data_store": "0xFD70de6b91282D8017aA4E741e9Ae325CAb992d8",
    "event_emitter": "0xC8ee91A54287DB53897056e12D9819156D3822Fb",
    "reader": "0x470fbC46bcC0f16532691Df360A07d8Bf5ee0789",
}
GMX_AVALANCHE = {
    "data_store": "0x2F0b22339414ADeD7D5F06f9D604c7fF5b2fe3f6",
    "event_emitter": "0xDb17B211c34240B014ab6d61d4A31FA0C0e20c26",
    "reader": "0x62Cb8740E6986B29dC671B2EB596676f60590A5B",
}

DEV_CHAIN = """
[[chains]]
name = "dev"
chain_id = {chain_id}
rpc_urls = ["http://127.0.0.1:8545"]
finality_blocks = 0
block_time = 1
"""
WALLET = "0x1111111111111111111111111111111111111111"


def write(tmp_path: Path, text: str, name: str = "cfg.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text))


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert "\n" not in message
    return message


def dev(chain_id: int = 31337) -> str:
    return DEV_CHAIN.format(chain_id=chain_id)


# --- loading -----------------------------------------------------------------------------------


def test_no_file_gives_defaults_and_creates_nothing(tmp_path: Path) -> None:
    cfg = load_config(None)
    assert cfg.database_url == "sqlite:///perpwatch.db"
    assert cfg.chains == ()
    assert cfg.protocols == ()
    assert cfg.wallets == ()
    assert (cfg.alerts.warning, cfg.alerts.critical, cfg.alerts.clear_margin) == (1.5, 1.15, 0.05)
    alerts = cfg.alerts
    assert (alerts.warning_distance_pct, alerts.critical_distance_pct) == (10.0, 3.0)
    assert (alerts.warning_sigma, alerts.critical_sigma, alerts.sigma_horizon_s) == (0, 0, 3600)
    assert cfg.channels.console is True
    assert cfg.channels.telegram.base_url == "https://api.telegram.org"
    assert list(tmp_path.iterdir()) == []


def test_default_path_is_used_when_present(tmp_path: Path) -> None:
    write(tmp_path, 'database_url = "sqlite:///elsewhere.db"', name="perpwatch.toml")
    assert load_config(None).database_url == "sqlite:///elsewhere.db"


def test_explicit_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: no such config file"):
        load_config(tmp_path / "nope.toml")
    assert issubclass(ConfigError, UserError)


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, 'database_url = "sqlite:///a.db"\nalerts = = 1\n')
    assert message.startswith(f"{tmp_path / 'cfg.toml'}: invalid TOML:")
    assert "line 2, column" in message


# --- the example and the known deployments ----------------------------------------------------


def test_example_round_trips_with_the_real_addresses(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, example_config())
    by_chain = {(p.name, cfg.chain(p.chain).chain_id): p for p in cfg.protocols}
    for chain_id, expected in ((42161, GMX_ARBITRUM), (43114, GMX_AVALANCHE)):
        gmx = by_chain["gmx_v2", chain_id]
        assert isinstance(gmx, GmxV2Options)
        assert {k: gmx.addresses[k] for k in expected} == {
            k: to_checksum_address(v) for k, v in expected.items()
        }
        assert gmx.tickers_url is not None
        assert "gmxinfra.io/prices/tickers" in gmx.tickers_url
    assert by_chain["gmx_v2", 42161].start_block == 107737756
    assert by_chain["gmx_v2", 43114].start_block == 32162455
    assert by_chain["hyperliquid", 999].addresses == {}
    hl = by_chain["hyperliquid", 999]
    assert isinstance(hl, HyperliquidOptions)
    assert hl.markets == (0, 1)
    assert cfg.wallets[0].address == WALLET


def test_example_spells_out_addresses_and_names_secret_env_vars() -> None:
    text = example_config()
    raw = tomllib.loads(text)
    gmx = [p for p in raw["protocols"] if p["name"] == "gmx_v2"]
    assert [p["addresses"]["data_store"] for p in gmx] == [
        GMX_ARBITRUM["data_store"],
        GMX_AVALANCHE["data_store"],
    ]
    for env_var in (
        "PERPWATCH_TELEGRAM_BOT_TOKEN",
        "PERPWATCH_WEBHOOK_SECRET",
        "PERPWATCH_API_TOKEN",
    ):
        assert env_var in text


def test_known_deployment_table_is_complete_and_checksummed() -> None:
    known = {(p.name, chain_id) for p in PLUGINS.values() for chain_id in p.deployments}
    gtrade = {("gtrade", c) for c in (42161, 8453, 137, 33139, 4326)}
    assert known == {("gmx_v2", 42161), ("gmx_v2", 43114), ("hyperliquid", 999)} | gtrade
    for plugin in PLUGINS.values():
        for deployment in plugin.deployments.values():
            assert set(plugin.required_addresses) <= set(deployment.addresses)
            assert set(deployment.addresses) <= set(plugin.address_keys)
    for deployment in (d for p in PLUGINS.values() for d in p.deployments.values()):
        for address in deployment.addresses.values():
            assert normalize_address(address) == address
        assert deployment.start_block >= 0
        assert "PROTOCOLS.md" in deployment.source


def test_known_deployment_fills_omitted_values(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, dev(43114) + '[[protocols]]\nname = "gmx_v2"\nchain = "dev"\n')
    (gmx,) = cfg.protocols
    assert isinstance(gmx, GmxV2Options)
    assert gmx.addresses == GMX_AVALANCHE
    assert gmx.start_block == 32162455
    assert str(gmx.tickers_url) == "https://avalanche-api.gmxinfra.io/prices/tickers"


def test_closed_venue_is_an_unknown_protocol(tmp_path: Path) -> None:
    text = dev(8453) + '[[protocols]]\nname = "synthetix_v3"\nchain = "dev"\n'
    assert "protocols[0].name: unknown protocol 'synthetix_v3'" in error_of(tmp_path, text)


def test_hyperliquid_margin_tiers_are_validated(tmp_path: Path) -> None:
    table = '[[protocols]]\nname = "hyperliquid"\nchain = "dev"\n'
    tier = "[[protocols.margin_tiers.1]]\nlower_bound_usd = {}\nmax_leverage = {}\n"
    (hl,) = load_text(
        tmp_path, dev() + table + tier.format(0, 25) + tier.format(10**8, 15)
    ).protocols
    assert isinstance(hl, HyperliquidOptions)
    assert [(t.lower_bound_usd, t.max_leverage) for t in hl.margin_tiers[1]] == [
        (0, 25),
        (10**8, 15),
    ]
    assert "margin_tiers.1: the first tier must start at 0" in error_of(
        tmp_path, dev() + table + tier.format(5, 25)
    )
    assert "margin_tiers.1: lower_bound_usd must ascend" in error_of(
        tmp_path, dev() + table + tier.format(0, 25) + tier.format(0, 15)
    )
    assert "max_leverage: must be greater than or equal to 1" in error_of(
        tmp_path, dev() + table + tier.format(0, 0)
    )


def test_hyperliquid_polls_far_wallets_no_more_often_than_near_ones(tmp_path: Path) -> None:
    table = '[[protocols]]\nname = "hyperliquid"\nchain = "dev"\n'
    (hl,) = load_text(tmp_path, dev() + table).protocols
    assert hl.poll_cadence() == PollCadence(near_s=15.0, far_s=60.0)
    (hl,) = load_text(tmp_path, dev() + table + "poll_s = 5\nfar_poll_s = 5\n").protocols
    assert hl.poll_cadence() == PollCadence(near_s=5.0, far_s=5.0)
    (hl,) = load_text(tmp_path, dev() + table + "poll_s = 30\n").protocols
    assert hl.poll_cadence() == PollCadence(near_s=30.0, far_s=120.0)
    assert "far_poll_s: must be at least poll_s (30)" in error_of(
        tmp_path, dev() + table + "poll_s = 30\nfar_poll_s = 20\n"
    )


def test_far_wallets_are_polled_at_the_near_pace_while_few() -> None:
    cadence = PollCadence(near_s=15.0, far_s=60.0)
    assert cadence.far_period_s(0) == 15.0
    assert cadence.far_period_s(int(15 * FAR_WALLETS_PER_S)) == 15.0
    assert cadence.far_period_s(int(30 * FAR_WALLETS_PER_S)) == 30.0
    assert cadence.far_period_s(10**6) == 60.0


def test_given_values_win_over_the_known_deployment(tmp_path: Path) -> None:
    new_reader = "0x" + "ab" * 20
    text = dev(42161) + (
        '[[protocols]]\nname = "gmx_v2"\nchain = "dev"\nstart_block = 5\n'
        f'[protocols.addresses]\nreader = "{new_reader}"\n'
    )
    (gmx,) = load_text(tmp_path, text).protocols
    assert gmx.addresses["reader"] == to_checksum_address(new_reader)
    assert gmx.addresses["data_store"] == GMX_ARBITRUM["data_store"]
    assert gmx.start_block == 5


def test_unknown_chain_needs_every_address(tmp_path: Path) -> None:
    protocol = '[[protocols]]\nname = "gmx_v2"\nchain = "dev"\n[protocols.addresses]\n'
    text = dev() + protocol + f'reader = "{WALLET}"\n'
    message = error_of(tmp_path, text)
    assert "protocols[0].addresses: missing data_store, event_emitter" in message
    assert "(42161, 43114)" in message


def test_hyperliquid_needs_no_addresses_anywhere(tmp_path: Path) -> None:
    (hl,) = load_text(
        tmp_path, dev() + '[[protocols]]\nname = "hyperliquid"\nchain = "dev"\n'
    ).protocols
    assert isinstance(hl, HyperliquidOptions)
    assert (hl.addresses, hl.start_block, hl.dexes, hl.markets) == ({}, 0, (0,), ())


# --- one-line errors ---------------------------------------------------------------------------

TG = "[channels.telegram]\nenabled = false"
ERROR_CASES = [
    # (id, replace this in the example, with this, expected error after "<file>: ")
    ("negative chain_id", "chain_id = 42161", "chain_id = -1",
     "chains[0].chain_id: must be greater than 0 (got -1)"),
    ("zero block range", "max_block_range = 2000", "max_block_range = 0",
     "chains[0].max_block_range: must be greater than or equal to 1 (got 0)"),
    ("wrong type", "finality_blocks = 20", 'finality_blocks = "twenty"',
     "chains[0].finality_blocks: must be a valid integer"),
    ("unknown nested key", "block_time = 0.25", "block_time = 0.25\nblocktime = 1",
     "chains[0].blocktime: unknown key"),
    ("unknown top key", 'database_url = "', 'databse = 1\ndatabase_url = "',
     "databse: unknown key"),
    ("private key", 'database_url = "', '_env_file = ".env"\ndatabase_url = "',
     "_env_file: unknown key"),
    ("bad checksum", GMX_ARBITRUM["data_store"], "0xfD70de6b91282D8017aA4E741e9Ae325CAb992d8",
     "protocols[0].addresses.data_store: bad checksum"),
    ("not an address", GMX_ARBITRUM["data_store"], "0x1234",
     "protocols[0].addresses.data_store: not an address"),
    ("unknown protocol", 'name = "hyperliquid"', 'name = "dydx"',
     "protocols[2].name: unknown protocol 'dydx' (known: gmx_v2, gtrade, hyperliquid)"),
    ("unknown chain", 'chain = "hyperevm"', 'chain = "hyper"',
     "protocols[2].chain: no chain named 'hyper' is configured"),
    ("foreign address key", "[protocols.addresses]\n",
     f'[protocols.addresses]\nvault = "{WALLET}"\n',
     "protocols[0].addresses.vault: not a gmx_v2 address"),
    ("option of another protocol", "markets = [0, 1]",
     'markets = [0, 1]\ntickers_url = "https://x.io/t"',
     "protocols[2].tickers_url: unknown key"),
    ("duplicate chain name", 'name = "avalanche"', 'name = "arbitrum"',
     "chains[1].name: duplicate of chains[0]"),
    ("duplicate chain id", "chain_id = 43114", "chain_id = 42161",
     "chains[1].chain_id: duplicate of chains[0]"),
    ("duplicate protocol", 'chain = "avalanche"', 'chain = "arbitrum"',
     "protocols[1].chain: duplicate of protocols[0]"),
    ("duplicate wallet", 'label = "example"',
     f'label = "example"\n[[wallets]]\naddress = "{WALLET}"',
     "wallets[1].address: duplicate of wallets[0]"),
    ("threshold order", "critical = 1.15 ", "critical = 1.6  ",
     "alerts: critical (1.6) must be below warning (1.5)"),
    ("threshold not above 1", "critical = 1.15 ", "critical = 0.9  ",
     "alerts.critical: must be greater than 1 (got 0.9)"),
    ("distance order", "critical_distance_pct = 3.0", "critical_distance_pct = 12.0",
     "alerts: critical_distance_pct (12.0) must be below warning_distance_pct (10.0)"),
    ("sigma order", "# critical_sigma = 1.5", "critical_sigma = 4.0\nwarning_sigma = 3.0",
     "alerts: critical_sigma (4.0) must be below warning_sigma (3.0)"),
    ("protocol override order", "# [alerts.protocols.hyperliquid]\n# critical = 1.25",
     "[alerts.protocols.hyperliquid]\ncritical = 1.7",
     "alerts.protocols.hyperliquid: critical (1.7) must be below warning (1.5)"),
    ("override of unknown protocol", "# [alerts.protocols.hyperliquid]",
     "[alerts.protocols.dydx]", "alerts.protocols.dydx: unknown protocol"),
    ("wallet override order", "# critical = 1.3", "critical = 1.9",
     "wallets[0]: critical (1.9) must be below warning (1.5)"),
    ("telegram without chats", TG, "[channels.telegram]\nenabled = true",
     "channels.telegram.chat_ids: telegram is enabled but no chat_ids are given"),
    ("bad chat id", "chat_ids = []", 'chat_ids = ["my group"]',
     "channels.telegram.chat_ids[0]: must be a numeric chat id or an @channel name"),
    ("webhook without url", "enabled = false       # bodies", "enabled = true       # bodies",
     "channels.webhook.url: the webhook is enabled but has no url"),
    ("bad rpc scheme", '"https://arb1.arbitrum.io/rpc"', '"ftp://arb1.arbitrum.io/rpc"',
     "chains[0].rpc_urls[0]: must be a URL starting with http://"),
    ("no rpc urls", 'rpc_urls_env = "ARBITRUM_RPC_URLS"\nrpc_urls = ["https://arb1.arbitrum.io/rpc"]',
     "rpc_urls = []",
     "chains[0].rpc_urls: give at least one URL"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "expected"), [pytest.param(*c[1:], id=c[0]) for c in ERROR_CASES]
)
def test_invalid_config_is_one_line_naming_the_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    example = example_config()
    assert old in example  # the mutation must really change the example
    message = error_of(tmp_path, example.replace(old, new, 1))
    assert message.startswith(f"{tmp_path / 'cfg.toml'}: {expected}")


def test_chain_name_must_be_a_slug(tmp_path: Path) -> None:
    message = error_of(tmp_path, dev().replace('name = "dev"', 'name = "Dev Net"'))
    assert message.endswith(
        "chains[0].name: must be a slug: lowercase a-z, 0-9, '-' or '_', at most 32 characters"
    )


def test_several_problems_report_the_first_and_count_the_rest(tmp_path: Path) -> None:
    text = example_config().replace("chain_id = 42161", "chain_id = -1")
    text = text.replace("chain_id = 43114", "chain_id = 0")
    assert error_of(tmp_path, text).endswith("(got -1) (and 1 more problem)")


@pytest.mark.parametrize(
    ("toml", "env_var"),
    [
        ('telegram_bot_token = "1:x"', "PERPWATCH_TELEGRAM_BOT_TOKEN"),
        ('[channels.telegram]\nbot_token = "1:x"', "PERPWATCH_TELEGRAM_BOT_TOKEN"),
        ('[channels.telegram]\ntoken = "1:x"', "PERPWATCH_TELEGRAM_BOT_TOKEN"),
        ('webhook_secret = "s"', "PERPWATCH_WEBHOOK_SECRET"),
        ('[channels.webhook]\nsecret = "s"', "PERPWATCH_WEBHOOK_SECRET"),
        ('api_token = "t"', "PERPWATCH_API_TOKEN"),
    ],
)
def test_secret_in_the_file_is_refused(tmp_path: Path, toml: str, env_var: str) -> None:
    message = error_of(tmp_path, toml)
    assert f"must come from the environment variable {env_var}" in message
    assert "1:x" not in message


def test_database_url_error_hides_the_password(tmp_path: Path) -> None:
    message = error_of(tmp_path, 'database_url = "mysql://user:hunter2@db.example/x"')
    assert "database_url: unsupported database" in message
    assert "hunter2" not in message


# --- environment -------------------------------------------------------------------------------


def test_database_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'database_url = "sqlite:///file.db"')
    assert load_config(path).database_url == "sqlite:///file.db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///plain.db")
    assert load_config(path).database_url == "sqlite:///plain.db"
    monkeypatch.setenv("PERPWATCH_DATABASE_URL", "postgresql+psycopg://pg@127.0.0.1/test")
    assert load_config(path).database_url == "postgresql+psycopg://pg@127.0.0.1/test"
    assert "pg@127" not in repr(load_config(path))


def test_nested_env_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[alerts]\nwarning = 1.5\ncritical = 1.2\n[channels]\nconsole = true\n")
    monkeypatch.setenv("PERPWATCH_ALERTS__WARNING", "1.4")
    monkeypatch.setenv("PERPWATCH_CHANNELS__CONSOLE", "false")
    monkeypatch.setenv("PERPWATCH_CONFIG", "ignored.toml")  # the CLI's variable, not a key
    cfg = load_config(path)
    assert (cfg.alerts.warning, cfg.alerts.critical, cfg.channels.console) == (1.4, 1.2, False)


def test_env_values_are_validated_like_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERPWATCH_ALERTS__WARNNG", "1.4")
    assert error_of(tmp_path, "").startswith(
        "environment variable PERPWATCH_ALERTS__WARNNG: no setting 'alerts.warnng'"
    )
    monkeypatch.delenv("PERPWATCH_ALERTS__WARNNG")
    monkeypatch.setenv("PERPWATCH_ALERTS__WARNING", "0.5")
    assert error_of(tmp_path, "") == (
        "environment variable PERPWATCH_ALERTS__WARNING: alerts.warning: must be greater than 1 "
        "(got 0.5)"
    )
    monkeypatch.delenv("PERPWATCH_ALERTS__WARNING")
    monkeypatch.setenv("PERPWATCH_ALERTS__CRITICAL", "2")
    assert error_of(tmp_path, "").endswith("alerts: critical (2.0) must be below warning (1.5)")


@pytest.mark.parametrize("name", ["PERPWATCH_FOO", "perpwatch_chains__0__name", "PERPWATCH_ALERTS"])
def test_env_variables_must_name_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "1")
    line = error_of(tmp_path, "")
    assert line.startswith(f"environment variable {name}: "), line


def test_env_values_meet_the_strict_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERPWATCH_ALERTS__WARNING", "1.8")
    monkeypatch.setenv("PERPWATCH_CHANNELS__CONSOLE", "false")
    monkeypatch.setenv("PERPWATCH_WEBHOOK_SECRET", "12345")  # a string setting stays a string
    monkeypatch.setenv("PERPWATCH_CONFIG", "elsewhere.toml")  # the CLI's, not a setting
    cfg = load_text(tmp_path, "")
    assert cfg.alerts.warning == 1.8
    assert cfg.channels.console is False
    assert cfg.webhook_secret is not None
    assert cfg.webhook_secret.get_secret_value() == "12345"
    monkeypatch.setenv("PERPWATCH_CHANNELS__CONSOLE", "yes")
    assert "PERPWATCH_CHANNELS__CONSOLE: channels.console: must be a valid boolean" in error_of(
        tmp_path, ""
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('chain_id = "31337"', "chains[0].chain_id: must be a valid integer (got '31337')"),
        ("finality_blocks = 2.0", "chains[0].finality_blocks: must be a valid integer"),
        ('block_time = "1"', "chains[0].block_time: must be a valid number"),
    ],
)
def test_values_of_another_type_are_not_converted(tmp_path: Path, line: str, key: str) -> None:
    fields = {"chain_id": "chain_id = 31337", "finality_blocks": "finality_blocks = 2",
              "block_time": "block_time = 1.0"}  # fmt: skip
    name = line.split(" =")[0]
    body = "\n".join(fields[k] if k != name else line for k in fields)
    text = f'[[chains]]\nname = "dev"\nrpc_urls = ["http://127.0.0.1:8545"]\n{body}\n'
    assert key in error_of(tmp_path, text)


def test_secrets_come_from_env_and_stay_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = '[channels.telegram]\nenabled = true\nchat_ids = [-1001, "@desk_alerts"]\n'
    assert "PERPWATCH_TELEGRAM_BOT_TOKEN is not set" in error_of(tmp_path, text)
    monkeypatch.setenv("PERPWATCH_TELEGRAM_BOT_TOKEN", "123456:very-secret")
    monkeypatch.setenv("PERPWATCH_WEBHOOK_SECRET", "hook-secret")
    monkeypatch.setenv("PERPWATCH_API_TOKEN", "api-secret")
    cfg = load_text(tmp_path, text)
    assert cfg.channels.telegram.chat_ids == (-1001, "@desk_alerts")
    assert cfg.telegram_bot_token is not None
    assert cfg.webhook_secret is not None
    assert cfg.api_token is not None
    assert cfg.telegram_bot_token.get_secret_value() == "123456:very-secret"
    assert cfg.api_token.get_secret_value() == "api-secret"
    dumped = repr(cfg) + str(cfg.model_dump())
    for secret in ("very-secret", "hook-secret", "api-secret"):
        assert secret not in dumped


def test_rpc_urls_from_env_come_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_url = "https://arb-mainnet.g.alchemy.com/v2/AbCdEf0123456789AbCdEf0123456789"
    monkeypatch.setenv("ARB_RPC", f" {key_url} , https://user:pw@node.example:8546/rpc ")
    text = dev(42161).replace("rpc_urls = [", 'rpc_urls_env = "ARB_RPC"\nrpc_urls = [')
    (chain,) = load_text(tmp_path, text).chains
    assert chain.rpc_urls == (
        key_url,
        "https://user:pw@node.example:8546/rpc",
        "http://127.0.0.1:8545",
    )
    assert "AbCdEf0123456789" not in repr(chain)
    assert "pw@" not in repr(chain)
    assert "AbCdEf0123456789" not in " ".join(chain.redacted_urls)
    assert chain.redacted_urls[0].startswith("https://arb-mainnet.g.alchemy.com/v2/")


def test_rpc_urls_env_falls_back_to_the_file_urls_or_must_be_set(tmp_path: Path) -> None:
    with_fallback = dev().replace("rpc_urls = [", 'rpc_urls_env = "MISSING_RPC"\nrpc_urls = [')
    (chain,) = load_text(tmp_path, with_fallback).chains
    assert chain.rpc_urls == ("http://127.0.0.1:8545",)
    text = re.sub(r"rpc_urls = \[.*\]", 'rpc_urls_env = "MISSING_RPC"', dev())
    assert "rpc_urls_env" in text
    assert "rpc_urls = " not in text
    message = error_of(tmp_path, text)
    assert message.endswith(
        "chains[0].rpc_urls_env: environment variable MISSING_RPC is not set or empty"
    )


def test_ws_url_is_optional_and_its_variable_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (chain,) = load_text(tmp_path, dev()).chains
    assert chain.ws_url is None
    in_file = dev().replace("rpc_urls = [", 'ws_url = "ws://127.0.0.1:8545"\nrpc_urls = [')
    assert load_text(tmp_path, in_file).chains[0].ws_url == "ws://127.0.0.1:8545"
    key_url = "wss://arb-mainnet.example/ws/AbCdEf0123456789AbCdEf0123456789"
    monkeypatch.setenv("ARB_WS", f" {key_url} ")
    from_env = in_file.replace("ws_url = ", 'ws_url_env = "ARB_WS"\nws_url = ')
    (chain,) = load_text(tmp_path, from_env).chains
    assert chain.ws_url == key_url
    assert "AbCdEf0123456789" not in repr(chain)
    monkeypatch.delenv("ARB_WS")  # unset: the file's, or none (the head is polled)
    assert load_text(tmp_path, from_env).chains[0].ws_url == "ws://127.0.0.1:8545"
    only_env = dev().replace("rpc_urls = [", 'ws_url_env = "ARB_WS"\nrpc_urls = [')
    assert load_text(tmp_path, only_env).chains[0].ws_url is None


def test_http_and_websocket_urls_each_have_their_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws_in_rpc = dev().replace('rpc_urls = ["http://', 'rpc_urls = ["ws://')
    message = error_of(tmp_path, ws_in_rpc)
    assert "chains[0].rpc_urls[0]: must be a URL starting with http:// or https://" in message
    assert "goes in ws_url" in message
    monkeypatch.setenv("ARB_WS", "https://host.example/ws/AbCdEf0123456789AbCdEf")
    http_in_ws = dev().replace("rpc_urls = [", 'ws_url_env = "ARB_WS"\nrpc_urls = [')
    message = error_of(tmp_path, http_in_ws)
    assert "chains[0].ws_url: must be a URL starting with ws:// or wss://" in message
    assert "AbCdEf0123456789" not in message


def test_bad_rpc_url_is_redacted_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ARB_RPC", "ftp://user:pw@host.example/v2/AbCdEf0123456789AbCdEf?apikey=k3y9"
    )
    text = dev().replace("rpc_urls = [", 'rpc_urls_env = "ARB_RPC"\nrpc_urls = [')
    message = error_of(tmp_path, text)
    assert "chains[0].rpc_urls[0]: must be a URL starting with http://" in message
    assert "host.example" in message
    for secret in ("pw", "AbCdEf0123456789", "k3y9"):
        assert secret not in message.replace("rpc_urls", "")


# --- thresholds, immutability -------------------------------------------------------------------


def test_threshold_precedence_wallet_over_protocol_over_global(tmp_path: Path) -> None:
    text = (
        "[alerts]\nwarning = 1.6\n[alerts.protocols.gmx_v2]\nwarning = 1.4\ncritical = 1.2\n"
        f'[[wallets]]\naddress = "{WALLET}"\ncritical = 1.3\n'
    )
    cfg = load_text(tmp_path, text)
    wallet = cfg.wallets[0]
    assert cfg.alerts.for_account("hyperliquid").warning == 1.6
    gmx = cfg.alerts.for_account("gmx_v2")
    assert (gmx.warning, gmx.critical) == (1.4, 1.2)
    mine = cfg.alerts.for_account("gmx_v2", wallet)
    assert (mine.warning, mine.critical, mine.clear_margin) == (1.4, 1.3, 0.05)
    assert mine.clear_above(1.3) == pytest.approx(1.365)


def test_models_are_frozen() -> None:
    wallet = WalletConfig(address=WALLET)
    with pytest.raises(ValidationError):
        wallet.label = "changed"
    assert ThresholdOverride(warning=2).overrides() == {"warning": 2}


# --- addresses (property tests) ----------------------------------------------------------------


@given(st.binary(min_size=20, max_size=20))
def test_lower_upper_and_checksum_forms_normalise_equal(raw: bytes) -> None:
    body = raw.hex()
    checksummed = to_checksum_address("0x" + body)
    forms = ("0x" + body.lower(), "0x" + body.upper(), checksummed)
    assert {normalize_address(form) for form in forms} == {checksummed}


@given(st.binary(min_size=20, max_size=20), st.integers(min_value=0))
def test_a_flipped_case_checksum_is_rejected(raw: bytes, pick: int) -> None:
    checksummed = to_checksum_address("0x" + raw.hex())
    letters = [i for i in range(2, 42) if checksummed[i].isalpha()]
    assume(letters)
    i = letters[pick % len(letters)]
    flipped = checksummed[:i] + checksummed[i].swapcase() + checksummed[i + 1 :]
    body = flipped[2:]
    assume(body not in (body.lower(), body.upper()))  # one letter only: no checksum left
    with pytest.raises(ValueError, match="bad checksum"):
        normalize_address(flipped)


# --- write_example -------------------------------------------------------------------------------


def test_write_example_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "perpwatch.toml"
    write_example(path)
    assert path.read_text(encoding="utf-8") == example_config()
    path.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="already exists"):
        write_example(path)
    assert path.read_text(encoding="utf-8") == "# mine\n"
    write_example(path, force=True)
    assert path.read_text(encoding="utf-8") == example_config()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perpwatch.toml"]  # no temp files left


def test_write_example_into_a_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write"):
        write_example(tmp_path / "no" / "such" / "dir.toml")
    assert list(tmp_path.iterdir()) == []


def test_the_old_distance_key_still_means_the_warning_distance(tmp_path: Path) -> None:
    path = write(tmp_path, "[alerts]\ndistance_pct = 4\n")
    assert load_config(path).alerts.warning_distance_pct == 4.0
