"""the extension ledger (延期台账), evidence files (佐证材料), an item's original deadline and
the reference of its standing rule (长效机制)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("old_deadline", UTCDateTime(), nullable=False),
        sa.Column("requested_deadline", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("direct", sa.Boolean(), nullable=False),
        sa.Column("row_version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["rectification_item.id"]),
        sa.ForeignKeyConstraint(["requested_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_item_extension_item_id", "item_extension", ["item_id"])
    op.create_index("ix_item_extension_decision", "item_extension", ["decision"])
    op.create_index("ix_item_extension_decided_at", "item_extension", ["decided_at"])
    op.create_table(
        "evidence_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("progress_id", sa.Integer(), nullable=True),
        sa.Column("completion", sa.Boolean(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["rectification_item.id"]),
        sa.ForeignKeyConstraint(["progress_id"], ["progress_update.id"]),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evidence_file_item_id", "evidence_file", ["item_id"])
    op.create_index("ix_evidence_file_progress_id", "evidence_file", ["progress_id"])
    op.create_index("ix_evidence_file_sha256", "evidence_file", ["sha256"])
    with op.batch_alter_table("rectification_item") as batch:
        batch.add_column(sa.Column("original_deadline", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("long_term_mechanism_ref", sa.String(length=200), nullable=True))
    # Items transferred before the ledger existed: their current deadline is the best record
    # of the original one there is.
    op.execute(
        "UPDATE rectification_item SET original_deadline = deadline "
        "WHERE transferred_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("rectification_item") as batch:
        batch.drop_column("long_term_mechanism_ref")
        batch.drop_column("original_deadline")
    op.drop_index("ix_evidence_file_sha256", table_name="evidence_file")
    op.drop_index("ix_evidence_file_progress_id", table_name="evidence_file")
    op.drop_index("ix_evidence_file_item_id", table_name="evidence_file")
    op.drop_table("evidence_file")
    op.drop_index("ix_item_extension_decided_at", table_name="item_extension")
    op.drop_index("ix_item_extension_decision", table_name="item_extension")
    op.drop_index("ix_item_extension_item_id", table_name="item_extension")
    op.drop_table("item_extension")
