"""R10 working-day deadlines on the official calendar (调休 included, unknown years refused)."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from landcycle.data import DATA_DIR
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.rules.inputs import parse_case
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.domain.rules.workdays import (
    CHECK, LIBRARY_LAST_YEAR, CalendarUnknown, DeadlineCase, WorkdayCalendar, check_deadline,
)

RB = Rulebook.from_toml((DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
CAL = WorkdayCalendar.from_rulebook(RB)

#: An ILLUSTRATIVE 2027 schedule (test data only, not the published one): 元旦 1–3 Jan, 春节 5–11 Feb
#: with make-up workdays Sun 31 Jan and Sat 20 Feb.
SCHEDULE_2027 = {
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03", *[f"2027-02-{d:02d}" for d in range(5, 12)]],
    "workdays": ["2027-01-31", "2027-02-20"],
    "names": {"2027-02-05": "春节", "2027-01-31": "春节调休上班"},
}


def with_extra_years(extra: dict) -> Rulebook:
    data = copy.deepcopy(RB.data)
    data["workdays"]["extra_years"] = extra
    return dataclasses.replace(RB, data=data)


def deadline(rb=RB, **kw):
    return check_deadline(DeadlineCase(**kw), rb)


def assert_well_formed(v):
    assert v.outcome in CHECK.outcomes and v.outcome_label == CHECK.outcomes[v.outcome]
    assert v.reasons and v.citations and v.rulebook_version == RB.label
    json.dumps(v.to_dict(), ensure_ascii=False)


# ---------------------------------------------------------------- the calendar
def test_library_last_year_detected():
    assert LIBRARY_LAST_YEAR >= 2026
    assert CAL.known_years[-1] == LIBRARY_LAST_YEAR


@pytest.mark.parametrize("d, workday", [
    (date(2021, 2, 7), True),     # Sunday, 春节调休上班
    (date(2021, 2, 11), False),   # 春节
    (date(2021, 2, 20), True),    # Saturday, 春节调休上班
    (date(2021, 2, 21), False),   # plain Sunday
    (date(2021, 9, 18), True),    # Saturday, 中秋调休上班
    (date(2021, 9, 20), False),   # 中秋 (Monday)
    (date(2021, 9, 22), True),
])
def test_is_workday(d, workday):
    assert CAL.is_workday(d) is workday


@pytest.mark.parametrize("start, n, expected", [
    (date(2021, 2, 9), 5, date(2021, 2, 22)),     # across 春节 2021 and the 20 Feb Saturday workday
    (date(2021, 2, 5), 1, date(2021, 2, 7)),      # Friday → the Sunday make-up day
    (date(2021, 2, 5), 5, date(2021, 2, 18)),
    (date(2021, 9, 16), 2, date(2021, 9, 18)),    # the Saturday before 中秋 counts
    (date(2021, 9, 17), 2, date(2021, 9, 22)),    # 19–21 Sep off
    (date(2021, 9, 17), 7, date(2021, 9, 28)),    # Sun 26 Sep: 国庆调休上班
    (date(2021, 3, 1), 0, date(2021, 3, 1)),
    (date(2021, 2, 11), 1, date(2021, 2, 18)),    # start on a holiday: next working day after it
])
def test_add_workdays(start, n, expected):
    assert CAL.add_workdays(start, n) == expected
    assert CAL.workdays_between(start, expected) == n


def test_workdays_between_mirrors():
    assert CAL.workdays_between(date(2021, 2, 22), date(2021, 2, 9)) == -5


def test_past_known_years_raises_plain_message():
    with pytest.raises(CalendarUnknown) as e:
        CAL.add_workdays(date(LIBRARY_LAST_YEAR, 12, 28), 10)
    assert isinstance(e.value, ValueError)
    assert e.value.year == LIBRARY_LAST_YEAR + 1
    assert f"{LIBRARY_LAST_YEAR + 1} 年" in str(e.value) and "尚未载入" in str(e.value)
    assert "[workdays.extra_years]" in str(e.value)


def test_city_added_year_is_used():
    cal = WorkdayCalendar({2027: SCHEDULE_2027})
    assert cal.add_workdays(date(2026, 12, 28), 5) == date(2027, 1, 5)
    assert cal.is_workday(date(2027, 1, 31)) and not cal.is_workday(date(2027, 2, 8))
    assert cal.holiday_name(date(2027, 2, 5)) == "春节"
    with pytest.raises(CalendarUnknown):
        cal.is_workday(date(2028, 1, 3))


@pytest.mark.parametrize("bad", [
    {"2027": {"holidays": ["2026-10-01"]}},
    {"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}},
    {"2027": {"holidays": ["not a date"]}},
    {"next": {"holidays": []}},
    {"2027": {"holiday": []}},
])
def test_bad_extra_year_is_refused(bad):
    with pytest.raises(ValidationFailed):
        WorkdayCalendar(bad)


# ---------------------------------------------------------------- the check
def test_spring_festival_deadline_verdict():
    v = deadline(kind="commitment_publicity", start_date=date(2021, 2, 9))
    assert v.outcome == "deadline" and v.figures["deadline"] == "2021-02-22"
    assert v.figures["workdays"] == 5 and v.figures["rulebook_key"] == "workdays.commitment_publicity"
    assert [r["date"] for r in v.figures["skipped_holidays"]] == [f"2021-02-{d}" for d in range(11, 18)]
    assert [r["date"] for r in v.figures["skipped_weekend_days"]] == ["2021-02-21"]
    assert [r["date"] for r in v.figures["makeup_workdays"]] == ["2021-02-20"]
    assert v.citations[0].source == "000:1008"
    assert any("春节假期" in r for r in v.reasons)
    assert_well_formed(v)


def test_mid_autumn_saturday_workday_verdict():
    v = deadline(kind="small_project_filing", start_date=date(2021, 9, 16))
    assert v.figures["deadline"] == "2021-09-18"
    assert v.figures["makeup_workdays"][0]["date"] == "2021-09-18"
    assert v.citations[0].source == "000:1014-1016"
    v = deadline(kind="small_project_permits", start_date=date(2021, 9, 17))
    assert v.figures["deadline"] == "2021-09-28" and v.citations[0].source == "000:1016"
    assert [r["date"] for r in v.figures["makeup_workdays"]] == ["2021-09-18", "2021-09-26"]
    assert [r["name"] for r in v.figures["skipped_holidays"]] == ["中秋节"] * 3


@pytest.mark.parametrize("as_of, outcome, key, value", [
    (date(2021, 2, 19), "within", "remaining_workdays", 2),
    (date(2021, 2, 22), "within", "remaining_workdays", 0),
    (date(2021, 2, 23), "overdue", "overdue_workdays", 1),
    (date(2021, 3, 1), "overdue", "overdue_workdays", 5),
])
def test_within_overdue(as_of, outcome, key, value):
    v = deadline(kind="permits_with_drawings", start_date=date(2021, 2, 9), as_of=as_of)
    assert v.outcome == outcome and v.figures[key] == value
    assert v.citations[0].source == "000:1012"
    assert_well_formed(v)


def test_explicit_workdays():
    v = deadline(workdays=3, start_date=date(2021, 2, 9))
    assert v.figures["deadline"] == "2021-02-19" and v.figures["kind"] is None
    assert v.citations[0].source == "000:1008-1016"


@pytest.mark.parametrize("kw", [{}, {"kind": "commitment_publicity", "workdays": 5}])
def test_kind_xor_workdays(kw):
    with pytest.raises(ValidationFailed):
        deadline(start_date=date(2021, 2, 9), **kw)


def test_beyond_calendar_says_so():
    start = date(LIBRARY_LAST_YEAR, 12, 28)
    v = deadline(kind="small_project_permits", start_date=start)
    assert v.outcome == "calendar_unknown" and v.figures["deadline"] is None
    assert v.figures["unknown_year"] == LIBRARY_LAST_YEAR + 1
    assert any("尚未载入" in r and str(LIBRARY_LAST_YEAR + 1) in r for r in v.reasons)
    assert_well_formed(v)


def test_city_adding_2027_makes_it_computable():
    rb = with_extra_years({"2027": SCHEDULE_2027})
    v = deadline(rb, kind="small_project_permits", start_date=date(2026, 12, 28))
    assert v.outcome == "deadline" and v.figures["deadline"] == "2027-01-07"
    assert v.figures["calendar"]["city_added_years"] == [2027]
    assert any("2027" in c.source for c in v.citations)
    assert [r["date"] for r in v.figures["skipped_holidays"]] == ["2027-01-01", "2027-01-02", "2027-01-03"]


def test_overdue_into_unknown_year_still_overdue():
    v = deadline(kind="commitment_publicity", start_date=date(2026, 12, 1), as_of=date(2027, 3, 1))
    assert v.outcome == "overdue" and v.figures["overdue_workdays"] is None


def test_parse_and_example():
    v = CHECK.run(parse_case(DeadlineCase, CHECK.example), RB)
    assert v.outcome == "within"
    with pytest.raises(ValidationFailed):
        parse_case(DeadlineCase, {"kind": "unknown_kind", "start_date": "2021-02-09"})


# ---------------------------------------------------------------- properties
# Up to 80 workdays (≈ 4 months with holidays) after the start must stay inside the years the
# packaged holiday calendar covers.
starts = st.dates(min_value=date(2004, 1, 1), max_value=date(LIBRARY_LAST_YEAR, 7, 31))


@settings(max_examples=200, deadline=None)
@given(start=starts, n=st.integers(0, 40), more=st.integers(0, 40))
def test_more_workdays_never_earlier(start, n, more):
    a, b = CAL.add_workdays(start, n), CAL.add_workdays(start, n + more)
    assert a <= b
    assert a > start or n == 0
    assert CAL.workdays_between(start, b) == n + more
    if n:
        assert CAL.is_workday(a)


@settings(max_examples=100, deadline=None)
@given(start=st.dates(min_value=date(2004, 1, 1), max_value=date(LIBRARY_LAST_YEAR + 1, 12, 31)),
       n=st.integers(0, 30), as_of=st.one_of(st.none(), st.dates(min_value=date(2004, 1, 1),
                                                                   max_value=date(LIBRARY_LAST_YEAR + 1, 12, 31))))
def test_deadline_verdicts_always_explained(start, n, as_of):
    assume(as_of is None or as_of.year <= LIBRARY_LAST_YEAR + 1)
    v = deadline(workdays=n, start_date=start, as_of=as_of)
    assert_well_formed(v)
    if v.outcome != "calendar_unknown":
        assert date.fromisoformat(v.figures["deadline"]) >= start
