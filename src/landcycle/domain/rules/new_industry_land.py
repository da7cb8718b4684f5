"""R7 新型产业用地 (000:1160–1168): the compound-use indicators and the strata-split conditions.

Design: the outcome answers one question — does the land meet the 新型产业用地 indicators of
000:1164 (``compliant`` / ``non_compliant``, failures listed in ``figures["failures"]``). Whether a
proposed strata split may go ahead (000:1168) is a second, separate answer given in the figures:
``split_requested``, ``split_allowed`` (``None`` when no split is proposed) and ``split_problems``,
with its reasons among the verdict's reasons. Every threshold is a rulebook setting
([new_industry_land]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Problem, ValidationFailed
from .inputs import spec
from .rulebook import Rulebook
from .verdict import Citation, RuleCheck, Verdict

RULE, RULE_ID = "new-industry-land", "R7"

OUTCOMES = {"compliant": "符合新型产业用地指标", "non_compliant": "不符合新型产业用地指标"}

#: Shares computed from areas are compared with this slack so that e.g. 7000/10000 counts as 70%.
_EPS = 1e-9

CITE_DEFINITION = Citation(
    "000:1160", "新型产业用地是指符合产业发展导向，对居住和公共环境基本无干扰，融合研发、创意、设计、中试、无污染生产等"
                "创新型工业功能以及相关配套服务的用地。")
CITE_INDICATORS = Citation(
    "000:1164", "新型产业用地可复合、兼容利用，其中产业占地面积不低于70%、产业计容建筑面积不低于总计容建筑面积的80%，"
                "容积率高于1.5，建筑系数不得低于50%，绿地率不得超过15%。")
CITE_SPLIT = Citation(
    "000:1168", "新型产业项目达到合同和《工业用地“标准地”履约监管协议》约定条件后，在符合法律、法规的基础上，经产业集聚区"
                "管理机构同意，可依约分割、转移登记。厂房或研发用房最小分割面积不小于300平方米，受让及出租对象不得改变建筑物的"
                "性质和用途，产业集聚区管理机构享有优先回购权。配建的生产生活服务设施不得分割转让、抵押。")


@dataclass(frozen=True)
class NewIndustryLandCase:
    """A 新型产业用地 project's areas and indicators, and an optional strata-split proposal."""

    land_area_m2: float = spec("宗地总面积", "平方米", minimum=0)
    industrial_land_area_m2: float = spec("产业占地面积", "平方米", minimum=0)
    counted_floor_area_m2: float = spec("总计容建筑面积", "平方米", minimum=0)
    industrial_floor_area_m2: float = spec("产业计容建筑面积", "平方米", minimum=0)
    far: float = spec("容积率", minimum=0)
    building_coverage: float = spec("建筑系数（小数，0.5 即 50%）", "比例", minimum=0, maximum=1)
    green_ratio: float = spec("绿地率（小数）", "比例", minimum=0, maximum=1)
    split_unit_areas_m2: list[float] | None = spec("拟分割的厂房或研发用房单元面积（列表）", "平方米", minimum=0,
                                                   default=None)
    agreement_met: bool | None = spec("是否已达到合同和履约监管协议约定条件（分割的前提）", default=None)
    supporting_facility_split: bool | None = spec("是否拟分割转让或抵押配建的生产生活服务设施（禁止）", default=None)


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _pct(x: float) -> str:
    return f"{x * 100:.3f}".rstrip("0").rstrip(".") + "%"


def _positive(value: float, field: str, label: str) -> None:
    if value <= 0:
        raise ValidationFailed(Problem("输入", field, f"{label}应大于 0"))


def check_new_industry_land(case: NewIndustryLandCase, rulebook: Rulebook) -> Verdict:
    """The 000:1164 indicators (outcome) and the 000:1168 split conditions (figures)."""
    rules = rulebook.section("new_industry_land")
    _positive(case.land_area_m2, "land_area_m2", "宗地总面积")
    _positive(case.counted_floor_area_m2, "counted_floor_area_m2", "总计容建筑面积")
    if case.industrial_land_area_m2 > case.land_area_m2:
        raise ValidationFailed(Problem("输入", "industrial_land_area_m2", "产业占地面积不能大于宗地总面积"))
    if case.industrial_floor_area_m2 > case.counted_floor_area_m2:
        raise ValidationFailed(Problem("输入", "industrial_floor_area_m2", "产业计容建筑面积不能大于总计容建筑面积"))

    land_share = case.industrial_land_area_m2 / case.land_area_m2
    floor_share = case.industrial_floor_area_m2 / case.counted_floor_area_m2
    land_min = rules["industrial_land_share_min"]
    floor_min = rules["industrial_floor_share_min"]
    far_above = rules["plot_ratio_above"]
    coverage_min = rules["building_coverage_min"]
    green_max = rules["green_ratio_max"]

    # (indicator, label, value, limit, passes, sentence)
    tests = [
        ("industrial_land_share", "产业占地面积比例", land_share, land_min, land_share >= land_min - _EPS,
         f"产业占地 {_fmt(case.industrial_land_area_m2)} 平方米，占宗地 {_fmt(case.land_area_m2)} 平方米的 "
         f"{_pct(land_share)}", "不低于", "低于", "floor"),
        ("industrial_floor_share", "产业计容建筑面积比例", floor_share, floor_min, floor_share >= floor_min - _EPS,
         f"产业计容建筑面积 {_fmt(case.industrial_floor_area_m2)} 平方米，占总计容建筑面积 "
         f"{_fmt(case.counted_floor_area_m2)} 平方米的 {_pct(floor_share)}", "不低于", "低于", "floor"),
        ("far", "容积率", case.far, far_above, case.far > far_above, f"容积率 {_fmt(case.far)}",
         "高于", "未高于", "above"),
        ("building_coverage", "建筑系数", case.building_coverage, coverage_min, case.building_coverage >= coverage_min,
         f"建筑系数 {_pct(case.building_coverage)}", "不低于", "低于", "floor"),
        ("green_ratio", "绿地率", case.green_ratio, green_max, case.green_ratio <= green_max,
         f"绿地率 {_pct(case.green_ratio)}", "不超过", "超过", "ceiling"),
    ]
    failures: list[dict[str, Any]] = []
    reasons: list[str] = []
    for key, label, value, limit, ok, said, ok_word, bad_word, bound in tests:
        shown = _fmt(limit) if key == "far" else _pct(limit)
        if ok:
            reasons.append(f"{said}，{ok_word}{shown}")
        else:
            failures.append({"indicator": key, "label": label, "value": value, bound: limit})
            reasons.append(f"{said}，{bad_word}{shown}" + ("（须严格高于）" if key == "far" else ""))

    figures: dict[str, Any] = {
        "land_area_m2": case.land_area_m2, "industrial_land_area_m2": case.industrial_land_area_m2,
        "counted_floor_area_m2": case.counted_floor_area_m2,
        "industrial_floor_area_m2": case.industrial_floor_area_m2,
        "far": case.far, "building_coverage": case.building_coverage, "green_ratio": case.green_ratio,
        "industrial_land_share": land_share, "industrial_floor_share": floor_share,
        "industrial_land_share_min": land_min, "industrial_floor_share_min": floor_min,
        "plot_ratio_above": far_above, "building_coverage_min": coverage_min, "green_ratio_max": green_max,
        "failures": failures,
    }
    citations = [CITE_DEFINITION, CITE_INDICATORS]
    outcome = "non_compliant" if failures else "compliant"
    if failures:
        reasons.insert(0, f"{len(failures)} 项指标不符合新型产业用地要求：" + "、".join(f["label"] for f in failures))
    else:
        reasons.insert(0, "各项指标均符合新型产业用地要求")

    # ---- the strata split (000:1168), judged separately
    units = case.split_unit_areas_m2
    requested = bool(units) or bool(case.supporting_facility_split)
    unit_min = rules["split_unit_area_m2_min"]
    figures.update({"split_unit_areas_m2": list(units) if units else [], "agreement_met": case.agreement_met,
                    "supporting_facility_split": case.supporting_facility_split,
                    "split_unit_area_m2_min": unit_min, "split_requested": requested})
    if not requested:
        figures.update({"split_allowed": None, "split_problems": [], "units_below_min": []})
        return Verdict(RULE, RULE_ID, outcome, OUTCOMES[outcome], figures, reasons, citations, rulebook.label)

    citations.append(CITE_SPLIT)
    problems: list[str] = []
    small = [a for a in (units or []) if a < unit_min]
    if case.agreement_met is None:
        problems.append("未确认项目已达到合同和履约监管协议约定条件，达到后方可分割")
    elif not case.agreement_met:
        problems.append("项目尚未达到合同和履约监管协议约定条件，不得分割")
    if small:
        problems.append(f"{len(small)} 个单元面积低于最小分割面积 {_fmt(unit_min)} 平方米：" +
                        "、".join(f"{_fmt(a)} 平方米" for a in small))
    if case.supporting_facility_split:
        problems.append("配建的生产生活服务设施不得分割转让、抵押")
    allowed = not problems
    figures.update({"split_allowed": allowed, "split_problems": problems, "units_below_min": small,
                    "zone_priority_buyback": True})
    if allowed:
        reasons.append(f"分割：{len(units or [])} 个单元均不小于 {_fmt(unit_min)} 平方米且已达到约定条件，经产业集聚区"
                       "管理机构同意后可依约分割、转移登记；受让及出租对象不得改变建筑物性质和用途，"
                       "产业集聚区管理机构享有优先回购权")
    else:
        reasons.append("分割：不得分割 — " + "；".join(problems))
    return Verdict(RULE, RULE_ID, outcome, OUTCOMES[outcome], figures, reasons, citations, rulebook.label)


EXAMPLE = {
    "land_area_m2": 20000.0,
    "industrial_land_area_m2": 15000.0,
    "counted_floor_area_m2": 50000.0,
    "industrial_floor_area_m2": 42000.0,
    "far": 2.5,
    "building_coverage": 0.55,
    "green_ratio": 0.12,
    "split_unit_areas_m2": [1200.0, 800.0, 300.0],
    "agreement_met": True,
    "supporting_facility_split": False,
}

CHECK = RuleCheck(
    name=RULE, rule_id=RULE_ID, title="新型产业用地指标与分割审查", input_type=NewIndustryLandCase,
    run=check_new_industry_land, outcomes=OUTCOMES, example=EXAMPLE,
    notes="The outcome is the 000:1164 indicator test only: 产业占地 ≥ 70% and 产业计容建筑面积 ≥ 80% (exact "
          "70%/80% pass), 容积率 strictly > 1.5 (1.5 fails), 建筑系数 ≥ 50%, 绿地率 ≤ 15% (15% passes). A proposed "
          "strata split (000:1168) is answered in the figures: `split_allowed` is null when no split is proposed, "
          "otherwise true only if `agreement_met` is true, every unit is ≥ 300 m² (300 passes) and no supporting "
          "facility is split or mortgaged; `split_problems` lists what blocks it. The zone's priority buy-back "
          "applies to every split.",
)
