"""Engine, session scope and migrations: the one place that knows how to reach the case file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, create_engine

from config.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not pysqlite, decide where transactions begin (savepoints work).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
            reading = bool(conn.get_execution_options().get(READ_ONLY))
            if conn.info.get(READ_ONLY, False) != reading:  # once per change on a connection
                # query_only: a write in a reader fails at once instead of racing for the lock
                conn.exec_driver_sql(f"PRAGMA query_only={'ON' if reading else 'OFF'}")
                conn.info[READ_ONLY] = reading
            # A reader takes no lock (DEFERRED): WAL gives it a snapshot, writers go on beside
            # it. Every other transaction takes the write lock up front (IMMEDIATE): API and
            # runner processes share the file, and a deferred transaction that reads then
            # writes fails instead of waiting.
            conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


# Execution option of the connections of a read-only engine (see `read_only`).
READ_ONLY = "xs_read_only"


@lru_cache(maxsize=8)
def read_only(engine: Engine) -> Engine:
    """The same pool for transactions that only read. On SQLite they begin DEFERRED, so readers
    never queue behind the write lock that every other transaction takes up front; on both
    backends the database refuses a write in them (query_only, READ ONLY)."""
    options: dict[str, object] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return engine.execution_options(**options)


def database_unavailable(exc: BaseException) -> bool:
    """The database itself cannot answer right now (down, restarting, refusing connections,
    locked, the pool exhausted) — as opposed to a refusal of the data: another try may pass."""
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, OperationalError | PoolTimeout):
        return True  # "database is locked", a dropped connection, a failover
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    return False


def get_engine() -> Engine:
    return engine_for(get_settings().resolved_database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll everything back on any error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def migrate(url: str | None = None) -> None:
    """Bring the database to the newest schema; the app calls this on every start."""
    from alembic import command
    from alembic.config import Config

    url = url or get_settings().resolved_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
