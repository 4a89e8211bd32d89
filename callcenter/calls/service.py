"""The call ledger service: the single owner of ledger state and ledger writes.

One task drains its inbox (telephony events from the bus plus what engine components report),
applies the pure :class:`~callcenter.calls.model.Ledger` and executes the returned commands in
order. When storage is unavailable the commands wait in a backlog, in order, and are retried with
backoff; nothing is dropped, and because every repository write is idempotent a retried command
never doubles a row or gives a call a second outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from callcenter.calls.model import (
    CallRecord,
    CloseCall,
    CloseLostCalls,
    Ledger,
    LedgerCommand,
    MarkAnswered,
    OpenCall,
    Outcome,
    PathReported,
    RecordPath,
)
from callcenter.calls.ports import CallRepository
from callcenter.clock import Clock
from callcenter.errors import StorageUnavailable
from callcenter.telephony import OutcomeReported, TelephonyEvent

log = logging.getLogger(__name__)

LedgerInput = TelephonyEvent | PathReported


@dataclass
class LedgerStats:
    applied: int = 0
    written: int = 0
    storage_failures: int = 0
    lost_closed: int = 0


class CallLedgerService:
    def __init__(
        self,
        repository: CallRepository,
        clock: Clock,
        *,
        retry_min: float = 0.2,
        retry_max: float = 5.0,
    ) -> None:
        self._repository = repository
        self._inbox: asyncio.Queue[LedgerInput] = asyncio.Queue()
        self._clock = clock
        self._ledger = Ledger()
        self._backlog: deque[LedgerCommand] = deque()
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._closed_listeners: list[Callable[[CallRecord], None]] = []
        self.stats = LedgerStats()

    def on_closed(self, listener: Callable[[CallRecord], None]) -> None:
        """``listener`` gets each call's row once it is closed (statistics); it must not block."""
        self._closed_listeners.append(listener)

    @property
    def live_calls(self) -> int:
        return self._ledger.live_calls

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    def submit(self, event: LedgerInput) -> None:
        """Non-blocking sink for the event bus."""
        self._inbox.put_nowait(event)

    def report_outcome(self, linkedid: str, outcome: Outcome) -> None:
        self._inbox.put_nowait(OutcomeReported(linkedid, outcome.value, self._clock.now()))

    def report_path(self, linkedid: str, path: tuple[str, ...]) -> None:
        self._inbox.put_nowait(PathReported(linkedid, path))

    async def get(self, linkedid: str) -> CallRecord | None:
        return await self._repository.get(linkedid)

    async def by_linkedids(self, linkedids: Iterable[str]) -> list[CallRecord]:
        """Many calls' rows at once (reports); unknown linkedids are left out."""
        return await self._repository.by_linkedids(linkedids)

    async def recent(self, limit: int, before_id: int | None = None) -> list[CallRecord]:
        return await self._repository.recent(limit, before_id)

    async def drained(self) -> None:
        """Wait until every event received so far is written (tests and shutdown)."""
        await self._inbox.join()

    async def run(self) -> None:
        while True:
            event = await self._inbox.get()
            try:
                self.stats.applied += 1
                self._backlog.extend(self._ledger.apply(event))
                await self._flush()
            finally:
                self._inbox.task_done()

    async def _flush(self) -> None:
        delay = self._retry_min
        while self._backlog:
            command = self._backlog[0]
            try:
                await self._execute(command)
            except StorageUnavailable as exc:
                self.stats.storage_failures += 1
                log.warning("ledger: storage unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            self._backlog.popleft()
            self.stats.written += 1
            delay = self._retry_min

    async def _execute(self, command: LedgerCommand) -> None:
        repo = self._repository
        match command:
            case OpenCall():
                await repo.open_call(
                    command.linkedid,
                    command.started_at,
                    command.caller_num,
                    command.caller_name,
                    command.context,
                    command.exten,
                )
            case MarkAnswered():
                await repo.mark_answered(command.linkedid, command.at)
            case RecordPath():
                await repo.record_path(command.linkedid, command.path)
            case CloseCall():
                await repo.close_call(
                    command.linkedid, command.ended_at, command.outcome, command.hangup_cause
                )
                await self._tell_closed([command.linkedid])
            case CloseLostCalls():
                closed = await repo.close_calls_not_in(command.live, command.ended_at)
                self.stats.lost_closed += len(closed)
                if closed:
                    log.info("ledger: closed %d call(s) that ended while away", len(closed))
                await self._tell_closed(closed)

    async def _tell_closed(self, linkedids: list[str]) -> None:
        if not self._closed_listeners:
            return
        for linkedid in linkedids:
            record = await self._repository.get(linkedid)
            if record is None:
                continue
            for listener in self._closed_listeners:
                try:
                    listener(record)
                except Exception:
                    log.exception("ledger: a closed-call listener failed")
