"""Benchmark (issue 5): the HTTP API on loopback — vector tiles, parcel search, cards — under
load, and the same tiles from TiPg for comparison.

    python benchmarks/api_load.py [--scale 200000] [--seed 20211] [--runs 5] [--load-runs 3]
                                  [--clients 50] [--duration 60] [--workdir var/bench]
                                  [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres | --no-pg]
                                  [--only tiles|search|load ...] [--wait-idle MINUTES] [--quick]

Bars (issue 5, 200,000 parcels, SQLite, the real server on loopback):

* (a) z14 parcel tiles across a zone, uncached: p50 ≤ 20 ms, p95 ≤ 60 ms;
* (b) parcel search API (``GET /api/parcels``) over a mix of filters: p95 ≤ 100 ms;
* (c) 50 concurrent clients for 60 s against a mix of tile, search and card requests: zero
  errors; throughput and latency percentiles reported;
* (d) the same z14 tiles from TiPg serving the same parcels from PostGIS: ratio ours ÷ TiPg.

Data (built once, not timed, kept in ``--workdir`` and reused, keyed by scale and seed; an
interrupted build resumes): ``generate_demo(db, scale, seed)`` and an evaluation of 2020 (so
the officials' parcel tiles carry ``eval_class``) into
``landcycle_s<scale>_seed<seed>.db`` (≈ 1 min for 200,000 on an idle machine) and, for (d), into
the PostgreSQL database ``landcycle_bench_s<scale>_seed<seed>`` on the ``--pg-url`` server
(≈ 100 s; the same seed gives the same parcels). Each database gets two accounts:
``bench_city`` (市级管理员) and ``bench_zone`` (产业集聚区管理机构 of the zone with the most parcels —
the "bench zone", the densest case).

Servers: ``python -m landcycle serve`` (Granian, one worker, as shipped) in its own session on a
free loopback port, with ``LANDCYCLE_DATABASE_URL`` / ``LANDCYCLE_DATA_DIR`` pointing at the
benchmark database; TiPg (``tipg.main:app`` under uvicorn, one worker, ``TIPG_DB_TABLES`` =
``public.parcels``) from its own virtualenv ``<workdir>/tipg-venv`` (created with
``pip install tipg uvicorn`` on first use — it pins its own FastAPI/pydantic and must not
touch the project's environment). Server output goes to ``<workdir>/logs/``.

Measurements (the tile and search phases ``--runs`` rounds, the load ``--load-runs`` runs;
medians reported):

* tiles — every z14 tile covering the bench zone (``services.tiles.zone_tiles``), once per
  round, one request at a time, as ``bench_city`` (who sees every parcel). Our servers run with
  ``LANDCYCLE_TILE_CACHE=0`` and every measured response must say ``X-Tile-Cache: miss``; TiPg
  has no tile cache. Servers take turns within a round (order reversed every other round);
  a few z15 tiles — never measured — warm each process first. TiPg is asked for the table
  columns behind our attributes (``properties=code,state,…``); ours also carry Chinese labels
  and the zone/county codes and names, so its tiles are smaller — bytes are reported.
* search — a fixed list of searches per round (by zone, county, state, zone+state, bbox of a
  z14 tile and of a whole zone, deep pages in the middle and at the end of large results; page
  sizes 20/50/100; as ``bench_city``, ``bench_zone`` and anonymous), one at a time.
* load — ``--clients`` concurrent clients (each its own keep-alive connection, no think time)
  for ``--duration`` s against a fresh server with its tile cache on (empty at the start),
  drawing from a weighted mix: 60 % tiles (parcels z14–z15 over every zone as the two
  officials, the public supply layer z14, zones z10–z12, counties z9–z11 anonymously), 25 %
  searches from the list above, 15 % cards of parcels the caller may see. Any status other
  than 200 or any transport error (timeout 30 s) is an error.

The client (httpx, one asyncio process) and the servers share the machine. The report gives
the CPU the server and the client used during the load, and — for every phase — the CPU that
*other* processes used meanwhile (the sandbox is shared: figures taken while it is busy are
slower). Per-round figures go to stderr, the summary to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlencode

import httpx
import shapely.geometry

from landcycle.domain.vector_tiles import lonlat_bounds, tile_bounds

REPO = Path(__file__).resolve().parents[1]

BAR_TILE_P50_MS = 20.0
BAR_TILE_P95_MS = 60.0
BAR_SEARCH_P95_MS = 100.0
BAR_LOAD_ERRORS = 0

PASSWORD = "bench-load-password-2026"
CITY_USER = "bench_city"
ZONE_USER = "bench_zone"
CITY_CODE = "411000"  # 许昌市, the city admin's jurisdiction
TILE_ZOOM = 14
#: The year of the evaluation run the benchmark databases get (the demo's figures cover it).
EVALUATION_YEAR = 2020
#: TiPg is asked for the table columns behind our parcel tiles' attributes (ours add the
#: Chinese labels and the zone/county codes and names, which TiPg cannot join).
TIPG_PROPERTIES = ("code", "state", "inefficiency_categories", "zone_id", "county_id", "area_mu")
#: Weights of the load mix (kind → share).
LOAD_MIX = {"tile": 0.60, "search": 0.25, "card": 0.15}
PHASES = ("tiles", "search", "load")
#: CPU of other processes on the machine during each phase (see CpuMeter).
METER: dict[str, "CpuMeter"] = {}
#: Our tile servers' resident memory (MiB): after start, after the warm-up tiles, at the end.
MEMORY: dict[str, tuple[float, float, float]] = {}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data
def _populate(db, scale: int, seed: int) -> None:
    """Schema, reference jurisdictions, the demo and the two benchmark accounts — each step
    skipped when already done, so an interrupted build resumes."""
    from sqlalchemy import func, select

    from landcycle.services import accounts, evaluation, setup
    from landcycle.services.demo import generate_demo
    from landcycle.storage.evaluation_schema import EvaluationRun

    setup.init_database(db, actor="benchmark")
    parcels = setup.status(db).parcels
    if parcels == 0:
        t0 = time.perf_counter()
        generate_demo(db, scale=scale, seed=seed)
        log(f"  generated --scale {scale} (seed {seed}) on {db.dialect} in {time.perf_counter() - t0:.1f} s "
            "(not counted)")
    elif parcels != scale:
        raise RuntimeError(f"{db.url} holds {parcels} parcels, not {scale}: remove it to rebuild")
    with db.reader() as s:
        zone = _densest_zone(s)[0]
        evaluated = s.scalar(select(func.count()).select_from(EvaluationRun))
    if not evaluated:  # the officials' parcel tiles carry the evaluation's A/B/C class
        t0 = time.perf_counter()
        evaluation.evaluate(db, EVALUATION_YEAR, actor="benchmark")
        log(f"  evaluated {EVALUATION_YEAR} on {db.dialect} in {time.perf_counter() - t0:.1f} s (not counted)")
    existing = {u["username"] for u in accounts.list_users(db)}
    if CITY_USER not in existing:
        accounts.add_user(db, CITY_USER, PASSWORD, "city_admin", jurisdiction=CITY_CODE, actor="benchmark")
    if ZONE_USER not in existing:
        accounts.add_user(db, ZONE_USER, PASSWORD, "zone_manager", jurisdiction=zone, actor="benchmark")


def sqlite_database(workdir: Path, scale: int, seed: int) -> str:
    """URL of the cached SQLite benchmark database, built first if absent."""
    from landcycle.storage.db import Database

    path = workdir / f"landcycle_s{scale}_seed{seed}.db"
    if path.exists():
        log(f"  reusing {path}")
        db = Database(f"sqlite:///{path}")
        try:
            _populate(db, scale, seed)  # schema upgrades since it was built; nothing else to do
        finally:
            db.dispose()
        return f"sqlite:///{path}"
    partial = path.with_suffix(".partial")  # an interrupted build resumes from here
    db = Database(f"sqlite:///{partial}")
    try:
        _populate(db, scale, seed)
        with db.engine.connect() as c:  # fold the WAL back so the file alone is complete
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.dispose()
    partial.rename(path)
    return f"sqlite:///{path}"


def pg_database(server_url: str, scale: int, seed: int) -> str:
    """URL of the cached PostgreSQL benchmark database on ``server_url``'s server, built first
    if absent or incomplete (a marker table is written last)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from landcycle.storage.db import Database

    base = make_url(server_url)
    name = f"landcycle_bench_s{scale}_seed{seed}"
    url = base.set(database=name).render_as_string(hide_password=False)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            exists = c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists:
            probe = create_engine(url)
            try:
                with probe.connect() as c:
                    complete = c.scalar(text("SELECT to_regclass('bench_complete') IS NOT NULL"))
            finally:
                probe.dispose()
            if complete:
                log(f"  reusing PostgreSQL database {name}")
                db = Database(url)
                try:
                    _populate(db, scale, seed)  # schema upgrades since it was built
                finally:
                    db.dispose()
                return url
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    db = Database(url)
    try:
        _populate(db, scale, seed)
        with db.engine.begin() as c:
            c.execute(text("ANALYZE"))
            c.execute(text("CREATE TABLE bench_complete (built_at timestamptz DEFAULT now())"))
    finally:
        db.dispose()
    return url


def _densest_zone(s) -> tuple[str, str, int]:
    """(code, name, parcels) of the zone with the most parcels."""
    from sqlalchemy import func, select

    from landcycle.storage.schema import Jurisdiction, Parcel

    return tuple(s.execute(select(Jurisdiction.code, Jurisdiction.name, func.count())
                           .join(Parcel, Parcel.zone_id == Jurisdiction.id)
                           .group_by(Jurisdiction.code, Jurisdiction.name)
                           .order_by(func.count().desc(), Jurisdiction.code)).first())


def bench_zone(url: str) -> dict:
    """The bench zone — the zone with the most parcels, the zone manager's: code, name, parcels."""
    from landcycle.storage.db import Database

    db = Database(url)
    try:
        with db.reader() as s:
            code, name, n = _densest_zone(s)
    finally:
        db.dispose()
    return {"code": code, "name": name, "parcels": n}


def zone_tiles(url: str, zone: str, z: int) -> list[tuple[int, int, int]]:
    """The z-level tiles covering ``zone`` (the tiles service's own helper)."""
    from landcycle.services import tiles
    from landcycle.storage.db import Database

    db = Database(url)
    try:
        return [tuple(t) for t in tiles.zone_tiles(db, zone, z)]
    finally:
        db.dispose()


# --------------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int | str) -> tuple[int, int] | None:
    """(session id, utime + stime in clock ticks) of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2:].split()
    return int(rest[3]), int(rest[11]) + int(rest[12])


def _session_cpu_seconds(sid: int) -> float:
    """CPU seconds of the live processes of session ``sid`` (the server and its workers)."""
    stats = (_proc_stat(d.name) for d in Path("/proc").iterdir() if d.name.isdigit())
    return sum(st[1] for st in stats if st and st[0] == sid) / _CLK_TCK


def _session_rss_mib(sid: int) -> float:
    """Resident memory (MiB) of the live processes of session ``sid``."""
    kib = 0
    for d in Path("/proc").iterdir():
        st = _proc_stat(d.name) if d.name.isdigit() else None
        if not st or st[0] != sid:
            continue
        try:
            kib += next((int(line.split()[1]) for line in (d / "status").read_text().splitlines()
                         if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return kib / 1024


def _machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / _CLK_TCK, sum(v) / _CLK_TCK


class CpuMeter:
    """What else the machine was busy with: CPU used by processes other than this client and
    the given servers between ``start()`` and ``stop()``, in cores (the sandbox is shared; a busy
    neighbour slows every figure down, so the report says how busy it was)."""

    def __init__(self):
        self.samples: list[float] = []

    def _now(self, servers) -> tuple[float, float, float]:
        busy, _ = _machine_busy_seconds()
        own = time.process_time() + sum(s.cpu_seconds() for s in servers)
        return time.perf_counter(), busy, own

    def start(self, servers) -> None:
        self._t0 = self._now(servers)

    def stop(self, servers) -> None:
        t1 = self._now(servers)
        wall, busy, own = (b - a for a, b in zip(self._t0, t1))
        self.samples.append(max(busy - own, 0.0) / max(wall, 1e-9))

    def __str__(self) -> str:
        if not self.samples:
            return "n/a"
        return f"{statistics.median(self.samples):.2f} cores (max {max(self.samples):.2f})"


class PgBackends:
    """The PostgreSQL server processes serving one database (found in ``pg_stat_activity``; the
    server runs on this machine): their CPU belongs to whichever of our servers is being timed."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        self.dbname = make_url(url).database
        self.engine = create_engine(url, poolclass=NullPool)

    def cpu_seconds(self) -> float:
        from sqlalchemy import text

        with self.engine.connect() as c:
            pids = c.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
                             {"d": self.dbname}).all()
        stats = (_proc_stat(pid) for pid in pids)
        return sum(st[1] for st in stats if st) / _CLK_TCK

    def dispose(self) -> None:
        self.engine.dispose()


IDLE_CORES = 0.3
IDLE_WINDOW_S = 15.0


def wait_idle(minutes: float) -> None:
    """Wait (at most ``minutes``) until the rest of the machine is nearly idle."""
    if minutes <= 0:
        return
    deadline = time.monotonic() + minutes * 60
    while True:
        meter = CpuMeter()
        meter.start([])
        time.sleep(IDLE_WINDOW_S)
        meter.stop([])
        busy = meter.samples[0]
        if busy < IDLE_CORES:
            log(f"  machine idle enough: other processes {busy:.2f} cores")
            return
        if time.monotonic() > deadline:
            log(f"  still busy after {minutes:g} min (other processes {busy:.2f} cores): measuring anyway")
            return
        log(f"  waiting for an idle machine: other processes use {busy:.2f} cores")


@dataclass
class Server:
    """A server process in its own session on a loopback port."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    health: str
    cwd: Path = REPO
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> "Server":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")
        start = out.tell()
        out.write(f"\n=== {time.strftime('%H:%M:%S')} {' '.join(self.argv)}\n".encode())
        out.flush()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n"
                                       + self.log_path.read_bytes()[start:].decode(errors="replace")[-3000:])
                try:
                    if c.get(self.base + self.health).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.health} within {timeout:.0f} s; see {self.log_path}")

    def cpu_seconds(self) -> float:
        return _session_cpu_seconds(self.proc.pid) if self.proc else 0.0

    def rss_mib(self) -> float:
        return _session_rss_mib(self.proc.pid) if self.proc else 0.0

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            self.proc = None
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: the server and its workers
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        self.proc = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def landcycle_server(name: str, database_url: str, workdir: Path, *, tile_cache: bool) -> Server:
    env = dict(os.environ, LANDCYCLE_DATABASE_URL=database_url, LANDCYCLE_DATA_DIR=str(workdir),
               LANDCYCLE_TILE_CACHE="1" if tile_cache else "0")
    port = free_port()
    return Server(name, [sys.executable, "-m", "landcycle", "serve", "--host", "127.0.0.1", "--port", str(port)],
                  env, port, workdir / "logs" / f"{name}.log", "/healthz")


def tipg_venv(workdir: Path) -> Path:
    """``<workdir>/tipg-venv`` with tipg and uvicorn, created on first use."""
    venv = workdir / "tipg-venv"
    py = venv / "bin" / "python"
    if not (venv / "bin" / "uvicorn").exists():
        log(f"  creating {venv} (pip install tipg uvicorn)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "tipg", "uvicorn"], check=True)
    return venv


def tipg_server(pg_url: str, workdir: Path) -> Server:
    from sqlalchemy.engine import make_url

    venv = tipg_venv(workdir)
    u = make_url(pg_url)
    dsn = f"postgresql://{u.username or 'postgres'}{':' + u.password if u.password else ''}@" \
          f"{u.host or '127.0.0.1'}:{u.port or 5432}/{u.database}"
    env = {"PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}", "HOME": os.environ.get("HOME", "/tmp"),
           "DATABASE_URL": dsn, "TIPG_DB_TABLES": '["public.parcels"]', "TIPG_DB_SCHEMAS": '["public"]',
           "TIPG_DB_DATETIME_EXTENT": "false", "TIPG_DB_SPATIAL_EXTENT": "false"}
    port = free_port()
    # cwd = the venv: tipg reads a `.env` from the working directory; there is none there.
    return Server("tipg", [str(venv / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
                           "--workers", "1", "--log-level", "info"],  # access log on, like ours
                  env, port, workdir / "logs" / "tipg.log", "/healthz", cwd=venv)


# --------------------------------------------------------------------------- clients
def login(base: str, username: str) -> dict[str, str]:
    """Authorization header of a fresh session (a throwaway client, so no cookies linger)."""
    with httpx.Client(timeout=30) as c:
        r = c.post(base + "/api/auth/login", json={"username": username, "password": PASSWORD})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['token']}"}


def pct(values: list[float], q: float) -> float:
    """Percentile ``q`` (0–100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Request:
    kind: str  # tile / search / card
    label: str  # finer group for the report
    path: str
    role: str  # city / zone / public


def _ok(r: httpx.Response) -> bool:
    """Success: 200 (an empty tile is a 200 with an empty body)."""
    return r.status_code == 200


def time_sequential(base: str, requests: list[Request], headers: dict[str, dict[str, str]],
                    expect_miss: bool = False) -> list[tuple[Request, float, int]]:
    """Each request once, one at a time on one keep-alive connection: (request, ms, bytes).
    ``expect_miss``: every response must say ``X-Tile-Cache: miss`` (rendered, not cached)."""
    out = []
    with httpx.Client(base_url=base, timeout=60) as c:
        for rq in requests:
            t0 = time.perf_counter()
            r = c.get(rq.path, headers=headers[rq.role])
            ms = (time.perf_counter() - t0) * 1000
            if not _ok(r):
                raise RuntimeError(f"{base}{rq.path} as {rq.role}: HTTP {r.status_code} {r.text[:300]}")
            if expect_miss and r.headers.get("x-tile-cache") != "miss":
                raise RuntimeError(f"{base}{rq.path}: X-Tile-Cache {r.headers.get('x-tile-cache')!r}, "
                                   "expected an uncached tile")
            out.append((rq, ms, len(r.content)))
    return out


# --------------------------------------------------------------------------- request lists
def our_tile_path(layer: str, z: int, x: int, y: int) -> str:
    return f"/tiles/{layer}/{z}/{x}/{y}.mvt"


def tipg_tile_path(z: int, x: int, y: int) -> str:
    q = "&".join(f"properties={p}" for p in TIPG_PROPERTIES)
    return f"/collections/public.parcels/tiles/WebMercatorQuad/{z}/{x}/{y}?{q}"


def _page(base: str, headers: dict[str, str], **params) -> dict:
    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.get("/api/parcels", params=params, headers=headers)
        r.raise_for_status()
        return r.json()


def search_requests(base: str, headers: dict[str, dict[str, str]], zone: dict,
                    tiles: list[tuple[int, int, int]], seed: int) -> list[Request]:
    """The searches of one round: filters a user would combine, pages of 20/50/100, and deep pages."""
    with httpx.Client(base_url=base, timeout=60) as c:
        juris = c.get("/api/jurisdictions").json()["features"]
        states = [s["value"] for s in c.get("/api/meta/states").json()]
    zones = [f["properties"] for f in juris if f["properties"]["kind"] == "zone"]
    counties = [f["properties"] for f in juris if f["properties"]["kind"] == "county"]
    rng = random.Random(seed)
    out: list[Request] = []

    def add(label: str, role: str, **params):
        out.append(Request("search", label, "/api/parcels?" + urlencode(params), role))

    for z in zones:  # by zone (name, as a user types it), first page
        add("zone", "city", zone=z["name"], limit=rng.choice((20, 50, 100)))
    for cty in counties:
        add("county", "city", county=cty["code"], limit=rng.choice((20, 50, 100)))
    for st in states:
        add("state", "city", state=st, limit=rng.choice((20, 50, 100)))
    for z in rng.sample(zones, min(4, len(zones))):
        add("zone+state", "city", zone=z["code"], state=rng.choice(("operating", "idle", "inefficient", "listed")),
            limit=50)
    for t in rng.sample(tiles, min(6, len(tiles))):  # a map view: bbox of a tile
        box = lonlat_bounds(tile_bounds(*t))
        add("bbox", rng.choice(("city", "zone", "public")), bbox=",".join(f"{v:.6f}" for v in box), limit=100)
    outlines = [f["geometry"] for f in juris if f["properties"]["kind"] == "zone" and f["geometry"]]
    for geom in rng.sample(outlines, min(3, len(outlines))):  # a zone's whole extent
        add("bbox", "city", bbox=",".join(f"{v:.6f}" for v in shapely.geometry.shape(geom).bounds), limit=100)
    # Deep pages: the middle and the last page of large results.
    for role, params in (("city", {}), ("city", {"county": counties[0]["code"]}), ("city", {"state": "operating"}),
                         ("zone", {}), ("zone", {"state": "operating"}), ("public", {})):
        total = _page(base, headers[role], limit=1, **params)["numberMatched"]
        for off in (total // 2, max(total - 100, 0)):
            add("deep page", role, offset=off, limit=100, **params)
    for role in ("zone", "public"):  # first pages as the other roles
        add("first page", role, limit=50)
        add("state", role, state="listed", limit=50)
    rng.shuffle(out)
    return out


def card_codes(base: str, headers: dict[str, str], n: int, seed: int) -> list[str]:
    """``n`` parcel codes the caller may see, spread over all their results."""
    total = _page(base, headers, limit=1)["numberMatched"]
    rng = random.Random(seed)
    codes: list[str] = []
    while len(codes) < n and total:
        page = _page(base, headers, limit=100, offset=rng.randrange(max(total - 100, 1)))
        codes += [f["id"] for f in page["features"]]
    return codes[:n]


def load_requests(base: str, headers: dict[str, dict[str, str]], searches: list[Request],
                  tiles_by_layer: dict[str, list[tuple[int, int, int]]], seed: int) -> dict[str, list[Request]]:
    """The pools the load clients draw from, per kind."""
    tiles = []
    for layer, tl in tiles_by_layer.items():
        roles = ("public",) if layer in ("supply", "zones", "counties") else ("city", "zone")
        for i, (z, x, y) in enumerate(tl):
            tiles.append(Request("tile", f"{layer} z{z}", our_tile_path(layer, z, x, y), roles[i % len(roles)]))
    cards = [Request("card", f"card ({role})", f"/api/parcels/{code}", role)
             for role in ("city", "zone", "public") for code in card_codes(base, headers[role], 200, seed)]
    return {"tile": tiles, "search": searches, "card": cards}


# --------------------------------------------------------------------------- load
@dataclass
class LoadResult:
    duration_s: float
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_examples: list[str] = field(default_factory=list)
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    machine_busy: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.samples.values()) + sum(self.errors.values())

    @property
    def all_ms(self) -> list[float]:
        return [ms for v in self.samples.values() for ms in v]


async def _client_loop(c: httpx.AsyncClient, rng: random.Random, pools: dict[str, list[Request]],
                       headers: dict[str, dict[str, str]], deadline: float, res: LoadResult) -> None:
    """One client: request after request, no think time, until the deadline."""
    kinds, weights = list(LOAD_MIX), list(LOAD_MIX.values())
    while time.perf_counter() < deadline:
        rq = rng.choice(pools[rng.choices(kinds, weights)[0]])
        t0 = time.perf_counter()
        try:
            r = await c.get(rq.path, headers=headers[rq.role])
            ms = (time.perf_counter() - t0) * 1000
            if _ok(r):
                res.samples[rq.kind].append(ms)
                continue
            what = f"HTTP {r.status_code} {rq.path} as {rq.role}: {r.text[:200]}"
        except httpx.HTTPError as exc:
            what = f"{type(exc).__name__} {rq.path} as {rq.role}: {exc!r}"
        res.errors[rq.kind] += 1
        if len(res.error_examples) < 5:
            res.error_examples.append(what)


def run_load(server: Server, pools, headers, clients: int, duration: float, seed: int) -> LoadResult:
    """``clients`` concurrent clients, each with its own keep-alive connection, for ``duration`` s.
    The clients are built (and connected) before the clock starts."""
    res = LoadResult(duration)

    async def main():
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        conns = [httpx.AsyncClient(base_url=server.base, timeout=30, limits=limits) for _ in range(clients)]
        try:
            await asyncio.gather(*(c.get("/healthz") for c in conns))  # open the connections
            cpu0, srv0, (busy0, tot0) = time.process_time(), server.cpu_seconds(), _machine_busy_seconds()
            t0 = time.perf_counter()
            await asyncio.gather(*(_client_loop(c, random.Random(seed * 1000 + i), pools, headers,
                                                t0 + duration, res) for i, c in enumerate(conns)))
            res.duration_s = time.perf_counter() - t0
            busy1, tot1 = _machine_busy_seconds()
            res.client_cpu_s = time.process_time() - cpu0
            res.server_cpu_s = server.cpu_seconds() - srv0
            res.machine_busy = (busy1 - busy0) / max(tot1 - tot0, 1e-9)
        finally:
            await asyncio.gather(*(c.aclose() for c in conns))

    asyncio.run(main())
    return res


# --------------------------------------------------------------------------- report helpers
def _fmt_bar(value: float, bar: float, unit: str = "ms") -> str:
    ok = value <= bar
    return f"{value:.1f} {unit} ({'met' if ok else 'MISSED'}: ≤ {bar:g} {unit}; {value / bar:.2f} of the bar)"


def _summary(ms: list[float]) -> str:
    return (f"n={len(ms)} p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms, p99 {pct(ms, 99):.1f} ms, "
            f"max {max(ms):.1f} ms")


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=200_000, help="parcels in the demo (default 200000)")
    ap.add_argument("--seed", type=int, default=20211, help="demo seed (default 20211, the demo's own)")
    ap.add_argument("--runs", type=int, default=5, help="rounds of the tile and search phases (default 5)")
    ap.add_argument("--load-runs", type=int, default=3, help="runs of the concurrent load (default 3)")
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    ap.add_argument("--duration", type=float, default=60, help="seconds of each load run (default 60)")
    ap.add_argument("--workdir", type=Path, default=REPO / "var" / "bench",
                    help="cache of the benchmark databases, TiPg's virtualenv and server logs (default var/bench)")
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="PostgreSQL/PostGIS server for TiPg and our PostgreSQL path (its database name is only "
                         "used to connect; the benchmark database is created beside it)")
    ap.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL/TiPg comparison")
    ap.add_argument("--only", action="append", choices=PHASES,
                    help="run only this phase (repeatable; default: all of " + ", ".join(PHASES) + ")")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="MINUTES",
                    help="before each phase, wait up to MINUTES for other processes to use less than "
                         f"{IDLE_CORES} cores over {IDLE_WINDOW_S:g} s (the sandbox is shared; default 0: don't wait)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: --scale 3000 --runs 2 --load-runs 1 --clients 20 --duration 5")
    args = ap.parse_args(argv)
    if args.quick:
        args.scale, args.runs, args.load_runs, args.clients, args.duration = 3000, 2, 1, 20, 5
    if min(args.runs, args.load_runs, args.clients) < 1 or args.duration <= 0:
        ap.error("--runs, --load-runs and --clients must be at least 1, --duration positive")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    phases = set(args.only or PHASES)
    METER.update({phase: CpuMeter() for phase in PHASES})

    log(f"data (scale {args.scale}, seed {args.seed}):")
    sqlite_url = sqlite_database(workdir, args.scale, args.seed)
    pg_url = None if args.no_pg or "tiles" not in phases else pg_database(args.pg_url, args.scale, args.seed)
    zone = bench_zone(sqlite_url)
    tiles = zone_tiles(sqlite_url, zone["code"], TILE_ZOOM)
    log(f"  bench zone: {zone['name']} ({zone['code']}), {zone['parcels']} parcels, {len(tiles)} z{TILE_ZOOM} tiles")

    lines: list[str] = []  # the summary, printed to stdout at the end
    verdicts: list[tuple[str, bool]] = []
    lines.append(f"API benchmark — {args.scale:,} parcels (seed {args.seed}), server on loopback, "
                 f"{os.cpu_count()} CPUs shared by server(s) and client; medians of the rounds")
    lines.append(f"bench zone: {zone['name']} ({zone['code']}), {zone['parcels']:,} parcels, "
                 f"{len(tiles)} z{TILE_ZOOM} tiles")

    if "tiles" in phases:
        wait_idle(args.wait_idle)
        rounds, samples = phase_tiles(args, workdir, sqlite_url, pg_url, tiles)
        med = {name: tuple(statistics.median(r[i] for r in rs) for i in range(5)) for name, rs in rounds.items()}
        p50, p95 = med["ours, SQLite"][0], med["ours, SQLite"][1]
        lines.append(f"(a) z{TILE_ZOOM} parcel tiles across the zone, uncached, one at a time "
                     f"({args.runs} rounds × {len(tiles)} tiles):")
        for name, (m50, m95, mmax, nbytes, cpu_ms) in med.items():
            lines.append(f"    {name:17s} p50 {m50:6.1f} ms  p95 {m95:6.1f} ms  max {mmax:6.1f} ms  "
                         f"server CPU {cpu_ms:5.1f} ms/tile  {nbytes / 1024:,.0f} KiB per round")
            lines.append(f"    {'':17s} (all {len(samples[name])} samples pooled: "
                         f"p50 {pct(samples[name], 50):.1f} ms, p95 {pct(samples[name], 95):.1f} ms)")
        lines.append(f"    p50 {_fmt_bar(p50, BAR_TILE_P50_MS)}")
        lines.append(f"    p95 {_fmt_bar(p95, BAR_TILE_P95_MS)}")
        verdicts += [("tiles p50", p50 <= BAR_TILE_P50_MS), ("tiles p95", p95 <= BAR_TILE_P95_MS)]
        for name, (start, warm, end) in MEMORY.items():
            if name.startswith("ours"):
                held = " (with the columnar copy of the parcels)" if "SQLite" in name else ""
                lines.append(f"    {name:17s} server RSS {start:,.0f} MiB after start, {warm:,.0f} MiB after the "
                             f"warm-up tiles{held}, {end:,.0f} MiB at the end")
        if "TiPg, PostgreSQL" in med:
            tp = med["TiPg, PostgreSQL"]
            lines.append("(d) ours ÷ TiPg (same tiles, same parcels; TiPg from PostGIS):")
            for name in ("ours, SQLite", "ours, PostgreSQL"):
                if name in med:
                    lines.append(f"    {name:17s} p50 ×{med[name][0] / tp[0]:.2f}  p95 ×{med[name][1] / tp[1]:.2f}  "
                                 f"CPU per tile ×{med[name][4] / tp[4]:.2f}")

    if "search" in phases:
        wait_idle(args.wait_idle)
        rounds, per_label, per_path, n = phase_search(args, workdir, sqlite_url, zone, tiles)
        p95 = statistics.median(r[1] for r in rounds)
        lines.append(f"(b) parcel search API, {n} searches per round, one at a time ({args.runs} rounds):")
        lines.append(f"    p50 {statistics.median(r[0] for r in rounds):.1f} ms, "
                     f"max {statistics.median(r[2] for r in rounds):.1f} ms, "
                     f"server CPU {statistics.median(r[3] for r in rounds):.1f} ms per search")
        lines.append(f"    p95 {_fmt_bar(p95, BAR_SEARCH_P95_MS)}")
        for label, ms in sorted(per_label.items(), key=lambda kv: -pct(kv[1], 95)):
            lines.append(f"      {label:18s} {_summary(ms)}")
        lines.append("    slowest searches (median of the rounds):")
        for (label, role, path), ms in sorted(per_path.items(), key=lambda kv: -statistics.median(kv[1]))[:5]:
            lines.append(f"      {statistics.median(ms):6.1f} ms  {label} as {role}: {unquote(path)}")
        verdicts.append(("search p95", p95 <= BAR_SEARCH_P95_MS))

    if "load" in phases:
        wait_idle(args.wait_idle)
        runs = phase_load(args, workdir, sqlite_url, zone)
        rps = statistics.median(r.requests / r.duration_s for r in runs)
        errors = sum(sum(r.errors.values()) for r in runs)
        lines.append(f"(c) {args.clients} concurrent clients × {args.duration:g} s, mix "
                     + ", ".join(f"{k} {v:.0%}" for k, v in LOAD_MIX.items()) + f" ({args.load_runs} runs):")
        lines.append(f"    throughput {rps:,.0f} req/s (runs: "
                     + ", ".join(f"{r.requests / r.duration_s:,.0f}" for r in runs) + ")")
        lines.append(f"    errors {errors} over {sum(r.requests for r in runs):,} requests "
                     f"({'met' if errors <= BAR_LOAD_ERRORS else 'MISSED'}: 0 required)")
        med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
        lines.append(f"    latency all: p50 {med(lambda r: pct(r.all_ms, 50)):.0f} ms, "
                     f"p95 {med(lambda r: pct(r.all_ms, 95)):.0f} ms, p99 {med(lambda r: pct(r.all_ms, 99)):.0f} ms")
        for kind in LOAD_MIX:
            lines.append(f"      {kind:6s} p50 {med(lambda r: pct(r.samples[kind], 50)):.0f} ms, "
                         f"p95 {med(lambda r: pct(r.samples[kind], 95)):.0f} ms, "
                         f"p99 {med(lambda r: pct(r.samples[kind], 99)):.0f} ms "
                         f"({med(lambda r: len(r.samples[kind]) / r.duration_s):,.0f} req/s)")
        lines.append(f"    CPU during the load (share of one core): server {med(lambda r: r.server_cpu_s / r.duration_s):.0%} "
                     f"({med(lambda r: r.server_cpu_s * 1000 / max(r.requests, 1)):.0f} ms per request), "
                     f"client {med(lambda r: r.client_cpu_s / r.duration_s):.0%} "
                     f"({med(lambda r: r.client_cpu_s * 1000 / max(r.requests, 1)):.1f} ms per request); "
                     f"machine busy {med(lambda r: r.machine_busy):.0%} of {os.cpu_count()} CPUs")
        for r in runs:
            for ex in r.error_examples:
                lines.append(f"    error: {ex}")
        verdicts.append(("load errors", errors <= BAR_LOAD_ERRORS))

    lines.append("other processes' CPU during the phases (the machine is shared): "
                 + "; ".join(f"{phase} {METER[phase]}" for phase in PHASES if phase in phases))
    print("\n".join(lines))
    print("bars: " + ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in verdicts))
    return 0


def phase_tiles(args, workdir: Path, sqlite_url: str, pg_url: str | None, tiles: list[tuple[int, int, int]]):
    """Per server, per round: (p50 ms, p95 ms, max ms, bytes) over the zone's tiles, uncached;
    and per server every sample of all rounds.

    Our servers run with ``LANDCYCLE_TILE_CACHE=0`` and every response must say
    ``X-Tile-Cache: miss``; TiPg has no tile cache. A few z15 tiles inside the zone — never
    measured — warm each process first (imports, connection pools, first queries)."""
    servers = {"ours, SQLite": landcycle_server("landcycle-sqlite-nocache", sqlite_url, workdir, tile_cache=False)}
    if pg_url:
        servers["ours, PostgreSQL"] = landcycle_server("landcycle-pg-nocache", pg_url, workdir, tile_cache=False)
        servers["TiPg, PostgreSQL"] = tipg_server(pg_url, workdir)
    warm = [(TILE_ZOOM + 1, 2 * x + dx, 2 * y + dy) for _, x, y in tiles[:3] for dx in (0, 1) for dy in (0, 1)]
    rounds: dict[str, list[tuple[float, float, float, int, float]]] = defaultdict(list)
    samples: dict[str, list[float]] = defaultdict(list)
    backends = PgBackends(pg_url) if pg_url else None
    own = list(servers.values()) + ([backends] if backends else [])
    try:
        for s in servers.values():
            s.start()
        heads = {name: {"city": login(s.base, CITY_USER) if name.startswith("ours") else {}}
                 for name, s in servers.items()}
        for name, s in servers.items():
            rss0 = s.rss_mib()
            time_sequential(s.base, [_tile_request(name, t) for t in warm], heads[name])
            MEMORY[name] = (rss0, s.rss_mib(), 0.0)
        for rnd in range(1, args.runs + 1):
            METER["tiles"].start(own)
            order = list(servers) if rnd % 2 else list(reversed(servers))  # take turns
            for name in order:
                # CPU of the server's processes and of the PostgreSQL backends (only the server
                # being timed is busy meanwhile).
                counted = [servers[name]] + ([backends] if backends else [])
                cpu0 = sum(c.cpu_seconds() for c in counted)
                res = time_sequential(servers[name].base, [_tile_request(name, t) for t in tiles], heads[name],
                                      expect_miss=name.startswith("ours"))
                cpu_ms = (sum(c.cpu_seconds() for c in counted) - cpu0) * 1000 / len(tiles)
                ms = [m for _, m, _ in res]
                nbytes = sum(b for *_, b in res)
                rounds[name].append((pct(ms, 50), pct(ms, 95), max(ms), nbytes, cpu_ms))
                samples[name] += ms
                log(f"  tiles round {rnd}/{args.runs} [{name}]: {_summary(ms)}, {nbytes / 1024:,.0f} KiB, "
                    f"server CPU {cpu_ms:.0f} ms per tile")
            METER["tiles"].stop(own)
        for name in MEMORY:
            MEMORY[name] = (*MEMORY[name][:2], servers[name].rss_mib())
    finally:
        for s in servers.values():
            s.stop()
        if backends:
            backends.dispose()
    return rounds, samples


def phase_search(args, workdir: Path, sqlite_url: str, zone: dict, tiles):
    """Per round (p50, p95, max, server CPU ms per search) of the search list; every sample per
    label and per search; searches per round."""
    rounds, per_label, per_path = [], defaultdict(list), defaultdict(list)
    with landcycle_server("landcycle-sqlite", sqlite_url, workdir, tile_cache=True) as s:
        headers = {"city": login(s.base, CITY_USER), "zone": login(s.base, ZONE_USER), "public": {}}
        searches = search_requests(s.base, headers, zone, tiles, args.seed)
        time_sequential(s.base, searches[:5], headers)  # warm the process (not counted)
        for rnd in range(1, args.runs + 1):
            METER["search"].start([s])
            cpu0 = s.cpu_seconds()
            res = time_sequential(s.base, searches, headers)
            cpu_ms = (s.cpu_seconds() - cpu0) * 1000 / len(searches)
            METER["search"].stop([s])
            ms = [m for _, m, _ in res]
            rounds.append((pct(ms, 50), pct(ms, 95), max(ms), cpu_ms))
            for rq, m, _ in res:
                per_label[rq.label].append(m)
                per_path[(rq.label, rq.role, rq.path)].append(m)
            log(f"  search round {rnd}/{args.runs}: {_summary(ms)}, server CPU {cpu_ms:.0f} ms per search")
    return rounds, per_label, per_path, len(searches)


def phase_load(args, workdir: Path, sqlite_url: str, zone: dict) -> list[LoadResult]:
    """``--load-runs`` runs, each against a fresh server (tile cache on, starting empty)."""
    runs, pools = [], None
    for run in range(1, args.load_runs + 1):
        with landcycle_server("landcycle-sqlite-load", sqlite_url, workdir, tile_cache=True) as s:
            headers = {"city": login(s.base, CITY_USER), "zone": login(s.base, ZONE_USER), "public": {}}
            if pools is None:
                searches = search_requests(s.base, headers, zone, zone_tiles(sqlite_url, zone["code"], TILE_ZOOM),
                                           args.seed)
                pools = load_requests(s.base, headers, searches, load_tiles(sqlite_url), args.seed)
                log("  load pools: " + ", ".join(f"{k} {len(v)}" for k, v in pools.items()))
            METER["load"].start([s])
            r = run_load(s, pools, headers, args.clients, args.duration, args.seed + run)
            METER["load"].stop([s])
        runs.append(r)
        log(f"  load run {run}/{args.load_runs}: {r.requests / r.duration_s:,.0f} req/s, "
            f"{sum(r.errors.values())} errors, {_summary(r.all_ms)}; CPU server {r.server_cpu_s / r.duration_s:.0%} "
            f"client {r.client_cpu_s / r.duration_s:.0%} machine {r.machine_busy:.0%}")
    return runs


def load_tiles(url: str) -> dict[str, list[tuple[int, int, int]]]:
    """Tiles of the load mix: parcels at z14–z15 over every zone (officials), the public supply
    layer at z14, zones at z10–z12 and counties at z9–z11 over every zone."""
    from sqlalchemy import select

    from landcycle.storage.db import Database
    from landcycle.storage.schema import Jurisdiction

    db = Database(url)
    try:
        with db.reader() as s:
            zones = s.scalars(select(Jurisdiction.code).where(Jurisdiction.kind == "zone")
                              .order_by(Jurisdiction.code)).all()
    finally:
        db.dispose()
    out: dict[str, set] = defaultdict(set)
    for code in zones:
        for layer, zooms in (("parcels", (14, 15)), ("supply", (14,)), ("zones", (10, 11, 12)),
                             ("counties", (9, 10, 11))):
            for z in zooms:
                out[layer].update(zone_tiles(url, code, z))
    return {layer: sorted(ts) for layer, ts in out.items()}


def _tile_request(server_name: str, t: tuple[int, int, int]) -> Request:
    z, x, y = t
    path = tipg_tile_path(z, x, y) if server_name.startswith("TiPg") else our_tile_path("parcels", z, x, y)
    return Request("tile", "parcels z14", path, "city")


if __name__ == "__main__":
    raise SystemExit(main())
