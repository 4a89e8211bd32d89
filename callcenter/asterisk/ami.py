"""The engine's AMI sessions: connect, log in, resync, keep alive, reconnect; send actions.

Theory of operation. :meth:`AmiClient.run` is one task (run it under a TaskGroup) looping
over sessions. A session opens an :class:`~callcenter.asterisk.ami_link.AmiLink`, logs in
(``Events: on`` or a mask), resyncs, then pings every ``ping_interval`` seconds until the
link ends; a Ping without an answer within ``ping_timeout`` aborts the transport, so a
half-open link is found within ``ping_interval + ping_timeout`` (5 s with the defaults).
Between sessions it waits with exponential backoff and jitter (``reconnect_min`` doubling up
to ``reconnect_max``); the backoff is reset once a session is up (logged in *and* resynced:
a session that logs in but cannot resync keeps backing off). A refused login is logged as an
error and retried the same way; nothing here ends ``run`` except cancellation.

Resync and ordering. From the moment a link opens, events are translated on arrival (their
timestamps are the arrival times) but held back. The session asks ``CoreShowChannels`` and
``DeviceStateList``; when both lists are complete it publishes, in one synchronous step:
the :class:`~callcenter.telephony.ChannelsSnapshot`, then every held event in arrival order,
then ``AmiLinkChanged(up=True)``; later events flow straight through. Snapshot first is right
because the snapshot replaces the ledger's picture and the consumers' handlers are idempotent
for facts it already contains (a Newchannel for a listed channel adds nothing; an Answered
for an answered call adds nothing; a Hangup of an unlisted channel is ignored), while events
that happened after Asterisk built the list are applied on top of it. Applying held events
first would let the snapshot erase calls that started during the resync. Device states
follow the same rule: the list replaces the map, then held ``DeviceStateChange`` events apply.
When a link that was up ends, every action awaiting its answer fails with
:class:`~callcenter.errors.AmiActionLost` (never re-sent) and ``AmiLinkChanged(up=False)``
is published.

Action sessions. Asterisk serves one session's actions one at a time, in order: an action
that keeps it busy (``Bridge`` moves two channels and may answer one; ``Redirect`` and
``Setvar`` wait for channel locks) delays every later action of that session, the keepalive
Ping included. So ``settings.action_sessions`` more sessions log in with ``Events: off``
(:class:`AmiActionSession`) and carry the actions of :data:`ACTION_SESSION_ACTIONS`, each
sent on the one with the fewest actions awaiting answers; everything else (``Originate``,
whose ``OriginateResponse`` is an event, the lists read at resync, ``Getvar``, ``Hangup``)
stays on the event session. Each action session reconnects on its own with the same
backoff; the event session's lifecycle, stats and ``AmiLinkChanged`` ignore them. Their
liveness is never judged by a Ping queued behind slow actions: they ping only when idle,
and an action that times out while nothing at all came back on its link since it was sent
ends that link (Asterisk answers a session's actions in order, so the link is dead or
stuck). An action for them when none is up fails with ``AmiNotConnected`` (nothing sent).

Event delivery never blocks. Messages are parsed inside the protocol's ``data_received``;
``on_event`` and raw subscribers are called synchronously there and must only hand the value
on (``asyncio.Queue.put_nowait``): Asterisk drops a manager session whose writes stall for
100 ms. An exception from a callback is logged and does not reach the protocol.

Public API::

    client = AmiClient(settings.ami, clock, on_event=inbox.put_nowait)
    tg.create_task(client.run())
    await client.wait_connected(10)
    answer = await client.send_action("Originate", {"Channel": ..., "Async": "true"})
    unsubscribe = client.subscribe("DTMF*", dtmf_inbox.put_nowait)   # raw panoramisk Messages
    client.connected; client.device_states; client.stats

``send_action`` sanitises every header (:mod:`callcenter.asterisk.sanitize`) and raises
``AmiError`` for a refused value or an error answer, ``AmiNotConnected`` when no session is up
(nothing sent), ``AmiActionLost`` when the link ended before the answer, ``AmiTimeout``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any

from panoramisk.message import Message

from callcenter.asterisk import translate
from callcenter.asterisk.ami_link import MAX_PENDING, AmiAnswer, AmiLink
from callcenter.asterisk.sanitize import FieldValue, Headers, clean_text, sanitize_action
from callcenter.clock import Clock
from callcenter.errors import AmiError, AmiNotConnected, AmiTimeout
from callcenter.settings import AmiSettings
from callcenter.telephony import AmiLinkChanged, TelephonyEvent

log = logging.getLogger(__name__)

MAX_HELD_EVENTS = 100_000
"""Events held back during one resync; beyond that the session is dropped and retried."""
ACTION_SESSION_ACTIONS = frozenset({"bridge", "redirect", "setvar"})
"""Actions sent on an action session when there is one (lower case): those that can keep
Asterisk busy with one session. Each caller's Setvar and Redirect are awaited in turn, so
their order holds whichever session carries each."""
PING: Headers = {"Action": "Ping"}

EventCallback = Callable[[TelephonyEvent], None]
RawCallback = Callable[[Message], None]


@dataclass(frozen=True, slots=True)
class AmiStats:
    """A copy of the client's counters (for the health endpoint)."""

    connected: bool
    attempts: int
    connects: int
    link_losses: int
    last_resync_seconds: float | None
    last_error: str | None
    action_sessions_up: int = 0
    action_link_losses: int = 0

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)


class Backoff:
    """Exponential backoff with jitter: delays within ``[low, high]``, doubling per failure."""

    def __init__(self, low: float, high: float, rng: random.Random | None = None) -> None:
        self._low = low
        self._high = max(low, high)
        self._rng = rng or random.Random()
        self._failures = 0

    def next_delay(self) -> float:
        ceiling = min(self._high, self._low * 2 ** min(self._failures, 60))
        self._failures += 1
        return self._rng.uniform(max(self._low, ceiling / 2), ceiling)

    def reset(self) -> None:
        self._failures = 0


class _LoginRejected(AmiError):
    code = "ami_login_rejected"


class AmiClient:
    """The engine's AMI event session and its action sessions (see the module docstring);
    ``run`` it in a TaskGroup."""

    def __init__(
        self,
        settings: AmiSettings,
        clock: Clock,
        on_event: EventCallback,
        *,
        events: str = "on",
        rng: random.Random | None = None,
        max_pending: int = MAX_PENDING,
        action_sessions: int | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._on_event = on_event
        self._events = events
        self._max_pending = max_pending
        count = settings.action_sessions if action_sessions is None else action_sessions
        self._action_sessions = [
            AmiActionSession(settings, number, rng=rng, max_pending=max_pending)
            for number in range(1, count + 1)
        ]
        self._backoff = Backoff(settings.reconnect_min, settings.reconnect_max, rng)
        self._link: AmiLink | None = None
        self._held: list[tuple[Message, TelephonyEvent | None]] | None = None
        self._connected = False
        self._up = asyncio.Event()
        self._devices: dict[str, str] = {}
        self._subscribers: dict[int, tuple[str, RawCallback]] = {}
        self._ids = itertools.count()
        self._attempts = 0
        self._connects = 0
        self._losses = 0
        self._last_resync: float | None = None
        self._last_error: str | None = None

    # Public surface.

    @property
    def connected(self) -> bool:
        """Logged in and resynced."""
        return self._connected

    @property
    def device_states(self) -> Mapping[str, str]:
        """Device -> state (``NOT_INUSE``, ``INUSE``, ``UNAVAILABLE``...), read-only view."""
        return MappingProxyType(self._devices)

    @property
    def stats(self) -> AmiStats:
        return AmiStats(
            connected=self._connected,
            attempts=self._attempts,
            connects=self._connects,
            link_losses=self._losses,
            last_resync_seconds=self._last_resync,
            last_error=self._last_error,
            action_sessions_up=sum(session.up for session in self._action_sessions),
            action_link_losses=sum(session.losses for session in self._action_sessions),
        )

    def subscribe(self, pattern: str, callback: RawCallback) -> Callable[[], None]:
        """Call ``callback`` with every raw event whose name matches ``pattern`` (fnmatch,
        case-insensitive); returns the function that unsubscribes."""
        key = next(self._ids)
        self._subscribers[key] = (pattern.lower(), callback)

        def unsubscribe() -> None:
            self._subscribers.pop(key, None)

        return unsubscribe

    async def wait_connected(self, timeout: float) -> None:  # noqa: ASYNC109
        """Until the event session and every action session are up (start-up, tests)."""
        try:
            async with asyncio.timeout(timeout):
                await self._up.wait()
                for session in self._action_sessions:
                    await session.wait_up()
        except TimeoutError:
            raise AmiNotConnected(f"no AMI session came up within {timeout:g} s") from None

    async def send_action(
        self,
        action: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (per action, like the settings)
        as_list: bool | None = None,
    ) -> AmiAnswer:
        """Send one action and return its answer: a Message, or a list for event lists.

        ``as_list`` follows panoramisk: ``None`` guesses from the first answer (an event list,
        or ``Originate`` with ``Async: true``, whose answer then includes the
        ``OriginateResponse``, that is the call's result), ``True`` waits for a list,
        ``False`` returns the first answer only (an async Originate's later
        ``OriginateResponse`` then arrives as a raw event for :meth:`subscribe`).
        """
        headers = sanitize_action(action, fields or {})
        limit = timeout or self._settings.action_timeout
        if self._action_sessions and action.lower() in ACTION_SESSION_ACTIONS:
            answer = await self._least_busy().request(headers, timeout=limit, as_list=as_list)
        else:
            link = self._link
            if not self._connected or link is None:
                raise AmiNotConnected(f"{action}: no AMI session is up; the action was not sent")
            answer = await link.request(headers, timeout=limit, as_list=as_list)
        _raise_for_error(action, answer)
        return answer

    async def run(self) -> None:
        """The event session's loop, and each action session's beside it."""
        async with asyncio.TaskGroup() as group:
            for session in self._action_sessions:
                group.create_task(session.run(), name=f"ami-actions-{session.number}")
            await self._run_events()

    def _least_busy(self) -> AmiActionSession:
        """The action session up with the fewest actions awaiting answers (the first when
        none is up: it refuses the action)."""
        up = [session for session in self._action_sessions if session.up]
        return min(up, key=lambda session: session.in_flight, default=self._action_sessions[0])

    async def _run_events(self) -> None:
        while True:
            if await self._session():
                self._backoff.reset()
            delay = self._backoff.next_delay()
            log.debug("AMI: next connection attempt in %.2f s", delay)
            await asyncio.sleep(delay)

    # One session.

    async def _session(self) -> bool:
        """Connect, log in, resync, keep alive; True when the session got up."""
        self._attempts += 1
        where = f"{self._settings.host}:{self._settings.port}"
        link: AmiLink | None = None
        up = False
        self._held = []
        try:
            link = await AmiLink.open(
                self._settings.host,
                self._settings.port,
                self._on_message,
                timeout=self._settings.action_timeout,
                max_pending=self._max_pending,
            )
            self._link = link
            await self._login(link)
            await self._resync(link)
            up = True
            reason = await self._keepalive(link)
            self._note_error(f"link lost: {reason}")
            log.warning("AMI link to %s lost: %s", where, reason)
        except _LoginRejected as exc:
            self._note_error(str(exc))
            log.error(
                "AMI login as %r at %s refused: %s; retrying",
                self._settings.username,
                where,
                exc,
            )
        except (AmiError, OSError) as exc:
            self._note_error(f"{type(exc).__name__}: {exc}")
            log.warning("AMI session with %s failed: %s: %s", where, type(exc).__name__, exc)
        except Exception as exc:  # a bug must not end the supervisor loop: log, back off, retry
            self._note_error(f"{type(exc).__name__}: {exc}")
            log.exception("AMI session with %s ended by an unexpected error", where)
        finally:
            self._down(link)
        return up

    async def _login(self, link: AmiLink) -> None:
        await _login(link, self._settings, self._events)

    async def _resync(self, link: AmiLink) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        timeout = self._settings.action_timeout
        channels, devices = await asyncio.gather(
            link.request({"Action": "CoreShowChannels"}, timeout=timeout, as_list=True),
            link.request({"Action": "DeviceStateList"}, timeout=timeout, as_list=True),
        )
        _raise_for_error("CoreShowChannels", channels)
        if not isinstance(channels, list):
            channels = [channels]
        if isinstance(devices, list):
            self._devices = translate.device_states(devices)
        else:
            log.warning("AMI DeviceStateList refused (%s); device states unknown", devices)
            self._devices = {}
        snapshot = translate.channels_snapshot(channels, self._clock.now())
        held, self._held = self._held or [], None
        self._emit(snapshot)
        for message, event in held:
            self._deliver(message, event)
        self._connected = True
        self._up.set()
        self._connects += 1
        self._last_resync = loop.time() - started
        self._emit(AmiLinkChanged(up=True, at=self._clock.now()))
        log.info(
            "AMI up at %s:%s: %d channels, %d devices, %d held events, resync %.3f s",
            self._settings.host,
            self._settings.port,
            len(snapshot.channels),
            len(self._devices),
            len(held),
            self._last_resync,
        )

    async def _keepalive(self, link: AmiLink) -> str:
        """Ping until the link ends; return why it ended."""
        while not link.is_lost:
            await asyncio.wait({link.lost}, timeout=self._settings.ping_interval)
            if link.is_lost:
                break
            try:
                await link.request(PING, timeout=self._settings.ping_timeout)
            except AmiNotConnected:
                break
            except AmiError as exc:  # AmiTimeout; AmiActionLost ends the loop by itself
                if not link.is_lost:
                    link.abort(f"Ping unanswered ({exc}): half-open link")
        return link.lost.result()

    def _down(self, link: AmiLink | None) -> None:
        was_up = self._connected
        self._connected = False
        self._up.clear()
        self._held = None
        self._link = None
        if link is not None:
            link.abort("session ended")
        if was_up:
            self._losses += 1
            self._emit(AmiLinkChanged(up=False, at=self._clock.now()))

    def _note_error(self, text: str) -> None:
        self._last_error = text

    # Events: called synchronously from the protocol's data_received.

    def _on_message(self, link: AmiLink, message: Message) -> None:
        if link is not self._link:
            return
        event = translate.translate(message, self._clock)
        if self._held is None:
            self._deliver(message, event)
        elif len(self._held) < MAX_HELD_EVENTS:
            self._held.append((message, event))
        else:
            link.abort(f"more than {MAX_HELD_EVENTS} events during one resync")

    def _deliver(self, message: Message, event: TelephonyEvent | None) -> None:
        name = translate.event_name(translate.headers_of(message)).lower()
        if name == "devicestatechange":
            pair = translate.device_state(message)
            if pair is not None:
                self._devices[pair[0]] = pair[1]
        if event is not None:
            self._emit(event)
        for pattern, callback in list(self._subscribers.values()):
            if fnmatchcase(name, pattern):
                _call(callback, message)

    def _emit(self, event: TelephonyEvent) -> None:
        _call(self._on_event, event)


class AmiActionSession:
    """One action-only AMI session (``Events: off``); see "Action sessions" above.

    ``run`` loops over links like the event session (backoff and jitter, a refused login
    logged as an error and retried) with no resync: it has no events to order.
    """

    def __init__(
        self,
        settings: AmiSettings,
        number: int,
        *,
        rng: random.Random | None = None,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.number = number
        self.in_flight = 0
        self.losses = 0
        self._settings = settings
        self._max_pending = max_pending
        self._backoff = Backoff(settings.reconnect_min, settings.reconnect_max, rng)
        self._link: AmiLink | None = None
        self._up = asyncio.Event()

    @property
    def up(self) -> bool:
        return self._link is not None and not self._link.is_lost

    async def wait_up(self) -> None:
        await self._up.wait()

    async def request(
        self,
        headers: Headers,
        *,
        timeout: float,  # noqa: ASYNC109 (each action has its own limit)
        as_list: bool | None = None,
    ) -> AmiAnswer:
        """Send ``headers`` on this session; AmiLink.request's answers and errors."""
        link = self._link
        if link is None or link.is_lost:
            raise AmiNotConnected(
                f"{headers['Action']}: AMI action session {self.number} is down;"
                " the action was not sent"
            )
        heard = link.heard
        self.in_flight += 1
        try:
            return await link.request(headers, timeout=timeout, as_list=as_list)
        except AmiTimeout:
            if link.heard == heard:
                link.abort(f"{headers['Action']} unanswered and nothing heard for {timeout:g} s")
            raise
        finally:
            self.in_flight -= 1

    async def run(self) -> None:
        while True:
            if await self._session():
                self._backoff.reset()
            await asyncio.sleep(self._backoff.next_delay())

    async def _session(self) -> bool:
        """Connect, log in, keep alive; True when the session got up."""
        where = f"{self._settings.host}:{self._settings.port}"
        link: AmiLink | None = None
        up = False
        try:
            link = await AmiLink.open(
                self._settings.host,
                self._settings.port,
                _no_events,
                timeout=self._settings.action_timeout,
                max_pending=self._max_pending,
            )
            await _login(link, self._settings, "off")
            self._link, up = link, True
            self._up.set()
            log.info("AMI action session %d up at %s", self.number, where)
            reason = await self._keepalive(link)
            log.warning("AMI action session %d with %s lost: %s", self.number, where, reason)
        except _LoginRejected as exc:
            log.error("AMI login as %r at %s refused: %s", self._settings.username, where, exc)
        except (AmiError, OSError) as exc:
            log.warning(
                "AMI action session %d with %s failed: %s: %s",
                *(self.number, where, type(exc).__name__, exc),
            )
        except Exception:  # a bug must not end the loop: log, back off, retry
            log.exception("AMI action session %d ended by an unexpected error", self.number)
        finally:
            self._link = None
            self._up.clear()
            if link is not None:
                link.abort("session ended")
            if up:
                self.losses += 1
        return up

    async def _keepalive(self, link: AmiLink) -> str:
        """Ping when idle until the link ends; busy, the answers themselves prove it alive."""
        while not link.is_lost:
            await asyncio.wait({link.lost}, timeout=self._settings.ping_interval)
            if link.is_lost or self.in_flight:
                continue
            try:
                await link.request(PING, timeout=self._settings.ping_timeout)
            except AmiNotConnected:
                break
            except AmiError as exc:
                if not link.is_lost:
                    link.abort(f"Ping unanswered while idle ({exc}): half-open link")
        return link.lost.result()


def _no_events(link: AmiLink, message: Message) -> None:
    """An action session logs in with ``Events: off``; anything unasked is dropped."""


async def _login(link: AmiLink, settings: AmiSettings, events: str) -> None:
    headers = sanitize_action(
        "Login",
        {
            "Username": settings.username,
            "Secret": settings.secret.get_secret_value(),
            "Events": events,
        },
    )
    answer = await link.request(headers, timeout=settings.action_timeout)
    if not _is_success(answer):
        raise _LoginRejected(_message_text(answer) or "login refused")


def _call(callback: Callable[[Any], None], value: object) -> None:
    try:
        callback(value)
    except Exception:
        log.exception("AMI event callback %r failed", callback)


def _is_success(answer: AmiAnswer) -> bool:
    first = answer[0] if isinstance(answer, list) and answer else answer
    return str(getattr(first, "response", "")).lower() in ("success", "follows", "goodbye")


def _message_text(answer: AmiAnswer) -> str:
    first = answer[0] if isinstance(answer, list) and answer else answer
    return clean_text(str(getattr(first, "message", "") or ""), 200, " ").strip()


def _raise_for_error(action: str, answer: AmiAnswer) -> None:
    if not _is_success(answer):
        raise AmiError(f"{action} failed: {_message_text(answer) or 'error answer'}")
