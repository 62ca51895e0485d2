"""The workbench in a real browser (headless Chromium, as tests/test_browser.py drives it).

Opens the page served by uvicorn on a free local port, moves the budget slider, forces a
converted site out by clicking it on the map, checks that the plan and the figures change,
saves two plans and compares them side by side. Screenshots go to ``out/browser-test/`` and,
when ``SITING_DOCS_SCREENSHOTS=1``, to ``docs/serve-*.png`` (the README's and docs/serve.md's).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import DEFAULT_SCENARIO, ROOT
from test_browser import LAUNCH_ARGS, SCREENSHOTS, chromium_path

pytest.importorskip("fastapi", reason="siting serve needs fastapi")
uvicorn = pytest.importorskip("uvicorn", reason="siting serve needs uvicorn")

from siting.data.catalogue import default_catalogue  # noqa: E402
from siting.data.scenario import load_scenario  # noqa: E402
from siting.serve import Edits, Workbench, create_app  # noqa: E402
from siting.serve.guard import served_hosts  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium found (/usr/bin/chromium): install Debian's 'chromium' package "
                    "(apt-get install chromium) to run the browser test; .ci/run does this in CI")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the 'playwright' Python package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    wb = Workbench(load_scenario(DEFAULT_SCENARIO))
    wb.solve(Edits())
    port = _free_port()
    app = create_app(wb, allowed_hosts=served_hosts("127.0.0.1", port),
                     out_dir=tmp_path_factory.mktemp("serve-browser") / "exports")
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(30)


def _count(page: Any, attr: str) -> int:
    return int(page.locator("body").get_attribute(attr) or 0)


def _wait(page: Any, done: Any, what: str, timeout_s: float = 60.0) -> None:
    """Poll from Python: the page's Content-Security-Policy forbids the eval of wait_for_function."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def _wait_for_plan(page: Any, shown: int, drawn: int) -> None:
    """Wait until a new plan is shown and drawn on the map."""
    _wait(page, lambda: _count(page, "data-plans-shown") > shown and _count(page, "data-maps-drawn") > drawn,
          "a new plan")


def _figures(page: Any) -> dict[str, str]:
    rows = page.locator("#groups tbody tr")
    return {rows.nth(i).get_attribute("data-group"): rows.nth(i).locator("td").nth(2).inner_text()
            for i in range(rows.count())}


def _save(page: Any, name: str) -> None:
    before = page.locator("#saved-plans li").count()
    page.fill("#plan-name", name)
    page.click("#save-plan")
    _wait(page, lambda: page.locator("#saved-plans li").count() > before, f"plan {name} saved", 10)


def test_workbench_in_chromium(browser: Any, server: str) -> None:
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:")) else None)
    page.goto(server)
    page.wait_for_selector("#map[data-ready='1']", timeout=20_000)
    _wait_for_plan(page, 0, 0)
    assert page.locator("#status").inner_text() == "optimal"
    # the default objective is a sum of shares (about 1.4): shown with its decimals, not rounded to 1
    assert re.search(r"Objective 目标\s*\d\.\d{2,4}\b", page.locator("#kpi").inner_text()), \
        page.locator("#kpi").inner_text()
    first_sites = page.locator(".site-marker").count()
    assert first_sites >= 1
    assert page.locator(".cand-marker").count() == len(pd.read_csv(ROOT / "data" / "jiangbei-yubei" / "sites.csv"))
    full = _figures(page)
    assert len(full) == len(load_scenario(DEFAULT_SCENARIO).catalogue.age_groups or default_catalogue().age_groups)
    _save(page, "full-budget")

    # the budget slider: 6 million instead of 12
    shown, drawn = _count(page, "data-plans-shown"), _count(page, "data-maps-drawn")
    page.locator("#budget-slider").fill("6000000")
    _wait_for_plan(page, shown, drawn)
    assert page.locator("#budget-input").input_value() == "6000000"
    assert "6,000,000" in page.locator("#kpi").inner_text()
    half = _figures(page)
    assert half != full and all(float(half[g].rstrip(" %")) <= float(full[g].rstrip(" %")) for g in full)
    assert page.locator("#diff").inner_text().startswith("Against the previous plan")
    page.wait_for_selector("#frontier-chart circle.point", timeout=120_000)  # the budget frontier beside the slider

    # click a converted site on the map and force it out
    site = page.locator(".site-marker").first.get_attribute("data-site")
    page.locator(f".site-marker[data-site='{site}']").click()
    assert site in page.locator("#site-panel").inner_text()
    shown, drawn = _count(page, "data-plans-shown"), _count(page, "data-maps-drawn")
    page.click("#force-out")
    _wait_for_plan(page, shown, drawn)
    assert page.locator(f".site-marker[data-site='{site}']").count() == 0
    assert re.search(rf"sites removed [^;]*\b{site}\b", page.locator("#diff").inner_text())
    assert "forced-out" in (page.locator(f".cand-marker[data-site='{site}']").get_attribute("class") or "")
    assert page.locator("#status").inner_text() in ("optimal", "feasible", "time_limit")
    _save(page, "lean")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#budget-slider").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "serve-workbench.png"))

    # compare the two saved plans: a table and both plans as map layers
    compared = _count(page, "data-compared")
    page.click("#compare")
    _wait(page, lambda: _count(page, "data-compared") > compared, "the comparison", 20)
    heads = page.locator("#compare-table thead th").all_inner_texts()
    assert heads == ["metric", "full-budget", "lean"]
    cost_row = page.locator("#compare-table tbody tr", has_text="cost")
    assert cost_row.count() >= 1
    assert page.locator("#compare-differences tbody tr").count() == 1
    page.wait_for_selector(".site-marker-1", timeout=20_000)
    page.wait_for_selector(".site-marker-2", timeout=20_000)
    page.locator("#compare-view").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "serve-compare.png"), full_page=True)
    assert not problems, problems
    assert not outside, f"the page fetched from elsewhere: {outside}"
    page.close()
    if os.environ.get("SITING_DOCS_SCREENSHOTS") == "1":
        for name in ("serve-workbench.png", "serve-compare.png"):
            shutil.copyfile(SCREENSHOTS / name, ROOT / "docs" / name)
    assert (SCREENSHOTS / "serve-workbench.png").stat().st_size > 50_000
    assert Path(SCREENSHOTS / "serve-compare.png").is_file()
