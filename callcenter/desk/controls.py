"""The agent's call controls and the supervisor's listen / whisper / barge, over AMI.

Theory of operation. Once the ACD has bridged a caller with an agent leg (Uniqueid
``<call>-o<n>``, see :mod:`callcenter.acd.call_control`), everything here works on those two
channels, found from the agent's id: the ACD core says which call the agent is talking on,
the ACD's legs know the caller's channel, and Asterisk's channel list names the agent leg.
Every move is an AMI action on channels that are already up; the dialplan contexts they go
to are in ``dialplans/extensions_desk.conf``:

==========================  ================================================================
hold                        ``Redirect`` of the caller to ``cc-desk-hold`` (music on hold),
                            the agent leg to ``cc-desk-park`` (silence) in the same action:
                            moving one party out of a two-party bridge would end the other
resume                      ``Bridge`` of the two again
blind transfer              the agent leg is released (``cc-desk-end``) while the caller hears
                            music; then an agent's phone is rung (an agent leg of the same
                            kind the ACD makes, handed to the ACD as a restart hands it the
                            pairs it finds: ``AcdLegs.adopt_pair`` and ``AgentOnCall``, so
                            the new agent is talking and the pair's hang-ups end the call as
                            usual), or the caller waits in a queue again
                            (``cc-queue-wait``), or an allowed outside number is dialled
                            (``cc-desk-transfer``). An agent who does not answer sends the
                            caller back to the queue it came from.
attended transfer           hold, ring the target, bridge the agent with it (consultation);
                            *complete* bridges the caller with the target and releases the
                            agent, *cancel* hangs the target up and bridges the caller back
conference                  the caller and the agent move into a ConfBridge room named after
                            the call (``cc-desk-conference``); the third party is rung into it
hang up                     both channels are hung up
recording                   a recorder joins without touching the bridge: a Local channel
                            whose first half spies on the agent leg (ChanSpy hears both sides)
                            and whose second half runs MixMonitor (``cc-desk-recorder``).
                            MixMonitor itself is no AMI action for the engine: it needs the
                            ``system`` class, which the engine's AMI user never holds. Pause
                            and resume (card numbers) are ``MixMonitorMute``; stop hangs the
                            recorder up.
listen / whisper / barge    an Originate to the supervisor's phone into ``cc-desk-spy``, where
                            ChanSpy runs on the agent leg with options ``q`` and ``w``/``B``
==========================  ================================================================

When the two parties of a call are apart (on hold, consulting) and one of them hangs up, the
other is not left waiting: a caller goes back to its queue, an agent leg is hung up.

Hostile input never reaches AMI as such: agent ids, queues and numbers are matched against
strict patterns here (and outside numbers against ``ivr.transfer_numbers``), every value is
passed to the dialplan as a channel variable that the dialplan filters again, and every
action goes through :mod:`callcenter.asterisk.sanitize`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from callcenter.acd.call_control import WAIT_CONTEXT, AcdLegs, parse_epoch
from callcenter.acd.core import offer_prefix
from callcenter.acd.model import AcdEvent, AgentId, AgentOnCall, AgentState, CallId
from callcenter.acd.service import AcdCore
from callcenter.asterisk.sanitize import FieldValue, clean_text
from callcenter.asterisk.translate import event_name, headers_of
from callcenter.clock import Clock
from callcenter.errors import AmiError, BadRequest, Conflict
from callcenter.telephony import AGENT_LEG_MARK

log = logging.getLogger(__name__)

HOLD_CONTEXT = "cc-desk-hold"
PARK_CONTEXT = "cc-desk-park"
END_CONTEXT = "cc-desk-end"
LEG_CONTEXT = "cc-desk-leg"
TRANSFER_CONTEXT = "cc-desk-transfer"
CONFERENCE_CONTEXT = "cc-desk-conference"
SPY_CONTEXT = "cc-desk-spy"
RECORDER_CONTEXT = "cc-desk-recorder"
TRUNK = "callers"
"""The PJSIP endpoint outside numbers are dialled through (as the IVR's transfers)."""

RING_SECONDS = 20.0
"""How long a transfer target, a third party or a supervisor's phone rings."""
GONE_WAIT = 5.0
"""How long to wait for a released agent leg's hangup before going on without it."""
FIRST_DESK_LEG = 5000
"""Numbers of the agent legs rung here start high, away from the ACD's own offers."""

AGENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
QUEUE_ID = AGENT_ID
ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
NUMBER = re.compile(r"\+?[0-9]{3,20}")
_CHANNEL = re.compile(r"[A-Za-z0-9_/@.;:+-]{1,128}")
_NOT_ROOM = re.compile(r"[^A-Za-z0-9_-]")


class NoCall(Conflict):
    """The agent is not talking on a call the engine connected."""

    code = "desk_no_call"


class ControlConflict(Conflict):
    """The control does not fit what the call is doing (on hold, consulting, in a
    conference, recording...)."""

    code = "desk_control_conflict"


class BadTarget(BadRequest):
    """A transfer, conference or listening target that is malformed, unknown or not
    allowed."""

    code = "desk_bad_target"


class TargetKind(StrEnum):
    AGENT = "agent"
    QUEUE = "queue"
    NUMBER = "number"


class SpyMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a transfer or a conference goes; checked by :meth:`DeskControls.check_target`."""

    kind: TargetKind
    value: str


class AmiPort(Protocol):
    """What the controls need of :class:`~callcenter.asterisk.ami.AmiClient`."""

    async def send_action(
        self,
        action: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        as_list: bool | None = None,
    ) -> Any: ...

    def subscribe(self, pattern: str, callback: Callable[[Any], None]) -> Callable[[], None]: ...


class AcdPort(Protocol):
    """What the controls need of :class:`~callcenter.acd.service.AcdService`."""

    @property
    def core(self) -> AcdCore: ...

    def submit(self, event: AcdEvent) -> None: ...


class LegsPort(Protocol):
    """What the controls need of :class:`~callcenter.acd.call_control.AcdEventSource`."""

    @property
    def legs(self) -> AcdLegs: ...

    def channel_of(self, call: CallId) -> str | None: ...


class PopFollower(Protocol):
    """The desk's screen-pops (:class:`~callcenter.desk.service.DeskService`): a transfer's
    ring to another agent carries the call's pop to that agent's desk."""

    def follow(
        self,
        call: CallId,
        agent: AgentId,
        offer: str,
        queue: str = "",
        since: datetime | None = None,
    ) -> None: ...

    def withdraw(self, agent: AgentId, offer: str) -> None: ...


@dataclass(slots=True)
class _Ring:
    """A channel originated here, until it answers or ends."""

    id: str
    answered: asyncio.Future[bool]
    channel: str = ""


@dataclass(slots=True)
class _Consult:
    target: Target
    ring: _Ring
    connected: bool = False


@dataclass(slots=True)
class _Recording:
    recorder: str  # the Local channel's first half (ChanSpy); hung up to stop
    monitor: str  # its second half (MixMonitor); muted to pause
    file: str
    paused: bool = False


@dataclass(slots=True)
class _Desk:
    """What the controls did to one agent's current call."""

    agent: AgentId
    call: CallId
    caller: str
    leg: str
    held: bool = False
    consult: _Consult | None = None
    room: str = ""
    recording: _Recording | None = None

    @property
    def apart(self) -> bool:
        """Caller and agent are not in one bridge or room (hold, consultation)."""
        return self.held

    def status(self) -> dict[str, Any]:
        consult = self.consult
        recording = self.recording
        return {
            "agent": self.agent,
            "call": self.call,
            "held": self.held,
            "consult": None
            if consult is None
            else {
                "kind": consult.target.kind.value,
                "target": consult.target.value,
                "state": "connected" if consult.connected else "ringing",
            },
            "conference": bool(self.room),
            "recording": None
            if recording is None
            else {"file": recording.file, "paused": recording.paused},
        }


@dataclass(slots=True)
class _Watch:
    """Futures resolved by AMI events: rings by Uniqueid, hang-ups by channel name."""

    rings: dict[str, _Ring] = field(default_factory=dict)
    gone: dict[str, list[asyncio.Future[None]]] = field(default_factory=dict)


class DeskControls:
    """Call controls by agent id; see the module docstring."""

    def __init__(
        self,
        ami: AmiPort,
        acd: AcdPort,
        events: LegsPort,
        clock: Clock,
        transfer_numbers: Iterable[str] = (),
        pops: PopFollower | None = None,
    ) -> None:
        self._pops = pops
        self._ami = ami
        self._acd = acd
        self._events = events
        self._clock = clock
        self._numbers = frozenset(transfer_numbers)
        self._desks: dict[AgentId, _Desk] = {}
        self._watch = _Watch()
        self._ids = itertools.count(FIRST_DESK_LEG)
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = ami.subscribe("*", self._on_event)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self._tasks:
            task.cancel()

    async def wait_idle(self) -> None:
        """Until the background steps (rings, hand-overs) are done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- checks (pure) ------------------------------------------------------------------

    def check_target(self, kind: str, value: str, agent: AgentId) -> Target:
        """A transfer or conference target, or :class:`BadTarget` saying why not."""
        try:
            target = Target(TargetKind(kind), value)
        except ValueError:
            raise BadTarget("kind must be one of agent, queue, number") from None
        if not isinstance(value, str):
            raise BadTarget("target must be a string")
        if target.kind is TargetKind.NUMBER:
            self.check_number(value)
        elif not AGENT_ID.fullmatch(value):
            raise BadTarget(f"{kind} id refused: {value[:64]!r}")
        elif target.kind is TargetKind.AGENT:
            self._check_agent_target(value, agent)
        else:
            self._acd.core.queue_config(value)  # 404 for an unknown queue
        return target

    def check_number(self, number: str) -> str:
        if not isinstance(number, str) or not NUMBER.fullmatch(number):
            raise BadTarget("a number is 3 to 20 digits, optionally after '+'")
        if number not in self._numbers:
            raise BadTarget(f"number {number} is not on the allow-list (ivr.transfer_numbers)")
        return number

    def phone_of(self, endpoint: str) -> str:
        """The dial string of a supervisor's phone: a PJSIP endpoint or an allowed number."""
        if not isinstance(endpoint, str):
            raise BadTarget("endpoint must be a string")
        if NUMBER.fullmatch(endpoint):
            return f"PJSIP/{self.check_number(endpoint)}@{TRUNK}"
        if not ENDPOINT.fullmatch(endpoint):
            raise BadTarget(f"endpoint refused: {endpoint[:64]!r}")
        return f"PJSIP/{endpoint}"

    def _check_agent_target(self, target: AgentId, agent: AgentId) -> None:
        if target == agent:
            raise BadTarget("an agent cannot transfer a call to themselves")
        view = self._acd.core.agent(target)  # 404 for an unknown agent
        if view.state is not AgentState.READY:
            raise ControlConflict(f"agent {target} is {view.state.value}, not ready")

    # --- agent controls -----------------------------------------------------------------

    async def hold(self, agent: AgentId) -> dict[str, Any]:
        desk = await self._desk(agent)
        self._refuse_when(desk, held=True, consult=True, room=True)
        await self._part(desk, PARK_CONTEXT)
        return desk.status()

    async def resume(self, agent: AgentId) -> dict[str, Any]:
        desk = await self._desk(agent)
        self._refuse_when(desk, consult=True, room=True)
        if not desk.held:
            raise ControlConflict(f"the call of {agent} is not on hold")
        await self._bridge(desk.caller, desk.leg)
        desk.held = False
        return desk.status()

    async def transfer(self, agent: AgentId, target: Target, *, attended: bool) -> dict[str, Any]:
        desk = await self._desk(agent)
        self._refuse_when(desk, consult=True, room=True)
        if attended:
            return await self._consult(desk, target)
        queue, enqueued = await self._queue_of(desk.caller)
        caller_id = self._events.legs.caller_id(desk.call)
        released = self._release(desk)
        if target.kind is TargetKind.NUMBER:
            await self._setvar(desk.caller, "CC_DESK_NUMBER", target.value)
            await self._part(desk, END_CONTEXT, to=(TRANSFER_CONTEXT, "number"))
            return _moved(desk, target)
        await self._part(desk, END_CONTEXT)
        if target.kind is TargetKind.QUEUE:
            self._spawn(self._to_queue(desk.caller, target.value, None, released))
        else:
            hand = _HandOver(desk.call, desk.caller, target.value, caller_id, queue, enqueued)
            self._spawn(self._hand_over(hand, released))
        return _moved(desk, target)

    async def transfer_complete(self, agent: AgentId) -> dict[str, Any]:
        desk = await self._desk(agent)
        consult = desk.consult
        if consult is None or not consult.connected:
            raise ControlConflict(f"{agent} is not talking with a transfer target")
        released = self._release(desk)
        await self._bridge(desk.caller, consult.ring.channel)
        await self._hang_up(desk.leg)
        if consult.target.kind is TargetKind.AGENT:
            queue, enqueued = await self._queue_of(desk.caller)
            agent_to = consult.target.value
            hand = _HandOver(desk.call, desk.caller, agent_to, ("", ""), queue, enqueued)
            self._spawn(self._adopt(hand, consult.ring, released))
        return _moved(desk, consult.target)

    async def transfer_cancel(self, agent: AgentId) -> dict[str, Any]:
        desk = await self._desk(agent)
        consult = desk.consult
        if consult is None:
            raise ControlConflict(f"{agent} has no transfer in progress")
        desk.consult = None
        self._withdraw(consult.target.value, consult.ring.id)
        if not consult.connected:
            await self._hang_up(consult.ring.id)
        await self._bridge(desk.caller, desk.leg)
        desk.held = False
        if consult.connected:
            await self._hang_up(consult.ring.id)
        return desk.status()

    async def conference(self, agent: AgentId, target: Target) -> dict[str, Any]:
        desk = await self._desk(agent)
        self._refuse_when(desk, consult=True, room=True)
        if target.kind is TargetKind.QUEUE:
            raise BadTarget("a conference adds an agent or a number, not a queue")
        room = conference_room(desk.call)
        for channel in (desk.caller, desk.leg):
            await self._setvar(channel, "CC_DESK_ROOM", room)
        to_room = (CONFERENCE_CONTEXT, "caller")
        await self._part(desk, CONFERENCE_CONTEXT, to=to_room, exten="member")
        desk.held = False
        desk.room = room
        ring = self._new_ring(desk.call, "c")
        fields = _originate(self._dial(target), ring.id, CONFERENCE_CONTEXT, "member")
        fields["Variable"] = [f"CC_DESK_ROOM={room}"]
        await self._originate(ring, fields)
        return desk.status()

    async def hangup(self, agent: AgentId) -> dict[str, Any]:
        desk = await self._desk(agent)
        self._desks.pop(agent, None)
        if desk.consult is not None:
            await self._hang_up(desk.consult.ring.id)
        await self._hang_up(desk.caller)
        await self._hang_up(desk.leg)
        return {**desk.status(), "ended": True}

    async def record_start(self, agent: AgentId) -> dict[str, Any]:
        desk = await self._desk(agent)
        if desk.recording is not None:
            raise ControlConflict(f"the call of {agent} is already being recorded")
        recorder = f"{offer_prefix(desk.call)}-r{next(self._ids)}"
        file = recording_file(desk.call, self._clock.now())
        fields = _originate(f"Local/s@{RECORDER_CONTEXT}", recorder, SPY_CONTEXT, "record")
        fields["OtherChannelId"] = f"{recorder}-m"
        fields["Variable"] = [f"CC_SPY_TARGET={desk.leg}", f"CC_DESK_FILE={file}"]
        await self._originate(self._new_ring(desk.call, "r", recorder), fields)
        desk.recording = _Recording(recorder, f"{recorder}-m", file)
        return desk.status()

    async def record_stop(self, agent: AgentId) -> dict[str, Any]:
        desk = await self._desk(agent)
        recording = self._recording(desk)
        desk.recording = None
        await self._hang_up(recording.recorder)
        return {**desk.status(), "recorded": recording.file}

    async def record_pause(self, agent: AgentId) -> dict[str, Any]:
        return await self._mute(agent, paused=True)

    async def record_resume(self, agent: AgentId) -> dict[str, Any]:
        return await self._mute(agent, paused=False)

    # --- supervisor ---------------------------------------------------------------------

    async def spy(self, agent: AgentId, mode: SpyMode, endpoint: str) -> dict[str, Any]:
        """Ring the supervisor's phone; once answered it listens (whispers, barges) on the
        agent leg of the agent's current call."""
        phone = self.phone_of(endpoint)
        desk = await self._desk(agent)
        ring = self._new_ring(desk.call, "s")
        fields = _originate(phone, ring.id, SPY_CONTEXT, mode.value)
        fields["Variable"] = [f"CC_SPY_TARGET={desk.leg}"]
        fields["CallerID"] = f'"{mode.value} {agent}" <{agent}>'
        await self._originate(ring, fields)
        return {"agent": agent, "call": desk.call, "mode": mode.value, "spy": ring.id}

    # --- the call of an agent -----------------------------------------------------------

    async def _desk(self, agent: AgentId) -> _Desk:
        if not isinstance(agent, str) or not AGENT_ID.fullmatch(agent):
            raise BadRequest(f"agent id refused: {str(agent)[:64]!r}")
        view = self._acd.core.agent(agent)  # 404 for an unknown agent
        call = view.call
        if view.state is not AgentState.TALKING or call is None:
            raise NoCall(f"{agent} is {view.state.value}, not on a call")
        desk = self._desks.get(agent)
        if desk is not None and desk.call == call:
            return desk
        caller = self._events.channel_of(call)
        if caller is None:
            raise NoCall(f"the call of {agent} is not connected by the engine")
        leg = await self._agent_leg(agent, call)
        desk = self._desks[agent] = _Desk(agent, call, caller, leg)
        return desk

    async def _agent_leg(self, agent: AgentId, call: CallId) -> str:
        """The agent's channel on ``call``: an agent leg (Uniqueid ``<call>-o<n>``) of the
        agent's endpoint, as Asterisk lists it now."""
        pattern = re.compile(re.escape(offer_prefix(call) + AGENT_LEG_MARK) + r"[0-9]{1,9}")
        listing = await self._ami.send_action("CoreShowChannels", as_list=True)
        for fields in _channels(listing):
            channel = _text(fields, "channel")
            if (
                pattern.fullmatch(_text(fields, "uniqueid"))
                and channel.startswith(f"PJSIP/{agent}-")
                and _CHANNEL.fullmatch(channel)
            ):
                return channel
        raise NoCall(f"no channel of {agent} is up on call {call}")

    def _refuse_when(
        self, desk: _Desk, *, held: bool = False, consult: bool = False, room: bool = False
    ) -> None:
        if held and desk.held:
            raise ControlConflict(f"the call of {desk.agent} is already on hold")
        if consult and desk.consult is not None:
            raise ControlConflict(f"{desk.agent} is in the middle of a transfer")
        if room and desk.room:
            raise ControlConflict(f"the call of {desk.agent} is a conference")

    def _recording(self, desk: _Desk) -> _Recording:
        if desk.recording is None:
            raise ControlConflict(f"the call of {desk.agent} is not being recorded")
        return desk.recording

    def _release(self, desk: _Desk) -> asyncio.Future[None]:
        """Forget the agent's desk; the future resolves when the agent leg has hung up."""
        self._desks.pop(desk.agent, None)
        return self._until_gone(desk.leg)

    async def _mute(self, agent: AgentId, *, paused: bool) -> dict[str, Any]:
        desk = await self._desk(agent)
        recording = self._recording(desk)
        fields = {"Channel": recording.monitor, "Direction": "both", "State": str(int(paused))}
        await self._ami.send_action("MixMonitorMute", fields)
        recording.paused = paused
        return desk.status()

    # --- attended transfer --------------------------------------------------------------

    async def _consult(self, desk: _Desk, target: Target) -> dict[str, Any]:
        if target.kind is TargetKind.QUEUE:
            raise BadTarget("an attended transfer goes to an agent or a number, not a queue")
        if not desk.held:
            await self._part(desk, PARK_CONTEXT)
        ring = self._new_ring(desk.call, "o" if target.kind is TargetKind.AGENT else "x")
        consult = desk.consult = _Consult(target, ring)
        if self._pops is not None and target.kind is TargetKind.AGENT:
            self._pops.follow(desk.call, target.value, ring.id)
        try:
            await self._originate(ring, _originate(self._dial(target), ring.id, LEG_CONTEXT))
        except AmiError:
            desk.consult = None
            self._withdraw(target.value, ring.id)
            raise
        self._spawn(self._consult_answered(desk, consult))
        return desk.status()

    async def _consult_answered(self, desk: _Desk, consult: _Consult) -> None:
        answered = await self._answer(consult.ring)
        if desk.consult is not consult:  # cancelled, or the call ended
            if answered:
                await self._hang_up(consult.ring.id)
            return
        if not answered:
            desk.consult = None
            self._withdraw(consult.target.value, consult.ring.id)
            await self._bridge(desk.caller, desk.leg)
            desk.held = False
            return
        await self._bridge(desk.leg, consult.ring.channel)
        consult.connected = True

    # --- moving callers -----------------------------------------------------------------

    async def _part(
        self,
        desk: _Desk,
        agent_context: str,
        *,
        to: tuple[str, str] = (HOLD_CONTEXT, "s"),
        exten: str = "s",
    ) -> None:
        """Move the caller (to music on hold unless told) and the agent leg in one action."""
        fields = {
            "Channel": desk.caller,
            "Context": to[0],
            "Exten": to[1],
            "Priority": "1",
            "ExtraChannel": desk.leg,
            "ExtraContext": agent_context,
            "ExtraExten": exten,
            "ExtraPriority": "1",
        }
        await self._ami.send_action("Redirect", fields)
        desk.held = to[0] == HOLD_CONTEXT

    async def _to_queue(
        self,
        caller: str,
        queue: str,
        enqueued: datetime | None,
        released: asyncio.Future[None] | None = None,
    ) -> None:
        """Back to waiting in ``queue``; after a transfer, once the ACD has heard the old
        agent leg end (``released``), so the caller is not still connected there when it
        queues again."""
        if released is not None:
            await _at_most(released, GONE_WAIT)
        when = enqueued or self._clock.now()
        await self._setvar(caller, "__CC_QUEUE", queue)
        await self._setvar(caller, "__CC_ENQUEUED", f"{when.timestamp():.3f}")
        await self._redirect(caller, WAIT_CONTEXT, "s")

    async def _hand_over(self, hand: _HandOver, released: asyncio.Future[None]) -> None:
        """Blind transfer to an agent: ring, then connect; back to the queue on no answer."""
        await _at_most(released, GONE_WAIT)
        ring = self._new_ring(hand.call, AGENT_LEG_MARK[1:])
        fields = _originate(f"PJSIP/{hand.agent}", ring.id, LEG_CONTEXT)
        fields["Variable"] = [f"CC_CALL={hand.call}"]
        if caller_id := _caller_id(*hand.caller_id):
            fields["CallerID"] = caller_id
        gone = self._until_gone(hand.caller)
        if self._pops is not None:
            self._pops.follow(hand.call, hand.agent, ring.id, hand.queue, hand.enqueued)
        try:
            await self._originate(ring, fields)
        except AmiError as exc:
            log.warning("desk: ringing %s for a transfer failed: %s", hand.agent, exc)
            self._withdraw(hand.agent, ring.id)
            await self._back_to_queue(hand, gone)
            return
        answered = await self._answer(ring, gone)
        if not answered:
            self._withdraw(hand.agent, ring.id)
            await self._hang_up(ring.id)
            await self._back_to_queue(hand, gone)
            return
        await self._bridge(hand.caller, ring.channel)
        await self._adopt(hand, ring, released)

    async def _adopt(self, hand: _HandOver, ring: _Ring, released: asyncio.Future[None]) -> None:
        """The ACD takes the new pair as its own: its hang-ups end the call as usual, and
        the agent is talking, then wraps up."""
        await _at_most(released, GONE_WAIT)
        legs = self._events.legs
        if not legs.adopt_pair(hand.call, hand.caller, ring.id, hand.agent, ring.channel):
            log.warning("desk: call %s could not be handed to %s", hand.call, hand.agent)
            return
        now = self._clock.now()
        enqueued = hand.enqueued or now
        self._acd.submit(AgentOnCall(hand.agent, hand.call, hand.queue, enqueued, now, now))

    async def _back_to_queue(self, hand: _HandOver, gone: asyncio.Future[None]) -> None:
        if gone.done() or not hand.queue:
            await self._hang_up(hand.caller)
            return
        await self._to_queue(hand.caller, hand.queue, hand.enqueued)

    def _withdraw(self, agent: AgentId, offer: str) -> None:
        if self._pops is not None:
            self._pops.withdraw(agent, offer)

    # --- rings --------------------------------------------------------------------------

    def _new_ring(self, call: CallId, kind: str, ring_id: str | None = None) -> _Ring:
        """A channel id of this call: ``-o<n>`` for agent legs (the ACD's pattern), other
        letters for the rest."""
        ring_id = ring_id or f"{offer_prefix(call)}-{kind}{next(self._ids)}"
        answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        return _Ring(ring_id, answered)

    async def _originate(self, ring: _Ring, fields: dict[str, FieldValue]) -> None:
        self._watch.rings[ring.id] = ring
        try:
            await self._ami.send_action("Originate", fields, as_list=False)
        except AmiError:
            self._watch.rings.pop(ring.id, None)
            raise

    async def _answer(self, ring: _Ring, gone: asyncio.Future[None] | None = None) -> bool:
        """True once the ring answered; False when it failed, timed out or ``gone`` came."""
        waits: set[asyncio.Future[Any]] = {ring.answered}
        if gone is not None:
            waits.add(gone)
        await asyncio.wait(waits, timeout=RING_SECONDS + 5, return_when=asyncio.FIRST_COMPLETED)
        self._watch.rings.pop(ring.id, None)
        return ring.answered.done() and ring.answered.result()

    def _dial(self, target: Target) -> str:
        if target.kind is TargetKind.NUMBER:
            return f"PJSIP/{target.value}@{TRUNK}"
        return f"PJSIP/{target.value}"

    # --- AMI ----------------------------------------------------------------------------

    async def _bridge(self, first: str, second: str) -> None:
        await self._ami.send_action("Bridge", {"Channel1": first, "Channel2": second, "Tone": "no"})

    async def _redirect(self, channel: str, context: str, exten: str) -> None:
        fields = {"Channel": channel, "Context": context, "Exten": exten, "Priority": "1"}
        await self._ami.send_action("Redirect", fields)

    async def _setvar(self, channel: str, variable: str, value: str) -> None:
        fields = {"Channel": channel, "Variable": variable, "Value": value}
        await self._ami.send_action("Setvar", fields)

    async def _getvar(self, channel: str, variable: str) -> str:
        answer = await self._ami.send_action("Getvar", {"Channel": channel, "Variable": variable})
        value = answer.get("Value") if hasattr(answer, "get") else None
        return value if isinstance(value, str) and value != "(null)" else ""

    async def _hang_up(self, channel: str) -> None:
        """Hang up a channel (name or Uniqueid); one already gone is fine."""
        try:
            await self._ami.send_action("Hangup", {"Channel": channel})
        except AmiError as exc:
            log.debug("desk: hanging up %s: %s", channel, exc)

    async def _queue_of(self, caller: str) -> tuple[str, datetime | None]:
        """The caller's queue and first enqueue time (its channel variables)."""
        queue = clean_text(await self._getvar(caller, "CC_QUEUE"), 64).strip()
        enqueued = parse_epoch(await self._getvar(caller, "CC_ENQUEUED"))
        return (queue if QUEUE_ID.fullmatch(queue) else ""), enqueued

    # --- events -------------------------------------------------------------------------

    def _on_event(self, message: Mapping[str, object]) -> None:
        fields = headers_of(message)
        name = event_name(fields).lower()
        if name == "hangup":
            self._hung_up(_text(fields, "uniqueid"), _text(fields, "channel"))
            return
        ring = self._watch.rings.get(_text(fields, "uniqueid"))
        if ring is None:
            return
        if name in ("newchannel", "newstate"):
            ring.channel = ring.channel or _text(fields, "channel")
        if name == "newstate" and _text(fields, "channelstatedesc") == "Up":
            _settle(ring.answered, True)
        elif name == "originateresponse" and _text(fields, "response").lower() == "failure":
            _settle(ring.answered, False)

    def _hung_up(self, uniqueid: str, channel: str) -> None:
        ring = self._watch.rings.pop(uniqueid, None)
        if ring is not None:
            _settle(ring.answered, False)
        for waiter in self._watch.gone.pop(channel, []):
            _settle(waiter, None)
        for desk in list(self._desks.values()):
            if channel in (desk.caller, desk.leg):
                self._apart_ended(desk, channel)

    def _apart_ended(self, desk: _Desk, channel: str) -> None:
        """One party of a desk's call hung up: the desk is done; a party left apart is not
        kept waiting (a caller queues again, an agent leg is hung up)."""
        self._desks.pop(desk.agent, None)
        consult, desk.consult = desk.consult, None
        if consult is not None:
            self._spawn(self._hang_up(consult.ring.id))
        if not desk.apart:
            return
        if channel == desk.caller:
            self._spawn(self._hang_up(desk.leg))
            return
        self._spawn(self._requeue(desk.caller))

    async def _requeue(self, caller: str) -> None:
        try:
            queue, enqueued = await self._queue_of(caller)
        except AmiError as exc:  # the caller hung up too
            log.debug("desk: not re-queueing %s: %s", caller, exc)
            return
        if not queue:
            await self._hang_up(caller)
            return
        await self._to_queue(caller, queue, enqueued)

    def _until_gone(self, channel: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watch.gone.setdefault(channel, []).append(future)
        return future

    def _spawn(self, step: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(step)
        self._tasks.add(task)
        task.add_done_callback(self._step_done)

    def _step_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("desk: a call control step failed: %s", task.exception())


@dataclass(frozen=True, slots=True)
class _HandOver:
    """A caller on its way to another agent."""

    call: CallId
    caller: str
    agent: AgentId
    caller_id: tuple[str, str]
    queue: str
    enqueued: datetime | None


def conference_room(call: CallId) -> str:
    """The ConfBridge room of a call: its id reduced to letters, digits, ``_`` and ``-``."""
    return "cc-" + _NOT_ROOM.sub("_", call)[:60]


def recording_file(call: CallId, now: datetime) -> str:
    """The recording's file name (in Asterisk's monitor directory): call and start time."""
    return f"callcenter-{_NOT_ROOM.sub('_', call)[:60]}-{now:%Y%m%d-%H%M%S}.wav"


def _originate(channel: str, ring_id: str, context: str, exten: str = "s") -> dict[str, FieldValue]:
    return {
        "Channel": channel,
        "ChannelId": ring_id,
        "Context": context,
        "Exten": exten,
        "Priority": "1",
        "Timeout": str(int(RING_SECONDS * 1000)),
        "Async": "true",
    }


def _moved(desk: _Desk, target: Target) -> dict[str, Any]:
    return {
        "agent": desk.agent,
        "call": desk.call,
        "transferred": {"kind": target.kind.value, "target": target.value},
    }


def _caller_id(number: str, name: str) -> str:
    number = re.sub(r"[^0-9A-Za-z+*#._-]", "", number)[:40]
    name = re.sub(r'["<>\\]', "", name).strip()[:64]
    if not name:
        return f"<{number}>" if number else ""
    return f'"{name}" <{number}>'


def _channels(listing: object) -> list[Mapping[str, object]]:
    entries = listing if isinstance(listing, list) else []
    fields = (headers_of(entry) for entry in entries)
    return [f for f in fields if event_name(f).lower() == "coreshowchannel"]


def _text(fields: Mapping[str, object], key: str) -> str:
    value = fields.get(key)
    if isinstance(value, list):
        value = value[-1] if value else ""
    return clean_text(value, 256).strip() if isinstance(value, str) else ""


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


async def _at_most(future: asyncio.Future[None], seconds: float) -> None:
    """Wait for ``future`` without ever cancelling it; go on after ``seconds`` anyway."""
    await asyncio.wait({future}, timeout=seconds)
