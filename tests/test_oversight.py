"""挂牌督办 and 低效用地再开发监管协议 (issue 8 item 2): the pure rules at their boundaries, then cases,
zone counts, agreements, assessments and claw-backs through the API on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
import shapely
from sqlalchemy import func, select

from conftest import PASSWORD, bearer, run_cli
from landcycle.domain import oversight as ov
from landcycle.domain.access import SYSTEM
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import DevelopmentDraft, EnterpriseDraft, OccupancyDraft, ParcelDraft
from landcycle.services import accounts as accounts_service
from landcycle.services import enterprises, evaluation, jurisdictions, ledgers, oversight, registry
from landcycle.storage.oversight_schema import (OversightCase, OversightProgress, RedevelopmentAgreement,
                                                RedevelopmentAssessment, RedevelopmentClawback)
from landcycle.storage.schema import ChangeLog, Parcel

DUE = date(2021, 12, 31)
COUNTED = ["approved_unsupplied", "idle"]


# =========================================================================== pure rules
def f(listed, lifted=None, state="idle"):
    return ov.CaseFacts(listed, lifted, state)


def test_case_is_open_from_listing_until_the_day_it_is_lifted():
    assert not ov.case_open_on(date(2021, 5, 1), None, date(2021, 4, 30))
    assert ov.case_open_on(date(2021, 5, 1), None, date(2021, 5, 1))
    assert ov.case_open_on(date(2021, 5, 1), date(2021, 9, 1), date(2021, 8, 31))
    assert not ov.case_open_on(date(2021, 5, 1), date(2021, 9, 1), date(2021, 9, 1))


def test_zone_requirement_boundaries():
    two = [f(date(2021, 3, 1)), f(date(2021, 12, 31), state="approved_unsupplied")]
    r = ov.zone_requirement(two, date(2022, 1, 10), 2, DUE, COUNTED)
    assert (r["counted_by_due"], r["met"], r["below_minimum"], r["shortfall"], r["overdue"]) == (2, True, False, 0, False)
    # one short: flagged; past the due day it is overdue
    one = two[:1]
    r = ov.zone_requirement(one, date(2022, 1, 10), 2, DUE, COUNTED)
    assert (r["counted_by_due"], r["met"], r["shortfall"], r["overdue"]) == (1, False, 1, True)
    # a listing the day after the due date does not count; a 低效 parcel's listing never does
    late = one + [f(date(2022, 1, 1)), f(date(2021, 6, 1), state="inefficient")]
    r = ov.zone_requirement(late, date(2022, 3, 1), 2, DUE, COUNTED)
    assert (r["listed"], r["counted_listed"], r["counted_by_due"], r["met"]) == (3, 2, 1, False)
    # a case lifted later still counts (it was listed); on a day before the second listing, only one
    lifted = [f(date(2021, 3, 1), date(2021, 6, 1)), f(date(2021, 10, 1))]
    assert ov.zone_requirement(lifted, date(2022, 1, 1), 2, DUE, COUNTED)["met"]
    r = ov.zone_requirement(lifted, date(2021, 9, 30), 2, DUE, COUNTED)
    assert (r["open"], r["listed"], r["counted_by_due"], r["met"], r["overdue"]) == (0, 1, 1, False, False)


def test_targets_exactly_met_pass_a_hair_below_fails():
    targets = {"investment_intensity": 300.0, "tax_per_mu": 15.0}
    a = ov.assess_targets(targets, {"investment_intensity": 300.0, "tax_per_mu": 15.0}, "协议")
    assert a.met and not a.problems and all(x["met"] for x in a.findings)
    a = ov.assess_targets(targets, {"investment_intensity": 300.0, "tax_per_mu": 15.0 - 1e-6}, "协议")
    assert not a.met and [x["target"] for x in a.findings if not x["met"]] == ["tax_per_mu"]
    assert "000:1114" in a.reasons[0]
    a = ov.assess_targets(targets, {"investment_intensity": 300.0}, "协议")
    assert [p.field for p in a.problems] == ["actual.tax_per_mu"] and not a.met
    # completion on the agreed day is met, a day later is not, not at all is not
    d = date(2024, 6, 30)
    assert ov.assess_targets({}, {}, "协议", d, d).met
    assert not ov.assess_targets({}, {}, "协议", d, d + timedelta(1)).met
    assert not ov.assess_targets({}, {}, "协议", d, None).met


def test_clawback_lines_take_the_share_of_each_reward():
    rewards = [{"id": 1, "kind": "fiscal_subsidy", "amount_wan": 120.0}, {"id": 2, "kind": "land_price_discount",
                                                                          "amount_wan": 33.33333}]
    assert [x["amount_wan"] for x in ov.clawback_lines(rewards, 1.0)] == [120.0, 33.3333]
    assert [x["amount_wan"] for x in ov.clawback_lines(rewards, 0.5)] == [60.0, 16.6667]


# =========================================================================== the world
W = [f"411002001001GB0030{i}" for i in range(1, 7)]  # 魏都产业集聚区
C = [f"411082001001GB0030{i}" for i in range(1, 3)]  # 长葛市产业集聚区
ENT = credit_code_with_check("91411002MA44RDKA0")
OTHER_ENT = credit_code_with_check("91411002MA44RDKB0")
YEAR = 2025


def _zone_point(db, name):
    with db.reader() as s:
        p = shapely.point_on_surface(jurisdictions.resolve(s, name).geometry)
    return p.x, p.y


class World:
    def __init__(self, db, api):
        self.db, self.api, self.tokens = db, api, {}

    def h(self, user):
        if user is None:
            return {}
        if user not in self.tokens:
            self.tokens[user] = bearer(self.api, user)
        return self.tokens[user]

    def open(self, code, user="city", level="city", **extra):
        body = {"code": code, "level": level, "listed_by_unit": "许昌市百园增效行动领导小组办公室",
                "reason": "批而未供两年以上", "requirement": "制定一地一策，限期处置", "deadline": "2022-09-30",
                "units": ["魏都区人民政府", "魏都产业集聚区管理委员会"], "listed_on": "2021-06-01", **extra}
        return self.api.post("/api/oversight/cases", json=body, headers=self.h(user))

    def counts(self):
        with self.db.engine.connect() as c:
            return tuple(c.execute(select(func.count()).select_from(t)).scalar() for t in (
                OversightCase.__table__, OversightProgress.__table__, RedevelopmentAgreement.__table__,
                RedevelopmentAssessment.__table__, RedevelopmentClawback.__table__, ChangeLog.__table__))

    def area(self, code):
        with self.db.reader() as s:
            return s.execute(select(Parcel.area_m2, Parcel.area_mu).where(Parcel.code == code)).one()


@pytest.fixture
def world(db, api, accounts):
    wx, wy = _zone_point(db, "魏都产业集聚区")
    cx, cy = _zone_point(db, "长葛市产业集聚区")
    states = ["批而未供", "闲置", "批而未供", "低效", "低效", "储备"]
    drafts = [ParcelDraft(code=code, geometry=rectangle_around(wx + 0.004 * i, wy, 0.2, 0.15), state=st,
                          county="魏都区", zone="魏都产业集聚区") for i, (code, st) in enumerate(zip(W, states))]
    drafts += [ParcelDraft(code=code, geometry=rectangle_around(cx + 0.004 * i, cy, 0.2, 0.15), state="闲置",
                           county="长葛市", zone="长葛市产业集聚区") for i, code in enumerate(C)]
    registry.register_parcels(db, drafts, actor="测试")
    for cc, name in ((ENT, "许昌再开发测试有限公司"), (OTHER_ENT, "许昌别家再开发有限公司")):
        enterprises.register_enterprise(db, EnterpriseDraft(cc, name, "C3411", True, "魏都区"), actor="测试")
    for code, cc in ((W[3], ENT), (W[4], OTHER_ENT)):
        enterprises.add_occupancy(db, OccupancyDraft(code, cc, "权利人", 10000, date(2018, 1, 1)), actor="测试")
    accounts_service.add_user(db, "ent", PASSWORD, role="enterprise", enterprise=ENT)
    accounts_service.add_user(db, "other_ent", PASSWORD, role="enterprise", enterprise=OTHER_ENT)
    return World(db, api)


# =========================================================================== 挂牌督办 cases
def test_open_progress_lift_and_the_access_rules(world):
    w = world
    r = w.open(W[0])
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["level_label"] == "市级" and case["lead"] == "魏都区人民政府" and case["counts_toward_requirement"]
    assert case["state_at_listing_label"] == "批而未供" and r.headers["etag"] == '"1"'
    # one open case per parcel: a second is refused and nothing is written
    before = w.counts()
    r = w.open(W[0], user="weidu_admin", level="county")
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "duplicate"
    assert w.counts()[:5] == before[:5]
    # a reserve parcel is not listed; a county admin cannot list at city level; zone managers cannot list
    assert w.open(W[5]).status_code == 422
    assert w.open(W[1], user="weidu_admin", level="city").status_code == 403
    assert w.open(W[1], user="weidu_zone", level="county").status_code == 403
    assert w.open(W[1], user="changge_admin", level="county").status_code == 404  # outside 长葛's view
    assert w.open(W[1], user=None).status_code == 401
    r = w.open(W[1], user="weidu_admin", level="county", listed_on="2021-12-31")
    assert r.status_code == 201 and r.json()["level"] == "county"
    county_case = r.json()
    # bad input: deadline before listing, no units, blank reason — all named, nothing written
    before = w.counts()
    r = w.open(W[2], deadline="2021-01-01", units=[], listed_on="2021-06-01")
    assert r.status_code == 422
    assert {p["field"] for p in r.json()["problems"]} >= {"deadline", "units"}
    assert w.counts() == before

    cid = case["id"]
    # progress: the zone manager may, a department may not, an enterprise does not even see the case
    r = w.api.post(f"/api/oversight/cases/{cid}/progress", json={"text": "已约谈用地单位，制定处置方案"},
                   headers=w.h("weidu_zone"))
    assert r.status_code == 201, r.text
    assert w.api.post(f"/api/oversight/cases/{cid}/progress", json={"text": "x"},
                      headers=w.h("tax_city")).status_code == 403
    assert w.api.post(f"/api/oversight/cases/{cid}/progress", json={"text": "x"},
                      headers=w.h("changge_zone")).status_code == 404
    assert w.api.get(f"/api/oversight/cases/{cid}", headers=w.h("ent")).status_code == 404
    assert w.api.get("/api/oversight/cases", headers=w.h("ent")).status_code == 403
    assert w.api.get("/api/oversight/cases").status_code == 401
    assert w.api.get(f"/api/oversight/cases/{cid}", headers=w.h("tax_city")).status_code == 200
    seen = w.api.get("/api/oversight/cases", headers=w.h("changge_zone")).json()
    assert seen["count"] == 0  # 长葛's zone manager sees none of 魏都's cases

    # lift: needs a result; a county admin may not lift a city-level case; stale version 409
    with pytest.raises(ValidationFailed) as err:
        oversight.lift_case(w.db, cid, SYSTEM, 1, result="  ")
    assert err.value.problems[0].field == "result" and "销号结果" in err.value.problems[0].message
    r = w.api.post(f"/api/oversight/cases/{cid}/lift", json={"result": "已供地", "version": 1},
                   headers=w.h("weidu_admin"))
    assert r.status_code == 403
    r = w.api.post(f"/api/oversight/cases/{cid}/lift", json={"result": "已供地", "version": 1,
                                                             "lifted_on": "2021-05-01"}, headers=w.h("city"))
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "lifted_on"
    r = w.api.post(f"/api/oversight/cases/{cid}/lift", json={"result": "已挂牌出让并签订合同", "version": 1,
                                                             "lifted_on": "2022-03-01"}, headers=w.h("city"))
    assert r.status_code == 200 and r.json()["status"] == "lifted" and r.headers["etag"] == '"2"'
    before = w.counts()
    r = w.api.post(f"/api/oversight/cases/{cid}/lift", json={"result": "再次", "version": 1}, headers=w.h("city"))
    assert r.status_code == 409
    assert w.counts()[:5] == before[:5]
    with w.db.reader() as s:  # the refused attempt is on file, the case unchanged
        assert s.scalar(select(func.count()).select_from(ChangeLog).where(
            ChangeLog.entity == "oversight_cases", ChangeLog.action == "conflict")) == 1
    # lifted: no more progress; the parcel may be listed again
    assert w.api.post(f"/api/oversight/cases/{cid}/progress", json={"text": "x"},
                      headers=w.h("weidu_zone")).status_code == 422
    assert w.open(W[0], listed_on="2022-04-01").status_code == 201
    # a county admin lifts its own county-level case
    r = w.api.post(f"/api/oversight/cases/{county_case['id']}/lift", headers={**w.h("weidu_admin"), "If-Match": '"1"'},
                   json={"result": "闲置土地已收回"})
    assert r.status_code == 200, r.text
    # every write is in the parcel's archive
    with w.db.reader() as s:
        pid = s.scalar(select(Parcel.id).where(Parcel.code == W[0]))
        entities = set(s.scalars(select(ChangeLog.entity).where(ChangeLog.parcel_id == pid)))
    assert {"oversight_cases", "oversight_progress"} <= entities


def test_zone_counts_against_the_minimum_with_the_date_filter(world):
    w = world
    assert w.open(W[0], listed_on="2021-06-01").status_code == 201
    assert w.open(W[3], listed_on="2021-07-01").status_code == 201  # 低效: listed, but not counted
    assert w.open(C[0], listed_on="2021-08-01", units=["长葛市人民政府"]).status_code == 201

    def zones(as_of, user="city"):
        r = w.api.get("/api/oversight/zones", params={"as_of": as_of}, headers=w.h(user))
        assert r.status_code == 200, r.text
        return {z["zone"]: z for z in r.json()["zones"]}

    z = zones("2021-12-31")
    assert (z["魏都产业集聚区"]["listed"], z["魏都产业集聚区"]["counted_by_due"]) == (2, 1)
    assert z["魏都产业集聚区"]["below_minimum"] and z["长葛市产业集聚区"]["below_minimum"]
    assert z["鄢陵县产业集聚区"]["listed"] == 0 and z["鄢陵县产业集聚区"]["shortfall"] == 2
    # the second counted listing on the due day itself: exactly 2 → met
    assert w.open(W[1], listed_on="2021-12-31", user="weidu_admin", level="county").status_code == 201
    z = zones("2021-12-31")
    assert z["魏都产业集聚区"]["counted_by_due"] == 2 and z["魏都产业集聚区"]["met"]
    assert zones("2021-12-30")["魏都产业集聚区"]["counted_by_due"] == 1  # the day before: not yet
    # 长葛's second listing comes a day late: listed, not counted; still flagged
    assert w.open(C[1], listed_on="2022-01-01", units=["长葛市人民政府"]).status_code == 201
    z = zones("2022-02-01")
    assert z["长葛市产业集聚区"]["counted_listed"] == 2 and z["长葛市产业集聚区"]["counted_by_due"] == 1
    assert z["长葛市产业集聚区"]["overdue"] and not z["魏都产业集聚区"]["overdue"]
    # the zone manager sees its own zone only; counts carry no parcel codes
    mine = w.api.get("/api/oversight/zones", params={"as_of": "2022-02-01"}, headers=w.h("weidu_zone")).json()
    assert [x["zone"] for x in mine["zones"]] == ["魏都产业集聚区"] and W[0] not in str(mine)
    assert mine["minimum"] == 2 and mine["due"] == "2021-12-31" and "000:793" in mine["source"]

    # the filing workbook: a summary and one sheet per zone with its cases
    from openpyxl import load_workbook

    r = w.api.get("/api/oversight/export.xlsx", params={"as_of": "2022-02-01"}, headers=w.h("city"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames[0] == "汇总" and {"魏都产业集聚区", "长葛市产业集聚区"} <= set(wb.sheetnames)
    ws = wb["魏都产业集聚区"]
    codes = [ws.cell(row, 2).value for row in range(4, ws.max_row + 1)]
    assert {W[0], W[1], W[3]} <= set(codes) and "合计" in [ws.cell(row, 1).value for row in range(4, ws.max_row + 1)]
    summary = {ws_row[0].value: ws_row for ws_row in wb["汇总"].iter_rows(min_row=4)}
    assert summary["魏都产业集聚区"][9].value == "达标" and summary["长葛市产业集聚区"][9].value == "未达标"
    assert w.api.get("/api/oversight/export.xlsx", headers=w.h("ent")).status_code == 403


# =========================================================================== 再开发监管协议
def _figures(db, cc, paid, refunded):
    enterprises.submit_figures(db, cc, YEAR, {"tax_paid": paid, "tax_refunded": refunded}, "税务", actor="测试")


def _agreement(w, code=None, user="weidu_zone", **extra):
    body = {"code": code or W[3], "enterprise": ENT, "agreement_no": "ZKF-2023-001", "signed_on": "2023-01-10",
            "check_date": (date.today() - timedelta(days=1)).isoformat(), "tax_year": YEAR,
            "targets": {"investment_intensity": 300.0, "tax_per_mu": 15.0},
            "exit_terms": "未达约定目标的，继续按低效用地处置，取消并追缴已享受的优惠",
            "rewards": [{"kind": "财政奖补", "amount_wan": 120.0, "granted_on": "2023-03-01", "document_no": "许财〔2023〕5号"},
                        {"kind": "容积率奖励", "amount_wan": 45.5, "granted_on": "2023-01-10"}], **extra}
    return w.api.post("/api/redevelopment/agreements", json=body, headers=w.h(user))


def test_agreement_met_exactly_at_target_claws_back_nothing(world):
    w = world
    _, mu = w.area(W[3])
    ledgers.add_development(w.db, W[3], DevelopmentDraft(actual_start_date=date(2023, 3, 1),
                                                         investment_done_wan=300.0 * mu), actor="测试")
    _figures(w.db, ENT, 10.0 * mu, 5.0 * mu)  # (paid + refunds added back) / 亩 = exactly 15
    before = w.counts()
    r = _agreement(w, check_date=(date.today() + timedelta(days=30)).isoformat())
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["rewards_total_wan"] == 165.5 and a["status"] == "active" and a["targets"]["tax_per_mu"] == 15.0
    # before its check date the agreement cannot be assessed; nothing written
    mid = w.counts()
    r = w.api.post(f"/api/redevelopment/agreements/{a['id']}/assess", json={"version": 1}, headers=w.h("weidu_zone"))
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "too_early"
    assert w.counts() == mid and mid[2] == before[2] + 1
    out = oversight.assess_agreement(w.db, a["id"], SYSTEM, 1, as_of=date.today() + timedelta(days=30))
    assert out["status"] == "met" and out["clawbacks"] == [] and out["version"] == 2
    found = {x["target"]: x for x in out["assessment"]["findings"]}
    assert found["tax_per_mu"]["actual"] == pytest.approx((10.0 * mu + 5.0 * mu) / mu) and found["tax_per_mu"]["met"]
    assert found["investment_intensity"]["met"] and "开发建设情况" in out["assessment"]["sources"]["investment_intensity"]
    assert "即时计算" in out["assessment"]["sources"]["tax_per_mu"]
    # assessed once only
    with pytest.raises(ValidationFailed, match="已核查"):
        oversight.assess_agreement(w.db, a["id"], SYSTEM, 2, as_of=date.today() + timedelta(days=31))


def test_agreement_missed_claws_back_every_reward_and_settles(world):
    w = world
    _, mu = w.area(W[3])
    paid = 14.99 * mu
    _figures(w.db, ENT, paid, 0.0)
    evaluation.evaluate(w.db, YEAR, actor="测试")  # the stored run is the source now
    r = _agreement(w)
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    # the development record has no investment: it is recorded on the assessment (and must be)
    r = w.api.post(f"/api/redevelopment/agreements/{aid}/assess", json={"version": 1}, headers=w.h("weidu_zone"))
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "actual.investment_intensity"
    # stale version: 409, nothing written
    before = w.counts()
    r = w.api.post(f"/api/redevelopment/agreements/{aid}/assess", json={"version": 7, "investment_wan": 1.0},
                   headers=w.h("weidu_zone"))
    assert r.status_code == 409 and w.counts()[:5] == before[:5]
    # the enterprise reads but cannot assess its own agreement; another zone cannot see it
    assert w.api.post(f"/api/redevelopment/agreements/{aid}/assess", json={"version": 1, "investment_wan": 1.0},
                      headers=w.h("ent")).status_code in (403, 404)
    assert w.api.post(f"/api/redevelopment/agreements/{aid}/assess", json={"version": 1, "investment_wan": 1.0},
                      headers=w.h("changge_zone")).status_code == 404
    r = w.api.post(f"/api/redevelopment/agreements/{aid}/assess", json={"version": 1, "investment_wan": 300.0 * mu},
                   headers=w.h("weidu_zone"))
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["status"] == "missed" and a["version"] == 2
    found = {x["target"]: x for x in a["assessment"]["findings"]}
    assert found["investment_intensity"]["met"] and not found["tax_per_mu"]["met"]
    assert found["tax_per_mu"]["actual"] == pytest.approx(paid / mu)
    assert "年度评价批次" in a["assessment"]["sources"]["tax_per_mu"]
    amounts = {c["kind_label"]: c["amount_wan"] for c in a["clawbacks"]}
    assert amounts == {"财政奖补": 120.0, "容积率奖励": 45.5} and a["clawback_pending_wan"] == 165.5
    assert all(c["status"] == "pending" for c in a["clawbacks"])

    # reading: the signatory enterprise yes, another enterprise and the public no
    assert w.api.get(f"/api/redevelopment/agreements/{aid}", headers=w.h("ent")).status_code == 200
    assert w.api.get(f"/api/redevelopment/agreements/{aid}", headers=w.h("other_ent")).status_code == 404
    assert w.api.get(f"/api/redevelopment/agreements/{aid}").status_code == 401
    assert w.api.get("/api/redevelopment/agreements", headers=w.h("other_ent")).json()["count"] == 0
    assert w.api.get("/api/redevelopment/agreements", headers=w.h("tax_city")).json()["count"] == 1

    sub, land = a["clawbacks"]
    # waive: only the city or county admin, and only with a reason
    r = w.api.post(f"/api/redevelopment/clawbacks/{land['id']}/settle", headers=w.h("weidu_zone"),
                   json={"status": "waived", "note": "规划调整", "version": 1})
    assert r.status_code == 403
    r = w.api.post(f"/api/redevelopment/clawbacks/{land['id']}/settle", headers=w.h("weidu_admin"),
                   json={"status": "waived", "version": 1})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "note"
    r = w.api.post(f"/api/redevelopment/clawbacks/{land['id']}/settle", headers=w.h("weidu_admin"),
                   json={"status": "waived", "note": "容积率奖励部分未建设，核减后不再追缴", "version": 1})
    assert r.status_code == 200 and r.json()["status"] == "waived"
    r = w.api.post(f"/api/redevelopment/clawbacks/{sub['id']}/settle", headers=w.h("weidu_zone"),
                   json={"status": "recovered", "version": 1})
    assert r.status_code == 200 and r.json()["recovered_wan"] == 120.0
    r = w.api.post(f"/api/redevelopment/clawbacks/{sub['id']}/settle", headers=w.h("weidu_zone"),
                   json={"status": "waived", "note": "x", "version": 2})
    assert r.status_code in (403, 422)  # settled lines stay settled
    r = w.api.post(f"/api/redevelopment/clawbacks/{sub['id']}/settle", headers=w.h("city"),
                   json={"status": "waived", "note": "x", "version": 2})
    assert r.status_code == 422
    listing = w.api.get("/api/redevelopment/clawbacks", headers=w.h("city")).json()
    assert listing["count"] == 2 and listing["pending_wan"] == 0


def test_agreement_input_and_jurisdiction_refusals_write_nothing(world):
    w = world
    before = w.counts()
    r = _agreement(w, targets={"plot_ratio": -1}, rewards=[{"kind": "红包", "amount_wan": -5, "granted_on": "2099-01-01"}],
                   check_date="2022-01-01")
    assert r.status_code == 422
    fields = {p["field"] for p in r.json()["problems"]}
    assert {"targets.plot_ratio", "rewards[1].kind", "rewards[1].amount_wan", "rewards[1].granted_on",
            "check_date"} <= fields
    assert _agreement(w, code=W[0]).status_code == 422  # 批而未供, not 低效
    assert _agreement(w, enterprise=OTHER_ENT).status_code == 422  # does not use the parcel
    assert _agreement(w, user="changge_zone").status_code == 404
    assert _agreement(w, user="tax_city").status_code == 403
    assert _agreement(w, user="ent").status_code in (403, 404)
    assert _agreement(w, user=None).status_code == 401
    assert w.counts() == before
    assert _agreement(w).status_code == 201
    assert _agreement(w, agreement_no="ZKF-2023-002").status_code == 422  # one active agreement per parcel


def test_cli_lists_and_counts(world, db):
    w = world
    assert w.open(W[0]).status_code == 201
    res = run_cli(db.url, "oversight", "zones", "--as-of", "2022-01-01", "--json")
    import json

    zones = {z["zone"]: z for z in json.loads(res.output)["zones"]}
    assert zones["魏都产业集聚区"]["counted_by_due"] == 1 and zones["魏都产业集聚区"]["below_minimum"]
    res = run_cli(db.url, "oversight", "open", W[1], "--level", "county", "--by", "魏都区人民政府", "--reason", "闲置",
                  "--requirement", "限期动工", "--deadline", "2022-06-30", "--unit", "魏都区人民政府",
                  "--date", "2021-11-01")
    assert "已挂牌督办" in res.output
    res = run_cli(db.url, "oversight", "open", W[1], "--level", "county", "--by", "魏都区人民政府", "--reason", "闲置",
                  "--requirement", "限期动工", "--deadline", "2022-06-30", "--unit", "魏都区人民政府", check=False)
    assert res.exit_code == 2 and "挂牌督办" in res.output
    res = run_cli(db.url, "oversight", "list", "--json")
    assert json.loads(res.output)["count"] == 2


#: role → expected status of (case list, one case, zone counts, workbook, agreement list, one agreement)
READ_MATRIX = {
    "city": (200, 200, 200, 200, 200, 200),
    "weidu_admin": (200, 200, 200, 200, 200, 200),
    "weidu_zone": (200, 200, 200, 200, 200, 200),
    "changge_admin": (200, 404, 200, 200, 200, 404),
    "changge_zone": (200, 404, 200, 200, 200, 404),
    "tax_city": (200, 200, 200, 200, 200, 200),
    "ent": (403, 404, 403, 403, 200, 200),
    "other_ent": (403, 404, 403, 403, 200, 404),
    None: (401, 401, 401, 401, 401, 401),
}


def test_read_access_matrix(world):
    w = world
    cid = w.open(W[0]).json()["id"]
    aid = _agreement(w).json()["id"]
    urls = ("/api/oversight/cases", f"/api/oversight/cases/{cid}", "/api/oversight/zones", "/api/oversight/export.xlsx",
            "/api/redevelopment/agreements", f"/api/redevelopment/agreements/{aid}")
    for user, expected in READ_MATRIX.items():
        got = tuple(w.api.get(u, headers=w.h(user)).status_code for u in urls)
        assert got == expected, (user, got)
    # what each sees in the lists: 魏都's case and agreement only inside 魏都
    for user, n in (("city", 1), ("weidu_admin", 1), ("weidu_zone", 1), ("changge_admin", 0), ("tax_city", 1)):
        assert w.api.get(urls[0], headers=w.h(user)).json()["count"] == n, user
        assert w.api.get(urls[4], headers=w.h(user)).json()["count"] == n, user
    assert w.api.get(urls[4], headers=w.h("ent")).json()["count"] == 1
    assert w.api.get(urls[4], headers=w.h("other_ent")).json()["count"] == 0


def test_rewards_are_appended_until_assessment_and_history_cannot_be_edited(world):
    from sqlalchemy import text as sql

    w = world
    _, mu = w.area(W[3])
    a = _agreement(w).json()
    r = w.api.post(f"/api/redevelopment/agreements/{a['id']}/rewards", headers=w.h("weidu_zone"),
                   json={"kind": "地价优惠", "amount_wan": 30.25, "granted_on": "2023-05-01"})
    assert r.status_code == 201 and r.json()["kind"] == "land_price_discount"
    assert w.api.post(f"/api/redevelopment/agreements/{a['id']}/rewards", headers=w.h("tax_city"),
                      json={"kind": "地价优惠", "amount_wan": 1, "granted_on": "2023-05-01"}).status_code == 403
    assert w.api.post(f"/api/redevelopment/agreements/{a['id']}/rewards", headers=w.h("weidu_zone"),
                      json={"kind": "地价优惠", "amount_wan": 1, "granted_on": "2999-05-01"}).status_code == 422
    _figures(w.db, ENT, 1.0 * mu, 0.0)  # 1 万元/亩: far below 15
    out = oversight.assess_agreement(w.db, a["id"], SYSTEM, 1, investment_wan=400.0 * mu)
    assert out["status"] == "missed"
    assert sorted(c["amount_wan"] for c in out["clawbacks"]) == [30.25, 45.5, 120.0]
    assert out["clawback_pending_wan"] == pytest.approx(195.75)
    # no rewards after the assessment
    assert w.api.post(f"/api/redevelopment/agreements/{a['id']}/rewards", headers=w.h("weidu_zone"),
                      json={"kind": "财政奖补", "amount_wan": 1, "granted_on": "2023-05-01"}).status_code == 422
    # the append-only tables refuse edits and deletions at the database
    cid = w.open(W[0]).json()["id"]
    oversight.add_progress(w.db, cid, SYSTEM, text="第一次进展")
    for table in ("oversight_progress", "redevelopment_rewards", "redevelopment_assessments"):
        for stmt in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
            with pytest.raises(Exception), w.db.engine.begin() as c:
                c.execute(sql(stmt))
    # the agreement, its rewards, assessment and claw-backs are in the parcel's archive
    with w.db.reader() as s:
        pid = s.scalar(select(Parcel.id).where(Parcel.code == W[3]))
        entities = set(s.scalars(select(ChangeLog.entity).where(ChangeLog.parcel_id == pid)))
    assert {"redevelopment_agreements", "redevelopment_rewards", "redevelopment_assessments",
            "redevelopment_clawbacks"} <= entities
