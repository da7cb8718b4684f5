"""User administration over HTTP (issue 5): the city admin lists, creates, changes, disables
and resets accounts (``Action.MANAGE_USERS``); any signed-in user changes their own password.

Accounts are never answered with their password hash. Changes carry the version the client
read: a stale one gets 409 with the current account and nothing is written.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from ..domain.access import Principal
from ..services import accounts
from .auth import CSRF_COOKIE, SESSION_COOKIE, current_principal
from .paging import PageParams, page_body, page_params

ROLES = Literal["city_admin", "county_admin", "zone_manager", "department", "enterprise"]


def _username():
    return PathParam(..., min_length=1, max_length=64, description="用户名")


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(..., min_length=1, max_length=64, description="用户名（不含空格）")
    password: str = Field(..., max_length=256, description=f"初始密码（至少 {accounts.MIN_PASSWORD_LENGTH} 个字符）")
    role: ROLES = Field(..., description="角色")
    jurisdiction: str | None = Field(None, max_length=100, description="所属辖区（代码、名称或别名；企业账号不填）")
    enterprise: str | None = Field(None, max_length=18, description="企业统一社会信用代码（企业账号）")
    department: str | None = Field(None, max_length=50, description="部门名称（职能部门账号，如 税务、统计）")
    display_name: str = Field("", max_length=100, description="姓名（缺省为用户名）")


class UserChanges(BaseModel):
    """Only the fields sent are changed; ``version`` is the one read."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(..., ge=1, le=2**31 - 1, description="读取时的版本号（过期则 409，不保存）")
    display_name: str | None = Field(None, max_length=100, description="姓名")
    active: bool | None = Field(None, description="是否启用（停用即结束其全部登录）")
    role: ROLES | None = Field(None, description="角色（变更后须符合该角色的辖区/企业/部门要求）")
    jurisdiction: str | None = Field(None, max_length=100, description="所属辖区")
    enterprise: str | None = Field(None, max_length=18, description="企业统一社会信用代码（企业账号）")
    department: str | None = Field(None, max_length=50, description="部门名称（职能部门账号）")


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(..., max_length=256, description=f"新密码（至少 {accounts.MIN_PASSWORD_LENGTH} 个字符）")


class OwnPasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str = Field(..., max_length=256, description="原密码")
    new_password: str = Field(..., max_length=256, description=f"新密码（至少 {accounts.MIN_PASSWORD_LENGTH} 个字符）")


def build_router() -> APIRouter:
    router = APIRouter(tags=["账号"])

    @router.get("/api/users", summary="账号列表（市级管理员）")
    def list_users(request: Request,
                   role: ROLES | None = Query(None, description="只列出该角色"),
                   active: bool | None = Query(None, description="true 只列启用的，false 只列停用的"),
                   page: PageParams = Depends(page_params(accounts.USER_SORT_FIELDS)),
                   principal: Principal = Depends(current_principal)):
        items, total = accounts.users_page(request.app.state.db, viewer=principal, role=role, active=active,
                                           limit=page.limit, offset=page.offset, sort=page.sort)
        return page_body(request, items, total, page)

    @router.post("/api/users", summary="新建账号（市级管理员）", status_code=201)
    def add_user(body: NewUser, request: Request, principal: Principal = Depends(current_principal)):
        return accounts.add_user(request.app.state.db, body.username, body.password, body.role,
                                 jurisdiction=body.jurisdiction, enterprise=body.enterprise,
                                 department=body.department, display_name=body.display_name, actor=principal)

    @router.get("/api/users/{username}", summary="查看账号（市级管理员）")
    def get_user(request: Request, username: str = _username(), principal: Principal = Depends(current_principal)):
        return accounts.get_user(request.app.state.db, username, viewer=principal)

    @router.patch("/api/users/{username}", summary="修改账号：姓名、启用/停用、角色与辖区（市级管理员）")
    def change_user(body: UserChanges, request: Request, username: str = _username(),
                    principal: Principal = Depends(current_principal)):
        """Change what is sent; 409 with the current account when ``version`` is stale."""
        changes = body.model_dump(exclude_unset=True, exclude={"version"})
        return accounts.update_user(request.app.state.db, username, changes, body.version, actor=principal)

    @router.post("/api/users/{username}/password", summary="重置账号密码（市级管理员）")
    def reset_password(body: PasswordReset, request: Request, username: str = _username(),
                       principal: Principal = Depends(current_principal)):
        """Set a new password; every session of the account ends."""
        accounts.set_password(request.app.state.db, username, body.password, actor=principal)
        return {"ok": True, "message": f"已重置 {username} 的密码，其全部登录已失效"}

    @router.post("/api/auth/password", summary="修改本人密码")
    def change_own_password(body: OwnPasswordChange, request: Request, response: Response,
                            principal: Principal = Depends(current_principal)):
        """Prove the old password, set a new one; every session ends (sign in again). A wrong
        old password counts as a failed sign-in (throttled like login)."""
        accounts.change_own_password(request.app.state.db, principal, body.old_password, body.new_password,
                                     request.client.host if request.client else "", request.app.state.auth_policy)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return {"ok": True, "message": "密码已修改，请用新密码重新登录"}

    return router
