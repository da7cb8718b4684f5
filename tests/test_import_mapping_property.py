"""map_rows decides each distinct cell once and spreads the result over the rows (issue 4 speed):
that must never change what any row gets — a batch maps exactly as its rows would one by one,
whatever mix of types a column holds (1, 1.0 and True hash alike but convert apart)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from landcycle.domain.import_mapping import default_mapping, map_rows

CELLS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 2.5, float("nan")]),
    st.sampled_from(["", " ", "1", "1.0", "12.5亩", "3公顷", "abc", "工业用地", "0601", "2021-03-04",
                     "20210304", "闲置土地", "划拨", "91410100MA44XXXXX0", "911101087263761234"]))
COLUMNS = ["宗地代码", "宗地面积", "面积单位", "土地用途", "土地状态", "供地日期", "出让年限", "价款",
           "价款单位", "权利人", "统一社会信用代码", "供地方式", "备注"]
ROWS = st.lists(st.fixed_dictionaries({}, optional={c: CELLS for c in COLUMNS}), min_size=1, max_size=12)


def _view(res):
    return [(r.source_id, r.values, r.owner_name, r.owner_credit_code,
             [(p.record, p.field, p.message, p.code) for p in r.problems]) for r in res.rows]


@settings(max_examples=300, deadline=None)
@given(ROWS)
def test_a_batch_maps_as_its_rows_one_by_one(rows):
    mapping = default_mapping()
    ids = [f"第{i + 1}行" for i in range(len(rows))]
    together = _view(map_rows(mapping, rows, ids))
    # Alone, a row sees only its own columns; give it every column of the batch (blank) too,
    # so column resolution (units from names, duplicates) is the same.
    columns = {c: None for row in rows for c in row}
    alone = [_view(map_rows(mapping, [{**columns, **row}], [sid]))[0] for row, sid in zip(rows, ids)]
    assert together == alone
