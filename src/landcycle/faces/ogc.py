"""OGC API – Features at ``/ogc``: the platform as a data source for QGIS, ArcGIS Pro and GDAL.

Part 1 (Core, GeoJSON, OpenAPI 3.0 through the app's ``/openapi.json``) and Part 2 (CRS by
reference: ``crs`` / ``bbox-crs``, ``Content-Crs``) over three collections — parcels, zones,
counties — read by :mod:`landcycle.services.features` under the caller's access rules
(bearer token or session; anonymous callers see only the published supply list).

OGC answers invalid query parameters, unknown ones included, with 400 (the rest of the API
answers 422): the router's route class turns ``ValidationFailed`` into a 400 with the usual
error body. Links are absolute, so clients can follow them as given.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ..domain.access import Principal
from ..domain.errors import Problem, ValidationFailed
from ..services import features
from . import openapi30
from .auth import current_principal
from .paging import page_links

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT = 100

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
)

_RECORD = "查询"


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


# --------------------------------------------------------------------------- documentation models
class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class LandingPage(BaseModel):
    title: str
    description: str
    links: list[Link]


class ConformanceDeclaration(BaseModel):
    conformsTo: list[str]


class SpatialExtent(BaseModel):
    bbox: list[list[float]]
    crs: str


class Extent(BaseModel):
    spatial: SpatialExtent


class CollectionInfo(BaseModel):
    id: str
    title: str
    description: str
    itemType: str
    extent: Extent | None = None
    crs: list[str]
    storageCrs: str
    links: list[Link]


class Collections(BaseModel):
    links: list[Link]
    collections: list[CollectionInfo]


# GeoJSON answers are documented under application/geo+json with plain schemas (errors stay
# application/json, as everywhere in the API).
_LINK_SCHEMA = {"type": "object", "required": ["href", "rel"],
                "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                               "type": {"type": "string"}, "title": {"type": "string"}}}
_FEATURE_SCHEMA = {
    "type": "object", "required": ["type", "id", "geometry", "properties"],
    "properties": {"type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "string"},
                   "geometry": {"type": ["object", "null"]}, "properties": {"type": ["object", "null"]},
                   "links": {"type": "array", "items": _LINK_SCHEMA}},
}
_FEATURE_COLLECTION_SCHEMA = {
    "type": "object", "required": ["type", "features", "links", "timeStamp", "numberMatched", "numberReturned"],
    "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                   "features": {"type": "array", "items": _FEATURE_SCHEMA},
                   "links": {"type": "array", "items": _LINK_SCHEMA},
                   "timeStamp": {"type": "string", "format": "date-time"},
                   "numberMatched": {"type": "integer", "minimum": 0},
                   "numberReturned": {"type": "integer", "minimum": 0}},
}


#: The path parameter: documented with the known ids (others are a 404, as OGC requires).
_COLLECTION_ID = Path(..., description="集合标识：parcels、zones、counties",
                      json_schema_extra={"enum": list(features.COLLECTIONS)})


def _query(name: str, description: str, schema: dict, **extra) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema, **extra}


_F = _query("f", "输出格式（仅 json）", {"type": "string", "enum": ["json"]})
_CRS = _query("crs", "输出坐标参照系（URI），可选：" + "、".join(features.SUPPORTED_CRS)
              + f"；默认 CRS84（经度在前）。EPSG:4490/4326 按其规定的轴序输出（纬度在前）",
              {"type": "string", "format": "uri"})
_ITEMS_PARAMETERS = [
    _query("limit", f"每页要素数，1–{features.MAX_PAGE}（更大的值按 {features.MAX_PAGE} 处理）",
           {"type": "integer", "minimum": 1, "maximum": features.MAX_PAGE, "default": DEFAULT_LIMIT},
           style="form", explode=False),
    _query("offset", "跳过的要素数", {"type": "integer", "minimum": 0, "default": 0}, style="form", explode=False),
    _query("bbox", "范围：最小x,最小y,最大x,最大y（按 bbox-crs 的轴序；默认 CRS84 经度在前），"
           "返回几何与之相交的要素",
           {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
           style="form", explode=False),
    _query("bbox-crs", "bbox 的坐标参照系（URI），默认 CRS84", {"type": "string", "format": "uri"}),
    _CRS,
    _F,
]


def _ok(model: type[BaseModel], description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": description}}


def _geo_ok(schema: dict[str, Any], description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {GEOJSON: {"schema": schema}},
                  "headers": {"Content-Crs": {"description": "要素坐标的坐标参照系，尖括号内的 URI",
                                              "schema": {"type": "string"}}}}}


# --------------------------------------------------------------------------- parameters
class _OgcRoute(APIRoute):
    """Invalid parameters are a 400 in OGC API – Features (elsewhere in the API: 422)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                return await handler(request)
            except ValidationFailed as exc:
                return JSONResponse({"code": "bad_request", "message": str(exc), "problems": [
                    {"record": p.record, "field": p.field, "message": p.message, "code": p.code}
                    for p in exc.problems]}, status_code=400)

        return route


def _params(request: Request, allowed: set[str]) -> dict[str, str]:
    """The query parameters, each at most once and all of them known to this operation."""
    out: dict[str, str] = {}
    problems = []
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            problems.append(Problem(_RECORD, key, f"不支持的参数，可用：{'、'.join(sorted(allowed))}", "unknown_parameter"))
        elif key in out:
            problems.append(Problem(_RECORD, key, "参数重复", "repeated_parameter"))
        else:
            out[key] = value
    if out.get("f", "json") != "json":
        problems.append(Problem(_RECORD, "f", "仅支持 f=json", "unsupported_format"))
    if problems:
        raise ValidationFailed(problems)
    return out


def _count(params: dict[str, str], name: str, default: int, minimum: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    digits = text.strip()
    if not (digits.isdecimal() and len(digits) <= 12) or int(digits) < minimum:
        raise ValidationFailed(Problem(_RECORD, name, f"应为不小于 {minimum} 的整数", f"invalid_{name}"))
    return int(digits)


def _bbox(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValidationFailed(Problem(_RECORD, "bbox", "应为4个（或6个）以逗号分隔的数", "invalid_bbox")) from None
    return values


# --------------------------------------------------------------------------- links
def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def _collection_body(request: Request, c: features.Collection, extent: list[float] | None) -> dict[str, Any]:
    href = f"{_root(request)}/collections/{c.id}"
    body: dict[str, Any] = {
        "id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
        "crs": list(features.SUPPORTED_CRS), "storageCrs": features.STORAGE_CRS,
        "links": [_link(href, "self", JSON, "本集合说明"),
                  _link(f"{href}/items", "items", GEOJSON, f"{c.title}（GeoJSON）")],
    }
    if extent:
        body["extent"] = {"spatial": {"bbox": [extent], "crs": features.CRS84}}
    return body


def _crs_header(crs: str) -> dict[str, str]:
    return {"Content-Crs": f"<{crs}>"}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/ogc", tags=["OGC API – Features"], route_class=_OgcRoute)

    @router.get("", summary="OGC API – Features 入口", response_model=None,
                responses=_ok(LandingPage, "入口页：服务说明、符合性声明与数据集合的链接"),
                openapi_extra={"parameters": [_F]})
    def landing(request: Request):
        _params(request, {"f"})
        root, base = _root(request), str(request.base_url).rstrip("/")
        links = [_link(root, "self", JSON, "本文档"),
                 _link(f"{root}/conformance", "conformance", JSON, "符合性声明"),
                 _link(f"{root}/collections", "data", JSON, "数据集合")]
        if request.app.openapi_url:
            links.append(_link(f"{root}/api", "service-desc", OPENAPI_JSON, "API 定义（OpenAPI 3.0）"))
        if request.app.docs_url:
            links.append(_link(base + request.app.docs_url, "service-doc", "text/html", "API 文档"))
        return JSONResponse({
            "title": "许昌市产业集聚区土地全生命周期管理平台 — OGC API – Features",
            "description": "宗地、产业集聚区与县(市、区)要素服务，可在 QGIS、ArcGIS Pro、GDAL 中作为"
                           " OGC API – Features 数据源添加。未登录仅提供年度可供土地清单上的宗地。",
            "links": links})

    @router.get("/api", summary="API 定义（OpenAPI 3.0）", response_model=None,
                responses={200: {"content": {OPENAPI_JSON: {}}, "description": "本服务的 OpenAPI 3.0 定义"}})
    def api_definition(request: Request):
        """The application's OpenAPI document as 3.0 (FastAPI writes 3.1; see faces/openapi30.py)."""
        if request.app.openapi_url is None:
            raise HTTPException(404)
        doc = getattr(request.app.state, "openapi30", None)
        if doc is None:
            doc = request.app.state.openapi30 = openapi30.downgrade(request.app.openapi())
        return JSONResponse(doc, media_type=OPENAPI_JSON)

    @router.get("/conformance", summary="符合性声明", response_model=None,
                responses=_ok(ConformanceDeclaration, "所实现的 OGC 符合性类"),
                openapi_extra={"parameters": [_F]})
    def conformance(request: Request):
        _params(request, {"f"})
        return JSONResponse({"conformsTo": list(CONFORMANCE)})

    @router.get("/collections", summary="数据集合列表", response_model=None,
                responses=_ok(Collections, "宗地、产业集聚区、县(市、区)三个要素集合"),
                openapi_extra={"parameters": [_F]})
    def collections(request: Request):
        _params(request, {"f"})
        extents = features.extents(request.app.state.db)
        return JSONResponse({
            "links": [_link(f"{_root(request)}/collections", "self", JSON, "数据集合")],
            "collections": [_collection_body(request, c, extents.get(c.id)) for c in features.COLLECTIONS.values()]})

    @router.get("/collections/{collectionId}", summary="数据集合说明", response_model=None,
                responses=_ok(CollectionInfo, "集合说明：范围、支持的坐标参照系、要素链接"),
                openapi_extra={"parameters": [_F]})
    def collection(request: Request, collectionId: str = _COLLECTION_ID):  # noqa: N803
        _params(request, {"f"})
        c = features.collection(collectionId)
        return JSONResponse(_collection_body(request, c, features.extents(request.app.state.db).get(c.id)))

    @router.get("/collections/{collectionId}/items", summary="要素（GeoJSON，分页）",
                response_model=None,
                responses=_geo_ok(_FEATURE_COLLECTION_SCHEMA, "一页要素；numberMatched 为符合条件的总数"),
                openapi_extra={"parameters": _ITEMS_PARAMETERS})
    def items(request: Request, collectionId: str = _COLLECTION_ID,  # noqa: N803
              viewer: Principal = Depends(current_principal)):
        params = _params(request, {"f", "limit", "offset", "bbox", "bbox-crs", "crs"})
        features.collection(collectionId)  # an unknown collection is a 404 before any parameter problem
        limit = min(_count(params, "limit", DEFAULT_LIMIT, 1), features.MAX_PAGE)
        offset = _count(params, "offset", 0, 0)
        page = features.features(request.app.state.db, collectionId, viewer=viewer,
                                 bbox=_bbox(params.get("bbox")), bbox_crs=params.get("bbox-crs"),
                                 crs=params.get("crs"), limit=limit, offset=offset)
        links = [{**link, "href": urljoin(str(request.url), link["href"])}
                 for link in page_links(request, page.number_matched, len(page.features), limit, offset,
                                        media_type=GEOJSON)]
        links.append(_link(f"{_root(request)}/collections/{collectionId}", "collection", JSON, "所属集合"))
        return GeoJSONResponse({
            "type": "FeatureCollection",
            "features": page.features,
            "links": links,
            "timeStamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "numberMatched": page.number_matched,
            "numberReturned": len(page.features),
        }, headers=_crs_header(page.crs))

    @router.get("/collections/{collectionId}/items/{featureId}", summary="单个要素（GeoJSON）",
                response_model=None,
                responses=_geo_ok(_FEATURE_SCHEMA, "要素；不存在或不在您的可见范围内时为 404"),
                openapi_extra={"parameters": [_CRS, _F]})
    def item(request: Request,
             collectionId: str = _COLLECTION_ID,  # noqa: N803
             featureId: str = Path(..., description="要素标识：宗地代码或辖区代码"),  # noqa: N803
             viewer: Principal = Depends(current_principal)):
        params = _params(request, {"f", "crs"})
        features.collection(collectionId)
        crs = features.supported_crs(params.get("crs"))
        found = features.feature(request.app.state.db, collectionId, featureId, viewer=viewer, crs=crs)
        href = f"{_root(request)}/collections/{collectionId}"
        found["links"] = [_link(str(request.url), "self", GEOJSON, "本要素"),
                          _link(href, "collection", JSON, "所属集合")]
        return GeoJSONResponse(found, headers=_crs_header(crs))

    return router
