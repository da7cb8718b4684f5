"""The web pages' shell in a real browser: routes, sign-in and out, the workbench gate."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser import login, screenshot

pytestmark = pytest.mark.slow


def test_workbench_pages_send_anonymous_visitors_to_login(page, web_site):
    page.goto(web_site.url("/work/ledgers"))
    page.wait_for_url(re.compile(r"/login\?next=%2Fwork%2Fledgers$"))
    expect(page.get_by_role("heading", name="登录管地工作台")).to_be_visible()


def test_wrong_password_is_refused_in_chinese_and_nothing_is_signed_in(page, web_site):
    page.goto(web_site.url("/login"))
    page.get_by_label("账号").fill("weidu_zone")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    alert = page.locator("#login-message")
    alert.wait_for(state="visible")
    assert "用户名或密码错误" in alert.inner_text()
    assert not any(c["name"] == "landcycle_session" for c in page.context.cookies())


def test_sign_in_shows_the_workbench_navigation_and_sign_out_ends_it(page, web_site):
    login(page, web_site, "weidu_zone")
    nav = page.get_by_role("navigation", name="主导航")
    for label in ("驾驶舱", "宗地地图", "宗地台账", "预警", "标图入库"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    expect(page.locator(".app-user")).to_contain_text("魏都产业集聚区")
    screenshot(page, "workbench-home")
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(web_site.url("/"))
    page.goto(web_site.url("/work"))
    page.wait_for_url(re.compile(r"/login"))


def test_login_never_redirects_off_site(page, web_site):
    page.goto(web_site.url("/login?next=//evil.example/"))
    page.get_by_label("账号").fill("weidu_zone")
    page.get_by_label("密码").fill(web_site.passwords["weidu_zone"])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(web_site.url("/work"))


def test_pages_carry_a_content_security_policy_without_cdn(web_site):
    import urllib.request

    with urllib.request.urlopen(web_site.url("/login")) as r:
        csp = r.headers["Content-Security-Policy"]
        html = r.read().decode()
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "http" not in re.sub(r"https?://127\.0\.0\.1[^\"']*", "", html.split("<body>")[0])
