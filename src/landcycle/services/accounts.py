"""Accounts: create users, sign in and out, and turn a session token into a :class:`Principal`.

Passwords are hashed with argon2id (``argon2-cffi``); tokens are random (``secrets``) and
stored as SHA-256 digests. Sign-in is throttled per user name and per client address:
after :attr:`AuthPolicy.max_failures` failures inside :attr:`AuthPolicy.failure_window`
further attempts are refused — without checking the password — until the window passes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.access import ROLE_JURISDICTION_KINDS, Principal, Role
from ..domain.errors import Problem, TooManyAttempts, Unauthorized, ValidationFailed
from ..domain.identifiers import normalise_credit_code
from ..domain.vocabulary import JurisdictionKind
from ..storage.account_schema import AuthSession, LoginAttempt, User
from ..storage.db import Database
from ..storage.schema import Enterprise, Jurisdiction, utcnow
from . import jurisdictions

MIN_PASSWORD_LENGTH = 10
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
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


def add_user(db: Database, username: str, password: str, role: str, *, jurisdiction: str | None = None,
             enterprise: str | None = None, department: str | None = None, display_name: str = "",
             actor: str = "system") -> dict[str, Any]:
    """Create an account bound to a role and (per role) a jurisdiction or an enterprise."""
    username = (username or "").strip()
    record = f"用户 {username}"
    problems = password_problems(password, record)
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        problems.append(Problem(record, "username", "用户名不能为空、不能含空格、最长64个字符"))
    try:
        r = Role.parse(role)
    except ValueError as exc:
        raise ValidationFailed(problems + [Problem(record, "role", str(exc))]) from None
    if r is Role.PUBLIC:
        problems.append(Problem(record, "role", "社会公众无需账号（匿名访问）"))
    with db.transaction(actor=actor, reason="新建账号") as s:
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
            code = normalise_credit_code(enterprise or "")
            e_id = s.scalar(select(Enterprise.id).where(Enterprise.credit_code == code))
            if e_id is None:
                problems.append(Problem(record, "enterprise", f"企业 {enterprise or '（未填写）'} 未登记"))
        if r is Role.DEPARTMENT and not (department or "").strip():
            problems.append(Problem(record, "department", "职能部门账号必须填写部门名称（如 税务、统计）"))
        if s.scalar(select(User.id).where(User.username == username)):
            problems.append(Problem(record, "username", "用户名已存在", "duplicate"))
        if problems:
            raise ValidationFailed(problems)
        user = User(username=username, display_name=display_name or username, password_hash=_HASHER.hash(password),
                    role=r.value, jurisdiction_id=j_id, enterprise_id=e_id,
                    department=(department or "").strip() or None, active=True)
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


def list_users(db: Database) -> list[dict[str, Any]]:
    with db.reader() as s:
        return [user_view(s, u) for u in s.scalars(select(User).order_by(User.username))]


def _user(s: Session, username: str) -> User:
    u = s.scalar(select(User).where(User.username == username))
    if u is None:
        raise ValidationFailed(Problem(f"用户 {username}", "username", "用户不存在", "unknown_user"))
    return u


def set_password(db: Database, username: str, password: str, actor: str = "system") -> None:
    """Replace a password and end every session of the account."""
    problems = password_problems(password, f"用户 {username}")
    if problems:
        raise ValidationFailed(problems)
    with db.transaction(actor=actor, reason="重置密码") as s:
        u = _user(s, username)
        u.password_hash = _HASHER.hash(password)
        _revoke_all(s, u.id)


def set_active(db: Database, username: str, active: bool, actor: str = "system") -> None:
    """Enable or disable an account; disabling ends its sessions."""
    with db.transaction(actor=actor, reason="启用账号" if active else "停用账号") as s:
        u = _user(s, username)
        u.active = active
        if not active:
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
