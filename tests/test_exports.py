"""Export of a filtered parcel set (issue 4, item 6) and its round trip back through the importer.

Geometry formats (GPKG, Shapefile UTF-8/GBK, GeoJSON, GPKG in a GK CRS) round-trip codes,
attributes, areas (≤ 0.01 m², GK) and geometries (Hausdorff ≤ 1e-7°); DXF round-trips the
geometry per parcel code (layer name); the XLSX ledger (no geometry) maps back by code.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
import pyogrio.raw
import shapely
from openpyxl import load_workbook
from sqlalchemy import select

from landcycle.domain.access import SYSTEM
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.geometry import gk_area_m2, rectangle_around
from landcycle.domain.import_mapping import default_mapping, map_rows, parse_mapping
from landcycle.domain.records import ParcelDraft
from landcycle.services import demo, evaluation, exports, gis_read, imports, registry
from landcycle.storage.evaluation_schema import ParcelEvaluation
from landcycle.storage.schema import Parcel

LON, LAT = 113.82, 34.05
ZONE, COUNTY = "魏都产业集聚区", "魏都区"
GEOMETRY_FORMATS = ("gpkg", "shp", "geojson")


def code(n: int) -> str:
    return f"411002001001GB{n:05d}"


def rect(k: int, w=0.2, h=0.15):
    return rectangle_around(LON + 0.003 * k, LAT, w, h)


def drafts() -> list[ParcelDraft]:
    hole = rect(3).difference(rectangle_around(LON + 0.009, LAT, 0.05, 0.05))
    base = dict(county=COUNTY, zone=ZONE, land_use="0601")
    return [
        ParcelDraft(code=code(1), geometry=rect(0), location="魏都产业集聚区许继大道与魏文路交叉口东北角（测试）",
                    state="approved_unsupplied", **base),
        ParcelDraft(code=code(2), geometry=shapely.MultiPolygon([rect(1), rect(2)]), location="魏都产业集聚区两块飞地",
                    state="idle", land_source="new", supply_method="transfer", supply_date=date(2018, 5, 20),
                    term_years=50, price_wan=1234.5, plot_ratio_min=1.0, plot_ratio_max=2.5, **base),
        ParcelDraft(code=code(3), geometry=hole, location="魏都产业集聚区带内环宗地", state="inefficient",
                    inefficiency_categories=["production_halted", "other"], supply_method="allocation",
                    supply_date=date(2015, 1, 2), **base),
        ParcelDraft(code=code(4), geometry=rect(4, 0.3, 0.2), location="魏都产业集聚区普通宗地", state="supplied",
                    supply_method="lease", term_years=20, price_wan=88.0, **base),
    ]


@pytest.fixture
def parcels(db):
    registry.register_parcels(db, drafts(), actor="test")
    return db


def stored(db) -> dict[str, dict]:
    """Stored parcels by code, with county and zone names (the registry's public facts)."""
    with db.reader() as s:
        return {p.code: {**registry.parcel_properties(s, p), "geometry": p.geometry, "area_exact": p.area_m2}
                for p in s.scalars(select(Parcel))}


def mapped(batch) -> dict[str, dict]:
    res = map_rows(default_mapping(), batch.attributes, batch.source_ids)
    assert res.unmapped_columns == [], res.unmapped_columns
    assert all(not r.problems for r in res.rows), [r.problems for r in res.rows]
    return {r.values["code"]: {**r.values, "geometry": g} for r, g in zip(res.rows, batch.geometries)}


def assert_same_attributes(got: dict, want: dict) -> None:
    assert got["location"] == want["location"]
    assert got["county"] == want["county_name"] and got.get("zone") == want["zone_name"]
    assert got["land_use"] == want["land_use"] and got["state"] == want["state"]
    assert got.get("land_source") == want["land_source"]
    assert got.get("supply_method") == want["supply_method"]
    assert (got["supply_date"].isoformat() if got.get("supply_date") else None) == want["supply_date"]
    assert got.get("term_years") == want["term_years"] and got.get("price_wan") == want["price_wan"]
    assert got.get("plot_ratio_min") == want["plot_ratio_min"]
    assert got.get("plot_ratio_max") == want["plot_ratio_max"]
    assert got.get("inefficiency_categories", []) == want["inefficiency_categories"]
    assert got["stated_area_m2"] == pytest.approx(want["area_exact"], abs=0.01)


def assert_same_geometry(geom, want: dict) -> None:
    assert shapely.hausdorff_distance(geom, want["geometry"]) < 1e-7
    assert gk_area_m2(geom) == pytest.approx(want["area_exact"], abs=0.01)
    assert len(getattr(geom, "geoms", [geom])) == len(want["geometry"].geoms)
    holes = sum(len(p.interiors) for p in getattr(geom, "geoms", [geom]))
    assert holes == sum(len(p.interiors) for p in want["geometry"].geoms)


# --------------------------------------------------------------------------- geometry formats
@pytest.mark.parametrize("fmt", GEOMETRY_FORMATS)
def test_geometry_formats_round_trip_codes_attributes_areas_and_geometry(parcels, fresh_db, tmp_path, fmt):
    want = stored(parcels)
    res = exports.export_parcels(parcels, tmp_path / f"out.{fmt}")
    assert (res.count, res.fmt, res.path) == (4, fmt, tmp_path / f"out.{fmt}")
    batch = gis_read.read_source(res.path)
    assert batch.source_crs == "EPSG:4490" and not batch.problems
    got = mapped(batch)
    assert set(got) == set(want)
    for c, g in got.items():
        assert_same_attributes(g, want[c])
        assert_same_geometry(g["geometry"], want[c])
    # the importer accepts it as it is, into an empty store: every parcel would be created
    rep = imports.dry_run(fresh_db, batch)
    assert not rep.rows and sorted(rep.to_create) == sorted(want)


def test_gk_crs_output_round_trips(parcels, tmp_path):
    want = stored(parcels)
    res = exports.export_parcels(parcels, tmp_path / "gk.gpkg", crs="EPSG:4547")
    assert res.crs == "EPSG:4547"
    batch = gis_read.read_source(res.path)
    assert batch.source_crs == "EPSG:4547"
    for c, g in mapped(batch).items():
        assert_same_attributes(g, want[c])
        assert_same_geometry(g["geometry"], want[c])


def test_gbk_shapefile_has_cpg_and_reads_back(parcels, tmp_path):
    want = stored(parcels)
    res = exports.export_parcels(parcels, tmp_path / "gbk.shp", encoding="GBK")
    assert res.path.with_suffix(".cpg").read_text().strip().upper() in ("GBK", "CP936", "936")
    dbf = res.path.with_suffix(".dbf").read_bytes()
    assert want[code(1)]["location"].encode("gbk") in dbf
    assert want[code(1)]["location"].encode("utf-8") not in dbf
    # DBF field names fit 10 bytes
    assert all(len(n.encode("gbk")) <= 10 and len(n.encode("utf-8")) <= 10
               for _k, _l, n, _t in exports.GIS_COLUMNS)
    batch = gis_read.read_source(res.path)
    assert batch.encoding == "gbk" and any(".cpg" in n for n in batch.notes)
    got = mapped(batch)
    for c, g in got.items():
        assert_same_attributes(g, want[c])
        assert_same_geometry(g["geometry"], want[c])
    # even without the .cpg the reader recognises GBK
    res.path.with_suffix(".cpg").unlink()
    assert gis_read.read_source(res.path).attributes == batch.attributes


def test_dxf_round_trips_geometry_by_parcel_code(parcels, fresh_db, tmp_path):
    want = stored(parcels)
    res = exports.export_parcels(parcels, tmp_path / "out.dxf")
    meta, _fids, _wkb, columns = pyogrio.raw.read(res.path)
    assert list(columns[list(meta["fields"]).index("Layer")]).count(code(2)) == 2  # a multi-part parcel: one HATCH per part
    batch = gis_read.read_source(res.path)
    # … read back as one parcel per code: the parts on a layer named by a 宗地代码 are joined
    by_code = {a["Layer"]: g for g, a in zip(batch.geometries, batch.attributes)}
    assert len(by_code) == len(batch.geometries) and set(by_code) == set(want)
    for c, geom in by_code.items():
        assert_same_geometry(geom, want[c])
    assert any("多部分宗地已按图层合并" in n for n in batch.notes)
    # so the whole DXF imports straight back, multi-part parcel included, the code taken from the layer
    rep = imports.dry_run(fresh_db, batch, zone=ZONE,
                          mapping=parse_mapping('[fields.code]\ncolumns = ["Layer"]', default_mapping()))
    assert not rep.errors and sorted(rep.to_create) == sorted(want)


def test_full_round_trip_through_import_batch(parcels, fresh_db, tmp_path):
    """export → a new, empty store → import_batch → the same parcels (GPKG, then SHP after undo)."""
    want = stored(parcels)
    for fmt in ("gpkg", "shp"):
        res = exports.export_parcels(parcels, tmp_path / f"full.{fmt}", encoding="GBK")
        out = imports.import_batch(fresh_db, imports.read_for_import(fresh_db, str(res.path)), actor="test")
        assert sorted(out.created) == sorted(want)
        got = stored(fresh_db)
        assert set(got) == set(want)
        for c, g in got.items():
            w = want[c]
            for k in ("location", "land_use", "state", "land_source", "supply_method", "supply_date",
                      "term_years", "price_wan", "plot_ratio_min", "plot_ratio_max", "county_code",
                      "zone_code", "gk_epsg"):
                assert g[k] == w[k], (fmt, c, k)
            assert g["area_exact"] == pytest.approx(w["area_exact"], abs=0.01)
            assert shapely.hausdorff_distance(g["geometry"], w["geometry"]) < 1e-7
        # 低效类别 come back too (one cell, "、"-separated labels)
        assert got[code(3)]["inefficiency_categories"] == ["production_halted", "other"]
        imports.undo_batch(fresh_db, out.batch_id, actor="test")
        assert stored(fresh_db) == {}


# --------------------------------------------------------------------------- filters & options
def test_filters_by_zone_county_state_and_bbox(parcels, tmp_path):
    def codes(**kw):
        res = exports.export_parcels(parcels, tmp_path / f"f{uuid.uuid4().hex[:6]}.geojson", **kw)
        got = [a["宗地代码"] for a in gis_read.read_source(res.path).attributes]
        assert res.count == len(got)
        return sorted(got)

    everything = sorted(code(n) for n in range(1, 5))
    assert codes(zone=ZONE) == everything
    assert codes(county="411002") == everything
    assert codes(zone="长葛产业集聚区") == []
    assert codes(state="闲置") == [code(2)]
    assert codes(state="inefficient", zone=ZONE) == [code(3)]
    minx, miny, maxx, maxy = rect(0).bounds
    assert codes(bbox=(minx, miny, maxx, maxy)) == [code(1)]


def test_bad_options_are_chinese_validation_errors(parcels, tmp_path):
    for kwargs, fld in (({"path": tmp_path / "x.txt"}, "format"),
                        ({"path": tmp_path / "x.gpkg", "fmt": "shp"}, "format"),
                        ({"path": tmp_path / "x.gpkg", "crs": "EPSG:nonsense"}, "crs"),
                        ({"path": tmp_path / "x.shp", "encoding": "KLINGON"}, "encoding"),
                        ({"path": tmp_path / "x.dxf", "encoding": "\x00"}, "encoding"),  # fuzzer-found 500
                        ({"path": tmp_path / "x.gpkg", "state": "坏"}, "state"),
                        ({"path": tmp_path / "x.gpkg", "zone": "不存在的园区"}, "zone")):
        path = kwargs.pop("path")
        with pytest.raises(ValidationFailed) as exc:
            exports.export_parcels(parcels, path, **kwargs)
        assert exc.value.problems[0].field == fld
    # the format from --format adds the extension
    res = exports.export_parcels(parcels, tmp_path / "noext", fmt="gpkg")
    assert res.path == tmp_path / "noext.gpkg" and res.path.exists()


# --------------------------------------------------------------------------- XLSX ledger
def ledger(path: Path) -> tuple[list[dict], list]:
    ws = load_workbook(path)["宗地台账"]
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    assert tuple(header) == exports.LEDGER_COLUMNS
    return [dict(zip(header, r)) for r in rows[1:-1]], list(rows[-1])


def test_ledger_rows_totals_and_attribute_round_trip_without_evaluation(parcels, tmp_path):
    want = stored(parcels)
    res = exports.export_parcels(parcels, tmp_path / "台账.xlsx")
    rows, total = ledger(res.path)
    assert res.count == len(rows) == 4
    by_code = {r["宗地代码"]: r for r in rows}
    assert by_code[code(3)]["土地状态"] == "低效" and by_code[code(3)]["低效类别"] == "停产半停产类、其他"
    assert by_code[code(2)]["面积(亩)"] == pytest.approx(want[code(2)]["area_exact"] / (10000 / 15), abs=1e-4)
    assert all(r[c] is None for r in rows for c in ("亩均税收(万元/亩)", "闲置认定", "评价年度"))
    assert total[0] == "合计"
    assert total[8] == pytest.approx(sum(w["area_exact"] for w in want.values()) / (10000 / 15), abs=1e-3)
    # the ledger's attribute columns map back by code (it has no geometry: attributes only)
    res_map = map_rows(default_mapping(), rows, [f"第{i + 2}行" for i in range(len(rows))])
    assert {"宗地代码", "坐落", "所属县(市、区)", "产业集聚区", "土地用途", "土地状态", "面积(平方米)",
            "供地方式", "供地日期"} <= set(res_map.column_map)
    for r in res_map.rows:
        assert not r.problems
        v, w = r.values, want[r.values["code"]]
        assert (v["location"], v["county"], v["zone"], v["land_use"], v["state"]) == \
               (w["location"], w["county_name"], w["zone_name"], w["land_use"], w["state"])
        assert v.get("supply_method") == w["supply_method"]
        assert (v["supply_date"].isoformat() if v.get("supply_date") else None) == w["supply_date"]
        assert v["stated_area_m2"] == pytest.approx(w["area_exact"], abs=0.01)


def test_ledger_carries_the_latest_evaluation(db, tmp_path):
    demo.generate_demo(db, scale=200)
    evaluation.evaluate(db, 2019)
    run = evaluation.evaluate(db, 2020)
    res = exports.export_parcels(db, tmp_path / "eval.xlsx", zone=ZONE)
    rows, total = ledger(res.path)
    assert len(rows) == registry.list_parcels(db, viewer=SYSTEM, zone=ZONE, limit=1)["numberMatched"] == res.count > 0
    with db.reader() as s:
        ids = {c: i for c, i in s.execute(select(Parcel.code, Parcel.id))}
        pe = ParcelEvaluation
        evals = {r.parcel_id: r for r in s.execute(select(pe.parcel_id, pe.tax_per_mu_wan, pe.idle_outcome)
                                                   .where(pe.run_id == run.run_id))}
        area_mu = sum(s.scalars(select(Parcel.area_mu).where(Parcel.code.in_([r["宗地代码"] for r in rows]))))
    taxed = [r for r in rows if r["亩均税收(万元/亩)"] is not None]
    assert taxed
    for r in rows:
        e = evals[ids[r["宗地代码"]]]
        assert r["评价年度"] == 2020
        if e.tax_per_mu_wan is None:
            assert r["亩均税收(万元/亩)"] is None
        else:
            assert r["亩均税收(万元/亩)"] == pytest.approx(e.tax_per_mu_wan, abs=1e-4)
        assert r["闲置认定"] == exports.IDLE_LABELS[e.idle_outcome]
    assert total[8] == pytest.approx(area_mu, abs=1e-3)


# --------------------------------------------------------------------------- CLI
def test_cli_export_prints_a_chinese_summary(parcels, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from landcycle.faces.cli import app

    monkeypatch.setenv("LANDCYCLE_DATABASE_URL", parcels.url)
    runner = CliRunner()
    out = tmp_path / "cli.shp"
    r = runner.invoke(app, ["export", str(out), "--state", "闲置", "--encoding", "GBK", "--crs", "EPSG:4547"])
    assert r.exit_code == 0, r.output
    assert "已导出 1 宗宗地" in r.output and out.exists()
    batch = gis_read.read_source(out)
    assert [a["ZDDM"] for a in batch.attributes] == [code(2)] and batch.source_crs == "EPSG:4547"
    r = runner.invoke(app, ["export", str(tmp_path / "x.gpkg"), "--format", "pdf"])
    assert r.exit_code == 2 and "不支持的导出格式" in r.output
