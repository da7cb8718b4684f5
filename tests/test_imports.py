"""标图入库 (issue 4): attribute mapping, dry-run report, all-or-nothing import, batch list/undo, update batches."""

from __future__ import annotations

import json

import pytest
import shapely
from openpyxl import load_workbook
from sqlalchemy import text

from landcycle.domain.access import SYSTEM
from landcycle.domain.errors import Problem, ValidationFailed
from landcycle.domain.geometry import gk_area_m2, rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.import_mapping import default_mapping, map_rows, parse_mapping
from landcycle.domain.records import ParcelDraft
from landcycle.domain.sources import SourceBatch
from landcycle.services import imports, registry

LON, LAT = 113.82, 34.05
GOOD_USCC = credit_code_with_check("91411002MA44XXXX0")


def code(n: int) -> str:
    return f"411002001001GB{n:05d}"


def rect(k: int, w=0.2, h=0.15):
    """Non-overlapping 0.2 × 0.15 km parcels inside 魏都产业集聚区, k = 0, 1, 2 …"""
    return rectangle_around(LON + 0.003 * k, LAT, w, h)


def row(n: int, geom, **extra):
    attrs = {"宗地代码": code(n), "坐落": f"魏都产业集聚区测试路{n}号", "宗地面积": round(gk_area_m2(geom), 1),
             "所属县区": "魏都区", "产业集聚区": "魏都产业集聚区", "用途": "工业用地", "土地状态": "批而未供"}
    attrs.update(extra)
    return attrs


def batch(features, path="parcels.shp") -> SourceBatch:
    geoms = [g for g, _ in features]
    return SourceBatch(path=path, format="ESRI Shapefile", geometries=geoms,
                       attributes=[a for _, a in features],
                       source_ids=[f"要素{i + 1}" for i in range(len(features))],
                       source_crs="EPSG:4526", file_sha256="ab" * 32,
                       notes=["坐标系由 .prj 识别为 EPSG:4526"])


def count(db, table="parcels") -> int:
    with db.engine.connect() as c:
        return c.execute(text(f"SELECT count(*) FROM {table}")).scalar()


# --------------------------------------------------------------------------- mapping (pure)
def test_mapping_chinese_columns_units_and_unmapped():
    m = default_mapping()
    attrs = [
        {"宗地编码": "411002001001gb00001", "面积(亩)": "45", "价款（元）": 1_500_000, "土地用途": "工业用地",
         "土地来源": "增量", "权利人": "许昌某公司", "统一社会信用代码": GOOD_USCC, "备注": "x", "OBJECTID": 1},
        {"宗地编码": "411002001001GB00002", "面积(亩)": "3公顷", "价款（元）": "150万元", "土地用途": "0604",
         "土地来源": "储备", "权利人": "某", "统一社会信用代码": "91411002MA44XXXX0X"},
        {"宗地编码": "411002001001GB00003", "面积(亩)": "abc", "土地用途": "菜地", "土地来源": "捡来的"},
    ]
    res = map_rows(m, attrs, ["第2行", "第3行", "第4行"])
    assert res.unmapped_columns == ["备注", "OBJECTID"]
    assert res.column_map["宗地编码"] == "code" and res.column_map["面积(亩)"] == "stated_area"
    r1, r2, r3 = res.rows
    assert r1.values["code"] == "411002001001GB00001"
    assert r1.values["stated_area_m2"] == pytest.approx(30000)  # 45 亩
    assert r1.values["price_wan"] == pytest.approx(150)  # 元 → 万元
    assert r1.values["land_use"] == "0601" and r1.values["land_source"] == "new"
    assert r1.owner_name == "许昌某公司" and r1.owner_credit_code == GOOD_USCC and not r1.problems
    # a unit in the value wins over the unit in the column name
    assert r2.values["stated_area_m2"] == pytest.approx(30000) and r2.values["price_wan"] == pytest.approx(150)
    assert [p.code for p in r2.problems] == ["bad_credit_code"] and r2.problems[0].record == "第3行"
    assert {p.field for p in r3.problems} == {"stated_area_m2", "land_use", "land_source"}
    assert all(p.record == "第4行" for p in r3.problems)


def test_mapping_reads_several_inefficiency_categories_in_one_cell():
    res = map_rows(default_mapping(), [{"DXLB": v} for v in ("停建缓建类、开发未达标类", "other; 其他",
                                                             "停建缓建类，懒散类", "")],
                   ["第2行", "第3行", "第4行", "第5行"])
    assert res.column_map == {"DXLB": "inefficiency_categories"}
    r1, r2, r3, r4 = res.rows
    assert r1.values["inefficiency_categories"] == ["construction_stalled", "below_contract"] and not r1.problems
    assert r2.values["inefficiency_categories"] == ["other"]  # the same category twice counts once
    [p] = r3.problems
    assert (p.record, p.field) == ("第4行", "inefficiency_categories") and "懒散类" in p.message
    assert "inefficiency_categories" not in r4.values and not r4.problems


def test_mapping_unit_column_and_user_override():
    m = parse_mapping('[fields.stated_area]\ncolumns = ["地块面积"]\n[fields.price]\ndefault_unit = "元"\n',
                      default_mapping())
    res = map_rows(m, [{"地块面积": 2, "面积单位": "公顷", "价款": 20000},
                       {"地块面积": 1500, "面积单位": "平方米", "价款": 10000}], ["a", "b"])
    assert res.rows[0].values["stated_area_m2"] == pytest.approx(20000)
    assert res.rows[0].values["price_wan"] == pytest.approx(2)
    assert res.rows[1].values["stated_area_m2"] == pytest.approx(1500)
    assert res.unmapped_columns == []
    with pytest.raises(ValueError):
        parse_mapping('[fields.nonsense]\ncolumns = ["x"]\n', default_mapping())



@pytest.mark.parametrize("text, needle", [
    ('fields = "宗地代码"', "fields 应为表"),
    ('[fields]\ncode = "宗地代码"', "fields.code 应为表"),
    ('[fields.code]\ncolumns = "宗地代码"', "fields.code.columns 应为列名的列表"),  # not read letter by letter
    ('[fields.code]\ncolumns = ["宗地代码", 7]', "fields.code.columns 应为列名的列表"),
    ('[fields.code]\nlabel = 3', "fields.code.label 应为文字"),
    ('[fields.code]\ncolumn = ["宗地代码"]', "fields.code.column 不是可用的设置"),
    ('units = ["亩"]', "units 应为表"),
    ('[units]\narea = "亩"', "units.area 应为“写法 = 单位”的表"),
])
def test_a_mapping_file_of_the_wrong_shape_is_refused_naming_the_key(text, needle):
    with pytest.raises(ValueError, match=needle):
        parse_mapping(text, default_mapping())


# --------------------------------------------------------------------------- dry run
def test_dry_run_reports_every_problem_with_its_source_and_writes_nothing(db, tmp_path):
    registry.register_parcels(db, [ParcelDraft(code=code(90), geometry=rect(5), county="魏都区",
                                               zone="魏都产业集聚区")], actor="tester")
    bowtie = shapely.Polygon([(LON - 0.001, LAT - 0.001), (LON + 0.001, LAT + 0.001),
                              (LON + 0.001, LAT - 0.001), (LON - 0.001, LAT + 0.001)])
    ov_a, ov_b = rect(1), rectangle_around(LON + 0.003 + 0.001, LAT, 0.2, 0.15)
    far = rectangle_around(113.52, 34.15, 0.2, 0.15)  # 禹州
    store_overlap = rectangle_around(LON + 0.015 + 0.001, LAT, 0.2, 0.15)
    features = [
        (bowtie, row(1, rect(0), 宗地面积=None)),                       # 要素1 invalid
        (ov_a, row(2, ov_a)),                                            # 要素2 overlaps 要素3
        (ov_b, row(3, ov_b)),                                            # 要素3
        (store_overlap, row(4, store_overlap)),                          # 要素4 overlaps stored parcel
        (far, row(5, far)),                                              # 要素5 outside county/zone
        (rect(7), row(6, rect(7), 宗地面积=40000)),                       # 要素6 area off (30000)
        (rect(8), row(6, rect(8))),                                      # 要素7 duplicate code
        (rect(9), row(7, rect(9), 宗地代码="411002-01")),                # 要素8 malformed code
        (rect(10), row(8, rect(10), 权利人="某公司", 统一社会信用代码="91411002MA44XXXX0X")),  # 要素9
    ]
    report = imports.dry_run(db, batch(features))
    assert count(db) == 1 and count(db, "import_batches") == 0
    got = {(r.source_id, r.code) for r in report.errors}
    expected = {("要素1", "invalid_geometry"), ("要素2", "overlap_batch"), ("要素3", "overlap_batch"),
                ("要素4", "overlap_store"), ("要素5", "outside"), ("要素6", "area_mismatch"),
                ("要素7", "duplicate"), ("要素8", "bad_code"), ("要素9", "bad_credit_code")}
    assert expected <= got, expected - got
    assert {sid for sid, _ in got} <= {f"要素{i}" for i in range(1, 10)}
    bow = next(r for r in report.errors if r.source_id == "要素1" and r.code == "invalid_geometry")
    assert "--repair" in bow.message and bow.record == code(1)
    assert any(code(90) in r.message for r in report.errors if r.code == "overlap_store")
    # JSON and Excel versions of the report, with the reader's notes
    data = json.loads(report.write_json(tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["notes"][0].startswith("坐标系") and data["summary"]["errors"] == len(report.errors)
    wb = load_workbook(report.write_excel(tmp_path / "r.xlsx"))
    ws = wb["问题清单"]
    assert [c.value for c in ws[1]] == ["来源位置", "宗地代码", "字段", "问题", "级别"]
    assert ws.max_row == len(report.rows) + 1 and ws["A2"].value == "要素1" and ws["E2"].value == "错误"
    with pytest.raises(imports.ImportRejected) as exc:
        imports.import_batch(db, batch(features), actor="tester")
    assert exc.value.report.has_errors and count(db) == 1 and count(db, "import_batches") == 0


def test_repair_makes_bowtie_valid_and_says_so(db):
    bowtie = shapely.Polygon([(LON - 0.001, LAT - 0.001), (LON + 0.001, LAT + 0.001),
                              (LON + 0.001, LAT - 0.001), (LON - 0.001, LAT + 0.001)])
    dup = shapely.Polygon([(LON + 0.01, LAT), (LON + 0.01, LAT), (LON + 0.012, LAT),
                           (LON + 0.012, LAT + 0.002), (LON + 0.01, LAT + 0.002)])
    b = batch([(bowtie, row(1, bowtie, 宗地面积=None)), (dup, row(2, dup, 宗地面积=None))])
    assert imports.dry_run(db, b).has_errors
    report = imports.dry_run(db, b, repair=True)
    assert not report.has_errors, report.errors
    codes = {(r.source_id, r.code) for r in report.warnings}
    assert ("要素1", "repaired") in codes and ("要素2", "duplicate_vertices") in codes
    result = imports.import_batch(db, b, actor="tester", repair=True)
    assert sorted(result.created) == [code(1), code(2)]
    card = registry.parcel_card(db, code(1), viewer=SYSTEM)
    assert shapely.geometry.shape(card["geometry"]).is_valid




def test_sliver_is_a_warning(db):
    thin = rectangle_around(LON, LAT, 0.6, 0.005)  # 600 m × 5 m: 4πA/P² ≈ 0.026
    report = imports.dry_run(db, batch([(thin, row(1, thin))]))
    assert [(r.code, r.severity) for r in report.rows] == [("sliver", "warning")]


# --------------------------------------------------------------------------- import, list, undo
def test_clean_batch_is_all_or_nothing(db, monkeypatch):
    features = [(rect(k), row(k + 1, rect(k), 备注="甲")) for k in range(3)]
    real = registry.write_parcel
    calls = []

    def failing(s, pp):
        calls.append(pp.code)
        if len(calls) == 2:
            raise RuntimeError("磁盘已满（模拟）")
        return real(s, pp)

    monkeypatch.setattr(registry, "write_parcel", failing)
    log_before = count(db, "change_log")
    with pytest.raises(RuntimeError):
        imports.import_batch(db, batch(features), actor="tester")
    assert count(db) == 0 and count(db, "import_batches") == 0 and count(db, "change_log") == log_before
    monkeypatch.setattr(registry, "write_parcel", real)
    result = imports.import_batch(db, batch(features), actor="张三")
    assert result.created == [code(1), code(2), code(3)] and count(db) == 3
    assert [r.code for r in result.report.rows] == ["unmapped_column"]
    [listed] = imports.list_batches(db)
    assert listed["id"] == result.batch_id and listed["file_sha256"] == "ab" * 32
    assert (listed["created"], listed["updated"], listed["actor"]) == (3, 0, "张三")
    hist = registry.parcel_history(db, code(1))
    assert hist[0]["action"] == "create" and hist[0]["reason"] == f"导入批次 {result.batch_id}"
    # the same file again: existing codes are errors unless --update
    with pytest.raises(ValidationFailed):
        imports.import_batch(db, batch(features), actor="张三")


def test_undo_removes_the_batch_and_the_log_keeps_both(db):
    features = [(rect(k), row(k + 1, rect(k))) for k in range(2)]
    result = imports.import_batch(db, batch(features), actor="张三")
    out = imports.undo_batch(db, result.batch_id, actor="李四")
    assert sorted(out["deleted"]) == [code(1), code(2)] and count(db) == 0
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT action, actor, reason FROM change_log WHERE entity='parcels' ORDER BY id")).all()
    assert [r[0] for r in rows] == ["create", "create", "delete", "delete"]
    assert rows[2][1] == "李四" and rows[2][2] == f"撤销导入批次 {result.batch_id}"
    [listed] = imports.list_batches(db)
    assert listed["undone_by"] == "李四" and listed["undone_at"]
    with pytest.raises(ValidationFailed):
        imports.undo_batch(db, result.batch_id, actor="李四")


def test_undo_refused_after_a_later_edit(db):
    result = imports.import_batch(db, batch([(rect(0), row(1, rect(0)))]), actor="张三")
    registry.update_parcel(db, code(1), {"location": "改过"}, expected_version=1, actor="王五")
    with pytest.raises(ValidationFailed) as exc:
        imports.undo_batch(db, result.batch_id, actor="李四")
    assert "已被修改" in str(exc.value) and count(db) == 1


def test_update_batch_changes_existing_parcels_with_history(db):
    imports.import_batch(db, batch([(rect(0), row(1, rect(0))), (rect(1), row(2, rect(1)))]), actor="张三")
    bigger = rect(0, w=0.25)
    features = [(bigger, row(1, bigger, 坐落="新坐落1号", 土地状态="可供")), (rect(1), row(2, rect(1)))]
    with pytest.raises(ValidationFailed):
        imports.import_batch(db, batch(features, "v2.shp"), actor="张三")
    result = imports.import_batch(db, batch(features, "v2.shp"), actor="张三", update=True)
    assert result.updated == [code(1), code(2)] and result.created == []
    card = registry.parcel_card(db, code(1), viewer=SYSTEM)
    assert card["parcel"]["location"] == "新坐落1号" and card["parcel"]["state"] == "listed"
    assert card["parcel"]["area_m2"] == pytest.approx(0.25 * 0.15 * 1e6, rel=1e-3)
    last = card["history"][-1]
    assert last["action"] == "update" and last["reason"] == f"导入批次 {result.batch_id}"
    assert last["before"]["location"] == "魏都产业集聚区测试路1号" and last["after"]["location"] == "新坐落1号"
    assert registry.parcel_card(db, code(2), viewer=SYSTEM)["parcel"]["version"] == 1  # unchanged parcel: no write
    imports.undo_batch(db, result.batch_id, actor="李四")
    card = registry.parcel_card(db, code(1), viewer=SYSTEM)
    assert card["parcel"]["location"] == "魏都产业集聚区测试路1号" and card["parcel"]["state"] == "approved_unsupplied"
    assert card["parcel"]["area_m2"] == pytest.approx(30000, rel=1e-3)
    assert card["history"][-1]["reason"] == f"撤销导入批次 {result.batch_id}"


def test_cli_import_dry_run_import_list_undo(db, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from landcycle.faces.cli import app

    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": shapely.geometry.mapping(rect(k)),
         "properties": {"宗地代码": code(k + 1), "面积(亩)": 45, "坐落": "测试路", "备注": "甲"}} for k in range(2)]}
    src = tmp_path / "p.geojson"
    src.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("LANDCYCLE_DATABASE_URL", db.url)
    runner = CliRunner()
    args = ["import", str(src), "--crs", "EPSG:4490", "--zone", "魏都产业集聚区"]
    res = runner.invoke(app, args + ["--dry-run", "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "将新建 2 宗" in res.output and (tmp_path / "rep.xlsx").exists() and count(db) == 0
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "批次 1" in res.output and count(db) == 2
    res = runner.invoke(app, args)  # the same codes again, without --update
    assert res.exit_code == 2 and count(db) == 2
    assert json.loads(runner.invoke(app, ["import-batches", "--json"]).output)[0]["created"] == 2
    res = runner.invoke(app, ["import-undo", "1"])
    assert res.exit_code == 0 and count(db) == 0


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the face over the service above: SQLite only
def test_cli_import_reads_the_layer_named(db, tmp_path, monkeypatch):
    """A GeoPackage written by GDAL with two layers: the first spatial one is read unless
    ``--layer`` names another; a layer not in the file is a message naming the layers there."""
    import numpy as np
    import pyogrio

    from conftest import run_cli

    src = tmp_path / "two.gpkg"
    for layer, ks in (("界址", [0]), ("宗地", [1, 2])):
        pyogrio.raw.write(src, np.array([shapely.to_wkb(rect(k)) for k in ks], dtype=object),
                          field_data=[np.array([code(k + 1) for k in ks], dtype=object)], fields=["宗地代码"],
                          geometry_type="Polygon", crs="EPSG:4490", driver="GPKG", layer=layer,
                          append=src.exists())
    assert [str(n) for n, _ in pyogrio.list_layers(src)] == ["界址", "宗地"]
    args = ["import", str(src), "--zone", "魏都产业集聚区", "--dry-run"]
    out = run_cli(db.url, *args).stdout
    assert "将新建 1 宗" in out and "读取了“界址”" in out
    assert "将新建 2 宗" in run_cli(db.url, *args, "--layer", "宗地").stdout
    res = run_cli(db.url, *args, "--layer", "地块", check=False)
    assert res.exit_code == 2 and "没有图层“地块”（文件含图层：界址、宗地）" in res.stderr
    assert count(db) == 0


# --------------------------------------------------------------------------- 权利人 (owners)
USCC_B = credit_code_with_check("91411002MA44YYYY0")
USCC_C = credit_code_with_check("91411002MA44WWWW0")


def _owner_features():
    return [
        (rect(0), row(1, rect(0), 权利人="许昌甲公司", 统一社会信用代码=GOOD_USCC, 供地日期="2020-05-01")),
        (rect(1), row(2, rect(1), 权利人="许昌甲公司", 统一社会信用代码=GOOD_USCC)),   # same owner again
        (rect(2), row(3, rect(2), 权利人="许昌乙公司（旧名）", 统一社会信用代码=USCC_B)),  # registered, other name
        (rect(3), row(4, rect(3), 权利人="无代码公司")),                                 # no credit code
        (rect(4), row(5, rect(4))),                                                      # no owner at all
    ]


def _register(db, credit_code, name):
    from landcycle.domain.records import EnterpriseDraft
    from landcycle.services import enterprises

    enterprises.register_enterprise(db, EnterpriseDraft(credit_code, name, county="魏都区"), actor="t")


def test_owners_are_imported_with_warnings(db):
    from datetime import date

    _register(db, USCC_B, "许昌乙公司")
    ents_before = count(db, "enterprises")
    report = imports.dry_run(db, batch(_owner_features()))
    assert not report.has_errors, report.errors
    warned = {(r.source_id, r.code) for r in report.warnings}
    assert ("要素3", "owner_name_differs") in warned and ("要素4", "owner_without_code") in warned
    summary = report.to_dict()["summary"]
    assert (summary["owners_created"], summary["occupancies_created"]) == (1, 3)
    assert count(db, "enterprises") == ents_before and count(db, "occupancies") == 0  # dry run
    result = imports.import_batch(db, batch(_owner_features()), actor="张三")
    assert count(db, "enterprises") == ents_before + 1 and count(db, "occupancies") == 3
    listed = imports.batch_report(db, result.batch_id)["summary"]
    assert (listed["owners_created"], listed["occupancies_created"]) == (1, 3)
    card = registry.parcel_card(db, code(1), viewer=SYSTEM)
    [occ] = card["occupancies"]
    assert (occ["enterprise_name"], occ["credit_code"], occ["role"]) == ("许昌甲公司", GOOD_USCC, "owner")
    assert occ["area_m2"] == pytest.approx(card["parcel"]["area_m2"]) and occ["start_date"] == "2020-05-01"
    occ2 = registry.parcel_card(db, code(2), viewer=SYSTEM)["occupancies"][0]
    assert occ2["credit_code"] == GOOD_USCC and occ2["start_date"] == date.today().isoformat()
    occ3 = registry.parcel_card(db, code(3), viewer=SYSTEM)["occupancies"][0]
    assert occ3["enterprise_name"] == "许昌乙公司"  # the stored name is kept; enterprise reused
    assert registry.parcel_card(db, code(4), viewer=SYSTEM)["occupancies"] == []
    # 一地一档: the owner occupancy is in the parcel's archive with the batch's reason
    hist = registry.parcel_history(db, code(1))
    occ_rows = [h for h in hist if h["entity"] == "occupancies"]
    assert [(h["action"], h["reason"]) for h in occ_rows] == [("create", f"导入批次 {result.batch_id}")]
    assert occ_rows[0]["after"]["role"] == "owner" and occ_rows[0]["actor"] == "张三"
    with db.engine.connect() as c:
        county_ok, reason = c.execute(text(
            "SELECT e.county_id = j.id, l.reason FROM enterprises e JOIN jurisdictions j ON j.name = '魏都区' "
            "JOIN change_log l ON l.entity = 'enterprises' AND l.entity_id = e.id AND l.action = 'create' "
            "WHERE e.credit_code = :c"), {"c": GOOD_USCC}).one()
    assert county_ok and reason == f"导入批次 {result.batch_id}"
    # undo removes the occupancies and the enterprise the batch created, not the one it reused
    out = imports.undo_batch(db, result.batch_id, actor="李四")
    assert out["occupancies_deleted"] == 3 and out["enterprises_deleted"] == [GOOD_USCC]
    assert count(db) == 0 and count(db, "occupancies") == 0 and count(db, "enterprises") == ents_before
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM enterprises WHERE credit_code = :c"), {"c": USCC_B}).scalar() == 1


def test_owner_of_updated_parcel_added_only_when_it_has_none(db):
    imports.import_batch(db, batch([(rect(0), row(1, rect(0))), (rect(1), row(2, rect(1), 权利人="甲", 统一社会信用代码=GOOD_USCC))]),
                         actor="张三")
    assert count(db, "occupancies") == 1
    features = [(rect(0), row(1, rect(0), 权利人="乙", 统一社会信用代码=USCC_B)),   # no owner yet → added
                (rect(1), row(2, rect(1), 权利人="丙", 统一社会信用代码=USCC_C))]   # other owner → warning
    report = imports.dry_run(db, batch(features, "v2.shp"), update=True)
    assert [(r.source_id, r.code) for r in report.warnings if r.code.startswith("owner")] == [("要素2", "owner_differs")]
    assert (report.owners_created, report.occupancies_created) == (2, 1)
    result = imports.import_batch(db, batch(features, "v2.shp"), actor="张三", update=True)
    assert [o["credit_code"] for o in registry.parcel_card(db, code(1), viewer=SYSTEM)["occupancies"]] == [USCC_B]
    assert [o["credit_code"] for o in registry.parcel_card(db, code(2), viewer=SYSTEM)["occupancies"]] == [GOOD_USCC]
    imports.undo_batch(db, result.batch_id, actor="李四")
    assert registry.parcel_card(db, code(1), viewer=SYSTEM)["occupancies"] == []
    assert count(db, "occupancies") == 1 and count(db, "enterprises") == 1


def test_undo_refused_when_a_created_enterprise_gained_records(db):
    from landcycle.services import enterprises

    result = imports.import_batch(db, batch([(rect(0), row(1, rect(0), 权利人="甲", 统一社会信用代码=GOOD_USCC))]),
                                  actor="张三")
    enterprises.submit_figures(db, GOOD_USCC, 2023, {"实缴税金": 10.0}, "税务局", actor="税务局")
    with pytest.raises(ValidationFailed) as exc:
        imports.undo_batch(db, result.batch_id, actor="李四")
    assert "企业年度数据" in str(exc.value) and "不能删除" in str(exc.value)
    assert count(db) == 1 and count(db, "occupancies") == 1 and count(db, "enterprises") == 1


def test_owners_all_or_nothing(db, monkeypatch):
    real = imports._write_owners

    def failing(s, an, parcel_ids):
        real(s, an, parcel_ids)
        s.flush()
        raise RuntimeError("磁盘已满（模拟）")

    monkeypatch.setattr(imports, "_write_owners", failing)
    log_before = count(db, "change_log")
    with pytest.raises(RuntimeError):
        imports.import_batch(db, batch(_owner_features()), actor="张三")
    assert count(db) == 0 and count(db, "enterprises") == 0 and count(db, "occupancies") == 0
    assert count(db, "import_batches") == 0 and count(db, "change_log") == log_before
