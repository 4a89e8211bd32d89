"""What the ACD's end-to-end tests read and do: agents through the API, offers on the agents'
phones (the SIPp UAS log), bridges on the AMI observer, decision traces."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tests.e2e.api import get, post
from tests.e2e.conftest import RunningEngine
from tests.e2e.observer import AmiObserver
from tests.e2e.phones import AgentPhones, PhoneEvent


async def log_in(running: RunningEngine, agents: Sequence[str]) -> None:
    for agent in agents:
        assert (await post(running, f"/api/v1/agents/{agent}/login"))["state"] == "ready"


def invited(phones: AgentPhones) -> list[str]:
    return [e.agent for e in phones.events if e.kind == "invite"]


def bridged_agents(observer: AmiObserver) -> set[str]:
    """Agents whose leg entered a bridge (agent legs are named PJSIP/agentNNNN-...)."""
    return {
        e["Channel"].split("/")[1].split("-")[0]
        for e in observer.matching(Event="BridgeEnter")
        if e.get("Channel", "").startswith("PJSIP/agent")
    }


async def agent_state(
    running: RunningEngine, agent: str, state: str, timeout: float = 5
) -> dict[str, Any]:
    """The agent as the API shows it once it is in ``state`` (fails at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = await get(running, f"/api/v1/agents/{agent}")
        if view["state"] == state:
            return view
        assert time.monotonic() < deadline, f"{agent} is {view['state']}, not {state}"
        await asyncio.sleep(0.05)


async def waiting_calls(
    running: RunningEngine, queue: str, count: int, timeout: float = 10
) -> list[dict[str, Any]]:
    """The queue's waiting callers once there are ``count`` of them (fails at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        waiting: list[dict[str, Any]] = (await get(running, f"/api/v1/queues/{queue}"))["waiting"]
        if len(waiting) == count:
            return waiting
        assert time.monotonic() < deadline, f"{queue} has {len(waiting)} waiting, not {count}"
        await asyncio.sleep(0.05)


async def decisions(running: RunningEngine, call: str) -> list[dict[str, Any]]:
    trace: list[dict[str, Any]] = (await get(running, f"/api/v1/calls/{call}/trace"))["decisions"]
    return trace


def skipped(decision: dict[str, Any]) -> dict[str, str | None]:
    """agent -> why the decision skipped it (None: chosen)."""
    return {c["agent"]: c["skipped"] for c in decision["considered"]}


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def quiet(phones: AgentPhones, seconds: float) -> list[str]:
    """Wait ``seconds`` and return the agents invited meanwhile (a window with no offer)."""
    before = len(phones.events)
    await asyncio.sleep(seconds)
    return [e.agent for e in phones.events[before:] if e.kind == "invite"]


async def nth(
    phones: AgentPhones, kind: str, agent: str, n: int, timeout: float = 10
) -> PhoneEvent:
    """The ``n``-th (1-based) phone event of ``kind`` for ``agent``, once it happened."""
    async with asyncio.timeout(timeout):
        while len(phones.seen(kind, agent)) < n:
            phones.changed.clear()
            await phones.changed.wait()
    return phones.seen(kind, agent)[n - 1]
