"""The agent's call controls and the supervisor's listening, end to end: the engine, the real
Asterisk, a SIPp caller queued for q1 (extension 4110 of the test overlay) and the agents'
SIPp phones (one UAS for every agent, which answers at once and stays on the line).

What Asterisk shows is read with AMI CoreShowChannels (the application each channel runs and
the bridge it is in) and from the AMI observer's events.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import time
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.acd_helpers import agent_state, log_in
from tests.e2e.api import request
from tests.e2e.conftest import (
    GREETING,
    RunningEngine,
    asterisk_prompts,
    engine_settings,
    running_engine,
)
from tests.e2e.harness import Asterisk
from tests.e2e.observer import observing
from tests.e2e.phones import AgentPhones, agent_phones, all_finished, call_in, step

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_call_left")]

CONFIG = {
    "queues": {q: {"strategy": "longest_idle", "ring_timeout": 8} for q in ("q1", "q2")},
    "agents": {
        "agent1001": {"queues": {"q1": 1}},
        "agent1002": {"queues": {"q1": 1, "q2": 1}},
        "agent1003": {"queues": {"q1": 1}},
    },
}
Channel = dict[str, str]


async def control(
    running: RunningEngine, agent: str, action: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    status, answer = await request(
        running, "POST", f"/api/v1/agents/{agent}/call/{action}", body or {}
    )
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


async def channels(running: RunningEngine) -> list[Channel]:
    listing = await running.engine.ami.send_action("CoreShowChannels", as_list=True)
    return [
        {str(k).lower(): str(v) for k, v in entry.items()}
        for entry in listing
        if entry.get("Event") == "CoreShowChannel"
    ]


async def until(
    running: RunningEngine, check: Callable[[list[Channel]], bool], timeout: float = 10
) -> list[Channel]:
    """Asterisk's channels once ``check`` holds for them (fails at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        listing = await channels(running)
        if check(listing):
            return listing
        assert time.monotonic() < deadline, listing
        await asyncio.sleep(0.1)


def of(listing: list[Channel], prefix: str) -> list[Channel]:
    return [c for c in listing if c["channel"].startswith(prefix)]


def caller(listing: list[Channel]) -> Channel | None:
    found = of(listing, "PJSIP/callers-")
    return found[0] if found else None


def agent_leg(listing: list[Channel], agent: str) -> Channel | None:
    found = of(listing, f"PJSIP/{agent}-")
    return found[0] if found else None


def bridged(listing: list[Channel], agent: str) -> bool:
    """The caller and the agent's channel are in one bridge."""
    one, other = caller(listing), agent_leg(listing, agent)
    return bool(
        one
        and other
        and one.get("bridgeid", "")
        and one.get("bridgeid", "") == other.get("bridgeid", "")
    )


@contextlib.asynccontextmanager
async def connected(asterisk: Asterisk, running: RunningEngine) -> AsyncIterator[None]:
    """A caller talking with agent1001 (the only agent logged in when it calls); at the end
    every channel is hung up and the caller's SIPp must have ended its scenario cleanly."""
    await log_in(running, ["agent1001"])
    call = call_in(asterisk, exten="4110", hold_ms=40_000)
    try:
        await agent_state(running, "agent1001", "talking", timeout=15)
        await until(running, lambda listing: bridged(listing, "agent1001"))
        yield
    finally:
        await asyncio.to_thread(asterisk.cli, "channel request hangup all")
        await all_finished(call)


async def agent_token(running: RunningEngine, name: str, agent: str) -> str:
    password = f"{name}-password"
    body = {"role": "agent", "agent": agent, "password": password}
    status, user = await request(running, "PUT", f"/api/v1/users/{name}", body)
    assert status == 200, user
    login = {"name": name, "password": password}
    status, session = await request(running, "POST", "/api/v1/session", login, token=None)
    assert status == 200, session
    return str(session["token"])


async def desk_pop(running: RunningEngine, agent: str) -> Any:
    """The pop of the agent's live call, read as a supervisor would."""
    status, pop = await request(running, "GET", f"/api/v1/desk/pop?agent={agent}")
    assert status == 200, pop
    return pop


async def desk_message(ws: aiohttp.ClientWebSocketResponse, kind: str) -> Any:
    async with asyncio.timeout(15):
        while True:
            message = await ws.receive_json()
            if message["type"] == kind:
                return message


async def hung_up(phones: AgentPhones, agent: str) -> None:
    """The agent's phone got a BYE (its leg ended)."""
    await phones.wait_for("bye-received", agent, timeout=10)


@pytest.mark.parametrize("engine", [CONFIG], indirect=True)
async def test_hold_resume_listen_and_an_agent_cannot_act_on_another(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with agent_phones(asterisk) as phones, connected(asterisk, engine):
        # Hold: the caller hears music, the agent leg stays up, apart.
        assert (await control(engine, "agent1001", "hold"))["held"] is True
        listing = await until(
            engine,
            lambda found: (caller(found) or {}).get("application") == "MusicOnHold",
        )
        held, leg = caller(listing), agent_leg(listing, "agent1001")
        assert held is not None and held["context"] == "cc-desk-hold" and not held.get("bridgeid")
        assert leg is not None and leg["context"] == "cc-desk-park"
        # Resume: one bridge again.
        assert (await control(engine, "agent1001", "resume"))["held"] is False
        await until(engine, lambda found: bridged(found, "agent1001"))
        # A supervisor listens from agent1005's phone: ChanSpy on this call's agent leg.
        status, spy = await request(
            engine, "POST", "/api/v1/agents/agent1001/spy", {"endpoint": "agent1005"}
        )
        assert status == 200, spy
        await phones.wait_for("answer", "agent1005")
        listing = await until(
            engine,
            lambda found: (agent_leg(found, "agent1005") or {}).get("application") == "ChanSpy",
        )
        spying, leg = agent_leg(listing, "agent1005"), agent_leg(listing, "agent1001")
        assert spying is not None and leg is not None
        assert spying["applicationdata"].split(",")[0] == leg["channel"]
        # An agent acts on their own call only; spying is for supervisors.
        token = await agent_token(engine, "bob", "agent1002")
        path = "/api/v1/agents/agent1001/call/hold"
        status, refused = await request(engine, "POST", path, {}, token=token)
        assert status == 403, refused
        status, refused = await request(
            engine, "POST", "/api/v1/agents/agent1001/spy", {"endpoint": "x1"}, token=token
        )
        assert status == 403, refused
        own = await agent_token(engine, "alice", "agent1001")
        status, answer = await request(engine, "POST", path, {}, token=own)
        assert status == 200 and answer["held"] is True, answer
        # Hang up: both legs end, the agent wraps up (no wrap-up time: ready again).
        await control(engine, "agent1001", "hangup")
        await hung_up(phones, "agent1001")
        await agent_state(engine, "agent1001", "ready")
        status, answer = await request(engine, "POST", path, {})
        assert status == 409 and answer["error"]["code"] == "desk_no_call", answer


@pytest.mark.parametrize("engine", [CONFIG], indirect=True)
async def test_blind_transfer_to_another_agent(asterisk: Asterisk, engine: RunningEngine) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk) as phones,
        connected(asterisk, engine),
    ):
        await log_in(engine, ["agent1002"])
        # agent1001's pop of this call, then agent1002's desk waiting for the transfer
        first = await desk_pop(engine, "agent1001")
        token = await agent_token(engine, "bob", "agent1002")
        url = engine.base_url.replace("http", "ws") + f"/api/v1/desk/feed?access_token={token}"
        async with aiohttp.ClientSession() as client, client.ws_connect(url) as ws:
            assert (await desk_message(ws, "snapshot"))["pops"] == []
            body = {"kind": "agent", "target": "agent1002"}
            answer = await control(engine, "agent1001", "transfer", body)
            assert answer["transferred"] == body
            # the pop follows the call: same call, customer context and IVR data
            pop = (await desk_message(ws, "pop"))["pop"]
            assert pop["call"] == first["call"] and pop["agent"] == "agent1002"
            assert pop["caller"] == first["caller"] and pop["ivr"] == first["ivr"]
            await hung_up(phones, "agent1001")
            await phones.wait_for("answer", "agent1002")
            status = await desk_message(ws, "pop_status")
            assert (status["id"], status["status"]) == (pop["id"], "connected")
        listing = await until(engine, lambda found: bridged(found, "agent1002"))
        assert agent_leg(listing, "agent1001") is None
        await agent_state(engine, "agent1002", "talking")
        assert (await agent_state(engine, "agent1001", "ready"))["call"] is None
        entered = {e["Channel"].split("-")[0] for e in observer.matching(Event="BridgeEnter")}
        assert {"PJSIP/agent1001", "PJSIP/agent1002", "PJSIP/callers"} <= entered
        # The ACD owns the new pair: the caller hanging up ends agent1002's call as usual.
        await control(engine, "agent1002", "hangup")
        await hung_up(phones, "agent1002")
        await agent_state(engine, "agent1002", "ready")


@pytest.mark.parametrize("engine", [CONFIG], indirect=True)
async def test_blind_transfer_to_a_queue(asterisk: Asterisk, engine: RunningEngine) -> None:
    """q2 is served by agent1002 alone: the ACD offers the caller there once it waits."""
    async with agent_phones(asterisk) as phones, connected(asterisk, engine):
        await log_in(engine, ["agent1002"])
        await control(engine, "agent1001", "transfer", {"kind": "queue", "target": "q2"})
        await hung_up(phones, "agent1001")
        await phones.wait_for("answer", "agent1002")
        await until(engine, lambda found: bridged(found, "agent1002"))
        assert (await agent_state(engine, "agent1002", "talking"))["call"]


@pytest.mark.parametrize("engine", [CONFIG], indirect=True)
async def test_attended_transfer_consults_then_completes(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with agent_phones(asterisk) as phones, connected(asterisk, engine):
        await log_in(engine, ["agent1002"])
        body = {"kind": "agent", "target": "agent1002", "attended": True}
        answer = await control(engine, "agent1001", "transfer", body)
        assert answer["held"] is True and answer["consult"]["target"] == "agent1002"

        def consulting(found: list[Channel]) -> bool:
            one, other = agent_leg(found, "agent1001"), agent_leg(found, "agent1002")
            waiting = caller(found)
            return bool(
                one
                and other
                and one.get("bridgeid", "")
                and one.get("bridgeid", "") == other.get("bridgeid", "")
                and waiting
                and waiting["application"] == "MusicOnHold"
            )

        await until(engine, consulting)
        await control(engine, "agent1001", "transfer_complete")
        await hung_up(phones, "agent1001")
        await until(engine, lambda found: bridged(found, "agent1002"))
        await agent_state(engine, "agent1002", "talking")
        await agent_state(engine, "agent1001", "ready")


@pytest.mark.parametrize("engine", [CONFIG], indirect=True)
async def test_attended_transfer_cancelled_goes_back_to_the_caller(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with agent_phones(asterisk) as phones, connected(asterisk, engine):
        await log_in(engine, ["agent1002"])
        body = {"kind": "agent", "target": "agent1002", "attended": True}
        await control(engine, "agent1001", "transfer", body)
        await phones.wait_for("answer", "agent1002")
        await until(
            engine, lambda found: bool((agent_leg(found, "agent1002") or {}).get("bridgeid"))
        )
        answer = await control(engine, "agent1001", "transfer_cancel")
        assert answer["consult"] is None and answer["held"] is False
        await hung_up(phones, "agent1002")
        await until(engine, lambda found: bridged(found, "agent1001"))


@pytest.mark.parametrize("engine", [CONFIG], indirect=True)
async def test_three_way_conference(asterisk: Asterisk, engine: RunningEngine) -> None:
    async with agent_phones(asterisk) as phones, connected(asterisk, engine):
        await log_in(engine, ["agent1003"])
        answer = await control(engine, "agent1001", "conference", {"agent": "agent1003"})
        assert answer["conference"] is True
        await phones.wait_for("answer", "agent1003")

        def in_room(found: list[Channel]) -> bool:
            return len([c for c in found if c["application"] == "ConfBridge"]) == 3

        listing = await until(engine, in_room)
        rooms = {c["applicationdata"].split(",")[0] for c in listing if c["application"]}
        assert len(rooms) == 1, listing
        names = sorted(c["channel"].split("-")[0] for c in listing)
        assert names == ["PJSIP/agent1001", "PJSIP/agent1003", "PJSIP/callers"]


@pytest.mark.parametrize("engine", [CONFIG], indirect=True)
async def test_recording_with_a_pause(asterisk: Asterisk, engine: RunningEngine) -> None:
    async with agent_phones(asterisk), connected(asterisk, engine):
        started = await control(engine, "agent1001", "record_start")
        file = started["recording"]["file"]
        monitor = _monitor_directory(asterisk)
        await until(engine, lambda found: (monitor / file).exists())
        await asyncio.sleep(1)
        assert (await control(engine, "agent1001", "record_pause"))["recording"]["paused"]
        await asyncio.sleep(0.5)
        assert not (await control(engine, "agent1001", "record_resume"))["recording"]["paused"]
        await asyncio.sleep(0.5)
        stopped = await control(engine, "agent1001", "record_stop")
        assert stopped["recorded"] == file and stopped["recording"] is None
        await until(engine, lambda found: of(found, "Local/") == [])
        assert (monitor / file).stat().st_size > 8000  # about two seconds of 8 kHz audio
        assert _loudest(monitor / file) > 1000  # speech, not silence
        # Still connected: recording never touched the bridge.
        await until(engine, lambda found: bridged(found, "agent1001"))


def _loudest(path: Path) -> int:
    """The largest sample magnitude of a 16-bit mono WAV file."""
    with wave.open(str(path)) as audio:
        frames = audio.readframes(audio.getnframes())
    samples = array.array("h", frames)
    return max((abs(s) for s in samples), default=0)


def _monitor_directory(asterisk: Asterisk) -> Path:
    root = asterisk.env.get("CALLCENTER_ASTERISK_ROOT", "/var/cache/callcenter/asterisk-root")
    return Path(root) / "var/spool/asterisk/monitor"


async def test_blind_transfer_to_an_allowed_outside_number(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path
) -> None:
    """The number must be on ivr.transfer_numbers; the caller is then dialled out through the
    trunk endpoint by the dialplan (the test's trunk has no contact: the Dial is what shows)."""
    settings = engine_settings(
        asterisk,
        sqlite_url,
        5038,
        acd=CONFIG,
        ivr={
            "entries": {"hotline": {"script": str(GREETING)}},
            "versions": str(tmp_path / "versions"),
            "asterisk_sounds": str(asterisk_prompts(asterisk)),
            "transfer_numbers": ["5550100"],
        },
    )
    async with (
        running_engine(settings) as engine,
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk) as phones,
        connected(asterisk, engine),
    ):
        status, refused = await request(
            engine,
            "POST",
            "/api/v1/agents/agent1001/call/transfer",
            {"kind": "number", "target": "5550199"},
        )
        assert status == 400, refused  # not on the allow-list: nothing moves
        assert (await agent_state(engine, "agent1001", "talking"))["state"] == "talking"
        body = {"kind": "number", "target": "5550100"}
        answer = await control(engine, "agent1001", "transfer", body)
        assert answer["transferred"] == body
        await hung_up(phones, "agent1001")
        dial = await observer.wait_for(step("cc-desk-transfer", "Dial"), 10)
        assert dial["AppData"] == "PJSIP/5550100@callers,60"
        assert (await agent_state(engine, "agent1001", "ready", timeout=15))["call"] is None
