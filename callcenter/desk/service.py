"""The desk service: the one owner of screen-pops and of the agents' desk connections.

Theory of operation.

- The IVR hands a call to a queue with what it learnt (path, inputs such as the account number
  entered, the customer found, the language): :meth:`DeskService.handoff` keeps that *call
  context* until the call is closed in the ledger, and starts looking up the customer record
  (by the customer the IVR found, the account number entered, else the caller ID) and the
  recent contact history at once, while the caller still hears the IVR's last prompt. A call
  that reaches a queue without the IVR is looked up when it arrives
  (:meth:`DeskService.caller_arrived`). So the database is off the path from an offer to its
  pop: by the time an agent is chosen the record is usually in memory. Look-ups are for pops:
  while no desk at all is open none is made ahead; a pop rung to an agent without a desk is
  filled when one of the agent's desks opens, or when the API asks for it.
- When the ACD rings an agent, :class:`PoppingCallControl` (wrapped around the PBX adapter)
  calls :meth:`DeskService.before_ring` first. A pop is made at once from what is in memory
  (queue, time waited, caller ID, call context, the looked-up record, waiting for the look-up
  only if it is still running) and pushed to the agent's desks while the phone rings.
- Policy ``ring_anyway``: the phone rings at once; the pop goes out alongside. Policy
  ``require_ack``: the phone rings only once a desk of the agent acknowledged the pop within
  ``ack_timeout``; with no desk connected, or no acknowledgement, the offer fails and the ACD
  offers the call to the next agent (the skip counts as an unanswered offer).
- The ACD's agent state changes drive the pop's status: talking → connected; any other state
  after ringing → withdrawn, after talking → ended. Every state change is pushed too.
- Pushes are written straight to each desk's transport, encoded once: a slow desk whose unsent
  data passes a bound is disconnected (it reconnects and gets a snapshot), so it never delays
  the others. A (re)connecting desk gets a snapshot of the agent and the pops of every call
  still ringing or connected; later pushes carry only what is new, so a client that replaces
  its state by pop id never shows a pop twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from callcenter.acd.core import AgentView
from callcenter.acd.model import (
    AgentId,
    AgentOnCall,
    AgentState,
    AgentStateChanged,
    CallControl,
    CallerArrived,
    CallId,
    OfferId,
    OverflowTarget,
)
from callcenter.acd.schemas import agent_json
from callcenter.calls.model import CallRecord
from callcenter.clock import Clock
from callcenter.customers.model import Customer
from callcenter.customers.schemas import contact_json, customer_json
from callcenter.customers.service import CustomerService
from callcenter.desk.pop import CallContext, Pop, PopStatus
from callcenter.desk.settings import DeskSettings, PopPolicy
from callcenter.errors import CallcenterError, NotFound
from callcenter.web.websockets import text_frame

log = logging.getLogger(__name__)

MAX_CONTEXTS = 20_000  # calls handed over by the IVR and not closed yet


class DeskNotReady(CallcenterError):
    """The pop policy skips this agent: no desk connected, or the pop not acknowledged."""

    code = "desk_not_ready"


class AcdViews(Protocol):
    """What the desk reads of the ACD core (read-only views)."""

    def agent(self, agent_id: str) -> AgentView: ...

    def waiting_caller(self, call: str) -> tuple[str, Any] | None: ...


class CallPaths(Protocol):
    async def path_of(self, linkedid: str) -> tuple[str, ...] | None: ...


@dataclass(frozen=True, slots=True)
class _Record:
    """A call's customer record and history (JSON-ready), and its IVR path from the ledger
    when the call context was lost (an engine restart)."""

    customer: dict[str, Any] | None
    history: list[dict[str, Any]]
    path: tuple[str, ...] | None = None
    searched: bool = True  # False: the look-up failed (storage), the customer is not known


SUPERVISORS_ONLY = frozenset({"task_escalated"})
"""Message types only the desks a supervisor (or an admin) opened receive."""

Opening = Callable[[AgentId], Awaitable[list[dict[str, Any]]]]
"""Messages a desk gets right after its snapshot (e.g. the open callback tasks it may take)."""


class DeskClient:
    """One desk websocket, written to directly (see the module's notes)."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        limit: int = 512 * 1024,
        supervisor: bool = False,
    ) -> None:
        self.ws = ws
        self.supervisor = supervisor
        self._transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self._limit = limit

    def send(self, frame: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing() or self.ws.closed:
            return
        if transport.get_write_buffer_size() > self._limit:
            log.info("desk: a client reads too slowly; disconnected (it will resync)")
            transport.abort()
            return
        transport.write(frame)


class DeskService:
    def __init__(
        self,
        settings: DeskSettings,
        acd: AcdViews,
        caller_id: Callable[[CallId], tuple[str, str]],
        customers: CustomerService,
        paths: CallPaths | None,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._acd = acd
        self._caller_id = caller_id
        self._customers = customers
        self._paths = paths
        self._clock = clock
        self._clients: dict[AgentId, set[DeskClient]] = {}
        self._pops: dict[AgentId, Pop] = {}  # the live pop of each agent
        self._contexts: OrderedDict[CallId, CallContext] = OrderedDict()
        self._records: OrderedDict[CallId, asyncio.Task[_Record]] = OrderedDict()
        self._acks: dict[OfferId, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._openings: list[Opening] = []
        self.pushed = 0

    def on_open(self, opening: Opening) -> None:
        """``opening(agent)`` gives messages for each desk right after its snapshot."""
        self._openings.append(opening)

    async def opening(self, agent: AgentId, client: DeskClient) -> None:
        """Send the openings' messages to a desk that has just had its snapshot; a source
        that fails is logged and skipped (the desk still works)."""
        for opening in self._openings:
            try:
                messages = await opening(agent)
            except CallcenterError as exc:
                log.warning("desk: opening messages for %s failed: %s", agent, exc)
                continue
            for message in messages:
                client.send(_frame(message))

    # The IVR and the ledger.

    def ivr_started(self, call: CallId, caller: str) -> None:
        """A call entered the IVR: look its caller up now, seconds before any offer (while
        a desk is open: look-ups are for pops; with none open, a pop is filled when a desk
        or the API asks for it)."""
        if self._clients:
            self._prepare(call, caller, ledger_path=False)  # the IVR will hand its path over

    def handoff(
        self,
        call: CallId,
        caller: str,
        path: tuple[str, ...],
        inputs: tuple[tuple[str, str], ...],
        language: str,
    ) -> None:
        """The IVR queued ``call``: keep what it learnt and look the customer up now."""
        self._remember(CallContext(call, path, inputs, language))
        looking = self._records.get(call)
        same = looking is not None and looking.done() and _same_customer(looking, inputs)
        if _names_customer(inputs) and not same:
            if self._clients:
                self._prepare(call, caller, fresh=True, ledger_path=False)  # another customer
            elif (dropped := self._records.pop(call, None)) is not None:
                dropped.cancel()  # looked up again, for whom the IVR named, when needed
        elif self._clients:
            self._prepare(call, caller, ledger_path=False)

    def caller_arrived(self, call: CallId) -> None:
        """A caller started waiting in a queue: look it up unless the IVR had it done."""
        if call not in self._records and self._clients:
            self._prepare(call, self._caller_id(call)[0])

    def call_closed(self, record: CallRecord) -> None:
        self._contexts.pop(record.linkedid, None)
        looking = self._records.pop(record.linkedid, None)
        if looking is not None and not looking.done():
            looking.cancel()

    # The ACD.

    async def before_ring(self, offer: OfferId, call: CallId, agent: AgentId) -> bool:
        """Make and push the pop; under ``require_ack`` wait for a desk's acknowledgement.
        False: skip this agent."""
        pop = self._new_pop(offer, call, agent)
        if pop is None:
            return True  # the offer ended already; the ACD stops the ring
        self._pops[agent] = pop
        if self._settings.pop_policy is PopPolicy.RING_ANYWAY:
            self._spawn(self._fill_and_push(pop))
            return True
        if not self._clients.get(agent):
            self._end(pop, PopStatus.WITHDRAWN)
            return False
        acked = asyncio.get_running_loop().create_future()
        self._acks[offer] = acked
        try:
            await self._fill_and_push(pop)
            await asyncio.wait_for(acked, self._settings.ack_timeout)
            return True
        except TimeoutError:
            log.info("desk: %s did not acknowledge the pop of %s: skipped", agent, offer)
            self._end(pop, PopStatus.WITHDRAWN)
            return False
        finally:
            self._acks.pop(offer, None)

    def on_agent_state(self, event: AgentStateChanged) -> None:
        pop = self._pops.get(event.agent)
        if pop is not None:
            if event.state is AgentState.TALKING:
                if pop.status is PopStatus.RINGING:
                    pop.status = PopStatus.CONNECTED
                    self._status(pop)
            elif event.state is not AgentState.RINGING:
                was_ringing = pop.status is PopStatus.RINGING
                self._end(pop, PopStatus.WITHDRAWN if was_ringing else PopStatus.ENDED)
        if event.agent in self._clients:
            self._push(event.agent, {"type": "state", "agent": self._agent_json(event.agent)})

    # Desks.

    def attach(self, agent: AgentId, client: DeskClient) -> None:
        """Register a desk and send its snapshot first."""
        self._acd.agent(agent)  # 404 for an unknown agent
        pop = self._pops.get(agent)
        snapshot = {
            "type": "snapshot",
            "agent": self._agent_json(agent),
            "pops": [pop.json()] if pop is not None and pop.ready else [],
        }
        client.send(_frame(snapshot))
        self._clients.setdefault(agent, set()).add(client)
        if pop is not None and not pop.ready:  # rang while no desk was open: fill it now
            self._spawn(self._fill_and_push(pop))

    def detach(self, agent: AgentId, client: DeskClient) -> None:
        clients = self._clients.get(agent)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._clients[agent]

    def acknowledge(self, agent: AgentId, offer: OfferId) -> None:
        pop = self._pops.get(agent)
        if pop is None or pop.id != offer:
            raise NotFound(f"no live pop {offer[:64]!r} for {agent}")
        if not pop.acked:
            pop.acked = True
            waiting = self._acks.get(offer)
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
            self._push(agent, {"type": "acked", "id": offer})

    def follow(
        self,
        call: CallId,
        agent: AgentId,
        offer: OfferId,
        queue: str = "",
        since: datetime | None = None,
    ) -> None:
        """A desk control rings ``agent`` for ``call`` (a transfer): the pop follows the
        call, made from the same call context; the agent's state changes drive it on."""
        pop = self._make_pop(offer, call, agent, queue, since or self._clock.now())
        self._pops[agent] = pop
        self._spawn(self._fill_and_push(pop))

    def withdraw(self, agent: AgentId, offer: OfferId) -> None:
        """The transfer's ring to ``agent`` was not answered."""
        pop = self._pops.get(agent)
        if pop is not None and pop.id == offer:
            self._end(pop, PopStatus.WITHDRAWN)

    def tell(self, agents: Iterable[AgentId], message: dict[str, Any]) -> None:
        """Push ``message`` (a JSON object with a ``type``) to the desks of ``agents``: work
        items other than calls, such as callback tasks."""
        for agent in agents:
            self._push(agent, message)

    def desks(self) -> list[AgentId]:
        """Agents with at least one desk connected."""
        return list(self._clients)

    def customer_of(self, call: CallId) -> int | None:
        """The customer looked up for ``call``, when the look-up has finished."""
        looking = self._records.get(call)
        if looking is None or not looking.done() or looking.cancelled():
            return None
        if looking.exception() is not None:
            return None
        found = looking.result().customer
        return int(found["id"]) if found is not None else None

    def searched(self, call: CallId) -> bool:
        """Whether the look-up for ``call`` has finished, found someone or not (then
        :meth:`customer_of` is all there is to know: nobody else has the caller's number)."""
        looking = self._records.get(call)
        if looking is None or not looking.done() or looking.cancelled():
            return False
        return looking.exception() is None and looking.result().searched

    def live_pop(self, agent: AgentId) -> Pop | None:
        pop = self._pops.get(agent)
        return pop if pop is not None and pop.ready else None

    async def filled_pop(self, agent: AgentId) -> Pop | None:
        """The live pop, its customer looked up first when no desk was open to have it
        done (the API's ``GET /api/v1/desk/pop``)."""
        pop = self._pops.get(agent)
        if pop is not None and not pop.ready:
            await self._fill_and_push(pop, now=True)
        return self.live_pop(agent)

    def connected(self, agent: AgentId) -> int:
        return len(self._clients.get(agent, ()))

    async def close(self) -> None:
        for task in [*self._tasks, *self._records.values()]:
            task.cancel()

    # Inside.

    def _new_pop(self, offer: OfferId, call: CallId, agent: AgentId) -> Pop | None:
        try:
            view = self._acd.agent(agent)
        except CallcenterError:
            return None
        if view.state is not AgentState.RINGING or view.call != call:
            return None
        now = self._clock.now()
        waiting = self._acd.waiting_caller(call)
        queue, since = waiting if waiting is not None else ("", now)
        return self._make_pop(offer, call, agent, queue, since)

    def _remember(self, context: CallContext) -> None:
        self._contexts[context.call] = context
        self._contexts.move_to_end(context.call)
        while len(self._contexts) > MAX_CONTEXTS:
            self._contexts.popitem(last=False)

    def _make_pop(
        self, offer: OfferId, call: CallId, agent: AgentId, queue: str, since: datetime
    ) -> Pop:
        now = self._clock.now()
        context = self._contexts.get(call) or CallContext(call)
        number, name = self._caller_id(call)
        if number or name:
            if context.caller != (number, name):
                context = replace(context, caller=(number, name))
                self._remember(context)
        else:
            number, name = context.caller  # the PBX legs forgot it (a transfer)
        if call not in self._records and agent in self._clients:
            self._prepare(call, number)
        waited = max(0.0, (now - since).total_seconds())
        return Pop(offer, agent, call, queue, number, name, now, waited, context)

    async def _fill_and_push(self, pop: Pop, *, now: bool = False) -> None:
        """The pop's customer and history in, then the pop out to the agent's desks. With no
        desk open for the agent (and not ``now``) nothing is looked up: :meth:`attach` fills
        the pop when a desk opens."""
        looking = self._records.get(pop.call)
        if looking is None:
            if not (now or pop.agent in self._clients):
                return
            self._prepare(pop.call, pop.caller)
            looking = self._records.get(pop.call)
        if looking is not None:
            record = looking.result() if looking.done() else await asyncio.shield(looking)
            pop.customer, pop.history = record.customer, record.history
            if record.path is not None and not pop.context.path:
                pop.context = replace(pop.context, path=record.path)
        pop.ready = True
        if self._pops.get(pop.agent) is pop:
            self._push(pop.agent, {"type": "pop", "pop": pop.json()})

    def _prepare(
        self, call: CallId, caller: str, *, fresh: bool = False, ledger_path: bool = True
    ) -> None:
        old = self._records.pop(call, None)
        if old is not None and not fresh:
            self._records[call] = old
            return
        task = asyncio.create_task(self._look_up(call, caller, ledger_path))
        task.add_done_callback(_quiet)
        self._records[call] = task
        while len(self._records) > MAX_CONTEXTS:
            _, dropped = self._records.popitem(last=False)
            dropped.cancel()

    async def _look_up(self, call: CallId, caller: str, ledger_path: bool) -> _Record:
        """Never fails: with the storage down the pop goes out with what is in memory."""
        context = self._contexts.get(call) or CallContext(call)
        try:
            path = None
            if ledger_path and not context.path and self._paths is not None:
                path = await self._paths.path_of(call)
            customer = await self._customer(context, caller)
            if customer is None:
                return _Record(None, [], path)
            history = await self._customers.history(customer.id, self._settings.history_limit)
            return _Record(customer_json(customer), [contact_json(c) for c in history], path)
        except CallcenterError as exc:
            log.warning("desk: customer look-up for %s failed: %s", call, exc)
            return _Record(None, [], searched=False)

    async def _customer(self, context: CallContext, caller: str) -> Customer | None:
        known = context.input("customer.id")
        if known.isdigit():
            try:
                return await self._customers.get(int(known))
            except NotFound:
                pass
        account = context.input("account")
        if account:
            found = await self._customers.by_account(account)
            if found is not None:
                return found
        return await self._customers.by_phone(caller) if caller else None

    def _end(self, pop: Pop, status: PopStatus) -> None:
        pop.status = status
        if self._pops.get(pop.agent) is pop:
            del self._pops[pop.agent]
        if pop.ready:
            self._status(pop)

    def _status(self, pop: Pop) -> None:
        self._push(pop.agent, {"type": "pop_status", "id": pop.id, "status": pop.status.value})

    def _push(self, agent: AgentId, message: dict[str, Any]) -> None:
        clients = self._clients.get(agent)
        if not clients:
            return
        frame = _frame(message)
        only_supervisors = message.get("type") in SUPERVISORS_ONLY
        for client in list(clients):
            if client.supervisor or not only_supervisors:
                client.send(frame)
        self.pushed += 1

    def _agent_json(self, agent: AgentId) -> dict[str, Any]:
        return agent_json(self._acd.agent(agent))

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("desk: making a pop failed: %r", task.exception())


def _names_customer(inputs: tuple[tuple[str, str], ...]) -> bool:
    """Whether the IVR learnt who the customer is (found, or an account number entered)."""
    return any(name in ("customer.id", "account") and value for name, value in inputs)


def _same_customer(looking: asyncio.Task[_Record], inputs: tuple[tuple[str, str], ...]) -> bool:
    if looking.cancelled() or looking.exception() is not None:
        return False
    found = looking.result().customer
    return found is not None and str(found.get("id")) == dict(inputs).get("customer.id")


def _quiet(task: asyncio.Task[_Record]) -> None:
    """A look-up nobody waited for must not log 'exception never retrieved'."""
    if not task.cancelled():
        task.exception()


def _frame(message: dict[str, Any]) -> bytes:
    return text_frame(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())


class PoppingCallControl:
    """The PBX adapter with the desk in front of each ring: the pop goes out first (and, under
    ``require_ack``, a refused pop means the agent is skipped)."""

    def __init__(self, inner: CallControl, desk: DeskService) -> None:
        self._inner = inner
        self._desk = desk

    async def ring_agent(
        self, offer: OfferId, call: CallId, agent: AgentId, ring_timeout: float
    ) -> None:
        if not await self._desk.before_ring(offer, call, agent):
            raise DeskNotReady(f"the desk of {agent} did not take the pop of {offer}")
        await self._inner.ring_agent(offer, call, agent, ring_timeout)

    async def stop_ringing(self, offer: OfferId) -> None:
        await self._inner.stop_ringing(offer)

    async def connect(self, call_channel: str, offer: OfferId) -> None:
        await self._inner.connect(call_channel, offer)

    async def announce(
        self, call_channel: str, position: int, estimated_wait: float | None
    ) -> None:
        await self._inner.announce(call_channel, position, estimated_wait)

    async def send_elsewhere(self, call_channel: str, target: OverflowTarget) -> None:
        await self._inner.send_elsewhere(call_channel, target)

    async def waiting_callers(self) -> list[CallerArrived]:
        return await self._inner.waiting_callers()

    async def agents_on_call(self) -> list[AgentOnCall]:
        return await self._inner.agents_on_call()
