"""Annual evaluation over HTTP (issue 5): runs and their enterprise results, 公示 with
objections, and the verdicts of a parcel or an enterprise.

Everything here is confidential (tax, output, classes of named enterprises): the public gets
401. The services scope what each caller reads — zone summaries to the caller's zones,
enterprise results and objections to the enterprises whose data the caller may read (an
enterprise account: itself). Running, publishing and deciding objections are the city admin's.
Objections are filed and decided on the server's date (a caller cannot backdate into the window).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from ..domain.access import Principal
from ..services import evaluation, publicity, verdicts
from .auth import current_principal
from .paging import PageParams, page_body, page_params

_MAX_ID = 2**31 - 1


def _today() -> date:
    """The server's date: the day objections are filed and decided (a seam for tests)."""
    return date.today()


def _id(description: str = "评价批次号"):
    return PathParam(..., ge=1, le=_MAX_ID, description=description)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(..., ge=evaluation.MIN_YEAR, le=evaluation.MAX_YEAR, description="评价年度（按当年12月31日认定）")


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    published_on: date | None = Field(None, description="公示日期（缺省为今天）；异议期按规则库的工作日数计算")


class ObjectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enterprise: str | None = Field(None, max_length=18,
                                   description="企业统一社会信用代码（企业账号可省略，只能为本企业提出）")
    reason: str = Field(..., min_length=1, max_length=2000, description="异议理由")


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upheld: bool = Field(..., description="异议是否成立")
    reason: str = Field(..., min_length=1, max_length=2000, description="处理理由")
    revised_class: Literal["A", "B", "C"] | None = Field(None, description="异议成立时改定的类别")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["亩均效益评价"])

    @router.get("/evaluations", summary="评价批次列表")
    def list_runs(request: Request, page: PageParams = Depends(page_params(evaluation.RUN_SORT_FIELDS)),
                  principal: Principal = Depends(current_principal)):
        items, total = evaluation.list_runs(request.app.state.db, viewer=principal, limit=page.limit,
                                            offset=page.offset, sort=page.sort)
        return page_body(request, items, total, page)

    @router.post("/evaluations", summary="运行年度评价（市级管理员）", status_code=201)
    def run(body: RunRequest, request: Request, principal: Principal = Depends(current_principal)):
        """Evaluate every parcel and enterprise for the year (R1–R4) and store a new run."""
        db = request.app.state.db
        rep = evaluation.evaluate(db, body.year, actor=principal)
        return evaluation.run_summary(db, rep.run_id, viewer=principal)

    @router.get("/evaluations/{run_id}", summary="评价批次概况（按集聚区汇总、公示情况）")
    def summary(request: Request, run_id: int = _id(), principal: Principal = Depends(current_principal)):
        return evaluation.run_summary(request.app.state.db, run_id, viewer=principal)

    @router.get("/evaluations/{run_id}/results", summary="评价批次的企业评价结果")
    def results(request: Request, run_id: int = _id(),
                klass: str | None = Query(None, alias="class", max_length=20,
                                          description="类别：A、B、C，或 not_evaluated（不参评）"),
                zone: str | None = Query(None, max_length=100, description="产业集聚区代码、名称或别名"),
                county: str | None = Query(None, max_length=100, description="县(市、区)代码、名称或别名"),
                page: PageParams = Depends(page_params(evaluation.RESULT_SORT_FIELDS)),
                principal: Principal = Depends(current_principal)):
        """Each enterprise's current result (after upheld objections) that the caller may read."""
        items, total = evaluation.results_page(request.app.state.db, run_id, viewer=principal, klass=klass,
                                               zone=zone, county=county, limit=page.limit, offset=page.offset,
                                               sort=page.sort)
        return page_body(request, items, total, page)

    @router.post("/evaluations/{run_id}/publish", summary="公示评价结果（市级管理员）")
    def publish(body: PublishRequest, request: Request, run_id: int = _id(),
                principal: Principal = Depends(current_principal)):
        pub = publicity.publish(request.app.state.db, run_id, body.published_on or _today(), principal)
        return {"run_id": pub.run_id, "published_on": pub.published_on.isoformat(),
                "window_workdays": pub.window_workdays, "objection_deadline": pub.objection_deadline.isoformat()}

    @router.get("/evaluations/{run_id}/objections", summary="公示异议列表")
    def objections(request: Request, run_id: int = _id(),
                   status: Literal["pending", "upheld", "rejected"] | None = Query(None, description="处理状态"),
                   page: PageParams = Depends(page_params(publicity.OBJECTION_SORT_FIELDS)),
                   principal: Principal = Depends(current_principal)):
        items, total = publicity.objections_page(request.app.state.db, run_id, viewer=principal, status=status,
                                                 limit=page.limit, offset=page.offset, sort=page.sort)
        return page_body(request, items, total, page)

    @router.post("/evaluations/{run_id}/objections", summary="对公示结果提出异议", status_code=201)
    def file_objection(body: ObjectionRequest, request: Request, run_id: int = _id(),
                       principal: Principal = Depends(current_principal)):
        """An enterprise account objects to its own result; an official files for an
        enterprise of its jurisdiction. Only within the objection window (working days)."""
        db = request.app.state.db
        oid = publicity.file_objection(db, run_id, body.enterprise, body.reason, _today(), principal)
        return publicity.get_objection(db, oid, viewer=principal)

    @router.post("/evaluations/objections/{objection_id}/decision", summary="处理公示异议（市级管理员）")
    def decide(body: DecisionRequest, request: Request, objection_id: int = _id("异议编号"),
               principal: Principal = Depends(current_principal)):
        """Upheld: a new result version with the revised class (the original stays on file)."""
        return publicity.decide_objection(request.app.state.db, objection_id, body.upheld, body.reason, _today(),
                                          principal, body.revised_class)

    @router.get("/verdicts/parcels/{code}", summary="宗地的评价判定（R1/R3/R4：结论、数据、理由、依据）")
    def parcel_verdicts(request: Request, code: str = PathParam(..., max_length=40, description="19位宗地代码"),
                        run: int | None = Query(None, ge=1, le=_MAX_ID, description="评价批次号（缺省为最新一次）"),
                        principal: Principal = Depends(current_principal)):
        return verdicts.parcel_verdicts(request.app.state.db, code, run, viewer=principal)

    @router.get("/verdicts/enterprises/{credit_code}", summary="企业的评价判定（R1/R2：结论、数据、理由、依据）")
    def enterprise_verdicts(request: Request,
                            credit_code: str = PathParam(..., max_length=40, description="统一社会信用代码"),
                            run: int | None = Query(None, ge=1, le=_MAX_ID, description="评价批次号（缺省为最新一次）"),
                            principal: Principal = Depends(current_principal)):
        return verdicts.enterprise_verdicts(request.app.state.db, credit_code, run, viewer=principal)

    return router
