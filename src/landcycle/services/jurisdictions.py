"""Jurisdictions: the city, its counties, management areas and the 10 产业集聚区."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

import numpy as np
import pyogrio
import shapely
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..data import BOUNDARIES_FILE, JURISDICTIONS_FILE
from ..domain.errors import Problem, ValidationFailed
from ..domain.geometry import as_multipolygon, gk_areas_m2, rectangle_around
from ..domain.vocabulary import JurisdictionKind
from ..storage.db import Database
from ..storage.schema import Jurisdiction, JurisdictionAlias

#: Zone outlines are kept this far inside their county boundary (degrees ≈ 50 m).
_INSET_DEG = 0.0005


@dataclass(frozen=True)
class ReferenceLoadResult:
    counties: int
    management_areas: int
    zones: int


def read_boundaries() -> list[dict]:
    """The shipped county/city boundaries as dicts with shapely geometries (read via GDAL)."""
    _meta, _fids, wkb, fields = pyogrio.raw.read(BOUNDARIES_FILE)
    names = _meta["fields"]
    cols = dict(zip(names, fields))
    geoms = shapely.from_wkb(wkb)
    return [
        {"code": cols["code"][i], "name": cols["name"][i], "level": cols["level"][i],
         "source": cols["source"][i], "geometry": as_multipolygon(geoms[i])}
        for i in range(len(geoms))
    ]


def _upsert(session: Session, code: str, **values) -> Jurisdiction:
    j = session.scalar(select(Jurisdiction).where(Jurisdiction.code == code))
    if j is None:
        j = Jurisdiction(code=code)
        session.add(j)
    for k, v in values.items():
        if k == "geometry":
            if v is not None and (j.geometry is None or not j.geometry.equals_exact(v, 1e-9)):
                j.geometry = v
        elif getattr(j, k) != v:
            setattr(j, k, v)
    return j


def _set_aliases(session: Session, j: Jurisdiction, aliases: list[str]) -> None:
    have = {a.alias for a in j.aliases}
    for alias in aliases:
        if alias not in have:
            j.aliases.append(JurisdictionAlias(alias=alias))


def load_reference_jurisdictions(db: Database, actor: str = "system") -> ReferenceLoadResult:
    """Load (or refresh) the city, counties, management areas and zones. Idempotent."""
    boundaries = read_boundaries()
    config = tomllib.loads(JURISDICTIONS_FILE.read_text(encoding="utf-8"))
    areas, _ = gk_areas_m2([b["geometry"] for b in boundaries])
    with db.transaction(actor=actor, reason="加载行政区划与产业集聚区基础数据") as s:
        by_code: dict[str, Jurisdiction] = {}
        city_code = config["city_code"]
        city_row = next(b for b in boundaries if b["code"] == city_code)
        idx = {b["code"]: i for i, b in enumerate(boundaries)}
        city = _upsert(s, city_code, name=city_row["name"], kind=JurisdictionKind.CITY.value,
                       geometry=city_row["geometry"], area_m2=float(areas[idx[city_code]]),
                       source=city_row["source"], lead_industries=[])
        s.flush()
        by_code[city_code] = city
        counties = []
        for b in boundaries:
            if b["code"] == city_code:
                continue
            c = _upsert(s, b["code"], name=b["name"], kind=JurisdictionKind.COUNTY.value,
                        parent_id=city.id, geometry=b["geometry"],
                        area_m2=float(areas[idx[b["code"]]]), source=b["source"], lead_industries=[])
            counties.append(c)
            by_code[b["code"]] = c
        s.flush()
        for m in config.get("management_area", []):
            j = _upsert(s, m["code"], name=m["name"], kind=JurisdictionKind.MANAGEMENT_AREA.value,
                        parent_id=city.id, lead_industries=[], source="管委会（无独立行政边界）")
            s.flush()
            _set_aliases(s, j, m.get("aliases", []))
            by_code[m["code"]] = j
        zones = config.get("zone", [])
        outlines = []
        for z in zones:
            lon, lat = z["anchor"]
            point = shapely.Point(lon, lat)
            county = next((c for c in counties if c.geometry.contains(point)), None)
            if county is None:
                raise ValidationFailed(Problem(f"产业集聚区 {z['name']}", "anchor",
                                               "定位点不在任何县(市、区)边界内"))
            rect = rectangle_around(lon, lat, z["width_km"], z["height_km"])
            outline = as_multipolygon(shapely.intersection(rect, county.geometry.buffer(-_INSET_DEG)))
            outlines.append((z, county, outline))
        zone_areas, _ = gk_areas_m2([o for _, _, o in outlines])
        for (z, county, outline), area in zip(outlines, zone_areas):
            j = _upsert(
                s, z["code"], name=z["name"], kind=JurisdictionKind.ZONE.value,
                parent_id=by_code[z["parent"]].id, territory_county_id=county.id,
                lead_industries=list(z["lead_industries"]),
                tax_target_min_wan=float(z["tax_target_min"]),
                tax_target_max_wan=float(z["tax_target_max"]) if "tax_target_max" in z else None,
                geometry=outline, area_m2=float(area),
                source="示意范围（合成，位于真实县界内）",
            )
            s.flush()
            _set_aliases(s, j, z.get("aliases", []))
        return ReferenceLoadResult(len(counties), len(config.get("management_area", [])), len(zones))


def resolve(session: Session, key: str, kind: JurisdictionKind | None = None,
            record: str = "", field: str = "zone") -> Jurisdiction:
    """Find a jurisdiction by code, name or alias; raise a Chinese ValidationFailed if unknown."""
    key = (key or "").strip()
    q = (select(Jurisdiction).outerjoin(JurisdictionAlias)
         .where(or_(Jurisdiction.code == key, Jurisdiction.name == key, JurisdictionAlias.alias == key)))
    if kind is not None:
        q = q.where(Jurisdiction.kind == kind.value)
    j = session.scalars(q).first()
    if j is None:
        what = kind.label if kind else "辖区"
        raise ValidationFailed(Problem(record or what, field, f"未知的{what}“{key}”", code="unknown_jurisdiction"))
    return j


def jurisdiction_features(db: Database) -> dict:
    """All jurisdictions as a GeoJSON FeatureCollection (boundaries in EPSG:4490 lon/lat)."""
    with db.reader() as s:
        rows = s.scalars(select(Jurisdiction).order_by(Jurisdiction.id)).all()
        by_id = {j.id: j for j in rows}
        features = []
        for j in rows:
            county = by_id.get(j.territory_county_id) if j.territory_county_id else (
                j if j.kind == JurisdictionKind.COUNTY.value else None)
            features.append({
                "type": "Feature",
                "id": j.code,
                "geometry": shapely.geometry.mapping(j.geometry) if j.geometry is not None else None,
                "properties": {
                    "code": j.code, "name": j.name, "kind": j.kind,
                    "kind_label": JurisdictionKind(j.kind).label,
                    "parent_code": by_id[j.parent_id].code if j.parent_id else None,
                    "county_code": county.code if county else None,
                    "aliases": [a.alias for a in j.aliases],
                    "lead_industries": j.lead_industries,
                    "tax_target_min_wan": j.tax_target_min_wan,
                    "tax_target_max_wan": j.tax_target_max_wan,
                    "area_m2": j.area_m2,
                    "source": j.source,
                },
            })
    return {"type": "FeatureCollection", "features": features}


def zone_area_overlaps(db: Database) -> float:
    """Largest pairwise overlap between zone outlines, in m² (0 for a consistent layout)."""
    with db.reader() as s:
        geoms = [j.geometry for j in s.scalars(select(Jurisdiction).where(
            Jurisdiction.kind == JurisdictionKind.ZONE.value))]
    worst = 0.0
    for i in range(len(geoms)):
        for k in range(i + 1, len(geoms)):
            inter = shapely.intersection(geoms[i], geoms[k])
            if not inter.is_empty:
                worst = max(worst, float(gk_areas_m2(np.array([inter]))[0][0]))
    return worst
