"""Every GET operation of the API, for every role: nothing outside the caller's scope and
nothing confidential leaks — whatever endpoint family (REST, OGC API Features, TileJSON).

The operations are enumerated from the OpenAPI schema, so a new endpoint is covered the day
it is added: its path parameters are filled from a table of real demo values; an endpoint
with a parameter the table does not know fails the test (add the parameter here).
The body of each answer is scanned for parcel codes and credit codes the caller must not
see, and the public's answers for confidential keys. Vector tile bytes are covered by
tests/test_tiles.py, which decodes them.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from conftest import PASSWORD, bearer
from landcycle.domain.access import PUBLIC_STATES
from landcycle.services import accounts as account_service
from landcycle.services import demo, disposal, evaluation
from landcycle.storage.schema import Enterprise, Jurisdiction, Occupancy, Parcel

#: Keys the public must never receive (DOMAIN.md §1: no tax, output or credit data).
CONFIDENTIAL_KEYS = {"credit_code", "figures", "tax_paid", "tax_per_mu_wan", "output_per_mu_wan",
                     "industrial_output", "revenue", "password_hash"}
#: Endpoints answering the published supply list (云上看地) with the same body for every caller
#: (tests/test_api_supply.py checks that): its parcels are public, whoever asks.
PUBLIC_LIST_PREFIXES = ("/api/supply",)
PARCEL_CODE = re.compile(r"\b41\d{4}\d{6}[A-Z]{2}\d{5}\b")
CREDIT_CODE = re.compile(r"\b[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}\b")


@pytest.fixture
def world(db, api):
    demo.generate_demo(db)
    run = evaluation.evaluate(db, 2020, actor="测试")
    # 处置台账 (issue 8): entries from the run and the parcel states, so /api/disposal/* answer with data
    disposal.open_from_evaluation(db, actor="测试", run_id=run.run_id, states=True, opened_on="2021-03-01")
    account_service.add_user(db, "city", PASSWORD, "city_admin", jurisdiction="411000")
    account_service.add_user(db, "weidu_zone", PASSWORD, "zone_manager", jurisdiction="魏都产业集聚区")
    with db.reader() as s:
        weidu = s.scalar(select(Jurisdiction.id).where(Jurisdiction.name == "魏都产业集聚区"))
        rows = s.execute(select(Parcel.code, Parcel.state, Parcel.zone_id)).all()
        occ = s.execute(select(Enterprise.credit_code, Enterprise.id, Parcel.zone_id)
                        .join(Occupancy, Occupancy.enterprise_id == Enterprise.id)
                        .join(Parcel, Parcel.id == Occupancy.parcel_id)).all()
    listed = sorted(c for c, st, _ in rows if st in PUBLIC_STATES)
    hidden = sorted(c for c, st, _ in rows if st not in PUBLIC_STATES)
    outside_weidu = {c for c, _, z in rows if z != weidu}
    weidu_ents = {c for c, _, z in occ if z == weidu}
    other_ents = {c for c, _, z in occ if z != weidu} - weidu_ents
    other_ent_id = next(i for c, i, z in occ if c in other_ents)
    other_parcel = next(c for c, st, z in rows if z != weidu and st not in PUBLIC_STATES)
    return dict(listed=listed, hidden=set(hidden), outside_weidu=outside_weidu, all_ents={c for c, _, _ in occ},
                other_ents=other_ents, other_ent_id=other_ent_id, other_parcel=other_parcel,
                some_ent=next(iter(other_ents)))


def _params(world) -> dict[str, list[str]]:
    """Path parameter → values to try (a visible one and one that must stay hidden)."""
    return {
        "code": [world["listed"][0], world["other_parcel"]],
        "credit_code": [world["some_ent"]],
        "enterprise_id": [str(world["other_ent_id"])],
        "run_id": ["1"], "batch_id": ["1"], "objection_id": ["1"], "entry_id": ["1"],
        "occupancy_id": ["1"], "contract_id": ["1"], "agreement_id": ["1"],
        "username": ["city"], "layer": ["parcels", "supply", "zones"],
        "collectionId": ["parcels", "zones"], "featureId": [world["other_parcel"]],
        "plan_id": ["1"],  # plan tasks (issue 8): public gazette, no parcel data
        "list_id": ["1", "999"],  # 年度可供土地清单 editions (issue 8): the demo's published edition
        "year": ["2026"], "category": ["county", "zone"],  # 增存挂钩 / 考评 (issue 8)
        "quarter": ["1"],  # 季度通报 (issue 8): /api/bulletins/{year}/Q{quarter}.docx|.pdf
        # issue 7 workflows: approval cases, split applications, a zone's 区域评估 (public)
        "case_id": ["1"], "app_id": ["1"], "zone": ["魏都产业集聚区", "长葛市产业集聚区"],
        "oversight_case_id": ["1"],  # 挂牌督办 (issue 8): internal, 404 outside the caller's view
    }


#: The API's own description (OpenAPI 3.0 for OGC clients): it names every field, holds no data.
API_DESCRIPTIONS = {"/ogc/api"}


def _get_operations(api) -> list[tuple[str, bool]]:
    """(path, takes a ``limit`` query parameter) of every GET operation but the tiles and the
    API description."""
    paths = api.get("/openapi.json").json()["paths"]
    return [(p, any(q.get("name") == "limit" for q in ops["get"].get("parameters", [])))
            for p, ops in paths.items()
            if "get" in ops and not p.endswith(".mvt") and p not in API_DESCRIPTIONS]


def _expand(path: str, params: dict[str, list[str]]) -> list[str]:
    names = re.findall(r"{(\w+)}", path)
    urls = [path]
    for n in names:
        assert n in params, f"add a value for path parameter {{{n}}} of {path} to _params()"
        urls = [u.replace("{" + n + "}", v) for u in urls for v in params[n]]
    return urls


def _keys(obj) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | set().union(*(_keys(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(_keys(v) for v in obj)) if obj else set()
    return set()


def _values(obj, key: str) -> list:
    if isinstance(obj, dict):
        return ([obj[key]] if key in obj else []) + [x for v in obj.values() for x in _values(v, key)]
    if isinstance(obj, list):
        return [x for v in obj for x in _values(v, key)]
    return []


def _answers(api, world, headers):
    for path, paged in _get_operations(api):
        for url in _expand(path, _params(world)):
            r = api.get(url, headers=headers, params={"limit": 1000} if paged else None)
            assert r.status_code < 500, f"{url}: {r.status_code} {r.text[:300]}"
            yield url, r


def test_anonymous_sees_only_the_supply_list_and_nothing_confidential(api, world):
    for url, r in _answers(api, world, {}):
        if r.status_code != 200 or "json" not in r.headers.get("content-type", ""):
            continue
        text = r.text
        leaked = set(PARCEL_CODE.findall(text)) & world["hidden"]
        assert not leaked, f"{url} shows non-public parcels to the public: {sorted(leaked)[:3]}"
        assert not (set(CREDIT_CODE.findall(text)) & world["all_ents"]), f"{url} shows credit codes to the public"
        body = json.loads(text)
        bad = _keys(body) & CONFIDENTIAL_KEYS
        assert not bad, f"{url} gives the public confidential keys {bad}"
        names = {v for v in _values(body, "actor") if v not in (None, "—")}
        assert not names, f"{url} names officials to the public: {names}"


def test_zone_manager_sees_nothing_of_other_zones(api, world):
    h = bearer(api, "weidu_zone")
    seen_any = False
    for url, r in _answers(api, world, h):
        if r.status_code != 200 or "json" not in r.headers.get("content-type", ""):
            continue
        text = r.text
        seen_any = seen_any or bool(PARCEL_CODE.findall(text))
        leaked = set(PARCEL_CODE.findall(text)) & world["outside_weidu"]
        if url.startswith(PUBLIC_LIST_PREFIXES):
            leaked -= set(world["listed"])
        assert not leaked, f"{url} shows the 魏都 zone manager parcels of other zones: {sorted(leaked)[:3]}"
        ents = set(CREDIT_CODE.findall(text)) & world["other_ents"]
        assert not ents, f"{url} shows the 魏都 zone manager enterprises of other zones: {sorted(ents)[:3]}"
    assert seen_any  # the zone manager does see their own parcels somewhere


def test_city_admin_reaches_every_get_operation(api, world):
    h = bearer(api, "city")
    statuses = {url: r.status_code for url, r in _answers(api, world, h)}
    assert statuses[f"/api/parcels/{world['other_parcel']}"] == 200
    assert all(s in (200, 204, 404) for s in statuses.values()), {u: s for u, s in statuses.items() if s not in (200, 204, 404)}
