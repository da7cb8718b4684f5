"""一地一档: every insert, update and delete of an audited record goes to the change log.

One mechanism for the whole code base: a Session ``after_flush`` hook. It reads the
attribute history SQLAlchemy keeps for each flushed object and inserts change-log rows
on the same connection, so the log commits or rolls back with the change itself.
The actor and the reason come from ``session.info`` (set by the service layer).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any, Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Date, DateTime, event, inspect, insert
from sqlalchemy.orm import Session

from .schema import Base, ChangeLog, Parcel, utcnow
from .bulk import each_distinct, insert_columns
from .spatial import GeometryColumn

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


#: What the archive shows instead of a secret column's value (``__audit_secret__``).
SECRET_MARK = "（已隐藏）"


def _shown(obj: Base, key: str, value: Any) -> Any:
    # Secrets (password hashes) are never copied into the append-only log: that copy
    # could never be removed. The log still says that the secret changed.
    if key in getattr(obj, "__audit_secret__", ()):
        return SECRET_MARK if value is not None else None
    return to_json_value(value)


def _full(obj: Base) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {a.key: _shown(obj, a.key, getattr(obj, a.key)) for a in mapper.column_attrs if a.key not in _NOISE}


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
        before[attr.key] = _shown(obj, attr.key, old)
        after[attr.key] = _shown(obj, attr.key, new)
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


def record_refused(session: Session, action: str, obj: Base, attempted: dict[str, Any],
                   current: dict[str, Any] | None = None) -> None:
    """Log an attempt that was refused (``conflict``: stale version; ``denied``: no right),
    with what was attempted as ``after`` and the record as it stood as ``before`` — so the
    archive shows every attempt, not only the winners (issue 5)."""
    session.connection().execute(insert(ChangeLog), [{
        "at": utcnow(), "actor": session.info.get("actor", SYSTEM_ACTOR), "action": action,
        "entity": obj.__tablename__, "entity_id": obj.id, "parcel_id": _parcel_id_of(obj),
        "reason": session.info.get("reason"), "before": current,
        "after": {k: to_json_value(v) for k, v in attempted.items()}}])


#: Rows per INSERT of :func:`insert_with_history`.
BULK_CHUNK = 10_000


def insert_with_history(session: Session, model: type[Base], rows: list[dict[str, Any]],
                        chunk: int = BULK_CHUNK) -> None:
    """Core bulk insert of new rows of an audited model (ids set by the caller), each with the
    "create" change-log row the ``after_flush`` hook writes for an ORM insert; rows as dicts
    (see :func:`insert_columns_with_history`)."""
    if not rows:
        return
    keys = list(rows[0].keys())
    insert_columns_with_history(session, model, {k: [r[k] for r in rows] for k in keys}, chunk)


def insert_columns_with_history(session: Session, model: type[Base], columns: Mapping[str, Sequence[Any]],
                                chunk: int = BULK_CHUNK) -> None:
    """Core bulk insert of new rows of an audited model given column-wise (column name → one
    value per row; ids set by the caller), each with the "create" change-log row the
    ``after_flush`` hook writes for an ORM insert — same JSON (every column but the noisy ones,
    geometries as WKT, dates ISO), actor and reason from ``session.info``. For bulk loaders
    (imports, the demo) that cannot afford one ORM object per row."""
    n = len(columns["id"]) if columns else 0
    if not n:
        return
    conn = session.connection()
    mapped = {c.key: c for c in inspect(model).column_attrs}
    keys = [k for k in mapped if k not in _NOISE]
    missing = [k for k in keys if k not in columns]
    if missing:
        raise KeyError(f"bulk rows of {model.__tablename__} lack columns {missing}")
    now = utcnow()
    actor, reason = session.info.get("actor", SYSTEM_ACTOR), session.info.get("reason")
    entity_ids = list(columns["id"])
    parcel_ids = entity_ids if model is Parcel else list(columns.get("parcel_id") or [None] * n)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        part = {k: v[a:b] for k, v in columns.items()}
        insert_columns(conn, model.__table__, part)
        insert_columns(conn, ChangeLog.__table__, {
            "at": [now] * (b - a), "actor": [actor] * (b - a), "action": ["create"] * (b - a),
            "entity": [model.__tablename__] * (b - a), "entity_id": entity_ids[a:b],
            "parcel_id": parcel_ids[a:b], "reason": [reason] * (b - a), "before": [None] * (b - a),
            "after": _afters(mapped, keys, part)})


def _afters(mapped, keys: list[str], columns: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The change log's "after" dict of each row, as :func:`_full` makes it for an ORM object."""
    after_columns = []
    for k in keys:
        values = columns[k]
        kind = mapped[k].columns[0].type
        if isinstance(kind, GeometryColumn):
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            values = shapely.to_wkt(arr, rounding_precision=-1).tolist()  # == BaseGeometry.wkt
        elif isinstance(kind, (Date, DateTime)):
            values = each_distinct(values, lambda v: v.isoformat())
        after_columns.append(values)
    return [dict(zip(keys, row)) for row in zip(*after_columns)]
