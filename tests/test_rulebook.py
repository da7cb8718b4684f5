"""The rulebook: annotated defaults, versions, overrides that may only tighten."""

import re

import pytest

from landcycle.data import DATA_DIR
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.rules.rulebook import Rulebook
from landcycle.services import rules

TEXT = (DATA_DIR / "rulebook.toml").read_text(encoding="utf-8")
RB = Rulebook.from_toml(TEXT)


def test_every_section_names_its_source_and_silent_seeds_are_labelled():
    for name, section in RB.data.items():
        if name in ("evaluation",):
            assert section.get("example_defaults") is True
            continue
        assert section.get("source"), f"[{name}] has no source"
    for name in ("classify", "standard_land"):
        assert RB.section(name)["example_defaults"] is True  # DOMAIN.md §7 gaps


def test_the_seeds_numbers_are_the_defaults():
    assert RB.section("idle")["fee_rate"] == 0.20 and RB.section("idle")["reclaim_after_years"] == 2
    nil = RB.section("new_industry_land")
    assert (nil["industrial_land_share_min"], nil["industrial_floor_share_min"], nil["plot_ratio_above"],
            nil["building_coverage_min"], nil["green_ratio_max"], nil["split_unit_area_m2_min"]) == (
        0.70, 0.80, 1.5, 0.50, 0.15, 300)
    split = RB.section("split_transfer")
    assert (split["no_split_area_mu_below"], split["small_piece_share_min"], split["large_piece_share_min"]) == (30, 0.30, 0.20)
    assert RB.section("workdays")["commitment_publicity"] == 5


def test_a_county_may_tighten_a_floor():
    tightened = RB.with_override({"standard_land": {"classes": {"traditional_industry": {
        "investment_intensity_min": 300, "green_ratio_max": 0.15}}}}, "411002")
    t = tightened.section("standard_land")["classes"]["traditional_industry"]
    assert t["investment_intensity_min"] == 300 and t["green_ratio_max"] == 0.15
    assert RB.section("standard_land")["classes"]["traditional_industry"]["investment_intensity_min"] == 250
    assert tightened.label == "2021.1+411002" and tightened.fingerprint() != RB.fingerprint()


def test_industry_floors_can_be_tightened_but_not_loosened():
    tightened = RB.with_override({"standard_land": {"industry_plot_ratio_min": {"C34": 1.0}}}, "411002")
    assert tightened.section("standard_land")["industry_plot_ratio_min"]["C34"] == 1.0
    with pytest.raises(ValidationFailed, match="下限只能提高"):
        RB.with_override({"standard_land": {"industry_plot_ratio_min": {"C34": 0.5}}}, "411002")


@pytest.mark.parametrize("override,field,words", [
    ({"standard_land": {"classes": {"traditional_industry": {"investment_intensity_min": 200}}}},
     "standard_land.classes.traditional_industry.investment_intensity_min", "下限只能提高"),
    ({"standard_land": {"classes": {"traditional_industry": {"green_ratio_max": 0.25}}}},
     "standard_land.classes.traditional_industry.green_ratio_max", "上限只能降低"),
    ({"standard_land": {"classes": {"traditional_industry": {"label": "x"}}}},
     "standard_land.classes.traditional_industry.label", "只能收紧"),
    ({"idle": {"fee_rate": 0.1}}, "idle", "不能覆盖"),
    ({"standard_land": {"new_key_min": 1}}, "standard_land.new_key_min", "不能新增"),
])
def test_loosening_or_other_overrides_are_refused(override, field, words):
    with pytest.raises(ValidationFailed) as err:
        RB.with_override(override, "411002")
    assert any(p.field == field and words in p.message for p in err.value.problems), err.value.problems


def test_fingerprint_is_stable_and_version_required():
    assert Rulebook.from_toml(TEXT).fingerprint() == RB.fingerprint()
    with pytest.raises(ValidationFailed, match="版本号"):
        Rulebook.from_toml(re.sub(r'version = "[^"]+"\n', "", TEXT, count=1))
    with pytest.raises(ValidationFailed, match="TOML"):
        Rulebook.from_toml("[rulebook\nversion=1")


def test_overrides_from_files(tmp_path, monkeypatch):
    (tmp_path / "411002.toml").write_text(
        "[standard_land.classes.traditional_industry]\ninvestment_intensity_min = 320\n", encoding="utf-8")
    (tmp_path / "411000-Z10.toml").write_text(
        "[standard_land.classes.traditional_industry]\ninvestment_intensity_min = 300\n", encoding="utf-8")
    monkeypatch.setenv("LANDCYCLE_RULEBOOK_OVERRIDES", str(tmp_path))
    assert rules.load_rulebook(["411002"]).section("standard_land")["classes"]["traditional_industry"][
        "investment_intensity_min"] == 320
    with pytest.raises(ValidationFailed, match="下限只能提高"):
        rules.load_rulebook(["411002", "411000-Z10"])  # the zone may not undercut its county
