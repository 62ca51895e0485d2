"""Every backend against brute force on random tiny instances, and against each other."""

from __future__ import annotations

import time

import numpy as np
import pytest
from benchmarks.pmedian import build_pmedian_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting.data.scenario import load_scenario
from siting.model.covering import build_covering_model
from siting.model.rules import SiteData
from siting.optimizer.covering import optimize_covering
from siting.pipeline import prepare
from siting.solvers import SolveOptions, Status, available_solvers, backend_names, solve
from tiny_models import plans, random_tiny, weighted_new

BACKENDS = ["highs", "pulp-highs", "pulp-cbc", "ortools-cpsat", "ortools-scip"]
EXACT = SolveOptions(time_limit_s=30, mip_gap=0.0)


def test_every_backend_is_known_and_installed() -> None:
    assert backend_names() == sorted(BACKENDS)
    assert set(available_solvers()) == set(BACKENDS)


def brute_best(seed: int) -> float | None:
    t = random_tiny(seed)
    values = [weighted_new(t, hosts) for hosts, _cost in plans(t)]
    return max(values) if values else None


def check_backend(seed: int, backend: str) -> None:
    t = random_tiny(seed)
    expected = brute_best(seed)
    sol = optimize_covering(t.coverage, t.sites, t.rules, backend=backend, options=EXACT)
    if expected is None:
        assert sol.result.status is Status.INFEASIBLE
        return
    assert sol.result.status is Status.OPTIMAL, sol.result.message
    assert sol.result.objective == pytest.approx(expected, abs=1e-6)
    assert sol.result.bound == pytest.approx(expected, abs=1e-6)
    assert sol.result.gap == pytest.approx(0.0, abs=1e-9)
    # the plan itself delivers the optimum (independent recount)
    assert weighted_new(t, sol.hosts) == pytest.approx(expected, abs=1e-6)


seeds = st.integers(min_value=0, max_value=2**32 - 1)
quiet = [HealthCheck.too_slow]


@settings(max_examples=200, deadline=None, suppress_health_check=quiet, derandomize=True)
@given(seed=seeds)
def test_highs_equals_brute_force(seed: int) -> None:
    check_backend(seed, "highs")


@pytest.mark.parametrize("backend", ["pulp-highs", "pulp-cbc", "ortools-cpsat", "ortools-scip"])
@settings(max_examples=25, deadline=None, suppress_health_check=quiet, derandomize=True)
@given(seed=seeds)
def test_other_backends_equal_brute_force(backend: str, seed: int) -> None:
    check_backend(seed, backend)


@pytest.fixture(scope="module")
def default_model():
    p = prepare(load_scenario())
    s = p.district.sites
    return build_covering_model(p.coverage, SiteData(s.floor_area, s.retrofit_cost, s.allowed), p.rules)


def test_all_backends_agree_on_the_default_scenario(default_model) -> None:
    results = {b: solve(default_model.milp, b, SolveOptions(time_limit_s=120, mip_gap=0.0)) for b in BACKENDS}
    reference = results["highs"].objective
    for b, r in results.items():
        assert r.status is Status.OPTIMAL, (b, r.message)
        assert r.objective == pytest.approx(reference, rel=1e-9), b
        assert r.bound == pytest.approx(reference, rel=1e-6), b
        assert default_model.milp.violation(r.solution) < 1e-6, b


def test_warm_start_is_accepted_by_every_backend(default_model) -> None:
    first = solve(default_model.milp, "highs", SolveOptions(mip_gap=0.0))
    for b in BACKENDS:
        r = solve(default_model.milp, b, SolveOptions(mip_gap=0.0, warm_start=first.solution, time_limit_s=120))
        assert r.status is Status.OPTIMAL and r.objective == pytest.approx(first.objective, rel=1e-9), b


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_limit_returns_best_plan_with_its_gap(backend: str) -> None:
    rng = np.random.default_rng(3)
    n = 120
    xy = rng.uniform(0, 1000, (n, 2))
    cost = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)).round(1)
    demand = rng.integers(5, 30, n).astype(float)
    model = build_pmedian_model(cost, 8, capacity=np.full(n, demand.sum() / 7.2), demand=demand)
    limit = 1.0
    t0 = time.perf_counter()
    r = solve(model.milp, backend, SolveOptions(time_limit_s=limit, mip_gap=0.0))
    elapsed = time.perf_counter() - t0
    assert r.status is Status.TIME_LIMIT, (r.status, r.message)
    assert elapsed < limit + 10.0  # translation for the PuLP backends included
    if r.has_solution:
        assert model.milp.violation(r.solution) < 1e-6
        assert r.gap > 0 and r.bound <= r.objective + 1e-6
    else:
        assert np.isnan(r.objective) and r.gap == float("inf")


@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_model_says_so(backend: str) -> None:
    cost = np.ones((3, 2))
    model = build_pmedian_model(cost, 2, capacity=np.array([1.0, 1.0]), demand=np.array([1.0, 1.0, 1.0]))
    r = solve(model.milp, backend, EXACT)
    assert r.status is Status.INFEASIBLE and r.solution is None
