"""Who may see and do what (DOMAIN.md §1) — pure rules, no I/O.

A :class:`Principal` is the caller of a use case: a signed-in official, department or
enterprise, or the anonymous public. Its *scope* says which parcels it may see: every
parcel (city level), those of some counties and/or zones (county admins, zone managers,
county-level departments), those its enterprise occupies, or — for the public — only the
parcels on the published supply list. Services turn the scope into a query condition
(``services.access``); this module decides, without touching a database, what each role
may do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .vocabulary import Labelled, LandState

#: What the public sees is the land on the current published editions of the 年度可供土地清单
#: (000:757) — ``services.access.public_parcel_condition``, the one definition every reader uses.
#: Of a published entry's parcel, the public sees it while its state is one of these (an offered
#: parcel that has since been supplied is no longer offered): the candidates of a list (增量:
#: 储备, 批而未供; 存量: 闲置, 低效, 收回) and 可供.
OFFERED_STATES: frozenset[str] = frozenset({
    LandState.RESERVE.value, LandState.APPROVED_UNSUPPLIED.value, LandState.LISTED.value,
    LandState.IDLE.value, LandState.INEFFICIENT.value, LandState.RECLAIMED.value})
#: Before any edition has been published (a database of records imported from lists approved on
#: paper before the platform), the public sees the parcels in these states.
PUBLIC_STATES: frozenset[str] = frozenset({LandState.LISTED.value})


class Role(Labelled):
    """An account's role (DOMAIN.md §1)."""

    CITY_ADMIN = "city_admin", "市级管理员"
    COUNTY_ADMIN = "county_admin", "县(市、区)管理员"
    ZONE_MANAGER = "zone_manager", "产业集聚区管理机构"
    DEPARTMENT = "department", "职能部门"
    ENTERPRISE = "enterprise", "企业"
    PUBLIC = "public", "社会公众"


class Action(StrEnum):
    """What a caller may ask to do; :data:`GRANTS` says which roles may."""

    READ_PARCELS = "read_parcels"
    EDIT_PARCELS = "edit_parcels"  # register, change, import, undo imports
    READ_CONFIDENTIAL = "read_confidential"  # tax, output, credit codes, officials' names
    EDIT_ENTERPRISES = "edit_enterprises"  # enterprises, occupancy, contracts, agreements
    SUBMIT_FIGURES = "submit_figures"  # yearly tax/output/energy… figures
    RUN_EVALUATION = "run_evaluation"  # 亩均效益评价, publicity, objections' decisions
    READ_AUDIT = "read_audit"
    MANAGE_USERS = "manage_users"
    EXPORT = "export"


_OFFICIALS = frozenset({Role.CITY_ADMIN, Role.COUNTY_ADMIN, Role.ZONE_MANAGER})

GRANTS: dict[Action, frozenset[Role]] = {
    Action.READ_PARCELS: frozenset(Role),
    Action.EDIT_PARCELS: _OFFICIALS,
    Action.READ_CONFIDENTIAL: _OFFICIALS | {Role.DEPARTMENT, Role.ENTERPRISE},
    Action.EDIT_ENTERPRISES: _OFFICIALS,
    Action.SUBMIT_FIGURES: frozenset({Role.CITY_ADMIN, Role.DEPARTMENT}),
    Action.RUN_EVALUATION: frozenset({Role.CITY_ADMIN}),
    Action.READ_AUDIT: _OFFICIALS,
    Action.MANAGE_USERS: frozenset({Role.CITY_ADMIN}),
    Action.EXPORT: _OFFICIALS | {Role.DEPARTMENT},
}

#: Which jurisdiction kinds an account of each role may be bound to (None: no jurisdiction).
ROLE_JURISDICTION_KINDS: dict[Role, frozenset[str | None]] = {
    Role.CITY_ADMIN: frozenset({"city"}),
    Role.COUNTY_ADMIN: frozenset({"county", "management_area"}),
    Role.ZONE_MANAGER: frozenset({"zone"}),
    Role.DEPARTMENT: frozenset({"city", "county", "management_area"}),
    Role.ENTERPRISE: frozenset({None}),
    Role.PUBLIC: frozenset({None}),
}


@dataclass(frozen=True)
class Principal:
    """The caller of a use case.

    ``zone_ids`` are the 产业集聚区 whose parcels the caller may see; ``county_ids`` the
    counties whose parcels outside any zone it may see (a zone inside a county's territory
    may be administered by a 管委会 directly under the city — 经开区 lies in 魏都区 — and
    then is not the county's); ``everywhere`` means every parcel (city-level accounts). An enterprise sees the parcels
    it occupies (``enterprise_id``); the public sees only the published supply list.
    """

    username: str
    role: Role
    user_id: int | None = None
    display_name: str = ""
    jurisdiction_id: int | None = None
    jurisdiction_name: str | None = None
    everywhere: bool = False
    county_ids: frozenset[int] = field(default_factory=frozenset)
    zone_ids: frozenset[int] = field(default_factory=frozenset)
    enterprise_id: int | None = None
    department: str | None = None

    @property
    def is_public(self) -> bool:
        return self.role is Role.PUBLIC

    @property
    def actor(self) -> str:
        """The name written into the change log for this caller's writes."""
        return self.username

    def may(self, action: Action) -> bool:
        """Whether the role may do ``action`` at all (the scope then limits where)."""
        return self.role in GRANTS[action]

    def covers(self, county_id: int | None, zone_id: int | None) -> bool:
        """Whether a parcel in this county/zone lies within the caller's jurisdiction.

        Enterprises and the public are not bound to a jurisdiction: the parcel-level
        checks (occupancy, published state) decide for them.
        """
        if self.everywhere:
            return True
        if zone_id is not None:
            return zone_id in self.zone_ids
        return county_id is not None and county_id in self.county_ids

    def sees_parcel(self, county_id: int | None, zone_id: int | None, on_public_list: bool,
                    occupied_by_own_enterprise: bool = False) -> bool:
        """Whether the caller may read this parcel at all; ``on_public_list``: whether the
        parcel is on the published supply list (``services.access.public_parcel_condition``)."""
        if self.role is Role.PUBLIC:
            return on_public_list
        if self.role is Role.ENTERPRISE:
            return occupied_by_own_enterprise or on_public_list
        return self.covers(county_id, zone_id)

    def sees_confidential_of(self, county_id: int | None, zone_id: int | None,
                             enterprise_id: int | None = None) -> bool:
        """Whether the caller may read the tax, output, credit code and officials' names
        attached to a parcel in this county/zone (and, for enterprises, only their own)."""
        if not self.may(Action.READ_CONFIDENTIAL):
            return False
        if self.role is Role.ENTERPRISE:
            return enterprise_id is not None and enterprise_id == self.enterprise_id
        return self.covers(county_id, zone_id)

    def can_edit_in(self, county_id: int | None, zone_id: int | None, action: Action = Action.EDIT_PARCELS) -> bool:
        """Whether the caller may change records of a parcel in this county/zone."""
        return self.may(action) and self.covers(county_id, zone_id)


#: The anonymous caller: the 云上看地 public face.
ANONYMOUS = Principal(username="anonymous", role=Role.PUBLIC, display_name="社会公众")

#: The command line and system jobs act with full rights under their own actor name.
def system_principal(actor: str = "system") -> Principal:
    """A city-level principal for the CLI and background jobs (the shell user is trusted)."""
    return Principal(username=actor, role=Role.CITY_ADMIN, display_name=actor, everywhere=True)


#: The system itself (CLI, jobs): every parcel, every right.
SYSTEM = system_principal()


def as_principal(actor: "Principal | str") -> Principal:
    """Services accept a Principal (API callers) or a plain actor name (CLI, jobs, tests),
    which acts with system rights under that name."""
    return actor if isinstance(actor, Principal) else system_principal(actor)
