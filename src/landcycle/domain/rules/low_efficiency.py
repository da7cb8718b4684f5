"""R4 低效用地认定, six categories (000:1054-1068).

第三条 有下列情形之一的，可认定为低效用地 — a parcel may fall under several categories at once; the
verdict lists every one that applies, each with its own reason and clause.

Readings chosen (also in ``CHECK.notes``):

* 停建缓建类 (000:1058): "已超过三分之一 … 已超过25%" — strictly above both ("超过" excludes the number,
  民法典第一千二百五十九条): exactly 1/3 or exactly 25 % is not this category. Ratios within ``RATIO_EPS``
  of a threshold count as equal to it. Not for parcels already 闲置 under R3 (the text: 不构成闲置用地的)
  nor for completed projects (a completed project is not 停建缓建).
* 停产半停产类 (000:1062): "未产生经营利润时间超过2年以上" — "超过" excludes the number and governs the
  redundant "以上": more than 2 years (exactly 2 → not this category).
* 开发未达标类 (000:1060): only indicators present in both ``contract_indicators`` and
  ``actual_indicators`` are compared; floors fall short when actual < committed, ceilings when
  actual > committed (the rulebook lists which is which). An indicator committed but not reported is
  named as unchecked, never assumed met.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Problem, ValidationFailed
from ..vocabulary import InefficiencyCategory as Cat
from .inputs import spec
from .rulebook import Rulebook
from .verdict import Citation, RuleCheck, Verdict

RULE, RULE_ID = "low-efficiency", "R4"
#: Float representation tolerance for thresholds and indicator comparisons: not a policy value.
RATIO_EPS = 1e-9

CITE_INTRO = Citation("000:1054", "有下列情形之一的，可认定为低效用地")
CITES = {
    Cat.INDUSTRY_TRANSFORMATION: Citation(
        "000:1056", "产业转型类：国家禁止类、淘汰类产业用地，不符合环保标准和安全生产要求的工业用地，转型升级及"
                    "“退二优二”的工业用地，政府列入“关停并转”范围的工业用地"),
    Cat.CONSTRUCTION_STALLED: Citation(
        "000:1058", "停建缓建类：项目已动工开发建设，其开发建设用地总面积已超过应动工开发建设用地总面积的三分之一且"
                    "建设工程投资额（不包括取得土地使用权的费用和向国家缴纳的税费）已超过总投资额的25%，不构成闲置用地的"),
    Cat.BELOW_CONTRACT: Citation(
        "000:1060", "开发未达标类：项目已开发建设完工投产，但土地出让合同设定的建筑容积率、建筑密度、投资强度、产出强度、"
                    "建筑系数、绿地率、行政办公和生活服务设施配套用地比例7项指标中有未达到约定条件要求，已存在违约事实的"),
    Cat.PRODUCTION_HALTED: Citation(
        "000:1062", "停产半停产类：项目用地已经依法组织竣工验收合格，未产生经营利润时间超过2年以上的"),
    Cat.OUTPUT_SHORTFALL: Citation(
        "000:1064", "产出未达标类：项目用地已经依法组织竣工验收合格、企业生产正常、土地处于依法利用状态中，但在企业"
                    "分类综合评价中，划定为C类（倒逼转型类）企业的"),
    Cat.OTHER: Citation(
        "000:1066-1068", "其他低效用地：经各产业集聚区低效用地整治提升工作领导小组认定的其他低效利用存量建设用地"),
}
CITE_READING = Citation("中华人民共和国民法典 第一千二百五十九条",
                        "民法所称的“以上”“以下”“以内”“届满”，包括本数；所称的“不满”“超过”“以外”，不包括本数")

INDICATOR_LABELS = {
    "plot_ratio": "建筑容积率",
    "building_density": "建筑密度",
    "investment_intensity": "投资强度",
    "output_intensity": "产出强度",
    "building_coverage": "建筑系数",
    "green_ratio": "绿地率",
    "office_living_ratio": "行政办公和生活服务设施配套用地比例",
}


@dataclass(frozen=True)
class IndicatorFinding:
    """One committed indicator against its actual (measured) value: a floor falls short when
    actual < committed, a ceiling when actual > committed (within ``RATIO_EPS``); ``met`` is
    None when no actual value was given (unchecked, never assumed met)."""

    key: str
    label: str
    committed: float
    actual: float | None
    ceiling: bool
    met: bool | None


def compare_indicators(committed: dict[str, float], actual: dict[str, float], floors: list[str],
                       ceilings: list[str], labels: dict[str, str] | None = None) -> list[IndicatorFinding]:
    """Each committed indicator (in ``committed``'s order) against ``actual`` — the one comparison
    开发未达标类 and the acceptance checks (``domain.supervision``) both use."""
    names = {**INDICATOR_LABELS, **(labels or {})}
    out = []
    for key, value in committed.items():
        ceiling = key in ceilings and key not in floors
        got = actual.get(key)
        met = None
        if got is not None:
            met = got <= value + RATIO_EPS if ceiling else got >= value - RATIO_EPS
        out.append(IndicatorFinding(key, names.get(key, key), value, got, ceiling, met))
    return out


@dataclass(frozen=True)
class LowEfficiencyCase:
    industry_code: str | None = spec("国民经济行业代码（GB/T 4754，如 C2211）", "", None)
    obsolete_industry: bool | None = spec("是否属国家禁止类、淘汰类产业（填写则覆盖按行业代码的判断）", "", None)
    environment_or_safety_failing: bool = spec("是否不符合环保标准或安全生产要求", "", False)
    in_shutdown_list: bool = spec("是否列入“关停并转”范围或属转型升级、“退二优二”用地", "", False)
    started: bool = spec("项目是否已动工开发建设", "", False)
    developed_area_ratio: float | None = spec("开发建设用地面积占应动工开发建设用地总面积的比例", "0–1 小数", None,
                                              minimum=0, maximum=1)
    investment_ratio: float | None = spec("建设工程投资额（不含土地取得费用和税费）占总投资额的比例", "0–1 小数", None,
                                          minimum=0, maximum=1)
    idle: bool = spec("是否已认定为闲置土地（R3）", "", False)
    completed: bool = spec("是否已依法竣工验收合格（已完工）", "", False)
    producing: bool = spec("是否已投产且生产正常", "", False)
    contract_indicators: dict | None = spec(
        "出让合同约定指标 {指标: 约定值}，指标为 plot_ratio、building_density、investment_intensity、"
        "output_intensity、building_coverage、green_ratio、office_living_ratio", "", None)
    actual_indicators: dict | None = spec("实际指标 {指标: 实际值}，指标同上", "", None)
    years_without_profit: float | None = spec("未产生经营利润的时间", "年", None, minimum=0)
    enterprise_class: str | None = spec("企业分类综合评价类别（R2）", "", None, choices=("A", "B", "C"))
    designated_other: bool = spec("是否经集聚区低效用地整治提升工作领导小组认定为其他低效用地", "", False)
    designation_reason: str | None = spec("领导小组认定理由（认定为其他低效用地时必填）", "", None)


OUTCOMES = {
    "inefficient": "低效用地",
    "not_inefficient": "不属于低效用地",
}


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _indicators(case: LowEfficiencyCase, floors: list[str], ceilings: list[str]
                ) -> tuple[dict[str, float], dict[str, float]]:
    known = set(floors) | set(ceilings)
    problems, out = [], []
    for field in ("contract_indicators", "actual_indicators"):
        values = getattr(case, field) or {}
        clean: dict[str, float] = {}
        for key, v in values.items():
            if key not in known:
                problems.append(Problem("输入", f"{field}.{key}", f"未知指标（可用：{'、'.join(sorted(known))}）",
                                        "unknown_field"))
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
                problems.append(Problem("输入", f"{field}.{key}", f"{INDICATOR_LABELS.get(key, key)}：应为数值"))
            else:
                clean[key] = float(v)
        out.append(clean)
    if problems:
        raise ValidationFailed(problems)
    return out[0], out[1]


def _industry_obsolete(code: str | None, listed: list[str]) -> str | None:
    """The listed code that ``code`` falls under (prefix match: a listed C22 covers C2211), or None."""
    if not code:
        return None
    norm = code.strip().upper()
    for item in listed:
        item_n = str(item).strip().upper()
        if norm.startswith(item_n) or (not norm[:1].isalpha() and item_n[1:] and norm.startswith(item_n[1:])):
            return str(item)
    return None


def check_low_efficiency(case: LowEfficiencyCase, rulebook: Rulebook) -> Verdict:
    """R4: every 低效用地 category the parcel falls under, each with its reason."""
    rules = rulebook.section("low_efficiency")
    dev_above = float(rules["stalled_developed_ratio_above"])
    inv_above = float(rules["stalled_investment_ratio_above"])
    halted_over = float(rules["halted_no_profit_years_over"])
    obsolete_codes = list(rules["obsolete_industry_codes"])
    shortfall_class = str(rules["output_shortfall_class"])
    floors, ceilings = list(rules["below_contract_floors"]), list(rules["below_contract_ceilings"])

    if case.designated_other and not (case.designation_reason or "").strip():
        raise ValidationFailed(Problem("输入", "designation_reason",
                                       "认定为其他低效用地时必须填写领导小组认定理由", "missing"))
    contract, actual = _indicators(case, floors, ceilings)

    found: list[tuple[Cat, str]] = []
    notes: list[str] = []  # reasons a category does not apply (or cannot be checked)
    unchecked: list[str] = []

    # (一) 产业转型类
    listed = _industry_obsolete(case.industry_code, obsolete_codes)
    obsolete = case.obsolete_industry if case.obsolete_industry is not None else listed is not None
    transform: list[str] = []
    if obsolete:
        if case.obsolete_industry is not None:
            transform.append("经认定属国家禁止类、淘汰类产业")
        else:
            transform.append(f"行业代码 {case.industry_code} 属规则库所列禁止类、淘汰类产业（{listed}，"
                             "low_efficiency.obsolete_industry_codes）")
    if case.environment_or_safety_failing:
        transform.append("不符合环保标准或安全生产要求")
    if case.in_shutdown_list:
        transform.append("列入“关停并转”范围或属转型升级、“退二优二”用地")
    if transform:
        found.append((Cat.INDUSTRY_TRANSFORMATION, "；".join(transform)))

    # (二) 停建缓建类
    dev, inv = case.developed_area_ratio, case.investment_ratio
    if case.started and not case.completed:
        if dev is None or inv is None:
            unchecked.append(Cat.CONSTRUCTION_STALLED.value)
            notes.append("未提供开发面积占比或投资额占比，无法判断是否属停建缓建类")
        else:
            dev_ok = dev > dev_above + RATIO_EPS
            inv_ok = inv > inv_above + RATIO_EPS
            text = (f"开发建设用地面积占比 {_pct(dev)}（{'超过' if dev_ok else '未超过'}三分之一，"
                    f"low_efficiency.stalled_developed_ratio_above），建设工程投资额占比 {_pct(inv)}"
                    f"（{'超过' if inv_ok else '未超过'} {_pct(inv_above)}，low_efficiency.stalled_investment_ratio_above）")
            if dev_ok and inv_ok and not case.idle:
                found.append((Cat.CONSTRUCTION_STALLED, f"已动工，{text}，且不构成闲置土地"))
            elif dev_ok and inv_ok:
                notes.append(f"{text}，但已认定为闲置土地，按闲置土地处置，不列入停建缓建类")
            else:
                notes.append(f"{text}，不属停建缓建类")

    # (三) 开发未达标类
    if case.completed and case.producing and contract:
        short: list[str] = []
        for f in compare_indicators(contract, actual, floors, ceilings):
            if f.met is None:
                unchecked.append(f.key)
                notes.append(f"{f.label}：约定 {f.committed:g}，未提供实际值，未核查")
            elif not f.met and f.ceiling:
                short.append(f"{f.label}实际 {f.actual:g} 高于约定上限 {f.committed:g}")
            elif not f.met:
                short.append(f"{f.label}实际 {f.actual:g} 低于约定 {f.committed:g}")
        if short:
            found.append((Cat.BELOW_CONTRACT, "已完工投产，出让合同约定指标未达到：" + "；".join(short)))
        else:
            notes.append("出让合同约定指标均已达到（已核查的指标）")

    # (四) 停产半停产类
    if case.completed and case.years_without_profit is not None:
        if case.years_without_profit > halted_over + RATIO_EPS:
            found.append((Cat.PRODUCTION_HALTED,
                          f"已竣工验收合格，未产生经营利润 {case.years_without_profit:g} 年，超过 {halted_over:g} 年"
                          "（low_efficiency.halted_no_profit_years_over）"))
        else:
            notes.append(f"未产生经营利润 {case.years_without_profit:g} 年，未超过 {halted_over:g} 年，不属停产半停产类")

    # (五) 产出未达标类
    if case.completed and case.producing and case.enterprise_class == shortfall_class:
        found.append((Cat.OUTPUT_SHORTFALL, f"已竣工验收合格、生产正常，企业分类综合评价为 {shortfall_class} 类"
                                            "（倒逼转型类，low_efficiency.output_shortfall_class）"))

    # (六) 其他
    if case.designated_other:
        found.append((Cat.OTHER, f"经集聚区低效用地整治提升工作领导小组认定：{case.designation_reason.strip()}"))

    figures: dict[str, Any] = {
        "industry_code": case.industry_code,
        "obsolete_industry": bool(obsolete),
        "obsolete_industry_code_matched": listed,
        "environment_or_safety_failing": case.environment_or_safety_failing,
        "in_shutdown_list": case.in_shutdown_list,
        "started": case.started, "completed": case.completed, "producing": case.producing, "idle": case.idle,
        "developed_area_ratio": dev, "investment_ratio": inv,
        "contract_indicators": contract, "actual_indicators": actual,
        "years_without_profit": case.years_without_profit,
        "enterprise_class": case.enterprise_class,
        "designated_other": case.designated_other, "designation_reason": case.designation_reason,
        "thresholds": {
            "low_efficiency.stalled_developed_ratio_above": dev_above,
            "low_efficiency.stalled_investment_ratio_above": inv_above,
            "low_efficiency.halted_no_profit_years_over": halted_over,
            "low_efficiency.output_shortfall_class": shortfall_class,
            "low_efficiency.obsolete_industry_codes": obsolete_codes,
            "low_efficiency.below_contract_floors": floors,
            "low_efficiency.below_contract_ceilings": ceilings,
        },
        "categories": [c.value for c, _ in found],
        "category_details": [{"category": c.value, "label": c.label, "reason": r, "citation": CITES[c].source}
                             for c, r in found],
        "unchecked": unchecked,
    }
    citations = [CITE_INTRO] + [CITES[c] for c, _ in found]
    if any(c in (Cat.CONSTRUCTION_STALLED, Cat.PRODUCTION_HALTED) for c, _ in found) or notes:
        citations.append(CITE_READING)
    if found:
        reasons = [f"{c.label}：{r}" for c, r in found] + notes
        outcome = "inefficient"
    else:
        reasons = ["不符合第三条所列六类低效用地的任何一种情形"] + notes
        citations = [CITE_INTRO, *CITES.values(), CITE_READING]
        outcome = "not_inefficient"
    return Verdict(RULE, RULE_ID, outcome, OUTCOMES[outcome], figures, reasons, citations, rulebook.label)


EXAMPLE = {
    "industry_code": "C3311",
    "started": True,
    "completed": True,
    "producing": True,
    "contract_indicators": {"plot_ratio": 1.2, "investment_intensity": 300.0, "green_ratio": 0.15},
    "actual_indicators": {"plot_ratio": 0.85, "investment_intensity": 310.0, "green_ratio": 0.18},
    "years_without_profit": 0,
    "enterprise_class": "C",
}

CHECK = RuleCheck(
    name=RULE, rule_id=RULE_ID, title="低效用地认定", input_type=LowEfficiencyCase, run=check_low_efficiency,
    outcomes=OUTCOMES, example=EXAMPLE,
    notes=(
        "A parcel may fall under several of the six categories; `figures.categories` lists them "
        "(InefficiencyCategory values) and `figures.category_details` gives each one's reason and clause. "
        "停建缓建类: developed > 1/3 AND investment > 25% (超过 is strict: exactly 1/3 or 25% does not count; "
        "ratios within 1e-9 count as equal), started, not completed and not already 闲置 (R3). "
        "停产半停产类: completion accepted and no operating profit for MORE than 2 years (超过2年以上 — 超过 "
        "excludes the number, 民法典第一千二百五十九条; exactly 2 years does not count). 开发未达标类: completed "
        "and producing; floors (容积率, 建筑密度, 投资强度, 产出强度, 建筑系数) fall short when actual < committed, "
        "ceilings (绿地率, 行政办公及生活服务设施用地比例) when actual > committed; committed indicators without an "
        "actual value are listed in `figures.unchecked`. 产出未达标类: completed, producing and rated C in R2. "
        "其他: a designation by the zone's leading group, with its reason (required). Thresholds: [low_efficiency]."
    ),
)
