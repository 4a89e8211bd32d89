"""A queue overflowing to a callback request: the caller hears the confirmation, the task is
stored with the caller's number, and an agent closes it through the API."""

from __future__ import annotations

import pytest

from tests.e2e.api import closed_calls, get, post, request
from tests.e2e.conftest import RunningEngine
from tests.e2e.harness import Asterisk
from tests.e2e.observer import observing
from tests.e2e.phones import step

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
