"""Lifecycle transitions over HTTP (issue 7): what a parcel may do next, and doing it.

``GET /api/parcels/{code}/lifecycle`` — the parcel's life in one answer (``services.parcel_life``):
where it stands, what is due next and by when, what follows if missed, every step so far.
``GET /api/parcels/{code}/transitions`` — where the parcel stands, the steps leaving its state
(who may take them, which documents they need, whether each is possible now and why not) and
the steps taken so far. ``POST`` the same path takes a step: ``{transition, version, reason,
documents}`` → 200 with the parcel; 422 with every reason (Chinese, naming the clause), nothing
changed; 409 stale version; 403 a role that may not take the step; 404 a parcel outside the
caller's view; 428 without a version. Rules: ``domain/lifecycle.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..domain.access import Principal
from ..services import lifecycle, parcel_life
from .auth import current_principal
from .editing import Body, Day, IfMatch, Reason, Text, Version, expected_version, versioned


class DocumentIn(Body):
    """流转所附文件。"""

    kind: Text(60, min_length=1)  # type: ignore[valid-type]
    title: Text(200, min_length=1)  # type: ignore[valid-type]
    number: Text(100, min_length=1)  # type: ignore[valid-type]
    date: Day


class TransitionIn(Body):
    """要办理的流转（键或中文名称）、所依据的宗地版本、原因和所附文件。"""

    transition: Text(40, min_length=1)  # type: ignore[valid-type]
    version: Version | None = None
    reason: Reason = None
    documents: list[DocumentIn] = []


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/parcels", tags=["生命周期"])

    @router.get("/{code}/transitions", summary="宗地可办理的流转及流转记录")
    def allowed(code: str, request: Request, who: Principal = Depends(current_principal)):
        """宗地当前状态、从该状态出发的各项流转（办理角色、所需文件、当前能否办理及原因）和已办理的流转。
        须登录；只能查看本人可见的宗地。"""
        return lifecycle.allowed_transitions(request.app.state.db, code, who)

    @router.get("/{code}/lifecycle", summary="宗地生命周期概览：所处阶段、到期事项、下一步和全部经过")
    def overview(code: str, request: Request, who: Principal = Depends(current_principal)):
        """宗地当前所处阶段；未办结的期限（到期日、剩余天数、依据条款、逾期后果），最先到期者；可办理的流转；
        达产复验前的权利限制；已办理的全部流转。须登录；只包含本人有权查看的部分（parts 列出）。"""
        return parcel_life.life(request.app.state.db, code, who)

    @router.post("/{code}/transitions", summary="办理宗地生命周期流转（需版本号）")
    def take(code: str, body: TransitionIn, request: Request, if_match: IfMatch = None,
             who: Principal = Depends(current_principal)):
        """办理一项流转。条件不满足或缺少文件：422 并列出全部原因，不做任何修改；版本过期：409；
        角色无权办理：403；不在本辖区：404；未给出版本：428。"""
        version = expected_version(if_match, body.version)
        result = lifecycle.transition(request.app.state.db, code, body.transition, who, version,
                                      reason=body.reason,
                                      documents=[d.model_dump() for d in body.documents])
        return versioned(result["parcel"] | {"transition": result["transition"]})

    return router
