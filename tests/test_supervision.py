"""履约监管 (issue 7 items 4–5): acceptance checks against the committed indicators, rectification,
the 达产复验 restriction, exit with the 成本还原 buy-back figure, and the idle-land notices — the
pure rules at their boundaries, then parcels walked through the API on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import shapely
from sqlalchemy import func, select, text

from conftest import PASSWORD, bearer
from landcycle.data import DATA_DIR
from landcycle.domain import lifecycle as lc
from landcycle.domain import supervision as sv
from landcycle.domain.access import SYSTEM
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
from landcycle.domain.rules.idle import anniversary
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.domain.vocabulary import InspectionKind
from landcycle.services import accounts as accounts_service
from landcycle.services import audit, enterprises, jurisdictions, ledgers, lifecycle, registry, supervision
from landcycle.storage.lifecycle_schema import ParcelTransition
from landcycle.storage.schema import ChangeLog, Parcel
from landcycle.storage.supervision_schema import AcceptanceInspection, IdleNotice

RB = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
COMMITTED = {"plot_ratio": 1.2, "building_density": 0.4, "building_coverage": 0.45, "green_ratio": 0.15,
             "office_living_ratio": 0.07, "investment_intensity": 300.0, "output_intensity": 500.0,
             "tax_per_mu": 30.0}


# =========================================================================== pure rules
def test_acceptance_compares_floors_and_ceilings_at_the_boundary():
    exact = dict(COMMITTED)
    check = sv.check_acceptance(InspectionKind.PRODUCTION, COMMITTED, exact, RB)
    assert check.passed and not check.problems and all(f["passed"] for f in check.findings)
    assert len(check.findings) == 8
    hair = {**exact, "plot_ratio": 1.2 - 1e-6, "green_ratio": 0.15 + 1e-6}
    check = sv.check_acceptance(InspectionKind.PRODUCTION, COMMITTED, hair, RB)
    assert check.result == "failed"
    bad = {f["indicator"]: f for f in check.findings if f["passed"] is False}
    assert set(bad) == {"plot_ratio", "green_ratio"}
    assert bad["plot_ratio"]["bound"] == "下限" and "低于约定" in bad["plot_ratio"]["reason"]
    assert bad["green_ratio"]["bound"] == "上限" and "高于约定上限" in bad["green_ratio"]["reason"]
    assert "000:1026" in bad["plot_ratio"]["reason"] and "000:1060" in bad["plot_ratio"]["reason"]
    # completion checks the buildings only: output and tax are not its business
    check = sv.check_acceptance(InspectionKind.COMPLETION, COMMITTED, exact, RB)
    assert {f["indicator"] for f in check.findings if f["passed"] is not None} == set(
        RB.section("acceptance")["completion_indicators"])
    # a committed indicator without a measured value cannot pass; a declared pass cannot hide a shortfall
    check = sv.check_acceptance(InspectionKind.PRODUCTION, COMMITTED,
                                {k: v for k, v in exact.items() if k != "tax_per_mu"}, RB)
    assert [p.field for p in check.problems] == ["measured.tax_per_mu"]
    check = sv.check_acceptance(InspectionKind.PRODUCTION, COMMITTED, hair, RB, declared="passed")
    assert [p.field for p in check.problems] == ["result"]
    # the joint opinion may fail a parcel whose indicators are met
    assert sv.check_acceptance(InspectionKind.PRODUCTION, COMMITTED, exact, RB, declared="failed").result == "failed"


def test_measured_areas_become_indicators_over_the_parcel():
    got, how, problems = sv.derive_indicators({"floor_area_m2": 36000, "tax_wan": 900, "green_ratio": 0.1},
                                              30000.0, 45.0, "验收")
    assert not problems and got == {"plot_ratio": 1.2, "tax_per_mu": 20.0, "green_ratio": 0.1}
    assert any("容积率 = 计容建筑面积" in h for h in how)
    _, _, problems = sv.derive_indicators({"floor_area_m2": 1, "plot_ratio": 1, "x": 1, "tax_wan": -1,
                                           "output_wan": "many"}, 30000.0, 45.0, "验收")
    assert sorted(p.field for p in problems) == ["measured.output_wan", "measured.plot_ratio", "measured.tax_wan",
                                                 "measured.x"]


def expected_buyback(price, signed, term, rescinded, cost, built):
    """An independent reading of the documented formula (docs/supervision.md)."""
    end = date(signed.year + term, signed.month, signed.day)
    land = price * (end - rescinded).days / (end - signed).days
    age = (rescinded - built).days
    building = cost * max(0.05, 1 - 0.95 * age / (20 * 365))
    return land, building, land + building


def test_buyback_formula_and_dispositions():
    b = sv.buyback(900.0, date(2020, 1, 10), 50, date(2026, 11, 30), "residual_compensation", RB,
                   audited_cost_wan=3000.0, buildings_since=date(2022, 6, 1))
    land, building, total = expected_buyback(900.0, date(2020, 1, 10), 50, date(2026, 11, 30), 3000.0,
                                             date(2022, 6, 1))
    assert b.land_refund_wan == pytest.approx(land, abs=1e-4) and b.building_value_wan == pytest.approx(building, abs=1e-4)
    assert b.price_wan == pytest.approx(total, abs=1e-3)
    assert sv.buyback(900.0, date(2020, 1, 10), 50, date(2026, 11, 30), "residual_compensation", RB).price_wan is None
    free = sv.buyback(900.0, date(2020, 1, 10), 50, date(2026, 11, 30), "free_reclaim", RB, deductions_wan=10.0)
    assert free.building_value_wan == 0 and free.price_wan == pytest.approx(land - 10.0, abs=1e-3)
    # fully depreciated buildings keep their salvage value; a lapsed term refunds no land
    old = sv.buyback(900.0, date(1970, 1, 10), 50, date(2026, 11, 30), "residual_compensation", RB,
                     audited_cost_wan=1000.0, buildings_since=date(1980, 1, 1))
    assert old.land_refund_wan == 0 and old.building_value_wan == pytest.approx(50.0)


def test_idle_notice_points_amount_and_government_delay():
    from landcycle.domain.rules.idle import IdleCase, check_idle
    from landcycle.domain.vocabulary import IdleNoticeKind as N

    start = date(2024, 2, 29)  # the 1-year point of a 29 Feb start is 28 Feb (民法典第二百零二条)
    def verdict(as_of, **kw):
        return check_idle(IdleCase(agreed_start_date=start, as_of=as_of, **kw), RB)
    early = sv.idle_notice(N.FEE_NOTICE, verdict(date(2025, 2, 27)), None, RB, 1000.0)
    assert not early.allowed and early.point == date(2025, 2, 28) and "未满1年" in early.reasons[0]
    on = sv.idle_notice(N.FEE_NOTICE, verdict(date(2025, 2, 28)), None, RB, 1000.0)
    assert on.allowed and on.amount_wan == pytest.approx(200.0) and on.full_years == 1 and on.since == start
    assert not sv.idle_notice(N.RECLAIM_PROPOSAL, verdict(date(2026, 2, 27)), None, RB, 1000.0).allowed
    assert sv.idle_notice(N.RECLAIM_PROPOSAL, verdict(date(2026, 2, 28)), None, RB, 1000.0).allowed
    barred = sv.idle_notice(N.FEE_NOTICE, verdict(date(2026, 2, 28)), "许政〔2024〕1号", RB, 1000.0)
    assert not barred.allowed and "第八条" in barred.reasons[0] and "许政〔2024〕1号" in barred.reasons[0]
    # started, under 25% invested and stopped: the year runs from the stop
    stalled = verdict(date(2026, 5, 1), actual_start_date=date(2024, 6, 1), investment_ratio=0.2,
                      developed_area_ratio=0.5, stopped_since=date(2025, 5, 1))
    n = sv.idle_notice(N.FEE_NOTICE, stalled, None, RB, 1000.0)
    assert n.allowed and n.since == date(2025, 5, 1) and n.point == date(2026, 5, 1)
    assert not sv.idle_notice(N.FEE_NOTICE, None, None, RB, 1000.0).allowed  # no agreed start on file


def test_restriction_holds_from_completion_until_production_passes():
    r = sv.restriction(True, "passed", "failed", None, "rectifying")
    assert r["active"] and "不得抵押、转让" in r["restriction"] and "000:1024" in r["basis"]
    assert not sv.restriction(True, "passed", "passed", date(2026, 1, 1), "in_production")["active"]
    assert not sv.restriction(True, "pending", "pending", None, "under_construction")["active"]
    assert not sv.restriction(False, "passed", "pending", None, "completed")["active"]


# =========================================================================== through the API
STD = "411002001001GB00201"      # 标准地: fails 达产 by a hair, rectified, passes the 复验
LATE = "411002001001GB00202"     # in 整改中 for more than two years: fails again → disposal → exit
IDLE_ON = "411002001001GB00203"  # agreed start exactly one year ago
IDLE_EARLY = "411002001001GB00204"  # one day short of a year
IDLE_2Y = "411002001001GB00205"  # agreed start exactly two years ago
IDLE_GOV = "411002001001GB00206"  # two years, but the delay was the government's
OTHER = "411082001001GB00201"    # 长葛: outside 魏都's view
ENT = credit_code_with_check("91411002MA44JGTA0")
OTHER_ENT = credit_code_with_check("91411002MA44JGTB0")


def doc(kind: str, day: date | None = None) -> dict:
    return {"kind": kind, "title": lc.DOCUMENT_KINDS[kind], "number": f"测试〔2026〕{len(kind)}号",
            "date": (day or lifecycle.today()).isoformat()}


class World:
    def __init__(self, db, api, today):
        self.db, self.api, self.today, self.tokens = db, api, today, {}

    def h(self, user):
        if user is None:
            return {}
        if user not in self.tokens:
            self.tokens[user] = bearer(self.api, user)
        return self.tokens[user]

    def show(self, code, user="weidu_zone"):
        return self.api.get(f"/api/parcels/{code}/supervision", headers=self.h(user))

    def dev_version(self, code):
        return ledgers.get_development(self.db, code, viewer=SYSTEM)["version"]

    def inspect(self, code, kind, measured, user="weidu_zone", day=None, version=None, **extra):
        body = {"kind": kind, "inspected_on": (day or self.today).isoformat(), "number": f"验收〔2026〕{kind}号",
                "measured": measured, "version": version or self.dev_version(code), **extra}
        return self.api.post(f"/api/parcels/{code}/inspections", json=body, headers=self.h(user))

    def step(self, code, key, user="weidu_zone", kinds=None):
        with self.db.reader() as s:
            version = s.scalar(select(Parcel.version).where(Parcel.code == code))
        kinds = lc.BY_KEY[key].documents if kinds is None else kinds
        return self.api.post(f"/api/parcels/{code}/transitions", headers=self.h(user),
                             json={"transition": key, "version": version, "documents": [doc(k) for k in kinds]})

    def notice(self, code, kind, user="weidu_admin", **extra):
        return self.api.post(f"/api/parcels/{code}/idle-notices", headers=self.h(user),
                             json={"kind": kind, "number": f"许自然资闲〔2026〕{kind}号", **extra})

    def state(self, code):
        with self.db.reader() as s:
            return s.scalar(select(Parcel.state).where(Parcel.code == code))

    def counts(self):
        with self.db.engine.connect() as c:
            return tuple(c.execute(select(func.count()).select_from(t)).scalar()
                         for t in (AcceptanceInspection.__table__, IdleNotice.__table__, ChangeLog.__table__))


def measured_for(area_m2, area_mu, **changes):
    """Surveyed areas and amounts meeting COMMITTED exactly (floats), then ``changes``."""
    m = {"floor_area_m2": COMMITTED["plot_ratio"] * area_m2, "footprint_m2": COMMITTED["building_density"] * area_m2,
         "coverage_area_m2": COMMITTED["building_coverage"] * area_m2,
         "green_area_m2": COMMITTED["green_ratio"] * area_m2,
         "office_living_area_m2": COMMITTED["office_living_ratio"] * area_m2,
         "investment_wan": COMMITTED["investment_intensity"] * area_mu,
         "output_wan": COMMITTED["output_intensity"] * area_mu, "tax_wan": COMMITTED["tax_per_mu"] * area_mu}
    return {**m, **changes}


def _zone_point(db, name):
    with db.reader() as s:
        p = shapely.point_on_surface(jurisdictions.resolve(s, name).geometry)
    return p.x, p.y


@pytest.fixture
def world(db, api, accounts):
    today = lifecycle.today()
    wx, wy = _zone_point(db, "魏都产业集聚区")
    cx, cy = _zone_point(db, "长葛市产业集聚区")
    zone = dict(county="魏都区", zone="魏都产业集聚区", plot_ratio_min=1.0)
    drafts = [ParcelDraft(code=STD, geometry=rectangle_around(wx, wy, 0.2, 0.15), state="在建", **zone),
              ParcelDraft(code=LATE, geometry=rectangle_around(wx + 0.004, wy, 0.2, 0.15), state="整改中", **zone),
              ParcelDraft(code=OTHER, geometry=rectangle_around(cx, cy, 0.2, 0.15), county="长葛市",
                          zone="长葛市产业集聚区", state="已供应", plot_ratio_min=1.0)]
    for i, code in enumerate((IDLE_ON, IDLE_EARLY, IDLE_2Y, IDLE_GOV)):
        drafts.append(ParcelDraft(code=code, geometry=rectangle_around(wx - 0.004 * (i + 1), wy, 0.2, 0.15),
                                  state="已供应", **zone))
    registry.register_parcels(db, drafts, actor="测试")
    enterprises.register_enterprise(db, EnterpriseDraft(ENT, "许昌监管测试有限公司", "C3411", True, "魏都区"), actor="测试")
    enterprises.register_enterprise(db, EnterpriseDraft(OTHER_ENT, "许昌别家有限公司", "C3411", True, "魏都区"),
                                    actor="测试")
    for code in (STD, LATE):
        enterprises.add_occupancy(db, OccupancyDraft(code, ENT, "权利人", 10000, date(2020, 1, 1)), actor="测试")
        ledgers.add_contract(db, code, SupplyContractDraft(f"HT-{code[-3:]}", ENT, "出让", date(2020, 1, 10), 50, 900.0,
                                                           date(2020, 6, 1), date(2022, 6, 1)), actor="测试")
        ledgers.add_agreement(db, code, PerformanceAgreementDraft(
            f"HT-{code[-3:]}", date(2020, 1, 10), date(2020, 6, 1), date(2022, 6, 1), today + timedelta(days=200),
            investment_intensity_wan_per_mu=300.0, plot_ratio=1.2, building_density=0.4, building_coverage=0.45,
            green_ratio=0.15, office_living_ratio=0.07, tax_per_mu_wan=30.0, output_per_mu_wan=500.0), actor="测试")
    enterprises.add_occupancy(db, OccupancyDraft(IDLE_ON, OTHER_ENT, "权利人", 10000, date(2020, 1, 1)), actor="测试")
    ledgers.add_development(db, STD, DevelopmentDraft(actual_start_date=date(2020, 6, 1)), actor="测试")
    ledgers.add_development(db, LATE, DevelopmentDraft(
        actual_start_date=date(2020, 6, 1), completion_result="passed", completion_date=date(2022, 6, 1),
        production_result="failed", production_date=date(2023, 6, 1)), actor="测试")
    # LATE entered 整改中 one day more than two years ago (an earlier step, on file)
    started = anniversary(today, -2) - timedelta(days=1)
    with db.transaction("测试") as s:
        pid = s.scalar(select(Parcel.id).where(Parcel.code == LATE))
        s.add(ParcelTransition(parcel_id=pid, transition="start_rectification", from_state="completed",
                               to_state="rectifying", actor="测试", documents=[doc("rectification_notice", started)],
                               at=datetime.combine(started, time(10, 0), audit.LOCAL_TZ), parcel_version=1,
                               rulebook_version=RB.label))
    for code, start in ((IDLE_ON, anniversary(today, -1)), (IDLE_EARLY, anniversary(today, -1) + timedelta(1)),
                        (IDLE_2Y, anniversary(today, -2)), (IDLE_GOV, anniversary(today, -2))):
        ledgers.add_contract(db, code, SupplyContractDraft(f"HT-{code[-3:]}", OTHER_ENT, "出让", start - timedelta(90),
                                                           50, 1234.5, start, start + timedelta(730)), actor="测试")
    accounts_service.add_user(db, "ent", PASSWORD, role="enterprise", enterprise=ENT)
    accounts_service.add_user(db, "other_ent", PASSWORD, role="enterprise", enterprise=OTHER_ENT)
    return World(db, api, today)


def _area(db, code):
    with db.reader() as s:
        return s.execute(select(Parcel.area_m2, Parcel.area_mu).where(Parcel.code == code)).one()


def test_standard_land_fails_production_by_a_hair_is_rectified_and_passes(world):
    w, today = world, world.today
    a_m2, a_mu = _area(w.db, STD)
    body = w.show(STD).json()
    assert body["state"] == "under_construction" and body["restrictions"]["active"] is False
    kinds = {d["kind"]: d for d in body["deadlines"]}
    assert kinds["start"]["status"] == "met" and kinds["completion"]["status"] == "overdue"
    assert kinds["completion"]["days_late"] == (today - date(2022, 6, 1)).days
    assert body["next_due"]["kind"] == "production" and "000:1028" in body["next_due"]["consequence"]

    # 达产 before 竣工 is refused; 竣工 passes with the buildings' figures
    r = w.inspect(STD, "production", measured_for(a_m2, a_mu), day=today - timedelta(days=30))
    assert r.status_code == 422 and "只能在“竣工验收”状态登记" in r.text
    r = w.inspect(STD, "completion", measured_for(a_m2, a_mu), day=today - timedelta(days=60))
    assert r.status_code == 201, r.text
    assert r.json()["inspection"]["result"] == "passed" and r.json()["next_step"]["transition"] == "pass_completion"
    assert r.headers["etag"] == f'"{r.json()["development"]["version"]}"'
    assert r.json()["development"]["completion_result"] == "passed"
    assert r.json()["development"]["floor_area_m2"] == pytest.approx(1.2 * a_m2)
    assert w.step(STD, "pass_completion").status_code == 200
    # from now until 达产复验 passes: no mortgage, transfer, equity change
    assert w.show(STD).json()["restrictions"]["active"] is True

    # 达产验收: 容积率 one hair below (0.5 m² of floor area short), everything else exactly at its bound
    before = w.counts()
    r = w.inspect(STD, "production", {k: v for k, v in measured_for(a_m2, a_mu).items() if k != "tax_wan"},
                  day=today - timedelta(days=30))
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "measured.tax_per_mu"
    hair = measured_for(a_m2, a_mu, floor_area_m2=1.2 * a_m2 - 0.5)
    r = w.inspect(STD, "production", hair, day=today - timedelta(days=30), result="passed")
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "result"
    assert w.counts() == before  # refusals write nothing (not even the development record)
    r = w.inspect(STD, "production", hair, day=today - timedelta(days=30))
    assert r.status_code == 201, r.text
    insp = r.json()["inspection"]
    assert insp["result"] == "failed" and r.json()["next_step"]["transition"] == "start_rectification"
    [short] = [f for f in insp["findings"] if f["passed"] is False]
    assert short["indicator"] == "plot_ratio" and short["committed"] == 1.2 and short["measured"] < 1.2
    assert all(f["passed"] for f in insp["findings"] if f["indicator"] != "plot_ratio")
    assert r.json()["development"]["production_result"] == "failed"
    assert r.json()["restrictions"]["active"] is True

    # the lifecycle guard now sees the failure: rectification opens (not 达产验收通过)
    assert w.step(STD, "pass_production").status_code == 422
    r = w.step(STD, "start_rectification")
    assert r.status_code == 200 and r.json()["state"] == "rectifying", r.text
    body = w.show(STD).json()
    end = anniversary(today, 2)
    assert body["rectification_end"] == end.isoformat()
    [rect] = [d for d in body["deadlines"] if d["kind"] == "rectification_end"]
    assert rect["status"] == "open" and rect["due"] == end.isoformat() and "解除出让合同" in rect["consequence"]
    # the last day of the period is inside it; the day after, it is overdue
    for day, status, late in ((end, "open", 0), (end + timedelta(days=1), "overdue", 1)):
        [rect] = [d for d in supervision.supervision_status(w.db, STD, SYSTEM, as_of=day)["deadlines"]
                  if d["kind"] == "rectification_end"]
        assert (rect["status"], rect["days_late"]) == (status, late)

    # a stale version of the development record: 409, nothing written
    stale = w.dev_version(STD) - 1
    r = w.inspect(STD, "production_reinspection", measured_for(a_m2, a_mu), version=stale)
    assert r.status_code == 409
    # 复验 within the period passes → 达产复验通过 → restriction lifted
    r = w.inspect(STD, "production_reinspection", measured_for(a_m2, a_mu))
    assert r.status_code == 201 and r.json()["inspection"]["result"] == "passed", r.text
    assert r.json()["next_step"]["transition"] == "pass_rectification_production"
    assert r.json()["restrictions"]["active"] is False
    r = w.step(STD, "pass_rectification_production")
    assert r.status_code == 200 and r.json()["state"] == "in_production", r.text
    body = w.show(STD).json()
    assert not body["restrictions"]["active"] and "通过" in body["restrictions"]["why"]
    assert [i["kind"] for i in body["inspections"]] == ["completion", "production", "production_reinspection"]
    assert [i["result"] for i in body["inspections"]] == ["passed", "failed", "passed"]
    [prod] = [d for d in body["deadlines"] if d["kind"] == "production"]
    assert prod["status"] == "met" and prod["done"] == today.isoformat()
    # 一地一档: the development changes are in the parcel's history, with their actor and reason
    hist = [e for e in w.api.get(f"/api/parcels/{STD}/history", headers=w.h("city"), params={"limit": 200}).json()["items"]
            if e["entity"] == "parcel_developments" and e["action"] == "update"]
    assert [e["after"].get("production_result") for e in hist][-2:] == ["failed", "passed"]
    assert hist[-1]["actor"] == "weidu_zone" and "达产复验" in hist[-1]["reason"]
    # the enterprise reads its own file without the officials' names; inspections are append-only
    ent = w.show(STD, "ent").json()
    assert len(ent["inspections"]) == 3 and {i["actor"] for i in ent["inspections"]} == {"—"}
    for sql in ("UPDATE acceptance_inspections SET result = 'passed'", "DELETE FROM acceptance_inspections"):
        with pytest.raises(Exception, match="只能追加"):
            with w.db.engine.begin() as c:
                c.execute(text(sql))


def test_failing_again_after_the_period_leads_to_rescission_and_buyback(world):
    w, today = world, world.today
    a_m2, a_mu = _area(w.db, LATE)
    body = w.show(LATE).json()
    [rect] = [d for d in body["deadlines"] if d["kind"] == "rectification_end"]
    assert rect["status"] == "overdue" and rect["days_late"] == 1  # the period ended yesterday
    assert body["restrictions"]["active"] is True
    r = w.inspect(LATE, "production_reinspection", measured_for(a_m2, a_mu, tax_wan=29.0 * a_mu))
    assert r.status_code == 201 and r.json()["inspection"]["result"] == "failed", r.text
    assert r.json()["next_step"]["transition"] == "start_disposal"
    # the failure date stays the first one: the period ran from it
    assert r.json()["development"]["production_date"] == "2023-06-01"
    # 复验 passing now would be too late anyway: the period is over
    assert w.step(LATE, "pass_rectification_production").status_code == 422
    # the exit case needs 处置中 first
    exit_body = {"rescission_number": "许政〔2026〕88号", "rescission_approved_by": "魏都区人民政府",
                 "rescission_date": (today - timedelta(days=1)).isoformat(), "building_disposal": "残值补偿",
                 "auditor": "许昌某会计师事务所", "audit_date": today.isoformat(), "audited_cost_wan": 3000.0}
    r = w.api.post(f"/api/parcels/{LATE}/exit-case", json=exit_body, headers=w.h("weidu_admin"))
    assert r.status_code == 422 and "启动处置" in r.text
    r = w.step(LATE, "start_disposal", user="weidu_admin")
    assert r.status_code == 200 and r.json()["state"] == "disposing", r.text
    # 收回 waits for the exit case and its buy-back agreement (000:1028)
    r = w.step(LATE, "reclaim", user="weidu_admin")
    assert r.status_code == 422 and "尚未登记收回回购" in r.json()["problems"][0]["message"]
    # a zone manager may not rescind (the government approves, 000:1028); another county does not see it
    assert w.api.post(f"/api/parcels/{LATE}/exit-case", json=exit_body, headers=w.h("weidu_zone")).status_code == 403
    assert w.api.post(f"/api/parcels/{LATE}/exit-case", json=exit_body,
                      headers=w.h("changge_admin")).status_code == 404
    r = w.api.post(f"/api/parcels/{LATE}/exit-case", json={**exit_body, "building_disposal": "拆了"},
                   headers=w.h("weidu_admin"))
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "building_disposal"
    r = w.api.post(f"/api/parcels/{LATE}/exit-case", json=exit_body, headers=w.h("weidu_admin"))
    assert r.status_code == 201, r.text
    case = r.json()
    land, building, total = expected_buyback(900.0, date(2020, 1, 10), 50, today - timedelta(days=1), 3000.0,
                                             date(2022, 6, 1))
    assert case["building_disposal"] == "residual_compensation" and case["building_disposal_label"] == "残值补偿"
    assert case["land_refund_wan"] == pytest.approx(land, abs=1e-4)
    assert case["building_value_wan"] == pytest.approx(building, abs=1e-4)
    assert case["buyback_price_wan"] == pytest.approx(total, abs=1e-3) and case["version"] == 1
    # the contract now names the disposal; a different one is refused from here on
    assert ledgers.list_contracts(w.db, LATE, viewer=SYSTEM)[0][0]["building_disposal"] == "residual_compensation"
    # the zone records the deductions and the buy-back agreement; the figure is recomputed
    r = w.api.patch(f"/api/parcels/{LATE}/exit-case", headers=w.h("weidu_zone"),
                    json={"version": 1, "deductions_wan": 100.0, "buyback_number": "回购〔2026〕1号",
                          "buyback_date": today.isoformat()})
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    assert r.json()["buyback_price_wan"] == pytest.approx(total - 100.0, abs=1e-3)
    assert w.api.patch(f"/api/parcels/{LATE}/exit-case", headers=w.h("weidu_zone"),
                       json={"version": 1, "deductions_wan": 0}).status_code == 409
    assert w.api.patch(f"/api/parcels/{LATE}/exit-case", headers=w.h("ent"),
                       json={"version": 2, "deductions_wan": 0}).status_code == 403
    body = w.show(LATE).json()
    assert body["exit_case"]["buyback_number"] == "回购〔2026〕1号" and body["exit_case"]["version"] == 2
    # a second case for the same contract is refused
    r = w.api.post(f"/api/parcels/{LATE}/exit-case", json=exit_body, headers=w.h("weidu_admin"))
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "duplicate"
    assert w.step(LATE, "reclaim", user="weidu_admin").json()["state"] == "reclaimed"


def test_idle_notices_at_the_one_and_two_year_points(world):
    w = world
    before = w.counts()
    r = w.notice(IDLE_EARLY, "fee_notice")
    assert r.status_code == 422
    [p] = r.json()["problems"]
    assert "未满1年" in p["message"] and p["field"] == "kind"
    assert w.counts() == before
    r = w.notice(IDLE_ON, "fee_notice")
    assert r.status_code == 201, r.text
    n = r.json()
    assert n["amount_wan"] == pytest.approx(1234.5 * 0.20) and n["fee_rate"] == 0.2
    assert n["point"] == w.today.isoformat() and n["full_years"] == 1 and "第十四条" in n["basis"]
    r = w.notice(IDLE_ON, "fee_notice")
    assert r.status_code == 422 and "已于" in r.text  # once per idle period
    r = w.notice(IDLE_ON, "reclaim_proposal")
    assert r.status_code == 422 and "未满2年" in r.text
    r = w.notice(IDLE_2Y, "reclaim_proposal")
    assert r.status_code == 201 and r.json()["next_step"]["transition"] == "reclaim_free", r.text
    # the status shows the fee point done, and the 2-year point ahead with its consequence
    body = w.show(IDLE_ON, "weidu_admin").json()
    kinds = {d["kind"]: d for d in body["deadlines"]}
    assert kinds["idle_fee"]["status"] == "met" and kinds["idle_reclaim"]["status"] == "open"
    assert "无偿收回" in kinds["idle_reclaim"]["consequence"]
    assert kinds["idle_reclaim"]["due"] == anniversary(anniversary(w.today, -1), 2).isoformat()
    # next due: the earliest open one — the agreed completion (start + 730 days, no later than the 2-year point)
    assert body["next_due"]["kind"] == "completion" and body["next_due"]["due"] <= kinds["idle_reclaim"]["due"]
    assert "246.90 万元" in kinds["idle_fee"]["consequence"]
    # a government-caused delay bars both, with the reason
    assert w.notice(IDLE_GOV, "government_delay").status_code == 422  # the finding needs its reason
    r = w.notice(IDLE_GOV, "government_delay", reason="规划调整导致无法按期交地")
    assert r.status_code == 201, r.text
    for kind in ("fee_notice", "reclaim_proposal"):
        r = w.notice(IDLE_GOV, kind)
        assert r.status_code == 422 and "第八条" in r.text and "政府原因" in r.text
    body = w.show(IDLE_GOV).json()
    assert {d["status"] for d in body["deadlines"] if d["kind"].startswith("idle")} == {"waived"}
    # who may: the city/county government only, within its jurisdiction
    assert w.notice(IDLE_2Y, "fee_notice", user="weidu_zone").status_code == 403
    assert w.notice(IDLE_2Y, "fee_notice", user="changge_admin").status_code == 404
    assert w.notice(IDLE_ON, "reclaim_proposal", user="other_ent").status_code == 403  # its own parcel
    assert w.notice(IDLE_2Y, "fee_notice", user="other_ent").status_code == 404  # not its parcel
    assert w.notice(IDLE_2Y, "fee_notice", user=None).status_code == 401
    assert w.notice(OTHER, "fee_notice").status_code == 404
    for sql in ("UPDATE idle_notices SET amount_wan = 0", "DELETE FROM idle_notices"):
        with pytest.raises(Exception, match="只能追加"):
            with w.db.engine.begin() as c:
                c.execute(text(sql))


def test_who_reads_and_who_records(world):
    w = world
    assert w.show(STD, None).status_code == 401
    assert w.show(STD, "changge_zone").status_code == 404
    assert w.show(STD, "other_ent").status_code == 404  # not its parcel
    assert w.show(STD, "tax_city").status_code == 200
    assert w.show(OTHER, "weidu_zone").status_code == 404
    assert w.show(IDLE_ON, "other_ent").status_code == 200
    a_m2, a_mu = _area(w.db, STD)
    before = w.counts()
    for user, status in (("ent", 403), ("tax_city", 403), ("changge_zone", 404), (None, 401)):
        r = w.inspect(STD, "completion", measured_for(a_m2, a_mu), user=user, version=1)
        assert r.status_code == status, (user, r.text)
    inspections, notices, _ = w.counts()
    assert (inspections, notices) == before[:2]
    r = w.inspect(STD, "no_such_kind", {}, version=1)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "kind"
    r = w.inspect(STD, "completion", measured_for(a_m2, a_mu), day=w.today + timedelta(days=1), version=1)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "inspected_on"
    r = w.api.post(f"/api/parcels/{STD}/inspections", headers=w.h("weidu_zone"),
                   json={"kind": "completion", "inspected_on": w.today.isoformat(), "number": "x", "measured": {}})
    assert r.status_code == 428


def test_deadline_items_for_the_warnings_job(world):
    w, today = world, world.today
    with w.db.reader() as s:
        zone = accounts_service.principal_of(s, accounts_service._user(s, "weidu_zone"))
        changge = accounts_service.principal_of(s, accounts_service._user(s, "changge_zone"))
    items = supervision.deadline_items(w.db, zone, today)
    assert all(set(i) >= {"parcel_code", "county_id", "zone_id", "kind", "label", "due", "basis", "consequence"}
               for i in items)
    by = {(i["parcel_code"], i["kind"]): i for i in items}
    assert by[(IDLE_EARLY, "idle_fee")]["due"] == today + timedelta(days=1)
    assert by[(IDLE_EARLY, "idle_reclaim")]["due"] == anniversary(anniversary(today, -1) + timedelta(days=1), 2)
    assert by[(IDLE_ON, "idle_fee")]["due"] == today and by[(IDLE_ON, "idle_fee")]["status"] == "open"
    assert by[(LATE, "rectification_end")]["status"] == "overdue"
    assert by[(STD, "completion")]["status"] == "overdue"
    assert (STD, "start") not in by  # done: not a warning
    assert not any(i["parcel_code"] == OTHER for i in items)
    assert all(i["parcel_code"] == OTHER for i in supervision.deadline_items(w.db, changge, today))
    # the notice closes its point
    assert w.notice(IDLE_ON, "fee_notice").status_code == 201
    assert (IDLE_ON, "idle_fee") not in {(i["parcel_code"], i["kind"])
                                         for i in supervision.deadline_items(w.db, zone, today)}


def test_cli_shows_the_status_and_records_an_inspection(world, monkeypatch):
    import json

    from typer.testing import CliRunner

    from landcycle.faces.cli import app

    monkeypatch.setenv("LANDCYCLE_DATABASE_URL", world.db.url)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    res = runner.invoke(app, ["parcel", "supervision", STD, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["state"] == "under_construction" and data["next_due"]["kind"] == "production"
    a_m2, a_mu = _area(world.db, STD)
    args = ["parcel", "inspect", STD, "竣工联合验收", "--date", (world.today - timedelta(days=3)).isoformat(),
            "--number", "魏集验〔2026〕9号"]
    good = measured_for(a_m2, a_mu)
    keys = RB.section("acceptance")["completion_indicators"]
    opts = [x for k, v in good.items() if sv.MEASURES[k][0] in keys for x in ("--measured", f"{k}={v!r}")]
    res = runner.invoke(app, args + opts[:-2])  # one indicator missing: refused, nothing written
    assert res.exit_code == 2 and "未提供实测值" in res.output
    assert world.counts()[0] == 0
    res = runner.invoke(app, args + ["--measured", "plot_ratio=many"])
    assert res.exit_code == 2 and "格式不对" in res.output
    res = runner.invoke(app, args + opts + ["--actor", "张三"])
    assert res.exit_code == 0 and "通过" in res.output and "竣工验收通过" in res.output, res.output
    res = runner.invoke(app, ["parcel", "supervision", STD])
    assert res.exit_code == 0 and "竣工联合验收" in res.output and "魏集验〔2026〕9号" in res.output
    with world.db.reader() as s:
        assert s.scalar(select(AcceptanceInspection.actor)) == "张三"
