"""The check command, the check API and docs/rules.md, for every rule."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from fastapi.testclient import TestClient

from landcycle.domain.rules.checks import CHECKS

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["mu-average", "classify", "idle", "low-efficiency", "standard-land", "admission",
         "new-industry-land", "split-transfer", "deadline"]


def run_check(rule, case_text, *extra):
    """``landcycle check RULE --input -`` with ``case_text`` on standard input (in-process)."""
    return run_cli("sqlite://", "check", rule, "--input", "-", *extra, check=False, input=case_text)


def test_every_named_rule_is_checkable():
    assert list(CHECKS) == NAMES


@pytest.mark.parametrize("rule", NAMES)
def test_cli_prints_the_verdict_of_the_worked_example(rule):
    proc = run_check(rule, json.dumps(CHECKS[rule].example, ensure_ascii=False))
    assert proc.exit_code == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    assert set(verdict) >= {"rule", "outcome", "figures", "reasons", "citation"}
    assert verdict["rule"] == rule and verdict["outcome"] in CHECKS[rule].outcomes
    assert verdict["reasons"] and verdict["citation"]


@pytest.mark.parametrize("rule", NAMES)
def test_cli_names_the_bad_field_and_exits_2(rule):
    case = dict(CHECKS[rule].example)
    case["no_such_field"] = 1
    proc = run_check(rule, json.dumps(case))
    assert proc.exit_code == 2 and "no_such_field" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_rejects_broken_json_and_unknown_rules():
    proc = run_check("idle", "{not json")
    assert proc.exit_code == 2 and "不是有效的 JSON" in proc.stderr
    proc = run_check("no-such-rule", "{}")
    assert proc.exit_code == 2 and "未找到规则" in proc.stderr


@pytest.fixture
def client():
    from landcycle.faces.api import create_app
    from landcycle.storage.db import Database

    with TestClient(create_app(Database("sqlite://"))) as c:
        yield c


@pytest.mark.parametrize("rule", NAMES)
def test_api_serves_the_same_checks(client, rule):
    r = client.post(f"/api/check/{rule}", json=CHECKS[rule].example)
    assert r.status_code == 200, r.text
    cli = json.loads(run_check(rule, json.dumps(CHECKS[rule].example)).stdout)
    assert r.json() == cli


def test_api_errors(client):
    r = client.post("/api/check/idle", json={"no_such_field": 1})
    assert r.status_code == 422 and r.json()["problems"]
    assert client.post("/api/check/none", json={}).status_code == 404
    r = client.post("/api/check/idle", content=b"{oops", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_docs_rules_md_is_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_rules_doc.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
