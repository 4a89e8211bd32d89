"""Closed calls land in their customer's contact history: the customer the desk knew, else the
one whose number called (looked up only when the desk did not); unknown callers leave nothing;
a storage fault loses no later batch; a batch's callers are found in one query."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from callcenter.calls.model import CallRecord
from callcenter.clock import FixedClock
from callcenter.customers.history import CallHistory
from callcenter.customers.model import CustomerDraft
from callcenter.customers.repository import SqlCustomerRepository
from callcenter.customers.service import CustomerService
from callcenter.errors import StorageUnavailable
from callcenter.storage.db import Database

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def closed(linkedid: str, number: str, outcome: str = "answered") -> CallRecord:
    path = ("script:hotline:1", "language", "main_menu", "key:2", "complaint", "enqueue:q")
    return CallRecord(linkedid, NOW, NOW, NOW, number, "", "from-callers", "4000", outcome,
                      16, path)  # fmt: skip


async def test_closed_calls_go_to_the_right_customers_history(database: Database) -> None:
    customers = CustomerService(SqlCustomerRepository(database), FixedClock(NOW))
    wang = await customers.save(CustomerDraft("A1", "Wang", phones=("13800138000",)))
    li = await customers.save(CustomerDraft("B2", "Li", phones=("13900000000",)))
    known = {"L2": li.id}  # the desk identified L2 by the account number typed in the IVR
    history = CallHistory(customers, known.get)
    runner = asyncio.create_task(history.run())
    try:
        history.call_closed(closed("L1", "13800138000"))
        history.call_closed(closed("L2", "13800138000", "abandoned"))
        history.call_closed(closed("L3", "12345"))  # nobody known
        await history.drained()
    finally:
        runner.cancel()
    (first,) = await customers.history(wang.id)
    assert (first.kind.value, first.ref) == ("call", "L1")
    assert first.text == "answered; IVR: main_menu > key:2 > complaint > enqueue:q"
    (second,) = await customers.history(li.id)
    assert (second.ref, second.text.split(";")[0]) == ("L2", "abandoned")
    assert history.written == 2


async def test_a_storage_fault_drops_one_batch_and_the_writer_goes_on(database: Database) -> None:
    customers = CustomerService(SqlCustomerRepository(database), FixedClock(NOW))
    wang = await customers.save(CustomerDraft("A1", "Wang", phones=("13800138000",)))
    failing = True
    real = customers.record_contacts

    async def flaky(contacts: object) -> None:
        if failing:
            raise StorageUnavailable("database down")
        await real(contacts)  # type: ignore[arg-type]

    customers.record_contacts = flaky  # type: ignore[method-assign]
    history = CallHistory(customers, lambda call: None)
    runner = asyncio.create_task(history.run())
    try:
        history.call_closed(closed("L1", "13800138000"))
        await history.drained()
        failing = False
        history.call_closed(closed("L2", "13800138000"))
        await history.drained()
    finally:
        runner.cancel()
    assert [c.ref for c in await customers.history(wang.id)] == ["L2"]


async def test_a_caller_the_desk_searched_for_is_not_looked_up_again(database: Database) -> None:
    customers = CustomerService(SqlCustomerRepository(database), FixedClock(NOW))
    wang = await customers.save(CustomerDraft("A1", "Wang", phones=("13800138000",)))
    looked_up: list[str] = []
    real = customers.by_phone_keys

    async def by_phone_keys(numbers: list[str]) -> object:
        looked_up.extend(numbers)
        return await real(numbers)

    customers.by_phone_keys = by_phone_keys  # type: ignore[assignment]
    searched = {"L1"}  # the desk searched for L1's caller and found nobody
    history = CallHistory(customers, lambda call: None, searched.__contains__)
    runner = asyncio.create_task(history.run())
    try:
        history.call_closed(closed("L1", "13800138000"))
        history.call_closed(closed("L2", "13800138000"))  # not searched: by its number
        await history.drained()
    finally:
        runner.cancel()
    assert looked_up == ["13800138000"]
    assert [c.ref for c in await customers.history(wang.id)] == ["L2"]


async def test_a_batch_finds_its_callers_in_one_query(database: Database) -> None:
    customers = CustomerService(SqlCustomerRepository(database), FixedClock(NOW))
    wang = await customers.save(CustomerDraft("A1", "Wang", phones=("13800138000",)))
    older = await customers.save(CustomerDraft("C3", "Old", phones=("+86 139-0000-0000",)))
    newer = await customers.save(CustomerDraft("D4", "New", phones=("13900000000",)))
    queries: list[list[str]] = []
    real = customers.by_phone_keys

    async def by_phone_keys(numbers: list[str]) -> object:
        queries.append(list(numbers))
        return await real(numbers)

    customers.by_phone_keys = by_phone_keys  # type: ignore[assignment]
    history = CallHistory(customers, lambda call: None, batch_window=0.2)
    runner = asyncio.create_task(history.run())
    try:
        history.call_closed(closed("L1", "13800138000"))
        history.call_closed(closed("L2", "139 0000 0000"))  # shared: the latest updated
        history.call_closed(closed("L3", "12345"))
        await history.drained()
    finally:
        runner.cancel()
    assert len(queries) == 1 and history.written == 2
    assert [c.ref for c in await customers.history(wang.id)] == ["L1"]
    assert [c.ref for c in await customers.history(newer.id)] == ["L2"]
    assert await customers.history(older.id) == []
