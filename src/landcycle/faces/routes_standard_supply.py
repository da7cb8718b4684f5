"""标准地 supply over HTTP (issue 7, item 2): 区域评估 results of a zone and a parcel's 出让方案.

``GET /api/zones/{zone}/assessments`` — public (000:974: 及时向社会主动公开); ``POST`` files a
result (officials of the zone). ``GET /api/parcels/{code}/standard-plan`` — the parcel's
assessment standing and its current plan with its review; ``POST`` drafts one; ``PUT
/api/standard-plans/{id}`` edits a draft; ``POST /api/standard-plans/{id}/approval`` approves it
(county/city, refused with every R5/R6 reason); ``POST /api/standard-plans/{id}/withdrawal``.
Versions: ``If-Match`` or ``version``. Rules: ``domain/standard_supply.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from ..domain.access import Principal
from ..services import standard_supply
from .auth import current_principal
from .editing import (MAX_INT, Body, Day, Geometry, IfMatch, Number, Reason, Text, Version, expected_version,
                      versioned)

PlanId = Annotated[int, Path(ge=1, le=MAX_INT, description="出让方案编号")]


class AssessmentIn(Body):
    """一项区域评估成果。area 省略表示覆盖整个产业集聚区。"""

    item: Text(40, min_length=1)  # type: ignore[valid-type]
    title: Text(200, min_length=1)  # type: ignore[valid-type]
    number: Text(100, min_length=1)  # type: ignore[valid-type]
    agency: Text(200) = ""  # type: ignore[valid-type]
    completed_date: Day
    valid_until: Day | None = None
    area: Geometry | None = None
    note: Reason = None


class PlanIn(Body):
    """出让方案：项目类别、入驻评审类别、出让年限、供应方式、行业代码、基础指标、发展指标、履约保函、分批供地说明。"""

    project_class: Text(40, min_length=1)  # type: ignore[valid-type]
    admission_class: Text(20, min_length=1)  # type: ignore[valid-type]
    term_years: int
    supply_mode: Text(40, min_length=1)  # type: ignore[valid-type]
    industry_code: Text(5) | None = None  # type: ignore[valid-type]
    base: dict[str, Number] = {}
    development: dict[str, Number] = {}
    guarantee_wan: Number | None = None
    batch_note: Text(500) = ""  # type: ignore[valid-type]


class PlanDraftIn(Body):
    plan: PlanIn
    reason: Reason = None


class PlanChangeIn(Body):
    plan: PlanIn
    version: Version | None = None
    reason: Reason = None


class ApprovalIn(Body):
    approval_number: Text(100, min_length=1)  # type: ignore[valid-type]
    version: Version | None = None
    reason: Reason = None


class WithdrawalIn(Body):
    version: Version | None = None
    reason: Text(500, min_length=1)  # type: ignore[valid-type]


def _plan_response(view: dict[str, Any], status_code: int = 200):
    return versioned(view, status_code=status_code, version=view["plan"]["version"])


def build_router() -> APIRouter:
    router = APIRouter(tags=["标准地出让"])

    @router.get("/api/zones/{zone}/assessments", summary="产业集聚区区域评估成果（公开）")
    def assessments(zone: str, request: Request):
        """区域评估成果（土地勘测、矿产压覆、地质灾害、节能、水土保持、文物保护、洪水影响、地震安全性、气候可行性、
        环境评价）：每项当前有效的整区成果和全部存档成果。向社会公开（000:974）。"""
        return standard_supply.zone_assessments(request.app.state.db, zone)

    @router.post("/api/zones/{zone}/assessments", status_code=201, summary="登记区域评估成果")
    def add_assessment(zone: str, body: AssessmentIn, request: Request,
                       who: Principal = Depends(current_principal)):
        """登记一项区域评估成果（只能追加；新成果取代旧成果，旧成果存档）。须为该产业集聚区或其所在县、市的管理部门。"""
        data = body.model_dump()
        if body.area is not None:
            data["area"] = body.area.model_dump(exclude={"bbox"})
        return standard_supply.record_assessment(request.app.state.db, zone, data, who)

    @router.get("/api/parcels/{code}/standard-plan", summary="宗地的区域评估情况和标准地出让方案")
    def plan(code: str, request: Request, who: Principal = Depends(current_principal)):
        """宗地各项区域评估成果是否有效并覆盖宗地，当前出让方案（草稿或已批准）及其审查（R5 控制性指标、R6 入驻评审）。"""
        return standard_supply.plan_view(request.app.state.db, code, who)

    @router.post("/api/parcels/{code}/standard-plan", status_code=201, summary="编制标准地出让方案（草稿）")
    def draft(code: str, body: PlanDraftIn, request: Request, who: Principal = Depends(current_principal)):
        """为标记为“标准地”的宗地编制出让方案草稿（000:994）。"""
        view = standard_supply.draft_plan(request.app.state.db, code, body.plan.model_dump(), who,
                                          reason=body.reason)
        return _plan_response(view, 201)

    @router.put("/api/standard-plans/{plan_id}", summary="修改出让方案草稿（需版本号）")
    def change(plan_id: PlanId, body: PlanChangeIn, request: Request, if_match: IfMatch = None,
               who: Principal = Depends(current_principal)):
        """修改草稿；已批准的方案不能修改（撤回后重新编制）。版本过期：409。"""
        view = standard_supply.change_plan(request.app.state.db, plan_id, body.plan.model_dump(), who,
                                           expected_version(if_match, body.version), reason=body.reason)
        return _plan_response(view)

    @router.post("/api/standard-plans/{plan_id}/approval", summary="批准出让方案（需版本号）")
    def approve(plan_id: PlanId, body: ApprovalIn, request: Request, if_match: IfMatch = None,
                who: Principal = Depends(current_principal)):
        """报政府批准（000:996）：市级或县级管理员；基础指标未达到 R5、年限或方式不符 R6 时 422 并列出全部原因。"""
        view = standard_supply.approve_plan(request.app.state.db, plan_id, body.approval_number, who,
                                            expected_version(if_match, body.version), reason=body.reason)
        return _plan_response(view)

    @router.post("/api/standard-plans/{plan_id}/withdrawal", summary="撤回出让方案（需版本号和原因）")
    def withdraw(plan_id: PlanId, body: WithdrawalIn, request: Request, if_match: IfMatch = None,
                 who: Principal = Depends(current_principal)):
        """撤回草稿或尚未用于出让的已批准方案；原文存档。"""
        view = standard_supply.withdraw_plan(request.app.state.db, plan_id, who,
                                             expected_version(if_match, body.version), reason=body.reason)
        return _plan_response(view)

    return router
