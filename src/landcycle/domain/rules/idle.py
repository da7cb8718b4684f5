"""R3 闲置土地认定 (闲置土地处置办法，国土资源部令第53号，2012).

第二条: 超过出让合同约定动工开发日期满一年未动工开发的国有建设用地，为闲置土地；已动工开发但开发建设
用地面积占应动工开发建设用地总面积不足三分之一或者已投资额占总投资额不足百分之二十五，中止开发建设
满一年的，也可以认定为闲置土地。第十四条: 未动工开发满一年的，征缴土地出让或者划拨价款百分之二十的
土地闲置费；满两年的，无偿收回。第八条: 因政府或者政府有关部门的原因造成的闲置，按第十二条协商处置
（延长动工期限、调整用途、置换土地、协议有偿收回等），不征缴闲置费，不无偿收回。

Readings chosen (all documented in ``CHECK.notes``):

* **满N年** — the period runs from the agreed start date, that day not counted, and ends on the
  corresponding day N years later; with no corresponding day (29 Feb) it ends on the last day of
  that month, 28 Feb (民法典第二百零一条、第二百零二条). "满" = 届满, which includes the last day
  (民法典第一千二百五十九条), so on the anniversary itself the year is full: agreed 2020-03-01,
  as of 2021-03-01 → 满一年; as of 2021-02-28 → not yet.
* **不足三分之一 / 不足百分之二十五** — strictly below ("不足" excludes the number, 民法典第一千二百五十九条):
  exactly 1/3 developed or exactly 25 % invested does not meet that limb. Ratios within ``RATIO_EPS``
  (1e-9) of a threshold count as equal to it, so 1/3 written as a float is not "below" 1/3.
* **Started but stalled** — 闲置 when (developed < 1/3 OR investment < 25 %) AND construction stopped
  for ≥ ``stopped_years``; the fee / reclaim durations are then measured from ``stopped_since``.
  No ``stopped_since`` means construction has not stopped.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

from .inputs import spec
from .rulebook import Rulebook
from .verdict import Citation, RuleCheck, Verdict

RULE, RULE_ID = "idle", "R3"
#: Float representation tolerance for ratio thresholds (e.g. 1/3): not a policy value.
RATIO_EPS = 1e-9

_MEASURES = "闲置土地处置办法（国土资源部令第53号，2012）"
CITE_ART2 = Citation(f"{_MEASURES}第二条",
                     "超过出让合同约定动工开发日期满一年未动工开发的国有建设用地为闲置土地；已动工开发但开发建设用地面积"
                     "占应动工开发建设用地总面积不足三分之一或者已投资额占总投资额不足百分之二十五，中止开发建设满一年的，"
                     "也可以认定为闲置土地")
CITE_ART14 = Citation(f"{_MEASURES}第十四条",
                      "未动工开发满一年的，按照土地出让或者划拨价款的百分之二十征缴土地闲置费；未动工开发满两年的，"
                      "无偿收回国有建设用地使用权")
CITE_ART8 = Citation(f"{_MEASURES}第八条、第十二条",
                     "因政府或者政府有关部门的原因造成动工开发延迟的，按延长动工开发期限、调整土地用途、置换土地、"
                     "协议有偿收回等方式协商处置，不适用第十四条的闲置费和无偿收回")
CITE_PERIOD = Citation("中华人民共和国民法典 第二百零一条、第二百零二条、第一千二百五十九条",
                       "期间开始的当日不计入；按年计算的，到期月的对应日为最后一日，没有对应日的为月末日；"
                       "“届满”包括本数，“不满”“超过”不包括本数")


@dataclass(frozen=True)
class IdleCase:
    agreed_start_date: date = spec("出让合同约定动工开发日期", "ISO 日期")
    as_of: date = spec("认定基准日", "ISO 日期")
    actual_start_date: date | None = spec("实际动工开发日期（未动工不填）", "ISO 日期", None)
    developed_area_ratio: float | None = spec("已开发建设用地面积占应动工开发建设用地总面积的比例", "0–1 小数", None,
                                              minimum=0, maximum=1)
    investment_ratio: float | None = spec("已投资额占总投资额的比例", "0–1 小数", None, minimum=0, maximum=1)
    stopped_since: date | None = spec("中止开发建设之日（未中止不填）", "ISO 日期", None)
    government_caused: bool = spec("延迟是否因政府或政府有关部门原因造成（第八条）", "", False)
    land_price_wan: float | None = spec("土地出让或划拨价款（用于计算闲置费）", "万元", None, minimum=0)


OUTCOMES = {
    "not_yet_due": "未到约定动工日期",
    "not_idle": "不构成闲置",
    "idle_fee": "闲置满一年：征缴土地闲置费",
    "reclaim": "闲置满两年：无偿收回",
    "government_caused": "政府原因造成闲置：协商处置，不征闲置费、不无偿收回",
    "undetermined": "信息不足，无法认定",
}

#: Severity order of the outcomes that depend on the delay (for callers and property tests).
SEVERITY = {"not_yet_due": 0, "not_idle": 0, "idle_fee": 1, "reclaim": 2}


# ---------------------------------------------------------------- calendar periods (stdlib)
def anniversary(start: date, years: int) -> date:
    """The corresponding day ``years`` later; 29 Feb → 28 Feb in a common year (民法典第二百零二条)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 Feb in a non-leap year: the month's last day
        return date(start.year + years, 2, 28)


def _add_months(start: date, months: int) -> date:
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def full_years(start: date, end: date) -> int:
    """How many full years have run from ``start`` to ``end`` (0 if ``end`` is before the first)."""
    if end < start:
        return 0
    n = end.year - start.year
    while n > 0 and anniversary(start, n) > end:
        n -= 1
    return n


def elapsed(start: date, end: date) -> tuple[int, int, int]:
    """(years, months, days) from ``start`` to ``end`` (``end`` ≥ ``start``), anniversaries first."""
    years = full_years(start, end)
    base = anniversary(start, years)
    months = 0
    while _add_months(base, months + 1) <= end:
        months += 1
    days = (end - _add_months(base, months)).days
    return years, months, days


def _span(start: date, end: date) -> str:
    y, m, d = elapsed(start, end)
    parts = [f"{y}年" if y else "", f"{m}个月" if m else "", f"{d}天" if d else ""]
    return "".join(parts) or "0天"


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


# ---------------------------------------------------------------- the rule
def idle_fee_wan(land_price_wan: float, rulebook: Rulebook) -> float:
    """土地闲置费 = 土地出让或划拨价款 × ``[idle].fee_rate`` (第十四条), 万元 to 4 places — the one
    place the fee is computed (R3 verdicts and the 闲置费征缴决定书 of ``domain.supervision``)."""
    return round(land_price_wan * float(rulebook.section("idle")["fee_rate"]), 4)


def _duration_outcome(since: date, as_of: date, rules: dict[str, Any]) -> tuple[str, int]:
    years = full_years(since, as_of)
    if years >= int(rules["reclaim_after_years"]):
        return "reclaim", years
    if years >= int(rules["fee_after_years"]):
        return "idle_fee", years
    return "not_idle", years


def check_idle(case: IdleCase, rulebook: Rulebook) -> Verdict:
    """R3 for one parcel as of ``case.as_of``."""
    rules = rulebook.section("idle")
    fee_years, reclaim_years = int(rules["fee_after_years"]), int(rules["reclaim_after_years"])
    fee_rate = float(rules["fee_rate"])
    dev_below, inv_below = float(rules["developed_ratio_below"]), float(rules["investment_ratio_below"])
    stop_years = int(rules["stopped_years"])
    figures: dict[str, Any] = {
        "agreed_start_date": case.agreed_start_date.isoformat(),
        "as_of": case.as_of.isoformat(),
        "actual_start_date": case.actual_start_date.isoformat() if case.actual_start_date else None,
        "developed_area_ratio": case.developed_area_ratio,
        "investment_ratio": case.investment_ratio,
        "stopped_since": case.stopped_since.isoformat() if case.stopped_since else None,
        "government_caused": case.government_caused,
        "land_price_wan": case.land_price_wan,
        "thresholds": {
            "idle.fee_after_years": fee_years, "idle.reclaim_after_years": reclaim_years,
            "idle.fee_rate": fee_rate, "idle.developed_ratio_below": dev_below,
            "idle.investment_ratio_below": inv_below, "idle.stopped_years": stop_years,
        },
    }
    reasons: list[str] = []
    citations = [CITE_ART2]

    def verdict(outcome: str) -> Verdict:
        return Verdict(RULE, RULE_ID, outcome, OUTCOMES[outcome], figures, reasons, citations, rulebook.label)

    started = case.actual_start_date is not None and case.actual_start_date <= case.as_of
    if case.actual_start_date is not None and not started:
        reasons.append(f"填报的实际动工日期 {case.actual_start_date} 晚于认定基准日 {case.as_of}，按基准日时尚未动工认定")

    if not started:
        figures["path"] = "not_started"
        if case.as_of < case.agreed_start_date:
            figures["delay_days"] = 0
            figures["delay_years"] = 0
            reasons.append(f"认定基准日 {case.as_of} 早于出让合同约定动工日期 {case.agreed_start_date}，尚未到期")
            return verdict("not_yet_due")
        outcome, years = _duration_outcome(case.agreed_start_date, case.as_of, rules)
        figures["delay_days"] = (case.as_of - case.agreed_start_date).days
        figures["delay_years"] = years
        figures["fee_due_date"] = anniversary(case.agreed_start_date, fee_years).isoformat()
        figures["reclaim_due_date"] = anniversary(case.agreed_start_date, reclaim_years).isoformat()
        span = _span(case.agreed_start_date, case.as_of)
        head = f"超过出让合同约定动工日期 {case.agreed_start_date} 已 {span} 未动工开发"
    else:
        figures["path"] = "started"
        figures["start_delay_days"] = max(0, (case.actual_start_date - case.agreed_start_date).days)
        dev, inv = case.developed_area_ratio, case.investment_ratio
        dev_low = dev is not None and dev < dev_below - RATIO_EPS
        inv_low = inv is not None and inv < inv_below - RATIO_EPS
        figures["developed_below_threshold"] = dev_low if dev is not None else None
        figures["investment_below_threshold"] = inv_low if inv is not None else None
        reasons.append(f"已于 {case.actual_start_date} 动工开发，按第二条第二款（已动工但开发不足、中止建设）认定")
        if dev is not None:
            reasons.append(f"已开发面积占比 {_pct(dev)}，{'不足' if dev_low else '不低于'}三分之一"
                           f"（idle.developed_ratio_below = {dev_below:.6g}）")
        if inv is not None:
            reasons.append(f"已投资额占比 {_pct(inv)}，{'不足' if inv_low else '不低于'} {_pct(inv_below)}"
                           f"（idle.investment_ratio_below）")
        if not (dev_low or inv_low):
            missing = [n for n, v in (("已开发面积占比", dev), ("已投资额占比", inv)) if v is None]
            if missing:
                figures["missing"] = ["developed_area_ratio" if n == "已开发面积占比" else "investment_ratio"
                                      for n in missing]
                reasons.append(f"未提供{'、'.join(missing)}，无法判断是否开发不足，不能作出闲置认定")
                return verdict("undetermined")
            reasons.append("开发面积和投资额均未低于第二条标准，不构成闲置（如已中止建设，可按低效用地停建缓建类核查）")
            return verdict("not_idle")
        if case.stopped_since is None or case.stopped_since > case.as_of:
            reasons.append("开发建设未中止，不构成闲置")
            return verdict("not_idle")
        outcome, years = _duration_outcome(case.stopped_since, case.as_of, rules)
        figures["stopped_days"] = (case.as_of - case.stopped_since).days
        figures["stopped_years_full"] = years
        figures["delay_days"] = figures["stopped_days"]
        figures["delay_years"] = years
        figures["fee_due_date"] = anniversary(case.stopped_since, max(fee_years, stop_years)).isoformat()
        figures["reclaim_due_date"] = anniversary(case.stopped_since, reclaim_years).isoformat()
        if years < stop_years:
            outcome = "not_idle"
        span = _span(case.stopped_since, case.as_of)
        head = f"开发不足且自 {case.stopped_since} 中止开发建设已 {span}"

    citations.append(CITE_PERIOD)
    if outcome == "not_idle":
        reasons.append(f"{head}，不满{fee_years}年（满{fee_years}年之日为 {figures['fee_due_date']}），不构成闲置")
        return verdict("not_idle")

    citations.append(CITE_ART14)
    if case.government_caused:
        citations.append(CITE_ART8)
        figures["outcome_without_exception"] = outcome
        reasons.append(f"{head}（满{figures['delay_years']}年）")
        reasons.append("延迟系政府或政府有关部门原因造成：依第八条、第十二条协商处置，不征缴土地闲置费，不无偿收回")
        return verdict("government_caused")

    if outcome == "reclaim":
        reasons.append(f"{head}（满{reclaim_years}年，满{reclaim_years}年之日为 {figures['reclaim_due_date']}），"
                       "应无偿收回国有建设用地使用权")
        return verdict("reclaim")

    reasons.append(f"{head}（满{fee_years}年、不满{reclaim_years}年），构成闲置土地，应征缴土地闲置费；"
                   f"满{reclaim_years}年之日为 {figures['reclaim_due_date']}，届时仍未动工将无偿收回")
    if case.land_price_wan is not None:
        fee = idle_fee_wan(case.land_price_wan, rulebook)
        figures["idle_fee_wan"] = fee
        reasons.append(f"土地闲置费 = 土地价款 {case.land_price_wan:.2f} 万元 × {_pct(fee_rate)}（idle.fee_rate）"
                       f" = {fee:.2f} 万元")
    else:
        figures["idle_fee_wan"] = None
        reasons.append(f"未提供土地价款：土地闲置费按出让或划拨价款的 {_pct(fee_rate)} 计征")
    return verdict("idle_fee")


EXAMPLE = {
    "agreed_start_date": "2019-06-30",
    "as_of": "2021-03-31",
    "government_caused": False,
    "land_price_wan": 1260.0,
}

CHECK = RuleCheck(
    name=RULE, rule_id=RULE_ID, title="闲置土地认定", input_type=IdleCase, run=check_idle,
    outcomes=OUTCOMES, example=EXAMPLE,
    notes=(
        "满一年 / 满两年: the year runs from the agreed start date (that day not counted) to the same month and "
        "day N years later, 28 Feb when the start is 29 Feb (民法典第二百零一条、第二百零二条); the anniversary "
        "itself counts as full (届满 includes the day, 第一千二百五十九条): exactly 1 year → idle_fee, one day "
        "less → not_idle, exactly 2 years → reclaim. Started parcels: idle only if developed area < 1/3 OR "
        "investment < 25% (不足 is strict: exactly 1/3 or 25% does not count; ratios within 1e-9 of a threshold "
        "count as equal) AND construction stopped ≥ 1 full year; fee/reclaim are then measured from "
        "`stopped_since` (no `stopped_since` = not stopped). A government-caused delay (第八条) gives "
        "`government_caused` (协商处置), never a fee or reclaim. Started with neither ratio below and one "
        "missing → `undetermined` (never a guess). Thresholds: rulebook [idle]."
    ),
)
