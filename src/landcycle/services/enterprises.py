"""Enterprises, their use of parcels (用地关系) and the yearly figures departments supply.

Every use case takes the caller as a :class:`Principal` (a plain actor name acts with system
rights: the CLI, jobs, tests) and checks its scope itself:

* an enterprise, its credit code and its figures are confidential: a caller reads an
  enterprise only when ``access.enterprise_condition`` allows it (officials and departments:
  enterprises using land in their jurisdiction; an enterprise account: itself; the public:
  nothing — 401);
* occupancy is part of a parcel's record: whoever sees the parcel sees who uses it, but the
  credit codes only where the parcel card shows them;
* officials change enterprises and occupancy within their jurisdiction; city-level accounts
  and departments submit figures, a department only for enterprises in its jurisdiction and
  always under its own name.

Outside the caller's scope a record is "not found"; a role that may never do an action is
refused (403, or 401 for the anonymous public).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..domain.access import Action, Principal, Role, as_principal
from ..domain.errors import Conflict, Forbidden, NotFound, Problem, ValidationFailed
from ..domain.identifiers import normalise_credit_code
from ..domain.records import EnterpriseDraft, OccupancyDraft, enterprise_problems, occupancy_problems
from ..domain.units import m2_to_mu
from ..domain.vocabulary import FIGURE_UNITS, FigureIndicator, JurisdictionKind, OccupancyRole
from ..storage.db import Database
from ..storage.schema import Enterprise, EnterpriseFigure, Jurisdiction, Occupancy, Parcel, utcnow
from . import access, audit, jurisdictions, registry

#: Figures that can legitimately be negative (a loss); all others must be ≥ 0.
SIGNED_FIGURES = {FigureIndicator.PROFIT}
#: Plausible range of figure years.
FIRST_FIGURE_YEAR = 2000
#: Fields lists can be sorted by.
ENTERPRISE_SORT_FIELDS = ("name", "credit_code", "industry_code", "id")
OCCUPANCY_SORT_FIELDS = ("start_date", "end_date", "area_m2", "role", "id")
FIGURE_SORT_FIELDS = ("year", "indicator", "submitted_at", "id")
#: Enterprise fields an update may set.
EDITABLE_ENTERPRISE_FIELDS = {"name", "industry_code", "above_scale", "county"}
#: Occupancy fields an update may set (the parcel and the enterprise are its identity).
EDITABLE_OCCUPANCY_FIELDS = {"role", "area_m2", "start_date", "end_date"}


def _order(model, sort: list[tuple[str, bool]] | None, allowed: tuple[str, ...], default: str) -> list:
    out = []
    for name, desc in sort or [(default, False)]:
        if name not in allowed:
            raise ValidationFailed(Problem("查询", "sort", f"不能按“{name}”排序，可选：{'、'.join(allowed)}"))
        col = getattr(model, name)
        out.append(col.desc() if desc else col.asc())
    return out + [model.id.asc()]


def _text_filter(field: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if "\x00" in value:
        raise ValidationFailed(Problem("查询", field, "不能含有空字符"))
    return value.strip()


def _not_editable(record: str, changes: dict[str, Any], editable: set[str]) -> None:
    unknown = set(changes) - editable
    if unknown:
        raise ValidationFailed([Problem(record, f, "该字段不能直接修改", "not_editable") for f in sorted(unknown)])


# --------------------------------------------------------------------------- enterprises
def enterprise_view(s: Session, e: Enterprise) -> dict[str, Any]:
    """An enterprise as its readers see it (only callers allowed its confidential data read it)."""
    county = s.get(Jurisdiction, e.county_id) if e.county_id else None
    return {"id": e.id, "credit_code": e.credit_code, "name": e.name, "industry_code": e.industry_code,
            "above_scale": e.above_scale, "county_code": county.code if county else None,
            "county_name": county.name if county else None, "is_synthetic": e.is_synthetic,
            "version": e.version}


def _enterprise(s: Session, key: int | str) -> Enterprise:
    """The enterprise by id (API) or 统一社会信用代码 (CLI, imports); NotFound otherwise."""
    if isinstance(key, int):
        e = s.get(Enterprise, key) if -2**31 <= key < 2**31 else None
    else:
        text = (key or "").strip().upper()
        e = s.scalar(select(Enterprise).where(Enterprise.credit_code == text)) \
            if len(text) <= 18 and "\x00" not in text else None
    if e is None:
        raise NotFound("企业", str(key)[:40])
    return e


def _readable_enterprise(s: Session, key: int | str, viewer: Principal) -> Enterprise:
    """The enterprise if ``viewer`` may read its confidential data; NotFound otherwise (and
    401 for the public, which has no enterprise directory)."""
    access.require(viewer, Action.READ_CONFIDENTIAL)
    e = _enterprise(s, key)
    if s.scalar(select(Enterprise.id).where(Enterprise.id == e.id,
                                            access.enterprise_condition(viewer, Enterprise.id))) is None:
        raise NotFound("企业", str(key)[:40])
    return e


def _editable_enterprise(s: Session, key: int | str, editor: Principal) -> Enterprise:
    e = _readable_enterprise(s, key, editor)
    access.require(editor, Action.EDIT_ENTERPRISES)
    return e


def list_enterprises(db: Database, *, viewer: Principal, name: str | None = None, credit_code: str | None = None,
                     industry: str | None = None, sort: list[tuple[str, bool]] | None = None,
                     limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of the enterprises ``viewer`` may read, and how many match.

    Filters: ``name`` (part of the name), ``credit_code`` (start of the code), ``industry``
    (start of the GB/T 4754 code, e.g. ``C34``). Sort over :data:`ENTERPRISE_SORT_FIELDS`.
    """
    access.require(viewer, Action.READ_CONFIDENTIAL)
    conds = [access.enterprise_condition(viewer, Enterprise.id)]
    if (v := _text_filter("name", name)) is not None:
        conds.append(Enterprise.name.contains(v, autoescape=True))
    if (v := _text_filter("credit_code", credit_code)) is not None:
        conds.append(Enterprise.credit_code.startswith(v.upper(), autoescape=True))
    if (v := _text_filter("industry", industry)) is not None:
        conds.append(Enterprise.industry_code.startswith(v.upper(), autoescape=True))
    order = _order(Enterprise, sort, ENTERPRISE_SORT_FIELDS, "name")
    with db.reader() as s:
        where = and_(*conds)
        total = s.scalar(select(func.count()).select_from(Enterprise).where(where))
        rows = s.scalars(select(Enterprise).where(where).order_by(*order).limit(limit).offset(offset)).all()
        return [enterprise_view(s, e) for e in rows], total


def get_enterprise(db: Database, enterprise: int | str, *, viewer: Principal) -> dict[str, Any]:
    """One enterprise with the parcels it uses — only those the viewer may see."""
    with db.reader() as s:
        e = _readable_enterprise(s, enterprise, viewer)
        out = enterprise_view(s, e)
        occ = aliased(Occupancy)  # parcel_condition has its own subquery on occupancies
        rows = s.execute(select(occ, Parcel).join(Parcel, Parcel.id == occ.parcel_id).where(
            occ.enterprise_id == e.id, access.parcel_condition(viewer))
            .order_by(occ.start_date, occ.id)).all()
        out["occupancies"] = [occupancy_view(o, p, e, confidential=True) for o, p in rows]
        return out


def _check_county_scope(s: Session, editor: Principal, county: Jurisdiction) -> None:
    """An official registers enterprises only in a county of their jurisdiction (a zone manager:
    the county their zone lies in)."""
    if editor.everywhere or county.id in editor.county_ids:
        return
    zone_counties = set(s.scalars(select(Jurisdiction.territory_county_id).where(
        Jurisdiction.id.in_(sorted(editor.zone_ids))))) if editor.zone_ids else set()
    if county.id not in zone_counties:
        raise Forbidden(f"只能登记本辖区内的企业（{county.name}不在您的辖区内）")


def create_enterprise(db: Database, d: EnterpriseDraft, actor: Principal | str,
                      reason: str | None = None) -> dict[str, Any]:
    """Register an enterprise; returns it as :func:`enterprise_view` shows it.

    Officials may register; a county admin or zone manager only with a county of their own
    jurisdiction (Forbidden otherwise). The enterprise enters their view through its use of
    land (:func:`add_occupancy`).
    """
    editor = as_principal(actor)
    access.require(editor, Action.EDIT_ENTERPRISES)
    problems = enterprise_problems(d)
    with db.transaction(actor=editor.actor, reason=reason) as s:
        record = f"企业 {d.name or d.credit_code}"
        county = None
        if d.county:
            try:
                county = jurisdictions.resolve(s, d.county, JurisdictionKind.COUNTY, record, "county_id")
            except ValidationFailed as exc:
                problems += exc.problems
        if county is not None:
            _check_county_scope(s, editor, county)
        elif not editor.everywhere:
            problems.append(Problem(record, "county_id", "必须填写企业所属县(市、区)", "required"))
        if problems:
            raise ValidationFailed(problems)
        code = normalise_credit_code(d.credit_code)
        if s.scalar(select(Enterprise.id).where(Enterprise.credit_code == code)):
            raise ValidationFailed(Problem(record, "credit_code", f"统一社会信用代码 {code} 已登记", "duplicate"))
        e = Enterprise(credit_code=code, name=d.name.strip(), industry_code=d.industry_code,
                       above_scale=d.above_scale, county_id=county.id if county else None)
        s.add(e)
        s.flush()
        return enterprise_view(s, e)


def register_enterprise(db: Database, d: EnterpriseDraft, actor: Principal | str, reason: str | None = None) -> str:
    """Register an enterprise (:func:`create_enterprise`); returns its normalised 统一社会信用代码."""
    return create_enterprise(db, d, actor, reason)["credit_code"]


def update_enterprise(db: Database, enterprise: int | str, changes: dict[str, Any], expected_version: int,
                      actor: Principal | str, reason: str | None = None) -> dict[str, Any]:
    """Change an enterprise's name, industry, 规上 flag or county if nobody changed it since
    ``expected_version`` (stale: :class:`Conflict` with the current record, logged)."""
    editor = as_principal(actor)
    _not_editable(f"企业 {enterprise}", changes, EDITABLE_ENTERPRISE_FIELDS)

    def apply(s: Session, e: Enterprise) -> None:
        county = s.get(Jurisdiction, e.county_id) if e.county_id else None
        draft = EnterpriseDraft(e.credit_code, e.name, e.industry_code, e.above_scale, county.code if county else None)
        draft = replace(draft, **changes)
        record = f"企业 {draft.name or e.credit_code}"
        problems = enterprise_problems(draft)
        new_county = county
        if "county" in changes:
            if not draft.county:
                if not editor.everywhere:
                    problems.append(Problem(record, "county_id", "必须填写企业所属县(市、区)", "required"))
                new_county = None
            else:
                try:
                    new_county = jurisdictions.resolve(s, draft.county, JurisdictionKind.COUNTY, record, "county_id")
                except ValidationFailed as exc:
                    problems += exc.problems
        if problems:
            raise ValidationFailed(problems)
        if new_county is not None and "county" in changes:
            _check_county_scope(s, editor, new_county)
        e.name, e.industry_code, e.above_scale = draft.name.strip(), draft.industry_code, draft.above_scale
        e.county_id = new_county.id if new_county else None

    return audit.guarded_update(
        db, editor, what="企业", key=str(enterprise), expected_version=expected_version, attempted=changes,
        reason=reason, load=lambda s: _enterprise(s, enterprise),
        authorize=lambda s, e: _editable_enterprise(s, e.id, editor), apply=apply, view=enterprise_view)


# --------------------------------------------------------------------------- occupancy
def occupancy_view(o: Occupancy, parcel: Parcel, e: Enterprise, confidential: bool) -> dict[str, Any]:
    """One occupancy; the enterprise's id and credit code only when ``confidential``."""
    out = {"id": o.id, "parcel_code": parcel.code, "enterprise_name": e.name,
           "industry_code": e.industry_code, "above_scale": e.above_scale,
           "role": o.role, "role_label": OccupancyRole(o.role).label,
           "area_m2": o.area_m2, "area_mu": round(float(m2_to_mu(o.area_m2)), 4),
           "start_date": o.start_date.isoformat(), "end_date": o.end_date.isoformat() if o.end_date else None,
           "version": o.version}
    if confidential:
        out["enterprise_id"], out["credit_code"] = e.id, e.credit_code
    return out


def _occupancy_views(s: Session, rows, viewer: Principal) -> list[dict[str, Any]]:
    return [occupancy_view(o, p, e, viewer.sees_confidential_of(p.county_id, p.zone_id, e.id)) for o, p, e in rows]


def list_occupancies(db: Database, parcel_code: str, *, viewer: Principal, sort: list[tuple[str, bool]] | None = None,
                     limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Who uses the parcel (权利人 and 承租人), as whoever may see the parcel sees it: names for
    all, credit codes only for those allowed the enterprise's confidential data."""
    order = _order(Occupancy, sort, OCCUPANCY_SORT_FIELDS, "start_date")
    with db.reader() as s:
        p = registry.visible_parcel(s, parcel_code, viewer)
        total = s.scalar(select(func.count()).select_from(Occupancy).where(Occupancy.parcel_id == p.id))
        rows = s.execute(select(Occupancy, Parcel, Enterprise).join(Parcel, Parcel.id == Occupancy.parcel_id)
                         .join(Enterprise, Enterprise.id == Occupancy.enterprise_id)
                         .where(Occupancy.parcel_id == p.id).order_by(*order).limit(limit).offset(offset)).all()
        return _occupancy_views(s, rows, viewer), total


def _occupancy(s: Session, occupancy_id: int) -> Occupancy:
    o = s.get(Occupancy, occupancy_id) if -2**31 <= occupancy_id < 2**31 else None
    if o is None:
        raise NotFound("用地关系", str(occupancy_id))
    return o


def _occupancy_row_view(s: Session, o: Occupancy, viewer: Principal) -> dict[str, Any]:
    return _occupancy_views(s, [(o, o.parcel, o.enterprise)], viewer)[0]


def get_occupancy(db: Database, occupancy_id: int, *, viewer: Principal) -> dict[str, Any]:
    """One occupancy, if the viewer may see its parcel."""
    with db.reader() as s:
        o = _occupancy(s, occupancy_id)
        try:
            registry.visible_parcel(s, o.parcel.code, viewer)
        except NotFound:
            raise NotFound("用地关系", str(occupancy_id)) from None
        return _occupancy_row_view(s, o, viewer)


def _occupancy_db_problems(s: Session, parcel: Parcel, d: OccupancyDraft, record: str,
                           exclude_id: int | None = None) -> list[Problem]:
    """Area checks that need the store: within the parcel, and the tenants' areas over an
    overlapping period not above the parcel's (``exclude_id``: the occupancy being changed)."""
    problems = []
    if d.area_m2 > parcel.area_m2 * 1.0001:
        problems.append(Problem(record, "area_m2",
                                f"用地面积 {d.area_m2:.2f} 平方米超过宗地面积 {parcel.area_m2:.2f} 平方米"))
    if OccupancyRole.parse(d.role) is OccupancyRole.TENANT:
        end = d.end_date or date.max
        conds = [Occupancy.parcel_id == parcel.id, Occupancy.role == OccupancyRole.TENANT.value,
                 Occupancy.start_date <= end, or_(Occupancy.end_date.is_(None), Occupancy.end_date >= d.start_date)]
        if exclude_id is not None:
            conds.append(Occupancy.id != exclude_id)
        leased = s.scalar(select(func.coalesce(func.sum(Occupancy.area_m2), 0.0)).where(*conds))
        if leased + d.area_m2 > parcel.area_m2 * 1.0001:
            problems.append(Problem(record, "area_m2", f"同期承租面积合计 {leased + d.area_m2:.2f} 平方米超过宗地面积"))
    return problems


def add_occupancy(db: Database, d: OccupancyDraft, actor: Principal | str, reason: str | None = None) -> int:
    """Record that an enterprise uses (part of) a parcel as 权利人 or 承租人; returns its id.

    The caller must be allowed to edit enterprise records of the parcel's jurisdiction.
    Refused when the parcel or enterprise is unknown, the area exceeds the parcel, or the
    tenants' areas over an overlapping period would together exceed the parcel.
    """
    editor = as_principal(actor)
    problems = occupancy_problems(d)
    record = f"宗地 {d.parcel_code} 的用地关系（{d.credit_code}）"
    with db.transaction(actor=editor.actor, reason=reason) as s:
        try:
            parcel = registry.editable_parcel(s, d.parcel_code, editor, Action.EDIT_ENTERPRISES)
        except NotFound:  # a record naming a parcel that is not there (or not the caller's to see)
            parcel = None
            problems.append(Problem(record, "parcel_id", f"宗地 {d.parcel_code} 不存在", "unknown_parcel"))
        try:
            enterprise = _enterprise(s, d.credit_code)
        except NotFound:
            enterprise = None
            problems.append(Problem(record, "enterprise_id", f"企业 {d.credit_code} 未登记", "unknown_enterprise"))
        if not problems:
            problems += _occupancy_db_problems(s, parcel, d, record)
        if problems:
            raise ValidationFailed(problems)
        occ = Occupancy(parcel_id=parcel.id, enterprise_id=enterprise.id,
                        role=OccupancyRole.parse(d.role).value, area_m2=d.area_m2,
                        start_date=d.start_date, end_date=d.end_date)
        s.add(occ)
        s.flush()
        return occ.id


def update_occupancy(db: Database, occupancy_id: int, changes: dict[str, Any], expected_version: int,
                     actor: Principal | str, reason: str | None = None) -> dict[str, Any]:
    """Change an occupancy's role, area or period — ending it is setting ``end_date`` — if
    nobody changed it since ``expected_version``."""
    editor = as_principal(actor)
    _not_editable(f"用地关系 {occupancy_id}", changes, EDITABLE_OCCUPANCY_FIELDS)

    def apply(s: Session, o: Occupancy) -> None:
        draft = replace(OccupancyDraft(o.parcel.code, o.enterprise.credit_code, o.role, o.area_m2, o.start_date,
                                       o.end_date), **changes)
        record = f"宗地 {o.parcel.code} 的用地关系（{o.enterprise.name}）"
        problems = occupancy_problems(draft)
        if not problems:
            problems = _occupancy_db_problems(s, o.parcel, draft, record, exclude_id=o.id)
        if problems:
            raise ValidationFailed(problems)
        o.role, o.area_m2 = OccupancyRole.parse(draft.role).value, draft.area_m2
        o.start_date, o.end_date = draft.start_date, draft.end_date

    def authorize(s: Session, o: Occupancy) -> None:
        registry.authorize_parcel_edit(s, editor, o.parcel, Action.EDIT_ENTERPRISES)

    return audit.guarded_update(
        db, editor, what="用地关系", key=str(occupancy_id), expected_version=expected_version, attempted=changes,
        reason=reason, load=lambda s: _occupancy(s, occupancy_id), authorize=authorize, apply=apply,
        view=lambda s, o: _occupancy_row_view(s, o, editor))


# --------------------------------------------------------------------------- figures
def figure_view(f: EnterpriseFigure) -> dict[str, Any]:
    sub = audit.as_utc(f.submitted_at)
    return {"id": f.id, "year": f.year, "indicator": f.indicator, "indicator_label": FigureIndicator(f.indicator).label,
            "value": f.value, "unit": f.unit, "department": f.department,
            "submitted_at": sub.isoformat() if sub else None, "version": f.version}


def list_figures(db: Database, enterprise: int | str, *, viewer: Principal, year: int | None = None,
                 sort: list[tuple[str, bool]] | None = None, limit: int = 100,
                 offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of an enterprise's yearly figures, if the viewer may read its confidential data."""
    order = _order(EnterpriseFigure, sort, FIGURE_SORT_FIELDS, "year")
    with db.reader() as s:
        e = _readable_enterprise(s, enterprise, viewer)
        conds = [EnterpriseFigure.enterprise_id == e.id]
        if year is not None:
            conds.append(EnterpriseFigure.year == year)
        total = s.scalar(select(func.count()).select_from(EnterpriseFigure).where(*conds))
        rows = s.scalars(select(EnterpriseFigure).where(*conds).order_by(*order).limit(limit).offset(offset)).all()
        return [figure_view(f) for f in rows], total


def _department(editor: Principal, department: str | None, record: str) -> tuple[str, list[Problem]]:
    """The department a submission is recorded under: a department account always submits
    under its own name; others must name the department whose data they enter."""
    given = (department or "").strip()
    if editor.role is Role.DEPARTMENT:
        if given and given != editor.department:
            return given, [Problem(record, "department", f"报送部门由账号确定（{editor.department}），不能填写为“{given}”")]
        return editor.department or "", []
    if not given:
        return given, [Problem(record, "department", "必须注明报送部门")]
    if len(given) > 50:
        return given, [Problem(record, "department", "报送部门名称最长50个字符")]
    return given, []


def submit_figures(db: Database, enterprise: int | str, year: int, values: dict[str, float],
                   department: str | None, actor: Principal | str, reason: str | None = None,
                   expected_versions: dict[str, int] | None = None) -> int:
    """A department submits an enterprise's figures for a year (one row per indicator).

    ``enterprise``: id or 统一社会信用代码. The caller needs ``Action.SUBMIT_FIGURES`` and the
    enterprise must be in its jurisdiction (``access.enterprise_condition``; NotFound
    otherwise); a department account's figures are recorded under its own department.

    A resubmitted figure replaces the earlier value as an audited update (the old value stays
    in the change log). With ``expected_versions`` (indicator → version; the API always
    passes it) replacing a figure needs the version it was based on — missing:
    :class:`audit.VersionRequired`; stale: :class:`Conflict` with the current figure, the
    attempt logged, nothing written. Without it (trusted batch loads) figures are replaced.
    Returns the number of figures written.
    """
    editor = as_principal(actor)
    access.require(editor, Action.SUBMIT_FIGURES)
    record = f"企业 {enterprise} {year}年数据"
    problems = []
    if not FIRST_FIGURE_YEAR <= year <= date.today().year:
        problems.append(Problem(record, "year", f"年度 {year} 不在 {FIRST_FIGURE_YEAR}–{date.today().year} 之间"))
    department, found = _department(editor, department, record)
    problems += found
    parsed = {}
    for key, value in values.items():
        try:
            ind = FigureIndicator.parse(key)
        except ValueError as exc:
            problems.append(Problem(record, "indicator", str(exc)))
            continue
        if value is None or value != value or value in (float("inf"), float("-inf")):
            problems.append(Problem(record, ind.value, f"{ind.label}：缺少数值"))
        elif value < 0 and ind not in SIGNED_FIGURES:
            problems.append(Problem(record, ind.value, f"{ind.label}：不能为负数（{value}）"))
        else:
            parsed[ind] = float(value)
    versions = None
    if expected_versions is not None:
        versions = {}
        for key, version in expected_versions.items():
            try:
                versions[FigureIndicator.parse(key).value] = version
            except ValueError as exc:
                problems.append(Problem(record, "versions", str(exc)))
    stale: list[tuple[int, int, dict[str, Any]]] = []
    with db.transaction(actor=editor.actor, reason=reason) as s:
        try:
            e = _readable_enterprise(s, enterprise, editor)
        except NotFound:
            if isinstance(enterprise, int):
                raise
            e = None
            problems.append(Problem(record, "enterprise_id", f"企业 {enterprise} 未登记", "unknown_enterprise"))
        if problems:
            raise ValidationFailed(problems)
        existing = {f.indicator: f for f in s.scalars(select(EnterpriseFigure).where(
            EnterpriseFigure.enterprise_id == e.id, EnterpriseFigure.year == year))}
        if versions is not None:
            missing = [ind for ind in parsed if ind.value in existing and ind.value not in versions]
            if missing:
                raise audit.VersionRequired(
                    f"{year}年已有 {'、'.join(i.label for i in missing)} 的数据：修改需在 versions 中提供其当前版本号"
                    f"（{'、'.join(f'{i.value}={existing[i.value].version}' for i in missing)}）")
            stale = [(existing[ind.value].id, versions[ind.value], figure_view(existing[ind.value]))
                     for ind in parsed if ind.value in existing and existing[ind.value].version != versions[ind.value]]
        if not stale:
            for ind, value in parsed.items():
                row = existing.get(ind.value)
                if row is None:
                    s.add(EnterpriseFigure(enterprise_id=e.id, year=year, indicator=ind.value,
                                           value=value, unit=FIGURE_UNITS[ind], department=department))
                elif row.value != value or row.department != department:
                    row.value, row.department, row.submitted_at = value, department, utcnow()
            return len(parsed)
    # Refused: nothing was written; every stale figure's attempt goes to the log.
    for fid, expected, current in stale:
        attempted = {"value": parsed[FigureIndicator(current["indicator"])], "department": department}
        audit.log_refused(db, editor, reason, lambda s, fid=fid: _figure(s, fid), attempted, expected, current)
    fid, expected, current = stale[0]
    raise Conflict("企业年度数据", f"{e.credit_code} {year}年 {current['indicator_label']}", expected, current)


def _figure(s: Session, figure_id: int) -> EnterpriseFigure:
    f = s.get(EnterpriseFigure, figure_id)
    if f is None:
        raise NotFound("企业年度数据", str(figure_id))
    return f
