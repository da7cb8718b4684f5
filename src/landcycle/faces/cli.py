"""The command line: `landcycle init | demo | serve | status | parcel … | import … | export | user …`.

User-facing text is Chinese; errors are printed as messages (exit code 2), never tracebacks.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Optional

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
    try:
        setup.ensure_ready(db)
    except LandcycleError as exc:
        _fail(exc)
    return db


def _fail(exc: LandcycleError) -> None:
    err_console.print("[bold red]错误：[/]", end="")
    if isinstance(exc, ValidationFailed):
        err_console.print(f"输入有误，未写入任何数据（{len(exc.problems)} 个问题）：")
        for p in exc.problems:
            err_console.print(f"  • {p}")
    else:
        err_console.print(str(exc))
    raise typer.Exit(code=2)


@app.command()
def init():
    """创建或升级数据库结构，并加载市、县(市、区)、管委会和10个产业集聚区基础数据。"""
    db = _db()
    try:
        result = setup.init_database(db, actor="cli")
    except LandcycleError as exc:
        _fail(exc)
    console.print(f"[green]数据库已就绪[/]（{db.dialect}）：县(市、区) {result.counties} 个，"
                  f"管委会 {result.management_areas} 个，产业集聚区 {result.zones} 个。")


@app.command()
def demo(
    scale: Optional[int] = typer.Option(None, "--scale", min=1,
                                        help="生成 N 宗宗地（及相应企业与数据），用于性能测试；缺省为约600宗的演示数据。"),
    replace: bool = typer.Option(False, "--replace", help="先删除已有的合成数据再生成。"),
    if_empty: bool = typer.Option(False, "--if-empty", help="库中已有宗地时什么也不做（供 make run 使用）。"),
):
    """生成确定性的演示数据（合成数据，非真实企业）：宗地、企业、租赁、合同、三年企业数据。"""
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
    try:
        st = setup.status(_db())
    except LandcycleError as exc:
        _fail(exc)
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
    try:
        card = registry.parcel_card(_ready_db(), code, viewer=SYSTEM)
    except LandcycleError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(card, ensure_ascii=False, indent=2) + "\n")
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
    try:
        page = registry.list_parcels(_ready_db(), viewer=SYSTEM, zone=zone, county=county, state=state, limit=limit)
    except LandcycleError as exc:
        _fail(exc)
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

    try:
        data = lifecycle.allowed_transitions(_ready_db(), code, SYSTEM)
    except LandcycleError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
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
    try:
        verdict = rules.check(rule, case, jurisdiction)
    except LandcycleError as exc:
        _fail(exc)
    sys.stdout.write(json.dumps(verdict, ensure_ascii=False, indent=2) + "\n")


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
    try:
        pub = publicity.publish(_ready_db(), run_id, _day(on, "--on"), actor)
    except LandcycleError as exc:
        _fail(exc)
    console.print(f"评价批次 {run_id} 已于 {pub.published_on} 公示；异议期 {pub.window_workdays} 个工作日，"
                  f"截至 {pub.objection_deadline}。")


@publicity_app.command("object")
def publicity_object(run_id: int = typer.Argument(..., help="评价批次号"),
                     enterprise: str = typer.Option(..., "--enterprise", help="企业统一社会信用代码"),
                     reason: str = typer.Option(..., "--reason", help="异议理由"),
                     on: Optional[str] = typer.Option(None, "--on", help="提出日期（缺省为今天）"),
                     actor: str = typer.Option("cli", "--actor", help="提出人")):
    """记录企业对公示结果的异议（须在异议期内）。"""
    try:
        oid = publicity.file_objection(_ready_db(), run_id, enterprise, reason, _day(on, "--on"), actor)
    except LandcycleError as exc:
        _fail(exc)
    console.print(f"已记录异议 {oid}。")


@publicity_app.command("decide")
def publicity_decide(objection_id: int = typer.Argument(..., help="异议编号"),
                     upheld: bool = typer.Option(..., "--upheld/--rejected", help="异议成立或不成立"),
                     reason: str = typer.Option(..., "--reason", help="处理理由"),
                     revised_class: Optional[str] = typer.Option(None, "--class", help="异议成立时改定的类别 A/B/C"),
                     on: Optional[str] = typer.Option(None, "--on", help="处理日期（缺省为今天）"),
                     actor: str = typer.Option("cli", "--actor", help="处理人")):
    """处理异议：成立则生成新版本结果（原结果保留备查），不成立则结果不变。"""
    try:
        view = publicity.decide_objection(_ready_db(), objection_id, upheld, reason, _day(on, "--on"), actor,
                                          revised_class)
    except LandcycleError as exc:
        _fail(exc)
    extra = f"，新结果编号 {view['revised_result_id']}" if view["revised_result_id"] else ""
    console.print(f"异议 {objection_id}：{view['status_label']}{extra}。")


@publicity_app.command("show")
def publicity_show(run_id: int = typer.Argument(..., help="评价批次号")):
    """查看批次的公示情况与异议。"""
    try:
        st = publicity.publication_status(_ready_db(), run_id)
    except LandcycleError as exc:
        _fail(exc)
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
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
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
        batch = imports.read_for_import(db, file, county=county, encoding=encoding, crs=crs,
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
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
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

    try:
        out = imports.undo_batch(_ready_db(), batch_id, actor)
    except LandcycleError as exc:
        _fail(exc)
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
    try:
        result = exports.export_parcels(db, path, fmt=fmt, county=county, zone=zone, state=state,
                                        encoding=encoding, crs=crs)
    except LandcycleError as exc:
        _fail(exc)
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
    try:
        user = accounts.add_user(db, username, password, role, jurisdiction=jurisdiction, enterprise=enterprise,
                                 department=department, display_name=display_name, actor=actor)
    except LandcycleError as exc:
        _fail(exc)
    bound = user["jurisdiction_name"] or user["enterprise"] or "—"
    console.print(f"[green]已新建账号 {user['username']}[/]（{user['role_label']}，{bound}"
                  f"{'，' + user['department'] if user['department'] else ''}）。")


@user_app.command("list")
def user_list(as_json: bool = typer.Option(False, "--json", help="以JSON输出")):
    """列出全部账号（不含密码）。"""
    from ..services import accounts

    try:
        users = accounts.list_users(_ready_db(), viewer="cli")
    except LandcycleError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(users, ensure_ascii=False, indent=2) + "\n")
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
    try:
        accounts.set_password(db, username, password, actor=actor)
    except LandcycleError as exc:
        _fail(exc)
    console.print(f"[green]已重置 {username} 的密码[/]，其全部登录已失效。")


def _set_active(username: str, active: bool, actor: str) -> None:
    from ..services import accounts

    try:
        accounts.set_active(_ready_db(), username, active, actor=actor)
    except LandcycleError as exc:
        _fail(exc)
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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except LandcycleError as exc:  # pragma: no cover - commands catch their own
        err_console.print(f"错误：{exc}")
        sys.exit(2)
