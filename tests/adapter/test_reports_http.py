"""Complaint rates over HTTP on both databases: the ledger and customer look-ups they need,
the endpoint (JSON and CSV, authenticated, clear errors), and the Erlang C sweep."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from callcenter.calls.repository import CLOSE_CHUNK, SqlCallRepository
from callcenter.calls.service import CallLedgerService
from callcenter.clock import FixedClock
from callcenter.customers.model import CustomerDraft, Product
from callcenter.customers.repository import LOOKUP_CHUNK, SqlCustomerRepository
from callcenter.customers.service import CustomerService
from callcenter.stats.kpi import KpiSettings
from callcenter.stats.model import QueueCall, QueueOutcome
from callcenter.stats.repository import SqlStatsRepository
from callcenter.stats.service import StatsService
from callcenter.stats.settings import StatsSettings
from callcenter.storage.db import Database
from callcenter.web.app import build_web_app

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOKEN = "r" * 24
DAY = "start=2026-03-02&end=2026-03-03"


def draft(account: str, region: str, models: tuple[str, ...], *phones: str) -> CustomerDraft:
    return CustomerDraft(
        account,
        f"name {account}",
        phones=phones,
        region=region,
        products=tuple(map(Product, models)),
    )


async def test_the_ledger_reads_many_calls_at_once(database: Database) -> None:
    repo = SqlCallRepository(database)
    count = CLOSE_CHUNK + 7  # more than one statement's worth
    for n in range(count):
        await repo.open_call(f"L{n}", T0, f"100{n}", "", "hotline", "4000")
    ledger = CallLedgerService(repo, FixedClock(T0))
    wanted = [f"L{n}" for n in range(count)] + ["L3", "missing"]
    found = await ledger.by_linkedids(wanted)
    assert sorted(r.linkedid for r in found) == sorted(f"L{n}" for n in range(count))
    assert {r.linkedid: r.caller_num for r in found}["L42"] == "10042"
    assert await ledger.by_linkedids([]) == []


async def test_customers_are_found_by_many_numbers_and_profiled(database: Database) -> None:
    service = CustomerService(SqlCustomerRepository(database), FixedClock(T0))
    await service.save(draft("A1", "Zhejiang", ("X1", "Y2"), "+86 138 0000 0001", "0571 1234"))
    await service.save(draft("A2", "", (), "139 0000 0002"))
    await service.save(draft("A3", "Jiangsu", ("X1",)))
    numbers = ["008613800000001", "05711234", "13900000002", "nobody", "555"]
    numbers += [f"1{n:07d}" for n in range(LOOKUP_CHUNK)]  # more than one statement's worth
    found = await service.by_phones(numbers)
    assert sorted(c.account for c in found) == ["A1", "A2"]  # A1 once, for two numbers
    assert sorted(await service.profiles()) == [
        ("", ()),
        ("Jiangsu", ("X1",)),
        ("Zhejiang", ("X1", "Y2")),
    ]


@pytest.fixture
async def server(database: Database) -> AsyncIterator[TestServer]:
    clock = FixedClock(T0)
    stats_log = SqlStatsRepository(database)
    stats = StatsService(
        stats_log,
        clock,
        StatsSettings(complaint_queues=["complaints", "vip-complaints"]),
        KpiSettings(),
        lambda now: {"queues": {}, "waiting": 0},
    )
    calls = SqlCallRepository(database)
    customers = CustomerService(SqlCustomerRepository(database), clock)
    await customers.save(draft("A1", "Zhejiang", ("X1", "Y2"), "+86 138 0000 0001"))
    await customers.save(draft("A2", "Zhejiang", ("X1",), "13900000002"))
    await customers.save(draft("A3", "Jiangsu", ("Y2",), "13700000003"))
    calls_made = [
        ("c1", "complaints", "008613800000001", QueueOutcome.ABANDONED),
        ("c2", "vip-complaints", "13900000002", QueueOutcome.TIMEOUT),
        ("c3", "repair", "13700000003", QueueOutcome.TIMEOUT),
        ("c4", "complaints", "555 0100", QueueOutcome.EXIT_KEY),
    ]
    for n, (call, queue, caller, outcome) in enumerate(calls_made):
        entered = T0 + timedelta(minutes=n)
        await calls.open_call(call, entered, caller, "", "hotline", "4000")
        await stats_log.append([QueueCall(call, queue, entered, outcome, 12.0)])
    app = build_web_app(
        [TOKEN],
        CallLedgerService(calls, clock),
        sentinel.acd,
        sentinel.callbacks,
        customers,
        sentinel.scripts,
        [],
        stats=(stats, stats_log),
    )
    running = TestServer(app)
    await running.start_server()
    try:
        yield running
    finally:
        await running.close()


async def get(server: TestServer, path: str, token: str | None = TOKEN) -> tuple[int, str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as client,
        client.get(server.make_url(path), headers=headers) as response,
    ):
        text = await response.text()
        body = await response.json() if response.content_type == "application/json" else text
        return response.status, response.content_type, body


async def test_complaint_rates_by_model_and_region(server: TestServer) -> None:
    status, _, body = await get(server, f"/api/v1/reports/complaints?{DAY}")
    assert status == 200
    assert (body["complaint_calls"], body["unknown_callers"]) == (3, 1)  # c1, c2; c4 unknown
    assert body["queues"] == ["complaints", "vip-complaints"]
    assert body["by_model"] == {
        "rows": [
            {"model": "X1", "complaints": 2, "customers": 2, "rate_per_100": 100.0},
            {"model": "Y2", "complaints": 1, "customers": 2, "rate_per_100": 50.0},
        ],
        "unknown": 1,
    }
    assert body["by_region"]["rows"] == [
        {"region": "Jiangsu", "complaints": 0, "customers": 1, "rate_per_100": 0.0},
        {"region": "Zhejiang", "complaints": 2, "customers": 2, "rate_per_100": 100.0},
    ]
    assert "per 100 customers" in body["definitions"]["rate_per_100"]
    assert "complaints, vip-complaints" in body["definitions"]["complaints"]


async def test_complaint_rates_as_csv(server: TestServer) -> None:
    status, content_type, text = await get(server, f"/api/v1/reports/complaints?{DAY}&format=csv")
    assert (status, content_type) == (200, "text/csv")
    table = list(csv.reader(io.StringIO(text)))
    assert ["region", "", "Zhejiang", "2", "2", "100.0"] in table
    assert ["model_region", "unknown", "unknown", "1", "", ""] in table


async def test_a_later_window_counts_nothing(server: TestServer) -> None:
    _, _, body = await get(server, "/api/v1/reports/complaints?start=2026-03-03&end=2026-03-04")
    assert body["complaint_calls"] == 0
    assert {r["model"]: r["rate_per_100"] for r in body["by_model"]["rows"]} == {
        "X1": 0.0,
        "Y2": 0.0,
    }


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("start=2026-03-02", 400),
        ("start=2026-03-03&end=2026-03-02", 400),
        ("start=yesterday&end=2026-03-02", 400),
        (f"{DAY}&timezone=Mars/Olympus", 400),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_bad_range_is_a_clear_400(server: TestServer, query: str, status: int) -> None:
    got, _, body = await get(server, f"/api/v1/reports/complaints?{query}")
    assert got == status and body["error"]["message"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_complaint_rates_need_a_token(server: TestServer) -> None:
    status, _, _ = await get(server, f"/api/v1/reports/complaints?{DAY}", token=None)
    assert status == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_erlang_sweeps_agents_around_the_answer(server: TestServer) -> None:
    query = "calls=100&period=1800&aht=180&threshold=20&target=0.8"
    _, _, plain = await get(server, f"/api/v1/forecast/erlang?{query}")
    assert plain["agents"] == 14 and "sweep" not in plain
    _, _, body = await get(server, f"/api/v1/forecast/erlang?{query}&sweep=5")
    sweep = {row["agents"]: row for row in body["sweep"]}
    assert sorted(sweep) == list(range(9, 20))
    assert sweep[14]["service_level"] == pytest.approx(0.88835, abs=5e-6)
    assert sweep[14]["asa_seconds"] == pytest.approx(7.836, abs=5e-4)
    assert sweep[13]["service_level"] < 0.8 <= sweep[14]["service_level"]
    assert sweep[10]["asa_seconds"] is None and sweep[10]["occupancy"] == 1.0  # N = A: unbounded
    assert [
        r["agents"]
        for r in (await get(server, "/api/v1/forecast/erlang?calls=1&aht=60&sweep=3"))[2]["sweep"]
    ] == [1, 2, 3, 4]
    status, _, error = await get(server, f"/api/v1/forecast/erlang?{query}&sweep=21")
    assert status == 400 and "sweep" in error["error"]["message"]
