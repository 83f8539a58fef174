"""Row versions: a change is made to the version of a record its author saw, or not at all.

Every table people change after it is written carries a version (models/base.py `Versioned`);
SQLAlchemy adds `AND version = <loaded>` to each UPDATE, so a change based on a copy someone
else changed in between fails with StaleDataError instead of overwriting theirs. Here: the
check of a version a person names (If-Match), and the refusal a stale write turns into.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, SQLModel

from models.case import ENTITY_LABELS, get
from models.errors import VersionConflict

FLUSHING = "versions_flushing"  # session.info: (model, id, version) of versioned rows in a flush


def version_key(model: type[Any]) -> str | None:
    """The attribute holding the row version of a mapped class, None if it has none."""
    mapper = getattr(model, "__mapper__", None)
    if mapper is None or mapper.version_id_col is None:
        return None
    return str(mapper.get_property_by_column(mapper.version_id_col).key)


def version_of(row: Any) -> int | None:
    key = version_key(type(row))
    return getattr(row, key) if key else None


def _label(model: type[Any]) -> str:
    return ENTITY_LABELS.get(model.__name__, model.__name__)


def ensure_version(
    session: Session,
    model: type[SQLModel],
    ident: int,
    accepted: set[int] | None,
    *,
    lock: bool = True,
) -> int:
    """Refuse (409, naming the current version) unless the record is at one of the `accepted`
    versions (None: any, as `If-Match: *`). With `lock` the row stays locked until the
    transaction ends, so nobody changes it between this check and the change."""
    row = get(session, model, ident, for_update=lock)
    current = version_of(row)
    if current is None or accepted is None or current in accepted:
        return current or 0
    seen = "、".join(str(v) for v in sorted(accepted))
    raise VersionConflict(
        f"{_label(model)} {ident} 已被修改，当前版本为 {current}（本次请求基于版本 {seen}）；"
        "请刷新后再操作，本次未做任何修改",
        current_version=current,
    )


def stale_conflict(session: Session, exc: StaleDataError) -> VersionConflict:
    """What a write based on a stale row tells the person: which record someone else changed
    meanwhile and its version now. Rolls the session back (nothing of the action is kept)."""
    flushing: list[tuple[type[Any], int, int]] = session.info.pop(FLUSHING, [])
    session.rollback()
    for model, ident, loaded in flushing:
        if f"'{model.__tablename__}'" not in str(exc):
            continue
        column = getattr(model, version_key(model) or "")
        current = session.execute(
            select(column).where(model.id == ident)  # type: ignore[attr-defined]
        ).scalar_one_or_none()
        session.rollback()
        if current != loaded:
            state = "已被删除" if current is None else f"已被他人修改，当前版本为 {current}"
            return VersionConflict(
                f"{_label(model)} {ident} 在办理期间{state}；请刷新后再操作，本次未做任何修改",
                current_version=current,
            )
    return VersionConflict(
        "记录在办理期间已被他人修改；请刷新后再操作，本次未做任何修改", current_version=None
    )


def _remember_versions(session: OrmSession, _ctx: Any, _instances: Any) -> None:
    """Before each flush: the versions its UPDATEs are based on, to name a stale one."""
    rows = []
    for obj in list(session.dirty) + list(session.deleted):
        key = version_key(type(obj))
        if key is None:
            continue
        state = inspect(obj)
        history = state.attrs[key].history
        loaded = history.deleted[0] if history.deleted else getattr(obj, key)
        rows.append((type(obj), state.identity[0] if state.identity else None, loaded))
    session.info[FLUSHING] = rows


event.listen(OrmSession, "before_flush", _remember_versions)
