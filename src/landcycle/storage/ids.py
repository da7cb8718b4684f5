"""Primary keys for bulk (Core) inserts that bypass the ORM (demo generation, imports)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, Table, func, select, text

from .schema import ChangeLog


class BulkIdAllocator:
    """Primary keys for bulk inserts that never reuse an id seen in the table or the change log.

    PostgreSQL: ids are drawn from the table's sequence (safe beside concurrent writers).
    SQLite: the next ids after the largest id in the table and in its change-log rows.
    """

    def __init__(self, conn: Connection):
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    def take(self, table: Table, count: int) -> np.ndarray:
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        if self.pg:
            got = self.conn.execute(text(
                "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": count}).scalars().all()
            return np.sort(np.array(got, dtype=np.int64))
        log = ChangeLog.__table__
        top = max(self.conn.scalar(select(func.max(table.c.id))) or 0,
                  self.conn.scalar(select(func.max(log.c.entity_id)).where(log.c.entity == table.name)) or 0)
        return np.arange(top + 1, top + 1 + count, dtype=np.int64)
