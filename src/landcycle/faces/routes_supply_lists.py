"""年度可供土地清单 editions over HTTP (issue 8, item 4): compile, edit, review, publish, revise.

``GET /api/supply-lists?year=&jurisdiction=`` — every edition the caller may read (history).
``POST /api/supply-lists`` — compile a draft ``{year, jurisdiction, title?, note?}`` (201).
``GET /api/supply-lists/{list_id}`` — one edition with its entries; ``…/export.xlsx`` — filed as Excel.
``POST /api/supply-lists/{list_id}/entries`` — add a parcel ``{code, …terms}``;
``PATCH …/entries/{code}`` — edit its terms; ``DELETE …/entries/{code}?version=`` — take it off.
``POST …/submit`` · ``…/return`` ``{comment}`` · ``…/publish`` ``{document: {title, number, date}}`` ·
``…/revise`` (a new draft edition copied from a published one, 201).
Every edit names the edition's version (body ``version`` or ``If-Match``): 409 when stale, 428
without. 401 not signed in; 403 not the list's jurisdiction's admin (or the city admin); 404 a
list outside the caller's view; 422 bad input or a step the status does not allow (nothing
written). Rules: ``services/supply_lists.py``; what the public then sees: ``services/supply.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from ..domain.access import Principal
from ..services import supply_lists
from .auth import current_principal
from .downloads import XLSX, download
from .editing import MAX_INT, Body, Day, IfMatch, Number, Reason, Text, Version, expected_version, versioned

ListId = Annotated[int, Path(ge=1, le=MAX_INT, description="清单版本编号")]


class CompileIn(Body):
    """编制清单：年度、辖区（市或县(市、区)、管委会的代码或名称）、标题和说明（可选）。"""

    year: int
    jurisdiction: Text(100, min_length=1)  # type: ignore[valid-type]
    title: Text(200, min_length=1) | None = None  # type: ignore[valid-type]
    note: Text(2000) | None = None  # type: ignore[valid-type]


class TermsIn(Body):
    """清单条目的供地信息（只填要改的字段）。"""

    supply_method: Text(30) | None = None  # type: ignore[valid-type]
    expected_price_wan: Number | None = None
    supply_conditions: Text(4000) | None = None  # type: ignore[valid-type]
    supply_procedure: Text(2000) | None = None  # type: ignore[valid-type]
    supply_cycle: Text(200) | None = None  # type: ignore[valid-type]
    suitable_industries: list[Text(50, min_length=1)] | None = None  # type: ignore[valid-type]
    standard_land_class: Text(40) | None = None  # type: ignore[valid-type]
    standard_indicators: dict[str, Number] | None = None
    contact_office: Text(100) | None = None  # type: ignore[valid-type]
    contact_phone: Text(40) | None = None  # type: ignore[valid-type]
    version: Version | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"version", "code"})


class AddIn(TermsIn):
    """增加一宗地（宗地代码）及其供地信息（不填的按规则库 [supply_list] 的类别缺省值）。"""

    code: Text(19, min_length=1)  # type: ignore[valid-type]


class StepIn(Body):
    """提交审核 / 修订（需版本号）。"""

    version: Version | None = None
    note: Text(2000) | None = None  # type: ignore[valid-type]


class ReturnIn(Body):
    """退回修改：审核意见（必填）。"""

    comment: Text(2000, min_length=1)  # type: ignore[valid-type]
    version: Version | None = None


class DocumentIn(Body):
    """批准文件：文件名称、文号、日期。"""

    title: Text(200, min_length=1)  # type: ignore[valid-type]
    number: Text(100, min_length=1)  # type: ignore[valid-type]
    date: Day


class PublishIn(Body):
    """审核通过并公布：批准文件（必填）。"""

    document: DocumentIn
    version: Version | None = None
    reason: Reason = None


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/supply-lists", tags=["年度可供土地清单"])

    @router.get("", summary="年度可供土地清单各版本（历史）")
    def history(request: Request, year: int | None = Query(None, description="年度"),
                jurisdiction: str | None = Query(None, max_length=100, description="辖区代码或名称"),
                who: Principal = Depends(current_principal)):
        """本账号可查看的各版本（已公布和被替代的版本各级可见；草稿和待审核版本仅编制单位和市级账号可见）。"""
        return supply_lists.history(request.app.state.db, who, year=year, jurisdiction=jurisdiction)

    @router.post("", status_code=201, summary="编制年度可供土地清单（草稿）")
    def compile_list(body: CompileIn, request: Request, who: Principal = Depends(current_principal)):
        """按辖区内储备、批而未供、可供、闲置、低效和收回宗地生成草稿，条目带规则库缺省的成本、条件、程序和周期。
        市级管理员或本辖区县(市、区)管理员；同一年度辖区已有草稿或待审核版本：422。"""
        view = supply_lists.compile_list(request.app.state.db, body.year, body.jurisdiction, who,
                                         title=body.title, note=body.note)
        return versioned(view, 201, f"/api/supply-lists/{view['id']}")

    @router.get("/{list_id}", summary="一个清单版本及其条目")
    def show(list_id: ListId, request: Request, who: Principal = Depends(current_principal)):
        """清单版本的状态、批准文件、各环节经办人和时间，以及全部条目。"""
        return versioned(supply_lists.get_list(request.app.state.db, list_id, who))

    @router.get("/{list_id}/export.xlsx", summary="导出清单（Excel 归档格式）",
                responses={200: {"content": {XLSX: {}}, "description": "Excel 工作簿"}})
    def export(list_id: ListId, request: Request, who: Principal = Depends(current_principal)):
        """序号、宗地代码、坐落、面积(亩)、类别、用途、供地方式、成本/价格、供地条件、程序、周期……"""
        name, data = supply_lists.export_xlsx(request.app.state.db, list_id, who)
        return download(data, XLSX, name, "supply-list.xlsx")

    @router.post("/{list_id}/entries", summary="草稿增加宗地")
    def add(list_id: ListId, body: AddIn, request: Request, if_match: IfMatch = None,
            who: Principal = Depends(current_principal)):
        """只限草稿；宗地须为本辖区的候选宗地，且不在本清单中。"""
        version = expected_version(if_match, body.version)
        return versioned(supply_lists.add_entry(request.app.state.db, list_id, body.code, who, version,
                                                body.changes()))

    @router.patch("/{list_id}/entries/{code}", summary="修改草稿条目的供地信息")
    def edit(list_id: ListId, code: Annotated[str, Path(max_length=40)], body: TermsIn, request: Request,
             if_match: IfMatch = None, who: Principal = Depends(current_principal)):
        """只限草稿；已公布的版本不可修改（请修订为新版本）。"""
        version = expected_version(if_match, body.version)
        return versioned(supply_lists.update_entry(request.app.state.db, list_id, code, body.changes(), who, version))

    @router.delete("/{list_id}/entries/{code}", summary="草稿移除宗地")
    def remove(list_id: ListId, code: Annotated[str, Path(max_length=40)], request: Request,
               version: int | None = Query(None, ge=1, le=MAX_INT, description="清单版本的版本号"),
               if_match: IfMatch = None, who: Principal = Depends(current_principal)):
        """只限草稿。"""
        v = expected_version(if_match, version)
        return versioned(supply_lists.remove_entry(request.app.state.db, list_id, code, who, v))

    @router.post("/{list_id}/submit", summary="提交审核")
    def submit(list_id: ListId, body: StepIn, request: Request, if_match: IfMatch = None,
               who: Principal = Depends(current_principal)):
        """草稿 → 待审核。"""
        version = expected_version(if_match, body.version)
        return versioned(supply_lists.submit(request.app.state.db, list_id, who, version))

    @router.post("/{list_id}/return", summary="退回修改（附审核意见）")
    def return_list(list_id: ListId, body: ReturnIn, request: Request, if_match: IfMatch = None,
                    who: Principal = Depends(current_principal)):
        """待审核 → 草稿。"""
        version = expected_version(if_match, body.version)
        return versioned(supply_lists.return_list(request.app.state.db, list_id, who, version, body.comment))

    @router.post("/{list_id}/publish", summary="审核通过并公布（需批准文件）")
    def publish(list_id: ListId, body: PublishIn, request: Request, if_match: IfMatch = None,
                who: Principal = Depends(current_principal)):
        """待审核 → 已公布：本版宗地即为本辖区公开的可供土地（云上看地、地图图层），替代此前版本；
        储备、批而未供宗地办理“纳入供地清单”，收回宗地办理“再供应”。"""
        version = expected_version(if_match, body.version)
        doc = body.document.model_dump()
        doc["date"] = doc["date"].isoformat()
        return versioned(supply_lists.publish(request.app.state.db, list_id, who, version, doc))

    @router.post("/{list_id}/revise", status_code=201, summary="修订：由已公布版本生成新版本草稿")
    def revise(list_id: ListId, body: StepIn, request: Request, if_match: IfMatch = None,
               who: Principal = Depends(current_principal)):
        """已公布的版本不可修改；修订即复制为新版本草稿，修改后再审核公布。"""
        version = expected_version(if_match, body.version)
        view = supply_lists.revise(request.app.state.db, list_id, who, version, note=body.note)
        return versioned(view, 201, f"/api/supply-lists/{view['id']}")

    return router
