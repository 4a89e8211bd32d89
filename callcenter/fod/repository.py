"""The catalogue, fax jobs with their attempts, and received faxes, in SQL.

A job changes only through :meth:`SqlFaxRepository.move`: the row is updated only if it is
still as it was read (status and attempts), so two writers can never both move one job (a
second engine, a retry racing a cancel); the loser sees False and reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from callcenter.fod.catalogue import Access, Document, DocumentNotFound
from callcenter.fod.dialing import RecentJobs
from callcenter.fod.model import (
    Attempt,
    Job,
    JobNotFound,
    JobStatus,
    Mode,
    Transmission,
    documents_of,
    documents_text,
)
from callcenter.storage.db import Database
from callcenter.storage.tables import (
    AGENT_LENGTH,
    CALLER_LENGTH,
    LINKEDID_LENGTH,
    NOTE_LENGTH,
    fax_attempts,
    fax_documents,
    fax_inbox,
    fax_jobs,
)
from callcenter.storage.text import clean_text


@dataclass(frozen=True, slots=True)
class ReceivedFax:
    id: str
    caller: str
    call: str
    status: str  # "received" or "failed"
    pages: int
    remote_station: str
    error: str
    created_at: datetime


class SqlFaxRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- the catalogue -------------------------------------------------------------------------

    async def documents(self) -> list[Document]:
        async with self._db.transaction() as conn:
            rows = (await conn.execute(select(fax_documents).order_by(fax_documents.c.code))).all()
        return [_document(r) for r in rows]

    async def document(self, code: str) -> Document:
        table = fax_documents
        async with self._db.transaction() as conn:
            row = (await conn.execute(select(table).where(table.c.code == code))).first()
        if row is None:
            raise DocumentNotFound(f"no fax document {code[:40]!r}")
        return _document(row)

    async def save_document(self, document: Document) -> None:
        """Insert or replace the document's row."""
        table = fax_documents
        values = {
            "title": clean_text(document.title, 200),
            "access": document.access.value,
            "pin_hash": document.pin_hash,
            "pages": document.pages,
            "sha256": document.sha256,
            "source": document.source,
            "updated_at": document.updated_at,
        }
        async with self._db.transaction() as conn:
            changed = await conn.execute(
                update(table).where(table.c.code == document.code).values(**values)
            )
            if changed.rowcount == 0:
                await conn.execute(
                    table.insert().values(
                        code=document.code, created_at=document.updated_at, **values
                    )
                )

    async def delete_document(self, code: str) -> bool:
        async with self._db.transaction() as conn:
            result = await conn.execute(delete(fax_documents).where(fax_documents.c.code == code))
        return bool(result.rowcount)

    # --- jobs ----------------------------------------------------------------------------------

    async def add_job(self, job: Job) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(fax_jobs.insert().values(id=job.id, **_job_values(job)))

    async def job(self, job_id: str) -> Job:
        async with self._db.transaction() as conn:
            row = (await conn.execute(select(fax_jobs).where(fax_jobs.c.id == job_id))).first()
        if row is None:
            raise JobNotFound(f"no fax job {job_id[:40]!r}")
        return _job(row)

    async def jobs(
        self,
        status: JobStatus | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Job]:
        table = fax_jobs
        query = select(table).order_by(table.c.created_at.desc(), table.c.id).limit(limit)
        if status is not None:
            query = query.where(table.c.status == status.value)
        if since is not None:
            query = query.where(table.c.created_at >= since)
        if until is not None:
            query = query.where(table.c.created_at < until)
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_job(r) for r in rows]

    async def due(self, now: datetime, limit: int) -> list[Job]:
        """Queued jobs to a number whose time has come (a same-call job is its call's)."""
        table = fax_jobs
        query = (
            select(table)
            .where(
                table.c.status == JobStatus.QUEUED.value,
                table.c.mode == Mode.TO_NUMBER.value,
                table.c.next_at <= now,
            )
            .order_by(table.c.next_at, table.c.id)
            .limit(limit)
        )
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_job(r) for r in rows]

    async def next_due(self) -> datetime | None:
        table = fax_jobs
        query = select(func.min(table.c.next_at)).where(
            table.c.status == JobStatus.QUEUED.value, table.c.mode == Mode.TO_NUMBER.value
        )
        async with self._db.transaction() as conn:
            found: datetime | None = await conn.scalar(query)
        return found

    async def move(
        self,
        before: Job,
        after: Job,
        *,
        started: datetime | None = None,
        ended: tuple[datetime, Transmission] | None = None,
    ) -> bool:
        """Store ``after`` if the row is still ``before``; open or close the attempt's row."""
        table = fax_jobs
        async with self._db.transaction() as conn:
            changed = await conn.execute(
                update(table)
                .where(
                    table.c.id == before.id,
                    table.c.status == before.status.value,
                    table.c.attempts == before.attempts,
                )
                .values(**_job_values(after))
            )
            if changed.rowcount != 1:
                return False
            if started is not None:
                await conn.execute(
                    fax_attempts.insert().values(
                        job_id=after.id,
                        number=after.attempts,
                        started_at=started,
                        result="",
                        detail="",
                        pages_sent=0,
                        remote_station="",
                    )
                )
            if ended is not None:
                at, outcome = ended
                await conn.execute(
                    update(fax_attempts)
                    .where(
                        fax_attempts.c.job_id == after.id,
                        fax_attempts.c.number == after.attempts,
                    )
                    .values(
                        ended_at=at,
                        result=outcome.result.value,
                        detail=clean_text(outcome.detail, NOTE_LENGTH),
                        pages_sent=outcome.pages,
                        remote_station=clean_text(outcome.remote_station, AGENT_LENGTH),
                    )
                )
        return True

    async def attempts(self, job_id: str) -> list[Attempt]:
        table = fax_attempts
        query = select(table).where(table.c.job_id == job_id).order_by(table.c.number)
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Attempt(
                job_id=r.job_id,
                number=r.number,
                started_at=r.started_at,
                ended_at=r.ended_at,
                result=r.result,
                detail=r.detail,
                pages_sent=r.pages_sent,
                remote_station=r.remote_station,
            )
            for r in rows
        ]

    async def recent(self, caller: str, number: str, since: datetime) -> RecentJobs:
        """Outbound jobs created since ``since``: by ``caller``, to ``number``, in all."""
        table = fax_jobs
        base = select(func.count()).where(
            table.c.mode == Mode.TO_NUMBER.value, table.c.created_at >= since
        )
        async with self._db.transaction() as conn:
            by_caller = await conn.scalar(base.where(table.c.caller == caller)) if caller else 0
            to_number = await conn.scalar(base.where(table.c.number == number))
            total = await conn.scalar(base)
        return RecentJobs(int(by_caller or 0), int(to_number or 0), int(total or 0))

    # --- received faxes ------------------------------------------------------------------------

    async def add_received(self, fax: ReceivedFax) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                fax_inbox.insert().values(
                    id=fax.id,
                    caller=clean_text(fax.caller, CALLER_LENGTH),
                    call=clean_text(fax.call, LINKEDID_LENGTH),
                    status=fax.status,
                    pages=fax.pages,
                    remote_station=clean_text(fax.remote_station, AGENT_LENGTH),
                    error=clean_text(fax.error, NOTE_LENGTH),
                    created_at=fax.created_at,
                )
            )

    async def received(self, limit: int) -> list[ReceivedFax]:
        table = fax_inbox
        query = select(table).order_by(table.c.created_at.desc(), table.c.id).limit(limit)
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_received(r) for r in rows]

    async def unmailed(self, limit: int) -> list[ReceivedFax]:
        """Received faxes whose e-mail has not gone out yet, oldest first."""
        table = fax_inbox
        query = (
            select(table)
            .where(table.c.emailed_at.is_(None), table.c.status == "received")
            .order_by(table.c.created_at, table.c.id)
            .limit(limit)
        )
        async with self._db.transaction() as conn:
            rows = (await conn.execute(query)).all()
        return [_received(r) for r in rows]

    async def mark_mailed(self, fax_id: str, at: datetime) -> None:
        table = fax_inbox
        async with self._db.transaction() as conn:
            await conn.execute(update(table).where(table.c.id == fax_id).values(emailed_at=at))

    async def received_one(self, fax_id: str) -> ReceivedFax:
        table = fax_inbox
        async with self._db.transaction() as conn:
            row = (await conn.execute(select(table).where(table.c.id == fax_id))).first()
        if row is None:
            raise JobNotFound(f"no received fax {fax_id[:40]!r}")
        return _received(row)


def _document(row: Any) -> Document:
    return Document(
        code=row.code,
        title=row.title,
        access=Access(row.access),
        pin_hash=row.pin_hash,
        pages=row.pages,
        sha256=row.sha256,
        source=row.source,
        updated_at=row.updated_at,
    )


def _job_values(job: Job) -> dict[str, Any]:
    return {
        "mode": job.mode.value,
        "status": job.status.value,
        "documents": documents_text(job.documents),
        "number": clean_text(job.number, CALLER_LENGTH),
        "caller": clean_text(job.caller, CALLER_LENGTH),
        "customer_id": job.customer_id,
        "call": clean_text(job.call, LINKEDID_LENGTH),
        "requested_by": clean_text(job.requested_by, AGENT_LENGTH),
        "pages": job.pages,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "next_at": job.next_at,
        "last_result": job.last_result,
        "last_error": clean_text(job.last_error, NOTE_LENGTH),
        "pages_sent": job.pages_sent,
        "remote_station": clean_text(job.remote_station, AGENT_LENGTH),
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        mode=Mode(row.mode),
        status=JobStatus(row.status),
        documents=documents_of(row.documents),
        number=row.number,
        caller=row.caller,
        customer_id=row.customer_id,
        call=row.call,
        requested_by=row.requested_by,
        pages=row.pages,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        next_at=row.next_at,
        last_result=row.last_result,
        last_error=row.last_error,
        pages_sent=row.pages_sent,
        remote_station=row.remote_station,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _received(row: Any) -> ReceivedFax:
    return ReceivedFax(
        id=row.id,
        caller=row.caller,
        call=row.call,
        status=row.status,
        pages=row.pages,
        remote_station=row.remote_station,
        error=row.error,
        created_at=row.created_at,
    )
