"""The interactive API docs, offline: Swagger UI at `/docs` and ReDoc at `/redoc`, their JavaScript, CSS and
icon served by the service itself from `/docs-assets/` (never from a CDN: the machines have no network).

The files are the ones the `fastapi-offline` package ships (Swagger UI, Apache-2.0; ReDoc, MIT; the
package, MIT): a PyPI dependency rather than vendored copies, so an upgrade is a version bump. FastAPI's
own CDN pages are switched off in `create_app` (`docs_url=None, redoc_url=None`). Two things in them
would still reach out: Swagger UI's validator badge (`validatorUrl`, switched off) and ReDoc's "API docs by
Redocly" logo, an image on cdn.redoc.ly (its URL in the bundle is replaced by an inline empty SVG).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from homesim.api.errors import ApiError

router = APIRouter(include_in_schema=False)

ASSETS_URL: Final = "/docs-assets"
#: The files served under `ASSETS_URL` (a fixed list: nothing else in the package folder is reachable).
ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
OAUTH2_REDIRECT: Final = "/docs/oauth2-redirect"
#: ReDoc's footer logo (fetched from its CDN) and what it is replaced with: an empty inline SVG.
REDOC_LOGO: Final = "https://cdn.redoc.ly/redoc/logo-mini.svg"
NO_LOGO: Final = "data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'%20width='1'%20height='1'/%3E"


def assets_dir() -> Path:
    """Where `fastapi-offline` keeps the Swagger UI and ReDoc distribution files."""
    return Path(str(files("fastapi_offline") / "static"))


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} — Swagger UI",
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        oauth2_redirect_url=OAUTH2_REDIRECT,
        swagger_ui_parameters={"validatorUrl": None},  # the badge asks validator.swagger.io
    )


@router.get(OAUTH2_REDIRECT, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} — ReDoc",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )


@cache
def redoc_js() -> bytes:
    """The ReDoc bundle with its CDN logo replaced (read once)."""
    return (assets_dir() / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO.encode(), NO_LOGO.encode())


@router.get(f"{ASSETS_URL}/{{name}}", response_class=FileResponse)
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise ApiError(404, "not found", f"no docs asset {name!r}")
    if name == "redoc.standalone.js":
        return Response(redoc_js(), media_type=ASSETS[name])
    return FileResponse(assets_dir() / name, media_type=ASSETS[name])
