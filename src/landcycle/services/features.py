"""Feature collections for GIS clients (OGC API – Features): parcels, zones and counties.

Three collections, read on behalf of a :class:`Principal`:

* ``parcels`` — the 宗地 the caller may see (``access.parcel_condition``: the public only the
  published supply list), with the public-safe facts of ``registry.parcel_properties``;
* ``zones`` — the 产业集聚区 outlines with names, codes, lead industries and 亩均税收 targets
  (policy figures, public reference data);
* ``counties`` — the 县(市、区) with official boundaries.

Geometries are stored in CGCS2000 (EPSG:4490, lon/lat). Answers are in the CRS the caller
asks for, with that CRS's *authority* axis order (OGC API – Features Part 2): CRS84 is
lon/lat, EPSG:4490 and EPSG:4326 are lat/lon. Transformations and axis order come from
pyproj. A bbox selects the features whose geometry intersects it (exactly: the bounding-box
index narrows, the geometry decides).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError
from sqlalchemy import LargeBinary, and_, func, not_, or_, select, type_coerce
from sqlalchemy.orm import Session

from ..domain.access import Principal
from ..domain.errors import NotFound, Problem, ValidationFailed
from ..domain.geometry import CANONICAL_EPSG
from ..domain.units import m2_to_mu
from ..domain.vocabulary import JurisdictionKind
from ..storage.db import Database
from ..storage.schema import Jurisdiction, JurisdictionAlias, Parcel
from . import access, registry

#: Largest page (the API's list limit).
MAX_PAGE = registry.MAX_PAGE

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def epsg_uri(code: int) -> str:
    return f"http://www.opengis.net/def/crs/EPSG/0/{code}"


#: The CRS geometries are stored in: CGCS2000 geographic.
STORAGE_CRS = epsg_uri(CANONICAL_EPSG)
#: CRSs a caller may ask for (``crs``, ``bbox-crs``); CRS84 is the default of both.
SUPPORTED_CRS: tuple[str, ...] = (CRS84, STORAGE_CRS, epsg_uri(4326))


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str


COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection("parcels", "宗地",
               "产业集聚区工业用地宗地：宗地代码、坐落、用途、土地状态、面积、供地与规划条件。"
               "未登录时仅含年度可供土地清单上的宗地；登录后按账号辖区提供。"),
    Collection("zones", "产业集聚区",
               "省级产业集聚区范围（示意）、主导产业与亩均税收目标（万元/亩）。"),
    Collection("counties", "县(市、区)", "许昌市各县(市、区)行政区域界线。"),
)}

_PROBLEM_RECORD = "查询"


# --------------------------------------------------------------------------- CRS
@dataclass(frozen=True)
class _Crs:
    """A supported CRS: how to get from storage coordinates into it (and back, inverted)."""

    uri: str
    from_storage: Transformer  # storage lon/lat → the CRS's x/y (east, north)
    northing_first: bool  # authority axis order is latitude/northing first
    geographic: bool


@lru_cache(maxsize=None)
def _crs(uri: str) -> _Crs:
    crs = CRS.from_user_input(uri)
    # Finding the operation in PROJ's database takes a second or more (CGCS2000 → WGS 84),
    # and pyproj repeats that in every thread a Transformer is used in; the pipeline found
    # is cheap to rebuild, so keep that.
    found = Transformer.from_crs(CRS.from_epsg(CANONICAL_EPSG), crs, always_xy=True)
    return _Crs(uri, Transformer.from_pipeline(found.definition),
                crs.axis_info[0].direction in ("north", "south"), crs.is_geographic)


def supported_crs(uri: str | None, parameter: str = "crs") -> str:
    """The CRS URI if it is supported (None: CRS84); otherwise ValidationFailed naming the list."""
    if uri is None:
        return CRS84
    uri = uri.strip()
    if uri not in SUPPORTED_CRS:
        raise ValidationFailed(Problem(_PROBLEM_RECORD, parameter,
                                       f"不支持的坐标参照系“{uri}”，可选：{'、'.join(SUPPORTED_CRS)}",
                                       "unsupported_crs"))
    return uri


def _to_output(geoms: np.ndarray, uri: str) -> np.ndarray:
    """Storage geometries → ``uri``'s coordinates in its authority axis order."""
    target = _crs(uri)

    def move(xy: np.ndarray) -> np.ndarray:
        out = np.column_stack(target.from_storage.transform(xy[:, 0], xy[:, 1]))
        return out[:, ::-1] if target.northing_first else out

    return shapely.transform(geoms, move)


def storage_boxes(bbox: tuple[float, ...], bbox_crs: str | None) -> list[tuple[float, float, float, float]]:
    """A bbox given in ``bbox_crs`` (its axis order, 4 or 6 numbers) as storage lon/lat boxes.

    In a geographic CRS a box whose west edge lies east of its east edge crosses the
    antimeridian and becomes two boxes.
    """
    if len(bbox) not in (4, 6) or not all(math.isfinite(v) for v in bbox):
        raise _bbox_problem("应为4个（或含高程的6个）有限数值")
    lo, hi = (bbox[:2], bbox[2:]) if len(bbox) == 4 else (bbox[:2], bbox[3:5])
    source = _crs(supported_crs(bbox_crs, "bbox-crs"))
    if source.northing_first:
        lo, hi = lo[::-1], hi[::-1]
    (minx, miny), (maxx, maxy) = lo, hi
    if miny > maxy:
        raise _bbox_problem("下边界大于上边界")
    if source.geographic and not (-90 <= miny <= maxy <= 90 and -180 <= minx <= 180 and -180 <= maxx <= 180):
        raise _bbox_problem("经度应在 -180～180、纬度应在 -90～90 之间")
    parts = [(minx, maxx)]
    if minx > maxx:
        if not source.geographic:
            raise _bbox_problem("左边界大于右边界")
        parts = [(minx, 180.0), (-180.0, maxx)]
    boxes = []
    for west, east in parts:
        try:
            boxes.append(tuple(source.from_storage.transform_bounds(west, miny, east, maxy, direction="INVERSE")))
        except ProjError:
            raise _bbox_problem("无法转换到 CGCS2000 经纬度") from None
    return boxes


def _bbox_problem(message: str) -> ValidationFailed:
    return ValidationFailed(Problem(_PROBLEM_RECORD, "bbox", message, "invalid_bbox"))


# --------------------------------------------------------------------------- metadata
def collection(collection_id: str) -> Collection:
    """The collection, or NotFound."""
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound("要素集合", collection_id) from None


def extents(db: Database) -> dict[str, list[float]]:
    """Each collection's spatial extent in CRS84 ``[minLon, minLat, maxLon, maxLat]``: the
    zones' and counties' outlines; parcels lie in the counties, so theirs is the counties'
    (it reveals nothing about which parcels exist)."""
    out: dict[str, list[float]] = {}
    with db.reader() as s:
        for cid, kind in (("zones", JurisdictionKind.ZONE), ("counties", JurisdictionKind.COUNTY)):
            wkb = s.scalars(select(_wkb_column(db, Jurisdiction)).where(
                Jurisdiction.kind == kind.value, Jurisdiction.geometry.is_not(None))).all()
            if wkb:
                geoms = _to_output(shapely.from_wkb(np.array(wkb, dtype=object)), CRS84)
                out[cid] = [float(v) for v in shapely.total_bounds(geoms)]
    if "counties" in out:
        out["parcels"] = out["counties"]
    return out


# --------------------------------------------------------------------------- reads
@dataclass(frozen=True)
class FeaturePage:
    """One page of a collection: GeoJSON features in ``crs`` and how many match in all."""

    features: list[dict[str, Any]]
    number_matched: int
    crs: str


def features(db: Database, collection_id: str, *, viewer: Principal,
             bbox: tuple[float, ...] | None = None, bbox_crs: str | None = None,
             crs: str | None = None, limit: int = 100, offset: int = 0) -> FeaturePage:
    """A page of ``collection_id`` as ``viewer`` may see it, ordered by code.

    ``bbox`` (in ``bbox_crs``, default CRS84, in that CRS's axis order) keeps the features
    whose geometry intersects it; ``crs`` (default CRS84) is the CRS of the answer.
    """
    collection(collection_id)
    crs = supported_crs(crs)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(Problem(_PROBLEM_RECORD, "limit", f"每页条数应在1到{MAX_PAGE}之间", "invalid_limit"))
    if offset < 0:
        raise ValidationFailed(Problem(_PROBLEM_RECORD, "offset", "偏移量不能为负", "invalid_offset"))
    boxes = storage_boxes(bbox, supported_crs(bbox_crs, "bbox-crs")) if bbox is not None else None
    with db.reader() as s:
        if collection_id == "parcels":
            rows, total = _parcel_rows(s, db, viewer, boxes, limit, offset)
        else:
            rows, total = _jurisdiction_rows(s, db, collection_id, boxes, limit, offset)
    return FeaturePage(_features(rows, crs), total, crs)


def feature(db: Database, collection_id: str, feature_id: str, *, viewer: Principal,
            crs: str | None = None) -> dict[str, Any]:
    """One feature by id (a parcel's or jurisdiction's code); NotFound if it does not exist
    or lies outside what ``viewer`` may see (existence not revealed)."""
    what = collection(collection_id).title
    crs = supported_crs(crs)
    with db.reader() as s:
        if collection_id == "parcels":
            rows, _ = _parcel_rows(s, db, viewer, None, 1, 0,
                                   Parcel.code == (feature_id or "").strip().upper())
        else:
            rows, _ = _jurisdiction_rows(s, db, collection_id, None, 1, 0, code=feature_id)
    if not rows:
        raise NotFound(what, feature_id)
    return _features(rows, crs)[0]


# A row ready for output: (id, storage WKB, properties).
_Row = tuple[str, bytes, dict[str, Any]]


def _features(rows: list[_Row], crs: str) -> list[dict[str, Any]]:
    """GeoJSON features; geometries transformed and written as arrays (shapely/pyproj)."""
    if not rows:
        return []
    geoms = _to_output(shapely.from_wkb(np.array([r[1] for r in rows], dtype=object)), crs)
    return [{"type": "Feature", "id": fid, "geometry": json.loads(g), "properties": props}
            for (fid, _wkb, props), g in zip(rows, shapely.to_geojson(geoms))]


def _wkb_column(db: Database, entity) -> Any:
    """The geometry as plain WKB bytes, decoded later as one array (not per row)."""
    col = entity.__table__.c.geometry
    if db.dialect == "postgresql":
        return func.ST_AsBinary(col, type_=LargeBinary)
    return type_coerce(col, LargeBinary)


_PARCEL_COLUMNS = [c for c in Parcel.__table__.c if c.name != "geometry"]


def _parcel_rows(s: Session, db: Database, viewer: Principal, boxes, limit: int, offset: int,
                 *extra) -> tuple[list[_Row], int]:
    conds = [access.parcel_condition(viewer), *extra]
    if boxes is not None:
        conds.append(_parcels_intersecting(s, db, boxes, and_(*conds)))
    where = and_(*conds)
    total = s.scalar(select(func.count()).select_from(Parcel).where(where))
    found = s.execute(select(*_PARCEL_COLUMNS, _wkb_column(db, Parcel).label("wkb"))
                      .where(where).order_by(Parcel.code).limit(limit).offset(offset)).all()
    names = _jurisdiction_names(s)
    rows = []
    for r in found:
        # parcel_properties reads attributes and parcel.zone / parcel.county: a plain row and
        # the jurisdiction names stand in for the ORM object (no identity map, no lazy loads).
        values = r._asdict()
        wkb = values.pop("wkb")
        p = SimpleNamespace(**values, zone=names.get(values["zone_id"]), county=names.get(values["county_id"]))
        rows.append((p.code, bytes(wkb), registry.parcel_properties(s, p)))
    return rows, total


def _jurisdiction_names(s: Session) -> dict[int, SimpleNamespace]:
    return {r.id: SimpleNamespace(code=r.code, name=r.name)
            for r in s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name))}


def _parcels_intersecting(s: Session, db: Database, boxes, visible) -> Any:
    """Condition: the parcel's geometry intersects one of the storage ``boxes``.

    The bounding-box test of the registry (PostGIS ``&&`` on the GiST index, the bbox
    columns on SQLite) narrows; then PostGIS decides with ``ST_Intersects``, and on SQLite
    the parcels whose bbox lies inside the box are in outright while the few straddling its
    edge are decided by shapely.
    """
    conds = []
    for box in boxes:
        overlap = registry._bbox_condition(db, box)
        minx, miny, maxx, maxy = box
        if db.dialect == "postgresql":
            envelope = func.ST_MakeEnvelope(minx, miny, maxx, maxy, CANONICAL_EPSG)
            conds.append(and_(overlap, func.ST_Intersects(Parcel.geometry, envelope)))
            continue
        inside = and_(Parcel.min_lon >= minx, Parcel.max_lon <= maxx,
                      Parcel.min_lat >= miny, Parcel.max_lat <= maxy)
        edge = s.execute(select(Parcel.id, _wkb_column(db, Parcel))
                         .where(visible, overlap, not_(inside))).all()
        hit = []
        if edge:
            geoms = shapely.from_wkb(np.array([bytes(w) for _, w in edge], dtype=object))
            hit = [pid for (pid, _), ok in zip(edge, shapely.intersects(geoms, shapely.box(*box))) if ok]
        conds.append(and_(overlap, or_(inside, Parcel.id.in_(hit))))
    return or_(*conds)


def _jurisdiction_rows(s: Session, db: Database, collection_id: str, boxes, limit: int, offset: int,
                       code: str | None = None) -> tuple[list[_Row], int]:
    kind = JurisdictionKind.ZONE if collection_id == "zones" else JurisdictionKind.COUNTY
    q = (select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.parent_id,
                Jurisdiction.territory_county_id, Jurisdiction.lead_industries,
                Jurisdiction.tax_target_min_wan, Jurisdiction.tax_target_max_wan,
                Jurisdiction.area_m2, Jurisdiction.source, _wkb_column(db, Jurisdiction).label("wkb"))
         .where(Jurisdiction.kind == kind.value, Jurisdiction.geometry.is_not(None))
         .order_by(Jurisdiction.code))
    if code is not None:
        q = q.where(Jurisdiction.code == code)
    found = s.execute(q).all()  # a handful of rows: filtered and paged here
    if boxes is not None and found:
        geoms = shapely.from_wkb(np.array([bytes(r.wkb) for r in found], dtype=object))
        keep = np.zeros(len(found), dtype=bool)
        for box in boxes:
            keep |= shapely.intersects(geoms, shapely.box(*box))
        found = [r for r, k in zip(found, keep) if k]
    names = _jurisdiction_names(s)
    aliases: dict[int, list[str]] = {}
    for jid, alias in s.execute(select(JurisdictionAlias.jurisdiction_id, JurisdictionAlias.alias)
                                .order_by(JurisdictionAlias.alias)):
        aliases.setdefault(jid, []).append(alias)
    describe: Callable = _zone_properties if kind is JurisdictionKind.ZONE else _county_properties
    page = found[offset:offset + limit]
    return [(r.code, bytes(r.wkb), describe(r, names, aliases)) for r in page], len(found)


def _area(r) -> dict[str, Any]:
    return {"area_m2": round(r.area_m2, 2) if r.area_m2 is not None else None,
            "area_mu": round(float(m2_to_mu(r.area_m2)), 4) if r.area_m2 is not None else None}


def _zone_properties(r, names, aliases) -> dict[str, Any]:
    county, parent = names.get(r.territory_county_id), names.get(r.parent_id)
    # Lists are joined with 、: GIS clients (and the formats they export to) want flat attributes.
    return {"code": r.code, "name": r.name, "aliases": "、".join(aliases.get(r.id, [])),
            "county_code": county.code if county else None, "county_name": county.name if county else None,
            "parent_code": parent.code if parent else None, "parent_name": parent.name if parent else None,
            "lead_industries": "、".join(r.lead_industries or []),
            "tax_target_min_wan": r.tax_target_min_wan, "tax_target_max_wan": r.tax_target_max_wan,
            **_area(r), "source": r.source}


def _county_properties(r, names, aliases) -> dict[str, Any]:
    parent = names.get(r.parent_id)
    return {"code": r.code, "name": r.name, "parent_code": parent.code if parent else None,
            "parent_name": parent.name if parent else None, **_area(r), "source": r.source}
