"""驾驶舱: the workbench home's figures for the caller's jurisdiction.

* **亩均税收 per zone against its target tier, and the A/B/C distribution** — from the latest
  evaluation run (the newest run of the latest year): ``services.evaluation.run_summary`` already
  limits its per-zone summary to the caller's zones; the tier verdict is
  ``domain.progress.tax_target_verdict``.
* **闲置/低效 area by category (亩)** — the registry as it stands now (what the ledgers list):
  parcels in state 闲置, and parcels in state 低效 by each 低效 category they carry (a parcel with
  two categories counts in both; ``inefficient_area_mu`` counts it once). One grouped SQL query.
* **消化处置率** — ``domain.progress.disposal_rate`` over sums from one SQL query; which parcels are
  "identified" and "disposed" is the rulebook's ``[disposal_rate]`` section (see that function).

Everything is scoped like parcel reads (``services.access.parcel_condition``); the public gets 401.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select

from ..domain import progress
from ..domain.access import Action, Principal
from ..domain.errors import Unauthorized
from ..domain.vocabulary import InefficiencyCategory, LandSource, LandState
from ..storage.db import Database
from ..storage.schema import ChangeLog, Jurisdiction, Parcel
from . import access, evaluation, registry
from .rules import load_rulebook

OUTSIDE_ZONES = "（不在产业集聚区）"


def dashboard(db: Database, *, viewer: Principal) -> dict[str, Any]:
    """The 驾驶舱 figures ``viewer`` may see (module docstring)."""
    if viewer.is_public:
        raise Unauthorized()
    rulebook = load_rulebook()
    return {"as_of": date.today().isoformat(), **_evaluation_part(db, viewer),
            "land": land_by_category(db, viewer=viewer),
            "disposal": disposal(db, viewer=viewer, settings=rulebook.section("disposal_rate"))}


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


def disposal(db: Database, *, viewer: Principal, settings: dict[str, Any]) -> dict[str, Any]:
    """The 消化处置率 of the parcels ``viewer`` may read, by the rulebook's ``[disposal_rate]``
    (``domain.progress.disposal_rate`` defines it)."""
    basis = str(settings.get("basis", "area"))
    if basis not in ("area", "count"):
        raise ValueError(f"规则库 disposal_rate.basis 应为 area 或 count，实际为 {basis!r}")
    baseline = date.fromisoformat(str(settings["baseline_date"]))
    states = [LandState.parse(x).value for x in settings["identified_states"]]
    history = [LandState.parse(x).value for x in settings["history_states"]]
    sources = [LandSource.parse(x).value for x in settings["identified_land_sources"]]
    disposed_states = [LandState.parse(x).value for x in settings["disposed_states"]]
    log = ChangeLog
    # In a history state at some time on or after the baseline: entered it (after) or left it
    # (before) by an update. Creations need no reading: a parcel created in such a state either
    # still is (its current state counts) or left it by a later update (whose ``before`` counts).
    since = datetime(baseline.year, baseline.month, baseline.day, tzinfo=timezone.utc)
    was = (select(log.entity_id).where(log.entity == Parcel.__tablename__, log.action == "update",
                                       log.at >= since,
                                       or_(log.after["state"].as_string().in_(history),
                                           log.before["state"].as_string().in_(history))))
    identified = or_(Parcel.state.in_(states), Parcel.land_source.in_(sources), Parcel.id.in_(was))
    disposed = and_(identified, Parcel.state.in_(disposed_states))
    weight = Parcel.area_mu if basis == "area" else literal(1.0)
    with db.reader() as s:
        ident, disp, n_ident, n_disp = s.execute(select(
            func.coalesce(func.sum(case((identified, weight), else_=literal(0.0))), 0.0),
            func.coalesce(func.sum(case((disposed, weight), else_=literal(0.0))), 0.0),
            func.coalesce(func.sum(case((identified, 1), else_=0)), 0),
            func.coalesce(func.sum(case((disposed, 1), else_=0)), 0),
        ).where(access.parcel_condition(viewer))).one()
    rate = progress.disposal_rate(round(float(ident), 6), round(float(disp), 6), float(settings["goal"]))
    unit = "亩" if basis == "area" else "宗"
    return {**rate.to_dict(), "basis": basis, "unit": unit, "baseline_date": baseline.isoformat(),
            "identified_parcels": int(n_ident), "disposed_parcels": int(n_disp),
            "definition": (f"消化处置率 = 已消化处置的{'面积' if basis == 'area' else '宗数'} ÷ "
                           f"{baseline.isoformat()} 以来认定的低效、闲置用地{'面积' if basis == 'area' else '宗数'}"
                           f"（目标 ≥ {float(settings['goal']) * 100:.0f}%）。认定：现状为"
                           + "、".join(LandState(x).label for x in states)
                           + "，或基准日以来曾为" + "、".join(LandState(x).label for x in history)
                           + "，或土地来源为" + "、".join(LandSource(x).label for x in sources)
                           + "；已消化处置：认定宗地现状为" + "、".join(LandState(x).label for x in disposed_states))}


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
