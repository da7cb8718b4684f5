"""The first HTTP face, through FastAPI's test client, on both backends."""

import pytest
import shapely

from conftest import bearer
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.records import ParcelDraft
from landcycle.services import registry


@pytest.fixture
def client(api, accounts):
    """Signed in as the city administrator (sees every parcel)."""
    api.headers.update(bearer(api, "city"))
    return api


def add_parcels(db, n=3):
    drafts = [ParcelDraft(code=f"411002001001GB{i:05d}", geometry=rectangle_around(113.81 + 0.004 * i, 34.05, 0.2, 0.2),
                          county="魏都区", zone="魏都产业集聚区", location=f"测试路{i}号",
                          state="闲置" if i == 1 else "批而未供") for i in range(1, n + 1)]
    registry.register_parcels(db, drafts, actor="测试")
    return [d.code for d in drafts]


def test_healthz_reports_backend_and_schema(client, db):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["backend"] == db.dialect and body["schema_revision"] == db.head_revision()


def test_parcels_geojson_with_filters_and_next_link(client, db):
    codes = add_parcels(db, 3)
    r = client.get("/api/parcels", params={"zone": "魏都产业集聚区", "limit": 2})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["numberMatched"] == 3 and fc["numberReturned"] == 2
    feature = fc["features"][0]
    assert feature["id"] == codes[0] and feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["zone_name"] == "魏都产业集聚区"
    nxt = next(link["href"] for link in fc["links"] if link["rel"] == "next")
    rest = client.get(nxt).json()
    assert [f["id"] for f in rest["features"]] == [codes[2]]
    assert client.get("/api/parcels", params={"state": "闲置"}).json()["numberMatched"] == 1
    west = client.get("/api/parcels", params={"bbox": "113.0,33.0,113.5,33.5"}).json()
    assert west["numberMatched"] == 0


def test_bad_queries_get_chinese_error_bodies(client):
    r = client.get("/api/parcels", params={"zone": "火星产业集聚区"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_failed" and "未知的产业集聚区" in body["message"]
    assert body["problems"][0]["field"] == "zone"
    assert client.get("/api/parcels", params={"bbox": "1,2,3"}).status_code == 422
    assert client.get("/api/parcels", params={"limit": 0}).status_code == 422
    r = client.get("/api/parcels/411002001001GB99999")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_card_is_public_safe(api, db):
    [code] = add_parcels(db, 1)
    assert api.get(f"/api/parcels/{code}").status_code == 404  # 批而未供: not on the supply list
    registry.update_parcel(db, code, {"state": "可供"}, 1, actor="测试")
    card = api.get(f"/api/parcels/{code}").json()
    assert card["parcel"]["code"] == code and card["history"][0]["summary"] == "新建宗地"
    assert card["history"][0]["actor"] == "—"  # officials' names are not public
    shapely.geometry.shape(card["geometry"])


def test_jurisdictions_and_meta(client):
    fc = client.get("/api/jurisdictions").json()
    names = {f["properties"]["name"] for f in fc["features"]}
    assert {"魏都区", "长葛市", "中原电气谷核心区"} <= names
    states = client.get("/api/meta/states").json()
    assert {"value": "idle", "label": "闲置"} in states
    assert client.get("/api/config").json()["basemap_url"] == ""


def test_openapi_documents_the_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/parcels", "/api/parcels/{code}", "/api/jurisdictions", "/healthz"} <= set(paths)
