"""Opening and initialising the platform's database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ..config import Settings
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
    """What the database holds (for /healthz and `landcycle status`)."""
    revision = db.schema_revision()
    current = revision == db.head_revision()
    if revision is None:
        return Status(db.dialect, None, False, 0, 0)
    with db.reader() as s:
        return Status(db.dialect, revision, current,
                      s.scalar(select(func.count()).select_from(Jurisdiction)) or 0,
                      s.scalar(select(func.count()).select_from(Parcel)) or 0)
