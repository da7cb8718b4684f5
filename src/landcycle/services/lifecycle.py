"""Lifecycle transitions of parcels (issue 7): what a caller may do next, and doing it.

The table and its guards are ``domain.lifecycle``; this module reads the stored facts the
guards need, checks the caller's scope and role, and writes a step in one transaction: the
parcel's new state through the ORM (so the change log, 一地一档, records it with actor and
reason) and a ``parcel_transitions`` row with the documents. A stale version is refused with
409 and the attempt filed, as for every versioned edit (``audit.guarded_update``).

Data loads (imports, the demo generator) still set states directly: they record what already
happened and are not workflow steps. Direct edits of ``state`` through ``PATCH
/api/parcels/{code}`` are refused (``registry.update_parcel``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import lifecycle as lc
from ..domain.access import Action, Principal, as_principal
from ..domain.errors import Forbidden, Problem, Unauthorized, ValidationFailed
from ..domain.rules.rulebook import Rulebook
from ..domain.vocabulary import IdleNoticeKind, LandState
from ..storage.db import Database
from ..storage.lifecycle_schema import ParcelTransition
from ..storage.supervision_schema import ExitCase, IdleNotice
from ..storage.schema import Parcel, ParcelDevelopment, PerformanceAgreement, SupplyContract
from . import access, audit, registry, standard_supply


#: The day steps are checked on (北京时间, ``audit.local_today``).
today = audit.local_today


def parcel_facts(s: Session, p: Parcel, as_of: date) -> lc.ParcelFacts:
    """The stored facts the guards read: the parcel, its latest contract (and that contract's
    履约监管协议), its development record and its earlier transitions."""
    contract = s.scalar(select(SupplyContract).where(SupplyContract.parcel_id == p.id)
                        .order_by(SupplyContract.signed_date.desc(), SupplyContract.id.desc()).limit(1))
    agreement = s.scalar(select(PerformanceAgreement).where(PerformanceAgreement.parcel_id == p.id)
                         .order_by(PerformanceAgreement.signed_date.desc(), PerformanceAgreement.id.desc()).limit(1))
    dev = s.scalar(select(ParcelDevelopment).where(ParcelDevelopment.parcel_id == p.id))
    steps = s.scalars(select(ParcelTransition).where(ParcelTransition.parcel_id == p.id)
                      .order_by(ParcelTransition.at, ParcelTransition.id)).all()
    into_rectifying = [t for t in steps if t.to_state == LandState.RECTIFYING.value]
    rectifying_since = None
    if p.state == LandState.RECTIFYING.value and into_rectifying:
        rectifying_since = audit.as_utc(into_rectifying[-1].at).astimezone(audit.LOCAL_TZ).date()
    # R3 measures from the agreed start: the agreement's for the latest contract, else the contract's.
    agreed_start = None
    if contract is not None:
        agreed_start = contract.agreed_start_date
        if agreement is not None and agreement.contract_id == contract.id:
            agreed_start = agreement.agreed_start_date
    return lc.ParcelFacts(
        code=p.code, state=p.state, as_of=as_of, area_m2=p.area_m2, area_mu=p.area_mu, land_use=p.land_use,
        plot_ratio_min=p.plot_ratio_min, plot_ratio_max=p.plot_ratio_max, is_standard_land=bool(p.is_standard_land),
        inefficiency_categories=tuple(p.inefficiency_categories or ()),
        has_contract=contract is not None, contract_forbids_split=bool(contract and contract.forbids_split),
        has_agreement=agreement is not None, agreed_start_date=agreed_start,
        land_price_wan=contract.price_wan if contract is not None else p.price_wan,
        has_development=dev is not None,
        actual_start_date=dev.actual_start_date if dev else None,
        stopped_since=dev.stopped_since if dev else None,
        developed_area_m2=dev.developed_area_m2 if dev else None,
        investment_done_wan=dev.investment_done_wan if dev else None,
        investment_total_wan=dev.investment_total_wan if dev else None,
        completion_result=dev.completion_result if dev else "pending",
        completion_date=dev.completion_date if dev else None,
        production_result=dev.production_result if dev else "pending",
        production_date=dev.production_date if dev else None,
        rectifying_since=rectifying_since,
        recorded_documents=_recorded_documents(s, p, steps),
        has_buyback_agreement=contract is not None and s.scalar(
            select(ExitCase.id).where(ExitCase.parcel_id == p.id, ExitCase.contract_id == contract.id,
                                      ExitCase.buyback_number.is_not(None)).limit(1)) is not None,
        **_standard_supply_facts(s, p, contract, agreement),
    )


def _recorded_documents(s: Session, p: Parcel, steps) -> frozenset[str]:
    """Document kinds on file for the parcel: those its steps carried, plus a government-caused
    delay recorded through supervision's idle notices (闲置土地处置办法第八条) — one finding,
    whichever way it was filed."""
    kinds = {d.get("kind") for t in steps for d in (t.documents or [])}
    delay = s.scalar(select(IdleNotice.id).where(IdleNotice.parcel_id == p.id,
                                                 IdleNotice.kind == IdleNoticeKind.GOVERNMENT_DELAY.value).limit(1))
    if delay is not None:
        kinds.add("government_delay_finding")
    return frozenset(kinds)


def _standard_supply_facts(s: Session, p: Parcel, contract, agreement) -> dict[str, Any]:
    """The 标准地 facts of the ``supply`` guard (read only for parcels marked 标准地)."""
    if not p.is_standard_land:
        return {}
    return {"assessments": tuple(standard_supply.parcel_assessments(s, p)),
            "approved_plan": standard_supply.approved_plan(s, p),
            "sale_terms": standard_supply.sale_terms(s, contract, agreement)}


def transition_view(t: ParcelTransition, full: bool = True, documents: bool = True) -> dict[str, Any]:
    """One recorded step as readers see it (``full`` False: without the official's name;
    ``documents`` False: without the documents' titles and numbers, only their kinds)."""
    step = lc.BY_KEY.get(t.transition)
    at = audit.as_utc(t.at)
    return {
        "id": t.id, "transition": t.transition, "name": step.name if step else t.transition,
        "from_state": t.from_state, "from_label": _label(t.from_state),
        "to_state": t.to_state, "to_label": _label(t.to_state),
        "actor": t.actor if full else "—", "at": at.isoformat() if at else None, "reason": t.reason,
        "documents": [{**(d if documents else {"kind": d.get("kind")}),
                       "kind_label": lc.DOCUMENT_KINDS.get(d.get("kind"), d.get("kind"))}
                      for d in (t.documents or [])],
        "parcel_version": t.parcel_version, "rulebook_version": t.rulebook_version,
    }


def _label(state: str) -> str:
    try:
        return LandState(state).label
    except ValueError:
        return state


def _require_reader(viewer: Principal) -> None:
    # The steps carry contract numbers and officials' names: signed-in users only (the public
    # reads the published supply list, never a parcel's file).
    if viewer.is_public:
        raise Unauthorized()
    access.require(viewer, Action.READ_PARCELS)


def allowed_transitions(db: Database, code: str, viewer: Principal | str, as_of: date | None = None
                        ) -> dict[str, Any]:
    """Where the parcel stands and what ``viewer`` may do next: every step leaving its current
    state with ``permitted`` (the viewer's role and jurisdiction allow it), ``possible`` (permitted
    and every guard on the stored facts passes — the documents come with the request) and
    ``reasons`` (Chinese, each naming its clause) when not; plus the steps taken so far."""
    viewer = as_principal(viewer)
    _require_reader(viewer)
    as_of = as_of or today()
    with db.reader() as s:
        p = registry.visible_parcel(s, code, viewer)
        rulebook = standard_supply.rulebook_for(s, p)  # county/zone overrides apply (000:962)
        facts = parcel_facts(s, p, as_of)
        may_edit = viewer.can_edit_in(p.county_id, p.zone_id, Action.EDIT_PARCELS)
        full = audit.sees_parcel_in_full(viewer, p.county_id, p.zone_id)
        # the documents' titles and numbers: for those who read the parcel's contract (its
        # jurisdiction's officials and departments, the enterprise using it), as on the card
        papers = registry.sees_ledgers(s, viewer, p)
        steps = s.scalars(select(ParcelTransition).where(ParcelTransition.parcel_id == p.id)
                          .order_by(ParcelTransition.at, ParcelTransition.id)).all()
        history = [transition_view(t, full, papers) for t in steps]
        state, version, parcel_code = p.state, p.version, p.code
    options = []
    for t in lc.transitions_from(state):
        reasons = []
        if not may_edit:
            reasons.append(f"{viewer.role.label}不能办理该宗地的生命周期流转（须为宗地所在辖区的管理部门）")
        else:
            r = lc.role_reason(t, viewer.role)
            if r:
                reasons.append(r)
        permitted = not reasons
        reasons += lc.guard_reasons(t, facts, rulebook, check_documents=False)
        options.append({**t.to_dict(), "permitted": permitted, "possible": not reasons, "reasons": reasons})
    return {"code": parcel_code, "state": state, "state_label": _label(state), "version": version,
            "as_of": as_of.isoformat(), "rulebook_version": rulebook.label,
            "transitions": options, "history": history}


def step_refusals(s: Session, p: Parcel, step: lc.Transition, document_kinds: frozenset[str], as_of: date
                  ) -> tuple[list[str], Rulebook]:
    """Why ``p`` may not take ``step`` now with documents of ``document_kinds`` (empty: it may),
    and the rulebook that decided (county/zone overrides apply, 000:962)."""
    rulebook = standard_supply.rulebook_for(s, p)
    return lc.guard_reasons(step, parcel_facts(s, p, as_of), rulebook, document_kinds), rulebook


def record_step(s: Session, p: Parcel, step: lc.Transition, docs: Iterable[lc.Document | dict[str, Any]],
                actor: str, reason: str | None, rulebook: Rulebook) -> ParcelTransition:
    """Move ``p`` to ``step``'s target and record the step (``parcel_transitions``) with its
    documents (parsed, or already as stored: kind, title, number, date), in the caller's
    transaction; the guards are the caller's to have checked."""
    before = p.state
    p.state = step.target.value
    s.flush()  # the version goes up here; the change log row is written with it
    stored = [d if isinstance(d, dict) else {"kind": d.kind, "title": d.title, "number": d.number,
                                             "date": d.date.isoformat()} for d in docs]
    row = ParcelTransition(parcel_id=p.id, transition=step.key, from_state=before, to_state=p.state, actor=actor,
                           reason=reason, documents=stored, parcel_version=p.version, rulebook_version=rulebook.label)
    s.add(row)
    s.flush()
    return row


def transition(db: Database, code: str, key: str, viewer: Principal | str, expected_version: int | None,
               reason: str | None = None, documents: Any = None, as_of: date | None = None) -> dict[str, Any]:
    """Take step ``key`` (key or Chinese name) on parcel ``code`` in one transaction.

    Refusals, nothing changed: unknown step, bad documents, wrong state, a failed guard or a
    missing document → ``ValidationFailed`` (422, field ``transition``/``documents``, every
    reason); no version → ``VersionRequired`` (428); a parcel outside the caller's view →
    NotFound (404); a role that may not edit parcels or take this step → Forbidden (403, filed
    as ``denied``); a stale version → Conflict (409, filed as ``conflict``). Returns the parcel
    (``parcel_properties``) and the recorded step.
    """
    editor = as_principal(viewer)
    if editor.is_public:
        raise Unauthorized()
    if expected_version is None:
        raise audit.VersionRequired()
    as_of = as_of or today()
    record = f"宗地 {code}"
    step = lc.find(key)
    if step is None:
        raise ValidationFailed(Problem(record, "transition", f"未知的流转“{key}”，应为："
                                       + "、".join(f"{t.name}({t.key})" for t in lc.TRANSITIONS), "unknown_transition"))
    docs, problems = lc.parse_documents(documents, record, as_of)
    if problems:
        raise ValidationFailed(problems)
    if reason is not None and len(reason) > 2000:
        raise ValidationFailed(Problem(record, "reason", "原因不能超过2000个字符"))
    out: dict[str, Any] = {}

    def authorize(s: Session, p: Parcel) -> None:
        registry.authorize_parcel_edit(s, editor, p)
        why = lc.role_reason(step, editor.role)
        if why:
            raise Forbidden(why)

    def apply(s: Session, p: Parcel) -> None:
        reasons, rulebook = step_refusals(s, p, step, frozenset(d.kind for d in docs), as_of)
        if reasons:
            raise ValidationFailed([Problem(record, "transition", f"不能办理“{step.name}”：{r}", "refused")
                                    for r in reasons])
        out["transition"] = transition_view(record_step(s, p, step, docs, editor.actor, reason, rulebook))

    parcel = audit.guarded_update(
        db, editor, what="宗地", key=code, expected_version=expected_version,
        attempted={"state": step.target.value, "transition": step.key}, reason=reason,
        load=lambda s: registry._parcel(s, code), authorize=authorize, apply=apply,
        view=registry.parcel_properties)
    return {"parcel": parcel, **out}

