"""Disposal ledgers (处置台账) of 批而未供, 闲置 and 低效 land, and the 消化处置率 read from them
for any day (issue 8, items 1 and 3). Rules and vocabularies: ``domain.disposal``; the rate
formula: ``domain.progress.disposal_rate``; settings: the rulebook's ``[disposal_rate]``
``ledger_*`` / ``revived_outcomes`` / ``revival_goal_mu`` keys. docs/disposal-ledger.md.

Use cases, each one transaction, every write in the change log (一地一档):

* :func:`open_from_evaluation` — entries for every parcel an evaluation run found 闲置 (R3) or
  低效 (R4, each category) and/or every parcel now 批而未供 / 闲置 / 低效, unless it already has an
  open entry in that category: one read, one bulk insert, idempotent (run twice: nothing new).
* :func:`open_entry` — by hand, with a mandatory reason; a second open entry for the same parcel
  and category is refused naming the existing one.
* :func:`update_entry` / :func:`close_entry` — versioned (``audit.guarded_update``: a stale
  version is a 409 with the current record); closing needs an outcome.
* :func:`add_report` — progress reports, append-only.
* :func:`progress` — 消化处置率 and 盘活面积 per zone, county and city as of any day.

Who may do what: reading — officials (city, county, zone) and departments within their
jurisdiction (a city-level account: everything); enterprises may not (the ledgers are the
government's working files, not a record of the enterprise: 403), the public must sign in
(401). Writing — the city admin anywhere, a county admin or zone manager for parcels in their
jurisdiction (others: 403; a parcel or entry outside it: 404, its existence not revealed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import disposal as rules
from ..domain import progress as prog
from ..domain.access import Principal, Role, as_principal
from ..domain.disposal import DisposalMeasure, DisposalOutcome, EntrySource, EntryStatus, LedgerCategory, ReportStage
from ..domain.errors import ConcurrentWrite, Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.rules import evaluation as ev_rules
from ..domain.vocabulary import InefficiencyCategory, JurisdictionKind, LandState
from ..storage.db import Database
from ..storage.disposal_schema import DisposalEntry, DisposalReport
from ..storage.evaluation_schema import EvaluationRun, ParcelEvaluation
from ..storage.history import insert_with_history
from ..storage.lifecycle_schema import ParcelTransition
from ..storage.ids import BulkIdAllocator
from ..storage.schema import Enterprise, Jurisdiction, Occupancy, Parcel, utcnow
from . import access, audit, jurisdictions
from .rules import load_rulebook

today = audit.local_today

#: Roles that read ledgers; roles that write them (within their jurisdiction).
READERS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER, Role.DEPARTMENT})
WRITERS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER})
SORT_FIELDS = ("opened_on", "due_date", "closed_on", "area_mu", "category", "status", "id")
#: Fields an update may change (closing has its own call).
EDITABLE = ("cause", "measure", "plan", "due_date", "units")
WHAT = "处置台账"


# =========================================================================== access
def _require_read(viewer: Principal) -> None:
    if viewer.is_public:
        raise Unauthorized()
    if viewer.role not in READERS:
        raise Forbidden(f"{viewer.role.label}无权查看处置台账（台账为政府工作台账）")


def _require_write(viewer: Principal) -> None:
    if viewer.is_public:
        raise Unauthorized()
    if viewer.role not in WRITERS:
        raise Forbidden(f"{viewer.role.label}无权建立或修改处置台账")


def _entry(s: Session, entry_id: int, viewer: Principal) -> tuple[DisposalEntry, Parcel]:
    """The entry and its parcel, if within the viewer's jurisdiction (else NotFound)."""
    e = s.get(DisposalEntry, entry_id) if -2**31 <= entry_id < 2**31 else None
    p = s.get(Parcel, e.parcel_id) if e is not None else None
    if e is None or p is None or not viewer.covers(p.county_id, p.zone_id):
        raise NotFound(WHAT, str(entry_id))
    return e, p


def _parcel(s: Session, code: str, viewer: Principal) -> Parcel:
    p = s.scalar(select(Parcel).where(Parcel.code == (code or "").strip().upper()))
    if p is None or not viewer.covers(p.county_id, p.zone_id):
        raise NotFound("宗地", code)
    return p


# =========================================================================== views
def _label(kind, value: str | None) -> str | None:
    return kind(value).label if value else None


def entry_view(e: DisposalEntry, parcel_code: str | None = None) -> dict[str, Any]:
    """One entry as readers see it (labels beside the stored values)."""
    units = list(e.units or [])
    return {
        "id": e.id, "parcel": parcel_code or (e.facts or {}).get("code"), "category": e.category,
        "category_label": LedgerCategory(e.category).label, "status": e.status,
        "status_label": EntryStatus(e.status).label, "facts": dict(e.facts or {}), "area_mu": e.area_mu,
        "cause": e.cause, "measure": e.measure, "measure_label": _label(DisposalMeasure, e.measure),
        "plan": e.plan, "due_date": e.due_date.isoformat() if e.due_date else None, "units": units,
        "lead_unit": units[0] if units else None, "opened_on": e.opened_on.isoformat(), "source": e.source,
        "source_label": EntrySource(e.source).label, "source_run_id": e.source_run_id,
        "source_result_id": e.source_result_id, "source_note": e.source_note, "outcome": e.outcome,
        "outcome_label": _label(DisposalOutcome, e.outcome),
        "closed_on": e.closed_on.isoformat() if e.closed_on else None, "closing_note": e.closing_note,
        "created_by": e.created_by, "version": e.version,
    }


def report_view(r: DisposalReport) -> dict[str, Any]:
    at = audit.as_utc(r.reported_at)
    return {"id": r.id, "entry_id": r.entry_id, "reported_on": r.reported_on.isoformat(), "text": r.text,
            "percent": r.percent, "stage": r.stage, "stage_label": _label(ReportStage, r.stage),
            "reported_by": r.reported_by, "reported_at": at.isoformat() if at else None}


def _view(s: Session, e: DisposalEntry) -> dict[str, Any]:
    return entry_view(e, s.scalar(select(Parcel.code).where(Parcel.id == e.parcel_id)))


# =========================================================================== facts snapshot
def _facts(s: Session, parcels: list[Parcel]) -> dict[int, dict[str, Any]]:
    """The basic facts of each parcel now (the snapshot an entry keeps): code, location, area,
    state, zone, administering county, land users (names)."""
    juris = _jurisdictions(s)
    ids = [p.id for p in parcels]
    users: dict[int, list[str]] = {i: [] for i in ids}
    for a in range(0, len(ids), 5000):
        chunk = ids[a:a + 5000]
        for pid, name in s.execute(select(Occupancy.parcel_id, Enterprise.name)
                                   .join(Enterprise, Enterprise.id == Occupancy.enterprise_id)
                                   .where(Occupancy.parcel_id.in_(chunk), Occupancy.end_date.is_(None))
                                   .order_by(Occupancy.parcel_id, Occupancy.role, Enterprise.name)):
            if name not in users[pid]:
                users[pid].append(name)
    out = {}
    for p in parcels:
        zone = juris.get(p.zone_id) if p.zone_id else None
        county = juris.get(_county_of(p.zone_id, p.county_id, juris))
        out[p.id] = {"code": p.code, "location": p.location, "area_mu": round(float(p.area_mu), 4),
                     "state": p.state, "state_label": LandState(p.state).label,
                     "zone": {"code": zone.code, "name": zone.name} if zone else None,
                     "county": {"code": county.code, "name": county.name} if county else None,
                     "land_users": users[p.id]}
    return out


@dataclass(frozen=True)
class _J:
    """A jurisdiction's plain facts (usable after the session closed)."""

    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None


def _jurisdictions(s: Session) -> dict[int, _J]:
    return {r.id: _J(*r) for r in s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name,
                                                   Jurisdiction.kind, Jurisdiction.parent_id))}


def _county_of(zone_id: int | None, county_id: int, juris: dict[int, _J]) -> int:
    """The county (or 管委会) answering for a parcel: its zone's administrative parent, else the
    county it lies in (DOMAIN.md §3: a county admin's ledger is its own zones and land)."""
    zone = juris.get(zone_id) if zone_id else None
    if zone is not None and zone.parent_id in juris and juris[zone.parent_id].kind in (
            JurisdictionKind.COUNTY.value, JurisdictionKind.MANAGEMENT_AREA.value):
        return zone.parent_id
    return county_id


# =========================================================================== progress (item 3)
def progress(db: Database, *, as_of: date, viewer: Principal | str) -> dict[str, Any]:
    """消化处置率 and 盘活面积 from the ledger as of ``as_of``, per zone, county (or 管委会) and for
    the city, limited to what ``viewer`` may see: city-level accounts every row; a county admin
    (or county department) its county and the zones under it; a zone manager its zone ("city" is
    None below city level). Enterprises 403, the public 401.

    Returns ``{"as_of", "basis", "unit", "goal_rate", "goal_revived_mu", "formula", "city",
    "counties", "zones"}``; each row ``{"code", "name", "identified", "disposed", "rate",
    "meets_goal", "revived_mu", "entries", "closed_entries"}`` (identified/disposed in ``unit``:
    亩 rounded to 4 places, or 宗; rate None when nothing was identified). The definition is
    ``domain.disposal.ledger_figures`` with ``domain.progress.disposal_rate``; ``formula`` says
    it in words.
    """
    viewer = as_principal(viewer)
    _require_read(viewer)
    if not isinstance(as_of, date):
        raise ValidationFailed(Problem("消化处置进度", "as_of", f"统计日期无效：{as_of!r}"))
    settings = rules.LedgerSettings.from_section(load_rulebook().section("disposal_rate"))
    with db.reader() as s:
        juris = _jurisdictions(s)
        rows = s.execute(select(DisposalEntry.parcel_id, DisposalEntry.category, DisposalEntry.opened_on,
                                DisposalEntry.closed_on, DisposalEntry.outcome, DisposalEntry.area_mu,
                                Parcel.zone_id, Parcel.county_id)
                         .join(Parcel, Parcel.id == DisposalEntry.parcel_id)
                         .where(access.parcel_condition(viewer))).all()
    pids = np.array([r[0] for r in rows], dtype=np.int64)
    uniq, pos = np.unique(pids, return_inverse=True)
    fig = rules.ledger_figures(
        pos, len(uniq), np.array([r[1] for r in rows], dtype=object),
        np.array([r[2] for r in rows], dtype="datetime64[D]"),
        np.array([r[3] if r[3] is not None else "NaT" for r in rows], dtype="datetime64[D]"),
        np.array([r[4] for r in rows], dtype=object), np.array([r[5] for r in rows], dtype=float), as_of, settings)
    zone_of = np.full(len(uniq), -1, dtype=np.int64)
    county_of = np.full(len(uniq), -1, dtype=np.int64)
    for i, r in zip(pos, rows):
        zone_of[i] = r[6] if r[6] is not None else -1
        county_of[i] = _county_of(r[6], r[7], juris)
    entry_zone, entry_county = zone_of[pos], county_of[pos]

    def row(j: _J | None, parcels: np.ndarray, entries: np.ndarray, code=None, name=None) -> dict[str, Any]:
        ident = float(np.sum(fig.weight[parcels & fig.identified]))
        disp = float(np.sum(fig.weight[parcels & fig.disposed]))
        nd = 4 if settings.basis == "area" else 0
        rate = prog.disposal_rate(round(ident, 6), round(disp, 6), settings.goal)
        return {"code": code or j.code, "name": name or j.name, "identified": round(ident, nd),
                "disposed": round(disp, nd), "rate": rate.rate, "meets_goal": bool(rate.met),
                "revived_mu": round(float(np.sum(fig.revived_mu[parcels])), 4),
                "entries": int(np.sum(fig.entry_open_by[entries])),
                "closed_entries": int(np.sum(fig.entry_closed_by[entries]))}

    all_p, all_e = np.ones(len(uniq), dtype=bool), np.ones(len(rows), dtype=bool)
    city = None
    if viewer.everywhere:
        cj = next((j for j in juris.values() if j.kind == JurisdictionKind.CITY.value), None)
        city = row(cj, all_p, all_e, code=None if cj else "city", name=None if cj else "全市")
    county_ids = sorted(j.id for j in juris.values() if j.kind in (
        JurisdictionKind.COUNTY.value, JurisdictionKind.MANAGEMENT_AREA.value) and _sees_county(viewer, j))
    zone_ids = sorted(j.id for j in juris.values() if j.kind == JurisdictionKind.ZONE.value
                      and (viewer.everywhere or j.id in viewer.zone_ids))
    counties = [row(juris[c], county_of == c, entry_county == c) for c in county_ids]
    zones = [row(juris[z], zone_of == z, entry_zone == z) for z in zone_ids]
    counties.sort(key=lambda r: r["code"])
    zones.sort(key=lambda r: r["code"])
    return {"as_of": as_of.isoformat(), "basis": settings.basis, "unit": settings.unit, "goal_rate": settings.goal,
            "goal_revived_mu": settings.goal_revived_mu, "formula": settings.formula(), "city": city,
            "counties": counties, "zones": zones}


def _sees_county(viewer: Principal, j: _J) -> bool:
    """A county row is shown to city-level accounts and to the county's own officials/departments."""
    if viewer.everywhere:
        return True
    return viewer.role in (Role.COUNTY_ADMIN, Role.DEPARTMENT) and viewer.jurisdiction_id == j.id


# =========================================================================== reading entries
def _filters(s: Session, zone: str | None, county: str | None, category: str | None, status: str | None,
             parcel: str | None, overdue: bool = False) -> list:
    conds = [*_overdue(today())] if overdue else []
    if zone:
        conds.append(Parcel.zone_id == jurisdictions.resolve(s, zone, JurisdictionKind.ZONE, "查询", "zone").id)
    if county:
        c = jurisdictions.resolve(s, county, None, "查询", "county")
        if c.kind not in (JurisdictionKind.COUNTY.value, JurisdictionKind.MANAGEMENT_AREA.value):
            raise ValidationFailed(Problem("查询", "county", f"“{county}”不是县(市、区)或管委会"))
        zone_ids = list(s.scalars(select(Jurisdiction.id).where(Jurisdiction.parent_id == c.id,
                                                               Jurisdiction.kind == JurisdictionKind.ZONE.value)))
        conds.append(Parcel.zone_id.in_(zone_ids) | and_(Parcel.zone_id.is_(None), Parcel.county_id == c.id))
    for value, kind, col, field in ((category, LedgerCategory, DisposalEntry.category, "category"),
                                    (status, EntryStatus, DisposalEntry.status, "status")):
        if value:
            parsed, problems = rules.parse_enum(kind, value, "查询", field)
            if problems:
                raise ValidationFailed(problems)
            conds.append(col == parsed.value)
    if parcel:
        conds.append(Parcel.code == parcel.strip().upper())
    return conds


def _overdue(day: date) -> list:
    """逾期 on ``day``: still open and its 完成时限 before that day."""
    return [DisposalEntry.status == EntryStatus.OPEN.value, DisposalEntry.due_date < day]


def _order(sort: list[tuple[str, bool]] | None) -> list:
    out = []
    for name, desc in sort or [("opened_on", False)]:
        if name not in SORT_FIELDS:
            raise ValidationFailed(Problem("查询", "sort", f"不能按“{name}”排序，可选：{'、'.join(SORT_FIELDS)}"))
        col = getattr(DisposalEntry, name)
        out.append(col.desc() if desc else col.asc())
    return out + [DisposalEntry.id.asc()]


def list_entries(db: Database, *, viewer: Principal | str, zone: str | None = None, county: str | None = None,
                 category: str | None = None, status: str | None = None, parcel: str | None = None,
                 overdue: bool = False, sort: list[tuple[str, bool]] | None = None, limit: int | None = 100,
                 offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of the entries ``viewer`` may read, filtered by zone, county (code, name or alias:
    its zones and its land outside zones), category, status (values or Chinese labels), parcel
    code and ``overdue`` (open past its 完成时限 today); returns (items, total)."""
    viewer = as_principal(viewer)
    _require_read(viewer)
    with db.reader() as s:
        where = [access.parcel_condition(viewer), *_filters(s, zone, county, category, status, parcel, overdue)]
        base = select(DisposalEntry, Parcel.code).join(Parcel, Parcel.id == DisposalEntry.parcel_id).where(*where)
        total = s.scalar(select(func.count()).select_from(base.subquery()))
        q = base.order_by(*_order(sort)).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return [entry_view(e, code) for e, code in s.execute(q)], int(total or 0)


def entry_totals(db: Database, *, viewer: Principal | str, zone: str | None = None, county: str | None = None,
                 category: str | None = None, status: str | None = None, parcel: str | None = None,
                 overdue: bool = False) -> dict[str, Any]:
    """Over every entry the same filters select (not a page): how many, their 亩 (the entries'
    areas as recorded, a parcel on two ledgers counted on each), how many are open and how many
    overdue today."""
    viewer = as_principal(viewer)
    _require_read(viewer)
    with db.reader() as s:
        where = [access.parcel_condition(viewer), *_filters(s, zone, county, category, status, parcel, overdue)]
        late = and_(*_overdue(today()))
        n, area, n_open, n_late = s.execute(
            select(func.count(), func.coalesce(func.sum(DisposalEntry.area_mu), 0.0),
                   func.coalesce(func.sum(case((DisposalEntry.status == EntryStatus.OPEN.value, 1), else_=0)), 0),
                   func.coalesce(func.sum(case((late, 1), else_=0)), 0))
            .select_from(DisposalEntry).join(Parcel, Parcel.id == DisposalEntry.parcel_id).where(*where)).one()
    return {"count": int(n), "area_mu": round(float(area), 4), "open": int(n_open), "overdue": int(n_late),
            "as_of": today().isoformat()}


def get_entry(db: Database, entry_id: int, *, viewer: Principal | str) -> dict[str, Any]:
    """One entry with its progress reports (oldest first)."""
    viewer = as_principal(viewer)
    _require_read(viewer)
    with db.reader() as s:
        e, p = _entry(s, entry_id, viewer)
        reports = s.scalars(select(DisposalReport).where(DisposalReport.entry_id == e.id)
                            .order_by(DisposalReport.reported_on, DisposalReport.id)).all()
        return {**entry_view(e, p.code), "reports": [report_view(r) for r in reports]}


# =========================================================================== writing entries
def _plan_values(record: str, values: dict[str, Any], opened_on: date) -> tuple[dict[str, Any], list[Problem]]:
    """The checked plan fields among ``values`` (cause, measure, plan, due_date, units)."""
    out, problems = {}, []
    labels = {"cause": "形成原因", "plan": "处置方案（一宗一策）"}
    for key, value in values.items():
        if key in labels:
            v, p = rules.check_text(value, record, key, labels[key])
        elif key == "measure":
            v, p = rules.parse_enum(DisposalMeasure, value, record, key)
            v = v.value if v is not None else None
        elif key == "due_date":
            v, p = rules.parse_day(value, record, key)
            p = p or rules.due_problems(record, opened_on, v)
        elif key == "units":
            v, p = rules.check_units(value, record, key)
            v = v if v is not None else []
        else:
            v, p = None, [Problem(record, key, "该字段不能直接修改", "not_editable")]
        out[key] = v
        problems += p
    return out, problems


def _existing_open(s: Session, parcel_id: int, category: str) -> DisposalEntry | None:
    return s.scalar(select(DisposalEntry).where(DisposalEntry.parcel_id == parcel_id, DisposalEntry.category == category,
                                                DisposalEntry.status == EntryStatus.OPEN.value))


def _duplicate(code: str, category: LedgerCategory, existing: DisposalEntry) -> ValidationFailed:
    return ValidationFailed(Problem(
        f"宗地 {code}", "category",
        f"该宗地已有未办结的“{category.label}”处置台账（台账编号 {existing.id}，{existing.opened_on} 立账）；"
        "同一宗地同一类别只能有一个未办结台账，请在原台账上更新或报送进展", "duplicate_open"))


def open_entry(db: Database, parcel_code: str, category: str, *, actor: Principal | str, reason: str,
               opened_on: date | str | None = None, cause: str | None = None, measure: str | None = None,
               plan: str | None = None, due_date: date | str | None = None, units: Any = None) -> dict[str, Any]:
    """Open an entry by hand (a reason is mandatory: why this parcel is on the ledger). Refused
    (422) when the parcel already has an open entry in the category, naming that entry."""
    actor = as_principal(actor)
    _require_write(actor)
    record = f"宗地 {parcel_code}"
    cat, problems = rules.parse_enum(LedgerCategory, category, record, "category", required=True)
    why, p = rules.check_text(reason, record, "reason", "立账理由", required=True)
    problems += p
    day, p = rules.parse_day(opened_on, record, "opened_on")
    problems += p
    day = day or today()
    if day > today():
        problems.append(Problem(record, "opened_on", f"立账日期 {day} 晚于今天，不能预先立账"))
    values, p = _plan_values(record, {"cause": cause, "measure": measure, "plan": plan, "due_date": due_date,
                                      "units": units}, day)
    problems += p
    try:
        with db.transaction(actor=actor.actor, reason=why or "人工建立处置台账") as s:
            parcel = _parcel(s, parcel_code, actor)
            if problems:
                raise ValidationFailed(problems)
            existing = _existing_open(s, parcel.id, cat.value)
            if existing is not None:
                raise _duplicate(parcel.code, cat, existing)
            facts = _facts(s, [parcel])[parcel.id]
            e = DisposalEntry(parcel_id=parcel.id, category=cat.value, status=EntryStatus.OPEN.value, facts=facts,
                              area_mu=facts["area_mu"], opened_on=day, source=EntrySource.MANUAL.value,
                              source_note=why, created_by=actor.actor, version=1, **values)
            s.add(e)
            s.flush()
            return entry_view(e, parcel.code)
    except IntegrityError:  # a concurrent opening won the partial unique index
        with db.reader() as s:
            parcel = _parcel(s, parcel_code, actor)
            existing = _existing_open(s, parcel.id, cat.value)
        if existing is None:
            raise
        raise _duplicate(parcel.code, cat, existing) from None


def _guarded(db: Database, actor: Principal, entry_id: int, expected_version: int, attempted: dict[str, Any],
             apply, reason: str | None) -> dict[str, Any]:
    def load(s: Session) -> DisposalEntry:
        return _entry(s, entry_id, actor)[0]

    def authorize(s: Session, e: DisposalEntry) -> None:
        _require_write(actor)

    return audit.guarded_update(db, actor, what=WHAT, key=str(entry_id), expected_version=expected_version,
                                attempted=attempted, load=load, authorize=authorize, apply=apply, view=_view,
                                reason=reason)


def update_entry(db: Database, entry_id: int, changes: dict[str, Any], expected_version: int, *,
                 actor: Principal | str, reason: str | None = None) -> dict[str, Any]:
    """Change an open entry's 形成原因, 处置措施, plan, 完成时限 or 责任单位 (versioned)."""
    actor = as_principal(actor)
    record = f"处置台账 {entry_id}"
    if not changes:
        raise ValidationFailed(Problem(record, "changes", "没有要修改的字段"))

    def apply(s: Session, e: DisposalEntry) -> None:
        if e.status != EntryStatus.OPEN.value:
            raise ValidationFailed(Problem(record, "status", "台账已办结，不能再修改", "closed"))
        values, problems = _plan_values(record, changes, e.opened_on)
        if problems:
            raise ValidationFailed(problems)
        for k, v in values.items():
            setattr(e, k, v)

    return _guarded(db, actor, entry_id, expected_version, dict(changes), apply, reason)


def close_entry(db: Database, entry_id: int, expected_version: int, *, actor: Principal | str, outcome: str | None,
                closed_on: date | str | None = None, note: str | None = None) -> dict[str, Any]:
    """Close an open entry with its outcome (处置结果, required), the day (default today) and a
    note (versioned)."""
    actor = as_principal(actor)
    record = f"处置台账 {entry_id}"

    def apply(s: Session, e: DisposalEntry) -> None:
        if e.status != EntryStatus.OPEN.value:
            raise ValidationFailed(Problem(record, "status", f"台账已于 {e.closed_on} 办结", "closed"))
        out, day, problems = rules.close_problems(record, outcome, closed_on or today(), e.opened_on, today())
        text, p = rules.check_text(note, record, "closing_note", "办结说明")
        if problems or p:
            raise ValidationFailed(problems + p)
        e.status, e.outcome, e.closed_on, e.closing_note = EntryStatus.CLOSED.value, out.value, day, text

    attempted = {"outcome": outcome, "closed_on": str(closed_on) if closed_on else None, "closing_note": note}
    return _guarded(db, actor, entry_id, expected_version, attempted, apply, note or "处置台账办结")


def add_report(db: Database, entry_id: int, *, actor: Principal | str, text: str, reported_on: date | str | None = None,
               percent: Any = None, stage: str | None = None) -> dict[str, Any]:
    """Append a progress report to an open entry (reports are never changed: a correction is a
    newer report)."""
    actor = as_principal(actor)
    _require_write(actor)
    record = f"处置台账 {entry_id}"
    body, problems = rules.check_text(text, record, "text", "进展情况", required=True)
    day, p = rules.parse_day(reported_on, record, "reported_on")
    problems += p
    pct, p = rules.percent_problems(record, percent)
    problems += p
    st, p = rules.parse_enum(ReportStage, stage, record, "stage")
    problems += p
    day = day or today()
    with db.transaction(actor=actor.actor, reason="处置台账进展报告") as s:
        e, _ = _entry(s, entry_id, actor)
        if e.status != EntryStatus.OPEN.value:
            problems.append(Problem(record, "status", "台账已办结，不再报送进展", "closed"))
        if day < e.opened_on or day > today():
            problems.append(Problem(record, "reported_on", f"报告日期 {day} 应在立账日期 {e.opened_on} 与今天之间"))
        if problems:
            raise ValidationFailed(problems)
        r = DisposalReport(entry_id=e.id, reported_on=day, text=body, percent=pct, stage=st.value if st else None,
                           reported_by=actor.actor)
        s.add(r)
        s.flush()
        return report_view(r)


# =========================================================================== from verdicts
def _run_candidates(s: Session, run_id: int) -> list[tuple[int, str, int, str]]:
    """(parcel_id, category, result id, verdict text) of a run's latest result per parcel: R3
    闲置 and every R4 category."""
    run = s.get(EvaluationRun, run_id) if -2**31 <= run_id < 2**31 else None
    if run is None:
        raise NotFound("评价批次", str(run_id))
    latest = (select(ParcelEvaluation.parcel_id, func.max(ParcelEvaluation.result_version).label("v"))
              .where(ParcelEvaluation.run_id == run_id).group_by(ParcelEvaluation.parcel_id).subquery())
    rows = s.execute(select(ParcelEvaluation.parcel_id, ParcelEvaluation.id, ParcelEvaluation.idle_outcome,
                            ParcelEvaluation.low_efficiency_mask)
                     .join(latest, and_(latest.c.parcel_id == ParcelEvaluation.parcel_id,
                                        latest.c.v == ParcelEvaluation.result_version))
                     .where(ParcelEvaluation.run_id == run_id)).all()
    out = []
    for pid, rid, idle, mask in rows:
        if idle in ev_rules.IDLE_TRUE:
            out.append((pid, LedgerCategory.IDLE.value, rid, f"{run.year} 年度评价（批次 {run_id}）R3 闲置土地认定：{idle}"))
        for c, bit in ev_rules.CATEGORY_BITS.items():
            if mask & bit:
                out.append((pid, c.value, rid, f"{run.year} 年度评价（批次 {run_id}）R4 低效用地：{c.label}"))
    return out


def _state_candidates(s: Session, viewer: Principal) -> list[tuple[int, str, None, str]]:
    """(parcel_id, category, None, note) of the parcels now 批而未供, 闲置 or 低效 (each category;
    a 低效 parcel without one is 其他)."""
    rows = s.execute(select(Parcel.id, Parcel.state, Parcel.inefficiency_categories).where(
        Parcel.state.in_([LandState.APPROVED_UNSUPPLIED.value, LandState.IDLE.value, LandState.INEFFICIENT.value]),
        access.parcel_condition(viewer))).all()
    out = []
    for pid, state, cats in rows:
        if state != LandState.INEFFICIENT.value:
            out.append((pid, state, None, f"宗地现状为{LandState(state).label}"))
            continue
        for c in (cats or [InefficiencyCategory.OTHER.value]):
            out.append((pid, InefficiencyCategory(c).value, None, f"宗地现状为低效（{InefficiencyCategory(c).label}）"))
    return out


def _settled_keys(s: Session, todo: list[tuple]) -> set[tuple]:
    """The candidates ``(parcel_id, category, result id)`` a closed entry has already settled, so
    that running the opening again does not reopen what was disposed of: a run's verdict with an
    entry opened from that very verdict row; a parcel's current state with an entry in that
    category closed on or after the day the parcel last took a lifecycle step (a parcel that
    became idle again after its entry was closed is a new finding)."""
    pids = sorted({c[0] for c in todo})
    rids = sorted({c[2] for c in todo if c[2] is not None})
    settled: set[tuple] = set()
    for a in range(0, len(rids), 5000):
        settled.update(s.execute(select(DisposalEntry.parcel_id, DisposalEntry.category, DisposalEntry.source_result_id)
                                 .where(DisposalEntry.source_result_id.in_(rids[a:a + 5000]))).all())
    closed: dict[tuple, date] = {}
    stepped: dict[int, date] = {}
    for a in range(0, len(pids), 5000):
        chunk = pids[a:a + 5000]
        closed.update({(pid, cat): day for pid, cat, day in s.execute(
            select(DisposalEntry.parcel_id, DisposalEntry.category, func.max(DisposalEntry.closed_on))
            .where(DisposalEntry.parcel_id.in_(chunk), DisposalEntry.status == EntryStatus.CLOSED.value)
            .group_by(DisposalEntry.parcel_id, DisposalEntry.category))})
        stepped.update({pid: audit.as_utc(at).astimezone(audit.LOCAL_TZ).date() for pid, at in s.execute(
            select(ParcelTransition.parcel_id, func.max(ParcelTransition.at))
            .where(ParcelTransition.parcel_id.in_(chunk)).group_by(ParcelTransition.parcel_id))})
    for pid, cat, rid, _note in todo:
        if rid is None and (pid, cat) in closed and (pid not in stepped or stepped[pid] <= closed[(pid, cat)]):
            settled.add((pid, cat, None))
    return settled


def open_from_evaluation(db: Database, *, actor: Principal | str, run_id: int | None = None, states: bool = False,
                         opened_on: date | str | None = None, reason: str | None = None) -> dict[str, Any]:
    """Open entries for every parcel (within the caller's jurisdiction) that an evaluation run
    found 闲置/低效 (``run_id``) and/or that is now 批而未供/闲置/低效 (``states``) and has no
    open entry in that category — nor a closed one that already settled the same finding
    (:func:`_settled_keys`). One transaction, one bulk insert; idempotent. Returns counts:
    ``{"candidates", "created", "already_open", "already_closed", "by_category": {category: created}}``."""
    actor = as_principal(actor)
    _require_write(actor)
    if run_id is None and not states:
        raise ValidationFailed(Problem("从评价结果建立台账", "run_id", "请指定评价批次，或选择按宗地现状建立（states）"))
    day, problems = rules.parse_day(opened_on, "从评价结果建立台账", "opened_on")
    if problems:
        raise ValidationFailed(problems)
    day = day or today()
    if day > today():
        raise ValidationFailed(Problem("从评价结果建立台账", "opened_on", f"立账日期 {day} 晚于今天，不能预先立账"))
    why = reason or (f"按评价批次 {run_id} 的认定结果建立处置台账" if run_id is not None else "按宗地现状建立处置台账")
    # Idempotent: when a simultaneous opening takes one of the same (parcel, category) keys
    # first, the database's unique index rolls this one back and a second pass skips that key.
    for attempt in (1, 2):
        try:
            return _open_bulk(db, actor, run_id, states, day, why)
        except IntegrityError:
            if attempt == 2:
                raise ConcurrentWrite("从评价结果建立台账", "部分宗地的同类台账") from None
    raise AssertionError("unreachable")


def _open_bulk(db: Database, actor: Principal, run_id: int | None, states: bool, day: date,
               why: str) -> dict[str, Any]:
    """One pass of :func:`open_from_evaluation`, in one transaction."""
    with db.transaction(actor=actor.actor, reason=why) as s:
        cands: list[tuple] = []
        if run_id is not None:
            cands += _run_candidates(s, run_id)
        if states:
            cands += _state_candidates(s, actor)
        pids = sorted({c[0] for c in cands})
        parcels = {p.id: p for a in range(0, len(pids), 5000)
                   for p in s.scalars(select(Parcel).where(Parcel.id.in_(pids[a:a + 5000]), access.parcel_condition(actor)))}
        open_keys = set(s.execute(select(DisposalEntry.parcel_id, DisposalEntry.category)
                                  .where(DisposalEntry.status == EntryStatus.OPEN.value)).all())
        todo, seen = [], set()
        for pid, cat, rid, note in cands:  # a run's verdict before the state's note for the same key
            if pid in parcels and (pid, cat) not in seen:
                seen.add((pid, cat))
                todo.append((pid, cat, rid, note))
        settled = _settled_keys(s, todo)
        new = [c for c in todo if (c[0], c[1]) not in open_keys and (c[0], c[1], c[2]) not in settled]
        facts = _facts(s, [parcels[pid] for pid in sorted({c[0] for c in new})])
        ids = BulkIdAllocator(s.connection()).take(DisposalEntry.__table__, len(new)).tolist()
        now = utcnow()
        # one Core insert with the change log's "create" rows (as the ORM hook would write them)
        insert_with_history(s, DisposalEntry, [dict(
            id=i, parcel_id=pid, category=cat, status=EntryStatus.OPEN.value, facts=facts[pid],
            area_mu=facts[pid]["area_mu"], cause=None, measure=None, plan=None, due_date=None, units=[], opened_on=day,
            source=(EntrySource.EVALUATION if rid is not None else EntrySource.STATE).value,
            source_run_id=run_id if rid is not None else None, source_result_id=rid, source_note=note, outcome=None,
            closed_on=None, closing_note=None, created_by=actor.actor, created_at=now, updated_at=now, version=1)
            for i, (pid, cat, rid, note) in zip(ids, new)])
        by_cat = {c.value: 0 for c in LedgerCategory}
        for c in new:
            by_cat[c[1]] += 1
        already_open = sum((c[0], c[1]) in open_keys for c in todo)
        return {"candidates": len(todo), "created": len(new), "already_open": already_open,
                "already_closed": len(todo) - len(new) - already_open,
                "by_category": {k: v for k, v in by_cat.items() if v}, "opened_on": day.isoformat(),
                "run_id": run_id, "states": states}


# =========================================================================== Excel (filing layout)
EXCEL_COLUMNS = [("序号", 6, None), ("宗地代码", 22, None), ("坐落", 20, None), ("产业集聚区", 18, None),
                 ("县(市、区)", 12, None), ("土地使用权人", 22, None), ("面积（亩）", 11, "0.00"),
                 ("台账类别", 16, None), ("形成原因", 24, None), ("处置措施", 14, None),
                 ("处置方案（一宗一策）", 30, None), ("完成时限", 12, None), ("牵头单位", 18, None),
                 ("其他责任单位", 24, None), ("立账日期", 12, None), ("来源", 10, None), ("状态", 8, None),
                 ("最新进展", 30, None), ("处置结果", 12, None), ("办结日期", 12, None)]


def _excel_row(n: int, e: dict[str, Any], latest: dict[str, Any] | None) -> list[Any]:
    f = e["facts"]
    progress_text = None
    if latest is not None:
        pct = f"（{latest['percent']}%）" if latest["percent"] is not None else ""
        progress_text = f"{latest['reported_on']} {latest['text']}{pct}"
    return [n, e["parcel"], f.get("location") or "", (f.get("zone") or {}).get("name", "（不在产业集聚区）"),
            (f.get("county") or {}).get("name", ""), "、".join(f.get("land_users") or []), round(e["area_mu"], 2),
            e["category_label"], e["cause"] or "", e["measure_label"] or "待研判", e["plan"] or "",
            e["due_date"] or "", e["lead_unit"] or "", "、".join(e["units"][1:]), e["opened_on"], e["source_label"],
            e["status_label"], progress_text or "", e["outcome_label"] or "", e["closed_on"] or ""]


def export_xlsx(db: Database, *, viewer: Principal | str, zone: str | None = None, county: str | None = None,
                category: str | None = None, status: str | None = None, overdue: bool = False) -> tuple[bytes, str]:
    """The ledger of a zone or county (or everything the viewer reads) as an .xlsx in the filing
    layout (``services.report_excel``): title, scope and date, Chinese headers, 亩 to 2 decimals,
    the latest progress report per entry, a total. Returns (bytes, suggested file name)."""
    from .report_excel import Column, filing_sheet, new_workbook, to_bytes

    viewer = as_principal(viewer)
    items, total = list_entries(db, viewer=viewer, zone=zone, county=county, category=category, status=status,
                                overdue=overdue, sort=[("opened_on", False)], limit=None)
    ids = [e["id"] for e in items]
    latest: dict[int, dict[str, Any]] = {}
    with db.reader() as s:
        for a in range(0, len(ids), 5000):
            for r in s.scalars(select(DisposalReport).where(DisposalReport.entry_id.in_(ids[a:a + 5000]))
                               .order_by(DisposalReport.reported_on, DisposalReport.id)):
                latest[r.entry_id] = report_view(r)
        scope = "、".join(jurisdictions.resolve(s, x, record="查询", field=f).name
                         for x, f in ((zone, "zone"), (county, "county")) if x) or (
            "全市" if viewer.everywhere else (viewer.jurisdiction_name or "本辖区"))
    parcels = {e["parcel"]: e["area_mu"] for e in items}  # a parcel on several ledgers counts once
    wb = new_workbook()
    filing_sheet(wb.create_sheet("处置台账"), title=f"{scope}批而未供、闲置和低效用地处置台账",
                 subtitle=f"制表日期：{today().isoformat()}　共 {total} 条（{len(parcels)} 宗），"
                          f"面积合计 {sum(parcels.values()):.2f} 亩（按宗地去重）",
                 columns=[Column(h, w, fmt) for h, w, fmt in EXCEL_COLUMNS],
                 rows=[_excel_row(n, e, latest.get(e["id"])) for n, e in enumerate(items, 1)],
                 note="台账要素：地块基本信息、形成原因、处置措施（自主开发、政府收储、国有投资公司参与、府院联动司法处置）、"
                      "完成时限、责任单位（第一个为牵头单位）；处置措施为“待研判”的尚未制定一宗一策方案。")
    return to_bytes(wb), f"处置台账_{scope}_{today().isoformat()}.xlsx"
