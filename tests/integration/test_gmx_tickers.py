"""GMX tickers prices: pure parsing, and fetching from a real local HTTP server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.errors import ConfigError, DecodeError, RetryableError
from indexer.protocols.gmx_v2.decode import GmxToken
from indexer.protocols.gmx_v2.tickers import TickerPrice, fetch_ticker_prices, parse_tickers
from tests.fixtures.gmx_tickers_api import TickersApi

WETH = "0x82aF49447D8a07e3bd95BD0d56f35241523fBab1"
WBTC = "0x2f2a2543B76A4166549F7aaB2e75Bef0aefC5B0f"
USDC = "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"
LINK = "0xf97f4df75117a78c1A5a0DBb814Af92458539FB4"  # configured, absent from the answer
ARB = "0x912CE59144191C1204E64559FE8253a0e49E6548"  # in the answer, not configured
TOKENS = {
    WETH.lower(): GmxToken("ETH", 18),
    WBTC.lower(): GmxToken("BTC", 8),
    USDC.lower(): GmxToken("USDC", 6),
    LINK.lower(): GmxToken("LINK", 18),
}
UPDATED_MS = 1707272591518


def item(address: str, symbol: str, min_price: Any, max_price: Any, **extra: Any) -> dict[str, Any]:
    return {
        "tokenAddress": address,
        "tokenSymbol": symbol,
        "minPrice": min_price,
        "maxPrice": max_price,
        "updatedAt": UPDATED_MS,
        **extra,
    }


ITEMS = [
    item(WETH, "ETH", "2376284700000000", "2376312100000000"),
    item(WBTC, "WBTC", "430397400000000000000000000", "430400000000000000000000000"),
    item(USDC, "USDC", "999950000000000000000000", "1000010000000000000000000"),
    item(ARB, "ARB", "not even a price", "1"),  # unknown: ignored without being checked
]
BODY = orjson.dumps(ITEMS)


def test_parse_real_shaped_answer() -> None:
    prices = parse_tickers(BODY, TOKENS)
    assert set(prices) == {"ETH", "BTC", "USDC"}  # LINK missing, ARB ignored
    eth, btc, usdc = prices["ETH"], prices["BTC"], prices["USDC"]
    assert eth == TickerPrice(
        "ETH", 2376284700000000, 2376312100000000, 2376.2847, 2376.3121, 2376.2984, 1707272591.518
    )
    assert (btc.min_usd, btc.max_usd, btc.mid_usd) == (43039.74, 43040.0, 43039.87)
    assert (usdc.min_usd, usdc.max_usd) == (0.99995, 1.00001)
    assert usdc.mid_usd == pytest.approx(0.99998, rel=1e-15)
    assert btc.max_price_e30 == 430400000000000000000000000


def test_timestamp_seconds_when_no_updated_at() -> None:
    raw = item(WETH, "ETH", "1", "2", timestamp=1707272591)
    del raw["updatedAt"]
    assert parse_tickers(orjson.dumps([raw]), TOKENS)["ETH"].updated_at == 1707272591.0


def test_first_token_of_a_shared_asset_wins() -> None:
    tokens = {WBTC.lower(): GmxToken("BTC", 8), USDC.lower(): GmxToken("BTC", 6)}
    assert parse_tickers(BODY, tokens)["BTC"].min_price_e30 == 430397400000000000000000000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502</html>", "invalid JSON"),
        (b'{"ETH": 1}', "expected a JSON array"),
        (b"[1]", "without a tokenAddress"),
        (orjson.dumps([{"tokenSymbol": "ETH"}]), "without a tokenAddress"),
        (orjson.dumps([item(WETH, "ETH", 2.5e15, "3")]), "minPrice"),
        (orjson.dumps([item(WETH, "ETH", "-5", "3")]), "not a positive integer"),
        (orjson.dumps([item(WETH, "ETH", "0", "3")]), "not a positive integer"),
        (orjson.dumps([item(WETH, "ETH", "2", None)]), "maxPrice"),
        (orjson.dumps([item(WETH, "ETH", "4", "3")]), "minPrice above maxPrice"),
        (orjson.dumps([item(WETH, "ETH", "1", "1", updatedAt="soon")]), "updatedAt"),
        (orjson.dumps([ITEMS[0], item(WETH.lower(), "ETH", "1", "1")]), "appears twice"),
    ],
)
def test_bad_shapes_raise_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_tickers(body, TOKENS)


@given(
    decimals=st.integers(0, 30),
    low=st.integers(1, 10**40),
    spread=st.integers(0, 10**40),
)
def test_prices_are_exact_and_ordered(decimals: int, low: int, spread: int) -> None:
    tokens = {WETH.lower(): GmxToken("ETH", decimals)}
    body = orjson.dumps([item(WETH, "ETH", str(low), str(low + spread)), ITEMS[3]])
    price = parse_tickers(body, tokens)["ETH"]
    assert (price.min_price_e30, price.max_price_e30) == (low, low + spread)
    assert price.min_usd == low * 10**decimals / 10**30
    assert price.min_usd <= price.mid_usd <= price.max_usd


def fetch(url: str, *, timeout: float = 5.0, now: float = 0.0) -> dict[str, TickerPrice]:
    async def run() -> dict[str, TickerPrice]:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await fetch_ticker_prices(client, url, TOKENS, now=now)

    return asyncio.run(run())


@pytest.fixture
def tickers_api() -> Iterator[TickersApi]:
    with TickersApi(ITEMS) as api:
        yield api


def test_fetch_from_server(tickers_api: TickersApi) -> None:
    assert fetch(tickers_api.url) == parse_tickers(BODY, TOKENS)
    assert tickers_api.paths == ["/prices/tickers"]


def test_429_retry_after_seconds(tickers_api: TickersApi) -> None:
    tickers_api.script(429, retry_after="7")
    with pytest.raises(RetryableError, match="HTTP 429") as caught:
        fetch(tickers_api.url)
    assert caught.value.retry_after == 7.0
    assert set(fetch(tickers_api.url)) == {"ETH", "BTC", "USDC"}  # the next answer is normal


def test_429_retry_after_http_date(tickers_api: TickersApi) -> None:
    now = 1_700_000_000.0
    tickers_api.script(429, retry_after=format_datetime(datetime.fromtimestamp(now + 30, UTC)))
    with pytest.raises(RetryableError) as caught:
        fetch(tickers_api.url, now=now)
    assert caught.value.retry_after == 30.0


def test_502_is_retryable_and_url_secrets_redacted(tickers_api: TickersApi) -> None:
    secret = "k7Hq93LmZp2Xw8Rt"
    tickers_api.script(502, body=b"<html>Bad Gateway</html>")
    with pytest.raises(RetryableError, match="HTTP 502") as caught:
        fetch(f"{tickers_api.url}?apikey={secret}")
    assert caught.value.retry_after is None
    assert secret not in str(caught.value)
    assert tickers_api.paths == [f"/prices/tickers?apikey={secret}"]  # it was sent


def test_404_is_a_config_error(tickers_api: TickersApi) -> None:
    with pytest.raises(ConfigError, match="HTTP 404"):
        fetch(tickers_api.url.replace("/prices/tickers", "/prices/tikkers"))


def test_malformed_answer_from_server(tickers_api: TickersApi) -> None:
    tickers_api.script(200, body=b'{"error": "maintenance"}')
    with pytest.raises(DecodeError, match="expected a JSON array"):
        fetch(tickers_api.url)


def test_timeout_and_refused_connection_are_retryable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        with pytest.raises(RetryableError, match="tickers"):
            fetch(f"http://127.0.0.1:{port}/prices/tickers", timeout=0.2)
    with pytest.raises(RetryableError, match="tickers"):  # the port is closed now
        fetch(f"http://127.0.0.1:{port}/prices/tickers")
