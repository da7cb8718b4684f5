"""Enterprises, occupancy and yearly figures: validation and history, on both backends."""

from datetime import date

import pytest
from sqlalchemy import text

from landcycle.domain.access import SYSTEM
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.records import EnterpriseDraft, OccupancyDraft, ParcelDraft
from landcycle.services import enterprises, registry

PARCEL = "411002001001GB00001"


@pytest.fixture
def world(db):
    from landcycle.domain.identifiers import credit_code_with_check

    code = credit_code_with_check("91411002MA44ABCD0")
    registry.register_parcels(db, [ParcelDraft(code=PARCEL, geometry=rectangle_around(113.82, 34.05, 0.2, 0.15),
                                               county="魏都区", zone="魏都产业集聚区")], actor="t")
    enterprises.register_enterprise(db, EnterpriseDraft(code, "许昌测试装备有限公司（演示）", "C3411", True, "魏都区"),
                                    actor="t")
    return db, code


def test_wrong_check_character_is_refused_with_the_right_one(db):
    with pytest.raises(ValidationFailed) as err:
        enterprises.register_enterprise(db, EnterpriseDraft("91110000600037341A", "某公司"), actor="t")
    [p] = err.value.problems
    assert p.field == "credit_code" and "应为 L" in p.message and "某公司" in p.record
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM enterprises")).scalar() == 0


def test_bad_industry_code_and_duplicate(world):
    db, code = world
    with pytest.raises(ValidationFailed, match="GB/T 4754"):
        enterprises.register_enterprise(db, EnterpriseDraft("91110000600037341L", "甲", "34X"), actor="t")
    with pytest.raises(ValidationFailed, match="已登记"):
        enterprises.register_enterprise(db, EnterpriseDraft(code.lower(), "重复公司"), actor="t")


def test_occupancy_is_recorded_in_the_parcel_archive(world):
    db, code = world
    enterprises.add_occupancy(db, OccupancyDraft(PARCEL, code, "权利人", 30000, date(2019, 1, 1)), actor="t")
    card = registry.parcel_card(db, PARCEL, viewer=SYSTEM)
    assert card["occupancies"][0]["role_label"] == "权利人"
    assert [h["entity"] for h in card["history"]] == ["parcels", "occupancies"]


@pytest.mark.parametrize("kw,field", [
    (dict(area_m2=0), "area_m2"),
    (dict(area_m2=-1), "area_m2"),
    (dict(area_m2=90000), "area_m2"),
    (dict(role="房东"), "role"),
    (dict(end_date=date(2018, 1, 1)), "end_date"),
    (dict(parcel_code="411002001001GB09999"), "parcel_id"),
])
def test_bad_occupancy_names_the_field(world, kw, field):
    db, code = world
    values = dict(parcel_code=PARCEL, credit_code=code, role="承租人", area_m2=1000, start_date=date(2019, 1, 1))
    values.update(kw)
    with pytest.raises(ValidationFailed) as err:
        enterprises.add_occupancy(db, OccupancyDraft(**values), actor="t")
    assert field in {p.field for p in err.value.problems}


def test_tenants_cannot_lease_more_than_the_parcel_at_once(world):
    db, code = world
    enterprises.add_occupancy(db, OccupancyDraft(PARCEL, code, "承租人", 20000, date(2019, 1, 1), date(2020, 12, 31)),
                              actor="t")
    with pytest.raises(ValidationFailed, match="同期承租面积"):
        enterprises.add_occupancy(db, OccupancyDraft(PARCEL, code, "承租人", 15000, date(2020, 6, 1)), actor="t")
    # After the first lease ends the land can be let again.
    enterprises.add_occupancy(db, OccupancyDraft(PARCEL, code, "承租人", 15000, date(2021, 1, 1)), actor="t")


def test_figures_carry_department_and_resubmission_is_audited(world):
    db, code = world
    assert enterprises.submit_figures(db, code, 2020, {"实缴税金": 450.0, "profit": -20.0}, "税务局", actor="税务局张三") == 2
    enterprises.submit_figures(db, code, 2020, {"tax_paid": 470.0}, "税务局", actor="税务局张三", reason="更正")
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT indicator, value, department FROM enterprise_figures ORDER BY indicator")).all()
        log = c.execute(text("SELECT action FROM change_log WHERE entity = 'enterprise_figures' ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("profit", -20.0, "税务局"), ("tax_paid", 470.0, "税务局")]
    assert [r[0] for r in log] == ["create", "create", "update"]


@pytest.mark.parametrize("values,year,dept,field", [
    ({"tax_paid": -1}, 2020, "税务局", "tax_paid"),
    ({"不存在的指标": 1}, 2020, "税务局", "indicator"),
    ({"tax_paid": 1}, 1990, "税务局", "year"),
    ({"tax_paid": 1}, 2020, "", "department"),
])
def test_bad_figures_change_nothing(world, values, year, dept, field):
    db, code = world
    with pytest.raises(ValidationFailed) as err:
        enterprises.submit_figures(db, code, year, values, dept, actor="t")
    assert field in {p.field for p in err.value.problems}
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM enterprise_figures")).scalar() == 0
