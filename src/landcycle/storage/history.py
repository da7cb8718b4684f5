"""一地一档: every insert, update and delete of an audited record goes to the change log.

One mechanism for the whole code base: a Session ``after_flush`` hook. It reads the
attribute history SQLAlchemy keeps for each flushed object and inserts change-log rows
on the same connection, so the log commits or rolls back with the change itself.
The actor and the reason come from ``session.info`` (set by the service layer).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import event, inspect, insert
from sqlalchemy.orm import Session

from .schema import Base, ChangeLog, Parcel, utcnow

#: Columns that change on every write and say nothing to a reader of the archive.
_NOISE = {"updated_at"}

SYSTEM_ACTOR = "system"


def to_json_value(value: Any) -> Any:
    """Make a column value JSON-serialisable without losing it (geometries become WKT)."""
    if isinstance(value, BaseGeometry):
        return value.wkt
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _parcel_id_of(obj: Base) -> int | None:
    if isinstance(obj, Parcel):
        return obj.id
    return getattr(obj, "parcel_id", None)


def _full(obj: Base) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {a.key: to_json_value(getattr(obj, a.key)) for a in mapper.column_attrs if a.key not in _NOISE}


def _diff(obj: Base) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        if attr.key in _NOISE:
            continue
        hist = state.attrs[attr.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new and not isinstance(old, BaseGeometry):
            continue
        if isinstance(old, BaseGeometry) and isinstance(new, BaseGeometry) and old.equals_exact(new, 0):
            continue
        before[attr.key] = to_json_value(old)
        after[attr.key] = to_json_value(new)
    return before, after


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, flush_context) -> None:
    actor = session.info.get("actor", SYSTEM_ACTOR)
    reason = session.info.get("reason")
    now = utcnow()
    rows = []

    def row(obj, action, before, after):
        rows.append({
            "at": now, "actor": actor, "action": action, "entity": obj.__tablename__,
            "entity_id": obj.id, "parcel_id": _parcel_id_of(obj), "reason": reason,
            "before": before, "after": after,
        })

    for obj in session.new:
        if getattr(obj, "__audited__", False):
            row(obj, "create", None, _full(obj))
    for obj in session.dirty:
        if getattr(obj, "__audited__", False) and session.is_modified(obj, include_collections=False):
            before, after = _diff(obj)
            if after:
                if inspect(obj).mapper.version_id_col is not None:
                    # The mapper bumps the version itself, outside attribute history.
                    after["version"] = obj.version
                    before["version"] = obj.version - 1
                row(obj, "update", before, after)
    for obj in session.deleted:
        if getattr(obj, "__audited__", False):
            row(obj, "delete", _full(obj), None)
    if rows:
        session.connection().execute(insert(ChangeLog), rows)
