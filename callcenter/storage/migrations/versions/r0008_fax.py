"""Fax on demand: the document catalogue, jobs and their attempts, received faxes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "fax_documents",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("access", sa.String(16), nullable=False),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_fax_documents")),
    )
    op.create_table(
        "fax_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("documents", sa.Text(), nullable=False),
        sa.Column("number", sa.String(128), nullable=False),
        sa.Column("caller", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("call", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_result", sa.String(32), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("pages_sent", sa.Integer(), nullable=False),
        sa.Column("remote_station", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fax_jobs")),
    )
    op.create_index("ix_fax_jobs_status", "fax_jobs", ["status", "next_at"])
    op.create_index("ix_fax_jobs_created_at", "fax_jobs", ["created_at"])
    op.create_index("ix_fax_jobs_caller", "fax_jobs", ["caller", "created_at"])
    op.create_index("ix_fax_jobs_number", "fax_jobs", ["number", "created_at"])
    op.create_table(
        "fax_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("pages_sent", sa.Integer(), nullable=False),
        sa.Column("remote_station", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fax_attempts")),
        sa.UniqueConstraint("job_id", "number", name="uq_fax_attempts_job_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "fax_inbox",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("caller", sa.String(128), nullable=False),
        sa.Column("call", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("remote_station", sa.String(64), nullable=False),
        sa.Column("error", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fax_inbox")),
    )
    op.create_index("ix_fax_inbox_created_at", "fax_inbox", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_fax_inbox_created_at", table_name="fax_inbox")
    op.drop_table("fax_inbox")
    op.drop_table("fax_attempts")
    for index in ("ix_fax_jobs_number", "ix_fax_jobs_caller", "ix_fax_jobs_created_at"):
        op.drop_index(index, table_name="fax_jobs")
    op.drop_index("ix_fax_jobs_status", table_name="fax_jobs")
    op.drop_table("fax_jobs")
    op.drop_table("fax_documents")
