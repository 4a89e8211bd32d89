"""The wallboard in headless Chromium: it shows today's figures with their definitions,
updates live from the websocket, renders names as text, and asks for a token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from unittest.mock import sentinel

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from callcenter.acd.model import AgentState, CallerOutcome
from callcenter.clock import FixedClock
from callcenter.stats.kpi import KpiSettings
from callcenter.stats.repository import SqlStatsRepository
from callcenter.stats.service import StatsService
from callcenter.stats.settings import StatsSettings
from callcenter.storage.db import Database
from callcenter.web.app import build_web_app

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN = "w" * 24
HOSTILE = "<img src=x onerror=alert(1)>"


def live_state(now: datetime) -> dict[str, Any]:
    states = {s.value: 0 for s in AgentState} | {"ready": 3, "talking": 2, "paused": 1}
    return {
        "queues": {
            "repair": {
                "waiting": 4,
                "longest_wait": 75.0,
                "estimated_wait": 30.0,
                "agents_by_state": states,
                "paused_by_reason": {"lunch": 1},
            },
            HOSTILE: {"waiting": 0, "longest_wait": 0.0, "agents_by_state": {}},
        },
        "waiting": 4,
        "longest_wait": 75.0,
        "agents_by_state": states,
        "paused_by_reason": {"lunch": 1},
    }


@pytest.fixture
async def wallboard(database: Database) -> AsyncIterator[tuple[str, StatsService]]:
    stats = StatsService(
        SqlStatsRepository(database),
        FixedClock(T0),
        StatsSettings(push_interval=0.2),
        KpiSettings(),
        live_state,
    )
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        sentinel.acd,
        sentinel.callbacks,
        sentinel.customers,
        sentinel.scripts,
        [],
        stats=(stats, SqlStatsRepository(database)),
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    runner = asyncio.create_task(stats.run())
    try:
        yield str(server.make_url("/wallboard")), stats
    finally:
        runner.cancel()
        await server.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_wallboard_shows_live_figures_with_definitions(
    browser: Browser, wallboard: tuple[str, StatsService]
) -> None:
    url, stats = wallboard
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{url}#token={TOKEN}")
    await expect(page.locator("#status")).to_have_text("live")
    await expect(page.locator("#tile-waiting .value")).to_have_text("4")
    await expect(page.locator("#tile-longest_wait .value")).to_have_text("1:15")
    await expect(page.locator("#tile-paused .value")).to_have_text("1 (lunch 1)")
    definition = await page.locator("#tile-asa .definition").text_content()
    assert definition is not None and "total queue wait of answered calls" in definition
    stats.submit(CallerOutcome("c1", "repair", "abandoned", 12.0, None, T0))
    await expect(page.locator("#tile-offered .value")).to_have_text("1", timeout=2000)
    await expect(page.locator("#tile-abandonment_rate .value")).to_have_text("100.0%")
    row = page.locator("#queues tbody tr", has_text="repair")
    await expect(row.locator("td").nth(5)).to_have_text("1")
    hostile = page.locator(f'#queues tbody tr[data-queue="{HOSTILE}"] td').first
    await expect(hostile).to_have_text(HOSTILE)  # shown as text, never run
    assert dialogs == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_without_a_token_the_wallboard_asks_for_one(
    browser: Browser, wallboard: tuple[str, StatsService]
) -> None:
    url, _ = wallboard
    page = await browser.new_page()
    await page.goto(url)
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#token", "wrong-token-0123456789")
    await page.click("#login button")
    await expect(page.locator("#status")).to_have_text("The token was refused.")
    await page.fill("#token", TOKEN)
    await page.click("#login button")
    await expect(page.locator("#status")).to_have_text("live")
