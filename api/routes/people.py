"""Departments and people: the office manages them; staff read the directory."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import CalendarReader, PeopleManager, PeopleReader
from api.deps import Limit, Offset, PathId, ReadSessionDep, SessionDep, commit
from models import accounts, people
from models.case import Listing, get, page
from models.tables import Account, Department, Person

router = APIRouter(tags=["people"])


@router.post("/departments", response_model=people.DepartmentPublic, status_code=201)
def create_department(
    data: people.DepartmentCreate, session: SessionDep, actor: PeopleManager
) -> Department:
    dept = people.create_department(session, data)
    commit(session, dept)
    return dept


@router.get("/departments", response_model=people.DepartmentsPublic)
def list_departments(
    session: ReadSessionDep, _: CalendarReader, limit: Limit = 100, offset: Offset = 0
) -> Listing[Department]:
    return page(session, Department, order_by=Department.id, limit=limit, offset=offset)


@router.post("/people", response_model=people.PersonPublic, status_code=201)
def create_person(data: people.PersonCreate, session: SessionDep, actor: PeopleManager) -> Person:
    person = people.create_person(session, data)
    commit(session, person)
    return person


@router.get("/people", response_model=people.PeoplePublic)
def list_people(
    session: ReadSessionDep, _: PeopleReader, limit: Limit = 100, offset: Offset = 0
) -> Listing[Person]:
    return page(session, Person, order_by=Person.id, limit=limit, offset=offset)


@router.get("/people/{person_id}", response_model=people.PersonPublic)
def read_person(person_id: PathId, session: ReadSessionDep, _: PeopleReader) -> Person:
    return get(session, Person, person_id)


@router.put("/people/{person_id}/account", response_model=accounts.AccountPublic)
def set_account(
    person_id: PathId, data: accounts.AccountIn, session: SessionDep, actor: PeopleManager
) -> Account:
    """Give a person a login and password (or a new password): earlier tokens stop working."""
    account = accounts.set_password(session, person_id, data.login, data.password, by=actor)
    commit(session, account)
    return account
