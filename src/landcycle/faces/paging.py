"""Pagination and sorting shared by every list endpoint of the API.

A list answers ``{"items": [...], "total": N, "limit": L, "offset": O, "links": [...]}``;
``sort`` is a comma-separated list of field names, ``-`` before a name for descending
(``sort=-area_mu,code``). Each endpoint says which fields it can sort by; services receive
``[(field, descending), …]`` and map the names onto columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urlencode

from fastapi import Query, Request

from ..domain.errors import Problem, ValidationFailed

MAX_LIMIT = 1000
#: Deeper than any table here; keeps offsets inside a 64-bit integer on every backend.
MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int
    sort: list[tuple[str, bool]]


def parse_sort(text: str | None, allowed: Iterable[str]) -> list[tuple[str, bool]]:
    """``"-a,b"`` → ``[("a", True), ("b", False)]``; unknown fields are a 422 naming them."""
    allowed = list(allowed)
    out = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        desc = part.startswith("-")
        name = part.lstrip("+-")
        if name not in allowed:
            raise ValidationFailed(Problem("查询", "sort", f"不能按“{name}”排序，可选：{'、'.join(allowed)}"))
        out.append((name, desc))
    return out


def page_params(allowed_sort: Iterable[str]):
    """A FastAPI dependency factory: ``Depends(page_params(["code", "area_mu"]))``."""
    allowed = list(allowed_sort)

    def dependency(limit: int = Query(100, ge=1, le=MAX_LIMIT, description=f"每页条数，1–{MAX_LIMIT}"),
                   offset: int = Query(0, ge=0, le=MAX_OFFSET, description="偏移量"),
                   sort: str | None = Query(None, description="排序字段，逗号分隔，前加 - 为降序；可选："
                                            + "、".join(allowed))) -> PageParams:
        return PageParams(limit=limit, offset=offset, sort=parse_sort(sort, allowed))

    return dependency


def page_links(request: Request, total: int, returned: int, limit: int, offset: int,
               media_type: str = "application/json") -> list[dict[str, str]]:
    """self / next / prev links that keep the request's other query parameters."""
    params = {k: v for k, v in request.query_params.items() if k != "offset"}
    links = [{"rel": "self", "type": media_type, "href": str(request.url)}]
    if offset + returned < total:
        links.append({"rel": "next", "type": media_type,
                      "href": f"{request.url.path}?{urlencode({**params, 'offset': offset + returned})}"})
    if offset > 0:
        links.append({"rel": "prev", "type": media_type,
                      "href": f"{request.url.path}?{urlencode({**params, 'offset': max(0, offset - limit)})}"})
    return links


def page_body(request: Request, items: list[Any], total: int, page: PageParams) -> dict[str, Any]:
    """The standard list body."""
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset,
            "links": page_links(request, total, len(items), page.limit, page.offset)}
