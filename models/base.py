"""Column types and helpers shared by every table."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
import sqlmodel
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from sqlalchemy.orm import declared_attr
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Rows per page of every list a person reads (pages and their models).
PAGE_SIZE = 20


def page_count(count: int, size: int = PAGE_SIZE) -> int:
    """How many pages `count` rows fill (at least one, so an empty list is page 1 of 1)."""
    return max(1, -(-count // size))


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


# The largest id accepted: what every backend stores in an id column (INTEGER, a signed 32-bit
# integer on PostgreSQL; SQLite takes more), and far inside what every JSON client reads exactly.
# A larger number in a path, query or body is a 422 naming the field before any query runs; the
# fuzzer found 2**31 answering "取值超出可存储的范围" from PostgreSQL while SQLite said 404.
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]


# What pydantic's stripping removes (Unicode White_Space, as Rust's str::trim; unlike Python's
# str.strip() it keeps U+001C–U+001F), as a regex class.
BLANK = r"\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def blank_stripped_pattern(min_length: int) -> str:
    """A pattern saying what `min_length` means once the blanks around the text are stripped:
    at least that many characters from the first non-blank one to the last."""
    if min_length <= 1:
        return rf"^[{BLANK}]*[^{BLANK}]([\s\S]*[^{BLANK}])?[{BLANK}]*$"
    return rf"^[{BLANK}]*[^{BLANK}][\s\S]{{{min_length - 2},}}[^{BLANK}][{BLANK}]*$"


def _document_stripping(schema: dict[str, Any]) -> None:
    """The OpenAPI states the stripping: `minLength` alone promised that ", " is two characters
    long, and the API (rightly) refused it as one."""
    for prop in schema.get("properties", {}).values():
        for option in [prop, *prop.get("anyOf", [])]:
            if option.get("type") == "string" and option.get("minLength", 0) >= 1:
                option.setdefault("pattern", blank_stripped_pattern(option["minLength"]))


class Body(SQLModel):
    """Every request body: unknown fields are refused (no status, owner or role slipped in),
    text is stripped before its length is checked (a title of spaces or U+3000 is empty)."""

    model_config = ConfigDict(  # type: ignore[assignment]
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_document_stripping
    )

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers(cls, data: Any) -> Any:
        """JSON has one kind of number: `54.0` is the whole number 54 (JSON Schema's `integer`
        admits it, so the OpenAPI promised it), and the strict integer fields refused it. Whole
        floats become ints here; `54.5`, `"54"` and `true` are still refused by the field."""
        if isinstance(data, dict):
            return {key: _whole(value) for key, value in data.items()}
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _length_as_sent(cls, value: Any, info: ValidationInfo) -> Any:
        """`maxLength` counts the text as sent, as the OpenAPI says: stripping first let a
        title padded with blanks past its limit through."""
        if isinstance(value, str) and info.field_name in cls.model_fields:
            limit = _max_length(cls.model_fields[info.field_name])
            if limit is not None and len(value) > limit:
                raise PydanticCustomError(
                    "string_too_long",
                    "String should have at most {max_length} characters",
                    {"max_length": limit},
                )
        return value


def _max_length(field: FieldInfo) -> int | None:
    limits = [m.max_length for m in field.metadata if getattr(m, "max_length", None) is not None]
    return min(limits) if limits else None


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


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
