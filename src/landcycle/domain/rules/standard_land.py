"""R5 标准地 控制性指标 (000:952–988): a project's committed indicators against the floors and
ceilings of its project class and its industry, and the 净地 preconditions (000:964).

Every number is a rulebook setting ([standard_land]); the seeds give none, so the shipped values
are example defaults in the shape of the national 工业项目建设用地控制指标 (2008). The caller
applies any county or zone override (``Rulebook.with_override``, tighten-only, 000:962) before
calling :func:`check_standard_land`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, ValidationFailed
from .inputs import spec
from .rulebook import Rulebook
from .verdict import Citation, RuleCheck, Verdict

RULE, RULE_ID = "standard-land", "R5"

OUTCOMES = {
    "compliant": "达到标准地控制性指标",
    "non_compliant": "未达到标准地控制性指标",
    "not_net_land": "不具备净地出让条件",
}

#: (input field, rulebook key, Chinese label, unit, shown as percent)
INDICATORS = (
    ("far", "plot_ratio_min", "容积率", "", False),
    ("investment_intensity_wan_per_mu", "investment_intensity_min", "固定资产投资强度", "万元/亩", False),
    ("tax_per_mu_wan", "tax_per_mu_min", "亩均税收", "万元/亩", False),
    ("output_per_mu_wan", "output_per_mu_min", "亩均产值（土地产出率）", "万元/亩", False),
    ("building_coverage", "building_coverage_min", "建筑系数", "", True),
    ("office_living_ratio", "office_living_ratio_max", "行政办公及生活服务设施用地所占比例", "", True),
    ("green_ratio", "green_ratio_max", "绿地率", "", True),
)

#: 净地 preconditions (000:964), input field → Chinese.
NET_LAND = {
    "clear_title": "权属清晰",
    "compensation_settled": "征地安置补偿到位",
    "no_disputes": "无法律经济纠纷",
    "planning_conditions_set": "地块位置、使用性质、容积率等规划条件明确",
    "site_serviced": "具备通水、通电、通路和土地平整等开发条件",
}

CLASS_CHOICES = ("traditional_industry", "warehouse_logistics", "rd_headquarters")

CITE_DEFINITION = Citation(
    "000:952", "本实施细则中的工业用地“标准地”……明确投资强度、亩均税收、容积率、环境标准等控制性指标作为“标准”的拟出让宗地。")
CITE_FLOORS = Citation(
    "000:962", "基础指标全市分行业分类型制定统一最低控制标准，每3年可由市政府调整一次，县（市、区）政府（管委会）和"
               "产业集聚区管理机构可根据辖区实际细化或优化，但不得低于市级标准。")
CITE_BASIC = Citation(
    "000:978", "基础指标主要包括容积率、固定资产投资强度、亩均税收、土地产出率、单位能耗标准、单位排放标准、环境标准、"
               "安全生产管控指标等。可按传统工业类、仓储物流类、研发总部类项目分类确定具体参数。")
CITE_PLANNING = Citation(
    "000:982", "规划指标包括容积率、建筑密度、绿地率、限高、行政办公及生活服务设施所占比例、人防等指标")
CITE_NET_LAND = Citation(
    "000:964", "“标准地”出让应严格执行“净地”出让规定，对拟采用“标准地”出让的宗地，需达到权属清晰，征地安置补偿到位，"
               "无法律经济纠纷，地块位置、使用性质、容积率等规划条件明确，且具备项目开工必需的通水、通电、通路和土地平整等开发条件。")
CITE_EXAMPLE = Citation(
    "规则库 standard_land 节（示例默认值）",
    "种子文件未给出具体数值；各类别及行业指标为示例默认值，参照《工业项目建设用地控制指标》（国土资发〔2008〕24号）："
    "建筑系数不低于30%，行政办公及生活服务设施用地所占比重不超过7%，绿地率不超过20%，容积率按行业分类控制")


@dataclass(frozen=True)
class StandardLandCase:
    """A 标准地 project's committed indicators and the parcel's 净地 conditions."""

    project_class: str = spec("项目类别（traditional_industry 传统工业类 / warehouse_logistics 仓储物流类 / "
                              "rd_headquarters 研发总部类）", choices=CLASS_CHOICES)
    industry_code: str | None = spec("国民经济行业代码（GB/T 4754，如 C3411；按前两位大类取容积率下限）", default=None)
    far: float | None = spec("承诺容积率", minimum=0, default=None)
    investment_intensity_wan_per_mu: float | None = spec("承诺固定资产投资强度", "万元/亩", minimum=0, default=None)
    tax_per_mu_wan: float | None = spec("承诺亩均税收", "万元/亩", minimum=0, default=None)
    output_per_mu_wan: float | None = spec("承诺亩均产值（土地产出率）", "万元/亩", minimum=0, default=None)
    building_coverage: float | None = spec("建筑系数（小数，0.35 即 35%）", "比例", minimum=0, maximum=1, default=None)
    office_living_ratio: float | None = spec("行政办公及生活服务设施用地所占比例（小数）", "比例", minimum=0, maximum=1,
                                             default=None)
    green_ratio: float | None = spec("绿地率（小数）", "比例", minimum=0, maximum=1, default=None)
    clear_title: bool | None = spec("净地：权属清晰", default=None)
    compensation_settled: bool | None = spec("净地：征地安置补偿到位", default=None)
    no_disputes: bool | None = spec("净地：无法律经济纠纷", default=None)
    planning_conditions_set: bool | None = spec("净地：规划条件（位置、性质、容积率等）明确", default=None)
    site_serviced: bool | None = spec("净地：通水、通电、通路、土地平整", default=None)


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".") if x == x else "—"


def _show(x: float, pct: bool, unit: str) -> str:
    if pct:
        return f"{_fmt(x * 100)}%"
    return f"{_fmt(x)} {unit}".rstrip()


def industry_division(code: str, table: dict[str, Any]) -> str | None:
    """The key of ``table`` for the GB/T 4754 division (2 digits) of ``code``, or ``None``.

    Accepts ``C3411``, ``C34`` or ``3411`` (division numbers are unique across sections)."""
    m = re.fullmatch(r"([A-Ta-t])?(\d{2})(\d{0,2})", code.strip())
    if not m:
        raise ValidationFailed(Problem("输入", "industry_code",
                                       f"行业代码“{code}”无效，应为 GB/T 4754 代码，如 C3411、C34 或 3411"))
    letter, division = m.group(1), m.group(2)
    if letter:
        key = letter.upper() + division
        return key if key in table else None
    for key in table:
        if key[1:] == division:
            return key
    return None


def check_standard_land(case: StandardLandCase, rulebook: Rulebook) -> Verdict:
    """Compare the committed indicators with the class's and industry's limits (stricter applies)."""
    rules = rulebook.section("standard_land")
    classes = rules.get("classes", {})
    if case.project_class not in classes:
        raise ValidationFailed(Problem("输入", "project_class",
                                       f"项目类别“{case.project_class}”不在规则库中，应为：{'、'.join(classes)}"))
    cls = classes[case.project_class]
    cls_label = cls.get("label", case.project_class)
    industry_table = rules.get("industry_plot_ratio_min", {})
    division = industry_division(case.industry_code, industry_table) if case.industry_code else None
    industry_floor = industry_table.get(division) if division else None

    figures: dict[str, Any] = {"project_class": case.project_class, "project_class_label": cls_label,
                               "industry_code": case.industry_code, "industry_division": division,
                               "industry_plot_ratio_min": industry_floor}
    reasons: list[str] = []
    if case.industry_code and division is None:
        reasons.append(f"行业代码 {case.industry_code} 所属大类在规则库中无专门容积率下限，按{cls_label}下限执行")

    failures: list[dict[str, Any]] = []
    limits: dict[str, Any] = {}
    for field, key, label, unit, pct in INDICATORS:
        committed = getattr(case, field)
        figures[field] = committed
        if key not in cls:
            continue
        limit = float(cls[key])
        is_floor = key.endswith("_min")
        basis = f"{cls_label}{'下限' if is_floor else '上限'} {_show(limit, pct, unit)}"
        if field == "far" and industry_floor is not None:
            stricter = max(limit, float(industry_floor))
            basis = (f"取{cls_label}下限 {_fmt(limit)} 与行业大类 {division} 下限 {_fmt(float(industry_floor))} "
                     f"中较严者 {_fmt(stricter)}")
            limit = stricter
        limits[key] = limit
        bound = "floor" if is_floor else "ceiling"
        if committed is None:
            if is_floor and limit > 0:
                failures.append({"indicator": field, "label": label, "committed": None, bound: limit})
                reasons.append(f"{label}未承诺，而{basis}")
            else:
                reasons.append(f"{label}未提供，未审查（{basis}）")
            continue
        ok = committed >= limit if is_floor else committed <= limit
        shown = _show(committed, pct, unit)
        if ok:
            reasons.append(f"{label}承诺 {shown}，{'不低于' if is_floor else '不高于'}{basis}")
        else:
            failures.append({"indicator": field, "label": label, "committed": committed, bound: limit})
            reasons.append(f"{label}承诺 {shown}，{'低于' if is_floor else '高于'}{basis}")
    figures["limits"] = limits
    figures["failures"] = failures

    citations = [CITE_DEFINITION, CITE_FLOORS, CITE_BASIC, CITE_PLANNING, CITE_EXAMPLE]
    net = {f: getattr(case, f) for f in NET_LAND}
    given = {f: v for f, v in net.items() if v is not None}
    figures["net_land"] = net
    not_net = [f for f, v in given.items() if v is False]
    figures["net_land_failures"] = not_net
    if given:
        citations.append(CITE_NET_LAND)
    if not_net:
        reasons.insert(0, "不具备“净地”出让条件：未达到" + "、".join(NET_LAND[f] for f in not_net))
        outcome = "not_net_land"
    elif failures:
        reasons.insert(0, f"{len(failures)} 项指标未达到{cls_label}标准：" + "、".join(f["label"] for f in failures))
        outcome = "non_compliant"
    else:
        reasons.insert(0, f"已承诺的各项控制性指标均达到{cls_label}标准")
        outcome = "compliant"
    if given and not not_net and len(given) < len(NET_LAND):
        missing = [NET_LAND[f] for f in NET_LAND if net[f] is None]
        reasons.append("净地条件未全部提供：" + "、".join(missing))
    if rulebook.overrides:
        reasons.append(f"已适用辖区覆盖标准（{'、'.join(rulebook.overrides)}），县区和集聚区只能收紧市级标准")
    return Verdict(RULE, RULE_ID, outcome, OUTCOMES[outcome], figures, reasons, citations, rulebook.label)


EXAMPLE = {
    "project_class": "traditional_industry",
    "industry_code": "C3411",
    "far": 1.2,
    "investment_intensity_wan_per_mu": 300.0,
    "tax_per_mu_wan": 18.0,
    "output_per_mu_wan": 350.0,
    "building_coverage": 0.45,
    "office_living_ratio": 0.05,
    "green_ratio": 0.15,
    "clear_title": True,
    "compensation_settled": True,
    "no_disputes": True,
    "planning_conditions_set": True,
    "site_serviced": True,
}

CHECK = RuleCheck(
    name=RULE, rule_id=RULE_ID, title="标准地控制性指标审查", input_type=StandardLandCase,
    run=check_standard_land, outcomes=OUTCOMES, example=EXAMPLE,
    notes="Limits come from the rulebook's `standard_land.classes.<class>` (example defaults: the seeds give "
          "no numbers) and, for 容积率, the industry's GB/T 4754 division in `standard_land.industry_plot_ratio_min`; "
          "the stricter of class and industry applies. A missing indicator that has a floor above 0 is 未承诺 and "
          "fails; a missing ceiling indicator is reported as not checked. If any 净地 condition is given as false "
          "the outcome is `not_net_land` (the indicator failures are still listed). County/zone overrides may only "
          "tighten `_min`/`_max` keys (000:962) and are applied by the caller.",
)
