"""The API served for real: a uvicorn server in a thread over a committed SQLite file or a fresh
PostgreSQL database, for tests of what many people at once (or a retrying client) see."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from config.db import engine_for


@dataclass
class Served:
    base_url: str
    db_url: str

    @property
    def engine(self) -> Engine:
        return engine_for(self.db_url)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def as_(self, person_id: int | None = None, **extra: str) -> dict[str, str]:
        """Headers that sign in as this person (a new administrator if none), plus `extra`."""
        from models import people
        from models.enums import Role
        from models.tables import Person
        from tests.factories import bearer

        with self.session() as s:
            if person_id is None:
                person = people.create_person(
                    s, people.PersonCreate(name="值班管理员", role=Role.ADMINISTRATOR)
                )
                s.flush()
            else:
                person = s.get(Person, person_id)
                assert person is not None
            headers = bearer(s, person)
            s.commit()
        return headers | extra


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(committed_db: str) -> Iterator[Served]:
    """The whole app (middleware, dependencies, error mapping) on a real port and database."""
    import uvicorn

    from api.app import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "API did not start"
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", committed_db)
    finally:
        server.should_exit = True
        thread.join(15)
