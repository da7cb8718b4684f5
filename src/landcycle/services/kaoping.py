"""考评: self-assessments, the office's scores, rankings and the 约谈 list of a round.

Rules and formulas: ``domain.assessment`` (settings: the rulebook's ``[kaoping]``). A round is a
year and a period (``annual`` by default; ``Q1``–``Q4`` 季度通报, ``H1``/``H2`` 半年约谈); it is
created by its first submission and stays a draft until the city publishes it.

**Participants** (000:1266): category ``county`` — the counties (县（市、区）) and the
management areas (管委会); ``zone`` — the 产业集聚区 (their 管理机构); ``department`` — the city
departments listed in ``[kaoping] departments``.

**Who may write** — a self-assessment (自评, 000:1294): a county admin for its own county or
management area, a zone manager for its own zone, a city-level department account for its own
department (its account's department name is the department's name, code or one of its
aliases). The office's scores: city admins only (市领导小组办公室). Anyone else: 403; a participant
that does not exist: 404. Each submission names the version it is based on — the number of
earlier submissions of that participant and source (0 for the first); a stale one is refused
(409) and nothing is written. A published round takes no more submissions (422).

**Who may read** — the city admin: everything, drafts included. Other officials and
departments: their own participant's self-assessment at any time, the office's scores of it and
the rankings once the round is published. The public and enterprises: nothing of a draft; a
published ranking (names, totals, ranks — no items, no 约谈 list) when ``[kaoping]
public_rankings`` is true (default: the seed has the results 通报ed, 000:1304).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain import assessment as a
from ..domain.access import Principal, Role, as_principal
from ..domain.errors import Conflict, Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..storage.db import Database
from ..storage.kaoping_schema import KaopingRound, KaopingScore, KaopingSubmission
from ..storage.schema import Jurisdiction
from . import audit
from .rules import load_rulebook

RECORD = "考评"


def settings() -> dict[str, Any]:
    """The rulebook's ``[kaoping]`` section."""
    return dict(load_rulebook().section("kaoping"))


def scheme() -> a.Scheme:
    """The scoring scheme of the rulebook in use."""
    return a.Scheme.from_settings(settings())


def _year(year: Any) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ValidationFailed(Problem(RECORD, "year", f"年度应为 2000–2100 的整数，实际为 {year!r}"))
    return year


def _period(period: str | None) -> str:
    period = period or "annual"
    if period not in a.PERIODS:
        raise ValidationFailed(Problem(RECORD, "period", f"考评期次应为 {'、'.join(a.PERIODS)} 之一，实际为 {period!r}"))
    return period


def participants(s: Session) -> list[dict[str, Any]]:
    """Every participant: category, code, name (and the jurisdiction id / department aliases)."""
    rows = s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.kind)
                     .where(Jurisdiction.kind.in_(("county", "management_area", "zone")))
                     .order_by(Jurisdiction.code)).all()
    out = [{"category": "zone" if r.kind == "zone" else "county", "code": r.code, "name": r.name,
            "jurisdiction_id": r.id} for r in rows]
    for d in settings().get("departments", []):
        out.append({"category": "department", "code": str(d["code"]), "name": str(d["name"]),
                    "aliases": [str(x) for x in d.get("aliases", [])]})
    return out


def _find(s: Session, category: str, code: str) -> dict[str, Any]:
    if category not in a.CATEGORIES:
        raise ValidationFailed(Problem(RECORD, "category", f"考评类别应为 {'、'.join(a.CATEGORIES)} 之一，实际为 {category!r}"))
    for p in participants(s):
        if p["category"] == category and (p["code"] == code or p["name"] == code or code in p.get("aliases", [])):
            return p
    raise NotFound(f"考评对象（{a.CATEGORIES[category]}）", code)


def own(p: Principal, part: dict[str, Any]) -> bool:
    """Whether ``part`` is the caller's own unit (the one it self-assesses and reads)."""
    if part["category"] == "county":
        return p.role is Role.COUNTY_ADMIN and p.jurisdiction_id == part["jurisdiction_id"]
    if part["category"] == "zone":
        return p.role is Role.ZONE_MANAGER and p.jurisdiction_id == part["jurisdiction_id"]
    names = {part["code"], part["name"], *part.get("aliases", [])}
    return p.role is Role.DEPARTMENT and p.everywhere and (p.department or "") in names


def _round(s: Session, year: int, period: str) -> KaopingRound | None:
    return s.scalar(select(KaopingRound).where(KaopingRound.year == year, KaopingRound.period == period))


def _latest(s: Session, round_id: int) -> dict[tuple[str, str, str], dict[str, dict[str, Any]]]:
    """{(category, participant, source): {item: {score, evidence, seq, actor, at}}} — the latest
    score of each item over the submissions (later submissions win)."""
    rows = s.execute(select(KaopingSubmission, KaopingScore)
                     .join(KaopingScore, KaopingScore.submission_id == KaopingSubmission.id)
                     .where(KaopingSubmission.round_id == round_id)
                     .order_by(KaopingSubmission.seq, KaopingSubmission.id)).all()
    out: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for sub, sc in rows:
        out.setdefault((sub.category, sub.participant, sub.source), {})[sc.item] = {
            "score": sc.score, "evidence": sc.evidence, "seq": sub.seq, "actor": sub.actor,
            "at": sub.at.isoformat()}
    return out


def _versions(s: Session, round_id: int) -> dict[tuple[str, str, str], int]:
    rows = s.execute(select(KaopingSubmission.category, KaopingSubmission.participant, KaopingSubmission.source,
                            func.max(KaopingSubmission.seq)).where(KaopingSubmission.round_id == round_id)
                     .group_by(KaopingSubmission.category, KaopingSubmission.participant,
                               KaopingSubmission.source)).all()
    return {(c, p, src): int(v) for c, p, src, v in rows}


def submit(db: Database, year: int, *, category: str, participant: str, source: str,
           scores: list[dict[str, Any]], expected_version: int, actor: Principal | str,
           period: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Record a self-assessment (``source="self"``) or the office's scores (``"office"``) of one
    participant: ``scores`` = [{item, score, evidence}], each checked against the item's points.
    One transaction; returns the participant's view."""
    actor = as_principal(actor)
    if actor.is_public:
        raise Unauthorized()
    year, period = _year(year), _period(period)
    if source not in a.SOURCES:
        raise ValidationFailed(Problem(RECORD, "source", f"应为 self（自评）或 office（市领导小组办公室评分），实际为 {source!r}"))
    sch = scheme()
    with db.transaction(actor=actor.actor, reason=note or f"{year} 年{a.PERIODS[period]}考评{a.SOURCES[source]}") as s:
        part = _find(s, category, participant)
        if source == "office" and actor.role is not Role.CITY_ADMIN:
            raise Forbidden("只有市级管理员（市领导小组办公室）可以评分")
        if source == "self" and not own(actor, part):
            raise Forbidden(f"只能对本单位开展自评，{part['name']}不是{actor.display_name or actor.username}的本单位")
        record = f"{part['name']} {year} 年{a.PERIODS[period]}{a.SOURCES[source]}"
        if not scores:
            raise ValidationFailed(Problem(record, "scores", "至少填写一个考评事项的得分"))
        problems, lines, seen = [], [], set()
        for n, line in enumerate(scores, start=1):
            item = str(line.get("item", ""))
            if item in seen:
                problems.append(Problem(record, f"scores[{n}].item", f"考评事项 {item} 重复"))
                continue
            seen.add(item)
            try:
                value = a.check_score(sch, item, line.get("score"), record)
            except ValidationFailed as exc:
                problems.extend(Problem(p.record, f"scores[{n}].{p.field}", p.message) for p in exc.problems)
                continue
            lines.append((item, value, line.get("evidence")))
        if problems:
            raise ValidationFailed(problems)
        rnd = _round(s, year, period)
        if rnd is None:
            rnd = KaopingRound(year=year, period=period, status="draft", rulebook_version=load_rulebook().label)
            s.add(rnd)
            s.flush()
        if rnd.status == "published":
            raise ValidationFailed(Problem(record, "round", f"{year} 年{a.PERIODS[period]}考评已发布，不再接受自评或评分"))
        current = _versions(s, rnd.id).get((part["category"], part["code"], source), 0)
        if expected_version != current:
            raise Conflict(f"{part['name']}的{a.SOURCES[source]}", f"{year} {period}", expected_version,
                           {"version": current})
        sub = KaopingSubmission(round_id=rnd.id, category=part["category"], participant=part["code"], source=source,
                                seq=current + 1, actor=actor.actor, note=note)
        s.add(sub)
        s.flush()
        for item, value, evidence in lines:
            s.add(KaopingScore(submission_id=sub.id, item=item, score=value, evidence=evidence))
        s.flush()
    return participant_view(db, year, category=part["category"], participant=part["code"], viewer=actor, period=period)


def _result(sch: a.Scheme, latest: dict, part: dict[str, Any]) -> dict[str, Any]:
    key = (part["category"], part["code"])
    own_s = {k: v["score"] for k, v in latest.get((*key, "self"), {}).items()}
    office = {k: v["score"] for k, v in latest.get((*key, "office"), {}).items()}
    return a.score_participant(sch, own_s, office)


def participant_view(db: Database, year: int, *, category: str, participant: str, viewer: Principal | str,
                     period: str | None = None) -> dict[str, Any]:
    """One participant's items in a round: its self-assessment, the office's scores (to the city,
    or to the participant once published), the counted scores and totals, and the versions."""
    viewer = as_principal(viewer)
    if viewer.is_public:
        raise Unauthorized()
    year, period = _year(year), _period(period)
    sch = scheme()
    with db.reader() as s:
        part = _find(s, category, participant)
        city = viewer.role is Role.CITY_ADMIN
        if not (city or own(viewer, part)):
            raise NotFound(f"考评对象（{a.CATEGORIES[part['category']]}）", participant)
        rnd = _round(s, year, period)
        latest = _latest(s, rnd.id) if rnd else {}
        versions = _versions(s, rnd.id) if rnd else {}
        status = rnd.status if rnd else "none"
    key = (part["category"], part["code"])
    sees_office = city or status == "published"
    if not sees_office:
        latest = {k: v for k, v in latest.items() if k[2] != "office"}
    result = _result(sch, latest, part)
    details = {src: latest.get((*key, src), {}) for src in a.SOURCES}
    for line in result["items"]:
        line["self_evidence"] = details["self"].get(line["item"], {}).get("evidence")
        line["office_evidence"] = details["office"].get(line["item"], {}).get("evidence")
    return {"year": year, "period": period, "period_label": a.PERIODS[period], "status": status,
            "category": part["category"], "category_label": a.CATEGORIES[part["category"]], "code": part["code"],
            "name": part["name"], **result, "office_visible": sees_office,
            "versions": {src: versions.get((*key, src), 0) for src in a.SOURCES}}


def _ranking(db: Database, year: int, period: str) -> tuple[str, dict[str, Any] | None, dict[str, list]]:
    sch = scheme()
    with db.reader() as s:
        rnd = _round(s, year, period)
        parts = participants(s)
        latest = _latest(s, rnd.id) if rnd else {}
        info = None if rnd is None else {"status": rnd.status, "version": rnd.version,
                                         "published_at": rnd.published_at.isoformat() if rnd.published_at else None,
                                         "published_by": rnd.published_by, "rulebook_version": rnd.rulebook_version}
    results = [(a.Participant(p["category"], p["code"], p["name"]), _result(sch, latest, p)) for p in parts]
    return (info or {}).get("status", "none"), info, a.rank(sch, results)


def ranking(db: Database, year: int, *, viewer: Principal | str, category: str | None = None,
            period: str | None = None) -> dict[str, Any]:
    """Rankings per category of a round (module docstring for who sees what)."""
    viewer = as_principal(viewer)
    year, period = _year(year), _period(period)
    if category is not None and category not in a.CATEGORIES:
        raise ValidationFailed(Problem(RECORD, "category", f"考评类别应为 {'、'.join(a.CATEGORIES)} 之一，实际为 {category!r}"))
    status, info, ranks = _ranking(db, year, period)
    city = viewer.role is Role.CITY_ADMIN
    what = f"{year} 年{a.PERIODS[period]}考评排名"
    if not city:
        if status != "published":
            if viewer.is_public:
                raise NotFound("考评排名", f"{year} {period}")
            raise NotFound("已发布的考评排名", f"{year} {period}")
        if viewer.role in (Role.PUBLIC, Role.ENTERPRISE) and not settings().get("public_rankings", True):
            if viewer.is_public:
                raise Unauthorized()
            raise Forbidden("考评排名不向社会公开")
    public = viewer.role in (Role.PUBLIC, Role.ENTERPRISE)
    cats = [category] if category else list(a.CATEGORIES)
    out = {}
    for c in cats:
        rows = ranks[c]
        if public:
            rows = [{k: r[k] for k in ("category", "code", "name", "total", "rank")} for r in rows]
        out[c] = rows
    body: dict[str, Any] = {"year": year, "period": period, "title": what, "status": status,
                            "categories": {c: a.CATEGORIES[c] for c in cats}, "rankings": out}
    if not public:
        body["round"] = info
        body["interview"] = [r for c in cats for r in ranks[c] if r["interview"]]
        body["scheme"] = scheme().to_dict()
    return body


def published_totals(db: Database, year: int, category: str) -> dict[str, float] | None:
    """{participant code: total} of the published annual round of ``year`` (None: not published)."""
    status, _info, ranks = _ranking(db, year, "annual")
    if status != "published":
        return None
    return {r["code"]: r["total"] for r in ranks[category]}


def round_view(db: Database, year: int, *, viewer: Principal | str, period: str | None = None) -> dict[str, Any]:
    """A round for the signed-in: the scheme, the rhythm of the year, the round's state, and the
    participants the caller may read (all for the city; otherwise its own) with their results."""
    viewer = as_principal(viewer)
    if viewer.is_public:
        raise Unauthorized()
    year, period = _year(year), _period(period)
    with db.reader() as s:
        parts = participants(s)
        rnd = _round(s, year, period)
        info = None if rnd is None else {"status": rnd.status, "version": rnd.version,
                                         "published_at": rnd.published_at.isoformat() if rnd.published_at else None}
    mine = [p for p in parts if viewer.role is Role.CITY_ADMIN or own(viewer, p)]
    views = [participant_view(db, year, category=p["category"], participant=p["code"], viewer=viewer, period=period)
             for p in mine]
    return {"year": year, "period": period, "period_label": a.PERIODS[period], "round": info,
            "scheme": scheme().to_dict(), "rhythm": a.rhythm(year), "categories": a.CATEGORIES,
            "participants": views}


def publish(db: Database, year: int, *, expected_version: int, actor: Principal | str,
            period: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """Publish a round (city admins): its ranking becomes readable beyond the city office, and it
    takes no more submissions. Versioned (409 when stale)."""
    actor = as_principal(actor)
    year, period = _year(year), _period(period)
    key = f"{year} {period}"

    def load(s: Session) -> KaopingRound:
        rnd = _round(s, year, period)
        if rnd is None:
            raise NotFound("考评轮次", key)
        return rnd

    def authorize(_s: Session, _rnd: KaopingRound) -> None:
        if actor.role is not Role.CITY_ADMIN:
            raise Forbidden("只有市级管理员（市领导小组办公室）可以发布考评结果")

    def apply(_s: Session, rnd: KaopingRound) -> None:
        if rnd.status == "published":
            raise ValidationFailed(Problem(f"考评轮次 {key}", "status", "已发布，不能重复发布"))
        rnd.status, rnd.published_at, rnd.published_by = "published", datetime.now(timezone.utc), actor.actor

    def view(_s: Session, rnd: KaopingRound) -> dict[str, Any]:
        return {"year": rnd.year, "period": rnd.period, "status": rnd.status, "version": rnd.version,
                "published_at": rnd.published_at.isoformat() if rnd.published_at else None,
                "published_by": rnd.published_by}

    return audit.guarded_update(db, actor, what="考评轮次", key=key, expected_version=expected_version,
                                attempted={"status": "published"}, load=load, authorize=authorize, apply=apply,
                                view=view, reason=reason or f"发布 {year} 年{a.PERIODS[period]}考评结果")
