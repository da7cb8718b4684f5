"""What a GIS or survey file yields once read: geometries in the canonical CRS, the raw
attribute rows, where each came from, and what the reader had to infer (标图入库, issue 4).

Readers (``services/gis_read.py``) produce a :class:`SourceBatch`; the import
(``services/imports.py``) maps attributes, validates and writes it as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def __len__(self) -> int:
        return len(self.geometries)
