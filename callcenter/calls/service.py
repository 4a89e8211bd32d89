"""The call ledger service: the single owner of ledger state and ledger writes.

Telephony events from the bus, plus what engine components report, are applied to the pure
:class:`~callcenter.calls.model.Ledger` as each arrives; one task executes the returned
commands in order. What arrives within the batch window after the first event
(:func:`~callcenter.storage.batch.take_batch`) is written as one unit of work
(:meth:`~callcenter.calls.ports.CallRepository.write`): under load a call costs a few rows in
a shared transaction instead of three transactions of its own. When storage is unavailable
the commands wait in a backlog, in order, and are retried with backoff; nothing is dropped,
and because every repository write is idempotent a retried batch never doubles a row
or gives a call a second outcome.

Closed calls are told to the listeners (statistics) once their batch is committed, from rows
kept in memory while the call lives (the commands as written; storage may shorten long text).
A call first seen in a resync snapshot may have a stored row that says more (a path recorded
before a restart), so it is read back from storage when it closes, as are calls closed as
``lost``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from callcenter.calls.model import (
    CallRecord,
    CloseCall,
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
from callcenter.storage.batch import DEFAULT_WINDOW, take_batch
from callcenter.telephony import ChannelsSnapshot, OutcomeReported, TelephonyEvent

log = logging.getLogger(__name__)

LedgerInput = TelephonyEvent | PathReported
MAX_BATCH = 1000
"""Events taken from the inbox at a time, and commands written per unit of work."""
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


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
        batch_window: float = DEFAULT_WINDOW,
    ) -> None:
        self._repository = repository
        self._inbox: asyncio.Queue[LedgerInput] = asyncio.Queue()
        self._clock = clock
        self._ledger = Ledger()
        self._backlog: deque[LedgerCommand] = deque()
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._window = batch_window
        self._closed_listeners: list[Callable[[CallRecord], None]] = []
        self._rows: dict[str, CallRecord] = {}  # live calls opened from their first channel
        self._from_storage: set[str] = set()  # live calls a snapshot opened
        self._unread: list[str] = []  # closed calls to read back from storage and tell
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
        """Non-blocking sink for the event bus: the ledger knows the event at once (see
        :meth:`path_of`); its writes follow with the next batch."""
        self._apply(event)
        self._inbox.put_nowait(event)

    def report_outcome(self, linkedid: str, outcome: Outcome) -> None:
        self.submit(OutcomeReported(linkedid, outcome.value, self._clock.now()))

    def report_path(self, linkedid: str, path: tuple[str, ...]) -> None:
        self.submit(PathReported(linkedid, path))

    async def get(self, linkedid: str) -> CallRecord | None:
        return await self._repository.get(linkedid)

    async def path_of(self, linkedid: str) -> tuple[str, ...] | None:
        """The call's IVR path as stored; ``None`` when it has no row. A live call's is known
        without a query (its row is kept in memory as written; a live call whose opening is
        not written yet has no row)."""
        if (row := self._rows.get(linkedid)) is not None:
            return row.path
        if self._ledger.is_live(linkedid) and linkedid not in self._from_storage:
            return None
        found = await self._repository.get(linkedid)
        return None if found is None else found.path

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
            events = await take_batch(self._inbox, MAX_BATCH, self._window)
            try:
                await self._flush()
            finally:
                for _ in events:
                    self._inbox.task_done()

    def _apply(self, event: LedgerInput) -> None:
        self.stats.applied += 1
        commands = self._ledger.apply(event)
        if isinstance(event, ChannelsSnapshot):
            self._from_storage.update(c.linkedid for c in commands if isinstance(c, OpenCall))
        self._backlog.extend(commands)

    async def _flush(self) -> None:
        delay = self._retry_min
        while self._backlog or self._unread:
            try:
                await self._write_some()
                await self._tell_unread()
            except StorageUnavailable as exc:
                self.stats.storage_failures += 1
                log.warning("ledger: storage unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            delay = self._retry_min

    async def _write_some(self) -> None:
        """The oldest commands of the backlog as one unit of work; then what it closed is told
        (no await between the commit and the bookkeeping: a batch is never told twice)."""
        if not self._backlog:
            return
        batch = list(itertools.islice(self._backlog, MAX_BATCH))
        lost = await self._repository.write(batch)
        for _ in batch:
            self._backlog.popleft()
        self.stats.written += len(batch)
        self._note_written(batch)
        if lost:
            self.stats.lost_closed += len(lost)
            log.info("ledger: closed %d call(s) that ended while away", len(lost))
            for linkedid in lost:
                self._forget(linkedid)
            self._unread += lost

    def _note_written(self, batch: Sequence[LedgerCommand]) -> None:
        """Keep the in-memory rows as storage now has them; tell the calls closed."""
        for command in batch:
            match command:
                case OpenCall():
                    self._opened(command)
                case MarkAnswered():
                    row = self._rows.get(command.linkedid)
                    if row is not None and row.answered_at is None:
                        self._rows[command.linkedid] = dataclasses.replace(
                            row, answered_at=command.at
                        )
                case RecordPath():
                    if (row := self._rows.get(command.linkedid)) is not None:
                        self._rows[command.linkedid] = dataclasses.replace(row, path=command.path)
                case CloseCall():
                    self._closed(command)

    def _opened(self, command: OpenCall) -> None:
        if command.linkedid in self._rows or command.linkedid in self._from_storage:
            return
        self._rows[command.linkedid] = CallRecord(
            linkedid=command.linkedid,
            started_at=command.started_at,
            answered_at=None,
            ended_at=None,
            caller_num=command.caller_num,
            caller_name=command.caller_name,
            context=command.context,
            exten=command.exten,
            outcome=None,
            hangup_cause=None,
            path=(),
        )

    def _closed(self, command: CloseCall) -> None:
        row = self._forget(command.linkedid)
        if row is None:
            self._unread.append(command.linkedid)
            return
        cause = command.hangup_cause
        in_range = cause is not None and INT32_MIN <= cause <= INT32_MAX
        closed = dataclasses.replace(
            row,
            ended_at=command.ended_at,
            outcome=command.outcome.value,
            hangup_cause=cause if in_range else None,
        )
        self._tell([closed])

    def _forget(self, linkedid: str) -> CallRecord | None:
        """The call's in-memory row, if storage's row is known to match it; forgotten."""
        row = self._rows.pop(linkedid, None)
        if linkedid in self._from_storage:
            self._from_storage.discard(linkedid)
            return None
        return row

    async def _tell_unread(self) -> None:
        if not self._unread:
            return
        if self._closed_listeners:
            records = await self._repository.by_linkedids(self._unread)
            self._tell([r for r in records if r.ended_at is not None])
        self._unread = []

    def _tell(self, records: Iterable[CallRecord]) -> None:
        for record in records:
            for listener in self._closed_listeners:
                try:
                    listener(record)
                except Exception:
                    log.exception("ledger: a closed-call listener failed")
