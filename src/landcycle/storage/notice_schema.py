"""预警通知 (issue 7, item 7): the daily job's runs, the notices it raised, every delivery attempt,
and who subscribes to what.

* ``warning_runs`` — one row per run of ``landcycle warnings run``: its day, who, when it started
  and finished, the counts. A run is written when it starts and completed once when it ends;
  migration 0012's triggers refuse any change to a finished run and any delete.
* ``warning_notices`` — one per deadline × lead threshold × recipient (unique: the job is
  idempotent), with the message as sent. Append-only (triggers).
* ``warning_deliveries`` — one per attempt to deliver a notice to a subscription's e-mail address
  or webhook: sent / failed / skipped, the error, when. Append-only (triggers).
* ``notice_subscriptions`` — a jurisdiction's (county or zone) or an enterprise's e-mail address
  and/or webhook URL. Versioned and in the change log (一地一档); never deleted (deliveries
  point at them), only deactivated.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, Versioned, utcnow


class WarningRun(Base):
    """One run of the daily warning job."""

    __tablename__ = "warning_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: running / finished / partial (a source failed; the others' notices were recorded)
    status: Mapped[str] = mapped_column(String(10), default="running")
    deliver: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the deadline sources asked, in order
    sources: Mapped[list] = mapped_column(JSON, default=list)
    deadlines: Mapped[int] = mapped_column(Integer, default=0)
    notices: Mapped[int] = mapped_column(Integer, default=0)
    superseded: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    #: [{source, error}, …] — sources that raised
    errors: Mapped[list] = mapped_column(JSON, default=list)


class WarningNotice(Base):
    """One warning to one recipient for one deadline at one lead threshold (append-only)."""

    __tablename__ = "warning_notices"
    __table_args__ = (
        UniqueConstraint("deadline_key", "lead_days", "recipient", name="uq_warning_notices_once"),
        CheckConstraint("(jurisdiction_id IS NULL) <> (enterprise_id IS NULL)", name="one_recipient"),
        Index("ix_warning_notices_jurisdiction", "jurisdiction_id", "id"),
        Index("ix_warning_notices_enterprise", "enterprise_id", "id"),
        Index("ix_warning_notices_place", "zone_id", "county_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("warning_runs.id"), index=True)
    #: the run's day (days_left is counted from it)
    as_of: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: "<source>|<kind>|<parcel code>|<due date>": the deadline's identity across runs
    deadline_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(60))
    parcel_code: Mapped[str] = mapped_column(String(19), index=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    due_date: Mapped[date] = mapped_column(Date)
    lead_days: Mapped[int] = mapped_column(Integer)
    days_left: Mapped[int] = mapped_column(Integer)
    #: "jurisdiction:<id>" or "enterprise:<id>"
    recipient: Mapped[str] = mapped_column(String(40))
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    label: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(Text)
    consequence: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    #: a looser threshold crossed together with a tighter one: recorded, never delivered
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)


class NoticeSubscription(Versioned, Base):
    """Where a jurisdiction's or an enterprise's notices are delivered."""

    __tablename__ = "notice_subscriptions"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("(jurisdiction_id IS NULL) <> (enterprise_id IS NULL)", name="one_subscriber"),
        CheckConstraint("email IS NOT NULL OR webhook_url IS NOT NULL", name="some_channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WarningDelivery(Base):
    """One attempt to deliver one notice through one channel of one subscription (append-only)."""

    __tablename__ = "warning_deliveries"
    __table_args__ = (Index("ix_warning_deliveries_slot", "notice_id", "subscription_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("warning_notices.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("notice_subscriptions.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("warning_runs.id"), index=True)
    #: email / webhook
    channel: Mapped[str] = mapped_column(String(10))
    #: the address or URL at the time of the attempt
    target: Mapped[str] = mapped_column(String(500))
    #: sent / failed / skipped
    status: Mapped[str] = mapped_column(String(10))
    attempt: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
