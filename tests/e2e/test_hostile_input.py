"""Hostile caller IDs and action values against the real Asterisk: harmless, never a second
action, never a second dial leg."""

from __future__ import annotations

import pytest

from callcenter.errors import AmiError
from tests.e2e.api import api, closed_calls
from tests.e2e.conftest import GREETED, engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.e2e.observer import observing

pytestmark = pytest.mark.e2e

HOSTILE_NAMES = [
    "Robert'); DROP TABLE calls;-- ${SHELL} $(reboot) & <script>alert(1)</script>",
    '\\"quoted\\" ${CALLERID(num)} &Dial(PJSIP/agent1001) %0d%0aAction: Originate',
    "客户 " + "x" * 10_000,
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["sql-html-shell", "quotes-dialplan", "long"])
async def test_hostile_caller_id_is_stored_harmlessly_with_one_leg(
    asterisk: Asterisk, sqlite_url: str, name: str
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        running_engine(engine_settings(asterisk, sqlite_url, 5038)) as running,
    ):
        code, output = await asterisk.call_hotline(
            "-key",
            "digits",
            "2",
            "-key",
            "name",
            name,
            "-key",
            "user",
            "13800138000&1",
            scenario="caller_named.xml",
        )
        assert code == 0, output
        (call,) = await closed_calls(running, 1)
        assert call["outcome"] == "completed_in_ivr" and call["path"] == GREETED("key:2")
        stored = call["caller_name"]
        assert "\r" not in stored and "\n" not in stored and len(stored) <= 128
        assert stored and stored.replace("\\", "")[:20] in name.replace("\\", "")
        assert call["caller_num"] == "13800138000&1"
        channels = observer.matching(Event="Newchannel")
        assert len(channels) == 1, channels  # no second leg was ever dialled
        assert not observer.matching(Event="OriginateResponse")
        status, health = await api(running, "/health", token=None)
        assert status == 200, health


async def test_crlf_in_an_action_value_never_becomes_a_second_action(
    asterisk: Asterisk, sqlite_url: str
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        running_engine(engine_settings(asterisk, sqlite_url, 5038)) as running,
    ):
        ami = running.engine.ami
        smuggled = "x\r\nAction: Originate\r\nChannel: Local/4000@from-callers\r\nApplication: Wait"
        # a free-text value is cleaned: the action runs once with the value on one line
        answer = await ami.send_action("Setvar", {"Variable": "CC_NOTE", "Value": smuggled})
        assert not isinstance(answer, list) and answer.success
        # a structural value is refused before anything is sent
        with pytest.raises(AmiError):
            await ami.send_action("Getvar", {"Channel": "PJSIP/a\r\nAction: Originate"})
        pong = await ami.send_action("Ping", {})
        assert not isinstance(pong, list) and pong.success
        global_value = await ami.send_action("Getvar", {"Variable": "CC_NOTE"})
        assert not isinstance(global_value, list)
        assert "\n" not in global_value.get("Value", "") and "Originate" in global_value.get(
            "Value", ""
        )
    assert not observer.matching(Event="Newchannel")
    assert not observer.matching(Event="OriginateResponse")
