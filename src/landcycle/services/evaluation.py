"""The annual evaluation: ``landcycle evaluate --year Y`` (R1–R4 for every parcel and enterprise).

Steps, all in ONE transaction (a failure anywhere leaves no run and no result rows):

1. **Read** the registry in bulk: one Core ``select`` of only the needed columns per table
   (parcels, the latest contract signed by the as-of day, its 履约监管协议, developments,
   enterprises, occupancies, and the year's figures from the long ``enterprise_figures`` table
   plus ``profit`` of the earlier years 停产半停产类 needs), executed on the DBAPI cursor (no ORM,
   no per-row objects) and turned into numpy arrays ordered by id.
2. **Fingerprint** the inputs: SHA-256 over every input array (dtype, shape, bytes), so equal
   inputs give an equal fingerprint whatever order the database returns rows in.
3. **Compute** with ``domain.rules.evaluation.evaluate`` (vectorised; see its docstring for the
   readings chosen).
4. **Write** the run row (year, as-of day, actor, times, rulebook label + fingerprint + full
   settings snapshot, method version, inputs fingerprint, per-zone summary) and the wide result
   rows with Core ``insert`` in chunks of :data:`CHUNK_ROWS`.

Reading runs and results for a caller (issue 5): :func:`list_runs`, :func:`run_summary` and
:func:`results_page` need ``Action.READ_CONFIDENTIAL`` (the public gets none of them); a run's
zone summaries are limited to the caller's zones, its enterprise results to the enterprises
whose confidential data the caller may read (``services.access.enterprise_condition``: an
enterprise account sees only itself). Running an evaluation needs ``Action.RUN_EVALUATION``.

Re-running a year creates a NEW run (its own id and time) whose result rows are identical to the
earlier run's when inputs and rulebook are unchanged (same fingerprints); earlier runs are never
touched, so a rulebook change shows up as a run with a different rulebook version/fingerprint
beside the old one.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from typing import Any, Callable

import numpy as np
from sqlalchemy import Connection, Integer, and_, case, cast, func, insert, literal, or_, select
from sqlalchemy.orm import Session, aliased

from ..domain.access import Action, Principal, as_principal

from ..domain.errors import NotFound, Problem, ValidationFailed
from ..domain.rules import evaluation as ev
from ..domain.rules.rulebook import Rulebook
from ..domain.vocabulary import AcceptanceResult, InefficiencyCategory, JurisdictionKind, OccupancyRole
from ..storage.db import Database
from ..storage.json_lists import json_list_contains
from ..storage.evaluation_schema import EnterpriseEvaluation, EvaluationRun, ParcelEvaluation
from ..storage.schema import (
    Enterprise,
    EnterpriseFigure,
    Jurisdiction,
    Occupancy,
    Parcel,
    ParcelDevelopment,
    PerformanceAgreement,
    SupplyContract,
    utcnow,
)
from ..storage.publicity_schema import EvaluationObjection, EvaluationPublication
from . import access, jurisdictions
from .rules import load_rulebook

#: Result rows per insert statement.
CHUNK_ROWS = 20_000
MIN_YEAR, MAX_YEAR = 1990, 2100

ProgressFn = Callable[[str, int, int], None]

_COMMITTED = {  # INDICATORS → performance_agreements column
    "plot_ratio": "plot_ratio", "building_density": "building_density",
    "investment_intensity": "investment_intensity_wan_per_mu", "output_intensity": "output_per_mu_wan",
    "building_coverage": "building_coverage", "green_ratio": "green_ratio",
    "office_living_ratio": "office_living_ratio",
}


@dataclass(frozen=True)
class ZoneSummary:
    zone_id: int | None
    code: str
    name: str
    tax_target_min_wan: float | None
    tax_target_max_wan: float | None
    figures: dict[str, Any]


@dataclass(frozen=True)
class RunReport:
    """What :func:`evaluate` stored (and what the CLI prints)."""

    run_id: int
    year: int
    as_of: date
    rulebook_version: str
    rulebook_fingerprint: str
    inputs_fingerprint: str
    method_version: str
    parcels: int
    enterprises: int
    zones: list[ZoneSummary]
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


# =========================================================================== public API
def evaluate(db: Database, year: int, *, actor: Principal | str = "system", rulebook: Rulebook | None = None,
             progress: ProgressFn | None = None, chunk_rows: int = CHUNK_ROWS) -> RunReport:
    """Evaluate ``year`` (as of its 31 December) and store the run; returns its report.
    ``actor`` (a Principal, or a name acting with system rights) must be allowed to run it."""
    principal = as_principal(actor)
    access.require(principal, Action.RUN_EVALUATION)
    actor = principal.actor
    if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed(Problem("年度评价", "year", f"年度应为 {MIN_YEAR}–{MAX_YEAR} 之间的整数，实际为 {year!r}",
                                       "invalid_year"))
    report = progress or (lambda stage, done, total: None)
    rulebook = rulebook or load_rulebook()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    started_at = utcnow()
    with db.transaction(actor=actor, reason=f"{year}年度评价") as session:
        conn = session.connection()
        report("读取数据", 0, 1)
        inputs = read_inputs(conn, year, rulebook)
        zones = _read_zones(conn)
        timings["read"] = time.perf_counter() - t0
        report("读取数据", 1, 1)
        t1 = time.perf_counter()
        fingerprint = inputs_fingerprint(inputs)
        timings["fingerprint"] = time.perf_counter() - t1
        report("计算 R1–R4", 0, 1)
        t1 = time.perf_counter()
        result = ev.evaluate(inputs, rulebook)
        timings["compute"] = time.perf_counter() - t1
        report("计算 R1–R4", 1, 1)
        summary = _summary(inputs, result, zones)
        t1 = time.perf_counter()
        run_id = _write(conn, inputs, result, rulebook, fingerprint, summary, actor, started_at, report,
                        chunk_rows)
        timings["write"] = time.perf_counter() - t1
    return RunReport(run_id, year, inputs.as_of.astype(object), rulebook.label, rulebook.fingerprint(), fingerprint,
                     ev.METHOD_VERSION, len(inputs.parcel_id), len(inputs.enterprise_id),
                     [_zone_summary(z) for z in summary], time.perf_counter() - t0, timings)


def run_rulebook(run: EvaluationRun) -> Rulebook:
    """The rulebook a run was computed with (its stored snapshot), not today's."""
    snap = run.rulebook_settings
    return Rulebook(snap["version"], snap.get("jurisdiction", ""), snap.get("name", ""), snap["data"],
                    tuple(snap.get("overrides", ())))


def show_run(db: Database, run_id: int) -> RunReport:
    """A stored run's report (from the run row: its summary, versions and fingerprints)."""
    with db.reader() as s:
        run = s.get(EvaluationRun, run_id)
        if run is None:
            raise NotFound("评价批次", str(run_id))
        return RunReport(run.id, run.year, run.as_of, run.rulebook_version, run.rulebook_fingerprint,
                         run.inputs_fingerprint, run.method_version, run.parcels, run.enterprises,
                         [_zone_summary(z) for z in run.summary["zones"]])


# =========================================================================== reading for callers
RUN_SORT_FIELDS = ("id", "year")
RESULT_SORT_FIELDS = ("credit_code", "name", "score", "result_class", "tax_per_mu_wan", "output_per_mu_wan",
                      "land_area_mu")
#: ``klass`` filter values of :func:`results_page` besides the classes.
NOT_EVALUATED = "not_evaluated"
STATUS_LABELS = {"evaluated": "参评", "not_evaluated": "不参评"}
_ITEMS = ("tax_per_mu", "value_added_per_mu", "value_added_per_energy", "value_added_per_emission",
          "labour_productivity", "rd_intensity", "tax_per_energy")


def _iso(t: date | datetime | None) -> str | None:
    if t is None:
        return None
    if isinstance(t, datetime) and t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)  # SQLite drops the zone of aware columns; they are UTC
    return t.isoformat()


def _get_run(s, run_id: int) -> EvaluationRun:
    run = s.get(EvaluationRun, run_id)
    if run is None:
        raise NotFound("评价批次", str(run_id))
    return run


def _run_view(run, pub) -> dict[str, Any]:
    return {"id": run.id, "year": run.year, "as_of": _iso(run.as_of), "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at), "actor": run.actor, "rulebook_version": run.rulebook_version,
            "method_version": run.method_version, "parcels": run.parcels, "enterprises": run.enterprises,
            "published": pub is not None, "published_on": _iso(pub.published_on) if pub else None,
            "objection_deadline": _iso(pub.objection_deadline) if pub else None}


def list_runs(db: Database, *, viewer: Principal, limit: int = 100, offset: int = 0,
              sort: list[tuple[str, bool]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """A page of evaluation runs (newest year first by default) and how many there are."""
    access.require(viewer, Action.READ_CONFIDENTIAL)
    r = EvaluationRun
    cols = {"id": r.id, "year": r.year}
    order = [cols[k].desc() if d else cols[k].asc() for k, d in sort or []] or [r.year.desc()]
    with db.reader() as s:
        total = s.scalar(select(func.count()).select_from(r))
        rows = s.execute(select(r, EvaluationPublication).outerjoin(EvaluationPublication,
                                                                    EvaluationPublication.run_id == r.id)
                         .order_by(*order, r.id.desc()).limit(limit).offset(offset)).all()
        return [_run_view(run, pub) for run, pub in rows], total


def run_summary(db: Database, run_id: int, *, viewer: Principal) -> dict[str, Any]:
    """A run: versions, fingerprints, its 公示 and the per-zone summary of the zones in the
    caller's jurisdiction (city level: all, including parcels outside any zone)."""
    access.require(viewer, Action.READ_CONFIDENTIAL)
    with db.reader() as s:
        run = _get_run(s, run_id)
        pub = s.scalar(select(EvaluationPublication).where(EvaluationPublication.run_id == run_id))
        counts = dict(s.execute(
            select(EvaluationObjection.status, func.count()).where(
                EvaluationObjection.run_id == run_id,
                access.enterprise_condition(viewer, EvaluationObjection.enterprise_id))
            .group_by(EvaluationObjection.status)).all())
        out = _run_view(run, pub)
        out.update(rulebook_fingerprint=run.rulebook_fingerprint, inputs_fingerprint=run.inputs_fingerprint,
                   window_workdays=pub.window_workdays if pub else None,
                   objections={k: counts.get(k, 0) for k in ("pending", "upheld", "rejected")})
        out["zones"] = [z for z in run.summary["zones"]
                        if viewer.everywhere or (z["zone_id"] is not None and viewer.covers(None, z["zone_id"]))]
        return out


def results_page(db: Database, run_id: int, *, viewer: Principal, klass: str | None = None,
                 zone: str | None = None, county: str | None = None, limit: int = 100, offset: int = 0,
                 sort: list[tuple[str, bool]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """A page of a run's enterprise results (each enterprise's current result version) that
    ``viewer`` may read, and how many there are.

    Filters: ``klass`` A/B/C (the result class) or ``not_evaluated``; ``zone`` (the zone the
    result was counted in); ``county`` (the enterprise's registered county, or a zone lying in
    it). Sort by :data:`RESULT_SORT_FIELDS` (default: credit code).
    """
    access.require(viewer, Action.READ_CONFIDENTIAL)
    ee, ent, zn = EnterpriseEvaluation, Enterprise, aliased(Jurisdiction)
    with db.reader() as s:
        _get_run(s, run_id)
        newest = (select(ee.enterprise_id, func.max(ee.result_version).label("v"))
                  .where(ee.run_id == run_id).group_by(ee.enterprise_id).subquery())
        conds = [ee.run_id == run_id, access.enterprise_condition(viewer, ee.enterprise_id)]
        if klass:
            k = klass.strip()
            if k == NOT_EVALUATED:
                conds.append(ee.status == NOT_EVALUATED)
            elif k.upper() in ("A", "B", "C", "D"):
                conds.append(ee.result_class == k.upper())
            else:
                raise ValidationFailed(Problem("查询", "class", f"类别应为 A、B、C 或 {NOT_EVALUATED}，实际为“{klass}”"))
        if zone:
            conds.append(ee.zone_id == jurisdictions.resolve(s, zone, JurisdictionKind.ZONE, "查询", "zone").id)
        if county:
            cid = jurisdictions.resolve(s, county, JurisdictionKind.COUNTY, "查询", "county").id
            zones_in = select(Jurisdiction.id).where(Jurisdiction.territory_county_id == cid)
            conds.append(or_(ent.county_id == cid, ee.zone_id.in_(zones_in)))
        base = (select(ee, ent.credit_code, ent.name, zn.code.label("zone_code"), zn.name.label("zone_name"))
                .join(newest, and_(newest.c.enterprise_id == ee.enterprise_id, newest.c.v == ee.result_version))
                .outerjoin(ent, ent.id == ee.enterprise_id)
                .outerjoin(zn, zn.id == ee.zone_id)
                .where(*conds))
        total = s.scalar(select(func.count()).select_from(base.subquery()))
        cols = {"credit_code": ent.credit_code, "name": ent.name, "score": ee.score,
                "result_class": ee.result_class, "tax_per_mu_wan": ee.tax_per_mu_wan,
                "output_per_mu_wan": ee.output_per_mu_wan, "land_area_mu": ee.land_area_mu}
        order = [(cols[k].desc() if d else cols[k].asc()).nulls_last() for k, d in sort or []]
        rows = s.execute(base.order_by(*order, ent.credit_code, ee.enterprise_id).limit(limit).offset(offset)).all()
        return [_result_view(r) for r in rows], total


def _result_view(r) -> dict[str, Any]:
    e = r[0]
    return {"result_id": e.id, "credit_code": r.credit_code, "name": r.name, "zone_code": r.zone_code,
            "zone_name": r.zone_name, "above_scale": e.above_scale, "land_area_mu": e.land_area_mu,
            "tax_total_wan": e.tax_total_wan, "tax_per_mu_wan": e.tax_per_mu_wan,
            "output_per_mu_wan": e.output_per_mu_wan, "production_years": e.production_years,
            "status": e.status, "status_label": STATUS_LABELS.get(e.status, e.status),
            "not_evaluated_reason": e.not_evaluated_reason, "managed_as": e.managed_as, "score": e.score,
            "result_class": e.result_class, "missing_items": e.missing_items,
            "item_scores": {k: getattr(e, f"item_{k}") for k in _ITEMS},
            "result_version": e.result_version, "supersedes_id": e.supersedes_id, "note": e.note}


def latest_run_id(s: Session) -> int | None:
    """The latest evaluation run — the newest run of the latest year — as the dashboard, the
    tiles' classes and the ledger export read it; None before the first run."""
    return s.scalar(select(EvaluationRun.id).order_by(EvaluationRun.year.desc(), EvaluationRun.id.desc()).limit(1))


# =========================================================================== reading
def fetch_columns(conn: Connection, stmt) -> list[tuple]:
    """Columns of a Core select, fetched on the DBAPI cursor (no per-row result processing)."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cur = conn.connection.cursor()
    try:
        cur.execute(sql)
        rows = cur.fetchall()
    finally:
        cur.close()
    n = len(stmt.selected_columns)
    return list(zip(*rows)) if rows else [()] * n


def _f(col) -> np.ndarray:
    return np.array(col, dtype=float)


def _i(col) -> np.ndarray:
    return np.array(col, dtype=np.int64)


def _d(col) -> np.ndarray:
    return np.array(col, dtype="datetime64[D]") if len(col) else np.zeros(0, dtype="datetime64[D]")


def _b(col) -> np.ndarray:
    return np.array([bool(v) for v in col], dtype=bool)


def _align(ids: np.ndarray, keys: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
    """``values`` (keyed by ``keys``) placed at the positions of ``ids`` (sorted); ``fill`` elsewhere."""
    out = np.full(len(ids), fill, dtype=values.dtype)
    if len(keys):
        pos = np.searchsorted(ids, keys)
        ok = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == keys)
        out[pos[ok]] = values[ok]
    return out


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray, fill) -> np.ndarray:
    """``values`` of the sorted unique ``keys`` looked up for each ``query`` key; ``fill`` if absent."""
    out = np.full(len(query), fill, dtype=values.dtype)
    if len(keys) and len(query):
        pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        ok = keys[pos] == query
        out[ok] = values[pos[ok]]
    return out


def read_inputs(conn: Connection, year: int, rulebook: Rulebook) -> ev.EvaluationInputs:
    """Everything the evaluation of ``year`` needs, as arrays ordered by id."""
    as_of = date(year, 12, 31)
    p, c, a, d = Parcel.__table__, SupplyContract.__table__, PerformanceAgreement.__table__, ParcelDevelopment.__table__
    e, o, f = Enterprise.__table__, Occupancy.__table__, EnterpriseFigure.__table__

    pid, area_mu, area_m2, zone, sf, other = fetch_columns(conn, select(
        p.c.id, p.c.area_mu, p.c.area_m2, p.c.zone_id, p.c.is_standard_factory,
        json_list_contains(p.c.inefficiency_categories, InefficiencyCategory.OTHER.value)
    ).order_by(p.c.id))
    parcel_id = _i(pid)
    order = np.argsort(parcel_id, kind="stable")
    parcel_id = parcel_id[order]

    def P(x):  # reorder a parcel column by id (no-op when the DB already sorted)
        return x[order]

    # latest contract signed by the as-of day, per parcel
    cid, cpar, signed, agreed_start, agreed_compl, price = fetch_columns(conn, select(
        c.c.id, c.c.parcel_id, c.c.signed_date, c.c.agreed_start_date, c.c.agreed_completion_date, c.c.price_wan
    ).where(c.c.signed_date <= as_of))
    cid, cpar, signed = _i(cid), _i(cpar), _d(signed)
    last = np.lexsort((cid, signed, cpar))
    keep = last[np.r_[cpar[last][1:] != cpar[last][:-1], True]] if len(last) else last
    ck = cpar[keep]
    # its 履约监管协议
    acols = [a.c[_COMMITTED[k]] for k in ev.INDICATORS]
    arows = fetch_columns(conn, select(a.c.contract_id, *acols))
    asort = np.argsort(_i(arows[0]), kind="stable")
    a_keys = _i(arows[0])[asort]
    committed = {k: _align(parcel_id, ck, _lookup(a_keys, _f(col)[asort], cid[keep], np.nan), np.nan)
                 for k, col in zip(ev.INDICATORS, arows[1:])}
    drows = fetch_columns(conn, select(
        d.c.parcel_id, d.c.actual_start_date, d.c.stopped_since, d.c.developed_area_m2, d.c.investment_done_wan,
        d.c.investment_total_wan, d.c.completion_result == AcceptanceResult.PASSED.value, d.c.completion_date,
        d.c.production_result == AcceptanceResult.PASSED.value, d.c.production_date, d.c.floor_area_m2,
        d.c.footprint_m2, d.c.coverage_area_m2, d.c.green_area_m2, d.c.office_living_area_m2))
    dk = _i(drows[0])

    def D(col, kind):
        conv = {"f": (_f, np.nan), "d": (_d, np.datetime64("NaT", "D")), "b": (_b, False)}[kind]
        return _align(parcel_id, dk, conv[0](col), conv[1])

    eid, industry, above = fetch_columns(conn, select(e.c.id, e.c.industry_code, e.c.above_scale).order_by(e.c.id))
    enterprise_id = _i(eid)
    eorder = np.argsort(enterprise_id, kind="stable")
    enterprise_id = enterprise_id[eorder]
    industry = np.array(industry, dtype=object)[eorder] if len(eorder) else np.zeros(0, dtype=object)
    above = _b(above)[eorder] if len(eorder) else np.zeros(0, dtype=bool)

    oid, opar, oent, oown, oarea, ostart, oend = fetch_columns(conn, select(
        o.c.id, o.c.parcel_id, o.c.enterprise_id, o.c.role == OccupancyRole.OWNER.value, o.c.area_m2,
        o.c.start_date, o.c.end_date))
    occ_id = _i(oid)
    oo = np.argsort(occ_id, kind="stable")
    occ_parcel = np.searchsorted(parcel_id, _i(opar)[oo]) if len(oo) else _i([])
    occ_ent = np.searchsorted(enterprise_id, _i(oent)[oo]) if len(oo) else _i([])

    # figures: the year's indicators, and profit of the years 停产半停产类 looks back on
    k = ev.history_years(rulebook.section("low_efficiency"))
    codes = {name: i for i, name in enumerate(ev.FIGURES)}
    code_expr = case(*((f.c.indicator == name, literal(i)) for name, i in codes.items()), else_=literal(-1))
    fe, fy, fc, fv = fetch_columns(conn, select(f.c.enterprise_id, f.c.year, cast(code_expr, Integer), f.c.value).where(
        or_(and_(f.c.year == year, f.c.indicator.in_(list(codes))),
            and_(f.c.year < year, f.c.year > year - k, f.c.indicator == "profit"))))
    fe_pos = np.searchsorted(enterprise_id, _i(fe))
    fy, fc, fv = _i(fy), _i(fc), _f(fv)
    E = len(enterprise_id)
    figures = {}
    cur = fy == year
    for name, i in codes.items():
        col = np.full(E, np.nan)
        m = cur & (fc == i)
        col[fe_pos[m]] = fv[m]
        figures[name] = col
    history = np.full((E, k), np.nan)
    history[:, 0] = figures["profit"]
    for j in range(1, k):
        m = (fy == year - j) & (fc == codes["profit"])
        history[fe_pos[m], j] = fv[m]

    return ev.EvaluationInputs(
        year=year, parcel_id=parcel_id, area_mu=P(_f(area_mu)), area_m2=P(_f(area_m2)),
        zone_id=P(np.array([-1 if z is None else z for z in zone], dtype=np.int64)),
        standard_factory=P(_b(sf)), designated_other=P(_b(other)),
        signed_date=_align(parcel_id, ck, signed[keep], np.datetime64("NaT", "D")),
        agreed_start=_align(parcel_id, ck, _d(agreed_start)[keep], np.datetime64("NaT", "D")),
        agreed_completion=_align(parcel_id, ck, _d(agreed_compl)[keep], np.datetime64("NaT", "D")),
        price_wan=_align(parcel_id, ck, _f(price)[keep], np.nan),
        committed=committed,
        actual_start=D(drows[1], "d"), stopped_since=D(drows[2], "d"), developed_area_m2=D(drows[3], "f"),
        investment_done_wan=D(drows[4], "f"), investment_total_wan=D(drows[5], "f"),
        completion_passed=D(drows[6], "b"), completion_date=D(drows[7], "d"),
        production_passed=D(drows[8], "b"), production_date=D(drows[9], "d"),
        floor_area_m2=D(drows[10], "f"), footprint_m2=D(drows[11], "f"), coverage_area_m2=D(drows[12], "f"),
        green_area_m2=D(drows[13], "f"), office_living_area_m2=D(drows[14], "f"),
        enterprise_id=enterprise_id, industry_code=industry, above_scale=above,
        figures=figures, profit_history=history,
        occ_id=occ_id[oo], occ_parcel=occ_parcel, occ_enterprise=occ_ent, occ_owner=_b(oown)[oo] if len(oo) else _b([]),
        occ_area_m2=_f(oarea)[oo] if len(oo) else _f([]), occ_start=_d(ostart)[oo] if len(oo) else _d([]),
        occ_end=_d(oend)[oo] if len(oo) else _d([]),
    )


def inputs_fingerprint(inputs: ev.EvaluationInputs) -> str:
    """SHA-256 over every input array (name, dtype, shape, bytes); object arrays as JSON."""
    h = hashlib.sha256()

    def add(name: str, arr) -> None:
        arr = np.asarray(arr)
        h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        if arr.dtype == object:
            h.update(json.dumps(arr.tolist(), ensure_ascii=False).encode("utf-8"))
        else:
            h.update(np.ascontiguousarray(arr).tobytes())

    for fld in fields(inputs):
        value = getattr(inputs, fld.name)
        if isinstance(value, dict):
            for key in sorted(value):
                add(f"{fld.name}.{key}", value[key])
        else:
            add(fld.name, value)
    return h.hexdigest()


def _read_zones(conn: Connection) -> dict[int, dict[str, Any]]:
    j = Jurisdiction.__table__
    rows = conn.execute(select(j.c.id, j.c.code, j.c.name, j.c.tax_target_min_wan, j.c.tax_target_max_wan)
                        .where(j.c.kind == "zone")).all()
    return {r.id: {"code": r.code, "name": r.name, "tax_target_min_wan": r.tax_target_min_wan,
                   "tax_target_max_wan": r.tax_target_max_wan} for r in rows}


# =========================================================================== summary and writing
def _summary(inputs: ev.EvaluationInputs, result: ev.EvaluationResult, zones: dict[int, dict]) -> list[dict]:
    rp, re_ = result.parcel, result.enterprise
    per_zone = ev.zone_summary(inputs.zone_id, inputs.area_mu, rp["tax_total_wan"], rp["idle_code"],
                               rp["low_efficiency_mask"], re_["zone_id"], re_["evaluated"], re_["class"])
    out = []
    for zid, figs in per_zone.items():
        z = zones.get(zid, {"code": "", "name": "（不在产业集聚区）", "tax_target_min_wan": None,
                            "tax_target_max_wan": None})
        out.append({"zone_id": None if zid < 0 else zid, **z, "figures": figs})
    out.sort(key=lambda z: (z["code"] == "", z["code"]))
    return out


def _zone_summary(z: dict) -> ZoneSummary:
    return ZoneSummary(z["zone_id"], z["code"], z["name"], z["tax_target_min_wan"], z["tax_target_max_wan"],
                       z["figures"])


def _floats(a: np.ndarray, nd: int | None = None) -> list:
    a = np.asarray(a, dtype=float)
    if nd is not None:
        a = np.round(a, nd)
    out = a.tolist()
    if np.isnan(a).any():
        out = [None if v != v else v for v in out]
    return out


def _ints_or_none(a: np.ndarray, missing: int = -1) -> list:
    out = np.asarray(a).tolist()
    return [None if v == missing else v for v in out]


def _dates(a: np.ndarray) -> list:
    return np.asarray(a, dtype="datetime64[D]").tolist()


def _write(conn: Connection, inputs: ev.EvaluationInputs, result: ev.EvaluationResult, rulebook: Rulebook,
           fingerprint: str, summary: list[dict], actor: str, started_at, report: ProgressFn,
           chunk_rows: int) -> int:
    P, E = len(inputs.parcel_id), len(inputs.enterprise_id)
    run_id = conn.execute(insert(EvaluationRun.__table__).values(
        year=inputs.year, as_of=inputs.as_of.astype(object), started_at=started_at, finished_at=utcnow(),
        actor=actor, rulebook_version=rulebook.label, rulebook_fingerprint=rulebook.fingerprint(),
        rulebook_settings={"version": rulebook.version, "jurisdiction": rulebook.jurisdiction,
                           "name": rulebook.name, "overrides": list(rulebook.overrides), "data": rulebook.data},
        method_version=ev.METHOD_VERSION, inputs_fingerprint=fingerprint, parcels=P, enterprises=E,
        summary={"zones": summary},
    )).inserted_primary_key[0]

    rp = result.parcel
    owner = rp["owner_enterprise"]
    owner_id = np.where(owner >= 0, inputs.enterprise_id[np.maximum(owner, 0)] if E else -1, -1)
    codes = np.array(ev.IDLE_CODES, dtype=object)
    pcols = {
        "run_id": [run_id] * P, "parcel_id": inputs.parcel_id.tolist(), "result_version": [1] * P,
        "zone_id": _ints_or_none(inputs.zone_id), "area_mu": inputs.area_mu.tolist(),
        "tax_total_wan": _floats(rp["tax_total_wan"], 6), "output_total_wan": _floats(rp["output_total_wan"], 6),
        "tax_per_mu_wan": _floats(rp["tax_per_mu_wan"], 6), "output_per_mu_wan": _floats(rp["output_per_mu_wan"], 6),
        "tenants": rp["tenants"].tolist(), "standard_factory": inputs.standard_factory.tolist(),
        "owner_enterprise_id": _ints_or_none(owner_id), "owner_class": rp["owner_class"].tolist(),
        "idle_outcome": codes[rp["idle_code"]].tolist(), "idle_since": _dates(rp["idle_since"]),
        "idle_years": _ints_or_none(rp["idle_years"]), "idle_fee_wan": _floats(rp["idle_fee_wan"]),
        "low_efficiency_mask": rp["low_efficiency_mask"].tolist(),
        "below_contract_mask": rp["below_contract_mask"].tolist(), "unchecked_mask": rp["unchecked_mask"].tolist(),
        "years_without_profit": _ints_or_none(np.nan_to_num(rp["years_without_profit"], nan=-1).astype(int)),
    }
    _insert(conn, ParcelEvaluation.__table__, pcols, P, "写入宗地评价结果", report, chunk_rows)

    r = result.enterprise
    managed = rulebook.section("classify")["not_evaluated_class"]
    ecols = {
        "run_id": [run_id] * E, "enterprise_id": inputs.enterprise_id.tolist(), "result_version": [1] * E,
        "zone_id": _ints_or_none(r["zone_id"]), "above_scale": inputs.above_scale.tolist(),
        "land_area_mu": _floats(r["land_area_mu"], 6), "tax_total_wan": _floats(r["tax_total_wan"], 6),
        "tax_per_mu_wan": _floats(r["tax_per_mu_wan"], 6), "output_per_mu_wan": _floats(r["output_per_mu_wan"], 6),
        "production_years": _ints_or_none(r["production_years"]),
        "status": np.where(r["evaluated"], "evaluated", "not_evaluated").tolist(),
        "not_evaluated_reason": r["not_evaluated_reason"].tolist(),
        "managed_as": np.where(r["evaluated"], None, managed).tolist(),
        "score": _floats(r["score"], 6), "result_class": r["class"].tolist(),
        "missing_items": r["missing_items"].tolist(),
        **{key: _floats(r[key], 6) for key in r if key.startswith("item_")},
    }
    _insert(conn, EnterpriseEvaluation.__table__, ecols, E, "写入企业评价结果", report, chunk_rows)
    return run_id


def _insert(conn: Connection, table, cols: dict[str, list], total: int, stage: str, report: ProgressFn,
            chunk_rows: int) -> None:
    keys = list(cols)
    lists = [cols[k] for k in keys]
    report(stage, 0, total)
    for a in range(0, total, chunk_rows):
        b = min(total, a + chunk_rows)
        rows = [dict(zip(keys, vals)) for vals in zip(*(lst[a:b] for lst in lists))]
        conn.execute(insert(table), rows)
        report(stage, b, total)
