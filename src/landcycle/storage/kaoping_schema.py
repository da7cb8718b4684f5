"""增存挂钩 quota runs and 考评 rounds and scores (issue 8, items 5–6).

* ``quota_runs`` / ``quota_allocations`` — one run per computation: the year, the total, the
  parameters and figures used, one row per county. Append-only (triggers, migration 0016): a new
  run is a new computation, an old one is never changed; the latest run of a year is "the"
  allocation.
* ``kaoping_rounds`` — one per (year, period): draft until the office publishes it (versioned,
  in the change log).
* ``kaoping_submissions`` / ``kaoping_scores`` — each self-assessment or office scoring of one
  participant is a submission (who, when, its number ``seq`` 1, 2, … per participant and
  source) with its item scores and evidence. Append-only: the latest score per item counts, the
  earlier ones stay on file.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, Versioned, utcnow


class QuotaRun(Base):
    """One 增存挂钩 allocation of one year's new construction-land quota (append-only)."""

    __tablename__ = "quota_runs"
    __table_args__ = (Index("ix_quota_runs_year", "year", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    total_mu: Mapped[float] = mapped_column(Float)
    #: The day the revival figures were read (the registry as it stood then).
    as_of: Mapped[date] = mapped_column(Date)
    #: ``QuotaParameters.to_dict()`` plus the reading settings (zones_only, disposal basis …).
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    explanation: Mapped[list] = mapped_column(JSON, default=list)
    rulebook_version: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)


class QuotaAllocation(Base):
    """One county's line of a run: figures, weights and the allocated 亩 (append-only)."""

    __tablename__ = "quota_allocations"
    __table_args__ = (UniqueConstraint("run_id", "county_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("quota_runs.id"))
    county_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    identified_mu: Mapped[float] = mapped_column(Float)
    revived_mu: Mapped[float] = mapped_column(Float)
    rate: Mapped[float | None] = mapped_column(Float)
    kaoping: Mapped[float | None] = mapped_column(Float)
    participates: Mapped[bool] = mapped_column(Boolean)
    #: {share key: weighted part}
    components: Mapped[dict] = mapped_column(JSON, default=dict)
    weight: Mapped[float] = mapped_column(Float)
    bound: Mapped[str | None] = mapped_column(String(10))
    exact_mu: Mapped[float] = mapped_column(Float)
    allocated_mu: Mapped[float] = mapped_column(Float)


class KaopingRound(Versioned, Base):
    """A 考评 round: a year and a period (Q1–Q4, H1, H2, annual); draft or published."""

    __tablename__ = "kaoping_rounds"
    __audited__ = True
    __table_args__ = (UniqueConstraint("year", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(10))
    #: "draft" / "published"
    status: Mapped[str] = mapped_column(String(10), default="draft")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(100))
    rulebook_version: Mapped[str | None] = mapped_column(String(60))


class KaopingSubmission(Base):
    """A self-assessment or an office scoring of one participant in one round (append-only)."""

    __tablename__ = "kaoping_submissions"
    __table_args__ = (UniqueConstraint("round_id", "category", "participant", "source", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("kaoping_rounds.id"))
    #: county / zone / department
    category: Mapped[str] = mapped_column(String(12))
    #: Jurisdiction code (counties, zones) or the department's code from ``[kaoping] departments``.
    participant: Mapped[str] = mapped_column(String(32))
    #: self / office
    source: Mapped[str] = mapped_column(String(8))
    #: 1, 2, … per (round, participant, source): the version a new submission must name.
    seq: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


class KaopingScore(Base):
    """One item's score in one submission, with its evidence (append-only)."""

    __tablename__ = "kaoping_scores"
    __table_args__ = (UniqueConstraint("submission_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("kaoping_submissions.id"))
    item: Mapped[str] = mapped_column(String(40))
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str | None] = mapped_column(Text)
