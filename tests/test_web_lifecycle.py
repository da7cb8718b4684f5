"""一宗一卡's 生命周期 panel in a real browser: a zone manager lists a 批而未供 parcel for supply
(documents checked in place, a concurrent edit answered by the card's conflict view), then
sees the next step refused with its reasons; a city department sees the steps taken, no forms;
the print view keeps the steps taken and drops the forms.

Edits one 长葛 parcel that no other browser test uses.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from browser import ARTIFACTS, login

pytestmark = pytest.mark.slow

LISTED = "411082103006GB00004"  # 长葛市产业集聚区, 批而未供 in the default demo; edited only here


def api_call(site, path: str, username: str, method: str = "GET", body: dict | None = None,
             version: int | None = None) -> dict:
    """Call the API as ``username`` (bearer token), independent of the browser."""
    login_body = json.dumps({"username": username, "password": site.passwords[username]}).encode()
    req = urllib.request.Request(site.url("/api/auth/login"), data=login_body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        token = json.loads(r.read())["token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    req = urllib.request.Request(site.url(path), method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def open_card(page, site, username: str) -> None:
    login(page, site, username, f"/work/parcels/{LISTED}")
    expect(page.get_by_role("heading", name=f"一宗一卡 · {LISTED}")).to_be_visible()
    expect(page.locator("#sec-history")).to_be_visible()


def test_zone_manager_lists_a_parcel_then_sees_the_next_step_refused(page, web_site):
    start = api_call(web_site, f"/api/parcels/{LISTED}/transitions", "changge_zone")
    assert start["state"] == "approved_unsupplied" and start["history"] == []
    open_card(page, web_site, "changge_zone")
    panel = page.locator("#sec-lifecycle")
    expect(panel.locator(".life-state")).to_contain_text("当前状态：批而未供")
    step = panel.locator('.life-step[data-key="list_for_supply"]')
    expect(step).to_contain_text("纳入供地清单 → 可供")
    expect(step).to_contain_text("现在可以办理")
    expect(step).to_contain_text("年度可供土地清单批准文件")

    # 1. the form: a document without 文号 and date is refused next to its inputs, nothing changed
    step.get_by_role("button", name="办理：纳入供地清单").click()
    form = page.get_by_role("form", name="办理：纳入供地清单")
    expect(form.get_by_role("group", name="年度可供土地清单批准文件")).to_be_visible()
    form.get_by_label("文件名称").fill("长葛市2026年度可供土地清单")
    form.get_by_role("button", name="提交办理").click()
    expect(form.get_by_label("文号")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("日期")).to_have_attribute("aria-invalid", "true")
    assert api_call(web_site, f"/api/parcels/{LISTED}", "city")["parcel"]["version"] == start["version"]
    form.screenshot(path=str(ARTIFACTS / "screenshots" / "card-lifecycle-form.png"))

    # 2. meanwhile someone else edits the parcel: the card's conflict view, then resubmit
    api_call(web_site, f"/api/parcels/{LISTED}", "changge_admin", "PATCH",
             {"location": "长葛市产业集聚区宏图路与丰源大道交叉口西北角（核对）", "reason": "核对坐落"},
             version=start["version"])
    form.get_by_label("文号").fill("长政〔2026〕3号")
    form.get_by_label("日期").fill("2026-03-01")
    form.get_by_label("办理原因（记入流转记录和一地一档）").fill("列入年度供地计划")
    form.get_by_role("button", name="提交办理").click()
    conflict = form.locator(".conflict")
    expect(conflict).to_contain_text("该记录已被他人修改")
    expect(conflict.locator("tr").filter(has_text="土地状态").locator("td.col-mine")).to_have_text("可供")
    form.screenshot(path=str(ARTIFACTS / "screenshots" / "card-lifecycle-conflict.png"))
    conflict.get_by_role("button", name="在当前版本上重新提交").click()
    expect(form.locator(".edit-version")).to_contain_text(f"第 {start['version'] + 1} 版")
    expect(form.get_by_label("文号")).to_have_value("长政〔2026〕3号")  # kept
    form.get_by_role("button", name="提交办理").click()

    # 3. done: the card reloads with the new state, the step in the list, the next step refused
    expect(page.locator("#card-message")).to_contain_text("已办理“纳入供地清单”：批而未供 → 可供")
    expect(panel.locator(".life-state")).to_contain_text("当前状态：可供")
    expect(page.locator("#card-subtitle")).to_contain_text("可供")
    past = panel.locator(".life-history .history-item")
    expect(past).to_have_count(1)
    expect(past.first).to_contain_text("批而未供 → 可供")
    expect(past.first).to_contain_text("办理人：changge_zone")
    expect(past.first).to_contain_text("原因：列入年度供地计划")
    expect(past.first).to_contain_text("年度可供土地清单批准文件：长葛市2026年度可供土地清单（长政〔2026〕3号，2026-03-01）")
    supply = panel.locator('.life-step[data-key="supply"]')
    expect(supply).to_contain_text("暂不能办理")
    expect(supply.locator(".life-reasons")).to_contain_text("只能由市级管理员、县(市、区)管理员办理")
    expect(supply.locator(".life-reasons")).to_contain_text("000:998")
    expect(supply.get_by_role("button")).to_have_count(0)
    # the 一地一档 has the state change with its actor
    expect(page.locator("#sec-history .history-item").last).to_contain_text("操作人：changge_zone")
    panel.screenshot(path=str(ARTIFACTS / "screenshots" / "card-lifecycle.png"))

    after = api_call(web_site, f"/api/parcels/{LISTED}/transitions", "city")
    assert after["state"] == "listed" and after["version"] == start["version"] + 2
    assert [(h["transition"], h["actor"]) for h in after["history"]] == [("list_for_supply", "changge_zone")]

    # print: the steps taken print, the next steps and forms do not
    page.emulate_media(media="print")
    expect(panel.locator(".life-history")).to_be_visible()
    expect(panel.locator(".life-next")).to_be_hidden()
    allowed = ("status of 404", "status of 409", "status of 422")
    assert not [p for p in page.problems if not any(a in p for a in allowed)], page.problems


def test_a_department_sees_the_steps_taken_but_no_forms(page, web_site):
    open_card(page, web_site, "tax_city")
    panel = page.locator("#sec-lifecycle")
    expect(panel.locator(".life-state")).to_contain_text(re.compile("当前状态：(批而未供|可供)"))
    expect(panel).to_contain_text("流转记录")
    expect(panel.locator(".life-next")).to_have_count(0)
    expect(panel.get_by_role("button")).to_have_count(0)
    expect(page.locator("form")).to_have_count(0)
