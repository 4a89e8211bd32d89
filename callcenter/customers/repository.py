"""Customers, their phone numbers and contact history in SQL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from callcenter.customers.model import (
    Contact,
    ContactKind,
    Customer,
    CustomerDraft,
    Product,
    phone_key,
)
from callcenter.errors import NotFound
from callcenter.storage.db import Database
from callcenter.storage.tables import (
    CALLER_LENGTH,
    NOTE_LENGTH,
    contact_history,
    customer_phones,
    customers,
)
from callcenter.storage.text import clean_text

# Numbers looked up per statement by by_phones (well under every backend's parameter limit).
LOOKUP_CHUNK = 500


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class SqlCustomerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert(self, draft: CustomerDraft, at: datetime) -> Customer:
        """Create the customer with this account, or replace its record (phones included)."""
        values = {
            "account": draft.account,
            "name": clean_text(draft.name, CALLER_LENGTH),
            "tier": draft.tier,
            "address": clean_text(draft.address, NOTE_LENGTH),
            "region": clean_text(draft.region, CALLER_LENGTH),
            "products": json.dumps(
                [[p.model, p.serial, p.purchased] for p in draft.products], ensure_ascii=False
            ),
            "updated_at": at,
        }
        async with self._db.transaction() as conn:
            found = (
                await conn.execute(
                    select(customers.c.id).where(customers.c.account == draft.account)
                )
            ).first()
            if found is None:
                result = await conn.execute(insert(customers).values(**values))
                customer_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            else:
                customer_id = int(found.id)
                await conn.execute(
                    update(customers).where(customers.c.id == customer_id).values(**values)
                )
                await conn.execute(
                    delete(customer_phones).where(customer_phones.c.customer_id == customer_id)
                )
            keys = dict.fromkeys(k for k in (phone_key(p) for p in draft.phones) if k)
            for position, key in enumerate(keys):
                await conn.execute(
                    insert(customer_phones).values(
                        customer_id=customer_id, phone=key, position=position
                    )
                )
        return await self.get(customer_id)

    async def get(self, customer_id: int) -> Customer:
        found = await self._load(customers.c.id == customer_id)
        if not found:
            raise CustomerNotFound(f"no customer {customer_id}")
        return found[0]

    async def by_account(self, account: str) -> Customer | None:
        found = await self._load(customers.c.account == account)
        return found[0] if found else None

    async def by_phone(self, number: str) -> Customer | None:
        """The customer with this number (the most recently updated when several share it)."""
        key = phone_key(number)
        if not key:
            return None
        ids = select(customer_phones.c.customer_id).where(customer_phones.c.phone == key)
        found = await self._load(customers.c.id.in_(ids))
        return max(found, key=lambda c: (c.updated_at, c.id)) if found else None

    async def by_phones(self, numbers: Iterable[str]) -> list[Customer]:
        """Every customer holding one of these numbers (once each, any order)."""
        keys = list(dict.fromkeys(k for k in (phone_key(n) for n in numbers) if k))
        found: dict[int, Customer] = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            ids = select(customer_phones.c.customer_id).where(customer_phones.c.phone.in_(chunk))
            found.update((c.id, c) for c in await self._load(customers.c.id.in_(ids)))
        return list(found.values())

    async def profiles(self) -> list[tuple[str, tuple[str, ...]]]:
        """(region, product models) of every customer: the installed base, for reports."""
        query = select(customers.c.region, customers.c.products).order_by(customers.c.id)
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [
            (r.region, tuple(str(item[0]) for item in json.loads(r.products or "[]"))) for r in rows
        ]

    async def add_contact(self, contact: Contact) -> None:
        await self.add_contacts([contact])

    async def add_contacts(self, contacts: Sequence[Contact]) -> None:
        """One transaction for them all."""
        rows = [
            {
                "customer_id": contact.customer,
                "kind": contact.kind.value,
                "at": contact.at,
                "ref": clean_text(contact.ref, 64),
                "text": clean_text(contact.text, NOTE_LENGTH),
                "author": clean_text(contact.author, 64),
            }
            for contact in contacts
        ]
        if rows:
            async with self._db.transaction() as conn:
                await conn.execute(insert(contact_history), rows)

    async def history(self, customer_id: int, limit: int = 20) -> list[Contact]:
        query = (
            select(contact_history)
            .where(contact_history.c.customer_id == customer_id)
            .order_by(contact_history.c.at.desc(), contact_history.c.id.desc())
            .limit(limit)
        )
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Contact(r.customer_id, ContactKind(r.kind), r.at, r.ref, r.text, r.author) for r in rows
        ]

    async def _load(self, where: Any) -> list[Customer]:
        async with self._db.transaction() as conn:
            rows = (await conn.execute(select(customers).where(where))).all()
            if not rows:
                return []
            phone_rows = (
                await conn.execute(
                    select(customer_phones)
                    .where(customer_phones.c.customer_id.in_([r.id for r in rows]))
                    .order_by(customer_phones.c.position)
                )
            ).all()
        phones: dict[int, list[str]] = {}
        for p in phone_rows:
            phones.setdefault(p.customer_id, []).append(p.phone)
        return [_customer(r, tuple(phones.get(r.id, ()))) for r in rows]


def _customer(row: Any, phones: tuple[str, ...]) -> Customer:
    products = tuple(Product(*item) for item in json.loads(row.products or "[]"))
    return Customer(
        id=row.id,
        account=row.account,
        name=row.name,
        tier=row.tier,
        phones=phones,
        address=row.address,
        region=row.region,
        products=products,
        updated_at=row.updated_at,
    )
