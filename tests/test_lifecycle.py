"""The parcel lifecycle state machine (issue 7, item 1): the table and every guard at its
boundaries (domain, pure), then whole lives walked through the API on SQLite and PostgreSQL —
refusals change nothing, roles and jurisdictions are enforced, the steps are append-only."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import shapely
from sqlalchemy import func, select, text

from conftest import PASSWORD, bearer
from landcycle.data import DATA_DIR
from landcycle.domain import lifecycle as lc
from landcycle.domain.access import SYSTEM, Role
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import DevelopmentDraft, EnterpriseDraft, OccupancyDraft, ParcelDraft, SupplyContractDraft
from landcycle.domain.rules.idle import anniversary
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.domain.vocabulary import LandState
from landcycle.services import accounts as accounts_service
from landcycle.services import enterprises, jurisdictions, ledgers, lifecycle, registry
from landcycle.storage.lifecycle_schema import ParcelTransition
from landcycle.storage.schema import ChangeLog, Parcel

RB = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
TODAY = date(2024, 6, 15)
ALL_DOCS = frozenset(lc.DOCUMENT_KINDS)


def facts(state: str, **kw) -> lc.ParcelFacts:
    base = dict(code="411002001001GB00001", state=state, as_of=TODAY, area_m2=40000.0, area_mu=60.0,
                land_use="0601", plot_ratio_min=1.0)
    return lc.ParcelFacts(**{**base, **kw})


def reasons(key: str, f: lc.ParcelFacts, role: Role = Role.CITY_ADMIN, docs: frozenset[str] | None = None,
            rulebook: Rulebook = RB) -> list[str]:
    """Why step ``key`` is refused (documents: the step's own unless given)."""
    t = lc.BY_KEY[key]
    return lc.check_transition(t, f, role, rulebook, frozenset(t.documents) if docs is None else docs)


# =========================================================================== the table
def test_the_table_is_well_formed_and_covers_every_state():
    keys = [t.key for t in lc.TRANSITIONS]
    assert len(keys) == len(set(keys)) and len({t.name for t in lc.TRANSITIONS}) == len(keys)
    reached = {t.target for t in lc.TRANSITIONS} | {s for t in lc.TRANSITIONS for s in t.sources}
    assert reached == set(LandState)  # every state is in the machine
    for t in lc.TRANSITIONS:
        assert t.roles and t.roles <= {Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER}, t.key
        assert t.documents and set(t.documents) <= set(lc.DOCUMENT_KINDS), t.key
        assert t.target not in t.sources and t.basis
    # the whole life of the issue is a path in the table
    path = ["listed", "supplied", "under_construction", "completed", "in_production", "operating"]
    for a, b in zip(path, path[1:]):
        assert any(t.target.value == b for t in lc.transitions_from(a)), (a, b)
    assert lc.find("达产验收通过") is lc.BY_KEY["pass_production"] and lc.find("nonsense") is None


def test_roles_enterprises_and_departments_take_no_step():
    for t in lc.TRANSITIONS:
        for role in (Role.ENTERPRISE, Role.DEPARTMENT, Role.PUBLIC):
            assert lc.role_reason(t, role) is not None
    why = reasons("supply", facts("listed", has_contract=True), role=Role.ZONE_MANAGER)
    assert why == ["“出让/划拨”只能由市级管理员、县(市、区)管理员办理，产业集聚区管理机构无权办理"]
    assert reasons("supply", facts("listed", has_contract=True), role=Role.COUNTY_ADMIN) == []


def test_wrong_state_is_refused_naming_the_states():
    [why] = reasons("pass_production", facts("under_construction"))
    assert "当前状态为“在建”" in why and "只能从“竣工验收”办理" in why


def test_missing_documents_are_listed():
    [why] = reasons("supply", facts("listed", has_contract=True), docs=frozenset({"supply_contract"}))
    assert why.startswith("“出让/划拨”缺少文件：") and "征地安置补偿到位证明" in why and "出让合同" not in why


# =========================================================================== guards
def test_supply_only_a_net_parcel_with_its_contract():
    got = reasons("supply", facts("listed", land_use=None, plot_ratio_min=None, plot_ratio_max=None))
    assert len(got) == 3 and all("000:964" in r for r in got[:2]) and "出让合同" in got[2]
    assert reasons("supply", facts("listed", plot_ratio_min=None, plot_ratio_max=2.0, has_contract=True)) == []
    got = reasons("supply", facts("listed", has_contract=True, is_standard_land=True))
    # 标准地 also needs its 区域评估 and an approved 出让方案 (tests/test_standard_supply.py)
    assert len(got) == 3 and "履约监管协议" in got[0] and "区域评估" in got[1] and "出让方案" in got[2]
    assert reasons("supply", facts("listed", has_contract=True, is_standard_land=False, has_agreement=True)) == []


def test_start_needs_a_recorded_start_not_in_the_future():
    assert "actual_start_date" in reasons("start_construction", facts("supplied"))[0]
    assert "晚于今日" in reasons("start_construction", facts("supplied", actual_start_date=TODAY + timedelta(1)))[0]
    assert reasons("start_construction", facts("supplied", actual_start_date=TODAY)) == []


def test_production_acceptance_only_after_completion_passed():
    f = facts("completed", completion_result="pending", production_result="passed")
    [why] = reasons("pass_production", f)
    assert "竣工联合验收通过之后" in why and "未验收" in why
    assert len(reasons("pass_production", facts("completed", completion_result="passed"))) == 1
    assert reasons("pass_production", facts("completed", completion_result="passed", production_result="passed")) == []
    assert "须为“通过”" in reasons("pass_completion", facts("under_construction", completion_result="failed"))[0]
    assert reasons("pass_completion", facts("under_construction", completion_result="passed")) == []


def _idle(state="supplied", start_years_ago=1, days_less=0, **kw):
    start = anniversary(TODAY, -start_years_ago) + timedelta(days=days_less)
    return facts(state, has_contract=True, agreed_start_date=start, land_price_wan=1000.0, **kw)


def test_idle_finding_at_the_one_year_point():
    assert reasons("find_idle", _idle(start_years_ago=1)) == []
    [why] = reasons("find_idle", _idle(start_years_ago=1, days_less=1))
    assert "尚不构成闲置" in why and "R3" in why
    assert "动工日期" in reasons("find_idle", facts("supplied"))[0]
    # started, then stopped: R3's second clause, as idle.check_idle reads it
    stalled = dict(actual_start_date=anniversary(TODAY, -3), stopped_since=anniversary(TODAY, -1),
                   developed_area_m2=10000.0, investment_done_wan=100, investment_total_wan=1000)
    assert reasons("find_idle", _idle("under_construction", start_years_ago=3, **stalled)) == []
    assert reasons("find_idle", _idle("under_construction", start_years_ago=3,
                                      **{**stalled, "investment_done_wan": 300, "developed_area_m2": 20000.0}))


def test_taking_back_after_rescission_needs_the_buyback_on_file():
    [why] = reasons("reclaim", facts("disposing"))
    assert "尚未登记收回回购" in why and "000:1028" in why
    assert reasons("reclaim", facts("disposing", has_buyback_agreement=True)) == []


def test_free_reclaim_only_at_the_two_year_point_and_never_for_a_government_delay():
    assert reasons("reclaim_free", _idle("idle", start_years_ago=2)) == []
    [why] = reasons("reclaim_free", _idle("idle", start_years_ago=2, days_less=1))
    assert "未满2年" in why and "第十四条" in why and "idle.reclaim_after_years" in why
    gov = _idle("idle", start_years_ago=3, recorded_documents=frozenset({"government_delay_finding"}))
    [why] = reasons("reclaim_free", gov)
    assert "第八条" in why and "协商处置" in why
    # the same delay in this request's documents counts too
    assert reasons("reclaim_free", _idle("idle", start_years_ago=3), docs=ALL_DOCS)  # ALL_DOCS includes it
    assert reasons("reclaim_free", _idle("idle", start_years_ago=3)) == []
    assert reasons("reclaim_negotiated", gov) == []
    assert "第八条" in reasons("reclaim_negotiated", _idle("idle", start_years_ago=3),
                                docs=frozenset({"reclaim_agreement"}))[0]


def test_thresholds_come_from_the_rulebook():
    text_ = (DATA_DIR / "rulebook.toml").read_text(encoding="utf-8")
    slower = Rulebook.from_toml(text_.replace("reclaim_after_years = 2", "reclaim_after_years = 3")
                                .replace("max_years = 2", "max_years = 1"))
    f = _idle("idle", start_years_ago=2)
    assert reasons("reclaim_free", f, docs=frozenset({"reclaim_decision"})) == []
    assert "未满3年" in reasons("reclaim_free", f, docs=frozenset({"reclaim_decision"}), rulebook=slower)[0]
    r = facts("rectifying", rectifying_since=anniversary(TODAY, -1) - timedelta(1), completion_result="passed",
              production_result="passed")
    assert reasons("pass_rectification", r) == []
    assert "整改期已届满" in reasons("pass_rectification", r, rulebook=slower)[0]


def test_rectification_needs_a_cause_and_lasts_at_most_two_years():
    assert "竣工联合验收未通过" in reasons("start_rectification", facts("under_construction"))[0]
    assert reasons("start_rectification", facts("under_construction", completion_result="failed")) == []
    assert "达产验收未通过" in reasons("start_rectification", facts("completed", completion_result="passed"))[0]
    assert reasons("start_rectification", facts("inefficient")) == []
    done = dict(completion_result="passed", production_result="passed")
    on_the_day = facts("rectifying", rectifying_since=anniversary(TODAY, -2), **done)
    assert reasons("pass_rectification_production", on_the_day) == []  # the 2nd anniversary is inside
    late = facts("rectifying", rectifying_since=anniversary(TODAY, -2) - timedelta(1), **done)
    [why] = reasons("pass_rectification_production", late)
    assert "整改期已届满" in why and "rectification.max_years = 2" in why and "000:1028" in why
    # no transition into 整改中 on record: the failed acceptance's date starts the period
    failed = facts("rectifying", completion_result="failed", completion_date=anniversary(TODAY, -2) - timedelta(1))
    assert "整改期已届满" in reasons("pass_rectification_completion", failed)[0]
    unknown = facts("rectifying", completion_result="passed")
    assert "无法确定整改起始日" in reasons("pass_rectification_completion", unknown)[0]
    # rescission (启动处置) from 整改中: after the period, or on a failed re-inspection
    assert "整改期后仍未达到验收标准" in reasons("start_disposal", on_the_day)[0]
    assert reasons("start_disposal", late) == []
    assert reasons("start_disposal", on_the_day, docs=frozenset({"disposal_decision", "rectification_acceptance"})) == []
    assert reasons("start_disposal", facts("inefficient")) == []


def test_inefficiency_needs_its_category_and_split_follows_r8_and_r9():
    assert "低效用地类别" in reasons("find_inefficient", facts("operating"))[0]
    assert reasons("find_inefficient", facts("operating", inefficiency_categories=("output_shortfall",))) == []
    ok = dict(completion_result="passed", production_result="passed")
    assert reasons("split_transfer", facts("operating", area_mu=30.0, **ok)) == []
    assert "不足 30 亩" in reasons("split_transfer", facts("operating", area_mu=29.99, **ok))[0]
    assert "约定不允许分割" in reasons("split_transfer", facts("operating", contract_forbids_split=True, **ok))[0]
    assert "达产复验通过前" in reasons("split_transfer", facts("in_production", completion_result="passed"))[0]
    building = dict(investment_total_wan=10000.0)
    assert reasons("split_transfer", facts("under_construction", investment_done_wan=2500.0, **building)) == []
    assert "低于 25%" in reasons("split_transfer", facts("under_construction", investment_done_wan=2499.0,
                                                          **building))[0]


def test_documents_are_checked_field_by_field():
    docs, problems = lc.parse_documents([
        {"kind": "闲置土地认定书", "title": "认定书", "number": "许自然资〔2024〕1号", "date": "2024-06-01"},
        {"kind": "nonsense", "title": "", "number": "x", "date": "2024-13-01"},
        {"kind": "idle_finding", "title": "t", "number": "n", "date": (TODAY + timedelta(1)).isoformat()},
        "text", {"kind": "idle_finding", "title": "t", "number": "n", "date": "2024-01-01", "extra": 1},
    ], "宗地 X", TODAY)
    assert [d.kind for d in docs] == ["idle_finding", "idle_finding"]
    fields = sorted(p.field for p in problems)
    assert fields == ["documents[1].date", "documents[1].kind", "documents[1].title", "documents[2].date",
                      "documents[3]", "documents[4].extra"]
    assert lc.parse_documents("x", "宗地 X", TODAY)[1][0].field == "documents"


# =========================================================================== through the API
CODE = "411002001001GB00101"
IDLE_LATE = "411002001001GB00102"   # agreed start exactly 2 years ago: may be taken back
IDLE_EARLY = "411002001001GB00103"  # one day short of 2 years: may not
OTHER = "411082001001GB00101"       # 长葛: outside 魏都's view
ENT = credit_code_with_check("91411002MA44LCYC0")


def doc(kind: str, day: str | None = None) -> dict:
    return {"kind": kind, "title": lc.DOCUMENT_KINDS.get(kind, "某文件"), "number": f"测试〔2024〕{len(kind)}号",
            "date": day or (lifecycle.today() - timedelta(days=1)).isoformat()}


class World:
    def __init__(self, db, api):
        self.db, self.api, self.tokens = db, api, {}

    def headers(self, user):
        if user is None:
            return {}
        if user not in self.tokens:
            self.tokens[user] = bearer(self.api, user)
        return self.tokens[user]

    def get(self, code, user="weidu_zone"):
        return self.api.get(f"/api/parcels/{code}/transitions", headers=self.headers(user))

    def step(self, code, key, user="weidu_zone", kinds=None, version=None, reason=None):
        if version is None:
            version = self.parcel(code).version
        step = lc.BY_KEY.get(key)
        kinds = (step.documents if step else ()) if kinds is None else kinds
        body = {"transition": key, "version": version, "documents": [doc(k) for k in kinds]}
        if reason:
            body["reason"] = reason
        return self.api.post(f"/api/parcels/{code}/transitions", json=body, headers=self.headers(user))

    def parcel(self, code):
        """The stored (state, version) of a parcel."""
        with self.db.reader() as s:
            return s.execute(select(Parcel.state, Parcel.version).where(Parcel.code == code)).one()

    def snapshot(self, code):
        """What a refusal must not change: state, version, change-log and transition rows."""
        p = self.parcel(code)
        with self.db.engine.connect() as c:
            logs = c.execute(select(func.count()).select_from(ChangeLog.__table__)).scalar()
            steps = c.execute(select(func.count()).select_from(ParcelTransition.__table__)).scalar()
        return p.state, p.version, logs, steps


def _zone_point(db, name):
    with db.reader() as s:
        p = shapely.point_on_surface(jurisdictions.resolve(s, name).geometry)
    return p.x, p.y


@pytest.fixture
def world(db, api, accounts):
    wx, wy = _zone_point(db, "魏都产业集聚区")
    cx, cy = _zone_point(db, "长葛市产业集聚区")
    zone = dict(county="魏都区", zone="魏都产业集聚区", plot_ratio_min=1.0)
    registry.register_parcels(db, [
        ParcelDraft(code=CODE, geometry=rectangle_around(wx, wy, 0.2, 0.15), **zone),
        ParcelDraft(code=IDLE_LATE, geometry=rectangle_around(wx + 0.004, wy, 0.2, 0.15), state="已供应", **zone),
        ParcelDraft(code=IDLE_EARLY, geometry=rectangle_around(wx - 0.004, wy, 0.2, 0.15), state="已供应", **zone),
        ParcelDraft(code=OTHER, geometry=rectangle_around(cx, cy, 0.2, 0.15), county="长葛市", zone="长葛市产业集聚区",
                    plot_ratio_min=1.0),
    ], actor="测试")
    enterprises.register_enterprise(db, EnterpriseDraft(ENT, "许昌流转测试有限公司", "C3411", True, "魏都区"),
                                    actor="测试")
    enterprises.add_occupancy(db, OccupancyDraft(CODE, ENT, "权利人", 10000, date(2020, 1, 1)), actor="测试")
    today = lifecycle.today()  # the day the service checks on (北京时间)
    for code, start in ((IDLE_LATE, anniversary(today, -2)), (IDLE_EARLY, anniversary(today, -2) + timedelta(1))):
        ledgers.add_contract(db, code, SupplyContractDraft(f"HT-{code[-3:]}", ENT, "出让", start - timedelta(90), 50,
                                                           800.0, start, start + timedelta(730)), actor="测试")
    accounts_service.add_user(db, "ent", PASSWORD, role="enterprise", enterprise=ENT)
    return World(db, api)


def test_a_whole_life_through_the_api(world):
    api, h = world.api, world.headers
    r = world.get(CODE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "approved_unsupplied" and body["history"] == []
    [listing] = [t for t in body["transitions"] if t["key"] == "list_for_supply"]
    assert listing["possible"] and listing["permitted"] and listing["to_label"] == "可供"
    r = world.step(CODE, "list_for_supply", reason="纳入2024年度可供土地清单")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "listed" and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    assert r.json()["transition"]["name"] == "纳入供地清单"

    # 出让 is the government's: a zone manager may not; without a contract the county may not either
    [supply] = [t for t in world.get(CODE).json()["transitions"] if t["key"] == "supply"]
    assert not supply["permitted"] and not supply["possible"]
    before = world.snapshot(CODE)
    r = world.step(CODE, "supply")
    assert r.status_code == 403 and "无权办理" in r.json()["message"]
    r = world.step(CODE, "supply", user="weidu_admin", kinds=["supply_contract"])
    assert r.status_code == 422
    msgs = [p["message"] for p in r.json()["problems"]]
    assert all(p["field"] == "transition" for p in r.json()["problems"])
    assert any("出让合同" in m and "000:998" in m for m in msgs) and any("缺少文件" in m for m in msgs)
    state, version, logs, steps = world.snapshot(CODE)
    assert (state, version, steps) == before[:2] + before[3:] and logs == before[2] + 1  # +1: the 403 filed as denied
    r = api.post(f"/api/parcels/{CODE}/contracts", headers=h("weidu_zone"), json={
        "contract_no": "HT-101", "credit_code": ENT, "supply_method": "出让", "signed_date": "2024-01-10",
        "term_years": 50, "price_wan": 900.0, "agreed_start_date": "2024-06-01",
        "agreed_completion_date": "2026-06-01"})
    assert r.status_code == 201, r.text
    r = world.step(CODE, "supply", user="weidu_admin")
    assert r.status_code == 200 and r.json()["state"] == "supplied", r.text

    # 动工 needs the recorded start
    assert world.step(CODE, "start_construction").status_code == 422
    r = api.post(f"/api/parcels/{CODE}/development", headers=h("weidu_zone"),
                 json={"actual_start_date": "2024-06-20", "investment_total_wan": 20000.0})
    assert r.status_code == 201, r.text
    assert world.step(CODE, "start_construction").json()["state"] == "under_construction"

    def development(**changes):
        v = api.get(f"/api/parcels/{CODE}/development", headers=h("weidu_zone")).json()["version"]
        r = api.patch(f"/api/parcels/{CODE}/development", headers=h("weidu_zone"), json={**changes, "version": v})
        assert r.status_code == 200, r.text

    # 达产 before 竣工 is refused; 竣工 needs the passed acceptance
    r = world.step(CODE, "pass_production")
    assert r.status_code == 422 and "当前状态为“在建”" in r.json()["problems"][0]["message"]
    r = world.step(CODE, "pass_completion")
    assert r.status_code == 422 and "竣工联合验收结果为“未验收”" in r.json()["problems"][0]["message"]
    development(completion_result="passed", completion_date="2025-06-01")
    assert world.step(CODE, "pass_completion").json()["state"] == "completed"
    assert "达产验收结果为“未验收”" in world.step(CODE, "pass_production").json()["problems"][0]["message"]
    development(production_result="passed", production_date="2025-12-01")
    assert world.step(CODE, "pass_production").json()["state"] == "in_production"
    r = world.step(CODE, "begin_operation", user="city")
    assert r.status_code == 200 and r.json()["state"] == "operating" and r.json()["version"] == 7

    # every step is on file, with its documents, and in the change log (一地一档) with its actor
    body = world.get(CODE).json()
    assert [s["to_state"] for s in body["history"]] == ["listed", "supplied", "under_construction", "completed",
                                                       "in_production", "operating"]
    assert body["history"][1]["actor"] == "weidu_admin" and body["history"][1]["documents"][0]["kind"] == "supply_contract"
    assert body["history"][0]["reason"] == "纳入2024年度可供土地清单"
    assert {t["key"] for t in body["transitions"]} == {"find_inefficient", "split_transfer"}
    entries = [e for e in api.get(f"/api/parcels/{CODE}/history", headers=h("city"), params={"limit": 100})
               .json()["items"] if e["entity"] == "parcels" and e["action"] == "update"]
    assert [e["after"]["state"] for e in entries] == ["listed", "supplied", "under_construction", "completed",
                                                      "in_production", "operating"]
    assert entries[0]["reason"] == "纳入2024年度可供土地清单" and entries[-1]["actor"] == "city"
    # the enterprise using the parcel reads its steps, without the officials' names
    ent = world.get(CODE, user="ent").json()
    assert len(ent["history"]) == 6 and {s["actor"] for s in ent["history"]} == {"—"}
    assert not any(t["permitted"] for t in ent["transitions"])
    assert ent["history"][1]["documents"][0]["number"]  # its own parcel: the documents too


def test_idle_land_is_taken_back_only_after_two_years(world):
    for code in (IDLE_LATE, IDLE_EARLY):
        r = world.step(code, "find_idle", user="weidu_admin")
        assert r.status_code == 200 and r.json()["state"] == "idle", r.text
    before = world.snapshot(IDLE_EARLY)
    r = world.step(IDLE_EARLY, "reclaim_free", user="weidu_admin")
    assert r.status_code == 422
    [p] = r.json()["problems"]
    assert p["field"] == "transition" and "未满2年" in p["message"] and "第十四条" in p["message"]
    assert world.snapshot(IDLE_EARLY) == before
    [free] = [t for t in world.get(IDLE_EARLY, "weidu_admin").json()["transitions"] if t["key"] == "reclaim_free"]
    assert free["permitted"] and not free["possible"] and "未满2年" in free["reasons"][0]
    r = world.step(IDLE_LATE, "reclaim_free", user="weidu_admin", reason="闲置满两年")
    assert r.status_code == 200 and r.json()["state"] == "reclaimed", r.text
    # a reclaimed parcel goes back on the list
    assert world.step(IDLE_LATE, "relist").json()["state"] == "listed"
    # now on the public list: an enterprise that does not use it reads which steps, not who or which papers
    other = world.get(IDLE_LATE, user="ent").json()["history"]
    assert [s["name"] for s in other] == ["认定闲置", "无偿收回", "再供应（重新纳入清单）"]
    assert {s["actor"] for s in other} == {"—"} and other[1]["documents"] == [
        {"kind": "reclaim_decision", "kind_label": "收回国有建设用地使用权决定书"}]
    assert world.get(IDLE_LATE, user=None).status_code == 401


def test_a_recorded_government_delay_bars_free_reclaim(world):
    r = world.step(IDLE_LATE, "find_idle", user="weidu_admin", kinds=["idle_finding", "government_delay_finding"])
    assert r.status_code == 200
    r = world.step(IDLE_LATE, "reclaim_free", user="weidu_admin")
    assert r.status_code == 422 and "第八条" in r.json()["problems"][0]["message"]
    assert world.step(IDLE_LATE, "reclaim_negotiated", user="weidu_admin").json()["state"] == "reclaimed"


def test_who_may_do_what(world):
    before = world.snapshot(CODE)
    kinds = ["supply_list_approval"]
    assert world.step(CODE, "list_for_supply", user=None, kinds=kinds).status_code == 401
    assert world.get(CODE, user=None).status_code == 401
    for user, status in (("ent", 403), ("tax_city", 403), ("changge_zone", 404), ("changge_admin", 404)):
        r = world.step(CODE, "list_for_supply", user=user, kinds=kinds)
        assert r.status_code == status, (user, r.text)
    assert world.get(CODE, user="changge_zone").status_code == 404
    assert world.get(OTHER, user="weidu_zone").status_code == 404
    state, version, _, steps = world.snapshot(CODE)
    assert (state, version, steps) == (before[0], before[1], before[3])
    # a stale version: 409 with the current parcel, nothing changed
    r = world.step(CODE, "list_for_supply", version=5)
    assert r.status_code == 409 and r.json()["current"]["version"] == 1
    assert world.parcel(CODE).state == "approved_unsupplied"
    # no version: 428; unknown step and bad documents: 422 naming the field
    r = world.api.post(f"/api/parcels/{CODE}/transitions", headers=world.headers("weidu_zone"),
                       json={"transition": "list_for_supply", "documents": [doc("supply_list_approval")]})
    assert r.status_code == 428
    r = world.step(CODE, "荒废")
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "transition"
    r = world.step(CODE, "list_for_supply", kinds=["no_such_kind"])
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "documents[0].kind"
    state, version, logs, steps = world.snapshot(CODE)
    assert (state, version, steps) == (before[0], before[1], before[3])
    # by Chinese name, and the step is refused once taken (the state moved on)
    assert world.step(CODE, "纳入供地清单", kinds=kinds).status_code == 200
    assert world.step(CODE, "list_for_supply", kinds=kinds).status_code == 422


def test_patch_no_longer_changes_the_state(world):
    h = world.headers("weidu_zone")
    before = world.snapshot(CODE)
    r = world.api.patch(f"/api/parcels/{CODE}", headers=h, json={"state": "可供", "location": "x", "version": 1})
    assert r.status_code == 422
    [p] = r.json()["problems"]
    assert p["field"] == "state" and "/transitions" in p["message"] and p["code"] == "use_transitions"
    assert world.snapshot(CODE) == before
    # sending the state unchanged is no change of state
    r = world.api.patch(f"/api/parcels/{CODE}", headers=h, json={"state": "批而未供", "location": "y", "version": 1})
    assert r.status_code == 200 and r.json()["location"] == "y"


def test_transitions_are_append_only(world):
    assert world.step(CODE, "list_for_supply").status_code == 200
    for sql in ("UPDATE parcel_transitions SET actor = 'x'", "DELETE FROM parcel_transitions"):
        with pytest.raises(Exception, match="只能追加"):
            with world.db.engine.begin() as c:
                c.execute(text(sql))
    with world.db.reader() as s:
        assert s.scalar(select(func.count()).select_from(ParcelTransition)) == 1


def test_the_service_walks_rectification_and_its_limit(world, db):
    """The service with an explicit day (the API always uses today): a failed completion opens
    整改, passing inside two years returns the parcel to 竣工验收, after them it is refused."""
    # data maintenance by a plain actor name (not a user) may still set the state directly
    registry.update_parcel(db, CODE, {"state": "在建"}, 1, actor="测试")
    ledgers.add_development(db, CODE, DevelopmentDraft(actual_start_date=date(2020, 1, 1),
                                                               completion_result="failed",
                                                               completion_date=date(2022, 3, 1)), actor="测试")
    docs = [doc("rectification_notice", "2022-03-05")]
    p = world.parcel(CODE)
    out = lifecycle.transition(db, CODE, "start_rectification", "city", p.version, documents=docs,
                               as_of=date(2022, 3, 10))
    assert out["parcel"]["state"] == "rectifying"
    v = ledgers.get_development(db, CODE, viewer=SYSTEM)["version"]
    ledgers.update_development(db, CODE, {"completion_result": "passed", "completion_date": date(2023, 1, 1)}, v,
                               actor="测试")
    kinds = [doc("rectification_acceptance", "2023-01-02"), doc("completion_opinion", "2023-01-02")]
    version = world.parcel(CODE).version
    # the period began on the day of the step as recorded (its 北京时间 date): two years from it
    end = anniversary(lifecycle.today(), 2)
    with pytest.raises(Exception, match="整改期已届满"):
        lifecycle.transition(db, CODE, "pass_rectification_completion", "city", version, documents=kinds,
                             as_of=end + timedelta(days=1))
    out = lifecycle.transition(db, CODE, "pass_rectification_completion", "city", version, documents=kinds, as_of=end)
    assert out["parcel"]["state"] == "completed"
