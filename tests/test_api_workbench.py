"""The workbench's reads (issue 6): 预警, 驾驶舱, the ledger filters and totals — the formulas at
their boundaries (domain) and the API on both backends, scoped like parcel reads."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pytest
from sqlalchemy import func, select

from conftest import PASSWORD, bearer
from landcycle.domain import progress
from landcycle.domain.rules import idle as idle_rule
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.data import DATA_DIR
from landcycle.services import accounts as accounts_service
from landcycle.services import evaluation
from landcycle.services.audit import local_today
from landcycle.services.demo import DEMO_AS_OF, generate_demo
from landcycle.storage.disposal_schema import DisposalEntry
from landcycle.storage.schema import (
    Enterprise,
    Jurisdiction,
    Occupancy,
    Parcel,
    ParcelDevelopment,
    PerformanceAgreement,
    SupplyContract,
)

RB = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
IDLE = RB.section("idle")
LEADS = [30, 7]


# =========================================================================== 消化处置率 (domain)
def test_disposal_rate_exactly_the_goal_meets_it():
    r = progress.disposal_rate(100.0, 60.0, 0.6)
    assert r.rate == pytest.approx(0.6) and r.met is True and r.label == "60.0%"
    # areas that only approximate 60% in floating point still meet it (0.3/0.5 == 0.6 within RATE_EPS)
    assert progress.disposal_rate(0.5, 0.3, 0.6).met is True
    assert progress.disposal_rate(3, 1.8, 0.6).met is True


def test_disposal_rate_just_below_the_goal_fails():
    r = progress.disposal_rate(100.0, 59.99, 0.6)
    assert r.met is False and r.label == "60.0%"  # shown rounded, judged exactly
    assert progress.disposal_rate(100.0, 0.0, 0.6).met is False


def test_disposal_rate_with_nothing_identified_is_no_data_not_zero():
    r = progress.disposal_rate(0.0, 0.0, 0.6)
    assert r.rate is None and r.met is None and r.label == "无数据"
    assert r.to_dict() == {"identified": 0.0, "disposed": 0.0, "goal": 0.6, "rate": None, "met": None,
                           "label": "无数据"}


def test_disposal_rate_refuses_impossible_inputs():
    with pytest.raises(ValueError):
        progress.disposal_rate(10.0, 11.0, 0.6)
    with pytest.raises(ValueError):
        progress.disposal_rate(-1.0, 0.0, 0.6)


def test_tax_target_verdict_tiers():
    assert progress.tax_target_verdict(19.99, 20, 30) == "below"
    assert progress.tax_target_verdict(20, 20, 30) == "met"
    assert progress.tax_target_verdict(30, 20, 30) == "met"
    assert progress.tax_target_verdict(30.01, 20, 30) == "above"
    assert progress.tax_target_verdict(99, 15, None) == "met"  # "≥15" has no top
    assert progress.tax_target_verdict(None, 15, None) == "unknown"


# =========================================================================== deadlines (domain)
def _facts(**cols):
    n = len(next(iter(cols.values())))
    nat = np.full(n, np.datetime64("NaT", "D"))
    base = dict(agreed_start=nat, agreed_completion=nat, agreed_production=nat, actual_start=nat,
                stopped_since=nat, developed_ratio=np.full(n, np.nan), investment_ratio=np.full(n, np.nan),
                completion_result=np.array(["pending"] * n, dtype=object), completion_date=nat,
                production_result=np.array(["pending"] * n, dtype=object), production_date=nat)
    for k, v in cols.items():
        base[k] = np.array(v, dtype=object) if k.endswith("result") else (
            np.array(v, dtype="datetime64[D]") if "date" in k or "start" in k or "since" in k or "agreed" in k
            else np.array(v, dtype=float))
    return progress.DeadlineFacts(**base)


def _shown(facts, as_of):
    dl = progress.open_deadlines(facts, as_of, IDLE, 2, LEADS)
    return [(progress.KINDS[k], str(d), int(left), sev) for k, d, left, sev in
            zip(dl.kind, dl.due, dl.days_left, dl.severity)]


def test_unstarted_parcel_walks_the_r3_chain_one_step_at_a_time():
    f = _facts(agreed_start=["2020-03-01"], agreed_completion=["2022-03-01"])
    # 30 days before the agreed start: upcoming
    assert _shown(f, date(2020, 1, 31)) == [("start", "2020-03-01", 30, "upcoming")]
    # 31 days before: beyond the largest lead, nothing
    assert _shown(f, date(2020, 1, 30)) == []
    # start passed: overdue, the 闲置费 anniversary 7 days ahead is urgent
    assert _shown(f, date(2021, 2, 22)) == [("start", "2020-03-01", -358, "overdue"),
                                            ("idle_fee", "2021-03-01", 7, "urgent")]
    # on the anniversary itself the year is full (满一年 includes the day): due today, not overdue
    assert _shown(f, date(2021, 3, 1))[-1] == ("idle_fee", "2021-03-01", 0, "urgent")
    # past both anniversaries: only the last passed step remains (start and fee are superseded)
    assert _shown(f, date(2022, 3, 5)) == [("idle_reclaim", "2022-03-01", -4, "overdue")]


def test_r3_due_dates_agree_with_the_scalar_rule():
    """The anniversaries are R3's own (check_idle's fee/reclaim due dates), 29 Feb included."""
    for start in ("2020-02-29", "2019-06-30", "2021-01-31", "2019-12-31"):
        arr = np.array([start], dtype="datetime64[D]")
        v = idle_rule.check_idle(idle_rule.IdleCase(agreed_start_date=date.fromisoformat(start),
                                                    as_of=date.fromisoformat(start)), RB)
        assert str(progress.anniversaries(arr, 1)[0]) == v.figures["fee_due_date"]
        assert str(progress.anniversaries(arr, 2)[0]) == v.figures["reclaim_due_date"]
    assert str(progress.anniversaries(np.array(["2020-02-29"], dtype="datetime64[D]"), 1)[0]) == "2021-02-28"


def test_started_stalled_parcel_is_measured_from_the_stop_and_gets_completion_too():
    f = _facts(agreed_start=["2018-01-01"], agreed_completion=["2020-01-01"], actual_start=["2018-02-01"],
               stopped_since=["2019-05-10"], developed_ratio=[0.2], investment_ratio=[0.1])
    shown = _shown(f, date(2020, 5, 1))
    assert ("completion", "2020-01-01", -121, "overdue") in shown
    assert ("idle_fee", "2020-05-10", 9, "upcoming") in shown
    assert not any(k == "start" for k, *_ in shown)
    # developed above R3's limits: not on the idle path (that is 停建缓建, R4), completion only
    f2 = _facts(agreed_start=["2018-01-01"], agreed_completion=["2020-01-01"], actual_start=["2018-02-01"],
                stopped_since=["2019-05-10"], developed_ratio=[0.5], investment_ratio=[0.5])
    assert [k for k, *_ in _shown(f2, date(2020, 5, 1))] == ["completion"]


def test_stages_after_completion_and_r9_rectification():
    f = _facts(agreed_start=["2016-01-01"] * 3, agreed_completion=["2018-01-01"] * 3,
               agreed_production=["2019-01-01"] * 3, actual_start=["2016-01-01"] * 3,
               completion_result=["failed", "passed", "passed"],
               completion_date=["2019-05-01", "2018-01-01", "2018-01-01"],
               production_result=["pending", "pending", "failed"],
               production_date=[None, None, "2019-04-20"])
    shown = _shown(f, date(2021, 4, 25))
    assert shown == [("production", "2019-01-01", -845, "overdue"),
                     ("production_rectification", "2021-04-20", -5, "overdue"),
                     ("completion_rectification", "2021-05-01", 6, "urgent")]


def test_lead_days_must_be_sensible():
    with pytest.raises(ValueError):
        progress.open_deadlines(_facts(agreed_start=["2020-01-01"]), date(2020, 1, 1), IDLE, 2, [])


# =========================================================================== API
ROLES = ("city", "weidu_admin", "changge_admin", "weidu_zone", "changge_zone", "tax_city")


@pytest.fixture
def world(api, db, accounts):
    generate_demo(db)
    run_id = evaluation.evaluate(db, 2020, actor="评价办").run_id
    with db.reader() as s:
        zones = dict(s.execute(select(Jurisdiction.name, Jurisdiction.id).where(Jurisdiction.kind == "zone")).all())
        parcels = s.execute(select(Parcel.code, Parcel.zone_id, Parcel.state, Parcel.area_mu, Parcel.land_source,
                                   Parcel.inefficiency_categories)).all()
        # an enterprise owning a parcel with an open deadline in 魏都
        ent = s.execute(select(Enterprise.credit_code, Parcel.code)
                        .join(Occupancy, Occupancy.enterprise_id == Enterprise.id)
                        .join(Parcel, Parcel.id == Occupancy.parcel_id)
                        .join(ParcelDevelopment, ParcelDevelopment.parcel_id == Parcel.id)
                        .where(Parcel.zone_id == zones["魏都产业集聚区"], Occupancy.role == "owner",
                               Parcel.state == "under_construction")
                        .order_by(Parcel.code).limit(1)).first()
    accounts_service.add_user(db, "ent_weidu", PASSWORD, "enterprise", enterprise=ent[0])
    headers = {name: bearer(api, name) for name in (*ROLES, "ent_weidu")}
    return {"run": run_id, "h": headers, "zones": zones, "parcels": parcels, "ent_parcel": ent[1]}


def _get(api, w, who, url, **params):
    r = api.get(url, params=params, headers=w["h"][who] if who else {})
    return r


def _all_warnings(api, w, who, **params):
    out, offset = [], 0
    while True:
        page = _get(api, w, who, "/api/warnings", limit=1000, offset=offset, **params).json()
        out += page["items"]
        offset += len(page["items"])
        if offset >= page["total"]:
            return out, page


def test_the_public_gets_401_everywhere(api, world):
    for url in ("/api/warnings", "/api/dashboard", "/api/workbench/scope"):
        r = api.get(url)
        assert r.status_code == 401, url
        assert r.json()["message"] == "请先登录"


def test_warnings_are_scoped_like_parcel_reads(api, world):
    weidu = {c for c, z, *_ in world["parcels"] if z == world["zones"]["魏都产业集聚区"]}
    changge = {c for c, z, *_ in world["parcels"] if z == world["zones"]["长葛市产业集聚区"]}
    as_of = DEMO_AS_OF.isoformat()
    items, page = _all_warnings(api, world, "weidu_zone", as_of=as_of)
    assert items and page["as_of"] == as_of and page["lead_days"] == [30, 7]
    codes = {i["parcel_code"] for i in items}
    assert codes <= weidu and not codes & changge
    assert {i["zone"] for i in items} == {"魏都产业集聚区"}
    city, _ = _all_warnings(api, world, "city", as_of=as_of)
    assert {i["parcel_code"] for i in city} >= codes | {i["parcel_code"] for i in city if i["parcel_code"] in changge}
    assert any(i["parcel_code"] in changge for i in city)
    ch, _ = _all_warnings(api, world, "changge_zone", as_of=as_of)
    assert not {i["parcel_code"] for i in ch} & weidu
    # the city's view filtered to 魏都 is the zone manager's view
    city_weidu, _ = _all_warnings(api, world, "city", as_of=as_of, zone="魏都产业集聚区")
    assert city_weidu == items


def test_warnings_have_overdue_and_upcoming_items_with_their_basis(api, world):
    items, page = _all_warnings(api, world, "city", as_of=DEMO_AS_OF.isoformat())
    sev = {i["severity"] for i in items}
    assert {"overdue", "upcoming"} <= sev
    assert sum(page["counts"]["severity"].values()) == page["total"] == len(items)
    assert sum(page["counts"]["kind"].values()) == page["total"]
    for i in items:
        assert (i["days_left"] < 0) == (i["severity"] == "overdue")
        assert i["days_left"] <= 30
        assert (date.fromisoformat(i["due_date"]) - DEMO_AS_OF).days == i["days_left"]
        assert i["kind_label"] and i["basis"] and i["rule_id"] in ("R3", "R9") and i["location"]
    # soonest (most overdue) first
    assert [i["days_left"] for i in items] == sorted(i["days_left"] for i in items)
    # filters
    overdue = _get(api, world, "city", "/api/warnings", as_of=DEMO_AS_OF.isoformat(), severity="overdue",
                   limit=1000).json()
    assert overdue["total"] == page["counts"]["severity"]["overdue"]
    assert {i["severity"] for i in overdue["items"]} == {"overdue"}


def test_r3_warnings_match_the_stored_facts(api, world, db):
    """An idle-fee warning's due date is the anniversary of the contract's agreed start (R3)."""
    items, _ = _all_warnings(api, world, "city", as_of=DEMO_AS_OF.isoformat(), kind="idle_fee")
    assert items
    with db.reader() as s:
        for i in items[:10]:
            p = s.scalar(select(Parcel).where(Parcel.code == i["parcel_code"]))
            dev = s.scalar(select(ParcelDevelopment).where(ParcelDevelopment.parcel_id == p.id))
            c = s.scalar(select(SupplyContract).where(SupplyContract.parcel_id == p.id)
                         .order_by(SupplyContract.signed_date.desc()))
            a = s.scalar(select(PerformanceAgreement).where(PerformanceAgreement.contract_id == c.id))
            start = (a or c).agreed_start_date
            case = idle_rule.IdleCase(
                agreed_start_date=start, as_of=DEMO_AS_OF,
                actual_start_date=dev.actual_start_date if dev else None,
                developed_area_ratio=(dev.developed_area_m2 / p.area_m2) if dev and dev.developed_area_m2 is not None else None,
                investment_ratio=(dev.investment_done_wan / dev.investment_total_wan)
                if dev and dev.investment_done_wan is not None and dev.investment_total_wan else None,
                stopped_since=dev.stopped_since if dev else None)
            v = idle_rule.check_idle(case, RB)
            assert v.figures["fee_due_date"] == i["due_date"], (i, v.figures)


def test_enterprise_sees_only_its_own_parcels_warnings(api, world):
    items, page = _all_warnings(api, world, "ent_weidu", as_of="2030-01-01")
    assert items and {i["parcel_code"] for i in items} == {world["ent_parcel"]}


def test_bad_warning_queries_are_chinese_422s(api, world):
    r = _get(api, world, "city", "/api/warnings", as_of="2021-13-01")
    assert r.status_code == 422 and "日期" in r.json()["message"]
    r = _get(api, world, "city", "/api/warnings", kind="nonsense")
    assert r.status_code == 422 and "预警类型" in r.json()["message"]
    r = _get(api, world, "city", "/api/warnings", severity="x")
    assert r.status_code == 422 and "紧急程度" in r.json()["message"]
    r = _get(api, world, "city", "/api/warnings", zone="不存在的集聚区")
    assert r.status_code == 422


def test_dashboard_for_a_zone_manager(api, world):
    d = _get(api, world, "weidu_zone", "/api/dashboard").json()
    assert [z["name"] for z in d["zones"]] == ["魏都产业集聚区"]
    z = d["zones"][0]
    assert z["tax_target_min_wan"] == 15 and z["tax_target_max_wan"] is None
    assert z["target_verdict"] == progress.tax_target_verdict(z["tax_per_mu_wan"], 15, None)
    assert d["classes"] == {k: z["classes"][k] for k in ("A", "B", "C", "not_evaluated")}
    assert d["run"]["id"] == world["run"] and d["run"]["year"] == 2020
    weidu = world["zones"]["魏都产业集聚区"]
    mine = [p for p in world["parcels"] if p.zone_id == weidu]
    land = d["land"]
    assert [x["name"] for x in land["zones"]] == ["魏都产业集聚区"]
    assert land["total"]["idle_area_mu"] == pytest.approx(sum(p.area_mu for p in mine if p.state == "idle"), abs=1e-3)
    for cat in ("output_shortfall", "other"):
        expect = sum(p.area_mu for p in mine if p.state == "inefficient" and cat in p.inefficiency_categories)
        assert land["total"]["categories"][cat] == pytest.approx(expect, abs=1e-3)
    # 消化处置率: the zone's row of the 处置台账 (none open in this fixture yet: no data)
    dr = d["disposal"]
    assert dr["level"] == "zone" and dr["name"] == "魏都产业集聚区" and dr["rate"] is None and dr["label"] == "无数据"
    assert dr["goal"] == 0.6 and dr["goal_revived_mu"] == 13700 and dr["ledger_url"] == "/work/disposal"


def test_dashboard_city_sees_every_zone_and_changge_not_weidu(api, world):
    city = _get(api, world, "city", "/api/dashboard").json()
    assert len([z for z in city["zones"] if z["zone_id"] is not None]) == 10
    ch = _get(api, world, "changge_admin", "/api/dashboard").json()
    assert "魏都产业集聚区" not in {z["name"] for z in ch["zones"]}
    assert "魏都产业集聚区" not in {z["name"] for z in ch["land"]["zones"]}


# =========================================================================== 消化处置率 on the 驾驶舱
LEDGER = RB.section("disposal_rate")
OPENED = date(2021, 3, 1)


@pytest.fixture
def ledger(world, db):
    """处置台账 entries for every parcel now 批而未供/闲置/低效 (opened 2021-03-01); in 魏都 and 长葛
    some closed: disposed (revived / reclaimed), one revoked (撤销认定) and one closed today."""
    from landcycle.services import disposal

    disposal.open_from_evaluation(db, actor="测试", states=True, opened_on=OPENED.isoformat())
    with db.reader() as s:
        rows = s.execute(select(DisposalEntry.id, DisposalEntry.version, Jurisdiction.name)
                         .join(Parcel, Parcel.id == DisposalEntry.parcel_id)
                         .join(Jurisdiction, Jurisdiction.id == Parcel.zone_id)
                         .where(Jurisdiction.name.in_(("魏都产业集聚区", "长葛市产业集聚区")))
                         .order_by(DisposalEntry.id)).all()
    plan = [("revived", date(2021, 6, 30)), ("reclaimed", date(2021, 9, 1)), ("revoked", date(2021, 7, 1)),
            ("resupplied", local_today()), (None, None)]
    for i, r in enumerate(rows):
        outcome, day = plan[i % len(plan)]
        if outcome:
            disposal.close_entry(db, r.id, r.version, actor="测试", outcome=outcome, closed_on=day)
    return world


def ledger_rows(db):
    """Every entry with its parcel's zone and the county (or 管委会) it answers to, read plainly."""
    with db.reader() as s:
        juris = {r.id: r for r in s.execute(select(Jurisdiction.id, Jurisdiction.name, Jurisdiction.kind,
                                                   Jurisdiction.parent_id))}
        rows = s.execute(select(DisposalEntry.parcel_id, DisposalEntry.category, DisposalEntry.opened_on,
                                DisposalEntry.closed_on, DisposalEntry.outcome, DisposalEntry.area_mu,
                                Parcel.zone_id, Parcel.county_id)
                         .join(Parcel, Parcel.id == DisposalEntry.parcel_id)).all()
    out = []
    for r in rows:
        zone = juris.get(r.zone_id)
        county = zone.parent_id if zone and juris[zone.parent_id].kind in ("county", "management_area") else r.county_id
        out.append({**r._asdict(), "zone": zone.name if zone else None, "county": juris[county].name})
    return out


def expected_disposal(rows, day):
    """The ledger's figures on ``day`` as docs/disposal-ledger.md defines them, computed here:
    per parcel, identified when an entry is open by ``day`` (not revoked by then), disposed when
    every such entry was closed by ``day`` with a disposing outcome."""
    per: dict[int, list] = {}
    for r in rows:
        if r["category"] not in LEDGER["ledger_categories"] or r["opened_on"] > day:
            continue
        closed = r["closed_on"] is not None and r["closed_on"] <= day
        if closed and r["outcome"] in LEDGER["ledger_excluded_outcomes"]:
            continue
        per.setdefault(r["parcel_id"], []).append((r, closed))
    ident = disp = revived = 0.0
    for entries in per.values():
        area = max(r["area_mu"] for r, _ in entries)
        ident += area
        if all(c and r["outcome"] in LEDGER["ledger_disposed_outcomes"] for r, c in entries):
            disp += area
            if any(r["outcome"] in LEDGER["revived_outcomes"] for r, _ in entries):
                revived += area
    return ident, disp, revived


def _check(dr, rows, day=None):
    ident, disp, revived = expected_disposal(rows, day or local_today())
    assert dr["identified"] == pytest.approx(ident, abs=1e-3) and dr["disposed"] == pytest.approx(disp, abs=1e-3)
    assert dr["revived_mu"] == pytest.approx(revived, abs=1e-3)
    assert dr["rate"] == pytest.approx(disp / ident) and dr["met"] == (disp / ident >= 0.6)
    assert dr["label"] == f"{disp / ident * 100:.1f}%" and dr["basis"] == "area" and dr["unit"] == "亩"


def test_dashboard_disposal_is_the_ledger_row_of_each_role(api, ledger, db):
    w = ledger
    rows = ledger_rows(db)
    weidu_zone = [r for r in rows if r["zone"] == "魏都产业集聚区"]
    cases = {"city": ("city", rows), "tax_city": ("city", rows),
             "weidu_admin": ("county", [r for r in rows if r["county"] == "魏都区"]),
             "changge_admin": ("county", [r for r in rows if r["county"] == "长葛市"]),
             "weidu_zone": ("zone", weidu_zone),
             "changge_zone": ("zone", [r for r in rows if r["zone"] == "长葛市产业集聚区"])}
    for who, (level, mine) in cases.items():
        dr = _get(api, w, who, "/api/dashboard").json()["disposal"]
        assert dr["level"] == level, who
        _check(dr, mine)
        assert "处置台账" in dr["definition"] and dr["as_of"] == local_today().isoformat()
        # the same row as the ledger's own progress answer
        prog = _get(api, w, who, "/api/disposal/progress").json()
        row = prog["city"] if level == "city" else (prog["counties"] if level == "county" else prog["zones"])
        row = row if level == "city" else row[0]
        assert (dr["identified"], dr["disposed"], dr["rate"], dr["revived_mu"]) == \
            (row["identified"], row["disposed"], row["rate"], row["revived_mu"])
    # the 魏都 zone's fixture is not trivial: some parcels disposed, some not
    ident, disp, _ = expected_disposal(weidu_zone, local_today())
    assert 0 < disp < ident
    # enterprises do not read the ledgers: no disposal figures, the rest of the 驾驶舱 still answers
    ent = _get(api, w, "ent_weidu", "/api/dashboard")
    assert ent.status_code == 200 and ent.json()["disposal"] is None


def test_dashboard_follows_the_ledger_not_the_registry_state(api, ledger, db):
    """A parcel's state changing in the registry leaves the rate alone; closing its entry moves it."""
    from landcycle.services import disposal, registry

    w = ledger
    before = _get(api, w, "weidu_zone", "/api/dashboard").json()["disposal"]
    with db.reader() as s:
        e = s.execute(select(DisposalEntry.id, DisposalEntry.version, DisposalEntry.area_mu, Parcel.code,
                             Parcel.version.label("pv"))
                      .join(Parcel, Parcel.id == DisposalEntry.parcel_id)
                      .where(Parcel.zone_id == w["zones"]["魏都产业集聚区"], DisposalEntry.status == "open")
                      .order_by(DisposalEntry.id).limit(1)).first()
        others = s.scalar(select(func.count()).select_from(DisposalEntry).where(
            DisposalEntry.parcel_id == select(Parcel.id).where(Parcel.code == e.code).scalar_subquery(),
            DisposalEntry.status == "open"))
    registry.update_parcel(db, e.code, {"state": "operating"}, e.pv, actor="测试")
    assert _get(api, w, "weidu_zone", "/api/dashboard").json()["disposal"] == before
    disposal.close_entry(db, e.id, e.version, actor="测试", outcome="revived", closed_on=local_today())
    after = _get(api, w, "weidu_zone", "/api/dashboard").json()["disposal"]
    assert after["identified"] == before["identified"]
    if others == 1:  # its only open entry: the parcel is now disposed
        assert after["disposed"] == pytest.approx(before["disposed"] + e.area_mu, abs=1e-3)
    _check(after, [r for r in ledger_rows(db) if r["zone"] == "魏都产业集聚区"])


def test_dashboard_with_nothing_identified_says_no_data(api, db, accounts):
    h = bearer(api, "weidu_zone")
    d = api.get("/api/dashboard", headers=h).json()
    assert d["disposal"]["rate"] is None and d["disposal"]["label"] == "无数据" and d["disposal"]["met"] is None
    assert d["run"] is None and d["zones"] == []
    assert d["land"]["total"]["idle_area_mu"] == 0
    w = api.get("/api/warnings", headers=h).json()
    assert w["total"] == 0 and w["items"] == [] and sum(w["counts"]["severity"].values()) == 0


def test_scope_lists_the_callers_zones(api, world):
    sc = _get(api, world, "weidu_zone", "/api/workbench/scope").json()
    assert [z["name"] for z in sc["zones"]] == ["魏都产业集聚区"] and sc["counties"] == []
    assert sc["zones"][0]["county_code"] == "411002"
    sc = _get(api, world, "city", "/api/workbench/scope").json()
    assert len(sc["zones"]) == 10 and len(sc["counties"]) == 6 and sc["everywhere"] is True
    assert [c["label"] for c in sc["categories"]][:2] == ["产业转型类", "停建缓建类"]


# --------------------------------------------------------------------------- ledgers
def test_parcel_list_filters_by_category_and_totals_the_whole_set(api, world):
    weidu = world["zones"]["魏都产业集聚区"]
    expect = [p for p in world["parcels"] if p.zone_id == weidu and p.state == "inefficient"]
    r = _get(api, world, "weidu_zone", "/api/parcels", state="低效", limit=5).json()
    assert r["numberMatched"] == len(expect) and r["numberReturned"] == min(5, len(expect))
    assert r["totalAreaMu"] == pytest.approx(sum(p.area_mu for p in expect), abs=1e-3)
    cat = next(p.inefficiency_categories[0] for p in expect)
    by_cat = [p for p in expect if cat in p.inefficiency_categories]
    r = _get(api, world, "weidu_zone", "/api/parcels", state="inefficient", category=cat, limit=1000).json()
    assert {f["id"] for f in r["features"]} == {p.code for p in by_cat}
    assert r["totalAreaMu"] == pytest.approx(sum(p.area_mu for p in by_cat), abs=1e-3)
    # by the Chinese label too, sorted by area descending
    label = next(f["properties"]["inefficiency_labels"][0] for f in r["features"]
                 if f["properties"]["inefficiency_categories"][0] == cat)
    r2 = _get(api, world, "weidu_zone", "/api/parcels", category=label, sort="-area_mu", limit=1000).json()
    assert {f["id"] for f in r2["features"]} == {p.code for p in by_cat}
    areas = [f["properties"]["area_mu"] for f in r2["features"]]
    assert areas == sorted(areas, reverse=True)
    bad = _get(api, world, "weidu_zone", "/api/parcels", category="不存在")
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "category"


def test_ledger_export_carries_the_same_filters(api, world):
    from openpyxl import load_workbook

    q = {"state": "inefficient", "category": "output_shortfall"}
    listed = _get(api, world, "weidu_zone", "/api/parcels", limit=1000, **q).json()
    r = _get(api, world, "weidu_zone", "/api/exports/parcels", format="xlsx", **q)
    assert r.status_code == 200 and int(r.headers["X-Export-Count"]) == listed["numberMatched"]
    ws = load_workbook(io.BytesIO(r.content))["宗地台账"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "宗地代码" and rows[-1][0] == "合计"
    assert {row[0] for row in rows[1:-1]} == {f["id"] for f in listed["features"]}
    assert rows[-1][8] == pytest.approx(listed["totalAreaMu"], abs=1e-3)
    assert all("产出未达标类" in row[6] for row in rows[1:-1])
    info = load_workbook(io.BytesIO(r.content))["说明"]
    assert any("低效类别=output_shortfall" in str(c.value) for row in info.iter_rows() for c in row)
