"""Report buckets in a zone with DST (Europe/Berlin) and one without (Asia/Shanghai); CSV."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.acd.model import AgentState
from callcenter.stats.intervals import (
    Bucket,
    Granularity,
    buckets,
    floor,
    following,
    report,
    to_csv,
)
from callcenter.stats.kpi import CallTotals, KpiSettings, Scope, compute
from callcenter.stats.model import AgentInterval, QueueCall, QueueOutcome, Record, Window
from tests.unit.stats.logs import random_log, random_settings

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
G = Granularity


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local_day(day: datetime, tz: ZoneInfo) -> Window:
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return Window(start, following(start, G.DAY, tz))


def labels(spans: list[Bucket]) -> list[str]:
    return [b.start.isoformat() for b in spans]


def test_berlin_spring_forward_day_has_23_hours() -> None:
    # 2024-03-31: at 02:00 CET the clocks go to 03:00 CEST; the day is 23 hours long
    day = local_day(utc(2024, 3, 31), BERLIN)
    assert day.end - day.start == timedelta(hours=23)
    hours = buckets(day, G.HOUR, BERLIN)
    assert len(hours) == 23
    assert labels(hours)[:4] == [
        "2024-03-31T00:00:00+01:00",
        "2024-03-31T01:00:00+01:00",
        "2024-03-31T03:00:00+02:00",  # no 02:00 bucket: that hour never happened
        "2024-03-31T04:00:00+02:00",
    ]
    assert all(b.end - b.start == timedelta(hours=1) for b in [h.window for h in hours])
    assert len(buckets(day, G.QUARTER_HOUR, BERLIN)) == 23 * 4


def test_berlin_fall_back_day_has_25_hours_and_two_two_oclocks() -> None:
    # 2024-10-27: at 03:00 CEST the clocks go back to 02:00 CET; 02:00-03:00 happens twice
    day = local_day(utc(2024, 10, 27), BERLIN)
    assert day.end - day.start == timedelta(hours=25)
    hours = buckets(day, G.HOUR, BERLIN)
    assert len(hours) == 25
    assert labels(hours)[1:5] == [
        "2024-10-27T01:00:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:00:00+01:00",  # the repeated hour, its own bucket
        "2024-10-27T03:00:00+01:00",
    ]
    quarters = buckets(day, G.QUARTER_HOUR, BERLIN)
    assert len(quarters) == 100
    assert labels(quarters)[11:14] == [
        "2024-10-27T02:45:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T02:15:00+01:00",
    ]


def test_floor_tells_the_repeated_hour_apart() -> None:
    first = floor(utc(2024, 10, 27, 0, 30), G.HOUR, BERLIN)  # 02:30 CEST
    second = floor(utc(2024, 10, 27, 1, 30), G.HOUR, BERLIN)  # 02:30 CET
    assert first.isoformat() == "2024-10-27T02:00:00+02:00"
    assert second.isoformat() == "2024-10-27T02:00:00+01:00"
    assert floor(utc(2024, 10, 27, 1, 50), G.QUARTER_HOUR, BERLIN).isoformat() == (
        "2024-10-27T02:45:00+01:00"
    )
    assert floor(utc(2024, 10, 27, 1, 30), G.DAY, BERLIN).isoformat() == "2024-10-27T00:00:00+02:00"


def test_berlin_month_of_march_is_one_hour_short() -> None:
    month = buckets(Window(utc(2024, 3, 10), utc(2024, 3, 11)), G.MONTH, BERLIN)
    assert labels(month) == ["2024-03-01T00:00:00+01:00"]
    assert month[0].end.isoformat() == "2024-04-01T00:00:00+02:00"
    assert month[0].window.end - month[0].window.start == timedelta(days=31, hours=-1)


def test_calls_in_the_repeated_hour_land_in_their_own_bucket() -> None:
    day = local_day(utc(2024, 10, 27), BERLIN)
    log: list[Record] = [
        QueueCall("early", "q", utc(2024, 10, 27, 0, 10), QueueOutcome.ABANDONED, 30),  # 02:10+02
        QueueCall("late", "q", utc(2024, 10, 27, 1, 10), QueueOutcome.TIMEOUT, 30),  # 02:10+01
        QueueCall("late2", "q", utc(2024, 10, 27, 1, 20), QueueOutcome.TIMEOUT, 30),
        # an agent ready 02:30 CEST to 02:30 CET: 30 minutes in each of the two 02:00 buckets
        AgentInterval("a", AgentState.READY, utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30)),
    ]
    rows = report(log, day, G.HOUR, BERLIN, KpiSettings())
    by_label = {r.bucket.start.isoformat(): r.report for r in rows}
    cest, cet = by_label["2024-10-27T02:00:00+02:00"], by_label["2024-10-27T02:00:00+01:00"]
    assert (cest.overall.calls.abandoned, cest.overall.calls.timeout) == (1, 0)
    assert (cet.overall.calls.abandoned, cet.overall.calls.timeout) == (0, 2)
    half_hour_us = 1800 * 1_000_000
    assert cest.agents["a"].state_us[AgentState.READY] == half_hour_us
    assert cet.agents["a"].state_us[AgentState.READY] == half_hour_us
    assert sum(r.report.overall.calls.offered for r in rows) == 3


def test_shanghai_has_no_dst_and_its_day_starts_at_16_utc() -> None:
    # 2024-03-04T16:30Z is 00:30 on the 5th in Shanghai (UTC+8 all year)
    assert floor(utc(2024, 3, 4, 16, 30), G.DAY, SHANGHAI).isoformat() == (
        "2024-03-05T00:00:00+08:00"
    )
    day = local_day(utc(2024, 3, 5), SHANGHAI)
    assert (day.start, day.end) == (utc(2024, 3, 4, 16), utc(2024, 3, 5, 16))
    assert len(buckets(day, G.HOUR, SHANGHAI)) == 24
    assert len(buckets(day, G.QUARTER_HOUR, SHANGHAI)) == 96
    february = buckets(Window(utc(2024, 2, 10), utc(2024, 2, 11)), G.MONTH, SHANGHAI)[0]
    assert (february.window.start, february.window.end) == (
        utc(2024, 1, 31, 16),
        utc(2024, 2, 29, 16),
    )
    december = buckets(Window(utc(2024, 12, 10), utc(2024, 12, 11)), G.MONTH, SHANGHAI)[0]
    assert december.end.isoformat() == "2025-01-01T00:00:00+08:00"
    log: list[Record] = [
        QueueCall("x", "q", utc(2024, 3, 4, 15, 59), QueueOutcome.TIMEOUT, 1),  # 23:59 on the 4th
        QueueCall("y", "q", utc(2024, 3, 4, 16, 0), QueueOutcome.TIMEOUT, 1),  # 00:00 on the 5th
    ]
    rows = report(
        log, Window(utc(2024, 3, 3, 16), utc(2024, 3, 5, 16)), G.DAY, SHANGHAI, KpiSettings()
    )
    assert [(labels([r.bucket])[0], r.report.overall.calls.offered) for r in rows] == [
        ("2024-03-04T00:00:00+08:00", 1),
        ("2024-03-05T00:00:00+08:00", 1),
    ]


@pytest.mark.parametrize("tz", [BERLIN, SHANGHAI])
@pytest.mark.parametrize("granularity", list(Granularity))
def test_buckets_tile_time_without_gaps(tz: ZoneInfo, granularity: Granularity) -> None:
    window = (
        Window(utc(2024, 1, 1), utc(2025, 1, 1))
        if granularity in (G.DAY, G.MONTH)
        else (Window(utc(2024, 10, 26), utc(2024, 10, 29)))
    )
    spans = buckets(window, granularity, tz)
    assert spans[0].window.start <= window.start and spans[-1].window.end >= window.end
    for a, b in itertools.pairwise(spans):
        assert a.window.end == b.window.start
        # compared as text: datetimes of one zone compare by wall time, blind to the offset
        assert floor(b.window.start, granularity, tz).isoformat() == b.start.isoformat()


@pytest.mark.parametrize("seed", range(10))
def test_bucket_reports_equal_the_batch_and_add_up(seed: int) -> None:
    rng = random.Random(seed)
    settings = random_settings(rng)
    log = random_log(rng, 300)
    whole = Window(utc(2024, 5, 5, 22), utc(2024, 5, 6, 22))  # the Berlin day of 2024-05-06
    rows = report(log, whole, G.HOUR, BERLIN, settings)
    assert len(rows) == 24
    total = CallTotals()
    for row in rows:
        assert row.report == compute(log, row.bucket.window, settings)
        total = total + row.report.overall.calls
    assert total == compute(log, whole, settings).overall.calls


def test_csv_per_queue_and_per_agent() -> None:
    hour = Window(utc(2024, 3, 4, 9), utc(2024, 3, 4, 10))  # 10:00-11:00 in Berlin
    t0 = hour.start
    log: list[Record] = [
        QueueCall(
            "c1",
            "sales",
            t0 + timedelta(minutes=5),
            QueueOutcome.ANSWERED,
            12,
            answered_at=t0 + timedelta(minutes=5, seconds=12),
            agent="a1",
            talk=100,
            wrap_up=20,
            handled_at=t0 + timedelta(minutes=7, seconds=12),
        ),
        QueueCall("c2", "sales", t0 + timedelta(minutes=40), QueueOutcome.ABANDONED, 30),
        QueueCall("c3", "support", t0 + timedelta(minutes=50), QueueOutcome.EXIT_KEY, 8),
        AgentInterval("a1", AgentState.READY, t0, t0 + timedelta(minutes=5, seconds=12)),
        AgentInterval(
            "a1",
            AgentState.TALKING,
            t0 + timedelta(minutes=5, seconds=12),
            t0 + timedelta(minutes=6, seconds=52),
        ),
        AgentInterval(
            "a1",
            AgentState.WRAP_UP,
            t0 + timedelta(minutes=6, seconds=52),
            t0 + timedelta(minutes=7, seconds=12),
        ),
        AgentInterval(
            "a1",
            AgentState.PAUSED,
            t0 + timedelta(minutes=7, seconds=12),
            t0 + timedelta(minutes=60),
            "lunch",
        ),
    ]
    rows = report(log, hour, G.HOUR, BERLIN, KpiSettings())
    queues = to_csv(
        rows, Scope.QUEUE, KpiSettings(), ["offered", "answered", "service_level", "asa"]
    )
    assert queues == (
        "bucket_start,bucket_end,queue,offered,answered,service_level,asa\r\n"
        "2024-03-04T10:00:00+01:00,2024-03-04T11:00:00+01:00,sales,2,1,0.5,12.0\r\n"
        "2024-03-04T10:00:00+01:00,2024-03-04T11:00:00+01:00,support,1,0,0.0,\r\n"
    )
    agents = to_csv(
        rows,
        Scope.AGENT,
        KpiSettings(),
        ["handled", "aht", "occupancy", "paused_seconds_by_reason"],
    )
    # a1: ready 312 s, talking 100 s, wrap-up 20 s: occupancy 120 / 432; paused 52 min 48 s
    assert agents == (
        "bucket_start,bucket_end,agent,handled,aht,occupancy,paused_seconds_by_reason[lunch]\r\n"
        "2024-03-04T10:00:00+01:00,2024-03-04T11:00:00+01:00,a1,1,120.0,0.277778,3168.0\r\n"
    )
    overall = to_csv(rows, Scope.OVERALL, KpiSettings())
    header = overall.splitlines()[0].split(",")
    assert header[:4] == ["bucket_start", "bucket_end", "offered", "answered"]
    assert "queue" not in header and "ivr_self_service_rate" in header
    assert len(overall.splitlines()) == 2


def test_csv_refuses_unknown_figures() -> None:
    with pytest.raises(ValueError, match="no such agent figure: offered"):
        to_csv([], Scope.AGENT, KpiSettings(), ["offered"])
