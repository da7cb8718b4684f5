"""Accounts (issue 5): users bound to a role and a jurisdiction, their sign-in sessions and
the login attempts that throttling counts.

Passwords are stored only as argon2id hashes; session tokens only as SHA-256 digests, so a
copy of the database does not let anyone sign in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .schema import Base, Enterprise, Jurisdiction, Versioned, utcnow


class User(Versioned, Base):
    """A sign-in account."""

    __tablename__ = "users"
    __audited__ = True
    __audit_secret__ = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    #: For department accounts: which department (税务、统计、发改…).
    department: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    jurisdiction: Mapped[Jurisdiction | None] = relationship()
    enterprise: Mapped[Enterprise | None] = relationship()


class AuthSession(Base):
    """One sign-in: a bearer/cookie token (stored hashed) that expires."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: Double-submit CSRF token for cookie sign-ins (not a secret from the user's own browser).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    client: Mapped[str | None] = mapped_column(String(100))

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """Every attempt to sign in, successful or not (throttling and the security audit)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"),
                      Index("ix_login_attempts_client_at", "client", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(100))
    success: Mapped[bool] = mapped_column(Boolean)
