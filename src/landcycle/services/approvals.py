"""Commitment-based approvals of supplied parcels (告知承诺制/代办制, issue 7 item 3).

The tracks, steps, limits and the replay of a case are ``domain.approvals``; this module stores
cases and their append-only events, checks who may do what, and computes every step's dates on
the official working-day calendar (``WorkdayCalendar.from_rulebook``).

Access (DOMAIN.md §1):

* officials (city, county, zone) of the parcel's jurisdiction open cases and record events;
* the parcel's jurisdiction's departments read them;
* the enterprise that is the case's 土地受让人 and occupies the parcel reads its own cases — it
  does not record events: acceptance, permits and the publicity's outcome are acts of the
  approval departments and the 一窗受理 window, which the zone's 代办 staff enter (000:1006);
* the public sees nothing (asked to sign in).

Every write is one transaction; a refused write changes nothing. An event whose deadline would
run into a year whose holiday schedule is not loaded is refused with the calendar's message.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..domain import approvals as ap
from ..domain.access import Action, Principal, Role, as_principal
from ..domain.errors import Conflict, Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.rules.rulebook import Rulebook
from ..domain.rules.workdays import WorkdayCalendar
from ..domain.vocabulary import LandState
from ..storage.approval_schema import ApprovalCase, ApprovalEvent
from ..storage.db import Database
from ..storage.schema import Enterprise, Occupancy, Parcel, SupplyContract
from . import access, audit, lifecycle, registry
from .rules import load_rulebook

#: Parcel states in which a case may be opened: sold, not yet started (the approvals lead to 开工).
OPEN_FROM_STATES = (LandState.SUPPLIED.value,)
#: Case states in which a case still runs (one such case per parcel at a time).
RUNNING = (ap.CaseState.OPEN.value, ap.CaseState.OBJECTION.value)


def today() -> date:
    """The day writes are checked on (北京时间); tests replace it."""
    return lifecycle.today()


def _calendar(rulebook: Rulebook) -> WorkdayCalendar:
    try:
        return WorkdayCalendar.from_rulebook(rulebook)
    except ValidationFailed:
        raise
    except (TypeError, ValueError) as exc:  # a malformed extra year: say so, never guess
        raise ValidationFailed(Problem("规则库", "workdays.extra_years", str(exc))) from None


def _events(s: Session, case_id: int) -> list[ApprovalEvent]:
    return list(s.scalars(select(ApprovalEvent).where(ApprovalEvent.case_id == case_id).order_by(ApprovalEvent.id)))


def _domain_events(rows: list[ApprovalEvent]) -> list[ap.Event]:
    return [ap.Event(ap.EventKind(r.kind), r.step, r.on_date, r.number) for r in rows]


def tracks(rulebook: Rulebook | None = None) -> list[dict[str, Any]]:
    """The tracks and their steps with the rulebook's limits (API, docs)."""
    rulebook = rulebook or load_rulebook()
    return [{"key": t.value, "label": t.label, "steps": [s.to_dict(rulebook) for s in ap.TRACKS[t]]} for t in ap.Track]


# --------------------------------------------------------------------------- access
def _parse_choice(choices: Any, raw: Any, record: str, field: str, code: str, problems: list[Problem]) -> Any:
    """``raw`` (trimmed) as a member of the vocabulary enum ``choices``, or None with the reason
    added to ``problems`` (reported with the request's other problems)."""
    try:
        return choices.parse((raw or "").strip())
    except ValueError as exc:
        problems.append(Problem(record, field, str(exc), code))
        return None


def _require_reader(viewer: Principal) -> None:
    if viewer.is_public:
        raise Unauthorized()
    access.require(viewer, Action.READ_PARCELS)


def _reads_case(s: Session, viewer: Principal, parcel: Parcel, case: ApprovalCase) -> bool:
    """Officials and departments of the parcel's jurisdiction; the case's own enterprise if it
    occupies the parcel."""
    if viewer.role is Role.ENTERPRISE:
        return case.enterprise_id == viewer.enterprise_id and registry.sees_ledgers(s, viewer, parcel)
    return audit.sees_parcel_in_full(viewer, parcel.county_id, parcel.zone_id)


def _load_case(s: Session, case_id: int, lock: bool = False) -> ApprovalCase:
    q = select(ApprovalCase).where(ApprovalCase.id == case_id)
    if lock:
        q = q.with_for_update()
    case = s.scalar(q)
    if case is None:
        raise NotFound("审批事项", str(case_id))
    return case


# --------------------------------------------------------------------------- views
def _event_view(r: ApprovalEvent, track: str, full: bool) -> dict[str, Any]:
    step = ap.find_step(track, r.step)
    at = audit.as_utc(r.at)
    return {"id": r.id, "step": r.step, "step_name": step.name if step else r.step, "kind": r.kind,
            "kind_label": ap.EventKind(r.kind).label, "date": r.on_date.isoformat(), "number": r.number,
            "note": r.note, "actor": r.actor if full else "—", "at": at.isoformat() if at else None,
            "state_after": r.state_after, "state_after_label": ap.CaseState(r.state_after).label}


def _case_view(s: Session, case: ApprovalCase, parcel: Parcel, viewer: Principal, rulebook: Rulebook,
               cal: WorkdayCalendar, as_of: date) -> dict[str, Any]:
    rows = _events(s, case.id)
    status = ap.replay(case.track, _domain_events(rows), cal, rulebook, as_of)
    full = viewer.role is not Role.ENTERPRISE
    ent = s.get(Enterprise, case.enterprise_id)
    current = status.current if status.state is ap.CaseState.OPEN else None
    opened = audit.as_utc(case.opened_at)
    return {
        "id": case.id, "parcel_code": parcel.code, "track": case.track, "track_label": ap.Track(case.track).label,
        "state": status.state.value, "state_label": status.state.label, "version": case.version,
        "enterprise": {"credit_code": ent.credit_code, "name": ent.name} if ent else None,
        "project": case.project, "opened_by": case.opened_by if full else "—",
        "opened_at": opened.isoformat() if opened else None, "reason": case.reason,
        "as_of": as_of.isoformat(), "rulebook_version": rulebook.label,
        "steps": [st.to_dict(rulebook) for st in status.steps],
        "next": None if current is None else {
            "step": current.step.key, "name": current.step.name,
            "awaiting": current.step.done_label if current.start else current.step.start_label,
            "due_date": current.due.isoformat() if current.due else None},
        "events": [_event_view(r, case.track, full) for r in rows],
    }


def list_cases(db: Database, code: str, viewer: Principal | str, as_of: date | None = None) -> dict[str, Any]:
    """The parcel's approval cases that ``viewer`` may read (an enterprise: its own), newest
    first, each with its steps as of ``as_of`` (default today); plus the tracks and whether the
    viewer may open a case. A parcel outside the viewer's view is NotFound."""
    viewer = as_principal(viewer)
    _require_reader(viewer)
    as_of = as_of or today()
    rulebook = load_rulebook()
    cal = _calendar(rulebook)
    with db.reader() as s:
        p = registry.visible_parcel(s, code, viewer)
        cases = s.scalars(select(ApprovalCase).where(ApprovalCase.parcel_id == p.id)
                          .order_by(ApprovalCase.id.desc())).all()
        views = [_case_view(s, c, p, viewer, rulebook, cal, as_of) for c in cases if _reads_case(s, viewer, p, c)]
        return {"code": p.code, "state": p.state, "state_label": LandState(p.state).label,
                "may_open": viewer.can_edit_in(p.county_id, p.zone_id) and p.state in OPEN_FROM_STATES
                and not any(c.state in RUNNING for c in cases),
                "tracks": tracks(rulebook), "cases": views}


def get_case(db: Database, case_id: int, viewer: Principal | str, as_of: date | None = None) -> dict[str, Any]:
    """One case as ``viewer`` may read it (NotFound otherwise — its existence is not revealed)."""
    viewer = as_principal(viewer)
    _require_reader(viewer)
    as_of = as_of or today()
    rulebook = load_rulebook()
    cal = _calendar(rulebook)
    with db.reader() as s:
        case = _load_case(s, case_id)
        p = s.get(Parcel, case.parcel_id)
        if s.scalar(select(Parcel.id).where(Parcel.id == p.id, access.parcel_condition(viewer))) is None \
                or not _reads_case(s, viewer, p, case):
            raise NotFound("审批事项", str(case_id))
        return _case_view(s, case, p, viewer, rulebook, cal, as_of)


# --------------------------------------------------------------------------- writes
def open_case(db: Database, code: str, viewer: Principal | str, track: str, project: Any = None,
              reason: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Open an approval case on the supplied parcel ``code`` in one transaction.

    Refused, nothing written: an unknown track, bad project facts, a parcel not in 已供应, no
    出让合同 on record, a case still running, a project outside the track (e.g. over 24 m for the
    small low-risk track) → ValidationFailed (422, every reason in Chinese); a parcel outside
    the caller's jurisdiction → NotFound (404); a role that may not edit parcels (enterprise,
    department) → Forbidden (403); the public → Unauthorized (401).
    """
    editor = as_principal(viewer)
    if editor.is_public:
        raise Unauthorized()
    as_of = as_of or today()
    record = f"宗地 {code} 的审批事项"
    problems: list[Problem] = []
    trk = _parse_choice(ap.Track, track, record, "track", "unknown_track", problems)
    facts, more = ap.parse_project(project, record)
    problems += more
    if reason is not None and len(reason) > 2000:
        problems.append(Problem(record, "reason", "原因不能超过2000个字符"))
    if problems:
        raise ValidationFailed(problems)
    rulebook = load_rulebook()
    _calendar(rulebook)  # a malformed calendar is reported before anything is written
    seen: dict[str, int] = {}
    try:
        return _open(db, code, editor, trk, facts, reason, rulebook, as_of, record, seen)
    except Forbidden:
        # visible to the caller but not theirs to change: the attempt goes on file (一地一档)
        audit.log_refused(db, editor, reason, lambda s: registry._parcel(s, code),
                          {"approval_case": trk.value}, seen.get("version", 0), None, action="denied",
                          view=registry.parcel_properties)
        raise


def _open(db: Database, code: str, editor: Principal, trk: ap.Track, facts: ap.ProjectFacts, reason: str | None,
          rulebook: Rulebook, as_of: date, record: str, seen: dict[str, int]) -> dict[str, Any]:
    with db.transaction(actor=editor.actor, reason=reason) as s:
        p = registry._parcel(s, code)
        seen["version"] = p.version
        registry.authorize_parcel_edit(s, editor, p)
        p = s.scalar(select(Parcel).where(Parcel.id == p.id).with_for_update())  # one running case per parcel
        reasons: list[tuple[str, str]] = []
        if p.state not in OPEN_FROM_STATES:
            reasons.append(("state", f"宗地 {p.code} 当前状态为“{LandState(p.state).label}”：审批事项在土地出让成交、"
                                     f"签订出让合同后开工前办理，宗地须为“{LandState.SUPPLIED.label}”（000:1014）"))
        contract = s.scalar(select(SupplyContract).where(SupplyContract.parcel_id == p.id)
                            .order_by(SupplyContract.signed_date.desc(), SupplyContract.id.desc()).limit(1))
        if contract is None:
            reasons.append(("contract", "尚未登记该宗地的出让合同：受让人签订出让合同后方可办理（000:998、1014），"
                                        "请先在“供地合同”中登记"))
        running = s.scalar(select(ApprovalCase).where(ApprovalCase.parcel_id == p.id,
                                                      ApprovalCase.state.in_(RUNNING)).limit(1))
        if running is not None:
            reasons.append(("track", f"该宗地已有办理中的审批事项（编号 {running.id}，{ap.Track(running.track).label}），"
                                     "须办结或终止后才能另行开立"))
        fld = "project" if trk is ap.Track.SMALL_LOW_RISK else "track"
        reasons += [(fld, r) for r in ap.eligibility_reasons(trk, facts, bool(p.is_standard_land), rulebook)]
        if reasons:
            raise ValidationFailed([Problem(record, f, r, "refused") for f, r in reasons])
        case = ApprovalCase(parcel_id=p.id, track=trk.value, enterprise_id=contract.enterprise_id,
                            project=facts.to_dict(), state=ap.CaseState.OPEN.value, opened_by=editor.actor,
                            reason=reason, rulebook_version=rulebook.label)
        s.add(case)
        s.flush()
        return _case_view(s, case, p, editor, rulebook, _calendar(rulebook), as_of)


def record_event(db: Database, case_id: int, viewer: Principal | str, step: str, kind: str, on: date | str,
                 number: str | None = None, note: str | None = None, expected_version: int | None = None,
                 as_of: date | None = None) -> dict[str, Any]:
    """Record one event of case ``case_id`` (受理, 办结, 公示异议 and its outcome) in one transaction.

    Refused, nothing written: a date after today or before the step's start, steps out of order,
    a publicity closed before its last day, an event whose deadline would run into a year not
    loaded (CalendarUnknown), a missing 文号 for a permit → ValidationFailed (422); the case
    outside the caller's jurisdiction → NotFound (404); an enterprise or department → Forbidden
    (403); ``expected_version`` not the case's → Conflict (409). Returns the case view.
    """
    editor = as_principal(viewer)
    if editor.is_public:
        raise Unauthorized()
    as_of = as_of or today()
    record = f"审批事项 {case_id}"
    problems: list[Problem] = []
    ev_kind = _parse_choice(ap.EventKind, kind, record, "kind", "unknown_kind", problems)
    day = on
    if isinstance(on, str):
        try:
            day = date.fromisoformat(on)
        except ValueError:
            problems.append(Problem(record, "date", f"“{on}”不是日期（YYYY-MM-DD）"))
    if not isinstance(day, date):
        day = None
        if not any(p.field == "date" for p in problems):
            problems.append(Problem(record, "date", "缺少日期（YYYY-MM-DD）"))
    for name, value, limit in (("number", number, 100), ("note", note, 2000)):
        if value is not None and (not isinstance(value, str) or len(value) > limit or "\x00" in value):
            problems.append(Problem(record, name, f"应为不超过{limit}个字符的文本"))
    if problems:
        raise ValidationFailed(problems)
    number = (number or "").strip() or None
    rulebook = load_rulebook()
    cal = _calendar(rulebook)
    try:
        return _record(db, case_id, editor, step, ev_kind, day, number, note, expected_version, rulebook, cal, as_of,
                       record)
    except Forbidden:
        audit.log_refused(db, editor, note, lambda s: _load_case(s, case_id),
                          {"approval_event": {"step": step, "kind": ev_kind.value, "date": day.isoformat()}},
                          expected_version or 0, None, action="denied",
                          view=lambda s, c: {"id": c.id, "state": c.state, "version": c.version})
        raise
    except Conflict as exc:  # a stale version: the attempt is filed, as for every versioned edit
        audit.log_refused(db, editor, note, lambda s: _load_case(s, case_id),
                          {"approval_event": {"step": step, "kind": ev_kind.value, "date": day.isoformat()}},
                          exc.expected, {"id": case_id, "state": exc.current.get("state"),
                                         "version": exc.current.get("version")})
        raise


def _record(db: Database, case_id: int, editor: Principal, step: str, ev_kind: ap.EventKind, day: date,
            number: str | None, note: str | None, expected_version: int | None, rulebook: Rulebook,
            cal: WorkdayCalendar, as_of: date, record: str) -> dict[str, Any]:
    try:
        with db.transaction(actor=editor.actor, reason=note) as s:
            case = _load_case(s, case_id, lock=True)
            p = s.get(Parcel, case.parcel_id)
            try:
                registry.authorize_parcel_edit(s, editor, p)
            except NotFound:
                raise NotFound("审批事项", str(case_id)) from None
            if expected_version is not None and case.version != expected_version:
                raise Conflict("审批事项", str(case_id), expected_version,
                               _case_view(s, case, p, editor, rulebook, cal, as_of))
            the_step = ap.find_step(case.track, step)
            key = the_step.key if the_step else (step or "").strip()
            rows = _events(s, case.id)
            new = ap.Event(ev_kind, key, day, number)
            reasons = ap.check_event(case.track, _domain_events(rows), new, cal, rulebook, as_of)
            if not reasons and the_step is not None and ev_kind is ap.EventKind.ACCEPTED \
                    and the_step is ap.steps_of(case.track)[0]:
                # the approvals follow the sale: 签订出让合同后 (000:1014), the 受让人's contract
                signed = s.scalar(select(func.min(SupplyContract.signed_date)).where(
                    SupplyContract.parcel_id == p.id, SupplyContract.enterprise_id == case.enterprise_id))
                if signed is not None and day < signed:
                    reasons.append(("date", f"{the_step.start_label}日期 {day} 早于出让合同签订日期 {signed}："
                                            "审批在签订出让合同后办理（000:1014）"))
            if not reasons and the_step is not None and ev_kind is ap.EventKind.DONE and not the_step.period \
                    and not number:
                reasons.append(("number", f"登记“{the_step.name}”{the_step.done_label}须填写文号或许可证号（number）"))
            if reasons:
                raise ValidationFailed([Problem(record, fld, msg, "refused") for fld, msg in reasons])
            after = ap.replay(case.track, [*_domain_events(rows), new], cal, rulebook, as_of)
            s.add(ApprovalEvent(case_id=case.id, parcel_id=p.id, step=key, kind=ev_kind.value, on_date=day,
                                number=number, note=note, actor=editor.actor, state_after=after.state.value,
                                rulebook_version=rulebook.label))
            case.state = after.state.value
            case.event_count = (case.event_count or 0) + 1  # every event bumps the case's version
            s.flush()
            return _case_view(s, case, p, editor, rulebook, cal, as_of)
    except StaleDataError:
        with db.reader() as s:
            case = _load_case(s, case_id)
            current = _case_view(s, case, s.get(Parcel, case.parcel_id), editor, rulebook, cal, as_of)
        raise Conflict("审批事项", str(case_id), expected_version or current["version"] - 1, current) from None


# --------------------------------------------------------------------------- deadlines
def _scope(viewer: Principal):
    cond = access.parcel_condition(viewer)
    if viewer.role is Role.ENTERPRISE:
        own = exists(select(Occupancy.id).where(Occupancy.parcel_id == Parcel.id,
                                                Occupancy.enterprise_id == viewer.enterprise_id))
        cond = and_(cond, own, ApprovalCase.enterprise_id == viewer.enterprise_id)
    return cond


def deadline_items(db: Database, viewer: Principal | str, as_of: date) -> list[dict[str, Any]]:
    """Every open step deadline of the running approval cases ``viewer`` may read, as of
    ``as_of``: one dict per started, unfinished step — ``parcel_code``, ``county_id``,
    ``zone_id``, ``kind`` ("approval:<step>"), ``label`` (Chinese), ``due`` (date; None only if
    the rulebook's calendar no longer covers it, then ``calendar_problem`` says why), ``basis``
    (clause), ``consequence`` (Chinese) — plus ``case_id``, ``track``, ``start``, ``status``.
    Steps without a working-day limit (容缺办理) have no deadline and are not listed; a case in
    objection has its publicity clock stopped and is not listed. The public gets nothing."""
    viewer = as_principal(viewer)
    if viewer.is_public:
        return []
    rulebook = load_rulebook()
    cal = _calendar(rulebook)
    out: list[dict[str, Any]] = []
    with db.reader() as s:
        rows = s.execute(select(ApprovalCase, Parcel.code, Parcel.county_id, Parcel.zone_id)
                         .join(Parcel, Parcel.id == ApprovalCase.parcel_id)
                         .where(ApprovalCase.state == ap.CaseState.OPEN.value, _scope(viewer))
                         .order_by(ApprovalCase.id)).all()
        events: dict[int, list[ApprovalEvent]] = {}
        if rows:
            for e in s.scalars(select(ApprovalEvent).where(ApprovalEvent.case_id.in_([r[0].id for r in rows]))
                               .order_by(ApprovalEvent.id)):
                events.setdefault(e.case_id, []).append(e)
        for case, code, county_id, zone_id in rows:
            status = ap.replay(case.track, _domain_events(events.get(case.id, [])), cal, rulebook, as_of)
            for st in status.steps:
                if not st.is_open or (st.due is None and not st.calendar_problem):
                    continue
                what = "公示期满" if st.step.period else "办理期限"
                out.append({
                    "parcel_code": code, "county_id": county_id, "zone_id": zone_id,
                    "kind": f"approval:{st.step.key}",
                    "label": f"{ap.Track(case.track).label}：{st.step.name}{what}（{st.step.start_label} {st.start}，"
                             f"{st.limit} 个工作日）",
                    "due": st.due, "basis": st.step.basis, "consequence": st.step.consequence,
                    "case_id": case.id, "track": case.track, "start": st.start, "status": st.status,
                    "calendar_problem": st.calendar_problem,
                })
    return out
