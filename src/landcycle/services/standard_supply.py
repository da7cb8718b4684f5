"""标准地 supply (issue 7, item 2): a zone's 区域评估 results, a parcel's 出让方案, and the facts
the lifecycle's ``supply`` step checks them with.

Who does what (000:968–998): the zone's 管理机构 organises the 区域评估 and proposes the
indicators (zone managers and the county/city above them record results and draft a plan); the
plan is approved by the government (county or city administrators); the sale itself is the
lifecycle step ``supply`` (``services.lifecycle``), whose guard reads :func:`sale_facts`.

区域评估 results are public (000:974: 及时向社会主动公开，供进驻产业集聚区企业无偿使用); plans are
read by signed-in users who may read the parcel (the published supply list carries what the
public sees). Rules: ``domain/standard_supply.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import shapely
import shapely.geometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import standard_supply as ss
from ..domain.access import Action, Principal, Role, as_principal
from ..domain.errors import Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.geometry import as_multipolygon
from ..domain.vocabulary import JurisdictionKind
from ..storage.db import Database
from ..storage.schema import Jurisdiction, Parcel, PerformanceAgreement, SupplyContract
from ..storage.standard_supply_schema import RegionalAssessment, StandardLandPlan
from . import access, audit, jurisdictions, registry
from .rules import load_rulebook

#: Who approves a plan: the government (报政府批准, 000:996).
_APPROVERS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN})
#: How far outside an assessed area a parcel may reach and still count as covered (degrees,
#: ≈ 1 cm): boundaries drawn from the same survey meet, not overlap, to the last digit.
_COVER_TOLERANCE_DEG = 1e-7


def rulebook_for(s: Session, p: Parcel):
    """The rulebook with the parcel's county and zone overrides applied (tighten-only, 000:962)."""
    codes = [j.code for j in (p.county, p.zone) if j is not None]
    return load_rulebook(codes)


# =========================================================================== 区域评估
def _zone(s: Session, key: str) -> Jurisdiction:
    return jurisdictions.resolve(s, key, JurisdictionKind.ZONE, record="区域评估", field="zone")


def _assessment_view(a: RegionalAssessment, rulebook) -> dict[str, Any]:
    until = ss.assessment_valid_until(ss.Assessment(a.item, a.completed_date, a.valid_until, True), rulebook)
    return {"id": a.id, "item": a.item, "item_label": ss.ASSESSMENT_ITEMS.get(a.item, a.item), "title": a.title,
            "number": a.number, "agency": a.agency, "completed_date": a.completed_date.isoformat(),
            "valid_until": until.isoformat(), "valid_until_stated": a.valid_until is not None,
            "whole_zone": a.geometry is None,
            "area": shapely.geometry.mapping(a.geometry) if a.geometry is not None else None,
            "note": a.note}


def zone_assessments(db: Database, zone: str, as_of: date | None = None) -> dict[str, Any]:
    """A zone's 区域评估 results (public, 000:974): every result on file and, per item, the one
    in force for the whole zone on ``as_of``."""
    as_of = as_of or audit.local_today()
    rulebook = load_rulebook()
    with db.reader() as s:
        try:
            z = _zone(s, zone)
        except ValidationFailed:
            raise NotFound("产业集聚区", zone) from None
        rows = s.scalars(select(RegionalAssessment).where(RegionalAssessment.zone_id == z.id)
                         .order_by(RegionalAssessment.item, RegionalAssessment.completed_date,
                                   RegionalAssessment.id)).all()
        records = [ss.Assessment(r.item, r.completed_date, r.valid_until, r.geometry is None, r.title, r.number)
                   for r in rows]
        return {"zone": {"code": z.code, "name": z.name}, "as_of": as_of.isoformat(),
                "items": ss.assessment_status(records, as_of, rulebook),
                "results": [_assessment_view(r, rulebook) for r in rows]}


def record_assessment(db: Database, zone: str, data: dict[str, Any], viewer: Principal | str,
                      as_of: date | None = None) -> dict[str, Any]:
    """File one 区域评估 result for a zone (append-only). ``data``: item, title, number, agency,
    completed_date, valid_until (optional), area (optional GeoJSON polygon in EPSG:4490, None =
    the whole zone), note. Officials of the zone (its 管理机构, its county, the city) only."""
    editor = as_principal(viewer)
    if editor.is_public:
        raise Unauthorized()
    access.require(editor, Action.EDIT_PARCELS)
    as_of = as_of or audit.local_today()
    record = f"区域评估 {zone}"
    problems: list[Problem] = []
    item = data.get("item")
    item = next((k for k, v in ss.ASSESSMENT_ITEMS.items() if item in (k, v)), item)
    if item not in ss.ASSESSMENT_ITEMS:
        problems.append(Problem(record, "item", f"未知的评估事项“{item}”，应为："
                                + "、".join(f"{v}({k})" for k, v in ss.ASSESSMENT_ITEMS.items())))
    for name, label in (("title", "成果名称"), ("number", "文号或报告编号")):
        if not str(data.get(name) or "").strip():
            problems.append(Problem(record, name, f"缺少{label}"))
    completed, until = data.get("completed_date"), data.get("valid_until")
    if not isinstance(completed, date):
        problems.append(Problem(record, "completed_date", "缺少完成日期"))
    elif completed > as_of:
        problems.append(Problem(record, "completed_date", f"完成日期 {completed} 晚于今日 {as_of}"))
    if until is not None and isinstance(completed, date) and until <= completed:
        problems.append(Problem(record, "valid_until", f"有效期至 {until} 不晚于完成日期 {completed}"))
    area = None
    if data.get("area") is not None:
        try:
            area = as_multipolygon(shapely.geometry.shape(data["area"]))
        except Exception:  # noqa: BLE001 - any unreadable shape is the caller's input error
            problems.append(Problem(record, "area", "评估范围应为 GeoJSON 多边形（EPSG:4490 经纬度）"))
        else:
            if area.is_empty or not area.is_valid:
                problems.append(Problem(record, "area", "评估范围不是有效的多边形（自相交或为空）"))
                area = None
    if problems:
        raise ValidationFailed(problems)
    with db.transaction(actor=editor.actor, reason=data.get("note")) as s:
        z = _zone(s, zone)
        if not editor.can_edit_in(z.territory_county_id or z.parent_id, z.id):
            raise Forbidden(f"{editor.role.label}不能登记{z.name}的区域评估成果（须为该产业集聚区或其所在县、市的管理部门）")
        if area is not None and z.geometry is not None and not area.intersects(z.geometry):
            raise ValidationFailed(Problem(record, "area", f"评估范围与{z.name}的范围不相交"))
        row = RegionalAssessment(zone_id=z.id, item=item, title=str(data["title"]).strip()[:200],
                                 number=str(data["number"]).strip()[:100],
                                 agency=str(data.get("agency") or "").strip()[:200], completed_date=completed,
                                 valid_until=until, geometry=area, note=data.get("note"), recorded_by=editor.actor)
        s.add(row)
        s.flush()
        return _assessment_view(row, load_rulebook())


def parcel_assessments(s: Session, p: Parcel) -> list[ss.Assessment]:
    """The results of the parcel's zone, each marked whether its area covers the parcel."""
    if p.zone_id is None:
        return []
    rows = s.scalars(select(RegionalAssessment).where(RegionalAssessment.zone_id == p.zone_id)).all()
    out = []
    for r in rows:
        covers = r.geometry is None or r.geometry.buffer(_COVER_TOLERANCE_DEG).covers(p.geometry)
        out.append(ss.Assessment(r.item, r.completed_date, r.valid_until, bool(covers), r.title, r.number))
    return out


# =========================================================================== 出让方案
def _latest_plan(s: Session, p: Parcel, statuses: tuple[str, ...] = ("draft", "approved")) -> StandardLandPlan | None:
    return s.scalar(select(StandardLandPlan).where(StandardLandPlan.parcel_id == p.id,
                                                   StandardLandPlan.status.in_(statuses))
                    .order_by(StandardLandPlan.id.desc()).limit(1))


def approved_plan(s: Session, p: Parcel) -> ss.SupplyPlan | None:
    """The parcel's approved 出让方案 for its current sale (the newest approved one), if any."""
    row = _latest_plan(s, p, ("approved",))
    return ss.plan_from_dict(row.plan) if row is not None else None


def sale_terms(s: Session, contract: SupplyContract | None, agreement: PerformanceAgreement | None
               ) -> ss.SaleTerms | None:
    """What the latest contract and its agreement record (None without a contract)."""
    if contract is None:
        return None
    fields = {f for f, _ in ss.AGREEMENT_FIELDS.values()}
    agreed = {f: getattr(agreement, f, None) for f in fields} if agreement is not None else {}
    return ss.SaleTerms(term_years=contract.term_years, supply_method=contract.supply_method,
                        price_wan=contract.price_wan, agreement=agreed,
                        guarantee_wan=agreement.performance_guarantee_wan if agreement is not None else None)


def _plan_view(s: Session, row: StandardLandPlan | None, p: Parcel, as_of: date) -> dict[str, Any]:
    rulebook = rulebook_for(s, p)
    records = parcel_assessments(s, p)  # read once, shown two ways
    out: dict[str, Any] = {"code": p.code, "is_standard_land": bool(p.is_standard_land), "as_of": as_of.isoformat(),
                           "rulebook_version": rulebook.label,
                           "assessments": ss.assessment_status(records, as_of, rulebook),
                           "assessment_reasons": ss.assessment_gaps(records, as_of, rulebook),
                           "plan": None}
    if row is None:
        return out
    plan = ss.plan_from_dict(row.plan)
    review = ss.review_plan(plan, p.area_mu, p.plot_ratio_min, p.plot_ratio_max, rulebook)
    approved_at = audit.as_utc(row.approved_at)
    out["plan"] = {"id": row.id, "status": row.status, "version": row.version, **ss.plan_to_dict(plan),
                   "approval_number": row.approval_number, "approved_by": row.approved_by,
                   "approved_at": approved_at.isoformat() if approved_at else None,
                   # the review as filed at approval; for a draft, the review it would get now
                   "review": row.review if row.status == "approved" else {
                       "standard_land": review.standard_land, "admission": review.admission,
                       "reasons": review.reasons, "passes": review.passes}}
    return out


def plan_view(db: Database, code: str, viewer: Principal | str, as_of: date | None = None) -> dict[str, Any]:
    """The parcel's 区域评估 standing and its current 出让方案 (draft or approved) with its review."""
    viewer = as_principal(viewer)
    if viewer.is_public:
        raise Unauthorized()
    as_of = as_of or audit.local_today()
    with db.reader() as s:
        p = registry.visible_parcel(s, code, viewer)
        return _plan_view(s, _latest_plan(s, p), p, as_of)


def _parse(raw: Any, code: str) -> ss.SupplyPlan:
    plan, problems = ss.parse_plan(raw, f"宗地 {code} 的出让方案")
    if problems:
        raise ValidationFailed(problems)
    return plan


def _check_class(plan: ss.SupplyPlan, s: Session, p: Parcel, code: str) -> None:
    # Classes the rulebook does not know are input errors of the plan, reported before writing.
    rulebook = rulebook_for(s, p)
    record = f"宗地 {code} 的出让方案"
    if plan.project_class not in rulebook.section("standard_land").get("classes", {}):
        raise ValidationFailed(Problem(record, "project_class", f"项目类别“{plan.project_class}”不在规则库中"))
    classes = rulebook.section("admission").get("classes", {})
    if plan.admission_class not in classes and plan.admission_class not in {c.get("label") for c in classes.values()}:
        raise ValidationFailed(Problem(record, "admission_class", f"入驻评审类别“{plan.admission_class}”不在规则库中，应为："
                                       + "、".join(f"{c.get('label')}({k})" for k, c in classes.items())))


def draft_plan(db: Database, code: str, raw: Any, viewer: Principal | str, reason: str | None = None,
               as_of: date | None = None) -> dict[str, Any]:
    """Start a 出让方案 for a 标准地 (000:994: the zone proposes the indicators). Refused when the
    parcel is not marked 标准地 or already has a draft or an approved plan (edit or withdraw it)."""
    editor = as_principal(viewer)
    if editor.is_public:
        raise Unauthorized()
    as_of = as_of or audit.local_today()
    plan = _parse(raw, code)
    with db.transaction(actor=editor.actor, reason=reason) as s:
        p = registry.editable_parcel(s, code, editor)
        record = f"宗地 {p.code}"
        if not p.is_standard_land:
            raise ValidationFailed(Problem(record, "is_standard_land", "宗地未标记为“标准地”，不能编制标准地出让方案"))
        current = _latest_plan(s, p)
        if current is not None:
            what = "草稿" if current.status == "draft" else "已批准的方案"
            raise ValidationFailed(Problem(record, "plan", f"宗地已有出让方案{what}（编号 {current.id}），请修改或撤回后再编制",
                                           "exists"))
        _check_class(plan, s, p, p.code)
        row = StandardLandPlan(parcel_id=p.id, plan=ss.plan_to_dict(plan), status="draft", created_by=editor.actor)
        s.add(row)
        s.flush()
        return _plan_view(s, row, p, as_of)


def _plan_by_id(s: Session, plan_id: int) -> StandardLandPlan:
    row = s.get(StandardLandPlan, plan_id)
    if row is None:
        raise NotFound("出让方案", str(plan_id))
    return row


def _authorize_plan(editor: Principal, s: Session, row: StandardLandPlan, approve: bool = False) -> None:
    registry.authorize_parcel_edit(s, editor, row.parcel)
    if approve and editor.role not in _APPROVERS:
        raise Forbidden(f"出让方案须报政府批准（000:996）：只能由市级管理员、县(市、区)管理员批准，{editor.role.label}无权批准")


def change_plan(db: Database, plan_id: int, raw: Any, viewer: Principal | str, expected_version: int | None,
                reason: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Replace a draft plan's content (versioned: a stale version is 409). Approved plans are
    not edited: withdraw and draft a new one, so the approved text stays on file."""
    editor = as_principal(viewer)
    if expected_version is None:
        raise audit.VersionRequired()
    as_of = as_of or audit.local_today()
    plan = _parse(raw, str(plan_id))

    def apply(s: Session, row: StandardLandPlan) -> None:
        if row.status != "draft":
            raise ValidationFailed(Problem(f"出让方案 {row.id}", "status", "只有草稿可以修改；已批准或已撤回的方案保留原文"))
        _check_class(plan, s, row.parcel, row.parcel.code)
        row.plan = ss.plan_to_dict(plan)

    return audit.guarded_update(db, editor, what="出让方案", key=str(plan_id), expected_version=expected_version,
                                attempted={"plan": ss.plan_to_dict(plan)}, reason=reason,
                                load=lambda s: _plan_by_id(s, plan_id),
                                authorize=lambda s, row: _authorize_plan(editor, s, row),
                                apply=apply, view=lambda s, row: _plan_view(s, row, row.parcel, as_of))


def approve_plan(db: Database, plan_id: int, approval_number: str, viewer: Principal | str,
                 expected_version: int | None, reason: str | None = None, as_of: date | None = None
                 ) -> dict[str, Any]:
    """Approve a draft (报政府批准, 000:996): refused with every reason unless the base indicators
    meet R5 (with the county/zone override), the term and mode fit the R6 class and the plan
    fits the parcel's planning conditions. The verdicts are filed with the approval."""
    editor = as_principal(viewer)
    if expected_version is None:
        raise audit.VersionRequired()
    as_of = as_of or audit.local_today()
    number = (approval_number or "").strip()
    if not number or len(number) > 100:
        raise ValidationFailed(Problem(f"出让方案 {plan_id}", "approval_number", "缺少批准文号（不超过100个字符）"))

    def apply(s: Session, row: StandardLandPlan) -> None:
        record = f"出让方案 {row.id}"
        if row.status != "draft":
            raise ValidationFailed(Problem(record, "status", f"方案状态为“{row.status}”，只有草稿可以批准"))
        p = row.parcel
        review = ss.review_plan(ss.plan_from_dict(row.plan), p.area_mu, p.plot_ratio_min, p.plot_ratio_max,
                                rulebook_for(s, p))
        if not review.passes:
            raise ValidationFailed([Problem(record, "plan", f"不能批准：{r}", "refused") for r in review.reasons])
        row.status = "approved"
        row.review = {"standard_land": review.standard_land, "admission": review.admission,
                      "reasons": [], "passes": True}
        row.approval_number = number
        row.approved_by = editor.actor
        row.approved_at = datetime.now(UTC)

    return audit.guarded_update(db, editor, what="出让方案", key=str(plan_id), expected_version=expected_version,
                                attempted={"status": "approved", "approval_number": number}, reason=reason,
                                load=lambda s: _plan_by_id(s, plan_id),
                                authorize=lambda s, row: _authorize_plan(editor, s, row, approve=True),
                                apply=apply, view=lambda s, row: _plan_view(s, row, row.parcel, as_of))


def withdraw_plan(db: Database, plan_id: int, viewer: Principal | str, expected_version: int | None,
                  reason: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Withdraw a draft or an approved plan not yet used for a sale (the text stays on file)."""
    editor = as_principal(viewer)
    if expected_version is None:
        raise audit.VersionRequired()
    if not (reason or "").strip():
        raise ValidationFailed(Problem(f"出让方案 {plan_id}", "reason", "撤回出让方案须说明原因"))
    as_of = as_of or audit.local_today()

    def apply(s: Session, row: StandardLandPlan) -> None:
        if row.status == "withdrawn":
            raise ValidationFailed(Problem(f"出让方案 {row.id}", "status", "方案已撤回"))
        if row.status == "approved" and row.parcel.state != "listed":
            raise ValidationFailed(Problem(f"出让方案 {row.id}", "status",
                                           "宗地已按该方案出让，方案不能撤回（随出让文件存档）"))
        row.status = "withdrawn"

    return audit.guarded_update(db, editor, what="出让方案", key=str(plan_id), expected_version=expected_version,
                                attempted={"status": "withdrawn"}, reason=reason,
                                load=lambda s: _plan_by_id(s, plan_id),
                                authorize=lambda s, row: _authorize_plan(editor, s, row,
                                                                          approve=row.status == "approved"),
                                apply=apply, view=lambda s, row: _plan_view(s, row, row.parcel, as_of))
