"""The land registry schema (SQLAlchemy 2 ORM). See docs/data-model.md.

Money in 万元, areas in m² (亩 derived and stored for ledgers), dates as dates.
Editable records carry ``version`` (optimistic concurrency: a stale write fails instead of
overwriting). Records marked ``__audited__`` are written to the 一地一档 change log by
``storage.history`` on every insert, update and delete.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from .spatial import GeometryColumn

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    #: Whether changes to rows of this class go to the change log (一地一档).
    __audited__ = False


class Versioned:
    """Mixin: a version counter SQLAlchemy checks on every UPDATE (no lost updates)."""

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.version}


class Jurisdiction(Base):
    """City, county/district, management area (管委会) or 产业集聚区.

    ``parent`` is the administrative parent; ``territory_county`` is the county whose
    polygon the jurisdiction lies in (they differ for 经开区/示范区, DOMAIN.md §3).
    """

    __tablename__ = "jurisdictions"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    territory_county_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    lead_industries: Mapped[list] = mapped_column(JSON, default=list)
    #: 亩均税收 target tier, 万元/亩 (max None for "≥ min").
    tax_target_min_wan: Mapped[float | None] = mapped_column(Float)
    tax_target_max_wan: Mapped[float | None] = mapped_column(Float)
    geometry = mapped_column(GeometryColumn(), nullable=True)
    area_m2: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(200))

    parent: Mapped[Jurisdiction | None] = relationship(remote_side=[id], foreign_keys=[parent_id])
    territory_county: Mapped[Jurisdiction | None] = relationship(
        remote_side=[id], foreign_keys=[territory_county_id]
    )
    aliases: Mapped[list[JurisdictionAlias]] = relationship(
        back_populates="jurisdiction", cascade="all, delete-orphan"
    )


class JurisdictionAlias(Base):
    """Other names a jurisdiction goes by in the gazettes (e.g. 经济技术产业集聚区)."""

    __tablename__ = "jurisdiction_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    alias: Mapped[str] = mapped_column(String(100), unique=True)
    jurisdiction: Mapped[Jurisdiction] = relationship(back_populates="aliases")


class Enterprise(Versioned, Base):
    """An enterprise (企业) identified by its 统一社会信用代码."""

    __tablename__ = "enterprises"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: GB/T 4754-2017 industry code, e.g. "C3411".
    industry_code: Mapped[str | None] = mapped_column(String(5))
    #: 规上 (above designated size) or 规下.
    above_scale: Mapped[bool] = mapped_column(Boolean, default=False)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class Parcel(Versioned, Base):
    """A 宗地: boundary, area, use, lifecycle state, supply facts and planning conditions."""

    __tablename__ = "parcels"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("area_m2 > 0", name="area_positive"),
        Index("ix_parcels_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),
        # Search pages are ordered by code: with the filter column first, a page is read in
        # index order instead of sorting every matching row (deep pages: 270 → 10 ms at 200k).
        Index("ix_parcels_state_code", "state", "code"),
        Index("ix_parcels_zone_code", "zone_id", "code"),
        Index("ix_parcels_county_code", "county_id", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(19), unique=True)
    location: Mapped[str] = mapped_column(String(300), default="")
    geometry = mapped_column(GeometryColumn(), nullable=False)
    # Bounding box in EPSG:4490, kept beside the geometry: SQLite filters on it; PostGIS
    # uses its GiST index instead.
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    #: Area measured in the parcel's own CGCS2000 3° GK zone (``gk_epsg``).
    area_m2: Mapped[float] = mapped_column(Float)
    area_mu: Mapped[float] = mapped_column(Float)
    gk_epsg: Mapped[int] = mapped_column(Integer)
    #: GB/T 21010 land-use code and name, e.g. "0601" 工业用地.
    land_use: Mapped[str] = mapped_column(String(8), default="0601")
    state: Mapped[str] = mapped_column(String(30))
    #: 低效 categories (list of InefficiencyCategory values) when state is inefficient.
    inefficiency_categories: Mapped[list] = mapped_column(JSON, default=list)
    land_source: Mapped[str | None] = mapped_column(String(30))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    county_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    # Supply facts (供地).
    supply_method: Mapped[str | None] = mapped_column(String(30))
    supply_date: Mapped[date | None] = mapped_column(Date)
    term_years: Mapped[int | None] = mapped_column(Integer)
    price_wan: Mapped[float | None] = mapped_column(Float)
    # Planning conditions (规划条件).
    plot_ratio_min: Mapped[float | None] = mapped_column(Float)
    plot_ratio_max: Mapped[float | None] = mapped_column(Float)
    building_density_min: Mapped[float | None] = mapped_column(Float)
    green_ratio_max: Mapped[float | None] = mapped_column(Float)
    height_limit_m: Mapped[float | None] = mapped_column(Float)
    is_standard_land: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 标准厂房: 亩均 figures computed over the tenants (R1).
    is_standard_factory: Mapped[bool] = mapped_column(Boolean, default=False)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    zone: Mapped[Jurisdiction | None] = relationship(foreign_keys=[zone_id])
    county: Mapped[Jurisdiction] = relationship(foreign_keys=[county_id])


class Occupancy(Versioned, Base):
    """Which enterprise uses which parcel, how much of it, as 权利人 or 承租人, and when."""

    __tablename__ = "occupancies"
    __audited__ = True
    __table_args__ = (
        CheckConstraint("area_m2 > 0", name="area_positive"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    area_m2: Mapped[float] = mapped_column(Float)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)

    parcel: Mapped[Parcel] = relationship()
    enterprise: Mapped[Enterprise] = relationship()


class SupplyContract(Versioned, Base):
    """出让合同 (or 划拨决定书 / lease): the terms on which a parcel was supplied."""

    __tablename__ = "supply_contracts"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    contract_no: Mapped[str] = mapped_column(String(60), unique=True)
    supply_method: Mapped[str] = mapped_column(String(30))
    signed_date: Mapped[date] = mapped_column(Date)
    term_years: Mapped[int] = mapped_column(Integer)
    price_wan: Mapped[float] = mapped_column(Float)
    #: 合同约定动工/竣工日期 (R3 measures 闲置 from the agreed start).
    agreed_start_date: Mapped[date] = mapped_column(Date)
    agreed_completion_date: Mapped[date] = mapped_column(Date)
    #: The contract forbids 分割转让 (R8).
    forbids_split: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 地上建筑物处置方式 on exit (R9, 000:1034): ``vocabulary.BuildingDisposal`` (migration 0013).
    building_disposal: Mapped[str | None] = mapped_column(String(30))

    parcel: Mapped[Parcel] = relationship()
    enterprise: Mapped[Enterprise] = relationship()


class PerformanceAgreement(Versioned, Base):
    """履约监管协议: agreed milestones, committed indicators and the 履约保函."""

    __tablename__ = "performance_agreements"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("supply_contracts.id"), unique=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    agreed_start_date: Mapped[date] = mapped_column(Date)
    agreed_completion_date: Mapped[date] = mapped_column(Date)
    agreed_production_date: Mapped[date] = mapped_column(Date)
    # Committed indicators (约定指标).
    investment_intensity_wan_per_mu: Mapped[float | None] = mapped_column(Float)  # 投资强度
    total_investment_wan: Mapped[float | None] = mapped_column(Float)
    plot_ratio: Mapped[float | None] = mapped_column(Float)  # 容积率
    building_density: Mapped[float | None] = mapped_column(Float)  # 建筑密度
    building_coverage: Mapped[float | None] = mapped_column(Float)  # 建筑系数
    green_ratio: Mapped[float | None] = mapped_column(Float)  # 绿地率 (a ceiling)
    office_living_ratio: Mapped[float | None] = mapped_column(Float)  # 办公生活设施用地比例 (ceiling)
    tax_per_mu_wan: Mapped[float | None] = mapped_column(Float)  # 亩均税收
    output_per_mu_wan: Mapped[float | None] = mapped_column(Float)  # 产出强度
    performance_guarantee_wan: Mapped[float | None] = mapped_column(Float)  # 履约保函
    signed_date: Mapped[date] = mapped_column(Date)

    contract: Mapped[SupplyContract] = relationship()


class ParcelDevelopment(Versioned, Base):
    """How far a supplied parcel has been developed, and its acceptance results."""

    __tablename__ = "parcel_developments"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), unique=True)
    actual_start_date: Mapped[date | None] = mapped_column(Date)
    #: Date construction stopped, if it did (R3/R4: stopped for a full year).
    stopped_since: Mapped[date | None] = mapped_column(Date)
    developed_area_m2: Mapped[float | None] = mapped_column(Float)
    investment_done_wan: Mapped[float | None] = mapped_column(Float)
    investment_total_wan: Mapped[float | None] = mapped_column(Float)
    completion_result: Mapped[str] = mapped_column(String(10), default="pending")
    completion_date: Mapped[date | None] = mapped_column(Date)
    production_result: Mapped[str] = mapped_column(String(10), default="pending")
    production_date: Mapped[date | None] = mapped_column(Date)
    floor_area_m2: Mapped[float | None] = mapped_column(Float)  # 总建筑面积 (计容)
    footprint_m2: Mapped[float | None] = mapped_column(Float)  # 建筑基底面积
    coverage_area_m2: Mapped[float | None] = mapped_column(Float)  # 建构筑物+堆场 (建筑系数)
    green_area_m2: Mapped[float | None] = mapped_column(Float)
    office_living_area_m2: Mapped[float | None] = mapped_column(Float)

    parcel: Mapped[Parcel] = relationship()


class EnterpriseFigure(Versioned, Base):
    """One yearly figure of one enterprise, as supplied by one department."""

    __tablename__ = "enterprise_figures"
    __audited__ = True
    __table_args__ = (UniqueConstraint("enterprise_id", "year", "indicator", name="one_per_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    indicator: Mapped[str] = mapped_column(String(30))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))
    department: Mapped[str] = mapped_column(String(50))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChangeLog(Base):
    """一地一档: append-only record of every change (who, when, what, before, after).

    Database triggers (see the first migration) refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_entity", "entity", "entity_id"),
                      # the audit trail per user (issue 5)
                      Index("ix_change_log_actor_at", "actor", "at"),
                      # the audit trail newest first, paged (issue 5): one index walk, not a sort
                      Index("ix_change_log_at_id", "at", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    #: create / update / delete — or ``conflict`` / ``denied`` for a refused attempt, kept so
    #: the archive shows every attempt (issue 5: both sides of a concurrent edit).
    action: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(40))  # table name
    entity_id: Mapped[int] = mapped_column(Integer)
    #: The parcel this change belongs to, for reading a parcel's whole archive.
    parcel_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    # none_as_null: a missing side is SQL NULL (queryable with IS NULL), not JSON 'null'.
    before: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    after: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
