"""Callback tasks as work items: stored durably, offered to the queue's agents, claimed,
dialled with one click, closed, and escalated when left unhandled.

:meth:`CallbackService.request` never blocks (it is called from the ACD's and the IVR's
paths): requests wait in an inbox and one writer stores them in order, retrying while storage
is down, so a request made during a database outage is stored once the database is back.

Every new task (from the inbox, or booked: the API, a voicemail message) is pushed to the
desks of the agents who serve its queue as a ``task`` message; a claim tells them
``task_status`` ``taken``, a release offers the task again, done or cancelled close it on their
desks. Each unhandled task has an escalation timer (:mod:`callcenter.callbacks.escalation`);
when it fires the task is marked escalated and every connected desk gets ``task_escalated``
(supervisors watch through the desk, too), with a warning in the log. At start-up one sweep
arms the timers of the tasks left unhandled, so overdue ones escalate at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, Protocol

from callcenter.callbacks.dialer import DialFailed
from callcenter.callbacks.dialing import dialable
from callcenter.callbacks.escalation import EscalationTimers
from callcenter.callbacks.model import (
    DIAL,
    UNHANDLED,
    Actor,
    CallbackRequest,
    CallbackTask,
    TaskAction,
    TaskStatus,
    check_actor,
)
from callcenter.callbacks.repository import SqlCallbackRepository
from callcenter.callbacks.schemas import escalated_message, offer_message, status_message
from callcenter.callbacks.settings import CallbacksSettings
from callcenter.clock import Clock
from callcenter.errors import CallcenterError, StorageUnavailable

log = logging.getLogger(__name__)
SWEEP_BATCH = 500


class Desks(Protocol):
    """The agents' desks (:class:`~callcenter.desk.service.DeskService`)."""

    def tell(self, agents: Iterable[str], message: dict[str, Any]) -> None: ...

    def desks(self) -> list[str]: ...


class Roster(Protocol):
    def serving(self, queue: str) -> list[str]: ...

    def queues_of(self, agent: str) -> frozenset[str]: ...


class Dialer(Protocol):
    async def dial(self, task: int, agent: str, number: str) -> str: ...


class _Nobody:
    """No desks, no agents: the service alone (tools, tests of storage)."""

    def tell(self, agents: Iterable[str], message: dict[str, Any]) -> None:
        pass

    def desks(self) -> list[str]:
        return []

    def serving(self, queue: str) -> list[str]:
        return []

    def queues_of(self, agent: str) -> frozenset[str]:
        return frozenset()


class CallbackService:
    def __init__(
        self,
        repository: SqlCallbackRepository,
        clock: Clock,
        retry: float = 1.0,
        *,
        settings: CallbacksSettings | None = None,
        desks: Desks | None = None,
        roster: Roster | None = None,
        dialer: Dialer | None = None,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._retry = retry
        self._settings = settings or CallbacksSettings()
        self._desks: Desks = desks or _Nobody()
        self._roster: Roster = roster or _Nobody()
        self._dialer = dialer
        self._inbox: asyncio.Queue[CallbackRequest] = asyncio.Queue()
        self._timers = EscalationTimers(clock, self._settings.escalate_after, self._due)
        self._background: set[asyncio.Task[None]] = set()

    @property
    def backlog(self) -> int:
        return self._inbox.qsize()

    @property
    def armed(self) -> int:
        """Escalation timers running (tests, health)."""
        return len(self._timers)

    def request(self, request: CallbackRequest) -> None:
        """Queue a request for storage (idempotent by its key); never blocks."""
        self._inbox.put_nowait(request)

    async def drained(self) -> None:
        await self._inbox.join()

    async def run(self) -> None:
        """Store requests as they come; arm the timers of tasks left unhandled before."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._sweep(), name="callbacks-sweep")
                group.create_task(self._write_forever(), name="callbacks-writer")
        finally:
            self._timers.close()
            for task in self._background:
                task.cancel()

    async def _write_forever(self) -> None:
        while True:
            request = await self._inbox.get()
            try:
                while True:
                    try:
                        await self._store(request)
                        log.info("callback requested: %s (%s)", request.key, request.source)
                        break
                    except StorageUnavailable as exc:
                        log.warning("callbacks: storage unavailable (%s); retrying", exc)
                        await asyncio.sleep(self._retry)
            finally:
                self._inbox.task_done()

    async def _sweep(self) -> None:
        """Arm a timer for every task left unhandled (once, at start-up)."""
        after = 0
        while True:
            try:
                found = await self._repository.unhandled(after, SWEEP_BATCH)
            except StorageUnavailable as exc:
                log.warning("callbacks: escalation sweep postponed (%s)", exc)
                await asyncio.sleep(self._retry)
                continue
            for task in found:
                self._timers.track(task)
            if len(found) < SWEEP_BATCH:
                return
            after = found[-1].id

    async def book(self, request: CallbackRequest) -> CallbackTask:
        """Store a request now (an agent, the API or a message booked it) and return its task."""
        return await self._store(request)

    async def _store(self, request: CallbackRequest) -> CallbackTask:
        added = await self._repository.add(request)
        task = await self._repository.by_key(request.key)
        self._timers.track(task)  # also after a retry whose first try stored it
        if added:
            self._desks.tell(self._roster.serving(task.request.queue), offer_message(task))
        return task

    def now(self) -> datetime:
        return self._clock.now()

    def actor(self, agent: str, supervisor: bool) -> Actor:
        """Who acts: ``agent`` with the queues the ACD configuration gives them."""
        return Actor(agent, supervisor, self._roster.queues_of(agent) if agent else frozenset())

    async def get(self, task_id: int, actor: Actor | None = None) -> CallbackTask:
        """One task; an agent reads the tasks of their queues only."""
        task = await self._repository.get(task_id)
        if actor is not None and not actor.supervisor:
            check_actor(task, "read", actor)
        return task

    async def recent(
        self,
        status: TaskStatus | None,
        limit: int,
        before_id: int | None = None,
        *,
        escalated: bool | None = None,
        queues: Collection[str] | None = None,
    ) -> list[CallbackTask]:
        return await self._repository.recent(
            status, limit, before_id, escalated=escalated, queues=queues
        )

    async def open_offers(self, agent: str) -> list[dict[str, Any]]:
        """Desk messages for a desk that opens: the open tasks of the agent's queues, oldest
        first (what the ``task`` pushes would have told it while it was away)."""
        queues = self._roster.queues_of(agent)
        if not queues:
            return []
        tasks = await self.recent(TaskStatus.OPEN, 200, queues=queues)
        return [offer_message(task) for task in reversed(tasks)]

    async def act(self, task_id: int, action: TaskAction, actor: Actor, note: str) -> CallbackTask:
        """Claim, release, complete or cancel, by the status table and :func:`check_actor`."""

        def check(task: CallbackTask) -> None:
            check_actor(task, action, actor)

        task = await self._repository.act(
            task_id, action, actor.agent, note, self._clock.now(), check
        )
        log.info("callback %d: %s by %s", task.id, action.value, actor.agent or "a supervisor")
        self._changed(task)
        return task

    async def dial(self, task_id: int, actor: Actor) -> tuple[CallbackTask, str]:
        """Ring the claimer's phone; once answered it calls the customer. The agent leg's id."""
        task = await self._repository.get(task_id)
        check_actor(task, DIAL, actor)
        number = dialable(task.request.number, self._settings)
        if self._dialer is None:
            raise DialFailed("dialling callbacks is not set up")
        leg = await self._dialer.dial(task.id, task.claimed_by, number)
        log.info("callback %d: %s dials %s (leg %s)", task.id, task.claimed_by, number, leg)
        return task, leg

    def _changed(self, task: CallbackTask) -> None:
        serving = self._roster.serving(task.request.queue)
        if task.status is TaskStatus.OPEN:  # given back: offered again
            self._desks.tell(serving, offer_message(task))
        else:
            self._desks.tell(serving, status_message(task))
        if task.status not in UNHANDLED:
            self._timers.forget(task.id)

    # Escalation.

    def _due(self, task_id: int) -> None:
        task = asyncio.create_task(self._escalate(task_id), name=f"callback-escalate-{task_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _escalate(self, task_id: int) -> None:
        try:
            task = await self._repository.escalate(task_id, self._clock.now())
        except StorageUnavailable as exc:
            log.warning("callbacks: escalation of %d postponed (%s)", task_id, exc)
            self._timers.at(task_id, self._retry)
            return
        except CallcenterError as exc:
            log.warning("callbacks: escalation of %d failed: %s", task_id, exc)
            return
        if task is None:
            return  # closed or escalated meanwhile
        log.warning(
            "callback %d escalated: unhandled since %s (queue %s, %s)",
            task.id,
            task.request.requested_at.isoformat(),
            task.request.queue,
            task.status.value,
        )
        self._desks.tell(self._desks.desks(), escalated_message(task))
