"""增存挂钩 quota allocation and 考评 scoring (issue 8, items 5, 6, 9): the formulas checked against
hand calculations and an independent re-calculation written here (never calling the code under
test to get the expected numbers), on a small hand-made registry on SQLite and PostgreSQL; the
API's and CLI's faces; who may do and see what; the records are append-only."""

from __future__ import annotations

import json
import math
from datetime import date

import pytest
import shapely
from sqlalchemy import select, text

from conftest import bearer, run_cli
from landcycle.domain import assessment as a
from landcycle.domain import quota as q
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.records import ParcelDraft
from landcycle.services import disposal, jurisdictions, kaoping, quota, registry
from landcycle.services.audit import local_today
from landcycle.services.rules import load_rulebook
from landcycle.storage.disposal_schema import DisposalEntry
from landcycle.storage.schema import Jurisdiction, Parcel

P = q.QuotaParameters


def fig(code, revived, rate, identified=None, kaoping=None):
    return q.CountyFigures(code, f"县{code}", identified if identified is not None else revived * 2, revived, rate,
                           kaoping)


ABC = [fig("A", 30, 0.6), fig("B", 10, 0.2), fig("C", 0, None, identified=0)]


def allocated(result: q.Allocation) -> dict[str, float]:
    return {x.figures.code: x.allocated_mu for x in result.lines}


# =========================================================================== quota, by hand
def test_the_weights_and_rounding_by_hand():
    # wA = .3/3 + .4·30/40 + .3·.6/.8 = .625; wB = .1 + .1 + .075 = .275; wC = .1 (nothing revived)
    # exact 62.5 / 27.5 / 10 → 62, 27, 10 and one unit left: the .5 tie goes to the larger revival (A).
    r = q.allocate(100, ABC, P(0.3, 0.4, 0.3))
    assert allocated(r) == {"A": 63, "B": 27, "C": 10}
    assert [round(x.weight, 6) for x in r.lines] == [0.625, 0.275, 0.1]
    assert [round(x.exact_mu, 6) for x in r.lines] == [62.5, 27.5, 10]
    assert r.lines[0].components == pytest.approx({"base_share": 0.1, "revived_share": 0.3, "rate_share": 0.225,
                                                   "kaoping_share": 0.0})
    assert any("县A" in line and "分得 63 亩" in line for line in r.explanation)


def test_cap_and_floor_reshare_the_rest():
    # cap 50%: A fixed at 50, B:C = .275:.1 of the other 50 → 36.67 / 13.33 → 37, 13.
    r = q.allocate(100, ABC, P(0.3, 0.4, 0.3, cap_share=0.5))
    assert allocated(r) == {"A": 50, "B": 37, "C": 13} and r.lines[0].bound == "cap"
    # floor 15%: C fixed at 15, A:B = .625:.275 of 85 → 59.03 / 25.97 → 59, 26.
    r = q.allocate(100, ABC, P(0.3, 0.4, 0.3, floor_share=0.15))
    assert allocated(r) == {"A": 59, "B": 26, "C": 15} and r.lines[2].bound == "floor"


def test_no_revival_no_new_land_when_so_configured():
    # C takes no part; n = 2: wA = .15 + .3 + .225 = .675, wB = .325 → 67.5 / 32.5 → A wins the tie.
    r = q.allocate(100, ABC, P(0.3, 0.4, 0.3, require_revival=True))
    assert allocated(r) == {"A": 68, "B": 32, "C": 0} and not r.lines[2].participates
    assert any("不参与分配" in line for line in r.explanation)


def test_units_and_bad_settings():
    # 5-亩 units: 20 units, exact 12.5 / 5.5 / 2 → 12, 5, 2 + 1 to A → 65, 25, 10.
    assert allocated(q.allocate(100, ABC, P(0.3, 0.4, 0.3, unit_mu=5))) == {"A": 65, "B": 25, "C": 10}
    with pytest.raises(ValidationFailed, match="不是取整单位 5 亩的整数倍"):
        q.allocate(101, ABC, P(0.3, 0.4, 0.3, unit_mu=5))
    with pytest.raises(ValidationFailed, match="四项份额之和应为 1"):
        q.allocate(100, ABC, P(0.3, 0.4, 0.4))
    with pytest.raises(ValidationFailed, match="各保底"):
        q.allocate(100, ABC, P(0.3, 0.4, 0.3, floor_share=0.4))
    with pytest.raises(ValidationFailed, match="分不完"):
        q.allocate(100, ABC, P(0.3, 0.4, 0.3, cap_share=0.3))
    with pytest.raises(ValidationFailed, match="应为正数"):
        q.allocate(0, ABC, P(0.3, 0.4, 0.3))
    with pytest.raises(ValidationFailed, match="应为数字"):
        q.QuotaParameters.from_settings({"base_share": "0.3", "revived_share": 0.4, "rate_share": 0.3})
    with pytest.raises(ValidationFailed, match="无可分配对象"):
        q.allocate(100, [fig("C", 0, None)], P(0.3, 0.4, 0.3, require_revival=True))


def test_nobody_revived_is_an_equal_split_and_kaoping_counts_when_weighted():
    r = q.allocate(90, [fig("A", 0, None), fig("B", 0, 0.0), fig("C", 0, None)], P(0.3, 0.4, 0.3))
    assert allocated(r) == {"A": 30, "B": 30, "C": 30}
    # kaoping share .5 and base .5: A 90 points, B 60, C 30 → w = 1/6 + .5·(.5, 1/3, 1/6)
    figs = [fig("A", 0, None, kaoping=90), fig("B", 0, None, kaoping=60), fig("C", 0, None, kaoping=30)]
    r = q.allocate(120, figs, P(0.5, 0.0, 0.0, kaoping_share=0.5))
    assert allocated(r) == {"A": 50, "B": 40, "C": 30}


@pytest.mark.parametrize("total", [1, 7, 997, 1000, 12345])
def test_the_total_is_exact_after_rounding(total):
    figs = [fig(str(i), revived=(i * 37) % 11 + 0.3 * i, rate=((i * 13) % 10) / 10 or None) for i in range(7)]
    r = q.allocate(total, figs, P(0.2, 0.5, 0.3, floor_share=0.0, cap_share=1.0))
    assert sum(allocated(r).values()) == total
    assert all(v == int(v) for v in allocated(r).values())
    assert all(abs(x.allocated_mu - x.exact_mu) < 1 for x in r.lines)


# =========================================================================== the registry world
def _point(db, name):
    with db.reader() as s:
        p = shapely.point_on_surface(jurisdictions.resolve(s, name).geometry)
    return p.x, p.y


def _outside_zones(db, county):
    with db.reader() as s:
        c = jurisdictions.resolve(s, county)
        zones = [z.geometry for z in s.scalars(select(Jurisdiction).where(Jurisdiction.kind == "zone"))]
        p = shapely.point_on_surface(c.geometry.difference(shapely.union_all(zones).buffer(0.01)))
    return p.x, p.y


#: (code, county, zone, state, land_source, width km, height km, dx)
WORLD = [
    ("411002001001GB00201", "魏都区", "魏都产业集聚区", "闲置", None, 0.20, 0.15, 0.000),
    ("411002001001GB00202", "魏都区", "魏都产业集聚区", "已供应", "闲置", 0.25, 0.20, 0.004),
    ("411082001001GB00201", "长葛市", "长葛市产业集聚区", "闲置", None, 0.10, 0.10, 0.000),
    ("411082001001GB00202", "长葛市", "长葛市产业集聚区", "已供应", "闲置", 0.40, 0.30, 0.005),
    ("411082001001GB00203", "长葛市", "长葛市产业集聚区", "已供应", "低效", 0.30, 0.30, -0.005),
    ("411081001001GB00201", "禹州市", "禹州市产业集聚区", "闲置", None, 0.30, 0.20, 0.000),
    ("411082001001GB00209", "长葛市", None, "已供应", "闲置", 0.50, 0.50, 0.000),  # outside the zones
]


#: The 处置台账 of the world: code → (category, opened_on, closed_on, outcome); the 已供应 parcels'
#: entries closed in 2025 (their supply), the 闲置 ones still open.
LEDGER = {
    "411002001001GB00201": ("idle", date(2025, 1, 10), None, None),
    "411002001001GB00202": ("idle", date(2025, 1, 10), date(2025, 6, 30), "resupplied"),
    "411082001001GB00201": ("idle", date(2025, 1, 10), None, None),
    "411082001001GB00202": ("idle", date(2025, 1, 10), date(2025, 6, 30), "resupplied"),
    "411082001001GB00203": ("output_shortfall", date(2025, 1, 10), date(2025, 2, 15), "revived"),
    "411081001001GB00201": ("idle", date(2025, 1, 10), None, None),
    "411082001001GB00209": ("idle", date(2025, 4, 1), date(2025, 6, 30), "resupplied"),
}
#: A day in the middle: only 长葛's 低效 parcel disposed; 长葛's parcel outside the zones not yet identified.
MIDDLE = date(2025, 3, 31)


@pytest.fixture
def world(db):
    drafts = []
    for code, county, zone, state, source, w, h, dx in WORLD:
        x, y = _point(db, zone) if zone else _outside_zones(db, county)
        drafts.append(ParcelDraft(code=code, geometry=rectangle_around(x + dx, y, w, h), county=county, zone=zone,
                                  state=state, land_source=source))
    registry.register_parcels(db, drafts, actor="测试")
    for code, (category, opened, closed, outcome) in LEDGER.items():
        e = disposal.open_entry(db, code, category, actor="测试", reason="增存挂钩测试", opened_on=opened)
        if closed:
            disposal.close_entry(db, e["id"], e["version"], actor="测试", outcome=outcome, closed_on=closed)
    return db


def independent_allocation(db, total, base, rev, rate, floor, cap, zones_only=True, require=False, as_of=None):
    """The formula of docs/kaoping-and-quota.md computed here from the ledger entries above and
    the parcels' stored areas, on ``as_of`` (default today)."""
    day = as_of or local_today()
    with db.reader() as s:
        areas = dict(s.execute(select(Parcel.code, Parcel.area_mu)).all())
        counties = s.execute(select(Jurisdiction.code, Jurisdiction.name).where(Jurisdiction.kind == "county")
                             .order_by(Jurisdiction.code)).all()
    ident = {c: 0.0 for c, _ in counties}
    disp = {c: 0.0 for c, _ in counties}
    for code, county, zone, *_ in WORLD:
        _cat, opened, closed, _outcome = LEDGER[code]
        if (zone is None and zones_only) or opened > day:
            continue
        c = next(cc for cc, name in counties if name == county)
        ident[c] += areas[code]
        if closed is not None and closed <= day:  # every outcome used here disposes and revives
            disp[c] += areas[code]
    codes = [c for c, _ in counties if not (require and disp[c] == 0)]
    rates = {c: disp[c] / ident[c] if ident[c] else 0.0 for c in codes}
    n, sr, sp = len(codes), sum(disp[c] for c in codes), sum(rates.values())
    w = {c: base / n + rev * (disp[c] / sr if sr else 1 / n) + rate * (rates[c] / sp if sp else 1 / n) for c in codes}
    fixed: dict[str, float] = {}
    while True:
        free = [c for c in codes if c not in fixed]
        rest = total - sum(fixed.values())
        share = {c: rest * w[c] / sum(w[f] for f in free) for c in free}
        low = [c for c in free if share[c] < floor * total - 1e-9]
        high = [c for c in free if share[c] > cap * total + 1e-9]
        if low:
            fixed.update({c: floor * total for c in low})
        elif high:
            fixed.update({c: cap * total for c in high})
        else:
            break
    exact = {**share, **fixed}
    out = {c: math.floor(exact[c] + 1e-9) for c in codes}
    extra = sorted(codes, key=lambda c: (-round(exact[c] - out[c], 9), -disp[c], c))[:total - sum(out.values())]
    for c in extra:
        out[c] += 1
    return {c: float(out.get(c, 0)) for c, _ in counties}, disp, ident


def test_the_allocation_from_the_registry_matches_an_independent_calculation(world):
    db = world
    s = load_rulebook().section("quota")
    expected, disp, ident = independent_allocation(db, 997, s["base_share"], s["revived_share"], s["rate_share"],
                                                   s["floor_share"], s["cap_share"])
    run = quota.allocate(db, 2026, 997, actor="测试", reason="单元测试")
    got = {c["code"]: c["allocated_mu"] for c in run["counties"]}
    assert got == expected and sum(got.values()) == 997 == run["allocated_total_mu"]
    lines = {c["code"]: c for c in run["counties"]}
    assert lines["411082"]["revived_mu"] == pytest.approx(disp["411082"], abs=1e-3)
    assert lines["411082"]["identified_mu"] == pytest.approx(ident["411082"], abs=1e-3)
    assert lines["411081"]["rate"] == 0.0 and lines["411024"]["rate"] is None  # 禹州 revived nothing; 鄢陵 no data
    assert lines["411082"]["bound"] == "cap" and got["411082"] == pytest.approx(0.40 * 997, abs=1)
    assert run["parameters"]["zones_only"] is True and run["explanation"][0].startswith("年度新增建设用地指标 997 亩")

    # Counting the county's parcels outside its zones (zones_only = false) changes 长葛's figures.
    wide, disp2, _ = independent_allocation(db, 997, s["base_share"], s["revived_share"], s["rate_share"],
                                            s["floor_share"], s["cap_share"], zones_only=False)
    run2 = quota.allocate(db, 2026, 997, actor="测试", parameters={"zones_only": False})
    assert {c["code"]: c["allocated_mu"] for c in run2["counties"]} == wide
    assert disp2["411082"] > disp["411082"]
    # "No revival, no new land": only 魏都 and 长葛 take part.
    strict, *_ = independent_allocation(db, 1000, 0.3, 0.4, 0.3, 0.05, 0.6, require=True)
    run3 = quota.allocate(db, 2026, 1000, actor="测试",
                          parameters={"require_revival": True, "cap_share": 0.6})
    got3 = {c["code"]: c["allocated_mu"] for c in run3["counties"]}
    assert got3 == strict and {c for c, v in got3.items() if v > 0} == {"411002", "411082"}
    # Every run is kept; the year shows the latest.
    view = quota.year_view(db, 2026, viewer="测试")
    assert view["id"] == run3["id"] and [r["id"] for r in view["runs"]] == [run3["id"], run2["id"], run["id"]]
    with pytest.raises(ValidationFailed, match="不是可调整的分配参数"):
        quota.allocate(db, 2026, 1000, actor="测试", parameters={"goal": 1})
    assert quota.run_count(db, 2026) == 3


def test_a_run_for_a_past_day_has_that_days_ledger_figures_and_keeps_them(world):
    db = world
    s = load_rulebook().section("quota")
    shares = (s["base_share"], s["revived_share"], s["rate_share"], s["floor_share"], s["cap_share"])
    expected, disp, ident = independent_allocation(db, 600, *shares, as_of=MIDDLE)
    run = quota.allocate(db, 2026, 600, actor="测试", as_of=MIDDLE.isoformat())
    assert run["as_of"] == "2025-03-31" and "处置台账截至 2025-03-31" in run["basis"]
    lines = {c["code"]: c for c in run["counties"]}
    assert {c: x["allocated_mu"] for c, x in lines.items()} == expected
    # on 2025-03-31 only 长葛's 低效 parcel was disposed: 魏都 had identified land and 0 disposed
    assert lines["411002"]["rate"] == 0.0 and lines["411002"]["revived_mu"] == 0
    assert disp["411082"] > 0 and lines["411082"]["revived_mu"] == pytest.approx(disp["411082"], abs=1e-3)
    assert lines["411082"]["identified_mu"] == pytest.approx(ident["411082"], abs=1e-3)
    assert lines["411082"]["rate"] == pytest.approx(disp["411082"] / ident["411082"])
    # today's figures differ (the 已供应 parcels' entries were closed on 2025-06-30)
    today = quota.compute(db, 2026, 600, viewer="测试")
    assert today["as_of"] == local_today().isoformat()
    assert {c["code"]: c["rate"] for c in today["counties"]}["411002"] > 0
    # the stored run keeps its figures when the ledger moves on: close 魏都's open entry
    with db.reader() as s_:
        e = s_.execute(select(DisposalEntry.id, DisposalEntry.version).join(Parcel, Parcel.id == DisposalEntry.parcel_id)
                       .where(Parcel.code == "411002001001GB00201")).one()
    disposal.close_entry(db, e.id, e.version, actor="测试", outcome="reclaimed", closed_on=date(2025, 3, 1))
    assert quota.get_run(db, run["id"], viewer="测试")["counties"] == run["counties"]
    again = quota.compute(db, 2026, 600, viewer="测试", as_of=MIDDLE)
    assert {c["code"]: c["rate"] for c in again["counties"]}["411002"] > 0  # the ledger now says so for that day
    # a day not yet come, or not a day: refused, nothing stored
    before = quota.run_count(db, 2026)
    for bad, msg in ((date(2099, 1, 1), "晚于今天"), ("2025-13-01", "YYYY-MM-DD")):
        with pytest.raises(ValidationFailed, match=msg):
            quota.allocate(db, 2026, 600, actor="测试", as_of=bad)
    assert quota.run_count(db, 2026) == before


def test_zones_of_a_management_area_count_for_the_county_they_lie_in(world):
    """经开区's zone answers to its 管委会 in the ledger, but lies in 建安区: the quota credits 建安区
    with it, with or without the parcels outside the zones."""
    db = world
    code = "411003001001GB00301"
    x, y = _point(db, "经济技术开发区产业集聚区")
    registry.register_parcels(db, [ParcelDraft(code=code, geometry=rectangle_around(x, y, 0.3, 0.3), county="建安区",
                                               zone="经济技术开发区产业集聚区", state="已供应")], actor="测试")
    e = disposal.open_entry(db, code, "idle", actor="测试", reason="管委会", opened_on="2025-01-10")
    disposal.close_entry(db, e["id"], e["version"], actor="测试", outcome="resupplied", closed_on="2025-05-01")
    with db.reader() as s:
        area = s.scalar(select(Parcel.area_mu).where(Parcel.code == code))
    prog = disposal.progress(db, as_of=local_today(), viewer="测试")
    jk = next(r for r in prog["counties"] if r["code"] == "411000-JK")  # the ledger's row is the 管委会's
    assert jk["identified"] == pytest.approx(area, abs=1e-3)
    assert next(r for r in prog["counties"] if r["code"] == "411003")["identified"] == 0
    for zones_only in (True, False):
        figs = {f.code: f for f in quota.county_figures(db, zones_only=zones_only, as_of=local_today())}
        assert figs["411003"].identified_mu == pytest.approx(area, abs=1e-3)
        assert figs["411003"].revived_mu == pytest.approx(area, abs=1e-3) and figs["411003"].rate == 1.0
        assert "411000-JK" not in figs  # a 管委会 is not a 县（市、区）: no line of its own


def test_quota_runs_are_append_only(world):
    db = world
    quota.allocate(db, 2026, 100, actor="测试")
    for table in ("quota_runs", "quota_allocations"):
        with pytest.raises(Exception, match="只能追加"):
            with db.transaction() as s:
                s.execute(text(f"UPDATE {table} SET id = id"))
        with pytest.raises(Exception, match="只能追加"):
            with db.transaction() as s:
                s.execute(text(f"DELETE FROM {table}"))


def test_quota_over_http_and_who_may(world, api, accounts):
    h = {u: bearer(api, u) for u in ("city", "weidu_admin", "tax_city")}
    assert api.get("/api/quota/2026").status_code == 401
    assert api.post("/api/quota/2026", json={"total_mu": 100}).status_code == 401
    assert api.post("/api/quota/2026", json={"total_mu": 100}, headers=h["weidu_admin"]).status_code == 403
    assert api.get("/api/quota/2026", headers=h["city"]).status_code == 404  # no run yet
    r = api.post("/api/quota/2026", json={"total_mu": "100"}, headers=h["city"])
    assert r.status_code == 422  # a string is not a number
    r = api.post("/api/quota/2026", json={"total_mu": 100, "parameters": {"base_share": 0.9}}, headers=h["city"])
    assert r.status_code == 422 and "份额之和应为 1" in r.text
    preview = api.get("/api/quota/2026/preview?total_mu=500", headers=h["city"])
    assert preview.status_code == 200 and sum(c["allocated_mu"] for c in preview.json()["counties"]) == 500
    assert api.get("/api/quota/2026", headers=h["city"]).status_code == 404  # a preview stores nothing
    r = api.post("/api/quota/2026", json={"total_mu": 500, "reason": "2026年度计划指标"}, headers=h["city"])
    assert r.status_code == 201, r.text
    assert {c["code"]: c["allocated_mu"] for c in r.json()["counties"]} == \
        {c["code"]: c["allocated_mu"] for c in preview.json()["counties"]}
    again = api.get("/api/quota/2026/preview", headers=h["city"])  # the latest run's total, today's figures
    assert again.status_code == 200 and again.json()["total_mu"] == 500
    assert api.get("/api/quota/2025/preview", headers=h["city"]).status_code == 404
    assert api.get("/api/quota/2026/preview", headers=h["weidu_admin"]).status_code == 403
    for who in ("weidu_admin", "tax_city", "city"):
        body = api.get("/api/quota/2026", headers=h[who]).json()
        assert body["total_mu"] == 500 and body["reason"] == "2026年度计划指标" and len(body["counties"]) == 6
    # a past day: the ledger's figures of that day (preview and stored run agree)
    past = api.get("/api/quota/2026/preview?total_mu=500&as_of=2025-03-31", headers=h["city"])
    assert past.status_code == 200 and past.json()["as_of"] == "2025-03-31"
    r = api.post("/api/quota/2026", json={"total_mu": 500, "as_of": "2025-03-31"}, headers=h["city"])
    assert r.status_code == 201 and r.json()["as_of"] == "2025-03-31"
    assert [c["rate"] for c in r.json()["counties"]] == [c["rate"] for c in past.json()["counties"]]
    assert [c["rate"] for c in r.json()["counties"]] != [c["rate"] for c in preview.json()["counties"]]
    assert api.post("/api/quota/2026", json={"total_mu": 500, "as_of": "2099-01-01"},
                    headers=h["city"]).status_code == 422
    assert api.get("/api/quota/2026/preview?as_of=x", headers=h["city"]).status_code == 422
    assert quota.run_count(world, 2026) == 2



# The command line is a face over services the API tests exercise on both backends: SQLite only.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_quota_through_the_cli(world):
    out = run_cli(world.url, "quota", "allocate", "--year", "2026", "--total", "600").stdout
    assert "2026 年度增存挂钩新增建设用地指标分配" in out and "长葛市" in out and "已保存" in out
    shown = json.loads(run_cli(world.url, "quota", "show", "--year", "2026", "--json").stdout)
    assert sum(c["allocated_mu"] for c in shown["counties"]) == 600
    bad = run_cli(world.url, "quota", "allocate", "--year", "2026", "--total", "-5", check=False)
    assert bad.exit_code == 2 and "应为正数" in bad.stderr and "Traceback" not in bad.stderr
    past = json.loads(run_cli(world.url, "quota", "allocate", "--year", "2026", "--total", "600", "--as-of",
                              "2025-03-31", "--dry-run", "--json").stdout)
    assert past["as_of"] == "2025-03-31" and {c["code"]: c["rate"] for c in past["counties"]}["411002"] == 0.0
    bad = run_cli(world.url, "quota", "allocate", "--year", "2026", "--total", "600", "--as-of", "昨天", check=False)
    assert bad.exit_code == 2 and "--as-of" in bad.stderr


# =========================================================================== 考评, pure
SCHEME = a.Scheme.from_settings(load_rulebook().section("kaoping"))


def test_the_scheme_is_the_seeds_four_areas_out_of_100():
    assert [x.label for x in SCHEME.areas] == ["规划引领及实施", "土地高效利用及成效", "用地政策和制度体系", "改革创新和探索"]
    assert sum(x.points for x in SCHEME.areas) == 100
    assert [x.clause for x in SCHEME.areas] == ["000:1270", "000:1272", "000:1274", "000:1276"]
    bad = {**load_rulebook().section("kaoping")}
    bad["areas"] = [dict(x) for x in bad["areas"]]
    bad["areas"][0]["points"] = 25
    with pytest.raises(ValidationFailed) as exc:
        a.Scheme.from_settings(bad)
    assert {p.field for p in exc.value.problems} == {"areas.planning", "areas"}


def test_office_scores_win_self_scores_count_unconfirmed():
    r = a.score_participant(SCHEME, {"plan_revision": 9, "spatial_plan": 8, "stock_disposal": 12},
                            {"plan_revision": 7})
    assert r["total"] == 7 + 8 + 12 and r["self_total"] == 29
    assert r["unconfirmed_items"] == 2 and r["confirmed"] is False
    by = {x["item"]: x for x in r["items"]}
    assert by["plan_revision"]["source"] == "office" and by["spatial_plan"]["source"] == "self"
    assert by["flexible_supply"]["score"] == 0 and by["flexible_supply"]["source"] is None
    full = {i: it.points for i, it in SCHEME.items.items()}
    assert a.score_participant(SCHEME, {}, full)["total"] == 100
    with pytest.raises(ValidationFailed, match="满分 10 分"):
        a.check_score(SCHEME, "plan_revision", 10.5, "x")
    with pytest.raises(ValidationFailed, match="没有考评事项"):
        a.check_score(SCHEME, "nonsense", 1, "x")


def test_competition_ranking_and_interview_list():
    assert a.competition_ranks([80, 70, 70, 60, 90]) == [2, 3, 3, 5, 1]
    assert a.competition_ranks([59.999, 60.0]) == [1, 1]  # equal at two decimals
    parts = [(a.Participant("zone", c, c), {"total": t, "confirmed": True, "unconfirmed_items": 0, "areas": []})
             for c, t in (("Z1", 80), ("Z2", 70), ("Z3", 70), ("Z4", 60), ("Z5", 55), ("Z6", 55))]
    rows = a.rank(SCHEME, parts)["zone"]
    assert [(r["code"], r["rank"]) for r in rows] == [("Z1", 1), ("Z2", 2), ("Z3", 2), ("Z4", 4), ("Z5", 5), ("Z6", 5)]
    assert [r["code"] for r in rows if r["interview"]] == ["Z5", "Z6"]  # below 60, and the last rank
    assert a.rank(SCHEME, parts)["county"] == []


def test_the_rhythm_follows_the_seed():
    ev = a.rhythm(2026)
    assert [e["date"] for e in ev if e["kind"] == "quarterly"] == ["2026-03-31", "2026-06-30", "2026-09-30",
                                                                   "2026-12-31"]
    assert [e["date"] for e in ev if e["kind"] == "half_year"] == ["2026-06-30", "2026-12-31"]
    assert [e["date"] for e in ev if e["kind"] == "annual"] == ["2027-01-31"]
    assert ev[0]["kind"] == "rules"


# =========================================================================== 考评 through the API
def _post(api, headers, category, participant, source, scores, version, period="annual"):
    return api.post("/api/kaoping/2026/scores", headers=headers, json={
        "category": category, "participant": participant, "source": source, "period": period, "version": version,
        "scores": [{"item": i, "score": s, "evidence": f"{i} 证明材料"} for i, s in scores.items()]})


def test_kaoping_scoring_ranking_and_refusals(db, api, accounts):
    h = {u: bearer(api, u) for u in ("city", "weidu_admin", "changge_admin", "weidu_zone", "changge_zone",
                                     "tax_city")}
    # A county self-assesses itself; not another county; not the office's scores; never the public.
    weidu = {"plan_revision": 9, "spatial_plan": 9, "stock_disposal": 10, "supply_list": 5}
    r = _post(api, h["weidu_admin"], "county", "魏都区", "self", weidu, 0)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"1"' and r.json()["total"] == 33 and r.json()["unconfirmed_items"] == 4
    assert _post(api, h["weidu_admin"], "county", "长葛市", "self", {"plan_revision": 5}, 0).status_code == 403
    assert _post(api, h["weidu_admin"], "county", "魏都区", "office", {"plan_revision": 5}, 0).status_code == 403
    assert _post(api, {}, "county", "魏都区", "self", {"plan_revision": 5}, 1).status_code == 401
    assert _post(api, h["weidu_zone"], "zone", "长葛市产业集聚区", "self", {"plan_revision": 5}, 0).status_code == 403
    assert _post(api, h["tax_city"], "department", "zrzy", "self", {"plan_revision": 5}, 0).status_code == 403
    # Bad input: over the item's points, an unknown item — 422, nothing stored; a stale version — 409.
    r = _post(api, h["weidu_admin"], "county", "魏都区", "self", {"plan_revision": 11, "nonsense": 1}, 1)
    assert r.status_code == 422 and "满分 10 分" in r.text and "nonsense" in r.text
    assert _post(api, h["weidu_admin"], "county", "魏都区", "self", {"plan_revision": 8}, 0).status_code == 409
    me = api.get("/api/kaoping/2026/participants/county/411002", headers=h["weidu_admin"]).json()
    assert me["versions"] == {"self": 1, "office": 0} and me["total"] == 33
    assert api.get("/api/kaoping/2026/participants/county/411082", headers=h["weidu_admin"]).status_code == 404

    # The office scores: zones with a tie, a department, 魏都 partly confirmed.
    office = h["city"]
    full = {i: it.points for i, it in SCHEME.items.items()}
    z10 = {**full, "flexible_supply": 0, "major_projects": 0, "secondary_market": 0, "link_quota": 1}  # 80
    z03 = {**z10, "plan_revision": 0}  # 70
    z05 = {**z10, "spatial_plan": 0}  # 70
    z01 = {**z03, "spatial_plan": 0}  # 60
    for zone, scores in (("魏都产业集聚区", z10), ("长葛市产业集聚区", z03), ("禹州市产业集聚区", z05),
                         ("经济技术开发区产业集聚区", z01)):
        assert _post(api, office, "zone", zone, "office", scores, 0).status_code == 200
    assert _post(api, office, "county", "魏都区", "office", {"plan_revision": 6}, 0).status_code == 200
    assert _post(api, h["tax_city"], "department", "市税务局", "self", {"supply_list": 4}, 0).status_code == 200
    # The 魏都 zone's own self-assessment does not count where the office has scored.
    assert _post(api, h["weidu_zone"], "zone", "魏都产业集聚区", "self", {"plan_revision": 1}, 0).status_code == 200

    # Draft: the city sees the ranking; nobody else does, and the public sees nothing.
    assert api.get("/api/kaoping/2026/ranking").status_code == 404
    assert api.get("/api/kaoping/2026/ranking", headers=h["weidu_admin"]).status_code == 404
    assert api.get("/api/kaoping/2026").status_code == 401
    rk = api.get("/api/kaoping/2026/ranking", headers=office).json()
    assert rk["status"] == "draft"
    zones = [(r["name"], r["total"], r["rank"]) for r in rk["rankings"]["zone"]]
    assert zones[:4] == [("魏都产业集聚区", 80, 1), ("长葛市产业集聚区", 70, 2), ("禹州市产业集聚区", 70, 2),
                         ("经济技术开发区产业集聚区", 60, 4)]
    assert {rank for _, total, rank in zones[4:]} == {5} and {total for _, total, _ in zones[4:]} == {0}
    counties = {r["code"]: r for r in rk["rankings"]["county"]}
    # 魏都: office 6 for plan_revision + self 9 + 10 + 5 = 30, three items unconfirmed.
    assert counties["411002"]["total"] == 30 and counties["411002"]["unconfirmed_items"] == 3
    assert counties["411002"]["rank"] == 1 and counties["411082"]["rank"] == 2  # the rest tie at 0
    depts = {r["code"]: r for r in rk["rankings"]["department"]}
    assert depts["swj"]["total"] == 4 and depts["swj"]["rank"] == 1
    interview = {r["name"] for r in rk["interview"]}
    assert "经济技术开发区产业集聚区" not in interview and "尚集产业集聚区" in interview and "长葛市" in interview
    assert api.get("/api/kaoping/2026/ranking?category=zone", headers=office).json()["categories"] == \
        {"zone": "产业集聚区管理机构"}
    assert api.get("/api/kaoping/2026/ranking?category=city", headers=office).status_code == 422
    # Before publishing, 魏都 does not see the office's scores of itself.
    me = api.get("/api/kaoping/2026/participants/county/411002", headers=h["weidu_admin"]).json()
    assert me["office_visible"] is False and me["total"] == 33
    rv = api.get("/api/kaoping/2026", headers=h["weidu_admin"]).json()
    assert [p["code"] for p in rv["participants"]] == ["411002"] and len(rv["rhythm"]) == 9

    # Publishing: the city only, with the version; then the ranking is readable and the round closed.
    assert api.post("/api/kaoping/2026/publish", json={"version": 1}, headers=h["weidu_admin"]).status_code == 403
    assert api.post("/api/kaoping/2026/publish", json={}, headers=office).status_code == 428
    assert api.post("/api/kaoping/2026/publish", json={"version": 7}, headers=office).status_code == 409
    r = api.post("/api/kaoping/2026/publish", json={"version": 1}, headers=office)
    assert r.status_code == 200 and r.json()["status"] == "published"
    public = api.get("/api/kaoping/2026/ranking?category=zone")
    assert public.status_code == 200
    first = public.json()["rankings"]["zone"][0]
    assert first == {"category": "zone", "code": "411000-Z10", "name": "魏都产业集聚区", "total": 80, "rank": 1}
    assert "interview" not in public.json() and "scheme" not in public.json()
    seen = api.get("/api/kaoping/2026/ranking", headers=h["changge_admin"]).json()
    assert seen["status"] == "published" and seen["interview"]
    me = api.get("/api/kaoping/2026/participants/county/411002", headers=h["weidu_admin"]).json()
    assert me["office_visible"] is True and me["total"] == 30
    r = _post(api, h["weidu_admin"], "county", "魏都区", "self", {"plan_revision": 8}, 1)
    assert r.status_code == 422 and "已发布" in r.text
    # Another period is a separate round.
    assert _post(api, h["weidu_admin"], "county", "魏都区", "self", {"plan_revision": 8}, 0, "H1").status_code == 200

    # The records are append-only.
    for table in ("kaoping_submissions", "kaoping_scores"):
        with pytest.raises(Exception, match="只能追加"):
            with db.transaction() as s:
                s.execute(text(f"UPDATE {table} SET id = id"))


def test_published_kaoping_feeds_the_quota_when_weighted(world):
    db = world
    full = {i: it.points for i, it in SCHEME.items.items()}
    kaoping.submit(db, 2025, category="county", participant="魏都区", source="office",
                   scores=[{"item": i, "score": s} for i, s in full.items()], expected_version=0, actor="测试")
    kaoping.submit(db, 2025, category="county", participant="长葛市", source="office",
                   scores=[{"item": "plan_revision", "score": 10}], expected_version=0, actor="测试")
    params = {"base_share": 0.5, "revived_share": 0.0, "rate_share": 0.0, "kaoping_share": 0.5,
              "floor_share": 0.0, "cap_share": 1.0}
    with pytest.raises(ValidationFailed, match="2025 年度考评尚未发布"):
        quota.compute(db, 2026, 1100, viewer="测试", parameters=params)
    kaoping.publish(db, 2025, expected_version=1, actor="测试")
    out = quota.compute(db, 2026, 1100, viewer="测试", parameters=params)
    got = {c["code"]: c["allocated_mu"] for c in out["counties"]}
    # six counties: base 1100·.5/6 = 91.67 each; 考评 550 split 100 : 10 between 魏都 and 长葛.
    assert got["411002"] == pytest.approx(91.67 + 500, abs=1) and got["411082"] == pytest.approx(91.67 + 50, abs=1)
    assert got["411003"] == pytest.approx(91.67, abs=1) and sum(got.values()) == 1100


# The command line is a face over services the API tests exercise on both backends: SQLite only.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_kaoping_ranking_through_the_cli(db):
    kaoping.submit(db, 2026, category="zone", participant="魏都产业集聚区", source="office",
                   scores=[{"item": "plan_revision", "score": 10}], expected_version=0, actor="测试")
    out = run_cli(db.url, "kaoping", "ranking", "--year", "2026", "--category", "zone").stdout
    assert "产业集聚区管理机构（草稿（未发布））" in out and "魏都产业集聚区" in out
    data = json.loads(run_cli(db.url, "kaoping", "ranking", "--year", "2026", "--json").stdout)
    assert data["rankings"]["zone"][0]["name"] == "魏都产业集聚区" and data["rankings"]["zone"][0]["total"] == 10
    bad = run_cli(db.url, "kaoping", "ranking", "--year", "2026", "--period", "Q5", check=False)
    assert bad.exit_code == 2 and "考评期次" in bad.stderr
