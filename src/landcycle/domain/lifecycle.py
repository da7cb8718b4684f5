"""The parcel lifecycle as a state machine (DOMAIN.md §4) — pure, no I/O.

:data:`TRANSITIONS` is the table: for each step its key, Chinese name, the states it leaves
from, the state it leads to, the roles that may take it, the documents it must carry and the
guards on stored facts (:class:`ParcelFacts`) it must pass. :func:`check_transition` returns
every reason a step is refused, in Chinese, each naming the rule or clause; an empty list
means the step may be taken. Thresholds come from the rulebook (``[idle]`` R3,
``[rectification]`` R9, ``[split_transfer]`` R8) — none is written here.

What the data model cannot check (title clear, compensation settled, no disputes, site
ready — the 净地 preconditions of 000:964) is a checklist of documents the step must carry.
Data loads (imports, the demo generator) set states directly: they record what already
happened, they are not workflow steps (docs/rules.md, 生命周期).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from .access import Role
from . import standard_supply
from .errors import Problem
from .rules import idle as idle_rule
from .rules.idle import IdleCase, anniversary
from .rules.rulebook import Rulebook
from .vocabulary import AcceptanceResult, LandState

S = LandState
_OFFICIALS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER})
#: Steps the seeds give to the city or county government / its 自然资源部门 (contracts, 认定, 收回).
_GOVERNMENT = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN})

#: Document kinds a step may carry: key → Chinese name. A transition lists the kinds it requires.
DOCUMENT_KINDS: dict[str, str] = {
    "supply_list_approval": "年度可供土地清单批准文件",
    "title_clear": "权属清晰证明（权籍调查或权属来源材料）",
    "compensation_settled": "征地安置补偿到位证明",
    "no_dispute": "无法律经济纠纷说明",
    "site_ready": "通水通电通路和土地平整等开发条件确认材料",
    "supply_contract": "国有建设用地使用权出让合同或划拨决定书",
    "performance_agreement": "“标准地”履约监管协议",
    "construction_permit": "建筑工程施工许可证（或信用承诺书公示无异议证明）",
    "completion_opinion": "竣工联合验收意见",
    "production_opinion": "达产验收意见",
    "property_registration": "不动产产权变更登记证明",
    "idle_finding": "闲置土地认定书",
    "government_delay_finding": "政府原因造成动工开发延迟的认定材料",
    "inefficiency_finding": "低效用地认定意见",
    "rectification_notice": "限期整改通知书",
    "rectification_acceptance": "整改验收意见",
    "disposal_decision": "处置决定（解除合同批准文件或处置方案）",
    "reclaim_decision": "收回国有建设用地使用权决定书",
    "reclaim_agreement": "协议有偿收回协议",
    "buyback_agreement": "回购协议或收回补偿协议",
    "reserve_entry": "纳入土地储备的批准文件",
    "split_approval": "分割转让批准意见",
    "split_contract": "国有建设用地使用权分割转让合同",
}

#: The 净地 checklist (000:964): facts the registry does not hold, carried as documents.
NET_LAND_DOCUMENTS = ("title_clear", "compensation_settled", "no_dispute", "site_ready")


@dataclass(frozen=True)
class ParcelFacts:
    """What the guards read: the parcel and its stored records as of ``as_of``."""

    code: str
    state: str
    as_of: date
    area_m2: float = 0.0
    area_mu: float = 0.0
    land_use: str | None = None
    plot_ratio_min: float | None = None
    plot_ratio_max: float | None = None
    is_standard_land: bool = False
    inefficiency_categories: tuple[str, ...] = ()
    # the latest 出让合同 and 履约监管协议
    has_contract: bool = False
    contract_forbids_split: bool = False
    has_agreement: bool = False
    agreed_start_date: date | None = None
    land_price_wan: float | None = None
    # parcel_developments
    has_development: bool = False
    actual_start_date: date | None = None
    stopped_since: date | None = None
    developed_area_m2: float | None = None
    investment_done_wan: float | None = None
    investment_total_wan: float | None = None
    completion_result: str = AcceptanceResult.PENDING.value
    completion_date: date | None = None
    production_result: str = AcceptanceResult.PENDING.value
    production_date: date | None = None
    #: When the parcel entered 整改中 (its last transition into it), if recorded.
    rectifying_since: date | None = None
    #: Document kinds carried by the parcel's earlier transitions (e.g. a government-delay finding).
    recorded_documents: frozenset[str] = frozenset()
    # 标准地 supply (domain.standard_supply): the zone's 区域评估 results as they bear on the
    # parcel, its approved 出让方案 (None: none approved) and what the contract and agreement say.
    #: The exit case (收回回购) of the latest contract has its buy-back agreement recorded.
    has_buyback_agreement: bool = False
    assessments: tuple[standard_supply.Assessment, ...] = ()
    approved_plan: standard_supply.SupplyPlan | None = None
    sale_terms: standard_supply.SaleTerms | None = None

    @property
    def investment_ratio(self) -> float | None:
        if self.investment_done_wan is None or not self.investment_total_wan:
            return None
        return self.investment_done_wan / self.investment_total_wan

    @property
    def developed_area_ratio(self) -> float | None:
        if self.developed_area_m2 is None or not self.area_m2:
            return None
        return min(1.0, self.developed_area_m2 / self.area_m2)


#: A guard: (facts, documents of this request, rulebook) → reasons it fails (empty: passes).
Guard = Callable[[ParcelFacts, frozenset[str], Rulebook], list[str]]


@dataclass(frozen=True)
class Transition:
    """One allowed step of the lifecycle."""

    key: str
    name: str
    sources: tuple[LandState, ...]
    target: LandState
    roles: frozenset[Role]
    documents: tuple[str, ...]
    #: The clause the step rests on.
    basis: str
    guards: tuple[Guard, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The step as the API and the docs describe it."""
        return {
            "key": self.key, "name": self.name,
            "from": [s.value for s in self.sources], "from_labels": [s.label for s in self.sources],
            "to": self.target.value, "to_label": self.target.label,
            "roles": sorted(r.value for r in self.roles),
            "role_labels": [r.label for r in Role if r in self.roles],
            "documents": [{"kind": k, "label": DOCUMENT_KINDS[k]} for k in self.documents],
            "basis": self.basis,
            "guards": [g.__doc__.strip() for g in self.guards if g.__doc__],
        }


# =========================================================================== guards
def _planning_fixed(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """规划条件明确：土地用途和容积率已登记（000:964）"""
    out = []
    if not f.land_use:
        out.append("规划条件不明确：宗地未登记土地用途（“净地”出让须规划条件明确，000:964）")
    if f.plot_ratio_min is None and f.plot_ratio_max is None:
        out.append("规划条件不明确：宗地未登记容积率（plot_ratio_min / plot_ratio_max）"
                   "（“净地”出让须地块位置、使用性质、容积率等规划条件明确，000:964）")
    return out


def _contract_recorded(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """出让合同已登记；标准地另须履约监管协议（000:998）"""
    out = []
    if not f.has_contract:
        out.append("尚未登记该宗地的出让合同（或划拨决定书）：土地成交后受让人与自然资源部门签订出让合同（000:998），"
                   "请先在“供地合同”中登记")
    if f.is_standard_land and not f.has_agreement:
        out.append("“标准地”尚未登记履约监管协议：受让人须与产业集聚区管理机构签订《工业用地“标准地”履约监管协议》"
                   "（000:998）")
    return out


def _standard_land_ready(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """标准地：区域评估成果齐全有效且覆盖宗地（000:960、968），出让方案已批准（000:996），合同和协议载明方案的指标（000:998）"""
    if not f.is_standard_land:
        return []
    out = standard_supply.assessment_gaps(list(f.assessments), f.as_of, rb)
    if f.approved_plan is None:
        out.append("“标准地”出让方案尚未批准：自然资源部门编制出让方案，将具体指标、履约要求纳入出让文件，"
                   "按程序报政府批准（000:996）")
    elif f.sale_terms is not None:
        out += standard_supply.contract_reasons(f.approved_plan, f.sale_terms, rb)
    return out


def _started(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """开发建设情况中已登记实际动工日期，且不晚于今日"""
    if f.actual_start_date is None:
        return ["开发建设情况中尚未登记实际动工日期（actual_start_date），不能登记动工"]
    if f.actual_start_date > f.as_of:
        return [f"登记的实际动工日期 {f.actual_start_date} 晚于今日 {f.as_of}，尚未动工"]
    return []


def _completion_passed(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """竣工联合验收结果为“通过”（000:1020-1024）"""
    if f.completion_result != AcceptanceResult.PASSED.value:
        return [f"竣工联合验收结果为“{AcceptanceResult(f.completion_result).label}”，须为“通过”"
                "（建设工程竣工联合验收，000:1020-1024）"]
    return []


def _production_passed(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """达产验收在竣工验收通过之后，且结果为“通过”（000:1026-1030）"""
    out = []
    if f.completion_result != AcceptanceResult.PASSED.value:
        out.append(f"达产验收须在竣工联合验收通过之后：竣工验收结果为“{AcceptanceResult(f.completion_result).label}”"
                   "（000:1024-1026）")
    if f.production_result != AcceptanceResult.PASSED.value:
        out.append(f"达产验收结果为“{AcceptanceResult(f.production_result).label}”，须为“通过”（000:1026-1030）")
    return out


def idle_case(f: ParcelFacts, government_caused: bool = False) -> IdleCase | None:
    """R3's input built from stored facts (None without a contract's agreed start date)."""
    if f.agreed_start_date is None:
        return None
    return IdleCase(agreed_start_date=f.agreed_start_date, as_of=f.as_of, actual_start_date=f.actual_start_date,
                    developed_area_ratio=f.developed_area_ratio, investment_ratio=f.investment_ratio,
                    stopped_since=f.stopped_since, government_caused=government_caused,
                    land_price_wan=f.land_price_wan)


def _r3(f: ParcelFacts, rb: Rulebook) -> tuple[str | None, list[str]]:
    case = idle_case(f)
    if case is None:
        return None, ["尚未登记出让合同约定的动工日期，无法按闲置土地处置办法第二条认定（R3）"]
    v = idle_rule.check_idle(case, rb)
    return v.outcome, v.reasons


def _idle_established(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """R3 认定（idle.check_idle，规则库 [idle]）：已构成闲置（满一年）"""
    outcome, reasons = _r3(f, rb)
    if outcome in ("idle_fee", "reclaim"):
        return []
    if outcome is None:
        return reasons
    return ["按闲置土地处置办法第二条（R3）尚不构成闲置：" + "；".join(reasons)]


def _government_delay(f: ParcelFacts, docs: frozenset[str]) -> bool:
    return "government_delay_finding" in f.recorded_documents or "government_delay_finding" in docs


def _free_reclaim_due(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """闲置满两年（idle.check_idle 结果为无偿收回，规则库 [idle].reclaim_after_years），且未记录政府原因延迟"""
    out = []
    if _government_delay(f, docs):
        out.append("已记录政府原因造成动工开发延迟的认定材料：依闲置土地处置办法第八条、第十二条应协商处置"
                   "（可协议有偿收回），不得无偿收回")
    outcome, reasons = _r3(f, rb)
    if outcome != "reclaim":
        years = int(rb.section("idle")["reclaim_after_years"])
        head = f"未满{years}年，不得无偿收回（闲置土地处置办法第十四条，规则库 idle.reclaim_after_years = {years}）"
        out.append(head + ("：" + "；".join(reasons) if reasons else ""))
    return out


def _government_delay_recorded(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """已记录政府原因造成动工开发延迟（闲置土地处置办法第八条、第十二条）"""
    if _government_delay(f, docs):
        return []
    return [f"协议有偿收回适用于政府原因造成的闲置（闲置土地处置办法第八条、第十二条），"
            f"须附或已记录“{DOCUMENT_KINDS['government_delay_finding']}”；否则按第十四条处理"]


def _categories_recorded(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """已登记低效用地类别（000:1056-1068 六类）"""
    if not f.inefficiency_categories:
        return ["宗地尚未登记低效用地类别（inefficiency_categories）：认定低效须说明属于六类中的哪一类（000:1056-1068）"]
    return []


def _rectification_cause(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """整改须有原因：竣工或达产验收未通过（000:1022、1028），或已认定低效"""
    if f.state == S.UNDER_CONSTRUCTION.value and f.completion_result != AcceptanceResult.FAILED.value:
        return ["在建宗地进入整改须竣工联合验收未通过（000:1022）：当前竣工验收结果为"
                f"“{AcceptanceResult(f.completion_result).label}”"]
    if f.state == S.COMPLETED.value and f.production_result != AcceptanceResult.FAILED.value:
        return ["已竣工宗地进入整改须达产验收未通过（000:1028）：当前达产验收结果为"
                f"“{AcceptanceResult(f.production_result).label}”"]
    return []


def rectification_start(f: ParcelFacts) -> date | None:
    """When the rectification period began: the transition into 整改中, else the failed acceptance."""
    if f.rectifying_since is not None:
        return f.rectifying_since
    failed = [d for r, d in ((f.production_result, f.production_date), (f.completion_result, f.completion_date))
              if r == AcceptanceResult.FAILED.value and d is not None]
    return failed[0] if failed else None


def rectification_end(f: ParcelFacts, rb: Rulebook) -> date | None:
    """The last day of the longest rectification period (R9, 规则库 rectification.max_years)."""
    start = rectification_start(f)
    return None if start is None else anniversary(start, int(rb.section("rectification")["max_years"]))


def _within_rectification(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """整改期内（整改期最长不超过 rectification.max_years 年，000:1022、1028）"""
    years = int(rb.section("rectification")["max_years"])
    end = rectification_end(f, rb)
    if end is None:
        return ["无法确定整改起始日（没有进入整改的记录，也没有未通过验收的日期），不能判断是否在整改期内（000:1022、1028）"]
    if f.as_of > end:
        return [f"整改期已届满：自 {rectification_start(f)} 起最长 {years} 年，至 {end} 止（000:1022、1028，"
                f"规则库 rectification.max_years = {years}）；整改期后仍未达到验收标准的应启动处置（解除合同，000:1028）"]
    return []


def _rectification_over(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """从整改中启动处置：整改期已届满，或附整改（复验）未通过的整改验收意见（000:1028）"""
    if f.state != S.RECTIFYING.value or "rectification_acceptance" in docs:
        return []
    end = rectification_end(f, rb)
    if end is not None and f.as_of > end:
        return []
    until = f"整改期至 {end} 止" if end else "整改起始日不明"
    return [f"整改期后仍未达到验收标准的方可解除合同（000:1028）：{until}，且未附整改验收（未通过）意见"
            f"（{DOCUMENT_KINDS['rectification_acceptance']}）"]


def _buyback_recorded(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """收回回购已登记：解除合同、成本还原审计和回购协议（履约监管“收回回购”，000:1028）"""
    if f.has_buyback_agreement:
        return []
    return ["尚未登记收回回购：解除出让合同后应按成本还原原则审计评估、优先回购（000:1028），"
            "请先在履约监管中登记收回回购并补充回购协议（文号、日期）"]


def _split_allowed(f: ParcelFacts, docs: frozenset[str], rb: Rulebook) -> list[str]:
    """分割转让条件（R8：面积不少于 split_transfer.no_split_area_mu_below 亩、合同未禁止分割、在建投资额比例；R9：达产复验通过前不得转让）"""
    rules = rb.section("split_transfer")
    out = []
    floor = float(rules["no_split_area_mu_below"])
    if f.area_mu < floor:
        out.append(f"宗地面积 {f.area_mu:.2f} 亩，不足 {floor:g} 亩的工业用地原则上不进行宗地分割"
                   f"（000:1198，规则库 split_transfer.no_split_area_mu_below）")
    if f.contract_forbids_split:
        out.append("出让合同约定不允许分割（000:1241 第十五条第（一）项）")
    if f.completion_result == AcceptanceResult.PASSED.value and f.production_result != AcceptanceResult.PASSED.value:
        out.append("竣工验收已通过但达产验收尚未通过：达产复验通过前，不动产产权不得抵押、转让（000:1024）")
    if f.state == S.UNDER_CONSTRUCTION.value:
        need = float(rules["construction_investment_ratio_min"])
        ratio = f.investment_ratio
        if ratio is None:
            out.append("在建工程须已完成投资额 25% 以上（000:1229）：未登记已投资额和总投资额")
        elif ratio < need:
            out.append(f"在建工程已投资额占比 {ratio * 100:.2f}%，低于 {need * 100:.0f}%（000:1229，"
                       "规则库 split_transfer.construction_investment_ratio_min）")
    return out


# =========================================================================== the table
_T = Transition
TRANSITIONS: tuple[Transition, ...] = (
    _T("list_for_supply", "纳入供地清单", (S.RESERVE, S.APPROVED_UNSUPPLIED), S.LISTED, _OFFICIALS,
       ("supply_list_approval",), "年度可供土地清单（000:757）"),
    _T("supply", "出让/划拨", (S.LISTED,), S.SUPPLIED, _GOVERNMENT,
       ("supply_contract", *NET_LAND_DOCUMENTS), "“净地”出让（000:964）；签订出让合同和履约监管协议（000:998）；"
       "标准地：区域评估、出让方案（000:960、000:996）",
       (_planning_fixed, _contract_recorded, _standard_land_ready)),
    _T("start_construction", "动工", (S.SUPPLIED,), S.UNDER_CONSTRUCTION, _OFFICIALS,
       ("construction_permit",), "开工审批（000:1004-1016）", (_started,)),
    _T("pass_completion", "竣工验收通过", (S.UNDER_CONSTRUCTION,), S.COMPLETED, _OFFICIALS,
       ("completion_opinion",), "竣工联合验收（000:1020-1024）", (_completion_passed,)),
    _T("pass_production", "达产验收通过", (S.COMPLETED,), S.IN_PRODUCTION, _OFFICIALS,
       ("production_opinion",), "达产验收（000:1026-1030）", (_production_passed,)),
    _T("begin_operation", "转入正常运营", (S.IN_PRODUCTION,), S.OPERATING, _OFFICIALS,
       ("property_registration",), "通过达产验收的，办理不动产产权变更登记（000:1030）", (_production_passed,)),
    _T("find_idle", "认定闲置", (S.SUPPLIED, S.UNDER_CONSTRUCTION), S.IDLE, _GOVERNMENT,
       ("idle_finding",), "闲置土地处置办法第二条（R3）", (_idle_established,)),
    _T("find_inefficient", "认定低效", (S.UNDER_CONSTRUCTION, S.COMPLETED, S.IN_PRODUCTION, S.OPERATING),
       S.INEFFICIENT, _OFFICIALS, ("inefficiency_finding",), "低效用地六类（000:1056-1068）", (_categories_recorded,)),
    _T("start_rectification", "进入整改", (S.UNDER_CONSTRUCTION, S.COMPLETED, S.INEFFICIENT), S.RECTIFYING, _OFFICIALS,
       ("rectification_notice",), "验收未通过限期整改，整改期最长不超过2年（000:1022、1028）", (_rectification_cause,)),
    _T("pass_rectification_completion", "整改后竣工验收通过", (S.RECTIFYING,), S.COMPLETED, _OFFICIALS,
       ("rectification_acceptance", "completion_opinion"), "000:1022-1024",
       (_within_rectification, _completion_passed)),
    _T("pass_rectification_production", "整改后达产复验通过", (S.RECTIFYING,), S.IN_PRODUCTION, _OFFICIALS,
       ("rectification_acceptance", "production_opinion"), "000:1024、1028-1030",
       (_within_rectification, _production_passed)),
    _T("pass_rectification", "整改验收通过", (S.RECTIFYING,), S.OPERATING, _OFFICIALS,
       ("rectification_acceptance",), "低效用地整治（000:1096）；整改期最长不超过2年（000:1028）",
       (_within_rectification, _production_passed)),
    _T("start_disposal", "启动处置", (S.IDLE, S.INEFFICIENT, S.RECTIFYING), S.DISPOSING, _GOVERNMENT,
       ("disposal_decision",), "整改期后仍未达标的，经市、县政府批准解除出让合同（000:1028）；低效用地处置（000:1080-1086）",
       (_rectification_over,)),
    _T("reclaim_free", "无偿收回", (S.IDLE,), S.RECLAIMED, _GOVERNMENT,
       ("reclaim_decision",), "闲置土地处置办法第十四条（R3：满两年无偿收回）", (_free_reclaim_due,)),
    _T("reclaim_negotiated", "协议有偿收回", (S.IDLE,), S.RECLAIMED, _GOVERNMENT,
       ("reclaim_agreement",), "闲置土地处置办法第八条、第十二条（政府原因造成的闲置）", (_government_delay_recorded,)),
    _T("reclaim", "收回", (S.DISPOSING,), S.RECLAIMED, _GOVERNMENT,
       ("buyback_agreement",), "解除合同后收回，成本还原审计评估、优先回购（000:1028、1034）",
       (_buyback_recorded,)),
    _T("relist", "再供应（重新纳入清单）", (S.RECLAIMED,), S.LISTED, _OFFICIALS,
       ("supply_list_approval",), "收回土地纳入年度可供土地清单再供应（000:757）"),
    _T("store", "纳入储备", (S.RECLAIMED,), S.RESERVE, _GOVERNMENT,
       ("reserve_entry",), "发挥土地收储机制优势（000:865）"),
    _T("split_transfer", "分割转让", (S.UNDER_CONSTRUCTION, S.IN_PRODUCTION, S.OPERATING), S.SPLIT_TRANSFERRED,
       _OFFICIALS, ("split_approval", "split_contract"), "国有建设用地使用权分割转让暂行办法（000:1182-1256，R8）",
       (_split_allowed,)),
)

BY_KEY: dict[str, Transition] = {t.key: t for t in TRANSITIONS}


def find(key_or_name: str) -> Transition | None:
    """A step by key or Chinese name."""
    k = (key_or_name or "").strip()
    return BY_KEY.get(k) or next((t for t in TRANSITIONS if t.name == k), None)


def transitions_from(state: str) -> list[Transition]:
    """The steps that leave ``state``, in table order."""
    return [t for t in TRANSITIONS if state in t.sources]


# =========================================================================== documents
@dataclass(frozen=True)
class Document:
    """A document a step carries: kind, title, 文号 and date."""

    kind: str
    title: str
    number: str
    date: date

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "kind_label": DOCUMENT_KINDS[self.kind], "title": self.title,
                "number": self.number, "date": self.date.isoformat()}


@dataclass(frozen=True)
class DocumentList:
    """How one list of documents ``[{kind, title, number, date}]`` is read and what its messages say.

    The lifecycle steps and the 分割转让 application checklist read documents the same way and
    differ only in these: the noun of their messages (文件/材料), the label of ``number``, which
    kinds are allowed and how a bad kind or a bad text is worded."""

    noun: str
    number_label: str
    #: The allowed kind a request's ``kind`` names, None if it names none.
    resolve_kind: Callable[[Any], str | None]
    #: The message for a ``kind`` that names no allowed kind.
    unknown_kind: Callable[[Any], str]
    #: The message for a bad title or number: (label, limit, missing) → text.
    bad_text: Callable[[str, int, bool], str]


def read_documents(raw: Any, record: str, as_of: date, spec: DocumentList
                   ) -> tuple[list[tuple[str, str, str, date]], list[Problem]]:
    """Documents from request JSON as (kind, title, number, date) — each complete and dated no later
    than ``as_of`` — and every problem, worded by ``spec``."""
    docs: list[tuple[str, str, str, date]] = []
    problems: list[Problem] = []
    if raw is None:
        return docs, problems
    if not isinstance(raw, list):
        return docs, [Problem(record, "documents", f"应为{spec.noun}列表：[{{kind, title, number, date}}, …]")]
    for i, item in enumerate(raw):
        where = f"documents[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(record, where, "应为对象 {kind, title, number, date}"))
            continue
        for k in sorted(set(item) - {"kind", "title", "number", "date"}):
            problems.append(Problem(record, f"{where}.{k}", "未知字段", "unknown_field"))
        kind = item.get("kind")
        resolved = spec.resolve_kind(kind)
        if resolved is None:
            problems.append(Problem(record, f"{where}.kind", spec.unknown_kind(kind), "unknown_kind"))
        texts = {}
        for name, label, limit in (("title", "文件名称", 200), ("number", spec.number_label, 100)):
            v = item.get(name)
            if not isinstance(v, str) or not v.strip():
                problems.append(Problem(record, f"{where}.{name}", spec.bad_text(label, limit, True)))
            elif len(v) > limit or "\x00" in v:
                problems.append(Problem(record, f"{where}.{name}", spec.bad_text(label, limit, False)))
            else:
                texts[name] = v.strip()
        d = item.get("date")
        day = None
        if isinstance(d, date):
            day = d
        elif isinstance(d, str):
            try:
                day = date.fromisoformat(d)
            except ValueError:
                pass
        if day is None:
            problems.append(Problem(record, f"{where}.date", "缺少日期或格式错误，应为 YYYY-MM-DD"))
        elif day > as_of:
            problems.append(Problem(record, f"{where}.date", f"{spec.noun}日期 {day} 晚于今日 {as_of}"))
        if resolved is not None and len(texts) == 2 and day is not None and day <= as_of:
            docs.append((resolved, texts["title"], texts["number"], day))
    return docs, problems


def _step_document_kind(kind: Any) -> str | None:
    # A key or its Chinese name; a non-string is looked up as is.
    if isinstance(kind, str):
        kind = next((k for k, label in DOCUMENT_KINDS.items() if kind.strip() in (k, label)), kind)
    return kind if kind in DOCUMENT_KINDS else None


_STEP_DOCUMENTS = DocumentList(
    noun="文件", number_label="文号", resolve_kind=_step_document_kind,
    unknown_kind=lambda kind: (f"未知的文件类型“{kind}”，应为："
                               + "、".join(f"{v}({k})" for k, v in DOCUMENT_KINDS.items())),
    bad_text=lambda label, limit, missing: (f"缺少{label}" if missing
                                            else f"{label}不能超过{limit}个字符，且不能含空字符"),
)


def parse_documents(raw: Any, record: str, as_of: date) -> tuple[list[Document], list[Problem]]:
    """Documents from request JSON (a list of {kind, title, number, date}) and every problem."""
    docs, problems = read_documents(raw, record, as_of, _STEP_DOCUMENTS)
    return [Document(*d) for d in docs], problems


# =========================================================================== the check
def role_reason(t: Transition, role: Role) -> str | None:
    """Why ``role`` may not take step ``t`` (None: it may)."""
    if role in t.roles:
        return None
    who = "、".join(r.label for r in Role if r in t.roles)
    return f"“{t.name}”只能由{who}办理，{role.label}无权办理"


def guard_reasons(t: Transition, facts: ParcelFacts, rulebook: Rulebook,
                  documents: frozenset[str] = frozenset(), check_documents: bool = True) -> list[str]:
    """Every reason step ``t`` cannot be taken from the parcel's current state with these facts
    (and, when ``check_documents``, these document kinds); empty: it may."""
    reasons = []
    if facts.state not in {s.value for s in t.sources}:
        now = LandState(facts.state).label if facts.state in {s.value for s in LandState} else facts.state
        reasons.append(f"宗地 {facts.code} 当前状态为“{now}”，“{t.name}”只能从"
                       f"{'、'.join('“' + s.label + '”' for s in t.sources)}办理（土地生命周期，DOMAIN.md §4）")
        return reasons
    for g in t.guards:
        reasons += g(facts, documents, rulebook)
    if check_documents:
        missing = [k for k in t.documents if k not in documents]
        if missing:
            reasons.append(f"“{t.name}”缺少文件：" + "、".join(DOCUMENT_KINDS[k] for k in missing))
    return reasons


def check_transition(t: Transition, facts: ParcelFacts, role: Role, rulebook: Rulebook,
                     documents: frozenset[str]) -> list[str]:
    """Every reason ``role`` may not take step ``t`` now: the role, the state, the guards on the
    stored facts and the documents carried. Empty: the step may be taken."""
    reasons = []
    r = role_reason(t, role)
    if r:
        reasons.append(r)
    return reasons + guard_reasons(t, facts, rulebook, documents)


def table() -> list[dict[str, Any]]:
    """The whole table as plain data (API, docs)."""
    return [t.to_dict() for t in TRANSITIONS]
