"""Carries out an IVR flow's commands over a FastAGI session.

The driver owns the only side effects of a flow: AGI commands to Asterisk and reports to the
call ledger. When the caller hangs up mid-flow the flow is closed and the ledger is left to
close the call from Asterisk's Hangup event, with the outcome ``abandoned`` reported here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from callcenter.asterisk.fastagi import AgiSession, Handler
from callcenter.calls.model import Outcome
from callcenter.errors import AgiHangup
from callcenter.ivr.commands import Finish, Play, RecordStep, Result, WaitDigit
from callcenter.ivr.greeting import Flow

log = logging.getLogger(__name__)

# Set on the channel when the engine has finished with a call: the dialplan falls back when
# AGI() returns without it (the engine's connection ended early).
HANDLED_VARIABLE = "CC_HANDLED"


class CallReports(Protocol):
    def report_outcome(self, linkedid: str, outcome: Outcome) -> None: ...

    def report_path(self, linkedid: str, path: tuple[str, ...]) -> None: ...


async def run_flow(session: AgiSession, flow: Flow, reports: CallReports) -> None:
    linkedid = await session.linkedid()
    path: list[str] = []
    result: Result = None
    try:
        command = next(flow)
        while True:
            match command:
                case Play():
                    result = await session.stream_file(command.prompt, command.digits)
                case WaitDigit():
                    result = await session.wait_for_digit(int(command.timeout * 1000))
                case RecordStep():
                    path.append(command.step)
                    reports.report_path(linkedid, tuple(path))
                    result = None
                case Finish():
                    reports.report_outcome(linkedid, command.outcome)
                    await session.set_variable(HANDLED_VARIABLE, "1")
                    if command.hangup:
                        await session.hangup()
                    return
            command = flow.send(result)
    except StopIteration:
        return
    except AgiHangup:
        log.debug("caller hung up during the flow (linkedid %s)", linkedid)
        reports.report_outcome(linkedid, Outcome.ABANDONED)
    finally:
        flow.close()


def flow_handler(make_flow: Callable[[], Flow], reports: CallReports) -> Handler:
    async def handle(session: AgiSession) -> None:
        await run_flow(session, make_flow(), reports)

    return handle
