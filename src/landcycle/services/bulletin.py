"""季度通报: the quarterly bulletin of the 百园增效 action as a Word and a PDF document, and the 考评
rankings as Excel workbooks in a filing layout (issue 8 items 6 and 8; seed 000:1280–1284, 1302).

``gather`` collects every figure of one quarter into a plain :class:`BulletinData` (so the
documents can be built from given numbers in tests); ``render_docx`` writes the document with
python-docx and matplotlib charts; ``render_pdf`` converts that very document with LibreOffice
(headless ``soffice``) — one layout, two formats. Where each number comes from: docs/bulletin.md.

**Who may read** — the 通报 is the city office's document, circulated to the 考评对象 (000:1266:
counties and 管委会, the zones' 管理机构, the city departments): city admins, county admins,
zone managers and departments all receive the same city-wide document. It holds aggregate
figures only (no parcel, no enterprise), a ranking only once the city has published the
round, overdue tasks of the published plans and the quota allocation every official may read.
Enterprises: 403; the public: 401.

**Fonts** — the charts and the PDF need a CJK font (Debian ``fonts-noto-cjk``, family
``Noto Sans CJK SC``); without one the rendering stops with a Chinese message instead of
drawing empty boxes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Callable

from ..domain import assessment as a
from ..domain.access import Principal, Role, as_principal, system_principal
from ..domain.errors import Forbidden, LandcycleError, NotFound, Problem, Unauthorized, ValidationFailed
from ..storage.db import Database
from . import kaoping, plan_tasks, quota
from .audit import local_today
from .report_excel import Column, filing_sheet, new_workbook, to_bytes

RECORD = "季度通报"
#: The issuing office (000:1280: 市产业集聚区“百园增效”行动领导小组办公室).
ISSUER = "许昌市产业集聚区“百园增效”行动领导小组办公室"
#: Roles that receive the 通报 (module docstring).
READERS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER, Role.DEPARTMENT})
#: The CJK font family the charts and the document use (Debian fonts-noto-cjk).
CJK_FAMILY = "Noto Sans CJK SC"
NUMERALS = "一二三四五六七八九十"
HEADER_SHADE = "D9E2F3"
STATUS_LABELS = {"published": "已发布", "draft": "草稿（未发布）", "none": "尚无提交"}


class BulletinUnavailable(LandcycleError):
    """The document cannot be rendered on this machine (no CJK font, no LibreOffice)."""

    code = "bulletin_unavailable"


@dataclass
class BulletinData:
    """Every figure of one quarter's 通报, as plain data.

    ``ranking``: {"status", "areas": [{code, label, points}], "rows": [kaoping ranking rows of
    the zones]} (rows empty unless published). ``disposal``: the ``services.disposal.progress``
    dict (city, counties, zones, goals, formula). ``overdue``: ``plan_tasks.overdue_tasks`` rows.
    ``quota``: the year's latest ``quota.year_view`` or None. ``interview``: for Q2/Q4 the
    半年约谈 round {"period", "label", "status", "rows"} (rows empty unless published), else None.
    """

    year: int
    quarter: int
    as_of: date
    issued_on: date
    ranking: dict[str, Any]
    disposal: dict[str, Any]
    overdue: list[dict[str, Any]] = field(default_factory=list)
    quota: dict[str, Any] | None = None
    interview: dict[str, Any] | None = None
    issuer: str = ISSUER

    @property
    def title(self) -> str:
        return f"许昌市百园增效行动 {self.year}年第{self.quarter}季度工作通报"

    @property
    def period(self) -> str:
        return f"Q{self.quarter}"


# =========================================================================== gathering
def _require_read(p: Principal) -> None:
    if p.is_public:
        raise Unauthorized()
    if p.role not in READERS:
        raise Forbidden(f"{p.role.label}无权查看季度工作通报")


def _check(year: Any, quarter: Any) -> tuple[int, int]:
    problems = []
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        problems.append(Problem(RECORD, "year", f"年度应为 2000–2100 的整数，实际为 {year!r}"))
    if isinstance(quarter, bool) or not isinstance(quarter, int) or not 1 <= quarter <= 4:
        problems.append(Problem(RECORD, "quarter", f"季度应为 1–4，实际为 {quarter!r}"))
    if problems:
        raise ValidationFailed(problems)
    return year, quarter


def _real_progress(db: Database, *, as_of: date, viewer: Principal) -> dict[str, Any]:
    from . import disposal  # issue 8 item 3: 消化处置率 per zone, county and city on a date

    return disposal.progress(db, as_of=as_of, viewer=viewer)


def _zone_ranking(db: Database, year: int, period: str, office: Principal) -> dict[str, Any]:
    body = kaoping.ranking(db, year, viewer=office, category="zone", period=period)
    published = body["status"] == "published"
    areas = [{"code": x["code"], "label": x["label"], "points": x["points"]} for x in body["scheme"]["areas"]]
    return {"status": body["status"], "areas": areas, "rows": body["rankings"]["zone"] if published else []}


def _interview(db: Database, year: int, quarter: int, office: Principal) -> dict[str, Any] | None:
    if quarter not in (2, 4):
        return None
    period = "H1" if quarter == 2 else "H2"
    body = kaoping.ranking(db, year, viewer=office, period=period)
    published = body["status"] == "published"
    return {"period": period, "label": a.PERIODS[period], "status": body["status"],
            "rows": body["interview"] if published else []}


def _quota(db: Database, year: int, office: Principal) -> dict[str, Any] | None:
    try:
        return quota.year_view(db, year, viewer=office)
    except NotFound:
        return None


def gather(db: Database, year: int, quarter: int, *, viewer: Principal | str, as_of: date | None = None,
           progress: Callable[..., dict[str, Any]] | None = None) -> BulletinData:
    """The figures of ``year``'s quarter ``quarter`` on ``as_of`` (default: the quarter's last
    day, or today while the quarter runs). The document is city-wide whoever asks (module
    docstring), so the figures are read with the office's rights once the caller may read it.
    ``progress`` replaces ``services.disposal.progress`` (same signature) — for tests."""
    viewer = as_principal(viewer)
    _require_read(viewer)
    year, quarter = _check(year, quarter)
    as_of = as_of or min(a.quarter_end(year, quarter), local_today())
    office = system_principal(f"{RECORD}（{viewer.username}）")
    figures = (progress or _real_progress)(db, as_of=as_of, viewer=office)
    return BulletinData(year=year, quarter=quarter, as_of=as_of, issued_on=local_today(),
                        ranking=_zone_ranking(db, year, f"Q{quarter}", office), disposal=figures,
                        overdue=plan_tasks.overdue_tasks(db, as_of), quota=_quota(db, year, office),
                        interview=_interview(db, year, quarter, office))


# =========================================================================== formatting
def day_text(d: date) -> str:
    """2026年3月31日."""
    return f"{d.year}年{d.month}月{d.day}日"


def mu_text(x: float | None) -> str:
    """An area in 亩 with two decimals ("—" when unknown)."""
    return "—" if x is None else f"{x:.2f}"


def rate_text(rate: float | None) -> str:
    """A rate as a percentage with one decimal ("—" when there is nothing to rate)."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def score_text(x: float) -> str:
    """A score with one decimal, so a column of scores lines up (31.0 beside 29.7)."""
    return f"{x:.1f}"


def points_text(x: float) -> str:
    """An item's or area's full points as the scheme writes them (20, 2.5)."""
    return f"{x:g}"


def _goal_text(goal_mu: float) -> str:
    return f"{goal_mu / 10000:g}万亩" if goal_mu >= 10000 else f"{goal_mu:g}亩"


def _meets(row: dict[str, Any]) -> str:
    return "—" if row.get("rate") is None else ("是" if row.get("meets_goal") else "否")


# =========================================================================== fonts and charts
@lru_cache(maxsize=1)
def cjk_font() -> Path:
    """The file of the ``Noto Sans CJK SC`` font (matplotlib's font manager finds it by family);
    BulletinUnavailable when no CJK font is installed."""
    from matplotlib import font_manager

    try:
        return Path(font_manager.findfont(font_manager.FontProperties(family=CJK_FAMILY),
                                          fallback_to_default=False))
    except ValueError:
        raise BulletinUnavailable(
            f"未找到中文字体“{CJK_FAMILY}”，无法生成通报（图表和 PDF 中的汉字会显示为方框）：请安装 Debian 软件包 "
            "fonts-noto-cjk（apt-get install fonts-noto-cjk）后重试") from None


def _figure_png(draw: Callable[[Any], None], height_in: float) -> bytes:
    """A matplotlib figure drawn by ``draw(axes)`` in the CJK font, as PNG bytes (no pyplot: no
    global state, safe in the API's worker threads)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cjk_font()
    with matplotlib.rc_context({"font.family": [CJK_FAMILY], "axes.unicode_minus": False, "font.size": 10}):
        fig = Figure(figsize=(7.2, height_in), dpi=150)
        FigureCanvasAgg(fig)
        draw(fig.add_subplot(1, 1, 1))
        fig.tight_layout()
        buf = BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


def ranking_chart(rows: list[dict[str, Any]], quarter: int) -> bytes:
    """Horizontal bars of the zones' totals, first rank on top."""
    def draw(ax):
        names = [r["name"] for r in rows][::-1]
        totals = [r["total"] for r in rows][::-1]
        bars = ax.barh(names, totals, color="#3b6fb6")
        ax.bar_label(bars, labels=[score_text(t) for t in totals], padding=3)
        ax.set_xlim(0, 110)
        ax.set_xlabel("考评得分（百分制）")
        ax.set_title(f"第{NUMERALS[quarter - 1]}季度产业集聚区考评得分")
    return _figure_png(draw, 0.9 + 0.32 * max(len(rows), 1))


def disposal_chart(rows: list[dict[str, Any]], goal_rate: float) -> bytes:
    """Horizontal bars of the zones' 消化处置率 with the goal as a dashed red line."""
    def draw(ax):
        names = [r["name"] for r in rows][::-1]
        rates = [0.0 if r.get("rate") is None else r["rate"] * 100 for r in rows][::-1]
        colors = ["#2e8b57" if r.get("meets_goal") else "#d9822b" for r in rows][::-1]
        bars = ax.barh(names, rates, color=colors)
        ax.bar_label(bars, labels=[rate_text(r.get("rate")) for r in rows][::-1], padding=3)
        ax.axvline(goal_rate * 100, color="#c00000", linestyle="--", linewidth=1.2, label=f"目标 {goal_rate * 100:g}%")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
        ax.set_xlim(0, 115)
        ax.set_xlabel("消化处置率（%）")
        ax.set_title("各产业集聚区存量低效用地消化处置率")
    return _figure_png(draw, 1.1 + 0.32 * max(len(rows), 1))


# =========================================================================== the Word document
def _font(run, *, size: float | None = None, bold: bool | None = None, color: str | None = None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    run.font.name = CJK_FAMILY
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), CJK_FAMILY)
    if size:
        run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold
    if color:
        run.font.color.rgb = RGBColor.from_string(color)


def _para(doc, text: str, *, size: float = 12, bold: bool = False, align: str | None = None,
          color: str | None = None, indent: bool = False):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    p = doc.add_paragraph()
    if align:
        p.alignment = getattr(WD_ALIGN_PARAGRAPH, align)
    if indent:
        p.paragraph_format.first_line_indent = Pt(size * 2)
    _font(p.add_run(text), size=size, bold=bold, color=color)
    return p


def _rule(paragraph, color: str = "C00000") -> None:
    """A red line under ``paragraph`` (the 红头 of an official document)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    pbdr = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "18"), ("w:space", "4"), ("w:color", color)):
        bottom.set(qn(k), v)
    pbdr.append(bottom)
    paragraph._p.get_or_add_pPr().append(pbdr)


def _shade(cell, fill: str = HEADER_SHADE) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shd)


@dataclass(frozen=True)
class Col:
    """A table column of the document: header, width (cm), text left-aligned (else centred)."""

    header: str
    width_cm: float
    left: bool = False


def _table(doc, columns: list[Col], rows: list[list[str]]) -> None:
    """A bordered table: a shaded bold header row (repeated on each page), then ``rows`` (text)."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm

    t = doc.add_table(rows=1, cols=len(columns))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    t.rows[0]._tr.get_or_add_trPr().append(header)
    for cell, c in zip(t.rows[0].cells, columns):
        _shade(cell)
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(cell.paragraphs[0].add_run(c.header), size=10.5, bold=True)
    for row in rows:
        for cell, c, v in zip(t.add_row().cells, columns, row):
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.LEFT if c.left else WD_ALIGN_PARAGRAPH.CENTER
            _font(cell.paragraphs[0].add_run(v), size=10.5)
    for i, c in enumerate(columns):
        t.columns[i].width = Cm(c.width_cm)
        for cell in t.columns[i].cells:
            cell.width = Cm(c.width_cm)
    doc.add_paragraph().paragraph_format.space_after = 0


def _picture(doc, png: bytes) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    doc.add_picture(BytesIO(png), width=Cm(15.5))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER


class _Sections:
    """Numbered headings 一、二、三…"""

    def __init__(self, doc):
        self.doc, self.n = doc, 0

    def add(self, title: str) -> None:
        self.n += 1
        _para(self.doc, f"{NUMERALS[self.n - 1]}、{title}", size=14, bold=True).paragraph_format.keep_with_next = True


def _head(doc, data: BulletinData) -> None:
    _rule(_para(doc, data.issuer, size=20, bold=True, align="CENTER", color="C00000"))
    _para(doc, data.title, size=18, bold=True, align="CENTER")
    _para(doc, f"（数据截至{day_text(data.as_of)}）", size=12, align="CENTER")
    _para(doc, f"按照“日常指导、季度通报、半年约谈、年度考评”的考评方式（许昌市产业集聚区“百园增效”行动考评暂行办法），"
               f"现将{data.year}年第{NUMERALS[data.quarter - 1]}季度全市产业集聚区“百园增效”行动工作进展情况通报如下。",
          indent=True)


def _ranking_section(doc, sec: _Sections, data: BulletinData) -> None:
    sec.add("产业集聚区考评排名")
    r = data.ranking
    if r["status"] != "published" or not r["rows"]:
        _para(doc, f"{data.year}年第{NUMERALS[data.quarter - 1]}季度产业集聚区考评结果尚未发布"
                   f"（当前状态：{STATUS_LABELS.get(r['status'], r['status'])}），本期通报不列排名。", indent=True)
        return
    first = r["rows"][0]
    _para(doc, f"本季度参加考评的产业集聚区管理机构 {len(r['rows'])} 个，{first['name']}以 {score_text(first['total'])} 分"
               "位列第一。各产业集聚区得分和名次如下（并列名次按 1、2、2、4 计）。", indent=True)
    areas = r["areas"]
    headers = [Col("名次", 1.3), Col("产业集聚区", 4.6, True),
               *[Col(f"{x['label']}（{points_text(x['points'])}分）", 8.4 / max(len(areas), 1)) for x in areas],
               Col("总分", 1.9)]
    rows = [[str(x["rank"]), x["name"], *[score_text(x["areas"].get(ar["code"], 0)) for ar in areas],
             score_text(x["total"])] for x in r["rows"]]
    _table(doc, headers, rows)
    _picture(doc, ranking_chart(r["rows"], data.quarter))


def _progress_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[x["name"], mu_text(x["identified"]), mu_text(x["disposed"]), rate_text(x.get("rate")), _meets(x),
             mu_text(x.get("revived_mu"))] for x in rows]


def _disposal_section(doc, sec: _Sections, data: BulletinData) -> None:
    sec.add("存量低效用地消化处置进展")
    d = data.disposal
    city, unit, goal = d["city"], d["unit"], float(d["goal_rate"])
    goal_mu = float(d["goal_revived_mu"])
    verdict = "已达到" if city.get("meets_goal") else "尚未达到"
    share = (city.get("revived_mu") or 0.0) / goal_mu if goal_mu else None
    _para(doc, f"截至{day_text(data.as_of)}，全市认定存量低效、闲置用地 {mu_text(city['identified'])} {unit}，"
               f"已消化处置 {mu_text(city['disposed'])} {unit}，消化处置率 {rate_text(city.get('rate'))}，"
               f"{verdict} {goal * 100:g}% 的目标；盘活存量土地 {mu_text(city.get('revived_mu'))} 亩，"
               f"完成 {_goal_text(goal_mu)}目标的 {rate_text(share)}。", indent=True)
    lagging = [x["name"] for x in d["counties"] if x.get("rate") is not None and not x.get("meets_goal")]
    if lagging:
        _para(doc, f"消化处置率低于 {goal * 100:g}% 的县（市、区）和管委会：{'、'.join(lagging)}。", indent=True)
    figures = [Col(f"认定（{unit}）", 2.3), Col(f"已消化处置（{unit}）", 2.5), Col("消化处置率", 2.1),
               Col(f"达到{goal * 100:g}%", 1.6), Col("盘活面积（亩）", 2.5)]
    _para(doc, "（一）各县（市、区）和管委会", bold=True).paragraph_format.keep_with_next = True
    _table(doc, [Col("县（市、区）、管委会", 5.2, True), *figures],
           _progress_rows(d["counties"]) + _progress_rows([{**city, "name": "全市合计"}]))
    _para(doc, "（二）各产业集聚区", bold=True).paragraph_format.keep_with_next = True
    _table(doc, [Col("产业集聚区", 5.2, True), *figures], _progress_rows(d["zones"]))
    if d["zones"]:
        _picture(doc, disposal_chart(d["zones"], goal))
    _para(doc, f"口径：{d['formula']}", size=10)


def _overdue_section(doc, sec: _Sections, data: BulletinData) -> None:
    sec.add("工作方案任务逾期情况")
    if not data.overdue:
        _para(doc, f"截至{day_text(data.as_of)}，各工作方案无逾期未完成的任务。", indent=True)
        return
    tasks = {(x["plan_id"], x["task_id"]) for x in data.overdue}
    _para(doc, f"截至{day_text(data.as_of)}，有 {len(tasks)} 项任务的 {len(data.overdue)} 个完成时限已过而未完成，"
               "请牵头单位抓紧推进，并在下季度末报送进展。", indent=True)
    plans: dict[int, list[dict[str, Any]]] = {}
    for x in data.overdue:  # most overdue first within each plan, plans in order of their worst delay
        plans.setdefault(x["plan_id"], []).append(x)
    for n, rows in enumerate(plans.values()):
        _para(doc, f"（{NUMERALS[n % 10]}）{rows[0]['plan']}", bold=True).paragraph_format.keep_with_next = True
        _table(doc, [Col("序号", 1.1), Col("任务", 4.4, True), Col("牵头单位", 3.2, True), Col("完成时限", 2.5),
                     Col("应完成事项", 3.6, True), Col("逾期天数", 1.4)],
               [[str(i), f"{x['number']}. {x['title']}", x["lead"] or "—", x["due"], x.get("what") or "—",
                 str(x["days_overdue"])] for i, x in enumerate(rows, start=1)])


def _quota_section(doc, sec: _Sections, data: BulletinData) -> None:
    sec.add("增存挂钩指标分配")
    q = data.quota
    if not q:
        _para(doc, f"{data.year}年度新增建设用地指标尚未按增存挂钩分配。", indent=True)
        return
    _para(doc, f"{data.year}年度新增建设用地指标 {q['total_mu']:g} 亩，按盘活存量成效分配（数据截至 {q['as_of']}，"
               f"{q['basis']}）：", indent=True)
    _table(doc, [Col("县（市、区）", 5.2, True), Col("盘活面积（亩）", 3.6), Col("消化处置率", 3.4),
                 Col("分得指标（亩）", 3.6)],
           [[c["name"], mu_text(c["revived_mu"]), rate_text(c["rate"]), f"{c['allocated_mu']:g}"]
            for c in q["counties"]] + [["合计", "", "", f"{q['allocated_total_mu']:g}"]])


def _interview_section(doc, sec: _Sections, data: BulletinData) -> None:
    iv = data.interview
    if iv is None:
        return
    sec.add(f"{iv['label']}约谈名单")
    if iv["status"] != "published":
        _para(doc, f"{data.year}年{iv['label']}考评结果尚未发布，约谈名单待发布后另行通知。", indent=True)
        return
    if not iv["rows"]:
        _para(doc, f"{data.year}年{iv['label']}考评无需约谈的单位。", indent=True)
        return
    _para(doc, "对工作推进慢、效果不明显的下列单位，由市领导小组办公室会同市委市政府督查局实施约谈：", indent=True)
    _table(doc, [Col("序号", 1.2), Col("类别", 3.6, True), Col("单位", 4.2, True), Col("总分", 1.6),
                 Col("约谈原因", 5.6, True)],
           [[str(i), a.CATEGORIES[x["category"]], x["name"], score_text(x["total"]), "；".join(x["interview_reasons"])]
            for i, x in enumerate(iv["rows"], start=1)])


def render_docx(data: BulletinData) -> bytes:
    """The 通报 as a .docx: 红头 with the issuing office, title, numbered sections with tables
    (shaded headers) and charts, and the office and date at the end."""
    from docx import Document
    from docx.shared import Cm

    cjk_font()
    doc = Document()
    for s in doc.sections:
        s.left_margin = s.right_margin = Cm(2.4)
        s.top_margin, s.bottom_margin = Cm(2.5), Cm(2.2)
    doc.core_properties.title = data.title
    doc.core_properties.author = data.issuer
    _head(doc, data)
    sec = _Sections(doc)
    for section in (_ranking_section, _disposal_section, _overdue_section, _quota_section, _interview_section):
        section(doc, sec, data)
    _para(doc, "")
    _para(doc, data.issuer, align="RIGHT")
    _para(doc, day_text(data.issued_on), align="RIGHT")
    buf = BytesIO()
    doc.save(buf)
    return buf.getvalue()


# =========================================================================== PDF (LibreOffice)
def office_command() -> str:
    """The LibreOffice executable; BulletinUnavailable when it is not installed."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe:
        raise BulletinUnavailable("未找到 LibreOffice（soffice 命令），无法生成 PDF 通报：请安装 Debian 软件包 "
                                  "libreoffice-writer-nogui；Word 版通报不受影响")
    return exe


def docx_to_pdf(docx: bytes, timeout_s: int = 180) -> bytes:
    """Convert a .docx to PDF with headless LibreOffice, in a private temporary profile (so
    conversions may run side by side)."""
    exe = office_command()
    cjk_font()
    with tempfile.TemporaryDirectory(prefix="landcycle-bulletin-") as tmp:
        work = Path(tmp)
        (work / "bulletin.docx").write_bytes(docx)
        cmd = [exe, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless", "--norestore",
               "--nolockcheck", "--convert-to", "pdf", "--outdir", str(work), str(work / "bulletin.docx")]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, env={**os.environ, "HOME": tmp})
        except subprocess.TimeoutExpired:
            raise BulletinUnavailable(f"LibreOffice 在 {timeout_s} 秒内未完成 PDF 转换") from None
        out = work / "bulletin.pdf"
        if not out.exists():
            detail = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip()[-300:]
            raise BulletinUnavailable(f"LibreOffice 未能把通报转换为 PDF（退出码 {proc.returncode}）：{detail}")
        return out.read_bytes()


def render_pdf(data: BulletinData) -> bytes:
    """The 通报 as PDF: the Word document of :func:`render_docx`, converted by LibreOffice."""
    return docx_to_pdf(render_docx(data))


def file_name(data: BulletinData, fmt: str) -> str:
    return f"{data.year}年第{data.quarter}季度百园增效工作通报.{fmt}"


# =========================================================================== rankings → Excel
def ranking_xlsx(db: Database, year: int, *, viewer: Principal | str, category: str | None = None,
                 period: str | None = None) -> bytes:
    """The 考评 ranking of a round as an .xlsx in the filing layout, one sheet per category (or
    the one asked for). Who may read it and which columns: as ``kaoping.ranking`` — the public
    gets names, totals and ranks only."""
    body = kaoping.ranking(db, year, viewer=viewer, category=category, period=period)
    areas = [] if "scheme" not in body else body["scheme"]["areas"]
    period_label = a.PERIODS[body["period"]]
    wb = new_workbook()
    for cat, label in body["categories"].items():
        columns = [Column("序号", 6), Column("名称", 30),
                   *[Column(f"{x['label']}（{points_text(x['points'])}分）", 14, "0.00") for x in areas],
                   Column("总分", 10, "0.00"), Column("名次", 8)]
        if areas:
            columns.append(Column("约谈", 30))
        rows = []
        for i, r in enumerate(body["rankings"][cat], start=1):
            line = [i, r["name"], *[r["areas"].get(x["code"], 0) for x in areas], r["total"], r["rank"]]
            if areas:
                line.append("；".join(r["interview_reasons"]) or "—")
            rows.append(line)
        filing_sheet(wb.create_sheet(label[:31]), title=f"{year}年{period_label}考评排名——{label}",
                     subtitle=f"状态：{STATUS_LABELS.get(body['status'], body['status'])}　"
                              f"导出日期：{day_text(local_today())}",
                     columns=columns, rows=rows,
                     note="说明：名次并列按 1、2、2、4 计；未经市领导小组办公室评分的事项按自评计。"
                          "依据：许昌市产业集聚区“百园增效”行动考评暂行办法（分类排名）。")
    return to_bytes(wb)
