"""Drives an interpreter flow from a list of scripted results: no Asterisk, no event loop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.ivr.commands import (
    CollectDigits,
    Command,
    FaxOnDemand,
    HttpLookup,
    LookupCustomer,
    RecordStep,
    Result,
    WaitDigit,
)
from callcenter.ivr.interpreter import CallContext, Flow, run
from callcenter.ivr.load import load_text
from callcenter.ivr.script import Script

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
ASKS = (WaitDigit, CollectDigits, LookupCustomer, HttpLookup, FaxOnDemand)


def script_of(text: str) -> Script:
    loaded = load_text(text)
    assert loaded.problems == [] and loaded.script is not None, loaded.problems
    return loaded.script


def context(**changes: Any) -> CallContext:
    return replace(CallContext(caller="13800000000", now=MONDAY_10AM), **changes)


def drive(flow: Flow, answers: Sequence[Result]) -> list[Command]:
    """Answer each asking command (keys, digits, look-ups, fax) from ``answers`` in order and
    every other command with None; every answer must be used."""
    pending = list(answers)
    seen: list[Command] = []
    try:
        command = next(flow)
        while True:
            seen.append(command)
            answer = pending.pop(0) if isinstance(command, ASKS) else None
            command = flow.send(answer)
    except StopIteration:
        pass
    assert pending == [], f"answers left over: {pending}"
    return seen


def run_script(text: str, answers: Sequence[Result], **changes: Any) -> list[Command]:
    return drive(run(script_of(text), context(**changes)), answers)


def steps(commands: list[Command]) -> list[str]:
    return [c.step for c in commands if isinstance(c, RecordStep)]


def actions(commands: list[Command]) -> list[Command]:
    return [c for c in commands if not isinstance(c, RecordStep)]
