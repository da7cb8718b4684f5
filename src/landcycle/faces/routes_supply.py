"""云上看地 over HTTP: the published 年度可供土地清单, for everyone (no sign-in).

Only parcels on the current published editions (``services.access.public_parcel_condition``; editions
are compiled and published through ``routes_supply_lists``) and only public facts (services/supply.py keeps an
explicit whitelist): the same answer for every caller, signed in or not.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from ..services import supply
from .paging import PageParams, page_body, page_params


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/supply", tags=["云上看地"])

    @router.get("", summary="年度可供土地清单（公开）")
    def supply_list(request: Request, page: PageParams = Depends(page_params(supply.SUPPLY_SORT_FIELDS)),
                    county: str | None = Query(None, max_length=100, description="县(市、区)：代码、名称或别名"),
                    zone: str | None = Query(None, max_length=100, description="产业集聚区：代码、名称或别名"),
                    min_mu: float | None = Query(None, ge=0, le=1e7, description="面积下限（亩）"),
                    max_mu: float | None = Query(None, ge=0, le=1e7, description="面积上限（亩）"),
                    land_source: str | None = Query(None, max_length=40,
                                                    description="土地来源：增量、批而未供、闲置、低效、储备（或英文值）"),
                    industry: str | None = Query(None, max_length=40, description="适宜产业，如“装备制造”")):
        """已公布的年度可供土地清单宗地，分页：面积（亩）、位置、土地来源、规划容积率、预计价格、适宜产业等
        公开信息；另给出全部清单的总面积（total_area_mu）、清单年度（list_year）和筛选项（facets）。
        不含任何企业、税收、合同或个人信息。"""
        body = supply.list_supply(request.app.state.db, county=county, zone=zone, min_mu=min_mu, max_mu=max_mu,
                                  land_source=land_source, industry=industry, sort=page.sort,
                                  limit=page.limit, offset=page.offset)
        out = page_body(request, body["items"], body["total"], page)
        out.update(total_area_mu=body["total_area_mu"], list_year=body["list_year"], facets=body["facets"])
        return out

    @router.get("/{code}", summary="可供宗地详情（公开）")
    def supply_detail(code: str, request: Request):
        """清单上一宗地的全部公开信息：面积、规划条件、标准地控制指标、预计价格、供地条件、程序与周期、
        适宜产业、土地来源、咨询电话（单位电话）和宗地图形（GeoJSON，CGCS2000 经纬度）。
        不在清单上的宗地：404。"""
        return supply.supply_parcel(request.app.state.db, code)

    return router
