"""Whole parcel lives walked through the API (issue 7, "Tests"), on SQLite and PostgreSQL:

1. a 标准地 — 区域评估, 出让方案, sold; its permits on the 告知承诺制 clock across 国庆 2025 and its
   调休 Sunday; built late; 竣工 late; failing 达产 once; rectified; passing; operating;
2. a parcel idle for two years and taken back without compensation;
3. a parcel split into two.

Every state, deadline, warning and history entry is asserted; refusals return the reason and
change nothing. Working days are counted here independently of the product (straight from
``chinese_calendar``), and the warnings come from the daily job (``notices.run``).
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
import shapely
from sqlalchemy import func, select

from conftest import PASSWORD, bearer
from landcycle.data import DATA_DIR
from landcycle.domain import lifecycle as lc
from landcycle.domain import standard_supply as ss
from landcycle.domain.geometry import gk_area_m2, rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import DevelopmentDraft, EnterpriseDraft, OccupancyDraft, ParcelDraft, SupplyContractDraft
from landcycle.domain.rules.idle import anniversary
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.services import accounts as accounts_service
from landcycle.services import enterprises, jurisdictions, ledgers, lifecycle, notices, registry
from landcycle.storage.lifecycle_schema import ParcelTransition
from landcycle.storage.schema import ChangeLog, Parcel

RB = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
STD = "411002001001GB00301"    # life 1: 标准地
IDLE = "411002001001GB00302"   # life 2: idle two years, taken back
SPLIT = "411002001001GB00303"  # life 3: split in two
ENT = credit_code_with_check("91411002MA44WALK0")
ENT2 = credit_code_with_check("91411002MA44WALK1")
AGREED_START, AGREED_COMPLETION, AGREED_PRODUCTION = date(2025, 3, 1), date(2025, 10, 31), date(2026, 6, 30)
PLAN = {"project_class": "traditional_industry", "admission_class": "encouraged", "term_years": 50,
        "supply_mode": "transfer", "industry_code": "C3411",
        "base": {"far": 1.2, "investment_intensity_wan_per_mu": 300.0, "tax_per_mu_wan": 18.0,
                 "output_per_mu_wan": 350.0, "building_coverage": 0.45, "office_living_ratio": 0.05,
                 "green_ratio": 0.15}}
AGREED = {"plot_ratio": 1.2, "investment_intensity_wan_per_mu": 300.0, "tax_per_mu_wan": 18.0,
          "output_per_mu_wan": 350.0, "building_coverage": 0.45, "office_living_ratio": 0.05, "green_ratio": 0.15,
          "building_density": 0.4}


def workdays_after(start: date, n: int) -> date:
    """The n-th working day after ``start`` (the start day never counts), by the official calendar."""
    day, left = start, n
    while left:
        day += timedelta(days=1)
        left -= chinese_calendar.is_workday(day)
    return day


def doc(kind: str, day: date | None = None) -> dict:
    return {"kind": kind, "title": lc.DOCUMENT_KINDS.get(kind, kind), "number": f"许测〔2026〕{len(kind)}号",
            "date": (day or lifecycle.today() - timedelta(days=1)).isoformat()}


class World:
    def __init__(self, db, api):
        self.db, self.api, self.tokens = db, api, {}

    def h(self, user):
        if user not in self.tokens:
            self.tokens[user] = bearer(self.api, user)
        return self.tokens[user]

    def get(self, url, user="weidu_zone", **params):
        r = self.api.get(url, headers=self.h(user), params=params or None)
        assert r.status_code == 200, (url, r.status_code, r.text)
        return r.json()

    def post(self, url, body, user="weidu_zone", status=None):
        r = self.api.post(url, json=body, headers=self.h(user))
        if status is not None:
            assert r.status_code == status, (url, r.status_code, r.text)
        return r

    def version(self, code):
        with self.db.reader() as s:
            return s.scalar(select(Parcel.version).where(Parcel.code == code))

    def step(self, code, key, user="weidu_zone", kinds=None, reason=None):
        kinds = lc.BY_KEY[key].documents if kinds is None else kinds
        body = {"transition": key, "version": self.version(code), "documents": [doc(k) for k in kinds]}
        if reason:
            body["reason"] = reason
        return self.post(f"/api/parcels/{code}/transitions", body, user)

    def life(self, code, user="weidu_zone"):
        return self.get(f"/api/parcels/{code}/lifecycle", user)

    def snapshot(self, code):
        """What a refusal must not change: the parcel's state and version, the steps on file and
        the change log's create/update rows (refusals themselves are filed as denied/refused)."""
        with self.db.engine.connect() as c:
            steps = c.execute(select(func.count()).select_from(ParcelTransition.__table__)).scalar()
            logs = c.execute(select(func.count()).select_from(ChangeLog.__table__)
                             .where(ChangeLog.action.in_(["create", "update", "delete"]))).scalar()
            row = c.execute(select(Parcel.state, Parcel.version).where(Parcel.code == code)).one()
        return tuple(row), steps, logs

    def dev_version(self, code):
        return self.get(f"/api/parcels/{code}/development")["version"]

    def inspect(self, code, kind, on, measured, status=201):
        body = {"kind": kind, "inspected_on": on.isoformat(), "number": f"验收〔{on.year}〕{kind}号",
                "measured": measured, "version": self.dev_version(code)}
        return self.post(f"/api/parcels/{code}/inspections", body, status=status)

    def notices_of(self, user, code):
        return self.get("/api/warnings/notices", user, parcel=code, limit=1000)["items"]


@pytest.fixture
def world(db, api, accounts):
    with db.reader() as s:
        p = shapely.point_on_surface(jurisdictions.resolve(s, "魏都产业集聚区").geometry)
    zone = dict(county="魏都区", zone="魏都产业集聚区", plot_ratio_min=1.0, plot_ratio_max=2.5)
    registry.register_parcels(db, [
        ParcelDraft(code=STD, geometry=rectangle_around(p.x, p.y, 0.2, 0.15), state="批而未供", is_standard_land=True,
                    **zone),
        ParcelDraft(code=IDLE, geometry=rectangle_around(p.x + 0.004, p.y, 0.2, 0.15), state="已供应", **zone),
        ParcelDraft(code=SPLIT, geometry=rectangle_around(p.x - 0.004, p.y, 0.2, 0.2), state="正常运营",
                    supply_date=date(2018, 6, 1), term_years=50, **zone),
    ], actor="测试")
    for credit, name in ((ENT, "许昌全周期测试有限公司"), (ENT2, "许昌受让测试有限公司")):
        enterprises.register_enterprise(db, EnterpriseDraft(credit, name, "C3411", True, "魏都区"), actor="测试")
    for code in (STD, IDLE, SPLIT):
        enterprises.add_occupancy(db, OccupancyDraft(code, ENT, "权利人", 10000, date(2018, 6, 1)), actor="测试")
    accounts_service.add_user(db, "ent", PASSWORD, role="enterprise", enterprise=ENT)
    accounts_service.add_user(db, "ent2", PASSWORD, role="enterprise", enterprise=ENT2)
    return World(db, api)


# =========================================================================== life 1
def test_a_standard_land_sold_built_late_failing_production_once_rectified_and_passing(world):
    w, today = world, lifecycle.today()
    zone_h = "weidu_zone"
    with w.db.reader() as s:
        area_m2, area_mu = s.execute(select(Parcel.area_m2, Parcel.area_mu).where(Parcel.code == STD)).one()

    # ---- supply: listed; refused while 区域评估 and 出让方案 are missing, nothing changed
    assert w.step(STD, "list_for_supply").status_code == 200
    before = w.snapshot(STD)
    r = w.step(STD, "supply", user="weidu_admin")
    assert r.status_code == 422
    msgs = " ".join(x["message"] for x in r.json()["problems"])
    assert "区域评估缺少“土地勘测”成果" in msgs and "出让方案尚未批准" in msgs and "000:996" in msgs
    assert w.snapshot(STD) == before
    for item in ss.ASSESSMENT_ITEMS:
        w.post("/api/zones/魏都产业集聚区/assessments", {
            "item": item, "title": f"{ss.ASSESSMENT_ITEMS[item]}评估报告", "number": f"许评〔2024〕{len(item)}号",
            "completed_date": "2024-05-10"}, status=201)
    plan = w.post(f"/api/parcels/{STD}/standard-plan", {"plan": PLAN}, status=201).json()["plan"]
    w.post(f"/api/standard-plans/{plan['id']}/approval", {"approval_number": "许政〔2024〕9号",
                                                          "version": plan["version"]}, user="weidu_admin", status=200)
    w.post(f"/api/parcels/{STD}/contracts", {
        "contract_no": "HT-WALK-1", "credit_code": ENT, "supply_method": "出让", "signed_date": "2024-09-20",
        "term_years": 50, "price_wan": 900.0, "agreed_start_date": AGREED_START.isoformat(),
        "agreed_completion_date": AGREED_COMPLETION.isoformat()}, status=201)
    w.post(f"/api/parcels/{STD}/agreements", {
        "contract_no": "HT-WALK-1", "signed_date": "2024-09-20", "agreed_start_date": AGREED_START.isoformat(),
        "agreed_completion_date": AGREED_COMPLETION.isoformat(),
        "agreed_production_date": AGREED_PRODUCTION.isoformat(), **AGREED}, status=201)
    r = w.step(STD, "supply", user="weidu_admin", reason="挂牌出让成交")
    assert r.status_code == 200 and r.json()["state"] == "supplied", r.text

    # ---- 告知承诺制 (带施工图出让): accepted on Friday 26 Sep 2025; 5 working days run over the
    # 调休 Sunday 28 Sep and skip 国庆 1–8 Oct: due Friday 10 Oct
    case = w.post(f"/api/parcels/{STD}/approvals", {"track": "with_drawings"}, status=201).json()
    accepted = date(2025, 9, 26)
    due = workdays_after(accepted, 5)
    assert due == date(2025, 10, 10) and chinese_calendar.is_workday(date(2025, 9, 28))
    case = w.post(f"/api/approvals/{case['id']}/events", {"step": "permits", "kind": "accepted",
                                                          "date": accepted.isoformat()}, status=200).json()
    [permits] = case["steps"]
    assert permits["due_date"] == due.isoformat() and permits["limit_workdays"] == 5

    # ---- the daily warning job, run as of 1 Oct 2025: the permit clock (9 days left, within 30)
    # and the agreed start, missed since March (overdue: the tightest threshold), reach the zone
    # and the enterprise; a second run that day adds nothing
    run = notices.run(w.db, as_of=date(2025, 10, 1), deliver=False)
    assert run.status == "finished", run.errors
    zone_notices = {(n["kind"], n["due_date"], n["lead_days"]) for n in w.notices_of(zone_h, STD)}
    assert zone_notices == {("approval:permits", due.isoformat(), 30), ("start", AGREED_START.isoformat(), 7)}
    ent_notices = {(n["kind"], n["due_date"]) for n in w.notices_of("ent", STD)}
    assert ent_notices == {("approval:permits", due.isoformat()), ("start", AGREED_START.isoformat())}
    assert notices.run(w.db, as_of=date(2025, 10, 1), deliver=False).notices == 0
    assert w.get("/api/warnings/notices", "changge_zone", parcel=STD)["items"] == []  # not its zone

    # the permits are issued on the due day: on time
    case = w.post(f"/api/approvals/{case['id']}/events", {"step": "permits", "kind": "done", "date": due.isoformat(),
                                                          "number": "许建许〔2025〕88号"}, status=200).json()
    assert case["steps"][0]["status"] == "done" and case["steps"][0]["used_workdays"] == 5

    # ---- built late: started 20 Oct 2025 (agreed 1 Mar 2025)
    assert w.step(STD, "start_construction").status_code == 422  # no recorded start yet
    w.post(f"/api/parcels/{STD}/development", {"actual_start_date": "2025-10-20",
                                               "investment_total_wan": 30000.0}, status=201)
    assert w.step(STD, "start_construction").json()["state"] == "under_construction"
    life = w.life(STD)
    [start] = [d for d in w.get(f"/api/parcels/{STD}/supervision")["deadlines"] if d["kind"] == "start"]
    assert start["status"] == "met_late" and start["days_late"] == (date(2025, 10, 20) - AGREED_START).days
    overdue = {d["kind"] for d in life["overdue"]}
    assert "completion" in overdue and "production" in overdue  # both agreed dates are past today
    assert all(d["consequence"] and d["basis"] for d in life["due"])

    def measured(**changes):
        m = {"floor_area_m2": 1.2 * area_m2, "footprint_m2": 0.4 * area_m2, "coverage_area_m2": 0.45 * area_m2,
             "green_area_m2": 0.15 * area_m2, "office_living_area_m2": 0.05 * area_m2,
             "investment_wan": 300.0 * area_mu, "output_wan": 350.0 * area_mu, "tax_wan": 18.0 * area_mu}
        return {**m, **changes}

    # ---- 竣工 late (15 Jan 2026), passed; the restriction on mortgage/transfer starts
    w.inspect(STD, "completion", date(2026, 1, 15), measured())
    assert w.step(STD, "pass_completion").json()["state"] == "completed"
    life = w.life(STD)
    assert life["restriction"]["active"] and "不得抵押、转让" in life["restriction"]["restriction"]
    assert "split_transfer" not in {t["key"] for t in life["next_steps"]}
    # the job, as of 31 May 2026: 达产 is the stage now, 30 days before its agreed date
    notices.run(w.db, as_of=AGREED_PRODUCTION - timedelta(days=30), deliver=False)
    got = {(n["kind"], n["due_date"], n["lead_days"]) for n in w.notices_of(zone_h, STD)}
    assert ("production", AGREED_PRODUCTION.isoformat(), 30) in got

    # ---- 达产 fails once: tax 1 万元 short of 18 万元/亩 × area
    r = w.inspect(STD, "production", date(2026, 7, 10), measured(tax_wan=18.0 * area_mu - 1.0))
    assert r.json()["inspection"]["result"] == "failed"
    before = w.snapshot(STD)
    r = w.step(STD, "pass_production")
    assert r.status_code == 422 and "达产验收结果为“未通过”" in r.json()["problems"][0]["message"]
    assert w.snapshot(STD)[:2] == before[:2]
    assert w.step(STD, "start_rectification").json()["state"] == "rectifying"
    life = w.life(STD)
    [rect] = [d for d in life["due"] if d["kind"] == "rectification_end"]
    assert rect["due"] == anniversary(today, 2).isoformat() and "解除出让合同" in rect["consequence"]
    assert life["next_due"]["kind"] == "rectification_end"

    # ---- rectified: the 复验 passes (today), 达产复验通过, restriction lifted, then 正常运营
    r = w.inspect(STD, "production_reinspection", today, measured())
    assert r.json()["inspection"]["result"] == "passed"
    assert w.step(STD, "pass_rectification_production").json()["state"] == "in_production"
    assert w.life(STD)["restriction"]["active"] is False
    r = w.step(STD, "begin_operation", user="city")
    assert r.status_code == 200 and r.json()["state"] == "operating"

    # ---- every step on file, in order, with its documents; the overview shows them all
    life = w.life(STD)
    assert [h["to_state"] for h in life["history"]] == [
        "listed", "supplied", "under_construction", "completed", "rectifying", "in_production", "operating"]
    assert life["history"][1]["reason"] == "挂牌出让成交" and life["history"][1]["actor"] == "weidu_admin"
    assert {d["kind"] for d in life["history"][1]["documents"]} == set(lc.BY_KEY["supply"].documents)
    assert not {d["kind"] for d in life["due"]} & {"start", "completion", "production"}  # all met (late)
    assert set(life["parts"]) >= {"supervision", "approvals"}
    entries = w.get(f"/api/parcels/{STD}/history", "city", limit=200)["items"]
    states = [e["after"]["state"] for e in sorted(entries, key=lambda e: e["id"])
              if e["entity"] == "parcels" and e["action"] == "update" and "state" in (e.get("after") or {})]
    assert states == ["listed", "supplied", "under_construction", "completed", "rectifying", "in_production",
                      "operating"]
    # the enterprise reads its own parcel's life, without officials' names
    ent = w.life(STD, "ent")
    assert len(ent["history"]) == 7 and {h["actor"] for h in ent["history"]} == {"—"}


# =========================================================================== life 2
def test_a_parcel_idle_for_two_years_is_taken_back(world):
    w, today = world, lifecycle.today()
    agreed = anniversary(today, -2) - timedelta(days=10)  # agreed start: two years and ten days ago
    fee_point, reclaim_point = anniversary(agreed, 1), anniversary(agreed, 2)
    ledgers.add_contract(w.db, IDLE, SupplyContractDraft("HT-WALK-2", ENT, "出让", agreed - timedelta(90), 50, 1000.0,
                                                         agreed, agreed + timedelta(730)), actor="测试")

    # the job warns the zone 7 days before the one-year point, and again (urgent) as it passes
    notices.run(w.db, as_of=fee_point - timedelta(days=7), deliver=False)
    got = {(n["kind"], n["lead_days"]) for n in w.notices_of("weidu_zone", IDLE)}
    assert ("idle_fee", 7) in got and ("idle_reclaim", 30) not in got
    notices.run(w.db, as_of=reclaim_point - timedelta(days=30), deliver=False)
    assert ("idle_reclaim", 30) in {(n["kind"], n["lead_days"]) for n in w.notices_of("weidu_zone", IDLE)}

    # 认定闲置; the fee (20% of the land price) and the 无偿收回 proposal
    assert w.step(IDLE, "find_idle", user="weidu_admin").json()["state"] == "idle"
    fee = w.post(f"/api/parcels/{IDLE}/idle-notices", {"kind": "fee_notice", "number": "许自然资闲〔2024〕1号",
                                                      "notice_date": fee_point.isoformat()},
                 user="weidu_admin", status=201).json()
    assert fee["amount_wan"] == pytest.approx(200.0) and fee["point"] == fee_point.isoformat()
    # 协议有偿收回 is for a government-caused delay only: refused, nothing changed
    before = w.snapshot(IDLE)
    r = w.step(IDLE, "reclaim_negotiated", user="weidu_admin")
    assert r.status_code == 422 and "第八条" in r.json()["problems"][0]["message"]
    assert w.snapshot(IDLE)[:2] == before[:2]
    w.post(f"/api/parcels/{IDLE}/idle-notices", {"kind": "reclaim_proposal", "number": "许自然资闲〔2025〕2号",
                                                "notice_date": reclaim_point.isoformat()},
           user="weidu_admin", status=201)
    # both R3 points are now met by their documents: nothing of R3 is due any more
    kinds = {d["kind"]: d for d in w.get(f"/api/parcels/{IDLE}/supervision")["deadlines"]}
    assert kinds["idle_fee"]["done"] == fee_point.isoformat() and kinds["idle_reclaim"]["done"] == reclaim_point.isoformat()
    assert not {d["kind"] for d in w.life(IDLE)["due"]} & {"idle_fee", "idle_reclaim"}
    r = w.step(IDLE, "reclaim_free", user="weidu_admin", reason="闲置满两年，无偿收回")
    assert r.status_code == 200 and r.json()["state"] == "reclaimed", r.text
    life = w.life(IDLE)
    assert [h["transition"] for h in life["history"]] == ["find_idle", "reclaim_free"]
    assert life["history"][1]["reason"] == "闲置满两年，无偿收回"
    # taken back, the land goes to the reserve or back on the list
    assert {t["key"] for t in life["next_steps"]} == {"relist", "store"}


def test_a_recorded_government_delay_bars_taking_land_back_for_free(world):
    w, today = world, lifecycle.today()
    agreed = anniversary(today, -2) - timedelta(days=10)
    ledgers.add_contract(w.db, IDLE, SupplyContractDraft("HT-WALK-3", ENT, "出让", agreed - timedelta(90), 50, 1000.0,
                                                         agreed, agreed + timedelta(730)), actor="测试")
    assert w.step(IDLE, "find_idle", user="weidu_admin").status_code == 200
    w.post(f"/api/parcels/{IDLE}/idle-notices", {"kind": "government_delay", "number": "许政〔2023〕5号",
                                                "reason": "征地拆迁未按期完成"}, user="weidu_admin", status=201)
    before = w.snapshot(IDLE)
    r = w.step(IDLE, "reclaim_free", user="weidu_admin")
    assert r.status_code == 422 and "政府原因" in r.json()["problems"][0]["message"]
    assert w.snapshot(IDLE)[:2] == before[:2]
    # the finding filed through supervision counts for the lifecycle too: 协议有偿收回 may proceed
    r = w.step(IDLE, "reclaim_negotiated", user="weidu_admin")
    assert r.status_code == 200 and r.json()["state"] == "reclaimed", r.text


# =========================================================================== life 3
def test_a_parcel_split_into_two(world):
    w = world
    ledgers.add_contract(w.db, SPLIT, SupplyContractDraft("HT-WALK-4", ENT, "出让", date(2018, 5, 20), 50, 1200.0,
                                                          date(2018, 9, 1), date(2020, 9, 1)), actor="测试")
    ledgers.add_development(w.db, SPLIT, DevelopmentDraft(
        actual_start_date=date(2018, 9, 1), completion_result="passed", completion_date=date(2020, 8, 1),
        production_result="passed", production_date=date(2022, 8, 1)), actor="测试")
    with w.db.reader() as s:
        parent = s.scalar(select(Parcel.geometry).where(Parcel.code == SPLIT))
    minx, miny, maxx, maxy = parent.bounds
    x = minx + (maxx - minx) * 0.6
    west = shapely.intersection(parent, shapely.box(minx - 1, miny - 1, x, maxy + 1))
    east = shapely.intersection(parent, shapely.box(x, miny - 1, maxx + 1, maxy + 1))
    share = gk_area_m2(east) / gk_area_m2(parent)
    assert 0.3 < share < 0.5
    checklist = list(RB.section("split_transfer")["required_documents"])
    app = w.post(f"/api/parcels/{SPLIT}/split-applications", {
        "pieces": [{"geometry": shapely.geometry.mapping(west)},
                   {"geometry": shapely.geometry.mapping(east), "transferee_name": "许昌受让测试有限公司",
                    "transferee_credit_code": ENT2}],
        "declared_price_wan": 800.0, "documents": [doc(k) for k in checklist]}, user="ent", status=201).json()
    # a department may not decide; nothing changes
    before = w.snapshot(SPLIT)
    r = w.post(f"/api/split-applications/{app['id']}/decision", {"decision": "approve", "version": app["version"]},
               user="tax_city")
    assert r.status_code in (403, 404) and w.snapshot(SPLIT)[:2] == before[:2]
    r = w.post(f"/api/split-applications/{app['id']}/decision", {"decision": "approve", "version": app["version"]},
               user="weidu_zone", status=200)
    children = [p["child_code"] for p in r.json()["pieces"]]
    assert len(children) == 2 and SPLIT not in children
    with w.db.reader() as s:
        rows = {c: s.execute(select(Parcel.state, Parcel.area_m2).where(Parcel.code == c)).one() for c in children}
        parent_row = s.execute(select(Parcel.state, Parcel.area_m2).where(Parcel.code == SPLIT)).one()
    assert parent_row.state == "split_transferred"
    assert sum(r.area_m2 for r in rows.values()) == pytest.approx(parent_row.area_m2, rel=1e-6)
    life = w.life(SPLIT)
    assert [h["transition"] for h in life["history"]] == ["split_transfer"]
    assert {d["kind"] for d in life["history"][0]["documents"]} >= {"split_approval", "split_contract"}
    lineage = w.get(f"/api/parcels/{children[1]}/lineage")
    assert [p["code"] for p in lineage["parents"]] == [SPLIT]
