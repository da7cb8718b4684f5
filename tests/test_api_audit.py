"""The audit trail over HTTP (issue 5): who may read which entries, filters and paging, the
per-user trail, append-only at the API and in the database, and two real clients editing one
parcel at once — exactly one wins, the other gets 409, the trail shows both. Both backends."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import text

from conftest import PASSWORD
from live import live_server
from test_api_registry import C1, W1, W2, W3, build_world



@pytest.fixture
def world(db, api, accounts):
    return build_world(db, api)


def log_count(db) -> int:
    with db.engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM change_log")).scalar()


def all_entries(world, user="city", **params) -> list[dict]:
    out, offset = [], 0
    while True:
        r = world.call("GET", "/api/audit", user, params={**params, "limit": 1000, "offset": offset})
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["items"]
        offset += len(page["items"])
        if offset >= page["total"]:
            return out


def test_who_reads_which_entries(world):
    db = world.db
    everything = all_entries(world)
    assert len(everything) == log_count(db)
    assert {"enterprises", "enterprise_figures", "users", "parcels", "occupancies", "supply_contracts",
            "performance_agreements", "parcel_developments"} <= {e["entity"] for e in everything}
    scoped = {"weidu_admin": {W1, W2, W3}, "weidu_zone": {W1, W2}, "changge_admin": {C1}, "changge_zone": {C1}}
    for user, parcels in scoped.items():
        entries = all_entries(world, user)
        assert entries and {e["parcel_code"] for e in entries} == parcels, user
        assert len(entries) == sum(1 for e in everything if e["parcel_code"] in parcels), user
    for user in ("tax_city", "weidu_tax", "ent_a"):
        r = world.call("GET", "/api/audit", user)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", user
    r = world.call("GET", "/api/audit", None)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    # one entry by id: inside the scope only
    c1_entry = next(e for e in everything if e["parcel_code"] == C1)
    assert world.call("GET", f"/api/audit/{c1_entry['id']}", "changge_zone").json() == c1_entry
    assert world.call("GET", f"/api/audit/{c1_entry['id']}", "weidu_zone").status_code == 404
    enterprise_entry = next(e for e in everything if e["entity"] == "enterprises")
    assert world.call("GET", f"/api/audit/{enterprise_entry['id']}", "weidu_admin").status_code == 404
    assert world.call("GET", f"/api/audit/{enterprise_entry['id']}").status_code == 200
    assert world.call("GET", "/api/audit/999999").status_code == 404


def test_entries_show_who_when_what_and_the_values(world):
    # a state change goes through the lifecycle machine (issue 7); its parcel update is in the trail
    r = world.call("POST", f"/api/parcels/{W1}/transitions", "weidu_zone", json={
        "transition": "list_for_supply", "version": 1, "reason": "纳入年度可供土地清单",
        "documents": [{"kind": "supply_list_approval", "title": "年度可供土地清单", "number": "许政〔2021〕1号",
                       "date": "2021-09-01"}]})
    assert r.status_code == 200, r.text
    [entry] = world.call("GET", "/api/audit", params={"actor": "weidu_zone"}).json()["items"]
    assert entry["actor"] == "weidu_zone" and entry["action"] == "update" and entry["action_label"] == "修改"
    assert entry["entity"] == "parcels" and entry["entity_label"] == "宗地" and entry["parcel_code"] == W1
    assert entry["reason"] == "纳入年度可供土地清单"
    assert entry["summary"] == "修改宗地：土地状态：批而未供 → 可供"
    assert entry["before"] == {"state": "approved_unsupplied", "version": 1}
    assert entry["after"] == {"state": "listed", "version": 2}
    at = datetime.fromisoformat(entry["at"])
    assert at.tzinfo is not None and abs(datetime.now(timezone.utc) - at) < timedelta(minutes=5)


def test_filters_sorting_and_paging(world):
    db = world.db
    world.call("PATCH", f"/api/parcels/{W1}", "weidu_zone", json={"location": "甲", "version": 1})
    world.call("PATCH", f"/api/parcels/{W1}", "weidu_admin", json={"location": "乙", "version": 1})  # stale
    everything = all_entries(world)

    def ids(**params):
        return [e["id"] for e in all_entries(world, **params)]

    assert ids(entity="宗地") == ids(entity="parcels") == [e["id"] for e in everything if e["entity"] == "parcels"]
    assert ids(action="conflict") == ids(action="版本冲突被拒绝")
    [conflict] = all_entries(world, action="conflict")
    assert conflict["actor"] == "weidu_admin" and conflict["parcel_code"] == W1
    assert conflict["after"] == {"location": "乙", "version": 1} and conflict["before"]["location"] == "甲"
    assert ids(parcel=W1.lower()) == [e["id"] for e in everything if e["parcel_code"] == W1]
    assert ids(actor="weidu_zone", parcel=W1, entity="parcels", action="update") == \
        [e["id"] for e in everything if e["actor"] == "weidu_zone"]
    assert ids(entity="账号") == ids(entity="users") and len(ids(entity="users")) == 8  # the accounts made
    assert ids(actor="nobody") == []
    # newest first by default; sort=at oldest first; limit/offset with next/prev links
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    asc = world.call("GET", "/api/audit", params={"sort": "at", "limit": 5}).json()
    assert [e["id"] for e in asc["items"]] == sorted(e["id"] for e in everything)[:5]
    assert asc["total"] == len(everything) == log_count(db)
    nxt = next(link["href"] for link in asc["links"] if link["rel"] == "next")
    second = world.call("GET", nxt).json()
    assert [e["id"] for e in second["items"]] == sorted(e["id"] for e in everything)[5:10]
    assert any(link["rel"] == "prev" for link in second["links"])
    # time range: inclusive, ISO 8601; a time without a zone is 北京时间
    newest = everything[0]
    at = datetime.fromisoformat(newest["at"])
    assert newest["id"] in ids(since=at.isoformat(), until=at.isoformat())
    assert newest["id"] not in ids(until=(at - timedelta(seconds=1)).isoformat())
    local = at.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
    assert newest["id"] in ids(since=local.isoformat())
    assert newest["id"] not in ids(since=(local + timedelta(seconds=1)).isoformat())
    assert ids(since=(at + timedelta(hours=1)).isoformat()) == []
    # bad filters: clear 422s naming the field
    for params, fld in (({"entity": "火星"}, "entity"), ({"action": "erase"}, "action"),
                        ({"since": "昨天"}, "since"), ({"sort": "before"}, "sort"), ({"actor": "a\x00b"}, "actor"),
                        ({"since": at.isoformat(), "until": (at - timedelta(days=1)).isoformat()}, "since")):
        r = world.call("GET", "/api/audit", params=params)
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == fld, (params, r.text)


def test_a_users_own_trail(world):
    world.call("PATCH", f"/api/parcels/{W1}", "weidu_zone", json={"location": "甲", "version": 1})
    world.call("PATCH", f"/api/parcels/{C1}", "changge_zone", json={"location": "乙", "version": 1})
    mine = world.call("GET", "/api/users/weidu_zone/audit", "weidu_zone").json()
    assert mine["total"] == 1 and mine["items"][0]["parcel_code"] == W1
    assert world.call("GET", "/api/users/weidu_zone/audit").json() == mine  # the city administrator
    # nobody else, whatever their rank; the public is asked to sign in
    for user in ("weidu_admin", "changge_zone", "tax_city", "ent_a"):
        r = world.call("GET", "/api/users/weidu_zone/audit", user)
        assert r.status_code == 403 and "本人" in r.json()["message"], user
    assert world.call("GET", "/api/users/weidu_zone/audit", None).status_code == 401
    # users with no writes have an empty trail; an unknown user is not found
    assert world.call("GET", "/api/users/ent_a/audit", "ent_a").json()["total"] == 0
    assert world.call("GET", "/api/users/ghost/audit").status_code == 404
    # the trail of an actor without an account (imports, the CLI) is there for the city
    assert world.call("GET", "/api/users/测试/audit").json()["total"] > 0
    r = world.call("GET", "/api/users/weidu_zone/audit", "weidu_zone", params={"entity": "企业"})
    assert r.status_code == 200 and r.json()["total"] == 0


AUDIT_PATHS = ["/api/audit", "/api/audit/1", "/api/users/city/audit", f"/api/parcels/{W1}/history"]


def test_the_api_cannot_change_or_delete_the_trail(world):
    db = world.db
    before = log_count(db)
    with db.engine.connect() as c:
        first = c.execute(text("SELECT id, actor, action FROM change_log ORDER BY id LIMIT 1")).one()
    for path in AUDIT_PATHS:
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            r = world.call(method, path, json={"actor": "x"})
            assert r.status_code == 405 and r.json()["code"] == "method_not_allowed", (method, path, r.status_code)
    paths = world.call("GET", "/openapi.json", None).json()["paths"]
    for path in ("/api/audit", "/api/audit/{entry_id}", "/api/users/{username}/audit", "/api/parcels/{code}/history"):
        assert set(paths[path]) == {"get"}, path
    assert log_count(db) == before
    with db.engine.connect() as c:
        assert tuple(c.execute(text("SELECT id, actor, action FROM change_log ORDER BY id LIMIT 1")).one()) == tuple(first)


def test_the_database_refuses_to_change_or_delete_the_trail(world):
    db = world.db
    before = log_count(db)
    statements = ["UPDATE change_log SET actor = 'someone else'", "DELETE FROM change_log",
                  "UPDATE change_log SET after = NULL WHERE entity = 'parcels'"]
    if db.dialect == "postgresql":
        statements.append("TRUNCATE change_log")
    for sql in statements:
        with pytest.raises(Exception, match="只能追加"):
            with db.engine.begin() as c:
                c.execute(text(sql))
    assert log_count(db) == before
    assert world.call("GET", "/api/audit", params={"actor": "someone else"}).json()["total"] == 0


def test_concurrent_edits_one_wins_the_other_gets_409_and_the_trail_shows_both(world, tmp_path):
    """Two clients over real HTTP (the production server, ``landcycle serve``) PATCH the same
    parcel at the same version at the same moment, round after round."""
    rounds = 5
    with live_server(world.db.url, log_dir=tmp_path) as base:
        tokens = {}
        for user in ("weidu_zone", "weidu_admin"):
            r = httpx.post(f"{base}/api/auth/login", json={"username": user, "password": PASSWORD}, timeout=30)
            assert r.status_code == 200, r.text
            tokens[user] = r.json()["token"]
        outcomes = []
        for n in range(rounds):
            version = n + 1
            barrier = threading.Barrier(2)
            results: dict[str, httpx.Response] = {}

            def edit(user: str) -> None:
                with httpx.Client(base_url=base, timeout=60,
                                  headers={"Authorization": f"Bearer {tokens[user]}"}) as client:
                    barrier.wait()
                    results[user] = client.patch(f"/api/parcels/{W1}", json={"location": f"{user} 第{n}轮"},
                                                 headers={"If-Match": f'"{version}"'})

            threads = [threading.Thread(target=edit, args=(u,)) for u in tokens]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert sorted(r.status_code for r in results.values()) == [200, 409], \
                {u: (r.status_code, r.text[:200]) for u, r in results.items()}
            winner = next(u for u, r in results.items() if r.status_code == 200)
            loser = next(u for u, r in results.items() if r.status_code == 409)
            assert results[winner].json()["version"] == version + 1
            assert results[winner].headers["etag"] == f'"{version + 1}"'
            current = results[loser].json()["current"]
            assert current["version"] == version + 1 and current["location"] == f"{winner} 第{n}轮"
            outcomes.append((version, winner, loser))
        with httpx.Client(base_url=base, timeout=60,
                          headers={"Authorization": f"Bearer {tokens['weidu_admin']}"}) as client:
            card = client.get(f"/api/parcels/{W1}").json()
            trail = client.get("/api/audit", params={"parcel": W1, "entity": "parcels", "sort": "at,id"}).json()
    assert card["parcel"]["version"] == rounds + 1
    assert card["parcel"]["location"] == f"{outcomes[-1][1]} 第{rounds - 1}轮"
    attempts = [e for e in trail["items"] if e["action"] in ("update", "conflict")]
    assert len(attempts) == 2 * rounds
    for version, winner, loser in outcomes:
        [won] = [e for e in attempts if e["action"] == "update" and e["before"]["version"] == version]
        [lost] = [e for e in attempts if e["action"] == "conflict" and e["after"]["version"] == version]
        assert won["actor"] == winner and won["after"]["location"] == f"{winner} 第{version - 1}轮"
        assert lost["actor"] == loser and lost["after"]["location"] == f"{loser} 第{version - 1}轮"
        assert lost["before"]["version"] == version + 1  # the record as it stood when refused
        assert "版本冲突" in lost["summary"]


def test_both_pass_the_version_check_before_either_writes(world, monkeypatch):
    """The race the read-time check cannot see: both requests read version 1 and pass the check
    before either writes. The database's versioned UPDATE lets exactly one through; the other is
    answered 409 with the winner's record, and the trail shows both."""
    from landcycle.services import audit

    barrier = threading.Barrier(2, timeout=30)
    real_check = audit.check_version

    def check_then_wait(s, obj, expected, what, key, view):
        real_check(s, obj, expected, what, key, view)
        barrier.wait()  # both have read version 1 and passed; now both write

    monkeypatch.setattr(audit, "check_version", check_then_wait)
    headers = {u: world.headers(u) for u in ("weidu_zone", "weidu_admin")}
    results = {}

    def edit(user):
        results[user] = world.api.patch(f"/api/parcels/{W1}", json={"location": user, "version": 1},
                                        headers=headers[user])

    threads = [threading.Thread(target=edit, args=(u,)) for u in headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    monkeypatch.setattr(audit, "check_version", real_check)
    assert sorted(r.status_code for r in results.values()) == [200, 409], \
        {u: (r.status_code, r.text[:300]) for u, r in results.items()}
    winner = next(u for u, r in results.items() if r.status_code == 200)
    loser = next(u for u, r in results.items() if r.status_code == 409)
    assert results[loser].json()["current"] == results[winner].json()
    assert world.call("GET", f"/api/parcels/{W1}").json()["parcel"]["location"] == winner
    trail = all_entries(world, parcel=W1, entity="parcels", sort="at,id")
    assert [(e["action"], e["actor"]) for e in trail] == [("create", "测试"), ("update", winner), ("conflict", loser)]


def test_a_write_refused_for_want_of_the_right_is_on_file_and_changes_nothing(world):
    """A department may read the city's parcels but not edit them: 403, the parcel unchanged,
    and the attempt in the trail as ``denied`` (who, what was attempted, the record as it stood)."""
    before = world.call("GET", f"/api/parcels/{W1}", "city").json()["parcel"]
    r = world.call("PATCH", f"/api/parcels/{W1}", "tax_city", json={"location": "擅改", "version": 1})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert world.call("GET", f"/api/parcels/{W1}", "city").json()["parcel"] == before
    [denied] = all_entries(world, action="denied")
    assert denied["actor"] == "tax_city" and denied["parcel_code"] == W1
    assert denied["after"] == {"location": "擅改", "version": 1}
    assert denied["before"]["location"] == before["location"]
    assert denied["summary"].startswith("修改宗地被拒绝（无权限）")
    assert all_entries(world, action="无权限被拒绝") == [denied]
