"""The ledger service over an in-memory repository: ordering, outage and recovery."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from callcenter.calls.model import CallRecord, Outcome
from callcenter.calls.service import CallLedgerService, LedgerInput
from callcenter.clock import FixedClock
from callcenter.telephony import (
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    ChannelsSnapshot,
    LiveChannel,
)
from tests.fakes.call_repository import MemoryCallRepository

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def test_outage_loses_nothing_and_writes_once_after_recovery() -> None:
    repo = MemoryCallRepository()
    service = CallLedgerService(
        repo, FixedClock(T0), retry_min=0.01, retry_max=0.02, batch_window=0.01
    )
    task = asyncio.create_task(service.run())
    try:
        repo.down = True
        service.submit(ChannelCreated("1.1", "1.1", "PJSIP/a", "1", "", "c", "4000", T0))
        service.submit(ChannelAnswered("1.1", "1.1", T0))
        service.report_outcome("1.1", Outcome.COMPLETED_IN_IVR)
        service.report_path("1.1", ("greeting", "key:1"))
        service.submit(ChannelHungUp("1.1", "1.1", 16, "", T0))
        await asyncio.sleep(0.1)
        assert repo.rows == {} and service.backlog > 0 and service.stats.storage_failures > 0
        repo.down = False
        await asyncio.wait_for(service.drained(), 5)
        row = repo.rows["1.1"]
        assert row.outcome == "completed_in_ivr"
        assert row.path == ("greeting", "key:1")
        assert row.answered_at == T0 and row.ended_at == T0
        assert service.backlog == 0
    finally:
        task.cancel()


def call_events(linkedid: str, at: datetime = T0) -> list[LedgerInput]:
    return [
        ChannelCreated(linkedid, linkedid, "PJSIP/a", "1", "", "c", "4000", at),
        ChannelAnswered(linkedid, linkedid, at),
        ChannelHungUp(linkedid, linkedid, 16, "", at),
    ]


async def test_what_is_queued_is_written_as_one_batch_and_told_from_memory() -> None:
    repo = MemoryCallRepository()
    service = CallLedgerService(repo, FixedClock(T0))
    told: list[CallRecord] = []
    service.on_closed(told.append)
    for n in range(50):
        for event in call_events(f"1.{n}"):
            service.submit(event)
    service.report_path("1.0", ("greeting",))  # after its hang-up: the call is gone
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.drained(), 5)
    finally:
        task.cancel()
    assert repo.batches == 1 and repo.reads == 0
    assert [r.linkedid for r in told] == [f"1.{n}" for n in range(50)]
    stored = repo.rows["1.7"]
    assert dataclasses.replace(told[7], id=stored.id) == stored
    assert told[7].outcome == "completed" and told[7].answered_at == T0


async def test_a_call_first_seen_in_a_snapshot_is_read_back_when_it_closes() -> None:
    repo = MemoryCallRepository()
    await repo.open_call("1.1", T0 - timedelta(minutes=5), "1", "", "c", "4000")
    await repo.record_path("1.1", ("greeting", "enqueue:q1"))  # before a restart
    live = LiveChannel("1.1", "1.1", "PJSIP/a", "1", "", "c", "4000", True, T0)
    service = CallLedgerService(repo, FixedClock(T0))
    told: list[CallRecord] = []
    service.on_closed(told.append)
    service.submit(ChannelsSnapshot((live,), T0))
    service.submit(ChannelHungUp("1.1", "1.1", 16, "", T0))
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.drained(), 5)
    finally:
        task.cancel()
    (record,) = told
    assert record.path == ("greeting", "enqueue:q1") and record.ended_at == T0
    assert record.started_at == T0 - timedelta(minutes=5)


async def test_calls_closed_as_lost_are_told_once_after_an_outage() -> None:
    repo = MemoryCallRepository()
    await repo.open_call("1.1", T0, "1", "", "c", "4000")
    service = CallLedgerService(repo, FixedClock(T0), retry_min=0.01, retry_max=0.02)
    told: list[CallRecord] = []
    service.on_closed(told.append)
    repo.down = True
    service.submit(ChannelsSnapshot((), T0))
    for event in call_events("2.1"):
        service.submit(event)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.sleep(0.1)
        assert told == [] and service.backlog > 0
        repo.down = False
        await asyncio.wait_for(service.drained(), 5)
    finally:
        task.cancel()
    assert sorted((r.linkedid, r.outcome) for r in told) == [
        ("1.1", "lost"),
        ("2.1", "completed"),
    ]
    assert service.stats.lost_closed == 1


async def test_a_live_calls_path_is_known_without_reading_storage() -> None:
    repo = MemoryCallRepository()
    await repo.open_call("9.9", T0, "1", "", "c", "4000")
    await repo.record_path("9.9", ("greeting", "enqueue:q1"))  # stored before a restart
    service = CallLedgerService(repo, FixedClock(T0), batch_window=0.01)
    service.submit(ChannelCreated("1.1", "1.1", "PJSIP/a", "1", "", "c", "4000", T0))
    assert await service.path_of("1.1") is None  # known at once, not written yet: no row
    task = asyncio.create_task(service.run())
    try:
        service.report_path("1.1", ("greeting", "key:1"))
        await asyncio.wait_for(service.drained(), 5)
        assert repo.reads == 0
        assert await service.path_of("1.1") == ("greeting", "key:1")
        assert repo.reads == 0
        assert await service.path_of("9.9") == ("greeting", "enqueue:q1")  # from storage
    finally:
        task.cancel()
