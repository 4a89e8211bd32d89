"""The AMI client against the fake AMI server: lifecycle, resync, safety, flow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from callcenter.asterisk.ami import AmiClient, Backoff
from callcenter.clock import FixedClock
from callcenter.errors import AmiActionLost, AmiError, AmiNotConnected, AmiTimeout
from callcenter.settings import AmiSettings
from callcenter.telephony import (
    AmiLinkChanged,
    ChannelCreated,
    ChannelHungUp,
    ChannelsSnapshot,
    OutcomeReported,
    TelephonyEvent,
)
from tests.fakes.fake_ami import (
    DEFAULT_SECRET,
    TRANSCRIPTS,
    EventHeaders,
    FakeAmi,
    ReceivedAction,
    channel_row,
    eventually,
    load_transcript,
    never,
    wire,
)

T0 = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)
FAST = {
    "ping_interval": 0.1,
    "ping_timeout": 0.2,
    "reconnect_min": 0.02,
    "reconnect_max": 0.2,
    "action_timeout": 1.0,
    "action_sessions": 0,  # one connection; the action sessions have tests of their own
}


@dataclass
class Harness:
    client: AmiClient
    fake: FakeAmi
    events: list[TelephonyEvent] = field(default_factory=list)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def links(self) -> list[bool]:
        return [e.up for e in self.of(AmiLinkChanged)]

    async def ups(self, count: int, timeout: float = 5.0) -> None:
        await eventually(
            lambda: self.links().count(True) >= count and self.client.connected, timeout
        )


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


def settings_for(fake: FakeAmi, secret: str = DEFAULT_SECRET, **overrides: float) -> AmiSettings:
    values: dict[str, Any] = {**FAST, **overrides}
    return AmiSettings(host="127.0.0.1", port=fake.port, secret=SecretStr(secret), **values)


@contextlib.asynccontextmanager
async def running(
    fake: FakeAmi, settings: AmiSettings | None = None, **kwargs: Any
) -> AsyncIterator[Harness]:
    events: list[TelephonyEvent] = []
    on_event = kwargs.pop("on_event", events.append)
    client = AmiClient(
        settings or settings_for(fake), FixedClock(T0), on_event, rng=random.Random(7), **kwargs
    )
    task = asyncio.create_task(client.run())
    try:
        yield Harness(client, fake, events)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert not client.connected


# Login and resync.


async def test_login_then_snapshot_then_link_up(fake: FakeAmi) -> None:
    fake.channels = [channel_row("1700000000.1", duration="00:01:05")]
    fake.devices = {"PJSIP/agent1001": "NOT_INUSE"}
    async with running(fake) as h:
        await h.client.wait_connected(5)
        snapshot, up = h.events
        assert isinstance(snapshot, ChannelsSnapshot)
        (live,) = snapshot.channels
        assert (live.uniqueid, live.up, live.caller_name) == ("1700000000.1", True, "Test Caller")
        assert live.started_at == T0 - timedelta(minutes=1, seconds=5)
        assert up == AmiLinkChanged(up=True, at=T0)
        assert dict(h.client.device_states) == {"PJSIP/agent1001": "NOT_INUSE"}
        (login,) = fake.named("login")
        assert (login.get("Username"), login.get("Events")) == ("callcenter", "on")
        stats = h.client.stats
        assert (stats.connected, stats.connects, stats.reconnects) == (True, 1, 0)
        assert stats.last_resync_seconds is not None and stats.last_resync_seconds < 1


async def test_event_mask_is_sent_at_login(fake: FakeAmi) -> None:
    async with running(fake, events="call,user") as h:
        await h.client.wait_connected(5)
        assert fake.named("login")[0].get("Events") == "call,user"


async def test_bad_credentials_are_logged_and_retried_without_crashing(
    fake: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(fake, secret="wrong-secret")
    with caplog.at_level(logging.INFO, logger="callcenter.asterisk"):
        async with running(fake, settings) as h:
            await eventually(lambda: fake.logins_failed >= 3)
            assert not h.client.connected
            with pytest.raises(AmiNotConnected):
                await h.client.wait_connected(0.05)
            fake.secret = "wrong-secret"
            await h.client.wait_connected(5)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "Authentication failed" in errors[0].getMessage()
    assert "wrong-secret" not in caplog.text


async def test_refused_device_state_list_does_not_prevent_the_session(fake: FakeAmi) -> None:
    fake.responders["devicestatelist"] = lambda _: [
        {"Response": "Error", "Message": "Invalid/unknown command: DeviceStateList."}
    ]
    async with running(fake) as h:
        await h.client.wait_connected(5)
        assert dict(h.client.device_states) == {}


async def test_refused_channel_list_keeps_backing_off(fake: FakeAmi) -> None:
    fake.responders["coreshowchannels"] = lambda _: [{"Response": "Error", "Message": "Denied"}]
    async with running(fake) as h:
        await eventually(lambda: fake.connections >= 3)
        assert not h.client.connected and h.events == []
        assert "Denied" in (h.client.stats.last_error or "")


async def test_resync_after_reconnect_replaces_the_picture(fake: FakeAmi) -> None:
    fake.channels = [channel_row("1.1"), channel_row("1.2", linkedid="1.1")]
    async with running(fake) as h:
        await h.ups(1)
        fake.channels = [channel_row("2.1", state="Ring")]
        fake.drop()
        await h.ups(2)
        kinds = [type(e).__name__ for e in h.events]
        assert kinds == ["ChannelsSnapshot", "AmiLinkChanged", "AmiLinkChanged"] * 1 + [
            "ChannelsSnapshot",
            "AmiLinkChanged",
        ]
        assert h.links() == [True, False, True]
        first, second = h.of(ChannelsSnapshot)
        assert [c.uniqueid for c in first.channels] == ["1.1", "1.2"]
        assert [(c.uniqueid, c.up) for c in second.channels] == [("2.1", False)]
        assert h.client.stats.reconnects == 1


async def test_link_down_is_published_between_sessions(fake: FakeAmi) -> None:
    async with running(fake) as h:
        await h.ups(1)
        fake.drop()
        await h.ups(2)
        assert h.links() == [True, False, True]
        assert h.client.stats.link_losses == 1


async def test_events_arriving_during_resync_follow_the_snapshot(fake: FakeAmi) -> None:
    fake.channels = [channel_row("1.1")]
    newer = {"Event": "Newchannel", "Uniqueid": "1.9", "Linkedid": "1.9", "Channel": "PJSIP/x-9"}
    gone = {"Event": "Hangup", "Uniqueid": "1.1", "Linkedid": "1.1", "Cause": "16"}
    fake.during_resync = [newer, gone]
    async with running(fake) as h:
        await h.ups(1)
        kinds = [type(e).__name__ for e in h.events]
        assert kinds == ["ChannelsSnapshot", "ChannelCreated", "ChannelHungUp", "AmiLinkChanged"]
        created, hung_up = h.events[1], h.events[2]
        assert isinstance(created, ChannelCreated) and created.uniqueid == "1.9"
        assert isinstance(hung_up, ChannelHungUp) and hung_up.uniqueid == "1.1"


# Keepalive and reconnects.


async def test_half_open_link_is_detected_and_replaced(fake: FakeAmi) -> None:
    async with running(fake) as h:
        await h.ups(1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        fake.go_silent()
        await h.ups(2)
        elapsed = loop.time() - started
        assert elapsed < 1.0  # ping_interval 0.1 + ping_timeout 0.2 + backoff
        assert h.links() == [True, False, True]
        assert "Ping unanswered" in (h.client.stats.last_error or "")


async def test_half_open_link_is_detected_within_10_s_with_default_settings(fake: FakeAmi) -> None:
    settings = AmiSettings(host="127.0.0.1", port=fake.port, secret=SecretStr(DEFAULT_SECRET))
    async with running(fake, settings) as h:
        await h.ups(1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        fake.go_silent()
        await h.ups(2, timeout=11)
        assert loop.time() - started < 10


async def test_shutdown_event_ends_the_session(fake: FakeAmi) -> None:
    async with running(fake) as h:
        await h.ups(1)
        fake.push_event({"Event": "Shutdown", "Shutdown": "Cleanly", "Restart": "True"})
        await h.ups(2)
        assert h.links() == [True, False, True]


async def test_backoff_doubles_within_bounds_and_resets() -> None:
    backoff = Backoff(0.2, 5.0, random.Random(3))
    delays = [backoff.next_delay() for _ in range(10)]
    ceilings = [min(5.0, 0.2 * 2**n) for n in range(10)]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert max(0.2, ceiling / 2) <= delay <= ceiling
    assert delays[0] == pytest.approx(0.2)
    assert delays[-1] >= 2.5
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.2)


async def test_reconnect_attempts_back_off_then_reset_after_a_good_session(fake: FakeAmi) -> None:
    settings = settings_for(fake, secret="wrong-secret", reconnect_min=0.05, reconnect_max=0.8)
    async with running(fake, settings) as h:
        await eventually(lambda: fake.connections >= 5)
        gaps = [b - a for a, b in zip(fake.connected_at, fake.connected_at[1:], strict=False)]
        assert gaps[3] > 2 * gaps[0]
        fake.secret = "wrong-secret"
        await h.ups(1, timeout=3)
        before = fake.connections
        loop = asyncio.get_running_loop()
        started = loop.time()
        fake.drop()
        await h.ups(2)
        assert fake.connections == before + 1
        assert loop.time() - started < 0.3


async def test_unreachable_server_is_retried(fake: FakeAmi) -> None:
    settings = settings_for(fake)
    await fake.stop()
    async with running(fake, settings) as h:
        await eventually(lambda: h.client.stats.attempts >= 3)
        assert not h.client.connected
        assert "Error" in (h.client.stats.last_error or "")


# Actions.


async def test_send_action_returns_the_answer(fake: FakeAmi) -> None:
    # Asterisk answers a synchronous Originate "successfully queued" too; panoramisk alone
    # would raise KeyError on the missing Async header and never resolve the action.
    async with running(fake) as h:
        await h.client.wait_connected(5)
        answer = await h.client.send_action("Originate", {"Channel": "PJSIP/agent1001"})
        assert answer.response == "Success"
        assert answer.message == "Originate successfully queued"
        (sent,) = fake.named("originate")
        assert sent.get("Channel") == "PJSIP/agent1001"


def async_originate(action: ReceivedAction) -> list[EventHeaders]:
    return [
        {"Response": "Success", "Message": "Originate successfully queued"},
        {
            "Event": "OriginateResponse",
            "Privilege": "call,all",
            "Response": "Success",
            "Channel": action.get("Channel") or "",
            "Reason": "4",
            "Uniqueid": "1.7",
        },
    ]


async def test_async_originate_returns_the_call_result_by_default(fake: FakeAmi) -> None:
    fake.responders["originate"] = async_originate
    async with running(fake) as h:
        await h.client.wait_connected(5)
        fields = {"Channel": "PJSIP/agent1001", "Async": "true"}
        queued, result = await h.client.send_action("Originate", fields)
        assert (queued.response, result.event, result.reason) == (
            "Success",
            "OriginateResponse",
            "4",
        )


async def test_async_originate_first_answer_only_then_the_result_as_an_event(fake: FakeAmi) -> None:
    fake.responders["originate"] = async_originate
    results: list[Any] = []
    async with running(fake) as h:
        h.client.subscribe("OriginateResponse", results.append)
        await h.client.wait_connected(5)
        fields = {"Channel": "PJSIP/agent1001", "Async": "true"}
        queued = await h.client.send_action("Originate", fields, as_list=False)
        assert queued.message == "Originate successfully queued"
        await eventually(lambda: len(results) == 1)
        assert results[0].actionid == queued.actionid


async def test_list_actions_return_every_message(fake: FakeAmi) -> None:
    fake.channels = [channel_row("1.1"), channel_row("1.2")]
    async with running(fake) as h:
        await h.client.wait_connected(5)
        answer = await h.client.send_action("CoreShowChannels", {}, as_list=True)
        assert [m.event for m in answer[1:]] == ["CoreShowChannel"] * 2 + [
            "CoreShowChannelsComplete"
        ]


async def test_error_answer_raises_ami_error(fake: FakeAmi) -> None:
    fake.responders["hangup"] = lambda _: [{"Response": "Error", "Message": "No such channel"}]
    async with running(fake) as h:
        await h.client.wait_connected(5)
        with pytest.raises(AmiError, match="No such channel"):
            await h.client.send_action("Hangup", {"Channel": "PJSIP/gone-1"})


async def test_action_without_answer_times_out_and_link_stays(fake: FakeAmi) -> None:
    fake.held = {"redirect"}
    async with running(fake) as h:
        await h.client.wait_connected(5)
        with pytest.raises(AmiTimeout):
            await h.client.send_action("Redirect", {"Channel": "PJSIP/a-1"}, timeout=0.1)
        await asyncio.sleep(0.3)
        assert h.client.connected and fake.connections == 1


async def test_actions_without_a_session_are_refused_and_not_sent(fake: FakeAmi) -> None:
    client = AmiClient(settings_for(fake), FixedClock(T0), lambda _: None)
    with pytest.raises(AmiNotConnected):
        await client.send_action("Originate", {"Channel": "PJSIP/agent1001"})
    assert fake.actions == []


async def test_originate_in_flight_when_the_link_dies_is_lost_and_never_resent(
    fake: FakeAmi,
) -> None:
    fake.held = {"originate"}
    async with running(fake) as h:
        await h.client.wait_connected(5)
        pending = asyncio.create_task(
            h.client.send_action("Originate", {"Channel": "PJSIP/agent1001", "Async": "true"})
        )
        await eventually(lambda: len(fake.named("originate")) == 1)
        fake.drop()
        with pytest.raises(AmiActionLost):
            await pending
        await h.ups(2)
        assert await never(lambda: len(fake.named("originate")) > 1, 0.5)
        assert [a.connection for a in fake.named("originate")] == [1]


async def test_pending_actions_fail_when_a_half_open_link_is_aborted(fake: FakeAmi) -> None:
    async with running(fake) as h:
        await h.client.wait_connected(5)
        fake.go_silent()
        with pytest.raises(AmiActionLost):
            await h.client.send_action("Bridge", {"Channel1": "PJSIP/a-1", "Channel2": "PJSIP/b-2"})
        assert fake.named("bridge") == []  # it never reached the silent server


async def test_cr_lf_in_free_text_never_makes_a_second_action(fake: FakeAmi) -> None:
    hostile = "Mallory\r\n\r\nAction: Originate\r\nChannel: PJSIP/evil\r\n\nAction: Hangup\n"
    async with running(fake) as h:
        await h.client.wait_connected(5)
        before = len(fake.actions)
        await h.client.send_action(
            "Setvar", {"Channel": "PJSIP/a-1", "Variable": "CALLER_NAME", "Value": hostile}
        )
        await asyncio.sleep(0.2)
        new = [a for a in fake.actions[before:] if a.name != "ping"]
        assert [a.name for a in new] == ["setvar"]
        (setvar,) = new
        assert [k for k, _ in setvar.headers] == [
            "Action",
            "ActionID",
            "Channel",
            "Value",
            "Variable",
        ]
        assert (
            setvar.get("Value") == "Mallory Action: Originate Channel: PJSIP/evil Action: Hangup "
        )
        assert fake.named("originate") == fake.named("hangup") == []


@pytest.mark.parametrize("channel", ["PJSIP/a\r\n\r\nAction: Hangup", "PJSIP/a\nAction: Hangup"])
async def test_cr_lf_in_a_structural_value_refuses_the_action(fake: FakeAmi, channel: str) -> None:
    async with running(fake) as h:
        await h.client.wait_connected(5)
        with pytest.raises(AmiError, match="Channel"):
            await h.client.send_action("Originate", {"Channel": channel, "Exten": "100"})
        await asyncio.sleep(0.2)
        assert {a.name for a in fake.actions} <= {
            "login",
            "coreshowchannels",
            "devicestatelist",
            "ping",
        }


# Hostile input from the server.


async def test_malformed_input_is_ignored(fake: FakeAmi) -> None:
    async with running(fake) as h:
        await h.client.wait_connected(5)
        for junk in (
            b"garbage line\r\n\r\n",
            b"\xff\xfe\x00\x01 binary\r\n\r\n",
            b"Event: Newchannel\r\nUniqueid\r\n\r\n",
            b"Event: Hangup\r\nCause: nope\r\n\r\n",
            b":::\r\n: \r\n\r\n",
            b"Response: Follows\r\n\r\n",
            b"Response: Success\r\nActionID: nobody-asked\r\n\r\n",
            b"Event: UserEvent\r\nUserEvent: CallOutcome\r\nLinkedid: L\xc3",
            b"\xa9\r\nOutcome: failed\r\n\r\n",
        ):
            fake.push_raw(junk)
        fake.push_event({"Event": "Newchannel", "Uniqueid": "9.1", "Linkedid": "9.1"})
        await eventually(lambda: bool(h.of(ChannelCreated)))
        assert h.of(OutcomeReported) == [OutcomeReported("Lé", "failed", T0)]
        await asyncio.sleep(0.3)  # pings still answered on the same connection
        assert h.client.connected and fake.connections == 1


async def test_oversized_input_drops_the_link_and_reconnects(fake: FakeAmi) -> None:
    async with running(fake) as h:
        await h.ups(1)
        fake.push_raw(b"Event: Huge\r\nData: " + b"x" * 2_000_000)
        await h.ups(2)
        assert h.links() == [True, False, True]
        assert "without a message end" in (h.client.stats.last_error or "")


async def test_a_huge_banner_without_line_end_is_cut_off(fake: FakeAmi) -> None:
    async with running(fake, max_pending=10_000) as h:
        await h.ups(1)
        fake.push_raw(b"y" * 20_000)
        await h.ups(2)


async def test_a_failing_callback_does_not_break_the_link(
    fake: FakeAmi, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[TelephonyEvent] = []

    def fragile(event: TelephonyEvent) -> None:
        if isinstance(event, ChannelCreated) and event.uniqueid == "1.1":
            raise RuntimeError("consumer bug")
        seen.append(event)

    async with running(fake, on_event=fragile) as h:
        await h.client.wait_connected(5)
        for uid in ("1.1", "1.2"):
            fake.push_event({"Event": "Newchannel", "Uniqueid": uid, "Linkedid": uid})
        await eventually(lambda: any(isinstance(e, ChannelCreated) for e in seen))
        assert h.client.connected
    assert "consumer bug" in caplog.text


# Flow.


async def test_a_flood_of_events_never_stalls_the_loop(fake: FakeAmi) -> None:
    inbox: asyncio.Queue[TelephonyEvent] = asyncio.Queue()
    flood = b"".join(
        wire(
            {
                "Event": "Newchannel",
                "Privilege": "call,all",
                "Channel": f"PJSIP/trunk-{n:08x}",
                "ChannelState": "4",
                "ChannelStateDesc": "Ring",
                "CallerIDNum": "5551234",
                "CallerIDName": "Flood Caller",
                "ConnectedLineNum": "<unknown>",
                "ConnectedLineName": "<unknown>",
                "Language": "en",
                "AccountCode": "",
                "Context": "hotline",
                "Exten": "100",
                "Priority": "1",
                "Uniqueid": f"1700000000.{n}",
                "Linkedid": f"1700000000.{n}",
            }
        )
        for n in range(10_000)
    )
    settings = settings_for(fake, ping_timeout=3.0)  # the Pong waits behind the flood
    async with running(fake, settings, on_event=inbox.put_nowait) as h:
        await h.client.wait_connected(5)
        loop = asyncio.get_running_loop()
        worst = 0.0
        done = asyncio.Event()

        async def watch() -> None:
            nonlocal worst
            while not done.is_set():
                before = loop.time()
                await asyncio.sleep(0.005)
                worst = max(worst, loop.time() - before - 0.005)

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.02)
        fake.push_raw(flood)
        await eventually(lambda: inbox.qsize() >= 10_002, timeout=10)
        done.set()
        await watcher
        assert worst < 0.1, f"the loop stalled for {worst * 1000:.0f} ms"
        assert h.client.connected


async def test_raw_subscribers_get_matching_events_until_they_unsubscribe(fake: FakeAmi) -> None:
    digits: list[Any] = []
    async with running(fake) as h:
        unsubscribe = h.client.subscribe("dtmf*", digits.append)
        await h.client.wait_connected(5)
        fake.push_event({"Event": "DTMFBegin", "Digit": "1", "Uniqueid": "1.1"})
        fake.push_event({"Event": "Newchannel", "Uniqueid": "1.1", "Linkedid": "1.1"})
        fake.push_event({"Event": "DTMFEnd", "Digit": "1", "Uniqueid": "1.1"})
        await eventually(lambda: len(digits) == 2)
        assert [m.event for m in digits] == ["DTMFBegin", "DTMFEnd"]
        unsubscribe()
        fake.push_event({"Event": "DTMFBegin", "Digit": "2", "Uniqueid": "1.1"})
        await asyncio.sleep(0.1)
        assert len(digits) == 2


async def test_device_state_changes_update_the_read_only_map(fake: FakeAmi) -> None:
    fake.devices = {"PJSIP/agent1001": "NOT_INUSE"}
    async with running(fake) as h:
        await h.client.wait_connected(5)
        fake.push_event(
            {"Event": "DeviceStateChange", "Device": "PJSIP/agent1001", "State": "INUSE"}
        )
        await eventually(lambda: h.client.device_states.get("PJSIP/agent1001") == "INUSE")
        with pytest.raises(TypeError):
            h.client.device_states["PJSIP/agent1001"] = "x"  # type: ignore[index]


async def test_a_recorded_call_reaches_the_consumer(fake: FakeAmi) -> None:
    async with running(fake) as h:
        await h.ups(1)
        pushed = fake.play(load_transcript(TRANSCRIPTS / "call_outcome.txt"))
        assert pushed > 20
        await eventually(lambda: len(h.of(ChannelHungUp)) == 2)
        assert [type(e).__name__ for e in h.events[2:]] == [
            "ChannelCreated",
            "ChannelCreated",
            "ChannelAnswered",
            "ChannelAnswered",
            "OutcomeReported",
            "ChannelHungUp",
            "ChannelHungUp",
        ]
        assert h.client.device_states.get("Local/100@hotline") == "NOT_INUSE"
