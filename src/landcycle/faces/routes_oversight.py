"""挂牌督办 and 低效用地再开发监管协议 over HTTP (issue 8 item 2). Rules: ``services/oversight.py``,
``domain/oversight.py``; docs/oversight.md.

挂牌督办: ``GET /api/oversight/cases`` (filters zone, county, level, status, code),
``GET /api/oversight/cases/{oversight_case_id}``, ``POST /api/oversight/cases`` (open, 201),
``POST …/{id}/progress`` (append a note, 201), ``POST …/{id}/lift`` (销号, version required),
``GET /api/oversight/zones`` (each zone against the ≥2 requirement), ``GET /api/oversight/export.xlsx``.

再开发监管协议: ``GET /api/redevelopment/agreements``, ``GET …/{agreement_id}``,
``POST /api/redevelopment/agreements`` (201), ``POST …/{id}/rewards`` (201), ``POST …/{id}/assess``
(version required), ``GET /api/redevelopment/clawbacks``, ``POST /api/redevelopment/clawbacks/{id}/settle``
(version required). 422 bad input (nothing written), 409 stale version, 428 no version, 403 a role
that may not, 404 outside the caller's view, 401 the public.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from ..domain.access import Principal
from ..services import oversight
from .auth import current_principal
from .downloads import XLSX, download
from .editing import MAX_INT, Body, Day, IfMatch, Number, Text, Version, Whole, expected_version, versioned

CaseId = Annotated[int, Path(ge=1, le=MAX_INT, description="挂牌督办事项编号")]
AgreementId = Annotated[int, Path(ge=1, le=MAX_INT, description="再开发监管协议编号（id）")]
ClawbackId = Annotated[int, Path(ge=1, le=MAX_INT, description="追缴事项编号")]
AsOf = Query(None, description="按此日统计（默认今日）")


class CaseIn(Body):
    """挂牌督办：宗地代码、级别（市级 city / 县级 county）、挂牌督办单位、文号、挂牌日期、督办事由、督办要求、
    完成时限、责任单位（第一个为牵头单位）。"""

    code: Text(19, min_length=1)  # type: ignore[valid-type]
    level: Text(10, min_length=1)  # type: ignore[valid-type]
    listed_by_unit: Text(200, min_length=1)  # type: ignore[valid-type]
    document_no: Text(100) | None = None  # type: ignore[valid-type]
    listed_on: Day | None = None
    reason: Text(2000, min_length=1)  # type: ignore[valid-type]
    requirement: Text(2000, min_length=1)  # type: ignore[valid-type]
    deadline: Day
    units: list[Text(200, min_length=1)]  # type: ignore[valid-type]


class ProgressIn(Body):
    """督办进展：进展情况和日期（缺省今日）。"""

    text: Text(4000, min_length=1)  # type: ignore[valid-type]
    reported_on: Day | None = None


class LiftIn(Body):
    """销号：销号结果（处置成效）和日期（缺省今日）。"""

    result: Text(2000, min_length=1)  # type: ignore[valid-type]
    lifted_on: Day | None = None
    version: Version | None = None


class RewardIn(Body):
    """一项优惠：类别（容积率奖励/地价优惠/财政奖补/其他优惠）、金额（万元）、给予日期、文号、说明。"""

    kind: Text(30, min_length=1)  # type: ignore[valid-type]
    amount_wan: Number
    granted_on: Day
    document_no: Text(100) | None = None  # type: ignore[valid-type]
    note: Text(500) | None = None  # type: ignore[valid-type]


class TargetsIn(Body):
    """约定目标（均为下限）：投资强度、亩均税收（万元/亩），容积率。"""

    investment_intensity: Number | None = None
    tax_per_mu: Number | None = None
    plot_ratio: Number | None = None


class AgreementIn(Body):
    """再开发监管协议：宗地、企业（统一社会信用代码）、协议编号、签订日期、核查日期、约定目标、约定竣工日期、
    亩均税收核查年度（缺省为核查日期的上一年）、退出条款、已给予的优惠。"""

    code: Text(19, min_length=1)  # type: ignore[valid-type]
    enterprise: Text(18, min_length=1)  # type: ignore[valid-type]
    agreement_no: Text(100, min_length=1)  # type: ignore[valid-type]
    signed_on: Day
    check_date: Day
    targets: TargetsIn
    target_completion_date: Day | None = None
    tax_year: Whole(2000, 2100) | None = None  # type: ignore[valid-type]
    exit_terms: Text(4000, min_length=1)  # type: ignore[valid-type]
    rewards: list[RewardIn] = []


class AssessIn(Body):
    """到期核查：开发建设情况未登记时，可填写固定资产投资（万元）、实测容积率。"""

    investment_wan: Number | None = None
    plot_ratio: Number | None = None
    version: Version | None = None


class SettleIn(Body):
    """追缴结果：已追缴（recovered，可填实际追缴金额）或免予追缴（waived，须写明理由）。"""

    status: Text(20, min_length=1)  # type: ignore[valid-type]
    settled_on: Day | None = None
    recovered_wan: Number | None = None
    note: Text(2000) | None = None  # type: ignore[valid-type]
    version: Version | None = None


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["挂牌督办与再开发监管"])

    # ------------------------------------------------------------------ 挂牌督办
    @router.get("/oversight/cases", summary="挂牌督办事项列表")
    def list_cases(request: Request, zone: str | None = Query(None, max_length=100),
                   county: str | None = Query(None, max_length=100),
                   level: str | None = Query(None, max_length=10, description="city（市级）或 county（县级）"),
                   status: str | None = Query(None, max_length=10, description="open、lifted 或 all（默认）"),
                   code: str | None = Query(None, max_length=19, description="宗地代码"),
                   as_of: date | None = AsOf, who: Principal = Depends(current_principal)):
        """本辖区的挂牌督办事项（含进展）。企业和公众不能查看。"""
        return oversight.list_cases(request.app.state.db, who, zone=zone, county=county, level=level, status=status,
                                    code=code, as_of=as_of)

    @router.get("/oversight/zones", summary="各产业集聚区挂牌督办宗数与“2宗以上”要求对照")
    def zones(request: Request, as_of: date | None = AsOf, who: Principal = Depends(current_principal)):
        """每个产业集聚区：督办中、累计挂牌，其中批而未供/闲置宗数，期限内计入要求的宗数，是否达到要求。"""
        return oversight.zone_counts(request.app.state.db, who, as_of=as_of)

    @router.get("/oversight/export.xlsx", summary="挂牌督办台账（Excel，按产业集聚区分表）",
                response_class=Response, responses={200: {"content": {XLSX: {}}}})
    def export(request: Request, zone: str | None = Query(None, max_length=100), as_of: date | None = AsOf,
               who: Principal = Depends(current_principal)):
        """汇总表和各产业集聚区的挂牌督办台账（可打印归档）。"""
        data = oversight.export_cases_xlsx(request.app.state.db, who, as_of=as_of, zone=zone)
        return download(data, XLSX, "挂牌督办台账.xlsx", "oversight.xlsx")

    @router.get("/oversight/cases/{oversight_case_id}", summary="一个挂牌督办事项")
    def show_case(oversight_case_id: CaseId, request: Request, as_of: date | None = AsOf,
                  who: Principal = Depends(current_principal)):
        """事项详情和全部进展。"""
        out = oversight.get_case(request.app.state.db, oversight_case_id, who, as_of=as_of)
        return versioned(out)

    @router.post("/oversight/cases", status_code=201, summary="挂牌督办一宗地")
    def open_case(body: CaseIn, request: Request, who: Principal = Depends(current_principal)):
        """市级挂牌督办由市级管理员办理；县级由市级或本县(市、区)管理员办理。一宗地同时只能有一个督办中的事项。"""
        out = oversight.open_case(request.app.state.db, body.code, who, level=body.level,
                                  listed_by_unit=body.listed_by_unit, document_no=body.document_no,
                                  listed_on=body.listed_on, reason=body.reason, requirement=body.requirement,
                                  deadline=body.deadline, units=body.units)
        return versioned(out, status_code=201, location=f"/api/oversight/cases/{out['id']}")

    @router.post("/oversight/cases/{oversight_case_id}/progress", status_code=201, summary="报送督办进展")
    def progress(oversight_case_id: CaseId, body: ProgressIn, request: Request,
                 who: Principal = Depends(current_principal)):
        """只能追加。市、县管理员和本产业集聚区管理机构可报送；职能部门只读。"""
        return oversight.add_progress(request.app.state.db, oversight_case_id, who, text=body.text,
                                      reported_on=body.reported_on)

    @router.post("/oversight/cases/{oversight_case_id}/lift", summary="销号（须写明结果，需版本号）")
    def lift(oversight_case_id: CaseId, body: LiftIn, request: Request, if_match: IfMatch = None,
             who: Principal = Depends(current_principal)):
        """市级事项由市级管理员销号；县级事项由市级或本县(市、区)管理员销号。版本过期：409。"""
        out = oversight.lift_case(request.app.state.db, oversight_case_id, who,
                                  expected_version(if_match, body.version), result=body.result,
                                  lifted_on=body.lifted_on)
        return versioned(out)

    # ------------------------------------------------------------------ 再开发监管协议
    @router.get("/redevelopment/agreements", summary="低效用地再开发监管协议列表")
    def list_agreements(request: Request, code: str | None = Query(None, max_length=19),
                        status: str | None = Query(None, max_length=10, description="active、met 或 missed"),
                        who: Principal = Depends(current_principal)):
        """本辖区的协议；企业账号看到本企业签订的协议。"""
        return oversight.list_agreements(request.app.state.db, who, code=code, status=status)

    @router.get("/redevelopment/agreements/{agreement_id}", summary="一份再开发监管协议（目标、优惠、核查、追缴）")
    def show_agreement(agreement_id: AgreementId, request: Request, who: Principal = Depends(current_principal)):
        return versioned(oversight.get_agreement(request.app.state.db, agreement_id, who))

    @router.post("/redevelopment/agreements", status_code=201, summary="登记再开发监管协议")
    def add_agreement(body: AgreementIn, request: Request, who: Principal = Depends(current_principal)):
        """宗地须为低效（或整改中）；企业须为该宗地的使用者。"""
        out = oversight.add_agreement(
            request.app.state.db, body.code, who, agreement_no=body.agreement_no, enterprise=body.enterprise,
            signed_on=body.signed_on, check_date=body.check_date,
            targets=body.targets.model_dump(exclude_none=True), exit_terms=body.exit_terms,
            target_completion_date=body.target_completion_date, tax_year=body.tax_year,
            rewards=[r.model_dump() for r in body.rewards])
        return versioned(out, status_code=201, location=f"/api/redevelopment/agreements/{out['id']}")

    @router.post("/redevelopment/agreements/{agreement_id}/rewards", status_code=201, summary="登记一项优惠")
    def add_reward(agreement_id: AgreementId, body: RewardIn, request: Request,
                   who: Principal = Depends(current_principal)):
        return oversight.add_reward(request.app.state.db, agreement_id, who, **body.model_dump())

    @router.post("/redevelopment/agreements/{agreement_id}/assess", summary="到期核查（未达标则生成追缴清单；需版本号）")
    def assess(agreement_id: AgreementId, body: AssessIn, request: Request, if_match: IfMatch = None,
               who: Principal = Depends(current_principal)):
        """投资强度取开发建设情况，亩均税收取该年度评价结果（或按同一公式即时计算）；恰好等于目标即达标。"""
        out = oversight.assess_agreement(request.app.state.db, agreement_id, who,
                                         expected_version(if_match, body.version),
                                         investment_wan=body.investment_wan, plot_ratio=body.plot_ratio)
        return versioned(out)

    @router.get("/redevelopment/clawbacks", summary="追缴清单")
    def list_clawbacks(request: Request, status: str | None = Query(None, max_length=10),
                       who: Principal = Depends(current_principal)):
        return oversight.clawbacks(request.app.state.db, who, status=status)

    @router.post("/redevelopment/clawbacks/{clawback_id}/settle", summary="登记追缴结果（需版本号）")
    def settle(clawback_id: ClawbackId, body: SettleIn, request: Request, if_match: IfMatch = None,
               who: Principal = Depends(current_principal)) -> Any:
        """已追缴或免予追缴（免予追缴须写明理由，只能由市、县管理员决定）。"""
        out = oversight.settle_clawback(request.app.state.db, clawback_id, who,
                                        expected_version(if_match, body.version), status=body.status,
                                        settled_on=body.settled_on, recovered_wan=body.recovered_wan, note=body.note)
        return versioned(out)

    return router
