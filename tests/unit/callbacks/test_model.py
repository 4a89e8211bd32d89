"""The callback task's rules without I/O: the status table, who may do what, when a task
escalates, which numbers may be dialled."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.callbacks.dialing import NumberRefused, dialable
from callcenter.callbacks.model import (
    DIAL,
    TRANSITIONS,
    Actor,
    CallbackRequest,
    CallbackTask,
    ClaimedByAnother,
    IllegalTaskTransition,
    NotClaimed,
    NotYourQueue,
    TaskAction,
    TaskStatus,
    check_actor,
    escalation_due,
    next_status,
)
from callcenter.callbacks.settings import CallbacksSettings
from callcenter.errors import Forbidden

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
REQUEST = CallbackRequest("k", "13800138000", "", "", "repair", "voicemail", "", T0)
OPEN = CallbackTask(1, REQUEST, TaskStatus.OPEN, None, "", "")
CLAIMED = replace(OPEN, status=TaskStatus.CLAIMED, claimed_by="agent1001", claimed_at=T0)
ANN = Actor("agent1001", supervisor=False, queues=frozenset({"repair"}))
BOB = Actor("agent1002", supervisor=False, queues=frozenset({"repair"}))
EVE = Actor("agent1003", supervisor=False, queues=frozenset({"sales"}))
SUE = Actor("", supervisor=True)


def test_a_claim_is_exclusive_and_only_open_or_claimed_tasks_move() -> None:
    assert next_status(1, TaskStatus.OPEN, TaskAction.CLAIM) is TaskStatus.CLAIMED
    with pytest.raises(IllegalTaskTransition):
        next_status(1, TaskStatus.CLAIMED, TaskAction.CLAIM)
    closed = {TaskStatus.DONE, TaskStatus.CANCELLED}
    assert not [pair for pair in TRANSITIONS if pair[0] in closed]
    for status in closed:
        for action in TaskAction:
            with pytest.raises(IllegalTaskTransition):
                next_status(1, status, action)


def test_an_agent_acts_on_tasks_of_their_queues_only() -> None:
    check_actor(OPEN, TaskAction.CLAIM, ANN)
    check_actor(OPEN, "read", ANN)
    with pytest.raises(NotYourQueue):
        check_actor(OPEN, TaskAction.CLAIM, EVE)
    with pytest.raises(NotYourQueue):
        check_actor(OPEN, "read", EVE)
    check_actor(OPEN, TaskAction.CLAIM, SUE)


def test_the_claimer_alone_releases_completes_and_dials_a_claimed_task() -> None:
    for action in (TaskAction.RELEASE, TaskAction.COMPLETE, DIAL):
        check_actor(CLAIMED, action, ANN)
        with pytest.raises(ClaimedByAnother):
            check_actor(CLAIMED, action, BOB)
        check_actor(CLAIMED, action, SUE)
    with pytest.raises(NotClaimed):
        check_actor(OPEN, DIAL, ANN)
    with pytest.raises(NotClaimed):
        check_actor(OPEN, DIAL, SUE)  # the call goes to the claimer's phone: there is none


def test_cancelling_needs_a_supervisor() -> None:
    with pytest.raises(Forbidden):
        check_actor(OPEN, TaskAction.CANCEL, ANN)
    check_actor(CLAIMED, TaskAction.CANCEL, SUE)


def test_an_unhandled_task_escalates_once_after_the_set_time() -> None:
    assert escalation_due(OPEN, 600) == T0 + timedelta(seconds=600)
    assert escalation_due(CLAIMED, 600) == T0 + timedelta(seconds=600)
    assert escalation_due(replace(OPEN, escalated_at=T0), 600) is None
    assert escalation_due(replace(OPEN, status=TaskStatus.DONE), 600) is None


RULES = CallbacksSettings(blocked_prefixes=["900"], international_prefix="00")


@pytest.mark.parametrize(
    ("number", "dialled"),
    [("13800138000", "13800138000"), (" 010888 ", "010888"), ("+8613800138000", "008613800138000")],
)
def test_numbers_become_plain_digits(number: str, dialled: str) -> None:
    assert dialable(number, RULES) == dialled


@pytest.mark.parametrize(
    "number",
    [
        "",
        "12",
        "1" * 21,
        "9001234",
        "123&PJSIP/999",
        "123,,D(1)",
        "123\r\nAction: Originate",
        "${SHELL(id)}",
        "*98",
        "1234#",
        "++123",
    ],
)
def test_hostile_or_unwanted_numbers_are_refused(number: str) -> None:
    with pytest.raises(NumberRefused):
        dialable(number, RULES)


def test_allowed_prefixes_and_plus_numbers_without_an_international_prefix() -> None:
    rules = CallbacksSettings(allowed_prefixes=["138"], international_prefix="")
    assert dialable("13800138000", rules) == "13800138000"
    with pytest.raises(NumberRefused):
        dialable("0755123456", rules)
    with pytest.raises(NumberRefused):
        dialable("+13800138000", rules)
