"""A supplied parcel's ledgers: 出让合同 (supply contracts), 履约监管协议 (performance
agreements) and 开发建设情况 (development facts and acceptance results).

These are the terms an enterprise agreed to, so they are read only by the officials and
departments of the parcel's jurisdiction and by the enterprise using the parcel
(``registry.sees_ledgers`` — the rule the parcel card follows); the public is asked to sign
in. Officials change them within their jurisdiction (``Action.EDIT_ENTERPRISES``); every
change is versioned and goes through ``audit.guarded_update`` (stale version: 409 with the
current record, the attempt logged).
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.access import Action, Principal, as_principal
from ..domain.errors import NotFound, Problem, ValidationFailed
from ..domain.records import (
    DevelopmentDraft,
    PerformanceAgreementDraft,
    SupplyContractDraft,
    agreement_problems,
    contract_problems,
    development_problems,
)
from ..domain.vocabulary import AcceptanceResult, SupplyMethod
from ..storage.db import Database
from ..storage.schema import Enterprise, Parcel, ParcelDevelopment, PerformanceAgreement, SupplyContract
from . import access, audit, registry

CONTRACT_SORT_FIELDS = ("signed_date", "contract_no", "agreed_start_date", "id")
AGREEMENT_SORT_FIELDS = ("signed_date", "agreed_start_date", "agreed_production_date", "id")
EDITABLE_CONTRACT_FIELDS = {f.name for f in fields(SupplyContractDraft)}
EDITABLE_AGREEMENT_FIELDS = {f.name for f in fields(PerformanceAgreementDraft)} - {"contract_no"}
EDITABLE_DEVELOPMENT_FIELDS = {f.name for f in fields(DevelopmentDraft)}


def _small_id(value: int) -> bool:
    return -2**31 <= value < 2**31


def _not_editable(record: str, changes: dict[str, Any], editable: set[str]) -> None:
    unknown = set(changes) - editable
    if unknown:
        raise ValidationFailed([Problem(record, f, "该字段不能直接修改", "not_editable") for f in sorted(unknown)])


def _order(model, sort: list[tuple[str, bool]] | None, allowed: tuple[str, ...]) -> list:
    out = []
    for name, desc in sort or [(allowed[0], False)]:
        if name not in allowed:
            raise ValidationFailed(Problem("查询", "sort", f"不能按“{name}”排序，可选：{'、'.join(allowed)}"))
        col = getattr(model, name)
        out.append(col.desc() if desc else col.asc())
    return out + [model.id.asc()]


def _readable_parcel(s: Session, parcel_code: str, viewer: Principal) -> Parcel:
    """The parcel if ``viewer`` may read its ledgers; the public is asked to sign in (401), a
    parcel outside the view is not found, and so is a parcel whose ledgers the caller may not
    read (an enterprise that does not use it)."""
    access.require(viewer, Action.READ_CONFIDENTIAL)
    p = registry.visible_parcel(s, parcel_code, viewer)
    if not registry.sees_ledgers(s, viewer, p):
        raise NotFound("宗地台账", parcel_code)
    return p


def _enterprise_by_code(s: Session, credit_code: str, record: str) -> tuple[Enterprise | None, list[Problem]]:
    code = (credit_code or "").strip().upper()
    e = s.scalar(select(Enterprise).where(Enterprise.credit_code == code)) if len(code) == 18 else None
    if e is None:
        return None, [Problem(record, "credit_code", f"企业 {credit_code} 未登记", "unknown_enterprise")]
    return e, []


def _is_industrial(parcel: Parcel) -> bool:
    # GB/T 21010 class 06 工矿仓储用地: granted for at most 50 years like 工业用地.
    return (parcel.land_use or "").startswith("06")


def _parcel_records(db: Database, model, view, parcel_code: str, viewer: Principal,
                    sort: list[tuple[str, bool]] | None, allowed: tuple[str, ...], limit: int,
                    offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of one kind of ledger record of a parcel the viewer may read (newest signed first
    by default), with the total."""
    order = _order(model, sort or [("signed_date", True)], allowed)
    with db.reader() as s:
        p = _readable_parcel(s, parcel_code, viewer)
        where = model.parcel_id == p.id
        total = s.scalar(select(func.count()).select_from(model).where(where))
        rows = s.scalars(select(model).where(where).order_by(*order).limit(limit).offset(offset)).all()
        return [view(s, r) for r in rows], total


def _by_id(s: Session, model, record_id: int, what: str):
    """The record with this id, or NotFound naming ``what``."""
    r = s.get(model, record_id) if _small_id(record_id) else None
    if r is None:
        raise NotFound(what, str(record_id))
    return r


# --------------------------------------------------------------------------- contracts
def contract_view(s: Session, c: SupplyContract) -> dict[str, Any]:
    out = registry.plain_record(c, exclude={"parcel_id"})
    out.update(parcel_code=c.parcel.code, enterprise_name=c.enterprise.name, credit_code=c.enterprise.credit_code)
    return out


def list_contracts(db: Database, parcel_code: str, *, viewer: Principal, sort: list[tuple[str, bool]] | None = None,
                   limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The parcel's supply contracts (newest signed first by default)."""
    return _parcel_records(db, SupplyContract, contract_view, parcel_code, viewer, sort, CONTRACT_SORT_FIELDS,
                           limit, offset)


def _contract(s: Session, contract_id: int) -> SupplyContract:
    return _by_id(s, SupplyContract, contract_id, "供地合同")


def get_contract(db: Database, contract_id: int, *, viewer: Principal) -> dict[str, Any]:
    with db.reader() as s:
        c = _contract(s, contract_id)
        try:
            _readable_parcel(s, c.parcel.code, viewer)
        except NotFound:
            raise NotFound("供地合同", str(contract_id)) from None
        return contract_view(s, c)


def _contract_problems(s: Session, parcel: Parcel, d: SupplyContractDraft,
                       exclude_id: int | None = None) -> tuple[Enterprise | None, list[Problem]]:
    record = f"供地合同 {d.contract_no or '(无编号)'}"
    problems = contract_problems(d, industrial=_is_industrial(parcel))
    enterprise, found = _enterprise_by_code(s, d.credit_code, record)
    problems += found
    no = (d.contract_no or "").strip()
    if no:
        dup = s.scalar(select(SupplyContract.id).where(SupplyContract.contract_no == no))
        if dup is not None and dup != exclude_id:
            problems.append(Problem(record, "contract_no", f"合同编号 {no} 已登记", "duplicate"))
    return enterprise, problems


def add_contract(db: Database, parcel_code: str, d: SupplyContractDraft, actor: Principal | str,
                 reason: str | None = None) -> dict[str, Any]:
    """Record a parcel's supply contract; returns it. Refused (nothing written) for an
    unregistered 受让人, a duplicate contract number, a term beyond the statutory maximum,
    or milestones out of order."""
    editor = as_principal(actor)
    with db.transaction(actor=editor.actor, reason=reason) as s:
        parcel = registry.editable_parcel(s, parcel_code, editor, Action.EDIT_ENTERPRISES)
        enterprise, problems = _contract_problems(s, parcel, d)
        if problems:
            raise ValidationFailed(problems)
        c = SupplyContract(parcel_id=parcel.id, enterprise_id=enterprise.id, contract_no=d.contract_no.strip(),
                           supply_method=SupplyMethod.parse(d.supply_method).value, signed_date=d.signed_date,
                           term_years=d.term_years, price_wan=d.price_wan, agreed_start_date=d.agreed_start_date,
                           agreed_completion_date=d.agreed_completion_date, forbids_split=d.forbids_split)
        s.add(c)
        s.flush()
        return contract_view(s, c)


def update_contract(db: Database, contract_id: int, changes: dict[str, Any], expected_version: int,
                    actor: Principal | str, reason: str | None = None) -> dict[str, Any]:
    """Change a supply contract if nobody changed it since ``expected_version``."""
    editor = as_principal(actor)
    _not_editable(f"供地合同 {contract_id}", changes, EDITABLE_CONTRACT_FIELDS)

    def apply(s: Session, c: SupplyContract) -> None:
        draft = replace(SupplyContractDraft(c.contract_no, c.enterprise.credit_code, c.supply_method, c.signed_date,
                                            c.term_years, c.price_wan, c.agreed_start_date, c.agreed_completion_date,
                                            c.forbids_split), **changes)
        enterprise, problems = _contract_problems(s, c.parcel, draft, exclude_id=c.id)
        if problems:
            raise ValidationFailed(problems)
        c.contract_no, c.enterprise_id = draft.contract_no.strip(), enterprise.id
        c.supply_method = SupplyMethod.parse(draft.supply_method).value
        for name in ("signed_date", "term_years", "price_wan", "agreed_start_date", "agreed_completion_date",
                     "forbids_split"):
            setattr(c, name, getattr(draft, name))

    return audit.guarded_update(
        db, editor, what="供地合同", key=str(contract_id), expected_version=expected_version, attempted=changes,
        reason=reason, load=lambda s: _contract(s, contract_id),
        authorize=lambda s, c: registry.authorize_parcel_edit(s, editor, c.parcel, Action.EDIT_ENTERPRISES),
        apply=apply, view=contract_view)


# --------------------------------------------------------------------------- agreements
def agreement_view(s: Session, a: PerformanceAgreement) -> dict[str, Any]:
    out = registry.plain_record(a, exclude={"parcel_id"})
    parcel = s.get(Parcel, a.parcel_id)
    out.update(parcel_code=parcel.code, contract_no=a.contract.contract_no)
    return out


def list_agreements(db: Database, parcel_code: str, *, viewer: Principal,
                    sort: list[tuple[str, bool]] | None = None, limit: int = 100,
                    offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The parcel's 履约监管协议 (newest signed first by default)."""
    return _parcel_records(db, PerformanceAgreement, agreement_view, parcel_code, viewer, sort,
                           AGREEMENT_SORT_FIELDS, limit, offset)


def _agreement(s: Session, agreement_id: int) -> PerformanceAgreement:
    return _by_id(s, PerformanceAgreement, agreement_id, "履约监管协议")


def get_agreement(db: Database, agreement_id: int, *, viewer: Principal) -> dict[str, Any]:
    with db.reader() as s:
        a = _agreement(s, agreement_id)
        try:
            _readable_parcel(s, s.get(Parcel, a.parcel_id).code, viewer)
        except NotFound:
            raise NotFound("履约监管协议", str(agreement_id)) from None
        return agreement_view(s, a)


def _agreement_values(d: PerformanceAgreementDraft) -> dict[str, Any]:
    return {f.name: getattr(d, f.name) for f in fields(PerformanceAgreementDraft) if f.name != "contract_no"}


def add_agreement(db: Database, parcel_code: str, d: PerformanceAgreementDraft, actor: Principal | str,
                  reason: str | None = None) -> dict[str, Any]:
    """Record the 履约监管协议 of one of the parcel's contracts (one per contract); returns it."""
    editor = as_principal(actor)
    with db.transaction(actor=editor.actor, reason=reason) as s:
        parcel = registry.editable_parcel(s, parcel_code, editor, Action.EDIT_ENTERPRISES)
        problems = agreement_problems(d)
        record = f"履约监管协议（合同 {d.contract_no}）"
        contract = s.scalar(select(SupplyContract).where(SupplyContract.contract_no == (d.contract_no or "").strip(),
                                                         SupplyContract.parcel_id == parcel.id))
        if contract is None:
            problems.append(Problem(record, "contract_no", f"宗地 {parcel.code} 没有编号为 {d.contract_no} 的供地合同",
                                    "unknown_contract"))
        elif s.scalar(select(PerformanceAgreement.id).where(PerformanceAgreement.contract_id == contract.id)):
            problems.append(Problem(record, "contract_no", "该合同已有履约监管协议，请修改原协议", "duplicate"))
        if problems:
            raise ValidationFailed(problems)
        a = PerformanceAgreement(contract_id=contract.id, parcel_id=parcel.id, **_agreement_values(d))
        s.add(a)
        s.flush()
        return agreement_view(s, a)


def update_agreement(db: Database, agreement_id: int, changes: dict[str, Any], expected_version: int,
                     actor: Principal | str, reason: str | None = None) -> dict[str, Any]:
    """Change a 履约监管协议 if nobody changed it since ``expected_version``."""
    editor = as_principal(actor)
    _not_editable(f"履约监管协议 {agreement_id}", changes, EDITABLE_AGREEMENT_FIELDS)

    def apply(s: Session, a: PerformanceAgreement) -> None:
        current = {name: getattr(a, name) for name in EDITABLE_AGREEMENT_FIELDS}
        draft = replace(PerformanceAgreementDraft(contract_no=a.contract.contract_no, **current), **changes)
        problems = agreement_problems(draft)
        if problems:
            raise ValidationFailed(problems)
        for name, value in _agreement_values(draft).items():
            setattr(a, name, value)

    return audit.guarded_update(
        db, editor, what="履约监管协议", key=str(agreement_id), expected_version=expected_version, attempted=changes,
        reason=reason, load=lambda s: _agreement(s, agreement_id),
        authorize=lambda s, a: registry.authorize_parcel_edit(s, editor, s.get(Parcel, a.parcel_id),
                                                              Action.EDIT_ENTERPRISES),
        apply=apply, view=agreement_view)


# --------------------------------------------------------------------------- development
def development_view(s: Session, d: ParcelDevelopment) -> dict[str, Any]:
    out = registry.plain_record(d, exclude={"parcel_id"})
    out["parcel_code"] = d.parcel.code
    return out


def _development(s: Session, parcel: Parcel) -> ParcelDevelopment:
    d = s.scalar(select(ParcelDevelopment).where(ParcelDevelopment.parcel_id == parcel.id))
    if d is None:
        raise NotFound("开发建设情况", parcel.code)
    return d


def get_development(db: Database, parcel_code: str, *, viewer: Principal) -> dict[str, Any]:
    """How far the parcel has been developed, and its acceptance results."""
    with db.reader() as s:
        return development_view(s, _development(s, _readable_parcel(s, parcel_code, viewer)))


def _development_values(d: DevelopmentDraft) -> dict[str, Any]:
    values = {f.name: getattr(d, f.name) for f in fields(DevelopmentDraft)}
    for name in ("completion_result", "production_result"):
        values[name] = AcceptanceResult.parse(values[name]).value
    return values


def add_development(db: Database, parcel_code: str, d: DevelopmentDraft, actor: Principal | str,
                    reason: str | None = None) -> dict[str, Any]:
    """Record the parcel's development facts (one record per parcel); returns them."""
    editor = as_principal(actor)
    with db.transaction(actor=editor.actor, reason=reason) as s:
        parcel = registry.editable_parcel(s, parcel_code, editor, Action.EDIT_ENTERPRISES)
        problems = development_problems(d, parcel.code, parcel.area_m2)
        if s.scalar(select(ParcelDevelopment.id).where(ParcelDevelopment.parcel_id == parcel.id)):
            problems.append(Problem(f"宗地 {parcel.code} 的开发建设情况", "parcel_id",
                                    "该宗地已有开发建设情况，请修改原记录", "duplicate"))
        if problems:
            raise ValidationFailed(problems)
        dev = ParcelDevelopment(parcel_id=parcel.id, **_development_values(d))
        s.add(dev)
        s.flush()
        return development_view(s, dev)


def update_development(db: Database, parcel_code: str, changes: dict[str, Any], expected_version: int,
                       actor: Principal | str, reason: str | None = None) -> dict[str, Any]:
    """Change the parcel's development facts if nobody changed them since ``expected_version``."""
    editor = as_principal(actor)
    _not_editable(f"宗地 {parcel_code} 的开发建设情况", changes, EDITABLE_DEVELOPMENT_FIELDS)

    def apply(s: Session, dev: ParcelDevelopment) -> None:
        draft = replace(DevelopmentDraft(**{name: getattr(dev, name) for name in EDITABLE_DEVELOPMENT_FIELDS}),
                        **changes)
        problems = development_problems(draft, dev.parcel.code, dev.parcel.area_m2)
        if problems:
            raise ValidationFailed(problems)
        for name, value in _development_values(draft).items():
            setattr(dev, name, value)

    return audit.guarded_update(
        db, editor, what="开发建设情况", key=parcel_code, expected_version=expected_version, attempted=changes,
        reason=reason, load=lambda s: _development(s, registry._parcel(s, parcel_code)),
        authorize=lambda s, dev: registry.authorize_parcel_edit(s, editor, dev.parcel, Action.EDIT_ENTERPRISES),
        apply=apply, view=development_view)
