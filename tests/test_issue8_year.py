"""Issue 8 "Tests": a full year of the 百园增效 action on the demo data, on SQLite and PostgreSQL.

The world is ``demo.generate_demo(scale=300)`` (every state and 低效 category, quick enough for both
backends), evaluated for ``DEMO_EVALUATION_YEAR`` and played through ``demo.generate_demo_year``
(plans, ledgers, reports, closures, 挂牌督办, one 再开发监管协议). The test then runs what the city
office does in the year (supply list, 考评 round, quota, the Q4 通报) and checks every figure
against a calculation of its own from the stored rows — never by calling the service's formula.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from datetime import date

import pytest
from docx import Document
from sqlalchemy import and_, func, select

from landcycle.domain.access import Principal, Role
from landcycle.domain.errors import ValidationFailed
from landcycle.domain.rules import evaluation as ev_rules
from landcycle.services import (bulletin, demo, disposal, evaluation, kaoping, oversight, plan_tasks, quota, rules,
                                supply_lists)
from landcycle.storage.disposal_schema import DisposalEntry, DisposalReport
from landcycle.storage.evaluation_schema import ParcelEvaluation
from landcycle.storage.plan_schema import PlanMilestone, PlanMilestoneCompletion, PlanTask
from landcycle.storage.schema import Jurisdiction, Parcel

YEAR = demo.DEMO_ACTION_YEAR
QUARTER_ENDS = [date(YEAR, 3, 31), date(YEAR, 6, 30), date(YEAR, 9, 30), date(YEAR, 12, 31)]
OFFICE = "市领导小组办公室"
DOC = {"title": f"关于许昌市{YEAR}年度可供土地清单的批复（演示）", "number": f"许政文〔{YEAR}〕9号", "date": f"{YEAR}-03-20"}


@pytest.fixture
def year_world(db):
    demo.generate_demo(db, scale=300)
    run = evaluation.evaluate(db, demo.DEMO_EVALUATION_YEAR, actor="test")
    played = demo.generate_demo_year(db, run.run_id)
    return {"run_id": run.run_id, "played": played}


# --------------------------------------------------------------------------- independent calculations
def _expected_ledger_keys(db, run_id: int) -> set[tuple[int, str]]:
    """(parcel, category) the run's verdicts (latest result per parcel) and the parcels' states name."""
    keys = set()
    with db.reader() as s:
        latest = (select(ParcelEvaluation.parcel_id, func.max(ParcelEvaluation.result_version).label("v"))
                  .where(ParcelEvaluation.run_id == run_id).group_by(ParcelEvaluation.parcel_id).subquery())
        for pid, idle, mask in s.execute(
                select(ParcelEvaluation.parcel_id, ParcelEvaluation.idle_outcome, ParcelEvaluation.low_efficiency_mask)
                .join(latest, and_(latest.c.parcel_id == ParcelEvaluation.parcel_id,
                                   latest.c.v == ParcelEvaluation.result_version))
                .where(ParcelEvaluation.run_id == run_id)):
            if idle in ev_rules.IDLE_TRUE:
                keys.add((pid, "idle"))
            keys |= {(pid, c.value) for c, bit in ev_rules.CATEGORY_BITS.items() if mask & bit}
        for pid, state, cats in s.execute(select(Parcel.id, Parcel.state, Parcel.inefficiency_categories).where(
                Parcel.state.in_(["approved_unsupplied", "idle", "inefficient"]))):
            if state == "inefficient":
                keys |= {(pid, c) for c in (cats or ["other"])}
            else:
                keys.add((pid, state))
    return keys


def _ledger_rows(db) -> list[dict]:
    with db.reader() as s:
        juris = {j.id: j for j in s.scalars(select(Jurisdiction))}
        rows = s.execute(select(DisposalEntry.parcel_id, DisposalEntry.category, DisposalEntry.opened_on,
                                DisposalEntry.closed_on, DisposalEntry.outcome, DisposalEntry.area_mu,
                                Parcel.zone_id, Parcel.county_id)
                         .join(Parcel, Parcel.id == DisposalEntry.parcel_id)).all()
        out = []
        for pid, cat, opened, closed, outcome, area, zone_id, county_id in rows:
            zone = juris.get(zone_id)
            parent = juris.get(zone.parent_id) if zone is not None and zone.parent_id else None
            county = parent if parent is not None and parent.kind in ("county", "management_area") else juris[county_id]
            out.append({"parcel": pid, "category": cat, "opened": opened, "closed": closed, "outcome": outcome,
                        "area": area, "zone": zone.code if zone else None, "county": county.code})
    return out


def _expected_rates(rows: list[dict], day: date) -> dict[str, dict[str, tuple[float, float]]]:
    """{"city"/"counties"/"zones": {code: (identified 亩, disposed 亩)}} on ``day`` from the entries:
    a parcel is identified when an entry of a ledger category is open on the day and not closed
    as 撤销认定; disposed when every such entry is closed by the day with a disposal outcome."""
    book = rules.load_rulebook().section("disposal_rate")
    cats, excluded, done = (set(book["ledger_categories"]), set(book["ledger_excluded_outcomes"]),
                            set(book["ledger_disposed_outcomes"]))
    parcels: dict[int, dict] = {}
    for r in rows:
        p = parcels.setdefault(r["parcel"], {"area": 0.0, "n": 0, "done": 0, "zone": r["zone"], "county": r["county"]})
        p["area"] = max(p["area"], r["area"])
        closed = r["closed"] is not None and r["closed"] <= day
        if r["category"] not in cats or r["opened"] > day or (closed and r["outcome"] in excluded):
            continue
        p["n"] += 1
        p["done"] += closed and r["outcome"] in done
    out: dict[str, dict] = {"city": defaultdict(lambda: [0.0, 0.0]), "counties": defaultdict(lambda: [0.0, 0.0]),
                            "zones": defaultdict(lambda: [0.0, 0.0])}
    for p in parcels.values():
        if not p["n"]:
            continue
        disposed = p["area"] if p["done"] == p["n"] else 0.0
        for level, key in (("city", "city"), ("counties", p["county"]), ("zones", p["zone"])):
            if key is None:
                continue
            out[level][key][0] += p["area"]
            out[level][key][1] += disposed
    return out


def _check_progress(db, rows: list[dict], day: date) -> dict:
    body = disposal.progress(db, as_of=day, viewer="test")
    want = _expected_rates(rows, day)
    got = {"city": {"city": body["city"]}, "counties": {r["code"]: r for r in body["counties"]},
           "zones": {r["code"]: r for r in body["zones"]}}
    for level in ("city", "counties", "zones"):
        for code, row in got[level].items():
            ident, disp = want[level].get(code, (0.0, 0.0))
            assert row["identified"] == pytest.approx(ident, abs=1e-3), (day, level, code)
            assert row["disposed"] == pytest.approx(disp, abs=1e-3), (day, level, code)
            if ident:
                assert row["rate"] == pytest.approx(disp / ident, abs=1e-6), (day, level, code)
                assert row["meets_goal"] == (disp / ident >= 0.6 - 1e-12)
            else:
                assert row["rate"] is None
    return body


def _competition_ranks(totals: dict[str, float]) -> dict[str, int]:
    """1, 1, 3: one more than the number of strictly higher totals (compared at 2 decimals)."""
    r = {k: round(v, 2) for k, v in totals.items()}
    return {k: 1 + sum(1 for x in r.values() if x > v) for k, v in r.items()}


def _expected_quota(total: float, counties: list[dict], p: dict) -> dict[str, float]:
    """docs/kaoping-and-quota.md §1 applied to the run's recorded figures (kaoping_share 0)."""
    part = [c for c in counties if c["revived_mu"] > 0] if p.get("require_revival") else list(counties)
    n = len(part)
    sum_r = sum(c["revived_mu"] for c in part)
    sum_p = sum(c["rate"] or 0.0 for c in part)
    w = {}
    for c in part:
        w[c["code"]] = (p["base_share"] / n + p["revived_share"] * (c["revived_mu"] / sum_r if sum_r else 1 / n)
                        + p["rate_share"] * ((c["rate"] or 0.0) / sum_p if sum_p else 1 / n))
    unit = p["unit_mu"]
    units = round(total / unit)
    lo, hi = p["floor_share"] * units, p["cap_share"] * units
    fixed: dict[str, float] = {}
    while True:  # fix those beyond a bound, share the rest again in proportion to w
        free = [k for k in w if k not in fixed]
        left = units - sum(fixed.values())
        sw = sum(w[k] for k in free)
        exact = {k: left * w[k] / sw for k in free}
        under = [k for k in free if exact[k] < lo - 1e-9]
        over = [k for k in free if exact[k] > hi + 1e-9]
        if under:
            fixed.update({k: lo for k in under})
        elif over:
            fixed.update({k: hi for k in over})
        else:
            exact.update(fixed)
            break
    alloc = {k: math.floor(v + 1e-9) for k, v in exact.items()}
    rest = units - sum(alloc.values())
    revived = {c["code"]: c["revived_mu"] for c in part}
    for k in sorted(exact, key=lambda k: (-round(exact[k] - alloc[k], 9), -revived[k], k))[:rest]:
        alloc[k] += 1
    out = {c["code"]: 0.0 for c in counties}
    out.update({k: v * unit for k, v in alloc.items()})
    return out


def _overdue_milestones(db, day: date) -> tuple[int, int]:
    """(tasks, milestones) past their due day on ``day`` and not completed by it."""
    with db.reader() as s:
        done = dict(s.execute(select(PlanMilestoneCompletion.milestone_id, PlanMilestoneCompletion.completed_on)).all())
        rows = s.execute(select(PlanMilestone.id, PlanMilestone.task_id, PlanMilestone.due)
                         .join(PlanTask, PlanTask.id == PlanMilestone.task_id)
                         .where(PlanMilestone.retired_in_version.is_(None), PlanTask.retired_in_version.is_(None))).all()
    late = [(t, m) for m, t, due in rows if due < day and not (m in done and done[m] <= day)]
    return len({t for t, _ in late}), len(late)


def _table(doc, first_header: str) -> list[list[str]]:
    for t in doc.tables:
        if t.rows[0].cells[0].text == first_header:
            return [[c.text for c in row.cells] for row in t.rows[1:]]
    raise AssertionError(f"no table headed {first_header}")


# --------------------------------------------------------------------------- the year
def test_the_ledger_of_the_year_matches_the_verdicts_and_the_rates_an_independent_sum(db, year_world):
    # evaluation → ledger: exactly the (parcel, category) pairs the verdict rows and states name
    rows = _ledger_rows(db)
    assert {(r["parcel"], r["category"]) for r in rows} == _expected_ledger_keys(db, year_world["run_id"])
    assert len(rows) == year_world["played"].entries > 0
    assert all(r["opened"] == demo.DEMO_LEDGER_OPENED for r in rows)
    # some supervised, reported, disposed and closed on days through the year
    closed = [r for r in rows if r["closed"] is not None]
    assert 0 < len(closed) < len(rows) and all(r["outcome"] for r in closed)
    assert len({(r["closed"].month - 1) // 3 for r in closed}) == 3  # closings in Q2, Q3 and Q4
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(DisposalReport)) == year_world["played"].reports > 0
    counts = oversight.zone_counts(db, "test", as_of=date(YEAR, 12, 31))
    listed = sorted(z["counted_by_due"] for z in counts["zones"])
    assert counts["below_minimum"] == 1 and listed[0] == 1 and listed[1] >= 2
    assert year_world["played"].agreements == 1 and year_world["played"].cases == sum(
        z["listed"] for z in counts["zones"])
    # 消化处置率 per zone, county and city on each quarter's end (and before the ledger opened)
    assert disposal.progress(db, as_of=date(YEAR, 1, 31), viewer="test")["city"]["rate"] is None
    rates = [_check_progress(db, rows, d)["city"]["rate"] for d in QUARTER_ENDS]
    assert rates[0] == 0.0 and rates == sorted(rates) and rates[-1] > rates[1] > 0
    # the office closes one more entry in Q4 by hand: the year-end figures move by exactly its parcel
    with db.reader() as s:
        eid, version, pid, area = s.execute(select(DisposalEntry.id, DisposalEntry.version, DisposalEntry.parcel_id,
                                                   DisposalEntry.area_mu).where(DisposalEntry.status == "open")
                                            .order_by(DisposalEntry.id)).first()
        siblings = s.scalar(select(func.count()).select_from(DisposalEntry).where(
            DisposalEntry.parcel_id == pid, DisposalEntry.status == "open"))
    before = _expected_rates(rows, date(YEAR, 12, 31))["city"]["city"][1]
    disposal.add_report(db, eid, actor="test", text="已签订收回协议", reported_on=date(YEAR, 11, 30), percent=90)
    disposal.close_entry(db, eid, version, actor="test", outcome="收回", closed_on=date(YEAR, 12, 10))
    with pytest.raises(ValidationFailed):  # closed only once
        disposal.close_entry(db, eid, version + 1, actor="test", outcome="收回", closed_on=date(YEAR, 12, 11))
    after = _check_progress(db, _ledger_rows(db), date(YEAR, 12, 31))["city"]["disposed"]
    assert after == pytest.approx(before + (area if siblings == 1 else 0.0), abs=1e-3)


def test_supply_list_kaoping_quota_and_the_q4_bulletin(db, api, year_world):
    # ---- 年度可供土地清单: compile, submit, publish; the portal shows exactly that edition
    v = supply_lists.compile_list(db, YEAR, "411000", "test")
    edition = {e["code"] for e in v["entries"]}
    assert edition
    v = supply_lists.submit(db, v["id"], "test", v["version"])
    v = supply_lists.publish(db, v["id"], "test", v["version"], DOC)
    assert v["status"] == "published"
    portal = api.get("/api/supply", params={"limit": 1000}).json()
    assert {i["code"] for i in portal["items"]} == edition
    parcels = api.get("/api/parcels", params={"limit": 1000}).json()
    assert {f["properties"]["code"] for f in parcels["features"]} == edition
    assert parcels["numberMatched"] == len(edition)

    # ---- 考评 round of Q4: zones self-assess, the office scores some items, published
    sch = kaoping.scheme().to_dict()
    items = [(i["code"], float(i["points"])) for ar in sch["areas"] for i in ar["items"]]
    with db.reader() as s:
        zones = s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name)
                          .where(Jurisdiction.kind == "zone").order_by(Jurisdiction.code)).all()
    expected: dict[str, float] = {}
    for n, z in enumerate(zones):
        manager = Principal(username=f"zm{n}", role=Role.ZONE_MANAGER, jurisdiction_id=z.id,
                            zone_ids=frozenset({z.id}), display_name=z.name)
        k = 10 if n in (0, 1) else n  # zones 0 and 1 score the same, at the top: ranks 1, 1, 3
        own = {code: round(pts * (0.5 + 0.04 * k), 1) for code, pts in items}
        kaoping.submit(db, YEAR, category="zone", participant=z.code, source="self", period="Q4",
                       scores=[{"item": c, "score": x, "evidence": "自评材料"} for c, x in own.items()],
                       expected_version=0, actor=manager)
        office = {code: round(pts * (0.45 + 0.04 * k), 1) for code, pts in items[:4]}  # the office scores 4 items
        kaoping.submit(db, YEAR, category="zone", participant=z.code, source="office", period="Q4",
                       scores=[{"item": c, "score": x} for c, x in office.items()], expected_version=0,
                       actor=Principal(username="office", role=Role.CITY_ADMIN, everywhere=True))
        expected[z.code] = sum(office.get(c, own[c]) for c, _ in items)
    code0, pts0 = items[0]
    with pytest.raises(ValidationFailed):  # above the item's points: refused, the total never passes 100
        kaoping.submit(db, YEAR, category="zone", participant=zones[2].code, source="office", period="Q4",
                       scores=[{"item": code0, "score": pts0 + 0.5}], expected_version=1, actor="office")
    state = kaoping.round_view(db, YEAR, viewer=Principal(username="office", role=Role.CITY_ADMIN, everywhere=True),
                               period="Q4")
    kaoping.publish(db, YEAR, expected_version=state["round"]["version"],
                    actor=Principal(username="office", role=Role.CITY_ADMIN, everywhere=True), period="Q4")
    ranking = kaoping.ranking(db, YEAR, viewer="test", category="zone", period="Q4")["rankings"]["zone"]
    ranks = _competition_ranks(expected)
    assert {r["code"]: (round(r["total"], 2), r["rank"]) for r in ranking} == {
        c: (round(t, 2), ranks[c]) for c, t in expected.items()}
    assert sorted(ranks.values())[:3] == [1, 1, 3]

    # ---- 增存挂钩: the run's allocation is the documented formula on the figures it records
    run = quota.allocate(db, YEAR, 1000.0, actor="test", as_of=date(YEAR, 12, 31))
    assert run["as_of"] == f"{YEAR}-12-31"
    params = {**rules.load_rulebook().section("quota"), **run["parameters"]}
    want = _expected_quota(run["total_mu"], run["counties"], params)
    assert {c["code"]: c["allocated_mu"] for c in run["counties"]} == pytest.approx(want)
    assert run["allocated_total_mu"] == pytest.approx(1000.0)
    # the figures are the ledger's on the run's day (docs/kaoping-and-quota.md, services/quota.py:
    # one 消化处置率): a county is credited with the 产业集聚区 in its territory (zones_only) — the
    # sum of those zones' disposal.progress rows, and of this test's own sums from the entries
    day = date.fromisoformat(run["as_of"])
    zone_rows = {r["code"]: r for r in disposal.progress(db, as_of=day, viewer="test")["zones"]}
    own = _expected_rates(_ledger_rows(db), day)["zones"]
    with db.reader() as s:
        territory = s.execute(select(Jurisdiction.code, Jurisdiction.territory_county_id)
                              .where(Jurisdiction.kind == "zone")).all()
        county_code = dict(s.execute(select(Jurisdiction.id, Jurisdiction.code)).all())
    assert run["parameters"]["zones_only"] is True
    for c in run["counties"]:
        inside = [z for z, t in territory if county_code.get(t) == c["code"]]
        ident = sum(zone_rows[z]["identified"] for z in inside)
        disp = sum(zone_rows[z]["disposed"] for z in inside)
        assert ident == pytest.approx(sum(own.get(z, (0.0, 0.0))[0] for z in inside), abs=1e-3)
        assert disp == pytest.approx(sum(own.get(z, (0.0, 0.0))[1] for z in inside), abs=1e-3)
        assert c["identified_mu"] == pytest.approx(ident, abs=1e-3)
        assert c["revived_mu"] == pytest.approx(sum(zone_rows[z]["revived_mu"] for z in inside), abs=1e-3)
        assert c["rate"] == (pytest.approx(disp / ident, abs=1e-6) if ident else None)

    # ---- the Q4 通报: ranking table, disposal rates and overdue tasks as computed here
    data = bulletin.gather(db, YEAR, 4, viewer="test")
    assert data.as_of == date(YEAR, 12, 31)
    try:
        doc = Document(io.BytesIO(bulletin.render_docx(data)))
    except bulletin.BulletinUnavailable as exc:  # no CJK font on this machine
        pytest.skip(str(exc))
    names = {z.code: z.name for z in zones}
    table = _table(doc, "名次")
    assert [(r[1], r[-1], r[0]) for r in table] == [
        (names[c], f"{expected[c]:.1f}", str(ranks[c])) for c in sorted(expected, key=lambda c: (ranks[c], c))]
    rows = _ledger_rows(db)
    rates = _expected_rates(rows, data.as_of)
    zone_table = {r[0]: r for r in _table(doc, "产业集聚区")}
    for code, (ident, disp) in rates["zones"].items():
        r = zone_table[names[code]]
        assert r[1:4] == [f"{ident:.2f}", f"{disp:.2f}", f"{disp / ident * 100:.1f}%"]
    ident, disp = rates["city"]["city"]
    total_line = [r for r in _table(doc, "县（市、区）、管委会") if r[0] == "全市合计"][0]
    assert total_line[1:4] == [f"{ident:.2f}", f"{disp:.2f}", f"{disp / ident * 100:.1f}%"]
    quota_table = {r[0]: r for r in _table(doc, "县（市、区）")}
    for c in run["counties"]:
        assert quota_table[c["name"]][1:] == [f"{c['revived_mu']:.2f}", "—" if c["rate"] is None else
                                              f"{c['rate'] * 100:.1f}%", f"{want[c['code']]:g}"]
    assert quota_table["合计"][-1] == "1000"
    tasks, milestones = _overdue_milestones(db, data.as_of)
    text = "\n".join(p.text for p in doc.paragraphs)
    if milestones:
        assert f"有 {tasks} 项任务的 {milestones} 个完成时限已过而未完成" in text
    else:
        assert "无逾期未完成的任务" in text
    assert milestones == len(plan_tasks.overdue_tasks(db, data.as_of))
