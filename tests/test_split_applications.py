"""分割转让 applications (issue 7, item 6; R8, 000:1182–1256), through the API on SQLite and
PostgreSQL: a 60-亩 parcel split 40/20 and approved end to end (children with new codes, areas,
remaining term, lineage both ways, the parent's state and archive), and every refusal leaving
everything as it was."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import shapely
from sqlalchemy import func, select, text

from conftest import PASSWORD, bearer, run_cli
from landcycle.data import DATA_DIR
from landcycle.domain.access import SYSTEM
from landcycle.domain.geometry import gk_area_m2, rectangle_around
from landcycle.domain.identifiers import credit_code_with_check, parse_parcel_code
from landcycle.domain.records import DevelopmentDraft, EnterpriseDraft, OccupancyDraft, ParcelDraft, SupplyContractDraft
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.services import accounts as accounts_service
from landcycle.services import enterprises, jurisdictions, ledgers, lifecycle, registry
from landcycle.services.split_applications import next_child_codes, remaining_term
from landcycle.storage.lifecycle_schema import ParcelTransition
from landcycle.storage.schema import ChangeLog, Occupancy, Parcel
from landcycle.storage.split_schema import ParcelLineage, SplitApplication, SplitPiece

RB = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
CHECKLIST = list(RB.section("split_transfer")["required_documents"])
APPROVAL = "分割转让批准意见"

BIG = "411002001001GB00201"    # 60 亩, operating, ENT holds it
SMALL = "411002001001GB00202"  # 29.4 亩
OTHER = "411002001001GB00203"  # ENT2 holds it
ENT = credit_code_with_check("91411002MA44FGCT0")
ENT2 = credit_code_with_check("91411002MA44FGCT1")


# =========================================================================== pure parts
def test_remaining_term_is_the_rest_of_the_contract_term_in_whole_years_rounded_down():
    t = remaining_term(50, date(2018, 6, 1), date(2026, 6, 1))
    assert (t.end, t.remaining_years) == (date(2068, 6, 1), 42) and t.years_used == pytest.approx(8, abs=0.01)
    assert remaining_term(50, date(2018, 6, 1), date(2026, 6, 2)).remaining_years == 41  # a day into the 9th year
    assert remaining_term(50, date(2018, 6, 1), date(2026, 5, 31)).remaining_years == 42
    over = remaining_term(20, date(2000, 1, 1), date(2026, 1, 1))
    assert over.remaining_years == 0 and over.remaining_exact == 0
    leap = remaining_term(30, date(2020, 2, 29), date(2025, 3, 1))
    assert leap.end == date(2050, 2, 28) and leap.remaining_years == 24


# =========================================================================== the world
def doc(kind: str) -> dict:
    return {"kind": kind, "title": kind, "number": f"许测〔2026〕{len(kind)}号",
            "date": (lifecycle.today() - timedelta(days=1)).isoformat()}


def cut(parent: shapely.Geometry, share: float) -> tuple[shapely.Geometry, shapely.Geometry]:
    """The parent cut by a north-south line so that the east piece measures ``share`` of it (GK
    areas, bisected to 1e-12 — at or just above the share, never below it)."""
    minx, miny, maxx, maxy = parent.bounds
    total = gk_area_m2(parent)
    lo, hi = minx, maxx  # east piece's share falls as the line moves east

    def east(x):
        return shapely.intersection(parent, shapely.box(x, miny - 1, maxx + 1, maxy + 1))

    for _ in range(200):
        mid = (lo + hi) / 2
        if gk_area_m2(east(mid)) / total >= share:
            lo = mid
        else:
            hi = mid
    west = shapely.intersection(parent, shapely.box(minx - 1, miny - 1, lo, maxy + 1))
    return west, east(lo)


def gj(g) -> dict:
    return shapely.geometry.mapping(g)


class World:
    def __init__(self, db, api):
        self.db, self.api, self.tokens = db, api, {}

    def h(self, user):
        if user is None:
            return {}
        if user not in self.tokens:
            self.tokens[user] = bearer(self.api, user)
        return self.tokens[user]

    def geometry(self, code):
        with self.db.reader() as s:
            return s.scalar(select(Parcel.geometry).where(Parcel.code == code))

    def submit(self, code=BIG, pieces=None, user="ent", docs=None, **extra):
        if pieces is None:
            west, east = cut(self.geometry(code), 1 / 3)
            pieces = [{"geometry": gj(west)}, {"geometry": gj(east), "transferee_name": "许昌受让测试有限公司",
                                               "transferee_credit_code": ENT2}]
        body = {"pieces": pieces, "declared_price_wan": 1000.0,
                "documents": [doc(k) for k in (CHECKLIST if docs is None else docs)], **extra}
        return self.api.post(f"/api/parcels/{code}/split-applications", json=body, headers=self.h(user))

    def decide(self, app_id, decision="approve", user="weidu_zone", version=None, docs=(), reason=None):
        if version is None:
            version = self.api.get(f"/api/split-applications/{app_id}", headers=self.h("city")).json()["version"]
        body = {"decision": decision, "version": version, "documents": [doc(k) for k in docs]}
        if reason:
            body["reason"] = reason
        return self.api.post(f"/api/split-applications/{app_id}/decision", json=body, headers=self.h(user))

    def snapshot(self):
        """What a refusal must not change: rows of every table this touches, and the parcels' states."""
        with self.db.engine.connect() as c:
            counts = tuple(c.execute(select(func.count()).select_from(t.__table__)).scalar()
                           for t in (Parcel, SplitApplication, SplitPiece, ParcelLineage, ParcelTransition,
                                     Occupancy))
            logs = c.execute(select(func.count()).select_from(ChangeLog.__table__)
                             .where(ChangeLog.action.in_(["create", "update", "delete"]))).scalar()
            states = tuple(c.execute(select(Parcel.state, Parcel.version).order_by(Parcel.code)).all())
        return counts, logs, states


def _zone_point(db, name):
    with db.reader() as s:
        p = shapely.point_on_surface(jurisdictions.resolve(s, name).geometry)
    return p.x, p.y


@pytest.fixture
def world(db, api, accounts):
    x, y = _zone_point(db, "魏都产业集聚区")
    zone = dict(county="魏都区", zone="魏都产业集聚区", plot_ratio_min=1.0, plot_ratio_max=2.5, state="正常运营",
                supply_date=date(2018, 6, 1), term_years=50, green_ratio_max=0.15, location="魏都产业集聚区测试路1号")
    registry.register_parcels(db, [
        ParcelDraft(code=BIG, geometry=rectangle_around(x, y, 0.2, 0.2), **zone),
        ParcelDraft(code=SMALL, geometry=rectangle_around(x + 0.004, y, 0.14, 0.14), **zone),
        ParcelDraft(code=OTHER, geometry=rectangle_around(x - 0.004, y, 0.2, 0.2), **zone),
    ], actor="测试")
    for credit, name in ((ENT, "许昌分割测试有限公司"), (ENT2, "许昌受让测试有限公司")):
        enterprises.register_enterprise(db, EnterpriseDraft(credit, name, "C3411", True, "魏都区"), actor="测试")
    for code, credit in ((BIG, ENT), (SMALL, ENT), (OTHER, ENT2)):
        enterprises.add_occupancy(db, OccupancyDraft(code, credit, "权利人", 10000, date(2018, 6, 1)), actor="测试")
        ledgers.add_contract(db, code, SupplyContractDraft(f"HT-{code[-3:]}", credit, "出让", date(2018, 5, 20), 50,
                                                           1200.0, date(2018, 9, 1), date(2020, 9, 1)), actor="测试")
        ledgers.add_development(db, code, DevelopmentDraft(actual_start_date=date(2018, 9, 1),
                                                           completion_result="passed", completion_date=date(2020, 8, 1),
                                                           production_result="passed",
                                                           production_date=date(2022, 8, 1)), actor="测试")
    accounts_service.add_user(db, "ent", PASSWORD, role="enterprise", enterprise=ENT)
    accounts_service.add_user(db, "ent2", PASSWORD, role="enterprise", enterprise=ENT2)
    return World(db, api)


# =========================================================================== the whole way
def test_a_60_mu_parcel_split_40_20_and_approved(world, db):
    api, h = world.api, world.h
    with db.reader() as s:
        parent_mu = s.scalar(select(Parcel.area_mu).where(Parcel.code == BIG))
        expected_codes = next_child_codes(s, BIG, 2)
    assert parent_mu == pytest.approx(60, abs=0.01)
    assert [parse_parcel_code(c)["sequence"] for c in expected_codes] == ["00204", "00205"]  # next free in the 子区

    # filed by the enterprise holding it, the zone's approval still to come: incomplete, listed
    r = world.submit(docs=[k for k in CHECKLIST if k != APPROVAL], market_price_wan=1500.0, reason="引入配套企业")
    assert r.status_code == 201, r.text
    app = r.json()
    assert r.headers["location"] == f"/api/split-applications/{app['id']}" and r.headers["etag"] == '"1"'
    assert app["status"] == "submitted" and app["verdict"]["outcome"] == "incomplete"
    assert app["missing_documents"] == [APPROVAL] and any(APPROVAL in x for x in app["verdict"]["reasons"])
    assert [p["area_mu"] for p in app["pieces"]] == pytest.approx([40, 20], abs=0.01)
    assert app["government_priority_purchase"]  # 1000 < 80% of 1500: the government may buy first (000:1218)
    assert any("优先购买权" in x for x in app["verdict"]["reasons"])
    assert {c["source"] for c in app["verdict"]["citation"]} >= {"000:1198", "000:1216", "000:1218"}
    assert app["verdict"]["remaining_term"]["term_end"] == "2068-06-01"  # 50 years from the 供地日期

    # the applicant reads it (officials' names hidden); others do not
    mine = api.get(f"/api/split-applications/{app['id']}", headers=h("ent")).json()
    assert mine["id"] == app["id"] and mine["current"]["missing_documents"] == [APPROVAL]
    for user, status in (("ent2", 404), ("changge_zone", 404), ("changge_admin", 404), ("tax_city", 403), (None, 401)):
        assert api.get(f"/api/split-applications/{app['id']}", headers=h(user)).status_code == status, user
    assert [a["id"] for a in api.get(f"/api/parcels/{BIG}/split-applications", headers=h("ent")).json()["items"]] \
        == [app["id"]]
    assert api.get(f"/api/parcels/{BIG}/split-applications", headers=h("ent2")).status_code == 404

    # approval without the missing document: refused, listed, nothing changed
    before = world.snapshot()
    r = world.decide(app["id"])
    assert r.status_code == 422, r.text
    assert [p["message"] for p in r.json()["problems"]] == [f"申请材料不全，不予批准：缺少“{APPROVAL}”（000:1222-1235）"]
    assert world.snapshot() == before
    # the enterprise may not approve its own; a stale version is a conflict
    assert world.decide(app["id"], user="ent", docs=[APPROVAL]).status_code == 403
    r = world.decide(app["id"], docs=[APPROVAL], version=7)
    assert r.status_code == 409 and r.json()["current"]["version"] == 1
    counts, _, states = world.snapshot()
    assert (counts, states) == (before[0], before[2])

    # approved with the zone's opinion: one transaction does it all
    r = world.decide(app["id"], docs=[APPROVAL], reason="符合分割条件")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "approved" and out["decided_by"] == "weidu_zone" and out["version"] == 2
    children = out["children"]
    assert [c["code"] for c in children] == expected_codes
    assert sum(c["area_mu"] for c in children) == pytest.approx(parent_mu, abs=0.01)
    assert [c["area_mu"] for c in children] == pytest.approx([40, 20], abs=0.01)
    term = remaining_term(50, date(2018, 6, 1), lifecycle.today())
    assert out["remaining_term"]["remaining_term_years"] == term.remaining_years
    for c in children:
        assert c["term_years"] == term.remaining_years and c["supply_date"] == lifecycle.today().isoformat()
        assert (c["land_use"], c["plot_ratio_min"], c["plot_ratio_max"], c["green_ratio_max"]) == ("0601", 1.0, 2.5, 0.15)
        assert c["state"] == "operating" and c["zone_name"] == "魏都产业集聚区" and c["gk_epsg"] == 4547
    assert out["parent"]["state"] == "split_transferred"
    assert [p["child_code"] for p in out["pieces"]] == expected_codes
    assert out["transition"]["transition"] == "split_transfer"
    assert sorted(d["kind"] for d in out["transition"]["documents"]) == ["split_approval", "split_contract"]

    # the parent's lifecycle shows the step with its documents
    steps = api.get(f"/api/parcels/{BIG}/transitions", headers=h("weidu_zone")).json()
    assert steps["state"] == "split_transferred" and steps["history"][-1]["name"] == "分割转让"
    # lineage both ways
    down = api.get(f"/api/parcels/{BIG}/lineage", headers=h("weidu_zone")).json()
    assert [c["code"] for c in down["children"]] == expected_codes and down["parents"] == []
    assert down["children"][0]["remaining_term_years"] == term.remaining_years
    up = api.get(f"/api/parcels/{expected_codes[1]}/lineage", headers=h("weidu_zone")).json()
    assert [p["code"] for p in up["parents"]] == [BIG] and up["parents"][0]["application_id"] == app["id"]
    # the kept piece is the applicant's, the other the transferee's: each sees its own child only
    assert [p["code"] for p in api.get(f"/api/parcels/{BIG}/lineage", headers=h("ent")).json()["children"]] \
        == expected_codes[:1]
    assert api.get(f"/api/parcels/{expected_codes[1]}", headers=h("ent2")).status_code == 200
    assert api.get(f"/api/parcels/{expected_codes[1]}/lineage", headers=h(None)).status_code == 401

    # 一地一档: the parent's state change and each child's creation name the link
    parent_log = api.get(f"/api/parcels/{BIG}/history", headers=h("city"), params={"limit": 200}).json()["items"]
    [moved] = [e for e in parent_log if e["entity"] == "parcels" and e["action"] == "update"]
    assert moved["after"]["state"] == "split_transferred" and all(c in moved["reason"] for c in expected_codes)
    assert any(e["entity"] == "split_applications" and e["action"] == "update" for e in parent_log)
    for code in expected_codes:
        log = api.get(f"/api/parcels/{code}/history", headers=h("city"), params={"limit": 200}).json()["items"]
        made = [e for e in log if e["entity"] == "parcels" and e["action"] == "create"]
        assert len(made) == 1 and BIG in made[0]["reason"] and f"分割转让申请 {app['id']}" in made[0]["reason"]
        assert any(e["entity"] == "parcel_lineage" for e in log)

    # decided once: the second decision is refused; the lineage is append-only
    assert world.decide(app["id"]).status_code == 422
    for sql in ("UPDATE parcel_lineage SET actor = 'x'", "DELETE FROM parcel_lineage"):
        with pytest.raises(Exception, match="只能追加"):
            with db.engine.begin() as c:
                c.execute(text(sql))


# =========================================================================== refusals
def _refused(world, r, *needles, field=None):
    assert r.status_code == 422, r.text
    msgs = " ".join(p["message"] for p in r.json()["problems"])
    for n in needles:
        assert n in msgs, (n, msgs)
    if field:
        assert any(p["field"] == field for p in r.json()["problems"])


def test_under_30_mu_is_not_split(world):
    before = world.snapshot()
    _refused(world, world.submit(SMALL), "不足 30 亩", "000:1198")
    assert world.snapshot() == before


def test_each_piece_needs_its_share_and_exactly_the_share_passes(world):
    big = world.geometry(BIG)
    before = world.snapshot()
    west, east = cut(big, 0.2999)
    r = world.submit(pieces=[{"geometry": gj(west)}, {"geometry": gj(east)}])
    _refused(world, r, "第2块", "低于100亩以下宗地要求的30%", "000:1198")
    assert world.snapshot() == before
    west, east = cut(big, 0.30)
    r = world.submit(pieces=[{"geometry": gj(west)}, {"geometry": gj(east)}])
    assert r.status_code == 201, r.text
    assert r.json()["pieces"][1]["share"] == pytest.approx(0.3, abs=1e-9) and r.json()["verdict"]["outcome"] == "eligible"


def test_pieces_must_not_overlap_and_must_cover_the_parcel(world):
    big = world.geometry(BIG)
    west, east = cut(big, 0.4)
    minx, miny, maxx, maxy = big.bounds
    wider_west = shapely.intersection(big, shapely.box(minx - 1, miny - 1, east.bounds[0] + 0.0002, maxy + 1))
    before = world.snapshot()
    r = world.submit(pieces=[{"geometry": gj(wider_west)}, {"geometry": gj(east)}])
    _refused(world, r, "第1块与第2块重叠")
    assert r.json()["problems"][0]["code"] == "overlap"
    narrower_east = shapely.intersection(big, shapely.box(east.bounds[0] + 0.0002, miny - 1, maxx + 1, maxy + 1))
    r = world.submit(pieces=[{"geometry": gj(west)}, {"geometry": gj(narrower_east)}])
    _refused(world, r, "各块应覆盖整宗地", "piece_sum_tolerance_mu")
    outside = shapely.affinity.translate(east, 0.0005, 0)
    r = world.submit(pieces=[{"geometry": gj(west)}, {"geometry": gj(outside)}])
    _refused(world, r, f"位于宗地 {BIG} 之外", field="pieces[1].geometry")
    bowtie = {"type": "Polygon", "coordinates": [[[minx, miny], [maxx, maxy], [maxx, miny], [minx, maxy], [minx, miny]]]}
    r = world.submit(pieces=[{"geometry": bowtie}, {"geometry": gj(east)}])
    _refused(world, r, "第1块", "几何图形无效", field="pieces[0].geometry")
    r = world.submit(pieces=[{"geometry": gj(big)}])
    _refused(world, r, "分成2宗及以上")
    assert world.snapshot() == before


def test_a_contract_forbidding_the_split_bars_it_also_at_approval(world, db):
    r = world.submit()
    assert r.status_code == 201, r.text
    app_id = r.json()["id"]
    with db.reader() as s:
        from landcycle.storage.schema import SupplyContract
        c = s.scalar(select(SupplyContract).join(Parcel).where(Parcel.code == BIG))
        cid, cv = c.id, c.version
    ledgers.update_contract(db, cid, {"forbids_split": True}, cv, actor="测试")
    before = world.snapshot()
    _refused(world, world.decide(app_id), "出让合同约定不允许分割", "000:1241")
    _refused(world, world.submit(), "不予受理", "约定不允许分割")
    assert world.snapshot() == before
    shown = world.api.get(f"/api/split-applications/{app_id}", headers=world.h("weidu_zone")).json()
    assert shown["verdict"]["outcome"] == "eligible" and not shown["current"]["eligible"]


def test_not_before_production_acceptance_passed(world, db):
    v = ledgers.get_development(db, BIG, viewer=SYSTEM)["version"]
    ledgers.update_development(db, BIG, {"production_result": "pending", "production_date": None}, v, actor="测试")
    before = world.snapshot()
    _refused(world, world.submit(), "达产复验通过前", "000:1024")
    assert world.snapshot() == before


def test_who_may_submit_and_decide(world):
    before = world.snapshot()
    assert world.submit(user="ent2").status_code == 404           # an enterprise of another parcel
    assert world.submit(user="changge_zone").status_code == 404   # outside the jurisdiction
    assert world.submit(user="changge_admin").status_code == 404
    assert world.submit(user="tax_city").status_code == 403
    assert world.submit(user=None).status_code == 401
    # an official files a paper application only for the parcel's 权利人
    _refused(world, world.submit(user="weidu_zone", applicant=ENT2), "不是宗地", field="applicant")
    assert world.snapshot() == before
    r = world.submit(user="weidu_zone", applicant=ENT)
    assert r.status_code == 201 and r.json()["applicant"]["credit_code"] == ENT
    app_id = r.json()["id"]
    assert world.decide(app_id, user="changge_zone").status_code == 404
    assert world.decide(app_id, user="ent2", decision="withdraw", reason="x").status_code == 404
    assert world.decide(app_id, user="tax_city").status_code == 403
    assert world.decide(app_id, user="ent", decision="reject", reason="x").status_code == 403
    _refused(world, world.decide(app_id, decision="reject"), "须说明原因", field="reason")
    r = world.api.post(f"/api/split-applications/{app_id}/decision", headers=world.h("weidu_zone"),
                       json={"decision": "approve"})
    assert r.status_code == 428
    # the applicant withdraws it; then it cannot be approved
    r = world.decide(app_id, user="ent", decision="撤回", reason="改为整体转让")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn" and r.json()["decision_reason"] == "改为整体转让"
    _refused(world, world.decide(app_id), "申请已撤回，不能再批准")


def test_a_rejection_changes_only_the_application(world):
    r = world.submit()
    app_id = r.json()["id"]
    counts, logs, states = world.snapshot()
    r = world.decide(app_id, decision="reject", reason="分割后不能满足规划要求", user="weidu_admin")
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["decided_by"] == "weidu_admin"
    assert world.snapshot()[0] == counts and world.snapshot()[2] == states


def test_an_approval_losing_the_race_for_the_new_codes_is_a_409_and_writes_nothing(world, monkeypatch):
    """Two approvals in one 地籍子区 at once both compute the same next free 宗地代码 and both find it
    free; the database's unique code lets one commit. Here the other approval committed between
    this one's check and its write: the first code handed out exists (the parent's own, to be
    sure) and the check, having run "before", saw none."""
    from landcycle.services import registry, split_applications

    app_id = world.submit(docs=CHECKLIST).json()["id"]
    before = world.snapshot()
    real = split_applications.next_child_codes
    monkeypatch.setattr(split_applications, "next_child_codes", lambda s, code, n: [BIG, *real(s, code, n)[1:]])
    monkeypatch.setattr(registry, "_existing_codes", lambda s, codes: set())
    r = world.decide(app_id)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "concurrent_write" and "新宗地代码已被同时办理的另一项业务占用" in body["message"]
    assert world.snapshot() == before
    monkeypatch.undo()
    assert world.decide(app_id).status_code == 200  # asked again, it goes through


# =========================================================================== the command line

# The command line is a face over services the API tests exercise on both backends: SQLite only.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_cli_submits_from_a_gis_file_shows_and_decides(world, tmp_path):
    import json

    import numpy as np
    import pyogrio.raw

    url = world.db.url
    west, east = cut(world.geometry(BIG), 1 / 3)
    gpkg = tmp_path / "pieces.gpkg"
    pyogrio.raw.write(gpkg, shapely.to_wkb(np.array([west, east], dtype=object)),
                      [np.array(["", "许昌受让测试有限公司"], dtype=object), np.array(["", ENT2], dtype=object)],
                      ["受让人", "统一社会信用代码"], geometry_type="Polygon", crs="EPSG:4490", driver="GPKG")
    args = ["--applicant", ENT, "--price", "2000"] + [
        a for k in CHECKLIST if k != APPROVAL for a in ("--document", f"{k}={k}|许测〔2026〕1号|2026-11-30")]
    out = run_cli(url, "split", "submit", BIG, "--pieces", str(gpkg), *args).stdout
    assert "已受理" in out and "符合条件但申请材料不全" in out and APPROVAL in out
    app_id = int(out.split("分割转让申请 ")[1].split("。")[0])
    shown = json.loads(run_cli(url, "split", "show", str(app_id), "--json").stdout)
    assert [p["transferee_credit_code"] for p in shown["pieces"]] == [None, ENT2]
    # refused: nothing changed, a message and exit 2, never a traceback
    before = world.snapshot()
    proc = run_cli(url, "split", "decide", str(app_id), "approve", check=False)
    assert proc.exit_code == 2 and "缺少“分割转让批准意见”" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(west)}]}), encoding="utf-8")
    proc = run_cli(url, "split", "submit", BIG, "--pieces", str(bad), *args, check=False)
    assert proc.exit_code == 2 and "各块应覆盖整宗地" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(url, "split", "submit", BIG, "--pieces", str(tmp_path / "none.gpkg"), *args, check=False)
    assert proc.exit_code == 2 and "文件不存在" in proc.stderr and "Traceback" not in proc.stderr
    assert world.snapshot() == before
    out = run_cli(url, "split", "decide", str(app_id), "批准", "--actor", "张三",
                  "--document", f"{APPROVAL}=同意分割的意见|魏集管〔2026〕9号|2026-12-01").stdout
    assert "已批准" in out and "新宗地 411002001001GB00204" in out and "分割/转让" in out
    listing = run_cli(url, "split", "list", BIG).stdout
    assert "已批准" in listing and "分割为：411002001001GB00204" in listing


def test_allocated_land_is_approved_by_the_government_not_the_zone(world, db):
    v = world.api.get(f"/api/parcels/{BIG}", headers=world.h("city")).headers["etag"].strip('"')
    registry.update_parcel(db, BIG, {"supply_method": "划拨"}, int(v), actor="测试")
    r = world.submit()
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["verdict"]["figures"]["government_approval_required"]
    assert any("经有批准权的人民政府批准" in x for x in app["verdict"]["reasons"])
    before = world.snapshot()
    r = world.decide(app["id"], user="weidu_zone")
    assert r.status_code == 403 and "000:1206" in r.json()["message"]
    assert world.snapshot()[0] == before[0]
    r = world.decide(app["id"], user="weidu_admin")
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    assert {c["supply_method"] for c in r.json()["children"]} == {"allocation"}
