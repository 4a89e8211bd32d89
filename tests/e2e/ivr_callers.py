"""Callers who walk an IVR menu: keys at set times, and a clock set to a chosen local time.

:func:`menu_caller` writes a SIPp scenario (from tests/sipp/caller_dtmf.xml) whose keys are
sent at the given offsets after the answer, each group as RFC 4733 events of 200 ms; the
caller then waits up to ``wait_ms`` for Asterisk to hang up (or hangs up itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from tests.e2e.harness import Asterisk

TEMPLATE = Path(__file__).parents[1] / "sipp" / "caller_dtmf.xml"
KEYS_BLOCK = """  <!-- Hearing the greeting. -->
  <pause milliseconds="1500"/>

  <!-- The keys: digits, tone length in ms, telephone-event payload type. -->
  <nop>
    <action>
      <exec play_dtmf="[digits],200,101"/>
    </action>
  </nop>
"""


def menu_scenario(
    keys: Sequence[tuple[int, str]], wait_ms: int, directory: Path, number: str = ""
) -> Path:
    """``keys``: (milliseconds after the previous group, digits); ``number``: the caller ID."""
    text = TEMPLATE.read_text()
    if number:
        caller = '"Caller [call_number]" <sip:caller[call_number]@'
        assert caller in text, "caller_dtmf.xml changed: update the menu caller"
        text = text.replace(caller, f'"Caller" <sip:{number}@')
    assert KEYS_BLOCK in text, "caller_dtmf.xml changed: update the menu caller"
    steps = "".join(
        f'  <pause milliseconds="{pause}"/>\n'
        f'  <nop><action><exec play_dtmf="{digits},200,101"/></action></nop>\n'
        for pause, digits in keys
    )
    text = text.replace(KEYS_BLOCK, steps).replace('timeout="20000"', f'timeout="{wait_ms}"')
    path = directory / f"menu_{abs(hash((tuple(keys), wait_ms, number)))}.xml"
    path.write_text(text)
    return path


def menu_caller(
    asterisk: Asterisk,
    keys: Sequence[tuple[int, str]],
    directory: Path,
    *,
    wait_ms: int = 60_000,
    exten: str = "4000",
    number: str = "",
) -> asyncio.Task[tuple[int, str]]:
    scenario = menu_scenario(keys, wait_ms, directory, number)
    extra = ("-key", "digits", "1")  # the template's keyword, unused by the generated steps
    return asyncio.create_task(
        asterisk.sipp(
            "127.0.0.1:5060",
            *("-sf", str(scenario), "-s", exten, "-m", "1", "-i", "127.0.0.1", "-p", "0"),
            *extra,
            "-nostdin",
            timeout=wait_ms / 1000 + 60,
        )
    )


class LocalTimeClock:
    """The system clock moved so that, when made, it reads ``local`` (a wall time in ``tz``):
    business hours can be tested at any hour. Every reading moves on at the real pace."""

    def __init__(self, local: datetime) -> None:
        self._offset = local - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


def shanghai(day: str, clock_time: str) -> datetime:
    """A wall time in Shanghai (UTC+8, no daylight saving) as an aware datetime."""
    return datetime.fromisoformat(f"{day}T{clock_time}").replace(
        tzinfo=timezone(timedelta(hours=8))
    )
