"""The ledger service over an in-memory repository: ordering, outage and recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from callcenter.calls.model import Outcome
from callcenter.calls.service import CallLedgerService
from callcenter.clock import FixedClock
from callcenter.telephony import ChannelAnswered, ChannelCreated, ChannelHungUp
from tests.fakes.call_repository import MemoryCallRepository

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def test_outage_loses_nothing_and_writes_once_after_recovery() -> None:
    repo = MemoryCallRepository()
    service = CallLedgerService(repo, FixedClock(T0), retry_min=0.01, retry_max=0.02)
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
