"""标图入库 readers (issue 4): every fixture is written with GDAL (pyogrio.raw.write) in tmp_path."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landcycle.domain.crs import gcj02_offset_suspected, infer_crs, wgs_to_gcj
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.geometry import gk_area_m2, project, rectangle_around
from landcycle.services.gis_read import read_source
from landcycle.services.jurisdictions import read_boundaries

pytestmark = pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")

# Inside 魏都区 (许昌): GK zone 38, CM 114°E → EPSG:4547 plain, EPSG:4526 prefixed.
LON, LAT = 113.82, 34.05
PARCELS = [rectangle_around(LON + 0.004 * i, LAT, 0.2, 0.15) for i in range(3)]
NAMES = ["许昌市魏都区", "宗地二号", "魏都区工业园"]


@pytest.fixture(scope="module")
def weidu():
    return next(b["geometry"] for b in read_boundaries() if b["name"] == "魏都区")


def write(path, geoms, *, crs=None, fields=None, driver="ESRI Shapefile", encoding=None,
          geometry_type="Polygon", layer=None):
    fields = fields if fields is not None else {"名称": NAMES[: len(geoms)]}
    kwargs = {"layer": layer} if layer else {}
    pyogrio.raw.write(str(path), shapely.to_wkb(np.asarray(geoms, dtype=object)),
                      field_data=[np.asarray(v, dtype=object) for v in fields.values()],
                      fields=list(fields), geometry_type=geometry_type, crs=crs,
                      encoding=encoding, driver=driver, **kwargs)
    return path


def in_epsg(geoms, epsg):
    return [project(g, 4490, epsg) for g in geoms]


def assert_same(read, originals, tol=1e-6):
    assert len(read) == len(originals)
    for a, b in zip(read, originals):
        assert shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=tol), (a, b)


# --------------------------------------------------------------------------- encodings

def test_gbk_shapefile_without_cpg_is_detected(tmp_path):
    shp = write(tmp_path / "gbk.shp", PARCELS, crs="EPSG:4490", encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    batch = read_source(shp)
    assert [a["名称"] for a in batch.attributes] == NAMES
    assert batch.encoding == "gbk"
    assert any("没有 .cpg" in n and "GBK" in n for n in batch.notes)
    override = read_source(shp, encoding="GBK")
    assert [a["名称"] for a in override.attributes] == NAMES
    assert any("指定" in n for n in override.notes)
    for bad in ("KLINGON", "\x00"):  # a NUL made codecs raise ValueError (500 before)
        with pytest.raises(ValidationFailed) as exc:
            read_source(shp, encoding=bad)
        assert exc.value.problems[0].field == "encoding"


def test_cpg_is_honoured_and_utf8_detected(tmp_path):
    shp = write(tmp_path / "gbk_cpg.shp", PARCELS, crs="EPSG:4490", encoding="GBK")
    shp.with_suffix(".cpg").write_text("936")
    batch = read_source(shp)
    assert [a["名称"] for a in batch.attributes] == NAMES
    assert any(".cpg" in n and "936" in n for n in batch.notes)
    # A wrong .cpg wins over detection (it is the file's own declaration): garbled, not crashed.
    shp.with_suffix(".cpg").write_text("UTF-8")
    wrong = read_source(shp)
    assert NAMES[0] not in str(wrong.attributes) and any("乱码" in n for n in wrong.notes)
    utf = write(tmp_path / "utf.shp", PARCELS, crs="EPSG:4490", encoding="UTF-8")
    utf.with_suffix(".cpg").unlink(missing_ok=True)
    batch = read_source(utf)
    assert batch.encoding == "utf-8" and [a["名称"] for a in batch.attributes] == NAMES


# --------------------------------------------------------------------------- CRS

def test_prj_is_honoured(tmp_path):
    shp = write(tmp_path / "gk.shp", in_epsg(PARCELS, 4547), crs="EPSG:4547", encoding="UTF-8")
    batch = read_source(shp)
    assert batch.source_crs == "EPSG:4547" and not batch.crs_inferred
    assert_same(batch.geometries, PARCELS)


def test_zone_prefixed_eastings_are_inferred(tmp_path):
    shp = write(tmp_path / "prefixed.shp", in_epsg(PARCELS, 4526), encoding="UTF-8")
    batch = read_source(shp)
    assert batch.source_crs == "EPSG:4526" and batch.crs_inferred
    assert any("带号" in n and "38" in n and "EPSG:4526" in n for n in batch.notes)
    assert_same(batch.geometries, PARCELS)


def test_plain_eastings_need_a_central_meridian(tmp_path):
    shp = write(tmp_path / "plain.shp", in_epsg(PARCELS, 4547), encoding="UTF-8")
    with pytest.raises(ValidationFailed) as err:
        read_source(shp)
    problem = err.value.problems[0]
    assert problem.code == "crs_unknown" and "--crs" in problem.message and "plain.shp" in problem.record
    by_option = read_source(shp, central_meridian=114)
    by_county = read_source(shp, county_lon=113.82)
    for batch in (by_option, by_county):
        assert batch.source_crs == "EPSG:4547" and batch.crs_inferred
        assert_same(batch.geometries, PARCELS)
    assert any("指定的中央经线" in n for n in by_option.notes)
    assert any("目标区县经度" in n for n in by_county.notes)
    assert read_source(shp, crs="EPSG:4547").source_crs == "EPSG:4547"  # override wins


def test_swapped_xy_is_detected_and_corrected(tmp_path):
    swapped = [shapely.transform(g, lambda xy: xy[:, ::-1].copy()) for g in in_epsg(PARCELS, 4526)]
    batch = read_source(write(tmp_path / "swapped.shp", swapped, encoding="UTF-8"))
    assert batch.source_crs == "EPSG:4526"
    assert any("颠倒" in n for n in batch.notes)
    assert_same(batch.geometries, PARCELS)
    latlon = [shapely.transform(g, lambda xy: xy[:, ::-1].copy()) for g in PARCELS]
    batch = read_source(write(tmp_path / "latlon.shp", latlon, encoding="UTF-8"))
    assert batch.source_crs == "EPSG:4490" and any("颠倒" in n for n in batch.notes)
    assert_same(batch.geometries, PARCELS)


def test_geographic_file_is_read_as_is(tmp_path):
    batch = read_source(write(tmp_path / "geo.shp", PARCELS, encoding="UTF-8"))
    assert batch.source_crs == "EPSG:4490" and batch.crs_inferred
    assert any("经度" in n for n in batch.notes)
    assert_same(batch.geometries, PARCELS, tol=1e-12)


def test_infer_crs_rules():
    assert infer_crs([38_500_000], [3_770_000]).epsg == 4526
    assert infer_crs([3_770_000], [38_500_000]).swapped
    assert infer_crs([500_000], [3_770_000]).kind == "unknown"
    assert infer_crs([500_000], [3_770_000], central_meridian=117).epsg == 4548
    assert infer_crs([500_000], [3_770_000], central_meridian=115).kind == "unknown"
    assert infer_crs([1.0], [2.0]).kind == "unknown"
    mixed = infer_crs([38_500_000, 39_500_000], [3_770_000, 3_770_000])
    assert mixed.kind == "unknown"


# --------------------------------------------------------------------------- GCJ-02

def _edge_parcels(boundary):
    """60 m parcels just inside (200 m) the 魏都区 boundary, all the way round."""
    inner = max(shapely.get_parts(project(boundary, 4490, 4547).buffer(-200)), key=lambda g: g.area).exterior
    pts = [inner.interpolate(d) for d in np.linspace(0, inner.length, 40, endpoint=False)]
    return [project(shapely.box(p.x - 30, p.y - 30, p.x + 30, p.y + 30), 4547, 4490) for p in pts]


def test_gcj02_shift_is_suspected_and_converted_back(tmp_path, weidu):
    truth = _edge_parcels(weidu)
    assert all(weidu.contains(g) for g in truth)
    shifted = [wgs_to_gcj(g) for g in truth]
    fields = {"编号": [f"P{i}" for i in range(len(truth))]}
    path = write(tmp_path / "gcj.geojson", shifted, crs="EPSG:4490", driver="GeoJSON", fields=fields)

    batch = read_source(path, reference_polygon=weidu)
    assert [p.code for p in batch.problems] == ["gcj02_suspected"]
    assert any("火星坐标" in n for n in batch.notes)
    ok, metres, _ = gcj02_offset_suspected(batch.geometries, weidu)
    assert ok and 300 < metres < 800

    fixed = read_source(path, reference_polygon=weidu, convert_gcj=True)
    assert not [p for p in fixed.problems if p.code == "gcj02_suspected"]
    assert any("纠偏" in n for n in fixed.notes)
    for a, b in zip(fixed.geometries, truth):
        assert shapely.hausdorff_distance(project(a, 4490, 4547), project(b, 4490, 4547)) < 1.0

    clean = read_source(write(tmp_path / "wgs.geojson", truth, crs="EPSG:4490", driver="GeoJSON",
                              fields=fields), reference_polygon=weidu)
    assert not clean.problems


# --------------------------------------------------------------------------- other formats

@pytest.mark.parametrize("name, driver", [("p.gpkg", "GPKG"), ("p.geojson", "GeoJSON"),
                                          ("p.gdb", "OpenFileGDB")])
def test_other_gdal_formats(tmp_path, name, driver):
    if "w" not in pyogrio.list_drivers().get(driver, ""):
        pytest.skip(f"GDAL {pyogrio.__gdal_version_string__} cannot write {driver}")
    path = write(tmp_path / name, in_epsg(PARCELS, 4547), crs="EPSG:4547", driver=driver,
                 layer="parcels", geometry_type="MultiPolygon" if driver == "OpenFileGDB" else "Polygon")
    batch = read_source(path)
    assert batch.format == driver and batch.source_crs == "EPSG:4547"
    assert [a["名称"] for a in batch.attributes] == NAMES
    assert_same([shapely.get_geometry(g, 0) if g.geom_type == "MultiPolygon" else g
                 for g in batch.geometries], PARCELS)
    assert len(batch.file_sha256) == 64


def test_dxf_closed_polylines_become_parcels(tmp_path):
    gk = in_epsg(PARCELS, 4547)
    lines = [g.exterior for g in gk[:2]] + [shapely.LineString(gk[2].exterior.coords[:3])]
    path = write(tmp_path / "cad.dxf", lines, driver="DXF", fields={}, geometry_type="LineString")
    batch = read_source(path, county_lon=113.82)
    assert batch.format == "DXF" and batch.source_crs == "EPSG:4547"
    assert_same(batch.geometries, PARCELS[:2])
    assert all(a["Layer"] == "0" for a in batch.attributes)
    (open_line,) = batch.problems
    assert open_line.code == "open_polyline" and "DXF实体" in open_line.record


# --------------------------------------------------------------------------- 界址点坐标表

def _point_rows(code, ring, pts, swap=False):
    rows = []
    for k, (e, n) in enumerate(pts, start=1):
        x, y = (e, n) if swap else (n, e)  # Chinese X = northing, Y = easting
        rows.append((code, ring, f"J{k}", round(x, 3), round(y, 3)))
    return rows


def _write_points_xlsx(path, swap=False):
    cx, cy = project(shapely.Point(LON, LAT), 4490, 4547).coords[0]
    outer = [(cx, cy), (cx + 100, cy), (cx + 100, cy + 100), (cx, cy + 100), (cx, cy)]
    hole = [(cx + 40, cy + 40), (cx + 60, cy + 40), (cx + 60, cy + 60), (cx + 40, cy + 60)]
    other = [(cx + 300, cy), (cx + 350, cy), (cx + 350, cy + 50), (cx + 300, cy + 50)]
    rows = (_point_rows("411002001001GB00001", 1, outer, swap) + _point_rows("411002001001GB00001", 2, hole, swap)
            + _point_rows("411002001001GB00002", 1, other, swap))
    cols = list(zip(*rows))
    fields = {"宗地代码": cols[0], "圈号": np.array(cols[1], dtype=np.int32), "点号": cols[2],
              "X": np.array(cols[3]), "Y": np.array(cols[4])}
    pyogrio.raw.write(str(path), None, field_data=[np.asarray(v) for v in fields.values()],
                      fields=list(fields), driver="XLSX", layer="界址点")
    return path


def test_boundary_point_table_with_a_hole(tmp_path):
    path = _write_points_xlsx(tmp_path / "jzd.xlsx")
    batch = read_source(path, central_meridian=114)
    assert batch.format == "界址点坐标表" and batch.source_crs == "EPSG:4547"
    assert len(batch) == 2
    first, second = batch.geometries
    assert len(first.interiors) == 1
    assert gk_area_m2(first) == pytest.approx(100 * 100 - 20 * 20, abs=0.5)
    assert gk_area_m2(second) == pytest.approx(2500, abs=0.5)
    assert batch.source_ids[0] == "宗地 411002001001GB00001（界址点表第2–10行）"
    assert batch.attributes[0]["宗地代码"] == "411002001001GB00001"
    assert not batch.problems

    swapped = read_source(_write_points_xlsx(tmp_path / "jzd_swapped.xlsx", swap=True), central_meridian=114)
    assert any("颠倒" in n for n in swapped.notes)
    assert gk_area_m2(swapped.geometries[0]) == pytest.approx(9600, abs=0.5)


# --------------------------------------------------------------------------- errors

def test_user_errors_are_chinese_messages(tmp_path):
    with pytest.raises(ValidationFailed, match="文件不存在"):
        read_source(tmp_path / "none.shp")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ValidationFailed, match="不支持的文件类型"):
        read_source(tmp_path / "a.txt")
    (tmp_path / "b.xls").write_bytes(b"x")
    with pytest.raises(ValidationFailed, match="xlsx"):
        read_source(tmp_path / "b.xls")
    (tmp_path / "bad.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(ValidationFailed, match="bad.gpkg"):
        read_source(tmp_path / "bad.gpkg")


# --------------------------------------------------------------------------- property

@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zone=st.integers(25, 45), prefixed=st.booleans(), dlon=st.floats(-1.3, 1.3),
       lat=st.floats(20.0, 50.0))
def test_any_gk_zone_round_trips(zone, prefixed, dlon, lat):
    lon = zone * 3 + dlon
    original = rectangle_around(lon, lat, 0.3, 0.2)
    epsg = (4513 if prefixed else 4534) + zone - 25
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "z.shp", [project(original, 4490, epsg)], fields={"n": ["a"]},
                     encoding="UTF-8")
        batch = read_source(path, central_meridian=None if prefixed else zone * 3)
    assert batch.source_crs == f"EPSG:{epsg}"
    assert_same(batch.geometries, [original], tol=1e-6)


def test_boundary_point_csv_in_gbk_with_prefixed_coordinates(tmp_path):
    cx, cy = project(shapely.Point(LON, LAT), 4490, 4526).coords[0]
    pts = [(cx, cy), (cx + 50, cy), (cx + 50, cy + 40), (cx, cy + 40)]
    rows = _point_rows("411002001001GB00003", 1, pts)
    cols = list(zip(*rows))
    path = tmp_path / "jzd.csv"
    pyogrio.raw.write(str(path), None,
                      field_data=[np.asarray(cols[0], dtype=object), np.asarray(cols[1], dtype=np.int32),
                                  np.asarray(cols[2], dtype=object), np.asarray(cols[3]), np.asarray(cols[4])],
                      fields=["宗地编号", "环号", "界址点号", "X坐标", "Y坐标"], driver="CSV", encoding="GBK")
    batch = read_source(path)
    assert batch.encoding == "gbk" and batch.source_crs == "EPSG:4526"
    assert batch.attributes[0]["宗地代码"] == "411002001001GB00003"
    assert gk_area_m2(batch.geometries[0]) == pytest.approx(2000, abs=0.5)


def test_import_reader_uses_the_county_for_six_digit_eastings_and_gcj(tmp_path, db):
    """`landcycle import --county 魏都区` gives the reader the county's meridian and real boundary."""
    import numpy as np
    import pyogrio
    import shapely

    from landcycle.domain.geometry import project, rectangle_around
    from landcycle.services.imports import read_for_import

    rect = rectangle_around(113.82, 34.05, 0.2, 0.2)
    plain = project(rect, 4490, 4547)  # 6-digit eastings, no CRS written
    path = tmp_path / "plain.gpkg"
    pyogrio.raw.write(path, geometry=np.array([shapely.to_wkb(plain)], dtype=object), field_data=[np.array(["a"])],
                      fields=["name"], geometry_type="Polygon", driver="GPKG")
    batch = read_for_import(db, str(path), county="魏都区")
    assert batch.source_crs == "EPSG:4547" and batch.crs_inferred
    assert shapely.hausdorff_distance(batch.geometries[0], rect) < 1e-6
