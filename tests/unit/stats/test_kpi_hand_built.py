"""Every figure of a hand-built hour of calls, worked out by hand in the comments.

The window is 09:00-10:00 UTC, T = 20 s. Queue calls (waited in seconds):

    call  queue    outcome         waited  agent  talk hold wrap  notes
    c1    sales    answered          10    a1     100   20   30
    c2    sales    answered          20    a2     200    0   10    transferred; waited == T
    c3    sales    answered          45    a1      60    0    0
    c4    sales    abandoned          3                            short when X = 5
    c5    sales    abandoned         15
    c6    sales    abandoned         50
    c7    support  timeout          120
    c8    support  overflowed        30
    c9    support  exit_key          25
    c10   support  answered           5    a2      90   30    0    logged twice: answered,
                                                                   then handled
    c11   support  answered           8    a3                      still talking (not handled)
    c12   support  abandoned          4                            short when X = 5
    c13   support  system_failure    12
    c0    sales    answered           5    a1                      08:59: outside the window
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.acd.model import AgentState
from callcenter.stats.kpi import (
    FIGURES,
    KpiSettings,
    Report,
    Scope,
    ServiceLevelVariant,
    compute,
    definitions,
    figures,
)
from callcenter.stats.live import LiveAccumulator
from callcenter.stats.model import (
    AgentInterval,
    IvrCall,
    QueueCall,
    QueueOutcome,
    Record,
    Window,
)

HOUR = Window(datetime(2024, 3, 4, 9, tzinfo=UTC), datetime(2024, 3, 4, 10, tzinfo=UTC))


def at(minute: float, second: float = 0) -> datetime:
    return HOUR.start + timedelta(minutes=minute, seconds=second)


def unanswered(
    call: str, queue: str, minute: float, outcome: QueueOutcome, waited: float
) -> QueueCall:
    return QueueCall(call, queue, at(minute), outcome, waited)


def answered(
    call: str,
    queue: str,
    minute: float,
    waited: float,
    agent: str,
    talk: float = 0,
    hold: float = 0,
    wrap: float = 0,
    *,
    handled: bool = True,
    transferred: bool = False,
) -> QueueCall:
    answered_at = at(minute, waited)
    return QueueCall(
        call,
        queue,
        at(minute),
        QueueOutcome.ANSWERED,
        waited,
        answered_at=answered_at,
        agent=agent,
        talk=talk,
        hold=hold,
        wrap_up=wrap,
        transferred=transferred,
        handled_at=answered_at + timedelta(seconds=talk + hold + wrap) if handled else None,
    )


def state(
    agent: str, s: AgentState, start: datetime, end: datetime, reason: str = ""
) -> AgentInterval:
    return AgentInterval(agent, s, start, end, reason)


A = AgentState
CALLS: list[Record] = [
    answered("c0", "sales", -1, 5, "a1", 50),
    answered("c1", "sales", 1, 10, "a1", 100, 20, 30),
    answered("c2", "sales", 5, 20, "a2", 200, 0, 10, transferred=True),
    answered("c3", "sales", 10, 45, "a1", 60),
    unanswered("c4", "sales", 12, QueueOutcome.ABANDONED, 3),
    unanswered("c5", "sales", 13, QueueOutcome.ABANDONED, 15),
    unanswered("c6", "sales", 14, QueueOutcome.ABANDONED, 50),
    unanswered("c7", "support", 20, QueueOutcome.TIMEOUT, 120),
    unanswered("c8", "support", 21, QueueOutcome.OVERFLOWED, 30),
    unanswered("c9", "support", 22, QueueOutcome.EXIT_KEY, 25),
    answered("c10", "support", 30, 5, "a2", handled=False),  # first logged when answered
    answered("c11", "support", 31, 8, "a3", handled=False),
    unanswered("c12", "support", 32, QueueOutcome.ABANDONED, 4),
    unanswered("c13", "support", 33, QueueOutcome.SYSTEM_FAILURE, 12),
    answered("c10", "support", 30, 5, "a2", 90, 30, 0),  # ... and again when handled
]

# Agent states. a1: 08:55-09:10 ready (600 s in the window), talking 150, wrap-up 30, paused
# "lunch" 1800, ready 420, ringing 10, talking 60, logged out 530: 3600 s in all.
# a2: ready 1200, talking 300, wrap-up 60, paused "training" 1200, paused "lunch" 600,
# 09:56-10:05 ready (240 s in the window). a3: ready 1680, 09:58-10:02 talking (120 s in).
STATES: list[Record] = [
    state("a1", A.READY, at(-5), at(10)),
    state("a1", A.TALKING, at(10), at(12, 30)),
    state("a1", A.WRAP_UP, at(12, 30), at(13)),
    state("a1", A.PAUSED, at(13), at(43), "lunch"),
    state("a1", A.READY, at(43), at(50)),
    state("a1", A.RINGING, at(50), at(50, 10)),
    state("a1", A.TALKING, at(50, 10), at(51, 10)),
    state("a1", A.LOGGED_OUT, at(51, 10), at(60)),
    state("a2", A.READY, at(0), at(20)),
    state("a2", A.TALKING, at(20), at(25)),
    state("a2", A.WRAP_UP, at(25), at(26)),
    state("a2", A.PAUSED, at(26), at(46), "training"),
    state("a2", A.PAUSED, at(46), at(56), "lunch"),
    state("a2", A.READY, at(56), at(65)),
    state("a3", A.READY, at(30), at(58)),
    state("a3", A.TALKING, at(58), at(62)),
]

# IVR: two self-served, one reached an agent, one reached a queue only, one hung up in a menu,
# one outside the window.
IVR: list[Record] = [
    IvrCall("i1", at(2), completed_in_ivr=True),
    IvrCall("i2", at(3), completed_in_ivr=True),
    IvrCall("i3", at(4), completed_in_ivr=False, reached_queue=True, reached_agent=True),
    IvrCall("i4", at(5), completed_in_ivr=False, reached_queue=True),
    IvrCall("i5", at(6), completed_in_ivr=False),
    IvrCall("i6", at(61), completed_in_ivr=True),
]

LOG = CALLS + STATES + IVR


def run(variant: ServiceLevelVariant, short: float = 0.0) -> Report:
    settings = KpiSettings(20.0, variant, short)
    batch = compute(LOG, HOUR, settings)
    live = LiveAccumulator(HOUR, settings)
    for record in LOG:
        live.add(record)
    assert live.report() == batch
    return batch


def values(
    report: Report, scope: Scope, key: str, variant: ServiceLevelVariant, short: float = 0.0
) -> dict[str, object]:
    totals = {
        Scope.OVERALL: report.overall,
        Scope.QUEUE: report.queues.get(key),
        Scope.AGENT: report.agents.get(key),
    }[scope]
    assert totals is not None
    return dict(figures(totals, scope, KpiSettings(20.0, variant, short)))


IGN, NEG, POS = (
    ServiceLevelVariant.IGNORED,
    ServiceLevelVariant.NEGATIVE,
    ServiceLevelVariant.POSITIVE,
)


def test_overall_counts_and_times_without_short_abandons() -> None:
    v = values(run(IGN), Scope.OVERALL, "", IGN)
    # c1..c13 (c0 entered before the window)
    assert v["offered"] == 13
    assert v["answered"] == 5  # c1 c2 c3 c10 c11
    assert v["answered_within_threshold"] == 4  # c1 (10) c2 (20 <= 20) c10 (5) c11 (8)
    assert v["abandoned"] == 4  # c4 c5 c6 c12
    assert v["abandoned_within_threshold"] == 3  # c4 (3) c5 (15) c12 (4)
    assert v["short_abandoned"] == 0
    assert (v["timeout"], v["overflowed"], v["exit_key"], v["system_failure"]) == (1, 1, 1, 1)
    assert v["transferred"] == 1  # c2
    assert v["handled"] == 4  # c1 c2 c3 c10 (c11 still talking)
    assert v["asa"] == 88 / 5  # (10 + 20 + 45 + 5 + 8) / 5 = 17.6
    # (c1 100+20+30) + (c2 200+10) + (c3 60) + (c10 90+30) = 150 + 210 + 60 + 120 = 540; / 4
    assert v["aht"] == 135.0
    assert v["abandonment_rate"] == 4 / 13
    # handling: a1 talking 150+60 + wrap 30 = 240; a2 300 + 60 = 360; a3 120 -> 720
    # available: a1 ready 600+420 + ringing 10 = 1030; a2 1200+240 = 1440; a3 1680 -> 4150
    assert v["handling_seconds"] == 720.0
    assert v["available_seconds"] == 4150.0
    assert v["occupancy"] == 720 / 4870
    assert v["paused_seconds"] == 3600.0  # 1800 + 1200 + 600
    assert v["paused_seconds_by_reason"] == {"lunch": 2400.0, "training": 1200.0}
    assert v["ivr_self_service_rate"] == 2 / 5  # i1 i2 of i1..i5


@pytest.mark.parametrize(
    ("variant", "short", "expected"),
    [
        # ignored: ans<=T / (offered - aband<=T) = 4 / (13 - 3)
        (IGN, 0.0, 4 / 10),
        # negative: ans<=T / offered = 4 / 13
        (NEG, 0.0, 4 / 13),
        # positive: (ans<=T + aband<=T) / offered = (4 + 3) / 13
        (POS, 0.0, 7 / 13),
        # X = 5 s: c4 (3) and c12 (4) leave offered and abandoned: offered 11, aband<=T 1 (c5)
        # ignored: 4 / (11 - 1); short abandons are all within T, so ignored is unmoved
        (IGN, 5.0, 4 / 10),
        # negative: 4 / 11
        (NEG, 5.0, 4 / 11),
        # positive: (4 + 1) / 11
        (POS, 5.0, 5 / 11),
    ],
)
def test_overall_service_level(variant: ServiceLevelVariant, short: float, expected: float) -> None:
    assert (
        values(run(variant, short), Scope.OVERALL, "", variant, short)["service_level"] == expected
    )


def test_short_abandons_leave_every_figure() -> None:
    v = values(run(NEG, 5.0), Scope.OVERALL, "", NEG, 5.0)
    assert v["offered"] == 11  # 13 - c4 - c12
    assert v["abandoned"] == 2  # c5 c6
    assert v["abandoned_within_threshold"] == 1  # c5
    assert v["short_abandoned"] == 2
    assert v["abandonment_rate"] == 2 / 11
    assert v["answered"] == 5 and v["asa"] == 88 / 5  # answered calls are untouched


@pytest.mark.parametrize(
    ("queue", "variant", "short", "expected"),
    [
        # sales: offered 6 (c1-c6), ans<=T 2 (c1 c2), aband<=T 2 (c4 c5)
        ("sales", IGN, 0.0, 2 / 4),  # 2 / (6 - 2)
        ("sales", NEG, 0.0, 2 / 6),
        ("sales", POS, 0.0, 4 / 6),  # (2 + 2) / 6
        # X = 5: c4 leaves; offered 5, aband<=T 1 (c5)
        ("sales", IGN, 5.0, 2 / 4),  # 2 / (5 - 1)
        ("sales", NEG, 5.0, 2 / 5),
        ("sales", POS, 5.0, 3 / 5),
        # support: offered 7 (c7-c13), ans<=T 2 (c10 c11), aband<=T 1 (c12)
        ("support", IGN, 0.0, 2 / 6),  # 2 / (7 - 1)
        ("support", NEG, 0.0, 2 / 7),
        ("support", POS, 0.0, 3 / 7),
        # X = 5: c12 leaves; offered 6, aband<=T 0
        ("support", IGN, 5.0, 2 / 6),
        ("support", NEG, 5.0, 2 / 6),
        ("support", POS, 5.0, 2 / 6),
    ],
)
def test_queue_service_level(
    queue: str, variant: ServiceLevelVariant, short: float, expected: float
) -> None:
    assert (
        values(run(variant, short), Scope.QUEUE, queue, variant, short)["service_level"] == expected
    )


def test_queue_figures() -> None:
    sales = values(run(IGN), Scope.QUEUE, "sales", IGN)
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (6, 3, 3)
    assert sales["asa"] == 25.0  # (10 + 20 + 45) / 3
    assert sales["aht"] == 140.0  # (150 + 210 + 60) / 3
    assert sales["abandonment_rate"] == 0.5  # 3 / 6
    assert sales["transferred"] == 1
    assert "occupancy" not in sales and "ivr_self_service_rate" not in sales
    support = values(run(IGN), Scope.QUEUE, "support", IGN)
    assert (support["offered"], support["answered"], support["handled"]) == (7, 2, 1)
    assert (support["timeout"], support["overflowed"], support["exit_key"]) == (1, 1, 1)
    assert support["system_failure"] == 1
    assert support["asa"] == 6.5  # (5 + 8) / 2
    assert support["aht"] == 120.0  # c10: 90 + 30
    assert support["abandonment_rate"] == 1 / 7
    short = values(run(IGN, 5.0), Scope.QUEUE, "support", IGN, 5.0)
    assert short["abandonment_rate"] == 0.0  # 0 / 6: a real zero, not a missing value


def test_agent_figures() -> None:
    report = run(IGN)
    assert set(report.agents) == {"a1", "a2", "a3"}
    a1 = values(report, Scope.AGENT, "a1", IGN)
    assert (a1["answered"], a1["handled"]) == (2, 2)  # c1 c3 (c0 outside)
    assert a1["aht"] == 105.0  # (150 + 60) / 2
    assert a1["asa"] == 27.5  # (10 + 45) / 2
    assert a1["occupancy"] == 240 / 1270  # (210 + 30) / (240 + 1020 + 10)
    assert a1["paused_seconds_by_reason"] == {"lunch": 1800.0}
    a2 = values(report, Scope.AGENT, "a2", IGN)
    assert (a2["handled"], a2["transferred"]) == (2, 1)  # c2 c10
    assert a2["aht"] == 165.0  # (210 + 120) / 2
    assert a2["occupancy"] == 0.2  # 360 / (360 + 1440)
    assert a2["paused_seconds_by_reason"] == {"lunch": 600.0, "training": 1200.0}
    assert a2["paused_seconds"] == 1800.0
    a3 = values(report, Scope.AGENT, "a3", IGN)
    assert (a3["answered"], a3["handled"]) == (1, 0)  # c11, still talking
    assert a3["aht"] is None  # nothing handled: no value, not 0
    assert a3["asa"] == 8.0
    assert a3["occupancy"] == 1 / 15  # 120 / (120 + 1680)
    assert a3["paused_seconds_by_reason"] == {}
    assert "offered" not in a3 and "service_level" not in a3


def test_division_by_zero_gives_none() -> None:
    empty = compute([], HOUR, KpiSettings())
    v = figures(empty.overall, Scope.OVERALL, KpiSettings())
    assert v["offered"] == 0
    for name in ("service_level", "asa", "aht", "abandonment_rate", "occupancy"):
        assert v[name] is None, name
    assert v["ivr_self_service_rate"] is None
    assert empty.queues == {} and empty.agents == {}


def test_ignored_variant_with_every_call_abandoned_within_t_has_no_value() -> None:
    calls = [unanswered("x", "q", 1, QueueOutcome.ABANDONED, 5)]
    totals = compute(calls, HOUR, KpiSettings()).overall
    assert figures(totals, Scope.OVERALL, KpiSettings())["service_level"] is None  # 0 / (1 - 1)


def test_queue_thresholds_override_the_default() -> None:
    # sales with T = 45: c3 (45) is within too -> ans<=T 3, aband<=T 2 (c4 c5; c6 waited 50)
    settings = KpiSettings(20.0, NEG, queue_service_level_seconds={"sales": 45.0})
    report = compute(LOG, HOUR, settings)
    assert figures(report.queues["sales"], Scope.QUEUE, settings)["service_level"] == 3 / 6
    # overall: sales 3 + support 2 (c10 c11) within their own T, of 13
    assert figures(report.overall, Scope.OVERALL, settings)["service_level"] == 5 / 13


def test_every_figure_has_a_definition_that_names_its_settings() -> None:
    settings = KpiSettings(20.0, POS, 5.0)
    texts = definitions(Scope.OVERALL, settings)
    assert set(texts) == set(FIGURES)
    assert all(texts.values())
    assert texts["service_level"].startswith(
        "Service level (T = 20 s), abandons within T count in favour"
    )
    assert "T = 20 s" in texts["service_level"]
    assert "Abandons under 5 s are not counted" in texts["offered"]
    assert "Abandons under" not in definitions(Scope.OVERALL, KpiSettings())["offered"]
    assert "X = 5 s" in texts["short_abandoned"]
    per_queue = KpiSettings(queue_service_level_seconds={"sales": 30.0})
    assert "T = 30 s" in FIGURES["service_level"].describe(per_queue, "sales")
    assert "by default 20 s" in FIGURES["service_level"].describe(per_queue)
    assert set(definitions(Scope.AGENT, settings)) == {
        name for name, figure in FIGURES.items() if Scope.AGENT in figure.scopes
    }


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="service_level_seconds"):
        KpiSettings(-1.0)
    with pytest.raises(ValueError, match="short_abandon_seconds"):
        KpiSettings(short_abandon_seconds=float("nan"))
