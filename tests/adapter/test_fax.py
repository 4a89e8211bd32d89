"""Fax on demand against a real database (SQLite and PostgreSQL) with Ghostscript and libtiff,
and a fake dialer in place of Asterisk: the folder catalogue, images made once, jobs sent,
retried and ended once, rate limits, access, recovery after a stop, the report."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from callcenter.clock import SystemClock
from callcenter.errors import StorageUnavailable
from callcenter.fod.catalogue import (
    Access,
    AccessDenied,
    DocumentNotFound,
    InvalidDocument,
    Requester,
)
from callcenter.fod.dialing import DestinationRefused, RateLimited
from callcenter.fod.images import FaxImages
from callcenter.fod.mail import InboxMailer
from callcenter.fod.model import AttemptResult, JobStatus, Transmission, start
from callcenter.fod.repository import ReceivedFax, SqlFaxRepository
from callcenter.fod.service import FaxService
from callcenter.fod.settings import FaxSettings
from callcenter.fod.tiff import page_count
from callcenter.storage.db import Database
from callcenter.voicemail.settings import SmtpSettings
from tests.adapter.voicemail_parts import SmtpServer, free_port

REPO = Path(__file__).resolve().parents[2]
STAFF = Requester({}, staff=True)


class ScriptedDialer:
    """Answers each attempt with the next scripted result; records what it was asked."""

    def __init__(self, results: list[AttemptResult]) -> None:
        self.results = results
        self.calls: list[tuple[str, int, str, str]] = []

    async def send(self, job_id: str, attempt: int, number: str, file: str) -> Transmission:
        self.calls.append((job_id, attempt, number, file))
        result = self.results.pop(0)
        pages = 3 if result is AttemptResult.SENT else 0
        return Transmission(result, "" if pages else "scripted", pages, "FAR" if pages else "")


@pytest.fixture
def settings(tmp_path: Path) -> FaxSettings:
    documents = tmp_path / "documents"
    shutil.copytree(REPO / "fax" / "documents", documents)
    return FaxSettings(
        documents=str(documents),
        store=str(tmp_path / "store"),
        spool=str(tmp_path / "spool"),
        retry_min=0.05,
        retry_max=0.1,
        poll_interval=0.05,
        max_attempts=3,
        limits={"per_caller": 2, "per_destination": 3, "total": 5},  # type: ignore[arg-type]
    )


def service_for(
    database: Database,
    settings: FaxSettings,
    dialer: ScriptedDialer,
    repository: SqlFaxRepository | None = None,
) -> FaxService:
    images = FaxImages(Path(settings.store), Path(settings.spool or ""), "/spool")
    repository = repository or SqlFaxRepository(database)
    return FaxService(repository, images, settings, SystemClock(), dialer)


@pytest.fixture
async def dispatching() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def final(service: FaxService, job_id: str, timeout: float = 20) -> object:
    deadline = time.monotonic() + timeout
    while not (job := await service.job(job_id)).final:
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.05)
    return job


async def test_the_folder_catalogue_with_images_made_once(
    database: Database, settings: FaxSettings
) -> None:
    service = service_for(database, settings, ScriptedDialer([]))
    assert await service.sync_folder() == ["101", "102", "103"]
    documents = {d.code: d for d in await service.documents()}
    assert {c: (d.pages, d.access, d.source) for c, d in documents.items()} == {
        "101": (1, Access.PUBLIC, "folder"),
        "102": (2, Access.PUBLIC, "folder"),
        "103": (1, Access.PIN, "folder"),
    }
    cached = sorted((Path(settings.store) / "cache").glob("*.tif"))
    stamps = [p.stat().st_mtime_ns for p in cached]
    await service.sync_folder()  # nothing changed: nothing converted again
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    assert [page_count(p.read_bytes()) for p in cached] == [1, 2, 1]
    # A PIN set through the API survives a new sync; a PDF removed from the folder leaves.
    await service.change_document("103", None, None, "2468")
    (Path(settings.documents) / "101.pdf").unlink()
    await service.sync_folder()
    assert (await service.document("103")).has_pin
    with pytest.raises(DocumentNotFound):
        await service.document("101")


async def test_a_document_added_through_the_api(database: Database, settings: FaxSettings) -> None:
    service = service_for(database, settings, ScriptedDialer([]))
    pdf = (REPO / "fax/documents/102.pdf").read_bytes()
    document = await service.add_document("dispatch-7", "Dispatch order 7", Access.PIN, "1357", pdf)
    assert (document.pages, document.source, document.has_pin) == (2, "api", True)
    with pytest.raises(InvalidDocument, match="PDF"):
        await service.add_document("bad", "Not a PDF", Access.PUBLIC, "", b"<html>")
    await service.delete_document("dispatch-7")
    assert not service.pdf_path("dispatch-7").exists()


async def test_a_job_is_retried_and_sent_once_with_its_cover(
    database: Database, settings: FaxSettings, dispatching: list[asyncio.Task[None]]
) -> None:
    dialer = ScriptedDialer([AttemptResult.BUSY, AttemptResult.NO_FAX, AttemptResult.SENT])
    service = service_for(database, settings, dialer)
    told: list[object] = []
    service.on_event(told.append)  # the customer's history hears of final jobs only
    await service.sync_folder()
    dispatching.append(asyncio.create_task(service.run()))
    job = await service.request(("101", "102"), "5550100", STAFF, requested_by="agent1001")
    done = await final(service, job.id)
    await asyncio.sleep(0.1)
    assert [(t.id, t.status) for t in told] == [(job.id, JobStatus.SENT)]  # type: ignore[attr-defined]
    attempts = await service.attempts(job.id)
    assert [a.result for a in attempts] == ["busy", "no_fax", "sent"]
    assert (done.status, done.attempts, done.pages, done.pages_sent) == (  # type: ignore[attr-defined]
        JobStatus.SENT,
        3,
        4,
        3,
    )
    assert [c[1] for c in dialer.calls] == [1, 2, 3]
    assert all(c[3] == f"/spool/{job.id}.tif" for c in dialer.calls)
    assert page_count((await service.image(job.id)).read_bytes()) == 4
    assert not list(Path(settings.spool or "").glob("*.tif"))  # unstaged after each attempt


async def test_no_fax_tones_end_in_failed_never_sent(
    database: Database, settings: FaxSettings, dispatching: list[asyncio.Task[None]]
) -> None:
    service = service_for(database, settings, ScriptedDialer([AttemptResult.NO_FAX] * 3))
    await service.sync_folder()
    dispatching.append(asyncio.create_task(service.run()))
    job = await service.request(("101",), "5550101", STAFF)
    done = await final(service, job.id)
    assert (done.status, done.attempts, done.last_result) == (  # type: ignore[attr-defined]
        JobStatus.FAILED,
        3,
        "no_fax",
    )
    await asyncio.sleep(0.3)
    assert (await service.job(job.id)).status is JobStatus.FAILED
    lines = {
        line.code: line
        for line in await service.report(
            datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
        )
    }
    assert (lines["101"].requests, lines["101"].failed, lines["101"].success_rate) == (1, 1, 0.0)


async def test_refusals_access_destination_and_rate_limits(
    database: Database, settings: FaxSettings
) -> None:
    service = service_for(database, settings, ScriptedDialer([]))
    await service.sync_folder()
    await service.change_document("103", None, None, "2468")
    with pytest.raises(AccessDenied):
        await service.request(("103",), "5550100", Requester({}))
    with pytest.raises(AccessDenied):
        await service.request(("103",), "5550100", Requester({"103": "0000"}, staff=True))
    await service.request(("103",), "5550100", Requester({"103": "2468"}))
    with pytest.raises(DestinationRefused):
        await service.request(("101",), "+4412345678", STAFF)
    with pytest.raises(DocumentNotFound):
        await service.request(("999",), "5550100", STAFF)
    await service.request(("101",), "5550111", Requester({}), caller="138")
    await service.request(("101",), "5550112", Requester({}), caller="138")
    with pytest.raises(RateLimited, match="caller"):
        await service.request(("101",), "5550113", Requester({}), caller="138")
    await service.request(("101",), "5550100", STAFF)
    await service.request(("101",), "5550100", STAFF)
    with pytest.raises(RateLimited, match="number"):
        await service.request(("101",), "5550100", STAFF)


async def test_a_scheduled_job_waits_for_its_time(
    database: Database, settings: FaxSettings, dispatching: list[asyncio.Task[None]]
) -> None:
    dialer = ScriptedDialer([AttemptResult.SENT])
    service = service_for(database, settings, dialer)
    await service.sync_folder()
    dispatching.append(asyncio.create_task(service.run()))
    at = datetime.now(UTC) + timedelta(seconds=0.6)
    job = await service.request(("101",), "5550100", STAFF, at=at)
    await asyncio.sleep(0.3)
    assert dialer.calls == []
    await final(service, job.id)
    (attempt,) = await service.attempts(job.id)
    assert attempt.started_at >= at


async def test_an_attempt_left_running_by_a_stop_is_retried(
    database: Database, settings: FaxSettings, dispatching: list[asyncio.Task[None]]
) -> None:
    repository = SqlFaxRepository(database)
    service = service_for(database, settings, ScriptedDialer([AttemptResult.SENT]))
    await service.sync_folder()
    job = await service.request(("101",), "5550100", STAFF, at=datetime.now(UTC) + timedelta(1))
    sending = start(replace(job, pages=2))
    assert await repository.move(job, sending, started=datetime.now(UTC))
    assert not await repository.move(job, sending)  # the row is no longer as read
    dispatching.append(asyncio.create_task(service.run()))
    done = await final(service, job.id)
    assert done.status is JobStatus.SENT  # type: ignore[attr-defined]
    assert [a.result for a in await service.attempts(job.id)] == ["lost", "sent"]


async def test_a_database_down_at_start_postpones_the_recovery_and_the_engine_goes_on(
    database: Database, settings: FaxSettings, dispatching: list[asyncio.Task[None]]
) -> None:
    repository = SqlFaxRepository(database)
    dialer = ScriptedDialer([AttemptResult.SENT])
    service = service_for(database, settings, dialer, repository)
    await service.sync_folder()
    job = await service.request(("101",), "5550100", STAFF, at=datetime.now(UTC) + timedelta(1))
    assert await repository.move(job, start(replace(job, pages=2)), started=datetime.now(UTC))
    real, failures = repository.jobs, 0

    async def down_twice(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise StorageUnavailable("database unavailable: test")
        return await real(*args, **kwargs)

    repository.jobs = down_twice  # type: ignore[method-assign]
    dispatching.append(asyncio.create_task(service.run()))
    done = await final(service, job.id)
    assert failures == 2 and not dispatching[0].done()
    assert done.status is JobStatus.SENT  # type: ignore[attr-defined]


async def test_a_received_fax_is_e_mailed_once_after_the_mail_server_comes_back(
    database: Database, settings: FaxSettings, dispatching: list[asyncio.Task[None]]
) -> None:
    fast = settings.model_copy(update={"inbox_retry_min": 0.05, "inbox_retry_max": 0.1})
    port = free_port()
    smtp = SmtpSettings(host="127.0.0.1", port=port, timeout=2)
    service = service_for(database, fast, ScriptedDialer([]))
    images = service.images
    service.mail_received_to(
        InboxMailer(smtp, ["office@example.com"], lambda i: images.inbox_path(i, "pdf"))
    )
    pdf = images.inbox_path("f" * 32, "pdf")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(b"%PDF-1.4 a received fax\n")
    dispatching.append(asyncio.create_task(service.mail_forever()))
    received = ReceivedFax(
        "f" * 32, "13800138000", "L1", "received", 2, "SENDER 1", "", datetime.now(UTC)
    )
    await service.keep_received(received)  # the mail server is down: retried
    await asyncio.sleep(0.4)
    server = SmtpServer(port)
    await asyncio.to_thread(server.start)
    try:
        deadline = time.monotonic() + 10
        while not server.inbox.mails:
            assert time.monotonic() < deadline, "no mail after the server came back"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # time for a duplicate, if there were one
    finally:
        await asyncio.to_thread(server.stop)
    (mail,) = server.inbox.mails
    assert mail["Subject"] == "Fax received from 13800138000 (2 pages)"
    (attachment,) = [p for p in mail.walk() if p.get_filename()]
    assert attachment.get_payload(decode=True) == pdf.read_bytes()
    assert await SqlFaxRepository(database).unmailed(10) == []  # marked: never again
