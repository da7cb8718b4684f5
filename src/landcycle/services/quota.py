"""增存挂钩: compute, store and show a year's new construction-land quota allocation.

The formula is ``domain.quota`` (settings: the rulebook's ``[quota]``). Each county's revival
figures are the 处置台账's as of the run's ``as_of`` — ``services.disposal.progress``, the one
definition of the 消化处置率 (``[disposal_rate]``), which the 驾驶舱 and the quarterly 通报 show
too — summed from its rows (:func:`county_figures`); a county (县（市、区）) is credited with the
产业集聚区 lying in its territory:

* ``zones_only`` (default; 000:811 weighs the revival *in the zones*): the sum of the zone rows
  of the zones whose territory is the county (经开区's zone lies in 魏都区 and counts there,
  though its ledger row answers to the 管委会);
* else: the county's own row (its zones and its land outside any zone) plus the zone rows of the
  zones in its territory that answer to a 管委会 (whose row is not a participant).

Summing rows is exact: each row counts a parcel once and the zone / county rows partition the
parcels (``services.dashboard.sum_rows``). 认定 is in the rate's unit (``[disposal_rate] basis``:
亩, or 宗: the run's ``parameters.disposal_unit``); the rate is ``domain.progress.disposal_rate``
of the sums; 盘活面积 (``revived_mu``, the ledger's, against the 1.37万亩 goal) is always 亩.

``as_of`` defaults to today; a past day gives the figures the ledger had on that day (the
ledger answers any date); a future day is refused. A stored run keeps every figure it used and
its ``as_of`` — re-reading the ledger later (entries closed since, say) never changes it.

Access: computing and storing a run is the city's (市领导小组办公室 / 市自然资源和规划局: role
city_admin); every official and department may read the runs (the allocation is one city-wide
table); enterprises and the public may not (403 / 401).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from ..domain import quota as q
from ..domain.access import Principal, Role, as_principal, system_principal
from ..domain.errors import Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..storage.db import Database
from ..storage.kaoping_schema import QuotaAllocation, QuotaRun
from ..domain.vocabulary import JurisdictionKind
from ..storage.schema import Jurisdiction
from . import dashboard, disposal
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


def county_figures(db: Database, *, zones_only: bool, as_of: date,
                   kaoping_year: int | None = None) -> list[q.CountyFigures]:
    """Each county's revival figures as of ``as_of`` from the ledger's progress rows (module
    docstring), in county-code order; with ``kaoping_year`` also its published annual 考评 total
    of that year."""
    figures = disposal.progress(db, as_of=as_of, viewer=system_principal("增存挂钩"))
    zone_rows = {r["code"]: r for r in figures["zones"]}
    county_rows = {r["code"]: r for r in figures["counties"]}
    with db.reader() as s:
        kinds = dict(s.execute(select(Jurisdiction.id, Jurisdiction.kind)).all())
        counties = s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name)
                             .where(Jurisdiction.kind == JurisdictionKind.COUNTY.value).order_by(Jurisdiction.code)).all()
        zones = s.execute(select(Jurisdiction.code, Jurisdiction.territory_county_id, Jurisdiction.parent_id)
                          .where(Jurisdiction.kind == JurisdictionKind.ZONE.value)).all()
    scores = _kaoping_totals(db, kaoping_year) if kaoping_year is not None else {}
    out = []
    for c in counties:
        inside = [z for z in zones if z.territory_county_id == c.id]
        if zones_only:
            rows = [zone_rows[z.code] for z in inside if z.code in zone_rows]
        else:
            rows = [county_rows[c.code]] if c.code in county_rows else []
            rows += [zone_rows[z.code] for z in inside if z.code in zone_rows
                     and kinds.get(z.parent_id) == JurisdictionKind.MANAGEMENT_AREA.value]
        row = dashboard.sum_rows(rows, figures["goal_rate"], code=c.code, name=c.name)
        out.append(q.CountyFigures(code=c.code, name=c.name, identified_mu=row["identified"],
                                   revived_mu=row["revived_mu"], rate=row["rate"],
                                   kaoping=scores.get(c.code) if kaoping_year is not None else None,
                                   unit=figures["unit"]))
    return out


def _kaoping_totals(db: Database, year: int) -> dict[str, float]:
    from . import kaoping  # the annual 考评 of the previous year feeds the quota (000:1304)

    totals = kaoping.published_totals(db, year, "county")
    if totals is None:
        raise ValidationFailed(Problem("增存挂钩指标分配", "kaoping_share",
                                       f"考评得分份额大于 0，但 {year} 年度考评尚未发布，无法取得各县（市、区）考评得分"))
    return totals


def _as_of(as_of: Any) -> date:
    """The day the figures are read: default today; a day not after today (ValidationFailed)."""
    today = local_today()
    if as_of is None:
        return today
    if isinstance(as_of, str):
        try:
            as_of = date.fromisoformat(as_of)
        except ValueError:
            raise ValidationFailed(Problem("增存挂钩指标分配", "as_of", f"统计日期应为 YYYY-MM-DD，实际为 {as_of!r}"))
    if not isinstance(as_of, date):
        raise ValidationFailed(Problem("增存挂钩指标分配", "as_of", f"统计日期无效：{as_of!r}"))
    if as_of > today:
        raise ValidationFailed(Problem("增存挂钩指标分配", "as_of",
                                       f"统计日期 {as_of.isoformat()} 晚于今天（{today.isoformat()}），台账尚无该日数据"))
    return as_of


def compute(db: Database, year: int, total_mu: float, *, viewer: Principal | str,
            parameters: dict[str, Any] | None = None, as_of: date | str | None = None) -> dict[str, Any]:
    """The allocation of ``total_mu`` 亩 for ``year`` from the ledger's figures as of ``as_of``
    (default today; module docstring) — not stored."""
    viewer = as_principal(viewer)
    _require_run(viewer)
    year = _year(year)
    day = _as_of(as_of)
    settings = settings_with(parameters)
    params = q.QuotaParameters.from_settings(settings)
    zones_only = bool(settings.get("zones_only", True))
    figures = county_figures(db, zones_only=zones_only, as_of=day,
                             kaoping_year=year - 1 if params.kaoping_share > 0 else None)
    result = q.allocate(total_mu, figures, params)
    unit = figures[0].unit if figures else "亩"
    return {"year": year, "as_of": day.isoformat(), "rulebook_version": load_rulebook().label,
            **result.to_dict(), "parameters": {**params.to_dict(), "zones_only": zones_only, "disposal_unit": unit},
            "basis": _basis_text(zones_only, day.isoformat())}


def _basis_text(zones_only: bool, as_of: str) -> str:
    where = "县（市、区）境内各产业集聚区" if zones_only else "全县（市、区）（含境内管委会管理的产业集聚区）"
    return (f"数据来源：处置台账截至 {as_of} 的消化处置进度（与驾驶舱、季度通报同一口径，规则库 [disposal_rate]），"
            f"范围为{where}；盘活面积为台账中已消化处置并盘活的宗地面积（亩）；依据 000:811")


def allocate(db: Database, year: int, total_mu: float, *, actor: Principal | str, reason: str | None = None,
             parameters: dict[str, Any] | None = None, as_of: date | str | None = None) -> dict[str, Any]:
    """Compute (figures as of ``as_of``, default today) and store a run (one transaction);
    returns it as :func:`get_run` does."""
    actor = as_principal(actor)
    result = compute(db, year, total_mu, viewer=actor, parameters=parameters, as_of=as_of)
    with db.transaction(actor=actor.actor, reason=reason or f"{year} 年度增存挂钩指标分配") as s:
        ids = dict(s.execute(select(Jurisdiction.code, Jurisdiction.id)
                             .where(Jurisdiction.kind == JurisdictionKind.COUNTY.value)).all())
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
            "basis": _basis_text(bool(run.parameters.get("zones_only", True)), run.as_of.isoformat())}


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
