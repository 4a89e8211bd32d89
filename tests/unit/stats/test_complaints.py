"""Complaint rates by product model and region on a small case counted by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.calls.model import CallRecord
from callcenter.customers.model import Customer, Product
from callcenter.stats.complaints import (
    ComplaintReport,
    RateTable,
    complaint_calls,
    complaint_rates,
    to_csv,
    to_json,
)
from callcenter.stats.model import QueueCall, QueueOutcome, Record, Window

T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAY = Window(T0, T0 + timedelta(days=1))
QUEUES = frozenset({"complaints"})


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def customer(
    id: int, region: str, models: tuple[str, ...], phone: str, updated: float = 0
) -> Customer:
    return Customer(
        id=id,
        account=f"A{id}",
        name=f"customer {id}",
        phones=(phone,) if phone else (),
        region=region,
        products=tuple(Product(m, serial=f"S{id}{n}") for n, m in enumerate(models)),
        updated_at=at(updated),
    )


ANN = customer(1, "Zhejiang", ("X1", "X1"), "8613800000001")  # two units of one model
BO = customer(2, "Zhejiang", ("X1", "Y2"), "8613900000002")
CHEN = customer(3, "Jiangsu", ("Y2",), "8613700000003")
DAI = customer(4, "Jiangsu", (), "8613600000004")  # no products
EVE = customer(5, "", ("Z3",), "8613500000005")  # no region
FAN = customer(6, "Shanghai", ("X1",), "8613400000006")  # never complains
EVERYONE = (ANN, BO, CHEN, DAI, EVE, FAN)


def population(customers: tuple[Customer, ...]) -> list[tuple[str, list[str]]]:
    return [(c.region, [p.model for p in c.products]) for c in customers]


def stay(call: str, queue: str, hours: float, outcome: QueueOutcome) -> QueueCall:
    if outcome is QueueOutcome.ANSWERED:
        return QueueCall(call, queue, at(hours), outcome, 5.0, at(hours), agent="a1")
    return QueueCall(call, queue, at(hours), outcome, 30.0)


def ledger_row(linkedid: str, caller: str) -> CallRecord:
    return CallRecord(linkedid, T0, None, None, caller, "", "hotline", "4000", None, None, ())


RECORDS: list[Record] = [
    stay("k1", "complaints", 9, QueueOutcome.ANSWERED),
    QueueCall(  # k1 again once handled: the same stay
        "k1",
        "complaints",
        at(9),
        QueueOutcome.ANSWERED,
        5.0,
        at(9),
        "a1",
        60,
        0,
        10,
        False,
        at(9.1),
    ),
    stay("k2", "complaints", 10, QueueOutcome.OVERFLOWED),
    stay("k2", "complaints", 10.2, QueueOutcome.ABANDONED),  # sent back: still one call
    stay("k3", "repair", 11, QueueOutcome.ANSWERED),  # not a complaint
    stay("k4", "complaints", 12, QueueOutcome.TIMEOUT),
    stay("k5", "complaints", 13, QueueOutcome.ABANDONED),  # caller is no customer
    stay("k6", "complaints", 14, QueueOutcome.ANSWERED),
    stay("k7", "complaints", -1, QueueOutcome.ANSWERED),  # before the window
    stay("k8", "complaints", 15, QueueOutcome.EXIT_KEY),  # no ledger row
]
LEDGER = [
    ledger_row("k1", "+86 138-0000-0001"),
    ledger_row("k2", "008613900000002"),
    ledger_row("k3", "8613700000003"),
    ledger_row("k4", "86 136 0000 0004"),
    ledger_row("k5", "555"),
    ledger_row("k6", "8613500000005"),
    ledger_row("k7", "8613800000001"),
]


def hand_built() -> ComplaintReport:
    return complaint_rates(RECORDS, DAY, QUEUES, LEDGER, EVERYONE, population(EVERYONE))


def rows(table: RateTable) -> dict[tuple[str, ...], tuple[int, int, float | None]]:
    return {r.key: (r.complaints, r.customers, r.rate_per_100) for r in table.rows}


def test_complaint_calls_are_the_calls_that_entered_a_complaint_queue_in_the_window() -> None:
    assert complaint_calls(RECORDS, DAY, QUEUES) == ["k1", "k2", "k4", "k5", "k6", "k8"]
    assert complaint_calls(RECORDS, DAY, {"repair"}) == ["k3"]
    assert complaint_calls(RECORDS, DAY, ()) == []


def test_rates_by_model_counted_by_hand() -> None:
    report = hand_built()
    assert (report.complaint_calls, report.unknown_callers) == (6, 2)  # k5 (no customer), k8
    assert rows(report.by_model) == {
        ("X1",): (2, 3, pytest.approx(200 / 3)),  # k1 Ann, k2 Bo; owners Ann, Bo, Fan
        ("Y2",): (1, 2, 50.0),  # k2 Bo; owners Bo, Chen
        ("Z3",): (1, 1, 100.0),  # k6 Eve
    }
    assert report.by_model.unknown == 3  # k5, k8, and k4 (Dai owns nothing)


def test_rates_by_region_counted_by_hand() -> None:
    report = hand_built()
    assert rows(report.by_region) == {
        ("Jiangsu",): (1, 2, 50.0),  # k4 Dai; Chen, Dai live there
        ("Shanghai",): (0, 1, 0.0),  # Fan never called
        ("Zhejiang",): (2, 2, 100.0),  # k1 Ann, k2 Bo
    }
    assert report.by_region.unknown == 3  # k5, k8, and k6 (Eve has no region)


def test_rates_by_model_within_region_counted_by_hand() -> None:
    report = hand_built()
    assert rows(report.by_model_region) == {
        ("X1", "Shanghai"): (0, 1, 0.0),
        ("X1", "Zhejiang"): (2, 2, 100.0),
        ("Y2", "Jiangsu"): (0, 1, 0.0),
        ("Y2", "Zhejiang"): (1, 1, 100.0),
    }
    assert report.by_model_region.unknown == 4  # k5, k8, k4 (no products), k6 (no region)


def test_a_shared_number_is_the_most_recently_updated_customer() -> None:
    old = customer(7, "Old town", ("OLD",), "8613800000001", updated=-5)
    report = complaint_rates(
        RECORDS, DAY, QUEUES, LEDGER, (old, *EVERYONE), population((old, *EVERYONE))
    )
    assert rows(report.by_model)[("OLD",)] == (0, 1, 0.0)
    assert rows(report.by_model)[("X1",)][0] == 2


def test_no_customers_means_no_rate_never_zero() -> None:
    report = complaint_rates(RECORDS, DAY, QUEUES, LEDGER, EVERYONE, population=[])
    assert rows(report.by_region)[("Zhejiang",)] == (2, 0, None)


def test_no_complaint_queue_counts_nothing() -> None:
    report = complaint_rates(RECORDS, DAY, (), LEDGER, EVERYONE, population(EVERYONE))
    assert report.complaint_calls == 0
    assert all(r.complaints == 0 for t in report.tables for r in t.rows)
    assert rows(report.by_region)[("Shanghai",)] == (0, 1, 0.0)


def test_json_and_csv() -> None:
    report = hand_built()
    body = to_json(report)
    assert body["complaint_calls"] == 6 and body["queues"] == ["complaints"]
    assert body["by_region"] == {
        "rows": [
            {"region": "Jiangsu", "complaints": 1, "customers": 2, "rate_per_100": 50.0},
            {"region": "Shanghai", "complaints": 0, "customers": 1, "rate_per_100": 0.0},
            {"region": "Zhejiang", "complaints": 2, "customers": 2, "rate_per_100": 100.0},
        ],
        "unknown": 3,
    }
    definitions = body["definitions"]
    assert isinstance(definitions, dict) and "(complaints)" in definitions["complaints"]
    table = list(csv.reader(io.StringIO(to_csv(report))))
    assert table[0] == ["table", "model", "region", "complaints", "customers", "rate_per_100"]
    assert ["model", "X1", "", "2", "3", "66.666667"] in table
    assert ["model", "unknown", "", "3", "", ""] in table
    assert ["model_region", "Y2", "Zhejiang", "1", "1", "100.0"] in table
    assert ["model_region", "unknown", "unknown", "4", "", ""] in table
    assert len(table) == 1 + (3 + 1) + (3 + 1) + (4 + 1)
