"""年度可供土地清单 (the annual supply list, 000:757 "云上供地"): one entry per parcel and list year.

An entry holds what an investor needs beside the parcel's own facts (area, planning conditions,
land source stay on ``parcels`` — one concept, one place): the expected price or cost, the
supply conditions, procedure and cycle, the industries the parcel suits, the 标准地 control
indicators a buyer commits to, and a public office to call. Entries are versioned (optimistic
locking) and audited (一地一档), so every change to a published list is in the change log.

Issue 8 (item 4) adds the list itself: a :class:`SupplyList` is one *edition* of a year's list of
a jurisdiction (the city, or a county publishing its own first, as 魏都 did), compiled as a draft,
submitted for review, published with its approval document and superseded by the next published
edition. Each entry belongs to one edition (``list_id``); a published edition and its entries are
never changed again (a change is a new edition), so every edition stays on file. ``is_current``
marks the entries the public sees (one per parcel at most): set on publishing, cleared when a later
edition covering the parcel is published. ``published_at`` is NULL while an entry is a draft.
Rows written before editions existed (``list_id`` NULL) were moved onto editions by migration 0019.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .schema import Base, Parcel, Versioned, utcnow


class SupplyList(Versioned, Base):
    """One edition of the 年度可供土地清单 of ``year`` for a jurisdiction (city or county).

    ``status``: draft → submitted (for review; returned → draft with a comment) → published
    (with the approval document) → superseded (a later published edition covers all its parcels).
    ``steps`` records who did each step, when, and the reviewer's comments (JSON list, appended).
    """

    __tablename__ = "supply_lists"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("year", "jurisdiction_id", "edition", name="uq_supply_lists_year_jurisdiction_edition"),
        CheckConstraint("status IN ('draft', 'submitted', 'published', 'superseded')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    #: The city (411000) or a county / 管委会 whose list it is.
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    #: 1, 2, … per year and jurisdiction.
    edition: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    #: The published edition this one was copied from (a revision), if any.
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("supply_lists.id"))
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    #: The approval document (批准文件): 文件名称, 文号, 日期 — required to publish.
    document_title: Mapped[str | None] = mapped_column(String(200))
    document_number: Mapped[str | None] = mapped_column(String(100))
    document_date: Mapped[date | None] = mapped_column(Date)
    compiled_by: Mapped[str] = mapped_column(String(100))
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("supply_lists.id"))
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: [{step, actor, at, comment}] in order: compile, submit, return, publish, supersede.
    steps: Mapped[list] = mapped_column(JSON, default=list)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class SupplyListEntry(Versioned, Base):
    """A parcel's entry on one edition (``list_id``) of the 年度可供土地清单 of ``list_year``."""

    __tablename__ = "supply_list_entries"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("list_id", "parcel_id", name="uq_supply_list_entries_list_parcel"),
        # The public sees at most one entry per parcel (services.access.public_parcel_condition).
        Index("uq_supply_list_entries_current_parcel", "parcel_id", unique=True,
              sqlite_where=sql_text("is_current"), postgresql_where=sql_text("is_current")),
        Index("ix_supply_list_entries_parcel", "parcel_id"),
        CheckConstraint("expected_price_wan IS NULL OR expected_price_wan >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    list_year: Mapped[int] = mapped_column(Integer)
    #: The edition the entry is on (NULL only for rows older than editions, none after 0019).
    list_id: Mapped[int | None] = mapped_column(ForeignKey("supply_lists.id"), index=True)
    #: The parcel's kind on the list: reserve / approved_unsupplied (增量), idle / inefficient /
    #: reclaimed (存量), listed (already 可供, carried over) — ``domain.supply_list.CATEGORIES``.
    category: Mapped[str | None] = mapped_column(String(30))
    #: On a published edition that no later published edition has replaced for this parcel.
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
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
