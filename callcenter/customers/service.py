"""Customer records for the IVR (look-ups), the agents' desktop (screen-pops) and the API."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from callcenter.clock import Clock
from callcenter.customers.csv_import import CsvProblem, parse_customers
from callcenter.customers.model import (
    Contact,
    ContactKind,
    Customer,
    CustomerDraft,
    callers_by_phone,
    check_draft,
)
from callcenter.customers.repository import SqlCustomerRepository


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: int
    problems: tuple[CsvProblem, ...]


class CustomerService:
    def __init__(self, repository: SqlCustomerRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    async def by_phone(self, number: str) -> Customer | None:
        return await self._repository.by_phone(number)

    async def by_phones(self, numbers: Iterable[str]) -> list[Customer]:
        """Every customer holding one of ``numbers`` (reports match many callers at once)."""
        return await self._repository.by_phones(numbers)

    async def profiles(self) -> list[tuple[str, tuple[str, ...]]]:
        """(region, product models) of every customer."""
        return await self._repository.profiles()

    async def by_account(self, account: str) -> Customer | None:
        return await self._repository.by_account(account)

    async def get(self, customer_id: int) -> Customer:
        return await self._repository.get(customer_id)

    async def save(self, draft: CustomerDraft) -> Customer:
        return await self._repository.upsert(check_draft(draft), self._clock.now())

    async def import_csv(self, text: str) -> ImportReport:
        """Import every good row; a bad row is reported with its line and changes nothing."""
        drafts, problems = parse_customers(text)
        now = self._clock.now()
        for draft in drafts:
            await self._repository.upsert(draft, now)
        return ImportReport(len(drafts), tuple(problems))

    async def add_note(self, customer_id: int, text: str, author: str) -> Contact:
        await self._repository.get(customer_id)  # 404 for an unknown customer
        contact = Contact(customer_id, ContactKind.NOTE, self._clock.now(), "", text, author)
        await self._repository.add_contact(contact)
        return contact

    async def record_contacts(self, contacts: Sequence[Contact]) -> None:
        await self._repository.add_contacts(contacts)

    async def by_phone_keys(self, numbers: Iterable[str]) -> dict[str, Customer]:
        """Each of ``numbers``' phone keys to the customer :meth:`by_phone` would give, in
        one query (numbers nobody has are left out)."""
        return callers_by_phone(await self._repository.by_phones(numbers))

    async def history(self, customer_id: int, limit: int = 20) -> list[Contact]:
        return await self._repository.history(customer_id, limit)
