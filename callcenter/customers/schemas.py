"""JSON shapes of customers and their contact history."""

from __future__ import annotations

from typing import Any

from callcenter.customers.model import Contact, Customer, CustomerDraft, Product

CUSTOMER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "account": {"type": "string"},
        "name": {"type": "string"},
        "tier": {"type": "string"},
        "phones": {"type": "array", "items": {"type": "string"}},
        "address": {"type": "string"},
        "region": {"type": "string"},
        "products": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "serial": {"type": "string"},
                    "purchased": {"type": "string"},
                },
            },
        },
        "history": {"type": "array", "items": {"type": "object"}},
    },
}


def customer_json(customer: Customer, history: list[Contact] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": customer.id,
        "account": customer.account,
        "name": customer.name,
        "tier": customer.tier,
        "phones": list(customer.phones),
        "address": customer.address,
        "region": customer.region,
        "products": [
            {"model": p.model, "serial": p.serial, "purchased": p.purchased}
            for p in customer.products
        ],
        "updated_at": customer.updated_at.isoformat() if customer.updated_at else None,
    }
    if history is not None:
        body["history"] = [contact_json(c) for c in history]
    return body


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "kind": contact.kind.value,
        "at": contact.at.isoformat(),
        "ref": contact.ref,
        "text": contact.text,
        "author": contact.author,
    }


def draft_from_json(account: str, body: dict[str, Any]) -> CustomerDraft:
    """A draft from a JSON body; wrong types are refused by :func:`check_draft`'s caller."""

    def text(key: str, default: str = "") -> str:
        value = body.get(key, default)
        return value if isinstance(value, str) else ""

    phones = body.get("phones", [])
    products = body.get("products", [])
    return CustomerDraft(
        account=account,
        name=text("name"),
        tier=text("tier", "standard"),
        phones=tuple(p for p in phones if isinstance(p, str)) if isinstance(phones, list) else (),
        address=text("address"),
        region=text("region"),
        products=tuple(
            Product(str(p.get("model", "")), str(p.get("serial", "")), str(p.get("purchased", "")))
            for p in (products if isinstance(products, list) else [])
            if isinstance(p, dict)
        ),
    )
