"""Benchmark: ``landcycle demo --scale 200000`` must finish in under 180 s on SQLite.

    python benchmarks/demo_generation.py [--runs 3] [--scale 200000] [--database-url URL]

Each run starts from a fresh database (a temporary SQLite file, or — with
``--database-url postgresql+psycopg://…`` — a temporary database created on that server
and dropped afterwards; the database named in the URL is only used to connect). The time
measured is the whole ``generate_demo`` call (reference jurisdictions, generation, writes,
commit); creating the schema is not counted. Prints the median of the runs as
``demo --scale 200000: X.X s (bar: 180 s)``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from landcycle.services.demo import generate_demo
from landcycle.storage.db import Database

BAR_SECONDS = 180


@contextmanager
def fresh_database(url: str | None):
    if not url:
        with tempfile.TemporaryDirectory(prefix="landcycle-bench-") as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
            try:
                yield db
            finally:
                db.dispose()
        return
    base = make_url(url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"demo_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(base.set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="number of runs (median reported; default 3)")
    ap.add_argument("--scale", type=int, default=200_000, help="parcels to generate (default 200000)")
    ap.add_argument("--database-url", default=None,
                    help="PostgreSQL server to measure instead of SQLite (a temporary database is "
                         "created on it for each run and dropped afterwards)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    backend = make_url(args.database_url).get_backend_name() if args.database_url else "sqlite"
    times = []
    for run in range(1, args.runs + 1):
        with fresh_database(args.database_url) as db:
            db.upgrade()
            t0 = time.perf_counter()
            result = generate_demo(db, scale=args.scale)
            elapsed = time.perf_counter() - t0
        times.append(elapsed)
        print(f"  run {run}/{args.runs} [{backend}]: {elapsed:.1f} s — {result.parcels} parcels, "
              f"{result.enterprises} enterprises, {result.occupancies} occupancies, "
              f"{result.contracts} contracts, {result.figures} figures, "
              f"{result.change_log_rows} change-log rows", file=sys.stderr, flush=True)
    median = statistics.median(times)
    print(f"demo --scale {args.scale}: {median:.1f} s (bar: {BAR_SECONDS} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
