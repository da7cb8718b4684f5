"""Append-only triggers for history tables, used by the migrations.

One definition of "this table's rows can never be changed or deleted", so every migration
creates (and drops) exactly the same database objects:

* PostgreSQL: a function ``<table>_append_only()`` raising ``message`` and a statement trigger
  ``<table>_append_only`` BEFORE UPDATE OR DELETE OR TRUNCATE.
* SQLite: triggers ``<table>_no_update`` and ``<table>_no_delete`` doing ``RAISE(ABORT, message)``.

``op`` is Alembic's operations object (``from alembic import op``), passed in so this module does
not depend on a running migration context at import time.
"""
from __future__ import annotations

from typing import Any

_SQLITE = """
CREATE TRIGGER {table}_no_{op} BEFORE {OP} ON {table}
BEGIN SELECT RAISE(ABORT, '{message}'); END
"""
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '{message}';
END $$ LANGUAGE plpgsql
"""
_VERBS = ("update", "delete")


def _is_postgres(op: Any) -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_append_only(op: Any, table: str, message: str) -> None:
    """Make ``table`` append-only: any UPDATE or DELETE (and TRUNCATE on PostgreSQL) fails with ``message``."""
    if _is_postgres(op):
        op.execute(_PG_FUNCTION.format(table=table, message=message))
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                   f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()")
    else:
        for verb in _VERBS:
            op.execute(_SQLITE.format(table=table, op=verb, OP=verb.upper(), message=message))


def drop_append_only(op: Any, table: str) -> None:
    """Remove what :func:`create_append_only` made for ``table`` (for downgrades)."""
    if _is_postgres(op):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    else:
        for verb in _VERBS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
