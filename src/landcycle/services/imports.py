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
Checks run on shapely arrays (see ``benchmarks/import_parcels.py``: 200,000 parcels ≈ 30 s).

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
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session

from ..domain.errors import NotFound, Problem, ValidationFailed
from ..domain.geometry import CANONICAL_EPSG, gk_areas_m2, project
from ..domain.identifiers import normalise_credit_code, parse_parcel_code
from ..domain.import_mapping import ImportMapping, default_mapping, load_mapping, map_rows
from ..domain.records import ParcelDraft
from ..domain.sources import SourceBatch
from ..domain.vocabulary import OccupancyRole
from ..storage.db import Database
from ..storage.history import insert_with_history
from ..storage.ids import BulkIdAllocator
from ..storage.import_schema import ImportBatch, ImportBatchItem
from ..storage.schema import (
    ChangeLog,
    Enterprise,
    EnterpriseFigure,
    Occupancy,
    Parcel,
    ParcelDevelopment,
    PerformanceAgreement,
    SupplyContract,
    utcnow,
)
from . import registry

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
            "rows": [asdict(r) for r in self.rows],
        }

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
def _gk_area_length(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Area (m²) and perimeter (m) of EPSG:4490 geometries, each in its own GK zone."""
    areas, epsg = gk_areas_m2(geoms)
    lengths = np.empty(len(geoms))
    for code in np.unique(epsg):
        sel = epsg == code
        lengths[sel] = shapely.length(project(geoms[sel], CANONICAL_EPSG, int(code)))
    return areas, lengths


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
             area_tolerance: float, sliver_min_area_m2: float, sliver_min_thinness: float) -> _Analysis:
    mapping = mapping or default_mapping()
    n = len(batch)
    report = ImportReport(batch.path, batch.format, batch.file_sha256, batch.source_crs, n,
                          notes=list(batch.notes))
    sids = list(batch.source_ids)
    rows = report.rows
    mres = map_rows(mapping, batch.attributes, sids)
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
    per, prepared = registry.validate_parcels(s, drafts, area_tolerance, allow_existing=update)
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
    # slivers, overlaps (only geometries fit to be parcels: the registry prepared them)
    ok = [i for i, pp in enumerate(prepared) if pp.geometry is not None]
    if ok:
        good = np.array([geoms[i] for i in ok], dtype=object)
        # every part of every geometry at once: (part areas, part perimeters, owning feature)
        parts, owner = shapely.get_parts(good, return_index=True)
        part_areas, part_lengths = _gk_area_length(parts)
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
            for a, b, m2 in _overlaps(good, sgeoms, overlap_tolerance_m2, same=False):
                i, code = ok[a], stored_codes[b]
                if code == prepared[i].code:
                    continue  # the parcel this feature updates (or duplicates: reported as such)
                add(i, "geometry", "overlap_store", f"与已登记宗地 {code} 重叠 {m2:.1f} 平方米")
    owners = _analyse_owners(s, mres.rows, prepared, add)
    report.rows.sort(key=lambda r: (by_sid.get(r.source_id, -1), r.severity != ERROR))
    if not report.has_errors:
        report.to_create = [p.code for p in prepared if not p.exists]
        report.to_update = [p.code for p in prepared if p.exists]
        report.owners_created = len(owners.new)
        report.occupancies_created = sum(p.add_occupancy for p in owners.plans)
    return _Analysis(report, prepared, sids, owners)


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
    return dict(mapping=mapping, county=county, zone=zone, repair=repair, update=update,
                overlap_tolerance_m2=overlap_tolerance_m2, area_tolerance=area_tolerance,
                sliver_min_area_m2=sliver_min_area_m2, sliver_min_thinness=sliver_min_thinness)


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


def dry_run(db: Database, batch: SourceBatch, *, mapping: ImportMapping | str | Path | None = None,
            county: str | None = None, zone: str | None = None, repair: bool = False, update: bool = False,
            overlap_tolerance_m2: float = DEFAULT_OVERLAP_TOLERANCE_M2,
            area_tolerance: float = registry.DEFAULT_AREA_TOLERANCE,
            sliver_min_area_m2: float = SLIVER_MIN_AREA_M2,
            sliver_min_thinness: float = SLIVER_MIN_THINNESS) -> ImportReport:
    """Check a batch against everything the import would check; write nothing."""
    opts = _options(mapping, county, zone, repair, update, overlap_tolerance_m2, area_tolerance,
                    sliver_min_area_m2, sliver_min_thinness)
    with db.reader() as s:
        return _analyse(s, batch, **opts).report


def import_batch(db: Database, batch: SourceBatch, *, actor: str,
                 mapping: ImportMapping | str | Path | None = None, county: str | None = None,
                 zone: str | None = None, repair: bool = False, update: bool = False,
                 overlap_tolerance_m2: float = DEFAULT_OVERLAP_TOLERANCE_M2,
                 area_tolerance: float = registry.DEFAULT_AREA_TOLERANCE,
                 sliver_min_area_m2: float = SLIVER_MIN_AREA_M2,
                 sliver_min_thinness: float = SLIVER_MIN_THINNESS) -> ImportResult:
    """Import a batch all or nothing, in one transaction, recorded in ``import_batches``.

    Raises :class:`ImportRejected` (with the report) when the report has errors. Without
    ``update`` an existing parcel code is an error; with it, existing parcels are updated
    (their change-log rows carry before/after and the reason “导入批次 N”).
    """
    opts = _options(mapping, county, zone, repair, update, overlap_tolerance_m2, area_tolerance,
                    sliver_min_area_m2, sliver_min_thinness)
    with db.transaction(actor=actor) as s:
        an = _analyse(s, batch, **opts)
        report = an.report
        if report.has_errors:
            raise ImportRejected(report)
        rec = ImportBatch(actor=actor, source_path=batch.path, file_sha256=batch.file_sha256 or "",
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
        rows = [{"batch_id": rec.id, "parcel_id": parcel.id, "parcel_code": code, "action": action,
                 "source_id": sid[:200], "version_after": parcel.version} for parcel, code, action, sid in items]
        for a in range(0, len(rows), _CHUNK_ROWS):
            s.execute(insert(ImportBatchItem), rows[a:a + _CHUNK_ROWS])
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
                        "term_years", "price_wan", "plot_ratio_min", "plot_ratio_max")
            if getattr(d, k) != getattr(default, k)]


# --------------------------------------------------------------------------- list / undo
def list_batches(db: Database) -> list[dict[str, Any]]:
    """All import batches, newest first."""
    with db.reader() as s:
        rows = s.scalars(select(ImportBatch).order_by(ImportBatch.id.desc())).all()
        return [{
            "id": b.id, "at": b.at.isoformat() if b.at else None, "actor": b.actor,
            "source_path": b.source_path, "file_sha256": b.file_sha256, "format": b.format,
            "source_crs": b.source_crs, "mode": b.mode, "feature_count": b.feature_count,
            "created": b.created_count, "updated": b.updated_count,
            "warnings": (b.report or {}).get("summary", {}).get("warnings", 0),
            "undone_at": b.undone_at.isoformat() if b.undone_at else None, "undone_by": b.undone_by,
        } for b in rows]


def batch_report(db: Database, batch_id: int) -> dict[str, Any]:
    with db.reader() as s:
        b = s.get(ImportBatch, batch_id)
        if b is None:
            raise NotFound("导入批次", str(batch_id))
        return b.report


_RELATED = ((Occupancy, "用地关系"), (SupplyContract, "供地合同"), (PerformanceAgreement, "履约监管协议"),
            (ParcelDevelopment, "开发建设情况"))


def undo_batch(db: Database, batch_id: int, actor: str) -> dict[str, Any]:
    """Undo a batch as a whole, in one transaction: delete the owner occupancies and the
    enterprises (权利人) it created, delete the parcels it created, restore the before values of
    the parcels it updated (from the change log). Refused — nothing changed — when any of them
    has changed since or gained related records (an enterprise it created: other occupancies,
    contracts or figures)."""
    reason = f"撤销导入批次 {batch_id}"
    with db.transaction(actor=actor, reason=reason) as s:
        b = s.get(ImportBatch, batch_id)
        if b is None:
            raise NotFound("导入批次", str(batch_id))
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
