"""分割转让 applications (issue 7, R8; 000:1182–1256): the application with its pieces, and the
append-only lineage that links a split parcel to the parcels cut from it.

* ``split_applications`` — one application to split one parcel: applicant, declared and market
  price (万元), the statements the platform cannot check itself, the documents carried (JSON,
  ``[{kind, title, number, date}]`` as ``parcel_transitions``; ``kind`` is the checklist item of
  000:1222–1235), its status (submitted → approved / rejected / withdrawn) and the R8 verdict
  as filed. Versioned (decisions refuse stale versions) and audited: its rows go to the parent
  parcel's 一地一档.
* ``split_pieces`` — the pieces as submitted (geometry, GK area, transferee) and, once approved,
  the child parcel each became.
* ``parcel_lineage`` — parent → child, per approved application. Append-only: database triggers
  (migration 0011) refuse UPDATE and DELETE. Audited under the child, whose archive it begins.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .schema import Base, Enterprise, Parcel, Versioned, utcnow
from .spatial import GeometryColumn


class SplitApplication(Versioned, Base):
    """An application to split one parcel and transfer the pieces (R8)."""

    __tablename__ = "split_applications"
    __audited__ = True
    __table_args__ = (Index("ix_split_applications_parcel_status", "parcel_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The parcel to split (the change log files the application in its archive).
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    #: The 土地使用权人 applying (an enterprise occupying the parcel as 权利人).
    applicant_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    declared_price_wan: Mapped[float] = mapped_column(Float)
    market_price_wan: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    # The applicant's statements on the 第十五条 cases and co-ownership (not in the registry).
    includes_public_facilities: Mapped[bool] = mapped_column(Boolean, default=False)
    breaks_planning_or_safety: Mapped[bool] = mapped_column(Boolean, default=False)
    other_legal_bar: Mapped[bool] = mapped_column(Boolean, default=False)
    co_owned: Mapped[bool] = mapped_column(Boolean, default=False)
    #: submitted / approved / rejected / withdrawn
    status: Mapped[str] = mapped_column(String(12))
    #: [{kind, title, number, date}, …]; ``kind`` is a checklist item (000:1222–1235).
    documents: Mapped[list] = mapped_column(JSON, default=list)
    #: The R8 verdict as filed (``Verdict.to_dict()``), with the lifecycle guard's reasons.
    verdict: Mapped[dict] = mapped_column(JSON)
    submitted_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    #: The verdict the decision was taken on (approval re-checks the stored facts).
    decision_verdict: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))

    parcel: Mapped[Parcel] = relationship()
    applicant: Mapped[Enterprise] = relationship()
    pieces: Mapped[list[SplitPiece]] = relationship(back_populates="application", order_by="SplitPiece.seq")


class SplitPiece(Base):
    """One piece of a split as submitted, and the child parcel it became."""

    __tablename__ = "split_pieces"
    __table_args__ = (UniqueConstraint("application_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("split_applications.id"), index=True)
    #: 1, 2, … in the order submitted.
    seq: Mapped[int] = mapped_column(Integer)
    geometry = mapped_column(GeometryColumn(), nullable=False)
    #: Measured in the piece's own CGCS2000 3° GK zone, like every parcel.
    area_m2: Mapped[float] = mapped_column(Float)
    area_mu: Mapped[float] = mapped_column(Float)
    #: Who receives the piece; both empty: the applicant keeps it.
    transferee_name: Mapped[str | None] = mapped_column(String(200))
    transferee_credit_code: Mapped[str | None] = mapped_column(String(18))
    child_parcel_id: Mapped[int | None] = mapped_column(ForeignKey("parcels.id"))

    application: Mapped[SplitApplication] = relationship(back_populates="pieces")
    child: Mapped[Parcel | None] = relationship()


class ParcelLineage(Base):
    """Parent → child of one approved split (append-only)."""

    __tablename__ = "parcel_lineage"
    __audited__ = True
    __table_args__ = (Index("ix_parcel_lineage_parent", "parent_parcel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"))
    child_parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("split_applications.id"))
    piece_id: Mapped[int] = mapped_column(ForeignKey("split_pieces.id"))
    #: The child's term: it ends when the parent's contract term ends (000:1216).
    term_end_date: Mapped[date | None] = mapped_column(Date)
    remaining_term_years: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def parcel_id(self) -> int:
        """The parcel whose 一地一档 files this row (``storage.history``): the child's, whose
        archive begins with where it came from."""
        return self.child_parcel_id
