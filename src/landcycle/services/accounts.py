"""Accounts: create users, sign in and out, and turn a session token into a :class:`Principal`.

Passwords are hashed with argon2id (``argon2-cffi``); tokens are random (``secrets``) and
stored as SHA-256 digests. Sign-in is throttled per user name and per client address:
after :attr:`AuthPolicy.max_failures` failures inside :attr:`AuthPolicy.failure_window`
further attempts are refused — without checking the password — until the window passes.

User administration (create, list, change, reset passwords, disable) needs
``Action.MANAGE_USERS`` (the city admin); the CLI acts with system rights under its actor
name. A change of role, jurisdiction or enterprise, or disabling, ends the account's
sessions; the last active city admin cannot be disabled or given another role. Password
hashes never leave this module.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..domain.access import ROLE_JURISDICTION_KINDS, Action, Principal, Role, as_principal
from ..domain.errors import Conflict, NotFound, Problem, TooManyAttempts, Unauthorized, ValidationFailed
from ..domain.identifiers import normalise_credit_code
from ..domain.vocabulary import JurisdictionKind
from ..storage.account_schema import AuthSession, LoginAttempt, User
from ..storage.db import Database
from ..storage.schema import Enterprise, Jurisdiction, utcnow
from . import access, jurisdictions

MIN_PASSWORD_LENGTH = 10
# argon2id with the library's recommended parameters (RFC 9106 low-memory profile). The test
# suite alone sets LANDCYCLE_PASSWORD_HASH_PROFILE=cheapest-for-tests: hundreds of accounts
# are created there, and the hash strength is not what those tests are about.
_HASHER = (PasswordHasher.from_parameters(profiles.CHEAPEST)
           if os.environ.get("LANDCYCLE_PASSWORD_HASH_PROFILE") == "cheapest-for-tests" else PasswordHasher())
#: Verified against when the user name is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = _HASHER.hash("landcycle-no-such-user")


@dataclass(frozen=True)
class AuthPolicy:
    """Session lifetime and sign-in throttling (settings; see docs/security.md)."""

    session_hours: float = 8.0
    max_failures: int = 5
    failure_window: timedelta = timedelta(minutes=15)
    #: Failures from one client address (any user name) before it is throttled.
    max_client_failures: int = 30

    @classmethod
    def from_env(cls) -> "AuthPolicy":
        """Read ``LANDCYCLE_SESSION_HOURS`` / ``LANDCYCLE_LOGIN_MAX_FAILURES`` /
        ``LANDCYCLE_LOGIN_WINDOW_MINUTES`` (defaults above)."""
        return cls(session_hours=float(os.environ.get("LANDCYCLE_SESSION_HOURS", cls.session_hours)),
                   max_failures=int(os.environ.get("LANDCYCLE_LOGIN_MAX_FAILURES", cls.max_failures)),
                   failure_window=timedelta(minutes=float(os.environ.get(
                       "LANDCYCLE_LOGIN_WINDOW_MINUTES", cls.failure_window.total_seconds() / 60))))


@dataclass(frozen=True)
class SignIn:
    """A new session: the bearer token (shown once) and its CSRF token."""

    token: str
    csrf_token: str
    expires_at: datetime
    principal: Principal


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC.
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def password_problems(password: str, record: str = "用户") -> list[Problem]:
    """What is wrong with a new password (length only: NIST SP 800-63B favours length over rules)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return [Problem(record, "password", f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符", "weak_password")]
    return []


def _parse_role(record: str, role: str) -> tuple[Role | None, list[Problem]]:
    try:
        r = Role.parse(role)
    except ValueError as exc:
        return None, [Problem(record, "role", str(exc))]
    if r is Role.PUBLIC:
        return r, [Problem(record, "role", "社会公众无需账号（匿名访问）")]
    return r, []


def _binding(s: Session, record: str, r: Role, jurisdiction: str | None, enterprise: str | None,
             department: str | None) -> tuple[int | None, int | None, str | None, list[Problem]]:
    """The jurisdiction id, enterprise id and department an account of role ``r`` is bound
    to, and what is wrong with them (per role: which jurisdiction kinds, an enterprise, a
    department name)."""
    problems: list[Problem] = []
    j_id, e_id = None, None
    kinds = ROLE_JURISDICTION_KINDS[r]
    if jurisdiction:
        try:
            j = jurisdictions.resolve(s, jurisdiction, None, record, "jurisdiction")
            if j.kind not in kinds:
                allowed = "、".join(JurisdictionKind(k).label for k in kinds if k) or "无"
                problems.append(Problem(record, "jurisdiction",
                                        f"{r.label}只能绑定到：{allowed}（“{j.name}”是{JurisdictionKind(j.kind).label}）"))
            j_id = j.id
        except ValidationFailed as exc:
            problems += exc.problems
    elif None not in kinds:
        problems.append(Problem(record, "jurisdiction", f"{r.label}账号必须指定所属辖区"))
    if r is Role.ENTERPRISE:
        try:
            code = normalise_credit_code(enterprise or "")
        except ValueError as exc:
            problems.append(Problem(record, "enterprise", str(exc)))
            code = None
        e_id = s.scalar(select(Enterprise.id).where(Enterprise.credit_code == code)) if code else None
        if code and e_id is None:
            problems.append(Problem(record, "enterprise", f"企业 {enterprise or '（未填写）'} 未登记"))
    elif enterprise:
        problems.append(Problem(record, "enterprise", f"只有企业账号才能关联企业（当前角色：{r.label}）"))
    department = (department or "").strip() or None
    if r is Role.DEPARTMENT and not department:
        problems.append(Problem(record, "department", "职能部门账号必须填写部门名称（如 税务、统计）"))
    if department and len(department) > 50:
        problems.append(Problem(record, "department", "部门名称最长50个字符"))
    return j_id, e_id, department, problems


def add_user(db: Database, username: str, password: str, role: str, *, jurisdiction: str | None = None,
             enterprise: str | None = None, department: str | None = None, display_name: str = "",
             actor: Principal | str = "system") -> dict[str, Any]:
    """Create an account bound to a role and (per role) a jurisdiction or an enterprise."""
    admin = as_principal(actor)
    access.require(admin, Action.MANAGE_USERS)
    username = (username or "").strip()
    record = f"用户 {username}"
    problems = password_problems(password, record)
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        problems.append(Problem(record, "username", "用户名不能为空、不能含空格、最长64个字符"))
    if len(display_name or "") > 100:
        problems.append(Problem(record, "display_name", "姓名最长100个字符"))
    r, found = _parse_role(record, role)
    if r is None:
        raise ValidationFailed(problems + found)
    problems += found
    with db.transaction(actor=admin.actor, reason="新建账号") as s:
        j_id, e_id, department, found = _binding(s, record, r, jurisdiction, enterprise, department)
        problems += found
        if s.scalar(select(User.id).where(User.username == username)):
            problems.append(Problem(record, "username", "用户名已存在", "duplicate"))
        if problems:
            raise ValidationFailed(problems)
        user = User(username=username, display_name=(display_name or "").strip() or username,
                    password_hash=_HASHER.hash(password), role=r.value, jurisdiction_id=j_id, enterprise_id=e_id,
                    department=department, active=True)
        s.add(user)
        s.flush()
        return user_view(s, user)


def user_view(s: Session, u: User) -> dict[str, Any]:
    """An account as shown to administrators (never the hash)."""
    j = s.get(Jurisdiction, u.jurisdiction_id) if u.jurisdiction_id else None
    e = s.get(Enterprise, u.enterprise_id) if u.enterprise_id else None
    return {"username": u.username, "display_name": u.display_name, "role": u.role,
            "role_label": Role(u.role).label, "jurisdiction": j.code if j else None,
            "jurisdiction_name": j.name if j else None, "enterprise": e.credit_code if e else None,
            "department": u.department, "active": u.active, "version": u.version,
            "created_at": _aware(u.created_at).isoformat()}


USER_SORT_FIELDS = ("username", "role", "created_at", "display_name")


def list_users(db: Database, *, viewer: Principal | str = "system") -> list[dict[str, Any]]:
    """Every account, by user name."""
    return users_page(db, viewer=viewer)[0]


def users_page(db: Database, *, viewer: Principal | str = "system", role: str | None = None,
               active: bool | None = None, limit: int | None = None, offset: int = 0,
               sort: list[tuple[str, bool]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """A page of accounts (optionally of one role / only active or disabled ones) and how many
    there are; default order by user name."""
    access.require(as_principal(viewer), Action.MANAGE_USERS)
    conds = []
    if role:
        r, problems = _parse_role("查询", role)
        if r is None:
            raise ValidationFailed(problems)
        conds.append(User.role == r.value)
    if active is not None:
        conds.append(User.active.is_(active))
    cols = {"username": User.username, "role": User.role, "created_at": User.created_at,
            "display_name": User.display_name}
    order = [cols[k].desc() if d else cols[k].asc() for k, d in sort or []]
    with db.reader() as s:
        total = s.scalar(select(func.count()).select_from(User).where(*conds))
        q = select(User).where(*conds).order_by(*order, User.username).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return [user_view(s, u) for u in s.scalars(q)], total


def get_user(db: Database, username: str, *, viewer: Principal | str = "system") -> dict[str, Any]:
    """One account (NotFound if there is none of that name)."""
    access.require(as_principal(viewer), Action.MANAGE_USERS)
    with db.reader() as s:
        return user_view(s, _user(s, username))


def _user(s: Session, username: str) -> User:
    u = s.scalar(select(User).where(User.username == (username or "").strip()))
    if u is None:
        raise NotFound("用户", username)
    return u


def _ensure_another_city_admin(s: Session, u: User, record: str, field: str) -> None:
    """Refuse to disable or demote the last active city admin (nobody could manage users)."""
    others = s.scalar(select(func.count()).select_from(User).where(
        User.role == Role.CITY_ADMIN.value, User.active.is_(True), User.id != u.id))
    if u.role == Role.CITY_ADMIN.value and u.active and not others:
        raise ValidationFailed(Problem(record, field, "这是最后一个启用的市级管理员账号，不能停用或改为其他角色",
                                       "last_city_admin"))


#: Fields :func:`update_user` may change.
USER_EDITABLE = frozenset({"display_name", "active", "role", "jurisdiction", "enterprise", "department"})


def update_user(db: Database, username: str, changes: dict[str, Any], expected_version: int,
                actor: Principal | str = "system") -> dict[str, Any]:
    """Change an account's name, state, role or binding if nobody changed it since
    ``expected_version`` (else :class:`Conflict` with the current account; nothing written).

    A role change is checked with its binding (jurisdiction kind, enterprise, department) as
    on creation — the binding the account had is kept where the new role allows it. A changed
    role or binding, or disabling, ends the account's sessions.
    """
    admin = as_principal(actor)
    access.require(admin, Action.MANAGE_USERS)
    record = f"用户 {username}"
    unknown = set(changes) - USER_EDITABLE
    if unknown:
        raise ValidationFailed([Problem(record, f, "该字段不能修改", "not_editable") for f in sorted(unknown)])
    try:
        with db.transaction(actor=admin.actor, reason="修改账号") as s:
            u = _user(s, username)
            if u.version != expected_version:
                raise Conflict("用户", u.username, expected_version, user_view(s, u))
            problems: list[Problem] = []
            if "display_name" in changes:
                name = (changes["display_name"] or "").strip()
                if not name or len(name) > 100:
                    problems.append(Problem(record, "display_name", "姓名不能为空、最长100个字符"))
            rebind = bool({"role", "jurisdiction", "enterprise", "department"} & set(changes))
            binding = None
            if rebind:
                r, found = _parse_role(record, changes.get("role") or u.role)
                problems += found
                if r is not None and not found:
                    if r.value != u.role:
                        _ensure_another_city_admin(s, u, record, "role")
                    current = s.get(Jurisdiction, u.jurisdiction_id).code if u.jurisdiction_id else None
                    kept_e = s.get(Enterprise, u.enterprise_id).credit_code if u.enterprise_id else None
                    binding = (r,) + _binding(s, record, r, changes.get("jurisdiction", current),
                                              changes.get("enterprise", kept_e if r is Role.ENTERPRISE else None),
                                              changes.get("department", u.department if r is Role.DEPARTMENT else None))
                    problems += binding[-1]
            if changes.get("active") is False:
                _ensure_another_city_admin(s, u, record, "active")
            if problems:
                raise ValidationFailed(problems)
            end_sessions = False
            if "display_name" in changes:
                u.display_name = changes["display_name"].strip()
            if binding is not None:
                r, j_id, e_id, department, _ = binding
                end_sessions = (r.value, j_id, e_id) != (u.role, u.jurisdiction_id, u.enterprise_id)
                u.role, u.jurisdiction_id, u.enterprise_id, u.department = r.value, j_id, e_id, department
            if changes.get("active") is not None and bool(changes["active"]) != u.active:
                u.active = bool(changes["active"])
                end_sessions = end_sessions or not u.active
            if end_sessions:
                _revoke_all(s, u.id)
            s.flush()
            return user_view(s, u)
    except StaleDataError:
        # another administrator committed between our read and our write
        with db.reader() as s:
            current = user_view(s, _user(s, username))
        raise Conflict("用户", username, expected_version, current) from None


def set_password(db: Database, username: str, password: str, actor: Principal | str = "system") -> None:
    """Replace a password (administrator reset) and end every session of the account."""
    admin = as_principal(actor)
    access.require(admin, Action.MANAGE_USERS)
    problems = password_problems(password, f"用户 {username}")
    if problems:
        raise ValidationFailed(problems)
    with db.transaction(actor=admin.actor, reason="重置密码") as s:
        u = _user(s, username)
        u.password_hash = _HASHER.hash(password)
        _revoke_all(s, u.id)


def set_active(db: Database, username: str, active: bool, actor: Principal | str = "system") -> None:
    """Enable or disable an account; disabling ends its sessions."""
    admin = as_principal(actor)
    access.require(admin, Action.MANAGE_USERS)
    with db.transaction(actor=admin.actor, reason="启用账号" if active else "停用账号") as s:
        u = _user(s, username)
        if not active:
            _ensure_another_city_admin(s, u, f"用户 {username}", "active")
        u.active = active
        if not active:
            _revoke_all(s, u.id)


def change_own_password(db: Database, who: Principal, old_password: str, new_password: str, client: str = "",
                        policy: AuthPolicy = AuthPolicy()) -> None:
    """A signed-in user replaces their own password, proving the old one. A wrong old password
    counts as a failed sign-in (a stolen session cannot guess the password faster than the
    login throttle allows); success ends every session of the account, this one included."""
    if who.user_id is None:
        raise Unauthorized()
    record = f"用户 {who.username}"
    now = utcnow()
    with db.transaction(actor=who.actor, reason="修改本人密码") as s:
        n, oldest = _failures(s, LoginAttempt.username, who.username, now - policy.failure_window)
        if n >= policy.max_failures:
            retry = int(((oldest or now) + policy.failure_window - now).total_seconds())
            raise TooManyAttempts(max(retry, 1))
        u = s.get(User, who.user_id)
        if u is None or not u.active:
            raise Unauthorized("登录已失效，请重新登录")
        try:
            ok = _HASHER.verify(u.password_hash, old_password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok:
            s.add(LoginAttempt(at=now, username=u.username, client=(client or "")[:100], success=False))
            s.commit()  # the failure must count even though we raise
            raise ValidationFailed(Problem(record, "old_password", "原密码错误", "wrong_password"))
        problems = [Problem(p.record, "new_password", p.message, p.code)
                    for p in password_problems(new_password, record)]
        if new_password == old_password:
            problems.append(Problem(record, "new_password", "新密码不能与原密码相同", "same_password"))
        if problems:
            raise ValidationFailed(problems)
        u.password_hash = _HASHER.hash(new_password)
        _revoke_all(s, u.id)


def _revoke_all(s: Session, user_id: int) -> None:
    for a in s.scalars(select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))):
        a.revoked_at = utcnow()


def _failures(s: Session, column, value: str, since: datetime) -> tuple[int, datetime | None]:
    last_ok = s.scalar(select(func.max(LoginAttempt.at)).where(column == value, LoginAttempt.success.is_(True)))
    start = max(since, _aware(last_ok)) if last_ok else since
    n, oldest = s.execute(select(func.count(), func.min(LoginAttempt.at)).where(
        column == value, LoginAttempt.success.is_(False), LoginAttempt.at > start)).one()
    return n, (_aware(oldest) if oldest else None)


def login(db: Database, username: str, password: str, client: str = "", policy: AuthPolicy = AuthPolicy()) -> SignIn:
    """Check the password and open a session; raise Unauthorized or TooManyAttempts.

    Every attempt is recorded (``login_attempts``). The same message answers an unknown
    user, a wrong password and a disabled account, so it reveals nothing.
    """
    username = (username or "").strip()[:64]
    client = (client or "")[:100]
    now = utcnow()
    with db.transaction(actor=username or "anonymous", reason="登录") as s:
        since = now - policy.failure_window
        for col, value, limit in ((LoginAttempt.username, username, policy.max_failures),
                                  (LoginAttempt.client, client, policy.max_client_failures)):
            n, oldest = _failures(s, col, value, since)
            if n >= limit:
                retry = int(((oldest or now) + policy.failure_window - now).total_seconds())
                raise TooManyAttempts(max(retry, 1))
        u = s.scalar(select(User).where(User.username == username))
        ok = False
        try:
            ok = _HASHER.verify(u.password_hash if u else _DUMMY_HASH, password or "") and u is not None and u.active
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        s.add(LoginAttempt(at=now, username=username, client=client, success=bool(ok)))
        if not ok:
            s.commit()  # the failure must count even though we raise
            raise Unauthorized("用户名或密码错误")
        if _HASHER.check_needs_rehash(u.password_hash):
            u.password_hash = _HASHER.hash(password)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = now + timedelta(hours=policy.session_hours)
        s.add(AuthSession(token_sha256=_digest(token), user_id=u.id, csrf_token=csrf, created_at=now,
                          expires_at=expires, client=client))
        s.flush()
        return SignIn(token=token, csrf_token=csrf, expires_at=expires, principal=principal_of(s, u))


def logout(db: Database, token: str) -> None:
    """End the session of this token (no error if it is already over)."""
    with db.transaction(actor="system", reason="退出登录") as s:
        a = s.scalar(select(AuthSession).where(AuthSession.token_sha256 == _digest(token)))
        if a is not None and a.revoked_at is None:
            a.revoked_at = utcnow()


def session_principal(db: Database, token: str) -> tuple[Principal, str]:
    """The principal and CSRF token of a live session; Unauthorized if the token is unknown,
    expired, revoked or its account disabled."""
    with db.reader() as s:
        a = s.scalar(select(AuthSession).where(AuthSession.token_sha256 == _digest(token)))
        if a is None or a.revoked_at is not None or _aware(a.expires_at) <= utcnow() or not a.user.active:
            raise Unauthorized("登录已失效，请重新登录")
        return principal_of(s, a.user), a.csrf_token


def principal_of(s: Session, u: User) -> Principal:
    """Resolve an account's scope: which counties and zones' parcels it covers.

    City-level accounts cover everything. A county admin covers parcels whose county is
    theirs and the zones administered under it; a 管委会 admin the zones under the
    management area; a zone manager their zone; a county-level department the county.
    """
    role = Role(u.role)
    j = s.get(Jurisdiction, u.jurisdiction_id) if u.jurisdiction_id else None
    everywhere = j is not None and j.kind == JurisdictionKind.CITY.value
    counties: set[int] = set()
    zones: set[int] = set()
    if j is not None and not everywhere:
        if j.kind == JurisdictionKind.ZONE.value:
            zones.add(j.id)
        else:
            if j.kind == JurisdictionKind.COUNTY.value:
                counties.add(j.id)
            zones.update(s.scalars(select(Jurisdiction.id).where(
                Jurisdiction.parent_id == j.id, Jurisdiction.kind == JurisdictionKind.ZONE.value)))
    return Principal(username=u.username, role=role, user_id=u.id, display_name=u.display_name,
                     jurisdiction_id=j.id if j else None, jurisdiction_name=j.name if j else None,
                     everywhere=everywhere, county_ids=frozenset(counties), zone_ids=frozenset(zones),
                     enterprise_id=u.enterprise_id, department=u.department)


def principal_view(p: Principal) -> dict[str, Any]:
    """What ``/api/auth/me`` says about the caller."""
    return {"username": p.username, "display_name": p.display_name, "role": p.role.value,
            "role_label": p.role.label, "jurisdiction_name": p.jurisdiction_name,
            "everywhere": p.everywhere, "department": p.department}
