"""What a GIS or survey file yields once read: geometries in the canonical CRS, the raw
attribute rows, where each came from, and what the reader had to infer (标图入库, issue 4).

Readers (``services/gis_read.py``) produce a :class:`SourceBatch`; the import
(``services/imports.py``) maps attributes, validates and writes it as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from .errors import Problem


@dataclass
class SourceBatch:
    """Features read from one source file (one layer)."""

    path: str
    format: str  # GDAL driver name or "界址点坐标表"
    #: shapely geometries in EPSG:4490 (lon/lat), one per feature; None where unreadable.
    geometries: list[Any]
    #: Attribute rows as read (column name → value), one per feature, same order.
    attributes: list[dict[str, Any]]
    #: Where each feature came from, for users: "第3行", "要素3", "宗地 411002…（界址点表）".
    source_ids: list[str]
    source_crs: str  # e.g. "EPSG:4526"
    crs_inferred: bool = False
    encoding: str | None = None
    file_sha256: str = ""
    #: What the reader inferred or converted, in Chinese (shown at the top of the report).
    notes: list[str] = field(default_factory=list)
    #: Problems found while reading (unreadable geometry, bad coordinates, …).
    problems: list[Problem] = field(default_factory=list)
    #: The same attributes column by column (name → one value per feature), when the reader
    #: has them so (GDAL layers): mapping 10⁵ rows reads columns, not dicts. Whoever changes
    #: ``attributes`` sets it to None.
    columns: dict[str, list[Any]] | None = None

    def __len__(self) -> int:
        return len(self.geometries)

    def attribute_columns(self) -> dict[str, list[Any]]:
        """The attributes column by column, in first-seen column order (None where a row lacks
        the column) — ``columns`` when the reader kept them and they still fit."""
        if self.columns is not None and all(len(v) == len(self.attributes) for v in self.columns.values()):
            return self.columns
        return rows_to_columns(self.attributes)


def rows_to_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Attribute rows column by column, in first-seen column order (None where a row lacks one)."""
    names = dict.fromkeys(chain.from_iterable(rows))
    return {c: [row.get(c) for row in rows] for c in names}
