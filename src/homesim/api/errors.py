"""Every error the API returns is JSON `{"error": <short kind>, "detail": <what and why>}`.

`ApiError` is what route code raises; the handlers here turn it, FastAPI's validation errors, unknown
routes and unexpected exceptions into that one shape. Every detail is bounded and says nothing about the
machine: strings are cut to `MAX_DETAIL_CHARS` (an error must never echo a huge value back — a 454-byte
alias bomb once came back as 226 MB), lists to `MAX_DETAIL_ITEMS`, absolute paths lose their folders, and
an unexpected exception is only named (its message, which may hold paths or data, goes to the log).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from homesim.io import IntegrityError

log = structlog.get_logger("homesim.api")
#: Longest string, and most list items, an error detail holds.
MAX_DETAIL_CHARS = 500
MAX_DETAIL_ITEMS = 20
#: An absolute path under one of this machine's top-level folders ("/tmp/x/y.json", "/home/u/ws/…").
_TOP_FOLDERS = "|".join(sorted((re.escape(p.name) for p in Path("/").iterdir()), key=len, reverse=True))
_ABSOLUTE = re.compile(rf"(?<![\w.~-])/(?:{_TOP_FOLDERS})(?![\w.-])(?:/[^\s'\",;:()\[\]{{}}]*)?")


def _without_paths(text: str) -> str:
    """`text` with every absolute path shortened to `…/<file name>`."""
    return _ABSOLUTE.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def clean(detail: Any) -> Any:
    """`detail` safe to answer: bounded strings and lists, no absolute paths (recursively)."""
    if isinstance(detail, str):
        text = _without_paths(
            detail if len(detail) <= 4 * MAX_DETAIL_CHARS else detail[: 4 * MAX_DETAIL_CHARS]
        )
        return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"
    if isinstance(detail, Mapping):
        return {str(k)[:MAX_DETAIL_CHARS]: clean(v) for k, v in list(detail.items())[:MAX_DETAIL_ITEMS]}
    if isinstance(detail, list | tuple):
        items = [clean(item) for item in detail[:MAX_DETAIL_ITEMS]]
        if len(detail) > MAX_DETAIL_ITEMS:
            items.append(f"… and {len(detail) - MAX_DETAIL_ITEMS} more")
        return items
    if detail is None or isinstance(detail, bool | int | float):
        return detail
    return clean(str(detail))


class ApiError(Exception):
    """An error with its HTTP status; `error` is a short kind, `detail` says what to change."""

    def __init__(
        self, status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


def not_found(what: str) -> ApiError:
    return ApiError(404, "not found", what)


def bad_request(detail: Any) -> ApiError:
    return ApiError(400, "bad request", detail)


def error_response(
    status: int, error: str, detail: Any, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "detail": clean(detail)}, status_code=status, headers=headers)


_REASONS = {
    400: "bad request",
    404: "not found",
    405: "method not allowed",
    401: "unauthorized",
    413: "request too large",
}


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(
            exc.status_code, _REASONS.get(exc.status_code, "http error"), exc.detail, exc.headers
        )

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Never the error's `input`: it is the request's value, of any size. `msg` is cut by `clean`.
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()[: MAX_DETAIL_ITEMS + 1]
        ]
        return error_response(422, "invalid request", problems)

    async def integrity(_: Request, exc: Exception) -> JSONResponse:
        # A stored file whose bytes differ from its recorded sha256: refused, never served or used.
        return error_response(409, "integrity error", str(exc))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("api_unhandled", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
        return error_response(500, "internal error", f"{type(exc).__name__} (the service's log has more)")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(IntegrityError, integrity)
    app.add_exception_handler(Exception, unexpected)
