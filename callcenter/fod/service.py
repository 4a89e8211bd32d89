"""Fax on demand as use cases: the catalogue, jobs (asked for, sent, retried, reported) and
received faxes. The dispatcher and the routes (:mod:`callcenter.fod.routes`) run beside it.

Asking for a fax (:meth:`FaxService.request`) checks, in this order: the documents exist and
the requester may have them (:mod:`callcenter.fod.catalogue`), the number is allowed and the
limits leave room (:mod:`callcenter.fod.dialing`); only then is the job committed, ``queued``
and due at once or at the time asked for. The dispatcher (:meth:`FaxService.run`) takes due
jobs, at most ``limits.concurrent`` at a time: it makes the job's image (cover and
documents), counts an attempt, calls out (:class:`~callcenter.fod.dialer.AmiFaxDialer`) and
applies the result through the state table of :mod:`callcenter.fod.model`. It wakes when a
job is committed, when the next one is due, and at least every ``poll_interval``.

At start-up a job left ``sending`` by a stopped engine gets its attempt closed as ``lost``:
retried if it has attempts left (a same-call job's caller is gone: failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from callcenter.clock import Clock
from callcenter.errors import CallcenterError, ConfigError, ConfigProblem, StorageUnavailable
from callcenter.fod.catalogue import (
    Access,
    Document,
    DocumentNotFound,
    InvalidDocument,
    Requester,
    check_access,
    check_code,
    clean_title,
    hash_pin,
)
from callcenter.fod.cover import Cover, CoverDocument
from callcenter.fod.dialing import (
    DestinationRefused,
    RateLimited,
    destination_refusal,
    rate_refusal,
)
from callcenter.fod.images import FaxImages
from callcenter.fod.mail import InboxMailer
from callcenter.fod.model import (
    Attempt,
    AttemptResult,
    Job,
    JobNotFound,
    JobStatus,
    Mode,
    RetryPolicy,
    Transmission,
    after_attempt,
    cancel,
    refuse,
    start,
)
from callcenter.fod.report import DocumentFigures, document_figures
from callcenter.fod.repository import ReceivedFax, SqlFaxRepository
from callcenter.fod.settings import FaxSettings
from callcenter.voicemail.delivery import Refused, TryLater
from callcenter.yamlsource import YamlSourceError, load_yaml

log = logging.getLogger(__name__)

CATALOGUE_FILE = "catalogue.yaml"
MAX_PDF_BYTES = 20 * 1024 * 1024
REPORT_JOBS = 100_000


class Dialer(Protocol):
    async def send(self, job_id: str, attempt: int, number: str, file: str) -> Transmission: ...


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str
    access: Access = Access.PUBLIC


class FaxService:
    def __init__(
        self,
        repository: SqlFaxRepository,
        images: FaxImages,
        settings: FaxSettings,
        clock: Clock,
        dialer: Dialer | None,
    ) -> None:
        self._repository = repository
        self._images = images
        self._settings = settings
        self._clock = clock
        self._dialer = dialer
        self._folder = Path(settings.documents)
        self._policy = RetryPolicy(settings.retry_min, settings.retry_max)
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[Job | ReceivedFax], None]] = []
        self._mailer: InboxMailer | None = None
        self._mail_wake = asyncio.Event()

    def mail_received_to(self, mailer: InboxMailer) -> None:
        """Received faxes are e-mailed (``mail_forever`` must run)."""
        self._mailer = mailer

    async def mail_forever(self) -> None:
        """E-mail each received fax once: retried with backoff while the mail server or the
        database is down; faxes left unmailed by a stop go out after the next start."""
        delay = self._settings.inbox_retry_min
        while True:
            self._mail_wake.clear()
            wait: float | None = None
            try:
                await self._mail_pending()
                delay = self._settings.inbox_retry_min
            except (TryLater, StorageUnavailable) as exc:
                log.warning(
                    "fax: received faxes not e-mailed yet (%s); retry in %.0f s", exc, delay
                )
                wait, delay = delay, min(delay * 2, self._settings.inbox_retry_max)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._mail_wake.wait(), wait)

    async def _mail_pending(self) -> None:
        if self._mailer is None:
            return
        for fax in await self._repository.unmailed(50):
            try:
                await self._mailer.send(fax)
            except Refused as exc:
                log.error("fax: e-mail of received fax %s refused for good: %s", fax.id, exc)
            await self._repository.mark_mailed(fax.id, self._clock.now())

    def on_event(self, listener: Callable[[Job | ReceivedFax], None]) -> None:
        """``listener`` gets each job once it is final, and each received fax (contact
        history, desk notices); it must not block, and its faults are logged."""
        self._listeners.append(listener)

    def _tell(self, event: Job | ReceivedFax) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("fax: a listener failed")

    @property
    def settings(self) -> FaxSettings:
        return self._settings

    @property
    def images(self) -> FaxImages:
        return self._images

    def now(self) -> datetime:
        return self._clock.now()

    # --- the catalogue -------------------------------------------------------------------------

    async def sync_folder(self) -> list[str]:
        """Bring the folder's documents (``<code>.pdf``, titles and access in catalogue.yaml)
        into the catalogue; documents added through the API are left alone. The codes kept."""
        entries = await asyncio.to_thread(self._read_catalogue_file)
        pdfs = await asyncio.to_thread(lambda: sorted(self._folder.glob("*.pdf")))
        known = {d.code: d for d in await self._repository.documents()}
        kept = []
        for pdf in pdfs:
            code = pdf.stem
            try:
                check_code(code)
            except DocumentNotFound:
                log.warning("fax: %s: a document code is letters, digits, '_', '-'", pdf.name)
                continue
            entry = entries.get(code, _Entry(title=code))
            current = known.get(code)
            if current is not None and current.source != "folder":
                continue
            try:
                await self._store_document(
                    code, entry.title, entry.access, current.pin_hash if current else "", "folder"
                )
                kept.append(code)
            except CallcenterError as exc:
                log.error("fax: document %s not in the catalogue: %s", code, exc)
        for code, document in known.items():
            if document.source == "folder" and code not in {p.stem for p in pdfs}:
                await self._repository.delete_document(code)
                log.info("fax: document %s left the folder", code)
        return kept

    def _read_catalogue_file(self) -> dict[str, _Entry]:
        path = self._folder / CATALOGUE_FILE
        if not path.is_file():
            return {}
        try:
            document = load_yaml(path.read_bytes())
        except YamlSourceError as exc:
            problem = ConfigProblem("(yaml)", str(exc), exc.line, exc.column)
            raise ConfigError(str(path), [problem]) from None
        data = document.data.get("documents", {}) if isinstance(document.data, dict) else None
        if not isinstance(data, dict):
            raise ConfigError(str(path), [ConfigProblem("documents", "a mapping of codes")])
        entries, problems = {}, []
        for code, raw in data.items():
            try:
                entries[str(check_code(str(code)))] = _Entry.model_validate(raw)
            except (ValidationError, DocumentNotFound) as exc:
                line, column = document.position(("documents", code)) or (None, None)
                problems.append(ConfigProblem(f"documents.{code}", str(exc)[:200], line, column))
        if problems:
            raise ConfigError(str(path), problems)
        return entries

    async def _store_document(
        self, code: str, title: str, access: Access, pin_hash: str, source: str
    ) -> Document:
        pdf = self.pdf_path(code)
        sha256 = await asyncio.to_thread(_sha256, pdf)
        _, pages = await self._images.document_image(code, pdf, sha256)
        document = Document(
            code=code,
            title=clean_title(title),
            access=access,
            pin_hash=pin_hash,
            pages=pages,
            sha256=sha256,
            source=source,
            updated_at=self._clock.now(),
        )
        await self._repository.save_document(document)
        return document

    def pdf_path(self, code: str) -> Path:
        return self._folder / f"{check_code(code)}.pdf"

    async def documents(self) -> list[Document]:
        return await self._repository.documents()

    async def document(self, code: str) -> Document:
        return await self._repository.document(check_code(code))

    async def add_document(
        self, code: str, title: str, access: Access, pin: str, pdf: bytes
    ) -> Document:
        """A new document (or a new version of one) from the API: its PDF goes into the
        folder, its image is made now (a PDF Ghostscript cannot read is refused)."""
        check_code(code)
        if not pdf.startswith(b"%PDF-") or len(pdf) > MAX_PDF_BYTES:
            raise InvalidDocument("the document must be a PDF of at most 20 MB")
        pin_hash = hash_pin(pin) if pin else ""
        target = self.pdf_path(code)
        previous = await asyncio.to_thread(_read_or_none, target)
        await asyncio.to_thread(_write_atomically, target, pdf)
        try:
            document = await self._store_document(code, title, access, pin_hash, "api")
        except CallcenterError:
            await asyncio.to_thread(_restore, target, previous)
            raise
        log.info("fax: document %s (%s) saved, %d pages", code, access.value, document.pages)
        return document

    async def change_document(
        self, code: str, title: str | None, access: Access | None, pin: str | None
    ) -> Document:
        current = await self.document(code)
        changed = replace(
            current,
            title=clean_title(title) if title is not None else current.title,
            access=access or current.access,
            pin_hash=(hash_pin(pin) if pin else "") if pin is not None else current.pin_hash,
            updated_at=self._clock.now(),
        )
        await self._repository.save_document(changed)
        return changed

    async def delete_document(self, code: str) -> None:
        await self.document(code)
        await self._repository.delete_document(code)
        await asyncio.to_thread(self.pdf_path(code).unlink, missing_ok=True)
        log.info("fax: document %s deleted", code)

    async def allowed_documents(
        self, codes: tuple[str, ...], requester: Requester
    ) -> list[Document]:
        """The documents, each checked for access; AccessDenied or DocumentNotFound."""
        if not codes or len(codes) > self._settings.max_documents:
            raise InvalidDocument(f"1 to {self._settings.max_documents} documents per fax")
        documents = [await self.document(code) for code in codes]
        check_access(documents, requester)
        return documents

    # --- asking for faxes ----------------------------------------------------------------------

    async def request(
        self,
        codes: tuple[str, ...],
        number: str,
        requester: Requester,
        *,
        caller: str = "",
        customer_id: int | None = None,
        call: str = "",
        requested_by: str = "api",
        at: datetime | None = None,
    ) -> Job:
        """Queue a fax of ``codes`` to ``number`` (now, or at ``at``)."""
        await self.allowed_documents(codes, requester)
        reason = destination_refusal(number, self._settings.destinations)
        if reason is not None:
            raise DestinationRefused(reason)
        now = self._clock.now()
        limits = self._settings.limits
        recent = await self._repository.recent(
            caller, number, now - timedelta(seconds=limits.window)
        )
        reason = rate_refusal(recent, caller, limits)
        if reason is not None:
            raise RateLimited(reason)
        job = self._new_job(Mode.TO_NUMBER, codes, number, caller, customer_id, call, now)
        job = replace(
            job,
            requested_by=requested_by,
            max_attempts=self._settings.max_attempts,
            next_at=max(at, now) if at is not None else now,
        )
        await self._repository.add_job(job)
        log.info("fax: job %s queued: %s to %s for %r", job.id, ",".join(codes), number, caller)
        self._wake.set()
        return job

    def _new_job(
        self,
        mode: Mode,
        codes: tuple[str, ...],
        number: str,
        caller: str,
        customer_id: int | None,
        call: str,
        now: datetime,
    ) -> Job:
        return Job(
            id=uuid.uuid4().hex,
            mode=mode,
            status=JobStatus.QUEUED,
            documents=codes,
            number=number,
            caller=caller,
            customer_id=customer_id,
            call=call,
            requested_by="ivr" if call else "api",
            pages=0,
            attempts=0,
            max_attempts=1,
            next_at=now,
            last_result="",
            last_error="",
            pages_sent=0,
            remote_station="",
            created_at=now,
            finished_at=None,
        )

    # --- same-call faxes (the routes call these) -----------------------------------------------

    async def open_same_call(
        self,
        documents: list[Document],
        caller: str,
        customer: tuple[int, str] | None,
        call: str,
    ) -> tuple[Job, Job]:
        """A same-call job, committed as ``sending`` with its image made: (queued, sending)."""
        now = self._clock.now()
        codes = tuple(d.code for d in documents)
        customer_id = customer[0] if customer else None
        job = self._new_job(Mode.SAME_CALL, codes, caller, caller, customer_id, call, now)
        await self._repository.add_job(job)
        pages = await self._make_image(job, documents, customer[1] if customer else "")
        queued = replace(job, pages=pages)
        sending = start(queued)
        if not await self._repository.move(job, sending, started=self._clock.now()):
            raise JobNotFound(f"fax job {job.id} changed meanwhile")
        return queued, sending

    async def close_attempt(self, job: Job, outcome: Transmission) -> Job:
        """Apply the result of the running attempt of ``job`` (``sending``)."""
        now = self._clock.now()
        after = after_attempt(job, outcome, now, self._policy)
        if not await self._repository.move(job, after, ended=(now, outcome)):
            raise JobNotFound(f"fax job {job.id} changed meanwhile")
        level = logging.INFO if after.status is not JobStatus.QUEUED else logging.WARNING
        log.log(
            level,
            "fax: job %s attempt %d: %s%s -> %s",
            job.id,
            after.attempts,
            outcome.result.value,
            f" ({outcome.detail})" if outcome.detail else "",
            after.status.value,
        )
        if after.final:
            self._tell(after)
        return after

    async def _make_image(self, job: Job, documents: list[Document], customer: str) -> int:
        parts = []
        for document in documents:
            path, _ = await self._images.document_image(
                document.code, self.pdf_path(document.code), document.sha256
            )
            parts.append(path)
        cover = Cover(
            sender=self._settings.header,
            recipient=job.number,
            customer=customer,
            at=self._clock.now(),
            job=job.id,
            documents=tuple(CoverDocument(d.code, d.title, d.pages) for d in documents),
        )
        _, pages = await self._images.job_image(job.id, cover, parts)
        return pages

    # --- the dispatcher ------------------------------------------------------------------------

    async def run(self) -> None:
        """Recover attempts a stopped engine left open, then send due jobs until cancelled;
        the database being unavailable (at start too) only postpones both."""
        recovered = False
        try:
            while True:
                self._wake.clear()
                try:
                    if not recovered:
                        await self._recover()
                        recovered = True
                    await self.dispatch_due()
                    wait = await self._until_next()
                except StorageUnavailable as exc:
                    log.warning("fax: jobs unavailable (%s); retrying", exc)
                    wait = self._settings.poll_interval
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
        finally:
            for task in self._running:
                task.cancel()

    async def _recover(self) -> None:
        for job in await self._repository.jobs(JobStatus.SENDING, limit=10_000):
            lost = Transmission(AttemptResult.LOST, "the engine stopped during the attempt")
            if job.mode is Mode.SAME_CALL:
                job = replace(job, max_attempts=job.attempts)
            with contextlib.suppress(JobNotFound):
                await self.close_attempt(job, lost)

    async def dispatch_due(self) -> int:
        """Start sending due jobs, as many as the concurrency limit leaves room for."""
        room = self._settings.limits.concurrent - len(self._running)
        if room <= 0 or self._dialer is None:
            return 0
        due = await self._repository.due(self._clock.now(), room)
        for job in due:
            task = asyncio.create_task(self._send(job), name=f"fax-{job.id}")
            self._running.add(task)
            task.add_done_callback(self._sent)
        return len(due)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("fax: a send failed", exc_info=task.exception())

    async def _until_next(self) -> float:
        poll = self._settings.poll_interval
        if len(self._running) >= self._settings.limits.concurrent:
            return poll
        next_at = await self._repository.next_due()
        if next_at is None:
            return poll
        return max(0.0, min(poll, (next_at - self._clock.now()).total_seconds()))

    async def _send(self, job: Job) -> None:
        assert self._dialer is not None
        try:
            documents = [await self.document(code) for code in job.documents]
            reason = destination_refusal(job.number, self._settings.destinations)
            if reason is not None:
                raise DestinationRefused(reason)
            made = await asyncio.to_thread(self._images.job_path(job.id).is_file)
            pages = job.pages if made and job.pages else await self._make_image(job, documents, "")
        except (CallcenterError, OSError) as exc:
            if isinstance(exc, StorageUnavailable):
                return
            refused = refuse(job, str(exc), self._clock.now())
            await self._repository.move(job, refused)
            log.error("fax: job %s refused: %s", job.id, exc)
            return
        sending = start(replace(job, pages=pages))
        if not await self._repository.move(job, sending, started=self._clock.now()):
            return  # taken or cancelled meanwhile
        try:
            file = await asyncio.to_thread(self._images.stage, job.id)
            outcome = await self._dialer.send(job.id, sending.attempts, job.number, file)
        except OSError as exc:
            outcome = Transmission(AttemptResult.ERROR, f"staging the image failed: {exc}")
        finally:
            await asyncio.to_thread(self._images.unstage, job.id)
        await self.close_attempt(sending, outcome)

    # --- reading, cancelling, reports ----------------------------------------------------------

    async def job(self, job_id: str) -> Job:
        return await self._repository.job(_checked(job_id))

    async def jobs(self, status: JobStatus | None, limit: int) -> list[Job]:
        return await self._repository.jobs(status, limit)

    async def attempts(self, job_id: str) -> list[Attempt]:
        return await self._repository.attempts((await self.job(job_id)).id)

    async def cancel(self, job_id: str) -> Job:
        job = await self.job(job_id)
        cancelled = cancel(job, self._clock.now())
        if not await self._repository.move(job, cancelled):
            raise JobNotFound(f"fax job {job_id} changed meanwhile; read it again")
        return cancelled

    async def image(self, job_id: str) -> Path:
        job = await self.job(job_id)
        path = self._images.job_path(job.id)
        if not await asyncio.to_thread(path.is_file):
            raise JobNotFound(f"fax job {job_id} has no image (yet)")
        return path

    async def report(self, since: datetime, until: datetime) -> list[DocumentFigures]:
        jobs = await self._repository.jobs(None, REPORT_JOBS, since, until)
        pages = {d.code: d.pages for d in await self._repository.documents()}
        return document_figures(jobs, pages)

    # --- received faxes ------------------------------------------------------------------------

    async def keep_received(self, fax: ReceivedFax) -> None:
        await self._repository.add_received(fax)
        self._tell(fax)
        self._mail_wake.set()
        log.info(
            "fax: received %s from %r (%s): %d pages, %s",
            fax.id,
            fax.caller,
            fax.remote_station,
            fax.pages,
            fax.status if not fax.error else f"{fax.status}: {fax.error}",
        )

    async def received(self, limit: int) -> list[ReceivedFax]:
        return await self._repository.received(limit)

    async def received_file(self, fax_id: str, kind: str) -> Path:
        fax = await self._repository.received_one(_checked(fax_id))
        path = self._images.inbox_path(fax.id, kind)
        if not await asyncio.to_thread(path.is_file):
            raise JobNotFound(f"received fax {fax_id} has no {kind}")
        return path

    async def received_one(self, fax_id: str) -> ReceivedFax:
        return await self._repository.received_one(_checked(fax_id))


def known_pins(pins: Mapping[str, object]) -> dict[str, str]:
    """PINs from a request body: ``{code: digits}``; anything else is dropped."""
    return {str(k): v for k, v in pins.items() if isinstance(v, str)}


def _checked(job_id: str) -> str:
    if len(job_id) != 32 or not all(c in "0123456789abcdef" for c in job_id):
        raise JobNotFound(f"no fax job {job_id[:40]!r}")
    return job_id


def _sha256(path: Path) -> str:
    if not path.is_file():
        raise DocumentNotFound(f"no PDF {path.name}")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_or_none(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_bytes(data)
    tmp.replace(path)


def _restore(path: Path, previous: bytes | None) -> None:
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        _write_atomically(path, previous)
