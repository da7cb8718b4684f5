"""A parcel's life in one answer (issue 7, "done when"): where it stands, what is due next and by
when, what happens if it is missed, and every step that led there.

Nothing is decided here: each part comes from the service that owns it — the state machine and
its steps (``lifecycle``), the contract deadlines, R3 points, rectification end, acceptances
and the 达产复验 restriction (``supervision``), the 告知承诺制 approval clocks (``approvals``),
分割转让 applications (``split_applications``) and, for a 标准地 not yet sold, its 区域评估 and
出让方案 (``standard_supply``). A part the caller may not read is left out (``parts`` says which
are present), so the answer never shows more than the parts' own endpoints would.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..domain.access import Principal, as_principal
from ..domain.errors import Forbidden, NotFound, Unauthorized
from ..domain.vocabulary import LandState
from ..storage.db import Database
from . import approvals, lifecycle, split_applications, standard_supply, supervision

#: States before the sale, when a 标准地's 区域评估 and 出让方案 are what is due.
_BEFORE_SALE = {LandState.RESERVE.value, LandState.APPROVED_UNSUPPLIED.value, LandState.LISTED.value}
#: Approval step statuses whose working-day clock runs (``domain.approvals.STATUS_LABELS``).
_APPROVAL_RUNNING = {"running", "publicising", "overdue"}
#: How a due item stands, in the order they are listed.
_ORDER = {"overdue": 0, "open": 1}


def _part(fn, *args, **kwargs) -> dict[str, Any] | None:
    """One part, or None when the caller may not read it."""
    try:
        return fn(*args, **kwargs)
    except (Forbidden, NotFound, Unauthorized):
        return None


def _due_items(sup: dict[str, Any] | None, cases: dict[str, Any] | None, as_of: date) -> list[dict[str, Any]]:
    """Every open or overdue deadline of the parcel, overdue first, then soonest, in one shape:
    source, kind, label, due (ISO date), days_left, status (open / overdue), basis, consequence."""
    out = []
    for d in (sup or {}).get("deadlines", []):
        if d["status"] in ("open", "overdue"):
            out.append({"source": "supervision", "kind": d["kind"], "label": d["label"], "due": d["due"],
                        "days_left": d["days_left"], "status": d["status"], "status_label": d["status_label"],
                        "basis": d["basis"], "consequence": d["consequence"]})
    for case in (cases or {}).get("cases", []):
        for st in case["steps"]:
            # a running clock: started, not done, with a due day (approvals' own statuses)
            if st["status"] not in _APPROVAL_RUNNING or not st["due_date"]:
                continue
            due = date.fromisoformat(st["due_date"])
            overdue = st["status"] == "overdue"
            out.append({"source": "approvals", "kind": f"approval:{st['key']}",
                        "label": f"{case['track_label']}：{st['name']}", "due": st["due_date"],
                        "days_left": (due - as_of).days, "status": "overdue" if overdue else "open",
                        "status_label": st["status_label"], "basis": st["basis"],
                        "consequence": st["consequence"]})
    return sorted(out, key=lambda d: (_ORDER.get(d["status"], 2), d["due"]))


def life(db: Database, code: str, viewer: Principal | str, as_of: date | None = None) -> dict[str, Any]:
    """Where parcel ``code`` stands in its life on ``as_of`` (default today, 北京时间), for ``viewer``:
    ``state``; ``due`` (open and overdue deadlines, soonest first, each with its clause and what
    follows if missed) and ``next_due``; ``next_steps`` (the lifecycle steps leaving the state,
    whether possible now and why not); ``restriction`` (达产复验 restriction); ``history`` (every
    step taken, with documents); and the parts it was built from. Signed-in users who may read
    the parcel (NotFound otherwise)."""
    viewer = as_principal(viewer)
    as_of = as_of or lifecycle.today()
    base = lifecycle.allowed_transitions(db, code, viewer, as_of)
    sup = _part(supervision.supervision, db, code, viewer, as_of)
    cases = _part(approvals.list_cases, db, code, viewer, as_of)
    splits = _part(split_applications.list_applications, db, code, viewer)
    plan = None
    if base["state"] in _BEFORE_SALE:
        plan = _part(standard_supply.plan_view, db, code, viewer, as_of)
        if plan is not None and not plan["is_standard_land"]:
            plan = None
    due = _due_items(sup, cases, as_of)
    upcoming = [d for d in due if d["status"] == "open"]
    return {
        "code": base["code"], "state": base["state"], "state_label": base["state_label"],
        "version": base["version"], "as_of": as_of.isoformat(), "rulebook_version": base["rulebook_version"],
        "due": due, "next_due": upcoming[0] if upcoming else None,
        "overdue": [d for d in due if d["status"] == "overdue"],
        "next_steps": base["transitions"],
        "restriction": sup.get("restrictions") if sup else None,
        "history": base["history"],
        "standard_land": plan,
        "approvals": cases["cases"] if cases else None,
        "split_applications": splits["items"] if splits else None,
        "parts": [name for name, part in (("supervision", sup), ("approvals", cases), ("split_applications", splits),
                                          ("standard_land", plan)) if part is not None],
    }
