"""A CallControl that records every request instead of talking to Asterisk.

Each request is appended to :attr:`FakeCallControl.requests` as a small frozen value, in the
order the service made them; a test reads them back (``of(Ring)``) and feeds the ACD the events
Asterisk would have sent. It can also refuse: a method name in :attr:`failures` raises that
error (an :class:`~callcenter.errors.AmiError` by default, as the AMI adapter would), after the
request was recorded. :attr:`gate` holds requests until a test opens it, to run requests that
overlap. Nothing is ever sent anywhere.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TypeVar

from callcenter.acd.model import (
    AgentId,
    AgentOnCall,
    CallControl,
    CallerArrived,
    CallId,
    OfferId,
    OverflowTarget,
)
from callcenter.errors import AmiError


@dataclass(frozen=True, slots=True)
class Ring:
    offer: OfferId
    call: CallId
    agent: AgentId
    ring_timeout: float


@dataclass(frozen=True, slots=True)
class StopRing:
    offer: OfferId


@dataclass(frozen=True, slots=True)
class Bridge:
    call_channel: str
    offer: OfferId


@dataclass(frozen=True, slots=True)
class Announcement:
    call_channel: str
    position: int
    estimated_wait: float | None


@dataclass(frozen=True, slots=True)
class Elsewhere:
    call_channel: str
    target: OverflowTarget


Request = Ring | StopRing | Bridge | Announcement | Elsewhere
R = TypeVar("R", Ring, StopRing, Bridge, Announcement, Elsewhere)


@dataclass
class FakeCallControl:
    """Implements :class:`~callcenter.acd.model.CallControl` (and ``waiting_callers``)."""

    requests: list[Request] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)
    waiting: list[CallerArrived] = field(default_factory=list)
    on_call: list[AgentOnCall] = field(default_factory=list)
    gate: asyncio.Event | None = None

    def fail(self, method: str, error: Exception | None = None) -> None:
        """Make ``method`` (e.g. ``"ring_agent"``) raise from now on."""
        self.failures[method] = error or AmiError(f"{method} refused (fake)")

    def heal(self, method: str) -> None:
        self.failures.pop(method, None)

    def of(self, kind: type[R]) -> list[R]:
        return [r for r in self.requests if isinstance(r, kind)]

    def clear(self) -> None:
        self.requests.clear()

    async def ring_agent(
        self, offer: OfferId, call: CallId, agent: AgentId, ring_timeout: float
    ) -> None:
        await self._record("ring_agent", Ring(offer, call, agent, ring_timeout))

    async def stop_ringing(self, offer: OfferId) -> None:
        await self._record("stop_ringing", StopRing(offer))

    async def connect(self, call_channel: str, offer: OfferId) -> None:
        await self._record("connect", Bridge(call_channel, offer))

    async def announce(
        self, call_channel: str, position: int, estimated_wait: float | None
    ) -> None:
        await self._record("announce", Announcement(call_channel, position, estimated_wait))

    async def send_elsewhere(self, call_channel: str, target: OverflowTarget) -> None:
        await self._record("send_elsewhere", Elsewhere(call_channel, target))

    async def waiting_callers(self) -> list[CallerArrived]:
        if (error := self.failures.get("waiting_callers")) is not None:
            raise error
        return list(self.waiting)

    async def agents_on_call(self) -> list[AgentOnCall]:
        if (error := self.failures.get("agents_on_call")) is not None:
            raise error
        found, self.on_call = self.on_call, []
        return found

    async def _record(self, method: str, request: Request) -> None:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        if (error := self.failures.get(method)) is not None:
            raise error


def _conforms(fake: FakeCallControl) -> CallControl:
    """mypy checks here that the fake keeps up with the port."""
    return fake
