"""Parcels over HTTP: register one (POST), change one against its version (PATCH), read its
archive (一地一档). The list and the card (GET) are in ``faces/api.py``.

Writes are scoped by the services: an official registers and changes parcels only in their
own jurisdiction (outside it: 404 for an existing parcel, 403 for a new one), other roles
are refused (403; 401 anonymous). Every edit names the version it is based on
(``If-Match: "<version>"`` or ``version`` in the body; neither: 428); a stale one gets 409
with the current record, nothing overwritten, the attempt logged in the parcel's archive.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, status

from ..domain.access import Principal
from ..domain.records import ParcelDraft
from ..services import audit, registry
from .auth import current_principal
from .editing import (
    Body,
    Day,
    Flag,
    Geometry,
    IfMatch,
    Number,
    Reason,
    Text,
    Version,
    Whole,
    changes_of,
    expected_version,
    to_shape,
    versioned,
)
from .paging import PageParams, page_body, page_params

NAME = Text(100, min_length=1)


class ParcelCreate(Body):
    """一宗地的登记信息。"""

    code: Text(19)  # type: ignore[valid-type]
    geometry: Geometry
    county: NAME  # type: ignore[valid-type]
    zone: NAME | None = None  # type: ignore[valid-type]
    location: Text(300) = ""  # type: ignore[valid-type]
    land_use: Text(8) = "0601"  # type: ignore[valid-type]
    state: Text(30) = "approved_unsupplied"  # type: ignore[valid-type]
    inefficiency_categories: list[Text(40)] = []  # type: ignore[valid-type]
    land_source: Text(30) | None = None  # type: ignore[valid-type]
    supply_method: Text(30) | None = None  # type: ignore[valid-type]
    supply_date: Day | None = None
    term_years: Whole(0, 1000) | None = None  # type: ignore[valid-type]
    price_wan: Number | None = None
    plot_ratio_min: Number | None = None
    plot_ratio_max: Number | None = None
    building_density_min: Number | None = None
    green_ratio_max: Number | None = None
    height_limit_m: Number | None = None
    is_standard_land: Flag = False
    is_standard_factory: Flag = False
    stated_area_m2: Number | None = None
    reason: Reason = None


class ParcelChange(Body):
    """要修改的字段（只传需要修改的字段）；version 或请求头 If-Match 给出所依据的版本。"""

    # Fields that may not be null carry no "| None": an explicit null is a type error (422).
    geometry: Geometry = None  # type: ignore[assignment]
    location: Text(300) = None  # type: ignore[valid-type]
    land_use: Text(8) = None  # type: ignore[valid-type]
    state: Text(30) = None  # type: ignore[valid-type]
    inefficiency_categories: list[Text(40)] = None  # type: ignore[valid-type]
    land_source: Text(30) | None = None  # type: ignore[valid-type]
    supply_method: Text(30) | None = None  # type: ignore[valid-type]
    supply_date: Day | None = None
    term_years: Whole(0, 1000) | None = None  # type: ignore[valid-type]
    price_wan: Number | None = None
    plot_ratio_min: Number | None = None
    plot_ratio_max: Number | None = None
    building_density_min: Number | None = None
    green_ratio_max: Number | None = None
    height_limit_m: Number | None = None
    is_standard_land: Flag = None  # type: ignore[assignment]
    is_standard_factory: Flag = None  # type: ignore[assignment]
    version: Version | None = None
    reason: Reason = None


def _draft(body: ParcelCreate) -> ParcelDraft:
    values: dict[str, Any] = body.model_dump(exclude={"geometry", "reason"})
    return ParcelDraft(geometry=to_shape(body.geometry, f"宗地 {body.code}"), **values)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/parcels", tags=["宗地"])

    @router.post("", status_code=status.HTTP_201_CREATED, summary="登记宗地")
    def register(body: ParcelCreate, request: Request, who: Principal = Depends(current_principal)):
        """登记一宗新宗地（GeoJSON 图形，CGCS2000 经纬度）。面积在宗地所在高斯-克吕格3度带中计算；
        县区/集聚区官员只能在本辖区内登记（否则 403）。返回新记录（version=1），响应头 ETag、Location。"""
        record = registry.register_parcel(request.app.state.db, _draft(body), actor=who, reason=body.reason)
        return versioned(record, status.HTTP_201_CREATED, location=f"/api/parcels/{record['code']}")

    @router.patch("/{code}", summary="修改宗地（需版本号）")
    def change(code: str, body: ParcelChange, request: Request, if_match: IfMatch = None,
               who: Principal = Depends(current_principal)):
        """修改宗地的部分字段。必须给出所依据的版本（请求头 If-Match: "版本" 或请求体 version），
        缺少时 428；版本已过期时 409 并返回当前记录，不覆盖任何内容，该次尝试记入一地一档。
        不在本辖区的宗地：404。"""
        version = expected_version(if_match, body.version)
        changes = changes_of(body)
        if "geometry" in changes:
            changes["geometry"] = to_shape(body.geometry, f"宗地 {code}")
        record = registry.update_parcel(request.app.state.db, code, changes, version, actor=who, reason=body.reason)
        return versioned(record)

    @router.get("/{code}/history", summary="宗地档案（一地一档）")
    def history(code: str, request: Request, page: PageParams = Depends(page_params(audit.SORT_FIELDS)),
                who: Principal = Depends(current_principal)):
        """宗地及其相关记录（用地关系、合同、协议、开发建设情况）的全部变更，默认按时间先后。
        只有宗地所在辖区的官员和职能部门能看到操作人及修改前后的值；其他能看到该宗地的人只看到
        变更内容摘要。"""
        items, total = registry.history_page(request.app.state.db, code, viewer=who, sort=page.sort,
                                             limit=page.limit, offset=page.offset)
        return page_body(request, items, total, page)

    return router
