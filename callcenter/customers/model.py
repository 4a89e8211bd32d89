"""Customer records: who is calling, their tier, products and contact history.

Theory of operation. A customer is found by a phone number (the caller ID) or by an account
number (typed in the IVR). Numbers are compared in one canonical form (:func:`phone_key`):
digits only, an international prefix (``+`` or ``00``) dropped, so ``+86 138-0013-8000`` and
``008613800138000`` are the same number. A customer's record is what a screen-pop shows and
what an IVR branch can test (``tier``, ``region``, ...): :meth:`Customer.attributes` gives the
flat text view the IVR reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from callcenter.errors import BadRequest

ACCOUNT = re.compile(r"[A-Za-z0-9_-]{1,32}")
_NOT_DIGIT = re.compile(r"[^0-9]")


class InvalidCustomer(BadRequest):
    code = "customer_invalid"


class ContactKind(StrEnum):
    CALL = "call"
    VOICEMAIL = "voicemail"
    FAX = "fax"
    NOTE = "note"
    CALLBACK = "callback"


def phone_key(number: str) -> str:
    """The canonical form of a phone number for matching; "" when it has no digits."""
    text = number.strip()
    digits = _NOT_DIGIT.sub("", text)
    if text.startswith("00"):
        digits = digits[2:]
    return digits


@dataclass(frozen=True, slots=True)
class Product:
    model: str
    serial: str = ""
    purchased: str = ""  # ISO date, as given


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    account: str
    name: str
    tier: str = "standard"
    phones: tuple[str, ...] = ()
    address: str = ""
    region: str = ""
    products: tuple[Product, ...] = ()
    updated_at: datetime | None = None

    def attributes(self) -> dict[str, str]:
        """The flat text view an IVR branch tests (``customer.tier == "vip"``)."""
        return {
            "id": str(self.id),
            "account": self.account,
            "name": self.name,
            "tier": self.tier,
            "region": self.region,
            "products": ",".join(p.model for p in self.products),
        }


@dataclass(frozen=True, slots=True)
class CustomerDraft:
    """A customer to create or replace (CSV import, API), checked by :func:`check_draft`."""

    account: str
    name: str
    tier: str = "standard"
    phones: tuple[str, ...] = ()
    address: str = ""
    region: str = ""
    products: tuple[Product, ...] = field(default_factory=tuple)


def check_draft(draft: CustomerDraft) -> CustomerDraft:
    if not ACCOUNT.fullmatch(draft.account):
        raise InvalidCustomer(f"account {draft.account[:40]!r}: letters, digits, _ and - (1-32)")
    if not draft.name.strip() or len(draft.name) > 128:
        raise InvalidCustomer("name must be 1-128 characters")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", draft.tier):
        raise InvalidCustomer(f"tier {draft.tier[:40]!r}: letters, digits, _ and - (1-32)")
    for phone in draft.phones:
        if not 3 <= len(phone_key(phone)) <= 20:
            raise InvalidCustomer(f"phone {phone[:40]!r} must have 3 to 20 digits")
    if len(draft.phones) > 10 or len(draft.products) > 50:
        raise InvalidCustomer("at most 10 phones and 50 products")
    return draft


@dataclass(frozen=True, slots=True)
class Contact:
    """One entry of a customer's contact history."""

    customer: int
    kind: ContactKind
    at: datetime
    ref: str  # the call's linkedid, the message or fax id; "" for a note
    text: str
    author: str = ""


def callers_by_phone(customers: Iterable[Customer]) -> dict[str, Customer]:
    """Each phone key to its customer; of several sharing a number, the latest updated."""
    best: dict[str, Customer] = {}
    for customer in customers:
        for phone in _phones(customer):
            held = best.get(phone)
            if held is None or _newer(customer, held):
                best[phone] = customer
    return best


def _phones(customer: Customer) -> set[str]:
    return {key for key in (phone_key(p) for p in customer.phones) if key}


def _newer(a: Customer, b: Customer) -> bool:
    def rank(c: Customer) -> tuple[float, int]:
        return (c.updated_at.timestamp() if c.updated_at else float("-inf"), c.id)

    return rank(a) > rank(b)
