"""驾驶舱: the workbench home's figures for the caller's jurisdiction.

* **亩均税收 per zone against its target tier, and the A/B/C distribution** — from the latest
  evaluation run (the newest run of the latest year): ``services.evaluation.run_summary`` already
  limits its per-zone summary to the caller's zones; the tier verdict is
  ``domain.progress.tax_target_verdict``.
* **闲置/低效 area by category (亩)** — the registry as it stands now (what the ledgers list):
  parcels in state 闲置, and parcels in state 低效 by each 低效 category they carry (a parcel with
  two categories counts in both; ``inefficient_area_mu`` counts it once). One grouped SQL query.
* **消化处置率 and 盘活面积** — the 处置台账's progress as of today, ``services.disposal.progress``:
  the platform's one definition (``[disposal_rate]``; the 增存挂钩 quota and the quarterly 通报
  read it too). The 驾驶舱 shows one row of it, the caller's level (:func:`disposal_figures`):
  city-level accounts the city row; a county admin or county department its county's (or
  管委会's) row; a zone manager its zone's row (several zones: their rows summed). Enterprises do
  not read the ledgers: ``disposal`` is None for them.

Everything is scoped like parcel reads (``services.access.parcel_condition``); the public gets 401.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select

from ..domain import progress
from ..domain.access import Action, Principal
from ..domain.errors import Unauthorized
from ..domain.vocabulary import InefficiencyCategory, LandState
from ..storage.db import Database
from ..storage.schema import Jurisdiction, Parcel
from . import access, disposal, evaluation, registry
from .audit import local_today

OUTSIDE_ZONES = "（不在产业集聚区）"
#: The 处置台账 page (its progress figures per zone, county and city, for any day).
LEDGER_PAGE = "/work/disposal"


def dashboard(db: Database, *, viewer: Principal) -> dict[str, Any]:
    """The 驾驶舱 figures ``viewer`` may see (module docstring)."""
    if viewer.is_public:
        raise Unauthorized()
    today = local_today()
    return {"as_of": today.isoformat(), **_evaluation_part(db, viewer),
            "land": land_by_category(db, viewer=viewer),
            "disposal": disposal_figures(db, viewer=viewer, as_of=today)}


def _evaluation_part(db: Database, viewer: Principal) -> dict[str, Any]:
    empty = {"run": None, "zones": [], "classes": {"A": 0, "B": 0, "C": 0, "not_evaluated": 0}}
    if not viewer.may(Action.READ_CONFIDENTIAL):
        return empty
    with db.reader() as s:
        run_id = evaluation.latest_run_id(s)
    if run_id is None:
        return empty
    summary = evaluation.run_summary(db, run_id, viewer=viewer)
    zones, classes = [], dict(empty["classes"])
    for z in summary["zones"]:
        f = z["figures"]
        verdict = progress.tax_target_verdict(f["tax_per_mu_wan"], z["tax_target_min_wan"], z["tax_target_max_wan"])
        for k in classes:
            classes[k] += int(f["classes"].get(k, 0))
        zones.append({"zone_id": z["zone_id"], "code": z["code"], "name": z["name"],
                      "tax_per_mu_wan": f["tax_per_mu_wan"], "tax_target_min_wan": z["tax_target_min_wan"],
                      "tax_target_max_wan": z["tax_target_max_wan"], "target_verdict": verdict,
                      "target_label": progress.TARGET_VERDICTS[verdict], "classes": f["classes"],
                      "parcels": f["parcels"], "area_mu": f["area_mu"],
                      "idle_area_mu": f["idle_area_mu"],
                      "low_efficiency_area_mu_any": f["low_efficiency_area_mu_any"]})
    run = {k: summary[k] for k in ("id", "year", "as_of", "rulebook_version", "published")}
    return {"run": run, "zones": zones, "classes": classes}


def land_by_category(db: Database, *, viewer: Principal) -> dict[str, Any]:
    """闲置 area and 低效 area per category (亩), per zone and in total, of the parcels ``viewer``
    may read, from their current state."""
    cats = list(InefficiencyCategory)
    idle = Parcel.state == LandState.IDLE.value
    ineff = Parcel.state == LandState.INEFFICIENT.value

    def area_sum(cond):
        return func.coalesce(func.sum(case((cond, Parcel.area_mu), else_=literal(0.0))), 0.0)

    cols = [area_sum(idle), func.sum(case((idle, 1), else_=0)), area_sum(ineff), func.sum(case((ineff, 1), else_=0))]
    cols += [area_sum(and_(ineff, registry.category_condition(c))) for c in cats]
    with db.reader() as s:
        rows = s.execute(select(Parcel.zone_id, *cols).where(access.parcel_condition(viewer), or_(idle, ineff))
                         .group_by(Parcel.zone_id)).all()
        names = dict(s.execute(select(Jurisdiction.id, Jurisdiction.name)).all())
    zones = []
    for r in rows:
        zones.append({"zone_id": r[0], "name": names.get(r[0], OUTSIDE_ZONES) if r[0] is not None else OUTSIDE_ZONES,
                      "idle_area_mu": round(float(r[1]), 4), "idle_parcels": int(r[2] or 0),
                      "inefficient_area_mu": round(float(r[3]), 4), "inefficient_parcels": int(r[4] or 0),
                      "categories": {c.value: round(float(v), 4) for c, v in zip(cats, r[5:])}})
    zones.sort(key=lambda z: (z["zone_id"] is None, z["name"]))
    total = {"idle_area_mu": round(sum(z["idle_area_mu"] for z in zones), 4),
             "idle_parcels": sum(z["idle_parcels"] for z in zones),
             "inefficient_area_mu": round(sum(z["inefficient_area_mu"] for z in zones), 4),
             "inefficient_parcels": sum(z["inefficient_parcels"] for z in zones),
             "categories": {c.value: round(sum(z["categories"][c.value] for z in zones), 4) for c in cats}}
    return {"categories": InefficiencyCategory.choices(), "zones": zones, "total": total}


def disposal_figures(db: Database, *, viewer: Principal, as_of: date) -> dict[str, Any] | None:
    """The 消化处置率 and 盘活面积 of the caller's level (module docstring) from
    ``services.disposal.progress(as_of=…)``: the row itself plus the goals, the unit, the formula
    in words and the ledger page's address; None for callers who do not read the ledgers."""
    if viewer.role not in disposal.READERS:
        return None
    p = disposal.progress(db, as_of=as_of, viewer=viewer)
    level, row = scope_row(p)
    if row is None:
        rate = progress.disposal_rate(0.0, 0.0, p["goal_rate"])
        row = {"code": None, "name": viewer.jurisdiction_name or "", "identified": 0.0, "disposed": 0.0,
               "rate": None, "revived_mu": 0.0, "entries": 0, "closed_entries": 0}
    else:
        rate = progress.DisposalRate(row["identified"], row["disposed"], p["goal_rate"], row["rate"],
                                     None if row["rate"] is None else row["meets_goal"])
    return {**rate.to_dict(), "level": level, "code": row["code"], "name": row["name"],
            "revived_mu": row["revived_mu"], "goal_revived_mu": p["goal_revived_mu"], "entries": row["entries"],
            "closed_entries": row["closed_entries"], "as_of": p["as_of"], "basis": p["basis"], "unit": p["unit"],
            "definition": p["formula"], "ledger_url": LEDGER_PAGE}


def scope_row(p: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Which row of a ``disposal.progress`` answer is the caller's own level: the city row when
    there is one (city-level accounts), else the county row (a county admin or department sees
    only its own), else its zone row — several zones (a zone manager of more than one) summed
    into one row by :func:`sum_rows`. ``(level, None)`` when the answer has no row."""
    if p["city"] is not None:
        return "city", p["city"]
    if p["counties"]:
        return "county", p["counties"][0] if len(p["counties"]) == 1 else sum_rows(p["counties"], p["goal_rate"])
    if p["zones"]:
        return "zone", p["zones"][0] if len(p["zones"]) == 1 else sum_rows(p["zones"], p["goal_rate"])
    return "zone", None


def sum_rows(rows: list[dict[str, Any]], goal: float, *, code: str | None = None,
             name: str | None = None) -> dict[str, Any]:
    """Rows of ``disposal.progress`` covering disjoint parcels (zones; a county and zones not
    under it) as one row: identified, disposed, 盘活面积 and entry counts summed, the rate
    ``domain.progress.disposal_rate`` of the sums (a parcel is in one row only, so this is exact)."""
    identified = round(sum(r["identified"] for r in rows), 6)
    disposed = min(identified, round(sum(r["disposed"] for r in rows), 6))
    rate = progress.disposal_rate(identified, disposed, goal)
    return {"code": code if code is not None else "、".join(r["code"] for r in rows),
            "name": name if name is not None else "、".join(r["name"] for r in rows),
            "identified": round(identified, 4), "disposed": round(disposed, 4), "rate": rate.rate,
            "meets_goal": bool(rate.met), "revived_mu": round(sum(r["revived_mu"] for r in rows), 4),
            "entries": sum(r["entries"] for r in rows), "closed_entries": sum(r["closed_entries"] for r in rows)}


def scope_jurisdictions(db: Database, *, viewer: Principal) -> dict[str, Any]:
    """The counties and zones the caller's reads cover (for the workbench's filters): the city
    level all of them; a county admin its counties and the zones it administers; a zone manager
    its zone. Names and codes only; with the 低效 categories the ledger filters by."""
    if viewer.is_public:
        raise Unauthorized()
    with db.reader() as s:
        rows = s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.kind,
                                Jurisdiction.territory_county_id)
                         .where(Jurisdiction.kind.in_(("county", "zone"))).order_by(Jurisdiction.code)).all()
    counties = [{"code": r.code, "name": r.name} for r in rows if r.kind == "county"
                and (viewer.everywhere or r.id in viewer.county_ids)]
    county_code = {r.id: r.code for r in rows if r.kind == "county"}
    zones = [{"code": r.code, "name": r.name, "county_code": county_code.get(r.territory_county_id)}
             for r in rows if r.kind == "zone" and (viewer.everywhere or r.id in viewer.zone_ids)]
    return {"counties": counties, "zones": zones, "everywhere": viewer.everywhere,
            "categories": InefficiencyCategory.choices()}
