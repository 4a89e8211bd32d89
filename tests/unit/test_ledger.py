"""The call-ledger reducer, driven by telephony facts alone (no I/O, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.calls.model import (
    CloseCall,
    CloseLostCalls,
    Ledger,
    MarkAnswered,
    OpenCall,
    Outcome,
    PathReported,
    RecordPath,
)
from callcenter.telephony import (
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    ChannelsSnapshot,
    LiveChannel,
    OutcomeReported,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def created(uid: str, linked: str, t: float = 0) -> ChannelCreated:
    return ChannelCreated(
        uid, linked, f"PJSIP/x-{uid}", "13800138000", "Li", "from-callers", "4000", at(t)
    )


def test_one_channel_call_opens_answers_and_closes_once() -> None:
    ledger = Ledger()
    assert ledger.apply(created("1.1", "1.1")) == [
        OpenCall("1.1", T0, "13800138000", "Li", "from-callers", "4000")
    ]
    assert ledger.apply(ChannelAnswered("1.1", "1.1", at(1))) == [MarkAnswered("1.1", at(1))]
    assert ledger.apply(ChannelAnswered("1.1", "1.1", at(2))) == []
    assert ledger.apply(ChannelHungUp("1.1", "1.1", 16, "Normal Clearing", at(9))) == [
        CloseCall("1.1", at(9), Outcome.COMPLETED, 16)
    ]
    assert ledger.apply(ChannelHungUp("1.1", "1.1", 16, "Normal Clearing", at(10))) == []
    assert ledger.live_calls == 0


def test_unanswered_call_is_abandoned() -> None:
    ledger = Ledger()
    ledger.apply(created("1.1", "1.1"))
    (close,) = ledger.apply(ChannelHungUp("1.1", "1.1", 16, "", at(3)))
    assert isinstance(close, CloseCall) and close.outcome is Outcome.ABANDONED


def test_reported_outcome_wins_and_closes_after_last_channel() -> None:
    ledger = Ledger()
    ledger.apply(created("1.1", "1.1"))
    assert ledger.apply(created("1.2", "1.1", 1)) == []
    ledger.apply(ChannelAnswered("1.1", "1.1", at(1)))
    ledger.apply(OutcomeReported("1.1", "completed_in_ivr", at(2)))
    assert ledger.apply(ChannelHungUp("1.1", "1.1", 16, "", at(5))) == []
    (close,) = ledger.apply(ChannelHungUp("1.2", "1.1", 17, "", at(6)))
    assert close == CloseCall("1.1", at(6), Outcome.COMPLETED_IN_IVR, 16)


def test_unknown_or_lost_outcome_reports_are_ignored() -> None:
    ledger = Ledger()
    ledger.apply(created("1.1", "1.1"))
    ledger.apply(OutcomeReported("1.1", "lost", at(1)))
    ledger.apply(OutcomeReported("1.1", "'; DROP TABLE calls; --", at(1)))
    (close,) = ledger.apply(ChannelHungUp("1.1", "1.1", 16, "", at(3)))
    assert isinstance(close, CloseCall) and close.outcome is Outcome.ABANDONED


def test_path_is_recorded_only_for_live_calls() -> None:
    ledger = Ledger()
    assert ledger.apply(PathReported("9.9", ("greeting",))) == []
    ledger.apply(created("1.1", "1.1"))
    assert ledger.apply(PathReported("1.1", ("greeting", "key:1"))) == [
        RecordPath("1.1", ("greeting", "key:1"))
    ]


def test_resync_adopts_live_calls_and_closes_the_rest() -> None:
    ledger = Ledger()
    ledger.apply(created("1.1", "1.1"))
    ledger.apply(OutcomeReported("1.1", "completed_in_ivr", at(1)))
    live = LiveChannel("2.1", "2.1", "PJSIP/y", "100", "", "from-callers", "4000", True, at(-30))
    commands = ledger.apply(ChannelsSnapshot((live,), at(60)))
    assert commands == [
        OpenCall("2.1", at(-30), "100", "", "from-callers", "4000"),
        MarkAnswered("2.1", at(-30)),
        CloseLostCalls(frozenset({"2.1"}), at(60)),
    ]
    assert ledger.live_calls == 1
    # the call that vanished is gone from memory; its late hang-up changes nothing
    assert ledger.apply(ChannelHungUp("1.1", "1.1", 16, "", at(61))) == []
    (close,) = ledger.apply(ChannelHungUp("2.1", "2.1", 16, "", at(62)))
    assert close == CloseCall("2.1", at(62), Outcome.COMPLETED, 16)


def test_resync_keeps_what_was_known_of_a_call_still_live() -> None:
    ledger = Ledger()
    ledger.apply(created("1.1", "1.1"))
    ledger.apply(OutcomeReported("1.1", "completed_in_ivr", at(1)))
    live = LiveChannel("1.1", "1.1", "PJSIP/x", "100", "", "from-callers", "4000", True, T0)
    ledger.apply(ChannelsSnapshot((live,), at(5)))
    (close,) = ledger.apply(ChannelHungUp("1.1", "1.1", 16, "", at(6)))
    assert isinstance(close, CloseCall) and close.outcome is Outcome.COMPLETED_IN_IVR


def test_agent_legs_belong_to_the_callers_call() -> None:
    from callcenter.telephony import owning_call

    assert owning_call("1795438382.0-o3") == "1795438382.0"
    assert owning_call("1795438382.0") == "1795438382.0"
    assert owning_call("-o3") == "-o3" and owning_call("a-ox") == "a-ox"
