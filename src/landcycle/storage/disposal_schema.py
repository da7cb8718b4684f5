"""Disposal ledgers (处置台账) of 批而未供, 闲置 and 低效 land (issue 8, items 1 and 3).

* ``disposal_entries`` — one per parcel and category (一宗一策): the parcel's facts when the
  entry was opened, 形成原因, 处置措施, the plan, 完成时限, 责任单位, where it came from, and the
  outcome once closed. Versioned (optimistic locking) and in the change log; at most one *open*
  entry per parcel and category (a partial unique index, so two concurrent openings cannot both
  win).
* ``disposal_reports`` — progress reports on an entry: append-only (triggers, migration 0017);
  a correction is a newer report.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, Versioned, utcnow


class DisposalEntry(Versioned, Base):
    """One ledger entry: a parcel in one category (批而未供 / 闲置 / a 低效 category)."""

    __tablename__ = "disposal_entries"
    __audited__ = True
    __table_args__ = (
        Index("uq_disposal_entries_open", "parcel_id", "category", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_disposal_entries_category_status", "category", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    #: ``domain.disposal.LedgerCategory``.
    category: Mapped[str] = mapped_column(String(30))
    #: "open" / "closed".
    status: Mapped[str] = mapped_column(String(10), default="open")
    #: The parcel's basic facts when the entry was opened (code, location, area, zone, county,
    #: land users, state) — the ledger says what was identified even after the parcel changes.
    facts: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The snapshot's area in 亩 (the weight of the area-based 消化处置率).
    area_mu: Mapped[float] = mapped_column(Float)
    cause: Mapped[str | None] = mapped_column(Text)  # 形成原因
    measure: Mapped[str | None] = mapped_column(String(30))  # 处置措施 (DisposalMeasure)
    plan: Mapped[str | None] = mapped_column(Text)  # 一宗一策 disposal plan
    due_date: Mapped[date | None] = mapped_column(Date)  # 完成时限
    #: 责任单位, the first is the 牵头单位.
    units: Mapped[list] = mapped_column(JSON, default=list)
    opened_on: Mapped[date] = mapped_column(Date)
    #: "evaluation" / "state" / "manual" (EntrySource).
    source: Mapped[str] = mapped_column(String(12))
    source_run_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation_runs.id"))
    #: The parcel_evaluations row (verdict) the entry was opened from.
    source_result_id: Mapped[int | None] = mapped_column(Integer)
    #: The verdict in words, or the reason given for a manual entry.
    source_note: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(30))  # DisposalOutcome, set on closing
    closed_on: Mapped[date | None] = mapped_column(Date)
    closing_note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DisposalReport(Base):
    """A progress report on one entry (append-only)."""

    __tablename__ = "disposal_reports"
    __table_args__ = (Index("ix_disposal_reports_entry", "entry_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("disposal_entries.id"))
    reported_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    percent: Mapped[int | None] = mapped_column(Integer)
    stage: Mapped[str | None] = mapped_column(String(20))  # ReportStage
    reported_by: Mapped[str] = mapped_column(String(100))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
