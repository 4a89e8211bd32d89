"""Customer records on both backends: upsert by account, look-up by any form of a number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.clock import FixedClock
from callcenter.customers.model import (
    Contact,
    ContactKind,
    CustomerDraft,
    InvalidCustomer,
    Product,
)
from callcenter.customers.repository import CustomerNotFound, SqlCustomerRepository
from callcenter.customers.service import CustomerService
from callcenter.storage.db import Database

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WANG = CustomerDraft(
    account="A100",
    name="王先生",
    tier="vip",
    phones=("+86 138 0013 8000", "010-65529988"),
    address="北京市朝阳区",
    region="north",
    products=(Product("FR-300", "SN1", "2025-03-01"),),
)


async def test_a_customer_is_found_by_any_form_of_its_number_and_by_account(
    database: Database,
) -> None:
    repo = SqlCustomerRepository(database)
    saved = await repo.upsert(WANG, T0)
    assert saved.phones == ("8613800138000", "01065529988")
    assert await repo.by_phone("008613800138000") == saved
    assert await repo.by_phone("(010) 6552-9988") == saved
    assert await repo.by_account("A100") == saved
    assert await repo.by_phone("13800138000") is None  # a different number
    assert await repo.by_phone("anonymous") is None
    assert saved.attributes()["tier"] == "vip"
    assert saved.attributes()["products"] == "FR-300"


async def test_upsert_replaces_the_record_and_its_phones(database: Database) -> None:
    repo = SqlCustomerRepository(database)
    first = await repo.upsert(WANG, T0)
    second = await repo.upsert(
        CustomerDraft("A100", "Wang", phones=("13900000000",)), T0 + timedelta(1)
    )
    assert second.id == first.id and second.tier == "standard"
    assert await repo.by_phone("+8613800138000") is None
    assert await repo.by_phone("13900000000") == second
    with pytest.raises(CustomerNotFound):
        await repo.get(first.id + 100)


async def test_history_is_newest_first_and_notes_are_stored_as_text(database: Database) -> None:
    service = CustomerService(SqlCustomerRepository(database), FixedClock(T0))
    customer = await service.save(WANG)
    await service.record_contacts(
        [Contact(customer.id, ContactKind.CALL, T0 - timedelta(hours=1), "1700.1", "answered")]
    )
    note = await service.add_note(customer.id, "<b>fridge noisy</b>\x00'; --", "agent1001")
    history = await service.history(customer.id)
    assert [(c.kind, c.text) for c in history] == [
        (ContactKind.NOTE, "<b>fridge noisy</b>'; --"),
        (ContactKind.CALL, "answered"),
    ]
    assert note.author == "agent1001"
    with pytest.raises(CustomerNotFound):
        await service.add_note(9999, "x", "")
    with pytest.raises(InvalidCustomer):
        await service.save(CustomerDraft("A 1", "x"))


async def test_a_csv_import_stores_good_rows_and_reports_bad_ones(database: Database) -> None:
    service = CustomerService(SqlCustomerRepository(database), FixedClock(T0))
    report = await service.import_csv(
        "account,name,phones\nA1,Li,13700000000\nA2,,13600000000\nA3,Zhou,13500000000\n"
    )
    assert report.imported == 2
    assert [str(p) for p in report.problems] == ["line 3: name must be 1-128 characters"]
    found = await service.by_phone("13500000000")
    assert found is not None and found.name == "Zhou"
