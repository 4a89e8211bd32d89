"""The database schema as SQLAlchemy Core tables; Alembic migrations create it.

Every timestamp is stored in UTC and comes back timezone-aware on every backend (see
:class:`UtcDateTime`). Constraint and index names follow one naming convention so migrations
can refer to them on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC.

    PostgreSQL keeps it in ``timestamp with time zone``; SQLite has no time zones, so the value
    is stored as naive UTC text and given back its UTC zone when read. Naive datetimes are
    refused: their zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


LINKEDID_LENGTH = 64
CALLER_LENGTH = 128
DIALPLAN_LENGTH = 80
OUTCOME_LENGTH = 32

calls = Table(
    "calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("linkedid", String(LINKEDID_LENGTH), nullable=False, unique=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("caller_num", String(CALLER_LENGTH), nullable=False),
    Column("caller_name", String(CALLER_LENGTH), nullable=False),
    Column("context", String(DIALPLAN_LENGTH), nullable=False),
    Column("exten", String(DIALPLAN_LENGTH), nullable=False),
    Column("outcome", String(OUTCOME_LENGTH), nullable=True),
    Column("hangup_cause", Integer, nullable=True),
    Column("path", Text, nullable=False, server_default="[]"),
    Column(
        "updated_at",
        UtcDateTime,
        nullable=False,
        server_default=func.now(),
        onupdate=func.now(),
    ),
    sqlite_autoincrement=True,
)

# The open calls (resync after an absence reads them all). Partial where the backend has
# partial indexes (PostgreSQL and SQLite do); a plain index elsewhere.
Index(
    "ix_calls_open",
    calls.c.linkedid,
    postgresql_where=calls.c.ended_at.is_(None),
    sqlite_where=calls.c.ended_at.is_(None),
)

AGENT_LENGTH = 64
REASON_LENGTH = 64

# Agents' log-in and pause state, re-applied when the engine restarts. The live state
# (ringing, talking, wrap-up) is rebuilt from Asterisk, not stored.
agent_sessions = Table(
    "agent_sessions",
    metadata,
    Column("agent", String(AGENT_LENGTH), primary_key=True),
    Column("logged_in", Integer, nullable=False, server_default="0"),
    Column("paused", Integer, nullable=False, server_default="0"),
    Column("pause_reason", String(REASON_LENGTH), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

NOTE_LENGTH = 500
KEY_LENGTH = 2 * LINKEDID_LENGTH

# Callers to call back. ``key`` (the call and where the request came from) is unique, so a
# request written twice (a retry after a storage fault) is one task.
callback_tasks = Table(
    "callback_tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(KEY_LENGTH), nullable=False, unique=True),
    Column("number", String(CALLER_LENGTH), nullable=False),
    Column("name", String(CALLER_LENGTH), nullable=False),
    Column("call", String(LINKEDID_LENGTH), nullable=False),
    Column("queue", String(AGENT_LENGTH), nullable=False),
    Column("source", String(AGENT_LENGTH), nullable=False),
    Column("note", String(NOTE_LENGTH), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("status", String(OUTCOME_LENGTH), nullable=False),
    Column("done_at", UtcDateTime, nullable=True),
    Column("done_by", String(AGENT_LENGTH), nullable=False),
    Column("outcome_note", String(NOTE_LENGTH), nullable=False),
    # r0009: who claimed the task and when; when it escalated (unhandled for too long).
    Column("claimed_by", String(AGENT_LENGTH), nullable=True),
    Column("claimed_at", UtcDateTime, nullable=True),
    Column("escalated_at", UtcDateTime, nullable=True),
    sqlite_autoincrement=True,
)
Index("ix_callback_tasks_status", callback_tasks.c.status, callback_tasks.c.id)

ACCOUNT_LENGTH = 32

# Customer records (the part of a CRM the hotline needs); numbers in customer_phones, in
# canonical form (callcenter.customers.model.phone_key), for look-ups by caller ID.
customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(ACCOUNT_LENGTH), nullable=False, unique=True),
    Column("name", String(CALLER_LENGTH), nullable=False),
    Column("tier", String(ACCOUNT_LENGTH), nullable=False),
    Column("address", String(NOTE_LENGTH), nullable=False),
    Column("region", String(CALLER_LENGTH), nullable=False),
    Column("products", Text, nullable=False, server_default="[]"),
    Column("updated_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

customer_phones = Table(
    "customer_phones",
    metadata,
    Column("customer_id", Integer, primary_key=True),
    Column("phone", String(ACCOUNT_LENGTH), primary_key=True),
    Column("position", Integer, nullable=False),
)
Index("ix_customer_phones_phone", customer_phones.c.phone)

contact_history = Table(
    "contact_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", Integer, nullable=False),
    Column("kind", String(OUTCOME_LENGTH), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("ref", String(LINKEDID_LENGTH), nullable=False),
    Column("text", String(NOTE_LENGTH), nullable=False),
    Column("author", String(AGENT_LENGTH), nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_contact_history_customer_id", contact_history.c.customer_id, contact_history.c.at)

# The statistics event log: every record the recorder produced, in order. Live figures and
# reports are computed from it, so they agree, and today's figures survive a restart.
stats_records = Table(
    "stats_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(OUTCOME_LENGTH), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_stats_records_at", stats_records.c.at)

# Voicemail messages (callcenter.voicemail): one row per message whose audio is in the engine's
# store, named by ``id``. Deleting through the API keeps the row with who deleted it (the
# audit); the retention purge removes rows and files for good.
MESSAGE_ID_LENGTH = 32

voicemail_messages = Table(
    "voicemail_messages",
    metadata,
    Column("id", String(MESSAGE_ID_LENGTH), primary_key=True),
    Column("mailbox", String(AGENT_LENGTH), nullable=False),
    Column("caller", String(CALLER_LENGTH), nullable=False),
    Column("caller_name", String(CALLER_LENGTH), nullable=False),
    Column("customer_id", Integer, nullable=True),
    Column("queue", String(AGENT_LENGTH), nullable=False),
    Column("call", String(LINKEDID_LENGTH), nullable=False),
    Column("ivr_path", Text, nullable=False),
    Column("duration", Float, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("heard_at", UtcDateTime, nullable=True),
    Column("heard_by", String(AGENT_LENGTH), nullable=False),
    Column("deleted_at", UtcDateTime, nullable=True),
    Column("deleted_by", String(AGENT_LENGTH), nullable=False),
    Column("transcript", Text, nullable=True),
)
Index(
    "ix_voicemail_messages_mailbox", voicemail_messages.c.mailbox, voicemail_messages.c.created_at
)
Index("ix_voicemail_messages_created_at", voicemail_messages.c.created_at)

# The voicemail outbox: one delivery per message and channel (email, websocket, callback),
# written in the same transaction as the message; the dispatcher moves each to sent once.
voicemail_outbox = Table(
    "voicemail_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(MESSAGE_ID_LENGTH), nullable=False),
    Column("channel", String(OUTCOME_LENGTH), nullable=False),
    Column("status", String(OUTCOME_LENGTH), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", UtcDateTime, nullable=False),
    Column("last_error", String(NOTE_LENGTH), nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    UniqueConstraint("message_id", "channel", name="uq_voicemail_outbox_message_id"),
    sqlite_autoincrement=True,
)
Index("ix_voicemail_outbox_status", voicemail_outbox.c.status, voicemail_outbox.c.next_at)

# Users of the desk and the API (role agent, supervisor or admin; an agent user is one ACD
# agent). ``token_version`` moves on at log-out or a password change: older tokens stop working.
users = Table(
    "users",
    metadata,
    Column("name", String(AGENT_LENGTH), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("agent", String(AGENT_LENGTH), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("token_version", Integer, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Fax on demand (callcenter.fod). The catalogue: one row per document, its PDF in the documents
# folder as <code>.pdf; a PIN is kept as a salted hash.
FAX_CODE_LENGTH = 32
FAX_JOB_ID_LENGTH = 32

fax_documents = Table(
    "fax_documents",
    metadata,
    Column("code", String(FAX_CODE_LENGTH), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("access", String(16), nullable=False),
    Column("pin_hash", String(200), nullable=False),
    Column("pages", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Fax jobs: one row per promise to fax documents (on the call, or to a number), from queued to
# exactly one final state; the dispatcher takes due rows (status, next_at).
fax_jobs = Table(
    "fax_jobs",
    metadata,
    Column("id", String(FAX_JOB_ID_LENGTH), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("documents", Text, nullable=False),
    Column("number", String(CALLER_LENGTH), nullable=False),
    Column("caller", String(CALLER_LENGTH), nullable=False),
    Column("customer_id", Integer, nullable=True),
    Column("call", String(LINKEDID_LENGTH), nullable=False),
    Column("requested_by", String(AGENT_LENGTH), nullable=False),
    Column("pages", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("next_at", UtcDateTime, nullable=False),
    Column("last_result", String(OUTCOME_LENGTH), nullable=False),
    Column("last_error", String(NOTE_LENGTH), nullable=False),
    Column("pages_sent", Integer, nullable=False),
    Column("remote_station", String(AGENT_LENGTH), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
)
Index("ix_fax_jobs_status", fax_jobs.c.status, fax_jobs.c.next_at)
Index("ix_fax_jobs_created_at", fax_jobs.c.created_at)
Index("ix_fax_jobs_caller", fax_jobs.c.caller, fax_jobs.c.created_at)
Index("ix_fax_jobs_number", fax_jobs.c.number, fax_jobs.c.created_at)

# Every attempt of every job, with its result: why a job was retried, and what ended it.
fax_attempts = Table(
    "fax_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(FAX_JOB_ID_LENGTH), nullable=False),
    Column("number", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("result", String(OUTCOME_LENGTH), nullable=False),
    Column("detail", String(NOTE_LENGTH), nullable=False),
    Column("pages_sent", Integer, nullable=False),
    Column("remote_station", String(AGENT_LENGTH), nullable=False),
    UniqueConstraint("job_id", "number", name="uq_fax_attempts_job_id"),
    sqlite_autoincrement=True,
)

# Faxes received on the fax number: the TIFF and a PDF of it in the store, named by ``id``.
fax_inbox = Table(
    "fax_inbox",
    metadata,
    Column("id", String(FAX_JOB_ID_LENGTH), primary_key=True),
    Column("caller", String(CALLER_LENGTH), nullable=False),
    Column("call", String(LINKEDID_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),
    Column("pages", Integer, nullable=False),
    Column("remote_station", String(AGENT_LENGTH), nullable=False),
    Column("error", String(NOTE_LENGTH), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("emailed_at", UtcDateTime, nullable=True),  # its e-mail sent (fax.inbox_email_to)
)
Index("ix_fax_inbox_created_at", fax_inbox.c.created_at)
