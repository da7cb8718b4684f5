"""标图入库 and export over HTTP (issues 4 item 7 and 5): uploads written by GDAL itself, dry-run
reports, all-or-nothing batches, jurisdiction scoping, undo, zip-slip, export round trip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely
from openpyxl import load_workbook

from conftest import bearer
from landcycle.domain.geometry import project, rectangle_around
from landcycle.domain.records import ParcelDraft
from landcycle.services import registry
from test_auth import _zone_point
from test_gis_read import write
from test_imports import code, count, rect, row

pytestmark = pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def changge_code(n: int) -> str:
    return f"411082001001GB{n:05d}"


def changge_row(db, n: int):
    lon, lat = _zone_point(db, "长葛市产业集聚区")
    geom = rectangle_around(lon + 0.003 * n, lat, 0.1, 0.1)
    return geom, row(n, geom, 宗地代码=changge_code(n), 所属县区="长葛市", 产业集聚区="长葛市产业集聚区")


def gis_file(path: Path, features, driver="GPKG", encoding=None) -> Path:
    """Write (geometry, attributes) features with GDAL (shared ``write`` helper)."""
    geoms = [g for g, _ in features]
    names = list(features[0][1])
    fields = {k: [None if a.get(k) is None else str(a[k]) for _, a in features] for k in names}
    return write(path, geoms, crs="EPSG:4490", fields=fields, driver=driver, encoding=encoding,
                 layer=None if driver != "GPKG" else "宗地")


def shapefile_zip(tmp_path: Path, features, encoding="GBK", extra: dict[str, bytes] | None = None) -> Path:
    """A county bureau's delivery: a GBK Shapefile set without .cpg, zipped (plus ``extra`` members)."""
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    shp = gis_file(folder / "宗地.shp", features, driver="ESRI Shapefile", encoding=encoding)
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    archive = tmp_path / "宗地.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in sorted(folder.iterdir()):
            zf.write(part, f"宗地数据/{part.name}")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return archive


def upload(client, url, path: Path, headers=None, **fields):
    data = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in fields.items()}
    with open(path, "rb") as fh:
        return client.post(url, files={"file": (path.name, fh)}, data=data, headers=headers or {})


@pytest.fixture
def who(api, accounts):
    """Bearer headers per account name (signed in lazily)."""
    cache: dict[str, dict] = {}

    def headers(name: str) -> dict:
        if name not in cache:
            cache[name] = bearer(api, name)
        return cache[name]

    return headers


def uploads_left(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "uploads"
    return list(folder.rglob("*")) if folder.exists() else []


# --------------------------------------------------------------------------- dry run
def test_dry_run_report_names_the_bad_rows_and_writes_nothing(api, db, who, tmp_path):
    bowtie = shapely.Polygon([(113.82, 34.05), (113.822, 34.052), (113.822, 34.05), (113.82, 34.052)])
    far = rectangle_around(113.52, 34.15, 0.2, 0.15)  # 禹州, not 魏都
    features = [(rect(0), row(1, rect(0))), (bowtie, row(2, rect(1), 宗地面积=None)), (far, row(3, far))]
    path = gis_file(tmp_path / "宗地.gpkg", features)
    r = upload(api, "/api/imports/dry-run", path, who("city"), zone="魏都产业集聚区")
    assert r.status_code == 200, r.text
    rep = r.json()
    errors = {(x["source_id"].split("（")[0], x["code"]) for x in rep["rows"] if x["severity"] == "error"}
    assert ("要素2", "invalid_geometry") in errors and ("要素3", "outside") in errors
    assert not any(sid == "要素1" for sid, _ in errors)
    assert rep["source"]["path"] == "宗地.gpkg" and rep["summary"]["errors"] == len(
        [x for x in rep["rows"] if x["severity"] == "error"])
    assert count(db) == 0 and count(db, "import_batches") == 0
    # the same report as an Excel workbook
    x = upload(api, "/api/imports/dry-run?format=xlsx", path, who("city"), zone="魏都产业集聚区")
    assert x.status_code == 200 and x.headers["content-type"] == XLSX
    ws = load_workbook(io.BytesIO(x.content))["问题清单"]
    assert ws.max_row == len(rep["rows"]) + 1 and any(str(c.value).startswith("要素3") for c in ws["A"])
    assert uploads_left(tmp_path) == []  # work folders removed


def test_dry_run_clean_file_lists_what_it_would_do(api, db, who, tmp_path):
    path = gis_file(tmp_path / "ok.geojson", [(rect(k), row(k + 1, rect(k))) for k in range(2)], driver="GeoJSON")
    rep = upload(api, "/api/imports/dry-run", path, who("weidu_zone")).json()
    assert rep["summary"]["errors"] == 0 and rep["summary"]["to_create"] == 2
    assert rep["jurisdictions"] == [{"county": "411002", "county_name": "魏都区", "zone": rep["jurisdictions"][0]["zone"],
                                     "zone_name": "魏都产业集聚区"}]


# --------------------------------------------------------------------------- import, list, undo
def test_gbk_shapefile_zip_imports_all_or_nothing_and_undoes(api, db, who, tmp_path):
    good = [(rect(k), row(k + 1, rect(k))) for k in range(2)]
    bad = good + [(rect(2), row(3, rect(2), 宗地代码="411002-01"))]  # malformed code
    r = upload(api, "/api/imports", shapefile_zip(tmp_path, bad), who("city"))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "import_rejected" and "未写入任何数据" in body["message"]
    assert any(p["record"].startswith("要素3") and p["code"] == "bad_code" for p in body["problems"])
    assert body["report"]["summary"]["errors"] >= 1
    assert count(db) == 0 and count(db, "import_batches") == 0

    r = upload(api, "/api/imports", shapefile_zip(tmp_path, good), who("city"))
    assert r.status_code == 201, r.text
    batch = r.json()
    assert batch["actor"] == "city" and batch["created"] == 2 and sorted(batch["created_codes"]) == [code(1), code(2)]
    assert batch["source_path"] == "宗地.zip/宗地数据/宗地.shp" and batch["format"] == "ESRI Shapefile"
    assert any("GBK" in n for n in batch["report"]["notes"])  # no .cpg: the encoding was detected
    card = api.get(f"/api/parcels/{code(1)}", headers=who("city")).json()
    assert card["parcel"]["location"] == "魏都产业集聚区测试路1号"  # Chinese attributes read back from GBK
    listed = api.get("/api/imports", headers=who("city")).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == batch["id"]
    assert listed["items"][0]["warnings"] == batch["report"]["summary"]["warnings"] == batch["warnings"]
    rep = api.get(f"/api/imports/{batch['id']}/report", headers=who("city"))
    assert rep.status_code == 200 and rep.headers["content-type"] == XLSX
    info = {r[0].value: r[1].value for r in load_workbook(io.BytesIO(rep.content))["说明"].iter_rows(min_row=2)}
    assert info["拟新建"] == 2

    u = api.post(f"/api/imports/{batch['id']}/undo", headers=who("city"))
    assert u.status_code == 200 and sorted(u.json()["deleted"]) == [code(1), code(2)] and count(db) == 0
    again = api.post(f"/api/imports/{batch['id']}/undo", headers=who("city"))
    assert again.status_code == 422 and again.json()["problems"][0]["code"] == "already_undone"
    assert api.get(f"/api/imports/{batch['id']}", headers=who("city")).json()["undone_by"] == "city"
    assert uploads_left(tmp_path) == []


def test_gdb_folder_in_a_zip(api, db, who, tmp_path):
    gdb = gis_file(tmp_path / "地籍.gdb", [(rect(0), row(1, rect(0)))], driver="OpenFileGDB")
    archive = tmp_path / "gdb.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in gdb.rglob("*"):
            zf.write(part, part.relative_to(tmp_path).as_posix())
    r = upload(api, "/api/imports", archive, who("weidu_admin"))
    assert r.status_code == 201, r.text
    assert r.json()["format"] == "OpenFileGDB" and r.json()["created_codes"] == [code(1)]


def test_scoped_import_refuses_rows_outside_the_jurisdiction(api, db, who, tmp_path):
    mixed = [(rect(0), row(1, rect(0))), changge_row(db, 1)]
    path = gis_file(tmp_path / "mixed.gpkg", mixed)
    r = upload(api, "/api/imports", path, who("weidu_zone"))
    assert r.status_code == 422
    outside = [p for p in r.json()["problems"] if p["code"] == "outside_jurisdiction"]
    assert len(outside) == 1 and outside[0]["record"].startswith("要素2")
    assert changge_code(1) in outside[0]["message"] and "魏都产业集聚区" in outside[0]["message"]
    assert count(db) == 0 and count(db, "import_batches") == 0
    # the dry run says the same
    rep = upload(api, "/api/imports/dry-run", path, who("weidu_zone")).json()
    assert [x["source_id"].split("（")[0] for x in rep["rows"] if x["code"] == "outside_jurisdiction"] == ["要素2"]
    # a row with no zone is outside a zone manager's jurisdiction (the message says how to fix it)
    nozone = gis_file(tmp_path / "nozone.gpkg", [(rect(0), row(1, rect(0), 产业集聚区=None))])
    r = upload(api, "/api/imports", nozone, who("weidu_zone"))
    assert r.status_code == 422 and "指定 zone" in r.json()["problems"][0]["message"]
    # the city admin may import the same mixed file
    assert upload(api, "/api/imports/dry-run", path, who("city")).json()["summary"]["errors"] == 0


def test_batches_are_listed_and_undone_only_in_their_jurisdiction(api, db, who, tmp_path):
    weidu = upload(api, "/api/imports", gis_file(tmp_path / "w.gpkg", [(rect(0), row(1, rect(0)))]),
                   who("weidu_zone")).json()
    changge = upload(api, "/api/imports", gis_file(tmp_path / "c.gpkg", [changge_row(db, 1)]), who("city")).json()
    assert weidu["actor"] == "weidu_zone" and changge["actor"] == "city"

    def ids(name):
        return [b["id"] for b in api.get("/api/imports", headers=who(name)).json()["items"]]

    assert ids("city") == [changge["id"], weidu["id"]]
    assert ids("weidu_zone") == ids("weidu_admin") == [weidu["id"]]
    assert ids("changge_admin") == ids("changge_zone") == [changge["id"]]
    for name in ("changge_admin", "changge_zone"):
        assert api.get(f"/api/imports/{weidu['id']}", headers=who(name)).status_code == 404
        assert api.get(f"/api/imports/{weidu['id']}/report", headers=who(name)).status_code == 404
        assert api.post(f"/api/imports/{weidu['id']}/undo", headers=who(name)).status_code == 404
    assert count(db) == 2
    assert api.post(f"/api/imports/{weidu['id']}/undo", headers=who("weidu_admin")).status_code == 200
    assert count(db) == 1
    # an undone batch stays listed, in its jurisdiction only
    assert ids("weidu_zone") == [weidu["id"]] and ids("changge_zone") == [changge["id"]]
    assert api.get("/api/imports", params={"sort": "id"}, headers=who("city")).json()["items"][0]["id"] == weidu["id"]


def test_batches_recorded_without_their_jurisdictions_are_scoped_by_their_parcels(api, db, who, tmp_path):
    """Batches imported before reports named their jurisdictions: scoped by the parcels they
    wrote while those exist; once undone (parcels gone) only city-level callers see them."""
    batch = upload(api, "/api/imports", gis_file(tmp_path / "w.gpkg", [(rect(0), row(1, rect(0)))]),
                   who("weidu_zone")).json()
    from landcycle.storage.import_schema import ImportBatch

    with db.transaction() as s:
        b = s.get(ImportBatch, batch["id"])
        b.report = {k: v for k, v in b.report.items() if k != "jurisdictions"}
    assert api.get(f"/api/imports/{batch['id']}", headers=who("weidu_zone")).json()["report"].get("jurisdictions") is None
    assert api.get(f"/api/imports/{batch['id']}", headers=who("changge_zone")).status_code == 404
    assert api.get("/api/imports", headers=who("changge_zone")).json()["total"] == 0
    assert api.post(f"/api/imports/{batch['id']}/undo", headers=who("weidu_zone")).status_code == 200
    assert api.get("/api/imports", headers=who("weidu_zone")).json()["total"] == 0
    assert api.get("/api/imports", headers=who("city")).json()["total"] == 1


def test_roles_without_edit_rights_are_refused_before_the_upload_is_stored(api, db, who, tmp_path):
    path = gis_file(tmp_path / "a.gpkg", [(rect(0), row(1, rect(0)))])
    anon = upload(api, "/api/imports", path)
    assert anon.status_code == 401 and anon.json()["code"] == "unauthorized"
    assert upload(api, "/api/imports/dry-run", path).status_code == 401
    dept = upload(api, "/api/imports", path, who("tax_city"))
    assert dept.status_code == 403 and dept.json()["code"] == "forbidden"
    assert not (tmp_path / "uploads").exists() and count(db) == 0
    assert api.get("/api/imports").status_code == 401
    assert api.get("/api/imports", headers=who("tax_city")).status_code == 403
    assert api.post("/api/imports/1/undo").status_code == 401
    assert api.get("/api/imports/999", headers=who("city")).status_code == 404


# --------------------------------------------------------------------------- bad uploads
def test_zip_slip_archive_is_refused_whole(api, db, who, tmp_path):
    archive = shapefile_zip(tmp_path, [(rect(0), row(1, rect(0)))], extra={"../../evil.txt": b"pwned"})
    r = upload(api, "/api/imports", archive, who("city"))
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "unsafe_archive"
    assert "../../evil.txt" in r.json()["message"]
    assert not (tmp_path / "evil.txt").exists() and not list(tmp_path.parent.glob("evil.txt"))
    assert uploads_left(tmp_path) == [] and count(db) == 0
    absolute = shapefile_zip(tmp_path, [(rect(0), row(1, rect(0)))], extra={"/tmp/evil.txt": b"x"})
    assert upload(api, "/api/imports/dry-run", absolute, who("city")).json()["problems"][0]["code"] == "unsafe_archive"


def test_non_gis_and_malformed_uploads_get_clear_422s(api, db, who, tmp_path):
    h = who("city")
    text = tmp_path / "readme.txt"
    text.write_text("不是GIS文件", encoding="utf-8")
    r = upload(api, "/api/imports", text, h)
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "unsupported_format"
    assert "不支持的文件类型" in r.json()["message"]
    garbage = tmp_path / "bad.geojson"
    garbage.write_text("{not json", encoding="utf-8")
    r = upload(api, "/api/imports/dry-run", garbage, h)
    assert r.status_code == 422 and "无法读取" in r.json()["message"] and str(tmp_path) not in r.json()["message"]
    fake_zip = tmp_path / "fake.zip"
    fake_zip.write_bytes(b"PK not really")
    assert upload(api, "/api/imports", fake_zip, h).json()["problems"][0]["code"] == "bad_archive"
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("说明.txt", "无数据")
    assert upload(api, "/api/imports", empty_zip, h).json()["problems"][0]["code"] == "unsupported_format"
    (tmp_path / "bare").mkdir()
    bare = gis_file(tmp_path / "bare" / "p.shp", [(rect(0), row(1, rect(0)))], driver="ESRI Shapefile", encoding="GBK")
    r = upload(api, "/api/imports", bare, h)
    assert r.json()["problems"][0]["code"] == "shapefile_parts_missing" and ".zip" in r.json()["message"]
    good = gis_file(tmp_path / "ok.gpkg", [(rect(0), row(1, rect(0)))])
    r = upload(api, "/api/imports", good, h, mapping="[fields\nbroken")
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "bad_mapping"
    r = upload(api, "/api/imports", good, h, mapping="fields = 1")
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "bad_mapping"
    r = upload(api, "/api/imports", good, h, nonsense="1")
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "extra_forbidden"
    r = upload(api, "/api/imports", good, h, overlap_tolerance_m2="-1")
    assert r.status_code == 422
    assert api.post("/api/imports", data={"zone": "魏都产业集聚区"}, headers=h).status_code == 422  # no file
    assert count(db) == 0 and uploads_left(tmp_path) == []


def test_two_datasets_in_a_zip_need_a_member(api, db, who, tmp_path):
    archive = shapefile_zip(tmp_path, [(rect(0), row(1, rect(0)))])
    other = gis_file(tmp_path / "另一个.geojson", [(rect(1), row(2, rect(1)))], driver="GeoJSON")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.write(other, "另一个.geojson")
    r = upload(api, "/api/imports/dry-run", archive, who("city"))
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "ambiguous_archive"
    rep = upload(api, "/api/imports/dry-run", archive, who("city"), member="另一个.geojson").json()
    assert rep["summary"]["to_create"] == 1 and rep["source"]["path"] == "宗地.zip/另一个.geojson"


def test_options_mirror_the_cli(api, db, who, tmp_path):
    """CRS override, mapping text, repair, update — the same behaviour as `landcycle import`."""
    h = who("city")
    projected = tmp_path / "gk.geojson"
    pyogrio.raw.write(str(projected), shapely.to_wkb(np.array([project(rect(0), 4490, 4547)], dtype=object)),
                      field_data=[np.array(["411002001001GB00001"], dtype=object), np.array(["45"], dtype=object)],
                      fields=["地块编号", "面积(亩)"], geometry_type="Polygon", driver="GeoJSON")
    mapping = '[fields.code]\ncolumns = ["地块编号"]\n'
    rep = upload(api, "/api/imports/dry-run", projected, h, crs="EPSG:4547", mapping=mapping,
                 zone="魏都产业集聚区", county="魏都区").json()
    assert rep["summary"]["errors"] == 0, rep["rows"]
    assert rep["source"]["source_crs"] == "EPSG:4547" and rep["column_map"]["地块编号"] == "code"
    bowtie = shapely.Polygon([(113.82, 34.05), (113.822, 34.052), (113.822, 34.05), (113.82, 34.052)])
    path = gis_file(tmp_path / "bow.gpkg", [(bowtie, row(2, bowtie, 宗地面积=None))])
    assert upload(api, "/api/imports", path, h).status_code == 422
    r = upload(api, "/api/imports", path, h, repair=True)
    assert r.status_code == 201 and any(x["code"] == "repaired" for x in r.json()["report"]["rows"])
    moved = gis_file(tmp_path / "upd.gpkg", [(rect(5), row(2, rect(5), 坐落="新坐落"))])
    assert upload(api, "/api/imports", moved, h).status_code == 422  # exists, no update
    r = upload(api, "/api/imports", moved, h, update=True)
    assert r.status_code == 201 and r.json()["updated_codes"] == [code(2)]
    assert api.get(f"/api/parcels/{code(2)}", headers=h).json()["parcel"]["location"] == "新坐落"


# --------------------------------------------------------------------------- export
@pytest.fixture
def both_counties(db):
    drafts = [ParcelDraft(code=code(k + 1), geometry=rect(k), county="魏都区", zone="魏都产业集聚区",
                          location=f"魏都测试路{k}号", state="闲置" if k else "可供") for k in range(3)]
    geom, attrs = changge_row(db, 1)
    drafts.append(ParcelDraft(code=changge_code(1), geometry=geom, county="长葛市", zone="长葛市产业集聚区",
                              location="长葛测试路"))
    registry.register_parcels(db, drafts, actor="测试")
    return [d.code for d in drafts]


def _read(content: bytes, suffix: str, tmp_path: Path):
    path = tmp_path / f"download{suffix}"
    path.write_bytes(content)
    return path


def test_export_is_scoped_and_round_trips_through_the_import_api(api, db, fresh_db, who, tmp_path, both_counties):
    r = api.get("/api/exports/parcels", params={"format": "geojson"}, headers=who("weidu_zone"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert r.headers["x-export-count"] == "3" and "attachment" in r.headers["content-disposition"]
    exported = _read(r.content, ".geojson", tmp_path)
    meta, _, _, fields = pyogrio.raw.read(exported)
    codes = sorted(fields[list(meta["fields"]).index("宗地代码")])
    assert codes == both_counties[:3]  # 长葛's parcel is not exported to 魏都's zone manager
    city = api.get("/api/exports/parcels", params={"format": "gpkg", "state": "闲置"}, headers=who("city"))
    assert city.headers["x-export-count"] == "2"
    # round trip: the export imported through the API into an empty store gives the same parcels
    from fastapi.testclient import TestClient

    from landcycle.config import Settings
    from landcycle.faces.api import create_app
    from landcycle.services import accounts as accounts_service

    accounts_service.add_user(fresh_db, "city", "correct horse battery", "city_admin", jurisdiction="411000")
    with TestClient(create_app(fresh_db, Settings(database_url=fresh_db.url, data_dir=tmp_path / "other",
                                                  basemap_url=""))) as other:
        h = bearer(other, "city")
        r = upload(other, "/api/imports", exported, h)
        assert r.status_code == 201, r.text
        assert sorted(r.json()["created_codes"]) == both_counties[:3]
        for c in both_counties[:3]:
            a = api.get(f"/api/parcels/{c}", headers=who("city")).json()["parcel"]
            b = other.get(f"/api/parcels/{c}", headers=h).json()["parcel"]
            assert (a["location"], a["state"], a["zone_name"]) == (b["location"], b["state"], b["zone_name"])
            assert a["area_m2"] == pytest.approx(b["area_m2"], abs=0.01)


def test_shapefile_export_is_a_zip_with_cpg_and_the_ledger_is_excel(api, db, who, tmp_path, both_counties):
    r = api.get("/api/exports/parcels", params={"format": "shp", "encoding": "GBK", "crs": "EPSG:4547"},
                headers=who("changge_admin"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    names = sorted(zf.namelist())
    assert [Path(n).suffix for n in names] == [".cpg", ".dbf", ".prj", ".shp", ".shx"]
    assert zf.read(next(n for n in names if n.endswith(".cpg"))).decode().strip().upper() == "GBK"
    zf.extractall(tmp_path / "shp")
    shp = next((tmp_path / "shp").glob("*.shp"))
    meta, _, _, fields = pyogrio.raw.read(shp, encoding="GBK")
    assert list(fields[0]) == [changge_code(1)] and "4547" in (meta["crs"] or "")
    ledger = api.get("/api/exports/parcels", params={"format": "xlsx"}, headers=who("weidu_admin"))
    assert ledger.status_code == 200 and ledger.headers["content-type"] == XLSX
    ws = load_workbook(io.BytesIO(ledger.content))["宗地台账"]
    assert [r[0].value for r in ws.iter_rows(min_row=2)][:-1] == both_counties[:3]


def test_export_refused_to_the_public_and_enterprises_and_bad_options(api, db, who, both_counties):
    r = api.get("/api/exports/parcels", params={"format": "gpkg"})
    assert r.status_code == 401
    assert api.get("/api/exports/parcels", params={"format": "gpkg"}, headers=who("tax_city")).status_code == 200
    r = api.get("/api/exports/parcels", params={"format": "pdf"}, headers=who("city"))
    assert r.status_code == 422
    r = api.get("/api/exports/parcels", params={"crs": "EPSG:999999"}, headers=who("city"))
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "bad_crs"
    r = api.get("/api/exports/parcels", params={"zone": "火星产业集聚区"}, headers=who("city"))
    assert r.status_code == 422
