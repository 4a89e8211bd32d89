"""The call controls against a fake AMI that records every action (after the client's own
sanitising) and a real ACD core driven to a connected call: which actions each control sends,
what it refuses, and what AMI events make it do next."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from callcenter.acd.call_control import AcdLegs
from callcenter.acd.core import Acd, UnknownAgent, UnknownQueue
from callcenter.acd.model import (
    AcdEvent,
    AgentConfig,
    AgentLogin,
    AgentOnCall,
    CallerArrived,
    OfferAnswered,
    QueueConfig,
    RingAgent,
)
from callcenter.acd.service import AcdCore
from callcenter.asterisk.sanitize import FieldValue, Headers, sanitize_action
from callcenter.clock import FixedClock
from callcenter.desk.controls import (
    BadTarget,
    ControlConflict,
    DeskControls,
    NoCall,
    SpyMode,
    Target,
    TargetKind,
    conference_room,
    recording_file,
)
from callcenter.errors import AmiError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CALL = "1700000000.17"
CALLER = "PJSIP/callers-00000011"
LEG = "PJSIP/agent1001-00000012"
ALLOWED = "+4930123456"


class FakeAmi:
    """Records actions as they would go on the wire; answers CoreShowChannels and Getvar from
    what the test put here; ``emit`` plays an AMI event to the subscriber."""

    def __init__(self) -> None:
        self.actions: list[Headers] = []
        self.channels: list[dict[str, str]] = []
        self.variables: dict[tuple[str, str], str] = {}
        self.refuse: set[str] = set()
        self._callback: Callable[[Any], None] | None = None

    async def send_action(
        self,
        action: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,
        as_list: bool | None = None,
    ) -> Any:
        headers = sanitize_action(action, fields or {})
        self.actions.append(headers)
        if action in self.refuse:
            raise AmiError(f"{action} failed: No such channel")
        if action == "CoreShowChannels":
            return [{"Event": "CoreShowChannel", **c} for c in self.channels]
        if action == "Getvar":
            key = (str(headers["Channel"]), str(headers["Variable"]))
            return {"Response": "Success", "Value": self.variables.get(key, "")}
        return {"Response": "Success"}

    def subscribe(self, pattern: str, callback: Callable[[Any], None]) -> Callable[[], None]:
        self._callback = callback
        return lambda: None

    def emit(self, **fields: str) -> None:
        assert self._callback is not None
        self._callback(fields)

    def named(self, action: str) -> list[Headers]:
        return [a for a in self.actions if a["Action"] == action]


class FakeAcd:
    def __init__(self, core: Acd) -> None:
        self.core: AcdCore = core
        self.submitted: list[AcdEvent] = []

    def submit(self, event: AcdEvent) -> None:
        self.submitted.append(event)


class FakeLegs:
    def __init__(self) -> None:
        self.legs = AcdLegs()

    def channel_of(self, call: str) -> str | None:
        return self.legs.channel_of(call)


class Desk:
    """The controls with agent1001 talking to CALL (caller CALLER, agent leg LEG)."""

    def __init__(self) -> None:
        agents = [AgentConfig(a, {"q1": 1}) for a in ("agent1001", "agent1002", "agent1003")]
        self.core = Acd([QueueConfig("q1"), QueueConfig("q2")], agents)
        self.ami = FakeAmi()
        self.acd = FakeAcd(self.core)
        self.events = FakeLegs()
        self.controls = DeskControls(self.ami, self.acd, self.events, FixedClock(NOW), [ALLOWED])
        self.core.handle(AgentLogin("agent1001", NOW))
        arrived = CallerArrived(CALL, CALLER, "q1", 0, {}, NOW, NOW)
        (ring,) = [c for c in self.core.handle(arrived) if isinstance(c, RingAgent)]
        self.offer = ring.offer
        self.core.handle(OfferAnswered(ring.offer, NOW))
        self.events.legs.track_caller(CALL, CALLER, NOW)
        self.events.legs.place_offer(ring.offer, CALL, "agent1001")
        self.ami.channels = [
            {"Channel": CALLER, "Uniqueid": CALL},
            {"Channel": LEG, "Uniqueid": ring.offer},
        ]
        self.ami.variables[(CALLER, "CC_QUEUE")] = "q1"
        self.ami.variables[(CALLER, "CC_ENQUEUED")] = "1700000000.5"

    def ready(self, agent: str) -> None:
        self.core.handle(AgentLogin(agent, NOW))


@pytest.fixture
async def desk() -> Desk:
    return Desk()


async def settled(desk: Desk) -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# --- hold and resume ----------------------------------------------------------------------


async def test_hold_moves_caller_to_music_and_agent_leg_apart_in_one_redirect(
    desk: Desk,
) -> None:
    status = await desk.controls.hold("agent1001")
    assert status["held"] is True and status["call"] == CALL
    (redirect,) = desk.ami.named("Redirect")
    assert redirect == {
        "Action": "Redirect",
        "Channel": CALLER,
        "Context": "cc-desk-hold",
        "Exten": "s",
        "Priority": "1",
        "ExtraChannel": LEG,
        "ExtraContext": "cc-desk-park",
        "ExtraExten": "s",
        "ExtraPriority": "1",
    }
    with pytest.raises(ControlConflict):
        await desk.controls.hold("agent1001")


async def test_resume_bridges_the_two_again(desk: Desk) -> None:
    with pytest.raises(ControlConflict):
        await desk.controls.resume("agent1001")
    await desk.controls.hold("agent1001")
    assert (await desk.controls.resume("agent1001"))["held"] is False
    (bridge,) = desk.ami.named("Bridge")
    assert (bridge["Channel1"], bridge["Channel2"]) == (CALLER, LEG)


async def test_no_call_is_a_conflict_and_an_unknown_agent_not_found(desk: Desk) -> None:
    desk.ready("agent1002")
    with pytest.raises(NoCall):
        await desk.controls.hold("agent1002")
    with pytest.raises(UnknownAgent):
        await desk.controls.hold("agent9999")
    with pytest.raises(NoCall):  # the ACD says talking, but Asterisk has no such leg
        desk.ami.channels = [{"Channel": CALLER, "Uniqueid": CALL}]
        await desk.controls.hold("agent1001")


async def test_a_held_caller_whose_agent_hangs_up_waits_in_its_queue_again(desk: Desk) -> None:
    await desk.controls.hold("agent1001")
    desk.ami.emit(Event="Hangup", Channel=LEG, Uniqueid=desk.offer)
    await settled(desk)
    setvars = {str(a["Variable"]): a["Value"] for a in desk.ami.named("Setvar")}
    assert setvars == {"__CC_QUEUE": "q1", "__CC_ENQUEUED": "1700000000.500"}
    assert desk.ami.named("Redirect")[-1]["Context"] == "cc-queue-wait"


async def test_a_held_caller_hanging_up_ends_the_parked_agent_leg(desk: Desk) -> None:
    await desk.controls.hold("agent1001")
    desk.ami.emit(Event="Hangup", Channel=CALLER, Uniqueid=CALL)
    await settled(desk)
    assert [a["Channel"] for a in desk.ami.named("Hangup")] == [LEG]


# --- transfers ----------------------------------------------------------------------------


async def test_blind_transfer_to_an_agent_rings_connects_and_hands_the_pair_to_the_acd(
    desk: Desk,
) -> None:
    desk.ready("agent1002")
    target = desk.controls.check_target("agent", "agent1002", "agent1001")
    answer = await desk.controls.transfer("agent1001", target, attended=False)
    assert answer["transferred"] == {"kind": "agent", "target": "agent1002"}
    (redirect,) = desk.ami.named("Redirect")
    assert (redirect["Context"], redirect["ExtraContext"]) == ("cc-desk-hold", "cc-desk-end")
    desk.ami.emit(Event="Hangup", Channel=LEG, Uniqueid=desk.offer)
    desk.events.legs.forget_caller(CALL)  # what the ACD's legs do on that hangup
    await settled(desk)
    (originate,) = desk.ami.named("Originate")
    ring = str(originate["ChannelId"])
    assert originate["Channel"] == "PJSIP/agent1002" and ring.endswith("-o5000")
    assert originate["Context"] == "cc-desk-leg"
    desk.ami.emit(Event="Newchannel", Channel="PJSIP/agent1002-0000001f", Uniqueid=ring)
    desk.ami.emit(Event="Newstate", ChannelStateDesc="Up", Uniqueid=ring)
    await settled(desk)
    (bridge,) = desk.ami.named("Bridge")
    assert (bridge["Channel1"], bridge["Channel2"]) == (CALLER, "PJSIP/agent1002-0000001f")
    (adopted,) = desk.acd.submitted
    assert isinstance(adopted, AgentOnCall)
    assert (adopted.agent, adopted.call, adopted.queue) == ("agent1002", CALL, "q1")
    assert desk.events.legs.channel_of(CALL) == CALLER


async def test_a_transfer_the_agent_does_not_answer_returns_the_caller_to_its_queue(
    desk: Desk,
) -> None:
    desk.ready("agent1002")
    target = desk.controls.check_target("agent", "agent1002", "agent1001")
    await desk.controls.transfer("agent1001", target, attended=False)
    desk.ami.emit(Event="Hangup", Channel=LEG, Uniqueid=desk.offer)
    await settled(desk)
    ring = str(desk.ami.named("Originate")[0]["ChannelId"])
    desk.ami.emit(Event="OriginateResponse", Response="Failure", Uniqueid=ring, Reason="3")
    await settled(desk)
    assert desk.ami.named("Redirect")[-1]["Context"] == "cc-queue-wait"
    assert desk.acd.submitted == []


async def test_blind_transfer_to_a_queue_waits_for_the_old_leg_then_queues(desk: Desk) -> None:
    target = desk.controls.check_target("queue", "q2", "agent1001")
    await desk.controls.transfer("agent1001", target, attended=False)
    await settled(desk)
    assert desk.ami.named("Setvar") == []  # the old agent leg is still up
    desk.ami.emit(Event="Hangup", Channel=LEG, Uniqueid=desk.offer)
    await settled(desk)
    assert desk.ami.named("Setvar")[0]["Value"] == "q2"
    assert desk.ami.named("Redirect")[-1]["Context"] == "cc-queue-wait"


async def test_blind_transfer_to_an_allowed_number_dials_it_from_the_dialplan(
    desk: Desk,
) -> None:
    target = desk.controls.check_target("number", ALLOWED, "agent1001")
    await desk.controls.transfer("agent1001", target, attended=False)
    (setvar,) = desk.ami.named("Setvar")
    assert (setvar["Channel"], setvar["Variable"], setvar["Value"]) == (
        CALLER,
        "CC_DESK_NUMBER",
        ALLOWED,
    )
    (redirect,) = desk.ami.named("Redirect")
    assert (redirect["Context"], redirect["Exten"]) == ("cc-desk-transfer", "number")
    assert redirect["ExtraContext"] == "cc-desk-end"


async def test_attended_transfer_consults_then_completes(desk: Desk) -> None:
    desk.ready("agent1002")
    target = desk.controls.check_target("agent", "agent1002", "agent1001")
    status = await desk.controls.transfer("agent1001", target, attended=True)
    assert status["held"] and status["consult"]["state"] == "ringing"
    with pytest.raises(ControlConflict):  # not answered yet
        await desk.controls.transfer_complete("agent1001")
    ring = str(desk.ami.named("Originate")[0]["ChannelId"])
    desk.ami.emit(Event="Newstate", ChannelStateDesc="Up", Uniqueid=ring, Channel="PJSIP/x-1")
    await settled(desk)
    assert desk.ami.named("Bridge")[-1]["Channel1"] == LEG  # agent and target talk
    await desk.controls.transfer_complete("agent1001")
    assert desk.ami.named("Bridge")[-1]["Channel1"] == CALLER
    assert desk.ami.named("Bridge")[-1]["Channel2"] == "PJSIP/x-1"
    assert desk.ami.named("Hangup")[-1]["Channel"] == LEG


async def test_attended_transfer_cancelled_bridges_the_caller_back(desk: Desk) -> None:
    target = desk.controls.check_target("number", ALLOWED, "agent1001")
    await desk.controls.transfer("agent1001", target, attended=True)
    ring = str(desk.ami.named("Originate")[0]["ChannelId"])
    assert desk.ami.named("Originate")[0]["Channel"] == f"PJSIP/{ALLOWED}@callers"
    status = await desk.controls.transfer_cancel("agent1001")
    assert status["consult"] is None and status["held"] is False
    assert desk.ami.named("Hangup")[0]["Channel"] == ring
    assert (desk.ami.named("Bridge")[-1]["Channel1"], desk.ami.named("Bridge")[-1]["Channel2"]) == (
        CALLER,
        LEG,
    )


# --- targets and hostile input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("number", "+4930999999"),  # well formed, not allowed
        ("number", "4930123456\r\nAction: Originate"),
        ("number", "1,2"),
        ("agent", "agent1002\r\nAction: Originate"),
        ("agent", "agent1002&PJSIP/evil"),
        ("queue", "q1,1"),
        ("agent", "agent1001"),  # themselves
        ("fax", "1"),
    ],
)
async def test_hostile_or_unknown_targets_are_refused(desk: Desk, kind: str, value: str) -> None:
    desk.ready("agent1002")
    with pytest.raises(BadTarget):
        desk.controls.check_target(kind, value, "agent1001")


async def test_agent_target_must_be_ready_and_queue_must_exist(desk: Desk) -> None:
    with pytest.raises(ControlConflict):
        desk.controls.check_target("agent", "agent1003", "agent1001")  # logged out
    with pytest.raises(UnknownQueue):
        desk.controls.check_target("queue", "q9", "agent1001")
    assert desk.controls.check_target("queue", "q2", "agent1001") == Target(TargetKind.QUEUE, "q2")


async def test_supervisor_phone_is_an_endpoint_or_an_allowed_number(desk: Desk) -> None:
    assert desk.controls.phone_of("supervisor7") == "PJSIP/supervisor7"
    assert desk.controls.phone_of(ALLOWED) == f"PJSIP/{ALLOWED}@callers"
    for hostile in ("sup\r\nAction: Originate", "sup/evil", "5551234", "", "sup&x"):
        with pytest.raises(BadTarget):
            desk.controls.phone_of(hostile)


# --- spying, conference, recording --------------------------------------------------------


@pytest.mark.parametrize("mode", list(SpyMode))
async def test_spy_rings_the_supervisor_into_chanspy_on_the_agent_leg(
    desk: Desk, mode: SpyMode
) -> None:
    answer = await desk.controls.spy("agent1001", mode, "supervisor7")
    (originate,) = desk.ami.named("Originate")
    assert originate["Channel"] == "PJSIP/supervisor7"
    assert (originate["Context"], originate["Exten"]) == ("cc-desk-spy", mode.value)
    assert originate["Variable"] == [f"CC_SPY_TARGET={LEG}"]
    assert answer["spy"] == originate["ChannelId"]


async def test_conference_moves_both_into_the_room_and_rings_the_third(desk: Desk) -> None:
    desk.ready("agent1003")
    target = desk.controls.check_target("agent", "agent1003", "agent1001")
    status = await desk.controls.conference("agent1001", target)
    assert status["conference"] is True
    room = conference_room(CALL)
    assert [(a["Channel"], a["Value"]) for a in desk.ami.named("Setvar")] == [
        (CALLER, room),
        (LEG, room),
    ]
    (redirect,) = desk.ami.named("Redirect")
    assert (redirect["Context"], redirect["Exten"], redirect["ExtraExten"]) == (
        "cc-desk-conference",
        "caller",
        "member",
    )
    (originate,) = desk.ami.named("Originate")
    assert originate["Channel"] == "PJSIP/agent1003"
    assert originate["Variable"] == [f"CC_DESK_ROOM={room}"]
    with pytest.raises(ControlConflict):
        await desk.controls.hold("agent1001")


async def test_recording_runs_beside_the_bridge_and_pauses_by_muting(desk: Desk) -> None:
    status = await desk.controls.record_start("agent1001")
    file = recording_file(CALL, NOW)
    assert status["recording"] == {"file": file, "paused": False}
    (originate,) = desk.ami.named("Originate")
    assert originate["Channel"] == "Local/s@cc-desk-recorder"
    assert originate["Variable"] == [f"CC_SPY_TARGET={LEG}", f"CC_DESK_FILE={file}"]
    assert desk.ami.named("Redirect") == [] and desk.ami.named("Bridge") == []
    await desk.controls.record_pause("agent1001")
    (mute,) = desk.ami.named("MixMonitorMute")
    assert (mute["Channel"], mute["State"]) == (originate["OtherChannelId"], "1")
    assert (await desk.controls.record_resume("agent1001"))["recording"]["paused"] is False
    stopped = await desk.controls.record_stop("agent1001")
    assert stopped["recorded"] == file
    assert desk.ami.named("Hangup")[-1]["Channel"] == originate["ChannelId"]
    with pytest.raises(ControlConflict):
        await desk.controls.record_stop("agent1001")


def test_names_made_from_call_ids_hold_no_dialplan_syntax() -> None:
    assert conference_room("1700000000.17") == "cc-1700000000_17"
    hostile = "1.2,${SHELL(x)}\r\n"
    assert conference_room(hostile) == "cc-1_2___SHELL_x____"
    assert recording_file(hostile, NOW) == "callcenter-1_2___SHELL_x____-20261123-090000.wav"
