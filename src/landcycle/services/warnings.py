"""预警: the open deadlines of the parcels in the caller's jurisdiction, computed from stored facts.

Read in bulk (three Core selects: parcels ⨝ development, their contracts, their 履约监管协议 —
each limited by the caller's scope with ``services.access.parcel_condition``, exactly like parcel
reads), turned into numpy arrays, and handed to ``domain.progress.open_deadlines``, which decides
the deadlines with R3's own vectorised rule and the rulebook's ``[idle]``, ``[rectification]``
and ``[warnings]`` settings. Only the requested page is turned into dicts. Nothing is stored.

Growth path (issue 7: daily job, delivery): :func:`compute` is the storage-free core a job can
call for any principal and day; :func:`warnings_page` is the API's view of it. The shape of a
warning (:func:`_item`) is the API contract — add keys, do not rename them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import and_, exists, or_, select

from ..domain import progress
from ..domain.access import Action, Principal, Role
from ..domain.errors import Problem, ValidationFailed
from ..domain.vocabulary import AcceptanceResult, LandState
from ..storage.db import Database
from ..storage.schema import Jurisdiction, Occupancy, Parcel, ParcelDevelopment, PerformanceAgreement, SupplyContract
from . import access, registry
from .evaluation import fetch_columns
from .rules import load_rulebook

MAX_PAGE = 1000
NAT = np.datetime64("NaT", "D")


@dataclass
class WarningSet:
    """The open deadlines of one caller on one day, with the parcels they belong to."""

    as_of: date
    deadlines: progress.Deadlines
    parcels: dict[str, np.ndarray]  # id, code, location, zone_id, county_id, state (aligned with facts)
    lead_days: list[int]


def scope_condition(viewer: Principal, parcel=Parcel):
    """Which parcels' warnings ``viewer`` sees: exactly the parcels it may read
    (``parcel_condition``), and for an enterprise only those it occupies (never the published
    supply list's parcels of others). The public sees none (the service refuses it first)."""
    cond = access.parcel_condition(viewer, parcel)
    if viewer.role is Role.ENTERPRISE:
        own = exists(select(Occupancy.id).where(Occupancy.parcel_id == parcel.id,
                                                Occupancy.enterprise_id == viewer.enterprise_id))
        cond = and_(cond, own)
    return cond


def compute(db: Database, *, viewer: Principal, as_of: date, zone: str | None = None,
            county: str | None = None) -> WarningSet:
    """All open deadlines as of ``as_of`` for the parcels ``viewer`` may read (optionally one zone
    or county). Refuses the public (401)."""
    access.require(viewer, Action.READ_PARCELS)
    if viewer.is_public:
        from ..domain.errors import Unauthorized
        raise Unauthorized()
    rulebook = load_rulebook()
    settings = rulebook.section("warnings")
    lead_days = [int(x) for x in settings["lead_days"]]
    skip = [LandState.parse(s).value for s in settings.get("skip_states", [])]
    d = ParcelDevelopment
    with db.reader() as s:
        conds = [scope_condition(viewer), Parcel.state.notin_(skip),
                 *registry.jurisdiction_conditions(s, county, zone)]
        passed = AcceptanceResult.PASSED.value
        # Parcels with something still open: not started, or an acceptance not passed.
        open_ = or_(d.id.is_(None), d.actual_start_date.is_(None), d.completion_result != passed,
                    d.production_result != passed)
        where = and_(*conds, open_)
        # Raw DBAPI rows (evaluation's bulk reader): no per-row result objects for 100,000s of rows.
        conn = s.connection()
        cols = fetch_columns(conn, select(
            Parcel.id, Parcel.code, Parcel.location, Parcel.zone_id, Parcel.county_id, Parcel.state,
            Parcel.area_m2, d.actual_start_date, d.stopped_since, d.developed_area_m2,
            d.investment_done_wan, d.investment_total_wan, d.completion_result, d.completion_date,
            d.production_result, d.production_date)
            .outerjoin(d, d.parcel_id == Parcel.id).where(where).order_by(Parcel.id))
        c, a = SupplyContract, PerformanceAgreement
        ccols = fetch_columns(conn, select(c.id, c.parcel_id, c.signed_date, c.agreed_start_date, c.agreed_completion_date)
                       .join(Parcel, Parcel.id == c.parcel_id).outerjoin(d, d.parcel_id == Parcel.id)
                       .where(where))
        acols = fetch_columns(conn, select(a.contract_id, a.agreed_start_date, a.agreed_completion_date,
                                    a.agreed_production_date)
                       .join(Parcel, Parcel.id == a.parcel_id).outerjoin(d, d.parcel_id == Parcel.id)
                       .where(where))
    pid = np.array(cols[0], dtype=np.int64)
    facts, parcels = _facts(pid, cols, ccols, acols)
    rect = int(rulebook.section("rectification")["max_years"])
    deadlines = progress.open_deadlines(facts, as_of, rulebook.section("idle"), rect, lead_days)
    return WarningSet(as_of, deadlines, parcels, lead_days)


def _dates(values) -> np.ndarray:
    # ISO strings (SQLite) or dates (PostgreSQL); None → NaT
    return np.array(values, dtype="datetime64[D]") if len(values) else np.zeros(0, dtype="datetime64[D]")


def _floats(values) -> np.ndarray:
    return np.array(values, dtype=float) if len(values) else np.zeros(0)  # None → nan


def _facts(pid: np.ndarray, cols, ccols, acols) -> tuple[progress.DeadlineFacts, dict[str, np.ndarray]]:
    n = len(pid)
    parcels = {"id": pid, "code": np.array(cols[1], dtype=object), "location": np.array(cols[2], dtype=object),
               "zone_id": np.array(cols[3], dtype=object), "county_id": np.array(cols[4], dtype=object),
               "state": np.array(cols[5], dtype=object)}
    area = _floats(cols[6])
    dev_area, inv_done, inv_total = _floats(cols[9]), _floats(cols[10]), _floats(cols[11])
    with np.errstate(divide="ignore", invalid="ignore"):
        dev_ratio = np.where(area > 0, dev_area / np.where(area > 0, area, 1), np.nan)
        inv_ratio = np.where(inv_total > 0, inv_done / np.where(inv_total > 0, inv_total, 1), np.nan)
    pending = AcceptanceResult.PENDING.value
    comp_res = np.array(cols[12], dtype=object)
    prod_res = np.array(cols[14], dtype=object)
    comp_res[comp_res == None] = pending  # noqa: E711 — elementwise: no development record yet
    prod_res[prod_res == None] = pending  # noqa: E711

    # the latest contract per parcel (signed date, then id), its agreement's dates first
    agreed = {k: np.full(n, NAT) for k in ("start", "completion", "production")}
    if len(ccols[0]) and n:
        cid, cpar = np.array(ccols[0], dtype=np.int64), np.array(ccols[1], dtype=np.int64)
        signed = _dates(ccols[2])
        order = np.lexsort((cid, signed, cpar))
        last = order[np.r_[cpar[order][1:] != cpar[order][:-1], True]]
        pos = np.searchsorted(pid, cpar[last])
        ok = (pos < n) & (pid[np.minimum(pos, n - 1)] == cpar[last])
        last, pos = last[ok], pos[ok]
        agreed["start"][pos] = _dates(ccols[3])[last]
        agreed["completion"][pos] = _dates(ccols[4])[last]
        if len(acols[0]):
            akey = np.array(acols[0], dtype=np.int64)
            asort = np.argsort(akey, kind="stable")
            akey = akey[asort]
            q = cid[last]
            apos = np.minimum(np.searchsorted(akey, q), len(akey) - 1)
            hit = akey[apos] == q
            for key, i in (("start", 1), ("completion", 2), ("production", 3)):
                agreed[key][pos[hit]] = _dates(acols[i])[asort][apos[hit]]
    facts = progress.DeadlineFacts(
        agreed_start=agreed["start"], agreed_completion=agreed["completion"],
        agreed_production=agreed["production"], actual_start=_dates(cols[7]), stopped_since=_dates(cols[8]),
        developed_ratio=dev_ratio, investment_ratio=inv_ratio, completion_result=comp_res,
        completion_date=_dates(cols[13]), production_result=prod_res, production_date=_dates(cols[15]))
    return facts, parcels


def _parse_as_of(as_of: date | str | None) -> date:
    if as_of is None or as_of == "":
        return date.today()
    if isinstance(as_of, date):
        return as_of
    try:
        return date.fromisoformat(str(as_of))
    except ValueError:
        raise ValidationFailed(Problem("查询", "as_of", f"基准日“{as_of}”应为日期 YYYY-MM-DD")) from None


def warnings_page(db: Database, *, viewer: Principal, as_of: date | str | None = None, zone: str | None = None,
                  county: str | None = None, kind: str | None = None, severity: str | None = None,
                  limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """A page of ``viewer``'s warnings as of ``as_of`` (default today), soonest due first (overdue
    first), with counts by severity and kind over all of them (before the kind/severity filters)."""
    day = _parse_as_of(as_of)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(Problem("查询", "limit", f"每页条数应在1到{MAX_PAGE}之间"))
    if kind and kind not in progress.DEADLINE_KINDS:
        raise ValidationFailed(Problem("查询", "kind", f"预警类型“{kind}”无效，应为："
                                       + "、".join(f"{v['label']}({k})" for k, v in progress.DEADLINE_KINDS.items())))
    if severity and severity not in progress.SEVERITIES:
        raise ValidationFailed(Problem("查询", "severity", f"紧急程度“{severity}”无效，应为："
                                       + "、".join(f"{v}({k})" for k, v in progress.SEVERITIES.items())))
    ws = compute(db, viewer=viewer, as_of=day, zone=zone, county=county)
    dl = ws.deadlines
    counts = {"severity": {k: int((dl.severity == k).sum()) for k in progress.SEVERITIES},
              "kind": {k: int((dl.kind == i).sum()) for i, k in enumerate(progress.KINDS)}}
    keep = np.ones(len(dl.parcel), dtype=bool)
    if kind:
        keep &= dl.kind == progress.KINDS.index(kind)
    if severity:
        keep &= dl.severity == severity
    idx = np.flatnonzero(keep)
    page = idx[offset:offset + limit]
    names = _jurisdiction_names(db)
    items = [_item(ws, int(i), names) for i in page]
    return {"as_of": day.isoformat(), "lead_days": sorted(ws.lead_days, reverse=True), "total": int(len(idx)),
            "limit": limit, "offset": offset, "counts": counts, "items": items,
            "kinds": [{"value": k, **v} for k, v in progress.DEADLINE_KINDS.items()],
            "severities": [{"value": k, "label": v} for k, v in progress.SEVERITIES.items()]}


def _jurisdiction_names(db: Database) -> dict[int, str]:
    with db.reader() as s:
        return dict(s.execute(select(Jurisdiction.id, Jurisdiction.name)).all())


def _item(ws: WarningSet, i: int, names: dict[int, str]) -> dict[str, Any]:
    """One warning as the API answers it (stable keys: issue 7 builds on them)."""
    dl, p = ws.deadlines, ws.parcels
    j = int(dl.parcel[i])
    kind = progress.KINDS[int(dl.kind[i])]
    spec = progress.DEADLINE_KINDS[kind]
    zone_id, county_id = p["zone_id"][j], p["county_id"][j]
    sev = str(dl.severity[i])
    return {"parcel_code": p["code"][j], "location": p["location"][j],
            "zone": names.get(zone_id) if zone_id is not None else None,
            "county": names.get(county_id), "state": p["state"][j], "state_label": LandState(p["state"][j]).label,
            "kind": kind, "kind_label": spec["label"], "due_date": str(dl.due[i]),
            "days_left": int(dl.days_left[i]), "severity": sev, "severity_label": progress.SEVERITIES[sev],
            "rule_id": spec["rule_id"], "basis": spec["basis"]}
