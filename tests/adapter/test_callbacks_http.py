"""Callback tasks as work items over HTTP, on both backends: offered to the desks of the
queue's agents, claimed exclusively, dialled by the claimer (AMI Originate into cc-callback),
closed with a note, escalated by timer, and an agent kept to the tasks of their queues."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from callcenter.asterisk.sanitize import FieldValue, sanitize_action
from callcenter.callbacks.dialer import AmiCallbackDialer
from callcenter.callbacks.model import CallbackRequest, TaskAction
from callcenter.callbacks.repository import SqlCallbackRepository
from callcenter.callbacks.service import CallbackService
from callcenter.callbacks.settings import CallbacksSettings
from callcenter.clock import FixedClock
from callcenter.storage.db import Database
from callcenter.users.model import Principal, Role
from callcenter.users.service import UserService
from callcenter.web.app import build_web_app

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TOKEN = "c" * 24
SESSIONS = {
    "ann": Principal("ann", Role.AGENT, "agent1001"),
    "bob": Principal("bob", Role.AGENT, "agent1002"),
    "eve": Principal("eve", Role.AGENT, "agent1003"),
    "sue": Principal("sue", Role.SUPERVISOR),
}
QUEUES = {"agent1001": {"repair"}, "agent1002": {"repair", "sales"}, "agent1003": {"sales"}}


class Sessions:
    def authenticate(self, token: str) -> Principal | None:
        return SESSIONS.get(token)


@dataclass
class Desks:
    """The desk service's two methods the callbacks use; every message told, by agent."""

    told: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    connected: list[str] = field(default_factory=lambda: ["agent1001", "agent1003", "sue"])

    def tell(self, agents: Iterable[str], message: dict[str, Any]) -> None:
        self.told.extend((agent, message) for agent in agents)

    def desks(self) -> list[str]:
        return list(self.connected)

    def of(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(agent, m) for agent, m in self.told if m["type"] == kind]


class Roster:
    def serving(self, queue: str) -> list[str]:
        return sorted(agent for agent, queues in QUEUES.items() if queue in queues)

    def queues_of(self, agent: str) -> frozenset[str]:
        return frozenset(QUEUES.get(agent, ()))


@dataclass
class Ami:
    """Records each action as it would go on the wire (through the sanitiser)."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def send_action(
        self,
        action: str,
        fields: dict[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,
        as_list: bool | None = None,
    ) -> object:
        self.sent.append(sanitize_action(action, fields or {}))
        return {"Response": "Success"}


@dataclass
class Served:
    server: TestServer
    service: CallbackService
    desks: Desks
    ami: Ami

    async def call(
        self, method: str, path: str, who: str = TOKEN, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as client,
            client.request(
                method,
                str(self.server.make_url(path)),
                json=body,
                headers={"Authorization": f"Bearer {who}"},
            ) as response,
        ):
            return response.status, await response.json()

    async def book(self, number: str = "13800138000", queue: str = "repair") -> int:
        status, task = await self.call(
            "POST", "/api/v1/callbacks", body={"number": number, "queue": queue}
        )
        assert status == 201, task
        return int(task["id"])


def make_service(database: Database, clock: FixedClock, escalate_after: float) -> Served:
    desks, ami = Desks(), Ami()
    settings = CallbacksSettings(escalate_after=escalate_after, blocked_prefixes=["900"])
    service = CallbackService(
        SqlCallbackRepository(database),
        clock,
        retry=0.05,
        settings=settings,
        desks=desks,
        roster=Roster(),
        dialer=AmiCallbackDialer(ami, settings.trunk, settings.ring_timeout),
    )
    return Served(cast(TestServer, None), service, desks, ami)


@pytest.fixture
async def served(database: Database) -> AsyncIterator[Served]:
    parts = make_service(database, FixedClock(T0), escalate_after=3600)
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        sentinel.acd,
        parts.service,
        sentinel.customers,
        sentinel.scripts,
        [],
        users=cast(UserService, Sessions()),
    )
    parts.server = TestServer(app)
    await parts.server.start_server()
    runner = asyncio.create_task(parts.service.run())
    try:
        yield parts
    finally:
        runner.cancel()
        await parts.server.close()


async def test_a_task_is_offered_claimed_once_dialled_by_its_claimer_and_done(
    served: Served,
) -> None:
    task = await served.book()
    assert [(a, m["task"]["id"]) for a, m in served.desks.of("task")] == [
        ("agent1001", task),
        ("agent1002", task),
    ]  # the repair queue's agents, not agent1003
    status, claimed = await served.call("POST", f"/api/v1/callbacks/{task}/claim", "ann")
    assert (status, claimed["status"], claimed["claimed_by"]) == (200, "claimed", "agent1001")
    status, second = await served.call("POST", f"/api/v1/callbacks/{task}/claim", "bob")
    assert (status, second["error"]["code"]) == (409, "callback_illegal_transition")
    taken = served.desks.of("task_status")
    assert [(a, m["status"], m["by"]) for a, m in taken] == [
        ("agent1001", "taken", "agent1001"),
        ("agent1002", "taken", "agent1001"),
    ]

    status, body = await served.call("POST", f"/api/v1/callbacks/{task}/dial", "bob")
    assert (status, body["error"]["code"]) == (409, "callback_claimed_by_another")
    assert served.ami.sent == []
    status, body = await served.call("POST", f"/api/v1/callbacks/{task}/dial", "ann")
    assert status == 200, body
    (originate,) = served.ami.sent
    assert originate["Action"] == "Originate"
    assert (originate["Channel"], originate["Context"], originate["Exten"]) == (
        "PJSIP/agent1001",
        "cc-callback",
        "s",
    )
    assert originate["ChannelId"] == body["channel_id"]
    assert originate["Variable"] == [
        "CC_CB_NUMBER=13800138000",
        "CC_CB_TRUNK=callers",
        f"CC_CB_TASK={task}",
    ]

    status, body = await served.call("POST", f"/api/v1/callbacks/{task}/complete", "bob")
    assert (status, body["error"]["code"]) == (409, "callback_claimed_by_another")
    note = {"note": "customer called back, visit booked"}
    status, done = await served.call("POST", f"/api/v1/callbacks/{task}/complete", "ann", note)
    assert (status, done["status"], done["done_by"], done["outcome_note"]) == (
        200,
        "done",
        "agent1001",
        note["note"],
    )
    assert served.desks.told[-1] == (
        "agent1002",
        {"type": "task_status", "id": task, "status": "done", "by": "agent1001"},
    )
    assert served.service.armed == 0  # done: its escalation timer is gone


async def test_an_agent_acts_only_on_their_queues_and_only_for_themselves(
    served: Served,
) -> None:
    repair = await served.book(queue="repair")
    sales = await served.book(queue="sales")
    for method, path in [
        ("GET", f"/api/v1/callbacks/{repair}"),
        ("POST", f"/api/v1/callbacks/{repair}/claim"),
        ("POST", f"/api/v1/callbacks/{repair}/complete"),
        ("GET", "/api/v1/callbacks?queue=repair"),
    ]:
        status, body = await served.call(method, path, "eve")
        assert status == 403, (path, body)
    status, body = await served.call("GET", "/api/v1/callbacks", "eve")
    assert [t["id"] for t in body["callbacks"]] == [sales]
    status, body = await served.call("GET", "/api/v1/callbacks", "sue")
    assert [t["id"] for t in body["callbacks"]] == [sales, repair]
    # As someone else: 403 (an agent acts for themselves only).
    as_bob = {"agent": "agent1002"}
    status, _ = await served.call("POST", f"/api/v1/callbacks/{repair}/claim", "ann", as_bob)
    assert status == 403
    # Cancelling needs a supervisor; a supervisor claims for an agent and cancels.
    status, _ = await served.call("POST", f"/api/v1/callbacks/{repair}/cancel", "ann")
    assert status == 403
    status, body = await served.call("POST", f"/api/v1/callbacks/{repair}/claim", "sue", as_bob)
    assert (status, body["claimed_by"]) == (200, "agent1002")
    status, body = await served.call("POST", f"/api/v1/callbacks/{repair}/release", "bob")
    assert (status, body["status"], body["claimed_by"]) == (200, "open", "")
    assert served.desks.told[-1][1]["type"] == "task"  # offered again
    status, body = await served.call("POST", f"/api/v1/callbacks/{repair}/cancel", "sue")
    assert (status, body["status"]) == (200, "cancelled")
    status, body = await served.call("POST", f"/api/v1/callbacks/{sales}/claim", "sue")
    assert (status, body["error"]["code"]) == (400, "bad_request")  # for whom?


async def test_a_number_unfit_to_dial_never_reaches_asterisk(served: Served) -> None:
    for number in ("9001234567", "12"):
        task = await served.book(number=number)
        await served.call("POST", f"/api/v1/callbacks/{task}/claim", "ann")
        status, body = await served.call("POST", f"/api/v1/callbacks/{task}/dial", "ann")
        assert (status, body["error"]["code"]) == (409, "callback_number_refused")
    hostile = CallbackRequest(
        "hostile", "123&PJSIP/x\r\nAction: Hangup", "", "", "repair", "ivr", "", T0
    )
    task = (await served.service.book(hostile)).id
    await served.call("POST", f"/api/v1/callbacks/{task}/claim", "ann")
    status, body = await served.call("POST", f"/api/v1/callbacks/{task}/dial", "ann")
    assert (status, body["error"]["code"]) == (409, "callback_number_refused")
    unclaimed = await served.book()
    status, body = await served.call("POST", f"/api/v1/callbacks/{unclaimed}/dial", "ann")
    assert (status, body["error"]["code"]) == (409, "callback_not_claimed")
    assert served.ami.sent == []


async def test_unhandled_tasks_escalate_by_timer_and_overdue_ones_after_a_restart(
    database: Database,
) -> None:
    clock = FixedClock(T0)
    first = make_service(database, clock, escalate_after=0.3)
    runner = asyncio.create_task(first.service.run())
    try:
        late = await first.service.book(
            CallbackRequest("late", "13800138000", "", "", "repair", "ivr", "", T0)
        )
        handled = await first.service.book(
            CallbackRequest("handled", "13800138001", "", "", "repair", "ivr", "", T0)
        )
        kept = await first.service.book(  # requested long ago, but only now stored
            CallbackRequest("old", "13800138002", "", "", "repair", "ivr", "", T0 - timedelta(1))
        )
        actor = first.service.actor("agent1001", supervisor=False)
        await first.service.act(handled.id, TaskAction.COMPLETE, actor, "called back")
        await asyncio.sleep(0.1)
        escalated = first.desks.of("task_escalated")
        assert [(a, m["task"]["id"]) for a, m in escalated] == [
            ("agent1001", kept.id),
            ("agent1003", kept.id),
            ("sue", kept.id),
        ]  # overdue at once, to every desk
        await asyncio.sleep(0.4)
        ids = [m["task"]["id"] for _, m in first.desks.of("task_escalated")]
        assert sorted(set(ids)) == sorted([kept.id, late.id])
        assert len(ids) == 6  # once each
        listed = await first.service.recent(None, 10, escalated=True)
        assert {t.id for t in listed} == {kept.id, late.id}
        assert all(t.escalated_at == T0 for t in listed)
    finally:
        runner.cancel()

    # A restart: a task left unhandled meanwhile escalates once the sweep finds it.
    repository = SqlCallbackRepository(database)
    await repository.add(CallbackRequest("while-down", "1380013", "", "", "sales", "ivr", "", T0))
    second = make_service(database, clock, escalate_after=0.3)
    runner = asyncio.create_task(second.service.run())
    try:
        await asyncio.sleep(0.5)
    finally:
        runner.cancel()
    (again,) = second.desks.of("task_escalated")[:1]
    assert again[1]["task"]["queue"] == "sales"
    assert len(second.desks.of("task_escalated")) == 3  # one task, three desks


async def test_a_desk_that_opens_gets_the_open_tasks_of_its_queues(served: Served) -> None:
    first = await served.book(queue="repair")
    second = await served.book(number="13900000000", queue="sales")
    status, _ = await served.call("POST", f"/api/v1/callbacks/{second}/claim", "bob")
    assert status == 200  # claimed: no longer open
    third = await served.book(number="13700000000", queue="sales")
    offers = await served.service.open_offers("agent1002")
    assert [(m["type"], m["task"]["id"]) for m in offers] == [("task", first), ("task", third)]
    assert [m["task"]["id"] for m in await served.service.open_offers("agent1003")] == [third]
    assert await served.service.open_offers("nobody") == []
