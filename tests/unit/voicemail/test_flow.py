"""The caller's side of leaving a message, driven from scripted results (no Asterisk)."""

from __future__ import annotations

from collections.abc import Sequence

from callcenter.voicemail.flow import (
    GOODBYE,
    HUNG_UP,
    MAX_TAKES,
    SAVED,
    TOO_SHORT,
    Command,
    MessageFlow,
    PlayBack,
    Record,
    Recorded,
    Result,
    Save,
    Say,
    WaitKey,
    message_flow,
)
from callcenter.voicemail.settings import MailboxSettings

BOX = MailboxSettings(greeting="vm-intro", max_seconds=60, silence_seconds=3)
REVIEWED = MailboxSettings(greeting="vm-intro", review=True)


def drive(flow: MessageFlow, results: Sequence[Result]) -> tuple[list[Command], str]:
    """Every command the flow yields, answered in turn from ``results``; and its outcome."""
    commands: list[Command] = []
    answers = iter(results)
    try:
        command = next(flow)
        while True:
            commands.append(command)
            command = flow.send(next(answers))
    except StopIteration as stop:
        return commands, str(stop.value)


def test_a_caller_who_speaks_then_hangs_up_leaves_a_message() -> None:
    commands, outcome = drive(message_flow(BOX), [None, Recorded(9.8, hung_up=True), True])
    assert commands == [Say("vm-intro"), Record(60, 3), Save()]
    assert outcome == "kept"


def test_a_caller_who_presses_pound_hears_it_saved() -> None:
    results = [None, Recorded(4.0, hung_up=False), True, None, None]
    commands, outcome = drive(message_flow(BOX), results)
    assert commands == [Say("vm-intro"), Record(60, 3), Save(), Say(SAVED), Say(GOODBYE)]
    assert outcome == "kept"


def test_nothing_is_kept_from_a_caller_who_hung_up_at_once() -> None:
    commands, outcome = drive(message_flow(BOX), [None, Recorded(0.2, hung_up=True)])
    assert Save() not in commands and outcome == "too_short"
    commands, outcome = drive(message_flow(BOX), [HUNG_UP])
    assert commands == [Say("vm-intro")] and outcome == "abandoned"


def test_too_short_takes_are_recorded_again_up_to_the_limit() -> None:
    short = Recorded(0.3, hung_up=False)
    results: list[Result] = [None]
    for _ in range(MAX_TAKES):
        results += [short, None]
    results.append(None)
    commands, outcome = drive(message_flow(BOX), results)
    assert commands.count(Record(60, 3)) == MAX_TAKES
    assert commands.count(Say(TOO_SHORT)) == MAX_TAKES
    assert Save() not in commands and outcome == "abandoned"


def test_review_two_records_again_one_keeps() -> None:
    take = Recorded(5.0, hung_up=False)
    results: list[Result] = [None, take, "2", take, None, "1", True, None, None]
    commands, outcome = drive(message_flow(REVIEWED), results)
    assert commands[:6] == [
        Say("vm-intro"),
        Record(180, 0),
        PlayBack("12"),
        Record(180, 0),
        PlayBack("12"),
        Say("if-correct-press", "12"),
    ]
    assert commands[6:] == [Save(), Say(SAVED), Say(GOODBYE)]
    assert outcome == "kept"


def test_review_unanswered_or_hung_up_keeps_the_message() -> None:
    take = Recorded(5.0, hung_up=False)
    silent: list[Result] = [None, take, None, None, None, None, None, None, None, True]
    commands, outcome = drive(message_flow(REVIEWED), [*silent, None, None])
    assert WaitKey(5.0) in commands and Save() in commands and outcome == "kept"
    commands, outcome = drive(message_flow(REVIEWED), [None, take, HUNG_UP, True, HUNG_UP])
    assert commands[-2:] == [Save(), Say(SAVED)] and outcome == "kept"
