"""The annual evaluation (`landcycle evaluate --year Y`): vectorised rules equal the scalar checks,
and on the demo world every known fact comes out; runs are reproducible, versioned and atomic."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from landcycle.domain.rules import evaluation as ev
from landcycle.domain.rules.idle import IdleCase, check_idle
from landcycle.domain.rules.idle import full_years as scalar_full_years
from landcycle.domain.rules.low_efficiency import LowEfficiencyCase, check_low_efficiency
from landcycle.domain.rules.mu_average import MuAverageCase, check_mu_average
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.domain.vocabulary import InefficiencyCategory as Cat
from landcycle.services import evaluation as service
from landcycle.services.demo import generate_demo
from landcycle.services.rules import load_rulebook
from landcycle.storage.evaluation_schema import EnterpriseEvaluation, EvaluationRun, ParcelEvaluation
from landcycle.storage.schema import (
    Enterprise,
    EnterpriseFigure,
    Occupancy,
    Parcel,
    ParcelDevelopment,
    SupplyContract,
)

RB = load_rulebook()
YEAR = 2020
AS_OF = date(YEAR, 12, 31)
NAT = np.datetime64("NaT", "D")


def _d(values):
    return np.array([np.datetime64(v, "D") if v is not None else NAT for v in values], dtype="datetime64[D]")


def _rand_date(rng, lo=date(2014, 1, 1), span=2900):
    d = lo + timedelta(days=int(rng.integers(0, span)))
    if rng.random() < 0.05:  # leap-day starts
        d = date(int(rng.choice([2016, 2020])), 2, 29)
    return d


# =========================================================================== pure: equal to the scalar checks
def test_full_years_equals_scalar():
    rng = np.random.default_rng(1)
    starts = [_rand_date(rng) for _ in range(3000)] + [date(2016, 2, 29)] * 4
    ends = [_rand_date(rng) for _ in range(3000)] + [date(2017, 2, 27), date(2017, 2, 28), date(2020, 2, 28),
                                                     date(2020, 2, 29)]
    got = ev.full_years(_d(starts), _d(ends))
    assert got.tolist() == [scalar_full_years(s, e) for s, e in zip(starts, ends)]


def test_idle_vectorised_equals_check_idle():
    rng = np.random.default_rng(2)
    cases = []
    for _ in range(3000):
        agreed = _rand_date(rng)
        started = rng.random() < 0.5
        cases.append(IdleCase(
            agreed_start_date=agreed, as_of=AS_OF,
            actual_start_date=_rand_date(rng) if started else None,
            developed_area_ratio=None if rng.random() < 0.1 else float(rng.choice([1 / 3, 0.25, rng.random()])),
            investment_ratio=None if rng.random() < 0.1 else float(rng.choice([0.25, rng.random()])),
            stopped_since=_rand_date(rng) if rng.random() < 0.6 else None,
            government_caused=bool(rng.random() < 0.1),
            land_price_wan=None if rng.random() < 0.1 else float(rng.uniform(100, 3000))))
    out = ev.idle_outcomes(
        RB.section("idle"), np.datetime64(AS_OF), np.ones(len(cases), bool),
        _d([c.agreed_start_date for c in cases]), _d([c.actual_start_date for c in cases]),
        np.array([np.nan if c.developed_area_ratio is None else c.developed_area_ratio for c in cases]),
        np.array([np.nan if c.investment_ratio is None else c.investment_ratio for c in cases]),
        _d([c.stopped_since for c in cases]), np.array([c.government_caused for c in cases]),
        np.array([np.nan if c.land_price_wan is None else c.land_price_wan for c in cases]))
    for i, c in enumerate(cases):
        v = check_idle(c, RB)
        assert ev.IDLE_CODES[out["code"][i]] == v.outcome, (c, v.reasons)
        if v.outcome == "idle_fee" and v.figures.get("idle_fee_wan") is not None:
            assert out["fee_wan"][i] == pytest.approx(v.figures["idle_fee_wan"])
        if "delay_years" in v.figures and v.outcome != "not_yet_due":
            assert out["years"][i] == v.figures["delay_years"]


def test_low_efficiency_vectorised_equals_check_low_efficiency():
    rng = np.random.default_rng(3)
    rules = RB.section("low_efficiency")
    codes = ["C2211", "C3011", "C3411", None, "C2770"]
    cases = []
    for _ in range(3000):
        committed = {k: float(rng.uniform(0.1, 2)) for k in ev.INDICATORS if rng.random() < 0.7}
        actual = {k: (v if rng.random() < 0.2 else float(v * rng.uniform(0.7, 1.3)))
                  for k, v in committed.items() if rng.random() < 0.9}
        other = bool(rng.random() < 0.1)
        cases.append(LowEfficiencyCase(
            industry_code=codes[int(rng.integers(0, len(codes)))], started=bool(rng.random() < 0.7),
            developed_area_ratio=None if rng.random() < 0.1 else float(rng.choice([1 / 3, rng.random()])),
            investment_ratio=None if rng.random() < 0.1 else float(rng.choice([0.25, rng.random()])),
            idle=bool(rng.random() < 0.2), completed=bool(rng.random() < 0.6), producing=bool(rng.random() < 0.6),
            contract_indicators=committed, actual_indicators=actual,
            years_without_profit=None if rng.random() < 0.3 else float(rng.integers(0, 4)),
            enterprise_class=[None, "A", "B", "C"][int(rng.integers(0, 4))],
            designated_other=other, designation_reason="领导小组认定" if other else None))
    n = len(cases)
    arr = lambda f: np.array([f(c) for c in cases])  # noqa: E731
    out = ev.low_efficiency_masks(
        rules, ev.obsolete_industries(np.array([c.industry_code for c in cases], dtype=object),
                                      rules["obsolete_industry_codes"]),
        np.zeros(n, bool), np.zeros(n, bool), arr(lambda c: c.started),
        arr(lambda c: np.nan if c.developed_area_ratio is None else c.developed_area_ratio),
        arr(lambda c: np.nan if c.investment_ratio is None else c.investment_ratio),
        arr(lambda c: c.idle), arr(lambda c: c.completed), arr(lambda c: c.producing),
        {k: arr(lambda c: c.contract_indicators.get(k, np.nan)) for k in ev.INDICATORS},
        {k: arr(lambda c: c.actual_indicators.get(k, np.nan)) for k in ev.INDICATORS},
        arr(lambda c: np.nan if c.years_without_profit is None else c.years_without_profit),
        np.array([c.enterprise_class for c in cases], dtype=object), arr(lambda c: c.designated_other))
    for i, c in enumerate(cases):
        v = check_low_efficiency(c, RB)
        got = [cat.value for cat, bit in ev.CATEGORY_BITS.items() if out["mask"][i] & bit]
        assert sorted(got) == sorted(v.figures["categories"]), (c, v.reasons)
        unchecked = [k for j, k in enumerate(ev.INDICATORS) if out["unchecked_mask"][i] & (1 << j)]
        if out["unchecked_mask"][i] & ev.UNCHECKED_STALLED_BIT:
            unchecked.append(Cat.CONSTRUCTION_STALLED.value)
        assert sorted(unchecked) == sorted(v.figures["unchecked"])


def _inputs(n_parcels, occ, figures, sf=None, area_mu=None):
    """Minimal EvaluationInputs: ``occ`` = [(parcel, enterprise, owner, area_m2)]."""
    P, E = n_parcels, len(figures["tax_paid"])
    nan, nat = np.full(P, np.nan), np.full(P, NAT)
    area_mu = np.asarray(area_mu if area_mu is not None else np.full(P, 30.0))
    f = {k: np.full(E, np.nan) for k in ev.FIGURES}
    f.update({k: np.asarray(v, dtype=float) for k, v in figures.items()})
    return ev.EvaluationInputs(
        year=YEAR, parcel_id=np.arange(1, P + 1), area_mu=area_mu, area_m2=area_mu * 10000 / 15,
        zone_id=np.full(P, -1), standard_factory=np.asarray(sf if sf is not None else np.zeros(P, bool)),
        designated_other=np.zeros(P, bool), signed_date=nat, agreed_start=nat, agreed_completion=nat, price_wan=nan,
        committed={k: nan for k in ev.INDICATORS}, actual_start=nat, stopped_since=nat, developed_area_m2=nan,
        investment_done_wan=nan, investment_total_wan=nan, completion_passed=np.zeros(P, bool), completion_date=nat,
        production_passed=np.zeros(P, bool), production_date=nat, floor_area_m2=nan, footprint_m2=nan,
        coverage_area_m2=nan, green_area_m2=nan, office_living_area_m2=nan,
        enterprise_id=np.arange(1, E + 1), industry_code=np.full(E, "C3411", dtype=object),
        above_scale=np.ones(E, bool), figures=f, profit_history=np.full((E, 3), np.nan),
        occ_id=np.arange(1, len(occ) + 1), occ_parcel=np.array([o[0] for o in occ]),
        occ_enterprise=np.array([o[1] for o in occ]), occ_owner=np.array([o[2] for o in occ]),
        occ_area_m2=np.array([float(o[3]) for o in occ]), occ_start=np.full(len(occ), np.datetime64("2015-01-01")),
        occ_end=np.full(len(occ), NAT, dtype="datetime64[D]"))


def test_r1_per_parcel_equals_check_mu_average():
    rng = np.random.default_rng(4)
    for _ in range(200):
        k = int(rng.integers(0, 4))
        sf = bool(rng.random() < 0.4)
        area = float(rng.uniform(5, 120))
        tax, ref, out = rng.uniform(0, 500, k + 1), rng.uniform(0, 30, k + 1), rng.uniform(0, 9000, k + 1)
        occ = [(0, 0, True, area * 10000 / 15)] + [(0, i, False, 100.0 * i) for i in range(1, k + 1)]
        res = ev.evaluate(_inputs(1, occ, {"tax_paid": tax, "tax_refunded": ref, "industrial_output": out},
                                  sf=[sf], area_mu=[area]), RB)
        v = check_mu_average(MuAverageCase(
            land_area_mu=area, tax_paid_wan=float(tax[0]), tax_refunded_wan=float(ref[0]),
            industrial_output_wan=float(out[0]), standard_factory=sf,
            tenants=[{"name": f"t{i}", "tax_paid_wan": float(tax[i]), "tax_refunded_wan": float(ref[i]),
                      "industrial_output_wan": float(out[i])} for i in range(1, k + 1)]), RB)
        assert res.parcel["tax_per_mu_wan"][0] == pytest.approx(v.figures["tax_per_mu_wan"], abs=1e-4)
        assert res.parcel["output_per_mu_wan"][0] == pytest.approx(v.figures["output_per_mu_wan"], abs=1e-4)
        assert res.parcel["tenants"][0] == k


def test_r2_groups_banded_separately_and_not_evaluated_listed():
    # 10 規上 + 10 規下 owners of one parcel each, one utility (D44) not evaluated.
    n = 21
    occ = [(i, i, True, 20000.0) for i in range(n)]
    inp = _inputs(n, occ, {"tax_paid": np.arange(1, n + 1) * 10.0, "tax_refunded": np.zeros(n)})
    inp.above_scale = np.array([i < 10 for i in range(n)])
    inp.industry_code = np.array(["C3411"] * 20 + ["D4411"], dtype=object)
    inp.completion_passed[:] = True
    inp.completion_date[:] = np.datetime64("2010-01-01")
    res = ev.evaluate(inp, RB).enterprise
    assert not res["evaluated"][20] and "公用事业" in res["not_evaluated_reason"][20]
    assert np.isnan(res["score"][20]) and res["class"][20] is None
    for grp in (slice(0, 10), slice(10, 20)):
        assert sorted(res["class"][grp].tolist()) == ["A", "A"] + ["B"] * 6 + ["C", "C"]


# =========================================================================== on the demo world, both backends
def _scalar_idle(s, pid):
    """check_idle from the stored facts of one parcel (the oracle)."""
    c = s.execute(select(SupplyContract).where(SupplyContract.parcel_id == pid)
                  .order_by(SupplyContract.signed_date.desc())).scalars().first()
    d = s.execute(select(ParcelDevelopment).where(ParcelDevelopment.parcel_id == pid)).scalar_one()
    p = s.get(Parcel, pid)
    return check_idle(IdleCase(
        agreed_start_date=c.agreed_start_date, as_of=AS_OF, actual_start_date=d.actual_start_date,
        developed_area_ratio=d.developed_area_m2 / p.area_m2 if d.developed_area_m2 is not None else None,
        investment_ratio=(d.investment_done_wan / d.investment_total_wan
                          if d.investment_done_wan is not None and d.investment_total_wan else None),
        stopped_since=d.stopped_since, land_price_wan=c.price_wan), RB)


def _figure(s, eid, indicator, year=YEAR):
    return s.execute(select(EnterpriseFigure.value).where(
        EnterpriseFigure.enterprise_id == eid, EnterpriseFigure.year == year,
        EnterpriseFigure.indicator == indicator)).scalar()


def _results(s, run_id):
    cols = [c for c in ParcelEvaluation.__table__.c if c.name not in ("id", "run_id")]
    ecols = [c for c in EnterpriseEvaluation.__table__.c if c.name not in ("id", "run_id")]
    pr = s.execute(select(*cols).where(ParcelEvaluation.run_id == run_id).order_by(ParcelEvaluation.parcel_id)).all()
    er = s.execute(select(*ecols).where(EnterpriseEvaluation.run_id == run_id)
                   .order_by(EnterpriseEvaluation.enterprise_id)).all()
    return [tuple(r) for r in pr], [tuple(r) for r in er]


def test_demo_facts_come_out(db):
    generate_demo(db)
    rep = service.evaluate(db, YEAR, actor="test")
    assert rep.parcels == 600 and rep.rulebook_version == RB.label and len(rep.inputs_fingerprint) == 64
    with db.reader() as s:
        rows = {r.parcel_id: r for r in s.execute(select(ParcelEvaluation).where(
            ParcelEvaluation.run_id == rep.run_id)).scalars()}
        ents = {r.enterprise_id: r for r in s.execute(select(EnterpriseEvaluation).where(
            EnterpriseEvaluation.run_id == rep.run_id)).scalars()}
        parcels = s.execute(select(Parcel)).scalars().all()
        assert len(rows) == 600 and len(ents) == rep.enterprises

        # R4: every category on the parcels the demo built for it
        by_cat: dict[str, list[Parcel]] = {}
        for p in parcels:
            for c in p.inefficiency_categories:
                by_cat.setdefault(c, []).append(p)
        assert set(by_cat) == {c.value for c in Cat}
        for cat in (Cat.INDUSTRY_TRANSFORMATION, Cat.CONSTRUCTION_STALLED, Cat.BELOW_CONTRACT, Cat.OTHER):
            for p in by_cat[cat.value]:
                assert rows[p.id].low_efficiency_mask & ev.CATEGORY_BITS[cat], (cat, p.code)
        halted_found = 0
        for p in by_cat[Cat.PRODUCTION_HALTED.value]:
            owner = rows[p.id].owner_enterprise_id
            losses = [_figure(s, owner, "profit", y) for y in (YEAR, YEAR - 1, YEAR - 2)]
            three = all(v is not None and v <= 0 for v in losses)  # "more than 2 years" needs all 3
            assert bool(rows[p.id].low_efficiency_mask & ev.CATEGORY_BITS[Cat.PRODUCTION_HALTED]) == three
            halted_found += three
        assert halted_found >= 1
        shortfall_found = 0
        for p in by_cat[Cat.OUTPUT_SHORTFALL.value]:
            r = rows[p.id]
            hit = bool(r.low_efficiency_mask & ev.CATEGORY_BITS[Cat.OUTPUT_SHORTFALL])
            assert hit == (r.owner_class == "C")
            shortfall_found += hit
        assert shortfall_found >= 1
        # the demo's C firms' parcels: output shortfall only where producing; never on unsupplied land
        for p in parcels:
            if p.state in ("reserve", "approved_unsupplied", "listed"):
                assert rows[p.id].idle_outcome == "not_applicable" and rows[p.id].low_efficiency_mask == 0

        # R3: idle parcels per their delay, equal to check_idle on the stored facts
        outcomes = []
        for p in parcels:
            if p.state == "idle":
                v = _scalar_idle(s, p.id)
                r = rows[p.id]
                assert r.idle_outcome == v.outcome, (p.code, v.reasons)
                if v.outcome == "idle_fee":
                    assert r.idle_fee_wan == pytest.approx(round(p.price_wan * 0.2, 4))
                    assert r.idle_years == 1
                if v.outcome == "reclaim":
                    assert r.idle_years >= 2 and r.idle_fee_wan is None
                outcomes.append(v.outcome)
        assert {"idle_fee", "reclaim"} <= set(outcomes)

        # R1: tenants merged into the landlord's parcel; standard factories over their tenants
        occ = s.execute(select(Occupancy)).scalars().all()
        active = [o for o in occ if o.start_date <= AS_OF and (o.end_date is None or o.end_date >= AS_OF)]
        per_ent: dict[int, list] = {}
        for o in active:
            per_ent.setdefault(o.enterprise_id, []).append(o)

        def tax(eid):
            paid = _figure(s, eid, "tax_paid")
            return None if paid is None else paid + (_figure(s, eid, "tax_refunded") or 0.0)

        checked_sf = checked_lease = 0
        for p in parcels:
            here = [o for o in active if o.parcel_id == p.id]
            owners = [o for o in here if o.role == "owner"]
            tenants = [o for o in here if o.role == "tenant"]
            if not tenants or len(owners) != 1 or len(per_ent[owners[0].enterprise_id]) != 1:
                continue
            if any(len(per_ent[t.enterprise_id]) != 1 or tax(t.enterprise_id) is None for t in tenants):
                continue
            tenant_tax = sum(tax(t.enterprise_id) for t in tenants)
            r = rows[p.id]
            assert r.tenants == len(tenants)
            if p.is_standard_factory:
                assert r.tax_total_wan == pytest.approx(tenant_tax, rel=1e-9)
                checked_sf += 1
            elif tax(owners[0].enterprise_id) is not None:
                assert r.tax_total_wan == pytest.approx(tenant_tax + tax(owners[0].enterprise_id), rel=1e-9)
                checked_lease += 1
            assert r.tax_per_mu_wan == pytest.approx(r.tax_total_wan / p.area_mu, rel=1e-6)
        assert checked_sf >= 1 and checked_lease >= 1

        # R2: not-evaluated enterprises listed (reason, managed as B), never scored
        ne = [e for e in ents.values() if e.status == "not_evaluated"]
        assert ne and all(e.score is None and e.result_class is None and e.managed_as == "B"
                          and e.not_evaluated_reason for e in ne)
        assert any("在建" in e.not_evaluated_reason for e in ne)
        assert any("不足" in e.not_evaluated_reason for e in ne)
        scored = [e for e in ents.values() if e.status == "evaluated"]
        assert scored and all(e.result_class in ("A", "B", "C") and e.score is not None for e in scored)
        for above in (True, False):
            grp = [e for e in scored if e.above_scale == above]
            share_a = sum(e.result_class == "A" for e in grp) / len(grp)
            assert 0.1 <= share_a <= 0.25

        # the stored run: rulebook snapshot, summary per zone
        run = s.get(EvaluationRun, rep.run_id)
        assert run.rulebook_settings["data"] == RB.data and run.rulebook_fingerprint == RB.fingerprint()
        assert len(run.summary["zones"]) == 10
        idle_area = sum(p.area_mu for p in parcels if rows[p.id].idle_outcome in ev.IDLE_TRUE)
        assert sum(z["figures"]["idle_area_mu"] for z in run.summary["zones"]) == pytest.approx(idle_area, abs=1e-3)


def test_rerun_identical_and_rulebook_change_keeps_old_results(db):
    generate_demo(db)
    first = service.evaluate(db, YEAR)
    second = service.evaluate(db, YEAR)
    assert second.run_id != first.run_id
    assert second.inputs_fingerprint == first.inputs_fingerprint
    assert second.rulebook_fingerprint == first.rulebook_fingerprint
    with db.reader() as s:
        before = _results(s, first.run_id)
        assert _results(s, second.run_id) == before
    data = copy.deepcopy(RB.data)
    data["classify"]["a_top_share"] = 0.30
    changed = Rulebook(version="2021.2-test", jurisdiction=RB.jurisdiction, name=RB.name, data=data)
    third = service.evaluate(db, YEAR, rulebook=changed)
    assert third.rulebook_version == "2021.2-test" and third.rulebook_fingerprint != first.rulebook_fingerprint
    assert third.inputs_fingerprint == first.inputs_fingerprint
    with db.reader() as s:
        assert _results(s, first.run_id) == before  # the stored run is untouched
        new = _results(s, third.run_id)
        assert new != before
        runs = {r.id: r for r in s.execute(select(EvaluationRun)).scalars()}
        assert runs[first.run_id].rulebook_settings["data"]["classify"]["a_top_share"] == 0.20
        assert runs[third.run_id].rulebook_settings["data"]["classify"]["a_top_share"] == 0.30
    # changed inputs → a different fingerprint
    with db.transaction() as s:
        e = s.execute(select(EnterpriseFigure).where(EnterpriseFigure.year == YEAR)).scalars().first()
        e.value += 1.0
    assert service.evaluate(db, YEAR).inputs_fingerprint != first.inputs_fingerprint


def test_failure_half_way_leaves_no_run(db, monkeypatch):
    generate_demo(db)
    real_insert = service._insert
    calls = []

    def failing(conn, table, *args, **kwargs):
        calls.append(table.name)
        if table.name == "enterprise_evaluations":  # parcels already written in this transaction
            raise RuntimeError("disk full (simulated)")
        return real_insert(conn, table, *args, **kwargs)

    monkeypatch.setattr(service, "_insert", failing)
    with pytest.raises(RuntimeError):
        service.evaluate(db, YEAR, chunk_rows=100)
    assert calls == ["parcel_evaluations", "enterprise_evaluations"]
    with db.reader() as s:
        assert s.execute(select(EvaluationRun)).first() is None
        assert s.execute(select(ParcelEvaluation)).first() is None
        assert s.execute(select(EnterpriseEvaluation)).first() is None


def test_bad_year_is_a_user_error(db):
    from landcycle.domain.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        service.evaluate(db, 1800)


def test_empty_registry_evaluates_to_an_empty_run(db):
    rep = service.evaluate(db, YEAR)
    assert rep.parcels == 0 and rep.enterprises == 0 and rep.zones == []
    with db.reader() as s:
        assert s.get(EvaluationRun, rep.run_id).parcels == 0
        assert s.execute(select(Enterprise)).first() is None
