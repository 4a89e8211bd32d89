"""Escalation timers: one ``loop.call_at`` per unhandled task, owned here.

Nothing polls: a task gets its timer when it is stored (or found unhandled at start-up, where a
deadline already passed fires at once), loses it when it is closed, and when the timer fires
the service marks the task escalated (a conditional update: a task closed meanwhile stays as
it is) and tells the supervisors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from callcenter.callbacks.model import CallbackTask, escalation_due
from callcenter.clock import Clock


class EscalationTimers:
    def __init__(self, clock: Clock, after: float, on_due: Callable[[int], None]) -> None:
        self._clock = clock
        self._after = after
        self._on_due = on_due
        self._timers: dict[int, asyncio.TimerHandle] = {}

    def __len__(self) -> int:
        return len(self._timers)

    def track(self, task: CallbackTask) -> None:
        """(Re)arm the task's timer, or drop it when the task can no longer escalate."""
        self.forget(task.id)
        due = escalation_due(task, self._after)
        if due is not None:
            self.at(task.id, max(0.0, (due - self._clock.now()).total_seconds()))

    def at(self, task_id: int, delay: float) -> None:
        """Fire for ``task_id`` in ``delay`` seconds (a retry after a storage fault, too)."""
        self.forget(task_id)
        loop = asyncio.get_running_loop()
        self._timers[task_id] = loop.call_at(loop.time() + delay, self._fire, task_id)

    def forget(self, task_id: int) -> None:
        timer = self._timers.pop(task_id, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _fire(self, task_id: int) -> None:
        self._timers.pop(task_id, None)
        self._on_due(task_id)
