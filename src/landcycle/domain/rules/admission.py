"""R6 工业项目入驻评审 and differentiated supply (000:1144–1156; batches for ≥100 亩, 000:745).

The review class decides whether land is supplied, for how long and in which ways; every term,
mode and area threshold is a rulebook setting ([admission]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Problem, ValidationFailed
from .inputs import spec
from .rulebook import Rulebook
from .verdict import Citation, RuleCheck, Verdict

RULE, RULE_ID = "admission", "R6"

OUTCOMES = {"supply": "予以供地", "no_supply": "不得供地"}

#: Supply modes named in 000:1150–1152.
MODE_LABELS = {
    "transfer": "出让",
    "flexible_term_transfer": "弹性年期出让",
    "lease_then_transfer": "先租后让",
    "lease_and_transfer": "租让结合",
    "long_term_lease": "长期租赁",
}
RENEWAL_LABELS = {"conditional": "有条件续期"}
CLASS_CHOICES = ("encouraged", "permitted", "prohibited", "special", "鼓励类", "允许类", "禁止类", "特殊类")

CITE_REVIEW = Citation(
    "000:1144", "根据入驻评审指标体系对拟入驻产业集聚区工业项目进行综合评级，将工业项目分为鼓励类、允许类、禁止类、特殊类等，"
                "按差别化土地供应政策予以供应。")
CITE_CLASS = {
    "encouraged": Citation("000:1150", "鼓励类项目。……可按照法定最高使用年期一次性出让。"),
    "permitted": Citation("000:1152", "允许类项目。……原则上采用弹性年期出让、先租后让、租让结合、长期租赁的方式供应土地，"
                                      "严格执行“20年+有条件续期”政策"),
    "prohibited": Citation("000:1154", "禁止类项目。列入《产业结构调整指导目录（2019年本）》限制类的扩建、改建、新建项目和"
                                       "淘汰类项目，不得供地。"),
    "special": Citation("000:1156", "特殊类项目。电力、燃气、给排水、垃圾焚烧、污水处理等特殊、配套类工业项目可适用鼓励类项目"
                                    "用地规定。"),
}
CITE_BATCH = Citation("000:745", "新建工业项目拟占地面积100亩以上的，应严格审核建设规模，根据建设周期分批供地。")


@dataclass(frozen=True)
class AdmissionCase:
    """A project's 入驻评审 class and the area it asks for."""

    review_class: str = spec("入驻评审类别（encouraged 鼓励类 / permitted 允许类 / prohibited 禁止类 / special 特殊类，"
                             "也可直接填中文）", choices=CLASS_CHOICES)
    area_mu: float = spec("拟占地面积", "亩", minimum=0)


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def check_admission(case: AdmissionCase, rulebook: Rulebook) -> Verdict:
    """Supply terms for a reviewed project: term, modes, batch supply."""
    rules = rulebook.section("admission")
    classes = rules.get("classes", {})
    by_label = {c.get("label"): name for name, c in classes.items()}
    name = by_label.get(case.review_class, case.review_class)
    if name not in classes:
        raise ValidationFailed(Problem("输入", "review_class", f"入驻评审类别“{case.review_class}”不在规则库中"))
    cls = classes[name]
    label = cls.get("label", name)
    applied = cls.get("as_class", name)
    applied_cls = classes[applied]
    citations = [CITE_REVIEW, CITE_CLASS[name]] if name in CITE_CLASS else [CITE_REVIEW]
    figures: dict[str, Any] = {"review_class": name, "review_class_label": label, "applied_class": applied,
                               "applied_class_label": applied_cls.get("label", applied), "area_mu": case.area_mu}
    reasons: list[str] = []
    if applied != name:
        reasons.append(f"{label}项目适用{applied_cls.get('label', applied)}项目用地规定")
        if applied in CITE_CLASS:
            citations.append(CITE_CLASS[applied])

    if not applied_cls.get("supply", False):
        figures.update({"term_years": None, "renewal": None, "modes": [], "mode_labels": [],
                        "batch_supply_required": False})
        reasons.insert(0, f"{label}项目不得供地")
        return Verdict(RULE, RULE_ID, "no_supply", OUTCOMES["no_supply"], figures, reasons, citations, rulebook.label)

    term = applied_cls.get("term")
    if term == "statutory_max":
        years = rules["statutory_max_term_years"]
        reasons.append(f"按法定最高使用年期 {years} 年一次性出让")
    elif term == "flexible":
        years = rules["flexible_term_years"]
        renewal = RENEWAL_LABELS.get(applied_cls.get("renewal", ""), applied_cls.get("renewal"))
        reasons.append(f"弹性年期：{years} 年" + (f"+{renewal}" if renewal else ""))
    else:
        raise ValidationFailed(Problem("规则库", f"admission.classes.{applied}.term", f"未知年期方式“{term}”"))
    modes = list(applied_cls.get("modes", []))
    mode_labels = [MODE_LABELS.get(m, m) for m in modes]
    reasons.append("供应方式：" + "、".join(mode_labels))

    batch_from = rules["batch_supply_area_mu_from"]
    batch = case.area_mu >= batch_from
    if batch:
        reasons.append(f"拟占地 {_fmt(case.area_mu)} 亩，达到 {_fmt(batch_from)} 亩以上，应严格审核建设规模，根据建设周期分批供地")
        citations.append(CITE_BATCH)
    else:
        reasons.append(f"拟占地 {_fmt(case.area_mu)} 亩，不足 {_fmt(batch_from)} 亩，无需分批供地")
    figures.update({"term_years": years, "term_basis": term,
                    "renewal": applied_cls.get("renewal"),
                    "renewal_label": RENEWAL_LABELS.get(applied_cls.get("renewal", ""), applied_cls.get("renewal")),
                    "modes": modes, "mode_labels": mode_labels,
                    "batch_supply_area_mu_from": batch_from, "batch_supply_required": batch})
    reasons.insert(0, f"{label}项目予以供地")
    return Verdict(RULE, RULE_ID, "supply", OUTCOMES["supply"], figures, reasons, citations, rulebook.label)


EXAMPLE = {"review_class": "permitted", "area_mu": 120.0}

CHECK = RuleCheck(
    name=RULE, rule_id=RULE_ID, title="工业项目入驻评审与差别化供地", input_type=AdmissionCase,
    run=check_admission, outcomes=OUTCOMES, example=EXAMPLE,
    notes="鼓励类 and 特殊类 (which 000:1156 puts under the 鼓励类 rules) get the statutory maximum term "
          "(`statutory_max_term_years`, 50 for industrial land) by one-off 出让; 允许类 get `flexible_term_years` "
          "(20) + conditional renewal by 弹性年期出让/先租后让/租让结合/长期租赁; 禁止类 get no land. Projects of "
          "`batch_supply_area_mu_from` (100) 亩 or more are supplied in batches (000:745, 以上 includes 100).",
)
