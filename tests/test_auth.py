"""Sign-in, sessions, CSRF, throttling and parcel scoping by role and jurisdiction (issue 5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from conftest import ACCOUNTS, PASSWORD, bearer
from landcycle.domain.access import ANONYMOUS, Role
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.records import ParcelDraft
from landcycle.services import accounts as account_service
from landcycle.services import registry
from landcycle.storage.account_schema import AuthSession, LoginAttempt, User
from landcycle.storage.schema import ChangeLog

WEIDU = [("411002001001GB00001", "魏都区", "魏都产业集聚区", 113.815, 34.05, "可供"),
         ("411002001001GB00002", "魏都区", "魏都产业集聚区", 113.820, 34.05, "闲置")]
CHANGGE = [("411082001001GB00001", "长葛市", "长葛市产业集聚区", None, None, "可供"),
           ("411082001001GB00002", "长葛市", "长葛市产业集聚区", None, None, "低效")]


def _zone_point(db, zone, county=None):
    import shapely
    from landcycle.services import jurisdictions

    with db.reader() as s:
        g = jurisdictions.resolve(s, zone).geometry
        if county:
            g = shapely.intersection(g, jurisdictions.resolve(s, county).geometry).buffer(-0.002)
        p = shapely.point_on_surface(g)
    return p.x, p.y


@pytest.fixture
def parcels(db):
    drafts = []
    for i, (code, county, zone, lon, lat, state) in enumerate(WEIDU + CHANGGE):
        if lon is None:
            lon, lat = _zone_point(db, zone)
            lon += 0.003 * i
        drafts.append(ParcelDraft(code=code, geometry=rectangle_around(lon, lat, 0.1, 0.1), county=county,
                                  zone=zone, state=state,
                                  inefficiency_categories=["产出未达标类"] if state == "低效" else []))
    registry.register_parcels(db, drafts, actor="测试")
    return {d.code: d for d in drafts}


# --------------------------------------------------------------------------- sign-in
def test_login_me_logout_with_bearer(api, accounts):
    h = bearer(api, "weidu_zone")
    me = api.get("/api/auth/me", headers=h).json()
    assert me["role"] == "zone_manager" and me["jurisdiction_name"] == "魏都产业集聚区" and not me["everywhere"]
    assert api.get("/api/auth/me").json()["role"] == "public"
    assert api.post("/api/auth/logout", headers=h).status_code == 200
    r = api.get("/api/auth/me", headers=h)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"


def test_wrong_password_unknown_user_and_disabled_account_look_the_same(api, db, accounts):
    bad = api.post("/api/auth/login", json={"username": "city", "password": "wrong password!"})
    unknown = api.post("/api/auth/login", json={"username": "nobody", "password": PASSWORD})
    accounts_svc_disable(db, "tax_city")
    disabled = api.post("/api/auth/login", json={"username": "tax_city", "password": PASSWORD})
    assert bad.status_code == unknown.status_code == disabled.status_code == 401
    assert bad.json() == unknown.json() == disabled.json()
    assert "用户名或密码错误" in bad.json()["message"]


def accounts_svc_disable(db, name):
    account_service.set_active(db, name, False, actor="测试")


def test_login_is_throttled_after_repeated_failures(api, db, accounts):
    for _ in range(5):
        assert api.post("/api/auth/login", json={"username": "city", "password": "x" * 12}).status_code == 401
    r = api.post("/api/auth/login", json={"username": "city", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "分钟后再试" in r.json()["message"]
    # other users are not locked out by someone guessing the city admin's password
    assert api.post("/api/auth/login", json={"username": "weidu_zone", "password": PASSWORD}).status_code == 200
    # once the failures are older than the window, the right password works again
    with db.transaction() as s:
        for attempt in s.scalars(select(LoginAttempt)):
            attempt.at -= timedelta(minutes=16)
    assert api.post("/api/auth/login", json={"username": "city", "password": PASSWORD}).status_code == 200


def test_session_expires(api, db, accounts):
    h = bearer(api, "city")
    assert api.get("/api/auth/me", headers=h).json()["role"] == "city_admin"
    with db.transaction() as s:
        for session in s.scalars(select(AuthSession)):
            session.expires_at = session.created_at - timedelta(seconds=1)
    assert api.get("/api/auth/me", headers=h).status_code == 401


def test_cookie_session_needs_csrf_token_for_writes(api, db, accounts, parcels):
    r = api.post("/api/auth/login", json={"username": "city", "password": PASSWORD})
    csrf = r.json()["csrf_token"]
    assert api.cookies.get("landcycle_session") and api.cookies.get("landcycle_csrf") == csrf
    assert "httponly" in r.headers.get("set-cookie", "").lower() and "samesite=strict" in r.headers["set-cookie"].lower()
    # reads with the cookie alone work and see everything
    assert api.get("/api/parcels").json()["numberMatched"] == 4
    # an unsafe request with the cookie but without the CSRF header is refused
    r = api.post("/api/auth/logout")
    assert r.status_code == 403 and "CSRF" in r.json()["message"]
    assert api.get("/api/auth/me").json()["role"] == "city_admin"  # still signed in
    assert api.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_passwords_and_tokens_are_never_stored_in_clear(api, db, accounts):
    token = api.post("/api/auth/login", json={"username": "city", "password": PASSWORD}).json()["token"]
    with db.reader() as s:
        u = s.scalar(select(User).where(User.username == "city"))
        assert u.password_hash.startswith("$argon2id$") and PASSWORD not in u.password_hash
        assert s.scalar(select(func.count()).select_from(AuthSession).where(AuthSession.token_sha256 == token)) == 0
        logged = s.scalars(select(ChangeLog.after).where(ChangeLog.entity == "users")).all()
    assert logged and all(a["password_hash"] == "（已隐藏）" for a in logged)


def test_account_bindings_are_validated(db):
    with pytest.raises(ValidationFailed) as e:
        account_service.add_user(db, "z", PASSWORD, "zone_manager", jurisdiction="魏都区")
    assert "只能绑定到" in str(e.value)
    with pytest.raises(ValidationFailed) as e:
        account_service.add_user(db, "c", "short", "county_admin")
    fields = {p.field for p in e.value.problems}
    assert {"password", "jurisdiction"} <= fields
    with pytest.raises(ValidationFailed):
        account_service.add_user(db, "d", PASSWORD, "department", jurisdiction="411000")  # no department name
    with pytest.raises(ValidationFailed):
        account_service.add_user(db, "e", PASSWORD, "enterprise", enterprise="91411000MA00000000")
    with pytest.raises(ValidationFailed):
        account_service.add_user(db, "p", PASSWORD, "public")
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


# --------------------------------------------------------------------------- scoping
def _codes(api, headers=None, **params):
    fc = api.get("/api/parcels", headers=headers or {}, params=params).json()
    return {f["id"] for f in fc["features"]}


def test_parcel_lists_are_scoped_by_role_and_jurisdiction(api, accounts, parcels):
    weidu, changge = {c[0] for c in WEIDU}, {c[0] for c in CHANGGE}
    listed = {c[0] for c in WEIDU + CHANGGE if c[5] == "可供"}
    assert _codes(api) == listed
    assert _codes(api, bearer(api, "city")) == weidu | changge
    assert _codes(api, bearer(api, "tax_city")) == weidu | changge
    assert _codes(api, bearer(api, "weidu_admin")) == weidu
    assert _codes(api, bearer(api, "weidu_zone")) == weidu
    assert _codes(api, bearer(api, "changge_zone")) == changge
    # asking explicitly for another zone gives nothing, not an error that reveals anything
    assert _codes(api, bearer(api, "weidu_zone"), zone="长葛市产业集聚区") == set()


def test_parcel_cards_are_scoped_and_public_safe(api, db, accounts, parcels):
    idle_weidu, listed_changge = WEIDU[1][0], CHANGGE[0][0]
    assert api.get(f"/api/parcels/{idle_weidu}").status_code == 404
    assert api.get(f"/api/parcels/{idle_weidu}", headers=bearer(api, "changge_zone")).status_code == 404
    card = api.get(f"/api/parcels/{idle_weidu}", headers=bearer(api, "weidu_zone")).json()
    assert card["history"][0]["actor"] == "测试"  # officials of the jurisdiction see who changed what
    public = api.get(f"/api/parcels/{listed_changge}").json()
    assert public["history"][0]["actor"] == "—" and public["history"][0]["after"] is None
    # a listed parcel of 长葛 is public, so the 魏都 zone manager may read its public card too
    other = api.get(f"/api/parcels/{listed_changge}", headers=bearer(api, "weidu_zone"))
    assert other.status_code == 404  # officials see their jurisdiction; the public face is separate


def test_edits_outside_the_jurisdiction_are_refused(db, accounts, parcels):
    from landcycle.domain.errors import NotFound

    changge_zone = _principal(db, "changge_zone")
    with pytest.raises(NotFound):
        registry.update_parcel(db, WEIDU[0][0], {"location": "越权修改"}, 1, actor=changge_zone)
    weidu_zone = _principal(db, "weidu_zone")
    assert registry.update_parcel(db, WEIDU[0][0], {"location": "本区修改"}, 1, actor=weidu_zone)["version"] == 2
    history = registry.parcel_history(db, WEIDU[0][0])
    assert [h["actor"] for h in history] == ["测试", "weidu_zone"]


def test_the_public_principal_sees_only_the_supply_list(db, parcels):
    page = registry.list_parcels(db, viewer=ANONYMOUS)
    assert {f["properties"]["state"] for f in page["features"]} == {"listed"}
    assert ANONYMOUS.role is Role.PUBLIC


def _principal(db, username):
    with db.reader() as s:
        return account_service.principal_of(s, s.scalar(select(User).where(User.username == username)))


def test_demo_accounts_are_created_once_and_can_sign_in(api, db):
    from landcycle.services import demo

    demo.generate_demo(db)
    created = demo.create_demo_accounts(db)
    assert {a.username for a in created} >= {"demo_city", "demo_weidu_zone", "demo_tax", "demo_enterprise"}
    assert demo.create_demo_accounts(db) == []  # second run: nothing new, no passwords shown
    by_name = {a.username: a for a in created}
    h = bearer(api, "demo_enterprise", by_name["demo_enterprise"].password)
    me = api.get("/api/auth/me", headers=h).json()
    assert me["role"] == "enterprise"
    zone = bearer(api, "demo_weidu_zone", by_name["demo_weidu_zone"].password)
    zones = {f["properties"]["zone_name"] for f in api.get("/api/parcels", headers=zone, params={"limit": 1000}).json()["features"]}
    assert zones == {"魏都产业集聚区"}


def test_county_admin_does_not_cover_zones_run_by_a_management_committee(db, accounts):
    """经济技术开发区产业集聚区 lies inside 建安区's territory but is administered by the 经开区
    管委会 under the city: 建安区's admin does not see its parcels, the 管委会's admin does."""
    lon, lat = _zone_point(db, "经济技术开发区产业集聚区", "建安区")
    registry.register_parcels(db, [
        ParcelDraft(code="411003001001GB00009", geometry=rectangle_around(lon, lat, 0.1, 0.1), county="建安区",
                    zone="经济技术开发区产业集聚区", state="闲置")], actor="测试")
    account_service.add_user(db, "jianan_admin", PASSWORD, "county_admin", jurisdiction="建安区")
    account_service.add_user(db, "jk_admin", PASSWORD, "county_admin", jurisdiction="许昌经济技术开发区")
    assert registry.list_parcels(db, viewer=_principal(db, "jianan_admin"))["numberMatched"] == 0
    assert registry.list_parcels(db, viewer=_principal(db, "jk_admin"))["numberMatched"] == 1
