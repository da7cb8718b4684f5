"""Benchmark: the annual evaluation (`landcycle evaluate --year 2020`) on the --scale 200000 demo.

    python benchmarks/evaluation.py [--runs 3] [--scale 200000] [--year 2020] [--naive-slice 5000]
                                    [--database PATH]

Generates the demo (``generate_demo(db, scale=N)``, ~52 s for 200k on SQLite, NOT counted) into a
temporary SQLite file (or reuses ``--database PATH`` if it already holds a demo), then, in a fresh
child process per run (so peak memory is the evaluation's own, not the generator's):

* **whole run** — ``services.evaluation.evaluate``: read the registry in bulk, compute, write the
  run and 200k + 160k result rows in one transaction, commit. Bar: ≤ 20 s.
* **computation** — ``domain.rules.evaluation.evaluate`` alone on the loaded arrays (R1–R4, all
  parcels and enterprises), as parcels per second. Bar: ≥ 200,000 parcels/s.
* **peak memory** — the child's ``ru_maxrss``. Bar: ≤ 2 GiB.
* **naive** — a straightforward per-parcel loop over a ``--naive-slice`` slice calling the scalar
  checks (``check_mu_average`` with the parcel's tenants, ``check_idle``, ``check_low_efficiency``;
  R2 classes taken from the vectorised run, so the naive side does LESS work), on the same loaded
  arrays; the speed-up is vectorised parcels/s ÷ naive parcels/s.

Runs reuse one database (each run adds a run and its result rows, the same work every time).
Prints the median of ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

BAR_WHOLE_S = 20.0
BAR_PARCELS_PER_S = 200_000
BAR_PEAK_MIB = 2048


def _child(path: str, year: int, naive_slice: int) -> dict:
    from landcycle.domain.rules import evaluation as ev
    from landcycle.services import evaluation as service
    from landcycle.services.rules import load_rulebook
    from landcycle.storage.db import Database

    db = Database(f"sqlite:///{path}")
    rulebook = load_rulebook()
    t0 = time.perf_counter()
    rep = service.evaluate(db, year, actor="benchmark", rulebook=rulebook)
    whole = time.perf_counter() - t0
    peak_after_run = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with db.reader() as s:
        inputs = service.read_inputs(s.connection(), year, rulebook)
    t0 = time.perf_counter()
    result = ev.evaluate(inputs, rulebook)
    compute = time.perf_counter() - t0
    naive = _naive(inputs, result, rulebook, naive_slice)
    db.dispose()
    return {"whole_s": whole, "timings": rep.timings, "parcels": rep.parcels, "enterprises": rep.enterprises,
            "compute_s": compute, "parcels_per_s": rep.parcels / compute, "naive_parcels": naive[0],
            "naive_s": naive[1], "naive_parcels_per_s": naive[0] / naive[1],
            "peak_mib_run": peak_after_run,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _naive(inputs, result, rulebook, k: int) -> tuple[int, float]:
    """Per-parcel loop calling the scalar checks (what one would write without vectorising)."""
    from landcycle.domain.rules.idle import IdleCase, check_idle
    from landcycle.domain.rules.low_efficiency import LowEfficiencyCase, check_low_efficiency
    from landcycle.domain.rules.mu_average import MuAverageCase, check_mu_average

    as_of = date(inputs.year, 12, 31)
    asof64 = np.datetime64(as_of)
    sel = np.arange(min(k, len(inputs.parcel_id)))

    def d(x):
        return None if np.isnat(x) else x.astype(object)

    def f(x):
        return None if x != x else float(x)

    t0 = time.perf_counter()
    occ_by_parcel: dict[int, list[int]] = {}
    for i in range(len(inputs.occ_id)):  # the naive way: a dict of lists
        occ_by_parcel.setdefault(int(inputs.occ_parcel[i]), []).append(i)
    fig = inputs.figures
    for p in sel.tolist():
        owner, tenants = None, []
        for i in occ_by_parcel.get(p, []):
            if inputs.occ_start[i] > asof64 or (not np.isnat(inputs.occ_end[i]) and inputs.occ_end[i] < asof64):
                continue
            e = int(inputs.occ_enterprise[i])
            if inputs.occ_owner[i]:
                owner = e
            else:
                tenants.append({"name": str(e), "tax_paid_wan": f(fig["tax_paid"][e]) or 0.0,
                                "tax_refunded_wan": f(fig["tax_refunded"][e]) or 0.0,
                                "industrial_output_wan": f(fig["industrial_output"][e]) or 0.0})
        check_mu_average(MuAverageCase(
            land_area_mu=float(inputs.area_mu[p]),
            tax_paid_wan=(f(fig["tax_paid"][owner]) or 0.0) if owner is not None else 0.0,
            tax_refunded_wan=(f(fig["tax_refunded"][owner]) or 0.0) if owner is not None else 0.0,
            industrial_output_wan=f(fig["industrial_output"][owner]) if owner is not None else None,
            tenants=tenants, standard_factory=bool(inputs.standard_factory[p])), rulebook)
        started = d(inputs.actual_start[p])
        dev = f(inputs.developed_area_m2[p] / inputs.area_m2[p])
        inv = (f(inputs.investment_done_wan[p] / inputs.investment_total_wan[p])
               if inputs.investment_total_wan[p] > 0 else None)
        idle = False
        if not np.isnat(inputs.agreed_start[p]):
            v = check_idle(IdleCase(agreed_start_date=d(inputs.agreed_start[p]), as_of=as_of,
                                    actual_start_date=started, developed_area_ratio=dev, investment_ratio=inv,
                                    stopped_since=d(inputs.stopped_since[p]), land_price_wan=f(inputs.price_wan[p])),
                           rulebook)
            idle = v.outcome in ("idle_fee", "reclaim", "government_caused")
        committed = {key: float(v[p]) for key, v in inputs.committed.items() if v[p] == v[p]}
        check_low_efficiency(LowEfficiencyCase(
            industry_code=inputs.industry_code[owner] if owner is not None else None,
            started=started is not None and started <= as_of, developed_area_ratio=dev, investment_ratio=inv,
            idle=idle, completed=bool(inputs.completion_passed[p]), producing=bool(inputs.production_passed[p]),
            contract_indicators=committed, actual_indicators={},
            enterprise_class=result.enterprise["class"][owner] if owner is not None else None), rulebook)
    return len(sel), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=int, default=200_000)
    ap.add_argument("--year", type=int, default=2020)
    ap.add_argument("--naive-slice", type=int, default=5_000)
    ap.add_argument("--database", default=None, help="SQLite file to use (generated if it has no parcels)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.year, args.naive_slice)))
        return 0
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="landcycle-eval-bench-") as tmp:
        path = Path(args.database) if args.database else Path(tmp) / "bench.db"
        from landcycle.services import setup
        from landcycle.services.demo import generate_demo
        from landcycle.storage.db import Database

        db = Database(f"sqlite:///{path}")
        setup.init_database(db)
        if setup.status(db).parcels == 0:
            t0 = time.perf_counter()
            generate_demo(db, scale=args.scale)
            print(f"  generated --scale {args.scale} in {time.perf_counter() - t0:.1f} s (not counted)",
                  file=sys.stderr, flush=True)
        db.dispose()
        runs = []
        for run in range(1, args.runs + 1):
            out = subprocess.run([sys.executable, __file__, "--child", str(path), "--year", str(args.year),
                                  "--naive-slice", str(args.naive_slice)], check=True, capture_output=True,
                                 text=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append(r)
            t = {k: round(v, 2) for k, v in r["timings"].items()}
            print(f"  run {run}/{args.runs}: whole {r['whole_s']:.2f} s {t}; compute {r['compute_s']:.3f} s "
                  f"= {r['parcels_per_s']:,.0f} parcels/s; naive {r['naive_parcels_per_s']:,.0f} parcels/s; "
                  f"peak {r['peak_mib']:.0f} MiB", file=sys.stderr, flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in ("whole_s", "parcels_per_s", "naive_parcels_per_s",
                                                               "peak_mib")}
    n = runs[0]["parcels"]
    print(f"evaluate --year {args.year} on {n} parcels / {runs[0]['enterprises']} enterprises (SQLite), "
          f"median of {args.runs}:")
    print(f"  whole run: {med['whole_s']:.1f} s (bar: ≤ {BAR_WHOLE_S:.0f} s)")
    print(f"  computation: {med['parcels_per_s']:,.0f} parcels/s (bar: ≥ {BAR_PARCELS_PER_S:,})")
    print(f"  peak memory: {med['peak_mib']:.0f} MiB (bar: ≤ {BAR_PEAK_MIB} MiB)")
    print(f"  naive per-parcel ({args.naive_slice} parcels): {med['naive_parcels_per_s']:,.0f} parcels/s; "
          f"speed-up ×{med['parcels_per_s'] / med['naive_parcels_per_s']:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
