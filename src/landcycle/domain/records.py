"""Input records of the land registry and their validation (pure: no database).

A validator returns a list of :class:`Problem` — empty when the record is acceptable —
so that a batch can report every problem at once before anything is written. Checks
that need the database (duplicates, unknown zones) live in the services.
"""

from __future__ import annotations

from functools import lru_cache

from dataclasses import dataclass, field
from datetime import date

from shapely.geometry.base import BaseGeometry

from .errors import Problem
from .geometry import parcel_geometry_problems
from .identifiers import normalise_credit_code, parse_parcel_code
from .labels import field_label
from .vocabulary import (
    AcceptanceResult,
    FigureIndicator,
    InefficiencyCategory,
    LandSource,
    LandState,
    OccupancyRole,
    SupplyMethod,
)

#: Fields whose values come from a controlled vocabulary: stored as the English value,
#: accepted as value or Chinese label, shown as the label.
LABELLED_FIELDS = {
    "state": LandState,
    "land_source": LandSource,
    "supply_method": SupplyMethod,
    "role": OccupancyRole,
    "completion_result": AcceptanceResult,
    "production_result": AcceptanceResult,
    "indicator": FigureIndicator,
}


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
        error = _enum_error(enum, value)
    except TypeError:  # unhashable: not remembered
        error = _enum_error.__wrapped__(enum, value)
    return [_p(record, fld, error)] if error else []


@lru_cache(maxsize=4096)
def _enum_error(enum, value) -> str | None:
    """Why ``value`` is no member of ``enum`` (None if it is); remembered, since a batch of
    thousands of rows repeats a handful of values."""
    try:
        enum.parse(value)
        return None
    except ValueError as exc:
        return str(exc)


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
    problems += _too_long(record, {"location": (d.location, LOCATION_MAX), "land_use": (d.land_use, LAND_USE_MAX)})
    return problems


#: Longest texts the registry stores (the column sizes).
LOCATION_MAX = 300
LAND_USE_MAX = 8
ENTERPRISE_NAME_MAX = 200


def _too_long(record: str, texts: dict[str, tuple[str | None, int]]) -> list[Problem]:
    return [_p(record, name, f"最长{limit}个字符，实际为{len(value)}个")
            for name, (value, limit) in texts.items() if value is not None and len(value) > limit]


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
    problems += _too_long(record, {"name": (d.name, ENTERPRISE_NAME_MAX)})
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


# --------------------------------------------------------------------------- ledgers
#: 出让最高年限 of industrial land (城镇国有土地使用权出让和转让暂行条例 第十二条).
INDUSTRIAL_MAX_TERM_YEARS = 50
#: Longest term any land-use right can be granted for (residential, same article).
MAX_TERM_YEARS = 70
#: Longest contract / agreement number stored.
CONTRACT_NO_MAX = 60


def _ratio_problems(record: str, values: dict[str, float | None]) -> list[Problem]:
    return [_p(record, k, f"比例应在0到1之间，实际为 {v}") for k, v in values.items()
            if v is not None and not 0 <= v <= 1]


def _date_order(record: str, pairs: list[tuple[str, date | None, str, date | None]]) -> list[Problem]:
    """A problem on the later field of each (earlier, later) pair given in the wrong order."""
    out = []
    for early_name, early, late_name, late in pairs:
        if early is not None and late is not None and late < early:
            out.append(_p(record, late_name, f"不能早于{field_label(early_name)}（{early.isoformat()}）"))
    return out


@dataclass
class SupplyContractDraft:
    """出让合同 (or 划拨决定书 / lease) as submitted; ``credit_code`` names the 受让人."""

    contract_no: str
    credit_code: str
    supply_method: str
    signed_date: date
    term_years: int
    price_wan: float
    agreed_start_date: date
    agreed_completion_date: date
    forbids_split: bool = False


def contract_problems(d: SupplyContractDraft, industrial: bool = True) -> list[Problem]:
    """What is wrong with a contract, without the database (``industrial``: the parcel is
    工业用地, whose term may not exceed :data:`INDUSTRIAL_MAX_TERM_YEARS`)."""
    record = f"供地合同 {d.contract_no or '(无编号)'}"
    problems = []
    if not (d.contract_no or "").strip():
        problems.append(_p(record, "contract_no", "不能为空"))
    elif len(d.contract_no.strip()) > CONTRACT_NO_MAX:
        problems.append(_p(record, "contract_no", f"最长{CONTRACT_NO_MAX}个字符"))
    try:
        normalise_credit_code(d.credit_code)
    except ValueError as exc:
        problems.append(_p(record, "credit_code", str(exc)))
    problems += _enum_problem(record, "supply_method", d.supply_method, SupplyMethod)
    limit = INDUSTRIAL_MAX_TERM_YEARS if industrial else MAX_TERM_YEARS
    if not 1 <= d.term_years <= limit:
        why = "工业用地出让最高年限为50年" if industrial else f"最长{MAX_TERM_YEARS}年"
        problems.append(_p(record, "term_years", f"应在1到{limit}年之间（{why}），实际为 {d.term_years}"))
    problems += _non_negative(record, {"price_wan": d.price_wan})
    problems += _date_order(record, [("signed_date", d.signed_date, "agreed_start_date", d.agreed_start_date),
                                     ("agreed_start_date", d.agreed_start_date,
                                      "agreed_completion_date", d.agreed_completion_date)])
    return problems


@dataclass
class PerformanceAgreementDraft:
    """履约监管协议 as submitted, attached to the contract ``contract_no``."""

    contract_no: str
    signed_date: date
    agreed_start_date: date
    agreed_completion_date: date
    agreed_production_date: date
    investment_intensity_wan_per_mu: float | None = None
    total_investment_wan: float | None = None
    plot_ratio: float | None = None
    building_density: float | None = None
    building_coverage: float | None = None
    green_ratio: float | None = None
    office_living_ratio: float | None = None
    tax_per_mu_wan: float | None = None
    output_per_mu_wan: float | None = None
    performance_guarantee_wan: float | None = None


def agreement_problems(d: PerformanceAgreementDraft) -> list[Problem]:
    """What is wrong with a 履约监管协议, without the database: milestones in order
    (动工 ≤ 竣工 ≤ 达产), ratios within 0–1, money and intensities not negative."""
    record = f"履约监管协议（合同 {d.contract_no or '(无编号)'}）"
    problems = []
    if not (d.contract_no or "").strip():
        problems.append(_p(record, "contract_no", "不能为空"))
    problems += _date_order(record, [
        ("agreed_start_date", d.agreed_start_date, "agreed_completion_date", d.agreed_completion_date),
        ("agreed_completion_date", d.agreed_completion_date, "agreed_production_date", d.agreed_production_date)])
    problems += _non_negative(record, {k: getattr(d, k) for k in (
        "investment_intensity_wan_per_mu", "total_investment_wan", "tax_per_mu_wan", "output_per_mu_wan",
        "performance_guarantee_wan")})
    problems += _non_negative(record, {"plot_ratio": d.plot_ratio}, strictly=True)
    problems += _ratio_problems(record, {k: getattr(d, k) for k in (
        "building_density", "building_coverage", "green_ratio", "office_living_ratio")})
    return problems


@dataclass
class DevelopmentDraft:
    """开发建设情况 of a supplied parcel: progress and acceptance results."""

    actual_start_date: date | None = None
    stopped_since: date | None = None
    developed_area_m2: float | None = None
    investment_done_wan: float | None = None
    investment_total_wan: float | None = None
    completion_result: str = AcceptanceResult.PENDING.value
    completion_date: date | None = None
    production_result: str = AcceptanceResult.PENDING.value
    production_date: date | None = None
    floor_area_m2: float | None = None
    footprint_m2: float | None = None
    coverage_area_m2: float | None = None
    green_area_m2: float | None = None
    office_living_area_m2: float | None = None


#: Development areas that are parts of the parcel's land (not floor area): none may exceed the parcel.
DEVELOPMENT_LAND_AREAS = ("developed_area_m2", "footprint_m2", "coverage_area_m2", "green_area_m2",
                          "office_living_area_m2")


def development_problems(d: DevelopmentDraft, parcel_code: str, parcel_area_m2: float | None = None) -> list[Problem]:
    """What is wrong with a parcel's development facts: dates in order (动工 → 停工/竣工 → 达产),
    no production acceptance before completion passed (R9), areas and money not negative and
    land areas within the parcel (``parcel_area_m2``)."""
    record = f"宗地 {parcel_code} 的开发建设情况"
    problems = _enum_problem(record, "completion_result", d.completion_result, AcceptanceResult)
    problems += _enum_problem(record, "production_result", d.production_result, AcceptanceResult)
    problems += _date_order(record, [
        ("actual_start_date", d.actual_start_date, "stopped_since", d.stopped_since),
        ("actual_start_date", d.actual_start_date, "completion_date", d.completion_date),
        ("completion_date", d.completion_date, "production_date", d.production_date)])
    problems += _non_negative(record, {k: getattr(d, k) for k in (
        "developed_area_m2", "investment_done_wan", "investment_total_wan", "floor_area_m2", "footprint_m2",
        "coverage_area_m2", "green_area_m2", "office_living_area_m2")})
    if not problems:
        completion = AcceptanceResult.parse(d.completion_result)
        production = AcceptanceResult.parse(d.production_result)
        if production is not AcceptanceResult.PENDING and completion is not AcceptanceResult.PASSED:
            problems.append(_p(record, "production_result", "竣工验收通过之前不能进行达产验收"))
        for name, result, when in (("completion_date", completion, d.completion_date),
                                   ("production_date", production, d.production_date)):
            if result is not AcceptanceResult.PENDING and when is None:
                problems.append(_p(record, name, "已有验收结果时必须填写验收日期"))
    if parcel_area_m2 is not None:
        for name in DEVELOPMENT_LAND_AREAS:
            v = getattr(d, name)
            if v is not None and v > parcel_area_m2 * 1.0001:
                problems.append(_p(record, name, f"{v:.2f} 平方米超过宗地面积 {parcel_area_m2:.2f} 平方米"))
    return problems
