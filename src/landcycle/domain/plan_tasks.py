"""Plan tasks (issue 8, item 7) — pure rules, no I/O: reading and checking a plan file, quarters,
and whether a milestone is done or overdue on a day.

A plan file (TOML, format in ``docs/plan-tasks.md``) holds one plan: name, issuing
jurisdiction, source, the units that name jurisdictions, and its numbered tasks, each with its
section, title, verbatim text, 牵头单位 (``lead``, also the first of ``units``), all 责任单位 in
order, the verbatim 完成时限 line and one or more dated milestones (a staged deadline becomes
several). :func:`read_plan` checks the whole file and reports every problem at once, naming the
task number and the field, so a bad file changes nothing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .errors import Problem, ValidationFailed

#: The plan-file format this code reads.
FORMAT = 1
#: Progress report statuses (a report gives a status, a percentage, or both).
STATUSES = ("未开始", "推进中", "已完成")
#: Where a milestone's date comes from: the task's 完成时限 line, or a dated goal in its text.
BASES = ("完成时限", "正文")
#: Collective units: every county/管委会, or every 产业集聚区, of the plan's jurisdiction.
COLLECTIVES = {"@counties": "counties", "@zones": "zones"}
COLLECTIVE_LABELS = {"counties": "各县（市、区）政府（管委会）", "zones": "各产业集聚区"}

_PLAN_KEYS = {"format", "name", "jurisdiction", "document", "issued", "source", "unit_jurisdictions", "task"}
_TASK_KEYS = {"number", "section", "title", "text", "lead", "units", "units_line", "lead_line",
              "deadline_line", "milestones", "ongoing"}
_MILESTONE_KEYS = {"due", "what", "basis"}
_QUARTER = re.compile(r"(\d{4})Q([1-4])")


@dataclass(frozen=True)
class MilestoneSpec:
    position: int
    due: date
    what: str
    basis: str


@dataclass(frozen=True)
class TaskSpec:
    number: int
    section: str
    title: str
    text: str
    lead: str
    units: tuple[str, ...]
    units_line: str
    lead_line: str | None
    deadline_line: str
    milestones: tuple[MilestoneSpec, ...]
    ongoing: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanSpec:
    name: str
    jurisdiction: str
    document: str | None
    issued: date | None
    source_seed: str | None
    source_lines: str | None
    #: unit text → jurisdiction code/name/alias, or "@counties"/"@zones".
    unit_jurisdictions: dict[str, str]
    tasks: tuple[TaskSpec, ...]
    #: The file as parsed, JSON-ready (dates as ISO text): what a plan version keeps.
    content: dict[str, Any] = field(default_factory=dict, compare=False)


def _text(value: Any, record: str, name: str, problems: list[Problem], required: bool = True,
          max_length: int = 20000) -> str | None:
    if value is None:
        if required:
            problems.append(Problem(record, name, "缺少该字段", "missing"))
        return None
    if not isinstance(value, str):
        problems.append(Problem(record, name, f"应为文本，实际为 {type(value).__name__}", "wrong_type"))
        return None
    value = value.strip()
    if required and not value:
        problems.append(Problem(record, name, "不能为空", "missing"))
        return None
    if len(value) > max_length:
        problems.append(Problem(record, name, f"最长 {max_length} 个字符", "too_long"))
        return None
    return value or None


def _date(value: Any, record: str, name: str, problems: list[Problem]) -> date | None:
    """A TOML date (2021-06-30) or the same as text; a datetime or anything else is refused."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            problems.append(Problem(record, name, f"日期“{value}”不存在", "bad_date"))
            return None
    problems.append(Problem(record, name, f"日期格式错误：“{value}”，应为 YYYY-MM-DD（如 2021-06-30）", "bad_date"))
    return None


def _unknown_keys(table: dict, allowed: set[str], record: str, problems: list[Problem]) -> None:
    for key in sorted(set(table) - allowed):
        problems.append(Problem(record, key, "未知字段（可用字段：" + "、".join(sorted(allowed)) + "）", "unknown_field"))


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def read_plan(raw: bytes | str, file_name: str = "方案文件") -> PlanSpec:
    """Parse and check a plan file; raise :class:`ValidationFailed` with every problem found
    (record "任务 N" and the field, or "方案" for the plan's own fields)."""
    record_file = f"方案文件 {file_name}"
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise ValidationFailed(Problem(record_file, "编码", f"文件不是 UTF-8 编码（第 {exc.start} 字节）", "bad_encoding"))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(Problem(record_file, "TOML", f"文件格式错误：{exc}", "bad_toml"))
    problems: list[Problem] = []
    plan = "方案"
    _unknown_keys(data, _PLAN_KEYS, plan, problems)
    if data.get("format") != FORMAT:
        problems.append(Problem(plan, "format", f"应为 {FORMAT}（本程序读取的方案文件格式），实际为 {data.get('format')!r}",
                                "bad_format"))
    name = _text(data.get("name"), plan, "name", problems, max_length=300)
    jurisdiction = _text(data.get("jurisdiction"), plan, "jurisdiction", problems, max_length=100)
    document = _text(data.get("document"), plan, "document", problems, required=False, max_length=100)
    issued = _date(data["issued"], plan, "issued", problems) if "issued" in data else None
    source = data.get("source", {})
    seed = lines = None
    if not isinstance(source, dict):
        problems.append(Problem(plan, "source", "应为表（seed、lines）", "wrong_type"))
    else:
        _unknown_keys(source, {"seed", "lines"}, plan, problems)
        seed = _text(source.get("seed"), plan, "source.seed", problems, required=False, max_length=200)
        lines = _text(source.get("lines"), plan, "source.lines", problems, required=False, max_length=50)
    mapping: dict[str, str] = {}
    raw_map = data.get("unit_jurisdictions", {})
    if not isinstance(raw_map, dict):
        problems.append(Problem(plan, "unit_jurisdictions", "应为表（单位名称 = 辖区代码、名称或 @counties/@zones）",
                                "wrong_type"))
    else:
        for unit, target in raw_map.items():
            t = _text(target, plan, f"unit_jurisdictions.{unit}", problems, max_length=100)
            if t is not None:
                if t.startswith("@") and t not in COLLECTIVES:
                    problems.append(Problem(plan, f"unit_jurisdictions.{unit}",
                                            f"“{t}”不是可用的集合单位（@counties 或 @zones）", "unknown_collective"))
                mapping[unit.strip()] = t
    raw_tasks = data.get("task")
    tasks: list[TaskSpec] = []
    if not isinstance(raw_tasks, list) or not raw_tasks:
        problems.append(Problem(plan, "task", "方案没有任务（应有若干 [[task]] 表）", "missing"))
        raw_tasks = []
    seen: dict[int, int] = {}
    for index, t in enumerate(raw_tasks, 1):
        if not isinstance(t, dict):
            problems.append(Problem(f"第{index}个任务", "task", "应为表", "wrong_type"))
            continue
        number = t.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            problems.append(Problem(f"第{index}个任务", "number", f"任务编号应为正整数，实际为 {number!r}", "bad_number"))
            record = f"第{index}个任务"
            number = None
        else:
            record = f"任务 {number}"
            if number in seen:
                problems.append(Problem(record, "number", f"编号重复（第{seen[number]}个和第{index}个任务都是 {number}）",
                                        "duplicate"))
            seen.setdefault(number, index)
        tp: list[Problem] = []
        _unknown_keys(t, _TASK_KEYS, record, tp)
        section = _text(t.get("section"), record, "section", tp, max_length=200)
        title = _text(t.get("title"), record, "title", tp, max_length=300)
        body = _text(t.get("text"), record, "text", tp)
        lead = t.get("lead")
        if lead is None or (isinstance(lead, str) and not lead.strip()):
            tp.append(Problem(record, "lead", "缺少牵头单位", "missing_lead"))
            lead = None
        else:
            lead = _text(lead, record, "lead", tp, max_length=200)
        units_raw = t.get("units")
        units: list[str] = []
        if not isinstance(units_raw, list) or not units_raw:
            tp.append(Problem(record, "units", "缺少责任单位（应为单位名称列表，牵头单位在首位）", "missing"))
        else:
            for i, u in enumerate(units_raw, 1):
                u = _text(u, record, f"units[{i}]", tp, max_length=200)
                if u is not None:
                    if u in units:
                        tp.append(Problem(record, f"units[{i}]", f"单位“{u}”重复列出", "duplicate"))
                    units.append(u)
            if lead and units and units[0] != lead:
                tp.append(Problem(record, "lead", f"牵头单位“{lead}”应列为责任单位首位（units 第1项为“{units[0]}”）",
                                  "lead_not_first"))
        units_line = _text(t.get("units_line"), record, "units_line", tp)
        lead_line = _text(t.get("lead_line"), record, "lead_line", tp, required=False)
        deadline_line = _text(t.get("deadline_line"), record, "deadline_line", tp, max_length=2000)
        milestones: list[MilestoneSpec] = []
        raw_ms = t.get("milestones")
        if not isinstance(raw_ms, list) or not raw_ms:
            tp.append(Problem(record, "milestones", "缺少完成时限节点（至少一个 {due = YYYY-MM-DD}）", "missing"))
        else:
            for i, m in enumerate(raw_ms, 1):
                field_ = f"milestones[{i}]"
                if not isinstance(m, dict):
                    tp.append(Problem(record, field_, "应为表 {due, what, basis}", "wrong_type"))
                    continue
                _unknown_keys(m, _MILESTONE_KEYS, f"{record} {field_}", tp)
                due = _date(m.get("due"), record, f"{field_}.due", tp) if "due" in m else None
                if "due" not in m:
                    tp.append(Problem(record, f"{field_}.due", "缺少到期日", "missing"))
                what = _text(m.get("what"), record, f"{field_}.what", tp, required=False, max_length=2000)
                basis = m.get("basis", "完成时限")
                if basis not in BASES:
                    tp.append(Problem(record, f"{field_}.basis", f"应为 {'或'.join(BASES)}，实际为“{basis}”", "bad_basis"))
                if due is not None and milestones and due < milestones[-1].due:
                    tp.append(Problem(record, f"{field_}.due", f"节点应按到期日先后排列（{due} 早于前一节点 "
                                      f"{milestones[-1].due}）", "out_of_order"))
                if due is not None:
                    milestones.append(MilestoneSpec(i, due, what or title or "", basis))
        ongoing_raw = t.get("ongoing", [])
        ongoing: list[str] = []
        if not isinstance(ongoing_raw, list):
            tp.append(Problem(record, "ongoing", "应为文本列表", "wrong_type"))
        else:
            for i, o in enumerate(ongoing_raw, 1):
                o = _text(o, record, f"ongoing[{i}]", tp, max_length=2000)
                if o:
                    ongoing.append(o)
        problems.extend(tp)
        if not tp and number is not None:
            tasks.append(TaskSpec(number, section, title, body, lead, tuple(units), units_line, lead_line,
                                  deadline_line, tuple(milestones), tuple(ongoing)))
    if problems:
        raise ValidationFailed(problems)
    return PlanSpec(name, jurisdiction, document, issued, seed, lines, mapping,
                    tuple(sorted(tasks, key=lambda x: x.number)), content=_json_ready(data))


# --------------------------------------------------------------------------- quarters
def parse_quarter(value: str, record: str = "进展报送", field_: str = "quarter") -> tuple[int, int]:
    """"2021Q3" → (2021, 3); anything else is a Chinese ValidationFailed."""
    m = _QUARTER.fullmatch((value or "").strip().upper())
    if m is None:
        raise ValidationFailed(Problem(record, field_, f"季度应写作 年份Q季度，如 2021Q3，实际为“{value}”", "bad_quarter"))
    return int(m[1]), int(m[2])


def quarter_of(day: date) -> str:
    """The quarter a day falls in, e.g. 2021-08-15 → "2021Q3"."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_end(year: int, q: int) -> date:
    """The last day of a quarter."""
    return (date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)) - timedelta(days=1)


# --------------------------------------------------------------------------- status on a day
def milestone_status(due: date, completed_on: date | None, as_of: date) -> dict[str, Any]:
    """Whether a milestone is done and whether it is overdue on ``as_of``.

    Done: completed on or before ``as_of``. Overdue: not done and ``as_of`` is after the due day
    (the due day itself is still in time); ``days_overdue`` counts calendar days past it.
    A completion after the due day is done but ``late_days`` late.
    """
    done = completed_on is not None and completed_on <= as_of
    overdue = not done and as_of > due
    return {"done": done, "overdue": overdue, "days_overdue": (as_of - due).days if overdue else 0,
            "late_days": max(0, (completed_on - due).days) if done else 0}


def task_status(milestones: list[dict[str, Any]]) -> str:
    """A task's state from its milestones' states: 已完成 (all done), 逾期 (any overdue), 推进中."""
    if milestones and all(m["done"] for m in milestones):
        return "已完成"
    if any(m["overdue"] for m in milestones):
        return "逾期"
    return "推进中"


def report_status(status: str | None, percent: int | None, record: str) -> tuple[str, int | None]:
    """A report's status and percentage: either may be given; a percentage alone gives the status
    (0 未开始, 100 已完成, else 推进中); both must agree."""
    problems: list[Problem] = []
    if percent is not None and (isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100):
        problems.append(Problem(record, "percent", f"完成百分比应为 0–100 的整数，实际为 {percent!r}", "bad_percent"))
    if status is not None and status not in STATUSES:
        problems.append(Problem(record, "status", f"状态应为 {'、'.join(STATUSES)} 之一，实际为“{status}”", "bad_status"))
    if status is None and percent is None:
        problems.append(Problem(record, "status", "请填写状态（未开始/推进中/已完成）或完成百分比", "missing"))
    if problems:
        raise ValidationFailed(problems)
    derived = None if percent is None else ("未开始" if percent == 0 else "已完成" if percent == 100 else "推进中")
    if status is not None and derived is not None and status != derived:
        raise ValidationFailed(Problem(record, "status", f"状态“{status}”与完成百分比 {percent}% 不一致（应为“{derived}”）",
                                       "inconsistent"))
    return status or derived, percent


def department_matches(department: str | None, unit: str) -> bool:
    """Whether a department account's ``department`` text names this unit: the same name, or
    one contained in the other once a leading 许昌市/市 is dropped (税务 ↔ 市税务局), at least
    two characters."""
    if not department:
        return False

    def norm(s: str) -> str:
        s = s.strip()
        for prefix in ("许昌市", "市"):
            if s.startswith(prefix) and len(s) > len(prefix) + 1:
                s = s[len(prefix):]
        return s

    d, u = norm(department), norm(unit)
    if len(d) < 2 or len(u) < 2:
        return False
    return d == u or d in u or u in d
