"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright) over
``perpwatch serve`` and a database the real monitor wrote during a crash: it asks for the token,
then renders the ladder, stress curve, accounts table, timeline and freshness from the API,
sorts the table, and answers a what-if typed in. Screenshots go to ``$PERPWATCH_TEST_ARTIFACTS``
(default: the test's temporary directory)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect, sync_playwright

from devnet.demo import demo_config
from devnet.scenario import World
from indexer.store.engine import ensure_schema, make_engine
from monitor.tables import ChainTick
from tests.api_helpers import TOKEN, ServeProcess, run_monitor_crash
from tests.monitor_helpers import world as world
from tests.monitor_helpers import write_toml

pytestmark = [pytest.mark.chain, pytest.mark.slow]

_ticks = ChainTick.__table__  # type: ignore[attr-defined]
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; .ci/run installs it


def _ids(page: Page) -> list[int]:
    return [int(i) for i in page.locator("#accounts tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.id)")]  # fmt: skip


def _order(items: list[dict[str, object]], key: str) -> list[int]:
    def rank(item: dict[str, object]) -> tuple[bool, float, int]:
        value = item[key]
        return (value is None, float(value) if isinstance(value, int | float) else 0.0,
                int(str(item["id"])))  # fmt: skip

    return [int(str(i["id"])) for i in sorted(items, key=rank)]


def test_dashboard_renders_the_monitors_data_in_chromium(world: World, tmp_path: Path) -> None:
    assert CHROMIUM.is_file(), "install Debian's chromium (apt-get install -y chromium)"
    artifacts = Path(os.environ.get("PERPWATCH_TEST_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    cfg = demo_config(world, f"sqlite:///{tmp_path / 'demo.db'}")
    engine = make_engine(cfg.database_url)
    ensure_schema(engine)
    try:
        run_monitor_crash(world, cfg, engine)
        with engine.connect() as conn:
            head = conn.execute(sa.select(_ticks.c.block_number)).scalar_one()
    finally:
        engine.dispose()
    config = write_toml(cfg, tmp_path / "perpwatch.toml")

    with ServeProcess(config) as server, sync_playwright() as p:
        accounts = server.get("/api/accounts", limit=200).json()["items"]
        stress = server.get("/api/stress").json()
        alerts = server.get("/api/alerts", limit=500, lens="").json()
        wallet = next(a["owner"] for a in accounts if a["mode"] == "cross")
        whatif = server.get(f"/api/wallets/{wallet}/whatif").json()

        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url + "/")
        # Reads need the token here: the page asks for it.
        expect(page.locator("#token-form")).to_be_visible()
        page.fill("#token", TOKEN)
        page.click("#token-form button")
        expect(page.locator("body[data-loaded=true]")).to_have_count(1, timeout=30_000)

        expect(page.locator("#freshness .chain")).to_contain_text(f"devnet: block {head:,}, ")
        assert page.locator("#ladder rect.bar").count() > 0
        assert page.locator("#ladder path.cum").count() == 2
        assert page.locator("#stress path.curve").count() == len(stress["curves"]) + 1
        assert page.locator("#timeline circle.dot").count() == len(alerts["items"])

        assert _ids(page) == _order(accounts, "health")
        page.click("#accounts th[data-key=move_pct]")
        assert _ids(page) == _order(accounts, "move_pct")
        page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

        page.fill("#wallet", wallet)
        page.click("#whatif-form button")
        rows = page.locator("#whatif table tbody tr")
        expect(rows).to_have_count(sum(len(v["positions"]) for v in whatif["venues"]))
        assert page.locator("#whatif td.first").count() >= 1
        page.locator("#whatif-section").screenshot(path=str(artifacts / "whatif.png"))
        browser.close()
    assert (artifacts / "dashboard.png").stat().st_size > 0
