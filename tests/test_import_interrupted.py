"""An import killed mid-batch (SIGKILL of `python -m landcycle import …`) leaves the store unchanged.

The source is a 3,000-parcel GeoPackage (the demo generator's parcels, written by the exporter).
The test waits until the import process has begun its write transaction — on SQLite it holds
the database's write lock (a probe's ``BEGIN IMMEDIATE`` fails); on PostgreSQL it holds a
RowExclusiveLock on ``import_batches`` — lets it write for a moment longer, then kills it.
The kill must land (return code −9); if the import had already committed the whole batch, the
attempt is repeated on a fresh store with a shorter delay (any partial state fails the test). Afterwards: no parcel, no batch, no batch item,
no new change-log row; and the same import then succeeds.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from landcycle.services import demo, exports
from landcycle.storage.db import Database

N_PARCELS = 3000
#: Seconds to let the import keep writing after its write transaction began, per attempt (the
#: write of 3,000 parcels takes ≈ 0.3 s on SQLite, longer on PostgreSQL; the probe polls every 5 ms).
WRITE_DELAYS = (0.08, 0.03, 0.0)


@pytest.fixture(scope="module")
def source_file(tmp_path_factory, sqlite_template):
    """A GeoPackage of 3,000 demo parcels (written by the exporter), importable into an empty store."""
    d = tmp_path_factory.mktemp("interrupted")
    shutil.copy(sqlite_template, d / "source.db")
    src = Database(f"sqlite:///{d / 'source.db'}")
    demo.generate_demo(src, scale=N_PARCELS)
    res = exports.export_parcels(src, d / "parcels.gpkg")
    src.dispose()
    assert res.count == N_PARCELS
    return res.path


@pytest.fixture
def new_store(request, tmp_path):
    """A factory of fresh stores (schema + reference jurisdictions) on the requested backend."""
    cleanup = []

    def make(backend: str) -> Database:
        if backend == "sqlite":
            path = tmp_path / f"target_{uuid.uuid4().hex[:6]}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            db = Database(f"sqlite:///{path}")
            cleanup.append(db.dispose)
            return db
        from conftest import _pg_admin

        template = request.getfixturevalue("pg_template")  # skips when no PostgreSQL
        engine, url = _pg_admin()
        name = f"landcycle_k_{uuid.uuid4().hex[:10]}"
        with engine.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        db = Database(url.set(database=name).render_as_string(hide_password=False))

        def drop():
            db.dispose()
            with engine.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()

        cleanup.append(drop)
        return db

    yield make
    for fn in reversed(cleanup):
        fn()


def counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as c:
        out = {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar()
               for t in ("parcels", "import_batches", "import_batch_items", "change_log")}
        out["import_log"] = c.execute(text("SELECT count(*) FROM change_log WHERE reason LIKE '导入批次%'")).scalar()
        out["max_log_id"] = c.execute(text("SELECT coalesce(max(id), 0) FROM change_log")).scalar()
    return out


class _WriteProbe:
    """Is another process inside its write transaction on this store?"""

    def __init__(self, db: Database):
        self.db = db
        if db.dialect == "sqlite":
            self.path = db.engine.url.database
        else:
            self.engine = create_engine(db.url)
            self.conn = self.engine.connect()

    def writing(self) -> bool:
        if self.db.dialect == "sqlite":
            con = sqlite3.connect(self.path, timeout=0, isolation_level=None)
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # "database is locked": the importer holds the write lock
                return True
            else:
                con.execute("ROLLBACK")
                return False
            finally:
                con.close()
        n = self.conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE relation = 'import_batches'::regclass "
            "AND pid <> pg_backend_pid() AND granted AND mode = 'RowExclusiveLock'")).scalar()
        self.conn.rollback()
        return n > 0

    def wait_backends_gone(self, timeout: float = 15.0) -> None:
        """PostgreSQL: wait until the killed client's backend has rolled back and exited."""
        if self.db.dialect == "sqlite":
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid <> pg_backend_pid() AND state <> 'idle'")).scalar()
            self.conn.rollback()
            if n == 0:
                return
            time.sleep(0.05)
        raise AssertionError("被终止的导入进程的数据库会话未结束")

    def close(self) -> None:
        if self.db.dialect != "sqlite":
            self.conn.close()
            self.engine.dispose()


def _env(db: Database) -> dict[str, str]:
    return {**os.environ, "LANDCYCLE_DATABASE_URL": db.url, "COLUMNS": "200"}


def _kill_mid_batch(db: Database, source, delay: float, log_path) -> tuple[int, bool]:
    """Start the import, SIGKILL it ``delay`` s after its write began. (return code, write seen)."""
    probe = _WriteProbe(db)
    seen = False
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "landcycle", "import", str(source), "--actor", "kill-test"],
                                env=_env(db), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if probe.writing():
                    seen = True
                    time.sleep(delay)
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.005)
        finally:
            if proc.poll() is None and not seen:
                proc.kill()
            rc = proc.wait(timeout=60)
            probe.wait_backends_gone()
            probe.close()
    return rc, seen


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_import_leaves_the_store_unchanged(backend, source_file, new_store, tmp_path):
    for attempt, delay in enumerate(WRITE_DELAYS):
        db = new_store(backend)
        before = counts(db)
        assert before["parcels"] == before["import_batches"] == 0
        log = tmp_path / f"import_{attempt}.log"
        rc, seen = _kill_mid_batch(db, source_file, delay, log)
        assert seen, f"导入进程未进入写入阶段（返回码 {rc}）：\n{log.read_text(errors='replace')}"
        assert rc in (0, -signal.SIGKILL), log.read_text(errors="replace")
        after = counts(db)
        if after["import_batches"] == 1 and after["parcels"] == after["import_batch_items"] == N_PARCELS:
            continue  # the kill came after the commit (whole batch in): retry on a fresh store, sooner
        assert rc == -signal.SIGKILL
        break
    else:
        pytest.fail("导入总在终止前提交，无法验证中断")

    # killed inside its write transaction: the store is exactly as before (no parcels, no batch,
    # no batch items, no change-log rows from it) — never a partial batch
    assert after == before
    if backend == "sqlite":
        with sqlite3.connect(db.engine.url.database) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # and the same import then succeeds, as batch 1 with all parcels
    done = subprocess.run([sys.executable, "-m", "landcycle", "import", str(source_file), "--actor", "after-kill"],
                          env=_env(db), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"新建 {N_PARCELS} 宗" in done.stdout
    final = counts(db)
    assert final["parcels"] == final["import_batch_items"] == N_PARCELS
    assert final["import_batches"] == 1
    assert final["import_log"] >= N_PARCELS
