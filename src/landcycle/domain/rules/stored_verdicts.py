"""Verdicts for stored annual-evaluation results, so an official reading any result of a run
can tell which figures and which clause decided it.

Pure: a stored result row (as a dict) and the run's own rulebook snapshot in, the same
``Verdict`` shape as the single-case checks out (R1/R3/R4 for a parcel, R1+R2 for an enterprise).
"""

from __future__ import annotations

from typing import Any

from ..vocabulary import InefficiencyCategory as Cat
from . import classify, idle, low_efficiency, mu_average
from .evaluation import CATEGORY_BITS, INDICATORS
from .rulebook import Rulebook
from .verdict import Verdict


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(float(x), nd)


def mu_average_verdict(row: dict[str, Any], rulebook: Rulebook, subject: str) -> Verdict:
    """R1 from a stored parcel or enterprise result."""
    area = row.get("area_mu", row.get("land_area_mu"))
    figures = {"land_area_mu": _r(area, 4), "tax_total_wan": _r(row.get("tax_total_wan")),
               "tax_per_mu_wan": _r(row.get("tax_per_mu_wan"), 4), "output_per_mu_wan": _r(row.get("output_per_mu_wan"), 4)}
    reasons = []
    if "tenants" in row:
        figures.update(tenants=row["tenants"], standard_factory=bool(row["standard_factory"]))
        if row["standard_factory"]:
            reasons.append(f"标准厂房按实际入园企业（{row['tenants']}家）汇总计算")
        elif row["tenants"]:
            reasons.append(f"土地部分出租，合并{row['tenants']}家承租企业税收")
    if row.get("tax_per_mu_wan") is None:
        return Verdict("mu-average", "R1", "no_land", mu_average.OUTCOMES["no_land"], figures,
                       reasons + [f"{subject}无有效用地面积或无税收数据，亩均指标无法计算"],
                       mu_average.CITATIONS, rulebook.label)
    refunds = "（退税及政策性减免计入）" if rulebook.section("mu_average")["add_back_refunds"] else ""
    reasons.append(f"亩均税收 = {row['tax_total_wan']:.2f} 万元 ÷ {area:.2f} 亩 = {row['tax_per_mu_wan']:.2f} 万元/亩"
                   + refunds)
    if row.get("output_per_mu_wan") is not None:
        reasons.append(f"亩均产值 {row['output_per_mu_wan']:.2f} 万元/亩")
    return Verdict("mu-average", "R1", "computed", mu_average.OUTCOMES["computed"], figures,
                   reasons, mu_average.CITATIONS, rulebook.label)


def idle_verdict(row: dict[str, Any], rulebook: Rulebook, as_of: str) -> Verdict:
    """R3 from a stored parcel result."""
    rules = rulebook.section("idle")
    outcome = row["idle_outcome"]
    if outcome == "not_applicable":
        return Verdict("idle", "R3", "not_applicable", "未供应或无出让合同，不适用", {"as_of": as_of},
                       ["宗地尚未供应或没有约定动工日期，不作闲置认定"], [idle.CITE_ART2], rulebook.label)
    figures = {"as_of": as_of, "idle_since": row.get("idle_since"), "idle_full_years": row.get("idle_years"),
               "idle_fee_wan": _r(row.get("idle_fee_wan")), "idle.fee_after_years": rules["fee_after_years"],
               "idle.reclaim_after_years": rules["reclaim_after_years"], "idle.fee_rate": rules["fee_rate"]}
    reasons, cites = [], [idle.CITE_ART2, idle.CITE_PERIOD]
    if outcome in ("idle_fee", "reclaim", "government_caused"):
        reasons.append(f"自 {row['idle_since']} 起计算，至 {as_of} 已满 {row['idle_years']} 年")
        cites.append(idle.CITE_ART14)
    if outcome == "idle_fee":
        fee = row.get("idle_fee_wan")
        reasons.append(f"满{rules['fee_after_years']}年未满{rules['reclaim_after_years']}年，按价款的{rules['fee_rate']:.0%}"
                       f"征缴土地闲置费" + (f" {fee:.2f} 万元" if fee is not None else ""))
    elif outcome == "reclaim":
        reasons.append(f"满{rules['reclaim_after_years']}年，无偿收回国有建设用地使用权")
    elif outcome == "government_caused":
        cites.append(idle.CITE_ART8)
        reasons.append("延迟系政府原因造成，协商处置，不征闲置费、不无偿收回")
    elif outcome == "not_idle":
        reasons.append("已按期动工，或中止开发未满一年，或开发面积与投资比例达到要求，不构成闲置")
    elif outcome == "not_yet_due":
        reasons.append("尚未到约定动工日期")
    else:
        reasons.append("缺少开发面积或投资比例数据，无法认定")
    return Verdict("idle", "R3", outcome, idle.OUTCOMES.get(outcome, outcome), figures, reasons, cites, rulebook.label)


def low_efficiency_verdict(row: dict[str, Any], rulebook: Rulebook) -> Verdict:
    """R4 from a stored parcel result: each category with its clause."""
    mask = int(row["low_efficiency_mask"])
    cats = [c for c in Cat if mask & CATEGORY_BITS[c]]
    short = [i for i in INDICATORS if int(row["below_contract_mask"]) & (1 << INDICATORS.index(i))]
    unchecked = [i for i in INDICATORS if int(row["unchecked_mask"]) & (1 << INDICATORS.index(i))]
    details, reasons, cites = {}, [], [low_efficiency.CITE_INTRO]
    explain = {
        Cat.INDUSTRY_TRANSFORMATION: "行业属淘汰类、禁止类或被列入关停并转、退二优二范围",
        Cat.CONSTRUCTION_STALLED: "已动工，开发面积超过三分之一且投资超过25%，但停建缓建且不构成闲置",
        Cat.BELOW_CONTRACT: "竣工投产但合同约定指标未达到：" + "、".join(low_efficiency.INDICATOR_LABELS[i] for i in short),
        Cat.PRODUCTION_HALTED: f"竣工验收合格，连续 {row.get('years_without_profit')} 年未产生经营利润（超过2年）",
        Cat.OUTPUT_SHORTFALL: f"竣工验收合格、生产正常，但企业分类为{row.get('owner_class')}类",
        Cat.OTHER: "经产业集聚区低效用地整治提升工作领导小组认定",
    }
    for c in cats:
        details[c.value] = {"label": c.label, "reason": explain[c], "citation": low_efficiency.CITES[c].to_dict()}
        reasons.append(f"{c.label}：{explain[c]}")
        cites.append(low_efficiency.CITES[c])
    if unchecked:
        reasons.append("缺少实际数据、未能核对的约定指标：" + "、".join(low_efficiency.INDICATOR_LABELS[i] for i in unchecked))
    outcome = "inefficient" if cats else "not_inefficient"
    if not cats:
        reasons.append("不属于六类低效用地中的任何一类")
    figures = {"categories": [c.value for c in cats], "category_details": details,
               "below_contract_indicators": short, "unchecked_indicators": unchecked,
               "years_without_profit": row.get("years_without_profit"), "owner_class": row.get("owner_class")}
    return Verdict("low-efficiency", "R4", outcome, low_efficiency.OUTCOMES[outcome], figures, reasons, cites,
                   rulebook.label)


def classify_verdict(row: dict[str, Any], rulebook: Rulebook) -> Verdict:
    """R2 from a stored enterprise result (the current version of it)."""
    rules = rulebook.section("classify")
    figures: dict[str, Any] = {"group": "规上" if row["above_scale"] else "规下", "result_version": row["result_version"]}
    if row["status"] != "evaluated":
        figures["managed_as"] = row.get("managed_as")
        return Verdict("classify", "R2", "not_evaluated", classify.OUTCOMES["not_evaluated"], figures,
                       [row.get("not_evaluated_reason") or "不参评", f"按{row.get('managed_as') or rules['not_evaluated_class']}类管理"]
                       + ([row["note"]] if row.get("note") else []), classify.CITATIONS, rulebook.label)
    group = rules["above_scale" if row["above_scale"] else "below_scale"]
    items, reasons = {}, []
    for item, weight in group["weights"].items():
        score = row.get(f"item_{item}")
        items[item] = {"score": _r(score, 4), "weight": weight, "benchmark": group["benchmarks"][item]}
        reasons.append(f"{classify.ITEM_LABELS[item]}：得 {score:.2f} 分（权重 {weight}）" if score is not None
                       else f"{classify.ITEM_LABELS[item]}：缺少数据，按{'同组平均分' if rules['missing_item'] == 'average' else '0分'}计")
    cls = row["result_class"]
    figures.update(items=items, score=_r(row["score"], 4))
    if row.get("supersedes_id"):
        reasons.append(f"综合得分 {row['score']:.2f} 分；经公示异议改定为{classify.CLASS_LABELS[cls]}"
                       f"（第 {row['result_version']} 版结果，原结果保留备查）")
    else:
        reasons.append(f"综合得分 {row['score']:.2f} 分；按同组名次（前{rules['a_top_share']:.0%}为A、"
                       f"后{rules['c_bottom_share']:.0%}为C）评为{classify.CLASS_LABELS[cls]}")
    if row.get("note"):
        reasons.append(row["note"])
    return Verdict("classify", "R2", cls, classify.OUTCOMES[cls], figures, reasons, classify.CITATIONS, rulebook.label)
