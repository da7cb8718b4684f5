"""The annual evaluation, vectorised: R1–R4 for every parcel and enterprise of one year.

Pure: numpy arrays in (:class:`EvaluationInputs`), arrays out (:class:`EvaluationResult`). The
service (``services.evaluation``) reads the registry in bulk, calls :func:`evaluate` and writes
the results. One formula per concept: R1 uses ``mu_average.tax_total``/``per_mu``, R2 uses
``classify.indicator_values``/``item_scores``/``total_scores``/``bands``/``not_evaluated_reason``;
R3 and R4 mirror ``idle.check_idle`` and ``low_efficiency.check_low_efficiency`` with the same
rulebook keys and the same ``RATIO_EPS``, and tests check they agree case by case.

Readings (decisions where the data or the rules leave room):

* **As of** — the year's 31 December. An occupancy is active if it started on or before that day
  and has not ended before it. Dated facts after that day (start, stop, acceptance) have not
  happened yet. Non-dated development facts (developed area, investment, built form) are the
  registry's current values: it keeps no history of them other than the change log.
* **R1 per parcel** — each enterprise's yearly figures are apportioned to its active occupancies by
  area; the parcel's total is the sum over its occupants: the owner plus its tenants
  (``mu_average.merge_tenants``); a 标准厂房 (``parcels.is_standard_factory``) over its tenants only
  (``mu_average.standard_factory_over_tenants``). 亩均 = total ÷ parcels.area_mu. NaN when no
  active occupant of the parcel has figures for the year.
* **R1/R2 per enterprise** — the enterprise's land unit: for each parcel it owns, its share of the
  parcel (certificated area, built or not) and of the parcel's merged figures; for each tenancy,
  the leased area and its own figures. All additive figures (tax, output, value added, energy,
  emissions, employees, R&D, revenue) are merged the same way, so every ratio refers to the same
  land and the same firms. A tenant is therefore scored on its own tenancy and also counted in its
  landlord's land unit, as R1 prescribes (000:1072).
* **R2 not evaluated** — ``classify.not_evaluated_reason`` with: production years = full years from
  the earliest production start of the enterprise's active occupancies (owner: 达产验收 passed →
  its date, else 竣工验收 passed → its date; tenant: the tenancy start) to the as-of day; an
  enterprise holding land but producing nowhere counts as "在建项目" (the registry has no "major
  project" flag). An enterprise without active land is not evaluated either (亩均 cannot be
  computed). Vetoes: the registry records no safety/environmental/tax violations yet — none apply.
  Bands within 规上 and within 规下 separately, over the evaluated enterprises city-wide.
* **R3** — parcels with a supply contract signed by the as-of day (the latest one) and not
  reclaimed (an owner occupancy that ended with no active successor). Developed-area ratio =
  developed area ÷ parcel area; investment ratio = investment done ÷ total investment. The
  government-caused exception (第八条) has no field in the registry: ``government_caused`` is an
  input of :func:`idle_outcomes` but the service passes False (open point).
* **R4** — 产业转型类 from the owner's industry code (the rulebook's obsolete list; there are no
  fields for environment/safety failure or 关停并转 listing). 停建缓建类: the scalar rule's
  ``started`` is fed "started AND (stopped by the as-of day OR past the agreed completion date)":
  a project building on schedule is not 停建缓建. 开发未达标类: the 7 committed indicators of the
  履约监管协议 vs actuals from the development record (ratios over parcels.area_m2, investment
  intensity = investment done ÷ area_mu, output intensity = the parcel's R1 亩均产值). 停产半停产类:
  the owner's consecutive years with profit ≤ 0 ending at the year (annual figures: years are whole
  years, counted up to ``floor(halted_no_profit_years_over) + 1`` years back, enough to decide
  "more than N"). 产出未达标类: the owner's R2 class. 其他: ``"other"`` in
  parcels.inefficiency_categories (a leading-group designation; the reason is not a field).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..units import M2_PER_MU
from ..vocabulary import InefficiencyCategory as Cat
from .classify import bands, indicator_values, item_scores, not_evaluated_reason, total_scores
from .idle import RATIO_EPS as IDLE_EPS
from .low_efficiency import RATIO_EPS as LE_EPS
from .low_efficiency import _industry_obsolete
from .mu_average import per_mu, tax_total
from .rulebook import Rulebook

#: Bumped whenever a change here can change stored results (stored with every run).
METHOD_VERSION = "1"

NAT = np.datetime64("NaT", "D")

#: Additive yearly figures merged over a land unit (R1/R2).
ADDITIVE = ("tax", "industrial_output", "value_added", "energy_use", "emissions", "employees",
            "rd_spending", "revenue")
#: Raw indicators read from enterprise_figures for the year.
FIGURES = ("tax_paid", "tax_refunded", "industrial_output", "value_added", "energy_use", "emissions",
           "employees", "rd_spending", "revenue", "profit")

#: R3 outcomes, as small integer codes (index) → idle.OUTCOMES keys (plus "not_applicable").
IDLE_CODES = ("not_applicable", "not_yet_due", "not_idle", "idle_fee", "reclaim", "government_caused",
              "undetermined")
_I = {k: i for i, k in enumerate(IDLE_CODES)}
#: Outcomes that mean "闲置" (R4's ``idle`` input).
IDLE_TRUE = ("idle_fee", "reclaim", "government_caused")

#: R4 category bits, in InefficiencyCategory order.
CATEGORY_BITS = {c: 1 << i for i, c in enumerate(Cat)}
#: The 7 contract indicators, bit i in ``below_contract_mask`` / ``unchecked_mask`` (bit 8 = 停建缓建).
INDICATORS = ("plot_ratio", "building_density", "investment_intensity", "output_intensity",
              "building_coverage", "green_ratio", "office_living_ratio")
UNCHECKED_STALLED_BIT = 1 << len(INDICATORS)


# =========================================================================== inputs
@dataclass
class EvaluationInputs:
    """Everything one year's evaluation reads, as arrays (NaN / NaT = missing).

    Parcel arrays have length P, enterprise arrays E, occupancy arrays O; ``occ_parcel`` and
    ``occ_enterprise`` are positions (0..P-1, 0..E-1), not database ids.
    """

    year: int
    # parcels
    parcel_id: np.ndarray
    area_mu: np.ndarray
    area_m2: np.ndarray
    zone_id: np.ndarray  # -1 = none
    standard_factory: np.ndarray
    designated_other: np.ndarray
    # the parcel's latest contract signed by the as-of day, and its agreement
    signed_date: np.ndarray
    agreed_start: np.ndarray
    agreed_completion: np.ndarray
    price_wan: np.ndarray
    committed: dict[str, np.ndarray]  # INDICATORS → committed value (NaN = not committed)
    # development
    actual_start: np.ndarray
    stopped_since: np.ndarray
    developed_area_m2: np.ndarray
    investment_done_wan: np.ndarray
    investment_total_wan: np.ndarray
    completion_passed: np.ndarray
    completion_date: np.ndarray
    production_passed: np.ndarray
    production_date: np.ndarray
    floor_area_m2: np.ndarray
    footprint_m2: np.ndarray
    coverage_area_m2: np.ndarray
    green_area_m2: np.ndarray
    office_living_area_m2: np.ndarray
    # enterprises
    enterprise_id: np.ndarray
    industry_code: np.ndarray  # object (str or None)
    above_scale: np.ndarray
    figures: dict[str, np.ndarray]  # FIGURES → value for the year (NaN = not reported)
    profit_history: np.ndarray  # (E, k): column j = profit of year − j (NaN = not reported)
    # occupancies
    occ_id: np.ndarray
    occ_parcel: np.ndarray
    occ_enterprise: np.ndarray
    occ_owner: np.ndarray
    occ_area_m2: np.ndarray
    occ_start: np.ndarray
    occ_end: np.ndarray

    @property
    def as_of(self) -> np.datetime64:
        return np.datetime64(f"{self.year}-12-31", "D")


@dataclass
class EvaluationResult:
    """Per-parcel and per-enterprise results (arrays aligned with the inputs)."""

    parcel: dict[str, np.ndarray] = field(default_factory=dict)
    enterprise: dict[str, np.ndarray] = field(default_factory=dict)


# =========================================================================== dates
def _ymd(d: np.ndarray):
    d = np.asarray(d, dtype="datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    return (y.astype(np.int64) + 1970, (m - y.astype("datetime64[M]")).astype(np.int64) + 1,
            (d - m.astype("datetime64[D]")).astype(np.int64) + 1)


def _leap(y: np.ndarray) -> np.ndarray:
    return (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))


def full_years(start: np.ndarray, end) -> np.ndarray:
    """``idle.full_years`` on arrays: full years from ``start`` to ``end`` (anniversary counts;
    29 Feb → 28 Feb in common years); 0 where ``end`` < ``start``; -1 where ``start`` is NaT."""
    start = np.asarray(start, dtype="datetime64[D]")
    end = np.broadcast_to(np.asarray(end, dtype="datetime64[D]"), start.shape)
    ys, ms, ds = _ymd(start)
    ye, me, de = _ymd(end)
    n = ye - ys
    ds_adj = np.where((ms == 2) & (ds == 29) & ~_leap(ys + n), 28, ds)
    later = (ms > me) | ((ms == me) & (ds_adj > de))
    n = np.where((n > 0) & later, n - 1, n)
    n = np.where(end < start, 0, n)
    return np.where(np.isnat(start) | np.isnat(end), -1, n)


def _on_or_before(d: np.ndarray, as_of) -> np.ndarray:
    """Date known and not after ``as_of``."""
    return ~np.isnat(d) & (d <= as_of)


def _ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sum of finite ``values`` per ``index``; NaN where no finite value."""
    ok = np.isfinite(values)
    total = np.bincount(index[ok], weights=values[ok], minlength=size)
    count = np.bincount(index[ok], minlength=size)
    return np.where(count > 0, total, np.nan)


# =========================================================================== R3
def idle_outcomes(rules: dict[str, Any], as_of, applicable: np.ndarray, agreed_start: np.ndarray,
                  actual_start: np.ndarray, developed_ratio: np.ndarray, investment_ratio: np.ndarray,
                  stopped_since: np.ndarray, government_caused: np.ndarray, price_wan: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """``idle.check_idle`` on arrays. Returns ``code`` (index into IDLE_CODES), ``since`` (the day
    the delay runs from), ``years`` (full years of delay; -1 none) and ``fee_wan`` (NaN unless
    idle_fee with a price)."""
    fee_years, reclaim_years = int(rules["fee_after_years"]), int(rules["reclaim_after_years"])
    dev_below, inv_below = float(rules["developed_ratio_below"]), float(rules["investment_ratio_below"])
    stop_years = int(rules["stopped_years"])
    n = len(agreed_start)
    code = np.full(n, _I["not_applicable"], dtype=np.int8)
    started = _on_or_before(actual_start, as_of)
    # not started: measured from the agreed start
    ns = applicable & ~started
    since = np.where(ns, agreed_start, NAT)
    # started: developed < 1/3 or invested < 25 %, and stopped
    dev_known, inv_known = np.isfinite(developed_ratio), np.isfinite(investment_ratio)
    dev_low = dev_known & (np.nan_to_num(developed_ratio) < dev_below - IDLE_EPS)
    inv_low = inv_known & (np.nan_to_num(investment_ratio) < inv_below - IDLE_EPS)
    st = applicable & started
    low = dev_low | inv_low
    undetermined = st & ~low & ~(dev_known & inv_known)
    code[st & ~low] = _I["not_idle"]
    code[undetermined] = _I["undetermined"]
    stopped = st & low & _on_or_before(stopped_since, as_of)
    code[st & low & ~stopped] = _I["not_idle"]
    since = np.where(stopped, stopped_since, since)
    measured = ns | stopped
    years = np.where(measured, full_years(since, as_of), -1)
    by_duration = np.where(years >= reclaim_years, _I["reclaim"],
                           np.where(years >= fee_years, _I["idle_fee"], _I["not_idle"])).astype(np.int8)
    by_duration = np.where(stopped & (years < stop_years), _I["not_idle"], by_duration).astype(np.int8)
    code[measured] = by_duration[measured]
    code[ns & (as_of < agreed_start)] = _I["not_yet_due"]
    years = np.where(ns & (as_of < agreed_start), 0, years)
    idle = np.isin(code, [_I["idle_fee"], _I["reclaim"]])
    code[idle & government_caused] = _I["government_caused"]
    fee = np.where((code == _I["idle_fee"]) & np.isfinite(price_wan),
                   np.round(price_wan * float(rules["fee_rate"]), 4), np.nan)
    return {"code": code, "since": np.where(measured, since, NAT), "years": years, "fee_wan": fee}


# =========================================================================== R4
def low_efficiency_masks(rules: dict[str, Any], obsolete: np.ndarray, env_or_safety_failing: np.ndarray,
                         in_shutdown_list: np.ndarray, started: np.ndarray, developed_ratio: np.ndarray,
                         investment_ratio: np.ndarray, idle: np.ndarray, completed: np.ndarray,
                         producing: np.ndarray, committed: dict[str, np.ndarray], actual: dict[str, np.ndarray],
                         years_without_profit: np.ndarray, enterprise_class: np.ndarray,
                         designated_other: np.ndarray) -> dict[str, np.ndarray]:
    """``low_efficiency.check_low_efficiency`` on arrays (``obsolete`` already resolved from the
    industry code). Returns ``mask`` (CATEGORY_BITS), ``below_contract_mask`` (bit i =
    INDICATORS[i] falls short) and ``unchecked_mask`` (bit i = committed but not reported;
    UNCHECKED_STALLED_BIT = 停建缓建 ratios missing)."""
    n = len(started)
    dev_above = float(rules["stalled_developed_ratio_above"])
    inv_above = float(rules["stalled_investment_ratio_above"])
    halted_over = float(rules["halted_no_profit_years_over"])
    floors, ceilings = list(rules["below_contract_floors"]), list(rules["below_contract_ceilings"])
    mask = np.zeros(n, dtype=np.int64)
    unchecked = np.zeros(n, dtype=np.int64)
    short = np.zeros(n, dtype=np.int64)

    mask |= np.where(obsolete | env_or_safety_failing | in_shutdown_list,
                     CATEGORY_BITS[Cat.INDUSTRY_TRANSFORMATION], 0)

    building = started & ~completed
    known = np.isfinite(developed_ratio) & np.isfinite(investment_ratio)
    unchecked |= np.where(building & ~known, UNCHECKED_STALLED_BIT, 0)
    stalled = (building & known & (np.nan_to_num(developed_ratio) > dev_above + LE_EPS)
               & (np.nan_to_num(investment_ratio) > inv_above + LE_EPS) & ~idle)
    mask |= np.where(stalled, CATEGORY_BITS[Cat.CONSTRUCTION_STALLED], 0)

    cp = completed & producing
    for i, key in enumerate(INDICATORS):
        if key not in floors and key not in ceilings:
            continue
        c = committed.get(key)
        if c is None:
            continue
        a = actual.get(key, np.full(n, np.nan))
        has_c, has_a = cp & np.isfinite(c), np.isfinite(a)
        unchecked |= np.where(has_c & ~has_a, 1 << i, 0)
        cv, av = np.nan_to_num(c), np.nan_to_num(a)
        bad = (av < cv - LE_EPS) if key in floors else (av > cv + LE_EPS)
        short |= np.where(has_c & has_a & bad, 1 << i, 0)
    mask |= np.where(short != 0, CATEGORY_BITS[Cat.BELOW_CONTRACT], 0)

    halted = completed & np.isfinite(years_without_profit) & (
        np.nan_to_num(years_without_profit) > halted_over + LE_EPS)
    mask |= np.where(halted, CATEGORY_BITS[Cat.PRODUCTION_HALTED], 0)

    mask |= np.where(cp & (enterprise_class == str(rules["output_shortfall_class"])),
                     CATEGORY_BITS[Cat.OUTPUT_SHORTFALL], 0)
    mask |= np.where(designated_other, CATEGORY_BITS[Cat.OTHER], 0)
    return {"mask": mask, "below_contract_mask": short, "unchecked_mask": unchecked}


def obsolete_industries(codes: np.ndarray, listed: list[str]) -> np.ndarray:
    """``low_efficiency._industry_obsolete`` per code (computed once per distinct code)."""
    codes = np.asarray(codes, dtype=object)
    uniq, inv = np.unique(np.array([c or "" for c in codes.tolist()], dtype=object), return_inverse=True)
    hit = np.array([_industry_obsolete(u or None, listed) is not None for u in uniq.tolist()], dtype=bool)
    return hit[inv] if len(codes) else np.zeros(0, dtype=bool)


def consecutive_loss_years(profit_history: np.ndarray) -> np.ndarray:
    """Years with profit ≤ 0, counted back from column 0 until a profitable or unreported year."""
    loss = np.nan_to_num(profit_history, nan=1.0) <= 0
    if loss.shape[1] == 0:
        return np.zeros(loss.shape[0])
    run = np.cumprod(loss, axis=1).sum(axis=1)
    return np.where(np.isnan(profit_history[:, 0]), np.nan, run.astype(float))


def history_years(rules_low_efficiency: dict[str, Any]) -> int:
    """How many years of profit (the year and earlier) decide 停产半停产类."""
    return int(math.floor(float(rules_low_efficiency["halted_no_profit_years_over"]))) + 1


# =========================================================================== the evaluation
def _not_evaluated(rules: dict, industry: np.ndarray, prod_years: np.ndarray, under_construction: np.ndarray
                   ) -> np.ndarray:
    """``classify.not_evaluated_reason`` per enterprise (once per distinct input combination)."""
    keys = [(c or None, int(y) if y >= 0 else None, bool(u))
            for c, y, u in zip(industry.tolist(), prod_years.tolist(), under_construction.tolist())]
    memo: dict[tuple, str | None] = {}
    out = np.empty(len(keys), dtype=object)
    for i, k in enumerate(keys):
        if k not in memo:
            memo[k] = not_evaluated_reason(rules, *k)
        out[i] = memo[k]
    return out


NO_LAND_REASON = "无有效用地（未占用宗地），亩均指标无法计算，不参评"


def evaluate(inp: EvaluationInputs, rulebook: Rulebook) -> EvaluationResult:
    """R1–R4 for every parcel and enterprise of ``inp.year`` (as of its 31 December)."""
    as_of = inp.as_of
    mu_rules = rulebook.section("mu_average")
    cl_rules = rulebook.section("classify")
    idle_rules = rulebook.section("idle")
    le_rules = rulebook.section("low_efficiency")
    add_back = bool(mu_rules["add_back_refunds"])
    P, E = len(inp.parcel_id), len(inp.enterprise_id)

    # ---- active occupancies, sorted by id (sums are order-dependent in the last bit)
    act = _on_or_before(inp.occ_start, as_of) & (np.isnat(inp.occ_end) | (inp.occ_end >= as_of))
    order = np.argsort(inp.occ_id, kind="stable")
    sel = order[act[order]]
    op, oe, own = inp.occ_parcel[sel], inp.occ_enterprise[sel], inp.occ_owner[sel].astype(bool)
    oarea = inp.occ_area_m2[sel].astype(float)
    ten = ~own

    # ---- R1: figures per enterprise, apportioned to occupancies by area, merged per parcel
    f = inp.figures
    ent = {"tax": np.asarray(tax_total(f["tax_paid"], np.nan_to_num(f["tax_refunded"]), add_back), dtype=float)}
    for k in ADDITIVE[1:]:
        ent[k] = np.asarray(f[k], dtype=float)
    ent_area = np.bincount(oe, weights=oarea, minlength=E)
    w = _ratio(oarea, ent_area[oe])
    sf = inp.standard_factory.astype(bool)
    over_tenants = sf[op] & bool(mu_rules["standard_factory_over_tenants"])
    included = np.where(own, ~over_tenants, bool(mu_rules["merge_tenants"]) | over_tenants)
    contrib = {k: w * v[oe] for k, v in ent.items()}
    has_data = np.bincount(op[np.isfinite(contrib["tax"])], minlength=P) > 0
    parcel_tot = {}
    for k, c in contrib.items():
        s = _sum_by(op[included], c[included], P)
        parcel_tot[k] = np.where(has_data, np.nan_to_num(s), np.nan)
    tenants = np.bincount(op[ten], minlength=P)
    tax_mu = np.asarray(per_mu(parcel_tot["tax"], inp.area_mu), dtype=float)
    out_mu = np.asarray(per_mu(parcel_tot["industrial_output"], inp.area_mu), dtype=float)

    # ---- the enterprise's land unit (R1 per enterprise → R2)
    owner_area_on = np.bincount(op[own], weights=oarea[own], minlength=P)
    share = np.where(own, _ratio(oarea, owner_area_on[op]), 0.0)
    unit_area_mu = (np.bincount(oe[own], weights=share[own] * inp.area_mu[op[own]], minlength=E)
                    + np.bincount(oe[ten], weights=oarea[ten] / M2_PER_MU, minlength=E))
    unit = {}
    for k in ADDITIVE:
        v_own = share[own] * parcel_tot[k][op[own]]
        v_ten = contrib[k][ten]
        unit[k] = _sum_by(np.concatenate([oe[own], oe[ten]]), np.concatenate([v_own, v_ten]), E)

    # ---- production start per enterprise (R2 "not evaluated")
    prod_start_parcel = np.where(inp.production_passed.astype(bool) & _on_or_before(inp.production_date, as_of),
                                 inp.production_date,
                                 np.where(inp.completion_passed.astype(bool) & _on_or_before(inp.completion_date, as_of),
                                          inp.completion_date, NAT))
    occ_prod = np.where(own, prod_start_parcel[op], inp.occ_start[sel])
    far = np.datetime64("9999-12-31", "D")
    first_prod = np.full(E, far)
    ok = ~np.isnat(occ_prod)
    np.minimum.at(first_prod, oe[ok], occ_prod[ok])
    first_prod = np.where(first_prod == far, NAT, first_prod)
    prod_years = full_years(first_prod, as_of)
    has_land = unit_area_mu > 0
    under_construction = has_land & np.isnat(first_prod)
    reason = _not_evaluated(cl_rules, inp.industry_code, prod_years, under_construction)
    reason = np.where(has_land, reason, NO_LAND_REASON)
    evaluated = np.array([r is None for r in reason.tolist()], dtype=bool)

    # ---- R2 scores and bands, 规上 and 规下 separately
    above = inp.above_scale.astype(bool)
    score = np.full(E, np.nan)
    klass = np.full(E, None, dtype=object)
    all_items = sorted({*cl_rules["above_scale"]["weights"], *cl_rules["below_scale"]["weights"]})
    item_cols = {k: np.full(E, np.nan) for k in all_items}
    missing = np.zeros(E, dtype=np.int64)
    values = indicator_values({"land_area_mu": unit_area_mu, "tax_paid": unit["tax"], "tax_refunded": np.zeros(E),
                               "value_added": unit["value_added"], "energy_use": unit["energy_use"],
                               "emissions": unit["emissions"], "employees": unit["employees"],
                               "rd_spending": unit["rd_spending"], "revenue": unit["revenue"]},
                              add_back_refunds=False)  # refunds are already in unit["tax"]
    for grp_above, key in ((True, "above_scale"), (False, "below_scale")):
        idx = np.flatnonzero(evaluated & (above == grp_above))
        if not len(idx):
            continue
        grp = cl_rules[key]
        items = item_scores({k: v[idx] for k, v in values.items()}, grp["weights"], grp["benchmarks"],
                            cl_rules["item_cap"])
        totals = total_scores(items, cl_rules["missing_item"])
        score[idx] = totals
        klass[idx] = bands(totals, cl_rules["a_top_share"], cl_rules["c_bottom_share"])
        for k, s in items.items():
            item_cols[k][idx] = s
            missing[idx] += ~np.isfinite(s)

    # ---- the parcel's land user: the active owner with the largest share (then lowest occupancy id)
    oi = np.flatnonzero(own)
    pick = oi[np.lexsort((np.arange(len(oi)), -oarea[oi], op[oi]))]
    first = np.r_[True, op[pick][1:] != op[pick][:-1]] if len(pick) else np.zeros(0, bool)
    owner_ent = np.full(P, -1)
    owner_ent[op[pick][first]] = oe[pick][first]
    has_owner = owner_ent >= 0
    oidx = np.where(has_owner, owner_ent, 0)

    # ---- R3
    contract = _on_or_before(inp.signed_date, as_of) & ~np.isnat(inp.agreed_start)
    had_owner = np.zeros(P, dtype=bool)
    had_owner[inp.occ_parcel[inp.occ_owner.astype(bool) & _on_or_before(inp.occ_start, as_of)]] = True
    reclaimed = had_owner & ~has_owner
    dev_ratio = _ratio(inp.developed_area_m2, inp.area_m2)
    inv_ratio = _ratio(inp.investment_done_wan, inp.investment_total_wan)
    r3 = idle_outcomes(idle_rules, as_of, contract & ~reclaimed, inp.agreed_start, inp.actual_start,
                       dev_ratio, inv_ratio, inp.stopped_since, np.zeros(P, dtype=bool), inp.price_wan)
    is_idle = np.isin(r3["code"], [_I[k] for k in IDLE_TRUE])

    # ---- R4
    in_use = contract & ~reclaimed
    started = in_use & _on_or_before(inp.actual_start, as_of)
    completed = in_use & inp.completion_passed.astype(bool) & _on_or_before(inp.completion_date, as_of)
    producing = in_use & inp.production_passed.astype(bool) & _on_or_before(inp.production_date, as_of)
    halted_or_late = _on_or_before(inp.stopped_since, as_of) | (~np.isnat(inp.agreed_completion)
                                                                 & (inp.agreed_completion < as_of))
    actual = {
        "plot_ratio": _ratio(inp.floor_area_m2, inp.area_m2),
        "building_density": _ratio(inp.footprint_m2, inp.area_m2),
        "investment_intensity": _ratio(inp.investment_done_wan, inp.area_mu),
        "output_intensity": out_mu,
        "building_coverage": _ratio(inp.coverage_area_m2, inp.area_m2),
        "green_ratio": _ratio(inp.green_area_m2, inp.area_m2),
        "office_living_ratio": _ratio(inp.office_living_area_m2, inp.area_m2),
    }
    obsolete = np.zeros(P, dtype=bool)
    obsolete[has_owner] = obsolete_industries(inp.industry_code[owner_ent[has_owner]],
                                              list(le_rules["obsolete_industry_codes"]))
    ywp = np.where(has_owner, consecutive_loss_years(inp.profit_history)[oidx], np.nan)
    owner_class = np.where(has_owner, klass[oidx], None)
    r4 = low_efficiency_masks(
        le_rules, obsolete & in_use, np.zeros(P, bool), np.zeros(P, bool), started & halted_or_late,
        dev_ratio, inv_ratio, is_idle, completed, producing,
        {k: np.where(in_use, v, np.nan) for k, v in inp.committed.items()}, actual, ywp, owner_class,
        inp.designated_other.astype(bool))

    res = EvaluationResult()
    res.parcel = {
        "tax_total_wan": parcel_tot["tax"], "output_total_wan": parcel_tot["industrial_output"],
        "tax_per_mu_wan": tax_mu, "output_per_mu_wan": out_mu, "tenants": tenants,
        "owner_enterprise": owner_ent, "owner_class": owner_class,
        "idle_code": r3["code"], "idle_since": r3["since"], "idle_years": r3["years"], "idle_fee_wan": r3["fee_wan"],
        "low_efficiency_mask": r4["mask"], "below_contract_mask": r4["below_contract_mask"],
        "unchecked_mask": r4["unchecked_mask"], "years_without_profit": ywp,
    }
    res.enterprise = {
        "land_area_mu": unit_area_mu, "tax_total_wan": unit["tax"],
        "output_total_wan": unit["industrial_output"],
        "tax_per_mu_wan": values["tax_per_mu"],
        "output_per_mu_wan": np.asarray(per_mu(unit["industrial_output"], unit_area_mu), dtype=float),
        "production_years": prod_years, "evaluated": evaluated, "not_evaluated_reason": reason,
        "score": score, "class": klass, "missing_items": missing,
        "zone_id": enterprise_zones(op, oe, oarea, inp.occ_id[sel], np.ones(len(op), dtype=bool), inp.zone_id, E),
        **{f"item_{k}": v for k, v in item_cols.items()},
    }
    return res


# =========================================================================== summary
def zone_summary(zone_id: np.ndarray, area_mu: np.ndarray, tax_total_wan: np.ndarray, idle_code: np.ndarray,
                 low_efficiency_mask: np.ndarray, ent_zone_id: np.ndarray, ent_evaluated: np.ndarray,
                 ent_class: np.ndarray) -> dict[int, dict[str, Any]]:
    """Per zone: 亩均税收 (Σ tax ÷ Σ area over parcels with R1 figures), class counts, 闲置 area and
    低效 area by category (亩). Zone -1 = parcels outside any zone."""
    out: dict[int, dict[str, Any]] = {}
    idle = np.isin(idle_code, [_I[k] for k in IDLE_TRUE])
    has_r1 = np.isfinite(tax_total_wan)
    for z in np.unique(zone_id).tolist():
        m = zone_id == z
        r1 = m & has_r1
        area_r1 = float(area_mu[r1].sum())
        e = ent_zone_id == z
        counts = {c: int((e & ent_evaluated & (ent_class == c)).sum()) for c in ("A", "B", "C")}
        counts["not_evaluated"] = int((e & ~ent_evaluated).sum())
        out[int(z)] = {
            "parcels": int(m.sum()),
            "area_mu": round(float(area_mu[m].sum()), 4),
            "r1_area_mu": round(area_r1, 4),
            "tax_total_wan": round(float(tax_total_wan[r1].sum()), 4),
            "tax_per_mu_wan": round(float(tax_total_wan[r1].sum()) / area_r1, 4) if area_r1 > 0 else None,
            "classes": counts,
            "idle_area_mu": round(float(area_mu[m & idle].sum()), 4),
            "idle_parcels": int((m & idle).sum()),
            "low_efficiency_area_mu": {c.value: round(float(area_mu[m & ((low_efficiency_mask & b) != 0)].sum()), 4)
                                       for c, b in CATEGORY_BITS.items()},
            "low_efficiency_area_mu_any": round(float(area_mu[m & (low_efficiency_mask != 0)].sum()), 4),
        }
    return out


def enterprise_zones(occ_parcel: np.ndarray, occ_enterprise: np.ndarray, occ_area_m2: np.ndarray,
                     occ_id: np.ndarray, active: np.ndarray, parcel_zone: np.ndarray, n_enterprises: int
                     ) -> np.ndarray:
    """Each enterprise's zone: that of its largest active occupancy (then lowest id); -1 if none."""
    idx = np.flatnonzero(active)
    order = idx[np.lexsort((occ_id[idx], -occ_area_m2[idx], occ_enterprise[idx]))]
    out = np.full(n_enterprises, -1, dtype=np.int64)
    if len(order):
        e = occ_enterprise[order]
        first = np.r_[True, e[1:] != e[:-1]]
        out[e[first]] = parcel_zone[occ_parcel[order][first]]
    return out
