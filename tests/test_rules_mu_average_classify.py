"""R1 亩均税收/亩均产值 and R2 A/B/C classification: boundaries and invariants."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landcycle.data import DATA_DIR
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.rules import classify, mu_average
from landcycle.domain.rules.inputs import parse_case
from landcycle.domain.rules.rulebook import Rulebook

RB = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
CLASS_ORDER = {"C": 0, "B": 1, "A": 2}


def mu(**kw):
    return mu_average.check_mu_average(parse_case(mu_average.MuAverageCase, kw), RB)


def test_refunds_are_added_back_and_tenants_merged():
    v = mu(land_area_mu=40, tax_paid_wan=400, tax_refunded_wan=100, industrial_output_wan=8000,
           tenants=[{"tax_paid_wan": 100, "industrial_output_wan": 2000}])
    assert v.figures["tax_total_wan"] == 600 and v.figures["tax_per_mu_wan"] == 15
    assert v.figures["output_per_mu_wan"] == 250
    assert v.outcome == "computed" and any("合并1家承租企业" in r for r in v.reasons)
    assert v.citations[0].source == "000:1072"
    json.dumps(v.to_dict(), ensure_ascii=False)


def test_standard_factory_is_computed_over_its_tenants_only():
    v = mu(land_area_mu=50, tax_paid_wan=30, standard_factory=True,
           tenants=[{"tax_paid_wan": 300}, {"tax_paid_wan": 200, "tax_refunded_wan": 250}])
    assert v.figures["tax_total_wan"] == 750 and v.figures["tax_per_mu_wan"] == 15
    assert any("出租方自身税收 30.00 万元不计入" in r for r in v.reasons)


@pytest.mark.parametrize("tax,outcome", [(599.99, "below_target"), (600, "meets_target"), (601, "meets_target")])
def test_target_boundary(tax, outcome):
    assert mu(land_area_mu=40, tax_paid_wan=tax, target_tax_per_mu_wan=15).outcome == outcome


def test_zero_area_is_reported_not_divided():
    v = mu(land_area_mu=0, tax_paid_wan=10)
    assert v.outcome == "no_land" and "tax_per_mu_wan" not in v.figures


def test_bad_tenant_names_the_field():
    with pytest.raises(ValidationFailed) as err:
        mu(land_area_mu=10, tenants=[{"tax_paid_wan": -1}])
    assert err.value.problems[0].field == "tenants[0].tax_paid_wan"


@settings(max_examples=80, deadline=None)
@given(area=st.floats(1, 500), own=st.floats(0, 1e4), tenants=st.lists(st.floats(0, 1e4), max_size=4),
       extra=st.floats(0, 1e4), standard=st.booleans())
def test_adding_a_tenants_tax_never_lowers_the_parcel_average(area, own, tenants, extra, standard):
    base = mu(land_area_mu=area, tax_paid_wan=own, standard_factory=standard,
              tenants=[{"tax_paid_wan": t} for t in tenants])
    more = mu(land_area_mu=area, tax_paid_wan=own, standard_factory=standard,
              tenants=[{"tax_paid_wan": t} for t in tenants] + [{"tax_paid_wan": extra}])
    assert more.figures["tax_per_mu_wan"] >= base.figures["tax_per_mu_wan"] - 1e-9


# ------------------------------------------------------------------------- R2
def cls(**kw):
    values = dict(above_scale=True, land_area_mu=50, tax_paid_wan=750, value_added_wan=5000, energy_use_tce=2000,
                  emissions_t=10, employees=200, rd_spending_wan=500, revenue_wan=25000, production_years=5)
    values.update(kw)
    return classify.check_classify(parse_case(classify.ClassifyCase, values), RB)


def test_score_is_weighted_and_capped():
    v = cls(tax_paid_wan=10_000)  # 200 万元/亩, far above the benchmark 30
    assert v.figures["items"]["tax_per_mu"]["score"] == 30  # capped at the weight × item_cap
    assert v.outcome == "scored" and v.figures["score"] <= 100


def test_bands_by_rank_with_ties_sharing_the_better_class():
    scores = np.array([10, 20, 30, 40, 50, 60, 70, 80, 90, 90], dtype=float)
    assert list(classify.bands(scores, 0.2, 0.2)) == ["C", "C", "B", "B", "B", "B", "B", "B", "A", "A"]
    tied = np.array([50.0] * 10)
    assert set(classify.bands(tied, 0.2, 0.2)) == {"A"}


@pytest.mark.parametrize("kw,reason", [
    (dict(industry_code="D4411"), "公用事业"),
    (dict(production_years=1.9), "不足 2 年"),
    (dict(major_project_under_construction=True), "在建重大项目"),
])
def test_not_evaluated_group_is_listed_not_scored(kw, reason):
    v = cls(**kw)
    assert v.outcome == "not_evaluated" and v.figures["managed_as"] == "B" and reason in v.reasons[0]


def test_exactly_two_production_years_is_evaluated():
    assert cls(production_years=2).outcome == "scored"


def test_veto_puts_the_enterprise_in_the_lowest_class():
    v = cls(tax_paid_wan=10_000, vetoes=["major_environmental_violation"], population_scores=[1, 2, 3])
    assert v.outcome == "C" and any("重大环境违法" in r for r in v.reasons)
    with pytest.raises(ValidationFailed, match="未知的否决事项"):
        cls(vetoes=["late_report"])


def test_missing_item_takes_the_group_average_not_zero():
    v = cls(emissions_t=None, population_item_means={"value_added_per_emission": 7.5})
    assert v.figures["items"]["value_added_per_emission"]["missing"] is True
    full = cls(emissions_t=10)
    assert v.figures["score"] == pytest.approx(full.figures["score"]
                                               - full.figures["items"]["value_added_per_emission"]["score"] + 7.5)
    assert any("缺少数据" in r for r in v.reasons)


def test_below_scale_uses_its_own_indicators():
    v = cls(above_scale=False)
    assert set(v.figures["items"]) == {"tax_per_mu", "tax_per_energy"}


POP = st.lists(st.floats(0, 100), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(pop=POP, tax=st.floats(0, 3000), extra=st.floats(0, 3000))
def test_more_tax_never_lowers_the_class(pop, tax, extra):
    a = cls(tax_paid_wan=tax, population_scores=pop)
    b = cls(tax_paid_wan=tax + extra, population_scores=pop)
    assert CLASS_ORDER[b.outcome] >= CLASS_ORDER[a.outcome]
