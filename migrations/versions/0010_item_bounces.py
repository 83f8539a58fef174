"""item bounces (退单) with coded reasons, and the office's arbitration of repeated ones

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_bounce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["rectification_item.id"]),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_item_bounce_item_id", "item_bounce", ["item_id"])
    op.create_index("ix_item_bounce_department_id", "item_bounce", ["department_id"])
    op.create_index("ix_item_bounce_at", "item_bounce", ["at"])
    with op.batch_alter_table("rectification_item") as batch:
        batch.add_column(sa.Column("arbitration_requested_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("arbitrated_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("arbitration_note", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("arbitrated_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_rectification_item_arbitrated_by_id_person",
            "person",
            ["arbitrated_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("rectification_item") as batch:
        batch.drop_constraint("fk_rectification_item_arbitrated_by_id_person", type_="foreignkey")
        batch.drop_column("arbitrated_by_id")
        batch.drop_column("arbitration_note")
        batch.drop_column("arbitrated_at")
        batch.drop_column("arbitration_requested_at")
    op.drop_index("ix_item_bounce_at", table_name="item_bounce")
    op.drop_index("ix_item_bounce_department_id", table_name="item_bounce")
    op.drop_index("ix_item_bounce_item_id", table_name="item_bounce")
    op.drop_table("item_bounce")
