"""Closed calls into their customer's contact history.

The ledger tells each closed call once (``CallLedgerService.on_closed``). The customer is the
one the desk already looked up for the call (the IVR's identification or the caller ID), else
the one whose number called; a call from nobody known leaves no entry. Writes run in one
task from a bounded queue, so a slow or unavailable database never holds the ledger up; an entry
that cannot be written is logged and dropped: the ledger row stays the record of the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from callcenter.calls.model import CallRecord
from callcenter.customers.model import Contact, ContactKind
from callcenter.customers.service import CustomerService
from callcenter.errors import CallcenterError

log = logging.getLogger(__name__)


class CallHistory:
    def __init__(
        self,
        customers: CustomerService,
        known: Callable[[str], int | None],
        bound: int = 10_000,
    ) -> None:
        self._customers = customers
        self._known = known
        self._queue: asyncio.Queue[tuple[CallRecord, int | None]] = asyncio.Queue(bound)
        self.written = 0

    def call_closed(self, record: CallRecord) -> None:
        """Non-blocking; the customer the desk knows is read now, before the desk forgets."""
        try:
            self._queue.put_nowait((record, self._known(record.linkedid)))
        except asyncio.QueueFull:
            log.warning("customers: history backlog full; call %s not added", record.linkedid)

    async def drained(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        while True:
            record, customer = await self._queue.get()
            try:
                await self._write(record, customer)
            except CallcenterError as exc:
                log.warning("customers: call %s not added to history: %s", record.linkedid, exc)
            finally:
                self._queue.task_done()

    async def _write(self, record: CallRecord, customer: int | None) -> None:
        if customer is None and record.caller_num:
            found = await self._customers.by_phone(record.caller_num)
            customer = found.id if found is not None else None
        if customer is None:
            return
        at = record.ended_at or record.started_at
        await self._customers.record_contact(
            Contact(customer, ContactKind.CALL, at, record.linkedid, _summary(record))
        )
        self.written += 1


def _summary(record: CallRecord) -> str:
    """E.g. ``answered; IVR: main_menu > key:2 > complaint > enqueue:complaints``."""
    text = record.outcome or "ended"
    steps = [s for s in record.path if not s.startswith(("script:", "language", "hours"))]
    if steps:
        text += "; IVR: " + " > ".join(steps[-6:])
    return text[:500]
