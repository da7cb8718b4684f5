"""Supervision progress, pure: the deadlines of supplied parcels (预警), the 消化处置率 and the
亩均税收 target verdict of a zone. No I/O — ``services.warnings`` and ``services.dashboard`` read
the registry in bulk and call these on numpy arrays (200,000 parcels in one pass, no per-row loop).

Deadlines (预警) — each parcel shows the deadlines of its *current stage* only, so an unstarted
parcel five years late is one warning, not four:

==========================  ===========================================  ==========================================
stage (from stored facts)   deadline kinds                               due date
==========================  ===========================================  ==========================================
not started by ``as_of``    ``start`` → ``idle_fee`` → ``idle_reclaim``  agreed start; its 1st / 2nd anniversary (R3)
started, development below  ``idle_fee`` → ``idle_reclaim``              anniversaries of ``stopped_since`` (R3
R3's limits and stopped                                                  second clause, as ``idle.check_idle``)
started, completion pending ``completion``                               agreed completion date
completion failed           ``completion_rectification``                 failed acceptance date + ≤ 2 years (R9)
completion passed,          ``production``                               agreed production (达产) date
production pending
production failed           ``production_rectification``                 failed acceptance date + ≤ 2 years (R9)
==========================  ===========================================  ==========================================

Agreed dates are those of the parcel's latest contract (by signing date), its 履约监管协议's where
there is one (the 达产 date exists only there). Parcels in ``[warnings] skip_states`` (not yet
supplied, or taken back) have no open deadlines and are not read.

Within the R3 chain (start → 闲置费 → 无偿收回) a parcel shows the latest deadline already passed
(overdue) and the next one still ahead (when it falls within the lead time). R3's path and
thresholds are R3's own: ``rules.evaluation.idle_outcomes`` decides whether a started parcel is on
the idle path and from which day the delay runs, with the rulebook's ``[idle]`` settings; the
anniversaries follow ``idle.anniversary`` (29 Feb → 28 Feb; the anniversary itself counts as
full, so on that day the fee applies). A government-caused delay has no field in the registry
(as in the annual evaluation): it is never assumed.

Severity from ``days_left`` = due − as_of and the rulebook's ``[warnings] lead_days`` (e.g.
``[30, 7]``): < 0 逾期 (overdue); ≤ the smallest lead 紧急 (urgent); ≤ the largest lead 临近
(upcoming); beyond it not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from .rules import evaluation as ev
from .rules import idle as idle_rule

NAT = np.datetime64("NaT", "D")

#: Deadline kinds: label, rule id, basis (clause) — what the warning says it comes from.
DEADLINE_KINDS: dict[str, dict[str, str]] = {
    "start": {"label": "约定动工期限", "rule_id": "R3",
              "basis": "出让合同/履约监管协议约定动工日期；超过约定动工日期满一年未动工的为闲置土地（闲置土地处置办法第二条）"},
    "idle_fee": {"label": "闲置满一年（征缴土地闲置费）", "rule_id": "R3", "basis": idle_rule.CITE_ART14.source},
    "idle_reclaim": {"label": "闲置满两年（无偿收回）", "rule_id": "R3", "basis": idle_rule.CITE_ART14.source},
    "completion": {"label": "约定竣工期限", "rule_id": "R9",
                   "basis": "出让合同/履约监管协议约定竣工日期；竣工后组织联合验收（000:1020）"},
    "completion_rectification": {"label": "竣工验收整改期届满", "rule_id": "R9",
                                 "basis": "000:1022 未通过联合验收的限期整改，整改期最长不超过2年"},
    "production": {"label": "约定达产期限", "rule_id": "R9",
                   "basis": "履约监管协议约定达产日期；约定期限内组织联合达产验收（000:1026）"},
    "production_rectification": {"label": "达产验收整改期届满", "rule_id": "R9",
                                 "basis": "000:1028 未通过达产验收的限期整改，整改期最长不超过2年；整改期后仍未达标的解除出让合同"},
}
KINDS = tuple(DEADLINE_KINDS)
SEVERITIES = {"overdue": "逾期", "urgent": "紧急", "upcoming": "临近"}


@dataclass
class DeadlineFacts:
    """Stored facts of P parcels (arrays; NaT / NaN = missing). Agreed dates are the latest
    contract's (its 履约监管协议's where it has one)."""

    agreed_start: np.ndarray
    agreed_completion: np.ndarray
    agreed_production: np.ndarray
    actual_start: np.ndarray
    stopped_since: np.ndarray
    developed_ratio: np.ndarray
    investment_ratio: np.ndarray
    completion_result: np.ndarray  # object: "pending" / "passed" / "failed"
    completion_date: np.ndarray
    production_result: np.ndarray
    production_date: np.ndarray


@dataclass
class Deadlines:
    """The open deadlines shown as of a day: parallel arrays, one entry per warning."""

    parcel: np.ndarray  # position 0..P-1 in the facts
    kind: np.ndarray  # index into KINDS
    due: np.ndarray  # datetime64[D]
    days_left: np.ndarray  # due − as_of (negative = overdue)
    severity: np.ndarray  # object: "overdue" / "urgent" / "upcoming"


def anniversaries(start: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    """``idle.anniversary`` on arrays: the corresponding day ``years`` later (29 Feb → 28 Feb in
    a common year); NaT stays NaT."""
    start = np.asarray(start, dtype="datetime64[D]")
    years = np.broadcast_to(np.asarray(years, dtype=np.int64), start.shape)
    y, m, d = ev._ymd(start)
    y2 = y + years
    d2 = np.where((m == 2) & (d == 29) & ~ev._leap(y2), 28, d)
    out = ((y2 - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (m - 1)).astype("datetime64[D]") + (d2 - 1)
    return np.where(np.isnat(start), NAT, out)


def add_years(start: np.ndarray, years: int) -> np.ndarray:
    """The day ``years`` after ``start`` (R9's "at most N years" from the failed acceptance)."""
    return anniversaries(start, years)


def open_deadlines(facts: DeadlineFacts, as_of: date, idle_rules: dict[str, Any], rectification_years: int,
                   lead_days: list[int]) -> Deadlines:
    """The deadlines to show as of ``as_of`` (module docstring): overdue ones and those due within
    the largest lead time, by stage, the R3 chain collapsed to its last passed and next step."""
    day = np.datetime64(as_of, "D")
    leads = sorted(int(x) for x in lead_days)
    if not leads or leads[0] < 0:
        raise ValueError("lead_days 应为非负整数列表")
    n = len(facts.agreed_start)
    started = ~np.isnat(facts.actual_start) & (facts.actual_start <= day)
    comp_res, prod_res = facts.completion_result, facts.production_result

    # R3: which path, and from which day the delay runs — R3's own vectorised rule.
    applicable = ~np.isnat(facts.agreed_start)
    r3 = ev.idle_outcomes(idle_rules, day, applicable, facts.agreed_start, facts.actual_start,
                          facts.developed_ratio, facts.investment_ratio, facts.stopped_since,
                          np.zeros(n, dtype=bool), np.full(n, np.nan))
    since = r3["since"]
    fee_years = int(idle_rules["fee_after_years"])
    reclaim_years = int(idle_rules["reclaim_after_years"])
    stop_years = int(idle_rules["stopped_years"])
    on_idle_path = ~np.isnat(since)
    not_started = applicable & ~started
    fee_due = anniversaries(since, np.where(started, max(fee_years, stop_years), fee_years))
    reclaim_due = anniversaries(since, reclaim_years)

    due = {k: np.full(n, NAT) for k in KINDS}
    due["start"] = np.where(not_started, facts.agreed_start, NAT)
    due["idle_fee"] = np.where(on_idle_path, fee_due, NAT)
    due["idle_reclaim"] = np.where(on_idle_path, reclaim_due, NAT)
    pending_c = comp_res == "pending"
    failed_c = comp_res == "failed"
    passed_c = comp_res == "passed"
    due["completion"] = np.where(started & pending_c, facts.agreed_completion, NAT)
    due["completion_rectification"] = np.where(failed_c, add_years(facts.completion_date, rectification_years), NAT)
    due["production"] = np.where(passed_c & (prod_res == "pending"), facts.agreed_production, NAT)
    due["production_rectification"] = np.where(passed_c & (prod_res == "failed"),
                                                add_years(facts.production_date, rectification_years), NAT)

    show = {k: ~np.isnat(due[k]) for k in KINDS}
    # The R3 chain: keep the latest passed step and the next step ahead.
    chain = ("start", "idle_fee", "idle_reclaim")
    passed = {k: show[k] & (due[k] < day) for k in chain}
    ahead = {k: show[k] & (due[k] >= day) for k in chain}
    for i, k in enumerate(chain):
        later_passed = np.zeros(n, dtype=bool)
        for k2 in chain[i + 1:]:
            later_passed |= passed[k2]
        earlier_ahead = np.zeros(n, dtype=bool)
        for k2 in chain[:i]:
            earlier_ahead |= ahead[k2]
        show[k] = (passed[k] & ~later_passed) | (ahead[k] & ~earlier_ahead)

    parcel, kind, dues = [], [], []
    for i, k in enumerate(KINDS):
        idx = np.flatnonzero(show[k])
        left = (due[k][idx] - day).astype(np.int64)
        idx = idx[left <= leads[-1]]
        parcel.append(idx)
        kind.append(np.full(len(idx), i, dtype=np.int64))
        dues.append(due[k][idx])
    parcel_a = np.concatenate(parcel) if parcel else np.zeros(0, dtype=np.int64)
    kind_a = np.concatenate(kind) if kind else np.zeros(0, dtype=np.int64)
    due_a = np.concatenate(dues) if dues else np.zeros(0, dtype="datetime64[D]")
    left_a = (due_a - day).astype(np.int64)
    severity = np.where(left_a < 0, "overdue", np.where(left_a <= leads[0], "urgent", "upcoming")).astype(object)
    order = np.lexsort((kind_a, parcel_a, due_a))
    return Deadlines(parcel_a[order], kind_a[order], due_a[order], left_a[order], severity[order])


# =========================================================================== 消化处置率
@dataclass(frozen=True)
class DisposalRate:
    """The 消化处置率 and whether it meets the goal; ``rate`` None (shown "无数据") when nothing
    was identified — never 0 or NaN."""

    identified: float
    disposed: float
    goal: float
    rate: float | None
    met: bool | None

    @property
    def label(self) -> str:
        """The rate as users read it: "61.3%" or "无数据"."""
        return "无数据" if self.rate is None else f"{self.rate * 100:.1f}%"

    def to_dict(self) -> dict[str, Any]:
        return {"identified": self.identified, "disposed": self.disposed, "goal": self.goal,
                "rate": self.rate, "met": self.met, "label": self.label}


#: Float tolerance when comparing the rate with the goal (0.6 computed from areas is "exactly 60%").
RATE_EPS = 1e-9


def disposal_rate(identified: float, disposed: float, goal: float) -> DisposalRate:
    """消化处置率 = disposed ÷ identified, against ``goal`` (000:699: 存量低效用地消化处置率达到60%以上).

    The seeds name the rate and the goal but not the formula (DOMAIN.md §3, §7). The platform's
    one definition reads the 处置台账 as of a day (``domain.disposal.ledger_figures``; settings: the
    rulebook's ``[disposal_rate]``), and the 驾驶舱, the 增存挂钩 quota and the quarterly 通报 all
    use it (``services.disposal.progress``):

    * **basis** — ``area`` (default: 亩, the parcel's area on its ledger entry) or ``count``
      (parcels); the caller passes the two sums on that basis.
    * **identified** (denominator) — the parcels with a ledger entry of ``ledger_categories``
      opened on or before the day, less entries closed by then as ``ledger_excluded_outcomes``
      (撤销认定); a parcel with several entries counts once.
    * **disposed** (numerator) — the identified parcels whose every identified entry was closed on
      or before the day with an outcome in ``ledger_disposed_outcomes``.
    * **rate** — disposed ÷ identified; ``None`` ("无数据") when identified is 0 (no division by
      zero, no 0% that would read as failure); the goal is met when rate ≥ goal (exactly 60% meets
      60%; within :data:`RATE_EPS`).
    """
    identified, disposed = float(identified), float(disposed)
    if identified < 0 or disposed < 0:
        raise ValueError("消化处置率的分子、分母不能为负")
    if disposed > identified + RATE_EPS * max(1.0, identified):
        raise ValueError("已消化处置的面积（宗数）不能大于认定的低效闲置面积（宗数）")
    if identified <= 0:
        return DisposalRate(identified, disposed, float(goal), None, None)
    rate = min(1.0, disposed / identified)
    return DisposalRate(identified, disposed, float(goal), rate, rate >= float(goal) - RATE_EPS)


# =========================================================================== 亩均税收 target tier
TARGET_VERDICTS = {"below": "低于目标", "met": "达到目标", "above": "高于目标档次", "unknown": "无数据"}


def tax_target_verdict(tax_per_mu_wan: float | None, target_min: float | None, target_max: float | None) -> str:
    """A zone's 亩均税收 against its target tier (DOMAIN.md §3): ``below`` the tier's floor, ``met``
    (within it, or ≥ the floor for an open tier "≥15"), ``above`` the tier's top, or ``unknown``
    (no figure or no target)."""
    if tax_per_mu_wan is None or target_min is None:
        return "unknown"
    if tax_per_mu_wan < target_min:
        return "below"
    if target_max is not None and tax_per_mu_wan > target_max:
        return "above"
    return "met"
