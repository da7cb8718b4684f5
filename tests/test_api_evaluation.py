"""Evaluation runs, enterprise results, 公示 objections and verdicts over HTTP (issue 5): every
endpoint × role — scoped lists, 401/403/404 where due, nothing confidential to the public."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from conftest import PASSWORD, bearer
from landcycle.faces import routes_evaluation
from landcycle.services import accounts as accounts_service
from landcycle.services import evaluation
from landcycle.services.demo import generate_demo

ROLES = ("city", "weidu_admin", "changge_admin", "weidu_zone", "changge_zone", "tax_city")


def _one(db, sql, **params):
    with db.engine.connect() as c:
        return c.execute(text(sql), params).first()


def _all(db, sql, **params):
    with db.engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql), params)]


def _owner_in_zone(db, run_id, zone):
    """An enterprise evaluated in ``zone`` that is the evaluated land user of a parcel there:
    its credit code and that parcel's code."""
    return tuple(_one(db, """
        SELECT e.credit_code, p.code FROM parcel_evaluations r
        JOIN parcels p ON p.id = r.parcel_id JOIN jurisdictions z ON z.id = p.zone_id
        JOIN enterprises e ON e.id = r.owner_enterprise_id
        JOIN enterprise_evaluations x ON x.enterprise_id = e.id AND x.run_id = r.run_id
        WHERE r.run_id = :run AND z.name = :zone AND x.status = 'evaluated'
        ORDER BY e.credit_code, p.code LIMIT 1""", run=run_id, zone=zone))


def _visible_to(db, zone_names):
    """Credit codes of enterprises occupying a parcel in these zones (what scoping allows)."""
    names = ",".join(f"'{n}'" for n in zone_names)
    return {r[0] for r in _all(db, f"""
        SELECT DISTINCT e.credit_code FROM occupancies o JOIN parcels p ON p.id = o.parcel_id
        JOIN jurisdictions z ON z.id = p.zone_id JOIN enterprises e ON e.id = o.enterprise_id
        WHERE z.name IN ({names})""")}


@pytest.fixture
def world(api, db, accounts):
    """The demo data evaluated for 2020, the role accounts, and two enterprise accounts (one
    in 魏都产业集聚区, one in 长葛市产业集聚区)."""
    generate_demo(db, scale=300)
    run_id = evaluation.evaluate(db, 2020, actor="评价办").run_id
    weidu_ent, weidu_parcel = _owner_in_zone(db, run_id, "魏都产业集聚区")
    changge_ent, changge_parcel = _owner_in_zone(db, run_id, "长葛市产业集聚区")
    accounts_service.add_user(db, "ent_weidu", PASSWORD, "enterprise", enterprise=weidu_ent)
    accounts_service.add_user(db, "ent_changge", PASSWORD, "enterprise", enterprise=changge_ent)
    headers = {name: bearer(api, name) for name in (*ROLES, "ent_weidu", "ent_changge")}
    return {"run": run_id, "h": headers, "weidu_ent": weidu_ent, "weidu_parcel": weidu_parcel,
            "changge_ent": changge_ent, "changge_parcel": changge_parcel}


def get(api, w, who, url, **params):
    return api.get(url, params=params, headers=w["h"][who] if who else {})


def all_results(api, w, who, **params):
    out, offset = [], 0
    while True:
        page = get(api, w, who, f"/api/evaluations/{w['run']}/results", limit=1000, offset=offset, **params).json()
        out += page["items"]
        offset += len(page["items"])
        if offset >= page["total"]:
            return out


# --------------------------------------------------------------------------- runs
def test_runs_and_summaries_are_scoped(api, db, world):
    w, run = world, world["run"]
    assert get(api, w, None, "/api/evaluations").status_code == 401
    assert get(api, w, None, f"/api/evaluations/{run}").status_code == 401
    for who in (*ROLES, "ent_weidu"):
        listed = get(api, w, who, "/api/evaluations").json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == run and listed["items"][0]["year"] == 2020
    zones = {who: {z["name"] for z in get(api, w, who, f"/api/evaluations/{run}").json()["zones"]}
             for who in (*ROLES, "ent_weidu")}
    assert len(zones["city"]) >= 10 and zones["tax_city"] == zones["city"]
    assert zones["weidu_zone"] == {"魏都产业集聚区"} and zones["changge_zone"] == {"长葛市产业集聚区"}
    assert zones["changge_admin"] == {"长葛市产业集聚区", "长葛市大周再生金属循环产业集聚区"}
    assert "魏都产业集聚区" in zones["weidu_admin"] and not zones["weidu_admin"] & zones["changge_admin"]
    assert zones["ent_weidu"] == set()
    body = get(api, w, "weidu_zone", f"/api/evaluations/{run}").json()
    assert body["published"] is False and body["rulebook_version"] and body["inputs_fingerprint"]
    assert get(api, w, "city", "/api/evaluations/99999").status_code == 404


def test_running_an_evaluation_is_the_city_admins(api, db, world):
    w = world
    assert api.post("/api/evaluations", json={"year": 2020}).status_code == 401
    for who in ("weidu_admin", "weidu_zone", "tax_city", "ent_weidu"):
        r = api.post("/api/evaluations", json={"year": 2020}, headers=w["h"][who])
        assert r.status_code == 403 and r.json()["code"] == "forbidden", who
    assert api.post("/api/evaluations", json={"year": 2020, "x": 1}, headers=w["h"]["city"]).status_code == 422
    assert api.post("/api/evaluations", json={"year": 1800}, headers=w["h"]["city"]).status_code == 422
    assert _one(db, "SELECT count(*) FROM evaluation_runs")[0] == 1
    r = api.post("/api/evaluations", json={"year": 2020}, headers=w["h"]["city"])
    assert r.status_code == 201 and r.json()["id"] != w["run"] and r.json()["actor"] == "city"
    assert get(api, w, "city", "/api/evaluations", sort="-id").json()["items"][0]["id"] == r.json()["id"]


# --------------------------------------------------------------------------- results
def test_results_are_scoped_to_the_enterprises_a_caller_may_read(api, db, world):
    w = world
    assert get(api, w, None, f"/api/evaluations/{w['run']}/results").status_code == 401
    city = {r["credit_code"] for r in all_results(api, w, "city")}
    assert len(city) == _one(db, "SELECT count(*) FROM enterprise_evaluations WHERE run_id = :r", r=w["run"])[0]
    assert {r["credit_code"] for r in all_results(api, w, "tax_city")} == city
    weidu = {r["credit_code"] for r in all_results(api, w, "weidu_zone")}
    changge = {r["credit_code"] for r in all_results(api, w, "changge_zone")}
    assert weidu and changge and weidu < city and changge < city
    assert weidu == _visible_to(db, ["魏都产业集聚区"]) and changge == _visible_to(db, ["长葛市产业集聚区"])
    assert w["changge_ent"] not in weidu and w["weidu_ent"] not in changge
    own = all_results(api, w, "ent_weidu")
    assert [r["credit_code"] for r in own] == [w["weidu_ent"]]
    assert own[0]["tax_per_mu_wan"] is not None and set(own[0]["item_scores"]) >= {"tax_per_mu"}


def test_results_filters_sorting_and_paging(api, db, world):
    w, url = world, f"/api/evaluations/{world['run']}/results"
    c = all_results(api, w, "city", **{"class": "C"})
    assert c and {r["result_class"] for r in c} == {"C"}
    ne = all_results(api, w, "city", **{"class": "not_evaluated"})
    assert ne and {r["status"] for r in ne} == {"not_evaluated"} and ne[0]["status_label"] == "不参评"
    zone = all_results(api, w, "city", zone="魏都产业集聚区")
    assert zone and {r["zone_name"] for r in zone} == {"魏都产业集聚区"}
    county = all_results(api, w, "city", county="长葛市")
    assert {r["zone_name"] for r in county} <= {"长葛市产业集聚区", "长葛市大周再生金属循环产业集聚区", None}
    scores = [r["score"] for r in all_results(api, w, "city", sort="-score") if r["score"] is not None]
    assert scores == sorted(scores, reverse=True)
    page = get(api, w, "city", url, limit=5).json()
    assert len(page["items"]) == 5 and any(link["rel"] == "next" for link in page["links"])
    assert get(api, w, "city", url, **{"class": "X"}).status_code == 422
    assert get(api, w, "city", url, sort="tax_paid").status_code == 422
    assert get(api, w, "city", url, zone="火星产业集聚区").status_code == 422
    assert get(api, w, "city", "/api/evaluations/99999/results").status_code == 404


# --------------------------------------------------------------------------- 公示 and objections
def test_publicity_and_objections_by_role(api, db, world, monkeypatch):
    w, run = world, world["run"]
    h = w["h"]
    pub_url, obj_url = f"/api/evaluations/{run}/publish", f"/api/evaluations/{run}/objections"
    assert api.post(pub_url, json={"published_on": "2021-09-17"}).status_code == 401
    assert api.post(pub_url, json={"published_on": "2021-09-17"}, headers=h["weidu_admin"]).status_code == 403
    r = api.post(pub_url, json={"published_on": "2021-09-17"}, headers=h["city"])
    assert r.status_code == 200 and r.json()["objection_deadline"] == "2021-09-26"
    assert get(api, w, "weidu_zone", f"/api/evaluations/{run}").json()["published_on"] == "2021-09-17"

    monkeypatch.setattr(routes_evaluation, "_today", lambda: date(2021, 9, 22))
    mine = api.post(obj_url, json={"reason": "漏报退税减免"}, headers=h["ent_weidu"])
    assert mine.status_code == 201, mine.text
    assert mine.json()["credit_code"] == w["weidu_ent"] and mine.json()["filed_by"] == "ent_weidu"
    assert mine.json()["filed_on"] == "2021-09-22"
    other = api.post(obj_url, json={"enterprise": w["changge_ent"], "reason": "代他人"}, headers=h["ent_weidu"])
    assert other.status_code == 403
    assert api.post(obj_url, json={"enterprise": w["changge_ent"], "reason": "跨辖区"},
                    headers=h["weidu_zone"]).status_code == 404
    assert api.post(obj_url, json={"enterprise": w["weidu_ent"], "reason": "部门"},
                    headers=h["tax_city"]).status_code == 403
    assert api.post(obj_url, json={"enterprise": w["weidu_ent"], "reason": "匿名"}).status_code == 401
    theirs = api.post(obj_url, json={"enterprise": w["changge_ent"], "reason": "产值数据有误"},
                      headers=h["changge_zone"])
    assert theirs.status_code == 201 and theirs.json()["filed_by"] == "changge_zone"
    assert api.post(obj_url, json={"reason": " "}, headers=h["ent_changge"]).status_code == 422

    def listed(who):
        return [o["credit_code"] for o in get(api, w, who, obj_url).json()["items"]]

    assert sorted(listed("city")) == sorted([w["weidu_ent"], w["changge_ent"]])
    assert listed("ent_weidu") == [w["weidu_ent"]] and listed("ent_changge") == [w["changge_ent"]]
    assert listed("weidu_zone") == [w["weidu_ent"]] and listed("changge_zone") == [w["changge_ent"]]
    assert get(api, w, None, obj_url).status_code == 401
    assert get(api, w, "weidu_zone", f"/api/evaluations/{run}").json()["objections"]["pending"] == 1

    decide = f"/api/evaluations/objections/{mine.json()['id']}/decision"
    body = {"upheld": True, "reason": "税务局核实属实", "revised_class": "A"}
    assert api.post(decide, json=body, headers=h["weidu_admin"]).status_code == 403
    assert api.post(decide, json=body, headers=h["ent_weidu"]).status_code == 403
    assert api.post(decide, json={**body, "revised_class": "Z"}, headers=h["city"]).status_code == 422
    r = api.post(decide, json=body, headers=h["city"])
    assert r.status_code == 200 and r.json()["status"] == "upheld" and r.json()["decided_by"] == "city"
    [now] = all_results(api, w, "ent_weidu")
    assert (now["result_version"], now["result_class"]) == (2, "A") and "异议" in now["note"]
    assert api.post(decide, json=body, headers=h["city"]).json()["problems"][0]["code"] == "already_decided"
    monkeypatch.setattr(routes_evaluation, "_today", lambda: date(2021, 9, 27))
    late = api.post(obj_url, json={"reason": "逾期"}, headers=h["ent_changge"])
    assert late.status_code == 422 and late.json()["problems"][0]["code"] == "outside_window"


# --------------------------------------------------------------------------- verdicts
def test_verdicts_are_scoped(api, db, world):
    w = world
    parcel = "/api/verdicts/parcels/{}"
    enterprise = "/api/verdicts/enterprises/{}"
    assert get(api, w, None, parcel.format(w["weidu_parcel"])).status_code == 401
    assert get(api, w, None, enterprise.format(w["weidu_ent"])).status_code == 401
    ok = get(api, w, "city", parcel.format(w["weidu_parcel"])).json()
    assert [v["rule_id"] for v in ok["verdicts"]] == ["R1", "R3", "R4"] and ok["run"]["run_id"] == w["run"]
    for who in ("weidu_zone", "weidu_admin", "tax_city", "ent_weidu"):
        assert get(api, w, who, parcel.format(w["weidu_parcel"])).status_code == 200, who
        assert get(api, w, who, enterprise.format(w["weidu_ent"])).status_code == 200, who
    for who in ("changge_zone", "changge_admin", "ent_changge"):
        assert get(api, w, who, parcel.format(w["weidu_parcel"])).status_code == 404, who
        assert get(api, w, who, enterprise.format(w["weidu_ent"])).status_code == 404, who
    assert get(api, w, "ent_weidu", parcel.format(w["changge_parcel"])).status_code == 404
    assert get(api, w, "ent_weidu", enterprise.format(w["changge_ent"])).status_code == 404
    r = get(api, w, "ent_weidu", enterprise.format(w["weidu_ent"]), run=w["run"]).json()
    assert [v["rule_id"] for v in r["verdicts"]] == ["R1", "R2"] and w["weidu_ent"] in r["subject"]
    assert get(api, w, "city", parcel.format("411002001001GB99999")).status_code == 404
    assert get(api, w, "city", parcel.format(w["weidu_parcel"]), run=99999).status_code == 404


def test_openapi_documents_the_endpoints_with_chinese_summaries(api):
    spec = api.get("/openapi.json").json()
    for path, method in (("/api/evaluations", "get"), ("/api/evaluations/{run_id}/results", "get"),
                         ("/api/evaluations/{run_id}/objections", "post"), ("/api/imports", "post"),
                         ("/api/imports/dry-run", "post"), ("/api/exports/parcels", "get"),
                         ("/api/users/{username}", "patch"), ("/api/auth/password", "post"),
                         ("/api/verdicts/parcels/{code}", "get")):
        summary = spec["paths"][path][method]["summary"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in summary), (path, summary)
