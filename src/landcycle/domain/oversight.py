"""挂牌督办 and 低效用地再开发监管协议, pure (issue 8 item 2) — no I/O.

* 挂牌督办 (000:793–797): a parcel put under the city's or a county's listed supervision. The plan
  asks every 产业集聚区 to have at least ``[oversight] min_cases_per_zone`` 批而未供/闲置 parcels
  under 挂牌督办 by ``[oversight] due`` (task 13, "2021年年底以前每个产业集聚区挂牌督办2宗以上").
  :func:`case_open_on` says whether a case is open on a day; :func:`zone_requirement` counts a
  zone's cases against the minimum. A case counts toward the requirement when the parcel was in
  one of ``counted_states`` when it was listed (the state is recorded on the case) and it was
  listed on or before ``due``; a case lifted later still counts (it *was* listed — the plan
  asks for listings, and the disposal that lifts one is the point of listing it).
* 再开发监管协议 (000:1114 第十三条): the targets an enterprise redeveloping 低效 land agreed to
  (投资强度, 亩均税收, optionally 容积率 and a completion date), checked at the agreed check date
  by :func:`assess_targets` — the comparison is R4's (``low_efficiency.compare_indicators``): a
  figure exactly at its target is met. Targets missed → the rewards granted under the agreement
  are recovered (取消或追缴): :func:`clawback_lines` gives each reward's amount to recover
  (``[redevelopment] clawback_share`` of it, 1.0 by default: the seed says "按约定取消或追缴").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .errors import Problem
from .rules.low_efficiency import compare_indicators
from .vocabulary import Labelled

#: Citations used in verdicts and views.
CITE_LISTING = "000:793-797（每个产业集聚区挂牌督办批而未供、闲置土地2宗以上，2021年年底以前）"
CITE_CLAWBACK = "000:1114（第十三条：在约定期限内未达到约定要求的，继续按照低效用地处置，享受的优惠按约定取消或追缴）"


class CaseLevel(Labelled):
    """Who lists the parcel: the city (市级挂牌督办) or a county (县级挂牌督办)."""

    CITY = "city", "市级"
    COUNTY = "county", "县级"


class CaseStatus(Labelled):
    OPEN = "open", "督办中"
    LIFTED = "lifted", "已销号"


class RewardKind(Labelled):
    """What a redevelopment agreement granted (第十条 支持鼓励政策)."""

    PLOT_RATIO_BONUS = "plot_ratio_bonus", "容积率奖励"
    LAND_PRICE_DISCOUNT = "land_price_discount", "地价优惠"
    FISCAL_SUBSIDY = "fiscal_subsidy", "财政奖补"
    OTHER = "other", "其他优惠"


class ClawbackStatus(Labelled):
    PENDING = "pending", "待追缴"
    RECOVERED = "recovered", "已追缴"
    WAIVED = "waived", "免予追缴"


class AgreementStatus(Labelled):
    ACTIVE = "active", "履行中"
    MET = "met", "已达标"
    MISSED = "missed", "未达标"


#: Target key → (Chinese name, unit, the agreement column holding it). All are floors.
TARGETS: dict[str, tuple[str, str, str]] = {
    "investment_intensity": ("投资强度", "万元/亩", "target_investment_intensity_wan_per_mu"),
    "tax_per_mu": ("亩均税收", "万元/亩", "target_tax_per_mu_wan"),
    "plot_ratio": ("容积率", "", "target_plot_ratio"),
}
TARGET_LABELS = {k: v[0] for k, v in TARGETS.items()}


# =========================================================================== 挂牌督办
def case_open_on(listed_on: date, lifted_on: date | None, day: date) -> bool:
    """Whether a case listed on ``listed_on`` (and lifted on ``lifted_on``, if it was) is open on
    ``day``: listed that day or before, not yet lifted (a case lifted on ``day`` is closed)."""
    return listed_on <= day and (lifted_on is None or lifted_on > day)


@dataclass(frozen=True)
class CaseFacts:
    """What the zone count needs of one case."""

    listed_on: date
    lifted_on: date | None
    state_at_listing: str


def zone_requirement(cases: list[CaseFacts], as_of: date, minimum: int, due: date,
                     counted_states: list[str]) -> dict[str, Any]:
    """A zone's cases on ``as_of`` against the requirement (``minimum`` counted listings by
    ``due``). ``open``/``listed``: cases open on / listed by ``as_of``; ``counted_*``: those whose
    parcel was 批而未供/闲置 (``counted_states``) when listed. ``counted_by_due``: counted
    listings on or before ``due`` and ``as_of`` (what is known on ``as_of``). ``met`` when
    that reaches ``minimum``; ``below_minimum`` otherwise; ``overdue`` when ``as_of`` is past
    ``due`` and the minimum was not reached."""
    counted = [c for c in cases if c.state_at_listing in counted_states]
    cutoff = min(as_of, due)
    by_due = sum(1 for c in counted if c.listed_on <= cutoff)
    met = by_due >= minimum
    return {
        "open": sum(case_open_on(c.listed_on, c.lifted_on, as_of) for c in cases),
        "listed": sum(c.listed_on <= as_of for c in cases),
        "counted_open": sum(case_open_on(c.listed_on, c.lifted_on, as_of) for c in counted),
        "counted_listed": sum(c.listed_on <= as_of for c in counted),
        "counted_by_due": by_due, "minimum": minimum, "due": due.isoformat(), "met": met,
        "below_minimum": not met, "shortfall": max(0, minimum - by_due), "overdue": not met and as_of > due,
    }


def units_problems(record: str, units: Any) -> tuple[list[str], list[Problem]]:
    """The 责任单位 list (first = 牵头单位): 1–20 names of 1–200 characters, no repeats."""
    if not isinstance(units, list) or not units:
        return [], [Problem(record, "units", "请填写责任单位（至少一个，第一个为牵头单位）", "missing")]
    out: list[str] = []
    problems: list[Problem] = []
    for i, u in enumerate(units, 1):
        name = u.strip() if isinstance(u, str) else ""
        if not name or len(name) > 200 or "\x00" in name:
            problems.append(Problem(record, f"units[{i}]", "责任单位名称应为1–200个字符"))
        elif name in out:
            problems.append(Problem(record, f"units[{i}]", f"责任单位“{name}”重复"))
        else:
            out.append(name)
    if len(units) > 20:
        problems.append(Problem(record, "units", "责任单位最多20个"))
    return out, problems


# =========================================================================== 再开发监管协议
def _fmt(x: float) -> str:
    return f"{x:.6g}"


@dataclass(frozen=True)
class Assessment:
    """The outcome of checking an agreement's targets on its check date."""

    met: bool
    findings: list[dict[str, Any]]
    reasons: list[str]
    problems: list[Problem]


def assess_targets(targets: dict[str, float], actual: dict[str, float], record: str,
                   target_completion: date | None = None, completed_on: date | None = None) -> Assessment:
    """Each target against its actual figure (floors: exactly at the target is met), and the
    completion date if one was agreed (completed — 竣工验收通过 — on or before it is met).
    A target without an actual figure is a problem (nothing can be decided on it)."""
    findings: list[dict[str, Any]] = []
    reasons: list[str] = []
    problems: list[Problem] = []
    for f in compare_indicators(targets, actual, list(TARGETS), [], TARGET_LABELS):
        unit = TARGETS[f.key][1]
        if f.met is None:
            problems.append(Problem(record, f"actual.{f.key}", f"协议约定{f.label}不低于 {_fmt(f.committed)}{unit}，"
                                    "没有可核定的实际数值", "missing"))
            continue
        word = "不低于约定" if f.met else "低于约定"
        why = f"{f.label}实际 {_fmt(f.actual)}{unit}，{word} {_fmt(f.committed)}{unit}：{'达标' if f.met else '未达标'}"
        findings.append({"target": f.key, "label": f.label, "unit": unit, "agreed": f.committed,
                         "actual": f.actual, "met": f.met, "reason": why})
        if not f.met:
            reasons.append(why)
    if target_completion is not None:
        done = completed_on is not None and completed_on <= target_completion
        why = (f"约定 {target_completion} 前竣工：" + (f"已于 {completed_on} 竣工验收通过，达标" if done else
               (f"{completed_on} 才竣工验收通过，未达标" if completed_on else "未竣工验收通过，未达标")))
        findings.append({"target": "completion_date", "label": "竣工日期", "unit": "",
                         "agreed": target_completion.isoformat(),
                         "actual": completed_on.isoformat() if completed_on else None, "met": done, "reason": why})
        if not done:
            reasons.append(why)
    met = not problems and all(f["met"] for f in findings)
    reasons.insert(0, "约定目标均已达到" if met else f"约定目标未全部达到：优惠按约定取消或追缴（{CITE_CLAWBACK}）")
    return Assessment(met, findings, reasons, problems)


def clawback_lines(rewards: list[dict[str, Any]], share: float) -> list[dict[str, Any]]:
    """Each reward (``{id, kind, amount_wan}``) and the amount to recover: ``share`` of it,
    rounded to 0.0001 万元 (1 元)."""
    return [{"reward_id": r["id"], "kind": r["kind"], "granted_wan": r["amount_wan"],
             "amount_wan": round(r["amount_wan"] * share, 4)} for r in rewards]
