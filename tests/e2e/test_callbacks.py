"""Callback tasks on the real Asterisk. A queue overflowing to a callback request: the caller
hears the confirmation, the task is stored with the caller's number, and an agent closes it
through the API. A task claimed by one agent (a second claim refused, the queue's other desks
told it is taken) and dialled with one click: the agent's SIPp phone rings first, then the
customer's leg is dialled through the trunk and bridged with the agent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.e2e.api import closed_calls, get, post, request
from tests.e2e.conftest import API_TOKEN, RunningEngine, engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.e2e.observer import observing
from tests.e2e.phones import agent_phones, step

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_call_left")]

CONFIG = {
    "queues": {
        "q1": {
            "max_wait": 2,
            "overflow": {"kind": "callback"},
        }
    },
    "agents": {"agent1001": {"queues": {"q1": 1}}},
}


@pytest.mark.parametrize("engine", [CONFIG], indirect=True)
async def test_max_wait_overflow_to_callback_stores_one_task_an_agent_completes(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with observing(asterisk.ami_secret) as observer:
        code, output = await asterisk.sipp(
            "127.0.0.1:5060",
            *("-sf", "caller_named.xml", "-s", "4110", "-m", "1", "-i", "127.0.0.1", "-p", "0"),
            *("-key", "digits", "#", "-key", "name", "Wang", "-key", "user", "13800138000"),
            "-nostdin",
            timeout=40,
        )
        assert code == 0, output[-2000:]
        confirmed = observer.matching(Event="Newexten", Context="cc-elsewhere")
    assert any(step("cc-elsewhere", "Playback")(e) for e in confirmed), confirmed
    (call,) = await closed_calls(engine, 1)
    assert call["outcome"] == "timeout"  # max wait reached, then sent to the callback
    await engine.engine.callbacks.drained()
    (task,) = (await get(engine, "/api/v1/callbacks?status=open"))["callbacks"]
    assert (task["number"], task["name"], task["queue"], task["source"], task["call"]) == (
        "13800138000",
        "Wang",
        "q1",
        "overflow:max_wait",
        call["linkedid"],
    )
    done = await post(
        engine, f"/api/v1/callbacks/{task['id']}/complete", {"agent": "agent1001", "note": "ok"}
    )
    assert (done["status"], done["done_by"]) == ("done", "agent1001")
    status, body = await request(engine, "POST", f"/api/v1/callbacks/{task['id']}/cancel", {})
    assert (status, body["error"]["code"]) == (409, "callback_illegal_transition")
    assert (await get(engine, "/api/v1/callbacks?status=open"))["callbacks"] == []
    status, body = await request(engine, "POST", "/api/v1/callbacks", {"number": "1;2"})
    assert status == 400, body
    status, _ = await request(engine, "GET", "/api/v1/callbacks", token=None)
    assert status == 401


# --- a task claimed and dialled with one click ----------------------------------------------

# The customer's side: the callback dials through the trunk endpoint of the settings. Here that
# is agent1005, whose contact is the agents' SIPp UAS (tests/e2e/asterisk-overlay): the UAS logs
# the Request-URI's user, so the customer's leg shows up as an INVITE for the number itself.
DIAL_ACD = {
    "queues": {"q1": {}, "q2": {}},
    "agents": {
        "agent1001": {"queues": {"q1": 1}},
        "agent1002": {"queues": {"q1": 1}},
        "agent1003": {"queues": {"q2": 1}},
    },
}
CUSTOMER = "13800138000"


async def desk_messages(running: RunningEngine, agent: str, into: list[dict[str, Any]]) -> None:
    url = f"{running.base_url}/api/v1/desk/feed?agent={agent}&access_token={API_TOKEN}"
    async with aiohttp.ClientSession() as client, client.ws_connect(url) as ws:
        async for frame in ws:
            into.append(json.loads(frame.data))


async def test_a_task_claimed_by_one_agent_is_dialled_agent_first_then_the_customer(
    asterisk: Asterisk, sqlite_url: str
) -> None:
    settings = engine_settings(
        asterisk, sqlite_url, 5038, acd=DIAL_ACD, callbacks={"trunk": "agent1005"}
    )
    seen: dict[str, list[dict[str, Any]]] = {"agent1002": [], "agent1003": []}
    async with (
        agent_phones(asterisk, talk_ms=3_000) as phones,
        running_engine(settings) as running,
        observing(asterisk.ami_secret) as observer,
    ):
        desks = [asyncio.create_task(desk_messages(running, a, m)) for a, m in seen.items()]
        try:
            await asyncio.sleep(0.3)  # the desks are open before the task exists
            booked = {"number": CUSTOMER, "queue": "q1", "note": "call after 10"}
            status, task = await request(running, "POST", "/api/v1/callbacks", booked)
            assert status == 201, task
            path = f"/api/v1/callbacks/{task['id']}"
            claimed = await post(running, f"{path}/claim", {"agent": "agent1001"})
            assert (claimed["status"], claimed["claimed_by"]) == ("claimed", "agent1001")
            status, body = await request(running, "POST", f"{path}/claim", {"agent": "agent1002"})
            assert (status, body["error"]["code"]) == (409, "callback_illegal_transition")

            dialled = await post(running, f"{path}/dial", {"agent": "agent1001"})
            agent_invite = await phones.wait_for("invite", "agent1001", timeout=10)
            customer_invite = await phones.wait_for("invite", CUSTOMER, timeout=10)
            dial = await observer.wait_for(step("cc-callback", "Dial"), 5)
            begin = await observer.wait_for(
                lambda e: e.get("Event") == "DialBegin" and e.get("Uniqueid") == dial["Uniqueid"],
                5,
            )
            await phones.wait_for("answer", CUSTOMER, timeout=10)
            bridged = await observer.wait_for(
                lambda e: (
                    e.get("Event") == "BridgeEnter"
                    and str(e.get("Channel", "")).startswith("PJSIP/agent1005-")
                ),
                10,
            )
            done = await post(running, f"{path}/complete", {"agent": "agent1001", "note": "ok"})
            await asyncio.sleep(0.3)  # the last desk messages arrive
        finally:
            for desk in desks:
                desk.cancel()
    assert agent_invite.at <= customer_invite.at  # the agent's phone first, then the customer
    assert dial["Uniqueid"] == dialled["channel_id"]
    assert dial["AppData"] == f"PJSIP/{CUSTOMER}@agent1005,60"
    assert begin["DestChannel"].startswith("PJSIP/agent1005-")
    assert bridged["Linkedid"] == dialled["channel_id"]
    assert (done["status"], done["done_by"], done["outcome_note"]) == ("done", "agent1001", "ok")
    # The queue's other agent was offered the task and told it was taken, then done; the agent
    # of another queue heard nothing of it.
    q1 = [m for m in seen["agent1002"] if m["type"] in ("task", "task_status")]
    assert [(m["type"], m.get("status")) for m in q1] == [
        ("task", None),
        ("task_status", "taken"),
        ("task_status", "done"),
    ]
    assert q1[0]["task"]["id"] == task["id"] and q1[1]["by"] == "agent1001"
    assert [m["type"] for m in seen["agent1003"]] == ["snapshot"]
