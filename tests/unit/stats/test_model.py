"""Records, windows and settings check themselves when built."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.acd.model import AgentState
from callcenter.stats.model import (
    AgentInterval,
    InvalidStatsValue,
    IvrCall,
    QueueCall,
    QueueOutcome,
    Window,
)

T = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
ANSWERED = QueueOutcome.ANSWERED


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: QueueCall("c", "q", T.replace(tzinfo=None), ANSWERED, 1), "timezone-aware"),
        (lambda: QueueCall("c", "q", T, QueueOutcome.TIMEOUT, -1), "waited must be"),
        (lambda: QueueCall("c", "q", T, QueueOutcome.TIMEOUT, float("nan")), "waited must be"),
        (lambda: QueueCall("c", "q", T, ANSWERED, 1), "needs agent and answered_at"),
        (
            lambda: QueueCall("c", "q", T, ANSWERED, 1, T - timedelta(seconds=1), "a"),
            "answered before entering",
        ),
        (
            lambda: QueueCall("c", "q", T, ANSWERED, 1, T, "a", handled_at=T - timedelta(1)),
            "handled before it was answered",
        ),
        (
            lambda: QueueCall("c", "q", T, QueueOutcome.ABANDONED, 1, agent="a"),
            "only an answered call has agent",
        ),
        (
            lambda: QueueCall("c", "q", T, QueueOutcome.ABANDONED, 1, talk=3),
            "only an answered call has talk",
        ),
        (
            lambda: AgentInterval("a", AgentState.READY, T, T - timedelta(seconds=1)),
            "ends before it starts",
        ),
        (
            lambda: AgentInterval("a", AgentState.READY, T, T, "lunch"),
            "only a pause has a reason",
        ),
        (lambda: IvrCall("c", T, False, reached_agent=True), "without a queue"),
        (lambda: IvrCall("c", T, True, True, True), "completed in the IVR yet reached an agent"),
        (lambda: Window(T, T), "before it starts"),
    ],
)
def test_contradictions_are_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidStatsValue, match=message) as caught:
        build()
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "stats_invalid_value"


def test_times_in_a_zone_compare_as_instants() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    cest = T.astimezone(berlin)  # 02:30+02:00
    cet = (T + timedelta(minutes=50)).astimezone(berlin)  # 02:20+01:00, later, earlier on the wall
    assert cet.fold == 1
    # an interval from 02:30 CEST to 02:20 CET lasts 50 minutes and is valid
    interval = AgentInterval("a", AgentState.READY, cest, cet)
    window = Window(cest, cet)
    assert window.start == T and window.end == T + timedelta(minutes=50)
    assert window.overlap_us(interval.start, interval.end) == 50 * 60 * 1_000_000
    assert window.holds(T + timedelta(minutes=49))
    early = QueueCall("c", "q", cest, QueueOutcome.TIMEOUT, 1)
    assert early.key == QueueCall("c", "q", T, QueueOutcome.TIMEOUT, 1).key
