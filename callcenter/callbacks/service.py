"""Callback tasks: requests are written durably in the background, read and closed by agents.

:meth:`CallbackService.request` never blocks (it is called from the ACD's and the IVR's
paths): requests wait in an inbox and one writer stores them in order, retrying while storage
is down, so a request made during a database outage is stored once the database is back.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from callcenter.callbacks.model import CallbackRequest, CallbackTask, TaskAction, TaskStatus
from callcenter.callbacks.repository import SqlCallbackRepository
from callcenter.clock import Clock
from callcenter.errors import StorageUnavailable

log = logging.getLogger(__name__)


class CallbackService:
    def __init__(self, repository: SqlCallbackRepository, clock: Clock, retry: float = 1.0) -> None:
        self._repository = repository
        self._clock = clock
        self._retry = retry
        self._inbox: asyncio.Queue[CallbackRequest] = asyncio.Queue()

    @property
    def backlog(self) -> int:
        return self._inbox.qsize()

    def request(self, request: CallbackRequest) -> None:
        """Queue a request for storage (idempotent by its key); never blocks."""
        self._inbox.put_nowait(request)

    async def drained(self) -> None:
        await self._inbox.join()

    async def run(self) -> None:
        while True:
            request = await self._inbox.get()
            try:
                while True:
                    try:
                        await self._repository.add(request)
                        log.info("callback requested: %s (%s)", request.key, request.source)
                        break
                    except StorageUnavailable as exc:
                        log.warning("callbacks: storage unavailable (%s); retrying", exc)
                        await asyncio.sleep(self._retry)
            finally:
                self._inbox.task_done()

    async def book(self, request: CallbackRequest) -> CallbackTask:
        """Store a request now (an agent or the API booked it) and return its task."""
        await self._repository.add(request)
        return await self._repository.by_key(request.key)

    def now(self) -> datetime:
        return self._clock.now()

    async def get(self, task_id: int) -> CallbackTask:
        return await self._repository.get(task_id)

    async def recent(
        self, status: TaskStatus | None, limit: int, before_id: int | None = None
    ) -> list[CallbackTask]:
        return await self._repository.recent(status, limit, before_id)

    async def act(self, task_id: int, action: TaskAction, agent: str, note: str) -> CallbackTask:
        return await self._repository.act(task_id, action, agent, note, self._clock.now())
