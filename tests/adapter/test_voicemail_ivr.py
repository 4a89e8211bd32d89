"""The IVR's voicemail node hands its call to the engine's recorder (same AGI session), with
the caller's path; a mailbox the engine does not have still goes to Asterisk's VoiceMail()."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.asterisk.fastagi import AgiSession, FastAgiServer
from callcenter.callbacks.model import CallbackRequest
from callcenter.calls.model import Outcome
from callcenter.clock import FixedClock
from callcenter.ivr.agi_driver import IvrServices, run_flow
from callcenter.ivr.commands import Finish, RecordStep, Voicemail
from callcenter.ivr.interpreter import Flow
from callcenter.settings import FastAgiSettings
from callcenter.storage.db import Database
from callcenter.voicemail.recorder import VoicemailRecorder
from tests.adapter.test_voicemail_recorder import Phone, asterisk_records, variables
from tests.adapter.voicemail_parts import T0, build, free_port, voicemail_settings


@dataclass
class Reports:
    outcomes: list[Outcome] = field(default_factory=list)

    def report_outcome(self, linkedid: str, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def report_path(self, linkedid: str, path: tuple[str, ...]) -> None:
        pass


class NoCustomers:
    async def by_phone(self, number: str) -> None:
        return None

    async def by_account(self, account: str) -> None:
        return None


class NoCallbacks:
    def request(self, request: CallbackRequest) -> None:
        raise AssertionError("the IVR asked for no callback")


class NoHttp:
    async def get_json(
        self, url: str, params: Mapping[str, str], seconds: float
    ) -> dict[str, str] | None:
        return None


def leave_message(mailbox: str) -> Flow:
    yield RecordStep("menu")
    yield RecordStep("key:9")
    yield Voicemail(mailbox)
    yield Finish(Outcome.COMPLETED_IN_IVR)


async def call(services: IvrServices, phone: Phone, mailbox: str) -> None:
    async def handle(session: AgiSession) -> None:
        await run_flow(session, leave_message(mailbox), services)

    server = FastAgiServer(FastAgiSettings(port=0), {"voicemail": handle})
    await server.start()
    try:
        assert server.bound_port is not None
        await phone.call(server.bound_port)
    finally:
        await server.stop()


async def test_the_ivr_records_in_the_engine_with_the_callers_path(
    database: Database, tmp_path: Path
) -> None:
    parts = build(database, voicemail_settings(tmp_path, free_port()), tmp_path, FixedClock(T0))
    recorder = VoicemailRecorder(parts.service, NoCustomers(), FixedClock(T0))
    reports = Reports()
    services = IvrServices(
        reports, NoCustomers(), NoCallbacks(), NoHttp(), FixedClock(T0), voicemail=recorder
    )
    phone = Phone(variables("") | {"RECORD FILE": [asterisk_records(tmp_path, 6.0, False)]})
    await call(services, phone, "repair")
    assert not any(c[:2] == ["EXEC", "VoiceMail"] for c in phone.commands)
    (message,) = await parts.service.messages("repair", False, 10, None)
    assert message.new.ivr_path == ("menu", "key:9")
    assert (message.new.duration, message.new.queue) == (6.0, "")
    assert reports.outcomes == [Outcome.COMPLETED_IN_IVR]

    # A mailbox only Asterisk has: its VoiceMail() as before.
    other = Phone(variables(""))
    await call(services, other, "elsewhere")
    assert ["EXEC", "VoiceMail", "elsewhere@callcenter"] in other.commands
