"""履约监管 and exit, pure (issue 7 items 4–5; DOMAIN.md R3, R4, R9) — no I/O.

* :func:`check_acceptance` — a 竣工联合验收 / 达产验收 (or its 复验) against the indicators the
  履约监管协议 commits: per indicator the committed and measured figure, floor or ceiling, met or
  not, with a Chinese reason naming the clause. The comparison itself is R4 开发未达标类's
  (``low_efficiency.compare_indicators``); which indicators each kind checks is the rulebook's
  ``[acceptance]``. Measured figures come either as the indicators themselves or as the surveyed
  areas and amounts they are computed from (:data:`MEASURES`, over the parcel's certificated area).
* :func:`buyback` — the 成本还原 buy-back figure on rescission (R9). The seeds give no formula;
  the reading (``[buyback]``, example defaults, docs/supervision.md): land price × remaining term
  (days) ÷ granted term (days), plus the buildings as the contract disposes of them — 残值补偿:
  the audited construction cost depreciated straight-line to the rescission day, never below the
  salvage rate; 无偿收回 and 恢复原状: nothing — less any deductions the case records.
* :func:`idle_notice` — the 闲置费 notice at R3's 1-year point (amount ``idle.idle_fee_wan``) and
  the 无偿收回 proposal at the 2-year point, both refused before their point or when a
  government-caused delay is on record (第八条), each refusal with its reason.
* :func:`contract_deadlines` — each contract deadline (start, completion, production), the R3
  points and the end of a rectification period: due, done, status, days late, consequence.
* :func:`restriction` — 达产复验通过前不得抵押、转让、股权变更 (000:1024, R9) and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import Problem
from .rules import idle as idle_rule
from .rules.idle import anniversary
from .rules.low_efficiency import compare_indicators
from .rules.rulebook import Rulebook
from .vocabulary import AcceptanceResult, BuildingDisposal, IdleNoticeKind, InspectionKind, LandState

K = InspectionKind

#: Indicator key → (Chinese name, unit, the 履约监管协议 column holding the committed value).
INDICATORS: dict[str, tuple[str, str, str]] = {
    "plot_ratio": ("容积率", "", "plot_ratio"),
    "building_density": ("建筑密度", "", "building_density"),
    "building_coverage": ("建筑系数", "", "building_coverage"),
    "green_ratio": ("绿地率", "", "green_ratio"),
    "office_living_ratio": ("行政办公及生活服务设施用地比例", "", "office_living_ratio"),
    "investment_intensity": ("投资强度", "万元/亩", "investment_intensity_wan_per_mu"),
    "output_intensity": ("产出强度（亩均产值）", "万元/亩", "output_per_mu_wan"),
    "tax_per_mu": ("亩均税收", "万元/亩", "tax_per_mu_wan"),
}
LABELS = {k: v[0] for k, v in INDICATORS.items()}

#: Surveyed areas and amounts → (indicator, divided by the parcel's "m2" or "mu", Chinese name).
MEASURES: dict[str, tuple[str, str, str]] = {
    "floor_area_m2": ("plot_ratio", "m2", "计容建筑面积（平方米）"),
    "footprint_m2": ("building_density", "m2", "建筑基底面积（平方米）"),
    "coverage_area_m2": ("building_coverage", "m2", "建构筑物及堆场面积（平方米）"),
    "green_area_m2": ("green_ratio", "m2", "绿地面积（平方米）"),
    "office_living_area_m2": ("office_living_ratio", "m2", "行政办公及生活服务设施用地面积（平方米）"),
    "investment_wan": ("investment_intensity", "mu", "固定资产投资（万元）"),
    "output_wan": ("output_intensity", "mu", "年产值（万元）"),
    "tax_wan": ("tax_per_mu", "mu", "年税收（万元）"),
}

CLAUSES = {
    K.COMPLETION: "000:1020-1022（竣工联合验收）",
    K.COMPLETION_REINSPECTION: "000:1022（限期整改后竣工复验）",
    K.PRODUCTION: "000:1026-1028（对《合同》《协议》约定的指标进行联合达产验收）",
    K.PRODUCTION_REINSPECTION: "000:1024、1028（达产复验）",
}


def base_kind(kind: InspectionKind) -> InspectionKind:
    """completion or production: what a 复验 re-inspects."""
    return K.COMPLETION if kind in (K.COMPLETION, K.COMPLETION_REINSPECTION) else K.PRODUCTION


def _fmt(x: float) -> str:
    return f"{x:.6g}"


# =========================================================================== acceptance
def derive_indicators(measured: dict[str, Any], area_m2: float, area_mu: float, record: str
                      ) -> tuple[dict[str, float], list[str], list[Problem]]:
    """The measured indicators from a request's ``measured`` (indicators and/or surveyed areas
    and amounts), the derivations as text, and every problem (unknown key, not a number,
    negative, an indicator given both ways)."""
    out: dict[str, float] = {}
    how: list[str] = []
    problems: list[Problem] = []
    if not isinstance(measured, dict):
        return out, how, [Problem(record, "measured", "应为对象 {指标或面积: 数值}")]
    given_by: dict[str, str] = {}
    for key, value in measured.items():
        where = f"measured.{key}"
        if key not in INDICATORS and key not in MEASURES:
            problems.append(Problem(record, where, "未知的实测项，可用：" + "、".join(
                [f"{v[0]}({k})" for k, v in INDICATORS.items()] + [f"{v[2]}({k})" for k, v in MEASURES.items()]),
                "unknown_field"))
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
                or value in (float("inf"), float("-inf")):
            problems.append(Problem(record, where, "应为数值"))
            continue
        if value < 0:
            problems.append(Problem(record, where, "不能为负数"))
            continue
        indicator = key if key in INDICATORS else MEASURES[key][0]
        if indicator in given_by:
            problems.append(Problem(record, where, f"{LABELS[indicator]}已由 measured.{given_by[indicator]} 给出，"
                                    "同一指标只能给出实测值或计算它的面积/金额之一", "conflict"))
            continue
        given_by[indicator] = key
        if key in INDICATORS:
            out[key] = float(value)
            continue
        _, per, name = MEASURES[key]
        base = area_m2 if per == "m2" else area_mu
        if not base:
            problems.append(Problem(record, where, "宗地面积为0，无法计算"))
            continue
        out[indicator] = float(value) / base
        how.append(f"{LABELS[indicator]} = {name} {_fmt(float(value))} ÷ 宗地面积 {_fmt(base)}"
                   f"{'平方米' if per == 'm2' else '亩'} = {_fmt(out[indicator])}")
    return out, how, problems


@dataclass(frozen=True)
class AcceptanceCheck:
    """The outcome of one inspection: per-indicator findings, the result and why."""

    kind: str
    result: str
    findings: list[dict[str, Any]]
    reasons: list[str]
    problems: list[Problem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.result == AcceptanceResult.PASSED.value


def committed_indicators(agreement: dict[str, Any] | None) -> dict[str, float]:
    """The indicators a 履约监管协议 (its columns as a dict) commits, by indicator key."""
    if not agreement:
        return {}
    return {k: float(agreement[col]) for k, (_, _, col) in INDICATORS.items() if agreement.get(col) is not None}


def check_acceptance(kind: InspectionKind, committed: dict[str, float], measured: dict[str, float],
                     rulebook: Rulebook, declared: str | None = None, has_agreement: bool = True,
                     record: str = "验收") -> AcceptanceCheck:
    """Check ``measured`` against ``committed`` for an inspection of ``kind``.

    Every committed indicator the kind checks (``[acceptance]``) must have a measured value
    (else a problem: an acceptance cannot pass on an unchecked indicator). The result is
    "passed" when every checked indicator is met; ``declared`` may turn a pass into "failed"
    (the joint opinion found other defects — quality, fire safety), never a failure into a pass.
    Without a 履约监管协议 there is nothing to check: the declared result is recorded as given.
    """
    rules = rulebook.section("acceptance")
    low = rulebook.section("low_efficiency")
    floors = list(low["below_contract_floors"]) + list(rules.get("extra_floors", []))
    ceilings = list(low["below_contract_ceilings"])
    keys = rules["completion_indicators" if base_kind(kind) is K.COMPLETION else "production_indicators"]
    clause = CLAUSES[kind]
    problems: list[Problem] = []
    if declared is not None and declared not in (AcceptanceResult.PASSED.value, AcceptanceResult.FAILED.value):
        problems.append(Problem(record, "result", "验收结论应为“通过”(passed)或“未通过”(failed)"))
    if not has_agreement:
        if declared is None:
            problems.append(Problem(record, "result", "宗地未登记履约监管协议，没有约定指标可对标：请填写联合验收意见的结论"
                                    "（result：通过/未通过）"))
        reasons = [f"未登记履约监管协议，按联合验收意见登记结论（{clause}）"]
        return AcceptanceCheck(kind.value, declared or "", [], reasons, problems)
    checked = {k: v for k, v in committed.items() if k in keys}
    findings: list[dict[str, Any]] = []
    reasons: list[str] = []
    for f in compare_indicators(checked, measured, floors, ceilings, LABELS):
        unit = INDICATORS[f.key][1]
        side = "上限" if f.ceiling else "下限"
        if f.met is None:
            problems.append(Problem(record, f"measured.{f.key}",
                                    f"履约监管协议约定{f.label}{'不高于' if f.ceiling else '不低于'} {_fmt(f.committed)}{unit}，"
                                    f"未提供实测值（{clause}：约定指标须逐项验收）", "missing"))
            continue
        if f.met:
            why = (f"{f.label}实测 {_fmt(f.actual)}{unit}，{'不高于约定上限' if f.ceiling else '不低于约定'} "
                   f"{_fmt(f.committed)}{unit}：达标")
        else:
            why = (f"{f.label}实测 {_fmt(f.actual)}{unit}，{'高于约定上限' if f.ceiling else '低于约定'} "
                   f"{_fmt(f.committed)}{unit}：未达标（履约监管协议约定指标，{clause}；开发未达标，000:1060）")
            reasons.append(why)
        findings.append({"indicator": f.key, "label": f.label, "unit": unit, "bound": side,
                         "committed": f.committed, "measured": f.actual, "passed": f.met, "reason": why})
    for k in sorted(set(measured) - set(checked), key=list(INDICATORS).index):
        findings.append({"indicator": k, "label": LABELS[k], "unit": INDICATORS[k][1], "bound": None,
                         "committed": committed.get(k), "measured": measured[k], "passed": None,
                         "reason": f"{LABELS[k]}实测 {_fmt(measured[k])}：" + (
                             "履约监管协议未约定，不作判定" if k not in committed else f"{kind.label}不核查此项（规则库 acceptance）")})
    failed = any(f["passed"] is False for f in findings)
    if failed:
        result = AcceptanceResult.FAILED.value
        if declared == AcceptanceResult.PASSED.value:
            problems.append(Problem(record, "result", "约定指标未达标，不能登记为“通过”：" + "；".join(reasons), "refused"))
        reasons.insert(0, f"{kind.label}未通过：约定指标未全部达到（{clause}）")
    elif declared == AcceptanceResult.FAILED.value:
        result = AcceptanceResult.FAILED.value
        reasons.insert(0, f"约定指标均已达到，但联合验收意见结论为未通过（{clause}）")
    else:
        result = AcceptanceResult.PASSED.value
        reasons.insert(0, f"{kind.label}通过：已核查的约定指标均已达到（{clause}）")
    return AcceptanceCheck(kind.value, result, findings, reasons, problems)


# =========================================================================== 成本还原 buy-back
@dataclass(frozen=True)
class Buyback:
    """The buy-back figure and how it was reached (万元)."""

    land_price_wan: float
    term_start: date
    term_end: date
    remaining_days: int
    term_days: int
    land_refund_wan: float
    disposal: str
    audited_cost_wan: float | None
    building_age_days: int
    building_value_wan: float | None
    deductions_wan: float
    price_wan: float | None
    steps: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "land_price_wan": self.land_price_wan, "term_start": self.term_start.isoformat(),
            "term_end": self.term_end.isoformat(), "remaining_days": self.remaining_days,
            "term_days": self.term_days, "land_refund_wan": self.land_refund_wan, "building_disposal": self.disposal,
            "building_disposal_label": BuildingDisposal(self.disposal).label,
            "audited_cost_wan": self.audited_cost_wan, "building_age_days": self.building_age_days,
            "building_value_wan": self.building_value_wan, "deductions_wan": self.deductions_wan,
            "buyback_price_wan": self.price_wan, "steps": self.steps,
        }


def buyback(land_price_wan: float, term_start: date, term_years: int, rescission_date: date, disposal: str,
            rulebook: Rulebook, audited_cost_wan: float | None = None, buildings_since: date | None = None,
            deductions_wan: float = 0.0) -> Buyback:
    """The 成本还原 buy-back price on rescission (module docstring; ``[buyback]``).

    ``buildings_since``: when the buildings were accepted as complete (their depreciation runs
    from it; none: still unfinished works, taken at audited cost). ``price_wan`` is None while a
    残值补偿 case waits for the audited construction cost.
    """
    rules = rulebook.section("buyback")
    life, salvage = float(rules["building_life_years"]), float(rules["building_salvage_rate"])
    term_end = anniversary(term_start, term_years)
    term_days = (term_end - term_start).days
    remaining = max(0, (term_end - max(rescission_date, term_start)).days)
    land = round(land_price_wan * remaining / term_days, 4) if term_days > 0 else 0.0
    steps = [f"土地部分 = 土地价款 {land_price_wan:.2f} 万元 × 剩余年期 {remaining} 天 ÷ 出让年期 {term_days} 天"
             f"（{term_start} 至 {term_end}，解除之日 {rescission_date}）= {land:.4f} 万元"]
    age = max(0, (rescission_date - buildings_since).days) if buildings_since else 0
    value: float | None
    kind = BuildingDisposal(disposal)
    if kind is BuildingDisposal.RESIDUAL_COMPENSATION:
        if audited_cost_wan is None:
            value = None
            steps.append("地上建筑物按残值补偿：待第三方成本还原审计确认建设成本后计算")
        else:
            ratio = max(salvage, 1 - (1 - salvage) * age / (life * 365))
            value = round(audited_cost_wan * ratio, 4)
            since = f"自竣工 {buildings_since} 起已使用 {age} 天" if buildings_since else "未竣工，按审计成本"
            steps.append(f"地上建筑物残值补偿 = 审计确认建设成本 {audited_cost_wan:.2f} 万元 × max({salvage:g}, 1 − "
                         f"(1 − {salvage:g}) × {age} ÷ ({life:g} × 365))（{since}；规则库 buyback）= {value:.4f} 万元")
    elif kind is BuildingDisposal.FREE_RECLAIM:
        value = 0.0
        steps.append("地上建筑物按出让合同约定无偿收回：补偿 0 万元（000:1034）")
    else:
        value = 0.0
        steps.append("按出让合同约定由受让人恢复原状：地上建筑物不予补偿，拆除及恢复费用由受让人承担（000:1034）")
    price = None
    if value is not None:
        price = round(max(0.0, land + value - deductions_wan), 4)
        steps.append(f"回购价 = {land:.4f} + {value:.4f} − 扣减 {deductions_wan:.4f} = {price:.4f} 万元")
    return Buyback(land_price_wan, term_start, term_end, remaining, term_days, land, kind.value, audited_cost_wan,
                   age, value, deductions_wan, price, steps)


# =========================================================================== idle notices (R3)
@dataclass(frozen=True)
class IdleNotice:
    """What an idle notice may say now: allowed or the reasons it is refused, the amount."""

    kind: str
    allowed: bool
    reasons: list[str]
    since: date | None
    point: date | None
    full_years: int
    land_price_wan: float | None
    fee_rate: float
    amount_wan: float | None
    basis: str


def idle_notice(kind: IdleNoticeKind, verdict: idle_rule.Verdict | None, government_delay: str | None,
                rulebook: Rulebook, land_price_wan: float | None) -> IdleNotice:
    """Whether the 闲置费 notice (``fee_notice``) or the 无偿收回 proposal (``reclaim_proposal``) is
    due on the verdict's day (R3 via ``idle.check_idle`` run with ``government_caused`` False),
    and the fee. ``government_delay``: the recorded finding (its 文号), which bars both (第八条)."""
    rules = rulebook.section("idle")
    rate = float(rules["fee_rate"])
    fee_years, reclaim_years = int(rules["fee_after_years"]), int(rules["reclaim_after_years"])
    basis = idle_rule.CITE_ART14.source + "：" + idle_rule.CITE_ART14.text
    reasons: list[str] = []
    if verdict is None:
        return IdleNotice(kind.value, False, ["尚未登记出让合同约定的动工日期，无法按闲置土地处置办法第二条认定（R3）"],
                          None, None, 0, land_price_wan, rate, None, basis)
    f = verdict.figures
    since_text = f.get("stopped_since") if f.get("path") == "started" else f.get("agreed_start_date")
    since = date.fromisoformat(since_text) if since_text else None
    years = int(f.get("delay_years") or 0)
    point_key = "fee_due_date" if kind is IdleNoticeKind.FEE_NOTICE else "reclaim_due_date"
    point = date.fromisoformat(f[point_key]) if f.get(point_key) else None
    if point is None and since is not None:
        point = anniversary(since, fee_years if kind is IdleNoticeKind.FEE_NOTICE else reclaim_years)
    need = {"idle_fee", "reclaim"} if kind is IdleNoticeKind.FEE_NOTICE else {"reclaim"}
    if government_delay:
        reasons.append(f"已记录政府原因造成动工开发延迟的认定（{government_delay}）：依闲置土地处置办法第八条、第十二条协商处置，"
                       "不征缴土地闲置费，不无偿收回")
    if verdict.outcome not in need:
        n = fee_years if kind is IdleNoticeKind.FEE_NOTICE else reclaim_years
        what = "征缴土地闲置费" if kind is IdleNoticeKind.FEE_NOTICE else "提出无偿收回建议"
        at = f"（满{n}年之日为 {point}）" if point else ""
        reasons.append(f"闲置未满{n}年，不能{what}{at}：" + "；".join(verdict.reasons))
    amount = None
    if kind is IdleNoticeKind.FEE_NOTICE:
        if land_price_wan is None:
            reasons.append("未登记土地出让价款，无法计算土地闲置费（价款 × idle.fee_rate）")
        else:
            amount = idle_rule.idle_fee_wan(land_price_wan, rulebook)
            basis += f"；土地闲置费 = 土地价款 {land_price_wan:.2f} 万元 × {rate * 100:.2f}%（idle.fee_rate）= {amount:.4f} 万元"
    return IdleNotice(kind.value, not reasons, reasons, since, point, years, land_price_wan, rate, amount, basis)


# =========================================================================== deadlines
STATUS_LABELS = {
    "met": "按期完成", "met_late": "逾期完成", "overdue": "逾期未完成", "open": "未到期", "waived": "政府原因，不适用",
}
KIND_INFO: dict[str, tuple[str, str, str]] = {
    "start": ("约定动工期限", "出让合同/履约监管协议约定动工日期",
              "超过约定动工日期满一年未动工的为闲置土地，征缴土地价款20%的闲置费；满两年无偿收回（R3）"),
    "completion": ("约定竣工期限", "出让合同/履约监管协议约定竣工日期；竣工后组织联合验收（000:1020）",
                   "逾期未竣工按出让合同承担违约责任；竣工联合验收未通过的限期整改，整改期最长不超过2年（000:1022）"),
    "production": ("约定达产期限", "履约监管协议约定达产日期；约定期限内组织联合达产验收（000:1026）",
                   "达产验收未通过的限期整改（最长2年），整改期后仍未达标的解除出让合同、成本还原审计、优先回购（000:1028）"),
    "idle_fee": ("闲置满一年（征缴土地闲置费）", idle_rule.CITE_ART14.source,
                 "作出闲置费征缴决定，按土地价款的20%征缴土地闲置费（第十四条）"),
    "idle_reclaim": ("闲置满两年（无偿收回）", idle_rule.CITE_ART14.source,
                     "提出无偿收回建议，报批后无偿收回国有建设用地使用权（第十四条）"),
    "rectification_end": ("整改期届满", "000:1022、1028：限期整改，整改期最长不超过2年（规则库 rectification.max_years）",
                          "整改期后仍未达到验收标准的，经市、县政府批准解除出让合同，成本还原审计评估、优先回购（000:1028）"),
}


@dataclass(frozen=True)
class Milestones:
    """A parcel's agreed dates and what has happened (for :func:`contract_deadlines`)."""

    agreed_start: date | None
    agreed_completion: date | None
    agreed_production: date | None
    actual_start: date | None = None
    completion_result: str = AcceptanceResult.PENDING.value
    completion_date: date | None = None
    production_result: str = AcceptanceResult.PENDING.value
    production_date: date | None = None
    #: R3's points (from ``idle.check_idle``'s figures, or the agreed start's anniversaries).
    idle_fee_point: date | None = None
    idle_reclaim_point: date | None = None
    fee_notice_on: date | None = None
    reclaim_proposal_on: date | None = None
    government_delay: bool = False
    #: The last day of a running rectification period (``lifecycle.rectification_end``).
    rectification_end: date | None = None
    land_price_wan: float | None = None


def _item(kind: str, due: date, done: date | None, as_of: date, waived: bool = False,
          consequence: str | None = None) -> dict[str, Any]:
    label, basis, default = KIND_INFO[kind]
    if waived:
        status, late = "waived", 0
    elif done is not None:
        status, late = ("met", 0) if done <= due else ("met_late", (done - due).days)
    elif as_of > due:
        status, late = "overdue", (as_of - due).days
    else:
        status, late = "open", 0
    return {"kind": kind, "label": label, "due": due, "done": done, "status": status,
            "status_label": STATUS_LABELS[status], "days_late": late, "days_left": (due - as_of).days,
            "basis": basis, "consequence": consequence or default}


def contract_deadlines(m: Milestones, as_of: date, rulebook: Rulebook) -> list[dict[str, Any]]:
    """Every deadline of the parcel, oldest due first: agreed start, completion and production
    (done when started / accepted as passed), R3's 1- and 2-year points while the parcel is on
    the idle path (done when the notice / proposal is recorded; waived for a government-caused
    delay), and the end of a running rectification period."""
    out = []
    passed = AcceptanceResult.PASSED.value
    if m.agreed_start:
        out.append(_item("start", m.agreed_start, m.actual_start if m.actual_start and m.actual_start <= as_of
                         else None, as_of))
    if m.agreed_completion:
        out.append(_item("completion", m.agreed_completion,
                         m.completion_date if m.completion_result == passed else None, as_of))
    if m.agreed_production:
        out.append(_item("production", m.agreed_production,
                         m.production_date if m.production_result == passed else None, as_of))
    if m.idle_fee_point:
        fee = ""
        if m.land_price_wan is not None:
            fee = f"（{idle_rule.idle_fee_wan(m.land_price_wan, rulebook):.2f} 万元 = 价款 {m.land_price_wan:.2f} 万元 × " \
                  f"{float(rulebook.section('idle')['fee_rate']) * 100:g}%）"
        out.append(_item("idle_fee", m.idle_fee_point, m.fee_notice_on, as_of, m.government_delay,
                         f"作出闲置费征缴决定，征缴土地闲置费{fee}（第十四条）"))
    if m.idle_reclaim_point:
        out.append(_item("idle_reclaim", m.idle_reclaim_point, m.reclaim_proposal_on, as_of, m.government_delay))
    if m.rectification_end:
        out.append(_item("rectification_end", m.rectification_end, None, as_of))
    return sorted(out, key=lambda d: (d["due"], list(KIND_INFO).index(d["kind"])))


def next_due(deadlines: list[dict[str, Any]], as_of: date) -> dict[str, Any] | None:
    """The earliest deadline still open on or after ``as_of`` (overdue ones are listed apart)."""
    return next((d for d in deadlines if d["status"] == "open" and d["due"] >= as_of), None)


# =========================================================================== restriction
def restriction(has_agreement: bool, completion_result: str, production_result: str, production_date: date | None,
                state: str) -> dict[str, Any]:
    """达产复验通过前不得抵押、转让、股权变更 (000:1024): in force from the passed completion
    acceptance until production (re-)inspection passes, for parcels under a 履约监管协议."""
    passed = AcceptanceResult.PASSED.value
    text = "达产复验通过前，该项目不动产产权不得抵押、转让，企业股权不得变更"
    base = {"restriction": text, "basis": "000:1024（竣工验收合格的，在不动产权证书上注明达产复验期限）；R9",
            "forbids": ["mortgage", "transfer", "equity_change"], "forbids_labels": ["抵押", "转让", "股权变更"]}
    if state == LandState.RECLAIMED.value:
        return {**base, "active": False, "why": "土地已收回"}
    if not has_agreement:
        return {**base, "active": False, "why": "未登记履约监管协议：无达产约定"}
    if completion_result != passed:
        return {**base, "active": False,
                "why": "竣工联合验收尚未通过：不动产尚未登记；竣工验收通过后登记时注明达产复验期限，届时起限制"}
    if production_result == passed:
        return {**base, "active": False, "why": f"达产验收（复验）已于 {production_date} 通过，限制解除"}
    now = "达产验收未通过，正在整改" if production_result == AcceptanceResult.FAILED.value else "尚未进行达产验收"
    return {**base, "active": True, "why": f"竣工联合验收已通过，{now}：{text}（000:1024）"}

