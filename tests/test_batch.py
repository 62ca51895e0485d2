"""City-wide batch: circles, the priced budget, its bound, and identical plans on a LocalCluster.

The independent truth for the price search is the whole city solved as one model: every
circle's covering model side by side with one shared budget row, solved by HiGHS directly.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import sparse
from shapely.geometry import box

import legacy_catalogue
from conftest import ROOT
from siting.city.batch import BatchResult, best_combination, run_batch
from siting.city.circle import PricedSolve, circle_task, prepare_circle, solve_circle
from siting.city.files import CircleOptions, load_city, split_city, weighted_kmeans
from siting.data.district import load_district
from siting.errors import InfeasibleError, ScenarioError, SitingError
from siting.execution import Executor
from siting.model.milp import MilpModel, Sense
from siting.model.priced import price_budget, with_budget
from siting.pipeline import catalogue_for
from siting.solvers import SolveOptions, Status, solve

SERVICES = ("health_station", "canteen", "elderly_day_care")
CENTRES = np.array([[500.0, 3500.0], [3500.0, 3500.0], [2000.0, 500.0]])


def write_city(folder: Path, *, budget: float = 2_600_000, seed: int = 1, **extra: object) -> Path:
    """Three far-apart neighbourhoods (x/y metres), each with its own idle sites; a city file."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n, m = 24, 5
    dxy = np.vstack([c + rng.normal(0, 260, (n, 2)) for c in CENTRES])
    pd.DataFrame({"id": [f"D{i}" for i in range(len(dxy))], "x": dxy[:, 0].round(1), "y": dxy[:, 1].round(1),
                  "children": rng.integers(0, 60, len(dxy)), "working": rng.integers(0, 200, len(dxy)),
                  "elderly": rng.integers(0, 90, len(dxy))}).to_csv(folder / "demand.csv", index=False)
    sxy = np.vstack([c + rng.normal(0, 300, (m, 2)) for c in CENTRES])
    area = rng.choice([250.0, 420.0, 700.0, 900.0], len(sxy))
    allowed = [";".join(s for s in SERVICES if rng.random() < 0.8) or SERVICES[0] for _ in range(len(sxy))]
    pd.DataFrame({"id": [f"S{j}" for j in range(len(sxy))], "name": [f"site {j}" for j in range(len(sxy))],
                  "x": sxy[:, 0].round(1), "y": sxy[:, 1].round(1), "floor_area_m2": area,
                  "retrofit_cost": np.round(area * rng.uniform(800, 1600, len(sxy)), -3),
                  "allowed": allowed}).to_csv(folder / "sites.csv", index=False)
    pd.DataFrame({"id": ["E0"], "service": ["canteen"], "x": [CENTRES[0, 0]], "y": [CENTRES[0, 1]]}).to_csv(
        folder / "existing.csv", index=False)
    city = {"name": "tiny-city", "data": {"demand": "demand.csv", "sites": "sites.csv", "existing": "existing.csv",
                                          "crs": "EPSG:32648"},
            "services": list(SERVICES), "budget": budget, "walking": {"mode": "euclidean", "detour": 1.3},
            "solver": {"mip_gap": 0.0, "time_limit_s": 30}, "circles": {"count": 3, "seed": 0},
            "pricing": {"gap": 0.0, "max_rounds": 14}, **legacy_catalogue.scenario_fields(SERVICES)}
    city.update(extra)
    path = folder / "city.yaml"
    path.write_text(yaml.safe_dump(city, allow_unicode=True), encoding="utf-8")
    return path


def exact_city_optimum(path: Path) -> float:
    """The city solved as one model: circles' covering models side by side, one shared budget row."""
    city = load_city(path)
    sc = city.scenario
    catalogue = catalogue_for(sc)
    district = load_district(sc, catalogue)
    circles = split_city(district, city.circles, city.source)
    models = [prepare_circle(circle_task(sc, catalogue, district, circles, c), "highs").covering.milp
              for c in range(len(circles))]
    rows = [m.row_blocks["budget"].start for m in models]
    A = sparse.vstack([sparse.block_diag([m.A for m in models], format="csr"),
                       sparse.hstack([m.A[r] for m, r in zip(models, rows, strict=True)])], format="csr")
    cat = np.concatenate
    upper = [np.where(np.arange(m.n_rows) == r, np.inf, m.row_upper) for m, r in zip(models, rows, strict=True)]
    whole = MilpModel("city", Sense.MAXIMIZE, cat([m.objective for m in models]), A,
                      cat([m.row_lower for m in models] + [[-np.inf]]), cat([*upper, [sc.budget]]),
                      cat([m.col_lower for m in models]), cat([m.col_upper for m in models]),
                      cat([m.integer for m in models]))
    result = solve(whole, "highs", SolveOptions(mip_gap=0.0, time_limit_s=120))
    assert result.status is Status.OPTIMAL
    return result.objective


@pytest.fixture(scope="module")
def city_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_city(tmp_path_factory.mktemp("city"))


@pytest.fixture(scope="module")
def sequential(city_path: Path) -> BatchResult:
    return run_batch(load_city(city_path), scheduler="sync")


# -- circles ---------------------------------------------------------------------------------------


def test_kmeans_finds_separated_neighbourhoods_and_repeats_itself() -> None:
    rng = np.random.default_rng(3)
    truth = np.repeat(np.arange(3), 40)
    xy = CENTRES[truth] + rng.normal(0, 150, (120, 2))
    w = rng.integers(1, 100, 120).astype(float)
    labels, centres = weighted_kmeans(xy, w, 3, seed=0)
    # the same partition as the generating neighbourhoods, whatever the numbering
    assert len({(a, b) for a, b in zip(truth, labels, strict=True)}) == 3
    for c in range(3):
        mask = labels == c
        assert np.allclose(centres[c], (xy[mask] * w[mask, None]).sum(0) / w[mask].sum())
    again, _ = weighted_kmeans(xy, w, 3, seed=0)
    assert np.array_equal(labels, again)


def test_clusters_are_numbered_north_west_first_and_sites_join_the_nearest(city_path: Path) -> None:
    city = load_city(city_path)
    district = load_district(city.scenario, catalogue_for(city.scenario))
    circles = split_city(district, city.circles, city.source)
    assert circles.ids == ("C1", "C2", "C3")
    assert np.allclose(circles.centres, CENTRES, atol=150)  # NW, NE, S
    expected = np.argmin(((district.sites.xy[:, None, :] - circles.centres[None]) ** 2).sum(-1), axis=1)
    assert np.array_equal(circles.sites, expected)


def test_boundaries_assign_buildings_and_sites_by_location(tmp_path: Path, city_path: Path) -> None:
    west, east = box(-1000, -1000, 2000, 5000), box(2000, 2000, 5000, 5000)  # the south-east is in neither
    gpd.GeoDataFrame({"name": ["West 西", "East 东"]}, geometry=[west, east], crs="EPSG:32648").to_file(
        tmp_path / "subdistricts.geojson", driver="GeoJSON")
    city = load_city(city_path)
    district = load_district(city.scenario, catalogue_for(city.scenario))
    options = CircleOptions(boundaries=tmp_path / "subdistricts.geojson", id_field="name")
    circles = split_city(district, options, city.source)
    assert circles.ids == ("West 西", "East 东")
    x, y = district.demand.xy.T
    inside_west = (x < 2000) & (y > -1000)
    inside_east = (x >= 2000) & (y >= 2000)
    assert (circles.demand[inside_west] == 0).all() and (circles.demand[inside_east] == 1).all()
    outside = ~(inside_west | inside_east)
    assert outside.any() and any("outside every boundary" in n for n in circles.notes)
    d_west = np.hypot(np.maximum(x[outside] - 2000, 0), 0)  # distance to the west box (east of it)
    d_east = np.hypot(np.maximum(2000 - x[outside], 0), np.maximum(2000 - y[outside], 0))
    assert np.array_equal(circles.demand[outside], (d_east < d_west).astype(int))


def test_a_city_file_with_boundaries_plans_each_polygon(tmp_path: Path) -> None:
    path = write_city(tmp_path, circles={"boundaries": "areas/subdistricts.gpkg", "id_field": "name"},
                      budget=1e9)
    (tmp_path / "areas").mkdir()
    halves = [box(-2000, 2000, 2000, 6000), box(2000, 2000, 6000, 6000), box(-2000, -2000, 6000, 2000)]
    gpd.GeoDataFrame({"name": ["north-west", "north-east", "south"]}, geometry=halves, crs="EPSG:32648").to_file(
        tmp_path / "areas" / "subdistricts.gpkg", layer="subdistricts", driver="GPKG")
    city = load_city(path)
    assert city.circles.boundaries == (tmp_path / "areas" / "subdistricts.gpkg").resolve()
    result = run_batch(city, scheduler="sync")
    assert result.circles.ids == ("north-west", "north-east", "south")
    assert result.objective == pytest.approx(exact_city_optimum(path))  # the budget buys everything


def test_city_file_mistakes_are_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"field 'circles\.cuont': unknown field"):
        load_city(write_city(tmp_path / "a", circles={"cuont": 3}))
    with pytest.raises(ScenarioError, match="either 'boundaries' or 'count'"):
        load_city(write_city(tmp_path / "b", circles={"count": 3, "boundaries": "x.gpkg"}))
    with pytest.raises(ScenarioError, match=r"field 'pricing\.gap'"):
        load_city(write_city(tmp_path / "c", pricing={"gap": 2}))
    with pytest.raises(ScenarioError, match=r"field 'objective\.kind'.*fairness"):
        load_city(write_city(tmp_path / "d", objective={"kind": "fairness"}))


def test_a_circle_that_cannot_meet_its_requirements_is_named(tmp_path: Path) -> None:
    path = write_city(tmp_path, requirements={"min_sites": {"health_station": 5}})  # 5 sites per circle
    with pytest.raises(SitingError, match=r"life circle C\d.*min_sites\.health_station") as info:
        run_batch(load_city(path), scheduler="sync")
    assert "C1" in str(info.value) and "C3" in str(info.value)  # every circle at fault is listed


def test_city_budget_below_the_forced_sites_is_refused(tmp_path: Path) -> None:
    sites = pd.read_csv(write_city(tmp_path).parent / "sites.csv")
    forced = sites.nlargest(3, "retrofit_cost")
    path = write_city(tmp_path, budget=float(forced["retrofit_cost"].sum() - 1),
                      requirements={"force_in": forced["id"].tolist()})
    with pytest.raises(InfeasibleError, match=r"force_in.*more than the city budget"):
        run_batch(load_city(path), scheduler="sync")


# -- the priced budget -----------------------------------------------------------------------------


def test_lagrangian_bound_is_never_below_the_city_optimum(city_path: Path, sequential: BatchResult) -> None:
    optimum = exact_city_optimum(city_path)
    for r in sequential.rounds:
        if r.kind == "priced":
            assert r.bound >= optimum - 1e-6, r
    assert sequential.objective <= optimum + 1e-6 <= sequential.bound + 2e-6
    assert sequential.cost <= sequential.budget
    assert sequential.gap == pytest.approx((sequential.bound - sequential.objective) / sequential.objective)


def test_price_zero_without_a_budget_is_the_most_coverage_money_can_buy(city_path: Path) -> None:
    city = load_city(city_path)
    sc = city.scenario
    catalogue = catalogue_for(sc)
    district = load_district(sc, catalogue)
    circles = split_city(district, city.circles, city.source)
    model = prepare_circle(circle_task(sc, catalogue, district, circles, 0), "highs")
    free = solve_circle(model, 0.0)
    total_cost = float(district.sites.retrofit_cost.sum() + 1e9)
    unlimited = solve(price_budget(model.covering, 0.0).milp, "highs", SolveOptions(mip_gap=0.0))
    rich = solve(with_budget(model.covering, total_cost).milp, "highs", SolveOptions(mip_gap=0.0))
    assert free.coverage == pytest.approx(unlimited.objective) == pytest.approx(rich.objective)
    high = solve_circle(model, 10.0)  # a price no conversion is worth
    assert high.cost == 0 and high.coverage == 0


def test_plan_parts_add_up(sequential: BatchResult) -> None:
    assert sum(p.objective for p in sequential.plans) == pytest.approx(sequential.objective)
    assert sum(p.cost for p in sequential.plans) == pytest.approx(sequential.cost)
    assert sum(len(p.assignments) for p in sequential.plans) > 0
    assert [p.circle for p in sequential.plans] == list(sequential.circles.ids)


def test_a_budget_that_buys_everything_is_solved_in_one_round(tmp_path: Path) -> None:
    path = write_city(tmp_path, budget=1e9)
    result = run_batch(load_city(path), scheduler="sync")
    assert len(result.rounds) == 1 and result.status is Status.OPTIMAL
    assert result.objective == pytest.approx(exact_city_optimum(path))


def test_best_combination_fits_and_beats_every_round_that_fits() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        n_circles, n_rounds = 3, 4
        found = [[PricedSolve(f"C{c}", r, 0.0, np.inf, np.zeros((0, 1), bool), float(cov), float(cost), 0, 0,
                              Status.OPTIMAL, 0.0)
                  for r, (cov, cost) in enumerate(zip(rng.integers(0, 100, n_rounds), rng.integers(0, 50, n_rounds),
                                                      strict=True))]
                 for c in range(n_circles)]
        budget = float(rng.integers(20, 120))
        if not any(sum(found[c][r].cost for c in range(n_circles)) <= budget for r in range(n_rounds)):
            continue
        chosen = best_combination(found, budget)
        assert [s.circle for s in chosen] == [f"C{c}" for c in range(n_circles)]
        assert sum(s.cost for s in chosen) <= budget
        value = sum(s.coverage for s in chosen)
        best_round = max(sum(found[c][r].coverage for c in range(n_circles)) for r in range(n_rounds)
                         if sum(found[c][r].cost for c in range(n_circles)) <= budget)
        brute = max(sum(s.coverage for s in combo) for combo in itertools.product(*found)
                    if sum(s.cost for s in combo) <= budget)
        assert best_round <= value <= brute


# -- on a cluster ----------------------------------------------------------------------------------


def test_city_batch_on_two_workers_equals_the_sequential_run(city_path: Path, sequential: BatchResult,
                                                              local_cluster: Executor) -> None:
    parallel = run_batch(load_city(city_path), executor=local_cluster)
    assert (parallel.objective, parallel.bound, parallel.cost) == (sequential.objective, sequential.bound,
                                                                  sequential.cost)
    def rounds(result: BatchResult) -> list[str]:  # repr: nan (top-up rounds) equals itself
        return [repr((r.kind, r.price, r.cost, r.coverage, r.bound, r.fits)) for r in result.rounds]

    assert rounds(parallel) == rounds(sequential)
    for a, b in zip(parallel.plans, sequential.plans, strict=True):
        assert a.circle == b.circle and np.array_equal(a.hosts, b.hosts)
        assert a.assignments.equals(b.assignments) and a.coverage.equals(b.coverage)
    assert "2 local worker processes" in parallel.executor


# -- command line ----------------------------------------------------------------------------------


def siting(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "siting.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_batch_command_writes_a_combined_plan(city_path: Path, sequential: BatchResult, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = siting("batch", str(city_path), "--out", str(out), "--scheduler", "sync")
    assert proc.returncode == 0, proc.stderr
    for name in ("plan.csv", "plan.gpkg", "circles.csv", "coverage.csv", "coverage_by_circle.csv", "pricing.csv",
                 "summary.json", "map.png", "report.html"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["objective"] == pytest.approx(sequential.objective)
    assert summary["bound"] == pytest.approx(sequential.bound)
    plan = pd.read_csv(out / "plan.csv")
    assert plan["cost"].sum() == pytest.approx(summary["cost"], abs=1.0) and summary["cost"] <= summary["budget"]
    assert set(plan["circle"]) <= {"C1", "C2", "C3"}
    cov = pd.read_csv(out / "coverage.csv")
    assert (cov["covered_after"] - cov["covered_before"]).sum() == pytest.approx(summary["objective"])
    circles = pd.read_csv(out / "circles.csv")
    assert circles["new_coverage"].sum() == pytest.approx(summary["objective"])
    assert len(pd.read_csv(out / "pricing.csv")) == summary["rounds"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert all(site in html for site in plan["site_id"])
    assert gpd.read_file(out / "plan.gpkg", layer="demand")["circle"].nunique() == 3


def test_example_city_file_runs() -> None:
    result = run_batch(load_city(ROOT / "cities" / "jiangbei-4-circles.yaml"), scheduler="sync")
    assert len(result.circles) == 4 and result.cost <= result.budget
    assert result.objective <= result.bound and result.gap < 0.05


def test_batch_command_answers_mistakes_with_exit_2(tmp_path: Path) -> None:
    bad = write_city(tmp_path / "bad", circles={"count": 3, "sede": 1})
    proc = siting("batch", str(bad), "--scheduler", "lokal", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "circles.sede" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
