"""标准地 supply (issue 7, item 2; 000:944–1000, R5, R6) — pure, no I/O.

Three things must hold before a parcel is sold as 标准地:

1. **区域评估** (000:958–960, 000:968–974): the zone has the ten assessment results in force for the
   parcel — :data:`ASSESSMENT_ITEMS` — each recorded with its report, date and validity, covering
   the whole zone or a stated part of it. :func:`assessment_gaps` says which item is missing,
   expired or does not cover the parcel.
2. **出让方案** (000:994–996): the 基础指标 and 发展指标 the buyer will be bound to, the project's
   入驻评审 class and the term and supply mode it gives. :func:`plan_reasons` checks the base
   indicators against the R5 floors (``check_standard_land``, county/zone overrides applied by the
   caller), the term and mode against R6 (``check_admission``) and the plan against the parcel's
   planning conditions.
3. **合同与协议** (000:998–1000): the 出让合同 and the 履约监管协议 carry what the plan fixed —
   :func:`contract_reasons` compares term, mode, committed indicators and the 履约保函.

Every threshold comes from the rulebook (``[regional_assessment]``, ``[standard_land]``,
``[admission]``); nothing here is a number of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import Problem
from .rules.admission import MODE_LABELS, AdmissionCase, check_admission
from .rules.idle import anniversary
from .rules.rulebook import Rulebook
from .rules.standard_land import CLASS_CHOICES, INDICATORS, StandardLandCase, check_standard_land

#: The ten 区域评估 items of 000:960 (第五条), key → Chinese.
ASSESSMENT_ITEMS: dict[str, str] = {
    "land_survey": "土地勘测",
    "mineral_overlay": "矿产压覆",
    "geological_hazard": "地质灾害",
    "energy_saving": "节能",
    "soil_water": "水土保持",
    "cultural_relics": "文物保护",
    "flood_impact": "洪水影响",
    "seismic_safety": "地震安全性",
    "climate_feasibility": "气候可行性",
    "environment": "环境评价",
}

#: 基础指标 of a plan (R5, 000:978): the fields of ``StandardLandCase`` checked against the floors.
BASE_INDICATORS: dict[str, str] = {f: label for f, _key, label, _unit, _pct in INDICATORS}
#: 发展指标 set per parcel (000:980–988): field → (Chinese, unit, "floor" | "ceiling").
DEVELOPMENT_INDICATORS: dict[str, tuple[str, str, str]] = {
    "building_density": ("建筑密度", "比例", "floor"),
    "height_limit_m": ("限高", "米", "ceiling"),
    "energy_tce_per_wan": ("单位能耗", "吨标准煤/万元", "ceiling"),
    "emission_per_wan": ("单位排放", "吨/万元", "ceiling"),
    "jobs_min": ("就业人数", "人", "floor"),
    "rd_ratio_min": ("R&D经费支出与主营业务收入之比", "比例", "floor"),
}
#: Ratios given as decimals (0.35 = 35%).
_RATIOS = {"building_coverage", "office_living_ratio", "green_ratio", "building_density", "rd_ratio_min"}

#: R6 supply modes (``admission`` keys) → the contract's 供地方式 (``SupplyMethod`` values).
MODE_TO_SUPPLY_METHOD: dict[str, str] = {
    "transfer": "transfer",
    "flexible_term_transfer": "transfer",
    "lease_then_transfer": "lease_then_transfer",
    "lease_and_transfer": "lease_and_transfer",
    "long_term_lease": "lease",
}

#: Plan indicator → the 履约监管协议 field carrying the same commitment, and its direction.
AGREEMENT_FIELDS: dict[str, tuple[str, str]] = {
    "far": ("plot_ratio", "floor"),
    "investment_intensity_wan_per_mu": ("investment_intensity_wan_per_mu", "floor"),
    "tax_per_mu_wan": ("tax_per_mu_wan", "floor"),
    "output_per_mu_wan": ("output_per_mu_wan", "floor"),
    "building_coverage": ("building_coverage", "floor"),
    "office_living_ratio": ("office_living_ratio", "ceiling"),
    "green_ratio": ("green_ratio", "ceiling"),
    "building_density": ("building_density", "floor"),
}


def _fmt(x: float, ratio: bool = False) -> str:
    if ratio:
        return f"{x * 100:.4f}".rstrip("0").rstrip(".") + "%"
    return f"{x:.4f}".rstrip("0").rstrip(".")


# =========================================================================== 区域评估
@dataclass(frozen=True)
class Assessment:
    """One recorded 区域评估 result as the checks read it."""

    item: str
    completed_date: date
    #: The end of validity the report states, if it states one.
    valid_until: date | None
    #: Whether the result's area covers the parcel (a whole-zone result always does).
    covers_parcel: bool
    title: str = ""
    number: str = ""


def assessment_valid_until(a: Assessment, rulebook: Rulebook) -> date:
    """The last day a result is in force: its own stated date, else the completion date plus the
    item's validity in the rulebook (``[regional_assessment]``, the seeds give none)."""
    if a.valid_until is not None:
        return a.valid_until
    rules = rulebook.section("regional_assessment")
    years = int(rules.get("validity_years_by_item", {}).get(a.item, rules["validity_years"]))
    return anniversary(a.completed_date, years)


def assessment_status(records: list[Assessment], as_of: date, rulebook: Rulebook) -> list[dict[str, Any]]:
    """Each of the ten items for one parcel on ``as_of``: the newest covering result and whether it
    is in force (``status``: valid / expired / not_covering / missing / not_yet)."""
    out = []
    for item, label in ASSESSMENT_ITEMS.items():
        mine = sorted((r for r in records if r.item == item), key=lambda r: r.completed_date)
        covering = [r for r in mine if r.covers_parcel and r.completed_date <= as_of]
        row: dict[str, Any] = {"item": item, "label": label}
        if covering:
            r = covering[-1]
            until = assessment_valid_until(r, rulebook)
            row.update(completed_date=r.completed_date.isoformat(), valid_until=until.isoformat(),
                       title=r.title, number=r.number,
                       status="valid" if as_of <= until else "expired")
        elif any(r.covers_parcel for r in mine):
            row["status"] = "not_yet"
        else:
            row["status"] = "not_covering" if mine else "missing"
        out.append(row)
    return out


def assessment_gaps(records: list[Assessment], as_of: date, rulebook: Rulebook) -> list[str]:
    """Why the parcel is not covered by a complete, valid 区域评估 on ``as_of`` (empty: it is)."""
    reasons = []
    for row in assessment_status(records, as_of, rulebook):
        label = row["label"]
        if row["status"] == "missing":
            reasons.append(f"区域评估缺少“{label}”成果")
        elif row["status"] == "not_covering":
            reasons.append(f"区域评估“{label}”成果的评估范围未覆盖该宗地")
        elif row["status"] == "not_yet":
            reasons.append(f"区域评估“{label}”成果晚于 {as_of} 才完成")
        elif row["status"] == "expired":
            reasons.append(f"区域评估“{label}”成果（{row['number'] or row['title']}）已于 {row['valid_until']} 失效")
    if reasons:
        reasons = ["“标准地”须在完成区域评估的基础上出让（000:952、000:960、000:968）：" + "；".join(reasons)]
    return reasons


# =========================================================================== 出让方案
@dataclass(frozen=True)
class SupplyPlan:
    """The 出让方案 of a 标准地 (000:994–996): indicators, 入驻评审 class, term and mode."""

    project_class: str
    admission_class: str
    term_years: int
    supply_mode: str
    industry_code: str | None = None
    #: 基础指标, keyed as ``BASE_INDICATORS``.
    base: dict[str, float] = field(default_factory=dict)
    #: 发展指标, keyed as ``DEVELOPMENT_INDICATORS``.
    development: dict[str, float] = field(default_factory=dict)
    #: 开竣工履约保函 the sale notice asks for (万元), if any (000:1000 "可探索").
    guarantee_wan: float | None = None
    #: Build in batches (R6, ≥100 亩): the plan says so when it supplies one batch.
    batch_note: str = ""


def parse_plan(raw: Any, record: str) -> tuple[SupplyPlan | None, list[Problem]]:
    """A plan from request JSON, with every problem (Chinese, naming the field)."""
    if not isinstance(raw, dict):
        return None, [Problem(record, "plan", "出让方案应为对象")]
    problems: list[Problem] = []
    known = {"project_class", "admission_class", "term_years", "supply_mode", "industry_code", "base",
             "development", "guarantee_wan", "batch_note"}
    for k in sorted(set(raw) - known):
        problems.append(Problem(record, k, "未知字段", "unknown_field"))
    pc = raw.get("project_class")
    if pc not in CLASS_CHOICES:
        problems.append(Problem(record, "project_class", f"项目类别“{pc}”无效，应为：" + "、".join(CLASS_CHOICES)))
    ac = raw.get("admission_class")
    if not isinstance(ac, str) or not ac.strip():
        problems.append(Problem(record, "admission_class", "缺少入驻评审类别（鼓励类/允许类/禁止类/特殊类）"))
    term = raw.get("term_years")
    if not isinstance(term, int) or isinstance(term, bool) or not 1 <= term <= 70:
        problems.append(Problem(record, "term_years", f"出让年限“{term}”无效，应为 1–70 的整数（年）"))
    mode = raw.get("supply_mode")
    if mode not in MODE_LABELS:
        problems.append(Problem(record, "supply_mode", f"供应方式“{mode}”无效，应为："
                                + "、".join(f"{v}({k})" for k, v in MODE_LABELS.items())))
    industry = raw.get("industry_code")
    if industry is not None and (not isinstance(industry, str) or len(industry) > 5):
        problems.append(Problem(record, "industry_code", "行业代码应为 GB/T 4754 代码，如 C3411"))

    def numbers(name: str, allowed: dict[str, Any]) -> dict[str, float]:
        values = raw.get(name) or {}
        if not isinstance(values, dict):
            problems.append(Problem(record, name, "应为对象 {指标: 数值}"))
            return {}
        out = {}
        for k, v in values.items():
            where = f"{name}.{k}"
            if k not in allowed:
                problems.append(Problem(record, where, "未知指标，应为：" + "、".join(
                    f"{(lbl[0] if isinstance(lbl, tuple) else lbl)}({key})" for key, lbl in allowed.items()),
                                        "unknown_field"))
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0:
                problems.append(Problem(record, where, f"“{v}”不是非负数"))
            elif k in _RATIOS and v > 1:
                problems.append(Problem(record, where, f"{v} 超出 0–1（比例以小数填写，0.35 即 35%）"))
            else:
                out[k] = float(v)
        return out

    base = numbers("base", BASE_INDICATORS)
    development = numbers("development", DEVELOPMENT_INDICATORS)
    guarantee = raw.get("guarantee_wan")
    if guarantee is not None and (isinstance(guarantee, bool) or not isinstance(guarantee, (int, float))
                                  or guarantee < 0):
        problems.append(Problem(record, "guarantee_wan", f"履约保函金额“{guarantee}”不是非负数（万元）"))
    note = raw.get("batch_note") or ""
    if not isinstance(note, str) or len(note) > 500:
        problems.append(Problem(record, "batch_note", "分批供地说明应为不超过500字的文字"))
    if problems:
        return None, problems
    return SupplyPlan(project_class=pc, admission_class=ac.strip(), term_years=term, supply_mode=mode,
                      industry_code=industry or None, base=base, development=development,
                      guarantee_wan=float(guarantee) if guarantee is not None else None, batch_note=note), []


def plan_to_dict(plan: SupplyPlan) -> dict[str, Any]:
    """The plan as stored and as the API shows it."""
    return {"project_class": plan.project_class, "admission_class": plan.admission_class,
            "term_years": plan.term_years, "supply_mode": plan.supply_mode,
            "supply_mode_label": MODE_LABELS.get(plan.supply_mode, plan.supply_mode),
            "industry_code": plan.industry_code, "base": dict(plan.base), "development": dict(plan.development),
            "guarantee_wan": plan.guarantee_wan, "batch_note": plan.batch_note}


def plan_from_dict(d: dict[str, Any]) -> SupplyPlan:
    """A stored plan back (the stored dict was validated when written)."""
    return SupplyPlan(project_class=d["project_class"], admission_class=d["admission_class"],
                      term_years=int(d["term_years"]), supply_mode=d["supply_mode"],
                      industry_code=d.get("industry_code"), base=dict(d.get("base") or {}),
                      development=dict(d.get("development") or {}), guarantee_wan=d.get("guarantee_wan"),
                      batch_note=d.get("batch_note") or "")


@dataclass(frozen=True)
class PlanReview:
    """A plan checked: the R5 and R6 verdicts and every reason it cannot be approved."""

    standard_land: dict[str, Any]
    admission: dict[str, Any]
    reasons: list[str]

    @property
    def passes(self) -> bool:
        return not self.reasons


def review_plan(plan: SupplyPlan, area_mu: float, plot_ratio_min: float | None, plot_ratio_max: float | None,
                rulebook: Rulebook) -> PlanReview:
    """Check a plan against R5 (floors of its class and industry, with the caller's county/zone
    override already in ``rulebook``), R6 (term and mode of its 入驻评审 class) and the parcel's
    planning conditions. Raises ``ValidationFailed`` only for a class the rulebook does not know."""
    r5 = check_standard_land(StandardLandCase(project_class=plan.project_class, industry_code=plan.industry_code,
                                              **plan.base), rulebook)
    r6 = check_admission(AdmissionCase(review_class=plan.admission_class, area_mu=area_mu), rulebook)
    reasons: list[str] = []
    if r5.outcome != "compliant":
        failed = "；".join(f"{f['label']}" for f in r5.figures["failures"])
        reasons.append(f"出让方案的基础指标未达到“标准地”控制性指标（R5，000:962、000:978）：{failed}"
                       + "；" + "；".join(r5.reasons[1:][:8]))
    if r6.outcome != "supply":
        reasons.append(f"入驻评审为{r6.figures['review_class_label']}，不得供地（R6，000:1154）")
    else:
        allowed_term = int(r6.figures["term_years"])
        if plan.term_years > allowed_term:
            reasons.append(f"出让年限 {plan.term_years} 年超过{r6.figures['review_class_label']}项目的 {allowed_term} 年"
                           f"（R6，{'000:1150' if r6.figures['term_basis'] == 'statutory_max' else '000:1152、000:990'}）")
        if plan.supply_mode not in r6.figures["modes"]:
            reasons.append(f"供应方式“{MODE_LABELS.get(plan.supply_mode, plan.supply_mode)}”不适用于"
                           f"{r6.figures['review_class_label']}项目，应为：{'、'.join(r6.figures['mode_labels'])}（R6）")
        if r6.figures.get("batch_supply_required") and not plan.batch_note.strip():
            reasons.append(f"拟占地 {_fmt(area_mu)} 亩，达到分批供地面积，出让方案须说明分批供地安排（batch_note，000:745）")
    far = plan.base.get("far")
    if far is not None and plot_ratio_min is not None and far < plot_ratio_min:
        reasons.append(f"出让方案容积率 {_fmt(far)} 低于规划条件容积率下限 {_fmt(plot_ratio_min)}")
    if far is not None and plot_ratio_max is not None and far > plot_ratio_max:
        reasons.append(f"出让方案容积率 {_fmt(far)} 高于规划条件容积率上限 {_fmt(plot_ratio_max)}")
    return PlanReview(r5.to_dict(), r6.to_dict(), reasons)


# =========================================================================== 合同与协议
@dataclass(frozen=True)
class SaleTerms:
    """What the 出让合同 and 履约监管协议 recorded after the sale."""

    term_years: int | None
    supply_method: str | None
    price_wan: float | None
    #: The 履约监管协议's committed figures, keyed by its own field names.
    agreement: dict[str, float | None] = field(default_factory=dict)
    guarantee_wan: float | None = None


def contract_reasons(plan: SupplyPlan, terms: SaleTerms, rulebook: Rulebook) -> list[str]:
    """Where the contract and the agreement depart from the approved plan (000:996–998)."""
    out = []
    if terms.term_years is not None and terms.term_years > plan.term_years:
        out.append(f"出让合同年限 {terms.term_years} 年超过出让方案的 {plan.term_years} 年")
    wanted = MODE_TO_SUPPLY_METHOD.get(plan.supply_mode)
    if terms.supply_method is not None and wanted and terms.supply_method != wanted:
        out.append(f"出让合同供地方式与出让方案的“{MODE_LABELS.get(plan.supply_mode, plan.supply_mode)}”不一致")
    committed = {**plan.base, **plan.development}
    for key, (agreement_field, direction) in AGREEMENT_FIELDS.items():
        if key not in committed:
            continue
        want = committed[key]
        label = BASE_INDICATORS.get(key) or DEVELOPMENT_INDICATORS[key][0]
        ratio = key in _RATIOS
        got = terms.agreement.get(agreement_field)
        if got is None:
            out.append(f"履约监管协议未载明{label}（出让方案为 {_fmt(want, ratio)}）")
        elif direction == "floor" and got < want:
            out.append(f"履约监管协议的{label} {_fmt(got, ratio)} 低于出让方案的 {_fmt(want, ratio)}")
        elif direction == "ceiling" and got > want:
            out.append(f"履约监管协议的{label} {_fmt(got, ratio)} 高于出让方案的上限 {_fmt(want, ratio)}")
    share = float(rulebook.section("standard_land").get("performance_guarantee_share_min", 0.0))
    need = plan.guarantee_wan
    if share > 0 and terms.price_wan:
        need = max(need or 0.0, share * terms.price_wan)
    if need:
        if terms.guarantee_wan is None:
            out.append(f"履约监管协议未载明履约保函（应不少于 {_fmt(need)} 万元，000:1000）")
        elif terms.guarantee_wan + 1e-9 < need:
            out.append(f"履约保函 {_fmt(terms.guarantee_wan)} 万元，少于应提交的 {_fmt(need)} 万元（000:1000）")
    if out:
        out = ["出让合同和履约监管协议应载明出让方案确定的指标和要求（000:996、000:998）：" + "；".join(out)]
    return out
