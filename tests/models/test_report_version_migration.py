"""A report written before versions were kept becomes its version 1 when the database is
upgraded (migration 0017): its text, its suggestions with their adoption, its decision."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic import command
from alembic.config import Config
from sqlmodel import Session, select

from config.db import MIGRATIONS_DIR, engine_for, migrate
from models import report as reports
from models.enums import Stage, VersionDecision
from models.tables import Report, ReportVersion, Suggestion
from tests.conftest import _TMP, fresh_postgres, require_postgres
from tests.factories import LoopBuilder


@contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{_TMP / f'migration-{uuid.uuid4().hex[:6]}.db'}"
        return
    require_postgres()
    with fresh_postgres("xs_migration") as url:
        yield url


def _alembic(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    return cfg


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_an_existing_report_becomes_version_1(kind: str) -> None:
    with _database(kind) as url:
        migrate(url)
        engine = engine_for(url)
        with Session(engine, expire_on_commit=False) as s:
            loop = LoopBuilder(s)
            topic = loop.advance(loop.topic(), to=Stage.REPORT, start=True)
            report = s.exec(select(Report).where(Report.topic_id == topic.id)).one()
            first = s.exec(select(Suggestion).where(Suggestion.topic_id == topic.id)).first()
            assert first is not None
            reports.approve(
                s,
                report.id,  # type: ignore[arg-type]
                reports.ReportApproval(
                    decisions=[
                        reports.AdoptionDecision(suggestion_id=first.id, adopted=False)  # type: ignore[arg-type]
                    ]
                ),
                by=loop.cast.approver.id,
            )
            s.commit()
        command.downgrade(_alembic(url), "0013")  # as a database before versions were kept
        command.upgrade(_alembic(url), "head")
        with Session(engine) as s:
            (kept,) = s.exec(select(ReportVersion)).all()
            assert kept.report_id == report.id and kept.number == 1
            assert kept.title == report.title and kept.content == report.content
            assert kept.topic_title == topic.title and kept.submitted_at == report.submitted_at
            assert kept.decision == VersionDecision.APPROVED
            assert kept.decided_by_id == loop.cast.approver.id
            adopted = {e["id"]: e["adopted"] for e in kept.suggestions}
            assert adopted[first.id] is False and len(adopted) >= 2
            assert sum(adopted.values()) == len(adopted) - 1
            assert s.get(Report, report.id).current_version == 1  # type: ignore[union-attr]
        engine.dispose()
