"""third-party evaluations (第三方评估): who the office assigned to score a topic's outcome
against the rubric, his scores, comments and overall score, or why the assignment was withdrawn

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("evaluator_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("overall", sa.Integer(), nullable=True),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("withdraw_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"]),
        sa.ForeignKeyConstraint(["evaluator_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["assigned_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["withdrawn_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evaluation_topic_id", "evaluation", ["topic_id"])
    op.create_index("ix_evaluation_evaluator_id", "evaluation", ["evaluator_id"])
    op.create_index("ix_evaluation_submitted_at", "evaluation", ["submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_evaluation_submitted_at", table_name="evaluation")
    op.drop_index("ix_evaluation_evaluator_id", table_name="evaluation")
    op.drop_index("ix_evaluation_topic_id", table_name="evaluation")
    op.drop_table("evaluation")
