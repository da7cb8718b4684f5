"""标准地 supply (issue 7, item 2): 区域评估 results with validity, the 出让方案 checked against
R5 and R6, and the ``supply`` step refusing a 标准地 until both stand and the contract and
agreement carry the plan — rules at their boundaries (pure), then the whole path through the API
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import shapely
from sqlalchemy import select, text

from conftest import bearer
from landcycle.data import DATA_DIR
from landcycle.domain import lifecycle as lc
from landcycle.domain import standard_supply as ss
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import EnterpriseDraft, ParcelDraft
from landcycle.domain.rules.idle import anniversary
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.services import enterprises, jurisdictions, lifecycle, registry
from landcycle.storage.schema import Parcel
from landcycle.storage.standard_supply_schema import RegionalAssessment

RB = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
DAY = date(2024, 6, 15)

GOOD_PLAN = {
    "project_class": "traditional_industry", "admission_class": "encouraged", "term_years": 50,
    "supply_mode": "transfer", "industry_code": "C3411",
    "base": {"far": 1.2, "investment_intensity_wan_per_mu": 300.0, "tax_per_mu_wan": 18.0,
             "output_per_mu_wan": 350.0, "building_coverage": 0.45, "office_living_ratio": 0.05,
             "green_ratio": 0.15},
    "development": {"building_density": 0.4, "height_limit_m": 24.0},
}


def plan(**changes) -> ss.SupplyPlan:
    raw = {**GOOD_PLAN, **changes}
    p, problems = ss.parse_plan(raw, "测试")
    assert not problems, problems
    return p


def all_items(completed: date = date(2021, 3, 1), **kw) -> list[ss.Assessment]:
    return [ss.Assessment(item, completed, None, True, f"{label}报告", f"评〔2021〕{i}号")
            for i, (item, label) in enumerate(ss.ASSESSMENT_ITEMS.items(), 1)] + kw.get("extra", [])


# =========================================================================== 区域评估 (pure)
def test_the_ten_items_of_the_seed():
    assert list(ss.ASSESSMENT_ITEMS.values()) == ["土地勘测", "矿产压覆", "地质灾害", "节能", "水土保持", "文物保护",
                                                  "洪水影响", "地震安全性", "气候可行性", "环境评价"]


def test_validity_ends_on_the_fifth_anniversary_unless_the_report_says_otherwise():
    done = date(2021, 3, 1)
    last = anniversary(done, 5)
    assert ss.assessment_gaps(all_items(done), last, RB) == []  # the last day is inside
    [why] = ss.assessment_gaps(all_items(done), last + timedelta(1), RB)
    assert why.count("已于 2026-03-01 失效") == 10 and "000:960" in why
    stated = [ss.Assessment("seismic_safety", done, date(2031, 3, 1), True)]
    rows = {r["item"]: r for r in ss.assessment_status(all_items(done) + stated, last + timedelta(1), RB)}
    assert rows["seismic_safety"]["status"] == "valid" and rows["seismic_safety"]["valid_until"] == "2031-03-01"
    assert rows["flood_impact"]["status"] == "expired"
    # a per-item period from the rulebook
    longer = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8").replace(
        "[regional_assessment.validity_years_by_item]", "[regional_assessment.validity_years_by_item]\nflood_impact = 10"))
    rows = {r["item"]: r for r in ss.assessment_status(all_items(done), last + timedelta(1), longer)}
    assert rows["flood_impact"]["status"] == "valid" and rows["land_survey"]["status"] == "expired"


def test_missing_not_covering_and_later_results_are_named():
    records = [r for r in all_items() if r.item != "environment"]
    records = [r if r.item != "flood_impact" else ss.Assessment(r.item, r.completed_date, None, False) for r in records]
    records.append(ss.Assessment("cultural_relics", DAY + timedelta(1), None, True))  # newer, but not yet done
    [why] = ss.assessment_gaps(records, DAY, RB)
    assert "缺少“环境评价”成果" in why and "“洪水影响”成果的评估范围未覆盖该宗地" in why
    assert "文物保护" not in why  # the older result is still in force
    # the newest covering result is the one that counts
    renewed = all_items(date(2018, 1, 1)) + [ss.Assessment("land_survey", date(2024, 1, 1), None, True)]
    rows = {r["item"]: r for r in ss.assessment_status(renewed, DAY, RB)}
    assert rows["land_survey"]["status"] == "valid" and rows["geological_hazard"]["status"] == "expired"
    assert ss.assessment_status([ss.Assessment("land_survey", DAY + timedelta(1), None, True)], DAY, RB)[0][
        "status"] == "not_yet"


# =========================================================================== 出让方案 (pure)
def test_a_compliant_plan_passes_r5_and_r6():
    review = ss.review_plan(plan(), 60.0, 1.0, 2.0, RB)
    assert review.passes and review.standard_land["outcome"] == "compliant" and review.admission["outcome"] == "supply"


def test_base_indicators_below_the_floor_by_a_hair_fail():
    base = {**GOOD_PLAN["base"], "tax_per_mu_wan": 14.99}  # traditional industry floor 15
    [why] = ss.review_plan(plan(base=base), 60.0, 1.0, 2.0, RB).reasons
    assert "亩均税收" in why and "R5" in why
    assert ss.review_plan(plan(base={**base, "tax_per_mu_wan": 15.0}), 60.0, 1.0, 2.0, RB).passes
    # the stricter of class (1.0) and industry C34 (0.7) floors; far must also fit the parcel's planning
    low = ss.review_plan(plan(base={**GOOD_PLAN["base"], "far": 0.99}), 60.0, None, None, RB).reasons
    assert len(low) == 1 and "容积率" in low[0]
    [why] = ss.review_plan(plan(base={**GOOD_PLAN["base"], "far": 2.5}), 60.0, 1.0, 2.0, RB).reasons
    assert "高于规划条件容积率上限 2" in why


def test_r6_decides_term_and_mode():
    permitted = dict(admission_class="permitted", term_years=20, supply_mode="flexible_term_transfer")
    assert ss.review_plan(plan(**permitted), 60.0, None, None, RB).passes
    [why] = ss.review_plan(plan(**{**permitted, "term_years": 21}), 60.0, None, None, RB).reasons
    assert "21 年超过允许类项目的 20 年" in why
    [why] = ss.review_plan(plan(**{**permitted, "supply_mode": "transfer"}), 60.0, None, None, RB).reasons
    assert "不适用于允许类项目" in why and "先租后让" in why
    [why] = ss.review_plan(plan(admission_class="禁止类"), 60.0, None, None, RB).reasons
    assert "不得供地" in why
    assert ss.review_plan(plan(admission_class="special"), 60.0, None, None, RB).passes  # as 鼓励类
    # 100 亩 or more: the plan must say how the land is supplied in batches (000:745)
    [why] = ss.review_plan(plan(), 100.0, None, None, RB).reasons
    assert "分批供地" in why and "000:745" in why
    assert ss.review_plan(plan(), 99.99, None, None, RB).passes
    assert ss.review_plan(plan(batch_note="一期 60 亩，二期视建设进度供应"), 100.0, None, None, RB).passes


def test_plan_input_is_checked_field_by_field():
    _, problems = ss.parse_plan({"project_class": "x", "term_years": 0, "supply_mode": "sale",
                                 "base": {"far": -1, "tax": 1, "green_ratio": 20}, "color": 1}, "方案")
    assert sorted(p.field for p in problems) == ["admission_class", "base.far", "base.green_ratio", "base.tax",
                                                 "color", "project_class", "supply_mode", "term_years"]
    assert "比例以小数填写" in next(p.message for p in problems if p.field == "base.green_ratio")


def test_contract_and_agreement_must_carry_the_plan():
    agreed = {"plot_ratio": 1.2, "investment_intensity_wan_per_mu": 300.0, "tax_per_mu_wan": 18.0,
              "output_per_mu_wan": 350.0, "building_coverage": 0.45, "office_living_ratio": 0.05,
              "green_ratio": 0.15, "building_density": 0.4}
    terms = ss.SaleTerms(50, "transfer", 900.0, agreed)
    assert ss.contract_reasons(plan(), terms, RB) == []
    weaker = ss.SaleTerms(50, "lease", 900.0, {**agreed, "tax_per_mu_wan": 17.9, "green_ratio": 0.16,
                                               "building_density": None})
    [why] = ss.contract_reasons(plan(), weaker, RB)
    assert "亩均税收 17.9 低于出让方案的 18" in why and "绿地率 16% 高于出让方案的上限 15%" in why
    assert "未载明建筑密度" in why and "供地方式" in why
    assert "年限 51 年超过" in ss.contract_reasons(plan(), ss.SaleTerms(51, "transfer", 900.0, agreed), RB)[0]
    # 履约保函: the plan's sum, or a share of the price set by the rulebook
    assert "未载明履约保函" in ss.contract_reasons(plan(guarantee_wan=90.0), terms, RB)[0]
    share = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8").replace(
        "performance_guarantee_share_min = 0.0", "performance_guarantee_share_min = 0.1"))
    short = ss.SaleTerms(50, "transfer", 900.0, agreed, guarantee_wan=89.99)
    assert "少于应提交的 90 万元" in ss.contract_reasons(plan(), short, share)[0]
    assert ss.contract_reasons(plan(), ss.SaleTerms(50, "transfer", 900.0, agreed, guarantee_wan=90.0), share) == []


def test_the_supply_guard_reads_all_three():
    base = dict(code="411002001001GB00001", state="listed", as_of=DAY, area_m2=40000.0, area_mu=60.0,
                land_use="0601", plot_ratio_min=1.0, has_contract=True, has_agreement=True)
    t = lc.BY_KEY["supply"]
    ordinary = lc.ParcelFacts(**base)
    assert lc.guard_reasons(t, ordinary, RB, frozenset(t.documents)) == []  # not 标准地: no 区域评估 asked
    standard = lc.ParcelFacts(**base, is_standard_land=True)
    why = lc.guard_reasons(t, standard, RB, frozenset(t.documents))
    assert len(why) == 2 and "缺少“土地勘测”成果" in why[0] and "出让方案尚未批准" in why[1]
    ready = lc.ParcelFacts(**base, is_standard_land=True, assessments=tuple(all_items()), approved_plan=plan(),
                           sale_terms=ss.SaleTerms(50, "transfer", 900.0, {"plot_ratio": 1.2}))
    [why] = lc.guard_reasons(t, ready, RB, frozenset(t.documents))
    assert "履约监管协议未载明固定资产投资强度" in why


# =========================================================================== through the API
CODE = "411002001001GB00201"
FAR_CODE = "411002001001GB00202"  # outside the assessed part of the zone
ENT = credit_code_with_check("91411002MA44LCYB0")


def _doc(kind: str) -> dict:
    return {"kind": kind, "title": lc.DOCUMENT_KINDS[kind], "number": f"测〔2024〕{len(kind)}号",
            "date": (lifecycle.today() - timedelta(days=1)).isoformat()}


@pytest.fixture
def site(db, api, accounts):
    with db.reader() as s:
        zone = jurisdictions.resolve(s, "魏都产业集聚区").geometry
    p = shapely.point_on_surface(zone)
    common = dict(county="魏都区", zone="魏都产业集聚区", plot_ratio_min=1.0, plot_ratio_max=2.0,
                  is_standard_land=True, state="可供")
    registry.register_parcels(db, [
        ParcelDraft(code=CODE, geometry=rectangle_around(p.x, p.y, 0.2, 0.15), **common),
        ParcelDraft(code=FAR_CODE, geometry=rectangle_around(p.x + 0.01, p.y, 0.2, 0.15), **common),
    ], actor="测试")
    enterprises.register_enterprise(db, EnterpriseDraft(ENT, "许昌标准地测试有限公司", "C3411", True, "魏都区"),
                                    actor="测试")
    tokens = {}

    def h(user):
        if user not in tokens:
            tokens[user] = bearer(api, user)
        return tokens[user]
    return db, api, h, p


def _assess(api, headers, item, **kw):
    body = {"item": item, "title": f"魏都产业集聚区{item}评估报告", "number": f"许评〔2023〕{len(item)}号",
            "agency": "河南省某评估院", "completed_date": "2023-05-10", **kw}
    return api.post("/api/zones/魏都产业集聚区/assessments", json=body, headers=headers)


def _supply(api, headers, version):
    return api.post(f"/api/parcels/{CODE}/transitions", headers=headers, json={
        "transition": "supply", "version": version,
        "documents": [_doc(k) for k in lc.BY_KEY["supply"].documents]})


def _version(db, code=CODE):
    with db.reader() as s:
        return s.scalar(select(Parcel.version).where(Parcel.code == code))


def test_assessments_are_public_append_only_and_written_by_the_zone(site):
    db, api, h, p = site
    r = _assess(api, {}, "土地勘测")
    assert r.status_code == 401
    r = _assess(api, h("changge_zone"), "土地勘测")
    assert r.status_code == 403 and "魏都产业集聚区" in r.json()["message"]
    r = _assess(api, h("weidu_zone"), "风水", valid_until="2020-01-01")
    assert r.status_code == 422
    assert {x["field"] for x in r.json()["problems"]} == {"item", "valid_until"}
    with db.reader() as s:
        assert s.scalar(select(RegionalAssessment.id)) is None  # nothing written
    r = _assess(api, h("weidu_zone"), "土地勘测")
    assert r.status_code == 201 and r.json()["valid_until"] == "2028-05-10" and r.json()["whole_zone"], r.text
    public = api.get("/api/zones/魏都产业集聚区/assessments").json()  # no sign-in
    rows = {x["item"]: x["status"] for x in public["items"]}
    assert rows["land_survey"] == "valid" and rows["environment"] == "missing" and len(public["results"]) == 1
    assert api.get("/api/zones/不存在的集聚区/assessments").status_code == 404
    with pytest.raises(Exception, match="只能追加"):
        with db.engine.begin() as c:
            c.execute(text("UPDATE regional_assessments SET number = 'x'"))
    with pytest.raises(Exception, match="只能追加"):
        with db.engine.begin() as c:
            c.execute(text("DELETE FROM regional_assessments"))


def test_a_standard_land_sale_through_the_api(site):
    db, api, h, p = site
    zone_h, county_h = h("weidu_zone"), h("weidu_admin")
    # nine items for the whole zone; 环境评价 only for a part that leaves FAR_CODE out
    for item in list(ss.ASSESSMENT_ITEMS)[:-1]:
        assert _assess(api, zone_h, item).status_code == 201
    part = shapely.geometry.mapping(rectangle_around(p.x, p.y, 0.6, 0.6))
    assert _assess(api, zone_h, "environment", area=part).status_code == 201

    r = _supply(api, county_h, _version(db))
    assert r.status_code == 422
    msgs = " ".join(x["message"] for x in r.json()["problems"])
    assert "出让方案尚未批准" in msgs and "尚未登记该宗地的出让合同" in msgs and "区域评估" not in msgs
    far = api.get(f"/api/parcels/{FAR_CODE}/standard-plan", headers=zone_h).json()
    assert any("“环境评价”成果的评估范围未覆盖该宗地" in m for m in far["assessment_reasons"])

    # the zone drafts a plan that fails R5; the county cannot approve it; the zone may not approve at all
    weak = {**GOOD_PLAN, "base": {**GOOD_PLAN["base"], "investment_intensity_wan_per_mu": 249.0}}
    r = api.post(f"/api/parcels/{CODE}/standard-plan", json={"plan": weak}, headers=zone_h)
    assert r.status_code == 201, r.text
    plan_id, v = r.json()["plan"]["id"], r.json()["plan"]["version"]
    assert r.json()["plan"]["review"]["passes"] is False and r.headers["etag"] == f'"{v}"'
    again = api.post(f"/api/parcels/{CODE}/standard-plan", json={"plan": GOOD_PLAN}, headers=zone_h)
    assert again.status_code == 422 and again.json()["problems"][0]["code"] == "exists"
    r = api.post(f"/api/standard-plans/{plan_id}/approval", json={"approval_number": "许政〔2024〕1号", "version": v},
                 headers=zone_h)
    assert r.status_code == 403 and "000:996" in r.json()["message"]
    r = api.post(f"/api/standard-plans/{plan_id}/approval", json={"approval_number": "许政〔2024〕1号", "version": v},
                 headers=county_h)
    assert r.status_code == 422 and "固定资产投资强度" in r.json()["problems"][0]["message"]
    r = api.put(f"/api/standard-plans/{plan_id}", json={"plan": GOOD_PLAN, "version": v}, headers=zone_h)
    assert r.status_code == 200 and r.json()["plan"]["review"]["passes"], r.text
    stale = api.put(f"/api/standard-plans/{plan_id}", json={"plan": GOOD_PLAN, "version": v}, headers=zone_h)
    assert stale.status_code == 409
    v = r.json()["plan"]["version"]
    r = api.post(f"/api/standard-plans/{plan_id}/approval", json={"approval_number": "许政〔2024〕1号", "version": v},
                 headers=county_h)
    assert r.status_code == 200 and r.json()["plan"]["status"] == "approved", r.text
    assert r.json()["plan"]["review"]["standard_land"]["outcome"] == "compliant"
    assert r.json()["plan"]["approved_by"] == "weidu_admin"
    v = r.json()["plan"]["version"]
    r = api.put(f"/api/standard-plans/{plan_id}", json={"plan": weak, "version": v}, headers=zone_h)
    assert r.status_code == 422 and "已批准" in r.json()["problems"][0]["message"]

    # the sale: contract and an agreement weaker than the plan → refused, naming the indicator
    r = api.post(f"/api/parcels/{CODE}/contracts", headers=zone_h, json={
        "contract_no": "HT-BZD-1", "credit_code": ENT, "supply_method": "出让", "signed_date": "2024-01-10",
        "term_years": 50, "price_wan": 900.0, "agreed_start_date": "2024-06-01",
        "agreed_completion_date": "2026-06-01"})
    assert r.status_code == 201, r.text
    agreement = {"contract_no": "HT-BZD-1", "signed_date": "2024-01-10", "agreed_start_date": "2024-06-01",
                 "agreed_completion_date": "2026-06-01", "agreed_production_date": "2027-06-01",
                 "plot_ratio": 1.2, "investment_intensity_wan_per_mu": 300.0, "tax_per_mu_wan": 17.0,
                 "output_per_mu_wan": 350.0, "building_coverage": 0.45, "office_living_ratio": 0.05,
                 "green_ratio": 0.15, "building_density": 0.4}
    r = api.post(f"/api/parcels/{CODE}/agreements", headers=zone_h, json=agreement)
    assert r.status_code == 201, r.text
    agreement_id, av = r.json()["id"], r.json()["version"]
    before = _version(db)
    r = _supply(api, county_h, before)
    assert r.status_code == 422 and "亩均税收 17 低于出让方案的 18" in r.json()["problems"][0]["message"]
    assert _version(db) == before
    r = api.patch(f"/api/agreements/{agreement_id}", headers=zone_h, json={"tax_per_mu_wan": 18.0, "version": av})
    assert r.status_code == 200, r.text
    r = _supply(api, county_h, before)
    assert r.status_code == 200 and r.json()["state"] == "supplied", r.text
    # an approved plan used for a sale stays on file
    v = api.get(f"/api/parcels/{CODE}/standard-plan", headers=zone_h).json()["plan"]["version"]
    r = api.post(f"/api/standard-plans/{plan_id}/withdrawal", json={"version": v, "reason": "重新编制"},
                 headers=county_h)
    assert r.status_code == 422 and "不能撤回" in r.json()["problems"][0]["message"]
    # plans are on the parcel's 一地一档
    history = api.get(f"/api/parcels/{CODE}/history", headers=h("city"), params={"limit": 100}).json()["items"]
    actions = [e["action"] for e in sorted(history, key=lambda e: e["id"]) if e["entity"] == "standard_land_plans"]
    # drafted, refused approval by the zone (denied), edited, a stale edit (conflict), approved
    assert actions == ["create", "denied", "update", "conflict", "update"], actions


def test_plans_are_read_only_inside_the_jurisdiction(site):
    db, api, h, p = site
    assert api.get(f"/api/parcels/{CODE}/standard-plan").status_code == 401
    assert api.get(f"/api/parcels/{CODE}/standard-plan", headers=h("changge_zone")).status_code == 404
    r = api.post(f"/api/parcels/{CODE}/standard-plan", json={"plan": GOOD_PLAN}, headers=h("changge_admin"))
    assert r.status_code == 404
    r = api.post(f"/api/parcels/{CODE}/standard-plan", json={"plan": {**GOOD_PLAN, "admission_class": "优先类"}},
                 headers=h("weidu_zone"))
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "admission_class"
    with db.reader() as s:
        assert s.scalar(text("SELECT count(*) FROM standard_land_plans")) == 0
