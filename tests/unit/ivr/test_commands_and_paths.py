"""Commands refuse malformed values; the self-service rate is read from paths."""

from __future__ import annotations

import subprocess
import sys

import pytest

from callcenter.calls.model import Outcome
from callcenter.ivr.commands import (
    CollectDigits,
    Enqueue,
    FaxMode,
    FaxOnDemand,
    HttpLookup,
    RequestCallback,
    Say,
    SayKind,
    SetLanguage,
    StoreSurvey,
    Transfer,
    TransferKind,
    Voicemail,
)
from callcenter.ivr.paths import self_served, self_service_rate


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (SayKind.NUMBER, "1234"),
        (SayKind.NUMBER, "-7"),
        (SayKind.DIGITS, "0755*1#"),
        (SayKind.DATE, "2026-11-23"),
        (SayKind.AMOUNT, "128.50"),
    ],
)
def test_sayable(kind: SayKind, value: str) -> None:
    assert Say(kind, value, "zh").value == value


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (SayKind.NUMBER, "12a"),
        (SayKind.NUMBER, ""),
        (SayKind.DIGITS, "12 3"),
        (SayKind.DATE, "23/11/2026"),
        (SayKind.AMOUNT, "NaN"),
        (SayKind.AMOUNT, "lots"),
    ],
)
def test_not_sayable(kind: SayKind, value: str) -> None:
    with pytest.raises(ValueError, match="cannot say"):
        Say(kind, value, "zh")


@pytest.mark.parametrize(
    "build",
    [
        lambda: CollectDigits((), 5, 4, 5.0),
        lambda: CollectDigits((), 1, 4, 5.0, "x"),
        lambda: SetLanguage("zh;en"),
        lambda: HttpLookup("file:///etc/passwd", (), 1),
        lambda: HttpLookup("https://x", (), 60),
        lambda: Enqueue("repair,1", 0),
        lambda: Enqueue("repair", 101),
        lambda: Voicemail("hotline@other"),
        lambda: FaxOnDemand((), FaxMode.SAME_CALL),
        lambda: FaxOnDemand(("101",), FaxMode.TO_NUMBER, "555-1234"),
        lambda: RequestCallback("12&34", "repair"),
        lambda: Transfer(TransferKind.EXTENSION, "8001&SIP/x"),
        lambda: Transfer(TransferKind.OUTSIDE, "1"),
        lambda: StoreSurvey(6),
        lambda: StoreSurvey(0),
    ],
)
def test_malformed_commands_are_refused(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_self_service_rate() -> None:
    calls = [
        (("main_menu", "key:5", "ticket_lookup", "http:ok"), "completed_in_ivr"),
        (("main_menu", "key:1", "repair", "enqueue:repair"), "completed"),
        (("closed", "callback_offer", "callback:requested"), "completed_in_ivr"),
        (("main_menu", "key:9", "voicemail:hotline"), "completed_in_ivr"),
        (("main_menu",), "abandoned"),
        ((), "completed"),  # never reached the IVR: not counted
    ]
    assert self_served(calls[0][0], Outcome.COMPLETED_IN_IVR)
    assert self_service_rate(calls) == pytest.approx(1 / 5)
    assert self_service_rate([]) is None


def test_the_core_imports_no_io() -> None:
    code = (
        "import sys\n"
        "import callcenter.ivr.interpreter, callcenter.ivr.validate, callcenter.ivr.simulate\n"
        "import callcenter.ivr.paths\n"
        "io = {'aiohttp', 'sqlalchemy', 'asyncio', 'panoramisk', 'pydantic', 'socket'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & io))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
