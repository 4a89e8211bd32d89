"""The phone recording's decisions, driven from lists of results (no Asterisk)."""

from __future__ import annotations

from collections.abc import Sequence

from callcenter.prompts.model import PromptId
from callcenter.prompts.recorder import (
    AskCode,
    Claim,
    Command,
    Keep,
    PlayTake,
    RecordTake,
    Result,
    Say,
    WaitKey,
    recorder_flow,
)

PROMPT = PromptId("en", "welcome")
REVIEW = [
    Say("if-correct-press", "12"),
    Say("digits/1", "12"),
    Say("vm-press", "12"),
    Say("digits/2", "12"),
    Say("to-rerecord-it", "12"),
]


def drive(results: Sequence[Result]) -> tuple[list[Command], str]:
    """Send ``results`` in turn; the commands the flow yielded and how it ended."""
    flow = recorder_flow()
    commands = [next(flow)]
    try:
        for result in results:
            commands.append(flow.send(result))
    except StopIteration as stop:
        return commands, str(stop.value)
    raise AssertionError(f"the flow did not end; last command {commands[-1]}")


def test_code_record_review_keep() -> None:
    commands, outcome = drive(["123456", PROMPT, 4.2, "1", True, None])
    assert commands == [
        AskCode("agent-pass"),
        Claim("123456"),
        RecordTake(),
        PlayTake("12"),
        Keep(PROMPT),
        Say("auth-thankyou"),
    ]
    assert outcome == "kept"


def test_three_wrong_codes_end_the_call_and_malformed_digits_are_not_checked() -> None:
    commands, outcome = drive(["111111", None, "12", "", None])
    assert commands == [
        AskCode("agent-pass"),
        Claim("111111"),
        AskCode("auth-incorrect"),
        AskCode("auth-incorrect"),
        Say("vm-goodbye"),
    ]
    assert outcome == "refused"


def test_record_again_then_keep_after_the_choices() -> None:
    results: list[Result] = ["654321", PROMPT, 3.0, None, None, None, None, None, None, "2"]
    results += [2.5, None, None, None, "1", True, None]
    commands, outcome = drive(results)
    assert commands == [
        AskCode("agent-pass"),
        Claim("654321"),
        RecordTake(),
        PlayTake("12"),
        *REVIEW,
        WaitKey(5.0),
        RecordTake(),
        PlayTake("12"),
        *REVIEW[:3],
        Keep(PROMPT),
        Say("auth-thankyou"),
    ]
    assert outcome == "kept"


def test_a_take_too_short_is_recorded_again_and_a_failed_keep_is_reported() -> None:
    commands, outcome = drive(["000001", PROMPT, 0.1, None, 2.0, "1", False, None])
    assert commands == [
        AskCode("agent-pass"),
        Claim("000001"),
        RecordTake(),
        Say("vm-tooshort"),
        RecordTake(),
        PlayTake("12"),
        Keep(PROMPT),
        Say("beeperr"),
    ]
    assert outcome == "failed"


def test_no_choice_after_three_reviews_discards_the_take() -> None:
    silence: list[Result] = [None] * 6
    wrong_key: list[Result] = [
        None,
        None,
        None,
        None,
        None,
        "7",
    ]  # 7 is no choice: the choices again
    results: list[Result] = ["000002", PROMPT, 2.0, None, *silence, *wrong_key, *silence]
    commands, outcome = drive([*results, None])
    assert commands[-1] == Say("vm-goodbye")
    assert Keep(PROMPT) not in commands
    assert commands.count(WaitKey(5.0)) == 3
    assert outcome == "abandoned"
