"""The hotline's first flow, driven from scripted results with no Asterisk."""

from __future__ import annotations

from callcenter.calls.model import Outcome
from callcenter.ivr.commands import Command, Finish, Play, RecordStep, Result, WaitDigit
from callcenter.ivr.greeting import Flow, greeting_flow
from callcenter.settings import HotlineSettings

SETTINGS = HotlineSettings(greeting="g", goodbye="bye", digit_timeout=4)


def drive(flow: Flow, results: list[Result]) -> list[Command]:
    """Run a flow, answering Play/WaitDigit from ``results`` in order and None otherwise."""
    seen: list[Command] = []
    command = next(flow)
    try:
        while True:
            seen.append(command)
            answer = results.pop(0) if isinstance(command, Play | WaitDigit) else None
            command = flow.send(answer)
    except StopIteration:
        return seen


def test_key_pressed_during_greeting() -> None:
    commands = drive(greeting_flow(SETTINGS), ["1", None])
    assert commands == [
        RecordStep("greeting"),
        Play("g", "0123456789*#"),
        RecordStep("key:1"),
        Play("bye"),
        Finish(Outcome.COMPLETED_IN_IVR),
    ]


def test_key_pressed_after_greeting() -> None:
    commands = drive(greeting_flow(SETTINGS), [None, "#", None])
    assert WaitDigit(4) in commands and RecordStep("key:#") in commands


def test_no_key_at_all() -> None:
    commands = drive(greeting_flow(SETTINGS), [None, None, None])
    assert RecordStep("key:none") in commands and commands[-1] == Finish(Outcome.COMPLETED_IN_IVR)
