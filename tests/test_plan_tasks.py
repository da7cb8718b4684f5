"""Plan tasks (issue 8, item 7): the shipped plan files against the gazette text, deadlines at
their boundaries, quarterly reports by allowed and refused accounts, reloads that keep reports,
and malformed files that change nothing — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select, text

from conftest import PASSWORD, SEEDS_DIR, bearer, run_cli
from landcycle.data import DATA_DIR
from landcycle.domain import plan_tasks as rules
from landcycle.domain.errors import ValidationFailed
from landcycle.services import accounts as accounts_service
from landcycle.services import plan_tasks
from landcycle.storage.plan_schema import (Plan, PlanMilestone, PlanMilestoneCompletion, PlanProgressReport, PlanTask,
                                           PlanTaskUnit, PlanVersion)
from landcycle.storage.schema import ChangeLog

PLANS = DATA_DIR / "plans"
XUCHANG = PLANS / "xuchang_2021.toml"
YUZHOU = PLANS / "yuzhou_2021.toml"


def spec(path):
    return rules.read_plan(path.read_bytes(), path.name)


def task(plan, number):
    return next(t for t in plan.tasks if t.number == number)


# =========================================================================== the files
def test_the_shipped_files_hold_27_and_25_tasks_with_staged_deadlines():
    x, y = spec(XUCHANG), spec(YUZHOU)
    assert [t.number for t in x.tasks] == list(range(1, 28)) and x.jurisdiction == "411000"
    assert [t.number for t in y.tasks] == list(range(1, 26)) and y.jurisdiction == "411081"
    # staged: 2021年3月底前…；2021年6月底前…
    assert [(m.due, m.basis) for m in task(x, 11).milestones] == [(date(2021, 3, 31), "完成时限"),
                                                                  (date(2021, 6, 30), "完成时限")]
    assert task(x, 11).milestones[0].what == "建立全市批而未供、闲置土地和低效用地认定标准体系"
    # 魏都 first by 9月底 (the task's text), city-wide by 年底 (its 完成时限)
    assert [(m.due, m.basis) for m in task(x, 8).milestones] == [(date(2021, 9, 30), "正文"),
                                                                 (date(2021, 12, 31), "完成时限")]
    assert [m.due for m in task(x, 17).milestones] == [date(2021, 6, 30), date(2021, 12, 31)]
    assert [m.due for m in task(y, 13).milestones] == [date(2021, 8, 31), date(2022, 9, 30)]
    assert task(y, 13).ongoing == ("完成处置目标后持续推进",)
    # 年底 = 12-31, "12月底前" too; 上半年 = 06-30
    assert [m.due for m in task(x, 2).milestones] == [date(2021, 12, 31)]
    assert [m.due for m in task(x, 24).milestones] == [date(2021, 12, 31)]
    assert [m.due for m in task(x, 7).milestones] == [date(2021, 6, 30)]
    for p in (x, y):
        for t in p.tasks:
            assert t.units[0] == t.lead and len(set(t.units)) == len(t.units)
            assert t.milestones and all(a.due <= b.due for a, b in zip(t.milestones, t.milestones[1:]))
    # seed 000: "排首位的为牵头单位"; seed 001: a separate 牵头单位 line, put first
    assert task(x, 25).units == ("经济技术开发区管委会", "魏都区人民政府", "建安区人民政府")
    assert task(y, 9).lead == "各乡镇人民政府" and task(y, 9).units[1] == "产业集聚区管委会"


def _seed(name: str) -> str:
    path = SEEDS_DIR / name
    if not path.exists():
        pytest.skip(f"种子文本不存在：{path}")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [XUCHANG, YUZHOU], ids=["xuchang", "yuzhou"])
def test_every_task_reads_as_in_the_seed(path):
    p = spec(path)
    seed = _seed(p.source_seed)
    lines = seed.split("\n")
    first, last = (int(n) for n in p.source_lines.split("-"))
    in_range = "\n".join(lines[first - 1:last])
    joined = re.sub(r"\n+", "", in_range)  # the gazette's page breaks split sentences
    # as many numbered tasks in the source lines as in the file
    assert len(re.findall(r"^\d+\.\s*\S+?。", in_range, re.M)) == len(p.tasks)
    assert len(re.findall(r"^[ \t]*完成时限：", in_range, re.M)) == len(p.tasks)
    for t in p.tasks:
        assert re.search(rf"^{t.number}\.\s*{re.escape(t.title)}。", in_range, re.M), (t.number, t.title)
        assert re.search(rf"^完成时限：{re.escape(t.deadline_line)}\s*$", in_range, re.M), (t.number, t.deadline_line)
        assert f"{t.number}." in joined and t.text in joined, t.number
        assert t.section in in_range, t.number
        assert "责任单位：" + t.units_line in joined, t.number
        if t.lead_line is not None:
            assert re.search(rf"^[ \t]*牵头单位：{re.escape(t.lead_line)}\s*$", in_range, re.M), t.number
            assert t.lead_line.rstrip("；;") == t.lead
        for u in t.units:
            assert u in t.units_line or u == t.lead, (t.number, u)
        # every year and month a milestone names is in the deadline line or the text
        for m in t.milestones:
            month = "年底" if m.due.month == 12 and m.due.day == 31 else f"{m.due.month}月"
            source = t.deadline_line if m.basis == "完成时限" else t.text
            assert f"{m.due.year}年" in source, (t.number, m)
            if m.due.month != 6 or "上半年" not in source:
                assert month in source or (month == "年底" and "12月底" in source), (t.number, m)


def test_milestone_state_at_the_boundaries():
    due = date(2021, 6, 30)
    assert rules.milestone_status(due, None, due) == {"done": False, "overdue": False, "days_overdue": 0,
                                                      "late_days": 0}
    assert rules.milestone_status(due, None, date(2021, 7, 1))["days_overdue"] == 1
    # done on the due day: never overdue; done later: done, but late
    assert rules.milestone_status(due, due, date(2021, 7, 1))["overdue"] is False
    late = rules.milestone_status(due, date(2021, 7, 3), date(2021, 8, 1))
    assert late["done"] and not late["overdue"] and late["late_days"] == 3
    # a completion recorded for a later day does not count before it
    assert rules.milestone_status(due, date(2021, 7, 3), date(2021, 7, 2))["days_overdue"] == 2
    assert rules.quarter_of(date(2021, 9, 30)) == "2021Q3" and rules.quarter_of(date(2021, 10, 1)) == "2021Q4"
    assert rules.quarter_end(2021, 4) == date(2021, 12, 31)
    with pytest.raises(ValidationFailed):
        rules.parse_quarter("2021Q5")
    assert rules.report_status(None, 100, "r") == ("已完成", 100)
    with pytest.raises(ValidationFailed):
        rules.report_status("已完成", 50, "r")
    assert rules.department_matches("税务", "市税务局") and not rules.department_matches("税务", "市财政局")


# =========================================================================== database
@pytest.fixture
def loaded(db):
    x = plan_tasks.load_plan(db, XUCHANG, actor="测试")
    y = plan_tasks.load_plan(db, YUZHOU, actor="测试")
    return db, x, y


def _task_id(db, plan_id: int, number: int) -> int:
    with db.reader() as s:
        return s.scalar(select(PlanTask.id).where(PlanTask.plan_id == plan_id, PlanTask.number == number))


def _milestones(db, plan_id: int, number: int) -> list[int]:
    with db.reader() as s:
        return list(s.scalars(select(PlanMilestone.id).join(PlanTask, PlanTask.id == PlanMilestone.task_id)
                              .where(PlanTask.plan_id == plan_id, PlanTask.number == number)
                              .order_by(PlanMilestone.position)))


def _counts(db) -> dict[str, int]:
    with db.reader() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in
                (Plan, PlanVersion, PlanTask, PlanTaskUnit, PlanMilestone, PlanProgressReport,
                 PlanMilestoneCompletion, ChangeLog)}


def test_both_plans_load_with_units_marked_as_jurisdictions(loaded):
    db, x, y = loaded
    assert (x["tasks"], x["milestones"], y["tasks"], y["milestones"]) == (27, 34, 25, 26)
    assert x["created"] and x["version"] == 1
    again = plan_tasks.load_plan(db, XUCHANG, actor="测试")
    assert again["unchanged"] and again["version"] == 1
    out = plan_tasks.plan_tasks(db, x["plan_id"], "测试", as_of=date(2021, 1, 1))
    assert out["count"] == 27 and out["plan"]["jurisdiction"]["code"] == "411000"
    t25 = next(t for t in out["tasks"] if t["number"] == 25)
    assert [(u["name"], u["jurisdiction"]["code"]) for u in t25["units"]] == [
        ("经济技术开发区管委会", "411000-JK"), ("魏都区人民政府", "411002"), ("建安区人民政府", "411003")]
    t1 = next(t for t in out["tasks"] if t["number"] == 1)
    assert [(u["name"], u["jurisdiction"], u["collective"]) for u in t1["units"]] == [
        ("市发展和改革委员会", None, None), ("各县（市、区）政府（管委会）", None, "counties"),
        ("各产业集聚区管理机构", None, "zones")]
    yz = plan_tasks.plan_tasks(db, y["plan_id"], "测试", as_of=date(2021, 1, 1))
    assert [u["jurisdiction"]["code"] if u["jurisdiction"] else None for u in yz["tasks"][0]["units"]] == [
        None, "411000-Z05"]
    # a zone finds its own tasks: those naming it or every zone
    mine = plan_tasks.plan_tasks(db, x["plan_id"], "测试", as_of=date(2021, 1, 1), jurisdiction="魏都产业集聚区")
    numbers = {t["number"] for t in mine["tasks"]}
    assert 8 in numbers and 16 not in numbers and 25 not in numbers
    assert {t["number"] for t in plan_tasks.plan_tasks(db, x["plan_id"], "测试", jurisdiction="建安区")["tasks"]} >= {16, 25}


def test_overdue_flags_at_the_due_day_and_the_next(loaded, api):
    db, x, _ = loaded
    url = f"/api/plans/{x['plan_id']}/tasks"
    on_due = api.get(url, params={"as_of": "2021-06-30"}).json()
    t1 = next(t for t in on_due["tasks"] if t["number"] == 1)
    assert t1["milestones"][0]["due"] == "2021-06-30" and not t1["milestones"][0]["overdue"] and t1["status"] == "推进中"
    assert 1 not in {t["number"] for t in api.get(url, params={"as_of": "2021-06-30", "overdue": True}).json()["tasks"]}
    day_after = api.get(url, params={"as_of": "2021-07-01", "overdue": True}).json()
    t1 = next(t for t in day_after["tasks"] if t["number"] == 1)
    assert t1["milestones"][0]["overdue"] and t1["milestones"][0]["days_overdue"] == 1 and t1["status"] == "逾期"
    # the staged task: the first stage overdue, the second not yet due
    t11 = next(t for t in day_after["tasks"] if t["number"] == 11)
    assert [m["days_overdue"] for m in t11["milestones"]] == [92, 1]
    rows = plan_tasks.overdue_tasks(db, date(2021, 7, 1), plan_id=x["plan_id"])
    assert rows[0]["number"] == 11 and rows[0]["days_overdue"] == 92 and rows[0]["due"] == "2021-03-31"
    assert not [r for r in plan_tasks.overdue_tasks(db, date(2021, 3, 31)) if r["plan_id"] == x["plan_id"]]
    # the public reads the plan (a gazette) but not the reports
    assert "reports" not in t1 and "may_report" not in t1
    listed = api.get("/api/plans", params={"as_of": "2021-07-01"}).json()
    assert {p["tasks"] for p in listed} == {27, 25} and all(p["overdue_tasks"] > 0 for p in listed)
    assert api.get("/api/plans/999/tasks").status_code == 404


def test_quarterly_reports_by_allowed_and_refused_accounts(loaded, api, accounts):
    db, x, y = loaded
    t8, t11, t1 = (_task_id(db, x["plan_id"], n) for n in (8, 11, 1))
    yz11 = _task_id(db, y["plan_id"], 11)
    zone, tax, changge = bearer(api, "weidu_zone"), bearer(api, "tax_city"), bearer(api, "changge_zone")
    body = {"quarter": "2021Q3", "text": "魏都产业集聚区可供土地清单已标图入库", "status": "推进中",
            "attachments": ["清单.xlsx"]}
    before = _counts(db)
    # the public must sign in
    assert api.post(f"/api/plan-tasks/{t8}/reports", json=body).status_code == 401
    # a zone manager: a task of every zone (各产业集聚区管理机构) — yes; the 禹州 zone's task — no
    r = api.post(f"/api/plan-tasks/{t8}/reports", json=body, headers=zone)
    assert r.status_code == 201, r.text
    assert r.json()["unit"] == "各产业集聚区管理机构" and r.json()["submitted_by"] == "weidu_zone"
    r = api.post(f"/api/plan-tasks/{yz11}/reports", json=body, headers=changge)
    assert r.status_code == 403 and "不是" in r.text
    # a department: its own unit (市税务局) on the city plan — yes; a task without it — no
    r = api.post(f"/api/plan-tasks/{t11}/reports", json={**body, "percent": 60, "status": None}, headers=tax)
    assert r.status_code == 201 and r.json()["unit"] == "市税务局" and r.json()["status"] == "推进中"
    assert api.post(f"/api/plan-tasks/{t1}/reports", json=body, headers=tax).status_code == 403
    # naming a unit it does not stand for
    r = api.post(f"/api/plan-tasks/{t11}/reports", json={**body, "unit": "市财政局"}, headers=tax)
    assert r.status_code == 422 and "不是本任务的责任单位" in r.text
    r = api.post(f"/api/plan-tasks/{t11}/reports", json={**body, "unit": "市发展和改革委员会"}, headers=tax)
    assert r.status_code == 403
    # a city department does not report on a county's plan; 禹州's own 税务局 and its admin do
    assert api.post(f"/api/plan-tasks/{yz11}/reports", json=body, headers=tax).status_code == 403
    accounts_service.add_user(db, "yz_tax", PASSWORD, role="department", jurisdiction="禹州市", department="税务局")
    accounts_service.add_user(db, "yz_admin", PASSWORD, role="county_admin", jurisdiction="禹州市")
    r = api.post(f"/api/plan-tasks/{yz11}/reports", json=body, headers=bearer(api, "yz_tax"))
    assert r.status_code == 201 and r.json()["unit"] == "税务局"
    r = api.post(f"/api/plan-tasks/{yz11}/reports", json={**body, "unit": "发改委"}, headers=bearer(api, "yz_admin"))
    assert r.status_code == 201 and r.json()["unit"] == "发改委"
    assert api.post(f"/api/plan-tasks/{yz11}/reports", json=body, headers=bearer(api, "changge_admin")).status_code == 403
    # bad input: nothing written, each field named
    r = api.post(f"/api/plan-tasks/{t8}/reports", json={**body, "quarter": "2099Q1"}, headers=zone)
    assert r.status_code == 422 and "尚未开始" in r.text
    r = api.post(f"/api/plan-tasks/{t8}/reports", json={**body, "status": "差不多"}, headers=zone)
    assert r.status_code == 422 and "status" in r.text
    r = api.post(f"/api/plan-tasks/{t8}/reports", json={**body, "attachments": ["../etc/passwd"]}, headers=zone)
    assert r.status_code == 422
    after = _counts(db)
    assert after["plan_progress_reports"] == before["plan_progress_reports"] + 4
    # signed-in readers see the reports; the quarter filter finds tasks still owing one
    url = f"/api/plans/{x['plan_id']}/tasks"
    seen = api.get(url, params={"as_of": "2021-09-30"}, headers=changge).json()
    t8v = next(t for t in seen["tasks"] if t["number"] == 8)
    assert t8v["latest_report"]["text"] == body["text"] and t8v["reported_quarters"] == ["2021Q3"]
    missing = {t["number"] for t in api.get(url, params={"missing_quarter": "2021Q3"}, headers=zone).json()["tasks"]}
    assert 8 not in missing and 11 not in missing and 1 in missing and len(missing) == 25
    assert api.get(url, params={"missing_quarter": "2021Q3"}).status_code == 401
    mine = {t["number"] for t in api.get(url, params={"mine": True}, headers=tax).json()["tasks"]}
    assert 11 in mine and 1 not in mine
    # append-only
    with pytest.raises(Exception):
        with db.transaction("测试") as s:
            s.execute(text("UPDATE plan_progress_reports SET text = 'x'"))


def test_milestones_are_closed_by_admins_or_the_lead_once(loaded, api, accounts):
    db, x, _ = loaded
    accounts_service.add_user(db, "jk_admin", PASSWORD, role="county_admin", jurisdiction="经开区")
    m16 = _milestones(db, x["plan_id"], 16)[0]   # lead 市自然资源和规划局
    m25 = _milestones(db, x["plan_id"], 25)[0]   # lead 经济技术开发区管委会
    m13 = _milestones(db, x["plan_id"], 13)[0]   # lead 各县…（collective)
    body = {"completed_on": "2021-12-20", "evidence": "许政〔2021〕30号"}
    weidu, jk, city = bearer(api, "weidu_admin"), bearer(api, "jk_admin"), bearer(api, "city")
    assert api.post(f"/api/plan-milestones/{m16}/completion", json=body).status_code == 401
    assert api.post(f"/api/plan-milestones/{m16}/completion", json=body, headers=weidu).status_code == 403
    assert api.post(f"/api/plan-milestones/{m25}/completion", json=body, headers=weidu).status_code == 403
    assert api.post(f"/api/plan-milestones/{m13}/completion", json=body, headers=weidu).status_code == 403
    r = api.post(f"/api/plan-milestones/{m25}/completion", json=body, headers=jk)
    assert r.status_code == 201, r.text
    r = api.post(f"/api/plan-milestones/{m16}/completion", json=body, headers=city)
    assert r.status_code == 201 and r.json()["late_days"] == 0
    again = api.post(f"/api/plan-milestones/{m16}/completion", json=body, headers=city)
    assert again.status_code == 422 and "已于 2021-12-20 记录完成" in again.text
    r = api.post(f"/api/plan-milestones/{m13}/completion", json={**body, "completed_on": "2099-01-01"}, headers=city)
    assert r.status_code == 422 and "completed_on" in r.text
    assert api.post("/api/plan-milestones/99999/completion", json=body, headers=city).status_code == 404
    url = f"/api/plans/{x['plan_id']}/tasks"
    t16 = lambda day: next(t for t in api.get(url, params={"as_of": day}, headers=weidu).json()["tasks"]  # noqa: E731
                           if t["number"] == 16)
    assert t16("2021-12-19")["milestones"][0]["done"] is False
    done = t16("2022-01-05")
    assert done["status"] == "已完成" and done["milestones"][0]["completion"]["evidence"] == body["evidence"]


def test_reloading_keeps_reports_and_history(loaded):
    db, x, _ = loaded
    t8 = _task_id(db, x["plan_id"], 8)
    report = plan_tasks.submit_report(db, t8, "city", quarter="2021Q3", text="推进中", status="推进中")
    m = _milestones(db, x["plan_id"], 8)[0]
    plan_tasks.complete_milestone(db, m, "city", completed_on=date(2021, 9, 28), evidence="平台上线通知")
    raw = XUCHANG.read_text(encoding="utf-8")
    # a revised plan: task 8's final deadline moves, task 27 is dropped
    revised = raw.replace('  { due = 2021-12-31, what = "在全市范围内推广" },', '  { due = 2022-03-31, what = "在全市范围内推广" },')
    revised = revised[:revised.index("[[task]]\nnumber = 27")]
    assert revised != raw
    out = plan_tasks.load_plan(db, revised.encode("utf-8"), actor="测试", file_name="xuchang_2021_rev.toml")
    assert (out["created"], out["version"], out["tasks"], out["retired_tasks"]) == (False, 2, 26, 1)
    view = plan_tasks.plan_tasks(db, x["plan_id"], "city", as_of=date(2021, 10, 1))
    assert view["count"] == 26 and view["plan"]["version"] == 2
    t = next(t for t in view["tasks"] if t["number"] == 8)
    assert t["id"] == t8 and [r["id"] for r in t["reports"]] == [report["id"]]
    assert t["milestones"][0]["done"] and t["milestones"][1]["due"] == "2022-03-31"
    with db.reader() as s:
        versions = s.scalars(select(PlanVersion).where(PlanVersion.plan_id == x["plan_id"])
                             .order_by(PlanVersion.version)).all()
        assert [v.version for v in versions] == [1, 2] and versions[0].content["task"][26]["number"] == 27
        assert s.scalar(select(PlanTask.retired_in_version).where(PlanTask.plan_id == x["plan_id"],
                                                                  PlanTask.number == 27)) == 2
        assert s.scalar(select(func.count()).select_from(ChangeLog).where(ChangeLog.entity == "plan_milestones",
                                                                          ChangeLog.action == "update")) == 1


def test_a_malformed_file_changes_nothing_and_names_task_and_field(loaded):
    db, x, _ = loaded
    before = _counts(db)
    raw = XUCHANG.read_text(encoding="utf-8")
    bad = raw.replace('lead = "市自然资源和规划局"\nunits = ["市自然资源和规划局", "各县（市、区）政府（管委会）", '
                      '"各产业集聚区管理机构"]', 'units = ["市自然资源和规划局", "各县（市、区）政府（管委会）", '
                      '"各产业集聚区管理机构"]', 1)  # task 6 loses its lead
    bad = bad.replace("milestones = [{ due = 2022-09-30 }]", 'milestones = [{ due = "2022-09-31" }]', 1)  # task 23
    bad = bad.replace("number = 20\n", "number = 19\n", 1)
    bad = bad.replace('  { due = 2021-12-31, what = "在全市范围内推广" },', '  { due = 2021-12-31, what = "在全市范围内推广" },\n  { due = "年底" },')
    with pytest.raises(ValidationFailed) as exc:
        plan_tasks.load_plan(db, bad.encode("utf-8"), actor="测试", file_name="bad.toml")
    found = {(p.record, p.field, p.code) for p in exc.value.problems}
    assert ("任务 6", "lead", "missing_lead") in found
    assert ("任务 23", "milestones[1].due", "bad_date") in found
    assert ("任务 19", "number", "duplicate") in found
    assert ("任务 8", "milestones[3].due", "bad_date") in found
    assert any("2022-09-31" in p.message and "不存在" in p.message for p in exc.value.problems)
    # an unknown jurisdiction (checked against the database, still before writing)
    with pytest.raises(ValidationFailed) as exc:
        plan_tasks.load_plan(db, raw.replace('jurisdiction = "411000"', 'jurisdiction = "411099"', 1).encode(),
                             actor="测试", file_name="bad.toml")
    assert [(p.record, p.field, p.code) for p in exc.value.problems] == [("方案", "jurisdiction", "unknown_jurisdiction")]
    with pytest.raises(ValidationFailed) as exc:
        plan_tasks.load_plan(db, raw.replace('"各产业集聚区管理机构" = "@zones"', '"各产业集聚区管理机构" = "各园区"', 1)
                             .encode(), actor="测试", file_name="bad.toml")
    assert exc.value.problems[0].field == "unit_jurisdictions.各产业集聚区管理机构"
    with pytest.raises(ValidationFailed) as exc:
        plan_tasks.load_plan(db, b"name = [", actor="x", file_name="broken.toml")
    assert exc.value.problems[0].field == "TOML"
    assert _counts(db) == before
    with db.reader() as s:
        assert s.scalar(select(Plan.version).where(Plan.id == x["plan_id"])) == 1



# The command line is a face over services the API tests exercise on both backends: SQLite only.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_cli_loads_lists_and_refuses_without_traceback(db, tmp_path):
    out = run_cli(db.url, "plan", "load", str(XUCHANG))
    assert "已加载" in out.stdout and "任务 27 项" in out.stdout
    again = run_cli(db.url, "plan", "load", str(XUCHANG))
    assert "方案未变化" in again.stdout
    listed = run_cli(db.url, "plan", "overdue", "--as-of", "2021-07-01", "--json")
    assert '"days_overdue": 92' in listed.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(XUCHANG.read_text(encoding="utf-8").replace("number = 5\n", "number = 4\n"), encoding="utf-8")
    r = run_cli(db.url, "plan", "load", str(bad), check=False)
    assert r.exit_code == 2 and "任务 4：字段 number" in r.stderr and "Traceback" not in r.stderr
    tasks = run_cli(db.url, "plan", "tasks", "1", "--as-of", "2021-07-01", "--overdue", "--json")
    assert '"number": 11' in tasks.stdout
