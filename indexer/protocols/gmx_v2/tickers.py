"""GMX v2 token prices from GMX's own tickers endpoint: an optional, off-chain price source.

GMX keeps no price on chain between keeper updates, so its interface and SDK price positions with
``GET https://arbitrum-api.gmxinfra.io/prices/tickers`` (``avalanche-api…`` on Avalanche; the
``tickers_url`` of a GMX protocol config). The answer, as the GMX SDK reads it (``Oracle``
``TickersResponse``, ``parseContractPrice(BigInt(item.minPrice), token.decimals)``) and as
recorded public answers show, is a JSON array with one object per token::

    [{"tokenAddress": "0x82aF…Bab1", "tokenSymbol": "ETH", "minPrice": "2376284700000000",
      "maxPrice": "2376312100000000", "updatedAt": 1707272591518}, …]

- ``tokenAddress``: EIP-55 checksummed; matched here case-insensitively.
- ``minPrice``/``maxPrice``: decimal strings in the on-chain format, USD per *smallest unit*
  times 1e30 (ETH at $2,376.28 with 18 decimals → 2.376e15; BTC at $43,039 with 8 → 4.3e26), so
  the price of a whole token is ``price / 10**(30 - decimals)``.
- ``updatedAt``: Unix time in **milliseconds**. Some answers also carry ``timestamp`` (Unix
  seconds) or ``oracleDecimals`` (older answers; the SDK ignores it now, and so does perpwatch).

Usage::

    async with httpx.AsyncClient(timeout=10) as client:
        prices = await fetch_ticker_prices(client, url, adapter.tokens, now=time.time())
    prices["ETH"].mid_usd                     # 2376.2984
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from indexer.errors import ConfigError, DecodeError, RetryableError
from indexer.prices import PriceBook
from indexer.protocols.gmx_v2.decode import GmxToken
from indexer.redact import redact_text, redact_url
from indexer.retry import is_retryable_status, parse_retry_after
from indexer.rpc.client import RpcClient

__all__ = ["GmxTickerPrices", "TickerPrice", "fetch_ticker_prices", "parse_tickers"]

PRICE_SCALE_E30 = 10**30
_MS_PER_S = 1000


@dataclass(frozen=True, slots=True)
class TickerPrice:
    """One token's price from the tickers endpoint.

    ``min_price_e30``/``max_price_e30`` are exact, in GMX's on-chain format (USD per smallest
    unit times 1e30); ``min_usd``, ``max_usd`` and ``mid_usd`` are floats in USD per whole token.
    ``updated_at`` is the endpoint's own Unix time in seconds.
    """

    asset: str
    min_price_e30: int
    max_price_e30: int
    min_usd: float
    max_usd: float
    mid_usd: float
    updated_at: float


def _price_e30(item: Mapping[str, Any], key: str, address: str) -> int:
    """A positive integer price from a decimal string (or JSON integer). Raises DecodeError."""
    raw = item.get(key)
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise DecodeError(f"tickers: {key} of {address} is not an integer string: {raw!r}")
    text = str(raw)
    if not text.isdigit() or int(text) == 0:  # rejects "", "-5", "1.5e3", "0"
        raise DecodeError(f"tickers: {key} of {address} is not a positive integer: {raw!r}")
    return int(text)


def _updated_at_s(item: Mapping[str, Any], address: str) -> float:
    """``updatedAt`` (ms) in seconds, else ``timestamp`` (s). Raises DecodeError."""
    for key, per_s in (("updatedAt", _MS_PER_S), ("timestamp", 1)):
        raw = item.get(key)
        if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
            return float(raw) / per_s
    raise DecodeError(f"tickers: {address} has no positive updatedAt or timestamp")


def _ticker_price(item: Mapping[str, Any], address: str, token: GmxToken) -> TickerPrice:
    min_e30 = _price_e30(item, "minPrice", address)
    max_e30 = _price_e30(item, "maxPrice", address)
    if min_e30 > max_e30:
        raise DecodeError(f"tickers: minPrice above maxPrice for {address}")
    # Exact ints divided once: Python rounds int / int correctly to the nearest float.
    whole = 10**token.decimals
    return TickerPrice(
        asset=token.asset,
        min_price_e30=min_e30,
        max_price_e30=max_e30,
        min_usd=min_e30 * whole / PRICE_SCALE_E30,
        max_usd=max_e30 * whole / PRICE_SCALE_E30,
        mid_usd=(min_e30 + max_e30) * whole / (2 * PRICE_SCALE_E30),
        updated_at=_updated_at_s(item, address),
    )


def _items_by_address(body: bytes) -> dict[str, Mapping[str, Any]]:
    """The answer's objects by lower-case ``tokenAddress``. Raises DecodeError."""
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"tickers: invalid JSON ({len(body)} bytes): {exc}") from None
    if not isinstance(items, list):
        raise DecodeError(f"tickers: expected a JSON array, got {type(items).__name__}")
    found: dict[str, Mapping[str, Any]] = {}
    for item in items:
        address = item.get("tokenAddress") if isinstance(item, dict) else None
        if not isinstance(address, str):
            raise DecodeError(f"tickers: an item without a tokenAddress string: {item!r:.120}")
        if address.lower() in found:  # two prices for one token: neither can be trusted
            raise DecodeError(f"tickers: {address} appears twice")
        found[address.lower()] = item
    return found


def parse_tickers(body: bytes, tokens: Mapping[str, GmxToken]) -> dict[str, TickerPrice]:
    """Prices of ``tokens`` (lower-case address → token) in a tickers answer, by asset.

    Pure. Tokens not in ``tokens`` are ignored without being checked; a token of ``tokens``
    missing from the answer is missing from the result (the caller treats it as unpriced). When
    several tokens share an asset, the first in ``tokens`` order that the answer prices wins.

    Raises:
        DecodeError: not a JSON array of objects with ``tokenAddress``, a token appearing twice,
            or a priced token with a missing, non-integer, zero or inverted (min > max) price or
            without a timestamp.
    """
    items = _items_by_address(body)
    prices: dict[str, TickerPrice] = {}
    for address, token in tokens.items():
        item = items.get(address.lower())
        if item is not None and token.asset not in prices:
            prices[token.asset] = _ticker_price(item, address, token)
    return prices


def _raise_for_status(response: httpx.Response, shown_url: str, now: float) -> None:
    status = response.status_code
    if is_retryable_status(status):
        hint = parse_retry_after(response.headers.get("retry-after"), now)
        raise RetryableError(f"tickers: HTTP {status} from {shown_url}", hint)
    if not 200 <= status < 300:  # 404, 401/403: a wrong or blocked tickers_url, not a blip
        raise ConfigError(f"tickers_url: HTTP {status} from {shown_url}")


async def fetch_ticker_prices(
    client: httpx.AsyncClient, base_url: str, tokens: Mapping[str, GmxToken], *, now: float
) -> dict[str, TickerPrice]:
    """GET the tickers endpoint ``base_url`` (the full ``…/prices/tickers`` URL) and parse it
    with :func:`parse_tickers`. ``now`` is the Unix time in seconds, for HTTP-date Retry-After.

    Timeouts are the ``client``'s. URLs in messages are redacted.

    Raises:
        RetryableError: HTTP 408/425/429/5xx (``retry_after`` from ``Retry-After``), a timeout
            or a network error.
        ConfigError: any other non-2xx status.
        DecodeError: see :func:`parse_tickers`.
    """
    shown_url = redact_url(base_url)
    try:
        response = await client.get(base_url, headers={"accept": "application/json"})
    except httpx.TransportError as exc:  # timeouts, refused connections, broken streams
        detail = redact_text(str(exc) or type(exc).__name__, [base_url])
        raise RetryableError(f"tickers: {detail} at {shown_url}") from None
    _raise_for_status(response, shown_url, now)
    return parse_tickers(response.content, tokens)


@dataclass(frozen=True, slots=True)
class GmxTickerPrices:
    """GMX's off-chain tickers (mid of min and max), e.g. ``…/prices/tickers``."""

    url: str
    tokens: Mapping[str, GmxToken]
    timeout_s: float = 10.0

    async def read(self, rpc: RpcClient, assets: Sequence[str], block: int) -> PriceBook:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            tickers = await fetch_ticker_prices(client, self.url, self.tokens,
                                                now=time.time())  # fmt: skip
        wanted = set(assets)
        return PriceBook(
            {a: t.mid_usd for a, t in tickers.items() if a in wanted},
            {a: int(t.updated_at) for a, t in tickers.items() if a in wanted},
        )
