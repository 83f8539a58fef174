"""an item a failed 回头看 reopens names the item it reopens; ratings are found by item (a
solved item needs a confirmed re-check or a satisfied rating of it)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rectification_item") as batch:
        batch.add_column(sa.Column("reopened_from_id", sa.Integer(), nullable=True))
        batch.create_index("ix_rectification_item_reopened_from_id", ["reopened_from_id"])
        batch.create_foreign_key(
            "fk_rectification_item_reopened_from_id",
            "rectification_item",
            ["reopened_from_id"],
            ["id"],
        )
    with op.batch_alter_table("rating") as batch:
        batch.create_index("ix_rating_item_id", ["item_id"])


def downgrade() -> None:
    with op.batch_alter_table("rating") as batch:
        batch.drop_index("ix_rating_item_id")
    with op.batch_alter_table("rectification_item") as batch:
        batch.drop_constraint("fk_rectification_item_reopened_from_id", type_="foreignkey")
        batch.drop_index("ix_rectification_item_reopened_from_id")
        batch.drop_column("reopened_from_id")
