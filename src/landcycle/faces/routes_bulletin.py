"""季度通报 and ranking workbooks over HTTP (issue 8, items 6 and 8).

``GET /api/bulletins/{year}/Q{n}.docx`` / ``.pdf?as_of=`` — the quarter's 通报 (Word / PDF):
city admins, county admins, zone managers and departments receive the same city-wide document
(it is circulated to every 考评对象); enterprises 403, the public 401. 503 when this machine
cannot render it (no CJK font; for PDF no LibreOffice), with the reason in Chinese.
``GET /api/kaoping/{year}/ranking.xlsx?category=&period=`` — the 考评 ranking as a workbook in a
filing layout; who sees what as ``GET /api/kaoping/{year}/ranking``.
Rules and sources: ``services/bulletin.py``, docs/bulletin.md.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from ..domain.access import Principal
from ..services import bulletin
from .auth import current_principal
from .downloads import XLSX, download
from .routes_kaoping import Category, Period

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"
Year = Annotated[int, Path(ge=2000, le=2100, description="年度")]
Quarter = Annotated[int, Path(ge=1, le=4, description="季度（1–4）")]
AsOf = Annotated[date | None, Query(description="数据截至日期（缺省：季度末，季度未结束时为今天）")]


def _unavailable(exc: bulletin.BulletinUnavailable) -> JSONResponse:
    return JSONResponse({"code": exc.code, "message": str(exc)}, status_code=503)


def _file(content_type: str, what: str) -> dict:
    return {200: {"content": {content_type: {}}, "description": what}}


def build_router() -> APIRouter:
    router = APIRouter(tags=["季度通报与报表"])

    def _render(request: Request, year: int, quarter: int, as_of: date | None, who: Principal, fmt: str):
        data = bulletin.gather(request.app.state.db, year, quarter, viewer=who, as_of=as_of)
        try:
            content = bulletin.render_docx(data) if fmt == "docx" else bulletin.render_pdf(data)
        except bulletin.BulletinUnavailable as exc:
            return _unavailable(exc)
        return download(content, DOCX if fmt == "docx" else PDF, bulletin.file_name(data, fmt),
                         f"bulletin-{year}-Q{quarter}.{fmt}")

    @router.get("/api/bulletins/{year}/Q{quarter}.docx", summary="季度工作通报（Word）", responses=_file(DOCX, "通报"))
    def bulletin_docx(year: Year, quarter: Quarter, request: Request, as_of: AsOf = None,
                      who: Principal = Depends(current_principal)):
        """全市季度工作通报（考评排名、消化处置进展、逾期任务、增存挂钩指标分配，含表格和图表）。
        市、县（市、区）管理员、产业集聚区管理机构和职能部门可下载同一份全市通报；企业 403，未登录 401。"""
        return _render(request, year, quarter, as_of, who, "docx")

    @router.get("/api/bulletins/{year}/Q{quarter}.pdf", summary="季度工作通报（PDF）", responses=_file(PDF, "通报"))
    def bulletin_pdf(year: Year, quarter: Quarter, request: Request, as_of: AsOf = None,
                     who: Principal = Depends(current_principal)):
        """与 Word 版内容相同（由 LibreOffice 转换）。本机无法生成时 503 并说明原因。"""
        return _render(request, year, quarter, as_of, who, "pdf")

    @router.get("/api/kaoping/{year}/ranking.xlsx", summary="考评分类排名（Excel，归档格式）",
                responses=_file(XLSX, "排名表"))
    def ranking_xlsx(year: int, request: Request, category: Category | None = None, period: Period = "annual",
                     who: Principal = Depends(current_principal)):
        """每类一个工作表（或只导出 category 一类）：标题、序号、名称、各项得分、总分、名次；横向 A4 打印。
        可见范围同 /api/kaoping/{year}/ranking（社会公众只有名称、总分和名次）。"""
        content = bulletin.ranking_xlsx(request.app.state.db, year, viewer=who, category=category, period=period)
        label = {"annual": "年度"}.get(period, period)
        return download(content, XLSX, f"{year}{label}考评排名.xlsx", f"ranking-{year}-{period}.xlsx")

    return router
