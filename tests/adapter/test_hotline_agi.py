"""The hotline flow over the real FastAGI server, the Asterisk side played by the fake."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from callcenter.asterisk.fastagi import FastAgiServer
from callcenter.calls.model import Outcome
from callcenter.calls.service import CallLedgerService
from callcenter.clock import FixedClock
from callcenter.ivr.agi_driver import flow_handler
from callcenter.ivr.greeting import greeting_flow
from callcenter.settings import FastAgiSettings, HotlineSettings
from callcenter.telephony import ChannelAnswered, ChannelCreated, ChannelHungUp
from tests.fakes.call_repository import MemoryCallRepository
from tests.fakes.fake_agi import FakeAgiClient, Step, asterisk_env, step

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LINKED = "1700000000.1"
HOTLINE = HotlineSettings(greeting="callcenter/en/welcome", goodbye="callcenter/en/goodbye")


async def run_call(
    script: list[Step], hostile_name: str = "Caller"
) -> tuple[list[str], MemoryCallRepository]:
    repo = MemoryCallRepository()
    ledger = CallLedgerService(repo, FixedClock(T0))
    ledger_task = asyncio.create_task(ledger.run())
    ledger.submit(ChannelCreated(LINKED, LINKED, "PJSIP/c", "1", "", "c", "4000", T0))
    ledger.submit(ChannelAnswered(LINKED, LINKED, T0))
    server = FastAgiServer(
        FastAgiSettings(port=0), {"hotline": flow_handler(lambda: greeting_flow(HOTLINE), ledger)}
    )
    await server.start()
    try:
        port = server.bound_port
        assert port is not None
        client = FakeAgiClient(port, script, env=asterisk_env(calleridname=hostile_name))
        received = await client.run()
        ledger.submit(ChannelHungUp(LINKED, LINKED, 16, "", T0))
        await asyncio.wait_for(ledger.drained(), 5)
        return received, repo
    finally:
        await server.stop()
        ledger_task.cancel()


async def test_digit_reaches_the_engine_and_the_ledger_gets_path_and_outcome() -> None:
    received, repo = await run_call(
        [
            step("GET VARIABLE", "200 result=1 (1700000000.1)"),
            step('STREAM FILE "callcenter/en/welcome"', "200 result=49 endpos=8000"),
            step('STREAM FILE "callcenter/en/goodbye"', "200 result=0 endpos=8000"),
            step('SET VARIABLE "CC_HANDLED" "1"', "200 result=1"),
            step("HANGUP", "200 result=1"),
        ]
    )
    assert received[1].startswith('STREAM FILE "callcenter/en/welcome" "0123456789*#"')
    row = repo.rows["1700000000.1"]
    assert row.path == ("greeting", "key:1")
    assert row.outcome == Outcome.COMPLETED_IN_IVR


async def test_caller_hanging_up_mid_greeting_is_clean_and_recorded_as_abandoned() -> None:
    received, repo = await run_call(
        [
            step("GET VARIABLE", "200 result=1 (1700000000.1)"),
            step('STREAM FILE "callcenter/en/welcome"', "200 result=-1 endpos=100"),
            step("NOOP", "HANGUP", "200 result=0"),
        ],
        hostile_name='evil"\\ ${SHELL} & <b>',
    )
    row = repo.rows["1700000000.1"]
    assert row.path == ("greeting",)
    assert row.outcome == Outcome.ABANDONED
    assert received[-1] == "NOOP"  # nothing was sent after the hang-up
