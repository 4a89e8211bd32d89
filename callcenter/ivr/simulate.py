"""Runs a script with no Asterisk, from scripted key presses, and prints what it would do.

Theory of operation. :func:`simulate` drives :func:`callcenter.ivr.interpreter.run` and
answers each command from a :class:`Scenario`: prompts play to the end (never interrupted);
each :class:`~callcenter.ivr.commands.WaitDigit` takes the next entry of ``keys`` and each
:class:`~callcenter.ivr.commands.CollectDigits` takes the next entry whole (``12345678#``:
the terminator is dropped); an empty entry, or no entry left, is silence. Customers are found
in a list of records by ``phone`` or ``account``; an HTTP look-up answers from ``http`` by URL
and fails for any other URL. Every command prints as one line with its answer, every path step
as ``step ...``, and the whole path last, so the output is the same on every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum

from callcenter.ivr.commands import (
    CollectDigits,
    Command,
    FaxOnDemand,
    HttpLookup,
    LookupBy,
    LookupCustomer,
    RecordStep,
    Result,
    WaitDigit,
)
from callcenter.ivr.interpreter import CallContext, run
from callcenter.ivr.script import Script

MAX_COMMANDS = 10_000


@dataclass
class Scenario:
    keys: list[str | None]
    customers: Sequence[Mapping[str, str]] = ()
    http: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    fax_ok: bool = True

    def answer(self, command: Command) -> Result:
        match command:
            case WaitDigit() | CollectDigits():
                entry = self.keys.pop(0) if self.keys else None
                if isinstance(command, CollectDigits) and entry and command.terminator:
                    entry = entry.removesuffix(command.terminator)
                return entry[:1] if isinstance(command, WaitDigit) and entry else entry or None
            case LookupCustomer():
                field_name = "phone" if command.by is LookupBy.CALLER_ID else "account"
                found = [c for c in self.customers if c.get(field_name) == command.value]
                return found[0] if found else None
            case HttpLookup():
                return self.http.get(command.url)
            case FaxOnDemand():
                return "queued" if self.fax_ok else None
            case _:
                return None


def simulate(script: Script, context: CallContext, scenario: Scenario) -> list[str]:
    lines: list[str] = []
    path: list[str] = []
    flow = run(script, context)
    try:
        command = next(flow)
        while len(lines) < MAX_COMMANDS:
            if isinstance(command, RecordStep):
                path.append(command.step)
                lines.append(f"step {command.step}")
                command = flow.send(None)
                continue
            result = scenario.answer(command)
            lines.append(f"{describe(command)} -> {_show(result)}")
            command = flow.send(result)
    except StopIteration:
        pass
    lines.append("path: " + " > ".join(path))
    return lines


def describe(command: Command) -> str:
    """``Play prompt=callcenter/zh/welcome digits=...``: the command's name and fields."""
    parts = [type(command).__name__]
    for f in fields(command):
        parts.append(f"{f.name}={_show(getattr(command, f.name))}")
    return " ".join(parts)


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str):
        return value if value and " " not in value else repr(value)
    if isinstance(value, tuple):
        return "[" + ",".join(_show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_show(v)}" for k, v in sorted(value.items())) + "}"
    return str(value)
