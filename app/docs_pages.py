"""/docs (Swagger UI) and /redoc (ReDoc) without a CDN: both load their files from this server, taken
from the copies the ``fastapi-offline`` package ships (kept current with FastAPI's defaults), so the API
reference works on a machine without the internet, as the rest of the service does.

The package's own ``FastAPIOffline`` factory is not used: its ReDoc bundle still fetches the "powered
by" logo from cdn.redoc.ly, so the bundle is served here with that one address pointed at our icon.
"""

from __future__ import annotations

import functools
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
PREFIX = "/static-docs"  # public, like /static: see app.middleware.PUBLIC_PREFIXES


@functools.cache
def _redoc_bundle(icon: str) -> str:
    return (ASSETS / "redoc.standalone.js").read_text(encoding="utf-8").replace(REDOC_CDN_LOGO, icon)


def install_docs(app: FastAPI, *, icon: str) -> None:
    """Serve /docs, its OAuth2 redirect page and /redoc from local files (create the app with
    ``docs_url=None, redoc_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get(PREFIX + "/redoc.standalone.js", include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(_redoc_bundle(icon), media_type="application/javascript")

    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")  # after redoc_js, which wins

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=root + openapi_url, title=app.title + " - Swagger UI",
                                   oauth2_redirect_url=root + redirect_url,
                                   swagger_js_url=f"{root}{PREFIX}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{PREFIX}/swagger-ui.css",
                                   swagger_favicon_url=root + icon, swagger_ui_parameters=app.swagger_ui_parameters)

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=root + openapi_url, title=app.title + " - ReDoc",
                              redoc_js_url=f"{root}{PREFIX}/redoc.standalone.js", redoc_favicon_url=root + icon,
                              with_google_fonts=False)
