"""Live statistics over storage: the event log on both backends, figures that survive a
restart, pushes within 200 ms of a change, and the websocket feed (auth, origin, slow
clients)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from callcenter.acd.model import AgentState, AgentStateChanged, CallerOutcome
from callcenter.clock import FixedClock
from callcenter.stats.codec import decode, encode
from callcenter.stats.feed import Frame, apply_patch, without_nulls
from callcenter.stats.kpi import KpiSettings
from callcenter.stats.model import AgentInterval, QueueCall, QueueOutcome
from callcenter.stats.repository import SqlStatsRepository
from callcenter.stats.service import StatsService
from callcenter.stats.settings import StatsSettings
from callcenter.storage.db import Database
from callcenter.web.app import build_web_app
from callcenter.web.websockets import FeedClient

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN = "s" * 24


def no_live(now: datetime) -> dict[str, Any]:
    return {"queues": {}, "waiting": 0}


def service(database: Database, clock: FixedClock, **settings: Any) -> StatsService:
    return StatsService(
        SqlStatsRepository(database),
        clock,
        StatsSettings(**settings),
        KpiSettings(),
        no_live,
        retry=0.01,
    )


def a_day(stats: StatsService, clock: FixedClock) -> None:
    """agent1 ready, answers c1 after 10 s (talk 60 s, wrap-up 15 s); c2 abandons at 30 s."""
    stats.submit(AgentStateChanged("agent1", AgentState.READY, "", T0))
    clock.at = T0 + timedelta(seconds=10)
    stats.submit(CallerOutcome("c1", "repair", "answered", 10.0, "agent1", clock.at))
    stats.submit(AgentStateChanged("agent1", AgentState.TALKING, "", clock.at))
    clock.at = T0 + timedelta(seconds=30)
    stats.submit(CallerOutcome("c2", "repair", "abandoned", 30.0, None, clock.at))
    clock.at = T0 + timedelta(seconds=70)
    stats.submit(AgentStateChanged("agent1", AgentState.WRAP_UP, "", clock.at))
    clock.at = T0 + timedelta(seconds=85)
    stats.submit(AgentStateChanged("agent1", AgentState.READY, "", clock.at))


def test_records_survive_the_json_codec() -> None:
    call = QueueCall("c1", "q", T0, QueueOutcome.ANSWERED, 3.5, T0, "a1", 60, 5, 10, True, T0)
    interval = AgentInterval("a1", AgentState.PAUSED, T0, T0 + timedelta(1), "lunch")
    for record in (call, interval):
        assert decode(json.loads(json.dumps(encode(record)))) == record


async def test_todays_figures_are_the_same_after_a_restart(database: Database) -> None:
    clock = FixedClock(T0)
    stats = service(database, clock)
    writer = asyncio.create_task(stats.run())
    try:
        a_day(stats, clock)
        await asyncio.wait_for(stats.drained(), 5)
    finally:
        writer.cancel()
    before = stats.snapshot()
    overall = before["overall"]
    assert (overall["offered"], overall["answered"], overall["abandoned"]) == (2, 1, 1)
    assert overall["asa"] == 10.0 and overall["aht"] == 75.0
    restarted = service(database, clock)
    assert await restarted.load_today() > 0
    after = restarted.snapshot()
    assert after["overall"] == before["overall"]
    assert after["queues"] == before["queues"]


async def test_a_change_is_pushed_within_200_ms(database: Database) -> None:
    clock = FixedClock(T0)
    stats = service(database, clock, push_interval=60, change_delay=0.05)
    frames: list[tuple[float, Frame]] = []
    stats.subscribe(lambda frame: frames.append((time.monotonic(), frame)))
    changed = time.monotonic()
    stats.submit(CallerOutcome("c9", "repair", "abandoned", 3.0, None, T0))
    await asyncio.sleep(0.25)
    (_, first), (pushed_at, pushed) = frames
    state = json.loads(first.snapshot_text())["data"]
    assert pushed.patch_text is not None
    patch = json.loads(pushed.patch_text)
    assert patch["seq"] == 2 and patch["data"]["overall"]["abandoned"] == 1
    assert apply_patch(state, patch["data"]) == json.loads(pushed.snapshot_text())["data"]
    assert pushed_at - changed < 0.2


@pytest.fixture
async def server(database: Database) -> AsyncIterator[tuple[TestServer, StatsService]]:
    stats = service(database, FixedClock(T0), push_interval=0.05)
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        sentinel.acd,
        sentinel.callbacks,
        sentinel.customers,
        sentinel.scripts,
        [],
        stats=(stats, SqlStatsRepository(database)),
        ws_origins=["https://wallboard.example"],
    )
    running = TestServer(app)
    await running.start_server()
    ticker = asyncio.create_task(stats.run())
    try:
        yield running, stats
    finally:
        ticker.cancel()
        await running.close()


async def test_the_feed_is_authenticated_origin_checked_and_pushes(
    server: tuple[TestServer, StatsService],
) -> None:
    running, stats = server
    url = str(running.make_url("/api/v1/stats/feed"))
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(url)
        assert refused.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
            await client.ws_connect(
                url + f"?access_token={TOKEN}", headers={"Origin": "https://evil.example"}
            )
        assert foreign.value.status == 403
        async with client.ws_connect(
            url + f"?access_token={TOKEN}", headers={"Origin": "https://wallboard.example"}
        ) as ws:
            first = json.loads((await ws.receive(timeout=2)).data)
            assert first["type"] == "snapshot" and first["data"]["overall"]["offered"] == 0
            state, seq = first["data"], first["seq"]
            stats.submit(CallerOutcome("c1", "repair", "timeout", 60.0, None, T0))
            for _ in range(20):
                frame = json.loads((await ws.receive(timeout=2)).data)
                assert (frame["type"], frame["seq"]) == ("patch", seq + 1)
                state, seq = apply_patch(state, frame["data"]), frame["seq"]
                if state["overall"]["offered"] == 1:
                    break
            assert state["overall"]["timeout"] == 1
            expected = without_nulls(stats.snapshot())
            assert state == expected | {"at": state["at"], "live": state["live"]}


class SlowTransport(asyncio.WriteTransport):
    """A client's transport: ``backlog`` bytes not yet taken by the peer."""

    def __init__(self) -> None:
        super().__init__()
        self.backlog = 0
        self.written: list[bytes] = []
        self.aborted = False

    def get_write_buffer_size(self) -> int:
        return self.backlog

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


class OpenSocket:
    closed = False


def frames_of(transport: SlowTransport) -> list[tuple[str, int]]:
    """(type, seq) of each websocket text frame written (short frames: 2-byte header)."""
    out = []
    for data in transport.written:
        payload = data[4:] if data[1] == 126 else data[2:]
        frame = json.loads(payload)
        out.append((frame["type"], frame["seq"]))
    return out


def test_a_slow_client_is_skipped_then_gets_the_whole_state_and_a_stalled_one_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow, lively = SlowTransport(), SlowTransport()
    clients = [FeedClient(OpenSocket(), t, limit=1000, stall_timeout=5) for t in (slow, lively)]  # type: ignore[arg-type]
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    for seq in range(1, 6):
        if seq == 2:
            slow.backlog = 5000  # the peer stops reading
        if seq == 4:
            slow.backlog = 0  # and catches up
        frame = Frame(seq, {"n": seq}, {"n": seq} if seq > 1 else None)
        for client in clients:
            client.offer(frame)
    assert frames_of(lively) == [("snapshot", 1), *[("patch", n) for n in range(2, 6)]]
    assert frames_of(slow) == [("snapshot", 1), ("snapshot", 4), ("patch", 5)]
    assert clients[0].dropped == 2
    slow.backlog = 5000
    for _ in range(3):
        clients[0].offer(Frame(9, {}, {}))
        now[0] += 3
    assert slow.aborted  # stalled beyond 5 s: disconnected


async def test_reports_erlang_and_metrics(database: Database) -> None:
    clock = FixedClock(T0)
    stats = service(database, clock)
    writer = asyncio.create_task(stats.run())
    try:
        a_day(stats, clock)
        await asyncio.wait_for(stats.drained(), 5)
    finally:
        writer.cancel()
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
    running = TestServer(app)
    await running.start_server()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as client:
            query = "start=2026-01-05T00:00:00%2B00:00&end=2026-01-06T00:00:00%2B00:00"
            async with client.get(running.make_url(f"/api/v1/reports?{query}&scope=queue")) as r:
                body = await r.json()
            (row,) = [row for row in body["rows"] if row["figures"]["offered"]]
            assert (row["key"], row["start"][:13], row["figures"]["answered"]) == (
                "repair",
                "2026-01-05T09",
                1,
            )
            async with client.get(running.make_url(f"/api/v1/reports?{query}&format=csv")) as r:
                assert r.content_type == "text/csv"
                assert (await r.text()).startswith("bucket_start,bucket_end,")
            erlang = "calls=100&period=1800&aht=180&threshold=20&target=0.8"
            async with client.get(running.make_url(f"/api/v1/forecast/erlang?{erlang}")) as r:
                staffing = await r.json()
            assert staffing["agents"] == 14 and round(staffing["wait_probability"], 6) == 0.174132
            async with client.get(running.make_url("/api/v1/forecast/erlang?calls=x")) as r:
                assert r.status == 400
            async with client.get(running.make_url("/metrics")) as r:
                text = await r.text()
            assert 'callcenter_today_offered{queue="repair"} 2' in text
            assert "# TYPE callcenter_today_offered gauge" in text
    finally:
        await running.close()
