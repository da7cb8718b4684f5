"""Export a filtered parcel set (issue 4, item 6): GeoPackage, Shapefile, GeoJSON, DXF, Excel ledger.

Parcels are read in bulk with one Core query (parcels ⨝ county ⨝ zone, plus the latest
evaluation for the ledger), never row by row through the ORM. GIS files are written with
GDAL (``pyogrio.raw.write``); the ledger with openpyxl.

Every GIS column is one the importer maps back (``data/import_mapping.toml``), so an export
re-imported with ``landcycle import`` gives back the same parcels:

=====================  ==============================================  =========================
column (GPKG/GeoJSON)  column (Shapefile: DBF names ≤ 10 bytes)        parcel field
=====================  ==============================================  =========================
宗地代码               ZDDM                                            code
坐落                   ZL                                              location
所属县区               XZQMC                                           county (name)
产业集聚区             ZONE                                            zone (name; blank outside)
土地用途               TDYT                                            land_use (GB/T 21010 code)
土地状态               TDZT                                            state (Chinese label)
土地来源               TDLY                                            land_source (label)
供地方式               GDFS                                            supply_method (label)
供地日期               GDRQ                                            supply_date (YYYY-MM-DD)
出让年限               SYNX                                            term_years
价款(万元)             JK (万元)                                       price_wan
宗地面积(平方米)       ZDMJ (平方米)                                   area (GK, checked on import)
容积率下限/容积率上限  RJL_MIN / RJL_MAX                               plot ratios
=====================  ==============================================  =========================

What round-trips (tests/test_exports.py):

* **GPKG, Shapefile, GeoJSON** — geometry (MultiPolygon, holes kept) and all the columns above.
  Shapefiles carry a ``.cpg`` naming their DBF encoding (UTF-8 default, GBK on request for older
  desktop GIS); text longer than a DBF field's 254 bytes is cut at a character boundary (noted).
* **DXF** — geometry only, as GDAL writes it: one HATCH per polygon part (holes kept), on a
  layer named by the parcel code (CAD has no attribute table). A multi-part parcel comes back as
  one entity per part with the same layer. Re-import with a mapping that takes the code from
  the layer (``[fields.code] columns = ["Layer"]``, county from the code; ``--zone`` as needed);
  single-part parcels import directly, multi-part ones are compared by code (union of parts).
* **XLSX ledger** (sheet “宗地台账”) — a report with no geometry: one row per parcel with its
  state, 低效类别, areas in m² and 亩, supply facts and the figures of the latest evaluation
  (the run of the latest year, its newest run; each parcel's newest result version), then a
  totals row “合计” in 亩. Its attribute columns (宗地代码, 坐落, 所属县(市、区), 产业集聚区,
  土地用途, 土地状态, 面积(平方米), 供地方式, 供地日期) are importer column names, so the ledger
  maps back by code; it cannot be imported as parcels (no boundaries).

Who may export (issue 5): ``viewer`` needs ``Action.EXPORT`` (officials and departments); the
parcel set is limited to what the viewer may read (``services.access.parcel_condition``), and the
ledger's evaluation figures (tax and output per 亩, idle/low-efficiency findings) are filled only
for parcels whose confidential data the viewer may read — blank otherwise, and the 说明 sheet says so.

Output CRS: EPSG:4490 (default) or any EPSG code, e.g. a CGCS2000 GK zone (EPSG:4547);
geometries are reprojected with :func:`landcycle.domain.geometry.project`. DXF has no CRS
record; the importer infers lon/lat or GK coordinates from the numbers.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely
from pyproj import CRS
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from ..domain.access import SYSTEM, Action, Principal
from ..domain.errors import Problem, ValidationFailed
from ..domain.geometry import CANONICAL_EPSG, as_multipolygon, project
from ..domain.rules import idle as idle_rule
from ..domain.rules.evaluation import CATEGORY_BITS
from ..domain.vocabulary import (
    InefficiencyCategory,
    JurisdictionKind,
    LandSource,
    LandState,
    SupplyMethod,
    land_use_label,
)
from ..storage.db import Database
from ..storage.evaluation_schema import EvaluationRun, ParcelEvaluation
from ..storage.schema import Jurisdiction, Parcel
from . import access, jurisdictions, registry

FORMATS = {"gpkg": ".gpkg", "shp": ".shp", "geojson": ".geojson", "dxf": ".dxf", "xlsx": ".xlsx"}
FORMAT_LABELS = {"gpkg": "GeoPackage", "shp": "Shapefile", "geojson": "GeoJSON", "dxf": "DXF",
                 "xlsx": "Excel 台账"}
_EXT_FORMAT = {".gpkg": "gpkg", ".shp": "shp", ".geojson": "geojson", ".json": "geojson",
               ".dxf": "dxf", ".xlsx": "xlsx"}
_DRIVERS = {"gpkg": "GPKG", "shp": "ESRI Shapefile", "geojson": "GeoJSON", "dxf": "DXF"}
LAYER_NAME = "宗地"
DBF_MAX_BYTES = 254

#: (parcel key, long column name, Shapefile column name, kind) — all importer column names.
GIS_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("code", "宗地代码", "ZDDM", "text"),
    ("location", "坐落", "ZL", "text"),
    ("county_name", "所属县区", "XZQMC", "text"),
    ("zone_name", "产业集聚区", "ZONE", "text"),
    ("land_use", "土地用途", "TDYT", "text"),
    ("state_label", "土地状态", "TDZT", "text"),
    ("inefficiency_text", "低效类别", "DXLB", "text"),
    ("land_source_label", "土地来源", "TDLY", "text"),
    ("supply_method_label", "供地方式", "GDFS", "text"),
    ("supply_date", "供地日期", "GDRQ", "text"),
    ("term_years", "出让年限", "SYNX", "int"),
    ("price_wan", "价款(万元)", "JK", "float"),
    ("area_m2", "宗地面积(平方米)", "ZDMJ", "float"),
    ("plot_ratio_min", "容积率下限", "RJL_MIN", "float"),
    ("plot_ratio_max", "容积率上限", "RJL_MAX", "float"),
)

LEDGER_COLUMNS = ("宗地代码", "坐落", "所属县(市、区)", "产业集聚区", "土地用途", "土地状态", "低效类别",
                  "面积(平方米)", "面积(亩)", "供地方式", "供地日期", "亩均税收(万元/亩)", "亩均产值(万元/亩)",
                  "闲置认定", "低效认定", "评价年度")
IDLE_LABELS = {"not_applicable": "不适用（未供应或无出让合同）", **idle_rule.OUTCOMES}


@dataclass
class ExportResult:
    count: int
    path: Path
    fmt: str
    crs: str = "EPSG:4490"
    notes: list[str] = field(default_factory=list)


def _fail(field_name: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(Problem("导出", field_name, message, code))


# --------------------------------------------------------------------------- options
def resolve_format(path: Path, fmt: str | None) -> tuple[Path, str]:
    """The format (from ``fmt`` or the extension) and the output path (extension added if missing)."""
    ext = path.suffix.lower()
    if fmt is None:
        if ext not in _EXT_FORMAT:
            raise _fail("format", f"无法从扩展名“{path.suffix or '无'}”判断导出格式；请用 .gpkg、.shp、.geojson、"
                        ".dxf、.xlsx，或用 --format 指定", "unsupported_format")
        return path, _EXT_FORMAT[ext]
    f = fmt.strip().lower().lstrip(".")
    f = {"json": "geojson", "shapefile": "shp", "excel": "xlsx"}.get(f, f)
    if f not in FORMATS:
        raise _fail("format", f"不支持的导出格式“{fmt}”，应为 gpkg、shp、geojson、dxf 或 xlsx", "unsupported_format")
    if not ext:
        return path.with_suffix(FORMATS[f]), f
    if _EXT_FORMAT.get(ext) != f:
        raise _fail("format", f"文件扩展名“{path.suffix}”与导出格式 {f} 不符", "unsupported_format")
    return path, f


def _target_epsg(crs: str | None) -> int:
    if crs is None or str(crs).strip() == "":
        return CANONICAL_EPSG
    try:
        epsg = CRS.from_user_input(str(crs).strip()).to_epsg()
    except Exception:
        epsg = None
    if epsg is None:
        raise _fail("crs", f"无法识别的坐标系“{crs}”（应如 EPSG:4490 或 EPSG:4547）", "bad_crs")
    return int(epsg)


def _check_encoding(encoding: str) -> str:
    import codecs

    try:
        codecs.lookup(encoding)
    except (LookupError, ValueError):  # ValueError: a NUL in the name (found by the API fuzzer)
        raise _fail("encoding", f"无法识别的编码“{encoding}”（应如 UTF-8 或 GBK）", "bad_encoding") from None
    return encoding.upper()


# --------------------------------------------------------------------------- reading
def read_parcels(db: Database, *, county: str | None = None, zone: str | None = None,
                 state: str | None = None, bbox=None, viewer: Principal = SYSTEM,
                 category: str | None = None, land_source: str | None = None) -> list[dict[str, Any]]:
    """The filtered parcels ``viewer`` may read as dicts (one Core query, ordered by code),
    geometry as shapely; ``confidential`` says whether the viewer may read their figures.
    ``category``/``land_source``: the ledger filters of ``registry.ledger_conditions``."""
    p = Parcel.__table__
    cty, zn = aliased(Jurisdiction), aliased(Jurisdiction)
    with db.reader() as s:
        conds = [access.parcel_condition(viewer, p.c)]
        if county:
            conds.append(p.c.county_id == jurisdictions.resolve(s, county, JurisdictionKind.COUNTY,
                                                                "导出", "county").id)
        if zone:
            conds.append(p.c.zone_id == jurisdictions.resolve(s, zone, JurisdictionKind.ZONE, "导出", "zone").id)
        if state:
            try:
                conds.append(p.c.state == LandState.parse(state.strip()).value)
            except ValueError as exc:
                raise _fail("state", str(exc)) from None
        if bbox is not None:
            try:
                minx, miny, maxx, maxy = (float(v) for v in bbox)
            except (TypeError, ValueError):
                raise _fail("bbox", "应为4个数：最小经度,最小纬度,最大经度,最大纬度") from None
            if minx > maxx or miny > maxy:
                raise _fail("bbox", "最小值大于最大值")
            conds.append(and_(p.c.max_lon >= minx, p.c.min_lon <= maxx,
                              p.c.max_lat >= miny, p.c.min_lat <= maxy))
        conds += registry.ledger_conditions(category, land_source, p.c)
        stmt = (select(p.c.id, p.c.code, p.c.county_id, p.c.zone_id, p.c.location, p.c.geometry, p.c.area_m2,
                       p.c.area_mu, p.c.land_use,
                       p.c.state, p.c.inefficiency_categories, p.c.land_source, p.c.supply_method,
                       p.c.supply_date, p.c.term_years, p.c.price_wan, p.c.plot_ratio_min, p.c.plot_ratio_max,
                       cty.name.label("county_name"), zn.name.label("zone_name"))
                .join(cty, cty.id == p.c.county_id)
                .outerjoin(zn, zn.id == p.c.zone_id)
                .where(and_(True, *conds))
                .order_by(p.c.code))
        rows = [dict(r._mapping) for r in s.execute(stmt)]
    for r in rows:
        r["state_label"] = LandState(r["state"]).label
        r["land_source_label"] = LandSource(r["land_source"]).label if r["land_source"] else None
        r["supply_method_label"] = SupplyMethod(r["supply_method"]).label if r["supply_method"] else None
        r["supply_date"] = r["supply_date"].isoformat() if r["supply_date"] else None
        r["inefficiency_labels"] = [InefficiencyCategory(c).label for c in r["inefficiency_categories"] or []]
        r["inefficiency_text"] = "、".join(r["inefficiency_labels"]) or None
        r["confidential"] = viewer.sees_confidential_of(r["county_id"], r["zone_id"])
    return rows


def latest_evaluation(db: Database, parcel_ids: list[int]) -> tuple[dict[str, Any] | None, dict[int, dict]]:
    """The latest run (newest run of the latest year) and each parcel's current result in it."""
    with db.reader() as s:
        run = s.execute(select(EvaluationRun.id, EvaluationRun.year, EvaluationRun.as_of)
                        .order_by(EvaluationRun.year.desc(), EvaluationRun.id.desc()).limit(1)).first()
        if run is None:
            return None, {}
        pe = ParcelEvaluation.__table__
        newest = (select(pe.c.parcel_id, func.max(pe.c.result_version).label("v"))
                  .where(pe.c.run_id == run.id).group_by(pe.c.parcel_id).subquery())
        stmt = (select(pe.c.parcel_id, pe.c.tax_per_mu_wan, pe.c.output_per_mu_wan, pe.c.idle_outcome,
                       pe.c.low_efficiency_mask)
                .join(newest, and_(newest.c.parcel_id == pe.c.parcel_id, newest.c.v == pe.c.result_version))
                .where(pe.c.run_id == run.id))
        wanted = set(parcel_ids)
        results = {r.parcel_id: dict(r._mapping) for r in s.execute(stmt) if r.parcel_id in wanted}
    return {"id": run.id, "year": run.year, "as_of": run.as_of}, results


# --------------------------------------------------------------------------- writing
def export_parcels(db: Database, path, *, fmt: str | None = None, county: str | None = None,
                   zone: str | None = None, state: str | None = None, bbox=None, encoding: str = "UTF-8",
                   crs: str = "EPSG:4490", viewer: Principal = SYSTEM, category: str | None = None,
                   land_source: str | None = None) -> ExportResult:
    """Write the filtered parcels ``viewer`` may read to ``path`` (module docstring). An
    existing file is replaced."""
    access.require(viewer, Action.EXPORT)
    out, f = resolve_format(Path(path), fmt)
    epsg = _target_epsg(crs)
    enc = _check_encoding(encoding or "UTF-8")
    if not out.parent.exists():
        raise _fail("path", f"目录不存在：{out.parent}", "file_missing")
    rows = read_parcels(db, county=county, zone=zone, state=state, bbox=bbox, viewer=viewer,
                        category=category, land_source=land_source)
    result = ExportResult(len(rows), out, f, f"EPSG:{epsg}")
    _remove_existing(out, f)
    if f == "xlsx":
        run, evals = latest_evaluation(db, [r["id"] for r in rows if r["confidential"]])
        withheld = sum(not r["confidential"] for r in rows)
        _write_ledger(out, rows, run, evals, dict(county=county, zone=zone, state=state, category=category,
                                                  land_source=land_source, bbox=bbox), withheld)
        result.crs = ""
        result.notes.append(f"台账含最近一次评价（{run['year']}年度，批次 {run['id']}）的数据" if run
                            else "库中没有评价批次，评价数据列为空")
        if withheld:
            result.notes.append(f"有 {withheld} 宗宗地的评价数据不在您的查阅范围内，相应列为空")
        return result
    geoms = np.array([as_multipolygon(r["geometry"]) for r in rows], dtype=object)
    if len(geoms) and epsg != CANONICAL_EPSG:
        geoms = project(geoms, CANONICAL_EPSG, epsg)
    wkb = shapely.to_wkb(geoms) if len(geoms) else np.zeros(0, dtype=object)
    if f == "dxf":
        _write_dxf(out, rows, geoms)
        result.notes.append("DXF 无属性表：每个宗地的各部分（填充）放在以宗地代码命名的图层上；"
                            "重新导入时用映射把 Layer 作为宗地代码")
        return result
    names, data, masks = _gis_fields(rows, short=(f == "shp"), encoding=enc if f == "shp" else None,
                                     notes=result.notes)
    kwargs: dict[str, Any] = {}
    if f == "shp":
        kwargs["encoding"] = enc
    elif f == "gpkg":
        kwargs["layer"] = LAYER_NAME
    try:
        pyogrio.raw.write(out, wkb, data, names, field_mask=masks, driver=_DRIVERS[f],
                          geometry_type="MultiPolygon", crs=f"EPSG:{epsg}", **kwargs)
    except Exception as exc:
        raise _fail("path", f"无法写出 {out.name}（{_DRIVERS[f]}）：{exc}", "write_failed") from None
    if f == "shp":
        result.notes.append(f"属性表编码 {enc}（已写 .cpg）")
    return result


def package_for_download(result: ExportResult) -> Path:
    """The one file to hand out for an export: a Shapefile's .shp/.shx/.dbf/.prj/.cpg zipped
    together beside it (``NAME.zip``), any other format as written."""
    if result.fmt != "shp":
        return result.path
    import zipfile

    archive = result.path.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            part = result.path.with_suffix(ext)
            if part.exists():
                zf.write(part, part.name)
    return archive


def _remove_existing(out: Path, f: str) -> None:
    if f == "shp":
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            q = out.with_suffix(ext)
            if q.exists():
                q.unlink()
    elif out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()


def _cut_bytes(text: str, encoding: str, limit: int) -> str:
    b = text.encode(encoding, errors="replace")
    if len(b) <= limit:
        return text
    return b[:limit].decode(encoding, errors="ignore")


def _gis_fields(rows, short: bool, encoding: str | None, notes: list[str]):
    names, data, masks = [], [], []
    cut = 0
    for key, long_name, short_name, kind in GIS_COLUMNS:
        values = [r[key] for r in rows]
        missing = np.array([v is None for v in values], dtype=bool)
        if kind == "text":
            col = np.array(["" if v is None else str(v) for v in values], dtype=object)
            if encoding:
                for i, v in enumerate(col):
                    c = _cut_bytes(v, encoding, DBF_MAX_BYTES)
                    if c != v:
                        col[i] = c
                        cut += 1
            col[missing] = None
            mask = None
        elif kind == "int":
            col = np.array([0 if v is None else int(v) for v in values], dtype=np.int32)
            mask = missing
        else:
            col = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
            if key == "area_m2":
                col = np.round(col, 2)
            mask = missing
        names.append(short_name if short else long_name)
        data.append(col)
        masks.append(mask if mask is not None and mask.any() else None)
    if cut:
        notes.append(f"有 {cut} 个文字值超过 DBF 字段的 {DBF_MAX_BYTES} 字节上限，已截断")
    return names, data, masks


def _write_dxf(out: Path, rows, geoms) -> None:
    """One HATCH per polygon part (GDAL's DXF writer), layer = parcel code."""
    parts, layers = [], []
    for r, g in zip(rows, geoms):
        for part in g.geoms:
            parts.append(part)
            layers.append(r["code"])
    wkb = shapely.to_wkb(np.array(parts, dtype=object)) if parts else np.zeros(0, dtype=object)
    try:
        with warnings.catch_warnings():  # DXF keeps no CRS record: that is expected, not a warning
            warnings.simplefilter("ignore", UserWarning)
            pyogrio.raw.write(out, wkb, [np.array(layers, dtype=object)], ["Layer"], driver="DXF",
                              geometry_type="Polygon")
    except Exception as exc:
        raise _fail("path", f"无法写出 {out.name}（DXF）：{exc}", "write_failed") from None


def _mask_labels(mask: int | None) -> str:
    if not mask:
        return ""
    return "、".join(c.label for c, bit in CATEGORY_BITS.items() if mask & bit)


def _write_ledger(out: Path, rows, run, evals, filters, withheld: int = 0) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "宗地台账"
    ws.append(list(LEDGER_COLUMNS))
    for c in ws[1]:
        c.font = Font(bold=True)
    total_m2 = total_mu = 0.0
    for r in rows:
        e = evals.get(r["id"])
        total_m2 += r["area_m2"]
        total_mu += r["area_mu"]
        ws.append([
            r["code"], r["location"], r["county_name"], r["zone_name"], land_use_label(r["land_use"]),
            r["state_label"], "、".join(r["inefficiency_labels"]) or None,
            round(r["area_m2"], 2), round(r["area_mu"], 4), r["supply_method_label"],
            date.fromisoformat(r["supply_date"]) if r["supply_date"] else None,
            None if e is None or e["tax_per_mu_wan"] is None else round(e["tax_per_mu_wan"], 4),
            None if e is None or e["output_per_mu_wan"] is None else round(e["output_per_mu_wan"], 4),
            None if e is None else IDLE_LABELS.get(e["idle_outcome"], e["idle_outcome"]),
            None if e is None else (_mask_labels(e["low_efficiency_mask"]) or "否"),
            run["year"] if e is not None else None,
        ])
        ws.cell(ws.max_row, 11).number_format = "yyyy-mm-dd"
    ws.append(["合计", f"{len(rows)} 宗", None, None, None, None, None, round(total_m2, 2), round(total_mu, 4)])
    for c in ws[ws.max_row]:
        c.font = Font(bold=True)
    for col, width in zip("ABCDEFGHIJKLMNOP", (22, 36, 14, 20, 16, 10, 20, 14, 12, 10, 12, 16, 16, 26, 20, 10)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "B2"
    info = wb.create_sheet("说明")
    info.append(["项目", "内容"])
    shown = {"county": "县(市、区)", "zone": "产业集聚区", "state": "土地状态", "category": "低效类别",
             "land_source": "土地来源", "bbox": "范围"}
    cond = "；".join(f"{shown[k]}={v}" for k, v in filters.items() if v) or "全部宗地"
    for k, v in (("导出时间", datetime.now().strftime("%Y-%m-%d %H:%M")), ("筛选条件", cond),
                 ("宗地数", len(rows)), ("面积合计(亩)", round(total_mu, 4)),
                 ("评价批次", f"{run['year']}年度评价，批次 {run['id']}（截至 {run['as_of']}）" if run else "无"),
                 ("说明", "面积按各宗地所在CGCS2000三度带高斯-克吕格投影计算；1亩=666.67平方米；"
                          "亩均税收、亩均产值、闲置认定、低效认定取最近一次年度评价的现行结果（未参评的宗地为空）"),
                 ("说明", "本台账不含宗地界线，不能作为宗地导入；属性列可按宗地代码与登记库核对")):
        info.append([k, v])
    if withheld:
        info.append(["说明", f"有 {withheld} 宗宗地的评价数据不在导出人的查阅范围内，相应列为空"])
    info.column_dimensions["A"].width = 14
    info.column_dimensions["B"].width = 90
    wb.save(out)
