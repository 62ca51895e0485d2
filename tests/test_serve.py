"""The what-if workbench (``siting serve``) through FastAPI's test client: every endpoint, bad requests
(422), the Host, Origin and size checks, the export path checks, cancellation of superseded edits,
time limits and crashes; and the independent truths under it: an edit viewed on the workbench's one
preparation gives the coverage and the optimum of ``siting run`` on the edited scenario.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from conftest import DEFAULT_SCENARIO

pytest.importorskip("fastapi", reason="siting serve needs fastapi (a dependency of siting)")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx (a dev dependency)")

from fastapi.testclient import TestClient

from siting.data.overrides import apply_overrides
from siting.data.scenario import load_scenario
from siting.pipeline import prepare, run_scenario, solve_prepared
from siting.serve import Edits, Workbench, create_app
from siting.serve.guard import served_hosts
from siting.serve.views import edited_preparation
from test_cli import siting

HOST = "testserver"


@pytest.fixture(scope="module")
def scenario() -> Any:
    return load_scenario(DEFAULT_SCENARIO)


@pytest.fixture(scope="module")
def bench(scenario: Any) -> Workbench:
    wb = Workbench(scenario)
    first = wb.solve(Edits())
    assert first["status"] == "optimal", first
    return wb


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workbench-out") / "exports"


@pytest.fixture(scope="module")
def client(bench: Workbench, out_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(bench, allowed_hosts={HOST}, out_dir=out_dir)) as c:
        yield c


def fresh_client(scenario: Any, tmp_path: Path, **kwargs: Any) -> tuple[Workbench, TestClient]:
    wb = Workbench(scenario, **kwargs)
    return wb, TestClient(create_app(wb, allowed_hosts={HOST}, out_dir=tmp_path / "exports"))


# -- the page and what is loaded ------------------------------------------------------------------

def test_page_static_files_and_openapi(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "workbench.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path in ("/static/report/leaflet/leaflet.js", "/static/report/leaflet/leaflet.css",
                 "/static/report/report.css", "/static/serve/workbench.js", "/static/serve/workbench.css"):
        assert client.get(path).status_code == 200, path
    assert client.get("/static/serve/../../../pyproject.toml").status_code == 404
    spec = client.get("/openapi.json").json()
    for path in ("/api/scenario", "/api/solve", "/api/status", "/api/plan", "/api/plans", "/api/compare",
                 "/api/map/{name}", "/api/frontier", "/api/export/{name}", "/api/export/{name}/{file}"):
        assert path in spec["paths"], path
    body = spec["components"]["schemas"]["Edits"]["properties"]
    assert {"budget", "force_in", "force_out", "weights", "services", "walk_limit_scale"} <= set(body)
    assert client.get("/docs").status_code == 404  # Swagger UI would load its scripts from a CDN


def test_scenario_lists_what_is_loaded(client: TestClient, bench: Workbench) -> None:
    info = client.get("/api/scenario").json()
    cat = bench.base.catalogue
    assert [s["id"] for s in info["sites"]] == [str(i) for i in bench.base.district.sites.ids]
    assert [s["key"] for s in info["services"]] == list(cat.service_keys)  # from the catalogue, not a fixed list
    assert [g["key"] for g in info["age_groups"]] == list(cat.group_keys)
    assert info["settings"]["budget"] == 12_000_000 and info["budget_max"] == 24_000_000
    assert len(info["map"]["demand"]["id"]) == len(bench.base.district.demand)
    assert len(info["map"]["candidates"]) == len(info["sites"])


# -- solving ----------------------------------------------------------------------------------------

def test_solve_returns_the_plan_and_what_changed(client: TestClient, bench: Workbench, scenario: Any) -> None:
    before = client.get("/api/plan").json()
    r = client.post("/api/solve", json={"budget": 8_000_000})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "optimal" and body["current"] and body["budget"] == 8_000_000
    assert body["cost"] <= 8_000_000 + 1e-6 and body["gap"] <= scenario.solver.mip_gap + 1e-9
    assert body["objective"] <= body["bound"] + 1e-6
    assert body["warm_start"] is True  # the previous plan was offered as a start
    # the same edit solved cold through the pipeline: the same proven optimum
    cold = run_scenario(apply_overrides(scenario, {"budget": 8_000_000})).plan
    assert body["objective"] == pytest.approx(cold.objective, rel=2 * scenario.solver.mip_gap)
    pairs = {(p["site"], p["service"]) for p in body["plan"]}
    assert len(pairs) == len(body["plan"]) == body["services_placed"]
    diff = body["diff"]
    old_sites = {p["site"] for p in before["plan"]}
    new_sites = {p["site"] for p in body["plan"]}
    assert set(diff["sites_added"]) == new_sites - old_sites and set(diff["sites_removed"]) == old_sites - new_sites
    assert diff["cost"]["change"] == pytest.approx(body["cost"] - before["cost"])
    groups = {g["age_group"]: g for g in body["coverage_by_age_group"]}
    assert set(groups) == set(bench.group_keys)
    for c in diff["coverage"]:  # coverage per age group: before is the previous plan's share
        prev = next(g for g in before["coverage_by_age_group"] if g["age_group"] == c["age_group"])
        assert c["before"] == pytest.approx(prev["share_after"]) and c["after"] == pytest.approx(
            groups[c["age_group"]]["share_after"])
    assert any(c["change"] < 0 for c in diff["coverage"])  # a third less budget covers less
    # ranked options: every option of the plan, best first
    assert {(o["site"], o["service"]) for o in body["options"]} == pairs
    only = [o["only_here"] for o in body["options"]]
    assert only == sorted(only, reverse=True)
    assert client.get("/api/plan").json()["objective"] == body["objective"]


def test_force_out_and_site_services(client: TestClient) -> None:
    base = client.post("/api/solve", json={}).json()
    site = base["options"][0]["site"]  # the option worth most to the plan
    out = client.post("/api/solve", json={"force_out": [site]}).json()
    assert out["status"] == "optimal" and site not in {p["site"] for p in out["plan"]}
    assert site in out["diff"]["sites_removed"] and out["objective"] < base["objective"]
    hosted = sorted({p["service"] for p in base["plan"] if p["site"] == site})
    keep = hosted[:1]
    only = client.post("/api/solve", json={"site_services": {site: keep}}).json()
    assert {p["service"] for p in only["plan"] if p["site"] == site} <= set(keep)
    forced = client.post("/api/solve", json={"force_in": ["S01"], "force_out": []}).json()
    assert "S01" in {p["site"] for p in forced["plan"]} or forced["cost"] > 0


def test_weights_services_and_walk_scale(client: TestClient, bench: Workbench) -> None:
    services = bench.service_keys[:3]
    r = client.post("/api/solve", json={"services": services}).json()
    assert r["status"] == "optimal"
    assert {p["service"] for p in r["plan"]} <= set(services)
    assert {c["service"] for c in r["coverage"]} == set(services)
    group = bench.group_keys[-1]
    heavy = client.post("/api/solve", json={"weights": {"age_groups": {group: 3.0}}}).json()
    plain = client.post("/api/solve", json={}).json()
    share = {g["age_group"]: g["share_after"] for g in heavy["coverage_by_age_group"]}
    plain_share = {g["age_group"]: g["share_after"] for g in plain["coverage_by_age_group"]}
    assert share[group] >= plain_share[group] - 1e-9  # weighting a group never covers it less
    short = client.post("/api/solve", json={"walk_limit_scale": 0.7}).json()
    assert short["status"] == "optimal"
    assert sum(g["covered_before"] for g in short["coverage_by_age_group"]) < sum(
        g["covered_before"] for g in plain["coverage_by_age_group"])


@pytest.mark.parametrize("edit", [
    {"walk_limit_scale": 0.8, "budget": 9_000_000},
    {"services": ["canteen", "health_station", "elderly_day_care"], "walk_limit_scale": 1.2},
    {"site_services": {"W01": ["canteen"]}, "force_out": ["D01"], "weights": {"services": {"canteen": 2.0}}},
])
def test_an_edit_viewed_on_the_one_preparation_is_the_edited_scenario(bench: Workbench, scenario: Any,
                                                                      edit: dict[str, Any]) -> None:
    """Independent truth: ``prepare`` of the edited scenario from its files, walked at its own cutoff."""
    edited = bench.edited_scenario(Edits.model_validate(edit))
    view = edited_preparation(bench.base, edited)
    fresh = prepare(edited)
    assert view.catalogue.service_keys == fresh.catalogue.service_keys
    assert view.coverage.pairs == fresh.coverage.pairs
    for a, b in zip(view.coverage.reach, fresh.coverage.reach, strict=True):
        assert (a != b).nnz == 0
    for a, b in zip(view.coverage.baseline, fresh.coverage.baseline, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(view.district.sites.allowed, fresh.district.sites.allowed)
    assert solve_prepared(view).objective == pytest.approx(solve_prepared(fresh).objective,
                                                           rel=2 * scenario.solver.mip_gap)


# -- bad requests: 422 with the field and the fix --------------------------------------------------

@pytest.mark.parametrize(("body", "loc", "fix"), [
    ({"budget": -5}, ["body", "budget"], "above 0"),
    ({"budget": "lots"}, ["body", "budget"], "number"),
    ({"budgett": 1e6}, ["body", "budgett"], "remove the field"),
    ({"force_in": "W01"}, ["body", "force_in"], "list"),
    ({"force_in": ["NOPE"]}, ["body", "force_in", 0], "use one of"),
    ({"force_in": ["W01"], "force_out": ["W01"]}, ["body", "force_out"], "remove it from one"),
    ({"services": ["canteen", "teleporter"]}, ["body", "services", 1], "use one of"),
    ({"services": []}, ["body", "services"], "at least one"),
    ({"weights": {"age_groups": {"martians": 1}}}, ["body", "weights", "age_groups", "martians"], "use one of"),
    ({"weights": {"age_groups": {"elderly": -1}}}, ["body", "weights", "age_groups"], "correct"),
    ({"walk_limit_scale": 3.0}, ["body", "walk_limit_scale"], "--max-walk-scale"),
    ({"walk_limit_scale": 0}, ["body", "walk_limit_scale"], "above 0"),
    ({"site_services": {"NOPE": ["canteen"]}}, ["body", "site_services", "NOPE"], "site id"),
])
def test_bad_edits_get_422_naming_the_field_and_the_fix(client: TestClient, body: dict[str, Any], loc: list[Any],
                                                         fix: str) -> None:
    plan_before = client.get("/api/plan").json()["objective"]
    r = client.post("/api/solve", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    hit = [d for d in detail if d["loc"] == loc]
    assert hit, detail
    assert fix in hit[0]["fix"], hit[0]
    assert client.get("/api/plan").json()["objective"] == plan_before  # nothing was solved


def test_malformed_json_gets_422(client: TestClient) -> None:
    r = client.post("/api/solve", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["fix"]


# -- safety: Host, Origin, size, paths -------------------------------------------------------------

def test_host_header_must_be_the_served_address(client: TestClient) -> None:
    r = client.get("/api/scenario", headers={"host": "evil.example:8765"})
    assert r.status_code == 400 and "evil.example" in r.json()["detail"]
    assert client.post("/api/solve", json={}, headers={"host": "127.0.0.1.nip.io:8765"}).status_code == 400
    assert client.get("/", headers={"host": HOST}).status_code == 200


def test_served_hosts_of_loopback_and_other_addresses() -> None:
    local = served_hosts("127.0.0.1", 8765)
    assert {"127.0.0.1:8765", "localhost:8765"} <= local
    assert "evil.example:8765" not in local and "localhost:8766" not in local
    assert served_hosts("192.0.2.7", 9000) == {"192.0.2.7:9000"}
    assert "planner.local:9000" in served_hosts("192.0.2.7", 9000, ["planner.local"])


def test_changes_from_another_origin_are_refused(client: TestClient) -> None:
    r = client.post("/api/solve", json={}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    assert client.post("/api/plans", json={"name": "x"}, headers={"origin": "http://evil.example"}).status_code == 403
    assert client.get("/api/plans", headers={"origin": "http://evil.example"}).status_code == 200  # reading is harmless
    assert client.post("/api/solve", json={}, headers={"origin": f"http://{HOST}"}).status_code == 200


def test_request_size_is_capped(client: TestClient) -> None:
    big = {"force_out": ["W01"] * 20_000}
    r = client.post("/api/solve", json=big)
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while the body streams in
        yield b'{"force_out": ['
        for _ in range(20_000):
            yield b'"W01",'
        yield b'"W01"]}'

    r = client.post("/api/solve", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_saved_plans_compare_map_and_export(client: TestClient, out_dir: Path, scenario: Any) -> None:
    client.post("/api/solve", json={"budget": 12_000_000})
    assert client.post("/api/plans", json={"name": "full"}).json()["name"] == "full"
    client.post("/api/solve", json={"budget": 6_000_000, "force_out": ["W01"]})
    saved = client.post("/api/plans", json={"name": "half-budget"}).json()
    assert saved["replaced"] is False and saved["budget"] == 6_000_000
    listed = client.get("/api/plans").json()["plans"]
    assert [p["name"] for p in listed] == ["full", "half-budget"]
    cmp = client.get("/api/compare", params={"names": ["full", "half-budget"]}).json()
    assert cmp["names"] == ["full", "half-budget"]
    cost = next(r for r in cmp["table"] if r["metric"].startswith("cost"))
    assert cost["full"] > cost["half-budget"]
    assert cmp["differences"][0]["scenario_a"] == "full"
    assert client.get("/api/compare", params={"names": ["full", "nope"]}).status_code == 404
    layer = client.get("/api/map/half-budget").json()
    assert "W01" not in {s["id"] for s in layer["sites"]}
    assert set(layer["after"]) >= {"all"}
    assert client.get("/api/map/nope").status_code == 404
    # export: the usual outputs and a scenario file that reproduces the plan with `siting run`
    r = client.get("/api/export/half-budget")
    assert r.status_code == 200, r.text
    files = r.json()["files"]
    assert {"plan.csv", "coverage.csv", "report.html", "summary.json", "scenario.yaml"} <= set(files)
    folder = out_dir / "half-budget"
    assert folder.is_dir() and folder.resolve().parent == out_dir.resolve()
    assert client.get("/api/export/half-budget/plan.csv").text.startswith("site_id,")
    exported = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
    assert exported["budget"] == 6_000_000 and exported["requirements"]["force_out"] == ["W01"]
    again = siting("run", str(folder / "scenario.yaml"), "--no-analysis", "--out", str(folder.parent / "rerun"))
    assert again.returncode == 0, again.stderr
    import json

    rerun = json.loads((folder.parent / "rerun" / "summary.json").read_text())
    ours = json.loads((folder / "summary.json").read_text())
    assert rerun["objective"] == pytest.approx(ours["objective"], rel=2 * scenario.solver.mip_gap)
    assert rerun["budget"] == ours["budget"]


@pytest.mark.parametrize("path", [
    "/api/export/..", "/api/export/%2e%2e", "/api/export/..%2F..%2Ftmp", "/api/export/.hidden",
    "/api/export/a%2Fb", "/api/export/%2Fetc", "/api/export/full/..%2F..%2Fpyproject.toml",
    "/api/export/full/.siting-output", "/api/export/full/nope.csv", "/api/export/..%2Ffull/plan.csv",
])
def test_no_request_path_leaves_the_output_folder(client: TestClient, path: str, out_dir: Path) -> None:
    client.post("/api/solve", json={})
    client.post("/api/plans", json={"name": "full"})
    r = client.get(path)
    assert r.status_code in (404, 422), (path, r.status_code, r.text)
    assert not (out_dir.parent / "tmp").exists()
    assert not any(p.name.startswith(".") and p.is_dir() for p in out_dir.parent.iterdir())


def test_bad_plan_names_get_422(client: TestClient) -> None:
    for name in ("", "../up", "a/b", "a b", ".x", "x" * 65, "current"):
        r = client.post("/api/plans", json={"name": name})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"], name


def test_status_and_frontier(client: TestClient) -> None:
    client.post("/api/solve", json={})
    status = client.get("/api/status").json()
    assert status["state"] in ("idle", "frontier") and status["waiting"] == 0
    first = client.get("/api/frontier").json()
    assert len(first["budgets"]) == 8
    deadline = time.monotonic() + 120
    body = first
    while body["state"] != "ready" and time.monotonic() < deadline:
        time.sleep(0.5)
        body = client.get("/api/frontier").json()
    assert body["state"] == "ready"
    points = body["points"]
    assert [p["budget"] for p in points] == first["budgets"]
    shares = [p["share_all"] for p in points]
    assert shares == sorted(shares)  # more budget never covers less (each point proven optimal)
    at_12m = next(p for p in points if p["budget"] == 12_000_000)
    assert at_12m["objective"] == pytest.approx(client.get("/api/plan").json()["objective"], rel=1e-3)


# -- one solve at a time: newer edits win, crashes and time limits keep a plan -----------------------

def test_a_superseded_edit_is_cancelled_or_discarded(scenario: Any, tmp_path: Path) -> None:
    wb, client = fresh_client(scenario, tmp_path)
    wb.solve(Edits())
    first_objective = wb.current.plan.objective if wb.current else None
    gate, started = threading.Event(), threading.Event()
    real = wb.solve_fn

    def slow(*args: Any, **kwargs: Any) -> Any:
        if not gate.is_set():
            started.set()
            assert gate.wait(30)
        return real(*args, **kwargs)

    wb.solve_fn = slow
    answers: dict[str, Any] = {}

    def post(key: str, body: dict[str, Any]) -> None:
        answers[key] = client.post("/api/solve", json=body)

    with client:
        a = threading.Thread(target=post, args=("a", {"budget": 5_000_000}))
        a.start()
        assert started.wait(10)
        assert client.get("/api/status").json()["state"] == "solving"  # the page stays responsive
        b = threading.Thread(target=post, args=("b", {"budget": 6_000_000}))
        b.start()
        while client.get("/api/status").json()["waiting"] < 1:
            time.sleep(0.01)
        c = threading.Thread(target=post, args=("c", {"budget": 7_000_000}))
        c.start()
        while client.get("/api/status").json()["waiting"] < 2:
            time.sleep(0.01)
        gate.set()
        for t in (a, b, c):
            t.join(60)
    assert answers["a"].json()["status"] == "superseded"  # solved, then discarded
    assert answers["b"].json()["status"] == "cancelled"  # never solved
    final = answers["c"].json()
    assert final["status"] == "optimal" and final["budget"] == 7_000_000
    assert wb.current is not None and wb.current.plan.budget == 7_000_000
    assert wb.previous is not None and wb.previous.plan.objective == first_objective  # 5 and 6 million never current
    assert final["diff"]["cost"]["before"] == pytest.approx(wb.previous.plan.cost)


def test_a_crash_reports_an_error_and_keeps_the_plan(scenario: Any, tmp_path: Path) -> None:
    wb, client = fresh_client(scenario, tmp_path)
    wb.solve(Edits())
    kept = client.get("/api/plan").json()

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("HiGHS fell over")

    wb.solve_fn = crash
    r = client.post("/api/solve", json={"budget": 5_000_000})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "error" and "HiGHS fell over" in body["message"] and body["kept_previous_plan"]
    assert client.get("/api/plan").json()["objective"] == kept["objective"]
    wb.solve_fn = solve_prepared
    infeasible = client.post("/api/solve", json={"budget": 100_000, "force_in": ["W01", "M01"]}).json()
    assert infeasible["status"] == "infeasible" and "budget" in infeasible["message"]
    assert client.get("/api/plan").json()["objective"] == kept["objective"]


def test_a_solve_at_its_time_limit_returns_its_best_plan_and_gap(tmp_path: Path, write_tiny: Any) -> None:
    sc = load_scenario(DEFAULT_SCENARIO)
    _wb, client = fresh_client(sc, tmp_path, time_limit_s=0.05)
    body = client.post("/api/solve", json={"budget": 9_000_000}).json()
    assert body["status"] == "time_limit", body.get("message")
    assert body["current"] and body["plan"] and body["cost"] <= 9_000_000 + 1e-6
    assert body["gap"] is not None and body["gap"] > 0 and body["bound"] >= body["objective"]


def test_warm_start_keeps_the_start_when_time_runs_out(scenario: Any) -> None:
    from siting.model.rules import SiteData
    from siting.optimizer.covering import optimize_covering
    from siting.solvers import SolveOptions

    p = prepare(scenario)
    best = solve_prepared(p)
    sites = SiteData.of(p.district.sites)
    rushed = optimize_covering(p.coverage, sites, p.rules, options=SolveOptions(time_limit_s=0.02),
                               start=best.hosts)
    assert rushed.result.objective >= best.objective - 1e-6  # never below the plan it started from
    cold = optimize_covering(p.coverage, sites, p.rules, options=SolveOptions(time_limit_s=0.02))
    assert cold.result.objective <= rushed.result.objective + 1e-6


# -- the command ------------------------------------------------------------------------------------

def _serve_process(tmp_path: Path, *args: str) -> tuple[Any, list[str]]:
    import subprocess
    import sys

    from conftest import ROOT

    proc = subprocess.Popen([sys.executable, "-m", "siting.cli", "serve", *args, "--out", str(tmp_path / "out")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if "Workbench at" in line:
            return proc, lines
    proc.kill()
    raise AssertionError("siting serve did not start:\n" + "\n".join(lines))


def _get_when_listening(url: str, wait_s: float = 60.0) -> Any:
    """GET ``url``, retrying while the server is still binding its socket (it prints its address just before)."""
    import httpx

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return httpx.get(url, timeout=30)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_siting_serve_prints_its_address_and_warns_off_loopback(tmp_path: Path, host: str) -> None:
    import httpx

    port = _free_port()
    proc, lines = _serve_process(tmp_path, str(DEFAULT_SCENARIO), "--host", host, "--port", str(port))
    try:
        text = "\n".join(lines)
        assert "status optimal" in text
        assert f"http://{'localhost' if host == '127.0.0.1' else host}:{port}/" in text
        assert ("warning" in text) == (host != "127.0.0.1")
        ok = _get_when_listening(f"http://127.0.0.1:{port}/api/status")
        assert ok.status_code == 200 and ok.json()["state"] in ("idle", "frontier")
        rebound = httpx.get(f"http://127.0.0.1:{port}/api/status", headers={"host": f"attacker.example:{port}"},
                            timeout=30)
        assert rebound.status_code == 400
    finally:
        proc.terminate()
        proc.wait(30)
