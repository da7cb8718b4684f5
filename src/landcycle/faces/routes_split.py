"""分割转让 applications over HTTP (issue 7, R8; 000:1182–1256).

* ``GET /api/parcels/{code}/split-applications`` — the parcel's applications the caller may read.
* ``POST /api/parcels/{code}/split-applications`` — file one: ``{pieces: [{geometry,
  transferee_name, transferee_credit_code}], declared_price_wan, market_price_wan, reason,
  documents, applicant, statements…}`` → 201 with the application (verdict ``eligible`` or
  ``incomplete`` listing the missing documents); 422 with every reason, nothing stored.
* ``GET /api/split-applications/{id}`` — one application, its verdict as filed and, while it
  awaits a decision, the same checks on today's facts (``current``).
* ``POST /api/split-applications/{id}/decision`` — ``{decision: approve|reject|withdraw, version,
  reason, documents}`` (or ``If-Match``) → 200 with the application (and, on approval, the
  children, the parent and the lifecycle step); 409 stale version; 428 without one.
* ``GET /api/parcels/{code}/lineage`` — the parcel's parents and children.

Access: ``services/split_applications.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..domain.access import Principal
from ..services import split_applications as split
from .auth import current_principal
from .editing import Body, Day, Flag, Geometry, IfMatch, Number, Reason, Text, Version, expected_version, to_shape, versioned


class SplitDocumentIn(Body):
    """申请材料：材料名称（000:1222-1235 清单中的一项）、文件名称、文号或编号、日期。"""

    kind: Text(60, min_length=1)  # type: ignore[valid-type]
    title: Text(200, min_length=1)  # type: ignore[valid-type]
    number: Text(100, min_length=1)  # type: ignore[valid-type]
    date: Day


class PieceIn(Body):
    """分割后的一块：图形（EPSG:4490）和受让人（均不填：申请人保留该块）。"""

    geometry: Geometry
    transferee_name: Text(200) | None = None  # type: ignore[valid-type]
    transferee_credit_code: Text(18) | None = None  # type: ignore[valid-type]


class SplitApplicationIn(Body):
    """分割转让申请。"""

    pieces: list[PieceIn]
    declared_price_wan: Number
    market_price_wan: Number | None = None
    reason: Text(2000) | None = None  # type: ignore[valid-type]
    documents: list[SplitDocumentIn] = []
    #: An official filing a paper application names the applicant (统一社会信用代码).
    applicant: Text(18) | None = None  # type: ignore[valid-type]
    includes_public_facilities: Flag = False
    breaks_planning_or_safety: Flag = False
    other_legal_bar: Flag = False
    co_owned: Flag = False


class DecisionIn(Body):
    """审核决定：批准(approve)、驳回(reject)或撤回(withdraw)；批准时可附材料（如分割转让批准意见）。"""

    decision: Text(20, min_length=1)  # type: ignore[valid-type]
    version: Version | None = None
    reason: Reason = None
    documents: list[SplitDocumentIn] = []


def build_router() -> APIRouter:
    router = APIRouter(tags=["分割转让"])

    @router.get("/api/parcels/{code}/split-applications", summary="宗地的分割转让申请")
    def list_(code: str, request: Request, who: Principal = Depends(current_principal)):
        """辖区管理部门：该宗地的全部申请；土地使用权人企业：本企业的申请。须登录。"""
        return split.list_applications(request.app.state.db, code, who)

    @router.post("/api/parcels/{code}/split-applications", status_code=201, summary="提交分割转让申请")
    def submit(code: str, body: SplitApplicationIn, request: Request, who: Principal = Depends(current_principal)):
        """提交申请：校验各块图形（有效、位于宗地内、互不重叠、合计覆盖整宗地）和分割转让条件（R8）。
        不符合：422 并列出全部原因，不保存；材料不全：受理登记为“材料不全”并列出缺少的材料。"""
        pieces = [split.PieceIn(to_shape(p.geometry, f"第{i}块"), p.transferee_name, p.transferee_credit_code)
                  for i, p in enumerate(body.pieces, start=1)]
        statements = split.Statements(body.includes_public_facilities, body.breaks_planning_or_safety,
                                      body.other_legal_bar, body.co_owned)
        app = split.submit(request.app.state.db, code, who, pieces=pieces, declared_price_wan=body.declared_price_wan,
                           market_price_wan=body.market_price_wan, reason=body.reason,
                           documents=[d.model_dump() for d in body.documents], applicant=body.applicant,
                           statements=statements)
        return versioned(app, status_code=201, location=f"/api/split-applications/{app['id']}")

    @router.get("/api/split-applications/{app_id}", summary="分割转让申请详情")
    def get(app_id: int, request: Request, who: Principal = Depends(current_principal)):
        """申请、受理时的审查结论（理由和依据条款、缺少的材料）；待审核的另附按今日情况重新审查的结论（current）。"""
        return versioned(split.get_application(request.app.state.db, app_id, who))

    @router.post("/api/split-applications/{app_id}/decision", summary="审核分割转让申请（需版本号）")
    def decide(app_id: int, body: DecisionIn, request: Request, if_match: IfMatch = None,
               who: Principal = Depends(current_principal)):
        """批准：重新审查，符合条件且材料齐全时在一个事务中生成分割后的宗地（新宗地代码、剩余年限）、
        原宗地转为“分割/转让”并记录来源关系；驳回、撤回须说明原因。版本过期：409；无权：403；不可见：404。"""
        version = expected_version(if_match, body.version)
        result = split.decide(request.app.state.db, app_id, body.decision, who, version, reason=body.reason,
                              documents=[d.model_dump() for d in body.documents])
        return versioned(result)

    @router.get("/api/parcels/{code}/lineage", summary="宗地分割来源与去向")
    def lineage(code: str, request: Request, who: Principal = Depends(current_principal)):
        """宗地由哪宗地分割而来（parents）、分割出哪些宗地（children）。须登录；只列出本人可见的宗地。"""
        return split.lineage(request.app.state.db, code, who)

    return router
