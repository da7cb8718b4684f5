"""Enterprises, their use of parcels (用地关系) and the yearly figures departments supply."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, or_, select

from ..domain.errors import Problem, ValidationFailed
from ..domain.identifiers import normalise_credit_code
from ..domain.records import EnterpriseDraft, OccupancyDraft, enterprise_problems, occupancy_problems
from ..domain.vocabulary import FIGURE_UNITS, FigureIndicator, JurisdictionKind, OccupancyRole
from ..storage.db import Database
from ..storage.schema import Enterprise, EnterpriseFigure, Occupancy, Parcel
from . import jurisdictions

#: Figures that can legitimately be negative (a loss); all others must be ≥ 0.
SIGNED_FIGURES = {FigureIndicator.PROFIT}
#: Plausible range of figure years.
FIRST_FIGURE_YEAR = 2000


def register_enterprise(db: Database, d: EnterpriseDraft, actor: str, reason: str | None = None) -> str:
    """Register an enterprise; returns its normalised 统一社会信用代码."""
    problems = enterprise_problems(d)
    with db.transaction(actor=actor, reason=reason) as s:
        record = f"企业 {d.name or d.credit_code}"
        county_id = None
        if d.county:
            try:
                county_id = jurisdictions.resolve(s, d.county, JurisdictionKind.COUNTY, record, "county_id").id
            except ValidationFailed as exc:
                problems += exc.problems
        if problems:
            raise ValidationFailed(problems)
        code = normalise_credit_code(d.credit_code)
        if s.scalar(select(Enterprise.id).where(Enterprise.credit_code == code)):
            raise ValidationFailed(Problem(record, "credit_code", f"统一社会信用代码 {code} 已登记", "duplicate"))
        s.add(Enterprise(credit_code=code, name=d.name.strip(), industry_code=d.industry_code,
                         above_scale=d.above_scale, county_id=county_id))
    return code


def add_occupancy(db: Database, d: OccupancyDraft, actor: str, reason: str | None = None) -> int:
    """Record that an enterprise uses (part of) a parcel as 权利人 or 承租人.

    Refused when the parcel or enterprise is unknown, the area exceeds the parcel, or the
    tenants' areas over an overlapping period would together exceed the parcel.
    """
    problems = occupancy_problems(d)
    record = f"宗地 {d.parcel_code} 的用地关系（{d.credit_code}）"
    with db.transaction(actor=actor, reason=reason) as s:
        parcel = s.scalar(select(Parcel).where(Parcel.code == d.parcel_code.strip().upper()))
        enterprise = s.scalar(select(Enterprise).where(Enterprise.credit_code == d.credit_code.strip().upper()))
        if parcel is None:
            problems.append(Problem(record, "parcel_id", f"宗地 {d.parcel_code} 不存在", "unknown_parcel"))
        if enterprise is None:
            problems.append(Problem(record, "enterprise_id", f"企业 {d.credit_code} 未登记", "unknown_enterprise"))
        if parcel is not None and not problems:
            if d.area_m2 > parcel.area_m2 * 1.0001:
                problems.append(Problem(record, "area_m2",
                                        f"用地面积 {d.area_m2:.2f} 平方米超过宗地面积 {parcel.area_m2:.2f} 平方米"))
            role = OccupancyRole.parse(d.role)
            if role is OccupancyRole.TENANT:
                end = d.end_date or date.max
                leased = s.scalar(select(func.coalesce(func.sum(Occupancy.area_m2), 0.0)).where(
                    Occupancy.parcel_id == parcel.id, Occupancy.role == OccupancyRole.TENANT.value,
                    Occupancy.start_date <= end,
                    or_(Occupancy.end_date.is_(None), Occupancy.end_date >= d.start_date)))
                if leased + d.area_m2 > parcel.area_m2 * 1.0001:
                    problems.append(Problem(record, "area_m2",
                                            f"同期承租面积合计 {leased + d.area_m2:.2f} 平方米超过宗地面积"))
        if problems:
            raise ValidationFailed(problems)
        occ = Occupancy(parcel_id=parcel.id, enterprise_id=enterprise.id,
                        role=OccupancyRole.parse(d.role).value, area_m2=d.area_m2,
                        start_date=d.start_date, end_date=d.end_date)
        s.add(occ)
        s.flush()
        return occ.id


def submit_figures(db: Database, credit_code: str, year: int, values: dict[str, float],
                   department: str, actor: str, reason: str | None = None) -> int:
    """A department submits an enterprise's figures for a year (one row per indicator).

    A resubmitted figure replaces the earlier value as an audited update (the old value
    stays in the change log). Returns the number of figures written.
    """
    record = f"企业 {credit_code} {year}年数据"
    problems = []
    if not FIRST_FIGURE_YEAR <= year <= date.today().year:
        problems.append(Problem(record, "year", f"年度 {year} 不在 {FIRST_FIGURE_YEAR}–{date.today().year} 之间"))
    if not (department or "").strip():
        problems.append(Problem(record, "department", "必须注明报送部门"))
    parsed = {}
    for key, value in values.items():
        try:
            ind = FigureIndicator.parse(key)
        except ValueError as exc:
            problems.append(Problem(record, "indicator", str(exc)))
            continue
        if value is None or value != value:
            problems.append(Problem(record, ind.value, f"{ind.label}：缺少数值"))
        elif value < 0 and ind not in SIGNED_FIGURES:
            problems.append(Problem(record, ind.value, f"{ind.label}：不能为负数（{value}）"))
        else:
            parsed[ind] = float(value)
    with db.transaction(actor=actor, reason=reason) as s:
        enterprise = s.scalar(select(Enterprise).where(Enterprise.credit_code == credit_code.strip().upper()))
        if enterprise is None:
            problems.append(Problem(record, "enterprise_id", f"企业 {credit_code} 未登记", "unknown_enterprise"))
        if problems:
            raise ValidationFailed(problems)
        existing = {f.indicator: f for f in s.scalars(select(EnterpriseFigure).where(
            EnterpriseFigure.enterprise_id == enterprise.id, EnterpriseFigure.year == year))}
        for ind, value in parsed.items():
            row = existing.get(ind.value)
            if row is None:
                s.add(EnterpriseFigure(enterprise_id=enterprise.id, year=year, indicator=ind.value,
                                       value=value, unit=FIGURE_UNITS[ind], department=department))
            else:
                row.value, row.department = value, department
    return len(parsed)
