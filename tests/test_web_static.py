"""Static checks of the web face's front-end files (no server, no browser).

The pages must work on a closed network: every script and stylesheet is served
from /static (MapLibre GL JS is vendored by scripts/build_static.sh); the pages'
CSP allows only scripts from this server (no inline scripts or handlers); the
map pages share mapkit.js and read parcels from vector tiles; the public pages
ask only public endpoints.
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
PAGES = STATIC / "pages"
JS = STATIC / "js"
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
        self.module_scripts: list[str] = []
        self.inline_scripts = 0
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
            if a.get("type") == "module":
                self.module_scripts.append(a["src"])
        elif tag == "script":
            self.inline_scripts += 1
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
def mapkit() -> str:
    return _read(JS / "mapkit.js")


def _page(name: str) -> _AssetCollector:
    parser = _AssetCollector()
    parser.feed(_read(PAGES / name))
    return parser


def _is_remote(url: str) -> bool:
    return bool(re.match(r"^\s*(https?:)?//", url, re.IGNORECASE))


# ---- every page ---------------------------------------------------------------


ALL_PAGES = sorted(p.name for p in PAGES.glob("*.html"))


@pytest.mark.parametrize("name", ALL_PAGES)
def test_page_is_chinese_local_and_without_inline_script(name: str) -> None:
    """CSP allows only 'self' scripts: no inline <script>, no on…= handlers, no CDN."""
    html = _read(PAGES / name)
    page = _page(name)
    assert page.lang == "zh-CN", name
    assert "许昌" in page.title, name
    assert not page.inline_scripts, f"{name}: inline <script> blocks are blocked by the CSP"
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), f"{name}: on…= attributes are blocked by the CSP"
    assert not re.search(r"https?://", html, re.IGNORECASE), name
    for url in page.scripts + page.styles + page.other_links:
        assert not _is_remote(url), f"{name}: remote asset (no CDN allowed): {url}"
        assert url.startswith("/static/") or url == "data:,", f"{name}: asset not served from /static: {url}"
    assert 'class="skip-link"' in html, f"{name}: a skip link"


def test_the_old_map_page_files_are_gone() -> None:
    """The map page moved to mapkit.js + portal.js / workmap.js (issue 6)."""
    assert not (STATIC / "app.js").exists() and not (STATIC / "app.css").exists()
    for page in ALL_PAGES:
        assert "/static/app." not in _read(PAGES / page), page


@pytest.mark.parametrize("name, script", [("portal.html", "portal.js"), ("land.html", "land.js"),
                                          ("workmap.html", "workmap.js")])
def test_map_pages_load_vendored_maplibre_before_their_module(name: str, script: str) -> None:
    page = _page(name)
    lib = "/static/vendor/maplibre-gl/maplibre-gl.js"
    assert lib in page.scripts and "/static/vendor/maplibre-gl/maplibre-gl.css" in page.styles
    assert page.scripts.index(lib) < page.scripts.index(f"/static/js/{script}")
    assert page.module_scripts == [f"/static/js/{script}"]
    assert "/static/css/base.css" in page.styles and "/static/css/map.css" in page.styles
    assert "from './mapkit.js'" in _read(JS / script)


def test_portal_has_its_filters_list_and_map() -> None:
    html = _read(PAGES / "portal.html")
    for element_id in ("filter-county", "filter-zone", "filter-source", "filter-industry", "filter-min-mu",
                       "filter-max-mu", "supply-list", "result-summary", "pager", "map"):
        assert f'id="{element_id}"' in html, element_id
    for label in ("县区", "产业集聚区", "土地来源", "适宜产业", "面积（亩）", "可供土地清单"):
        assert label in html
    # every control has a label
    for control in re.findall(r"<(?:select|input)[^>]*>", html):
        cid = re.search(r'id="([^"]+)"', control).group(1)
        assert f'for="{cid}"' in html or "aria-label=" in control, cid


def test_workmap_has_filters_and_the_three_styles() -> None:
    html = _read(PAGES / "workmap.html")
    for element_id in ("filter-county", "filter-zone", "filter-state", "legend", "status", "map"):
        assert f'id="{element_id}"' in html, element_id
    for value, label in (("state", "状态"), ("category", "低效类别"), ("class", "企业分类(A/B/C)")):
        assert re.search(rf'value="{value}"[^>]*>\s*{re.escape(label)}', html), value


# ---- scripts ----------------------------------------------------------------------


def test_public_pages_read_only_public_endpoints() -> None:
    """云上看地 never asks for confidential data: the supply list, jurisdictions, config, tiles."""
    portal, land = _read(JS / "portal.js"), _read(JS / "land.js")
    assert "'/api/supply'" in portal and "layer: 'supply'" in portal
    assert "/api/supply/" in land and "layer: 'supply'" in land
    for text in (portal, land):
        for private in ("/api/parcels", "/api/enterprises", "/api/ledgers", "/api/evaluations", "layer: 'parcels'"):
            assert private not in text, private
    assert "layer: 'parcels'" in _read(JS / "workmap.js")
    assert "requireLogin: true" in _read(JS / "workmap.js")


def test_mapkit_reads_parcels_from_vector_tiles(mapkit: str) -> None:
    """Maps read tiles, lists read pages: vector sources from each layer's TileJSON."""
    assert "type: 'vector'" in mapkit
    assert "`${TILES}/${layer}.json`" in mapkit and "const TILES = '/tiles'" in mapkit
    for source in ("counties", "zones"):
        assert f"tileJson('{source}')" in mapkit
    assert "'/api/config'" in mapkit and "'/api/jurisdictions'" in mapkit
    for attribute in ("county_code", "zone_code", "state", "inefficiency", "eval_class", "area_mu", "code"):
        assert f"['get', '{attribute}']" in mapkit, attribute
    for name in ("createMap", "addParcelTiles", "setParcelStyle", "setParcelFilter", "legendItems", "renderLegend",
                 "showFeature", "onParcelClick", "openPopup", "highlightParcel"):
        assert f"export function {name}(" in mapkit or f"export async function {name}(" in mapkit, name
        assert re.search(rf"[ ;]{name}\(", mapkit.split("*/", 1)[0]), f"{name} documented at the top"


def test_tile_layers_used_by_the_pages_exist_with_their_attributes() -> None:
    from landcycle.services.tiles import LAYERS

    used = {"code", "state", "state_label", "zone_code", "zone_name", "county_code", "county_name", "area_mu"}
    for name in ("parcels", "supply"):
        assert name in LAYERS and used <= set(LAYERS[name].fields), name
    assert "inefficiency" in LAYERS["parcels"].fields
    for name in ("counties", "zones"):
        assert name in LAYERS and "code" in LAYERS[name].fields


def test_mapkit_colours_every_state_category_and_class(mapkit: str) -> None:
    from landcycle.domain.rules.classify import CLASS_LABELS
    from landcycle.domain.vocabulary import InefficiencyCategory

    for value in LIFECYCLE_STATES:
        assert re.search(rf"\b{value}\s*:\s*'#[0-9a-fA-F]{{6}}'", mapkit), value
    for cat in InefficiencyCategory:
        assert re.search(rf"\b{cat.value}\s*:\s*'#[0-9a-fA-F]{{6}}'", mapkit), cat.value
        assert cat.label in mapkit
    for cls, label in CLASS_LABELS.items():
        assert re.search(rf"\b{cls}\s*:\s*'#[0-9a-fA-F]{{6}}'", mapkit), cls
        assert label in mapkit
    assert "无评价" in mapkit


@pytest.mark.parametrize("name", ["mapkit.js", "portal.js", "land.js", "workmap.js"])
def test_scripts_never_inject_raw_html_or_use_remote_urls(name: str) -> None:
    text = _read(JS / name)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "setHTML(", "eval("):
        assert sink not in text, sink
    assert not re.search(r"https?://", text, re.IGNORECASE)
    # No glyph/sprite servers in the map style: labels use local fonts.
    assert not re.search(r"\bglyphs\s*:", text) and not re.search(r"\bsprite\s*:", text)


@pytest.mark.parametrize("name", ["map.css", "portal.css", "land.css"])
def test_stylesheets_are_local(name: str) -> None:
    css = _read(STATIC / "css" / name)
    assert not re.search(r"https?://|@import", css, re.IGNORECASE)


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
