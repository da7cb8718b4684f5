"""R3 闲置土地 and R4 低效用地: every boundary the rules name, plus properties."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landcycle.data import DATA_DIR
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.rules.idle import CHECK as IDLE, SEVERITY, IdleCase, anniversary, check_idle, full_years
from landcycle.domain.rules.inputs import parse_case
from landcycle.domain.rules.low_efficiency import CHECK as LOW, LowEfficiencyCase, check_low_efficiency
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.domain.vocabulary import InefficiencyCategory as Cat

RB = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
AGREED = date(2019, 3, 15)


def idle(**kw):
    kw.setdefault("agreed_start_date", AGREED)
    return check_idle(IdleCase(**kw), RB)


def low(**kw):
    return check_low_efficiency(LowEfficiencyCase(**kw), RB)


def assert_well_formed(v, outcomes):
    assert v.outcome in outcomes and v.outcome_label == outcomes[v.outcome]
    assert v.reasons and all(isinstance(r, str) and r for r in v.reasons)
    assert v.citations
    assert v.rulebook_version == RB.label
    json.dumps(v.to_dict(), ensure_ascii=False)


# ---------------------------------------------------------------- R3: periods
@pytest.mark.parametrize("start, years, expected", [
    (date(2020, 2, 29), 1, date(2021, 2, 28)),   # no 29 Feb: the month's last day
    (date(2020, 2, 29), 4, date(2024, 2, 29)),
    (date(2019, 3, 15), 2, date(2021, 3, 15)),
])
def test_anniversary(start, years, expected):
    assert anniversary(start, years) == expected


def test_full_years_leap_day():
    assert full_years(date(2020, 2, 29), date(2021, 2, 27)) == 0
    assert full_years(date(2020, 2, 29), date(2021, 2, 28)) == 1


# ---------------------------------------------------------------- R3: not started
@pytest.mark.parametrize("as_of, outcome", [
    (AGREED - timedelta(days=1), "not_yet_due"),
    (AGREED, "not_idle"),
    (date(2020, 3, 14), "not_idle"),      # 1 year − 1 day
    (date(2020, 3, 15), "idle_fee"),      # exactly 1 year
    (date(2021, 3, 14), "idle_fee"),      # 2 years − 1 day
    (date(2021, 3, 15), "reclaim"),       # exactly 2 years
    (date(2024, 1, 1), "reclaim"),
])
def test_not_started_boundaries(as_of, outcome):
    v = idle(as_of=as_of)
    assert v.outcome == outcome
    assert_well_formed(v, IDLE.outcomes)
    if outcome in ("idle_fee", "reclaim"):
        assert any("闲置土地处置办法" in c.source and "第十四条" in c.source for c in v.citations)


def test_leap_day_agreed_start():
    assert idle(agreed_start_date=date(2020, 2, 29), as_of=date(2021, 2, 27)).outcome == "not_idle"
    assert idle(agreed_start_date=date(2020, 2, 29), as_of=date(2021, 2, 28)).outcome == "idle_fee"


def test_idle_fee_computed_from_price():
    v = idle(as_of=date(2020, 6, 1), land_price_wan=1000.0)
    assert v.outcome == "idle_fee"
    assert v.figures["idle_fee_wan"] == pytest.approx(200.0)
    assert v.figures["thresholds"]["idle.fee_rate"] == RB.section("idle")["fee_rate"]
    assert v.figures["delay_years"] == 1 and v.figures["delay_days"] == (date(2020, 6, 1) - AGREED).days
    assert any("200.00 万元" in r for r in v.reasons)


def test_idle_fee_without_price_says_how():
    v = idle(as_of=date(2020, 6, 1))
    assert v.figures["idle_fee_wan"] is None
    assert any("20.00%" in r for r in v.reasons)


def test_reclaim_reason_names_duration():
    v = idle(as_of=date(2021, 6, 20))
    assert v.outcome == "reclaim"
    assert any("2年3个月5天" in r and "无偿收回" in r for r in v.reasons)


@pytest.mark.parametrize("as_of", [date(2020, 3, 15), date(2022, 1, 1)])
def test_government_caused_no_fee_no_reclaim(as_of):
    v = idle(as_of=as_of, government_caused=True, land_price_wan=500.0)
    assert v.outcome == "government_caused"
    assert "idle_fee_wan" not in v.figures
    assert any("第八条" in c.source for c in v.citations)
    assert_well_formed(v, IDLE.outcomes)


def test_government_caused_before_one_year_is_not_idle():
    assert idle(as_of=date(2019, 9, 1), government_caused=True).outcome == "not_idle"


# ---------------------------------------------------------------- R3: started but stalled
STARTED = dict(actual_start_date=date(2019, 4, 1), stopped_since=date(2019, 10, 1))


@pytest.mark.parametrize("dev, inv, as_of, outcome", [
    (1 / 3, 0.30, date(2021, 1, 1), "not_idle"),       # exactly 1/3 is not 不足三分之一
    (0.3333333333333333, 0.25, date(2021, 1, 1), "not_idle"),   # both exactly at the limit
    (0.33, 0.30, date(2021, 1, 1), "idle_fee"),        # area below 1/3
    (0.50, 0.2499, date(2021, 1, 1), "idle_fee"),      # investment below 25%
    (0.50, 0.25, date(2021, 1, 1), "not_idle"),        # investment exactly 25%
    (0.20, 0.10, date(2020, 9, 30), "not_idle"),       # stopped 1 year − 1 day
    (0.20, 0.10, date(2020, 10, 1), "idle_fee"),       # stopped exactly 1 year
    (0.20, 0.10, date(2021, 10, 1), "reclaim"),        # stopped exactly 2 years
])
def test_started_stalled_boundaries(dev, inv, as_of, outcome):
    v = idle(as_of=as_of, developed_area_ratio=dev, investment_ratio=inv, **STARTED)
    assert v.outcome == outcome, v.reasons
    assert v.figures["path"] == "started"
    assert_well_formed(v, IDLE.outcomes)


def test_started_not_stopped_is_not_idle():
    v = idle(as_of=date(2022, 1, 1), actual_start_date=date(2019, 4, 1), developed_area_ratio=0.1,
             investment_ratio=0.1)
    assert v.outcome == "not_idle"


def test_started_missing_ratio_is_undetermined():
    v = idle(as_of=date(2022, 1, 1), developed_area_ratio=0.5, **STARTED)
    assert v.outcome == "undetermined"
    assert v.figures["missing"] == ["investment_ratio"]


def test_idle_parse_and_example():
    case = parse_case(IdleCase, IDLE.example)
    v = IDLE.run(case, RB)
    assert v.outcome == "idle_fee" and v.figures["idle_fee_wan"] == pytest.approx(252.0)
    with pytest.raises(ValidationFailed):
        parse_case(IdleCase, {"agreed_start_date": "2020-01-01", "as_of": "2021-01-01", "investment_ratio": 1.5})


# ---------------------------------------------------------------- R3: properties
dates = st.dates(min_value=date(2005, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=150, deadline=None)
@given(agreed=dates, d1=st.integers(-400, 1500), extra=st.integers(0, 1500))
def test_longer_delay_never_milder_not_started(agreed, d1, extra):
    a = idle(agreed_start_date=agreed, as_of=agreed + timedelta(days=d1))
    b = idle(agreed_start_date=agreed, as_of=agreed + timedelta(days=d1 + extra))
    assert SEVERITY[a.outcome] <= SEVERITY[b.outcome]


@settings(max_examples=150, deadline=None)
@given(stopped=dates, d1=st.integers(0, 1500), extra=st.integers(0, 1500),
       dev=st.floats(0, 1), inv=st.floats(0, 1))
def test_longer_stop_never_milder_started(stopped, d1, extra, dev, inv):
    kw = dict(agreed_start_date=stopped - timedelta(days=200), actual_start_date=stopped - timedelta(days=100),
              stopped_since=stopped, developed_area_ratio=dev, investment_ratio=inv)
    a = idle(as_of=stopped + timedelta(days=d1), **kw)
    b = idle(as_of=stopped + timedelta(days=d1 + extra), **kw)
    assert SEVERITY[a.outcome] <= SEVERITY[b.outcome]


@settings(max_examples=150, deadline=None)
@given(agreed=dates, as_of=dates, started=st.one_of(st.none(), dates), stopped=st.one_of(st.none(), dates),
       dev=st.one_of(st.none(), st.floats(0, 1)), inv=st.one_of(st.none(), st.floats(0, 1)),
       gov=st.booleans(), price=st.one_of(st.none(), st.floats(0, 1e6)))
def test_idle_verdicts_always_explained(agreed, as_of, started, stopped, dev, inv, gov, price):
    v = check_idle(IdleCase(agreed, as_of, started, dev, inv, stopped, gov, price), RB)
    assert_well_formed(v, IDLE.outcomes)


# ---------------------------------------------------------------- R4: each category alone
COMPLETED = dict(started=True, completed=True, producing=True)


@pytest.mark.parametrize("kw, category, cite", [
    (dict(industry_code="C2211"), Cat.INDUSTRY_TRANSFORMATION, "000:1056"),
    (dict(obsolete_industry=True), Cat.INDUSTRY_TRANSFORMATION, "000:1056"),
    (dict(environment_or_safety_failing=True), Cat.INDUSTRY_TRANSFORMATION, "000:1056"),
    (dict(in_shutdown_list=True), Cat.INDUSTRY_TRANSFORMATION, "000:1056"),
    (dict(started=True, developed_area_ratio=0.40, investment_ratio=0.30), Cat.CONSTRUCTION_STALLED, "000:1058"),
    (dict(contract_indicators={"plot_ratio": 1.2}, actual_indicators={"plot_ratio": 1.0}, **COMPLETED),
     Cat.BELOW_CONTRACT, "000:1060"),
    (dict(contract_indicators={"green_ratio": 0.15}, actual_indicators={"green_ratio": 0.2}, **COMPLETED),
     Cat.BELOW_CONTRACT, "000:1060"),
    (dict(started=True, completed=True, years_without_profit=2.5), Cat.PRODUCTION_HALTED, "000:1062"),
    (dict(enterprise_class="C", **COMPLETED), Cat.OUTPUT_SHORTFALL, "000:1064"),
    (dict(designated_other=True, designation_reason="厂区长期出租仓储，亩均税收不足1万元"), Cat.OTHER,
     "000:1066-1068"),
])
def test_each_category_alone(kw, category, cite):
    v = low(**kw)
    assert v.outcome == "inefficient"
    assert v.figures["categories"] == [category.value]
    assert [c.source for c in v.citations][:2] == ["000:1054", cite]
    assert v.figures["category_details"][0]["reason"]
    assert_well_formed(v, LOW.outcomes)


def test_obsolete_override_false_beats_code():
    assert low(industry_code="C2211", obsolete_industry=False).outcome == "not_inefficient"


def test_several_categories_at_once():
    v = low(industry_code="C3011", environment_or_safety_failing=True, years_without_profit=3,
            contract_indicators={"plot_ratio": 1.0, "investment_intensity": 300},
            actual_indicators={"plot_ratio": 0.9, "investment_intensity": 250}, enterprise_class="C",
            designated_other=True, designation_reason="领导小组2021年第3次会议认定", **COMPLETED)
    assert v.figures["categories"] == [Cat.INDUSTRY_TRANSFORMATION.value, Cat.BELOW_CONTRACT.value,
                                       Cat.PRODUCTION_HALTED.value, Cat.OUTPUT_SHORTFALL.value, Cat.OTHER.value]
    assert len(v.figures["category_details"]) == 5
    sources = {c.source for c in v.citations}
    assert {"000:1056", "000:1060", "000:1062", "000:1064", "000:1066-1068"} <= sources
    assert_well_formed(v, LOW.outcomes)


@pytest.mark.parametrize("dev, inv, idle_, completed, stalled", [
    (1 / 3, 0.30, False, False, False),        # exactly 1/3: not "超过"
    (0.3333333333333333, 0.30, False, False, False),
    (0.34, 0.25, False, False, False),         # exactly 25%: not "超过"
    (0.34, 0.2501, False, False, True),
    (0.34, 0.2501, True, False, False),        # already 闲置 under R3
    (0.34, 0.2501, False, True, False),        # completed: not 停建缓建
])
def test_stalled_boundaries(dev, inv, idle_, completed, stalled):
    v = low(started=True, developed_area_ratio=dev, investment_ratio=inv, idle=idle_, completed=completed)
    assert (Cat.CONSTRUCTION_STALLED.value in v.figures["categories"]) is stalled
    assert_well_formed(v, LOW.outcomes)


def test_exactly_one_third_is_neither_idle_nor_stalled_on_either_side():
    """At exactly 1/3 developed and 25% invested: not 不足 (R3) and not 超过 (R4)."""
    r3 = idle(as_of=date(2022, 1, 1), developed_area_ratio=1 / 3, investment_ratio=0.25, **STARTED)
    r4 = low(started=True, developed_area_ratio=1 / 3, investment_ratio=0.25)
    assert r3.outcome == "not_idle" and r4.outcome == "not_inefficient"


@pytest.mark.parametrize("years, halted", [(2, False), (2.0, False), (2.01, True), (1.5, False)])
def test_halted_boundary_exactly_two_years(years, halted):
    v = low(started=True, completed=True, years_without_profit=years)
    assert (Cat.PRODUCTION_HALTED.value in v.figures["categories"]) is halted


def test_halted_needs_completion_acceptance():
    assert low(started=True, years_without_profit=5).outcome == "not_inefficient"


def test_below_contract_equal_is_met_and_missing_actual_unchecked():
    v = low(contract_indicators={"plot_ratio": 1.2, "building_coverage": 0.3, "green_ratio": 0.2},
            actual_indicators={"plot_ratio": 1.2, "green_ratio": 0.2}, **COMPLETED)
    assert v.outcome == "not_inefficient"
    assert v.figures["unchecked"] == ["building_coverage"]
    assert any("未核查" in r for r in v.reasons)


def test_below_contract_needs_completed_and_producing():
    kw = dict(contract_indicators={"plot_ratio": 1.2}, actual_indicators={"plot_ratio": 0.5})
    assert low(started=True, completed=True, **kw).outcome == "not_inefficient"


def test_class_c_needs_completed_and_producing():
    assert low(started=True, enterprise_class="C").outcome == "not_inefficient"
    assert low(enterprise_class="B", **COMPLETED).outcome == "not_inefficient"


def test_bad_input_named():
    with pytest.raises(ValidationFailed) as e:
        low(designated_other=True)
    assert e.value.problems[0].field == "designation_reason"
    with pytest.raises(ValidationFailed) as e:
        low(contract_indicators={"floor_area": 1}, actual_indicators={"plot_ratio": "x"}, **COMPLETED)
    assert {p.field for p in e.value.problems} == {"contract_indicators.floor_area", "actual_indicators.plot_ratio"}


def test_not_inefficient_is_explained():
    v = low()
    assert v.outcome == "not_inefficient" and v.figures["categories"] == []
    assert_well_formed(v, LOW.outcomes)


def test_low_parse_and_example():
    v = LOW.run(parse_case(LowEfficiencyCase, LOW.example), RB)
    assert v.figures["categories"] == [Cat.BELOW_CONTRACT.value, Cat.OUTPUT_SHORTFALL.value]


ratios = st.one_of(st.none(), st.floats(0, 1))


@settings(max_examples=150, deadline=None)
@given(flags=st.lists(st.booleans(), min_size=7, max_size=7), dev=ratios, inv=ratios,
       yrs=st.one_of(st.none(), st.floats(0, 10)), cls=st.sampled_from([None, "A", "B", "C"]),
       code=st.sampled_from([None, "C2211", "2221", "C3311", "C22"]))
def test_low_verdicts_always_explained(flags, dev, inv, yrs, cls, code):
    env, shut, started, idle_, completed, producing, other = flags
    v = low(industry_code=code, environment_or_safety_failing=env, in_shutdown_list=shut, started=started,
            developed_area_ratio=dev, investment_ratio=inv, idle=idle_, completed=completed, producing=producing,
            contract_indicators={"plot_ratio": 1.0}, actual_indicators={"plot_ratio": 0.9},
            years_without_profit=yrs, enterprise_class=cls, designated_other=other,
            designation_reason="认定" if other else None)
    assert_well_formed(v, LOW.outcomes)
    assert (v.outcome == "inefficient") == bool(v.figures["categories"])
    assert all(c in {m.value for m in Cat} for c in v.figures["categories"])
