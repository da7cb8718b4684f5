"""年度可供土地清单 editions (000:757) — pure rules: which parcels are candidates, their category,
the statuses of an edition and the steps between them, and an entry's default terms.

An edition of a year's list of a jurisdiction moves draft → submitted → published → superseded;
a submitted edition may be returned to draft with the reviewer's comments. Only a draft is edited.
"""

from __future__ import annotations

from typing import Any

from .vocabulary import LandState

#: Category of a parcel on the list: state → (key, label, 增量/存量). 000:757 names 批而未供土地、闲置土地、
#: 低效土地和政府储备土地; 收回 land is 存量 too (再供应), and a parcel already 可供 is carried over.
CATEGORIES: dict[str, tuple[str, str]] = {
    LandState.RESERVE.value: ("储备土地", "增量"),
    LandState.APPROVED_UNSUPPLIED.value: ("批而未供土地", "增量"),
    LandState.LISTED.value: ("可供土地（续列）", "增量"),
    LandState.IDLE.value: ("闲置土地", "存量"),
    LandState.INEFFICIENT.value: ("低效土地", "存量"),
    LandState.RECLAIMED.value: ("收回土地", "存量"),
}
#: Parcel states a list may hold (the candidates of a compile).
CANDIDATE_STATES: frozenset[str] = frozenset(CATEGORIES)
#: The lifecycle step publishing takes for a category (增量 → 可供 with the list's approval
#: document; 收回 → 再供应); 闲置/低效 parcels keep their state (they have no such step).
LISTING_STEPS: dict[str, str] = {
    LandState.RESERVE.value: "list_for_supply",
    LandState.APPROVED_UNSUPPLIED.value: "list_for_supply",
    LandState.RECLAIMED.value: "relist",
}

STATUSES: dict[str, str] = {"draft": "草稿", "submitted": "待审核", "published": "已公布", "superseded": "已被新版替代"}
#: step → (statuses it leaves from, status it leads to, Chinese name).
STEPS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "submit": (("draft",), "submitted", "提交审核"),
    "return": (("submitted",), "draft", "退回修改"),
    "publish": (("submitted",), "published", "审核通过并公布"),
}
#: Entry fields an official may edit on a draft (the parcel's own facts stay on ``parcels``).
EDITABLE_FIELDS: tuple[str, ...] = (
    "supply_method", "expected_price_wan", "supply_conditions", "supply_procedure", "supply_cycle",
    "suitable_industries", "standard_land_class", "standard_indicators", "contact_office", "contact_phone")


def category_of(state: str) -> str | None:
    """The list category of a parcel in ``state`` (None: not a candidate)."""
    return state if state in CATEGORIES else None


def kind_totals(entries) -> dict[str, dict[str, float]]:
    """增量/存量 of a list: ``{"增量": {"entries": n, "area_mu": 亩}, "存量": {...}}`` from
    ``(category, area_mu)`` pairs. Areas are added as a list prints them (2 decimals each), so
    the parts add up to the total a reader sums by hand; a category outside CATEGORIES is 增量."""
    out = {"增量": {"entries": 0, "area_mu": 0.0}, "存量": {"entries": 0, "area_mu": 0.0}}
    for category, area_mu in entries:
        kind = CATEGORIES.get(category, ("", "增量"))[1]
        out[kind]["entries"] += 1
        out[kind]["area_mu"] += round(float(area_mu or 0.0), 2)
    for v in out.values():
        v["area_mu"] = round(v["area_mu"], 2)
    return out


def category_label(category: str | None) -> str:
    """e.g. "存量·闲置土地"."""
    if category not in CATEGORIES:
        return category or ""
    label, kind = CATEGORIES[category]
    return f"{kind}·{label}"


def step_problem(step: str, status: str) -> str | None:
    """Why ``step`` cannot be taken from ``status`` (None: it can)."""
    sources, _target, name = STEPS[step]
    if status in sources:
        return None
    return f"清单为“{STATUSES.get(status, status)}”状态，不能{name}（须为“{'、'.join(STATUSES[s] for s in sources)}”）"


def default_terms(settings: dict[str, Any], category: str, area_mu: float, county_name: str,
                  lead_industries: list[str]) -> dict[str, Any]:
    """An entry's terms before anyone edits them: the rulebook's ``[supply_list]`` defaults of its
    category, the price as ``area_mu × price_per_mu_wan`` (万元, 0.1 precision)."""
    terms = settings["categories"][category]
    return {
        "supply_method": terms["supply_method"],
        "expected_price_wan": round(area_mu * float(terms["price_per_mu_wan"]), 1),
        "supply_conditions": terms["conditions"],
        "supply_procedure": terms["procedure"],
        "supply_cycle": terms["cycle"],
        "suitable_industries": list(lead_industries),
        "contact_office": settings["contact_office"].format(county=county_name),
        "contact_phone": "",
    }
