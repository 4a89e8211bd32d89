"""Erlang C: the published reference point, monotonic sweeps, exactness at hundreds of agents."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from fractions import Fraction

import pytest

from callcenter.stats import erlang
from callcenter.stats.erlang import (
    InvalidForecast,
    agents_needed,
    asa,
    erlang_c,
    occupancy,
    positions,
    service_level,
    staffing,
    traffic,
)


def exact_pw(a: int, n: int) -> Fraction:
    """KPI.md's formula term by term, in exact rational arithmetic."""
    term = Fraction(1)  # A^k / k!
    below = Fraction(0)
    for k in range(n):
        below += term
        term = term * a / (k + 1)
    last = term * Fraction(n, n - a)
    return last / (below + last)


def test_reference_point() -> None:
    # 100 calls per 30 min, AHT 180 s: A = 100 / 1800 * 180 = 10 Erlangs; T = 20 s; N = 14
    a = traffic(100, 1800, 180)
    assert a == 10.0
    assert round(erlang_c(a, 14), 6) == 0.174132
    assert round(service_level(a, 14, 180, 20), 5) == 0.88835
    assert round(asa(a, 14, 180), 3) == 7.836
    assert round(occupancy(a, 14), 4) == 0.7143
    assert erlang_c(a, 14) == pytest.approx(float(exact_pw(10, 14)), rel=1e-13)


def test_agents_needed_for_80_20_and_shrinkage() -> None:
    assert service_level(10.0, 13, 180, 20) < 0.8 <= service_level(10.0, 14, 180, 20)
    assert agents_needed(10.0, 180, 20, 0.8) == 14
    assert agents_needed(10.0, 180, 20, 0.88835) == 14
    assert agents_needed(10.0, 180, 20, 0.8884) == 15
    assert positions(14, 0.3) == 20  # 14 / 0.7 = 20 exactly: no float rounding up to 21
    assert positions(14, 0.0) == 14
    assert positions(14, 0.25) == 19  # ceil(18.67)
    plan = staffing(100, 1800, 180, 20, 0.8, shrinkage=0.3)
    assert (plan.traffic, plan.agents, plan.positions) == (10.0, 14, 20)
    assert round(plan.wait_probability, 6) == 0.174132
    assert round(plan.service_level, 5) == 0.88835


def test_more_agents_wait_less() -> None:
    a, aht, t = 10.0, 180.0, 20.0
    pws = [erlang_c(a, n) for n in range(11, 40)]
    sls = [service_level(a, n, aht, t) for n in range(11, 40)]
    asas = [asa(a, n, aht) for n in range(11, 40)]
    assert all(x > y for x, y in itertools.pairwise(pws))
    assert all(x < y for x, y in itertools.pairwise(sls))
    assert all(x > y for x, y in itertools.pairwise(asas))
    assert all(0.0 < p < 1.0 for p in pws) and all(0.0 < s <= 1.0 for s in sls)


def test_not_enough_agents_means_everyone_waits() -> None:
    assert erlang_c(10.0, 10) == 1.0 and erlang_c(10.0, 3) == 1.0
    assert service_level(10.0, 10, 180, 20) == 0.0
    assert asa(10.0, 9, 180) == math.inf
    assert occupancy(10.0, 9) == 1.0
    assert erlang_c(0.0, 1) == 0.0 and service_level(0.0, 1, 180, 20) == 1.0
    assert agents_needed(0.0, 180, 20, 0.9) == 1


def test_hundreds_of_agents_stay_exact() -> None:
    pws = [erlang_c(500.0, n) for n in range(520, 601)]
    assert all(0.0 <= p <= 1.0 and math.isfinite(p) for p in pws)
    assert all(x > y for x, y in itertools.pairwise(pws))
    for n in (520, 550, 600):
        assert erlang_c(500.0, n) == pytest.approx(float(exact_pw(500, n)), rel=1e-12)
    sls = [service_level(500.0, n, 180, 20) for n in range(520, 601)]
    assert all(x < y for x, y in itertools.pairwise(sls))


def test_thousands_of_agents() -> None:
    n = agents_needed(5000.0, 180, 20, 0.8)
    assert service_level(5000.0, n - 1, 180, 20) < 0.8 <= service_level(5000.0, n, 180, 20)
    assert 5000 < n < 5100
    assert 0.0 < erlang_c(5000.0, 5050) < 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang_c(-1.0, 5), "traffic must be a finite number >= 0, got -1.0"),
        (lambda: erlang_c(float("inf"), 5), "traffic must be a finite number >= 0"),
        (lambda: erlang_c(1.0, 0), "agents must be a whole number >= 1, got 0"),
        (lambda: erlang_c(1.0, 2.5), "agents must be a whole number >= 1, got 2.5"),  # type: ignore[arg-type]
        (lambda: erlang_c(1.0, True), "agents must be a whole number >= 1, got True"),
        (lambda: erlang_c(1.0, 10**7), "agents must be at most 1000000"),
        (lambda: service_level(1.0, 5, 0.0, 20), "aht must be a finite number > 0, got 0.0"),
        (lambda: service_level(1.0, 5, 180, -1.0), "threshold must be a finite number >= 0"),
        (lambda: agents_needed(1.0, 180, 20, 1.0), "target service level must be > 0 and < 1"),
        (lambda: agents_needed(1.0, 180, 20, 0.0), "target service level must be > 0 and < 1"),
        (
            lambda: agents_needed(50.0, 180, 20, 0.8, max_agents=40),
            "no staffing up to max_agents=40",
        ),
        (lambda: positions(10, 1.0), "shrinkage must be >= 0 and < 1, got 1.0"),
        (lambda: positions(10, -0.1), "shrinkage must be >= 0 and < 1"),
        (lambda: traffic(10, 0, 180), "period_seconds must be a finite number > 0, got 0"),
    ],
)
def test_invalid_inputs_are_refused_clearly(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidForecast) as caught:
        call()
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "invalid_forecast"


def test_erlang_b_recursion() -> None:
    # B(A=2, N=2) = (4/2) / (1 + 2 + 2) = 0.4
    assert erlang.erlang_b(2.0, 2) == pytest.approx(0.4, rel=1e-15)
