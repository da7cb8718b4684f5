"""The audit trail over HTTP — read only.

The change log is append-only (database triggers refuse UPDATE and DELETE), and the API offers
no way to change it either: these paths answer GET only (any other method: 405). The city
administrator reads all of it, county admins and zone managers the entries of parcels in their
jurisdiction; every user may read their own entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from ..domain.access import Principal
from ..services import audit
from .auth import current_principal
from .editing import MAX_INT
from .paging import PageParams, page_body, page_params

_SINCE = Query(None, description="起始时间（含），ISO 8601；未写时区按北京时间")
_UNTIL = Query(None, description="截止时间（含），ISO 8601；未写时区按北京时间")
_ENTITY = Query(None, max_length=40, description="对象类型：parcels/宗地、enterprises/企业、occupancies/用地关系…")
_ACTION = Query(None, max_length=20, description="操作：create/新建、update/修改、delete/删除、conflict/版本冲突被拒绝")
_PARCEL = Query(None, max_length=19, description="宗地代码")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["审计"])

    @router.get("/audit", summary="审计记录")
    def audit_trail(request: Request,
                    actor: str | None = Query(None, max_length=100, description="操作人用户名"),
                    entity: str | None = _ENTITY, action: str | None = _ACTION, parcel: str | None = _PARCEL,
                    since: datetime | None = _SINCE, until: datetime | None = _UNTIL,
                    page: PageParams = Depends(page_params(audit.SORT_FIELDS)),
                    who: Principal = Depends(current_principal)):
        """所有写操作的记录：操作人、时间、操作、对象、宗地代码、原因、摘要及修改前后的值，默认最新在前。
        市级管理员可查看全部；县(市、区)管理员和产业集聚区管理机构只能查看本辖区宗地的记录。
        记录只能追加，不能通过任何接口修改或删除。"""
        items, total = audit.audit_page(request.app.state.db, viewer=who, actor=actor, entity=entity, action=action,
                                        parcel=parcel, since=since, until=until, sort=page.sort, limit=page.limit,
                                        offset=page.offset)
        return page_body(request, items, total, page)

    @router.get("/audit/{entry_id}", summary="单条审计记录")
    def audit_entry(entry_id: Annotated[int, Path(ge=1, le=MAX_INT)], request: Request,
                    who: Principal = Depends(current_principal)):
        return audit.audit_entry(request.app.state.db, entry_id, viewer=who)

    @router.get("/users/{username}/audit", summary="用户的操作记录")
    def user_audit(username: Annotated[str, Path(max_length=64)], request: Request,
                   entity: str | None = _ENTITY, action: str | None = _ACTION, parcel: str | None = _PARCEL,
                   since: datetime | None = _SINCE, until: datetime | None = _UNTIL,
                   page: PageParams = Depends(page_params(audit.SORT_FIELDS)),
                   who: Principal = Depends(current_principal)):
        """某用户的全部写操作记录，默认最新在前。市级管理员可查看任何用户；其他用户只能查看本人。"""
        items, total = audit.user_audit_page(request.app.state.db, username, viewer=who, entity=entity,
                                             action=action, parcel=parcel, since=since, until=until, sort=page.sort,
                                             limit=page.limit, offset=page.offset)
        return page_body(request, items, total, page)

    return router
