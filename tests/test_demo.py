"""The demo data generator (services/demo.py) on SQLite: determinism, coverage, consistency."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select

from landcycle.domain.errors import ValidationFailed
from landcycle.domain.identifiers import normalise_credit_code, parse_parcel_code
from landcycle.domain.units import M2_PER_MU
from landcycle.domain.vocabulary import InefficiencyCategory, LandState
from landcycle.services import demo
from landcycle.services.demo import DEMO_AS_OF, DemoResult, generate_demo
from landcycle.storage.db import Database
from landcycle.storage.schema import (
    ChangeLog,
    Enterprise,
    EnterpriseFigure,
    Jurisdiction,
    Occupancy,
    Parcel,
    ParcelDevelopment,
    PerformanceAgreement,
    SupplyContract,
)

ONE_YEAR = timedelta(days=365)


def _new_db(path) -> Database:
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    return db


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One default demo, read back once for the read-only checks below."""
    db = _new_db(tmp_path_factory.mktemp("demo") / "t.db")
    result = generate_demo(db)
    with db.reader() as s:
        data = {
            "result": result,
            "parcels": s.scalars(select(Parcel).order_by(Parcel.id)).all(),
            "zones": {j.id: j for j in s.scalars(select(Jurisdiction))},
            "enterprises": {e.id: e for e in s.scalars(select(Enterprise))},
            "occupancies": s.scalars(select(Occupancy)).all(),
            "contracts": {c.parcel_id: c for c in s.scalars(select(SupplyContract))},
            "agreements": {a.parcel_id: a for a in s.scalars(select(PerformanceAgreement))},
            "developments": {d.parcel_id: d for d in s.scalars(select(ParcelDevelopment))},
            "log": s.execute(select(ChangeLog.entity, ChangeLog.action, ChangeLog.actor, ChangeLog.reason,
                                    func.count()).group_by(ChangeLog.entity, ChangeLog.action,
                                                           ChangeLog.actor, ChangeLog.reason)).all(),
        }
        figures = defaultdict(dict)
        for f in s.scalars(select(EnterpriseFigure)):
            figures[f.enterprise_id][(f.year, f.indicator)] = f.value
        data["figures"] = figures
        s.expunge_all()  # keep the loaded objects usable after the reader rolls back
    yield data
    db.dispose()


def _by_category(world, cat: InefficiencyCategory):
    return [p for p in world["parcels"] if cat.value in p.inefficiency_categories]


def _owner(world, parcel_id):
    return next(o.enterprise_id for o in world["occupancies"]
                if o.parcel_id == parcel_id and o.role == "owner" and o.end_date is None)


# ----------------------------------------------------------------------------- basics
def test_default_demo_counts_and_audit_trail(world):
    r: DemoResult = world["result"]
    assert r.parcels == len(world["parcels"]) == demo.DEFAULT_PARCELS
    assert r.enterprises == len(world["enterprises"]) == round(0.8 * r.parcels)
    assert r.contracts == len(world["contracts"]) == len(world["agreements"]) == len(world["developments"])
    assert r.occupancies == len(world["occupancies"])
    assert r.figures == sum(len(v) for v in world["figures"].values()) > 0
    assert all(p.is_synthetic for p in world["parcels"])
    assert all(e.is_synthetic and e.name.endswith("（演示）") for e in world["enterprises"].values())
    log = {(entity, action): n for entity, action, actor, reason, n in world["log"]
           if actor == "demo" and reason == "生成演示数据（合成）"}
    assert log[("parcels", "create")] == r.parcels
    assert log[("enterprises", "create")] == r.enterprises
    assert log[("occupancies", "create")] == r.occupancies
    assert log[("supply_contracts", "create")] == r.contracts
    assert log[("performance_agreements", "create")] == r.contracts
    assert log[("parcel_developments", "create")] == r.contracts
    assert sum(log.values()) == r.change_log_rows


def test_sizes_are_realistic(world):
    mu = np.array([p.area_mu for p in world["parcels"]])
    assert mu.min() >= 9.9 and mu.max() <= 150.1
    assert 0.55 <= np.mean((mu >= 20) & (mu <= 60)) <= 0.85
    for p in world["parcels"][:50]:
        assert p.area_mu == pytest.approx(p.area_m2 / M2_PER_MU, rel=1e-4)
        assert p.gk_epsg == 4547
        assert p.min_lon < p.max_lon and p.min_lat < p.max_lat


def test_default_demo_is_deterministic(tmp_path, world):
    db = _new_db(tmp_path / "again.db")
    generate_demo(db)
    with db.reader() as s:
        again = s.execute(select(Parcel.code, Parcel.area_m2, Parcel.state).order_by(Parcel.id)).all()
        names = s.scalars(select(Enterprise.name).order_by(Enterprise.id)).all()
    db.dispose()
    assert [tuple(r) for r in again] == [(p.code, p.area_m2, p.state) for p in world["parcels"]]
    assert names == [world["enterprises"][k].name for k in sorted(world["enterprises"])]


# ----------------------------------------------------------------------------- coverage
def test_every_state_and_every_category_appear(world):
    states = {p.state for p in world["parcels"]}
    assert states == {s.value for s in LandState}
    for cat in InefficiencyCategory:
        found = _by_category(world, cat)
        assert len(found) >= 2, cat
        assert all(p.state == LandState.INEFFICIENT.value for p in found)
    assert all(p.inefficiency_categories for p in world["parcels"] if p.state == "inefficient")


# ----------------------------------------------------------------------------- geometry and codes
def test_parcels_inside_their_zone_zone_inside_county_no_overlaps(world):
    zones = world["zones"]
    parcels = world["parcels"]
    geoms = np.array([p.geometry for p in parcels], dtype=object)
    assert shapely.is_valid(geoms).all()
    assert all(g.geom_type == "MultiPolygon" for g in geoms)
    for zone_id in {p.zone_id for p in parcels}:
        zone = zones[zone_id]
        county = zones[zone.territory_county_id]
        assert zone.kind == "zone" and county.kind == "county"
        assert county.geometry.contains(zone.geometry)
        mine = [i for i, p in enumerate(parcels) if p.zone_id == zone_id]
        assert shapely.contains(zone.geometry, geoms[mine]).all()
        assert all(parcels[i].county_id == county.id for i in mine)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    assert np.all(left == right), "parcels overlap or touch"


def test_parcel_codes_and_credit_codes_are_valid_and_unique(world):
    zones = world["zones"]
    codes = [p.code for p in world["parcels"]]
    assert len(set(codes)) == len(codes)
    for p in world["parcels"]:
        parts = parse_parcel_code(p.code)
        assert parts["feature"] == "GB"
        assert p.code.startswith(zones[p.county_id].code)
    credit = [e.credit_code for e in world["enterprises"].values()]
    assert len(set(credit)) == len(credit)
    for e in world["enterprises"].values():
        assert normalise_credit_code(e.credit_code) == e.credit_code
        assert e.credit_code[2:8] == zones[e.county_id].code
        assert e.industry_code and e.industry_code[0] in "CK" and len(e.industry_code) == 5


def test_occupancies_contracts_and_supply_facts(world):
    parcels = {p.id: p for p in world["parcels"]}
    tenants = defaultdict(float)
    owners = defaultdict(list)
    for o in world["occupancies"]:
        assert 0 < o.area_m2 <= parcels[o.parcel_id].area_m2 + 0.01
        assert o.end_date is None or o.end_date >= o.start_date
        if o.role == "tenant":
            tenants[o.parcel_id] += o.area_m2
        else:
            owners[o.parcel_id].append(o)
    for pid, area in tenants.items():
        assert area <= parcels[pid].area_m2
    assert any(p.is_standard_factory for p in parcels.values())
    for pid in {pid for pid in tenants if parcels[pid].is_standard_factory}:
        assert 2 <= sum(o.parcel_id == pid and o.role == "tenant" for o in world["occupancies"]) <= 5
    unsupplied = {"reserve", "approved_unsupplied", "listed"}
    for p in parcels.values():
        if p.state in unsupplied:
            assert p.land_source and p.id not in world["contracts"] and p.id not in owners
            continue
        c, a = world["contracts"][p.id], world["agreements"][p.id]
        assert owners[p.id], p.code
        assert (p.supply_method, p.supply_date, p.term_years, p.price_wan) == (
            c.supply_method, c.signed_date, c.term_years, c.price_wan)
        assert c.contract_no.startswith("演示-")
        assert a.contract_id == c.id and a.agreed_start_date == c.agreed_start_date
        assert 15 <= c.price_wan / p.area_mu <= 30.01
        assert a.performance_guarantee_wan == pytest.approx(0.1 * c.price_wan, abs=0.01)
        assert 200 <= a.investment_intensity_wan_per_mu <= 400
        current = [o for o in owners[p.id] if o.end_date is None]
        assert len(current) == (0 if p.state == "reclaimed" else 1)


def test_development_matches_state(world):
    contracts, devs = world["contracts"], world["developments"]
    for p in world["parcels"]:
        if p.state in ("reserve", "approved_unsupplied", "listed"):
            assert p.id not in devs
            continue
        c, d = contracts[p.id], devs[p.id]
        assert c.signed_date < DEMO_AS_OF and c.agreed_start_date < c.agreed_completion_date
        if p.state == "supplied":
            assert d.actual_start_date is None and c.agreed_start_date > DEMO_AS_OF - ONE_YEAR
        elif p.state == "under_construction":
            assert d.actual_start_date <= DEMO_AS_OF and d.completion_result == "pending"
            assert 0 < d.developed_area_m2 < p.area_m2 and d.stopped_since is None
        elif p.state == "completed":
            assert (d.completion_result, d.production_result) == ("passed", "pending")
            assert d.completion_date <= DEMO_AS_OF
        elif p.state in ("in_production", "operating", "split_transferred"):
            assert (d.completion_result, d.production_result) == ("passed", "passed")
            assert d.actual_start_date < d.completion_date < d.production_date <= DEMO_AS_OF
            assert d.floor_area_m2 / p.area_m2 >= world["agreements"][p.id].plot_ratio - 1e-6
        elif p.state in ("disposing", "reclaimed"):
            assert d.actual_start_date is None and c.agreed_start_date <= DEMO_AS_OF - 2 * ONE_YEAR
        elif p.state == "rectifying":
            failed_on = d.completion_date if d.completion_result == "failed" else d.production_date
            assert DEMO_AS_OF - 2 * ONE_YEAR <= failed_on <= DEMO_AS_OF
    split = [p.id for p in world["parcels"] if p.state == "split_transferred"]
    for pid in split:  # the original 受让人 handed over to a new owner
        owners = sorted((o for o in world["occupancies"] if o.parcel_id == pid and o.role == "owner"),
                        key=lambda o: o.start_date)
        assert len(owners) == 2 and owners[0].end_date == owners[1].start_date
        assert owners[0].enterprise_id == contracts[pid].enterprise_id != owners[1].enterprise_id


def test_another_seed_gives_another_world(tmp_path, world):
    db = _new_db(tmp_path / "t.db")
    generate_demo(db, seed=7)
    with db.reader() as s:
        areas = s.scalars(select(Parcel.area_m2).order_by(Parcel.id)).all()
    db.dispose()
    assert len(areas) == 600 and areas != [p.area_m2 for p in world["parcels"]]


# ----------------------------------------------------------------------------- R3 / R4 facts
def test_idle_parcels_satisfy_r3(world):
    idle = [p for p in world["parcels"] if p.state == "idle"]
    over_two_years = 0
    for p in idle:
        c, d = world["contracts"][p.id], world["developments"][p.id]
        assert c.agreed_start_date <= DEMO_AS_OF - ONE_YEAR
        if d.actual_start_date is None:
            over_two_years += c.agreed_start_date <= DEMO_AS_OF - 2 * ONE_YEAR
        else:  # started, but too little done, and stopped for a full year
            assert (d.developed_area_m2 < p.area_m2 / 3) or (d.investment_done_wan < 0.25 * d.investment_total_wan)
            assert d.stopped_since is not None and d.stopped_since <= DEMO_AS_OF - ONE_YEAR
    assert over_two_years >= 1
    assert any(world["developments"][p.id].actual_start_date is not None for p in idle)


def test_construction_stalled_satisfies_r4(world):
    for p in _by_category(world, InefficiencyCategory.CONSTRUCTION_STALLED):
        d = world["developments"][p.id]
        assert d.actual_start_date is not None
        assert d.developed_area_m2 > p.area_m2 / 3
        assert d.investment_done_wan > 0.25 * d.investment_total_wan
        assert d.stopped_since <= DEMO_AS_OF - ONE_YEAR
        assert d.completion_result == "pending"


def test_other_categories_have_their_facts(world):
    figures = world["figures"]
    for p in _by_category(world, InefficiencyCategory.PRODUCTION_HALTED):
        assert world["developments"][p.id].completion_result == "passed"
        f = figures[_owner(world, p.id)]
        assert f[(2019, "profit")] <= 0 and f[(2020, "profit")] <= 0
    for p in _by_category(world, InefficiencyCategory.OUTPUT_SHORTFALL):
        assert world["developments"][p.id].production_result == "passed"
        f = figures[_owner(world, p.id)]
        assert f[(2020, "tax_paid")] / p.area_mu < 5  # far below every zone's 亩均税收 target
    for p in _by_category(world, InefficiencyCategory.INDUSTRY_TRANSFORMATION):
        assert world["enterprises"][_owner(world, p.id)].industry_code in demo.OBSOLETE_INDUSTRY_CODES
    for p in _by_category(world, InefficiencyCategory.BELOW_CONTRACT):
        a, d = world["agreements"][p.id], world["developments"][p.id]
        assert d.production_result == "passed"
        misses = [d.floor_area_m2 / p.area_m2 < a.plot_ratio,
                  d.footprint_m2 / p.area_m2 < a.building_density,
                  d.coverage_area_m2 / p.area_m2 < a.building_coverage,
                  d.green_area_m2 / p.area_m2 > a.green_ratio,
                  d.office_living_area_m2 / p.area_m2 > a.office_living_ratio,
                  d.investment_done_wan / p.area_mu < a.investment_intensity_wan_per_mu]
        assert any(misses), p.code
    for p in _by_category(world, InefficiencyCategory.OTHER):
        assert p.land_source == "inefficient"
    for p in world["parcels"]:
        if p.state == "rectifying":
            d = world["developments"][p.id]
            assert "failed" in (d.completion_result, d.production_result)


def test_figures_are_complete_and_plausible(world):
    for eid, f in world["figures"].items():
        years = {y for y, _ in f}
        assert years <= {2018, 2019, 2020}
        for y in years:
            assert len([k for k in f if k[0] == y]) == 10
            assert f[(y, "industrial_output")] > f[(y, "value_added")] > abs(f[(y, "profit")])
            assert f[(y, "tax_refunded")] < f[(y, "tax_paid")]
            assert f[(y, "employees")] >= 3


# ----------------------------------------------------------------------------- behaviour
def test_refuses_twice_and_replaces(tmp_path):
    db = _new_db(tmp_path / "t.db")
    first = generate_demo(db, scale=300)
    with pytest.raises(ValidationFailed) as exc:
        generate_demo(db, scale=300)
    assert exc.value.problems[0].code == "not_empty" and "替换" in exc.value.problems[0].message
    second = generate_demo(db, scale=300, replace=True)
    assert second.replaced_parcels == 300
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(Parcel)) == 300
        assert s.scalar(select(func.count()).select_from(Enterprise)) == second.enterprises
        deletes = s.scalar(select(func.count()).select_from(ChangeLog).where(
            ChangeLog.action == "delete", ChangeLog.entity == "parcels"))
        creates = s.scalar(select(func.count()).select_from(ChangeLog).where(
            ChangeLog.action == "create", ChangeLog.entity == "parcels"))
        new_ids = set(s.scalars(select(Parcel.id)))
        old_ids = set(s.scalars(select(ChangeLog.entity_id).where(
            ChangeLog.entity == "parcels", ChangeLog.action == "delete")))
    assert deletes == 300 and creates == 600  # the old history stays on file
    assert not new_ids & old_ids  # new parcels never reuse an archived id
    assert first.parcels == second.parcels
    db.dispose()


def test_failure_half_way_leaves_nothing(tmp_path, monkeypatch):
    db = _new_db(tmp_path / "t.db")
    monkeypatch.setattr(demo, "CHUNK_ROWS", 500)
    calls = []

    def progress(stage, done, total):
        calls.append((stage, done))
        if stage == "生成企业" and done > 0:
            raise RuntimeError("injected failure after the first chunk")

    with pytest.raises(RuntimeError):
        generate_demo(db, scale=2000, progress=progress)
    assert ("生成宗地", 2000) in calls and ("生成宗地", 500) in calls
    with db.reader() as s:
        for table in (Parcel, Enterprise, ChangeLog):
            n = s.scalar(select(func.count()).select_from(table).where(
                ChangeLog.actor == "demo" if table is ChangeLog else True))
            assert n == 0, table
    db.dispose()


def test_scale_gives_exactly_n_parcels(tmp_path):
    db = _new_db(tmp_path / "t.db")
    seen = []
    r = generate_demo(db, scale=2000, progress=lambda stage, done, total: seen.append(stage))
    assert r.parcels == 2000 and 1500 <= r.enterprises <= 1700
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(Parcel)) == 2000
        assert s.scalar(select(func.count(func.distinct(Parcel.code)))) == 2000
    assert {"生成宗地", "生成企业", "生成企业年度数据"} <= set(seen)
    db.dispose()


@pytest.mark.parametrize("scale", [0, -1, 10**7, 2.5, "100"])
def test_rejects_bad_scale(tmp_path, scale):
    db = _new_db(tmp_path / "t.db")
    with pytest.raises(ValidationFailed) as exc:
        generate_demo(db, scale=scale)
    assert exc.value.problems[0].field == "scale"
    db.dispose()


def test_small_scales_work(tmp_path):
    db = _new_db(tmp_path / "t.db")
    r = generate_demo(db, scale=7)
    assert r.parcels == 7
    db.dispose()


def test_demo_on_each_backend(db):
    """The shared fixture runs this on SQLite and, when configured, on PostgreSQL/PostGIS."""
    r = generate_demo(db, scale=300)
    assert r.parcels == 300
    with db.reader() as s:
        geoms = s.scalars(select(Parcel.geometry)).all()
        zones = {j.id: j.geometry for j in s.scalars(select(Jurisdiction).where(Jurisdiction.kind == "zone"))}
        zone_of = s.scalars(select(Parcel.zone_id)).all()
        assert s.scalar(select(func.count()).select_from(EnterpriseFigure)) == r.figures
    assert all(g.geom_type == "MultiPolygon" and g.is_valid for g in geoms)
    assert all(zones[z].contains(g) for z, g in zip(zone_of, geoms))
    with pytest.raises(ValidationFailed):
        generate_demo(db, scale=300)


def test_replacing_refuses_when_workflow_records_stand_on_demo_parcels(db):
    """Steps taken on demo parcels are append-only: replacing the demo would have to delete
    them, so it is refused with the reason, and nothing is deleted (both backends)."""
    from landcycle.storage.lifecycle_schema import ParcelTransition

    generate_demo(db, scale=50)
    with db.transaction("测试") as s:
        p = s.scalars(select(Parcel).order_by(Parcel.id)).first()
        s.add(ParcelTransition(parcel_id=p.id, transition="find_idle", from_state=p.state, to_state="idle",
                               actor="测试", documents=[], parcel_version=p.version, rulebook_version="t"))
    with pytest.raises(ValidationFailed) as exc:
        generate_demo(db, scale=50, replace=True)
    problem = exc.value.problems[0]
    assert problem.code == "append_only_records" and "生命周期流转 1 条" in problem.message
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(Parcel)) == 50
        assert s.scalar(select(func.count()).select_from(ParcelTransition)) == 1


# --------------------------------------------------------------------------- the 百园增效 year
def _year_facts(db) -> tuple:
    """What the demo year decided, by parcel code (ids may differ between databases)."""
    from landcycle.storage.disposal_schema import DisposalEntry, DisposalReport
    from landcycle.storage.oversight_schema import OversightCase

    with db.reader() as s:
        entries = sorted(s.execute(select(Parcel.code, DisposalEntry.category, DisposalEntry.measure,
                                          DisposalEntry.outcome, DisposalEntry.closed_on, DisposalEntry.due_date)
                                   .join(Parcel, Parcel.id == DisposalEntry.parcel_id)).all())
        reports = s.scalar(select(func.count()).select_from(DisposalReport))
        cases = sorted(s.execute(select(Parcel.code, OversightCase.listed_on, OversightCase.status)
                                 .join(Parcel, Parcel.id == OversightCase.parcel_id)).all())
    return entries, reports, cases


def test_the_demo_year_is_deterministic_plausible_and_played_once(tmp_path):
    from landcycle.services import evaluation

    facts = []
    for name in ("a", "b"):
        db = _new_db(tmp_path / name)
        generate_demo(db, scale=300, seed=5)
        run = evaluation.evaluate(db, demo.DEMO_EVALUATION_YEAR, actor="test")
        r = demo.generate_demo_year(db, run.run_id, seed=5)
        facts.append(_year_facts(db))
        if name == "a":
            with pytest.raises(ValidationFailed) as exc:  # a second year would reopen closed parcels
                demo.generate_demo_year(db, run.run_id, seed=5)
            assert exc.value.problems[0].code == "year_present"
            assert _year_facts(db) == facts[0]
            with pytest.raises(ValidationFailed) as exc:  # its reports are append-only
                generate_demo(db, scale=300, replace=True)
            assert exc.value.problems[0].code == "append_only_records"
        db.dispose()
    assert facts[0] == facts[1]
    entries, reports, cases = facts[0]
    assert r.plans == 2 and r.plan_tasks == 27 + 25 and r.entries == len(entries) and r.reports == reports
    closed = [e for e in entries if e.outcome]
    assert r.closed == len(closed) and 0 < len(closed) < len(entries)
    assert all(demo.DEMO_LEDGER_OPENED < e.closed_on <= DEMO_AS_OF.replace(month=12, day=31) for e in closed)
    assert all(e.measure and e.due_date for e in entries)  # every entry has its 一宗一策 plan
    assert r.cases == len(cases) and r.lifted == sum(c.status == "lifted" for c in cases) and r.agreements == 1


def test_the_demo_year_on_a_tiny_world(tmp_path):
    from landcycle.services import evaluation

    db = _new_db(tmp_path / "t.db")
    generate_demo(db, scale=7)
    run = evaluation.evaluate(db, demo.DEMO_EVALUATION_YEAR, actor="test")
    r = demo.generate_demo_year(db, run.run_id)
    assert r.plans == 2 and r.entries == len(_year_facts(db)[0]) and r.cases <= 10
    db.dispose()
