"""The 百园增效 office pages in a real browser (issue 8, item 9): 计划任务 (the city sees the 许昌
plan's tasks tagged overdue on a fixed day, reports progress and records a milestone met; a county
admin gets no forms where the API gives it no rights), 考评 (a zone's self-assessment with a 422
and a 409 on the way, the office's scores, publishing, the ranking's order and totals checked by
an independent sum; a county admin then sees the published ranking only) and 增存挂钩 (preview
and store an allocation; a county admin reads it without the form).

The plans are loaded into the session's demo site here (the demo has none). Data written here is
used by no other browser test: 许昌 plan task 11, 考评 year 2023 and quota year 2023.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from browser import login, new_page, screenshot
from test_web_lifecycle import api_call

pytestmark = pytest.mark.slow

AS_OF = "2021-07-15"  # a fixed day after the plans' first 6月底 deadlines
YEAR = 2023           # the 考评 round and the quota year written by these tests only
TASK = 11             # 许昌 plan task 11: staged deadlines 2021-03-31 and 2021-06-30


@pytest.fixture(scope="module")
def site(web_site):
    """The demo site with both shipped plans loaded (loading again changes nothing)."""
    from landcycle.services import plan_tasks
    from landcycle.storage.db import Database

    db = Database(web_site.database_url)
    try:
        for path in plan_tasks.shipped_plan_files():
            plan_tasks.load_plan(db, path, actor="test")
    finally:
        db.dispose()
    return web_site


def _plan_id(site, jurisdiction: str) -> int:
    plans = api_call(site, f"/api/plans?as_of={AS_OF}", "city")
    return next(p["id"] for p in plans if p["jurisdiction"]["name"] == jurisdiction)


def _tag(task: dict) -> str:
    """The state a task's row must show (independent of the page's code)."""
    if task["status"] == "已完成":
        return "已完成"
    return f"逾期 {task['days_overdue']} 天" if task["overdue"] else "进行中"


def _no_errors(page):
    assert not [p for p in page.problems if "Failed to load resource" not in p], page.problems


# ---- 计划任务 ---------------------------------------------------------------------------------

def test_city_sees_overdue_tasks_reports_progress_and_records_a_milestone(page, site):
    plan = _plan_id(site, "许昌市")
    api = api_call(site, f"/api/plans/{plan}/tasks?as_of={AS_OF}", "city")
    assert api["count"] == 27
    login(page, site, "city", f"/work/plans?as_of={AS_OF}")
    table = page.locator("#tasks-table")
    expect(table.locator("tbody tr")).to_have_count(27)
    expect(page.get_by_label("实施方案")).to_have_value(str(plan))
    # every row's state is the API's on the chosen day; overdue rows carry the red tag
    for task in api["tasks"]:
        row = table.locator(f'tbody tr[data-task="{task["id"]}"]')
        expect(row.locator("td.state")).to_have_text(_tag(task))
        expect(row.locator("td.lead")).to_have_text(task["lead"])
        for m in task["milestones"]:
            expect(row.locator(f'td.deadlines li[data-milestone="{m["id"]}"] .due')).to_have_text(m["due"])
    overdue = [t for t in api["tasks"] if t["overdue"]]
    assert overdue and {t["days_overdue"] for t in overdue} >= {15, 106}  # task 11 missed 2021-03-31 by 106 days
    expect(table.locator("td.state .tag-error")).to_have_count(len(overdue))
    row11 = table.locator(f'tbody tr[data-number="{TASK}"]')
    expect(row11.locator("td.deadlines .tag-error")).to_have_count(2)  # both stages overdue
    screenshot(page, "plans-city")

    # only overdue, then by unit: the rows are the API's
    page.get_by_label("只看逾期任务").check()
    expect(table.locator("tbody tr")).to_have_count(len(overdue))
    assert set(table.locator("td.state").all_inner_texts()) <= {f"逾期 {t['days_overdue']} 天" for t in overdue}
    page.get_by_label("只看逾期任务").uncheck()
    page.get_by_label("责任单位").select_option("市税务局")
    by_unit = api_call(site, f"/api/plans/{plan}/tasks?as_of={AS_OF}&unit={quote('市税务局')}", "city")
    assert 0 < by_unit["count"] < 27
    expect(table.locator("tbody tr")).to_have_count(by_unit["count"])
    page.get_by_label("责任单位").select_option("")
    expect(table.locator("tbody tr")).to_have_count(27)

    # a task's detail: a report without a status is refused next to the field, then one is filed
    row11.get_by_role("button").click()
    detail = page.locator("#task-detail")
    expect(detail.get_by_role("heading", name=re.compile(f"任务 {TASK}："))).to_be_visible()
    form = detail.locator("#report-form")
    expect(form.get_by_label("季度")).to_have_value("2021Q3")
    form.get_by_label("进展情况").fill("已完成全市清查数据库建设，正在核查认定")
    form.get_by_role("button", name="报送进展").click()
    expect(form.locator("#r-status-problem")).to_contain_text("请填写状态")
    before = api_call(site, f"/api/plans/{plan}/tasks?as_of={AS_OF}", "city")
    assert next(t for t in before["tasks"] if t["number"] == TASK)["reports"] == []
    form.get_by_label("状态").select_option("推进中")
    form.get_by_label("完成比例（%）").fill("40")
    form.get_by_label("附件名称（每行一个）").fill("清查台账.xlsx\n核查报告.docx")
    form.get_by_role("button", name="报送进展").click()
    expect(page.locator("#detail-message")).to_contain_text("已报送 2021Q3 进展")
    reports = detail.locator("#reports-table tbody tr")
    expect(reports).to_have_count(1)
    expect(reports.first).to_contain_text("已完成全市清查数据库建设")
    expect(reports.first).to_contain_text("40%")
    expect(reports.first).to_contain_text("清查台账.xlsx；核查报告.docx")
    expect(row11.locator("td.quarter")).to_have_text("2021Q3")

    # record the first stage met (late: due 2021-03-31)
    first = next(t for t in api["tasks"] if t["number"] == TASK)["milestones"][0]
    done = detail.locator(f'#milestones-table tr[data-milestone="{first["id"]}"]')
    done.get_by_label("完成日期").fill("2021-04-20")
    done.get_by_label("完成依据（文件、文号或成果）").fill("许自然资〔2021〕18号 认定标准体系")
    done.get_by_role("button", name="记录完成").click()
    expect(done.locator(".tag-ok")).to_have_text("已完成（晚 20 天）")
    expect(done.locator("td.completion")).to_contain_text("许自然资〔2021〕18号")
    after = next(t for t in api_call(site, f"/api/plans/{plan}/tasks?as_of={AS_OF}", "city")["tasks"]
                 if t["number"] == TASK)
    assert after["milestones"][0]["completed_on"] == "2021-04-20"
    assert [r["percent"] for r in after["reports"]] == [40]
    expect(row11.locator("td.deadlines .tag-error")).to_have_count(1)  # the 6月底 stage is still overdue
    screenshot(page, "plans-city-task")

    # on a due day itself nothing of that day is overdue yet: every row follows the API again
    page.get_by_label("基准日").fill("2021-06-30")
    on_due_day = api_call(site, f"/api/plans/{plan}/tasks?as_of=2021-06-30", "city")
    expect(table).to_contain_text("截至 2021-06-30")
    for task in on_due_day["tasks"]:
        expect(table.locator(f'tbody tr[data-task="{task["id"]}"] td.state')).to_have_text(_tag(task))
    assert next(t for t in on_due_day["tasks"] if t["number"] == 1)["status"] == "推进中"  # due 2021-06-30
    expect(page.get_by_label("实施方案").locator("option:checked")).to_contain_text(
        f"逾期 {sum(t['overdue'] for t in on_due_day['tasks'])} 项")
    _no_errors(page)


def test_county_admin_gets_forms_only_where_the_api_allows(page, site):
    yuzhou = _plan_id(site, "禹州市")
    xuchang = _plan_id(site, "许昌市")
    api = api_call(site, f"/api/plans/{yuzhou}/tasks?as_of={AS_OF}", "changge_admin")
    assert not any(t["may_report"] or t["may_complete"] for t in api["tasks"])  # 禹州's plan, not 长葛's
    login(page, site, "changge_admin", "/work/plans")
    page.goto(site.url(f"/work/plans?as_of={AS_OF}&plan={yuzhou}"))
    table = page.locator("#tasks-table")
    expect(table.locator("tbody tr")).to_have_count(api["count"])
    page.problems.clear()  # the sign-in landing's requests, cut short by the navigation above
    table.locator("tbody tr").first.get_by_role("button").click()
    detail = page.locator("#task-detail")
    expect(detail.locator("#report-denied")).to_be_visible()
    expect(detail.locator("#report-form")).to_have_count(0)
    expect(detail.get_by_role("button", name="记录完成")).to_have_count(0)
    screenshot(page, "plans-changge-yuzhou")

    # on the city plan: the tasks it may report on are exactly the API's "mine"
    page.get_by_label("实施方案").select_option(str(xuchang))
    page.get_by_label("只看本账号可报送的任务").check()
    mine = api_call(site, f"/api/plans/{xuchang}/tasks?as_of={AS_OF}&mine=true", "changge_admin")
    expect(table.locator("tbody tr")).to_have_count(mine["count"])
    table.locator(f'tbody tr[data-task="{mine["tasks"][0]["id"]}"]').get_by_role("button").click()
    expect(detail.locator("#report-form")).to_be_visible()
    _no_errors(page)


# ---- 考评 -----------------------------------------------------------------------------------

SELF = {"plan_revision": 9, "stock_disposal": 10, "supply_list": 4}       # 魏都产业集聚区's self-assessment
OFFICE = {  # the office's scores: 魏都 confirmed in part (the rest counts as self-assessed)
    "魏都产业集聚区": {"plan_revision": 8, "spatial_plan": 7},
    "长葛市产业集聚区": {"plan_revision": 10, "stock_disposal": 12, "standard_land": 7},
}
ZONE_CODES = {"魏都产业集聚区": "411000-Z10", "长葛市产业集聚区": "411000-Z03"}


def _fill(form, scores: dict) -> None:
    for item, value in scores.items():
        form.locator(f'input[data-item="{item}"]').fill(str(value))


def test_kaoping_round_self_assessment_office_scores_publish_and_ranking(page, site, browser, tmp_path):
    from openpyxl import load_workbook

    url = f"/work/kaoping?year={YEAR}"
    login(page, site, "weidu_zone", url)
    expect(page.locator("#ranking-note")).to_contain_text("尚未发布")
    expect(page.locator("#office-panel")).to_be_hidden()
    form = page.locator("#self-forms form")
    expect(form).to_have_count(1)
    expect(form).to_contain_text("魏都产业集聚区")
    # out of range: the problem is next to the item's input, nothing saved
    _fill(form, {"plan_revision": 12})
    form.get_by_role("button", name="提交自评").click()
    expect(form.locator(".field-problem")).to_contain_text("满分 10 分")
    expect(form.locator('input[data-item="plan_revision"]')).to_have_attribute("aria-invalid", "true")

    # a second window of the same unit saves first: this one gets the 409 and the current version
    other = new_page(browser)
    try:
        login(other, site, "weidu_zone", url)
        other_form = other.locator("#self-forms form")
        _fill(other_form, {"plan_revision": 6})
        other_form.get_by_role("button", name="提交自评").click()
        expect(other.locator("#message")).to_contain_text("已提交")
    finally:
        other.context.close()
    _fill(form, SELF)
    form.get_by_role("button", name="提交自评").click()
    expect(page.locator("#message")).to_contain_text("已被他人修改")
    form = page.locator("#self-forms form")
    expect(form).to_have_attribute("data-version", "1")
    expect(form.locator('input[data-item="plan_revision"]')).to_have_value("6")
    _fill(form, SELF)
    form.get_by_role("button", name="提交自评").click()
    expect(page.locator("#message")).to_contain_text("已提交魏都产业集聚区的自评")
    expect(page.locator("#self-forms form")).to_have_attribute("data-version", "2")
    screenshot(page, "kaoping-zone-self")
    _no_errors(page)

    # the office scores two zones and publishes
    city = new_page(browser)
    try:
        city.on("dialog", lambda d: d.accept())
        login(city, site, "city", url)
        expect(city.locator("#ranking-zone")).to_be_visible()  # the draft ranking, for the city only
        for name, scores in OFFICE.items():
            city.get_by_label("考评对象").select_option(f"zone/{ZONE_CODES[name]}")
            office_form = city.locator("#office-form form")
            expect(office_form).to_contain_text(name)
            _fill(office_form, scores)
            office_form.get_by_role("button", name="提交评分").click()
            expect(city.locator("#message")).to_contain_text(f"已提交{name}的评分")
        city.get_by_role("button", name="发布考评结果").click()
        expect(city.locator("#message")).to_have_text("考评结果已发布")
        expect(city.locator("#round-state")).to_contain_text("已发布")
        expect(city.get_by_role("button", name="发布考评结果")).to_have_count(0)

        # the ranking: totals = office score where given, else the self-assessment (independent sum)
        weidu = {**SELF, **OFFICE["魏都产业集聚区"]}
        expected = {"魏都产业集聚区": sum(weidu.values()), "长葛市产业集聚区": sum(OFFICE["长葛市产业集聚区"].values())}
        assert expected == {"魏都产业集聚区": 29, "长葛市产业集聚区": 29}  # a tie: both rank 1
        zone = city.locator("#ranking-zone tbody tr")
        names = zone.locator("td.name").all_inner_texts()
        totals = [float(t) for t in zone.locator("td.total").all_inner_texts()]
        ranks = [int(r) for r in zone.locator("td.rank").all_inner_texts()]
        assert totals == sorted(totals, reverse=True)
        assert set(names[:2]) == set(expected) and totals[:2] == [29.0, 29.0] and ranks[:3] == [1, 1, 3]
        planning = city.locator('#ranking-zone tbody tr[data-code="411000-Z10"] td').nth(3)
        expect(planning).to_have_text("15")  # 规划引领及实施: office 8 + 7
        expect(city.locator("#interview-table")).to_contain_text("魏都产业集聚区")  # below 60 points
        with city.expect_download() as info:
            city.get_by_role("link", name="下载排名 Excel").click()
        path = tmp_path / "ranking.xlsx"
        info.value.save_as(path)
        cells = {str(c) for ws in load_workbook(path).worksheets for r in ws.iter_rows(values_only=True) for c in r}
        assert {"魏都产业集聚区", "长葛市产业集聚区"} <= cells
        screenshot(city, "kaoping-city-published")
        _no_errors(city)
    finally:
        city.context.close()

    # a county admin: the published ranking, its own (closed) self-assessment, no office form
    county = new_page(browser)
    try:
        login(county, site, "weidu_admin", url)
        expect(county.locator("#ranking-zone tbody tr").first).to_be_visible()
        api = api_call(site, f"/api/kaoping/{YEAR}/ranking", "weidu_admin")
        for cat, rows in api["rankings"].items():
            expect(county.locator(f"#ranking-{cat} tbody tr")).to_have_count(len(rows))
        expect(county.locator("#office-panel")).to_be_hidden()
        expect(county.locator("#self-forms form")).to_contain_text("魏都区")
        expect(county.locator("#self-forms")).to_contain_text("本轮已发布")
        expect(county.get_by_role("button", name="提交自评")).to_have_count(0)
        expect(county.get_by_role("button", name="发布考评结果")).to_have_count(0)
        _no_errors(county)
    finally:
        county.context.close()


# ---- 增存挂钩 -------------------------------------------------------------------------------

def test_quota_preview_store_and_read(page, site, browser):
    login(page, site, "city", f"/work/quota?year={YEAR}")
    expect(page.locator("#run-note")).to_contain_text(f"{YEAR} 年度尚未分配")
    page.get_by_role("button", name="保存分配").click()  # no total: refused next to the field
    expect(page.locator("#total_mu[aria-invalid='true']")).to_be_visible()
    page.get_by_label("指标总量（亩）").fill("3000")
    page.get_by_label("统计日期").fill("2021-06-30")  # the ledger as it stood that day (the demo year)
    page.get_by_role("button", name="试算（不保存）").click()
    expect(page.locator("#preview-table-total")).to_have_text("3,000")
    expect(page.locator("#preview-body caption")).to_contain_text("数据截至 2021-06-30")
    past = api_call(site, f"/api/quota/{YEAR}/preview?total_mu=3000&as_of=2021-06-30", "city")
    for c in past["counties"]:
        expect(page.locator(f'#preview-table tr[data-code="{c["code"]}"] td.allocated')).to_have_text(
            f"{c['allocated_mu']:,.0f}")
    page.get_by_label("统计日期").fill("")
    expect(page.locator("#run-note")).to_be_visible()  # nothing stored by the preview
    page.get_by_label("分配依据或说明").fill("2023 年度新增建设用地计划指标")
    page.get_by_role("button", name="保存分配").click()
    expect(page.locator("#allocate-message")).to_contain_text("已保存")
    stored = api_call(site, f"/api/quota/{YEAR}", "city")
    assert stored["total_mu"] == 3000 and len(stored["runs"]) == 1
    assert sum(c["allocated_mu"] for c in stored["counties"]) == 3000
    rows = page.locator("#run-table tbody tr")
    expect(rows).to_have_count(len(stored["counties"]))
    for c in stored["counties"]:
        expect(page.locator(f'#run-table tr[data-code="{c["code"]}"] td.allocated')).to_have_text(
            f"{c['allocated_mu']:,.0f}")
    expect(page.locator("#run-table-total")).to_have_text("3,000")
    expect(page.locator("#run-body .explanation li").first).to_contain_text("3000 亩")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    screenshot(page, "quota-city")
    _no_errors(page)

    county = new_page(browser)
    try:
        login(county, site, "weidu_admin", f"/work/quota?year={YEAR}")
        expect(county.locator("#run-table tbody tr")).to_have_count(len(stored["counties"]))
        expect(county.locator("#allocate-panel")).to_be_hidden()
        _no_errors(county)
    finally:
        county.context.close()
