"""Database access: engines, sessions, transactions and schema migrations."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from . import history  # noqa: F401  (registers the 一地一档 hook)
from . import evaluation_schema, publicity_schema  # noqa: F401  (register their tables)
from . import import_schema  # noqa: F401  (标图入库 batches)
from . import account_schema  # noqa: F401  (accounts and sessions)
from . import supply_schema  # noqa: F401  (年度可供土地清单 entries)
from . import lifecycle_schema  # noqa: F401  (lifecycle transitions, issue 7)
from . import supervision_schema  # noqa: F401  (inspections, idle notices, exit cases, issue 7)
from . import approval_schema  # noqa: F401  (告知承诺制 approval cases, issue 7)
from . import split_schema  # noqa: F401  (分割转让 applications and parcel lineage, issue 7)
from . import standard_supply_schema  # noqa: F401  (区域评估 and 出让方案, issue 7)
from . import notice_schema  # noqa: F401  (预警 runs, notices, deliveries, subscriptions, issue 7)
from . import plan_schema  # noqa: F401  (plan tasks, reports, completions, issue 8)
from . import kaoping_schema  # noqa: F401  (增存挂钩 quota runs, 考评 rounds and scores, issue 8)
from . import oversight_schema  # noqa: F401  (挂牌督办 cases, 再开发监管协议, issue 8)
from . import disposal_schema  # noqa: F401  (处置台账 entries and progress reports, issue 8)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


#: Page size of new SQLite databases (SQLite's default is 4096). Change-log rows carry ~1 KB of
#: JSON and parcels a geometry: with 16 KiB pages a 200,000-parcel import writes and
#: checkpoints ≈ 25–35 % faster (docs/performance.md). Existing files keep their page size.
SQLITE_PAGE_SIZE = 16384


def json_text(value) -> str:
    """How JSON columns are encoded, on both backends: orjson (≈5× the stdlib's ``json.dumps``,
    which mattered for the change-log rows of bulk imports); non-ASCII stays literal UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout; JSON via :func:`json_text`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=json_text)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            # Before WAL writes the header of a new file (a no-op on an existing database).
            cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=json_text)


class Database:
    """One database: its engine, its session factory and its schema version."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, actor: str = "system", reason: str | None = None) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        ``actor`` and ``reason`` go into every change-log row written in it (一地一档).
        """
        session = self._sessions()
        session.info["actor"] = actor
        session.info["reason"] = reason
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reading; never commits."""
        session = self._sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    # --- schema -----------------------------------------------------------------
    def _alembic_config(self, connection) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = connection
        return cfg

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        with self.engine.begin() as conn:
            # "heads": every branch, so migrations written side by side apply before they are
            # put in one line.
            command.upgrade(self._alembic_config(conn), "heads")

    def schema_revision(self) -> str | None:
        """The schema's migration (several joined by '+' while branches are unmerged)."""
        with self.engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
        return "+".join(sorted(heads)) or None

    def head_revision(self) -> str:
        """The newest migration the code carries (several joined by '+', as above)."""
        with self.engine.connect() as conn:
            heads = ScriptDirectory.from_config(self._alembic_config(conn)).get_heads()
        return "+".join(sorted(heads))

    def is_current(self) -> bool:
        return self.schema_revision() == self.head_revision()

    def dispose(self) -> None:
        self.engine.dispose()
