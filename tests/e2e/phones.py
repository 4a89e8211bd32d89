"""Agent phones (one SIPp UAS for all) and callers (SIPp UACs) for the ACD's e2e tests."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.harness import SCRIPT, Asterisk
from tests.e2e.observer import AmiObserver

Event = dict[str, Any]

PHONE_LINE = re.compile(
    r"(invite|answer|cancel|bye-sent|bye-received) (\d+)(?:\.\d*)? (\d+)(?:\.\d*)? (\S+) (\S+)"
)


# --- the agents' phones -------------------------------------------------------------------


@dataclass(frozen=True)
class PhoneEvent:
    kind: str  # invite, answer, cancel, bye-sent, bye-received
    at: float  # wall clock, seconds since the epoch
    agent: str
    call_id: str


@dataclass
class AgentPhones:
    events: list[PhoneEvent] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    partial: str = ""

    def feed(self, text: str) -> None:
        """Output as it comes; only complete lines are read (a read may end mid-line)."""
        self.output.append(text)
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            for kind, sec, usec, agent, call_id in PHONE_LINE.findall(line):
                self.events.append(PhoneEvent(kind, int(sec) + int(usec) / 1e6, agent, call_id))
        self.changed.set()

    def seen(self, kind: str, agent: str) -> list[PhoneEvent]:
        return [e for e in self.events if e.kind == kind and e.agent == agent]

    async def wait_for(self, kind: str, agent: str, timeout: float = 10) -> PhoneEvent:
        async with asyncio.timeout(timeout):
            while not self.seen(kind, agent):
                self.changed.clear()
                await self.changed.wait()
        return self.seen(kind, agent)[0]


@contextlib.asynccontextmanager
async def agent_phones(
    asterisk: Asterisk, *, answer_ms: int = 0, talk_ms: int = 60_000, never: Sequence[str] = ()
) -> AsyncIterator[AgentPhones]:
    """The UAS on port 5070; its log lines (-log_file /dev/stderr) are read as they come."""
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        "sipp",
        *("-sf", "agent_uas.xml", "-p", "5070", "-i", "127.0.0.1", "-m", "100000", "-nostdin"),
        *("-key", "answer_ms", str(answer_ms), "-key", "talk_ms", str(talk_ms)),
        *("-key", "noanswer", "," + ",".join(never) + ","),
        *("-trace_logs", "-log_file", "/dev/stderr"),
        env=asterisk.env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    phones = AgentPhones()

    async def read() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            phones.feed(chunk.decode(errors="replace"))

    reader = asyncio.create_task(read())
    try:
        await asyncio.sleep(0.5)
        if process.returncode is not None:
            await reader
            pytest.fail(f"the agents' UAS did not start:\n{''.join(phones.output)[-2000:]}")
        yield phones
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
        await reader


# --- callers ------------------------------------------------------------------------------


def call_in(
    asterisk: Asterisk, *, exten: str = "4100", hold_ms: int = 10_000, keys: str = ""
) -> asyncio.Task[tuple[int, str]]:
    """A caller in the background: caller_hold.xml, or caller_dtmf.xml pressing ``keys``."""
    scenario = ("caller_dtmf.xml", "-key", "digits", keys) if keys else ("caller_hold.xml",)
    return asyncio.create_task(
        asterisk.sipp(
            "127.0.0.1:5060",
            *("-sf", *scenario, "-s", exten, "-m", "1", "-i", "127.0.0.1", "-p", "0"),
            *("-nostdin", "-d", str(hold_ms)),
            timeout=60,
        )
    )


def step(context: str, application: str, channel: str | None = None) -> Callable[[Event], bool]:
    def matches(event: Event) -> bool:
        return (
            event.get("Event") == "Newexten"
            and event.get("Context") == context
            and event.get("Application") == application
            and (channel is None or event.get("Channel") == channel)
        )

    return matches


async def waiting_caller(observer: AmiObserver) -> tuple[str, str]:
    """(call id, channel) of the caller once it hears music in cc-queue-wait."""
    event = await observer.wait_for(step("cc-queue-wait", "BridgeWait"), 15)
    return event["Linkedid"], event["Channel"]


async def all_finished(*callers: asyncio.Task[tuple[int, str]]) -> None:
    """Wait for SIPp callers; each must have ended its scenario without an error."""
    for caller in callers:
        code, output = await caller
        assert code == 0, output[-2000:]
