"""Benchmark (issue 4): 标图入库 of a 200,000-parcel GeoPackage with full validation.

    python benchmarks/import_parcels.py [--runs 3] [--scale 200000] [--workdir DIR]

Bar: the whole import ≤ 60 s on SQLite, peak memory ≤ 3 GiB; reported as a ratio to
GeoPandas ``read_file`` + ``sjoin(predicate="intersects")`` self-overlap on the same file
(goal ≤ 10×). GeoPandas is a benchmark-only dependency (``pip install geopandas``).

Data (built once per invocation, not timed; ``--workdir`` keeps and reuses it):
``generate_demo(scale=1.1·N)`` into a temporary SQLite file (≈ 60 s for N = 200,000); its
parcels are written with ``pyogrio.raw.write`` to two GeoPackages with Chinese column names
the default import mapping understands (宗地代码, 坐落, 宗地面积 (m²), 所属县区 (county code),
产业集聚区 (zone code), 土地用途, 土地状态, 土地来源, 供地方式, 供地日期, 出让年限, 价款 (万元),
容积率下限/上限): every 11th parcel goes to ``store.gpkg`` (N/10 parcels), the rest to
``parcels.gpkg`` (N parcels). The two sets are interleaved over the same zones, so the store
check really loads N/10 stored parcels around the batch and queries all N features against
them. (The demo leaves road gaps between parcels, so no pair actually intersects — in our check
or in GeoPandas' sjoin; overlap areas are computed only for intersecting candidate pairs.)

Each run: a fresh SQLite target (``init_database``: schema + reference jurisdictions), then
``store.gpkg`` is imported (not timed) so the store holds N/10 parcels; then a FRESH child
process times ``read_for_import`` + ``import_batch`` of ``parcels.gpkg`` — the same full
validation a dry run does (mapping, geometry, vocabulary, areas, containment in county and
zone, duplicate codes in the batch and the store, overlaps within the batch AND against the
N/10 stored parcels, STRtree over their geometries loaded with one Core query) plus the
all-or-nothing write of N
parcels with their 一地一档 change-log rows and batch items. Peak memory is that child's
peak resident memory (VmHWM). The import must succeed (no errors), leaving 1.1·N parcels in the store.

GeoPandas runs in its own fresh child on the same ``parcels.gpkg``: ``read_file`` + self
``sjoin(predicate="intersects")`` (pairs i ≠ j) — candidate pairs only, no overlap areas.

Prints per-run figures to stderr and the medians to stdout; the ratio against the goal is the
median of the per-run ratios (each run times both sides on the same machine state).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BAR_SECONDS = 60
BAR_MIB = 3 * 1024
GOAL_RATIO = 10

FIELDS = {  # GeoPackage column → parcels column
    "宗地代码": "code", "坐落": "location", "宗地面积": "area_m2", "所属县区": "county_code",
    "产业集聚区": "zone_code", "土地用途": "land_use", "土地状态": "state", "土地来源": "land_source",
    "供地方式": "supply_method", "供地日期": "supply_date", "出让年限": "term_years", "价款": "price_wan",
    "容积率下限": "plot_ratio_min", "容积率上限": "plot_ratio_max",
}
FLOATS = {"area_m2", "term_years", "price_wan", "plot_ratio_min", "plot_ratio_max"}


# --------------------------------------------------------------------------- data
def build_files(workdir: Path, scale: int) -> tuple[Path, Path]:
    """``parcels.gpkg`` (scale parcels) and ``store.gpkg`` (scale/10), from one demo world."""
    main, store = workdir / f"parcels_{scale}.gpkg", workdir / f"store_{scale}.gpkg"
    if main.exists() and store.exists():
        print(f"  reusing {main} and {store}", file=sys.stderr)
        return main, store
    import pyogrio.raw
    import shapely
    from sqlalchemy import select
    from sqlalchemy.orm import aliased

    from landcycle.services.demo import generate_demo
    from landcycle.storage.db import Database
    from landcycle.storage.schema import Jurisdiction, Parcel

    n_store = scale // 10
    total = scale + n_store
    with tempfile.TemporaryDirectory(prefix="landcycle-bench-src-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'source.db'}")
        db.upgrade()
        t0 = time.perf_counter()
        generate_demo(db, scale=total)
        print(f"  generated the --scale {total} dataset in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr, flush=True)
        county, zone = aliased(Jurisdiction), aliased(Jurisdiction)
        t = Parcel.__table__
        cols = [t.c[c] for c in FIELDS.values() if c in t.c]
        q = (select(t.c.geometry, county.code.label("county_code"), zone.code.label("zone_code"), *cols)
             .join(county, county.id == t.c.county_id).outerjoin(zone, zone.id == t.c.zone_id)
             .order_by(t.c.id))
        with db.engine.connect() as c:
            rows = c.execute(q).mappings().all()
        db.dispose()
    n = len(rows)
    in_store = np.zeros(n, dtype=bool)
    in_store[np.round(np.arange(n_store) * (n / max(n_store, 1)) + 5).astype(int) % n] = True
    for path, sel in ((main, ~in_store), (store, in_store)):
        idx = np.flatnonzero(sel)
        wkb = shapely.to_wkb(np.array([rows[i]["geometry"] for i in idx], dtype=object))
        data = []
        for col in FIELDS.values():
            vals = [rows[i][col] for i in idx]
            if col in FLOATS:
                data.append(np.array([np.nan if v is None else float(v) for v in vals], dtype=np.float64))
            elif col == "supply_date":
                data.append(np.array([v.isoformat() if v else None for v in vals], dtype=object))
            else:
                data.append(np.array([v if v is not None else None for v in vals], dtype=object))
        pyogrio.raw.write(path, wkb, data, list(FIELDS), layer="parcels", driver="GPKG",
                          geometry_type="MultiPolygon", crs="EPSG:4490", encoding="UTF-8")
        print(f"  wrote {len(idx)} parcels to {path} ({path.stat().st_size / 2**20:.0f} MiB)",
              file=sys.stderr, flush=True)
    return main, store


def prepare_target(db_path: Path, store_file: Path) -> int:
    """Fresh schema + reference jurisdictions, then the store parcels imported (not timed)."""
    from landcycle.services import imports
    from landcycle.services.setup import init_database
    from landcycle.storage.db import Database

    db = Database(f"sqlite:///{db_path}")
    try:
        init_database(db)
        batch = imports.read_for_import(db, str(store_file))
        res = imports.import_batch(db, batch, actor="bench")
        return len(res.created)
    finally:
        db.dispose()


# --------------------------------------------------------------------------- children
def _maxrss_mib() -> float:
    """This process's peak resident memory (MiB): VmHWM, which starts afresh at exec — unlike
    ``ru_maxrss``, which a child started by ``subprocess`` inherits from the benchmark process
    (that had just built the GeoPackages and so reported its own peak for GeoPandas)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_import(db_path: str, path: str) -> dict:
    from sqlalchemy import func, select

    from landcycle.services import gis_read, imports  # noqa: F401  (loaded before the clock, as in
    from landcycle.storage.db import Database           # a running server; GeoPandas' child, too,
    from landcycle.storage.schema import ChangeLog, Parcel  # imports geopandas before its clock)

    db = Database(f"sqlite:///{db_path}")
    t0 = time.perf_counter()
    batch = imports.read_for_import(db, path)
    t1 = time.perf_counter()
    res = imports.import_batch(db, batch, actor="bench")
    t2 = time.perf_counter()
    rss = _maxrss_mib()
    with db.reader() as s:
        parcels = s.scalar(select(func.count()).select_from(Parcel))
        logged = s.scalar(select(func.count()).select_from(ChangeLog)
                          .where(ChangeLog.reason == imports.batch_reason(res.batch_id)))
    db.dispose()
    return {"seconds": t2 - t0, "read": t1 - t0, "import": t2 - t1, "maxrss_mib": rss,
            "created": len(res.created), "warnings": len(res.report.warnings),
            "store_parcels_after": parcels, "change_log_rows": logged}


def child_geopandas(path: str) -> dict:
    import geopandas as gpd

    t0 = time.perf_counter()
    gdf = gpd.read_file(path, engine="pyogrio")
    t1 = time.perf_counter()
    pairs = gpd.sjoin(gdf, gdf, predicate="intersects", how="inner")
    pairs = pairs[pairs.index != pairs["index_right"]]
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "read": t1 - t0, "sjoin": t2 - t1, "pairs": len(pairs),
            "maxrss_mib": _maxrss_mib()}


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="number of runs (median reported; default 3)")
    ap.add_argument("--scale", type=int, default=200_000, help="parcels in the imported file (default 200000)")
    ap.add_argument("--workdir", default=None,
                    help="keep the generated GeoPackages here and reuse them on later invocations")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        result = child_import(*rest) if kind == "import" else child_geopandas(*rest)
        print(json.dumps(result))
        return 0
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    with tempfile.TemporaryDirectory(prefix="landcycle-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        main_file, store_file = build_files(workdir, args.scale)
        ours, gpd_times, rss, gpd_rss, ratios = [], [], [], [], []
        for run in range(1, args.runs + 1):
            db_path = Path(tmp) / f"target_{run}.db"
            t0 = time.perf_counter()
            stored = prepare_target(db_path, store_file)
            print(f"  run {run}: target prepared ({stored} parcels in the store) in "
                  f"{time.perf_counter() - t0:.1f} s (not counted)", file=sys.stderr, flush=True)
            r = run_child("import", str(db_path), str(main_file))
            g = run_child("geopandas", str(main_file))
            os.remove(db_path)
            ours.append(r["seconds"])
            rss.append(r["maxrss_mib"])
            gpd_times.append(g["seconds"])
            gpd_rss.append(g["maxrss_mib"])
            ratios.append(r["seconds"] / g["seconds"])
            print(f"  run {run}/{args.runs} [sqlite]: ours {r['seconds']:.1f} s (read {r['read']:.1f} s, "
                  f"validate+write {r['import']:.1f} s), {r['created']} created, {r['warnings']} warnings, "
                  f"{r['store_parcels_after']} parcels in the store, {r['change_log_rows']} change-log rows, "
                  f"peak {r['maxrss_mib']:.0f} MiB; GeoPandas {g['seconds']:.1f} s (read {g['read']:.1f} s, "
                  f"sjoin {g['sjoin']:.1f} s, {g['pairs']} intersecting pairs, peak {g['maxrss_mib']:.0f} MiB); "
                  f"ratio {r['seconds'] / g['seconds']:.1f}×", file=sys.stderr, flush=True)
            expected = args.scale + stored
            if r["created"] != args.scale or r["store_parcels_after"] != expected:
                print(f"  WARNING: expected {args.scale} created / {expected} stored", file=sys.stderr)
    med, gmed = statistics.median(ours), statistics.median(gpd_times)
    print(f"import {args.scale} parcels (GeoPackage → SQLite, full validation): {med:.1f} s "
          f"(bar: {BAR_SECONDS} s); peak {max(rss):.0f} MiB (bar: {BAR_MIB} MiB)")
    # Each run pairs our import with GeoPandas minutes apart on the same machine state; the
    # median of those paired ratios is the figure against the goal (the ratio of the two
    # medians is printed too: it mixes runs, so it moves with the machine between runs).
    print(f"GeoPandas read_file + sjoin(intersects): {gmed:.1f} s (peak {max(gpd_rss):.0f} MiB); "
          f"ratio {statistics.median(ratios):.1f}× (median of the per-run ratios "
          f"{', '.join(f'{x:.1f}' for x in ratios)}; ratio of the medians {med / gmed:.1f}×; "
          f"goal ≤ {GOAL_RATIO}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
