"""预警通知 over HTTP (issue 7, item 7): the notices the daily job raised, its runs, and the
subscriptions that say where notices are delivered.

``GET /api/warnings/notices`` — my notices, newest first, each with its delivery attempts (an
enterprise: its own; officials: those of parcels in their jurisdiction; others 403, the public
401). ``GET /api/warnings/runs`` — the job's runs (officials). ``GET/POST
/api/warnings/subscriptions``, ``PATCH/DELETE /api/warnings/subscriptions/{id}`` (version
required; DELETE deactivates, the deliveries stay on file). The open deadlines themselves:
``GET /api/warnings`` (routes_workbench). Rules: ``services/notices.py``.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Path, Query, Request

from ..domain.access import Principal
from ..services import notices
from .auth import current_principal
from .editing import MAX_INT, Body, Flag, IfMatch, Reason, Text, Version, changes_of, expected_version, versioned
from .paging import MAX_OFFSET


class SubscriptionIn(Body):
    """新建预警订阅：辖区（县(市、区)或产业集聚区，代码、名称或别名；官员缺省为本辖区）或企业（统一社会信用代码，
    企业账号缺省为本企业），电子邮件地址和/或回调地址。"""

    jurisdiction: Text(100, min_length=1) | None = None  # type: ignore[valid-type]
    enterprise: Text(18, min_length=1) | None = None  # type: ignore[valid-type]
    email: Text(254, min_length=1) | None = None  # type: ignore[valid-type]
    webhook_url: Text(500, min_length=1) | None = None  # type: ignore[valid-type]
    note: Text(200) | None = None  # type: ignore[valid-type]


class SubscriptionPatch(Body):
    """修改预警订阅（需版本号）。"""

    email: Text(254) | None = None  # type: ignore[valid-type]
    webhook_url: Text(500) | None = None  # type: ignore[valid-type]
    note: Text(200) | None = None  # type: ignore[valid-type]
    active: Flag | None = None
    version: Version | None = None
    reason: Reason = None


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/warnings", tags=["预警通知"])

    @router.get("/notices", summary="我的预警通知（分页）")
    def my_notices(request: Request,
                   as_of: date | None = Query(None, description="预警任务的基准日 YYYY-MM-DD"),
                   parcel: str | None = Query(None, max_length=19, description="宗地代码"),
                   recipient: str | None = Query(None, max_length=20, description="接收方：jurisdiction 或 enterprise"),
                   superseded: bool = Query(False, description="是否包含被更紧的提前量取代、未发送的通知"),
                   limit: int = Query(100, ge=1, le=notices.MAX_PAGE, description="每页条数"),
                   offset: int = Query(0, ge=0, le=MAX_OFFSET, description="偏移量"),
                   viewer: Principal = Depends(current_principal)):
        """每日预警任务生成的通知：宗地、事项、期限、剩余天数、依据条款、逾期后果、通知正文和发送记录。
        企业只看到本企业的通知；县(市、区)和产业集聚区管理部门看到本辖区宗地的通知；职能部门 403；未登录 401。"""
        return notices.notices_page(request.app.state.db, viewer=viewer, limit=limit, offset=offset, as_of=as_of,
                                    parcel=parcel, recipient=recipient, include_superseded=superseded)

    @router.get("/runs", summary="预警任务运行记录")
    def runs(request: Request, limit: int = Query(50, ge=1, le=notices.MAX_PAGE, description="每页条数"),
             offset: int = Query(0, ge=0, le=MAX_OFFSET, description="偏移量"),
             viewer: Principal = Depends(current_principal)):
        """每次运行的基准日、操作人、起止时间、期限数、新通知数、发送成功/失败/未发送数和出错的期限来源。仅管理部门。"""
        return notices.runs_page(request.app.state.db, viewer=viewer, limit=limit, offset=offset)

    @router.get("/subscriptions", summary="预警订阅列表")
    def list_subscriptions(request: Request,
                           inactive: bool = Query(False, description="是否包含已停用的订阅"),
                           viewer: Principal = Depends(current_principal)):
        """本人可管理的订阅：管理部门为本辖区的，企业为本企业的。"""
        return {"items": notices.list_subscriptions(request.app.state.db, viewer=viewer,
                                                    include_inactive=inactive)}

    @router.post("/subscriptions", status_code=201, summary="新建预警订阅")
    def create_subscription(body: SubscriptionIn, request: Request, viewer: Principal = Depends(current_principal)):
        """辖区的订阅由该辖区（或上级）的管理部门建立；企业的订阅由企业本身建立。电子邮件地址和回调地址至少一项。"""
        sub = notices.create_subscription(request.app.state.db, viewer=viewer, **body.model_dump())
        return versioned(sub, 201, location=f"/api/warnings/subscriptions/{sub['id']}")

    @router.patch("/subscriptions/{sub_id}", summary="修改预警订阅（需版本号）")
    def update_subscription(body: SubscriptionPatch, request: Request, if_match: IfMatch = None,
                            sub_id: int = Path(..., ge=1, le=MAX_INT, description="订阅编号"),
                            viewer: Principal = Depends(current_principal)):
        """修改电子邮件地址、回调地址、备注或启用状态。版本过期 409；不可管理的订阅 404。"""
        version = expected_version(if_match, body.version)
        changes = changes_of(body)
        return versioned(notices.update_subscription(request.app.state.db, sub_id, changes, version,
                                                     viewer=viewer, reason=body.reason))

    @router.delete("/subscriptions/{sub_id}", summary="停用预警订阅（需版本号）")
    def delete_subscription(request: Request, if_match: IfMatch = None,
                            version: int | None = Query(None, ge=1, le=MAX_INT, description="所依据的版本（或用 If-Match）"),
                            sub_id: int = Path(..., ge=1, le=MAX_INT, description="订阅编号"),
                            viewer: Principal = Depends(current_principal)):
        """停用订阅：不再发送；已有的发送记录保留。"""
        v = expected_version(if_match, version)
        return versioned(notices.update_subscription(request.app.state.db, sub_id, {"active": False}, v,
                                                     viewer=viewer, reason="停用预警订阅"))

    return router
