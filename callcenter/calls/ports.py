"""What the call ledger needs from storage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from callcenter.calls.model import CallRecord, LedgerCommand, Outcome


class CallRepository(Protocol):
    """Ledger rows. Every write is idempotent so a retried command never doubles a row.

    Implementations translate database errors into
    :class:`callcenter.errors.StorageUnavailable` (connection lost, server down) so the
    ledger service can retry the same command later.
    """

    async def write(self, commands: Sequence[LedgerCommand]) -> list[str]:
        """Carry out the commands in their order as one unit of work (all or nothing).

        Returns the linkedids closed as ``lost`` by its ``CloseLostCalls`` commands.
        """

    async def open_call(
        self,
        linkedid: str,
        started_at: datetime,
        caller_num: str,
        caller_name: str,
        context: str,
        exten: str,
    ) -> None:
        """Insert the row unless a row with this linkedid exists (then do nothing)."""

    async def mark_answered(self, linkedid: str, at: datetime) -> None:
        """Set answered_at if it is not set yet."""

    async def record_path(self, linkedid: str, path: tuple[str, ...]) -> None:
        """Replace the stored path of the call."""

    async def close_call(
        self, linkedid: str, ended_at: datetime, outcome: Outcome, hangup_cause: int | None
    ) -> bool:
        """Close the row if it is still open; False when it was closed already or missing."""

    async def close_calls_not_in(self, live: frozenset[str], ended_at: datetime) -> list[str]:
        """Close every open row whose linkedid is not in ``live`` with outcome ``lost``.

        Returns the linkedids it closed.
        """

    async def get(self, linkedid: str) -> CallRecord | None: ...

    async def by_linkedids(self, linkedids: Iterable[str]) -> list[CallRecord]:
        """The rows of these calls, in any order; unknown linkedids are left out."""

    async def recent(self, limit: int, before_id: int | None = None) -> list[CallRecord]:
        """Newest first."""
