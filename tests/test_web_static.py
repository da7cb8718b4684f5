"""Static checks of the web face's front-end files (no server, no browser).

The page must work on a closed network: every script and stylesheet is served
from /static (MapLibre GL JS is vendored by scripts/build_static.sh), and the
JavaScript must code against the documented API endpoints.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "landcycle" / "faces" / "web" / "static"
VENDOR = STATIC / "vendor" / "maplibre-gl"
WEB = ROOT / "web"
BUILD_SCRIPT = ROOT / "scripts" / "build_static.sh"

LIFECYCLE_STATES = [
    "reserve",
    "approved_unsupplied",
    "listed",
    "supplied",
    "under_construction",
    "completed",
    "in_production",
    "operating",
    "idle",
    "inefficient",
    "rectifying",
    "disposing",
    "reclaimed",
    "split_transferred",
]


class _AssetCollector(HTMLParser):
    """Collects script/stylesheet URLs, the <html lang> and the <title> text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.other_links: list[str] = []
        self.lang: str | None = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "script" and "src" in a:
            self.scripts.append(a["src"])
        elif tag == "link" and "href" in a:
            rel = a.get("rel", "").lower().split()
            (self.styles if "stylesheet" in rel else self.other_links).append(a["href"])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _read(path: Path) -> str:
    assert path.is_file(), f"missing {path.relative_to(ROOT)}"
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def index() -> _AssetCollector:
    parser = _AssetCollector()
    parser.feed(_read(STATIC / "pages" / "portal.html"))
    return parser


@pytest.fixture(scope="module")
def app_js() -> str:
    return _read(STATIC / "app.js")


def _is_remote(url: str) -> bool:
    return bool(re.match(r"^\s*(https?:)?//", url, re.IGNORECASE))


# ---- index.html -------------------------------------------------------------


def test_index_uses_vendored_maplibre(index: _AssetCollector) -> None:
    assert "/static/vendor/maplibre-gl/maplibre-gl.js" in index.scripts
    assert "/static/vendor/maplibre-gl/maplibre-gl.css" in index.styles


def test_index_loads_app_files(index: _AssetCollector) -> None:
    assert "/static/app.js" in index.scripts
    assert "/static/app.css" in index.styles
    # MapLibre must be loaded before the page script that uses it.
    assert index.scripts.index("/static/vendor/maplibre-gl/maplibre-gl.js") < index.scripts.index(
        "/static/app.js"
    )


def test_index_has_no_cdn_assets(index: _AssetCollector) -> None:
    for url in index.scripts + index.styles + index.other_links:
        assert not _is_remote(url), f"remote asset (no CDN allowed): {url}"
        assert url.startswith("/static/"), f"asset not served from /static: {url}"


def test_index_has_no_remote_urls_at_all() -> None:
    html = _read(STATIC / "pages" / "portal.html")
    assert not re.search(r"https?://", html, re.IGNORECASE)


def test_index_is_chinese_page(index: _AssetCollector) -> None:
    assert index.lang == "zh-CN"
    assert index.title.strip() == "许昌市产业集聚区土地全生命周期管理平台"


def test_index_has_filters_and_map() -> None:
    html = _read(STATIC / "pages" / "portal.html")
    for element_id in ("filter-county", "filter-zone", "filter-state", "legend-states", "status", "map"):
        assert f'id="{element_id}"' in html, element_id
    for label in ("县区", "产业集聚区", "土地状态", "图例"):
        assert label in html


# ---- app.js -----------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    ["/api/config", "/api/jurisdictions", "/api/meta/states", "/api/parcels", "/api/auth/me", "/tiles"],
)
def test_app_js_references_api(app_js: str, endpoint: str) -> None:
    assert f"'{endpoint}'" in app_js or f'"{endpoint}"' in app_js


def test_app_js_reads_parcels_from_vector_tiles(app_js: str) -> None:
    """Maps read tiles, lists read pages: the parcels, zones and counties are MapLibre vector
    sources built from the layers' TileJSON; no layer is ever loaded as GeoJSON pages."""
    assert "type: 'vector'" in app_js
    assert "PUBLIC_PARCEL_LAYER = 'supply'" in app_js  # anonymous visitors: the supply list
    assert "SCOPED_PARCEL_LAYER = 'parcels'" in app_js  # signed in: their jurisdiction's parcels
    assert "BOUNDARY_LAYERS = ['counties', 'zones']" in app_js
    assert "'.json'" in app_js  # TileJSON per layer
    for source in ("parcels", "counties", "zones"):
        assert not re.search(rf"getSource\('{source}'\)\.setData", app_js), source
        assert not re.search(rf"{source}: \{{ type: 'geojson'", app_js), source
    # the former paged GeoJSON loading is gone
    for gone in ("numberMatched", "'bbox'", "'next'", "PAGE_LIMIT"):
        assert gone not in app_js, gone
    # filters are expressions on the tile attributes; the status counts what is drawn
    for attribute in ("county_code", "zone_code", "state"):
        assert f"['get', '{attribute}']" in app_js, attribute
    assert "queryRenderedFeatures" in app_js
    assert "放大地图以查看宗地" in app_js
    assert "当前视野内" in app_js
    assert "查看一宗一卡" in app_js


def test_tile_layers_used_by_the_page_exist_with_its_attributes(app_js: str) -> None:
    from landcycle.services.tiles import LAYERS

    used = {"code", "state", "state_label", "zone_code", "zone_name", "county_code", "county_name", "area_mu"}
    for name in ("parcels", "supply"):
        assert name in LAYERS and used <= set(LAYERS[name].fields), name
    for name in ("counties", "zones"):
        assert name in LAYERS and "code" in LAYERS[name].fields


def test_app_js_colours_every_lifecycle_state(app_js: str) -> None:
    for value in LIFECYCLE_STATES:
        assert re.search(rf"\b{value}\s*:\s*'#[0-9a-fA-F]{{6}}'", app_js), value
    assert "FALLBACK_COLOR" in app_js


def test_app_js_never_injects_raw_html(app_js: str) -> None:
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "setHTML("):
        assert sink not in app_js, sink


def test_front_end_has_no_remote_urls(app_js: str) -> None:
    assert not re.search(r"https?://", app_js, re.IGNORECASE)
    css = _read(STATIC / "app.css")
    assert not re.search(r"https?://|@import", css, re.IGNORECASE)
    # No glyph/sprite servers in the map style: labels use local fonts.
    assert not re.search(r"\bglyphs\s*:", app_js)
    assert not re.search(r"\bsprite\s*:", app_js)


# ---- build inputs -----------------------------------------------------------


def test_package_json_pins_maplibre() -> None:
    pkg = json.loads(_read(WEB / "package.json"))
    assert pkg.get("private") is True
    version = pkg["dependencies"]["maplibre-gl"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"maplibre-gl must be pinned exactly: {version}"
    lock = json.loads(_read(WEB / "package-lock.json"))
    assert lock["packages"]["node_modules/maplibre-gl"]["version"] == version


def test_build_script_is_executable_and_copies_vendor_files() -> None:
    text = _read(BUILD_SCRIPT)
    assert os.access(BUILD_SCRIPT, os.X_OK)
    assert "npm ci --prefix web --no-audit --no-fund" in text
    for name in ("maplibre-gl.js", "maplibre-gl.css", "LICENSE.txt"):
        assert name in text
    assert "src/landcycle/faces/web/static/vendor/maplibre-gl" in text


def test_vendored_maplibre_matches_pin_when_built() -> None:
    if not (VENDOR / "maplibre-gl.js").is_file():
        pytest.skip("vendor files not built (run scripts/build_static.sh)")
    pkg = json.loads(_read(WEB / "package.json"))
    for name in ("maplibre-gl.js", "maplibre-gl.css", "LICENSE.txt"):
        assert (VENDOR / name).stat().st_size > 0, name
    version_file = VENDOR / "VERSION"
    if version_file.is_file():
        assert version_file.read_text().strip() == pkg["dependencies"]["maplibre-gl"]
