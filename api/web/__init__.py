"""The web console (Simplified Chinese), served by `sampler serve` with no CDN.

Pages: the planner console at ``/``, the resident page at ``/r`` (the link SMS texts and notice QR
codes carry), the site page at ``/site``, the grid worker page at ``/grid``; scripts, styles and
the vendored chart library under ``/static``; the API docs at ``/docs`` from the vendored
swagger-ui-dist files over the service's own ``/openapi.json``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["PAGES", "STATIC", "mount_web"]

STATIC = Path(__file__).resolve().parent / "static"
PAGES = {"/": "index.html", "/r": "r.html", "/site": "site.html", "/grid": "grid.html"}


def _page(name: str) -> FileResponse:
    # Pages change with the package; no-cache makes browsers revalidate (ETag) instead of guessing.
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


def mount_web(app: FastAPI) -> None:
    """Add the pages, /static and a local /docs to ``app`` (created with ``docs_url=None``)."""
    for route, name in PAGES.items():
        def serve(name: str = name) -> FileResponse:
            return _page(name)
        app.add_api_route(route, serve, methods=["GET"], include_in_schema=False, name=f"page-{name}")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> FileResponse:
        # Served from the root so that it may control /site, /r and /grid.
        return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} · API 文档",
                                   swagger_js_url="/static/vendor/swagger-ui-bundle.js",
                                   swagger_css_url="/static/vendor/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")
