"""增存挂钩: a year's new construction-land quota allocated among the counties — pure, no I/O.

Seed 000:811 (任务16): 分配新增建设用地指标时向产业集聚区盘活存量成效显著的县（市、区）予以倾斜；
"不盘活存量就没有新增用地"；批而未供消化、闲置处置情况与新增建设用地计划指标安排相挂钩. Seed 000:1304:
the 考评 result is 年度新增建设用地计划指标奖励分配的重要参考依据. The seeds give no formula
(DOMAIN.md §7); this is the platform's, every number in the rulebook's ``[quota]`` section
(``example_defaults = true``):

1. **Participants** — the counties (县（市、区）). With ``require_revival`` a county that revived
   nothing (revived area 0) takes no part and gets 0 亩 ("不盘活存量就没有新增用地").
2. **Weight** of participant *i* among the *n* participants::

       w_i = base_share · 1/n
           + revived_share · r_i / Σr        (r: revived 亩 — the ledger's 盘活面积, ``[disposal_rate]``)
           + rate_share    · p_i / Σp        (p: 消化处置率, "无数据" counts as 0)
           + kaoping_share · s_i / Σs        (s: the county's 考评 total of the previous year)

   The four shares sum to 1. A component whose sum is 0 (nobody revived anything, no 考评
   scores) is split equally instead (1/n), so the weights always sum to 1.
3. **Floor and cap** — every participant gets at least ``floor_share`` and at most
   ``cap_share`` of the total: participants beyond a bound are fixed at it and the rest is
   shared again among the others in proportion to their weights, until none is beyond
   (n·floor ≤ 1 ≤ n·cap is required).
4. **Rounding** — allocations are whole multiples of ``unit_mu``; the total must be one too.
   Each exact allocation is rounded down to a unit, and the units left over go one each to the
   largest remainders (largest-remainder / Hamilton method; remainders equal at 9 decimals
   tie, and ties go to the larger revived area, then the lower code), so the allocations add
   up to the total exactly. Rounding may move a participant at most one unit across its floor
   or cap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import Problem, ValidationFailed

SHARES = ("base_share", "revived_share", "rate_share", "kaoping_share")
SHARE_LABELS = {"base_share": "基础份额（平均分配）", "revived_share": "盘活面积份额",
                "rate_share": "消化处置率份额", "kaoping_share": "考评得分份额"}
#: Float tolerance of the share sums and bounds.
EPS = 1e-9


@dataclass(frozen=True)
class CountyFigures:
    """What one county brings to the allocation (read by the service from the 处置台账's
    progress figures, ``services.disposal.progress``)."""

    code: str
    name: str
    identified_mu: float  # 认定的低效、闲置用地, in ``unit`` (亩 unless [disposal_rate] basis = "count": 宗)
    revived_mu: float  # 盘活面积 (亩, always)
    rate: float | None  # 消化处置率 (``domain.progress.disposal_rate``), None = 无数据
    kaoping: float | None = None  # 考评 total (0–100) used when kaoping_share > 0
    unit: str = "亩"  # the unit of identified_mu (the rate's basis)


@dataclass(frozen=True)
class QuotaParameters:
    """The ``[quota]`` settings (see the module docstring)."""

    base_share: float
    revived_share: float
    rate_share: float
    kaoping_share: float = 0.0
    floor_share: float = 0.0
    cap_share: float = 1.0
    unit_mu: float = 1.0
    require_revival: bool = False

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "QuotaParameters":
        """From the rulebook's ``[quota]`` section; every value checked (ValidationFailed)."""
        problems: list[Problem] = []
        values: dict[str, Any] = {}
        for key in ("base_share", "revived_share", "rate_share", "kaoping_share", "floor_share", "cap_share",
                    "unit_mu"):
            raw = settings.get(key, {"kaoping_share": 0.0, "floor_share": 0.0, "cap_share": 1.0,
                                     "unit_mu": 1.0}.get(key))
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
                problems.append(Problem("规则库 [quota]", key, f"应为数字，实际为 {raw!r}"))
                continue
            values[key] = float(raw)
        values["require_revival"] = bool(settings.get("require_revival", False))
        if problems:
            raise ValidationFailed(problems)
        params = cls(**values)
        params.check()
        return params

    def check(self) -> None:
        """Refuse settings the formula cannot use (negative shares, shares not adding to 1…)."""
        problems = []
        for key in SHARES + ("floor_share",):
            if getattr(self, key) < 0:
                problems.append(Problem("规则库 [quota]", key, "不能为负数"))
        total = sum(getattr(self, k) for k in SHARES)
        if abs(total - 1.0) > 1e-6:
            problems.append(Problem("规则库 [quota]", "base_share", "基础、盘活面积、消化处置率、考评四项份额之和应为 1，"
                                    f"实际为 {total:g}"))
        if not 0 < self.cap_share <= 1:
            problems.append(Problem("规则库 [quota]", "cap_share", "上限比例应大于 0 且不超过 1"))
        if self.floor_share > self.cap_share:
            problems.append(Problem("规则库 [quota]", "floor_share", "下限比例不能大于上限比例"))
        if self.unit_mu <= 0:
            problems.append(Problem("规则库 [quota]", "unit_mu", "取整单位应大于 0"))
        if problems:
            raise ValidationFailed(problems)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("base_share", "revived_share", "rate_share", "kaoping_share",
                                             "floor_share", "cap_share", "unit_mu", "require_revival")}


@dataclass
class CountyAllocation:
    """One county's line of the allocation: its figures, its weights and its quota."""

    figures: CountyFigures
    participates: bool
    components: dict[str, float] = field(default_factory=dict)  # share key → weighted part of w_i
    weight: float = 0.0
    bound: str | None = None  # "floor" / "cap" when fixed at a bound
    exact_mu: float = 0.0  # before rounding
    allocated_mu: float = 0.0
    rank: int = 0  # rank of the remainder that won an extra unit (0: none)

    def to_dict(self) -> dict[str, Any]:
        f = self.figures
        return {"code": f.code, "name": f.name, "identified_mu": f.identified_mu, "revived_mu": f.revived_mu,
                "rate": f.rate, "kaoping": f.kaoping, "participates": self.participates,
                "components": self.components, "weight": self.weight, "bound": self.bound,
                "exact_mu": self.exact_mu, "allocated_mu": self.allocated_mu}


@dataclass
class Allocation:
    """The result: per county lines, in the input order, and the explanation."""

    total_mu: float
    parameters: QuotaParameters
    lines: list[CountyAllocation]
    explanation: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"total_mu": self.total_mu, "parameters": self.parameters.to_dict(),
                "counties": [x.to_dict() for x in self.lines], "explanation": self.explanation}


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _component(values: list[float]) -> list[float]:
    """Each value's part of the sum; equal parts when the sum is 0."""
    total = sum(values)
    n = len(values)
    return [v / total for v in values] if total > EPS else [1.0 / n] * n


def _bounded(total: float, weights: list[float], low: float, high: float) -> tuple[list[float], list[str | None]]:
    """Exact allocations of ``total`` in proportion to ``weights``, each within [low, high]:
    participants beyond a bound are fixed at it and the rest is re-shared, until none is beyond."""
    n = len(weights)
    bound: list[str | None] = [None] * n
    alloc = [0.0] * n
    for _ in range(n + 1):
        free = [i for i in range(n) if bound[i] is None]
        left = total - sum(alloc[i] for i in range(n) if bound[i] is not None)
        wsum = sum(weights[i] for i in free)
        for i in free:
            alloc[i] = left * (weights[i] / wsum if wsum > EPS else 1.0 / len(free))
        under = [i for i in free if alloc[i] < low - EPS * max(1.0, total)]
        over = [i for i in free if alloc[i] > high + EPS * max(1.0, total)]
        # Fix one direction at a time: raising the ones under the floor lowers the others, which
        # may then fall within the cap (and the other way round).
        fix, value, label = (under, low, "floor") if under else (over, high, "cap")
        if not fix:
            return alloc, bound
        for i in fix:
            bound[i], alloc[i] = label, value
    return alloc, bound  # pragma: no cover - each round fixes at least one participant


def allocate(total_mu: float, counties: list[CountyFigures], params: QuotaParameters) -> Allocation:
    """Allocate ``total_mu`` 亩 among ``counties`` by the formula of the module docstring."""
    params.check()
    record = "增存挂钩指标分配"
    problems = []
    if isinstance(total_mu, bool) or not isinstance(total_mu, (int, float)) or not math.isfinite(total_mu) \
            or total_mu <= 0:
        raise ValidationFailed(Problem(record, "total_mu", f"年度新增建设用地指标总量应为正数（亩），实际为 {total_mu!r}"))
    units_f = total_mu / params.unit_mu
    units = round(units_f)
    if abs(units_f - units) > 1e-6:
        problems.append(Problem(record, "total_mu", f"指标总量 {_fmt(total_mu)} 亩不是取整单位 {_fmt(params.unit_mu)} 亩的整数倍"))
    if not counties:
        problems.append(Problem(record, "counties", "没有参与分配的县（市、区）"))
    codes = [c.code for c in counties]
    if len(set(codes)) != len(codes):
        problems.append(Problem(record, "counties", "县（市、区）重复"))
    for c in counties:
        if c.revived_mu < 0 or c.identified_mu < 0 or (c.rate is not None and not 0 <= c.rate <= 1) \
                or (c.kaoping is not None and not 0 <= c.kaoping <= 100):
            problems.append(Problem(f"{record} {c.name}", "figures", "面积不能为负，消化处置率应在 0–1 之间，考评得分应在 0–100 之间"))
    if problems:
        raise ValidationFailed(problems)

    lines = [CountyAllocation(c, participates=not (params.require_revival and c.revived_mu <= EPS)) for c in counties]
    part = [x for x in lines if x.participates]
    if not part:
        raise ValidationFailed(Problem(record, "require_revival", "所有县（市、区）均无盘活存量，按“不盘活存量就没有新增用地”无可分配对象"))
    n = len(part)
    if n * params.floor_share > 1 + EPS:
        raise ValidationFailed(Problem(record, "floor_share", f"{n} 个县（市、区）各保底 {params.floor_share:.0%} 超过指标总量"))
    if n * params.cap_share < 1 - EPS:
        raise ValidationFailed(Problem(record, "cap_share", f"{n} 个县（市、区）各不超过 {params.cap_share:.0%}，分不完指标总量"))

    parts = {
        "base_share": [1.0 / n] * n,
        "revived_share": _component([x.figures.revived_mu for x in part]),
        "rate_share": _component([x.figures.rate or 0.0 for x in part]),
        "kaoping_share": _component([x.figures.kaoping or 0.0 for x in part]),
    }
    for j, x in enumerate(part):
        x.components = {k: getattr(params, k) * parts[k][j] for k in SHARES}
        x.weight = sum(x.components.values())

    exact, bounds = _bounded(float(units), [x.weight for x in part], params.floor_share * units,
                             params.cap_share * units)
    floors = [math.floor(e + 1e-9) for e in exact]
    left = units - sum(floors)
    # Largest remainder first (compared at 9 decimals, so float noise makes no winner); ties:
    # larger revived area, then code (deterministic).
    order = sorted(range(n), key=lambda j: (-round(exact[j] - floors[j], 9), -part[j].figures.revived_mu,
                                            part[j].figures.code))
    for rank, j in enumerate(order[:left], start=1):
        floors[j] += 1
        part[j].rank = rank
    for j, x in enumerate(part):
        x.bound = bounds[j]
        x.exact_mu = exact[j] * params.unit_mu
        x.allocated_mu = round(floors[j] * params.unit_mu, 6)

    return Allocation(float(total_mu), params, lines, _explain(float(total_mu), params, lines, parts, left))


def _explain(total: float, params: QuotaParameters, lines: list[CountyAllocation], parts: dict, left: int) -> list[str]:
    shares = "，".join(f"{SHARE_LABELS[k]} {getattr(params, k):.0%}" for k in SHARES if getattr(params, k) > 0)
    out = [
        f"年度新增建设用地指标 {_fmt(total)} 亩，按“增存挂钩”向盘活存量成效显著的县（市、区）倾斜（000:811）。",
        f"权重 = {shares}；各项按本县（市、区）占全部参与县（市、区）合计的比例计，合计为 0 的项平均分配。",
        f"每县（市、区）不少于总量的 {params.floor_share:.0%}、不超过 {params.cap_share:.0%}；"
        f"按 {_fmt(params.unit_mu)} 亩取整，尾数按最大余数法分配（本次余 {left} 个单位），合计与总量一致。",
    ]
    if params.require_revival:
        out.append("未盘活存量的县（市、区）不参与分配（不盘活存量就没有新增用地）。")
    for x in lines:
        f = x.figures
        if not x.participates:
            out.append(f"{f.name}：盘活面积为 0，不参与分配，分得 0 亩。")
            continue
        rate = "无数据" if f.rate is None else f"{f.rate * 100:.1f}%"
        bound = {"floor": "（按下限）", "cap": "（按上限）"}.get(x.bound or "", "")
        extra = "，取整时多分 1 个单位" if x.rank else ""
        out.append(f"{f.name}：认定低效闲置 {_fmt(f.identified_mu)} {f.unit}，盘活 {_fmt(f.revived_mu)} 亩，"
                   f"消化处置率 {rate}" + (f"，考评 {_fmt(f.kaoping or 0)} 分" if params.kaoping_share > 0 else "")
                   + f"；权重 {x.weight:.4f}，应分 {_fmt(x.exact_mu)} 亩{bound}，分得 {_fmt(x.allocated_mu)} 亩{extra}。")
    return out
