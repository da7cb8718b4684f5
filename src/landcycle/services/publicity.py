"""公示 of an annual evaluation (DOMAIN.md R2): publish a run with an objection window in
working days, record objections, decide them. An upheld objection writes a NEW result
version (``result_version`` + 1, ``supersedes_id`` → the original); the original stays.

Who may (issue 5): publishing and deciding need ``Action.RUN_EVALUATION`` (the city admin); an
enterprise account files objections for itself only, officials (``Action.EDIT_ENTERPRISES``)
for enterprises in their jurisdiction (others: not found); objections are listed to callers
who may read the enterprise's confidential data. Services also accept a plain actor name
(CLI, jobs), which acts with system rights.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.orm import Session

from ..domain.access import SYSTEM, Action, Principal, Role, as_principal
from ..domain.errors import Forbidden, NotFound, Problem, ValidationFailed
from ..domain.rules.workdays import CalendarUnknown, WorkdayCalendar
from ..storage.db import Database
from . import access
from .evaluation import run_rulebook
from ..storage.evaluation_schema import EnterpriseEvaluation, EvaluationRun
from ..storage.publicity_schema import EvaluationObjection, EvaluationPublication
from ..storage.schema import Enterprise

STATUS_LABELS = {"pending": "待处理", "upheld": "异议成立", "rejected": "异议不成立"}
CLASSES = ("A", "B", "C")


@dataclass(frozen=True)
class Publication:
    run_id: int
    published_on: date
    window_workdays: int
    objection_deadline: date


def _get_run(s: Session, run_id: int) -> EvaluationRun:
    run = s.get(EvaluationRun, run_id)
    if run is None:
        raise NotFound("评价批次", str(run_id))
    return run


def publish(db: Database, run_id: int, published_on: date, actor: Principal | str) -> Publication:
    """Put a run out for 公示; the objection deadline is N working days after publication
    (N = the run's rulebook ``evaluation.objection_window_workdays``)."""
    principal = as_principal(actor)
    access.require(principal, Action.RUN_EVALUATION)
    actor = principal.actor
    with db.transaction(actor=actor, reason=f"评价批次 {run_id} 公示") as s:
        run = _get_run(s, run_id)
        if s.scalar(select(EvaluationPublication.id).where(EvaluationPublication.run_id == run_id)):
            raise ValidationFailed(Problem(f"评价批次 {run_id}", "run_id", "该批次已经公示", "already_published"))
        rulebook = run_rulebook(run)
        window = int(rulebook.section("evaluation")["objection_window_workdays"])
        try:
            deadline = WorkdayCalendar.from_rulebook(rulebook).add_workdays(published_on, window)
        except CalendarUnknown as exc:
            raise ValidationFailed(Problem(f"评价批次 {run_id}", "published_on", str(exc), "calendar_unknown")) from None
        s.add(EvaluationPublication(run_id=run_id, published_on=published_on, window_workdays=window,
                                    objection_deadline=deadline, published_by=actor))
    return Publication(run_id, published_on, window, deadline)


def _current_result(s: Session, run_id: int, enterprise_id: int) -> EnterpriseEvaluation | None:
    return s.scalar(select(EnterpriseEvaluation).where(
        EnterpriseEvaluation.run_id == run_id, EnterpriseEvaluation.enterprise_id == enterprise_id)
        .order_by(EnterpriseEvaluation.result_version.desc()).limit(1))


def file_objection(db: Database, run_id: int, credit_code: str | None, reason: str, filed_on: date,
                   actor: Principal | str) -> int:
    """Record an enterprise's objection to its published result; refused outside the window.

    An enterprise account files for itself (``credit_code`` may be omitted); an official for an
    enterprise in its jurisdiction (one outside it is not found)."""
    principal = as_principal(actor)
    if principal.role is Role.ENTERPRISE:
        with db.reader() as s:
            own = s.scalar(select(Enterprise.credit_code).where(Enterprise.id == principal.enterprise_id))
        if own is None:
            raise Forbidden("该企业账号未关联已登记的企业")
        if credit_code and credit_code.strip().upper() != own:
            raise Forbidden("企业账号只能对本企业的评价结果提出异议")
        credit_code = own
    else:
        access.require(principal, Action.EDIT_ENTERPRISES)
    credit_code = (credit_code or "").strip().upper()
    actor = principal.actor
    record = f"评价批次 {run_id} 的异议（{credit_code}）"
    with db.transaction(actor=actor, reason="提出公示异议") as s:
        _get_run(s, run_id)
        if not principal.everywhere and principal.role is not Role.ENTERPRISE and not s.scalar(
                select(Enterprise.id).where(Enterprise.credit_code == credit_code,
                                            access.enterprise_condition(principal, Enterprise.id))):
            raise NotFound("企业", credit_code)  # outside the jurisdiction: existence not revealed
        pub = s.scalar(select(EvaluationPublication).where(EvaluationPublication.run_id == run_id))
        problems = []
        if pub is None:
            problems.append(Problem(record, "run_id", "该批次尚未公示，不能提出异议", "not_published"))
        elif not pub.published_on <= filed_on <= pub.objection_deadline:
            problems.append(Problem(record, "filed_on",
                                    f"异议期为 {pub.published_on} 之后至 {pub.objection_deadline}（{pub.window_workdays}个工作日），"
                                    f"{filed_on} 不在异议期内", "outside_window"))
        if not (reason or "").strip():
            problems.append(Problem(record, "reason", "必须写明异议理由"))
        enterprise = s.scalar(select(Enterprise).where(Enterprise.credit_code == credit_code))
        result = _current_result(s, run_id, enterprise.id) if enterprise else None
        if enterprise is None:
            problems.append(Problem(record, "enterprise", f"企业 {credit_code} 未登记", "unknown_enterprise"))
        elif result is None:
            problems.append(Problem(record, "enterprise", "该企业不在本批次评价结果中", "no_result"))
        if problems:
            raise ValidationFailed(problems)
        objection = EvaluationObjection(run_id=run_id, enterprise_id=enterprise.id, result_id=result.id,
                                        filed_on=filed_on, filed_by=actor, reason=reason.strip())
        s.add(objection)
        s.flush()
        return objection.id


def decide_objection(db: Database, objection_id: int, upheld: bool, decision_reason: str, decided_on: date,
                     actor: Principal | str, revised_class: str | None = None) -> dict[str, Any]:
    """Decide an objection. Upheld: a new result version with ``revised_class`` is written and
    becomes current; the original row is untouched. Rejected: results unchanged."""
    principal = as_principal(actor)
    access.require(principal, Action.RUN_EVALUATION)
    actor = principal.actor
    record = f"异议 {objection_id}"
    with db.transaction(actor=actor, reason=f"处理公示异议 {objection_id}") as s:
        objection = s.get(EvaluationObjection, objection_id)
        if objection is None:
            raise NotFound("公示异议", str(objection_id))
        problems = []
        if objection.status != "pending":
            problems.append(Problem(record, "status", f"该异议已处理（{STATUS_LABELS[objection.status]}）", "already_decided"))
        if not (decision_reason or "").strip():
            problems.append(Problem(record, "decision_reason", "必须写明处理理由"))
        if upheld and revised_class not in CLASSES:
            problems.append(Problem(record, "revised_class", f"异议成立时须给出改定的类别（{'/'.join(CLASSES)}）"))
        if not upheld and revised_class is not None:
            problems.append(Problem(record, "revised_class", "异议不成立时不能改定类别"))
        if decided_on < objection.filed_on:
            problems.append(Problem(record, "decided_on", "处理日期早于提出日期"))
        if problems:
            raise ValidationFailed(problems)
        objection.status = "upheld" if upheld else "rejected"
        objection.decided_on, objection.decided_by = decided_on, actor
        objection.decision_reason = decision_reason.strip()
        if upheld:
            current = _current_result(s, objection.run_id, objection.enterprise_id)
            values = {a.key: getattr(current, a.key) for a in inspect(EnterpriseEvaluation).column_attrs
                      if a.key != "id"}
            values.update(result_version=current.result_version + 1, supersedes_id=current.id,
                          result_class=revised_class, managed_as=None if current.status == "evaluated" else revised_class,
                          note=f"公示异议 {objection_id} 成立：{objection.decision_reason}")
            new_id = s.execute(insert(EnterpriseEvaluation).values(**values)).inserted_primary_key[0]
            objection.revised_result_id = new_id
        s.flush()
        return objection_view(objection)


def objection_view(o: EvaluationObjection) -> dict[str, Any]:
    return {"id": o.id, "run_id": o.run_id, "enterprise_id": o.enterprise_id, "result_id": o.result_id,
            "filed_on": o.filed_on.isoformat(), "filed_by": o.filed_by, "reason": o.reason, "status": o.status,
            "status_label": STATUS_LABELS[o.status],
            "decided_on": o.decided_on.isoformat() if o.decided_on else None, "decided_by": o.decided_by,
            "decision_reason": o.decision_reason, "revised_result_id": o.revised_result_id}


def result_history(db: Database, run_id: int, credit_code: str) -> list[dict[str, Any]]:
    """Every version of an enterprise's result in a run, oldest first (the original stays)."""
    with db.reader() as s:
        enterprise = s.scalar(select(Enterprise).where(Enterprise.credit_code == credit_code.strip().upper()))
        if enterprise is None:
            raise NotFound("企业", credit_code)
        rows = s.scalars(select(EnterpriseEvaluation).where(
            EnterpriseEvaluation.run_id == run_id, EnterpriseEvaluation.enterprise_id == enterprise.id)
            .order_by(EnterpriseEvaluation.result_version)).all()
        return [{"id": r.id, "result_version": r.result_version, "supersedes_id": r.supersedes_id,
                 "status": r.status, "score": r.score, "result_class": r.result_class, "managed_as": r.managed_as,
                 "note": r.note} for r in rows]


def publication_status(db: Database, run_id: int, *, viewer: Principal = SYSTEM) -> dict[str, Any]:
    """The run's 公示: dates and the objections ``viewer`` may see."""
    access.require(viewer, Action.READ_CONFIDENTIAL)
    visible = access.enterprise_condition(viewer, EvaluationObjection.enterprise_id)
    with db.reader() as s:
        _get_run(s, run_id)
        pub = s.scalar(select(EvaluationPublication).where(EvaluationPublication.run_id == run_id))
        objections = s.scalars(select(EvaluationObjection).where(EvaluationObjection.run_id == run_id, visible)
                               .order_by(EvaluationObjection.id)).all()
        counts = dict(s.execute(select(EvaluationObjection.status, func.count())
                                .where(EvaluationObjection.run_id == run_id, visible)
                                .group_by(EvaluationObjection.status)).all())
        return {
            "run_id": run_id,
            "published": pub is not None,
            "published_on": pub.published_on.isoformat() if pub else None,
            "window_workdays": pub.window_workdays if pub else None,
            "objection_deadline": pub.objection_deadline.isoformat() if pub else None,
            "objections": [objection_view(o) for o in objections],
            "counts": {k: counts.get(k, 0) for k in STATUS_LABELS},
        }


OBJECTION_SORT_FIELDS = ("id", "filed_on", "status")


def objections_page(db: Database, run_id: int, *, viewer: Principal, status: str | None = None,
                    limit: int = 100, offset: int = 0,
                    sort: list[tuple[str, bool]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """A page of a run's objections ``viewer`` may see (an enterprise: its own; officials: the
    enterprises of their jurisdiction), each with the enterprise's credit code and name."""
    access.require(viewer, Action.READ_CONFIDENTIAL)
    o = EvaluationObjection
    conds = [o.run_id == run_id, access.enterprise_condition(viewer, o.enterprise_id)]
    if status:
        if status not in STATUS_LABELS:
            raise ValidationFailed(Problem("查询", "status", f"状态应为 {'、'.join(STATUS_LABELS)} 之一"))
        conds.append(o.status == status)
    cols = {"id": o.id, "filed_on": o.filed_on, "status": o.status}
    order = [cols[k].desc() if d else cols[k].asc() for k, d in sort or []]
    with db.reader() as s:
        _get_run(s, run_id)
        total = s.scalar(select(func.count()).select_from(o).where(*conds))
        rows = s.execute(_with_enterprise().where(*conds).order_by(*order, o.id).limit(limit).offset(offset)).all()
        return [_named_view(*r) for r in rows], total


def get_objection(db: Database, objection_id: int, *, viewer: Principal) -> dict[str, Any]:
    """One objection with its enterprise's code and name (not found outside ``viewer``'s reach)."""
    access.require(viewer, Action.READ_CONFIDENTIAL)
    o = EvaluationObjection
    with db.reader() as s:
        row = s.execute(_with_enterprise().where(
            o.id == objection_id, access.enterprise_condition(viewer, o.enterprise_id))).first()
        if row is None:
            raise NotFound("公示异议", str(objection_id))
        return _named_view(*row)


def _with_enterprise():
    o = EvaluationObjection
    return select(o, Enterprise.credit_code, Enterprise.name).outerjoin(Enterprise, Enterprise.id == o.enterprise_id)


def _named_view(o: EvaluationObjection, credit_code: str | None, name: str | None) -> dict[str, Any]:
    return {**objection_view(o), "credit_code": credit_code, "enterprise_name": name}

