"""考评: the 百园增效 annual 100-point scoring, rankings and rhythm — pure, no I/O.

Seed 000:1264–1304 (许昌市产业集聚区"百园增效"行动考评暂行办法):

* **who** (000:1266, 1300) — 各县（市、区）政府（管委会）, 各产业集聚区管理机构, 市直各责任单位: the
  three categories ``county``, ``zone``, ``department``, ranked separately (分类进行排名).
* **what** (000:1268–1276) — four areas: 规划引领及实施, 土地高效利用及成效, 用地政策和制度体系,
  改革创新和探索. 年度考评按百分制进行 (000:1292); the seed gives neither the split of the 100
  points among the areas nor the items: the rulebook's ``[kaoping]`` section carries example
  defaults (``example_defaults = true``), items taken from the topics each area lists. The item
  points of an area must add up to the area's points and the areas to 100 (checked).
* **how** (000:1280–1288, 1292–1298) — 日常指导, 季度通报 (each quarter end), 半年约谈 (every half
  year), 年度考评 (self-assessment by end December, the office's review in January): see
  :func:`rhythm`.

Scoring (the platform's decision; DOMAIN.md §7): per item the office's score (市领导小组办公室)
counts where it has given one; otherwise the participant's own self-assessment counts and the
item is marked *unconfirmed* (未经市领导小组办公室确认); an item with neither scores 0. Each score
lies within 0 … the item's points, so a total never exceeds 100. Totals are compared rounded to
two decimals; rankings are per category in competition order ("1, 2, 2, 4": equal totals share a
rank, the next rank skips). The 约谈 list of a round: in each category, the participants below
``interview_below`` points and the last ``interview_last_n`` ranks (工作推进慢、效果不明显的单位).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from .errors import Problem, ValidationFailed

CATEGORIES = {"county": "县（市、区）政府（管委会）", "zone": "产业集聚区管理机构", "department": "市直部门"}
PERIODS = {"Q1": "第一季度", "Q2": "第二季度", "Q3": "第三季度", "Q4": "第四季度", "H1": "上半年", "H2": "下半年",
           "annual": "年度"}
SOURCES = {"self": "自评", "office": "市领导小组办公室评分"}
#: Totals are compared (ranked) at this many decimals, so 79.999999 and 80 tie.
DECIMALS = 2


@dataclass(frozen=True)
class Item:
    """One 考评事项 of an area, with its full points."""

    code: str
    label: str
    points: float
    area: str


@dataclass(frozen=True)
class Area:
    """One of the four 考评内容 (000:1270–1276), its points and items."""

    code: str
    label: str
    points: float
    clause: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Scheme:
    """The scoring scheme of the rulebook's ``[kaoping]`` section."""

    areas: tuple[Area, ...]
    interview_below: float
    interview_last_n: int

    @property
    def items(self) -> dict[str, Item]:
        """Every item by code."""
        return {i.code: i for a in self.areas for i in a.items}

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "Scheme":
        """Read and check the ``[kaoping]`` section: area points add up to 100, item points to
        their area's, codes unique."""
        rec = "规则库 [kaoping]"
        problems: list[Problem] = []
        areas = []
        seen: set[str] = set()
        for a in settings.get("areas", []):
            items = []
            for it in a.get("items", []):
                code = str(it.get("code", ""))
                if not code or code in seen:
                    problems.append(Problem(rec, f"areas.{a.get('code')}.items", f"考评事项代码 {code!r} 为空或重复"))
                seen.add(code)
                items.append(Item(code, str(it.get("label", code)), float(it.get("points", 0)), str(a.get("code"))))
            area = Area(str(a.get("code")), str(a.get("label")), float(a.get("points", 0)), str(a.get("clause", "")),
                        tuple(items))
            if any(i.points <= 0 for i in items) or not items:
                problems.append(Problem(rec, f"areas.{area.code}", "每个考评内容至少一个事项，事项分值应大于 0"))
            if abs(sum(i.points for i in items) - area.points) > 1e-6:
                problems.append(Problem(rec, f"areas.{area.code}", f"“{area.label}”各事项分值之和 "
                                        f"{sum(i.points for i in items):g} 不等于该项分值 {area.points:g}"))
            areas.append(area)
        if abs(sum(a.points for a in areas) - 100) > 1e-6:
            problems.append(Problem(rec, "areas", f"年度考评按百分制进行（000:1292），各考评内容分值之和应为 100，"
                                    f"实际为 {sum(a.points for a in areas):g}"))
        below = settings.get("interview_below", 60)
        last_n = settings.get("interview_last_n", 1)
        if not isinstance(last_n, int) or last_n < 0:
            problems.append(Problem(rec, "interview_last_n", "应为非负整数"))
        if problems:
            raise ValidationFailed(problems)
        return cls(tuple(areas), float(below), int(last_n))

    def to_dict(self) -> dict[str, Any]:
        return {"areas": [{"code": a.code, "label": a.label, "points": a.points, "clause": a.clause,
                           "items": [{"code": i.code, "label": i.label, "points": i.points} for i in a.items]}
                          for a in self.areas],
                "interview_below": self.interview_below, "interview_last_n": self.interview_last_n}


def check_score(scheme: Scheme, item_code: str, score: Any, record: str) -> float:
    """The score as a number within 0 … the item's points, or ValidationFailed naming it."""
    item = scheme.items.get(item_code)
    if item is None:
        raise ValidationFailed(Problem(record, "item", f"没有考评事项 {item_code!r}；可选："
                                       + "、".join(scheme.items)))
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise ValidationFailed(Problem(record, "score", f"“{item.label}”的得分应为数字，实际为 {score!r}"))
    if not 0 <= score <= item.points:
        raise ValidationFailed(Problem(record, "score", f"“{item.label}”满分 {item.points:g} 分，得分应在 0 至 "
                                       f"{item.points:g} 之间，实际为 {score:g}"))
    return float(score)


@dataclass(frozen=True)
class Participant:
    """A 考评对象: its category (county / zone / department), code and name."""

    category: str
    code: str
    name: str


def score_participant(scheme: Scheme, self_scores: dict[str, float], office_scores: dict[str, float]) -> dict[str, Any]:
    """One participant's result from its latest self-assessment and office scores per item
    (module docstring): per item the counted score, where it came from, and the totals."""
    items, areas = [], []
    total = self_total = 0.0
    unconfirmed = 0
    for a in scheme.areas:
        area_total = 0.0
        for i in a.items:
            own, office = self_scores.get(i.code), office_scores.get(i.code)
            if office is not None:
                counted, source = office, "office"
            elif own is not None:
                counted, source = own, "self"
                unconfirmed += 1
            else:
                counted, source = 0.0, None
            area_total += counted
            self_total += own or 0.0
            items.append({"item": i.code, "label": i.label, "area": a.code, "points": i.points, "self": own,
                          "office": office, "score": counted, "source": source,
                          "confirmed": source == "office"})
        areas.append({"area": a.code, "label": a.label, "points": a.points, "score": round(area_total, 4)})
        total += area_total
    return {"total": round(total, 4), "self_total": round(self_total, 4), "areas": areas, "items": items,
            "unconfirmed_items": unconfirmed, "confirmed": unconfirmed == 0 and all(x["source"] for x in items)}


def competition_ranks(totals: list[float]) -> list[int]:
    """Competition ranking ("1, 2, 2, 4") of ``totals``, highest first; totals equal at
    :data:`DECIMALS` decimals share a rank."""
    keys = [round(t, DECIMALS) for t in totals]
    return [1 + sum(1 for other in keys if other > k) for k in keys]


def rank(scheme: Scheme, results: list[tuple[Participant, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Rankings per category: each participant's total, rank, and whether it is on the 约谈
    list (below ``interview_below`` or among the last ``interview_last_n`` ranks)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for cat in CATEGORIES:
        rows = [(p, r) for p, r in results if p.category == cat]
        ranks = competition_ranks([r["total"] for _, r in rows])
        last = sorted(set(ranks))[-scheme.interview_last_n:] if scheme.interview_last_n and ranks else []
        lines = []
        for (p, r), k in zip(rows, ranks):
            why = []
            if round(r["total"], DECIMALS) < scheme.interview_below:
                why.append(f"得分 {r['total']:g} 低于 {scheme.interview_below:g} 分")
            if k in last:
                why.append(f"位列本类末 {scheme.interview_last_n} 个名次")
            lines.append({"category": cat, "code": p.code, "name": p.name, "total": r["total"], "rank": k,
                          "confirmed": r["confirmed"], "unconfirmed_items": r["unconfirmed_items"],
                          "interview": bool(why), "interview_reasons": why,
                          "areas": {a["area"]: a["score"] for a in r["areas"]}})
        lines.sort(key=lambda x: (x["rank"], x["code"]))
        out[cat] = lines
    return out


def quarter_end(year: int, q: int) -> date:
    """The last day of quarter ``q`` (1–4) of ``year``."""
    return date(year, 3 * q, 31 if q in (1, 4) else 30)


def rhythm(year: int) -> list[dict[str, Any]]:
    """The year's 考评 calendar (000:1280–1298) as data: each event's date, kind, label, clause."""
    ev = [{"date": date(year, 3, 31), "kind": "rules", "label": "制定年度考评细则（第一季度）", "clause": "000:1292"}]
    for q in range(1, 5):
        ev.append({"date": quarter_end(year, q), "kind": "quarterly", "period": f"Q{q}",
                   "label": f"{PERIODS[f'Q{q}']}末：各牵头单位报送进展，市领导小组办公室评估通报（季度通报）",
                   "clause": "000:1284"})
    for h, end in (("H1", date(year, 6, 30)), ("H2", date(year, 12, 31))):
        ev.append({"date": end, "kind": "half_year", "period": h,
                   "label": f"{PERIODS[h]}：观摩评比，对推进慢、效果不明显的单位约谈（半年约谈）", "clause": "000:1286"})
    ev.append({"date": date(year, 12, 31), "kind": "self_assessment", "period": "annual",
               "label": "各单位开展年度自评，自评报告报市领导小组办公室（12月底前）", "clause": "000:1294"})
    ev.append({"date": date(year + 1, 1, 31), "kind": "annual", "period": "annual",
               "label": "市领导小组办公室组织年度考评（次年1月）并分类排名", "clause": "000:1296–1300"})
    order = ["rules", "quarterly", "half_year", "self_assessment", "annual"]
    ev.sort(key=lambda e: (e["date"], order.index(e["kind"])))
    return [{**e, "date": e["date"].isoformat()} for e in ev]
