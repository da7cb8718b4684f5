"""Land registry use cases on both backends: registration, bad input, history, no lost updates."""

from datetime import date

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import text

from landcycle.domain.access import SYSTEM
from landcycle.domain.errors import Conflict, NotFound, ValidationFailed
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.records import ParcelDraft
from landcycle.services import jurisdictions, registry

CODE = "411002001001GB00001"
# Inside 魏都产业集聚区 (anchor 113.82, 34.05) and so inside 魏都区.
WEIDU_PARCEL = rectangle_around(113.82, 34.05, 0.2, 0.15)


def draft(**kw) -> ParcelDraft:
    values = dict(code=CODE, geometry=WEIDU_PARCEL, county="魏都区", zone="魏都产业集聚区",
                  location="魏都产业集聚区测试路1号", state="批而未供")
    values.update(kw)
    return ParcelDraft(**values)


def parcel_count(db) -> int:
    with db.engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM parcels")).scalar()


def test_reference_jurisdictions_are_loaded(db):
    fc = jurisdictions.jurisdiction_features(db)
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds.count("county") == 6 and kinds.count("zone") == 10 and kinds.count("city") == 1
    weidu = next(f for f in fc["features"] if f["properties"]["name"] == "魏都产业集聚区")
    assert "高新技术产业园区" in weidu["properties"]["aliases"]
    assert weidu["properties"]["tax_target_min_wan"] == 15 and weidu["properties"]["tax_target_max_wan"] is None
    assert jurisdictions.zone_area_overlaps(db) == 0.0


def test_every_zone_lies_inside_its_real_county(db):
    fc = jurisdictions.jurisdiction_features(db)
    counties = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"])
                for f in fc["features"] if f["properties"]["kind"] == "county"}
    for f in fc["features"]:
        if f["properties"]["kind"] == "zone":
            assert counties[f["properties"]["county_code"]].contains(shapely.geometry.shape(f["geometry"]))


def test_county_areas_agree_with_independent_geodesic_areas(db):
    """Done-when: platform areas of the demo counties within 0.5% of pyproj's geodesic area."""
    geod = Geod(ellps="GRS80")
    for f in jurisdictions.jurisdiction_features(db)["features"]:
        if f["properties"]["kind"] in ("county", "city"):
            geodesic = abs(geod.geometry_area_perimeter(shapely.geometry.shape(f["geometry"]))[0])
            assert f["properties"]["area_m2"] == pytest.approx(geodesic, rel=0.005)


def test_register_computes_area_in_gk_zone_and_records_history(db):
    assert registry.register_parcels(db, [draft(stated_area_m2=30000)], actor="魏都区自然资源局") == [CODE]
    card = registry.parcel_card(db, CODE, viewer=SYSTEM)
    p = card["parcel"]
    assert p["area_m2"] == pytest.approx(30000, rel=1e-3)
    assert p["area_mu"] == pytest.approx(45, rel=1e-3)
    assert p["gk_epsg"] == 4547 and p["zone_name"] == "魏都产业集聚区" and p["county_code"] == "411002"
    assert p["state"] == "approved_unsupplied" and p["version"] == 1
    [created] = card["history"]
    assert created["action"] == "create" and created["actor"] == "魏都区自然资源局"
    assert created["after"]["code"] == CODE


@pytest.mark.parametrize("bad,field,words", [
    (dict(code="41100200100GB00001"), "code", "19位"),
    (dict(geometry=shapely.Polygon([(113.81, 34.04), (113.83, 34.06), (113.83, 34.04), (113.81, 34.06)])),
     "geometry", "无效"),
    (dict(zone="不存在产业集聚区"), "zone_id", "未知的产业集聚区"),
    (dict(county="长葛市"), "code", "不符"),
    (dict(stated_area_m2=0), "stated_area_m2", "正数"),
    (dict(stated_area_m2=-5), "stated_area_m2", "正数"),
    (dict(stated_area_m2=40000), "area_m2", "超过允许的 5%"),
    (dict(state="荒废"), "state", "无效"),
    (dict(geometry=rectangle_around(113.52, 34.15, 0.2, 0.2)), "county_id", "位于魏都区范围之外"),
])
def test_bad_input_names_record_and_field_and_writes_nothing(db, bad, field, words):
    with pytest.raises(ValidationFailed) as err:
        registry.register_parcels(db, [draft(code="411002001001GB00009"), draft(**bad)], actor="t")
    problems = [p for p in err.value.problems if p.field == field]
    assert problems, err.value.problems
    assert any(words in p.message for p in problems), problems
    assert all(p.record.startswith("宗地") for p in err.value.problems)
    assert parcel_count(db) == 0  # the good draft in the same batch was not written either


def test_duplicate_codes_in_batch_and_in_store(db):
    with pytest.raises(ValidationFailed, match="本批次中重复"):
        registry.register_parcels(db, [draft(), draft()], actor="t")
    registry.register_parcels(db, [draft()], actor="t")
    with pytest.raises(ValidationFailed, match="已存在"):
        registry.register_parcels(db, [draft()], actor="t")
    assert parcel_count(db) == 1


def test_update_is_kept_in_history_with_before_and_after(db):
    registry.register_parcels(db, [draft()], actor="t")
    after = registry.update_parcel(db, CODE, {"state": "闲置", "supply_date": date(2019, 3, 1)}, 1,
                                   actor="张科长", reason="超过约定动工日期满一年未动工")
    assert after["state"] == "idle" and after["version"] == 2
    history = registry.parcel_history(db, CODE)
    assert [h["action"] for h in history] == ["create", "update"]
    change = history[1]
    assert change["before"]["state"] == "approved_unsupplied" and change["after"]["state"] == "idle"
    assert change["after"]["supply_date"] == "2019-03-01"
    assert change["actor"] == "张科长" and change["reason"] == "超过约定动工日期满一年未动工"
    assert "土地状态：批而未供 → 闲置" in change["summary"]


def test_geometry_change_recomputes_area(db):
    registry.register_parcels(db, [draft()], actor="t")
    bigger = rectangle_around(113.82, 34.05, 0.3, 0.2)
    after = registry.update_parcel(db, CODE, {"geometry": bigger}, 1, actor="t")
    assert after["area_m2"] == pytest.approx(60000, rel=1e-3)
    assert registry.list_parcels(db, viewer=SYSTEM, bbox=(113.8215, 34.0505, 113.83, 34.06))["numberMatched"] == 1


def test_stale_version_is_refused_and_nothing_is_overwritten(db):
    registry.register_parcels(db, [draft()], actor="t")
    registry.update_parcel(db, CODE, {"location": "甲的修改"}, 1, actor="甲")
    with pytest.raises(Conflict) as err:
        registry.update_parcel(db, CODE, {"location": "乙的修改"}, 1, actor="乙")
    assert err.value.current["location"] == "甲的修改" and err.value.current["version"] == 2
    assert registry.parcel_card(db, CODE, viewer=SYSTEM)["parcel"]["location"] == "甲的修改"


def test_invalid_update_changes_nothing(db):
    registry.register_parcels(db, [draft()], actor="t")
    with pytest.raises(ValidationFailed, match="土地状态"):
        registry.update_parcel(db, CODE, {"state": "不存在", "location": "x"}, 1, actor="t")
    with pytest.raises(ValidationFailed, match="不能直接修改"):
        registry.update_parcel(db, CODE, {"area_m2": 1}, 1, actor="t")
    card = registry.parcel_card(db, CODE, viewer=SYSTEM)
    assert card["parcel"]["version"] == 1 and len(card["history"]) == 1


def test_change_log_is_append_only(db):
    registry.register_parcels(db, [draft()], actor="t")
    for sql in ("UPDATE change_log SET actor = 'x'", "DELETE FROM change_log"):
        with pytest.raises(Exception, match="只能追加"):
            with db.engine.begin() as c:
                c.execute(text(sql))
    assert len(registry.parcel_history(db, CODE)) == 1


def test_unknown_parcel_is_not_found(db):
    with pytest.raises(NotFound, match="未找到宗地"):
        registry.parcel_card(db, "411002001001GB99999", viewer=SYSTEM)


def test_list_filters_and_pagination(db):
    drafts = [draft(code=f"411002001001GB{i:05d}",
                    geometry=rectangle_around(113.805 + 0.004 * i, 34.05, 0.2, 0.2),
                    state="闲置" if i % 2 else "批而未供") for i in range(1, 7)]
    registry.register_parcels(db, drafts, actor="t")
    page = registry.list_parcels(db, viewer=SYSTEM, zone="高新技术产业园区", limit=4)
    assert page["numberMatched"] == 6 and page["numberReturned"] == 4
    rest = registry.list_parcels(db, viewer=SYSTEM, zone="411000-Z10", limit=4, offset=4)
    assert [f["id"] for f in page["features"] + rest["features"]] == [d.code for d in drafts]
    assert registry.list_parcels(db, viewer=SYSTEM, state="idle")["numberMatched"] == 3
    assert registry.list_parcels(db, viewer=SYSTEM, county="411082")["numberMatched"] == 0
    with pytest.raises(ValidationFailed, match="每页条数"):
        registry.list_parcels(db, viewer=SYSTEM, limit=5000)
