"""The optimizer against independent truth: brute-force enumeration and the plain MIP.

Random tiny problems are built directly as coverage matrices (many services, age groups,
existing facilities, floor areas, fit-out costs, minimum / maximum numbers of sites, sites
forced in or out), and every plan is enumerated from the matrices alone, without siting's
model code. Every method of :func:`siting.optimizer.covering.optimize_covering` must reach that optimum,
its bound must not undercut it, and the heuristics must stay feasible and below it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from siting.coverage import Coverage
from siting.model.covering import plain_covering_model
from siting.model.instance import covering_instance
from siting.model.patterns import pattern_milp
from siting.model.reduce import reduce_instance
from siting.model.rules import PlanningRules, SiteData
from siting.optimizer.bounds import knapsack_bound
from siting.optimizer.covering import optimize_covering
from siting.optimizer.heuristics import greedy, local_search
from siting.optimizer.lns import LnsReport, SiteOverlap, lns
from siting.solvers import SolveOptions, Status, solve
from siting.solvers.highs import HighsBackend

Problem = tuple[Coverage, SiteData, PlanningRules]


def random_problem(seed: int, *, n: int = 10, m: int = 4, services: int = 3, groups: int = 2,
                   requirements: bool = True) -> Problem:
    """A tiny random covering problem, as the optimizer's inputs."""
    rng = np.random.default_rng(seed)
    pairs = []
    for s in range(services):
        served = [g for g in range(groups) if rng.random() < 0.7] or [int(rng.integers(groups))]
        pairs += [(s, g) for g in served]
    reach = tuple(sparse.csr_matrix(rng.random((n, m)) < rng.uniform(0.15, 0.6)) for _ in pairs)
    baseline = tuple(rng.random(n) < 0.15 for _ in pairs)
    population = rng.integers(0, 40, (n, groups)).astype(float)
    coverage = Coverage(tuple(f"s{s}" for s in range(services)), tuple(f"g{g}" for g in range(groups)),
                        tuple(pairs), reach, baseline, population, tuple(300.0 for _ in pairs))
    area = rng.choice([100.0, 200.0, 300.0, 500.0], m)
    cost = rng.integers(1, 10, m).astype(float)
    allowed = rng.random((m, services)) < 0.8
    sites = SiteData(area, cost, allowed)
    service_area = rng.choice([50.0, 100.0, 150.0, 250.0], services)
    fitout = rng.choice([0.0, 0.0, 1.0, 2.0], services)
    min_sites = np.zeros(services, dtype=np.int64)
    max_sites = np.full(services, -1, dtype=np.int64)
    force_in = np.zeros(m, dtype=bool)
    force_out = np.zeros(m, dtype=bool)
    if requirements:
        if rng.random() < 0.3:
            min_sites[rng.integers(services)] = 1
        if rng.random() < 0.3:
            max_sites[rng.integers(services)] = int(rng.integers(0, 2))
        if rng.random() < 0.2:
            force_in[rng.integers(m)] = True
        if rng.random() < 0.2:
            force_out[rng.integers(m)] = True
            force_out &= ~force_in
    rules = PlanningRules(budget=float(rng.uniform(0.2, 0.7) * (cost.sum() + fitout.sum() * m)),
                          service_area=service_area, service_fitout=fitout,
                          service_weight=rng.choice([0.5, 1.0, 2.0], services),
                          group_weight=rng.choice([1.0, 1.5], groups), min_sites=min_sites, max_sites=max_sites,
                          force_in=force_in, force_out=force_out)
    return coverage, sites, rules


def one_service_problem(reach: np.ndarray, population: object, cost: np.ndarray, budget: float, *,
                        max_sites: int = -1) -> Problem:
    """One service, one age group, every site allowed and large enough: residents × sites ``reach``."""
    n, m = reach.shape
    coverage = Coverage(("s",), ("g",), ((0, 0),), (sparse.csr_matrix(reach, dtype=bool),), (np.zeros(n, dtype=bool),),
                        np.asarray(population, dtype=float).reshape(n, 1), (300.0,))
    sites = SiteData(np.ones(m), np.asarray(cost, dtype=float), np.ones((m, 1), dtype=bool))
    rules = PlanningRules(budget=budget, service_area=np.zeros(1), service_fitout=np.zeros(1),
                          service_weight=np.ones(1), group_weight=np.ones(1), min_sites=np.zeros(1, dtype=np.int64),
                          max_sites=np.array([max_sites]), force_in=np.zeros(m, dtype=bool),
                          force_out=np.zeros(m, dtype=bool))
    return coverage, sites, rules


def brute_force(problem: Problem) -> float | None:
    """Best weighted new coverage over every plan, from the matrices alone (None if no plan is feasible).

    Every subset of the allowed (site, service) pairs is a row of a 0/1 matrix; costs, floor
    areas, counts and coverage of all of them are computed at once.
    """
    coverage, sites, rules = problem
    m, S = sites.allowed.shape
    options = [(j, s) for j in range(m) for s in range(S)
               if sites.allowed[j, s] and not rules.force_out[j] and rules.service_area[s] <= sites.floor_area[j]]
    P = len(options)
    plans = ((np.arange(2**P)[:, None] >> np.arange(P)[None, :]) & 1).astype(bool)  # plans × options
    hosts = np.zeros((2**P, m, S), dtype=bool)
    for i, (j, s) in enumerate(options):
        hosts[:, j, s] = plans[:, i]
    used = hosts.any(axis=2) | rules.force_in[None, :]
    cost = used @ sites.retrofit_cost + (hosts * rules.service_fitout).sum(axis=(1, 2))
    area = hosts @ rules.service_area
    count = hosts.sum(axis=1)
    ok = ((cost <= rules.budget + 1e-9) & (area <= sites.floor_area + 1e-9).all(axis=1)
          & (count >= rules.min_sites).all(axis=1) & ((rules.max_sites < 0) | (count <= rules.max_sites)).all(axis=1))
    if not ok.any():
        return None
    value = np.zeros(2**P)
    for p, (s, g) in enumerate(coverage.pairs):
        reached = (hosts[:, :, s].astype(float) @ coverage.reach[p].toarray().T.astype(float)) > 0  # plans × demand
        new = reached & ~coverage.baseline[p][None, :]
        value += rules.service_weight[s] * rules.group_weight[g] * (new @ coverage.population[:, g])
    return float(value[ok].max())


OPTS = SolveOptions(time_limit_s=60, mip_gap=0.0)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@settings(SETTINGS, max_examples=200)
@given(seed=st.integers(0, 10**6), m=st.integers(2, 5), services=st.integers(1, 3))
def test_every_method_reaches_the_brute_force_optimum(seed: int, m: int, services: int) -> None:
    problem = random_problem(seed, m=m, services=services)
    expected = brute_force(problem)
    for method in ("direct", "benders", "kernel", "lagrangian"):
        sol = optimize_covering(*problem, options=OPTS, method=method)
        r = sol.result
        if expected is None:
            assert r.status is Status.INFEASIBLE, method
            continue
        assert r.status is Status.OPTIMAL, (method, r)
        assert r.objective == pytest.approx(expected, abs=1e-6), method
        assert r.bound >= expected - 1e-6, method
        instance = covering_instance(*problem)
        assert not instance.violation(instance.columns_of(sol.hosts)), method


@SETTINGS
@given(seed=st.integers(0, 10**6))
def test_heuristics_are_feasible_and_never_beat_the_optimum(seed: int) -> None:
    problem = random_problem(seed, m=4, services=3, requirements=False)
    expected = brute_force(problem)
    instance = covering_instance(*problem)
    x = greedy(instance)
    assert x is not None and not instance.violation(x)
    improved = local_search(instance, x)
    assert not instance.violation(improved)
    assert instance.value(x) <= instance.value(improved) + 1e-9 <= (expected or 0.0) + 1e-6
    assert knapsack_bound(instance) >= (expected or 0.0) - 1e-6


@SETTINGS
@given(seed=st.integers(0, 10**6))
def test_reductions_and_patterns_keep_the_optimum(seed: int) -> None:
    problem = random_problem(seed, m=4, services=3)
    expected = brute_force(problem)
    full = covering_instance(*problem, merge=False)
    reduced = reduce_instance(covering_instance(*problem))
    assert reduced.n_rows <= full.n_rows
    pm = pattern_milp(reduced)
    assert pm is not None
    r = solve(pm.covering.milp, "highs", OPTS)
    if expected is None:
        assert r.status is Status.INFEASIBLE
        return
    assert r.objective == pytest.approx(expected, abs=1e-6)
    # the pattern formulation's LP bound is never weaker than the floor-area formulation's
    lp = solve(_relaxed(pm.covering.milp), "highs", OPTS)
    lp_area = solve(_relaxed(plain_covering_model(*problem).milp), "highs", OPTS)
    assert expected - 1e-6 <= lp.objective <= lp_area.objective + 1e-6


def _relaxed(milp):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(milp, integer=np.zeros_like(milp.integer))


def bds_like(seed: int, n: int = 400, m: int = 12, budget: int = 4, radius: float = 0.3) -> Problem:
    """A small instance shaped like Cordeau et al.'s: random points, unit costs, budget = sites."""
    rng = np.random.default_rng(seed)
    cus, fac = rng.random((n, 2)), rng.random((m, 2))
    reach = sparse.csr_matrix(np.hypot(*(cus[:, None, :] - fac[None, :, :]).transpose(2, 0, 1)) <= radius)
    coverage = Coverage(("cover",), ("customers",), ((0, 0),), (reach,), (np.zeros(n, dtype=bool),),
                        rng.integers(1, 100, (n, 1)).astype(float), (radius,))
    sites = SiteData(np.ones(m), np.ones(m), np.ones((m, 1), dtype=bool))
    rules = PlanningRules(float(budget), np.zeros(1), np.zeros(1), np.ones(1), np.ones(1), np.zeros(1, dtype=np.int64),
                          np.full(1, -1, dtype=np.int64), np.zeros(m, dtype=bool), np.zeros(m, dtype=bool))
    return coverage, sites, rules


@pytest.mark.parametrize("seed", range(8))
def test_benders_equals_the_plain_mip_on_bds_like_instances(seed: int) -> None:
    problem = bds_like(seed, budget=2 + seed % 4)
    plain = solve(plain_covering_model(*problem).milp, "highs", OPTS)
    sol = optimize_covering(*problem, options=OPTS, method="benders")
    assert plain.status is Status.OPTIMAL and sol.result.status is Status.OPTIMAL
    assert sol.result.objective == pytest.approx(plain.objective, rel=1e-9)
    assert sol.result.bound >= plain.objective - 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_auto_bounds_large_districts_with_the_lagrangian_and_reaches_the_plain_optimum(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from siting.optimizer import covering

    monkeypatch.setattr(covering, "LAGRANGIAN_MIN_COLUMNS", 30)  # "large" from 30 columns on
    monkeypatch.setattr(covering, "DIRECT_MAX_NONZEROS", 0)
    monkeypatch.setattr(covering, "BENDERS_MAX_COLUMNS", 0)
    problem = bds_like(seed, n=3000, m=40, budget=5, radius=0.15)
    instance = reduce_instance(covering_instance(*problem))
    assert covering.choose_method(instance, "highs") == "lagrangian"
    coverage, sites, rules = problem  # a limit on the number of sites is not priced: the Benders LP bounds it
    capped = reduce_instance(covering_instance(coverage, sites, replace(rules, max_sites=np.array([5]))))
    assert covering.choose_method(capped, "highs") == "kernel"
    # below the size, a time limit short for the model's size also takes the Lagrangian
    monkeypatch.setattr(covering, "LAGRANGIAN_MIN_COLUMNS", 10**9)
    hurried = covering.LAGRANGIAN_SECONDS_PER_MILLION * (instance.cover.nnz + instance.n_rows) / 1e6
    assert covering.choose_method(instance, "highs", 0.9 * hurried) == "lagrangian"
    assert covering.choose_method(instance, "highs", 1.1 * hurried) == "kernel"
    monkeypatch.setattr(covering, "LAGRANGIAN_MIN_COLUMNS", 30)
    plain = solve(plain_covering_model(*problem).milp, "highs", OPTS)
    sol = optimize_covering(*problem, options=OPTS)
    assert sol.result.solver.endswith("method lagrangian")
    assert sol.result.status is Status.OPTIMAL and plain.status is Status.OPTIMAL
    assert sol.result.objective == pytest.approx(plain.objective, rel=1e-9)
    assert sol.result.bound >= plain.objective - 1e-6


@pytest.mark.parametrize("method", ["benders", "lagrangian"])
def test_a_time_limit_returns_a_plan_with_a_finite_gap(method: str) -> None:
    problem = bds_like(3, n=30000, m=400, budget=30, radius=0.08)
    t0 = time.perf_counter()
    sol = optimize_covering(*problem, options=SolveOptions(time_limit_s=1.0, mip_gap=0.0), method=method)
    assert time.perf_counter() - t0 < 1.0 + 4.0  # the limit holds (the build is inside it)
    r = sol.result
    assert r.status is Status.TIME_LIMIT
    assert r.solution is not None and sol.hosts.any()
    assert np.isfinite(r.gap) and r.bound >= r.objective
    assert r.objective >= sol.greedy_objective


def test_greedy_without_a_budget_limit_places_the_allowed_number_of_sites() -> None:
    """Free sites and no budget (maximal covering with p sites): gain per yuan must not vanish.

    By hand: weights 5, 3, 2, 7; site 0 reaches residents {0, 1}, site 1 {1, 2, 3}, site 2 {3};
    p = 2. Greedy opens site 1 (3 + 2 + 7 = 12), then site 0 (+5): 17, which is also optimal.
    """
    reach = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1]], dtype=bool)
    coverage, sites, rules = one_service_problem(reach, [5.0, 3.0, 2.0, 7.0], np.zeros(3), float("inf"), max_sites=2)
    inst = reduce_instance(covering_instance(coverage, sites, rules))
    x = greedy(inst)
    assert x is not None and inst.value(x) == 17.0
    sol = optimize_covering(coverage, sites, rules, options=OPTS)
    assert sol.greedy_objective == 17.0
    assert sol.result.status is Status.OPTIMAL and sol.result.objective == 17.0
    assert sorted(np.flatnonzero(sol.hosts[:, 0]).tolist()) == [0, 1]


@SETTINGS
@given(seed=st.integers(0, 10**6))
def test_neighbourhood_search_reaches_and_proves_the_brute_force_optimum(seed: int) -> None:
    """Neighbourhoods grow until one holds every site: that subproblem is the whole instance, its optimum a proof."""
    problem = random_problem(seed, m=5, services=3, requirements=False)
    expected = brute_force(problem)
    instance = covering_instance(*problem)
    x = greedy(instance)
    assert x is not None and expected is not None
    report = LnsReport()
    best = lns(instance, x, time_limit_s=30.0, size=1, far_open=0, report=report)
    assert not instance.violation(best)
    assert instance.value(best) == pytest.approx(expected, abs=1e-6)
    assert report.proven_bound == pytest.approx(expected, abs=1e-6)


def test_neighbourhood_search_gives_up_the_whole_instance_once_it_runs_out_of_time(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A whole-instance subproblem that hits its time limit is not tried again: the time goes to
    neighbourhoods (retrying it took most of the search time on the district instance).

    Two neighbourhoods of five sites that share no resident: a neighbourhood never holds every
    site, so every whole-instance subproblem comes from the size having grown to all sites.
    """
    rng = np.random.default_rng(4)
    block = [rng.random((20, 5)) < 0.4 for _ in range(2)]
    population = rng.integers(1, 20, 40).astype(float)
    instance = covering_instance(*one_service_problem(sparse.block_diag(block).toarray(), population,
                                                      rng.integers(1, 5, 10).astype(float), 8.0))
    original = HighsBackend.solve
    whole_tries: list[int] = []

    def whole_times_out(self, model, options):  # type: ignore[no-untyped-def]
        result = original(self, model, options)
        if model.col_blocks["x"].stop == instance.n_cols:  # every column free: the whole instance
            whole_tries.append(1)
            return replace(result, status=Status.TIME_LIMIT)
        return result

    monkeypatch.setattr(HighsBackend, "solve", whole_times_out)
    x = greedy(instance)
    assert x is not None
    report = LnsReport()
    best = lns(instance, x, time_limit_s=2.0, size=10, far_open=0, report=report)
    assert report.rounds > 20  # the size grew back to every site many times over
    assert len(whole_tries) == 1
    assert not np.isfinite(report.proven_bound)
    assert instance.value(best) >= instance.value(x) and not instance.violation(best)


def test_a_search_that_runs_to_its_deadline_says_time_limit(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The neighbourhood search runs until a little before its deadline (its own margin) unless it
    proves the plan; an answer not proven by then is ``time_limit``, not ``feasible``.

    The search is replaced by one that keeps to that contract and finds nothing (so the run is
    the same every time), and the whole-model finish is switched off so the search runs last.
    """
    import siting.optimizer.covering as optimize_module

    def search_finding_nothing(instance, x, *, time_limit_s, **_kw):  # type: ignore[no-untyped-def]
        time.sleep(max(time_limit_s - min(0.5, 0.05 * time_limit_s), 0.0))
        return x

    monkeypatch.setattr(optimize_module, "lns", search_finding_nothing)
    monkeypatch.setattr(optimize_module, "FINISH_MAX_NONZEROS", 0)
    problem = bds_like(3, n=30000, m=400, budget=30, radius=0.08)
    sol = optimize_covering(*problem, options=SolveOptions(time_limit_s=12.0, mip_gap=0.0), method="kernel")
    r = sol.result
    assert sol.timings.get("lns", 0.0) > 0  # the search over the whole instance ran last
    assert r.gap > 0
    assert r.status is Status.TIME_LIMIT, r
    assert sol.timings["total"] <= 12.0


@SETTINGS
@given(seed=st.integers(0, 10**6))
def test_site_overlap_rows_equal_the_dense_product(seed: int) -> None:
    """Each overlap row, computed on demand, equals the row of the dense sites × sites product."""
    instance = covering_instance(*random_problem(seed, n=30, m=6, services=3))
    dense = instance.cover.toarray().astype(float)  # rows × columns
    reach = np.zeros((instance.n_rows, instance.n_sites))
    for k, site in enumerate(instance.x_site):
        reach[:, site] = np.maximum(reach[:, site], dense[:, k])
    expected = reach.T @ (instance.weight[:, None] * reach)
    overlap = SiteOverlap(instance)
    for site in range(instance.n_sites):
        indices, shared = overlap.row(site)
        row = np.zeros(instance.n_sites)
        row[indices] = shared
        np.testing.assert_allclose(row, expected[site], rtol=1e-12, atol=1e-9)
