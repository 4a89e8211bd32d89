"""Erlang C staffing forecast, exactly as KPI.md publishes it.

Theory of operation. Offered traffic is ``A = λ·AHT`` Erlangs (``λ`` calls per second). With
``N`` agents the probability that a caller waits is Erlang C,
``Pw = (A^N/N! · N/(N-A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N-A))``; from it
``SL(T) = 1 - Pw·e^{-(N-A)·T/AHT}``, ``ASA = Pw·AHT/(N-A)`` and occupancy ``A/N``.

Factorials and powers overflow long before a large center's numbers, so ``Pw`` is computed
from Erlang B by its recursion ``B(0) = 1``, ``B(k) = A·B(k-1) / (k + A·B(k-1))``, every term
of which lies in [0, 1], and ``Pw = N·B / (N - A·(1 - B))``; that is exact algebra, stable for
thousands of agents. With ``N <= A`` the queue grows without bound: every caller waits
(``Pw = 1``), the service level is 0, the ASA infinite and the agents fully occupied.

:func:`agents_needed` finds the smallest ``N`` meeting a service-level target, running the
recursion once upwards; :func:`positions` adds shrinkage: ``ceil(N / (1 - shrinkage))``.
Invalid inputs raise :class:`InvalidForecast` naming the input and the value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from callcenter.errors import BadRequest


class InvalidForecast(BadRequest, ValueError):
    """An Erlang C input is out of range; the message names it."""

    code = "invalid_forecast"


MAX_AGENTS = 1_000_000


def traffic(calls: float, period_seconds: float, aht: float) -> float:
    """Offered traffic in Erlangs: ``calls`` arriving over ``period_seconds``, each lasting
    ``aht`` seconds on average."""
    _at_least("calls", calls, 0.0)
    _positive("period_seconds", period_seconds)
    _positive("aht", aht)
    return calls / period_seconds * aht


def erlang_b(traffic: float, agents: int) -> float:
    """Blocking probability of ``agents`` servers offered ``traffic`` Erlangs (no queue)."""
    _traffic(traffic)
    _agents(agents)
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return b


def erlang_c(traffic: float, agents: int) -> float:
    """``Pw``: the probability that a caller has to wait."""
    b = erlang_b(traffic, agents)
    return _pw(traffic, agents, b)


def service_level(traffic: float, agents: int, aht: float, threshold: float) -> float:
    """``SL(T)``: the share of callers answered within ``threshold`` seconds."""
    _positive("aht", aht)
    _at_least("threshold", threshold, 0.0)
    pw = erlang_c(traffic, agents)
    return _sl(traffic, agents, aht, threshold, pw)


def asa(traffic: float, agents: int, aht: float) -> float:
    """Average speed of answer in seconds (``inf`` when ``agents <= traffic``)."""
    _positive("aht", aht)
    pw = erlang_c(traffic, agents)
    return pw * aht / (agents - traffic) if agents > traffic else math.inf


def occupancy(traffic: float, agents: int) -> float:
    """``A/N``, at most 1 (beyond it the queue grows without bound)."""
    _traffic(traffic)
    _agents(agents)
    return min(1.0, traffic / agents)


def agents_needed(
    traffic: float, aht: float, threshold: float, target: float, max_agents: int = MAX_AGENTS
) -> int:
    """The smallest ``N`` with ``SL(threshold) >= target``."""
    _traffic(traffic)
    _positive("aht", aht)
    _at_least("threshold", threshold, 0.0)
    if not (0.0 < target < 1.0):
        raise InvalidForecast(f"target service level must be > 0 and < 1, got {target!r}")
    _agents(max_agents, "max_agents")
    b = 1.0
    for n in range(1, max_agents + 1):
        b = traffic * b / (n + traffic * b)
        if n > traffic and _sl(traffic, n, aht, threshold, _pw(traffic, n, b)) >= target:
            return n
    raise InvalidForecast(
        f"no staffing up to max_agents={max_agents} reaches a service level of {target!r}"
    )


def positions(agents: int, shrinkage: float) -> int:
    """Positions to schedule so that ``agents`` are on the phones after ``shrinkage`` (the
    share of paid time away: breaks, training, absence). ``shrinkage`` is taken as the
    decimal it is written as (0.3 is 3/10), so 14 agents at 0.3 need exactly 20."""
    _agents(agents)
    if not (math.isfinite(shrinkage) and 0.0 <= shrinkage < 1.0):
        raise InvalidForecast(f"shrinkage must be >= 0 and < 1, got {shrinkage!r}")
    return math.ceil(agents / (1 - Fraction(repr(shrinkage))))


@dataclass(frozen=True, slots=True)
class Staffing:
    """A forecast for one interval."""

    traffic: float  # Erlangs
    agents: int  # on the phones
    positions: int  # scheduled, shrinkage included
    wait_probability: float
    service_level: float
    asa: float  # seconds
    occupancy: float


def staffing(
    calls: float,
    period_seconds: float,
    aht: float,
    threshold: float,
    target: float,
    shrinkage: float = 0.0,
) -> Staffing:
    """The staffing that meets ``target`` service level within ``threshold`` seconds."""
    a = traffic(calls, period_seconds, aht)
    n = agents_needed(a, aht, threshold, target)
    return Staffing(
        traffic=a,
        agents=n,
        positions=positions(n, shrinkage),
        wait_probability=erlang_c(a, n),
        service_level=service_level(a, n, aht, threshold),
        asa=asa(a, n, aht),
        occupancy=occupancy(a, n),
    )


def _pw(traffic: float, agents: int, b: float) -> float:
    if agents <= traffic:
        return 1.0
    return agents * b / (agents - traffic * (1.0 - b))


def _sl(traffic: float, agents: int, aht: float, threshold: float, pw: float) -> float:
    if agents <= traffic:
        return 0.0
    return 1.0 - pw * math.exp(-(agents - traffic) * threshold / aht)


def _traffic(value: float) -> None:
    _at_least("traffic", value, 0.0)


def _agents(value: int, name: str = "agents") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidForecast(f"{name} must be a whole number >= 1, got {value!r}")
    if value > MAX_AGENTS:
        raise InvalidForecast(f"{name} must be at most {MAX_AGENTS}, got {value!r}")


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InvalidForecast(f"{name} must be a finite number > 0, got {value!r}")


def _at_least(name: str, value: float, low: float) -> None:
    if not (math.isfinite(value) and value >= low):
        raise InvalidForecast(f"{name} must be a finite number >= {low:g}, got {value!r}")
