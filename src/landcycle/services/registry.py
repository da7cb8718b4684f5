"""The land registry: register and change parcels, read the 一宗一卡 card and the 一地一档 archive."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Iterable, NamedTuple

import numpy as np
import shapely
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..domain.access import SYSTEM, Action, Principal, Role, as_principal
from ..domain.errors import Forbidden, NotFound, Problem, ValidationFailed
from ..domain.geometry import (
    CANONICAL_EPSG,
    as_multipolygon,
    gk_areas_m2,
    parcel_geometry_checks,
    parcel_geometry_problems,
)
from ..domain.records import LABELLED_FIELDS, ParcelDraft, parcel_problems, stated_area_problem
from ..domain.units import m2_to_mu
from ..domain.vocabulary import (
    InefficiencyCategory,
    JurisdictionKind,
    LandSource,
    LandState,
    OccupancyRole,
    SupplyMethod,
    land_use_label,
)
from ..storage.db import Database
from ..storage.history import insert_columns_with_history, to_json_value
from ..storage.json_lists import json_list_contains
from ..storage.ids import BulkIdAllocator
from ..storage.schema import (
    ChangeLog,
    EnterpriseFigure,
    Jurisdiction,
    Occupancy,
    Parcel,
    ParcelDevelopment,
    PerformanceAgreement,
    SupplyContract,
    utcnow,
)
from . import access, audit, jurisdictions

#: Default tolerance between a stated (surveyed) area and the geometry's area.
DEFAULT_AREA_TOLERANCE = 0.05
#: How far (m²) a parcel may stick out of its county/zone before it is rejected; absorbs
#: boundary simplification and digitising noise.
OUTSIDE_TOLERANCE_M2 = 1.0
MAX_PAGE = 1000
#: Fields a parcel list can be sorted by (``list_parcels(sort=…)``).
PARCEL_SORT_FIELDS = ("code", "area_mu", "area_m2", "state", "location", "supply_date", "updated_at")
#: A one-line description of a change-log row (kept here too: the card's readers know it by this name).
change_summary = audit.change_summary


# --------------------------------------------------------------------------- register
@dataclass
class PreparedParcel:
    """A draft that passed validation, with what the write needs (normalised code, resolved
    county/zone, MultiPolygon geometry, GK area and zone)."""

    draft: ParcelDraft
    code: str
    county: Jurisdiction | None
    zone: Jurisdiction | None
    geometry: Any
    area_m2: float
    gk_epsg: int
    exists: bool = False
    #: ``geometry`` projected into its GK zone (``gk_epsg``), for measuring (None if unfit).
    gk_geometry: Any = None


def validate_parcels(s: Session, drafts: list[ParcelDraft],
                     area_tolerance: float = DEFAULT_AREA_TOLERANCE,
                     allow_existing: bool = False, known_valid=None
                     ) -> tuple[list[list[Problem]], list[PreparedParcel]]:
    """Every problem of every draft, per draft (same order), and the prepared rows; writes nothing.

    Checks format, geometry, vocabulary, stated area, unknown county/zone, parcel outside its
    county/zone, code not matching the county, duplicates in the batch and — unless
    ``allow_existing`` (update batches) — in the store. ``known_valid``: a boolean array, True
    where the caller has already found that very geometry valid (its check is not repeated).

    Vectorised for large batches: geometry checks, areas and containment run on shapely arrays
    (containment once per county/zone), jurisdictions are resolved once per distinct key and
    existing codes are looked up in chunks.
    """
    geom_problems, projected, epsgs = parcel_geometry_checks([d.geometry for d in drafts], known_valid)
    per = [parcel_problems(d, area_tolerance, gp) for d, gp in zip(drafts, geom_problems)]
    good_geoms = [not gp for gp in geom_problems]
    idx = np.flatnonzero(good_geoms)
    geoms = np.full(len(drafts), None, dtype=object)
    geoms[idx] = _as_multipolygons(np.array([drafts[i].geometry for i in idx], dtype=object))
    areas = np.zeros(len(drafts))
    if len(idx):
        areas[idx] = shapely.area(projected[idx])  # the GK zone of each parcel's centroid
    seen: set[str] = set()
    codes = [(d.code or "").strip().upper() for d in drafts]
    existing = _existing_codes(s, codes)
    resolved: dict[tuple[str, JurisdictionKind], tuple[Jurisdiction | None, Problem | None]] = {}

    def resolve(key: str, kind: JurisdictionKind, fld: str) -> tuple[Jurisdiction | None, list[tuple[str, str, str]]]:
        hit = resolved.get((key, kind))
        if hit is None:
            try:
                hit = (jurisdictions.resolve(s, key, kind, "", fld), None)
            except ValidationFailed as exc:
                hit = (None, exc.problems[0])  # resolve names one problem; its message names only the key
            resolved[(key, kind)] = hit
        j, p = hit
        return j, ([] if p is None else [(p.field, p.message, p.code)])

    # A batch names a handful of (county, zone) pairs: each is resolved and checked once, as
    # (county, zone, unknown county/zone problems, zone-outside-county problems, county code),
    # the problems as (field, message, code), made each row's own below.
    places: dict[tuple[str, str | None], tuple] = {}

    def place(county_key: str, zone_key: str | None) -> tuple:
        hit = places.get((county_key, zone_key))
        if hit is None:
            county, unknown = resolve(county_key, JurisdictionKind.COUNTY, "county_id")
            zone = None
            if zone_key:
                zone, more = resolve(zone_key, JurisdictionKind.ZONE, "zone_id")
                unknown = unknown + more
            apart = []
            if zone is not None and county is not None and zone.territory_county_id != county.id:
                apart = [("zone_id", f"产业集聚区 {zone.name} 不在 {county.name} 境内", "invalid")]
            hit = places[(county_key, zone_key)] = (county, zone, unknown, apart,
                                                    county.code if county is not None else None)
        return hit

    counties: list[Jurisdiction | None] = []
    zones: list[Jurisdiction | None] = []
    records = []
    checks: list[list[Problem]] = []
    for d, code in zip(drafts, codes):
        problems: list[Problem] = []
        record = f"宗地 {d.code or '(无代码)'}"
        if code in seen:
            problems.append(Problem(record, "code", "宗地代码在本批次中重复", "duplicate"))
        elif code in existing and not allow_existing:
            problems.append(Problem(record, "code", "宗地代码已存在于登记库中", "duplicate"))
        seen.add(code)
        county, zone, unknown, apart, county_code = place(d.county, d.zone)  # ORM reads once per pair
        if unknown:
            problems += [Problem(record, *p) for p in unknown]
        if county_code is not None and len(code) == 19 and code[:6] != county_code:
            problems.append(Problem(record, "code",
                                    f"宗地代码前6位 {code[:6]} 与所属县(市、区) {county.name}（{county.code}）不符"))
        if apart:
            problems += [Problem(record, *p) for p in apart]
        counties.append(county)
        zones.append(zone)
        records.append(record)
        checks.append(problems)
    outside = _outside_problems_many(records, geoms, good_geoms, counties, zones)
    prepared = []
    for i, d in enumerate(drafts):
        problems = per[i]
        problems += checks[i]
        if good_geoms[i]:
            problems += outside[i]
            p = stated_area_problem(records[i], d.stated_area_m2, float(areas[i]), area_tolerance)
            if p:
                problems.append(p)
        prepared.append(PreparedParcel(d, codes[i], counties[i], zones[i], geoms[i], float(areas[i]),
                                       int(epsgs[i]), codes[i] in existing, projected[i]))
    return per, prepared


def _as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """:func:`as_multipolygon` for an array of Polygons/MultiPolygons."""
    out = geoms.copy()
    poly = shapely.get_type_id(geoms) == 3
    if poly.any():
        n = int(poly.sum())
        out[poly] = shapely.multipolygons(geoms[poly], indices=np.arange(n))
    return out


def _existing_codes(s: Session, codes: list[str], chunk: int = 5000) -> set[str]:
    wanted = sorted(set(codes))
    found: set[str] = set()
    for a in range(0, len(wanted), chunk):
        found.update(s.scalars(select(Parcel.code).where(Parcel.code.in_(wanted[a:a + chunk]))))
    return found


def _outside_problems_many(records: list[str], geoms: np.ndarray, good: list[bool],
                           counties: list, zones: list) -> list[list[Problem]]:
    """:func:`_outside_problems` for every good geometry, one vectorised pass per jurisdiction
    (county problems before zone problems, as there)."""
    out: list[list[Problem]] = [[] for _ in range(len(geoms))]
    for js, fld in ((counties, "county_id"), (zones, "zone_id")):
        groups: dict[Any, list[int]] = {}  # by the (session-unique) ORM object: no attribute reads per row
        for i, j in enumerate(js):
            if j is not None and good[i]:
                groups.setdefault(j, []).append(i)
        for j, rows in groups.items():
            if j.geometry is None:
                continue
            sel = np.array(rows)
            boundary = j.geometry
            shapely.prepare(boundary)
            inside = shapely.covers(boundary, geoms[sel])
            rest = sel[~inside]
            if not len(rest):
                continue
            diff = shapely.difference(geoms[rest], boundary)
            nonempty = ~shapely.is_empty(diff)
            if not nonempty.any():
                continue
            m2 = gk_areas_m2(diff[nonempty])[0]
            for i, a in zip(rest[nonempty], m2):
                if a > OUTSIDE_TOLERANCE_M2:
                    out[i].append(Problem(records[i], fld, f"宗地有 {float(a):.1f} 平方米位于{j.name}范围之外", "outside"))
    return out


_DRAFT_COLUMNS = tuple(f.name for f in fields(ParcelDraft)
                       if f.name not in ("code", "geometry", "county", "zone", "stated_area_m2"))


def parcel_columns(prepared: list[PreparedParcel], with_bbox: bool = True) -> dict[str, list[Any]]:
    """Column values of prepared parcels (everything but ``code``), column by column — one
    value per parcel, enums as stored values (each distinct value parsed once). The bulk
    writer inserts them as they are; :func:`parcel_values` is one parcel's row of them."""
    drafts = [p.draft for p in prepared]
    cols: dict[str, list[Any]] = {k: [getattr(d, k) for d in drafts] for k in _DRAFT_COLUMNS}
    for name, enum in (("state", LandState), ("land_source", LandSource), ("supply_method", SupplyMethod)):
        cols[name] = _parsed_column(enum, cols[name], keep_none=name != "state")
    cols["inefficiency_categories"] = [[_parsed(InefficiencyCategory, c) for c in cats] if cats else []
                                       for cats in cols["inefficiency_categories"]]
    areas = np.array([p.area_m2 for p in prepared], dtype=float)
    cols.update(geometry=[p.geometry for p in prepared], area_m2=areas.tolist(),
                area_mu=np.asarray(m2_to_mu(areas), dtype=float).tolist(),
                gk_epsg=[p.gk_epsg for p in prepared])
    ids = {None: None}  # jurisdiction → id, read from the ORM object once per jurisdiction
    for j in {p.county for p in prepared} | {p.zone for p in prepared}:
        if j is not None:
            ids[j] = j.id
    cols.update(county_id=[ids[p.county] for p in prepared], zone_id=[ids[p.zone] for p in prepared])
    if with_bbox and prepared:
        geoms = np.empty(len(prepared), dtype=object)
        geoms[:] = cols["geometry"]
        bounds = shapely.bounds(geoms)
        for k, name in enumerate(("min_lon", "min_lat", "max_lon", "max_lat")):
            cols[name] = bounds[:, k].tolist()
    return cols


def parcel_values(p: PreparedParcel, with_bbox: bool = True) -> dict[str, Any]:
    """Column values of one prepared parcel (everything but ``code``), ready for ``Parcel(**…)``
    or setattr (:func:`parcel_columns` for one parcel)."""
    return {k: v[0] for k, v in parcel_columns([p], with_bbox).items()}


def _parsed_column(enum, values: list, keep_none: bool) -> list:
    """``_parsed`` over a column, each distinct value once (None stays None where ``keep_none``)."""
    done: dict[Any, str] = {}
    out = []
    for v in values:
        if v is None and keep_none:
            out.append(None)
            continue
        try:
            hit = done.get(v)
            if hit is None:
                hit = done[v] = _parsed(enum, v)
        except TypeError:  # unhashable
            hit = _parsed(enum, v)
        out.append(hit)
    return out


def _parsed(enum, value) -> str:
    """``enum.parse(value).value``, remembered (a batch repeats a handful of values)."""
    try:
        return _parsed_cached(enum, value)
    except TypeError:  # unhashable
        return enum.parse(value).value


@lru_cache(maxsize=1024)
def _parsed_cached(enum, value) -> str:
    return enum.parse(value).value


_BULK_KEY = "registry.bulk_parcels"


def write_parcel(s: Session, p: PreparedParcel) -> Parcel:
    """Add a new parcel from a validated :class:`PreparedParcel` (the caller's transaction).

    Inside :func:`bulk_parcel_writes` the parcel is queued for a Core bulk insert instead and
    a :class:`BulkParcel` (``id``, ``code``, ``version``) is returned.
    """
    bulk = s.info.get(_BULK_KEY)
    if bulk is not None:
        return bulk.add(p)
    parcel = Parcel(code=p.code, **parcel_values(p))
    s.add(parcel)
    return parcel


class BulkParcel(NamedTuple):
    """A parcel queued for a bulk insert: what callers read back (a NamedTuple: cheap per row)."""

    id: int
    code: str
    version: int = 1


class _BulkParcelWriter:
    """New parcels written with Core ``insert()`` in chunks, column by column, each with its
    一地一档 “create” row (``storage.history.insert_columns_with_history``). Ids never reuse one
    seen in the table or the log."""

    CHUNK = 10_000

    def __init__(self, s: Session, count: int):
        self.s = s
        self.ids = iter(BulkIdAllocator(s.connection()).take(Parcel.__table__, count).tolist()) if count else iter(())
        self.now = utcnow()
        self.queued: list[tuple[int, PreparedParcel]] = []

    def add(self, p: PreparedParcel) -> BulkParcel:
        pid = next(self.ids)
        self.queued.append((pid, p))
        if len(self.queued) >= self.CHUNK:
            self.flush()
        return BulkParcel(pid, p.code)

    def flush(self) -> None:
        queued, self.queued = self.queued, []
        if not queued:
            return
        prepared = [p for _, p in queued]
        n = len(queued)
        cols = {"id": [pid for pid, _ in queued], "code": [p.code for p in prepared],
                **parcel_columns(prepared), "is_synthetic": [False] * n,
                "created_at": [self.now] * n, "updated_at": [self.now] * n, "version": [1] * n}
        insert_columns_with_history(self.s, Parcel, cols, self.CHUNK)


@contextmanager
def bulk_parcel_writes(s: Session, count: int):
    """Within the block, :func:`write_parcel` queues up to ``count`` new parcels for Core bulk
    inserts; call ``flush()`` on the yielded writer before leaving (remaining rows are written
    on a normal exit too). For batches of thousands of parcels (标图入库)."""
    writer = _BulkParcelWriter(s, count)
    s.info[_BULK_KEY] = writer
    try:
        yield writer
        writer.flush()
    finally:
        s.info.pop(_BULK_KEY, None)


def register_parcels(db: Database, drafts: Iterable[ParcelDraft], actor: Principal | str,
                     reason: str | None = None,
                     area_tolerance: float = DEFAULT_AREA_TOLERANCE) -> list[str]:
    """Register new parcels, all or nothing. Returns their codes.

    ``actor`` must be allowed to edit parcels, and an official only registers parcels in
    their own jurisdiction (a zone manager: in their zone) — Forbidden otherwise, checked
    before any other problem is reported. Every problem of every draft is collected first
    (see :func:`validate_parcels`); if there is any, ``ValidationFailed`` lists them all and
    nothing is written.
    """
    return _register(db, list(drafts), as_principal(actor), reason, area_tolerance, views=False)


def register_parcel(db: Database, draft: ParcelDraft, actor: Principal | str, reason: str | None = None,
                    area_tolerance: float = DEFAULT_AREA_TOLERANCE) -> dict[str, Any]:
    """Register one parcel (as :func:`register_parcels`); returns its facts (``parcel_properties``)."""
    return _register(db, [draft], as_principal(actor), reason, area_tolerance, views=True)[0]


def _register(db: Database, drafts: list[ParcelDraft], editor: Principal, reason: str | None,
              area_tolerance: float, views: bool) -> list:
    access.require(editor, Action.EDIT_PARCELS)
    with db.transaction(actor=editor.actor, reason=reason) as s:
        per, prepared = validate_parcels(s, drafts, area_tolerance)
        for p in prepared:
            if p.county is not None and not editor.covers(p.county.id, p.zone.id if p.zone else None):
                where = p.zone.name if p.zone else p.county.name
                raise Forbidden(f"只能在本辖区（{editor.jurisdiction_name or '—'}）内登记宗地；宗地 {p.code} 位于{where}")
        problems = [p for ps in per for p in ps]
        if problems:
            raise ValidationFailed(problems)
        written = [write_parcel(s, p) for p in prepared]
        if not views:
            return [p.code for p in prepared]
        s.flush()
        return [parcel_properties(s, w) for w in written]


def _bbox(geom) -> dict[str, float]:
    minx, miny, maxx, maxy = geom.bounds
    return {"min_lon": minx, "min_lat": miny, "max_lon": maxx, "max_lat": maxy}


# --------------------------------------------------------------------------- change
#: Fields a parcel update may set directly (geometry recomputes area and bbox).
EDITABLE_PARCEL_FIELDS = {
    "location", "land_use", "state", "inefficiency_categories", "land_source", "supply_method",
    "supply_date", "term_years", "price_wan", "plot_ratio_min", "plot_ratio_max",
    "building_density_min", "green_ratio_max", "height_limit_m", "is_standard_land",
    "is_standard_factory", "geometry",
}


def update_parcel(db: Database, code: str, changes: dict[str, Any], expected_version: int,
                  actor: Principal | str, reason: str | None = None, *, set_state: bool | None = None) -> dict:
    """Change a parcel's fields if nobody changed it since ``expected_version``.

    ``actor`` must be allowed to edit parcels of this jurisdiction (a parcel outside its
    view is "not found"). A stale version raises :class:`Conflict` carrying the current
    record; nothing is written to the parcel, and the refused attempt is logged in its
    archive (action ``conflict``). Each change lands in the archive with actor and reason.

    ``state`` is changed by lifecycle transitions (``services.lifecycle``), not here: a caller
    acting as a user (a :class:`Principal`, e.g. through the API) is refused with 422 on field
    ``state``. A plain actor name (the command line, jobs, data maintenance — trusted like
    imports) may set it directly; ``set_state`` overrides either default.
    """
    editor = as_principal(actor)
    record = f"宗地 {code}"
    unknown = set(changes) - EDITABLE_PARCEL_FIELDS
    if unknown:
        raise ValidationFailed([Problem(record, f, "该字段不能直接修改", "not_editable") for f in sorted(unknown)])
    if set_state is None:
        set_state = not isinstance(actor, Principal)

    def apply(s: Session, parcel: Parcel) -> None:
        if "state" in changes and not set_state:
            try:
                wanted = LandState.parse(changes["state"]).value
            except ValueError as exc:
                raise ValidationFailed(Problem(record, "state", str(exc))) from None
            if wanted != parcel.state:  # sending the state unchanged is not a change
                raise ValidationFailed(Problem(
                    record, "state", f"土地状态不能直接修改（当前为“{LandState(parcel.state).label}”）：请通过生命周期"
                    f"流转办理（POST /api/parcels/{parcel.code}/transitions；可办理的流转及其条件见 GET 同一地址），"
                    "每一步都核对条件并记录文件", "use_transitions"))
        draft = _draft_of(parcel)
        for k, v in changes.items():
            setattr(draft, k, v)
        problems = [p for p in parcel_problems(draft) if p.field in changes or p.field == "code"]
        if "geometry" in changes and not parcel_geometry_problems(draft.geometry):
            geom = as_multipolygon(draft.geometry)
            problems += _outside_problems_many([record], np.array([geom], dtype=object), [True],
                                               [parcel.county], [parcel.zone])[0]
        if problems:
            raise ValidationFailed(problems)
        for k, v in changes.items():
            if k == "geometry":
                geom = as_multipolygon(v)
                areas, epsg = gk_areas_m2([geom])
                parcel.geometry = geom
                parcel.area_m2, parcel.area_mu = float(areas[0]), float(m2_to_mu(areas[0]))
                parcel.gk_epsg = int(epsg[0])
                for bk, bv in _bbox(geom).items():
                    setattr(parcel, bk, bv)
            elif k in LABELLED_FIELDS and v is not None:
                setattr(parcel, k, LABELLED_FIELDS[k].parse(v).value)
            elif k == "inefficiency_categories":
                parcel.inefficiency_categories = [InefficiencyCategory.parse(c).value for c in v]
            else:
                setattr(parcel, k, v)

    return audit.guarded_update(
        db, editor, what="宗地", key=code, expected_version=expected_version, attempted=changes, reason=reason,
        load=lambda s: _parcel(s, code), authorize=lambda s, p: authorize_parcel_edit(s, editor, p),
        apply=apply, view=parcel_properties)


def authorize_parcel_edit(s: Session, editor: Principal, parcel: Parcel,
                          action: Action = Action.EDIT_PARCELS) -> None:
    """Refuse unless ``editor`` may change records of ``parcel`` (by ``action``): a parcel the
    caller cannot see is "not found" (404, checked first so that the answer never reveals a
    parcel outside their view); a role that may not do ``action`` is Forbidden (403)."""
    if s.scalar(select(Parcel.id).where(Parcel.id == parcel.id, access.parcel_condition(editor))) is None:
        raise NotFound("宗地", parcel.code)
    access.require_parcel_edit(editor, parcel, action)


def check_parcel_edit(db: Database, code: str, editor: Principal | str, action: Action = Action.EDIT_PARCELS) -> None:
    """Raise unless ``editor`` may change records of the parcel ``code`` (see
    :func:`editable_parcel`): for endpoints under a parcel, whose URL names it."""
    with db.reader() as s:
        editable_parcel(s, code, as_principal(editor), action)


def editable_parcel(s: Session, code: str, editor: Principal, action: Action = Action.EDIT_PARCELS) -> Parcel:
    """The parcel ``code`` if ``editor`` may change its records by ``action`` (see
    :func:`authorize_parcel_edit`); anonymous callers are asked to sign in first."""
    if editor.is_public:
        access.require(editor, action)
    parcel = _parcel(s, code)
    authorize_parcel_edit(s, editor, parcel, action)
    return parcel


def _draft_of(p: Parcel) -> ParcelDraft:
    return ParcelDraft(code=p.code, geometry=p.geometry, county=str(p.county_id),
                       location=p.location, land_use=p.land_use, state=p.state,
                       inefficiency_categories=list(p.inefficiency_categories or []),
                       land_source=p.land_source, supply_method=p.supply_method,
                       supply_date=p.supply_date, term_years=p.term_years, price_wan=p.price_wan,
                       plot_ratio_min=p.plot_ratio_min, plot_ratio_max=p.plot_ratio_max,
                       building_density_min=p.building_density_min, green_ratio_max=p.green_ratio_max,
                       height_limit_m=p.height_limit_m, is_standard_land=p.is_standard_land,
                       is_standard_factory=p.is_standard_factory)


# --------------------------------------------------------------------------- read
def _code_key(code: str) -> str:
    """The stored form of a 宗地代码; NotFound for text that can be no parcel's code (this also
    keeps NUL characters, which PostgreSQL refuses in text, away from the query)."""
    key = (code or "").strip().upper()
    if len(key) > 19 or "\x00" in key:
        raise NotFound("宗地", (code or "")[:40].replace("\x00", ""))
    return key


def _parcel(s: Session, code: str) -> Parcel:
    parcel = s.scalar(select(Parcel).where(Parcel.code == _code_key(code)))
    if parcel is None:
        raise NotFound("宗地", code)
    return parcel


def parcel_properties(s: Session, p: Parcel) -> dict[str, Any]:
    """The public-safe facts of a parcel (no enterprise figures), as plain JSON values."""
    zone, county = p.zone, p.county
    return {
        "code": p.code,
        "location": p.location,
        "land_use": p.land_use,
        "land_use_label": land_use_label(p.land_use),
        "state": p.state,
        "state_label": LandState(p.state).label,
        "inefficiency_categories": list(p.inefficiency_categories or []),
        "inefficiency_labels": [InefficiencyCategory(c).label for c in p.inefficiency_categories or []],
        "land_source": p.land_source,
        "land_source_label": LandSource(p.land_source).label if p.land_source else None,
        "area_m2": round(p.area_m2, 2),
        "area_mu": round(p.area_mu, 4),
        "gk_epsg": p.gk_epsg,
        "zone_code": zone.code if zone else None,
        "zone_name": zone.name if zone else None,
        "county_code": county.code,
        "county_name": county.name,
        "supply_method": p.supply_method,
        "supply_method_label": SupplyMethod(p.supply_method).label if p.supply_method else None,
        "supply_date": p.supply_date.isoformat() if p.supply_date else None,
        "term_years": p.term_years,
        "price_wan": p.price_wan,
        "plot_ratio_min": p.plot_ratio_min,
        "plot_ratio_max": p.plot_ratio_max,
        "building_density_min": p.building_density_min,
        "green_ratio_max": p.green_ratio_max,
        "height_limit_m": p.height_limit_m,
        "is_standard_land": p.is_standard_land,
        "is_standard_factory": p.is_standard_factory,
        "is_synthetic": p.is_synthetic,
        "version": p.version,
    }


def list_parcels(db: Database, *, viewer: Principal, county: str | None = None, zone: str | None = None,
                 state: str | None = None, bbox: tuple[float, float, float, float] | None = None,
                 limit: int = 100, offset: int = 0, sort: list[tuple[str, bool]] | None = None,
                 category: str | None = None, land_source: str | None = None) -> dict[str, Any]:
    """A page of the parcels ``viewer`` may see, as a GeoJSON FeatureCollection with ``numberMatched``
    and ``totalAreaMu`` (亩 over every matching parcel, not just the page: the ledgers' total).

    Filters: county and zone by code, name or alias; state by value or Chinese label; bbox
    (minLon, minLat, maxLon, maxLat, EPSG:4490) selects parcels whose bounding box overlaps
    it (PostGIS ``&&`` on the GiST index; the bbox columns on SQLite — same semantics);
    ``category`` a 低效 category (value or label) the parcel carries; ``land_source`` by value or label.
    ``sort``: ``[(field, descending), …]`` over :data:`PARCEL_SORT_FIELDS`; ties (and the
    default) go by code.
    """
    order = []
    for name, desc in sort or []:
        if name not in PARCEL_SORT_FIELDS:
            raise ValidationFailed(Problem("查询", "sort", f"不能按“{name}”排序，可选：{'、'.join(PARCEL_SORT_FIELDS)}"))
        col = getattr(Parcel, name)
        order.append(col.desc() if desc else col.asc())
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(Problem("查询", "limit", f"每页条数应在1到{MAX_PAGE}之间"))
    if offset < 0:
        raise ValidationFailed(Problem("查询", "offset", "偏移量不能为负"))
    with db.reader() as s:
        conds = [access.parcel_condition(viewer)]
        conds += jurisdiction_conditions(s, county, zone)
        if state:
            try:
                conds.append(Parcel.state == LandState.parse(state).value)
            except ValueError as exc:
                raise ValidationFailed(Problem("查询", "state", str(exc))) from None
        if bbox:
            conds.append(_bbox_condition(db, bbox))
        conds += ledger_conditions(category, land_source)
        where = and_(*conds)
        total, total_mu = s.execute(select(func.count(), func.coalesce(func.sum(Parcel.area_mu), 0.0))
                                    .select_from(Parcel).where(where)).one()
        parcels = s.scalars(select(Parcel).where(where).order_by(*order, Parcel.code)
                            .limit(limit).offset(offset)).all()
        _preload_jurisdictions(s)
        features = [{"type": "Feature", "id": p.code,
                     "geometry": shapely.geometry.mapping(p.geometry),
                     "properties": parcel_properties(s, p)} for p in parcels]
    return {"type": "FeatureCollection", "numberMatched": total, "numberReturned": len(features),
            "totalAreaMu": round(float(total_mu), 4), "features": features}


def category_condition(category: InefficiencyCategory, column=Parcel.inefficiency_categories):
    """SQL: the parcel's 低效 categories (a JSON list) include ``category``."""
    return json_list_contains(column, category.value)


def jurisdiction_conditions(s: Session, county: str | None, zone: str | None) -> list:
    """Parcel filters by county and zone (code, name or alias); an unknown one is a 422 naming
    the field."""
    conds = []
    if county:
        conds.append(Parcel.county_id == jurisdictions.resolve(s, county, JurisdictionKind.COUNTY, "查询", "county").id)
    if zone:
        conds.append(Parcel.zone_id == jurisdictions.resolve(s, zone, JurisdictionKind.ZONE, "查询", "zone").id)
    return conds


def ledger_conditions(category: str | None, land_source: str | None, parcel=Parcel) -> list:
    """Ledger filters (台账): a 低效 category and a land source, each by value or Chinese label;
    a bad value is a 422 naming the field."""
    conds = []
    if category:
        try:
            conds.append(category_condition(InefficiencyCategory.parse(category.strip()),
                                            parcel.inefficiency_categories))
        except ValueError as exc:
            raise ValidationFailed(Problem("查询", "category", str(exc))) from None
    if land_source:
        try:
            conds.append(parcel.land_source == LandSource.parse(land_source.strip()).value)
        except ValueError as exc:
            raise ValidationFailed(Problem("查询", "land_source", str(exc))) from None
    return conds


def _preload_jurisdictions(s: Session) -> None:
    # Jurisdictions are few: load them once so parcel.zone / parcel.county hit the identity map.
    s.scalars(select(Jurisdiction)).all()


def _bbox_condition(db: Database, bbox):
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValidationFailed(Problem("查询", "bbox", "应为4个数：最小经度,最小纬度,最大经度,最大纬度")) from None
    if minx > maxx or miny > maxy:
        raise ValidationFailed(Problem("查询", "bbox", "最小值大于最大值"))
    if db.dialect == "postgresql":
        return Parcel.geometry.op("&&")(func.ST_MakeEnvelope(minx, miny, maxx, maxy, CANONICAL_EPSG))
    return and_(Parcel.max_lon >= minx, Parcel.min_lon <= maxx,
                Parcel.max_lat >= miny, Parcel.min_lat <= maxy)


def parcel_card(db: Database, code: str, *, viewer: Principal) -> dict[str, Any]:
    """一宗一卡: the parcel's facts, geometry, users, contract, agreement, development,
    enterprise figures and its whole history (一地一档), as ``viewer`` may see it, and
    ``permissions`` — what the viewer may change here (``edit_parcel``: the parcel's facts;
    ``edit_records``: its occupancy, contract, agreement and development records), so a page
    offers only the edits the API would accept.

    A parcel outside the viewer's scope is "not found". Unless the viewer may read the
    confidential data of this parcel (officials and departments of its jurisdiction; an
    enterprise for its own occupancy only) the card leaves out what the public must never
    see: enterprises' credit codes and yearly figures (tax, output, …), contract prices and
    the names of the officials in the history.
    """
    with db.reader() as s:
        p = visible_parcel(s, code, viewer)
        occupancies = s.scalars(select(Occupancy).where(Occupancy.parcel_id == p.id)
                                .order_by(Occupancy.role, Occupancy.start_date)).all()
        contract = s.scalar(select(SupplyContract).where(SupplyContract.parcel_id == p.id)
                            .order_by(SupplyContract.signed_date.desc()))
        agreement = s.scalar(select(PerformanceAgreement).where(PerformanceAgreement.parcel_id == p.id)
                             .order_by(PerformanceAgreement.signed_date.desc()))
        development = s.scalar(select(ParcelDevelopment).where(ParcelDevelopment.parcel_id == p.id))
        ent_ids = [o.enterprise_id for o in occupancies]
        figures = s.scalars(select(EnterpriseFigure).where(EnterpriseFigure.enterprise_id.in_(ent_ids))
                            .order_by(EnterpriseFigure.year)).all() if ent_ids else []
        by_ent: dict[int, dict[int, dict[str, Any]]] = {}
        for f in figures:
            by_ent.setdefault(f.enterprise_id, {}).setdefault(f.year, {})[f.indicator] = {
                "value": f.value, "unit": f.unit, "department": f.department}
        card = {
            "parcel": parcel_properties(s, p),
            "geometry": shapely.geometry.mapping(p.geometry),
            "occupancies": [{
                "id": o.id,
                "version": o.version,
                "enterprise_name": o.enterprise.name,
                "credit_code": o.enterprise.credit_code,
                "industry_code": o.enterprise.industry_code,
                "above_scale": o.enterprise.above_scale,
                "role": o.role, "role_label": OccupancyRole(o.role).label,
                "area_m2": o.area_m2, "area_mu": round(float(m2_to_mu(o.area_m2)), 4),
                "start_date": o.start_date.isoformat(),
                "end_date": o.end_date.isoformat() if o.end_date else None,
                "figures": by_ent.get(o.enterprise_id, {}),
            } for o in occupancies],
            "contract": plain_record(contract, exclude={"parcel_id"}) if contract else None,
            "agreement": plain_record(agreement, exclude={"parcel_id", "contract_id"}) if agreement else None,
            "development": plain_record(development, exclude={"parcel_id"}) if development else None,
            "history": _history(s, p),
        }
        county_id, zone_id = p.county_id, p.zone_id
        ledgers_ok = sees_ledgers(s, viewer, p)
    jurisdiction_ok = audit.sees_parcel_in_full(viewer, county_id, zone_id)
    for o, ent in zip(card["occupancies"], ent_ids):
        if not (jurisdiction_ok or viewer.sees_confidential_of(county_id, zone_id, ent)):
            o.pop("credit_code")
            o.pop("figures")
    if not ledgers_ok:
        card["contract"] = card["agreement"] = card["development"] = None
    if not jurisdiction_ok:
        card["history"] = [audit.masked(h) for h in card["history"]]
    card["permissions"] = {"edit_parcel": viewer.can_edit_in(county_id, zone_id, Action.EDIT_PARCELS),
                           "edit_records": viewer.can_edit_in(county_id, zone_id, Action.EDIT_ENTERPRISES)}
    return card


def visible_parcel(s: Session, code: str, viewer: Principal) -> Parcel:
    """The parcel, if ``viewer`` may see it; otherwise NotFound (existence not revealed)."""
    p = s.scalar(select(Parcel).where(Parcel.code == _code_key(code), access.parcel_condition(viewer)))
    if p is None:
        raise NotFound("宗地", code)
    return p


def sees_ledgers(s: Session, viewer: Principal, parcel: Parcel) -> bool:
    """Whether ``viewer`` may read the parcel's contract, 履约监管协议 and development facts:
    the officials and departments of its jurisdiction, and an enterprise using the parcel —
    the terms an enterprise agreed to are its own business and the officials'."""
    if audit.sees_parcel_in_full(viewer, parcel.county_id, parcel.zone_id):
        return True
    return viewer.role is Role.ENTERPRISE and viewer.enterprise_id is not None and s.scalar(
        select(Occupancy.id).where(Occupancy.parcel_id == parcel.id,
                                   Occupancy.enterprise_id == viewer.enterprise_id).limit(1)) is not None


def plain_record(obj, exclude: set[str] = frozenset()) -> dict[str, Any]:
    """A record's columns as JSON values (dates ISO, geometries WKT), with the Chinese label
    beside each vocabulary value (``state_label`` …)."""
    out = {}
    for attr in obj.__mapper__.column_attrs:
        if attr.key in exclude:
            continue
        value = to_json_value(getattr(obj, attr.key))
        out[attr.key] = value
        if attr.key in LABELLED_FIELDS and value is not None:
            out[f"{attr.key}_label"] = LABELLED_FIELDS[attr.key](value).label
    return out


def parcel_history(db: Database, code: str, viewer: Principal = SYSTEM) -> list[dict[str, Any]]:
    """一地一档: every recorded change of the parcel and its related records, oldest first,
    as ``viewer`` may read it (see :func:`history_page`)."""
    return history_page(db, code, viewer=viewer, limit=None)[0]


def history_page(db: Database, code: str, *, viewer: Principal, sort: list[tuple[str, bool]] | None = None,
                 limit: int | None = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of the parcel's archive (oldest first unless ``sort`` says otherwise) and its size.

    A parcel outside the viewer's view is "not found". Like the card, the archive names the
    officials and shows before/after values only to the officials and departments of the
    parcel's jurisdiction (``audit.sees_parcel_in_full``); others read what changed
    and when.
    """
    with db.reader() as s:
        p = visible_parcel(s, code, viewer)
        items, total = audit.query_entries(s, ChangeLog.parcel_id == p.id, sort or [("at", False)], limit, offset)
        full = audit.sees_parcel_in_full(viewer, p.county_id, p.zone_id)
    return (items if full else [audit.masked(h) for h in items]), total


def _history(s: Session, p: Parcel) -> list[dict[str, Any]]:
    return audit.query_entries(s, ChangeLog.parcel_id == p.id, [("at", False)], None, 0)[0]
