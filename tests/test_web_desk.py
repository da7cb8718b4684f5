"""台账, 预警 and 驾驶舱 in a real browser (issue 6): a zone manager sees only the zone's parcels,
totals in 亩 equal the API's, the Excel export is a valid ledger of the filtered set, warnings
are the jurisdiction's, and the dashboard's ECharts charts are drawn. These tests only read."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from browser import login, screenshot

pytestmark = pytest.mark.slow

DEMO_DAY = "2021-06-30"  # the demo world's frozen day (services.demo.DEMO_AS_OF)


def _api(page, site, path):
    r = page.request.get(site.url(path))
    assert r.ok, (path, r.status, r.text())
    return r.json()


def _watch(page):
    """Record the URLs answered with an error (the console's 404 message names none)."""
    page.bad_responses = []
    page.on("response", lambda r: page.bad_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None)


def _no_problems(page):
    bad = [b for b in page.bad_responses if not b.endswith("/favicon.ico")]
    assert not bad, bad
    assert not [p for p in page.problems if "Failed to load resource" not in p], page.problems


def test_ledger_as_zone_manager_lists_the_zone_totals_in_mu_and_exports_excel(page, web_site, tmp_path):
    from openpyxl import load_workbook

    _watch(page)
    login(page, web_site, "weidu_zone", "/work/ledgers?kind=inefficient")
    expect(page.get_by_role("button", name="低效")).to_have_attribute("aria-pressed", "true")
    table = page.locator("#ledger-table")
    expect(table.locator("tbody tr").first).to_be_visible()
    api = _api(page, web_site, "/api/parcels?state=inefficient&limit=1000")
    assert api["numberMatched"] > 0
    assert {f["properties"]["zone_name"] for f in api["features"]} == {"魏都产业集聚区"}
    # only 魏都 parcels in the page, as many rows as the API says (one page of 50 is enough here)
    zones = table.locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert zones and set(zones) == {"魏都产业集聚区"}
    assert len(zones) == min(50, api["numberMatched"])
    # totals: the whole filtered set in 亩, equal to the API's sum
    expect(page.locator("#total-count")).to_have_text(str(api["numberMatched"]))
    shown_mu = float(page.locator("#total-mu").get_attribute("data-mu"))
    assert shown_mu == pytest.approx(sum(f["properties"]["area_mu"] for f in api["features"]), abs=0.01)
    assert shown_mu == pytest.approx(api["totalAreaMu"], abs=1e-6)
    expect(page.locator("#total-mu")).to_contain_text("亩")

    # narrow to one 低效类别: the list, the totals and the export follow
    counts = {}
    for f in api["features"]:
        for value, label in zip(f["properties"]["inefficiency_categories"], f["properties"]["inefficiency_labels"]):
            counts[(value, label)] = counts.get((value, label), 0) + 1
    (value, label), n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    assert 0 < n < api["numberMatched"]
    page.get_by_label("低效类别").select_option(label=label)
    cat = _api(page, web_site, f"/api/parcels?state=inefficient&category={value}&limit=1000")
    assert cat["numberMatched"] == n
    expect(page.locator("#total-count")).to_have_text(str(n))
    expect(table.locator("caption")).to_contain_text(label)
    screenshot(page, "ledgers-weidu-inefficient")

    try:
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="导出 Excel").click()
    except Exception:
        raise AssertionError(page.locator("#message").inner_text()) from None
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".xlsx")
    expect(page.locator("#message")).to_have_text(f"已导出 {n} 宗")
    path = tmp_path / "ledger.xlsx"
    download.save_as(path)
    rows = list(load_workbook(path)["宗地台账"].iter_rows(values_only=True))
    assert rows[0][:9] == ("宗地代码", "坐落", "所属县(市、区)", "产业集聚区", "土地用途", "土地状态", "低效类别",
                           "面积(平方米)", "面积(亩)")
    data = rows[1:-1]
    assert rows[-1][0] == "合计" and len(data) == cat["numberMatched"]
    assert {r[0] for r in data} == {f["id"] for f in cat["features"]}
    assert {r[3] for r in data} == {"魏都产业集聚区"}
    assert all(label in r[6] for r in data)

    # sorting by area (descending on the second click) and opening a card from the row
    page.get_by_role("button", name="面积（亩）").click()
    expect(page.locator("th[aria-sort='ascending']")).to_contain_text("面积")
    page.get_by_role("button", name="面积（亩）").click()
    expect(page.locator("th[aria-sort='descending']")).to_contain_text("面积")
    areas = [float(t.replace(",", "")) for t in table.locator("tbody td.num").all_inner_texts()]
    assert areas == sorted(areas, reverse=True)
    first = table.locator("tbody tr td.code a").first
    code = first.inner_text()
    _no_problems(page)
    first.click()
    page.wait_for_url(re.compile(rf"/work/parcels/{code}$"))


def test_ledger_switches_to_idle_and_unsupplied(page, web_site):
    _watch(page)
    login(page, web_site, "weidu_zone", "/work/ledgers")
    for label, state in (("批而未供", "approved_unsupplied"), ("闲置", "idle")):
        page.get_by_role("button", name=label, exact=True).click()
        api = _api(page, web_site, f"/api/parcels?state={state}&limit=1")
        expect(page.locator("#total-count")).to_have_text(str(api["numberMatched"]))
        expect(page.get_by_label("低效类别")).to_be_hidden()
        states = set(page.locator("#ledger-table tbody tr td:nth-child(5)").all_inner_texts())
        assert states == {label}
    screenshot(page, "ledgers-weidu-idle")
    _no_problems(page)


def test_ledger_as_city_filters_by_county_and_zone(page, web_site):
    _watch(page)
    login(page, web_site, "city", "/work/ledgers?kind=inefficient")
    expect(page.locator("#ledger-table tbody tr").first).to_be_visible()
    page.get_by_label("县（市、区）").select_option(label="长葛市")
    api = _api(page, web_site, "/api/parcels?state=inefficient&county=411082&limit=1000")
    expect(page.locator("#total-count")).to_have_text(str(api["numberMatched"]))
    assert set(page.locator("#ledger-table tbody tr td:nth-child(3)").all_inner_texts()) == {"长葛市"}
    offered = [o for o in page.locator("#zone option").evaluate_all("os => os.filter(o => !o.hidden).map(o => o.text)")]
    assert offered == ["全部", "长葛市产业集聚区", "长葛市大周再生金属循环产业集聚区"]
    page.get_by_label("产业集聚区").select_option(label="长葛市产业集聚区")
    zone = _api(page, web_site, "/api/parcels?state=inefficient&county=411082&zone=长葛市产业集聚区&limit=1000")
    expect(page.locator("#total-count")).to_have_text(str(zone["numberMatched"]))
    assert float(page.locator("#total-mu").get_attribute("data-mu")) == pytest.approx(zone["totalAreaMu"])
    assert set(page.locator("#ledger-table tbody tr td:nth-child(4)").all_inner_texts()) == {"长葛市产业集聚区"}
    assert "county=411082" in page.url  # the view is bookmarkable
    screenshot(page, "ledgers-city-changge")
    _no_problems(page)


def test_warnings_show_overdue_and_upcoming_items_of_the_jurisdiction_only(page, web_site):
    _watch(page)
    login(page, web_site, "weidu_zone", f"/work/warnings?as_of={DEMO_DAY}")
    rows = page.locator("#warnings-table tbody tr")
    expect(rows.first).to_be_visible()
    api = _api(page, web_site, f"/api/warnings?as_of={DEMO_DAY}&limit=1000")
    assert api["total"] > 0
    city = _api(page, web_site, f"/api/warnings?as_of={DEMO_DAY}&limit=1000&zone=长葛市产业集聚区")
    assert city["total"] == 0  # a zone manager asking for another zone gets nothing of it
    codes = set(rows.evaluate_all("rs => rs.map(r => r.dataset.code)"))
    assert codes <= {i["parcel_code"] for i in api["items"]}
    zones = set(page.locator("#warnings-table tbody tr td:nth-child(7)").all_inner_texts())
    assert zones == {"魏都产业集聚区"}
    # overdue first (most overdue at the top)
    assert rows.first.get_attribute("data-severity") == "overdue"
    expect(rows.first).to_contain_text("逾期")
    # a day on which the zone has deadlines ahead too: 10 days before the latest overdue one
    latest = max(date.fromisoformat(i["due_date"]) for i in api["items"])
    day = (latest - timedelta(days=10)).isoformat()
    page.get_by_label("基准日").fill(day)
    expect(page.locator("#summary")).to_contain_text(f"基准日 {day}")
    api = _api(page, web_site, f"/api/warnings?as_of={day}&limit=1000")
    counts = api["counts"]["severity"]
    assert counts["overdue"] > 0 and counts["urgent"] + counts["upcoming"] > 0
    assert {i["zone"] for i in api["items"]} == {"魏都产业集聚区"}
    # the cards count over all warnings, and filter the list
    for value, n in counts.items():
        expect(page.locator(f".warn-card[data-severity='{value}'] .n")).to_have_text(str(n))
    screenshot(page, "warnings-weidu")
    ahead = "upcoming" if counts["upcoming"] else "urgent"
    page.locator(f".warn-card[data-severity='{ahead}']").click()
    expect(page.locator(f".warn-card[data-severity='{ahead}']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#summary")).to_contain_text(f"共 {counts[ahead]} 条")
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.severity)")) == {ahead}
    expect(rows.first).to_contain_text("还剩")
    assert set(page.locator("#warnings-table tbody tr td:nth-child(7)").all_inner_texts()) == {"魏都产业集聚区"}
    screenshot(page, "warnings-weidu-upcoming")
    _no_problems(page)


def test_dashboard_renders_its_charts(page, web_site):
    _watch(page)
    login(page, web_site, "city", "/work")
    page.wait_for_selector("body[data-ready='true']")
    api = _api(page, web_site, "/api/dashboard")
    info = page.evaluate("""() => ['chart-tax', 'chart-class', 'chart-land', 'chart-disposal'].map((id) => {
        const node = document.getElementById(id);
        const chart = echarts.getInstanceByDom(node);
        const canvas = node.querySelector('canvas');
        let inked = 0;
        if (canvas) {
          const ctx = canvas.getContext('2d');
          const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
          for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked++;
        }
        return { id, chart: !!chart, series: chart ? chart.getOption().series.map((s) => s.data.length) : [],
                 width: canvas ? canvas.width : 0, inked };
    })""")
    for c in info:
        assert c["chart"] and c["series"] and all(n > 0 for n in c["series"]), c
        assert c["width"] > 200 and c["inked"] > 2000, c  # drawn, not blank
    tax = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-tax')).getOption().series[0].data"
                        ".map((d) => d.value)")
    assert sorted(v for v in tax if v is not None) == sorted(
        z["tax_per_mu_wan"] for z in api["zones"] if z["tax_per_mu_wan"] is not None)
    # the 消化处置率 card, gauge and table say what the API (the 处置台账's city row) says — whatever the
    # demo's ledger holds
    dr = api["disposal"]
    assert dr["level"] == "city"
    expect(page.locator(".kpi").first).to_contain_text(dr["label"])
    shown = f"{dr['revived_mu']:,.2f}".rstrip("0").rstrip(".")  # as common.js `num` writes it
    expect(page.locator(".kpi").nth(1)).to_contain_text(f"{shown} 亩")
    series = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-disposal')).getOption()"
                           ".series.map((s) => [s.type, s.data.map((d) => (typeof d === 'object' ? d.value : d))])")
    assert ["bar", [round(dr["revived_mu"] * 10) / 10]] in series
    if dr["rate"] is not None:
        assert ["gauge", [round(dr["rate"] * 1000) / 10]] in series
    expect(page.locator("#disposal-ledger-link a")).to_have_attribute("href", "/work/disposal")
    expect(page.locator("#disposal-table")).to_contain_text(dr["definition"][:20])
    # text alternatives: the tables behind the charts
    page.get_by_text("数据表").first.click()
    expect(page.locator("#tax-table table")).to_contain_text("魏都产业集聚区")
    assert page.locator("#chart-tax").get_attribute("role") == "img"
    screenshot(page, "dashboard-city")
    _no_problems(page)


def test_dashboard_of_a_zone_manager_is_the_zone_only(page, web_site):
    _watch(page)
    login(page, web_site, "weidu_zone", "/work")
    page.wait_for_selector("body[data-ready='true']")
    names = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-tax')).getOption()"
                          ".yAxis[0].data")
    assert names == ["魏都产业集聚区"]
    land = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-land')).getOption()"
                         ".yAxis[0].data")
    assert land == ["魏都产业集聚区"]
    expect(page.locator("#main")).not_to_contain_text("长葛")
    screenshot(page, "dashboard-weidu-zone")
    _no_problems(page)
