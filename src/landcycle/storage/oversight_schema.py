"""挂牌督办 cases and 低效用地再开发监管协议 (issue 8 item 2; rules: ``domain.oversight``).

* ``oversight_cases`` — a parcel under city or county 挂牌督办: who listed it, the level, the
  day, the reason, the 督办要求 and deadline, the 责任单位 (first = 牵头单位), the parcel's state
  when listed (what the "≥2 批而未供/闲置 per zone" count reads), and the 销号 (result, day).
  Versioned and in the change log; one open case per parcel (a partial unique index).
* ``oversight_progress`` — progress notes on a case (append-only, triggers in migration 0018).
* ``redevelopment_agreements`` — the 再开发监管协议 of a 低效 parcel: enterprise, signed and check
  dates, targets, exit terms, status (versioned, in the change log).
* ``redevelopment_rewards`` — what the agreement granted (append-only).
* ``redevelopment_assessments`` — the check at the check date: figures, sources, findings, result
  (append-only; one per agreement).
* ``redevelopment_clawbacks`` — one line per reward to recover after a missed check: the amount,
  and its status (pending → recovered / waived with a reason). Versioned; never deleted.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, Versioned, utcnow


class OversightCase(Versioned, Base):
    """One 挂牌督办 of one parcel."""

    __tablename__ = "oversight_cases"
    __audited__ = True
    __table_args__ = (
        Index("uq_oversight_cases_open_parcel", "parcel_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_oversight_cases_zone", "zone_id", "listed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    #: The parcel's zone and county when listed (the count is per zone).
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    county_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    #: "city" (市级) or "county" (县级): ``domain.oversight.CaseLevel``.
    level: Mapped[str] = mapped_column(String(10))
    #: The listing body as the 督办通知 names it, and its 文号.
    listed_by_unit: Mapped[str] = mapped_column(String(200))
    document_no: Mapped[str | None] = mapped_column(String(100))
    listed_on: Mapped[date] = mapped_column(Date)
    #: ``LandState`` value of the parcel when listed (批而未供/闲置 count toward 000:797).
    state_at_listing: Mapped[str] = mapped_column(String(30))
    counts_toward_requirement: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text)
    requirement: Mapped[str] = mapped_column(Text)  # 督办要求
    deadline: Mapped[date] = mapped_column(Date)
    #: 责任单位 names in order; the first is the 牵头单位.
    units: Mapped[list] = mapped_column(JSON, default=list)
    #: "open" / "lifted" (``CaseStatus``).
    status: Mapped[str] = mapped_column(String(10), default="open")
    lifted_on: Mapped[date | None] = mapped_column(Date)
    lift_result: Mapped[str | None] = mapped_column(Text)
    lifted_by: Mapped[str | None] = mapped_column(String(100))
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OversightProgress(Base):
    """A progress note on a 挂牌督办 case (append-only)."""

    __tablename__ = "oversight_progress"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("oversight_cases.id"), index=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    reported_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RedevelopmentAgreement(Versioned, Base):
    """低效用地再开发监管协议: targets, check date, exit terms (000:1114)."""

    __tablename__ = "redevelopment_agreements"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_no: Mapped[str] = mapped_column(String(100), unique=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    signed_on: Mapped[date] = mapped_column(Date)
    #: The agreed day the targets are checked (在约定期限内).
    check_date: Mapped[date] = mapped_column(Date)
    #: The year whose 亩均税收 is compared (default: the year before the check date).
    tax_year: Mapped[int] = mapped_column(Integer)
    target_investment_intensity_wan_per_mu: Mapped[float | None] = mapped_column(Float)
    target_tax_per_mu_wan: Mapped[float | None] = mapped_column(Float)
    target_plot_ratio: Mapped[float | None] = mapped_column(Float)
    target_completion_date: Mapped[date | None] = mapped_column(Date)
    exit_terms: Mapped[str] = mapped_column(Text)
    #: active / met / missed (``AgreementStatus``).
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RedevelopmentReward(Base):
    """One benefit granted under an agreement (append-only)."""

    __tablename__ = "redevelopment_rewards"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("redevelopment_agreements.id"), index=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    #: ``RewardKind`` value.
    kind: Mapped[str] = mapped_column(String(30))
    amount_wan: Mapped[float] = mapped_column(Float)
    granted_on: Mapped[date] = mapped_column(Date)
    document_no: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class RedevelopmentAssessment(Base):
    """The check of an agreement's targets (append-only, one per agreement)."""

    __tablename__ = "redevelopment_assessments"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("redevelopment_agreements.id"), unique=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    assessed_on: Mapped[date] = mapped_column(Date)
    #: {target: actual} and where each came from ({target: "..."}).
    actual: Mapped[dict] = mapped_column(JSON, default=dict)
    sources: Mapped[dict] = mapped_column(JSON, default=dict)
    findings: Mapped[list] = mapped_column(JSON, default=list)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    met: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rulebook_version: Mapped[str] = mapped_column(String(60))


class RedevelopmentClawback(Versioned, Base):
    """One reward to recover after a missed check: amount and status (never deleted)."""

    __tablename__ = "redevelopment_clawbacks"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("redevelopment_assessments.id"), index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("redevelopment_agreements.id"), index=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("redevelopment_rewards.id"), unique=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    kind: Mapped[str] = mapped_column(String(30))
    granted_wan: Mapped[float] = mapped_column(Float)
    amount_wan: Mapped[float] = mapped_column(Float)
    #: pending / recovered / waived (``ClawbackStatus``).
    status: Mapped[str] = mapped_column(String(10), default="pending")
    settled_on: Mapped[date | None] = mapped_column(Date)
    recovered_wan: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
