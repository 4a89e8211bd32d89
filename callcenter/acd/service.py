"""The ACD service: the single owner of the ACD core, its timers and its PBX requests.

One task drains the inbox (events from the PBX adapter, the API and phone feature codes, and
its own timers), lets the pure core decide, and carries out the commands. PBX requests run as
child tasks so one slow AMI round trip never delays the next decision; a request the PBX
refuses comes back as an event (``OfferFailed(reason="error")``), so the core stays the only
judge of state. Timers are ``loop.call_at`` handles that post ``TimerFired`` to the inbox:
nothing polls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Protocol

from callcenter.acd.core import AgentView, QueueView
from callcenter.acd.model import (
    AcdCommand,
    AcdEvent,
    AgentOnCall,
    AgentStateChanged,
    Announce,
    CallControl,
    CallerArrived,
    CallerOutcome,
    CancelTimer,
    Connect,
    OfferFailed,
    QueueConfig,
    RingAgent,
    SendElsewhere,
    StartTimer,
    StopRinging,
    TimerFired,
)
from callcenter.acd.trace import Decision
from callcenter.clock import Clock
from callcenter.errors import CallcenterError

log = logging.getLogger(__name__)

Published = AgentStateChanged | CallerOutcome | SendElsewhere
"""What the service tells the rest of the engine: state changes, outcomes, where callers go."""


class AcdCore(Protocol):
    """What the service needs of the core (``callcenter.acd.core.Acd``)."""

    def handle(self, event: AcdEvent) -> list[AcdCommand]: ...

    def agents(self) -> list[AgentView]: ...

    def agent(self, agent_id: str) -> AgentView: ...

    def queues(self, at: datetime) -> list[QueueView]: ...

    def queue(self, queue_id: str, at: datetime) -> QueueView: ...

    def queue_config(self, queue_id: str) -> QueueConfig: ...

    def trace(self, call: str, *, everyone: bool = False) -> list[Decision]: ...


class AcdService:
    def __init__(
        self,
        core: AcdCore,
        control: CallControl,
        clock: Clock,
        publish: Callable[[Published], None],
        channel_of: Callable[[str], str | None],
    ) -> None:
        self.core = core
        self._control = control
        self._clock = clock
        self._publish = publish
        self._channel_of = channel_of
        self._inbox: asyncio.Queue[tuple[AcdEvent, asyncio.Future[None] | None]] = asyncio.Queue()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._requests: set[asyncio.Task[None]] = set()
        self.decisions = 0

    async def control_waiting_callers(self) -> list[CallerArrived]:
        """Callers waiting in the PBX (re-adoption after a restart or reconnect)."""
        return await self._control.waiting_callers()

    async def control_agents_on_call(self) -> list[AgentOnCall]:
        """Agents connected to callers in the PBX that the core does not know (a restart)."""
        return await self._control.agents_on_call()

    def now(self) -> datetime:
        return self._clock.now()

    def submit(self, event: AcdEvent) -> None:
        """Non-blocking; safe to call from AMI callbacks."""
        self._inbox.put_nowait((event, None))

    async def apply(self, event: AcdEvent) -> None:
        """Submit and wait until the core has decided; its refusal is raised here (API)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait((event, done))
        await done

    async def drained(self) -> None:
        await self._inbox.join()

    async def run(self) -> None:
        try:
            while True:
                event, done = await self._inbox.get()
                try:
                    self._decide(event, done)
                finally:
                    self._inbox.task_done()
        finally:
            for handle in self._timers.values():
                handle.cancel()
            for task in self._requests:
                task.cancel()

    def _decide(self, event: AcdEvent, done: asyncio.Future[None] | None) -> None:
        try:
            commands = self.core.handle(event)
        except CallcenterError as exc:
            if done is not None:
                done.set_exception(exc)
            else:
                log.warning("acd: %s refused: %s", type(event).__name__, exc)
            return
        if done is not None:
            done.set_result(None)
        self.decisions += 1
        # PBX requests first: the Originate of the next offer must not wait behind bookkeeping.
        for command in sorted(
            commands, key=lambda c: isinstance(c, AgentStateChanged | CallerOutcome)
        ):
            self._carry_out(command)

    def _carry_out(self, command: AcdCommand) -> None:
        match command:
            case StartTimer():
                self._start_timer(command)
            case CancelTimer():
                handle = self._timers.pop(command.timer, None)
                if handle is not None:
                    handle.cancel()
            case AgentStateChanged() | CallerOutcome():
                self._tell(command)
            case RingAgent():
                self._request(self._ring(command))
            case StopRinging():
                self._request(self._control.stop_ringing(command.offer))
            case Connect():
                self._request(self._connect(command))
            case Announce():
                self._request(self._announce(command))
            case SendElsewhere():
                self._tell(command)
                self._request(self._send_elsewhere(command))

    def _tell(self, command: Published) -> None:
        """Publish to the rest of the engine; a listener's fault never stops the ACD."""
        try:
            self._publish(command)
        except Exception:
            log.exception("acd: a listener failed on %s", type(command).__name__)

    def _start_timer(self, command: StartTimer) -> None:
        old = self._timers.pop(command.timer, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, (command.at - self._clock.now()).total_seconds())
        self._timers[command.timer] = loop.call_at(loop.time() + delay, self._fire, command.timer)

    def _fire(self, timer: str) -> None:
        self._timers.pop(timer, None)
        self.submit(TimerFired(timer, self._clock.now()))

    def _request(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._requests.add(task)
        task.add_done_callback(self._request_done)

    def _request_done(self, task: asyncio.Task[None]) -> None:
        self._requests.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("acd: PBX request failed: %s", task.exception())

    def _channel(self, call: str) -> str | None:
        channel = self._channel_of(call)
        if channel is None:
            log.warning("acd: no channel known for call %s", call)
        return channel

    async def _announce(self, command: Announce) -> None:
        if channel := self._channel(command.call):
            await self._control.announce(channel, command.position, command.estimated_wait)

    async def _send_elsewhere(self, command: SendElsewhere) -> None:
        if channel := self._channel(command.call):
            await self._control.send_elsewhere(channel, command.target)

    async def _ring(self, command: RingAgent) -> None:
        try:
            await self._control.ring_agent(
                command.offer, command.call, command.agent, command.ring_timeout
            )
        except CallcenterError as exc:
            log.warning("acd: ringing %s failed: %s", command.agent, exc)
            self.submit(OfferFailed(command.offer, "error", self._clock.now()))

    async def _connect(self, command: Connect) -> None:
        channel = self._channel(command.call)
        if channel is None:
            await self._control.stop_ringing(command.offer)
            return
        await self._control.connect(channel, command.offer)
