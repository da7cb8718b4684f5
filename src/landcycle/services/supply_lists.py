"""年度可供土地清单 editions (issue 8, item 4; 000:757): compile, edit, review, publish, revise.

An edition is one version of a year's list of a jurisdiction — the city (411000) or a county /
管委会 publishing its own first, as 魏都 did (000:757: 魏都 by 2021-09-30, city-wide by end 2021).
Rules (categories, statuses, default terms): ``domain.supply_list``; defaults: rulebook
``[supply_list]``.

**Compile** (:func:`compile_list`): a draft with every candidate parcel of the jurisdiction —
增量 (储备, 批而未供, and 可供 parcels carried over) and 存量 (闲置, 低效, 收回) — each with its
category and the default cost/price, conditions, procedure and cycle of its category. While a
draft, entries are added, edited and removed (:func:`add_entry`, :func:`update_entry`,
:func:`remove_entry`). **Review**: :func:`submit` (draft → submitted), :func:`return_list`
(submitted → draft, with the reviewer's comments), :func:`publish` (submitted → published, with
the approval document 文件名称/文号/日期). **Revise** (:func:`revise`): a published edition is
never changed; a change is a new draft edition copied from it, published again.

**Publishing is what makes a parcel public** (``services.access.public_parcel_condition``): the
new edition's entries become *current*; every other current entry of a parcel inside the
edition's jurisdiction is no longer current (so parcels dropped from the list leave the public
view), and an edition left with no current entry is marked superseded by this one. A city
edition covers every parcel; a county edition the parcels a county admin of it covers. In the
same transaction the 增量 parcels take the lifecycle step ``list_for_supply`` (储备/批而未供 →
可供) and 收回 parcels ``relist``, with the list's approval document; 闲置/低效 parcels have no
such step and keep their state (they are on the list as 存量 to be disposed of and supplied).

**Who** — compile, edit, submit, return and publish: the city admin (any list) and, for a county
or 管委会 list, the county admin of that jurisdiction (the seed has the zones prepare and the
自然资源 department lead, 000:757; approval is by the jurisdiction whose list it is). Others: 403;
a list outside the caller's view: 404. Read: officials and departments read published editions
of every jurisdiction and drafts of the lists they may edit (city-level accounts: all); the
public reads the published list through ``services.supply`` only; enterprises: 403.
Every step is versioned (``expected_version`` of the edition: 409 when stale) and audited.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ..domain import lifecycle as lc
from ..domain import supply_list as sl
from ..domain.access import Action, Principal, Role, as_principal
from ..domain.errors import Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from ..domain.rules.standard_land import INDICATORS as STANDARD_INDICATORS
from ..domain.vocabulary import JurisdictionKind, LandState, SupplyMethod, land_use_label
from ..storage.db import Database
from ..storage.schema import Jurisdiction, Parcel
from ..storage.supply_schema import SupplyList, SupplyListEntry
from . import access, accounts, audit, jurisdictions, registry, rules, standard_supply

RECORD = "年度可供土地清单"
LIST_KINDS = (JurisdictionKind.CITY.value, JurisdictionKind.COUNTY.value, JurisdictionKind.MANAGEMENT_AREA.value)
#: The 标准地 project class an entry of a 标准地 parcel starts with (rulebook ``standard_land.classes``).
STANDARD_DEFAULT_CLASS = "traditional_industry"
_TEXT_LIMITS = {"supply_conditions": 4000, "supply_procedure": 2000, "supply_cycle": 200,
                "contact_office": 100, "contact_phone": 40, "standard_land_class": 40}


def settings() -> dict[str, Any]:
    """The rulebook's ``[supply_list]`` section."""
    return dict(rules.load_rulebook().section("supply_list"))


# --------------------------------------------------------------------------- scope and rights
def jurisdiction_scope(s: Session, j: Jurisdiction) -> Principal:
    """The parcels a list of ``j`` covers, as the scope of an admin of ``j`` (``accounts.principal_of``):
    the city every parcel; a county its parcels outside zones and the zones under it; a 管委会 its zones."""
    role = Role.CITY_ADMIN if j.kind == JurisdictionKind.CITY.value else Role.COUNTY_ADMIN
    who = SimpleNamespace(username=f"list:{j.code}", role=role.value, id=None, display_name=j.name,
                          jurisdiction_id=j.id, enterprise_id=None, department=None)
    return accounts.principal_of(s, who)


def _may_edit(p: Principal, lst: SupplyList) -> bool:
    """City admins edit and approve every list; a county admin the lists of its own jurisdiction."""
    if p.role is Role.CITY_ADMIN and p.everywhere:
        return True
    return p.role is Role.COUNTY_ADMIN and p.jurisdiction_id == lst.jurisdiction_id


def _may_read(p: Principal, lst: SupplyList) -> bool:
    if lst.status in ("published", "superseded"):
        return True
    return p.everywhere or _may_edit(p, lst)


def _require_reader(p: Principal) -> None:
    if p.is_public:
        raise Unauthorized()
    if p.role is Role.ENTERPRISE:
        raise Forbidden("企业账号无权查看清单编制；已公布的清单见“云上看地”")
    access.require(p, Action.READ_PARCELS)


def _require_editor(p: Principal, lst: SupplyList) -> None:
    """404 for a list the caller cannot read; 403 for one it reads but may not change."""
    _require_reader(p)
    if not _may_read(p, lst):
        raise NotFound(RECORD, str(lst.id))
    if not _may_edit(p, lst):
        raise Forbidden(f"{p.role.label}无权编制或审核该清单（市级管理员，或本县(市、区)管理员编制本辖区清单）")


# --------------------------------------------------------------------------- input
def _year(year: Any) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ValidationFailed(Problem(RECORD, "year", f"年度应为 2000–2100 的整数，实际为 {year!r}"))
    return year


def _list_jurisdiction(s: Session, key: str) -> Jurisdiction:
    if not isinstance(key, str) or "\x00" in key or len(key) > 100:
        raise ValidationFailed(Problem(RECORD, "jurisdiction", "辖区应为市或县(市、区)、管委会的代码或名称"))
    j = jurisdictions.resolve(s, key, None, RECORD, "jurisdiction")
    if j.kind not in LIST_KINDS:
        raise ValidationFailed(Problem(RECORD, "jurisdiction", f"“{j.name}”不是市或县(市、区)、管委会，不能编制清单"))
    return j


def _entry_changes(record: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Checked entry fields (every problem at once; nothing is written on any)."""
    problems, out = [], {}
    for k, v in changes.items():
        if k not in sl.EDITABLE_FIELDS:
            problems.append(Problem(record, k, f"不能修改的字段，可修改：{'、'.join(sl.EDITABLE_FIELDS)}", "unknown_field"))
        elif k == "expected_price_wan":
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1e9
                                  or v != v):
                problems.append(Problem(record, k, f"成本/价格应为不小于 0 的数字（万元），实际为 {v!r}"))
            else:
                out[k] = None if v is None else float(v)
        elif k == "supply_method":
            if v is not None and v not in {m.value for m in SupplyMethod} | {m.label for m in SupplyMethod}:
                problems.append(Problem(record, k, f"供地方式应为：{'、'.join(m.label for m in SupplyMethod)}，实际为 {v!r}"))
            else:
                out[k] = next((m.value for m in SupplyMethod if v in (m.value, m.label)), None)
        elif k == "suitable_industries":
            if not isinstance(v, list) or not all(isinstance(x, str) and 0 < len(x.strip()) <= 50 for x in v):
                problems.append(Problem(record, k, "适宜产业应为产业名称列表（每项 1–50 字）"))
            else:
                out[k] = [x.strip() for x in v]
        elif k == "standard_indicators":
            known = [key for _f, key, *_ in STANDARD_INDICATORS]
            if not isinstance(v, dict) or not all(key in known and isinstance(x, (int, float))
                                                  and not isinstance(x, bool) and x == x for key, x in v.items()):
                problems.append(Problem(record, k, f"标准地控制指标应为 {{指标: 数值}}，指标可选：{'、'.join(known)}"))
            else:
                out[k] = dict(v)
        else:
            limit = _TEXT_LIMITS[k]
            if v is None and k == "standard_land_class":
                out[k] = None
            elif k == "standard_land_class" and v not in _standard_classes():
                problems.append(Problem(record, k, f"标准地项目类别应为：{'、'.join(_standard_classes())}，实际为 {v!r}"))
            elif not isinstance(v, str) or len(v) > limit or "\x00" in v:
                problems.append(Problem(record, k, f"应为不超过 {limit} 个字符的文字"))
            else:
                out[k] = v.strip()
    if problems:
        raise ValidationFailed(problems)
    return out


def _standard_classes() -> list[str]:
    return list(rules.load_rulebook().section("standard_land")["classes"])


def _document(raw: Any, record: str) -> lc.Document:
    """The approval document {title, number, date} (required; dated no later than today)."""
    if not isinstance(raw, dict):
        raise ValidationFailed(Problem(record, "document", "公布清单须提供批准文件：{title 文件名称, number 文号, date 日期}"))
    docs, problems = lc.parse_documents([{"kind": "supply_list_approval", **raw}], record, audit.local_today())
    if problems:
        raise ValidationFailed([Problem(p.record, p.field.replace("documents[0]", "document"), p.message, p.code)
                                for p in problems])
    return docs[0]


# --------------------------------------------------------------------------- views
def _step(lst: SupplyList, step: str, actor: str, comment: str | None = None) -> None:
    lst.steps = [*(lst.steps or []), {"step": step, "actor": actor, "at": datetime.now(UTC).isoformat(),
                                      "comment": comment}]


def list_summary(s: Session, lst: SupplyList) -> dict[str, Any]:
    """An edition without its entries: status, document, who/when, counts and 亩 (also split
    into 增量/存量, ``by_kind``: :func:`domain.supply_list.kind_totals`)."""
    j = s.get(Jurisdiction, lst.jurisdiction_id)
    entries = s.execute(select(SupplyListEntry.category, Parcel.area_mu)
                        .join(Parcel, Parcel.id == SupplyListEntry.parcel_id)
                        .where(SupplyListEntry.list_id == lst.id)).all()
    n, mu = len(entries), sum(float(a or 0.0) for _c, a in entries)
    current = s.scalar(select(func.count(SupplyListEntry.id)).where(SupplyListEntry.list_id == lst.id,
                                                                   SupplyListEntry.is_current.is_(True)))
    kinds = sl.kind_totals(entries)
    iso = lambda t: audit.as_utc(t).isoformat() if t else None  # noqa: E731
    return {
        "id": lst.id, "year": lst.year, "jurisdiction_code": j.code, "jurisdiction_name": j.name,
        "edition": lst.edition, "status": lst.status, "status_label": sl.STATUSES.get(lst.status, lst.status),
        "title": lst.title, "note": lst.note, "based_on_id": lst.based_on_id,
        "document": ({"title": lst.document_title, "number": lst.document_number,
                      "date": lst.document_date.isoformat() if lst.document_date else None}
                     if lst.document_title else None),
        "compiled_by": lst.compiled_by, "submitted_by": lst.submitted_by, "submitted_at": iso(lst.submitted_at),
        "published_by": lst.published_by, "published_at": iso(lst.published_at),
        "superseded_by_id": lst.superseded_by_id, "superseded_at": iso(lst.superseded_at),
        "steps": list(lst.steps or []), "entry_count": int(n), "area_mu": round(float(mu), 2),
        "current_entries": int(current or 0), "by_kind": kinds, "version": lst.version, "created_at": iso(lst.created_at),
    }


def _entry_rows(s: Session, list_id: int):
    zone, county = aliased(Jurisdiction), aliased(Jurisdiction)
    return s.execute(select(SupplyListEntry, Parcel, zone, county)
                     .join(Parcel, Parcel.id == SupplyListEntry.parcel_id)
                     .outerjoin(zone, zone.id == Parcel.zone_id).join(county, county.id == Parcel.county_id)
                     .where(SupplyListEntry.list_id == list_id).order_by(Parcel.code)).all()


def entry_view(e: SupplyListEntry, p: Parcel, zone: Jurisdiction | None, county: Jurisdiction) -> dict[str, Any]:
    """One entry with the parcel's facts a list prints."""
    return {
        "code": p.code, "location": p.location, "area_mu": round(p.area_mu, 2),
        "county_name": county.name, "zone_name": zone.name if zone else None,
        "state": p.state, "state_label": LandState(p.state).label if p.state in LandState._value2member_map_ else p.state,
        "land_use": p.land_use, "land_use_label": land_use_label(p.land_use),
        "category": e.category, "category_label": sl.category_label(e.category),
        "supply_method": e.supply_method,
        "supply_method_label": SupplyMethod(e.supply_method).label if e.supply_method else None,
        "expected_price_wan": e.expected_price_wan, "supply_conditions": e.supply_conditions,
        "supply_procedure": e.supply_procedure, "supply_cycle": e.supply_cycle,
        "suitable_industries": list(e.suitable_industries or []), "standard_land_class": e.standard_land_class,
        "standard_indicators": dict(e.standard_indicators or {}), "contact_office": e.contact_office,
        "contact_phone": e.contact_phone, "is_current": bool(e.is_current), "version": e.version,
    }


def _full_view(s: Session, lst: SupplyList) -> dict[str, Any]:
    return {**list_summary(s, lst), "entries": [entry_view(*r) for r in _entry_rows(s, lst.id)]}


# --------------------------------------------------------------------------- reading
def _load(s: Session, list_id: int) -> SupplyList:
    lst = s.get(SupplyList, list_id) if isinstance(list_id, int) and 0 < list_id < 2**31 else None
    if lst is None:
        raise NotFound(RECORD, str(list_id))
    return lst


def get_list(db: Database, list_id: int, viewer: Principal | str) -> dict[str, Any]:
    """One edition with its entries (404 for one the viewer may not read)."""
    viewer = as_principal(viewer)
    _require_reader(viewer)
    with db.reader() as s:
        lst = _load(s, list_id)
        if not _may_read(viewer, lst):
            raise NotFound(RECORD, str(list_id))
        return _full_view(s, lst)


def history(db: Database, viewer: Principal | str, *, year: int | None = None,
            jurisdiction: str | None = None) -> dict[str, Any]:
    """Every edition the viewer may read (newest first), optionally of one year / jurisdiction."""
    viewer = as_principal(viewer)
    _require_reader(viewer)
    with db.reader() as s:
        q = select(SupplyList)
        if year is not None:
            q = q.where(SupplyList.year == _year(year))
        if jurisdiction:
            q = q.where(SupplyList.jurisdiction_id == _list_jurisdiction(s, jurisdiction).id)
        rows = s.scalars(q.order_by(SupplyList.year.desc(), SupplyList.jurisdiction_id, SupplyList.edition.desc())).all()
        return {"items": [list_summary(s, x) for x in rows if _may_read(viewer, x)]}


# --------------------------------------------------------------------------- compiling
def candidates(s: Session, j: Jurisdiction) -> list[tuple[Parcel, Jurisdiction | None, Jurisdiction]]:
    """The parcels of ``j`` a list may hold (``domain.supply_list.CANDIDATE_STATES``), by code."""
    zone, county = aliased(Jurisdiction), aliased(Jurisdiction)
    scope = jurisdiction_scope(s, j)
    return s.execute(select(Parcel, zone, county)
                     .outerjoin(zone, zone.id == Parcel.zone_id).join(county, county.id == Parcel.county_id)
                     .where(access.parcel_condition(scope), Parcel.state.in_(sorted(sl.CANDIDATE_STATES)))
                     .order_by(Parcel.code)).all()


def _new_entry(s: Session, lst: SupplyList, p: Parcel, zone: Jurisdiction | None, county: Jurisdiction,
               book: dict[str, Any]) -> SupplyListEntry:
    """A draft entry of ``p`` with its category's default terms."""
    category = sl.category_of(p.state)
    terms = sl.default_terms(book, category, p.area_mu, county.name, list((zone.lead_industries if zone else None) or []))
    klass, indicators = None, {}
    if p.is_standard_land:  # 标准地: the class's control floors of the rulebook in force there (000:962)
        klass = STANDARD_DEFAULT_CLASS
        floors = standard_supply.rulebook_for(s, p).section("standard_land")["classes"][klass]
        indicators = {key: floors[key] for _f, key, *_ in STANDARD_INDICATORS if floors.get(key) is not None}
    return SupplyListEntry(parcel_id=p.id, list_year=lst.year, list_id=lst.id, category=category, is_current=False,
                           standard_land_class=klass, standard_indicators=indicators, **terms)


def _open_edition(s: Session, year: int, jurisdiction_id: int) -> SupplyList | None:
    return s.scalar(select(SupplyList).where(SupplyList.year == year, SupplyList.jurisdiction_id == jurisdiction_id,
                                             SupplyList.status.in_(("draft", "submitted"))))


def _next_edition(s: Session, year: int, jurisdiction_id: int) -> int:
    top = s.scalar(select(func.max(SupplyList.edition)).where(SupplyList.year == year,
                                                              SupplyList.jurisdiction_id == jurisdiction_id))
    return (top or 0) + 1


def compile_list(db: Database, year: int, jurisdiction: str, actor: Principal | str, *,
                 title: str | None = None, note: str | None = None) -> dict[str, Any]:
    """A new draft edition of ``year``'s list of ``jurisdiction`` holding every candidate parcel
    with its category's default terms (rulebook ``[supply_list]``). Refused (422) while another
    edition of the same year and jurisdiction is a draft or under review. Returns the edition."""
    actor = as_principal(actor)
    _require_reader(actor)
    year = _year(year)
    if title is not None and (not isinstance(title, str) or not title.strip() or len(title) > 200):
        raise ValidationFailed(Problem(RECORD, "title", "标题应为 1–200 个字符"))
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise ValidationFailed(Problem(RECORD, "note", "说明不能超过 2000 个字符"))
    book = settings()
    with db.transaction(actor=actor.actor, reason=f"编制 {year} 年度可供土地清单") as s:
        j = _list_jurisdiction(s, jurisdiction)
        lst = SupplyList(year=year, jurisdiction_id=j.id, edition=0, status="draft", title="", compiled_by=actor.actor)
        if not _may_edit(actor, lst):
            raise Forbidden(f"{actor.role.label}无权编制{j.name}的清单（市级管理员，或本县(市、区)管理员编制本辖区清单）")
        if _open_edition(s, year, j.id) is not None:
            raise ValidationFailed(Problem(f"{RECORD}（{j.name} {year}）", "status",
                                           "已有编制中或待审核的版本，请先公布或退回后修改该版本"))
        lst.edition = _next_edition(s, year, j.id)
        lst.title = (title or "").strip() or f"{j.name}{year}年度可供土地清单"
        lst.note = note or ""
        _step(lst, "compile", actor.actor)
        s.add(lst)
        s.flush()
        for p, zone, county in candidates(s, j):
            s.add(_new_entry(s, lst, p, zone, county, book))
        s.flush()
        return _full_view(s, lst)


def revise(db: Database, list_id: int, actor: Principal | str, expected_version: int | None = None,
           note: str | None = None) -> dict[str, Any]:
    """A new draft edition copied from published (or superseded) edition ``list_id`` — entries and
    their terms as published — to be edited and published again. The original is not touched."""
    actor = as_principal(actor)
    _require_reader(actor)
    with db.transaction(actor=actor.actor, reason="修订年度可供土地清单（新版本）") as s:
        base = _load(s, list_id)
        _require_editor(actor, base)
        record = f"{RECORD} {base.id}"
        if base.status not in ("published", "superseded"):
            raise ValidationFailed(Problem(record, "status", "只能从已公布的版本修订；草稿请直接修改"))
        if expected_version is not None:
            audit.check_version(s, base, expected_version, RECORD, str(list_id), _full_view)
        if _open_edition(s, base.year, base.jurisdiction_id) is not None:
            raise ValidationFailed(Problem(record, "status", "已有编制中或待审核的版本，请先公布或退回后修改该版本"))
        lst = SupplyList(year=base.year, jurisdiction_id=base.jurisdiction_id,
                         edition=_next_edition(s, base.year, base.jurisdiction_id), status="draft",
                         based_on_id=base.id, title=base.title, note=note or base.note, compiled_by=actor.actor)
        _step(lst, "revise", actor.actor, f"由第 {base.edition} 版修订")
        s.add(lst)
        s.flush()
        for e in s.scalars(select(SupplyListEntry).where(SupplyListEntry.list_id == base.id)):
            s.add(SupplyListEntry(parcel_id=e.parcel_id, list_year=lst.year, list_id=lst.id, category=e.category,
                                  is_current=False, **{k: getattr(e, k) for k in sl.EDITABLE_FIELDS}))
        s.flush()
        return _full_view(s, lst)


# --------------------------------------------------------------------------- draft edits
def _edit_draft(db: Database, list_id: int, actor: Principal | str, expected_version: int, reason: str,
                change, attempted: dict[str, Any]) -> dict[str, Any]:
    """Run ``change(s, lst)`` on a draft edition (versioned, audited; the edition's version goes up)."""
    actor = as_principal(actor)

    def authorize(_s: Session, lst: SupplyList) -> None:
        _require_editor(actor, lst)

    def apply(s: Session, lst: SupplyList) -> None:
        why = None if lst.status == "draft" else f"清单为“{sl.STATUSES[lst.status]}”状态，只有草稿可以修改" + (
            "；已公布的清单不可更改，请修订为新版本" if lst.status in ("published", "superseded") else "")
        if why:
            raise ValidationFailed(Problem(f"{RECORD} {lst.id}", "status", why, "immutable"))
        change(s, lst)
        lst.updated_at = datetime.now(UTC)  # the edition's version goes up with every edit

    return audit.guarded_update(db, actor, what=RECORD, key=str(list_id), expected_version=expected_version,
                                attempted=attempted, load=lambda s: _load(s, list_id), authorize=authorize,
                                apply=apply, view=_full_view, reason=reason)


def _entry(s: Session, lst: SupplyList, code: str) -> tuple[SupplyListEntry, Parcel]:
    row = s.execute(select(SupplyListEntry, Parcel).join(Parcel, Parcel.id == SupplyListEntry.parcel_id)
                    .where(SupplyListEntry.list_id == lst.id, Parcel.code == registry._code_key(code))).first()
    if row is None:
        raise NotFound(f"清单条目（{RECORD} {lst.id}）", code)
    return row[0], row[1]


def add_entry(db: Database, list_id: int, code: str, actor: Principal | str, expected_version: int,
              changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add parcel ``code`` (a candidate of the list's jurisdiction) to a draft, with its category's
    default terms overridden by ``changes``."""
    checked = _entry_changes(f"宗地 {code}", changes or {})
    book = settings()

    def change(s: Session, lst: SupplyList) -> None:
        j = s.get(Jurisdiction, lst.jurisdiction_id)
        found = [r for r in candidates(s, j) if r[0].code == (code or "").strip().upper()]
        if not found:
            raise ValidationFailed(Problem(f"宗地 {code}", "code", f"不是{j.name}可列入清单的宗地（须为本辖区内"
                                           "储备、批而未供、可供、闲置、低效或收回状态的宗地）", "not_candidate"))
        p, zone, county = found[0]
        if s.scalar(select(SupplyListEntry.id).where(SupplyListEntry.list_id == lst.id,
                                                    SupplyListEntry.parcel_id == p.id)) is not None:
            raise ValidationFailed(Problem(f"宗地 {p.code}", "code", "已在本清单中", "duplicate"))
        e = _new_entry(s, lst, p, zone, county, book)
        for k, v in checked.items():
            setattr(e, k, v)
        s.add(e)

    return _edit_draft(db, list_id, actor, expected_version, f"清单增加宗地 {code}", change,
                       {"add_entry": code, **checked})


def update_entry(db: Database, list_id: int, code: str, changes: dict[str, Any], actor: Principal | str,
                 expected_version: int) -> dict[str, Any]:
    """Edit the terms of parcel ``code``'s entry on a draft (``domain.supply_list.EDITABLE_FIELDS``)."""
    checked = _entry_changes(f"宗地 {code}", changes)
    if not checked:
        raise ValidationFailed(Problem(f"宗地 {code}", "changes", "没有要修改的字段"))

    def change(s: Session, lst: SupplyList) -> None:
        e, _p = _entry(s, lst, code)
        for k, v in checked.items():
            setattr(e, k, v)

    return _edit_draft(db, list_id, actor, expected_version, f"修改清单条目 {code}", change,
                       {"update_entry": code, **checked})


def remove_entry(db: Database, list_id: int, code: str, actor: Principal | str, expected_version: int,
                 reason: str | None = None) -> dict[str, Any]:
    """Take parcel ``code`` off a draft."""
    def change(s: Session, lst: SupplyList) -> None:
        e, _p = _entry(s, lst, code)
        s.delete(e)

    return _edit_draft(db, list_id, actor, expected_version, reason or f"清单移除宗地 {code}", change,
                       {"remove_entry": code})


# --------------------------------------------------------------------------- review
def _review_step(db: Database, list_id: int, step: str, actor: Principal | str, expected_version: int,
                 reason: str, apply_more, attempted: dict[str, Any]) -> dict[str, Any]:
    actor = as_principal(actor)

    def authorize(_s: Session, lst: SupplyList) -> None:
        _require_editor(actor, lst)

    def apply(s: Session, lst: SupplyList) -> None:
        why = sl.step_problem(step, lst.status)
        if why:
            raise ValidationFailed(Problem(f"{RECORD} {lst.id}", "status", why, "immutable"))
        apply_more(s, lst, actor)
        lst.status = sl.STEPS[step][1]

    return audit.guarded_update(db, actor, what=RECORD, key=str(list_id), expected_version=expected_version,
                                attempted=attempted, load=lambda s: _load(s, list_id), authorize=authorize,
                                apply=apply, view=_full_view, reason=reason)


def submit(db: Database, list_id: int, actor: Principal | str, expected_version: int) -> dict[str, Any]:
    """draft → submitted (for review); an empty list is refused."""
    def more(s: Session, lst: SupplyList, who: Principal) -> None:
        if not s.scalar(select(func.count(SupplyListEntry.id)).where(SupplyListEntry.list_id == lst.id)):
            raise ValidationFailed(Problem(f"{RECORD} {lst.id}", "entries", "清单没有任何宗地，不能提交审核"))
        lst.submitted_by, lst.submitted_at = who.actor, datetime.now(UTC)
        _step(lst, "submit", who.actor)

    return _review_step(db, list_id, "submit", actor, expected_version, "提交清单审核", more, {"status": "submitted"})


def return_list(db: Database, list_id: int, actor: Principal | str, expected_version: int,
                comment: str) -> dict[str, Any]:
    """submitted → draft with the reviewer's comments (required)."""
    if not isinstance(comment, str) or not comment.strip() or len(comment) > 2000:
        raise ValidationFailed(Problem(f"{RECORD} {list_id}", "comment", "退回须写明审核意见（1–2000 个字符）"))

    def more(_s: Session, lst: SupplyList, who: Principal) -> None:
        _step(lst, "return", who.actor, comment.strip())

    return _review_step(db, list_id, "return", actor, expected_version, f"退回清单：{comment.strip()[:100]}", more,
                        {"status": "draft", "comment": comment})


def publish(db: Database, list_id: int, actor: Principal | str, expected_version: int,
            document: Any) -> dict[str, Any]:
    """submitted → published with the approval document; makes the edition's parcels the public
    list of its jurisdiction (see the module docstring) and takes the 增量/收回 parcels' listing
    step — all in one transaction."""
    record = f"{RECORD} {list_id}"
    doc = _document(document, record)

    def more(s: Session, lst: SupplyList, who: Principal) -> None:
        now = datetime.now(UTC)
        lst.document_title, lst.document_number, lst.document_date = doc.title, doc.number, doc.date
        lst.published_by, lst.published_at = who.actor, now
        _step(lst, "publish", who.actor, f"{doc.title}（{doc.number}）")
        _make_current(s, lst, now)
        _take_listing_steps(s, lst, who, doc)

    return _review_step(db, list_id, "publish", actor, expected_version, f"公布清单（{doc.number}）", more,
                        {"status": "published", "document_number": doc.number})


def _make_current(s: Session, lst: SupplyList, now: datetime) -> None:
    """The edition's entries become current; other current entries of parcels in its scope stop
    being current; editions left without a current entry are superseded by this one."""
    scope = jurisdiction_scope(s, s.get(Jurisdiction, lst.jurisdiction_id))
    in_scope = select(Parcel.id).where(access.parcel_condition(scope))
    touched = set(s.scalars(select(SupplyListEntry.list_id).where(
        SupplyListEntry.is_current.is_(True), SupplyListEntry.parcel_id.in_(in_scope))).all())
    for e in s.scalars(select(SupplyListEntry).where(SupplyListEntry.is_current.is_(True),
                                                     SupplyListEntry.parcel_id.in_(in_scope))):
        e.is_current = False
    s.flush()
    for e in s.scalars(select(SupplyListEntry).where(SupplyListEntry.list_id == lst.id)):
        e.is_current, e.published_at = True, now
    s.flush()
    for old in s.scalars(select(SupplyList).where(SupplyList.id.in_(touched - {None}), SupplyList.id != lst.id)):
        still = s.scalar(select(SupplyListEntry.id).where(SupplyListEntry.list_id == old.id,
                                                         SupplyListEntry.is_current.is_(True)).limit(1))
        if still is None and old.status == "published":
            old.status, old.superseded_by_id, old.superseded_at = "superseded", lst.id, now
            _step(old, "supersede", lst.published_by or "", f"被第 {lst.edition} 版（{lst.year}）替代")


def _take_listing_steps(s: Session, lst: SupplyList, who: Principal, doc: lc.Document) -> None:
    """储备/批而未供 → 可供 (``list_for_supply``), 收回 → 可供 (``relist``) with the list's approval
    document, recorded as lifecycle steps (``parcel_transitions``) like ``services.lifecycle``
    records them; a step the parcel's guards refuse refuses the publication (422, nothing written)."""
    from .lifecycle import record_step, step_refusals  # a lifecycle step, as services.lifecycle takes it

    rows = s.execute(select(SupplyListEntry, Parcel).join(Parcel, Parcel.id == SupplyListEntry.parcel_id)
                     .where(SupplyListEntry.list_id == lst.id,
                            Parcel.state.in_(sorted(sl.LISTING_STEPS))).order_by(Parcel.code)).all()
    problems = []
    for _e, p in rows:
        step = lc.BY_KEY[sl.LISTING_STEPS[p.state]]
        reasons, rulebook = step_refusals(s, p, step, frozenset({doc.kind}), audit.local_today())
        if reasons:
            problems += [Problem(f"宗地 {p.code}", "entries", f"不能办理“{step.name}”：{r}") for r in reasons]
            continue
        record_step(s, p, step, [doc], who.actor, f"公布{lst.title}（第 {lst.edition} 版）", rulebook)
    if problems:
        raise ValidationFailed(problems)
    s.flush()


# --------------------------------------------------------------------------- export
#: The filing layout's columns: header → function of an entry view.
EXPORT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 6), ("宗地代码", 22), ("坐落", 30), ("所属县(市、区)", 12), ("产业集聚区", 20), ("面积(亩)", 10),
    ("类别", 16), ("用途", 14), ("供地方式", 10), ("成本/价格(万元)", 14), ("供地条件", 40), ("供地程序", 40),
    ("供地周期", 24), ("适宜产业", 20), ("联系单位", 24), ("联系电话", 14))


def export_xlsx(db: Database, list_id: int, viewer: Principal | str) -> tuple[str, bytes]:
    """An edition as an Excel workbook in a filing layout (title, edition and document lines, one row
    per parcel, a total row). Returns (file name, bytes)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    view = get_list(db, list_id, viewer)
    wb = Workbook()
    ws = wb.active
    ws.title = f"{view['year']}清单第{view['edition']}版"
    ncol = len(EXPORT_COLUMNS)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    ws.cell(1, 1, view["title"]).font = Font(bold=True, size=16)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    doc = view["document"]
    ws.cell(2, 1, f"第 {view['edition']} 版　状态：{view['status_label']}　" + (
        f"批准文件：{doc['title']}（{doc['number']}，{doc['date']}）" if doc else "批准文件：（未公布）"))
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncol)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for c, (name, width) in enumerate(EXPORT_COLUMNS, 1):
        cell = ws.cell(4, c, name)
        cell.font, cell.border = Font(bold=True), border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[cell.column_letter].width = width
    for i, e in enumerate(view["entries"], 1):
        values = (i, e["code"], e["location"], e["county_name"], e["zone_name"] or "", e["area_mu"],
                  e["category_label"], e["land_use_label"] or "", e["supply_method_label"] or "",
                  e["expected_price_wan"], e["supply_conditions"], e["supply_procedure"], e["supply_cycle"],
                  "、".join(e["suitable_industries"]), e["contact_office"], e["contact_phone"])
        for c, v in enumerate(values, 1):
            cell = ws.cell(4 + i, c, v)
            cell.border = border
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    total = 5 + len(view["entries"])
    ws.cell(total, 1, "合计").font = Font(bold=True)
    ws.cell(total, 2, f"{len(view['entries'])} 宗")
    ws.cell(total, 6, view["area_mu"])
    ws.freeze_panes = "C5"
    buf = io.BytesIO()
    wb.save(buf)
    name = f"{view['jurisdiction_name']}{view['year']}年度可供土地清单_第{view['edition']}版.xlsx"
    return name, buf.getvalue()

