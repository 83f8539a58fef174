"""audit trail as a hash chain: sequence, previous hash, own hash, role, changed fields

Existing events are sealed in id order, and the chain head is stored in app_meta, so an
installation that upgrades verifies from its first event on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_role", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("changes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_audit_event_seq", ["seq"])

    from models.audit import GENESIS, HEAD_KEY, link
    from models.tables import AppMeta, AuditEvent

    seq, last = 0, GENESIS
    with Session(bind=op.get_bind()) as session:
        for row in session.exec(sa.select(AuditEvent).order_by(AuditEvent.id)).scalars():  # type: ignore[call-overload, arg-type]
            seq += 1
            row.seq, row.prev_hash = seq, last
            row.hash = last = link(last, row)
        session.add(AppMeta(key=HEAD_KEY, value=f"{seq}:{last}"))
        session.flush()


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM app_meta WHERE key = 'audit_head'"))
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_event_seq", type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
        batch_op.drop_column("changes")
        batch_op.drop_column("actor_role")
