"""Stored annual evaluations (`landcycle evaluate --year Y`): runs and their results.

* ``evaluation_runs`` — one row per run: the year, the as-of day, when, who, the rulebook label,
  its fingerprint and its full settings (JSON snapshot: later rulebook edits never change what a
  stored run says), the method version, the inputs fingerprint (SHA-256 over the input arrays)
  and the per-zone summary.
* ``parcel_evaluations`` / ``enterprise_evaluations`` — wide result rows (one per parcel or
  enterprise per run), written in bulk.

Results are versioned for 公示: a revised result (e.g. after an upheld objection) is a NEW row with
``result_version`` + 1 and ``supersedes_id`` pointing at the row it revises; the original row is
never updated. The current result of an entity in a run is its highest ``result_version``.

``parcel_id`` / ``enterprise_id`` carry no foreign key on purpose: a run is an archive of what
was evaluated, and must survive later edits or removals in the registry (e.g. ``demo --replace``);
the zone and area used are stored with the row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, utcnow


class EvaluationRun(Base):
    """One annual evaluation run (R1–R4) and what it was computed from."""

    __tablename__ = "evaluation_runs"
    __table_args__ = (Index("ix_evaluation_runs_year", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    rulebook_version: Mapped[str] = mapped_column(String(100))
    rulebook_fingerprint: Mapped[str] = mapped_column(String(64))
    rulebook_settings: Mapped[dict] = mapped_column(JSON)
    method_version: Mapped[str] = mapped_column(String(20))
    inputs_fingerprint: Mapped[str] = mapped_column(String(64))
    parcels: Mapped[int] = mapped_column(Integer)
    enterprises: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict] = mapped_column(JSON)


class ParcelEvaluation(Base):
    """R1, R3 and R4 for one parcel in one run."""

    __tablename__ = "parcel_evaluations"
    __table_args__ = (
        UniqueConstraint("run_id", "parcel_id", "result_version", name="uq_parcel_evaluations_version"),
        Index("ix_parcel_evaluations_parcel", "parcel_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id"))  # indexed by the unique key
    parcel_id: Mapped[int] = mapped_column(Integer)
    result_version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("parcel_evaluations.id"))
    zone_id: Mapped[int | None] = mapped_column(Integer)
    area_mu: Mapped[float] = mapped_column(Float)
    # R1 (万元, 万元/亩)
    tax_total_wan: Mapped[float | None] = mapped_column(Float)
    output_total_wan: Mapped[float | None] = mapped_column(Float)
    tax_per_mu_wan: Mapped[float | None] = mapped_column(Float)
    output_per_mu_wan: Mapped[float | None] = mapped_column(Float)
    tenants: Mapped[int] = mapped_column(Integer)
    standard_factory: Mapped[bool] = mapped_column(Boolean)
    owner_enterprise_id: Mapped[int | None] = mapped_column(Integer)
    owner_class: Mapped[str | None] = mapped_column(String(2))
    # R3
    idle_outcome: Mapped[str] = mapped_column(String(20))
    idle_since: Mapped[date | None] = mapped_column(Date)
    idle_years: Mapped[int | None] = mapped_column(Integer)
    idle_fee_wan: Mapped[float | None] = mapped_column(Float)
    # R4: bit per InefficiencyCategory (domain.rules.evaluation.CATEGORY_BITS)
    low_efficiency_mask: Mapped[int] = mapped_column(Integer)
    below_contract_mask: Mapped[int] = mapped_column(Integer)
    unchecked_mask: Mapped[int] = mapped_column(Integer)
    years_without_profit: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)  # for revised versions (公示 objections)


class EnterpriseEvaluation(Base):
    """R1 (over the enterprise's land unit) and R2 for one enterprise in one run."""

    __tablename__ = "enterprise_evaluations"
    __table_args__ = (
        UniqueConstraint("run_id", "enterprise_id", "result_version", name="uq_enterprise_evaluations_version"),
        Index("ix_enterprise_evaluations_enterprise", "enterprise_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id"))  # indexed by the unique key
    enterprise_id: Mapped[int] = mapped_column(Integer)
    result_version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise_evaluations.id"))
    zone_id: Mapped[int | None] = mapped_column(Integer)
    above_scale: Mapped[bool] = mapped_column(Boolean)
    land_area_mu: Mapped[float] = mapped_column(Float)
    tax_total_wan: Mapped[float | None] = mapped_column(Float)
    tax_per_mu_wan: Mapped[float | None] = mapped_column(Float)
    output_per_mu_wan: Mapped[float | None] = mapped_column(Float)
    production_years: Mapped[int | None] = mapped_column(Integer)
    #: "evaluated" or "not_evaluated" (listed, never silently scored; managed as the rulebook says).
    status: Mapped[str] = mapped_column(String(20))
    not_evaluated_reason: Mapped[str | None] = mapped_column(Text)
    managed_as: Mapped[str | None] = mapped_column(String(2))
    score: Mapped[float | None] = mapped_column(Float)
    result_class: Mapped[str | None] = mapped_column(String(2))
    missing_items: Mapped[int] = mapped_column(Integer)
    item_tax_per_mu: Mapped[float | None] = mapped_column(Float)
    item_value_added_per_mu: Mapped[float | None] = mapped_column(Float)
    item_value_added_per_energy: Mapped[float | None] = mapped_column(Float)
    item_value_added_per_emission: Mapped[float | None] = mapped_column(Float)
    item_labour_productivity: Mapped[float | None] = mapped_column(Float)
    item_rd_intensity: Mapped[float | None] = mapped_column(Float)
    item_tax_per_energy: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
