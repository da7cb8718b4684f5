"""标图入库 in a real browser: a GeoPackage written by GDAL (pyogrio) with one bad row → the
dry-run report names it (and downloads as Excel); the fixed file → 确认导入 → the batch is
listed → undone after the confirm dialog. Writes only new 长葛 parcels on free ground."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

import numpy as np
import pyogrio.raw
import pytest
import shapely
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select

from browser import login, screenshot

pytestmark = pytest.mark.slow

CODES = ["411082001001GB00901", "411082001001GB00902"]


def free_spot(database_url: str) -> tuple[float, float]:
    """A point in 长葛市产业集聚区 at least ~400 m from every parcel of the demo."""
    from landcycle.services import jurisdictions
    from landcycle.storage.db import Database
    from landcycle.storage.schema import Parcel

    db = Database(database_url)
    try:
        with db.reader() as s:
            zone = jurisdictions.resolve(s, "长葛市产业集聚区").geometry
            taken = shapely.union_all(s.scalars(select(Parcel.geometry)).all())
    finally:
        db.dispose()
    p = shapely.point_on_surface(zone.buffer(-0.003).difference(taken.buffer(0.004)))
    return p.x, p.y


def parcels_file(path, spot, land_use_of_second: str):
    """Two parcels side by side, written by GDAL as a GeoPackage layer “宗地”."""
    from landcycle.domain.geometry import gk_area_m2, rectangle_around

    geoms = [rectangle_around(spot[0] + 0.0025 * k, spot[1], 0.15, 0.1) for k in range(2)]
    rows = [{"宗地代码": c, "坐落": f"长葛市产业集聚区标图路{k + 1}号", "宗地面积": str(round(gk_area_m2(g), 1)),
             "所属县区": "长葛市", "产业集聚区": "长葛市产业集聚区", "用途": "工业用地", "土地状态": "批而未供"}
            for k, (c, g) in enumerate(zip(CODES, geoms))]
    rows[1]["用途"] = land_use_of_second
    names = list(rows[0])
    pyogrio.raw.write(str(path), shapely.to_wkb(np.asarray(geoms, dtype=object)),
                      field_data=[np.asarray([r[n] for r in rows], dtype=object) for n in names], fields=names,
                      geometry_type="Polygon", crs="EPSG:4490", driver="GPKG", layer="宗地")
    return path


def card_status(site, code: str) -> int:
    body = json.dumps({"username": "city", "password": site.passwords["city"]}).encode()
    req = urllib.request.Request(site.url("/api/auth/login"), data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        token = json.loads(r.read())["token"]
    try:
        with urllib.request.urlopen(urllib.request.Request(site.url(f"/api/parcels/{code}"),
                                                           headers={"Authorization": f"Bearer {token}"})) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_upload_dry_run_fix_confirm_list_and_undo(page, web_site, tmp_path):
    spot = free_spot(web_site.database_url)
    bad = parcels_file(tmp_path / "长葛宗地.gpkg", spot, "菜地")
    login(page, web_site, "changge_zone", "/work/import")
    expect(page.get_by_role("heading", name="标图入库")).to_be_visible()

    # a bad row: the report names its source row, parcel and field; nothing can be confirmed
    page.get_by_label("GIS 文件").set_input_files(str(bad))
    page.get_by_role("button", name="试导入（只检查，不写入）").click()
    problems = page.locator("#report-problems tbody tr")
    expect(problems).to_have_count(1)
    expect(problems.first).to_contain_text("要素2")
    expect(problems.first).to_contain_text(CODES[1])
    expect(problems.first).to_contain_text("土地用途")
    expect(problems.first).to_contain_text("菜地")
    expect(page.locator(".report-stats")).to_contain_text("1 个错误")
    expect(page.get_by_role("button", name="确认导入")).to_be_disabled()
    screenshot(page, "import-report")

    # the same report as Excel
    with page.expect_download() as info:
        page.get_by_role("button", name="下载 Excel 报告").click()
    workbook = load_workbook(io.BytesIO(open(info.value.path(), "rb").read()))
    sheet = workbook["问题清单"]
    assert sheet.max_row == 2 and any("菜地" in str(c.value) for c in sheet[2])
    assert card_status(web_site, CODES[0]) == 404  # the dry run wrote nothing

    # fixed file → clean report → confirm
    good = parcels_file(tmp_path / "长葛宗地（修正）.gpkg", spot, "工业用地")
    page.get_by_label("GIS 文件").set_input_files(str(good))
    page.get_by_role("button", name="试导入（只检查，不写入）").click()
    expect(page.locator(".report-stats")).to_contain_text("0 个错误")
    expect(page.locator(".report-stats")).to_contain_text("2 宗将新建")
    page.get_by_role("button", name="确认导入").click()
    message = page.locator("#confirm-message")
    expect(message).to_contain_text("新建 2 宗")
    batch_id = message.inner_text().split("批次 ")[1].split("：")[0]
    row = page.locator(f"#batch-table tr[data-batch='{batch_id}']")
    expect(row).to_contain_text("长葛宗地（修正）.gpkg")
    expect(row).to_contain_text("已入库")
    assert card_status(web_site, CODES[0]) == 200 and card_status(web_site, CODES[1]) == 200
    screenshot(page, "import-batches")

    # undo, after the confirm dialog (cancel first: nothing happens)
    row.get_by_role("button", name=f"撤销批次 {batch_id}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("将删除该批次新建的 2 宗宗地")
    dialog.get_by_role("button", name="取消").click()
    expect(dialog).to_be_hidden()
    assert card_status(web_site, CODES[0]) == 200
    row.get_by_role("button", name=f"撤销批次 {batch_id}").click()
    page.get_by_role("dialog").get_by_role("button", name="确认撤销").click()
    expect(page.locator("#batches-message")).to_contain_text(f"已撤销批次 {batch_id}：删除 2 宗")
    expect(page.locator(f"#batch-table tr[data-batch='{batch_id}']")).to_contain_text("撤销")
    expect(page.locator(f"#batch-table tr[data-batch='{batch_id}']").get_by_role("button", name="撤销")).to_have_count(0)
    assert card_status(web_site, CODES[0]) == 404 and card_status(web_site, CODES[1]) == 404
    assert not [p for p in page.problems if "status of 404" not in p], page.problems


def test_roles_without_import_rights_get_no_upload_form(page, web_site):
    login(page, web_site, "tax_city", "/work/import")
    expect(page.locator("main")).to_contain_text("本账号无权导入宗地")
    expect(page.get_by_label("GIS 文件")).to_be_hidden()
