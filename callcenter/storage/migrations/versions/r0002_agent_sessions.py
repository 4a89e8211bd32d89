"""Agents' log-in and pause state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_sessions",
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("logged_in", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("paused", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pause_reason", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent", name=op.f("pk_agent_sessions")),
    )


def downgrade() -> None:
    op.drop_table("agent_sessions")
