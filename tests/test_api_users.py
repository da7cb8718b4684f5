"""User administration (issue 5): the city admin's /api/users, the self-service password change,
and `landcycle user add|list|passwd|disable|enable` through typer's CliRunner — on both backends."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from conftest import ACCOUNTS, PASSWORD, bearer
from landcycle.faces.cli import app as cli_app

NEW_PASSWORD = "another long passphrase"


@pytest.fixture
def admin(api, accounts):
    return bearer(api, "city")


def _no_secrets(body) -> None:
    dumped = json.dumps(body, ensure_ascii=False)
    assert "password" not in dumped and "$argon2" not in dumped


# --------------------------------------------------------------------------- /api/users
def test_only_the_city_admin_manages_users(api, accounts, admin):
    assert api.get("/api/users").status_code == 401
    for who in ("weidu_admin", "weidu_zone", "tax_city"):
        h = bearer(api, who)
        assert api.get("/api/users", headers=h).status_code == 403
        assert api.post("/api/users", json={"username": "x", "password": PASSWORD, "role": "county_admin",
                                            "jurisdiction": "魏都区"}, headers=h).status_code == 403
        assert api.patch("/api/users/weidu_zone", json={"version": 1, "active": False}, headers=h).status_code == 403
        assert api.post("/api/users/weidu_zone/password", json={"password": NEW_PASSWORD},
                        headers=h).status_code == 403
    body = api.get("/api/users", headers=admin).json()
    assert body["total"] == len(ACCOUNTS) and sorted(u["username"] for u in body["items"]) == sorted(ACCOUNTS)
    _no_secrets(body)
    counties = api.get("/api/users", params={"role": "county_admin"}, headers=admin).json()
    assert sorted(u["username"] for u in counties["items"]) == ["changge_admin", "weidu_admin"]
    page = api.get("/api/users", params={"limit": 2, "sort": "-username"}, headers=admin).json()
    assert [u["username"] for u in page["items"]] == ["weidu_zone", "weidu_admin"] and page["total"] == len(ACCOUNTS)
    assert api.get("/api/users", params={"role": "public"}, headers=admin).status_code == 422
    one = api.get("/api/users/weidu_zone", headers=admin).json()
    assert one["jurisdiction_name"] == "魏都产业集聚区" and one["role_label"] == "产业集聚区管理机构"
    assert api.get("/api/users/nobody", headers=admin).status_code == 404


def test_create_user_validates_the_binding(api, db, accounts, admin):
    new = {"username": "xc_zone", "password": PASSWORD, "role": "zone_manager", "jurisdiction": "襄城县产业集聚区",
           "display_name": "襄城园区办"}
    r = api.post("/api/users", json=new, headers=admin)
    assert r.status_code == 201 and r.json()["jurisdiction_name"] == "襄城县产业集聚区"
    _no_secrets(r.json())
    assert api.get("/api/auth/me", headers=bearer(api, "xc_zone")).json()["display_name"] == "襄城园区办"
    dup = api.post("/api/users", json=new, headers=admin)
    assert dup.status_code == 422 and dup.json()["problems"][0]["code"] == "duplicate"
    wrong_kind = api.post("/api/users", json={**new, "username": "z2", "jurisdiction": "魏都区"}, headers=admin)
    assert wrong_kind.status_code == 422 and "只能绑定到" in wrong_kind.json()["message"]
    weak = api.post("/api/users", json={**new, "username": "z3", "password": "short"}, headers=admin)
    assert weak.status_code == 422 and weak.json()["problems"][0]["code"] == "weak_password"
    assert api.post("/api/users", json={**new, "username": "z4", "is_admin": True}, headers=admin).status_code == 422
    assert api.post("/api/users", json={**new, "username": "z5", "role": "public"}, headers=admin).status_code == 422
    ent = api.post("/api/users", json={"username": "e1", "password": PASSWORD, "role": "enterprise",
                                       "enterprise": "91411000MA00000000"}, headers=admin)
    assert ent.status_code == 422 and ent.json()["problems"][0]["field"] == "enterprise"
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM users")).scalar() == len(ACCOUNTS) + 1
        log = c.execute(text("SELECT actor, after FROM change_log WHERE entity = 'users' ORDER BY id DESC")).first()
    after = log[1] if isinstance(log[1], dict) else json.loads(log[1])
    assert log[0] == "city" and after["username"] == "xc_zone" and "$argon2" not in json.dumps(after)


def test_patch_with_version_role_change_and_disable(api, db, accounts, admin):
    user_h = bearer(api, "weidu_admin")
    v = api.get("/api/users/weidu_admin", headers=admin).json()["version"]
    r = api.patch("/api/users/weidu_admin", json={"version": v, "display_name": "魏都区自然资源局"}, headers=admin)
    assert r.status_code == 200 and r.json()["version"] == v + 1 and r.json()["display_name"] == "魏都区自然资源局"
    assert api.get("/api/auth/me", headers=user_h).status_code == 200  # a name change keeps the session
    stale = api.patch("/api/users/weidu_admin", json={"version": v, "active": False}, headers=admin)
    assert stale.status_code == 409 and stale.json()["current"]["version"] == v + 1
    _no_secrets(stale.json())
    assert api.get("/api/users/weidu_admin", headers=admin).json()["active"] is True  # nothing written
    # a zone manager must be bound to a zone: the county the account had does not fit
    bad = api.patch("/api/users/weidu_admin", json={"version": v + 1, "role": "zone_manager"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "jurisdiction"
    moved = api.patch("/api/users/weidu_admin", json={"version": v + 1, "role": "zone_manager",
                                                      "jurisdiction": "魏都产业集聚区"}, headers=admin)
    assert moved.status_code == 200 and moved.json()["role"] == "zone_manager"
    assert api.get("/api/auth/me", headers=user_h).status_code == 401  # the old session ended
    me = api.get("/api/auth/me", headers=bearer(api, "weidu_admin")).json()
    assert me["role"] == "zone_manager" and me["jurisdiction_name"] == "魏都产业集聚区"
    assert api.patch("/api/users/weidu_admin", json={"version": 99, "password": "x"}, headers=admin).status_code == 422
    off = api.patch("/api/users/weidu_admin", json={"version": v + 2, "active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
    assert api.post("/api/auth/login", json={"username": "weidu_admin", "password": PASSWORD}).status_code == 401
    # the last active city admin can neither be disabled nor demoted
    cv = api.get("/api/users/city", headers=admin).json()["version"]
    last = api.patch("/api/users/city", json={"version": cv, "active": False}, headers=admin)
    assert last.status_code == 422 and last.json()["problems"][0]["code"] == "last_city_admin"
    last = api.patch("/api/users/city", json={"version": cv, "role": "department", "department": "税务"},
                     headers=admin)
    assert last.status_code == 422 and last.json()["problems"][0]["code"] == "last_city_admin"
    assert api.patch("/api/users/nobody", json={"version": 1, "active": True}, headers=admin).status_code == 404


def test_admin_password_reset_ends_the_sessions(api, accounts, admin):
    old = bearer(api, "tax_city")
    weak = api.post("/api/users/tax_city/password", json={"password": "short"}, headers=admin)
    assert weak.status_code == 422 and api.get("/api/auth/me", headers=old).status_code == 200
    r = api.post("/api/users/tax_city/password", json={"password": NEW_PASSWORD}, headers=admin)
    assert r.status_code == 200
    assert api.get("/api/auth/me", headers=old).status_code == 401
    assert api.post("/api/auth/login", json={"username": "tax_city", "password": PASSWORD}).status_code == 401
    assert bearer(api, "tax_city", NEW_PASSWORD)
    assert api.post("/api/users/nobody/password", json={"password": NEW_PASSWORD}, headers=admin).status_code == 404


def test_self_service_password_change(api, accounts):
    assert api.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code == 401
    h = bearer(api, "weidu_zone")
    same = api.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": PASSWORD}, headers=h)
    assert same.status_code == 422 and same.json()["problems"][0]["code"] == "same_password"
    short = api.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": "short"}, headers=h)
    assert short.status_code == 422 and short.json()["problems"][0]["field"] == "new_password"
    r = api.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=h)
    assert r.status_code == 200 and "重新登录" in r.json()["message"]
    assert api.get("/api/auth/me", headers=h).status_code == 401
    assert api.post("/api/auth/login", json={"username": "weidu_zone", "password": PASSWORD}).status_code == 401
    h = bearer(api, "weidu_zone", NEW_PASSWORD)
    # guessing the old password through a session is throttled like sign-in
    for _ in range(4):
        r = api.post("/api/auth/password", json={"old_password": "wrong guess!", "new_password": "x" * 12}, headers=h)
        assert r.status_code == 422 and r.json()["problems"][0]["code"] == "wrong_password"
    r = api.post("/api/auth/password", json={"old_password": "wrong guess!", "new_password": "x" * 12}, headers=h)
    assert r.status_code == 422  # the 5th failure is still checked (and counted)
    r = api.post("/api/auth/password", json={"old_password": NEW_PASSWORD, "new_password": "x" * 12}, headers=h)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert api.get("/api/auth/me", headers=h).status_code == 200  # nothing changed


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def cli(db, monkeypatch):
    monkeypatch.setenv("LANDCYCLE_DATABASE_URL", db.url)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli_app, list(args), input=input)

    return run


def test_cli_user_commands(cli, api, db):
    r = cli("user", "add", "admin1", "--role", "city_admin", "--jurisdiction", "411000", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    assert "已新建账号 admin1" in r.output and PASSWORD not in r.output
    h = bearer(api, "admin1")
    assert api.get("/api/auth/me", headers=h).json()["role"] == "city_admin"
    # the second entry must match; nothing is written otherwise
    r = cli("user", "add", "tax1", "--role", "department", "--jurisdiction", "411000", "--department", "税务",
            input=f"{PASSWORD}\nsomething else!\n")
    assert r.exit_code == 2 and "不一致" in r.output
    r = cli("user", "add", "tax1", "--role", "职能部门", "--jurisdiction", "411000", "--department", "税务",
            "--password-stdin", input=f"{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    r = cli("user", "add", "bad", "--role", "wizard", "--password-stdin", input=f"{PASSWORD}\n")
    assert r.exit_code == 2 and "错误" in r.output and isinstance(r.exception, SystemExit)  # no traceback
    r = cli("user", "add", "z9", "--role", "zone_manager", "--jurisdiction", "魏都区", "--password-stdin",
            input=f"{PASSWORD}\n")
    assert r.exit_code == 2 and "只能绑定到" in r.output
    listed = json.loads(cli("user", "list", "--json").output)
    assert [u["username"] for u in listed] == ["admin1", "tax1"] and listed[1]["department"] == "税务"
    _no_secrets(listed)
    assert "职能部门" in cli("user", "list").output
    r = cli("user", "passwd", "tax1", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert r.exit_code == 0 and "已重置" in r.output
    assert api.post("/api/auth/login", json={"username": "tax1", "password": PASSWORD}).status_code == 401
    tax = bearer(api, "tax1", NEW_PASSWORD)
    r = cli("user", "disable", "tax1")
    assert r.exit_code == 0 and api.get("/api/auth/me", headers=tax).status_code == 401
    assert api.post("/api/auth/login", json={"username": "tax1", "password": NEW_PASSWORD}).status_code == 401
    assert cli("user", "enable", "tax1").exit_code == 0 and bearer(api, "tax1", NEW_PASSWORD)
    r = cli("user", "disable", "admin1")  # the only city admin
    assert r.exit_code == 2 and "最后一个" in r.output
    r = cli("user", "passwd", "nobody", "--password-stdin", input=f"{NEW_PASSWORD}\n")
    assert r.exit_code == 2 and "未找到用户" in r.output and isinstance(r.exception, SystemExit)
    assert "新建账号" in cli("user", "add", "--help").output
