"""Enterprises and the ledgers of supplied parcels over HTTP: enterprises (企业), their use of
land (用地关系), yearly figures (企业年度数据), supply contracts (出让合同), performance
agreements (履约监管协议) and development facts (开发建设情况).

The services check the caller's scope: enterprises, credit codes, figures and contract terms
are confidential (the public gets 401; an official or department reads those of their
jurisdiction, an enterprise its own); outside it a record is 404. Every change names the
version it is based on (If-Match or ``version``; neither: 428), a stale one gets 409 with the
current record and nothing is overwritten.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import Field

from ..domain.access import Action, Principal
from ..domain.records import DevelopmentDraft, EnterpriseDraft, OccupancyDraft, PerformanceAgreementDraft, \
    SupplyContractDraft
from ..services import enterprises, ledgers, registry
from .auth import current_principal
from .editing import (
    MAX_INT,
    Body,
    Day,
    Flag,
    IfMatch,
    Number,
    Reason,
    Text,
    Version,
    Whole,
    changes_of,
    expected_version,
    versioned,
)
from .paging import PageParams, page_body, page_params

Id = Annotated[int, Path(ge=1, le=MAX_INT, description="记录编号")]
NAME = Text(100, min_length=1)


# --------------------------------------------------------------------------- bodies
class EnterpriseCreate(Body):
    """企业登记信息。"""

    credit_code: Text(40)  # type: ignore[valid-type]
    name: Text(200)  # type: ignore[valid-type]
    industry_code: Text(10) | None = None  # type: ignore[valid-type]
    above_scale: Flag = False
    county: NAME | None = None  # type: ignore[valid-type]
    reason: Reason = None


class EnterpriseChange(Body):
    """要修改的企业字段（统一社会信用代码是企业的标识，不能修改）。"""

    name: Text(200) = None  # type: ignore[valid-type]
    industry_code: Text(10) | None = None  # type: ignore[valid-type]
    above_scale: Flag = None  # type: ignore[assignment]
    county: NAME | None = None  # type: ignore[valid-type]
    version: Version | None = None
    reason: Reason = None


class OccupancyCreate(Body):
    """用地关系：哪家企业以权利人或承租人身份使用宗地的多少面积、从何时起。"""

    credit_code: Text(40)  # type: ignore[valid-type]
    role: Text(10)  # type: ignore[valid-type]
    area_m2: Number
    start_date: Day
    end_date: Day | None = None
    reason: Reason = None


class OccupancyChange(Body):
    """要修改的用地关系字段；结束用地关系即填写 end_date。"""

    role: Text(10) = None  # type: ignore[valid-type]
    area_m2: Number = None  # type: ignore[assignment]
    start_date: Day = None  # type: ignore[assignment]
    end_date: Day | None = None
    version: Version | None = None
    reason: Reason = None


class FiguresSubmit(Body):
    """某企业某年度的数据（每项指标一个数值）。"""

    year: Whole(1900, 2100)  # type: ignore[valid-type]
    values: Annotated[dict[Text(40), Number], Field(  # type: ignore[valid-type]
        min_length=1, max_length=20, description="指标（英文值或中文名，如 tax_paid 或 实缴税金）→ 数值")]
    department: Text(50) | None = None  # type: ignore[valid-type]
    versions: dict[Text(40), Version] = {}  # type: ignore[valid-type]
    reason: Reason = None


class ContractCreate(Body):
    """出让合同（或划拨决定书、租赁合同）。"""

    contract_no: Text(60)  # type: ignore[valid-type]
    credit_code: Text(40)  # type: ignore[valid-type]
    supply_method: Text(30)  # type: ignore[valid-type]
    signed_date: Day
    term_years: Whole(0, 1000)  # type: ignore[valid-type]
    price_wan: Number
    agreed_start_date: Day
    agreed_completion_date: Day
    forbids_split: Flag = False
    reason: Reason = None


class ContractChange(Body):
    contract_no: Text(60) = None  # type: ignore[valid-type]
    credit_code: Text(40) = None  # type: ignore[valid-type]
    supply_method: Text(30) = None  # type: ignore[valid-type]
    signed_date: Day = None  # type: ignore[assignment]
    term_years: Whole(0, 1000) = None  # type: ignore[valid-type]
    price_wan: Number = None  # type: ignore[assignment]
    agreed_start_date: Day = None  # type: ignore[assignment]
    agreed_completion_date: Day = None  # type: ignore[assignment]
    forbids_split: Flag = None  # type: ignore[assignment]
    version: Version | None = None
    reason: Reason = None


class _AgreementIndicators(Body):
    investment_intensity_wan_per_mu: Number | None = None
    total_investment_wan: Number | None = None
    plot_ratio: Number | None = None
    building_density: Number | None = None
    building_coverage: Number | None = None
    green_ratio: Number | None = None
    office_living_ratio: Number | None = None
    tax_per_mu_wan: Number | None = None
    output_per_mu_wan: Number | None = None
    performance_guarantee_wan: Number | None = None
    reason: Reason = None


class AgreementCreate(_AgreementIndicators):
    """履约监管协议：约定的动工、竣工、达产日期和约定指标；contract_no 为该宗地的供地合同编号。"""

    contract_no: Text(60)  # type: ignore[valid-type]
    signed_date: Day
    agreed_start_date: Day
    agreed_completion_date: Day
    agreed_production_date: Day


class AgreementChange(_AgreementIndicators):
    signed_date: Day = None  # type: ignore[assignment]
    agreed_start_date: Day = None  # type: ignore[assignment]
    agreed_completion_date: Day = None  # type: ignore[assignment]
    agreed_production_date: Day = None  # type: ignore[assignment]
    version: Version | None = None


class _Development(Body):
    actual_start_date: Day | None = None
    stopped_since: Day | None = None
    developed_area_m2: Number | None = None
    investment_done_wan: Number | None = None
    investment_total_wan: Number | None = None
    completion_date: Day | None = None
    production_date: Day | None = None
    floor_area_m2: Number | None = None
    footprint_m2: Number | None = None
    coverage_area_m2: Number | None = None
    green_area_m2: Number | None = None
    office_living_area_m2: Number | None = None
    reason: Reason = None


class DevelopmentCreate(_Development):
    """开发建设情况：动工、停工、已开发面积和投资、竣工验收与达产验收结果。"""

    completion_result: Text(10) = "pending"  # type: ignore[valid-type]
    production_result: Text(10) = "pending"  # type: ignore[valid-type]


class DevelopmentChange(_Development):
    completion_result: Text(10) = None  # type: ignore[valid-type]
    production_result: Text(10) = None  # type: ignore[valid-type]
    version: Version | None = None


def _fields(body: Body) -> dict:
    return body.model_dump(exclude={"reason"})


# --------------------------------------------------------------------------- routes
def build_router() -> APIRouter:
    router = APIRouter(prefix="/api")
    db_of = lambda request: request.app.state.db  # noqa: E731

    # ---- enterprises
    @router.get("/enterprises", tags=["企业"], summary="企业列表")
    def list_enterprises(request: Request,
                         name: str | None = Query(None, max_length=200, description="企业名称（包含）"),
                         credit_code: str | None = Query(None, max_length=18, description="统一社会信用代码（开头）"),
                         industry: str | None = Query(None, max_length=5, description="国民经济行业代码（开头，如 C34）"),
                         page: PageParams = Depends(page_params(enterprises.ENTERPRISE_SORT_FIELDS)),
                         who: Principal = Depends(current_principal)):
        """您有权查看的企业（官员和职能部门：在本辖区用地的企业；企业账号：本企业）。
        企业信息属保密数据，未登录时 401。"""
        items, total = enterprises.list_enterprises(db_of(request), viewer=who, name=name, credit_code=credit_code,
                                                    industry=industry, sort=page.sort, limit=page.limit,
                                                    offset=page.offset)
        return page_body(request, items, total, page)

    @router.post("/enterprises", tags=["企业"], status_code=status.HTTP_201_CREATED, summary="登记企业")
    def create_enterprise(body: EnterpriseCreate, request: Request, who: Principal = Depends(current_principal)):
        """登记企业（统一社会信用代码按 GB 32100-2015 校验）。县区/集聚区官员须填写本辖区的县(市、区)。"""
        d = EnterpriseDraft(body.credit_code, body.name, body.industry_code, body.above_scale, body.county)
        record = enterprises.create_enterprise(db_of(request), d, actor=who, reason=body.reason)
        return versioned(record, status.HTTP_201_CREATED, location=f"/api/enterprises/{record['id']}")

    @router.get("/enterprises/{enterprise_id}", tags=["企业"], summary="企业详情")
    def get_enterprise(enterprise_id: Id, request: Request, who: Principal = Depends(current_principal)):
        """企业信息及其（您能看到的）用地关系；响应头 ETag 为记录版本。"""
        return versioned(enterprises.get_enterprise(db_of(request), enterprise_id, viewer=who))

    @router.patch("/enterprises/{enterprise_id}", tags=["企业"], summary="修改企业（需版本号）")
    def change_enterprise(enterprise_id: Id, body: EnterpriseChange, request: Request, if_match: IfMatch = None,
                          who: Principal = Depends(current_principal)):
        """修改企业名称、行业代码、规上标志或所属县区；需版本号（If-Match 或 version），过期时 409。"""
        version = expected_version(if_match, body.version)
        return versioned(enterprises.update_enterprise(db_of(request), enterprise_id, changes_of(body), version,
                                                       actor=who, reason=body.reason))

    # ---- figures
    @router.get("/enterprises/{enterprise_id}/figures", tags=["企业"], summary="企业年度数据")
    def list_figures(enterprise_id: Id, request: Request,
                     year: int | None = Query(None, ge=1900, le=2100, description="年度"),
                     page: PageParams = Depends(page_params(enterprises.FIGURE_SORT_FIELDS)),
                     who: Principal = Depends(current_principal)):
        """企业的年度数据（税收、产值、能耗等，每项注明报送部门和版本）。仅对有权查看该企业保密数据的账号开放。"""
        items, total = enterprises.list_figures(db_of(request), enterprise_id, viewer=who, year=year, sort=page.sort,
                                                limit=page.limit, offset=page.offset)
        return page_body(request, items, total, page)

    @router.post("/enterprises/{enterprise_id}/figures", tags=["企业"], summary="报送企业年度数据")
    def submit_figures(enterprise_id: Id, body: FiguresSubmit, request: Request,
                       who: Principal = Depends(current_principal)):
        """职能部门报送本辖区企业某年度的数据（报送部门取自账号）；市级管理员代为录入时须填写 department。
        修改已有指标须在 versions 中给出其当前版本（缺少时 428，过期时 409 并返回当前数据，均不写入）。
        返回该年度的全部数据。"""
        db = db_of(request)
        enterprises.submit_figures(db, enterprise_id, body.year, body.values, body.department, actor=who,
                                   reason=body.reason, expected_versions=body.versions)
        items, total = enterprises.list_figures(db, enterprise_id, viewer=who, year=body.year, limit=100)
        return {"items": items, "total": total}

    # ---- occupancy
    @router.get("/parcels/{code}/occupancies", tags=["用地关系"], summary="宗地的用地关系")
    def list_occupancies(code: str, request: Request,
                         page: PageParams = Depends(page_params(enterprises.OCCUPANCY_SORT_FIELDS)),
                         who: Principal = Depends(current_principal)):
        """使用该宗地的权利人和承租人。能看到宗地的人都能看到企业名称；统一社会信用代码仅对有权查看的账号显示。"""
        items, total = enterprises.list_occupancies(db_of(request), code, viewer=who, sort=page.sort,
                                                    limit=page.limit, offset=page.offset)
        return page_body(request, items, total, page)

    @router.post("/parcels/{code}/occupancies", tags=["用地关系"], status_code=status.HTTP_201_CREATED,
                 summary="登记用地关系")
    def add_occupancy(code: str, body: OccupancyCreate, request: Request, who: Principal = Depends(current_principal)):
        """登记企业对该宗地的使用（权利人或承租人）；面积不得超过宗地，同期承租面积合计不得超过宗地面积。"""
        db = db_of(request)
        registry.check_parcel_edit(db, code, who, Action.EDIT_ENTERPRISES)  # the URL's parcel: 404 if not yours
        d = OccupancyDraft(code, body.credit_code, body.role, body.area_m2, body.start_date, body.end_date)
        occupancy_id = enterprises.add_occupancy(db, d, actor=who, reason=body.reason)
        record = enterprises.get_occupancy(db, occupancy_id, viewer=who)
        return versioned(record, status.HTTP_201_CREATED, location=f"/api/occupancies/{occupancy_id}")

    @router.get("/occupancies/{occupancy_id}", tags=["用地关系"], summary="用地关系详情")
    def get_occupancy(occupancy_id: Id, request: Request, who: Principal = Depends(current_principal)):
        return versioned(enterprises.get_occupancy(db_of(request), occupancy_id, viewer=who))

    @router.patch("/occupancies/{occupancy_id}", tags=["用地关系"], summary="修改或结束用地关系（需版本号）")
    def change_occupancy(occupancy_id: Id, body: OccupancyChange, request: Request, if_match: IfMatch = None,
                         who: Principal = Depends(current_principal)):
        """修改用地身份、面积或期限；结束用地关系即填写终止日期 end_date。需版本号，过期时 409。"""
        version = expected_version(if_match, body.version)
        return versioned(enterprises.update_occupancy(db_of(request), occupancy_id, changes_of(body), version,
                                                      actor=who, reason=body.reason))

    # ---- contracts
    @router.get("/parcels/{code}/contracts", tags=["供地合同"], summary="宗地的供地合同")
    def list_contracts(code: str, request: Request,
                       page: PageParams = Depends(page_params(ledgers.CONTRACT_SORT_FIELDS)),
                       who: Principal = Depends(current_principal)):
        """合同条款属保密数据：宗地所在辖区的官员和职能部门、使用该宗地的企业可查看；未登录时 401。"""
        items, total = ledgers.list_contracts(db_of(request), code, viewer=who, sort=page.sort, limit=page.limit,
                                              offset=page.offset)
        return page_body(request, items, total, page)

    @router.post("/parcels/{code}/contracts", tags=["供地合同"], status_code=status.HTTP_201_CREATED,
                 summary="登记供地合同")
    def add_contract(code: str, body: ContractCreate, request: Request, who: Principal = Depends(current_principal)):
        """登记宗地的出让合同；受让人须已登记，合同编号不得重复，工业用地出让年限不超过50年。"""
        record = ledgers.add_contract(db_of(request), code, SupplyContractDraft(**_fields(body)), actor=who,
                                      reason=body.reason)
        return versioned(record, status.HTTP_201_CREATED, location=f"/api/contracts/{record['id']}")

    @router.get("/contracts/{contract_id}", tags=["供地合同"], summary="供地合同详情")
    def get_contract(contract_id: Id, request: Request, who: Principal = Depends(current_principal)):
        return versioned(ledgers.get_contract(db_of(request), contract_id, viewer=who))

    @router.patch("/contracts/{contract_id}", tags=["供地合同"], summary="修改供地合同（需版本号）")
    def change_contract(contract_id: Id, body: ContractChange, request: Request, if_match: IfMatch = None,
                        who: Principal = Depends(current_principal)):
        version = expected_version(if_match, body.version)
        return versioned(ledgers.update_contract(db_of(request), contract_id, changes_of(body), version, actor=who,
                                                 reason=body.reason))

    # ---- agreements
    @router.get("/parcels/{code}/agreements", tags=["履约监管协议"], summary="宗地的履约监管协议")
    def list_agreements(code: str, request: Request,
                        page: PageParams = Depends(page_params(ledgers.AGREEMENT_SORT_FIELDS)),
                        who: Principal = Depends(current_principal)):
        items, total = ledgers.list_agreements(db_of(request), code, viewer=who, sort=page.sort, limit=page.limit,
                                               offset=page.offset)
        return page_body(request, items, total, page)

    @router.post("/parcels/{code}/agreements", tags=["履约监管协议"], status_code=status.HTTP_201_CREATED,
                 summary="登记履约监管协议")
    def add_agreement(code: str, body: AgreementCreate, request: Request, who: Principal = Depends(current_principal)):
        """登记该宗地某份供地合同的履约监管协议（每份合同一份）；约定动工≤竣工≤达产。"""
        record = ledgers.add_agreement(db_of(request), code, PerformanceAgreementDraft(**_fields(body)), actor=who,
                                       reason=body.reason)
        return versioned(record, status.HTTP_201_CREATED, location=f"/api/agreements/{record['id']}")

    @router.get("/agreements/{agreement_id}", tags=["履约监管协议"], summary="履约监管协议详情")
    def get_agreement(agreement_id: Id, request: Request, who: Principal = Depends(current_principal)):
        return versioned(ledgers.get_agreement(db_of(request), agreement_id, viewer=who))

    @router.patch("/agreements/{agreement_id}", tags=["履约监管协议"], summary="修改履约监管协议（需版本号）")
    def change_agreement(agreement_id: Id, body: AgreementChange, request: Request, if_match: IfMatch = None,
                         who: Principal = Depends(current_principal)):
        version = expected_version(if_match, body.version)
        return versioned(ledgers.update_agreement(db_of(request), agreement_id, changes_of(body), version, actor=who,
                                                  reason=body.reason))

    # ---- development
    @router.get("/parcels/{code}/development", tags=["开发建设"], summary="宗地开发建设情况")
    def get_development(code: str, request: Request, who: Principal = Depends(current_principal)):
        return versioned(ledgers.get_development(db_of(request), code, viewer=who))

    @router.post("/parcels/{code}/development", tags=["开发建设"], status_code=status.HTTP_201_CREATED,
                 summary="登记开发建设情况")
    def add_development(code: str, body: DevelopmentCreate, request: Request,
                        who: Principal = Depends(current_principal)):
        """登记宗地的开发建设情况（每宗地一条，之后用 PATCH 修改）。"""
        record = ledgers.add_development(db_of(request), code, DevelopmentDraft(**_fields(body)), actor=who,
                                         reason=body.reason)
        return versioned(record, status.HTTP_201_CREATED, location=f"/api/parcels/{record['parcel_code']}/development")

    @router.patch("/parcels/{code}/development", tags=["开发建设"], summary="修改开发建设情况（需版本号）")
    def change_development(code: str, body: DevelopmentChange, request: Request, if_match: IfMatch = None,
                           who: Principal = Depends(current_principal)):
        version = expected_version(if_match, body.version)
        return versioned(ledgers.update_development(db_of(request), code, changes_of(body), version, actor=who,
                                                    reason=body.reason))

    return router
