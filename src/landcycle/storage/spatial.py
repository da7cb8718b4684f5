"""A geometry column that works on both backends.

* PostgreSQL: a real PostGIS ``geometry(MULTIPOLYGON, 4490)``, GiST-indexed by the migration;
  values cross the wire as WKB (``ST_GeomFromWKB`` / ``ST_AsBinary``).
* SQLite (embedded default): WKB in a BLOB, with bounding-box columns beside it for
  spatial filtering (see ``schema.Parcel``), so no SpatiaLite extension is needed.

Python code always sees shapely geometries. (GeoAlchemy2 was tried and dropped: its
global DDL hooks cannot cope with a column that is PostGIS on one dialect and BLOB on another.)
"""

from __future__ import annotations

import shapely
from sqlalchemy import LargeBinary, func
from sqlalchemy.types import TypeDecorator, UserDefinedType

from ..domain.geometry import CANONICAL_EPSG


class PostGISGeometry(UserDefinedType):
    """PostGIS ``geometry(type, srid)`` exchanged as WKB bytes."""

    cache_ok = True

    def __init__(self, geometry_type: str = "MULTIPOLYGON", srid: int = CANONICAL_EPSG):
        self.geometry_type = geometry_type
        self.srid = srid

    def get_col_spec(self, **kw) -> str:
        return f"geometry({self.geometry_type},{self.srid})"


class GeometryColumn(TypeDecorator):
    """Shapely geometry stored as PostGIS geometry or as WKB bytes, by dialect."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, geometry_type: str = "MULTIPOLYGON", srid: int = CANONICAL_EPSG):
        super().__init__()
        self.geometry_type = geometry_type
        self.srid = srid

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(PostGISGeometry(self.geometry_type, self.srid))
        return dialect.type_descriptor(LargeBinary())

    # TypeDecorator would otherwise take these from the generic impl (LargeBinary),
    # not from the dialect's impl, and PostGIS would never see ST_GeomFromWKB/ST_AsBinary.
    @property
    def _has_bind_expression(self) -> bool:
        return isinstance(self.impl, PostGISGeometry)

    @property
    def _has_column_expression(self) -> bool:
        return isinstance(self.impl, PostGISGeometry)

    def bind_expression(self, bindvalue):
        if isinstance(self.impl, PostGISGeometry):
            return func.ST_GeomFromWKB(bindvalue, self.srid, type_=self)
        return None

    def column_expression(self, col):
        if isinstance(self.impl, PostGISGeometry):
            return func.ST_AsBinary(col, type_=self)
        return None

    def process_bind_param(self, value, dialect):
        return None if value is None else shapely.to_wkb(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # hex WKB
            return shapely.from_wkb(bytes.fromhex(value))
        return shapely.from_wkb(bytes(value))
