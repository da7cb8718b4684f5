"""Commitment-based approvals (告知承诺制/代办制, issue 7 item 3): the tracks, deadlines on the
official calendar (国庆 2025, 春节 2026, 调休 Saturdays/Sundays, the day before a holiday, a
deadline running into 2027 that is not guessed), eligibility, then cases walked through the API on
SQLite and PostgreSQL — order, dates, objections, jurisdictions, the enterprise's own cases, the
deadline list, append-only events."""

from __future__ import annotations

import json
from datetime import date

import chinese_calendar
import pytest
import shapely
from sqlalchemy import func, select, text

from conftest import PASSWORD, bearer, run_cli
from landcycle.data import DATA_DIR
from landcycle.domain import approvals as ap
from landcycle.domain.access import ANONYMOUS
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import EnterpriseDraft, OccupancyDraft, ParcelDraft, SupplyContractDraft
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.domain.rules.workdays import WorkdayCalendar
from landcycle.services import accounts as accounts_service
from landcycle.services import approvals, enterprises, jurisdictions, ledgers, registry
from landcycle.storage.approval_schema import ApprovalCase, ApprovalEvent
from landcycle.storage.schema import ChangeLog

RB_TEXT = (DATA_DIR / "rulebook.toml").read_text(encoding="utf-8")
RB = Rulebook.from_toml(RB_TEXT)
CAL = WorkdayCalendar.from_rulebook(RB)
D = date.fromisoformat
SMALL = ap.ProjectFacts("小型厂房", 9800.0, 23.5, 1, False)


def test_the_calendar_facts_these_tests_rely_on():
    # 国庆 2025 (10-01..10-08) with 调休 on Sunday 09-28 and Saturday 10-11; 春节 2026 (02-15..02-23)
    # with 调休 on Saturdays 02-14 and 02-28 — checked against chinese_calendar itself.
    for d in ("2025-09-28", "2025-10-11", "2026-02-14", "2026-02-28"):
        assert chinese_calendar.is_workday(D(d)) and D(d).weekday() >= 5 and CAL.is_workday(D(d))
    for d in ("2025-10-01", "2025-10-08", "2026-02-16", "2026-02-23", "2025-10-12"):
        assert not chinese_calendar.is_workday(D(d)) and not CAL.is_workday(D(d))


def replay(track, *events, as_of="2026-06-01"):
    return ap.replay(track, [ap.Event(ap.EventKind(k), s, D(d), n) for k, s, d, n in events], CAL, RB, D(as_of))


def check(track, events, new, as_of="2026-06-01"):
    ev = [ap.Event(ap.EventKind(k), s, D(d), n) for k, s, d, n in events]
    k, s, d, n = new
    return [msg for _, msg in ap.check_event(track, ev, ap.Event(ap.EventKind(k), s, D(d), n), CAL, RB, D(as_of))]


# =========================================================================== deadlines (pure)
def test_filing_across_the_national_day_makeup_sunday():
    # accepted Friday 2025-09-26: day 1 is Sunday 09-28 (调休), day 2 Monday 09-29
    st = replay("small_low_risk", ("accepted", "filing", "2025-09-26", None), as_of="2025-09-29").steps[0]
    assert st.due == D("2025-09-29") and st.status == "running" and st.remaining_workdays == 0
    assert st.used_workdays == 2  # 09-28 and 09-29; Saturday 09-27 does not count
    late = replay("small_low_risk", ("accepted", "filing", "2025-09-26", None), as_of="2025-09-30").steps[0]
    assert late.status == "overdue" and late.overdue_workdays == 1


def test_the_day_before_the_holiday_and_the_makeup_saturday_after_it():
    # published Tuesday 2025-09-30, the last working day before 国庆: 10-09, 10-10, 10-11 (Sat, 调休),
    # 10-13, 10-14 — the holiday and Sunday 10-12 do not count
    st = replay("commitment", ("accepted", "publicity", "2025-09-30", None), as_of="2025-10-14").steps[0]
    assert st.due == D("2025-10-14") and st.status == "publicising" and st.remaining_workdays == 0
    assert replay("commitment", ("accepted", "publicity", "2025-09-30", None), as_of="2025-10-15").steps[0].status \
        == "publicity_over"
    # 带施工图 permits, 5 days: accepted on the eve → 10-14; accepted a day earlier, the eve itself counts
    # (→ 10-13); accepted on the holiday, nothing until 10-09 counts (→ 10-14 again)
    for accepted, due in (("2025-09-30", "2025-10-14"), ("2025-09-29", "2025-10-13"), ("2025-10-01", "2025-10-14")):
        assert replay("with_drawings", ("accepted", "permits", accepted, None)).steps[0].due == D(due), accepted


def test_permits_across_the_spring_festival_end_on_a_makeup_saturday():
    # accepted Thursday 2026-02-12: 02-13, 02-14 (Sat, 调休), then after 春节 02-24..02-27, 02-28 (Sat, 调休)
    events = [("accepted", "filing", "2026-02-09", None), ("done", "filing", "2026-02-11", "备案001"),
              ("accepted", "permits", "2026-02-12", None)]
    st = replay("small_low_risk", *events, as_of="2026-02-27").steps[1]
    assert st.due == D("2026-02-28") and st.due.weekday() == 5 and st.remaining_workdays == 1
    done = replay("small_low_risk", *events, ("done", "permits", "2026-02-28", "施许001")).steps[1]
    assert done.status == "done" and done.used_workdays == 7
    late = replay("small_low_risk", *events, ("done", "permits", "2026-03-02", "施许001"))
    assert late.steps[1].status == "done_late" and late.steps[1].overdue_workdays == 1
    assert late.state is ap.CaseState.COMPLETED


def test_a_deadline_into_an_unloaded_year_is_refused_never_guessed():
    # 7 working days from 2026-12-24 run past 2026-12-31 into 2027, which chinese_calendar 1.11 lacks
    assert 2027 not in CAL.known_years
    [why] = check("small_low_risk", [("accepted", "filing", "2026-12-21", None),
                                     ("done", "filing", "2026-12-22", "备案")],
                  ("accepted", "permits", "2026-12-24", None), as_of="2026-12-28")
    assert "2027 年" in why and "workdays.extra_years" in why and "尚未载入" in why
    # once the city adds 2027's schedule, the same acceptance is fine
    extra = RB_TEXT.replace("[workdays.extra_years]\n", '[workdays.extra_years]\n"2027" = { holidays = ['
                            "2027-01-01], workdays = [] }\n")
    rb = Rulebook.from_toml(extra)
    cal = WorkdayCalendar.from_rulebook(rb)
    st = ap.replay("small_low_risk", [ap.Event(ap.EventKind.ACCEPTED, "permits", D("2026-12-24"))], cal, rb,
                   D("2026-12-28"))
    assert st.steps[1].due == D("2027-01-05")  # 25, 28, 29, 30, 31, (01-01 off), 04, 05


def test_steps_go_in_order_and_dates_are_checked():
    assert "须依次办理" in check("small_low_risk", [], ("accepted", "permits", "2025-09-26", None))[0]
    base = [("accepted", "filing", "2025-09-26", None)]
    assert "早于起算日" in check("small_low_risk", base, ("done", "filing", "2025-09-25", "x"))[0]
    assert "晚于今日" in check("small_low_risk", base, ("done", "filing", "2026-06-02", "x"))[0]
    assert check("small_low_risk", base, ("done", "filing", "2025-09-26", "x")) == []  # same day: 0 days used
    assert "重复登记" in check("small_low_risk", base, ("accepted", "filing", "2025-09-27", None))[0]
    done = base + [("done", "filing", "2025-09-29", "x")]
    assert "早于上一步骤" in check("small_low_risk", done, ("accepted", "permits", "2025-09-28", None))[0]
    assert "已于 2025-09-29 办结" in check("small_low_risk", done + [("accepted", "permits", "2025-10-09", None)],
                                         ("done", "filing", "2025-10-10", "y"))[0]
    assert "不是公示" in check("small_low_risk", base, ("objection", "filing", "2025-09-27", None))[0]
    assert "没有步骤" in check("small_low_risk", base, ("done", "publicity", "2025-09-27", None))[0]


def test_publicity_objections_stop_the_clock_restart_it_or_end_the_route():
    pub = [("accepted", "publicity", "2025-09-30", None)]
    [why] = check("commitment", pub, ("done", "publicity", "2025-10-13", None))
    assert "公示期未满" in why and "2025-10-14" in why
    assert check("commitment", pub, ("done", "publicity", "2025-10-14", None)) == []
    assert "晚于公示期届满日" in check("commitment", pub, ("objection", "publicity", "2025-10-15", None))[0]
    obj = pub + [("objection", "publicity", "2025-10-09", None)]
    case = replay("commitment", *obj, as_of="2025-10-20")
    assert case.state is ap.CaseState.OBJECTION and case.steps[0].status == "suspended" and not case.steps[0].is_open
    assert "异议核查中" in check("commitment", obj, ("done", "publicity", "2025-10-20", None))[0]
    assert "早于异议提出日期" in check("commitment", obj, ("objection_dismissed", "publicity", "2025-10-08", None))[0]
    # dismissed on 10-10: the publicity runs again in full — 10-11 (Sat, 调休), 10-13 … 10-16
    again = replay("commitment", *obj, ("objection_dismissed", "publicity", "2025-10-10", None), as_of="2025-10-13")
    assert again.state is ap.CaseState.OPEN and again.steps[0].due == D("2025-10-16") and again.steps[0].restarts == 1
    ended = replay("commitment", *obj, ("objection_upheld", "publicity", "2025-10-10", None))
    assert ended.state is ap.CaseState.ENDED and {s.status for s in ended.steps} == {"ended"}
    assert "已终止" in check("commitment", obj + [("objection_upheld", "publicity", "2025-10-10", None)],
                           ("done", "publicity", "2025-10-20", None))[0]
    # after the publicity the approvals are done on the commitment, with no working-day limit
    fine = replay("commitment", *pub, ("done", "publicity", "2025-10-14", None), as_of="2025-12-01")
    assert fine.steps[0].status == "publicity_done" and fine.steps[1].start == D("2025-10-14")
    assert fine.steps[1].due is None and fine.steps[1].status == "no_limit"


def test_small_low_risk_eligibility_at_its_limits_from_the_rulebook():
    ok = ap.ProjectFacts("p", 10000.0, 24.0, 1, False)
    assert ap.eligibility_reasons(ap.Track.SMALL_LOW_RISK, ok, False, RB) == []
    for change, word in (({"total_floor_area_m2": 10000.5}, "总建筑面积"), ({"building_height_m": 24.1}, "建筑高度"),
                         ({"basement_floors": 2}, "地下层数"), ({"hazardous": True}, "易燃易爆")):
        [why] = ap.eligibility_reasons(ap.Track.SMALL_LOW_RISK, ap.ProjectFacts(**{**ok.to_dict(), **change}), False, RB)
        assert word in why and "000:1002" in why
    assert len(ap.eligibility_reasons(ap.Track.SMALL_LOW_RISK, ap.ProjectFacts(), False, RB)) == 4
    tighter = Rulebook.from_toml(RB_TEXT.replace("small_project_max_height_m = 24", "small_project_max_height_m = 20"))
    assert "workdays.small_project_max_height_m = 20" in ap.eligibility_reasons(ap.Track.SMALL_LOW_RISK, ok, False,
                                                                                  tighter)[0]
    assert "标准地" in ap.eligibility_reasons(ap.Track.WITH_DRAWINGS, ok, False, RB)[0]
    assert ap.eligibility_reasons(ap.Track.COMMITMENT, ap.ProjectFacts(), True, RB) == []
    # limits of the steps are read from [workdays], not written in the code
    slower = Rulebook.from_toml(RB_TEXT.replace("small_project_filing = 2", "small_project_filing = 3"))
    assert ap.replay("small_low_risk", [ap.Event(ap.EventKind.ACCEPTED, "filing", D("2025-09-26"))], CAL, slower,
                     D("2025-10-20")).steps[0].due == D("2025-09-30")
    facts, problems = ap.parse_project({"total_floor_area_m2": "9000", "basement_floors": 1.5, "x": 1}, "R")
    assert sorted(p.field for p in problems) == ["project.basement_floors", "project.total_floor_area_m2", "project.x"]


# =========================================================================== through the API
SMALL_CODE = "411002001001GB00201"   # 魏都: small low-risk project
STD_CODE = "411002001001GB00202"     # 魏都: 标准地, commitment / with drawings
PLAIN_CODE = "411002001001GB00203"   # 魏都: supplied, not 标准地, other enterprise
OTHER = "411082001001GB00201"        # 长葛
ENT = credit_code_with_check("91411002MA44APPR0")
ENT2 = credit_code_with_check("91411002MA44APPR1")
SMALL_PROJECT = {"name": "小型装配车间", "total_floor_area_m2": 9800, "building_height_m": 23.5, "basement_floors": 1,
                 "hazardous": False}


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

    def list(self, code, user="weidu_zone", as_of=None):
        return self.api.get(f"/api/parcels/{code}/approvals", headers=self.h(user),
                            params={"as_of": as_of} if as_of else None)

    def open(self, code, track, user="weidu_zone", project=None):
        body = {"track": track, "reason": "受让人申请"}
        if project is not None:
            body["project"] = project
        return self.api.post(f"/api/parcels/{code}/approvals", json=body, headers=self.h(user))

    def event(self, case_id, step, kind, day, number=None, user="weidu_zone", **extra):
        body = {"step": step, "kind": kind, "date": day, **extra}
        if number:
            body["number"] = number
        return self.api.post(f"/api/approvals/{case_id}/events", json=body, headers=self.h(user))

    def counts(self):
        with self.db.engine.connect() as c:
            return tuple(c.execute(select(func.count()).select_from(t.__table__)).scalar()
                         for t in (ApprovalCase, ApprovalEvent))


@pytest.fixture
def world(db, api, accounts):
    wx, wy = _zone_point(db, "魏都产业集聚区")
    cx, cy = _zone_point(db, "长葛市产业集聚区")
    zone = dict(county="魏都区", zone="魏都产业集聚区", plot_ratio_min=1.0, state="已供应")
    registry.register_parcels(db, [
        ParcelDraft(code=SMALL_CODE, geometry=rectangle_around(wx, wy, 0.2, 0.15), **zone),
        ParcelDraft(code=STD_CODE, geometry=rectangle_around(wx + 0.004, wy, 0.2, 0.15), is_standard_land=True, **zone),
        ParcelDraft(code=PLAIN_CODE, geometry=rectangle_around(wx - 0.004, wy, 0.2, 0.15), **zone),
        ParcelDraft(code=OTHER, geometry=rectangle_around(cx, cy, 0.2, 0.15), county="长葛市", zone="长葛市产业集聚区",
                    plot_ratio_min=1.0, state="已供应", is_standard_land=True),
    ], actor="测试")
    for code, name in ((ENT, "许昌承诺制测试有限公司"), (ENT2, "许昌另一家测试有限公司")):
        enterprises.register_enterprise(db, EnterpriseDraft(code, name, "C3411", True, "魏都区"), actor="测试")
    for parcel, ent in ((SMALL_CODE, ENT), (STD_CODE, ENT), (PLAIN_CODE, ENT2), (OTHER, ENT)):
        enterprises.add_occupancy(db, OccupancyDraft(parcel, ent, "权利人", 10000, date(2025, 6, 1)), actor="测试")
        ledgers.add_contract(db, parcel, SupplyContractDraft(f"HT-{parcel[-4:]}-{parcel[:6]}", ent, "出让",
                                                             date(2025, 6, 1), 50, 800.0, date(2025, 12, 1),
                                                             date(2027, 12, 1)), actor="测试")
    accounts_service.add_user(db, "ent", PASSWORD, role="enterprise", enterprise=ENT)
    accounts_service.add_user(db, "ent2", PASSWORD, role="enterprise", enterprise=ENT2)
    return World(db, api)


def test_a_small_project_walked_through_the_api(world):
    r = world.open(SMALL_CODE, "社会投资小型低风险产业类项目（告知承诺制）", project=SMALL_PROJECT)
    assert r.status_code == 201, r.text
    case = r.json()
    cid = case["id"]
    assert case["track"] == "small_low_risk" and case["state"] == "open" and case["enterprise"]["credit_code"] == ENT
    assert [s["key"] for s in case["steps"]] == ["filing", "permits"] and case["steps"][0]["limit_workdays"] == 2
    assert case["next"]["awaiting"] == "材料提交受理" and r.headers["location"] == f"/api/approvals/{cid}"

    # out of order: the permits before the filing is done — refused, nothing written
    before = world.counts()
    r = world.event(cid, "permits", "accepted", "2025-09-26")
    assert r.status_code == 422 and "须依次办理" in r.json()["problems"][0]["message"]
    assert r.json()["problems"][0]["field"] == "step"
    assert world.counts() == before
    r = world.event(cid, "filing", "accepted", "2025-09-26", "受理2025-0926")
    assert r.status_code == 200, r.text
    [filing, _] = r.json()["steps"]
    assert filing["start_date"] == "2025-09-26" and filing["due_date"] == "2025-09-29"
    assert r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    # as of the due day it still runs; the next day it is overdue by one working day
    [filing, _] = world.list(SMALL_CODE, as_of="2025-09-29").json()["cases"][0]["steps"]
    assert filing["status"] == "running" and filing["remaining_workdays"] == 0 and filing["used_workdays"] == 2
    [filing, _] = world.list(SMALL_CODE, as_of="2025-09-30").json()["cases"][0]["steps"]
    assert filing["status"] == "overdue" and filing["status_label"] == "已逾期" and filing["overdue_workdays"] == 1
    # a permit step needs its 文号; a date before the start is refused
    r = world.event(cid, "filing", "done", "2025-09-30")
    assert r.status_code == 422 and "文号" in r.json()["problems"][0]["message"]
    assert r.json()["problems"][0]["field"] == "number"
    r = world.event(cid, "filing", "done", "2025-09-25", "许备〔2025〕1号")
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "date"
    assert world.counts() == (before[0], before[1] + 1)
    r = world.event(cid, "并联办理企业投资项目备案、建设用地规划许可证", "办结", "2025-09-30", "许备〔2025〕1号")
    assert r.status_code == 200, r.text
    filing = r.json()["steps"][0]
    assert filing["status"] == "done_late" and filing["overdue_workdays"] == 1 and filing["done_number"] == "许备〔2025〕1号"
    # permits accepted before 春节: due on the 调休 Saturday 2026-02-28
    r = world.event(cid, "permits", "accepted", "2026-02-12")
    permits = r.json()["steps"][1]
    assert permits["due_date"] == "2026-02-28" and permits["due_weekday"] == "星期六"
    r = world.event(cid, "permits", "done", "2026-02-28", "许建施〔2026〕8号", version=r.json()["version"])
    assert r.status_code == 200 and r.json()["state"] == "completed" and r.json()["state_label"] == "已办结"
    assert r.json()["steps"][1]["status"] == "done" and r.json()["steps"][1]["used_workdays"] == 7
    assert [e["kind"] for e in r.json()["events"]] == ["accepted", "done", "accepted", "done"]
    assert r.json()["events"][1]["actor"] == "weidu_zone"
    # a completed case takes no more events; the parcel's change log (一地一档) has the case and its events
    assert "均已办结" in world.event(cid, "permits", "done", "2026-03-01", "x").json()["problems"][0]["message"]
    with world.db.reader() as s:
        logged = s.scalars(select(ChangeLog.entity).where(ChangeLog.entity.in_(["approval_cases", "approval_events"])))
        assert sorted(logged) == ["approval_cases"] * 5 + ["approval_events"] * 4


def test_stale_versions_future_dates_and_bad_bodies(world):
    cid = world.open(STD_CODE, "with_drawings").json()["id"]
    before = world.counts()
    r = world.event(cid, "permits", "accepted", "2025-09-30", version=3)
    assert r.status_code == 409 and r.json()["current"]["version"] == 1
    with world.db.reader() as s:
        assert s.scalar(select(ChangeLog.after).where(ChangeLog.action == "conflict"))["version"] == 3
    tomorrow = date.fromordinal(approvals.today().toordinal() + 1).isoformat()
    r = world.event(cid, "permits", "accepted", tomorrow)
    assert r.status_code == 422 and "晚于今日" in r.json()["problems"][0]["message"]
    r = world.event(cid, "permits", "nonsense", "2025-09-30")
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "kind"
    r = world.event(cid, "permits", "accepted", "2025-9-30")
    assert r.status_code == 422
    r = world.event(cid, "permits", "accepted", "2025-05-30")  # the contract was signed on 2025-06-01
    assert r.status_code == 422 and "早于出让合同签订日期 2025-06-01" in r.json()["problems"][0]["message"]
    assert world.counts() == before
    r = world.event(cid, "permits", "accepted", "2025-09-30", version=1)
    assert r.status_code == 200 and r.json()["steps"][0]["due_date"] == "2025-10-14"
    # a second running case on the same parcel is refused
    r = world.open(STD_CODE, "commitment")
    assert r.status_code == 422 and "办理中的审批事项" in r.json()["problems"][0]["message"]


def test_a_deadline_into_2027_is_refused_with_a_clear_message(world, monkeypatch):
    monkeypatch.setattr(approvals, "today", lambda: date(2026, 12, 28))
    cid = world.open(STD_CODE, "commitment").json()["id"]
    before = world.counts()
    r = world.event(cid, "publicity", "accepted", "2026-12-28", "公示2026-88")
    assert r.status_code == 422
    [p] = r.json()["problems"]
    assert "2027 年" in p["message"] and "尚未载入" in p["message"] and "workdays.extra_years" in p["message"]
    assert p["field"] == "date" and "公示" in p["message"]
    assert world.counts() == before
    # published a week earlier it ends inside 2026: 12-22 … 12-28
    r = world.event(cid, "publicity", "accepted", "2026-12-21", "公示2026-88")
    assert r.status_code == 200 and r.json()["steps"][0]["due_date"] == "2026-12-28"


def test_objection_during_publicity_through_the_api(world):
    cid = world.open(STD_CODE, "commitment").json()["id"]
    world.event(cid, "publicity", "accepted", "2025-09-30", "许昌日报2025-09-30")
    r = world.event(cid, "publicity", "done", "2025-10-13")
    assert r.status_code == 422 and "公示期未满" in r.json()["problems"][0]["message"]
    r = world.event(cid, "publicity", "objection", "2025-10-09", note="邻近企业对环保承诺提出异议")
    assert r.status_code == 200 and r.json()["state"] == "objection" and r.json()["steps"][0]["status"] == "suspended"
    assert not [i for i in approvals.deadline_items(world.db, "测试", date(2025, 10, 9)) if i["case_id"] == cid]
    r = world.event(cid, "publicity", "objection_dismissed", "2025-10-10", "核查意见001")
    assert r.status_code == 200 and r.json()["state"] == "open"
    assert r.json()["steps"][0]["due_date"] == "2025-10-16" and r.json()["steps"][0]["restarts"] == 1
    r = world.event(cid, "publicity", "objection", "2025-10-13")
    r = world.event(cid, "publicity", "objection_upheld", "2025-10-14", "核查意见002")
    assert r.status_code == 200 and r.json()["state"] == "ended"
    assert "已终止" in world.event(cid, "publicity", "done", "2025-10-20").json()["problems"][0]["message"]
    # the route ended: a new case may be opened on the parcel
    assert world.open(STD_CODE, "with_drawings").status_code == 201


def test_who_may_open_record_and_read(world):
    before = world.counts()
    assert world.open(SMALL_CODE, "small_low_risk", user=None, project=SMALL_PROJECT).status_code == 401
    for user, status in (("ent", 403), ("tax_city", 403), ("changge_zone", 404), ("changge_admin", 404)):
        r = world.open(SMALL_CODE, "small_low_risk", user=user, project=SMALL_PROJECT)
        assert r.status_code == status, (user, r.text)
    assert world.open(OTHER, "commitment").status_code == 404
    assert world.counts() == before
    # eligibility and state, with Chinese reasons
    r = world.open(SMALL_CODE, "small_low_risk", project={**SMALL_PROJECT, "building_height_m": 25})
    assert r.status_code == 422 and "建筑高度 25米 超过" in r.json()["problems"][0]["message"]
    r = world.open(PLAIN_CODE, "with_drawings")
    assert r.status_code == 422 and "标准地" in r.json()["problems"][0]["message"]
    r = world.open(SMALL_CODE, "fast_track")
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "track"
    assert world.counts() == before

    cid = world.open(SMALL_CODE, "small_low_risk", user="weidu_admin", project=SMALL_PROJECT).json()["id"]
    other = world.open(PLAIN_CODE, "small_low_risk", user="city", project=SMALL_PROJECT).json()["id"]
    changge = world.open(OTHER, "commitment", user="changge_zone").json()["id"]
    for user, status in (("ent", 403), ("tax_city", 403), ("changge_zone", 404), (None, 401)):
        r = world.event(cid, "filing", "accepted", "2025-09-26", user=user)
        assert r.status_code == status, (user, r.text)
    assert world.counts() == (before[0] + 3, before[1])
    # the refusals of visible cases are on file (一地一档), the writes were not made
    with world.db.reader() as s:
        filed = s.execute(select(ChangeLog.actor, ChangeLog.entity).where(ChangeLog.action == "denied")).all()
    assert sorted(filed) == [("ent", "approval_cases"), ("ent", "parcels"), ("tax_city", "approval_cases"),
                             ("tax_city", "parcels")]
    # reading: the enterprise its own case (officials' names hidden), not another's; the public nothing
    world.event(cid, "filing", "accepted", "2025-09-26")
    mine = world.list(SMALL_CODE, user="ent").json()
    assert [c["id"] for c in mine["cases"]] == [cid] and not mine["may_open"]
    assert mine["cases"][0]["opened_by"] == "—" and mine["cases"][0]["events"][0]["actor"] == "—"
    assert world.api.get(f"/api/approvals/{cid}", headers=world.h("ent")).status_code == 200
    assert world.api.get(f"/api/approvals/{other}", headers=world.h("ent")).status_code == 404
    assert world.api.get(f"/api/approvals/{cid}", headers=world.h("ent2")).status_code == 404
    assert world.list(SMALL_CODE, user="ent2").status_code == 404
    assert world.list(SMALL_CODE, user=None).status_code == 401
    assert world.api.get(f"/api/approvals/{cid}").status_code == 401
    assert world.list(SMALL_CODE, user="changge_zone").status_code == 404
    assert world.api.get(f"/api/approvals/{changge}", headers=world.h("weidu_zone")).status_code == 404
    full = world.list(SMALL_CODE, user="tax_city").json()["cases"][0]
    assert full["opened_by"] == "weidu_admin"  # the jurisdiction's departments read in full


def test_deadline_items_by_viewer(world):
    small = world.open(SMALL_CODE, "small_low_risk", project=SMALL_PROJECT).json()["id"]
    world.event(small, "filing", "accepted", "2025-09-26")
    std = world.open(STD_CODE, "commitment").json()["id"]
    world.event(std, "publicity", "accepted", "2025-09-30")
    plain = world.open(PLAIN_CODE, "small_low_risk", project=SMALL_PROJECT).json()["id"]  # not started: no deadline
    world.open(OTHER, "commitment", user="changge_zone")
    items = approvals.deadline_items(world.db, "测试", date(2025, 10, 1))
    assert {(i["parcel_code"], i["kind"], i["due"]) for i in items} == {
        (SMALL_CODE, "approval:filing", date(2025, 9, 29)), (STD_CODE, "approval:publicity", date(2025, 10, 14))}
    [item] = [i for i in items if i["case_id"] == small]
    assert item["status"] == "overdue" and "000:1014" in item["basis"] and "逾期" in item["consequence"]
    assert item["label"].startswith("社会投资小型低风险产业类项目") and item["zone_id"] and item["county_id"]
    assert set(item) >= {"parcel_code", "county_id", "zone_id", "kind", "label", "due", "basis", "consequence"}
    with world.db.reader() as s:
        viewers = {u: accounts_service.principal_of(s, accounts_service._user(s, u))
                   for u in ("weidu_zone", "changge_zone", "ent", "ent2")}
    assert len(approvals.deadline_items(world.db, viewers["weidu_zone"], date(2025, 10, 1))) == 2
    assert approvals.deadline_items(world.db, viewers["changge_zone"], date(2025, 10, 1)) == []
    assert {i["case_id"] for i in approvals.deadline_items(world.db, viewers["ent"], date(2025, 10, 1))} == {small, std}
    assert approvals.deadline_items(world.db, viewers["ent2"], date(2025, 10, 1)) == []  # its case has not started
    assert approvals.deadline_items(world.db, ANONYMOUS, date(2025, 10, 1)) == []
    assert plain


def test_events_are_append_only(world):
    cid = world.open(STD_CODE, "with_drawings").json()["id"]
    assert world.event(cid, "permits", "accepted", "2025-09-30").status_code == 200
    for sql in ("UPDATE approval_events SET actor = 'x'", "DELETE FROM approval_events"):
        with pytest.raises(Exception, match="只能追加"):
            with world.db.engine.begin() as c:
                c.execute(text(sql))
    with world.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(ApprovalEvent)) == 1


# =========================================================================== the command line

# The command line is a face over services the API tests exercise on both backends: SQLite only.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_command_line_lists_opens_records_and_refuses(db):
    wx, wy = _zone_point(db, "魏都产业集聚区")
    registry.register_parcels(db, [ParcelDraft(code=STD_CODE, geometry=rectangle_around(wx, wy, 0.2, 0.15),
                                               county="魏都区", zone="魏都产业集聚区", plot_ratio_min=1.0,
                                               state="已供应", is_standard_land=True)], actor="测试")
    enterprises.register_enterprise(db, EnterpriseDraft(ENT, "许昌承诺制测试有限公司", "C3411", True, "魏都区"), actor="测试")
    ledgers.add_contract(db, STD_CODE, SupplyContractDraft("HT-CLI-1", ENT, "出让", date(2025, 6, 1), 50, 800.0,
                                                           date(2025, 12, 1), date(2027, 12, 1)), actor="测试")
    url = db.url
    proc = run_cli(url, "approval", "open", STD_CODE, "--track", "small_low_risk", "--height", "30", check=False)
    assert proc.exit_code == 2 and "Traceback" not in proc.stderr and "未写入任何数据" in proc.stderr
    assert "建筑高度 30米 超过" in proc.stderr and "project.total_floor_area_m2" in proc.stderr
    out = run_cli(url, "approval", "open", STD_CODE, "--track", "带施工图出让“标准地”（告知承诺制）", "--actor", "张三").stdout
    assert "已开立审批事项" in out and "办理建设用地规划许可" in out
    cid = json.loads(run_cli(url, "approval", "list", STD_CODE, "--json").stdout)["cases"][0]["id"]
    proc = run_cli(url, "approval", "record", str(cid), "--step", "permits", "--kind", "done", "--date", "2025-10-09",
                   "--number", "x", check=False)
    assert proc.exit_code == 2 and "尚未登记申请受理" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(url, "approval", "record", str(cid), "--step", "permits", "--kind", "accepted", "--date", "30/09",
                   check=False)
    assert proc.exit_code == 2 and "不是日期" in proc.stderr and "Traceback" not in proc.stderr
    out = run_cli(url, "approval", "record", str(cid), "--step", "permits", "--kind", "accepted", "--date",
                  "2025-09-30", "--number", "受理-1").stdout
    assert "2025-10-14（星期二）" in out
    out = run_cli(url, "approval", "list", STD_CODE, "--as-of", "2025-10-15").stdout
    assert "已逾期" in out and "张三" in out
    data = json.loads(run_cli(url, "approval", "list", STD_CODE, "--as-of", "2025-10-15", "--json").stdout)
    assert data["cases"][0]["steps"][0]["overdue_workdays"] == 1
    proc = run_cli(url, "approval", "list", "411002001001GB09999", check=False)
    assert proc.exit_code == 2 and "未找到宗地" in proc.stderr and "Traceback" not in proc.stderr
