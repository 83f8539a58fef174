"""row versions on every record people change, an item's latest progress, idempotency records

Existing rows start at version 1; an item's latest progress is read from its reports.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED = (
    "department",
    "person",
    "topic",
    "participant",
    "research_task",
    "consultation_session",
    "suggestion",
    "report",
    "rectification_item",
)


def _version(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="1")


def upgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(_version("version"))
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.add_column(_version("row_version"))
    with op.batch_alter_table("rectification_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress_percent", sa.Integer(), nullable=True))
    op.execute(
        sa.text(
            "UPDATE rectification_item SET progress_percent = (SELECT p.percent FROM "
            "progress_update p WHERE p.item_id = rectification_item.id ORDER BY p.id DESC "
            "LIMIT 1)"
        )
    )
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("caller", "key", name="uq_idempotency_caller_key"),
    )
    op.create_index(
        "ix_idempotency_record_expires_at", "idempotency_record", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_record_expires_at", table_name="idempotency_record")
    op.drop_table("idempotency_record")
    with op.batch_alter_table("rectification_item", schema=None) as batch_op:
        batch_op.drop_column("progress_percent")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_column("row_version")
    for table in reversed(VERSIONED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("version")
