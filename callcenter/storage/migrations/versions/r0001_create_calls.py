"""Create the call ledger table.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    calls = op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("caller_num", sa.String(128), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("context", sa.String(80), nullable=False),
        sa.Column("exten", sa.String(80), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False, server_default="[]"),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_calls_linkedid")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_calls_open",
        "calls",
        ["linkedid"],
        postgresql_where=calls.c.ended_at.is_(None),
        sqlite_where=calls.c.ended_at.is_(None),
    )


def downgrade() -> None:
    op.drop_index("ix_calls_open", table_name="calls")
    op.drop_table("calls")
