"""Disposal ledgers (处置台账) of 批而未供, 闲置 and 低效 land, pure (issue 8 items 1 and 3).

One ledger entry per parcel and category ("一宗一策", 000:1098–1100): the parcel's basic facts
as they stood when the entry was opened, 形成原因, 处置措施 (000:1080–1086), the disposal plan,
完成时限 and 责任单位 (the first listed is the 牵头单位), its progress reports, and — when it
is closed — the outcome. This module holds the vocabularies, the checks of every field and the
progress figures (消化处置率 from the ledger as of any day, vectorised); ``services.disposal``
reads and writes the database.

Progress as of day D (:func:`ledger_figures`; settings: the rulebook's ``[disposal_rate]``
``ledger_*`` keys), counted **per parcel** so a parcel with two entries (闲置 and 停建缓建, say)
is counted once:

* an entry is *identified* on D when it was opened on or before D, its category is one of
  ``ledger_categories``, and it was not closed on or before D with an outcome in
  ``ledger_excluded_outcomes`` (撤销认定: the parcel was wrongly identified);
* an entry is *done* on D when it is identified and was closed on or before D with an outcome
  in ``ledger_disposed_outcomes`` (closed exactly on D counts);
* a parcel is identified when any of its entries is; it is *disposed* when every identified
  entry of it is done; its weight is its area (亩, the entry's snapshot; ``basis = "area"``)
  or 1 (``basis = "count"``);
* 盘活面积 (revived 亩, against the 1.37万亩 goal of 000:699) is the area of the disposed parcels
  with at least one entry closed with an outcome in ``revived_outcomes`` — always in 亩.

The rate itself is ``domain.progress.disposal_rate`` (the one formula of the 消化处置率).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from .errors import Problem
from .vocabulary import InefficiencyCategory, Labelled

NAT = np.datetime64("NaT", "D")
#: Limits of the free-text fields (characters).
TEXT_LIMITS = {"cause": 2000, "plan": 4000, "closing_note": 2000, "reason": 1000, "text": 4000}
#: At most this many 责任单位, each at most 100 characters.
MAX_UNITS, UNIT_LIMIT = 20, 100


class LedgerCategory(Labelled):
    """Which ledger an entry is on: 批而未供, 闲置 (R3) or one 低效 category (R4, 000:1056–1068).
    The 低效 values are ``InefficiencyCategory``'s own."""

    APPROVED_UNSUPPLIED = "approved_unsupplied", "批而未供"
    IDLE = "idle", "闲置"
    INDUSTRY_TRANSFORMATION = "industry_transformation", "低效·产业转型类"
    CONSTRUCTION_STALLED = "construction_stalled", "低效·停建缓建类"
    BELOW_CONTRACT = "below_contract", "低效·开发未达标类"
    PRODUCTION_HALTED = "production_halted", "低效·停产半停产类"
    OUTPUT_SHORTFALL = "output_shortfall", "低效·产出未达标类"
    OTHER = "other", "低效·其他"

    @classmethod
    def of_inefficiency(cls, c: InefficiencyCategory) -> "LedgerCategory":
        return cls(c.value)

    @property
    def is_inefficient(self) -> bool:
        return self.value in {c.value for c in InefficiencyCategory}


class DisposalMeasure(Labelled):
    """处置措施 — the four routes of 000:1080–1086 (第五条 主要路径)."""

    SELF_DEVELOPMENT = "self_development", "自主开发"
    GOVERNMENT_RESERVE = "government_reserve", "政府收储"
    STATE_INVESTMENT = "state_investment", "国有投资公司参与"
    COURT_LINKAGE = "court_linkage", "府院联动司法处置"


class DisposalOutcome(Labelled):
    """How an entry ended (处置结果). From the seed: 已批未供即用土地手续完善 (000:785), 供地 of
    批而未供 land, 盘活 by the holder's own development/转型 (000:1080), 收回 (收储 or 有偿收回,
    000:1082), 再供应 (公开出让确定新的土地使用权人, 000:1082), 依法处置 (司法拍卖/破产处置,
    000:1084–1086); plus 撤销认定 (identified in error: not a disposal, and the parcel drops out
    of the identified land — ``ledger_excluded_outcomes``) and 其他 (with the note)."""

    SUPPLIED = "supplied", "完成供地"
    PROCEDURES_COMPLETED = "procedures_completed", "完善用地手续"
    REVIVED = "revived", "盘活"
    RECLAIMED = "reclaimed", "收回"
    RESUPPLIED = "resupplied", "再供应"
    JUDICIAL = "judicial", "依法处置"
    REVOKED = "revoked", "撤销认定"
    OTHER = "other", "其他"


class EntryStatus(Labelled):
    OPEN = "open", "处置中"
    CLOSED = "closed", "已办结"


class EntrySource(Labelled):
    """Where an entry came from: an evaluation run's verdict, the parcel's current state, or by
    hand (with a mandatory reason)."""

    EVALUATION = "evaluation", "评价结果"
    STATE = "state", "宗地现状"
    MANUAL = "manual", "人工录入"


class ReportStage(Labelled):
    """The stage a progress report says the disposal is at."""

    ASSESSING = "assessing", "研判"
    PLANNING = "planning", "制定方案"
    IMPLEMENTING = "implementing", "实施中"
    FINISHING = "finishing", "收尾"


# =========================================================================== field checks
def parse_enum(kind: type[Labelled], value: Any, record: str, field: str, required: bool = False
               ) -> tuple[Any, list[Problem]]:
    """A vocabulary value from its English value or Chinese label; a Problem otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ([Problem(record, field, "必须填写", "required")] if required else [])
    if not isinstance(value, str):
        return None, [Problem(record, field, f"应为文字，实际为 {value!r}")]
    try:
        return kind.parse(value.strip()), []
    except ValueError as exc:
        return None, [Problem(record, field, str(exc), "invalid_choice")]


def parse_day(value: Any, record: str, field: str, required: bool = False) -> tuple[date | None, list[Problem]]:
    """A date (``date`` or ISO text ``YYYY-MM-DD``)."""
    if value is None or value == "":
        return None, ([Problem(record, field, "必须填写日期", "required")] if required else [])
    if isinstance(value, date):
        return value, []
    try:
        return date.fromisoformat(str(value).strip()), []
    except ValueError:
        return None, [Problem(record, field, f"日期“{value}”无效，应为 YYYY-MM-DD")]


def check_text(value: Any, record: str, field: str, label: str, required: bool = False) -> tuple[str | None, list[Problem]]:
    """Free text, stripped, within its length limit (``TEXT_LIMITS``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ([Problem(record, field, f"必须填写{label}", "required")] if required else [])
    if not isinstance(value, str):
        return None, [Problem(record, field, f"{label}应为文字")]
    text = value.strip()
    limit = TEXT_LIMITS.get(field, 2000)
    if len(text) > limit:
        return None, [Problem(record, field, f"{label}不能超过 {limit} 字（实际 {len(text)} 字）", "too_long")]
    return text, []


def check_units(value: Any, record: str, field: str = "units") -> tuple[list[str] | None, list[Problem]]:
    """责任单位: a list of unit names (first = 牵头单位), or text separated by 、，, or ;."""
    if value is None:
        return None, []
    if isinstance(value, str):
        for sep in "，,;；":
            value = value.replace(sep, "、")
        value = value.split("、")
    if not isinstance(value, (list, tuple)):
        return None, [Problem(record, field, "责任单位应为单位名称列表（第一个为牵头单位）")]
    units, seen = [], set()
    for u in value:
        if not isinstance(u, str):
            return None, [Problem(record, field, f"责任单位名称应为文字，实际为 {u!r}")]
        name = u.strip()
        if not name or name in seen:
            continue
        if len(name) > UNIT_LIMIT:
            return None, [Problem(record, field, f"责任单位名称“{name[:20]}…”超过 {UNIT_LIMIT} 字", "too_long")]
        seen.add(name)
        units.append(name)
    if len(units) > MAX_UNITS:
        return None, [Problem(record, field, f"责任单位最多 {MAX_UNITS} 个（实际 {len(units)} 个）")]
    return units, []


def due_problems(record: str, opened_on: date, due: date | None) -> list[Problem]:
    """完成时限 may not fall before the day the entry was opened."""
    if due is not None and due < opened_on:
        return [Problem(record, "due_date", f"完成时限 {due} 早于立账日期 {opened_on}")]
    return []


def close_problems(record: str, outcome: Any, closed_on: Any, opened_on: date, as_of: date
                   ) -> tuple[DisposalOutcome | None, date | None, list[Problem]]:
    """Closing needs an outcome (处置结果) and a day between the opening and ``as_of`` (today)."""
    out, problems = parse_enum(DisposalOutcome, outcome, record, "outcome", required=True)
    if problems and problems[0].code == "required":
        problems = [Problem(record, "outcome", "办结台账必须填写处置结果（" + "、".join(m.label for m in DisposalOutcome)
                            + "）", "required")]
    day, p2 = parse_day(closed_on, record, "closed_on", required=True)
    problems += p2
    if day is not None:
        if day < opened_on:
            problems.append(Problem(record, "closed_on", f"办结日期 {day} 早于立账日期 {opened_on}"))
        elif day > as_of:
            problems.append(Problem(record, "closed_on", f"办结日期 {day} 晚于今天 {as_of}，不能预先办结"))
    return out, day, problems


def percent_problems(record: str, percent: Any) -> tuple[int | None, list[Problem]]:
    if percent is None or percent == "":
        return None, []
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100 \
            or float(percent) != int(percent):
        return None, [Problem(record, "percent", f"完成进度应为 0–100 的整数，实际为 {percent!r}")]
    return int(percent), []


# =========================================================================== progress figures
@dataclass(frozen=True)
class LedgerSettings:
    """The ``[disposal_rate]`` keys the ledger figures read."""

    basis: str
    goal: float
    goal_revived_mu: float
    categories: frozenset[str]
    disposed_outcomes: frozenset[str]
    excluded_outcomes: frozenset[str]
    revived_outcomes: frozenset[str]

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> "LedgerSettings":
        """From the rulebook section; every value name checked against the vocabularies."""
        basis = str(section.get("basis", "area"))
        if basis not in ("area", "count"):
            raise ValueError(f"规则库 disposal_rate.basis 应为 area 或 count，实际为 {basis!r}")

        def values(key: str, kind: type[Labelled]) -> frozenset[str]:
            return frozenset(kind.parse(str(x)).value for x in section[key])

        return cls(basis=basis, goal=float(section["goal"]), goal_revived_mu=float(section["revival_goal_mu"]),
                   categories=values("ledger_categories", LedgerCategory),
                   disposed_outcomes=values("ledger_disposed_outcomes", DisposalOutcome),
                   excluded_outcomes=values("ledger_excluded_outcomes", DisposalOutcome),
                   revived_outcomes=values("revived_outcomes", DisposalOutcome))

    @property
    def unit(self) -> str:
        return "亩" if self.basis == "area" else "宗"

    def formula(self) -> str:
        """The formula in words (Chinese), as the rulebook configures it."""
        what = "面积（亩）" if self.basis == "area" else "宗数"
        cats = "、".join(m.label for m in LedgerCategory if m.value in self.categories)
        done = "、".join(m.label for m in DisposalOutcome if m.value in self.disposed_outcomes)
        excl = "、".join(m.label for m in DisposalOutcome if m.value in self.excluded_outcomes) or "（无）"
        rev = "、".join(m.label for m in DisposalOutcome if m.value in self.revived_outcomes)
        return (f"消化处置率 = 截至统计日已消化处置的宗地{what} ÷ 截至统计日已认定的宗地{what}（目标 ≥ "
                f"{self.goal * 100:.0f}%）。认定：处置台账（{cats}）中立账日期不晚于统计日的宗地，"
                f"统计日前以“{excl}”办结的不计；已消化处置：该宗地已认定的台账全部在统计日前（含当日）办结，"
                f"处置结果为{done}；一宗地多个台账只计一次。盘活面积 = 已消化处置且至少一个台账处置结果为"
                f"{rev}的宗地面积（亩），目标 {self.goal_revived_mu:g} 亩（000:699）。")


@dataclass
class LedgerFigures:
    """Per parcel (positions 0..P-1 of the parcel index passed in): identified / disposed flags,
    weights and revived 亩; per entry: counted (opened by D) and closed (by D)."""

    identified: np.ndarray  # bool per parcel
    disposed: np.ndarray  # bool per parcel
    weight: np.ndarray  # float per parcel: area (亩) or 1
    revived_mu: np.ndarray  # float per parcel (0 unless revived)
    entry_open_by: np.ndarray  # bool per entry: opened on or before D
    entry_closed_by: np.ndarray  # bool per entry: closed on or before D


def ledger_figures(parcel: np.ndarray, n_parcels: int, category: np.ndarray, opened_on: np.ndarray,
                   closed_on: np.ndarray, outcome: np.ndarray, area_mu: np.ndarray, as_of: date,
                   settings: LedgerSettings) -> LedgerFigures:
    """The ledger's figures as of ``as_of`` (module docstring), for E entries given as parallel
    arrays: ``parcel`` (int position 0..n_parcels-1), ``category`` and ``outcome`` (object:
    values, None while open), ``opened_on``/``closed_on`` (datetime64[D], NaT while open),
    ``area_mu`` (float). One pass, no per-row loop."""
    day = np.datetime64(as_of, "D")
    parcel = np.asarray(parcel, dtype=np.int64)
    opened = np.asarray(opened_on, dtype="datetime64[D]")
    closed = np.asarray(closed_on, dtype="datetime64[D]")
    outcome = np.asarray(outcome, dtype=object)
    area = np.asarray(area_mu, dtype=float)
    in_cats = np.isin(np.asarray(category, dtype=object), list(settings.categories))
    open_by = opened <= day
    closed_by = ~np.isnat(closed) & (closed <= day)
    excluded = closed_by & np.isin(outcome, list(settings.excluded_outcomes))
    ident = in_cats & open_by & ~excluded
    done = ident & closed_by & np.isin(outcome, list(settings.disposed_outcomes))
    revived = done & np.isin(outcome, list(settings.revived_outcomes))
    n_ident = np.bincount(parcel, weights=ident, minlength=n_parcels)
    n_done = np.bincount(parcel, weights=done, minlength=n_parcels)
    n_revived = np.bincount(parcel, weights=revived, minlength=n_parcels)
    parcel_area = np.zeros(n_parcels)
    np.maximum.at(parcel_area, parcel, np.where(np.isnan(area), 0.0, area))
    identified = n_ident > 0
    disposed = identified & (n_done == n_ident)
    weight = parcel_area if settings.basis == "area" else np.ones(n_parcels)
    revived_mu = np.where(disposed & (n_revived > 0), parcel_area, 0.0)
    return LedgerFigures(identified, disposed, weight, revived_mu, in_cats & open_by, in_cats & open_by & closed_by)
