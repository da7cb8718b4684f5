"""Vector tiles (Mapbox Vector Tile 2.1) of parcels, zones and counties — "maps read tiles".

Layers (:data:`LAYERS`):

* ``parcels`` — every parcel the caller may see (``services.access.parcel_condition``), with
  the attributes a map styles by: state, 低效 categories, zone, county, area in 亩 — and, for
  callers who may read evaluation results, the parcel's A/B/C class (``eval_class``, see
  :func:`class_view`). Nothing else confidential is ever put into a tile (no enterprise, tax,
  price or contract data).
* ``supply`` — the public layer: only the parcels on the current published editions of the
  可供土地清单 (``services.access.public_parcel_condition``, as every public reader), the same for
  every caller. Publishing an edition writes the change log, so cached tiles and the columnar
  scope ids (keyed on the data generation) follow it without a separate refresh.
* ``zones`` / ``counties`` — jurisdiction outlines with code and name, the same for everyone.

Two renderers produce equivalent tiles (the tests decode both and compare them):

* PostgreSQL: PostGIS ``ST_AsMVT`` / ``ST_AsMVTGeom`` / ``ST_TileEnvelope``; rows are found with
  the GiST index (``geometry && ST_Transform(envelope, 4490)``) and projected to EPSG:3857 in
  the query.
* SQLite (and any backend on request): an in-process columnar copy of the parcels, already in
  EPSG:3857 and kept current from the change log (``services.tile_columns``); the scope is
  still decided by the database with ``parcel_condition``; then the vectorised encoder of
  ``domain.vector_tiles`` (numpy / Shapely 2 over the whole tile: snap to the tile grid, clip,
  repair, orient, encode).

A tile with no features is an empty body (as ``ST_AsMVT`` returns): a valid MVT with no layers.

Tiles are cached (:class:`TileCache`, an in-process LRU bounded by bytes) under the layer,
z/x/y, the caller's *scope* (:func:`scope_key`: what they may see, and whether their tiles carry
evaluation classes) and the *data generation* (:func:`data_generation`): the newest id of the
append-only change log, which every write path appends to (ORM hook, bulk imports, the demo
generator, undo), and the newest evaluation run. See docs/tiles.md.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from sqlalchemy import (
    Float,
    LargeBinary,
    Numeric,
    case,
    cast,
    func,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased

from ..domain.access import ANONYMOUS, Action, Principal, Role
from ..domain.errors import NotFound
from ..domain.geometry import CANONICAL_EPSG
from ..domain.rules.classify import CLASS_LABELS
from ..domain.vector_tiles import (
    BUFFER,
    EXTENT,
    HALF_WORLD,
    WEB_MERCATOR_EPSG,
    Categorical,
    encode_features,
    encode_layer,
    geometry_stream,
    grid_geometry,
    lonlat_bounds,
    mercator_tile_rings,
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
from ..storage.evaluation_schema import EnterpriseEvaluation, ParcelEvaluation
from ..storage.schema import Jurisdiction, Parcel
from . import access, jurisdictions, tile_columns
from .evaluation import NOT_EVALUATED, STATUS_LABELS

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
#: The evaluation attributes of ``parcels``: only in the tiles of callers who may read
#: evaluation results (:func:`class_view`), so only in their TileJSON.
_EVAL_FIELDS = {
    "eval_class": "企业分类综合评价类别（最近一次评价批次中该宗地用地企业的当前结果：A、B、C，不参评企业为 "
                  "not_evaluated；无用地企业或未参加该批次的宗地无此属性；仅向有权查看评价结果的账号提供，String）",
    "eval_class_label": "企业分类综合评价类别（中文，String）",
}
#: eval_class → eval_class_label.
EVAL_CLASS_LABELS = {**CLASS_LABELS, NOT_EVALUATED: STATUS_LABELS[NOT_EVALUATED]}

LAYERS: dict[str, TileLayer] = {
    layer.name: layer for layer in (
        TileLayer(
            "parcels", "宗地", "调用者有权查看的宗地（按辖区过滤），属性用于按状态、低效类别、集聚区及"
            "企业分类评价类别（仅有权查看评价结果的账号）着色；不含企业、税收、价款等保密信息。"
            "z14 以下不提供（宗地过密，见 docs/tiles.md）。",
            minzoom=14, maxzoom=16, fields={**_PARCEL_FIELDS, **_EVAL_FIELDS}, scoped=True),
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
    """What a tile's content depends on besides z/x/y and the data: ``public`` for the layers
    that are the same for everyone, otherwise a digest of the caller's very SQL scope condition
    (``access.parcel_condition``) and of whose evaluation classes the tile carries
    (:func:`class_view`) — two callers share cached tiles only if both are the same, so one
    scope's tile is never served to another, nor a tile with classes to a caller without the
    right to see them."""
    if not layer.scoped:
        return "public"
    return _scope_digest(principal)


@lru_cache(maxsize=4096)
def _scope_digest(principal: Principal) -> str:
    view = class_view(principal)
    return "scope:" + hashlib.sha256(f"{_condition_sql(principal)}|classes:{view}".encode()).hexdigest()[:24]


@lru_cache(maxsize=4096)
def _condition_sql(principal: Principal) -> str:
    condition = access.parcel_condition(principal)
    return str(condition.compile(compile_kwargs={"literal_binds": True}))


def class_view(principal: Principal) -> str | int | None:
    """Whose enterprise-evaluation classes the caller's ``parcels`` tiles carry.

    Classes are derived from tax data, so only callers who may read evaluation results get
    them — the right that guards them is ``Action.READ_CONFIDENTIAL`` (``services.evaluation``,
    ``services.verdicts``). ``None``: none (the public); ``"all"``: on every parcel of the tile
    (officials and departments: the tile holds only parcels of their jurisdiction, where they
    read results — ``Principal.sees_confidential_of``); an enterprise id: only on the parcels
    that enterprise is the evaluated land user of (as ``services.verdicts.parcel_verdicts``).
    """
    if not principal.may(Action.READ_CONFIDENTIAL):
        return None
    if principal.role is Role.ENTERPRISE:
        return principal.enterprise_id
    return "all"


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
    #: ``max(evaluation_runs.id)``: a run is written with Core inserts, outside the change log,
    #: and changes the classes tiles carry. (A revised result after a 公示 objection comes
    #: with the objection's logged decision, so ``change_id`` moves then.)
    evaluation: int = 0


_PG_GENERATION = text(
    "SELECT (SELECT max(id) FROM change_log), (SELECT max(id) FROM evaluation_runs),"
    " ARRAY(SELECT DISTINCT l.virtualtransaction FROM pg_locks l"
    "       WHERE l.locktype = 'relation' AND l.mode = 'RowExclusiveLock'"
    "         AND l.relation IN ('change_log'::regclass, 'evaluation_runs'::regclass)"
    "         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    "       ORDER BY 1)")
_GENERATION = text("SELECT (SELECT max(id) FROM change_log), (SELECT max(id) FROM evaluation_runs)")


def data_generation(s: Session) -> Generation:
    """The current :class:`Generation`: the max of the change log's and the evaluation runs'
    primary keys (index edges, not scans) and, on PostgreSQL, the open writers of either."""
    if s.get_bind().dialect.name == "postgresql":
        change_id, run_id, writers = s.execute(_PG_GENERATION).one()
        return Generation(change_id or 0, tuple(writers), run_id or 0)
    change_id, run_id = s.execute(_GENERATION).one()
    return Generation(change_id or 0, evaluation=run_id or 0)


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
    _newest_run: int = 0
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
        """Drop entries of change ids or evaluation runs older than ``generation`` (they can
        never be hit again)."""
        if generation.change_id <= self._newest_change and generation.evaluation <= self._newest_run:
            return
        with self._lock:
            self._newest_change = max(self._newest_change, generation.change_id)
            self._newest_run = max(self._newest_run, generation.evaluation)
            for key in [k for k in self._entries
                        if k[-1].change_id < self._newest_change or k[-1].evaluation < self._newest_run]:
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
        tile_columns.begin_snapshot(s)
        return _render(s, spec, principal, z, x, y, engine, data_generation(s))


def cached_tile(db: Database, cache: TileCache, principal: Principal, layer: str, z: int, x: int,
                y: int) -> Tile:
    """One tile for ``principal``, from ``cache`` when the data have not changed since it was
    encoded (see :func:`data_generation`), else rendered and cached."""
    spec = layer_named(layer)
    check_tile(spec, z, x, y)
    with db.reader() as s:
        # One snapshot for the generation and everything the tile is made of: the tile is
        # exactly as of its key.
        tile_columns.begin_snapshot(s)
        generation = data_generation(s)
        cache.forget_before(generation)
        key = (spec.name, z, x, y, scope_key(principal, spec), generation)
        hit = cache.get(key)
        if hit is not None:
            return Tile(hit.data, hit.etag, hit.public, cache_hit=True)
        data = _render(s, spec, principal, z, x, y, None, generation)
    tile = Tile(data, etag_of(data), public=not spec.scoped)
    cache.put(key, tile)
    return tile


def layer_fields(spec: TileLayer, principal: Principal = ANONYMOUS) -> dict[str, str]:
    """The attributes ``principal``'s tiles of the layer may carry (TileJSON ``fields``)."""
    if spec.name == "parcels" and class_view(principal) is None:
        return {k: v for k, v in spec.fields.items() if k not in _EVAL_FIELDS}
    return dict(spec.fields)


def tilejson(db: Database, layer: str, tiles_url: str, principal: Principal = ANONYMOUS) -> dict[str, Any]:
    """TileJSON 3.0.0 of one layer as ``principal`` gets it (the fields of its tiles);
    ``tiles_url`` is the absolute ``…/{z}/{x}/{y}.mvt`` template."""
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
            "fields": layer_fields(spec, principal),
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
            engine: str | None, generation: Generation) -> bytes:
    dialect = s.get_bind().dialect.name
    engine = engine or ("postgis" if dialect == "postgresql" else "python")
    if engine == "postgis":
        if dialect != "postgresql":
            raise ValueError("the PostGIS tile renderer needs PostgreSQL")
        return _render_postgis(s, spec, principal, z, x, y)
    if engine != "python":
        raise ValueError(f"unknown tile engine {engine!r}")
    if spec.name not in ("parcels", "supply"):
        ids, columns, geometries = _jurisdiction_rows(s, spec, lonlat_bounds(tile_bounds(z, x, y, BUFFER / EXTENT)))
        return encode_layer(spec.name, ids, columns, geometries, z, x, y)
    return _render_columns(s, spec, principal, z, x, y, generation)


def _parcel_condition(spec: TileLayer, principal: Principal):
    # The public layer shows what the public may see, whoever asks.
    return access.parcel_condition(principal if spec.scoped else ANONYMOUS)


def _state_labels() -> dict[str, str]:
    return {m.value: m.label for m in LandState}


def _category_labels() -> dict[str, str]:
    return {m.value: m.label for m in InefficiencyCategory}


# ---- SQLite / generic: the columnar copy, geometry by numpy and Shapely ------------------------
def _render_columns(s: Session, spec: TileLayer, principal: Principal, z: int, x: int, y: int,
                    generation: Generation) -> bytes:
    """A parcel tile from :mod:`services.tile_columns`: rows whose EPSG:3857 bounding box
    overlaps the buffered tile (PostGIS ``&&``), of them those the caller's scope condition
    selects (run by the database, once per scope and generation), then the encoder."""
    store = tile_columns.store_for(s)
    as_of = generation.change_id if store.incremental else generation
    cols = store.columns(s, as_of)
    rows = cols.rows_in(tile_bounds(z, x, y, BUFFER / EXTENT))
    who = principal if spec.scoped else ANONYMOUS
    visible = store.scope_ids(s, _condition_sql(who), as_of, access.parcel_condition(who))
    if visible is not None and len(rows):
        ids = cols.ids[rows]
        at = np.minimum(np.searchsorted(visible, ids), max(len(visible) - 1, 0))
        rows = rows[visible[at] == ids] if len(visible) else rows[:0]
    if not len(rows):
        return b""
    ids = cols.ids[rows]
    state = cols.state[rows]
    labels = _state_labels()
    columns: dict[str, Any] = {"code": cols.code[rows], "state": Categorical(state, cols.states),
                               "state_label": Categorical(state, [labels.get(v, v) for v in cols.states])}
    if spec.name == "parcels":
        cats, names = cols.category[rows], _category_labels()
        columns["inefficiency"] = Categorical(cats, [",".join(c) if c else None for c in cols.categories])
        columns["inefficiency_label"] = Categorical(
            cats, ["、".join(names.get(v, v) for v in c) if c else None for c in cols.categories])
    else:
        uses = cols.land_use[rows]
        columns["land_use"] = Categorical(uses, cols.land_uses)
        columns["land_use_label"] = Categorical(uses, [land_use_label(v) for v in cols.land_uses])
    zone, county = cols.zone_id[rows], cols.county_id[rows]
    columns.update(zone_code=Categorical(zone, cols.jurisdiction_code),
                   zone_name=Categorical(zone, cols.jurisdiction_name),
                   county_code=Categorical(county, cols.jurisdiction_code),
                   county_name=Categorical(county, cols.jurisdiction_name),
                   area_mu=cols.area_mu[rows])
    if spec.name == "supply":
        columns["is_standard_land"] = Categorical(cols.standard_land[rows].astype(np.int64), (False, True))
    view = class_view(principal) if spec.name == "parcels" else None
    if view is not None:
        classes = store.classes(s)
        klass = classes.lookup(ids, None if view == "all" else view)
        columns["eval_class"] = Categorical(klass, classes.values)
        columns["eval_class_label"] = Categorical(klass, [EVAL_CLASS_LABELS.get(v, v) for v in classes.values])
    # Geometry: rings snapped once for this zoom where they fit the buffered tile as they are;
    # the rest (cut by the tile's edge, holes, several parts…) snapped and clipped here.
    grid = store.grid(cols, z)
    if grid is not None:
        served, fast, fast_len = grid_geometry(grid, rows, x, y)
        fast_at, slow_at = np.flatnonzero(served), np.flatnonzero(~served)
    else:
        fast, fast_len = np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
        fast_at, slow_at = np.zeros(0, dtype=np.int64), np.arange(len(rows))
    slow = rows[slow_at]
    rings = mercator_tile_rings(cols.xy, cols.start[slow], cols.count[slow], cols.others[slow], z, x, y)
    slow_bytes, slow_len = geometry_stream(rings)
    return encode_features(spec.name, ids, columns, np.concatenate([fast_at, slow_at[rings.order]]),
                           np.concatenate([fast, slow_bytes]), np.concatenate([fast_len, slow_len]), len(rows))


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
        view = class_view(principal) if spec.name == "parcels" else None
        run_id = tile_columns.latest_run_id(s) if view is not None else None
        if run_id is not None:
            columns.append(_eval_class_column(run_id, view).label("eval_class"))
        columns.append(mvt_geom(Parcel.__table__.c.geometry))
        rows = (select(*columns)
                .outerjoin(zone, zone.id == Parcel.zone_id).join(county, county.id == Parcel.county_id)
                .where(Parcel.__table__.c.geometry.op("&&")(search), _parcel_condition(spec, principal)))
        if run_id is not None:  # the label from the class, in an outer select (one look-up per row)
            inner = rows.subquery("c")
            label = case(EVAL_CLASS_LABELS, value=inner.c.eval_class, else_=inner.c.eval_class)
            rows = select(*[inner.c[c.name] for c in columns[:-1]], label.label("eval_class_label"), inner.c.geom)
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


def _eval_class_column(run_id: int, view: str | int):
    """The parcel's class in run ``run_id`` as the SQL of a correlated subquery: its current
    result version's land user (``owner_enterprise_id``), then that enterprise's current
    result — ``not_evaluated`` for 不参评, else its class; NULL without either. ``view`` an
    enterprise id: NULL unless that enterprise is the land user. (The columnar path computes
    the same in ``tile_columns._load_classes``; the tests compare both.)"""
    pe, ee = ParcelEvaluation, EnterpriseEvaluation
    owner = (select(pe.owner_enterprise_id).where(pe.run_id == run_id, pe.parcel_id == Parcel.id)
             .order_by(pe.result_version.desc()).limit(1)
             .correlate(Parcel).scalar_subquery())  # (explicitly: it is nested two deep below)
    value = case((ee.status == NOT_EVALUATED, NOT_EVALUATED), else_=ee.result_class)
    klass = (select(value).where(ee.run_id == run_id, ee.enterprise_id == owner)
             .order_by(ee.result_version.desc()).limit(1).scalar_subquery())
    if view != "all":
        klass = case((owner == view, klass), else_=None)
    return klass


def _inefficiency_columns() -> list:
    """Categories as "a,b" and "甲、乙" from the JSON array, in stored order (NULL when none)."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    elems = func.json_array_elements_text(Parcel.inefficiency_categories).table_valued(
        "value", with_ordinality="ord").render_derived(name="cat")
    label = case(_category_labels(), value=elems.c.value, else_=elems.c.value)
    values = select(func.string_agg(elems.c.value, aggregate_order_by(literal_column("','"), elems.c.ord)))
    labels = select(func.string_agg(label, aggregate_order_by(literal_column("'、'"), elems.c.ord)))
    return [values.scalar_subquery().label("inefficiency"), labels.scalar_subquery().label("inefficiency_label")]

