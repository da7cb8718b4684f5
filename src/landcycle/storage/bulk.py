"""Bulk inserts through the driver's ``executemany``, with values converted column by column.

``connection.execute(insert(table), rows)`` spends most of its time in SQLAlchemy's per-row,
per-parameter processing (``construct_params`` and the type's bind processor called once per
value), not in the database: for 200,000 parcels and their change-log rows that was about half
of an import (docs/performance.md). :func:`insert_columns` compiles the INSERT once for the
connection's dialect — bind expressions included, e.g. PostGIS ``ST_GeomFromWKB`` — converts
each column's values with that column type's own bind processor in one pass (geometries with
one vectorised ``shapely.to_wkb``; dates and times once per distinct value), and hands the
rows to the driver's ``executemany`` in the same transaction. The stored values are exactly
those SQLAlchemy would have sent. :func:`insert_rows` does the same for a list of row dicts.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import shapely
from sqlalchemy import Connection, Date, DateTime, Table, bindparam, insert

from .spatial import GeometryColumn


def each_distinct(values: Sequence[Any], convert) -> list[Any]:
    """``convert`` applied to every non-None value, computed once per distinct value (a bulk
    write repeats a handful of dates — one timestamp for all rows); None stays None."""
    done = {v: convert(v) for v in set(values) if v is not None}
    return [None if v is None else done[v] for v in values]


def _column_values(conn: Connection, column, values: Sequence[Any]) -> Sequence[Any]:
    """``values`` as the driver must receive them for ``column`` (its bind processor applied)."""
    dialect = conn.dialect
    if isinstance(column.type, GeometryColumn):
        geoms = np.empty(len(values), dtype=object)
        geoms[:] = values
        wkb = shapely.to_wkb(geoms)  # None stays None
        impl = column.type.dialect_impl(dialect).impl_instance
        proc = impl.bind_processor(dialect)
        out = wkb.tolist()
        return [proc(v) for v in out] if proc else out
    proc = column.type.dialect_impl(dialect).bind_processor(dialect)
    if proc is None:
        return values
    if isinstance(column.type, (Date, DateTime)):
        return each_distinct(values, proc)
    return [None if v is None else proc(v) for v in values]


def insert_columns(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]]) -> None:
    """INSERT rows given column-wise (column name → one value per row, all of one length)
    into ``table`` with one driver ``executemany``."""
    if not columns:
        return
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns of unequal length for {table.name}: {sorted(lengths)}")
    n = lengths.pop()
    if n == 0:
        return
    keys = list(columns)
    stmt = insert(table).values({k: bindparam(k, type_=table.c[k].type) for k in keys})
    compiled = stmt.compile(dialect=conn.dialect)
    values = {k: _column_values(conn, table.c[k], columns[k]) for k in keys}
    # Binds the statement adds itself (e.g. the SRID of ST_GeomFromWKB): the same in every row.
    for name, value in compiled.params.items():
        if name not in values:
            values[name] = [value] * n
    names = list(compiled.positiontup) if compiled.positional else list(values)
    cols = [values[name] for name in names]
    if compiled.positional:
        params = list(zip(*cols))
    else:
        params = [dict(zip(names, row)) for row in zip(*cols)]
    conn.exec_driver_sql(compiled.string, params)


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                keys: Sequence[str] | None = None) -> None:
    """INSERT ``rows`` (dicts keyed by column name; every row must have every key of ``keys``,
    default: the first row's keys) into ``table`` with one driver ``executemany``."""
    if not rows:
        return
    keys = list(keys or rows[0].keys())
    insert_columns(conn, table, {k: [r[k] for r in rows] for k in keys})
