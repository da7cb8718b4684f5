"""What the vector-tile renderer reads instead of the database: an in-process, columnar copy of
the parcels (geometry already in EPSG:3857), the ids each scope may see, and each parcel's
enterprise-evaluation class — all kept current from the change log.

Why: a dense z14 tile of the 200,000-parcel demo holds 5,700 parcels; reading their rows from
SQLite and projecting them cost ≈ 50 ms of the tile (docs/performance.md). From these arrays a
tile costs a bounding-box test over numpy columns and array gathers (docs/tiles.md).

Four pieces, one store per database engine (:func:`store_for`):

* :class:`ParcelColumns` — an immutable snapshot: ids, EPSG:3857 bounding boxes, one-ring
  outlines as flat coordinate arrays (closing point dropped; nearly every parcel), a shapely
  geometry for the rest (holes, several parts), and the attributes tiles carry as small integer
  codes. It is refreshed from the change log: on SQLite (one writer at a time, ids in commit
  order) only the parcels logged since the snapshot's change id are read again; elsewhere
  (sequence ids may commit out of order) any change of the tile generation reloads it whole.
* scope ids — which parcels a caller may see is decided by the database, with the very SQL
  condition every other reader uses (``services.access.parcel_condition``), run once per
  scope and data generation; the result (sorted ids, or "all" for a condition that is
  literally true) is kept in a small LRU.
* :class:`EvaluationClasses` — the parcel → class table of the latest evaluation run (see
  :func:`latest_run_id` and docs/tiles.md for the rule), kept until a run or a revised result
  appears.
* per zoom from :data:`GRID_MIN_ZOOM`, the one-ring outlines snapped once to the zoom's grid
  and encoded (``domain.vector_tiles.GridRings``), built on the zoom's first tile and carried
  through refreshes row by row.

Everything a tile uses is read inside one read transaction (:func:`begin_snapshot`), so the
generation, the refreshed snapshot, the scope and the classes describe the same state of the
database.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import True_

from ..domain.vector_tiles import (
    GridRings,
    clockwise_rings,
    grid_rings,
    to_web_mercator,
)
from ..storage.evaluation_schema import (
    EnterpriseEvaluation,
    ParcelEvaluation,
)
from ..storage.schema import ChangeLog, Jurisdiction, Parcel
from . import evaluation
from .evaluation import NOT_EVALUATED

#: Log rows since the last refresh beyond which one full load is cheaper than reading the
#: changed parcels one by one.
RESCAN_AFTER = 20_000
#: Rows per fetch, and parcel ids per ``IN (…)`` when changed parcels are read again.
_CHUNK = 10_000
#: Budget of the scope-id cache per store (bytes of id arrays).
SCOPE_CACHE_BYTES = 32 * 1024 * 1024
#: Zoom levels from which the rings are snapped once per zoom (:class:`GridRings`) rather than
#: per tile: the parcel layer's (below, tiles hold few of the parcels they cover — the supply
#: list — and the per-tile path is cheap enough).
GRID_MIN_ZOOM = 14


# --------------------------------------------------------------------------- transaction
def begin_snapshot(s: Session) -> None:
    """Make every later read of ``s`` see one state of the database.

    SQLite (pysqlite) opens no transaction for reads, so each statement would see the newest
    commit; an explicit ``BEGIN`` makes the statements share the snapshot of the first read
    (WAL mode). PostgreSQL: REPEATABLE READ. Must come before the session's first statement.
    """
    dialect = s.get_bind().dialect.name
    if dialect == "sqlite":
        raw = s.connection().connection.dbapi_connection
        if not raw.in_transaction:
            s.connection().exec_driver_sql("BEGIN")
    elif dialect == "postgresql":
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})


# --------------------------------------------------------------------------- parcel columns
@dataclass(frozen=True)
class ParcelColumns:
    """One immutable snapshot of the parcels, row ``i`` = parcel ``ids[i]`` (ascending).

    ``start``/``count``: the row's one ring is ``xy[start:start + count]`` (EPSG:3857, no
    closing point, clockwise); ``count == 0``: the row's geometry is ``others[i]`` (EPSG:3857 shapely).
    Attribute codes index the vocabularies (``states``, ``categories`` — the stored 低效
    category lists, ``land_uses``); -1 is "none". ``zone_id``/``county_id`` are jurisdiction
    ids (-1: none), named through ``jurisdiction_code``/``jurisdiction_name`` (indexed by id).
    """

    as_of: Hashable
    ids: np.ndarray
    minx: np.ndarray
    miny: np.ndarray
    maxx: np.ndarray
    maxy: np.ndarray
    start: np.ndarray
    count: np.ndarray
    xy: np.ndarray
    others: np.ndarray
    code: np.ndarray
    state: np.ndarray
    category: np.ndarray
    zone_id: np.ndarray
    county_id: np.ndarray
    area_mu: np.ndarray
    land_use: np.ndarray
    standard_land: np.ndarray
    states: tuple
    categories: tuple
    land_uses: tuple
    jurisdiction_code: np.ndarray
    jurisdiction_name: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def rows_in(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """Rows whose bounding box overlaps ``box`` (EPSG:3857) — PostGIS ``&&`` — ascending.
        Through the rows sorted by west edge: only those whose west edge lies within the widest
        parcel's width of the box are tested."""
        minx, miny, maxx, maxy = box
        west, by_west, widest = self._by_west
        a, b = np.searchsorted(west, [minx - widest, maxx], side="right")
        near = by_west[a:b]
        hit = (self.maxx[near] >= minx) & (self.miny[near] <= maxy) & (self.maxy[near] >= miny) \
            & (self.minx[near] <= maxx)
        return np.sort(near[hit])

    @cached_property
    def _by_west(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(west edges ascending, the rows in that order, the widest parcel's width)."""
        order = np.argsort(self.minx, kind="stable")
        widest = float((self.maxx - self.minx).max()) if len(self.minx) else 0.0
        return self.minx[order], order, widest

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the shapely geometries of ``others`` not counted)."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))


class _Vocabulary:
    """Append-only value lists behind the attribute codes (a snapshot keeps a tuple of them)."""

    def __init__(self):
        self.states: list = []
        self.categories: list = []
        self.land_uses: list = []
        self._index: dict[str, dict] = {"states": {}, "categories": {}, "land_uses": {}}

    def codes(self, name: str, values: list) -> np.ndarray:
        lst, index = getattr(self, name), self._index[name]
        for v in dict.fromkeys(values):  # the few distinct values
            if v not in index:
                index[v] = len(lst)
                lst.append(v)
        return np.fromiter(map(index.__getitem__, values), dtype=np.int32, count=len(values))


def _statement(dialect: str, ids: list[int] | None):
    geometry = Parcel.__table__.c.geometry
    wkb = func.ST_AsBinary(geometry) if dialect == "postgresql" else geometry
    stmt = select(Parcel.id, wkb, Parcel.code, Parcel.state, Parcel.inefficiency_categories, Parcel.zone_id,
                  Parcel.county_id, Parcel.area_mu, Parcel.land_use, Parcel.is_standard_land)
    return stmt if ids is None else stmt.where(Parcel.id.in_(ids))


def _read(s: Session, ids: np.ndarray | None) -> Iterator[list[tuple]]:
    """Parcel rows (all, or those of ``ids``) in chunks, on the DBAPI cursor of the session's
    own connection (same transaction; no per-row result processing)."""
    dialect = s.get_bind().dialect.name
    batches = [None] if ids is None else [ids[a:a + _CHUNK].tolist() for a in range(0, len(ids), _CHUNK)]
    for batch in batches:
        yield from _chunks(s, _statement(dialect, batch))


#: Plain little-endian WKB of a one-ring MultiPolygon / Polygon, up to the point count
#: (what the store writes for nearly every parcel), and where the coordinates start.
_ONE_RING_WKB = ((b"\x01\x06\x00\x00\x00\x01\x00\x00\x00\x01\x03\x00\x00\x00\x01\x00\x00\x00", 22),
                 (b"\x01\x03\x00\x00\x00\x01\x00\x00\x00", 13))


def _one_rings(wkbs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, lon/lat points without the closing one, points per ring) of the one-ring
    polygons among ``wkbs``, read from the bytes by numpy, rows of one byte length at a time."""
    n = len(wkbs)
    size = np.fromiter((len(w) if isinstance(w, bytes) else -1 for w in wkbs), dtype=np.int64, count=n)
    rows, points, counts = [], [], []
    for length in np.unique(size[size > 0]).tolist():
        idx = np.flatnonzero(size == length)
        buf = np.frombuffer(b"".join([wkbs[i] for i in idx.tolist()]), dtype=np.uint8).reshape(len(idx), length)
        for head, at in _ONE_RING_WKB:
            npts, rest = divmod(length - at, 16)
            if rest or npts < 4:  # a ring of fewer than 3 distinct points is left to GEOS
                continue
            ok = (buf[:, :len(head)] == np.frombuffer(head, dtype=np.uint8)).all(axis=1) & (
                buf[:, at - 4:at].copy().view("<u4").ravel() == npts)
            if ok.any():
                xy = buf[ok, at:].copy().view("<f8").reshape(-1, npts, 2)[:, :-1]  # no closing point
                rows.append(idx[ok])
                points.append(xy.reshape(-1, 2))
                counts.append(np.full(int(ok.sum()), npts - 1, dtype=np.int64))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(points), np.concatenate(counts)


def _decode(rows: list, vocab: _Vocabulary) -> dict[str, Any]:
    """The columns of parcel rows (as read by :func:`_read`), geometry projected once."""
    n = len(rows)
    ids, wkbs, codes, states, cats, zones, counties, areas, uses, standard = (list(c) for c in zip(*rows))
    wkbs = [bytes(w) if isinstance(w, memoryview) else w for w in wkbs]
    one_ring, lonlat, ring_len = _one_rings(wkbs)
    if len(one_ring) and (np.diff(one_ring) < 0).any():  # rows ascending, their points with them
        sort = np.argsort(one_ring, kind="stable")
        first = np.cumsum(ring_len) - ring_len
        lonlat = lonlat[np.repeat(first[sort] - (np.cumsum(ring_len[sort]) - ring_len[sort]), ring_len[sort])
                        + np.arange(len(lonlat))]
        one_ring, ring_len = one_ring[sort], ring_len[sort]
    mx, my = to_web_mercator(lonlat[:, 0], lonlat[:, 1])
    mx, my = clockwise_rings(np.column_stack((mx, my)), ring_len).T  # as tiles want them (y flips)
    count = np.zeros(n, dtype=np.int32)
    count[one_ring] = ring_len
    start = np.zeros(n, dtype=np.int64)
    start[one_ring] = np.cumsum(ring_len) - ring_len
    minx, miny = np.empty(n), np.empty(n)
    maxx, maxy = np.empty(n), np.empty(n)
    if len(one_ring):  # bounding boxes: reduce each ring's points
        minx[one_ring], miny[one_ring] = (np.minimum.reduceat(v, start[one_ring]) for v in (mx, my))
        maxx[one_ring], maxy[one_ring] = (np.maximum.reduceat(v, start[one_ring]) for v in (mx, my))
    others = np.full(n, None, dtype=object)
    rest = np.setdiff1d(np.arange(n), one_ring, assume_unique=True)
    if len(rest):  # holes, several parts, odd encodings: shapely geometries in EPSG:3857
        geoms = shapely.transform(shapely.from_wkb(np.array([wkbs[i] for i in rest.tolist()], dtype=object)),
                                  lambda c: np.column_stack(to_web_mercator(c[:, 0], c[:, 1])))
        others[rest] = geoms
        b = shapely.bounds(geoms)
        minx[rest], miny[rest], maxx[rest], maxy[rest] = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    parsed = {raw: _categories(raw) for raw in dict.fromkeys(c for c in cats if not isinstance(c, list))}
    return {
        "ids": np.asarray(ids, dtype=np.int64), "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy,
        "start": start, "count": count, "xy": np.column_stack((mx, my)), "others": others,
        "code": np.array([c.encode() for c in codes], dtype=bytes),
        "state": vocab.codes("states", states),
        "category": vocab.codes("categories", [_categories(c) if isinstance(c, list) else parsed[c] for c in cats]),
        "zone_id": np.array([-1 if z is None else z for z in zones], dtype=np.int64),
        "county_id": np.array([-1 if c is None else c for c in counties], dtype=np.int64),
        "area_mu": np.round(np.asarray(areas, dtype=float), 2),
        "land_use": vocab.codes("land_uses", uses),
        "standard_land": np.asarray(standard, dtype=bool),
    }


def _categories(raw: Any) -> tuple[str, ...] | None:
    """The stored 低效 category list (JSON text on SQLite, a list on PostgreSQL) as a tuple."""
    cats = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(cats) if cats else None


_ROW_FIELDS = ("ids", "minx", "miny", "maxx", "maxy", "count", "others", "code", "state", "category",
               "zone_id", "county_id", "area_mu", "land_use", "standard_land")


@dataclass(frozen=True)
class _Plan:
    """How a refresh turns the old snapshot's rows into the new one's: drop the changed rows
    (``keep``), insert the re-read ones at ``at`` (positions among the kept rows, ids staying
    ascending) — or, when the re-read rows are exactly the changed ones (edits, no parcel
    added or removed), overwrite them in a copy at ``same``. Applied to every per-row array,
    of the snapshot and of the zooms' rings."""

    keep: np.ndarray
    at: np.ndarray
    same: np.ndarray | None = None

    def rows(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        if self.same is not None:
            out = old.copy()
            out[self.same] = new
            return out
        return np.insert(old[self.keep], self.at, new, axis=0)


def _concat(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Decoded chunks as one set of columns ordered by id, their points in one array."""
    if not parts:
        parts = [_no_rows()]
    out = {k: np.concatenate([p[k] for p in parts]) for k in _ROW_FIELDS if k != "code"}
    width = max(p["code"].dtype.itemsize for p in parts)
    out["code"] = np.concatenate([p["code"].astype(f"S{width}") for p in parts])
    shift = np.cumsum([0] + [len(p["xy"]) for p in parts[:-1]])
    out["start"] = np.concatenate([p["start"] + k for p, k in zip(parts, shift)])
    out["xy"] = np.concatenate([p["xy"] for p in parts])
    if len(out["ids"]) and (np.diff(out["ids"]) < 0).any():
        order = np.argsort(out["ids"], kind="stable")
        out = {k: (v[order] if k != "xy" else v) for k, v in out.items()}
    return out


def _apply(old: ParcelColumns, drop: np.ndarray, new: dict[str, Any]) -> tuple[dict[str, Any], _Plan]:
    """``old``'s rows without the ids in ``drop`` (those that exist), plus ``new``'s rows (ids
    ascending), as the new snapshot's columns and the :class:`_Plan` that made them. The new
    rings are appended to the coordinate array; the dropped ones stay there, unused, until
    they are half of it (then it is compacted)."""
    at = np.minimum(np.searchsorted(old.ids, drop), max(len(old.ids) - 1, 0))
    keep = np.ones(len(old.ids), dtype=bool)
    if len(old.ids):
        keep[at[old.ids[at] == drop]] = False
    gone = np.flatnonzero(~keep)
    same = gone if np.array_equal(old.ids[gone], new["ids"]) else None
    plan = _Plan(keep, np.searchsorted(old.ids[keep], new["ids"]) if same is None else gone, same)
    out = {k: plan.rows(getattr(old, k), new[k]) for k in _ROW_FIELDS if k != "code"}
    width = max(old.code.dtype.itemsize, new["code"].dtype.itemsize)
    out["code"] = plan.rows(old.code.astype(f"S{width}", copy=False), new["code"].astype(f"S{width}"))
    out["start"] = plan.rows(old.start, new["start"] + len(old.xy))
    out["xy"] = np.concatenate([old.xy, new["xy"]])
    used = int(out["count"].sum())
    if used * 2 < len(out["xy"]):
        count = out["count"].astype(np.int64)
        first = np.cumsum(count) - count
        out["xy"] = out["xy"][np.repeat(out["start"] - first, count) + np.arange(used)]
        out["start"] = first
    return out, plan


def _apply_grid(grid: GridRings, plan: _Plan, new: GridRings) -> GridRings:
    """A zoom's rings after a refresh: the kept rows' as they were, the re-read rows' new ones
    (their tails appended; compacted once the unused bytes are half of the array)."""
    tail = np.concatenate([grid.tail, new.tail])
    tail_start = plan.rows(grid.tail_start, new.tail_start + len(grid.tail))
    tail_len = plan.rows(grid.tail_len, new.tail_len)
    used = int(tail_len.sum())
    if used * 2 < len(tail):
        first = np.cumsum(tail_len) - tail_len
        tail = tail[np.repeat(tail_start - first, tail_len) + np.arange(used)]
        tail_start = first
    return GridRings(plan.rows(grid.first, new.first), plan.rows(grid.low, new.low), plan.rows(grid.high, new.high),
                     plan.rows(grid.usable, new.usable), tail, tail_start, tail_len)


def _no_rows() -> dict[str, Any]:
    f, i = np.zeros(0), np.zeros(0, dtype=np.int64)
    return {"ids": i, "minx": f, "miny": f, "maxx": f, "maxy": f, "start": i, "count": np.zeros(0, dtype=np.int32),
            "xy": np.zeros((0, 2)), "others": np.empty(0, dtype=object), "code": np.zeros(0, dtype="S1"),
            "state": np.zeros(0, dtype=np.int32), "category": np.zeros(0, dtype=np.int32), "zone_id": i,
            "county_id": i, "area_mu": f, "land_use": np.zeros(0, dtype=np.int32),
            "standard_land": np.zeros(0, dtype=bool)}


def _jurisdictions(s: Session) -> tuple[np.ndarray, np.ndarray]:
    rows = s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name)).all()
    size = max([r[0] for r in rows], default=0) + 1
    code, name = np.full(size, None, dtype=object), np.full(size, None, dtype=object)
    for j, c, nm in rows:
        code[j], name[j] = c, nm
    return code, name


# --------------------------------------------------------------------------- evaluation classes
@dataclass(frozen=True)
class EvaluationClasses:
    """The class of each evaluated parcel in the latest run: ``parcel_ids`` ascending, the
    ``klass`` code (index into ``values``; -1 none) and the land user it belongs to."""

    key: Hashable
    parcel_ids: np.ndarray
    klass: np.ndarray
    owner: np.ndarray
    values: tuple

    def lookup(self, ids: np.ndarray, enterprise_id: int | None = None) -> np.ndarray:
        """Class codes of parcels ``ids`` (-1: none); with ``enterprise_id``, only where that
        enterprise is the evaluated land user."""
        out = np.full(len(ids), -1, dtype=np.int64)
        if not len(self.parcel_ids) or not len(ids):
            return out
        at = np.minimum(np.searchsorted(self.parcel_ids, ids), len(self.parcel_ids) - 1)
        hit = self.parcel_ids[at] == ids
        if enterprise_id is not None:
            hit &= self.owner[at] == enterprise_id
        out[hit] = self.klass[at[hit]]
        return out


latest_run_id = evaluation.latest_run_id  # the run whose classes tiles carry


#: What the class table depends on: the latest run (ordered as :func:`latest_run_id`) and the
#: newest result rows (a revised result after a 公示 objection is a new row) — index edges.
_CLASSES_KEY = text("SELECT (SELECT id FROM evaluation_runs ORDER BY year DESC, id DESC LIMIT 1),"
                    " (SELECT max(id) FROM enterprise_evaluations), (SELECT max(id) FROM parcel_evaluations)")


def _classes_key(s: Session) -> tuple:
    return tuple(s.execute(_CLASSES_KEY).one())


def _current(keys: np.ndarray, versions: np.ndarray) -> np.ndarray:
    """Positions of each key's highest version (the current result), keys ascending."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((versions, keys))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = keys[order][1:] != keys[order][:-1]
    return order[last]


def _load_classes(s: Session, key: tuple) -> EvaluationClasses:
    """The parcel → class table of run ``key[0]`` (the rule: docs/tiles.md, "eval_class").
    Rows are read in chunks straight into arrays: a run holds a row per parcel and enterprise."""
    run = key[0]
    empty = EvaluationClasses(key, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8),
                              np.zeros(0, dtype=np.int64), ())
    if run is None:
        return empty
    pe, ee = ParcelEvaluation, EnterpriseEvaluation
    values: dict[str, int] = {}
    p_parts, e_parts = [], []
    for rows in _chunks(s, select(pe.parcel_id, pe.result_version, func.coalesce(pe.owner_enterprise_id, -1))
                        .where(pe.run_id == run)):
        p_parts.append(np.array(rows, dtype=np.int64).reshape(-1, 3))
    for rows in _chunks(s, select(ee.enterprise_id, ee.result_version, ee.status, ee.result_class)
                        .where(ee.run_id == run)):
        e_id, e_ver, status, klass = zip(*rows)
        code = [-1 if (c := _class_value(st, k)) is None else values.setdefault(c, len(values))
                for st, k in zip(status, klass)]
        e_parts.append(np.column_stack((np.array(e_id, dtype=np.int64), np.array(e_ver, dtype=np.int64),
                                        np.array(code, dtype=np.int64))))
    if not p_parts or not e_parts:
        return empty
    p, e = np.concatenate(p_parts), np.concatenate(e_parts)
    p, e = p[_current(p[:, 0], p[:, 1])], e[_current(e[:, 0], e[:, 1])]
    p_id, p_owner, e_id = p[:, 0], p[:, 2], e[:, 0]
    at = np.minimum(np.searchsorted(e_id, p_owner), len(e_id) - 1)
    found = (e_id[at] == p_owner) & (p_owner >= 0)
    klass = np.where(found, e[at, 2], -1).astype(np.int8)
    return EvaluationClasses(key, p_id, klass, np.where(found, p_owner, -1), tuple(values))


def _chunks(s: Session, stmt) -> Iterator[list[tuple]]:
    """The rows of ``stmt`` in chunks, on the DBAPI cursor of the session's own connection."""
    conn = s.connection()
    cur = conn.connection.dbapi_connection.cursor()
    try:
        cur.execute(str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})))
        while rows := cur.fetchmany(_CHUNK):
            yield rows
    finally:
        cur.close()


def _class_value(status: str | None, result_class: str | None) -> str | None:
    """A land user's current result as the tile attribute (mirrored by the SQL of
    ``services.tiles._eval_class_column``)."""
    return NOT_EVALUATED if status == NOT_EVALUATED else result_class


# --------------------------------------------------------------------------- the store
def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


_TRIM = _malloc_trim()


def give_back_memory() -> None:
    """Return freed heap memory to the operating system after a large build.

    A full load, a class table or a zoom's rings create and drop temporaries many times the
    size of what is kept; glibc keeps freed heap pages for reuse unless asked (on the 200k demo
    ≈ 100 MiB of resident memory that nothing uses). A no-op where libc has no ``malloc_trim``.
    """
    if _TRIM is not None:
        _TRIM(0)


class TileStore:
    """The per-engine holder of the current :class:`ParcelColumns` (and the one before it, for
    a reader whose transaction started just before a refresh), the scope-id cache and the
    evaluation classes. Thread-safe; a refresh happens under a lock, snapshots are immutable."""

    def __init__(self, incremental: bool):
        self.incremental = incremental
        self.lock = threading.Lock()
        # Loading a scope's ids or the class table takes a while on 200,000 parcels: one thread
        # loads, the others wait for its result instead of all loading the same thing at once
        # (a cold server under 50 clients otherwise stalls for seconds).
        self._scope_lock = threading.Lock()
        self._classes_lock = threading.Lock()
        self.vocab = _Vocabulary()
        self.current: ParcelColumns | None = None
        self.previous: ParcelColumns | None = None
        self._scopes: OrderedDict = OrderedDict()
        self._scope_bytes = 0
        self._classes: EvaluationClasses | None = None
        self._grids: dict[int, GridRings] = {}
        self._grids_of: ParcelColumns | None = None

    # ---- parcels
    def columns(self, s: Session, as_of: Hashable) -> ParcelColumns:
        """The snapshot of generation ``as_of`` (the change id on SQLite, else the whole tile
        generation), read in ``s`` — which must see exactly that generation
        (:func:`begin_snapshot`)."""
        for snap in (self.current, self.previous):
            if snap is not None and snap.as_of == as_of:
                return snap
        with self.lock:
            for snap in (self.current, self.previous):
                if snap is not None and snap.as_of == as_of:
                    return snap
            cur = self.current
            if self.incremental and cur is not None and cur.as_of < as_of and as_of - cur.as_of <= RESCAN_AFTER:
                snap = self._refresh(s, cur, as_of)
            else:
                # First use, many changes, another backend — or a reader whose snapshot is older
                # than the store's two (writers committed and other threads refreshed meanwhile):
                # a full load of exactly this generation, which later readers refresh from.
                snap = self._build(s, as_of)
                give_back_memory()
            self.previous, self.current = cur, snap
            return snap

    def _refresh(self, s: Session, cur: ParcelColumns, as_of: int) -> ParcelColumns:
        """``cur`` brought to ``as_of``: the parcels logged in between read again (deleted ones
        dropped), the zooms' rings of ``cur`` carried over with them."""
        # The log rows by the primary key's range, filtered here: a condition on ``entity``
        # would let SQLite walk the (entity, entity_id) index over every parcel ever logged.
        logged = s.execute(select(ChangeLog.entity, ChangeLog.entity_id)
                           .where(ChangeLog.id > cur.as_of, ChangeLog.id <= as_of)).all()
        changed = np.unique(np.array([i for e, i in logged if e == Parcel.__tablename__ and i is not None],
                                     dtype=np.int64))
        code, name = _jurisdictions(s)
        if not len(changed):
            snap = replace(cur, as_of=as_of, jurisdiction_code=code, jurisdiction_name=name)
            if self._grids_of is cur:
                self._grids_of = snap
            return snap
        new = _concat([_decode(rows, self.vocab) for rows in _read(s, changed)])
        merged, plan = _apply(cur, changed, new)
        snap = self._snapshot(as_of, merged, code, name)
        if self._grids_of is cur:
            self._grids = {z: _apply_grid(g, plan, grid_rings(new["xy"], new["start"], new["count"], z))
                           for z, g in self._grids.items()}
            self._grids_of = snap
        return snap

    def _build(self, s: Session, as_of: Hashable) -> ParcelColumns:
        """A snapshot of every parcel, read in ``s``."""
        merged = _concat([_decode(rows, self.vocab) for rows in _read(s, None)])
        return self._snapshot(as_of, merged, *_jurisdictions(s))

    def _snapshot(self, as_of: Hashable, columns: dict[str, Any], code: np.ndarray, name: np.ndarray) -> ParcelColumns:
        return ParcelColumns(as_of=as_of, **columns, states=tuple(self.vocab.states),
                             categories=tuple(self.vocab.categories), land_uses=tuple(self.vocab.land_uses),
                             jurisdiction_code=code, jurisdiction_name=name)

    # ---- rings snapped per zoom
    def grid(self, cols: ParcelColumns, z: int) -> GridRings | None:
        """The rings of the current snapshot ``cols`` snapped for zoom ``z`` (built on first use
        after each refresh: ≈ 0.1–0.2 s for 200,000 parcels); None below :data:`GRID_MIN_ZOOM`
        or for a snapshot that is no longer current (the per-tile path serves it)."""
        if z < GRID_MIN_ZOOM:
            return None
        with self.lock:
            if cols is not self.current:
                return None
            if self._grids_of is not cols:
                self._grids, self._grids_of = {}, cols
            grid = self._grids.get(z)
            if grid is None:
                grid = self._grids[z] = grid_rings(cols.xy, cols.start, cols.count, z)
                give_back_memory()
            return grid

    # ---- scopes
    def scope_ids(self, s: Session, key: str, as_of: Hashable, condition) -> np.ndarray | None:
        """Sorted ids of the parcels ``condition`` (the caller's ``parcel_condition``) selects
        in generation ``as_of``, or None when it is literally true (every parcel)."""
        if isinstance(condition, True_):
            return None
        k = (key, as_of)
        with self.lock:
            hit = self._scopes.get(k)
            if hit is not None:
                self._scopes.move_to_end(k)
                return hit
        with self._scope_lock:
            with self.lock:
                hit = self._scopes.get(k)
            if hit is not None:  # another thread loaded it while this one waited
                return hit
            ids = np.sort(np.fromiter(s.scalars(select(Parcel.id).where(condition)), dtype=np.int64))
            with self.lock:
                self._scopes[k] = ids
                self._scope_bytes += ids.nbytes
                while self._scope_bytes > SCOPE_CACHE_BYTES and len(self._scopes) > 1:
                    _, old = self._scopes.popitem(last=False)
                    self._scope_bytes -= old.nbytes
        return ids

    # ---- evaluation classes
    def classes(self, s: Session) -> EvaluationClasses:
        """The classes of the latest run as ``s`` sees it (reloaded when a run or a result
        version is added)."""
        key = _classes_key(s)
        held = self._classes
        if held is not None and held.key == key:
            return held
        with self._classes_lock:
            held = self._classes
            if held is not None and held.key == key:  # loaded by another thread meanwhile
                return held
            loaded = _load_classes(s, key)
            give_back_memory()
            self._classes = loaded
        return loaded


_stores: weakref.WeakKeyDictionary[Any, TileStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def store_for(s: Session) -> TileStore:
    """The :class:`TileStore` of the engine behind ``s`` (one per database and process)."""
    engine = s.get_bind()
    with _stores_lock:
        store = _stores.get(engine)
        if store is None:
            store = _stores[engine] = TileStore(incremental=engine.dialect.name == "sqlite")
        return store
