"""Lifecycle transitions (issue 7): the append-only record of every step a parcel took through
the state machine of ``domain.lifecycle`` — who, when, from which state to which, why, and
with which documents. Database triggers (migration 0009) refuse UPDATE and DELETE, as for the
change log. The parcel's own state change is written through the ORM in the same transaction,
so the change log (一地一档) records it too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, utcnow


class ParcelTransition(Base):
    """One lifecycle step of one parcel (append-only)."""

    __tablename__ = "parcel_transitions"
    __table_args__ = (Index("ix_parcel_transitions_parcel_at", "parcel_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    #: The step's key in ``domain.lifecycle.TRANSITIONS``.
    transition: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    #: [{kind, title, number, date}, …]
    documents: Mapped[list] = mapped_column(JSON, default=list)
    #: The parcel's version after the step (ties the step to its change-log row).
    parcel_version: Mapped[int] = mapped_column(Integer)
    #: The rulebook the guards were checked with (version + overrides).
    rulebook_version: Mapped[str] = mapped_column(String(60))
