"""一宗一卡 in a real browser: the card's sections, editing with in-place validation problems,
the 409 "changed by someone else" view resolved from a second session, roles without edit
rights, and the A4 print view read back from the PDF chromium prints.

Edits go to 长葛 parcels only (other browser tests read 魏都 parcels).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from browser import ARTIFACTS, login, new_page, screenshot

pytestmark = pytest.mark.slow

EDITED = "411082103009GB00004"   # 长葛市产业集聚区, supplied, contract + agreement + development
READ_ONLY = "411002"              # 魏都区 prefix: read, never edited here
TENANTED = "411082103015GB00001"  # 长葛: standard factory with four tenants (printed, not edited)
DEVELOPED = "411082103013GB00003"  # 长葛: under construction, development record pending acceptance


def api_get(site, path: str, username: str = "city") -> dict:
    """GET through the API as ``username`` (bearer token), independent of the browser."""
    body = json.dumps({"username": username, "password": site.passwords[username]}).encode()
    req = urllib.request.Request(site.url("/api/auth/login"), data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        token = json.loads(r.read())["token"]
    with urllib.request.urlopen(urllib.request.Request(site.url(path), headers={"Authorization": f"Bearer {token}"})) as r:
        return json.loads(r.read())


def page_errors(page, expected: tuple[int, ...] = ()) -> list[str]:
    """Console errors and failed requests, less the browser's own favicon probe (404) and the
    API refusals the test provoked on purpose (``expected`` statuses)."""
    allowed = ("status of 404",) + tuple(f"status of {s}" for s in expected)
    return [p for p in page.problems if not any(a in p for a in allowed)]


def open_card(page, site, username: str, code: str) -> None:
    login(page, site, username, f"/work/parcels/{code}")
    expect(page.get_by_role("heading", name=f"一宗一卡 · {code}")).to_be_visible()
    expect(page.locator("#sec-history")).to_be_visible()


def parcel_editor(page):
    page.get_by_role("button", name="编辑宗地信息").click()
    form = page.get_by_role("form", name="编辑宗地信息")
    expect(form).to_be_visible()
    return form


def test_card_shows_every_section_with_figures_class_deadlines_verdicts_and_history(page, web_site):
    open_card(page, web_site, "changge_zone", TENANTED)
    card = api_get(web_site, f"/api/parcels/{TENANTED}", "changge_zone")
    facts = page.locator("#sec-facts")
    expect(facts).to_contain_text(card["parcel"]["location"])
    expect(facts).to_contain_text(card["parcel"]["state_label"])
    # enterprises with their 亩均 figures and class from the latest evaluation
    rows = page.locator("#sec-enterprises tbody tr")
    expect(rows).to_have_count(len(card["occupancies"]))
    owner = rows.filter(has_text=card["occupancies"][0]["enterprise_name"])
    expect(owner).to_contain_text(re.compile(r"[ABC]类"))
    expect(page.locator("#sec-enterprises")).to_contain_text("年度评价")
    # contract and agreement deadlines with their state; acceptance results
    expect(page.locator("#sec-agreement")).to_contain_text("约定达产日期")
    expect(page.locator("#sec-agreement .deadline").first).to_be_visible()
    expect(page.locator("#sec-development")).to_contain_text("竣工验收")
    # verdicts with reasons and clauses
    verdicts = page.locator("#sec-verdicts")
    expect(verdicts).to_contain_text("R1 亩均效益")
    expect(verdicts).to_contain_text("亩均税收 =")
    expect(verdicts.locator(".citations li").first).to_be_visible()
    # the archive: who, when, what
    expect(page.locator("#sec-history .history-item")).to_have_count(len(card["history"]))
    expect(page.locator("#sec-history")).to_contain_text("操作人：demo")
    # the small map drew the parcel
    page.wait_for_function("() => window.landcycleCardMap && window.landcycleCardMap.loaded()")
    screenshot(page, "card")
    assert not page_errors(page), page_errors(page)


def test_zone_manager_edits_then_resolves_a_conflict_from_a_second_session(browser, page, web_site):
    open_card(page, web_site, "changge_zone", EDITED)
    start = api_get(web_site, f"/api/parcels/{EDITED}")["parcel"]

    # 1. a validation problem is shown next to its field, nothing saved
    form = parcel_editor(page)
    form.get_by_label("价款(万元)").fill("-5")
    form.get_by_role("button", name="保存").click()
    problem = form.locator(".field-problem")
    expect(problem).to_contain_text("应为非负数")
    expect(form.get_by_label("价款(万元)")).to_have_attribute("aria-invalid", "true")
    assert api_get(web_site, f"/api/parcels/{EDITED}")["parcel"]["version"] == start["version"]
    form.get_by_role("button", name="取消").click()

    # 2. an edit is saved: the version goes up and the archive shows before → after
    form = parcel_editor(page)
    form.get_by_label("坐落", exact=True).fill("长葛市产业集聚区测试大道1号")
    form.get_by_label("修改原因（记入一地一档）").fill("核对坐落")
    form.get_by_role("button", name="保存").click()
    expect(page.locator("#card-message")).to_contain_text(f"现为第 {start['version'] + 1} 版")
    last = page.locator("#sec-history .history-item").last
    expect(last).to_contain_text("操作人：changge_zone")
    expect(last).to_contain_text("原因：核对坐落")
    expect(last.locator("tbody tr").filter(has_text="坐落")).to_contain_text("长葛市产业集聚区测试大道1号")

    # 3. the first session starts another edit …
    form = parcel_editor(page)
    form.get_by_label("建筑限高(米)").fill("36")
    # … while a second session (another authorised user) saves a change to the same parcel
    other = new_page(browser)
    try:
        open_card(other, web_site, "changge_admin", EDITED)
        theirs = parcel_editor(other)
        theirs.get_by_label("坐落", exact=True).fill("长葛市产业集聚区测试大道2号")
        theirs.get_by_role("button", name="保存").click()
        expect(other.locator("#card-message")).to_contain_text(f"现为第 {start['version'] + 2} 版")
    finally:
        other.context.close()

    # 4. the first session's save is refused: both versions side by side
    form.get_by_role("button", name="保存").click()
    conflict = form.locator(".conflict")
    expect(conflict).to_contain_text("该记录已被他人修改")
    table = conflict.locator("table")
    expect(table.locator("tr").filter(has_text="建筑限高(米)").locator("td.col-mine")).to_have_text("36")
    expect(table.locator("tr").filter(has_text="坐落").locator("td.col-current")).to_have_text("长葛市产业集聚区测试大道2号")
    screenshot(page, "card-conflict")

    # 5. redo on the current version: their change is in the form, mine kept and marked
    conflict.get_by_role("button", name="在当前版本上重做我的修改").click()
    expect(form.get_by_label("坐落", exact=True)).to_have_value("长葛市产业集聚区测试大道2号")
    expect(form.get_by_label("建筑限高(米)")).to_have_value("36")
    expect(form.locator(".is-mine")).to_have_count(1)
    expect(form.locator(".mine-note")).to_contain_text("当前版本为")
    form.get_by_role("button", name="保存").click()
    expect(page.locator("#card-message")).to_contain_text(f"现为第 {start['version'] + 3} 版")

    # nothing lost: both changes in the record and in the archive, the refused attempt too
    now = api_get(web_site, f"/api/parcels/{EDITED}")
    assert now["parcel"]["location"] == "长葛市产业集聚区测试大道2号"
    assert now["parcel"]["height_limit_m"] == 36
    actions = [(h["action"], h["actor"]) for h in now["history"] if h["entity"] == "parcels"]
    assert actions[-4:] == [("update", "changge_zone"), ("update", "changge_admin"),
                            ("conflict", "changge_zone"), ("update", "changge_zone")]
    history = page.locator("#sec-history")
    expect(history).to_contain_text("版本冲突")
    expect(history.locator(".history-item").filter(has_text="操作人：changge_admin")).to_contain_text("测试大道2号")
    screenshot(page, "card-after-conflict")
    assert not page_errors(page, expected=(409, 422)), page_errors(page, expected=(409, 422))


def test_records_of_the_parcel_are_edited_in_place(page, web_site):
    """The development record (acceptance) and an occupancy's end date, each against its own
    version; a date before the actual start is refused next to its field."""
    code = DEVELOPED
    open_card(page, web_site, "changge_zone", code)
    dev = page.locator("#sec-development")
    dev.get_by_role("button", name="编辑开发建设情况").click()
    form = page.get_by_role("form", name="编辑开发建设情况")
    form.get_by_label("竣工验收结果").select_option(label="通过")
    form.get_by_label("竣工验收日期").fill("2019-01-01")  # before the actual start (2020-01-11)
    form.get_by_role("button", name="保存").click()
    expect(form.locator(".field-problem")).to_contain_text("不能早于实际动工日期")
    form.get_by_label("竣工验收日期").fill("2021-09-30")
    form.get_by_role("button", name="保存").click()
    expect(page.locator("#card-message")).to_contain_text("已保存开发建设情况（现为第 2 版）")
    expect(dev.locator(".acceptance")).to_contain_text("通过 2021-09-30")
    # the agreement's completion deadline now reads as met
    expect(page.locator("#sec-agreement")).to_contain_text("2021-09-30 竣工验收")

    row = page.locator("#sec-enterprises tbody tr").first
    row.get_by_role("button", name=re.compile("结束用地关系")).click()
    form = page.get_by_role("form", name="用地关系终止日期")
    form.get_by_label("终止日期").fill("2026-06-30")
    form.get_by_label("修改原因（记入一地一档）").fill("企业迁出")
    form.get_by_role("button", name="保存").click()
    expect(page.locator("#card-message")).to_contain_text("现为第 2 版")
    expect(page.locator("#sec-enterprises tbody tr").first).to_contain_text("至 2026-06-30")
    expect(page.locator("#sec-history .history-item").last).to_contain_text("原因：企业迁出")
    assert not page_errors(page, expected=(422,)), page_errors(page, expected=(422,))


def test_roles_without_edit_rights_see_no_edit_buttons(page, web_site):
    parcels = api_get(web_site, f"/api/parcels?zone={quote('魏都产业集聚区')}&state=operating&limit=1", "tax_city")
    code = parcels["features"][0]["properties"]["code"]
    assert code.startswith(READ_ONLY)
    open_card(page, web_site, "tax_city", code)  # a city department: reads everything, edits nothing
    expect(page.locator("#sec-enterprises tbody tr").first).to_contain_text(re.compile(r"[ABC]类|不参评"))
    expect(page.locator(".edit-button")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("编辑"))).to_have_count(0)
    expect(page.get_by_role("button", name="打印 / 导出 PDF")).to_be_visible()


def test_a_parcel_outside_the_jurisdiction_is_not_found(page, web_site):
    parcels = api_get(web_site, "/api/parcels?limit=1&county=411002", "weidu_admin")
    code = parcels["features"][0]["properties"]["code"]
    login(page, web_site, "changge_zone", f"/work/parcels/{code}")
    expect(page.locator("#card-body [role=alert]")).to_contain_text("不在您的辖区内")
    expect(page.locator(".edit-button")).to_have_count(0)


def test_print_view_is_a4_pdf_with_the_chinese_title(page, web_site):
    import pypdfium2 as pdfium

    open_card(page, web_site, "changge_zone", TENANTED)
    page.wait_for_function("() => { const i = document.getElementById('card-map-print'); return i && !i.hidden && i.src; }")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="打印 / 导出 PDF")).to_be_hidden()
    expect(page.locator("#print-meta")).to_contain_text("打印人：changge_zone")
    out = ARTIFACTS / "card-print.pdf"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.pdf(path=str(out), prefer_css_page_size=True, print_background=True)
    pdf = pdfium.PdfDocument(str(out))
    try:
        assert len(pdf) >= 2
        for i in range(len(pdf)):
            w, h = pdf[i].get_size()
            assert (round(w / 72 * 25.4), round(h / 72 * 25.4)) == (210, 297)  # A4 in mm
            pixels = pdf[i].render(scale=0.5).to_numpy()
            assert (pixels < 200).mean() > 0.002, f"page {i + 1} is blank"
        text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
    flat = re.sub(r"\s+", "", text)
    assert f"一宗一卡·{TENANTED}" in flat
    for heading in ("基本信息", "用地企业", "供地合同", "履约监管协议", "开发建设与验收", "评价判定", "一地一档"):
        assert heading in flat, heading
    assert "编辑宗地信息" not in flat and "打印/导出PDF" not in flat  # no buttons on paper
    if shutil.which("pdftoppm"):  # page pictures to look at
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(out), str(ARTIFACTS / "screenshots" / "card-print")],
                       check=True)
