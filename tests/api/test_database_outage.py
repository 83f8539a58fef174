"""PostgreSQL going away under requests: the API answers 503 with Retry-After (never 500),
what it confirmed is stored, and it recovers by itself when the database is back."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, text
from sqlmodel import Session, select

from config.db import engine_for, migrate
from config.settings import get_settings
from models import audit
from models.tables import Person
from tests.conftest import PG_ADMIN_URL, fresh_postgres, require_postgres
from tests.factories import administrator_headers

# A request thread that dies (e.g. on a dead connection after the answer) fails the test.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def test_an_outage_is_503_with_retry_after_and_nothing_confirmed_is_lost(monkeypatch):
    require_postgres()
    with fresh_postgres("xs_outage") as url:
        migrate(url)
        name = url.rsplit("/", 1)[1]
        monkeypatch.setenv("XS_DATABASE_URL", url)
        get_settings.cache_clear()
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        from api.app import create_app

        answers: list[tuple[str, int, str | None, str]] = []
        stop = threading.Event()
        lock = threading.Lock()
        try:
            headers = administrator_headers(url)
            with TestClient(create_app(), headers=headers) as client:

                def writer(n: int) -> None:
                    i = 0
                    while not stop.is_set():
                        who = f"居民{n}-{i}"
                        r = client.post("/people", json={"name": who, "role": "resident"})
                        g = client.get("/people?limit=1")
                        with lock:
                            answers.append((who, r.status_code, r.headers.get("retry-after"), "w"))
                            answers.append(("", g.status_code, g.headers.get("retry-after"), "r"))
                        i += 1

                threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
                for t in threads:
                    t.start()
                time.sleep(1.0)
                with admin.connect() as conn:  # the database goes away, as in a restart
                    conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": name},
                    )
                time.sleep(2.0)
                during = len(answers)
                with admin.connect() as conn:  # … and comes back
                    conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
                time.sleep(2.0)
                stop.set()
                for t in threads:
                    t.join()
                after = client.get("/people?limit=1")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
            admin.dispose()
            get_settings.cache_clear()

        statuses = Counter(code for _, code, _, _ in answers)
        assert set(statuses) <= {200, 201, 503}, statuses  # never a 500
        assert statuses[503] > 0, "the outage was not noticed"
        assert all(retry == "5" for _, code, retry, _ in answers if code == 503)
        assert any(code in (200, 201) for _, code, _, _ in answers[during:]), "no recovery"
        assert after.status_code == 200
        confirmed = {who for who, code, _, kind in answers if kind == "w" and code == 201}
        engine = engine_for(url)
        with Session(engine) as s:
            stored = set(s.exec(select(Person.name)))
            assert confirmed <= stored  # everything the API confirmed is there
            assert s.exec(select(func.count()).select_from(Person)).one() == len(stored)
            assert audit.verify(s).ok  # and the audit chain holds
        engine.dispose()
