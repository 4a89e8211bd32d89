"""Complaint rates by product model, by region, and by model within a region.

Theory of operation. A *complaint call* is a call (one Asterisk linkedid) that entered one of
the complaint queues (``stats.complaint_queues``) within the window, whatever its outcome:
answered, abandoned or sent elsewhere, the caller called to complain. A call that entered a
complaint queue twice (sent back by overflow) is one complaint call.

The caller is the ledger row's caller number; the customer is the customer record holding that
number (numbers compared in canonical form, :func:`~callcenter.customers.model.phone_key`; when
several records share a number, the most recently updated one, as the caller-ID look-up does).

Per product model, per region and per (model, region), three figures (:data:`DEFINITIONS`):

- ``complaints``: complaint calls whose caller owns the model (lives in the region). A caller
  owning several models counts once under each of them, so the model rows may add up to more
  than the calls; several units of one model count once.
- ``customers``: customers in the records as stored now (the installed base) owning the model
  (living in the region).
- ``rate_per_100``: ``complaints / customers * 100``; ``None`` when there are no customers.

A complaint call whose caller is not a known customer is counted under *unknown* in every
table; so is, in the model table, a call by a customer without products, and, in the region
table, one by a customer without a region. Nothing here does I/O: the records, the ledger rows
and the customers are given.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from callcenter.calls.model import CallRecord
from callcenter.customers.model import Customer, callers_by_phone, phone_key
from callcenter.stats.model import QueueCall, Record, Window

UNKNOWN = "unknown"
Profile = tuple[str, Collection[str]]
"""What the rates need of one customer record: its region and its product models."""
_KeysOf = Callable[[str, frozenset[str]], list[tuple[str, ...]]]

DEFINITIONS: Mapping[str, str] = MappingProxyType(
    {
        "complaints": "Calls that entered a complaint queue ({queues}) in the period, whatever"
        " their outcome, one per call, whose caller owns the model or lives in the region."
        " The caller is the customer record holding the caller's number; a caller owning"
        " several models counts under each.",
        "customers": "Customers in the records (as stored now) owning the model or living in"
        " the region.",
        "rate_per_100": "Complaints per 100 customers: complaints / customers * 100; no value"
        " (null) when there are no customers.",
        "unknown": "Complaint calls that cannot be placed: the caller is not a known customer"
        " (or, per model, owns no product; per region, has no region).",
    }
)


@dataclass(frozen=True, slots=True)
class RateRow:
    """One model, region or (model, region): ``key`` holds one value per dimension."""

    key: tuple[str, ...]
    complaints: int
    customers: int

    @property
    def rate_per_100(self) -> float | None:
        return 100 * self.complaints / self.customers if self.customers else None


@dataclass(frozen=True, slots=True)
class RateTable:
    """The rows of one breakdown (sorted by key) and the complaint calls it cannot place."""

    dimensions: tuple[str, ...]
    rows: tuple[RateRow, ...]
    unknown: int


@dataclass(frozen=True, slots=True)
class ComplaintReport:
    window: Window
    queues: tuple[str, ...]
    complaint_calls: int
    unknown_callers: int  # complaint calls whose caller is not a known customer
    by_model: RateTable
    by_region: RateTable
    by_model_region: RateTable

    @property
    def tables(self) -> tuple[RateTable, ...]:
        return (self.by_model, self.by_region, self.by_model_region)


def complaint_calls(
    records: Iterable[Record], window: Window, queues: Collection[str]
) -> list[str]:
    """The linkedids of the calls that entered a complaint queue in ``window``, in log order."""
    seen: dict[str, None] = {}
    for record in records:
        if (
            isinstance(record, QueueCall)
            and record.queue in queues
            and window.holds(record.entered_at)
        ):
            seen.setdefault(record.call, None)
    return list(seen)


def complaint_rates(
    records: Iterable[Record],
    window: Window,
    queues: Collection[str],
    ledger: Iterable[CallRecord],
    matched: Iterable[Customer],
    population: Iterable[Profile],
) -> ComplaintReport:
    """The complaint report: ``records`` from the statistics log, ``ledger`` the rows of the
    complaint calls, ``matched`` the customers holding their callers' numbers, ``population``
    every customer record's (region, models)."""
    calls = complaint_calls(records, window, queues)
    caller = {row.linkedid: phone_key(row.caller_num) for row in ledger}
    by_phone = callers_by_phone(matched)
    complainants = [by_phone.get(caller.get(call, "")) for call in calls]
    known = [_profile(c) for c in complainants if c is not None]
    unknown = len(complainants) - len(known)
    base = [(region.strip(), _models(models)) for region, models in population]
    return ComplaintReport(
        window=window,
        queues=tuple(sorted(queues)),
        complaint_calls=len(calls),
        unknown_callers=unknown,
        by_model=_table(("model",), _by_model, known, base, unknown),
        by_region=_table(("region",), _by_region, known, base, unknown),
        by_model_region=_table(("model", "region"), _by_model_region, known, base, unknown),
    )


def _table(
    dimensions: tuple[str, ...],
    keys_of: _KeysOf,
    complainants: list[tuple[str, frozenset[str]]],
    base: list[tuple[str, frozenset[str]]],
    unknown_callers: int,
) -> RateTable:
    complaints: Counter[tuple[str, ...]] = Counter()
    unplaced = unknown_callers
    for region, models in complainants:
        keys = keys_of(region, models)
        complaints.update(keys)
        unplaced += not keys
    customers: Counter[tuple[str, ...]] = Counter()
    for region, models in base:
        customers.update(keys_of(region, models))
    rows = tuple(
        RateRow(key, complaints[key], customers[key])
        for key in sorted(complaints.keys() | customers.keys())
    )
    return RateTable(dimensions, rows, unplaced)


def _by_model(region: str, models: frozenset[str]) -> list[tuple[str, ...]]:
    return [(m,) for m in models]


def _by_region(region: str, models: frozenset[str]) -> list[tuple[str, ...]]:
    return [(region,)] if region else []


def _by_model_region(region: str, models: frozenset[str]) -> list[tuple[str, ...]]:
    return [(m, region) for m in models] if region else []


def _profile(customer: Customer) -> tuple[str, frozenset[str]]:
    return customer.region.strip(), _models(p.model for p in customer.products)


def _models(models: Iterable[str]) -> frozenset[str]:
    return frozenset(m.strip() for m in models if m.strip())


# --- serialisation ------------------------------------------------------------------------


def definitions(queues: Collection[str]) -> dict[str, str]:
    """The definition texts with the configured complaint queues filled in."""
    names = ", ".join(sorted(queues)) or "none configured"
    return {name: text.replace("{queues}", names) for name, text in DEFINITIONS.items()}


def to_json(report: ComplaintReport) -> dict[str, object]:
    tables = {"_".join(("by", *t.dimensions)): _table_json(t) for t in report.tables}
    return {
        "start": report.window.start.isoformat(),
        "end": report.window.end.isoformat(),
        "queues": list(report.queues),
        "complaint_calls": report.complaint_calls,
        "unknown_callers": report.unknown_callers,
        "definitions": definitions(report.queues),
        **tables,
    }


def _table_json(table: RateTable) -> dict[str, object]:
    rows = [
        {
            **dict(zip(table.dimensions, row.key, strict=True)),
            "complaints": row.complaints,
            "customers": row.customers,
            "rate_per_100": row.rate_per_100,
        }
        for row in table.rows
    ]
    return {"rows": rows, "unknown": table.unknown}


def to_csv(report: ComplaintReport) -> str:
    """CSV text: one row per model, region and (model, region), each table closed by its
    ``unknown`` row; an empty cell is a value that does not apply (no customers: no rate)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["table", "model", "region", "complaints", "customers", "rate_per_100"])
    for table in report.tables:
        name = "_".join(table.dimensions)
        for row in table.rows:
            cells = dict(zip(table.dimensions, row.key, strict=True))
            rate = row.rate_per_100
            writer.writerow(
                [
                    name,
                    cells.get("model", ""),
                    cells.get("region", ""),
                    row.complaints,
                    row.customers,
                    "" if rate is None else repr(round(rate, 6)),
                ]
            )
        unknown = {d: UNKNOWN for d in table.dimensions}
        writer.writerow(
            [name, unknown.get("model", ""), unknown.get("region", ""), table.unknown, "", ""]
        )
    return out.getvalue()
