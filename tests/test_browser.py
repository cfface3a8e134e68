"""The report, the dashboard and the API docs in headless Chromium (Debian's `chromium` + `chromium-driver`).

The session fixture installs the packages with apt when they are missing and skips (saying why) only if
that fails. Each page is checked for its content and for SEVERE console messages, and screenshotted to a
temp folder (the documentation's screenshots are not these: `benchmarks/screenshots.py` takes them from a
real `make run` workspace with `open_chromium` and `screenshot` below). The dashboard is checked twice:
against the real service (`homesim.api`, in a uvicorn thread, with a runner whose progress the test steps)
and against a tiny fixture server that answers in other shapes the page must also read (bare lists,
aliases, a report list). The report and the dashboard (with its plots) are laid out at 1280×800 and
1920×1080: the page never scrolls sideways, no element ends past the window or clips its content (a table
cell included), every image decodes, and the console stays free of errors. `/docs` and `/redoc` render
with no network: every resource they load comes from the service itself.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from demo_workspace import DemoWorkspace, build_demo_workspace
from homesim.reports.dashboard import dashboard_html
from homesim.reports.report import write_report

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.chrome.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WAIT_S = 30
#: The window sizes every page is laid out at (the smallest laptop width the report supports, and full HD).
SIZES = ((1280, 800), (1920, 1080))
#: What is wrong with the layout of the page shown: sideways scrolling, elements past the window's right
#: edge, elements (or table cells) narrower than their content, and images that did not decode.
LAYOUT_JS = """
const root = document.documentElement;
const classes = (e) => typeof e.className === "string" ? e.className.trim().replace(/ +/g, ".") : "";
const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (classes(e) ? "." + classes(e) : "");
const problems = [];
if (root.scrollWidth > innerWidth) {
  problems.push("page scrolls sideways: " + root.scrollWidth + " > " + innerWidth);
}
for (const e of document.body.querySelectorAll("*")) {
  const r = e.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (r.right > root.clientWidth + 1) problems.push(name(e) + " ends at " + Math.round(r.right));
  const clips = getComputedStyle(e).overflowX !== "visible" || e.tagName === "TD" || e.tagName === "TH";
  if (clips && e.scrollWidth > e.clientWidth + 1) {
    problems.push(name(e) + " clips its content: " + e.scrollWidth + " > " + e.clientWidth);
  }
}
const broken = Array.from(document.images).filter((i) => !(i.complete && i.naturalWidth > 0))
  .map((i) => i.alt || i.src.slice(0, 60));
return {problems: problems.slice(0, 20), broken: broken, images: document.images.length};
"""


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium and its driver, installed with apt when missing (what "the test setup installs")."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        try:
            done = subprocess.run(
                ["apt-get", "install", "-y", "chromium", "chromium-driver"],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"chromium is not installed and apt-get could not run: {exc}")
        if done.returncode != 0 or not CHROMEDRIVER.exists():
            pytest.skip(f"chromium is not installed and apt-get failed: {done.stderr.strip()[-300:]}")
    return CHROMIUM


def open_chromium(chromium: Path, profile: Path) -> WebDriver:
    """Headless Chromium, 1280 px wide, keeping the browser console's log."""
    options = Options()
    options.binary_location = str(chromium)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def driver(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    browser = open_chromium(chromium, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def severe(browser: WebDriver) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def screenshot(browser: WebDriver, path: Path, max_height: int = 4000) -> Path:
    """The page down to `max_height` pixels, saved as `path`."""
    height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    browser.set_window_size(1280, min(max(height, 600), max_height))
    path.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(path))
    browser.set_window_size(1280, 900)
    return path


def set_viewport(browser: WebDriver, width: int, height: int) -> None:
    """Lay the page out in a `width`×`height` window (exactly: the window's frame is not counted)."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    assert browser.execute_script("return innerWidth") == width


def layout(browser: WebDriver) -> dict[str, Any]:
    """The layout problems of the page shown (`LAYOUT_JS`)."""
    found: dict[str, Any] = browser.execute_script(LAYOUT_JS)
    return found


def wait_for_report(browser: WebDriver, path: Path) -> int:
    """Open a static report and wait until it has loaded; the number of its plots that drew."""
    browser.get(path.resolve().as_uri())
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    loaded: int = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure.plot img'))"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )
    return loaded


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoWorkspace:
    return build_demo_workspace(tmp_path_factory.mktemp("browser-ws"), homes=2, days=7, cycles=2)


@pytest.fixture(scope="module")
def report_path(demo: DemoWorkspace) -> Path:
    return write_report(demo.workspace)


@pytest.mark.slow
def test_report_renders_with_every_plot(driver: WebDriver, screenshots: Path, report_path: Path) -> None:
    path = report_path
    expected = path.read_text("utf-8").count('<figure class="plot"><img ')
    assert expected == 1 + 3 + 1 + 2 * 6  # stage curves, 3 learning curves, A/B, two cycles' 6 figures
    assert wait_for_report(driver, path) == expected
    headings = {h.text for h in driver.find_elements("css selector", "h2, h3")}
    assert {
        "Run overview",
        "Learning curves",
        "Deployment decisions",
        "A/B tests",
        "Stage metrics",
    } <= headings
    assert severe(driver) == []
    assert screenshot(driver, screenshots / "report.png").stat().st_size > 10_000


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_report_layout(driver: WebDriver, report_path: Path, width: int, height: int) -> None:
    set_viewport(driver, width, height)
    try:
        expected = report_path.read_text("utf-8").count('<figure class="plot"><img ')
        assert wait_for_report(driver, report_path) == expected
        found = layout(driver)
        assert found["problems"] == [] and found["broken"] == [] and found["images"] == expected
        # the decisions' reasons wrap inside their cells (the demo's are as long as the loop's)
        reasons = driver.execute_script(
            "return Array.from(document.querySelectorAll('#deployment-decisions td:last-child'))"
            ".map(td => [td.scrollWidth <= td.clientWidth, td.innerText.length])"
        )
        assert reasons and all(fits and length > 60 for fits, length in reasons)
        assert severe(driver) == []
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


# -- the dashboard ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _row_text(browser: WebDriver, job_id: str) -> str:
    text: str = browser.execute_script(
        "const r = document.querySelector(`tr[data-job-id='${arguments[0]}']`); return r ? r.innerText : '';",
        job_id,
    )
    return text


@contextlib.contextmanager
def serving(app: Any, browser: WebDriver) -> Iterator[str]:
    """The app served by uvicorn in a thread; its base URL. The browser leaves its pages before the service
    stops (a page still polling a stopped service logs errors into the next test's console)."""
    uvicorn = pytest.importorskip("uvicorn")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        browser.get("about:blank")
        server.should_exit = True
        thread.join(10)


def _submit(base: str, token: str) -> str:
    """Start a generation job; its id."""
    request = urllib.request.Request(
        f"{base}/v1/generations",
        data=json.dumps({"homes": 2, "days": 3, "seed": 1}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=WAIT_S) as response:
        job_id: str = json.loads(response.read())["id"]
        return job_id


def test_dashboard_follows_a_real_job(driver: WebDriver, tmp_path: Path) -> None:
    api = pytest.importorskip("homesim.api.app")
    from homesim.api.jobs import JobContext
    from homesim.workspace import Workspace

    release = threading.Event()

    def stepped(ctx: JobContext) -> dict[str, Any]:
        """A job whose progress the test moves: a quarter, then (once released) the rest."""
        ctx.report(1, 4, {"step": "first"})
        release.wait(WAIT_S)
        for done in (2, 3, 4):
            time.sleep(0.2)
            ctx.report(done, 4, {"step": f"step {done}"})
        return {"steps": 4}

    token = "browser-token-0123456789-0123456789-0123456789"
    app = api.create_app(Workspace(tmp_path), token=token, executor="inline", runners={"generation": stepped})
    with serving(app, driver) as base:
        # Every route needs the token: the page signs in through /login (the token in the URL's fragment,
        # which the browser never sends), which sets the session cookie and goes on to the dashboard.
        driver.get(f"{base}/dashboard")
        wait = WebDriverWait(driver, WAIT_S)
        wait.until(lambda d: "/login" in d.current_url)
        driver.get(f"{base}/login#{token}")
        wait.until(lambda d: d.current_url.endswith("/dashboard"))
        assert token not in driver.current_url
        # nothing yet: every list is empty, and the page says so without errors
        wait.until(lambda d: d.find_element("id", "status").text.startswith("updated"))
        for empty in ("jobs-empty", "plots-empty", "models-empty", "reports-empty"):
            assert driver.find_element("id", empty).is_displayed()
        assert severe(driver) == []
        job_id = _submit(base, token)
        driver.execute_script("refreshJobs()")  # the next poll, now
        wait.until(lambda d: "25%" in _row_text(d, job_id))
        # the page follows the running job's event stream…
        wait.until(lambda d: d.execute_script("return streams.has(arguments[0])", job_id))
        release.set()
        # …which moves the bar to the end and is closed when the job ends
        wait.until(lambda d: "100%" in _row_text(d, job_id) and "succeeded" in _row_text(d, job_id))
        wait.until(lambda d: d.execute_script("return streams.size") == 0)
        assert driver.find_element("id", "models-empty").is_displayed()  # no registry yet: an empty list
        assert severe(driver) == []
    release.set()


def _plot_keys(browser: WebDriver) -> list[str]:
    """The keys of the dashboard's plots that are drawn (their image decoded)."""
    keys: list[str] = browser.execute_script(
        "return Array.from(document.querySelectorAll('#plots figure'))"
        ".filter(f => { const i = f.querySelector('img'); return i.complete && i.naturalWidth > 0; })"
        ".map(f => f.dataset.key)"
    )
    return keys


def test_dashboard_plots_live_and_fit(
    driver: WebDriver, demo: DemoWorkspace, tmp_path: Path, screenshots: Path
) -> None:
    """The report's key plots on the dashboard, laid out at both sizes, and a plot that a job's output adds
    appears on its own when the job ends (the page is not reloaded)."""
    api = pytest.importorskip("homesim.api.app")
    from homesim.api.jobs import JobContext
    from homesim.workspace import Workspace

    workspace = Workspace(Path(shutil.copytree(demo.workspace.root, tmp_path / "ws")))
    release = threading.Event()
    model_type, cycle = demo.ab
    written = ("pattern_detection", cycle)

    def writes_an_ab_result(ctx: JobContext) -> dict[str, Any]:
        """A job that, once released, writes another A/B result (as the loop's A/B stage does)."""
        ctx.report(0, 1, {"step": "waiting"})
        release.wait(WAIT_S)
        result = json.loads(workspace.ab_report(model_type, cycle).read_text()) | {"model_type": written[0]}
        workspace.ab_report(*written).write_text(json.dumps(result))
        ctx.report(1, 1, {"step": "written"})
        return {"written": 1}

    token = "browser-token-0123456789-0123456789-0123456789"
    app = api.create_app(
        workspace, token=token, executor="inline", runners={"generation": writes_an_ab_result}
    )
    expected = ["stage-curves", "learning-gnn_synergy", "learning-pattern_detection", "learning-soft_prompt"]
    with serving(app, driver) as base:
        driver.get(f"{base}/login#{token}")  # signs in (the session cookie), then opens the dashboard
        wait = WebDriverWait(driver, WAIT_S)
        wait.until(lambda d: _plot_keys(d) == [*expected, f"ab-{model_type}-{cycle}"])
        job_id = _submit(base, token)
        driver.execute_script("refreshJobs()")
        wait.until(lambda d: d.execute_script("return streams.has(arguments[0])", job_id))
        for width, height in SIZES:
            set_viewport(driver, width, height)
            try:
                found = layout(driver)
                assert found["problems"] == [] and found["broken"] == [], (width, found)
            finally:
                driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        release.set()
        wait.until(lambda d: "succeeded" in _row_text(d, job_id))
        wait.until(lambda d: f"ab-{written[0]}-{written[1]}" in _plot_keys(d))
        assert severe(driver) == []
        assert screenshot(driver, screenshots / "dashboard-plots.png").stat().st_size > 10_000
    release.set()


@pytest.mark.parametrize(
    ("page", "rendered"), [("/docs", ".swagger-ui .info .title"), ("/redoc", ".api-info h1")]
)
def test_api_docs_render_offline(driver: WebDriver, tmp_path: Path, page: str, rendered: str) -> None:
    """Swagger UI and ReDoc draw the API from the service's own assets (the browser has no network)."""
    api = pytest.importorskip("homesim.api.app")
    pytest.importorskip("fastapi_offline")
    from homesim.workspace import Workspace

    app = api.create_app(
        Workspace(tmp_path), token="docs-token-0123456789-0123456789-0123456789", executor="inline"
    )
    with serving(app, driver) as base:  # the docs and their files need no token
        driver.get(f"{base}{page}")
        WebDriverWait(driver, WAIT_S).until(
            lambda d: (
                "homesim"
                in d.execute_script(
                    "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''", rendered
                )
            )
        )
        loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(base) for url in loaded), loaded
        assert severe(driver) == []


# A fixture service: jobs as a bare list, a model listed with aliases, a report list, and SSE progress.
_JOBS = [
    {"id": "job-cycle", "kind": "cycle", "status": "running", "created": "2026-01-05T10:00:00Z",
     "progress": {"done": 3, "total": 12, "detail": {"home_key": "h000002"}}},
    {"id": "job-gen", "kind": "generation", "status": "succeeded", "created": "2026-01-05T09:58:00Z",
     "progress": {"done": 12, "total": 12, "detail": {}}},
]  # fmt: skip
_MODELS = [
    {"model_type": "gnn_synergy", "version": "v2", "status": "champion",
     "metrics": {"pr_auc": 0.71, "f1": 0.64}, "created": "2026-01-05T09:00:00Z"},
    {"model_type": "gnn_synergy", "version": "v1", "status": "previous", "metrics": {"pr_auc": 0.66}},
    {"model_type": "pattern_detection", "version": "v1", "aliases": ["champion"], "metrics": {"f1": 0.74}},
]  # fmt: skip
_REPORTS = [{"name": "html/run_demo-run.html", "url": "/reports/html/run_demo-run.html"}, "html/cycle_1.html"]


class _FixtureHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream_progress(self) -> None:
        for done in range(4, 13):
            data = {"done": done, "total": 12, "detail": {"home_key": f"h{done:06d}"}}
            self.wfile.write(f"event: progress\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()
            time.sleep(0.25)  # slow enough for the screenshot to catch the job mid-way
        job = _JOBS[0] | {"status": "succeeded", "progress": {"done": 12, "total": 12, "detail": {}}}
        self.wfile.write(f"event: done\ndata: {json.dumps(job)}\n\n".encode())
        self.wfile.flush()

    def do_GET(self) -> None:
        answers: dict[str, Any] = {
            "/v1/jobs": _JOBS,
            "/v1/models": _MODELS,
            "/v1/reports": _REPORTS,
            "/openapi.json": {"paths": {"/v1/reports": {"get": {}}}},
        }
        if self.path == "/dashboard":
            self._send(dashboard_html().encode(), "text/html; charset=utf-8")
        elif self.path in answers:
            self._send(json.dumps(answers[self.path]).encode(), "application/json")
        elif self.path == "/v1/jobs/job-cycle/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the page went away (reload)
                self._stream_progress()
        else:
            self.send_error(404)


@pytest.fixture
def fixture_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FixtureHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(10)


def test_dashboard_reads_other_shapes(driver: WebDriver, fixture_service: str, screenshots: Path) -> None:
    driver.get(f"{fixture_service}/dashboard")
    wait = WebDriverWait(driver, WAIT_S)
    wait.until(lambda d: "100%" in _row_text(d, "job-cycle") and "succeeded" in _row_text(d, "job-cycle"))
    assert "100%" in _row_text(driver, "job-gen")
    champions = driver.find_elements("css selector", "#models tr.champion")
    assert [r.text.split()[:2] for r in champions] == [["gnn_synergy", "v2"], ["pattern_detection", "v1"]]
    links = [a.get_attribute("href") for a in driver.find_elements("css selector", "#reports a")]
    assert links == [
        f"{fixture_service}/reports/html/run_demo-run.html",
        f"{fixture_service}/reports/html/cycle_1.html",
    ]
    assert severe(driver) == []
    # the screenshot shows a job mid-way: reload and catch it while its stream still runs
    driver.get(f"{fixture_service}/dashboard")
    wait.until(lambda d: "h0000" in _row_text(d, "job-cycle"))
    assert screenshot(driver, screenshots / "dashboard.png").stat().st_size > 5_000
