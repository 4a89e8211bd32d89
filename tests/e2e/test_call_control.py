"""The ACD's Asterisk side against the real Asterisk: waiting callers, offers, bridges, moves.

Callers are SIPp UACs dialling 41QP (the test overlay's hand-over to cc-queue-wait); every
agent's phone is one SIPp UAS (tests/sipp/agent_uas.xml) whose log lines arrive here live.
The engine side is only the adapter: an AMI client as the engine's user, AcdEventSource and
AmiCallControl; the ACD events it reports are collected and checked one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from callcenter.acd.call_control import AcdEventSource, AmiCallControl
from callcenter.acd.model import (
    AcdEvent,
    CallControl,
    CallEnded,
    CallerArrived,
    CallerLeft,
    CallerPressedKey,
    OfferAnswered,
    OfferFailed,
    OverflowKind,
    OverflowTarget,
)
from callcenter.asterisk.ami import AmiClient
from callcenter.clock import SystemClock
from callcenter.errors import AmiError
from callcenter.settings import AmiSettings
from tests.e2e.harness import Asterisk
from tests.e2e.observer import AmiObserver, observing
from tests.e2e.phones import agent_phones, call_in, step, waiting_caller

pytestmark = pytest.mark.e2e

E = TypeVar("E", bound=AcdEvent)
Event = dict[str, Any]


# --- what the adapter reports -------------------------------------------------------------


class Reported:
    """The ACD events the adapter hands to its sink, in order."""

    def __init__(self) -> None:
        self.events: list[AcdEvent] = []
        self.arrivals: list[CallerArrived] = []  # from cc-queue-wait's CallerQueued, apart
        self._changed = asyncio.Event()

    def record(self, event: AcdEvent) -> None:
        if isinstance(event, CallerArrived):
            self.arrivals.append(event)
        else:
            self.events.append(event)
        self._changed.set()

    async def wait_for(self, kind: type[E], timeout: float = 10, **fields: object) -> E:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if isinstance(event, kind) and all(
                        getattr(event, k) == v for k, v in fields.items()
                    ):
                        return event
                self._changed.clear()
                await self._changed.wait()


@dataclass
class EngineSide:
    ami: AmiClient
    source: AcdEventSource
    control: AmiCallControl
    reported: Reported


@contextlib.asynccontextmanager
async def engine_side(asterisk: Asterisk) -> AsyncIterator[EngineSide]:
    clock = SystemClock()
    settings = AmiSettings.model_validate({"secret": asterisk.ami_secret})
    ami = AmiClient(settings, clock, on_event=lambda _event: None)
    task = asyncio.create_task(ami.run())
    reported = Reported()
    source = AcdEventSource(ami, clock, reported.record)
    source.start()
    control = AmiCallControl(ami, source)
    port: CallControl = control  # the adapter implements the ACD's port
    assert port is control
    try:
        await ami.wait_connected(15)
        yield EngineSide(ami, source, control, reported)
    finally:
        source.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def hang_up(side: EngineSide, channel: str) -> None:
    await side.ami.send_action("Hangup", {"Channel": channel})


async def finish(caller: asyncio.Task[tuple[int, str]]) -> None:
    code, output = await caller
    assert code == 0, output[-2000:]


# --- the tests ----------------------------------------------------------------------------


async def test_waiting_caller_is_found_offered_bridged_and_ended_once(asterisk: Asterisk) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        engine_side(asterisk) as side,
        agent_phones(asterisk) as phones,
    ):
        caller = call_in(asterisk, exten="4137", hold_ms=6_000)
        call, channel = await waiting_caller(observer)

        # Re-adoption at a restart: the caller is found with the variables of its hand-over.
        (found,) = [c for c in await side.control.waiting_callers() if c.channel == channel]
        assert (found.call, found.queue, found.priority, found.skills) == (call, "q3", 7, {})
        # ... and it announced itself once when it started waiting (UserEvent CallerQueued)
        (arrived,) = side.reported.arrivals
        assert (arrived.call, arrived.channel, arrived.queue, arrived.priority) == (
            call,
            channel,
            "q3",
            7,
        )
        assert abs(arrived.enqueued_at - found.enqueued_at) < timedelta(milliseconds=2)
        assert abs(found.enqueued_at - datetime.now(UTC)) < timedelta(seconds=10)
        side.source.track_caller(call, channel)

        offer = f"{call}-o1"
        asked = time.time()
        await side.control.ring_agent(offer, call, "agent1001", 5)
        invite = await phones.wait_for("invite", "agent1001")
        await side.reported.wait_for(OfferAnswered, offer=offer)

        started = time.perf_counter()
        await side.control.connect(channel, offer)
        bridge_ms = (time.perf_counter() - started) * 1000
        agent_leg = (
            await observer.wait_for(
                lambda e: e.get("Event") == "BridgeEnter" and e.get("Uniqueid") == offer, 5
            )
        )["Channel"]
        entered = {
            e["Channel"]: e["BridgeUniqueid"] for e in observer.matching(Event="BridgeEnter")
        }
        assert entered[channel] == entered[agent_leg], entered
        # A bridged caller is no waiting caller, though its context is still cc-queue-wait.
        assert channel not in [c.channel for c in await side.control.waiting_callers()]

        await side.reported.wait_for(CallEnded, call=call)  # the caller hangs up (6 s)
        await phones.wait_for("bye-received", "agent1001")
        await asyncio.sleep(0.5)
        await finish(caller)
        await side.source.wait_idle()

    invite_ms = (invite.at - asked) * 1000
    print(f"ring_agent_to_invite_ms={invite_ms:.1f} bridge_round_trip_ms={bridge_ms:.1f}")
    assert [type(e) for e in side.reported.events] == [OfferAnswered, CallEnded]
    assert invite_ms < 500 and bridge_ms < 100
    # The agent's phone shows who is calling: the waiting caller's number and name.
    (shown,) = [e for e in observer.matching(Event="NewCallerid") if e.get("Uniqueid") == offer]
    assert (shown["CallerIDNum"], shown["CallerIDName"]) == ("caller1", "Caller 1")


async def test_agent_hanging_up_ends_the_call_for_the_caller_too(asterisk: Asterisk) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        engine_side(asterisk) as side,
        agent_phones(asterisk, talk_ms=1_500) as phones,
    ):
        caller = call_in(asterisk, hold_ms=30_000)
        call, channel = await waiting_caller(observer)
        side.source.track_caller(call, channel)
        await side.control.ring_agent(f"{call}-o1", call, "agent1002", 5)
        await side.reported.wait_for(OfferAnswered, offer=f"{call}-o1")
        await side.control.connect(channel, f"{call}-o1")
        await side.reported.wait_for(CallEnded, call=call)
        await phones.wait_for("bye-sent", "agent1002")
        async with asyncio.timeout(5):  # the dialplan hangs up the caller after the bridge
            await finish(caller)
        await side.source.wait_idle()

    assert [type(e) for e in side.reported.events] == [OfferAnswered, CallEnded]


async def test_offers_that_fail_or_are_withdrawn(asterisk: Asterisk) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        engine_side(asterisk) as side,
        agent_phones(asterisk, never=["agent1003", "agent1004", "agent1005"]) as phones,
    ):
        caller = call_in(asterisk, hold_ms=30_000)
        call, channel = await waiting_caller(observer)
        side.source.track_caller(call, channel)

        # Rings out: the ring timeout ends it, the phone sees a CANCEL.
        asked = time.monotonic()
        await side.control.ring_agent(f"{call}-o1", call, "agent1003", 2)
        failed = await side.reported.wait_for(OfferFailed, offer=f"{call}-o1")
        rang = time.monotonic() - asked
        assert failed.reason == "no_answer" and 1.8 < rang < 4, rang
        await phones.wait_for("cancel", "agent1003")

        # Withdrawn while ringing: a CANCEL at the phone, and no event about it.
        await side.control.ring_agent(f"{call}-o2", call, "agent1004", 10)
        await phones.wait_for("invite", "agent1004")
        await asyncio.sleep(0.2)
        await side.control.stop_ringing(f"{call}-o2")
        await phones.wait_for("cancel", "agent1004", timeout=5)

        # Withdrawn at once: before the phone's 180 Asterisk could not cancel it, so the
        # hangup waits for the ringing (milliseconds); the phone still sees a CANCEL.
        await side.control.ring_agent(f"{call}-o3", call, "agent1005", 10)
        await side.control.stop_ringing(f"{call}-o3")
        await phones.wait_for("cancel", "agent1005", timeout=5)
        await side.source.wait_idle()
        listing = await side.ami.send_action("CoreShowChannels", as_list=True)
        assert not [m for m in listing if m.get("Uniqueid", "").startswith(f"{call}-o")]

        # An endpoint Asterisk does not know: at once, unavailable.
        await side.control.ring_agent(f"{call}-o4", call, "agent1099", 10)
        failed = await side.reported.wait_for(OfferFailed, offer=f"{call}-o4")
        assert failed.reason == "unavailable"

        # Refused before anything is sent: an agent id that is not a plain endpoint name.
        with pytest.raises(AmiError, match="endpoint"):
            await side.control.ring_agent(f"{call}-o5", call, "agent1001/sip:x@192.0.2.1", 5)

        # A hang-up the adapter missed (it was not listening) is found by reconcile().
        side.source.close()
        await hang_up(side, channel)
        await observer.wait_for(
            lambda e: e.get("Event") == "Hangup" and e.get("Channel") == channel, 5
        )
        side.source.start()
        await side.source.reconcile()
        await finish(caller)
        await side.source.wait_idle()

    assert side.reported.events == [
        OfferFailed(f"{call}-o1", "no_answer", side.reported.events[0].at),
        OfferFailed(f"{call}-o4", "unavailable", side.reported.events[1].at),
        CallerLeft(call, side.reported.events[2].at),
    ]


async def wait_count(
    observer: AmiObserver, predicate: Callable[[Event], bool], count: int, timeout: float
) -> None:
    async with asyncio.timeout(timeout):
        while sum(1 for e in observer.events if predicate(e)) < count:
            await asyncio.sleep(0.05)


async def test_keys_announcement_and_voicemail_of_a_waiting_caller(asterisk: Asterisk) -> None:
    async with observing(asterisk.ami_secret) as observer, engine_side(asterisk) as side:
        caller = call_in(asterisk, exten="4100", keys="5")
        call, channel = await waiting_caller(observer)
        side.source.track_caller(call, channel)

        # DTMF while the music plays reaches the engine (the caller presses 5 after 1.5 s).
        key = await side.reported.wait_for(CallerPressedKey, call=call)
        assert key.digit == "5"

        # The announcement plays, then the caller is back in the wait with its variables.
        waiting = step("cc-queue-wait", "BridgeWait", channel)
        await side.control.announce(channel, 2, 150)
        await wait_count(observer, waiting, 2, 20)
        said = [
            e["AppData"]
            for e in observer.events
            if step("cc-announce", "SayNumber", channel)(e)
            or step("cc-announce", "Playback", channel)(e)
        ]
        assert said == [
            "queue-thereare",
            "2",
            "queue-callswaiting",
            "queue-holdtime",
            "3",
            "queue-minutes",
            "queue-thankyou",
        ]
        found = await side.control.waiting_callers()
        assert [(c.call, c.queue) for c in found if c.channel == channel] == [(call, "q0")]

        await side.control.send_elsewhere(
            channel, OverflowTarget(OverflowKind.VOICEMAIL, "hotline")
        )
        voicemail = await observer.wait_for(step("cc-elsewhere", "VoiceMail", channel), 10)
        assert voicemail["AppData"] == "hotline@callcenter"
        await hang_up(side, channel)
        await finish(caller)
        await side.source.wait_idle()

    # The caller left the ACD at send_elsewhere: its hang-up is no CallerLeft.
    assert side.reported.events == [key]


async def test_a_waiting_caller_hears_the_music_class_it_was_given_if_clean(
    asterisk: Asterisk,
) -> None:
    async with observing(asterisk.ami_secret) as observer, engine_side(asterisk) as side:
        caller = call_in(asterisk, exten="4100", hold_ms=15_000)
        call, channel = await waiting_caller(observer)
        side.source.track_caller(call, channel)
        waiting = step("cc-queue-wait", "BridgeWait", channel)
        for count, moh in ((2, "on_hold-2"), (3, "x),m(evil")):
            await side.ami.send_action(
                "Setvar", {"Channel": channel, "Variable": "CC_MOH", "Value": moh}
            )
            await side.control.announce(channel, 1, None)  # back to the wait afterwards
            await wait_count(observer, waiting, count, 20)
        classes = [e["AppData"].split(",", 2)[2] for e in observer.events if waiting(e)]
        assert classes == ["m(default)", "m(on_hold-2)", "m(default)"]
        await hang_up(side, channel)
        await finish(caller)
        await side.source.wait_idle()
