"""Callback tasks as work items: who claimed a task and when, and when it escalated.

The columns are nullable so existing rows need no default: a task never claimed has none.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.add_column("callback_tasks", sa.Column("claimed_by", sa.String(64), nullable=True))
    op.add_column(
        "callback_tasks", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "callback_tasks", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("callback_tasks") as batch:
        batch.drop_column("escalated_at")
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
