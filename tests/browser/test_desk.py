"""The agent console in headless Chromium, against a real ACD, desk and user service around a
fake call control: log in, go ready, see the pop (a hostile name as text, Chinese shown, the IVR
path), acknowledged by itself; note and callback reach the services; a pause stops the offers;
a dropped websocket comes back with the pop once; call controls send the right requests;
callback tasks of the agent's queue are listed, claimed, dialled, given back and done from the
page, leave it when another agent takes them, show the engine's refusal, and show as text."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import sentinel

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Locator, Page, Route, expect

from callcenter.acd.core import Acd
from callcenter.acd.model import (
    AgentConfig,
    AgentState,
    AgentStateChanged,
    CallEnded,
    CallerArrived,
    OfferAnswered,
    QueueConfig,
)
from callcenter.acd.service import AcdService, Published
from callcenter.callbacks.model import CallbackRequest, CallbackTask, TaskAction, TaskStatus
from callcenter.callbacks.repository import SqlCallbackRepository
from callcenter.callbacks.roster import AcdRoster
from callcenter.callbacks.schemas import offer_message
from callcenter.callbacks.service import CallbackService
from callcenter.clock import FixedClock
from callcenter.customers.model import Customer, CustomerDraft, Product
from callcenter.customers.repository import SqlCustomerRepository
from callcenter.customers.service import CustomerService
from callcenter.desk.service import DeskService, PoppingCallControl
from callcenter.desk.settings import DeskSettings, PopPolicy
from callcenter.storage.db import Database
from callcenter.users.model import TokenSigner
from callcenter.users.repository import SqlUserRepository
from callcenter.users.service import UserService
from callcenter.web.app import build_web_app
from tests.fakes.fake_call_control import FakeCallControl, Ring

TOKEN = "d" * 24
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CALLER = "13800138000"
HOSTILE = "<script>alert(1)</script>"
ADDRESS = "上海市浦东新区世纪大道100号"
PASSWORD = "li-password"
IMG = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class RecordingDialer:
    """Takes every dial and says which leg it made."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, str]] = []

    async def dial(self, task: int, agent: str, number: str) -> str:
        self.calls.append((task, agent, number))
        return f"CB-{task}-leg"


@dataclass
class Desk:
    url: str
    acd: AcdService
    control: FakeCallControl
    desk: DeskService
    customers: CustomerService
    callbacks: CallbackService
    customer: Customer
    repository: SqlCallbackRepository
    dialer: RecordingDialer

    async def arrive(self, call: str) -> None:
        waited = NOW - timedelta(seconds=7)
        self.acd.submit(CallerArrived(call, f"PJSIP/c-{call}", "repair", 0, {}, waited, NOW))
        await self.acd.drained()

    def rings(self, call: str) -> list[Ring]:
        return [r for r in self.control.requests if isinstance(r, Ring) and r.call == call]

    async def book(
        self, key: str, number: str, note: str = "", name: str = "Zhang", ago: float = 60
    ) -> CallbackTask:
        """A callback task for the queue of agents 1001 and 1002."""
        at = NOW - timedelta(seconds=ago)
        request = CallbackRequest(key, number, name, "", "repair", "overflow:timeout", note, at)
        return await self.callbacks.book(request)

    async def claim_as(self, agent: str, task: CallbackTask) -> None:
        """Another agent claims ``task`` through the service (their own desk)."""
        await self.callbacks.act(task.id, TaskAction.CLAIM, self.callbacks.actor(agent, False), "")


@pytest.fixture
async def desk_setup(database: Database) -> AsyncIterator[Desk]:
    clock = FixedClock(NOW)
    core = Acd(
        [QueueConfig("repair", strategy="hunting", ring_timeout=15)],
        [AgentConfig("1001", {"repair": 1}), AgentConfig("1002", {"repair": 1})],
    )
    customers = CustomerService(SqlCustomerRepository(database), clock)
    customer = await customers.save(
        CustomerDraft(
            "A1", HOSTILE, "vip", (CALLER,), ADDRESS, "east", (Product("RF-200", "SN-9"),)
        )
    )
    await customers.add_note(customer.id, "冰箱有噪音", "wu")
    callers = {"C1": (CALLER, "Wang"), "C2": ("13900000000", "")}
    desk = DeskService(
        DeskSettings(pop_policy=PopPolicy.RING_ANYWAY),
        core,
        lambda call: callers.get(call, ("", "")),
        customers,
        None,
        clock,
    )
    desk.handoff("C1", CALLER, ("welcome", "menu:2", "lookup:found"), (("account", "A1"),), "zh")
    control = FakeCallControl()

    def published(event: Published) -> None:
        if isinstance(event, AgentStateChanged):
            desk.on_agent_state(event)

    acd = AcdService(core, PoppingCallControl(control, desk), clock, published, lambda c: None)
    users = UserService(SqlUserRepository(database), TokenSigner(b"k" * 32), clock)
    await users.load()
    await users.put("li", "agent", "1001", PASSWORD)
    repository = SqlCallbackRepository(database)
    dialer = RecordingDialer()
    roster = AcdRoster(core)
    callbacks = CallbackService(repository, clock, desks=desk, roster=roster, dialer=dialer)

    async def open_tasks(agent: str) -> list[dict[str, Any]]:
        """Right after the snapshot, a desk gets the open tasks of its agent's queues."""
        found = await callbacks.recent(TaskStatus.OPEN, 500, queues=roster.queues_of(agent))
        return [offer_message(task) for task in found]

    desk.on_open(open_tasks)
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        acd,
        callbacks,
        customers,
        sentinel.scripts,
        checks=[],
        users=users,
        desk=desk,
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    runner = asyncio.create_task(acd.run())
    try:
        url = str(server.make_url("/desk"))
        yield Desk(url, acd, control, desk, customers, callbacks, customer, repository, dialer)
    finally:
        runner.cancel()
        await desk.close()
        await server.close()


async def log_in(page: Page, setup: Desk, password: str = PASSWORD) -> None:
    await page.goto(setup.url)
    await page.fill("#name", "li")
    await page.fill("#password", password)
    await page.click("#login button[type=submit]")


async def go_ready(page: Page, setup: Desk) -> None:
    await log_in(page, setup)
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#login")).to_be_hidden()
    await expect(page.locator("#state")).to_have_text("logged out")
    await page.click("#ready")
    await expect(page.locator("#state")).to_have_text("ready")
    assert setup.acd.core.agent("1001").state is AgentState.READY


async def test_the_agent_sees_the_pop_as_text_and_a_pause_stops_the_offers(
    browser: Browser, desk_setup: Desk
) -> None:
    setup = desk_setup
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await go_ready(page, setup)

    await setup.arrive("C1")
    await expect(page.locator("#pop-status")).to_have_text("ringing")
    await expect(page.locator("#customer-name")).to_have_text(HOSTILE)  # text, never run
    assert await page.locator("#pop script").count() == 0
    await expect(page.locator("#customer-address")).to_have_text(f"{ADDRESS}, east")
    await expect(page.locator("#customer-tier")).to_have_text("vip")
    await expect(page.locator("#customer-products")).to_have_text("RF-200, serial SN-9")
    await expect(page.locator("#ivr-path li")).to_have_text(["welcome", "menu:2", "lookup:found"])
    await expect(page.locator("#ivr-inputs dd")).to_have_text(["zh", "A1"])
    await expect(page.locator("#pop-caller")).to_have_text(f"{CALLER} (Wang)")
    await expect(page.locator("#pop-queue")).to_have_text("repair")
    await expect(page.locator("#pop-waited")).to_have_text("7 s")
    await expect(page.locator("#history li")).to_contain_text(["冰箱有噪音"])
    # Acknowledged by the page itself, over the websocket.
    await expect(page.locator("#pop-acked")).to_have_text("acknowledged")
    pop = setup.desk.live_pop("1001")
    assert pop is not None and pop.acked and len(setup.rings("C1")) == 1

    # A note goes to the customer's history.
    await page.fill("#note-text", "客户要求上门维修")
    await page.click("#note-save")
    await expect(page.locator("#history li").first).to_contain_text("li: 客户要求上门维修")
    history = await setup.customers.history(setup.customer.id)
    assert (history[0].text, history[0].author) == ("客户要求上门维修", "li")

    # The call is answered, then ends: the pop follows; the agent's figure counts it.
    setup.acd.submit(OfferAnswered(pop.id, NOW))
    await expect(page.locator("#pop-status")).to_have_text("connected")
    setup.acd.submit(CallEnded("C1", NOW))
    await expect(page.locator("#pop-status")).to_have_text("ended")
    await expect(page.locator("#calls-taken")).to_have_text("1")
    await expect(page.locator("#state")).to_have_text("ready")

    # Paused with a reason: the next caller is not offered to this agent.
    await page.select_option("#pause-reason", "lunch")
    await page.click("#pause")
    await expect(page.locator("#state")).to_have_text("paused")
    await expect(page.locator("#reason")).to_have_text("lunch")
    view = setup.acd.core.agent("1001")
    assert (view.state, view.reason) == (AgentState.PAUSED, "lunch")
    await setup.arrive("C2")
    await asyncio.sleep(0.3)
    assert setup.rings("C2") == []
    await expect(page.locator("#pop-status")).to_have_text("ended")  # still the last call
    assert dialogs == []


async def test_a_dropped_websocket_comes_back_with_the_pop_once(
    browser: Browser, desk_setup: Desk
) -> None:
    setup = desk_setup
    page = await browser.new_page()
    await go_ready(page, setup)
    await setup.arrive("C1")
    await expect(page.locator("#pop-acked")).to_have_text("acknowledged")
    await page.evaluate("() => socket.close()")
    await expect(page.locator("#conn")).to_have_text("reconnecting…")
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#pop-status")).to_have_text("ringing")
    await expect(page.locator("#recent button")).to_have_count(0)  # one pop, not two
    # A reload keeps the session (this tab only) and gets the same pop from the snapshot.
    await page.reload()
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#customer-name")).to_have_text(HOSTILE)
    await expect(page.locator("#recent button")).to_have_count(0)

    # A callback booked from the pop: the caller's number and the queue filled in.
    await page.fill("#callback-note", "after 18:00")
    await page.click("#callback button[type=submit]")
    await expect(page.locator("#message")).to_have_text("Callback booked (#1).")
    [task] = await setup.callbacks.recent(None, 10)
    booked = task.request
    assert (booked.number, booked.queue, booked.call, booked.name, booked.note, booked.source) == (
        CALLER,
        "repair",
        "C1",
        HOSTILE,
        "after 18:00",
        "agent",
    )


async def test_a_wrong_password_shows_an_error(browser: Browser, desk_setup: Desk) -> None:
    page = await browser.new_page()
    await log_in(page, desk_setup, "not-the-password")
    await expect(page.locator("#login-error")).to_have_text("wrong user name or password")
    await expect(page.locator("#desk")).to_be_hidden()
    await page.fill("#password", PASSWORD)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#conn")).to_have_text("live")
    await page.click("#sign-out")
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#login-error")).to_have_text("Signed out.")


async def test_call_controls_send_their_requests_and_show_refusals(
    browser: Browser, desk_setup: Desk
) -> None:
    page = await browser.new_page()
    sent: list[tuple[str, str, Any]] = []

    async def refuse(route: Route) -> None:
        request = route.request
        sent.append((request.method, request.url.split("/api/v1/")[1], request.post_data_json))
        error = {"error": {"code": "no_call", "message": "agent 1001 has no call"}}
        await route.fulfill(status=409, content_type="application/json", body=json.dumps(error))

    await page.route("**/api/v1/agents/1001/call/*", refuse)
    await log_in(page, desk_setup)
    await expect(page.locator("#conn")).to_have_text("live")
    await page.click("[data-call=hold]")
    await expect(page.locator("#message")).to_have_text("hold: agent 1001 has no call")
    await page.select_option("#transfer-kind", "queue")
    await page.fill("#transfer-target", "sales")
    await page.check("#transfer-attended")
    await page.click("#transfer button[type=submit]")
    await expect(page.locator("#message")).to_have_text("transfer: agent 1001 has no call")
    await page.select_option("#conference-kind", "agent")
    await page.fill("#conference-target", "1002")
    await page.click("#conference button[type=submit]")
    await expect(page.locator("#message")).to_have_text("conference: agent 1001 has no call")
    for action in ("record_pause", "transfer_complete", "hangup"):
        await page.click(f"[data-call={action}]")
        await expect(page.locator("#message")).to_contain_text(action.replace("_", " "))
    transfer = {"kind": "queue", "target": "sales", "attended": True}
    assert sent == [
        ("POST", "agents/1001/call/hold", {}),
        ("POST", "agents/1001/call/transfer", transfer),
        ("POST", "agents/1001/call/conference", {"agent": "1002"}),
        ("POST", "agents/1001/call/record_pause", {}),
        ("POST", "agents/1001/call/transfer_complete", {}),
        ("POST", "agents/1001/call/hangup", {}),
    ]


def task_row(page: Page, task: CallbackTask) -> Locator:
    return page.locator(f"#task-rows tr[data-task='{task.id}']")


async def test_callback_tasks_are_claimed_dialled_given_back_and_done(
    browser: Browser, desk_setup: Desk
) -> None:
    setup = desk_setup
    # Booked before the page opens, and escalated: listed from the start, flagged.
    early = await setup.book("early", "13911112222", "冰箱不制冷", ago=600)
    assert await setup.repository.escalate(early.id, NOW) is not None  # before its timer
    page = await browser.new_page()
    await log_in(page, setup)
    await expect(page.locator("#conn")).to_have_text("live")
    row = task_row(page, early)
    cells = [f"#{early.id}", "13911112222", "Zhang", "repair", "overflow:timeout", "冰箱不制冷"]
    for index, value in enumerate(cells):
        await expect(row.locator("td").nth(index)).to_have_text(value)
    await expect(row.locator(".task-requested")).not_to_be_empty()
    await expect(row.locator(".task-status")).to_have_text("escalated open")

    # Booked while the page is open: pushed over the desk websocket, after the escalated one.
    late = await setup.book("late", "13933334444", "after 18:00")
    await expect(page.locator("#task-rows tr")).to_have_count(2)
    await expect(page.locator("#task-rows .task-number")).to_have_text(
        ["13911112222", "13933334444"]
    )
    await expect(page.locator("#task-count")).to_have_text("2")

    # Claim: the task is this agent's in storage; the row offers Dial, Release and Done.
    row = task_row(page, late)
    await row.locator("button", has_text="Claim").click()
    await expect(row.locator(".task-status")).to_have_text("claimed by me")
    await expect(row.locator("button")).to_have_text(["Dial", "Release", "Done"])
    claimed = await setup.callbacks.get(late.id)
    assert (claimed.status, claimed.claimed_by) == (TaskStatus.CLAIMED, "1001")

    # Dial, one click: the engine dials the agent's phone for this task, then the number.
    await row.locator("button", has_text="Dial").click()
    await expect(page.locator("#message")).to_have_text(
        f"Dialling callback #{late.id}: your phone rings first, then 13933334444."
    )
    assert setup.dialer.calls == [(late.id, "1001", "13933334444")]

    # Done with an outcome note: closed in storage, gone from the page.
    await row.locator(".task-outcome").fill("客户已确认上门时间")
    await row.locator("button", has_text="Done").click()
    await expect(row).to_have_count(0)
    done = await setup.callbacks.get(late.id)
    assert (done.status, done.done_by, done.outcome_note) == (
        TaskStatus.DONE,
        "1001",
        "客户已确认上门时间",
    )

    # Claimed, then given back: open again in storage, and on the page.
    row = task_row(page, early)
    await row.locator("button", has_text="Claim").click()
    await expect(row.locator("button", has_text="Release")).to_be_visible()
    await row.locator("button", has_text="Release").click()
    await expect(row.locator("button")).to_have_text(["Claim"])
    released = await setup.callbacks.get(early.id)
    assert (released.status, released.claimed_by) == (TaskStatus.OPEN, "")

    # A refresh and a reconnect (the snapshot, then the open tasks again) show each task once.
    await page.click("#tasks-refresh")
    await expect(page.locator("#tasks-updated")).not_to_be_empty()
    await page.evaluate("() => socket.close()")
    await expect(page.locator("#conn")).to_have_text("live")
    await page.click("#tasks-refresh")
    await expect(page.locator("#task-rows tr")).to_have_count(1)
    await expect(page.locator("#task-count")).to_have_text("1")


async def test_tasks_taken_elsewhere_leave_the_page_and_refusals_are_shown(
    browser: Browser, desk_setup: Desk
) -> None:
    setup = desk_setup
    page = await browser.new_page()
    await log_in(page, setup)
    await expect(page.locator("#conn")).to_have_text("live")
    first = await setup.book("first", "13900000001")
    second = await setup.book("second", "13900000002")
    third = await setup.book("third", "13900000003")
    await expect(page.locator("#task-rows tr")).to_have_count(3)

    # Another agent claims one at their desk: shown as taken, nothing to click, then gone.
    await setup.claim_as("1002", first)
    row = task_row(page, first)
    await expect(row.locator(".task-status")).to_have_text("taken by 1002")
    await expect(row.locator("button")).to_have_count(0)
    await expect(row).to_have_count(0, timeout=6000)
    await expect(page.locator("#task-count")).to_have_text("2")

    # Claimed behind the desks' back: the engine's 409 is shown, and the row is read again.
    await setup.repository.act(second.id, TaskAction.CLAIM, "1002", "", NOW)
    row = task_row(page, second)
    await row.locator("button", has_text="Claim").click()
    await expect(page.locator("#message")).to_have_text(
        f"claim #{second.id}: callback {second.id}: cannot claim a task that is claimed"
    )
    await expect(page.locator("#message")).to_have_class("error")
    await expect(row.locator(".task-status")).to_have_text("taken by 1002")
    task = await setup.callbacks.get(second.id)
    assert (task.status, task.claimed_by) == (TaskStatus.CLAIMED, "1002")

    # Cancelled by a supervisor: gone at once.
    await setup.callbacks.act(
        third.id, TaskAction.CANCEL, setup.callbacks.actor("", True), "duplicate"
    )
    await expect(task_row(page, third)).to_have_count(0)


async def test_a_hostile_task_is_shown_as_text(browser: Browser, desk_setup: Desk) -> None:
    setup = desk_setup
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await log_in(page, setup)
    await expect(page.locator("#conn")).to_have_text("live")
    hostile = await setup.book("hostile", IMG, IMG, name=HOSTILE)
    row = task_row(page, hostile)
    await expect(row.locator(".task-number")).to_have_text(IMG)
    await expect(row.locator(".task-note")).to_have_text(IMG)
    await expect(row.locator(".task-name")).to_have_text(HOSTILE)
    await page.click("#tasks-refresh")  # the same task from the REST answer
    await expect(page.locator("#tasks-updated")).not_to_be_empty()
    await expect(row.locator(".task-number")).to_have_text(IMG)
    assert await page.locator("#tasks img, #tasks script").count() == 0
    await asyncio.sleep(0.2)
    assert dialogs == []
