"""SQL over JSON lists of strings (``parcels.inefficiency_categories``, a supply-list entry's
industries), the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import Text, cast, or_


def json_list_contains(column, value: str):
    """SQL: the JSON list of strings in ``column`` contains ``value`` — matched on the stored
    text, in the escaped (``json.dumps`` default) and the literal spelling of non-ASCII values."""
    text = cast(column, Text)

    def contains(fragment: str):
        # LIKE with an explicit escape character: PostgreSQL would otherwise read the
        # backslashes of "\u88c5" as escapes; SQLite has no default escape at all.
        quoted = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return text.like(f"%{quoted}%", escape="\\")

    spellings = dict.fromkeys((json.dumps(value), json.dumps(value, ensure_ascii=False)))
    return or_(*(contains(s) for s in spellings))
