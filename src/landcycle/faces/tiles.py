"""Vector tiles over HTTP: ``/tiles/{layer}/{z}/{x}/{y}.mvt`` and a TileJSON 3.0 document per layer.

Maps read tiles, lists read pages: the web page and GIS clients (MapLibre, QGIS "Vector Tiles"
connections, GDAL's MVT driver) point a ``vector`` source at ``/tiles/{layer}.json``.

HTTP behaviour (see docs/tiles.md):

* ``200`` with ``application/vnd.mapbox-vector-tile`` — an empty body when the tile holds no
  feature (a valid tile with no layers; MapLibre, QGIS and GDAL all read it as empty);
* ``ETag`` (digest of the bytes) on every tile; ``If-None-Match`` → ``304``;
* ``Cache-Control``: ``public, max-age=60`` for the layers that are the same for everyone
  (``supply``, ``zones``, ``counties``); ``private, no-cache`` with ``Vary: Authorization,
  Cookie`` for ``parcels``, whose content depends on who asks;
* ``404`` with the usual Chinese error body for an unknown layer or a z/x/y that names no tile
  of the layer (not integers, outside the grid, outside the layer's zoom range);
* the ``parcels`` TileJSON lists the fields of the caller's own tiles (the evaluation class
  only for callers who may read evaluation results) and varies with ``Authorization, Cookie``.

``LANDCYCLE_TILE_CACHE=0`` turns the server's tile cache off (benchmarks of uncached tiles);
``LANDCYCLE_TILE_CACHE_MB`` sets its size (default 64).
"""

from __future__ import annotations

import os
import re

from fastapi import APIRouter, Request, Response

from ..domain.access import ANONYMOUS
from ..domain.errors import NotFound
from ..services import tiles
from .auth import current_principal
from .errors import ERROR_RESPONSES

PUBLIC_CACHE = "public, max-age=60"
PRIVATE_CACHE = "private, no-cache"
_COORD = re.compile(r"\d{1,10}")
_ERRORS = {k: ERROR_RESPONSES[k] for k in (401, 404, 503)}


def _cache_from_env() -> tiles.TileCache | None:
    if os.environ.get("LANDCYCLE_TILE_CACHE", "1").strip().lower() in ("0", "off", "false", "no"):
        return None
    try:
        megabytes = float(os.environ.get("LANDCYCLE_TILE_CACHE_MB", "64"))
    except ValueError:
        megabytes = 64.0
    return tiles.TileCache(max_bytes=int(megabytes * 1024 * 1024))


def _coordinates(layer: str, z: str, x: str, y: str) -> tuple[int, int, int]:
    if not all(_COORD.fullmatch(v) for v in (z, x, y)):
        raise NotFound("瓦片", f"{layer}/{z}/{x}/{y}（瓦片坐标应为非负整数）")
    return int(z), int(x), int(y)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(t.strip().removeprefix("W/") == etag for t in header.split(","))


def _tiles_url(request: Request, layer: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"


def build_router(cache: tiles.TileCache | None = None, use_env: bool = True) -> APIRouter:
    """The tile routes, with their own tile cache (one per app, so per database). ``cache``
    overrides the one the environment asks for; ``use_env=False`` with no cache: none."""
    if cache is None and use_env:
        cache = _cache_from_env()
    router = APIRouter(prefix="/tiles", tags=["矢量瓦片"])

    @router.get("", summary="矢量瓦片图层列表", responses=_ERRORS)
    def layers(request: Request):
        """每个图层的名称、说明、缩放级别范围，及其 TileJSON 地址。"""
        base = str(request.base_url).rstrip("/")
        return {"layers": [{
            "name": spec.name, "title": spec.title, "description": spec.description,
            "minzoom": spec.minzoom, "maxzoom": spec.maxzoom,
            "scoped": spec.scoped, "tilejson": f"{base}/tiles/{spec.name}.json",
            "tiles": _tiles_url(request, spec.name)} for spec in tiles.LAYERS.values()]}

    @router.get("/{layer}.json", summary="图层的 TileJSON 3.0 文档", responses=_ERRORS)
    def tilejson(layer: str, request: Request, response: Response):
        """供 MapLibre、QGIS 等客户端使用：瓦片地址、缩放级别范围、范围和字段列表（vector_layers；
        宗地图层的字段随调用者而定：评价类别仅列给有权查看评价结果的账号）。"""
        spec = tiles.layer_named(layer)
        viewer = current_principal(request) if spec.scoped else ANONYMOUS
        doc = tiles.tilejson(request.app.state.db, layer, _tiles_url(request, layer), viewer)
        if spec.scoped:
            response.headers["Vary"] = "Authorization, Cookie"
        response.headers["Cache-Control"] = "no-cache"
        return doc

    @router.get(
        "/{layer}/{z}/{x}/{y}.mvt",
        summary="矢量瓦片（Mapbox Vector Tile 2.1）",
        response_class=Response,
        responses={
            200: {"content": {tiles.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
                  "description": "瓦片（无要素时为空内容）"},
            304: {"description": "瓦片未变（If-None-Match 与 ETag 相同）"},
            **_ERRORS,
        },
    )
    def tile(layer: str, z: str, x: str, y: str, request: Request):
        """XYZ 瓦片（EPSG:3857，行号自北向南）。``parcels`` 按调用者的辖区过滤，``supply``（可供土地清单）、
        ``zones``、``counties`` 对所有人相同。均不含保密信息。"""
        spec = tiles.layer_named(layer)
        zi, xi, yi = _coordinates(layer, z, x, y)
        # Only the scoped layer asks who is calling: the public layers stay readable with an
        # expired session cookie (the map keeps its outlines and the supply list).
        viewer = current_principal(request) if spec.scoped else ANONYMOUS
        db = request.app.state.db
        if cache is None:
            data = tiles.render_tile(db, viewer, layer, zi, xi, yi)
            result = tiles.Tile(data, tiles.etag_of(data), public=not spec.scoped)
        else:
            result = tiles.cached_tile(db, cache, viewer, layer, zi, xi, yi)
        headers = {"ETag": result.etag,
                   "Cache-Control": PUBLIC_CACHE if result.public else PRIVATE_CACHE,
                   "X-Tile-Cache": "hit" if result.cache_hit else "miss"}
        if not result.public:
            headers["Vary"] = "Authorization, Cookie"
        if _etag_matches(request.headers.get("if-none-match"), result.etag):
            return Response(status_code=304, headers=headers)
        return Response(content=result.data, media_type=tiles.MEDIA_TYPE, headers=headers)

    return router
