"""年度可供土地清单 editions (issue 8, item 4): compile, draft edits, review, publish, revise — and
publishing as the one thing that makes a parcel public (云上看地 list and page, the public API
parcel read, the ``supply`` tile layer, decoded with mapbox-vector-tile); on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json

import mapbox_vector_tile
import pytest
import shapely
from openpyxl import load_workbook
from sqlalchemy import func, select

from conftest import bearer, run_cli
from landcycle.domain.access import ANONYMOUS, Principal, Role
from landcycle.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.records import ParcelDraft
from landcycle.domain.vector_tiles import tiles_covering
from landcycle.services import registry, rules, supply, supply_lists, tiles
from landcycle.storage.lifecycle_schema import ParcelTransition
from landcycle.storage.schema import ChangeLog, Parcel
from landcycle.storage.supply_schema import SupplyList, SupplyListEntry

WEIDU_LAT = 34.045
CHANGGE_LON, CHANGGE_LAT = 113.780, 34.240
DOC = {"title": "关于许昌市2021年度可供土地清单的批复", "number": "许政文〔2021〕88号", "date": "2021-09-28"}
#: 魏都产业集聚区 parcels: n → state (the candidates: 储备, 批而未供, 可供, 闲置, 低效, 收回).
WEIDU = {1: "储备", 2: "批而未供", 3: "闲置", 4: "低效", 5: "收回", 6: "可供", 7: "正常运营", 8: "已供应"}
CHANGGE = {1: "储备", 2: "闲置", 3: "在建"}
CANDIDATE_LABELS = {"储备", "批而未供", "可供", "闲置", "低效", "收回"}


def weidu(n: int) -> str:
    return f"411002001001GB{n:05d}"


def changge(n: int) -> str:
    return f"411082001001GB{n:05d}"


@pytest.fixture
def world(db):
    drafts = [ParcelDraft(code=weidu(n), geometry=rectangle_around(113.805 + 0.003 * n, WEIDU_LAT, 0.2, 0.2),
                          county="魏都区", zone="魏都产业集聚区", location=f"魏都产业集聚区清单路{n}号", state=st,
                          inefficiency_categories=["产出未达标类"] if st == "低效" else [], is_standard_land=n == 1)
              for n, st in WEIDU.items()]
    drafts += [ParcelDraft(code=changge(n), geometry=rectangle_around(CHANGGE_LON + 0.003 * n, CHANGGE_LAT, 0.2, 0.2),
                           county="长葛市", zone="长葛市产业集聚区", state=st)
               for n, st in CHANGGE.items()]
    registry.register_parcels(db, drafts, actor="测试")
    return {d.code: d for d in drafts}


def _snapshot(db) -> tuple:
    """Everything a refused write must leave as it was."""
    with db.reader() as s:
        lists = s.execute(select(SupplyList.id, SupplyList.status, SupplyList.version).order_by(SupplyList.id)).all()
        entries = s.execute(select(SupplyListEntry.id, SupplyListEntry.parcel_id, SupplyListEntry.expected_price_wan,
                                   SupplyListEntry.is_current, SupplyListEntry.version)
                            .order_by(SupplyListEntry.id)).all()
        states = s.execute(select(Parcel.code, Parcel.state, Parcel.version).order_by(Parcel.code)).all()
        # refused attempts are filed (action conflict/denied); nothing else may be logged
        log = s.scalar(select(func.count()).select_from(ChangeLog)
                       .where(ChangeLog.action.not_in(("conflict", "denied"))))
    return lists, entries, states, log


def _publish(db, view, actor="测试", doc=DOC):
    v = supply_lists.submit(db, view["id"], actor, view["version"])
    return supply_lists.publish(db, view["id"], actor, v["version"], doc)


def _public_codes(api) -> set[str]:
    body = api.get("/api/supply", params={"limit": 1000}).json()
    return {i["code"] for i in body["items"]}


def _supply_tile_codes(db, world) -> set[str]:
    ts = {tiles_covering(shapely.Point(*d.geometry.centroid.coords[0]), 14)[0] for d in world.values()}
    out = set()
    for t in ts:
        data = tiles.render_tile(db, ANONYMOUS, "supply", *t)
        if data:
            for f in mapbox_vector_tile.decode(data)["supply"]["features"]:
                out.add(f["properties"]["code"])
    return out


# --------------------------------------------------------------------------- compile
def test_compile_picks_exactly_the_candidates_with_rulebook_defaults(db, world):
    city = supply_lists.compile_list(db, 2021, "411000", "测试")
    expected = {c for c, d in world.items() if d.state in CANDIDATE_LABELS}
    assert {e["code"] for e in city["entries"]} == expected and city["status"] == "draft" and city["edition"] == 1
    book = rules.load_rulebook().section("supply_list")
    with db.reader() as s:
        area = dict(s.execute(select(Parcel.code, Parcel.area_mu)).all())
    kinds = {"储备": ("reserve", "增量"), "批而未供": ("approved_unsupplied", "增量"), "可供": ("listed", "增量"),
             "闲置": ("idle", "存量"), "低效": ("inefficient", "存量"), "收回": ("reclaimed", "存量")}
    for e in city["entries"]:
        key, kind = kinds[world[e["code"]].state]
        assert e["category"] == key and e["category_label"].startswith(kind)
        terms = book["categories"][key]
        assert e["expected_price_wan"] == round(area[e["code"]] * terms["price_per_mu_wan"], 1)
        assert (e["supply_conditions"], e["supply_procedure"], e["supply_cycle"]) == (
            terms["conditions"], terms["procedure"], terms["cycle"])
        assert e["supply_method"] == terms["supply_method"] and not e["is_current"]
    # 标准地: the class's control floors of the rulebook in force for the parcel (county/zone tightening)
    std = next(e for e in city["entries"] if e["code"] == weidu(1))
    floors = rules.load_rulebook(["411002", "411000-Z10"]).section("standard_land")["classes"]["traditional_industry"]
    assert std["standard_land_class"] == "traditional_industry" and std["standard_indicators"]
    assert std["standard_indicators"] == {k: v for k, v in floors.items() if k in std["standard_indicators"]}
    assert "investment_intensity_min" in std["standard_indicators"]
    assert all(not e["standard_indicators"] for e in city["entries"] if e["code"] != weidu(1))
    # a county list: that county's candidates only (魏都产业集聚区 lies under 魏都区)
    county = supply_lists.compile_list(db, 2021, "魏都区", "测试")
    assert {e["code"] for e in county["entries"]} == {c for c in expected if c.startswith("411002")}
    # one open edition per year and jurisdiction
    before = _snapshot(db)
    with pytest.raises(ValidationFailed) as exc:
        supply_lists.compile_list(db, 2021, "411000", "测试")
    assert exc.value.problems[0].field == "status"
    for bad, field in ((1999, "year"), ("2021", "year")):
        with pytest.raises(ValidationFailed) as exc:
            supply_lists.compile_list(db, bad, "411000", "测试")
        assert exc.value.problems[0].field == field
    with pytest.raises(ValidationFailed) as exc:
        supply_lists.compile_list(db, 2022, "魏都产业集聚区", "测试")  # a zone publishes no list of its own
    assert exc.value.problems[0].field == "jurisdiction"
    assert _snapshot(db) == before


# --------------------------------------------------------------------------- draft edits
def test_draft_edits_versioned_and_bad_input_unchanged(db, world):
    v = supply_lists.compile_list(db, 2021, "魏都区", "测试")
    v = supply_lists.remove_entry(db, v["id"], weidu(3), "测试", v["version"])
    assert weidu(3) not in {e["code"] for e in v["entries"]}
    v = supply_lists.add_entry(db, v["id"], weidu(3), "测试", v["version"], {"expected_price_wan": 123.4})
    entry = next(e for e in v["entries"] if e["code"] == weidu(3))
    assert entry["expected_price_wan"] == 123.4 and entry["category"] == "idle"
    v = supply_lists.update_entry(db, v["id"], weidu(1), {"supply_cycle": "约 30 个工作日", "supply_method": "先租后让",
                                                         "suitable_industries": ["新材料"]}, "测试", v["version"])
    e1 = next(e for e in v["entries"] if e["code"] == weidu(1))
    assert (e1["supply_cycle"], e1["supply_method"], e1["suitable_industries"]) == (
        "约 30 个工作日", "lease_then_transfer", ["新材料"])
    before = _snapshot(db)
    with pytest.raises(Conflict):
        supply_lists.update_entry(db, v["id"], weidu(1), {"expected_price_wan": 1.0}, "测试", v["version"] - 1)
    bad = [({"expected_price_wan": -1}, "expected_price_wan"), ({"supply_method": "抢购"}, "supply_method"),
           ({"owner": "某公司"}, "owner"), ({"supply_cycle": "x" * 201}, "supply_cycle"),
           ({"standard_land_class": "高端类"}, "standard_land_class"),
           ({"standard_indicators": {"plot_ratio_min": 1.2, "tax_secret": 9}}, "standard_indicators")]
    for changes, field in bad:
        with pytest.raises(ValidationFailed) as exc:
            supply_lists.update_entry(db, v["id"], weidu(1), changes, "测试", v["version"])
        assert exc.value.problems[0].field == field and "宗地" in exc.value.problems[0].record
    for code in (weidu(7), changge(1)):  # not a candidate / another county's parcel
        with pytest.raises(ValidationFailed) as exc:
            supply_lists.add_entry(db, v["id"], code, "测试", v["version"])
        assert exc.value.problems[0].code == "not_candidate"
    with pytest.raises(ValidationFailed):
        supply_lists.add_entry(db, v["id"], weidu(1), "测试", v["version"])  # already on it
    for code in (changge(1), "411002\x00"):
        with pytest.raises(NotFound):
            supply_lists.remove_entry(db, v["id"], code, "测试", v["version"])
    with pytest.raises(ValidationFailed) as exc:  # returning needs a comment, and only from review
        supply_lists.return_list(db, v["id"], "测试", v["version"], " ")
    assert exc.value.problems[0].field == "comment"
    with pytest.raises(ValidationFailed) as exc:
        supply_lists.publish(db, v["id"], "测试", v["version"], DOC)  # a draft is not published
    assert exc.value.problems[0].field == "status"
    assert _snapshot(db) == before


# --------------------------------------------------------------------------- review and publish
def test_review_returns_with_comments_and_publish_needs_the_document(db, world):
    v = supply_lists.compile_list(db, 2021, "411000", "编制员")
    v = supply_lists.submit(db, v["id"], "编制员", v["version"])
    with pytest.raises(ValidationFailed):
        supply_lists.update_entry(db, v["id"], weidu(1), {"expected_price_wan": 1.0}, "测试", v["version"])
    v = supply_lists.return_list(db, v["id"], "审核员", v["version"], "请补充闲置土地处置进度")
    assert v["status"] == "draft" and v["steps"][-1]["comment"] == "请补充闲置土地处置进度"
    v = supply_lists.submit(db, v["id"], "编制员", v["version"])
    before = _snapshot(db)
    for doc, field in ((None, "document"), ({**DOC, "number": ""}, "document.number"),
                       ({**DOC, "date": "2021-13-01"}, "document.date"), ({k: v for k, v in DOC.items() if k != "title"},
                                                                           "document.title")):
        with pytest.raises(ValidationFailed) as exc:
            supply_lists.publish(db, v["id"], "审核员", v["version"], doc)
        assert exc.value.problems[0].field == field, exc.value.problems
    with pytest.raises(Conflict):
        supply_lists.publish(db, v["id"], "审核员", v["version"] - 1, DOC)
    assert _snapshot(db) == before
    v = supply_lists.publish(db, v["id"], "审核员", v["version"], DOC)
    assert v["status"] == "published" and v["document"] == DOC and v["published_by"] == "审核员"
    assert [s["step"] for s in v["steps"]] == ["compile", "submit", "return", "submit", "publish"]


def test_publishing_makes_exactly_the_edition_public_and_lists_the_increment(db, api, world):
    listed_before = {c for c, d in world.items() if d.state == "可供"}
    assert _public_codes(api) == listed_before  # nothing published yet: the parcels already 可供
    v = supply_lists.compile_list(db, 2021, "411000", "测试")
    for code in (weidu(2), changge(2)):  # the office keeps these off this year's list
        v = supply_lists.remove_entry(db, v["id"], code, "测试", v["version"])
    v = _publish(db, v)
    edition = {e["code"] for e in v["entries"]}
    assert edition == {weidu(1), weidu(3), weidu(4), weidu(5), weidu(6), changge(1)}
    assert _public_codes(api) == edition
    assert _supply_tile_codes(db, world) == edition
    for code in world:
        r = api.get(f"/api/parcels/{code}")
        assert r.status_code == (200 if code in edition else 404), code
        assert api.get(f"/api/supply/{code}").status_code == (200 if code in edition else 404)
    page = api.get(f"/api/supply/{weidu(3)}").json()
    assert page["supply_cycle"] == next(e for e in v["entries"] if e["code"] == weidu(3))["supply_cycle"]
    assert page["list_year"] == 2021 and page["category_label"] == "存量·闲置土地"
    # 增量 and 收回 parcels took their listing step with the list's document; 闲置/低效 kept their state
    with db.reader() as s:
        states = dict(s.execute(select(Parcel.code, Parcel.state)).all())
        steps = {(t.transition, t.documents[0]["number"]) for t in s.scalars(select(ParcelTransition))}
        n_steps = s.scalar(select(func.count()).select_from(ParcelTransition))
    assert states[weidu(1)] == states[weidu(5)] == states[changge(1)] == "listed"
    assert states[weidu(2)] == "approved_unsupplied"  # left off the list: not listed
    assert (states[weidu(3)], states[weidu(4)]) == ("idle", "inefficient")
    assert steps == {("list_for_supply", DOC["number"]), ("relist", DOC["number"])} and n_steps == 3
    # a parcel supplied meanwhile is no longer offered, though still on the edition
    with db.reader() as s:
        version = s.scalar(select(Parcel.version).where(Parcel.code == weidu(6)))
    with db.transaction(actor="测试") as s:
        s.scalar(select(Parcel).where(Parcel.code == weidu(6))).state = "supplied"
    assert version and _public_codes(api) == edition - {weidu(6)}
    assert _supply_tile_codes(db, world) == edition - {weidu(6)}


def test_new_edition_supersedes_and_history_keeps_both(db, api, world):
    first = _publish(db, supply_lists.compile_list(db, 2021, "411000", "测试"))
    first_entries = first["entries"]
    with pytest.raises(ValidationFailed) as exc:  # a published edition is never changed
        supply_lists.update_entry(db, first["id"], weidu(1), {"expected_price_wan": 1.0}, "测试", first["version"])
    assert exc.value.problems[0].code == "immutable"
    with pytest.raises(ValidationFailed):
        supply_lists.remove_entry(db, first["id"], weidu(1), "测试", first["version"])
    second = supply_lists.revise(db, first["id"], "测试", first["version"])
    assert second["edition"] == 2 and second["based_on_id"] == first["id"] and second["status"] == "draft"
    assert [(e["code"], e["expected_price_wan"]) for e in second["entries"]] == [
        (e["code"], e["expected_price_wan"]) for e in first_entries]
    second = supply_lists.remove_entry(db, second["id"], weidu(4), "测试", second["version"])
    second = supply_lists.update_entry(db, second["id"], weidu(3), {"expected_price_wan": 77.7}, "测试",
                                       second["version"])
    assert _public_codes(api) == {e["code"] for e in first_entries}  # the draft changes nothing public
    t = tiles_covering(shapely.Point(*world[weidu(4)].geometry.centroid.coords[0]), 14)[0]
    url = "/tiles/supply/{}/{}/{}.mvt".format(*t)

    def served(code):  # through the cached tile endpoint: a publication must reach it too
        data = api.get(url).content
        return data and code in {f["properties"]["code"]
                                 for f in mapbox_vector_tile.decode(data)["supply"]["features"]}

    assert served(weidu(4)) and served(weidu(4))  # (the second from the cache)
    second = _publish(db, second, doc={**DOC, "number": "许政文〔2021〕99号"})
    assert not served(weidu(4)) and served(weidu(3))
    public = {e["code"] for e in second["entries"]}
    assert weidu(4) not in public and _public_codes(api) == public == _supply_tile_codes(db, world)
    assert api.get(f"/api/parcels/{weidu(4)}").status_code == 404
    assert api.get(f"/api/supply/{weidu(3)}").json()["expected_price_wan"] == 77.7
    hist = supply_lists.history(db, "测试", year=2021)["items"]
    assert [(x["edition"], x["status"]) for x in hist] == [(2, "published"), (1, "superseded")]
    old = supply_lists.get_list(db, first["id"], "测试")
    assert old["superseded_by_id"] == second["id"] and old["current_entries"] == 0
    assert [(e["code"], e["expected_price_wan"]) for e in old["entries"]] == [
        (e["code"], e["expected_price_wan"]) for e in first_entries]
    # a county's own newer list replaces the city's entries of that county only
    county = supply_lists.compile_list(db, 2022, "魏都区", "测试")
    keep = {weidu(1), weidu(5)}
    for e in county["entries"]:
        if e["code"] not in keep:
            county = supply_lists.remove_entry(db, county["id"], e["code"], "测试", county["version"])
    _publish(db, county)
    expected = keep | {c for c in public if c.startswith("411082")}
    assert _public_codes(api) == expected == _supply_tile_codes(db, world)
    city = supply_lists.get_list(db, second["id"], "测试")
    assert city["status"] == "published" and city["current_entries"] == len(expected - keep)
    items = {i["code"]: i["list_year"] for i in api.get("/api/supply", params={"limit": 100}).json()["items"]}
    assert items == {c: 2022 if c in keep else 2021 for c in expected}


def test_excel_export_in_filing_layout(db, world):
    v = _publish(db, supply_lists.compile_list(db, 2021, "魏都区", "测试"))
    name, data = supply_lists.export_xlsx(db, v["id"], "测试")
    assert name.endswith("第1版.xlsx") and "魏都区" in name
    ws = load_workbook(io.BytesIO(data)).active
    header = [c.value for c in ws[4]]
    assert header[:10] == ["序号", "宗地代码", "坐落", "所属县(市、区)", "产业集聚区", "面积(亩)", "类别", "用途", "供地方式",
                           "成本/价格(万元)"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5, max_row=4 + v["entry_count"])]
    assert [r[1] for r in rows] == [e["code"] for e in v["entries"]] and [r[0] for r in rows] == list(
        range(1, len(rows) + 1))
    assert DOC["number"] in ws.cell(2, 1).value and ws.cell(5 + len(rows), 1).value == "合计"
    assert ws.cell(5 + len(rows), 6).value == pytest.approx(sum(r[5] for r in rows), abs=0.02)


# --------------------------------------------------------------------------- who may
def test_roles_and_jurisdictions_over_the_api(db, api, world, accounts):
    assert api.get("/api/supply-lists").status_code == 401
    assert api.post("/api/supply-lists", json={"year": 2021, "jurisdiction": "魏都区"}).status_code == 401
    weidu_admin, changge_admin = bearer(api, "weidu_admin"), bearer(api, "changge_admin")
    zone, city, tax = bearer(api, "weidu_zone"), bearer(api, "city"), bearer(api, "tax_city")
    for h in (zone, tax, changge_admin):
        r = api.post("/api/supply-lists", json={"year": 2021, "jurisdiction": "魏都区"}, headers=h)
        assert r.status_code == 403, r.text
    assert api.post("/api/supply-lists", json={"year": 2021, "jurisdiction": "411000"},
                    headers=weidu_admin).status_code == 403
    before = _snapshot(db)
    r = api.post("/api/supply-lists", json={"year": 2021, "jurisdiction": "魏都区", "owner": "x"}, headers=weidu_admin)
    assert r.status_code == 422 and _snapshot(db) == before
    r = api.post("/api/supply-lists", json={"year": 2021, "jurisdiction": "魏都区"}, headers=weidu_admin)
    assert r.status_code == 201, r.text
    lid, version = r.json()["id"], r.json()["version"]
    assert r.headers["etag"] == f'"{version}"' and r.headers["location"] == f"/api/supply-lists/{lid}"
    # the draft: its county admin and city-level accounts read it; another county gets 404
    assert api.get(f"/api/supply-lists/{lid}", headers=changge_admin).status_code == 404
    assert api.get(f"/api/supply-lists/{lid}", headers=zone).status_code == 404
    assert api.get(f"/api/supply-lists/{lid}", headers=tax).status_code == 200
    assert api.patch(f"/api/supply-lists/{lid}/entries/{weidu(1)}", json={"supply_cycle": "x", "version": version},
                     headers=changge_admin).status_code == 404
    assert api.patch(f"/api/supply-lists/{lid}/entries/{weidu(1)}", json={"supply_cycle": "x", "version": version},
                     headers=tax).status_code == 403
    assert api.patch(f"/api/supply-lists/{lid}/entries/{weidu(1)}", json={"supply_cycle": "x"},
                     headers=weidu_admin).status_code == 428
    r = api.patch(f"/api/supply-lists/{lid}/entries/{weidu(1)}", json={"supply_cycle": "约20个工作日"},
                  headers={**weidu_admin, "If-Match": f'"{version}"'})
    assert r.status_code == 200 and r.json()["version"] == version + 1
    r = api.delete(f"/api/supply-lists/{lid}/entries/{weidu(2)}", params={"version": version}, headers=weidu_admin)
    assert r.status_code == 409
    r = api.delete(f"/api/supply-lists/{lid}/entries/{weidu(2)}", params={"version": version + 1},
                   headers=weidu_admin)
    assert r.status_code == 200
    version = r.json()["version"]
    r = api.post(f"/api/supply-lists/{lid}/entries", json={"code": weidu(2), "expected_price_wan": 50.0,
                                                          "version": version}, headers=weidu_admin)
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    r = api.post(f"/api/supply-lists/{lid}/submit", json={"version": version}, headers=weidu_admin)
    assert r.status_code == 200
    version = r.json()["version"]
    r = api.post(f"/api/supply-lists/{lid}/publish", json={"version": version}, headers=weidu_admin)
    assert r.status_code == 422  # the approval document is required
    r = api.post(f"/api/supply-lists/{lid}/publish", json={"version": version, "document": DOC}, headers=zone)
    assert r.status_code == 404
    for h in (tax, changge_admin):  # a city department reads it but may not approve; another county: not its list
        r = api.post(f"/api/supply-lists/{lid}/publish", json={"version": version, "document": DOC}, headers=h)
        assert r.status_code == (403 if h is tax else 404)
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(ChangeLog).where(ChangeLog.action == "denied",
                                                                         ChangeLog.entity == "supply_lists")) >= 1
    r = api.post(f"/api/supply-lists/{lid}/publish", json={"version": version, "document": DOC}, headers=weidu_admin)
    assert r.status_code == 200, r.text  # a county publishes its own list first (000:757, 魏都)
    assert _public_codes(api) == {e["code"] for e in r.json()["entries"]}
    # published: every official reads it; an enterprise never reads the compilation
    for h in (changge_admin, zone):
        assert api.get(f"/api/supply-lists/{lid}", headers=h).status_code == 200
        assert api.get(f"/api/supply-lists/{lid}/export.xlsx", headers=h).status_code == 200
    assert api.get(f"/api/supply-lists/{lid}").status_code == 401
    ent = Principal(username="ent", role=Role.ENTERPRISE, enterprise_id=1)
    with pytest.raises(Forbidden):
        supply_lists.get_list(db, lid, ent)
    # the city admin revises it (the city office may act on any list)
    r = api.post(f"/api/supply-lists/{lid}/revise", json={"version": r.json()["version"]}, headers=city)
    assert r.status_code == 201 and r.json()["edition"] == 2
    hist = api.get("/api/supply-lists", params={"jurisdiction": "魏都区"}, headers=changge_admin).json()["items"]
    assert [x["edition"] for x in hist] == [1]  # another county does not see the new draft


def test_demo_publishes_its_list(db, api):
    from landcycle.services import demo

    result = demo.generate_demo(db)
    hist = supply_lists.history(db, "测试")["items"]
    assert len(hist) == 1 and hist[0]["status"] == "published" and hist[0]["entry_count"] == result.supply_entries
    with db.reader() as s:
        listed = set(s.scalars(select(Parcel.code).where(Parcel.state == "listed")))
    assert _public_codes(api) == listed and supply.list_supply(db, limit=1)["list_year"] == demo.DEMO_AS_OF.year


def test_cli_compiles_publishes_and_keeps_history(db, world, tmp_path):
    out = json.loads(run_cli(db.url, "supply-list", "compile", "--year", "2021", "--jurisdiction", "魏都区",
                             "--json").output)
    lid, v = str(out["id"]), out["version"]
    run_cli(db.url, "supply-list", "remove", lid, weidu(4), "--version", str(v))
    run_cli(db.url, "supply-list", "add", lid, weidu(4), "--version", str(v + 1), "--price", "88.8")
    bad = run_cli(db.url, "supply-list", "publish", lid, "--version", str(v + 2), "--document", DOC["title"],
                  "--number", DOC["number"], "--date", DOC["date"], check=False)
    assert bad.exit_code == 2 and "待审核" in bad.output  # not submitted yet
    run_cli(db.url, "supply-list", "submit", lid, "--version", str(v + 2))
    bad = run_cli(db.url, "supply-list", "publish", lid, "--version", str(v + 3), "--document", DOC["title"],
                  "--number", " ", "--date", DOC["date"], check=False)
    assert bad.exit_code == 2 and "document.number" in bad.output
    res = run_cli(db.url, "supply-list", "publish", lid, "--version", str(v + 3), "--document", DOC["title"],
                  "--number", DOC["number"], "--date", DOC["date"])
    assert "已公布" in res.output
    xlsx = tmp_path / "list.xlsx"
    shown = json.loads(run_cli(db.url, "supply-list", "show", lid, "--json", "--xlsx", str(xlsx)).output.split("\n已导出")[0])
    assert shown["status"] == "published" and xlsx.stat().st_size > 0
    assert next(e for e in shown["entries"] if e["code"] == weidu(4))["expected_price_wan"] == 88.8
    run_cli(db.url, "supply-list", "revise", lid)
    hist = json.loads(run_cli(db.url, "supply-list", "history", "--json").output)["items"]
    assert [(x["edition"], x["status"]) for x in hist] == [(2, "draft"), (1, "published")]


def test_summaries_split_the_entries_into_increment_and_stock(db, world):
    """by_kind of a summary (what the editions page shows without reading every edition)
    adds up the entries as the list prints them: 增量 = 储备/批而未供/续列, 存量 = 闲置/低效/收回."""
    v = supply_lists.compile_list(db, 2021, "魏都区", "测试")
    want = {"增量": [0, 0.0], "存量": [0, 0.0]}
    for e in v["entries"]:
        kind = "存量" if e["state"] in ("idle", "inefficient", "reclaimed") else "增量"
        want[kind][0] += 1
        want[kind][1] += e["area_mu"]
    got = v["by_kind"]
    assert {k: (x["entries"], x["area_mu"]) for k, x in got.items()} == {
        k: (n, pytest.approx(mu, abs=1e-6)) for k, (n, mu) in want.items()}
    assert got["增量"]["entries"] > 0 and got["存量"]["entries"] > 0
    assert got["增量"]["entries"] + got["存量"]["entries"] == v["entry_count"]
    [listed] = [x for x in supply_lists.history(db, "测试", year=2021)["items"] if x["id"] == v["id"]]
    assert listed["by_kind"] == got
