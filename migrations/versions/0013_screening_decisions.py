"""screening decisions (初筛) with their hints and look-alike candidates, the topics' bigram
index for near-duplicates, the supporters a merged duplicate brings, and who replaces a
participant who declined; research tasks required or not, and the research summary the
office accepts before a session (不调研不协商); the minutes of a consultation meeting; an index for what one person owes (我的待办)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime
from models.screening import DESCRIPTION_CHARS, bigrams

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "screening_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("hints", sa.JSON(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("justification", sa.String(length=1000), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"]),
        sa.ForeignKeyConstraint(["merged_into_id"], ["topic.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topic_id"),
    )
    op.create_table(
        "topic_gram",
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("gram", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"]),
        sa.PrimaryKeyConstraint("topic_id", "gram"),
    )
    op.create_index("ix_topic_gram_gram_topic", "topic_gram", ["gram", "topic_id"])
    op.create_table(
        "topic_supporter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("from_topic_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["from_topic_id"], ["topic.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topic_id", "person_id"),
    )
    op.create_index("ix_topic_supporter_topic_id", "topic_supporter", ["topic_id"])
    with op.batch_alter_table("participant") as batch:
        batch.add_column(sa.Column("replaces_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_participant_replaces_id", "participant", ["replaces_id"], ["id"]
        )
    with op.batch_alter_table("research_task") as batch:
        batch.add_column(
            sa.Column("required", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "research_summary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("returned_at", UTCDateTime(), nullable=True),
        sa.Column("review_note", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"]),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topic_id"),
    )
    with op.batch_alter_table("consultation_session") as batch:
        batch.add_column(sa.Column("minutes", sa.Text(), nullable=True))
    op.create_index("ix_follow_up_owed_by", "follow_up", ["owed_by_id", "status", "deadline"])
    # Topics proposed before the index existed join it, so later proposals find them.
    conn = op.get_bind()
    grams = sa.table("topic_gram", sa.column("topic_id"), sa.column("gram"))
    for topic_id, title, description in conn.execute(
        sa.text("SELECT id, title, description FROM topic")
    ):
        rows = bigrams(title) | bigrams((description or "")[:DESCRIPTION_CHARS])
        if rows:
            conn.execute(grams.insert(), [{"topic_id": topic_id, "gram": g} for g in sorted(rows)])


def downgrade() -> None:
    op.drop_index("ix_follow_up_owed_by", table_name="follow_up")
    with op.batch_alter_table("consultation_session") as batch:
        batch.drop_column("minutes")
    op.drop_table("research_summary")
    with op.batch_alter_table("research_task") as batch:
        batch.drop_column("required")
    with op.batch_alter_table("participant") as batch:
        batch.drop_constraint("fk_participant_replaces_id", type_="foreignkey")
        batch.drop_column("replaces_id")
    op.drop_index("ix_topic_supporter_topic_id", table_name="topic_supporter")
    op.drop_table("topic_supporter")
    op.drop_index("ix_topic_gram_gram_topic", table_name="topic_gram")
    op.drop_table("topic_gram")
    op.drop_table("screening_decision")
