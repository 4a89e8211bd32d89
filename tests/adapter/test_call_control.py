"""AmiCallControl's actions for each ``acd.connect`` mode, on a fake AMI that records them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import pytest

from callcenter.acd.call_control import AcdEventSource, AmiCallControl
from callcenter.acd.model import AcdEvent, CallEnded, OfferAnswered
from callcenter.acd.settings import AcdSettings, ConnectMode
from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.sanitize import FieldValue, Headers, sanitize_action
from callcenter.clock import FixedClock
from callcenter.errors import AmiError
from tests.unit.acd.harness import T0

CALLER = "PJSIP/caller-00000001"
AGENT_LEG = "PJSIP/agent1001-00000002"


class RecordingAmi:
    """Actions as they would go on the wire; ``emit`` plays an AMI event to the subscriber."""

    def __init__(self) -> None:
        self.actions: list[Headers] = []
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
        self.actions.append(sanitize_action(action, fields or {}))
        if action in self.refuse:
            raise AmiError(f"{action} failed: No such channel")
        return {"Response": "Success"}

    def subscribe(self, pattern: str, callback: Callable[[Any], None]) -> Callable[[], None]:
        self._callback = callback
        return lambda: None

    def emit(self, **fields: str) -> None:
        assert self._callback is not None
        self._callback(fields)

    def named(self, action: str) -> list[Headers]:
        return [a for a in self.actions if a["Action"] == action]


class Side:
    def __init__(self, mode: ConnectMode) -> None:
        self.ami = RecordingAmi()
        self.events: list[AcdEvent] = []
        self.source = AcdEventSource(cast(AmiClient, self.ami), FixedClock(T0), self.events.append)
        self.source.start()
        self.control = AmiCallControl(cast(AmiClient, self.ami), self.source, mode)

    async def answered_offer(self, *, tracked: bool = True) -> None:
        if tracked:
            self.source.track_caller("c1", CALLER)
        await self.control.ring_agent("c1-o1", "c1", "agent1001", 5)
        self.ami.emit(Event="Newchannel", Uniqueid="c1-o1", Channel=AGENT_LEG)
        self.ami.emit(Event="Newstate", Uniqueid="c1-o1", ChannelStateDesc="Up")
        assert self.events == [OfferAnswered("c1-o1", T0)]


def test_the_default_mode_is_dialplan() -> None:
    assert AcdSettings().connect is ConnectMode.DIALPLAN
    assert AcdSettings.model_validate({"connect": "ami_bridge"}).connect is ConnectMode.AMI_BRIDGE


async def test_dialplan_mode_redirects_the_agent_leg_to_bridge_with_its_peer() -> None:
    side = Side(ConnectMode.DIALPLAN)
    await side.answered_offer()
    (originate,) = side.ami.named("Originate")
    assert f"CC_PEER={CALLER}" in originate["Variable"]

    await side.control.connect(CALLER, "c1-o1")
    assert side.ami.named("Bridge") == []
    (redirect,) = side.ami.named("Redirect")
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"]) == (
        AGENT_LEG,
        "cc-agent-leg",
        "bridge",
    )
    # Bridged once the agent leg enters the bridge: the caller's hangup leaves it to the bridge.
    side.ami.emit(Event="BridgeEnter", Uniqueid="c1-o1", Channel=AGENT_LEG)
    side.ami.emit(Event="Hangup", Uniqueid="c1", Channel=CALLER, Cause="16")
    await side.source.wait_idle()
    assert side.events[-1] == CallEnded("c1", T0)
    assert side.ami.named("Hangup") == []


async def test_dialplan_mode_ends_the_caller_when_the_leg_never_entered_the_bridge() -> None:
    side = Side(ConnectMode.DIALPLAN)
    await side.answered_offer()
    await side.control.connect(CALLER, "c1-o1")
    side.ami.emit(Event="Hangup", Uniqueid="c1-o1", Channel=AGENT_LEG, Cause="16")
    await side.source.wait_idle()
    assert side.events[-1] == CallEnded("c1", T0)
    assert [h["Channel"] for h in side.ami.named("Hangup")] == [CALLER]


@pytest.mark.parametrize("mode", list(ConnectMode))
async def test_a_refused_connect_ends_both_legs(mode: ConnectMode) -> None:
    side = Side(mode)
    await side.answered_offer()
    side.ami.refuse = {"Redirect", "Bridge"}
    await side.control.connect(CALLER, "c1-o1")
    await side.source.wait_idle()
    assert sorted(h["Channel"] for h in side.ami.named("Hangup")) == sorted([AGENT_LEG, CALLER])


async def test_ami_bridge_mode_and_an_unknown_peer_bridge_both_channels() -> None:
    for mode, tracked in ((ConnectMode.AMI_BRIDGE, True), (ConnectMode.DIALPLAN, False)):
        side = Side(mode)
        await side.answered_offer(tracked=tracked)
        (originate,) = side.ami.named("Originate")
        assert not any(v.startswith("CC_PEER=") for v in originate["Variable"])
        await side.control.connect(CALLER, "c1-o1")
        assert side.ami.named("Redirect") == []
        (bridge,) = side.ami.named("Bridge")
        assert (bridge["Channel1"], bridge["Channel2"]) == (CALLER, AGENT_LEG)
