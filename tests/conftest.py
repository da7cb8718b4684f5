"""Test fixtures: every `db` test runs on SQLite and on PostgreSQL/PostGIS.

PostgreSQL is used when ``LANDCYCLE_TEST_PG_URL`` names a reachable server (``.ci/run``
sets it); otherwise those cases are skipped and the run says so plainly at the end.
Each test gets a fresh database copied from a template that already holds the schema
and the reference jurisdictions (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE``
on PostgreSQL), because the change log is append-only and cannot be cleaned up.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

# Cheap argon2 parameters for the many test accounts (never set outside the suite); set before
# any landcycle module is imported, since the hasher is built at import.
os.environ.setdefault("LANDCYCLE_PASSWORD_HASH_PROFILE", "cheapest-for-tests")

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url

from landcycle.services import setup  # noqa: E402
from landcycle.storage.db import Database  # noqa: E402

PG_URL = os.environ.get("LANDCYCLE_TEST_PG_URL", "")

#: Real-browser fixtures (web_site, browser, page): tests/browser.py.
pytest_plugins = ["browser"]


def find_seeds_dir() -> Path:
    """The gazette texts (``shared/seeds``): ``LANDCYCLE_SEEDS_DIR``, else the nearest
    ``shared/seeds`` beside the checkout or above it. Tests quoting them skip when absent."""
    if os.environ.get("LANDCYCLE_SEEDS_DIR"):
        return Path(os.environ["LANDCYCLE_SEEDS_DIR"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "seeds"
        if candidate.is_dir():
            return candidate
    return Path("/nonexistent/shared/seeds")


SEEDS_DIR = find_seeds_dir()
_pg_skip_reason: str | None = None


def _pg_admin():
    url = make_url(PG_URL)
    return create_engine(url, isolation_level="AUTOCOMMIT"), url


def _pg_available() -> bool:
    global _pg_skip_reason
    if not PG_URL:
        _pg_skip_reason = "未设置 LANDCYCLE_TEST_PG_URL"
        return False
    try:
        engine, _ = _pg_admin()
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        _pg_skip_reason = f"无法连接 {PG_URL}: {exc.__class__.__name__}"
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tmpl") / "template.db"
    db = Database(f"sqlite:///{path}")
    setup.init_database(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template():
    if not _pg_available():
        pytest.skip(f"PostgreSQL 部分已跳过：{_pg_skip_reason}")
    engine, url = _pg_admin()
    name = f"landcycle_tmpl_{uuid.uuid4().hex[:8]}"
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(url.set(database=name).render_as_string(hide_password=False))
    setup.init_database(db)
    db.dispose()
    yield name
    with engine.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


class _PgCopies:
    """Copies of the PostgreSQL template made ahead of use by a background thread, and dropped
    after use by the same thread, so a test does not wait for ``CREATE DATABASE … TEMPLATE``
    (≈1 s of server I/O) while Python runs the test before it. If the thread has nothing ready
    (or failed), a copy is made on the spot — the same statement, so the same database."""

    AHEAD = 2

    def __init__(self, template: str):
        self.template = template
        self._ready: queue.Queue[str] = queue.Queue(maxsize=self.AHEAD)
        self._used: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="pg-template-copies", daemon=True)
        self._thread.start()

    def _sql(self, statement: str) -> None:
        engine, _ = _pg_admin()
        try:
            with engine.connect() as c:
                c.execute(text(statement))
        finally:
            engine.dispose()

    def _create(self) -> str:
        name = f"landcycle_t_{uuid.uuid4().hex[:10]}"
        self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def _drop(self, name: str) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _drop_used(self) -> None:
        while True:
            try:
                self._drop(self._used.get_nowait())
            except queue.Empty:
                return

    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                self._drop_used()
                name = self._create()
                while True:
                    try:
                        self._ready.put(name, timeout=0.2)
                        break
                    except queue.Full:
                        self._drop_used()
                        if self._stop.is_set():
                            self._drop(name)
                            return
        except Exception:  # noqa: BLE001 - the tests then make their copies themselves
            return

    def take(self) -> str:
        try:
            return self._ready.get(timeout=0.05 if not self._thread.is_alive() else 20)
        except queue.Empty:
            return self._create()

    def give_back(self, name: str) -> None:
        if self._thread.is_alive():
            self._used.put(name)
        else:
            self._drop(name)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        for q in (self._ready, self._used):
            while True:
                try:
                    self._drop(q.get_nowait())
                except queue.Empty:
                    break


@pytest.fixture(scope="session")
def pg_copies(pg_template):
    copies = _PgCopies(pg_template)
    yield copies
    copies.close()


@contextmanager
def fresh_database(request, backend: str, tmp_path: Path):
    """A new database holding schema + reference jurisdictions, copied from the backend's template."""
    if backend == "sqlite":
        path = tmp_path / f"test_{uuid.uuid4().hex[:8]}.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
        try:
            yield database
        finally:
            database.dispose()
        return
    copies = request.getfixturevalue("pg_copies")
    name = copies.take()
    database = Database(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        yield database
    finally:
        database.dispose()
        copies.give_back(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A fresh database with schema and reference jurisdictions, on each backend."""
    with fresh_database(request, request.param, tmp_path) as database:
        yield database


@pytest.fixture
def fresh_db(db, request, tmp_path):
    """Another empty store (reference jurisdictions only) on the same backend as ``db``."""
    with fresh_database(request, db.dialect, tmp_path) as other:
        yield other


@pytest.fixture
def empty_db(request, tmp_path):
    """A database with no schema at all (SQLite file), for init/migration tests."""
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    yield database
    database.dispose()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    pg_skipped = [r for r in skipped if "PostgreSQL" in str(r.longrepr)]
    if pg_skipped:
        if _pg_skip_reason is None:  # under pytest-xdist the workers decided; ask again here
            _pg_available()
        terminalreporter.write_sep("=", "PostgreSQL/PostGIS 部分未运行", yellow=True, bold=True)
        terminalreporter.write_line(
            f"{len(pg_skipped)} 个测试用例因没有可用的 PostgreSQL 被跳过（{_pg_skip_reason}）。"
            " 只有 SQLite 部分得到验证；运行 .ci/run 可覆盖两种数据库。"
        )
    elif PG_URL:
        terminalreporter.write_line("PostgreSQL/PostGIS 部分已运行：" + PG_URL)


# --------------------------------------------------------------------------- HTTP + accounts
#: One account per role (password PASSWORD), created by the ``accounts`` fixture.
PASSWORD = "correct horse battery"
ACCOUNTS = {
    "city": dict(role="city_admin", jurisdiction="411000"),
    "weidu_admin": dict(role="county_admin", jurisdiction="魏都区"),
    "changge_admin": dict(role="county_admin", jurisdiction="长葛市"),
    "weidu_zone": dict(role="zone_manager", jurisdiction="魏都产业集聚区"),
    "changge_zone": dict(role="zone_manager", jurisdiction="长葛市产业集聚区"),
    "tax_city": dict(role="department", jurisdiction="411000", department="税务"),
}


@pytest.fixture
def api(db, tmp_path):
    """A FastAPI test client over ``db`` (no sign-in: the anonymous public)."""
    from fastapi.testclient import TestClient

    from landcycle.config import Settings
    from landcycle.faces.api import create_app

    settings = Settings(database_url=db.url, data_dir=tmp_path, basemap_url="")
    with TestClient(create_app(db, settings)) as c:
        yield c


@pytest.fixture
def accounts(db):
    """Create one account per entry of ACCOUNTS; returns ``{name: bearer headers}`` lazily via
    :func:`bearer`."""
    from landcycle.services import accounts as accounts_service

    for name, spec in ACCOUNTS.items():
        accounts_service.add_user(db, name, PASSWORD, **spec)
    return ACCOUNTS


def bearer(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in through the API and return the Authorization header."""
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.cookies.clear()  # the caller authenticates by header only, not by the session cookie
    return {"Authorization": f"Bearer {r.json()['token']}"}

def run_cli(db_url: str, *args: str, check: bool = True, input: str | None = None):
    """``landcycle …`` in-process through Typer's CliRunner (no new interpreter and its seconds of imports per
    call); the face reads its database from LANDCYCLE_DATABASE_URL as the installed command does. An uncaught
    exception — what the real command would print as a traceback — fails the test whatever ``check`` says."""
    import traceback

    from typer.testing import CliRunner

    from landcycle.faces import cli

    # The consoles were made at import, where a worker process without a terminal may have fixed
    # their width (80): make it wide, so tables and messages are not wrapped mid-phrase.
    for console in (cli.console, cli.err_console):
        console.width = 200
    res = CliRunner().invoke(cli.app, list(args), input=input, env={"LANDCYCLE_DATABASE_URL": db_url, "COLUMNS": "200"})
    assert res.exception is None or isinstance(res.exception, SystemExit), "".join(
        traceback.format_exception(*res.exc_info))
    assert "Traceback" not in res.output
    if check:
        assert res.exit_code == 0, f"landcycle {' '.join(args)} failed (exit {res.exit_code}):\n{res.output}"
    return res
