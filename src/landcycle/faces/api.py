"""The HTTP face (FastAPI): the REST API, sign-in, and the map page.

Every endpoint asks the services on behalf of the caller (:func:`faces.auth.current_principal`):
the services filter by the caller's role and jurisdiction, so the public sees only the
published supply list and nothing confidential. Errors share one body:
``{"code": machine code, "message": Chinese message, "problems": [...]}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..config import Settings
from ..domain.access import Principal
from ..domain.errors import (
    ConcurrentWrite,
    Conflict,
    DatabaseNotReady,
    Forbidden,
    LandcycleError,
    NotFound,
    Problem,
    TooManyAttempts,
    Unauthorized,
    ValidationFailed,
)
from ..services.accounts import AuthPolicy
from . import auth
from . import routes_evaluation, routes_imports, routes_users
from . import ogc, pages
from . import tiles as tile_routes
from . import routes_audit, routes_ledgers, routes_registry
from . import routes_workbench
from . import routes_supply
from . import routes_lifecycle
from . import routes_supervision
from . import routes_split
from . import routes_approvals
from . import routes_standard_supply
from . import routes_notices
from . import routes_kaoping
from . import routes_plans
from . import routes_supply_lists
from . import routes_bulletin
from . import routes_oversight
from . import routes_disposal
from .auth import current_principal
from .errors import ERROR_RESPONSES
from .paging import MAX_OFFSET, page_links, parse_sort
from .editing import etag
from ..services.audit import VersionRequired
from ..domain.labels import FIELD_LABELS
from ..domain.records import LABELLED_FIELDS
from ..domain.vocabulary import InefficiencyCategory, LandState
from ..services import jurisdictions, registry, rules, setup

if TYPE_CHECKING:  # the face only passes the handle on to services
    from ..storage.db import Database

STATIC_DIR = Path(__file__).parent / "web" / "static"
#: Map centre and zoom when the page opens: 许昌市 as a whole.
DEFAULT_CENTER = (113.83, 34.03)
DEFAULT_ZOOM = 9
#: Largest request body accepted (bytes); uploads of GIS files have their own limit.
MAX_BODY_BYTES = 2 * 1024 * 1024

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 413: "body_too_large",
                 415: "unsupported_media_type", 422: "validation_failed"}
_STATUS_MESSAGES = {400: "请求格式错误", 401: "请先登录", 403: "无权访问", 404: "未找到请求的资源",
                    405: "不支持该请求方法", 406: "不支持请求的格式", 413: "请求体过大",
                    415: "不支持的请求体类型", 422: "请求参数有误"}


class RawUtf8QueryMiddleware:
    """Percent-encode raw UTF-8 bytes in the query string before Starlette parses it.

    ``curl 'http://…/api/parcels?zone=魏都产业集聚区'`` sends the Chinese as raw UTF-8 bytes;
    ASGI hands them over untouched and Starlette would decode them as Latin-1. Encoding
    exactly the bytes ≥ 0x80 makes such a query mean what the user typed.
    """

    _NON_ASCII = re.compile(rb"[\x80-\xff]")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self._NON_ASCII.search(scope.get("query_string", b"")):
            scope = dict(scope)
            scope["query_string"] = self._NON_ASCII.sub(lambda m: b"%%%02X" % m.group()[0],
                                                        scope["query_string"])
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413 before they reach an endpoint
    (by Content-Length, and by counting for chunked bodies)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES, upload_limit: int = 200 * 1024 * 1024,
                 upload_prefix: str = "/api/imports"):
        self.app, self.limit, self.upload_limit, self.upload_prefix = app, limit, upload_limit, upload_prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope["path"].startswith(self.upload_prefix) else self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._too_large(send, limit)
        seen = 0

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await self._too_large(send, limit)

    @staticmethod
    async def _too_large(send, limit: int):
        body = JSONResponse({"code": "body_too_large", "message": f"请求体过大（上限 {limit // 1024} KiB）"},
                            status_code=413).body
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def _error(status: int, exc: LandcycleError, headers: dict | None = None, **extra) -> JSONResponse:
    body = {"code": exc.code, "message": str(exc), **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_path(loc) -> str:
    parts = [str(x) for x in loc if x not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "(请求)")


def _request_problems(exc: RequestValidationError) -> list[dict]:
    out = []
    for e in exc.errors():
        loc = e.get("loc", ())
        where = {"body": "请求体", "query": "查询参数", "path": "路径参数", "header": "请求头"}.get(
            loc[0] if loc else "", "请求")
        kind = e.get("type", "invalid")
        msg = {"missing": "缺少必填项", "json_invalid": "请求体不是有效的 JSON",
               "int_parsing": "应为整数", "float_parsing": "应为数值", "bool_parsing": "应为布尔值",
               "string_type": "应为文本", "string_too_long": "文本过长", "model_attributes_type": "应为 JSON 对象",
               "dict_type": "应为 JSON 对象", "list_type": "应为列表", "date_from_datetime_parsing": "应为日期 YYYY-MM-DD",
               "date_parsing": "应为日期 YYYY-MM-DD", "extra_forbidden": "不允许的字段",
               "greater_than_equal": "数值过小", "less_than_equal": "数值过大", "enum": "取值无效",
               "literal_error": "取值无效", "int_type": "应为整数", "float_type": "应为数值",
               "bool_type": "应为布尔值 true/false", "date_type": "应为日期 YYYY-MM-DD", "too_short": "元素过少",
               "too_long": "元素过多", "string_too_short": "不能为空", "union_tag_invalid": "几何类型应为 Polygon 或 MultiPolygon",
               "datetime_parsing": "应为时间 ISO 8601", "datetime_from_date_parsing": "应为时间 ISO 8601",
               "finite_number": "应为有限数值", "value_error": str(e.get("ctx", {}).get("error", "取值无效"))
               }.get(kind, "取值无效")
        out.append({"record": where, "field": _field_path(loc), "message": msg, "code": kind})
    return out


def _declare_security(app: FastAPI) -> None:
    """Say in the OpenAPI document how callers sign in: a bearer token (scripts, GIS clients) or
    the session cookie with its CSRF header (the web pages). Every operation accepts anonymous
    calls too — what they answer depends on the caller (401 where sign-in is required)."""
    build = app.openapi

    def openapi():
        if app.openapi_schema is None:
            doc = build()
            doc.setdefault("components", {})["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "POST /api/auth/login 返回的 token"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": auth.SESSION_COOKIE,
                                  "description": "网页登录会话；非 GET 请求须带 X-CSRF-Token 请求头"},
            }
            doc["security"] = [{}, {"bearerAuth": []}, {"sessionCookie": []}]
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi


def create_app(db: "Database | None" = None, settings: Settings | None = None) -> FastAPI:
    """Build the application around one database (opened from the settings if not given)."""
    settings = settings or Settings.from_env()
    db = db or setup.open_database(settings)
    app = FastAPI(
        title="许昌市产业集聚区土地全生命周期管理平台 API",
        version=__version__,
        description="landcycle — industrial-land lifecycle platform. Error bodies: "
        '`{"code": machine code, "message": Chinese message, "problems": [...]}`.',
        responses=ERROR_RESPONSES,
    )
    app.state.db = db
    app.state.auth_policy = AuthPolicy.from_env()
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(RawUtf8QueryMiddleware)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_req: Request, exc: RequestValidationError):
        problems = _request_problems(exc)
        message = "；".join(f"{p['record']} {p['field']}：{p['message']}" for p in problems)
        return JSONResponse({"code": "validation_failed", "message": message or "请求参数有误",
                             "problems": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = _STATUS_MESSAGES.get(exc.status_code) or str(exc.detail)
        return JSONResponse({"code": code, "message": message}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_req: Request, exc: Unauthorized):
        return _error(401, exc, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Forbidden)
    async def _forbidden(_req: Request, exc: Forbidden):
        return _error(403, exc)

    @app.exception_handler(TooManyAttempts)
    async def _throttled(_req: Request, exc: TooManyAttempts):
        return _error(429, exc, headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(ValidationFailed)
    async def _validation(_req: Request, exc: ValidationFailed):
        return _error(422, exc, problems=[
            {"record": p.record, "field": p.field, "message": p.message, "code": p.code}
            for p in exc.problems])

    @app.exception_handler(NotFound)
    async def _not_found(_req: Request, exc: NotFound):
        return _error(404, exc)

    @app.exception_handler(Conflict)
    async def _conflict(_req: Request, exc: Conflict):
        return _error(409, exc, current=exc.current)

    @app.exception_handler(ConcurrentWrite)
    async def _concurrent(_req: Request, exc: ConcurrentWrite):
        return _error(409, exc)

    @app.exception_handler(VersionRequired)
    async def _version_required(_req: Request, exc: VersionRequired):
        return _error(428, exc)

    @app.exception_handler(DatabaseNotReady)
    async def _not_ready(_req: Request, exc: DatabaseNotReady):
        return _error(503, exc)

    @app.get("/healthz", tags=["运维"])
    def healthz():
        st = setup.status(db)
        ok = st.schema_current
        return JSONResponse({"status": "ok" if ok else "schema_outdated", "backend": st.backend,
                             "schema_revision": st.schema_revision, "parcels": st.parcels,
                             "version": __version__}, status_code=200 if ok else 503)

    @app.get("/api/config", tags=["地图"])
    def config():
        return {"basemap_url": settings.basemap_url, "center": list(DEFAULT_CENTER), "zoom": DEFAULT_ZOOM}

    @app.get("/api/meta/states", tags=["字典"])
    def states():
        return LandState.choices()

    @app.get("/api/meta/fields", tags=["字典"])
    def field_meta():
        """What edit forms need: each field's Chinese label (``labels``: ``[{field, label}]``, like
        the choice lists) and, for coded fields, the allowed values with their labels (``choices``)."""
        coded = {**LABELLED_FIELDS, "inefficiency_categories": InefficiencyCategory}
        return {"labels": [{"field": k, "label": v} for k, v in FIELD_LABELS.items()],
                "choices": {name: enum.choices() for name, enum in coded.items()}}

    @app.get("/api/jurisdictions", tags=["辖区"])
    def list_jurisdictions():
        return jurisdictions.jurisdiction_features(db)

    @app.get("/api/parcels", tags=["宗地"], response_class=JSONResponse,
             responses={200: {"content": {"application/geo+json": {}}, "description": "宗地 GeoJSON 分页"}})
    def list_parcels(
        request: Request,
        county: str | None = Query(None, description="县(市、区)代码、名称或别名"),
        zone: str | None = Query(None, description="产业集聚区代码、名称或别名"),
        state: str | None = Query(None, description="土地状态（英文值或中文名）"),
        bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat（EPSG:4490）"),
        category: str | None = Query(None, max_length=50, description="低效类别（英文值或中文名）"),
        land_source: str | None = Query(None, max_length=50, description="土地来源（英文值或中文名）"),
        limit: int = Query(100, description=f"每页条数，1–{registry.MAX_PAGE}"),
        offset: int = Query(0, ge=0, le=MAX_OFFSET, description="偏移量"),
        sort: str | None = Query(None, description="排序字段，逗号分隔，前加 - 为降序；可选："
                                 + "、".join(registry.PARCEL_SORT_FIELDS)),
        viewer: Principal = Depends(current_principal),
    ):
        box = None
        if bbox:
            parts = bbox.split(",")
            if len(parts) != 4:
                raise ValidationFailed(Problem("查询", "bbox", "应为4个以逗号分隔的数"))
            box = tuple(parts)
        page = registry.list_parcels(db, viewer=viewer, county=county, zone=zone, state=state, bbox=box,
                                     limit=limit, offset=offset, sort=parse_sort(sort, registry.PARCEL_SORT_FIELDS),
                                     category=category, land_source=land_source)
        links = page_links(request, page["numberMatched"], page["numberReturned"], limit, offset,
                           media_type="application/geo+json")
        page["links"] = links
        return JSONResponse(page, media_type="application/geo+json")

    @app.get("/api/parcels/{code}", tags=["宗地"])
    def parcel_card(code: str, viewer: Principal = Depends(current_principal)):
        """一宗一卡 as the caller may see it (the public: published supply-list parcels only,
        nothing confidential)."""
        card = registry.parcel_card(db, code, viewer=viewer)
        return JSONResponse(card, headers={"ETag": etag(card["parcel"]["version"])})

    @app.get("/api/check", tags=["规则"])
    def list_checks():
        """The rules a single case can be checked against (see docs/rules.md)."""
        return rules.rule_names()

    @app.post("/api/check/{rule}", tags=["规则"])
    async def check_rule(rule: str, request: Request,
                         jurisdiction: list[str] = Query([], description="应用该县区/集聚区的规则覆盖")):
        """Apply one rule to the case in the JSON body; 200 with the verdict whatever the outcome,
        422 naming the bad fields, 404 for an unknown rule."""
        try:
            case = await request.json()
        except ValueError:
            raise ValidationFailed(Problem("请求", "(body)", "请求体不是有效的 JSON")) from None
        return rules.check(rule, case, jurisdiction)

    app.include_router(auth.build_router())
    app.include_router(tile_routes.build_router())
    app.include_router(routes_imports.build_router(settings))
    app.include_router(routes_evaluation.build_router())
    app.include_router(routes_users.build_router())
    app.include_router(ogc.build_router())
    app.include_router(routes_registry.build_router())
    app.include_router(routes_ledgers.build_router())
    app.include_router(routes_audit.build_router())
    app.include_router(routes_workbench.build_router())
    app.include_router(routes_supply.build_router())
    app.include_router(routes_lifecycle.build_router())
    app.include_router(routes_supervision.build_router())
    app.include_router(routes_split.build_router())
    app.include_router(routes_approvals.build_router())
    app.include_router(routes_standard_supply.build_router())
    app.include_router(routes_notices.build_router())
    app.include_router(routes_kaoping.build_router())
    app.include_router(routes_plans.build_router())
    app.include_router(routes_supply_lists.build_router())
    app.include_router(routes_bulletin.build_router())
    app.include_router(routes_oversight.build_router())
    app.include_router(routes_disposal.build_router())

    app.include_router(pages.build_router(STATIC_DIR, settings.basemap_url))
    _declare_security(app)

    if STATIC_DIR.exists():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
