"""Random event logs for the statistics tests, from seeded generators.

Queue calls with every outcome (answered calls logged once when answered and, usually, again
later in the log when handled), agent intervals that may straddle the day's edges, IVR calls,
records outside the day, and random KPI settings.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from callcenter.acd.model import AgentState
from callcenter.stats.kpi import KpiSettings, ServiceLevelVariant
from callcenter.stats.model import (
    AgentInterval,
    IvrCall,
    QueueCall,
    QueueOutcome,
    Record,
    Window,
)

DAY = Window(datetime(2024, 5, 6, tzinfo=UTC), datetime(2024, 5, 7, tzinfo=UTC))
QUEUES = ("sales", "support", "vip")
AGENTS = ("a1", "a2", "a3", "a4")
REASONS = ("", "lunch", "training", "no_answer")


def _instant(rng: random.Random) -> datetime:
    # mostly inside the day, sometimes just outside it
    return DAY.start + timedelta(seconds=rng.uniform(-3600, 90000))


def _seconds(rng: random.Random, high: float) -> float:
    # whole seconds, fractions, and values right at typical thresholds
    return rng.choice([float(rng.randint(0, int(high))), rng.uniform(0, high), 5.0, 20.0])


def call(rng: random.Random, n: int) -> list[QueueCall]:
    queue = rng.choice(QUEUES)
    entered = _instant(rng)
    outcome = rng.choice(list(QueueOutcome))
    waited = _seconds(rng, 120)
    if outcome is not QueueOutcome.ANSWERED:
        return [QueueCall(f"c{n}", queue, entered, outcome, waited)]
    answered_at = entered + timedelta(seconds=waited)
    agent = rng.choice(AGENTS)
    first = QueueCall(f"c{n}", queue, entered, outcome, waited, answered_at, agent)
    talk, hold, wrap = _seconds(rng, 600), _seconds(rng, 60), _seconds(rng, 60)
    final = QueueCall(
        f"c{n}",
        queue,
        entered,
        outcome,
        waited,
        answered_at,
        agent,
        talk,
        hold,
        wrap,
        transferred=rng.random() < 0.2,
        handled_at=answered_at + timedelta(seconds=talk + hold + wrap),
    )
    return [first, final] if rng.random() < 0.8 else [first]


def _interval(rng: random.Random) -> AgentInterval:
    start = _instant(rng)
    end = start + timedelta(seconds=_seconds(rng, 7200))
    state = rng.choice(list(AgentState))
    reason = rng.choice(REASONS) if state is AgentState.PAUSED else ""
    return AgentInterval(rng.choice(AGENTS), state, start, end, reason)


def _ivr(rng: random.Random, n: int) -> IvrCall:
    completed = rng.random() < 0.4
    queue = not completed and rng.random() < 0.7
    return IvrCall(f"i{n}", _instant(rng), completed, queue, queue and rng.random() < 0.6)


def random_log(rng: random.Random, size: int) -> list[Record]:
    log: list[Record] = []
    pending: list[QueueCall] = []  # handled records still to be logged
    for n in range(size):
        kind = rng.random()
        if kind < 0.5:
            first, *later = call(rng, n)
            log.append(first)
            pending.extend(later)
        elif kind < 0.8:
            log.append(_interval(rng))
        else:
            log.append(_ivr(rng, n))
        if pending and rng.random() < 0.3:
            log.append(pending.pop(rng.randrange(len(pending))))
    return log + pending


def random_settings(rng: random.Random) -> KpiSettings:
    return KpiSettings(
        service_level_seconds=rng.choice([0.0, 10.0, 20.0, 30.5]),
        service_level_variant=rng.choice(list(ServiceLevelVariant)),
        short_abandon_seconds=rng.choice([0.0, 0.0, 5.0, 12.25]),
        queue_service_level_seconds=rng.choice([{}, {"vip": 10.0}]),
    )
