"""AMI events to telephony facts, on recorded Asterisk 22 traffic and on hostile input."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from panoramisk.message import Message

from callcenter.asterisk.translate import (
    caller_text,
    channels_snapshot,
    device_state,
    device_states,
    parse_duration,
    translate,
)
from callcenter.calls.model import CloseCall, Ledger, MarkAnswered, OpenCall, Outcome
from callcenter.clock import FixedClock
from callcenter.telephony import (
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    LiveChannel,
    OutcomeReported,
    TelephonyEvent,
)
from tests.fakes.fake_ami import TRANSCRIPTS, Pairs, load_transcript

T0 = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)
CLOCK = FixedClock(T0)


def message(pairs: Pairs) -> Message:
    """Parse the way the AMI link does (repeated headers become lists)."""
    return Message.from_line("\r\n".join(f"{k}: {v}" for k, v in pairs))


def events_of(name: str) -> list[TelephonyEvent]:
    found = (translate(message(m), CLOCK) for m in load_transcript(TRANSCRIPTS / name))
    return [e for e in found if e is not None]


NEWCHANNEL = {
    "Event": "Newchannel",
    "Channel": "PJSIP/trunk-00000001",
    "ChannelStateDesc": "Ring",
    "CallerIDNum": "5551234",
    "CallerIDName": "Alice",
    "Context": "hotline",
    "Exten": "100",
    "Uniqueid": "1700000000.1",
    "Linkedid": "1700000000.1",
}


# Recorded traffic.


def test_recorded_call_translates_to_created_answered_outcome_hung_up() -> None:
    linkedid = "1795436962.2"
    events = events_of("call_outcome.txt")
    assert events == [
        ChannelCreated(
            linkedid, linkedid, "Local/100@hotline-00000001;1", "", "", "hotline", "100", T0
        ),
        ChannelCreated(
            "1795436962.3", linkedid, "Local/100@hotline-00000001;2", "", "", "hotline", "100", T0
        ),
        ChannelAnswered("1795436962.3", linkedid, T0),
        ChannelAnswered(linkedid, linkedid, T0),
        OutcomeReported(linkedid, "completed_in_ivr", T0),
        ChannelHungUp("1795436962.3", linkedid, 16, "Normal Clearing", T0),
        ChannelHungUp(linkedid, linkedid, 16, "Normal Clearing", T0),
    ]


def test_recorded_call_closes_one_ledger_row_with_its_reported_outcome() -> None:
    ledger = Ledger()
    commands = [c for e in events_of("call_outcome.txt") for c in ledger.apply(e)]
    assert [type(c) for c in commands] == [OpenCall, MarkAnswered, CloseCall]
    close = commands[-1]
    assert isinstance(close, CloseCall)
    assert (close.outcome, close.hangup_cause) == (Outcome.COMPLETED_IN_IVR, 16)


def test_recorded_resync_lists() -> None:
    messages = [message(m) for m in load_transcript(TRANSCRIPTS / "session_setup.txt")]
    snapshot = channels_snapshot(messages, T0)
    assert snapshot.at == T0
    assert {c.channel for c in snapshot.channels} == {
        "Local/s@hold-00000000;1",
        "Local/s@hold-00000000;2",
    }
    first = next(c for c in snapshot.channels if c.channel.endswith(";1"))
    assert first == LiveChannel(
        uniqueid="1795436959.0",
        linkedid="1795436959.0",
        channel="Local/s@hold-00000000;1",
        caller_num="5550001",
        caller_name="Held Caller",
        context="hold",
        exten="s",
        up=True,
        started_at=T0 - parse_duration(str(messages_duration(messages))),
    )
    answer = [m for m in messages if m.actionid == "rec-5"]
    assert device_states(answer) == {"Custom:agent1001": "INUSE"}
    assert "Local/s@hold" in device_states(messages)  # live changes read the same way


def messages_duration(messages: list[Message]) -> str:
    return str(next(m["Duration"] for m in messages if m.event == "CoreShowChannel"))


# Shapes and hostile input.


def test_plain_dicts_are_read_without_regard_to_case() -> None:
    lowered = {k.lower(): v for k, v in NEWCHANNEL.items()}
    assert translate(lowered, CLOCK) == translate(NEWCHANNEL, CLOCK)
    assert isinstance(translate(lowered, CLOCK), ChannelCreated)


@pytest.mark.parametrize("state", ["Ring", "Ringing", "Down", "Busy", ""])
def test_newstate_other_than_up_is_not_an_answer(state: str) -> None:
    event = {**NEWCHANNEL, "Event": "Newstate", "ChannelStateDesc": state}
    assert translate(event, CLOCK) is None


@pytest.mark.parametrize("event", ["VarSet", "Newexten", "DialBegin", "FullyBooted", "", "x" * 999])
def test_other_events_are_none(event: str) -> None:
    assert translate({**NEWCHANNEL, "Event": event}, CLOCK) is None


@pytest.mark.parametrize("missing", ["Uniqueid", "Linkedid"])
def test_events_without_identifiers_are_dropped_with_a_debug_log(
    missing: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = {k: v for k, v in NEWCHANNEL.items() if k != missing}
    with caplog.at_level(logging.DEBUG, logger="callcenter.asterisk.translate"):
        assert translate(event, CLOCK) is None
    assert "dropped" in caplog.text


@pytest.mark.parametrize("uniqueid", ["", "   ", "1.2\r\n3", "x" * 151, "a\x00b"])
def test_unusable_identifiers_drop_the_event(uniqueid: str) -> None:
    assert translate({**NEWCHANNEL, "Uniqueid": uniqueid}, CLOCK) is None
    hangup = {**NEWCHANNEL, "Event": "Hangup", "Uniqueid": uniqueid, "Cause": "16"}
    assert translate(hangup, CLOCK) is None


@pytest.mark.parametrize(
    ("cause", "expected"), [("16", 16), ("", 0), ("abc", 0), ("-1", 0), ("٣", 0)]
)
def test_hangup_cause_is_an_int_and_never_drops_the_hangup(cause: str, expected: int) -> None:
    event = {**NEWCHANNEL, "Event": "Hangup", "Cause": cause, "Cause-txt": "Normal\r\nClearing"}
    hung_up = translate(event, CLOCK)
    assert isinstance(hung_up, ChannelHungUp)
    assert (hung_up.cause, hung_up.cause_text) == (expected, "NormalClearing")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<unknown>", ""),
        ("Alice\r\nAction: Hangup", "AliceAction: Hangup"),
        ("nul\x00\x1b[31m", "nul[31m"),
        ("  Zoë Müller  ", "Zoë Müller"),
        ("x" * 500, "x" * 128),
        ("${SHELL(id)}", "${SHELL(id)}"),
    ],
)
def test_caller_id_is_cleaned(raw: str, clean: str) -> None:
    assert caller_text(raw) == clean
    created = translate({**NEWCHANNEL, "CallerIDName": raw, "CallerIDNum": raw}, CLOCK)
    assert isinstance(created, ChannelCreated)
    assert (created.caller_name, created.caller_num) == (clean, clean)


def test_channel_context_and_exten_are_cleaned_and_bounded() -> None:
    created = translate({**NEWCHANNEL, "Exten": "1\r\n2" + "9" * 400, "Context": "a\x00b"}, CLOCK)
    assert isinstance(created, ChannelCreated)
    assert created.exten == "12" + "9" * 254
    assert created.context == "ab"


def test_user_event_call_outcome() -> None:
    event = {
        "Event": "UserEvent",
        "UserEvent": "CallOutcome",
        "Linkedid": "L1",
        "Outcome": "answered",
    }
    assert translate(event, CLOCK) == OutcomeReported("L1", "answered", T0)


def test_user_event_body_linkedid_wins_over_the_channel_one() -> None:
    pairs = [
        ("Event", "UserEvent"),
        ("Uniqueid", "U2"),
        ("Linkedid", "CHANNEL"),
        ("UserEvent", "CallOutcome"),
        ("Linkedid", "BODY"),
        ("Outcome", "failed"),
    ]
    assert translate(message(pairs), CLOCK) == OutcomeReported("BODY", "failed", T0)


@pytest.mark.parametrize(
    "event",
    [
        {"Event": "UserEvent", "UserEvent": "Other", "Linkedid": "L1", "Outcome": "x"},
        {"Event": "UserEvent", "UserEvent": "CallOutcome", "Linkedid": "L1"},
        {"Event": "UserEvent", "UserEvent": "CallOutcome", "Outcome": "x"},
        {"Event": "UserEvent"},
    ],
)
def test_other_or_incomplete_user_events_are_none(event: dict[str, str]) -> None:
    assert translate(event, CLOCK) is None


def test_repeated_and_odd_headers_do_not_raise() -> None:
    odd: dict[str, object] = {**NEWCHANNEL, "Uniqueid": [], "Context": ["a", "b"], "Exten": 5}
    assert translate(odd, CLOCK) is None
    fine: dict[str, object] = {**NEWCHANNEL, "Context": ["a", "b"], "Exten": 5}
    created = translate(fine, CLOCK)
    assert isinstance(created, ChannelCreated)
    assert (created.context, created.exten) == ("b", "")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:00:07", 7),
        ("01:02:03", 3723),
        ("123:04:05", 443_045),
        ("", 0),
        ("1:2", 0),
        ("a:b:c", 0),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_snapshot_skips_other_messages_and_malformed_entries() -> None:
    listing = [
        {"Response": "Success", "EventList": "start"},
        {"Event": "CoreShowChannel", "Channel": "PJSIP/x", "Duration": "00:01:00"},
        {
            **NEWCHANNEL,
            "Event": "CoreShowChannel",
            "ChannelStateDesc": "Ring",
            "Duration": "00:01:00",
        },
        {"Event": "CoreShowChannelsComplete", "ListItems": "2"},
    ]
    snapshot = channels_snapshot(listing, T0)
    assert len(snapshot.channels) == 1
    assert snapshot.channels[0].up is False
    assert snapshot.channels[0].started_at == T0 - timedelta(minutes=1)


def test_device_state_reads_only_device_state_changes() -> None:
    assert device_state({"Event": "DeviceStateChange", "Device": "PJSIP/a", "State": "INUSE"}) == (
        "PJSIP/a",
        "INUSE",
    )
    assert device_state({"Event": "Newchannel", "Device": "PJSIP/a", "State": "INUSE"}) is None
    assert device_state({"Event": "DeviceStateChange", "Device": "", "State": "INUSE"}) is None
