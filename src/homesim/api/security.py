"""What keeps the service safe to run: the token, the Host allow-list, the request-size bounds, and the one
way a request's names and paths become files (never outside the workspace).

- Every route but `PUBLIC_PATHS` and `PUBLIC_PREFIXES` (`/healthz`, the login page, the API docs and
  their files under `/docs/`) needs the token: as `Authorization: Bearer <token>`, or — for reads only
  (GET/HEAD) — as the session cookie `POST /login` sets for the dashboard (HttpOnly, SameSite=Strict, an
  HMAC of the token rather than the token). A browser that opens a page without it is sent to `/login`.
- The token comes from `HOMESIM_API_TOKEN`, else from `<workspace>/api_token`, created (mode 0600,
  `secrets.token_urlsafe(32)`) on first start. A token shorter than `MIN_TOKEN_CHARS`, an empty token file
  or one readable by group or others is refused (`TokenError`), never used.
- The Host header must name an allowed host (127.0.0.1, localhost, ::1, and configured names): a page on
  another origin whose name was rebound to 127.0.0.1 (DNS rebinding) gets 400, not data.
- Request bodies over the bound are refused with 413 before a route sees them; JSON bodies have a
  smaller bound than uploaded archives.
- Names from a request (home keys, dataset ids, file names) must be plain names; relative paths must
  resolve, symlinks followed, inside their base folder. Anything else is 400 (malformed) or 404 (absent).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homesim.api.errors import bad_request, error_response, not_found
from homesim.workspace import Workspace

TOKEN_FILE = "api_token"
#: Shortest token accepted: `secrets.token_urlsafe(32)` (32 random bytes) is 43 characters.
MIN_TOKEN_CHARS = 32
#: The dashboard's session cookie (a read-only credential: GET and HEAD only).
SESSION_COOKIE = "homesim_session"
#: Routes anyone may call: liveness, the login page, and the API's own documentation.
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/docs", "/redoc", "/openapi.json"})
#: ... and everything under these (the documentation pages' own files).
PUBLIC_PREFIXES = ("/docs/", "/docs-assets/")
#: Hosts always allowed in the Host header: this machine.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_READ_METHODS = frozenset({"GET", "HEAD"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

#: Declares the bearer scheme in the OpenAPI document (the Swagger UI's Authorize button); the check itself
#: is `AuthMiddleware`, so no route can be added without it.
bearer_scheme = HTTPBearer(
    auto_error=False, description="the API token (HOMESIM_API_TOKEN or <workspace>/api_token)"
)


class TokenError(ValueError):
    """A token (or token file) that must not be used; the message says why and what to do."""


def token_path(workspace: Workspace) -> Path:
    return workspace.root / TOKEN_FILE


def check_token(token: str, source: str) -> str:
    """`token`, if long enough to be a secret; else TokenError naming `source`."""
    if len(token) < MIN_TOKEN_CHARS:
        raise TokenError(
            f"the API token from {source} has {len(token)} characters; at least {MIN_TOKEN_CHARS} are needed "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one)"
        )
    return token


def _read_token_file(path: Path) -> str:
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise TokenError(f"{path} is not a regular file")
    if mode & 0o077:
        raise TokenError(
            f"{path} is readable by group or others (mode {stat.S_IMODE(mode):o}): chmod 600 it, "
            "or delete it to have a new token made"
        )
    token = path.read_text("utf-8").strip()
    if not token:
        raise TokenError(
            f"{path} is empty: delete it to have a new token made, or write one of 32+ characters"
        )
    return check_token(token, str(path))


def ensure_token(workspace: Workspace, configured: str | None) -> tuple[str, bool]:
    """The token to require, and whether it was just created (so the caller shows it, once)."""
    if configured:
        return check_token(configured, "HOMESIM_API_TOKEN"), False
    path = token_path(workspace)
    if path.exists() or path.is_symlink():
        return _read_token_file(path), False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    # O_EXCL + 0600: created readable by its owner only, and never over a file another process made.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token, True


def session_value(token: str) -> str:
    """The cookie's value: derived from the token, so the cookie never holds the token itself."""
    return hmac.new(token.encode(), b"homesim-dashboard-session", hashlib.sha256).hexdigest()


def token_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the service on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind: str | None, extra: Iterable[str]) -> frozenset[str]:
    """Loopback names, the bound address unless it is a wildcard, and the configured names (lower case)."""
    names = {*LOOPBACK_HOSTS, *(name.strip().lower() for name in extra if name.strip())}
    if bind and bind not in ("0.0.0.0", "::", ""):
        names.add(bind.strip("[]").lower())
    return frozenset(names)


def _host_name(value: str) -> str:
    """The host of a Host header: `[::1]:8765` -> `::1`, `Localhost:80` -> `localhost`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostCheckMiddleware:
    """400 for a request whose Host header is not an allowed name (DNS-rebinding defence)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = HTTPConnection(scope).headers.get("host", "")
            if _host_name(host) not in self.allowed:
                detail = "the Host header is not one this service answers to (HOMESIM_API_ALLOWED_HOSTS)"
                await error_response(400, "bad host", detail)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class AuthMiddleware:
    """401 unless the request carries the token (or, for reads, the session cookie); see the module doc."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token)

    def _authorized(self, connection: HTTPConnection, method: str) -> bool:
        scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token_matches(self.token, credentials.strip()):
            return True
        cookie = connection.cookies.get(SESSION_COOKIE)
        return method in _READ_METHODS and cookie is not None and token_matches(self.session, cookie)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        method = scope["method"]
        if self._authorized(connection, method):
            await self.app(scope, receive, send)
            return
        if method in _READ_METHODS and "text/html" in connection.headers.get("accept", ""):
            # A browser opening a page: to the login page, which comes back here once the cookie is set.
            back = quote(scope["path"], safe="/")
            await RedirectResponse(f"/login?next={back}", status_code=303)(scope, receive, send)
            return
        detail = "send Authorization: Bearer <token> (HOMESIM_API_TOKEN or <workspace>/api_token)"
        response = error_response(401, "unauthorized", detail, {"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


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


#: Bodies sent as these types are uploads (zipped HA config dirs, histories): the larger bound applies.
_UPLOAD_TYPES = ("application/zip", "application/octet-stream", "application/x-zip-compressed")


class BodyLimitMiddleware:
    """Refuses request bodies over the bound with 413, by Content-Length or while streaming.

    Uploads (`_UPLOAD_TYPES`) may have `max_bytes`; every other body (JSON) `max_json_bytes`: a JSON
    document becomes Python objects many times its size, so its bound is what bounds a request's memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_json_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_bytes = max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = HTTPConnection(scope).headers
        upload = headers.get("content-type", "").split(";")[0].strip().lower() in _UPLOAD_TYPES
        limit = self.max_bytes if upload else self.max_json_bytes
        kind = "uploads" if upload else "JSON request bodies"
        detail = f"{kind} are limited to {limit:,} bytes"
        try:
            too_big = int(headers.get("content-length", "0")) > limit
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
                if seen > limit:  # a chunked body: no Content-Length to check up front
                    raise StarletteHTTPException(413, detail)
            return message

        await self.app(scope, counting_receive, send)
