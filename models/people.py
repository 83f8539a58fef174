"""Departments and people: who can be notified (by Apprise tag) and who may act."""

from __future__ import annotations

import re
import uuid

from pydantic import field_validator
from sqlmodel import Field, Session, select

from models.base import Body, Page, Versioned
from models.case import audit
from models.enums import Role
from models.errors import Conflict, Invalid
from models.tables import Department, DepartmentBase, Person, PersonBase, PersonContact

TAG_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Tags the system hands out itself (person-<id>, dept-<id>, role-<role>) or that Apprise reserves.
RESERVED_TAG_RE = re.compile(r"^((person|dept)-\d+|role-.*|all|always)$")


def _check_tag(value: str | None) -> str | None:
    if value is None:
        return value
    if not TAG_RE.match(value):
        raise ValueError("通知标签只能由字母、数字、点、下划线或连字符组成，最长 64 个字符")
    if RESERVED_TAG_RE.match(value):
        raise ValueError(f"通知标签“{value}”为系统保留，请换一个")
    return value


class DepartmentCreate(DepartmentBase, Body):
    """Request body: a responsible department (责任单位)."""

    tag: str | None = Field(default=None, description="通知标签；不填时由系统分配")

    _tag = field_validator("tag")(_check_tag)


class DepartmentPublic(DepartmentBase, Versioned):
    id: int
    tag: str


class DepartmentsPublic(Page[DepartmentPublic]):
    """A page of departments."""


class PersonCreate(PersonBase, PersonContact, Body):
    """Request body: anyone who proposes, approves, speaks, owes or rates."""

    tag: str | None = Field(default=None, description="通知标签；不填时由系统分配")

    _tag = field_validator("tag")(_check_tag)


class PersonPublic(PersonBase, Versioned):
    id: int
    tag: str


class PeoplePublic(Page[PersonPublic]):
    """A page of people (without their contact details)."""


def create_department(session: Session, data: DepartmentCreate) -> Department:
    if session.exec(select(Department).where(Department.name == data.name)).first():
        raise Conflict(f"单位“{data.name}”已存在")
    if data.tag:
        _unique_tag(session, Department, data.tag)
    dept = Department(name=data.name, tag=data.tag or uuid.uuid4().hex)
    session.add(dept)
    session.flush()
    if not data.tag:
        dept.tag = f"dept-{dept.id}"
    audit(session, action="department_created", topic_id=None, name=dept.name)
    return dept


def create_person(session: Session, data: PersonCreate) -> Person:
    if data.department_id is not None and session.get(Department, data.department_id) is None:
        raise Invalid(f"单位 {data.department_id} 不存在", field="department_id")
    if data.role in (Role.OFFICER, Role.DEPARTMENT_HEAD) and data.department_id is None:
        raise Invalid("责任单位联络员和单位负责人必须填写所属单位", field="department_id")
    person = Person(
        name=data.name,
        role=data.role,
        department_id=data.department_id,
        phone=data.phone,
        email=data.email,
        tag=data.tag or uuid.uuid4().hex,
    )
    if data.tag:
        _unique_tag(session, Person, data.tag)
    session.add(person)
    session.flush()
    if not data.tag:
        person.tag = f"person-{person.id}"
    audit(session, action="person_created", topic_id=None, name=person.name, role=person.role)
    return person


def _unique_tag(session: Session, model: type[Person] | type[Department], tag: str) -> None:
    clash = session.exec(select(model).where(model.tag == tag)).first()
    if clash:
        raise Conflict(f"通知标签“{tag}”已被占用")
