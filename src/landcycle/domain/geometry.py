"""Geometry rules: canonical CRS, Gauss-Krüger zone choice, areas, validity.

Geometries are stored in CGCS2000 geographic coordinates (EPSG:4490, lon/lat order).
Areas are never computed in degrees: each parcel is projected into the CGCS2000
3-degree Gauss-Krüger zone of its own centroid (DOMAIN.md §2) with pyproj, then
measured with shapely. Pure computation, no I/O.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

#: The canonical storage CRS: CGCS2000 geographic.
CANONICAL_EPSG = 4490
#: Web maps: WGS84. CGCS2000 and WGS84 differ by centimetres here.
WGS84_EPSG = 4326

# CGCS2000 3-degree Gauss-Krüger zones 25..45 (central meridians 75°E..135°E):
# EPSG:4513..4533 carry the zone number in the easting, EPSG:4534..4554 do not.
_GK3_FIRST_ZONE, _GK3_LAST_ZONE = 25, 45
_GK3_PREFIXED_BASE, _GK3_PLAIN_BASE = 4513, 4534


def gk3_zone(lon: float) -> int:
    """The 3-degree zone number whose central meridian (3°·n) is nearest to ``lon``."""
    zone = int(np.floor(lon / 3.0 + 0.5))
    if not _GK3_FIRST_ZONE <= zone <= _GK3_LAST_ZONE:
        raise ValueError(f"经度 {lon:.6f} 不在中国CGCS2000三度带范围（73.5°E–136.5°E）内")
    return zone


def gk3_epsg(lon: float, zone_prefix: bool = False) -> int:
    """EPSG code of the CGCS2000 3-degree GK projection for a longitude.

    Xuchang (114°E) → EPSG:4547, or EPSG:4526 with the zone number prefixed to the easting.
    """
    zone = gk3_zone(lon)
    base = _GK3_PREFIXED_BASE if zone_prefix else _GK3_PLAIN_BASE
    return base + zone - _GK3_FIRST_ZONE


@lru_cache(maxsize=64)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(src), CRS.from_epsg(dst), always_xy=True)


def project(geom, src_epsg: int, dst_epsg: int):
    """Reproject a geometry (or numpy array of geometries) with pyproj, lon/lat order."""
    if src_epsg == dst_epsg:
        return geom
    t = _transformer(src_epsg, dst_epsg)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def gk_project(geoms) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:4490 geometries projected each into the GK zone of its own centroid.

    Returns ``(projected, epsg_codes)``; vectorised per zone. Areas and lengths of the projected
    geometries (and of their parts) are true m² and m (DOMAIN.md §2).
    """
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=int)
    lons = shapely.get_x(shapely.centroid(geoms))
    zones = np.floor(lons / 3.0 + 0.5).astype(int)
    if np.any((zones < _GK3_FIRST_ZONE) | (zones > _GK3_LAST_ZONE)):
        bad = float(lons[(zones < _GK3_FIRST_ZONE) | (zones > _GK3_LAST_ZONE)][0])
        raise ValueError(f"经度 {bad:.6f} 不在中国CGCS2000三度带范围内")
    epsg = _GK3_PLAIN_BASE + zones - _GK3_FIRST_ZONE
    projected = np.empty(geoms.size, dtype=object)
    for code in np.unique(epsg):
        sel = epsg == code
        projected[sel] = project(geoms[sel], CANONICAL_EPSG, int(code))
    return projected, epsg


def gk_areas_m2(geoms) -> tuple[np.ndarray, np.ndarray]:
    """Areas in m² of EPSG:4490 geometries, each measured in its own GK zone.

    Returns ``(areas, epsg_codes)``; vectorised per zone, so 10⁵ parcels take well under a second.
    """
    projected, epsg = gk_project(geoms)
    return (shapely.area(projected) if len(projected) else np.zeros(0)), epsg


def gk_area_m2(geom: BaseGeometry) -> float:
    """Area in m² of one EPSG:4490 geometry, measured in its own GK zone."""
    areas, _ = gk_areas_m2([geom])
    return float(areas[0])


def as_multipolygon(geom: BaseGeometry) -> shapely.MultiPolygon:
    """Polygon → one-part MultiPolygon; MultiPolygon unchanged (the stored type is MULTIPOLYGON)."""
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    raise ValueError(f"几何类型应为面（Polygon/MultiPolygon），实际为 {geom.geom_type}")


# Plausible lon/lat of mainland China plus margin: catches projected metres or swapped axes.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)

_EMPTY = "几何图形为空"
_NOT_CHINA = "坐标不是中国范围内的经纬度（CGCS2000，经度在前），可能是投影坐标或经纬度颠倒"


def within_china(minx, miny, maxx, maxy):
    """Whether bounds lie in China's lon/lat extent (floats or numpy arrays)."""
    return ((minx >= CHINA_LON[0]) & (maxx <= CHINA_LON[1]) & (miny >= CHINA_LAT[0]) & (maxy <= CHINA_LAT[1]))


def parcel_geometry_problems_many(geoms) -> list[list[str]]:
    """Why each geometry cannot be a parcel boundary (Chinese), ``[]`` where it can
    (:func:`parcel_geometry_checks` without the projected geometries)."""
    return parcel_geometry_checks(geoms)[0]


def parcel_geometry_checks(geoms, known_valid=None) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """Why each geometry cannot be a parcel boundary (Chinese), ``[]`` where it can; and, for
    every valid one, the geometry projected into its own GK zone and that zone's EPSG code
    (None / 0 elsewhere) — so a caller measures areas without projecting twice.
    ``known_valid`` (optional boolean array): True where the caller already found that very
    geometry valid, so GEOS need not check it again.

    Checks, in order: present, polygonal, in lon/lat inside China, valid (no
    self-intersection), positive area — with shapely array functions, so 10⁵ geometries
    take a second or two.
    """
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    out: list[list[str]] = [[] for _ in range(len(arr))]
    projected = np.full(len(arr), None, dtype=object)
    epsg = np.zeros(len(arr), dtype=int)
    if not len(arr):
        return out, projected, epsg
    missing = shapely.is_missing(arr)
    empty = missing.copy()
    empty[~missing] = shapely.is_empty(arr[~missing])
    polygonal = ~empty & np.isin(shapely.get_type_id(arr), (3, 6))  # Polygon, MultiPolygon
    bounds = np.full((len(arr), 4), np.nan)
    bounds[polygonal] = shapely.bounds(arr[polygonal])
    with np.errstate(invalid="ignore"):
        in_china = within_china(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
    candidates = polygonal & in_china
    valid = np.zeros(len(arr), dtype=bool)
    check = candidates.copy()
    if known_valid is not None:
        known = candidates & np.asarray(known_valid, dtype=bool)
        valid[known] = True
        check &= ~known
    valid[check] = shapely.is_valid(arr[check])
    positive = np.zeros(len(arr), dtype=bool)
    if valid.any():
        projected[valid], epsg[valid] = gk_project(arr[valid])
        positive[valid] = shapely.area(projected[valid]) > 0
    for i in np.flatnonzero(~(valid & positive)):
        g = arr[i]
        if empty[i]:
            out[i] = [_EMPTY]
        elif not polygonal[i]:
            out[i] = [f"几何类型应为面（Polygon/MultiPolygon），实际为 {g.geom_type}"]
        elif not in_china[i]:
            out[i] = [_NOT_CHINA]
        elif not valid[i]:
            out[i] = [f"几何图形无效：{shapely.is_valid_reason(g)}"]
        else:
            out[i] = ["面积为零或为负"]
    return out, projected, epsg


def parcel_geometry_problems(geom: BaseGeometry | None) -> list[str]:
    """Why one geometry cannot be a parcel boundary (Chinese), or ``[]`` when it can."""
    return parcel_geometry_problems_many([geom])[0]


def rectangle_around(lon: float, lat: float, width_km: float, height_km: float) -> shapely.Polygon:
    """An axis-aligned rectangle of the given size (in km, on the ground) centred on a point.

    Built in the point's GK zone so the sides are true kilometres, returned in EPSG:4490.
    """
    epsg = gk3_epsg(lon)
    x, y = _transformer(CANONICAL_EPSG, epsg).transform(lon, lat)
    w, h = width_km * 500.0, height_km * 500.0
    return project(shapely.box(x - w, y - h, x + w, y + h), epsg, CANONICAL_EPSG)
