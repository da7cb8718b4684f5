"""The registry's REST API (issue 5): parcels, enterprises, occupancy, contracts, agreements,
development facts and yearly figures — every role against every endpoint family, scoped
reads and writes, confidential fields, versions (428/409/ETag) and malformed input — on
SQLite and PostgreSQL/PostGIS."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import pytest
import shapely
from sqlalchemy import func, select, text

from conftest import PASSWORD, bearer
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import (
    DevelopmentDraft,
    EnterpriseDraft,
    OccupancyDraft,
    ParcelDraft,
    PerformanceAgreementDraft,
    SupplyContractDraft,
)
from landcycle.services import accounts as accounts_service
from landcycle.services import enterprises, jurisdictions, ledgers, registry
from landcycle.storage.schema import ChangeLog, Jurisdiction

W1 = "411002001001GB00001"  # 魏都产业集聚区, 批而未供, used by enterprise A (owner), with contract etc.
W2 = "411002001001GB00002"  # 魏都产业集聚区, 可供 (on the public supply list), tenant C
W3 = "411002002001GB00001"  # 魏都区 outside any zone: the county's, not the zone manager's
C1 = "411082001001GB00001"  # 长葛市产业集聚区, used by enterprise B
A = credit_code_with_check("91411002MA44ABCD0")
B = credit_code_with_check("91411082MA44ABCD1")
C = credit_code_with_check("91411002MA44ABCD2")
#: Every kind of caller: conftest's accounts, a county-level department, an enterprise, the public.
USERS = ["city", "weidu_admin", "changge_admin", "weidu_zone", "changge_zone", "tax_city", "weidu_tax", "ent_a",
         None]
HOSTILE = "'); DROP TABLE parcels; -- <script>alert('x')</script> &amp; \" \\ 💣"


@dataclass
class World:
    db: object
    api: object
    ids: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)

    def headers(self, user: str | None, **extra) -> dict:
        if user is None:
            return dict(extra)
        if user not in self.tokens:
            self.tokens[user] = bearer(self.api, user)
        return {**self.tokens[user], **extra}

    def call(self, method: str, path: str, user: str | None = "city", **kw):
        headers = self.headers(user, **kw.pop("headers", {}))
        return self.api.request(method, path, headers=headers, **kw)

    def version(self, path: str) -> int:
        r = self.call("GET", path)
        assert r.status_code == 200, r.text
        return int(r.headers["etag"].strip('"'))


def zone_point(db, name: str) -> tuple[float, float]:
    with db.reader() as s:
        p = shapely.point_on_surface(jurisdictions.resolve(s, name).geometry)
    return p.x, p.y


def county_only_point(db, county: str) -> tuple[float, float]:
    """A point of the county well away from every zone."""
    with db.reader() as s:
        geom = jurisdictions.resolve(s, county).geometry
        zones = s.scalars(select(Jurisdiction.geometry).where(Jurisdiction.kind == "zone")).all()
    p = shapely.point_on_surface(geom.difference(shapely.union_all(zones)).buffer(-0.003))
    return p.x, p.y


def build_world(db, api) -> World:
    """Four parcels, three enterprises with occupancy, contracts, an agreement, a development
    record and figures, and accounts for every role."""
    wx, wy = zone_point(db, "魏都产业集聚区")
    cx, cy = zone_point(db, "长葛市产业集聚区")
    ox, oy = county_only_point(db, "魏都区")
    registry.register_parcels(db, [
        ParcelDraft(code=W1, geometry=rectangle_around(wx, wy, 0.2, 0.15), county="魏都区", zone="魏都产业集聚区",
                    location="魏都产业集聚区测试路1号"),
        ParcelDraft(code=W2, geometry=rectangle_around(wx + 0.004, wy, 0.2, 0.15), county="魏都区",
                    zone="魏都产业集聚区", state="可供", location="魏都产业集聚区测试路2号"),
        ParcelDraft(code=W3, geometry=rectangle_around(ox, oy, 0.1, 0.1), county="魏都区", location="魏都区城郊"),
        ParcelDraft(code=C1, geometry=rectangle_around(cx, cy, 0.2, 0.15), county="长葛市", zone="长葛市产业集聚区"),
    ], actor="测试")
    for code, name, county in ((A, "许昌甲装备有限公司", "魏都区"), (B, "长葛乙金属有限公司", "长葛市"),
                               (C, "许昌丙材料有限公司", "魏都区")):
        enterprises.register_enterprise(db, EnterpriseDraft(code, name, "C3411", True, county), actor="测试")
    occ = {key: enterprises.add_occupancy(db, OccupancyDraft(parcel, cc, role, 10000, date(2019, 1, 1)), actor="测试")
           for key, parcel, cc, role in (("oW1", W1, A, "权利人"), ("oW2", W2, C, "承租人"), ("oC1", C1, B, "权利人"))}
    contract = SupplyContractDraft("XC-W1", A, "出让", date(2019, 1, 1), 50, 900.0, date(2019, 6, 1), date(2021, 6, 1))
    cw1 = ledgers.add_contract(db, W1, contract, actor="测试")
    cc1 = ledgers.add_contract(db, C1, SupplyContractDraft("XC-C1", B, "出让", date(2019, 1, 1), 50, 800.0,
                                                           date(2019, 6, 1), date(2021, 6, 1)), actor="测试")
    agreement = ledgers.add_agreement(db, W1, PerformanceAgreementDraft(
        "XC-W1", date(2019, 1, 1), date(2019, 6, 1), date(2021, 6, 1), date(2022, 6, 1), plot_ratio=1.2,
        tax_per_mu_wan=15.0), actor="测试")
    ledgers.add_development(db, W1, DevelopmentDraft(actual_start_date=date(2019, 7, 1)), actor="测试")
    for cc in (A, B):
        enterprises.submit_figures(db, cc, 2022, {"实缴税金": 300.0}, "税务局", actor="测试")
    accounts_service_extra(db)
    with db.reader() as s:
        from landcycle.storage.schema import Enterprise

        ids = {cc: s.scalar(select(Enterprise.id).where(Enterprise.credit_code == cc)) for cc in (A, B, C)}
    return World(db, api, ids={"A": ids[A], "B": ids[B], "C": ids[C], "cW1": cw1["id"], "cC1": cc1["id"],
                               "aW1": agreement["id"], **occ})


def accounts_service_extra(db) -> None:
    accounts_service.add_user(db, "weidu_tax", PASSWORD, role="department", jurisdiction="魏都区",
                              department="魏都区税务局")
    accounts_service.add_user(db, "ent_a", PASSWORD, role="enterprise", enterprise=A)


@pytest.fixture
def world(db, api, accounts) -> World:
    return build_world(db, api)


def counts(db) -> tuple[int, ...]:
    """Rows of every registry table and of the change log (to prove a refusal wrote nothing)."""
    tables = ("parcels", "enterprises", "occupancies", "supply_contracts", "performance_agreements",
              "parcel_developments", "enterprise_figures", "change_log")
    with db.engine.connect() as c:
        return tuple(c.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables)


def mismatches(world: World, cases) -> list[str]:
    out = []
    for method, path, expected, body in cases:
        for user, want in zip(USERS, expected):
            r = world.call(method, path, user, **({"json": body} if body is not None else {}))
            if r.status_code != want:
                out.append(f"{user or 'anonymous'} {method} {path}: {r.status_code} ≠ {want} {r.text[:160]}")
    return out


# --------------------------------------------------------------------------- who may read what
#        city weidu_admin changge_admin weidu_zone changge_zone tax_city weidu_tax ent_a anonymous
OFFICIAL_W1 = [200, 200, 404, 200, 404, 200, 200, 200, 404]
LEDGER_W1 = [200, 200, 404, 200, 404, 200, 200, 200, 401]
LEDGER_C1 = [200, 404, 200, 404, 200, 200, 404, 404, 401]


def test_reads_are_scoped_by_role_and_jurisdiction(world):
    i = world.ids
    cases = [
        ("GET", f"/api/parcels/{W1}/history", OFFICIAL_W1, None),
        ("GET", f"/api/parcels/{W3}/history", [200, 200, 404, 404, 404, 200, 200, 404, 404], None),
        ("GET", f"/api/parcels/{W2}/history", [200, 200, 404, 200, 404, 200, 200, 200, 200], None),
        ("GET", f"/api/parcels/{W1}/occupancies", OFFICIAL_W1, None),
        ("GET", f"/api/parcels/{W2}/occupancies", [200, 200, 404, 200, 404, 200, 200, 200, 200], None),
        ("GET", f"/api/occupancies/{i['oW1']}", OFFICIAL_W1, None),
        ("GET", f"/api/parcels/{W1}/contracts", LEDGER_W1, None),
        ("GET", f"/api/parcels/{C1}/contracts", LEDGER_C1, None),
        ("GET", f"/api/contracts/{i['cW1']}", LEDGER_W1, None),
        ("GET", f"/api/contracts/{i['cC1']}", LEDGER_C1, None),
        ("GET", f"/api/parcels/{W1}/agreements", LEDGER_W1, None),
        ("GET", f"/api/agreements/{i['aW1']}", LEDGER_W1, None),
        ("GET", f"/api/parcels/{W1}/development", LEDGER_W1, None),
        ("GET", f"/api/enterprises/{i['A']}", LEDGER_W1, None),
        ("GET", f"/api/enterprises/{i['B']}", LEDGER_C1, None),
        ("GET", f"/api/enterprises/{i['A']}/figures", LEDGER_W1, None),
        ("GET", f"/api/enterprises/{i['B']}/figures", LEDGER_C1, None),
        ("GET", "/api/enterprises", [200, 200, 200, 200, 200, 200, 200, 200, 401], None),
        ("GET", "/api/enterprises/999999", [404] * 8 + [401], None),
        ("GET", "/api/parcels/411002001001GB99999/history", [404] * 9, None),
    ]
    assert mismatches(world, cases) == []


def test_enterprise_lists_hold_only_the_callers_enterprises(world):
    seen = {}
    for user in USERS[:-1]:
        r = world.call("GET", "/api/enterprises", user, params={"sort": "credit_code"})
        seen[user] = [e["credit_code"] for e in r.json()["items"]]
        assert r.json()["total"] == len(seen[user])
    assert seen == {"city": [A, C, B], "weidu_admin": [A, C], "changge_admin": [B], "weidu_zone": [A, C],
                    "changge_zone": [B], "tax_city": [A, C, B], "weidu_tax": [A, C], "ent_a": [A]}
    assert [e["credit_code"] for e in world.call("GET", "/api/enterprises", params={"name": "金属"}).json()["items"]] == [B]
    assert world.call("GET", "/api/enterprises", params={"credit_code": A[:17].lower()}).json()["total"] == 1
    assert world.call("GET", "/api/enterprises", params={"industry": "C34"}).json()["total"] == 3
    assert world.call("GET", "/api/enterprises", params={"industry": "C35"}).json()["total"] == 0
    assert world.call("GET", "/api/enterprises", params={"name": "%"}).json()["total"] == 0  # LIKE wildcards are text
    page = world.call("GET", "/api/enterprises", params={"limit": 2, "sort": "-name"}).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and any(link["rel"] == "next" for link in page["links"])
    bad = world.call("GET", "/api/enterprises", params={"sort": "password"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "sort"
    # an enterprise's own record names the parcels it uses, within what the caller may see
    mine = world.call("GET", f"/api/enterprises/{world.ids['A']}", "ent_a").json()
    assert [o["parcel_code"] for o in mine["occupancies"]] == [W1]


def test_confidential_fields_are_absent_where_they_must_be(world):
    # The public sees who uses a published parcel, never the credit code or the internal id.
    public = world.call("GET", f"/api/parcels/{W2}/occupancies", None).json()["items"]
    assert [o["enterprise_name"] for o in public] == ["许昌丙材料有限公司"]
    assert "credit_code" not in public[0] and "enterprise_id" not in public[0]
    assert C not in json.dumps(public, ensure_ascii=False)
    # Another enterprise sees the same; the jurisdiction's officials see the code.
    other = world.call("GET", f"/api/parcels/{W2}/occupancies", "ent_a").json()["items"]
    assert "credit_code" not in other[0]
    assert world.call("GET", f"/api/parcels/{W2}/occupancies", "weidu_zone").json()["items"][0]["credit_code"] == C
    own = world.call("GET", f"/api/parcels/{W1}/occupancies", "ent_a").json()["items"]
    assert own[0]["credit_code"] == A
    # The archive: the public reads what changed, not who changed it nor the values.
    history = world.call("GET", f"/api/parcels/{W2}/history", None).json()["items"]
    assert history and all(h["actor"] == "—" and h["before"] is None and h["after"] is None for h in history)
    assert {h["summary"] for h in history} >= {"新建宗地", "新建用地关系"}
    assert world.call("GET", f"/api/parcels/{W2}/history", "ent_a").json()["items"][0]["actor"] == "—"
    full = world.call("GET", f"/api/parcels/{W2}/history", "weidu_zone").json()["items"]
    assert full[0]["actor"] == "测试" and full[0]["after"]["code"] == W2
    # Contract terms of another enterprise's parcel: not for ent_a, even on a parcel it can see.
    assert world.call("GET", f"/api/parcels/{W2}/contracts", "ent_a").status_code == 404
    terms = world.call("GET", f"/api/parcels/{W1}/contracts", "ent_a").json()["items"]
    assert terms[0]["price_wan"] == 900.0 and terms[0]["credit_code"] == A
    # The card follows the same rules as the ledger endpoints.
    card = world.call("GET", f"/api/parcels/{W2}", None).json()
    assert card["contract"] is None and "credit_code" not in card["occupancies"][0]
    assert "figures" not in card["occupancies"][0]


def test_the_card_says_what_the_caller_may_edit_there(world):
    """``permissions`` on the card mirror what the write endpoints accept (the page shows edit
    buttons from it); occupancies carry the id and version their PATCH needs."""
    expected = {("city", W1): True, ("weidu_admin", W1): True, ("weidu_zone", W1): True,
                ("changge_zone", C1): True, ("weidu_admin", W3): True, ("weidu_zone", W3): None,
                ("tax_city", W1): False, ("weidu_tax", W1): False, ("ent_a", W1): False, (None, W2): False}
    for (user, code), may in expected.items():
        r = world.call("GET", f"/api/parcels/{code}", user)
        if may is None:
            assert r.status_code == 404, (user, code)
            continue
        assert r.json()["permissions"] == {"edit_parcel": may, "edit_records": may}, (user, code)
        version = r.json()["parcel"]["version"]
        patch = world.call("PATCH", f"/api/parcels/{code}", user, json={"location": "权限核对", "version": version})
        assert (patch.status_code == 200) is may, (user, code, patch.status_code)
    card = world.call("GET", f"/api/parcels/{W2}", "weidu_zone").json()
    listed = world.call("GET", f"/api/parcels/{W2}/occupancies", "weidu_zone").json()["items"]
    assert [(o["id"], o["version"]) for o in card["occupancies"]] == [(o["id"], o["version"]) for o in listed]


def test_field_meta_gives_edit_forms_their_labels_and_choices(api):
    """Field labels as in messages and history; every coded field of the edit bodies with the
    labels the API answers in ``*_label``."""
    r = api.get("/api/meta/fields")
    assert r.status_code == 200
    assert {"field": "agreed_completion_date", "label": "约定竣工日期"} in r.json()["labels"]
    v = r.json()["choices"]
    assert {"state", "land_source", "supply_method", "role", "completion_result", "production_result",
            "inefficiency_categories"} <= set(v)
    assert {"value": "idle", "label": "闲置"} in v["state"]
    assert {"value": "below_contract", "label": "开发未达标类"} in v["inefficiency_categories"]
    assert [c["label"] for c in v["completion_result"]] == ["未验收", "通过", "未通过"]


# --------------------------------------------------------------------------- who may write where
def test_writes_are_refused_outside_scope_and_by_role(world):
    """Each caller tries each write; a refusal changes nothing (the record's version stays)."""
    i, db = world.ids, world.db
    ox, oy = county_only_point(db, "魏都区")
    wx, wy = zone_point(db, "魏都产业集聚区")
    out = []
    plan = [
        # (method, path, version-source path, body, expected per user)
        ("PATCH", f"/api/parcels/{W1}", f"/api/parcels/{W1}", {"location": "改"},
         [200, 200, 404, 200, 404, 403, 403, 403, 401]),
        ("PATCH", f"/api/parcels/{W3}", f"/api/parcels/{W3}", {"location": "改"},
         [200, 200, 404, 404, 404, 403, 403, 404, 401]),
        ("PATCH", f"/api/parcels/{C1}", f"/api/parcels/{C1}", {"location": "改"},
         [200, 404, 200, 404, 200, 403, 404, 404, 401]),
        ("PATCH", f"/api/enterprises/{i['A']}", f"/api/enterprises/{i['A']}", {"name": "许昌甲装备股份有限公司"},
         [200, 200, 404, 200, 404, 403, 403, 403, 401]),
        ("PATCH", f"/api/enterprises/{i['B']}", f"/api/enterprises/{i['B']}", {"industry_code": "C3410"},
         [200, 404, 200, 404, 200, 403, 404, 404, 401]),
        ("PATCH", f"/api/contracts/{i['cW1']}", f"/api/contracts/{i['cW1']}", {"price_wan": 950.0},
         [200, 200, 404, 200, 404, 403, 403, 403, 401]),
        ("PATCH", f"/api/occupancies/{i['oC1']}", f"/api/occupancies/{i['oC1']}", {"area_m2": 9000.0},
         [200, 404, 200, 404, 200, 403, 404, 404, 401]),
        ("PATCH", f"/api/agreements/{i['aW1']}", f"/api/agreements/{i['aW1']}", {"plot_ratio": 1.5},
         [200, 200, 404, 200, 404, 403, 403, 403, 401]),
        ("PATCH", f"/api/parcels/{W1}/development", f"/api/parcels/{W1}/development", {"developed_area_m2": 100.0},
         [200, 200, 404, 200, 404, 403, 403, 403, 401]),
    ]
    for method, path, source, body, expected in plan:
        for n, (user, want) in enumerate(zip(USERS, expected)):
            # a value of its own for each caller, so an accepted edit always changes something
            mine = {k: (v[:-1] + str(n) if k == "industry_code" else v + str(n)) if isinstance(v, str) else v + n
                    for k, v in body.items()}
            before = world.version(source)
            r = world.call(method, path, user, json=mine, headers={"If-Match": f'"{before}"'})
            after = world.version(source)
            if r.status_code != want or (after != before) != (want == 200):
                out.append(f"{user or 'anonymous'} {method} {path}: {r.status_code} ≠ {want}, version {before}→{after}")
            if want == 200 and r.headers.get("etag") != f'"{after}"':
                out.append(f"{user} {method} {path}: ETag {r.headers.get('etag')} ≠ {after}")
    # Creating: inside the caller's jurisdiction only (403 outside: nothing exists to hide).
    creates = [
        ("zone", lambda n: {"code": f"411002001001GB1{n:04d}", "county": "魏都区", "zone": "魏都产业集聚区",
                            "geometry": shapely.geometry.mapping(rectangle_around(wx - 0.004 * (n % 5), wy + 0.003,
                                                                                  0.05, 0.05))},
         [201, 201, 403, 201, 403, 403, 403, 403, 401]),
        ("county", lambda n: {"code": f"411002002001GB1{n:04d}", "county": "魏都区",
                              "geometry": shapely.geometry.mapping(rectangle_around(ox, oy + 0.0005 * (n % 5 - 2),
                                                                                    0.03, 0.03))},
         [201, 201, 403, 403, 403, 403, 403, 403, 401]),
    ]
    n = 0
    for label, body_of, expected in creates:
        for user, want in zip(USERS, expected):
            n += 1
            body = json.loads(json.dumps(body_of(n)))
            before = counts(db)
            r = world.call("POST", "/api/parcels", user, json=body)
            if r.status_code != want or (counts(db) != before) != (want == 201):
                out.append(f"{user or 'anonymous'} POST {label} parcel: {r.status_code} ≠ {want} {r.text[:200]}")
    occ = {"credit_code": B, "role": "承租人", "area_m2": 100.0, "start_date": "2023-01-01"}
    for user, want in zip(USERS, [201, 404, 201, 404, 201, 403, 404, 404, 401]):
        before = counts(db)
        r = world.call("POST", f"/api/parcels/{C1}/occupancies", user, json=occ)
        if r.status_code != want or (counts(db) != before) != (want == 201):
            out.append(f"{user or 'anonymous'} POST occupancy on C1: {r.status_code} ≠ {want} {r.text[:200]}")
    for user, want in zip(USERS, [201, 201, 403, 201, 403, 403, 403, 403, 401]):
        code = credit_code_with_check(f"9141100{USERS.index(user)}MA44QWER9")
        r = world.call("POST", "/api/enterprises", user, json={"credit_code": code, "name": "新企业", "county": "魏都区"})
        if r.status_code != want:
            out.append(f"{user or 'anonymous'} POST enterprise in 魏都区: {r.status_code} ≠ {want} {r.text[:200]}")
    assert out == []


def test_figures_are_submitted_by_departments_of_the_jurisdiction_under_their_own_name(world):
    i, db = world.ids, world.db
    out = []
    for year, (path, expected) in enumerate([(f"/api/enterprises/{i['A']}/figures", [200, 403, 403, 403, 403, 200, 200, 403, 401]),
                                             (f"/api/enterprises/{i['B']}/figures", [200, 403, 403, 403, 403, 200, 404, 403, 401])],
                                            start=2018):
        current = None  # each accepted submission replaces the last one: it names that version
        for user, want in zip(USERS, expected):
            body = {"year": year, "values": {"工业总产值": 1000.0 + USERS.index(user)}}
            if user == "city":
                body["department"] = "统计局"
            if current is not None:
                body["versions"] = {"industrial_output": current}
            r = world.call("POST", path, user, json=body)
            if r.status_code == 200:
                current = r.json()["items"][0]["version"]
            if r.status_code != want:
                out.append(f"{user or 'anonymous'} POST {path}: {r.status_code} ≠ {want} {r.text[:200]}")
    assert out == []
    # city (统计局) created it, tax_city (税务) and weidu_tax (魏都区税务局) replaced it
    [fig] = world.call("GET", f"/api/enterprises/{i['A']}/figures", params={"year": 2018}).json()["items"]
    assert (fig["value"], fig["department"], fig["version"]) == (1006.0, "魏都区税务局", 3)
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT actor, action FROM change_log WHERE entity = 'enterprise_figures' "
                              "AND actor <> '测试' ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("city", "create"), ("tax_city", "update"), ("weidu_tax", "update"),
                                        ("city", "create"), ("tax_city", "update")]
    # A department account's figures carry its own department, whatever it says.
    r = world.call("POST", f"/api/enterprises/{i['A']}/figures", "weidu_tax",
                   json={"year": 2017, "values": {"实缴税金": 10.0}, "department": "统计局"})
    assert r.status_code == 422 and "报送部门由账号确定" in r.json()["message"]
    r = world.call("POST", f"/api/enterprises/{i['A']}/figures", "weidu_tax", json={"year": 2017, "values": {"实缴税金": 10.0}})
    assert r.status_code == 200 and r.json()["items"][0]["department"] == "魏都区税务局"
    # Replacing a figure needs its version: none → 428, stale → 409 with the current figure.
    again = {"year": 2017, "values": {"实缴税金": 11.0}}
    before = counts(db)
    r = world.call("POST", f"/api/enterprises/{i['A']}/figures", "weidu_tax", json=again)
    assert r.status_code == 428 and r.json()["code"] == "version_required" and counts(db) == before
    r = world.call("POST", f"/api/enterprises/{i['A']}/figures", "weidu_tax", json={**again, "versions": {"实缴税金": 5}})
    assert r.status_code == 409 and r.json()["current"]["value"] == 10.0 and r.json()["current"]["version"] == 1
    assert counts(db)[:-1] == before[:-1] and counts(db)[-1] == before[-1] + 1  # only the refused attempt, logged
    r = world.call("POST", f"/api/enterprises/{i['A']}/figures", "weidu_tax", json={**again, "versions": {"tax_paid": 1}})
    assert r.status_code == 200 and r.json()["items"][0]["value"] == 11.0 and r.json()["items"][0]["version"] == 2


# --------------------------------------------------------------------------- versions
def test_parcel_edits_need_a_version_and_a_stale_one_changes_nothing(world):
    db = world.db
    r = world.call("GET", f"/api/parcels/{W1}")
    assert r.headers["etag"] == '"1"' and r.json()["parcel"]["version"] == 1
    before = counts(db)
    r = world.call("PATCH", f"/api/parcels/{W1}", json={"location": "无版本"})
    assert r.status_code == 428 and r.json()["code"] == "version_required" and "If-Match" in r.json()["message"]
    assert world.call("PATCH", f"/api/parcels/{W1}", json={"location": "x"}, headers={"If-Match": "*"}).status_code == 428
    r = world.call("PATCH", f"/api/parcels/{W1}", json={"location": "x", "version": 1}, headers={"If-Match": '"2"'})
    assert r.status_code == 422 and "不一致" in r.json()["message"]
    r = world.call("PATCH", f"/api/parcels/{W1}", json={"location": "x"}, headers={"If-Match": "abc"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "If-Match"
    assert counts(db) == before
    # body version, then the ETag style header (weak validators accepted)
    r = world.call("PATCH", f"/api/parcels/{W1}", json={"location": "甲改", "version": 1, "reason": "勘误"})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    r = world.call("PATCH", f"/api/parcels/{W1}", json={"height_limit_m": 24.0}, headers={"If-Match": 'W/"2"'})
    assert r.status_code == 200 and r.json()["height_limit_m"] == 24.0
    # stale: 409 with the current record, nothing overwritten, the attempt in the archive
    r = world.call("PATCH", f"/api/parcels/{W1}", json={"location": "乙改"}, headers={"If-Match": '"2"'})
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    assert r.json()["current"]["location"] == "甲改" and r.json()["current"]["version"] == 3
    card = world.call("GET", f"/api/parcels/{W1}").json()
    assert card["parcel"]["location"] == "甲改" and card["parcel"]["version"] == 3
    history = world.call("GET", f"/api/parcels/{W1}/history").json()["items"]
    assert [h["action"] for h in history if h["entity"] == "parcels"] == ["create", "update", "update", "conflict"]
    refused = history[-1]
    assert refused["after"] == {"location": "乙改", "version": 2} and refused["before"]["location"] == "甲改"
    assert "版本冲突" in refused["summary"] and refused["actor"] == "city"
    reason = next(h for h in history if h["action"] == "update")
    assert reason["reason"] == "勘误"


@pytest.mark.parametrize("path_of,body", [
    (lambda i: f"/api/enterprises/{i['A']}", {"name": "并发甲"}),
    (lambda i: f"/api/occupancies/{i['oW1']}", {"area_m2": 9000.0}),
    (lambda i: f"/api/contracts/{i['cW1']}", {"price_wan": 901.0}),
    (lambda i: f"/api/agreements/{i['aW1']}", {"tax_per_mu_wan": 16.0}),
    (lambda i: f"/api/parcels/{W1}/development", {"investment_done_wan": 10.0}),
])
def test_every_ledger_record_is_versioned_the_same_way(world, path_of, body):
    path, db = path_of(world.ids), world.db
    r = world.call("GET", path)
    assert r.status_code == 200 and r.headers["etag"] == f'"{r.json()["version"]}"' == '"1"'
    assert world.call("PATCH", path, json=body).status_code == 428
    r = world.call("PATCH", path, json={**body, "version": 1})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    key, value = next(iter(body.items()))
    assert r.json()[key] == value
    before = counts(db)
    r = world.call("PATCH", path, json={key: "旧版本的修改" if isinstance(value, str) else value + 1},
                   headers={"If-Match": '"1"'})
    assert r.status_code == 409 and r.json()["current"][key] == value and r.json()["current"]["version"] == 2
    assert counts(db)[:-1] == before[:-1] and counts(db)[-1] == before[-1] + 1  # just the logged attempt
    with db.engine.connect() as c:
        action = c.execute(text("SELECT action FROM change_log ORDER BY id DESC LIMIT 1")).scalar()
    assert action == "conflict"
    assert world.call("GET", path).json()[key] == value


def test_occupancy_is_ended_by_setting_its_end_date(world):
    i = world.ids
    path = f"/api/occupancies/{i['oW2']}"
    r = world.call("PATCH", path, json={"end_date": "2018-12-31", "version": 1})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "end_date"
    r = world.call("PATCH", path, json={"end_date": "2023-12-31", "version": 1, "reason": "租约到期"})
    assert r.status_code == 200 and r.json()["end_date"] == "2023-12-31"
    # the tenant area of an overlapping period is checked against the parcel, excluding itself
    r = world.call("PATCH", path, json={"area_m2": 29000.0, "version": 2})
    assert r.status_code == 200
    r = world.call("POST", f"/api/parcels/{W2}/occupancies",
                   json={"credit_code": A, "role": "承租人", "area_m2": 2000.0, "start_date": "2023-06-01"})
    assert r.status_code == 422 and "同期承租面积" in r.json()["message"]
    r = world.call("POST", f"/api/parcels/{W2}/occupancies",
                   json={"credit_code": A, "role": "承租人", "area_m2": 2000.0, "start_date": "2024-01-01"})
    assert r.status_code == 201 and r.headers["location"] == f"/api/occupancies/{r.json()['id']}"


def test_ledgers_are_validated_and_a_refusal_writes_nothing(world):
    db = world.db
    before = counts(db)
    cases = [
        (f"/api/parcels/{C1}/contracts", {"contract_no": "XC-W1", "credit_code": B, "supply_method": "出让",
                                          "signed_date": "2020-01-01", "term_years": 50, "price_wan": 1.0,
                                          "agreed_start_date": "2020-02-01", "agreed_completion_date": "2021-01-01"},
         "contract_no", "已登记"),
        (f"/api/parcels/{C1}/contracts", {"contract_no": "XC-9", "credit_code": B, "supply_method": "出让",
                                          "signed_date": "2020-01-01", "term_years": 70, "price_wan": 1.0,
                                          "agreed_start_date": "2020-02-01", "agreed_completion_date": "2021-01-01"},
         "term_years", "50年"),
        (f"/api/parcels/{C1}/contracts", {"contract_no": "XC-9", "credit_code": B, "supply_method": "赠送",
                                          "signed_date": "2020-01-01", "term_years": 50, "price_wan": 1.0,
                                          "agreed_start_date": "2020-02-01", "agreed_completion_date": "2019-01-01"},
         "agreed_completion_date", "不能早于"),
        (f"/api/parcels/{C1}/agreements", {"contract_no": "XC-W1", "signed_date": "2020-01-01",
                                           "agreed_start_date": "2020-02-01", "agreed_completion_date": "2021-01-01",
                                           "agreed_production_date": "2022-01-01"},
         "contract_no", "没有编号"),
        (f"/api/parcels/{W1}/agreements", {"contract_no": "XC-W1", "signed_date": "2020-01-01",
                                           "agreed_start_date": "2020-02-01", "agreed_completion_date": "2021-01-01",
                                           "agreed_production_date": "2022-01-01", "green_ratio": 1.5},
         "green_ratio", "0到1"),
        (f"/api/parcels/{W1}/development", {}, "parcel_id", "已有开发建设情况"),
        (f"/api/parcels/{C1}/development", {"production_result": "通过", "production_date": "2022-01-01"},
         "production_result", "竣工验收通过之前"),
        (f"/api/parcels/{C1}/development", {"developed_area_m2": 1e9}, "developed_area_m2", "超过宗地面积"),
        (f"/api/parcels/{C1}/occupancies", {"credit_code": "91411082MA44ABCD1X", "role": "权利人", "area_m2": 1.0,
                                            "start_date": "2020-01-01"}, "enterprise_id", "未登记"),
        ("/api/enterprises", {"credit_code": "91110000600037341A", "name": "某公司", "county": "魏都区"},
         "credit_code", "校验位错误：应为 L"),
        ("/api/enterprises", {"credit_code": A, "name": "重复", "county": "魏都区"}, "credit_code", "已登记"),
        ("/api/enterprises", {"credit_code": "91110000600037341L", "name": "某公司", "county": "火星"},
         "county_id", "未知"),
    ]
    out = []
    for path, body, fld, words in cases:
        r = world.call("POST", path, json=body)
        problems = r.json().get("problems") or []
        if r.status_code != 422 or not any(p["field"] == fld and words in p["message"] for p in problems):
            out.append(f"POST {path} {body}: {r.status_code} {r.text[:300]}")
    assert out == [] and counts(db) == before


# --------------------------------------------------------------------------- registering parcels
def test_register_a_parcel_from_geojson(world):
    db = world.db
    wx, wy = zone_point(db, "魏都产业集聚区")
    geom = shapely.geometry.mapping(shapely.MultiPolygon([rectangle_around(wx - 0.006, wy - 0.004, 0.1, 0.1)]))
    body = {"code": "411002001001gb00777", "geometry": json.loads(json.dumps(geom)), "county": "411002",
            "zone": "高新技术产业园区", "location": HOSTILE, "state": "储备", "stated_area_m2": 10000.0,
            "inefficiency_categories": [], "is_standard_land": True, "reason": "标图入库"}
    r = world.call("POST", "/api/parcels", "weidu_zone", json=body)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["code"] == "411002001001GB00777" and got["version"] == 1 and r.headers["etag"] == '"1"'
    assert r.headers["location"] == "/api/parcels/411002001001GB00777"
    assert got["area_m2"] == pytest.approx(10000, rel=1e-3) and got["zone_name"] == "魏都产业集聚区"
    assert got["location"] == HOSTILE and got["is_standard_land"] is True and got["state"] == "reserve"
    # the text is data: stored and returned as given, and the tables are intact
    card = world.call("GET", "/api/parcels/411002001001GB00777", "weidu_zone")
    assert card.headers["content-type"].startswith("application/json") and card.json()["parcel"]["location"] == HOSTILE
    with db.engine.connect() as c:
        assert c.execute(text("SELECT location FROM parcels WHERE code = '411002001001GB00777'")).scalar() == HOSTILE
        assert c.execute(text("SELECT count(*) FROM parcels")).scalar() == 5
    created = world.call("GET", "/api/parcels/411002001001GB00777/history", "weidu_zone").json()["items"][0]
    assert created["actor"] == "weidu_zone" and created["reason"] == "标图入库"
    listed = world.call("GET", "/api/parcels", "weidu_zone", params={"sort": "-area_mu,code"}).json()
    assert [f["id"] for f in listed["features"]] == [W1, W2, "411002001001GB00777"]  # larger first, then by code


def test_parcel_list_sorts(world):
    codes = [f["id"] for f in world.call("GET", "/api/parcels", params={"sort": "-code"}).json()["features"]]
    assert codes == sorted([W1, W2, W3, C1], reverse=True)
    states = [f["properties"]["state"] for f in world.call("GET", "/api/parcels", params={"sort": "state,code"}).json()["features"]]
    assert states == sorted(states)
    r = world.call("GET", "/api/parcels", params={"sort": "geometry"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "sort"


# --------------------------------------------------------------------------- malformed input
def _bowtie(x, y):
    return {"type": "Polygon", "coordinates": [[[x, y], [x + 0.002, y + 0.002], [x + 0.002, y], [x, y + 0.002], [x, y]]]}


MALFORMED = [
    ("bad JSON", '{"code": "411002001001GB00900", "geometry": ', "请求体不是有效的 JSON"),
    ("NaN", '{"price_wan": NaN}', "应为有限数值"),
]


def test_malformed_parcel_bodies_get_clear_chinese_4xx_and_write_nothing(world):
    db = world.db
    wx, wy = zone_point(db, "魏都产业集聚区")
    good = {"code": "411002001001GB00900", "county": "魏都区", "zone": "魏都产业集聚区",
            "geometry": json.loads(json.dumps(shapely.geometry.mapping(rectangle_around(wx - 0.006, wy + 0.004, 0.1, 0.1))))}
    cases = [
        ({**good, "area_m2": 1}, "area_m2", "不允许的字段"),
        ({**good, "term_years": "50"}, "term_years", "应为整数"),
        ({**good, "term_years": 50.5}, "term_years", "应为整数"),
        ({**good, "price_wan": "100"}, "price_wan", "应为数值"),
        ({**good, "is_standard_land": "true"}, "is_standard_land", "布尔"),
        ({**good, "is_standard_land": 1}, "is_standard_land", "布尔"),
        ({**good, "supply_date": 20200101}, "supply_date", "YYYY-MM-DD"),
        ({**good, "supply_date": "2020-13-40"}, "supply_date", "日期"),
        ({**good, "location": 5}, "location", "应为文本"),
        ({**good, "location": "a\u0000b"}, "location", "空字符"),
        ({**good, "location": "长" * 301}, "location", "过长"),
        ({**good, "code": None}, "code", "应为文本"),
        ({k: v for k, v in good.items() if k != "geometry"}, "geometry", "缺少"),
        ({**good, "geometry": {"type": "Point", "coordinates": [wx, wy]}}, "geometry", "Polygon"),
        ({**good, "geometry": {"type": "Polygon", "coordinates": [[[wx, wy], [wx, wy + 0.001], [wx, wy]]]}},
         "geometry", "元素过少"),
        ({**good, "geometry": {"type": "Polygon", "coordinates": [[[wx, wy], [wx + 1, wy], [wx, "y"], [wx, wy]]]}},
         "geometry", "应为数值"),
        ({**good, "geometry": _bowtie(wx, wy)}, "geometry", "无效"),
        ({**good, "geometry": {"type": "Polygon", "coordinates": [[[440000, 3770000], [440100, 3770000],
                                                                  [440100, 3770100], [440000, 3770000]]]}},
         "geometry", "不是中国范围内的经纬度"),
        ({**good, "geometry": json.loads(json.dumps(shapely.geometry.mapping(
            rectangle_around(113.52, 34.15, 0.2, 0.2))))}, "county_id", "范围之外"),
        ({**good, "state": "<b>荒废</b>"}, "state", "无效"),
        ({**good, "code": "411082001001GB00900"}, "code", "不符"),
        ({**good, "code": W1}, "code", "已存在"),
        ({**good, "zone": "长葛市产业集聚区"}, None, None),  # outside the caller's scope: 403
    ]
    before = counts(db)
    out = []
    for body, fld, words in cases:
        r = world.call("POST", "/api/parcels", "weidu_zone", json=body)
        if fld is None:
            ok = r.status_code == 403 and r.json()["code"] == "forbidden"
        else:
            problems = r.json().get("problems") or []
            ok = r.status_code == 422 and any(fld in p["field"] and words in p["message"] for p in problems)
        if not ok:
            out.append(f"{fld}: {r.status_code} {r.text[:300]}")
    for label, raw, words in MALFORMED:
        r = world.call("POST", "/api/parcels", "weidu_zone", content=raw.encode(),
                       headers={"Content-Type": "application/json"})
        if r.status_code != 422 or words not in r.text:
            out.append(f"{label}: {r.status_code} {r.text[:300]}")
    r = world.call("POST", "/api/parcels", "weidu_zone", content=b"x" * (3 * 1024 * 1024),
                   headers={"Content-Type": "application/json"})
    if r.status_code != 413 or r.json()["code"] != "body_too_large":
        out.append(f"huge body: {r.status_code}")
    assert out == [] and counts(db) == before
    # The same for edits: nothing changes, the version stays.
    patches = [({"location": None}, "location"), ({"state": "荒废"}, "state"), ({"area_m2": 5}, "area_m2"),
               ({"geometry": _bowtie(wx, wy)}, "geometry"), ({"price_wan": -1.0}, "price_wan"),
               ({"green_ratio_max": 2.0}, "green_ratio_max"), ({"version": "1"}, "version")]
    for body, fld in patches:
        r = world.call("PATCH", f"/api/parcels/{W1}", "weidu_zone", json=body, headers={"If-Match": '"1"'})
        problems = r.json().get("problems") or []
        if r.status_code != 422 or not any(fld in p["field"] for p in problems):
            out.append(f"PATCH {body}: {r.status_code} {r.text[:300]}")
    assert out == [] and counts(db) == before and world.version(f"/api/parcels/{W1}") == 1


def test_text_that_looks_like_sql_or_html_is_stored_literally_everywhere(world):
    i = world.ids
    r = world.call("PATCH", f"/api/enterprises/{i['A']}", json={"name": HOSTILE, "version": 1})
    assert r.status_code == 200 and r.json()["name"] == HOSTILE
    r = world.call("POST", f"/api/parcels/{C1}/contracts", json={
        "contract_no": "<img src=x onerror=alert(1)>", "credit_code": B, "supply_method": "出让",
        "signed_date": "2020-01-01", "term_years": 50, "price_wan": 1.0, "agreed_start_date": "2020-02-01",
        "agreed_completion_date": "2021-01-01", "reason": "'; DELETE FROM change_log; --"})
    assert r.status_code == 201 and r.json()["contract_no"] == "<img src=x onerror=alert(1)>"
    assert world.call("GET", f"/api/enterprises/{i['A']}").json()["name"] == HOSTILE
    hist = world.call("GET", f"/api/parcels/{C1}/history", params={"sort": "-at"}).json()["items"]
    assert hist[0]["reason"] == "'; DELETE FROM change_log; --"
    found = world.call("GET", "/api/enterprises", params={"name": "DROP TABLE"}).json()["items"]
    assert [e["id"] for e in found] == [i["A"]]
    with world.db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM parcels")).scalar() == 4


def test_openapi_documents_the_registry_endpoints_in_chinese(world):
    spec = world.call("GET", "/openapi.json", None).json()
    paths = spec["paths"]
    expected = {
        "/api/parcels": {"get", "post"}, "/api/parcels/{code}": {"get", "patch"},
        "/api/parcels/{code}/history": {"get"}, "/api/enterprises": {"get", "post"},
        "/api/enterprises/{enterprise_id}": {"get", "patch"}, "/api/enterprises/{enterprise_id}/figures": {"get", "post"},
        "/api/parcels/{code}/occupancies": {"get", "post"}, "/api/occupancies/{occupancy_id}": {"get", "patch"},
        "/api/parcels/{code}/contracts": {"get", "post"}, "/api/contracts/{contract_id}": {"get", "patch"},
        "/api/parcels/{code}/agreements": {"get", "post"}, "/api/agreements/{agreement_id}": {"get", "patch"},
        "/api/parcels/{code}/development": {"get", "post", "patch"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for m in methods - {"get"} if path in ("/api/parcels", "/api/parcels/{code}") else methods:
            summary = paths[path][m].get("summary", "")
            assert any("\u4e00" <= ch <= "\u9fff" for ch in summary), (path, m, summary)
    schema = spec["components"]["schemas"]["ParcelCreate"]
    assert schema["additionalProperties"] is False
    patch = paths["/api/parcels/{code}"]["patch"]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in patch["parameters"])
    assert {"409", "428"} <= set(patch["responses"])


def test_unknown_records_and_hostile_keys_are_not_found(world):
    for path in ("/api/parcels/%00/history", "/api/parcels/" + "9" * 500 + "/occupancies",
                 "/api/parcels/411002001001GB00001%27%20OR%201=1/contracts"):
        r = world.call("GET", path)
        assert r.status_code == 404 and r.json()["code"] == "not_found", (path, r.text)
    assert world.call("GET", f"/api/occupancies/{2**31}").status_code == 422
    assert world.call("PATCH", "/api/parcels/411002001001GB99999", json={"location": "x", "version": 1}).status_code == 404
    with world.db.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(ChangeLog).where(ChangeLog.action == "conflict")).scalar() == 0
