"""The ACD's port to Asterisk: requests go out as AMI actions, ACD events come back.

Theory of operation. Callers wait in Asterisk itself (``dialplans/extensions_acd.conf``): a
caller handed to the ACD is answered, carries the inheritable variables ``CC_QUEUE``,
``CC_ENQUEUED`` and ``CC_PRIORITY``, and hears music in ``cc-queue-wait``, so the engine can
restart without dropping anyone (:meth:`AmiCallControl.waiting_callers` finds them again). An
offer is an AMI ``Originate`` of the agent's endpoint whose ``ChannelId`` (the agent leg's
Uniqueid) is the offer id; once the agent answers, the leg waits in ``cc-agent-leg`` until
``connect`` joins it with the caller, as ``acd.connect`` says
(:class:`~callcenter.acd.settings.ConnectMode`): by default an AMI ``Redirect`` sends the
agent leg to ``cc-agent-leg,bridge``, whose ``Bridge()`` pulls in the caller named by the
leg's ``CC_PEER`` (set by the Originate): Asterisk takes only the caller out of the dialplan.
``ami_bridge`` sends an AMI ``Bridge`` of both channels instead (also used when the caller's
channel was not known when the agent was rung). Announcements and overflow move the caller by
``Redirect`` (``cc-announce`` returns to the wait by itself).

Three parts, one owner of the bookkeeping:

- :class:`AcdLegs` (pure: no I/O, time passed in) knows which channels are waiting callers,
  offers and connected pairs, and turns raw AMI events about them into ACD events.
- :class:`AcdEventSource` feeds it the AMI client's raw events, hands the ACD events to a sink
  (the ACD service's inbox) and hangs up the legs the rules below leave without an owner.
- :class:`AmiCallControl` implements :class:`~callcenter.acd.model.CallControl`; each request
  updates the bookkeeping first, then sends its actions.

The rules (an offer's leg is found by Uniqueid == offer id, a caller by channel name; a pair is
an answered offer and the caller it was made for):

====================================  =======================================================
Newstate ``Up`` of a ringing offer    ``OfferAnswered``; the offer and its caller become a
                                      pair when the caller still waits and has no pair yet
Hangup of an offer not answered       ``OfferFailed``, reason from the hangup cause (or from
                                      ``OriginateResponse`` when the cause says nothing)
``OriginateResponse`` Failure, no leg ``OfferFailed``, reason from its ``Reason`` (no contact,
                                      unknown endpoint: ``unavailable``)
Hangup of either leg of a pair        ``CallEnded``, once; the other leg is hung up when the
                                      two were never bridged (after a bridge the dialplan ends
                                      it)
``BridgeEnter`` of a paired agent leg the pair counts as bridged
Hangup of a waiting caller            ``CallerLeft``
``DTMFEnd`` received, waiting caller  ``CallerPressedKey``
====================================  =======================================================

Reasons of ``OfferFailed``: ``no_answer`` (cause 18, 19; ring timeout), ``busy`` (17),
``rejected`` (21, the agent declined), ``unavailable`` (no contact, unknown endpoint, causes
1, 3, 20, 27, 34, 38, 41, 42), ``error`` (anything else, and an Originate Asterisk refused).

What the ACD can rely on:

- After :meth:`AmiCallControl.stop_ringing` the offer reports nothing more: no
  ``OfferFailed``, no ``OfferAnswered``, and the ACD frees the agent itself. The phone sees a
  CANCEL (a BYE if it had just answered). A leg that has not rung yet is hung up once it rings
  (at most ``CANCEL_WAIT`` later): before the phone's first provisional answer Asterisk cannot
  send a CANCEL, and a hangup then leaves the phone ringing (verified). An ``OfferAnswered``
  already on its way before the request must be ignored (or answered with ``StopRinging``).
- ``connect`` is refused (``AmiError``, nothing sent) for an offer that was not answered:
  bridging a leg still ringing would answer it from AMI, which blocks the AMI session for up
  to 500 ms. A pair that ended before ``connect`` needs nothing (``CallEnded`` was reported);
  when Asterisk refuses the Bridge (or the Redirect), both legs are hung up and ``CallEnded``
  follows; when the dialplan's ``Bridge()`` fails, it hangs the agent leg up and the rules
  hang up the caller.
- Announcements and overflow only move a caller that still waits and has no pair.
- A caller handed to :meth:`AcdEventSource.track_caller` after its channel already hung up is
  reported as ``CallerLeft`` at once (the last hangups are remembered).
- After an AMI reconnect, :meth:`AcdEventSource.reconcile` reports what the lost events would
  have reported (compared with Asterisk's channel list).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import NamedTuple

from callcenter.acd.core import offer_prefix
from callcenter.acd.model import (
    AcdEvent,
    AgentId,
    AgentLogin,
    AgentLogout,
    AgentOnCall,
    AgentPause,
    AgentUnpause,
    CallEnded,
    CallerArrived,
    CallerLeft,
    CallerPressedKey,
    CallId,
    OfferAnswered,
    OfferFailed,
    OfferId,
    OverflowKind,
    OverflowTarget,
)
from callcenter.acd.settings import ConnectMode
from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.sanitize import clean_text
from callcenter.asterisk.translate import caller_text, event_name, headers_of, parse_duration
from callcenter.clock import Clock
from callcenter.errors import AmiActionLost, AmiError, AmiNotConnected, AmiTimeout
from callcenter.telephony import AGENT_LEG_MARK

log = logging.getLogger(__name__)

WAIT_CONTEXT = "cc-queue-wait"
ANNOUNCE_CONTEXT = "cc-announce"
AGENT_CONTEXT = "cc-agent-leg"
ELSEWHERE_CONTEXT = "cc-elsewhere"
QUEUE_VARIABLES = ("CC_QUEUE", "CC_ENQUEUED", "CC_PRIORITY", "CC_SKILLS")
FEATURE_EVENT = "agentfeature"
"""The UserEvent of an agent's feature code (*701 log in, *702 log out, *703/*704 pause)."""
PHONE_PAUSE_REASON = "phone"
QUEUED_EVENT = "callerqueued"
"""The UserEvent cc-queue-wait sends when a caller starts waiting (not after announcements)."""

NO_ANSWER = "no_answer"
BUSY = "busy"
REJECTED = "rejected"
UNAVAILABLE = "unavailable"
ERROR = "error"

CAUSE_REASONS: dict[int, str] = {
    17: BUSY,
    18: NO_ANSWER,
    19: NO_ANSWER,
    21: REJECTED,
    **dict.fromkeys((1, 3, 20, 27, 34, 38, 41, 42), UNAVAILABLE),
}
"""Q.850 hangup cause of an agent leg that never answered -> ``OfferFailed.reason``."""

ORIGINATE_REASONS: dict[int, str] = {0: UNAVAILABLE, 3: NO_ANSWER, 5: BUSY, 8: UNAVAILABLE}
"""``OriginateResponse`` Reason (the last control frame: 3 ringing, 5 busy, 8 congestion; 0
no channel at all) -> ``OfferFailed.reason``."""

CANCEL_WAIT = 2.0
"""Seconds ``stop_ringing`` waits for a new leg to ring before hanging it up (normally ms)."""
REMEMBERED_HANGUPS = 4096
"""Channel names of the last hangups, for callers tracked after they already hung up."""
GETVAR_BATCH = 50
"""Waiting callers whose variables are read at once at a restart."""

_AGENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_AGENT_LEG = re.compile(rf"(.+){re.escape(AGENT_LEG_MARK)}([0-9]{{1,9}})")
"""An agent leg's Uniqueid: the offer id, ``<call prefix>-o<n>``."""
_PEER = re.compile(r"[A-Za-z0-9/_.@;:+-]{1,200}")
"""A caller's channel name the dialplan's ``Bridge()`` accepts (cc-agent-leg checks it too)."""
_LEG_AGENT = re.compile(r"PJSIP/([A-Za-z0-9_-]{1,64})-[0-9A-Fa-f]+")
"""An agent leg's channel name; the group is the agent (the endpoint)."""
_DIGITS = frozenset("0123456789*#ABCD")
_NOT_NUMBER = re.compile(r"[^0-9A-Za-z+*#._-]")
_NOT_NAME = re.compile(r'["<>\\]')


class Effects(NamedTuple):
    """What one fact means: ACD events for the sink, agent or caller legs to hang up."""

    events: tuple[AcdEvent, ...] = ()
    hangups: tuple[str, ...] = ()


NOTHING = Effects()


@dataclass(slots=True)
class _Offer:
    id: OfferId
    call: CallId
    agent: AgentId
    channel: str = ""  # the agent leg's name, once Asterisk created it
    peer: str = ""  # the caller's channel the leg's dialplan bridges with (its CC_PEER)
    ringing: bool = False  # the phone said so (180): a hangup now reaches it as a CANCEL
    answered: bool = False
    withdrawn: bool = False
    orphan: bool = False  # withdrawn, and nobody hung it up yet: done when it rings
    fallback: str = ""  # reason from a failed OriginateResponse, until the leg's Hangup


@dataclass(slots=True)
class _Caller:
    call: CallId
    channel: str
    offer: OfferId | None = None  # the answered offer it is paired with
    bridged: bool = False


@dataclass(frozen=True, slots=True)
class BridgePlan:
    """The two channels :meth:`AmiCallControl.connect` bridges."""

    call: CallId
    agent_leg: str
    peer: str = ""  # the leg's CC_PEER: the caller it can bridge with itself


@dataclass(slots=True)
class AcdLegs:
    """The bookkeeping and the rules of the module docstring; pure, one owner."""

    _callers: dict[CallId, _Caller] = field(default_factory=dict)
    _by_channel: dict[str, CallId] = field(default_factory=dict)
    _offers: dict[OfferId, _Offer] = field(default_factory=dict)
    _caller_ids: dict[str, tuple[str, str]] = field(default_factory=dict)
    _gone: OrderedDict[str, None] = field(default_factory=OrderedDict)

    # Requests (from the ACD service and AmiCallControl).

    def track_caller(self, call: CallId, channel: str, now: datetime) -> Effects:
        if channel in self._gone:
            return Effects((CallerLeft(call, now),))
        old = self._callers.get(call)
        if old is not None:
            self._by_channel.pop(old.channel, None)
        self._callers[call] = _Caller(call, channel)
        self._by_channel[channel] = call
        return NOTHING

    def forget_caller(self, call: CallId) -> None:
        caller = self._callers.pop(call, None)
        if caller is not None:
            self._by_channel.pop(caller.channel, None)

    def place_offer(self, offer: OfferId, call: CallId, agent: AgentId, peer: str = "") -> None:
        if offer in self._offers:
            raise AmiError(f"offer {offer!r} is already in progress")
        self._offers[offer] = _Offer(offer, call, agent, peer=peer)

    def drop_offer(self, offer: OfferId) -> None:
        """Asterisk refused the Originate: there is no leg to wait for."""
        self._offers.pop(offer, None)

    def withdraw_offer(self, offer: OfferId, *, orphan: bool = False) -> bool:
        """No more events about ``offer``; True when its leg may exist and must be hung up.

        ``orphan``: nobody else will hang it up: the rules do when it starts ringing.
        """
        record = self._offers.get(offer)
        if record is None:
            return False
        record.orphan = orphan
        if record.withdrawn:
            return False
        record.withdrawn = True
        caller = self._callers.get(record.call)
        if caller is not None and caller.offer == offer:
            caller.offer = None
            caller.bridged = False
        return True

    def can_cancel(self, offer: OfferId) -> bool:
        """The leg is ringing, answered or gone: hanging it up now reaches the phone.

        Before the phone's first provisional answer Asterisk cannot send a CANCEL, and a
        hangup then leaves the phone ringing (verified on Asterisk 22).
        """
        record = self._offers.get(offer)
        return record is None or record.ringing or record.answered

    def bridge_plan(self, offer: OfferId, call_channel: str) -> BridgePlan | None:
        """The legs to bridge; None when the pair already ended (nothing left to do).

        A caller nobody tracked (``call_channel``) is tracked now, paired with the offer.
        """
        record = self._offers.get(offer)
        if record is None or record.withdrawn:
            return None
        if not record.answered:
            raise AmiError(f"offer {offer!r} is not answered; a Bridge would answer it")
        caller = self._callers.get(record.call)
        if caller is None and call_channel not in self._gone:
            caller = self._callers[record.call] = _Caller(record.call, call_channel, offer)
            self._by_channel[call_channel] = record.call
        if caller is None or caller.offer != offer:
            raise AmiError(f"offer {offer!r} has no waiting caller to connect")
        return BridgePlan(record.call, record.channel or record.id, record.peer)

    def adopt_pair(
        self, call: CallId, caller_channel: str, offer: OfferId, agent: AgentId, agent_leg: str
    ) -> bool:
        """Track a caller and agent leg found bridged at a restart, as if connected here.

        False (nothing tracked) when either is known already or has hung up meanwhile.
        """
        if offer in self._offers or call in self._callers:
            return False
        if caller_channel in self._gone or agent_leg in self._gone:
            return False
        self._offers[offer] = _Offer(offer, call, agent, agent_leg, ringing=True, answered=True)
        self._callers[call] = _Caller(call, caller_channel, offer, bridged=True)
        self._by_channel[caller_channel] = call
        return True

    def knows_offer(self, offer: OfferId) -> bool:
        return offer in self._offers

    def mark_bridged(self, call: CallId) -> None:
        caller = self._callers.get(call)
        if caller is not None:
            caller.bridged = True

    def waiting(self, channel: str) -> bool:
        """The channel is a tracked caller without a pair (it may be moved)."""
        call = self._by_channel.get(channel)
        return call is not None and self._callers[call].offer is None

    def channel_of(self, call: CallId) -> str | None:
        caller = self._callers.get(call)
        return caller.channel if caller is not None else None

    def call_of(self, channel: str) -> CallId | None:
        return self._by_channel.get(channel)

    def caller_id(self, call: CallId) -> tuple[str, str]:
        """(number, name) of the call's caller, as Asterisk last announced them."""
        channel = self.channel_of(call)
        return self._caller_ids.get(channel, ("", "")) if channel else ("", "")

    def note_caller_id(self, channel: str, number: str, name: str) -> None:
        self._caller_ids[channel] = (caller_text(number), caller_text(name))

    # Facts (raw AMI events, header names in lower case).

    def handle(self, fields: Mapping[str, object], now: datetime) -> Effects:
        handler = _HANDLERS.get(event_name(fields).lower())
        return handler(self, fields, now) if handler is not None else NOTHING

    def reconcile(self, listing: Iterable[Mapping[str, object]], now: datetime) -> Effects:
        """Compare with a CoreShowChannels answer: what vanished hung up, what is up answered."""
        live: dict[str, str] = {}
        names: set[str] = set()
        for entry in listing:
            fields = headers_of(entry)
            if event_name(fields).lower() == "coreshowchannel":
                live[_field(fields, "uniqueid")] = _field(fields, "channelstatedesc")
                names.add(_field(fields, "channel"))
        for channel in set(self._caller_ids) - names:
            del self._caller_ids[channel]
        events: list[AcdEvent] = []
        hangups: list[str] = []
        for offer in list(self._offers.values()):
            state = live.get(offer.id)
            fact = {"event": "Newstate", "uniqueid": offer.id, "channelstatedesc": "Up"}
            if state is None:
                fact = {"event": "Hangup", "uniqueid": offer.id, "channel": offer.channel}
            elif state != "Up":
                continue
            outcome = self.handle(fact, now)
            events += outcome.events
            hangups += outcome.hangups
        for caller in list(self._callers.values()):
            if caller.channel not in names:
                outcome = self.handle({"event": "Hangup", "channel": caller.channel}, now)
                events += outcome.events
                hangups += outcome.hangups
        return Effects(tuple(events), tuple(hangups))

    def _user_event(self, fields: Mapping[str, object], now: datetime) -> Effects:
        """``UserEvent(CallerQueued)`` from cc-queue-wait: a caller starts waiting."""
        kind = _field(fields, "userevent").lower()
        if kind == FEATURE_EVENT:
            return _agent_feature(fields, now)
        if kind != QUEUED_EVENT:
            return NOTHING
        channel = _field(fields, "channel")
        call = _field(fields, "linkedid") or _field(fields, "uniqueid")
        queue = clean_text(_field(fields, "queue"), 64).strip()
        if not (channel and call and queue):
            return NOTHING
        arrived = CallerArrived(
            call=call,
            channel=channel,
            queue=queue,
            priority=_number(_field(fields, "priority"), signed=True),
            skills=parse_skills(_field(fields, "skills")),
            enqueued_at=parse_epoch(_field(fields, "enqueued")) or now,
            at=now,
        )
        tracked = self.track_caller(call, channel, now)
        return Effects((arrived, *tracked.events), tracked.hangups)

    def _newchannel(self, fields: Mapping[str, object], now: datetime) -> Effects:
        channel = _field(fields, "channel")
        self.note_caller_id(channel, _field(fields, "calleridnum"), _field(fields, "calleridname"))
        offer = self._offers.get(_field(fields, "uniqueid"))
        if offer is not None:
            offer.channel = channel
        return NOTHING

    def _newcallerid(self, fields: Mapping[str, object], now: datetime) -> Effects:
        channel = _field(fields, "channel")
        if channel in self._caller_ids:
            number, name = _field(fields, "calleridnum"), _field(fields, "calleridname")
            self.note_caller_id(channel, number, name)
        return NOTHING

    def _newstate(self, fields: Mapping[str, object], now: datetime) -> Effects:
        offer = self._offers.get(_field(fields, "uniqueid"))
        state = _field(fields, "channelstatedesc")
        if offer is None:
            return NOTHING
        offer.ringing = offer.ringing or state in ("Ringing", "Up")
        if offer.orphan and offer.ringing:
            offer.orphan = False
            return Effects(hangups=(offer.id,))
        if offer.withdrawn or offer.answered or state != "Up":
            return NOTHING
        offer.answered = True
        caller = self._callers.get(offer.call)
        if caller is not None and caller.offer is None:
            caller.offer = offer.id
        return Effects((OfferAnswered(offer.id, now),))

    def _originate_response(self, fields: Mapping[str, object], now: datetime) -> Effects:
        offer = self._offers.get(_field(fields, "uniqueid"))
        if offer is None or _field(fields, "response").lower() != "failure":
            return NOTHING
        reason = ORIGINATE_REASONS.get(_number(_field(fields, "reason")), ERROR)
        if offer.channel:  # the leg's own Hangup follows and tells more
            offer.fallback = reason
            return NOTHING
        del self._offers[offer.id]
        if offer.withdrawn or offer.answered:
            return NOTHING
        return Effects((OfferFailed(offer.id, reason, now),))

    def _hangup(self, fields: Mapping[str, object], now: datetime) -> Effects:
        channel = _field(fields, "channel")
        self._caller_ids.pop(channel, None)
        self._remember_gone(channel)
        offer = self._offers.pop(_field(fields, "uniqueid"), None)
        if offer is not None:
            return self._offer_ended(offer, _number(_field(fields, "cause")), now)
        call = self._by_channel.get(channel)
        if call is not None:
            return self._caller_ended(self._callers[call], now)
        return NOTHING

    def _bridge_enter(self, fields: Mapping[str, object], now: datetime) -> Effects:
        offer = self._offers.get(_field(fields, "uniqueid"))
        if offer is not None and not offer.withdrawn:
            caller = self._callers.get(offer.call)
            if caller is not None and caller.offer == offer.id:
                caller.bridged = True
        return NOTHING

    def _dtmf_end(self, fields: Mapping[str, object], now: datetime) -> Effects:
        if _field(fields, "direction").lower() != "received":
            return NOTHING
        digit = _field(fields, "digit")
        call = self._by_channel.get(_field(fields, "channel"))
        if call is None or digit not in _DIGITS or self._callers[call].offer is not None:
            return NOTHING
        return Effects((CallerPressedKey(call, digit, now),))

    def _offer_ended(self, offer: _Offer, cause: int, now: datetime) -> Effects:
        if offer.withdrawn:
            return NOTHING
        caller = self._callers.get(offer.call)
        if caller is not None and caller.offer == offer.id:
            self.forget_caller(caller.call)
            survivor = () if caller.bridged else (caller.channel,)
            return Effects((CallEnded(caller.call, now),), survivor)
        if offer.answered:  # never paired: the ACD withdraws it or has done so already
            return NOTHING
        reason = CAUSE_REASONS.get(cause) or offer.fallback or ERROR
        return Effects((OfferFailed(offer.id, reason, now),))

    def _caller_ended(self, caller: _Caller, now: datetime) -> Effects:
        self.forget_caller(caller.call)
        if caller.offer is None:
            return Effects((CallerLeft(caller.call, now),))
        offer = self._offers.pop(caller.offer, None)
        survivor = (offer.id,) if offer is not None and not caller.bridged else ()
        return Effects((CallEnded(caller.call, now),), survivor)

    def _remember_gone(self, channel: str) -> None:
        if not channel:
            return
        self._gone[channel] = None
        while len(self._gone) > REMEMBERED_HANGUPS:
            self._gone.popitem(last=False)


_HANDLERS: dict[str, Callable[[AcdLegs, Mapping[str, object], datetime], Effects]] = {
    "newchannel": AcdLegs._newchannel,
    "userevent": AcdLegs._user_event,
    "newcallerid": AcdLegs._newcallerid,
    "newstate": AcdLegs._newstate,
    "originateresponse": AcdLegs._originate_response,
    "hangup": AcdLegs._hangup,
    "bridgeenter": AcdLegs._bridge_enter,
    "dtmfend": AcdLegs._dtmf_end,
}


class AcdEventSource:
    """AMI events in, ACD events out to ``sink`` (non-blocking, e.g. the service's submit)."""

    def __init__(self, ami: AmiClient, clock: Clock, sink: Callable[[AcdEvent], None]) -> None:
        self.legs = AcdLegs()
        self._ami = ami
        self._clock = clock
        self._sink = sink
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiters: dict[OfferId, asyncio.Event] = {}

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._ami.subscribe("*", self._on_message)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self._tasks:
            task.cancel()

    def track_caller(self, call: CallId, channel: str) -> None:
        """The ACD took over this caller (it waits in cc-queue-wait)."""
        self._apply(self.legs.track_caller(call, channel, self._clock.now()))

    def forget_caller(self, call: CallId) -> None:
        self.legs.forget_caller(call)

    def channel_of(self, call: CallId) -> str | None:
        return self.legs.channel_of(call)

    async def reconcile(self) -> None:
        """After an AMI reconnect: report what happened to tracked legs while events were lost."""
        listing = await self._ami.send_action("CoreShowChannels", as_list=True)
        self._apply(self.legs.reconcile(listing if isinstance(listing, list) else [], self.now()))

    async def until_cancellable(self, offer: OfferId, timeout: float) -> None:  # noqa: ASYNC109
        """Until the offer's leg rings, answers or ends (see AcdLegs.can_cancel), or timeout."""
        if self.legs.can_cancel(offer):
            return
        waiter = self._waiters.setdefault(offer, asyncio.Event())
        try:
            async with asyncio.timeout(timeout):
                await waiter.wait()
        except TimeoutError:
            log.warning("acd: offer %s never rang within %g s; hung up anyway", offer, timeout)
        finally:
            self._waiters.pop(offer, None)

    def hang_up_soon(self, target: str) -> None:
        """Hang up a channel (name or Uniqueid) in the background; a missing one is fine."""
        task = asyncio.get_running_loop().create_task(self._hang_up(target))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Until the background hangups are done (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def now(self) -> datetime:
        return self._clock.now()

    def _on_message(self, message: Mapping[str, object]) -> None:
        fields = headers_of(message)
        self._apply(self.legs.handle(fields, self.now()))
        if self._waiters:
            offer = _field(fields, "uniqueid")
            waiter = self._waiters.get(offer)
            if waiter is not None and self.legs.can_cancel(offer):
                waiter.set()

    def _apply(self, effects: Effects) -> None:
        for event in effects.events:
            self._sink(event)
        for target in effects.hangups:
            self.hang_up_soon(target)

    async def _hang_up(self, target: str) -> None:
        try:
            await self._ami.send_action("Hangup", {"Channel": target})
        except AmiError as exc:
            log.debug("acd: hanging up %s: %s", target, exc)


class AmiCallControl:
    """:class:`~callcenter.acd.model.CallControl` over AMI; see the module docstring."""

    def __init__(
        self, ami: AmiClient, events: AcdEventSource, connect: ConnectMode = ConnectMode.DIALPLAN
    ) -> None:
        self._ami = ami
        self._events = events
        self._legs = events.legs
        self._connect = connect

    async def ring_agent(
        self, offer: OfferId, call: CallId, agent: AgentId, ring_timeout: float
    ) -> None:
        if not _AGENT.fullmatch(agent):
            raise AmiError(f"agent id refused as an endpoint name: {agent[:64]!r}")
        peer = ""
        if self._connect is ConnectMode.DIALPLAN:
            peer = self._legs.channel_of(call) or ""
            peer = peer if _PEER.fullmatch(peer) else ""
        self._legs.place_offer(offer, call, agent, peer)
        number, name = self._legs.caller_id(call)
        variables = [f"CC_OFFER={offer}", f"CC_CALL={call}"]
        if peer:
            variables.append(f"CC_PEER={peer}")
        fields: dict[str, str | list[str]] = {
            "Channel": f"PJSIP/{agent}",
            "ChannelId": offer,
            "OtherChannelId": f"{offer};2",
            "Context": AGENT_CONTEXT,
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(max(1000, round(ring_timeout * 1000))),
            "Async": "true",
            "Variable": variables,
        }
        if caller_id := _caller_id(number, name):
            fields["CallerID"] = caller_id
        try:
            await self._ami.send_action("Originate", fields, as_list=False)
        except (AmiActionLost, AmiTimeout):
            # It may have run: a leg that shows up is hung up once it rings, and not reported.
            self._legs.withdraw_offer(offer, orphan=True)
            raise
        except AmiError:
            self._legs.drop_offer(offer)
            raise

    async def stop_ringing(self, offer: OfferId) -> None:
        if not self._legs.withdraw_offer(offer):
            return
        await self._events.until_cancellable(offer, CANCEL_WAIT)
        try:
            await self._ami.send_action("Hangup", {"Channel": offer})
        except AmiError as exc:  # gone already, or not there yet: then hung up when it rings
            self._legs.withdraw_offer(offer, orphan=True)
            if isinstance(exc, AmiNotConnected):
                raise
            log.debug("acd: stop ringing %s: %s", offer, exc)

    async def connect(self, call_channel: str, offer: OfferId) -> None:
        plan = self._legs.bridge_plan(offer, call_channel)
        if plan is None:
            log.info("acd: offer %s ended before it could be connected", offer)
            return
        by_dialplan = plan.peer == call_channel
        if by_dialplan:  # the leg's Bridge() pulls in its CC_PEER; BridgeEnter marks the pair
            action = "Redirect"
            fields = {"Channel": plan.agent_leg, "Context": AGENT_CONTEXT, "Exten": "bridge"}
            fields["Priority"] = "1"
        else:
            action = "Bridge"
            fields = {"Channel1": call_channel, "Channel2": plan.agent_leg, "Tone": "no"}
        try:
            await self._ami.send_action(action, fields)
        except AmiError as exc:
            log.warning(
                "acd: bridging %s with %s failed (%s); ending both", call_channel, offer, exc
            )
            if isinstance(exc, AmiNotConnected):
                raise
            self._events.hang_up_soon(plan.agent_leg)
            self._events.hang_up_soon(call_channel)
            return
        if not by_dialplan:
            self._legs.mark_bridged(plan.call)

    async def announce(
        self, call_channel: str, position: int, estimated_wait: float | None
    ) -> None:
        if not self._legs.waiting(call_channel):
            return
        minutes = "" if estimated_wait is None else str(max(1, math.ceil(estimated_wait / 60)))
        await self._setvar(call_channel, "CC_POSITION", str(max(0, position)))
        await self._setvar(call_channel, "CC_EWT_MINUTES", minutes)
        await self._redirect(call_channel, ANNOUNCE_CONTEXT, "s", leaves=False)

    async def send_elsewhere(self, call_channel: str, target: OverflowTarget) -> None:
        if target.kind is OverflowKind.QUEUE:  # the caller keeps waiting; the ACD re-queues it
            await self._setvar(call_channel, "__CC_QUEUE", target.target)
            return
        await self._setvar(call_channel, "CC_TARGET", target.target)
        await self._redirect(call_channel, ELSEWHERE_CONTEXT, target.kind.value, leaves=True)

    async def waiting_callers(self) -> list[CallerArrived]:
        """Callers waiting in Asterisk (for re-adoption at a restart), oldest first.

        Channels in cc-queue-wait or cc-announce and in no bridge with an agent leg (a waiting
        caller is in the holding bridge of cc-queue-wait's BridgeWait), with their CC_
        variables; one without a queue is skipped. Each carries the highest offer number of
        its agent legs still up, so new offers never reuse a live leg's id. Nothing is
        tracked: the ACD service calls :meth:`AcdEventSource.track_caller` for those it adopts.
        """
        channels = await self._channels()
        now = self._events.now()
        made: dict[str, int] = {}
        with_agents: set[str] = set()  # bridges an agent leg is in
        for fields in channels:
            if leg := _AGENT_LEG.fullmatch(_field(fields, "uniqueid")):
                prefix, count = leg.group(1), int(leg.group(2))
                made[prefix] = max(made.get(prefix, 0), count)
                with_agents.add(_field(fields, "bridgeid"))
        with_agents.discard("")
        found: list[tuple[Mapping[str, object], datetime]] = []
        for fields in channels:
            if _field(fields, "context") not in (WAIT_CONTEXT, ANNOUNCE_CONTEXT):
                continue
            if _field(fields, "bridgeid") in with_agents:
                continue
            channel = _field(fields, "channel")
            number, name = _field(fields, "calleridnum"), _field(fields, "calleridname")
            self._legs.note_caller_id(channel, number, name)
            found.append((fields, now - parse_duration(_field(fields, "duration"))))
        arrived: list[CallerArrived] = []
        for start in range(0, len(found), GETVAR_BATCH):
            batch = found[start : start + GETVAR_BATCH]
            results = await asyncio.gather(*(self._adopt(f, s, now) for f, s in batch))
            arrived += [
                replace(caller, offers_made=made.get(offer_prefix(caller.call), 0))
                for caller in results
                if caller is not None
            ]
        return sorted(arrived, key=lambda caller: caller.enqueued_at)

    async def agents_on_call(self) -> list[AgentOnCall]:
        """Agents Asterisk shows bridged with a caller (re-adoption at a restart).

        An agent leg is a channel whose Uniqueid is an offer id (``<call>-o<n>``) and whose
        name is ``PJSIP/<agent>-...``; the caller is the other channel of its bridge, and the
        queue is the caller's ``CC_QUEUE``. The pairs are tracked here, all at once after the
        last read, so their hang-ups are reported as ``CallEnded`` (submit the returned events
        before yielding to the loop). Agent legs nobody tracks and in no bridge (left ringing
        or waiting by an earlier engine) are hung up: their callers are offered anew.
        """
        channels = await self._channels()
        now = self._events.now()
        by_bridge: dict[str, list[Mapping[str, object]]] = {}
        for fields in channels:
            if bridge := _field(fields, "bridgeid"):
                by_bridge.setdefault(bridge, []).append(fields)
        found: list[tuple[AgentOnCall, str, str, str]] = []
        for fields in channels:
            offer = _field(fields, "uniqueid")
            if not _AGENT_LEG.fullmatch(offer) or self._legs.knows_offer(offer):
                continue
            agent_leg = _field(fields, "channel")
            agent = _LEG_AGENT.fullmatch(agent_leg)
            peers = [
                peer
                for peer in by_bridge.get(_field(fields, "bridgeid"), [])
                if _field(peer, "channel") != agent_leg
            ]
            if agent is None or len(peers) != 1:
                if not _field(fields, "bridgeid"):
                    log.info("acd: hanging up %s, an agent leg nobody tracks", agent_leg)
                    self._events.hang_up_soon(offer)
                continue
            caller = _field(peers[0], "channel")
            try:
                queue, enqueued = await asyncio.gather(
                    self._getvar(caller, "CC_QUEUE"), self._getvar(caller, "CC_ENQUEUED")
                )
            except AmiError as exc:  # hung up meanwhile
                log.debug("acd: reading %s: %s", caller, exc)
                continue
            call = _field(peers[0], "linkedid") or _field(peers[0], "uniqueid")
            answered = now - parse_duration(_field(fields, "duration"))
            on_call = AgentOnCall(
                agent=agent.group(1),
                call=call,
                queue=clean_text(queue, 64).strip(),
                enqueued_at=parse_epoch(enqueued) or answered,
                answered_at=answered,
                at=now,
            )
            found.append((on_call, caller, offer, agent_leg))
        return [
            on_call
            for on_call, caller, offer, agent_leg in found
            if self._legs.adopt_pair(on_call.call, caller, offer, on_call.agent, agent_leg)
        ]

    async def _channels(self) -> list[Mapping[str, object]]:
        listing = await self._ami.send_action("CoreShowChannels", as_list=True)
        channels = []
        for entry in listing if isinstance(listing, list) else []:
            fields = headers_of(entry)
            if event_name(fields).lower() == "coreshowchannel":
                channels.append(fields)
        return channels

    async def _adopt(
        self, fields: Mapping[str, object], started: datetime, now: datetime
    ) -> CallerArrived | None:
        channel = _field(fields, "channel")
        try:
            values = await asyncio.gather(*(self._getvar(channel, v) for v in QUEUE_VARIABLES))
        except AmiError as exc:  # hung up meanwhile
            log.debug("acd: reading %s: %s", channel, exc)
            return None
        queue, enqueued, priority, skills = (clean_text(v, 256).strip() for v in values)
        if not queue:
            log.warning("acd: %s waits in %s without a queue; skipped", channel, WAIT_CONTEXT)
            return None
        return CallerArrived(
            call=_field(fields, "linkedid") or _field(fields, "uniqueid"),
            channel=channel,
            queue=queue,
            priority=_number(priority, signed=True),
            skills=parse_skills(skills),
            enqueued_at=parse_epoch(enqueued) or started,
            at=now,
        )

    async def _getvar(self, channel: str, variable: str) -> str:
        answer = await self._ami.send_action("Getvar", {"Channel": channel, "Variable": variable})
        value = answer.get("Value") if hasattr(answer, "get") else None
        return value if isinstance(value, str) and value != "(null)" else ""

    async def _setvar(self, channel: str, variable: str, value: str) -> None:
        fields = {"Channel": channel, "Variable": variable, "Value": value}
        await self._ami.send_action("Setvar", fields)

    async def _redirect(self, channel: str, context: str, exten: str, *, leaves: bool) -> None:
        # Checked right before sending (no await in between): a caller paired with an agent
        # meanwhile must not be pulled out of its bridge.
        if not self._legs.waiting(channel):
            log.info("acd: %s no longer waits; not moved to %s", channel, context)
            return
        call = self._legs.call_of(channel)
        if leaves and call is not None:
            self._legs.forget_caller(call)
        fields = {"Channel": channel, "Context": context, "Exten": exten, "Priority": "1"}
        await self._ami.send_action("Redirect", fields)


def _agent_feature(fields: Mapping[str, object], now: datetime) -> Effects:
    agent = _field(fields, "agent")
    if not _AGENT.fullmatch(agent):
        return NOTHING
    make = _FEATURES.get(_field(fields, "action").lower())
    return Effects((make(agent, now),)) if make else NOTHING


_FEATURES: dict[str, Callable[[AgentId, datetime], AcdEvent]] = {
    "login": AgentLogin,
    "logout": AgentLogout,
    "pause": lambda agent, at: AgentPause(agent, PHONE_PAUSE_REASON, at),
    "unpause": AgentUnpause,
}


def parse_epoch(text: str) -> datetime | None:
    """``CC_ENQUEUED`` (epoch seconds, a fraction allowed) as a UTC time, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or not 0 < value < 1e11:
        return None
    return datetime.fromtimestamp(value, UTC)


def parse_skills(text: str) -> dict[str, int]:
    """``CC_SKILLS``: ``skill:level`` pairs separated by ``;`` (or commas, as an earlier engine
    set them); malformed pairs are skipped."""
    skills: dict[str, int] = {}
    for pair in text.replace(",", ";").split(";"):
        name, _, level = pair.strip().partition(":")
        if _AGENT.fullmatch(name) and level.isascii() and level.isdigit() and len(level) <= 4:
            skills[name] = int(level)
    return skills


def _caller_id(number: str, name: str) -> str:
    number = _NOT_NUMBER.sub("", number)[:40]
    name = _NOT_NAME.sub("", name).strip()[:64]
    if not name:
        return f"<{number}>" if number else ""
    return f'"{name}" <{number}>'


def _field(fields: Mapping[str, object], key: str) -> str:
    value = fields.get(key)
    if isinstance(value, list):
        value = value[-1] if value else ""
    return clean_text(value, 256).strip() if isinstance(value, str) else ""


def _number(text: str, *, signed: bool = False) -> int:
    digits = text[1:] if signed and text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 6:
        return 0
    return int(text)
