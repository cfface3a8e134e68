"""The routes anyone may call (no token): `/healthz`, and the dashboard's login.

`GET /login` is a page that asks for the API token (or takes it from the URL's
fragment, `/login#<token>`, which the browser never sends to a server), `POST /login` checks it and sets the
session cookie the browser then sends with every read (`AuthMiddleware` accepts it for GET and HEAD only).

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and holds an
HMAC of the token, not the token.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from homesim import __version__
from homesim.api.deps import RequestBody, State
from homesim.api.errors import ApiError
from homesim.api.security import SESSION_COOKIE, session_value, token_matches

router = APIRouter(tags=["site"])

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>homesim · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
input{width:100%;font:inherit;padding:.4rem;box-sizing:border-box}button{font:inherit;margin-top:.6rem}
#error{color:#b00020}</style></head>
<body><h1>homesim</h1>
<form id="login"><label for="token">API token (<code>HOMESIM_API_TOKEN</code> or
<code>&lt;workspace&gt;/api_token</code>)</label>
<input id="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button><p id="error" role="alert"></p></form>
<script>
const next = new URLSearchParams(location.search).get("next");
const target = next && next.startsWith("/") && !next.startsWith("//") ? next : "/dashboard";
async function signIn(token) {
  const response = await fetch("/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                          body: JSON.stringify({token: token})});
  if (response.ok) { location.replace(target); return; }
  document.getElementById("error").textContent = "That is not this service's token.";
}
document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault(); signIn(document.getElementById("token").value.trim());
});
if (location.hash.length > 1) {
  const token = decodeURIComponent(location.hash.slice(1));
  history.replaceState(null, "", location.pathname + location.search);  // the token leaves the address bar
  signIn(token);
}
</script></body></html>
"""


class Health(BaseModel):
    status: str
    version: str
    jobs_running: int


class Login(RequestBody):
    token: str = Field(min_length=1, max_length=512)


@router.get("/healthz", response_model=Health)
def healthz(state: State) -> Health:
    """Liveness: the service answers, with its version and how many jobs run."""
    return Health(status="ok", version=__version__, jobs_running=len(state.jobs.jobs(status="running")))


@router.get("/login", response_class=HTMLResponse)
def login_page() -> HTMLResponse:
    """The sign-in page; once signed in it goes on to `?next=<path>` (default /dashboard)."""
    return HTMLResponse(_PAGE, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.post("/login", status_code=204)
def login(body: Login, state: State, response: Response) -> None:
    """Check the token and set the session cookie (reads only: changes still need the bearer token)."""
    if not token_matches(state.token, body.token):
        raise ApiError(401, "unauthorized", "the token is not this service's token")
    response.set_cookie(
        SESSION_COOKIE, session_value(state.token), httponly=True, samesite="strict", path="/"
    )
