"""Commitment-based approvals over HTTP (告知承诺制/代办制, issue 7 item 3).

``GET /api/parcels/{code}/approvals`` — the parcel's approval cases the caller may read (each
step's start, due date, done date, working days used and status as of ``as_of``, default today),
the tracks and whether the caller may open one. ``POST`` the same path opens a case: ``{track,
project, reason}`` → 201. ``POST /api/approvals/{id}/events`` records an event: ``{step, kind,
date, number, note, version}`` → 200 with the case. ``GET /api/approvals/{id}`` reads one case.
Refusals: 422 with every reason in Chinese (nothing written), 401 anonymous, 403 a role that may
not write (enterprise, department), 404 outside the caller's jurisdiction, 409 a stale version.
Rules: ``domain/approvals.py``; docs: ``docs/approvals.md``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from ..domain.access import Principal
from ..services import approvals
from .auth import current_principal
from .editing import MAX_INT, Body, Day, Flag, IfMatch, Number, Reason, Text, Version, Whole, expected_version, versioned


CaseId = Annotated[int, Path(ge=1, le=MAX_INT, description="审批事项编号")]


class ProjectIn(Body):
    """申报的项目情况（小型低风险项目须全部填写）。"""

    name: Text(200) | None = None  # type: ignore[valid-type]
    total_floor_area_m2: Number | None = None
    building_height_m: Number | None = None
    basement_floors: Whole(0, 20) | None = None  # type: ignore[valid-type]
    hazardous: Flag | None = None


class CaseIn(Body):
    """开立审批事项：办理方式（with_drawings / small_low_risk / commitment 或中文名称）、项目情况和原因。"""

    track: Text(60, min_length=1)  # type: ignore[valid-type]
    project: ProjectIn | None = None
    reason: Reason = None


class EventIn(Body):
    """登记审批事项的一项进展：步骤、事项类型、日期、文号、说明和所依据的版本（可选）。"""

    step: Text(60, min_length=1)  # type: ignore[valid-type]
    kind: Text(40, min_length=1)  # type: ignore[valid-type]
    date: Day
    number: Text(100) | None = None  # type: ignore[valid-type]
    note: Text(2000) | None = None  # type: ignore[valid-type]
    version: Version | None = None


def build_router() -> APIRouter:
    router = APIRouter(tags=["审批事项"])

    @router.get("/api/parcels/{code}/approvals", summary="宗地的告知承诺制审批事项及各步骤期限")
    def list_cases(code: str, request: Request, as_of: date | None = Query(None, description="按此日判断（默认今日）"),
                   who: Principal = Depends(current_principal)):
        """宗地的审批事项（企业只能看到本企业的）、各步骤起算日、期限届满日、办结日、已用工作日和状态。须登录。"""
        return approvals.list_cases(request.app.state.db, code, who, as_of=as_of)

    @router.post("/api/parcels/{code}/approvals", summary="开立审批事项（辖区管理部门）", status_code=201)
    def open_case(code: str, body: CaseIn, request: Request, who: Principal = Depends(current_principal)):
        """开立审批事项。不符合条件：422 并列出全部原因，不做任何修改；无权：403；不在本辖区：404。"""
        case = approvals.open_case(request.app.state.db, code, who, body.track,
                                   project=body.project.model_dump(exclude_none=True) if body.project else None,
                                   reason=body.reason)
        return versioned(case, status_code=201, location=f"/api/approvals/{case['id']}")

    @router.get("/api/approvals/{case_id}", summary="一项审批事项")
    def get_case(case_id: CaseId, request: Request, as_of: date | None = Query(None, description="按此日判断（默认今日）"),
                 who: Principal = Depends(current_principal)) -> JSONResponse:
        """一项审批事项及其各步骤期限和记录。不可见：404。"""
        return versioned(approvals.get_case(request.app.state.db, case_id, who, as_of=as_of))

    @router.post("/api/approvals/{case_id}/events", summary="登记审批事项进展（受理、办结、公示异议）")
    def record(case_id: CaseId, body: EventIn, request: Request, if_match: IfMatch = None,
               who: Principal = Depends(current_principal)):
        """登记一项进展。步骤顺序不对、日期早于起算日或晚于今日、期限超出已载入的节假日安排：422，不做任何修改；
        企业、职能部门：403；不在本辖区：404；给出的版本已过期：409。"""
        # The version is optional here (events append); given, a stale one is refused (409).
        version = expected_version(if_match, body.version) if (if_match or body.version) else None
        case = approvals.record_event(request.app.state.db, case_id, who, body.step, body.kind, body.date,
                                      number=body.number, note=body.note, expected_version=version)
        return versioned(case)

    return router
