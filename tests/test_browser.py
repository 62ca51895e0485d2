"""The report in a real browser (headless Chromium): map with the chosen sites, tables, chart, escaping.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` Python package (a dev
dependency; its own browser download is never used). Skips with a clear message where no
Chromium is installed. The screenshot is saved to ``out/browser-test/report.png``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from conftest import DEFAULT_SCENARIO, ROOT
from test_cli import siting

XSS = "<script>alert(1)</script>"
SCREENSHOTS = ROOT / "out" / "browser-test"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    """Debian's Chromium, or the one named by SITING_CHROMIUM."""
    for candidate in (os.environ.get("SITING_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


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
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default district, one chosen site renamed to a script, with a light analysis."""
    folder = tmp_path_factory.mktemp("browser")
    data = ROOT / "data" / "jiangbei-yubei"
    sites = pd.read_csv(data / "sites.csv")
    sites.loc[sites["id"] == "S14", "name"] = XSS  # S14 is in the plan at 8 million yuan
    sites.to_csv(folder / "sites.csv", index=False)
    raw = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    raw["data"] = {**raw["data"], "sites": str(folder / "sites.csv")}
    for key in ("demand", "existing"):
        raw["data"][key] = str(data / Path(raw["data"][key]).name)
    raw["data"]["network"] = {k: str(data / Path(v).name) for k, v in raw["data"]["network"].items()}
    raw["budget"] = 8_000_000
    raw["analysis"] = {"robustness_samples": 2, "frontier": [0.5, 1.5], "alternatives": 5}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    out = folder / "out"
    proc = siting("run", str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_report_in_chromium(browser: Any, report: Path) -> None:
    plan = pd.read_csv(report / "plan.csv")
    assert XSS in set(plan["site_name"]), "the renamed site must be in the plan for this test"
    ranking = pd.read_csv(report / "ranking.csv")
    frontier = pd.read_csv(report / "frontier.csv")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.goto((report / "report.html").as_uri())
    page.wait_for_selector("#map[data-ready='1']", timeout=20_000)

    # the map shows every converted site as a marker, and the reach areas and streets as vector layers
    assert page.locator(".site-marker").count() == plan["site_id"].nunique()
    assert page.locator(".existing-marker").count() == 5
    assert page.locator("#map path.reach-area").count() == len(plan)  # one reach area per (site, service)
    assert page.locator("#map canvas").count() >= 1  # demand points and streets (canvas)
    # the script in a site name is text: in the plan table, in the ranking, and in the marker's popup
    cells = page.locator("#plan td", has_text="alert(1)")
    assert cells.count() >= 1 and cells.first.inner_text() == XSS
    assert page.locator("#ranking td", has_text="alert(1)").first.inner_text() == XSS
    page.locator(".site-marker[data-site='S14']").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    assert XSS in popup.inner_text()
    page.keyboard.press("Escape")
    # the ranking table lists every option and sorts by a column when its header is clicked
    rows = page.locator("#ranking tbody tr")
    assert rows.count() == len(ranking)
    page.locator("#ranking thead th", has_text="Cost").first.click()
    first_cost = float(rows.first.locator("td").nth(4).get_attribute("data-sort"))
    assert first_cost == pytest.approx(ranking["cost"].min(), abs=0.01)
    # the frontier chart: one point per budget and series (all ages + six age bands)
    assert page.locator("#frontier-chart circle.point").count() == 7 * len(frontier)
    # the compliance matrix: one row per community, one cell per basic service, before → after
    compliance = pd.read_csv(report / "compliance.csv")
    basic = compliance.loc[compliance["category"] == "basic", "service"].nunique()
    matrix = page.locator("#compliance-matrix tbody tr")
    assert matrix.count() == compliance["community"].nunique() == 8
    assert matrix.first.locator("td").count() == 1 + basic
    assert "→" in matrix.first.locator("td").nth(1).inner_text()
    assert page.locator("#synthetic").inner_text().startswith("示例数据")
    assert page.locator("#coverage tbody tr").count() == len(pd.read_csv(report / "coverage.csv"))

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#map").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
    page.locator("#map").screenshot(path=str(SCREENSHOTS / "map.png"))
    assert (SCREENSHOTS / "report.png").stat().st_size > 50_000
    assert not problems, problems
    assert not requests, f"the report fetched from the network: {requests}"
    page.close()
    (SCREENSHOTS / "checked.json").write_text(json.dumps({"sites": int(plan["site_id"].nunique())}))
