"""Every error the API returns is JSON `{"error": <short kind>, "detail": <what and why>}`.

`ApiError` is what route code raises; the handlers here turn it, FastAPI's validation errors, unknown
routes and unexpected exceptions into that one shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from homesim.io import IntegrityError

log = structlog.get_logger("homesim.api")


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
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


_REASONS = {404: "not found", 405: "method not allowed", 401: "unauthorized", 413: "request too large"}


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
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return error_response(422, "invalid request", problems)

    async def integrity(_: Request, exc: Exception) -> JSONResponse:
        # A stored file whose bytes differ from its recorded sha256: refused, never served or used.
        return error_response(409, "integrity error", str(exc))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("api_unhandled", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
        return error_response(500, "internal error", f"{type(exc).__name__}: {exc}")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(IntegrityError, integrity)
    app.add_exception_handler(Exception, unexpected)
