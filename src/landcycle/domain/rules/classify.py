"""R2 企业分类综合评价 (003:2417): weighted indicators against benchmarks, 100 points,
bands by rank, vetoes and a "not evaluated" group — every number from the rulebook.

The seeds name the classes but not the method; the rulebook ships the shape shared by
published 亩均论英雄 schemes (DOMAIN.md R2) as example defaults. The vectorised functions
here (``indicator_values``, ``item_scores``, ``total_scores``, ``bands``) are the only
implementation: the annual evaluation calls them on whole arrays, the single-case check
on arrays of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import Problem, ValidationFailed
from .inputs import spec
from .mu_average import per_mu, tax_total
from .rulebook import Rulebook
from .verdict import Citation, RuleCheck, Verdict

CLASS_LABELS = {"A": "A类（优先发展类）", "B": "B类（鼓励提升类）", "C": "C类（倒逼转型类）"}
ITEM_LABELS = {
    "tax_per_mu": "亩均税收（万元/亩）",
    "value_added_per_mu": "亩均增加值（万元/亩）",
    "value_added_per_energy": "单位能耗增加值（万元/吨标准煤）",
    "value_added_per_emission": "单位排放增加值（万元/吨）",
    "labour_productivity": "全员劳动生产率（万元/人）",
    "rd_intensity": "研发经费支出占营业收入比重",
    "tax_per_energy": "单位能耗税收（万元/吨标准煤）",
}
VETO_LABELS = {
    "major_safety_accident": "发生重大安全生产事故",
    "major_environmental_violation": "发生重大环境违法行为",
    "serious_tax_violation": "存在严重税收违法行为",
}
CITATIONS = [
    Citation("003:2417", "持续开展企业分类综合评价……每年度开展一次评价，将企业分为A类（优先发展类）、"
                         "B类（鼓励提升类）、C类（倒逼转型类），配套实行差别化政策"),
    Citation("规则库 classify 节（示例默认值）", "评分方法、权重、基准值、分档比例、否决项与不参评范围为示例默认值，"
                                             "参照已公布的“亩均论英雄”评价办法（DOMAIN.md R2）"),
]


def _ratio(num, den):
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def indicator_values(f: dict[str, Any], add_back_refunds: bool = True) -> dict[str, np.ndarray]:
    """The scoring indicators from raw yearly figures (arrays; NaN = missing).

    ``f`` keys: land_area_mu, tax_paid, tax_refunded, value_added, energy_use, emissions,
    employees, rd_spending, revenue — 万元, 吨标准煤, 吨, 人.
    """
    tax = tax_total(np.asarray(f["tax_paid"], dtype=float), np.nan_to_num(np.asarray(f["tax_refunded"], dtype=float)),
                    add_back_refunds)
    va = np.asarray(f["value_added"], dtype=float)
    return {
        "tax_per_mu": np.asarray(per_mu(tax, f["land_area_mu"]), dtype=float),
        "value_added_per_mu": np.asarray(per_mu(va, f["land_area_mu"]), dtype=float),
        "value_added_per_energy": _ratio(va, f["energy_use"]),
        "value_added_per_emission": _ratio(va, f["emissions"]),
        "labour_productivity": _ratio(va, f["employees"]),
        "rd_intensity": _ratio(f["rd_spending"], f["revenue"]),
        "tax_per_energy": _ratio(tax, f["energy_use"]),
    }


def item_scores(values: dict[str, np.ndarray], weights: dict[str, float], benchmarks: dict[str, float],
                cap: float) -> dict[str, np.ndarray]:
    """Score of each weighted item = weight × min(value / benchmark, cap); NaN where missing."""
    out = {}
    for item, weight in weights.items():
        v = np.asarray(values[item], dtype=float)
        out[item] = weight * np.minimum(np.maximum(v, 0.0) / benchmarks[item], cap)
    return out


def total_scores(items: dict[str, np.ndarray], missing_item: str,
                 item_means: dict[str, float] | None = None) -> np.ndarray:
    """Sum of item scores; a missing item scores the population mean ("average") or 0 ("zero").

    ``item_means`` overrides the means taken from ``items`` (a single case scored against a
    known population).
    """
    total = None
    for item, scores in items.items():
        if missing_item == "average":
            mean = (item_means or {}).get(item)
            if mean is None:
                finite = scores[np.isfinite(scores)]
                mean = float(finite.mean()) if finite.size else 0.0
            filled = np.where(np.isfinite(scores), scores, mean)
        else:
            filled = np.nan_to_num(scores, nan=0.0)
        total = filled if total is None else total + filled
    return np.round(total, 6)


def bands(scores: np.ndarray, a_top_share: float, c_bottom_share: float,
          population: np.ndarray | None = None) -> np.ndarray:
    """Class by rank: A if fewer than ⌊n·a⌋ of the population score strictly higher; C if fewer
    than ⌊n·c⌋ score strictly lower (and not A); B otherwise. Ties share the better class."""
    scores = np.asarray(scores, dtype=float)
    pop = np.sort(np.asarray(scores if population is None else population, dtype=float))
    n = pop.size
    n_a, n_c = int(np.floor(n * a_top_share + 1e-9)), int(np.floor(n * c_bottom_share + 1e-9))
    higher = n - np.searchsorted(pop, scores, side="right")
    lower = np.searchsorted(pop, scores, side="left")
    return np.where(higher < n_a, "A", np.where(lower < n_c, "C", "B"))


@dataclass(frozen=True)
class ClassifyCase:
    above_scale: bool = spec("是否规上企业（规上、规下分别评分分档）", "")
    land_area_mu: float = spec("证载用地面积（无论是否建成）", "亩", minimum=0)
    tax_paid_wan: float | None = spec("年实缴税金", "万元", None, minimum=0)
    tax_refunded_wan: float | None = spec("退税及政策性减免", "万元", None, minimum=0)
    value_added_wan: float | None = spec("工业增加值", "万元", None)
    energy_use_tce: float | None = spec("综合能耗", "吨标准煤", None, minimum=0)
    emissions_t: float | None = spec("主要污染物排放当量", "吨", None, minimum=0)
    employees: float | None = spec("从业人员", "人", None, minimum=0)
    rd_spending_wan: float | None = spec("研发经费支出", "万元", None, minimum=0)
    revenue_wan: float | None = spec("营业收入", "万元", None, minimum=0)
    industry_code: str | None = spec("GB/T 4754 行业代码（公用事业不参评）", "", None)
    production_years: float | None = spec("投产年限（不足规定年限不参评）", "年", None, minimum=0)
    major_project_under_construction: bool = spec("是否为在建重大项目（不参评）", "", False)
    vetoes: list[str] = spec("否决事项（如 major_safety_accident）", "", [])
    population_scores: list[float] = spec("同组（规上或规下）参评企业得分，用于按名次分档；为空则只评分不分类", "分", [])
    population_item_means: dict = spec("同组各评分项平均得分（缺项按平均分计）", "分", {})


OUTCOMES = {**CLASS_LABELS, "not_evaluated": "不参评（按B类管理）", "scored": "已评分（未提供参评总体，未分档）"}


def not_evaluated_reason(rules: dict, industry_code: str | None, production_years: float | None,
                         under_construction: bool) -> str | None:
    """Why an enterprise is in the "not evaluated" group, or None."""
    if industry_code and any(industry_code.startswith(p) for p in rules["not_evaluated_industry_prefixes"]):
        return f"行业 {industry_code} 属公用事业（电力、燃气、水的生产和供应），不参评"
    if production_years is not None and production_years < rules["min_production_years"]:
        return f"投产 {production_years:g} 年，不足 {rules['min_production_years']} 年，不参评"
    if under_construction:
        return "在建重大项目，不参评"
    return None


def check_classify(case: ClassifyCase, rulebook: Rulebook) -> Verdict:
    """R2 for one enterprise, banded against the population it is given."""
    rules = rulebook.section("classify")
    group = rules["above_scale" if case.above_scale else "below_scale"]
    group_label = "规上" if case.above_scale else "规下"
    figures: dict[str, Any] = {"group": group_label}
    reasons: list[str] = []
    unknown_vetoes = [v for v in case.vetoes if v not in rules["vetoes"]]
    if unknown_vetoes:
        raise ValidationFailed(Problem("输入", "vetoes", f"未知的否决事项：{'、'.join(unknown_vetoes)}（可用：{'、'.join(rules['vetoes'])}）"))
    excluded = not_evaluated_reason(rules, case.industry_code, case.production_years,
                                    case.major_project_under_construction)
    if excluded:
        return Verdict("classify", "R2", "not_evaluated", OUTCOMES["not_evaluated"],
                       {**figures, "managed_as": rules["not_evaluated_class"]},
                       [excluded, f"不参评企业按{rules['not_evaluated_class']}类管理"], CITATIONS, rulebook.label)

    def arr(v):
        return np.array([np.nan if v is None else v], dtype=float)

    values = indicator_values({
        "land_area_mu": arr(case.land_area_mu), "tax_paid": arr(case.tax_paid_wan),
        "tax_refunded": arr(case.tax_refunded_wan), "value_added": arr(case.value_added_wan),
        "energy_use": arr(case.energy_use_tce), "emissions": arr(case.emissions_t),
        "employees": arr(case.employees), "rd_spending": arr(case.rd_spending_wan), "revenue": arr(case.revenue_wan),
    }, rulebook.section("mu_average")["add_back_refunds"])
    items = item_scores(values, group["weights"], group["benchmarks"], rules["item_cap"])
    means = {k: float(v) for k, v in case.population_item_means.items()}
    score = float(total_scores(items, rules["missing_item"], means)[0])
    table = {}
    for item, s in items.items():
        v = float(values[item][0])
        missing = not np.isfinite(s[0])
        table[item] = {"value": None if not np.isfinite(v) else round(v, 4), "benchmark": group["benchmarks"][item],
                       "weight": group["weights"][item],
                       "score": None if missing else round(float(s[0]), 4), "missing": missing}
        if missing:
            filled = means.get(item, 0.0) if rules["missing_item"] == "average" else 0.0
            reasons.append(f"{ITEM_LABELS[item]}缺少数据，按{'同组平均分' if rules['missing_item'] == 'average' else '0分'}"
                           f" {filled:.2f} 计")
        else:
            reasons.append(f"{ITEM_LABELS[item]} {v:.4g}，基准 {group['benchmarks'][item]:g}，权重 {group['weights'][item]}，"
                           f"得 {float(s[0]):.2f} 分")
    figures.update({"items": table, "score": round(score, 4), "item_cap": rules["item_cap"]})
    reasons.append(f"综合得分 {score:.2f} 分（满分 {sum(group['weights'].values())}）")
    if case.vetoes:
        lowest = rules["classes"][-1]
        reasons.append("存在否决事项：" + "、".join(VETO_LABELS.get(v, v) for v in case.vetoes) + f"，直接评为{lowest}类")
        return Verdict("classify", "R2", lowest, OUTCOMES[lowest], {**figures, "vetoes": list(case.vetoes)},
                       reasons, CITATIONS, rulebook.label)
    if not case.population_scores:
        return Verdict("classify", "R2", "scored", OUTCOMES["scored"], figures,
                       reasons + ["未提供同组参评企业得分，只评分不分档"], CITATIONS, rulebook.label)
    population = np.array([*case.population_scores, score], dtype=float)
    cls = str(bands(np.array([score]), rules["a_top_share"], rules["c_bottom_share"], population)[0])
    higher = int((population > score).sum())
    figures.update({"population": int(population.size), "enterprises_scoring_higher": higher,
                    "a_top_share": rules["a_top_share"], "c_bottom_share": rules["c_bottom_share"]})
    reasons.append(f"同组{population.size}家企业中有 {higher} 家得分更高；前 {rules['a_top_share']:.0%} 为A类、"
                   f"后 {rules['c_bottom_share']:.0%} 为C类，评为{CLASS_LABELS[cls]}")
    return Verdict("classify", "R2", cls, OUTCOMES[cls], figures, reasons, CITATIONS, rulebook.label)


EXAMPLE = {
    "above_scale": True,
    "land_area_mu": 60.0,
    "tax_paid_wan": 1500.0,
    "tax_refunded_wan": 120.0,
    "value_added_wan": 7200.0,
    "energy_use_tce": 2600.0,
    "emissions_t": 18.0,
    "employees": 240,
    "rd_spending_wan": 900.0,
    "revenue_wan": 36000.0,
    "industry_code": "C3411",
    "production_years": 6,
    "population_scores": [35.2, 48.9, 52.0, 61.3, 66.8, 70.1, 74.5, 80.2, 88.0],
}

CHECK = RuleCheck(
    name="classify", rule_id="R2", title="企业分类综合评价（A/B/C）", input_type=ClassifyCase,
    run=check_classify, outcomes=OUTCOMES, example=EXAMPLE,
    notes="Scoring method, weights, benchmarks, bands, vetoes and the not-evaluated group are example "
          "defaults from the rulebook's `classify` section (the seeds give none). 规上 and 规下 are scored "
          "with their own indicator sets and banded within their own group.",
)
