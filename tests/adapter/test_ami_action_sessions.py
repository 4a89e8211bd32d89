"""The AMI client's action sessions against the fake AMI server: routing, independence, liveness.

Connection 1 is the event session (it connects first); the action sessions are the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from callcenter.asterisk.ami import AmiClient
from callcenter.clock import FixedClock
from callcenter.errors import AmiNotConnected, AmiTimeout
from callcenter.settings import AmiSettings
from callcenter.telephony import AmiLinkChanged, TelephonyEvent
from tests.fakes.fake_ami import DEFAULT_SECRET, FakeAmi, eventually, never

T0 = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)
FAST: dict[str, Any] = {
    "ping_interval": 0.1,
    "ping_timeout": 0.2,
    "reconnect_min": 0.02,
    "reconnect_max": 0.2,
    "action_timeout": 1.0,
}
BRIDGE = {"Channel1": "PJSIP/callers-1", "Channel2": "PJSIP/agent1001-2", "Tone": "no"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


@contextlib.asynccontextmanager
async def running(
    fake: FakeAmi, action_sessions: int = 2, **overrides: Any
) -> AsyncIterator[tuple[AmiClient, list[TelephonyEvent]]]:
    settings = AmiSettings(
        host="127.0.0.1",
        port=fake.port,
        secret=SecretStr(DEFAULT_SECRET),
        action_sessions=action_sessions,
        **{**FAST, **overrides},
    )
    events: list[TelephonyEvent] = []
    client = AmiClient(settings, FixedClock(T0), events.append, rng=random.Random(7))
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(5)
        yield client, events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def links(events: list[TelephonyEvent]) -> list[bool]:
    return [e.up for e in events if isinstance(e, AmiLinkChanged)]


def connections_of(fake: FakeAmi, name: str) -> set[int]:
    return {action.connection for action in fake.named(name)}


async def test_action_sessions_log_in_without_events_and_carry_the_blocking_actions(
    fake: FakeAmi,
) -> None:
    async with running(fake) as (client, _):
        logins = {a.connection: a.get("Events") for a in fake.named("login")}
        assert logins == {1: "on", 2: "off", 3: "off"}
        assert client.stats.action_sessions_up == 2
        await client.send_action("Bridge", BRIDGE)
        await client.send_action("Setvar", {"Channel": "PJSIP/a-1", "Variable": "X", "Value": "1"})
        await client.send_action("Redirect", {"Channel": "PJSIP/a-1", "Context": "c"})
        await client.send_action(
            "Originate", {"Channel": "PJSIP/agent1001", "Async": "true"}, as_list=False
        )
        await client.send_action("Getvar", {"Channel": "PJSIP/a-1", "Variable": "X"})
        await client.send_action("Hangup", {"Channel": "PJSIP/a-1"})
        for name in ("bridge", "setvar", "redirect"):
            assert connections_of(fake, name) <= {2, 3}, name
        for name in ("originate", "getvar", "hangup", "coreshowchannels"):
            assert connections_of(fake, name) == {1}, name


async def test_without_action_sessions_everything_goes_on_the_event_session(
    fake: FakeAmi,
) -> None:
    async with running(fake, action_sessions=0) as (client, _):
        await client.send_action("Bridge", BRIDGE)
        assert fake.connections == 1 and connections_of(fake, "bridge") == {1}


async def test_a_slow_bridge_delays_neither_originate_nor_the_event_sessions_keepalive(
    fake: FakeAmi,
) -> None:
    fake.held = {"bridge"}
    async with running(fake) as (client, events):
        slow = [asyncio.create_task(client.send_action("Bridge", BRIDGE)) for _ in range(2)]
        await eventually(lambda: len(fake.named("bridge")) == 2)
        assert connections_of(fake, "bridge") == {2, 3}  # the least busy session each time
        await asyncio.wait_for(
            client.send_action(
                "Originate", {"Channel": "PJSIP/agent1001", "Async": "true"}, as_list=False
            ),
            0.5,
        )
        # The busy action sessions are not pinged (a Ping would wait behind the Bridge) and
        # stay up; the event session keeps its Ping going.
        pings_before = len(fake.named("ping"))
        assert await never(lambda: client.stats.action_sessions_up < 2, 0.6)
        late = [a.connection for a in fake.named("ping")[pings_before:]]
        assert late and set(late) == {1}
        assert links(events) == [True] and client.connected
        for task in slow:
            task.cancel()


async def test_an_action_unanswered_with_nothing_heard_ends_only_its_action_session(
    fake: FakeAmi,
) -> None:
    fake.held = {"bridge"}
    async with running(fake, action_sessions=1) as (client, events):
        with pytest.raises(AmiTimeout):
            await client.send_action("Bridge", BRIDGE, timeout=0.3)
        await eventually(lambda: fake.logins_ok == 3)  # the action session logged in again
        await eventually(lambda: client.stats.action_sessions_up == 1)
        assert client.stats.action_link_losses == 1
        assert links(events) == [True] and client.connected
        fake.held = set()
        await client.send_action("Bridge", BRIDGE)
        assert connections_of(fake, "bridge") == {2, 3}


async def test_idle_action_sessions_are_pinged(fake: FakeAmi) -> None:
    async with running(fake) as _:
        await eventually(lambda: connections_of(fake, "ping") >= {1, 2, 3})


async def test_action_sessions_reconnect_on_their_own(fake: FakeAmi) -> None:
    async with running(fake) as (client, _):
        fake.drop()
        await eventually(lambda: fake.logins_ok == 6 and client.stats.action_sessions_up == 2)
        await client.send_action("Bridge", BRIDGE)
        assert max(connections_of(fake, "bridge")) > 3


async def test_an_action_for_the_action_sessions_fails_clearly_when_none_is_up(
    fake: FakeAmi,
) -> None:
    async with running(fake) as (client, _):
        await fake.stop()
        await eventually(lambda: client.stats.action_sessions_up == 0)
        sent = len(fake.actions)
        with pytest.raises(AmiNotConnected, match="action session"):
            await client.send_action("Bridge", BRIDGE)
        assert len(fake.actions) == sent
