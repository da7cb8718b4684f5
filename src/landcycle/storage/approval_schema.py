"""Commitment-based approvals (告知承诺制/代办制, issue 7 item 3): a case per parcel and its events.

``approval_cases`` holds what a case is (parcel, track, enterprise, declared project facts, who
opened it and when) and where it stands (``state``, kept in step with the events by the service;
versioned and audited, so the change log — 一地一档 — has every state change). ``approval_events``
is the append-only record of what happened (受理, 办结/许可核发 with its 文号, 公示异议 and its
outcome), each with its date, actor and the rulebook it was checked with; triggers (migration
0010) refuse UPDATE and DELETE. The steps' dates and statuses are replayed from the events
(``domain.approvals.replay``), never stored twice.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, Versioned, utcnow


class ApprovalCase(Versioned, Base):
    """One approval case of one supplied parcel."""

    __tablename__ = "approval_cases"
    __audited__ = True
    __table_args__ = (Index("ix_approval_cases_parcel", "parcel_id"), Index("ix_approval_cases_state", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    #: ``domain.approvals.Track`` value.
    track: Mapped[str] = mapped_column(String(30))
    #: The 土地受让人 (the enterprise of the parcel's latest 出让合同).
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    #: ``domain.approvals.ProjectFacts.to_dict()``.
    project: Mapped[dict] = mapped_column(JSON, default=dict)
    #: ``domain.approvals.CaseState`` value.
    state: Mapped[str] = mapped_column(String(20))
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    rulebook_version: Mapped[str] = mapped_column(String(60))
    #: Events recorded so far (each one bumps ``version``, so a stale client is refused).
    event_count: Mapped[int] = mapped_column(Integer, default=0)


class ApprovalEvent(Base):
    """One event of a case (append-only)."""

    __tablename__ = "approval_events"
    __audited__ = True
    __table_args__ = (Index("ix_approval_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("approval_cases.id"))
    #: Repeated from the case so that the 一地一档 change log files the event under the parcel.
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    #: The step's key in ``domain.approvals.TRACKS``.
    step: Mapped[str] = mapped_column(String(30))
    #: ``domain.approvals.EventKind`` value.
    kind: Mapped[str] = mapped_column(String(30))
    #: The day it happened (受理日、办结日、异议提出日 …).
    on_date: Mapped[date] = mapped_column(Date)
    #: 文号 / 受理编号 / 许可证号.
    number: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The case's state after the event.
    state_after: Mapped[str] = mapped_column(String(20))
    rulebook_version: Mapped[str] = mapped_column(String(60))
