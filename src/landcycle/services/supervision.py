"""履约监管 use cases (issue 7 items 4–5): acceptance inspections, idle notices, exit cases,
restrictions and deadlines of a supplied parcel.

The rules are ``domain.supervision`` (and R3's ``idle.check_idle``, the lifecycle's
``rectification_end``); this module reads the stored facts, checks the caller's scope and
role, and writes each use case in one transaction:

* an inspection: the append-only ``acceptance_inspections`` row and the parcel's development
  record (result, date, surveyed areas) changed through the ORM — so the change log (一地一档)
  records it and the lifecycle guards (``pass_completion``, ``start_rectification`` …) see it.
  The development record is versioned: a stale version is refused (409) as for every edit.
* an idle notice (闲置费征缴决定书 / 无偿收回建议 / a government-caused delay): append-only,
  amounts computed, refused before R3's point or after a recorded government delay.
* an exit case (解除合同, 成本还原审计, 回购): versioned, the buy-back figure computed.

Reading: the officials and departments of the parcel's jurisdiction and the enterprise using it
(``registry.sees_ledgers``, as for the contract itself); the public is asked to sign in.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ..domain import lifecycle as lc
from ..domain import supervision as sv
from ..domain.access import Action, Principal, Role, as_principal
from ..domain.errors import Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.records import DevelopmentDraft, development_problems
from ..domain.rules import idle as idle_rule
from ..domain.rules.idle import anniversary
from ..domain.vocabulary import AcceptanceResult, BuildingDisposal, IdleNoticeKind, InspectionKind, LandState
from ..storage.db import Database
from ..storage.lifecycle_schema import ParcelTransition
from ..storage.schema import Parcel, ParcelDevelopment, PerformanceAgreement, SupplyContract
from ..storage.supervision_schema import AcceptanceInspection, ExitCase, IdleNotice
from . import access, audit, ledgers, lifecycle, registry
from .rules import load_rulebook
from .warnings import scope_condition

S = LandState
K = InspectionKind
PASSED, FAILED = AcceptanceResult.PASSED.value, AcceptanceResult.FAILED.value
_OFFICIALS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER})
#: 闲置费征缴、无偿收回、解除合同: the city or county government / its 自然资源部门 (as lifecycle's find_idle).
_GOVERNMENT = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN})
#: Where an idle notice may be issued: supplied and not (fully) built, or already found idle.
_IDLE_STATES = (S.SUPPLIED.value, S.UNDER_CONSTRUCTION.value, S.IDLE.value)
#: States whose parcels have open contract deadlines (deadline_items).
_ACTIVE_STATES = (S.SUPPLIED, S.UNDER_CONSTRUCTION, S.COMPLETED, S.IN_PRODUCTION, S.IDLE, S.INEFFICIENT,
                  S.RECTIFYING)
#: Which inspection a parcel in which state may receive, and what the step after a pass is.
_KIND_STATE = {
    K.COMPLETION: (S.UNDER_CONSTRUCTION, "pass_completion"),
    K.COMPLETION_REINSPECTION: (S.RECTIFYING, "pass_rectification_completion"),
    K.PRODUCTION: (S.COMPLETED, "pass_production"),
    K.PRODUCTION_REINSPECTION: (S.RECTIFYING, "pass_rectification_production"),
}


# =========================================================================== reading
def _readable(s: Session, code: str, viewer: Principal) -> Parcel:
    """The parcel if ``viewer`` may read its supervision file (the contract's readers)."""
    if viewer.is_public:
        raise Unauthorized()
    access.require(viewer, Action.READ_CONFIDENTIAL)
    p = registry.visible_parcel(s, code, viewer)
    if not registry.sees_ledgers(s, viewer, p):
        raise NotFound("宗地履约监管档案", code)
    return p


def _contract(s: Session, p: Parcel) -> SupplyContract | None:
    return s.scalar(select(SupplyContract).where(SupplyContract.parcel_id == p.id)
                    .order_by(SupplyContract.signed_date.desc(), SupplyContract.id.desc()).limit(1))


def _agreement(s: Session, contract: SupplyContract | None) -> PerformanceAgreement | None:
    if contract is None:
        return None
    return s.scalar(select(PerformanceAgreement).where(PerformanceAgreement.contract_id == contract.id))


def _development(s: Session, p: Parcel) -> ParcelDevelopment | None:
    return s.scalar(select(ParcelDevelopment).where(ParcelDevelopment.parcel_id == p.id))


def _notices(s: Session, p: Parcel) -> list[IdleNotice]:
    return list(s.scalars(select(IdleNotice).where(IdleNotice.parcel_id == p.id)
                          .order_by(IdleNotice.notice_date, IdleNotice.id)))


def _government_delay(s: Session, p: Parcel, notices: list[IdleNotice]) -> str | None:
    """The recorded government-caused delay (its 文号), from an idle notice of that kind or a
    lifecycle step that carried the finding (``government_delay_finding``)."""
    for n in notices:
        if n.kind == IdleNoticeKind.GOVERNMENT_DELAY.value:
            return f"{n.number}，{n.notice_date}"
    for t in s.scalars(select(ParcelTransition).where(ParcelTransition.parcel_id == p.id)):
        for d in t.documents or []:
            if d.get("kind") == "government_delay_finding":
                return f"{d.get('number')}，{d.get('date')}"
    return None


def _idle_verdict(facts: lc.ParcelFacts, rulebook) -> idle_rule.Verdict | None:
    # R3 as if no government delay: the delay is judged apart (it bars the notice, with its 文号).
    case = lc.idle_case(facts)
    return None if case is None else idle_rule.check_idle(case, rulebook)


def _idle_points(facts: lc.ParcelFacts, verdict, rulebook) -> tuple[date | None, date | None, date | None]:
    """(since, 1-year point, 2-year point) while the parcel is on R3's path, else Nones."""
    if facts.agreed_start_date is None or facts.state not in _IDLE_STATES:
        return None, None, None
    rules = rulebook.section("idle")
    started = facts.actual_start_date is not None and facts.actual_start_date <= facts.as_of
    if not started:
        since = facts.agreed_start_date
        return (since, anniversary(since, int(rules["fee_after_years"])),
                anniversary(since, int(rules["reclaim_after_years"])))
    f = verdict.figures if verdict is not None else {}
    if f.get("path") == "started" and f.get("fee_due_date"):
        return (date.fromisoformat(f["stopped_since"]), date.fromisoformat(f["fee_due_date"]),
                date.fromisoformat(f["reclaim_due_date"]))
    return None, None, None


def _status(s: Session, p: Parcel, as_of: date, rulebook) -> dict[str, Any]:
    """The parcel's deadlines, next due, overdue items and restriction (no access check)."""
    facts = lifecycle.parcel_facts(s, p, as_of)
    contract = _contract(s, p)
    agreement = _agreement(s, contract)
    notices = _notices(s, p)
    delay = _government_delay(s, p, notices)
    verdict = _idle_verdict(facts, rulebook)
    since, fee_point, reclaim_point = _idle_points(facts, verdict, rulebook)

    def notice_on(kind: IdleNoticeKind) -> date | None:
        return next((n.notice_date for n in notices if n.kind == kind.value and n.since == since), None)

    ms = sv.Milestones(
        agreed_start=facts.agreed_start_date,
        agreed_completion=(agreement.agreed_completion_date if agreement else
                           contract.agreed_completion_date if contract else None),
        agreed_production=agreement.agreed_production_date if agreement else None,
        actual_start=facts.actual_start_date, completion_result=facts.completion_result,
        completion_date=facts.completion_date, production_result=facts.production_result,
        production_date=facts.production_date, idle_fee_point=fee_point, idle_reclaim_point=reclaim_point,
        fee_notice_on=notice_on(IdleNoticeKind.FEE_NOTICE),
        reclaim_proposal_on=notice_on(IdleNoticeKind.RECLAIM_PROPOSAL), government_delay=delay is not None,
        rectification_end=lc.rectification_end(facts, rulebook) if p.state == S.RECTIFYING.value else None,
        land_price_wan=facts.land_price_wan)
    deadlines = sv.contract_deadlines(ms, as_of, rulebook)
    nxt = sv.next_due(deadlines, as_of)
    return {
        "as_of": as_of, "state": p.state, "state_label": LandState(p.state).label,
        "deadlines": deadlines, "next_due": nxt,
        "overdue": [d for d in deadlines if d["status"] == "overdue"],
        "government_delay": delay,
        "restrictions": sv.restriction(agreement is not None, facts.completion_result, facts.production_result,
                                       facts.production_date, p.state),
        "rectification_end": ms.rectification_end,
    }


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def inspection_view(r: AcceptanceInspection, full: bool = True) -> dict[str, Any]:
    """One inspection as readers see it (``full`` False: without the official's name)."""
    return {"id": r.id, "kind": r.kind, "kind_label": InspectionKind(r.kind).label,
            "inspected_on": r.inspected_on.isoformat(), "number": r.number, "measured": r.measured,
            "indicators": r.indicators, "findings": r.findings, "result": r.result,
            "result_label": AcceptanceResult(r.result).label, "reasons": r.reasons, "remark": r.remark,
            "actor": r.actor if full else "—", "at": audit.as_utc(r.at).isoformat(),
            "rulebook_version": r.rulebook_version}


def notice_view(n: IdleNotice, full: bool = True) -> dict[str, Any]:
    """One idle notice as readers see it."""
    return {"id": n.id, "kind": n.kind, "kind_label": IdleNoticeKind(n.kind).label,
            "notice_date": n.notice_date.isoformat(), "number": n.number,
            "since": n.since.isoformat() if n.since else None, "point": n.point.isoformat() if n.point else None,
            "full_years": n.full_years, "land_price_wan": n.land_price_wan, "fee_rate": n.fee_rate,
            "amount_wan": n.amount_wan, "basis": n.basis, "reason": n.reason, "actor": n.actor if full else "—",
            "at": audit.as_utc(n.at).isoformat(), "rulebook_version": n.rulebook_version}


def exit_view(s: Session, e: ExitCase, full: bool = True) -> dict[str, Any]:
    """The exit case with its computation."""
    out = registry.plain_record(e)
    out["building_disposal_label"] = BuildingDisposal(e.building_disposal).label
    out["opened_at"] = audit.as_utc(e.opened_at).isoformat()
    out["parcel_code"] = s.get(Parcel, e.parcel_id).code
    out["contract_no"] = s.get(SupplyContract, e.contract_id).contract_no
    if not full:
        out["opened_by"] = "—"
    return out


def supervision(db: Database, code: str, viewer: Principal | str, as_of: date | None = None) -> dict[str, Any]:
    """Everything supervision knows of a parcel: its deadlines (status, next due, what happens if
    missed), inspections, idle notices, exit case and restrictions."""
    viewer = as_principal(viewer)
    as_of = as_of or lifecycle.today()
    rulebook = load_rulebook()
    with db.reader() as s:
        p = _readable(s, code, viewer)
        full = audit.sees_parcel_in_full(viewer, p.county_id, p.zone_id)
        status = _status(s, p, as_of, rulebook)
        dev = _development(s, p)
        inspections = s.scalars(select(AcceptanceInspection).where(AcceptanceInspection.parcel_id == p.id)
                                .order_by(AcceptanceInspection.inspected_on, AcceptanceInspection.id)).all()
        exit_case = s.scalar(select(ExitCase).where(ExitCase.parcel_id == p.id).order_by(ExitCase.id.desc()).limit(1))
        contract = _contract(s, p)
        return _json({
            "code": p.code, "version": p.version, "development_version": dev.version if dev else None,
            "rulebook_version": rulebook.label,
            "building_disposal": contract.building_disposal if contract else None,
            **status,
            "inspections": [inspection_view(r, full) for r in inspections],
            "idle_notices": [notice_view(n, full) for n in _notices(s, p)],
            "exit_case": exit_view(s, exit_case, full) if exit_case else None,
        })


def supervision_status(db: Database, code: str, viewer: Principal | str, as_of: date | None = None) -> dict[str, Any]:
    """Each contract deadline of the parcel (agreed, done, status, days late), the next one due
    and what follows if it is missed."""
    full = supervision(db, code, viewer, as_of)
    keys = ("code", "as_of", "state", "state_label", "deadlines", "next_due", "overdue", "government_delay",
            "rectification_end")
    return {k: full[k] for k in keys}


def restrictions(db: Database, code: str, viewer: Principal | str) -> dict[str, Any]:
    """达产复验通过前不得抵押、转让、股权变更 (000:1024): whether it holds for the parcel, and why."""
    viewer = as_principal(viewer)
    with db.reader() as s:
        p = _readable(s, code, viewer)
        contract = _contract(s, p)
        dev = _development(s, p)
        return {"code": p.code, **sv.restriction(
            _agreement(s, contract) is not None, dev.completion_result if dev else "pending",
            dev.production_result if dev else "pending", dev.production_date if dev else None, p.state)}


# =========================================================================== inspections
def _date_problems(record: str, field: str, day: Any, as_of: date) -> tuple[date | None, list[Problem]]:
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            return None, [Problem(record, field, "日期格式错误，应为 YYYY-MM-DD")]
    if not isinstance(day, date):
        return None, [Problem(record, field, "缺少日期，应为 YYYY-MM-DD")]
    if day > as_of:
        return None, [Problem(record, field, f"日期 {day} 晚于今日 {as_of}")]
    return day, []


def _text(record: str, field: str, value: Any, label: str, limit: int = 100, required: bool = True
          ) -> tuple[str | None, list[Problem]]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ([Problem(record, field, f"缺少{label}", "missing")] if required else [])
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        return None, [Problem(record, field, f"{label}应为不超过{limit}个字符的文本")]
    return value.strip(), []


def _parse_kind(kinds: Any, kind: Any, record: str) -> Any:
    """``kind`` as a member of the vocabulary enum ``kinds``; an unknown kind is refused at once
    (422), since the record's name and every later check depend on it."""
    try:
        return kinds.parse(kind)
    except ValueError as exc:
        raise ValidationFailed(Problem(record, "kind", str(exc), "unknown_kind")) from None


def _require_role(editor: Principal, roles: frozenset[Role], what: str) -> None:
    if editor.role not in roles:
        who = "、".join(r.label for r in Role if r in roles)
        raise Forbidden(f"“{what}”只能由{who}办理，{editor.role.label}无权办理")


def record_inspection(db: Database, code: str, viewer: Principal | str, expected_version: int | None, *,
                      kind: str, inspected_on: Any, measured: dict[str, Any], number: str,
                      result: str | None = None, remark: str | None = None, as_of: date | None = None
                      ) -> dict[str, Any]:
    """Record a 竣工联合验收 / 达产验收 / 复验 of parcel ``code`` in one transaction: the inspection
    row (figures checked against the 履约监管协议) and the development record's result and date
    (``expected_version`` is the development record's). Refusals change nothing: bad input, the
    wrong state for this kind, a committed indicator without a measured value, or a declared pass
    with an indicator short → 422; no development record → 422; stale version → 409; outside the
    caller's view → 404; a role that may not → 403. Returns the inspection, the development
    record, the restriction and the lifecycle step that may follow."""
    editor = as_principal(viewer)
    if editor.is_public:
        raise Unauthorized()
    if expected_version is None:
        raise audit.VersionRequired()
    as_of = as_of or lifecycle.today()
    record = f"宗地 {code} 的验收"
    problems: list[Problem] = []
    k = _parse_kind(InspectionKind, kind, record)
    record = f"宗地 {code} 的{k.label}"
    day, found = _date_problems(record, "inspected_on", inspected_on, as_of)
    problems += found
    no, found = _text(record, "number", number, "验收意见文号")
    problems += found
    note, found = _text(record, "remark", remark, "说明", 2000, required=False)
    problems += found
    declared = None
    if result is not None:
        try:
            declared = AcceptanceResult.parse(result).value
        except ValueError as exc:
            problems.append(Problem(record, "result", str(exc)))
    if problems:
        raise ValidationFailed(problems)
    with db.reader() as s:
        p = registry.visible_parcel(s, code, editor)
        if _development(s, p) is None:
            raise ValidationFailed(Problem(record, "development", f"宗地 {p.code} 尚未登记开发建设情况（实际动工日期等），"
                                           "不能登记验收", "missing"))
    rulebook = load_rulebook()
    out: dict[str, Any] = {}

    def authorize(s: Session, dev: ParcelDevelopment) -> None:
        registry.authorize_parcel_edit(s, editor, dev.parcel, Action.EDIT_PARCELS)
        _require_role(editor, _OFFICIALS, "登记验收")

    def apply(s: Session, dev: ParcelDevelopment) -> None:
        p = dev.parcel
        state, step = _KIND_STATE[k]
        errs: list[Problem] = []
        if p.state != state.value:
            errs.append(Problem(record, "kind", f"宗地当前状态为“{LandState(p.state).label}”，{k.label}只能在"
                                f"“{state.label}”状态登记（{sv.CLAUSES[k]}）", "refused"))
        base = sv.base_kind(k)
        if k is K.COMPLETION and dev.completion_result == PASSED:
            errs.append(Problem(record, "kind", f"竣工联合验收已于 {dev.completion_date} 通过", "refused"))
        if k is K.COMPLETION_REINSPECTION and dev.completion_result != FAILED:
            errs.append(Problem(record, "kind", "竣工复验须在竣工联合验收未通过、限期整改之后（000:1022）", "refused"))
        if base is K.PRODUCTION and dev.completion_result != PASSED:
            errs.append(Problem(record, "kind", "达产验收须在竣工联合验收通过之后（000:1024-1026）", "refused"))
        if k is K.PRODUCTION and dev.production_result == PASSED:
            errs.append(Problem(record, "kind", f"达产验收已于 {dev.production_date} 通过", "refused"))
        if k is K.PRODUCTION_REINSPECTION and dev.production_result != FAILED:
            errs.append(Problem(record, "kind", "达产复验须在达产验收未通过、限期整改之后（000:1028）", "refused"))
        earliest = [(dev.actual_start_date, "实际动工日期")]
        if base is K.PRODUCTION:
            earliest.append((dev.completion_date, "竣工验收日期"))
        if k is K.COMPLETION_REINSPECTION:
            earliest.append((dev.completion_date, "竣工验收未通过之日"))
        if k is K.PRODUCTION_REINSPECTION:
            earliest.append((dev.production_date, "达产验收未通过之日"))
        for d, label in earliest:
            if d is not None and day < d:
                errs.append(Problem(record, "inspected_on", f"验收日期 {day} 早于{label} {d}"))
        contract = _contract(s, p)
        agreement = _agreement(s, contract)
        indicators, how, found = sv.derive_indicators(measured, p.area_m2, p.area_mu, record)
        errs += found
        check = None
        if not found:
            check = sv.check_acceptance(k, sv.committed_indicators(
                registry.plain_record(agreement) if agreement else None), indicators, rulebook, declared,
                agreement is not None, record)
            errs += check.problems
        # the surveyed areas and investment go on the development record too
        changes: dict[str, Any] = {}
        if isinstance(measured, dict):
            for key in ("floor_area_m2", "footprint_m2", "coverage_area_m2", "green_area_m2", "office_living_area_m2"):
                if key in measured and not found:
                    changes[key] = float(measured[key])
            if "investment_wan" in measured and not found:
                changes["investment_done_wan"] = float(measured["investment_wan"])
        if errs:
            raise ValidationFailed(errs)
        res_field, date_field = (("completion_result", "completion_date") if base is K.COMPLETION
                                 else ("production_result", "production_date"))
        # A failed re-inspection keeps the first failure's date: the period runs from it (000:1022, 1028).
        if not (check.result == FAILED and getattr(dev, res_field) == FAILED):
            changes[date_field] = day
        changes[res_field] = check.result
        current = {n: getattr(dev, n) for n in DevelopmentDraft.__dataclass_fields__}
        draft = DevelopmentDraft(**{**current, **changes})
        bad = development_problems(draft, p.code, p.area_m2)
        if bad:
            raise ValidationFailed(bad)
        for name, value in changes.items():
            setattr(dev, name, value)
        row = AcceptanceInspection(
            parcel_id=p.id, kind=k.value, inspected_on=day, measured=dict(measured), indicators=indicators,
            findings=check.findings, result=check.result, reasons=how + check.reasons, number=no,
            actor=editor.actor, remark=note, agreement_id=agreement.id if agreement else None,
            rulebook_version=rulebook.label)
        s.add(row)
        s.flush()
        out["inspection"] = inspection_view(row)
        if check.result == PASSED:
            t = lc.BY_KEY[step]
            out["next_step"] = {"transition": t.key, "name": t.name,
                                "hint": f"验收通过：可办理“{t.name}”（{t.basis}）"}
        elif k in (K.COMPLETION, K.PRODUCTION):
            years = int(rulebook.section("rectification")["max_years"])
            out["next_step"] = {"transition": "start_rectification", "name": lc.BY_KEY["start_rectification"].name,
                                "hint": f"验收未通过：限期整改，整改期自进入整改之日起最长不超过{years}年"
                                        f"（000:1022、1028，规则库 rectification.max_years）"}
        else:
            out["next_step"] = {"transition": "start_disposal", "name": lc.BY_KEY["start_disposal"].name,
                                "hint": "复验仍未通过：经市、县政府批准解除出让合同，可附整改验收（未通过）意见启动处置（000:1028）"}
        out["restrictions"] = sv.restriction(agreement is not None, dev.completion_result, dev.production_result,
                                             dev.production_date, p.state)

    development = audit.guarded_update(
        db, editor, what="开发建设情况", key=code, expected_version=expected_version,
        attempted={"inspection": k.value, "inspected_on": str(inspected_on), "measured": measured},
        reason=f"{k.label}（{number}）", load=lambda s: ledgers._development(s, registry._parcel(s, code)),
        authorize=authorize, apply=apply, view=ledgers.development_view)
    return _json({**out, "development": development})


# =========================================================================== idle notices
def record_idle_notice(db: Database, code: str, viewer: Principal | str, *, kind: str, number: str,
                       notice_date: Any = None, reason: str | None = None, as_of: date | None = None
                       ) -> dict[str, Any]:
    """Record a 闲置费征缴决定书 (``fee_notice``: from R3's 1-year point, the fee computed), a
    无偿收回 proposal (``reclaim_proposal``: from the 2-year point) or a government-caused delay
    (``government_delay``, which bars both — 第八条). Refused with the reason (422, nothing
    written) before the point, after a recorded government delay, twice for the same period, or
    for a parcel not supplied-and-unbuilt; 403 for roles other than the city/county government."""
    editor = as_principal(viewer)
    if editor.is_public:
        raise Unauthorized()
    as_of = as_of or lifecycle.today()
    record = f"宗地 {code} 的闲置土地处置"
    problems: list[Problem] = []
    k = _parse_kind(IdleNoticeKind, kind, record)
    record = f"宗地 {code} 的{k.label}"
    day, found = _date_problems(record, "notice_date", notice_date if notice_date is not None else as_of, as_of)
    problems += found
    no, found = _text(record, "number", number, "文号")
    problems += found
    why, found = _text(record, "reason", reason, "认定理由", 2000, required=k is IdleNoticeKind.GOVERNMENT_DELAY)
    problems += found
    if problems:
        raise ValidationFailed(problems)
    rulebook = load_rulebook()
    with db.transaction(actor=editor.actor, reason=why or k.label) as s:
        p = registry.editable_parcel(s, code, editor, Action.EDIT_PARCELS)
        _require_role(editor, _GOVERNMENT, k.label)
        if p.state not in _IDLE_STATES:
            raise ValidationFailed(Problem(record, "kind", f"宗地当前状态为“{LandState(p.state).label}”：闲置土地处置只适用于"
                                           "已供应未动工、在建或已认定闲置的宗地（R3）", "refused"))
        facts = lifecycle.parcel_facts(s, p, day)
        notices = _notices(s, p)
        delay = _government_delay(s, p, notices)
        verdict = _idle_verdict(facts, rulebook)
        since, fee_point, reclaim_point = _idle_points(facts, verdict, rulebook)
        if k is IdleNoticeKind.GOVERNMENT_DELAY:
            if delay:
                raise ValidationFailed(Problem(record, "kind", f"已记录政府原因造成动工开发延迟的认定（{delay}）", "duplicate"))
            row = IdleNotice(parcel_id=p.id, kind=k.value, notice_date=day, number=no, since=since,
                             point=None, full_years=None, land_price_wan=facts.land_price_wan, fee_rate=None,
                             amount_wan=None, basis=idle_rule.CITE_ART8.source + "：" + idle_rule.CITE_ART8.text,
                             reason=why, actor=editor.actor, rulebook_version=rulebook.label)
        else:
            n = sv.idle_notice(k, verdict, delay, rulebook, facts.land_price_wan)
            reasons = list(n.reasons)
            dup = next((x for x in notices if x.kind == k.value and x.since == n.since), None)
            if dup is not None:
                reasons.append(f"该闲置期间已于 {dup.notice_date} 作出{k.label}（{dup.number}）")
            if reasons:
                raise ValidationFailed([Problem(record, "kind", f"不能作出{k.label}：{r}", "refused") for r in reasons])
            row = IdleNotice(parcel_id=p.id, kind=k.value, notice_date=day, number=no, since=n.since, point=n.point,
                             full_years=n.full_years, land_price_wan=n.land_price_wan, fee_rate=n.fee_rate,
                             amount_wan=n.amount_wan, basis=n.basis, reason=why, actor=editor.actor,
                             rulebook_version=rulebook.label)
        s.add(row)
        s.flush()
        out = notice_view(row)
        if k is IdleNoticeKind.RECLAIM_PROPOSAL:
            out["next_step"] = {"transition": "reclaim_free", "name": lc.BY_KEY["reclaim_free"].name,
                                "hint": "报经有批准权的人民政府批准后，办理“无偿收回”（先“认定闲置”）"}
        return out


# =========================================================================== exit cases
_EXIT_FIELDS = ("auditor", "audit_date", "audited_cost_wan", "deductions_wan", "buyback_number", "buyback_date")


def _money(record: str, field: str, value: Any, label: str) -> tuple[float | None, list[Problem]]:
    if value is None:
        return None, []
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0 \
            or value == float("inf"):
        return None, [Problem(record, field, f"{label}应为不小于0的数值（万元）")]
    return float(value), []


def _exit_values(record: str, values: dict[str, Any], as_of: date) -> tuple[dict[str, Any], list[Problem]]:
    out: dict[str, Any] = {}
    problems: list[Problem] = []
    for field, label in (("audited_cost_wan", "审计确认的建设成本"), ("deductions_wan", "扣减金额")):
        if field in values:
            out[field], found = _money(record, field, values[field], label)
            problems += found
    for field, label, limit in (("auditor", "审计评估机构", 200), ("buyback_number", "回购协议编号", 100)):
        if field in values:
            out[field], found = _text(record, field, values[field], label, limit, required=False)
            problems += found
    for field in ("audit_date", "buyback_date"):
        if field in values and values[field] is not None:
            out[field], found = _date_problems(record, field, values[field], as_of)
            problems += found
        elif field in values:
            out[field] = None
    return out, problems


def _compute_exit(s: Session, e: ExitCase, rulebook) -> None:
    # no autoflush: the case's new values and its computed figures go out in one UPDATE (one version)
    with s.no_autoflush:
        contract = s.get(SupplyContract, e.contract_id)
        dev = s.scalar(select(ParcelDevelopment).where(ParcelDevelopment.parcel_id == e.parcel_id))
    built = dev.completion_date if dev is not None and dev.completion_result == PASSED else None
    b = sv.buyback(contract.price_wan, contract.signed_date, contract.term_years, e.rescission_date,
                   e.building_disposal, rulebook, e.audited_cost_wan, built, e.deductions_wan or 0.0)
    e.land_refund_wan, e.building_value_wan, e.buyback_price_wan = b.land_refund_wan, b.building_value_wan, b.price_wan
    e.computation = b.to_dict()
    e.rulebook_version = rulebook.label


def open_exit_case(db: Database, code: str, viewer: Principal | str, *, rescission_number: str,
                   rescission_approved_by: str, rescission_date: Any, building_disposal: str | None = None,
                   reason: str | None = None, as_of: date | None = None, **figures: Any) -> dict[str, Any]:
    """Open the exit case of a parcel in 处置中 (after ``start_disposal``): the rescission's
    approval, the building disposal the contract names (given here and written on the contract
    when it names none yet) and, when known, the 成本还原 audit — the buy-back figure computed.
    ``figures``: auditor, audit_date, audited_cost_wan, deductions_wan, buyback_number, buyback_date."""
    editor = as_principal(viewer)
    if editor.is_public:
        raise Unauthorized()
    as_of = as_of or lifecycle.today()
    record = f"宗地 {code} 的收回回购"
    unknown = sorted(set(figures) - set(_EXIT_FIELDS))
    problems = [Problem(record, f, "未知字段", "unknown_field") for f in unknown]
    no, found = _text(record, "rescission_number", rescission_number, "解除合同批准文号")
    problems += found
    by, found = _text(record, "rescission_approved_by", rescission_approved_by, "批准机关")
    problems += found
    day, found = _date_problems(record, "rescission_date", rescission_date, as_of)
    problems += found
    disposal = None
    if building_disposal is not None:
        try:
            disposal = BuildingDisposal.parse(building_disposal).value
        except ValueError as exc:
            problems.append(Problem(record, "building_disposal", str(exc)))
    values, found = _exit_values(record, figures, as_of)
    problems += found
    if problems:
        raise ValidationFailed(problems)
    rulebook = load_rulebook()
    with db.transaction(actor=editor.actor, reason=reason or "解除出让合同，成本还原审计、优先回购") as s:
        p = registry.editable_parcel(s, code, editor, Action.EDIT_PARCELS)
        _require_role(editor, _GOVERNMENT, "解除合同、收回回购")
        errs: list[Problem] = []
        if p.state != S.DISPOSING.value:
            errs.append(Problem(record, "state", f"宗地当前状态为“{LandState(p.state).label}”：须先办理“启动处置”"
                                "（解除出让合同须经市、县政府批准，000:1028）", "refused"))
        contract = _contract(s, p)
        if contract is None:
            raise ValidationFailed(errs + [Problem(record, "contract", "宗地没有登记出让合同，无从解除", "missing")])
        if s.scalar(select(ExitCase.id).where(ExitCase.contract_id == contract.id)) is not None:
            errs.append(Problem(record, "contract", f"合同 {contract.contract_no} 已有收回回购记录，请修改原记录", "duplicate"))
        if day < contract.signed_date:
            errs.append(Problem(record, "rescission_date", f"解除日期 {day} 早于合同签订日期 {contract.signed_date}"))
        if contract.building_disposal and disposal and disposal != contract.building_disposal:
            errs.append(Problem(record, "building_disposal", f"出让合同约定地上建筑物按“"
                                f"{BuildingDisposal(contract.building_disposal).label}”处置，不能改为“"
                                f"{BuildingDisposal(disposal).label}”（000:1034）", "refused"))
        if not contract.building_disposal and not disposal:
            errs.append(Problem(record, "building_disposal", "出让合同未登记地上建筑物处置方式：请按合同约定填写"
                                "（残值补偿/无偿收回/恢复原状，000:1034）", "missing"))
        if errs:
            raise ValidationFailed(errs)
        if not contract.building_disposal:
            contract.building_disposal = disposal  # the contract's term, now on file (change log)
        e = ExitCase(parcel_id=p.id, contract_id=contract.id, rescission_number=no, rescission_approved_by=by,
                     rescission_date=day, building_disposal=contract.building_disposal, opened_by=editor.actor,
                     deductions_wan=0.0, land_refund_wan=0.0, computation={}, rulebook_version=rulebook.label)
        for k, v in values.items():
            setattr(e, k, v if not (k == "deductions_wan" and v is None) else 0.0)
        _compute_exit(s, e, rulebook)
        s.add(e)
        s.flush()
        return exit_view(s, e)


def update_exit_case(db: Database, code: str, viewer: Principal | str, expected_version: int | None,
                     changes: dict[str, Any], reason: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Add the audit figures or the buy-back agreement to the parcel's exit case (versioned; the
    buy-back figure recomputed). Officials of the jurisdiction (the zone organises the audit and
    the buy-back, 000:1028)."""
    editor = as_principal(viewer)
    if editor.is_public:
        raise Unauthorized()
    if expected_version is None:
        raise audit.VersionRequired()
    as_of = as_of or lifecycle.today()
    record = f"宗地 {code} 的收回回购"
    problems = [Problem(record, f, "该字段不能修改", "not_editable") for f in sorted(set(changes) - set(_EXIT_FIELDS))]
    values, found = _exit_values(record, changes, as_of)
    if problems + found:
        raise ValidationFailed(problems + found)
    rulebook = load_rulebook()

    def load(s: Session) -> ExitCase:
        p = registry._parcel(s, code)
        e = s.scalar(select(ExitCase).where(ExitCase.parcel_id == p.id).order_by(ExitCase.id.desc()).limit(1))
        if e is None:
            raise NotFound("收回回购记录", code)
        return e

    def authorize(s: Session, e: ExitCase) -> None:
        registry.authorize_parcel_edit(s, editor, s.get(Parcel, e.parcel_id), Action.EDIT_PARCELS)
        _require_role(editor, _OFFICIALS, "成本还原审计、回购")

    def apply(s: Session, e: ExitCase) -> None:
        for k, v in values.items():
            setattr(e, k, 0.0 if k == "deductions_wan" and v is None else v)
        for field in ("audit_date", "buyback_date"):
            d = getattr(e, field)
            if d is not None and d < e.rescission_date:
                raise ValidationFailed(Problem(record, field, f"日期 {d} 早于解除合同日期 {e.rescission_date}"))
        _compute_exit(s, e, rulebook)

    return audit.guarded_update(db, editor, what="收回回购记录", key=code, expected_version=expected_version,
                                attempted=_json(changes), reason=reason, load=load, authorize=authorize,
                                apply=apply, view=exit_view)


# =========================================================================== deadlines (warnings job)
def deadline_items(db: Database, viewer: Principal | str, as_of: date) -> list[dict[str, Any]]:
    """Every open supervision deadline (not done, not waived) of the parcels ``viewer`` may read
    (an enterprise: its own), overdue ones included: agreed start, completion and production, R3's
    1-/2-year points, the end of a rectification period. Each: parcel_code, county_id, zone_id,
    kind, label, due (date), basis, consequence, status, days_left. Lead times are the warnings
    job's to apply."""
    viewer = as_principal(viewer)
    if viewer.is_public:
        raise Unauthorized()
    access.require(viewer, Action.READ_PARCELS)
    rulebook = load_rulebook()
    items: list[dict[str, Any]] = []
    with db.reader() as s:
        has_contract = select(SupplyContract.id).where(SupplyContract.parcel_id == Parcel.id).exists()
        parcels = s.scalars(select(Parcel).where(and_(scope_condition(viewer), has_contract,
                                                      Parcel.state.in_([x.value for x in _ACTIVE_STATES])))
                            .order_by(Parcel.code)).all()
        for p in parcels:
            for d in _status(s, p, as_of, rulebook)["deadlines"]:
                if d["status"] in ("open", "overdue"):
                    items.append({"parcel_code": p.code, "county_id": p.county_id, "zone_id": p.zone_id,
                                  "kind": d["kind"], "label": d["label"], "due": d["due"], "basis": d["basis"],
                                  "consequence": d["consequence"], "status": d["status"],
                                  "days_left": d["days_left"]})
    return sorted(items, key=lambda i: (i["due"], i["parcel_code"], i["kind"]))
