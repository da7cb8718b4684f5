"""R10 working-day deadlines (000:1008-1016) on the official Chinese holiday calendar.

Working days follow the State Council's yearly holiday notice (国务院办公厅关于部分节假日安排的通知),
including 调休 make-up workdays on weekends. ``chinese_calendar`` carries the published years; the
city adds a newly published year itself in the rulebook's ``[workdays.extra_years]``. A date in a year
that neither covers raises :class:`CalendarUnknown` — the deadline is never guessed.

Counting (民法典第二百零一条: 开始的当日不计入，自下一日开始计算; 行政许可法第八十二条: 期限以工作日计算，
不含法定节假日): the deadline of ``n`` working days from ``start`` is the n-th working day AFTER
``start``; the start day itself never counts, whether or not it is a working day. So
``workdays_between(start, add_workdays(start, n)) == n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import chinese_calendar

from ..errors import Problem, ValidationFailed
from .inputs import spec
from .rulebook import Rulebook
from .verdict import Citation, RuleCheck, Verdict

RULE, RULE_ID = "deadline", "R10"

_HOLIDAY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
_WEEKDAYS = "一二三四五六日"

#: The years the installed chinese_calendar publishes (detected, not hard-coded).
LIBRARY_FIRST_YEAR = min(chinese_calendar.holidays).year
LIBRARY_LAST_YEAR = max(chinese_calendar.holidays).year


class CalendarUnknown(ValueError):
    """A date falls in a year whose official holiday schedule is not loaded."""

    def __init__(self, year: int, known: list[int]):
        self.year, self.known = year, known
        span = f"{known[0]}–{known[-1]} 年" if known else "无"
        super().__init__(
            f"{year} 年的法定节假日和调休安排（国务院办公厅每年发布）尚未载入，无法按工作日计算；"
            f"当前已载入：{span}{'（' + '、'.join(map(str, _gaps(known))) + ' 年除外）' if _gaps(known) else ''}。"
            f"请在规则库 [workdays.extra_years] 中加入 {year} 年的安排后再计算"
        )


def _gaps(known: list[int]) -> list[int]:
    return [y for y in range(known[0], known[-1] + 1) if y not in set(known)] if known else []


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationFailed(Problem("规则库", where, f"“{value}”不是日期（YYYY-MM-DD）"))


def weekday_cn(d: date) -> str:
    return f"星期{_WEEKDAYS[d.weekday()]}"


class WorkdayCalendar:
    """The official working-day calendar: chinese_calendar's years plus the city's ``extra_years``.

    ``extra_years`` maps a year (int or str) to ``{"holidays": [dates], "workdays": [dates]}``: the
    days off by the State Council notice (weekend days inside a holiday block may be listed or not) and
    the 调休 weekend days worked. A year given here replaces chinese_calendar's data for that year.
    Optional ``names`` maps an ISO date to the holiday's name, for the reasons.
    """

    def __init__(self, extra_years: dict | None = None):
        self._holidays: dict[date, str] = {}
        self._workdays: dict[date, str] = {}
        extra = {}
        for key, spec_ in (extra_years or {}).items():
            where = f"workdays.extra_years.{key}"
            try:
                year = int(key)
            except (TypeError, ValueError):
                raise ValidationFailed(Problem("规则库", where, "年份应为四位数字")) from None
            if not isinstance(spec_, dict):
                raise ValidationFailed(Problem("规则库", where, "应为 {holidays = [...], workdays = [...]}"))
            unknown = set(spec_) - {"holidays", "workdays", "names", "source"}
            if unknown:
                raise ValidationFailed(Problem("规则库", where, f"未知键：{'、'.join(sorted(unknown))}"))
            names = {str(k): str(v) for k, v in (spec_.get("names") or {}).items()}
            hol = [_as_date(v, f"{where}.holidays") for v in spec_.get("holidays", [])]
            work = [_as_date(v, f"{where}.workdays") for v in spec_.get("workdays", [])]
            for d in (*hol, *work):
                if d.year != year:
                    raise ValidationFailed(Problem("规则库", where, f"{d} 不在 {year} 年"))
            both = set(hol) & set(work)
            if both:
                raise ValidationFailed(Problem("规则库", where, f"{'、'.join(map(str, sorted(both)))} 同时列为假日和工作日"))
            extra[year] = ({d: names.get(d.isoformat(), "法定节假日") for d in hol},
                           {d: names.get(d.isoformat(), "调休上班") for d in work})
        for d, name in chinese_calendar.holidays.items():
            if d.year not in extra:
                self._holidays[d] = _HOLIDAY_NAMES.get(name, name)
        for d, name in chinese_calendar.workdays.items():
            if d.year not in extra:
                self._workdays[d] = f"{_HOLIDAY_NAMES.get(name, name)}调休上班"
        for hol, work in extra.values():
            self._holidays.update(hol)
            self._workdays.update(work)
        self.extra_years = sorted(extra)
        self.known_years = sorted(set(range(LIBRARY_FIRST_YEAR, LIBRARY_LAST_YEAR + 1)) | set(extra))

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook) -> "WorkdayCalendar":
        return cls(rulebook.section("workdays").get("extra_years") or {})

    # -- single days
    def _check(self, d: date) -> None:
        if d.year not in self.known_years:
            raise CalendarUnknown(d.year, self.known_years)

    def is_workday(self, d: date) -> bool:
        """True on a working day (a weekday not off, or a 调休 weekend day worked)."""
        self._check(d)
        if d in self._workdays:
            return True
        return d.weekday() < 5 and d not in self._holidays

    def holiday_name(self, d: date) -> str | None:
        """The holiday's name if ``d`` is an official day off (not a plain weekend)."""
        self._check(d)
        return self._holidays.get(d) if d not in self._workdays else None

    def makeup_name(self, d: date) -> str | None:
        """The 调休 label if ``d`` is a weekend day worked."""
        self._check(d)
        return self._workdays.get(d)

    # -- periods
    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (the start day not counted); ``start`` itself if n == 0."""
        if n < 0:
            raise ValueError("工作日数不能为负")
        d, counted = start, 0
        while counted < n:
            d += timedelta(days=1)
            if self.is_workday(d):
                counted += 1
        return d

    def workdays_between(self, a: date, b: date) -> int:
        """Working days d with a < d ≤ b (negative, mirrored, when b < a)."""
        if b < a:
            return -self.workdays_between(b, a)
        return sum(1 for i in range(1, (b - a).days + 1) if self.is_workday(a + timedelta(days=i)))

    def breakdown(self, a: date, b: date) -> dict[str, list[dict[str, str]]]:
        """The days after ``a`` up to ``b`` that were skipped (holidays, weekends) or worked by 调休."""
        out: dict[str, list[dict[str, str]]] = {"skipped_holidays": [], "skipped_weekend_days": [],
                                                "makeup_workdays": []}
        d = a + timedelta(days=1)
        while d <= b:
            row = {"date": d.isoformat(), "weekday": weekday_cn(d)}
            if self.makeup_name(d):
                out["makeup_workdays"].append({**row, "name": self.makeup_name(d)})
            elif self.holiday_name(d):
                out["skipped_holidays"].append({**row, "name": self.holiday_name(d)})
            elif d.weekday() >= 5:
                out["skipped_weekend_days"].append(row)
            d += timedelta(days=1)
        return out


# ---------------------------------------------------------------- the check
KINDS = ("commitment_publicity", "permits_with_drawings", "small_project_filing", "small_project_permits")
KIND_LABELS = {
    "commitment_publicity": "“标准地”企业信用承诺书公示",
    "permits_with_drawings": "带施工图出让“标准地”办理建设用地规划许可、建设工程规划许可、施工许可",
    "small_project_filing": "社会投资小型低风险产业类项目并联办理企业投资项目备案、建设用地规划许可证",
    "small_project_permits": "社会投资小型低风险产业类项目并联办理建设工程规划许可证、建筑工程施工许可证",
}
KIND_CITES = {
    "commitment_publicity": Citation("000:1008", "信用承诺书在许昌市政务服务网、许昌日报等媒体上向社会公示5个工作日且无异议的，"
                                                 "土地受让人即可开工建设"),
    "permits_with_drawings": Citation("000:1012", "对带施工图出让的“标准地”，审批部门直接作出行政许可决定，可在5个工作日内办理"
                                                  "建设用地规划许可、建设工程规划许可、施工许可"),
    "small_project_filing": Citation("000:1014-1016", "社会投资小型低风险产业类项目，签订出让合同后，2个工作日内并联办理企业投资"
                                                      "项目备案、建设用地规划许可证"),
    "small_project_permits": Citation("000:1016", "实行建设工程设计方案审查告知承诺制，7个工作日内并联办理建设工程规划许可证、"
                                                  "建筑工程施工许可证及供排水、电力接入申请"),
}
CITE_ALL = Citation("000:1008-1016", "信用承诺书公示5个工作日；带施工图出让5个工作日内办理许可；小型低风险项目2个工作日内备案、"
                                     "7个工作日内办理工程规划和施工许可")
CITE_COUNTING = Citation("中华人民共和国民法典 第二百零一条；中华人民共和国行政许可法 第八十二条",
                         "按日计算期间的，开始的当日不计入，自下一日开始计算；行政许可期限以工作日计算，不含法定节假日")


def _schedule_cite(years: list[int], extra: list[int]) -> Citation:
    parts = [f"{y}" for y in years]
    city = [y for y in years if y in extra]
    text = "法定节假日及调休上班日按国务院办公厅公布的当年部分节假日安排"
    if city:
        text += f"（{'、'.join(map(str, city))} 年安排由市规则库 [workdays.extra_years] 载入）"
    return Citation(f"国务院办公厅关于{'、'.join(parts)}年部分节假日安排的通知", text)


@dataclass(frozen=True)
class DeadlineCase:
    start_date: date = spec("起算日（当日不计入）", "ISO 日期")
    kind: str | None = spec("时限类别（规则库 [workdays] 的键）", "", None, choices=KINDS)
    workdays: int | None = spec("工作日数（不填类别时必填）", "工作日", None, minimum=0, maximum=3660)
    as_of: date | None = spec("核查日（填写则判断是否逾期）", "ISO 日期", None)


OUTCOMES = {
    "deadline": "期限届满日",
    "within": "未逾期",
    "overdue": "已逾期",
    "calendar_unknown": "节假日安排未载入，无法计算",
}


def check_deadline(case: DeadlineCase, rulebook: Rulebook) -> Verdict:
    """R10: the deadline ``n`` working days after ``start_date``; with ``as_of``, within or overdue."""
    rules = rulebook.section("workdays")
    if (case.kind is None) == (case.workdays is None):
        raise ValidationFailed(Problem("输入", "kind", "应填写时限类别 kind 或工作日数 workdays 之一（不能都填或都不填）"))
    if case.kind is not None:
        raw = rules.get(case.kind)
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise ValidationFailed(Problem("规则库", f"workdays.{case.kind}", "规则库缺少该时限或不是非负整数"))
        n = raw
        citations = [KIND_CITES[case.kind], CITE_COUNTING]
        what = KIND_LABELS[case.kind]
    else:
        n = int(case.workdays)
        citations = [CITE_ALL, CITE_COUNTING]
        what = "办理时限"
    cal = WorkdayCalendar.from_rulebook(rulebook)
    figures: dict[str, Any] = {
        "kind": case.kind,
        "rulebook_key": f"workdays.{case.kind}" if case.kind else None,
        "workdays": n,
        "start_date": case.start_date.isoformat(),
        "as_of": case.as_of.isoformat() if case.as_of else None,
        "start_day_counted": False,
        "calendar": {"library": f"chinese_calendar {chinese_calendar.__version__}",
                     "library_years": [LIBRARY_FIRST_YEAR, LIBRARY_LAST_YEAR],
                     "city_added_years": cal.extra_years},
    }
    reasons: list[str] = []

    def verdict(outcome: str) -> Verdict:
        return Verdict(RULE, RULE_ID, outcome, OUTCOMES[outcome], figures, reasons, citations, rulebook.label)

    try:
        deadline = cal.add_workdays(case.start_date, n)
    except CalendarUnknown as exc:
        figures["deadline"] = None
        figures["unknown_year"] = exc.year
        reasons.append(f"{what}：自 {case.start_date}（当日不计入）起算 {n} 个工作日，期限将延伸至 {exc.year} 年")
        reasons.append(str(exc))
        return verdict("calendar_unknown")

    parts = cal.breakdown(case.start_date, deadline)
    figures["deadline"] = deadline.isoformat()
    figures["deadline_weekday"] = weekday_cn(deadline)
    figures.update(parts)
    figures["calendar_days"] = (deadline - case.start_date).days
    years = sorted({case.start_date.year + i for i in range(deadline.year - case.start_date.year + 1)})
    citations.append(_schedule_cite(years, cal.extra_years))
    reasons.append(f"{what}：自 {case.start_date}（{weekday_cn(case.start_date)}，当日不计入）起算 {n} 个工作日，"
                   f"期限届满日为 {deadline}（{weekday_cn(deadline)}）")
    skipped = []
    if parts["skipped_holidays"]:
        runs: list[tuple[str, list[date]]] = []  # consecutive days off with the same name
        for row in parts["skipped_holidays"]:
            d = date.fromisoformat(row["date"])
            if runs and runs[-1][0] == row["name"] and runs[-1][1][-1] == d - timedelta(days=1):
                runs[-1][1].append(d)
            else:
                runs.append((row["name"], [d]))
        skipped += [f"{name}假期 {ds[0]}{' 至 ' + str(ds[-1]) if len(ds) > 1 else ''} 共 {len(ds)} 天"
                    for name, ds in runs]
    if parts["skipped_weekend_days"]:
        skipped.append(f"周末 {len(parts['skipped_weekend_days'])} 天（"
                       f"{'、'.join(r['date'] for r in parts['skipped_weekend_days'])}）")
    if skipped:
        reasons.append("其间不计入：" + "；".join(skipped))
    for row in parts["makeup_workdays"]:
        reasons.append(f"{row['date']}（{row['weekday']}）为{row['name']}日，计为工作日")

    if case.as_of is None:
        return verdict("deadline")
    if case.as_of <= deadline:
        try:
            remaining = cal.workdays_between(case.as_of, deadline)
        except CalendarUnknown as exc:  # as_of before the known years
            figures["unknown_year"] = exc.year
            reasons.append(str(exc))
            return verdict("calendar_unknown")
        figures["remaining_workdays"] = remaining
        reasons.append(f"核查日 {case.as_of} 未超过期限届满日，其后剩余 {remaining} 个工作日"
                       f"{'（核查日即届满日）' if case.as_of == deadline else ''}")
        return verdict("within")
    try:
        figures["overdue_workdays"] = cal.workdays_between(deadline, case.as_of)
        reasons.append(f"核查日 {case.as_of} 已超过期限届满日 {deadline}，逾期 {figures['overdue_workdays']} 个工作日")
    except CalendarUnknown as exc:
        figures["overdue_workdays"] = None
        figures["unknown_year"] = exc.year
        reasons.append(f"核查日 {case.as_of} 已超过期限届满日 {deadline}，已逾期；逾期工作日数无法计算：{exc}")
    return verdict("overdue")


EXAMPLE = {"kind": "commitment_publicity", "start_date": "2021-02-09", "as_of": "2021-02-19"}

CHECK = RuleCheck(
    name=RULE, rule_id=RULE_ID, title="工作日时限", input_type=DeadlineCase, run=check_deadline,
    outcomes=OUTCOMES, example=EXAMPLE,
    notes=(
        "The deadline of n working days from `start_date` is the n-th working day AFTER it — the start day "
        "never counts (民法典第二百零一条). Working days follow the State Council's yearly notice, 调休 "
        "weekend workdays included, from chinese_calendar (its last year is detected from the library) plus "
        "the years the city adds in [workdays.extra_years] (year → holidays, workdays, optional names). A "
        "deadline that runs into a year not loaded gives `calendar_unknown` naming the year — never a guess. "
        "With `as_of`: `within` (remaining_workdays = working days after as_of up to the deadline; 0 on the "
        "last day) or `overdue` (overdue_workdays after the deadline)."
    ),
)
