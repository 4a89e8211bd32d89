"""The FastAGI server against the scripted Asterisk side (tests/fakes/fake_agi.py).

Handlers only record what they see; the assertions run in the test body, because the server
(rightly) catches whatever a handler raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk.fastagi import AgiSession, FastAgiServer, Handler
from callcenter.errors import AgiError, AgiHangup
from callcenter.settings import FastAgiSettings
from tests.fakes.fake_agi import (
    FakeAgiClient,
    asterisk_env,
    env_lines,
    load_transcript,
    stall,
    step,
)

TRANSCRIPTS = Path(__file__).parents[1] / "transcripts" / "agi"
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"


@asynccontextmanager
async def running(routes: dict[str, Handler], **overrides: Any) -> AsyncIterator[FastAgiServer]:
    values: dict[str, Any] = {"header_timeout": 1.0, "command_timeout": 1.0, **overrides}
    settings = FastAgiSettings(**values).model_copy(update={"port": 0})
    server = FastAgiServer(settings, routes, stop_grace=0.5)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def port_of(server: FastAgiServer) -> int:
    port = server.bound_port
    assert port is not None
    return port


def recorder(
    seen: list[object], body: Callable[[AgiSession], Awaitable[None]] | None = None
) -> Handler:
    """A handler that records its session, runs ``body`` and records how it ended."""

    async def handler(session: AgiSession) -> None:
        seen.append(session)
        try:
            if body is not None:
                await body(session)
        except (AgiError, asyncio.CancelledError) as exc:
            seen.append(exc)
            raise
        seen.append("returned")

    return handler


async def test_routes_by_script_path_and_exposes_the_environment() -> None:
    seen: list[object] = []
    other: list[object] = []

    async def body(session: AgiSession) -> None:
        await session.answer()
        seen.append(await session.stream_file("welcome", "12"))

    env = asterisk_env(
        "/hotline?lang=en&vip=1", channel="PJSIP/x-1", uniqueid="17.1", args=["a b", "c"]
    )
    script = [step("ANSWER", "200 result=0"), step("STREAM FILE", "200 result=50 endpos=99")]
    async with running({"hotline": recorder(seen, body), "/other": recorder(other)}) as server:
        received = await FakeAgiClient(port_of(server), script, env=env).run()
        assert server.stats.total == 1
        assert server.stats.active == 0
    assert received == ["ANSWER", 'STREAM FILE "welcome" "12"']
    session = seen[0]
    assert isinstance(session, AgiSession)
    assert (session.path, dict(session.query), session.args) == (
        "hotline",
        {"lang": "en", "vip": "1"},
        ("a b", "c"),
    )
    assert (session.channel, session.uniqueid) == ("PJSIP/x-1", "17.1")
    assert (session.caller_num, session.caller_name) == ("0612345678", "Caller")
    assert session.env["agi_context"] == "hotline"
    assert seen[1:] == ["2", "returned"]
    assert session.closed
    assert other == []


async def test_leading_slash_in_routes_and_paths_is_ignored() -> None:
    seen: list[object] = []
    async with running({"/other": recorder(seen)}) as server:
        received = await FakeAgiClient(port_of(server), env=asterisk_env("other")).run()
    assert received == []
    assert seen[-1] == "returned"


@pytest.mark.parametrize("path", ["nosuchroute", ""])
async def test_unknown_route_fails_the_agi_so_the_dialplan_falls_back(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[object] = []
    async with running({"hotline": recorder(seen)}) as server:
        received = await FakeAgiClient(port_of(server), env=asterisk_env(path)).run()
        assert server.stats.rejected_route == 1
    assert received == ["FAILURE"]  # Asterisk sets AGISTATUS=FAILURE on this line
    assert seen == []
    assert f"no handler for path {path!r}" in caplog.text


async def test_peer_outside_allowed_peers_is_dropped_unread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[object] = []
    async with running({"hotline": recorder(seen)}, allowed_peers=[ip_network("10.0.0.0/8")]) as (
        server
    ):
        for _ in range(3):
            client = FakeAgiClient(port_of(server))
            await client.connect()
            assert await asyncio.wait_for(client.read_line(), 1) is None
            await client.close()
            assert client.received == []
        stats = server.stats
    assert (stats.rejected_peer, stats.total, stats.active) == (3, 0, 0)
    assert seen == []
    warnings = [r for r in caplog.records if "allowed_peers" in r.getMessage()]
    assert len(warnings) == 1  # rate limited: the other two are counted, not logged
    assert warnings[0].levelno == logging.WARNING


async def test_max_connections_refuses_with_failure_beyond_the_limit() -> None:
    release = asyncio.Event()
    seen: list[object] = []

    async def hold(session: AgiSession) -> None:
        await release.wait()

    async with running({"hotline": recorder(seen, hold)}, max_connections=2) as server:
        held = [asyncio.create_task(FakeAgiClient(port_of(server)).run()) for _ in range(2)]
        while server.stats.active < 2:
            await asyncio.sleep(0.01)
        refused = FakeAgiClient(port_of(server))
        assert await refused.run() == ["FAILURE"]
        assert server.stats.rejected_limit == 1
        release.set()
        assert await asyncio.gather(*held) == [[], []]
        assert await FakeAgiClient(port_of(server)).run() == []
        stats = server.stats
    assert (stats.total, stats.active, stats.rejected_limit) == (3, 0, 1)


async def test_environment_must_arrive_within_header_timeout() -> None:
    seen: list[object] = []
    async with running({"hotline": recorder(seen)}, header_timeout=0.2) as server:
        client = FakeAgiClient(port_of(server))
        await client.connect()
        await client.send_raw(b"agi_network: yes\nagi_network_script: hotline\n")
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(client.drain_until_closed(), 2)
        elapsed = asyncio.get_running_loop().time() - started
        await client.close()
        assert server.stats.errors == 1
    assert client.received == ["FAILURE"]
    assert 0.15 < elapsed < 1.0
    assert seen == []


@pytest.mark.parametrize(
    "env",
    [
        ["agi_network: yes", "agi_network_script hotline", ""],  # no colon
        ["agi_network: yes", "network_script: hotline", ""],  # not agi_
        ["agi_network: yes", f"agi_calleridname: {'x' * 10_000}", ""],  # longer than a line
        [f"agi_arg_{n}: x" for n in range(1, 300)] + [""],  # too many lines
    ],
    ids=["no-colon", "foreign-key", "10kB-name", "too-many-lines"],
)
async def test_malformed_environment_is_refused(env: list[str]) -> None:
    seen: list[object] = []
    async with running({"hotline": recorder(seen)}, max_line_bytes=8192) as server:
        received = await FakeAgiClient(port_of(server), raw_env=env).run()
        assert server.stats.errors == 1
    assert received == ["FAILURE"]
    assert seen == []


async def test_hostile_caller_names_reach_the_handler_raw() -> None:
    names = ['"evil\\" <1>', "${SHELL}", "x" * 4000]
    seen: list[object] = []
    async with running({"hotline": recorder(seen)}) as server:
        for name in names:
            await FakeAgiClient(port_of(server), env=asterisk_env(calleridname=name)).run()
    sessions = [s for s in seen if isinstance(s, AgiSession)]
    assert [s.caller_name for s in sessions] == names


async def test_command_timeout_aborts_the_session() -> None:
    seen: list[object] = []

    async def body(session: AgiSession) -> None:
        try:
            await session.stream_file("welcome")
        except AgiError as exc:
            seen.append(str(exc))
        try:
            await session.answer()
        except AgiError as exc:
            seen.append(str(exc))
        seen.append(session.closed)

    async with running({"hotline": recorder(seen, body)}, command_timeout=0.2) as server:
        received = await FakeAgiClient(port_of(server), [stall("STREAM FILE")]).run()
        assert server.stats.active == 0
    assert received == ['STREAM FILE "welcome" ""', "FAILURE"]
    assert seen[1:] == [
        "STREAM FILE: no response within 0.2 s",
        "ANSWER: the AGI session is closed",
        True,
        "returned",
    ]


async def test_per_command_timeout_overrides_the_setting() -> None:
    seen: list[object] = []

    async def body(session: AgiSession) -> None:
        seen.append(await session.command("WAIT FOR DIGIT", -1, response_timeout=0.1))

    async with running({"hotline": recorder(seen, body)}, command_timeout=30) as server:
        received = await FakeAgiClient(port_of(server), [stall("WAIT FOR DIGIT")]).run(2)
    assert received == ['WAIT FOR DIGIT "-1"', "FAILURE"]
    assert isinstance(seen[1], AgiError)


async def test_hangup_mid_session_raises_agihangup_and_cleans_up() -> None:
    seen: list[object] = []

    async def body(session: AgiSession) -> None:
        await session.answer()
        try:
            await session.stream_file("welcome")
        except AgiHangup as exc:
            seen.append(("hangup", str(exc), session.hung_up))
        await session.set_variable("CC_OUTCOME", "hungup")  # allowed on a dead channel
        await session.stream_file("goodbye")  # not allowed: 511

    # Asterisk 22's order (recorded): -1 for the command, then HANGUP before the next one.
    script = [
        step("ANSWER", "200 result=0"),
        step("STREAM FILE", "200 result=-1 endpos=4960", "HANGUP"),
        step("NOOP", "200 result=0"),
        step("SET VARIABLE", "200 result=1"),
        step("STREAM FILE", DEAD),
    ]
    async with running({"hotline": recorder(seen, body)}) as server:
        received = await FakeAgiClient(port_of(server), script).run()
        stats = server.stats
    assert received == [
        "ANSWER",
        'STREAM FILE "welcome" ""',
        "NOOP",
        'SET VARIABLE "CC_OUTCOME" "hungup"',
        'STREAM FILE "goodbye" ""',
    ]  # no FAILURE after a hang-up
    assert seen[1] == ("hangup", "NOOP: the channel hung up", True)
    assert isinstance(seen[2], AgiHangup)
    assert "dead channel" in str(seen[2])
    session = seen[0]
    assert isinstance(session, AgiSession)
    assert session.closed
    assert (stats.active, stats.errors) == (0, 0)


async def test_hangup_while_idle_is_raised_by_the_next_command() -> None:
    seen: list[object] = []
    hung_up = asyncio.Event()

    async def body(session: AgiSession) -> None:
        await hung_up.wait()
        await session.answer()

    async with running({"hotline": recorder(seen, body)}) as server:
        client = FakeAgiClient(port_of(server), [step("ANSWER", DEAD)])
        await client.connect()
        await client.send_env()
        await client.send_hangup()
        await asyncio.sleep(0.05)
        hung_up.set()
        await asyncio.wait_for(client.serve(), 2)
        await client.close()
    assert client.received == ["ANSWER"]
    assert isinstance(seen[1], AgiHangup)
    assert str(seen[1]) == "ANSWER: the channel hung up"


async def test_connection_closed_by_asterisk_is_a_hangup() -> None:
    seen: list[object] = []

    async def body(session: AgiSession) -> None:
        await session.stream_file("welcome")

    async with running({"hotline": recorder(seen, body)}) as server:
        client = FakeAgiClient(port_of(server))
        await client.connect()
        await client.send_env()
        assert await client.read_line() == 'STREAM FILE "welcome" ""'
        await client.close()
        while server.stats.active:
            await asyncio.sleep(0.01)
        assert server.stats.errors == 0
    assert isinstance(seen[1], AgiHangup)


async def test_handler_exception_is_logged_and_the_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def crash(session: AgiSession) -> None:
        await session.answer()
        raise RuntimeError("boom")

    seen: list[object] = []
    async with running({"crash": crash, "hotline": recorder(seen)}) as server:
        env = asterisk_env("crash", channel="PJSIP/crash-1")
        script = [step("ANSWER", "200 result=0")]
        assert await FakeAgiClient(port_of(server), script, env=env).run() == [
            "ANSWER",
            "FAILURE",  # the dialplan's AGISTATUS check sends the caller to its fallback
        ]
        assert await FakeAgiClient(port_of(server)).run() == []
        stats = server.stats
    assert (stats.total, stats.errors, stats.active) == (2, 1, 0)
    assert seen[-1] == "returned"
    [record] = [r for r in caplog.records if r.exc_info]
    assert "'crash'" in record.getMessage()
    assert "'PJSIP/crash-1'" in record.getMessage()


async def test_garbage_and_long_lines_fail_one_session_without_stalling_others() -> None:
    seen: list[object] = []
    slow_started = asyncio.Event()

    async def body(session: AgiSession) -> None:
        if session.args == ("slow",):
            slow_started.set()
        await session.answer()
        await session.answer()

    async with running({"hotline": recorder(seen, body)}, max_line_bytes=1024) as server:
        port = port_of(server)
        slow = FakeAgiClient(
            port,
            [step("ANSWER", "200 result=0"), step("ANSWER", "200 result=0")],
            env=asterisk_env(args=["slow"]),
        )
        slow_task = asyncio.create_task(slow.run())
        await slow_started.wait()
        garbage = await FakeAgiClient(port, [step("ANSWER", "this is not AGI")]).run()
        long = await FakeAgiClient(port, [step("ANSWER", "200 result=0 (" + "x" * 5000)]).run()
        bare = await FakeAgiClient(port, [step("ANSWER", "200 result=1", "\x00\x01garbage")]).run()
        assert await slow_task == ["ANSWER", "ANSWER"]
        stats = server.stats
    assert garbage == ["ANSWER", "FAILURE"]
    assert long == ["ANSWER", "FAILURE"]
    assert bare == ["ANSWER", "ANSWER", "FAILURE"]
    errors = [str(e) for e in seen if isinstance(e, AgiError)]
    assert any("malformed AGI response" in e for e in errors)
    assert "AGI response line too long" in errors
    assert (stats.errors, stats.active) == (3, 0)


async def test_one_command_at_a_time_per_session() -> None:
    seen: list[object] = []

    async def body(session: AgiSession) -> None:
        first = asyncio.create_task(session.stream_file("welcome"))
        await asyncio.sleep(0.05)
        try:
            await session.answer()
        except AgiError as exc:
            seen.append(str(exc))
        seen.append(await first)

    async def late_reply(client: FakeAgiClient) -> None:
        assert await client.read_line() == 'STREAM FILE "welcome" ""'
        await asyncio.sleep(0.1)
        await client.send_line("200 result=0 endpos=100")
        await client.drain_until_closed()

    async with running({"hotline": recorder(seen, body)}) as server:
        client = FakeAgiClient(port_of(server))
        await client.connect()
        await client.send_env()
        await asyncio.wait_for(late_reply(client), 2)
        await client.close()
    assert seen[1:] == [
        "ANSWER: another command is still running on this session",
        None,
        "returned",
    ]


async def test_typed_helpers_read_their_results() -> None:
    seen: list[object] = []

    async def body(session: AgiSession) -> None:
        seen.append(await session.linkedid())
        seen.append(await session.linkedid())  # remembered, not asked again
        seen.append(await session.get_variable("NOSUCHVAR"))
        seen.append(await session.get_data("menu", 3000, 4))
        seen.append(await session.get_data("menu", 3000, 4))
        seen.append(await session.wait_for_digit(1000))
        seen.append(await session.wait_for_digit(1000))
        seen.append(await session.say_digits("123", "#"))
        seen.append(await session.say_number(42))
        seen.append((await session.exec("Queue", "support", "t")).result)
        await session.verbose("hello", 2)
        await session.set_music(True, "default")
        seen.append((await session.record_file("/tmp/m", "wav", "#", 5000, beep=True)).data)
        await session.hangup()
        try:
            await session.exec("NoSuchApp")
        except AgiError as exc:
            seen.append(str(exc))

    script = [
        step('GET VARIABLE "CHANNEL(linkedid)"', "200 result=1 (1700000000.0)"),
        step('GET VARIABLE "NOSUCHVAR"', "200 result=0"),
        step('GET DATA "menu" "3000" "4"', "200 result=0123"),
        step("GET DATA", "200 result= (timeout)"),
        step('WAIT FOR DIGIT "1000"', "200 result=35"),
        step("WAIT FOR DIGIT", "200 result=0"),
        step('SAY DIGITS "123" "#"', "200 result=0"),
        step('SAY NUMBER "42" ""', "200 result=0"),
        step('EXEC "Queue" "support,t"', "200 result=0"),
        step('VERBOSE "hello" "2"', "200 result=1"),
        step('SET MUSIC "on" "default"', "200 result=0"),
        step('RECORD FILE "/tmp/m" "wav" "#" "5000" "BEEP"', "200 result=0 (timeout) endpos=8000"),
        step("HANGUP", "200 result=1"),
        step('EXEC "NoSuchApp" ""', "200 result=-2"),
    ]
    async with running({"hotline": recorder(seen, body)}) as server:
        received = await FakeAgiClient(port_of(server), script).run()
    assert len(received) == len(script)
    assert seen[1:] == [
        "1700000000.0",
        "1700000000.0",
        None,
        "0123",
        "",
        "#",
        None,
        None,
        None,
        0,
        "timeout",
        "EXEC: no application 'NoSuchApp' in Asterisk",
        "returned",
    ]


async def test_usage_and_unknown_command_results_are_returned_raw_but_helpers_raise() -> None:
    seen: list[object] = []

    async def body(session: AgiSession) -> None:
        seen.append((await session.command("NO SUCH COMMAND")).code)
        seen.append((await session.command("STREAM FILE")).code)
        await session.answer()

    script = [
        step("NO SUCH COMMAND", "510 Invalid or unknown command"),
        step(
            "STREAM FILE",
            "520-Invalid command syntax.  Proper usage follows:",
            "usage",
            "520 End of proper usage.",
        ),
        step("ANSWER", "510 Invalid or unknown command"),
    ]
    async with running({"hotline": recorder(seen, body)}) as server:
        received = await FakeAgiClient(port_of(server), script).run()
    assert seen[1:3] == [510, 520]
    assert isinstance(seen[3], AgiError)
    assert received[-1] == "FAILURE"


async def test_stop_cancels_sessions_after_the_grace_period() -> None:
    seen: list[object] = []

    async def forever(session: AgiSession) -> None:
        await asyncio.Event().wait()

    async with running({"hotline": recorder(seen, forever)}) as server:
        client = FakeAgiClient(port_of(server))
        task = asyncio.create_task(client.run())
        while server.stats.active < 1:
            await asyncio.sleep(0.01)
        await server.stop(grace=0.1)
        assert await task == ["FAILURE"]
        assert server.stats.active == 0
        assert server.bound_port is None
    assert isinstance(seen[1], asyncio.CancelledError)


async def test_two_hundred_concurrent_sessions() -> None:
    seen: list[object] = []

    async def body(session: AgiSession) -> None:
        await session.answer()
        await asyncio.sleep(0.05)  # all sessions are open at once
        seen.append(await session.stream_file("welcome", "1"))

    script = [step("ANSWER", "200 result=0"), step("STREAM FILE", "200 result=49 endpos=1")]
    async with running({"hotline": recorder(seen, body)}) as server:
        results = await asyncio.gather(
            *(
                FakeAgiClient(port_of(server), script, env=asterisk_env(uniqueid=f"1.{n}")).run()
                for n in range(200)
            )
        )
        stats = server.stats
    assert all(r == ["ANSWER", 'STREAM FILE "welcome" "1"'] for r in results)
    assert seen.count("1") == 200
    assert (stats.total, stats.active, stats.errors) == (200, 0, 0)


async def test_replay_of_a_real_asterisk_22_session() -> None:
    """Recorded from Asterisk 22.10 (see the note in the transcript); replayed byte for byte."""
    transcript = load_transcript(TRANSCRIPTS / "hotline_asterisk22.jsonl")
    seen: list[object] = []

    async def hotline(session: AgiSession) -> None:
        seen.append((session.path, session.args, session.caller_name))
        await session.answer()
        seen.append(await session.linkedid())
        seen.append(await session.get_variable("NOSUCHVAR"))
        await session.set_variable("CC_CALLER_NAME", session.caller_name)
        seen.append(await session.get_variable("CC_CALLER_NAME"))
        seen.append(await session.stream_file("demo-congrats", "0123456789"))
        try:
            await session.stream_file("no-such-prompt")
        except AgiError as exc:
            seen.append((type(exc).__name__, str(exc)))
        seen.append(await session.wait_for_digit(500))
        seen.append(await session.get_data("beep", 500, 4))
        seen.append(await session.say_digits("123"))
        seen.append(await session.say_number(42))
        seen.append((await session.exec("Verbose", "0", "hotline transcript")).result)
        await session.verbose("hello from the engine", 1)
        await session.set_music(False)
        seen.append((await session.command("NO SUCH COMMAND")).code)
        usage = await session.command("STREAM FILE")
        seen.append((usage.code, usage.data.splitlines()[-1]))
        try:
            await session.stream_file("demo-congrats")
        except AgiHangup:
            seen.append("hangup")
            await session.set_variable("CC_OUTCOME", "hungup")
            await session.stream_file("beep")

    async with running({"hotline": recorder(seen, hotline)}) as server:
        received = await FakeAgiClient.from_transcript(port_of(server), transcript).run()
    assert received == transcript.engine_lines()
    assert seen[1:-1] == [
        ("hotline", ("first arg", "second"), 'Evil "Name"'),
        "probe-1795436749.26",
        None,
        'Evil "Name"',
        "1",
        ("AgiError", "STREAM FILE failed (result -1) on a live channel; see the Asterisk log"),
        None,
        "",
        None,
        None,
        0,
        510,
        (520, "    <value>FAILED</value>"),
        "hangup",
    ]
    assert isinstance(seen[-1], AgiHangup)


def test_env_lines_end_with_the_empty_line() -> None:
    assert env_lines([("agi_network", "yes")]) == ["agi_network: yes", ""]
