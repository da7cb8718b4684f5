"""Vector tiles (issue 5 item 6): /tiles/{layer}/{z}/{x}/{y}.mvt and /tiles/{layer}.json.

Tiles are decoded with decoders no one here wrote (the ``mapbox-vector-tile`` package, and
GDAL's MVT driver through pyogrio) and compared with the parcels as registered: features,
attributes, geometry (back in lon/lat). On PostgreSQL the PostGIS renderer (``ST_AsMVT``) and
the Python renderer (the SQLite path) are compared tile by tile on the same data.
"""

from __future__ import annotations

import re
from datetime import date

import mapbox_vector_tile
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import select, text

from conftest import bearer
from landcycle.domain.access import ANONYMOUS, SYSTEM, Principal, Role
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.identifiers import credit_code_with_check
from landcycle.domain.records import EnterpriseDraft, OccupancyDraft, ParcelDraft
from landcycle.domain.sources import SourceBatch
from landcycle.domain.vector_tiles import EXTENT, from_web_mercator, tile_bounds, tiles_covering, to_web_mercator
from landcycle.services import enterprises, imports, jurisdictions, registry, tiles
from landcycle.storage.schema import Enterprise, Parcel

WEIDU_LAT = 34.045
CHANGGE_LON, CHANGGE_LAT = 113.780, 34.240
#: Attribute names that would carry what the public must not see.
CONFIDENTIAL = re.compile(r"(credit|enterprise|tax|figure|actor|history|contract|occupanc|owner|price|location)")
ENTERPRISE_NAME = "许昌保密装备有限公司（测试）"
CREDIT_CODE = credit_code_with_check("91411002MA44TLEB0")
_TO_LONLAT = Transformer.from_crs(3857, 4490, always_xy=True)


def weidu_code(n: int) -> str:
    return f"411002001001GB{n:05d}"


def changge_code(n: int) -> str:
    return f"411082001001GB{n:05d}"


def weidu_geom(i: int):
    return rectangle_around(113.805 + 0.003 * i, WEIDU_LAT, 0.2, 0.2)


STATES = ["可供", "低效", "闲置", "正常运营"]


@pytest.fixture
def world(db):
    """Eight 魏都产业集聚区 parcels (one with a hole, one in two parts), four 长葛市产业集聚区
    parcels, one 魏都区 parcel outside any zone, and an enterprise with a tax figure on a
    listed 魏都 parcel and on an idle one."""
    drafts = []
    for i in range(8):
        geom = weidu_geom(i)
        if i == 5:
            geom = geom.difference(rectangle_around(113.805 + 0.003 * i, WEIDU_LAT, 0.08, 0.08))
        if i == 6:
            geom = shapely.MultiPolygon([rectangle_around(113.805 + 0.003 * i, WEIDU_LAT, 0.2, 0.08),
                                         rectangle_around(113.805 + 0.003 * i, WEIDU_LAT + 0.0015, 0.2, 0.06)])
        state = STATES[i % 4]
        drafts.append(ParcelDraft(code=weidu_code(i + 1), geometry=geom, county="魏都区", zone="魏都产业集聚区",
                                  location=f"魏都产业集聚区测试路{i + 1}号", state=state,
                                  inefficiency_categories=["产出未达标类", "停产半停产类"] if state == "低效" else []))
    for i in range(4):
        drafts.append(ParcelDraft(code=changge_code(i + 1),
                                  geometry=rectangle_around(CHANGGE_LON + 0.003 * i, CHANGGE_LAT, 0.2, 0.2),
                                  county="长葛市", zone="长葛市产业集聚区", state=STATES[i % 4],
                                  inefficiency_categories=["其他"] if STATES[i % 4] == "低效" else []))
    lon, lat = _outside_zone_point(db)
    drafts.append(ParcelDraft(code=weidu_code(99), geometry=rectangle_around(lon, lat, 0.1, 0.1), county="魏都区",
                              state="闲置"))
    registry.register_parcels(db, drafts, actor="测试")
    enterprises.register_enterprise(db, EnterpriseDraft(CREDIT_CODE, ENTERPRISE_NAME, "C3411", True, "魏都区"),
                                    actor="测试")
    for code in (weidu_code(1), weidu_code(3)):
        enterprises.add_occupancy(db, OccupancyDraft(code, CREDIT_CODE, "权利人", 30000, date(2019, 1, 1)),
                                  actor="测试")
    enterprises.submit_figures(db, CREDIT_CODE, 2023, {"tax_paid": 987.65}, "税务局", actor="税务局测试员")
    return {d.code: d for d in drafts}


def _outside_zone_point(db) -> tuple[float, float]:
    """A point in 魏都区, outside 魏都产业集聚区, near it."""
    with db.reader() as s:
        county = jurisdictions.resolve(s, "魏都区").geometry
        zone = jurisdictions.resolve(s, "魏都产业集聚区").geometry
    near = shapely.box(*zone.buffer(0.02).bounds)
    p = shapely.point_on_surface(county.difference(zone.buffer(0.003)).intersection(near).buffer(-0.002))
    return p.x, p.y


# --------------------------------------------------------------------------- helpers
def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    return tiles_covering(shapely.Point(lon, lat), z)[0]


def decode(data: bytes, layer: str) -> dict[int, tuple[dict, shapely.Geometry]]:
    """Feature id → (attributes, geometry in tile units, y down) — by mapbox-vector-tile."""
    if not data:
        return {}
    layers = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    assert set(layers) == {layer}
    assert layers[layer]["extent"] == EXTENT and layers[layer]["version"] == 2
    return {f["id"]: (f["properties"], shapely.geometry.shape(f["geometry"])) for f in layers[layer]["features"]}


def to_lonlat(geom, z, x, y):
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    size = maxx - minx

    def back(c):
        lon, lat = _TO_LONLAT.transform(minx + c[:, 0] * size / EXTENT, maxy - c[:, 1] * size / EXTENT)
        return np.column_stack((lon, lat))

    return shapely.transform(geom, back)


def iou(a, b) -> float:
    return shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b))


def ids_by_code(db) -> dict[str, int]:
    with db.reader() as s:
        return dict(s.execute(select(Parcel.code, Parcel.id)).all())


def get_tile(client, layer, z, x, y, headers=None):
    r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == tiles.MEDIA_TYPE
    return r


# --------------------------------------------------------------------------- content
def test_parcel_tile_holds_the_right_features_attributes_and_shapes(db, world):
    ids = ids_by_code(db)
    z, x, y = tile_of(113.815, WEIDU_LAT, 14)
    feats = decode(tiles.render_tile(db, SYSTEM, "parcels", z, x, y), "parcels")
    tile_box = shapely.box(*_lonlat_box(z, x, y))
    expected = {c for c, d in world.items() if shapely.intersects(d.geometry, tile_box)}
    assert expected and {ids[c] for c in expected} == set(feats)
    with db.reader() as s:
        rows = {p.code: registry.parcel_properties(s, p) for p in s.scalars(select(Parcel))}
    for fid, (props, geom) in feats.items():
        code = props["code"]
        assert fid == ids[code]
        want = rows[code]
        assert set(props) <= set(tiles.LAYERS["parcels"].fields)
        assert props["state"] == want["state"] and props["state_label"] == want["state_label"]
        assert props["zone_code"] == want["zone_code"] and props["zone_name"] == "魏都产业集聚区"
        assert props["county_code"] == "411002" and props["county_name"] == "魏都区"
        assert props["area_mu"] == pytest.approx(want["area_mu"], abs=0.006)
        if want["inefficiency_categories"]:
            assert props["inefficiency"] == ",".join(want["inefficiency_categories"])
            assert props["inefficiency_label"] == "、".join(want["inefficiency_labels"])
        else:
            assert "inefficiency" not in props and "inefficiency_label" not in props
        assert geom.is_valid
        source = shapely.intersection(world[code].geometry, shapely.box(*_lonlat_box(z, x, y, margin=64 / 4096)))
        assert iou(to_lonlat(geom, z, x, y), source) > 0.97, code
    # the holed and the two-part parcels keep their shape
    for code, kind in ((weidu_code(6), "Polygon"), (weidu_code(7), "MultiPolygon")):
        if ids[code] in feats:
            g = feats[ids[code]][1]
            assert g.geom_type == kind
            if kind == "Polygon":
                assert len(g.interiors) == 1


def _lonlat_box(z, x, y, margin=0.0):
    from landcycle.domain.vector_tiles import lonlat_bounds
    return lonlat_bounds(tile_bounds(z, x, y, margin))


def test_the_single_ring_shortcut_encodes_as_the_general_path(db, world):
    """Plain one-ring WKB takes the shortcut (no GEOS objects); the same parcels given as
    shapely geometries take the general path: the decoded tiles must be the same."""
    from landcycle.domain import vector_tiles

    with db.reader() as s:
        rows = s.execute(select(Parcel.id, Parcel.code, Parcel.geometry)).all()
    ids = [r[0] for r in rows]
    columns = {"code": [r[1] for r in rows]}
    wkb = [shapely.to_wkb(r[2]) for r in rows]
    for z, x, y in {tile_of(113.815, WEIDU_LAT, 14), tile_of(113.824, WEIDU_LAT, 15), tile_of(113.815, WEIDU_LAT, 13)}:
        taken = vector_tiles._single_rings(wkb, z, x, y)[0]
        assert 0 < len(taken) < len(rows)  # some by the shortcut, the rest (holes, two parts, far away) not
        fast = decode(vector_tiles.encode_layer("parcels", ids, columns, wkb, z, x, y), "parcels")
        general = decode(vector_tiles.encode_layer("parcels", ids, columns, [r[2] for r in rows], z, x, y), "parcels")
        assert fast.keys() == general.keys() and fast
        for fid in fast:
            assert fast[fid][0] == general[fid][0] and fast[fid][1].equals(general[fid][1])


def test_gdal_reads_our_tiles(db, world, tmp_path):
    """A third-party reader (GDAL's MVT driver) georeferences our tile from its z/x/y path."""
    z, x, y = tile_of(113.815, WEIDU_LAT, 15)
    data = tiles.render_tile(db, SYSTEM, "parcels", z, x, y)
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    meta, _fids, wkb, fields = pyogrio.raw.read(path, layer="parcels")
    assert "3857" in meta["crs"]
    cols = dict(zip(meta["fields"], fields))
    assert set(cols["code"]) <= set(world)
    to_4490 = Transformer.from_crs(3857, 4490, always_xy=True)
    for code, g in zip(cols["code"], shapely.from_wkb(wkb)):
        back = shapely.transform(g, lambda c: np.column_stack(to_4490.transform(c[:, 0], c[:, 1])))
        assert iou(back, shapely.intersection(world[code].geometry, shapely.box(*_lonlat_box(z, x, y)))) > 0.97


def _rings(commands) -> list[list[tuple[int, int]]]:
    """The rings of one feature's MVT command stream (spec 4.3), cursor-relative decoding."""
    x = y = i = 0
    rings: list[list[tuple[int, int]]] = []
    while i < len(commands):
        command, count = commands[i] & 7, commands[i] >> 3
        i += 1
        if command in (1, 2):
            for _ in range(count):
                dx, dy = ((commands[i] >> 1) ^ -(commands[i] & 1)), ((commands[i + 1] >> 1) ^ -(commands[i + 1] & 1))
                x, y, i = x + dx, y + dy, i + 2
                if command == 1:
                    rings.append([])
                rings[-1].append((x, y))
        else:
            assert command == 7 and count == 1
    return rings


def _surveyor(ring) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1])) / 2


@pytest.mark.parametrize("engine", ["python", "postgis"])
def test_ring_winding_follows_the_spec(db, world, engine):
    """MVT 4.3.4.4: an exterior ring has a positive surveyor's area in tile coordinates, a hole a
    negative one (decoders that guess from the first ring would hide a mistake here)."""
    if engine == "postgis" and db.dialect != "postgresql":
        pytest.skip("PostGIS 渲染仅在 PostGIS 后端上")
    from mapbox_vector_tile.Mapbox import vector_tile_pb2

    ids = ids_by_code(db)
    lon, lat = world[weidu_code(6)].geometry.centroid.coords[0]
    z, x, y = tile_of(lon, lat, 15)
    tile = vector_tile_pb2.tile()
    tile.ParseFromString(tiles.render_tile(db, SYSTEM, "parcels", z, x, y, engine=engine))
    (layer,) = tile.layers
    holes = {}
    for f in layer.features:
        assert f.type == vector_tile_pb2.tile.Polygon
        areas = [_surveyor(r) for r in _rings(list(f.geometry))]
        assert areas and areas[0] > 0 and all(a != 0 for a in areas)
        holes[f.id] = sum(a < 0 for a in areas)
    assert holes[ids[weidu_code(6)]] == 1 and sum(holes.values()) == 1


def test_postgis_and_python_renderers_agree(db, world):
    if db.dialect != "postgresql":
        pytest.skip("两种渲染方式只能在 PostGIS 后端上比较")
    with db.reader() as s:
        zone = jurisdictions.resolve(s, "魏都产业集聚区").geometry
        xuchang = jurisdictions.resolve(s, "411000").geometry
    cases = [("parcels", t) for z in (14, 15, 16) for t in tiles_covering(shapely.box(113.80, 34.04, 113.83, 34.05), z)]
    cases += [("supply", t) for z in (11, 13) for t in tiles_covering(shapely.box(113.80, 34.04, 113.83, 34.05), z)]
    cases += [("zones", t) for t in tiles_covering(zone, 11)] + [("counties", t) for t in tiles_covering(xuchang, 8)]
    compared = 0
    for layer, (z, x, y) in cases:
        for who in (SYSTEM, ANONYMOUS):
            a = decode(tiles.render_tile(db, who, layer, z, x, y, engine="postgis"), layer)
            b = decode(tiles.render_tile(db, who, layer, z, x, y, engine="python"), layer)
            assert set(a) == set(b), (layer, z, x, y)
            for fid in a:
                pa, ga = a[fid]
                pb, gb = b[fid]
                assert pa.keys() == pb.keys()
                assert {k: v for k, v in pa.items() if k != "area_mu"} == {k: v for k, v in pb.items() if k != "area_mu"}
                if "area_mu" in pa:
                    assert pa["area_mu"] == pytest.approx(pb["area_mu"], abs=0.011)
                # both on the same integer grid: they differ by at most a unit along edges
                assert shapely.area(shapely.symmetric_difference(ga, gb)) <= 0.01 * ga.area + ga.length, \
                    (layer, z, x, y, fid)
                compared += 1
    assert compared > 50


def test_counties_and_zones_layers(db):
    with db.reader() as s:
        xuchang = jurisdictions.resolve(s, "411000").geometry
    seen_counties, seen_zones = set(), set()
    for z, x, y in tiles_covering(xuchang, 8):
        for props, geom in decode(tiles.render_tile(db, ANONYMOUS, "counties", z, x, y), "counties").values():
            assert set(props) == {"code", "name"} and geom.is_valid and geom.area > 0
            seen_counties.add((props["code"], props["name"]))
        for props, _ in decode(tiles.render_tile(db, ANONYMOUS, "zones", z, x, y), "zones").values():
            assert set(props) == {"code", "name", "county_code"}
            seen_zones.add(props["name"])
    assert {"411002", "411082"} <= {c for c, _ in seen_counties} and ("411002", "魏都区") in seen_counties
    assert {"魏都产业集聚区", "长葛市产业集聚区"} <= seen_zones and len(seen_zones) == 10
    # far from Xuchang: nothing
    assert tiles.render_tile(db, ANONYMOUS, "counties", 8, 0, 0) == b""


# --------------------------------------------------------------------------- access
def test_zone_manager_sees_none_of_another_zones_parcels(api, db, world, accounts):
    ids = ids_by_code(db)
    city, weidu_zone, weidu_admin = (bearer(api, u) for u in ("city", "weidu_zone", "weidu_admin"))
    changge = tile_of(CHANGGE_LON + 0.003, CHANGGE_LAT, 14)
    weidu = tile_of(113.815, WEIDU_LAT, 14)
    assert {ids[changge_code(i)] for i in (1, 2, 3, 4)} <= set(decode(get_tile(api, "parcels", *changge, city).content,
                                                                      "parcels"))
    assert get_tile(api, "parcels", *changge, weidu_zone).content == b""  # nothing of 长葛's
    own = decode(get_tile(api, "parcels", *weidu, weidu_zone).content, "parcels")
    assert own and all(p["zone_code"] == "411000-Z10" for p, _ in own.values())
    # a 魏都区 parcel outside the zone: the county admin sees it, the zone manager does not
    lon, lat = world[weidu_code(99)].geometry.centroid.coords[0]
    t = tile_of(lon, lat, 15)
    assert ids[weidu_code(99)] in decode(get_tile(api, "parcels", *t, weidu_admin).content, "parcels")
    assert ids[weidu_code(99)] not in decode(get_tile(api, "parcels", *t, weidu_zone).content, "parcels")
    # and another zone's tile never comes out of the cache for the wrong scope
    assert get_tile(api, "parcels", *changge, city).headers["x-tile-cache"] == "hit"
    assert get_tile(api, "parcels", *changge, weidu_zone).content == b""


@pytest.mark.parametrize("layer", ["supply", "parcels"])
def test_anonymous_tiles_hold_only_listed_parcels_and_nothing_confidential(api, db, world, layer):
    listed = {c for c, d in world.items() if d.state == "可供"}
    seen = set()
    for t in {tile_of(113.815, WEIDU_LAT, 14), tile_of(113.83, WEIDU_LAT, 14), tile_of(CHANGGE_LON, CHANGGE_LAT, 14)}:
        r = get_tile(api, layer, *t)
        assert ENTERPRISE_NAME.encode() not in r.content and CREDIT_CODE.encode() not in r.content
        assert b"987.65" not in r.content and "测试路".encode() not in r.content
        for props, _ in decode(r.content, layer).values():
            assert props["state"] == "listed" and props["code"] in listed
            assert not [k for k in props if CONFIDENTIAL.search(k)]
            assert set(props) <= set(tiles.LAYERS[layer].fields)
            seen.add(props["code"])
    assert seen == {c for c in listed if c != weidu_code(99)} and len(seen) >= 3


def test_supply_layer_is_the_same_for_everyone(api, db, world, accounts):
    t = tile_of(113.815, WEIDU_LAT, 14)
    anonymous = get_tile(api, "supply", *t)
    official = get_tile(api, "supply", *t, bearer(api, "weidu_zone"))
    assert anonymous.content == official.content and official.headers["x-tile-cache"] == "hit"
    assert anonymous.headers["cache-control"] == "public, max-age=60" and "vary" not in anonymous.headers
    scoped = get_tile(api, "parcels", *t, bearer(api, "city"))
    assert scoped.headers["cache-control"] == "private, no-cache"
    assert scoped.headers["vary"] == "Authorization, Cookie"


def test_enterprise_sees_listed_parcels_and_its_own(db, world):
    ids = ids_by_code(db)
    with db.reader() as s:
        ent = s.scalar(select(Enterprise.id).where(Enterprise.credit_code == CREDIT_CODE))
    me = Principal(username="ent", role=Role.ENTERPRISE, enterprise_id=ent)
    other = Principal(username="ent2", role=Role.ENTERPRISE, enterprise_id=ent + 1000)
    codes = set()
    for t in tiles_covering(shapely.box(113.80, WEIDU_LAT - 0.002, 113.83, WEIDU_LAT + 0.002), 14):
        codes |= {p["code"] for p, _ in decode(tiles.render_tile(db, me, "parcels", *t), "parcels").values()}
    listed = {c for c, d in world.items() if d.state == "可供" and c.startswith("411002") and c != weidu_code(99)}
    assert codes == listed | {weidu_code(3)}  # weidu 3 is idle, occupied by the enterprise
    scopes = {tiles.scope_key(p, tiles.LAYERS["parcels"]) for p in (me, other, ANONYMOUS, SYSTEM)}
    assert len(scopes) == 4
    assert tiles.scope_key(me, tiles.LAYERS["supply"]) == tiles.scope_key(SYSTEM, tiles.LAYERS["supply"]) == "public"
    t = tile_of(*world[weidu_code(3)].geometry.centroid.coords[0], 14)
    assert ids[weidu_code(3)] in decode(tiles.render_tile(db, me, "parcels", *t), "parcels")
    assert ids[weidu_code(3)] not in decode(tiles.render_tile(db, other, "parcels", *t), "parcels")


def test_same_scope_shares_a_key_different_scopes_do_not():
    a = Principal(username="a", role=Role.ZONE_MANAGER, zone_ids=frozenset({7}))
    b = Principal(username="b", role=Role.ZONE_MANAGER, zone_ids=frozenset({7}), display_name="另一位")
    c = Principal(username="c", role=Role.ZONE_MANAGER, zone_ids=frozenset({8}))
    d = Principal(username="d", role=Role.COUNTY_ADMIN, county_ids=frozenset({7}))
    layer = tiles.LAYERS["parcels"]
    assert tiles.scope_key(a, layer) == tiles.scope_key(b, layer)
    assert len({tiles.scope_key(p, layer) for p in (a, c, d, ANONYMOUS, SYSTEM)}) == 5


# --------------------------------------------------------------------------- cache and invalidation
def test_cache_hit_returns_identical_bytes_and_etag(api, db, world):
    t = tile_of(113.815, WEIDU_LAT, 14)
    first, second = get_tile(api, "supply", *t), get_tile(api, "supply", *t)
    assert first.headers["x-tile-cache"] == "miss" and second.headers["x-tile-cache"] == "hit"
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    assert first.content == tiles.render_tile(db, ANONYMOUS, "supply", *t)


def test_tile_changes_after_a_parcel_update(api, db, world, accounts):
    ids = ids_by_code(db)
    h = bearer(api, "city")
    code = weidu_code(3)  # idle
    lon, lat = world[code].geometry.centroid.coords[0]
    t = tile_of(lon, lat, 15)
    before = get_tile(api, "parcels", *t, h)
    assert decode(before.content, "parcels")[ids[code]][0]["state"] == "idle"
    assert get_tile(api, "supply", *t).content == b"" or ids[code] not in decode(get_tile(api, "supply", *t).content,
                                                                               "supply")
    with db.reader() as s:
        version = s.scalar(select(Parcel.version).where(Parcel.code == code))
    registry.update_parcel(db, code, {"state": "可供"}, version, actor="测试")
    after = get_tile(api, "parcels", *t, h)
    assert after.headers["x-tile-cache"] == "miss" and after.headers["etag"] != before.headers["etag"]
    assert decode(after.content, "parcels")[ids[code]][0]["state"] == "listed"
    assert ids[code] in decode(get_tile(api, "supply", *t).content, "supply")  # the public layer too
    # a move out of the tile takes it out
    registry.update_parcel(db, code, {"geometry": rectangle_around(113.838, WEIDU_LAT + 0.01, 0.2, 0.2)},
                           version + 1, actor="测试")
    assert ids[code] not in decode(get_tile(api, "parcels", *t, h).content, "parcels")


def _import_batch(geom, n):
    attrs = {"宗地代码": weidu_code(n), "坐落": f"魏都产业集聚区测试路{n}号", "所属县区": "魏都区",
             "产业集聚区": "魏都产业集聚区", "用途": "工业用地", "土地状态": "可供"}
    return SourceBatch(path="new.gpkg", format="GPKG", geometries=[geom], attributes=[attrs],
                       source_ids=["要素1"], source_crs="EPSG:4490", file_sha256="cd" * 32, notes=[])


def test_tile_changes_after_an_import_and_its_undo(api, db, world):
    geom = rectangle_around(113.805 + 0.003 * 8, WEIDU_LAT, 0.2, 0.2)
    lon, lat = geom.centroid.coords[0]
    t = tile_of(lon, lat, 14)
    before = get_tile(api, "supply", *t)
    result = imports.import_batch(db, _import_batch(geom, 50), actor="测试")
    after = get_tile(api, "supply", *t)
    assert after.headers["x-tile-cache"] == "miss"
    new_id = ids_by_code(db)[weidu_code(50)]
    assert new_id in decode(after.content, "supply") and new_id not in decode(before.content, "supply")
    imports.undo_batch(db, result.batch_id, actor="测试")
    undone = get_tile(api, "supply", *t)
    assert undone.headers["x-tile-cache"] == "miss" and new_id not in decode(undone.content, "supply")
    assert undone.content == before.content


def test_generation_follows_every_write_path_and_is_an_index_read(db, world):
    def gen():
        with db.reader() as s:
            return tiles.data_generation(s)

    g0 = gen()
    assert gen() == g0  # reading changes nothing
    with db.reader() as s:
        version = s.scalar(select(Parcel.version).where(Parcel.code == weidu_code(4)))
    registry.update_parcel(db, weidu_code(4), {"state": "闲置"}, version, actor="测试")
    g1 = gen()
    assert g1.change_id > g0.change_id
    result = imports.import_batch(db, _import_batch(rectangle_around(113.83, WEIDU_LAT, 0.2, 0.2), 60), actor="测试")
    g2 = gen()
    assert g2.change_id > g1.change_id
    imports.undo_batch(db, result.batch_id, actor="测试")
    assert gen().change_id > g2.change_id
    with db.engine.connect() as c:
        if db.dialect == "sqlite":
            plan = " ".join(str(r) for r in c.execute(text("EXPLAIN QUERY PLAN SELECT max(id) FROM change_log")))
            assert "SCAN" not in plan  # the max of the rowid: a b-tree edge, not a scan
        else:
            plan = " ".join(r[0] for r in c.execute(text("EXPLAIN SELECT max(id) FROM change_log")))
            assert "Index Only Scan Backward" in plan or "Index Scan Backward" in plan, plan


def test_the_demo_generator_invalidates_cached_tiles(db):
    from landcycle.services.demo import generate_demo

    cache = tiles.TileCache()
    with db.reader() as s:
        zone = jurisdictions.resolve(s, "魏都产业集聚区").geometry
    t = tiles_covering(zone, 14)[0]
    assert not tiles.cached_tile(db, cache, SYSTEM, "parcels", *t).cache_hit
    assert tiles.cached_tile(db, cache, SYSTEM, "parcels", *t).cache_hit
    generate_demo(db, scale=40)
    again = tiles.cached_tile(db, cache, SYSTEM, "parcels", *t)
    assert not again.cache_hit and again.data == tiles.render_tile(db, SYSTEM, "parcels", *t)


def test_a_transaction_in_progress_changes_the_generation_on_postgresql(db, world):
    """Sequence ids may commit out of order on PostgreSQL: while a writer that took an id is
    still open, the generation must say so, or a tile rendered now would be cached as if
    that writer's change were in it."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    with db.reader() as s:
        quiet = tiles.data_generation(s)
    writer = db.engine.connect()
    try:
        tx = writer.begin()
        writer.execute(text("INSERT INTO change_log (at, actor, action, entity, entity_id) "
                            "VALUES (now(), 't', 'update', 'parcels', 1)"))
        with db.reader() as s:
            during = tiles.data_generation(s)
        assert during != quiet and during.writers
        tx.rollback()
    finally:
        writer.close()
    with db.reader() as s:
        assert tiles.data_generation(s) == quiet


def test_cache_is_bounded_by_bytes_and_forgets_older_generations():
    cache = tiles.TileCache(max_bytes=3 * (1000 + 200))
    g1, g2 = tiles.Generation(1), tiles.Generation(2)
    for i in range(5):
        cache.put(("parcels", 14, i, 0, "public", g1), tiles.Tile(b"x" * 1000, f'"{i}"', True))
    assert len(cache) == 3 and cache.size_bytes <= cache.max_bytes
    assert cache.get(("parcels", 14, 0, 0, "public", g1)) is None  # the oldest went first
    assert cache.get(("parcels", 14, 4, 0, "public", g1)) is not None
    cache.forget_before(g2)
    assert len(cache) == 0 and cache.size_bytes == 0
    cache.put(("parcels", 14, 9, 0, "public", g2), tiles.Tile(b"y" * 10_000, '"big"', True))
    assert len(cache) == 0  # larger than the whole budget: not kept


# --------------------------------------------------------------------------- HTTP
def test_if_none_match_answers_304(api, db, world, accounts):
    t = tile_of(113.815, WEIDU_LAT, 14)
    first = get_tile(api, "supply", *t)
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = api.get(f"/tiles/supply/{t[0]}/{t[1]}/{t[2]}.mvt", headers={"If-None-Match": header})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert api.get(f"/tiles/supply/{t[0]}/{t[1]}/{t[2]}.mvt", headers={"If-None-Match": '"other"'}).status_code == 200
    h = {**bearer(api, "city"), "If-None-Match": get_tile(api, "parcels", *t, bearer(api, "city")).headers["etag"]}
    r = api.get(f"/tiles/parcels/{t[0]}/{t[1]}/{t[2]}.mvt", headers=h)
    assert r.status_code == 304 and r.headers["cache-control"] == "private, no-cache"


def test_a_stale_token_is_refused_for_parcels_but_not_for_the_public_layers(api, db, world):
    t = tile_of(113.815, WEIDU_LAT, 14)
    stale = {"Authorization": "Bearer no-such-token"}
    r = api.get(f"/tiles/parcels/{t[0]}/{t[1]}/{t[2]}.mvt", headers=stale)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    for layer in ("supply", "zones"):
        assert get_tile(api, layer, *t, stale).content == get_tile(api, layer, *t).content


def test_empty_tile_is_an_empty_200(api, db, world):
    r = get_tile(api, "supply", 14, 0, 0)
    assert r.content == b"" and r.headers["etag"]


@pytest.mark.parametrize("path, fragment", [
    ("/tiles/parcels/13/6685/3270.mvt", "z14–z16"),       # below the parcels' minimum zoom
    ("/tiles/supply/10/835/408.mvt", "z11–z16"),
    ("/tiles/parcels/17/1/1.mvt", "z14–z16"),             # above the maximum
    ("/tiles/zones/15/1/1.mvt", "z0–z14"),
    ("/tiles/parcels/14/16384/0.mvt", "0–16383"),         # outside the grid
    ("/tiles/parcels/14/0/99999999.mvt", "0–16383"),
    ("/tiles/parcels/14/-1/0.mvt", "非负整数"),
    ("/tiles/parcels/14/1.5/0.mvt", "非负整数"),
    ("/tiles/parcels/x/1/1.mvt", "非负整数"),
    ("/tiles/parcels/99999999999/1/1.mvt", "非负整数"),
    ("/tiles/roads/14/1/1.mvt", "瓦片图层"),
    ("/tiles/roads.json", "瓦片图层"),
])
def test_bad_tile_requests_are_404_with_the_chinese_body(api, path, fragment):
    r = api.get(path)
    assert r.status_code == 404, path
    body = r.json()
    assert body["code"] == "not_found" and fragment in body["message"] and body["message"].startswith("未找到")


def test_tilejson_documents(api, db, world):
    listing = api.get("/tiles").json()["layers"]
    assert [entry["name"] for entry in listing] == ["parcels", "supply", "zones", "counties"]
    for entry in listing:
        doc = api.get(f"/tiles/{entry['name']}.json").json()
        spec = tiles.LAYERS[entry["name"]]
        assert doc["tilejson"] == "3.0.0" and doc["scheme"] == "xyz"
        assert doc["minzoom"] == spec.minzoom and doc["maxzoom"] == spec.maxzoom
        assert doc["tiles"] == [f"http://testserver/tiles/{spec.name}/{{z}}/{{x}}/{{y}}.mvt"]
        west, south, east, north = doc["bounds"]
        assert 112.9 < west < 113.3 and 33.5 < south < 33.8 and 114.1 < east < 114.5 and 34.3 < north < 34.6
        assert west < doc["center"][0] < east and south < doc["center"][1] < north
        (vl,) = doc["vector_layers"]
        public_fields = {k: v for k, v in spec.fields.items() if not k.startswith("eval_")}
        assert vl["id"] == spec.name and vl["fields"] == public_fields  # the public: no evaluation fields
        assert not [k for k in vl["fields"] if CONFIDENTIAL.search(k)]
        # the template works as given
        z = max(spec.minzoom, 14 if spec.maxzoom >= 14 else spec.maxzoom)
        zz, x, y = tile_of(113.815, WEIDU_LAT, z)
        url = doc["tiles"][0].replace("http://testserver", "").format(z=zz, x=x, y=y)
        assert api.get(url).status_code == 200


def test_web_mercator_round_trips_and_is_thread_safe():
    """Tiles project through pyproj with one Transformer per thread: threads working at once
    get the same metres as the main thread, and the inverse gives the degrees back."""
    from concurrent.futures import ThreadPoolExecutor

    lon, lat = np.meshgrid(np.linspace(73.0, 135.5, 60), np.linspace(3.0, 54.0, 60))
    lon, lat = lon.ravel(), lat.ravel()
    x, y = to_web_mercator(lon, lat)
    assert abs(x[0] - 73.0 * np.pi / 180 * 6378137.0) < 1e-6  # the Web-Mercator sphere
    with ThreadPoolExecutor(4) as pool:
        for tx, ty in pool.map(lambda _: to_web_mercator(lon, lat), range(8)):
            assert np.array_equal(tx, x) and np.array_equal(ty, y)
    back_lon, back_lat = from_web_mercator(x, y)
    assert np.abs(back_lon - lon).max() < 1e-9 and np.abs(back_lat - lat).max() < 1e-9


def test_zone_tiles_cover_the_zone(db):
    with db.reader() as s:
        zone = jurisdictions.resolve(s, "魏都产业集聚区").geometry
    covered = tiles.zone_tiles(db, "魏都产业集聚区", 14)
    assert covered == tiles.zone_tiles(db, "411000-Z10", 14)
    boxes = [shapely.box(*_lonlat_box(*t)) for t in covered]
    assert all(shapely.intersects(zone, b) for b in boxes)
    assert shapely.area(shapely.difference(zone, shapely.union_all(boxes))) < 1e-12
    z, xs, ys = 14, [t[1] for t in covered], [t[2] for t in covered]
    ring = [(z, x, y) for x in range(min(xs) - 1, max(xs) + 2) for y in (min(ys) - 1, max(ys) + 1)]
    assert not any(shapely.intersects(zone, shapely.box(*_lonlat_box(*t))) for t in ring)


# --------------------------------------------------------------------------- evaluation classes (eval_class)
@pytest.fixture
def evaluated(db):
    """The 300-parcel demo evaluated for 2020. Returns (run id, expected) where ``expected`` maps
    each evaluated parcel's id to (its class as the tile should carry it, its land user's id):
    the land user from the parcel's stored result, that enterprise's current result as the
    results API reads it (``services.evaluation.results_page``) — ``not_evaluated`` for 不参评."""
    from landcycle.services import evaluation
    from landcycle.services.demo import generate_demo

    generate_demo(db, scale=300)
    run_id = evaluation.evaluate(db, 2020, actor="评价办").run_id
    return run_id, _expected_classes(db, run_id)


def _expected_classes(db, run_id) -> dict[int, tuple[str, int]]:
    from landcycle.services import evaluation

    results, total = evaluation.results_page(db, run_id, viewer=SYSTEM, limit=10_000)
    assert len(results) == total > 0
    by_code = {r["credit_code"]: ("not_evaluated" if r["status"] == "not_evaluated" else r["result_class"])
               for r in results}
    with db.reader() as s:
        ent_code = dict(s.execute(select(Enterprise.id, Enterprise.credit_code)).all())
        owners = s.execute(text("SELECT parcel_id, owner_enterprise_id FROM parcel_evaluations "
                                "WHERE run_id = :r ORDER BY result_version"), {"r": run_id}).all()
    owner_of = dict(owners)  # the highest version last
    return {pid: (by_code[ent_code[eid]], eid) for pid, eid in owner_of.items()
            if eid is not None and by_code.get(ent_code[eid]) is not None}


def _class_tiles(db, expected, zone: str | None = None, n: int = 3) -> list[tuple[int, int, int]]:
    """z14 tiles holding parcels with an A/B/C class (of ``zone`` if given), most such parcels first."""
    with db.reader() as s:
        rows = s.execute(select(Parcel.id, Parcel.geometry, Parcel.zone_id)).all()
        zone_id = jurisdictions.resolve(s, zone).id if zone else None
    counts: dict[tuple, int] = {}
    for pid, geom, zid in rows:
        if expected.get(pid, ("",))[0] in ("A", "B", "C") and (zone_id is None or zid == zone_id):
            t = tile_of(*geom.centroid.coords[0], 14)
            counts[t] = counts.get(t, 0) + 1
    return sorted(counts, key=lambda t: -counts[t])[:n]


def _classes_in(content: bytes) -> dict[int, tuple[str | None, str | None]]:
    return {fid: (p.get("eval_class"), p.get("eval_class_label")) for fid, (p, _) in decode(content, "parcels").items()}


def test_officials_and_departments_get_the_class_the_public_does_not(api, db, evaluated, accounts):
    """Every account role reads evaluation results (``Action.READ_CONFIDENTIAL``) — enterprises
    their own only, below; the public, which has no accounts, does not: anonymous tiles and a
    public-role caller's carry no class. (A role losing the right: the cache test below.)"""
    _run, expected = evaluated
    city, zone, dept = bearer(api, "city"), bearer(api, "weidu_zone"), bearer(api, "tax_city")
    seen = set()
    for t in _class_tiles(db, expected, zone="魏都产业集聚区"):
        for who in (city, zone, dept):
            classes = _classes_in(get_tile(api, "parcels", *t, who).content)
            assert classes
            for fid, (klass, label) in classes.items():
                want = expected.get(fid, (None,))[0]
                assert klass == want, fid
                assert label == (tiles.EVAL_CLASS_LABELS[want] if want else None)
                if klass in ("A", "B", "C"):
                    seen.add(klass)
        r = get_tile(api, "parcels", *t)  # anonymous
        assert b"eval_class" not in r.content  # (it sees the listed parcels only, if any)
        assert all(c == (None, None) for c in _classes_in(r.content).values())
        public = tiles.render_tile(db, Principal(username="p", role=Role.PUBLIC), "parcels", *t)
        assert public == r.content
        # the public layer never carries it, whoever asks
        assert b"eval_class" not in get_tile(api, "supply", *t, city).content
    assert seen  # at least one real A/B/C class was compared
    # the labels are the rule module's
    assert tiles.EVAL_CLASS_LABELS["A"] == "A类（优先发展类）" and tiles.EVAL_CLASS_LABELS["not_evaluated"] == "不参评"


def test_an_enterprise_sees_only_the_class_of_land_it_is_the_evaluated_user_of(db, evaluated):
    _run, expected = evaluated
    t = _class_tiles(db, expected, n=1)[0]
    everything = _classes_in(tiles.render_tile(db, SYSTEM, "parcels", *t))
    owner = next(expected[fid][1] for fid, (k, _) in everything.items() if k in ("A", "B", "C"))
    me = Principal(username="ent", role=Role.ENTERPRISE, enterprise_id=owner)
    mine = _classes_in(tiles.render_tile(db, me, "parcels", *t))
    assert mine
    for fid, (klass, _label) in mine.items():
        assert klass == (expected[fid][0] if expected.get(fid, (None, None))[1] == owner else None)
    assert any(k for k, _ in mine.values())


def test_a_caller_without_the_right_never_gets_a_cached_tile_with_classes(db, evaluated, monkeypatch):
    """The cache key holds whose classes a tile carries, not only the SQL scope: a city-level
    department shares the city admin's scope condition and cached tiles — until its role loses
    the right to read evaluation results; then it gets its own tiles, without classes."""
    from landcycle.domain import access as domain_access

    _run, expected = evaluated
    t = _class_tiles(db, expected, n=1)[0]
    cache = tiles.TileCache()
    city = Principal(username="c", role=Role.CITY_ADMIN, everywhere=True)
    dept = Principal(username="d", role=Role.DEPARTMENT, everywhere=True, department="税务")
    first = tiles.cached_tile(db, cache, city, "parcels", *t)
    assert not first.cache_hit and b"eval_class" in first.data
    assert tiles.cached_tile(db, cache, dept, "parcels", *t).cache_hit  # same rights, same tile
    anonymous = tiles.cached_tile(db, cache, ANONYMOUS, "parcels", *t)
    assert not anonymous.cache_hit and b"eval_class" not in anonymous.data
    public = tiles.cached_tile(db, cache, Principal(username="p", role=Role.PUBLIC), "parcels", *t)
    assert public.cache_hit and public.data == anonymous.data  # the public's own tile
    grants = dict(domain_access.GRANTS)
    grants[domain_access.Action.READ_CONFIDENTIAL] = grants[domain_access.Action.READ_CONFIDENTIAL] - {Role.DEPARTMENT}
    monkeypatch.setattr(domain_access, "GRANTS", grants)
    monkeypatch.setattr(tiles, "_scope_digest", tiles._scope_digest.__wrapped__)  # no memo across rule sets
    assert tiles.scope_key(dept, tiles.LAYERS["parcels"]) != tiles.scope_key(city, tiles.LAYERS["parcels"])
    stripped = tiles.cached_tile(db, cache, dept, "parcels", *t)
    assert not stripped.cache_hit and b"eval_class" not in stripped.data
    assert set(decode(stripped.data, "parcels")) == set(decode(first.data, "parcels"))


def test_a_revised_result_and_a_new_run_reach_cached_tiles(db, evaluated):
    from landcycle.services import evaluation, publicity

    run_id, expected = evaluated
    t = _class_tiles(db, expected, n=1)[0]
    cache = tiles.TileCache()
    before = _classes_in(tiles.cached_tile(db, cache, SYSTEM, "parcels", *t).data)
    fid = next(f for f, (k, _) in before.items() if k in ("A", "B", "C"))
    old = before[fid][0]
    revised = "A" if old != "A" else "C"
    with db.reader() as s:
        credit = s.scalar(select(Enterprise.credit_code).where(Enterprise.id == expected[fid][1]))
    publicity.publish(db, run_id, date(2021, 9, 17), actor="评价办")
    oid = publicity.file_objection(db, run_id, credit, "漏报退税", date(2021, 9, 22), actor="企业")
    publicity.decide_objection(db, oid, True, "核实属实", date(2021, 9, 28), actor="评价办", revised_class=revised)
    after = tiles.cached_tile(db, cache, SYSTEM, "parcels", *t)
    assert not after.cache_hit and _classes_in(after.data)[fid] == (revised, tiles.EVAL_CLASS_LABELS[revised])
    assert _classes_in(after.data) == {f: (_expected_classes(db, run_id).get(f, (None,))[0],
                                           tiles.EVAL_CLASS_LABELS.get(_expected_classes(db, run_id).get(f, (None,))[0]))
                                       for f in after_ids(after.data)}
    # a new run (written outside the change log) is the latest: its classes replace the revision
    assert tiles.cached_tile(db, cache, SYSTEM, "parcels", *t).cache_hit
    new_run = evaluation.evaluate(db, 2020, actor="评价办").run_id
    again = tiles.cached_tile(db, cache, SYSTEM, "parcels", *t)
    assert not again.cache_hit and _classes_in(again.data)[fid][0] == _expected_classes(db, new_run)[fid][0] == old


def after_ids(data: bytes) -> set[int]:
    return set(decode(data, "parcels"))


def test_tilejson_lists_the_class_only_to_those_who_get_it(api, db, accounts):
    anonymous = api.get("/tiles/parcels.json").json()["vector_layers"][0]["fields"]
    city = api.get("/tiles/parcels.json", headers=bearer(api, "city")).json()["vector_layers"][0]["fields"]
    assert "eval_class" in city and "eval_class_label" in city and "A、B、C" in city["eval_class"]
    assert not [k for k in anonymous if k.startswith("eval_")]
    assert set(city) - set(anonymous) == {"eval_class", "eval_class_label"}
    supply = api.get("/tiles/supply.json", headers=bearer(api, "city")).json()["vector_layers"][0]["fields"]
    assert not [k for k in supply if k.startswith("eval_")]


def test_postgis_and_python_renderers_agree_on_classes(db, evaluated):
    if db.dialect != "postgresql":
        pytest.skip("两种渲染方式只能在 PostGIS 后端上比较")
    _run, expected = evaluated
    ts = _class_tiles(db, expected, n=4)
    owner = next(e for _, (k, e) in expected.items() if k in ("A", "B", "C"))
    with db.reader() as s:
        zone_id = s.scalar(select(Parcel.zone_id).where(Parcel.id == next(iter(expected))))
    who_list = [SYSTEM, ANONYMOUS, Principal(username="e", role=Role.ENTERPRISE, enterprise_id=owner),
                Principal(username="z", role=Role.ZONE_MANAGER, zone_ids=frozenset({zone_id}))]
    compared = 0
    for z, x, y in ts:
        for who in who_list:
            a = decode(tiles.render_tile(db, who, "parcels", z, x, y, engine="postgis"), "parcels")
            b = decode(tiles.render_tile(db, who, "parcels", z, x, y, engine="python"), "parcels")
            assert set(a) == set(b)
            for fid in a:
                pa, pb = dict(a[fid][0]), dict(b[fid][0])
                assert pa.pop("area_mu") == pytest.approx(pb.pop("area_mu"), abs=0.011)
                assert pa == pb, (who.username, fid)
                compared += "eval_class" in pa
    assert compared > 5


# --------------------------------------------------------------------------- the columnar copy
def _principals(db) -> list[Principal]:
    with db.reader() as s:
        weidu = jurisdictions.resolve(s, "魏都区").id
        weidu_zone = jurisdictions.resolve(s, "魏都产业集聚区").id
        changge_zone = jurisdictions.resolve(s, "长葛市产业集聚区").id
        ent = s.scalar(select(Enterprise.id).where(Enterprise.credit_code == CREDIT_CODE))
    return [SYSTEM, ANONYMOUS,
            Principal(username="county", role=Role.COUNTY_ADMIN, county_ids=frozenset({weidu}),
                      zone_ids=frozenset({weidu_zone})),
            Principal(username="zone", role=Role.ZONE_MANAGER, zone_ids=frozenset({changge_zone})),
            Principal(username="dept", role=Role.DEPARTMENT, county_ids=frozenset({weidu})),
            Principal(username="ent", role=Role.ENTERPRISE, enterprise_id=ent),
            Principal(username="nobody", role=Role.ZONE_MANAGER)]


def _tile_ids(db, who, layer="parcels") -> set[int]:
    with db.reader() as s:
        geoms = s.scalars(select(Parcel.geometry)).all()
    seen: set[int] = set()
    for t in tiles_covering(shapely.union_all(geoms), 14):
        seen |= set(decode(tiles.render_tile(db, who, layer, *t, engine="python"), layer))
    return seen


def test_columnar_tiles_show_exactly_what_parcel_condition_selects(db, world):
    """The columnar copy holds every parcel; which of them a caller gets is the database's
    answer to ``parcel_condition`` — checked for each kind of scope, before and after a parcel
    moves to another zone and another is listed."""
    from landcycle.services import access

    def check():
        for who in _principals(db):
            with db.reader() as s:
                want = set(s.scalars(select(Parcel.id).where(access.parcel_condition(who))).all())
                public = set(s.scalars(select(Parcel.id).where(access.parcel_condition(ANONYMOUS))).all())
            assert _tile_ids(db, who) == want, who.username
            assert _tile_ids(db, who, "supply") == public, who.username

    check()
    with db.transaction(actor="测试") as s:  # a 长葛 parcel moves to 魏都 (no API edits the zone)
        parcel = s.scalar(select(Parcel).where(Parcel.code == changge_code(1)))
        parcel.zone_id = jurisdictions.resolve(s, "魏都产业集聚区").id
        parcel.county_id = jurisdictions.resolve(s, "魏都区").id
        parcel.geometry = shapely.MultiPolygon([rectangle_around(113.838, WEIDU_LAT, 0.2, 0.2)])
    with db.reader() as s:
        version = s.scalar(select(Parcel.version).where(Parcel.code == weidu_code(2)))
    registry.update_parcel(db, weidu_code(2), {"state": "可供"}, version, actor="测试")
    check()


def test_the_columnar_copy_kept_from_the_change_log_equals_a_fresh_load(db, world):
    """Refreshing from the change log (only the parcels logged since) gives the same columns as
    loading everything again — and the same rings snapped for z14: after edits, a move, an
    import and its undo."""
    from landcycle.domain import vector_tiles
    from landcycle.services import tile_columns

    t = tile_of(113.815, WEIDU_LAT, 14)
    tiles.render_tile(db, SYSTEM, "parcels", *t, engine="python")  # the first load
    code = weidu_code(4)
    with db.reader() as s:
        version = s.scalar(select(Parcel.version).where(Parcel.code == code))
    registry.update_parcel(db, code, {"state": "闲置", "geometry": rectangle_around(113.83, WEIDU_LAT + 0.008, 0.3, 0.2)},
                           version, actor="测试")
    tiles.render_tile(db, SYSTEM, "parcels", *t, engine="python")
    result = imports.import_batch(db, _import_batch(rectangle_around(113.815, WEIDU_LAT + 0.004, 0.2, 0.2), 70), actor="测试")
    tiles.render_tile(db, SYSTEM, "parcels", *t, engine="python")
    imports.import_batch(db, _import_batch(rectangle_around(113.819, WEIDU_LAT + 0.004, 0.2, 0.2), 71), actor="测试")
    imports.undo_batch(db, result.batch_id, actor="测试")
    tiles.render_tile(db, SYSTEM, "parcels", *t, engine="python")
    with db.reader() as s:
        tile_columns.begin_snapshot(s)
        store = tile_columns.store_for(s)
        generation = tiles.data_generation(s)
        as_of = generation.change_id if store.incremental else generation
        kept = store.columns(s, as_of)
        fresh = tile_columns.TileStore(incremental=store.incremental).columns(s, as_of)
    assert kept is store.current and len(kept) == len(fresh) == len(world) + 1
    assert np.array_equal(kept.ids, fresh.ids)
    for name in ("minx", "miny", "maxx", "maxy", "count", "code", "zone_id", "county_id", "area_mu", "standard_land"):
        assert np.array_equal(getattr(kept, name), getattr(fresh, name)), name
    for name, vocab in (("state", "states"), ("category", "categories"), ("land_use", "land_uses")):
        assert [getattr(kept, vocab)[c] for c in getattr(kept, name)] == \
            [getattr(fresh, vocab)[c] for c in getattr(fresh, name)], name
    for i in range(len(kept)):
        a, b = kept.xy[kept.start[i]:kept.start[i] + kept.count[i]], fresh.xy[fresh.start[i]:fresh.start[i] + fresh.count[i]]
        assert np.array_equal(a, b)
        assert (kept.others[i] is None) == (fresh.others[i] is None)
        if kept.others[i] is not None:
            assert kept.others[i].equals(fresh.others[i])
    # the holed and the two-part parcels are kept as geometries, the rest as rings
    assert sum(g is not None for g in kept.others) == 2
    # the z14 rings, snapped once and carried through the same changes, equal fresh ones
    carried = store._grids[14]
    fresh_grid = vector_tiles.grid_rings(fresh.xy, fresh.start, fresh.count, 14)
    for name in ("first", "low", "high", "usable", "tail_len"):
        assert np.array_equal(getattr(carried, name), getattr(fresh_grid, name)), name
    for i in range(len(kept)):
        a, b = carried.tail_start[i], fresh_grid.tail_start[i]
        assert np.array_equal(carried.tail[a:a + carried.tail_len[i]], fresh_grid.tail[b:b + fresh_grid.tail_len[i]])


def test_rings_snapped_once_per_zoom_encode_as_snapped_per_tile(db, world, monkeypatch):
    """From z14 the columnar path snaps one-ring parcels once per zoom and reuses them in every
    tile they fit; tile by tile the result must be what snapping in the tile gives."""
    from landcycle.services import tile_columns

    cases = [t for z in (14, 15, 16) for t in tiles_covering(shapely.box(113.80, 34.04, 113.83, 34.05), z)]
    once = {t: decode(tiles.render_tile(db, SYSTEM, "parcels", *t, engine="python"), "parcels") for t in cases}
    with db.reader() as s:
        store = tile_columns.store_for(s)
    assert set(store._grids) == {14, 15, 16}
    monkeypatch.setattr(tile_columns, "GRID_MIN_ZOOM", 99)
    compared = 0
    for t in cases:
        per_tile = decode(tiles.render_tile(db, SYSTEM, "parcels", *t, engine="python"), "parcels")
        assert per_tile.keys() == once[t].keys(), t
        for fid, (props, geom) in per_tile.items():
            assert once[t][fid][0] == props
            assert once[t][fid][1].equals(geom), (t, fid)
            compared += 1
    assert compared > 20
