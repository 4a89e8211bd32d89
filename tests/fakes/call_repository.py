"""In-memory CallRepository with the same semantics as the SQL one, and a switchable outage."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime

from callcenter.calls.model import (
    CallRecord,
    CloseCall,
    CloseLostCalls,
    LedgerCommand,
    MarkAnswered,
    OpenCall,
    Outcome,
    RecordPath,
)
from callcenter.errors import StorageUnavailable


class MemoryCallRepository:
    def __init__(self) -> None:
        self.rows: dict[str, CallRecord] = {}
        self.down = False
        self.writes = 0
        self.batches = 0
        self.reads = 0

    def _check(self) -> None:
        if self.down:
            raise StorageUnavailable("storage is down")

    async def write(self, commands: Sequence[LedgerCommand]) -> list[str]:
        """All or nothing, like one transaction: an outage refuses the whole batch."""
        self._check()
        self.batches += 1
        lost: list[str] = []
        for command in commands:
            match command:
                case OpenCall():
                    await self.open_call(
                        command.linkedid,
                        command.started_at,
                        command.caller_num,
                        command.caller_name,
                        command.context,
                        command.exten,
                    )
                case MarkAnswered():
                    await self.mark_answered(command.linkedid, command.at)
                case RecordPath():
                    await self.record_path(command.linkedid, command.path)
                case CloseCall():
                    await self.close_call(
                        command.linkedid, command.ended_at, command.outcome, command.hangup_cause
                    )
                case CloseLostCalls():
                    lost += await self.close_calls_not_in(command.live, command.ended_at)
        return lost

    async def open_call(
        self,
        linkedid: str,
        started_at: datetime,
        caller_num: str,
        caller_name: str,
        context: str,
        exten: str,
    ) -> None:
        self._check()
        self.writes += 1
        if linkedid not in self.rows:
            self.rows[linkedid] = CallRecord(
                linkedid,
                started_at,
                None,
                None,
                caller_num,
                caller_name,
                context,
                exten,
                None,
                None,
                (),
                id=len(self.rows) + 1,
            )

    async def mark_answered(self, linkedid: str, at: datetime) -> None:
        self._check()
        row = self.rows.get(linkedid)
        if row and row.answered_at is None:
            self.rows[linkedid] = dataclasses.replace(row, answered_at=at)

    async def record_path(self, linkedid: str, path: tuple[str, ...]) -> None:
        self._check()
        row = self.rows.get(linkedid)
        if row:
            self.rows[linkedid] = dataclasses.replace(row, path=path)

    async def close_call(
        self, linkedid: str, ended_at: datetime, outcome: Outcome, hangup_cause: int | None
    ) -> bool:
        self._check()
        row = self.rows.get(linkedid)
        if row is None or row.ended_at is not None:
            return False
        self.rows[linkedid] = dataclasses.replace(
            row, ended_at=ended_at, outcome=outcome.value, hangup_cause=hangup_cause
        )
        return True

    async def close_calls_not_in(self, live: frozenset[str], ended_at: datetime) -> list[str]:
        self._check()
        closed = [k for k, r in self.rows.items() if r.ended_at is None and k not in live]
        for linkedid in closed:
            await self.close_call(linkedid, ended_at, Outcome.LOST, None)
        return closed

    async def get(self, linkedid: str) -> CallRecord | None:
        self._check()
        self.reads += 1
        return self.rows.get(linkedid)

    async def by_linkedids(self, linkedids: Iterable[str]) -> list[CallRecord]:
        self._check()
        self.reads += 1
        return [self.rows[k] for k in dict.fromkeys(linkedids) if k in self.rows]

    async def recent(self, limit: int, before_id: int | None = None) -> list[CallRecord]:
        self._check()
        rows = sorted(self.rows.values(), key=lambda r: r.id, reverse=True)
        return [r for r in rows if before_id is None or r.id < before_id][:limit]
