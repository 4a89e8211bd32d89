"""Live statistics: the one owner of the recorder, today's accumulator and the event log writes.

Events from the ACD (agent states, caller outcomes) and the ledger (closed calls) go through
the pure :class:`~callcenter.stats.recorder.Recorder`; each record it completes is added to
today's :class:`~callcenter.stats.live.LiveAccumulator` at once and appended to the event log
in storage by a background writer (in order, retried while storage is down). At start-up the
day's records are read back, so today's figures survive a restart; at midnight in the site's
time zone a new day starts.

Subscribers (the websocket hub) get the snapshot as one JSON text: every ``push_interval``
seconds, and ``change_delay`` after a change, so a figure is never older than 200 ms after the
event that changed it. The snapshot is serialised once per push, whatever the audience.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.clock import Clock
from callcenter.errors import StorageUnavailable
from callcenter.stats.kpi import NONE_NOTE, KpiSettings, Scope, definitions, figures
from callcenter.stats.live import LiveAccumulator
from callcenter.stats.model import Record, Window
from callcenter.stats.recorder import Recorder, RecorderEvent
from callcenter.stats.repository import SqlStatsRepository
from callcenter.stats.settings import StatsSettings

log = logging.getLogger(__name__)

LiveState = Callable[[datetime], dict[str, Any]]
"""Callers waiting and agents by state now (from the ACD), for the snapshot."""


def day_window(at: datetime, zone: ZoneInfo) -> Window:
    local = at.astimezone(zone).date()
    start = datetime.combine(local, time(0), tzinfo=zone)
    end = datetime.combine(local + timedelta(days=1), time(0), tzinfo=zone)
    return Window(start, end)


class StatsService:
    def __init__(
        self,
        repository: SqlStatsRepository,
        clock: Clock,
        settings: StatsSettings,
        kpi: KpiSettings,
        live_state: LiveState,
        *,
        retry: float = 1.0,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._settings = settings
        self._zone = ZoneInfo(settings.timezone)
        self.kpi = kpi
        self._live_state = live_state
        self._retry = retry
        self._recorder = Recorder()
        self._today = LiveAccumulator(day_window(clock.now(), self._zone), kpi)
        self._unwritten: list[Record] = []
        self._written = asyncio.Event()
        self._wake = asyncio.Event()
        self._push_soon: asyncio.TimerHandle | None = None
        self._subscribers: dict[int, Callable[[str], None]] = {}
        self._next_id = 0
        self.changes = 0

    # --- input ------------------------------------------------------------------------

    def submit(self, event: RecorderEvent) -> None:
        """Non-blocking; records go to today's figures now and to storage soon."""
        records = self._recorder.apply(event)
        if not records:
            return
        self._roll_day()
        for record in records:
            self._today.add(record)
        self._unwritten.extend(records)
        self._wake.set()
        self.changes += 1
        self._schedule_push()

    async def load_today(self) -> int:
        """Read the day's records back (at start-up, before live events)."""
        window = self._today.window
        records = await self._repository.between(window.start, window.end)
        for record in records:
            self._today.add(record)
        return len(records)

    # --- output -----------------------------------------------------------------------

    def subscribe(self, send: Callable[[str], None]) -> Callable[[], None]:
        """``send`` gets each snapshot's JSON text (it must not block); returns unsubscribe."""
        key = self._next_id = self._next_id + 1
        self._subscribers[key] = send
        send(self.snapshot_text())
        return lambda: self._subscribers.pop(key, None) and None

    @property
    def timezone(self) -> str:
        return self._settings.timezone

    @property
    def complaint_queues(self) -> tuple[str, ...]:
        """The queues whose calls count as complaints (``stats.complaint_queues``)."""
        return tuple(self._settings.complaint_queues)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def snapshot(self) -> dict[str, Any]:
        now = self._clock.now()
        self._roll_day()
        report = self._today.report()
        kpi = self.kpi
        return {
            "at": now.isoformat(),
            "window": {
                "start": report.window.start.isoformat(),
                "end": report.window.end.isoformat(),
                "timezone": self._settings.timezone,
            },
            "overall": figures(report.overall, Scope.OVERALL, kpi),
            "queues": {q: figures(t, Scope.QUEUE, kpi) for q, t in report.queues.items()},
            "agents": {a: figures(t, Scope.AGENT, kpi) for a, t in report.agents.items()},
            "live": self._live_state(now),
        }

    def snapshot_text(self) -> str:
        return json.dumps(self.snapshot(), ensure_ascii=False, separators=(",", ":"))

    def definitions(self) -> dict[str, Any]:
        kpi = self.kpi
        return {
            "note": NONE_NOTE,
            "service_level_variant": kpi.service_level_variant.value,
            "short_abandon_seconds": kpi.short_abandon_seconds,
            "overall": definitions(Scope.OVERALL, kpi),
            "queue": definitions(Scope.QUEUE, kpi),
            "agent": definitions(Scope.AGENT, kpi),
        }

    def push(self) -> None:
        self._push_soon = None
        if not self._subscribers:
            return
        text = self.snapshot_text()
        for send in list(self._subscribers.values()):
            send(text)

    # --- tasks ------------------------------------------------------------------------

    async def drained(self) -> None:
        while self._unwritten:
            self._written.clear()
            await self._written.wait()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._write_forever(), name="stats-writer")
            group.create_task(self._tick_forever(), name="stats-push")

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.push_interval)
            self.push()

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._unwritten:
                batch = self._unwritten[:500]
                try:
                    await self._repository.append(batch)
                except StorageUnavailable as exc:
                    log.warning("stats: storage unavailable (%s); retrying", exc)
                    await asyncio.sleep(self._retry)
                    continue
                del self._unwritten[: len(batch)]
            self._written.set()

    def _schedule_push(self) -> None:
        if self._push_soon is None and self._subscribers:
            loop = asyncio.get_running_loop()
            self._push_soon = loop.call_later(self._settings.change_delay, self.push)

    def _roll_day(self) -> None:
        now = self._clock.now()
        if not self._today.window.holds(now):
            self._today = LiveAccumulator(day_window(now, self._zone), self.kpi)
