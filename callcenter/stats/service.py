"""Live statistics: the one owner of the recorder, today's accumulator and the event log writes.

Events from the ACD (agent states, caller outcomes) and the ledger (closed calls) go through
the pure :class:`~callcenter.stats.recorder.Recorder`; each record it completes is added to
today's :class:`~callcenter.stats.live.LiveAccumulator` at once and appended to the event log
in storage by a background writer (in order, retried while storage is down). At start-up the
day's records are read back, so today's figures survive a restart; at midnight in the site's
time zone a new day starts.

Subscribers (the websocket hub) get a :class:`~callcenter.stats.feed.Frame` every
``push_interval`` seconds and, when ``change_delay`` is set, that soon after a change (at most
every 150 ms), so a figure reaches the wallboards within 200 ms of the event that changed it.
The figures themselves (REST, the next push) change at once: :meth:`StatsService.submit` adds
each record to today's totals before it returns. A frame is built
once per push, whatever the audience: figures are recomputed only for the queues and agents
whose totals changed, and clients get JSON merge patches (see :mod:`callcenter.stats.feed`).
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
from callcenter.stats.feed import Frame, merge_patch, without_nulls
from callcenter.stats.kpi import NONE_NOTE, KpiSettings, Scope, definitions, figures
from callcenter.stats.live import LiveAccumulator
from callcenter.stats.model import Record, Window
from callcenter.stats.recorder import Recorder, RecorderEvent
from callcenter.stats.repository import SqlStatsRepository
from callcenter.stats.settings import StatsSettings
from callcenter.storage.batch import DEFAULT_WINDOW

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
        batch_window: float = DEFAULT_WINDOW,
    ) -> None:
        self._repository = repository
        self._window = batch_window
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
        self._subscribers: dict[int, Callable[[Frame], None]] = {}
        self._next_id = 0
        self._seq = 0
        self._last_snapshot: dict[str, Any] | None = None
        self._last_frame: Frame | None = None
        self._last_push = 0.0
        self._figures_cache: dict[tuple[Scope, str], tuple[int, dict[str, Any]]] = {}
        self.changes = 0

    # --- input ------------------------------------------------------------------------

    def submit(self, event: RecorderEvent) -> None:
        """Non-blocking; records go to today's figures now and to storage soon. A fault in
        the statistics is logged and never reaches the caller (the ACD, the ledger)."""
        try:
            records = self._recorder.apply(event)
        except Exception:
            log.exception("stats: %s could not be recorded", type(event).__name__)
            return
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

    def subscribe(self, send: Callable[[Frame], None]) -> Callable[[], None]:
        """``send`` gets the last frame at once, then every push's (it must not block);
        returns the unsubscribe function."""
        key = self._next_id = self._next_id + 1
        self._subscribers[key] = send
        send(self._last_frame or self._make_frame())
        return lambda: self._subscribers.pop(key, None) and None

    @property
    def timezone(self) -> str:
        return self._settings.timezone

    @property
    def complaint_queues(self) -> tuple[str, ...]:
        return tuple(self._settings.complaint_queues)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def snapshot(self) -> dict[str, Any]:
        now = self._clock.now()
        self._roll_day()
        window = self._today.window
        scopes: dict[Scope, dict[str, dict[str, Any]]] = {s: {} for s in Scope}
        cache = self._figures_cache
        for scope, key, changes, totals in self._today.versioned():
            cached = cache.get((scope, key))
            if cached is None or cached[0] != changes:
                cached = cache[(scope, key)] = (
                    changes,
                    _rounded(figures(totals(), scope, self.kpi)),
                )
            scopes[scope][key] = cached[1]
        return {
            "at": now.isoformat(),
            "window": {
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
                "timezone": self._settings.timezone,
            },
            "overall": scopes[Scope.OVERALL][""],
            "queues": scopes[Scope.QUEUE],
            "agents": scopes[Scope.AGENT],
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
        """Build this push's frame once and hand it to every subscriber."""
        self._push_soon = None
        if not self._subscribers:
            self._last_frame = None  # the next subscriber gets a fresh snapshot
            return
        frame = self._make_frame()
        self._last_push = asyncio.get_running_loop().time()
        for send in list(self._subscribers.values()):
            send(frame)

    def _make_frame(self) -> Frame:
        snapshot = without_nulls(self.snapshot())
        previous = self._last_snapshot
        patch = merge_patch(previous, snapshot) if previous is not None else None
        self._seq += 1
        self._last_snapshot = snapshot
        self._last_frame = Frame(self._seq, snapshot, patch)
        return self._last_frame

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
            await asyncio.sleep(self._window)  # what comes meanwhile rides along
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
        """A change is pushed ``change_delay`` later (changes meanwhile ride along), and never
        sooner than ``MIN_SPACING`` after the previous push: within 200 ms in all."""
        delay = self._settings.change_delay
        if delay is not None and self._push_soon is None and self._subscribers:
            loop = asyncio.get_running_loop()
            at = max(loop.time() + delay, self._last_push + MIN_SPACING)
            self._push_soon = loop.call_at(at, self.push)

    def _roll_day(self) -> None:
        now = self._clock.now()
        if not self._today.window.holds(now):
            self._today = LiveAccumulator(day_window(now, self._zone), self.kpi)
            self._figures_cache.clear()


MIN_SPACING = 0.15
"""Seconds between two pushes caused by changes (the 1 Hz push does not wait)."""


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    """Figures with floats rounded to 4 decimals: no meaning is lost, frames get smaller."""
    return {
        k: round(v, 4) if isinstance(v, float) else (_rounded(v) if isinstance(v, dict) else v)
        for k, v in values.items()
    }
