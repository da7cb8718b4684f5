"""云上看地 and the workbench map in a real browser (issue 6): the public portal filters the
published supply list and opens a parcel's page — with nothing confidential in any page text
or in any response of the session — the map draws the parcels, a phone works, and the
workbench map shows a zone manager only their zone, restyled by state / 低效类别 / A-B-C."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request

import pytest
from browser import PHONE_SCREEN, login, new_page, screenshot
from playwright.sync_api import expect
from sqlalchemy import select

pytestmark = pytest.mark.slow

CREDIT_CODE = re.compile(rb"\b[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}\b")
#: JSON keys of confidential data (DOMAIN.md §1) and of enterprises / people.
CONFIDENTIAL_KEYS = (b'"credit_code"', b'"tax_paid"', b'"tax_per_mu_wan"', b'"output_per_mu_wan"', b'"revenue"',
                     b'"figures"', b'"enterprise', b'"owner', b'"contract_no"', b'"actor"', b'"eval_class"')
#: What the public pages may ask the server for.
PUBLIC_PATHS = re.compile(r"^/(|land/[^/]+|static/.+|tiles/(supply|counties|zones)(\.json|/\d+/\d+/\d+\.mvt)|"
                          r"api/(supply(/[^/]+)?|jurisdictions|config|auth/me))$")
#: Rendered parcels of the map (window.landcycleMap, exposed for tests by mapkit.js).
RENDERED = "() => { const m = window.landcycleMap; return m && m.getLayer('parcels-fill') ? " \
           "[...new Set(m.queryRenderedFeatures({layers: ['parcels-fill']}).map(f => f.properties.code))] : []; }"


def _get(site, path: str, **params):
    url = site.url(path) + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def secrets(web_site):
    """Every enterprise's credit code and name in the demo (none may reach a public page)."""
    from landcycle.storage.db import Database
    from landcycle.storage.schema import Enterprise

    db = Database(web_site.database_url)
    try:
        with db.reader() as s:
            rows = s.execute(select(Enterprise.credit_code, Enterprise.name)).all()
    finally:
        db.dispose()
    return {"codes": {c for c, _ in rows}, "names": [n for _, n in rows]}


def _record_responses(page) -> list:
    """Every response of the page's session with its body, read as it arrives (a later
    navigation would discard it)."""
    responses = []

    def keep(r):
        try:
            body = r.body() if r.request.method == "GET" and r.status not in (204, 301, 302, 304) else b""
        except Exception:  # noqa: BLE001 - a body the browser already dropped (aborted tile)
            body = None
        responses.append((r, body))

    page.on("response", keep)
    return responses


def _assert_nothing_confidential(texts: list[str], responses: list, secrets) -> None:
    for text in texts:
        assert not CREDIT_CODE.findall(text.encode()), "credit code on a public page"
        assert not [n for n in secrets["names"] if n in text], "enterprise name on a public page"
        # The only 税收 shown is the 标准地 commitment a buyer must meet (a published condition
        # of sale, 000:952), never a figure of an enterprise.
        for m in re.finditer("税收", text):
            assert text[max(0, m.start() - 2):m.end()] == "亩均税收" and "≥" in text[m.end():m.end() + 40], \
                text[max(0, m.start() - 30):m.end() + 30]
    names = re.compile("|".join(map(re.escape, secrets["names"])))
    checked = 0
    for r, body in responses:
        if not r.url.startswith(("blob:", "data:")):  # MapLibre's own worker script
            path = urllib.parse.urlsplit(r.url).path
            assert PUBLIC_PATHS.match(path), f"the public page asked for {r.url}"
        if not body:
            continue
        checked += 1
        found = {c.decode() for c in CREDIT_CODE.findall(body)} & secrets["codes"]
        assert not found, f"{r.url} carries credit codes {sorted(found)[:2]}"
        for key in CONFIDENTIAL_KEYS:
            assert key not in body, f"{r.url} carries {key.decode()}"
        name = names.search(body.decode("utf-8", errors="replace"))
        assert not name, f"{r.url} names the enterprise {name.group(0)}"
    assert checked > 10  # pages, scripts, API answers and tiles were all looked at


def _real_problems(page) -> list[str]:
    """Console errors and failed requests, less the expected: tiles the map stops loading
    when the view moves on (ERR_ABORTED) and the 401 of /api/auth/me for the anonymous."""
    return [p for p in page.problems if "ERR_ABORTED" not in p and "401" not in p]


def _wait_rendered(page, code: str | None = None):
    if code:
        page.wait_for_function(f"code => ({RENDERED})().includes(code)", arg=code, timeout=20_000)
    else:
        page.wait_for_function(f"() => ({RENDERED})().length > 0", timeout=20_000)
    return page.evaluate(RENDERED)


def test_portal_filters_and_opens_a_parcel_with_nothing_confidential(page, web_site, secrets):
    responses = _record_responses(page)
    everything = _get(web_site, "/api/supply", limit=1000)["items"]
    # A county and an area range that select some, but not all, of that county's parcels.
    first = everything[0]
    county = [i for i in everything if i["county_code"] == first["county_code"]]
    low = 10
    high = int(max(i["area_mu"] for i in county)) + 1  # the list rounds areas to 0.01 亩
    if len(county) > 1:  # leave the smallest out where there is more than one
        high = int(sorted(i["area_mu"] for i in county)[-2]) + 1 if len({i["area_mu"] for i in county}) > 1 else high
    expected = sorted(i["code"] for i in county if low <= i["area_mu"] <= high)
    assert expected

    page.goto(web_site.url("/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("可供土地清单")
    expect(page.locator(".supply-item")).to_have_count(min(20, len(everything)))
    page.get_by_label("县区").select_option(first["county_code"])
    page.get_by_label("面积下限（亩）").fill(str(low))
    page.get_by_label("面积上限（亩）").fill(str(high))
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(f"max_mu={high}"))
    expect(page.locator("#result-summary")).to_contain_text(f"共 {len(expected)} 宗")
    expect(page.locator(".supply-item")).to_have_count(min(20, len(expected)))
    shown = page.locator(".supply-item").evaluate_all("els => els.map(e => e.dataset.code)")
    assert shown == expected[:20]
    assert "county=" in page.url and "min_mu=10" in page.url  # the view can be shared

    # Keyboard: the entry's locate button is a real button; Enter zooms to the parcel.
    target = shown[0]
    locate = page.locator(f'.supply-item[data-code="{target}"] .supply-locate')
    locate.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f'.supply-item[data-code="{target}"]')).to_have_class(re.compile("is-selected"))
    drawn = _wait_rendered(page, target)
    assert set(drawn) <= set(expected) | {i["code"] for i in everything}  # only listed parcels on the map
    page.wait_for_timeout(800)  # the zoom animation ends
    screenshot(page, "portal-office", full_page=False)

    page.locator(f'.supply-item[data-code="{target}"]').get_by_role("link", name=re.compile("查看详情")).click()
    page.wait_for_url(web_site.url(f"/land/{target}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"可供宗地 {target}")
    body = page.locator("#land-body")
    for label in ("面积", "容积率", "建筑密度", "绿地率", "建筑限高", "土地来源", "适宜产业", "供地方式",
                  "预计价格（起始价）", "供地条件", "供应程序", "供地周期", "咨询电话"):
        expect(body).to_contain_text(label)
    expect(body).to_contain_text("亩")
    expect(page.get_by_role("button", name="打印本页")).to_be_visible()
    _wait_rendered(page, target)
    page.wait_for_timeout(500)
    screenshot(page, "land-page")
    portal_text = page.evaluate("document.body.innerText")
    page.goto(web_site.url("/"))
    expect(page.locator(".supply-item").first).to_be_visible()
    _assert_nothing_confidential([portal_text, page.evaluate("document.body.innerText")], responses, secrets)
    assert not _real_problems(page), page.problems


def test_a_signed_in_official_sees_the_same_public_portal(page, web_site):
    login(page, web_site, "weidu_zone", "/")
    expect(page.locator(".supply-item").first).to_be_visible()
    total = _get(web_site, "/api/supply")["total"]
    expect(page.locator("#result-summary")).to_contain_text(f"共 {total} 宗")
    expect(page.get_by_role("navigation", name="主导航").get_by_role("link", name="宗地地图")).to_be_visible()


def test_the_portal_on_a_phone(browser, web_site):
    page = new_page(browser, viewport=PHONE_SCREEN)
    try:
        page.goto(web_site.url("/"))
        expect(page.locator(".supply-item").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]
        # stacked: filters, then the map, then the list
        filters, map_box, first = (page.locator(s).bounding_box() for s in ("#supply-filters", "#map", ".supply-item >> nth=0"))
        assert filters["y"] < map_box["y"] < first["y"] and map_box["width"] >= 380
        screenshot(page, "portal-phone", full_page=False)
        code = page.locator(".supply-item").first.get_attribute("data-code")
        page.locator(".supply-locate").first.click()
        _wait_rendered(page, code)
        page.wait_for_timeout(800)
        screenshot(page, "portal-phone-parcel", full_page=False)
        page.locator(".supply-item").first.get_by_role("link", name=re.compile("查看详情")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"可供宗地 {code}")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]
    finally:
        page.context.close()


def test_a_parcel_not_on_the_list_has_no_public_page(page, web_site):
    page.goto(web_site.url("/land/411002999999GB99999"))
    expect(page.get_by_role("heading", level=1)).to_have_text("未找到可供宗地")
    expect(page.locator("#land-message")).to_contain_text("不在已公布的可供土地清单上")


def _click_a_parcel(page):
    """Click the middle of a drawn parcel; returns its code."""
    point = page.evaluate("""() => {
        const m = window.landcycleMap;
        const f = m.queryRenderedFeatures({layers: ['parcels-fill']})[0];
        const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
        const xs = ring.map(p => p[0]), ys = ring.map(p => p[1]);
        const c = m.project([(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2]);
        const r = m.getCanvas().getBoundingClientRect();
        return {x: r.left + c.x, y: r.top + c.y, code: f.properties.code};
    }""")
    page.mouse.click(point["x"], point["y"])
    return point["code"]


def test_the_workbench_map_shows_a_zone_manager_only_their_zone_in_three_styles(page, web_site):
    missing = []
    page.on("response", lambda r: missing.append(urllib.parse.urlsplit(r.url).path) if r.status == 404 else None)
    login(page, web_site, "weidu_zone", "/work/map")
    expect(page.get_by_role("heading", level=1)).to_have_text("宗地地图")
    codes = _wait_rendered(page)
    zones = page.evaluate("""() => [...new Set(window.landcycleMap.queryRenderedFeatures({layers: ['parcels-fill']})
                                     .map(f => f.properties.zone_name))]""")
    assert zones == ["魏都产业集聚区"] and len(codes) > 5
    legend = page.locator("#legend")
    expect(legend).to_contain_text("正常运营")
    screenshot(page, "workmap-state", full_page=False)

    page.get_by_role("radio", name="低效类别").check()
    expect(legend).to_contain_text("停建缓建类")
    expect(legend).not_to_contain_text("正常运营")
    page.wait_for_timeout(500)
    screenshot(page, "workmap-category", full_page=False)
    page.get_by_role("radio", name="企业分类(A/B/C)").check()
    expect(legend).to_contain_text("A类（优先发展类）")
    expect(legend).to_contain_text("无评价")
    page.wait_for_timeout(500)
    screenshot(page, "workmap-class", full_page=False)
    page.get_by_role("radio", name="状态", exact=True).check()
    expect(legend).to_contain_text("正常运营")

    # A click opens a popup with the card's link.
    code = _click_a_parcel(page)
    popup = page.locator(".maplibregl-popup")
    expect(popup).to_contain_text(f"宗地 {code}")
    expect(popup.get_by_role("link", name="一宗一卡")).to_have_attribute("href", f"/work/parcels/{code}")
    screenshot(page, "workmap-popup", full_page=False)

    # A listed parcel of another zone exists on the public layer, but not on this map.
    other = next(i for i in _get(web_site, "/api/supply", limit=1000)["items"] if i["zone_name"] != "魏都产业集聚区")
    w, s, e, n = other["bbox"]
    page.evaluate("b => window.landcycleMap.jumpTo({center: [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2], zoom: 15})",
                  [w, s, e, n])
    page.wait_for_function("() => window.landcycleMap.loaded() && window.landcycleMap.areTilesLoaded()")
    page.wait_for_timeout(500)
    assert other["code"] not in page.evaluate(RENDERED)
    assert set(missing) <= {"/favicon.ico"}, missing  # (the sign-in page has no icon)
    assert not [p for p in _real_problems(page) if "404" not in p], page.problems
