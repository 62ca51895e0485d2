"""The Lagrangian bound of budgeted covering: valid for any prices, and close to the LP bound once converged.

Truths: the brute-force optimum of tiny random problems (every plan enumerated), and the LP
bound of the whole pattern model on HiGHS.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from siting.model.instance import covering_instance
from siting.model.patterns import pattern_milp, site_patterns
from siting.model.reduce import reduce_instance
from siting.optimizer.lagrangian import CoveringLagrangian, lagrangian_bound
from siting.solvers import SolveOptions, Status, solve
from test_optimizer import bds_like, brute_force, one_service_problem, random_problem

OPTS = SolveOptions(time_limit_s=60, mip_gap=0.0)


def _lp_bound(instance):  # type: ignore[no-untyped-def]
    pm = pattern_milp(instance)
    assert pm is not None
    milp = replace(pm.covering.milp, integer=np.zeros_like(pm.covering.milp.integer))
    return solve(milp, "highs", OPTS)


@pytest.mark.parametrize("seed", range(40))
def test_any_prices_bound_the_brute_force_optimum(seed: int) -> None:
    problem = random_problem(seed, m=2 + seed % 4, services=1 + seed % 3)
    expected = brute_force(problem)
    if expected is None:
        return
    instance = reduce_instance(covering_instance(*problem))
    patterns = site_patterns(instance)
    rng = np.random.default_rng(seed)
    for lg in (CoveringLagrangian(instance, patterns), CoveringLagrangian(instance, None)):
        for mu in (lg.w, np.zeros_like(lg.w), rng.uniform(0, 1, lg.w.size) * lg.w):
            value, lam, _x = lg.bound(mu)
            assert lam >= 0
            assert value >= expected - 1e-6, (seed, mu)


@pytest.mark.parametrize("seed", range(20))
def test_the_volume_algorithm_bounds_the_optimum_from_above_the_lp(seed: int) -> None:
    problem = random_problem(seed, m=2 + seed % 4, services=1 + seed % 3, requirements=False)
    expected = brute_force(problem)
    assert expected is not None
    instance = reduce_instance(covering_instance(*problem))
    report = lagrangian_bound(instance, site_patterns(instance), target=expected,
                              deadline=time.perf_counter() + 2.0)
    assert report.bound >= expected - 1e-6
    if instance.n_cols == 0 or instance.n_rows == 0:  # nothing to relax: the model is empty
        return
    lp = _lp_bound(instance)
    assert lp.status is Status.OPTIMAL
    # never below the LP bound (it is the LP of a relaxation with fewer rows), never below the optimum
    assert report.bound >= lp.objective - 1e-6 * max(1.0, lp.objective)


@pytest.mark.parametrize("seed", range(4))
def test_the_volume_algorithm_converges_near_the_lp_bound(seed: int) -> None:
    problem = bds_like(seed, n=2000, m=40, budget=6, radius=0.2)
    instance = reduce_instance(covering_instance(*problem))
    lp = _lp_bound(instance)
    report = lagrangian_bound(instance, site_patterns(instance), target=0.9 * lp.objective,
                              deadline=time.perf_counter() + 10.0)
    assert lp.objective - 1e-6 <= report.bound <= lp.objective * 1.005, (report.bound, lp.objective)
    assert report.average is not None and report.average.shape == (instance.n_cols,)


@pytest.mark.parametrize("fit_out", [0.0, 0.5])
def test_a_hand_case_converges_to_its_optimum(fit_out: float) -> None:
    """By hand: weights 5, 3, 2, 7, 1, 4; site 0 reaches residents {0, 1} (8), site 1 {1, 2, 3} (12),
    site 2 {3, 4, 5} (12); money for one site. The best plan covers 12, and so does the LP (half
    of sites 1 and 2 also gives 12), so the prices must bring the bound down to 12."""
    reach = np.zeros((6, 3), dtype=bool)
    reach[[0, 1], 0] = reach[[1, 2, 3], 1] = reach[[3, 4, 5], 2] = True
    coverage, sites, rules = one_service_problem(reach, [5, 3, 2, 7, 1, 4], np.ones(3), 1.0 + fit_out)
    rules = replace(rules, service_fitout=np.array([fit_out]))
    instance = covering_instance(coverage, sites, rules, merge=False)
    assert instance.n_cols == 3
    report = lagrangian_bound(instance, site_patterns(instance), target=12.0, deadline=time.perf_counter() + 2.0)
    assert 12.0 - 1e-6 <= report.bound <= 12.0 * 1.01
