"""OGC API – Features at /ogc.

Two kinds of tests:

* plain HTTP through FastAPI's test client on both backends — the conformance endpoints,
  paging, CRS and axis order, exact bbox selection, the 400/404 cases and the access rules;
* a real GIS client no one here wrote — GDAL's OAPIF driver through pyogrio — against the
  real server (``landcycle serve`` in a child process, ``tests/live.py``), also on both backends.
"""

from __future__ import annotations

import json
import re
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

import pyogrio
import pytest
import shapely

from conftest import ACCOUNTS, PASSWORD, bearer, fresh_database
from live import live_server
from landcycle.domain.geometry import as_multipolygon, rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import EnterpriseDraft, OccupancyDraft, ParcelDraft
from landcycle.services import accounts as accounts_service
from landcycle.services import enterprises, registry

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
ITEMS = "/ogc/collections/parcels/items"
CONFORMANCE = {
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
}
#: A lower-left right triangle: its bounding box reaches the CORNER box, its geometry does not.
TRIANGLE = shapely.Polygon([(113.800, 34.058), (113.804, 34.058), (113.800, 34.061)])
CORNER = (113.8035, 34.0605, 113.8045, 34.0615)
#: Attribute names that would carry what the public must not see.
CONFIDENTIAL = re.compile(r"(^|_)(credit|enterprise|tax|figures?|actor|history|contract|occupanc|owner)")


# --------------------------------------------------------------------------- the world
@dataclass
class World:
    geoms: dict[str, shapely.MultiPolygon] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    zone: dict[str, str] = field(default_factory=dict)  # code → "weidu" / "changge"
    credit_code: str = ""
    enterprise_name: str = "许昌保密装备有限公司（测试）"
    triangle: str = ""

    @property
    def listed(self) -> set[str]:
        return {c for c, s in self.states.items() if s == "listed"}

    def in_zone(self, zone: str) -> set[str]:
        return {c for c, z in self.zone.items() if z == zone}

    def intersecting(self, box, codes) -> set[str]:
        return {c for c in codes if self.geoms[c].intersects(shapely.box(*box))}


def build_world(db) -> World:
    """20 parcels in 魏都产业集聚区 and 10 in 长葛市产业集聚区 (every other one on the supply list),
    a listed triangle in 魏都, and an enterprise with a tax figure on a listed 魏都 parcel."""
    w = World()
    drafts = []

    def add(code, geom, county, zone, key, state):
        drafts.append(ParcelDraft(code=code, geometry=geom, county=county, zone=zone, location=f"{zone}测试地块",
                                  state=state))
        w.geoms[code], w.states[code], w.zone[code] = as_multipolygon(geom), \
            {"可供": "listed", "批而未供": "approved_unsupplied", "闲置": "idle"}[state], key

    for i in range(20):
        add(f"411002001001GB{i + 1:05d}", rectangle_around(113.805 + 0.0028 * (i % 10), 34.043 + 0.0025 * (i // 10),
                                                          0.2, 0.2),
            "魏都区", "魏都产业集聚区", "weidu", "可供" if i % 2 == 0 else ("批而未供" if i % 4 == 1 else "闲置"))
    for i in range(10):
        add(f"411082001001GB{i + 1:05d}", rectangle_around(113.775 + 0.0028 * i, 34.235, 0.2, 0.2),
            "长葛市", "长葛市产业集聚区", "changge", "可供" if i % 2 == 0 else "批而未供")
    w.triangle = "411002001001GB00099"
    add(w.triangle, TRIANGLE, "魏都区", "魏都产业集聚区", "weidu", "可供")
    registry.register_parcels(db, drafts, actor="测试")
    w.credit_code = credit_code_with_check("91411002MA44ABCD0")
    enterprises.register_enterprise(db, EnterpriseDraft(w.credit_code, w.enterprise_name, "C3411", True, "魏都区"),
                                    actor="测试")
    enterprises.add_occupancy(db, OccupancyDraft("411002001001GB00001", w.credit_code, "权利人", 30000,
                                                 date(2019, 1, 1)), actor="测试")
    enterprises.submit_figures(db, w.credit_code, 2023, {"tax_paid": 987.65}, "税务局", actor="税务局测试员")
    return w


@pytest.fixture
def world(db) -> World:
    return build_world(db)


def all_pages(client, url: str, headers=None, **params) -> tuple[list[dict], list[dict]]:
    """Every feature, following next links; and every page body."""
    pages = [client.get(url, params=params, headers=headers)]
    while True:
        body = pages[-1].json()
        assert pages[-1].status_code == 200, body
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        if not nxt:
            break
        pages.append(client.get(nxt[0], headers=headers))
    bodies = [p.json() for p in pages]
    return [f for b in bodies for f in b["features"]], bodies


def swapped(geom):
    return shapely.transform(geom, lambda xy: xy[:, ::-1])


# --------------------------------------------------------------------------- landing, conformance, OpenAPI
def test_landing_page_links_to_its_service_description_conformance_and_data(api):
    r = api.get("/ogc")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    links = {link["rel"]: link for link in r.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(links)
    assert all(link["href"].startswith("http://testserver/") for link in links.values())
    assert links["conformance"]["href"].endswith("/ogc/conformance")
    assert links["data"]["href"].endswith("/ogc/collections")
    assert api.get("/ogc", params={"f": "json"}).status_code == 200

    # The service description is the app's OpenAPI document and documents what the router does.
    doc = api.get(urlsplit(links["service-desc"]["href"]).path).json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert {"/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/{collectionId}",
            "/ogc/collections/{collectionId}/items", "/ogc/collections/{collectionId}/items/{featureId}"} <= set(paths)
    items = paths["/ogc/collections/{collectionId}/items"]["get"]
    params = {p["name"]: p for p in items["parameters"]}
    assert {"collectionId", "limit", "offset", "bbox", "bbox-crs", "crs", "f"} <= set(params)
    assert params["limit"]["schema"]["maximum"] == 1000 and params["limit"]["schema"]["minimum"] == 1
    assert params["bbox"]["schema"]["type"] == "array" and params["bbox"]["explode"] is False
    assert {"200", "400", "404"} <= set(items["responses"])
    assert "application/geo+json" in items["responses"]["200"]["content"]
    assert "Content-Crs" in items["responses"]["200"]["headers"]


def test_conformance_declares_core_geojson_oas30_and_crs(api):
    r = api.get("/ogc/conformance")
    assert r.status_code == 200 and set(r.json()["conformsTo"]) == CONFORMANCE


def test_collections_describe_extent_crs_list_and_storage_crs(api):
    body = api.get("/ogc/collections").json()
    assert [c["id"] for c in body["collections"]] == ["parcels", "zones", "counties"]
    for c in body["collections"]:
        assert c["crs"][0] == CRS84 and {CRS84, EPSG4490, EPSG4326} == set(c["crs"])
        assert c["storageCrs"] == EPSG4490 and c["storageCrs"] in c["crs"]
        minx, miny, maxx, maxy = c["extent"]["spatial"]["bbox"][0]
        assert c["extent"]["spatial"]["crs"] == CRS84
        assert 112.5 < minx < maxx < 114.6 and 33.5 < miny < maxy < 34.6  # 许昌, longitude first
        items = next(link for link in c["links"] if link["rel"] == "items")
        assert items["type"] == "application/geo+json"
        assert items["href"] == f"http://testserver/ogc/collections/{c['id']}/items"
        assert api.get(f"/ogc/collections/{c['id']}").json() == c


# --------------------------------------------------------------------------- items
def test_items_page_with_counts_links_and_content_crs(api, world):
    features, pages = all_pages(api, ITEMS, limit=4)
    listed = sorted(world.listed)
    assert [f["id"] for f in features] == listed
    assert len(pages) == -(-len(listed) // 4) >= 3
    for i, page in enumerate(pages):
        assert page["type"] == "FeatureCollection"
        assert page["numberMatched"] == len(listed) and page["numberReturned"] == len(page["features"]) <= 4
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", page["timeStamp"])
        rels = {link["rel"]: link["href"] for link in page["links"]}
        assert rels["collection"] == "http://testserver/ogc/collections/parcels"
        assert rels["self"].startswith("http://testserver/ogc/collections/parcels/items")
        assert ("prev" in rels) == (i > 0) and ("next" in rels) == (i < len(pages) - 1)
    r = api.get(ITEMS, params={"limit": 2, "offset": 2})
    assert r.headers["content-type"].startswith("application/geo+json")
    assert r.headers["content-crs"] == f"<{CRS84}>"
    assert [f["id"] for f in r.json()["features"]] == listed[2:4]
    # Above the maximum is not an error: the page is cut to the maximum.
    assert api.get(ITEMS, params={"limit": 5000}).json()["numberReturned"] == len(listed)


def test_geometry_is_the_registered_one_in_crs84(api, world):
    for f in api.get(ITEMS, params={"limit": 1000}).json()["features"]:
        geom = shapely.geometry.shape(f["geometry"])
        assert geom.equals_exact(world.geoms[f["id"]], tolerance=1e-12), f["id"]
        assert 113 < f["geometry"]["coordinates"][0][0][0][0] < 115  # longitude first


@pytest.mark.parametrize("crs", [EPSG4490, EPSG4326])
def test_epsg_geographic_crs_answers_latitude_first(api, world, crs):
    r = api.get(ITEMS, params={"crs": crs, "limit": 1000})
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{crs}>"
    for f in r.json()["features"]:
        first = f["geometry"]["coordinates"][0][0][0]
        assert 33 < first[0] < 35 and 113 < first[1] < 115  # latitude, longitude
        assert swapped(shapely.geometry.shape(f["geometry"])).equals_exact(world.geoms[f["id"]], tolerance=1e-9)
    one = api.get(f"{ITEMS}/{world.triangle}", params={"crs": crs})
    assert one.status_code == 200 and one.headers["content-crs"] == f"<{crs}>"
    assert swapped(shapely.geometry.shape(one.json()["geometry"])).equals_exact(world.geoms[world.triangle], 1e-9)
    assert api.get(f"{ITEMS}/{world.triangle}").headers["content-crs"] == f"<{CRS84}>"


@pytest.mark.parametrize("box", [
    CORNER,  # inside the triangle's bounding box but off the triangle itself
    (113.8000, 34.0580, 113.8010, 34.0590),  # on the triangle
    (113.804, 34.040, 113.812, 34.045),  # across a few grid parcels, edges cutting through them
    (113.0, 33.0, 113.1, 33.1),  # nowhere near
])
def test_bbox_selects_exactly_the_geometries_that_intersect_it(api, world, box):
    expected = world.intersecting(box, world.listed)
    got = api.get(ITEMS, params={"bbox": ",".join(map(str, box)), "limit": 1000}).json()
    assert {f["id"] for f in got["features"]} == expected and got["numberMatched"] == len(expected)
    if box == CORNER:
        assert not expected and world.geoms[world.triangle].bounds[2] > CORNER[0]  # the case that matters
    # The same box given in EPSG:4490, whose axis order is latitude first.
    lat_first = ",".join(map(str, (box[1], box[0], box[3], box[2])))
    same = api.get(ITEMS, params={"bbox": lat_first, "bbox-crs": EPSG4490, "limit": 1000}).json()
    assert {f["id"] for f in same["features"]} == expected


def test_bbox_across_the_antimeridian_covers_both_sides(api, world):
    # West edge 100°E, east edge 100°W: the box runs east from 100°E across 180° — over 许昌.
    got = api.get(ITEMS, params={"bbox": "100,30,-100,40", "limit": 1000}).json()
    assert got["numberMatched"] == len(world.listed)
    assert api.get(ITEMS, params={"bbox": "120,30,-100,40"}).json()["numberMatched"] == 0


def test_zones_and_counties_are_public_reference_data(api):
    zones = api.get("/ogc/collections/zones/items").json()
    assert zones["numberMatched"] == 10
    weidu = next(f for f in zones["features"] if f["properties"]["name"] == "魏都产业集聚区")
    assert weidu["properties"]["tax_target_min_wan"] == 15 and weidu["properties"]["county_name"] == "魏都区"
    assert "新材料" in weidu["properties"]["lead_industries"]
    assert api.get(f"/ogc/collections/zones/items/{weidu['id']}").json()["properties"] == weidu["properties"]
    counties = api.get("/ogc/collections/counties/items").json()
    assert {f["id"] for f in counties["features"]} == {"411002", "411003", "411024", "411025", "411081", "411082"}
    changge = api.get("/ogc/collections/counties/items",
                      params={"bbox": "113.78,34.23,113.80,34.25"}).json()["features"]
    assert [f["properties"]["name"] for f in changge] == ["长葛市"]


# --------------------------------------------------------------------------- errors
INVALID = [
    ("limit=0", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"), ("limit=1.5", "limit"),
    ("limit=%C2%B2", "limit"), ("offset=" + "9" * 5000, "offset"),
    ("offset=-1", "offset"), ("offset=x", "offset"),
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=113,34,114", "bbox"),
    ("bbox=113,35,114,34", "bbox"), ("bbox=113,34,114,95", "bbox"), ("bbox=113,34,114,nan", "bbox"),
    ("crs=EPSG:4490", "crs"), ("crs=http://www.opengis.net/def/crs/EPSG/0/3857", "crs"),
    ("bbox=113,34,114,35&bbox-crs=http://example.com/crs", "bbox-crs"),
    ("colour=red", "colour"), ("limit=1&limit=2", "limit"), ("f=html", "f"),
]


def test_invalid_parameters_are_400_with_a_chinese_error_body(api):
    for query, field in INVALID:
        r = api.get(f"{ITEMS}?{query}")
        assert r.status_code == 400, (query, r.text)
        body = r.json()
        assert body["code"] == "bad_request" and field in {p["field"] for p in body["problems"]}, query
        assert re.search(r"[\u4e00-\u9fff]", body["message"]), query


def test_other_endpoints_refuse_unknown_or_invalid_parameters(api, world):
    for path in ["/ogc/conformance?x=1", "/ogc/collections?limit=5", "/ogc?f=xml", "/ogc/collections/zones?crs=x",
                 f"{ITEMS}/411002001001GB00001?bbox=1,2,3,4", f"{ITEMS}/411002001001GB00001?crs=EPSG:4326"]:
        r = api.get(path)
        assert r.status_code == 400 and r.json()["code"] == "bad_request", path


def test_unknown_collections_and_features_are_404(api, world):
    for path, what in [
        ("/ogc/collections/wells", "要素集合"), ("/ogc/collections/wells/items", "要素集合"),
        ("/ogc/collections/wells/items/1", "要素集合"), (f"{ITEMS}/411002001001GB77777", "宗地"),
        ("/ogc/collections/zones/items/411002", "产业集聚区"), ("/ogc/collections/counties/items/411000-Z10", "县(市、区)"),
    ]:
        r = api.get(path)
        assert r.status_code == 404 and r.json()["code"] == "not_found" and what in r.json()["message"], path


# --------------------------------------------------------------------------- access
def test_public_sees_only_the_supply_list_and_nothing_confidential(api, world):
    r = api.get(ITEMS, params={"limit": 1000})
    features = r.json()["features"]
    assert {f["id"] for f in features} == world.listed
    assert all(f["properties"]["state"] == "listed" for f in features)
    # The enterprise on a listed parcel, its credit code and its tax never appear.
    for leak in (world.credit_code, world.enterprise_name, "987.65", "tax_paid", "税务局测试员"):
        assert leak not in r.text
    keys = set(features[0]["properties"])
    assert not {k for k in keys if CONFIDENTIAL.search(k)}
    unlisted = sorted(set(world.states) - world.listed)[0]
    hidden = api.get(f"{ITEMS}/{unlisted}")
    missing = api.get(f"{ITEMS}/411002001001GB77777")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["message"].replace(unlisted, "X") == missing.json()["message"].replace("411002001001GB77777", "X")


@pytest.mark.parametrize("user,own,other", [("weidu_zone", "weidu", "changge"), ("changge_zone", "changge", "weidu")])
def test_zone_manager_gets_own_zone_and_none_of_another(api, accounts, world, user, own, other):
    headers = bearer(api, user)
    features, _ = all_pages(api, ITEMS, headers=headers, limit=7)
    assert {f["id"] for f in features} == world.in_zone(own)  # every state, not only the supply list
    other_code = sorted(world.in_zone(other))[0]
    assert api.get(f"{ITEMS}/{other_code}", headers=headers).status_code == 404
    other_box = tuple(shapely.total_bounds([world.geoms[c] for c in world.in_zone(other)]))
    r = api.get(ITEMS, headers=headers, params={"bbox": ",".join(map(str, other_box))})
    assert r.json()["numberMatched"] == 0 and r.json()["features"] == []


def test_city_admin_sees_every_parcel_and_bad_tokens_are_refused(api, accounts, world):
    r = api.get(ITEMS, headers=bearer(api, "city"), params={"limit": 1000})
    assert {f["id"] for f in r.json()["features"]} == set(world.states)
    assert api.get(ITEMS, headers={"Authorization": "Bearer not-a-token"}).status_code == 401


# --------------------------------------------------------------------------- GDAL against the live server
@dataclass
class Site:
    base: str
    world: World
    tokens: dict[str, str]

    @property
    def oapif(self) -> str:
        return f"OAPIF:{self.base}/ogc"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    """The world behind a real ``landcycle serve``, once per backend for this module."""
    with fresh_database(request, request.param, tmp_path_factory.mktemp("ogc-live")) as db:
        world = build_world(db)
        for name in ("weidu_zone", "changge_zone"):
            accounts_service.add_user(db, name, PASSWORD, **ACCOUNTS[name])
        with live_server(db.url, log_dir=tmp_path_factory.mktemp("ogc-log")) as base:
            tokens = {}
            for name in ("weidu_zone", "changge_zone"):
                req = urllib.request.Request(f"{base}/api/auth/login", method="POST",
                                             data=json.dumps({"username": name, "password": PASSWORD}).encode(),
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    tokens[name] = json.loads(r.read())["token"]
            yield Site(base, world, tokens)


@contextmanager
def signed_in(token: str | None):
    """GDAL sends the bearer token on every request while the block runs.

    (``GDAL_HTTP_AUTH=BEARER``: the OAPIF driver sets its own ``Accept`` header, which
    replaces anything given in ``GDAL_HTTP_HEADERS``.)"""
    if token:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": token})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None})


def gdal_read(site: Site, layer: str = "parcels", token: str | None = None, **options):
    """``{id: (geometry, properties)}`` and the layer's metadata, read by GDAL's OAPIF driver."""
    with signed_in(token):
        meta, _fids, wkb, fields = pyogrio.raw.read(site.oapif, layer=layer, **options)
    names = list(meta["fields"])
    rows = {}
    for i, g in enumerate(shapely.from_wkb(wkb)):
        props = {n: fields[k][i] for k, n in enumerate(names)}
        rows[props["code"]] = (g, props)
    return rows, meta


@pytest.mark.slow
def test_gdal_lists_the_three_layers(site):
    assert [name for name, _ in pyogrio.list_layers(site.oapif)] == ["parcels", "zones", "counties"]
    info = pyogrio.read_info(site.oapif, layer="parcels")
    assert info["driver"] == "OAPIF" and info["features"] == len(site.world.listed)  # numberMatched
    assert info["crs"] == "EPSG:4490" and info["geometry_type"] == "MultiPolygon"  # the storageCrs


@pytest.mark.slow
def test_gdal_reads_every_published_parcel_across_pages(site):
    rows, meta = gdal_read(site, PAGE_SIZE=4)  # 16 parcels: 4 pages, next links followed by GDAL
    assert set(rows) == site.world.listed and meta["crs"] == "EPSG:4490"
    for code, (geom, props) in rows.items():
        assert geom.equals_exact(site.world.geoms[code], tolerance=1e-12), code
        assert props["state"] == "listed" and props["county_name"] in ("魏都区", "长葛市")


@pytest.mark.slow
def test_gdal_axis_order_in_epsg4490_and_crs84(site):
    # GDAL asks for the storage CRS (EPSG:4490, latitude first on the wire) and for CRS84
    # (longitude first) when told to; both must give back the registered geometry.
    in_4490, _ = gdal_read(site)
    in_crs84, meta = gdal_read(site, CRS=CRS84)
    assert "CRS84" in meta["crs"]
    for code in site.world.listed:
        assert in_4490[code][0].equals_exact(site.world.geoms[code], 1e-12)
        assert in_crs84[code][0].equals_exact(site.world.geoms[code], 1e-12)
    # A client that assumed longitude first in EPSG:4490 would get the axes swapped: the
    # server really answers in the authority's order.
    naive, _ = gdal_read(site, SERVER_FEATURE_AXIS_ORDER="GIS_FRIENDLY")
    code = site.world.triangle
    assert naive[code][0].equals_exact(swapped(site.world.geoms[code]), 1e-12)


@pytest.mark.slow
def test_gdal_bbox_filter(site):
    box = (113.804, 34.040, 113.812, 34.045)
    rows, _ = gdal_read(site, bbox=box)
    assert set(rows) == site.world.intersecting(box, site.world.listed) != set()
    assert gdal_read(site, bbox=CORNER)[0] == {}


@pytest.mark.slow
@pytest.mark.parametrize("user,own,other", [("weidu_zone", "weidu", "changge"), ("changge_zone", "changge", "weidu")])
def test_gdal_zone_manager_reads_own_zone_and_nothing_of_another(site, user, own, other):
    w = site.world
    rows, _ = gdal_read(site, token=site.tokens[user], PAGE_SIZE=6)
    assert set(rows) == w.in_zone(own)
    assert {p["state"] for _, p in rows.values()} > {"listed"}  # their unpublished parcels too
    other_box = tuple(shapely.total_bounds([w.geoms[c] for c in w.in_zone(other)]))
    assert gdal_read(site, token=site.tokens[user], bbox=other_box)[0] == {}


@pytest.mark.slow
def test_gdal_anonymous_never_sees_unlisted_parcels_or_confidential_attributes(site):
    rows, meta = gdal_read(site)
    assert set(rows) == site.world.listed
    names = set(meta["fields"])
    assert not {n for n in names if CONFIDENTIAL.search(n)}
    values = {str(v) for _, props in rows.values() for v in props.values()}
    assert not {site.world.credit_code, site.world.enterprise_name, "987.65"} & values
    zones, _ = gdal_read(site, layer="zones")
    assert len(zones) == 10 and zones["411000-Z10"][1]["tax_target_min_wan"] == 15


def test_service_desc_is_a_valid_openapi_30_document_covering_every_ogc_operation(api):
    """oas30: the landing page's service-desc is OpenAPI 3.0 (FastAPI writes 3.1; faces/openapi30.py
    rewrites it), valid for a strict 3.0 validator, and it documents the /ogc operations."""
    from openapi_spec_validator import validate

    link = next(l for l in api.get("/ogc").json()["links"] if l["rel"] == "service-desc")
    assert link["type"] == "application/vnd.oai.openapi+json;version=3.0"
    r = api.get(link["href"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = r.json()
    assert doc["openapi"] == "3.0.3"
    validate(doc)  # raises on any 3.0 violation
    for path in ("/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/{collectionId}/items",
                 "/ogc/collections/{collectionId}/items/{featureId}"):
        assert "get" in doc["paths"][path], path
    assert '"nullable":true' in r.text and '"type":"null"' not in r.text


def test_openapi_declares_how_callers_sign_in(api):
    doc = api.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "description": schemes["bearerAuth"]["description"]}
    assert schemes["sessionCookie"]["in"] == "cookie" and schemes["sessionCookie"]["name"] == "landcycle_session"
    assert {} in doc["security"]  # anonymous calls are allowed; answers depend on the caller
