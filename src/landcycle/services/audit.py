"""The audit trail (一地一档 and per user): reading the append-only change log, and the one
guarded path by which every versioned record is edited.

Writes are recorded by ``storage.history`` (a row per insert, update and delete, with actor,
time, reason and before/after). This module adds what the database cannot see by itself:

* :func:`guarded_update` — the single edit path of every ``Versioned`` record (parcels,
  enterprises, occupancy, contracts, agreements, developments): the caller's scope is checked,
  a stale ``expected_version`` is refused with :class:`Conflict` carrying the current record,
  nothing is overwritten, and the refused attempt is itself logged (action ``conflict``) so the
  trail shows both sides of a concurrent edit (issue 5).
* reading the trail: all of it for the city, the entries of parcels in their jurisdiction for
  county admins and zone managers, one user's own entries for that user.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, TypeVar

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..domain.access import Action, Principal, Role
from ..domain.errors import Conflict, Forbidden, LandcycleError, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.labels import ENTITY_LABELS, field_label
from ..domain.records import LABELLED_FIELDS
from ..storage.account_schema import User
from ..storage.db import Database
from ..storage.history import record_refused
from ..storage.schema import Base, ChangeLog, Parcel
from . import access

#: What each change-log action means, for filters and readers.
ACTION_LABELS = {
    "create": "新建",
    "update": "修改",
    "delete": "删除",
    "conflict": "版本冲突被拒绝",
    "denied": "无权限被拒绝",
}
#: Labels of the audited tables that ``domain.labels.ENTITY_LABELS`` (the registry's) does not name.
_OTHER_ENTITY_LABELS = {"users": "账号", "evaluation_publications": "评价结果公示",
                        "evaluation_objections": "评价结果异议", "supply_list_entries": "年度可供土地清单条目",
                        "supply_lists": "年度可供土地清单版本",
                        # issue 7 workflows
                        "parcel_transitions": "生命周期流转", "approval_cases": "审批事项",
                        "approval_events": "审批事项记录", "split_applications": "分割转让申请",
                        "split_pieces": "分割地块", "parcel_lineage": "宗地分割来源",
                        "acceptance_inspections": "验收记录", "idle_notices": "闲置土地处置文书",
                        "exit_cases": "收回回购", "regional_assessments": "区域评估成果",
                        "standard_land_plans": "标准地出让方案", "notice_subscriptions": "预警订阅",
                        "warning_runs": "预警任务", "warning_notices": "预警通知", "warning_deliveries": "预警送达",
                        # issue 8
                        "plans": "工作方案", "plan_versions": "工作方案版本", "plan_tasks": "工作任务",
                        "plan_task_units": "任务责任单位", "plan_milestones": "完成时限节点",
                        "plan_progress_reports": "任务进展报告", "plan_milestone_completions": "节点完成记录",
                        "quota_runs": "增存挂钩测算", "quota_allocations": "新增用地指标分配",
                        "kaoping_rounds": "考评轮次", "kaoping_submissions": "考评自评与评分",
                        "kaoping_scores": "考评得分",
                        "oversight_cases": "挂牌督办事项", "oversight_progress": "挂牌督办进展",
                        "redevelopment_agreements": "再开发监管协议", "redevelopment_rewards": "再开发优惠",
                        "redevelopment_assessments": "再开发监管协议核查", "redevelopment_clawbacks": "优惠追缴",
                        "disposal_entries": "处置台账", "disposal_reports": "处置台账进展报告"}
#: Fields the trail can be sorted by.
SORT_FIELDS = ("at", "actor", "entity", "action", "id")
#: A time given without a zone is 北京时间 (the platform's users are all in UTC+8).
LOCAL_TZ = timezone(timedelta(hours=8))


def local_today() -> date:
    """Today in 北京时间 (the platform's users are all in UTC+8, as the audit trail reads times),
    not the server's clock zone: the day deadlines and workflow steps are checked on."""
    return datetime.now(LOCAL_TZ).date()

T = TypeVar("T")


def entity_labels() -> dict[str, str]:
    """Every audited table (``__audited__`` models) with its Chinese label."""
    tables = sorted(m.class_.__tablename__ for m in Base.registry.mappers if getattr(m.class_, "__audited__", False))
    return {t: entity_label(t) for t in tables}


def entity_label(table: str) -> str:
    return ENTITY_LABELS.get(table) or _OTHER_ENTITY_LABELS.get(table, table)


class VersionRequired(LandcycleError):
    """An edit came without the version it was based on (HTTP 428): without it a write could
    silently overwrite someone else's change."""

    code = "version_required"

    def __init__(self, message: str = "修改已有记录必须提供所依据的版本号：请求头 If-Match: \"<版本>\" 或请求体中的 version"):
        super().__init__(message)


# --------------------------------------------------------------------------- guarded edits
def check_version(s: Session, obj: T, expected_version: int, what: str, key: str,
                  view: Callable[[Session, T], dict[str, Any]]) -> None:
    """Raise :class:`Conflict` carrying ``view`` of the current record unless ``obj`` is still
    at ``expected_version``."""
    if obj.version != expected_version:
        raise Conflict(what, key, expected_version, view(s, obj))


def log_refused(db: Database, editor: Principal, reason: str | None, load: Callable[[Session], Any],
                attempted: dict[str, Any], expected_version: int, current: dict[str, Any] | None,
                action: str = "conflict", view: Callable[[Session, Any], dict[str, Any]] | None = None) -> None:
    """Append a refused edit of the record ``load`` finds — ``conflict`` (stale version) or
    ``denied`` (no right) — with what was attempted (and the version it was based on) as
    ``after`` and the record as it stood (``current``, else ``view`` of it) as ``before``.
    Its own transaction: the refused one has been rolled back."""
    with db.transaction(actor=editor.actor, reason=reason) as s:
        try:
            obj = load(s)
        except NotFound:  # deleted meanwhile: nothing left to file the attempt under
            return
        if current is None and view is not None:
            current = view(s, obj)
        record_refused(s, action, obj, {**attempted, "version": expected_version}, current)


def guarded_update(db: Database, editor: Principal, *, what: str, key: str, expected_version: int,
                   attempted: dict[str, Any], load: Callable[[Session], T],
                   authorize: Callable[[Session, T], None], apply: Callable[[Session, T], None],
                   view: Callable[[Session, T], dict[str, Any]], reason: str | None = None) -> dict[str, Any]:
    """Edit one versioned record if nobody changed it since ``expected_version``; returns
    ``view`` of the record after the edit.

    ``load`` finds the record (NotFound if it does not exist), ``authorize`` refuses a caller
    outside its scope (NotFound) or without the right (Forbidden), ``apply`` validates and sets
    the changes (ValidationFailed: nothing written). A stale version — seen when reading, or
    when another transaction commits between our read and our write (the ORM's
    ``version_id_col`` makes that UPDATE match no row) — raises :class:`Conflict` with the
    current record; the attempt is logged (:func:`log_refused`) and nothing is overwritten. A
    caller refused for want of the right (Forbidden) is logged as ``denied`` the same way.
    """
    if editor.is_public:  # the public never writes: ask to sign in before revealing anything
        raise Unauthorized()
    try:
        with db.transaction(actor=editor.actor, reason=reason) as s:
            try:
                obj = load(s)
                authorize(s, obj)
            except NotFound:
                # One answer whether the record is missing or outside the caller's view.
                raise NotFound(what, key) from None
            check_version(s, obj, expected_version, what, key, view)
            apply(s, obj)
            s.flush()
            return view(s, obj)
    except Forbidden:
        # Visible to the caller but not theirs to change: the attempt goes on file too.
        log_refused(db, editor, reason, load, attempted, expected_version, None, action="denied", view=view)
        raise
    except StaleDataError:
        with db.reader() as s:
            conflict = Conflict(what, key, expected_version, view(s, load(s)))
    except Conflict as exc:
        conflict = exc
    log_refused(db, editor, reason, load, attempted, expected_version, conflict.current)
    raise conflict


# --------------------------------------------------------------------------- entries
def change_summary(action: str, entity: str, before: dict | None, after: dict | None) -> str:
    """A one-line Chinese description of a change-log row."""
    what = entity_label(entity)
    if action == "create":
        return f"新建{what}"
    if action == "delete":
        return f"删除{what}"
    parts = []
    for k in (after or {}):
        if k == "version":
            continue
        parts.append(f"{field_label(k)}：{_show(k, (before or {}).get(k))} → {_show(k, after[k])}")
    verb = {"conflict": f"修改{what}被拒绝（版本冲突，提交版本 {(after or {}).get('version')}）",
            "denied": f"修改{what}被拒绝（无权限）"}.get(action, f"修改{what}")
    return f"{verb}：" + "；".join(parts) if parts else verb


def _show(field: str, value) -> str:
    if value is None:
        return "（空）"
    if field == "geometry":
        return "（图形）"
    enum = LABELLED_FIELDS.get(field)
    if enum is not None:
        try:
            return enum(value).label
        except ValueError:
            return str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "（无）"
    return str(value)


def as_utc(t: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC.
    return t if t is None or t.tzinfo else t.replace(tzinfo=timezone.utc)


def entry_view(r: ChangeLog, parcel_code: str | None = None) -> dict[str, Any]:
    """One change-log row as readers see it (times in UTC, ISO 8601)."""
    if parcel_code is None and r.entity == "parcels":  # a deleted parcel: its code is in the row
        parcel_code = (r.before or r.after or {}).get("code")
    at = as_utc(r.at)
    return {
        "id": r.id,
        "at": at.isoformat() if at else None,
        "actor": r.actor,
        "action": r.action,
        "action_label": ACTION_LABELS.get(r.action, r.action),
        "entity": r.entity,
        "entity_label": entity_label(r.entity),
        "entity_id": r.entity_id,
        "parcel_code": parcel_code,
        "reason": r.reason,
        "summary": change_summary(r.action, r.entity, r.before, r.after),
        "before": r.before,
        "after": r.after,
    }


def sees_parcel_in_full(viewer: Principal, county_id: int | None, zone_id: int | None) -> bool:
    """Whether ``viewer`` reads a parcel's record in full — who changed it, the values
    before/after, the contract terms: the officials and departments of its jurisdiction.
    Everyone else who may see the parcel reads the archive as what changed and when (officials'
    names and the values, which may be confidential, hidden)."""
    return viewer.role is not Role.ENTERPRISE and viewer.sees_confidential_of(county_id, zone_id)


def masked(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry without the official's name and the before/after values."""
    return {**entry, "actor": "—", "before": None, "after": None}


def query_entries(s: Session, where: ColumnElement[bool], sort: list[tuple[str, bool]],
                  limit: int | None, offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of change-log entries matching ``where`` (a condition on ``ChangeLog``), each with
    its parcel's code, and how many match (``limit`` None: all of them)."""
    total = s.scalar(select(func.count()).select_from(ChangeLog).where(where))
    order = []
    for name, desc in sort or [("at", True)]:
        col = getattr(ChangeLog, name)
        order.append(col.desc() if desc else col.asc())
    # ties (rows of one transaction share a time) keep the order they were written in
    last_desc = (sort or [("at", True)])[0][1]
    order.append(ChangeLog.id.desc() if last_desc else ChangeLog.id.asc())
    # Sort and page the ids alone, then fetch those rows: sorting whole rows (before/after
    # hold full geometries as WKT) is what makes a page of a large trail slow.
    ids = s.scalars(select(ChangeLog.id).where(where).order_by(*order).limit(limit).offset(offset or None)).all()
    rows = {r.id: (r, code) for r, code in s.execute(
        select(ChangeLog, Parcel.code).outerjoin(Parcel, Parcel.id == ChangeLog.parcel_id)
        .where(ChangeLog.id.in_(ids)))} if ids else {}
    return [entry_view(*rows[i]) for i in ids], total


# --------------------------------------------------------------------------- filters
def _parse_choice(value: str, choices: dict[str, str], field: str, what: str) -> str:
    v = value.strip()
    for key, label in choices.items():
        if v in (key, label):
            return key
    allowed = "、".join(f"{label}({key})" for key, label in choices.items())
    raise ValidationFailed(Problem("查询", field, f"未知的{what}“{v}”，应为：{allowed}"))


def to_utc(t: datetime) -> datetime:
    """A query time in UTC; a time without a zone is read as 北京时间 (UTC+8)."""
    return (t if t.tzinfo else t.replace(tzinfo=LOCAL_TZ)).astimezone(timezone.utc)


def _filters(actor: str | None, entity: str | None, action: str | None, parcel: str | None,
             since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    conds = []
    for field, value in (("actor", actor), ("entity", entity), ("action", action), ("parcel", parcel)):
        if value is not None and "\x00" in value:
            raise ValidationFailed(Problem("查询", field, "不能含有空字符"))
    if actor:
        conds.append(ChangeLog.actor == actor.strip())
    if entity:
        conds.append(ChangeLog.entity == _parse_choice(entity, entity_labels(), "entity", "对象类型"))
    if action:
        conds.append(ChangeLog.action == _parse_choice(action, ACTION_LABELS, "action", "操作"))
    if parcel:
        conds.append(ChangeLog.parcel_id.in_(select(Parcel.id).where(Parcel.code == parcel.strip().upper())))
    if since is not None and until is not None and to_utc(since) > to_utc(until):
        raise ValidationFailed(Problem("查询", "since", "起始时间晚于截止时间"))
    if since is not None:
        conds.append(ChangeLog.at >= to_utc(since))
    if until is not None:
        conds.append(ChangeLog.at <= to_utc(until))
    return conds


def _scope(viewer: Principal) -> ColumnElement[bool]:
    """Entries ``viewer`` may read in the audit trail: all (city level) or those of parcels in
    the viewer's jurisdiction. Entries with no parcel (enterprises, figures, accounts) are
    city-level business."""
    access.require(viewer, Action.READ_AUDIT)
    if viewer.everywhere:
        return true()
    return ChangeLog.parcel_id.in_(select(Parcel.id).where(access.parcel_condition(viewer)))


def audit_page(db: Database, *, viewer: Principal, actor: str | None = None, entity: str | None = None,
               action: str | None = None, parcel: str | None = None, since: datetime | None = None,
               until: datetime | None = None, sort: list[tuple[str, bool]] | None = None,
               limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of the audit trail as ``viewer`` may read it (newest first unless ``sort``
    says otherwise), with the number of matching entries.

    Filters: ``actor`` (exact user name), ``entity`` (table name or Chinese label, e.g.
    宗地), ``action`` (create/update/delete/conflict/denied or label), ``parcel`` (宗地代码),
    ``since``/``until`` (inclusive; a time without a zone is 北京时间).
    """
    where = and_(_scope(viewer), *_filters(actor, entity, action, parcel, since, until))
    with db.reader() as s:
        return query_entries(s, where, sort or [("at", True)], limit, offset)


def audit_entry(db: Database, entry_id: int, *, viewer: Principal) -> dict[str, Any]:
    """One entry of the audit trail, if ``viewer`` may read it (else NotFound)."""
    with db.reader() as s:
        items, _ = query_entries(s, and_(_scope(viewer), ChangeLog.id == entry_id), [("id", False)], 1, 0)
    if not items:
        raise NotFound("审计记录", str(entry_id))
    return items[0]


def user_audit_page(db: Database, username: str, *, viewer: Principal, entity: str | None = None,
                    action: str | None = None, parcel: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, sort: list[tuple[str, bool]] | None = None,
                    limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The entries written by one user: for the city administrator, or for the user themself."""
    if viewer.is_public:
        access.require(viewer, Action.READ_AUDIT)  # 401
    if viewer.username != username and viewer.role is not Role.CITY_ADMIN:
        raise Forbidden("只能查看本人的操作记录")
    where = and_(*_filters(username, entity, action, parcel, since, until))
    with db.reader() as s:
        if viewer.username != username and not s.scalar(select(User.id).where(User.username == username)) \
                and not s.scalar(select(ChangeLog.id).where(ChangeLog.actor == username).limit(1)):
            raise NotFound("用户", username)
        return query_entries(s, where, sort or [("at", True)], limit, offset)
