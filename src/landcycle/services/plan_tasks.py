"""Plan tasks (issue 8, item 7): load a work plan's tasks, list them with their deadlines' state
on a day, take quarterly progress reports and record milestones met.

Loading (:func:`load_plan`) checks the whole file first (``domain.plan_tasks.read_plan`` plus
the jurisdictions it names) and writes in one transaction or not at all. The same plan (same
name and issuing jurisdiction) loaded again is a new version: tasks are matched by number and
milestones by position and updated in place, so reports and completions stay attached; a
number or position no longer in the file is marked retired, never deleted; every loaded file
is kept in ``plan_versions``. Loading an identical file again changes nothing.

Who may do what (docs/plan-tasks.md):
- read: everyone signed in reads every plan, task, report and completion (government work, not
  confidential). The public reads plans, tasks, milestones and whether each is done or overdue
  (the plan is a published gazette) — not the reports' text, evidence or who filed them.
- report (quarterly progress on a task, for one of its units): the city admin for any task and
  unit; the admin of a county plan's own county for any task of that plan; a county admin or
  zone manager for a unit standing for their jurisdiction (a county admin also for the zones
  under it; "各县…"/"各产业集聚区…" collectives include every one); a department account for a
  unit its ``department`` text names (``domain.plan_tasks.department_matches``) in a plan of
  the account's own jurisdiction (a city department on the city plan, a county's on that
  county's). Enterprises never; the public must sign in.
- mark a milestone done: the city admin; the admin of a county plan's county; the 牵头单位's
  account (the officials of the jurisdiction it names, or the department it names). A
  collective lead (各县…) is many units, so only an admin closes such a milestone.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..data import DATA_DIR
from ..domain import plan_tasks as rules
from ..domain.access import Principal, Role, as_principal
from ..domain.errors import Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.vocabulary import JurisdictionKind
from ..storage.db import Database
from ..storage.plan_schema import (Plan, PlanMilestone, PlanMilestoneCompletion, PlanProgressReport, PlanTask,
                                   PlanTaskUnit, PlanVersion)
from ..storage.schema import Jurisdiction, utcnow
from . import audit, jurisdictions

today = audit.local_today

#: Suffixes dropped when a unit is resolved to a jurisdiction by name (魏都区人民政府 → 魏都区).
_SUFFIXES = ("人民政府", "政府", "管委会", "管理委员会", "管理机构")

Progress = Callable[[str, int, int], None]

#: The plan files shipped with the package (许昌 2021, 禹州 2021 draft).
SHIPPED_PLANS_DIR = DATA_DIR / "plans"


def shipped_plan_files() -> list[Path]:
    """The shipped plan files, for ``landcycle plan load`` by short name and for demo data."""
    return sorted(SHIPPED_PLANS_DIR.glob("*.toml"))


# =========================================================================== loading
def _resolve_unit(s: Session, name: str) -> Jurisdiction | None:
    """The jurisdiction a unit names, by its name or with an office suffix dropped; else None
    (a department: free text)."""
    candidates = [name] + [name[: -len(x)] for x in _SUFFIXES if name.endswith(x) and len(name) > len(x) + 1]
    for key in candidates:
        try:
            return jurisdictions.resolve(s, key)
        except ValidationFailed:
            continue
    return None


def load_plan(db: Database, source: str | Path | bytes, actor: str = "cli", file_name: str | None = None,
              progress: Progress | None = None) -> dict[str, Any]:
    """Load (or reload) the plan in ``source`` (a path, the short name of a shipped plan such as
    ``xuchang_2021``, or the file's bytes with ``file_name``).

    Every problem is reported at once as ``ValidationFailed`` (record "任务 N" or "方案", the
    field, in Chinese) and nothing is written. Returns {plan_id, name, version, created,
    unchanged, tasks, milestones, retired_tasks, jurisdiction_units}.
    """
    if isinstance(source, bytes):
        raw, file_name = source, file_name or "方案文件"
    else:
        path = Path(source)
        if not path.exists() and (SHIPPED_PLANS_DIR / f"{path.stem}.toml").exists() and path.parent == Path("."):
            path = SHIPPED_PLANS_DIR / f"{path.stem}.toml"  # a shipped plan by its short name
        file_name = file_name or path.name
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ValidationFailed(Problem(f"方案文件 {file_name}", "文件", f"无法读取：{exc.strerror or exc}", "unreadable"))
    spec = rules.read_plan(raw, file_name)
    try:
        return _write_plan(db, spec, raw, actor, file_name, progress)
    except IntegrityError:
        # another load of the same plan committed first (unique name + jurisdiction, version)
        raise ValidationFailed(Problem(f"方案《{spec.name}》", "version", "同一方案正由他人同时加载，未写入；请稍后重新加载",
                                       "concurrent_load"))


def _write_plan(db: Database, spec: rules.PlanSpec, raw: bytes, actor: str, file_name: str,
                progress: Progress | None) -> dict[str, Any]:
    """The checked plan's jurisdictions resolved and everything written in one transaction."""
    sha = hashlib.sha256(raw).hexdigest()
    tick = progress or (lambda *_: None)
    with db.transaction(actor, f"加载工作方案《{spec.name}》（{file_name}）") as s:
        problems: list[Problem] = []
        try:
            issuer = jurisdictions.resolve(s, spec.jurisdiction, record="方案", field="jurisdiction")
        except ValidationFailed as exc:
            raise ValidationFailed(exc.problems)
        if issuer.kind == JurisdictionKind.ZONE.value:
            problems.append(Problem("方案", "jurisdiction", f"发文单位应为市或县(市、区)/管委会，“{issuer.name}”是产业集聚区",
                                    "bad_issuer"))
        # the explicit unit → jurisdiction table first, then names
        mapped: dict[str, tuple[int | None, str | None]] = {}
        for unit, target in spec.unit_jurisdictions.items():
            if target in rules.COLLECTIVES:
                mapped[unit] = (None, rules.COLLECTIVES[target])
                continue
            try:
                mapped[unit] = (jurisdictions.resolve(s, target, record="方案", field=f"unit_jurisdictions.{unit}").id,
                                None)
            except ValidationFailed as exc:
                problems.extend(exc.problems)
        resolved: dict[str, tuple[int | None, str | None]] = dict(mapped)
        for t in spec.tasks:
            for u in t.units:
                if u not in resolved:
                    j = _resolve_unit(s, u)
                    resolved[u] = (j.id if j else None, None)
        if problems:
            raise ValidationFailed(problems)
        plan = s.scalar(select(Plan).where(Plan.name == spec.name, Plan.jurisdiction_id == issuer.id))
        created = plan is None
        if not created:
            last = s.scalar(select(PlanVersion).where(PlanVersion.plan_id == plan.id)
                            .order_by(PlanVersion.version.desc()).limit(1))
            if last is not None and last.sha256 == sha:
                n = s.scalar(select(func.count()).select_from(PlanTask).where(
                    PlanTask.plan_id == plan.id, PlanTask.retired_in_version.is_(None)))
                return {"plan_id": plan.id, "name": plan.name, "version": plan.version, "created": False,
                        "unchanged": True, "tasks": n, "milestones": None, "retired_tasks": 0,
                        "jurisdiction_units": None}
            plan.version += 1
            plan.updated_at = utcnow()
        else:
            plan = Plan(name=spec.name, jurisdiction_id=issuer.id, version=1)
            s.add(plan)
        plan.document, plan.issued = spec.document, spec.issued
        plan.source_seed, plan.source_lines = spec.source_seed, spec.source_lines
        s.flush()
        version = plan.version
        s.add(PlanVersion(plan_id=plan.id, version=version, file_name=file_name[:300], sha256=sha,
                          content=spec.content, task_count=len(spec.tasks), loaded_by=actor))
        existing = {t.number: t for t in s.scalars(select(PlanTask).where(PlanTask.plan_id == plan.id))}
        n_milestones = n_jur = 0
        for done, t in enumerate(spec.tasks, 1):
            row = existing.pop(t.number, None)
            values = dict(section=t.section, title=t.title, text=t.text, lead=t.lead, units_line=t.units_line,
                          lead_line=t.lead_line, deadline_line=t.deadline_line, ongoing=list(t.ongoing),
                          retired_in_version=None)
            if row is None:
                row = PlanTask(plan_id=plan.id, number=t.number, since_version=version, **values)
                s.add(row)
                s.flush()
            else:
                for k, v in values.items():
                    if getattr(row, k) != v:
                        setattr(row, k, v)
            # units carry no history of their own: the plan version's file has them
            for old in s.scalars(select(PlanTaskUnit).where(PlanTaskUnit.task_id == row.id)):
                s.delete(old)
            for pos, u in enumerate(t.units, 1):
                j_id, collective = resolved[u]
                n_jur += j_id is not None or collective is not None
                s.add(PlanTaskUnit(task_id=row.id, position=pos, name=u, is_lead=(pos == 1),
                                   jurisdiction_id=j_id, collective=collective))
            have = {m.position: m for m in s.scalars(select(PlanMilestone).where(PlanMilestone.task_id == row.id))}
            for m in t.milestones:
                n_milestones += 1
                old = have.pop(m.position, None)
                if old is None:
                    s.add(PlanMilestone(task_id=row.id, position=m.position, due=m.due, what=m.what, basis=m.basis))
                else:
                    for k, v in dict(due=m.due, what=m.what, basis=m.basis, retired_in_version=None).items():
                        if getattr(old, k) != v:
                            setattr(old, k, v)
            for gone in have.values():
                if gone.retired_in_version is None:
                    gone.retired_in_version = version
            tick("写入任务", done, len(spec.tasks))
        retired = 0
        for gone in existing.values():
            if gone.retired_in_version is None:
                gone.retired_in_version = version
                retired += 1
        return {"plan_id": plan.id, "name": plan.name, "version": version, "created": created, "unchanged": False,
                "tasks": len(spec.tasks), "milestones": n_milestones, "retired_tasks": retired,
                "jurisdiction_units": n_jur}


# =========================================================================== reading
def _jurisdiction_view(j: Jurisdiction | None) -> dict[str, Any] | None:
    return None if j is None else {"code": j.code, "name": j.name, "kind": j.kind,
                                   "kind_label": JurisdictionKind(j.kind).label}


def _plan_view(p: Plan, issuer: Jurisdiction) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "jurisdiction": _jurisdiction_view(issuer), "document": p.document,
            "issued": p.issued.isoformat() if p.issued else None,
            "source": {"seed": p.source_seed, "lines": p.source_lines}, "version": p.version}


class _Scope:
    """Which jurisdictions a unit stands for, within one plan (collectives expanded)."""

    def __init__(self, s: Session, plan: Plan):
        self.plan = plan
        rows = s.scalars(select(Jurisdiction)).all()
        self.by_id = {j.id: j for j in rows}
        issuer = self.by_id[plan.jurisdiction_id]
        if issuer.kind == JurisdictionKind.CITY.value:
            zones = {j.id for j in rows if j.kind == JurisdictionKind.ZONE.value}
            counties = {j.id for j in rows if j.parent_id == issuer.id and j.kind in (
                JurisdictionKind.COUNTY.value, JurisdictionKind.MANAGEMENT_AREA.value)}
        else:
            zones = {j.id for j in rows if j.kind == JurisdictionKind.ZONE.value and j.parent_id == issuer.id}
            counties = {issuer.id}
        self.collective = {"zones": zones, "counties": counties}

    def ids(self, u: PlanTaskUnit) -> set[int]:
        if u.collective:
            return self.collective.get(u.collective, set())
        return {u.jurisdiction_id} if u.jurisdiction_id is not None else set()


def _official_ids(viewer: Principal) -> set[int]:
    """The jurisdictions a county admin or zone manager answers for (a county admin: also its zones)."""
    if viewer.role not in (Role.COUNTY_ADMIN, Role.ZONE_MANAGER) or viewer.jurisdiction_id is None:
        return set()
    return {viewer.jurisdiction_id} | set(viewer.zone_ids)


def _is_plan_admin(viewer: Principal, plan: Plan) -> bool:
    """City admin (every plan) or the admin of the county/管委会 that issued this plan."""
    if viewer.role is Role.CITY_ADMIN:
        return True
    return viewer.role is Role.COUNTY_ADMIN and viewer.jurisdiction_id == plan.jurisdiction_id


def _may_report_for(viewer: Principal, plan: Plan, unit: PlanTaskUnit, scope: _Scope) -> bool:
    if _is_plan_admin(viewer, plan):
        return True
    if viewer.role in (Role.COUNTY_ADMIN, Role.ZONE_MANAGER):
        return bool(_official_ids(viewer) & scope.ids(unit))
    if viewer.role is Role.DEPARTMENT:
        same_level = viewer.jurisdiction_id == plan.jurisdiction_id
        return same_level and unit.jurisdiction_id is None and unit.collective is None and \
            rules.department_matches(viewer.department, unit.name)
    return False


def _may_complete(viewer: Principal, plan: Plan, lead: PlanTaskUnit | None, scope: _Scope) -> bool:
    if _is_plan_admin(viewer, plan):
        return True
    if lead is None or lead.collective:
        return False
    return _may_report_for(viewer, plan, lead, scope)


def _task_rows(s: Session, plan: Plan):
    tasks = s.scalars(select(PlanTask).where(PlanTask.plan_id == plan.id, PlanTask.retired_in_version.is_(None))
                      .order_by(PlanTask.number)).all()
    ids = [t.id for t in tasks]
    units: dict[int, list[PlanTaskUnit]] = {i: [] for i in ids}
    milestones: dict[int, list[PlanMilestone]] = {i: [] for i in ids}
    reports: dict[int, list[PlanProgressReport]] = {i: [] for i in ids}
    if ids:
        for u in s.scalars(select(PlanTaskUnit).where(PlanTaskUnit.task_id.in_(ids)).order_by(PlanTaskUnit.position)):
            units[u.task_id].append(u)
        for m in s.scalars(select(PlanMilestone).where(PlanMilestone.task_id.in_(ids),
                                                       PlanMilestone.retired_in_version.is_(None))
                           .order_by(PlanMilestone.position)):
            milestones[m.task_id].append(m)
        for r in s.scalars(select(PlanProgressReport).where(PlanProgressReport.task_id.in_(ids))
                           .order_by(PlanProgressReport.submitted_at, PlanProgressReport.id)):
            reports[r.task_id].append(r)
    m_ids = [m.id for ms in milestones.values() for m in ms]
    completions = {c.milestone_id: c for c in s.scalars(select(PlanMilestoneCompletion).where(
        PlanMilestoneCompletion.milestone_id.in_(m_ids)))} if m_ids else {}
    return tasks, units, milestones, reports, completions


def _report_view(r: PlanProgressReport) -> dict[str, Any]:
    at = audit.as_utc(r.submitted_at)
    return {"id": r.id, "task_id": r.task_id, "quarter": r.quarter, "unit": r.unit, "text": r.text,
            "status": r.status, "percent": r.percent, "attachments": list(r.attachments or []),
            "submitted_by": r.submitted_by, "submitted_at": at.isoformat() if at else None,
            "plan_version": r.plan_version}


def _task_view(viewer: Principal, plan: Plan, t: PlanTask, units: list[PlanTaskUnit], ms: list[PlanMilestone],
               reports: list[PlanProgressReport], completions: dict, scope: _Scope, as_of: date) -> dict[str, Any]:
    signed_in = not viewer.is_public
    milestones = []
    for m in ms:
        c = completions.get(m.id)
        state = rules.milestone_status(m.due, c.completed_on if c else None, as_of)
        view = {"id": m.id, "position": m.position, "due": m.due.isoformat(), "what": m.what, "basis": m.basis,
                **state, "completed_on": c.completed_on.isoformat() if c and state["done"] else None}
        if signed_in and c is not None and state["done"]:
            view["completion"] = {"evidence": c.evidence, "recorded_by": c.recorded_by,
                                  "recorded_at": audit.as_utc(c.recorded_at).isoformat()}
        milestones.append(view)
    # reports for the quarters up to ``as_of``'s (a report filed late for an earlier quarter
    # counts for that quarter)
    upto = rules.quarter_of(as_of)
    seen = [r for r in reports if r.quarter <= upto]
    lead = units[0] if units else None
    view = {
        "id": t.id, "plan_id": plan.id, "number": t.number, "section": t.section, "title": t.title, "text": t.text,
        "lead": t.lead, "lead_line": t.lead_line, "units_line": t.units_line, "deadline_line": t.deadline_line,
        "units": [{"name": u.name, "is_lead": u.is_lead,
                   "jurisdiction": _jurisdiction_view(scope.by_id.get(u.jurisdiction_id)),
                   "collective": u.collective,
                   "collective_label": rules.COLLECTIVE_LABELS.get(u.collective) if u.collective else None}
                  for u in units],
        "ongoing": list(t.ongoing or []), "milestones": milestones, "status": rules.task_status(milestones),
        "overdue": any(m["overdue"] for m in milestones),
        "days_overdue": max((m["days_overdue"] for m in milestones), default=0),
        "reported_quarters": sorted({r.quarter for r in seen}),
    }
    if signed_in:
        view["latest_report"] = _report_view(seen[-1]) if seen else None
        view["reports"] = [_report_view(r) for r in seen]
        view["may_report"] = any(_may_report_for(viewer, plan, u, scope) for u in units)
        view["may_complete"] = _may_complete(viewer, plan, lead, scope)
    return view


def list_plans(db: Database, viewer: Principal | str, as_of: date | None = None) -> list[dict[str, Any]]:
    """Every plan with its task count and how many tasks are overdue on ``as_of`` (default today)."""
    viewer = as_principal(viewer)
    as_of = as_of or today()
    with db.reader() as s:
        out = []
        for p in s.scalars(select(Plan).order_by(Plan.id)):
            scope = _Scope(s, p)
            tasks, units, ms, reports, completions = _task_rows(s, p)
            views = [_task_view(viewer, p, t, units[t.id], ms[t.id], reports[t.id], completions, scope, as_of)
                     for t in tasks]
            out.append({**_plan_view(p, scope.by_id[p.jurisdiction_id]), "as_of": as_of.isoformat(),
                        "tasks": len(views), "overdue_tasks": sum(v["overdue"] for v in views),
                        "done_tasks": sum(v["status"] == "已完成" for v in views)})
        return out


def plan_tasks(db: Database, plan_id: int, viewer: Principal | str, as_of: date | None = None, *,
               overdue: bool = False, unit: str | None = None, jurisdiction: str | None = None,
               missing_quarter: str | None = None, mine: bool = False) -> dict[str, Any]:
    """A plan's tasks with each milestone's state on ``as_of`` (default today).

    Filters: ``overdue`` only tasks with an overdue milestone; ``unit`` tasks listing a unit
    whose name contains the text; ``jurisdiction`` (code, name or alias) tasks with a unit
    standing for it (collectives included — a zone finds its own tasks); ``missing_quarter``
    (e.g. 2021Q3) tasks without any report for that quarter; ``mine`` tasks the caller may report on.
    """
    viewer = as_principal(viewer)
    as_of = as_of or today()
    if missing_quarter is not None:
        y, q = rules.parse_quarter(missing_quarter, "查询", "missing_quarter")
        missing_quarter = f"{y}Q{q}"
    if missing_quarter is not None and viewer.is_public:
        raise Unauthorized("按季度报送情况筛选须先登录")
    with db.reader() as s:
        p = s.get(Plan, plan_id)
        if p is None:
            raise NotFound("工作方案", str(plan_id))
        scope = _Scope(s, p)
        wanted = None
        if jurisdiction is not None:
            wanted = jurisdictions.resolve(s, jurisdiction, record="查询", field="jurisdiction").id
        tasks, units, ms, reports, completions = _task_rows(s, p)
        views = []
        for t in tasks:
            us = units[t.id]
            if unit and not any(unit.strip() in u.name for u in us):
                continue
            if wanted is not None and not any(wanted in scope.ids(u) for u in us):
                continue
            v = _task_view(viewer, p, t, us, ms[t.id], reports[t.id], completions, scope, as_of)
            if overdue and not v["overdue"]:
                continue
            if missing_quarter and missing_quarter in v["reported_quarters"]:
                continue
            if mine and not v.get("may_report"):
                continue
            views.append(v)
        return {"plan": _plan_view(p, scope.by_id[p.jurisdiction_id]), "as_of": as_of.isoformat(),
                "count": len(views), "tasks": views}


def overdue_tasks(db: Database, as_of: date | None = None, plan_id: int | None = None) -> list[dict[str, Any]]:
    """Every overdue milestone on ``as_of`` across plans (or one plan), most overdue first:
    {plan_id, plan, task_id, number, title, lead, milestone_id, due, what, days_overdue} — for
    the quarterly 通报 and the office's list."""
    as_of = as_of or today()
    out = []
    with db.reader() as s:
        q = select(Plan).order_by(Plan.id)
        if plan_id is not None:
            q = q.where(Plan.id == plan_id)
        for p in s.scalars(q):
            tasks, _units, ms, _reports, completions = _task_rows(s, p)
            for t in tasks:
                for m in ms[t.id]:
                    c = completions.get(m.id)
                    st = rules.milestone_status(m.due, c.completed_on if c else None, as_of)
                    if st["overdue"]:
                        out.append({"plan_id": p.id, "plan": p.name, "task_id": t.id, "number": t.number,
                                    "title": t.title, "lead": t.lead, "milestone_id": m.id,
                                    "due": m.due.isoformat(), "what": m.what, "days_overdue": st["days_overdue"]})
    out.sort(key=lambda r: (-r["days_overdue"], r["plan_id"], r["number"], r["due"]))
    return out


# =========================================================================== writing
def _load_task(s: Session, task_id: int) -> tuple[PlanTask, Plan]:
    t = s.get(PlanTask, task_id)
    if t is None or t.retired_in_version is not None:
        raise NotFound("方案任务", str(task_id))
    return t, s.get(Plan, t.plan_id)


def submit_report(db: Database, task_id: int, viewer: Principal | str, *, quarter: str, text: str,
                  unit: str | None = None, status: str | None = None, percent: int | None = None,
                  attachments: list[str] | None = None, as_of: date | None = None) -> dict[str, Any]:
    """File one quarterly progress report on a task for one of its units (append-only).

    ``unit`` defaults to the first of the task's units the caller may report for. Refusals,
    nothing written: bad quarter, a quarter not yet begun, missing text, bad status/percent or
    attachment names → 422; not signed in → 401; a role or unit the caller may not report
    for → 403; unknown task → 404.
    """
    viewer = as_principal(viewer)
    if viewer.is_public:
        raise Unauthorized()
    as_of = as_of or today()
    record = f"任务 {task_id} 进展报送"
    problems: list[Problem] = []
    try:
        y, q = rules.parse_quarter(quarter, record)
        quarter = f"{y}Q{q}"
        if quarter > rules.quarter_of(as_of):
            problems.append(Problem(record, "quarter", f"{quarter} 尚未开始（今天是 {as_of}，属于 {rules.quarter_of(as_of)}）",
                                    "future_quarter"))
    except ValidationFailed as exc:
        problems.extend(exc.problems)
    body = (text or "").strip() if isinstance(text, str) else ""
    if not body:
        problems.append(Problem(record, "text", "请填写本季度工作进展", "missing"))
    elif len(body) > 4000:
        problems.append(Problem(record, "text", "进展说明最长4000个字符", "too_long"))
    names: list[str] = []
    for i, a in enumerate(attachments or [], 1):
        if not isinstance(a, str) or not a.strip() or len(a) > 200 or any(c in a for c in "/\\\x00"):
            problems.append(Problem(record, f"attachments[{i}]", "附件只登记文件名（1–200个字符，不含路径分隔符）",
                                    "bad_attachment"))
        else:
            names.append(a.strip())
    if len(names) > 20:
        problems.append(Problem(record, "attachments", "附件最多登记20个", "too_many"))
    try:
        status, percent = rules.report_status(status, percent, record)
    except ValidationFailed as exc:
        problems.extend(exc.problems)
    if problems:
        raise ValidationFailed(problems)
    if viewer.role is Role.ENTERPRISE:
        raise Forbidden("企业账号不能报送方案任务进展")
    with db.transaction(viewer.actor, f"报送任务进展（{quarter}）") as s:
        t, plan = _load_task(s, task_id)
        scope = _Scope(s, plan)
        units = s.scalars(select(PlanTaskUnit).where(PlanTaskUnit.task_id == t.id).order_by(PlanTaskUnit.position)).all()
        record = f"任务 {t.number}（{t.title}）"
        if unit is not None:
            chosen = next((u for u in units if u.name == unit.strip()), None)
            if chosen is None:
                raise ValidationFailed(Problem(record, "unit", f"“{unit}”不是本任务的责任单位（应为："
                                               + "、".join(u.name for u in units) + "）", "unknown_unit"))
            if not _may_report_for(viewer, plan, chosen, scope):
                raise Forbidden(f"{viewer.role.label}账号不能代“{chosen.name}”报送{record}的进展")
        else:
            chosen = next((u for u in units if _may_report_for(viewer, plan, u, scope)), None)
            if chosen is None:
                raise Forbidden(f"{viewer.role.label}账号不是{record}的责任单位，不能报送进展")
        r = PlanProgressReport(task_id=t.id, quarter=quarter, unit=chosen.name, text=body, status=status,
                               percent=percent, attachments=names, submitted_by=viewer.actor,
                               plan_version=plan.version)
        s.add(r)
        s.flush()
        return _report_view(r)


def complete_milestone(db: Database, milestone_id: int, viewer: Principal | str, *, completed_on: date,
                       evidence: str, as_of: date | None = None) -> dict[str, Any]:
    """Record that a milestone was met on ``completed_on`` with ``evidence`` (append-only, once).

    Refusals, nothing written: a day after today, no evidence, already recorded → 422; not
    signed in → 401; neither an admin of the plan nor the 牵头单位's account → 403; unknown
    milestone → 404.
    """
    viewer = as_principal(viewer)
    if viewer.is_public:
        raise Unauthorized()
    as_of = as_of or today()
    record = f"任务节点 {milestone_id}"
    problems: list[Problem] = []
    if not isinstance(completed_on, date):
        problems.append(Problem(record, "completed_on", "应为日期 YYYY-MM-DD", "bad_date"))
    elif completed_on > as_of:
        problems.append(Problem(record, "completed_on", f"完成日期 {completed_on} 晚于今天（{as_of}）", "future_date"))
    body = (evidence or "").strip() if isinstance(evidence, str) else ""
    if not body:
        problems.append(Problem(record, "evidence", "请写明完成依据（文件名称、文号或成果）", "missing"))
    elif len(body) > 2000:
        problems.append(Problem(record, "evidence", "完成依据最长2000个字符", "too_long"))
    if problems:
        raise ValidationFailed(problems)
    try:
        with db.transaction(viewer.actor, "记录任务节点完成") as s:
            m = s.get(PlanMilestone, milestone_id)
            if m is None or m.retired_in_version is not None:
                raise NotFound("任务节点", str(milestone_id))
            t, plan = _load_task(s, m.task_id)
            record = f"任务 {t.number}（{t.title}）节点 {m.position}（{m.due}）"
            lead = s.scalar(select(PlanTaskUnit).where(PlanTaskUnit.task_id == t.id, PlanTaskUnit.is_lead.is_(True)))
            if not _may_complete(viewer, plan, lead, _Scope(s, plan)):
                raise Forbidden(f"只有市级管理员、方案发文县(市、区)管理员或牵头单位“{t.lead}”的账号能记录{record}完成")
            old = s.scalar(select(PlanMilestoneCompletion).where(PlanMilestoneCompletion.milestone_id == m.id))
            if old is not None:
                raise ValidationFailed(Problem(record, "milestone", f"已于 {old.completed_on} 记录完成（{old.recorded_by}），"
                                               "完成记录不能修改", "already_done"))
            c = PlanMilestoneCompletion(milestone_id=m.id, completed_on=completed_on, evidence=body,
                                        recorded_by=viewer.actor)
            s.add(c)
            s.flush()
            state = rules.milestone_status(m.due, completed_on, as_of)
            return {"milestone_id": m.id, "task_id": t.id, "number": t.number, "due": m.due.isoformat(),
                    "what": m.what, "completed_on": completed_on.isoformat(), "evidence": body,
                    "recorded_by": c.recorded_by, "late_days": state["late_days"]}
    except IntegrityError:
        # two recorders at once: the unique milestone_id lets one win
        raise ValidationFailed(Problem(record, "milestone", "该节点已记录完成，完成记录不能修改", "already_done"))
