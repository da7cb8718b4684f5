"""Real-browser tests: Playwright (Python) driving Debian's ``chromium`` against a live server.

Fixtures (registered from conftest.py through ``pytest_plugins``):

* ``web_site`` (session): a SQLite store with the default demo (≈600 parcels, every state and
  低效 category), its latest year evaluated, the test accounts of ``conftest.ACCOUNTS``
  (password ``conftest.PASSWORD``), served by ``landcycle serve`` on a free loopback port.
  Tests that change data must change records no other test reads (each picks its own parcel).
* ``browser`` (session): Debian's chromium, headless, with the flags these closed machines need;
  a test tool's own browser download does not work here.
* ``page`` (function): a fresh context (1366×768, zh-CN, no cookies) and page; console errors
  and failed requests are collected in ``page.problems`` for the test to assert on.
* ``login(page, username)``: sign in through the login form.
* ``screenshot(page, name)``: save a PNG under ``test-artifacts/screenshots/`` (look at them).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from live import live_server

CHROMIUM = os.environ.get("LANDCYCLE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(os.environ.get("LANDCYCLE_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
OFFICE_SCREEN = {"width": 1366, "height": 768}
PHONE_SCREEN = {"width": 390, "height": 844}


@dataclass
class WebSite:
    """The live demo site of the browser tests."""

    base: str
    database_url: str
    passwords: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture(scope="session")
def web_site(tmp_path_factory):
    from conftest import ACCOUNTS, PASSWORD

    from landcycle.services import accounts, demo, evaluation, setup
    from landcycle.storage.db import Database

    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'web.db'}"
    db = Database(url)
    setup.init_database(db, actor="test")
    demo.generate_demo(db)
    run = evaluation.evaluate(db, demo.DEMO_EVALUATION_YEAR, actor="test")
    demo.generate_demo_year(db, run.run_id)  # as `landcycle demo` does: plans, ledgers, 挂牌督办 (docs/demo.md)
    for name, spec in ACCOUNTS.items():
        accounts.add_user(db, name, PASSWORD, **spec)
    db.dispose()
    env = {"LANDCYCLE_DATA_DIR": str(folder / "data"), "LANDCYCLE_PASSWORD_HASH_PROFILE": "cheapest-for-tests"}
    with live_server(url, env=env, log_dir=folder) as base:
        yield WebSite(base, url, {name: PASSWORD for name in ACCOUNTS})


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"没有找到 chromium（{CHROMIUM}）：apt-get install chromium（.ci/run 会安装）")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _collect_problems(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"requestfailed: {r.url} {r.failure}"))
    return problems


def new_page(browser, viewport=OFFICE_SCREEN, **context_options):
    """A page in a fresh browser context (no cookies), with ``page.problems`` collected."""
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  accept_downloads=True, **context_options)
    page = context.new_page()
    page.problems = _collect_problems(page)
    page.set_default_timeout(20_000)
    return page


@pytest.fixture
def page(browser):
    p = new_page(browser)
    yield p
    p.context.close()


def login(page, site: WebSite, username: str, next_path: str = "/work") -> None:
    """Sign in through the login form and wait for the page it leads to."""
    page.goto(site.url(f"/login?next={next_path}"))
    page.get_by_label("账号").fill(username)
    page.get_by_label("密码").fill(site.passwords[username])
    page.get_by_role("button", name="登录").click()
    target = urlsplit(next_path).path
    page.wait_for_url(lambda url: urlsplit(url).path == target)
    page.get_by_role("button", name="退出").wait_for()  # the header knows who signed in


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot as a test artifact (``test-artifacts/screenshots/<name>.png``)."""
    out = ARTIFACTS / "screenshots" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=full_page)
    return out
