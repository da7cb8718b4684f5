"""Controlled vocabularies of the land registry, each value with its Chinese label.

Values are stable English identifiers stored in the database; labels are what users read.
See docs/glossary.md for the full Chinese ↔ identifier table.
"""

from __future__ import annotations

from enum import StrEnum


class Labelled(StrEnum):
    """A StrEnum whose members carry a Chinese label."""

    label: str

    def __new__(cls, value: str, label: str):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj

    @classmethod
    def parse(cls, value: str, field: str = ""):
        """Accept the English value or the Chinese label; raise ValueError (Chinese) otherwise."""
        for member in cls:
            if value in (member.value, member.label):
                return member
        allowed = "、".join(f"{m.label}({m.value})" for m in cls)
        raise ValueError(f"取值“{value}”无效，应为：{allowed}")

    @classmethod
    def choices(cls) -> list[dict[str, str]]:
        return [{"value": m.value, "label": m.label} for m in cls]


class LandState(Labelled):
    """Lifecycle state of a parcel (DOMAIN.md §4)."""

    RESERVE = "reserve", "储备"
    APPROVED_UNSUPPLIED = "approved_unsupplied", "批而未供"
    LISTED = "listed", "可供"
    SUPPLIED = "supplied", "已供应"
    UNDER_CONSTRUCTION = "under_construction", "在建"
    COMPLETED = "completed", "竣工验收"
    IN_PRODUCTION = "in_production", "达产验收"
    OPERATING = "operating", "正常运营"
    IDLE = "idle", "闲置"
    INEFFICIENT = "inefficient", "低效"
    RECTIFYING = "rectifying", "整改中"
    DISPOSING = "disposing", "处置中"
    RECLAIMED = "reclaimed", "收回"
    SPLIT_TRANSFERRED = "split_transferred", "分割/转让"


class InefficiencyCategory(Labelled):
    """The six 低效用地 categories (000:1056–1068, DOMAIN.md R4)."""

    INDUSTRY_TRANSFORMATION = "industry_transformation", "产业转型类"
    CONSTRUCTION_STALLED = "construction_stalled", "停建缓建类"
    BELOW_CONTRACT = "below_contract", "开发未达标类"
    PRODUCTION_HALTED = "production_halted", "停产半停产类"
    OUTPUT_SHORTFALL = "output_shortfall", "产出未达标类"
    OTHER = "other", "其他"


class SupplyMethod(Labelled):
    """供地方式."""

    TRANSFER = "transfer", "出让"
    ALLOCATION = "allocation", "划拨"
    LEASE = "lease", "租赁"
    LEASE_THEN_TRANSFER = "lease_then_transfer", "先租后让"
    LEASE_AND_TRANSFER = "lease_and_transfer", "租让结合"
    CAPITAL_CONTRIBUTION = "capital_contribution", "作价出资"


class LandSource(Labelled):
    """Where land on the supply list comes from (年度可供土地清单, 000:757)."""

    NEW = "new", "增量"
    APPROVED_UNSUPPLIED = "approved_unsupplied", "批而未供"
    IDLE = "idle", "闲置"
    INEFFICIENT = "inefficient", "低效"
    RESERVE = "reserve", "储备"


class OccupancyRole(Labelled):
    """How an enterprise uses a parcel (matters for 亩均税收, DOMAIN.md R1)."""

    OWNER = "owner", "权利人"
    TENANT = "tenant", "承租人"


class AcceptanceResult(Labelled):
    """Result of a 竣工联合验收 or 达产验收."""

    PENDING = "pending", "未验收"
    PASSED = "passed", "通过"
    FAILED = "failed", "未通过"


class InspectionKind(Labelled):
    """An acceptance inspection (R9, 000:1020-1030): first inspection or re-inspection (复验)
    after rectification, of completion or of production."""

    COMPLETION = "completion", "竣工联合验收"
    PRODUCTION = "production", "达产验收"
    COMPLETION_REINSPECTION = "completion_reinspection", "竣工复验"
    PRODUCTION_REINSPECTION = "production_reinspection", "达产复验"


class IdleNoticeKind(Labelled):
    """What the idle-land workflow records (R3, 闲置土地处置办法第八条、第十四条)."""

    FEE_NOTICE = "fee_notice", "闲置费征缴决定书"
    RECLAIM_PROPOSAL = "reclaim_proposal", "无偿收回建议"
    GOVERNMENT_DELAY = "government_delay", "政府原因造成动工延迟的认定"


class BuildingDisposal(Labelled):
    """How the buildings are dealt with when the land is taken back, as the contract says
    (000:1034)."""

    RESIDUAL_COMPENSATION = "residual_compensation", "残值补偿"
    FREE_RECLAIM = "free_reclaim", "无偿收回"
    RESTORE = "restore", "恢复原状"


class JurisdictionKind(Labelled):
    """Kinds of jurisdiction (DOMAIN.md §3)."""

    CITY = "city", "市"
    COUNTY = "county", "县(市、区)"
    MANAGEMENT_AREA = "management_area", "管委会管理区"
    ZONE = "zone", "产业集聚区"


class FigureIndicator(Labelled):
    """Yearly enterprise figures supplied by departments (DOMAIN.md R1/R2)."""

    TAX_PAID = "tax_paid", "实缴税金"
    TAX_REFUNDED = "tax_refunded", "退税及政策性减免"
    INDUSTRIAL_OUTPUT = "industrial_output", "工业总产值"
    VALUE_ADDED = "value_added", "工业增加值"
    REVENUE = "revenue", "营业收入"
    PROFIT = "profit", "利润总额"
    ENERGY_USE = "energy_use", "综合能耗"
    EMISSIONS = "emissions", "主要污染物排放当量"
    RD_SPENDING = "rd_spending", "研发经费支出"
    EMPLOYEES = "employees", "从业人员"


#: Unit of each figure as stored.
FIGURE_UNITS: dict[FigureIndicator, str] = {
    FigureIndicator.TAX_PAID: "万元",
    FigureIndicator.TAX_REFUNDED: "万元",
    FigureIndicator.INDUSTRIAL_OUTPUT: "万元",
    FigureIndicator.VALUE_ADDED: "万元",
    FigureIndicator.REVENUE: "万元",
    FigureIndicator.PROFIT: "万元",
    FigureIndicator.ENERGY_USE: "吨标准煤",
    FigureIndicator.EMISSIONS: "吨",
    FigureIndicator.RD_SPENDING: "万元",
    FigureIndicator.EMPLOYEES: "人",
}

#: The department that normally supplies each figure.
FIGURE_DEPARTMENTS: dict[FigureIndicator, str] = {
    FigureIndicator.TAX_PAID: "税务局",
    FigureIndicator.TAX_REFUNDED: "税务局",
    FigureIndicator.INDUSTRIAL_OUTPUT: "统计局",
    FigureIndicator.VALUE_ADDED: "统计局",
    FigureIndicator.REVENUE: "统计局",
    FigureIndicator.PROFIT: "统计局",
    FigureIndicator.ENERGY_USE: "发展改革委",
    FigureIndicator.EMISSIONS: "生态环境局",
    FigureIndicator.RD_SPENDING: "科技局",
    FigureIndicator.EMPLOYEES: "人力资源和社会保障局",
}


#: GB/T 21010-2017 land-use classes the platform meets most (工矿仓储 and neighbours).
LAND_USE_LABELS: dict[str, str] = {
    "0601": "工业用地",
    "0602": "采矿用地",
    "0603": "盐田",
    "0604": "仓储用地",
    "0501": "零售商业用地",
    "0505": "商务金融用地",
    "0809": "公用设施用地",
    "1001": "铁路用地",
    "1004": "城镇村道路用地",
}


def land_use_label(code: str | None) -> str | None:
    """"0601 工业用地" for a known code, the code itself otherwise."""
    if code is None:
        return None
    name = LAND_USE_LABELS.get(code)
    return f"{code} {name}" if name else code
