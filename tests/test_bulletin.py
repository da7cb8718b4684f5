"""季度通报 (issue 8 items 6 and 8): the Word document read back cell by cell against the figures it
was given, the PDF's text and fonts, the rendered first page, the Excel ranking's filing layout;
end to end from ledger entries, a published 考评 round, the loaded plan and a quota run — the
figures checked against a calculation written here; who may download what; the CLI."""

from __future__ import annotations

import io
from datetime import date

import pytest
import shapely
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from conftest import PASSWORD, bearer, run_cli
from landcycle.data import DATA_DIR
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import EnterpriseDraft, ParcelDraft
from landcycle.services import accounts as accounts_service
from landcycle.services import bulletin, disposal, enterprises, jurisdictions, kaoping, plan_tasks, quota, registry
from landcycle.storage.schema import Parcel

AREAS = [{"code": "planning", "label": "规划引领及实施", "points": 20},
         {"code": "land_use", "label": "土地高效利用及成效", "points": 40},
         {"code": "policy", "label": "用地政策和制度体系", "points": 25},
         {"code": "reform", "label": "改革创新和探索", "points": 15}]


def _rank_row(name, code, areas, rank, reasons=()):
    return {"category": "zone", "code": code, "name": name, "areas": areas, "total": sum(areas.values()),
            "rank": rank, "interview": bool(reasons), "interview_reasons": list(reasons)}


def _row(code, name, identified, disposed, revived, goal=0.6):
    rate = disposed / identified if identified else None
    return {"code": code, "name": name, "identified": identified, "disposed": disposed, "rate": rate,
            "meets_goal": rate is not None and rate >= goal, "revived_mu": revived, "entries": 2, "closed_entries": 1}


def sample(quarter=1, published=True, overdue=True, with_quota=True) -> bulletin.BulletinData:
    """Figures given by hand (what ``gather`` would collect)."""
    zones = [_rank_row("魏都产业集聚区", "Z10", {"planning": 18, "land_use": 36.5, "policy": 20, "reform": 12}, 1),
             _rank_row("长葛市产业集聚区", "Z03", {"planning": 15, "land_use": 30, "policy": 20, "reform": 10}, 2),
             _rank_row("禹州市产业集聚区", "Z05", {"planning": 15, "land_use": 30, "policy": 15, "reform": 15}, 2),
             _rank_row("鄢陵县产业集聚区", "Z08", {"planning": 10, "land_use": 20, "policy": 10, "reform": 5}, 4,
                       ["得分 45 低于 60 分"])]
    counties = [_row("411002", "魏都区", 312.5, 200.25, 150.0), _row("411082", "长葛市", 480.0, 96.0, 90.5),
                _row("411024", "鄢陵县", 0.0, 0.0, 0.0)]
    city = _row(None, "许昌市", 792.5, 296.25, 240.5)
    disp = {"as_of": "2026-03-31", "basis": "area", "unit": "亩", "goal_rate": 0.6, "goal_revived_mu": 13700.0,
            "formula": "消化处置率 = 已消化处置面积 ÷ 认定面积（测试口径）", "city": city, "counties": counties,
            "zones": [{**counties[0], "code": "Z10", "name": "魏都产业集聚区"},
                      {**counties[1], "code": "Z03", "name": "长葛市产业集聚区"}]}
    tasks = [{"plan_id": 1, "plan": "许昌市百园增效行动方案", "task_id": 7, "number": 7, "title": "批而未供土地清查处置",
              "lead": "市自然资源和规划局", "milestone_id": 11, "due": "2025-12-31", "what": "完成清查",
              "days_overdue": 90}] if overdue else []
    q = {"total_mu": 1000, "as_of": "2026-03-01", "basis": "产业集聚区内", "allocated_total_mu": 1000,
         "counties": [{"name": "魏都区", "revived_mu": 150.0, "rate": 0.64, "allocated_mu": 620},
                      {"name": "长葛市", "revived_mu": 90.5, "rate": 0.2, "allocated_mu": 380}]} if with_quota else None
    interview = None
    if quarter in (2, 4):
        interview = {"period": "H1", "label": "上半年", "status": "published", "rows": [zones[3]]}
    return bulletin.BulletinData(year=2026, quarter=quarter, as_of=date(2026, 3 * quarter, 30),
                                 issued_on=date(2026, 4, 8),
                                 ranking={"status": "published" if published else "draft", "areas": AREAS,
                                          "rows": zones if published else []},
                                 disposal=disp, overdue=tasks, quota=q, interview=interview)


def read_docx(content: bytes):
    return Document(io.BytesIO(content))


def table(doc, first_header: str) -> list[list[str]]:
    """The table whose first header cell is ``first_header``, as rows of cell texts."""
    for t in doc.tables:
        if t.rows[0].cells[0].text == first_header:
            return [[c.text for c in r.cells] for r in t.rows]
    raise AssertionError(f"no table headed {first_header}: {[t.rows[0].cells[0].text for t in doc.tables]}")


def text_of(doc) -> str:
    return "\n".join(p.text for p in doc.paragraphs)


def pct(num: float, den: float) -> str:
    return f"{num / den * 100:.1f}%"


# =========================================================================== the document, given figures
def test_the_word_document_carries_the_given_figures():
    data = sample()
    doc = read_docx(bulletin.render_docx(data))
    body = text_of(doc)
    assert doc.paragraphs[0].text == "许昌市产业集聚区“百园增效”行动领导小组办公室"
    assert "许昌市百园增效行动 2026年第1季度工作通报" in body and "（数据截至2026年3月30日）" in body
    assert body.rstrip().endswith("2026年4月8日")
    headings = [p.text for p in doc.paragraphs if p.text[:2] in ("一、", "二、", "三、", "四、", "五、")]
    assert headings == ["一、产业集聚区考评排名", "二、存量低效用地消化处置进展", "三、工作方案任务逾期情况",
                        "四、增存挂钩指标分配"]  # no 约谈 section in Q1

    ranking = table(doc, "名次")
    assert ranking[0] == ["名次", "产业集聚区", "规划引领及实施（20分）", "土地高效利用及成效（40分）",
                          "用地政策和制度体系（25分）", "改革创新和探索（15分）", "总分"]
    assert ranking[1] == ["1", "魏都产业集聚区", "18.0", "36.5", "20.0", "12.0", "86.5"]
    assert [(r[0], r[1], r[6]) for r in ranking[2:]] == [("2", "长葛市产业集聚区", "75.0"), ("2", "禹州市产业集聚区", "75.0"),
                                                         ("4", "鄢陵县产业集聚区", "45.0")]

    counties = table(doc, "县（市、区）、管委会")
    assert counties[0] == ["县（市、区）、管委会", "认定（亩）", "已消化处置（亩）", "消化处置率", "达到60%", "盘活面积（亩）"]
    # the rates recomputed here from the areas: 200.25/312.5 = 64.08 %, 96/480 = 20 %, 296.25/792.5 = 37.38 %
    assert counties[1] == ["魏都区", "312.50", "200.25", pct(200.25, 312.5), "是", "150.00"]
    assert counties[2] == ["长葛市", "480.00", "96.00", "20.0%", "否", "90.50"]
    assert counties[3] == ["鄢陵县", "0.00", "0.00", "—", "—", "0.00"]  # nothing identified: no rate
    assert counties[4] == ["全市合计", "792.50", "296.25", "37.4%", "否", "240.50"]
    assert table(doc, "产业集聚区")[1][:4] == ["魏都产业集聚区", "312.50", "200.25", "64.1%"]
    # the city line in words; 240.5 of 13700 亩 revived = 1.755… %
    assert "消化处置率 37.4%，尚未达到 60% 的目标" in body
    assert f"完成 1.37万亩目标的 {pct(240.5, 13700)}" in body and pct(240.5, 13700) == "1.8%"
    assert "消化处置率低于 60% 的县（市、区）和管委会：长葛市。" in body and "口径：消化处置率 = 已消化处置面积" in body

    tasks = table(doc, "序号")
    assert "（一）许昌市百园增效行动方案" in body
    assert tasks[1] == ["1", "7. 批而未供土地清查处置", "市自然资源和规划局", "2025-12-31", "完成清查", "90"]
    allocation = next(t for t in doc.tables if t.rows[0].cells[-1].text == "分得指标（亩）")
    assert [[c.text for c in r.cells] for r in allocation.rows][1:] == [
        ["魏都区", "150.00", "64.0%", "620"], ["长葛市", "90.50", "20.0%", "380"], ["合计", "", "", "1000"]]
    # two charts (zone ranking, disposal rate against the goal) as PNG pictures
    assert len(doc.inline_shapes) == 2
    pictures = [p for p in doc.part.package.parts if p.content_type == "image/png"]
    assert len(pictures) == 2 and all(p.blob[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)
    # table header cells are shaded
    assert 'w:fill="D9E2F3"' in doc.tables[0].rows[0].cells[0]._tc.xml


def test_what_the_document_says_when_there_is_nothing_to_show():
    doc = read_docx(bulletin.render_docx(sample(quarter=3, published=False, overdue=False, with_quota=False)))
    body = text_of(doc)
    assert "2026年第三季度产业集聚区考评结果尚未发布（当前状态：草稿（未发布）），本期通报不列排名。" in body
    assert "各工作方案无逾期未完成的任务" in body and "2026年度新增建设用地指标尚未按增存挂钩分配" in body
    assert not [t for t in doc.tables if t.rows[0].cells[0].text == "名次"]
    assert len(doc.inline_shapes) == 1  # only the disposal chart


def test_the_half_year_bulletins_carry_the_interview_list():
    doc = read_docx(bulletin.render_docx(sample(quarter=2)))
    assert "五、上半年约谈名单" in text_of(doc)
    rows = [[c.text for c in r.cells] for t in doc.tables if t.rows[0].cells[-1].text == "约谈原因" for r in t.rows]
    assert rows[1] == ["1", "产业集聚区管理机构", "鄢陵县产业集聚区", "45.0", "得分 45 低于 60 分"]


def test_the_pdf_shows_chinese_text_and_numbers(tmp_path):
    import pypdfium2 as pdfium

    pdf = bulletin.render_pdf(sample())
    assert pdf.startswith(b"%PDF")
    # LibreOffice embedded (a subset of) the CJK font rather than a fallback without the glyphs
    assert b"NotoSansCJK" in pdf
    doc = pdfium.PdfDocument(pdf)
    try:
        text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        flat = "".join(text.split())
        assert "许昌市百园增效行动2026年第1季度工作通报" in flat
        for figure in ("86.5", "312.50", "200.25", "64.1%", "37.4%", "市自然资源和规划局", "1.37万亩"):
            assert figure in flat, figure
        page = doc[0].render(scale=1.5).to_pil()
        page.save(tmp_path / "bulletin-page1.png")
        # a page with drawn glyphs: dark pixels in the title band, the red 红头 line
        gray = page.convert("L")
        w, h = gray.size
        dark = sum(1 for x in range(0, w, 2) for y in range(int(h * 0.14), int(h * 0.2), 2)
                   if gray.getpixel((x, y)) < 100)
        assert dark > 200
        assert any(page.getpixel((x, y))[0] > 150 and page.getpixel((x, y))[1] < 60
                   for x in range(w // 4, w * 3 // 4, 3) for y in range(int(h * 0.08), int(h * 0.16)))
    finally:
        doc.close()


def test_no_cjk_font_or_no_libreoffice_is_a_clear_chinese_refusal(monkeypatch):
    monkeypatch.setattr(bulletin, "CJK_FAMILY", "不存在的字体 XYZ")
    bulletin.cjk_font.cache_clear()
    try:
        with pytest.raises(bulletin.BulletinUnavailable, match="未找到中文字体.*fonts-noto-cjk"):
            bulletin.render_docx(sample())
    finally:
        monkeypatch.undo()
        bulletin.cjk_font.cache_clear()
    monkeypatch.setattr(bulletin.shutil, "which", lambda _name: None)
    with pytest.raises(bulletin.BulletinUnavailable, match="libreoffice-writer-nogui"):
        bulletin.docx_to_pdf(b"")


# =========================================================================== end to end
def _point(db, name):
    with db.reader() as s:
        p = shapely.point_on_surface(jurisdictions.resolve(s, name).geometry)
    return p.x, p.y


#: (code, zone, opened_on, closed_on, outcome) — one ledger entry per parcel; as_of = 2026-03-31.
LEDGER = [
    ("411002001001GB00301", "魏都产业集聚区", date(2026, 1, 5), date(2026, 3, 20), "revived"),  # disposed, revived
    ("411002001001GB00302", "魏都产业集聚区", date(2026, 1, 5), None, None),  # identified
    ("411082001001GB00301", "长葛市产业集聚区", date(2026, 1, 5), date(2026, 4, 1), "reclaimed"),  # closed after as_of
    ("411082001001GB00302", "长葛市产业集聚区", date(2026, 1, 5), date(2026, 2, 1), "revoked"),  # dropped out
    ("411081001001GB00301", "禹州市产业集聚区", date(2026, 1, 5), date(2026, 3, 31), "supplied"),  # on the day: counts
    ("411081001001GB00302", "禹州市产业集聚区", date(2026, 4, 2), None, None),  # opened after as_of
]
AS_OF = date(2026, 3, 31)
COUNTY = {"魏都产业集聚区": "魏都区", "长葛市产业集聚区": "长葛市", "禹州市产业集聚区": "禹州市"}
DISPOSED = {"revived", "reclaimed", "supplied"}


@pytest.fixture
def world(db):
    drafts = []
    for n, (code, zone, *_rest) in enumerate(LEDGER):
        x, y = _point(db, zone)
        drafts.append(ParcelDraft(code=code, geometry=rectangle_around(x + 0.004 * (n % 2), y, 0.1 + 0.05 * n, 0.1),
                                  county=COUNTY[zone], zone=zone, state="闲置"))
    registry.register_parcels(db, drafts, actor="测试")
    for code, _zone, opened, closed, outcome in LEDGER:
        e = disposal.open_entry(db, code, "idle", actor="测试", reason="季度通报测试", opened_on=opened)
        if closed:
            disposal.close_entry(db, e["id"], e["version"], actor="测试", outcome=outcome, closed_on=closed)
    for zone, score in (("魏都产业集聚区", 9), ("长葛市产业集聚区", 7), ("禹州市产业集聚区", 7)):
        kaoping.submit(db, 2026, category="zone", participant=zone, source="office", period="Q1",
                       scores=[{"item": "plan_revision", "score": score}, {"item": "spatial_plan", "score": 5}],
                       expected_version=0, actor="测试")
    plan_tasks.load_plan(db, DATA_DIR / "plans" / "xuchang_2021.toml", actor="测试")
    quota.allocate(db, 2026, 600, actor="测试")
    return db


def expected_city(db):
    """消化处置率 and 盘活 of the ledger on AS_OF, computed here from the parcels' areas."""
    with db.reader() as s:
        area = {c: round(a, 4) for c, a in s.execute(select(Parcel.code, Parcel.area_mu)).all()}
    ident = disp = revived = 0.0
    for code, _zone, opened, closed, outcome in LEDGER:
        done = closed is not None and closed <= AS_OF
        if opened > AS_OF or (done and outcome == "revoked"):
            continue
        ident += area[code]
        if done and outcome in DISPOSED:
            disp += area[code]
            revived += area[code]
    return ident, disp, revived


def test_the_bulletin_of_a_quarter_from_the_platform(world):
    db = world
    kaoping.publish(db, 2026, expected_version=1, actor="测试", period="Q1")
    data = bulletin.gather(db, 2026, 1, viewer="测试")
    assert data.as_of == AS_OF and data.title == "许昌市百园增效行动 2026年第1季度工作通报"
    doc = read_docx(bulletin.render_docx(data))
    ident, disp, revived = expected_city(db)
    city = table(doc, "县（市、区）、管委会")[-1]
    assert city == ["全市合计", f"{ident:.2f}", f"{disp:.2f}", pct(disp, ident), "否" if disp / ident < 0.6 else "是",
                    f"{revived:.2f}"]
    zones = {r[0]: r for r in table(doc, "产业集聚区")[1:]}
    assert len(zones) == 10 and zones["鄢陵县产业集聚区"][3] == "—"
    with db.reader() as s:
        area = {c: round(a, 4) for c, a in s.execute(select(Parcel.code, Parcel.area_mu)).all()}
    w1, w2 = area[LEDGER[0][0]], area[LEDGER[1][0]]
    assert zones["魏都产业集聚区"][1:4] == [f"{w1 + w2:.2f}", f"{w1:.2f}", pct(w1, w1 + w2)]
    assert zones["禹州市产业集聚区"][1:4] == [f"{area[LEDGER[4][0]]:.2f}"] * 2 + ["100.0%"]
    # the published Q1 zone ranking: 14, 12, 12 and the unscored zones at 0
    ranking = table(doc, "名次")
    assert [(r[0], r[1], r[-1]) for r in ranking[1:4]] == [("1", "魏都产业集聚区", "14.0"), ("2", "长葛市产业集聚区", "12.0"),
                                                           ("2", "禹州市产业集聚区", "12.0")]
    assert len(ranking) == 11
    # overdue milestones of the loaded plan on AS_OF: the most overdue first, days counted here
    tasks = table(doc, "序号")[1:]
    overdue = plan_tasks.overdue_tasks(db, AS_OF)
    assert len(tasks) == len(overdue) > 0
    first = overdue[0]
    assert tasks[0][2] == first["lead"] and tasks[0][5] == str((AS_OF - date.fromisoformat(first["due"])).days)
    run = quota.year_view(db, 2026, viewer="测试")
    alloc = next(t for t in doc.tables if t.rows[0].cells[-1].text == "分得指标（亩）")
    assert [r.cells[-1].text for r in alloc.rows[1:-1]] == [f"{c['allocated_mu']:g}" for c in run["counties"]]
    assert alloc.rows[-1].cells[-1].text == "600"


def test_an_unpublished_round_is_not_ranked_and_the_as_of_day_counts(world):
    db = world
    data = bulletin.gather(db, 2026, 1, viewer="测试", as_of=date(2026, 4, 1))
    assert data.ranking["status"] == "draft" and data.ranking["rows"] == []
    body = text_of(read_docx(bulletin.render_docx(data)))
    assert "考评结果尚未发布" in body
    # a day later the 长葛 parcel closed on 4-1 counts as disposed
    changge = next(z for z in data.disposal["zones"] if z["name"] == "长葛市产业集聚区")
    with db.reader() as s:
        a = round(s.scalar(select(Parcel.area_mu).where(Parcel.code == LEDGER[2][0])), 4)
    assert changge["disposed"] == pytest.approx(a) and changge["rate"] == 1.0
    with pytest.raises(Exception, match="季度应为 1–4"):
        bulletin.gather(db, 2026, 5, viewer="测试")


def _enterprise_account(db):
    cc = credit_code_with_check("91411002MA44BULL0")
    enterprises.register_enterprise(db, EnterpriseDraft(cc, "许昌通报测试有限公司", "C3411", True, "魏都区"), actor="测试")
    accounts_service.add_user(db, "ent", PASSWORD, "enterprise", enterprise=cc)


def test_who_may_download_the_bulletin(world, api, accounts):
    db = world
    _enterprise_account(db)
    assert api.get("/api/bulletins/2026/Q1.docx").status_code == 401
    assert api.get("/api/bulletins/2026/Q1.pdf").status_code == 401
    assert api.get("/api/bulletins/2026/Q1.docx", headers=bearer(api, "ent")).status_code == 403
    first = None
    for who in ("city", "weidu_admin", "weidu_zone", "tax_city"):
        r = api.get("/api/bulletins/2026/Q1.docx?as_of=2026-03-31", headers=bearer(api, who))
        assert r.status_code == 200, (who, r.text[:300])
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessing")
        assert "filename*=UTF-8''" in r.headers["content-disposition"]
        rows = table(read_docx(r.content), "产业集聚区")
        first = first or rows
        assert rows == first and len(rows) == 11  # the same city-wide document for every official
    assert api.get("/api/bulletins/2026/Q5.docx", headers=bearer(api, "city")).status_code == 422
    assert api.get("/api/bulletins/1999/Q1.docx", headers=bearer(api, "city")).status_code == 422
    r = api.get("/api/bulletins/2026/Q1.pdf", headers=bearer(api, "weidu_admin"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")


def test_rankings_export_to_excel_in_a_filing_layout(world, api, accounts):
    db = world
    _enterprise_account(db)
    city = bearer(api, "city")
    # a draft: the city only
    assert api.get("/api/kaoping/2026/ranking.xlsx?period=Q1").status_code == 404
    r = api.get("/api/kaoping/2026/ranking.xlsx?period=Q1&category=zone", headers=city)
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml")
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["产业集聚区管理机构"]
    ws = wb.active
    assert ws["A1"].value == "2026年第一季度考评排名——产业集聚区管理机构" and "A1:I1" in {str(m) for m in ws.merged_cells}
    assert "草稿（未发布）" in ws["A2"].value
    header = [c.value for c in ws[3]]
    assert header[:2] == ["序号", "名称"] and header[-3:] == ["总分", "名次", "约谈"] and len(header) == 9
    assert ws[3][0].fill.fgColor.rgb.endswith("D9E2F3") and ws[3][0].font.b
    first = [c.value for c in ws[4]]
    assert first[1] == "魏都产业集聚区" and first[0] == 1 and first[-3:-1] == [14, 1]
    assert sum(first[2:6]) == first[6]  # the four areas add up to the total
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$3"
    assert ws.max_row == 3 + 10 + 1  # header rows, ten zones, the note
    # all three categories, one sheet each
    every = load_workbook(io.BytesIO(api.get("/api/kaoping/2026/ranking.xlsx?period=Q1", headers=city).content))
    assert every.sheetnames == ["县（市、区）政府（管委会）", "产业集聚区管理机构", "市直部门"]
    assert api.get("/api/kaoping/2026/ranking.xlsx?category=city", headers=city).status_code == 422
    # published: the public gets names, totals and ranks only
    kaoping.publish(db, 2026, expected_version=1, actor="测试", period="Q1")
    pub = load_workbook(io.BytesIO(api.get("/api/kaoping/2026/ranking.xlsx?period=Q1&category=zone").content)).active
    assert [c.value for c in pub[3]] == ["序号", "名称", "总分", "名次"] and pub["B4"].value == "魏都产业集聚区"
    assert "已发布" in pub["A2"].value


# The command line is a face over services the API tests exercise on both backends: SQLite only.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_bulletin_through_the_cli(world, tmp_path):
    out = tmp_path / "通报.docx"
    res = run_cli(world.url, "bulletin", "2026", "1", "--format", "docx", "--out", str(out))
    assert "已生成" in res.stdout and out.exists()
    assert read_docx(out.read_bytes()).paragraphs[1].text == "许昌市百园增效行动 2026年第1季度工作通报"
    bad = run_cli(world.url, "bulletin", "2026", "1", "--format", "odt", check=False)
    assert bad.exit_code == 2 and "应为 docx 或 pdf" in bad.stderr
    bad = run_cli(world.url, "bulletin", "2026", "7", check=False)
    assert bad.exit_code == 2 and "季度应为 1–4" in bad.stderr
