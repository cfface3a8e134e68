"""Regenerate `docs/screenshots/{report,dashboard}.png` from a real run's workspace.

Every number in the screenshots is one a real run produced: run `make run` first (it writes `workspace/`),
then `make screenshots` (or `python benchmarks/screenshots.py --workspace workspace`). The script writes
the workspace's latest run report (`homesim report`), opens it in headless Chromium and screenshots it,
then serves the workspace with the API (`homesim serve`, in a thread) and screenshots its dashboard, which
lists that run's models and reports. The browser code is `tests/test_browser.py`'s.

Exit status 2 (one line on stderr) when the workspace has no run.
"""

from __future__ import annotations

import argparse
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import uvicorn  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from homesim.api.app import create_app  # noqa: E402
from homesim.reports.report import write_report  # noqa: E402
from homesim.workspace import Workspace  # noqa: E402
from test_browser import CHROMEDRIVER, CHROMIUM, WAIT_S, open_chromium, screenshot, severe, wait_for_report  # noqa: E402

NAMES = ("report.png", "dashboard.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workspace", type=Path, default=ROOT / "workspace", help="a `make run` workspace")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    workspace = Workspace(args.workspace.resolve())
    if not workspace.latest_run_file.is_file():
        print(
            f"no run in {workspace.root} ({workspace.latest_run_file} missing): run `make run` first",
            file=sys.stderr,
        )
        return 2
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        print(
            f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)", file=sys.stderr
        )
        return 2
    out: Path = args.out.resolve()
    report = write_report(workspace)
    browser = open_chromium(CHROMIUM, Path(tempfile.mkdtemp(prefix="homesim-chromium-")))
    try:
        plots = wait_for_report(browser, report)
        screenshot(browser, out / "report.png")
        print(f"{out / 'report.png'}: {report} ({plots} plots)")
        with _serving(workspace) as (url, token):
            browser.get(f"{url}/login#{token}")  # signs in (a session cookie), then opens /dashboard
            # The page says "updated" after its first list loads; a run's workspace has plots, models
            # and reports, so wait for those too (the first draw of the plots takes seconds).
            WebDriverWait(browser, WAIT_S).until(
                lambda d: (
                    d.find_element("id", "status").text.startswith("updated")
                    and d.find_elements("css selector", "#models tbody tr")
                    and d.find_elements("css selector", "#reports li")
                    and d.execute_script(
                        "const imgs = Array.from(document.querySelectorAll('#plots img'));"
                        "return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);"
                    )
                )
            )
            screenshot(browser, out / "dashboard.png")
            print(f"{out / 'dashboard.png'}: {url}/dashboard over {workspace.root}")
        problems = severe(browser)
    finally:
        browser.quit()
    if problems:
        print(f"the pages logged errors: {problems}", file=sys.stderr)
        return 1
    return 0


@contextmanager
def _serving(workspace: Workspace) -> Iterator[tuple[str, str]]:
    """The API over `workspace` on a free local port, in a daemon thread, for as long as the block runs;
    its URL and token."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    token = secrets.token_urlsafe(32)
    app = create_app(workspace, token=token, executor="inline")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if not server.started:
            raise RuntimeError(f"the API did not start within {WAIT_S} s")
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(10)


if __name__ == "__main__":
    sys.exit(main())
