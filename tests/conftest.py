"""Shared fixtures: real SQLite and PostgreSQL databases, one Prefect server per test session,
an HTTP client, and a builder that walks a topic through the loop with the models' operations.

Environment is fixed here, before anything imports prefect or the settings."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_TMP = Path(tempfile.mkdtemp(prefix="xieshang-tests-"))
PREFECT_PORT = _free_port()
API_PORT = _free_port()
os.environ.update(
    {
        "XS_DATA_DIR": str(_TMP / "data"),
        "XS_DATABASE_URL": f"sqlite:///{_TMP / 'data' / 'app.db'}",
        "XS_API_PORT": str(API_PORT),
        "XS_PREFECT_PORT": str(PREFECT_PORT),
        "XS_FOLLOW_UP_INTERVAL_SECONDS": "3600",
        # Limits are tested on their own; elsewhere a test may act as fast as it likes.
        "XS_SIGN_IN_PER_MINUTE": "100000",
        # One secret for this process and the stacks it starts, so its tokens are honoured.
        "XS_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "XS_ACTIONS_PER_MINUTE": "100000",
        "PREFECT_HOME": str(_TMP / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
)
# A developer may point the suite at a running server to save its start-up time. (A URL this
# file chose itself, inherited by a pytest-xdist worker from the controller, is not one: each
# worker starts a server of its own.)
if os.environ.get("PREFECT_API_URL") and not os.environ.get("XS_TESTS_OWN_PREFECT"):
    os.environ["XS_PREFECT_API_URL"] = os.environ["PREFECT_API_URL"]
else:
    os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{PREFECT_PORT}/api"
    os.environ["XS_TESTS_OWN_PREFECT"] = "1"
    os.environ.pop("XS_PREFECT_API_URL", None)
os.environ.pop("XS_APPRISE_CONFIG", None)

from sqlalchemy import create_engine as sa_create_engine  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from config.db import engine_for, migrate  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "XS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


# The modules that take minutes (most run a stack of processes of their own), handed out first.
# The two xdist workers get modules in collection order, and these were collected last (tests/
# root after the subfolders): one worker then ran the longest alone while the other sat idle.
# Handed out first, the short modules fill in the end. The order also keeps the 20-stage burst
# (capacity) beside the state machine, which has no timed bound, rather than the launch path's.
LONGEST_FIRST = (
    "tests/test_stage_capacity.py",
    "tests/models/test_stage_machine.py",
    "tests/test_end_to_end.py",
    "tests/test_page_walk.py",
    "tests/test_recurring_runs.py",
    "tests/test_launch_path.py",
    "tests/test_supervision.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a module (and of the rest) is kept


def _postgres_available() -> bool:
    try:
        engine = sa_create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def sqlite_url() -> str:
    url = f"sqlite:///{_TMP / f'models-{uuid.uuid4().hex[:6]}.db'}"
    migrate(url)
    return url


def require_postgres() -> None:
    """Skip where PostgreSQL is not running, except in CI (XS_REQUIRE_POSTGRES), which fails."""
    if not _postgres_available():
        if os.environ.get("XS_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL 不可用：{PG_ADMIN_URL}")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")


@contextmanager
def fresh_postgres(prefix: str, template: str | None = None) -> Iterator[str]:
    """A throw-away PostgreSQL database (copied from `template` if given), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa_create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def running_stack(
    base: Path, database_url: str, *, apprise_url: str | None = None, **settings: Any
) -> Iterator[Any]:
    """The stack of `xieshang up` (the app process serving the API and every deployment) on
    this case file and the test session's Prefect server, its messages to one receiver; the
    follow-up sweep hourly unless `settings` say otherwise. Stopped afterwards."""
    from config.settings import Settings, get_settings
    from runtime.stack import Stack

    defaults = get_settings()
    if apprise_url is not None:
        apprise_yaml = base / "apprise.yml"
        apprise_yaml.write_text(f"urls:\n  - {apprise_url}:\n      tag: always\n", "utf-8")
        settings.setdefault("apprise_config", apprise_yaml)
    settings.setdefault("follow_up_interval_seconds", 3600)
    running = Stack(
        Settings(
            data_dir=base / "data",
            database_url=database_url,
            api_port=defaults.api_port,
            prefect_port=defaults.prefect_port,
            prefect_api_url=defaults.prefect_api_url,
            **settings,
        ),
        log_dir=base / "logs",
    )
    running.start_prefect()
    running.start_app()
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def running_scale_out(
    base: Path, database_url: str, *, apprise_url: str | None = None, **settings: Any
) -> Iterator[Any]:
    """The scale-out setup of `xieshang up --scale-out` on this (PostgreSQL) case file: its
    own Prefect server on a throw-away PostgreSQL database, the deployments of prefect.yaml,
    one worker per queue and the API alone. Everything is stopped and the Prefect database
    dropped afterwards, also when starting fails half-way."""
    from config.settings import Settings, get_settings
    from runtime.scale_out import ScaleOutStack

    defaults = get_settings()
    if apprise_url is not None:
        apprise_yaml = base / "apprise.yml"
        apprise_yaml.write_text(f"urls:\n  - {apprise_url}:\n      tag: always\n", "utf-8")
        settings.setdefault("apprise_config", apprise_yaml)
    settings.setdefault("follow_up_interval_seconds", 3600)
    with fresh_postgres("xs_prefect") as prefect_db:
        running = ScaleOutStack(
            Settings(
                data_dir=base / "data",
                database_url=database_url,
                prefect_database_url=prefect_db.replace("+psycopg", "+asyncpg"),
                api_port=defaults.api_port,
                prefect_port=_free_port(),
                **settings,
            ),
            log_dir=base / "logs",
        )
        try:
            running.start()
            yield running
        finally:
            running.stop()


@contextmanager
def sql_statements(bind: Session | Engine) -> Iterator[list[str]]:
    """The SQL statements sent inside the block, through a session's engine or an engine: what
    the query-count tests compare (a page must not send more as the data grows)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@contextmanager
def empty_case_file(kind: str, directory: Path, prefix: str) -> Iterator[str]:
    """An empty, not yet migrated case file for a stack: a SQLite file in `directory`, or a
    throw-away PostgreSQL database (the stack migrates it when it starts)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'{prefix}.db'}"
        return
    require_postgres()
    with fresh_postgres(f"xs_{prefix}") as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require_postgres()
    with fresh_postgres("xs_test") as url:
        migrate(url)
        yield url
        engine_for(url).dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (commits become
    savepoints), so every test starts from the same empty, migrated database."""
    engine = engine_for(db_url)
    with engine.connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint") as s:
            yield s
        outer.rollback()


ANONYMOUS = {"Authorization": ""}  # headers of a request without credentials


@pytest.fixture
def client(session: Session, loop) -> Iterator:  # type: ignore[no-untyped-def]
    """A client of the app in the test's transaction. Requests act as the cast's
    administrator unless they bring their own headers (`client.as_(person)`, or ANONYMOUS)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.deps import get_session, get_unit_of_work
    from tests.factories import bearer

    app = create_app()

    def _session() -> Iterator[Session]:
        try:
            yield session
        finally:
            session.rollback()  # as in production: what the route did not commit is dropped

    @contextmanager
    def _unit_of_work() -> Iterator[Session]:
        try:
            yield session
            session.commit()  # a savepoint inside the test's transaction
        except BaseException:
            session.rollback()
            raise

    class ActingClient(TestClient):
        def as_(self, person) -> dict[str, str]:  # type: ignore[no-untyped-def]
            return bearer(session, person)

        def request(self, method, url, **kwargs):  # type: ignore[no-untyped-def, override]
            if kwargs.get("headers") is None:
                kwargs["headers"] = bearer(session, self._administrator())
            return super().request(method, url, **kwargs)

        def _administrator(self):  # type: ignore[no-untyped-def]
            """The cast's administrator if the test made the cast, else one of its own."""
            if loop._cast is not None:
                return loop.cast.admin
            from sqlmodel import select

            from models import people
            from models.enums import Role
            from models.tables import Person

            found = session.exec(select(Person).where(Person.tag == "test-admin")).first()
            if found is None:
                found = people.create_person(
                    session,
                    people.PersonCreate(
                        name="测试管理员", role=Role.ADMINISTRATOR, tag="test-admin"
                    ),
                )
                session.commit()
            return found

    app.dependency_overrides[get_session] = _session
    app.dependency_overrides[get_unit_of_work] = lambda: _unit_of_work
    with ActingClient(app) as test_client:
        yield test_client


@pytest.fixture
def loop(session: Session):  # type: ignore[no-untyped-def]
    from tests.factories import LoopBuilder

    return LoopBuilder(session)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One real Prefect server per test session (or the running one PREFECT_API_URL names)."""
    from config.settings import get_settings
    from runtime.stack import Stack, healthy

    url = os.environ["PREFECT_API_URL"]
    if healthy(f"{url}/health"):
        yield url
        return
    stack = Stack(get_settings(), log_dir=_TMP / "logs")
    stack.start_prefect()
    yield url
    stack.stop()


@pytest.fixture(scope="session")
def _committed_pg_template(postgres_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database nobody stays connected to, to copy from quickly
    (CREATE DATABASE … TEMPLATE refuses while any session uses the template)."""
    with fresh_postgres("xs_tpl") as url:
        migrate(url)  # NullPool: closed when done
        yield url.rsplit("/", 1)[1]


@pytest.fixture(params=["sqlite", "postgres"])
def committed_db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh case file that tasks (which commit) use through the settings: SQLite, and a
    PostgreSQL database copied from a migrated template."""
    from config.settings import get_settings

    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'case.db'}"
            migrate(url)
        else:
            template = request.getfixturevalue("_committed_pg_template")
            url = stack.enter_context(fresh_postgres("xs_case", template=template))
            stack.callback(engine_for(url).dispose)
        monkeypatch.setenv("XS_DATABASE_URL", url)
        get_settings.cache_clear()
        yield url
        get_settings.cache_clear()
