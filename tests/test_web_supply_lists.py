"""The 年度可供土地清单 and 季度通报 pages in a real browser (issue 8, item 9).

/work/supply-lists: 长葛市's admin compiles its county's list for 2031, edits an entry's terms (a 409
on the way: the edition changed behind the page), removes an entry, submits, has it returned with
comments, submits again; publishing without the approval document is refused next to the fields,
with it the list is published and the anonymous portal (the page and /api/supply as the portal
calls it) shows exactly the edition's parcels for 长葛市; a revision without one more parcel then
supersedes it and that parcel leaves the public view. A department sees the editions without any
write form; an enterprise is refused on the page.
/work/bulletins: the city admin downloads the quarter's Word and PDF 通报 (the title found with
python-docx and pypdfium2) and the ranking workbook; an enterprise gets the API's 403 as text.

Publishing a county list changes what the public sees in that county, so these tests run on a
demo site of their own (not the session's shared one).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from browser import login, new_page, screenshot
from live import live_server
from test_web_lifecycle import api_call

pytestmark = pytest.mark.slow

YEAR = 2031          # the list year compiled here (the demo publishes 2021 only)
COUNTY = "长葛市"
COUNTY_CODE = "411082"
BULLETIN_YEAR, BULLETIN_Q = 2021, 2
ENTERPRISE = "supply_ent"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A demo site of this module's own, with the test accounts and one enterprise account."""
    from conftest import ACCOUNTS, PASSWORD
    from sqlalchemy import select

    from browser import WebSite
    from landcycle.services import accounts, demo, setup
    from landcycle.storage.db import Database
    from landcycle.storage.schema import Enterprise

    folder = tmp_path_factory.mktemp("supply-web")
    url = f"sqlite:///{folder / 'web.db'}"
    db = Database(url)
    setup.init_database(db, actor="test")
    demo.generate_demo(db)
    for name, spec in ACCOUNTS.items():
        accounts.add_user(db, name, PASSWORD, **spec)
    with db.reader() as s:
        credit = s.scalar(select(Enterprise.credit_code).order_by(Enterprise.id).limit(1))
    accounts.add_user(db, ENTERPRISE, PASSWORD, role="enterprise", enterprise=credit)
    db.dispose()
    env = {"LANDCYCLE_DATA_DIR": str(folder / "data"), "LANDCYCLE_PASSWORD_HASH_PROFILE": "cheapest-for-tests"}
    with live_server(url, env=env, log_dir=folder) as base:
        yield WebSite(base, url, {**{name: PASSWORD for name in ACCOUNTS}, ENTERPRISE: PASSWORD})


def _no_errors(page):
    # 4xx answers the page shows as messages are "Failed to load resource" console lines
    assert not [p for p in page.problems if "Failed to load resource" not in p], page.problems


def _edition(site, list_id: int, who: str = "city") -> dict:
    return api_call(site, f"/api/supply-lists/{list_id}", who)


def _public_codes(site) -> set[str]:
    """What the anonymous portal lists for 长葛市 (the call the portal's list page makes)."""
    import json
    import urllib.request

    with urllib.request.urlopen(site.url(f"/api/supply?county={quote(COUNTY)}&limit=1000")) as r:
        data = json.loads(r.read())
    assert data["total"] == len(data["items"])
    return {it["code"] for it in data["items"]}


def _open_id(page) -> int:
    return int(re.search(r"[?&]id=(\d+)", page.url).group(1))


def test_county_admin_compiles_edits_publishes_and_revises(page, site, browser):
    login(page, site, "changge_admin", "/work/supply-lists")
    compile_form = page.locator("#compile-form")
    expect(compile_form).to_be_visible()
    # a county admin compiles only its own county's list
    expect(page.locator("#c-jurisdiction option")).to_have_count(1)
    expect(page.locator("#c-jurisdiction")).to_have_value(COUNTY_CODE)
    compile_form.get_by_label("年度").fill(str(YEAR))
    compile_form.get_by_role("button", name="编制草稿").click()
    edition = page.locator("#edition")
    expect(edition.get_by_role("heading", name=re.compile(f"{COUNTY}{YEAR}年度可供土地清单 · 第 1 版"))).to_be_visible()
    expect(page.locator("#edition-status")).to_have_text("草稿")
    list_id = _open_id(page)
    draft = _edition(site, list_id)
    assert draft["status"] == "draft" and len(draft["entries"]) >= 4
    assert {e["county_name"] for e in draft["entries"]} == {COUNTY}
    rows = page.locator("#entries-table tbody tr")
    expect(rows).to_have_count(len(draft["entries"]))
    # the edition's counts: 增量/存量 split computed here from the categories
    inc = [e for e in draft["entries"] if e["category_label"].startswith("增量")]
    expect(page.locator("#edition-increment")).to_contain_text(f"{len(inc)} 宗" if inc else "—")
    expect(page.locator(f'#editions-table tr[data-id="{list_id}"] td.status')).to_have_text("草稿")
    # the editions table shows the same split straight from the summaries (no read per edition)
    stock = len(draft["entries"]) - len(inc)
    expect(page.locator(f'#editions-table tr[data-id="{list_id}"] td.increment')).to_contain_text(
        f"{len(inc)} 宗" if inc else "—")
    expect(page.locator(f'#editions-table tr[data-id="{list_id}"] td.stock')).to_contain_text(
        f"{stock} 宗" if stock else "—")
    first, second, gone = (e["code"] for e in draft["entries"][:3])
    row = page.locator(f'#entries-table tbody tr[data-code="{first}"]')
    expect(row.locator("td.code a")).to_have_attribute("href", f"/work/parcels/{first}")
    screenshot(page, "supply-lists-draft")

    # edit an entry's terms; meanwhile someone else changes the edition → 409, values kept
    row.get_by_role("button", name=f"修改 {first}").click()
    form = page.locator(f'form.entry-form[data-code="{first}"]')
    form.get_by_label("成本/价格（万元）").fill("123.4")
    form.get_by_label("供地周期").fill("约20个工作日")
    api_call(site, f"/api/supply-lists/{list_id}/entries/{second}", "city", "PATCH",
             {"supply_cycle": "约40个工作日"}, version=draft["version"])
    form.get_by_role("button", name="保存").click()
    expect(page.locator("#edition-message")).to_contain_text("已被他人修改")
    form = page.locator(f'form.entry-form[data-code="{first}"]')
    expect(form.get_by_label("成本/价格（万元）")).to_have_value("123.4")
    expect(page.locator(f'#entries-table tbody tr[data-code="{second}"] td.cycle')).to_have_text("约40个工作日")
    screenshot(page, "supply-lists-edit-conflict", full_page=False)
    form.get_by_role("button", name="保存").click()
    expect(page.locator("#edition-message")).to_contain_text(f"已保存宗地 {first}")
    expect(row.locator("td.price")).to_have_text("123.4")
    expect(row.locator("td.cycle")).to_have_text("约20个工作日")
    saved = next(e for e in _edition(site, list_id)["entries"] if e["code"] == first)
    assert saved["expected_price_wan"] == 123.4 and saved["supply_cycle"] == "约20个工作日"

    # remove one entry
    page.once("dialog", lambda d: d.accept())
    page.locator(f'#entries-table tbody tr[data-code="{gone}"]').get_by_role("button", name=f"移除 {gone}").click()
    expect(page.locator("#edition-message")).to_contain_text(f"已移除宗地 {gone}")
    expect(rows).to_have_count(len(draft["entries"]) - 1)
    assert gone not in {e["code"] for e in _edition(site, list_id)["entries"]}

    # submit; returned with comments (an empty comment is refused next to the field); submit again
    edition.get_by_role("button", name="提交审核").click()
    expect(page.locator("#edition-status")).to_have_text("审核中")
    expect(page.locator("#add-form")).to_have_count(0)
    returning = page.locator("#return-form")
    returning.get_by_role("button", name="退回").click()
    expect(returning.locator(".field-problem")).to_be_visible()
    assert _edition(site, list_id)["status"] == "submitted"
    returning.get_by_label("审核意见").fill("请核实第 1 宗的供地周期")
    returning.get_by_role("button", name="退回").click()
    expect(page.locator("#edition-status")).to_have_text("草稿")
    expect(page.locator('#steps-table tr[data-step="return"]')).to_contain_text("请核实第 1 宗的供地周期")
    edition.get_by_role("button", name="提交审核").click()
    expect(page.locator("#edition-status")).to_have_text("审核中")

    # publishing without the approval document is refused next to the fields; nothing changes
    publishing = page.locator("#publish-form")
    publishing.get_by_role("button", name="公布").click()
    expect(publishing.locator("#p-title-problem")).to_be_visible()
    expect(publishing.locator("#p-number-problem")).to_be_visible()
    expect(publishing.locator("#p-date-problem")).to_be_visible()
    screenshot(page, "supply-lists-publish-refused")
    assert _edition(site, list_id)["status"] == "submitted"
    publishing.get_by_label("批准文件名称").fill(f"关于长葛市{YEAR}年度可供土地清单的批复")
    publishing.get_by_label("文号").fill(f"长政文〔{YEAR}〕8号")
    day = (date.today() - timedelta(days=1)).isoformat()
    publishing.get_by_label("日期").fill(day)
    publishing.get_by_role("button", name="公布").click()
    expect(page.locator("#edition-status")).to_have_text("已公布")
    expect(page.locator("#edition-document")).to_contain_text(f"长政文〔{YEAR}〕8号")
    expect(page.locator('#steps-table tbody tr')).to_have_count(5)  # 编制 提交 退回 提交 公布
    link = page.get_by_role("link", name="在云上看地中查看")
    expect(link).to_have_attribute("href", f"/?county={COUNTY_CODE}")
    expect(page.locator("#edition-actions").get_by_role("button", name=re.compile("修订"))).to_be_visible()
    screenshot(page, "supply-lists-published")
    published = _edition(site, list_id)
    assert published["status"] == "published"
    codes = {e["code"] for e in published["entries"]}
    assert gone not in codes and first in codes

    # the anonymous portal now shows exactly the edition's parcels for 长葛市
    assert _public_codes(site) == codes
    anon = new_page(browser)
    try:
        anon.goto(site.url(f"/?county={COUNTY_CODE}"))
        expect(anon.locator("#result-summary")).to_contain_text(f"共 {len(codes)} 宗")
        items = anon.locator("#supply-list li.supply-item")
        expect(items.first).to_be_visible()
        shown = {items.nth(i).get_attribute("data-code") for i in range(items.count())}
        assert shown and shown <= codes
        screenshot(anon, "supply-lists-portal")
    finally:
        anon.context.close()

    # a revision (without one more parcel) supersedes the published edition
    edition.get_by_role("button", name=re.compile("修订")).click()
    expect(edition.get_by_role("heading", name=re.compile("第 2 版"))).to_be_visible()
    expect(page.locator("#edition-status")).to_have_text("草稿")
    revision_id = _open_id(page)
    assert revision_id != list_id
    page.once("dialog", lambda d: d.accept())
    page.locator(f'#entries-table tbody tr[data-code="{second}"]').get_by_role("button", name=f"移除 {second}").click()
    expect(page.locator("#edition-message")).to_contain_text(f"已移除宗地 {second}")
    edition.get_by_role("button", name="提交审核").click()
    expect(page.locator("#edition-status")).to_have_text("审核中")
    publishing = page.locator("#publish-form")
    publishing.get_by_label("批准文件名称").fill(f"关于长葛市{YEAR}年度可供土地清单（修订）的批复")
    publishing.get_by_label("文号").fill(f"长政文〔{YEAR}〕9号")
    publishing.get_by_label("日期").fill(day)
    publishing.get_by_role("button", name="公布").click()
    expect(page.locator("#edition-status")).to_have_text("已公布")
    expect(page.locator(f'#editions-table tr[data-id="{list_id}"] td.status')).to_have_text("已被替代")
    expect(page.locator(f'#editions-table tr[data-id="{revision_id}"] td.status')).to_have_text("已公布")
    assert _edition(site, list_id)["status"] == "superseded"
    assert _edition(site, list_id)["superseded_by_id"] == revision_id
    assert _public_codes(site) == codes - {second}
    screenshot(page, "supply-lists-superseded")
    _no_errors(page)


def test_department_reads_without_forms_and_enterprise_is_refused(page, site, browser):
    city = api_call(site, "/api/supply-lists?jurisdiction=411000", "city")["items"]
    demo_edition = next(x for x in city if x["status"] == "published")
    login(page, site, "tax_city", f"/work/supply-lists?id={demo_edition['id']}")
    expect(page.locator("#edition-status")).to_have_text("已公布")
    expect(page.locator("#compile-panel")).to_be_hidden()
    expect(page.locator(f'#editions-table tr[data-id="{demo_edition["id"]}"]')).to_be_visible()
    expect(page.locator("#entries-table tbody tr")).to_have_count(demo_edition["entry_count"])
    actions = page.locator("#edition-actions")
    expect(actions.get_by_role("button", name="导出 Excel")).to_be_visible()
    expect(actions.get_by_role("button", name=re.compile("修订|提交审核"))).to_have_count(0)
    expect(page.locator("#publish-form, #return-form, #add-form, .entry-actions")).to_have_count(0)
    screenshot(page, "supply-lists-department", full_page=False)
    with page.expect_download() as dl:
        actions.get_by_role("button", name="导出 Excel").click()
    from openpyxl import load_workbook
    assert dl.value.suggested_filename.endswith(".xlsx")
    with open(dl.value.path(), "rb") as f:
        sheet = load_workbook(f).active
    assert "可供土地清单" in str(sheet["A1"].value)
    _no_errors(page)

    ent = new_page(browser)
    try:
        login(ent, site, ENTERPRISE, "/work/supply-lists")
        expect(ent.locator("#message")).to_be_visible()
        expect(ent.locator("#message")).not_to_be_empty()
        expect(ent.locator("#compile-panel")).to_be_hidden()
        expect(ent.locator("#editions-table")).to_have_count(0)
        screenshot(ent, "supply-lists-enterprise-refused", full_page=False)
    finally:
        ent.context.close()


def test_city_downloads_the_quarterly_bulletin(page, site, browser, tmp_path):
    import docx
    import pypdfium2

    title = f"许昌市百园增效行动 {BULLETIN_YEAR}年第{BULLETIN_Q}季度工作通报"
    login(page, site, "city", "/work/bulletins")
    page.goto(site.url(f"/work/bulletins?year={BULLETIN_YEAR}&quarter={BULLETIN_Q}"))  # the choice lives in the URL
    expect(page.get_by_label("年度")).to_have_value(str(BULLETIN_YEAR))
    expect(page.get_by_label("季度")).to_have_value(str(BULLETIN_Q))
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="下载 Word").click()
    assert dl.value.suggested_filename.endswith(".docx")
    word = tmp_path / "bulletin.docx"
    dl.value.save_as(word)
    assert title in [p.text for p in docx.Document(str(word)).paragraphs]
    expect(page.locator("#bulletin-message")).to_contain_text("已下载")

    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="下载 PDF").click()
        expect(page.locator("#bulletin-message")).to_contain_text("正在生成")
    pdf_path = tmp_path / "bulletin.pdf"
    dl.value.save_as(pdf_path)
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    try:
        text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
    # the PDF's text layer spaces Han characters from digits ("2021 年第 2 季度"): compare without spaces
    assert re.sub(r"\s", "", title) in re.sub(r"\s", "", text)
    expect(page.locator("#bulletin-message")).to_contain_text("已下载")
    screenshot(page, "bulletins-city")

    page.get_by_label("类别").select_option("zone")
    with page.expect_download() as dl:
        page.get_by_role("button", name="下载排名 Excel").click()
    from openpyxl import load_workbook
    assert dl.value.suggested_filename.endswith(".xlsx")
    with open(dl.value.path(), "rb") as f:
        assert len(load_workbook(f).worksheets) == 1
    _no_errors(page)

    ent = new_page(browser)
    try:
        login(ent, site, ENTERPRISE, "/work/bulletins")
        ent.get_by_role("button", name="下载 Word").click()
        expect(ent.locator("#bulletin-message")).to_contain_text("生成失败")
        expect(ent.locator("#bulletin-message")).to_have_attribute("data-kind", "error")
        screenshot(ent, "bulletins-enterprise-refused")
    finally:
        ent.context.close()
