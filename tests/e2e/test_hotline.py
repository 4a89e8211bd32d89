"""The spine end to end: real Asterisk 22, SIPp callers, the engine over FastAGI and AMI."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.api import api, closed_calls
from tests.e2e.conftest import GREETED, engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.e2e.observer import AmiObserver, observing
from tests.e2e.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e


async def test_dtmf_reaches_the_engine_and_the_ledger_has_the_outcome(
    asterisk: Asterisk, database_url: str
) -> None:
    settings = engine_settings(asterisk, database_url, 5038)
    async with running_engine(settings) as running:
        code, output = await asterisk.call_hotline("-key", "digits", "1")
        assert code == 0, output
        (call,) = await closed_calls(running, 1)
    assert call["outcome"] == "completed_in_ivr"
    assert call["path"] == GREETED("key:1")
    assert call["exten"] == "4000" and call["answered_at"] and call["ended_at"]
    assert call["started_at"] <= call["answered_at"] <= call["ended_at"]


async def test_health_openapi_and_authentication(asterisk: Asterisk, sqlite_url: str) -> None:
    async with running_engine(engine_settings(asterisk, sqlite_url, 5038)) as running:
        status, body = await api(running, "/health", token=None)
        assert status == 200, body
        assert {k: v["ok"] for k, v in body["components"].items()} == {
            "ami": True,
            "fastagi": True,
            "database": True,
        }
        status, document = await api(running, "/openapi.json", token=None)
        assert status == 200 and "/api/v1/calls" in document["paths"]
        assert (await api(running, "/api/v1/calls", token=None))[0] == 401
        assert (await api(running, "/api/v1/calls", token="x" * 32))[0] == 401
        assert (await api(running, "/api/v1/calls"))[0] == 200


async def hold_call_and_expect_fallback(asterisk: Asterisk, observer: AmiObserver) -> list[str]:
    """Place a call that stays on the line; the dialplan alone must answer it. AGISTATUS list."""
    code, output = await asterisk.call_hotline(
        "-d", "10000", scenario="caller_hold.xml", timeout=40
    )
    assert code == 0, output
    await observer.wait_for(
        lambda e: e.get("Event") == "UserEvent" and e.get("Outcome") == "engine_unavailable", 5
    )
    apps = [e.get("Application") for e in observer.matching(Event="Newexten")]
    playback = observer.matching(Event="Newexten", Application="Playback")
    assert any("callcenter/en/unavailable" in e.get("AppData", "") for e in playback), apps
    assert "VoiceMail" in apps
    return [e["Value"] for e in observer.matching(Event="VarSet", Variable="AGISTATUS")]


async def test_engine_stopped_dialplan_fallback_answers_the_caller(asterisk: Asterisk) -> None:
    async with observing(asterisk.ami_secret) as observer:
        assert await hold_call_and_expect_fallback(asterisk, observer) == ["FAILURE"]


async def test_engine_dying_mid_call_still_leaves_the_caller_with_the_fallback(
    asterisk: Asterisk,
) -> None:
    """An engine killed after accepting the call (no FAILURE sent): AGISTATUS is SUCCESS."""

    async def accept_then_die(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\n\n")
        writer.transport.abort()

    server = await asyncio.start_server(accept_then_die, "127.0.0.1", 4573)
    try:
        async with observing(asterisk.ami_secret) as observer:
            assert await hold_call_and_expect_fallback(asterisk, observer) == ["SUCCESS"]
    finally:
        server.close()
        await server.wait_closed()


async def test_ami_cut_and_half_open_link_are_survived(
    asterisk: Asterisk, sqlite_url: str, ami_proxy: TcpProxy
) -> None:
    settings = engine_settings(asterisk, sqlite_url, ami_proxy.port)
    async with running_engine(settings) as running:
        ami = running.engine.ami
        call = asyncio.create_task(
            asterisk.call_hotline("-d", "20000", scenario="caller_hold.xml", timeout=40)
        )
        await asyncio.sleep(2)
        ami_proxy.cut()
        started = time.monotonic()
        await asyncio.sleep(0.1)
        await ami.wait_connected(10)
        reconnect_after_cut = time.monotonic() - started
        ami_proxy.freeze()
        started = time.monotonic()
        await asyncio.sleep(0.1)
        while ami.connected:
            await asyncio.sleep(0.05)
        detected_after = time.monotonic() - started
        await ami.wait_connected(10)
        code, output = await call
        assert code == 0, output
        (row,) = await closed_calls(running, 1)
        status, health = await api(running, "/health", token=None)
    print(
        f"ami_reconnect_after_cut_s={reconnect_after_cut:.2f}",
        f"half_open_detected_s={detected_after:.2f}",
    )
    assert reconnect_after_cut < 10 and detected_after < 10
    assert ami.stats.reconnects >= 2
    assert status == 200, health
    # The call spanned both outages: one row, one outcome, from the IVR's own report.
    assert row["outcome"] == "completed_in_ivr" and row["path"] == GREETED("key:timeout")


async def test_call_that_ends_while_the_engine_is_away_is_closed_at_resync(
    asterisk: Asterisk, sqlite_url: str
) -> None:
    settings = engine_settings(asterisk, sqlite_url, 5038)
    call = asyncio.create_task(
        asterisk.call_hotline("-d", "6000", scenario="caller_hold.xml", timeout=40)
    )
    async with running_engine(settings) as running:
        deadline = time.monotonic() + 10
        while not (await api(running, "/api/v1/calls"))[1]["calls"]:
            assert time.monotonic() < deadline, "the call never reached the ledger"
            await asyncio.sleep(0.1)
        (open_row,) = (await api(running, "/api/v1/calls"))[1]["calls"]
        assert open_row["outcome"] is None
    code, output = await call  # the caller hangs up while no engine is running
    assert code == 0, output
    async with running_engine(settings) as running:
        (row,) = await closed_calls(running, 1, timeout=5)
        assert running.engine.ledger.stats.lost_closed == 1
    assert row["linkedid"] == open_row["linkedid"]
    assert row["outcome"] == "lost" and row["ended_at"] >= row["started_at"]
