"""The ACD service keeps deciding when a listener of its outcomes fails."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from callcenter.acd.core import Acd
from callcenter.acd.model import AgentConfig, AgentLogin, AgentState, QueueConfig
from callcenter.acd.service import AcdService, Published
from callcenter.clock import FixedClock
from tests.fakes.fake_call_control import FakeCallControl

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def test_a_failing_listener_does_not_stop_the_acd() -> None:
    heard: list[Published] = []

    def listener(event: Published) -> None:
        heard.append(event)
        raise RuntimeError("a broken listener")

    acd = Acd([QueueConfig("q")], [AgentConfig("a1", {"q": 1}), AgentConfig("a2", {"q": 1})])
    service = AcdService(acd, FakeCallControl(), FixedClock(T0), listener, lambda call: None)
    runner = asyncio.create_task(service.run())
    try:
        await service.apply(AgentLogin("a1", T0))
        await service.apply(AgentLogin("a2", T0))
    finally:
        runner.cancel()
    assert [acd.agent(a).state for a in ("a1", "a2")] == [AgentState.READY] * 2
    assert len(heard) == 2
