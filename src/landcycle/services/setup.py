"""Opening and initialising the platform's database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from ..config import Settings
from ..domain.errors import DatabaseNotReady
from ..storage.db import Database
from ..storage.schema import Jurisdiction, Parcel
from .jurisdictions import ReferenceLoadResult, load_reference_jurisdictions


def open_database(settings: Settings | None = None) -> Database:
    """The database named by the settings (``LANDCYCLE_DATABASE_URL`` or the embedded file)."""
    settings = settings or Settings.from_env()
    return Database(settings.database_url)


def init_database(db: Database, actor: str = "system") -> ReferenceLoadResult:
    """Create or upgrade the schema and load the reference jurisdictions. Idempotent."""
    db.upgrade()
    return load_reference_jurisdictions(db, actor=actor)


@dataclass(frozen=True)
class Status:
    backend: str
    schema_revision: str | None
    schema_current: bool
    jurisdictions: int
    parcels: int


def status(db: Database) -> Status:
    """What the database holds (for /healthz and `landcycle status`).

    Raises ``DatabaseNotReady`` when the database cannot be reached.
    """
    try:
        return _status(db)
    except OperationalError as exc:
        raise DatabaseNotReady(f"无法连接数据库（{db.engine.url.render_as_string(hide_password=True)}）："
                               f"{exc.orig}") from None


def _status(db: Database) -> Status:
    revision = db.schema_revision()
    current = revision == db.head_revision()
    if revision is None:
        return Status(db.dialect, None, False, 0, 0)
    with db.reader() as s:
        return Status(db.dialect, revision, current,
                      s.scalar(select(func.count()).select_from(Jurisdiction)) or 0,
                      s.scalar(select(func.count()).select_from(Parcel)) or 0)


def ensure_ready(db: Database) -> Status:
    """The database's status, or ``DatabaseNotReady`` with what to do (Chinese)."""
    st = status(db)
    if st.schema_revision is None:
        raise DatabaseNotReady("数据库尚未初始化，请先运行 `landcycle init`（或 `landcycle demo` 生成演示数据）。")
    if not st.schema_current:
        raise DatabaseNotReady(f"数据库结构版本 {st.schema_revision} 不是最新，请先运行 `landcycle init` 升级。")
    return st
