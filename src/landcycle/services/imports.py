"""标图入库 (issue 4): validate a read GIS/survey batch, report every problem, import it as one
batch (all or nothing), list batches and undo one as a whole.

Flow: a reader (``services/gis_read``) yields a :class:`SourceBatch`; :func:`dry_run` maps
its attributes (``domain/import_mapping``), checks geometry, attributes and the store, and
returns an :class:`ImportReport` (one row per problem, naming the source row/feature);
:func:`import_batch` runs the same analysis inside its write transaction and writes only
when the report has no errors. Updates go through the ORM and new parcels through Core bulk
inserts (``registry.bulk_parcel_writes``, same change-log rows), so 一地一档 records every write
with the reason “导入批次 N”; ``import_batches`` / ``import_batch_items`` record the batch.
A row's 权利人 with a valid 统一社会信用代码 is written in the same transaction: the enterprise
(created if unregistered) and an owner occupancy (new parcels; updated parcels without a
current owner), Core bulk inserts with their change-log rows; undo finds them by that reason.
Checks run on shapely arrays (see ``benchmarks/import_parcels.py``: 200,000 parcels ≈ 17 s); reading,
checking and importing pause the cyclic garbage collector (``services/gc_pause``).

Callers act as a :class:`Principal` (a plain actor name acts with system rights): importing,
listing and undoing need ``Action.EDIT_PARCELS``; a county admin or zone manager may only
import rows inside their jurisdiction (a row outside it is an ``outside_jurisdiction`` error
naming the row) and sees or undoes only batches whose parcels all lie inside it. The report
records the jurisdictions a batch touches (``jurisdictions``), which scopes the batch later.

HTTP uploads (``faces/routes_imports.py``) land in :func:`upload_workspace` under the data
directory and are unpacked by :func:`unpack_upload`: a single file, or a .zip holding a
Shapefile set, a .gdb folder or any other readable file — members with absolute or ``..``
paths or symlinks refuse the whole archive (zip-slip), and the unpacked size is capped.

Thresholds (named constants below, all overridable per call):

* ``DEFAULT_OVERLAP_TOLERANCE_M2`` = 1 m² — overlaps with another feature of the batch or a
  stored parcel above this are errors (digitising noise along shared boundaries stays below).
* ``SLIVER_MIN_AREA_M2`` = 10 m² — a part smaller than this is a sliver (warning).
* ``SLIVER_MIN_THINNESS`` = 0.05 — Polsby-Popper 4πA/P²: 1 for a circle, 0.785 for a square,
  ≈0.05 for a 1:60 rectangle; below it a parcel is a sliver (warning: could be a road strip).
* ``DUPLICATE_VERTEX_TOLERANCE_DEG`` = 1e-9° (≈0.1 mm) — consecutive vertices closer than
  this are duplicates (warning; removed with ``repair``).
* area tolerance 5 % (``registry.DEFAULT_AREA_TOLERANCE``) between stated and geometry area.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import stat
import tomllib
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import shapely
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..domain.access import SYSTEM, Action, Principal, as_principal
from ..domain.errors import NotFound, Problem, ValidationFailed
from ..domain.geometry import gk_areas_m2
from ..domain.identifiers import normalise_credit_code, parse_parcel_code
from ..domain.import_mapping import ImportMapping, default_mapping, load_mapping, map_rows, parse_mapping
from ..domain.records import ParcelDraft
from ..domain.sources import SourceBatch
from ..domain.vocabulary import OccupancyRole
from ..storage.db import Database
from ..storage.bulk import insert_columns
from ..storage.history import insert_with_history
from ..storage.ids import BulkIdAllocator
from ..storage.import_schema import ImportBatch, ImportBatchItem
from ..storage.schema import (
    ChangeLog,
    Enterprise,
    EnterpriseFigure,
    Occupancy,
    Parcel,
    Jurisdiction,
    ParcelDevelopment,
    PerformanceAgreement,
    SupplyContract,
    utcnow,
)
from . import access, registry
from .gc_pause import cyclic_gc_paused

DEFAULT_OVERLAP_TOLERANCE_M2 = 1.0
SLIVER_MIN_AREA_M2 = 10.0
SLIVER_MIN_THINNESS = 0.05
DUPLICATE_VERTEX_TOLERANCE_DEG = 1e-9

ERROR, WARNING = "error", "warning"
SEVERITY_LABELS = {ERROR: "错误", WARNING: "警告"}
#: Problem codes reported as warnings (everything else blocks the import).
WARNING_CODES = {"repaired", "duplicate_vertices", "sliver", "unmapped_column", "mapping_note",
                 "owner_without_code", "owner_without_name", "owner_name_differs", "owner_differs"}
#: Update batches may change these fields of existing parcels.
_UPDATABLE = registry.EDITABLE_PARCEL_FIELDS | {"area_m2", "area_mu", "gk_epsg", "min_lon", "min_lat",
                                                 "max_lon", "max_lat", "zone_id"}
EXCEL_COLUMNS = ("来源位置", "宗地代码", "字段", "问题", "级别")


@dataclass
class ReportRow:
    source_id: str
    record: str  # parcel code as given (or "")
    field: str
    code: str
    message: str
    severity: str = ERROR


@dataclass
class ImportReport:
    path: str
    format: str
    file_sha256: str
    source_crs: str
    feature_count: int
    rows: list[ReportRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    column_map: dict[str, str] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    #: Parcel codes the batch would create / update (when it has no errors).
    to_create: list[str] = field(default_factory=list)
    to_update: list[str] = field(default_factory=list)
    #: Enterprises (权利人) and owner occupancies the batch creates (when it has no errors).
    owners_created: int = 0
    occupancies_created: int = 0
    #: The (county, zone) pairs the batch's parcels lie in, as codes and names (when it has no errors).
    jurisdictions: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def errors(self) -> list[ReportRow]:
        return [r for r in self.rows if r.severity == ERROR]

    @property
    def warnings(self) -> list[ReportRow]:
        return [r for r in self.rows if r.severity == WARNING]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    def counts_by_code(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.code] = out.get(r.code, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": {"path": self.path, "format": self.format, "file_sha256": self.file_sha256,
                       "source_crs": self.source_crs, "feature_count": self.feature_count},
            "notes": self.notes,
            "column_map": self.column_map,
            "unmapped_columns": self.unmapped_columns,
            "summary": {"errors": len(self.errors), "warnings": len(self.warnings),
                        "by_code": self.counts_by_code(),
                        "to_create": len(self.to_create), "to_update": len(self.to_update),
                        "owners_created": self.owners_created,
                        "occupancies_created": self.occupancies_created},
            "jurisdictions": self.jurisdictions,
            "rows": [asdict(r) for r in self.rows],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], to_create: list[str] = (), to_update: list[str] = ()) -> "ImportReport":
        """A report back from :meth:`to_dict` (a stored batch's report), e.g. to write it as Excel;
        the dict keeps only counts of the codes created/updated, so the caller passes them."""
        src, summary = data.get("source") or {}, data.get("summary") or {}
        rep = cls(src.get("path", ""), src.get("format", ""), src.get("file_sha256", ""),
                  src.get("source_crs", ""), int(src.get("feature_count") or 0),
                  rows=[ReportRow(**r) for r in data.get("rows") or []], notes=list(data.get("notes") or []),
                  column_map=dict(data.get("column_map") or {}),
                  unmapped_columns=list(data.get("unmapped_columns") or []),
                  owners_created=int(summary.get("owners_created") or 0),
                  occupancies_created=int(summary.get("occupancies_created") or 0),
                  jurisdictions=list(data.get("jurisdictions") or []))
        rep.to_create, rep.to_update = list(to_create), list(to_update)
        return rep

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        return path

    def write_excel(self, path: str | Path) -> Path:
        """The report as an .xlsx workbook: sheet “问题清单” (one row per problem) and “说明”."""
        from openpyxl import Workbook
        from openpyxl.styles import Font

        path = Path(path)
        wb = Workbook()
        ws = wb.active
        ws.title = "问题清单"
        ws.append(list(EXCEL_COLUMNS))
        for c in ws[1]:
            c.font = Font(bold=True)
        for r in self.rows:
            ws.append([r.source_id, r.record, r.field, r.message, SEVERITY_LABELS.get(r.severity, r.severity)])
        for col, width in zip("ABCDE", (16, 24, 18, 80, 8)):
            ws.column_dimensions[col].width = width
        ws.freeze_panes = "A2"
        info = wb.create_sheet("说明")
        info.append(["项目", "内容"])
        for k, v in (("文件", self.path), ("格式", self.format), ("SHA-256", self.file_sha256),
                     ("源坐标系", self.source_crs), ("要素数", self.feature_count),
                     ("错误", len(self.errors)), ("警告", len(self.warnings)),
                     ("拟新建", len(self.to_create)), ("拟更新", len(self.to_update)),
                     ("拟新建权利人企业", self.owners_created), ("拟新建用地关系", self.occupancies_created)):
            info.append([k, v])
        for n in self.notes:
            info.append(["说明", n])
        for col in self.unmapped_columns:
            info.append(["未映射字段", col])
        for j in self.jurisdictions:
            info.append(["涉及辖区", f"{j['county_name']} / {j['zone_name'] or '产业集聚区外'}"])
        info.column_dimensions["A"].width = 12
        info.column_dimensions["B"].width = 90
        wb.save(path)
        return path


class ImportRejected(ValidationFailed):
    """The batch has errors; nothing was written. ``report`` holds the full report."""

    code = "import_rejected"

    def __init__(self, report: ImportReport):
        self.report = report
        super().__init__([Problem(r.source_id, r.field, r.message, r.code) for r in report.errors])


@dataclass
class ImportResult:
    batch_id: int
    created: list[str]
    updated: list[str]
    report: ImportReport


# --------------------------------------------------------------------------- geometry helpers
def _polygonal(geom):
    """The polygonal part of a make_valid result (lines/points dropped), or None."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    return shapely.union_all(parts)


def _overlaps(geoms: np.ndarray, others: np.ndarray, tol_m2: float, same: bool):
    """Pairs (i, j, m²) of overlapping geometries above ``tol_m2`` (STRtree, vectorised)."""
    if len(geoms) == 0 or len(others) == 0:
        return []
    tree = shapely.STRtree(others)
    left, right = tree.query(geoms, predicate="intersects")
    if same:
        keep = left < right
        left, right = left[keep], right[keep]
    if len(left) == 0:
        return []
    inter = shapely.intersection(geoms[left], others[right])
    poly = np.array([_polygonal(g) for g in inter], dtype=object)
    has = np.array([g is not None for g in poly])
    areas = np.zeros(len(left))
    if has.any():
        areas[has], _ = gk_areas_m2(poly[has])
    return [(int(i), int(j), float(a)) for i, j, a in zip(left, right, areas) if a > tol_m2]


def stored_geometries_in_bbox(s: Session, bbox: tuple[float, float, float, float],
                              near=None) -> tuple[list[str], np.ndarray]:
    """Codes and geometries of the stored parcels whose bounding box meets ``bbox`` — one Core
    query (bbox columns, both backends), no ORM objects. With ``near`` (an array of
    geometries), only the parcels whose bbox meets the bbox of one of them are kept (and their
    geometries decoded): a batch spread over a city does not drag in every parcel between."""
    minx, miny, maxx, maxy = bbox
    t = Parcel.__table__
    where = and_(t.c.max_lon >= minx, t.c.min_lon <= maxx, t.c.max_lat >= miny, t.c.min_lat <= maxy)
    boxes = s.execute(select(t.c.id, t.c.min_lon, t.c.min_lat, t.c.max_lon, t.c.max_lat).where(where)).all()
    if not boxes:
        return [], np.zeros(0, dtype=object)
    ids = np.array([r[0] for r in boxes], dtype=np.int64)
    if near is not None and len(near):
        b = np.array([r[1:] for r in boxes], dtype=float)
        tree = shapely.STRtree(shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3]))
        hit = np.unique(tree.query(shapely.envelope(near))[1])
        ids = ids[hit]
    codes: list[str] = []
    geoms: list = []
    chunk = 5000
    for a in range(0, len(ids), chunk):
        for code, geom in s.execute(select(t.c.code, t.c.geometry).where(t.c.id.in_(ids[a:a + chunk].tolist()))):
            codes.append(code)
            geoms.append(geom)
    out = np.empty(len(geoms), dtype=object)
    out[:] = geoms
    return codes, out


# --------------------------------------------------------------------------- analysis
@dataclass
class _OwnerPlan:
    """The 权利人 of one row: its enterprise (registered or to create) and whether the owner
    occupancy is added (``start_date`` None → the import date)."""

    index: int
    credit_code: str
    add_occupancy: bool
    start_date: date | None


@dataclass
class _Owners:
    plans: list[_OwnerPlan] = field(default_factory=list)
    #: credit code → stored enterprise id.
    stored: dict[str, int] = field(default_factory=dict)
    #: credit code → (name, row index whose parcel gives the county) of enterprises to create.
    new: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass
class _Analysis:
    report: ImportReport
    prepared: list[registry.PreparedParcel]
    source_ids: list[str]
    owners: _Owners = field(default_factory=_Owners)


def _analyse(s: Session, batch: SourceBatch, mapping: ImportMapping | None, county: str | None,
             zone: str | None, repair: bool, update: bool, overlap_tolerance_m2: float,
             area_tolerance: float, sliver_min_area_m2: float, sliver_min_thinness: float,
             viewer: Principal = SYSTEM) -> _Analysis:
    mapping = mapping or default_mapping()
    n = len(batch)
    report = ImportReport(batch.path, batch.format, batch.file_sha256, batch.source_crs, n,
                          notes=list(batch.notes))
    sids = list(batch.source_ids)
    rows = report.rows
    mres = map_rows(mapping, batch.attributes, sids, batch.attribute_columns())
    report.column_map, report.unmapped_columns = mres.column_map, mres.unmapped_columns
    report.notes += mres.notes
    for col in mres.unmapped_columns:
        rows.append(ReportRow("表头", "", col, "unmapped_column",
                              f"字段“{col}”没有对应的宗地属性，未导入（可在映射文件中指定）", WARNING))
    codes = [str(r.values.get("code", "")) for r in mres.rows]

    def add(i: int | None, fld: str, code: str, msg: str, severity: str | None = None):
        sid = sids[i] if i is not None else "（全部）"
        rec = codes[i] if i is not None else ""
        rows.append(ReportRow(sid, rec, fld, code, msg,
                              severity or (WARNING if code in WARNING_CODES else ERROR)))

    # reader problems
    by_sid = {sid: i for i, sid in enumerate(sids)}
    for p in batch.problems:
        i = by_sid.get(p.record)
        rows.append(ReportRow(p.record, codes[i] if i is not None else "", p.field, p.code, p.message, ERROR))
    # mapping problems
    for i, r in enumerate(mres.rows):
        for p in r.problems:
            add(i, p.field, p.code, p.message)
    # geometry: validity, repair, duplicate vertices (vectorised; messages per feature)
    geoms = list(batch.geometries)
    garr = np.empty(len(geoms), dtype=object)
    garr[:] = geoms
    present = ~shapely.is_missing(garr)
    present[present] = ~shapely.is_empty(garr[present])
    polygonal = present & np.isin(shapely.get_type_id(garr), (3, 6))  # Polygon, MultiPolygon
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[polygonal] = ~shapely.is_valid(garr[polygonal])
    known_valid = polygonal & ~invalid  # told to the registry checks; a repaired geometry is checked again
    for i in np.flatnonzero(invalid):
        g = geoms[i]
        reason = shapely.is_valid_reason(g)
        if repair:
            fixed = _polygonal(shapely.make_valid(g))
            if fixed is None:
                add(i, "geometry", "invalid_geometry", f"几何图形无效（{reason}），修复后不再是面")
                geoms[i] = None
                polygonal[i] = False
                continue
            geoms[i] = fixed
            known_valid[i] = False
            polygonal[i] = fixed.geom_type in ("Polygon", "MultiPolygon")
            add(i, "geometry", "repaired", f"几何图形无效（{reason}），已按 make_valid 修复为有效的面，请核对")
        # else: reported by the registry checks below (with a hint)
    pidx = np.flatnonzero(polygonal)
    if len(pidx):
        pg = np.array([geoms[i] for i in pidx], dtype=object)
        dedup = shapely.remove_repeated_points(pg, DUPLICATE_VERTEX_TOLERANCE_DEG)
        removed = shapely.get_num_coordinates(pg) - shapely.get_num_coordinates(dedup)
        for k in np.flatnonzero(removed > 0):
            i = int(pidx[k])
            if repair:
                geoms[i] = dedup[k]
                known_valid[i] = False
            add(i, "geometry", "duplicate_vertices",
                f"有 {removed[k]} 个连续重复的界址点" + ("，已删除" if repair else "（可用 --repair 删除）"))
    # drafts: row values + CLI defaults; county falls back to the code's first 6 digits
    drafts = []
    for i, r in enumerate(mres.rows):
        v = dict(r.values)
        v.setdefault("code", "")
        c = v.pop("county", None) or county
        if not c:
            try:
                c = parse_parcel_code(v["code"])["county_code"]
            except ValueError:
                c = ""
        z = v.pop("zone", None) or zone
        drafts.append(ParcelDraft(geometry=geoms[i], county=c, zone=z, **v))
    per, prepared = registry.validate_parcels(s, drafts, area_tolerance, allow_existing=update,
                                              known_valid=known_valid)
    for i, ps in enumerate(per):
        for p in ps:
            msg = p.message
            if p.code == "invalid_geometry" and "无效" in msg and not repair:
                msg += "（可用 --repair 按 make_valid 修复）"
            if p.code == "invalid" and p.field == "code":
                code = "bad_code"
            elif p.field in ("county_id", "zone_id") and p.code in ("outside",):
                code = "outside"
            else:
                code = p.code
            add(i, p.field, code, msg)
    stored_places = _stored_places(s, [pp.code for pp in prepared if pp.exists])
    if not viewer.everywhere:
        _scope_problems(viewer, prepared, stored_places, add)
    # slivers, overlaps (only geometries fit to be parcels: the registry prepared them)
    ok = [i for i, pp in enumerate(prepared) if pp.geometry is not None]
    if ok:
        good = np.array([geoms[i] for i in ok], dtype=object)
        # every part of every geometry at once, in its parcel's GK zone (projected once, by the
        # registry checks): (part areas, part perimeters, owning feature)
        parts, owner = shapely.get_parts(np.array([prepared[i].gk_geometry for i in ok], dtype=object),
                                         return_index=True)
        part_areas, part_lengths = shapely.area(parts), shapely.length(parts)
        with np.errstate(divide="ignore", invalid="ignore"):
            thin = np.where(part_lengths > 0, 4 * math.pi * part_areas / (part_lengths * part_lengths), 0.0)
        small = part_areas < sliver_min_area_m2
        for k in np.flatnonzero(small | (thin < sliver_min_thinness)):
            i, a = ok[owner[k]], float(part_areas[k])
            if small[k]:
                add(i, "geometry", "sliver",
                    f"疑似碎片多边形：面积 {a:.2f} 平方米，小于 {sliver_min_area_m2:g} 平方米")
            else:
                add(i, "geometry", "sliver",
                    f"疑似狭长碎片：紧凑度 4πA/P² = {float(thin[k]):.3f}，低于 {sliver_min_thinness:g}")
        for a, b, m2 in _overlaps(good, good, overlap_tolerance_m2, same=True):
            ia, ib = ok[a], ok[b]
            add(ia, "geometry", "overlap_batch", f"与本批次 {sids[ib]}（{codes[ib] or '无代码'}）重叠 {m2:.1f} 平方米")
            add(ib, "geometry", "overlap_batch", f"与本批次 {sids[ia]}（{codes[ia] or '无代码'}）重叠 {m2:.1f} 平方米")
        minx, miny, maxx, maxy = shapely.total_bounds(good)
        stored_codes, sgeoms = stored_geometries_in_bbox(s, (minx, miny, maxx, maxy), good)
        if len(stored_codes):
            hits = [(ok[a], stored_codes[b], m2)
                    for a, b, m2 in _overlaps(good, sgeoms, overlap_tolerance_m2, same=False)
                    if stored_codes[b] != prepared[ok[a]].code]  # not the parcel this row updates
            # a scoped caller is not told the codes of parcels outside its jurisdiction
            hidden = set() if viewer.everywhere else _outside_codes(s, viewer, [c for _, c, _ in hits])
            for i, code, m2 in hits:
                shown = "辖区外的已登记宗地" if code in hidden else f"已登记宗地 {code}"
                add(i, "geometry", "overlap_store", f"与{shown}重叠 {m2:.1f} 平方米")
    owners = _analyse_owners(s, mres.rows, prepared, add)
    report.rows.sort(key=lambda r: (by_sid.get(r.source_id, -1), r.severity != ERROR))
    if not report.has_errors:
        report.to_create = [p.code for p in prepared if not p.exists]
        report.to_update = [p.code for p in prepared if p.exists]
        report.owners_created = len(owners.new)
        report.occupancies_created = sum(p.add_occupancy for p in owners.plans)
        report.jurisdictions = _places(s, prepared, stored_places)
    return _Analysis(report, prepared, sids, owners)


def _stored_places(s: Session, codes: list[str]) -> dict[str, tuple[int, int | None]]:
    """(county id, zone id) of the stored parcels with these codes."""
    out: dict[str, tuple[int, int | None]] = {}
    for a in range(0, len(codes), _LOOKUP_CHUNK):
        for code, county_id, zone_id in s.execute(select(Parcel.code, Parcel.county_id, Parcel.zone_id)
                                                  .where(Parcel.code.in_(codes[a:a + _LOOKUP_CHUNK]))):
            out[code] = (county_id, zone_id)
    return out


def _outside_codes(s: Session, viewer: Principal, codes: list[str]) -> set[str]:
    """Those of the stored parcels ``codes`` that lie outside ``viewer``'s jurisdiction."""
    return {c for c, (county_id, zone_id) in _stored_places(s, sorted(set(codes))).items()
            if not viewer.covers(county_id, zone_id)}


def _scope_problems(viewer: Principal, prepared: list[registry.PreparedParcel],
                    stored: dict[str, tuple[int, int | None]], add) -> None:
    """A county admin or zone manager imports only inside their jurisdiction: every row's
    county/zone — and, for a row updating a stored parcel, that parcel's — must be covered."""
    mine = viewer.jurisdiction_name or "无"
    for i, pp in enumerate(prepared):
        if pp.county is None:
            continue  # unknown county: reported already, the batch cannot be written
        zone_id = pp.zone.id if pp.zone is not None else None
        if not viewer.covers(pp.county.id, zone_id):
            place = f"{pp.county.name}{'（' + pp.zone.name + '）' if pp.zone is not None else '（未指定产业集聚区）'}"
            hint = ("；请在属性中填写产业集聚区或指定 zone"
                    if pp.zone is None and viewer.zone_ids and not viewer.county_ids else "")
            add(i, "zone_id" if viewer.zone_ids and not viewer.county_ids else "county_id", "outside_jurisdiction",
                f"宗地 {pp.code or '（无代码）'} 位于{place}，不在您的辖区（{mine}）内，无权导入{hint}")
        elif pp.code in stored and not viewer.covers(*stored[pp.code]):
            add(i, "code", "outside_jurisdiction",
                f"已登记的宗地 {pp.code} 不在您的辖区（{mine}）内，不能由本批次更新")


def _places(s: Session, prepared: list[registry.PreparedParcel],
            stored: dict[str, tuple[int, int | None]]) -> list[dict[str, str | None]]:
    """The distinct (county, zone) pairs the batch writes to: each row's, and for updated
    parcels also where they were stored — this scopes the batch for listing and undo."""
    pairs = {(pp.county.id, pp.zone.id if pp.zone is not None else None) for pp in prepared if pp.county is not None}
    pairs |= {stored[pp.code] for pp in prepared if pp.code in stored}
    ids = {i for pair in pairs for i in pair if i is not None}
    j = {r.id: r for r in s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name)
                                     .where(Jurisdiction.id.in_(sorted(ids))))} if ids else {}
    out = [{"county": j[c].code, "county_name": j[c].name,
            "zone": j[z].code if z is not None else None, "zone_name": j[z].name if z is not None else None}
           for c, z in pairs]
    return sorted(out, key=lambda d: (d["county"], d["zone"] or ""))


_LOOKUP_CHUNK = 5000


def _analyse_owners(s: Session, rows, prepared: list[registry.PreparedParcel], add) -> _Owners:
    """What the batch does with the rows' 权利人 (name + 统一社会信用代码), with warnings:
    a name without a code (``owner_without_code``), a registered code under another name
    (``owner_name_differs``: the stored name is kept), an unregistered code without a name
    (``owner_without_name``), an updated parcel whose current owner is someone else
    (``owner_differs``: left as it is). Invalid codes are errors of the mapping already."""
    out = _Owners()
    wanted: dict[int, tuple[str, str]] = {}
    for i, r in enumerate(rows):
        name = (r.owner_name or "").strip()[:200]
        if not r.owner_credit_code:
            if name:
                add(i, "owner_credit_code", "owner_without_code",
                    f"权利人“{name}”没有统一社会信用代码，未导入该权利人", WARNING)
            continue
        try:
            wanted[i] = (normalise_credit_code(r.owner_credit_code), name)
        except ValueError:
            continue  # reported as bad_credit_code by the mapping
    if not wanted:
        return out
    codes = sorted({cc for cc, _ in wanted.values()})
    stored_names: dict[str, str] = {}
    for a in range(0, len(codes), _LOOKUP_CHUNK):
        for eid, cc, name in s.execute(select(Enterprise.id, Enterprise.credit_code, Enterprise.name)
                                       .where(Enterprise.credit_code.in_(codes[a:a + _LOOKUP_CHUNK]))):
            out.stored[cc] = eid
            stored_names[cc] = name
    existing = sorted({prepared[i].code for i in wanted if prepared[i].exists})
    current: dict[str, dict[str, str]] = {}  # parcel code → {credit code: name} of current owners
    today = date.today()
    for a in range(0, len(existing), _LOOKUP_CHUNK):
        q = (select(Parcel.code, Enterprise.credit_code, Enterprise.name)
             .join(Occupancy, Occupancy.parcel_id == Parcel.id)
             .join(Enterprise, Enterprise.id == Occupancy.enterprise_id)
             .where(Parcel.code.in_(existing[a:a + _LOOKUP_CHUNK]),
                    Occupancy.role == OccupancyRole.OWNER.value,
                    or_(Occupancy.end_date.is_(None), Occupancy.end_date >= today)))
        for pcode, cc, name in s.execute(q):
            current.setdefault(pcode, {})[cc] = name
    for i, (cc, name) in wanted.items():
        pp = prepared[i]
        if cc in out.stored:
            if name and name != stored_names[cc]:
                add(i, "owner_name", "owner_name_differs",
                    f"统一社会信用代码 {cc} 已登记为“{stored_names[cc]}”，与本行权利人“{name}”不同；保留已登记的名称",
                    WARNING)
        elif cc in out.new:
            first = out.new[cc][0]
            if name and name != first:
                add(i, "owner_name", "owner_name_differs",
                    f"统一社会信用代码 {cc} 在本批次前面的行中名为“{first}”，与本行权利人“{name}”不同；采用“{first}”",
                    WARNING)
        elif not name:
            add(i, "owner_name", "owner_without_name",
                f"统一社会信用代码 {cc} 尚未登记，本行没有权利人名称，未导入该权利人", WARNING)
            continue
        else:
            out.new[cc] = (name, i)
        add_occupancy = True
        if pp.exists:
            owners = current.get(pp.code) or {}
            if owners:
                add_occupancy = False
                if cc not in owners:
                    names = "、".join(f"“{n}”（{c}）" for c, n in sorted(owners.items()))
                    add(i, "owner_credit_code", "owner_differs",
                        f"宗地现有权利人为{names}，与本行权利人“{name or cc}”（{cc}）不同；未变更权利人，请核对",
                        WARNING)
        out.plans.append(_OwnerPlan(i, cc, add_occupancy, rows[i].values.get("supply_date")))
    return out


def _options(mapping, county, zone, repair, update, overlap_tolerance_m2, area_tolerance,
             sliver_min_area_m2, sliver_min_thinness):
    if isinstance(mapping, (str, Path)):
        try:
            mapping = load_mapping(mapping)
        except ValueError as exc:
            raise ValidationFailed(Problem("映射文件", "mapping", str(exc), "bad_mapping")) from None
        except (TypeError, AttributeError):  # valid TOML of the wrong shape (e.g. ``fields = 1``)
            raise ValidationFailed(Problem("映射文件", "mapping", _MAPPING_SHAPE, "bad_mapping")) from None
    return dict(mapping=mapping, county=county, zone=zone, repair=repair, update=update,
                overlap_tolerance_m2=overlap_tolerance_m2, area_tolerance=area_tolerance,
                sliver_min_area_m2=sliver_min_area_m2, sliver_min_thinness=sliver_min_thinness)


_MAPPING_SHAPE = "映射文件结构有误：应为 [fields.字段名] 表，其中 columns 为列名列表（参见默认映射 import_mapping.toml）"


def mapping_from_text(text: str) -> ImportMapping:
    """A mapping from TOML text (e.g. an upload's form field), over the default mapping."""
    try:
        return parse_mapping(text, default_mapping())
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(Problem("映射文件", "mapping", f"不是有效的 TOML：{exc}", "bad_mapping")) from None
    except ValueError as exc:
        raise ValidationFailed(Problem("映射文件", "mapping", str(exc), "bad_mapping")) from None
    except (TypeError, AttributeError):
        raise ValidationFailed(Problem("映射文件", "mapping", _MAPPING_SHAPE, "bad_mapping")) from None


@cyclic_gc_paused()
def read_for_import(db: Database, path: str, *, county: str | None = None, **options) -> SourceBatch:
    """Read a file for import; with a county, its real boundary and longitude help the reader
    (6-digit GK eastings take the county's central meridian; GCJ-02 is checked against the
    boundary). ``options`` go to ``gis_read.read_source`` (encoding, crs, central_meridian, …)."""
    from . import gis_read, jurisdictions
    from ..domain.vocabulary import JurisdictionKind

    if county:
        with db.reader() as s:
            boundary = jurisdictions.resolve(s, county, JurisdictionKind.COUNTY, "导入", "county").geometry
        if boundary is not None:
            options.setdefault("county_lon", float(boundary.centroid.x))
            options.setdefault("reference_polygon", boundary)
    return gis_read.read_source(path, **options)


@cyclic_gc_paused()
def dry_run(db: Database, batch: SourceBatch, *, mapping: ImportMapping | str | Path | None = None,
            county: str | None = None, zone: str | None = None, repair: bool = False, update: bool = False,
            overlap_tolerance_m2: float = DEFAULT_OVERLAP_TOLERANCE_M2,
            area_tolerance: float = registry.DEFAULT_AREA_TOLERANCE,
            sliver_min_area_m2: float = SLIVER_MIN_AREA_M2,
            sliver_min_thinness: float = SLIVER_MIN_THINNESS, viewer: Principal = SYSTEM) -> ImportReport:
    """Check a batch against everything the import would check, as ``viewer`` would import
    it (rows outside its jurisdiction are errors); write nothing."""
    access.require(viewer, Action.EDIT_PARCELS)
    opts = _options(mapping, county, zone, repair, update, overlap_tolerance_m2, area_tolerance,
                    sliver_min_area_m2, sliver_min_thinness)
    with db.reader() as s:
        return _analyse(s, batch, **opts, viewer=viewer).report


@cyclic_gc_paused()
def import_batch(db: Database, batch: SourceBatch, *, actor: Principal | str,
                 mapping: ImportMapping | str | Path | None = None, county: str | None = None,
                 zone: str | None = None, repair: bool = False, update: bool = False,
                 overlap_tolerance_m2: float = DEFAULT_OVERLAP_TOLERANCE_M2,
                 area_tolerance: float = registry.DEFAULT_AREA_TOLERANCE,
                 sliver_min_area_m2: float = SLIVER_MIN_AREA_M2,
                 sliver_min_thinness: float = SLIVER_MIN_THINNESS) -> ImportResult:
    """Import a batch all or nothing, in one transaction, recorded in ``import_batches``.

    Raises :class:`ImportRejected` (with the report) when the report has errors. Without
    ``update`` an existing parcel code is an error; with it, existing parcels are updated
    (their change-log rows carry before/after and the reason “导入批次 N”). ``actor`` (a
    Principal, or a name acting with system rights) must be allowed to edit parcels, and a
    scoped caller only inside its jurisdiction; the batch records ``actor``'s user name.
    """
    principal = as_principal(actor)
    access.require(principal, Action.EDIT_PARCELS)
    opts = _options(mapping, county, zone, repair, update, overlap_tolerance_m2, area_tolerance,
                    sliver_min_area_m2, sliver_min_thinness)
    with db.transaction(actor=principal.actor) as s:
        an = _analyse(s, batch, **opts, viewer=principal)
        report = an.report
        if report.has_errors:
            raise ImportRejected(report)
        rec = ImportBatch(actor=principal.actor, source_path=batch.path, file_sha256=batch.file_sha256 or "",
                          format=batch.format, source_crs=batch.source_crs,
                          mode="update" if update else "create", feature_count=len(batch),
                          created_count=len(report.to_create), updated_count=len(report.to_update),
                          report=report.to_dict())
        s.add(rec)
        s.flush()
        s.info["reason"] = batch_reason(rec.id)
        items = []
        # Updates go through the ORM (一地一档 records their before/after automatically); new
        # parcels are bulk-inserted with Core in chunks, with the same change-log rows
        # (``registry.bulk_parcel_writes``).
        with registry.bulk_parcel_writes(s, sum(not pp.exists for pp in an.prepared)) as bulk:
            for pp, sid in zip(an.prepared, an.source_ids):
                if pp.exists:
                    parcel = _update_parcel(s, pp)
                    s.flush()
                    items.append((parcel, pp.code, "update", sid))
                else:
                    parcel = registry.write_parcel(s, pp)
                    items.append((parcel, pp.code, "create", sid))
            bulk.flush()
        s.flush()  # parcels a patched/ORM write_parcel added
        _write_owners(s, an, [parcel.id for parcel, *_ in items])
        for a in range(0, len(items), _CHUNK_ROWS):
            parcels, codes, actions, sids = zip(*items[a:a + _CHUNK_ROWS])
            insert_columns(s.connection(), ImportBatchItem.__table__, {
                "batch_id": [rec.id] * len(parcels), "parcel_id": [p.id for p in parcels], "parcel_code": codes,
                "action": actions, "source_id": [sid[:200] for sid in sids],
                "version_after": [p.version for p in parcels]})
        batch_id = rec.id
    return ImportResult(batch_id, report.to_create, report.to_update, report)


_CHUNK_ROWS = 10_000


def _write_owners(s: Session, an: _Analysis, parcel_ids: list[int]) -> None:
    """Create the batch's new enterprises and owner occupancies with Core bulk inserts, each
    with its 一地一档 “create” row (as ``storage.history`` writes for an ORM insert; actor and
    reason “导入批次 N” from ``session.info``)."""
    owners = an.owners
    plans = [p for p in owners.plans if p.add_occupancy]
    if not owners.new and not plans:
        return
    conn = s.connection()
    alloc = BulkIdAllocator(conn)
    enterprise_ids = dict(owners.stored)
    ent_rows = []
    if owners.new:
        ids = alloc.take(Enterprise.__table__, len(owners.new)).tolist()
        for eid, (cc, (name, i)) in zip(ids, owners.new.items()):
            county = an.prepared[i].county
            ent_rows.append({"id": eid, "credit_code": cc, "name": name, "industry_code": None,
                             "above_scale": False, "county_id": county.id if county is not None else None,
                             "is_synthetic": False, "version": 1})
            enterprise_ids[cc] = eid
    insert_with_history(s, Enterprise, ent_rows)
    occ_rows = []
    if plans:
        ids = alloc.take(Occupancy.__table__, len(plans)).tolist()
        today = date.today()
        for oid, p in zip(ids, plans):
            occ_rows.append({"id": oid, "parcel_id": parcel_ids[p.index],
                             "enterprise_id": enterprise_ids[p.credit_code],
                             "role": OccupancyRole.OWNER.value, "area_m2": an.prepared[p.index].area_m2,
                             "start_date": p.start_date or today, "end_date": None, "version": 1})
    insert_with_history(s, Occupancy, occ_rows)


def batch_reason(batch_id: int) -> str:
    return f"导入批次 {batch_id}"


def _update_parcel(s: Session, pp: registry.PreparedParcel) -> Parcel:
    parcel = s.scalar(select(Parcel).where(Parcel.code == pp.code))
    values = registry.parcel_values(pp)
    given = set(_given_fields(pp.draft))
    for k, v in values.items():
        if k not in _UPDATABLE:
            continue
        if k in registry.EDITABLE_PARCEL_FIELDS and k != "geometry" and k not in given:
            continue  # the source did not carry this attribute: keep the stored value
        if k == "zone_id" and pp.zone is None:
            continue
        if k == "geometry" and shapely.equals_exact(parcel.geometry, v, 0):
            continue
        if getattr(parcel, k) != v:
            setattr(parcel, k, v)
    return parcel


def _given_fields(d: ParcelDraft) -> list[str]:
    """Fields of a draft the source actually carried (differs from the dataclass default)."""
    default = ParcelDraft(code=d.code, geometry=d.geometry, county=d.county)
    return [k for k in ("location", "land_use", "state", "land_source", "supply_method", "supply_date",
                        "term_years", "price_wan", "plot_ratio_min", "plot_ratio_max", "inefficiency_categories")
            if getattr(d, k) != getattr(default, k)]


# --------------------------------------------------------------------------- HTTP uploads
#: Largest total size of an archive's unpacked members, and most members: a zip bomb stops here.
MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 20_000
#: What a dataset inside an archive may be (the readers' extensions; .gdb is a folder).
_DATASET_EXT = (".gdb", ".shp", ".gpkg", ".geojson", ".json", ".dxf", ".xlsx", ".csv")
_UNSAFE_NAME = re.compile(r"[^\w.\-()（）\u3000-\u303f\uff00-\uffef ]")


def _upload_problem(name: str, message: str, code: str = "bad_upload") -> ValidationFailed:
    return ValidationFailed(Problem(f"上传文件 {name}", "file", message, code))


def safe_upload_name(filename: str | None) -> str:
    """A file name safe to create in a work folder: the last path part of what the client
    sent, with anything but letters, digits, CJK, ``.-_()`` and spaces replaced, at most 120
    characters, never empty or a dot name."""
    base = re.split(r"[\\/]", filename or "")[-1].strip()
    base = _UNSAFE_NAME.sub("_", base).strip(" .")[:120].strip(" .")
    return base or "upload"


@contextmanager
def upload_workspace(data_dir: str | Path) -> Iterator[Path]:
    """A fresh folder under ``DATA_DIR/uploads`` for one upload; removed with everything in it
    afterwards, whatever happens."""
    root = Path(data_dir) / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    work = root / f"upload-{uuid.uuid4().hex}"
    work.mkdir()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as the archiver meant it: zips made on Chinese Windows store GBK names
    without the UTF-8 flag, which ``zipfile`` decodes as CP437."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _unsafe_member(name: str, info: zipfile.ZipInfo) -> str | None:
    """Why a member may not be extracted (zip-slip, links), or None."""
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "使用了绝对路径"
    if ".." in parts:
        return "路径中含有“..”，会写到解压目录之外"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "是符号链接"
    if info.flag_bits & 0x1:
        return "已加密"
    return None


def _extract_zip(archive: Path, dest: Path) -> None:
    """Extract every member under ``dest``, refusing the whole archive if any member is unsafe
    (absolute path, ``..``, symlink, encrypted) or the archive unpacks too large."""
    name = archive.name
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise _upload_problem(name, "不是有效的 zip 压缩包", "bad_archive") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ARCHIVE_MEMBERS:
            raise _upload_problem(name, f"压缩包内文件过多（{len(infos)} 个，上限 {MAX_ARCHIVE_MEMBERS}）", "archive_too_large")
        members = []
        for info in infos:
            member = _member_name(info)
            why = _unsafe_member(member, info)
            if why:
                raise _upload_problem(name, f"压缩包中的“{member}”{why}，已拒绝整个压缩包（未解压任何文件）",
                                      "unsafe_archive")
            members.append((info, member))
        if sum(i.file_size for i, _ in members) > MAX_UNPACKED_BYTES:
            raise _upload_problem(name, f"压缩包解压后超过 {MAX_UNPACKED_BYTES // 2**30} GiB", "archive_too_large")
        root = dest.resolve()
        written = 0
        for info, member in members:
            target = (root / member).resolve()
            if not target.is_relative_to(root):  # belt and braces after the name checks
                raise _upload_problem(name, f"压缩包中的“{member}”会写到解压目录之外，已拒绝", "unsafe_archive")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    # count what is really written: a member's declared size can lie
                    while chunk := src.read(1024 * 1024):
                        written += len(chunk)
                        if written > MAX_UNPACKED_BYTES:
                            raise _upload_problem(name, f"压缩包解压后超过 {MAX_UNPACKED_BYTES // 2**30} GiB",
                                                  "archive_too_large")
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise _upload_problem(name, f"压缩包中的“{member}”无法解压：{exc}", "bad_archive") from None


def _datasets(folder: Path) -> list[Path]:
    """The readable datasets in an unpacked archive: .gdb folders (not looked into) and files
    with a reader's extension; macOS resource forks and hidden files are skipped."""
    found: list[Path] = []

    def walk(d: Path) -> None:
        for q in sorted(d.iterdir()):
            if q.name.startswith(".") or q.name == "__MACOSX":
                continue
            if q.is_dir():
                if q.suffix.lower() == ".gdb":
                    found.append(q)
                else:
                    walk(q)
            elif q.suffix.lower() in _DATASET_EXT[1:]:
                found.append(q)

    walk(folder)
    return found


def unpack_upload(path: Path, member: str | None = None) -> tuple[Path, str]:
    """The dataset to read from an uploaded file and its name for reports.

    A .zip is extracted safely next to it (:func:`_extract_zip`) and must hold exactly one
    dataset (a Shapefile set, a .gdb folder, a GeoPackage…) unless ``member`` names one
    (its path inside the archive). A bare .shp cannot be read without its .dbf/.shx.
    """
    name = path.name
    if path.suffix.lower() == ".zip":
        dest = path.parent / "unpacked"
        dest.mkdir()
        _extract_zip(path, dest)
        found = _datasets(dest)
        shown = {q: q.relative_to(dest).as_posix() for q in found}
        if member:
            wanted = member.strip().strip("/\\").replace("\\", "/")
            hit = [q for q in found if shown[q] == wanted or q.name == wanted]
            if len(hit) != 1:
                raise _upload_problem(name, f"压缩包中没有名为“{member}”的数据集；可选：{'、'.join(shown.values()) or '无'}",
                                      "member_missing")
            found = hit
        if not found:
            raise _upload_problem(name, "压缩包中没有可导入的数据（应含 Shapefile 全套文件、.gdb 文件夹、.gpkg、.geojson、"
                                  ".dxf 或界址点 .xlsx/.csv）", "unsupported_format")
        if len(found) > 1:
            raise _upload_problem(name, f"压缩包中有 {len(found)} 个数据集：{'、'.join(shown.values())}；"
                                  "请用 member 指定要导入的一个", "ambiguous_archive")
        return found[0], f"{name}/{shown[found[0]]}"
    if member:
        raise _upload_problem(name, "只有 zip 压缩包才能用 member 指定其中的文件", "bad_upload")
    if path.suffix.lower() == ".shp":
        raise _upload_problem(name, "Shapefile 由 .shp、.shx、.dbf（及 .prj、.cpg）多个文件组成，请把它们一起打包为 .zip 上传",
                              "shapefile_parts_missing")
    return path, name


def read_upload(db: Database, path: Path, *, member: str | None = None, county: str | None = None,
                **options) -> SourceBatch:
    """Read an uploaded file (:func:`unpack_upload`) like :func:`read_for_import`; the batch
    and its messages name the upload, never the server's work folder."""
    dataset, shown = unpack_upload(path, member)
    work = str(path.parent.resolve())
    try:
        batch = read_for_import(db, str(dataset), county=county, **options)
    except ValidationFailed as exc:
        raise ValidationFailed([Problem(p.record, p.field, p.message.replace(work + "/", "").replace(work, ""), p.code)
                                for p in exc.problems]) from None
    batch.path = shown
    return batch


# --------------------------------------------------------------------------- list / undo
#: Fields batches can be sorted by (``batches_page``).
BATCH_SORT_FIELDS = ("id", "at", "feature_count", "created", "updated")


def _iso(t) -> str | None:
    if t is None:
        return None
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC.
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).isoformat()


def _batch_view(row, warnings) -> dict[str, Any]:
    return {"id": row.id, "at": _iso(row.at), "actor": row.actor, "source_path": row.source_path,
            "file_sha256": row.file_sha256, "format": row.format, "source_crs": row.source_crs,
            "mode": row.mode, "feature_count": row.feature_count, "created": row.created_count,
            "updated": row.updated_count, "warnings": int(warnings or 0),
            "undone_at": _iso(row.undone_at), "undone_by": row.undone_by}


def _jurisdiction_ids(s: Session) -> dict[str, int]:
    return dict(s.execute(select(Jurisdiction.code, Jurisdiction.id)).all())


def _batch_places(s: Session, batch_id: int, places, ids: dict[str, int]) -> set[tuple[int, int | None]] | None:
    """The (county id, zone id) pairs a batch wrote to: from its report, or — batches recorded
    before reports named them — from its parcels; None when that can no longer be told."""
    if places is not None:
        return {(ids.get(p["county"], -1), ids.get(p["zone"], -1) if p.get("zone") else None) for p in places}
    rows = s.execute(select(ImportBatchItem.parcel_id, Parcel.county_id, Parcel.zone_id)
                     .outerjoin(Parcel, Parcel.id == ImportBatchItem.parcel_id)
                     .where(ImportBatchItem.batch_id == batch_id)).all()
    if not rows or any(county_id is None for _, county_id, _ in rows):
        return None  # parcels gone (undone): only city-level callers see the batch
    return {(county_id, zone_id) for _, county_id, zone_id in rows}


def _sees_batch(viewer: Principal, places: set[tuple[int, int | None]] | None) -> bool:
    """A batch is the caller's when every parcel it wrote lies inside the caller's jurisdiction."""
    if viewer.everywhere:
        return True
    return bool(places) and all(viewer.covers(c, z) for c, z in places)


def batches_page(db: Database, *, viewer: Principal = SYSTEM, limit: int | None = None, offset: int = 0,
                 sort: list[tuple[str, bool]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """The import batches ``viewer`` may see (default newest first) and how many there are.
    A county admin / zone manager sees the batches whose parcels all lie in its jurisdiction."""
    access.require(viewer, Action.EDIT_PARCELS)
    b = ImportBatch
    with db.reader() as s:
        rows = s.execute(select(b.id, b.at, b.actor, b.source_path, b.file_sha256, b.format, b.source_crs,
                                b.mode, b.feature_count, b.created_count, b.updated_count, b.undone_at,
                                b.undone_by, b.report[("summary", "warnings")].label("warnings"),
                                b.report["jurisdictions"].label("places"))
                         .order_by(b.id.desc())).all()
        if not viewer.everywhere:
            ids = _jurisdiction_ids(s)
            rows = [r for r in rows if _sees_batch(viewer, _batch_places(s, r.id, r.places, ids))]
    items = [_batch_view(r, r.warnings) for r in rows]
    for name, desc in reversed(sort or []):
        items.sort(key=lambda x: (x[name] is None, x[name]), reverse=desc)
    total = len(items)
    end = None if limit is None else offset + limit
    return items[offset:end], total


def list_batches(db: Database, *, viewer: Principal = SYSTEM) -> list[dict[str, Any]]:
    """All import batches ``viewer`` may see, newest first."""
    return batches_page(db, viewer=viewer)[0]


def _visible_batch(s: Session, batch_id: int, viewer: Principal) -> ImportBatch:
    """The batch, or NotFound when it does not exist or lies outside ``viewer``'s jurisdiction."""
    b = s.get(ImportBatch, batch_id)
    if b is None or (not viewer.everywhere and not _sees_batch(
            viewer, _batch_places(s, b.id, (b.report or {}).get("jurisdictions"), _jurisdiction_ids(s)))):
        raise NotFound("导入批次", str(batch_id))
    return b


def batch_detail(db: Database, batch_id: int, *, viewer: Principal = SYSTEM) -> dict[str, Any]:
    """One batch as :func:`batches_page` lists it, with its report and what it created/updated."""
    access.require(viewer, Action.EDIT_PARCELS)
    with db.reader() as s:
        b = _visible_batch(s, batch_id, viewer)
        out = _batch_view(b, (b.report or {}).get("summary", {}).get("warnings", 0))
        items = s.execute(select(ImportBatchItem.parcel_code, ImportBatchItem.action)
                          .where(ImportBatchItem.batch_id == batch_id).order_by(ImportBatchItem.id)).all()
        out["created_codes"] = [c for c, a in items if a == "create"]
        out["updated_codes"] = [c for c, a in items if a == "update"]
        out["report"] = b.report
        return out


def batch_report(db: Database, batch_id: int, *, viewer: Principal = SYSTEM) -> dict[str, Any]:
    """A batch's validation report (as :meth:`ImportReport.to_dict` stored it)."""
    return batch_detail(db, batch_id, viewer=viewer)["report"]


def stored_report(db: Database, batch_id: int, *, viewer: Principal = SYSTEM) -> ImportReport:
    """A batch's report as an :class:`ImportReport` (e.g. to write it as Excel)."""
    d = batch_detail(db, batch_id, viewer=viewer)
    return ImportReport.from_dict(d["report"], d["created_codes"], d["updated_codes"])


_RELATED = ((Occupancy, "用地关系"), (SupplyContract, "供地合同"), (PerformanceAgreement, "履约监管协议"),
            (ParcelDevelopment, "开发建设情况"))


def undo_batch(db: Database, batch_id: int, actor: Principal | str) -> dict[str, Any]:
    """Undo a batch as a whole, in one transaction: delete the owner occupancies and the
    enterprises (权利人) it created, delete the parcels it created, restore the before values of
    the parcels it updated (from the change log). Refused — nothing changed — when any of them
    has changed since or gained related records (an enterprise it created: other occupancies,
    contracts or figures). ``actor`` must be allowed to edit parcels; a scoped caller undoes
    only batches of its jurisdiction (others are not found)."""
    principal = as_principal(actor)
    access.require(principal, Action.EDIT_PARCELS)
    actor = principal.actor
    reason = f"撤销导入批次 {batch_id}"
    with db.transaction(actor=actor, reason=reason) as s:
        b = _visible_batch(s, batch_id, principal)
        record = f"导入批次 {batch_id}"
        if b.undone_at is not None:
            raise ValidationFailed(Problem(record, "undone_at", f"该批次已于 {b.undone_at:%Y-%m-%d %H:%M} 由 {b.undone_by} 撤销", "already_undone"))
        later = s.scalar(select(func.max(ImportBatch.id)).join(ImportBatchItem)
                         .where(ImportBatch.id > batch_id, ImportBatch.undone_at.is_(None),
                                ImportBatchItem.parcel_id.in_(
                                    select(ImportBatchItem.parcel_id).where(ImportBatchItem.batch_id == batch_id))))
        problems = []
        if later:
            problems.append(Problem(record, "batch", f"其中的宗地又被导入批次 {later} 修改，请先撤销该批次", "changed_since"))
        items = s.scalars(select(ImportBatchItem).where(ImportBatchItem.batch_id == batch_id)
                          .order_by(ImportBatchItem.id)).all()
        occ_ids = _created_ids(s, Occupancy, batch_id)
        ent_ids = _created_ids(s, Enterprise, batch_id)
        occupancies = _load(s, Occupancy, occ_ids)
        own_by_parcel: dict[int, int] = {}
        own_by_enterprise: dict[int, int] = {}
        for o in occupancies:
            own_by_parcel[o.parcel_id] = own_by_parcel.get(o.parcel_id, 0) + 1
            own_by_enterprise[o.enterprise_id] = own_by_enterprise.get(o.enterprise_id, 0) + 1
        for o in occupancies:
            if o.version != 1:
                problems.append(Problem(f"用地关系 {o.id}", "version",
                                        f"导入后已被修改（当前版本 {o.version}），不能撤销", "changed_since"))
        enterprises = _load(s, Enterprise, ent_ids)
        for e in enterprises:
            rec = f"企业 {e.name}（{e.credit_code}）"
            others = [
                (s.scalar(select(func.count()).select_from(Occupancy).where(Occupancy.enterprise_id == e.id))
                 - own_by_enterprise.get(e.id, 0), "用地关系"),
                (s.scalar(select(func.count()).select_from(SupplyContract).where(
                    SupplyContract.enterprise_id == e.id)), "供地合同"),
                (s.scalar(select(func.count()).select_from(EnterpriseFigure).where(
                    EnterpriseFigure.enterprise_id == e.id)), "企业年度数据"),
            ]
            for n, label in others:
                if n:
                    problems.append(Problem(rec, "enterprise_id",
                                            f"该企业由本批次新建，导入后已登记{label}（{n} 条），不能删除", "has_related"))
        parcels = {}
        for it in items:
            p = s.get(Parcel, it.parcel_id)
            rec = f"宗地 {it.parcel_code}"
            if p is None:
                problems.append(Problem(rec, "code", "该宗地已不存在", "changed_since"))
                continue
            if p.version != it.version_after:
                problems.append(Problem(rec, "version", f"导入后已被修改（导入后版本 {it.version_after}，当前版本 {p.version}）",
                                        "changed_since"))
            if it.action == "create":
                for model, label in _RELATED:
                    n = s.scalar(select(func.count()).select_from(model).where(model.parcel_id == p.id))
                    if model is Occupancy:
                        n -= own_by_parcel.get(p.id, 0)  # the batch's own owner occupancies go too
                    if n:
                        problems.append(Problem(rec, "parcel_id", f"导入后已登记{label}，不能删除", "has_related"))
            parcels[it.id] = p
        if problems:
            raise ValidationFailed(problems)
        for o in occupancies:
            s.delete(o)
        s.flush()
        deleted, restored = [], []
        for it in items:
            p = parcels[it.id]
            if it.action == "create":
                s.delete(p)
                deleted.append(it.parcel_code)
            else:
                log = s.scalars(select(ChangeLog).where(
                    ChangeLog.entity == "parcels", ChangeLog.entity_id == p.id, ChangeLog.action == "update",
                    ChangeLog.reason == batch_reason(batch_id)).order_by(ChangeLog.id)).all()
                before: dict[str, Any] = {}
                for row in reversed(log):
                    before.update(row.before or {})
                for k, v in before.items():
                    if k == "version":
                        continue
                    setattr(p, k, _from_json(k, v))
                restored.append(it.parcel_code)
            s.flush()
        for e in enterprises:
            s.delete(e)
        s.flush()
        b.undone_at = utcnow()
        b.undone_by = actor
    return {"batch_id": batch_id, "deleted": deleted, "restored": restored,
            "occupancies_deleted": len(occupancies),
            "enterprises_deleted": [e.credit_code for e in enterprises]}


def _load(s: Session, model, ids: list[int]) -> list:
    out = []
    for a in range(0, len(ids), _LOOKUP_CHUNK):
        out += s.scalars(select(model).where(model.id.in_(ids[a:a + _LOOKUP_CHUNK])).order_by(model.id)).all()
    return out


def _created_ids(s: Session, model, batch_id: int) -> list[int]:
    """Ids of the ``model`` rows the batch created (its 一地一档 “create” rows)."""
    return list(s.scalars(select(ChangeLog.entity_id).where(
        ChangeLog.entity == model.__tablename__, ChangeLog.action == "create",
        ChangeLog.reason == batch_reason(batch_id)).order_by(ChangeLog.entity_id)))


def _from_json(key: str, value):
    if value is None:
        return None
    if key == "geometry":
        return shapely.from_wkt(value)
    if key == "supply_date":
        return date.fromisoformat(value)
    return value
