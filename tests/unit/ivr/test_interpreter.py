"""The interpreter, node type by node type, driven from scripted results."""

from __future__ import annotations

from datetime import datetime

import pytest

from callcenter.calls.model import Outcome
from callcenter.ivr.commands import (
    KEYS,
    CollectDigits,
    Enqueue,
    FaxMode,
    FaxOnDemand,
    Finish,
    HttpLookup,
    LookupBy,
    LookupCustomer,
    Play,
    RecordStep,
    RequestCallback,
    Say,
    SayKind,
    SetLanguage,
    StoreSurvey,
    Transfer,
    TransferKind,
    Voicemail,
    WaitDigit,
)
from callcenter.ivr.interpreter import run
from tests.unit.ivr.driving import (
    MONDAY_10AM,
    SHANGHAI,
    actions,
    context,
    run_script,
    script_of,
    steps,
)

MENU = """
start: menu
nodes:
  menu:
    type: menu
    prompts: [menu, more]
    choices: {"1": repair, "2": bye}
    timeout: 4
    retries: 1
    invalid_prompts: [invalid]
    timeout_prompts: [silence]
    on_invalid: wrong
    on_timeout: silent
  repair: {type: enqueue, queue: repair, priority: 3, skills: {washers: 2}}
  wrong: {type: hangup, outcome: failed}
  silent: {type: hangup, prompts: [goodbye]}
  bye: {type: hangup}
"""


def test_menu_choice_enqueues_with_the_path() -> None:
    commands = run_script(MENU, ["1"])
    assert commands == [
        RecordStep("menu"),
        Play("callcenter/zh/menu", KEYS),
        Play("callcenter/zh/more", KEYS),
        WaitDigit(4),
        RecordStep("key:1"),
        RecordStep("repair"),
        RecordStep("enqueue:repair"),
        Enqueue(
            "repair",
            3,
            (("washers", 2),),
            "zh",
            (("caller", "13800000000"), ("language", "zh")),
        ),
    ]


def test_a_key_interrupts_the_prompts() -> None:
    flow = run(script_of(MENU), context())
    assert next(flow) == RecordStep("menu")
    assert next(flow) == Play("callcenter/zh/menu", KEYS)
    assert flow.send("2") == RecordStep("key:2")  # no second prompt, no wait
    assert next(flow) == RecordStep("bye")
    assert next(flow) == Finish(Outcome.COMPLETED_IN_IVR)


def test_invalid_key_is_retried_then_sent_on() -> None:
    commands = run_script(MENU, ["7", "8"])
    assert steps(commands) == ["menu", "key:invalid:7", "key:invalid:8", "wrong"]
    assert commands.count(Play("callcenter/zh/invalid")) == 2
    assert commands[-1] == Finish(Outcome.FAILED)


def test_silence_goes_to_the_timeout_destination() -> None:
    commands = run_script(MENU, [None, None])
    assert steps(commands) == ["menu", "key:timeout", "key:timeout", "silent"]
    assert Play("callcenter/zh/silence") in commands
    assert actions(commands)[-2:] == [
        Play("callcenter/zh/goodbye"),
        Finish(Outcome.COMPLETED_IN_IVR),
    ]


def test_invalid_then_silent_ends_at_the_timeout_destination() -> None:
    commands = run_script(MENU, ["9", None])
    assert steps(commands)[-1] == "silent"


ACCOUNT = """
start: ask
nodes:
  ask:
    type: collect
    prompts: [enter]
    into: account
    min_length: 4
    max_length: 6
    pattern: "1[0-9]+"
    terminator: "#"
    timeout: 7
    retries: 2
    invalid_prompts: [invalid]
    next: find
    on_invalid: give_up
  find:
    type: lookup_customer
    by: account
    value: ${account}
    found: tier
    not_found: standard
  tier:
    type: branch
    var: customer.tier
    cases: {vip: vip}
    default: standard
  vip: {type: enqueue, queue: complaints, priority: 10}
  standard: {type: enqueue, queue: complaints}
  give_up: {type: hangup}
"""


def test_collected_digits_are_checked_and_kept_as_values() -> None:
    record = {"id": "C7", "tier": "vip"}
    commands = run_script(ACCOUNT, ["99", "2222", "123456", record])
    assert commands[1] == CollectDigits(("callcenter/zh/enter",), 4, 6, 7, "#")
    assert steps(commands) == [
        "ask",
        "input:invalid",  # too short
        "input:invalid",  # does not match the pattern
        "input:ok",
        "find",
        "customer:found",
        "tier",
        "vip",
        "enqueue:complaints",
    ]
    assert LookupCustomer(LookupBy.ACCOUNT, "123456") in commands
    enqueue = commands[-1]
    assert isinstance(enqueue, Enqueue) and enqueue.priority == 10
    assert ("customer.tier", "vip") in enqueue.attributes
    assert ("account", "123456") in enqueue.attributes
    assert "123456" not in " ".join(steps(commands))  # typed digits stay out of the path


def test_collect_gives_up_after_its_retries() -> None:
    commands = run_script(ACCOUNT, [None, "", "12"])
    assert steps(commands) == ["ask", "input:none", "input:none", "input:invalid", "give_up"]


def test_customer_not_found() -> None:
    commands = run_script(ACCOUNT, ["12345", None])
    assert steps(commands)[-3:] == ["customer:not_found", "standard", "enqueue:complaints"]


TICKET = """
start: look
nodes:
  look:
    type: http
    url: https://tickets.example.com/status
    params: {ticket: "${ticket}", who: "${caller}"}
    timeout: 2
    into: ticket
    next: date
    fallback: sorry
  date: {type: say, kind: date, value: "${ticket.visit}", next: amount}
  amount: {type: say, kind: amount, value: "${ticket.fee}", next: bye}
  sorry: {type: play, prompts: [sorry], next: bye}
  bye: {type: hangup}
"""


def test_http_look_up_and_say() -> None:
    answer = {"visit": "2026-11-25", "fee": "128.50"}
    commands = run_script(TICKET, [answer], variables={"ticket": "T1"})
    assert commands[1] == HttpLookup(
        "https://tickets.example.com/status",
        (("ticket", "T1"), ("who", "13800000000")),
        2,
    )
    assert Say(SayKind.DATE, "2026-11-25", "zh") in commands
    assert Say(SayKind.AMOUNT, "128.50", "zh") in commands


def test_http_failure_takes_the_fallback() -> None:
    commands = run_script(TICKET, [None])
    assert steps(commands) == ["look", "http:failed", "sorry", "bye"]


def test_a_value_that_cannot_be_said_is_skipped() -> None:
    commands = run_script(TICKET, [{"visit": "soon", "fee": "1.5"}])
    assert steps(commands) == ["look", "http:ok", "date", "say:skipped", "amount", "bye"]


HOURS = """
start: hours
business_hours:
  timezone: Asia/Shanghai
  weekly: {mon: ["08:00-12:00", "13:00-20:00"], sun: ["09:00-24:00"]}
  holidays: [2026-10-01]
nodes:
  hours: {type: hours, open: open, closed: closed, holiday: holiday}
  open: {type: hangup}
  closed: {type: hangup}
  holiday: {type: hangup}
"""


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (MONDAY_10AM, "open"),
        (datetime(2026, 11, 23, 12, 30, tzinfo=SHANGHAI), "closed"),  # lunch
        (datetime(2026, 11, 23, 20, 0, tzinfo=SHANGHAI), "closed"),  # the end is excluded
        (datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI), "closed"),  # Tuesday: no hours
        (datetime(2026, 11, 29, 23, 59, tzinfo=SHANGHAI), "open"),  # Sunday until midnight
        (datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI), "holiday"),
        (datetime(2026, 11, 23, 1, 30), "closed"),  # naive: local time
        (datetime.fromisoformat("2026-11-23T02:00:00+00:00"), "open"),  # 10:00 in Shanghai
    ],
)
def test_business_hours(now: datetime, status: str) -> None:
    commands = run_script(HOURS, [], now=now)
    assert steps(commands) == ["hours", f"hours:{status}", status]


LANGUAGE = """
languages: [zh, en]
start: choose
nodes:
  choose:
    type: language
    prompts: [choose]
    choices: {"1": zh, "2": en}
    default: zh
    retries: 1
    next: bye
  bye: {type: hangup, prompts: [goodbye]}
"""


def test_language_prompts_play_in_each_language_and_the_choice_sticks() -> None:
    commands = run_script(LANGUAGE, ["2"])
    assert actions(commands) == [
        Play("callcenter/zh/choose", KEYS),
        Play("callcenter/en/choose", KEYS),
        WaitDigit(5),
        SetLanguage("en"),
        Play("callcenter/en/goodbye"),
        Finish(Outcome.COMPLETED_IN_IVR),
    ]
    assert "language:en" in steps(commands)


def test_language_defaults_when_the_caller_says_nothing() -> None:
    commands = run_script(LANGUAGE, [None, None], language="en")
    assert SetLanguage("zh") in commands and Play("callcenter/zh/goodbye") in commands


SUBFLOWS = """
start: first
nodes:
  first: {type: call, flow: rate, next: bye}
  bye: {type: hangup}
subflows:
  rate:
    start: ask
    nodes:
      ask: {type: survey, prompts: [rate], survey: after_call, retries: 1, next: done}
      done: {type: return}
"""


def test_sub_flow_runs_and_returns() -> None:
    commands = run_script(SUBFLOWS, ["7", "4"])
    assert steps(commands) == [
        "first",
        "rate/ask",
        "survey:invalid",
        "survey:4",
        "rate/done",
        "bye",
    ]
    assert StoreSurvey(4, "after_call") in commands


def test_survey_without_an_answer_stores_nothing() -> None:
    commands = run_script(SUBFLOWS, [None, None])
    assert not any(isinstance(c, StoreSurvey) for c in commands)
    assert steps(commands)[-3:] == ["survey:none", "rate/done", "bye"]


def test_a_spinning_script_is_stopped() -> None:
    spin = """
start: a
nodes:
  a: {type: goto, next: b}
  b: {type: set, var: x, value: "1", next: a}
"""
    commands = run_script(spin, [], max_idle_steps=10)
    assert len(commands) == 12
    assert commands[-2:] == [RecordStep("error:step_limit"), Finish(Outcome.FAILED)]


def test_a_silent_caller_in_a_loop_is_stopped() -> None:
    loop = """
start: menu
nodes:
  menu: {type: menu, prompts: [menu], choices: {"1": bye}, retries: 0, on_invalid: menu}
  bye: {type: hangup}
"""
    commands = run_script(loop, [None] * 3, max_idle_steps=3)
    assert commands[-1] == Finish(Outcome.FAILED)


def test_keys_keep_a_long_call_going() -> None:
    loop = """
start: menu
nodes:
  menu: {type: menu, prompts: [menu], choices: {"1": menu, "2": bye}, on_invalid: bye}
  bye: {type: hangup}
"""
    commands = run_script(loop, ["1"] * 5 + ["2"], max_idle_steps=2)
    assert commands[-1] == Finish(Outcome.COMPLETED_IN_IVR)


def test_deep_sub_flow_recursion_is_stopped() -> None:
    deep = """
start: go
nodes:
  go: {type: call, flow: again, next: bye}
  bye: {type: hangup}
subflows:
  again:
    start: more
    nodes:
      more: {type: call, flow: again, next: back}
      back: {type: return}
"""
    commands = run_script(deep, [])
    assert commands[-2:] == [RecordStep("error:call"), Finish(Outcome.FAILED)]


SERVICES = """
start: menu
nodes:
  menu:
    type: menu
    prompts: [menu]
    choices: {"1": ext, "2": outside, "3": docs, "4": message, "5": back, "6": same}
    on_invalid: bye
  ext: {type: transfer, extension: "8001", prompts: [hold]}
  outside: {type: transfer, number: "+861012345678"}
  docs:
    type: collect
    prompts: [codes]
    into: codes
    max_length: 30
    next: number
    on_invalid: bye
  number: {type: collect, prompts: [fax], into: fax, next: send, on_invalid: bye}
  send:
    type: fax
    documents_from: codes
    mode: to_number
    number: ${fax}
    next: bye
    on_failure: failed
  same: {type: fax, documents: ["101"], next: bye}
  failed: {type: play, prompts: [sorry], next: bye}
  message: {type: voicemail, mailbox: hotline, prompts: [beep], next: bye}
  back:
    type: callback
    queue: repair
    number: ${caller}
    reason: busy
    prompts: [thanks]
    next: bye
    on_invalid: message
  bye: {type: hangup}
"""


def test_transfer_to_an_extension() -> None:
    commands = run_script(SERVICES, ["1"])
    assert actions(commands)[-2:] == [
        Play("callcenter/zh/hold"),
        Transfer(TransferKind.EXTENSION, "8001"),
    ]


def test_outside_transfer_is_checked_against_the_allow_list_at_run_time() -> None:
    refused = run_script(SERVICES, ["2"])
    assert steps(refused)[-1] == "transfer:refused" and refused[-1] == Finish(Outcome.FAILED)
    allowed = run_script(SERVICES, ["2"], transfer_numbers=frozenset({"+861012345678"}))
    assert allowed[-1] == Transfer(TransferKind.OUTSIDE, "+861012345678")


def test_fax_codes_typed_by_the_caller() -> None:
    commands = run_script(SERVICES, ["3", "101*102", "075512345678", "queued"])
    assert FaxOnDemand(("101", "102"), FaxMode.TO_NUMBER, "075512345678") in commands
    assert steps(commands)[-2:] == ["fax:sent", "bye"]


def test_fax_failure_branch() -> None:
    commands = run_script(SERVICES, ["3", "101", "075512345678", None])
    assert steps(commands)[-3:] == ["fax:failed", "failed", "bye"]


def test_fax_on_the_same_call() -> None:
    commands = run_script(SERVICES, ["6", "sent"])
    assert FaxOnDemand(("101",), FaxMode.SAME_CALL) in commands


def test_voicemail() -> None:
    commands = run_script(SERVICES, ["4"])
    assert actions(commands)[-3:] == [
        Play("callcenter/zh/beep"),
        Voicemail("hotline"),
        Finish(Outcome.COMPLETED_IN_IVR),
    ]
    assert "voicemail:hotline" in steps(commands)


def test_callback_request() -> None:
    commands = run_script(SERVICES, ["5"])
    assert RequestCallback("13800000000", "repair", "busy") in commands
    assert steps(commands)[-2:] == ["callback:requested", "bye"]


def test_callback_for_an_unusable_number_goes_on_invalid() -> None:
    commands = run_script(SERVICES, ["5"], caller="anonymous")
    assert steps(commands)[-4:] == ["callback:invalid", "message", "voicemail:hotline", "bye"]
    assert not any(isinstance(c, RequestCallback) for c in commands)
