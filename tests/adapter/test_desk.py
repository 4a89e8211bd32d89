"""The desk over a real websocket: a pop with the customer, history, IVR path and wait reaches
the rung agent's desk while the phone rings; its status follows the call; a reconnecting desk
gets the live pop once; agents see only their own desk; the ack policy skips absent desks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from callcenter.acd.core import Acd
from callcenter.acd.model import (
    AgentConfig,
    AgentLogin,
    AgentStateChanged,
    CallEnded,
    CallerArrived,
    OfferAnswered,
    QueueConfig,
)
from callcenter.acd.service import AcdService, Published
from callcenter.clock import FixedClock
from callcenter.customers.model import CustomerDraft
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

TOKEN = "t" * 24
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CALLER = "13800138000"


@dataclass
class Desk:
    server: TestServer
    acd: AcdService
    control: FakeCallControl
    desk: DeskService
    customers: CustomerService
    clock: FixedClock

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def token(self, name: str, agent: str, role: str = "agent") -> str:
        body = {"role": role, "agent": agent, "password": f"{name}-password"}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession() as client:
            async with client.put(
                self.url(f"/api/v1/users/{name}"), json=body, headers=headers
            ) as response:
                assert response.status == 200
            login = {"name": name, "password": f"{name}-password"}
            async with client.post(self.url("/api/v1/session"), json=login) as response:
                return str((await response.json())["token"])

    async def arrive(self, call: str) -> None:
        self.acd.submit(
            CallerArrived(call, f"PJSIP/c-{call}", "repair", 0, {}, NOW - timedelta(seconds=7), NOW)
        )
        await self.acd.drained()


@pytest.fixture
async def desk_setup(database: Database, request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    policy = getattr(request, "param", PopPolicy.RING_ANYWAY)
    clock = FixedClock(NOW)
    core = Acd(
        [QueueConfig("repair", strategy="hunting", ring_timeout=15)],
        [AgentConfig("1001", {"repair": 1}), AgentConfig("1002", {"repair": 2})],
    )
    customers = CustomerService(SqlCustomerRepository(database), clock)
    callers = {"C1": (CALLER, "Wang"), "C2": ("13900000000", "")}
    desk = DeskService(
        DeskSettings(pop_policy=policy, ack_timeout=0.3),
        core,
        lambda call: callers.get(call, ("", "")),
        customers,
        None,
        clock,
    )
    control = FakeCallControl()

    def published(event: Published) -> None:
        if isinstance(event, AgentStateChanged):
            desk.on_agent_state(event)

    acd = AcdService(core, PoppingCallControl(control, desk), clock, published, lambda c: None)
    users = UserService(SqlUserRepository(database), TokenSigner(b"s" * 32), clock)
    await users.load()
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        acd,
        sentinel.callbacks,
        customers,
        sentinel.scripts,
        checks=[],
        users=users,
        desk=desk,
    )
    server = TestServer(app)
    await server.start_server()
    runner = asyncio.create_task(acd.run())
    try:
        yield Desk(server, acd, control, desk, customers, clock)
    finally:
        runner.cancel()
        await desk.close()
        await server.close()


async def receive(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 5)
        if message["type"] == kind:
            return message


async def rings(setup: Desk, agent: str) -> list[Ring]:
    await asyncio.sleep(0.05)
    return [r for r in setup.control.requests if isinstance(r, Ring) and r.agent == agent]


async def test_the_pop_reaches_the_rung_agent_and_follows_the_call(desk_setup: Desk) -> None:
    setup = desk_setup
    customer = await setup.customers.save(
        CustomerDraft("A1", "<b>Wang</b>", "vip", (CALLER,), "1 Road", "east")
    )
    await setup.customers.add_note(customer.id, "fridge noisy", "li")
    setup.desk.handoff("C1", CALLER, ("menu:1", "lookup:found"), (("account", "A1"),), "zh")
    li = await setup.token("li", "1001")
    async with aiohttp.ClientSession() as client:
        feed = setup.url(f"/api/v1/desk/feed?access_token={li}")
        async with client.ws_connect(feed) as ws:
            snapshot = await receive(ws, "snapshot")
            assert (snapshot["agent"]["id"], snapshot["pops"]) == ("1001", [])
            await setup.acd.apply(AgentLogin("1001", NOW))
            assert (await receive(ws, "state"))["agent"]["state"] == "ready"
            await setup.arrive("C1")
            pop = (await receive(ws, "pop"))["pop"]
            assert pop["call"] == "C1" and pop["status"] == "ringing"
            assert pop["customer"]["name"] == "<b>Wang</b>" and pop["customer"]["tier"] == "vip"
            assert [h["text"] for h in pop["history"]] == ["fridge noisy"]
            assert pop["ivr"] == {
                "path": ["menu:1", "lookup:found"],
                "inputs": {"account": "A1"},
                "language": "zh",
            }
            assert (pop["queue"], pop["waited"], pop["caller"]["name"]) == ("repair", 7.0, "Wang")
            assert len(await rings(setup, "1001")) == 1  # rung alongside the pop
            await ws.send_json({"type": "ack", "id": pop["id"]})
            assert (await receive(ws, "acked"))["id"] == pop["id"]
            # A second desk (a reconnect) gets the live pop in its snapshot, once.
            async with client.ws_connect(feed) as again:
                assert [p["id"] for p in (await receive(again, "snapshot"))["pops"]] == [pop["id"]]
                setup.acd.submit(OfferAnswered(pop["id"], NOW))
                status = await receive(again, "pop_status")
                assert (status["id"], status["status"]) == (pop["id"], "connected")
                assert (await receive(ws, "pop_status"))["status"] == "connected"
                setup.acd.submit(CallEnded("C1", NOW))
                assert (await receive(again, "pop_status"))["status"] == "ended"
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(receive(again, "pop"), 0.3)  # no duplicate
        headers = {"Authorization": f"Bearer {li}"}
        async with client.get(setup.url("/api/v1/desk/pop"), headers=headers) as response:
            assert response.status == 404  # no live pop any more


async def test_an_agent_sees_only_their_own_desk(desk_setup: Desk) -> None:
    li = await desk_setup.token("li", "1001")
    boss = await desk_setup.token("boss", "", role="supervisor")
    async with aiohttp.ClientSession() as client:
        other = desk_setup.url(f"/api/v1/desk/feed?agent=1002&access_token={li}")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(other)
        assert refused.value.status == 403
        headers = {"Authorization": f"Bearer {li}"}
        pop = desk_setup.url("/api/v1/desk/pop?agent=1002")
        async with client.get(pop, headers=headers) as response:
            assert response.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as anonymous:
            await client.ws_connect(desk_setup.url("/api/v1/desk/feed?agent=1001"))
        assert anonymous.value.status == 401
        foreign = {"Origin": "https://evil.example"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as evil:
            await client.ws_connect(
                desk_setup.url(f"/api/v1/desk/feed?access_token={li}"), headers=foreign
            )
        assert evil.value.status == 403
        supervised = desk_setup.url(f"/api/v1/desk/feed?agent=1002&access_token={boss}")
        async with client.ws_connect(supervised) as ws:
            assert (await receive(ws, "snapshot"))["agent"]["id"] == "1002"
            await ws.send_str("not json")
            assert (await receive(ws, "error"))["message"] == "messages are JSON"


@pytest.mark.parametrize("desk_setup", [PopPolicy.REQUIRE_ACK], indirect=True)
async def test_require_ack_skips_an_agent_whose_desk_does_not_take_the_pop(
    desk_setup: Desk,
) -> None:
    setup = desk_setup
    li = await setup.token("li", "1001")
    await setup.acd.apply(AgentLogin("1001", NOW))
    await setup.acd.apply(AgentLogin("1002", NOW))
    # No desk connected for 1001: skipped at once, 1002 (whose desk acknowledges) rings.
    wu = await setup.token("wu", "1002")
    async with aiohttp.ClientSession() as client:
        url = setup.url(f"/api/v1/desk/feed?access_token={wu}")
        async with client.ws_connect(url) as ws:
            await receive(ws, "snapshot")
            await setup.arrive("C2")
            pop = (await receive(ws, "pop"))["pop"]
            assert await rings(setup, "1002") == []  # not before the ack
            await ws.send_json({"type": "ack", "id": pop["id"]})
            await receive(ws, "acked")
            assert len(await rings(setup, "1002")) == 1
            assert await rings(setup, "1001") == []
        # A connected desk that never acknowledges: the agent is skipped after ack_timeout.
        url = setup.url(f"/api/v1/desk/feed?access_token={li}")
        async with client.ws_connect(url) as ws:
            await receive(ws, "snapshot")
            setup.acd.submit(CallEnded("C2", NOW))
            await setup.arrive("C1")
            pop = (await receive(ws, "pop"))["pop"]
            status = await receive(ws, "pop_status")
            assert (status["id"], status["status"]) == (pop["id"], "withdrawn")
            assert await rings(setup, "1001") == []


async def test_the_customer_is_looked_up_when_the_call_enters_the_ivr(desk_setup: Desk) -> None:
    setup = desk_setup
    li = await setup.token("li", "1001")
    customer = await setup.customers.save(CustomerDraft("A1", "Wang", phones=(CALLER,)))
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(setup.url(f"/api/v1/desk/feed?access_token={li}")) as ws,
    ):
        await receive(ws, "snapshot")  # a desk is open: look-ups are made ahead
        setup.desk.ivr_started("C1", CALLER)
        await asyncio.sleep(0.2)  # the IVR runs; the record is in memory before any offer
        await setup.customers.save(CustomerDraft("A1", "Wang Renamed", phones=(CALLER,)))
        inputs = (("customer.id", str(customer.id)),)
        setup.desk.handoff("C1", CALLER, ("menu:1",), inputs, "en")
        await setup.acd.apply(AgentLogin("1001", NOW))
        await setup.arrive("C1")
        await asyncio.sleep(0.05)
        pop = setup.desk.live_pop("1001")
        assert pop is not None and pop.customer is not None
        assert pop.customer["name"] == "Wang"  # the same customer: not looked up again
        # An account number entered in the IVR names another customer: looked up afresh.
        other = await setup.customers.save(CustomerDraft("B2", "Li", phones=("13900000000",)))
        setup.desk.ivr_started("C2", "13900000001")
        setup.desk.handoff("C2", "13900000001", ("menu:2",), (("account", "B2"),), "en")
        await setup.acd.apply(AgentLogin("1002", NOW))
        await setup.arrive("C2")
        await asyncio.sleep(0.05)
        second = setup.desk.live_pop("1002")
        assert second is not None and second.customer is not None
        assert second.customer["id"] == other.id


async def test_with_no_desk_open_a_pop_is_filled_when_a_desk_or_the_api_asks(
    desk_setup: Desk,
) -> None:
    setup = desk_setup
    wang = await setup.customers.save(CustomerDraft("A1", "Wang", phones=(CALLER,)))
    li = await setup.customers.save(CustomerDraft("B2", "Li", phones=("13900000000",)))
    setup.desk.ivr_started("C1", CALLER)
    setup.desk.handoff("C1", CALLER, ("menu:1",), (), "en")
    setup.desk.handoff("C2", "13900000000", ("menu:2",), (("account", "B2"),), "en")
    await setup.acd.apply(AgentLogin("1001", NOW))
    await setup.arrive("C1")
    await asyncio.sleep(0.05)
    assert not setup.desk.searched("C1")  # nobody to pop to: nothing looked up yet
    assert setup.desk.live_pop("1001") is None
    token = await setup.token("li", "1001")
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(setup.url(f"/api/v1/desk/feed?access_token={token}")) as ws,
    ):
        assert (await receive(ws, "snapshot"))["pops"] == []
        pop = (await receive(ws, "pop"))["pop"]  # filled once the desk opened
        assert pop["customer"]["id"] == wang.id and pop["ivr"]["path"] == ["menu:1"]
    # The API fills a pop no desk had open, from what the IVR learnt (the account).
    await setup.acd.apply(AgentLogin("1002", NOW))
    await setup.arrive("C2")
    assert setup.desk.live_pop("1002") is None
    wu = await setup.token("wu", "1002")
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            setup.url("/api/v1/desk/pop"), headers={"Authorization": f"Bearer {wu}"}
        ) as response,
    ):
        assert response.status == 200
        assert (await response.json())["customer"]["id"] == li.id


async def test_the_pop_follows_a_transfer_to_another_agent(desk_setup: Desk) -> None:
    setup = desk_setup
    await setup.customers.save(CustomerDraft("A1", "Wang", phones=(CALLER,)))
    setup.desk.handoff("C1", CALLER, ("menu:1",), (), "zh")
    wu = await setup.token("wu", "1002")
    async with aiohttp.ClientSession() as client:
        url = setup.url(f"/api/v1/desk/feed?access_token={wu}")
        async with client.ws_connect(url) as ws:
            await receive(ws, "snapshot")
            setup.desk.follow("C1", "1002", "C1-x1", "repair", NOW - timedelta(seconds=30))
            pop = (await receive(ws, "pop"))["pop"]
            assert (pop["id"], pop["call"], pop["queue"]) == ("C1-x1", "C1", "repair")
            assert pop["customer"]["name"] == "Wang" and pop["ivr"]["path"] == ["menu:1"]
            assert pop["waited"] == 30.0 and pop["caller"]["number"] == CALLER
            setup.desk.withdraw("1002", "C1-x1")  # the transfer's ring was not answered
            status = await receive(ws, "pop_status")
            assert (status["id"], status["status"]) == ("C1-x1", "withdrawn")
        assert setup.desk.live_pop("1002") is None


async def test_openings_follow_the_snapshot_and_escalations_reach_supervisors_only(
    desk_setup: Desk,
) -> None:
    setup = desk_setup

    async def open_tasks(agent: str) -> list[dict[str, Any]]:
        return [{"type": "task", "task": {"id": 7, "for": agent}}]

    setup.desk.on_open(open_tasks)
    li = await setup.token("li", "1001")
    boss = await setup.token("boss", "", role="supervisor")
    async with aiohttp.ClientSession() as client:
        agent_ws = await client.ws_connect(setup.url(f"/api/v1/desk/feed?access_token={li}"))
        await receive(agent_ws, "snapshot")
        assert (await receive(agent_ws, "task"))["task"] == {"id": 7, "for": "1001"}
        boss_ws = await client.ws_connect(
            setup.url(f"/api/v1/desk/feed?agent=1001&access_token={boss}")
        )
        await receive(boss_ws, "task")
        setup.desk.tell(["1001"], {"type": "task_escalated", "task": {"id": 7}})
        setup.desk.tell(["1001"], {"type": "fax_received", "fax": {"id": "f1"}})
        assert (await receive(boss_ws, "task_escalated"))["task"] == {"id": 7}
        # the agent's desk gets the next message for everyone, never the escalation
        message = await asyncio.wait_for(agent_ws.receive_json(), 5)
        assert message["type"] == "fax_received"
        await agent_ws.close()
        await boss_ws.close()
