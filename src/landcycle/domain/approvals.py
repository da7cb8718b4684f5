"""Commitment-based approvals after a sale (告知承诺制 / 代办制, 000:1002-1016; DOMAIN.md R10) — pure.

After a parcel is supplied, its enterprise goes through one of three approval tracks:

* ``with_drawings`` — 带施工图出让的“标准地” (000:1012): the approval departments decide directly;
  建设用地规划许可、建设工程规划许可、施工许可 within ``[workdays].permits_with_drawings`` working days
  of the application being accepted.
* ``small_low_risk`` — 社会投资小型低风险产业类项目 (000:1002, 1014-1016; ≤ 10,000 m² floor area,
  ≤ 24 m high, ≤ 1 basement level — ``[workdays].small_project_max_*``): 企业投资项目备案 + 建设用地
  规划许可证 within ``small_project_filing`` working days of the submission being accepted, then
  建设工程规划许可证 + 建筑工程施工许可证 within ``small_project_permits`` of that application.
* ``commitment`` — 未带施工图出让的“标准地” under 代办制 (000:1006-1008): the 《“标准地”企业信用
  承诺书》 is publicised for ``commitment_publicity`` working days; without objection the enterprise
  may start building and the departments complete the approvals on its written commitment
  (容缺办理, no working-day limit in the seed — shown as such, never invented).

A case is replayed from its append-only events (:func:`replay`): each step's start, due date (R10
counting on :class:`WorkdayCalendar` — the start day never counts), done date, working days used
and status as of a day. :func:`check_event` returns every reason a new event is refused.

State model (our decision; the seed only says "公示5个工作日且无异议的…即可开工建设"):
an objection raised during the publicity stops its clock (case ``objection``). If the objection is
found groundless (``objection_dismissed``) the publicity runs again in full from that day — the
seed asks for five working days *without* objection; if it is upheld (``objection_upheld``) the
commitment route ends (case ``ended``): the project goes through the ordinary procedure, outside
this track. A publicity cannot be closed before its last day; a permit step may be closed late
(it is then ``done_late``) — the record keeps what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import Problem
from .rules.rulebook import Rulebook
from .rules.workdays import CalendarUnknown, WorkdayCalendar, weekday_cn
from .vocabulary import Labelled


class Track(Labelled):
    """The approval track a case follows."""

    WITH_DRAWINGS = "with_drawings", "带施工图出让“标准地”（告知承诺制）"
    SMALL_LOW_RISK = "small_low_risk", "社会投资小型低风险产业类项目（告知承诺制）"
    COMMITMENT = "commitment", "未带施工图出让“标准地”（代办制、信用承诺书公示）"


class CaseState(Labelled):
    """Where a case stands."""

    OPEN = "open", "办理中"
    OBJECTION = "objection", "公示异议核查中"
    COMPLETED = "completed", "已办结"
    ENDED = "ended", "已终止（异议成立，转一般程序办理）"


class EventKind(Labelled):
    """What an event records."""

    ACCEPTED = "accepted", "受理（起算）"
    DONE = "done", "办结"
    OBJECTION = "objection", "公示期间提出异议"
    OBJECTION_DISMISSED = "objection_dismissed", "异议不成立（重新公示）"
    OBJECTION_UPHELD = "objection_upheld", "异议成立（终止承诺制办理）"


STATUS_LABELS = {
    "waiting": "未开始",
    "running": "办理中",
    "publicising": "公示中",
    "publicity_over": "公示期已满，待登记结果",
    "overdue": "已逾期",
    "no_limit": "办理中（无工作日时限）",
    "suspended": "异议核查中（公示计时中止）",
    "done": "按时办结",
    "done_late": "逾期办结",
    "publicity_done": "公示期满无异议",
    "ended": "已终止",
    "calendar_unknown": "节假日安排未载入，无法计算期限",
}


@dataclass(frozen=True)
class Step:
    """One step of a track: what it is, what starts its clock, its limit and its clause."""

    key: str
    name: str
    #: "accepted": an ``accepted`` event starts it; "previous_done": the previous step's end does.
    start: str
    start_label: str
    done_label: str
    #: The ``[workdays]`` key of its working-day limit (None: the seed sets none).
    limit_key: str | None
    basis: str
    consequence: str
    #: A period that must run its course (the publicity), not a limit to act within.
    period: bool = False

    def limit(self, rulebook: Rulebook) -> int | None:
        """The step's working days from the rulebook (None: no limit)."""
        if self.limit_key is None:
            return None
        raw = rulebook.section("workdays").get(self.limit_key)
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise ValueError(f"规则库 workdays.{self.limit_key} 缺失或不是非负整数")
        return raw

    def to_dict(self, rulebook: Rulebook) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "start": self.start, "start_label": self.start_label,
                "done_label": self.done_label, "limit_key": self.limit_key and f"workdays.{self.limit_key}",
                "limit_workdays": self.limit(rulebook), "period": self.period, "basis": self.basis,
                "consequence": self.consequence}


_PERMIT_LATE = "，属超过告知承诺制办理时限，列入逾期督办（预警推送产业集聚区管理机构和属地政务服务部门）"

TRACKS: dict[Track, tuple[Step, ...]] = {
    Track.WITH_DRAWINGS: (
        Step("permits", "办理建设用地规划许可、建设工程规划许可、施工许可", "accepted", "申请受理",
             "许可核发", "permits_with_drawings",
             "000:1012 对带施工图出让的“标准地”，审批部门直接作出行政许可决定，可在5个工作日内办理建设用地规划许可、"
             "建设工程规划许可、施工许可",
             "期限届满仍未核发建设用地规划许可、建设工程规划许可、施工许可" + _PERMIT_LATE + "；土地受让人不能按期开工"),
    ),
    Track.SMALL_LOW_RISK: (
        Step("filing", "并联办理企业投资项目备案、建设用地规划许可证", "accepted", "材料提交受理",
             "备案和许可办结", "small_project_filing",
             "000:1014-1016 社会投资小型低风险产业类项目签订出让合同后通过市级工程建设项目审批管理系统提交材料，"
             "2个工作日内并联办理企业投资项目备案、建设用地规划许可证",
             "期限届满仍未办结企业投资项目备案、建设用地规划许可证" + _PERMIT_LATE),
        Step("permits", "并联办理建设工程规划许可证、建筑工程施工许可证（及供排水、电力接入申请）", "accepted",
             "申请受理（企业作出设计方案审查承诺）", "许可同步核发", "small_project_permits",
             "000:1016 实行建设工程设计方案审查告知承诺制，企业作出承诺后不再审查设计方案和施工图，7个工作日内并联办理"
             "建设工程规划许可证、建筑工程施工许可证及供排水、电力接入申请",
             "期限届满仍未同步核发建设工程规划许可证和建筑工程施工许可证" + _PERMIT_LATE + "；项目不能按期开工"),
    ),
    Track.COMMITMENT: (
        Step("publicity", "“标准地”企业信用承诺书公示", "accepted", "公示发布", "公示期满无异议",
             "commitment_publicity",
             "000:1008 信用承诺书在许昌市政务服务网、许昌日报等媒体上向社会公示5个工作日且无异议的，"
             "土地受让人即可开工建设",
             "公示期满且无异议的，土地受让人即可开工建设；期满前收到异议的须登记异议并核查，核查期间不得凭承诺开工",
             period=True),
        Step("approvals", "根据书面承诺容缺办理相应审批手续", "previous_done", "公示期满无异议", "审批手续办结",
             None,
             "000:1008 相关审批部门同时根据土地受让人书面承诺容缺办理相应审批手续（原文未规定工作日时限）",
             "原文未规定时限：不设期限预警，办结后登记"),
    ),
}


def steps_of(track: Track | str) -> tuple[Step, ...]:
    return TRACKS[Track(track)]


def find_step(track: Track | str, key_or_name: str) -> Step | None:
    """A step of ``track`` by key or Chinese name."""
    k = (key_or_name or "").strip()
    return next((s for s in steps_of(track) if k in (s.key, s.name)), None)


# =========================================================================== project facts
@dataclass(frozen=True)
class ProjectFacts:
    """What the enterprise declares about its project when a case opens."""

    name: str = ""
    total_floor_area_m2: float | None = None
    building_height_m: float | None = None
    basement_floors: int | None = None
    #: 涉及易燃易爆、有毒有害等安全保护 (excludes the small low-risk track, 000:1002).
    hazardous: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "total_floor_area_m2": self.total_floor_area_m2,
                "building_height_m": self.building_height_m, "basement_floors": self.basement_floors,
                "hazardous": self.hazardous}


PROJECT_FIELDS = {"name": "项目名称", "total_floor_area_m2": "总建筑面积（平方米）",
                  "building_height_m": "建筑高度（米）", "basement_floors": "地下层数",
                  "hazardous": "是否涉及易燃易爆、有毒有害等安全保护"}


def parse_project(raw: Any, record: str) -> tuple[ProjectFacts, list[Problem]]:
    """Project facts from JSON-like input, with every problem (field ``project.<name>``)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return ProjectFacts(), [Problem(record, "project", "应为对象 {name, total_floor_area_m2, building_height_m, "
                                                           "basement_floors, hazardous}")]
    problems = [Problem(record, f"project.{k}", "未知字段", "unknown_field") for k in sorted(set(raw) - set(PROJECT_FIELDS))]
    values: dict[str, Any] = {}
    name = raw.get("name")
    if name is not None:
        if not isinstance(name, str) or len(name) > 200 or "\x00" in name:
            problems.append(Problem(record, "project.name", "项目名称应为不超过200个字符的文本"))
        else:
            values["name"] = name.strip()
    for key in ("total_floor_area_m2", "building_height_m"):
        v = raw.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < float(v) < 1e9):
            problems.append(Problem(record, f"project.{key}", f"{PROJECT_FIELDS[key]}应为大于0的数值，收到“{v}”"))
        else:
            values[key] = float(v)
    v = raw.get("basement_floors")
    if v is not None:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 20:
            problems.append(Problem(record, "project.basement_floors", f"地下层数应为0至20的整数，收到“{v}”"))
        else:
            values["basement_floors"] = v
    v = raw.get("hazardous")
    if v is not None:
        if not isinstance(v, bool):
            problems.append(Problem(record, "project.hazardous", f"应为 true 或 false，收到“{v}”"))
        else:
            values["hazardous"] = v
    return ProjectFacts(**values), problems


def eligibility_reasons(track: Track, project: ProjectFacts, is_standard_land: bool, rulebook: Rulebook) -> list[str]:
    """Why the case may not follow ``track`` (empty: it may). The small low-risk limits come from
    the rulebook's ``[workdays].small_project_max_*`` and are inclusive (不大于 / 不超过)."""
    out: list[str] = []
    if track in (Track.WITH_DRAWINGS, Track.COMMITMENT) and not is_standard_land:
        out.append(f"“{track.label}”只适用于“标准地”（000:1006、1010）：该宗地未登记为“标准地”（is_standard_land）")
    if track is not Track.SMALL_LOW_RISK:
        return out
    rules = rulebook.section("workdays")
    limits = (("total_floor_area_m2", "small_project_max_floor_area_m2", "总建筑面积", "平方米", "不大于"),
              ("building_height_m", "small_project_max_height_m", "建筑高度", "米", "不超过"),
              ("basement_floors", "small_project_max_basement_floors", "地下层数", "层", "不超过"))
    for fld, key, label, unit, verb in limits:
        limit = rules.get(key)
        value = getattr(project, fld)
        if value is None:
            out.append(f"小型低风险项目须申报{label}（project.{fld}）：范围为{verb}{limit:g}{unit}（000:1002）")
        elif value > limit:
            out.append(f"{label} {value:g}{unit} 超过小型低风险项目上限：须{verb}{limit:g}{unit}"
                       f"（000:1002 第十七条，规则库 workdays.{key} = {limit:g}）")
    if project.hazardous is None:
        out.append("小型低风险项目须申报是否涉及易燃易爆、有毒有害等安全保护（project.hazardous）（000:1002）")
    elif project.hazardous:
        out.append("项目涉及易燃易爆、有毒有害等安全保护，不属于社会投资小型低风险产业类项目（000:1002 第十七条）")
    return out


# =========================================================================== events and replay
@dataclass(frozen=True)
class Event:
    """One recorded event of a case (what :func:`replay` reads)."""

    kind: EventKind
    step: str
    on: date
    number: str | None = None


@dataclass
class StepStatus:
    """A step as of a day."""

    step: Step
    limit: int | None
    start: date | None = None
    due: date | None = None
    done: date | None = None
    done_number: str | None = None
    restarts: int = 0
    objection_on: date | None = None
    calendar_problem: str | None = None
    status: str = "waiting"
    used_workdays: int | None = None
    remaining_workdays: int | None = None
    overdue_workdays: int | None = None

    @property
    def is_open(self) -> bool:
        """Started, not done, and its case still running."""
        return self.start is not None and self.done is None and self.status not in ("ended", "suspended")

    def to_dict(self, rulebook: Rulebook) -> dict[str, Any]:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {**self.step.to_dict(rulebook), "start_date": iso(self.start), "due_date": iso(self.due),
                "due_weekday": weekday_cn(self.due) if self.due else None, "done_date": iso(self.done),
                "done_number": self.done_number, "restarts": self.restarts, "objection_date": iso(self.objection_on),
                "status": self.status, "status_label": STATUS_LABELS[self.status],
                "used_workdays": self.used_workdays, "remaining_workdays": self.remaining_workdays,
                "overdue_workdays": self.overdue_workdays, "calendar_problem": self.calendar_problem}


@dataclass
class CaseStatus:
    """A case replayed from its events as of a day."""

    track: Track
    state: CaseState
    steps: list[StepStatus] = field(default_factory=list)

    @property
    def current(self) -> StepStatus | None:
        """The first step not done (None: all done)."""
        return next((s for s in self.steps if s.done is None), None)


def _start(st: StepStatus, day: date, cal: WorkdayCalendar) -> None:
    st.start, st.due, st.calendar_problem = day, None, None
    if st.limit is None:
        return
    try:
        st.due = cal.add_workdays(day, st.limit)
    except CalendarUnknown as exc:
        st.calendar_problem = (f"“{st.step.name}”自 {day}（当日不计入）起算 {st.limit} 个工作日，期限将延伸至 "
                               f"{exc.year} 年：{exc}")


def replay(track: Track | str, events: list[Event], cal: WorkdayCalendar, rulebook: Rulebook,
           as_of: date) -> CaseStatus:
    """The case's state and each step's dates and status as of ``as_of``, from its events in
    order (events are assumed valid: :func:`check_event` admitted each in turn)."""
    track = Track(track)
    steps = [StepStatus(s, s.limit(rulebook)) for s in TRACKS[track]]
    by_key = {s.step.key: s for s in steps}
    state = CaseState.OPEN
    for ev in events:
        st = by_key.get(ev.step)
        if st is None:
            continue
        if ev.kind is EventKind.ACCEPTED:
            _start(st, ev.on, cal)
        elif ev.kind is EventKind.DONE:
            st.done, st.done_number = ev.on, ev.number
            i = steps.index(st)
            if i + 1 < len(steps) and steps[i + 1].step.start == "previous_done":
                _start(steps[i + 1], ev.on, cal)
        elif ev.kind is EventKind.OBJECTION:
            st.objection_on = ev.on
            state = CaseState.OBJECTION
        elif ev.kind is EventKind.OBJECTION_DISMISSED:
            # the publicity runs again in full: five working days without objection (000:1008)
            st.restarts += 1
            st.objection_on = None
            _start(st, ev.on, cal)
            state = CaseState.OPEN
        elif ev.kind is EventKind.OBJECTION_UPHELD:
            state = CaseState.ENDED
    if state is CaseState.OPEN and all(s.done is not None for s in steps):
        state = CaseState.COMPLETED
    for st in steps:
        _status(st, state, cal, as_of)
    return CaseStatus(track, state, steps)


def _workdays(cal: WorkdayCalendar, a: date, b: date) -> int | None:
    try:
        return cal.workdays_between(a, b)
    except CalendarUnknown:
        return None


def _status(st: StepStatus, state: CaseState, cal: WorkdayCalendar, as_of: date) -> None:
    if st.start is None:
        st.status = "ended" if state is CaseState.ENDED else "waiting"
        return
    end = st.done or as_of
    st.used_workdays = _workdays(cal, st.start, end) if end >= st.start else 0
    if st.done is not None:
        if st.step.period:
            st.status = "publicity_done"
        elif st.due is not None and st.done > st.due:
            st.status, st.overdue_workdays = "done_late", _workdays(cal, st.due, st.done)
        else:
            st.status = "done"
        return
    if state is CaseState.ENDED:
        st.status = "ended"
    elif st.objection_on is not None:
        st.status = "suspended"
    elif st.calendar_problem:
        st.status = "calendar_unknown"
    elif st.due is None:
        st.status = "no_limit"
    elif as_of <= st.due:
        st.status = "publicising" if st.step.period else "running"
        st.remaining_workdays = _workdays(cal, as_of, st.due) if as_of >= st.start else None
    else:
        st.status = "publicity_over" if st.step.period else "overdue"
        if not st.step.period:
            st.overdue_workdays = _workdays(cal, st.due, as_of)


def check_event(track: Track | str, events: list[Event], new: Event, cal: WorkdayCalendar, rulebook: Rulebook,
                as_of: date) -> list[tuple[str, str]]:
    """Every reason ``new`` may not be recorded after ``events`` on ``as_of``, as (field, Chinese
    message) — field "step", "kind" or "date" (empty: it may).
    Steps go in order; a date may be neither before the step's start nor after ``as_of``; a
    deadline the calendar cannot compute (a year not loaded) refuses the event — never a guess."""
    track = Track(track)
    step = find_step(track, new.step)
    if step is None:
        return [("step", f"“{track.label}”没有步骤“{new.step}”，应为："
                 + "、".join(f"{s.name}({s.key})" for s in TRACKS[track]))]
    case = replay(track, events, cal, rulebook, as_of)
    st = next(s for s in case.steps if s.step.key == step.key)
    out: list[tuple[str, str]] = []
    if new.on > as_of:
        out.append(("date", f"日期 {new.on} 晚于今日 {as_of}：不能登记尚未发生的事项"))
    if case.state is CaseState.COMPLETED:
        return out + [("step", "该审批事项各步骤均已办结，不能再登记")]
    if case.state is CaseState.ENDED:
        return out + [("step", "公示异议成立，承诺制办理已终止（转一般程序办理），不能再登记")]
    kind = new.kind
    if kind in (EventKind.OBJECTION_DISMISSED, EventKind.OBJECTION_UPHELD):
        if case.state is not CaseState.OBJECTION or st.objection_on is None:
            return out + [("kind", f"“{st.step.name}”没有待核查的异议，不能登记“{kind.label}”")]
        if new.on < st.objection_on:
            out.append(("date", f"核查结论日期 {new.on} 早于异议提出日期 {st.objection_on}"))
    elif case.state is CaseState.OBJECTION:
        return out + [("kind", "公示异议核查中：须先登记异议核查结论（异议不成立或异议成立），才能登记其他事项")]
    else:
        current = case.current
        if current is not None and current.step.key != step.key:
            order = [s.step.key for s in case.steps]
            if order.index(step.key) > order.index(current.step.key):
                return out + [("step", f"步骤须依次办理：“{current.step.name}”尚未办结，不能登记“{step.name}”的“{kind.label}”")]
            return out + [("step", f"“{step.name}”已于 {st.done} 办结，不能再登记“{kind.label}”")]
        if kind is EventKind.ACCEPTED:
            if step.start != "accepted":
                return out + [("kind", f"“{step.name}”自“{step.start_label}”起算，不单独登记受理")]
            if st.start is not None:
                return out + [("kind", f"“{step.name}”已于 {st.start} 登记{step.start_label}，不能重复登记")]
            i = [s.step.key for s in case.steps].index(step.key)
            if i > 0 and new.on < case.steps[i - 1].done:
                out.append(("date", f"{step.start_label}日期 {new.on} 早于上一步骤“{case.steps[i - 1].step.name}”的办结日期 "
                                    f"{case.steps[i - 1].done}"))
        elif kind is EventKind.DONE:
            if st.start is None:
                return out + [("step", f"“{step.name}”尚未登记{step.start_label}，不能登记办结")]
            if new.on < st.start:
                out.append(("date", f"{step.done_label}日期 {new.on} 早于起算日（{step.start_label}）{st.start}"))
            elif step.period and st.due is not None and new.on < st.due:
                out.append(("date", f"公示期未满：自 {st.start}（当日不计入）起公示 {st.limit} 个工作日，至 {st.due}"
                                    f"（{weekday_cn(st.due)}）止，{new.on} 不能登记{step.done_label}（000:1008）"))
        elif kind is EventKind.OBJECTION:
            if not step.period:
                return out + [("step", f"“{step.name}”不是公示，不能登记异议")]
            if st.start is None:
                return out + [("step", f"“{step.name}”尚未发布，不能登记异议")]
            if new.on < st.start:
                out.append(("date", f"异议日期 {new.on} 早于公示发布日 {st.start}"))
            elif st.due is not None and new.on > st.due:
                out.append(("date", f"异议日期 {new.on} 晚于公示期届满日 {st.due}：公示期外的意见不作为公示异议登记"))
    if out:
        return out
    after = replay(track, [*events, new], cal, rulebook, as_of)
    return [("date", s.calendar_problem) for s in after.steps
            if s.calendar_problem and s.done is None and s.start is not None]
