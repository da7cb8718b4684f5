"""The one error body of the HTTP API, documented in OpenAPI for every operation.

Routers pass ``responses=ERROR_RESPONSES`` so the schema says what clients (and the
schemathesis fuzz test) will receive on refusal.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ProblemBody(BaseModel):
    record: str = Field(..., description="出错的记录，如“宗地 411002…”或“第3行”")
    field: str = Field(..., description="出错的字段")
    message: str = Field(..., description="中文说明")
    code: str = Field(..., description="机器可读代码")


class ErrorBody(BaseModel):
    """``{"code": machine code, "message": Chinese message, "problems": [...], "current": {...}}``"""

    code: str = Field(..., description="机器可读错误代码，如 validation_failed、version_conflict")
    message: str = Field(..., description="中文错误说明")
    problems: list[ProblemBody] | None = Field(None, description="逐字段的问题（校验失败时）")
    current: dict[str, Any] | None = Field(None, description="记录的当前版本（版本冲突时）")


def _r(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _r("请求格式错误"),
    401: _r("未登录或登录已失效"),
    403: _r("无权执行此操作"),
    404: _r("未找到（或不在您的辖区内）"),
    409: _r("冲突：记录已被他人修改（version_conflict），或同时办理的另一项业务已占用要写入的编号（concurrent_write）；未保存任何内容"),
    413: _r("请求体过大"),
    422: _r("输入有误，未写入任何内容"),
    428: _r("缺少版本号（If-Match 或 version）"),
    429: _r("登录失败次数过多，请稍后再试"),
    503: _r("数据库未就绪"),
}
