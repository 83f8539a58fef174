"""Column types and helpers shared by every table."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC on every backend and always hands back an aware UTC datetime."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


def enum_type(enum_cls: type[enum.Enum]) -> sa.Enum:
    """Enums stored as plain strings, so PostgreSQL and SQLite migrate alike."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


RowT = TypeVar("RowT")


class Page(BaseModel, Generic[RowT]):
    """Every list the API answers: one page of records and how many there are in all, so a
    client can page without guessing. Each entity names its own (`TopicsPublic` …)."""

    model_config = ConfigDict(from_attributes=True)

    data: list[RowT]
    count: int = Field(ge=0, description="符合条件的记录总数（不受分页限制）")
