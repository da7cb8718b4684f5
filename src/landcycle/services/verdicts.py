"""Reading a stored evaluation as verdicts: for one parcel or one enterprise, the rule, the
outcome, the figures, the reasons and the clause — computed with the run's own rulebook.

Verdicts carry tax and output figures, so callers need ``Action.READ_CONFIDENTIAL`` and the
subject must be theirs to read: a parcel in their jurisdiction (an enterprise account: a parcel
whose evaluated land user it is), an enterprise whose confidential data they may read
(``services.access.enterprise_condition``). Anything else is "not found".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from ..domain.access import SYSTEM, Action, Principal, Role
from ..domain.errors import NotFound
from ..domain.rules import stored_verdicts as sv
from ..storage.db import Database
from ..storage.evaluation_schema import EnterpriseEvaluation, EvaluationRun, ParcelEvaluation
from ..storage.schema import Enterprise, Parcel
from . import access
from .evaluation import run_rulebook


def _row(obj) -> dict[str, Any]:
    out = {}
    for a in inspect(type(obj)).column_attrs:
        v = getattr(obj, a.key)
        out[a.key] = v.isoformat() if hasattr(v, "isoformat") else v
    return out


def _latest(s: Session, model, key_col, key: int, run_id: int | None):
    q = select(model).where(key_col == key)
    if run_id is not None:
        q = q.where(model.run_id == run_id)
    return s.scalars(q.order_by(model.run_id.desc(), model.result_version.desc()).limit(1)).first()


def _run_info(run: EvaluationRun) -> dict[str, Any]:
    return {"run_id": run.id, "year": run.year, "as_of": run.as_of.isoformat(),
            "rulebook_version": run.rulebook_version, "inputs_fingerprint": run.inputs_fingerprint}


def parcel_verdicts(db: Database, code: str, run_id: int | None = None, *,
                    viewer: Principal = SYSTEM) -> dict[str, Any]:
    """R1, R3 and R4 verdicts of a parcel in a run (default: the newest run that holds it)."""
    access.require(viewer, Action.READ_CONFIDENTIAL)
    with db.reader() as s:
        parcel = s.scalar(select(Parcel).where(Parcel.code == code.strip().upper()))
        if parcel is None or (viewer.role is not Role.ENTERPRISE
                              and not viewer.sees_confidential_of(parcel.county_id, parcel.zone_id)):
            raise NotFound("宗地", code)
        result = _latest(s, ParcelEvaluation, ParcelEvaluation.parcel_id, parcel.id, run_id)
        if viewer.role is Role.ENTERPRISE and (result is None or result.owner_enterprise_id != viewer.enterprise_id):
            raise NotFound("宗地", code)  # an enterprise reads the verdicts of the land it uses only
        if result is None:
            raise NotFound("宗地评价结果", f"{code}（批次 {run_id if run_id is not None else '任意'}）")
        run = s.get(EvaluationRun, result.run_id)
        rulebook, row = run_rulebook(run), _row(result)
        verdicts = [sv.mu_average_verdict(row, rulebook, f"宗地 {parcel.code}"),
                    sv.idle_verdict(row, rulebook, run.as_of.isoformat()),
                    sv.low_efficiency_verdict(row, rulebook)]
        return {"subject": parcel.code, "run": _run_info(run), "result_version": result.result_version,
                "verdicts": [v.to_dict() for v in verdicts]}


def enterprise_verdicts(db: Database, credit_code: str, run_id: int | None = None, *,
                        viewer: Principal = SYSTEM) -> dict[str, Any]:
    """R1 and R2 verdicts of an enterprise in a run (its current result version)."""
    access.require(viewer, Action.READ_CONFIDENTIAL)
    with db.reader() as s:
        enterprise = s.scalar(select(Enterprise).where(Enterprise.credit_code == credit_code.strip().upper(),
                                                       access.enterprise_condition(viewer, Enterprise.id)))
        if enterprise is None:
            raise NotFound("企业", credit_code)
        result = _latest(s, EnterpriseEvaluation, EnterpriseEvaluation.enterprise_id, enterprise.id, run_id)
        if result is None:
            raise NotFound("企业评价结果", f"{credit_code}（批次 {run_id if run_id is not None else '任意'}）")
        run = s.get(EvaluationRun, result.run_id)
        rulebook, row = run_rulebook(run), _row(result)
        verdicts = [sv.mu_average_verdict(row, rulebook, f"企业 {enterprise.name}"), sv.classify_verdict(row, rulebook)]
        return {"subject": f"{enterprise.name}（{enterprise.credit_code}）", "run": _run_info(run),
                "result_version": result.result_version, "verdicts": [v.to_dict() for v in verdicts]}
