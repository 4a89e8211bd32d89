"""Voicemail messages and their outbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "voicemail_messages",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("mailbox", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(128), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("call", sa.String(64), nullable=False),
        sa.Column("ivr_path", sa.Text(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heard_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heard_by", sa.String(64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(64), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voicemail_messages")),
    )
    op.create_index(
        "ix_voicemail_messages_mailbox", "voicemail_messages", ["mailbox", "created_at"]
    )
    op.create_index("ix_voicemail_messages_created_at", "voicemail_messages", ["created_at"])
    op.create_table(
        "voicemail_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voicemail_outbox")),
        sa.UniqueConstraint("message_id", "channel", name="uq_voicemail_outbox_message_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_voicemail_outbox_status", "voicemail_outbox", ["status", "next_at"])


def downgrade() -> None:
    op.drop_index("ix_voicemail_outbox_status", table_name="voicemail_outbox")
    op.drop_table("voicemail_outbox")
    op.drop_index("ix_voicemail_messages_created_at", table_name="voicemail_messages")
    op.drop_index("ix_voicemail_messages_mailbox", table_name="voicemail_messages")
    op.drop_table("voicemail_messages")
