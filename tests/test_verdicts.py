"""Stored evaluation results read back as verdicts (figures, reasons, clauses), on both backends."""

from datetime import date

import pytest
from sqlalchemy import text

from landcycle.domain.errors import NotFound
from landcycle.domain.vocabulary import InefficiencyCategory
from landcycle.services import evaluation, publicity, verdicts
from landcycle.services.demo import generate_demo


@pytest.fixture
def evaluated(db):
    generate_demo(db)
    return db, evaluation.evaluate(db, 2020, actor="评价办").run_id


def _codes(db, sql):
    with db.engine.connect() as c:
        return [r[0] for r in c.execute(text(sql))]


def test_every_low_efficiency_category_is_explained_with_its_clause(evaluated):
    db, run_id = evaluated
    seen = set()
    rows = _codes(db, "SELECT p.code FROM parcel_evaluations r JOIN parcels p ON p.id = r.parcel_id "
                      "WHERE r.low_efficiency_mask > 0 ORDER BY p.code")
    for code in rows:
        r4 = verdicts.parcel_verdicts(db, code)["verdicts"][2]
        assert r4["rule_id"] == "R4" and r4["outcome"] == "inefficient"
        for cat in r4["figures"]["categories"]:
            detail = r4["figures"]["category_details"][cat]
            assert detail["citation"]["source"].startswith("000:10")
            assert any(r.startswith(InefficiencyCategory(cat).label) for r in r4["reasons"])
            seen.add(cat)
    assert seen == {c.value for c in InefficiencyCategory}


def test_idle_verdicts_name_the_period_and_the_national_clause(evaluated):
    db, _run = evaluated
    [code] = _codes(db, "SELECT p.code FROM parcel_evaluations r JOIN parcels p ON p.id = r.parcel_id "
                        "WHERE r.idle_outcome = 'reclaim' ORDER BY p.code LIMIT 1")
    r3 = verdicts.parcel_verdicts(db, code)["verdicts"][1]
    assert r3["outcome"] == "reclaim" and r3["figures"]["idle_full_years"] >= 2
    assert any("第十四条" in c["source"] for c in r3["citation"])
    assert any("无偿收回" in r for r in r3["reasons"])


def test_enterprise_verdict_after_an_upheld_objection(evaluated):
    db, run_id = evaluated
    [code] = _codes(db, "SELECT e.credit_code FROM enterprise_evaluations r JOIN enterprises e ON e.id = r.enterprise_id "
                        "WHERE r.result_class = 'C' ORDER BY e.credit_code LIMIT 1")
    before = verdicts.enterprise_verdicts(db, code)
    assert before["verdicts"][1]["outcome"] == "C" and "按同组名次" in before["verdicts"][1]["reasons"][-1]
    publicity.publish(db, run_id, date(2021, 9, 17), actor="评价办")
    oid = publicity.file_objection(db, run_id, code, "漏报退税", date(2021, 9, 22), actor="企业")
    publicity.decide_objection(db, oid, True, "税务局核实", date(2021, 9, 28), actor="评价办", revised_class="B")
    after = verdicts.enterprise_verdicts(db, code)
    assert after["result_version"] == 2 and after["verdicts"][1]["outcome"] == "B"
    assert any("经公示异议改定" in r for r in after["verdicts"][1]["reasons"])


def test_not_evaluated_enterprises_say_why(evaluated):
    db, _run = evaluated
    [code] = _codes(db, "SELECT e.credit_code FROM enterprise_evaluations r JOIN enterprises e ON e.id = r.enterprise_id "
                        "WHERE r.status = 'not_evaluated' ORDER BY e.credit_code LIMIT 1")
    r2 = verdicts.enterprise_verdicts(db, code)["verdicts"][1]
    assert r2["outcome"] == "not_evaluated" and r2["reasons"][0] and "按B类管理" in r2["reasons"][1]


def test_unknown_subjects(evaluated):
    db, run_id = evaluated
    with pytest.raises(NotFound):
        verdicts.parcel_verdicts(db, "411002001001GB99999")
    with pytest.raises(NotFound):
        verdicts.enterprise_verdicts(db, "91110000600037341L")
