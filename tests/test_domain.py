"""Pure domain rules: units, identifiers, GK zones, areas, geometry validity."""


import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from landcycle.domain import geometry as G
from landcycle.domain.identifiers import (
    credit_code_with_check,
    make_parcel_code,
    normalise_credit_code,
    parse_parcel_code,
)
from landcycle.domain.units import M2_PER_MU, hectare_to_mu, m2_to_mu, mu_to_m2
from landcycle.domain.vocabulary import LandState

CGCS2000 = Geod(ellps="GRS80")  # CGCS2000 uses the GRS80-compatible ellipsoid
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def test_mu_definition():
    assert M2_PER_MU == pytest.approx(666.6667, abs=1e-4)
    assert m2_to_mu(10000) == pytest.approx(15)
    assert hectare_to_mu(1) == pytest.approx(15)
    assert mu_to_m2(m2_to_mu(1234.5)) == pytest.approx(1234.5)


def test_known_credit_code_and_wrong_check_character():
    assert normalise_credit_code(" 91110000600037341l ") == "91110000600037341L"
    with pytest.raises(ValueError, match="校验位错误：应为 L"):
        normalise_credit_code("91110000600037341A")
    with pytest.raises(ValueError, match="18位"):
        normalise_credit_code("9111000060003734")
    with pytest.raises(ValueError, match="不允许的字符"):
        normalise_credit_code("911100006000373IOL")
    with pytest.raises(ValueError, match="前8位"):
        normalise_credit_code("9A1100006000373410")


FIRST17 = st.builds(lambda head, tail: head + tail,
                    st.text(alphabet="0123456789", min_size=8, max_size=8),
                    st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9))


@given(FIRST17)
def test_every_generated_credit_code_validates(first17):
    code = credit_code_with_check(first17)
    assert normalise_credit_code(code) == code


@given(FIRST17, st.integers(0, 16),
       st.sampled_from(USCC_ALPHABET))
def test_a_single_changed_character_is_caught(first17, pos, ch):
    code = credit_code_with_check(first17)
    changed = code[:pos] + ch + code[pos + 1:]
    if changed != code:
        with pytest.raises(ValueError):
            normalise_credit_code(changed)


def test_parcel_code_parts_and_errors():
    parts = parse_parcel_code("411002001002GB00003")
    assert parts["county_code"] == "411002" and parts["feature"] == "GB" and parts["sequence"] == "00003"
    assert make_parcel_code("411082", 7, 12, 345) == "411082007012GB00345"
    for bad in ("411002001002GB0003", "411002001002G100003", "411002001002QB00003", "411002001002GB00000"):
        with pytest.raises(ValueError):
            parse_parcel_code(bad)


@pytest.mark.parametrize("lon,plain,prefixed", [(113.85, 4547, 4526), (114.49, 4547, 4526),
                                                (115.51, 4548, 4527), (75.0, 4534, 4513), (135.0, 4554, 4533)])
def test_gk_zone_epsg(lon, plain, prefixed):
    assert G.gk3_epsg(lon) == plain
    assert G.gk3_epsg(lon, zone_prefix=True) == prefixed


def test_outside_china_has_no_gk_zone():
    with pytest.raises(ValueError):
        G.gk3_zone(10.0)


@settings(max_examples=60, deadline=None)
@given(lon=st.floats(74, 134), lat=st.floats(18, 52), w=st.floats(30, 3000), h=st.floats(30, 3000))
def test_gk_area_agrees_with_geodesic_area(lon, lat, w, h):
    """Property: areas in the parcel's own GK zone match the ellipsoidal area within 0.1%."""
    rect = G.rectangle_around(lon, lat, w / 1000, h / 1000)
    geodesic = abs(CGCS2000.geometry_area_perimeter(rect)[0])
    assert G.gk_area_m2(rect) == pytest.approx(geodesic, rel=1e-3)
    assert G.gk_area_m2(rect) == pytest.approx(w * h, rel=2e-3)


def test_vectorised_areas_group_by_zone():
    geoms = [G.rectangle_around(113.8, 34.0, 0.1, 0.1), G.rectangle_around(117.2, 31.8, 0.2, 0.1)]
    areas, epsg = G.gk_areas_m2(geoms)
    assert list(epsg) == [4547, 4548]
    assert areas == pytest.approx([10000, 20000], rel=1e-3)


def test_geometry_problems_name_what_is_wrong():
    assert G.parcel_geometry_problems(None) == ["几何图形为空"]
    assert "Polygon" in G.parcel_geometry_problems(shapely.Point(113, 34))[0]
    bowtie = shapely.Polygon([(113.85, 34.03), (113.86, 34.04), (113.86, 34.03), (113.85, 34.04)])
    assert "Self-intersection" in G.parcel_geometry_problems(bowtie)[0]
    assert "投影坐标" in G.parcel_geometry_problems(shapely.box(500000, 3700000, 500100, 3700100))[0]
    assert "经纬度颠倒" in G.parcel_geometry_problems(shapely.box(34.0, 113.8, 34.01, 113.81))[0]
    assert G.parcel_geometry_problems(shapely.box(113.8, 34.0, 113.81, 34.01)) == []


def test_states_parse_value_or_label():
    assert LandState.parse("闲置") is LandState.IDLE
    assert LandState.parse("idle") is LandState.IDLE
    with pytest.raises(ValueError, match="取值“荒地”无效"):
        LandState.parse("荒地")
    assert len(LandState.choices()) == 14
