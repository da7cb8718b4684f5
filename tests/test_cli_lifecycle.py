"""`landcycle parcel transitions` and `landcycle parcel transition` through the command line
(in-process, ``conftest.run_cli``), on both backends: next steps with their reasons, a refused step (nothing changed), a
step taken with its documents and actor, and user errors as messages, never tracebacks."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

DOC = "supply_list_approval=长葛市2026年度可供土地清单|长政〔2026〕3号|2026-03-01"


@pytest.fixture
def demo_db(db):
    run_cli(db.url, "demo")
    return db


def _approved_unsupplied(url: str) -> str:
    listing = run_cli(url, "parcel", "list", "--county", "长葛市", "--state", "approved_unsupplied", "--limit", "1").stdout
    return next(tok for tok in listing.split() if tok.startswith("411082") and len(tok) == 19)


def test_transitions_are_listed_taken_and_refused_through_the_cli(demo_db):
    url = demo_db.url
    code = _approved_unsupplied(url)
    out = run_cli(url, "parcel", "transitions", code).stdout
    assert f"宗地 {code}" in out and "当前状态 批而未供" in out
    assert "纳入供地清单" in out and "list_for_supply" in out and "年度可供土地清单批准文件" in out
    assert "流转记录（0 条）" in out
    before = json.loads(run_cli(url, "parcel", "transitions", code, "--json").stdout)
    assert before["state"] == "approved_unsupplied" and before["history"] == []
    assert [t["key"] for t in before["transitions"]] == ["list_for_supply"]
    assert before["transitions"][0]["possible"] is True

    # refused: the document is missing — every reason printed, exit 2, nothing changed
    proc = run_cli(url, "parcel", "transition", code, "纳入供地清单", "--reason", "列入计划", check=False)
    assert proc.exit_code == 2 and "Traceback" not in proc.stderr
    assert "未写入任何数据" in proc.stderr and "缺少文件：年度可供土地清单批准文件" in proc.stderr
    # a malformed --document and an unknown step: messages, exit 2
    proc = run_cli(url, "parcel", "transition", code, "list_for_supply", "--reason", "x", "--document", "清单批复",
                   check=False)
    assert proc.exit_code == 2 and "格式不对" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(url, "parcel", "transition", code, "飞升", "--reason", "x", check=False)
    assert proc.exit_code == 2 and "未知的流转“飞升”" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(url, "parcel", "transition", code, "list_for_supply", "--reason", "x",
                   "--document", "supply_list_approval=清单||2026-03-01", check=False)
    assert proc.exit_code == 2 and "缺少文号" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(url, "parcel", "transitions", "411082103006GB99999", check=False)
    assert proc.exit_code == 2 and "未找到宗地" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(run_cli(url, "parcel", "transitions", code, "--json").stdout)["version"] == before["version"]

    # taken: the state moves, the step is recorded with its actor, reason and document
    out = run_cli(url, "parcel", "transition", code, "list_for_supply", "--reason", "列入年度供地计划",
                  "--document", DOC, "--actor", "张三").stdout
    assert "已办理“纳入供地清单”" in out and "批而未供 → 可供" in out and f"第 {before['version'] + 1} 版" in out
    after = json.loads(run_cli(url, "parcel", "transitions", code, "--json").stdout)
    assert after["state"] == "listed" and after["version"] == before["version"] + 1
    (step,) = after["history"]
    assert (step["transition"], step["actor"], step["reason"]) == ("list_for_supply", "张三", "列入年度供地计划")
    assert step["documents"][0]["number"] == "长政〔2026〕3号" and step["documents"][0]["date"] == "2026-03-01"
    out = run_cli(url, "parcel", "transitions", code).stdout
    assert "流转记录（1 条）" in out and "张三" in out and "批而未供 → 可供" in out
    # the next step needs a recorded contract: listed with its reason
    supply = next(t for t in after["transitions"] if t["key"] == "supply")
    assert supply["possible"] is False and any("出让合同" in r for r in supply["reasons"])
    # the card's archive has the state change by the same actor
    card = json.loads(run_cli(url, "parcel", "show", code, "--json").stdout)
    assert card["parcel"]["state"] == "listed" and card["history"][-1]["actor"] == "张三"


def test_help_texts_are_chinese():
    for cmd in ("transitions", "transition"):
        out = run_cli("sqlite:///unused.db", "parcel", cmd, "--help").stdout
        assert "宗地代码" in out, out
    assert "类型=文件名称|文号|日期" in out and "办理人" in out
