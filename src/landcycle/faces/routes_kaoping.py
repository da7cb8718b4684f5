"""增存挂钩 quota and 考评 over HTTP (issue 8, items 5, 6 and 9).

``POST /api/quota/{year}`` — compute and store the year's allocation (city admin): ``{total_mu,
reason, parameters, as_of}`` → 201 with the run (per county: figures, weights, allocation,
explanation); ``as_of`` (default today) is the day the 处置台账's figures are read.
``GET /api/quota/{year}/preview?total_mu=&as_of=`` — the same computed, not stored (city admin).
``GET /api/quota/{year}`` — the latest run and the list of runs (officials, departments).

``GET /api/kaoping/{year}?period=`` — the round: scheme, rhythm, the participants the caller may
read. ``POST /api/kaoping/{year}/scores`` — a self-assessment or the office's scores of one
participant (``version``: earlier submissions of that participant and source, 0 for the first;
409 stale). ``GET /api/kaoping/{year}/participants/{category}/{code}`` — one participant.
``GET /api/kaoping/{year}/ranking?category=&period=`` — rankings (published ones also for the
public). ``POST /api/kaoping/{year}/publish`` — publish a round (city admin, versioned).
Rules: ``domain/quota.py``, ``domain/assessment.py``; access: ``services/quota.py``,
``services/kaoping.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from ..domain.access import Principal
from ..services import kaoping, quota
from .auth import current_principal
from .editing import Body, Day, Flag, IfMatch, Number, Reason, Text, Version, Whole, expected_version, versioned

Period = Literal["Q1", "Q2", "Q3", "Q4", "H1", "H2", "annual"]
Category = Literal["county", "zone", "department"]


class QuotaParametersIn(Body):
    """本次分配调整的参数（不填则用规则库 [quota]）。"""

    base_share: Number | None = None
    revived_share: Number | None = None
    rate_share: Number | None = None
    kaoping_share: Number | None = None
    floor_share: Number | None = None
    cap_share: Number | None = None
    unit_mu: Number | None = None
    require_revival: Flag | None = None
    zones_only: Flag | None = None


class QuotaIn(Body):
    """年度新增建设用地指标总量（亩）、原因和（可选）调整的参数。"""

    total_mu: Number
    reason: Reason = None
    parameters: QuotaParametersIn | None = None
    as_of: Day | None = Field(None, description="统计日期 YYYY-MM-DD：按处置台账该日的消化处置进度分配，缺省为今天")


class ScoreIn(Body):
    """一个考评事项的得分和依据。"""

    item: Text(40, min_length=1)  # type: ignore[valid-type]
    score: Number
    evidence: Text(2000) | None = None  # type: ignore[valid-type]


class ScoresIn(Body):
    """一个考评对象的自评（self）或市领导小组办公室评分（office）。"""

    category: Category
    participant: Text(100, min_length=1)  # type: ignore[valid-type]
    source: Literal["self", "office"]
    period: Period = "annual"
    scores: list[ScoreIn]
    version: Whole(0) | None = None  # type: ignore[valid-type]
    note: Reason = None


class PublishIn(Body):
    """发布考评轮次（需版本号）。"""

    period: Period = "annual"
    version: Version | None = None
    reason: Reason = None


def _overrides(body: QuotaIn) -> dict:
    return body.parameters.model_dump(exclude_none=True) if body.parameters else {}


def build_router() -> APIRouter:
    router = APIRouter(tags=["增存挂钩与考评"])

    @router.post("/api/quota/{year}", summary="计算并保存年度增存挂钩新增建设用地指标分配", status_code=201)
    def allocate(year: int, body: QuotaIn, request: Request, who: Principal = Depends(current_principal)):
        """按规则库 [quota] 的公式（可在 parameters 中调整）把年度指标总量分配到各县（市、区），保存本次分配
        （所用数据、参数、权重、分配结果和说明）。仅市级管理员；参数或总量不合规：422，不保存。"""
        run = quota.allocate(request.app.state.db, year, body.total_mu, actor=who, reason=body.reason,
                             parameters=_overrides(body), as_of=body.as_of)
        return JSONResponse(run, status_code=201, headers={"Location": f"/api/quota/{year}"})

    @router.get("/api/quota/{year}/preview", summary="试算增存挂钩指标分配（不保存）")
    def preview(year: int, request: Request,
                total_mu: float | None = Query(None, description="指标总量（亩）；缺省为该年度最近一次分配的总量"),
                as_of: date | None = Query(None, description="统计日期 YYYY-MM-DD（处置台账该日的进度），缺省为今天"),
                who: Principal = Depends(current_principal)):
        """按处置台账截至统计日的消化处置进度和规则库参数试算，不保存（不给总量时沿用该年度最近一次分配的总量，
        没有则 404）。仅市级管理员。"""
        db = request.app.state.db
        if total_mu is None:
            total_mu = quota.latest_total(db, year, viewer=who)
        return quota.compute(db, year, total_mu, viewer=who, as_of=as_of)

    @router.get("/api/quota/{year}", summary="年度增存挂钩指标分配（最近一次及历次）")
    def show(year: int, request: Request, who: Principal = Depends(current_principal)):
        """最近一次保存的分配及各县（市、区）所用数据、权重和分配结果，以及历次分配列表。
        各级管理员和职能部门可查看；企业和社会公众不可查看。"""
        return quota.year_view(request.app.state.db, year, viewer=who)

    @router.get("/api/kaoping/{year}", summary="考评轮次：考评内容、年度节奏和本人可见的考评对象")
    def round_view(year: int, request: Request, period: Period = "annual",
                   who: Principal = Depends(current_principal)):
        """考评内容和分值、年度考评节奏（季度通报、半年约谈、自评、年度考评）、本轮状态，以及本人可查看的
        考评对象（市级管理员：全部；其他：本单位）的得分。须登录。"""
        return kaoping.round_view(request.app.state.db, year, viewer=who, period=period)

    @router.post("/api/kaoping/{year}/scores", summary="提交自评或市领导小组办公室评分")
    def scores(year: int, body: ScoresIn, request: Request, if_match: IfMatch = None,
               who: Principal = Depends(current_principal)):
        """自评只能由本单位提交，评分只能由市级管理员提交。version 为该对象此前同类提交的次数（首次为 0）；
        过期：409；得分超出事项分值：422；无权：403；已发布的轮次不再接受提交。"""
        version = expected_version(if_match, body.version)
        view = kaoping.submit(request.app.state.db, year, category=body.category, participant=body.participant,
                              source=body.source, scores=[s.model_dump() for s in body.scores],
                              expected_version=version, actor=who, period=body.period, note=body.note)
        return versioned(view, version=view["versions"][body.source])

    @router.get("/api/kaoping/{year}/participants/{category}/{code}", summary="一个考评对象的自评、评分和得分")
    def participant(year: int, category: Category, code: str, request: Request, period: Period = "annual",
                    who: Principal = Depends(current_principal)):
        """市级管理员可查看全部；其他单位只能查看本单位（市领导小组办公室评分在发布后可见）。"""
        return kaoping.participant_view(request.app.state.db, year, category=category, participant=code,
                                        viewer=who, period=period)

    @router.get("/api/kaoping/{year}/ranking", summary="考评分类排名")
    def ranking(year: int, request: Request, category: Category | None = None, period: Period = "annual",
                who: Principal = Depends(current_principal)):
        """按县（市、区）政府（管委会）、产业集聚区管理机构、市直部门分类排名（并列名次按 1、2、2、4）。
        未发布的排名只有市级管理员可见；发布后各单位可见，社会公众可见名称、总分和名次。"""
        return kaoping.ranking(request.app.state.db, year, viewer=who, category=category, period=period)

    @router.post("/api/kaoping/{year}/publish", summary="发布考评结果（需版本号）")
    def publish(year: int, body: PublishIn, request: Request, if_match: IfMatch = None,
                who: Principal = Depends(current_principal)):
        """发布后排名对各单位（及按规则库设置对社会公众）可见，不再接受自评和评分。仅市级管理员。"""
        version = expected_version(if_match, body.version)
        return versioned(kaoping.publish(request.app.state.db, year, expected_version=version, actor=who,
                                         period=body.period, reason=body.reason))

    return router
