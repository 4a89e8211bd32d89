"""Callback tasks on both backends: idempotent requests, the status table, storage outages."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from callcenter.callbacks.model import (
    CallbackRequest,
    IllegalTaskTransition,
    TaskAction,
    TaskStatus,
)
from callcenter.callbacks.repository import CallbackNotFound, SqlCallbackRepository
from callcenter.callbacks.service import CallbackService
from callcenter.clock import FixedClock
from callcenter.errors import StorageUnavailable
from callcenter.storage.db import Database

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REQUEST = CallbackRequest(
    key="1700000000.1:overflow",
    number="+8613800000000",
    name="王先生",
    call="1700000000.1",
    queue="repair",
    source="overflow:max_wait",
    note="",
    requested_at=T0,
)


async def test_a_request_added_twice_is_one_open_task(database: Database) -> None:
    repo = SqlCallbackRepository(database)
    await repo.add(REQUEST)
    await repo.add(replace(REQUEST, note="a retry"))
    (task,) = await repo.recent(None, 10)
    assert (task.status, task.request) == (TaskStatus.OPEN, REQUEST)
    assert await repo.by_key(REQUEST.key) == task == await repo.get(task.id)


async def test_a_task_is_completed_once_and_then_refused(database: Database) -> None:
    repo = SqlCallbackRepository(database)
    await repo.add(REQUEST)
    await repo.add(replace(REQUEST, key="other", number="\x00'; DROP TABLE x; --"))
    first = (await repo.recent(TaskStatus.OPEN, 10))[-1]
    done = await repo.act(first.id, TaskAction.COMPLETE, "agent1001", "called back", T0)
    assert (done.status, done.done_by, done.outcome_note, done.done_at) == (
        TaskStatus.DONE,
        "agent1001",
        "called back",
        T0,
    )
    with pytest.raises(IllegalTaskTransition):
        await repo.act(first.id, TaskAction.CANCEL, "agent1002", "", T0)
    assert [t.request.number for t in await repo.recent(TaskStatus.OPEN, 10)] == [
        "'; DROP TABLE x; --"
    ]
    with pytest.raises(CallbackNotFound):
        await repo.get(9999)


class FlakyRepository(SqlCallbackRepository):
    def __init__(self, db: Database, failures: int) -> None:
        super().__init__(db)
        self.failures = failures

    async def add(self, request: CallbackRequest) -> bool:
        if self.failures:
            self.failures -= 1
            raise StorageUnavailable("database down (test)")
        return await super().add(request)


async def test_a_request_made_while_storage_is_down_is_stored_once_it_is_back(
    database: Database,
) -> None:
    repo = FlakyRepository(database, failures=3)
    service = CallbackService(repo, FixedClock(T0), retry=0.01)
    runner = asyncio.create_task(service.run())
    try:
        service.request(REQUEST)
        service.request(REQUEST)
        await asyncio.wait_for(service.drained(), 5)
    finally:
        runner.cancel()
    assert repo.failures == 0
    assert [t.request.key for t in await repo.recent(None, 10)] == [REQUEST.key]
