"""item level from the follow-up ladder: drop the dispatch's warning marks

The weekly dispatch no longer marks rectification_item.warning_level / warned_at: an item's
level (正常 / 即将到期 / 预警 / 督办) is read from the sent rungs of its item-deadline ladder
in follow_up, which is the only record of escalation state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rectification_item", schema=None) as batch_op:
        batch_op.drop_column("warned_at")
        batch_op.drop_column("warning_level")


def downgrade() -> None:
    with op.batch_alter_table("rectification_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("warning_level", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("warned_at", models.base.UTCDateTime(), nullable=True))
