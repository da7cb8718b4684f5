"""履约监管 records (issue 7 items 4–5): acceptance inspections and idle notices, both
append-only (database triggers, migration 0013, refuse UPDATE and DELETE), and exit cases
(versioned and in the change log, 一地一档: the audit figures and the buy-back agreement come
in over months). The rules are ``domain.supervision``; the use cases ``services.supervision``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, Versioned, utcnow


class AcceptanceInspection(Base):
    """One 竣工联合验收 / 达产验收 or 复验 of one parcel, with the figures checked (append-only)."""

    __tablename__ = "acceptance_inspections"
    __table_args__ = (Index("ix_acceptance_inspections_parcel", "parcel_id", "inspected_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    #: ``vocabulary.InspectionKind``.
    kind: Mapped[str] = mapped_column(String(30))
    inspected_on: Mapped[date] = mapped_column(Date)
    #: What was submitted: {indicator or surveyed area/amount: value}.
    measured: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The indicators as checked (derived from areas where so given).
    indicators: Mapped[dict] = mapped_column(JSON, default=dict)
    #: [{indicator, label, committed, measured, bound, passed, reason}, …]
    findings: Mapped[list] = mapped_column(JSON, default=list)
    #: ``AcceptanceResult``: passed / failed.
    result: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    #: 验收意见文号.
    number: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    remark: Mapped[str | None] = mapped_column(Text)
    #: The 履约监管协议 checked against (None: none registered) and the rulebook used.
    agreement_id: Mapped[int | None] = mapped_column(Integer)
    rulebook_version: Mapped[str] = mapped_column(String(60))


class IdleNotice(Base):
    """A 闲置费征缴决定书, a 无偿收回 proposal or a recorded government-caused delay (append-only)."""

    __tablename__ = "idle_notices"
    __table_args__ = (Index("ix_idle_notices_parcel", "parcel_id", "notice_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    #: ``vocabulary.IdleNoticeKind``.
    kind: Mapped[str] = mapped_column(String(30))
    notice_date: Mapped[date] = mapped_column(Date)
    number: Mapped[str] = mapped_column(String(100))
    #: The day the delay runs from (agreed start, or when construction stopped) and its 1-/2-year point.
    since: Mapped[date | None] = mapped_column(Date)
    point: Mapped[date | None] = mapped_column(Date)
    full_years: Mapped[int | None] = mapped_column(Integer)
    land_price_wan: Mapped[float | None] = mapped_column(Float)
    fee_rate: Mapped[float | None] = mapped_column(Float)
    amount_wan: Mapped[float | None] = mapped_column(Float)
    basis: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rulebook_version: Mapped[str] = mapped_column(String(60))


class ExitCase(Versioned, Base):
    """解除合同、成本还原审计与优先回购 of one contract (R9, 000:1028, 1034)."""

    __tablename__ = "exit_cases"
    __audited__ = True
    __table_args__ = (UniqueConstraint("contract_id", name="uq_exit_cases_contract_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("supply_contracts.id"))
    #: 解除合同批准文件: 文号, approving government, date.
    rescission_number: Mapped[str] = mapped_column(String(100))
    rescission_approved_by: Mapped[str] = mapped_column(String(100))
    rescission_date: Mapped[date] = mapped_column(Date)
    #: ``vocabulary.BuildingDisposal`` as the contract names it.
    building_disposal: Mapped[str] = mapped_column(String(30))
    #: 第三方成本还原审计: firm, report date, audited construction cost.
    auditor: Mapped[str | None] = mapped_column(String(200))
    audit_date: Mapped[date | None] = mapped_column(Date)
    audited_cost_wan: Mapped[float | None] = mapped_column(Float)
    deductions_wan: Mapped[float] = mapped_column(Float, default=0.0)
    #: Computed (``supervision.buyback``), never typed in.
    land_refund_wan: Mapped[float] = mapped_column(Float)
    building_value_wan: Mapped[float | None] = mapped_column(Float)
    buyback_price_wan: Mapped[float | None] = mapped_column(Float)
    computation: Mapped[dict] = mapped_column(JSON, default=dict)
    #: 回购协议.
    buyback_number: Mapped[str | None] = mapped_column(String(100))
    buyback_date: Mapped[date | None] = mapped_column(Date)
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rulebook_version: Mapped[str] = mapped_column(String(60))
