"""The migrations build exactly the tables the models declare, on both backends: a field added
to a schema family without its migration (or the reverse) fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers every table)
from config.db import engine_for


def test_migrated_database_matches_the_declared_tables(db_url: str) -> None:
    with engine_for(db_url).connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert differences == []
