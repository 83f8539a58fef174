"""a topic's status reason holds a rule's reason with the office's whole justification, and a
report's return reason what the approver may write (PostgreSQL refused the longer ones)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 04:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("topic") as batch:
        batch.alter_column(
            "status_reason", type_=sa.String(length=1200), existing_type=sa.String(length=500)
        )
    with op.batch_alter_table("report") as batch:
        batch.alter_column(
            "return_reason", type_=sa.String(length=1000), existing_type=sa.String(length=500)
        )


def downgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.alter_column(
            "return_reason", type_=sa.String(length=500), existing_type=sa.String(length=1000)
        )
    with op.batch_alter_table("topic") as batch:
        batch.alter_column(
            "status_reason", type_=sa.String(length=500), existing_type=sa.String(length=1200)
        )
