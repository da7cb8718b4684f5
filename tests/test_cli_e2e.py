"""End to end through the command line and a real server process, on both backends.

The commands run in-process (``conftest.run_cli``: Typer's runner, the database named by
LANDCYCLE_DATABASE_URL as the installed command reads it); ``landcycle serve`` runs as a real
process, and one test runs the installed entry point itself (``python -m landcycle``).

This is the issue's "done when": the demo is built, `landcycle serve` answers
`/api/parcels?zone=魏都产业集聚区` with GeoJSON parcels lying inside 魏都区's real boundary
(checked against the shipped boundary file read independently with GDAL), and
`landcycle parcel show` prints the card with its history.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.parse
import urllib.request

import pyogrio
import pytest
import shapely

from conftest import run_cli
from live import live_server

from landcycle.data import BOUNDARIES_FILE


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, json.loads(r.read().decode("utf-8"))


def raw_get(port: int, target: bytes) -> bytes:
    """Send a request line with the target's bytes as they are (no percent-encoding)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def weidu_boundary():
    _meta, _fids, wkb, fields = pyogrio.raw.read(BOUNDARIES_FILE)
    names = list(fields[1])
    return shapely.from_wkb(wkb[names.index("魏都区")])


@pytest.fixture
def demo_db(db):
    run_cli(db.url, "demo")
    return db


def test_serve_returns_weidu_parcels_inside_the_real_boundary(demo_db):
    with live_server(demo_db.url) as base:  # `landcycle serve` in its own process
        port = urllib.parse.urlsplit(base).port
        status, health = get_json(f"{base}/healthz")
        assert health["status"] == "ok" and health["parcels"] > 0
        zone = urllib.parse.quote("魏都产业集聚区")
        status, fc = get_json(f"{base}/api/parcels?zone={zone}&limit=1000")
        assert status == 200 and fc["type"] == "FeatureCollection"
        assert fc["numberMatched"] > 0 and fc["numberReturned"] == len(fc["features"])
        boundary = weidu_boundary()
        for f in fc["features"]:
            geom = shapely.geometry.shape(f["geometry"])
            assert geom.is_valid and boundary.contains(geom), f["id"]
            assert f["properties"]["county_name"] == "魏都区"
            assert f["id"].startswith("411002")
        # Exactly what `curl 'http://…/api/parcels?zone=魏都产业集聚区'` sends: raw UTF-8 bytes.
        raw = raw_get(port, "/api/parcels?zone=魏都产业集聚区&limit=1".encode("utf-8"))
        assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
        assert json.loads(raw.split(b"\r\n\r\n", 1)[1])["numberMatched"] == fc["numberMatched"]
        with urllib.request.urlopen(f"{base}/", timeout=30) as r:
            page = r.read().decode("utf-8")
        assert "maplibre-gl.js" in page


def test_parcel_show_prints_card_and_history(demo_db):
    listing = run_cli(demo_db.url, "parcel", "list", "--zone", "魏都产业集聚区", "--limit", "1").stdout
    code = next(tok for tok in listing.split() if tok.startswith("411002") and len(tok) == 19)
    out = run_cli(demo_db.url, "parcel", "show", code).stdout
    assert f"一宗一卡 · {code}" in out and "一地一档" in out and "魏都产业集聚区" in out
    assert "新建宗地" in out
    card = json.loads(run_cli(demo_db.url, "parcel", "show", code, "--json").stdout)
    assert card["parcel"]["code"] == code and card["history"]


def test_user_errors_are_messages_not_tracebacks(demo_db):
    proc = run_cli(demo_db.url, "parcel", "show", "411002001001GB99999", check=False)
    assert proc.exit_code == 2 and "未找到宗地" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(demo_db.url, "parcel", "list", "--zone", "火星产业集聚区", check=False)
    assert proc.exit_code == 2 and "未知的产业集聚区" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(demo_db.url, "demo", check=False)  # already has parcels
    assert proc.exit_code == 2 and "Traceback" not in proc.stderr
    assert "--if-empty" in run_cli(demo_db.url, "demo", "--help").stdout


def test_uninitialised_or_unreachable_database_gets_a_message(tmp_path):
    for args in (["serve"], ["parcel", "show", "411002001001GB00001"], ["parcel", "list"]):
        proc = run_cli(f"sqlite:///{tmp_path / 'none.db'}", *args, check=False)
        assert proc.exit_code == 2 and "landcycle init" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("postgresql+psycopg://nobody@127.0.0.1:1/none", "status", check=False)
    assert proc.exit_code == 2 and "无法连接数据库" in proc.stderr and "Traceback" not in proc.stderr
    # the installed entry point itself, in its own interpreter: the same message, exit 2
    env = {**os.environ, "LANDCYCLE_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    real = subprocess.run([sys.executable, "-m", "landcycle", "parcel", "list"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert real.returncode == 2 and "landcycle init" in real.stderr and "Traceback" not in real.stderr


def test_evaluate_and_publicity_through_the_cli(demo_db):
    # `landcycle demo` evaluated the demo's latest year already (batch 1): this is batch 2
    out = run_cli(demo_db.url, "evaluate", "--year", "2020").stdout
    assert "评价批次 2" in out and "魏都产业集聚区" in out and "规则库版本 2021.1" in out
    assert "闲置与低效用地面积" in out
    again = run_cli(demo_db.url, "evaluate", "--year", "2020").stdout
    fingerprint = [line for line in out.splitlines() if "输入数据指纹" in line]
    assert fingerprint and fingerprint[0].split("输入数据指纹")[1][:17] in again
    out = run_cli(demo_db.url, "publicity", "publish", "2", "--on", "2021-09-17").stdout
    assert "截至 2021-09-26" in out
    proc = run_cli(demo_db.url, "publicity", "object", "2", "--enterprise", "91110000600037341L",
                   "--reason", "x", "--on", "2021-09-20", check=False)
    assert proc.exit_code == 2 and "未登记" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(demo_db.url, "evaluate", "--year", "1800", check=False)
    assert proc.exit_code == 2 and "year" in proc.stderr and "Traceback" not in proc.stderr


def test_verdicts_of_a_stored_run_through_the_cli(demo_db):
    run_cli(demo_db.url, "evaluate", "--year", "2020")
    listing = run_cli(demo_db.url, "parcel", "list", "--state", "idle", "--limit", "1").stdout
    code = next(tok for tok in listing.split() if len(tok) == 19 and tok[:6].isdigit())
    data = json.loads(run_cli(demo_db.url, "verdicts", code, "--json").stdout)
    assert [v["rule_id"] for v in data["verdicts"]] == ["R1", "R3", "R4"]
    assert all(v["reasons"] and v["citation"] for v in data["verdicts"])
    out = run_cli(demo_db.url, "verdicts", code).stdout
    assert "R3 idle" in out and "依据" in out


def test_demo_evaluates_its_latest_year_so_the_workbench_has_classes(demo_db):
    from sqlalchemy import text

    from landcycle.services.demo import DEMO_EVALUATION_YEAR

    with demo_db.engine.connect() as c:
        runs = c.execute(text("SELECT year FROM evaluation_runs")).scalars().all()
        classes = c.execute(text("SELECT count(DISTINCT result_class) FROM enterprise_evaluations")).scalar()
    assert runs == [DEMO_EVALUATION_YEAR] and classes == 3  # A, B and C
