"""Listening to a mailbox by phone, driven from scripted results (no Asterisk)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import SecretStr

from callcenter.voicemail.retrieval import (
    Ask,
    CallBack,
    Command,
    Delete,
    Load,
    Login,
    MarkHeard,
    Play,
    Result,
    RetrievalFlow,
    Say,
    SayNumber,
    Summary,
    _by_number,
    retrieval_flow,
)
from callcenter.voicemail.settings import MailboxSettings

NEW, OLD = Summary("a" * 32, heard=False), Summary("b" * 32, heard=True)


def drive(flow: RetrievalFlow, results: Sequence[Result]) -> tuple[list[Command], str]:
    commands: list[Command] = []
    answers = iter(results)
    try:
        command = next(flow)
        while True:
            commands.append(command)
            command = flow.send(next(answers))
    except StopIteration as stop:
        return commands, str(stop.value)


def test_a_wrong_pin_is_refused_three_times_then_goodbye() -> None:
    results: list[Result] = ["101", "0000", None, None, "101", "1111", None, None, "1", "2", None]
    commands, outcome = drive(retrieval_flow(), [*results, None])
    assert [c for c in commands if isinstance(c, Login)] == [
        Login("101", "0000"),
        Login("101", "1111"),
        Login("1", "2"),
    ]
    assert commands.count(Say("vm-incorrect")) == 2
    assert not any(isinstance(c, Load | Play) for c in commands)
    assert commands[-1] == Say("vm-goodbye") and outcome == "refused"


def test_new_messages_first_then_delete_and_save() -> None:
    results: list[Result] = [
        "101", "4321", "repair",  # login
        (OLD, NEW),  # load: newest first, the new one plays first
        None, None, None,  # you have, 2, messages
        "7", None, None, None,  # the new one: 7 during playback, heard, deleted, "deleted"
        None, "9", None,  # the old one: played, "vm-opts" interrupted by 9, "saved"
        None, None,  # no more, goodbye
    ]  # fmt: skip
    commands, outcome = drive(retrieval_flow(), results)
    assert commands[3:7] == [Load("repair"), Say("vm-youhave"), SayNumber(2), Say("vm-messages")]
    assert commands[7:11] == [Play(NEW.id), MarkHeard(NEW.id), Delete(NEW.id), Say("vm-deleted")]
    assert commands[11:14] == [Play(OLD.id), Say("vm-opts", "25679#"), Say("vm-saved")]
    assert MarkHeard(OLD.id) not in commands
    assert commands[-2:] == [Say("vm-nomore"), Say("vm-goodbye")] and outcome == "done"


def test_two_calls_the_caller_back() -> None:
    results: list[Result] = ["101", "4321", "repair", (NEW,), None, None, None, "2", None, True]
    commands, outcome = drive(retrieval_flow(), results)
    assert commands[-1] == CallBack(NEW.id) and outcome == "callback"
    assert Ask("vm-login") == commands[0] and Say("vm-message") in commands


def test_logins_compare_number_and_pin() -> None:
    boxes = {
        "repair": MailboxSettings(number="101", pin=SecretStr("4321")),
        "sales": MailboxSettings(number="102"),  # no PIN: not reachable by phone
    }
    assert _by_number(boxes, "101", "4321") == "repair"
    assert _by_number(boxes, "101", "4322") is None
    assert _by_number(boxes, "102", "") is None
