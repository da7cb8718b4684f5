"""标准地 supply records (issue 7, item 2): the zone's 区域评估 results and a parcel's 出让方案.

``regional_assessments`` is append-only (migration 0014's triggers): a result is never edited;
a newer report for the same item and area supersedes it, and the old one stays on file so any
past sale can be checked against what was in force then. ``standard_land_plans`` are versioned
and audited like other records (一地一档 logs every change with the parcel): a draft is edited,
then approved once, with the review verdicts (R5, R6) filed as they stood.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .schema import Base, Jurisdiction, Parcel, Versioned, utcnow
from .spatial import GeometryColumn


class RegionalAssessment(Base):
    """One 区域评估 result of a zone (000:968–976), for the whole zone or a stated area."""

    __tablename__ = "regional_assessments"
    __table_args__ = (Index("ix_regional_assessments_zone_item", "zone_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    #: A key of ``domain.standard_supply.ASSESSMENT_ITEMS``.
    item: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    #: 文号 or report number.
    number: Mapped[str] = mapped_column(String(100))
    #: 评估机构.
    agency: Mapped[str] = mapped_column(String(200), default="")
    completed_date: Mapped[date] = mapped_column(Date)
    #: The end of validity the report states; NULL: the rulebook's period applies.
    valid_until: Mapped[date | None] = mapped_column(Date)
    #: The area assessed (EPSG:4490); NULL: the whole zone.
    geometry = mapped_column(GeometryColumn(), nullable=True)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    zone: Mapped[Jurisdiction] = relationship()


class StandardLandPlan(Versioned, Base):
    """The 出让方案 of a parcel sold as 标准地 (000:988–990): draft, then approved."""

    __tablename__ = "standard_land_plans"
    __audited__ = True
    __table_args__ = (Index("ix_standard_land_plans_parcel", "parcel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    #: ``domain.standard_supply.plan_to_dict``: indicators, 入驻评审 class, term, mode, 履约保函.
    plan: Mapped[dict] = mapped_column(JSON, default=dict)
    #: draft / approved / withdrawn
    status: Mapped[str] = mapped_column(String(20), default="draft")
    #: The R5/R6 verdicts and reasons at approval, as filed.
    review: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    #: 批准文号 and who approved when.
    approval_number: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    parcel: Mapped[Parcel] = relationship()
