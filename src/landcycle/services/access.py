"""Jurisdiction scoping in queries: the :class:`Principal`'s scope as SQL conditions.

Every service that reads parcels (lists, cards, OGC features, tiles, exports) filters with
:func:`parcel_condition`, so one function decides what each caller can see.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from ..domain.access import OFFERED_STATES, PUBLIC_STATES, Action, Principal, Role
from ..domain.errors import Forbidden, NotFound
from ..storage.schema import Occupancy, Parcel
from ..storage.supply_schema import SupplyList, SupplyListEntry


def public_parcel_condition(parcel=Parcel) -> ColumnElement[bool]:
    """SQL condition on ``parcel`` selecting what the public sees — the one definition of the
    public list (云上看地 list and page, API parcel reads, the ``supply`` tile layer): parcels with
    a *current* entry (``is_current``: on a published edition no later published edition has
    replaced) whose state still offers them (:data:`OFFERED_STATES`). Before any edition has ever
    been published, the parcels in :data:`PUBLIC_STATES` (records of lists approved before the
    platform). See docs/supply-list.md."""
    # Own aliases, never correlated with the caller's query (which may join the entries itself).
    entry, edition = SupplyListEntry.__table__.alias("public_entry"), SupplyList.__table__.alias("public_edition")
    on_list = exists(select(entry.c.id).where(entry.c.parcel_id == parcel.id, entry.c.is_current.is_(True))
                     .correlate_except(entry))
    any_edition = exists(select(edition.c.id).where(edition.c.status.in_(("published", "superseded")))
                         .correlate_except(edition))
    return or_(and_(parcel.state.in_(sorted(OFFERED_STATES)), on_list),
               and_(~any_edition, parcel.state.in_(sorted(PUBLIC_STATES))))


def parcel_condition(p: Principal, parcel=Parcel) -> ColumnElement[bool]:
    """SQL condition on ``parcel`` (the Parcel class or an alias/table) selecting what ``p`` may read."""
    published = public_parcel_condition(parcel)
    if p.role is Role.PUBLIC:
        return published
    if p.role is Role.ENTERPRISE:
        own = exists(select(Occupancy.id).where(Occupancy.parcel_id == parcel.id,
                                                Occupancy.enterprise_id == p.enterprise_id))
        return or_(published, own) if p.enterprise_id is not None else published
    if p.everywhere:
        return true()
    conds = []
    if p.zone_ids:
        conds.append(parcel.zone_id.in_(sorted(p.zone_ids)))
    if p.county_ids:  # the county's parcels outside any zone (zones go by who administers them)
        conds.append(and_(parcel.zone_id.is_(None), parcel.county_id.in_(sorted(p.county_ids))))
    return or_(*conds) if conds else false()


def require(p: Principal, action: Action) -> None:
    """Raise Forbidden (403) unless the role may do ``action`` at all."""
    if not p.may(action):
        if p.is_public:
            from ..domain.errors import Unauthorized
            raise Unauthorized()
        raise Forbidden(f"{p.role.label}无权执行此操作")


def require_parcel_edit(p: Principal, parcel: Parcel, action: Action = Action.EDIT_PARCELS) -> None:
    """Raise unless ``p`` may change records of this parcel; a parcel outside the caller's
    view is reported as not found (its existence is not revealed)."""
    require(p, action)
    if not p.covers(parcel.county_id, parcel.zone_id):
        raise NotFound("宗地", parcel.code)


def enterprise_condition(p: Principal, enterprise_id_column) -> ColumnElement[bool]:
    """SQL condition selecting enterprises whose confidential data ``p`` may read: those
    occupying a parcel in the caller's jurisdiction (an enterprise: only itself)."""
    if not p.may(Action.READ_CONFIDENTIAL):
        return false()
    if p.role is Role.ENTERPRISE:
        return enterprise_id_column == p.enterprise_id if p.enterprise_id is not None else false()
    if p.everywhere:
        return true()
    return exists(select(Occupancy.id).join(Parcel, Parcel.id == Occupancy.parcel_id).where(
        Occupancy.enterprise_id == enterprise_id_column, and_(parcel_condition(p))))
