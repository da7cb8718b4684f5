"""The command line: `landcycle init | demo | serve | status | parcel … | import … | export | user …`.

User-facing text is Chinese; errors are printed as messages (exit code 2), never tracebacks.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Callable, NoReturn, Optional, TypeVar

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import Settings
from ..domain.access import SYSTEM
from ..domain.errors import LandcycleError, ValidationFailed
from ..domain.labels import field_label
from ..domain.progress import tax_target_verdict
from ..services import demo as demo_service
from ..services import publicity, registry, rules, setup, verdicts

app = typer.Typer(
    help="许昌市产业集聚区土地全生命周期管理平台（landcycle）命令行。\n\n"
    "数据库由环境变量 LANDCYCLE_DATABASE_URL 指定（默认：./var/landcycle.db 内嵌SQLite）。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
parcel_app = typer.Typer(help="宗地：查看一宗一卡与一地一档。", no_args_is_help=True)
app.add_typer(parcel_app, name="parcel")
publicity_app = typer.Typer(help="评价结果公示：公示、提出异议、处理异议、查看。", no_args_is_help=True)
app.add_typer(publicity_app, name="publicity")
user_app = typer.Typer(help="账号管理：新建、列出、重置密码、停用、启用（市级管理员的首个账号也由此创建）。",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def _db():
    return setup.open_database(Settings.from_env())


@contextmanager
def _progress_bars():
    """A ``progress(stage, done, total)`` callback drawing one bar per stage (services report stages)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress


def _ready_db():
    """The database, checked to be reachable and initialised (else a message, exit 2)."""
    db = _db()
    _call(setup.ensure_ready, db)
    return db


def _fail(exc: LandcycleError) -> NoReturn:
    err_console.print("[bold red]错误：[/]", end="")
    if isinstance(exc, ValidationFailed):
        err_console.print(f"输入有误，未写入任何数据（{len(exc.problems)} 个问题）：")
        for p in exc.problems:
            err_console.print(f"  • {p}")
    else:
        err_console.print(str(exc))
    raise typer.Exit(code=2)


def _call(action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``action(*args, **kwargs)``; a LandcycleError becomes the error message and exit code 2."""
    try:
        return action(*args, **kwargs)
    except LandcycleError as exc:
        _fail(exc)


def _print_json(data: Any, **dumps_options: Any) -> None:
    """``data`` as indented JSON on stdout, Chinese kept readable (the ``--json`` output)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, **dumps_options) + "\n")


@app.command()
def init():
    """创建或升级数据库结构，并加载市、县(市、区)、管委会和10个产业集聚区基础数据。"""
    db = _db()
    result = _call(setup.init_database, db, actor="cli")
    console.print(f"[green]数据库已就绪[/]（{db.dialect}）：县(市、区) {result.counties} 个，"
                  f"管委会 {result.management_areas} 个，产业集聚区 {result.zones} 个。")


@app.command()
def demo(
    scale: Optional[int] = typer.Option(None, "--scale", min=1,
                                        help="生成 N 宗宗地（及相应企业与数据），用于性能测试；缺省为约600宗的演示数据。"),
    replace: bool = typer.Option(False, "--replace", help="先删除已有的合成数据再生成。"),
    if_empty: bool = typer.Option(False, "--if-empty", help="库中已有宗地时什么也不做（供 make run 使用）。"),
):
    """生成确定性的演示数据（合成数据，非真实企业）：宗地、企业、租赁、合同、三年企业数据，及2021年百园增效进展（台账、督办、工作方案）。"""
    db = _db()
    try:
        setup.init_database(db, actor="cli")
        if if_empty and setup.status(db).parcels > 0:
            console.print("库中已有宗地，跳过生成演示数据。")
            return
        with _progress_bars() as progress:
            result = demo_service.generate_demo(db, scale=scale, progress=progress, replace=replace)
        console.print(f"[green]演示数据已生成[/]（合成数据）：宗地 {result.parcels}，企业 {result.enterprises}，"
                      f"用地关系 {result.occupancies}，合同 {result.contracts}，企业年度数据 {result.figures} 条；"
                      f"用时 {result.seconds:.1f} 秒。")
        # The workbench shows A/B/C classes and 亩均 figures: evaluate the demo's latest year too.
        from ..services import evaluation as evaluation_service
        with _progress_bars() as progress:
            rep = evaluation_service.evaluate(db, demo_service.DEMO_EVALUATION_YEAR, actor="cli", progress=progress)
        console.print(f"已完成 {rep.year} 年度评价（批次 {rep.run_id}）。")
        with _progress_bars() as progress:  # a 百园增效 year: plans, ledgers, 挂牌督办 (docs/demo.md)
            year = demo_service.generate_demo_year(db, rep.run_id, progress=progress)
        console.print(f"已生成 {demo_service.DEMO_ACTION_YEAR} 年百园增效演示进展：工作方案 {year.plans} 个，"
                      f"处置台账 {year.entries} 条（已办结 {year.closed} 条，进展报告 {year.reports} 条），"
                      f"挂牌督办 {year.cases} 宗，再开发监管协议 {year.agreements} 份。")
    except LandcycleError as exc:
        _fail(exc)
    _print_demo_accounts(db)


def _print_demo_accounts(db) -> None:
    """Create the demo accounts (first run only), print them once and keep a copy readable
    only by this user in the data directory."""
    created = demo_service.create_demo_accounts(db)
    if not created:
        return
    t = Table(title="演示账号（密码仅显示这一次，另存于 demo_accounts.txt）")
    for col in ("用户名", "角色", "辖区/企业", "密码"):
        t.add_column(col)
    lines = []
    for a in created:
        t.add_row(a.username, a.role_label, a.jurisdiction, a.password)
        lines.append(f"{a.username}\t{a.role_label}\t{a.jurisdiction}\t{a.password}")
    console.print(t)
    out = Settings.from_env().data_dir / "demo_accounts.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch(mode=0o600)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="监听地址"),
          port: int = typer.Option(8000, help="端口")):
    """启动平台服务（地图页面与API）：http://HOST:PORT/ 。"""
    from granian import Granian
    from granian.constants import Interfaces

    db = _ready_db()
    st = setup.status(db)
    console.print(f"平台服务：http://{host}:{port}/ （数据库：{st.backend}，宗地 {st.parcels} 宗）")
    db.dispose()
    # Granian (Rust HTTP core) rather than uvicorn: h11 and httptools both reject the raw
    # UTF-8 request targets that curl sends for `?zone=魏都产业集聚区`. The worker builds the
    # app from the same environment (LANDCYCLE_DATABASE_URL) via the factory.
    Granian("landcycle.faces.api:create_app", address=host, port=port,
            interface=Interfaces.ASGI, factory=True, log_access=True).serve()


@app.command()
def status():
    """显示数据库状态。"""
    st = _call(lambda: setup.status(_db()))
    console.print(f"数据库：{st.backend}；结构版本：{st.schema_revision or '未初始化'}"
                  f"{'（最新）' if st.schema_current else '（需要运行 landcycle init）'}；"
                  f"辖区 {st.jurisdictions} 个；宗地 {st.parcels} 宗。")


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".")
    return str(v)


@parcel_app.command("show")
def parcel_show(code: str = typer.Argument(..., help="19位宗地代码"),
                as_json: bool = typer.Option(False, "--json", help="以JSON输出完整卡片。")):
    """显示一宗一卡（宗地信息、用地企业、合同与协议、开发情况）及一地一档（全部变更历史）。"""
    card = _call(lambda: registry.parcel_card(_ready_db(), code, viewer=SYSTEM))
    if as_json:
        _print_json(card)
        return
    p = card["parcel"]
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for label, value in [
        ("宗地代码", p["code"]), ("坐落", p["location"]),
        ("所属", f"{p['county_name']} / {p['zone_name'] or '集聚区外'}"),
        ("面积", f"{p['area_m2']:,.2f} 平方米（{p['area_mu']:,.2f} 亩，EPSG:{p['gk_epsg']} 计算）"),
        ("土地用途", p["land_use_label"]), ("土地状态", p["state_label"]),
        ("低效类别", "、".join(p["inefficiency_labels"]) or None),
        ("土地来源", p["land_source_label"]),
        ("供地", f"{p['supply_method_label'] or '—'}，{p['supply_date'] or '—'}，"
                 f"{_fmt(p['term_years'])} 年，{_fmt(p['price_wan'])} 万元"),
        ("规划条件", f"容积率 {_fmt(p['plot_ratio_min'])}–{_fmt(p['plot_ratio_max'])}，"
                    f"建筑密度≥{_fmt(p['building_density_min'])}，绿地率≤{_fmt(p['green_ratio_max'])}"),
        ("标准地", p["is_standard_land"]), ("标准厂房", p["is_standard_factory"]),
        ("合成数据", p["is_synthetic"]), ("版本", p["version"]),
    ]:
        facts.add_row(label, _fmt(value))
    console.print(Panel(facts, title=f"一宗一卡 · {p['code']}", expand=False))
    if card["occupancies"]:
        t = Table(title="用地企业")
        for col in ("企业", "统一社会信用代码", "身份", "面积(亩)", "起止"):
            t.add_column(col, overflow="fold")
        for o in card["occupancies"]:
            t.add_row(o["enterprise_name"], o["credit_code"], o["role_label"], _fmt(o["area_mu"]),
                      f"{o['start_date']} — {o['end_date'] or '至今'}")
        console.print(t)
    for key, title in (("contract", "供地合同"), ("agreement", "履约监管协议"), ("development", "开发建设情况")):
        if card[key]:
            t = Table.grid(padding=(0, 2))
            t.add_column(style="bold")
            t.add_column()
            for k, v in card[key].items():
                if k.endswith("_label") or k == "enterprise_id":
                    continue
                shown = card[key].get(f"{k}_label", v)
                t.add_row(field_label(k), _fmt(shown))
            console.print(Panel(t, title=title, expand=False))
    h = Table(title=f"一地一档（{len(card['history'])} 条变更）")
    for col in ("时间", "操作人", "变更", "原因"):
        h.add_column(col, overflow="fold")
    for row in card["history"]:
        h.add_row(row["at"][:19].replace("T", " "), row["actor"], row["summary"], row["reason"] or "")
    console.print(h)


@parcel_app.command("list")
def parcel_list(zone: Optional[str] = typer.Option(None, help="产业集聚区（代码、名称或别名）"),
                county: Optional[str] = typer.Option(None, help="县(市、区)"),
                state: Optional[str] = typer.Option(None, help="土地状态"),
                limit: int = typer.Option(20, help="条数")):
    """列出宗地。"""
    page = _call(lambda: registry.list_parcels(_ready_db(), viewer=SYSTEM, zone=zone, county=county, state=state,
                                               limit=limit))
    t = Table(title=f"宗地（共 {page['numberMatched']} 宗，显示 {page['numberReturned']} 宗）")
    for col in ("宗地代码", "坐落", "状态", "面积(亩)", "集聚区"):
        t.add_column(col, overflow="fold")
    for f in page["features"]:
        p = f["properties"]
        t.add_row(p["code"], p["location"], p["state_label"], f"{p['area_mu']:.2f}", p["zone_name"] or "—")
    console.print(t)


def _parse_document(raw: str, index: int) -> dict:
    """One ``--document kind=title|number|date`` option as the service reads documents."""
    where = f"第 {index} 个 --document"
    kind, sep, rest = raw.partition("=")
    parts = rest.split("|")
    if not sep or not kind.strip() or len(parts) != 3:
        err_console.print(f"[bold red]错误：[/]{where}“{raw}”格式不对，应为 类型=文件名称|文号|日期"
                          "（如 supply_list_approval=长葛市2026年度可供土地清单|长政〔2026〕3号|2026-03-01），未写入任何数据")
        raise typer.Exit(code=2)
    title, number, day = (p.strip() for p in parts)
    return {"kind": kind.strip(), "title": title, "number": number, "date": day}


def _local_time(at: str | None) -> str:
    """An API timestamp (UTC ISO) as 北京时间, the way the platform's users read times."""
    from datetime import datetime

    from ..services.audit import LOCAL_TZ

    return datetime.fromisoformat(at).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if at else "—"


@parcel_app.command("transitions")
def parcel_transitions(code: str = typer.Argument(..., help="19位宗地代码"),
                       as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """列出宗地当前状态、可办理的下一步流转（能否办理及原因、所需文件、依据）和已办理的流转记录。"""
    from ..services import lifecycle

    data = _call(lambda: lifecycle.allowed_transitions(_ready_db(), code, SYSTEM))
    if as_json:
        _print_json(data)
        return
    console.print(f"[bold]宗地 {data['code']}[/]：当前状态 [bold]{data['state_label']}[/]（第 {data['version']} 版；"
                  f"按 {data['as_of']} 判断，规则库版本 {data['rulebook_version']}）")
    t = Table(title="可办理的下一步")
    for col in ("流转", "键", "→ 状态", "能否办理", "所需文件", "依据", "不能办理的原因"):
        t.add_column(col, overflow="fold")
    for s in data["transitions"]:
        t.add_row(s["name"], s["key"], s["to_label"], "[green]可以[/]" if s["possible"] else "[red]不能[/]",
                  "\n".join(f"{d['label']}（{d['kind']}）" for d in s["documents"]) or "—", s["basis"],
                  "\n".join(f"• {r}" for r in s["reasons"]) or "—")
    if not data["transitions"]:
        t.add_row("（该状态没有后续流转）", "", "", "", "", "", "")
    console.print(t)
    h = Table(title=f"流转记录（{len(data['history'])} 条）")
    for col in ("时间", "流转", "状态变化", "办理人", "原因", "文件"):
        h.add_column(col, overflow="fold")
    for row in data["history"]:
        docs = "\n".join(f"{d['kind_label']}：{d.get('title', '')} {d.get('number', '')} {d.get('date', '')}".rstrip()
                         for d in row["documents"])
        h.add_row(_local_time(row["at"]), row["name"], f"{row['from_label']} → {row['to_label']}",
                  row["actor"], row["reason"] or "", docs or "—")
    console.print(h)


@parcel_app.command("life")
def parcel_life_cmd(code: str = typer.Argument(..., help="19位宗地代码"),
                    as_of: Optional[str] = typer.Option(None, "--as-of", help="按哪一天判断（YYYY-MM-DD，默认今天）"),
                    as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """宗地生命周期概览：所处阶段、未办结的期限（到期日、剩余天数、依据、逾期后果）、权利限制和全部流转经过。"""
    from ..services import parcel_life

    day = _day(as_of, "--as-of") if as_of else None
    data = _call(lambda: parcel_life.life(_ready_db(), code, SYSTEM, day))
    if as_json:
        _print_json(data, default=str)
        return
    console.print(f"[bold]宗地 {data['code']}[/]：当前状态 [bold]{data['state_label']}[/]（按 {data['as_of']} 判断）")
    if data["next_due"]:
        n = data["next_due"]
        console.print(f"最近到期：[bold]{n['label']}[/]，{n['due']}（剩 {n['days_left']} 天）；逾期后果：{n['consequence']}")
    if data["restriction"] and data["restriction"].get("active"):
        console.print(f"[yellow]权利限制：{data['restriction']['why']}[/]")
    t = Table(title="未办结的期限")
    for col in ("事项", "到期日", "状态", "依据", "逾期后果"):
        t.add_column(col, overflow="fold")
    for d in data["due"]:
        state = f"[red]逾期 {-d['days_left']} 天[/]" if d["status"] == "overdue" else f"剩 {d['days_left']} 天"
        t.add_row(d["label"], d["due"], state, d["basis"] or "—", d["consequence"] or "—")
    if not data["due"]:
        t.add_row("（没有未办结的期限）", "", "", "", "")
    console.print(t)
    possible = [s["name"] for s in data["next_steps"] if s["possible"]]
    console.print("现在可以办理：" + ("、".join(possible) if possible else "无") + "（详见 landcycle parcel transitions）")
    steps = " → ".join(h["to_label"] for h in data["history"]) or "（无；数据导入时登记的状态不是流转）"
    console.print(f"已办理流转 {len(data['history'])} 条：{steps}")


@parcel_app.command("transition")
def parcel_transition(
    code: str = typer.Argument(..., help="19位宗地代码"),
    key: str = typer.Argument(..., help="流转的键或中文名称（见 landcycle parcel transitions）"),
    reason: str = typer.Option(..., "--reason", help="办理原因（记入一地一档）"),
    document: list[str] = typer.Option([], "--document", help="所附文件：类型=文件名称|文号|日期（类型用键或中文名称；可重复）"),
    actor: str = typer.Option("cli", "--actor", help="办理人"),
):
    """办理宗地生命周期流转：检查状态、条件和所需文件，全部满足才改变状态（记入流转记录和一地一档）。"""
    from ..services import lifecycle

    docs = [_parse_document(raw, i) for i, raw in enumerate(document, start=1)]
    db = _ready_db()
    try:
        # The version just read: the step is still refused (409) if someone else changes the parcel meanwhile.
        version = lifecycle.allowed_transitions(db, code, SYSTEM)["version"]
        out = lifecycle.transition(db, code, key, actor, version, reason=reason, documents=docs)
    except LandcycleError as exc:
        _fail(exc)
    step, parcel = out["transition"], out["parcel"]
    console.print(f"[green]已办理“{step['name']}”[/]：宗地 {code} {step['from_label']} → {step['to_label']}"
                  f"（现为第 {parcel['version']} 版，办理人 {step['actor']}）。")


@app.command()
def check(
    rule: str = typer.Argument(..., help="规则名：mu-average、classify、idle、low-efficiency、standard-land、"
                                         "admission、new-industry-land、split-transfer、deadline"),
    input_file: str = typer.Option(..., "--input", "-i", help="案例 JSON 文件路径；- 表示从标准输入读取"),
    jurisdiction: list[str] = typer.Option([], "--jurisdiction", "-j",
                                           help="应用该县区/集聚区的规则覆盖（可多次，按顺序）"),
):
    """对单个案例应用一条规则，输出判定 JSON（rule、outcome、figures、reasons、citation）。

    无论判定结果如何都以 0 退出；输入无效时以 2 退出并指出字段。字段说明见 docs/rules.md。
    """
    try:
        text = sys.stdin.read() if input_file == "-" else open(input_file, encoding="utf-8").read()
    except OSError as exc:
        err_console.print(f"[bold red]错误：[/]无法读取输入文件 {input_file}：{exc.strerror}")
        raise typer.Exit(code=2)
    try:
        case = json.loads(text)
    except json.JSONDecodeError as exc:
        err_console.print(f"[bold red]错误：[/]输入不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）：{exc.msg}")
        raise typer.Exit(code=2)
    verdict = _call(rules.check, rule, case, jurisdiction)
    _print_json(verdict)


#: How the terminal shows a zone's 亩均税收 against its tier (domain.progress.tax_target_verdict).
_TIER_VERDICTS = {"unknown": "—", "below": "[red]低于目标[/]", "above": "[green]高于目标档次[/]",
                  "met": "[green]达到目标[/]"}


@app.command()
def evaluate(
    year: int = typer.Option(..., "--year", help="评价年度（按当年12月31日认定）"),
    show_run: Optional[int] = typer.Option(None, "--show-run", help="只显示已保存的评价批次（批次号），不重新计算"),
):
    """年度评价：对全部宗地和企业计算亩均税收（R1）、企业分类（R2）、闲置（R3）、低效（R4），保存并按集聚区汇总。"""
    from ..services import evaluation as evaluation_service
    from ..domain.vocabulary import InefficiencyCategory

    db = _ready_db()
    try:
        if show_run is not None:
            rep = evaluation_service.show_run(db, show_run)
        else:
            with _progress_bars() as progress:
                rep = evaluation_service.evaluate(db, year, actor="cli", progress=progress)
    except LandcycleError as exc:
        _fail(exc)

    def num(v, nd=2):
        return "—" if v is None else f"{v:,.{nd}f}"

    t1 = Table(title=f"{rep.year}年度评价（截至 {rep.as_of}）：亩均税收与企业分类")
    for col in ("产业集聚区", "目标档次（万元/亩）", "亩均税收（万元/亩）", "对照目标", "A类", "B类", "C类", "不参评"):
        t1.add_column(col, justify="left" if col == "产业集聚区" else "right")
    t2 = Table(title="闲置与低效用地面积（亩）")
    cats = list(InefficiencyCategory)
    for col in ("产业集聚区", "闲置", *[c.label for c in cats], "低效合计"):
        t2.add_column(col, justify="left" if col == "产业集聚区" else "right")
    for z in rep.zones:
        f = z.figures
        lo, hi = z.tax_target_min_wan, z.tax_target_max_wan
        tier = "—" if lo is None else (f"≥{lo:g}" if hi is None else f"{lo:g}–{hi:g}")
        tpm = f["tax_per_mu_wan"]
        verdict = _TIER_VERDICTS[tax_target_verdict(tpm, lo, hi)]
        c = f["classes"]
        t1.add_row(z.name, tier, num(tpm), verdict, str(c["A"]), str(c["B"]), str(c["C"]), str(c["not_evaluated"]))
        le = f["low_efficiency_area_mu"]
        t2.add_row(z.name, num(f["idle_area_mu"], 1), *[num(le[c.value], 1) for c in cats],
                   num(f["low_efficiency_area_mu_any"], 1))
    console.print(t1)
    console.print(t2)
    console.print(f"评价批次 {rep.run_id}：宗地 {rep.parcels}，企业 {rep.enterprises}；规则库版本 {rep.rulebook_version}"
                  f"（指纹 {rep.rulebook_fingerprint[:12]}），输入数据指纹 {rep.inputs_fingerprint[:16]}，"
                  f"评价方法版本 {rep.method_version}" + (f"；用时 {rep.seconds:.1f} 秒" if rep.seconds else ""))
    console.print("注：不参评企业（公用事业、投产不足规定年限、在建项目、无用地）按B类管理，已单列，不计分；"
                  "低效类别可重叠，低效合计按宗地去重。")


def _day(value: Optional[str], field: str):
    from datetime import date

    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        err_console.print(f"[bold red]错误：[/]{field} 应为 ISO 日期（YYYY-MM-DD），实际为“{value}”")
        raise typer.Exit(code=2)


@publicity_app.command("publish")
def publicity_publish(run_id: int = typer.Argument(..., help="评价批次号"),
                      on: Optional[str] = typer.Option(None, "--on", help="公示日期（缺省为今天）"),
                      actor: str = typer.Option("cli", "--actor", help="操作人")):
    """公示一个评价批次；异议期按规则库的工作日数（含调休）计算。"""
    pub = _call(lambda: publicity.publish(_ready_db(), run_id, _day(on, "--on"), actor))
    console.print(f"评价批次 {run_id} 已于 {pub.published_on} 公示；异议期 {pub.window_workdays} 个工作日，"
                  f"截至 {pub.objection_deadline}。")


@publicity_app.command("object")
def publicity_object(run_id: int = typer.Argument(..., help="评价批次号"),
                     enterprise: str = typer.Option(..., "--enterprise", help="企业统一社会信用代码"),
                     reason: str = typer.Option(..., "--reason", help="异议理由"),
                     on: Optional[str] = typer.Option(None, "--on", help="提出日期（缺省为今天）"),
                     actor: str = typer.Option("cli", "--actor", help="提出人")):
    """记录企业对公示结果的异议（须在异议期内）。"""
    oid = _call(lambda: publicity.file_objection(_ready_db(), run_id, enterprise, reason, _day(on, "--on"), actor))
    console.print(f"已记录异议 {oid}。")


@publicity_app.command("decide")
def publicity_decide(objection_id: int = typer.Argument(..., help="异议编号"),
                     upheld: bool = typer.Option(..., "--upheld/--rejected", help="异议成立或不成立"),
                     reason: str = typer.Option(..., "--reason", help="处理理由"),
                     revised_class: Optional[str] = typer.Option(None, "--class", help="异议成立时改定的类别 A/B/C"),
                     on: Optional[str] = typer.Option(None, "--on", help="处理日期（缺省为今天）"),
                     actor: str = typer.Option("cli", "--actor", help="处理人")):
    """处理异议：成立则生成新版本结果（原结果保留备查），不成立则结果不变。"""
    view = _call(lambda: publicity.decide_objection(_ready_db(), objection_id, upheld, reason, _day(on, "--on"),
                                                    actor, revised_class))
    extra = f"，新结果编号 {view['revised_result_id']}" if view["revised_result_id"] else ""
    console.print(f"异议 {objection_id}：{view['status_label']}{extra}。")


@publicity_app.command("show")
def publicity_show(run_id: int = typer.Argument(..., help="评价批次号")):
    """查看批次的公示情况与异议。"""
    st = _call(lambda: publicity.publication_status(_ready_db(), run_id))
    if not st["published"]:
        console.print(f"评价批次 {run_id} 尚未公示。")
        return
    console.print(f"评价批次 {run_id}：{st['published_on']} 公示，异议期至 {st['objection_deadline']}"
                  f"（{st['window_workdays']} 个工作日）。")
    t = Table(title="公示异议")
    for col in ("编号", "企业", "提出日期", "理由", "状态", "处理理由"):
        t.add_column(col, overflow="fold")
    for o in st["objections"]:
        t.add_row(str(o["id"]), str(o["enterprise_id"]), o["filed_on"], o["reason"], o["status_label"],
                  o["decision_reason"] or "")
    console.print(t)


@app.command("verdicts")
def show_verdicts(
    subject: str = typer.Argument(..., help="宗地代码（19位）或企业统一社会信用代码（18位）"),
    run_id: Optional[int] = typer.Option(None, "--run", help="评价批次号（缺省为最新一次）"),
    as_json: bool = typer.Option(False, "--json", help="以JSON输出"),
):
    """查看年度评价中某宗地（R1/R3/R4）或某企业（R1/R2）的判定：结论、数据、理由与依据条款。"""
    try:
        db = _ready_db()
        data = (verdicts.parcel_verdicts(db, subject, run_id) if len(subject.strip()) == 19
                else verdicts.enterprise_verdicts(db, subject, run_id))
    except LandcycleError as exc:
        _fail(exc)
    if as_json:
        _print_json(data)
        return
    run = data["run"]
    console.print(f"[bold]{data['subject']}[/] — 评价批次 {run['run_id']}（{run['year']}年度，截至 {run['as_of']}），"
                  f"规则库 {run['rulebook_version']}，结果版本 {data['result_version']}")
    for v in data["verdicts"]:
        body = "\n".join(f"• {r}" for r in v["reasons"])
        cites = "\n".join(f"  依据：{c['source']} — {c['text']}" for c in v["citation"])
        console.print(Panel(f"{body}\n{cites}", title=f"{v['rule_id']} {v['rule']}：{v['outcome_label']}", expand=False))


@app.command("import")
def import_file(
    file: str = typer.Argument(..., help="GIS文件（Shapefile、GeoPackage、GeoJSON、DXF…）或界址点坐标表"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只检查并出报告，不写入"),
    layer: Optional[str] = typer.Option(None, "--layer", help="图层名（GeoPackage、File Geodatabase 等含多个图层时；缺省取第一个空间图层）"),
    crs: Optional[str] = typer.Option(None, "--crs", help="源坐标系（如 EPSG:4526）；缺省时从文件识别或推断"),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="属性表编码（如 GBK、UTF-8）"),
    central_meridian: Optional[float] = typer.Option(None, "--central-meridian", help="高斯-克吕格中央经线（度）"),
    mapping: Optional[str] = typer.Option(None, "--mapping", help="字段映射文件（TOML），补充/覆盖默认映射"),
    repair: bool = typer.Option(False, "--repair", help="用 make_valid 修复无效图形、删除重复界址点（报告中注明）"),
    convert_gcj: bool = typer.Option(False, "--convert-gcj", help="源数据为GCJ-02（火星坐标）时转换为CGCS2000"),
    county: Optional[str] = typer.Option(None, "--county", help="属性中没有县(市、区)时使用"),
    zone: Optional[str] = typer.Option(None, "--zone", help="属性中没有产业集聚区时使用"),
    update: bool = typer.Option(False, "--update", help="允许更新已登记的宗地（记入一地一档）"),
    overlap_tolerance: float = typer.Option(1.0, "--overlap-tolerance", help="允许的重叠面积（平方米）"),
    report: Optional[str] = typer.Option(None, "--report", help="报告路径（写出 .xlsx 与 .json）"),
    actor: str = typer.Option("cli", "--actor", help="操作人"),
):
    """标图入库：读取文件、映射属性、检查全部问题；无错误时整批导入（全部成功或全部不写入）。"""
    from pathlib import Path

    from ..services import imports

    db = _ready_db()
    try:
        batch = imports.read_for_import(db, file, county=county, layer=layer, encoding=encoding, crs=crs,
                                        central_meridian=central_meridian, convert_gcj=convert_gcj)
        opts = dict(mapping=mapping, county=county, zone=zone, repair=repair, update=update,
                    overlap_tolerance_m2=overlap_tolerance)
        if dry_run:
            rep, result = imports.dry_run(db, batch, **opts), None
        else:
            try:
                result = imports.import_batch(db, batch, actor=actor, **opts)
                rep = result.report
            except imports.ImportRejected as exc:
                rep, result = exc.report, None
    except LandcycleError as exc:
        _fail(exc)
    if report:
        base = Path(report)
        base = base.with_suffix("") if base.suffix.lower() in (".xlsx", ".json") else base
        rep.write_excel(base.with_suffix(".xlsx"))
        rep.write_json(base.with_suffix(".json"))
        console.print(f"报告已写出：{base.with_suffix('.xlsx')}、{base.with_suffix('.json')}")
    _print_import_report(rep)
    if rep.has_errors:
        err_console.print(f"[bold red]有 {len(rep.errors)} 个错误，未写入任何数据。[/]")
        raise typer.Exit(code=2)
    owners = (f"权利人：新建企业 {rep.owners_created} 家、用地关系 {rep.occupancies_created} 条。"
              if rep.owners_created or rep.occupancies_created else "")
    if result is None:
        console.print(f"[green]检查通过[/]（试运行，未写入）：将新建 {len(rep.to_create)} 宗、更新 {len(rep.to_update)} 宗。"
                      + owners)
    else:
        console.print(f"[green]已导入，批次 {result.batch_id}[/]：新建 {len(result.created)} 宗、"
                      f"更新 {len(result.updated)} 宗。{owners}撤销：landcycle import-undo {result.batch_id}")


def _print_import_report(rep) -> None:
    console.print(f"[bold]{rep.path}[/]（{rep.format}，{rep.source_crs}，{rep.feature_count} 个要素）")
    for n in rep.notes:
        console.print(f"  • {n}")
    if rep.unmapped_columns:
        console.print("  未映射字段：" + "、".join(rep.unmapped_columns))
    if not rep.rows:
        return
    t = Table(title=f"问题（错误 {len(rep.errors)}，警告 {len(rep.warnings)}）")
    for c in ("问题类型", "数量"):
        t.add_column(c)
    for code, n in rep.counts_by_code().items():
        t.add_row(code, str(n))
    console.print(t)
    rows = Table()
    for c in ("来源位置", "宗地代码", "字段", "问题", "级别"):
        rows.add_column(c)
    for r in rep.rows[:50]:
        rows.add_row(r.source_id, r.record, field_label(r.field), r.message,
                     "[red]错误[/]" if r.severity == "error" else "[yellow]警告[/]")
    console.print(rows)
    if len(rep.rows) > 50:
        console.print(f"……共 {len(rep.rows)} 条，完整清单请用 --report 写出")


@app.command("import-batches")
def import_batches(as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """列出导入批次：时间、操作人、文件、哈希、新建/更新数、是否已撤销。"""
    from ..services import imports

    rows = imports.list_batches(_ready_db())
    if as_json:
        _print_json(rows)
        return
    t = Table(title="导入批次")
    for c in ("批次", "时间", "操作人", "文件", "SHA-256", "新建", "更新", "撤销"):
        t.add_column(c)
    for b in rows:
        t.add_row(str(b["id"]), (b["at"] or "")[:19], b["actor"], b["source_path"], b["file_sha256"][:12],
                  str(b["created"]), str(b["updated"]),
                  f"{b['undone_by']} {b['undone_at'][:19]}" if b["undone_at"] else "")
    console.print(t)


@app.command("import-undo")
def import_undo(batch_id: int = typer.Argument(..., help="导入批次号"),
                actor: str = typer.Option("cli", "--actor", help="操作人")):
    """整批撤销一次导入：删除其新建的宗地、恢复其更新的宗地（记入一地一档）。"""
    from ..services import imports

    out = _call(lambda: imports.undo_batch(_ready_db(), batch_id, actor))
    console.print(f"[green]已撤销导入批次 {batch_id}[/]：删除 {len(out['deleted'])} 宗、恢复 {len(out['restored'])} 宗。")


@app.command("export")
def export_file(
    path: str = typer.Argument(..., help="输出文件：.gpkg、.shp、.geojson、.dxf 或 .xlsx（台账）"),
    zone: Optional[str] = typer.Option(None, "--zone", help="产业集聚区（代码、名称或别名）"),
    county: Optional[str] = typer.Option(None, "--county", help="县(市、区)"),
    state: Optional[str] = typer.Option(None, "--state", help="土地状态（如 闲置、低效、idle）"),
    fmt: Optional[str] = typer.Option(None, "--format", help="gpkg|shp|geojson|dxf|xlsx；缺省按扩展名"),
    encoding: str = typer.Option("UTF-8", "--encoding", help="Shapefile 属性表编码（UTF-8 或 GBK，写入 .cpg）"),
    crs: str = typer.Option("EPSG:4490", "--crs", help="输出坐标系（缺省 EPSG:4490；或高斯-克吕格如 EPSG:4547）"),
):
    """导出宗地：GeoPackage、Shapefile、GeoJSON、DXF 或 Excel 台账（含最近一次评价数据）；导出的文件可重新导入。"""
    from ..services import exports

    db = _ready_db()
    result = _call(exports.export_parcels, db, path, fmt=fmt, county=county, zone=zone, state=state,
                   encoding=encoding, crs=crs)
    where = "，".join(f"{k}：{v}" for k, v in (("产业集聚区", zone), ("县(市、区)", county), ("状态", state)) if v)
    crs_text = f"，坐标系 {result.crs}" if result.crs else ""
    console.print(f"[green]已导出 {result.count} 宗宗地[/]（{exports.FORMAT_LABELS[result.fmt]}{crs_text}"
                  f"{'；' + where if where else ''}）：{result.path}")
    for n in result.notes:
        console.print(f"  • {n}")


_ROLE_HELP = ("角色：city_admin（市级管理员）、county_admin（县(市、区)管理员）、zone_manager（产业集聚区管理机构）、"
              "department（职能部门）、enterprise（企业）；也可用中文名称")


def _read_new_password(password_stdin: bool) -> str:
    """The new password: one line from standard input (scripts), or typed twice, hidden."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("密码", hide_input=True, default="", show_default=False)
    second = typer.prompt("再次输入密码", hide_input=True, default="", show_default=False)
    if first != second:
        err_console.print("[bold red]错误：[/]两次输入的密码不一致，未做任何修改。")
        raise typer.Exit(code=2)
    return first


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="用户名（不含空格，最长64个字符）"),
    role: str = typer.Option(..., "--role", help=_ROLE_HELP),
    jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction",
                                               help="所属辖区（代码、名称或别名，如 411000、魏都区、魏都产业集聚区）；企业账号不填"),
    enterprise: Optional[str] = typer.Option(None, "--enterprise", help="企业统一社会信用代码（企业账号）"),
    department: Optional[str] = typer.Option(None, "--department", help="部门名称（职能部门账号，如 税务、统计）"),
    display_name: str = typer.Option("", "--display-name", help="姓名（缺省为用户名）"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取密码（一行，供脚本使用）"),
    actor: str = typer.Option("cli", "--actor", help="操作人"),
):
    """新建账号：按角色绑定辖区、企业或部门；密码隐藏输入两次（或 --password-stdin）。"""
    from ..services import accounts

    db = _ready_db()
    password = _read_new_password(password_stdin)
    user = _call(accounts.add_user, db, username, password, role, jurisdiction=jurisdiction, enterprise=enterprise,
                 department=department, display_name=display_name, actor=actor)
    bound = user["jurisdiction_name"] or user["enterprise"] or "—"
    console.print(f"[green]已新建账号 {user['username']}[/]（{user['role_label']}，{bound}"
                  f"{'，' + user['department'] if user['department'] else ''}）。")


@user_app.command("list")
def user_list(as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """列出全部账号（不含密码）。"""
    from ..services import accounts

    users = _call(lambda: accounts.list_users(_ready_db(), viewer="cli"))
    if as_json:
        _print_json(users)
        return
    t = Table(title=f"账号（共 {len(users)} 个）")
    for col in ("用户名", "姓名", "角色", "辖区 / 企业", "部门", "状态", "创建时间"):
        t.add_column(col, overflow="fold")
    for u in users:
        t.add_row(u["username"], u["display_name"], u["role_label"],
                  u["jurisdiction_name"] or u["enterprise"] or "—", u["department"] or "—",
                  "启用" if u["active"] else "[red]停用[/]", u["created_at"][:19].replace("T", " "))
    console.print(t)


@user_app.command("passwd")
def user_passwd(username: str = typer.Argument(..., help="用户名"),
                password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取新密码（一行）"),
                actor: str = typer.Option("cli", "--actor", help="操作人")):
    """重置账号密码（隐藏输入两次）；该账号的全部登录随即失效。"""
    from ..services import accounts

    db = _ready_db()
    password = _read_new_password(password_stdin)
    _call(accounts.set_password, db, username, password, actor=actor)
    console.print(f"[green]已重置 {username} 的密码[/]，其全部登录已失效。")


def _set_active(username: str, active: bool, actor: str) -> None:
    from ..services import accounts

    _call(lambda: accounts.set_active(_ready_db(), username, active, actor=actor))
    console.print(f"[green]已{'启用' if active else '停用'}账号 {username}[/]"
                  + ("" if active else "，其全部登录已失效") + "。")


@user_app.command("disable")
def user_disable(username: str = typer.Argument(..., help="用户名"),
                 actor: str = typer.Option("cli", "--actor", help="操作人")):
    """停用账号：不能再登录，已有登录立即失效（最后一个启用的市级管理员不能停用）。"""
    _set_active(username, False, actor)


@user_app.command("enable")
def user_enable(username: str = typer.Argument(..., help="用户名"),
                actor: str = typer.Option("cli", "--actor", help="操作人")):
    """重新启用已停用的账号。"""
    _set_active(username, True, actor)


# --------------------------------------------------------------------------- 预警通知 (issue 7)
warnings_app = typer.Typer(help="预警通知：每日预警任务（生成并发送到期提醒）、通知列表、订阅管理。",
                           no_args_is_help=True)
app.add_typer(warnings_app, name="warnings")


@warnings_app.command("run")
def warnings_run(as_of: Optional[str] = typer.Option(None, "--as-of", help="基准日 YYYY-MM-DD（缺省为今天，北京时间）"),
                 no_deliver: bool = typer.Option(False, "--no-deliver", help="只生成通知，不发送邮件/回调"),
                 actor: str = typer.Option("cli", "--actor", help="操作人")):
    """每日预警任务：读取各期限来源，为负责辖区和企业生成到期提醒（同一期限同一提前量只生成一次），
    再按订阅发送邮件和回调（未配置服务器的记为“未发送”，失败的下次重试）。建议每天由 cron/systemd 定时运行。"""
    from ..services import notices

    day = _day(as_of, "--as-of") if as_of else None
    db = _ready_db()
    try:
        with _progress_bars() as progress:
            rep = notices.run(db, day, actor=actor, deliver=not no_deliver, progress_cb=progress)
    except LandcycleError as exc:
        _fail(exc)
    t = Table(title=f"预警任务 {rep.run_id}（基准日 {rep.as_of.isoformat()}）")
    t.add_column("项目")
    t.add_column("数量", justify="right")
    for label, value in (("在提前量内或已逾期的期限", rep.deadlines), ("新通知（发送）", rep.notices),
                         ("新通知（被更紧提前量取代，不发送）", rep.superseded),
                         ("发往辖区", rep.by_recipient.get("jurisdiction", 0)),
                         ("发往企业", rep.by_recipient.get("enterprise", 0)),
                         ("已发送", rep.sent), ("发送失败（下次重试）", rep.failed),
                         ("未发送（未配置服务器）", rep.skipped), ("其中重试", rep.retried)):
        t.add_row(label, str(value))
    for name, count in rep.by_source.items():
        t.add_row(f"来源 {name} 的期限", str(count))
    console.print(t)
    if no_deliver:
        console.print("已按 --no-deliver 跳过发送；下次运行会发送尚未发送的通知。")
    for e in rep.errors:
        err_console.print(f"[bold red]期限来源 {e['source']} 出错：[/]{e['error']}")
    if rep.errors:
        raise typer.Exit(code=1)


@warnings_app.command("list")
def warnings_list(as_of: Optional[str] = typer.Option(None, "--as-of", help="只看该基准日的任务生成的通知"),
                  parcel: Optional[str] = typer.Option(None, "--parcel", help="宗地代码"),
                  limit: int = typer.Option(50, "--limit", min=1, max=1000, help="条数"),
                  as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """最近生成的预警通知及其发送状态（最新在前）。"""
    from ..services import notices

    page = _call(lambda: notices.notices_page(_ready_db(), viewer="cli", limit=limit, as_of=as_of, parcel=parcel))
    if as_json:
        console.print_json(json.dumps(page, ensure_ascii=False))
        return
    t = Table(title=f"预警通知（共 {page['total']} 条，显示 {len(page['items'])} 条）")
    for col in ("编号", "基准日", "宗地", "事项", "期限", "剩余", "提前量", "接收方", "发送"):
        t.add_column(col)
    for n in page["items"]:
        sent = "；".join(f"{d['channel']} {d['status_label']}" for d in n["deliveries"]) or "—"
        t.add_row(str(n["id"]), n["as_of"], n["parcel_code"], n["label"], n["due_date"], n["days_text"],
                  f"{n['lead_days']}天", n["recipient"]["name"] or "—", sent)
    console.print(t)


@warnings_app.command("runs")
def warnings_runs(limit: int = typer.Option(20, "--limit", min=1, max=1000, help="条数")):
    """预警任务的运行记录。"""
    from ..services import notices

    page = _call(lambda: notices.runs_page(_ready_db(), viewer="cli", limit=limit))
    t = Table(title="预警任务运行记录")
    for col in ("编号", "基准日", "操作人", "状态", "期限", "新通知", "已发送", "失败", "未发送", "结束时间"):
        t.add_column(col)
    for r in page["items"]:
        t.add_row(str(r["id"]), r["as_of"], r["actor"], r["status"], str(r["deadlines"]), str(r["notices"]),
                  str(r["sent"]), str(r["failed"]), str(r["skipped"]), _local_time(r["finished_at"]))
    console.print(t)


@warnings_app.command("subscribe")
def warnings_subscribe(jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", help="县(市、区)或产业集聚区"),
                       enterprise: Optional[str] = typer.Option(None, "--enterprise", help="企业统一社会信用代码"),
                       email: Optional[str] = typer.Option(None, "--email", help="电子邮件地址"),
                       webhook: Optional[str] = typer.Option(None, "--webhook", help="回调地址 http(s)://…"),
                       note: Optional[str] = typer.Option(None, "--note", help="备注"),
                       actor: str = typer.Option("cli", "--actor", help="操作人")):
    """新建预警订阅：辖区或企业的预警通知发往该邮箱和/或回调地址。"""
    from ..services import notices

    sub = _call(lambda: notices.create_subscription(_ready_db(), viewer=actor, jurisdiction=jurisdiction,
                                                    enterprise=enterprise, email=email, webhook_url=webhook,
                                                    note=note))
    console.print(f"[green]已新建预警订阅 {sub['id']}[/]：{sub['subscriber']['name']} → "
                  + "、".join(x for x in (sub["email"], sub["webhook_url"]) if x))


@warnings_app.command("subscriptions")
def warnings_subscriptions(show_all: bool = typer.Option(False, "--all", help="包含已停用的订阅")):
    """列出预警订阅。"""
    from ..services import notices

    subs = _call(lambda: notices.list_subscriptions(_ready_db(), viewer="cli", include_inactive=show_all))
    t = Table(title="预警订阅")
    for col in ("编号", "订阅方", "电子邮件", "回调地址", "状态", "备注"):
        t.add_column(col)
    for s in subs:
        t.add_row(str(s["id"]), s["subscriber"]["name"], s["email"] or "—", s["webhook_url"] or "—",
                  "启用" if s["active"] else "停用", s["note"] or "")
    console.print(t)


@warnings_app.command("unsubscribe")
def warnings_unsubscribe(sub_id: int = typer.Argument(..., help="订阅编号"),
                         actor: str = typer.Option("cli", "--actor", help="操作人")):
    """停用一个预警订阅（发送记录保留）。"""
    from ..services import notices

    db = _ready_db()
    try:
        current = [s for s in notices.list_subscriptions(db, viewer=actor, include_inactive=True) if s["id"] == sub_id]
        if not current:
            from ..domain.errors import NotFound
            raise NotFound("预警订阅", str(sub_id))
        notices.update_subscription(db, sub_id, {"active": False}, current[0]["version"], viewer=actor,
                                    reason="停用预警订阅")
    except LandcycleError as exc:
        _fail(exc)
    console.print(f"[green]已停用预警订阅 {sub_id}[/]。")


# --------------------------------------------------------------------------- 履约监管 (issue 7 items 4-5)
@parcel_app.command("supervision")
def parcel_supervision(code: str = typer.Argument(..., help="19位宗地代码"),
                       as_of: Optional[str] = typer.Option(None, "--as-of", help="基准日 YYYY-MM-DD（缺省为今天，北京时间）"),
                       as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """宗地履约监管情况：各项合同期限（约定、完成、状态、逾期天数、逾期后果）、下一个到期事项、验收记录、
    闲置土地处置记录、收回回购和“达产复验通过前不得抵押、转让、股权变更”的限制。"""
    from ..services import supervision

    data = _call(lambda: supervision.supervision(_ready_db(), code, SYSTEM, _day(as_of, "--as-of") if as_of else None))
    if as_json:
        _print_json(data)
        return
    console.print(f"[bold]宗地 {data['code']}[/]：当前状态 [bold]{data['state_label']}[/]（按 {data['as_of']} 判断）")
    t = Table(title="合同期限")
    for col in ("事项", "约定/到期日", "完成日", "状态", "逾期天数", "依据", "逾期后果"):
        t.add_column(col, overflow="fold")
    for d in data["deadlines"]:
        colour = {"overdue": "red", "met_late": "yellow", "met": "green"}.get(d["status"], "")
        status = f"[{colour}]{d['status_label']}[/]" if colour else d["status_label"]
        t.add_row(d["label"], d["due"], d["done"] or "—", status, str(d["days_late"] or "—"), d["basis"],
                  d["consequence"])
    if not data["deadlines"]:
        t.add_row("（未登记出让合同）", "", "", "", "", "", "")
    console.print(t)
    nxt = data["next_due"]
    console.print("下一个到期事项：" + (f"{nxt['label']}，{nxt['due']}（还有 {nxt['days_left']} 天）；逾期后果：{nxt['consequence']}"
                                 if nxt else "无"))
    r = data["restrictions"]
    console.print(("[bold red]权利限制：[/]" if r["active"] else "权利限制：无。") + r["why"])
    if data["government_delay"]:
        console.print(f"已记录政府原因造成的动工延迟：{data['government_delay']}")
    if data["inspections"]:
        h = Table(title=f"验收记录（{len(data['inspections'])} 次）")
        for col in ("日期", "类型", "文号", "结论", "未达标指标"):
            h.add_column(col, overflow="fold")
        for i in data["inspections"]:
            short = "\n".join(f["reason"] for f in i["findings"] if f["passed"] is False)
            h.add_row(i["inspected_on"], i["kind_label"], i["number"], i["result_label"], short or "—")
        console.print(h)
    for n in data["idle_notices"]:
        amount = f"，金额 {n['amount_wan']:.2f} 万元" if n["amount_wan"] is not None else ""
        console.print(f"{n['notice_date']} {n['kind_label']}（{n['number']}）{amount}")
    e = data["exit_case"]
    if e:
        price = f"{e['buyback_price_wan']:.2f} 万元" if e["buyback_price_wan"] is not None else "待审计"
        console.print(f"收回回购：解除合同 {e['rescission_number']}（{e['rescission_date']}），建筑物"
                      f"{e['building_disposal_label']}，回购价 {price}")


@parcel_app.command("inspect")
def parcel_inspect(
    code: str = typer.Argument(..., help="19位宗地代码"),
    kind: str = typer.Argument(..., help="completion/production/completion_reinspection/production_reinspection 或中文名称"),
    on: str = typer.Option(..., "--date", help="验收日期 YYYY-MM-DD"),
    number: str = typer.Option(..., "--number", help="验收意见文号"),
    measured: list[str] = typer.Option([], "--measured", help="实测项=数值，如 plot_ratio=1.25 或 floor_area_m2=48000（可重复）"),
    result: Optional[str] = typer.Option(None, "--result", help="联合验收意见结论（指标均达标但意见为未通过时填 failed）"),
    actor: str = typer.Option("cli", "--actor", help="登记人"),
):
    """登记竣工联合验收、达产验收或复验：按履约监管协议约定指标逐项核对实测值，同一事务中更新开发建设情况。"""
    from ..services import ledgers, supervision

    values = {}
    for i, raw in enumerate(measured, start=1):
        key, sep, value = raw.partition("=")
        try:
            values[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            err_console.print(f"[bold red]错误：[/]第 {i} 个 --measured“{raw}”格式不对，应为 实测项=数值，未写入任何数据")
            raise typer.Exit(code=2)
    db = _ready_db()
    try:
        version = ledgers.get_development(db, code, viewer=SYSTEM)["version"]
        out = supervision.record_inspection(db, code, actor, version, kind=kind, inspected_on=_day(on, "--date"),
                                            measured=values, number=number, result=result)
    except LandcycleError as exc:
        _fail(exc)
    i = out["inspection"]
    colour = "green" if i["result"] == "passed" else "red"
    console.print(f"已登记{i['kind_label']}：宗地 {code} [{colour}]{i['result_label']}[/]（{i['number']}）。")
    for f in i["findings"]:
        console.print(f"  • {f['reason']}")
    console.print(out["next_step"]["hint"])


# --------------------------------------------------------------------------- 审批事项 (告知承诺制, issue 7 item 3)
approval_app = typer.Typer(help="告知承诺制/代办制审批事项：查看各步骤期限、开立、登记受理/办结/公示异议。",
                           no_args_is_help=True)
app.add_typer(approval_app, name="approval")


def _approval_as_of(value: Optional[str]):
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        err_console.print(f"[bold red]错误：[/]--as-of 应为日期（YYYY-MM-DD），实际为“{value}”")
        raise typer.Exit(code=2) from None


def _approval_print(case: dict) -> None:
    console.print(f"[bold]审批事项 {case['id']}[/]（宗地 {case['parcel_code']}）：{case['track_label']}，"
                  f"[bold]{case['state_label']}[/]（第 {case['version']} 版；按 {case['as_of']} 判断）")
    if case.get("enterprise"):
        console.print(f"  受让人：{case['enterprise']['name']}（{case['enterprise']['credit_code']}）")
    console.print(f"  开立：{case['opened_by']} {_local_time(case['opened_at'])}")
    t = Table()
    for col in ("步骤", "键", "时限", "起算", "期限届满日", "办结日", "已用工作日", "状态", "依据"):
        t.add_column(col, overflow="fold")
    for s in case["steps"]:
        limit = f"{s['limit_workdays']} 个工作日" if s["limit_workdays"] is not None else "无"
        start = f"{s['start_label']} {s['start_date']}" if s["start_date"] else f"（{s['start_label']}）"
        due = f"{s['due_date']}（{s['due_weekday']}）" if s["due_date"] else (s["calendar_problem"] or "—")
        t.add_row(s["name"], s["key"], limit, start, due, s["done_date"] or "—",
                  "—" if s["used_workdays"] is None else str(s["used_workdays"]), s["status_label"], s["basis"])
    console.print(t)
    for e in case["events"]:
        console.print(f"  • {e['date']} {e['step_name']}：{e['kind_label']} {e['number'] or ''}（{e['actor']}）")


@approval_app.command("list")
def approval_list(code: str = typer.Argument(..., help="19位宗地代码"),
                  as_of: Optional[str] = typer.Option(None, "--as-of", help="按此日判断是否逾期（默认今日，YYYY-MM-DD）"),
                  as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """列出宗地的审批事项：各步骤的起算日、期限届满日（按法定节假日和调休计算工作日）、办结日和状态。"""
    from ..services import approvals

    day = _approval_as_of(as_of)
    data = _call(lambda: approvals.list_cases(_ready_db(), code, SYSTEM, as_of=day))
    if as_json:
        _print_json(data)
        return
    console.print(f"[bold]宗地 {data['code']}[/]：{data['state_label']}，审批事项 {len(data['cases'])} 项")
    for case in data["cases"]:
        _approval_print(case)


@approval_app.command("open")
def approval_open(
    code: str = typer.Argument(..., help="19位宗地代码（须为已供应且已登记出让合同）"),
    track: str = typer.Option(..., "--track", help="办理方式：with_drawings（带施工图出让）、small_low_risk（小型低风险）、"
                                                   "commitment（信用承诺书公示），或中文名称"),
    name: Optional[str] = typer.Option(None, "--name", help="项目名称"),
    floor_area: Optional[float] = typer.Option(None, "--floor-area", help="总建筑面积（平方米）"),
    height: Optional[float] = typer.Option(None, "--height", help="建筑高度（米）"),
    basement: Optional[int] = typer.Option(None, "--basement", help="地下层数"),
    hazardous: Optional[bool] = typer.Option(None, "--hazardous/--no-hazardous",
                                             help="是否涉及易燃易爆、有毒有害等安全保护"),
    reason: Optional[str] = typer.Option(None, "--reason", help="原因（记入一地一档）"),
    actor: str = typer.Option("cli", "--actor", help="办理人"),
):
    """开立审批事项：检查宗地状态、出让合同和办理方式的适用条件（小型低风险项目的面积、高度、地下层数）。"""
    from ..services import approvals

    project = {k: v for k, v in (("name", name), ("total_floor_area_m2", floor_area), ("building_height_m", height),
                                 ("basement_floors", basement), ("hazardous", hazardous)) if v is not None}
    case = _call(lambda: approvals.open_case(_ready_db(), code, actor, track, project=project, reason=reason))
    console.print(f"[green]已开立审批事项 {case['id']}[/]：宗地 {code}，{case['track_label']}。")
    _approval_print(case)


@approval_app.command("record")
def approval_record(
    case_id: int = typer.Argument(..., help="审批事项编号"),
    step: str = typer.Option(..., "--step", help="步骤的键或中文名称（见 landcycle approval list）"),
    kind: str = typer.Option(..., "--kind", help="事项：accepted（受理/公示发布）、done（办结）、objection（公示异议）、"
                                                 "objection_dismissed（异议不成立）、objection_upheld（异议成立）"),
    on: str = typer.Option(..., "--date", help="发生日期（YYYY-MM-DD，不能晚于今日）"),
    number: Optional[str] = typer.Option(None, "--number", help="文号、受理编号或许可证号（办结许可时必填）"),
    note: Optional[str] = typer.Option(None, "--note", help="说明"),
    actor: str = typer.Option("cli", "--actor", help="办理人"),
):
    """登记审批事项的一项进展：步骤须依次办理，日期不能早于起算日或晚于今日；期限超出已载入的节假日安排时拒绝登记。"""
    from ..services import approvals

    case = _call(lambda: approvals.record_event(_ready_db(), case_id, actor, step, kind, on, number=number, note=note))
    console.print(f"[green]已登记[/]：审批事项 {case_id} 现为“{case['state_label']}”。")
    _approval_print(case)


# --------------------------------------------------------------------------- 分割转让 (R8)
split_app = typer.Typer(help="分割转让申请（R8）：提交（各块图形由 GIS 文件读入）、查看、审核；宗地分割来源。",
                        no_args_is_help=True)
app.add_typer(split_app, name="split")

#: Attribute names a pieces file may use for each piece's transferee.
_SPLIT_NAME_FIELDS = ("transferee_name", "受让人", "受让人名称")
_SPLIT_CODE_FIELDS = ("transferee_credit_code", "受让人统一社会信用代码", "统一社会信用代码")


def _split_pieces(path: str, layer: Optional[str], crs: Optional[str]) -> list:
    """The pieces of a GIS file (GeoJSON, GeoPackage, Shapefile… read by GDAL through
    ``services.gis_read``), in EPSG:4490, with their transferees from the attributes."""
    from ..services import gis_read
    from ..services.split_applications import PieceIn

    batch = gis_read.read_source(path, layer=layer, crs=crs)
    if batch.problems:
        raise ValidationFailed(batch.problems)
    for note in batch.notes:
        console.print(f"[dim]{note}[/]")

    def first(attrs: dict, names: tuple[str, ...]):
        value = next((attrs.get(n) for n in names if attrs.get(n) not in (None, "")), None)
        return str(value).strip() if value is not None else None

    return [PieceIn(g, first(a, _SPLIT_NAME_FIELDS), first(a, _SPLIT_CODE_FIELDS))
            for g, a in zip(batch.geometries, batch.attributes)]


def _split_print(a: dict) -> None:
    v = a.get("current") or a["verdict"]
    console.print(f"[bold]分割转让申请 {a['id']}[/]：宗地 {a['parcel_code']}（{a['parcel_area_mu']} 亩），"
                  f"申请人 {a['applicant']['name']}（{a['applicant']['credit_code']}），状态 [bold]{a['status_label']}[/]"
                  f"（第 {a['version']} 版）")
    console.print(f"申报价格 {a['declared_price_wan']} 万元；市场价格 {a['market_price_wan'] or '—'} 万元"
                  + ("；[yellow]明显低于市场价格，政府可行使优先购买权（000:1218）[/]"
                     if a["government_priority_purchase"] else ""))
    t = Table(title="分割后各块")
    for col in ("块", "面积(亩)", "占比", "受让人", "分割后宗地代码"):
        t.add_column(col, overflow="fold")
    for p in a["pieces"]:
        who = p["transferee_name"] or p["transferee_credit_code"] or "（申请人保留）"
        t.add_row(str(p["seq"]), f"{p['area_mu']:.4f}", f"{p['share'] * 100:.2f}%", who, p["child_code"] or "—")
    console.print(t)
    title = "按今日情况重新审查" if a.get("current") else "审查结论"
    console.print(f"[bold]{title}[/]：{v['outcome_label']}")
    for r in v.get("blocks") or []:
        console.print(f"  [red]✗[/] {r}")
    for r in v["reasons"]:
        console.print(f"  • {r}")
    if v.get("missing_documents"):
        console.print("[yellow]缺少材料[/]：" + "、".join(v["missing_documents"]))
    console.print("依据：" + "；".join(c["source"] for c in v["citation"]))
    if a["decided_at"]:
        console.print(f"审核：{a['decided_by']} 于 {_local_time(a['decided_at'])}"
                      + (f"，原因：{a['decision_reason']}" if a["decision_reason"] else ""))


@split_app.command("submit")
def split_submit(
    code: str = typer.Argument(..., help="要分割的宗地代码（19位）"),
    pieces: str = typer.Option(..., "--pieces", help="分割后各块图形文件（GeoJSON、GeoPackage、Shapefile 等，每个要素一块；"
                                                     "属性 transferee_name/受让人、transferee_credit_code/统一社会信用代码 "
                                                     "可选，均为空表示申请人保留该块）"),
    applicant: str = typer.Option(..., "--applicant", help="申请人（宗地现登记的权利人）的统一社会信用代码"),
    price: float = typer.Option(..., "--price", help="申报转让价格（万元）"),
    market_price: Optional[float] = typer.Option(None, "--market-price", help="市场价格（评估价，万元）"),
    reason: Optional[str] = typer.Option(None, "--reason", help="申请理由"),
    document: list[str] = typer.Option([], "--document", help="申请材料：材料名称=文件名称|文号|日期"
                                                             "（材料名称见 000:1222-1235 清单；可重复）"),
    layer: Optional[str] = typer.Option(None, "--layer", help="图层名（文件含多个图层时）"),
    crs: Optional[str] = typer.Option(None, "--crs", help="坐标系（如 EPSG:4547），文件未注明时使用"),
    public_facilities: bool = typer.Option(False, "--public-facilities", help="涉及宗地中道路、绿地、公共场所及配套设施"),
    breaks_planning: bool = typer.Option(False, "--breaks-planning", help="分割后不能满足规划、建筑安全使用要求"),
    legal_bar: bool = typer.Option(False, "--legal-bar", help="法律、法规和政策另有规定不得分割"),
    co_owned: bool = typer.Option(False, "--co-owned", help="属共有权利"),
    actor: str = typer.Option("cli", "--actor", help="登记人"),
):
    """登记一份分割转让申请：校验各块图形和分割转让条件（R8），不符合的列出全部原因且不保存；材料不全的受理并列出缺少的材料。"""
    from ..services import split_applications as split

    docs = [_parse_document(raw, i) for i, raw in enumerate(document, start=1)]
    db = _ready_db()
    out = _call(lambda: split.submit(
        db, code, actor, pieces=_split_pieces(pieces, layer, crs), declared_price_wan=price,
        market_price_wan=market_price, reason=reason, documents=docs, applicant=applicant,
        statements=split.Statements(public_facilities, breaks_planning, legal_bar, co_owned)))
    console.print(f"[green]已受理[/]：分割转让申请 {out['id']}。")
    _split_print(out)


@split_app.command("show")
def split_show(app_id: int = typer.Argument(..., help="申请编号"),
               as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """查看一份分割转让申请：各块、审查结论（理由、依据条款）、缺少的材料和审核情况。"""
    from ..services import split_applications as split

    out = _call(lambda: split.get_application(_ready_db(), app_id, SYSTEM))
    if as_json:
        _print_json(out)
        return
    _split_print(out)


@split_app.command("list")
def split_list(code: str = typer.Argument(..., help="宗地代码（19位）")):
    """列出宗地的分割转让申请及其分割来源与去向。"""
    from ..services import split_applications as split

    db = _ready_db()
    try:
        apps = split.list_applications(db, code, SYSTEM)
        tree = split.lineage(db, code, SYSTEM)
    except LandcycleError as exc:
        _fail(exc)
    t = Table(title=f"宗地 {apps['code']} 的分割转让申请（{len(apps['items'])} 份）")
    for col in ("编号", "状态", "申请人", "各块(亩)", "审查结论", "提交时间"):
        t.add_column(col, overflow="fold")
    for a in apps["items"]:
        t.add_row(str(a["id"]), a["status_label"], a["applicant"]["name"],
                  " / ".join(f"{p['area_mu']:.2f}" for p in a["pieces"]), a["verdict"]["outcome_label"],
                  _local_time(a["submitted_at"]))
    console.print(t)
    for label, rows in (("分割自", tree["parents"]), ("分割为", tree["children"])):
        if rows:
            console.print(f"{label}：" + "、".join(f"{r['code']}（{r['area_mu']:.2f} 亩，申请 {r['application_id']}）"
                                                  for r in rows))


@split_app.command("decide")
def split_decide(
    app_id: int = typer.Argument(..., help="申请编号"),
    decision: str = typer.Argument(..., help="approve（批准）、reject（驳回）或 withdraw（撤回）"),
    reason: Optional[str] = typer.Option(None, "--reason", help="原因（驳回、撤回必填；记入一地一档）"),
    document: list[str] = typer.Option([], "--document", help="批准时补充的材料：材料名称=文件名称|文号|日期（可重复）"),
    actor: str = typer.Option("cli", "--actor", help="审核人"),
):
    """审核分割转让申请。批准时重新审查，符合条件且材料齐全才在一个事务中生成分割后的宗地并记录来源关系。"""
    from ..services import split_applications as split

    docs = [_parse_document(raw, i) for i, raw in enumerate(document, start=1)]
    db = _ready_db()
    try:
        version = split.get_application(db, app_id, SYSTEM)["version"]
        out = split.decide(db, app_id, decision, actor, version, reason=reason, documents=docs)
    except LandcycleError as exc:
        _fail(exc)
    console.print(f"[green]{out['status_label']}[/]：分割转让申请 {app_id}。")
    for c in out.get("children", []):
        console.print(f"  新宗地 {c['code']}：{c['area_mu']:.4f} 亩，剩余使用年限 {c['term_years']} 年")
    if out.get("parent"):
        console.print(f"  原宗地 {out['parent']['code']} 现为“{out['parent']['state_label']}”")


# --------------------------------------------------------------------------- plan tasks (issue 8)
plan_app = typer.Typer(help="工作方案任务：加载方案文件、查看任务与完成时限、报送季度进展、记录节点完成、逾期清单。",
                       no_args_is_help=True)
app.add_typer(plan_app, name="plan")


def _plan_day(value: Optional[str], field: str):
    """An --as-of style option: ISO date, default today in 北京时间."""
    from ..services.audit import local_today

    return local_today() if value is None else _day(value, field)


@plan_app.command("load")
def plan_load(file: str = typer.Argument(..., help="方案文件（TOML，格式见 docs/plan-tasks.md）；"
                                         "随程序提供的方案可只写名称：xuchang_2021、yuzhou_2021"),
              actor: str = typer.Option("cli", "--actor", help="操作人")):
    """加载工作方案：先检查整个文件（任务编号、牵头单位、日期、辖区…），无误才一次写入；
    同名同发文单位的方案再次加载即为新版本，已报送的进展和完成记录保留。"""
    from ..services import plan_tasks

    db = _ready_db()
    try:
        with _progress_bars() as progress:
            out = plan_tasks.load_plan(db, file, actor=actor, progress=progress)
    except LandcycleError as exc:
        _fail(exc)
    if out["unchanged"]:
        console.print(f"[yellow]方案未变化[/]：《{out['name']}》仍为第 {out['version']} 版（{out['tasks']} 项任务），未写入。")
        return
    what = "已加载" if out["created"] else "已更新为新版本"
    console.print(f"[green]{what}[/]：《{out['name']}》第 {out['version']} 版（方案编号 {out['plan_id']}），"
                  f"任务 {out['tasks']} 项、完成时限节点 {out['milestones']} 个，"
                  f"其中 {out['jurisdiction_units']} 个责任单位对应辖区。"
                  + (f"新版本不再包含的任务 {out['retired_tasks']} 项已标记停用（报送记录保留）。" if out["retired_tasks"] else ""))


@plan_app.command("list")
def plan_list(as_of: Optional[str] = typer.Option(None, "--as-of", help="按此日判断逾期（YYYY-MM-DD，缺省为今天）"),
              as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """列出已加载的工作方案及其任务数、已完成和逾期任务数。"""
    from ..services import plan_tasks

    day = _plan_day(as_of, "--as-of")
    db = _ready_db()
    plans = _call(plan_tasks.list_plans, db, SYSTEM, as_of=day)
    if as_json:
        _print_json(plans)
        return
    t = Table(title=f"工作方案（截至 {day}）")
    for c in ("编号", "方案", "发文单位", "版本", "任务", "已完成", "逾期"):
        t.add_column(c)
    for p in plans:
        t.add_row(str(p["id"]), p["name"], p["jurisdiction"]["name"], str(p["version"]), str(p["tasks"]),
                  str(p["done_tasks"]), str(p["overdue_tasks"]))
    console.print(t)


@plan_app.command("tasks")
def plan_task_list(
    plan_id: int = typer.Argument(..., help="方案编号（landcycle plan list）"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="按此日判断完成与逾期（缺省为今天）"),
    overdue: bool = typer.Option(False, "--overdue", help="只看有逾期节点的任务"),
    unit: Optional[str] = typer.Option(None, "--unit", help="责任单位名称包含此文字"),
    jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", help="责任单位包含此辖区（代码、名称或别名）"),
    missing_quarter: Optional[str] = typer.Option(None, "--missing-quarter", help="该季度（如 2021Q3）尚未报送进展的任务"),
    as_json: bool = typer.Option(False, "--json", help="以JSON输出"),
):
    """列出方案任务：牵头单位、完成时限节点（是否完成、是否逾期及天数）、最近一次进展。"""
    from ..services import plan_tasks

    day = _plan_day(as_of, "--as-of")
    db = _ready_db()
    out = _call(plan_tasks.plan_tasks, db, plan_id, SYSTEM, as_of=day, overdue=overdue, unit=unit,
                jurisdiction=jurisdiction, missing_quarter=missing_quarter)
    if as_json:
        _print_json(out)
        return
    t = Table(title=f"《{out['plan']['name']}》任务（截至 {day}，{out['count']} 项）")
    for c in ("序号", "任务", "牵头单位", "完成时限节点", "状态", "最近进展"):
        t.add_column(c)
    for task in out["tasks"]:
        nodes = "\n".join(f"{m['due']} {'✔' if m['done'] else ('逾期' + str(m['days_overdue']) + '天' if m['overdue'] else '')}"
                          f" {m['what'] if len(task['milestones']) > 1 else ''}".rstrip()
                          for m in task["milestones"])
        last = task.get("latest_report")
        t.add_row(str(task["number"]), task["title"], task["lead"], nodes, task["status"],
                  f"{last['quarter']} {last['unit']}：{last['status']}" if last else "—")
    console.print(t)


@plan_app.command("report")
def plan_report(
    task_id: int = typer.Argument(..., help="任务编号（plan tasks --json 中的 id）"),
    quarter: str = typer.Option(..., "--quarter", help="季度，如 2021Q3"),
    text: str = typer.Option(..., "--text", help="本季度工作进展"),
    unit: Optional[str] = typer.Option(None, "--unit", help="报送单位（本任务的责任单位之一，缺省为牵头单位）"),
    status: Optional[str] = typer.Option(None, "--status", help="未开始、推进中或已完成"),
    percent: Optional[int] = typer.Option(None, "--percent", help="完成百分比 0–100"),
    attachment: list[str] = typer.Option([], "--attachment", help="附件名称（可重复；只登记名称）"),
    actor: str = typer.Option("cli", "--actor", help="报送人"),
):
    """报送一项任务的季度进展（只能追加，不能修改）。"""
    from ..domain.access import system_principal
    from ..services import plan_tasks

    db = _ready_db()
    r = _call(lambda: plan_tasks.submit_report(db, task_id, system_principal(actor), quarter=quarter, text=text,
                                               unit=unit, status=status, percent=percent, attachments=attachment))
    console.print(f"[green]已报送[/]：任务 {task_id} {r['quarter']} 进展（{r['unit']}，{r['status']}"
                  + (f"，{r['percent']}%" if r["percent"] is not None else "") + f"），报送记录 {r['id']}。")


@plan_app.command("complete")
def plan_complete(
    milestone_id: int = typer.Argument(..., help="完成时限节点编号（plan tasks --json 中 milestones 的 id）"),
    on: str = typer.Option(..., "--date", help="完成日期 YYYY-MM-DD"),
    evidence: str = typer.Option(..., "--evidence", help="完成依据（文件名称、文号或成果）"),
    actor: str = typer.Option("cli", "--actor", help="记录人"),
):
    """记录一个完成时限节点已完成（只能记录一次，不能修改）。"""
    from ..domain.access import system_principal
    from ..services import plan_tasks

    day = _day(on, "--date")
    db = _ready_db()
    r = _call(lambda: plan_tasks.complete_milestone(db, milestone_id, system_principal(actor), completed_on=day,
                                                    evidence=evidence))
    late = f"，比到期日 {r['due']} 晚 {r['late_days']} 天" if r["late_days"] else ""
    console.print(f"[green]已记录完成[/]：任务 {r['number']} 节点（到期 {r['due']}）于 {r['completed_on']} 完成{late}。")


@plan_app.command("overdue")
def plan_overdue(as_of: Optional[str] = typer.Option(None, "--as-of", help="按此日判断（缺省为今天）"),
                 as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """列出所有方案中逾期未完成的任务节点（逾期天数多的在前）。"""
    from ..services import plan_tasks

    day = _plan_day(as_of, "--as-of")
    db = _ready_db()
    rows = _call(plan_tasks.overdue_tasks, db, day)
    if as_json:
        _print_json(rows)
        return
    t = Table(title=f"逾期任务节点（截至 {day}，{len(rows)} 个）")
    for c in ("方案", "序号", "任务", "牵头单位", "到期日", "应完成", "逾期天数"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["plan"], str(r["number"]), r["title"], r["lead"], r["due"], r["what"], str(r["days_overdue"]))
    console.print(t)


quota_app = typer.Typer(help="增存挂钩：按盘活存量成效分配年度新增建设用地指标（公式见 docs/kaoping-and-quota.md）。",
                        no_args_is_help=True)
app.add_typer(quota_app, name="quota")
kaoping_app = typer.Typer(help="考评：年度考评节奏、分类排名（县（市、区）、产业集聚区、市直部门）和约谈名单。",
                          no_args_is_help=True)
app.add_typer(kaoping_app, name="kaoping")


def _quota_table(out: dict) -> None:
    t = Table(title=f"{out['year']} 年度增存挂钩新增建设用地指标分配（总量 {out['total_mu']:g} 亩，数据截至 {out['as_of']}）")
    unit = out["parameters"].get("disposal_unit", "亩")
    for c in ("县（市、区）", f"认定低效闲置（{unit}）", "盘活面积（亩）", "消化处置率", "权重", "应分（亩）", "分得（亩）"):
        t.add_column(c, justify="left" if c.startswith("县") else "right")
    for c in out["counties"]:
        rate = "无数据" if c["rate"] is None else f"{c['rate'] * 100:.1f}%"
        bound = {"floor": "（下限）", "cap": "（上限）"}.get(c["bound"] or "", "")
        t.add_row(c["name"], f"{c['identified_mu']:.2f}", f"{c['revived_mu']:.2f}", rate, f"{c['weight']:.4f}",
                  f"{c['exact_mu']:.2f}{bound}", f"{c['allocated_mu']:g}" if c["participates"] else "0（不参与）")
    t.add_row("合计", "", "", "", "", "", f"{sum(c['allocated_mu'] for c in out['counties']):g}")
    console.print(t)
    for line in out["explanation"]:
        console.print("  " + line)


@quota_app.command("allocate")
def quota_allocate(year: int = typer.Option(..., "--year", help="指标年度"),
                   total: float = typer.Option(..., "--total", help="年度新增建设用地指标总量（亩）"),
                   dry_run: bool = typer.Option(False, "--dry-run", help="只试算，不保存"),
                   reason: Optional[str] = typer.Option(None, "--reason", help="原因（记入分配记录）"),
                   as_of: Optional[str] = typer.Option(None, "--as-of",
                                                       help="统计日期 YYYY-MM-DD：按处置台账该日的消化处置进度（默认今天）"),
                   actor: str = typer.Option("cli", "--actor", help="操作人"),
                   as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """按规则库 quota 节的公式和处置台账截至统计日的进度，把年度新增建设用地指标分配到各县（市、区），
    并保存本次分配（--dry-run 只试算）。"""
    from ..domain.access import system_principal
    from ..services import quota

    day = _day(as_of, "--as-of") if as_of else None
    db = _ready_db()
    try:
        if dry_run:
            out = quota.compute(db, year, total, viewer=system_principal(actor), as_of=day)
        else:
            out = quota.allocate(db, year, total, actor=system_principal(actor), reason=reason, as_of=day)
    except LandcycleError as exc:
        _fail(exc)
    if as_json:
        _print_json(out)
        return
    _quota_table(out)
    if not dry_run:
        console.print(f"[green]已保存[/]：第 {out['id']} 次分配。")


@quota_app.command("show")
def quota_show(year: int = typer.Option(..., "--year", help="指标年度"),
               as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """查看年度最近一次保存的指标分配及历次分配。"""
    from ..services import quota

    db = _ready_db()
    out = _call(quota.year_view, db, year, viewer=SYSTEM)
    if as_json:
        _print_json(out)
        return
    _quota_table(out)
    console.print(f"历次分配 {len(out['runs'])} 次：" + "；".join(f"第{r['id']}次 {r['at'][:16]} {r['actor']}"
                                                          for r in out["runs"]))


@kaoping_app.command("ranking")
def kaoping_ranking(year: int = typer.Option(..., "--year", help="考评年度"),
                    period: str = typer.Option("annual", "--period", help="考评期次：annual、Q1–Q4、H1、H2"),
                    category: Optional[str] = typer.Option(None, "--category", help="只看一类：county、zone、department"),
                    as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """分类排名（并列名次按 1、2、2、4）和约谈名单；未经市领导小组办公室评分的事项按自评计并标注。"""
    from ..services import kaoping

    db = _ready_db()
    out = _call(kaoping.ranking, db, year, viewer=SYSTEM, category=category, period=period)
    if as_json:
        _print_json(out)
        return
    status = {"published": "已发布", "draft": "草稿（未发布）", "none": "尚无提交"}[out["status"]]
    areas = [(x["code"], x["label"]) for x in out["scheme"]["areas"]]
    for cat, label in out["categories"].items():
        t = Table(title=f"{out['title']} — {label}（{status}）")
        for c in ("名次", "单位", *[lab for _, lab in areas], "总分", "确认", "约谈"):
            t.add_column(c)
        for r in out["rankings"][cat]:
            t.add_row(str(r["rank"]), r["name"], *[f"{r['areas'][code]:g}" for code, _ in areas], f"{r['total']:g}",
                      "是" if r["confirmed"] else f"否（{r['unconfirmed_items']} 项按自评）",
                      "；".join(r["interview_reasons"]) or "—")
        console.print(t)


@kaoping_app.command("rhythm")
def kaoping_rhythm(year: int = typer.Option(..., "--year", help="考评年度")):
    """年度考评节奏：制定细则、季度通报、半年约谈、年度自评和年度考评的时间和依据条款。"""
    from ..domain.assessment import rhythm

    t = Table(title=f"{year} 年度“百园增效”考评节奏")
    for c in ("日期", "事项", "依据"):
        t.add_column(c)
    for e in rhythm(year):
        t.add_row(e["date"], e["label"], e["clause"])
    console.print(t)


@app.command("bulletin")
def bulletin_command(year: int = typer.Argument(..., help="年度"),
                     quarter: int = typer.Argument(..., help="季度（1–4）"),
                     fmt: str = typer.Option("docx", "--format", help="docx（Word）或 pdf"),
                     out: Optional[str] = typer.Option(None, "--out", help="输出文件（缺省：当前目录下的“…季度百园增效工作通报”）"),
                     as_of: Optional[str] = typer.Option(None, "--as-of", help="数据截至日期 YYYY-MM-DD（缺省：季度末或今天）")):
    """生成季度工作通报（考评排名、消化处置进展、逾期任务、增存挂钩指标分配；表格和图表），见 docs/bulletin.md。"""
    from pathlib import Path

    from ..domain.errors import Problem
    from ..services import bulletin

    if fmt not in ("docx", "pdf"):
        _fail(ValidationFailed(Problem("季度通报", "--format", f"应为 docx 或 pdf，实际为 {fmt!r}")))
    day = _day(as_of, "--as-of") if as_of else None
    db = _ready_db()
    with console.status("正在汇总考评排名、消化处置进展、逾期任务和指标分配…") as status:
        data = _call(bulletin.gather, db, year, quarter, viewer=SYSTEM, as_of=day)
        status.update("正在生成 Word 文档和图表…" if fmt == "docx" else "正在生成文档并由 LibreOffice 转换为 PDF…")
        content = _call(bulletin.render_docx if fmt == "docx" else bulletin.render_pdf, data)
    target = Path(out) if out else Path(bulletin.file_name(data, fmt))
    target.write_bytes(content)
    console.print(f"[green]已生成[/]《{data.title}》（数据截至 {data.as_of}）：{target}（{len(content) // 1024} KiB）")


# =========================================================================== 挂牌督办 / 再开发监管协议 (issue 8 item 2)
oversight_app = typer.Typer(help="挂牌督办：挂牌、报送进展、销号、各产业集聚区“2宗以上”对照、导出台账；"
                                 "再开发监管协议：登记、到期核查、追缴（docs/oversight.md）。", no_args_is_help=True)
app.add_typer(oversight_app, name="oversight")
agreement_app = typer.Typer(help="低效用地再开发监管协议：登记（目标、优惠、退出条款）、到期核查、追缴清单与结果。",
                            no_args_is_help=True)
oversight_app.add_typer(agreement_app, name="agreement")


def _opt_day(value: Optional[str], field: str):
    return None if value is None else _day(value, field)


@oversight_app.command("list")
def oversight_list(zone: Optional[str] = typer.Option(None, "--zone", help="产业集聚区（代码、名称或别名）"),
                   status: Optional[str] = typer.Option(None, "--status", help="open（督办中）、lifted（已销号）或 all"),
                   level: Optional[str] = typer.Option(None, "--level", help="city（市级）或 county（县级）"),
                   as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """列出挂牌督办事项（含最新进展）。"""
    from ..services import oversight

    db = _ready_db()
    out = _call(oversight.list_cases, db, SYSTEM, zone=zone, status=status, level=level)
    if as_json:
        _print_json(out)
        return
    t = Table(title=f"挂牌督办事项（截至 {out['as_of']}，{out['count']} 项）")
    for c in ("编号", "宗地代码", "产业集聚区", "级别", "挂牌时状态", "挂牌日期", "完成时限", "牵头单位", "状态", "最新进展"):
        t.add_column(c)
    for c in out["cases"]:
        last = c["progress"][-1] if c["progress"] else None
        state = c["status_label"] + (f"（逾期{c['days_overdue']}天）" if c["overdue"] else "")
        t.add_row(str(c["id"]), c["parcel_code"], c["zone"] or "—", c["level_label"], c["state_at_listing_label"],
                  c["listed_on"], c["deadline"], c["lead"], state, f"{last['reported_on']} {last['text']}" if last else "—")
    console.print(t)


@oversight_app.command("open")
def oversight_open(code: str = typer.Argument(..., help="宗地代码"),
                   level: str = typer.Option(..., "--level", help="city（市级）或 county（县级）"),
                   unit: str = typer.Option(..., "--by", help="挂牌督办单位，如 许昌市百园增效行动领导小组办公室"),
                   reason: str = typer.Option(..., "--reason", help="督办事由"),
                   requirement: str = typer.Option(..., "--requirement", help="督办要求"),
                   deadline: str = typer.Option(..., "--deadline", help="完成时限 YYYY-MM-DD"),
                   units: list[str] = typer.Option(..., "--unit", help="责任单位（可重复，第一个为牵头单位）"),
                   listed_on: Optional[str] = typer.Option(None, "--date", help="挂牌日期（缺省今天）"),
                   document_no: Optional[str] = typer.Option(None, "--document", help="督办文号"),
                   actor: str = typer.Option("cli", "--actor", help="操作人")):
    """挂牌督办一宗地（一宗地同时只能有一个督办中的事项）。"""
    from ..domain.access import system_principal
    from ..services import oversight

    db = _ready_db()
    c = _call(oversight.open_case, db, code, system_principal(actor), level=level, listed_by_unit=unit, reason=reason,
              requirement=requirement, deadline=_day(deadline, "--deadline"), units=units,
              listed_on=_opt_day(listed_on, "--date"), document_no=document_no)
    counted = "，计入“每个产业集聚区2宗以上”要求" if c["counts_toward_requirement"] else ""
    console.print(f"[green]已挂牌督办[/]：事项 {c['id']}，宗地 {c['parcel_code']}（{c['state_at_listing_label']}{counted}），"
                  f"{c['level_label']}，完成时限 {c['deadline']}，牵头单位 {c['lead']}。")


@oversight_app.command("report")
def oversight_report(case_id: int = typer.Argument(..., help="事项编号"),
                     text: str = typer.Option(..., "--text", help="进展情况"),
                     on: Optional[str] = typer.Option(None, "--date", help="进展日期（缺省今天）"),
                     actor: str = typer.Option("cli", "--actor", help="报送人")):
    """报送一条督办进展（只能追加）。"""
    from ..domain.access import system_principal
    from ..services import oversight

    db = _ready_db()
    r = _call(oversight.add_progress, db, case_id, system_principal(actor), text=text,
              reported_on=_opt_day(on, "--date"))
    console.print(f"[green]已报送[/]：事项 {case_id} 的进展（{r['reported_on']}，记录 {r['id']}）。")


@oversight_app.command("lift")
def oversight_lift(case_id: int = typer.Argument(..., help="事项编号"),
                   result: str = typer.Option(..., "--result", help="销号结果（处置成效）"),
                   version: int = typer.Option(..., "--version", help="事项当前版本号（oversight list --json）"),
                   on: Optional[str] = typer.Option(None, "--date", help="销号日期（缺省今天）"),
                   actor: str = typer.Option("cli", "--actor", help="操作人")):
    """销号：写明结果和日期。"""
    from ..domain.access import system_principal
    from ..services import oversight

    db = _ready_db()
    c = _call(oversight.lift_case, db, case_id, system_principal(actor), version, result=result,
              lifted_on=_opt_day(on, "--date"))
    console.print(f"[green]已销号[/]：事项 {c['id']}（宗地 {c['parcel_code']}）于 {c['lifted_on']} 销号：{c['lift_result']}")


@oversight_app.command("zones")
def oversight_zones(as_of: Optional[str] = typer.Option(None, "--as-of", help="统计日期（缺省今天）"),
                    as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """各产业集聚区挂牌督办宗数与“2021年年底以前每个产业集聚区挂牌督办2宗以上”（000:797）对照。"""
    from ..services import oversight

    db = _ready_db()
    out = _call(oversight.zone_counts, db, SYSTEM, as_of=_opt_day(as_of, "--as-of"))
    if as_json:
        _print_json(out)
        return
    t = Table(title=f"挂牌督办对照（截至 {out['as_of']}；要求 {out['due']} 前每区批而未供/闲置 {out['minimum']} 宗以上）")
    for c in ("产业集聚区", "督办中", "累计挂牌", "批而未供/闲置（累计）", "期限内计入", "差额", "结论"):
        t.add_column(c)
    for z in out["zones"]:
        verdict = "[green]达标[/]" if z["met"] else ("[red]未达标（已过期限）[/]" if z["overdue"] else "[yellow]未达标[/]")
        t.add_row(z["zone"], str(z["open"]), str(z["listed"]), str(z["counted_listed"]), str(z["counted_by_due"]),
                  str(z["shortfall"]), verdict)
    console.print(t)


@oversight_app.command("export")
def oversight_export(path: str = typer.Argument(..., help="输出文件（.xlsx）"),
                     zone: Optional[str] = typer.Option(None, "--zone", help="只导出一个产业集聚区"),
                     as_of: Optional[str] = typer.Option(None, "--as-of", help="统计日期（缺省今天）")):
    """导出挂牌督办台账（汇总表 + 各产业集聚区分表，可打印归档）。"""
    from pathlib import Path

    from ..services import oversight

    db = _ready_db()
    data = _call(oversight.export_cases_xlsx, db, SYSTEM, as_of=_opt_day(as_of, "--as-of"), zone=zone)
    Path(path).write_bytes(data)
    console.print(f"[green]已导出[/]：{path}")


def _reward_option(text: str, i: int) -> dict:
    from ..domain.errors import Problem

    parts = text.split(":")
    if len(parts) not in (3, 4):
        _fail(ValidationFailed(Problem("再开发监管协议", f"--reward[{i}]",
                                       "格式应为 类别:金额(万元):给予日期[:文号]，如 财政奖补:120:2021-06-01")))
    try:
        amount = float(parts[1])
    except ValueError:
        amount = parts[1]
    return {"kind": parts[0], "amount_wan": amount, "granted_on": parts[2],
            "document_no": parts[3] if len(parts) == 4 else None}


@agreement_app.command("add")
def agreement_add(code: str = typer.Argument(..., help="宗地代码（低效用地）"),
                  enterprise: str = typer.Option(..., "--enterprise", help="企业统一社会信用代码"),
                  number: str = typer.Option(..., "--number", help="协议编号"),
                  signed_on: str = typer.Option(..., "--signed", help="签订日期"),
                  check_date: str = typer.Option(..., "--check-date", help="约定核查日期"),
                  exit_terms: str = typer.Option(..., "--exit-terms", help="退出条款"),
                  investment: Optional[float] = typer.Option(None, "--investment-intensity", help="投资强度目标（万元/亩）"),
                  tax: Optional[float] = typer.Option(None, "--tax-per-mu", help="亩均税收目标（万元/亩）"),
                  plot_ratio: Optional[float] = typer.Option(None, "--plot-ratio", help="容积率目标"),
                  completion: Optional[str] = typer.Option(None, "--completion-by", help="约定竣工日期"),
                  tax_year: Optional[int] = typer.Option(None, "--tax-year", help="亩均税收核查年度（缺省：核查日期上一年）"),
                  reward: list[str] = typer.Option([], "--reward", help="已给予的优惠 类别:金额:日期[:文号]（可重复）"),
                  actor: str = typer.Option("cli", "--actor", help="操作人")):
    """登记低效用地再开发监管协议（000:1114）。"""
    from ..domain.access import system_principal
    from ..services import oversight

    targets = {k: v for k, v in (("investment_intensity", investment), ("tax_per_mu", tax),
                                 ("plot_ratio", plot_ratio)) if v is not None}
    db = _ready_db()
    a = _call(oversight.add_agreement, db, code, system_principal(actor), agreement_no=number, enterprise=enterprise,
              signed_on=_day(signed_on, "--signed"), check_date=_day(check_date, "--check-date"), targets=targets,
              exit_terms=exit_terms, target_completion_date=_opt_day(completion, "--completion-by"), tax_year=tax_year,
              rewards=[_reward_option(r, i) for i, r in enumerate(reward, 1)])
    console.print(f"[green]已登记[/]：协议 {a['agreement_no']}（编号 {a['id']}，版本 {a['version']}），宗地 {a['parcel_code']}，"
                  f"{a['enterprise']['name']}，{a['check_date']} 核查；优惠 {len(a['rewards'])} 项共 {a['rewards_total_wan']:g} 万元。")


@agreement_app.command("assess")
def agreement_assess(agreement_id: int = typer.Argument(..., help="协议编号（id）"),
                     version: int = typer.Option(..., "--version", help="协议当前版本号"),
                     investment_wan: Optional[float] = typer.Option(None, "--investment", help="固定资产投资（万元；开发建设情况未登记时）"),
                     plot_ratio: Optional[float] = typer.Option(None, "--plot-ratio", help="实测容积率（开发建设情况未登记时）"),
                     as_json: bool = typer.Option(False, "--json", help="以JSON输出"),
                     actor: str = typer.Option("cli", "--actor", help="操作人")):
    """到期核查：逐项对照约定目标；未达标则生成追缴清单。"""
    from ..domain.access import system_principal
    from ..services import oversight

    db = _ready_db()
    a = _call(oversight.assess_agreement, db, agreement_id, system_principal(actor), version,
              investment_wan=investment_wan, plot_ratio=plot_ratio)
    if as_json:
        _print_json(a)
        return
    for f in a["assessment"]["findings"]:
        console.print(("[green]✔[/] " if f["met"] else "[red]✘[/] ") + f["reason"])
    console.print(f"结论：{a['status_label']}" + (f"；追缴 {len(a['clawbacks'])} 项共 {a['clawback_pending_wan']:g} 万元"
                                                if a["clawbacks"] else ""))


@agreement_app.command("clawback")
def agreement_clawback(clawback_id: Optional[int] = typer.Argument(None, help="追缴事项编号（不填则列出追缴清单）"),
                       status: Optional[str] = typer.Option(None, "--status", help="recovered（已追缴）或 waived（免予追缴）"),
                       version: Optional[int] = typer.Option(None, "--version", help="追缴事项当前版本号"),
                       recovered: Optional[float] = typer.Option(None, "--amount", help="实际追缴金额（万元，缺省为应追缴金额）"),
                       note: Optional[str] = typer.Option(None, "--note", help="说明（免予追缴须写明理由）"),
                       on: Optional[str] = typer.Option(None, "--date", help="日期（缺省今天）"),
                       as_json: bool = typer.Option(False, "--json", help="以JSON输出"),
                       actor: str = typer.Option("cli", "--actor", help="操作人")):
    """列出追缴清单，或登记一项追缴的结果。"""
    from ..domain.access import system_principal
    from ..services import oversight

    db = _ready_db()
    if clawback_id is None:
        out = _call(oversight.clawbacks, db, SYSTEM)
        if as_json:
            _print_json(out)
            return
        t = Table(title=f"追缴清单（{out['count']} 项，待追缴 {out['pending_wan']:g} 万元）")
        for c in ("编号", "协议", "宗地", "企业", "优惠", "应追缴(万元)", "状态", "版本"):
            t.add_column(c)
        for c in out["clawbacks"]:
            t.add_row(str(c["id"]), c["agreement_no"], c["parcel_code"], c["enterprise"], c["kind_label"],
                      f"{c['amount_wan']:g}", c["status_label"], str(c["version"]))
        console.print(t)
        return
    if status is None or version is None:
        from ..domain.errors import Problem

        _fail(ValidationFailed(Problem(f"追缴事项 {clawback_id}", "--status/--version", "登记结果须同时给出 --status 和 --version")))
    c = _call(oversight.settle_clawback, db, clawback_id, system_principal(actor), version, status=status,
              settled_on=_opt_day(on, "--date"), recovered_wan=recovered, note=note)
    console.print(f"[green]已登记[/]：追缴事项 {c['id']}（{c['kind_label']}）{c['status_label']}，{c['settled_on']}。")


# --------------------------------------------------------------------------- 年度可供土地清单 (issue 8, item 4)
supply_list_app = typer.Typer(help="年度可供土地清单：编制、增删条目、提交审核、公布（需批准文件）、修订和历史版本。",
                              no_args_is_help=True)
app.add_typer(supply_list_app, name="supply-list")


def _supply_list_print(view: dict, as_json: bool) -> None:
    if as_json:
        _print_json(view)
        return
    doc = view["document"]
    console.print(f"[bold]{view['title']}[/]（编号 {view['id']}，第 {view['edition']} 版，{view['status_label']}，"
                  f"版本号 {view['version']}）" + (f" 批准文件：{doc['title']}（{doc['number']}，{doc['date']}）" if doc else ""))
    t = Table(title=f"{view['entry_count']} 宗，{view['area_mu']:g} 亩")
    for c in ("宗地代码", "坐落", "面积(亩)", "类别", "供地方式", "成本/价格(万元)", "供地周期"):
        t.add_column(c)
    for e in view.get("entries", []):
        t.add_row(e["code"], e["location"] or "", f"{e['area_mu']:g}", e["category_label"], e["supply_method_label"] or "",
                  "" if e["expected_price_wan"] is None else f"{e['expected_price_wan']:g}", e["supply_cycle"])
    console.print(t)


@supply_list_app.command("compile")
def supply_list_compile(year: int = typer.Option(..., "--year", help="清单年度"),
                        jurisdiction: str = typer.Option("411000", "--jurisdiction", help="市或县(市、区)、管委会（代码或名称）"),
                        title: Optional[str] = typer.Option(None, "--title", help="标题"),
                        actor: str = typer.Option("cli", "--actor", help="编制人"),
                        as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """按辖区内储备、批而未供、可供、闲置、低效和收回宗地编制清单草稿（条目带规则库缺省的成本、条件、程序和周期）。"""
    from ..services import supply_lists

    _supply_list_print(_call(supply_lists.compile_list, _ready_db(), year, jurisdiction, actor, title=title), as_json)


@supply_list_app.command("show")
def supply_list_show(list_id: int = typer.Argument(..., help="清单版本编号"),
                     xlsx: Optional[str] = typer.Option(None, "--xlsx", help="另存为 Excel 文件（归档格式）"),
                     as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """查看一个清单版本及其条目（--xlsx 导出 Excel）。"""
    from pathlib import Path

    from ..services import supply_lists

    db = _ready_db()
    _supply_list_print(_call(supply_lists.get_list, db, list_id, "cli"), as_json)
    if xlsx:
        _name, data = _call(supply_lists.export_xlsx, db, list_id, "cli")
        Path(xlsx).write_bytes(data)
        console.print(f"[green]已导出[/] {xlsx}")


@supply_list_app.command("add")
def supply_list_add(list_id: int = typer.Argument(..., help="清单版本编号"),
                    code: str = typer.Argument(..., help="宗地代码"),
                    version: int = typer.Option(..., "--version", help="清单版本的版本号"),
                    price: Optional[float] = typer.Option(None, "--price", help="成本/价格（万元）"),
                    cycle: Optional[str] = typer.Option(None, "--cycle", help="供地周期"),
                    actor: str = typer.Option("cli", "--actor", help="编制人")):
    """草稿增加一宗地（缺省供地信息按其类别取规则库值）。"""
    from ..services import supply_lists

    changes = {k: v for k, v in {"expected_price_wan": price, "supply_cycle": cycle}.items() if v is not None}
    view = _call(supply_lists.add_entry, _ready_db(), list_id, code, actor, version, changes)
    console.print(f"[green]已增加[/] {code}：{view['entry_count']} 宗，版本号 {view['version']}")


@supply_list_app.command("remove")
def supply_list_remove(list_id: int = typer.Argument(..., help="清单版本编号"),
                       code: str = typer.Argument(..., help="宗地代码"),
                       version: int = typer.Option(..., "--version", help="清单版本的版本号"),
                       actor: str = typer.Option("cli", "--actor", help="编制人")):
    """草稿移除一宗地。"""
    from ..services import supply_lists

    view = _call(supply_lists.remove_entry, _ready_db(), list_id, code, actor, version)
    console.print(f"[green]已移除[/] {code}：{view['entry_count']} 宗，版本号 {view['version']}")


@supply_list_app.command("submit")
def supply_list_submit(list_id: int = typer.Argument(..., help="清单版本编号"),
                       version: int = typer.Option(..., "--version", help="清单版本的版本号"),
                       actor: str = typer.Option("cli", "--actor", help="提交人")):
    """草稿提交审核。"""
    from ..services import supply_lists

    view = _call(supply_lists.submit, _ready_db(), list_id, actor, version)
    console.print(f"[green]已提交审核[/]（版本号 {view['version']}）")


@supply_list_app.command("publish")
def supply_list_publish(list_id: int = typer.Argument(..., help="清单版本编号"),
                        version: int = typer.Option(..., "--version", help="清单版本的版本号"),
                        document: str = typer.Option(..., "--document", help="批准文件名称"),
                        number: str = typer.Option(..., "--number", help="批准文号"),
                        doc_date: str = typer.Option(..., "--date", help="批准日期 YYYY-MM-DD"),
                        actor: str = typer.Option("cli", "--actor", help="审核人")):
    """审核通过并公布：本版宗地成为本辖区公开的可供土地（云上看地、地图），替代此前版本。"""
    from ..services import supply_lists

    view = _call(supply_lists.publish, _ready_db(), list_id, actor, version,
                 {"title": document, "number": number, "date": doc_date})
    console.print(f"[green]已公布[/] {view['title']} 第 {view['edition']} 版：{view['entry_count']} 宗，{view['area_mu']:g} 亩")


@supply_list_app.command("revise")
def supply_list_revise(list_id: int = typer.Argument(..., help="已公布的清单版本编号"),
                       actor: str = typer.Option("cli", "--actor", help="编制人")):
    """由已公布版本复制出新版本草稿（已公布的版本不可修改）。"""
    from ..services import supply_lists

    view = _call(supply_lists.revise, _ready_db(), list_id, actor)
    console.print(f"[green]已生成[/]第 {view['edition']} 版草稿（编号 {view['id']}，版本号 {view['version']}）")


@supply_list_app.command("history")
def supply_list_history(year: Optional[int] = typer.Option(None, "--year", help="年度"),
                        jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", help="辖区"),
                        as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """各清单版本（含已被替代的版本）。"""
    from ..services import supply_lists

    out = _call(supply_lists.history, _ready_db(), "cli", year=year, jurisdiction=jurisdiction)
    if as_json:
        _print_json(out)
        return
    t = Table(title="年度可供土地清单版本")
    for c in ("编号", "年度", "辖区", "版次", "状态", "宗数", "面积(亩)", "公布时间", "批准文号"):
        t.add_column(c)
    for x in out["items"]:
        t.add_row(str(x["id"]), str(x["year"]), x["jurisdiction_name"], str(x["edition"]), x["status_label"],
                  str(x["entry_count"]), f"{x['area_mu']:g}", x["published_at"] or "—",
                  (x["document"] or {}).get("number") or "—")
    console.print(t)


# =========================================================================== 处置台账 (issue 8 items 1, 3)
disposal_app = typer.Typer(help="批而未供、闲置和低效用地处置台账（一宗一策）与消化处置率")
app.add_typer(disposal_app, name="disposal")


def _disposal_entry_line(e: dict) -> str:
    return (f"台账 {e['id']}（版本号 {e['version']}）：{e['parcel']} {e['category_label']} {e['status_label']}"
            + (f"，处置结果 {e['outcome_label']}（{e['closed_on']}）" if e["outcome"] else ""))


@disposal_app.command("open-from")
def disposal_open_from(run_id: Optional[int] = typer.Option(None, "--run", help="评价批次编号：按其闲置、低效认定建立"),
                       states: bool = typer.Option(False, "--states", help="按宗地现状（批而未供、闲置、低效）建立"),
                       opened_on: Optional[str] = typer.Option(None, "--opened-on", help="立账日期（缺省为今天）"),
                       actor: str = typer.Option("cli", "--actor", help="操作人")):
    """按评价结果和/或宗地现状批量建立台账（一次事务；已有未办结台账的不重复建立，可重复执行）。"""
    from ..services import disposal

    out = _call(disposal.open_from_evaluation, _ready_db(), actor=actor, run_id=run_id, states=states,
                opened_on=opened_on)
    console.print(f"[green]新建台账 {out['created']} 条[/]（候选 {out['candidates']} 条，已有未办结 {out['already_open']} 条，"
                  f"已办结不再重复 {out['already_closed']} 条）")
    for cat, n in out["by_category"].items():
        console.print(f"  {disposal.LedgerCategory(cat).label}：{n}")


@disposal_app.command("add")
def disposal_add(parcel: str = typer.Argument(..., help="宗地代码"),
                 category: str = typer.Argument(..., help="类别：批而未供、闲置、低效·产业转型类… 或其英文值"),
                 reason: str = typer.Option(..., "--reason", help="立账理由（必填）"),
                 opened_on: Optional[str] = typer.Option(None, "--opened-on", help="立账日期（缺省为今天）"),
                 cause: Optional[str] = typer.Option(None, "--cause", help="形成原因"),
                 measure: Optional[str] = typer.Option(None, "--measure", help="处置措施：自主开发、政府收储、国有投资公司参与、府院联动司法处置"),
                 plan: Optional[str] = typer.Option(None, "--plan", help="一宗一策处置方案"),
                 due: Optional[str] = typer.Option(None, "--due", help="完成时限 YYYY-MM-DD"),
                 units: Optional[str] = typer.Option(None, "--units", help="责任单位，顿号分隔，第一个为牵头单位"),
                 actor: str = typer.Option("cli", "--actor", help="操作人")):
    """人工建立一条台账。"""
    from ..services import disposal

    e = _call(disposal.open_entry, _ready_db(), parcel, category, actor=actor, reason=reason, opened_on=opened_on,
              cause=cause, measure=measure, plan=plan, due_date=due, units=units)
    console.print(f"[green]已建立[/] {_disposal_entry_line(e)}")


@disposal_app.command("list")
def disposal_list(zone: Optional[str] = typer.Option(None, "--zone", help="产业集聚区"),
                  county: Optional[str] = typer.Option(None, "--county", help="县(市、区)或管委会"),
                  category: Optional[str] = typer.Option(None, "--category", help="类别"),
                  status: Optional[str] = typer.Option(None, "--status", help="open 处置中 / closed 已办结"),
                  limit: int = typer.Option(100, "--limit", min=1, max=100000, help="最多显示条数"),
                  as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """列出台账。"""
    from ..services import disposal

    items, total = _call(disposal.list_entries, _ready_db(), viewer="cli", zone=zone, county=county,
                         category=category, status=status, limit=limit)
    if as_json:
        _print_json({"items": items, "total": total})
        return
    t = Table(title=f"处置台账（共 {total} 条）")
    for c in ("编号", "宗地", "类别", "面积(亩)", "处置措施", "完成时限", "牵头单位", "立账", "状态", "处置结果"):
        t.add_column(c)
    for e in items:
        t.add_row(str(e["id"]), e["parcel"], e["category_label"], f"{e['area_mu']:.2f}", e["measure_label"] or "待研判",
                  e["due_date"] or "—", e["lead_unit"] or "—", e["opened_on"], e["status_label"], e["outcome_label"] or "—")
    console.print(t)


@disposal_app.command("show")
def disposal_show(entry_id: int = typer.Argument(..., help="台账编号")):
    """一条台账及其进展报告（JSON）。"""
    from ..services import disposal

    _print_json(_call(disposal.get_entry, _ready_db(), entry_id, viewer="cli"))


@disposal_app.command("update")
def disposal_update(entry_id: int = typer.Argument(..., help="台账编号"),
                    version: int = typer.Option(..., "--version", help="所依据的版本号"),
                    cause: Optional[str] = typer.Option(None, "--cause", help="形成原因"),
                    measure: Optional[str] = typer.Option(None, "--measure", help="处置措施"),
                    plan: Optional[str] = typer.Option(None, "--plan", help="一宗一策处置方案"),
                    due: Optional[str] = typer.Option(None, "--due", help="完成时限 YYYY-MM-DD"),
                    units: Optional[str] = typer.Option(None, "--units", help="责任单位，顿号分隔，第一个为牵头单位"),
                    actor: str = typer.Option("cli", "--actor", help="操作人")):
    """修改台账（需版本号；过期时拒绝）。"""
    from ..services import disposal

    changes = {k: v for k, v in dict(cause=cause, measure=measure, plan=plan, due_date=due, units=units).items()
               if v is not None}
    e = _call(disposal.update_entry, _ready_db(), entry_id, changes, version, actor=actor)
    console.print(f"[green]已修改[/] {_disposal_entry_line(e)}")


@disposal_app.command("report")
def disposal_report(entry_id: int = typer.Argument(..., help="台账编号"),
                    text: str = typer.Option(..., "--text", help="进展情况"),
                    reported_on: Optional[str] = typer.Option(None, "--date", help="报告日期（缺省为今天）"),
                    percent: Optional[int] = typer.Option(None, "--percent", help="完成进度 0–100"),
                    stage: Optional[str] = typer.Option(None, "--stage", help="阶段：研判、制定方案、实施中、收尾"),
                    actor: str = typer.Option("cli", "--actor", help="报告人")):
    """报送一次处置进展（只能追加）。"""
    from ..services import disposal

    r = _call(disposal.add_report, _ready_db(), entry_id, actor=actor, text=text, reported_on=reported_on,
              percent=percent, stage=stage)
    console.print(f"[green]已报送[/]进展 {r['id']}（{r['reported_on']}）")


@disposal_app.command("close")
def disposal_close(entry_id: int = typer.Argument(..., help="台账编号"),
                   version: int = typer.Option(..., "--version", help="所依据的版本号"),
                   outcome: str = typer.Option(..., "--outcome", help="处置结果：完成供地、完善用地手续、盘活、收回、再供应、依法处置、撤销认定、其他"),
                   closed_on: Optional[str] = typer.Option(None, "--date", help="办结日期（缺省为今天）"),
                   note: Optional[str] = typer.Option(None, "--note", help="办结说明"),
                   actor: str = typer.Option("cli", "--actor", help="操作人")):
    """以处置结果办结台账。"""
    from ..services import disposal

    e = _call(disposal.close_entry, _ready_db(), entry_id, version, actor=actor, outcome=outcome, closed_on=closed_on,
              note=note)
    console.print(f"[green]已办结[/] {_disposal_entry_line(e)}")


@disposal_app.command("progress")
def disposal_progress(as_of: Optional[str] = typer.Option(None, "--as-of", help="统计日期（缺省为今天）"),
                      as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """截至某日各产业集聚区、县(市、区)和全市的消化处置率与盘活面积。"""
    from ..services import disposal

    day = _plan_day(as_of, "--as-of")
    out = _call(disposal.progress, _ready_db(), as_of=day, viewer=SYSTEM)
    if as_json:
        _print_json(out)
        return
    t = Table(title=f"消化处置进度（截至 {out['as_of']}，目标 {out['goal_rate'] * 100:.0f}%）")
    for c in ("辖区", f"认定({out['unit']})", f"已处置({out['unit']})", "消化处置率", "达标", "盘活(亩)", "台账", "已办结"):
        t.add_column(c)
    rows = ([out["city"]] if out["city"] else []) + out["counties"] + out["zones"]
    for r in rows:
        rate = "无数据" if r["rate"] is None else f"{r['rate'] * 100:.1f}%"
        fmt = "{:.2f}" if out["basis"] == "area" else "{:.0f}"
        t.add_row(r["name"], fmt.format(r["identified"]), fmt.format(r["disposed"]), rate,
                  "是" if r["meets_goal"] else "否", f"{r['revived_mu']:.2f}", str(r["entries"]), str(r["closed_entries"]))
    console.print(t)
    console.print(out["formula"])


@disposal_app.command("export")
def disposal_export(output: str = typer.Argument(..., help="输出文件（.xlsx）"),
                    zone: Optional[str] = typer.Option(None, "--zone", help="产业集聚区"),
                    county: Optional[str] = typer.Option(None, "--county", help="县(市、区)或管委会"),
                    status: Optional[str] = typer.Option(None, "--status", help="open 处置中 / closed 已办结")):
    """导出台账为 Excel（报备归档格式）。"""
    from ..services import disposal

    from pathlib import Path

    data, _ = _call(disposal.export_xlsx, _ready_db(), viewer="cli", zone=zone, county=county, status=status)
    Path(output).write_bytes(data)
    console.print(f"[green]已导出[/] {output}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except LandcycleError as exc:  # pragma: no cover - commands catch their own
        err_console.print(f"错误：{exc}")
        sys.exit(2)
