"""Escalation timers: armed per task from its request time, fired once, dropped when the task
closes; a deadline already passed fires at once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from callcenter.callbacks.escalation import EscalationTimers
from callcenter.callbacks.model import TaskStatus
from callcenter.clock import FixedClock
from tests.unit.callbacks.test_model import OPEN, T0


async def test_timers_fire_at_the_deadline_and_not_for_closed_tasks() -> None:
    fired: list[int] = []
    clock = FixedClock(T0 + timedelta(seconds=10))
    timers = EscalationTimers(clock, 10.05, fired.append)
    timers.track(OPEN)  # due 0.05 s from now
    timers.track(replace(OPEN, id=2, request=replace(OPEN.request, requested_at=T0)))
    timers.track(replace(OPEN, id=3, status=TaskStatus.DONE))  # never
    overdue = replace(OPEN, id=4, request=replace(OPEN.request, requested_at=T0 - timedelta(1)))
    timers.track(overdue)
    timers.track(replace(OPEN, id=5))
    timers.forget(5)  # closed meanwhile
    assert len(timers) == 3
    await asyncio.sleep(0.01)
    assert fired == [4]  # overdue: at once
    await asyncio.sleep(0.1)
    assert sorted(fired) == [1, 2, 4]
    assert len(timers) == 0
    timers.close()
