"""The screen-pop end to end: a SIPp caller whose number belongs to a customer walks the sample
hotline (English, 2 complaint: looked up by caller ID, VIP served first); the offered agent's
desk websocket gets the pop with that customer, their history and the IVR path before the
agent's SIPp phone answers; the pop's status follows the call."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.acd_helpers import log_in
from tests.e2e.api import closed_calls, request
from tests.e2e.conftest import RunningEngine, engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.e2e.ivr_callers import LocalTimeClock, menu_caller, shanghai
from tests.e2e.phones import agent_phones, all_finished

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_call_left")]

REPO = Path(__file__).resolve().parents[2]
NUMBER = "13800138000"
ACD = {
    "queues": {q: {"ring_timeout": 8} for q in ("repair", "products", "complaints")},
    "agents": {"agent1001": {"queues": {"repair": 1, "complaints": 1}}},
}


async def ok(running: RunningEngine, method: str, path: str, body: dict[str, Any]) -> Any:
    status, answer = await request(running, method, path, body)
    assert status in (200, 201), answer
    return answer


async def agent_token(running: RunningEngine, name: str, agent: str) -> str:
    password = f"{name}-password"
    await ok(
        running,
        "PUT",
        f"/api/v1/users/{name}",
        {"role": "agent", "agent": agent, "password": password},
    )
    status, session = await request(
        running, "POST", "/api/v1/session", {"name": name, "password": password}, token=None
    )
    assert status == 200, session
    return str(session["token"])


async def next_message(ws: aiohttp.ClientWebSocketResponse, kind: str) -> tuple[float, Any]:
    """(arrival time on the wall clock, message) of the next message of ``kind``."""
    async with asyncio.timeout(40):
        while True:
            message = await ws.receive_json()
            if message["type"] == kind:
                return time.time(), message


async def test_the_pop_reaches_the_agents_desk_before_the_phone_answers(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path
) -> None:
    settings = engine_settings(
        asterisk,
        sqlite_url,
        5038,
        acd=ACD,
        ivr={
            "entries": {"hotline": {"script": str(REPO / "ivr" / "hotline.yaml")}},
            "versions": str(tmp_path / "versions"),
        },
    )
    clock = LocalTimeClock(shanghai("2026-11-25", "10:00"))
    async with (
        agent_phones(asterisk, answer_ms=1_500, talk_ms=2_000) as phones,
        running_engine(settings, clock) as engine,
        aiohttp.ClientSession() as client,
    ):
        customer = await ok(
            engine,
            "PUT",
            "/api/v1/customers/by-account/A100200",
            {"name": "王先生", "tier": "vip", "phones": [NUMBER], "address": "上海市 1 号"},
        )
        await ok(engine, "POST", f"/api/v1/customers/{customer['id']}/notes", {"text": "冰箱噪音"})
        token = await agent_token(engine, "li", "agent1001")
        url = engine.base_url.replace("http", "ws") + f"/api/v1/desk/feed?access_token={token}"
        async with client.ws_connect(url) as ws:
            _, snapshot = await next_message(ws, "snapshot")
            assert (snapshot["agent"]["id"], snapshot["pops"]) == ("agent1001", [])
            await log_in(engine, ["agent1001"])
            # English, then 2 (complaint): found by the caller's number, VIP
            caller = menu_caller(
                asterisk, [(1500, "2"), (2500, "2")], tmp_path, wait_ms=30_000, number=NUMBER
            )
            popped_at, message = await next_message(ws, "pop")
            pop = message["pop"]
            await ws.send_json({"type": "ack", "id": pop["id"]})
            answered = await phones.wait_for("answer", "agent1001", timeout=20)
            invited = phones.seen("invite", "agent1001")[0]
            assert popped_at < answered.at, (popped_at, answered.at)
            assert popped_at - invited.at < 1.0  # while the phone rings
            assert pop["customer"]["name"] == "王先生" and pop["customer"]["tier"] == "vip"
            assert pop["customer"]["address"] == "上海市 1 号"
            assert [h["text"] for h in pop["history"]] == ["冰箱噪音"]
            assert pop["caller"]["number"] == NUMBER
            assert pop["queue"] == "complaints" and pop["waited"] >= 0
            path = pop["ivr"]["path"]
            assert path[path.index("main_menu") :] == [
                "main_menu",
                "key:2",
                "complaint",
                "customer:found",
                "complaint_tier",
                "complaint_vip",
                "enqueue:complaints",
            ], path
            assert pop["ivr"]["inputs"]["customer.tier"] == "vip"
            assert pop["ivr"]["language"] == "en"
            _, status = await next_message(ws, "pop_status")
            assert (status["id"], status["status"]) == (pop["id"], "connected")
            _, status = await next_message(ws, "pop_status")
            assert (status["id"], status["status"]) == (pop["id"], "ended")
            await all_finished(caller)
        # the same path is stored with the call in the ledger
        stored = await closed_calls(engine, 1)
        assert [c["path"] for c in stored if c["linkedid"] == pop["call"]] == [path]
        # and the call is in the customer's contact history, after the note
        await engine.engine.call_history.drained()
        status, record = await request(engine, "GET", f"/api/v1/customers/{customer['id']}")
        assert status == 200, record
        calls = [h for h in record["history"] if h["kind"] == "call"]
        assert [c["ref"] for c in calls] == [pop["call"]]
        assert calls[0]["text"].startswith("answered; IVR: ")
