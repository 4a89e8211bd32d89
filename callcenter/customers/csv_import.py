"""Customers from CSV: one row per customer, every fault reported with its line.

Columns (header row required): ``account,name,tier,phones,address,region,products``.
``phones`` holds numbers separated by ``;``; ``products`` holds ``model[:serial[:date]]``
items separated by ``;``. Unknown columns are refused (a typo would silently drop data).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from callcenter.customers.model import CustomerDraft, InvalidCustomer, Product, check_draft

COLUMNS = ("account", "name", "tier", "phones", "address", "region", "products")
REQUIRED = ("account", "name")
MAX_ROWS = 1_000_000


@dataclass(frozen=True, slots=True)
class CsvProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def parse_customers(text: str) -> tuple[list[CustomerDraft], list[CsvProblem]]:
    """Drafts for the good rows and a problem for each bad one (nothing is half-read)."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        parts = [f"unknown column {c!r}" for c in unknown]
        parts += [f"missing column {c!r}" for c in missing]
        return [], [CsvProblem(1, "; ".join(parts) + f" (columns: {', '.join(COLUMNS)})")]
    drafts: list[CustomerDraft] = []
    problems: list[CsvProblem] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if len(drafts) + len(problems) >= MAX_ROWS:
            problems.append(CsvProblem(line, f"more than {MAX_ROWS} rows"))
            break
        if None in row:
            problems.append(CsvProblem(line, "more fields than columns"))
            continue
        try:
            draft = check_draft(_draft(row))
        except InvalidCustomer as exc:
            problems.append(CsvProblem(line, str(exc)))
            continue
        if draft.account in seen:
            problems.append(
                CsvProblem(line, f"account {draft.account!r} repeats line {seen[draft.account]}")
            )
            continue
        seen[draft.account] = line
        drafts.append(draft)
    return drafts, problems


def _draft(row: dict[str, str]) -> CustomerDraft:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    products = []
    for item in _items(cell("products")):
        model, _, rest = item.partition(":")
        serial, _, purchased = rest.partition(":")
        products.append(Product(model.strip(), serial.strip(), purchased.strip()))
    return CustomerDraft(
        account=cell("account"),
        name=cell("name"),
        tier=cell("tier") or "standard",
        phones=tuple(_items(cell("phones"))),
        address=cell("address"),
        region=cell("region"),
        products=tuple(products),
    )


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]
