"""增存挂钩: compute, store and show a year's new construction-land quota allocation.

The formula is ``domain.quota`` (settings: the rulebook's ``[quota]``). Each county's revival
figures are the 消化处置率 figures of ``services.dashboard.disposal`` — the same definition
(``[disposal_rate]``) the 驾驶舱 shows — read for the parcels of that county: with
``zones_only`` (default) the parcels inside the 产业集聚区 lying in the county's territory
(000:811 weighs the revival *in the zones*), else every parcel of the county. The revived
area is always in 亩 (the ``area`` basis); the rate follows ``[disposal_rate] basis``.

The figures are the registry as it stands when the run is computed (the run records that
day as ``as_of`` and keeps every figure it used); a past day cannot be recomputed, since the
registry keeps no state-by-date index — the stored run is the record of what was decided.

Access: computing and storing a run is the city's (市领导小组办公室 / 市自然资源和规划局: role
city_admin); every official and department may read the runs (the allocation is one city-wide
table); enterprises and the public may not (403 / 401).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from ..domain import quota as q
from ..domain.access import Principal, Role, as_principal
from ..domain.errors import Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..storage.db import Database
from ..storage.kaoping_schema import QuotaAllocation, QuotaRun
from ..storage.schema import Jurisdiction
from . import dashboard
from .audit import local_today
from .rules import load_rulebook

#: Roles that may read quota runs (the public and enterprises may not).
READERS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER, Role.DEPARTMENT})
#: Keys a caller may override for one run (a scenario); the run records them.
OVERRIDABLE = frozenset(q.QuotaParameters.__dataclass_fields__) | {"zones_only"}


def _require_read(p: Principal) -> None:
    if p.is_public:
        raise Unauthorized()
    if p.role not in READERS:
        raise Forbidden(f"{p.role.label}无权查看增存挂钩指标分配")


def _require_run(p: Principal) -> None:
    if p.is_public:
        raise Unauthorized()
    if p.role is not Role.CITY_ADMIN:
        raise Forbidden("只有市级管理员可以计算和保存增存挂钩指标分配")


def _year(year: Any) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ValidationFailed(Problem("增存挂钩指标分配", "year", f"年度应为 2000–2100 的整数，实际为 {year!r}"))
    return year


def settings_with(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The ``[quota]`` section with a run's overrides (unknown keys refused)."""
    settings = dict(load_rulebook().section("quota"))
    for key, value in (overrides or {}).items():
        if key not in OVERRIDABLE:
            raise ValidationFailed(Problem("增存挂钩指标分配", f"parameters.{key}", "不是可调整的分配参数；可调整："
                                           + "、".join(sorted(OVERRIDABLE))))
        settings[key] = value
    return settings


def county_figures(db: Database, *, zones_only: bool, kaoping_year: int | None = None) -> list[q.CountyFigures]:
    """Each county's revival figures (module docstring), in county-code order; with
    ``kaoping_year`` also its published annual 考评 total of that year."""
    rulebook = load_rulebook()
    rate_settings = dict(rulebook.section("disposal_rate"))
    area_settings = {**rate_settings, "basis": "area"}
    with db.reader() as s:
        counties = s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name)
                             .where(Jurisdiction.kind == "county").order_by(Jurisdiction.code)).all()
        zones = s.execute(select(Jurisdiction.id, Jurisdiction.territory_county_id)
                          .where(Jurisdiction.kind == "zone")).all()
    scores = _kaoping_totals(db, kaoping_year) if kaoping_year is not None else {}
    out = []
    for c in counties:
        # The county's parcels as a scope: its zones (by territory) and, unless zones_only,
        # its parcels outside any zone — the same scoping every read uses.
        scope = Principal(username=f"quota:{c.code}", role=Role.COUNTY_ADMIN,
                          zone_ids=frozenset(z.id for z in zones if z.territory_county_id == c.id),
                          county_ids=frozenset() if zones_only else frozenset({c.id}))
        area = dashboard.disposal(db, viewer=scope, settings=area_settings)
        rate = area if rate_settings.get("basis", "area") == "area" else \
            dashboard.disposal(db, viewer=scope, settings=rate_settings)
        out.append(q.CountyFigures(code=c.code, name=c.name, identified_mu=round(area["identified"], 4),
                                   revived_mu=round(area["disposed"], 4), rate=rate["rate"],
                                   kaoping=scores.get(c.code) if kaoping_year is not None else None))
    return out


def _kaoping_totals(db: Database, year: int) -> dict[str, float]:
    from . import kaoping  # the annual 考评 of the previous year feeds the quota (000:1304)

    totals = kaoping.published_totals(db, year, "county")
    if totals is None:
        raise ValidationFailed(Problem("增存挂钩指标分配", "kaoping_share",
                                       f"考评得分份额大于 0，但 {year} 年度考评尚未发布，无法取得各县（市、区）考评得分"))
    return totals


def compute(db: Database, year: int, total_mu: float, *, viewer: Principal | str,
            parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The allocation of ``total_mu`` 亩 for ``year`` as it would come out now (not stored)."""
    viewer = as_principal(viewer)
    _require_run(viewer)
    year = _year(year)
    settings = settings_with(parameters)
    params = q.QuotaParameters.from_settings(settings)
    zones_only = bool(settings.get("zones_only", True))
    figures = county_figures(db, zones_only=zones_only, kaoping_year=year - 1 if params.kaoping_share > 0 else None)
    result = q.allocate(total_mu, figures, params)
    return {"year": year, "as_of": local_today().isoformat(), "rulebook_version": load_rulebook().label,
            **result.to_dict(), "parameters": {**params.to_dict(), "zones_only": zones_only},
            "basis": _basis_text(zones_only)}


def _basis_text(zones_only: bool) -> str:
    where = "产业集聚区内" if zones_only else "全县（市、区）"
    return (f"盘活面积：{where}认定的低效、闲置用地中已消化处置的面积（亩）；消化处置率按规则库 [disposal_rate]"
            "（与驾驶舱相同）；依据 000:811")


def allocate(db: Database, year: int, total_mu: float, *, actor: Principal | str, reason: str | None = None,
             parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """Compute and store a run (one transaction); returns it as :func:`get_run` does."""
    actor = as_principal(actor)
    result = compute(db, year, total_mu, viewer=actor, parameters=parameters)
    with db.transaction(actor=actor.actor, reason=reason or f"{year} 年度增存挂钩指标分配") as s:
        ids = dict(s.execute(select(Jurisdiction.code, Jurisdiction.id).where(Jurisdiction.kind == "county")).all())
        run = QuotaRun(year=result["year"], total_mu=result["total_mu"], as_of=date.fromisoformat(result["as_of"]),
                       parameters=result["parameters"], explanation=result["explanation"],
                       rulebook_version=result["rulebook_version"], actor=actor.actor, reason=reason)
        s.add(run)
        s.flush()
        for c in result["counties"]:
            s.add(QuotaAllocation(run_id=run.id, county_id=ids[c["code"]], identified_mu=c["identified_mu"],
                                  revived_mu=c["revived_mu"], rate=c["rate"], kaoping=c["kaoping"],
                                  participates=c["participates"], components=c["components"], weight=c["weight"],
                                  bound=c["bound"], exact_mu=c["exact_mu"], allocated_mu=c["allocated_mu"]))
        s.flush()
        run_id = run.id
    return get_run(db, run_id, viewer=actor)


def _run_view(s, run: QuotaRun) -> dict[str, Any]:
    rows = s.execute(select(QuotaAllocation, Jurisdiction.code, Jurisdiction.name)
                     .join(Jurisdiction, Jurisdiction.id == QuotaAllocation.county_id)
                     .where(QuotaAllocation.run_id == run.id).order_by(Jurisdiction.code)).all()
    counties = [{"code": code, "name": name, "identified_mu": a.identified_mu, "revived_mu": a.revived_mu,
                 "rate": a.rate, "kaoping": a.kaoping, "participates": a.participates, "components": a.components,
                 "weight": a.weight, "bound": a.bound, "exact_mu": a.exact_mu, "allocated_mu": a.allocated_mu}
                for a, code, name in rows]
    return {"id": run.id, "year": run.year, "total_mu": run.total_mu, "as_of": run.as_of.isoformat(),
            "parameters": run.parameters, "explanation": run.explanation, "rulebook_version": run.rulebook_version,
            "actor": run.actor, "at": run.at.isoformat(), "reason": run.reason, "counties": counties,
            "allocated_total_mu": round(sum(c["allocated_mu"] for c in counties), 6),
            "basis": _basis_text(bool(run.parameters.get("zones_only", True)))}


def get_run(db: Database, run_id: int, *, viewer: Principal | str) -> dict[str, Any]:
    """One stored run with its county lines."""
    _require_read(as_principal(viewer))
    with db.reader() as s:
        run = s.get(QuotaRun, run_id)
        if run is None:
            raise NotFound("增存挂钩指标分配", str(run_id))
        return _run_view(s, run)


def year_view(db: Database, year: int, *, viewer: Principal | str) -> dict[str, Any]:
    """The latest run of ``year`` (404 when none) and the list of all its runs."""
    _require_read(as_principal(viewer))
    year = _year(year)
    with db.reader() as s:
        runs = s.scalars(select(QuotaRun).where(QuotaRun.year == year).order_by(QuotaRun.id.desc())).all()
        if not runs:
            raise NotFound("增存挂钩指标分配", f"{year} 年度")
        latest = _run_view(s, runs[0])
        history = [{"id": r.id, "total_mu": r.total_mu, "as_of": r.as_of.isoformat(), "actor": r.actor,
                    "at": r.at.isoformat(), "reason": r.reason} for r in runs]
    return {**latest, "runs": history}


def latest_total(db: Database, year: int, *, viewer: Principal | str) -> float:
    """The total of ``year``'s latest run (to recompute it with today's figures); 404 when none."""
    _require_run(as_principal(viewer))
    year = _year(year)
    with db.reader() as s:
        total = s.scalar(select(QuotaRun.total_mu).where(QuotaRun.year == year).order_by(QuotaRun.id.desc()).limit(1))
    if total is None:
        raise NotFound("增存挂钩指标分配", f"{year} 年度")
    return float(total)


def run_count(db: Database, year: int) -> int:
    """How many runs ``year`` has (for tests and the CLI)."""
    with db.reader() as s:
        return int(s.scalar(select(func.count()).select_from(QuotaRun).where(QuotaRun.year == year)) or 0)
