"""Column types and helpers shared by every table."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
import sqlmodel
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import declared_attr
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel


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


# The largest id any backend stores (a signed 64-bit integer): larger numbers are refused as
# input instead of overflowing in the database driver.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]


class Body(SQLModel):
    """Every request body: unknown fields are refused (no status, owner or role slipped in),
    text is stripped before its length is checked (a title of spaces or U+3000 is empty)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)  # type: ignore[assignment]


RowT = TypeVar("RowT")


class Page(BaseModel, Generic[RowT]):
    """Every list the API answers: one page of records and how many there are in all, so a
    client can page without guessing. Each entity names its own (`TopicsPublic` …)."""

    model_config = ConfigDict(from_attributes=True)

    data: list[RowT]
    count: int = Field(ge=0, description="符合条件的记录总数（不受分页限制）")


VERSION_HELP = (
    "记录版本号：记录每被修改一次加一；修改时可在请求头 If-Match 中带上所见的版本号，"
    "记录已被他人修改则返回 409 和当前版本号"
)


class Versioned(SQLModel):
    """A row people change after it is written: its version makes a change based on a stale
    copy fail (SQLAlchemy's optimistic concurrency) instead of silently overwriting another's."""

    version: int = sqlmodel.Field(
        default=1,
        nullable=False,
        sa_column_kwargs={"server_default": "1"},
        description=VERSION_HELP,
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class RowVersioned(SQLModel):
    """As `Versioned`, for a table whose `version` already means something else (a plan's 第 N 版)."""

    row_version: int = sqlmodel.Field(
        default=1,
        nullable=False,
        sa_column_kwargs={"server_default": "1"},
        description=VERSION_HELP,
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.row_version}  # type: ignore[attr-defined]
