"""Closed calls, faxes and voicemails into their customer's contact history.

The ledger tells each closed call once (``CallLedgerService.on_closed``). The customer is the
one the desk already looked up for the call (the IVR's identification or the caller ID), else,
when the desk did not look the call up, the one whose number called; a call from nobody known
leaves no entry. Other contacts (a fax
job's final state, a received fax) come through :meth:`CallHistory.add` the same way. Writes
run in one task from a bounded queue, gathered in batches (one query finds the callers of a
batch, one transaction adds its contacts), so a slow or unavailable database never holds the
ledger up; a batch that cannot be written is logged and dropped: the ledger rows (or the fax
jobs) stay the record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from callcenter.calls.model import CallRecord
from callcenter.customers.model import Contact, ContactKind, phone_key
from callcenter.customers.service import CustomerService
from callcenter.errors import CallcenterError
from callcenter.storage.batch import DEFAULT_WINDOW, take_batch

log = logging.getLogger(__name__)

BATCH = 500
"""Contacts written per transaction at most."""


class CallHistory:
    def __init__(
        self,
        customers: CustomerService,
        known: Callable[[str], int | None],
        searched: Callable[[str], bool] = lambda call: False,
        bound: int = 10_000,
        batch_window: float = DEFAULT_WINDOW,
    ) -> None:
        self._customers = customers
        self._known = known
        self._searched = searched
        self._window = batch_window
        self._queue: asyncio.Queue[_Entry] = asyncio.Queue(bound)
        self.written = 0

    def call_closed(self, record: CallRecord) -> None:
        """Non-blocking; the customer the desk knows is read now, before the desk forgets."""
        at = record.ended_at or record.started_at
        customer = self._known(record.linkedid)
        number = "" if self._searched(record.linkedid) else record.caller_num  # no 2nd look-up
        self._put(_Entry(customer, number, ContactKind.CALL, at, record.linkedid,
                         _summary(record)))  # fmt: skip

    def add(
        self,
        customer: int | None,
        number: str,
        kind: ContactKind,
        at: datetime,
        ref: str,
        text: str,
    ) -> None:
        """Non-blocking: a contact of ``customer``, else of whoever has ``number``."""
        self._put(_Entry(customer, number, kind, at, ref, text[:500]))

    def _put(self, entry: _Entry) -> None:
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            log.warning("customers: history backlog full; %s not added", entry.ref)

    async def drained(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        while True:
            entries = await take_batch(self._queue, BATCH, self._window)
            try:
                await self._write(entries)
            except CallcenterError as exc:
                log.warning("customers: %d contact(s) not added to history: %s", len(entries), exc)
            finally:
                for _ in entries:
                    self._queue.task_done()

    async def _write(self, entries: list[_Entry]) -> None:
        """The batch's contacts in one transaction; whose numbers called, in one query."""
        numbers = [e.number for e in entries if e.customer is None and e.number]
        by_key = await self._customers.by_phone_keys(numbers) if numbers else {}
        contacts = []
        for entry in entries:
            customer = entry.customer
            if customer is None and entry.number:
                found = by_key.get(phone_key(entry.number))
                customer = found.id if found is not None else None
            if customer is not None:
                contacts.append(Contact(customer, entry.kind, entry.at, entry.ref, entry.text))
        await self._customers.record_contacts(contacts)
        self.written += len(contacts)


@dataclass(frozen=True, slots=True)
class _Entry:
    customer: int | None
    number: str
    kind: ContactKind
    at: datetime
    ref: str
    text: str


def _summary(record: CallRecord) -> str:
    """E.g. ``answered; IVR: main_menu > key:2 > complaint > enqueue:complaints``."""
    text = record.outcome or "ended"
    steps = [s for s in record.path if not s.startswith(("script:", "language", "hours"))]
    if steps:
        text += "; IVR: " + " > ".join(steps[-6:])
    return text[:500]
