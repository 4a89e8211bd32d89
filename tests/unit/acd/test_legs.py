"""The AMI adapter's bookkeeping (pure): pairs found bridged at a restart."""

from __future__ import annotations

from callcenter.acd.call_control import AcdLegs
from callcenter.acd.model import CallEnded
from tests.unit.acd.harness import at


def adopted() -> AcdLegs:
    legs = AcdLegs()
    assert legs.adopt_pair("c1", "PJSIP/caller-1", "c1-o2", "agent1001", "PJSIP/agent1001-2")
    return legs


def test_an_adopted_pair_ends_once_when_the_agent_hangs_up() -> None:
    legs = adopted()
    hangup = {"event": "Hangup", "uniqueid": "c1-o2", "channel": "PJSIP/agent1001-2"}
    assert legs.handle(hangup, at(1)).events == (CallEnded("c1", at(1)),)
    assert legs.handle(hangup, at(2)).events == ()
    caller_gone = {"event": "Hangup", "uniqueid": "c1", "channel": "PJSIP/caller-1"}
    assert legs.handle(caller_gone, at(3)).events == ()


def test_an_adopted_pair_ends_when_the_caller_hangs_up_and_the_bridge_ends_the_agent() -> None:
    legs = adopted()
    effects = legs.handle({"event": "Hangup", "channel": "PJSIP/caller-1"}, at(1))
    assert effects.events == (CallEnded("c1", at(1)),)
    assert effects.hangups == ()  # bridged: the dialplan hangs the agent leg up


def test_a_pair_already_known_or_already_gone_is_not_adopted() -> None:
    legs = adopted()
    assert not legs.adopt_pair("c1", "PJSIP/caller-1", "c1-o3", "agent1002", "PJSIP/x-3")
    legs.handle({"event": "Hangup", "channel": "PJSIP/caller-9"}, at(1))
    assert not legs.adopt_pair("c9", "PJSIP/caller-9", "c9-o1", "agent1002", "PJSIP/x-4")
    assert legs.channel_of("c9") is None
