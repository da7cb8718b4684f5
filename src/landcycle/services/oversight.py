"""挂牌督办 and 低效用地再开发监管协议 (issue 8 item 2; rules: ``domain.oversight``; docs/oversight.md).

**挂牌督办 cases** — a parcel put under the city's or a county's listed supervision (000:793–797):
opened with who listed it, the level, the day, the reason, the 督办要求 and deadline and the 责任单位
(first = 牵头单位); progress notes are appended; the case is lifted (销号) only with a result and a
day. One open case per parcel. :func:`zone_counts` shows each zone's cases against the rulebook's
``[oversight]`` minimum (≥2 批而未供/闲置 listings per zone by 2021-12-31).

**再开发监管协议** (000:1114) — the targets an enterprise redeveloping 低效 land agreed to, the rewards
it was granted and the exit terms; :func:`assess_agreement` checks the targets at the check date
(投资强度 from the development record, 亩均税收 from the registry's yearly figures through the annual
evaluation's formula — the stored run of that year, else computed the same way on the spot) and,
when missed, appends a claw-back line for every reward.

Who may do what (decisions, docs/oversight.md):

* read cases and zone counts: the officials and departments whose jurisdiction covers the parcel
  (both levels). Enterprises: not (挂牌督办 is the government's internal supervision of its own
  责任单位; the enterprise is not a party) — 404 for a case, 403 for the lists. Public: 401.
* open: the city admin (either level, anywhere); a county admin (county level, own county).
* lift (销号): a city-level case — the city admin; a county-level case — the city admin or the
  county admin of the parcel's county.
* progress notes: the city admin, the county admin and the zone manager covering the parcel.
* agreements: created, assessed and claw-backs marked recovered by the officials covering the
  parcel (the zone's 管理机构 is the 责任主体 of redevelopment, 第六条); a claw-back waived only by
  the city or county admin (public money). Read also by departments covering the parcel and by
  the enterprise that signed the agreement (its own targets and figures).
"""

from __future__ import annotations

import io
import math
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import oversight as ov
from ..domain.access import Action, Principal, Role, as_principal
from ..domain.errors import Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.rules import evaluation as ev
from ..domain.vocabulary import AcceptanceResult, JurisdictionKind, LandState
from ..storage.db import Database
from ..storage.evaluation_schema import EvaluationRun, ParcelEvaluation
from ..storage.oversight_schema import (OversightCase, OversightProgress, RedevelopmentAgreement,
                                        RedevelopmentAssessment, RedevelopmentClawback, RedevelopmentReward)
from ..storage.schema import Enterprise, Jurisdiction, Occupancy, Parcel, ParcelDevelopment
from . import access, audit, evaluation, jurisdictions, registry, report_excel
from .rules import load_rulebook
from .supervision import _date_problems, _money, _text

today = audit.local_today
_OFFICIALS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER})


def settings() -> dict[str, Any]:
    """The rulebook's ``[oversight]`` section, ``due`` as a date."""
    out = dict(load_rulebook().section("oversight"))
    out["due"] = date.fromisoformat(str(out["due"]))
    return out


# =========================================================================== helpers
def _future_day(record: str, field: str, value: Any, required: bool = True) -> tuple[date | None, list[Problem]]:
    """A date that may lie ahead (deadline, check date)."""
    if value is None:
        return None, ([Problem(record, field, "缺少日期，应为 YYYY-MM-DD", "missing")] if required else [])
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return None, [Problem(record, field, "日期格式错误，应为 YYYY-MM-DD")]
    if not isinstance(value, date):
        return None, [Problem(record, field, "应为日期 YYYY-MM-DD")]
    return value, []


def _signed_in(viewer: Principal | str) -> Principal:
    viewer = as_principal(viewer)
    if viewer.is_public:
        raise Unauthorized()
    return viewer


def _names(s: Session) -> dict[int, str]:
    return dict(s.execute(select(Jurisdiction.id, Jurisdiction.name)).all())


def _sees_case(viewer: Principal, case: OversightCase) -> bool:
    """Officials and departments whose jurisdiction covers the parcel (enterprises never)."""
    return viewer.role is not Role.ENTERPRISE and viewer.covers(case.county_id, case.zone_id)


def _may_open(viewer: Principal, level: ov.CaseLevel) -> bool:
    return viewer.role is Role.CITY_ADMIN or (viewer.role is Role.COUNTY_ADMIN and level is ov.CaseLevel.COUNTY)


def _may_lift(viewer: Principal, case: OversightCase) -> bool:
    if viewer.role is Role.CITY_ADMIN:
        return True
    return viewer.role is Role.COUNTY_ADMIN and case.level == ov.CaseLevel.COUNTY.value


# =========================================================================== 挂牌督办: views
def _progress_view(r: OversightProgress) -> dict[str, Any]:
    return {"id": r.id, "reported_on": r.reported_on.isoformat(), "text": r.text, "actor": r.actor,
            "at": audit.as_utc(r.at).isoformat()}


def case_view(s: Session, c: OversightCase, names: dict[int, str] | None = None, as_of: date | None = None,
              notes: list[OversightProgress] | None = None) -> dict[str, Any]:
    """One case as readers see it (with its progress notes, oldest first)."""
    names = names if names is not None else _names(s)
    as_of = as_of or today()
    p = s.get(Parcel, c.parcel_id)
    if notes is None:
        notes = list(s.scalars(select(OversightProgress).where(OversightProgress.case_id == c.id)
                               .order_by(OversightProgress.reported_on, OversightProgress.id)))
    open_ = c.status == ov.CaseStatus.OPEN.value
    return {
        "id": c.id, "version": c.version, "parcel_code": p.code, "location": p.location, "area_mu": p.area_mu,
        "zone": names.get(c.zone_id), "county": names.get(c.county_id),
        "level": c.level, "level_label": ov.CaseLevel(c.level).label,
        "listed_by_unit": c.listed_by_unit, "document_no": c.document_no, "listed_on": c.listed_on.isoformat(),
        "state_at_listing": c.state_at_listing, "state_at_listing_label": LandState(c.state_at_listing).label,
        "counts_toward_requirement": c.counts_toward_requirement, "reason": c.reason, "requirement": c.requirement,
        "deadline": c.deadline.isoformat(), "units": list(c.units or []), "lead": (c.units or [None])[0],
        "status": c.status, "status_label": ov.CaseStatus(c.status).label,
        "overdue": open_ and as_of > c.deadline, "days_overdue": max(0, (as_of - c.deadline).days) if open_ else 0,
        "lifted_on": c.lifted_on.isoformat() if c.lifted_on else None, "lift_result": c.lift_result,
        "lifted_by": c.lifted_by, "opened_by": c.opened_by, "opened_at": audit.as_utc(c.opened_at).isoformat(),
        "progress": [_progress_view(n) for n in notes],
    }


def _readable_case(s: Session, case_id: int, viewer: Principal) -> OversightCase:
    c = s.get(OversightCase, case_id)
    if c is None or not _sees_case(viewer, c):
        raise NotFound("挂牌督办事项", str(case_id))
    return c


def get_case(db: Database, case_id: int, viewer: Principal | str, as_of: date | None = None) -> dict[str, Any]:
    """One 挂牌督办 case with its progress notes (404 outside the caller's view)."""
    viewer = _signed_in(viewer)
    with db.reader() as s:
        return case_view(s, _readable_case(s, case_id, viewer), as_of=as_of)


def _case_query(s: Session, viewer: Principal, zone: str | None, county: str | None, level: str | None,
                status: str | None, code: str | None):
    q = select(OversightCase).join(Parcel, Parcel.id == OversightCase.parcel_id)
    if viewer.role is Role.ENTERPRISE:
        raise Forbidden("挂牌督办是政府内部督办事项，企业账号不能查看")
    if not viewer.everywhere:
        conds = []
        if viewer.zone_ids:
            conds.append(OversightCase.zone_id.in_(sorted(viewer.zone_ids)))
        if viewer.county_ids:
            conds.append(OversightCase.zone_id.is_(None) & OversightCase.county_id.in_(sorted(viewer.county_ids)))
        if not conds:
            return None
        q = q.where(or_(*conds))
    if zone:
        q = q.where(OversightCase.zone_id == jurisdictions.resolve(s, zone, record="查询", field="zone").id)
    if county:
        q = q.where(OversightCase.county_id == jurisdictions.resolve(s, county, record="查询", field="county").id)
    if level:
        try:
            q = q.where(OversightCase.level == ov.CaseLevel.parse(level).value)
        except ValueError as exc:
            raise ValidationFailed(Problem("查询", "level", str(exc)))
    if status and status != "all":
        try:
            q = q.where(OversightCase.status == ov.CaseStatus.parse(status).value)
        except ValueError as exc:
            raise ValidationFailed(Problem("查询", "status", str(exc)))
    if code:
        q = q.where(Parcel.code == code.strip().upper())
    return q.order_by(OversightCase.zone_id, OversightCase.listed_on, OversightCase.id)


def list_cases(db: Database, viewer: Principal | str, *, zone: str | None = None, county: str | None = None,
               level: str | None = None, status: str | None = None, code: str | None = None,
               as_of: date | None = None) -> dict[str, Any]:
    """The 挂牌督办 cases the caller may read; filters: zone, county (code, name or alias), level
    (city/county), status (open/lifted/all; default all), a parcel code."""
    viewer = _signed_in(viewer)
    as_of = as_of or today()
    with db.reader() as s:
        q = _case_query(s, viewer, zone, county, level, status, code)
        rows = list(s.scalars(q)) if q is not None else []
        names = _names(s)
        notes: dict[int, list[OversightProgress]] = {c.id: [] for c in rows}
        if rows:
            for n in s.scalars(select(OversightProgress).where(OversightProgress.case_id.in_(list(notes)))
                               .order_by(OversightProgress.reported_on, OversightProgress.id)):
                notes[n.case_id].append(n)
        items = [case_view(s, c, names, as_of, notes[c.id]) for c in rows]
    return {"as_of": as_of.isoformat(), "count": len(items), "cases": items}


def zone_counts(db: Database, viewer: Principal | str, as_of: date | None = None) -> dict[str, Any]:
    """Each 产业集聚区 the caller covers: cases open on ``as_of`` and listed by it, and the
    批而未供/闲置 listings counted against ``[oversight] min_cases_per_zone`` by ``due`` — zones
    below the minimum flagged. Counts only (no parcel codes)."""
    viewer = _signed_in(viewer)
    if viewer.role is Role.ENTERPRISE:
        raise Forbidden("挂牌督办是政府内部督办事项，企业账号不能查看")
    as_of = as_of or today()
    cfg = settings()
    minimum, due, counted = int(cfg["min_cases_per_zone"]), cfg["due"], list(cfg["counted_states"])
    with db.reader() as s:
        zones = s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.parent_id)
                          .where(Jurisdiction.kind == JurisdictionKind.ZONE.value).order_by(Jurisdiction.code)).all()
        names = _names(s)
        facts: dict[int, list[ov.CaseFacts]] = {}
        for zid, listed, lifted, state in s.execute(select(OversightCase.zone_id, OversightCase.listed_on,
                                                           OversightCase.lifted_on, OversightCase.state_at_listing)
                                                    .where(OversightCase.zone_id.is_not(None))):
            facts.setdefault(zid, []).append(ov.CaseFacts(listed, lifted, state))
    out = []
    for zid, zcode, zname, parent in zones:
        if not viewer.covers(None, zid):
            continue
        out.append({"zone_code": zcode, "zone": zname, "parent": names.get(parent),
                    **ov.zone_requirement(facts.get(zid, []), as_of, minimum, due, counted)})
    return {"as_of": as_of.isoformat(), "minimum": minimum, "due": due.isoformat(), "counted_states": counted,
            "counted_states_labels": [LandState(x).label for x in counted], "source": cfg["source"],
            "zones": out, "below_minimum": sum(z["below_minimum"] for z in out)}


# =========================================================================== 挂牌督办: writes
def open_case(db: Database, code: str, viewer: Principal | str, *, level: str, listed_by_unit: str,
              reason: str, requirement: str, deadline: Any, units: list[str], listed_on: Any = None,
              document_no: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Put parcel ``code`` under 挂牌督办. Refused (422, nothing written): bad input, a parcel in a
    state ``[oversight] listable_states`` does not list, an open case already on it; 403 a role
    that may not open a case of this level; 404 outside the caller's view; 401 the public."""
    viewer = _signed_in(viewer)
    as_of = as_of or today()
    record = f"宗地 {code} 的挂牌督办"
    problems: list[Problem] = []
    try:
        lv = ov.CaseLevel.parse(level)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(Problem(record, "level", str(exc), "unknown_level")) from None
    day, found = _date_problems(record, "listed_on", listed_on if listed_on is not None else as_of, as_of)
    problems += found
    end, found = _future_day(record, "deadline", deadline)
    problems += found
    if day and end and end < day:
        problems.append(Problem(record, "deadline", f"督办完成时限 {end} 早于挂牌日期 {day}"))
    unit_by, found = _text(record, "listed_by_unit", listed_by_unit, "挂牌督办单位", 200)
    problems += found
    doc, found = _text(record, "document_no", document_no, "督办文号", 100, required=False)
    problems += found
    why, found = _text(record, "reason", reason, "督办事由", 2000)
    problems += found
    req, found = _text(record, "requirement", requirement, "督办要求", 2000)
    problems += found
    names, found = ov.units_problems(record, units)
    problems += found
    if problems:
        raise ValidationFailed(problems)
    cfg = settings()
    try:
        with db.transaction(viewer.actor, f"{lv.label}挂牌督办：{why}") as s:
            p = registry.editable_parcel(s, code, viewer, Action.EDIT_PARCELS)
            if not _may_open(viewer, lv):
                raise Forbidden(f"{lv.label}挂牌督办只能由{'市级管理员' if lv is ov.CaseLevel.CITY else '市级或县(市、区)管理员'}"
                                f"办理，{viewer.role.label}无权办理")
            if p.state not in cfg["listable_states"]:
                allowed = "、".join(LandState(x).label for x in cfg["listable_states"])
                raise ValidationFailed(Problem(record, "state", f"宗地当前状态为“{LandState(p.state).label}”，"
                                               f"挂牌督办适用于{allowed}的宗地（规则库 oversight.listable_states）", "refused"))
            dup = s.scalar(select(OversightCase).where(OversightCase.parcel_id == p.id,
                                                       OversightCase.status == ov.CaseStatus.OPEN.value))
            if dup is not None:
                raise ValidationFailed(_duplicate(record, dup))
            c = OversightCase(parcel_id=p.id, zone_id=p.zone_id, county_id=p.county_id, level=lv.value,
                              listed_by_unit=unit_by, document_no=doc, listed_on=day, state_at_listing=p.state,
                              counts_toward_requirement=p.state in cfg["counted_states"], reason=why,
                              requirement=req, deadline=end, units=names, status=ov.CaseStatus.OPEN.value,
                              opened_by=viewer.actor)
            s.add(c)
            s.flush()
            return case_view(s, c, as_of=as_of)
    except IntegrityError:  # another open case committed first (the partial unique index)
        raise ValidationFailed(Problem(record, "parcel", "该宗地已有督办中的挂牌督办事项，未写入", "duplicate"))


def _duplicate(record: str, dup: OversightCase) -> Problem:
    return Problem(record, "parcel", f"该宗地已于 {dup.listed_on} 挂牌督办（事项 {dup.id}，"
                   f"{ov.CaseLevel(dup.level).label}，督办中）：一宗地同时只能有一个督办中的事项", "duplicate")


def add_progress(db: Database, case_id: int, viewer: Principal | str, *, text: str, reported_on: Any = None,
                 as_of: date | None = None) -> dict[str, Any]:
    """Append a progress note to an open case (the officials covering the parcel, zone managers
    included). 422 a lifted case or bad input; 403 departments; 404 outside the caller's view."""
    viewer = _signed_in(viewer)
    as_of = as_of or today()
    record = f"挂牌督办事项 {case_id} 的进展"
    body, problems = _text(record, "text", text, "进展情况", 4000)
    day, found = _date_problems(record, "reported_on", reported_on if reported_on is not None else as_of, as_of)
    problems += found
    if problems:
        raise ValidationFailed(problems)
    with db.transaction(viewer.actor, "挂牌督办进展") as s:
        c = _readable_case(s, case_id, viewer)
        if viewer.role not in _OFFICIALS:
            raise Forbidden(f"{viewer.role.label}账号只能查看挂牌督办事项，不能报送进展")
        if c.status != ov.CaseStatus.OPEN.value:
            raise ValidationFailed(Problem(record, "case", f"事项已于 {c.lifted_on} 销号，不再报送进展", "refused"))
        if day < c.listed_on:
            raise ValidationFailed(Problem(record, "reported_on", f"进展日期 {day} 早于挂牌日期 {c.listed_on}"))
        n = OversightProgress(case_id=c.id, parcel_id=c.parcel_id, reported_on=day, text=body, actor=viewer.actor)
        s.add(n)
        s.flush()
        return _progress_view(n)


def lift_case(db: Database, case_id: int, viewer: Principal | str, expected_version: int | None, *,
              result: str, lifted_on: Any = None, as_of: date | None = None) -> dict[str, Any]:
    """销号: close the case with its result and day (versioned: a stale version is 409). 422
    without a result, with a day before the listing or after today, or a case already lifted."""
    viewer = _signed_in(viewer)
    if expected_version is None:
        raise audit.VersionRequired()
    as_of = as_of or today()
    record = f"挂牌督办事项 {case_id} 的销号"
    res, problems = _text(record, "result", result, "销号结果（处置成效）", 2000)
    day, found = _date_problems(record, "lifted_on", lifted_on if lifted_on is not None else as_of, as_of)
    problems += found
    if problems:
        raise ValidationFailed(problems)

    def load(s: Session) -> OversightCase:
        c = s.get(OversightCase, case_id)
        if c is None:
            raise NotFound("挂牌督办事项", str(case_id))
        return c

    def authorize(s: Session, c: OversightCase) -> None:
        if not _sees_case(viewer, c):
            raise NotFound("挂牌督办事项", str(case_id))
        if not _may_lift(viewer, c):
            raise Forbidden(f"{ov.CaseLevel(c.level).label}挂牌督办事项只能由"
                            f"{'市级管理员' if c.level == 'city' else '市级或县(市、区)管理员'}销号")

    def apply(s: Session, c: OversightCase) -> None:
        if c.status != ov.CaseStatus.OPEN.value:
            raise ValidationFailed(Problem(record, "status", f"事项已于 {c.lifted_on} 销号", "refused"))
        if day < c.listed_on:
            raise ValidationFailed(Problem(record, "lifted_on", f"销号日期 {day} 早于挂牌日期 {c.listed_on}"))
        c.status, c.lifted_on, c.lift_result, c.lifted_by = ov.CaseStatus.LIFTED.value, day, res, viewer.actor

    return audit.guarded_update(db, viewer, what="挂牌督办事项", key=str(case_id), expected_version=expected_version,
                                attempted={"status": "lifted", "lifted_on": str(day), "lift_result": res},
                                load=load, authorize=authorize, apply=apply,
                                view=lambda s, c: case_view(s, c, as_of=as_of), reason=f"挂牌督办销号：{res}")


# =========================================================================== filing layout (Excel)
_SHEET_COLUMNS = ("序号", "宗地代码", "坐落", "面积(亩)", "挂牌时土地状态", "督办级别", "挂牌督办单位", "督办文号",
                  "挂牌日期", "督办事由", "督办要求", "完成时限", "牵头单位", "责任单位", "最新进展", "状态", "销号日期",
                  "销号结果")
_WIDTHS = (6, 22, 28, 10, 12, 8, 22, 18, 13, 30, 30, 13, 20, 30, 36, 8, 13, 30)


def export_cases_xlsx(db: Database, viewer: Principal | str, as_of: date | None = None,
                      zone: str | None = None) -> bytes:
    """The 挂牌督办 list per zone as a workbook a government office can file: a 汇总 sheet (each
    zone's counts against the requirement) and one sheet per zone (title, the cases in rows,
    a totals line, 填报单位/填报日期 lines). Officials and departments only (``Action.EXPORT``)."""
    viewer = _signed_in(viewer)
    access.require(viewer, Action.EXPORT)
    as_of = as_of or today()
    counts = zone_counts(db, viewer, as_of)
    cases = list_cases(db, viewer, zone=zone, as_of=as_of)["cases"]
    if zone:
        with db.reader() as s:
            zone = jurisdictions.resolve(s, zone, record="导出", field="zone").name
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Side

    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="center")
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append([f"各产业集聚区批而未供、闲置土地挂牌督办情况汇总表（截至 {as_of}）"])
    ws.append([f"要求：{counts['due']} 前每个产业集聚区挂牌督办批而未供、闲置土地 {counts['minimum']} 宗以上（{ov.CITE_LISTING}）"])
    header = ("产业集聚区", "所属", "督办中", "累计挂牌", "其中批而未供/闲置（督办中）", "其中批而未供/闲置（累计）",
              "期限内计入要求", "要求宗数", "差额", "是否达标")
    ws.append(header)
    for z in counts["zones"]:
        if zone and z["zone"] != zone:
            continue
        ws.append([z["zone"], z["parent"], z["open"], z["listed"], z["counted_open"], z["counted_listed"],
                   z["counted_by_due"], z["minimum"], z["shortfall"], "达标" if z["met"] else "未达标"])
    _frame(ws, 3, len(header), box, wrap, (24, 14, 8, 10, 14, 14, 12, 8, 6, 8))
    by_zone: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        by_zone.setdefault(c["zone"] or "集聚区外", []).append(c)
    for zname, rows in by_zone.items():
        sh = wb.create_sheet(_sheet_name(zname))
        sh.append([f"{zname}批而未供、闲置土地挂牌督办台账"])
        sh.append([f"截至 {as_of}　共 {len(rows)} 宗，督办中 {sum(r['status'] == 'open' for r in rows)} 宗"])
        sh.append(list(_SHEET_COLUMNS))
        for i, r in enumerate(rows, 1):
            last = r["progress"][-1] if r["progress"] else None
            sh.append([i, r["parcel_code"], r["location"], round(r["area_mu"], 4), r["state_at_listing_label"],
                       r["level_label"], r["listed_by_unit"], r["document_no"], date.fromisoformat(r["listed_on"]),
                       r["reason"], r["requirement"], date.fromisoformat(r["deadline"]), r["lead"],
                       "、".join(r["units"]), f"{last['reported_on']}：{last['text']}" if last else None,
                       r["status_label"], date.fromisoformat(r["lifted_on"]) if r["lifted_on"] else None,
                       r["lift_result"]])
            for col in (9, 12, 17):
                sh.cell(sh.max_row, col).number_format = "yyyy-mm-dd"
            sh.cell(sh.max_row, 4).number_format = "0.00"
        sh.append(["合计", f"{len(rows)} 宗", None, round(sum(r["area_mu"] for r in rows), 4)])
        sh.cell(sh.max_row, 4).number_format = "0.00"
        _frame(sh, 3, len(_SHEET_COLUMNS), box, wrap, _WIDTHS)
        sh.append([])
        sh.append(["填报单位（盖章）：", None, None, None, None, None, "填报人：", None, "填报日期：",
                   as_of.isoformat()])
    wb.properties.title = "挂牌督办台账"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet_name(name: str) -> str:
    for ch in "[]:*?/\\":
        name = name.replace(ch, "")
    return name[:31]


def _frame(ws, header_row: int, ncols: int, box, wrap, widths) -> None:
    """Bold title and header, borders and wrapping over the table, column widths, frozen header."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws.cell(1, 1).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    if header_row > 2 and ws.cell(2, 1).value:  # the line under the title, wrapped across the table
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncols)
        ws.cell(2, 1).alignment = Alignment(wrap_text=True, vertical="top")
        report_excel.fit_row_heights(ws, 2, 2, [sum(widths)])
    for c in ws[header_row]:
        c.font = Font(bold=True)
    for row in ws.iter_rows(min_row=header_row, max_row=ws.max_row, max_col=ncols):
        for c in row:
            c.border, c.alignment = box, wrap
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    report_excel.fit_row_heights(ws, header_row, ws.max_row, widths)
    ws.freeze_panes = ws.cell(header_row + 1, 1)
    report_excel.print_setup(ws, sum(widths), f"{header_row}:{header_row}")


# =========================================================================== 再开发监管协议: views
def _reward_view(r: RedevelopmentReward) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "kind_label": ov.RewardKind(r.kind).label, "amount_wan": r.amount_wan,
            "granted_on": r.granted_on.isoformat(), "document_no": r.document_no, "note": r.note}


def _clawback_view(c: RedevelopmentClawback) -> dict[str, Any]:
    return {"id": c.id, "version": c.version, "assessment_id": c.assessment_id, "agreement_id": c.agreement_id,
            "reward_id": c.reward_id, "kind": c.kind, "kind_label": ov.RewardKind(c.kind).label,
            "granted_wan": c.granted_wan, "amount_wan": c.amount_wan, "status": c.status,
            "status_label": ov.ClawbackStatus(c.status).label,
            "settled_on": c.settled_on.isoformat() if c.settled_on else None, "recovered_wan": c.recovered_wan,
            "note": c.note}


def _assessment_view(a: RedevelopmentAssessment) -> dict[str, Any]:
    return {"id": a.id, "assessed_on": a.assessed_on.isoformat(), "actual": a.actual, "sources": a.sources,
            "findings": a.findings, "reasons": a.reasons, "met": a.met, "actor": a.actor,
            "at": audit.as_utc(a.at).isoformat(), "rulebook_version": a.rulebook_version}


def agreement_view(s: Session, a: RedevelopmentAgreement) -> dict[str, Any]:
    """The agreement with its rewards, its assessment and its claw-back lines."""
    p, e = s.get(Parcel, a.parcel_id), s.get(Enterprise, a.enterprise_id)
    rewards = s.scalars(select(RedevelopmentReward).where(RedevelopmentReward.agreement_id == a.id)
                        .order_by(RedevelopmentReward.id)).all()
    assessment = s.scalar(select(RedevelopmentAssessment).where(RedevelopmentAssessment.agreement_id == a.id))
    claws = s.scalars(select(RedevelopmentClawback).where(RedevelopmentClawback.agreement_id == a.id)
                      .order_by(RedevelopmentClawback.id)).all()
    targets = {k: getattr(a, col) for k, (_, _, col) in ov.TARGETS.items() if getattr(a, col) is not None}
    return {
        "id": a.id, "version": a.version, "agreement_no": a.agreement_no, "parcel_code": p.code,
        "enterprise": {"credit_code": e.credit_code, "name": e.name},
        "signed_on": a.signed_on.isoformat(), "check_date": a.check_date.isoformat(), "tax_year": a.tax_year,
        "targets": targets, "target_completion_date": a.target_completion_date.isoformat()
        if a.target_completion_date else None, "exit_terms": a.exit_terms,
        "status": a.status, "status_label": ov.AgreementStatus(a.status).label, "created_by": a.created_by,
        "rewards": [_reward_view(r) for r in rewards],
        "rewards_total_wan": round(sum(r.amount_wan for r in rewards), 4),
        "assessment": _assessment_view(assessment) if assessment else None,
        "clawbacks": [_clawback_view(c) for c in claws],
        "clawback_pending_wan": round(sum(c.amount_wan for c in claws if c.status == "pending"), 4),
        "basis": ov.CITE_CLAWBACK,
    }


def _sees_agreement(s: Session, viewer: Principal, a: RedevelopmentAgreement) -> bool:
    if viewer.role is Role.ENTERPRISE:
        return viewer.enterprise_id is not None and viewer.enterprise_id == a.enterprise_id
    p = s.get(Parcel, a.parcel_id)
    return audit.sees_parcel_in_full(viewer, p.county_id, p.zone_id)


def _readable_agreement(s: Session, agreement_id: int, viewer: Principal) -> RedevelopmentAgreement:
    a = s.get(RedevelopmentAgreement, agreement_id)
    if a is None or not _sees_agreement(s, viewer, a):
        raise NotFound("再开发监管协议", str(agreement_id))
    return a


def get_agreement(db: Database, agreement_id: int, viewer: Principal | str) -> dict[str, Any]:
    """One agreement (officials/departments covering the parcel, the enterprise that signed it)."""
    viewer = _signed_in(viewer)
    with db.reader() as s:
        return agreement_view(s, _readable_agreement(s, agreement_id, viewer))


def list_agreements(db: Database, viewer: Principal | str, *, code: str | None = None,
                    status: str | None = None) -> dict[str, Any]:
    """The agreements the caller may read (an enterprise: those it signed); filters: parcel, status."""
    viewer = _signed_in(viewer)
    with db.reader() as s:
        q = select(RedevelopmentAgreement).join(Parcel, Parcel.id == RedevelopmentAgreement.parcel_id)
        if viewer.role is Role.ENTERPRISE:
            q = q.where(RedevelopmentAgreement.enterprise_id == (viewer.enterprise_id or -1))
        else:
            access.require(viewer, Action.READ_CONFIDENTIAL)
            q = q.where(access.parcel_condition(viewer))
        if code:
            q = q.where(Parcel.code == code.strip().upper())
        if status:
            try:
                q = q.where(RedevelopmentAgreement.status == ov.AgreementStatus.parse(status).value)
            except ValueError as exc:
                raise ValidationFailed(Problem("查询", "status", str(exc)))
        items = [agreement_view(s, a) for a in s.scalars(q.order_by(RedevelopmentAgreement.id))]
    return {"count": len(items), "agreements": items}


# =========================================================================== 再开发监管协议: writes
def _target_values(record: str, targets: Any) -> tuple[dict[str, float], list[Problem]]:
    if not isinstance(targets, dict):
        return {}, [Problem(record, "targets", "应为对象 {investment_intensity, tax_per_mu, plot_ratio}")]
    out: dict[str, float] = {}
    problems: list[Problem] = []
    for k, v in targets.items():
        if k not in ov.TARGETS:
            problems.append(Problem(record, f"targets.{k}", "未知的约定目标，可用：" + "、".join(
                f"{lab}({key})" for key, lab in ov.TARGET_LABELS.items()), "unknown_field"))
            continue
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            problems.append(Problem(record, f"targets.{k}", f"{ov.TARGET_LABELS[k]}应为大于0的数值"))
            continue
        out[k] = float(v)
    if not problems and not ({"investment_intensity", "tax_per_mu"} & set(out)):
        problems.append(Problem(record, "targets", "须约定投资强度或亩均税收目标（至少一项）", "missing"))
    return out, problems


def _reward_rows(record: str, rewards: Any, as_of: date) -> tuple[list[dict[str, Any]], list[Problem]]:
    if rewards is None:
        return [], []
    if not isinstance(rewards, list):
        return [], [Problem(record, "rewards", "应为列表")]
    out, problems = [], []
    for i, r in enumerate(rewards, 1):
        where = f"rewards[{i}]"
        if not isinstance(r, dict):
            problems.append(Problem(record, where, "应为对象 {kind, amount_wan, granted_on}"))
            continue
        unknown = set(r) - {"kind", "amount_wan", "granted_on", "document_no", "note"}
        problems += [Problem(record, f"{where}.{k}", "未知字段", "unknown_field") for k in sorted(unknown)]
        try:
            kind = ov.RewardKind.parse(r.get("kind")).value
        except (ValueError, TypeError) as exc:
            problems.append(Problem(record, f"{where}.kind", str(exc)))
            kind = None
        amount, found = _money(record, f"{where}.amount_wan", r.get("amount_wan"), "优惠金额")
        if amount is None and not found:
            found = [Problem(record, f"{where}.amount_wan", "缺少优惠金额（万元）", "missing")]
        problems += found
        day, found = _date_problems(record, f"{where}.granted_on", r.get("granted_on"), as_of)
        problems += found
        doc, found = _text(record, f"{where}.document_no", r.get("document_no"), "文号", 100, required=False)
        problems += found
        note, found = _text(record, f"{where}.note", r.get("note"), "说明", 500, required=False)
        problems += found
        out.append({"kind": kind, "amount_wan": amount, "granted_on": day, "document_no": doc, "note": note})
    return out, problems


def add_agreement(db: Database, code: str, viewer: Principal | str, *, agreement_no: str, enterprise: str,
                  signed_on: Any, check_date: Any, targets: dict[str, Any], exit_terms: str,
                  target_completion_date: Any = None, rewards: list[dict[str, Any]] | None = None,
                  tax_year: int | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Record the 再开发监管协议 of 低效 parcel ``code`` with ``enterprise`` (credit code; it must
    use the parcel), its targets, check date, exit terms and the rewards granted. One
    transaction; 422 bad input (nothing written), 403 roles other than the officials, 404
    outside the caller's view."""
    viewer = _signed_in(viewer)
    as_of = as_of or today()
    record = f"宗地 {code} 的再开发监管协议"
    no, problems = _text(record, "agreement_no", agreement_no, "协议编号", 100)
    signed, found = _date_problems(record, "signed_on", signed_on, as_of)
    problems += found
    check, found = _future_day(record, "check_date", check_date)
    problems += found
    done_by, found = _future_day(record, "target_completion_date", target_completion_date, required=False)
    problems += found
    if signed and check and check <= signed:
        problems.append(Problem(record, "check_date", f"核查日期 {check} 应晚于签订日期 {signed}"))
    if done_by and check and signed and not signed <= done_by <= check:
        problems.append(Problem(record, "target_completion_date", f"约定竣工日期 {done_by} 应在签订日期与核查日期之间"))
    tv, found = _target_values(record, targets)
    problems += found
    terms, found = _text(record, "exit_terms", exit_terms, "退出条款", 4000)
    problems += found
    rows, found = _reward_rows(record, rewards, as_of)
    problems += found
    year = tax_year if tax_year is not None else (check.year - 1 if check else None)
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        problems.append(Problem(record, "tax_year", f"亩均税收核查年度应为 2000–2100 的整数，实际为 {tax_year!r}"))
    if problems:
        raise ValidationFailed(problems)
    states = list(load_rulebook().section("redevelopment")["agreement_states"])
    with db.transaction(viewer.actor, f"签订再开发监管协议 {no}") as s:
        p = registry.editable_parcel(s, code, viewer, Action.EDIT_PARCELS)
        errs: list[Problem] = []
        if p.state not in states:
            errs.append(Problem(record, "state", f"宗地当前状态为“{LandState(p.state).label}”：再开发监管协议适用于"
                                + "、".join(LandState(x).label for x in states) + "的宗地", "refused"))
        e = s.scalar(select(Enterprise).where(Enterprise.credit_code == str(enterprise).strip().upper()))
        if e is None:
            errs.append(Problem(record, "enterprise", f"未登记的企业：{enterprise}", "unknown_enterprise"))
        elif not s.scalar(select(_uses_parcel(p.id, e.id))):
            errs.append(Problem(record, "enterprise", f"{e.name} 没有使用该宗地的登记（权利人或承租人）", "refused"))
        if s.scalar(select(RedevelopmentAgreement.id).where(RedevelopmentAgreement.agreement_no == no)):
            errs.append(Problem(record, "agreement_no", f"协议编号 {no} 已存在", "duplicate"))
        active = s.scalar(select(RedevelopmentAgreement).where(RedevelopmentAgreement.parcel_id == p.id,
                                                               RedevelopmentAgreement.status == "active"))
        if active is not None:
            errs.append(Problem(record, "parcel", f"该宗地已有履行中的再开发监管协议 {active.agreement_no}", "duplicate"))
        if errs:
            raise ValidationFailed(errs)
        a = RedevelopmentAgreement(agreement_no=no, parcel_id=p.id, enterprise_id=e.id, signed_on=signed,
                                   check_date=check, tax_year=year, target_completion_date=done_by, exit_terms=terms,
                                   status=ov.AgreementStatus.ACTIVE.value, created_by=viewer.actor,
                                   **{ov.TARGETS[k][2]: v for k, v in tv.items()})
        s.add(a)
        s.flush()
        for r in rows:
            s.add(RedevelopmentReward(agreement_id=a.id, parcel_id=p.id, **r))
        s.flush()
        return agreement_view(s, a)


def _uses_parcel(parcel_id: int, enterprise_id: int):
    """EXISTS: the enterprise uses the parcel (any occupancy, owner or tenant)."""
    return select(Occupancy.id).where(Occupancy.parcel_id == parcel_id,
                                      Occupancy.enterprise_id == enterprise_id).exists()


def _editable_agreement(s: Session, agreement_id: int, viewer: Principal) -> RedevelopmentAgreement:
    a = s.get(RedevelopmentAgreement, agreement_id)
    if a is None:
        raise NotFound("再开发监管协议", str(agreement_id))
    registry.authorize_parcel_edit(s, viewer, s.get(Parcel, a.parcel_id), Action.EDIT_PARCELS)
    return a


def add_reward(db: Database, agreement_id: int, viewer: Principal | str, *, kind: str, amount_wan: Any,
               granted_on: Any, document_no: str | None = None, note: str | None = None,
               as_of: date | None = None) -> dict[str, Any]:
    """Record another reward granted under an agreement (append-only), before it is assessed."""
    viewer = _signed_in(viewer)
    as_of = as_of or today()
    record = f"再开发监管协议 {agreement_id} 的优惠"
    rows, problems = _reward_rows(record, [{"kind": kind, "amount_wan": amount_wan, "granted_on": granted_on,
                                            "document_no": document_no, "note": note}], as_of)
    if problems:
        raise ValidationFailed(problems)
    with db.transaction(viewer.actor, "登记再开发优惠") as s:
        a = _editable_agreement(s, agreement_id, viewer)
        if a.status != ov.AgreementStatus.ACTIVE.value:
            raise ValidationFailed(Problem(record, "agreement", "协议已核查，不再登记新的优惠", "refused"))
        r = RedevelopmentReward(agreement_id=a.id, parcel_id=a.parcel_id, **rows[0])
        s.add(r)
        s.flush()
        return _reward_view(r)


def parcel_tax_per_mu(s: Session, parcel: Parcel, year: int) -> tuple[float | None, str]:
    """亩均税收 of the parcel for ``year`` (R1): the current result of the newest stored annual
    evaluation of that year; without one, the evaluation's own computation run on the registry's
    figures now (``services.evaluation.read_inputs`` + ``domain.rules.evaluation.evaluate``).
    Returns (value or None, where it came from)."""
    run = s.scalar(select(EvaluationRun).where(EvaluationRun.year == year).order_by(EvaluationRun.id.desc()).limit(1))
    if run is not None:
        row = s.scalar(select(ParcelEvaluation).where(ParcelEvaluation.run_id == run.id,
                                                      ParcelEvaluation.parcel_id == parcel.id)
                       .order_by(ParcelEvaluation.result_version.desc()).limit(1))
        if row is not None and row.tax_per_mu_wan is not None and math.isfinite(row.tax_per_mu_wan):
            return row.tax_per_mu_wan, f"{year}年度评价批次 {run.id}（现行结果第 {row.result_version} 版，R1 000:1072）"
    rulebook = evaluation.run_rulebook(run) if run is not None else load_rulebook()
    inputs = evaluation.read_inputs(s.connection(), year, rulebook)
    i = int(np.searchsorted(inputs.parcel_id, parcel.id))
    if i >= len(inputs.parcel_id) or inputs.parcel_id[i] != parcel.id:
        return None, "宗地不在评价范围内"
    value = float(ev.evaluate(inputs, rulebook).parcel["tax_per_mu_wan"][i])
    if not math.isfinite(value):
        return None, f"登记库没有该宗地使用企业 {year} 年度的纳税数据"
    return value, f"按登记库 {year} 年度企业数据即时计算（年度评价同一公式，R1 000:1072）"


def _actuals(s: Session, a: RedevelopmentAgreement, p: Parcel, record: str, investment_wan: Any,
             plot_ratio: Any) -> tuple[dict[str, float], dict[str, str], date | None, list[Problem]]:
    """The actual figures of each target and where they came from (development record first)."""
    dev = s.scalar(select(ParcelDevelopment).where(ParcelDevelopment.parcel_id == p.id))
    actual: dict[str, float] = {}
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    if a.target_investment_intensity_wan_per_mu is not None:
        given, found = _money(record, "investment_wan", investment_wan, "固定资产投资")
        problems += found
        if dev is not None and dev.investment_done_wan is not None:
            if given is not None:
                problems.append(Problem(record, "investment_wan", f"开发建设情况已登记完成投资 {dev.investment_done_wan:g} 万元，"
                                        "以登记为准；如有变化请先更新开发建设情况（验收）", "conflict"))
            actual["investment_intensity"] = dev.investment_done_wan / p.area_mu
            sources["investment_intensity"] = (f"开发建设情况：完成投资 {dev.investment_done_wan:g} 万元 ÷ 宗地面积 "
                                               f"{p.area_mu:.4f} 亩")
        elif given is not None:
            actual["investment_intensity"] = given / p.area_mu
            sources["investment_intensity"] = f"核查时登记：固定资产投资 {given:g} 万元 ÷ 宗地面积 {p.area_mu:.4f} 亩"
    if a.target_plot_ratio is not None:
        given, found = _money(record, "plot_ratio", plot_ratio, "容积率")
        problems += found
        if dev is not None and dev.floor_area_m2 is not None:
            if given is not None:
                problems.append(Problem(record, "plot_ratio", "开发建设情况已登记计容建筑面积，以登记为准", "conflict"))
            actual["plot_ratio"] = dev.floor_area_m2 / p.area_m2
            sources["plot_ratio"] = f"开发建设情况：计容建筑面积 {dev.floor_area_m2:g} 平方米 ÷ 宗地面积 {p.area_m2:.2f} 平方米"
        elif given is not None:
            actual["plot_ratio"] = given
            sources["plot_ratio"] = "核查时登记的实测容积率"
    if a.target_tax_per_mu_wan is not None:
        value, source = parcel_tax_per_mu(s, p, a.tax_year)
        sources["tax_per_mu"] = source
        if value is not None:
            actual["tax_per_mu"] = value
    completed = (dev.completion_date if dev is not None and dev.completion_result == AcceptanceResult.PASSED.value
                 else None)
    return actual, sources, completed, problems


def assess_agreement(db: Database, agreement_id: int, viewer: Principal | str, expected_version: int | None, *,
                     investment_wan: Any = None, plot_ratio: Any = None, as_of: date | None = None) -> dict[str, Any]:
    """Check the agreement's targets on or after its check date (once). Missed → status 未达标
    and a claw-back line for every reward (``[redevelopment] clawback_share`` of its amount);
    met → 已达标, nothing to recover. ``investment_wan``/``plot_ratio``: only when the development
    record has no figure. 422 before the check date, already assessed, a target without a
    figure; 409 stale version; 403/404 as for every edit of the parcel."""
    viewer = _signed_in(viewer)
    if expected_version is None:
        raise audit.VersionRequired()
    as_of = as_of or today()
    record = f"再开发监管协议 {agreement_id} 的核查"
    rulebook = load_rulebook()
    share = float(rulebook.section("redevelopment")["clawback_share"])

    def authorize(s: Session, a: RedevelopmentAgreement) -> None:
        registry.authorize_parcel_edit(s, viewer, s.get(Parcel, a.parcel_id), Action.EDIT_PARCELS)
        if viewer.role not in _OFFICIALS:
            raise Forbidden(f"{viewer.role.label}不能核查再开发监管协议")

    def apply(s: Session, a: RedevelopmentAgreement) -> None:
        if a.status != ov.AgreementStatus.ACTIVE.value:
            raise ValidationFailed(Problem(record, "agreement", f"协议已核查（{ov.AgreementStatus(a.status).label}），"
                                           "核查结果不能重做", "refused"))
        if as_of < a.check_date:
            raise ValidationFailed(Problem(record, "check_date", f"约定核查日期为 {a.check_date}，今天（{as_of}）尚未到期",
                                           "too_early"))
        p = s.get(Parcel, a.parcel_id)
        actual, sources, completed, problems = _actuals(s, a, p, record, investment_wan, plot_ratio)
        targets = {k: getattr(a, col) for k, (_, _, col) in ov.TARGETS.items() if getattr(a, col) is not None}
        result = ov.assess_targets(targets, actual, record, a.target_completion_date, completed)
        for prob in result.problems:  # name where the missing figure should have come from
            key = prob.field.split(".", 1)[1]
            problems.append(Problem(record, prob.field, prob.message + (f"（{sources[key]}）" if key in sources else ""),
                                    prob.code))
        if problems:
            raise ValidationFailed(problems)
        row = RedevelopmentAssessment(agreement_id=a.id, parcel_id=a.parcel_id, assessed_on=as_of,
                                      actual={k: round(v, 6) for k, v in actual.items()}, sources=sources,
                                      findings=result.findings, reasons=result.reasons, met=result.met,
                                      actor=viewer.actor, rulebook_version=rulebook.label)
        s.add(row)
        s.flush()
        a.status = (ov.AgreementStatus.MET if result.met else ov.AgreementStatus.MISSED).value
        if not result.met:
            rewards = s.scalars(select(RedevelopmentReward).where(RedevelopmentReward.agreement_id == a.id)
                                .order_by(RedevelopmentReward.id)).all()
            for line in ov.clawback_lines([{"id": r.id, "kind": r.kind, "amount_wan": r.amount_wan} for r in rewards],
                                          share):
                s.add(RedevelopmentClawback(assessment_id=row.id, agreement_id=a.id, parcel_id=a.parcel_id,
                                            status=ov.ClawbackStatus.PENDING.value, **line))

    return audit.guarded_update(db, viewer, what="再开发监管协议", key=str(agreement_id),
                                expected_version=expected_version, attempted={"assess": as_of.isoformat()},
                                load=lambda s: _load_agreement(s, agreement_id), authorize=authorize, apply=apply,
                                view=agreement_view, reason="再开发监管协议到期核查")


def _load_agreement(s: Session, agreement_id: int) -> RedevelopmentAgreement:
    a = s.get(RedevelopmentAgreement, agreement_id)
    if a is None:
        raise NotFound("再开发监管协议", str(agreement_id))
    return a


def settle_clawback(db: Database, clawback_id: int, viewer: Principal | str, expected_version: int | None, *,
                    status: str, settled_on: Any = None, recovered_wan: Any = None, note: str | None = None,
                    as_of: date | None = None) -> dict[str, Any]:
    """Mark a pending claw-back line 已追缴 (``recovered``: the amount recovered, default the
    amount due) or 免予追缴 (``waived``: a reason required; city/county admins only). The line
    is never deleted; its history is in the change log. 422 not pending / bad input; 409 stale."""
    viewer = _signed_in(viewer)
    if expected_version is None:
        raise audit.VersionRequired()
    as_of = as_of or today()
    record = f"追缴事项 {clawback_id}"
    try:
        st = ov.ClawbackStatus.parse(status)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(Problem(record, "status", str(exc))) from None
    problems: list[Problem] = []
    if st is ov.ClawbackStatus.PENDING:
        problems.append(Problem(record, "status", "应为已追缴(recovered)或免予追缴(waived)"))
    day, found = _date_problems(record, "settled_on", settled_on if settled_on is not None else as_of, as_of)
    problems += found
    amount, found = _money(record, "recovered_wan", recovered_wan, "追缴金额")
    problems += found
    why, found = _text(record, "note", note, "免予追缴理由" if st is ov.ClawbackStatus.WAIVED else "说明", 2000,
                       required=st is ov.ClawbackStatus.WAIVED)
    problems += found
    if st is ov.ClawbackStatus.WAIVED and amount is not None:
        problems.append(Problem(record, "recovered_wan", "免予追缴不填写追缴金额"))
    if problems:
        raise ValidationFailed(problems)

    def load(s: Session) -> RedevelopmentClawback:
        c = s.get(RedevelopmentClawback, clawback_id)
        if c is None:
            raise NotFound("追缴事项", str(clawback_id))
        return c

    def authorize(s: Session, c: RedevelopmentClawback) -> None:
        registry.authorize_parcel_edit(s, viewer, s.get(Parcel, c.parcel_id), Action.EDIT_PARCELS)
        if st is ov.ClawbackStatus.WAIVED and viewer.role not in (Role.CITY_ADMIN, Role.COUNTY_ADMIN):
            raise Forbidden("免予追缴只能由市级或县(市、区)管理员决定")

    def apply(s: Session, c: RedevelopmentClawback) -> None:
        if c.status != ov.ClawbackStatus.PENDING.value:
            raise ValidationFailed(Problem(record, "status", f"该追缴事项已是“{ov.ClawbackStatus(c.status).label}”，"
                                           "不能再改", "refused"))
        assessed = s.get(RedevelopmentAssessment, c.assessment_id).assessed_on
        if day < assessed:
            raise ValidationFailed(Problem(record, "settled_on", f"日期 {day} 早于核查日期 {assessed}"))
        c.status, c.settled_on, c.note = st.value, day, why
        c.recovered_wan = (c.amount_wan if amount is None else amount) if st is ov.ClawbackStatus.RECOVERED else None

    return audit.guarded_update(db, viewer, what="追缴事项", key=str(clawback_id), expected_version=expected_version,
                                attempted={"status": st.value, "settled_on": str(day)}, load=load,
                                authorize=authorize, apply=apply, view=lambda s, c: _clawback_view(c),
                                reason=f"追缴事项：{st.label}" + (f"（{why}）" if why else ""))


def clawbacks(db: Database, viewer: Principal | str, status: str | None = None) -> dict[str, Any]:
    """Every claw-back line the caller may read (pending first), with totals."""
    viewer = _signed_in(viewer)
    out = []
    for a in list_agreements(db, viewer)["agreements"]:
        for c in a["clawbacks"]:
            if status and c["status"] != status:
                continue
            out.append({**c, "agreement_no": a["agreement_no"], "parcel_code": a["parcel_code"],
                        "enterprise": a["enterprise"]["name"]})
    out.sort(key=lambda c: (c["status"] != "pending", c["id"]))
    return {"count": len(out), "pending_wan": round(sum(c["amount_wan"] for c in out if c["status"] == "pending"), 4),
            "clawbacks": out}
