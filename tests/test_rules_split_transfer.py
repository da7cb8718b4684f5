"""R8 分割转让 (000:1182–1256): every boundary, both readings of exactly 100 亩, each banned case."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import landcycle.data
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.rules import split_transfer
from landcycle.domain.rules.inputs import parse_case
from landcycle.domain.rules.rulebook import Rulebook

RULEBOOK = Rulebook.from_toml((landcycle.data.DATA_DIR / "rulebook.toml").read_text(encoding="utf-8"))
RULES = RULEBOOK.section("split_transfer")
DOCS = list(RULES["required_documents"])
from conftest import SEEDS_DIR as SEEDS  # noqa: E402


def rulebook_with(**settings_):
    data = copy.deepcopy(RULEBOOK.data)
    data["split_transfer"].update(settings_)
    return Rulebook(RULEBOOK.version, RULEBOOK.jurisdiction, RULEBOOK.name, data)


LARGE_READING = rulebook_with(exactly_100_mu_reading="large")


def case(**kw):
    data = {"parcel_area_mu": 60.0, "pieces_mu": [30.0, 30.0], "documents": list(DOCS)}
    data.update(kw)
    return data


def run(data, rulebook=RULEBOOK):
    check = split_transfer.CHECK
    v = check.run(parse_case(check.input_type, data), rulebook)
    json.dumps(v.to_dict(), ensure_ascii=False)
    assert v.outcome in check.outcomes and v.outcome_label == check.outcomes[v.outcome]
    assert (v.rule, v.rule_id, v.rulebook_version) == ("split-transfer", "R8", rulebook.label)
    assert v.reasons and v.citations
    return v


def sources(v):
    return {c.source for c in v.citations}


def test_contract_and_example():
    assert split_transfer.CHECK.name == "split-transfer"
    v = run(split_transfer.CHECK.example)
    assert v.outcome == "incomplete" and v.figures["missing_documents"] == ["身份证明材料"]
    assert v.figures["remaining_term_years"] == 42


def test_citations_quote_the_seed_lines():
    path = SEEDS / "000_d1616d0f159e6d21.txt"
    if not path.exists():
        pytest.skip("种子文件不在本机")
    lines = path.read_text(encoding="utf-8").splitlines()
    cites = [getattr(split_transfer, n) for n in dir(split_transfer) if n.startswith("CITE")]
    cites += [split_transfer.Citation(line, text) for line, text in split_transfer.BANNED.values()]
    checked = 0
    for c in cites:
        m = re.fullmatch(r"000:(\d+)(?:-(\d+))?", c.source)
        if not m:
            continue
        body = "".join("".join(lines[int(m.group(1)) - 1:int(m.group(2) or m.group(1))]).split())
        for frag in c.text.split("……"):
            assert "".join(frag.split()) in body, (c.source, frag)
        checked += 1
    assert checked >= 14
    # the rulebook's document list is the one in 000:1224-1233
    body = "".join(lines[1223:1235])
    for doc in DOCS + [RULES["co_owner_document"]]:
        assert doc.split("（")[0] in body, doc


# ------------------------------------------------------------------ parcel size and piece shares

@pytest.mark.parametrize("parcel,pieces,reading,outcome,band", [
    (30.0, [15.0, 15.0], "small", "eligible", "small"),          # exactly 30 亩: may be considered
    (29.99, [14.995, 14.995], "small", "ineligible", "below_minimum"),
    (0.5, [0.25, 0.25], "small", "ineligible", "below_minimum"),
    # exactly 100 亩 under both readings
    (100.0, [75.0, 25.0], "small", "ineligible", "small"),
    (100.0, [75.0, 25.0], "large", "eligible", "large"),
    (100.0, [70.0, 30.0], "small", "eligible", "small"),
    (100.0, [70.0, 30.0], "large", "eligible", "large"),
    (100.0, [80.0, 20.0], "large", "eligible", "large"),
    (100.0, [80.01, 19.99], "large", "ineligible", "large"),
    (99.99, [74.99, 25.0], "large", "ineligible", "small"),      # the reading only matters at exactly 100
    (100.01, [80.0, 20.01], "small", "eligible", "large"),
    # a piece exactly 30% (≤ 100 亩) and exactly 20% (> 100 亩)
    (50.0, [35.0, 15.0], "small", "eligible", "small"),
    (50.0, [35.01, 14.99], "small", "ineligible", "small"),
    (150.0, [120.0, 30.0], "small", "eligible", "large"),
    (150.0, [120.01, 29.99], "small", "ineligible", "large"),
    (123.45, [98.76, 24.69], "small", "eligible", "large"),      # 20% in awkward floats
    (33.3, [23.31, 9.99], "small", "eligible", "small"),         # 30% in awkward floats
    (300.0, [60.0, 60.0, 60.0, 60.0, 60.0], "small", "eligible", "large"),
])
def test_size_and_share_boundaries(parcel, pieces, reading, outcome, band):
    rb = LARGE_READING if reading == "large" else RULEBOOK
    v = run(case(parcel_area_mu=parcel, pieces_mu=pieces), rb)
    assert v.outcome == outcome, v.reasons
    assert v.figures["size_band"] == band
    assert v.figures["exactly_100_mu_reading"] == reading


def test_reason_names_piece_share_and_threshold():
    v = run(case(parcel_area_mu=150.0, pieces_mu=[126.0, 24.0]))
    assert v.figures["pieces_below_min"] == [{"piece": 2, "area_mu": 24.0, "share": 0.16}]
    assert "第2块 24 亩，占供应总面积 16%，低于100亩以上宗地要求的20%" in v.reasons
    v = run(case(parcel_area_mu=100.0, pieces_mu=[75.0, 25.0]))
    assert any("恰为100亩" in r and "30%" in r for r in v.reasons)


def test_under_30_mu_reason():
    v = run(case(parcel_area_mu=29.99, pieces_mu=[14.995, 14.995]))
    assert "宗地面积 29.99 亩，不足 30 亩，原则上不进行宗地分割" in v.reasons
    assert v.figures["piece_share_min"] is None


def test_shipped_reading_is_small():
    assert RULES["exactly_100_mu_reading"] == "small"


def test_bad_reading_setting():
    with pytest.raises(ValidationFailed) as exc:
        run(case(parcel_area_mu=100.0, pieces_mu=[50.0, 50.0]), rulebook_with(exactly_100_mu_reading="both"))
    assert exc.value.problems[0].field == "split_transfer.exactly_100_mu_reading"


@pytest.mark.parametrize("pieces,outcome", [
    ([30.0, 30.01], "eligible"),        # within 0.01 亩
    ([30.0, 29.99], "eligible"),
    ([30.0, 30.02], "ineligible"),
    ([30.0, 29.98], "ineligible"),
    ([60.0], "ineligible"),             # a single piece is no split
    ([], "ineligible"),
])
def test_pieces_sum_and_count(pieces, outcome):
    assert run(case(pieces_mu=pieces)).outcome == outcome


# ------------------------------------------------------------------ banned cases, 标准地, construction

@pytest.mark.parametrize("field,line", [(f, line) for f, (line, _) in split_transfer.BANNED.items()])
def test_each_banned_case(field, line):
    v = run(case(**{field: True}))
    assert v.outcome == "ineligible"
    assert v.figures["banned_cases"] == [field]
    assert {line, "000:1241"} <= sources(v)
    assert any(split_transfer.BANNED[field][1] in r for r in v.reasons)


def test_all_reasons_are_listed():
    v = run(case(parcel_area_mu=29.0, pieces_mu=[29.0], contract_forbids_split=True, breaks_planning_or_safety=True,
                 standard_land=True, documents=[]))
    assert v.outcome == "ineligible"
    assert v.reasons[0] == "不得分割转让：6 项不符合"  # 1 piece, <30 亩, 2 banned, 2 标准地 unconfirmed
    assert len(v.figures["missing_documents"]) == len(DOCS)  # still listed


@pytest.mark.parametrize("inv,far,outcome", [
    (True, True, "eligible"), (False, True, "ineligible"), (True, False, "ineligible"),
    (None, True, "ineligible"), (True, None, "ineligible"),
])
def test_standard_land_conditions(inv, far, outcome):
    v = run(case(standard_land=True, agreed_investment_intensity_met=inv, agreed_far_met=far))
    assert v.outcome == outcome
    assert "000:1196" in sources(v)


def test_standard_land_conditions_ignored_for_ordinary_land():
    assert run(case(agreed_investment_intensity_met=False, agreed_far_met=False)).outcome == "eligible"


CONSTRUCTION_DOCS = DOCS + [RULES["construction_document"]]


@pytest.mark.parametrize("ratio,outcome", [(0.25, "eligible"), (0.9, "eligible"), (0.2499, "ineligible"),
                                           (0.0, "ineligible"), (None, "ineligible")])
def test_construction_investment(ratio, outcome):
    v = run(case(under_construction=True, investment_ratio=ratio, documents=CONSTRUCTION_DOCS))
    assert v.outcome == outcome
    assert "000:1229" in sources(v)
    assert ("000:1250" in sources(v)) is (ratio is not None and ratio < 0.25)


def test_construction_needs_its_document():
    v = run(case(under_construction=True, investment_ratio=0.3))
    assert v.outcome == "incomplete"
    assert v.figures["missing_documents"] == [RULES["construction_document"]]


def test_co_owned_needs_consent():
    v = run(case(co_owned=True))
    assert v.outcome == "incomplete"
    assert v.figures["missing_documents"] == [RULES["co_owner_document"]]
    assert "000:1210" in sources(v)
    assert run(case(co_owned=True, documents=DOCS + [RULES["co_owner_document"]])).outcome == "eligible"


# ------------------------------------------------------------------ documents

def test_missing_documents_listed_in_order():
    v = run(case(documents=DOCS[2:]))
    assert v.outcome == "incomplete"
    assert v.figures["missing_documents"] == DOCS[:2]
    assert "000:1222-1235" in sources(v)


def test_document_names_ignore_spaces_and_bracket_width():
    docs = [d.replace("（", "(").replace("）", ")") for d in DOCS]
    docs[0] = " " + docs[0] + " "
    v = run(case(documents=docs + ["营业执照"]))
    assert v.outcome == "eligible"
    assert v.figures["unrecognised_documents"] == ["营业执照"]


def test_no_documents_at_all():
    v = run(case(documents=[]))
    assert v.outcome == "incomplete" and v.figures["missing_documents"] == DOCS


# ------------------------------------------------------------------ term, price, 划拨

@pytest.mark.parametrize("term,used,remaining,outcome", [
    (50, 8, 42, "eligible"), (50, 49.5, 0.5, "eligible"), (50, 50, 0, "ineligible"), (50, 55, -5, "ineligible"),
    (50, None, None, "eligible"), (None, 8, None, "eligible"), (None, None, None, "eligible"),
])
def test_remaining_term(term, used, remaining, outcome):
    v = run(case(term_years=term, years_used=used))
    assert v.figures["remaining_term_years"] == remaining
    assert v.outcome == outcome
    assert ("000:1216" in sources(v)) is (remaining is not None)


@pytest.mark.parametrize("declared,market,flag", [
    (790.0, 1000.0, True), (800.0, 1000.0, False), (1200.0, 1000.0, False), (None, 1000.0, None), (800.0, None, None),
])
def test_priority_purchase(declared, market, flag):
    v = run(case(declared_price_wan=declared, market_price_wan=market))
    assert v.outcome == "eligible"  # never blocks
    assert v.figures["government_priority_purchase"] is flag
    assert ("000:1218" in sources(v)) is (flag is not None)


def test_priority_ratio_is_a_setting():
    rb = rulebook_with(price_below_market_ratio=0.9)
    assert run(case(declared_price_wan=850.0, market_price_wan=1000.0), rb).figures["government_priority_purchase"]


def test_zero_market_price_rejected():
    with pytest.raises(ValidationFailed) as exc:
        run(case(declared_price_wan=1.0, market_price_wan=0.0))
    assert exc.value.problems[0].field == "market_price_wan"


def test_allocated_land_needs_government_approval():
    v = run(case(allocated_land=True))
    assert v.outcome == "eligible"
    assert v.figures["government_approval_required"] is True
    assert "000:1206" in sources(v)
    assert any("有批准权的人民政府批准" in r for r in v.reasons)


def test_zero_parcel_rejected():
    with pytest.raises(ValidationFailed):
        run(case(parcel_area_mu=0.0, pieces_mu=[0.0, 0.0]))


# ------------------------------------------------------------------ properties

@st.composite
def partitions(draw):
    parcel = draw(st.floats(30, 1000, allow_nan=False))
    n = draw(st.integers(3, 5))
    weights = draw(st.lists(st.floats(1, 2, allow_nan=False), min_size=n, max_size=n))
    total = sum(weights)
    return parcel, [parcel * w / total for w in weights]


@settings(max_examples=200, deadline=None)
@given(partitions(), st.data())
def test_merging_two_pieces_keeps_an_eligible_split_eligible(partition, data):
    parcel, pieces = partition
    before = run(case(parcel_area_mu=parcel, pieces_mu=pieces))
    assume(before.outcome == "eligible")
    i, j = data.draw(st.lists(st.integers(0, len(pieces) - 1), min_size=2, max_size=2, unique=True))
    merged = [p for k, p in enumerate(pieces) if k not in (i, j)] + [pieces[i] + pieces[j]]
    assert run(case(parcel_area_mu=parcel, pieces_mu=merged)).outcome == "eligible"


@settings(max_examples=100, deadline=None)
@given(partitions(), st.randoms(use_true_random=False))
def test_order_of_pieces_does_not_matter(partition, rnd):
    parcel, pieces = partition
    shuffled = list(pieces)
    rnd.shuffle(shuffled)
    assert run(case(parcel_area_mu=parcel, pieces_mu=pieces)).outcome == \
        run(case(parcel_area_mu=parcel, pieces_mu=shuffled)).outcome
