"""公示 of evaluation results: objection window in working days, objections, new result versions."""

from datetime import date

import pytest
from sqlalchemy import text

from landcycle.domain.errors import NotFound, ValidationFailed
from landcycle.services import evaluation, publicity
from landcycle.services.demo import generate_demo


@pytest.fixture
def run(db):
    generate_demo(db, scale=300)
    report = evaluation.evaluate(db, 2020, actor="评价办")
    with db.engine.connect() as c:
        row = c.execute(text(
            "SELECT e.credit_code, r.result_class, r.id FROM enterprise_evaluations r "
            "JOIN enterprises e ON e.id = r.enterprise_id WHERE r.run_id = :r AND r.status = 'evaluated' "
            "AND r.result_class = 'C' ORDER BY r.id LIMIT 1"), {"r": report.run_id}).one()
    return db, report.run_id, row[0], row[2]


def test_window_runs_in_working_days_across_a_holiday(run):
    db, run_id, _code, _rid = run
    # Published on Friday 2021-09-17: the 5 working days are Sat 18 Sep (调休 for 中秋), 22, 23, 24
    # Sep (after 中秋 19–21) and Sun 26 Sep (调休 for 国庆) — not the calendar-naive 24th.
    pub = publicity.publish(db, run_id, date(2021, 9, 17), actor="评价办")
    assert pub.window_workdays == 5 and pub.objection_deadline == date(2021, 9, 26)
    with pytest.raises(ValidationFailed, match="已经公示"):
        publicity.publish(db, run_id, date(2021, 9, 18), actor="评价办")


def test_objection_outside_the_window_or_before_publication_is_refused(run):
    db, run_id, code, _rid = run
    with pytest.raises(ValidationFailed, match="尚未公示"):
        publicity.file_objection(db, run_id, code, "税收数据有误", date(2021, 9, 17), actor="企业")
    publicity.publish(db, run_id, date(2021, 9, 17), actor="评价办")
    with pytest.raises(ValidationFailed, match="不在异议期内"):
        publicity.file_objection(db, run_id, code, "税收数据有误", date(2021, 9, 27), actor="企业")
    assert publicity.file_objection(db, run_id, code, "税收数据有误", date(2021, 9, 26), actor="企业") > 0
    with pytest.raises(ValidationFailed, match="异议理由"):
        publicity.file_objection(db, run_id, code, " ", date(2021, 9, 22), actor="企业")


def test_upheld_objection_adds_a_version_and_keeps_the_original(run):
    db, run_id, code, original_id = run
    publicity.publish(db, run_id, date(2021, 9, 17), actor="评价办")
    oid = publicity.file_objection(db, run_id, code, "漏报退税减免 300 万元", date(2021, 9, 22), actor="企业")
    with pytest.raises(ValidationFailed, match="改定的类别"):
        publicity.decide_objection(db, oid, True, "核实属实", date(2021, 9, 28), actor="评价办")
    view = publicity.decide_objection(db, oid, True, "税务局核实退税属实", date(2021, 9, 28), actor="评价办",
                                      revised_class="B")
    assert view["status"] == "upheld" and view["revised_result_id"]
    history = publicity.result_history(db, run_id, code)
    assert [(h["result_version"], h["result_class"]) for h in history] == [(1, "C"), (2, "B")]
    assert history[0]["id"] == original_id and history[1]["supersedes_id"] == original_id
    assert "异议" in history[1]["note"]
    with pytest.raises(ValidationFailed, match="已处理"):
        publicity.decide_objection(db, oid, False, "重复处理", date(2021, 9, 29), actor="评价办")


def test_rejected_objection_changes_no_result(run):
    db, run_id, code, _rid = run
    publicity.publish(db, run_id, date(2021, 9, 17), actor="评价办")
    oid = publicity.file_objection(db, run_id, code, "认为分类过低", date(2021, 9, 22), actor="企业")
    publicity.decide_objection(db, oid, False, "数据无误", date(2021, 9, 27), actor="评价办")
    assert [h["result_version"] for h in publicity.result_history(db, run_id, code)] == [1]
    status = publicity.publication_status(db, run_id)
    assert status["counts"] == {"pending": 0, "upheld": 0, "rejected": 1}


def test_unknown_things(run):
    db, run_id, _code, _rid = run
    with pytest.raises(NotFound):
        publicity.publish(db, 99999, date(2021, 9, 17), actor="x")
    with pytest.raises(NotFound):
        publicity.decide_objection(db, 99999, False, "x", date(2021, 9, 17), actor="x")
