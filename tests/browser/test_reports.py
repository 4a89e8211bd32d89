"""The reports page in headless Chromium: figures per interval as a table and a chart, the CSV
download (fetched with the token), complaint rates by model and region, names shown as text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import sentinel

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from callcenter.calls.repository import SqlCallRepository
from callcenter.calls.service import CallLedgerService
from callcenter.clock import FixedClock
from callcenter.customers.model import CustomerDraft, Product
from callcenter.customers.repository import SqlCustomerRepository
from callcenter.customers.service import CustomerService
from callcenter.stats.kpi import KpiSettings
from callcenter.stats.model import QueueCall, QueueOutcome
from callcenter.stats.repository import SqlStatsRepository
from callcenter.stats.service import StatsService
from callcenter.stats.settings import StatsSettings
from callcenter.storage.db import Database
from callcenter.web.app import build_web_app

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN = "p" * 24
HOSTILE = "<script>alert(1)</script>"
HOSTILE_REGION = "<img src=x onerror=alert(2)>"
NO_VALUE = "\u2013"  # the dash shown for a value that does not apply
PERIOD = "start=2026-01-05&end=2026-01-05"


async def fill(database: Database, clock: FixedClock) -> None:
    """09:00 two calls into repair (one answered within 20 s), 10:00 a call into the hostile
    queue, 11:00 two complaints: one from a customer owning model X1 in the hostile region,
    one from an unknown number."""
    log, calls = SqlStatsRepository(database), SqlCallRepository(database)
    customers = CustomerService(SqlCustomerRepository(database), clock)
    await customers.save(
        CustomerDraft(
            "A1", "Ann", phones=("13800000001",), region=HOSTILE_REGION, products=(Product("X1"),)
        )
    )
    await customers.save(
        CustomerDraft("A2", "Bo", phones=("13900000002",), region="Zhejiang", products=())
    )
    hour = timedelta(hours=1)
    await log.append(
        [
            QueueCall("r1", "repair", T0, QueueOutcome.ANSWERED, 8.0, T0, "agent1", 60.0),
            QueueCall("r2", "repair", T0, QueueOutcome.ABANDONED, 40.0),
            QueueCall("h1", HOSTILE, T0 + hour, QueueOutcome.TIMEOUT, 90.0),
            QueueCall("k1", "complaints", T0 + 2 * hour, QueueOutcome.ABANDONED, 5.0),
            QueueCall("k2", "complaints", T0 + 2 * hour, QueueOutcome.EXIT_KEY, 9.0),
        ]
    )
    await calls.open_call("k1", T0 + 2 * hour, "13800000001", "", "hotline", "4000")
    await calls.open_call("k2", T0 + 2 * hour, "5550100", "", "hotline", "4000")


@pytest.fixture
async def reports(database: Database) -> AsyncIterator[str]:
    clock = FixedClock(T0)
    await fill(database, clock)
    log = SqlStatsRepository(database)
    stats = StatsService(
        log, clock, StatsSettings(), KpiSettings(), lambda now: {"queues": {}, "waiting": 0}
    )
    app = build_web_app(
        [TOKEN],
        CallLedgerService(SqlCallRepository(database), clock),
        sentinel.acd,
        sentinel.callbacks,
        CustomerService(SqlCustomerRepository(database), clock),
        sentinel.scripts,
        [],
        stats=(stats, log),
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/reports"))
    finally:
        await server.close()


async def opened(browser: Browser, url: str, dialogs: list[str]) -> Page:
    page = await browser.new_page(accept_downloads=True)
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(url)
    await expect(page.locator("#status")).to_contain_text("updated", timeout=5000)
    return page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_page_shows_figures_a_chart_and_complaint_rates(
    browser: Browser, reports: str
) -> None:
    dialogs: list[str] = []
    page = await opened(browser, f"{reports}#token={TOKEN}&{PERIOD}&granularity=hour", dialogs)
    rows = page.locator("#figures tbody tr")
    await expect(rows).to_have_count(24)  # one per hour of the day
    nine = rows.nth(9).locator("td")
    await expect(nine.nth(0)).to_have_text("2026-01-05 09:00")
    await expect(nine.nth(1)).to_have_text("2")  # offered
    await expect(nine.nth(2)).to_have_text("1")  # answered
    await expect(nine.nth(5)).to_have_text("50.0%")  # service level: 1 of 2
    heading = page.locator('#figures th[data-figure="asa"]')
    assert "total queue wait" in (await heading.get_attribute("title") or "")
    await expect(page.locator("#chart rect.offered")).to_have_count(24)
    assert await page.locator("#chart rect.offered").nth(9).get_attribute("height") not in (
        None,
        "0",
    )
    await expect(page.locator("#chart polyline.service-level")).to_have_count(1)
    model = page.locator('#by-model tbody tr[data-key="X1"] td')
    await expect(model).to_have_text(["X1", "1", "1", "100.00"])
    region = page.locator("#by-region tbody tr").first.locator("td")
    await expect(region).to_have_text([HOSTILE_REGION, "1", "1", "100.00"])  # text, never HTML
    await expect(page.locator("#by-model tbody tr.unknown td")).to_have_text(
        ["unknown", "1", NO_VALUE, NO_VALUE]  # k2: the caller is no customer
    )
    await expect(page.locator("#complaint-summary")).to_contain_text("2 complaint call(s)")
    assert dialogs == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_queue_name_is_text_and_the_csv_downloads(browser: Browser, reports: str) -> None:
    dialogs: list[str] = []
    url = f"{reports}#token={TOKEN}&{PERIOD}&granularity=day&scope=queue"
    page = await opened(browser, url, dialogs)
    hostile = page.locator("#figures tbody tr").filter(has_text=HOSTILE)
    await expect(hostile.locator("td").nth(1)).to_have_text(HOSTILE)
    assert await page.locator("#figures script, #figures img").count() == 0
    async with page.expect_download() as info:
        await page.click("#csv")
    download = await info.value
    assert download.suggested_filename == "report-queue-day-2026-01-05.csv"
    text = Path(await download.path()).read_bytes().decode()
    assert text.startswith("bucket_start,bucket_end,queue,offered,")
    assert f"\r\n2026-01-05T00:00:00+00:00,2026-01-06T00:00:00+00:00,{HOSTILE},1," in text
    async with page.expect_download() as info:
        await page.click("#complaints-csv")
    complaints = Path(await (await info.value).path()).read_bytes().decode()
    assert complaints.startswith("table,model,region,complaints,customers,rate_per_100")
    assert dialogs == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_without_a_token_the_page_asks_for_one(browser: Browser, reports: str) -> None:
    page = await browser.new_page()
    await page.goto(f"{reports}#{PERIOD}")
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#token", "wrong-token-0123456789")
    await page.click("#login button")
    await expect(page.locator("#status")).to_have_text("The token was refused.")
    await page.fill("#token", TOKEN)
    await page.click("#login button")
    await expect(page.locator("#figures tbody tr")).to_have_count(24)
