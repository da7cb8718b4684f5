"""云上看地 API (issue 6): the published 年度可供土地清单 as a paged, filtered list and one parcel's
public page — only listed parcels, only public facts, the same for every caller — and the list
entries' change log; on SQLite and PostgreSQL/PostGIS over the demo world."""

from __future__ import annotations

import json
import re

import pytest
from conftest import bearer
from sqlalchemy import func, select

from landcycle.domain.access import PUBLIC_STATES
from landcycle.services import demo
from landcycle.storage.schema import ChangeLog, Enterprise, Jurisdiction, Parcel
from landcycle.storage.supply_schema import SupplyListEntry

CREDIT_CODE = re.compile(r"\b[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}\b")
#: Keys that would carry confidential data (DOMAIN.md §1) or name enterprises and people.
FORBIDDEN_KEYS = {"credit_code", "enterprise", "enterprise_id", "enterprise_name", "owner", "owner_name",
                  "tenant", "figures", "tax_paid", "tax_per_mu_wan", "output_per_mu_wan", "revenue",
                  "contract_no", "price_wan", "supply_date", "username", "actor", "display_name", "eval_class",
                  "verdicts", "occupancies", "contracts", "agreements", "history"}


@pytest.fixture
def world(db, api, accounts):
    result = demo.generate_demo(db)
    with db.reader() as s:
        listed = s.execute(select(Parcel.code, Parcel.area_mu, Parcel.land_source, Parcel.county_id, Parcel.zone_id)
                           .where(Parcel.state.in_(sorted(PUBLIC_STATES)))).all()
        hidden = set(s.scalars(select(Parcel.code).where(Parcel.state.not_in(sorted(PUBLIC_STATES)))))
        names = dict(s.execute(select(Jurisdiction.id, Jurisdiction.name)).all())
        enterprises = s.execute(select(Enterprise.credit_code, Enterprise.name)).all()
    return {"result": result, "listed": listed, "hidden": hidden, "names": names, "enterprises": enterprises}


def _keys(obj) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | set().union(*(_keys(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(_keys(v) for v in obj)) if obj else set()
    return set()


def test_the_list_holds_exactly_the_listed_parcels_with_their_entries(api, world):
    listed = world["listed"]
    assert world["result"].supply_entries == len(listed) > 10
    r = api.get("/api/supply", params={"limit": 1000})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(listed) and body["list_year"] == demo.DEMO_AS_OF.year
    assert {i["code"] for i in body["items"]} == {c for c, *_ in listed}
    assert body["total_area_mu"] == pytest.approx(sum(a for _, a, *_ in listed), abs=0.05)
    for item in body["items"]:
        assert item["list_year"] == demo.DEMO_AS_OF.year and item["expected_price_wan"] > 0
        assert item["suitable_industries"] and item["land_source_label"]
        w, s, e, n = item["bbox"]
        assert w < e and s < n
    # facets: every land source with its count, the industries present
    counts = {f["value"]: f["count"] for f in body["facets"]["land_sources"]}
    assert sum(counts.values()) == len(listed)
    assert {f["label"] for f in body["facets"]["land_sources"]} == {"增量", "批而未供", "闲置", "低效", "储备"}
    assert body["facets"]["industries"]
    # paging: 20 a page, next link, no overlap
    p1 = api.get("/api/supply", params={"limit": 20}).json()
    p2 = api.get("/api/supply", params={"limit": 20, "offset": 20}).json()
    assert len(p1["items"]) == 20 and any(link["rel"] == "next" for link in p1["links"])
    assert not {i["code"] for i in p1["items"]} & {i["code"] for i in p2["items"]}
    assert len(p1["items"]) + len(p2["items"]) == min(40, len(listed))


def test_filters_by_county_zone_area_source_industry_and_sort(api, world):
    listed, names = world["listed"], world["names"]
    county_id = listed[0][3]
    county = names[county_id]
    r = api.get("/api/supply", params={"county": county, "min_mu": 20, "max_mu": 80, "limit": 1000}).json()
    expected = {c for c, a, _, cid, _ in listed if cid == county_id and 20 <= a <= 80}
    assert {i["code"] for i in r["items"]} == expected
    assert all(i["county_name"] == county and 20 <= i["area_mu"] <= 80 for i in r["items"])
    zone_id = next(z for *_, z in listed if z is not None)
    r = api.get("/api/supply", params={"zone": names[zone_id], "limit": 1000}).json()
    assert {i["code"] for i in r["items"]} == {c for c, *_, z in listed if z == zone_id}
    for source, label in (("approved_unsupplied", "批而未供"), ("new", "增量")):
        want = {c for c, _, src, *_ in listed if src == source}
        for value in (source, label):
            got = api.get("/api/supply", params={"land_source": value, "limit": 1000}).json()
            assert {i["code"] for i in got["items"]} == want
    industry = api.get("/api/supply").json()["facets"]["industries"][0]
    got = api.get("/api/supply", params={"industry": industry["value"], "limit": 1000}).json()
    assert got["total"] == industry["count"] > 0
    assert all(industry["value"] in i["suitable_industries"] for i in got["items"])
    for wildcard in ("%", "_", "\\"):  # LIKE wildcards are matched literally
        assert api.get("/api/supply", params={"industry": wildcard}).json()["total"] == 0
    areas = [i["area_mu"] for i in api.get("/api/supply", params={"sort": "-area_mu", "limit": 1000}).json()["items"]]
    assert areas == sorted(areas, reverse=True)
    none = api.get("/api/supply", params={"min_mu": 1e6}).json()
    assert none["total"] == 0 and none["items"] == [] and none["total_area_mu"] == 0


@pytest.mark.parametrize("params, field", [
    ({"min_mu": 50, "max_mu": 10}, "max_mu"),
    ({"min_mu": -1}, "min_mu"),
    ({"min_mu": "许多"}, "min_mu"),
    ({"county": "不存在县"}, "county"),
    ({"zone": "不存在区"}, "zone"),
    ({"land_source": "天上掉的"}, "land_source"),
    ({"sort": "tax"}, "sort"),
    ({"limit": 0}, "limit"),
])
def test_bad_filters_are_422_naming_the_field_in_chinese(api, db, params, field):
    r = api.get("/api/supply", params=params)
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert any(p["field"] == field for p in problems), problems
    assert re.search(r"[\u4e00-\u9fff]", r.json()["message"])


def test_a_listed_parcels_page_has_every_public_fact_and_others_are_404(api, world):
    code = world["listed"][0][0]
    r = api.get(f"/api/supply/{code}")
    assert r.status_code == 200, r.text
    d = r.json()
    for key in ("area_mu", "plot_ratio_min", "plot_ratio_max", "building_density_min", "green_ratio_max",
                "height_limit_m", "expected_price_wan", "supply_conditions", "supply_procedure", "supply_cycle",
                "suitable_industries", "land_source_label", "contact_office", "contact_phone", "published_at"):
        assert d[key] not in (None, "", []), key
    assert d["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert re.fullmatch(r"0374-\d{8}", d["contact_phone"]) and "局" in d["contact_office"]
    standard = next(c for c, *_ in world["listed"]
                    if api.get(f"/api/supply/{c}").json()["is_standard_land"])
    rows = api.get(f"/api/supply/{standard}").json()["standard_indicators"]
    assert {r["key"] for r in rows} >= {"plot_ratio_min", "investment_intensity_min"}
    assert all(r["bound"] in "≥≤" and r["value"] > 0 for r in rows)
    hidden = min(world["hidden"])
    for missing in (hidden, "411002999999GB99999", "不存在"):
        r = api.get(f"/api/supply/{missing}")
        assert r.status_code == 404 and "可供土地" in r.json()["message"]


def test_nothing_confidential_and_the_same_answer_for_every_caller(api, world):
    code = world["listed"][0][0]
    urls = ["/api/supply?limit=1000", f"/api/supply/{code}"]
    ent_names = [n for _, n in world["enterprises"]]
    credit = {c for c, _ in world["enterprises"]}
    anonymous = {u: api.get(u).json() for u in urls}
    for user in ("city", "weidu_zone", "tax_city"):
        headers = bearer(api, user)
        for u in urls:
            body = api.get(u, headers=headers).json()
            body.pop("links", None)
            expected = dict(anonymous[u])
            expected.pop("links", None)
            assert body == expected, f"{u} differs for {user}"
    for u, body in anonymous.items():
        text = json.dumps(body, ensure_ascii=False)
        assert not _keys(body) & FORBIDDEN_KEYS, (u, _keys(body) & FORBIDDEN_KEYS)
        assert not set(CREDIT_CODE.findall(text)) & credit, u
        assert not set(re.findall(r"\b41\d{10}[A-Z]{2}\d{5}\b", text)) & world["hidden"], u
        assert not [n for n in ent_names if n in text], u
        for user in ("city", "weidu_zone", "tax_city"):  # no account (official) names either
            assert f'"{user}"' not in text


def test_entries_are_versioned_and_every_change_is_in_the_change_log(db, api, world):
    with db.reader() as s:
        n = s.scalar(select(func.count()).select_from(SupplyListEntry))
        logged = s.scalar(select(func.count()).select_from(ChangeLog)
                          .where(ChangeLog.entity == "supply_list_entries", ChangeLog.action == "create"))
        entry_id, code = s.execute(select(SupplyListEntry.id, Parcel.code)
                                   .join(Parcel, Parcel.id == SupplyListEntry.parcel_id)
                                   .order_by(SupplyListEntry.id)).first()
    assert n == logged == len(world["listed"])
    with db.transaction(actor="测试", reason="调整起始价") as s:
        e = s.get(SupplyListEntry, entry_id)
        e.expected_price_wan = 999.5
    with db.reader() as s:
        e = s.get(SupplyListEntry, entry_id)
        log = s.scalars(select(ChangeLog).where(ChangeLog.entity == "supply_list_entries",
                                                ChangeLog.entity_id == entry_id, ChangeLog.action == "update")).one()
        assert e.version == 2
        assert log.after["expected_price_wan"] == 999.5 and log.actor == "测试" and log.parcel_id == e.parcel_id
    assert api.get(f"/api/supply/{code}").json()["expected_price_wan"] == 999.5
    # No longer current (a later edition left it off): the parcel leaves the public view, though
    # still 可供 (publishing, not the state, decides — tests/test_supply_lists.py).
    with db.transaction(actor="测试") as s:
        s.get(SupplyListEntry, entry_id).is_current = False
    assert api.get(f"/api/supply/{code}").status_code == 404
    assert code not in {i["code"] for i in api.get("/api/supply", params={"limit": 1000}).json()["items"]}
