"""The live accumulator always equals the batch computation over the same records.

Random logs from seeded generators (:mod:`tests.unit.stats.logs`), random settings. After
every record the accumulator's report must equal :func:`compute` over the log so far.
"""

from __future__ import annotations

import random

import pytest

from callcenter.stats.kpi import KpiSettings, Scope, compute, figures
from callcenter.stats.live import LiveAccumulator
from tests.unit.stats.logs import DAY, call, random_log, random_settings


@pytest.mark.parametrize("seed", range(60))
def test_accumulator_equals_batch_after_every_record(seed: int) -> None:
    rng = random.Random(seed)
    settings = random_settings(rng)
    log = random_log(rng, 40)
    live = LiveAccumulator(DAY, settings)
    for i, record in enumerate(log):
        live.add(record)
        assert live.report() == compute(log[: i + 1], DAY, settings), f"after record {i}"


@pytest.mark.parametrize("seed", range(5))
def test_accumulator_equals_batch_on_long_logs(seed: int) -> None:
    rng = random.Random(1000 + seed)
    settings = random_settings(rng)
    log = random_log(rng, 3000)
    live = LiveAccumulator(DAY, settings)
    for record in log:
        live.add(record)
    batch = compute(log, DAY, settings)
    report = live.report()
    assert report == batch
    assert figures(report.overall, Scope.OVERALL, settings) == figures(
        batch.overall, Scope.OVERALL, settings
    )
    for queue, totals in batch.queues.items():
        assert live.totals(Scope.QUEUE, queue) == totals
        assert figures(report.queues[queue], Scope.QUEUE, settings) == figures(
            totals, Scope.QUEUE, settings
        )
    for agent, totals in batch.agents.items():
        assert live.totals(Scope.AGENT, agent) == totals


def test_a_replaced_call_is_counted_once() -> None:
    rng = random.Random(7)
    while True:
        first, *later = call(rng, 1)
        if later and DAY.holds(first.entered_at):
            break
    live = LiveAccumulator(DAY, KpiSettings())
    for record in (first, later[0], later[0]):
        live.add(record)
    calls = live.totals(Scope.OVERALL).calls
    assert (calls.offered, calls.answered, calls.handled) == (1, 1, 1)
