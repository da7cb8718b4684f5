"""Input records of the land registry and their validation (pure: no database).

A validator returns a list of :class:`Problem` — empty when the record is acceptable —
so that a batch can report every problem at once before anything is written. Checks
that need the database (duplicates, unknown zones) live in the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from shapely.geometry.base import BaseGeometry

from .errors import Problem
from .geometry import parcel_geometry_problems
from .identifiers import normalise_credit_code, parse_parcel_code
from .labels import field_label
from .vocabulary import InefficiencyCategory, LandSource, LandState, OccupancyRole, SupplyMethod


@dataclass
class ParcelDraft:
    """A parcel as submitted for registration. ``zone`` and ``county`` are codes, names or aliases."""

    code: str
    geometry: BaseGeometry
    county: str
    zone: str | None = None
    location: str = ""
    land_use: str = "0601"
    state: str = LandState.APPROVED_UNSUPPLIED.value
    inefficiency_categories: list[str] = field(default_factory=list)
    land_source: str | None = None
    supply_method: str | None = None
    supply_date: date | None = None
    term_years: int | None = None
    price_wan: float | None = None
    plot_ratio_min: float | None = None
    plot_ratio_max: float | None = None
    building_density_min: float | None = None
    green_ratio_max: float | None = None
    height_limit_m: float | None = None
    is_standard_land: bool = False
    is_standard_factory: bool = False
    #: Area stated by the source (survey), m²; checked against the geometry when given.
    stated_area_m2: float | None = None


def _p(record: str, fld: str, msg: str, code: str = "invalid") -> Problem:
    return Problem(record, fld, f"{field_label(fld)}：{msg}", code)


def _enum_problem(record: str, fld: str, value, enum) -> list[Problem]:
    if value is None:
        return []
    try:
        enum.parse(value)
        return []
    except ValueError as exc:
        return [_p(record, fld, str(exc))]


def _non_negative(record: str, fields: dict[str, float | None], strictly: bool = False) -> list[Problem]:
    out = []
    for name, value in fields.items():
        if value is None:
            continue
        if value < 0 or (strictly and value == 0):
            out.append(_p(record, name, f"应为{'正数' if strictly else '非负数'}，实际为 {value}"))
    return out


def parcel_problems(d: ParcelDraft, area_tolerance: float = 0.05,
                    geometry_problems: list[str] | None = None) -> list[Problem]:
    """Everything wrong with a parcel draft that can be seen without the database.

    ``geometry_problems``: the geometry's messages when the caller has already computed them
    for a whole batch (``parcel_geometry_problems_many``)."""
    record = f"宗地 {d.code or '(无代码)'}"
    problems: list[Problem] = []
    try:
        parse_parcel_code(d.code)
    except ValueError as exc:
        problems.append(_p(record, "code", str(exc)))
    if geometry_problems is None:
        geometry_problems = parcel_geometry_problems(d.geometry)
    for msg in geometry_problems:
        problems.append(_p(record, "geometry", msg, "invalid_geometry"))
    problems += _enum_problem(record, "state", d.state, LandState)
    problems += _enum_problem(record, "land_source", d.land_source, LandSource)
    problems += _enum_problem(record, "supply_method", d.supply_method, SupplyMethod)
    for cat in d.inefficiency_categories:
        problems += _enum_problem(record, "inefficiency_categories", cat, InefficiencyCategory)
    problems += _non_negative(record, {"term_years": d.term_years, "price_wan": d.price_wan,
                                       "height_limit_m": d.height_limit_m})
    problems += _non_negative(record, {"stated_area_m2": d.stated_area_m2}, strictly=True)
    for name in ("building_density_min", "green_ratio_max"):
        v = getattr(d, name)
        if v is not None and not 0 <= v <= 1:
            problems.append(_p(record, name, f"比例应在0到1之间，实际为 {v}"))
    if d.plot_ratio_min is not None and d.plot_ratio_max is not None and d.plot_ratio_min > d.plot_ratio_max:
        problems.append(_p(record, "plot_ratio_min", "容积率下限大于上限"))
    if not d.county:
        problems.append(_p(record, "county_id", "必须填写所属县(市、区)"))
    return problems


def stated_area_problem(record: str, stated_m2: float | None, computed_m2: float,
                        tolerance: float) -> Problem | None:
    """A problem when the stated area and the geometry's area differ by more than ``tolerance``."""
    if stated_m2 is None or computed_m2 <= 0:
        return None
    diff = abs(stated_m2 - computed_m2) / computed_m2
    if diff > tolerance:
        return _p(record, "area_m2",
                  f"申报面积 {stated_m2:.2f} 与图形面积 {computed_m2:.2f} 相差 {diff:.1%}，超过允许的 {tolerance:.0%}",
                  "area_mismatch")
    return None


@dataclass
class EnterpriseDraft:
    credit_code: str
    name: str
    industry_code: str | None = None
    above_scale: bool = False
    county: str | None = None


def enterprise_problems(d: EnterpriseDraft) -> list[Problem]:
    record = f"企业 {d.name or d.credit_code}"
    problems = []
    try:
        normalise_credit_code(d.credit_code)
    except ValueError as exc:
        problems.append(_p(record, "credit_code", str(exc)))
    if not (d.name or "").strip():
        problems.append(_p(record, "name", "不能为空"))
    if d.industry_code is not None and not _is_industry_code(d.industry_code):
        problems.append(_p(record, "industry_code",
                           f"“{d.industry_code}”不是GB/T 4754行业代码（门类字母加2–4位数字，如C3411）"))
    return problems


def _is_industry_code(code: str) -> bool:
    return (len(code) in (3, 4, 5) and code[0] in "ABCDEFGHIJKLMNOPQRST" and code[1:].isdigit())


@dataclass
class OccupancyDraft:
    parcel_code: str
    credit_code: str
    role: str
    area_m2: float
    start_date: date
    end_date: date | None = None


def occupancy_problems(d: OccupancyDraft) -> list[Problem]:
    record = f"宗地 {d.parcel_code} 的用地关系（{d.credit_code}）"
    problems = _enum_problem(record, "role", d.role, OccupancyRole)
    problems += _non_negative(record, {"area_m2": d.area_m2}, strictly=True)
    if d.end_date is not None and d.end_date < d.start_date:
        problems.append(_p(record, "end_date", "终止日期早于起始日期"))
    return problems
