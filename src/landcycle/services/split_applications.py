"""分割转让 applications (issue 7, R8; 000:1182–1256): submit, read, approve, reject, withdraw.

An application names the parcel, the applicant (the enterprise holding it as 权利人), the pieces
(GeoJSON polygons in EPSG:4490, each with its transferee), the declared price (万元), the
market price if known, the applicant's statements on what the registry cannot know (roads and
public facilities in the parcel, planning/safety, other legal bars, co-ownership) and the
documents of the 000:1222–1235 checklist it carries.

* **Submit** checks the pieces (valid polygons, inside the parcel, not overlapping each other,
  adding up to it within ``[split_transfer].piece_sum_tolerance_mu``) and then the substance:
  R8 (``domain.rules.split_transfer.check_split_transfer`` over the stored facts — area, shares,
  contract, 标准地 indicators, investment done, remaining term, price) and the lifecycle step
  ``split_transfer``'s guard (state, 达产 re-inspection, R9). Bad pieces or a substantive bar:
  422 with every reason, nothing stored. Otherwise the application is filed with its verdict:
  ``eligible``, or ``incomplete`` with the missing documents listed (受理 waits for them, 000:1237).
* **Approve** (one transaction) re-checks everything on today's facts with the documents filed
  plus those the decision carries (typically the zone's 分割转让批准意见), refuses unless
  eligible and complete, then creates the child parcels (new 宗地代码, GK areas, remaining term,
  land use and planning conditions inherited), moves the parent to 分割/转让 through the
  lifecycle step with the split documents in ``parcel_transitions``, writes the lineage and
  the children's 权利人 records. Every row goes to the 一地一档 with one reason naming the
  parent, the children and the application, so each archive shows the link.
* **Reject / withdraw** need a reason.

Access: the officials (city; county; zone manager) whose jurisdiction covers the parcel read
and decide — 000:1196/1226 give the opinion to the 产业集聚区管理机构, 第八条 划拨 land to the
city/county government; the enterprise holding the parcel submits, reads and withdraws its
own applications; departments and the public see nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

import numpy as np
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import lifecycle as lc
from ..domain.access import Principal, Role, as_principal
from ..domain.errors import ConcurrentWrite, Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.geometry import as_multipolygon, gk_areas_m2, parcel_geometry_problems_many
from ..domain.identifiers import make_parcel_code, normalise_credit_code, parse_parcel_code
from ..domain.records import ParcelDraft
from ..domain.rules.idle import anniversary
from ..domain.rules.rulebook import Rulebook
from ..domain.rules.split_transfer import (
    SplitTransferCase,
    _norm,
    check_split_transfer,
    required_documents,
)
from ..domain.units import m2_to_mu
from ..domain.vocabulary import LandState, OccupancyRole, SupplyMethod
from ..storage.db import Database
from ..storage.schema import (
    Enterprise,
    Occupancy,
    Parcel,
    ParcelDevelopment,
    PerformanceAgreement,
    SupplyContract,
    utcnow,
)
from ..storage.split_schema import ParcelLineage, SplitApplication, SplitPiece
from . import access, audit, lifecycle, registry
from .rules import load_rulebook

STATUS_LABELS = {"submitted": "已提交（待审核）", "approved": "已批准", "rejected": "已驳回", "withdrawn": "已撤回"}
DECISIONS = {"approve": "批准", "reject": "驳回", "withdraw": "撤回"}
_OFFICIALS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER})
#: Pieces may stick out of the parcel, or overlap each other, by this much (m²): digitising noise,
#: as for parcels in their county/zone (``registry.OUTSIDE_TOLERANCE_M2``).
PIECE_TOLERANCE_M2 = registry.OUTSIDE_TOLERANCE_M2
MAX_PIECES = 20
_STEP = lc.BY_KEY["split_transfer"]
#: Checklist items that are also the lifecycle step's document kinds (same Chinese names).
_STEP_KIND_OF = {_norm(label): kind for kind, label in lc.DOCUMENT_KINDS.items() if kind in _STEP.documents}


# =========================================================================== the term (000:1216)
@dataclass(frozen=True)
class RemainingTerm:
    """The term a child parcel gets: what is left of the parent's contract term."""

    term_years: int
    start: date
    end: date
    as_of: date
    #: Whole years left, rounded down (the term column holds whole years).
    remaining_years: int
    #: Exact years left (days ÷ 365.2425) and used — what R8's check reads.
    remaining_exact: float
    years_used: float

    def to_dict(self) -> dict[str, Any]:
        return {"term_years": self.term_years, "term_start": self.start.isoformat(), "term_end": self.end.isoformat(),
                "as_of": self.as_of.isoformat(), "remaining_term_years": self.remaining_years,
                "remaining_term_years_exact": round(self.remaining_exact, 4), "years_used": round(self.years_used, 4)}


def remaining_term(term_years: int, start: date, as_of: date) -> RemainingTerm:
    """剩余年限 = 原出让合同约定的使用年限 − 已使用年限 (000:1216), the one place it is computed.

    The term ends on the ``term_years``-th anniversary of ``start`` (29 Feb → 28 Feb). The exact
    remainder is the days from ``as_of`` to that end ÷ 365.2425; the whole years given to a child
    parcel are the anniversaries of ``as_of`` that still fall on or before the end — rounded
    *down*, so a child never holds the land longer than the parent's contract allowed. The exact
    end date travels with the lineage row, so nothing is lost by the rounding.
    """
    end = anniversary(start, term_years)
    whole = max(0, end.year - as_of.year)
    while whole > 0 and anniversary(as_of, whole) > end:
        whole -= 1
    exact = max(0.0, (end - as_of).days / 365.2425)
    return RemainingTerm(term_years, start, end, as_of, whole, exact, term_years - exact)


# =========================================================================== child codes
def next_child_codes(s: Session, parent_code: str, count: int) -> list[str]:
    """New 宗地代码 for ``count`` children of ``parent_code``: the same county, 地籍区, 地籍子区 and
    宗地特征码, with the next free 宗地顺序号 after the largest one used in that 地籍子区 (any
    特征码: the numbers stay unique however the 子区 is read). 宗地代码 carry no check digit
    (GB/T 37346-2019); the parent's code is never reused (it stays on the parent's record)."""
    parts = parse_parcel_code(parent_code)
    prefix = parent_code[:12]
    used = [int(c[14:19]) for c in s.scalars(select(Parcel.code).where(Parcel.code.like(prefix + "%")))
            if len(c) == 19 and c[14:19].isdigit()]
    start = max(used, default=0) + 1
    if start + count - 1 > 99999:
        raise ValidationFailed(Problem(f"宗地 {parent_code}", "code",
                                       f"地籍子区 {prefix} 的宗地顺序号已用尽（最大 99999），无法为分割后的宗地编号"))
    return [make_parcel_code(parts["county_code"], int(parts["cadastral_district"]),
                             int(parts["cadastral_subdistrict"]), start + i, parts["feature"]) for i in range(count)]


# =========================================================================== input
@dataclass
class PieceIn:
    """One piece as submitted."""

    geometry: Any
    transferee_name: str | None = None
    transferee_credit_code: str | None = None


def _as_geometry(g: Any) -> BaseGeometry | None:
    if g is None or isinstance(g, BaseGeometry):
        return g
    try:
        return shapely.force_2d(shapely.geometry.shape(g))
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.GEOSException):
        return None


def _checklist(rules: dict[str, Any]) -> list[str]:
    return [*rules["required_documents"], rules["co_owner_document"], rules["construction_document"]]


def parse_documents(raw: Any, record: str, as_of: date, rules: dict[str, Any]) -> tuple[list[dict], list[Problem]]:
    """Application documents from JSON (``[{kind, title, number, date}]``, ``kind`` an item of the
    000:1222–1235 checklist by its Chinese name) and every problem."""
    checklist = _checklist(rules)
    by_norm = {_norm(k): k for k in checklist}
    spec = lc.DocumentList(
        noun="材料", number_label="文号或编号",
        resolve_kind=lambda kind: by_norm.get(_norm(kind)) if isinstance(kind, str) else None,
        unknown_kind=lambda kind: (f"“{kind}”不是分割转让申请材料清单（000:1222-1235）中的材料，应为："
                                   + "、".join(checklist)),
        bad_text=lambda label, limit, missing: f"缺少{label}，或超过{limit}个字符、含空字符",
    )
    docs, problems = lc.read_documents(raw, record, as_of, spec)
    return [{"kind": kind, "title": title, "number": number, "date": day.isoformat()}
            for kind, title, number, day in docs], problems


def _piece_problems(record: str, parent: Parcel, pieces: list[PieceIn], rules: dict[str, Any]
                    ) -> tuple[list[Problem], list[BaseGeometry], np.ndarray]:
    """Every problem of the pieces as geometry (valid, inside the parcel, not overlapping, adding
    up to it) and of their transferees; with the pieces as MultiPolygons and their GK areas (m²)."""
    problems: list[Problem] = []
    if not isinstance(pieces, list) or not pieces:
        return [Problem(record, "pieces", "缺少分割后的各块图形")], [], np.zeros(0)
    if len(pieces) > MAX_PIECES:
        return [Problem(record, "pieces", f"一次最多分割为 {MAX_PIECES} 块")], [], np.zeros(0)
    geoms = [_as_geometry(p.geometry) for p in pieces]
    geom_problems = parcel_geometry_problems_many(geoms)
    for i, (p, gp) in enumerate(zip(pieces, geom_problems), start=1):
        for m in gp:
            problems.append(Problem(record, f"pieces[{i - 1}].geometry", f"第{i}块：{m}", "invalid_geometry"))
        if p.transferee_credit_code:
            try:
                p.transferee_credit_code = normalise_credit_code(p.transferee_credit_code)
            except ValueError as exc:
                problems.append(Problem(record, f"pieces[{i - 1}].transferee_credit_code", f"第{i}块受让人：{exc}"))
        if p.transferee_name is not None and (len(p.transferee_name) > 200 or "\x00" in p.transferee_name):
            problems.append(Problem(record, f"pieces[{i - 1}].transferee_name", f"第{i}块受让人名称不能超过200个字符"))
    if problems:
        return problems, [], np.zeros(0)
    multi = [as_multipolygon(g) for g in geoms]
    arr = np.empty(len(multi), dtype=object)
    arr[:] = multi
    areas, _ = gk_areas_m2(arr)
    parent_geom = parent.geometry
    shapely.prepare(parent_geom)
    outside = shapely.difference(arr, parent_geom)
    has_outside = ~shapely.is_empty(outside)
    if has_outside.any():
        out_m2 = gk_areas_m2(outside[has_outside])[0]
        for i, a in zip(np.flatnonzero(has_outside), out_m2):
            if a > PIECE_TOLERANCE_M2:
                problems.append(Problem(record, f"pieces[{i}].geometry",
                                        f"第{i + 1}块有 {a:.1f} 平方米位于宗地 {parent.code} 之外", "outside"))
    tree = shapely.STRtree(arr)
    for a, b in zip(*tree.query(arr, predicate="intersects")):
        if a < b:
            inter = shapely.intersection(arr[a], arr[b])
            if not inter.is_empty and inter.area > 0:
                m2 = gk_areas_m2([inter])[0][0]
                if m2 > PIECE_TOLERANCE_M2:
                    problems.append(Problem(record, "pieces", f"第{a + 1}块与第{b + 1}块重叠 {m2:.1f} 平方米", "overlap"))
    total_mu = float(m2_to_mu(float(areas.sum())))
    tolerance = float(rules["piece_sum_tolerance_mu"])
    if abs(total_mu - parent.area_mu) > tolerance + 1e-9:
        uncovered = shapely.difference(parent_geom, shapely.union_all(arr))
        gap = float(m2_to_mu(gk_areas_m2([uncovered])[0][0])) if not uncovered.is_empty else 0.0
        problems.append(Problem(record, "pieces", f"各块面积合计 {total_mu:.4f} 亩，与宗地 {parent.code} 面积 "
                                f"{parent.area_mu:.4f} 亩相差 {abs(total_mu - parent.area_mu):.4f} 亩（其中未覆盖 {gap:.4f} 亩），"
                                f"超过允许误差 {tolerance:g} 亩（规则库 split_transfer.piece_sum_tolerance_mu）：各块应覆盖整宗地",
                                "not_covering"))
    return problems, multi, areas


# =========================================================================== the assessment
@dataclass(frozen=True)
class Statements:
    """What the applicant states and the registry cannot know (第十五条 (二)–(四); co-ownership)."""

    includes_public_facilities: bool = False
    breaks_planning_or_safety: bool = False
    other_legal_bar: bool = False
    co_owned: bool = False


def _contract(s: Session, p: Parcel) -> SupplyContract | None:
    return s.scalar(select(SupplyContract).where(SupplyContract.parcel_id == p.id)
                    .order_by(SupplyContract.signed_date.desc(), SupplyContract.id.desc()).limit(1))


def parent_term(s: Session, p: Parcel, as_of: date) -> RemainingTerm | None:
    """The parent's remaining term: the latest contract's term (else the parcel's), counted from
    the parcel's 供地日期 (else the contract's signing date). None when either is unknown."""
    contract = _contract(s, p)
    term = contract.term_years if contract is not None else p.term_years
    start = p.supply_date or (contract.signed_date if contract is not None else None)
    if term is None or start is None:
        return None
    return remaining_term(int(term), start, as_of)


def _standard_land_met(s: Session, p: Parcel) -> tuple[bool | None, bool | None]:
    """Whether a 标准地 reached the agreed 投资强度 and 容积率 (000:1196), from the latest
    履约监管协议 and the development record; None where either figure is not recorded."""
    agreement = s.scalar(select(PerformanceAgreement).where(PerformanceAgreement.parcel_id == p.id)
                         .order_by(PerformanceAgreement.signed_date.desc(), PerformanceAgreement.id.desc()).limit(1))
    dev = s.scalar(select(ParcelDevelopment).where(ParcelDevelopment.parcel_id == p.id))
    if agreement is None or dev is None:
        return None, None
    intensity = far = None
    if agreement.investment_intensity_wan_per_mu is not None and dev.investment_done_wan is not None and p.area_mu:
        intensity = dev.investment_done_wan / p.area_mu >= agreement.investment_intensity_wan_per_mu - 1e-9
    if agreement.plot_ratio is not None and dev.floor_area_m2 is not None and p.area_m2:
        far = dev.floor_area_m2 / p.area_m2 >= agreement.plot_ratio - 1e-9
    return intensity, far


def _blocks(verdict_reasons: list[str], outcome: str) -> list[str]:
    """The reasons against in an R8 verdict: the N after its head “不得分割转让：N 项不符合”."""
    if outcome != "ineligible":
        return []
    m = re.search(r"(\d+) 项不符合", verdict_reasons[0]) if verdict_reasons else None
    return verdict_reasons[1:1 + int(m.group(1))] if m else verdict_reasons[1:]


def assess(s: Session, p: Parcel, pieces_mu: list[float], documents: list[dict], statements: Statements,
           declared_price_wan: float | None, market_price_wan: float | None, as_of: date,
           rulebook: Rulebook) -> dict[str, Any]:
    """R8 and the lifecycle guard on the stored facts of ``p`` as of ``as_of``: the verdict
    (``Verdict.to_dict``) plus ``blocks`` (every reason against, each naming its clause),
    ``eligible``, ``complete``, ``missing_documents``, ``remaining_term`` and the lifecycle
    guard's own reasons."""
    rules = rulebook.section("split_transfer")
    facts = lifecycle.parcel_facts(s, p, as_of)
    term = parent_term(s, p, as_of)
    intensity_met, far_met = _standard_land_met(s, p)
    case = SplitTransferCase(
        parcel_area_mu=p.area_mu, pieces_mu=list(pieces_mu), standard_land=bool(p.is_standard_land),
        agreed_investment_intensity_met=intensity_met, agreed_far_met=far_met,
        under_construction=p.state == LandState.UNDER_CONSTRUCTION.value, investment_ratio=facts.investment_ratio,
        contract_forbids_split=facts.contract_forbids_split,
        includes_public_facilities=statements.includes_public_facilities,
        breaks_planning_or_safety=statements.breaks_planning_or_safety,
        other_legal_bar=statements.other_legal_bar,
        allocated_land=p.supply_method == SupplyMethod.ALLOCATION.value, co_owned=statements.co_owned,
        documents=[d["kind"] for d in documents], declared_price_wan=declared_price_wan,
        market_price_wan=market_price_wan,
        term_years=term.term_years if term else None, years_used=term.years_used if term else None)
    verdict = check_split_transfer(case, rulebook)
    out = verdict.to_dict()
    sources = "、".join(c.source for c in verdict.citations if c.source[:3].isdigit())
    guard = lc.guard_reasons(_STEP, facts, rulebook, check_documents=False)
    blocks = [f"{r}（R8 分割转让，依据 {sources}）" for r in _blocks(verdict.reasons, verdict.outcome)]
    # the guard and R8 both check size and the contract: say each once (the guard names its clause)
    overlap = ("不进行宗地分割", "约定不允许分割")
    blocks = [b for b in blocks if not any(k in b and any(k in g for g in guard) for k in overlap)]
    if p.zone_id is None:
        blocks.insert(0, "本暂行办法仅适用于全市产业集聚区范围内的土地（000:1254）：宗地不在任何产业集聚区内")
    blocks = [*guard, *blocks]
    missing = list(out["figures"]["missing_documents"])
    if blocks:
        outcome, label = "ineligible", "不得分割转让"
    elif missing:
        outcome, label = "incomplete", "符合条件但申请材料不全"
    else:
        outcome, label = "eligible", "可以分割转让"
    out.update(outcome=outcome, outcome_label=label, blocks=blocks, lifecycle_reasons=guard,
               eligible=not blocks, complete=not missing, missing_documents=missing,
               required_documents=required_documents(case, rules),
               government_priority_purchase=bool(out["figures"].get("government_priority_purchase")),
               remaining_term=term.to_dict() if term else None, as_of=as_of.isoformat())
    if missing:
        out["reasons"] = [*out["reasons"], "请补齐：" + "、".join(missing) + "（000:1222-1235；不符合要求的，告知当事人完善，000:1237）"]
    return out


def _refusal(record: str, verdict: dict[str, Any], what: str) -> ValidationFailed:
    return ValidationFailed([Problem(record, "eligibility", f"{what}：{b}", "refused") for b in verdict["blocks"]])


# =========================================================================== access
def _signed_in(viewer: Principal) -> None:
    if viewer.is_public:
        raise Unauthorized()
    if viewer.role is Role.DEPARTMENT:
        raise Forbidden("职能部门无权查看或办理分割转让申请（由宗地所在辖区的管理部门审核，企业查看本企业的申请）")


def _official_of(viewer: Principal, p: Parcel) -> bool:
    return viewer.role in _OFFICIALS and viewer.covers(p.county_id, p.zone_id)


def _owner_occupancy(s: Session, p: Parcel, enterprise_id: int, as_of: date) -> Occupancy | None:
    return s.scalar(select(Occupancy).where(
        Occupancy.parcel_id == p.id, Occupancy.enterprise_id == enterprise_id,
        Occupancy.role == OccupancyRole.OWNER.value, Occupancy.start_date <= as_of,
        or_(Occupancy.end_date.is_(None), Occupancy.end_date >= as_of)).limit(1))


def _readable(s: Session, app_id: int, viewer: Principal) -> SplitApplication:
    """The application if ``viewer`` may read it: the parcel's officials, or its applicant."""
    _signed_in(viewer)
    app = s.get(SplitApplication, app_id) if isinstance(app_id, int) and 0 < app_id < 2**31 else None
    if app is None:
        raise NotFound("分割转让申请", str(app_id))
    if _official_of(viewer, app.parcel):
        return app
    if viewer.role is Role.ENTERPRISE and viewer.enterprise_id == app.applicant_enterprise_id:
        return app
    raise NotFound("分割转让申请", str(app_id))


# =========================================================================== views
def application_view(s: Session, app: SplitApplication, viewer: Principal) -> dict[str, Any]:
    """The application as ``viewer`` reads it (an enterprise: without the officials' names)."""
    official = _official_of(viewer, app.parcel)
    total = app.parcel.area_mu or 1.0
    children = {p.child_parcel_id: p for p in app.pieces if p.child_parcel_id}
    codes = {i: c for i, c in s.execute(select(Parcel.id, Parcel.code).where(Parcel.id.in_(list(children))))}
    verdict = app.verdict or {}
    at = audit.as_utc(app.submitted_at)
    decided = audit.as_utc(app.decided_at)
    return {
        "id": app.id, "parcel_code": app.parcel.code, "parcel_area_mu": round(app.parcel.area_mu, 4),
        "status": app.status, "status_label": STATUS_LABELS.get(app.status, app.status),
        "applicant": {"name": app.applicant.name, "credit_code": app.applicant.credit_code},
        "declared_price_wan": app.declared_price_wan, "market_price_wan": app.market_price_wan,
        "reason": app.reason,
        "statements": {"includes_public_facilities": app.includes_public_facilities,
                       "breaks_planning_or_safety": app.breaks_planning_or_safety,
                       "other_legal_bar": app.other_legal_bar, "co_owned": app.co_owned},
        "documents": list(app.documents or []),
        "pieces": [{"seq": p.seq, "area_m2": round(p.area_m2, 2), "area_mu": round(p.area_mu, 4),
                    "share": round(p.area_mu / total, 6), "transferee_name": p.transferee_name,
                    "transferee_credit_code": p.transferee_credit_code,
                    "child_code": codes.get(p.child_parcel_id),
                    "geometry": shapely.geometry.mapping(p.geometry)} for p in app.pieces],
        "verdict": verdict,
        "missing_documents": verdict.get("missing_documents", []),
        "government_priority_purchase": verdict.get("government_priority_purchase", False),
        "decision_verdict": app.decision_verdict,
        "submitted_by": app.submitted_by if official or app.submitted_by == viewer.actor else "—",
        "submitted_at": at.isoformat() if at else None,
        "decided_by": (app.decided_by if official or app.decided_by == viewer.actor else "—") if app.decided_by else None,
        "decided_at": decided.isoformat() if decided else None,
        "decision_reason": app.decision_reason,
        "version": app.version,
    }


def get_application(db: Database, app_id: int, viewer: Principal | str, as_of: date | None = None) -> dict[str, Any]:
    """One application with its verdict as filed and, while it awaits a decision, ``current``:
    the same checks on today's facts (what an approval would find now)."""
    viewer = as_principal(viewer)
    with db.reader() as s:
        app = _readable(s, app_id, viewer)
        out = application_view(s, app, viewer)
        if app.status == "submitted":
            day = as_of or lifecycle.today()
            out["current"] = assess(s, app.parcel, [p.area_mu for p in app.pieces], list(app.documents or []),
                                    _statements(app), app.declared_price_wan, app.market_price_wan, day,
                                    _rulebook(app.parcel))
        return out


def list_applications(db: Database, code: str, viewer: Principal | str) -> dict[str, Any]:
    """The parcel's applications ``viewer`` may read (officials: all; its 权利人: its own)."""
    viewer = as_principal(viewer)
    _signed_in(viewer)
    with db.reader() as s:
        p = registry.visible_parcel(s, code, viewer)
        q = select(SplitApplication).where(SplitApplication.parcel_id == p.id)
        if not _official_of(viewer, p):
            if viewer.role is not Role.ENTERPRISE or viewer.enterprise_id is None or not s.scalar(
                    select(Occupancy.id).where(Occupancy.parcel_id == p.id,
                                               Occupancy.enterprise_id == viewer.enterprise_id).limit(1)):
                raise NotFound("宗地", code)
            q = q.where(SplitApplication.applicant_enterprise_id == viewer.enterprise_id)
        apps = s.scalars(q.order_by(SplitApplication.id)).all()
        items = [application_view(s, a, viewer) for a in apps]
        parcel_code = p.code
    for it in items:  # the list is a summary: the pieces' outlines are on each application
        for piece in it["pieces"]:
            piece.pop("geometry")
    return {"code": parcel_code, "items": items}


def lineage(db: Database, code: str, viewer: Principal | str) -> dict[str, Any]:
    """Where the parcel came from and what was cut from it: ``parents`` and ``children`` (codes the
    viewer may see), each with the application and the children's remaining term."""
    viewer = as_principal(viewer)
    if viewer.is_public:
        raise Unauthorized()
    with db.reader() as s:
        p = registry.visible_parcel(s, code, viewer)
        seen = access.parcel_condition(viewer)

        def rows(cond, other):
            q = (select(ParcelLineage, Parcel.code, Parcel.area_mu, Parcel.state)
                 .join(Parcel, Parcel.id == other).where(cond, seen).order_by(ParcelLineage.id))
            return [{"code": c, "area_mu": round(mu, 4), "state": st, "state_label": LandState(st).label,
                     "application_id": r.application_id,
                     "term_end_date": r.term_end_date.isoformat() if r.term_end_date else None,
                     "remaining_term_years": r.remaining_term_years,
                     "at": audit.as_utc(r.at).isoformat()} for r, c, mu, st in s.execute(q)]

        return {"code": p.code, "state": p.state, "state_label": LandState(p.state).label,
                "parents": rows(ParcelLineage.child_parcel_id == p.id, ParcelLineage.parent_parcel_id),
                "children": rows(ParcelLineage.parent_parcel_id == p.id, ParcelLineage.child_parcel_id)}


def _statements(app: SplitApplication) -> Statements:
    return Statements(bool(app.includes_public_facilities), bool(app.breaks_planning_or_safety),
                      bool(app.other_legal_bar), bool(app.co_owned))


def _rulebook(p: Parcel) -> Rulebook:
    """The rulebook for the parcel: the city's with its county's and zone's overrides."""
    return load_rulebook(tuple(j.code for j in (p.county, p.zone) if j is not None))


# =========================================================================== submit
def _price(record: str, field: str, value: Any, required: bool) -> tuple[float | None, list[Problem]]:
    if value is None:
        return None, ([Problem(record, field, "缺少申报转让价格（万元）：实行分割转让价格申报制度（000:1218）")]
                      if required else [])
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        return None, [Problem(record, field, "应为大于 0 的金额（万元）")]
    return float(value), []


def submit(db: Database, code: str, viewer: Principal | str, *, pieces: Iterable[PieceIn | dict],
           declared_price_wan: Any, market_price_wan: Any = None, reason: str | None = None,
           documents: Any = None, applicant: str | None = None, statements: Statements = Statements(),
           as_of: date | None = None) -> dict[str, Any]:
    """File a 分割转让 application for parcel ``code``; returns it (``application_view``).

    The enterprise holding the parcel as 权利人 applies for itself; an official of the parcel's
    jurisdiction may file one received on paper, naming the applicant's 统一社会信用代码
    (``applicant``). Refused, nothing stored: bad pieces or documents (422, each naming the
    piece or document and the field), a substantive bar of R8 or of the lifecycle step (422,
    every reason with its clause), an applicant that does not hold the parcel (422/403), a
    parcel outside the caller's view (404), departments (403), the public (401).
    Missing documents do not refuse: the application is filed as ``incomplete`` listing them.
    """
    who = as_principal(viewer)
    _signed_in(who)
    day = as_of or lifecycle.today()
    record = f"宗地 {code} 的分割转让申请"
    pieces_in = [p if isinstance(p, PieceIn) else PieceIn(p.get("geometry"), p.get("transferee_name"),
                                                           p.get("transferee_credit_code"))
                 for p in (pieces or [])]
    if reason is not None and (len(reason) > 2000 or "\x00" in reason):
        raise ValidationFailed(Problem(record, "reason", "申请理由不能超过2000个字符，且不能含空字符"))
    with db.transaction(actor=who.actor, reason=f"提交分割转让申请：宗地 {code}" + (f"（{reason}）" if reason else "")) as s:
        p = registry.visible_parcel(s, code, who)
        record = f"宗地 {p.code} 的分割转让申请"
        rulebook = _rulebook(p)
        rules = rulebook.section("split_transfer")
        problems: list[Problem] = []
        if who.role is Role.ENTERPRISE:
            if applicant and applicant.strip().upper() != _credit_code(s, who.enterprise_id):
                raise Forbidden("企业只能以本企业名义申请分割转让")
            applicant_id = who.enterprise_id
            if applicant_id is None or _owner_occupancy(s, p, applicant_id, day) is None:
                raise Forbidden(f"只有宗地 {p.code} 的土地使用权人（权利人）可以申请分割转让")
        elif _official_of(who, p):
            applicant_id = None
            if not applicant:
                problems.append(Problem(record, "applicant", "代为登记申请须给出申请人（土地使用权人）的统一社会信用代码"))
            else:
                ent = s.scalar(select(Enterprise).where(Enterprise.credit_code == applicant.strip().upper()))
                if ent is None or _owner_occupancy(s, p, ent.id, day) is None:
                    problems.append(Problem(record, "applicant", f"企业 {applicant} 不是宗地 {p.code} 现登记的土地使用权人（权利人）",
                                            "not_owner"))
                else:
                    applicant_id = ent.id
        else:
            raise NotFound("宗地", code)
        declared, pp = _price(record, "declared_price_wan", declared_price_wan, True)
        market, mp = _price(record, "market_price_wan", market_price_wan, False)
        docs, dp = parse_documents(documents, record, day, rules)
        piece_problems, geoms, areas = _piece_problems(record, p, pieces_in, rules)
        problems += pp + mp + dp + piece_problems
        if problems:
            raise ValidationFailed(problems)
        pieces_mu = [float(m2_to_mu(a)) for a in areas]
        verdict = assess(s, p, pieces_mu, docs, statements, declared, market, day, rulebook)
        if not verdict["eligible"]:
            raise _refusal(record, verdict, "不予受理")
        app = SplitApplication(parcel_id=p.id, applicant_enterprise_id=applicant_id, declared_price_wan=declared,
                               market_price_wan=market, reason=reason, status="submitted", documents=docs,
                               verdict=verdict, submitted_by=who.actor,
                               includes_public_facilities=statements.includes_public_facilities,
                               breaks_planning_or_safety=statements.breaks_planning_or_safety,
                               other_legal_bar=statements.other_legal_bar, co_owned=statements.co_owned)
        s.add(app)
        s.flush()
        for i, (piece, g, a) in enumerate(zip(pieces_in, geoms, areas), start=1):
            s.add(SplitPiece(application_id=app.id, seq=i, geometry=g, area_m2=float(a), area_mu=float(m2_to_mu(a)),
                             transferee_name=(piece.transferee_name or "").strip() or None,
                             transferee_credit_code=piece.transferee_credit_code or None))
        s.flush()
        s.refresh(app)
        return application_view(s, app, who)


def _credit_code(s: Session, enterprise_id: int | None) -> str | None:
    return s.scalar(select(Enterprise.credit_code).where(Enterprise.id == enterprise_id)) if enterprise_id else None


# =========================================================================== decide
def decide(db: Database, app_id: int, decision: str, viewer: Principal | str, expected_version: int | None,
           reason: str | None = None, documents: Any = None, as_of: date | None = None) -> dict[str, Any]:
    """Approve, reject or withdraw application ``app_id`` (``decision``: approve/reject/withdraw or
    批准/驳回/撤回) if nobody changed it since ``expected_version``.

    Approve and reject: the officials of the parcel's jurisdiction; withdraw: the applicant, or
    those officials for it. Only a ``submitted`` application is decided. Reject and withdraw need
    a reason. Approval re-checks R8 and the lifecycle step on today's facts with the documents
    filed plus ``documents`` (the same checklist), refuses (422, every reason) unless eligible and
    complete, and in one transaction creates the children, moves the parent to 分割/转让 and
    writes the lineage. 409 on a stale version (the attempt filed), 428 without one.
    """
    who = as_principal(viewer)
    _signed_in(who)
    if expected_version is None:
        raise audit.VersionRequired()
    day = as_of or lifecycle.today()
    record = f"分割转让申请 {app_id}"
    key = next((k for k, label in DECISIONS.items() if (decision or "").strip() in (k, label)), None)
    if key is None:
        raise ValidationFailed(Problem(record, "decision", "应为：" + "、".join(f"{v}({k})" for k, v in DECISIONS.items())))
    if reason is not None and (len(reason) > 2000 or "\x00" in reason):
        raise ValidationFailed(Problem(record, "reason", "原因不能超过2000个字符，且不能含空字符"))
    if key != "approve" and not (reason or "").strip():
        raise ValidationFailed(Problem(record, "reason", f"{DECISIONS[key]}申请须说明原因"))
    if key != "approve" and documents:
        raise ValidationFailed(Problem(record, "documents", "只有批准时才附材料"))
    out: dict[str, Any] = {}

    def load(s: Session) -> SplitApplication:
        app = s.get(SplitApplication, app_id) if 0 < app_id < 2**31 else None
        if app is None:
            raise NotFound("分割转让申请", str(app_id))
        return app

    def authorize(s: Session, app: SplitApplication) -> None:
        _readable(s, app.id, who)  # NotFound outside the caller's view
        if key == "withdraw" and who.role is Role.ENTERPRISE:
            return
        if not _official_of(who, app.parcel):
            raise Forbidden(f"{who.role.label}不能{DECISIONS[key]}分割转让申请（由宗地所在辖区的管理部门审核）")
        if key == "approve" and who.role is Role.ZONE_MANAGER \
                and app.parcel.supply_method == SupplyMethod.ALLOCATION.value:
            # 第八条: 划拨 land is split with the approval of the government, not the zone's opinion alone
            raise Forbidden("划拨取得的建设用地使用权分割转让，应向市、县自然资源部门申请，经有批准权的人民政府批准"
                            "（000:1206）：产业集聚区管理机构不能批准，请由市、县(市、区)管理部门审核")

    def apply(s: Session, app: SplitApplication) -> None:
        if app.status != "submitted":
            raise ValidationFailed(Problem(record, "status", f"申请{STATUS_LABELS[app.status]}，不能再{DECISIONS[key]}"))
        if key != "approve":
            app.status = "rejected" if key == "reject" else "withdrawn"
            app.decided_by, app.decided_at, app.decision_reason = who.actor, utcnow(), reason
            return
        _approve(s, app, who, reason, documents, day, out)

    view = lambda s, app: application_view(s, app, who)  # noqa: E731
    try:
        result = audit.guarded_update(db, who, what="分割转让申请", key=str(app_id), expected_version=expected_version,
                                      attempted={"status": {"approve": "approved", "reject": "rejected",
                                                            "withdraw": "withdrawn"}[key]},
                                      load=load, authorize=authorize, apply=apply, view=view, reason=reason)
    except IntegrityError:
        # Two approvals in one 地籍子区 at once both took the next free 宗地代码: the database's
        # unique code lets the first win; this one wrote nothing and may simply be asked again.
        raise ConcurrentWrite(record, "新宗地代码") from None
    return {**result, **out}


def _approve(s: Session, app: SplitApplication, who: Principal, reason: str | None, documents: Any, day: date,
             out: dict[str, Any]) -> None:
    parent = app.parcel
    record = f"分割转让申请 {app.id}（宗地 {parent.code}）"
    rulebook = _rulebook(parent)
    rules = rulebook.section("split_transfer")
    extra, problems = parse_documents(documents, record, day, rules)
    if problems:
        raise ValidationFailed(problems)
    docs = [*(app.documents or []), *extra]
    pieces = list(app.pieces)
    verdict = assess(s, parent, [p.area_mu for p in pieces], docs, _statements(app), app.declared_price_wan,
                     app.market_price_wan, day, rulebook)
    if not verdict["eligible"]:
        raise _refusal(record, verdict, "不予批准")
    if not verdict["complete"]:
        raise ValidationFailed([Problem(record, "documents", f"申请材料不全，不予批准：缺少“{m}”（000:1222-1235）", "missing")
                                for m in verdict["missing_documents"]])
    term = parent_term(s, parent, day)
    if term is None:
        raise ValidationFailed(Problem(record, "term_years", "宗地未登记出让合同约定的使用年限或供地日期，无法计算分割后宗地的"
                                       "剩余使用年限（000:1216）"))
    # the lifecycle step, in this transaction: its guard with the split documents carried
    step_docs = [{**d, "kind": _STEP_KIND_OF[_norm(d["kind"])]} for d in docs if _norm(d["kind"]) in _STEP_KIND_OF]
    facts = lifecycle.parcel_facts(s, parent, day)
    reasons = lc.guard_reasons(_STEP, facts, rulebook, frozenset(d["kind"] for d in step_docs))
    if reasons:
        raise ValidationFailed([Problem(record, "transition", f"不能办理“{_STEP.name}”：{r}", "refused") for r in reasons])
    codes = next_child_codes(s, parent.code, len(pieces))
    link = f"分割转让申请 {app.id} 批准：宗地 {parent.code} 分割为 " + "、".join(codes)
    s.info["reason"] = link + (f"（{reason}）" if reason else "")  # every change-log row of this transaction
    before = parent.state
    drafts = [ParcelDraft(
        code=c, geometry=piece.geometry, county=parent.county.code, zone=parent.zone.code if parent.zone else None,
        location=parent.location or "", land_use=parent.land_use, state=before,
        land_source=parent.land_source, supply_method=parent.supply_method, supply_date=day,
        term_years=term.remaining_years, price_wan=None, plot_ratio_min=parent.plot_ratio_min,
        plot_ratio_max=parent.plot_ratio_max, building_density_min=parent.building_density_min,
        green_ratio_max=parent.green_ratio_max, height_limit_m=parent.height_limit_m,
        is_standard_land=bool(parent.is_standard_land), is_standard_factory=bool(parent.is_standard_factory))
        for c, piece in zip(codes, pieces)]
    per, prepared = registry.validate_parcels(s, drafts)
    bad = [p for ps in per for p in ps]
    if bad:
        raise ValidationFailed(bad)
    children = [registry.write_parcel(s, pp) for pp in prepared]
    s.flush()
    for piece, child in zip(pieces, children):
        piece.child_parcel_id = child.id
        s.add(ParcelLineage(parent_parcel_id=parent.id, child_parcel_id=child.id, application_id=app.id,
                            piece_id=piece.id, term_end_date=term.end, remaining_term_years=term.remaining_years,
                            actor=who.actor))
        holder = app.applicant_enterprise_id
        if piece.transferee_credit_code:
            holder = s.scalar(select(Enterprise.id).where(Enterprise.credit_code == piece.transferee_credit_code))
        elif piece.transferee_name:
            holder = None  # a transferee not in the registry: its 权利人 record follows its registration
        if holder is not None:
            s.add(Occupancy(parcel_id=child.id, enterprise_id=holder, role=OccupancyRole.OWNER.value,
                            area_m2=child.area_m2, start_date=day))
    # the children took the parent's state (``before``); the parent moves now
    step = lifecycle.record_step(s, parent, _STEP, step_docs, who.actor, link + (f"（{reason}）" if reason else ""),
                                 rulebook)
    app.status, app.decided_by, app.decided_at, app.decision_reason = "approved", who.actor, utcnow(), reason
    app.documents, app.decision_verdict = docs, verdict
    s.flush()
    out["children"] = [registry.parcel_properties(s, c) for c in children]
    out["parent"] = registry.parcel_properties(s, parent)
    out["transition"] = lifecycle.transition_view(step)
    out["remaining_term"] = term.to_dict()

