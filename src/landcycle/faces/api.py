"""The first HTTP face (FastAPI): health, jurisdictions, parcels, the 一宗一卡 card and the map page.

Accounts and roles come later; until then the API serves only what the public may see
(the card leaves out enterprises' credit codes and figures).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..config import Settings
from ..domain.errors import Conflict, DatabaseNotReady, LandcycleError, NotFound, Problem, ValidationFailed
from ..domain.vocabulary import LandState
from ..services import jurisdictions, registry, rules, setup

if TYPE_CHECKING:  # the face only passes the handle on to services
    from ..storage.db import Database

STATIC_DIR = Path(__file__).parent / "web" / "static"
#: Map centre and zoom when the page opens: 许昌市 as a whole.
DEFAULT_CENTER = (113.83, 34.03)
DEFAULT_ZOOM = 9


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


def _error(status: int, exc: LandcycleError, **extra) -> JSONResponse:
    body = {"code": exc.code, "message": str(exc), **extra}
    return JSONResponse(body, status_code=status)


def create_app(db: "Database | None" = None, settings: Settings | None = None) -> FastAPI:
    """Build the application around one database (opened from the settings if not given)."""
    settings = settings or Settings.from_env()
    db = db or setup.open_database(settings)
    app = FastAPI(
        title="许昌市产业集聚区土地全生命周期管理平台 API",
        version=__version__,
        description="landcycle — industrial-land lifecycle platform. Error bodies: "
        '`{"code": machine code, "message": Chinese message, "problems": [...]}`.',
    )
    app.state.db = db
    app.add_middleware(RawUtf8QueryMiddleware)

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

    @app.get("/api/jurisdictions", tags=["辖区"])
    def list_jurisdictions():
        return jurisdictions.jurisdiction_features(db)

    @app.get("/api/parcels", tags=["宗地"])
    def list_parcels(
        request: Request,
        county: str | None = Query(None, description="县(市、区)代码、名称或别名"),
        zone: str | None = Query(None, description="产业集聚区代码、名称或别名"),
        state: str | None = Query(None, description="土地状态（英文值或中文名）"),
        bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat（EPSG:4490）"),
        limit: int = Query(100, description=f"每页条数，1–{registry.MAX_PAGE}"),
        offset: int = Query(0, description="偏移量"),
    ):
        box = None
        if bbox:
            parts = bbox.split(",")
            if len(parts) != 4:
                raise ValidationFailed(Problem("查询", "bbox", "应为4个以逗号分隔的数"))
            box = tuple(parts)
        page = registry.list_parcels(db, county=county, zone=zone, state=state, bbox=box,
                                     limit=limit, offset=offset)
        params = {k: v for k, v in request.query_params.items() if k != "offset"}
        links = [{"rel": "self", "type": "application/geo+json", "href": str(request.url)}]
        if offset + page["numberReturned"] < page["numberMatched"]:
            nxt = urlencode({**params, "offset": offset + page["numberReturned"]})
            links.append({"rel": "next", "type": "application/geo+json",
                          "href": f"{request.url.path}?{nxt}"})
        if offset > 0:
            prev = urlencode({**params, "offset": max(0, offset - limit)})
            links.append({"rel": "prev", "type": "application/geo+json",
                          "href": f"{request.url.path}?{prev}"})
        page["links"] = links
        return JSONResponse(page, media_type="application/geo+json")

    @app.get("/api/parcels/{code}", tags=["宗地"])
    def parcel_card(code: str):
        return registry.parcel_card(db, code, confidential=False)

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

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC_DIR / "index.html")

    if STATIC_DIR.exists():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
