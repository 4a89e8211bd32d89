"""Customers, their phone numbers and contact history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("address", sa.String(500), nullable=False),
        sa.Column("region", sa.String(128), nullable=False),
        sa.Column("products", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("account", name=op.f("uq_customers_account")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "customer_phones",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "phone", name=op.f("pk_customer_phones")),
    )
    op.create_index("ix_customer_phones_phone", "customer_phones", ["phone"])
    op.create_table(
        "contact_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_history")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_contact_history_customer_id", "contact_history", ["customer_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_contact_history_customer_id", table_name="contact_history")
    op.drop_table("contact_history")
    op.drop_index("ix_customer_phones_phone", table_name="customer_phones")
    op.drop_table("customer_phones")
    op.drop_table("customers")
