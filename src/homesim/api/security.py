"""What keeps the service safe to run: the bearer token, the request-size bound, and the one way a
request's names and paths become files (never outside the workspace).

- Every mutating call (any method but GET/HEAD) needs `Authorization: Bearer <token>`. The token comes
  from `HOMESIM_API_TOKEN`, else from `<workspace>/api_token`, which is created (mode 0600) on first start.
- Request bodies larger than the bound are refused with 413 before a route sees them.
- Names from a request (home keys, dataset ids, file names) must be plain names; relative paths must
  resolve, symlinks followed, inside their base folder. Anything else is 400 (malformed) or 404 (absent).
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from pathlib import Path, PurePosixPath

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homesim.api.errors import ApiError, bad_request, error_response, not_found
from homesim.workspace import Workspace

TOKEN_FILE = "api_token"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

bearer_scheme = HTTPBearer(
    auto_error=False, description="the API token (HOMESIM_API_TOKEN or <workspace>/api_token)"
)


def token_path(workspace: Workspace) -> Path:
    return workspace.root / TOKEN_FILE


def ensure_token(workspace: Workspace, configured: str | None) -> tuple[str, bool]:
    """The token to require, and whether it was just created (so the caller prints it, once)."""
    if configured:
        return configured, False
    path = token_path(workspace)
    if path.is_file():
        token = path.read_text("utf-8").strip()
        if token:
            return token, False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    # O_EXCL + 0600: created readable by its owner only, and never over a file another process made.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token, True


def require_token(expected: str, credentials: HTTPAuthorizationCredentials | None) -> None:
    """401 unless the request carries the service's bearer token."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401, "unauthorized", "this call changes state: send Authorization: Bearer <token>", challenge
        )
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "the bearer token is not this service's token", challenge)


def safe_name(value: str, what: str) -> str:
    """A single plain file-system name (letters, digits, `_ . -`; no `..`, no separators), else 400."""
    if not _NAME.fullmatch(value) or ".." in value:
        raise bad_request(f"{what} {value!r} is not a valid name (letters, digits, '_', '.', '-'; no '..')")
    return value


def resolve_inside(base: Path, relative: str) -> Path:
    """`base/relative`, which must exist and lie inside `base` once symlinks are followed.

    400 for an absolute path, a `..` part or a NUL; 404 when the file is absent or resolves outside.
    """
    if "\x00" in relative or "\\" in relative:
        raise bad_request(f"path {relative!r} holds a NUL or a backslash")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or relative.startswith("/"):
        raise bad_request(f"path {relative!r} is absolute; give a path relative to its folder")
    if any(part == ".." for part in pure.parts):
        raise bad_request(f"path {relative!r} climbs out with '..'")
    root = base.resolve()
    try:
        target = (root / pure).resolve()
        found = target.is_relative_to(root) and target.exists()
    except (OSError, ValueError):  # a name too long, or not encodable for this file system
        found = False
    if not found:
        raise not_found(f"no file {relative!r}")
    return target


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"request bodies are limited to {self.max_bytes:,} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await error_response(413, "request too large", detail)(scope, receive, send)
                    return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # a chunked body: no Content-Length to check up front
                    raise StarletteHTTPException(413, detail)
            return message

        await self.app(scope, counting_receive, send)
