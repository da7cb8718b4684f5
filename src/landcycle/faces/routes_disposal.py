"""Disposal ledgers (处置台账) over HTTP (issue 8, items 1 and 3).

``GET /api/disposal/entries?zone=&county=&category=&status=&parcel=`` — a page of entries;
``GET /api/disposal/entries.xlsx`` — the same filter as an Excel sheet in the filing layout;
``GET /api/disposal/entries/{id}`` — one entry with its progress reports (ETag = version);
``POST /api/disposal/entries`` — open an entry by hand (a reason is required; 201);
``PATCH /api/disposal/entries/{id}`` — change its plan fields (If-Match or ``version``; 409 stale);
``POST /api/disposal/entries/{id}/reports`` — a progress report (append-only; 201);
``POST /api/disposal/entries/{id}/close`` — close it with an outcome (versioned);
``POST /api/disposal/from-evaluation`` — open entries from a run's verdicts and/or parcel states;
``GET /api/disposal/progress?as_of=`` — 消化处置率 and 盘活面积 per zone, county and city.

Readers: officials and departments within their jurisdiction; enterprises 403; the public 401.
Writers: city admin, county admins and zone managers within their jurisdiction. Rules:
``services/disposal.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from ..domain.access import Principal
from ..services import disposal
from .auth import current_principal
from .downloads import XLSX, download
from .editing import MAX_INT, Body, Day, IfMatch, Reason, Text, Version, Whole, changes_of, expected_version, versioned
from .paging import PageParams, page_body, page_params

EntryId = Annotated[int, Path(ge=1, le=MAX_INT, description="台账编号")]
Units = list[Text(100, min_length=1)]  # type: ignore[valid-type]


class EntryCreate(Body):
    """人工建立台账：宗地代码、类别（批而未供/闲置/低效各类）、立账理由（必填），可同时填写形成原因、处置措施、
    一宗一策方案、完成时限、责任单位（第一个为牵头单位）。"""

    parcel: Text(19, min_length=1)  # type: ignore[valid-type]
    category: Text(30, min_length=1)  # type: ignore[valid-type]
    reason: Text(1000, min_length=1)  # type: ignore[valid-type]
    opened_on: Day | None = None
    cause: Text(2000) | None = None  # type: ignore[valid-type]
    measure: Text(30) | None = None  # type: ignore[valid-type]
    plan: Text(4000) | None = None  # type: ignore[valid-type]
    due_date: Day | None = None
    units: Units | None = None


class EntryChange(Body):
    """修改台账：形成原因、处置措施、一宗一策方案、完成时限、责任单位；需版本号。"""

    cause: Text(2000) | None = None  # type: ignore[valid-type]
    measure: Text(30) | None = None  # type: ignore[valid-type]
    plan: Text(4000) | None = None  # type: ignore[valid-type]
    due_date: Day | None = None
    units: Units | None = None
    version: Version | None = None
    reason: Reason = None


class ReportIn(Body):
    """进展报告：日期（默认今日）、进展情况、完成百分比或阶段（研判/制定方案/实施中/收尾）。"""

    text: Text(4000, min_length=1)  # type: ignore[valid-type]
    reported_on: Day | None = None
    percent: Whole(0, 100) | None = None  # type: ignore[valid-type]
    stage: Text(20) | None = None  # type: ignore[valid-type]


class CloseIn(Body):
    """办结台账：处置结果（必填）、办结日期（默认今日）、办结说明；需版本号。"""

    outcome: Text(30) | None = None  # type: ignore[valid-type]
    closed_on: Day | None = None
    note: Text(2000) | None = None  # type: ignore[valid-type]
    version: Version | None = None


class FromEvaluationIn(Body):
    """按评价批次的认定结果（闲置、低效各类）和/或宗地现状（批而未供、闲置、低效）建立台账；已有未办结台账的不重复建立。"""

    run_id: Whole(1) | None = None  # type: ignore[valid-type]
    states: bool = False
    opened_on: Day | None = None
    reason: Reason = None


def _filters(zone: str | None = Query(None, max_length=100, description="产业集聚区（代码、名称或别名）"),
             county: str | None = Query(None, max_length=100, description="县(市、区)或管委会（代码、名称或别名）"),
             category: str | None = Query(None, max_length=30, description="台账类别（值或中文名）"),
             status_: str | None = Query(None, alias="status", max_length=10, description="open 处置中 / closed 已办结"),
             parcel: str | None = Query(None, max_length=19, description="宗地代码"),
             overdue: bool = Query(False, description="只列逾期：处置中且已过完成时限（按今天）")) -> dict[str, Any]:
    return {"zone": zone, "county": county, "category": category, "status": status_, "parcel": parcel,
            "overdue": overdue}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/disposal", tags=["处置台账"])
    db_of = lambda request: request.app.state.db  # noqa: E731

    @router.get("/entries", summary="处置台账列表")
    def list_entries(request: Request, filters: dict = Depends(_filters),
                     page: PageParams = Depends(page_params(disposal.SORT_FIELDS)),
                     who: Principal = Depends(current_principal)):
        """本辖区的批而未供、闲置和低效用地处置台账（一宗一策）；``totals`` 为全部筛选结果的条数、面积（亩）、
        处置中和逾期条数。企业账号 403，未登录 401。"""
        items, total = disposal.list_entries(db_of(request), viewer=who, sort=page.sort, limit=page.limit,
                                             offset=page.offset, **filters)
        return {**page_body(request, items, total, page),
                "totals": disposal.entry_totals(db_of(request), viewer=who, **filters)}

    @router.get("/entries.xlsx", summary="导出处置台账（Excel）", response_class=Response,
                responses={200: {"content": {XLSX: {}}}})
    def export_entries(request: Request, filters: dict = Depends(_filters), who: Principal = Depends(current_principal)):
        """按产业集聚区或县(市、区)导出处置台账，报备归档格式（标题、表头、面积保留两位小数）。"""
        data, name = disposal.export_xlsx(db_of(request), viewer=who, zone=filters["zone"], county=filters["county"],
                                          category=filters["category"], status=filters["status"],
                                          overdue=filters["overdue"])
        return download(data, XLSX, name, "disposal-ledger.xlsx")

    @router.get("/entries/{entry_id}", summary="处置台账详情")
    def get_entry(entry_id: EntryId, request: Request, who: Principal = Depends(current_principal)):
        """一条台账及其全部进展报告；响应头 ETag 为版本号。"""
        return versioned(disposal.get_entry(db_of(request), entry_id, viewer=who))

    @router.post("/entries", status_code=status.HTTP_201_CREATED, summary="人工建立处置台账")
    def create_entry(body: EntryCreate, request: Request, who: Principal = Depends(current_principal)):
        """须填写立账理由。同一宗地同一类别已有未办结台账时 422（指明已有台账）。"""
        record = disposal.open_entry(db_of(request), body.parcel, body.category, actor=who, reason=body.reason,
                                     opened_on=body.opened_on, cause=body.cause, measure=body.measure, plan=body.plan,
                                     due_date=body.due_date, units=body.units)
        return versioned(record, status.HTTP_201_CREATED, location=f"/api/disposal/entries/{record['id']}")

    @router.patch("/entries/{entry_id}", summary="修改处置台账（需版本号）")
    def change_entry(entry_id: EntryId, body: EntryChange, request: Request, if_match: IfMatch = None,
                     who: Principal = Depends(current_principal)):
        """修改一宗一策方案等；版本过期 409（附当前记录），缺版本号 428。"""
        version = expected_version(if_match, body.version)
        return versioned(disposal.update_entry(db_of(request), entry_id, changes_of(body), version, actor=who,
                                               reason=body.reason))

    @router.post("/entries/{entry_id}/reports", status_code=status.HTTP_201_CREATED, summary="报送处置进展")
    def add_report(entry_id: EntryId, body: ReportIn, request: Request, who: Principal = Depends(current_principal)):
        """进展报告只能追加，不能修改；已办结的台账不再报送。"""
        return disposal.add_report(db_of(request), entry_id, actor=who, text=body.text, reported_on=body.reported_on,
                                   percent=body.percent, stage=body.stage)

    @router.post("/entries/{entry_id}/close", summary="办结处置台账（需版本号）")
    def close_entry(entry_id: EntryId, body: CloseIn, request: Request, if_match: IfMatch = None,
                    who: Principal = Depends(current_principal)):
        """必须填写处置结果（完成供地、完善用地手续、盘活、收回、再供应、依法处置、撤销认定、其他）。"""
        version = expected_version(if_match, body.version)
        return versioned(disposal.close_entry(db_of(request), entry_id, version, actor=who, outcome=body.outcome,
                                              closed_on=body.closed_on, note=body.note))

    @router.post("/from-evaluation", summary="按评价结果或宗地现状批量建立台账")
    def from_evaluation(body: FromEvaluationIn, request: Request, who: Principal = Depends(current_principal)):
        """幂等：已有未办结台账的宗地和类别不重复建立；返回建立数量。"""
        return disposal.open_from_evaluation(db_of(request), actor=who, run_id=body.run_id, states=body.states,
                                             opened_on=body.opened_on, reason=body.reason)

    @router.get("/progress", summary="消化处置率和盘活面积（任意日期）")
    def progress(request: Request, as_of: date | None = Query(None, description="统计日期（默认今日）"),
                 who: Principal = Depends(current_principal)):
        """截至统计日各产业集聚区、县(市、区)和全市的消化处置率（目标 60%）与盘活面积（目标 1.37 万亩），
        计算公式见 formula。"""
        return disposal.progress(db_of(request), as_of=as_of or disposal.today(), viewer=who)

    return router
