"""公示 of evaluation results (DOMAIN.md R2): publication with an objection window, and
objections recorded and decided. An upheld objection produces a new result version in
``enterprise_evaluations`` (``supersedes_id``); the original row stays on file.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, Versioned, utcnow


class EvaluationPublication(Base):
    """A run put out for 公示, with its objection deadline (working days)."""

    __tablename__ = "evaluation_publications"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id"), unique=True)
    published_on: Mapped[date] = mapped_column(Date)
    window_workdays: Mapped[int] = mapped_column(Integer)
    objection_deadline: Mapped[date] = mapped_column(Date)
    published_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvaluationObjection(Versioned, Base):
    """An enterprise's objection to its published result, and the decision on it."""

    __tablename__ = "evaluation_objections"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(Integer, index=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("enterprise_evaluations.id"))
    filed_on: Mapped[date] = mapped_column(Date)
    filed_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending / upheld / rejected
    decided_on: Mapped[date | None] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    revised_result_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise_evaluations.id"))
