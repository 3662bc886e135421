"""The FastAPI application of ``perpwatch serve``.

    app = create_app(cfg, engine)          # uvicorn.run(app, host=..., port=...)

Reads come from the database the monitor writes; risk views are computed per request from the
stored open book at the latest persisted prices (``monitor.latest.read``) with the same pure
analysis as the CLI (``monitor.analysis``). OpenAPI at ``/openapi.json`` and ``/docs``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from importlib.resources import files
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from indexer.config.loader import Config
from indexer.config.scalars import normalize_address
from indexer.models import MarginMode
from indexer.store.accounts import load_accounts
from indexer.store.columns import utcnow
from monitor.alerts.levels import Level
from monitor.analysis.book import collateral_usd, notional_usd
from monitor.analysis.documents import (
    drift_document,
    ladder_document,
    performance_document,
    plain,
    stress_document,
    whatif_document,
)
from monitor.analysis.ladder import liquidation_ladder
from monitor.analysis.performance import alert_performance
from monitor.analysis.stress import stress_report
from monitor.analysis.whatif import wallet_whatif
from monitor.api.auth import token_check
from monitor.api.queries import (
    SORTS,
    AccountFilter,
    account_page,
    account_row,
    alerts_page,
    freshness,
    performance_inputs,
)
from monitor.health.account import account_health
from monitor.latest.read import latest_prices, read_book
from monitor.metrics.database import DatabaseCollector
from monitor.subscriptions.service import SubscriptionError, Target, subscribers
from monitor.subscriptions.service import unwatch as unsubscribe
from monitor.subscriptions.service import watch as subscribe
from monitor.watchlist import add_wallet, remove_wallet, watched_wallets

STATIC = files("monitor.api") / "static"


class JsonResponse(Response):
    """orjson: NaN and infinities as null, datetimes as ISO 8601."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class WatchRequest(BaseModel):
    address: str = Field(description="Wallet address, 0x + 40 hex digits.")
    label: str = Field(default="", max_length=64)


class SubscribeRequest(WatchRequest):
    protocol: str | None = Field(default=None, description="Only this protocol's accounts.")
    account_ref: str | None = Field(default=None, description="Only this one account.")


SUBSCRIBER_KINDS = ("telegram", "webhook")


def _target(kind: str, target: str) -> Target:
    if kind not in SUBSCRIBER_KINDS:
        raise HTTPException(422, f"subscriber kind must be one of {', '.join(SUBSCRIBER_KINDS)}")
    return Target(kind, target)


def _owner(address: str) -> str:
    try:
        return normalize_address(address.strip()).lower()
    except ValueError as exc:
        raise HTTPException(422, f"bad address {address!r}: {exc}") from None


def create_app(cfg: Config, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The API over ``engine``'s database; auth as ``cfg.api`` and ``cfg.api_token``."""
    token = cfg.api_token.get_secret_value() if cfg.api_token is not None else None
    read = [Depends(token_check(token, required=not cfg.api.public_reads))]
    write = [Depends(token_check(token, required=True))]
    chain_names = {c.chain_id: c.name for c in cfg.chains}
    app = FastAPI(
        title="perpwatch",
        summary="Margin accounts, liquidation risk views and alerts, from perpwatch's database.",
        default_response_class=JsonResponse,
    )

    @app.get("/api/accounts", dependencies=read, tags=["accounts"])
    def accounts(
        level: Level | None = None,
        health_min: float | None = None,
        health_max: float | None = None,
        protocol: str | None = None,
        market: Annotated[str | None, Query(description="Market id or asset.")] = None,
        mode: MarginMode | None = None,
        wallet: str | None = None,
        chain_id: int | None = None,
        sort: Annotated[str, Query(pattern="^(" + "|".join(SORTS) + ")$")] = "health",
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Any:
        """Open accounts with their latest health, riskiest first; filtered and paginated."""
        f = AccountFilter(
            level=level.value if level else None, health_min=health_min, health_max=health_max,
            protocol=protocol, market=market, mode=mode.value if mode else None,
            wallet=_owner(wallet) if wallet else None, chain_id=chain_id,
        )  # fmt: skip
        return account_page(engine, f, limit=limit, offset=offset, sort=sort, now=clock())

    @app.get("/api/accounts/{account_id}", dependencies=read, tags=["accounts"])
    def account(account_id: int) -> Any:
        """One account: positions and collateral, and the numbers behind its health at the
        latest prices (recomputed), beside what the monitor stored."""
        stored = account_row(engine, account_id, clock())
        found = load_accounts(engine, status=None, ids=[account_id])
        if stored is None or not found:
            raise HTTPException(404, f"no account {account_id}")
        margin = found[0][1]
        prices = latest_prices(engine).get((margin.chain_id, margin.protocol), {})
        health = account_health(margin, prices)
        positions = [
            {"market": p.market, "asset": p.asset, "side": "long" if p.is_long else "short",
             "size": p.size, "entry_price_usd": p.entry_price,
             "pending_fees_usd": p.pending_fees_usd,
             "notional_usd": notional_usd(p, prices) if p.asset in prices else None,
             "mark_price_usd": r.mark_price, "liquidation_price_usd": r.liquidation_price,
             "distance_pct": r.distance_pct,
             "fee_growth_usd_per_hour": (stored.get("fee_growth") or {}).get(p.market)}
            for p, r in zip(margin.positions, health.positions, strict=True)
        ]  # fmt: skip
        collateral = [
            {"asset": c.asset, "amount": c.amount, "haircut": c.haircut,
             "price_usd": prices.get(c.asset)}
            for c in margin.collateral
        ]  # fmt: skip
        valued = health.known and margin.assets <= prices.keys()
        return {
            "id": account_id, "chain_id": margin.chain_id, "protocol": margin.protocol,
            "owner": margin.owner, "ref": margin.ref, "mode": margin.mode.value,
            "status": stored["status"], "block_number": margin.block_number,
            "level": stored["level"], "episode": stored["episode"],
            "data_age_s": stored["data_age_s"], "chain_block": stored["chain_block"],
            "now": {
                "known": valued, "reason": health.reason,
                "equity_usd": health.equity_usd, "maintenance_usd": health.maintenance_usd,
                "health": health.health, "move_pct": health.move_pct,
                "collateral_usd": collateral_usd(margin, prices) if valued else None,
            },
            "stored": {k: stored.get(k) for k in (
                "health", "equity_usd", "maintenance_usd", "move_pct", "hours_to_liquidation",
                "fee_growth", "block_number", "computed_at")},
            "positions": positions,
            "collateral": collateral,
            "drift": drift_document(margin, prices, stored.get("fee_growth") or {})
            if valued else None,
        }  # fmt: skip

    @app.get("/api/markets", dependencies=read, tags=["risk"])
    def markets() -> Any:
        """Every market with open positions: mark, long and short notional, positions."""
        book = read_book(engine)
        rows: dict[tuple[int, str, str], dict[str, Any]] = {}
        for entry in book.entries:
            a = entry.account
            for p in a.positions:
                row = rows.setdefault(
                    (a.chain_id, a.protocol, p.market),
                    {"chain_id": a.chain_id, "protocol": a.protocol, "market": p.market,
                     "asset": p.asset, "mark_price_usd": entry.prices[p.asset],
                     "long_notional_usd": 0.0, "short_notional_usd": 0.0, "positions": 0},
                )  # fmt: skip
                side = "long_notional_usd" if p.is_long else "short_notional_usd"
                row[side] += notional_usd(p, entry.prices)
                row["positions"] += 1
        return {
            "unpriced_accounts": book.unpriced,
            "markets": sorted(
                rows.values(), key=lambda r: (r["asset"], r["chain_id"], r["protocol"], r["market"])
            ),
        }

    @app.get("/api/markets/{market}/ladder", dependencies=read, tags=["risk"])
    def ladder(
        market: str,
        step_pct: Annotated[float, Query(gt=0)] = 1.0,
        max_pct: Annotated[float, Query(gt=0, le=1000)] = 50.0,
    ) -> Any:
        """Long/short notional binned by liquidation distance around the mark, cumulative."""
        if step_pct > max_pct or max_pct / step_pct > 10_000:
            raise HTTPException(422, "need step_pct <= max_pct and at most 10,000 bins")
        book = read_book(engine)
        result = liquidation_ladder(book.entries, market, step_pct=step_pct, max_pct=max_pct)
        if result.mark_price_usd is None:
            raise HTTPException(404, f"no open position in market {market!r}")
        return ladder_document(result, unpriced=book.unpriced)

    @app.get("/api/stress", dependencies=read, tags=["risk"])
    def stress() -> Any:
        """Notional liquidated and bad debt for moves of -50..+50 %, per market and jointly."""
        book = read_book(engine)
        return stress_document(stress_report(book.entries), unpriced=book.unpriced)

    @app.get("/api/wallets/{address}/whatif", dependencies=read, tags=["risk"])
    def whatif(address: str) -> Any:
        """A wallet's positions as one cross account and as isolated ones, side by side."""
        owner = _owner(address)
        book = read_book(engine, owner=owner)
        return whatif_document(owner, wallet_whatif(book.entries), unpriced=book.unpriced)

    @app.get("/api/alerts", dependencies=read, tags=["alerts"])
    def alerts(
        level: Level | None = None,
        account_id: int | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
        lens: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Any:
        """Recorded alerts, newest first; ``lens`` keeps one lens's (empty: the config's
        thresholds)."""
        value = level.value if level else None
        return alerts_page(engine, level=value, account_id=account_id, limit=limit,
                           offset=offset, lens=lens)  # fmt: skip

    @app.get("/api/alerts/performance", dependencies=read, tags=["alerts"])
    def performance() -> Any:
        """Per liquidation the lead time of its first warning; missed liquidations; warning
        episodes that never led to one."""
        liquidations, events = performance_inputs(engine)
        return performance_document(alert_performance(liquidations, events))

    @app.get("/api/freshness", dependencies=read, tags=["status"])
    def chains() -> Any:
        """Per chain: the monitor's last tick and price reading, and their age."""
        return {"chains": freshness(engine, chain_names, clock())}

    @app.get("/api/watchlist", dependencies=read, tags=["watch list"])
    def watchlist() -> Any:
        """Wallets watched through the API (the config's ``[[wallets]]`` come on top)."""
        return {"wallets": [plain(w.model_dump()) for w in watched_wallets(engine)]}

    @app.post("/api/watchlist", dependencies=write, tags=["watch list"], status_code=201)
    def watch(body: WatchRequest) -> Any:
        """Add a wallet to the watch list (or change its label). Needs the token."""
        owner = _owner(body.address)
        added = add_wallet(engine, owner, label=body.label, now=clock())
        return {"address": owner, "label": body.label, "added": added}

    @app.delete("/api/watchlist/{address}", dependencies=write, tags=["watch list"])
    def unwatch(address: str) -> Any:
        """Remove a wallet from the watch list. Needs the token."""
        owner = _owner(address)
        if not remove_wallet(engine, owner):
            raise HTTPException(404, f"{owner} is not on the watch list")
        return {"address": owner, "removed": True}

    @app.get("/api/subscriptions", dependencies=read, tags=["subscriptions"])
    def subscriptions() -> Any:
        """Every subscriber (Telegram chat or webhook) with its settings and watched wallets:
        what the bot's /watch and the endpoints below write, and the config seeds."""
        return {
            "subscribers": [
                {
                    "kind": t.kind,
                    "target": t.target,
                    "channel": t.channel,
                    "paused": info.paused,
                    "thresholds": info.overrides.model_dump(exclude_none=True),
                    "quiet_hours_utc": [info.quiet_from_hour, info.quiet_to_hour],
                    "wallets": [plain(w) for w in wallets],
                }
                for t, info, wallets in subscribers(engine)
            ]
        }

    @app.post(
        "/api/subscriptions/{kind}/{target}/wallets",
        dependencies=write, tags=["subscriptions"], status_code=201,
    )  # fmt: skip
    def subscribe_wallet(kind: str, target: str, body: SubscribeRequest) -> Any:
        """Make a subscriber watch a wallet (optionally one protocol or account), as the
        bot's /watch does, within ``max_wallets_per_chat``. Needs the token."""
        sub, owner = _target(kind, target), _owner(body.address)
        try:
            watched = subscribe(
                engine, sub, owner, body.label, protocol=body.protocol,
                account_ref=body.account_ref, limit=cfg.channels.telegram.max_wallets_per_chat,
                source="api",
            )  # fmt: skip
        except SubscriptionError as exc:
            raise HTTPException(409, str(exc)) from None
        return {"channel": sub.channel, "wallet": plain(watched)}

    @app.delete(
        "/api/subscriptions/{kind}/{target}/wallets/{name}",
        dependencies=write, tags=["subscriptions"],
    )  # fmt: skip
    def unsubscribe_wallet(kind: str, target: str, name: str) -> Any:
        """Stop a subscriber watching a wallet (address or label). Needs the token."""
        sub = _target(kind, target)
        try:
            watched = unsubscribe(engine, sub, name)
        except SubscriptionError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"channel": sub.channel, "removed": plain(watched)}

    registry = CollectorRegistry(auto_describe=True)
    registry.register(DatabaseCollector(engine, chain_names, clock))

    @app.get("/metrics", dependencies=read, tags=["status"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus metrics read from the database (``monitor.metrics.database``)."""
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app
