"""Vector tiles (Mapbox Vector Tile 2.1) of parcels, zones and counties — "maps read tiles".

Layers (:data:`LAYERS`):

* ``parcels`` — every parcel the caller may see (``services.access.parcel_condition``), with
  the attributes a map styles by: state, 低效 categories, zone, county, area in 亩. Nothing
  confidential is ever put into a tile (no enterprise, tax, price or contract data).
* ``supply`` — the public layer: only the parcels on the published 可供土地清单
  (:data:`~landcycle.domain.access.PUBLIC_STATES`), the same for every caller.
* ``zones`` / ``counties`` — jurisdiction outlines with code and name, the same for everyone.

Two renderers produce equivalent tiles (the tests decode both and compare them):

* PostgreSQL: PostGIS ``ST_AsMVT`` / ``ST_AsMVTGeom`` / ``ST_TileEnvelope``; rows are found with
  the GiST index (``geometry && ST_Transform(envelope, 4490)``) and projected to EPSG:3857 in
  the query.
* SQLite (and any backend on request): candidates by the indexed bounding-box columns, then
  the vectorised encoder of ``domain.vector_tiles`` (Shapely 2 / numpy over the whole
  tile: project, snap to the tile grid, clip, repair, orient, encode).

A tile with no features is an empty body (as ``ST_AsMVT`` returns): a valid MVT with no layers.

Tiles are cached (:class:`TileCache`, an in-process LRU bounded by bytes) under the layer,
z/x/y, the caller's *scope* (:func:`scope_key`) and the *data generation*
(:func:`data_generation`): the newest id of the append-only change log, which every write
path appends to (ORM hook, bulk imports, the demo generator, undo). See docs/tiles.md.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

import numpy as np
import shapely
from sqlalchemy import Float, LargeBinary, Numeric, String, case, cast, func, literal_column, select, text, type_coerce
from sqlalchemy.orm import Session, aliased

from ..domain.access import ANONYMOUS, Principal
from ..domain.errors import NotFound
from ..domain.geometry import CANONICAL_EPSG
from ..domain.vector_tiles import (
    BUFFER,
    EXTENT,
    HALF_WORLD,
    WEB_MERCATOR_EPSG,
    encode_layer,
    lonlat_bounds,
    tile_bounds,
    tiles_covering,
)
from ..domain.vocabulary import (
    LAND_USE_LABELS,
    InefficiencyCategory,
    JurisdictionKind,
    LandState,
    land_use_label,
)
from ..storage.db import Database
from ..storage.schema import ChangeLog, Jurisdiction, Parcel
from . import access, jurisdictions

MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: Tile cache budget when none is given (bytes of encoded tiles).
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


# --------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class TileLayer:
    """One tile layer: its zoom range, its fields (TileJSON ``vector_layers``) and whether its
    rows depend on who asks (``scoped``: filtered by the caller's jurisdiction)."""

    name: str
    title: str
    description: str
    minzoom: int
    maxzoom: int
    fields: Mapping[str, str]
    scoped: bool


_PARCEL_FIELDS = {
    "code": "宗地代码（String）",
    "state": "土地状态（英文值，String）",
    "state_label": "土地状态（中文，String）",
    "inefficiency": "低效用地类别（英文值，逗号分隔；非低效宗地无此属性，String）",
    "inefficiency_label": "低效用地类别（中文，顿号分隔，String）",
    "zone_code": "所属产业集聚区代码（String）",
    "zone_name": "所属产业集聚区名称（String）",
    "county_code": "所属县(市、区)代码（String）",
    "county_name": "所属县(市、区)名称（String）",
    "area_mu": "宗地面积（亩，保留两位小数，Number）",
}

LAYERS: dict[str, TileLayer] = {
    layer.name: layer for layer in (
        TileLayer(
            "parcels", "宗地", "调用者有权查看的宗地（按辖区过滤），属性用于按状态、低效类别、集聚区着色；"
            "不含企业、税收、价款等保密信息。z14 以下不提供（宗地过密，见 docs/tiles.md）。",
            minzoom=14, maxzoom=16, fields=_PARCEL_FIELDS, scoped=True),
        TileLayer(
            "supply", "可供土地清单", "已公布的年度可供土地清单宗地（公开图层，所有人相同）。",
            minzoom=11, maxzoom=16, scoped=False, fields={
                "code": "宗地代码（String）",
                "state": "土地状态（英文值，String）",
                "state_label": "土地状态（中文，String）",
                "land_use": "土地用途代码（GB/T 21010，String）",
                "land_use_label": "土地用途（String）",
                "zone_code": "所属产业集聚区代码（String）",
                "zone_name": "所属产业集聚区名称（String）",
                "county_code": "所属县(市、区)代码（String）",
                "county_name": "所属县(市、区)名称（String）",
                "area_mu": "宗地面积（亩，保留两位小数，Number）",
                "is_standard_land": "是否标准地（Boolean）",
            }),
        TileLayer(
            "zones", "产业集聚区", "产业集聚区范围（示意范围）与名称。", minzoom=0, maxzoom=14, scoped=False,
            fields={"code": "集聚区代码（String）", "name": "集聚区名称（String）",
                    "county_code": "所在县(市、区)代码（String）"}),
        TileLayer(
            "counties", "县(市、区)", "县(市、区)行政边界与名称。", minzoom=0, maxzoom=14, scoped=False,
            fields={"code": "行政区划代码（String）", "name": "名称（String）"}),
    )
}


def layer_named(name: str) -> TileLayer:
    """The layer called ``name``; NotFound (404) for any other name."""
    layer = LAYERS.get(name)
    if layer is None:
        raise NotFound("瓦片图层", f"{name}（可用：{'、'.join(LAYERS)}）")
    return layer


# --------------------------------------------------------------------------- tile grid
def check_tile(layer: TileLayer, z: int, x: int, y: int) -> None:
    """NotFound unless z/x/y names a tile of the XYZ grid within the layer's zoom range."""
    if not layer.minzoom <= z <= layer.maxzoom:
        raise NotFound("瓦片", f"{layer.name}/{z}/{x}/{y}（该图层仅提供 z{layer.minzoom}–z{layer.maxzoom}，"
                             "更大的缩放级别由客户端放大显示）")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise NotFound("瓦片", f"{layer.name}/{z}/{x}/{y}（z{z} 的行列号应在 0–{n - 1} 之间）")


def zone_tiles(db: Database, zone: str, z: int = 14) -> list[tuple[int, int, int]]:
    """The z-level tiles covering a 产业集聚区 (code, name or alias) — e.g. for benchmarks."""
    with db.reader() as s:
        j = jurisdictions.resolve(s, zone, JurisdictionKind.ZONE, "瓦片", "zone")
        if j.geometry is None:
            return []
        return tiles_covering(j.geometry, z)


# --------------------------------------------------------------------------- scope and generation
def scope_key(principal: Principal, layer: TileLayer) -> str:
    """What a tile's rows depend on besides z/x/y and the data: ``public`` for the layers that
    are the same for everyone, otherwise a digest of the caller's very SQL scope condition
    (``access.parcel_condition``) — two callers share cached tiles only if that condition is
    the same text, so one scope's tile is never served to another."""
    if not layer.scoped:
        return "public"
    return _condition_key(principal)


@lru_cache(maxsize=4096)
def _condition_key(principal: Principal) -> str:
    condition = access.parcel_condition(principal)
    sql = str(condition.compile(compile_kwargs={"literal_binds": True}))
    return "scope:" + hashlib.sha256(sql.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Generation:
    """The data version tiles are cached under.

    ``change_id`` is ``max(change_log.id)``: the log is append-only and every write path
    appends to it in the writing transaction (the ORM hook, ``insert_with_history`` for bulk
    imports, the demo generator, undo). On SQLite one writer runs at a time, so ids follow
    commit order and the newest id alone says whether anything changed. On PostgreSQL ids come
    from a sequence: a transaction that took a smaller id may commit after one that took a
    larger id, without changing the maximum. ``writers`` therefore names the transactions that
    are writing to the change log right now (they hold its ``RowExclusiveLock`` from before
    they draw an id until they end); once one ends, the generation changes with it.
    """

    change_id: int
    writers: tuple[str, ...] = ()


_PG_GENERATION = text(
    "SELECT (SELECT max(id) FROM change_log),"
    " ARRAY(SELECT DISTINCT l.virtualtransaction FROM pg_locks l"
    "       WHERE l.locktype = 'relation' AND l.mode = 'RowExclusiveLock'"
    "         AND l.relation = 'change_log'::regclass"
    "         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    "       ORDER BY 1)")


def data_generation(s: Session) -> Generation:
    """The current :class:`Generation`: the max of the change log's primary key (an index
    edge, not a scan) and, on PostgreSQL, the open writers of the change log."""
    if s.get_bind().dialect.name == "postgresql":
        change_id, writers = s.execute(_PG_GENERATION).one()
        return Generation(change_id or 0, tuple(writers))
    return Generation(s.scalar(text("SELECT max(id) FROM change_log")) or 0)


# --------------------------------------------------------------------------- cache
@dataclass(frozen=True)
class Tile:
    """An encoded tile, its ETag, whether it came from the cache, and whether it is the same
    for every caller (``public``: cacheable by shared caches)."""

    data: bytes
    etag: str
    public: bool
    cache_hit: bool = False


def etag_of(data: bytes) -> str:
    """A strong ETag: the digest of the tile's bytes."""
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


_ENTRY_OVERHEAD = 200  # bytes per cache entry beyond the tile itself (key, etag, links)


@dataclass
class TileCache:
    """An in-process LRU of encoded tiles, bounded by bytes. Thread-safe.

    Keys hold the data generation, so a change to the data makes every older entry
    unreachable; entries of an older change id are dropped as soon as a newer one is seen.
    """

    max_bytes: int = DEFAULT_CACHE_BYTES
    hits: int = 0
    misses: int = 0
    _entries: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _bytes: int = 0
    _newest_change: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple) -> Tile | None:
        with self._lock:
            tile = self._entries.get(key)
            if tile is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return tile

    def put(self, key: tuple, tile: Tile) -> None:
        cost = len(tile.data) + _ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.data) + _ENTRY_OVERHEAD
            self._entries[key] = tile
            self._bytes += cost
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.data) + _ENTRY_OVERHEAD

    def forget_before(self, generation: Generation) -> None:
        """Drop entries of change ids older than ``generation`` (they can never be hit again)."""
        if generation.change_id <= self._newest_change:
            return
        with self._lock:
            if generation.change_id <= self._newest_change:
                return
            self._newest_change = generation.change_id
            for key in [k for k in self._entries if k[-1].change_id < generation.change_id]:
                self._bytes -= len(self._entries.pop(key).data) + _ENTRY_OVERHEAD

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


# --------------------------------------------------------------------------- entry points
def render_tile(db: Database, principal: Principal, layer: str, z: int, x: int, y: int,
                engine: str | None = None) -> bytes:
    """Encode one tile for ``principal`` without the cache.

    ``engine``: ``"postgis"`` (PostgreSQL only) or ``"python"`` (any backend); by default
    PostGIS on PostgreSQL, Python elsewhere. Raises NotFound for an unknown layer or a
    tile outside the grid or the layer's zoom range.
    """
    spec = layer_named(layer)
    check_tile(spec, z, x, y)
    with db.reader() as s:
        return _render(s, spec, principal, z, x, y, engine)


def cached_tile(db: Database, cache: TileCache, principal: Principal, layer: str, z: int, x: int,
                y: int) -> Tile:
    """One tile for ``principal``, from ``cache`` when the data have not changed since it was
    encoded (see :func:`data_generation`), else rendered and cached."""
    spec = layer_named(layer)
    check_tile(spec, z, x, y)
    with db.reader() as s:
        # The generation is read before the tile: a tile is never older than its key.
        generation = data_generation(s)
        cache.forget_before(generation)
        key = (spec.name, z, x, y, scope_key(principal, spec), generation)
        hit = cache.get(key)
        if hit is not None:
            return Tile(hit.data, hit.etag, hit.public, cache_hit=True)
        data = _render(s, spec, principal, z, x, y, None)
    tile = Tile(data, etag_of(data), public=not spec.scoped)
    cache.put(key, tile)
    return tile


def tilejson(db: Database, layer: str, tiles_url: str) -> dict[str, Any]:
    """TileJSON 3.0.0 of one layer; ``tiles_url`` is the absolute ``…/{z}/{x}/{y}.mvt`` template."""
    spec = layer_named(layer)
    with db.reader() as s:
        bounds = _city_bounds(s)
    lon = round((bounds[0] + bounds[2]) / 2, 6)
    lat = round((bounds[1] + bounds[3]) / 2, 6)
    return {
        "tilejson": "3.0.0",
        "name": f"{spec.name} — {spec.title}",
        "description": spec.description,
        "version": "1.0.0",
        "attribution": "许昌市产业集聚区土地全生命周期管理平台",
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "bounds": [round(v, 6) for v in bounds],
        "center": [lon, lat, max(spec.minzoom, 12)],
        "vector_layers": [{
            "id": spec.name,
            "description": spec.description,
            "minzoom": spec.minzoom,
            "maxzoom": spec.maxzoom,
            "fields": dict(spec.fields),
        }],
    }


def _city_bounds(s: Session) -> tuple[float, float, float, float]:
    """Lon/lat bounds of the data: the city's outline (all counties if it has none)."""
    geoms = s.scalars(select(Jurisdiction.geometry).where(
        Jurisdiction.kind == JurisdictionKind.CITY.value, Jurisdiction.geometry.is_not(None))).all()
    if not geoms:
        geoms = s.scalars(select(Jurisdiction.geometry).where(Jurisdiction.geometry.is_not(None))).all()
    if not geoms:
        return (73.0, 3.0, 136.0, 54.0)  # China, until boundaries are loaded
    b = shapely.total_bounds(np.array(geoms, dtype=object))
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


# --------------------------------------------------------------------------- rendering
def _render(s: Session, spec: TileLayer, principal: Principal, z: int, x: int, y: int,
            engine: str | None) -> bytes:
    dialect = s.get_bind().dialect.name
    engine = engine or ("postgis" if dialect == "postgresql" else "python")
    if engine == "postgis":
        if dialect != "postgresql":
            raise ValueError("the PostGIS tile renderer needs PostgreSQL")
        return _render_postgis(s, spec, principal, z, x, y)
    if engine != "python":
        raise ValueError(f"unknown tile engine {engine!r}")
    box = lonlat_bounds(tile_bounds(z, x, y, BUFFER / EXTENT))
    ids, columns, geometries = _rows_python(s, spec, principal, box, _widest_parcel(s, dialect))
    return encode_layer(spec.name, ids, columns, geometries, z, x, y)


def _parcel_condition(spec: TileLayer, principal: Principal):
    # The public layer shows what the public may see, whoever asks.
    return access.parcel_condition(principal if spec.scoped else ANONYMOUS)


def _state_labels() -> dict[str, str]:
    return {m.value: m.label for m in LandState}


def _category_labels() -> dict[str, str]:
    return {m.value: m.label for m in InefficiencyCategory}


# ---- SQLite / generic: rows here, geometry in Shapely ------------------------------------
class _WidestParcel:
    """The largest longitude extent of any parcel of one SQLite database, as of a change id.

    The bbox index leads with ``min_lon``, and "overlaps the tile" only bounds it from above;
    ``min_lon >= tile_west - widest`` bounds it from below too, so SQLite reads a strip of the
    index instead of half of it (≈20× fewer index entries at z14 on the 200k demo). The figure
    is kept up to date from the change log: a parcel can only get wider through a logged
    change, so only the parcels changed since the last look are measured again. SQLite has one
    writer at a time, so change-log ids follow commit order and no change is skipped.
    """

    RESCAN_AFTER = 20_000  # log rows since the last look beyond which one full scan is cheaper

    def __init__(self):
        self.lock = threading.Lock()
        self.as_of: int | None = None
        self.width = 0.0

    def get(self, s: Session) -> float:
        newest = s.scalar(text("SELECT max(id) FROM change_log")) or 0
        with self.lock:
            if self.as_of is not None and newest == self.as_of:
                return self.width
            spread = func.max(Parcel.max_lon - Parcel.min_lon)
            if self.as_of is None or newest - self.as_of > self.RESCAN_AFTER or newest < self.as_of:
                width = s.scalar(select(spread)) or 0.0
            else:
                changed = select(ChangeLog.entity_id).where(
                    ChangeLog.id > self.as_of, ChangeLog.id <= newest, ChangeLog.entity == Parcel.__tablename__)
                width = max(self.width, s.scalar(select(spread).where(Parcel.id.in_(changed))) or 0.0)
            self.as_of, self.width = newest, float(width)
            return self.width


_widest: "weakref.WeakKeyDictionary[Any, _WidestParcel]" = weakref.WeakKeyDictionary()
_widest_lock = threading.Lock()


def _widest_parcel(s: Session, dialect: str) -> float | None:
    """See :class:`_WidestParcel`; None (no lower bound) off SQLite, where sequence ids may
    commit out of order and the GiST index needs no such help."""
    if dialect != "sqlite":
        return None
    engine = s.get_bind()
    with _widest_lock:
        tracker = _widest.get(engine)
        if tracker is None:
            tracker = _widest[engine] = _WidestParcel()
    return tracker.get(s)


def _rows_python(s: Session, spec: TileLayer, principal: Principal, box: tuple[float, float, float, float],
                 widest: float | None = None) -> tuple[list[int], dict[str, list], list]:
    """Feature ids, attribute columns (name → values, None where absent) and geometries (WKB)
    of the rows whose bounding box overlaps ``box`` (lon/lat) — the rows PostGIS finds with
    ``&&``. ``widest``: no parcel is wider (degrees of longitude), so the bbox index can be
    read as a narrow range. Columns, not per-feature dicts: a tile may hold thousands."""
    minx, miny, maxx, maxy = box
    if spec.name not in ("parcels", "supply"):
        return _jurisdiction_rows(s, spec, box)
    near = [Parcel.max_lon >= minx, Parcel.min_lon <= maxx, Parcel.max_lat >= miny, Parcel.min_lat <= maxy]
    if widest is not None:
        near.append(Parcel.min_lon >= minx - widest - 1e-9)  # (a hair for rounding)
    extra = ((type_coerce(Parcel.inefficiency_categories, String),) if spec.name == "parcels"
             else (Parcel.land_use, Parcel.is_standard_land))
    # The ids come from the bbox index alone, and SQLite then reads the rows in id order (a
    # sorted list, fewer page visits than index order). The scope is wrapped in CASE so that
    # no index can serve it: without statistics SQLite takes "zone_id = ?" for selective and
    # would read a whole zone (or, for a county's OR, a whole county) instead of the tile.
    # No joins: the few jurisdictions are looked up in Python (a third faster on SQLite).
    scope = case((_parcel_condition(spec, principal), 1), else_=0) == 1
    q = (select(Parcel.id, type_coerce(Parcel.geometry, LargeBinary), Parcel.code, Parcel.state,
                Parcel.zone_id, Parcel.county_id, Parcel.area_mu, *extra)
         .where(Parcel.id.in_(select(Parcel.id).where(*near)), scope))
    conn = s.connection()  # Core rows: the ORM's result processing costs a third more here
    rows = conn.execute(q).fetchall()
    if not rows:
        return [], {}, []
    ids, wkbs, codes, states, zone_ids, county_ids, areas, *more = map(list, zip(*rows))
    names = {j: (c, n) for j, c, n in conn.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name))}
    names[None] = (None, None)
    state_labels = _state_labels()
    columns: dict[str, list] = {"code": codes, "state": states,
                                "state_label": [state_labels.get(v, v) for v in states]}
    if spec.name == "parcels":
        columns["inefficiency"], columns["inefficiency_label"] = _categories(more[0])
    else:
        columns["land_use"] = more[0]
        columns["land_use_label"] = [land_use_label(v) for v in more[0]]
    zones = [names[j] for j in zone_ids]
    counties = [names[j] for j in county_ids]
    columns.update(zone_code=[z[0] for z in zones], zone_name=[z[1] for z in zones],
                   county_code=[c[0] for c in counties], county_name=[c[1] for c in counties],
                   area_mu=np.round(np.asarray(areas, dtype=float), 2))
    if spec.name == "supply":
        columns["is_standard_land"] = [bool(v) for v in more[1]]
    return ids, columns, wkbs


def _categories(stored: list) -> tuple[list, list]:
    """低效 categories (stored JSON arrays) as "a,b" and "甲、乙", None when there are none."""
    labels = _category_labels()

    def shown(cats):
        return (",".join(cats), "、".join(labels.get(c, c) for c in cats)) if cats else (None, None)

    try:  # SQLite: JSON text, a handful of distinct values
        table = {raw: shown(json.loads(raw) if isinstance(raw, str) else raw) for raw in dict.fromkeys(stored)}
        pairs = [table[raw] for raw in stored]
    except TypeError:  # PostgreSQL: psycopg has already parsed the JSON into (unhashable) lists
        pairs = [shown(raw) for raw in stored]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _jurisdiction_rows(s: Session, spec: TileLayer, box) -> tuple[list[int], dict[str, list], list]:
    """Zones or counties whose outline's bounding box overlaps ``box`` (they are few)."""
    minx, miny, maxx, maxy = box
    kind = JurisdictionKind.ZONE if spec.name == "zones" else JurisdictionKind.COUNTY
    county = aliased(Jurisdiction)
    rows = s.execute(select(Jurisdiction.id, type_coerce(Jurisdiction.geometry, LargeBinary), Jurisdiction.code,
                            Jurisdiction.name, county.code)
                     .outerjoin(county, county.id == Jurisdiction.territory_county_id)
                     .where(Jurisdiction.kind == kind.value, Jurisdiction.geometry.is_not(None))).all()
    if rows:
        geoms = shapely.from_wkb(np.array([r[1] for r in rows], dtype=object))
        b = shapely.bounds(geoms)
        near = (b[:, 2] >= minx) & (b[:, 0] <= maxx) & (b[:, 3] >= miny) & (b[:, 1] <= maxy)
        rows = [(r[0], g, *r[2:]) for r, g, ok in zip(rows, geoms, near) if ok]
    if not rows:
        return [], {}, []
    ids, outlines, codes, names, county_codes = map(list, zip(*rows))
    columns = {"code": codes, "name": names}
    if kind is JurisdictionKind.ZONE:
        columns["county_code"] = county_codes
    return ids, columns, outlines


# ---- PostgreSQL: PostGIS does it all --------------------------------------------------------
def _render_postgis(s: Session, spec: TileLayer, principal: Principal, z: int, x: int, y: int) -> bytes:
    world = func.ST_MakeEnvelope(-HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD, WEB_MERCATOR_EPSG)
    envelope = func.ST_TileEnvelope(z, x, y, world)
    # Candidates through the GiST index, against the buffered envelope in the stored CRS.
    search = func.ST_Transform(func.ST_TileEnvelope(z, x, y, world, BUFFER / EXTENT), CANONICAL_EPSG)

    def mvt_geom(column):
        return func.ST_AsMVTGeom(func.ST_Transform(column, WEB_MERCATOR_EPSG), func.Box2D(envelope),
                                 EXTENT, BUFFER, True).label("geom")

    if spec.name in ("parcels", "supply"):
        zone, county = aliased(Jurisdiction), aliased(Jurisdiction)
        state_label = case(_state_labels(), value=Parcel.state, else_=Parcel.state)
        columns = [Parcel.id.label("id"), Parcel.code.label("code"), Parcel.state.label("state"),
                   state_label.label("state_label")]
        if spec.name == "parcels":
            columns += _inefficiency_columns()
        else:
            columns += [Parcel.land_use.label("land_use"),
                        case({k: f"{k} {v}" for k, v in LAND_USE_LABELS.items()}, value=Parcel.land_use,
                             else_=Parcel.land_use).label("land_use_label")]
        columns += [zone.code.label("zone_code"), zone.name.label("zone_name"),
                    county.code.label("county_code"), county.name.label("county_name"),
                    cast(func.round(cast(Parcel.area_mu, Numeric), 2), Float).label("area_mu")]
        if spec.name == "supply":
            columns.append(Parcel.is_standard_land.label("is_standard_land"))
        columns.append(mvt_geom(Parcel.__table__.c.geometry))
        rows = (select(*columns)
                .outerjoin(zone, zone.id == Parcel.zone_id).join(county, county.id == Parcel.county_id)
                .where(Parcel.__table__.c.geometry.op("&&")(search), _parcel_condition(spec, principal)))
    else:
        kind = JurisdictionKind.ZONE if spec.name == "zones" else JurisdictionKind.COUNTY
        county = aliased(Jurisdiction)
        columns = [Jurisdiction.id.label("id"), Jurisdiction.code.label("code"), Jurisdiction.name.label("name")]
        if kind is JurisdictionKind.ZONE:
            columns.append(county.code.label("county_code"))
        columns.append(mvt_geom(Jurisdiction.__table__.c.geometry))
        rows = (select(*columns).outerjoin(county, county.id == Jurisdiction.territory_county_id)
                .where(Jurisdiction.kind == kind.value,
                       Jurisdiction.__table__.c.geometry.op("&&")(search)))
    t = rows.subquery("t")
    mvt = select(func.ST_AsMVT(literal_column("t"), spec.name, EXTENT, "geom", "id")).select_from(t)
    data = s.scalar(mvt)
    return bytes(data) if data else b""


def _inefficiency_columns() -> list:
    """Categories as "a,b" and "甲、乙" from the JSON array, in stored order (NULL when none)."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    elems = func.json_array_elements_text(Parcel.inefficiency_categories).table_valued(
        "value", with_ordinality="ord").render_derived(name="cat")
    label = case(_category_labels(), value=elems.c.value, else_=elems.c.value)
    values = select(func.string_agg(elems.c.value, aggregate_order_by(literal_column("','"), elems.c.ord)))
    labels = select(func.string_agg(label, aggregate_order_by(literal_column("'、'"), elems.c.ord)))
    return [values.scalar_subquery().label("inefficiency"), labels.scalar_subquery().label("inefficiency_label")]

