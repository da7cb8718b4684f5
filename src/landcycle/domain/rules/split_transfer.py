"""R8 国有建设用地使用权分割转让 (000:1182–1256, 许昌市国有建设用地使用权分割转让暂行办法).

Substance first: parcel size and piece shares (第五条), the banned cases (第十五条), the 标准地
conditions (第五条), investment done for buildings under construction (第十四条 6), the remaining
term (第十二条). If all of that passes, the application documents (第十四条) decide between
``eligible`` and ``incomplete``. Two figures never change the outcome but must be acted on:
``government_approval_required`` (划拨 land, 第八条) and ``government_priority_purchase`` (a declared
price clearly below market, 第十三条). Every threshold and list is a rulebook setting ([split_transfer]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Problem, ValidationFailed
from .inputs import spec
from .rulebook import Rulebook
from .verdict import Citation, RuleCheck, Verdict

RULE, RULE_ID = "split-transfer", "R8"

OUTCOMES = {
    "eligible": "可以分割转让",
    "ineligible": "不得分割转让",
    "incomplete": "符合条件但申请材料不全",
}

#: Computed shares are compared with this slack so that 30/150 counts as exactly 20%.
_EPS = 1e-9

#: 第十五条 banned cases: input field → (seed line, Chinese).
BANNED = {
    "contract_forbids_split": ("000:1243", "《国有建设用地使用权出让合同》中约定不允许分割的"),
    "includes_public_facilities": ("000:1244", "宗地中道路、绿地、公共场所及配套设施"),
    "breaks_planning_or_safety": ("000:1245", "分割后不能满足规划、建筑安全使用要求的"),
    "other_legal_bar": ("000:1246", "法律、法规和政策另有规定不得分割的"),
}

CITE_FORMS = Citation("000:1188", "国有建设用地使用权分割形式包含整宗地分割成两宗及以上可单独使用的宗地和地上建筑物转让时"
                                  "产生的国有建设用地使用权的量化分割（分摊分割）。")
CITE_SIZE = Citation("000:1198", "面积不足 30 亩的工业用地原则上不进行宗地分割，100 亩以下的工业用地最小分割面积不低于供应总面积"
                                 "的 30%，100 亩以上的工业用地最小分割面积不低于供应总面积的 20%。")
CITE_STANDARD = Citation("000:1196", "按照“标准地”供应的工业用地，分割转让时应达到出让合同和履约监管协议约定的固定资产投资强度"
                                     "和建筑容积率等条件，由监管协议执行单位就是否存在限制转让情形出具书面意见。")
CITE_ALLOCATED = Citation("000:1206", "以划拨方式取得的建设用地使用权分割转让，应向市、县自然资源部门申请，经有批准权的人民政府批准。")
CITE_CO_OWNED = Citation("000:1210", "拟分割宗地已预售或存在多个权利主体的，应取得相关权利人同意，不得损害权利人合法权益。")
CITE_TERM = Citation("000:1216", "通过分割转让方式取得的国有建设用地使用权，其使用年限为原土地使用权出让合同约定的使用年限减去"
                                 "原土地使用者已经使用年限后的剩余年限。")
CITE_PRICE = Citation("000:1218", "转让价格明显低于市场价格的，市、县人民政府可行使优先购买权。")
CITE_PRICE_DEFAULT = Citation("规则库 split_transfer.price_below_market_ratio（示例默认值）",
                              "种子文件未界定“明显低于”：示例默认为申报价格低于市场价格的80%")
CITE_DOCUMENTS = Citation("000:1222-1235", "交易双方持以下材料向土地二级市场交易机构提出分割转让申请：1. 建设用地使用权分割转让"
                                           "申请书；2. 不动产权证（或土地使用证和房产证）；……10. 属共有权利的，提供共有权人同意"
                                           "转让书面意见；11. 按照法律、法规应当提供的其他资料。")
CITE_CONSTRUCTION = Citation("000:1229", "在建工程应提供建设投资额已达到25%以上或完成合同约定投资开发利用条件的投资票据或审计报告")
CITE_BANNED = Citation("000:1241", "有下列情形之一的，建设用地使用权不得分割转让")
CITE_PREREGISTER = Citation("000:1250", "以出让方式取得的建设用地使用权转让，未达到出让合同约定转让条件的，允许依法办理预告登记，"
                                        "按照先投入后转让原则，待开发投资达到转让条件时，再办理不动产转移登记手续。")
CITE_SCOPE = Citation("000:1254", "本暂行办法仅适用于全市产业集聚区范围内的土地。")


@dataclass(frozen=True)
class SplitTransferCase:
    """A proposed split of one parcel and its transfer application."""

    parcel_area_mu: float = spec("宗地（供应）总面积", "亩", minimum=0)
    pieces_mu: list[float] = spec("分割后各块面积（列表）", "亩", minimum=0)
    standard_land: bool = spec("是否按“标准地”供应", default=False)
    agreed_investment_intensity_met: bool | None = spec("标准地：是否已达到约定的固定资产投资强度", default=None)
    agreed_far_met: bool | None = spec("标准地：是否已达到约定的建筑容积率", default=None)
    under_construction: bool = spec("是否为在建工程", default=False)
    investment_ratio: float | None = spec("在建工程已完成投资占总投资比例（小数，0.25 即 25%）", "比例", minimum=0,
                                          default=None)
    contract_forbids_split: bool = spec("出让合同是否约定不允许分割", default=False)
    includes_public_facilities: bool = spec("是否涉及宗地中道路、绿地、公共场所及配套设施", default=False)
    breaks_planning_or_safety: bool = spec("分割后是否不能满足规划、建筑安全使用要求", default=False)
    other_legal_bar: bool = spec("是否有法律、法规和政策另行规定不得分割", default=False)
    allocated_land: bool = spec("是否为划拨取得的建设用地使用权", default=False)
    co_owned: bool = spec("是否属共有权利", default=False)
    documents: list[str] = spec("已提交的申请材料名称（列表）", default=[])
    declared_price_wan: float | None = spec("申报转让价格", "万元", minimum=0, default=None)
    market_price_wan: float | None = spec("市场价格（评估价）", "万元", minimum=0, default=None)
    term_years: float | None = spec("原出让合同约定使用年限", "年", minimum=0, default=None)
    years_used: float | None = spec("原土地使用者已使用年限", "年", minimum=0, default=None)


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _pct(x: float) -> str:
    return f"{x * 100:.3f}".rstrip("0").rstrip(".") + "%"


def _norm(name: str) -> str:
    """Document names compare without spaces and with full-width brackets."""
    return "".join(name.split()).replace("(", "（").replace(")", "）")


def required_documents(case: SplitTransferCase, rules: dict[str, Any]) -> list[str]:
    """The 000:1222–1235 list, with the co-owner and construction documents only when they apply."""
    docs = list(rules["required_documents"])
    if case.co_owned:
        docs.append(rules["co_owner_document"])
    if case.under_construction:
        docs.append(rules["construction_document"])
    return docs


def share_rule(parcel_area_mu: float, rules: dict[str, Any]) -> tuple[str, float | None, str]:
    """(band, minimum piece share, Chinese description) for a parcel of this size (000:1198)."""
    below, upto = rules["no_split_area_mu_below"], rules["small_parcel_area_mu_upto"]
    small_min, large_min = rules["small_piece_share_min"], rules["large_piece_share_min"]
    if parcel_area_mu < below:
        return "below_minimum", None, f"不足{_fmt(below)}亩的宗地"
    if parcel_area_mu < upto:
        return "small", small_min, f"{_fmt(upto)}亩以下宗地"
    if parcel_area_mu > upto:
        return "large", large_min, f"{_fmt(upto)}亩以上宗地"
    reading = rules["exactly_100_mu_reading"]
    if reading == "small":
        return "small", small_min, f"恰为{_fmt(upto)}亩的宗地（规则库按“{_fmt(upto)}亩以下”读）"
    if reading == "large":
        return "large", large_min, f"恰为{_fmt(upto)}亩的宗地（规则库按“{_fmt(upto)}亩以上”读）"
    raise ValidationFailed(Problem("规则库", "split_transfer.exactly_100_mu_reading",
                                   f"取值“{reading}”无效，应为 small 或 large"))


def check_split_transfer(case: SplitTransferCase, rulebook: Rulebook) -> Verdict:
    """Whether the proposed split may be transferred, with every reason against it."""
    rules = rulebook.section("split_transfer")
    if case.parcel_area_mu <= 0:
        raise ValidationFailed(Problem("输入", "parcel_area_mu", "宗地总面积应大于 0"))
    blocks: list[str] = []  # substantive reasons against
    notes: list[str] = []  # reasons that do not block
    citations = [CITE_SCOPE, CITE_FORMS, CITE_SIZE]
    parcel, pieces = case.parcel_area_mu, list(case.pieces_mu)
    figures: dict[str, Any] = {"parcel_area_mu": parcel, "pieces_mu": pieces}

    # -- pieces: at least two, adding up to the parcel
    min_pieces = rules["min_pieces"]
    if len(pieces) < min_pieces:
        blocks.append(f"分割后只有 {len(pieces)} 块，分宗分割应分成{min_pieces}宗及以上")
    total = sum(pieces)
    tolerance = rules["piece_sum_tolerance_mu"]
    difference = total - parcel
    figures.update({"min_pieces": min_pieces, "pieces_sum_mu": total, "sum_difference_mu": difference,
                    "piece_sum_tolerance_mu": tolerance})
    if abs(difference) > tolerance + _EPS:
        blocks.append(f"各块面积合计 {_fmt(total)} 亩，与宗地总面积 {_fmt(parcel)} 亩相差 {_fmt(abs(difference))} 亩，"
                      f"超过允许误差 {_fmt(tolerance)} 亩")

    # -- size and the smallest piece (000:1198)
    band, share_min, band_text = share_rule(parcel, rules)
    shares = [p / parcel for p in pieces]
    figures.update({"size_band": band, "piece_share_min": share_min, "piece_shares": shares,
                    "no_split_area_mu_below": rules["no_split_area_mu_below"],
                    "small_parcel_area_mu_upto": rules["small_parcel_area_mu_upto"],
                    "exactly_100_mu_reading": rules["exactly_100_mu_reading"]})
    if pieces:
        i_min = min(range(len(pieces)), key=lambda i: pieces[i])
        figures.update({"smallest_piece_mu": pieces[i_min], "smallest_piece_share": shares[i_min]})
    below: list[dict[str, Any]] = []
    if share_min is None:
        blocks.append(f"宗地面积 {_fmt(parcel)} 亩，不足 {_fmt(rules['no_split_area_mu_below'])} 亩，原则上不进行宗地分割")
    else:
        figures["piece_area_mu_min"] = share_min * parcel
        for i, (p, s) in enumerate(zip(pieces, shares), start=1):
            if s < share_min - _EPS:
                below.append({"piece": i, "area_mu": p, "share": s})
                blocks.append(f"第{i}块 {_fmt(p)} 亩，占供应总面积 {_pct(s)}，低于{band_text}要求的{_pct(share_min)}")
        if pieces and not below:
            notes.append(f"宗地 {_fmt(parcel)} 亩，按{band_text}每块不低于供应总面积的{_pct(share_min)}"
                         f"（{_fmt(share_min * parcel)} 亩）；最小一块 {_fmt(pieces[i_min])} 亩，占 {_pct(shares[i_min])}")
    figures["pieces_below_min"] = below

    # -- banned cases (第十五条)
    banned = [f for f in BANNED if getattr(case, f)]
    figures["banned_cases"] = banned
    if banned:
        citations.append(CITE_BANNED)
    for f in banned:
        line, text = BANNED[f]
        blocks.append(f"属于不得分割转让的情形：{text}")
        citations.append(Citation(line, text))

    # -- 标准地 (000:1196)
    figures.update({"standard_land": case.standard_land,
                    "agreed_investment_intensity_met": case.agreed_investment_intensity_met,
                    "agreed_far_met": case.agreed_far_met})
    if case.standard_land:
        citations.append(CITE_STANDARD)
        for value, label in ((case.agreed_investment_intensity_met, "固定资产投资强度"),
                             (case.agreed_far_met, "建筑容积率")):
            if value is None:
                blocks.append(f"标准地：未确认已达到出让合同和履约监管协议约定的{label}")
            elif not value:
                blocks.append(f"标准地：尚未达到出让合同和履约监管协议约定的{label}")

    # -- buildings under construction (000:1229)
    ratio_min = rules["construction_investment_ratio_min"]
    figures.update({"under_construction": case.under_construction, "investment_ratio": case.investment_ratio,
                    "construction_investment_ratio_min": ratio_min})
    if case.under_construction:
        citations.append(CITE_CONSTRUCTION)
        if case.investment_ratio is None:
            blocks.append(f"在建工程：未提供已完成投资比例，须达到{_pct(ratio_min)}以上")
        elif case.investment_ratio < ratio_min - _EPS:
            blocks.append(f"在建工程已完成投资 {_pct(case.investment_ratio)}，未达到{_pct(ratio_min)}；"
                          "可依法办理预告登记，待开发投资达到转让条件时再办理转移登记")
            citations.append(CITE_PREREGISTER)
        else:
            notes.append(f"在建工程已完成投资 {_pct(case.investment_ratio)}，达到{_pct(ratio_min)}以上")

    # -- remaining term (000:1216)
    remaining = None
    if case.term_years is not None and case.years_used is not None:
        remaining = case.term_years - case.years_used
        citations.append(CITE_TERM)
        if remaining <= 0:
            blocks.append(f"原约定使用年限 {_fmt(case.term_years)} 年，已使用 {_fmt(case.years_used)} 年，使用年期已届满")
        else:
            notes.append(f"受让人取得的使用年限为剩余年限：{_fmt(case.term_years)} − {_fmt(case.years_used)} = "
                         f"{_fmt(remaining)} 年")
    elif case.term_years is not None or case.years_used is not None:
        notes.append("原约定使用年限和已使用年限须同时提供，才能计算剩余年限")
    figures.update({"term_years": case.term_years, "years_used": case.years_used, "remaining_term_years": remaining})

    # -- price (000:1218): does not block, lets the government buy first
    price_ratio_min = rules["price_below_market_ratio"]
    priority = None
    ratio = None
    if case.declared_price_wan is not None and case.market_price_wan is not None:
        if case.market_price_wan <= 0:
            raise ValidationFailed(Problem("输入", "market_price_wan", "市场价格应大于 0"))
        ratio = case.declared_price_wan / case.market_price_wan
        priority = ratio < price_ratio_min
        citations += [CITE_PRICE, CITE_PRICE_DEFAULT]
        if priority:
            notes.append(f"申报价格 {_fmt(case.declared_price_wan)} 万元，为市场价格 {_fmt(case.market_price_wan)} 万元的 "
                         f"{_pct(ratio)}，低于{_pct(price_ratio_min)}，属明显低于市场价格，市、县人民政府可行使优先购买权")
        else:
            notes.append(f"申报价格为市场价格的 {_pct(ratio)}，不低于{_pct(price_ratio_min)}，不触发政府优先购买权")
    figures.update({"declared_price_wan": case.declared_price_wan, "market_price_wan": case.market_price_wan,
                    "price_to_market_ratio": ratio, "price_below_market_ratio": price_ratio_min,
                    "government_priority_purchase": priority})

    # -- 划拨 (000:1206) and co-owned land (000:1210): conditions to note
    figures.update({"allocated_land": case.allocated_land, "government_approval_required": case.allocated_land,
                    "co_owned": case.co_owned})
    if case.allocated_land:
        citations.append(CITE_ALLOCATED)
        notes.append("划拨取得的建设用地使用权，须向市、县自然资源部门申请，经有批准权的人民政府批准")
    if case.co_owned:
        citations.append(CITE_CO_OWNED)
        notes.append("属共有权利，须取得共有权人同意转让的书面意见")

    # -- documents (000:1222–1235)
    citations.append(CITE_DOCUMENTS)
    required = required_documents(case, rules)
    supplied = {_norm(d) for d in case.documents}
    known = {_norm(d) for d in required}
    missing = [d for d in required if _norm(d) not in supplied]
    unrecognised = [d for d in case.documents if _norm(d) not in known]
    figures.update({"documents": list(case.documents), "required_documents": required,
                    "missing_documents": missing, "unrecognised_documents": unrecognised})
    if missing:
        notes.append(f"缺少 {len(missing)} 项申请材料：" + "、".join(missing))
    if unrecognised:
        notes.append("以下材料名称不在所需材料清单中（请核对名称）：" + "、".join(unrecognised))

    if blocks:
        outcome = "ineligible"
        head = f"不得分割转让：{len(blocks)} 项不符合"
    elif missing:
        outcome = "incomplete"
        head = "分割转让条件符合，但申请材料不全，应告知当事人补齐后受理"
    else:
        outcome = "eligible"
        head = "符合分割转让条件，申请材料齐全"
    return Verdict(RULE, RULE_ID, outcome, OUTCOMES[outcome], figures, [head, *blocks, *notes], citations,
                   rulebook.label)


EXAMPLE = {
    "parcel_area_mu": 120.0,
    "pieces_mu": [72.0, 48.0],
    "standard_land": True,
    "agreed_investment_intensity_met": True,
    "agreed_far_met": True,
    "under_construction": False,
    "documents": [
        "建设用地使用权分割转让申请书",
        "不动产权证（或土地使用证和房产证）",
        "出让合同、租赁合同或划拨决定书",
        "分割转让批准意见",
        "国有建设用地使用权分割转让合同",
        "地上建筑物合法来源证明",
        "权籍调查表",
        "土地勘测定界报告书",
    ],
    "declared_price_wan": 2600.0,
    "market_price_wan": 3000.0,
    "term_years": 50,
    "years_used": 8,
}

CHECK = RuleCheck(
    name=RULE, rule_id=RULE_ID, title="分割转让资格审查", input_type=SplitTransferCase,
    run=check_split_transfer, outcomes=OUTCOMES, example=EXAMPLE,
    notes="Parcels under 30 亩 are refused (30 亩 itself is considered). Below 100 亩 every piece must be ≥ 30% of "
          "the supplied area, above 100 亩 ≥ 20% (exact 30%/20% pass). 000:1198 says both “100 亩以下” and “100 亩以上”, "
          "which overlap at exactly 100 亩: the rulebook's `exactly_100_mu_reading` decides (\"small\" = 30%, the "
          "shipped setting; \"large\" = 20%). Pieces must number at least 2 and add up to the parcel within "
          "`piece_sum_tolerance_mu`. Under-construction buildings need ≥ 25% of the investment done (25% passes); "
          "the alternative in 000:1229 (合同约定投资开发利用条件 met) is not modelled. Any 第十五条 case, an unmet "
          "标准地 condition (or one not confirmed) or an expired term makes the case `ineligible`; otherwise missing "
          "documents (matched by name, ignoring spaces and bracket width) make it `incomplete`. 划拨 land is flagged "
          "`government_approval_required`; a declared price below `price_below_market_ratio` (example default 0.8) "
          "of the market price sets `government_priority_purchase`. Applies only inside the 产业集聚区 (000:1254).",
)
