"""The hotline's first flow: greet, take one key, thank, hang up.

It proves the path caller -> Asterisk -> FastAGI -> engine -> ledger; the YAML-scripted IVR
replaces it with full menus.
"""

from __future__ import annotations

from collections.abc import Generator

from callcenter.calls.model import Outcome
from callcenter.ivr.commands import Command, Finish, Play, RecordStep, Result, WaitDigit
from callcenter.settings import HotlineSettings

KEYS = "0123456789*#"

Flow = Generator[Command, Result, None]


def greeting_flow(settings: HotlineSettings) -> Flow:
    yield RecordStep("greeting")
    digit = yield Play(settings.greeting, KEYS)
    if digit is None:
        digit = yield WaitDigit(settings.digit_timeout)
    yield RecordStep(f"key:{digit}" if digit else "key:none")
    yield Play(settings.goodbye)
    yield Finish(Outcome.COMPLETED_IN_IVR)
