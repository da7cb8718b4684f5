"""年度可供土地清单 (the annual supply list, 000:757 "云上供地"): one entry per parcel and list year.

An entry holds what an investor needs beside the parcel's own facts (area, planning conditions,
land source stay on ``parcels`` — one concept, one place): the expected price or cost, the
supply conditions, procedure and cycle, the industries the parcel suits, the 标准地 control
indicators a buyer commits to, and a public office to call. Entries are versioned (optimistic
locking) and audited (一地一档), so every change to a published list is in the change log.

Issue 8 (compile / review / publish the list, versioned) builds on this table: ``published_at``
is NULL while an entry is a draft; a list-level record (year, edition, status) can reference it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .schema import Base, Parcel, Versioned, utcnow


class SupplyListEntry(Versioned, Base):
    """A parcel's entry on the 年度可供土地清单 of ``list_year`` (public once published)."""

    __tablename__ = "supply_list_entries"
    __audited__ = True
    __table_args__ = (
        # Leads with parcel_id: also the index for a parcel's entries.
        UniqueConstraint("parcel_id", "list_year", name="uq_supply_list_entries_parcel_year"),
        CheckConstraint("expected_price_wan IS NULL OR expected_price_wan >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    list_year: Mapped[int] = mapped_column(Integer)
    #: Planned 供地方式 (SupplyMethod value), e.g. "transfer" (挂牌出让).
    supply_method: Mapped[str | None] = mapped_column(String(30))
    #: 起始价 or land cost (成本), 万元, for the whole parcel.
    expected_price_wan: Mapped[float | None] = mapped_column(Float)
    #: 供地条件: 净地 preconditions (000:964), infrastructure, what the buyer must accept.
    supply_conditions: Mapped[str] = mapped_column(Text, default="")
    #: 供应程序, e.g. "项目入驻评审 → 挂牌出让 → 签订出让合同和履约监管协议".
    supply_procedure: Mapped[str] = mapped_column(Text, default="")
    #: 供地周期, e.g. "挂牌出让，约 40 个工作日".
    supply_cycle: Mapped[str] = mapped_column(String(200), default="")
    #: 适宜产业 (lead-industry names of the zone, e.g. ["装备制造", "新材料"]).
    suitable_industries: Mapped[list] = mapped_column(JSON, default=list)
    #: 标准地 project class: a key of the rulebook's ``standard_land.classes``.
    standard_land_class: Mapped[str | None] = mapped_column(String(40))
    #: 标准地 control indicators the buyer commits to, keyed as in the rulebook's
    #: ``standard_land.classes.<class>`` (plot_ratio_min, investment_intensity_min, …).
    standard_indicators: Mapped[dict] = mapped_column(JSON, default=dict)
    #: A public office and its phone (never a person's name or private number).
    contact_office: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    #: When the entry was published on the list; NULL while it is a draft.
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    parcel: Mapped[Parcel] = relationship()
