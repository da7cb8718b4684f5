"""The 管地 workbench's own reads (issue 6): 预警 and 驾驶舱, plus the filter choices of the pages.

``GET /api/warnings`` — open deadlines (overdue and due within the rulebook's lead time) of the
parcels in the caller's jurisdiction as of ``as_of`` (default today); ``GET /api/dashboard`` —
亩均税收 per zone against its target tier, A/B/C distribution, 闲置/低效 area by category and the
消化处置率; ``GET /api/workbench/scope`` — the counties and zones the caller covers. All are
scoped like parcel reads; the public gets 401. The ledgers use ``GET /api/parcels`` (with
``category`` and ``totalAreaMu``) and ``GET /api/exports/parcels``.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request

from ..domain.access import Principal
from ..services import dashboard as dashboard_service
from ..services import warnings as warnings_service
from .auth import current_principal
from .paging import MAX_OFFSET


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["管地工作台"])

    @router.get("/warnings", summary="预警：本辖区宗地到期与逾期事项")
    def warnings(request: Request,
                 as_of: date | None = Query(None, description="基准日 YYYY-MM-DD，缺省为今天"),
                 zone: str | None = Query(None, max_length=100, description="产业集聚区代码、名称或别名"),
                 county: str | None = Query(None, max_length=100, description="县(市、区)代码、名称或别名"),
                 kind: str | None = Query(None, max_length=40, description="预警类型，如 start、idle_fee、completion"),
                 severity: str | None = Query(None, max_length=20, description="紧急程度：overdue、urgent、upcoming"),
                 limit: int = Query(100, ge=1, le=warnings_service.MAX_PAGE, description="每页条数"),
                 offset: int = Query(0, ge=0, le=MAX_OFFSET, description="偏移量"),
                 viewer: Principal = Depends(current_principal)):
        """合同/协议约定的动工、竣工、达产期限，闲置满一年（闲置费）、满两年（无偿收回）的时点（R3），
        验收未通过后的整改期届满（R9，最长2年）：已逾期的，以及在提前量（规则库 [warnings] lead_days）内将到期的。
        每条含宗地代码、坐落、集聚区、类型、到期日、剩余天数（负数为逾期）、紧急程度和依据条款；
        ``counts`` 为全部预警按紧急程度和类型的计数。"""
        return warnings_service.warnings_page(request.app.state.db, viewer=viewer, as_of=as_of, zone=zone,
                                              county=county, kind=kind, severity=severity, limit=limit,
                                              offset=offset)

    @router.get("/dashboard", summary="驾驶舱：亩均税收、企业分类、闲置低效面积、消化处置率")
    def dashboard(request: Request, viewer: Principal = Depends(current_principal)):
        """本辖区：各产业集聚区亩均税收与目标档次（最近一次年度评价）、A/B/C 企业分布、
        闲置及各类低效用地面积（亩，按现状）、消化处置率（口径见规则库 [disposal_rate]）。"""
        return dashboard_service.dashboard(request.app.state.db, viewer=viewer)

    @router.get("/workbench/scope", summary="本人可查看的县(市、区)和产业集聚区")
    def scope(request: Request, viewer: Principal = Depends(current_principal)):
        return dashboard_service.scope_jurisdictions(request.app.state.db, viewer=viewer)

    return router
