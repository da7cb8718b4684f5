"""Sign-in for the HTTP face: who is calling, from a bearer token or a session cookie.

* ``Authorization: Bearer <token>`` — for scripts and GIS clients; no CSRF check needed
  (browsers never attach it on their own).
* Cookie ``landcycle_session`` (HttpOnly, SameSite=Strict) — for the web pages. Unsafe
  methods must echo the session's CSRF token in ``X-CSRF-Token`` (double submit; the page
  reads it from the ``landcycle_csrf`` cookie).
* Neither — the anonymous public (:data:`ANONYMOUS`).
"""

from __future__ import annotations

import hmac
from datetime import datetime, timezone

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from ..domain.access import ANONYMOUS, Principal
from ..domain.errors import Forbidden
from ..services import accounts

SESSION_COOKIE = "landcycle_session"
CSRF_COOKIE = "landcycle_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _token(request: Request) -> tuple[str | None, bool]:
    """The session token and whether it came from the cookie."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the caller. A token that is unknown or expired is refused (401),
    never silently downgraded to anonymous."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token, from_cookie = _token(request)
    if not token:
        principal = ANONYMOUS
    else:
        principal, csrf = accounts.session_principal(request.app.state.db, token)
        if from_cookie and request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf.encode()):
                raise Forbidden("缺少或错误的 CSRF 令牌（请求头 X-CSRF-Token）")
    request.state.principal = principal
    return principal


class LoginBody(BaseModel):
    username: str = Field(..., max_length=64, description="用户名")
    password: str = Field(..., max_length=256, description="密码")


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/auth", tags=["账号"])

    @router.post("/login", summary="登录")
    def login(body: LoginBody, request: Request, response: Response):
        """Sign in. Returns a bearer token (for scripts) and sets the session and CSRF cookies
        (for the web pages). Repeated failures are throttled (429 with Retry-After)."""
        policy = request.app.state.auth_policy
        signed = accounts.login(request.app.state.db, body.username, body.password, _client(request), policy)
        max_age = int((signed.expires_at - datetime.now(timezone.utc)).total_seconds())
        secure = request.url.scheme == "https"
        response.set_cookie(SESSION_COOKIE, signed.token, max_age=max_age, httponly=True,
                            samesite="strict", secure=secure, path="/")
        response.set_cookie(CSRF_COOKIE, signed.csrf_token, max_age=max_age, httponly=False,
                            samesite="strict", secure=secure, path="/")
        return {"token": signed.token, "token_type": "bearer", "csrf_token": signed.csrf_token,
                "expires_at": signed.expires_at.isoformat(), "user": accounts.principal_view(signed.principal)}

    @router.post("/logout", summary="退出登录")
    def logout(request: Request, response: Response):
        token, from_cookie = _token(request)
        if token:
            current_principal(request)  # a cookie logout must carry the CSRF token
            accounts.logout(request.app.state.db, token)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return {"ok": True}

    @router.get("/me", summary="当前用户")
    def me(request: Request):
        return accounts.principal_view(current_principal(request))

    return router
