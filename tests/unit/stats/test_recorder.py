"""The recorder turns what the ACD core publishes into records; figures follow from them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TypeVar

from callcenter.acd.model import (
    AgentPause,
    AgentState,
    AgentStateChanged,
    AgentUnpause,
    CallerOutcome,
    QueueConfig,
)
from callcenter.calls.model import CallRecord
from callcenter.stats.kpi import KpiSettings, Scope, compute, figures
from callcenter.stats.live import LiveAccumulator
from callcenter.stats.model import AgentInterval, IvrCall, QueueCall, QueueOutcome, Record, Window
from callcenter.stats.recorder import CallTransferred, HoldChanged, Recorder
from tests.unit.acd.harness import T0, Driver, agents, at

R = TypeVar("R", QueueCall, AgentInterval, IvrCall)


class Feed:
    """The ACD driver with a recorder listening to its domain events."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.recorder = Recorder()
        self.records: list[Record] = []

    def __call__(self, commands: Iterable[object]) -> None:
        for command in commands:
            if isinstance(command, AgentStateChanged | CallerOutcome):
                self.records += self.recorder.apply(command)

    def pbx(self, event: HoldChanged | CallTransferred | CallRecord) -> None:
        self.records += self.recorder.apply(event)

    def of(self, kind: type[R]) -> list[R]:
        return [r for r in self.records if isinstance(r, kind)]


def test_an_answered_call_is_logged_at_answer_and_again_when_handled() -> None:
    d = Driver([QueueConfig("q", wrap_up=30)], agents("a1"))
    feed = Feed(d)
    feed(d.login("a1"))
    feed(d.arrive("c1"))  # t=0, rings a1
    d.advance(5)
    feed(d.answer("a1"))  # t=5: waited 5
    d.advance(5)
    feed(d.arrive("c2"))  # t=10, waits: a1 is busy
    d.advance(10)
    feed.pbx(HoldChanged("c1", True, d.t))  # t=20
    d.advance(15)
    feed.pbx(HoldChanged("c1", False, d.t))  # t=35: 15 s on hold
    d.advance(5)
    feed(d.end("c2"))  # t=40: c2 abandons after 30 s
    d.advance(25)
    feed(d.end("c1"))  # t=65: connected 60 s, of which 15 on hold
    feed(d.advance(40))  # wrap-up ends at t=95
    calls = feed.of(QueueCall)
    assert [(c.call, c.handled) for c in calls] == [("c1", False), ("c2", False), ("c1", True)]
    first, c2, final = calls
    assert first.key == final.key and first.entered_at == T0
    assert (final.waited, final.talk, final.hold, final.wrap_up) == (5.0, 45.0, 15.0, 30.0)
    assert final.handled_at == at(95)
    assert (c2.outcome, c2.waited, c2.entered_at) == (QueueOutcome.ABANDONED, 30.0, at(10))
    states = [(i.state, i.start, i.end) for i in feed.of(AgentInterval)]
    assert states == [
        (AgentState.READY, at(0), at(0)),
        (AgentState.RINGING, at(0), at(5)),
        (AgentState.TALKING, at(5), at(65)),
        (AgentState.WRAP_UP, at(65), at(95)),
    ]
    window = Window(T0, T0 + timedelta(hours=1))
    settings = KpiSettings()
    report = compute(feed.records, window, settings)
    live = LiveAccumulator(window, settings)
    for record in feed.records:
        live.add(record)
    assert live.report() == report
    v = figures(report.overall, Scope.OVERALL, settings)
    assert (v["offered"], v["answered"], v["abandoned"], v["handled"]) == (2, 1, 1, 1)
    assert v["aht"] == 90.0  # 45 + 15 + 30
    assert v["asa"] == 5.0
    assert v["service_level"] == 1 / 2  # ignored: 1 / (2 - 0); c2 left after 30 s > 20 s
    assert v["occupancy"] == 90 / 95  # (60 + 30) / (90 + ringing 5)


def test_transfer_without_wrap_up_and_a_pause_with_its_reason() -> None:
    d = Driver([QueueConfig("q")], agents("a1"))
    feed = Feed(d)
    feed(d.login("a1"))
    d.advance(10)
    feed(d.send(AgentPause("a1", "lunch", d.t)))  # t=10
    d.advance(50)
    feed(d.send(AgentUnpause("a1", d.t)))  # t=60
    feed(d.arrive("c1"))
    d.advance(2)
    feed(d.answer("a1"))  # t=62
    d.advance(30)
    feed.pbx(HoldChanged("c1", True, d.t))  # t=92, never taken off hold by the agent
    d.advance(8)
    feed.pbx(CallTransferred("c1", d.t))  # t=100
    feed(d.end("c1"))  # the agent's leg ends with the transfer
    final = feed.of(QueueCall)[-1]
    # connected 62..100 = 38 s: 30 talking, 8 on hold; no wrap-up configured
    assert (final.talk, final.hold, final.wrap_up, final.transferred) == (30.0, 8.0, 0.0, True)
    assert final.handled_at == at(100)
    paused = [i for i in feed.of(AgentInterval) if i.state is AgentState.PAUSED]
    assert paused == [AgentInterval("a1", AgentState.PAUSED, at(10), at(60), "lunch")]


def test_timeout_outcome_is_final_at_once() -> None:
    d = Driver([QueueConfig("q", max_wait=60)], agents("a1"))
    feed = Feed(d)
    feed(d.arrive("c1"))
    feed(d.advance(61))
    (record,) = feed.of(QueueCall)
    assert record == QueueCall("c1", "q", T0, QueueOutcome.TIMEOUT, 60.0)


def ledger_row(call: str, path: tuple[str, ...], outcome: str) -> CallRecord:
    return CallRecord(call, T0, T0, at(300), "100", "", "from-callers", "4000", outcome, 16, path)


def test_ivr_calls_from_closed_ledger_rows() -> None:
    d = Driver([QueueConfig("q")], agents("a1"))
    feed = Feed(d)
    feed(d.login("a1"))
    feed(d.arrive("c1"))
    feed(d.answer("a1"))
    feed.pbx(ledger_row("c1", ("menu:main", "enqueue:q"), "completed"))
    feed.pbx(ledger_row("c2", ("menu:main", "fod:price-list"), "completed_in_ivr"))
    feed.pbx(ledger_row("c3", ("menu:main", "voicemail:sales"), "completed_in_ivr"))
    feed.pbx(ledger_row("c4", (), "abandoned"))  # never reached the IVR
    assert feed.of(IvrCall) == [
        IvrCall("c1", T0, completed_in_ivr=False, reached_queue=True, reached_agent=True),
        IvrCall("c2", T0, completed_in_ivr=True),
        IvrCall("c3", T0, completed_in_ivr=False),  # a voice message hands off to people
    ]
    window = Window(T0, T0 + timedelta(hours=1))
    totals = compute(feed.records, window, KpiSettings()).overall
    assert figures(totals, Scope.OVERALL, KpiSettings())["ivr_self_service_rate"] == 1 / 3


def test_a_state_stamped_before_its_predecessor_closes_it_with_no_length() -> None:
    recorder = Recorder()
    recorder.apply(AgentStateChanged("a1", AgentState.READY, "", at(10)))
    (interval,) = recorder.apply(AgentStateChanged("a1", AgentState.RINGING, "", at(9)))
    assert isinstance(interval, AgentInterval)
    assert (interval.state, interval.start, interval.end) == (AgentState.READY, at(10), at(10))
