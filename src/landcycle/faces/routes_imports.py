"""标图入库 over HTTP (issues 4 and 5): upload a GIS file for a dry run or an all-or-nothing
import, list and undo batches, and export parcels as GIS files or an Excel ledger.

Uploads are multipart forms: the file plus the CLI's options as form fields (unknown fields are
refused). Starlette's parser streams the body to a spooled temporary file (never the whole body
in memory); the endpoint copies it into a fresh work folder under the data directory
(``services.imports.upload_workspace``), which is removed afterwards. The caller is checked
*before* the body is read: an anonymous or unauthorised upload is refused without being stored.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..domain.access import Action, Principal
from ..services import access, exports, imports, registry
from .auth import current_principal
from .downloads import XLSX, download, scratch_file_download
from .paging import PageParams, page_body, page_params

MEDIA_TYPES = {"gpkg": "application/geopackage+sqlite3", "geojson": "application/geo+json",
               "dxf": "image/vnd.dxf", "xlsx": XLSX, "zip": "application/zip"}
_MAX_ID = 2**31 - 1
_COPY_CHUNK = 1024 * 1024


class _EditorsOnlyRoute(APIRoute):
    """Checks that the caller may edit parcels before FastAPI reads the request body, so an
    anonymous or unauthorised client cannot make the server store a 200 MiB upload."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            principal = await run_in_threadpool(current_principal, request)
            access.require(principal, Action.EDIT_PARCELS)
            return await handler(request)

        return guarded


class ImportOptions(BaseModel):
    """The upload and the options of ``landcycle import`` (multipart form fields)."""

    model_config = ConfigDict(extra="forbid")

    file: UploadFile = File(..., description="GIS 文件：单个 .gpkg/.geojson/.json/.dxf 或界址点 .xlsx/.csv；"
                                             "或 .zip 压缩包（Shapefile 全套文件、.gdb 文件夹等）")
    member: str | None = Field(None, max_length=300, description="压缩包内要导入的数据集路径（压缩包含多个数据集时必填）")
    layer: str | None = Field(None, max_length=200, description="图层名（文件含多个图层时；缺省取第一个空间图层）")
    encoding: str | None = Field(None, max_length=40, description="Shapefile 属性表编码（如 GBK、UTF-8）；缺省按 .cpg 或自动判断")
    crs: str | None = Field(None, max_length=200, description="源坐标系（如 EPSG:4526）；缺省从文件识别或推断")
    central_meridian: float | None = Field(None, ge=70, le=140, description="高斯-克吕格中央经线（度），6位横坐标时使用")
    convert_gcj: bool = Field(False, description="源数据为 GCJ-02（火星坐标）时转换为 CGCS2000")
    mapping: str | None = Field(None, max_length=200_000, description="字段映射（TOML 文本），补充/覆盖默认映射")
    county: str | None = Field(None, max_length=100, description="属性中没有县(市、区)时使用")
    zone: str | None = Field(None, max_length=100, description="属性中没有产业集聚区时使用")
    repair: bool = Field(False, description="用 make_valid 修复无效图形、删除重复界址点（报告中注明）")
    update: bool = Field(False, description="允许更新已登记的宗地（记入一地一档）")
    overlap_tolerance_m2: float = Field(imports.DEFAULT_OVERLAP_TOLERANCE_M2, ge=0, le=1e6,
                                        description="允许的重叠面积（平方米）")
    area_tolerance: float = Field(registry.DEFAULT_AREA_TOLERANCE, ge=0, le=1,
                                  description="申报面积与图形面积允许的相对差（0.05 = 5%）")
    sliver_min_area_m2: float = Field(imports.SLIVER_MIN_AREA_M2, ge=0, le=1e6,
                                      description="小于此面积（平方米）的部分视为碎片（警告）")
    sliver_min_thinness: float = Field(imports.SLIVER_MIN_THINNESS, ge=0, le=1,
                                       description="紧凑度 4πA/P² 低于此值视为狭长碎片（警告）")

    def analysis(self) -> dict[str, Any]:
        """The options of the validation (``imports.dry_run`` / ``import_batch``)."""
        return dict(mapping=imports.mapping_from_text(self.mapping) if self.mapping else None,
                    county=self.county or None, zone=self.zone or None, repair=self.repair, update=self.update,
                    overlap_tolerance_m2=self.overlap_tolerance_m2, area_tolerance=self.area_tolerance,
                    sliver_min_area_m2=self.sliver_min_area_m2, sliver_min_thinness=self.sliver_min_thinness)


def _read_upload(request: Request, work: Path, opts: ImportOptions):
    """Copy the upload into ``work`` under a safe name and read it (zip unpacked safely)."""
    target = work / imports.safe_upload_name(opts.file.filename)
    with open(target, "wb") as out:
        shutil.copyfileobj(opts.file.file, out, _COPY_CHUNK)
    return imports.read_upload(request.app.state.db, target, member=opts.member or None,
                               county=opts.county or None, layer=opts.layer or None,
                               encoding=opts.encoding or None, crs=opts.crs or None,
                               central_meridian=opts.central_meridian, convert_gcj=opts.convert_gcj)


def _xlsx(path: Path, name: str) -> Response:
    return download(path.read_bytes(), XLSX, name, "report.xlsx")


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["标图入库与导出"])
    uploads = APIRouter(prefix="/api/imports", tags=["标图入库与导出"], route_class=_EditorsOnlyRoute)
    data_dir = Path(settings.data_dir)

    @uploads.post("/dry-run", summary="试导入：检查上传的文件并出报告（不写入）",
                  responses={200: {"content": {XLSX: {}}, "description": "校验报告（JSON，或 format=xlsx 时为 Excel）"}})
    def dry_run(request: Request, opts: Annotated[ImportOptions, Form()],
                fmt: Literal["json", "xlsx"] = Query("json", alias="format", description="报告格式：json 或 xlsx"),
                principal: Principal = Depends(current_principal)):
        """Validate an uploaded file exactly as the import would, as the caller would import it
        (rows outside the caller's jurisdiction are errors naming the row); write nothing.
        Answers the report: one row per problem naming its source row/feature."""
        db = request.app.state.db
        with imports.upload_workspace(data_dir) as work:
            batch = _read_upload(request, work, opts)
            report = imports.dry_run(db, batch, viewer=principal, **opts.analysis())
            if fmt == "xlsx":
                return _xlsx(report.write_excel(work / "report.xlsx"), "试导入报告.xlsx")
        return report.to_dict()

    @uploads.post("", summary="导入：上传文件整批入库（全部成功或全部不写入）", status_code=201)
    def import_upload(request: Request, opts: Annotated[ImportOptions, Form()],
                      principal: Principal = Depends(current_principal)):
        """Import an uploaded file as one batch. 201 with the batch; 422 with the full report
        (``report``) when it has errors — nothing is written then."""
        db = request.app.state.db
        with imports.upload_workspace(data_dir) as work:
            batch = _read_upload(request, work, opts)
            try:
                result = imports.import_batch(db, batch, actor=principal, **opts.analysis())
            except imports.ImportRejected as exc:
                rep = exc.report
                return JSONResponse(status_code=422, content={
                    "code": exc.code,
                    "message": f"导入被拒绝：有 {len(rep.errors)} 个错误，未写入任何数据（详见 report）",
                    "problems": [{"record": p.record, "field": p.field, "message": p.message, "code": p.code}
                                 for p in exc.problems],
                    "report": rep.to_dict()})
        return imports.batch_detail(db, result.batch_id, viewer=principal)

    @router.get("/api/imports", summary="导入批次列表")
    def list_batches(request: Request, page: PageParams = Depends(page_params(imports.BATCH_SORT_FIELDS)),
                     principal: Principal = Depends(current_principal)):
        """The batches in the caller's jurisdiction (city level: all), newest first."""
        items, total = imports.batches_page(request.app.state.db, viewer=principal, limit=page.limit,
                                            offset=page.offset, sort=page.sort)
        return page_body(request, items, total, page)

    @router.get("/api/imports/{batch_id}", summary="导入批次详情（含校验报告）")
    def batch_detail(request: Request, batch_id: int = PathParam(..., ge=1, le=_MAX_ID, description="批次号"),
                     principal: Principal = Depends(current_principal)):
        return imports.batch_detail(request.app.state.db, batch_id, viewer=principal)

    @router.get("/api/imports/{batch_id}/report", summary="下载导入批次的校验报告",
                responses={200: {"content": {XLSX: {}}, "description": "校验报告（JSON 或 Excel）"}})
    def batch_report(request: Request, batch_id: int = PathParam(..., ge=1, le=_MAX_ID, description="批次号"),
                     fmt: Literal["json", "xlsx"] = Query("xlsx", alias="format", description="报告格式：xlsx 或 json"),
                     principal: Principal = Depends(current_principal)):
        report = imports.stored_report(request.app.state.db, batch_id, viewer=principal)
        if fmt == "json":
            return report.to_dict()
        with tempfile.TemporaryDirectory(dir=_scratch(data_dir)) as tmp:
            return _xlsx(report.write_excel(Path(tmp) / "report.xlsx"), f"导入批次{batch_id}报告.xlsx")

    @router.post("/api/imports/{batch_id}/undo", summary="整批撤销一次导入")
    def undo(request: Request, batch_id: int = PathParam(..., ge=1, le=_MAX_ID, description="批次号"),
             principal: Principal = Depends(current_principal)):
        """Delete what the batch created and restore what it updated, in one transaction;
        refused (422, nothing changed) when any of it changed since."""
        return imports.undo_batch(request.app.state.db, batch_id, actor=principal)

    @router.get("/api/exports/parcels", summary="导出宗地（GIS 文件或 Excel 台账）",
                response_class=Response,
                responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "导出文件"}})
    def export_parcels(
        request: Request,
        fmt: Literal["gpkg", "shp", "geojson", "dxf", "xlsx"] = Query(
            "gpkg", alias="format", description="gpkg、shp（zip 打包）、geojson、dxf 或 xlsx（台账）"),
        county: str | None = Query(None, max_length=100, description="县(市、区)代码、名称或别名"),
        zone: str | None = Query(None, max_length=100, description="产业集聚区代码、名称或别名"),
        state: str | None = Query(None, max_length=50, description="土地状态（英文值或中文名）"),
        category: str | None = Query(None, max_length=50, description="低效类别（英文值或中文名）"),
        land_source: str | None = Query(None, max_length=50, description="土地来源（英文值或中文名）"),
        crs: str = Query("EPSG:4490", max_length=100, description="输出坐标系（缺省 EPSG:4490，或如 EPSG:4547）"),
        encoding: str = Query("UTF-8", max_length=40, description="Shapefile 属性表编码（UTF-8 或 GBK，写入 .cpg）"),
        principal: Principal = Depends(current_principal),
    ):
        """The parcels the caller may read, filtered; the ledger carries the latest evaluation's
        figures only for parcels whose confidential data the caller may read."""
        work = Path(tempfile.mkdtemp(prefix="export-", dir=_scratch(data_dir)))
        try:
            stem = f"宗地_{date.today():%Y%m%d}"
            result = exports.export_parcels(request.app.state.db, work / stem, fmt=fmt, county=county, zone=zone,
                                            state=state, crs=crs, encoding=encoding, viewer=principal,
                                            category=category, land_source=land_source)
            path = exports.package_for_download(result)
            kind = "zip" if path.suffix == ".zip" else fmt
            return scratch_file_download(path, work, MEDIA_TYPES[kind], f"parcels.{path.suffix.lstrip('.')}",
                                         headers={"X-Export-Count": str(result.count)})
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise

    router.include_router(uploads)
    return router


def _scratch(data_dir: Path) -> Path:
    folder = data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
