"""every submission of a report kept as a version (report_version) with its decision, and the
report's current version number; a report already in the database becomes its version 1

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-04 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("topic_title", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("opinions", sa.JSON(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.String(length=32), nullable=True),
        sa.Column("decision_comment", sa.String(length=1000), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"]),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "number"),
    )
    op.create_index("ix_report_version_report_id", "report_version", ["report_id"])
    with op.batch_alter_table("report") as batch:
        batch.add_column(
            sa.Column("current_version", sa.Integer(), server_default="1", nullable=False)
        )
    _backfill()


def _backfill() -> None:
    """A report written before versions were kept becomes its version 1, as it stands now."""
    bind = op.get_bind()
    meta = sa.MetaData()
    report = sa.Table("report", meta, autoload_with=bind)
    suggestion = sa.Table("suggestion", meta, autoload_with=bind)
    topic = sa.Table("topic", meta, autoload_with=bind)
    # Reflected as stored: the report's timestamps are copied as they are (UTC, no zone).
    version = sa.Table(
        "report_version",
        meta,
        sa.Column("suggestions", sa.JSON()),
        sa.Column("opinions", sa.JSON()),
        autoload_with=bind,
    )
    reports = sa.select(report, topic.c.title.label("topic_title")).join(
        topic, topic.c.id == report.c.topic_id
    )
    for r in bind.execute(reports).mappings().all():
        rows = bind.execute(
            sa.select(suggestion)
            .where(suggestion.c.topic_id == r["topic_id"])
            .order_by(suggestion.c.id)
        ).mappings()
        approved = r["status"] == "approved"
        entries = [
            {"id": s["id"], "content": s["content"]}
            | (
                {"adopted": s["adoption"] == "adopted", "note": s["adoption_note"]}
                if approved
                else {}
            )
            for s in rows
        ]
        decision = r["status"] if r["status"] in ("returned", "approved") else None
        bind.execute(
            version.insert().values(
                report_id=r["id"],
                number=1,
                topic_title=r["topic_title"],
                title=r["title"],
                content=r["content"],
                suggestions=entries,
                opinions=[],
                submitted_at=r["submitted_at"],
                decision=decision,
                decision_comment=r["return_reason"] if decision == "returned" else None,
                decided_by_id=r["approved_by_id"] if approved else None,
                decided_at=r["approved_at"] if approved else None,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.drop_column("current_version")
    op.drop_index("ix_report_version_report_id", table_name="report_version")
    op.drop_table("report_version")
