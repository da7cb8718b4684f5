"""Deterministic, synthetic demo data: ``landcycle demo [--scale N]``.

Builds a plausible 许昌 industrial-land world inside the 10 产业集聚区 outlines: parcels
(宗地) with valid 宗地代码, enterprises with valid 统一社会信用代码, owner/tenant occupancies,
supply contracts with 履约监管协议, development/acceptance facts and three years of
enterprise figures — covering every lifecycle state (DOMAIN.md §4) and every 低效 category
(R4) with the facts that make it true.

Everything is SYNTHETIC: parcels and enterprises carry ``is_synthetic=True``, enterprise
names end in "（演示）", contract numbers start with "演示-", and every change-log row says
"生成演示数据（合成）".

The demo world is frozen at :data:`DEMO_AS_OF` (2021-06-30): all dates (agreed start,
stops, acceptances, reclaims) are placed relative to it, so the verdicts a rules engine
draws from the data (闲置 per R3, 低效 per R4) are the same whenever the demo is run.
Figures cover :data:`FIGURE_YEARS` (2018–2020).

Design:

* Layout: N parcels are apportioned to the zones by zone area (largest remainder). In each
  zone's own CGCS2000 3° Gauss-Krüger projection a square grid of cells is laid over the
  outline; the cell side is ``min(360 m, sqrt(area·0.85/n_zone))`` (so the default demo has
  realistic 10–150 亩 parcels and large scales still fit), shrunk by 3 % until enough cells
  lie fully inside the outline (shapely, vectorised). The first ``n_zone`` cells in a seeded
  random order are used. Inside each cell a rectangle of seeded size and aspect is placed,
  leaving a road gap, so parcels never touch and their areas differ. Geometries are
  projected back to EPSG:4490 and measured with ``gk_areas_m2``.
* Codes: 宗地代码 = county (the zone's territory county) + 地籍区 (100 + zone number) +
  地籍子区 (1 km blocks of the zone) + "GB" + sequence within the 地籍子区.
* States: fixed shares per state (largest remainder, at least one of each state once
  N ≥ 14, at least 12 低效 parcels — two per category — once N ≥ 200), assigned by a
  seeded permutation. Each state and 低效 category has its own timeline and facts
  (see ``_timeline``/``_development``).
* Writes: one transaction, Core bulk inserts in chunks of :data:`CHUNK_ROWS` rows with
  explicit primary keys (reserved from the sequences on PostgreSQL), and the 一地一档
  change-log rows written explicitly (Core inserts bypass the ORM hook): one compact
  "create" row per parcel, enterprise (covering its figures), occupancy, contract,
  agreement and development.
* The 百园增效 year (:func:`generate_demo_year`, run by ``landcycle demo`` after the evaluation):
  plans, disposal ledgers with reports and closures, 挂牌督办 cases, one 再开发监管协议 —
  docs/demo.md. Its progress reports and notes are append-only, so a demo with its year
  cannot be replaced (``replace=True`` refuses, naming them): use a fresh database.
* ``replace=True`` deletes previously generated synthetic rows (and any rows referencing
  them) but never the change log, which is append-only: the old demo's history stays on
  file, followed by a "delete" row per removed parcel and enterprise. New rows never
  reuse an id that already appears in the change log, so archives do not mix.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable, Iterable, Sequence

import numpy as np
import shapely
from sqlalchemy import Connection, Table, bindparam, delete, func, insert, or_, select, update

from ..domain.disposal import DisposalMeasure, DisposalOutcome
from ..domain.errors import Problem, ValidationFailed
from ..domain.geometry import CANONICAL_EPSG, gk3_epsg, gk_areas_m2, project
from ..domain.identifiers import credit_code_with_check, make_parcel_code
from ..domain.units import M2_PER_MU
from ..domain.vocabulary import (
    FIGURE_DEPARTMENTS,
    FIGURE_UNITS,
    AcceptanceResult,
    FigureIndicator,
    InefficiencyCategory,
    JurisdictionKind,
    LandSource,
    LandState,
    OccupancyRole,
    SupplyMethod,
)
from ..storage.db import Database
from ..storage.disposal_schema import DisposalEntry, DisposalReport
from ..storage.history import insert_with_history
from ..storage.ids import BulkIdAllocator
from ..storage.schema import (
    Base,
    ChangeLog,
    Enterprise,
    EnterpriseFigure,
    Jurisdiction,
    Occupancy,
    Parcel,
    ParcelDevelopment,
    PerformanceAgreement,
    SupplyContract,
    utcnow,
)
from . import disposal, oversight, plan_tasks, supply
from .jurisdictions import load_reference_jurisdictions
from .rules import load_rulebook

# --------------------------------------------------------------------------- constants
#: The demo world's "today": every date is placed relative to it so that verdicts are stable.
DEMO_AS_OF = date(2021, 6, 30)
#: Years of enterprise figures.
FIGURE_YEARS = (2018, 2019, 2020)
#: The year `landcycle demo` evaluates after generating (the latest year with figures).
DEMO_EVALUATION_YEAR = FIGURE_YEARS[-1]
DEMO_ACTOR = "demo"
DEMO_REASON = "生成演示数据（合成）"
REPLACE_REASON = "替换演示数据：删除先前生成的合成数据"
#: Parcels in the default demo (``scale=None``).
DEFAULT_PARCELS = 600
MAX_SCALE = 1_000_000
#: Rows per bulk insert statement.
CHUNK_ROWS = 20_000
#: Enterprises per parcel (≈).
ENTERPRISES_PER_PARCEL = 0.8
#: 履约保函 as a share of the land price. The seeds are silent on the percentage; 10 % is
#: the demo's assumption (a rulebook setting in a real deployment).
GUARANTEE_SHARE = 0.10

#: Largest grid cell (m): parcels up to ~150 亩 fit with a road gap.
_CELL_MAX_M = 360.0
_CELL_FILL = 0.85
_BLOCK_M = 1000.0  # 地籍子区 block size

ProgressFn = Callable[[str, int, int], None]

S = LandState
C = InefficiencyCategory

#: Share of each lifecycle state (sums to 1).
STATE_SHARES: dict[LandState, float] = {
    S.RESERVE: 0.04, S.APPROVED_UNSUPPLIED: 0.06, S.LISTED: 0.05, S.SUPPLIED: 0.05,
    S.UNDER_CONSTRUCTION: 0.10, S.COMPLETED: 0.06, S.IN_PRODUCTION: 0.06, S.OPERATING: 0.32,
    S.IDLE: 0.05, S.INEFFICIENT: 0.10, S.RECTIFYING: 0.04, S.DISPOSING: 0.03,
    S.RECLAIMED: 0.02, S.SPLIT_TRANSFERRED: 0.02,
}
#: Share of each 低效 category among inefficient parcels.
CATEGORY_SHARES: dict[InefficiencyCategory, float] = {
    C.OUTPUT_SHORTFALL: 0.25, C.BELOW_CONTRACT: 0.20, C.PRODUCTION_HALTED: 0.15,
    C.CONSTRUCTION_STALLED: 0.15, C.INDUSTRY_TRANSFORMATION: 0.15, C.OTHER: 0.10,
}
_STATES = list(STATE_SHARES)
_CATS = list(CATEGORY_SHARES)
_SI = {s: i for i, s in enumerate(_STATES)}
_CI = {c: i for i, c in enumerate(_CATS)}
_UNSUPPLIED = [_SI[S.RESERVE], _SI[S.APPROVED_UNSUPPLIED], _SI[S.LISTED]]

#: GB/T 4754-2017 class codes per lead industry (DOMAIN.md §3).
INDUSTRY_CODES: dict[str, list[str]] = {
    "装备制造": ["C3421", "C3435", "C3441", "C3444", "C3511", "C3513", "C3670"],
    "高端装备": ["C3491", "C3493", "C3421", "C3720", "C3444"],
    "生物医药": ["C2710", "C2720", "C2740", "C2761", "C2770"],
    "卫生材料": ["C2770", "C1781"],
    "电力电气装备": ["C3811", "C3821", "C3823", "C3824", "C3825", "C3831"],
    "电子信息": ["C3911", "C3921", "C3973", "C3976", "C3981", "C3982"],
    "新材料": ["C2651", "C2653", "C3061", "C3089", "C3091"],
    "再生金属": ["C4210", "C3211", "C3216", "C3240", "C3252"],
    "金属制品": ["C3311", "C3331", "C3340", "C3351", "C3360"],
    "煤化工": ["C2521", "C2522", "C2614", "C2619"],
    "发制品": ["C2439"],
    "家具板材": ["C2110", "C2130", "C2021", "C2022", "C2023"],
    "纺织服装制鞋": ["C1711", "C1712", "C1819", "C1829", "C1951", "C1952"],
    "节能环保": ["C3591", "C3411", "C3463", "C4220"],
}
#: Obsolete / restricted industries for 产业转型类 (paper pulp, paper, cement, lime).
OBSOLETE_INDUSTRY_CODES = ["C2211", "C2221", "C3011", "C3012"]
#: 房地产租赁经营: the landlords of 标准厂房.
LANDLORD_INDUSTRY_CODE = "K7040"
_HEAVY_PREFIXES = ("C25", "C26", "C30", "C31", "C32", "C42", "C22")

_INDUSTRY_WORDS: dict[str, list[str]] = {
    "C34": ["机械", "装备", "重工"], "C35": ["机械", "装备", "环保设备"], "C36": ["汽车零部件"],
    "C37": ["轨道装备"], "C27": ["药业", "生物", "医疗用品"], "C17": ["纺织", "棉纺", "非织造材料"],
    "C38": ["电气", "电力设备", "电缆"], "C39": ["电子", "光电", "信息技术"],
    "C26": ["化工", "新材料"], "C30": ["新材料", "复合材料"], "C42": ["再生资源", "资源循环"],
    "C32": ["铝业", "有色金属", "铜业"], "C33": ["金属制品", "钢构"], "C25": ["煤化", "能源化工"],
    "C24": ["发制品", "工艺品"], "C21": ["家具"], "C20": ["木业", "板材"], "C18": ["服饰", "制衣"],
    "C19": ["鞋业"], "C22": ["纸业"], "K70": ["产业园开发", "标准厂房运营"],
}
_INDUSTRY_WORDS_BY_CODE = {"C3011": ["水泥"], "C3012": ["石灰"], "C2770": ["卫材", "医疗用品"]}
_TRADE_CHARS = ("瑞恒鑫源盛泰华宏达远森博丰裕通安科创新嘉信德隆昌兴福顺祥和永康润晟"
                "浩坤锦辰东方正天元金旭亿豪泓海川万融峰晖弘卓航凯耀乾晨立中汇美")
assert len(set(_TRADE_CHARS)) == 64
_COUNTY_SHORT = {"411002": "魏都", "411003": "建安", "411024": "鄢陵", "411025": "襄城",
                 "411081": "禹州", "411082": "长葛"}
_NS_ROADS = ["新元路", "永兴路", "瑞祥路", "建业路", "兴华路", "长青路", "昌盛路", "宏图路",
             "创新路", "腾飞路", "和顺路", "文昌路", "光明路", "育才路"]
_EW_ROADS = ["工业大道", "科技大道", "富民大道", "振兴大道", "祥和大道", "明珠大道", "丰源大道",
             "锦绣大道", "东方大道", "安康大道", "中原大道", "学府大道"]
_OTHER_NOTE = "经产业集聚区低效用地整治提升工作领导小组认定（演示）"

_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])  # GB 11714 组织机构代码

_AS_OF = np.datetime64(DEMO_AS_OF, "D")
_NAT = np.datetime64("NaT", "D")


@dataclass(frozen=True)
class DemoResult:
    """What :func:`generate_demo` wrote."""

    parcels: int
    enterprises: int
    occupancies: int
    contracts: int
    figures: int
    seconds: float
    agreements: int = 0
    developments: int = 0
    change_log_rows: int = 0
    replaced_parcels: int = 0
    supply_entries: int = 0


@dataclass
class _Zone:
    id: int
    code: str
    name: str
    number: int
    county_id: int
    county_code: str
    lead_industries: list[str]
    tax_min: float
    tax_max: float | None
    outline: shapely.MultiPolygon


# =========================================================================== public API
def generate_demo(db: Database, scale: int | None = None, seed: int = 20211,
                  progress: ProgressFn | None = None, *, replace: bool = False) -> DemoResult:
    """Fill ``db`` with a deterministic synthetic demo world (one transaction).

    ``scale=None`` gives the default demo (600 parcels of realistic size, every land state
    and every 低效 category); ``scale=N`` gives exactly N parcels, ≈0.8·N enterprises and the
    matching occupancies, contracts, agreements, developments and 2018–2020 figures.
    The same ``seed`` gives the same parcels, codes, areas and states.

    Refuses (``ValidationFailed``) when the database already holds parcels, unless
    ``replace=True``: then previously generated synthetic rows are deleted first (the
    append-only change log is left as it is). Real (non-synthetic) parcels are never
    mixed with demo data. ``progress(stage, done, total)`` is called at least once per chunk.
    """
    t0 = time.perf_counter()
    n = _check_scale(scale)
    report = progress or (lambda stage, done, total: None)
    with db.reader() as s:  # fail fast, before any work
        _refuse_if_occupied(s.connection(), replace)
    load_reference_jurisdictions(db)
    with db.transaction(actor=DEMO_ACTOR, reason=DEMO_REASON) as session:
        conn = session.connection()
        now = utcnow()
        replaced = _refuse_if_occupied(conn, replace)
        if replaced:
            _clear_synthetic(conn, now, report)
        zones = _read_zones(conn)
        world = _World(zones, n, seed, report)
        counts = world.write(conn, now, report)
        # 年度可供土地清单 entries for the listed parcels (云上看地), published for the demo's year.
        counts["supply_entries"], logged = supply.write_demo_entries(session, DEMO_AS_OF.year, seed)
        counts["change_log_rows"] += logged  # the published edition and a "create" row per entry
    return DemoResult(seconds=time.perf_counter() - t0, replaced_parcels=replaced, **counts)


# =========================================================================== checks
def _check_scale(scale) -> int:
    if scale is None:
        return DEFAULT_PARCELS
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or not 1 <= scale <= MAX_SCALE:
        raise ValidationFailed(Problem("演示数据", "scale",
                                       f"规模应为1到{MAX_SCALE}之间的整数（宗地数），实际为 {scale!r}",
                                       "invalid_scale"))
    return int(scale)


def _refuse_if_occupied(conn: Connection, replace: bool) -> int:
    """Number of synthetic parcels to replace; raise if the database may not take a demo."""
    p = Parcel.__table__
    total = conn.scalar(select(func.count()).select_from(p)) or 0
    synthetic = conn.scalar(select(func.count()).select_from(p).where(p.c.is_synthetic.is_(True))) or 0
    real = total - synthetic
    if real:
        raise ValidationFailed(Problem(
            "演示数据", "parcels",
            f"数据库中已有 {real} 宗真实（非演示）宗地；演示数据不能与真实数据混合，请使用空数据库",
            "real_data_present"))
    if synthetic and not replace:
        raise ValidationFailed(Problem(
            "演示数据", "parcels",
            f"数据库中已有 {synthetic} 宗宗地（先前生成的演示数据）；如需重新生成，请指定替换（--replace），"
            "将删除先前的合成数据（一地一档变更记录保留）",
            "not_empty"))
    return synthetic


def _clear_synthetic(conn: Connection, now: datetime, report: ProgressFn) -> None:
    """Delete synthetic parcels/enterprises and every row that references them (not the log)."""
    md = Base.metadata
    parcels, enterprises = md.tables["parcels"], md.tables["enterprises"]
    report("删除先前的演示数据", 0, 1)
    log = []
    for pid, code, state in conn.execute(
            select(parcels.c.id, parcels.c.code, parcels.c.state).where(parcels.c.is_synthetic.is_(True))):
        log.append(_log_row(now, "delete", "parcels", pid, pid,
                            {"code": code, "state": state, "synthetic": True}, REPLACE_REASON))
    for eid, code, name in conn.execute(
            select(enterprises.c.id, enterprises.c.credit_code, enterprises.c.name)
            .where(enterprises.c.is_synthetic.is_(True))):
        log.append(_log_row(now, "delete", "enterprises", eid, None,
                            {"credit_code": code, "name": name, "synthetic": True,
                             "note": "连同其用地关系、合同、协议、开发情况和年度数据"}, REPLACE_REASON))
    doomed = {"parcels": parcels.c.is_synthetic.is_(True),
              "enterprises": enterprises.c.is_synthetic.is_(True)}
    order = [t for t in md.sorted_tables if t.name != ChangeLog.__tablename__]
    for t in order:  # parents first: a row is doomed when it references a doomed row
        if t.name in doomed:
            continue
        parts = [fk.parent.in_(select(fk.column).where(doomed[fk.column.table.name]))
                 for fk in t.foreign_keys
                 if fk.column.table.name in doomed and fk.column.table is not t]
        if parts:
            doomed[t.name] = or_(*parts)
    _refuse_append_only(conn, doomed)
    for t in reversed(order):  # children first
        if t.name in doomed:
            conn.execute(delete(t).where(doomed[t.name]))
    for a in range(0, len(log), CHUNK_ROWS):
        conn.execute(insert(ChangeLog), log[a:a + CHUNK_ROWS])
    report("删除先前的演示数据", 1, 1)


def _append_only_tables(conn: Connection) -> set[str]:
    """Tables whose rows the database refuses to delete (the append-only triggers of the
    migrations: 流转记录, 验收记录, 分割来源 …), read from the database itself."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                                    "AND upper(sql) LIKE '%BEFORE DELETE%'")
    else:  # a user trigger firing on DELETE (tgtype bit 3)
        rows = conn.exec_driver_sql("SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                                    "WHERE NOT t.tgisinternal AND (t.tgtype & 8) <> 0")
    return {r[0] for r in rows}


def _refuse_append_only(conn: Connection, doomed: dict) -> None:
    """Replacing the demo deletes the synthetic rows; records kept append-only (workflow steps
    taken on demo parcels since) cannot be deleted, so say so instead of failing half-way."""
    from .audit import entity_label

    kept = []
    for name in sorted(_append_only_tables(conn) & set(doomed) - {"parcels", "enterprises"}):
        table = Base.metadata.tables[name]
        n = conn.scalar(select(func.count()).select_from(table).where(doomed[name])) or 0
        if n:
            kept.append(f"{entity_label(name)} {n} 条")
    if kept:
        raise ValidationFailed(Problem(
            "演示数据", "replace",
            "演示宗地上已有只能追加、不能删除的记录（" + "、".join(kept) + "），演示数据不能替换；"
            "请改用新的空数据库（例如另设 LANDCYCLE_DATA_DIR，或删除 var/landcycle.db 后再运行 landcycle demo）",
            "append_only_records"))


def _read_zones(conn: Connection) -> list[_Zone]:
    j = Jurisdiction.__table__
    county = j.alias("county")
    rows = conn.execute(
        select(j.c.id, j.c.code, j.c.name, j.c.lead_industries, j.c.tax_target_min_wan,
               j.c.tax_target_max_wan, j.c.geometry, county.c.id, county.c.code)
        .join(county, county.c.id == j.c.territory_county_id)
        .where(j.c.kind == JurisdictionKind.ZONE.value, j.c.geometry.is_not(None))
        .order_by(j.c.code)).all()
    if not rows:
        raise ValidationFailed(Problem("演示数据", "zone", "数据库中没有带边界的产业集聚区，无法布置演示宗地",
                                       "no_zones"))
    return [_Zone(id=r[0], code=r[1], name=r[2], number=i + 1, county_id=r[7], county_code=r[8],
                  lead_industries=list(r[3] or []), tax_min=float(r[4] or 15.0),
                  tax_max=None if r[5] is None else float(r[5]), outline=r[6])
            for i, r in enumerate(rows)]


# =========================================================================== helpers
def _apportion(total: int, shares: Sequence[float], minimum: int = 0) -> np.ndarray:
    """Largest-remainder split of ``total`` by ``shares``; each gets ``minimum`` if it fits."""
    w = np.asarray(shares, dtype=float)
    w = w / w.sum()
    floor_min = minimum if total >= minimum * len(w) else 0
    rest = total - floor_min * len(w)
    raw = rest * w
    out = np.floor(raw).astype(int)
    left = rest - out.sum()
    out[np.argsort(-(raw - out), kind="stable")[:left]] += 1
    return out + floor_min


def _months(rng, n: int, first: str, last: str) -> np.ndarray:
    """Random dates (day 1–28) in the months ``first``..``last`` ("YYYY-MM")."""
    m0, m1 = np.datetime64(first, "M"), np.datetime64(last, "M")
    months = m0 + rng.integers(0, int(m1 - m0) + 1, n)
    return months.astype("datetime64[D]") + rng.integers(0, 28, n)


def _add_months(d: np.ndarray, k: int) -> np.ndarray:
    m = d.astype("datetime64[M]")
    return (m + k).astype("datetime64[D]") + (d - m.astype("datetime64[D]"))


def _days(rng, n: int, lo: int, hi: int) -> np.ndarray:
    return rng.integers(lo, hi + 1, n).astype("timedelta64[D]")


def _dates(a: np.ndarray) -> list:
    """datetime64[D] → list of ``date`` (NaT → None)."""
    return a.astype("datetime64[D]").tolist()


def _floats(a: np.ndarray, nd: int = 2) -> list:
    """Floats rounded to ``nd`` decimals, NaN → None."""
    r = np.round(a.astype(float), nd)
    out = r.tolist()
    if np.isnan(r).any():
        out = [None if v != v else v for v in out]
    return out


def _log_row(at, action, entity, entity_id, parcel_id, payload, reason=DEMO_REASON, before=None) -> dict:
    before, after = (payload, None) if action == "delete" else (before, payload)
    return {"at": at, "actor": DEMO_ACTOR, "action": action, "entity": entity,
            "entity_id": entity_id, "parcel_id": parcel_id, "reason": reason,
            "before": before, "after": after}


def _credit_codes(county_codes: np.ndarray, org_numbers: np.ndarray) -> list[str]:
    """统一社会信用代码 "91" + county + 组织机构代码 (8 digits + GB 11714 check) + check.

    The GB 32100 check character comes from python-stdnum (domain.identifiers), the one
    implementation of it in the code base; 160k codes take about 0.6 s.
    """
    digits = (org_numbers[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    org_check = 11 - (digits * _ORG_WEIGHTS).sum(axis=1) % 11  # 1..11
    org_chars = np.where(org_check == 11, "0", np.where(org_check == 10, "X", org_check.astype(str)))
    bodies = np.char.add(np.char.zfill(org_numbers.astype(str), 8), org_chars)
    first17 = np.char.add(np.char.add("91", np.asarray(county_codes).astype(str)), bodies)
    return [credit_code_with_check(f) for f in first17.tolist()]


def _chunks(total: int, size: int) -> Iterable[tuple[int, int]]:
    for a in range(0, total, size):
        yield a, min(total, a + size)


# =========================================================================== the world
class _World:
    """All demo data as numpy arrays, generated from one seed, then written in chunks."""

    def __init__(self, zones: list[_Zone], n: int, seed: int, report: ProgressFn):
        self.zones = zones
        self.n = n
        seq = np.random.SeedSequence(seed)
        (self.r_layout, self.r_state, self.r_time, self.r_contract, self.r_dev, self.r_ent,
         self.r_occ, self.r_fig) = [np.random.default_rng(s) for s in seq.spawn(8)]
        report("布置宗地", 0, n)
        self._layout()
        report("布置宗地", n, n)
        self._states()
        self._timeline()
        self._contracts()
        self._development()
        self._enterprises()
        self._figures()

    # ------------------------------------------------------------------ layout
    def _layout(self) -> None:
        zones, n, rng = self.zones, self.n, self.r_layout
        gk = [gk3_epsg(z.outline.centroid.x) for z in zones]
        outlines_gk = [project(z.outline, CANONICAL_EPSG, e) for z, e in zip(zones, gk)]
        areas = np.array([o.area for o in outlines_gk])
        per_zone = _apportion(n, areas)
        parts = []
        for zi, (z, epsg, outline, nz) in enumerate(zip(zones, gk, outlines_gk, per_zone)):
            if nz == 0:
                continue
            parts.append(self._layout_zone(zi, z, epsg, outline, int(nz), rng))
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "geoms"}
        geoms = np.concatenate([p["geoms"] for p in parts])
        self.geometry = shapely.multipolygons(geoms, indices=np.arange(len(geoms)))
        self.area_m2, self.gk_epsg = gk_areas_m2(self.geometry)
        self.area_mu = self.area_m2 / M2_PER_MU
        self.bounds = shapely.bounds(self.geometry)
        self.zone_idx = cat["zone"]
        self.sub = cat["sub"]
        self.seq = cat["seq"]
        self.location = cat["location"].tolist()
        county_codes = np.array([z.county_code for z in zones])
        self.county_code = county_codes[self.zone_idx]
        self.county_id = np.array([z.county_id for z in zones])[self.zone_idx]
        self.zone_id = np.array([z.id for z in zones])[self.zone_idx]
        district = 100 + np.array([z.number for z in zones])[self.zone_idx]
        self.code = [f"{c}{d:03d}{s:03d}GB{q:05d}" for c, d, s, q in
                     zip(self.county_code.tolist(), district.tolist(), self.sub.tolist(), self.seq.tolist())]
        for i in range(min(3, n)):  # the reference composer agrees with the bulk build
            assert make_parcel_code(self.county_code[i], int(district[i]), int(self.sub[i]),
                                    int(self.seq[i])) == self.code[i]

    def _layout_zone(self, zi: int, z: _Zone, epsg: int, outline, nz: int, rng) -> dict:
        side = min(_CELL_MAX_M, math.sqrt(outline.area * _CELL_FILL / nz))
        while True:
            edge = min(20.0, 0.1 * side)
            inner = outline.buffer(-edge)
            shapely.prepare(inner)
            minx, miny, maxx, maxy = inner.bounds
            ncol = int((maxx - minx) // side)
            nrow = int((maxy - miny) // side)
            col, row = np.meshgrid(np.arange(ncol), np.arange(nrow))
            col, row = col.ravel(), row.ravel()
            x0 = minx + col * side
            y1 = maxy - row * side
            cells = shapely.box(x0, y1 - side, x0 + side, y1)
            inside = shapely.contains(inner, cells) if len(cells) else np.zeros(0, bool)
            if inside.sum() >= nz:
                break
            side *= 0.97
            if side < 5.0:
                raise ValidationFailed(Problem(f"产业集聚区 {z.name}", "scale",
                                               f"范围太小，放不下 {nz} 宗演示宗地", "zone_too_small"))
        idx = np.flatnonzero(inside)
        chosen = np.sort(idx[np.argsort(rng.random(len(idx)), kind="stable")[:nz]])
        col, row, x0, y1 = col[chosen], row[chosen], x0[chosen], y1[chosen]
        # A rectangle of seeded size/aspect inside each cell, leaving a road gap.
        gap = min(24.0, 0.12 * side)
        usable = side - gap
        target = np.clip(rng.lognormal(math.log(35.0), 0.55, nz), 10.0, 150.0) * M2_PER_MU
        cap = usable ** 2 * rng.uniform(0.55, 0.95, nz)
        a = np.minimum(target, cap)
        r = np.clip(rng.lognormal(0.0, 0.3, nz), a / usable ** 2, usable ** 2 / a)
        w, h = np.sqrt(a * r), np.sqrt(a / r)
        ox = gap / 2 + rng.random(nz) * (usable - w)
        oy = gap / 2 + rng.random(nz) * (usable - h)
        px0, py1 = x0 + ox, y1 - oy
        boxes = shapely.box(px0, py1 - h, px0 + w, py1)
        geoms = project(boxes, epsg, CANONICAL_EPSG)
        # 地籍子区 = 1 km block; sequence numbers within it in row-major order.
        cx, cy = px0 + w / 2, py1 - h / 2
        bcol = ((cx - minx) // _BLOCK_M).astype(int)
        brow = ((maxy - cy) // _BLOCK_M).astype(int)
        nbcol = int(math.ceil((maxx - minx) / _BLOCK_M))
        sub = 1 + brow * nbcol + bcol
        order = np.lexsort((col, row, sub))
        sub, row, col, cx, cy, bcol, brow = (v[order] for v in (sub, row, col, cx, cy, bcol, brow))
        geoms = geoms[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sub)) + 1]
        seq = np.arange(nz) - np.repeat(starts, np.diff(np.r_[starts, nz])) + 1
        # Location text: the nearest block corner is a crossing of two roads.
        east = ((cx - minx) % _BLOCK_M) >= _BLOCK_M / 2
        north = ((maxy - cy) % _BLOCK_M) < _BLOCK_M / 2
        ns = np.array(_NS_ROADS)[(bcol + east + 3 * zi) % len(_NS_ROADS)]
        ew = np.array(_EW_ROADS)[(brow + ~north + 2 * zi) % len(_EW_ROADS)]
        corner = np.where(east, "西", "东").astype(object) + np.where(north, "南角", "北角").astype(object)
        location = z.name + ns.astype(object) + "与" + ew.astype(object) + "交叉口" + corner
        return {"geoms": geoms, "zone": np.full(nz, zi), "sub": sub, "seq": seq, "location": location}

    # ------------------------------------------------------------------ states
    def _states(self) -> None:
        n, rng = self.n, self.r_state
        counts = _apportion(n, list(STATE_SHARES.values()), minimum=1)
        ineff = _SI[S.INEFFICIENT]
        if n >= 200 and counts[ineff] < 12:
            counts[_SI[S.OPERATING]] -= 12 - counts[ineff]
            counts[ineff] = 12
        state = np.repeat(np.arange(len(_STATES)), counts)
        self.state = state[rng.permutation(n)]
        cat = np.full(n, -1)
        where = np.flatnonzero(self.state == ineff)
        cat_counts = _apportion(len(where), list(CATEGORY_SHARES.values()), minimum=2)
        cat[where] = np.repeat(np.arange(len(_CATS)), cat_counts)[rng.permutation(len(where))]
        self.cat = cat
        self.variant = rng.random(n)  # per-state sub-variants (idle started or not, …)
        self.owned = ~np.isin(self.state, _UNSUPPLIED)

    def is_state(self, s: LandState) -> np.ndarray:
        return self.state == _SI[s]

    def is_cat(self, c: InefficiencyCategory) -> np.ndarray:
        return self.cat == _CI[c]

    # ------------------------------------------------------------------ timeline
    def _timeline(self) -> None:
        """Contract dates and what happened since, by state (relative to DEMO_AS_OF)."""
        n, rng = self.n, self.r_time
        signed = np.full(n, _NAT)
        # The idle variant (R3 second clause): started, little done, stopped for a year.
        self.idle_started = self.is_state(S.IDLE) & (self.variant < 0.25)
        self.rect_completion_failed = self.is_state(S.RECTIFYING) & (self.variant < 0.5)
        producing_cats = self.is_state(S.INEFFICIENT) & ~self.is_cat(C.CONSTRUCTION_STALLED)
        ranges = [
            (self.is_state(S.SUPPLIED), "2020-02", "2021-05"),
            (self.is_state(S.UNDER_CONSTRUCTION), "2018-06", "2020-06"),
            (self.is_state(S.COMPLETED), "2016-06", "2019-03"),
            (self.is_state(S.IN_PRODUCTION), "2013-01", "2017-06"),
            (self.is_state(S.OPERATING), "2005-01", "2016-12"),
            (self.is_state(S.IDLE) & ~self.idle_started, "2016-06", "2019-11"),
            (self.idle_started, "2016-01", "2018-12"),
            (self.is_cat(C.CONSTRUCTION_STALLED), "2014-01", "2018-03"),
            (producing_cats, "2006-01", "2016-06"),
            (self.is_state(S.RECTIFYING), "2015-01", "2018-06"),
            (self.is_state(S.DISPOSING), "2010-01", "2017-06"),
            (self.is_state(S.RECLAIMED), "2008-01", "2016-06"),
            (self.is_state(S.SPLIT_TRANSFERRED), "2006-01", "2014-06"),
        ]
        for mask, a, b in ranges:
            signed[mask] = _months(rng, int(mask.sum()), a, b)
        self.signed = signed
        self.agreed_start = _add_months(signed, 6)
        self.agreed_completion = _add_months(self.agreed_start, 24)
        self.agreed_production = _add_months(self.agreed_completion, 12)

        started = np.isin(self.state, [_SI[s] for s in (
            S.UNDER_CONSTRUCTION, S.COMPLETED, S.IN_PRODUCTION, S.OPERATING, S.INEFFICIENT,
            S.RECTIFYING, S.SPLIT_TRANSFERRED)]) | self.idle_started
        actual = np.full(n, _NAT)
        actual[started] = self.agreed_start[started] + _days(rng, int(started.sum()), -20, 120)
        actual = np.where(actual > _AS_OF - 20, _AS_OF - 20, actual)
        self.actual_start = actual

        completed = np.isin(self.state, [_SI[s] for s in (
            S.COMPLETED, S.IN_PRODUCTION, S.OPERATING, S.SPLIT_TRANSFERRED)]) | producing_cats | (
            self.is_state(S.RECTIFYING) & ~self.rect_completion_failed)
        completion = np.full(n, _NAT)
        completion[completed] = actual[completed] + _days(rng, int(completed.sum()), 480, 800)
        completion = np.where(completion > _AS_OF - 10, _AS_OF - 10, completion)
        produced = completed & ~self.is_state(S.COMPLETED) & ~self.is_state(S.RECTIFYING)
        production = np.full(n, _NAT)
        production[produced] = completion[produced] + _days(rng, int(produced.sum()), 300, 540)
        production = np.where(production > _AS_OF - 5, _AS_OF - 5, production)
        # 整改中: a failed acceptance within the last 2 years (R9: at most 2 years to rectify).
        failed_at = _AS_OF - _days(rng, n, 30, 600)
        rc = self.rect_completion_failed
        completion[rc] = np.maximum(failed_at[rc], actual[rc] + 400)
        rp = self.is_state(S.RECTIFYING) & ~rc
        completion[rp] = np.minimum(completion[rp], _AS_OF - 250)
        production[rp] = np.minimum(np.maximum(failed_at[rp], completion[rp] + 200), _AS_OF - 5)
        self.completed, self.produced = completed, produced
        self.completion_date, self.production_date = completion, production

        stopped = np.full(n, _NAT)
        st = self.is_cat(C.CONSTRUCTION_STALLED)
        stopped[st] = actual[st] + _days(rng, int(st.sum()), 200, 700)
        idl = self.idle_started
        stopped[idl] = actual[idl] + _days(rng, int(idl.sum()), 60, 300)
        self.stopped_since = np.where(stopped > _AS_OF - 380, _AS_OF - 380, stopped)
        # 收回 and 分割/转让 dates.
        self.reclaim_date = np.where(self.is_state(S.RECLAIMED), _months(rng, n, "2019-01", "2021-05"), _NAT)
        sp = self.is_state(S.SPLIT_TRANSFERRED)
        transfer = np.maximum(_months(rng, n, "2019-01", "2021-05"), production + 180)
        self.transfer_date = np.where(sp, np.minimum(transfer, _AS_OF - 10), _NAT)

    # ------------------------------------------------------------------ supply
    def _contracts(self) -> None:
        n, rng = self.n, self.r_contract
        methods = np.array([SupplyMethod.TRANSFER.value, SupplyMethod.LEASE_THEN_TRANSFER.value,
                            SupplyMethod.LEASE_AND_TRANSFER.value, SupplyMethod.CAPITAL_CONTRIBUTION.value])
        m = rng.choice(len(methods), n, p=[0.86, 0.07, 0.04, 0.03])
        self.method = np.where(self.owned, methods[m], None)
        self.term = np.where(self.owned, np.where((m == 1) | (m == 2), 20, 50), -1)
        self.price = np.where(self.owned, np.round(self.area_mu * rng.uniform(15, 30, n), 2), np.nan)
        self.forbids_split = (rng.random(n) < 0.1) & ~self.is_state(S.SPLIT_TRANSFERRED)
        # Committed indicators (履约监管协议).
        self.c_intensity = np.round(rng.uniform(200, 400, n), 1)
        self.c_total_inv = np.round(self.c_intensity * self.area_mu, 2)
        self.c_plot = np.round(rng.uniform(1.0, 1.5, n), 2)
        self.c_density = np.round(rng.uniform(0.35, 0.5, n), 3)
        self.c_coverage = np.round(np.maximum(rng.uniform(0.4, 0.6, n), self.c_density + 0.05), 3)
        self.c_green = np.round(rng.uniform(0.10, 0.15, n), 3)
        self.c_office = np.round(rng.uniform(0.05, 0.07, n), 3)
        self.c_tax = np.round(rng.uniform(15, 30, n), 1)
        self.c_output = np.round(rng.uniform(150, 300, n), 0)  # 产出强度 committed at supply: conservative, below what a normal producer reaches
        self.guarantee = np.round(self.price * GUARANTEE_SHARE, 2)
        # Planning conditions (every parcel) and 标准地.
        self.plot_min = np.full(n, 1.0)
        self.plot_max = rng.choice([2.0, 2.5, 3.0], n)
        self.density_min = np.full(n, 0.3)
        self.green_max = np.full(n, 0.15)
        self.height = rng.choice([24.0, 36.0, 50.0], n)
        recent = self.owned & (self.signed >= np.datetime64("2020-01-01"))
        self.standard_land = (recent & (rng.random(n) < 0.65)) | (
            self.is_state(S.LISTED) & (rng.random(n) < 0.5))
        # Where stock land on the supply list comes from.
        listed_src = np.array([LandSource.NEW.value, LandSource.APPROVED_UNSUPPLIED.value,
                               LandSource.RESERVE.value, LandSource.IDLE.value,
                               LandSource.INEFFICIENT.value])[
            rng.choice(5, n, p=[0.4, 0.25, 0.15, 0.1, 0.1])]
        src = np.full(n, None, dtype=object)
        src[self.is_state(S.RESERVE)] = LandSource.RESERVE.value
        src[self.is_state(S.APPROVED_UNSUPPLIED)] = LandSource.APPROVED_UNSUPPLIED.value
        src[self.is_state(S.LISTED)] = listed_src[self.is_state(S.LISTED)]
        for s in (S.IDLE, S.RECLAIMED):
            src[self.is_state(s)] = LandSource.IDLE.value
        src[self.is_state(S.INEFFICIENT)] = LandSource.INEFFICIENT.value
        d = self.is_state(S.DISPOSING)
        src[d] = np.where(rng.random(n) < 0.7, LandSource.IDLE.value, LandSource.INEFFICIENT.value)[d]
        self.land_source = src

    # ------------------------------------------------------------------ development
    def _development(self) -> None:
        n, rng, area = self.n, self.r_dev, self.area_m2
        nan = np.full(n, np.nan)
        dev_frac, inv_frac = nan.copy(), nan.copy()
        owned = self.owned
        dev_frac[owned] = 0.0
        inv_frac[owned] = 0.0
        uc = self.is_state(S.UNDER_CONSTRUCTION)
        dev_frac[uc] = rng.uniform(0.15, 0.9, uc.sum())
        inv_frac[uc] = np.clip(dev_frac[uc] + rng.uniform(-0.1, 0.1, uc.sum()), 0.05, 0.95)
        st = self.is_cat(C.CONSTRUCTION_STALLED)  # R4-2: > 1/3 developed and > 25 % invested
        dev_frac[st] = rng.uniform(0.4, 0.7, st.sum())
        inv_frac[st] = rng.uniform(0.3, 0.6, st.sum())
        idl = self.idle_started  # R3: < 1/3 developed or < 25 % invested, stopped ≥ 1 year
        dev_frac[idl] = rng.uniform(0.03, 0.3, idl.sum())
        inv_frac[idl] = rng.uniform(0.02, 0.2, idl.sum())
        rc = self.rect_completion_failed
        dev_frac[rc] = rng.uniform(0.8, 1.0, rc.sum())
        inv_frac[rc] = rng.uniform(0.7, 0.95, rc.sum())
        comp = self.completed
        dev_frac[comp] = 1.0
        inv_frac[comp] = rng.uniform(1.0, 1.15, comp.sum())
        # Built form of completed parcels: compliant unless 开发未达标类 (R4-3).
        plot = self.c_plot * rng.uniform(1.0, 1.25, n)
        density = np.minimum(self.c_density * rng.uniform(1.0, 1.15, n), 0.65)
        coverage = np.minimum(np.maximum(self.c_coverage * rng.uniform(1.0, 1.15, n), density + 0.05), 0.8)
        green = self.c_green * rng.uniform(0.6, 1.0, n)
        office = self.c_office * rng.uniform(0.6, 1.0, n)
        bc = self.is_cat(C.BELOW_CONTRACT)
        v = rng.integers(0, 6, n)  # which commitment is missed
        plot = np.where(bc & (v == 0), self.c_plot * rng.uniform(0.55, 0.9, n), plot)
        inv_frac = np.where(bc & (v == 1), rng.uniform(0.5, 0.85, n), inv_frac)
        density = np.where(bc & (v == 2), self.c_density * rng.uniform(0.6, 0.9, n), density)
        coverage = np.where(bc & (v == 3), self.c_coverage * rng.uniform(0.55, 0.9, n), coverage)
        density = np.where(bc & (v == 3), np.minimum(density, coverage * 0.9), density)
        green = np.where(bc & (v == 4), self.c_green * rng.uniform(1.2, 1.6, n), green)
        office = np.where(bc & (v == 5), self.c_office * rng.uniform(1.3, 1.8, n), office)
        self.below_contract_kind = np.where(bc, v, -1)
        built = comp | rc
        self.dev_area = dev_frac * area
        self.inv_done = inv_frac * self.c_total_inv
        self.floor_area = np.where(built, plot * area, np.nan)
        self.footprint = np.where(built, density * area, np.nan)
        self.coverage_area = np.where(built, coverage * area, np.nan)
        self.green_area = np.where(built, green * area, np.nan)
        self.office_area = np.where(built, office * area, np.nan)
        passed, failed, pending = (AcceptanceResult.PASSED.value, AcceptanceResult.FAILED.value,
                                   AcceptanceResult.PENDING.value)
        self.completion_result = np.where(rc, failed, np.where(comp, passed, pending))
        rp = self.is_state(S.RECTIFYING) & ~rc
        self.production_result = np.where(rp, failed, np.where(self.produced, passed, pending))

    # ------------------------------------------------------------------ enterprises
    def _enterprises(self) -> None:
        n, rng = self.n, self.r_ent
        owned = self.owned
        # 标准厂房 (10 % of operating parcels, 2–5 tenants) and single leases.
        op = self.is_state(S.OPERATING)
        sf = op & (rng.random(n) < 0.10)
        self.standard_factory = sf
        lease = (op | self.is_state(S.IN_PRODUCTION)) & ~sf & (rng.random(n) < 0.08)
        n_ten = np.where(sf, rng.integers(2, 6, n), np.where(lease, 1, 0))
        exclusive = owned & (~np.isin(self.state, [_SI[s] for s in (
            S.SUPPLIED, S.UNDER_CONSTRUCTION, S.COMPLETED, S.IN_PRODUCTION, S.OPERATING)]) | sf)
        shared = owned & ~exclusive
        split = self.is_state(S.SPLIT_TRANSFERRED)
        n_tenants, n_split = int(n_ten.sum()), int(split.sum())
        target = round(ENTERPRISES_PER_PARCEL * n)
        sh_idx = np.flatnonzero(shared)
        n_sh_owners = int(np.clip(target - n_tenants - n_split - exclusive.sum(),
                                  min(1, len(sh_idx)), len(sh_idx)))
        sh_perm = sh_idx[rng.permutation(len(sh_idx))]
        primary = np.zeros(n, bool)
        primary[exclusive] = True
        primary[sh_perm[:n_sh_owners]] = True
        prim_idx = np.flatnonzero(primary)  # owners numbered in parcel order
        owner = np.full(n, -1)
        owner[prim_idx] = np.arange(len(prim_idx))
        # Further parcels go to an owner of a shared parcel in the same zone (else anywhere).
        rest = np.sort(sh_perm[n_sh_owners:])
        sh_primary = np.sort(sh_perm[:n_sh_owners])
        for zi in np.unique(self.zone_idx[rest]):
            mine = rest[self.zone_idx[rest] == zi]
            pool = sh_primary[self.zone_idx[sh_primary] == zi]
            if len(pool) == 0:
                pool = sh_primary
            owner[mine] = owner[pool[rng.integers(0, len(pool), len(mine))]]
        n_owners = len(prim_idx)
        # Tenants: one enterprise per tenancy, after the owners.
        ten_parcel = np.repeat(np.arange(n), n_ten)
        self.ten_parcel = ten_parcel
        self.ten_ent = n_owners + np.arange(n_tenants)
        slot = np.arange(n_tenants) - np.repeat(np.cumsum(n_ten) - n_ten, n_ten)
        # Per parcel: a standard factory lets 60–90 % of its land, a single lease 10–30 %,
        # split between its tenants by Dirichlet shares.
        let = np.where(sf, rng.uniform(0.6, 0.9, n), rng.uniform(0.1, 0.3, n))
        shares = rng.dirichlet(np.full(5, 3.0), n)
        used = np.arange(5)[None, :] < n_ten[:, None]
        shares = np.where(used, shares, 0.0)
        shares = shares / np.maximum(shares.sum(axis=1, keepdims=True), 1e-12)
        part = shares[ten_parcel, slot]
        total_share = let[ten_parcel]
        self.ten_area = self.area_m2[ten_parcel] * total_share * part
        start = np.maximum(_months(rng, n_tenants, "2016-07", "2017-12"),
                           self.production_date[ten_parcel] + 30)
        self.ten_start = np.minimum(start, _AS_OF - 1)
        self.ten_end = _add_months(self.ten_start, 60)
        # Previous owners of 分割/转让 parcels (they signed the contract).
        split_idx = np.flatnonzero(split)
        prev = np.full(n, -1)
        prev[split_idx] = n_owners + n_tenants + np.arange(n_split)
        self.contract_ent = np.where(split, prev, owner)
        self.owner = owner
        ne = n_owners + n_tenants + n_split
        self.n_ent = ne
        # Enterprise attributes: where they are and what they make.
        home_parcel = np.concatenate([prim_idx, ten_parcel, split_idx])
        self.ent_home = home_parcel
        self.ent_zone = self.zone_idx[home_parcel]
        self.ent_county_id = self.county_id[home_parcel]
        self.ent_county_code = self.county_code[home_parcel]
        industry = np.empty(ne, dtype=object)
        for zi, z in enumerate(self.zones):
            sel = np.flatnonzero(self.ent_zone == zi)
            leads = [ind for ind in z.lead_industries if ind in INDUSTRY_CODES] or ["装备制造"]
            pools = [INDUSTRY_CODES[ind] for ind in leads]
            pick_ind = rng.integers(0, len(pools), len(sel))
            pick_code = rng.random(len(sel))
            industry[sel] = [pools[i][int(u * len(pools[i]))] for i, u in zip(pick_ind, pick_code)]
        is_owner = np.arange(ne) < n_owners
        home_state_cat = self.cat[home_parcel]
        transform = is_owner & (home_state_cat == _CI[C.INDUSTRY_TRANSFORMATION])
        industry[transform] = np.array(OBSOLETE_INDUSTRY_CODES, dtype=object)[
            rng.integers(0, len(OBSOLETE_INDUSTRY_CODES), int(transform.sum()))]
        landlord = is_owner & sf[home_parcel]
        industry[landlord] = LANDLORD_INDUSTRY_CODE
        self.ent_industry = industry
        self.ent_above = rng.random(ne) < 0.6
        self.ent_is_owner = is_owner
        self.n_owners = n_owners
        # Names: unique trade names by construction (a permutation of 64^k character pairs).
        k_chars = 2 if ne <= 64 ** 2 else 3 if ne <= 64 ** 3 else 4
        trade_no = rng.permutation(64 ** k_chars)[:ne] if k_chars < 4 else \
            rng.choice(64 ** 4, ne, replace=False)
        chars = np.array(list(_TRADE_CHARS))
        trade = chars[trade_no // 64 ** (k_chars - 1) % 64].astype(object)
        for p in range(k_chars - 2, -1, -1):
            trade = trade + chars[trade_no // 64 ** p % 64].astype(object)
        prefix = np.where(rng.random(ne) < 0.5, "许昌",
                          np.array([_COUNTY_SHORT.get(c, "许昌") for c in self.ent_county_code.tolist()]))
        u = rng.random(ne)
        words = [(_INDUSTRY_WORDS_BY_CODE.get(c) or _INDUSTRY_WORDS.get(c[:3]) or ["实业"]) for c in industry]
        word = np.array([w[int(x * len(w))] for w, x in zip(words, u)], dtype=object)
        suffix = np.array(["有限公司", "股份有限公司", "科技有限公司"], dtype=object)[
            rng.choice(3, ne, p=[0.7, 0.15, 0.15])]
        suffix = np.where(landlord, "有限公司", suffix)
        self.ent_name = (prefix.astype(object) + trade + word + suffix + "（演示）").tolist()
        base = int(rng.integers(0, 10 ** 8))
        org = (base + np.arange(ne, dtype=np.int64) * 7_919_071) % 10 ** 8
        self.ent_credit = _credit_codes(self.ent_county_code, org)

    def avoid_credit_collisions(self, existing: set[str]) -> None:
        """Regenerate the (astronomically rare) credit codes that already exist in the database."""
        bump = 1
        while existing:
            clash = np.array([c in existing for c in self.ent_credit])
            if not clash.any():
                return
            idx = np.flatnonzero(clash)
            org = (np.arange(len(idx), dtype=np.int64) * 104_729 + 31 * bump + 99_991_000) % 10 ** 8
            new = _credit_codes(self.ent_county_code[idx], org)
            for i, c in zip(idx, new):
                self.ent_credit[i] = c
            bump += 1

    # ------------------------------------------------------------------ figures
    def _figures(self) -> None:
        """Yearly figures of every producing enterprise (owners of producing parcels, tenants)."""
        rng, ne = self.r_fig, self.n_ent
        years = np.array(FIGURE_YEARS)
        # Land each enterprise uses itself: owned (current) parcels minus what it leases out.
        current = self.owned & ~self.is_state(S.RECLAIMED)
        own_m2 = np.bincount(self.owner[current], weights=self.area_m2[current], minlength=ne)
        leased_out = np.bincount(self.owner[self.ten_parcel], weights=self.ten_area, minlength=ne) \
            if len(self.ten_parcel) else np.zeros(ne)
        own_m2 = own_m2 - leased_out
        own_m2[self.ten_ent] += self.ten_area
        # First year with figures: the year after completion (owners), 2018 for tenants.
        first = np.full(ne, 9999)
        producing = current & self.completed & ~self.rect_completion_failed
        comp_year = self.completion_date.astype("datetime64[Y]").astype(int) + 1970
        np.minimum.at(first, self.owner[producing], comp_year[producing] + 1)
        ten_year = self.ten_start.astype("datetime64[Y]").astype(int) + 1970
        first[self.ten_ent] = np.where(ten_year < years[0], years[0], ten_year + 1)
        has = first <= years[-1]
        self.fig_ent = np.flatnonzero(has)
        m = len(self.fig_ent)
        yr_ok = years[None, :] >= first[self.fig_ent][:, None]  # (m, 3)
        # Profile from the enterprise's home parcel (exclusive categories own one parcel only).
        home = self.ent_home[self.fig_ent]
        is_owner = self.ent_is_owner[self.fig_ent]
        cat = np.where(is_owner, self.cat[home], -1)
        zone_target = np.array([(z.tax_min + (z.tax_max or z.tax_min * 1.4)) / 2 * 0.9 for z in self.zones])
        tpm = rng.lognormal(np.log(zone_target[self.ent_zone[self.fig_ent]]), 0.45)
        tpm = np.where(cat == _CI[C.OUTPUT_SHORTFALL], rng.uniform(0.8, 4.0, m), tpm)
        halted = cat == _CI[C.PRODUCTION_HALTED]
        tpm = np.where(halted, rng.uniform(0.2, 1.5, m), tpm)
        tpm = np.where(np.isin(cat, [_CI[C.BELOW_CONTRACT], _CI[C.INDUSTRY_TRANSFORMATION], _CI[C.OTHER]]),
                       tpm * 0.6, tpm)
        ramp = is_owner & self.is_state(S.COMPLETED)[home]
        tpm = np.where(ramp, tpm * 0.4, tpm)
        landlord = is_owner & self.standard_factory[home]
        tpm = np.where(landlord, rng.uniform(1.0, 3.0, m), tpm)
        own_mu = np.maximum(own_m2[self.fig_ent], 100.0) / M2_PER_MU
        growth = np.array([0.88, 0.94, 1.0])[None, :] * rng.uniform(0.9, 1.1, (m, 3))
        shape = (m, 3)
        tax = np.maximum(tpm[:, None] * own_mu[:, None] * growth, 0.5)
        refund = tax * rng.uniform(0.005, 0.08, shape)
        revenue = tax / rng.uniform(0.03, 0.06, shape)
        output = revenue * rng.uniform(0.92, 1.08, shape)
        va = output * rng.uniform(0.18, 0.32, shape)
        profit = revenue * rng.uniform(0.02, 0.07, shape)
        # 停产半停产类 (R4-4): no operating profit in the last two years (2018 too for some).
        loss = revenue * rng.uniform(0.02, 0.15, shape)
        loss_years = np.column_stack([halted & (rng.random(m) < 0.5), halted, halted])
        profit = np.where(loss_years, -loss, profit)
        industry = self.ent_industry[self.fig_ent]
        heavy = np.array([c.startswith(_HEAVY_PREFIXES) for c in industry])
        energy = va * rng.uniform(0.15, 0.9, shape) * np.where(heavy, 2.5, 1.0)[:, None]
        emissions = energy * rng.uniform(0.002, 0.02, shape)
        rd = revenue * rng.uniform(0.003, 0.04, shape)
        employees = np.maximum(3, np.round(output / rng.uniform(60, 150, shape)))
        self.fig_values = {
            FigureIndicator.TAX_PAID: (tax, 2), FigureIndicator.TAX_REFUNDED: (refund, 2),
            FigureIndicator.INDUSTRIAL_OUTPUT: (output, 2), FigureIndicator.VALUE_ADDED: (va, 2),
            FigureIndicator.REVENUE: (revenue, 2), FigureIndicator.PROFIT: (profit, 2),
            FigureIndicator.ENERGY_USE: (energy, 1), FigureIndicator.EMISSIONS: (emissions, 3),
            FigureIndicator.RD_SPENDING: (rd, 2), FigureIndicator.EMPLOYEES: (employees, 0),
        }
        self.fig_year_ok = yr_ok
        self.fig_first = first
        self.fig_count_per_ent = np.zeros(ne, dtype=int)
        self.fig_count_per_ent[self.fig_ent] = yr_ok.sum(axis=1) * len(self.fig_values)

    # =================================================================== writing
    def write(self, conn: Connection, now: datetime, report: ProgressFn) -> dict[str, int]:
        existing = set()
        e_tab = Enterprise.__table__
        if conn.scalar(select(func.count()).select_from(e_tab)):
            existing = set(conn.scalars(select(e_tab.c.credit_code)))
        self.avoid_credit_collisions(existing)
        n = self.n
        own = np.flatnonzero(self.owned)
        ids = BulkIdAllocator(conn)
        pid = ids.take(Parcel.__table__, n)
        eid = ids.take(e_tab, self.n_ent)
        cid = ids.take(SupplyContract.__table__, len(own))
        aid = ids.take(PerformanceAgreement.__table__, len(own))
        did = ids.take(ParcelDevelopment.__table__, len(own))
        n_occ = len(own) + len(self.ten_parcel) + int(self.is_state(S.SPLIT_TRANSFERRED).sum())
        oid = ids.take(Occupancy.__table__, n_occ)
        log_count = 0

        # ---- parcels
        state_values = np.array([s.value for s in _STATES], dtype=object)[self.state]
        cat_values = [[_CATS[c].value] if c >= 0 else [] for c in self.cat.tolist()]
        zone_codes = np.array([z.code for z in self.zones], dtype=object)[self.zone_idx].tolist()
        area_m2 = np.round(self.area_m2, 2)
        area_mu = np.round(self.area_mu, 4)
        b = self.bounds
        cols = {
            "id": pid.tolist(), "code": self.code, "location": self.location,
            "geometry": list(self.geometry),
            "min_lon": b[:, 0].tolist(), "min_lat": b[:, 1].tolist(),
            "max_lon": b[:, 2].tolist(), "max_lat": b[:, 3].tolist(),
            "area_m2": area_m2.tolist(), "area_mu": area_mu.tolist(),
            "gk_epsg": self.gk_epsg.tolist(), "land_use": ["0601"] * n,
            "state": state_values.tolist(), "inefficiency_categories": cat_values,
            "land_source": self.land_source.tolist(), "zone_id": self.zone_id.tolist(),
            "county_id": self.county_id.tolist(), "supply_method": self.method.tolist(),
            "supply_date": _dates(self.signed),
            "term_years": [t if t > 0 else None for t in self.term.tolist()],
            "price_wan": _floats(self.price), "plot_ratio_min": self.plot_min.tolist(),
            "plot_ratio_max": self.plot_max.tolist(), "building_density_min": self.density_min.tolist(),
            "green_ratio_max": self.green_max.tolist(), "height_limit_m": self.height.tolist(),
            "is_standard_land": self.standard_land.tolist(),
            "is_standard_factory": self.standard_factory.tolist(),
            "is_synthetic": [True] * n, "created_at": [now] * n, "updated_at": [now] * n,
            "version": [1] * n,
        }
        county_codes = self.county_code.tolist()
        methods = self.method.tolist()

        def parcel_log(i):
            after = {"code": self.code[i], "state": cols["state"][i], "area_m2": cols["area_m2"][i],
                     "area_mu": cols["area_mu"][i], "zone": zone_codes[i], "county": county_codes[i],
                     "synthetic": True}
            if cat_values[i]:
                after["inefficiency_categories"] = cat_values[i]
                if cat_values[i][0] == C.OTHER.value:
                    after["note"] = _OTHER_NOTE
            if methods[i]:
                after["supply_method"] = methods[i]
            return _log_row(now, "create", "parcels", cols["id"][i], cols["id"][i], after)

        log_count += self._insert(conn, Parcel.__table__, cols, n, "生成宗地", report, parcel_log)

        # ---- enterprises (one log row each, covering its figures)
        ne = self.n_ent
        ecols = {
            "id": eid.tolist(), "credit_code": self.ent_credit, "name": self.ent_name,
            "industry_code": self.ent_industry.tolist(), "above_scale": self.ent_above.tolist(),
            "county_id": self.ent_county_id.tolist(), "is_synthetic": [True] * ne, "version": [1] * ne,
        }
        figs = self.fig_count_per_ent.tolist()
        fig_first = self.fig_first.tolist()
        ent_county_codes = self.ent_county_code.tolist()

        def ent_log(i):
            return _log_row(now, "create", "enterprises", ecols["id"][i], None, {
                "credit_code": ecols["credit_code"][i], "name": ecols["name"][i],
                "industry_code": ecols["industry_code"][i], "county": ent_county_codes[i],
                "synthetic": True, "figures": figs[i],
                "figure_years": [y for y in FIGURE_YEARS if y >= fig_first[i]]})

        log_count += self._insert(conn, e_tab, ecols, ne, "生成企业", report, ent_log)

        # ---- supply contracts, agreements, developments (supplied-or-later parcels)
        m = len(own)
        p_ids = pid[own].tolist()
        signed = _dates(self.signed[own])
        years = self.signed[own].astype("datetime64[Y]").astype(int) + 1970
        shorts = [_COUNTY_SHORT.get(c, "昌") for c in self.county_code[own].tolist()]
        kinds = ["租" if mm and mm.startswith("lease") else "出" for mm in self.method[own].tolist()]
        contract_no = [f"演示-许{s}土{k}〔{y}〕{i + 1:06d}号" for i, (s, k, y) in
                       enumerate(zip(shorts, kinds, years.tolist()))]
        c_ent = eid[self.contract_ent[own]].tolist()
        ccols = {
            "id": cid.tolist(), "parcel_id": p_ids, "enterprise_id": c_ent, "contract_no": contract_no,
            "supply_method": self.method[own].tolist(), "signed_date": signed,
            "term_years": self.term[own].tolist(), "price_wan": _floats(self.price[own]),
            "agreed_start_date": _dates(self.agreed_start[own]),
            "agreed_completion_date": _dates(self.agreed_completion[own]),
            "forbids_split": self.forbids_split[own].tolist(), "version": [1] * m,
        }

        def contract_log(i):
            return _log_row(now, "create", "supply_contracts", ccols["id"][i], p_ids[i], {
                "contract_no": contract_no[i], "enterprise_id": c_ent[i],
                "supply_method": ccols["supply_method"][i], "signed_date": signed[i].isoformat(),
                "term_years": ccols["term_years"][i], "price_wan": ccols["price_wan"][i],
                "synthetic": True})

        log_count += self._insert(conn, SupplyContract.__table__, ccols, m, "生成供地合同", report,
                                  contract_log)

        acols = {
            "id": aid.tolist(), "contract_id": ccols["id"], "parcel_id": p_ids,
            "agreed_start_date": ccols["agreed_start_date"],
            "agreed_completion_date": ccols["agreed_completion_date"],
            "agreed_production_date": _dates(self.agreed_production[own]),
            "investment_intensity_wan_per_mu": self.c_intensity[own].tolist(),
            "total_investment_wan": _floats(self.c_total_inv[own]),
            "plot_ratio": self.c_plot[own].tolist(), "building_density": self.c_density[own].tolist(),
            "building_coverage": self.c_coverage[own].tolist(), "green_ratio": self.c_green[own].tolist(),
            "office_living_ratio": self.c_office[own].tolist(), "tax_per_mu_wan": self.c_tax[own].tolist(),
            "output_per_mu_wan": self.c_output[own].tolist(),
            "performance_guarantee_wan": _floats(self.guarantee[own]), "signed_date": signed,
            "version": [1] * m,
        }

        def agreement_log(i):
            return _log_row(now, "create", "performance_agreements", acols["id"][i], p_ids[i], {
                "contract_no": contract_no[i],
                "agreed_start_date": acols["agreed_start_date"][i].isoformat(),
                "agreed_production_date": acols["agreed_production_date"][i].isoformat(),
                "investment_intensity_wan_per_mu": acols["investment_intensity_wan_per_mu"][i],
                "plot_ratio": acols["plot_ratio"][i], "tax_per_mu_wan": acols["tax_per_mu_wan"][i],
                "performance_guarantee_wan": acols["performance_guarantee_wan"][i],
                "guarantee_basis": f"价款的{GUARANTEE_SHARE:.0%}（演示假设，来源文件未规定比例）",
                "synthetic": True})

        log_count += self._insert(conn, PerformanceAgreement.__table__, acols, m, "生成履约监管协议",
                                  report, agreement_log)

        dcols = {
            "id": did.tolist(), "parcel_id": p_ids, "actual_start_date": _dates(self.actual_start[own]),
            "stopped_since": _dates(self.stopped_since[own]),
            "developed_area_m2": _floats(self.dev_area[own]),
            "investment_done_wan": _floats(self.inv_done[own]),
            "investment_total_wan": _floats(self.c_total_inv[own]),
            "completion_result": self.completion_result[own].tolist(),
            "completion_date": _dates(self.completion_date[own]),
            "production_result": self.production_result[own].tolist(),
            "production_date": _dates(self.production_date[own]),
            "floor_area_m2": _floats(self.floor_area[own]), "footprint_m2": _floats(self.footprint[own]),
            "coverage_area_m2": _floats(self.coverage_area[own]),
            "green_area_m2": _floats(self.green_area[own]),
            "office_living_area_m2": _floats(self.office_area[own]), "version": [1] * m,
        }

        def dev_log(i):
            a = dcols["actual_start_date"][i]
            st = dcols["stopped_since"][i]
            return _log_row(now, "create", "parcel_developments", dcols["id"][i], p_ids[i], {
                "actual_start_date": a and a.isoformat(), "stopped_since": st and st.isoformat(),
                "developed_area_m2": dcols["developed_area_m2"][i],
                "completion_result": dcols["completion_result"][i],
                "production_result": dcols["production_result"][i], "synthetic": True})

        log_count += self._insert(conn, ParcelDevelopment.__table__, dcols, m, "生成开发建设情况",
                                  report, dev_log)

        # ---- occupancies: owners, tenants, previous owners of transferred parcels
        split = self.is_state(S.SPLIT_TRANSFERRED)
        recl = self.is_state(S.RECLAIMED)
        o_parcel = own
        o_start = np.where(split[own], self.transfer_date[own], self.signed[own])
        o_end = np.where(recl[own], self.reclaim_date[own], _NAT)
        sp = np.flatnonzero(split)
        occ_parcel = np.concatenate([o_parcel, self.ten_parcel, sp])
        occ_ent = np.concatenate([self.owner[own], self.ten_ent, self.contract_ent[sp]])
        occ_role = ([OccupancyRole.OWNER.value] * len(own) + [OccupancyRole.TENANT.value] * len(self.ten_parcel)
                    + [OccupancyRole.OWNER.value] * len(sp))
        occ_area = np.concatenate([self.area_m2[own], self.ten_area, self.area_m2[sp]])
        occ_start = np.concatenate([o_start, self.ten_start, self.signed[sp]])
        occ_end = np.concatenate([o_end, self.ten_end, self.transfer_date[sp]])
        k = len(occ_parcel)
        assert k == n_occ
        o_pids = pid[occ_parcel].tolist()
        o_eids = eid[occ_ent].tolist()
        ocols = {
            "id": oid.tolist(), "parcel_id": o_pids, "enterprise_id": o_eids, "role": occ_role,
            "area_m2": _floats(occ_area), "start_date": _dates(occ_start), "end_date": _dates(occ_end),
            "version": [1] * k,
        }
        credit = self.ent_credit
        occ_ent_l = occ_ent.tolist()

        def occ_log(i):
            e = ocols["end_date"][i]
            return _log_row(now, "create", "occupancies", ocols["id"][i], o_pids[i], {
                "enterprise_id": o_eids[i], "credit_code": credit[occ_ent_l[i]], "role": occ_role[i],
                "area_m2": ocols["area_m2"][i], "start_date": ocols["start_date"][i].isoformat(),
                "end_date": e and e.isoformat(), "synthetic": True})

        log_count += self._insert(conn, Occupancy.__table__, ocols, k, "生成用地关系", report, occ_log)

        # ---- figures (long format), generated chunk by chunk
        n_fig = self._insert_figures(conn, eid, report)
        return {"parcels": n, "enterprises": ne, "occupancies": k, "contracts": m, "figures": n_fig,
                "agreements": m, "developments": m, "change_log_rows": log_count}

    def _insert(self, conn: Connection, table: Table, cols: dict[str, list], total: int, stage: str,
                report: ProgressFn, log: Callable[[int], dict]) -> int:
        """Insert ``total`` rows (columns as lists) and their change-log rows, chunk by chunk."""
        keys = list(cols)
        lists = [cols[k] for k in keys]
        report(stage, 0, total)
        for a, b in _chunks(total, CHUNK_ROWS):
            rows = [dict(zip(keys, vals)) for vals in zip(*(lst[a:b] for lst in lists))]
            conn.execute(insert(table), rows)
            conn.execute(insert(ChangeLog), [log(i) for i in range(a, b)])
            report(stage, b, total)
        return total

    def _insert_figures(self, conn: Connection, eid: np.ndarray, report: ProgressFn) -> int:
        indicators = list(self.fig_values)
        units = [FIGURE_UNITS[i] for i in indicators]
        depts = [FIGURE_DEPARTMENTS[i] for i in indicators]
        values = np.stack([np.round(self.fig_values[i][0], self.fig_values[i][1]) for i in indicators],
                          axis=2)  # (m, years, indicators)
        ent_ids = eid[self.fig_ent]
        ok = self.fig_year_ok
        total = int(ok.sum()) * len(indicators)
        submitted = [datetime(y + 1, 4, 30, 1, 0, tzinfo=timezone.utc) for y in FIGURE_YEARS]
        stage = "生成企业年度数据"
        report(stage, 0, total)
        table = EnterpriseFigure.__table__
        ent_rows, year_idx = np.nonzero(ok)  # one (enterprise, year) pair per row group
        per_chunk = max(1, CHUNK_ROWS // len(indicators))
        done = 0
        for a, b in _chunks(len(ent_rows), per_chunk):
            er, yi = ent_rows[a:b], year_idx[a:b]
            vals = values[er, yi, :].tolist()
            eids = ent_ids[er].tolist()
            yis = yi.tolist()
            rows = []
            for e, y, vs in zip(eids, yis, vals):
                year, sub = FIGURE_YEARS[y], submitted[y]
                for j, v in enumerate(vs):
                    rows.append({"enterprise_id": e, "year": year, "indicator": indicators[j].value,
                                 "value": v, "unit": units[j], "department": depts[j],
                                 "submitted_at": sub, "version": 1})
            conn.execute(insert(table), rows)
            done += len(rows)
            report(stage, done, total)
        return done


# =========================================================================== the demo year
#: The 百园增效 action year the demo plays after the evaluation: the year of the published supply
#: list and of the 挂牌督办 requirement (``[oversight] due`` 2021-12-31).
DEMO_ACTION_YEAR = DEMO_AS_OF.year
#: The day the disposal ledgers are opened from the evaluation (after 2020's figures are in).
DEMO_LEDGER_OPENED = date(DEMO_ACTION_YEAR, 3, 1)
#: Quarter ends on which the zones report progress on their open entries.
DEMO_REPORT_DAYS = tuple(date(DEMO_ACTION_YEAR, m, d) for m, d in ((3, 31), (6, 30), (9, 30), (12, 31)))
#: Closing days are drawn from this span (a plausible year of disposals).
_CLOSE_FIRST, _CLOSE_LAST = date(DEMO_ACTION_YEAR, 4, 1), date(DEMO_ACTION_YEAR, 12, 20)
#: Share of closed parcels whose identification turns out wrong (撤销认定).
_REVOKED_SHARE = 0.04
#: The zone (by code order) left below the ≥2 挂牌督办 requirement, and the other zones' counts.
_CASES_BELOW_ZONE = 0
_CASES_PER_ZONE = (2, 2, 3)

#: (处置措施 choices, 处置结果 choices) per ledger category (domain.disposal vocabularies).
_LEDGER_PLAYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "approved_unsupplied": (("government_reserve", "self_development"), ("supplied", "procedures_completed")),
    "idle": (("government_reserve", "court_linkage", "self_development"), ("reclaimed", "resupplied", "revived")),
}
_LOW_EFFICIENCY_PLAY = (("self_development", "state_investment", "government_reserve", "court_linkage"),
                        ("revived", "reclaimed", "resupplied", "judicial"))
_STAGES = ("assessing", "planning", "implementing", "finishing")


@dataclass(frozen=True)
class DemoYearResult:
    """What :func:`generate_demo_year` wrote."""

    plans: int
    plan_tasks: int
    entries: int
    reports: int
    closed: int
    cases: int
    case_notes: int
    lifted: int
    agreements: int
    seconds: float


def generate_demo_year(db: Database, run_id: int | None, seed: int = 20211,
                       progress: ProgressFn | None = None) -> DemoYearResult:
    """Play a plausible 百园增效 year (:data:`DEMO_ACTION_YEAR`) on the demo world, after the
    evaluation ``run_id`` (docs/demo.md): load the shipped plans (27 + 25 tasks), open the
    disposal ledgers from the run's verdicts and the parcels' states on
    :data:`DEMO_LEDGER_OPENED`, fill in every entry's 一宗一策 plan, file quarterly progress
    reports, close a seeded share of each zone's parcels with outcomes on days through the year,
    list 挂牌督办 cases in every zone (one zone below the ≥2 requirement) with progress notes,
    lift some, and sign one 再开发监管协议. The supply list edition written by
    :func:`generate_demo` stays published; no 考评 round and no quota run are written.

    Deterministic from ``seed``; the ledger rows are written in bulk (one transaction, the
    change-log rows with them); the handful of cases go through the services. Records of the
    year are append-only (progress reports and notes): a demo with its year cannot be replaced.
    """
    t0 = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    with db.reader() as s:  # the year is played once: its records are append-only
        if s.scalar(select(func.count()).select_from(DisposalEntry)):
            raise ValidationFailed(Problem("演示数据", "year", "处置台账中已有记录：演示年度只能在新生成的演示数据上生成一次",
                                           "year_present"))
    report("演示年度：加载工作方案", 0, 1)
    plans = [plan_tasks.load_plan(db, path, actor=DEMO_ACTOR) for path in plan_tasks.shipped_plan_files()]
    report("演示年度：加载工作方案", 1, 1)
    report("演示年度：建立处置台账", 0, 1)
    opened = disposal.open_from_evaluation(db, actor=DEMO_ACTOR, run_id=run_id, states=True,
                                           opened_on=DEMO_LEDGER_OPENED,
                                           reason=f"{DEMO_REASON}：按年度评价结果和宗地现状建立处置台账")
    report("演示年度：建立处置台账", 1, 1)
    rng = np.random.default_rng([seed, 81])
    reports, closed = _play_ledger(db, rng, report)
    cases, notes, lifted = _play_oversight(db, rng, report)
    agreements = _sign_agreement(db)
    return DemoYearResult(plans=len(plans), plan_tasks=sum(int(p["tasks"]) for p in plans),
                          entries=int(opened["created"]), reports=reports, closed=closed, cases=cases,
                          case_notes=notes, lifted=lifted, agreements=agreements,
                          seconds=time.perf_counter() - t0)


def _play_ledger(db: Database, rng: np.random.Generator, report: ProgressFn) -> tuple[int, int]:
    """Plans for every entry, closures for a seeded share of each zone's parcels (all entries of
    a parcel close together), quarterly reports up to the closing. Returns (reports, closed)."""
    stage = "演示年度：处置台账进展与办结"
    with db.transaction(actor=DEMO_ACTOR, reason=f"{DEMO_REASON}：{DEMO_ACTION_YEAR}年处置进展") as session:
        conn = session.connection()
        t = DisposalEntry.__table__
        p = Parcel.__table__
        j = Jurisdiction.__table__
        rows = conn.execute(select(t.c.id, t.c.parcel_id, t.c.category, t.c.opened_on, t.c.version, p.c.zone_id,
                                   p.c.county_id, j.c.name).join(p, p.c.id == t.c.parcel_id)
                            .outerjoin(j, j.c.id == p.c.zone_id)
                            .where(t.c.status == "open").order_by(t.c.id)).all()
        report(stage, 0, len(rows))
        if not rows:
            return 0, 0
        county_names = dict(conn.execute(select(j.c.id, j.c.name)).all())
        # per zone a closing share (some zones reach the 60 % goal, some do not), per parcel a draw
        zone_ids = sorted({r.zone_id or 0 for r in rows})
        share = dict(zip(zone_ids, rng.uniform(0.20, 0.80, len(zone_ids)).tolist()))
        parcels = sorted({r.parcel_id for r in rows})
        draw = dict(zip(parcels, rng.random(len(parcels)).tolist()))
        span = (_CLOSE_LAST - _CLOSE_FIRST).days
        close_day = dict(zip(parcels, rng.integers(0, span + 1, len(parcels)).tolist()))
        revoked = dict(zip(parcels, (rng.random(len(parcels)) < _REVOKED_SHARE).tolist()))
        picks = rng.random((len(rows), 3))
        due_late = rng.random(len(rows)) < 0.3
        zone_of = {r.parcel_id: r.zone_id or 0 for r in rows}
        updates, log, report_rows = [], [], []
        now = utcnow()
        for i, r in enumerate(rows):
            measures, outcomes = _LEDGER_PLAYS.get(r.category, _LOW_EFFICIENCY_PLAY)
            measure = measures[int(picks[i, 0] * len(measures))]
            county = county_names.get(r.county_id, "县（市、区）")
            units = [f"{r.name}管理委员会" if r.name else f"{county}人民政府", f"{county}自然资源局"]
            due = date(DEMO_ACTION_YEAR + 1, 6, 30) if due_late[i] else date(DEMO_ACTION_YEAR, 12, 31)
            values = {"cause": _cause_text(r.category), "measure": measure,
                      "plan": f"（演示）{_label_of(measure)}：制定一宗一策处置方案，明确责任单位和完成时限",
                      "due_date": due, "units": units}
            closes = draw[r.parcel_id] < share[zone_of[r.parcel_id]]
            after = dict(values)
            if closes:
                day = date.fromordinal(_CLOSE_FIRST.toordinal() + close_day[r.parcel_id])
                outcome = "revoked" if revoked[r.parcel_id] else outcomes[int(picks[i, 1] * len(outcomes))]
                after.update(status="closed", outcome=outcome, closed_on=day,
                             closing_note=f"（演示）处置完成：{_outcome_label(outcome)}")
            else:
                day = None
            row = {**{k: after.get(k) for k in _UPDATE_KEYS}, "status": after.get("status", "open"),
                   "version": r.version + 1, "updated_at": now}
            updates.append({"b_id": r.id, **{f"v_{k}": v for k, v in row.items()}})
            log.append(_log_row(now, "update", "disposal_entries", r.id, r.parcel_id,
                                _entry_log(after, r.version + 1), DEMO_REASON,
                                before={**{k: (None if k != "units" else []) for k in values},
                                        **({"status": "open", "outcome": None, "closed_on": None,
                                            "closing_note": None} if closes else {}), "version": r.version}))
            report_rows += _reports_of(r.id, r.opened_on, day, picks[i, 2], now)
        ids = BulkIdAllocator(conn).take(DisposalReport.__table__, len(report_rows)).tolist()
        for rid, rr in zip(ids, report_rows):
            rr["id"] = rid
        stmt = update(t).where(t.c.id == bindparam("b_id")).values({c: bindparam(f"v_{c}") for c in _UPDATE_KEYS})
        for a, b in _chunks(len(updates), CHUNK_ROWS):
            conn.execute(stmt, updates[a:b])
            conn.execute(insert(ChangeLog), log[a:b])
            report(stage, b, len(rows))
        insert_with_history(session, DisposalReport, report_rows)
        return len(report_rows), sum(1 for u in updates if u["v_status"] == "closed")


_UPDATE_KEYS = ("cause", "measure", "plan", "due_date", "units", "status", "outcome", "closed_on", "closing_note",
                "version", "updated_at")


def _entry_log(after: dict, version: int) -> dict:
    out = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in after.items()}
    out["version"] = version
    return out


def _label_of(measure: str) -> str:
    return DisposalMeasure(measure).label


def _outcome_label(outcome: str) -> str:
    return DisposalOutcome(outcome).label


def _cause_text(category: str) -> str:
    return {"approved_unsupplied": "（演示）征地拆迁未完成、项目未落地，土地批而未供",
            "idle": "（演示）企业资金链紧张，超过约定动工日期满一年未动工"}.get(
        category, "（演示）企业经营困难、投入产出低于约定，列为低效用地")


def _reports_of(entry_id: int, opened_on: date, closed_on: date | None, pick: float, now: datetime) -> list[dict]:
    """Quarter-end progress reports from the opening up to the closing (or the year's end)."""
    days = [d for d in DEMO_REPORT_DAYS if d >= opened_on and (closed_on is None or d < closed_on)]
    if pick < 0.15:  # some zones never report on some entries
        days = days[:1]
    out = []
    for k, d in enumerate(days):
        pct = min(95, int(25 * (k + 1) * (0.6 + pick)))
        out.append({"entry_id": entry_id, "reported_on": d, "percent": pct, "stage": _STAGES[min(k, 3)],
                    "text": f"（演示）第{(d.month - 1) // 3 + 1}季度进展：按一宗一策方案推进，完成 {pct}%",
                    "reported_by": DEMO_ACTOR, "reported_at": now})
    return out


def _play_oversight(db: Database, rng: np.random.Generator, report: ProgressFn) -> tuple[int, int, int]:
    """挂牌督办 cases in every zone through the services: 2–3 per zone, one zone with one; a
    progress note each; a third lifted. Returns (cases, notes, lifted)."""
    cfg = oversight.settings()
    listable, counted = list(cfg["listable_states"]), set(cfg["counted_states"])
    with db.reader() as s:
        zones = s.execute(select(Jurisdiction.id, Jurisdiction.name).where(Jurisdiction.kind == JurisdictionKind.ZONE.value)
                          .order_by(Jurisdiction.code)).all()
        parcels = s.execute(select(Parcel.code, Parcel.zone_id, Parcel.state).where(
            Parcel.is_synthetic.is_(True), Parcel.state.in_(listable)).order_by(Parcel.id)).all()
    by_zone: dict[int, list] = {}
    for code, zone_id, state in parcels:  # counted states (批而未供/闲置) first
        by_zone.setdefault(zone_id, []).append((state not in counted, code))
    cases = notes = lifted = 0
    stage = "演示年度：挂牌督办"
    report(stage, 0, len(zones))
    for n, (zone_id, zone_name) in enumerate(zones):
        want = 1 if n == _CASES_BELOW_ZONE else _CASES_PER_ZONE[int(rng.integers(0, len(_CASES_PER_ZONE)))]
        pool = sorted(by_zone.get(zone_id, []))[:want]
        for k, (_later, code) in enumerate(pool):
            listed = date(DEMO_ACTION_YEAR, 4 + int(rng.integers(0, 5)), 1 + int(rng.integers(0, 28)))
            level = "city" if k == 0 else "county"
            case = oversight.open_case(
                db, code, DEMO_ACTOR, level=level, listed_by_unit="许昌市产业集聚区“百园增效”行动领导小组办公室"
                if level == "city" else f"{zone_name}所在县（市、区）人民政府",
                reason="（演示）批而未供、闲置土地消化处置进度滞后", requirement="（演示）年底前完成处置并报送处置成效",
                deadline=date(DEMO_ACTION_YEAR, 12, 31), units=[f"{zone_name}管理委员会", "自然资源和规划局"],
                listed_on=listed, document_no=f"演示-许百园督〔{DEMO_ACTION_YEAR}〕{cases + 1:03d}号")
            cases += 1
            note_day = date(DEMO_ACTION_YEAR, min(listed.month + 2, 12), 15)
            oversight.add_progress(db, case["id"], DEMO_ACTOR, text="（演示）已制定处置方案，正在推进", reported_on=note_day)
            notes += 1
            if rng.random() < 1 / 3:
                oversight.lift_case(db, case["id"], DEMO_ACTOR, case["version"],
                                    result="（演示）已完成处置，予以销号", lifted_on=date(DEMO_ACTION_YEAR, 12, 20))
                lifted += 1
        report(stage, n + 1, len(zones))
    return cases, notes, lifted


def _sign_agreement(db: Database) -> int:
    """One 低效用地再开发监管协议 (000:1114) on the first 低效 parcel with an owner."""
    states = list(load_rulebook().section("redevelopment")["agreement_states"])
    with db.reader() as s:
        row = s.execute(select(Parcel.code, Enterprise.credit_code).join(Occupancy, Occupancy.parcel_id == Parcel.id)
                        .join(Enterprise, Enterprise.id == Occupancy.enterprise_id)
                        .where(Parcel.is_synthetic.is_(True), Parcel.state.in_(states),
                               Occupancy.role == OccupancyRole.OWNER.value, Occupancy.end_date.is_(None))
                        .order_by(Parcel.id).limit(1)).first()
    if row is None:
        return 0
    oversight.add_agreement(
        db, row.code, DEMO_ACTOR, agreement_no=f"演示-再开发〔{DEMO_ACTION_YEAR}〕001号", enterprise=row.credit_code,
        signed_on=date(DEMO_ACTION_YEAR, 7, 15), check_date=date(DEMO_ACTION_YEAR + 1, 12, 31),
        target_completion_date=date(DEMO_ACTION_YEAR + 1, 6, 30),
        targets={"investment_intensity": 300.0, "tax_per_mu": 15.0, "plot_ratio": 1.2},
        exit_terms="（演示）约定期限内未达到投资强度或亩均税收目标的，继续按照低效用地处置，取消或追缴已享受的优惠",
        rewards=[{"kind": "fiscal_subsidy", "amount_wan": 50.0, "granted_on": date(DEMO_ACTION_YEAR, 8, 1),
                  "document_no": f"演示-许财〔{DEMO_ACTION_YEAR}〕018号"}])
    return 1


# =========================================================================== demo accounts
@dataclass(frozen=True)
class DemoAccount:
    username: str
    role_label: str
    jurisdiction: str
    password: str


#: One account per role for trying the platform on the demo data (username, role, jurisdiction,
#: department). The enterprise account is bound to a synthetic enterprise of 魏都.
DEMO_ACCOUNTS = (
    ("demo_city", "city_admin", "411000", None),
    ("demo_weidu", "county_admin", "魏都区", None),
    ("demo_weidu_zone", "zone_manager", "魏都产业集聚区", None),
    ("demo_changge_zone", "zone_manager", "长葛市产业集聚区", None),
    ("demo_tax", "department", "411000", "税务"),
)


def create_demo_accounts(db: Database) -> list[DemoAccount]:
    """Create the demo accounts with fresh random passwords (returned once; only hashes are
    stored). Does nothing and returns [] when any account exists already."""
    import secrets

    from ..domain.access import Role
    from ..storage.account_schema import User
    from ..storage.schema import Enterprise, Occupancy, Parcel
    from . import accounts, jurisdictions

    with db.reader() as s:
        if s.scalar(select(func.count()).select_from(User)):
            return []
        weidu = jurisdictions.resolve(s, "魏都产业集聚区")
        enterprise = s.scalar(select(Enterprise.credit_code).join(Occupancy, Occupancy.enterprise_id == Enterprise.id)
                              .join(Parcel, Parcel.id == Occupancy.parcel_id)
                              .where(Parcel.zone_id == weidu.id, Enterprise.is_synthetic.is_(True))
                              .order_by(Enterprise.credit_code).limit(1))
    specs = [(u, r, j, d, None) for u, r, j, d in DEMO_ACCOUNTS]
    if enterprise:
        specs.append(("demo_enterprise", "enterprise", None, None, enterprise))
    created = []
    for username, role, jurisdiction, department, credit_code in specs:
        password = secrets.token_urlsafe(9)
        accounts.add_user(db, username, password, role, jurisdiction=jurisdiction, department=department,
                          enterprise=credit_code, display_name=f"演示账号（{Role(role).label}）",
                          actor=DEMO_ACTOR)
        created.append(DemoAccount(username, Role(role).label, jurisdiction or credit_code or "", password))
    return created
