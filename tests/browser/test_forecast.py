"""The staffing page in headless Chromium: the KPI.md reference point gives 14 agents, the sweep
table around the answer, shrinkage, and a clear message for a bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from unittest.mock import sentinel

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from callcenter.web.app import build_web_app

TOKEN = "f" * 24


@pytest.fixture
async def forecast() -> AsyncIterator[str]:
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        sentinel.acd,
        sentinel.callbacks,
        sentinel.customers,
        sentinel.scripts,
        [],
        stats=(sentinel.stats, sentinel.stats_log),
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/forecast"))
    finally:
        await server.close()


async def test_the_reference_point_needs_14_agents(browser: Browser, forecast: str) -> None:
    page = await browser.new_page()
    # KPI.md: 100 calls per 30 min, AHT 180 s, T = 20 s, target 80 %.
    await page.goto(f"{forecast}#token={TOKEN}&calls=100&period=1800&aht=180&threshold=20")
    await expect(page.locator("#agents")).to_have_text("14")
    await expect(page.locator("#positions")).to_have_text("14")
    await expect(page.locator("#pw")).to_have_text("17.4%")
    await expect(page.locator("#sl")).to_have_text("88.8%")
    await expect(page.locator("#asa")).to_have_text("7.8 s")
    await expect(page.locator("#occupancy")).to_have_text("71.4%")
    rows = page.locator("#sweep tbody tr")
    await expect(rows).to_have_count(11)  # 9 to 19 agents
    await expect(page.locator("#sweep tr.answer td").first).to_have_text("14")
    await expect(page.locator('#sweep tr[data-agents="13"]')).to_have_class("short")
    await expect(page.locator('#sweep tr[data-agents="10"] td').nth(3)).to_have_text("∞")
    await page.fill("#shrinkage", "0.3")
    await page.click("#compute")
    await expect(page.locator("#positions")).to_have_text("20")


async def test_a_bad_input_is_explained(browser: Browser, forecast: str) -> None:
    page = await browser.new_page()
    await page.goto(f"{forecast}#token={TOKEN}&target=1.5")
    await expect(page.locator("#status")).to_contain_text("target service level")
    await expect(page.locator("#agents")).to_have_text("\u2013")  # no value
