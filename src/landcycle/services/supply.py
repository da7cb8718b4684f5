"""云上看地: the published 年度可供土地清单 for everyone — a paged, filtered list and one parcel's
public page — and the demo's synthetic list entries.

What is public: exactly the parcels ``services.access.public_parcel_condition`` selects — those
on the current published editions of the list (``services.supply_lists`` compiles, reviews and
publishes them), the same set as the ``supply`` tile layer and the public API parcel reads, so the
map and the list agree — with an explicit whitelist of facts: the parcel's location, area, zone
and county, land use, land source, planning conditions and 标准地 flag, and from its current list
entry the expected price, conditions, procedure, cycle, suitable industries, 标准地 control
indicators and a public office's phone. Nothing about enterprises, their figures, contracts or
officials is read here at all.

The list year shown is the newest year of the current entries (None before any edition is
published, when the legacy set — parcels in ``PUBLIC_STATES`` — is shown without entries).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely.geometry
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from ..domain.access import PUBLIC_STATES
from ..domain.errors import NotFound, Problem, ValidationFailed
from ..domain.supply_list import category_label
from ..domain.rules.standard_land import INDICATORS as STANDARD_INDICATORS
from ..domain.vocabulary import (
    LandSource,
    SupplyMethod,
    land_use_label,
)
from ..storage.db import Database
from ..storage.history import insert_with_history
from ..storage.ids import BulkIdAllocator
from ..storage.schema import Jurisdiction, Parcel
from ..storage.json_lists import json_list_contains
from ..storage.supply_schema import SupplyList, SupplyListEntry
from . import access, registry, rules

#: Fields the public list can be sorted by (API ``sort``).
SUPPLY_SORT_FIELDS = ("code", "area_mu", "expected_price_wan", "county", "zone")
MAX_PAGE = 1000
#: Chinese name of a 标准地 project class (rulebook ``standard_land.classes.<key>.label``).
_STANDARD_CLASS_LABELS = {"traditional_industry": "传统工业类", "warehouse_logistics": "仓储物流类",
                          "rd_headquarters": "研发总部类"}


# --------------------------------------------------------------------------- reading
def _current_year(s: Session) -> int | None:
    """The newest list year of the current (published) entries (None: nothing published yet)."""
    return s.scalar(select(func.max(SupplyListEntry.list_year)).where(SupplyListEntry.is_current.is_(True)))


def _public_rows(s: Session, year: int | None = None):
    """The public parcels (``access.public_parcel_condition``) left-joined to their current
    entry, with zone and county. (``year`` is unused: each parcel has at most one current entry.)"""
    zone, county = aliased(Jurisdiction), aliased(Jurisdiction)
    entry_on = and_(SupplyListEntry.parcel_id == Parcel.id, SupplyListEntry.is_current.is_(True))
    q = (select(Parcel, SupplyListEntry, zone, county)
         .outerjoin(SupplyListEntry, entry_on)
         .outerjoin(zone, zone.id == Parcel.zone_id)
         .join(county, county.id == Parcel.county_id)
         .where(access.public_parcel_condition(Parcel)))
    return q, zone, county


def _number(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed(Problem("查询", field, f"应为数字（亩），实际为“{value}”")) from None
    if not np.isfinite(out) or out < 0:
        raise ValidationFailed(Problem("查询", field, f"应为不小于 0 的数字（亩），实际为“{value}”"))
    return out


def list_supply(db: Database, *, county: str | None = None, zone: str | None = None,
                min_mu: float | str | None = None, max_mu: float | str | None = None,
                land_source: str | None = None, industry: str | None = None,
                sort: list[tuple[str, bool]] | None = None, limit: int = 20, offset: int = 0) -> dict[str, Any]:
    """A page of the published supply list: ``{"items", "total", "total_area_mu", "list_year",
    "facets"}``. Filters: county / zone (code, name or alias), area range in 亩, land source
    (value or label), an industry the entry suits. ``facets`` lists the industries and land
    sources present on the whole list (for the filter menus). Bad input → 422 naming the field.
    """
    lo, hi = _number(min_mu, "min_mu"), _number(max_mu, "max_mu")
    if lo is not None and hi is not None and lo > hi:
        raise ValidationFailed(Problem("查询", "max_mu", f"面积上限（{hi:g} 亩）不能小于下限（{lo:g} 亩）"))
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(Problem("查询", "limit", f"每页条数应在1到{MAX_PAGE}之间"))
    if offset < 0:
        raise ValidationFailed(Problem("查询", "offset", "偏移量不能为负"))
    with db.reader() as s:
        year = _current_year(s)
        q, zone_j, county_j = _public_rows(s, year)
        conds = registry.jurisdiction_conditions(s, county, zone) + registry.ledger_conditions(None, land_source)
        if lo is not None:
            conds.append(Parcel.area_mu >= lo)
        if hi is not None:
            conds.append(Parcel.area_mu <= hi)
        if industry:
            conds.append(json_list_contains(SupplyListEntry.suitable_industries, industry.strip()))
        columns = {"code": Parcel.code, "area_mu": Parcel.area_mu, "expected_price_wan": SupplyListEntry.expected_price_wan,
                   "county": county_j.code, "zone": zone_j.code}
        order = []
        for name, desc in sort or []:
            if name not in columns:
                raise ValidationFailed(Problem("查询", "sort", f"不能按“{name}”排序，可选：{'、'.join(SUPPLY_SORT_FIELDS)}"))
            col = columns[name]
            # NULLs (no price yet) last either way, the same on both backends.
            order += [col.is_(None), col.desc() if desc else col.asc()]
        filtered = q.where(*conds)
        sub = filtered.subquery()
        total, total_mu = s.execute(select(func.count(), func.coalesce(func.sum(sub.c.area_mu), 0.0))).one()
        rows = s.execute(filtered.order_by(*order, Parcel.code).limit(limit).offset(offset)).all()
        items = [_summary(p, e, z, c) for p, e, z, c in rows]
        facets = _facets(s, year)
    return {"items": items, "total": int(total), "total_area_mu": round(float(total_mu), 2),
            "list_year": year, "facets": facets, "limit": limit, "offset": offset}


def _facets(s: Session, year: int | None) -> dict[str, list]:
    q, _, _ = _public_rows(s, year)
    sub = q.with_only_columns(Parcel.land_source, SupplyListEntry.suitable_industries).subquery()
    industries: dict[str, int] = {}
    sources: dict[str, int] = {}
    for source, inds in s.execute(select(sub.c.land_source, sub.c.suitable_industries)):
        if source:
            sources[source] = sources.get(source, 0) + 1
        for ind in (json.loads(inds) if isinstance(inds, str) else inds) or []:
            industries[ind] = industries.get(ind, 0) + 1
    return {
        "industries": [{"value": k, "label": k, "count": v} for k, v in sorted(industries.items())],
        "land_sources": [{"value": m.value, "label": m.label, "count": sources.get(m.value, 0)} for m in LandSource],
    }


def _bbox(p: Parcel) -> list[float]:
    return [round(p.min_lon, 6), round(p.min_lat, 6), round(p.max_lon, 6), round(p.max_lat, 6)]


def _summary(p: Parcel, e: SupplyListEntry | None, zone: Jurisdiction | None, county: Jurisdiction) -> dict[str, Any]:
    """The list row of one parcel: public facts only (an explicit whitelist)."""
    return {
        "code": p.code,
        "location": p.location,
        "area_mu": round(p.area_mu, 2),
        "area_m2": round(p.area_m2, 2),
        "county_code": county.code, "county_name": county.name,
        "zone_code": zone.code if zone else None, "zone_name": zone.name if zone else None,
        "land_use": p.land_use, "land_use_label": land_use_label(p.land_use),
        "land_source": p.land_source,
        "land_source_label": LandSource(p.land_source).label if p.land_source else None,
        "is_standard_land": bool(p.is_standard_land),
        "plot_ratio_min": p.plot_ratio_min, "plot_ratio_max": p.plot_ratio_max,
        "list_year": e.list_year if e else None,
        "category": e.category if e else None,
        "category_label": category_label(e.category) if e and e.category else None,
        "supply_method_label": SupplyMethod(e.supply_method).label if e and e.supply_method else None,
        "expected_price_wan": e.expected_price_wan if e else None,
        "suitable_industries": list(e.suitable_industries or []) if e else [],
        "bbox": _bbox(p),
    }


def supply_parcel(db: Database, code: str) -> dict[str, Any]:
    """One parcel of the published list with every public fact and its outline (GeoJSON,
    EPSG:4490 lon/lat). NotFound (404) for a parcel that is not on the list — the same answer
    as for a code that does not exist, so the public learns nothing about other parcels."""
    with db.reader() as s:
        year = _current_year(s)
        q, _, _ = _public_rows(s, year)
        row = s.execute(q.where(Parcel.code == (code or "").strip())).first()
        if row is None:
            raise NotFound("可供土地", code)
        p, e, zone, county = row
        out = _summary(p, e, zone, county)
        out.update({
            "building_density_min": p.building_density_min,
            "green_ratio_max": p.green_ratio_max,
            "height_limit_m": p.height_limit_m,
            "supply_method": e.supply_method if e else None,
            "supply_conditions": e.supply_conditions if e else None,
            "supply_procedure": e.supply_procedure if e else None,
            "supply_cycle": e.supply_cycle if e else None,
            "standard_land_class": e.standard_land_class if e else None,
            "standard_land_class_label": _STANDARD_CLASS_LABELS.get(e.standard_land_class) if e else None,
            "standard_indicators": _indicators(e.standard_indicators if e else None),
            "contact_office": e.contact_office if e else None,
            "contact_phone": e.contact_phone if e else None,
            "published_at": e.published_at.isoformat() if e and e.published_at else None,
            "geometry": shapely.geometry.mapping(p.geometry),
        })
    return out


def _indicators(values: dict | None) -> list[dict[str, Any]]:
    """标准地 indicators as rows in the rulebook's order: key, Chinese name, ≥/≤, value, unit."""
    values = values or {}
    rows = []
    for _field, key, label, unit, percent in STANDARD_INDICATORS:
        if values.get(key) is None:
            continue
        rows.append({"key": key, "label": label, "bound": "≤" if key.endswith("_max") else "≥",
                     "value": values[key], "unit": "%" if percent else unit, "percent": percent})
    return rows


# --------------------------------------------------------------------------- demo
#: Public office phones of the demo list (clearly fictitious numbers: 0374-0000xxxx).
_DEMO_OFFICE = "{county}自然资源局土地利用科（演示）"
_DEMO_CONDITIONS = ("净地出让：权属清晰，征地安置补偿到位，无法律经济纠纷；规划条件已明确；"
                    "已具备通水、通电、通路和土地平整条件（演示数据）")
_DEMO_PROCEDURE = {
    "transfer": "项目入驻评审 → 公告挂牌出让 → 签订出让合同和履约监管协议 → 办理不动产登记",
    "lease_then_transfer": "项目入驻评审 → 签订租赁合同和履约监管协议 → 达产验收合格后办理出让",
    "lease_and_transfer": "项目入驻评审 → 部分出让、部分租赁 → 签订合同和履约监管协议",
}
_DEMO_CYCLE = {
    "transfer": "挂牌出让，约 40 个工作日（公告不少于 20 日，挂牌不少于 10 个工作日）",
    "lease_then_transfer": "先租后让，租赁合同约 20 个工作日签订",
    "lease_and_transfer": "租让结合，约 30 个工作日",
}


#: The demo edition's approval document (clearly fictitious).
DEMO_DOCUMENT = {"title": "许昌市年度可供土地清单批准文件（演示）", "number": "许自然资〔演示〕1号"}


def write_demo_entries(session: Session, year: int, seed: int, published_at: datetime | None = None
                       ) -> tuple[int, int]:
    """Publish the demo's city edition of the ``year`` list: every synthetic listed parcel with
    plausible, clearly synthetic values (price from the area, the zone's lead industries, 标准地
    indicators from the rulebook's floors, tightened a little for some zones). Returns (entries
    written, change-log rows written): each row gets its "create" row (``insert_with_history``),
    and earlier synthetic editions (emptied by a demo replacement) are marked superseded."""
    conn = session.connection()
    zone, county = aliased(Jurisdiction), aliased(Jurisdiction)
    rows = conn.execute(
        select(Parcel.id, Parcel.area_mu, Parcel.is_standard_land, zone.lead_industries, zone.code, county.code,
               county.name)
        .outerjoin(zone, zone.id == Parcel.zone_id).join(county, county.id == Parcel.county_id)
        .where(Parcel.is_synthetic.is_(True), Parcel.state.in_(sorted(PUBLIC_STATES)))
        .order_by(Parcel.id)).all()
    if not rows:
        return 0, 0
    rng = np.random.default_rng([seed, 8])
    when = published_at or datetime(year, 1, 15, 2, 0, tzinfo=UTC)
    logged = _supersede_demo_editions(session, when)
    list_id = _demo_edition(session, year, when)
    ids = BulkIdAllocator(conn).take(SupplyListEntry.__table__, len(rows)).tolist()
    book = rules.load_rulebook()
    classes = book.section("standard_land")["classes"]
    methods = ["transfer"] * 8 + ["lease_then_transfer", "lease_and_transfer"]
    out = []
    for i, (pid, area_mu, standard, leads, _zone_code, _county_code, county_name) in enumerate(rows):
        method = methods[int(rng.integers(0, len(methods)))]
        leads = [x for x in (json.loads(leads) if isinstance(leads, str) else leads) or []] or ["装备制造"]
        picks = sorted(set(rng.choice(leads, size=min(len(leads), int(rng.integers(1, 3))), replace=False).tolist()))
        cls = "traditional_industry" if rng.random() < 0.8 else "warehouse_logistics"
        indicators = {}
        if standard:
            tighten = 1.0 + float(rng.choice([0.0, 0.0, 0.1, 0.2]))
            for _f, key, _l, _u, _p in STANDARD_INDICATORS:
                floor = classes[cls].get(key)
                if not floor:  # no floor for this class (e.g. 亩均产值 of 仓储物流类)
                    continue
                value = floor * tighten if key.endswith("_min") else floor
                indicators[key] = round(float(value), 2 if key.endswith(("_ratio_max", "coverage_min")) else 1)
        out.append({
            "id": ids[i], "parcel_id": pid, "list_year": year, "list_id": list_id, "category": "listed",
            "is_current": True, "supply_method": method,
            # 起始价: 12–22 万元/亩 (synthetic; industrial land near Xuchang is of this order).
            "expected_price_wan": round(float(area_mu) * float(rng.uniform(12, 22)), 1),
            "supply_conditions": _DEMO_CONDITIONS,
            "supply_procedure": _DEMO_PROCEDURE[method],
            "supply_cycle": _DEMO_CYCLE[method],
            "suitable_industries": picks,
            "standard_land_class": cls if standard else None,
            "standard_indicators": indicators,
            "contact_office": _DEMO_OFFICE.format(county=county_name),
            "contact_phone": f"0374-0000{1000 + int(rng.integers(0, 9000)):04d}",
            "published_at": when, "is_synthetic": True,
            "created_at": when, "updated_at": when, "version": 1,
        })
    insert_with_history(session, SupplyListEntry, out)
    return len(out), len(out) + logged + 1


def _supersede_demo_editions(session: Session, when: datetime) -> int:
    """Mark earlier published synthetic editions superseded (their entries went with the demo
    parcels they listed); returns the change-log rows written (one per edition)."""
    old = session.scalars(select(SupplyList).where(SupplyList.is_synthetic.is_(True),
                                                   SupplyList.status == "published")).all()
    for edition in old:
        edition.status, edition.superseded_at = "superseded", when
    session.flush()
    return len(old)


def _demo_edition(session: Session, year: int, when: datetime) -> int:
    """Insert the demo's published city edition of ``year``; returns its id."""
    conn = session.connection()
    city = conn.scalar(select(Jurisdiction.id).where(Jurisdiction.kind == "city").order_by(Jurisdiction.id).limit(1))
    edition = (conn.scalar(select(func.max(SupplyList.edition)).where(
        SupplyList.year == year, SupplyList.jurisdiction_id == city)) or 0) + 1
    list_id = BulkIdAllocator(conn).take(SupplyList.__table__, 1).tolist()[0]
    insert_with_history(session, SupplyList, [{
        "id": list_id, "year": year, "jurisdiction_id": city, "edition": edition, "status": "published",
        "based_on_id": None, "title": f"许昌市{year}年度可供土地清单（演示）", "note": "演示数据（合成）",
        "document_title": DEMO_DOCUMENT["title"], "document_number": DEMO_DOCUMENT["number"],
        "document_date": when.date(), "compiled_by": "demo", "submitted_by": "demo", "submitted_at": when,
        "published_by": "demo", "published_at": when, "superseded_by_id": None, "superseded_at": None,
        "steps": [{"step": "publish", "actor": "demo", "at": when.isoformat(), "comment": "演示数据（合成）"}],
        "is_synthetic": True, "created_at": when, "updated_at": when, "version": 1}])
    return list_id
