"""The sample hotline script: valid against the sample configuration, and its main journeys."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from callcenter.calls.model import Outcome
from callcenter.ivr.commands import (
    Command,
    Enqueue,
    FaxMode,
    FaxOnDemand,
    Finish,
    Play,
    Result,
    Say,
    SayKind,
    SetLanguage,
    StoreSurvey,
    Voicemail,
)
from callcenter.ivr.files import catalogue_from_files, read_script
from callcenter.ivr.interpreter import run
from callcenter.ivr.paths import self_served
from callcenter.ivr.script import Script
from callcenter.ivr.validate import Catalogue, validate
from tests.unit.ivr.driving import SHANGHAI, context, drive, steps

ROOT = Path(__file__).parents[3]
HOTLINE = ROOT / "ivr" / "hotline.yaml"
ENTRY = re.compile(r'^\s*"(\w+)\|[\w-]+\|(\w+)\|', re.MULTILINE)
WEEKDAY = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
NIGHT = datetime(2026, 11, 23, 22, 0, tzinfo=SHANGHAI)
NATIONAL_DAY = datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI)


def made_prompts() -> dict[str, frozenset[str]]:
    """The prompts scripts/make-prompts makes: what sounds/ holds once it has run."""
    table = (ROOT / "scripts" / "make-prompts").read_text()
    prompts: dict[str, set[str]] = {}
    for language, name in ENTRY.findall(table):
        prompts.setdefault(language, set()).add(name)
    return {language: frozenset(names) for language, names in prompts.items()}


def hotline() -> Script:
    loaded = read_script(HOTLINE)
    assert loaded.script is not None
    return loaded.script


def journey(answers: list[Result], at: datetime = WEEKDAY) -> list[Command]:
    return drive(run(hotline(), context(now=at)), answers)


def test_hotline_validates_against_the_sample_configuration() -> None:
    from_config = catalogue_from_files(ROOT / "config" / "hotline.yaml", ROOT / "sounds")
    assert from_config.queues == {"repair", "products", "complaints"}
    catalogue = Catalogue(queues=from_config.queues, prompts=made_prompts())
    assert validate(read_script(HOTLINE), catalogue) == []


def test_repair_in_english() -> None:
    commands = journey(["2", "1"])
    assert SetLanguage("en") in commands
    assert commands[-1] == Enqueue(
        "repair", 0, (), "en", (("caller", "13800000000"), ("language", "en"))
    )
    assert steps(commands)[:6] == [
        "language",
        "language:en",
        "hours",
        "hours:open",
        "main_menu",
        "key:1",
    ]


def test_vip_complaint_is_served_first() -> None:
    commands = journey(["1", "2", {"id": "C001", "tier": "vip"}])
    last = commands[-1]
    assert isinstance(last, Enqueue) and (last.queue, last.priority) == ("complaints", 10)
    assert "customer:found" in steps(commands)


def test_unknown_caller_gives_an_account_number() -> None:
    commands = journey(["1", "2", None, "12345678", {"tier": "standard"}])
    last = commands[-1]
    assert isinstance(last, Enqueue) and (last.queue, last.priority) == ("complaints", 0)
    assert ("account", "12345678") in last.attributes


def test_ticket_status_is_self_service() -> None:
    ticket = {"status": "scheduled", "visit_date": "2026-11-25"}
    commands = journey(["1", "5", "20261123", ticket, None, "5"])
    assert Say(SayKind.DATE, "2026-11-25", "zh") in commands
    assert StoreSurvey(5) in commands
    assert commands[-1] == Finish(Outcome.COMPLETED_IN_IVR)
    assert self_served(tuple(steps(commands)), Outcome.COMPLETED_IN_IVR)


def test_ticket_service_down_hands_over_to_an_agent() -> None:
    commands = journey(["1", "5", "20261123", None])
    assert "http:failed" in steps(commands)
    last = commands[-1]
    assert isinstance(last, Enqueue) and last.queue == "repair"


def test_documents_by_fax() -> None:
    commands = journey(["1", "4", "101*205", "2", "075588881234", "queued", "0"])
    assert Say(SayKind.DIGITS, "101*205", "zh") in commands  # the codes read back
    assert FaxOnDemand(("101", "205"), FaxMode.TO_NUMBER, "075588881234") in commands
    assert steps(commands)[-6:] == [
        "fax:sent",
        "fax_queued",
        "anything_else",
        "key:0",
        "operator",
        "enqueue:repair",
    ]
    last = commands[-1]
    assert isinstance(last, Enqueue) and last.priority == 5  # the operator


def test_message() -> None:
    commands = journey(["1", "9"])
    assert Voicemail("hotline") in commands and commands[-1] == Finish(Outcome.COMPLETED_IN_IVR)


def test_no_choice_reaches_the_operator() -> None:
    commands = journey([None] * 5)  # two for the language, three for the menu
    assert steps(commands)[-3:] == ["key:timeout", "operator", "enqueue:repair"]


def test_after_hours_offers_a_callback() -> None:
    commands = journey(["1", "1"], at=NIGHT)
    assert "hours:closed" in steps(commands)
    assert "callback:requested" in steps(commands)
    assert commands[-1] == Finish(Outcome.COMPLETED_IN_IVR)
    assert not self_served(tuple(steps(commands)), Outcome.COMPLETED_IN_IVR)


def test_holiday_message_then_voicemail() -> None:
    commands = journey(["1", "2"], at=NATIONAL_DAY)
    assert steps(commands)[:5] == ["language", "language:zh", "hours", "hours:holiday", "holiday"]
    assert Voicemail("hotline") in commands


def test_documents_by_fax_on_this_call() -> None:
    commands = journey(["2", "4", "101*102", "1", "sent", "0"])
    fax = commands.index(FaxOnDemand(("101", "102"), FaxMode.SAME_CALL, ""))
    before = commands[fax - 1]
    assert isinstance(before, Play) and before.prompt.endswith("/fax_press_start")
    assert steps(commands)[-7:-3] == ["fax_here", "fax:sent", "fax_sent", "anything_else"]
