"""``/docs`` (Swagger UI) and ``/redoc`` with their scripts and styles served from here.

FastAPI's own pages load them from a CDN, so on a machine without the internet (the
embedded default, a bank's network) ``/docs`` was a blank page. The assets come from the
``fastapi-offline`` wheel (a dependency: its files, read from the installed package), and
ReDoc is asked not to load Google's fonts: nothing these pages load leaves the server.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

ASSETS = "/docs/assets"
#: the files a page may ask for, and their media types (any other name is a 404)
_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
_CACHE = "public, max-age=86400"
#: the pages may load from here only: ReDoc's sidebar asks a CDN for its logo, which the
#: browser then does not fetch (inline: the pages' own start-up scripts; blob: ReDoc's
#: worker)
_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self' data:")  # fmt: skip


def _page(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = _CSP
    return page


@lru_cache(maxsize=len(_FILES))
def _asset(name: str) -> bytes:
    """An asset's bytes, read from the package once (2.8 MB in all)."""
    return (resources.files("fastapi_offline") / "static" / name).read_bytes()


@router.get("/docs")
async def swagger(request: Request) -> HTMLResponse:
    return _page(
        get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )
    )


@router.get("/docs/oauth2-redirect")
async def oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _page(
        get_redoc_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} API",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
    )


@router.get(f"{ASSETS}/{{name}}")
async def asset(name: str) -> Response:
    media = _FILES.get(name)
    if media is None:
        return Response(f"no docs asset {name}", status_code=404, media_type="text/plain")
    return Response(_asset(name), media_type=media, headers={"Cache-Control": _CACHE})
