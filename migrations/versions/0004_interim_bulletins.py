"""interim bulletins: their own row beside the final one of a period

A bulletin for a period that has not ended is an interim report (中期), counted to the moment
it was generated (as_of). It gets its own row so it never overwrites or blocks the final one:
the unique key becomes (kind, period_start, interim).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0002 left the unique constraint unnamed: PostgreSQL named it, SQLite did not, so the batch
# (table copy) on SQLite names reflected constraints with this convention to drop it.
OLD_NAMES = {"postgresql": "bulletin_kind_period_start_key"}
CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _old_name() -> str:
    return OLD_NAMES.get(op.get_bind().dialect.name, "uq_bulletin_kind_period_start")


def upgrade() -> None:
    with op.batch_alter_table("bulletin", naming_convention=CONVENTION) as batch_op:
        batch_op.add_column(
            sa.Column("interim", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("as_of", models.base.UTCDateTime(), nullable=True))
        batch_op.drop_constraint(_old_name(), type_="unique")
        batch_op.create_unique_constraint(
            "uq_bulletin_kind_period", ["kind", "period_start", "interim"]
        )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM bulletin WHERE interim"))
    with op.batch_alter_table("bulletin", naming_convention=CONVENTION) as batch_op:
        batch_op.drop_constraint("uq_bulletin_kind_period", type_="unique")
        batch_op.create_unique_constraint(_old_name(), ["kind", "period_start"])
        batch_op.drop_column("as_of")
        batch_op.drop_column("interim")
