"""The web pages: static HTML shells served at readable paths; their scripts read the API.

Every page is a file in ``web/static/pages/``; data never comes inside the HTML — the page's
script asks the API, so a page shows exactly what the caller's role and jurisdiction allow
(the API decides, not the page). Paths carrying a record key (``/land/{code}``) serve the same
file for every key; the script reads the key from ``location``.

Public pages (云上看地) need no sign-in. Workbench pages (``/work/…``, 管地) are served to
anyone too — they hold no data — and their script sends the visitor to ``/login`` when
``/api/auth/me`` says "public".
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

#: URL path → HTML file in ``static/pages``.
PAGES: dict[str, str] = {
    "/": "portal.html",                    # 云上看地: published supply list on the map and as a list
    "/land/{code}": "land.html",           # one published parcel, public facts only
    "/login": "login.html",                # 登录
    "/work": "dashboard.html",             # 管地 workbench home: 驾驶舱
    "/work/map": "workmap.html",           # jurisdiction map styled by state / 低效类别 / A-B-C class
    "/work/parcels/{code}": "card.html",   # 一宗一卡 (+ print view, edit forms, 一地一档)
    "/work/ledgers": "ledgers.html",       # 批而未供 / 闲置 / 低效 台账
    "/work/warnings": "warnings.html",     # deadlines due and overdue
    "/work/import": "import.html",         # 标图入库: upload, dry-run report, confirm
    "/work/plans": "plans.html",           # 计划任务: plan tasks, deadlines, quarterly reports
    "/work/kaoping": "kaoping.html",       # 考评: rankings, 约谈 list, self-assessment and office scores
    "/work/quota": "quota.html",           # 增存挂钩: new construction-land quota allocation
    "/work/disposal": "disposal.html",     # 处置台账: disposal ledger, 一宗一策, 消化处置率 progress
    "/work/oversight": "oversight.html",   # 挂牌督办 (per-zone count) and 再开发监管协议
    "/work/supply-lists": "supply-lists.html",  # 年度可供土地清单: compile, review, publish editions
    "/work/bulletins": "bulletins.html",   # 季度通报: Word/PDF downloads, 考评 ranking workbooks
}


def content_security_policy(basemap_url: str | None) -> str:
    """The pages' CSP: everything from this server (closed network — no CDN), plus the
    configured base-map host for tiles; MapLibre needs blob: workers and data:/blob: images."""
    extra = ""
    if basemap_url and "://" in basemap_url:
        scheme, rest = basemap_url.split("://", 1)
        host = rest.split("/", 1)[0]
        extra = f" {scheme}://{host}"
    return ("default-src 'self'; "
            f"img-src 'self' data: blob:{extra}; "
            f"connect-src 'self'{extra}; "
            "worker-src 'self' blob:; child-src 'self' blob:; "
            "style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def build_router(static_dir: Path, basemap_url: str | None) -> APIRouter:
    """Routes for :data:`PAGES` (not in the OpenAPI document: they are pages, not API)."""
    router = APIRouter(include_in_schema=False)
    headers = {"Content-Security-Policy": content_security_policy(basemap_url),
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
               "Cache-Control": "no-cache"}

    def page_route(filename: str):
        def serve(code: str | None = None):  # noqa: ARG001 — the script reads the key from the URL
            path = static_dir / "pages" / filename
            if not path.is_file():
                raise HTTPException(404)
            return FileResponse(path, media_type="text/html; charset=utf-8", headers=headers)
        return serve

    for url, filename in PAGES.items():
        router.add_api_route(url, page_route(filename), methods=["GET"])
    return router
