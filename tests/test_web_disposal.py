"""处置台账 and 挂牌督办 in a real browser (issue 8, item 9), and the grouped header navigation.

处置台账: a zone manager sees only its zone's entries (checked against the API), files a progress
report (a 422 next to the field first), meets a 409 on a stale 一宗一策 edit, closes an entry with
an outcome and sees the zone's 消化处置率 change on the closing day and not the day before (the
numbers are the API's; the difference is the closed parcel's area). The city sees every zone and
downloads the Excel. 挂牌督办: the city lists a parcel of a zone that had one counted case, the
zone's count goes from 1 to 2 and its flag clears. A department gets no write forms on either page.

The demo site may or may not hold ledger entries and cases already (another builder adds a demo
year): every record used here is created here, on parcels with no entry and no case, and the
assertions are on those records and on differences the API confirms.
"""

from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from browser import PHONE_SCREEN, login, new_page, screenshot
from test_web_lifecycle import api_call

pytestmark = pytest.mark.slow

ZONE = "魏都产业集聚区"      # weidu_zone's zone
OPENED = "2020-11-02"        # before any demo ledger (opened 2021-03-01, closed from 2021-04-01)
DUE = "2020-12-31"           # so the open entries are 逾期
CLOSED = "2021-01-19"        # the closing day chosen in the browser
BEFORE = "2021-01-18"
OVERSIGHT_AS_OF = "2021-12-31"  # the 挂牌督办 requirement's due day
USED_ELSEWHERE = ("411082103006GB00004", "411082103009GB00004", "411082103015GB00001", "411082103013GB00003",
                  "411082001001GB00901", "411082001001GB00902")


def _free_parcels(db, zone_name: str | None, states: tuple[str, ...] | None, exclude_zone: str | None = None,
                  n: int = 1, without_entries: bool = True) -> list[str]:
    """Codes of parcels (highest codes first) with no 挂牌督办 case and (``without_entries``) no
    ledger entry, outside 长葛 (whose parcels other browser tests change)."""
    from sqlalchemy import select

    from landcycle.storage.disposal_schema import DisposalEntry
    from landcycle.storage.oversight_schema import OversightCase
    from landcycle.storage.schema import Jurisdiction, Parcel

    with db.reader() as s:
        q = (select(Parcel.code).join(Jurisdiction, Jurisdiction.id == Parcel.zone_id)
             .where(~Parcel.id.in_(select(OversightCase.parcel_id)), Parcel.code.not_in(USED_ELSEWHERE),
                    ~Parcel.code.startswith("411082")))
        if without_entries:
            q = q.where(~Parcel.id.in_(select(DisposalEntry.parcel_id)))
        if zone_name:
            q = q.where(Jurisdiction.name == zone_name)
        if exclude_zone:
            q = q.where(Jurisdiction.name != exclude_zone)
        if states:
            q = q.where(Parcel.state.in_(states))
        codes = list(s.scalars(q.order_by(Parcel.code.desc()).limit(n)))
    assert len(codes) == n, f"演示数据中没有足够的空闲宗地（{zone_name}）"
    return codes


@pytest.fixture(scope="module")
def ledger(web_site):
    """Three entries opened through the service: two in 魏都产业集聚区 (idle and 批而未供, both past
    their 完成时限), one in another zone."""
    from landcycle.services import disposal
    from landcycle.storage.db import Database

    db = Database(web_site.database_url)
    try:
        w1, w2 = _free_parcels(db, ZONE, None, n=2)
        (other,) = _free_parcels(db, None, None, exclude_zone=ZONE)
        made = {}
        for key, code, category in (("w1", w1, "idle"), ("w2", w2, "approved_unsupplied"), ("other", other, "idle")):
            made[key] = disposal.open_entry(
                db, code, category, actor="test", reason="浏览器测试：核查发现", opened_on=OPENED,
                cause="企业资金链断裂", measure="self_development", due_date=DUE,
                units=["魏都区人民政府", "魏都区自然资源局"])
    finally:
        db.dispose()
    return made


def _no_errors(page):
    assert not [p for p in page.problems if "Failed to load resource" not in p], page.problems


def _zone_progress(site, day: str, user: str = "weidu_zone") -> dict:
    p = api_call(site, f"/api/disposal/progress?as_of={day}", user)
    return next(r for r in p["zones"] if r["name"] == ZONE)


def _pct(rate) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _expect_progress_row(page, row: dict):
    tr = page.locator(f'#progress-table tr[data-level="zone"][data-code="{row["code"]}"]')
    expect(tr.locator("td.rate-cell .rate")).to_have_text(_pct(row["rate"]))
    expect(tr.locator("td.disposed")).to_have_text(f'{row["disposed"]:,.2f}'.rstrip("0").rstrip("."))
    expect(tr.locator("td.met")).to_have_text("无数据" if row["rate"] is None else "达标" if row["meets_goal"] else "未达标")


# ---- 处置台账 ---------------------------------------------------------------------------------

def test_zone_manager_reports_and_closes_and_the_rate_moves_on_the_closing_day(page, web_site, ledger):
    w1, w2, other = ledger["w1"], ledger["w2"], ledger["other"]
    listed = api_call(web_site, "/api/disposal/entries?limit=1000", "weidu_zone")
    login(page, web_site, "weidu_zone", "/work/disposal")
    rows = page.locator("#entries-table tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.locator("#total-count")).to_have_text(f'{listed["total"]:,}')
    shown = set(page.locator("#entries-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.entry)"))
    assert len(shown) == min(50, listed["total"])  # newest first, 50 a page
    assert {str(w1["id"]), str(w2["id"])} <= shown and str(other["id"]) not in shown
    assert {str(e["id"]) for e in listed["items"]} >= shown
    assert all((e["facts"]["zone"] or {}).get("name") == ZONE for e in listed["items"])
    row = page.locator(f'#entries-table tr[data-entry="{w1["id"]}"]')
    expect(row.locator("td.due .tag-error")).to_have_text("逾期")
    expect(row.locator("td.code a")).to_have_attribute("href", f'/work/parcels/{w1["parcel"]}')
    expect(page.get_by_role("button", name="从评价结果建立台账")).to_be_visible()

    # the overdue filter (in the URL) keeps our overdue entries
    page.get_by_label("只看逾期（处置中且已过完成时限）").check()
    expect(page).to_have_url(re.compile(r"overdue=1"))
    expect(page.locator(f'#entries-table tr[data-entry="{w1["id"]}"]')).to_be_visible()
    page.get_by_label("只看逾期（处置中且已过完成时限）").uncheck()

    # a progress report: empty text refused next to the field, then filed
    page.get_by_role("button", name=f'查看台账 {w1["id"]}（', exact=False).click()
    detail = page.locator("#entry-detail")
    expect(detail.get_by_role("heading", name=f'台账 {w1["id"]}：{w1["parcel"]} · 闲置')).to_be_visible()
    form = detail.locator("#report-form")
    form.get_by_role("button", name="报送进展").click()
    expect(form.locator("#r-text-problem")).to_be_visible()
    assert api_call(web_site, f'/api/disposal/entries/{w1["id"]}', "weidu_zone")["reports"] == []
    form.get_by_label("进展情况").fill("已约谈企业，企业承诺三个月内复工")
    form.get_by_label("阶段").select_option("implementing")
    form.get_by_label("完成比例（%）").fill("30")
    form.get_by_role("button", name="报送进展").click()
    expect(page.locator("#detail-message")).to_contain_text("已报送")
    expect(detail.locator("#reports-table tbody tr")).to_have_count(1)
    expect(detail.locator("#reports-table tbody tr").first).to_contain_text("已约谈企业")
    expect(detail.locator("#reports-table tbody tr").first).to_contain_text("30%")

    # a stale 一宗一策 edit: someone saves first → 409, the current version is shown
    current = api_call(web_site, f'/api/disposal/entries/{w1["id"]}', "city")
    api_call(web_site, f'/api/disposal/entries/{w1["id"]}', "city", "PATCH",
             {"plan": "市里先行修改的方案"}, version=current["version"])
    edit = detail.locator("#edit-form")
    edit.get_by_label("一宗一策处置方案").fill("区政府收储后公开出让")
    edit.get_by_role("button", name="保存修改").click()
    expect(page.locator("#detail-message")).to_contain_text(f'第 {current["version"] + 1} 版')
    expect(detail).to_contain_text("市里先行修改的方案")

    # close with an outcome on CLOSED; the zone's figures change on CLOSED, not on BEFORE
    before_api, on_api = _zone_progress(web_site, BEFORE), _zone_progress(web_site, CLOSED)
    assert before_api["disposed"] == on_api["disposed"]
    close = detail.locator("#close-form")
    close.get_by_role("button", name="办结台账").click()
    expect(close.locator("#c-outcome-problem")).to_be_visible()  # the outcome is required (422)
    close.get_by_label("处置结果").select_option("revived")
    close.get_by_label("办结日期").fill(CLOSED)
    close.get_by_label("办结说明").fill("企业复工投产")
    close.get_by_role("button", name="办结台账").click()
    expect(page.locator("#detail-message")).to_contain_text(f"已办结：盘活（{CLOSED}）")
    expect(page.locator(f'#entries-table tr[data-entry="{w1["id"]}"] td.state')).to_contain_text("已办结")
    expect(detail.locator("#close-form")).to_have_count(0)

    before_api, on_api = _zone_progress(web_site, BEFORE), _zone_progress(web_site, CLOSED)
    assert on_api["disposed"] == pytest.approx(before_api["disposed"] + w1["area_mu"], abs=1e-3)
    assert on_api["revived_mu"] == pytest.approx(before_api["revived_mu"] + w1["area_mu"], abs=1e-3)
    assert on_api["closed_entries"] == before_api["closed_entries"] + 1
    page.get_by_label("统计日").fill(BEFORE)
    expect(page.locator("#progress-table caption")).to_contain_text(BEFORE)
    _expect_progress_row(page, before_api)
    page.get_by_label("统计日").fill(CLOSED)
    expect(page.locator("#progress-table caption")).to_contain_text(CLOSED)
    _expect_progress_row(page, on_api)
    expect(page.locator("#formula")).to_contain_text("消化处置率")
    expect(page.locator('#progress-table tr[data-level="city"]')).to_have_count(0)  # not the city's figures
    screenshot(page, "disposal-zone")
    _no_errors(page)


def test_city_sees_every_zone_filters_and_exports(page, web_site, ledger):
    login(page, web_site, "city", "/work/disposal")
    listed = api_call(web_site, "/api/disposal/entries?limit=1000", "city")
    expect(page.locator("#total-count")).to_have_text(f'{listed["total"]:,}')
    zones = {(e["facts"]["zone"] or {}).get("name") for e in listed["items"]}
    assert len(zones) >= 2
    expect(page.locator('#progress-table tr[data-level="city"]')).to_have_count(1)
    expect(page.locator("#revival")).to_contain_text("1.37 万亩")
    # filter by the other entry's zone: it is listed, the 魏都 ones are not
    other = ledger["other"]
    page.get_by_label("产业集聚区", exact=True).select_option(other["facts"]["zone"]["code"])
    expect(page).to_have_url(re.compile(r"zone="))
    expect(page.locator(f'#entries-table tr[data-entry="{other["id"]}"]')).to_be_visible()
    expect(page.locator(f'#entries-table tr[data-entry="{ledger["w2"]["id"]}"]')).to_have_count(0)
    by_zone = api_call(web_site, f'/api/disposal/entries?limit=1000&zone={other["facts"]["zone"]["code"]}', "city")
    expect(page.locator("#total-mu")).to_have_attribute("data-mu", re.compile(r"^\d"))
    total_mu = float(page.locator("#total-mu").get_attribute("data-mu"))
    assert total_mu == by_zone["totals"]["area_mu"] == pytest.approx(sum(e["area_mu"] for e in by_zone["items"]), abs=1e-3)
    with page.expect_download() as dl:
        page.get_by_role("button", name="导出 Excel").click()
    assert dl.value.suggested_filename.endswith(".xlsx")
    with open(dl.value.path(), "rb") as fh:
        ws = load_workbook(fh).active
    cells = [c for r in ws.iter_rows(values_only=True) for c in r if c]
    assert other["parcel"] in cells and ledger["w2"]["parcel"] not in cells
    # 从评价结果建立台账: the panel with a run selector
    page.get_by_role("button", name="从评价结果建立台账").click()
    expect(page.get_by_label("评价批次")).to_be_visible()
    assert page.get_by_label("评价批次").locator("option").count() >= 2
    screenshot(page, "disposal-city")
    _no_errors(page)


def test_department_reads_the_ledger_without_write_forms(page, web_site, ledger):
    login(page, web_site, "tax_city", "/work/disposal")
    entry = ledger["w2"]
    page.get_by_role("button", name=f'查看台账 {entry["id"]}（', exact=False).click()
    detail = page.locator("#entry-detail")
    expect(detail.locator("#write-denied")).to_be_visible()
    expect(detail.locator("form")).to_have_count(0)
    expect(page.get_by_role("button", name="从评价结果建立台账")).to_be_hidden()
    page.goto(web_site.url("/work/oversight"))
    expect(page.locator("#zones-table")).to_be_visible()
    expect(page.get_by_role("button", name="挂牌督办一宗地")).to_be_hidden()
    expect(page.locator("form#case-form, form#progress-form, form#lift-form")).to_have_count(0)
    _no_errors(page)


# ---- 挂牌督办 ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def oversight_zone(web_site):
    """A zone (not 魏都, not 长葛) with exactly one counted listing by the due day, and a free
    批而未供/闲置 parcel of it to list in the browser."""
    from landcycle.services import oversight
    from landcycle.storage.db import Database

    counts = api_call(web_site, f"/api/oversight/zones?as_of={OVERSIGHT_AS_OF}", "city")["zones"]
    zone = next(z for z in counts if z["counted_by_due"] < 2 and z["zone"] != ZONE and not z["zone"].startswith("长葛"))
    db = Database(web_site.database_url)
    try:
        free = _free_parcels(db, zone["zone"], ("approved_unsupplied", "idle"), n=2, without_entries=False)
        if zone["counted_by_due"] == 0:
            oversight.open_case(db, free[1], "test", level="county", listed_by_unit="县百园增效办",
                                listed_on="2021-05-10", reason="闲置两年以上", requirement="限期处置",
                                deadline="2022-06-30", units=["县人民政府"])
    finally:
        db.dispose()
    return {"zone": zone, "parcel": free[0]}


def test_city_lists_a_parcel_and_the_zone_meets_the_minimum(page, web_site, oversight_zone):
    zone, code = oversight_zone["zone"], oversight_zone["parcel"]
    login(page, web_site, "city", f"/work/oversight?as_of={OVERSIGHT_AS_OF}")
    row = page.locator(f'#zones-table tr[data-zone="{zone["zone_code"]}"]')
    expect(row).to_have_attribute("data-below", "1")
    expect(row).to_contain_text("低于要求，差 1 宗")
    expect(row.locator("td").nth(4)).to_have_text("1")  # 期限内计入要求 (after 所属, 督办中, 累计, 其中)
    page.get_by_role("button", name="挂牌督办一宗地").click()
    form = page.locator("#case-form")
    form.get_by_label("宗地代码").fill(code)
    form.get_by_label("督办级别").select_option("city")
    form.get_by_label("督办文号").fill("许百园办〔2021〕7号")
    form.get_by_label("挂牌日期").fill("2021-06-01")
    form.get_by_label("完成时限").fill("2022-09-30")
    form.get_by_label("督办事由").fill("批而未供两年以上")
    form.get_by_role("button", name="挂牌督办").click()
    expect(form.locator("#o-requirement-problem")).to_be_visible()  # 督办要求 is required (422)
    form.get_by_label("督办要求").fill("一地一策，限期处置")
    form.get_by_label("责任单位（每行一个，第一个为牵头单位）").fill("区人民政府\n区自然资源局")
    form.get_by_role("button", name="挂牌督办").click()
    expect(page.locator("#case-detail")).to_be_visible()
    expect(page.locator("#case-heading")).to_contain_text(code)
    after = next(z for z in api_call(web_site, f"/api/oversight/zones?as_of={OVERSIGHT_AS_OF}", "city")["zones"]
                 if z["zone_code"] == zone["zone_code"])
    assert after["counted_by_due"] == 2 and after["met"]
    expect(row).to_have_attribute("data-below", "0")
    expect(row).to_contain_text("已达到要求")
    expect(row.locator("td").nth(4)).to_have_text("2")

    # a progress note, then 销号 with a result; the count stays (a lifted case still counts)
    detail = page.locator("#case-detail")
    detail.get_by_label("进展情况").fill("已约谈用地单位，制定处置方案")
    detail.get_by_label("日期", exact=True).fill("2021-10-15")
    detail.get_by_role("button", name="报送进展").click()
    expect(detail.locator("#case-notes li")).to_have_count(1)
    detail.get_by_label("销号结果（处置成效）").fill("已完成供地")
    detail.get_by_label("销号日期").fill("2021-11-30")
    detail.get_by_role("button", name="销号").click()
    expect(page.locator("#case-message")).to_contain_text("已销号（2021-11-30）")
    expect(row).to_contain_text("已达到要求")
    expect(page.locator(f'#cases-table tr[data-code="{code}"] td.state')).to_contain_text("已销号")
    expect(page.locator("#agreements-table")).to_be_visible()
    screenshot(page, "oversight-city")
    _no_errors(page)


# ---- navigation -------------------------------------------------------------------------------

@pytest.mark.parametrize("user", ["city", "weidu_zone"])  # the zone manager has the longest role line
def test_header_stays_on_one_line_at_1366(page, web_site, user):
    login(page, web_site, user, "/work/oversight")
    items = page.locator(".app-header > *").evaluate_all(
        "ns => ns.map(n => { const r = n.getBoundingClientRect(); return [r.top, r.bottom]; })")
    assert max(t for t, _ in items) < min(b for _, b in items), items  # brand, nav and user side by side
    tops = page.locator(".app-nav > ul > li").evaluate_all("ls => ls.map(l => l.getBoundingClientRect().top)")
    assert max(tops) - min(tops) < 2, tops
    assert page.locator("#app-header").bounding_box()["height"] < 70
    screenshot(page, f"header-{user}", full_page=False)


def test_navigation_fits_one_line_and_the_office_menu_works_by_keyboard(page, web_site):
    login(page, web_site, "city", "/work/disposal")
    nav = page.get_by_role("navigation", name="主导航")
    for label in ("驾驶舱", "宗地地图", "宗地台账", "预警", "标图入库"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    menu = nav.get_by_role("button", name=re.compile("百园增效"))
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_contain_text("处置台账")  # the current page's group shows where we are
    tops = page.locator(".app-nav > ul > li").evaluate_all("ls => ls.map(l => l.getBoundingClientRect().top)")
    assert max(tops) - min(tops) < 2, tops  # one line at 1366 px
    header = page.locator("#app-header").bounding_box()
    assert header["height"] < 70, header

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for label in ("计划任务", "考评", "增存挂钩", "处置台账", "挂牌督办", "供地清单", "季度通报"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="处置台账")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="供地清单")).to_have_attribute("href", "/work/supply-lists")
    expect(nav.get_by_role("link", name="季度通报")).to_have_attribute("href", "/work/bulletins")
    screenshot(page, "nav-menu-open", full_page=False)
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(nav.get_by_role("link", name="计划任务")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(nav.get_by_role("link", name="考评")).to_be_focused()
    page.locator("h1").click()  # a click outside closes it
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    nav.get_by_role("link", name="挂牌督办").click()
    page.wait_for_url(re.compile(r"/work/oversight"))
    expect(page.get_by_role("heading", name="挂牌督办", level=1)).to_be_visible()


def test_navigation_on_a_phone(browser, web_site):
    page = new_page(browser, viewport=PHONE_SCREEN)
    try:
        login(page, web_site, "weidu_zone", "/work/disposal")
        nav = page.get_by_role("navigation", name="主导航")
        menu = nav.get_by_role("button", name=re.compile("百园增效"))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_SCREEN["width"], width  # nothing sticks out sideways
        screenshot(page, "nav-phone", full_page=False)
        menu.click()
        link = nav.get_by_role("link", name="挂牌督办")
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_SCREEN["width"]
        screenshot(page, "nav-phone-open", full_page=False)
        link.click()
        page.wait_for_url(re.compile(r"/work/oversight"))
        expect(page.locator("#zones-table")).to_be_visible()
        expect(page.locator("#cases-table")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]
        screenshot(page, "oversight-phone")
    finally:
        page.context.close()
