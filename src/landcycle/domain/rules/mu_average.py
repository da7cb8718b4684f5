"""R1 亩均税收 / 亩均产值 (000:1072-1074).

亩均税收 = 年纳税合计（退税及政策性减免计算在内）÷ 实际用地面积；出租土地的合并承租企业税收；
标准厂房出租（售）的，以实际入园企业汇总计算。亩均产值 = 统计部门核定的工业产值 ÷ 实际用地面积.

``tax_total`` and ``per_mu`` are the one place these formulas live; they work on floats and on
numpy arrays alike, so the annual evaluation and the single-case check share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import Problem, ValidationFailed
from .inputs import spec
from .rulebook import Rulebook
from .verdict import Citation, RuleCheck, Verdict

CITATIONS = [
    Citation("000:1072", "亩均税收 = 年纳税合计（有退税或政策性减免的企业所减退部分税金计算在内）/ 企业实际用地面积；"
                         "土地使用权人将土地部分或全部出租的，税收计算应合并承租企业"),
    Citation("000:1074", "亩均产值 = 统计部门核定的工业产值 / 企业实际用地面积；投资修建工业标准厂房用于出租（售）的企业，"
                         "亩均税收和亩均产值以实际入园企业汇总计算"),
]


def tax_total(tax_paid, tax_refunded, add_back_refunds: bool = True):
    """年纳税合计: tax paid plus, when the rulebook says so, refunds and policy reductions."""
    return tax_paid + tax_refunded if add_back_refunds else tax_paid


def per_mu(amount, area_mu):
    """An amount (万元) per 亩 of actual land; NaN where the area is not positive."""
    area = np.asarray(area_mu, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(area > 0, np.asarray(amount, dtype=float) / np.where(area > 0, area, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class MuAverageCase:
    land_area_mu: float = spec("企业（宗地）实际用地面积", "亩", minimum=0)
    tax_paid_wan: float = spec("土地使用权人年实缴税金", "万元", 0.0, minimum=0)
    tax_refunded_wan: float = spec("土地使用权人退税及政策性减免", "万元", 0.0, minimum=0)
    industrial_output_wan: float | None = spec("土地使用权人工业产值（统计部门核定）", "万元", None, minimum=0)
    tenants: list[dict] = spec("承租企业列表，每项 {name, tax_paid_wan, tax_refunded_wan, industrial_output_wan}",
                               "万元", [])
    standard_factory: bool = spec("是否为出租（售）的标准厂房（以实际入园企业汇总计算）", "", False)
    target_tax_per_mu_wan: float | None = spec("亩均税收目标（如所在集聚区目标档次下限）", "万元/亩", None, minimum=0)


OUTCOMES = {
    "computed": "已计算",
    "meets_target": "达到亩均税收目标",
    "below_target": "低于亩均税收目标",
    "no_land": "无有效用地面积，无法计算",
}

_TENANT_KEYS = {"name", "tax_paid_wan", "tax_refunded_wan", "industrial_output_wan"}


def _tenant_figures(tenants: list[dict]) -> list[dict[str, Any]]:
    problems, out = [], []
    for i, t in enumerate(tenants):
        record = f"承租企业第{i + 1}项"
        if not isinstance(t, dict):
            problems.append(Problem("输入", f"tenants[{i}]", f"{record}应为对象"))
            continue
        for key in set(t) - _TENANT_KEYS:
            problems.append(Problem("输入", f"tenants[{i}].{key}", f"{record}：未知字段"))
        row = {"name": str(t.get("name", f"承租企业{i + 1}"))}
        for key in ("tax_paid_wan", "tax_refunded_wan", "industrial_output_wan"):
            v = t.get(key, 0.0)
            if v is None and key == "industrial_output_wan":
                v = 0.0
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                problems.append(Problem("输入", f"tenants[{i}].{key}", f"{record}：应为非负数值"))
                v = 0.0
            row[key] = float(v)
        out.append(row)
    if problems:
        raise ValidationFailed(problems)
    return out


def check_mu_average(case: MuAverageCase, rulebook: Rulebook) -> Verdict:
    """R1 for one land user (and its tenants)."""
    rules = rulebook.section("mu_average")
    add_back = bool(rules["add_back_refunds"])
    tenants = _tenant_figures(case.tenants)
    own_tax = tax_total(case.tax_paid_wan, case.tax_refunded_wan, add_back)
    own_output = case.industrial_output_wan or 0.0
    tenant_tax = sum(tax_total(t["tax_paid_wan"], t["tax_refunded_wan"], add_back) for t in tenants)
    tenant_output = sum(t["industrial_output_wan"] for t in tenants)
    reasons = []
    if case.standard_factory and rules["standard_factory_over_tenants"]:
        total_tax, total_output = tenant_tax, tenant_output
        reasons.append(f"标准厂房按实际入园企业（{len(tenants)}家）汇总计算，出租方自身税收 {own_tax:.2f} 万元不计入")
    elif tenants and rules["merge_tenants"]:
        total_tax, total_output = own_tax + tenant_tax, own_output + tenant_output
        reasons.append(f"土地部分出租，合并{len(tenants)}家承租企业税收 {tenant_tax:.2f} 万元")
    else:
        total_tax, total_output = own_tax, own_output
    if add_back and (case.tax_refunded_wan or any(t["tax_refunded_wan"] for t in tenants)):
        reasons.append("退税及政策性减免部分计入年纳税合计")
    figures: dict[str, Any] = {
        "land_area_mu": case.land_area_mu,
        "own_tax_total_wan": round(own_tax, 4),
        "tenant_tax_total_wan": round(tenant_tax, 4),
        "tax_total_wan": round(total_tax, 4),
        "industrial_output_total_wan": round(total_output, 4),
        "tenants": len(tenants),
        "standard_factory": case.standard_factory,
        "add_back_refunds": add_back,
    }
    if case.land_area_mu <= 0:
        return Verdict("mu-average", "R1", "no_land", OUTCOMES["no_land"], figures,
                       reasons + ["实际用地面积为零，亩均指标无法计算"], CITATIONS, rulebook.label)
    tax_mu = per_mu(total_tax, case.land_area_mu)
    output_mu = per_mu(total_output, case.land_area_mu)
    figures["tax_per_mu_wan"] = round(tax_mu, 4)
    figures["output_per_mu_wan"] = round(output_mu, 4)
    reasons.append(f"亩均税收 = {total_tax:.2f} 万元 ÷ {case.land_area_mu:.2f} 亩 = {tax_mu:.2f} 万元/亩")
    reasons.append(f"亩均产值 = {total_output:.2f} 万元 ÷ {case.land_area_mu:.2f} 亩 = {output_mu:.2f} 万元/亩")
    outcome = "computed"
    if case.target_tax_per_mu_wan is not None:
        figures["target_tax_per_mu_wan"] = case.target_tax_per_mu_wan
        outcome = "meets_target" if tax_mu >= case.target_tax_per_mu_wan else "below_target"
        reasons.append(f"目标 {case.target_tax_per_mu_wan:.2f} 万元/亩：{OUTCOMES[outcome]}")
    return Verdict("mu-average", "R1", outcome, OUTCOMES[outcome], figures, reasons, CITATIONS, rulebook.label)


EXAMPLE = {
    "land_area_mu": 45.0,
    "tax_paid_wan": 520.0,
    "tax_refunded_wan": 60.0,
    "industrial_output_wan": 18000.0,
    "tenants": [{"name": "许昌某配件有限公司（演示）", "tax_paid_wan": 95.0, "tax_refunded_wan": 0,
                 "industrial_output_wan": 2600.0}],
    "target_tax_per_mu_wan": 15.0,
}

CHECK = RuleCheck(
    name="mu-average", rule_id="R1", title="亩均税收与亩均产值", input_type=MuAverageCase,
    run=check_mu_average, outcomes=OUTCOMES, example=EXAMPLE,
    notes="Tenants' taxes are merged into the landlord's parcel; a standard factory (标准厂房) is computed "
          "over its tenants only. Refunds are added back when `mu_average.add_back_refunds` is true.",
)
