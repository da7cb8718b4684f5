"""标图入库 batches (issue 4): who imported which file when, what it created or updated, and
the validation report — so a batch can be listed and undone as a whole.

``import_batch_items.parcel_id`` has no foreign key on purpose: undoing a batch deletes the
parcels it created, and the item must stay on file as the record of what the batch did.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, utcnow


class ImportBatch(Base):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    source_path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(60))
    source_crs: Mapped[str | None] = mapped_column(String(60))
    mode: Mapped[str] = mapped_column(String(10))  # create / update
    feature_count: Mapped[int] = mapped_column(Integer)
    created_count: Mapped[int] = mapped_column(Integer)
    updated_count: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict] = mapped_column(JSON)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[str | None] = mapped_column(String(100))


class ImportBatchItem(Base):
    """One parcel a batch created or updated (``version_after``: its version right after the batch)."""

    __tablename__ = "import_batch_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"), index=True)
    parcel_id: Mapped[int] = mapped_column(Integer, index=True)
    parcel_code: Mapped[str] = mapped_column(String(19))
    action: Mapped[str] = mapped_column(String(10))  # create / update
    source_id: Mapped[str] = mapped_column(String(200))
    version_after: Mapped[int | None] = mapped_column(Integer)
