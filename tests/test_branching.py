"""Branch and bound over the cutting planes' master LP, against brute force (both senses)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np
import pytest

import siting.optimizer.radius as radius_mod
from siting.locate import p_median
from siting.model.milp import Sense
from siting.model.rules import PlanningRules, SiteData
from siting.model.structure import cover_rows, site_columns, weighted_row_values
from siting.optimizer.branching import TreeReport, branch_and_cut
from siting.optimizer.cutting import CoverCuts, CuttingPlanes
from siting.optimizer.formulations import master_for
from siting.optimizer.radius import counts_only
from siting.solvers.base import Status
from tiny_models import plans, random_tiny


def _brute_median(c: np.ndarray, w: np.ndarray, p: int) -> float:
    return min(float(w @ c[:, list(s)].min(axis=1)) for s in itertools.combinations(range(c.shape[1]), p))


def test_the_tree_proves_the_p_median_optimum_the_heuristics_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Greedy only (no swaps), random costs: the plan to beat is not always optimal, the LP bound is below."""
    trees: list[tuple[float, TreeReport]] = []

    def recorded(*args: Any, **kwargs: Any) -> TreeReport:
        out = branch_and_cut(*args, **kwargs)
        trees.append((float(kwargs["incumbent"]), out))
        return out

    monkeypatch.setattr(radius_mod, "branch_and_cut", recorded)
    monkeypatch.setattr(radius_mod, "swap_search", lambda entries, cols, hosts, *a, **k: hosts)
    improved = branched = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        c = rng.uniform(0, 100, (40, 20))
        w = rng.integers(1, 9, 40).astype(float)
        p = int(rng.integers(3, 6))
        best = _brute_median(c, w, p)
        before = len(trees)
        r = p_median(c, w, p=p, time_limit_s=60, mip_gap=1e-9)
        assert r.status is Status.OPTIMAL
        assert r.objective == pytest.approx(best, rel=1e-9)
        assert r.bound == pytest.approx(best, rel=1e-7)
        if len(trees) > before:
            incumbent, tree = trees[-1]
            assert tree.closed and tree.open_nodes == 0
            assert tree.best == pytest.approx(best, rel=1e-9)
            branched += tree.nodes > 1
            improved += incumbent > best + 1e-6
    assert branched >= 5  # the instances need the tree
    assert improved >= 1  # and the tree found a better plan than the greedy's at least once


@pytest.mark.parametrize("seed", range(12))
def test_the_tree_maximises_coverage_to_the_brute_force_optimum(seed: int) -> None:
    """One ``θ`` per coverage row: the master is the coverage problem itself; the tree closes it."""
    t = random_tiny(seed)
    cols = site_columns(t.sites, t.rules)
    rows = cover_rows(t.coverage, cols)
    if cols.n_pairs == 0 or rows.n_rows == 0:
        return
    w = weighted_row_values(t.coverage, t.rules, rows)
    H = rows.n_rows
    planes = CuttingPlanes(master_for(cols, t.sites, t.rules, Sense.MAXIMIZE, H),
                           [(CoverCuts(rows.R, w, np.arange(H), H), 0)])
    feasible = [h for h, _c in plans(t)]
    report = planes.lp(start=None, deadline=1e18, tolerance=1e-9)
    if not feasible:
        assert report.infeasible
        return

    def value(x: np.ndarray) -> float:
        return float(w @ np.minimum(rows.R @ x, 1.0))

    best = max(value(h[cols.x_site, cols.x_service].astype(float)) for h in feasible)
    assert report.bound >= best - 1e-6  # the root LP bound holds
    found: list[float] = []
    tree = branch_and_cut(planes, incumbent=-np.inf, deadline=1e18, gap=0.0,
                          value_of=lambda x: found.append(value(x)) or found[-1])
    assert tree.closed
    assert tree.best == pytest.approx(best, abs=1e-6)
    assert tree.bound == pytest.approx(best, abs=1e-6)
    assert max(found) == pytest.approx(best, abs=1e-6)


def test_counts_only_tells_a_binding_budget_or_floor_area() -> None:
    """Two sites, two services: 100 m² and 60 m² services, conversions 10 + 5 yuan per service."""
    sites = SiteData(floor_area=np.array([200.0, 120.0]), retrofit_cost=np.array([10.0, 10.0]),
                     allowed=np.ones((2, 2), dtype=bool))

    def rules(budget: float, area: tuple[float, float]) -> PlanningRules:
        return PlanningRules(budget=budget, service_area=np.array(area), service_fitout=np.array([5.0, 5.0]),
                             service_weight=np.ones(2), group_weight=np.ones(1), min_sites=np.zeros(2, np.int64),
                             max_sites=np.full(2, -1, np.int64), force_in=np.zeros(2, bool),
                             force_out=np.zeros(2, bool))

    allowed = sites.allowed
    assert counts_only(allowed, sites, rules(np.inf, (60.0, 60.0)))  # 120 m² fit both sites
    assert counts_only(allowed, sites, rules(40.0, (60.0, 60.0)))  # everything costs 2 × 10 + 4 × 5 = 40
    assert not counts_only(allowed, sites, rules(39.0, (60.0, 60.0)))
    assert not counts_only(allowed, sites, rules(np.inf, (100.0, 60.0)))  # 160 m² > 120 m² at site 2
    assert counts_only(allowed & np.array([[True, True], [False, True]]), sites, rules(np.inf, (100.0, 60.0)))


def test_the_tree_stops_at_the_time_limit_with_its_plan_and_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    trees: list[TreeReport] = []

    def recorded(*args: Any, **kwargs: Any) -> TreeReport:
        trees.append(branch_and_cut(*args, **kwargs))
        return trees[-1]

    monkeypatch.setattr(radius_mod, "branch_and_cut", recorded)
    rng = np.random.default_rng(0)
    c = rng.uniform(0, 100, (600, 300))
    w = rng.integers(1, 9, 600).astype(float)
    t0 = time.perf_counter()
    r = p_median(c, w, p=15, time_limit_s=8.0, mip_gap=0.0)
    assert time.perf_counter() - t0 < 8.0 + 3.0
    assert r.status is Status.TIME_LIMIT
    assert trees and trees[0].nodes >= 1 and not trees[0].closed and trees[0].open_nodes >= 1
    assert r.bound == pytest.approx(trees[0].bound) and r.bound < r.objective
    assert r.objective == pytest.approx(float(w @ c[np.arange(600), r.assignment]))


def test_reduced_cost_fixing_by_hand() -> None:
    """Minimising; bound 100, best plan 110 (slack 10): which columns stay where they are."""
    from siting.optimizer.cutting import reduced_cost_fixing

    values = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.4])
    d = np.array([12.0, 8.0, -15.0, -5.0, 30.0, 0.0])
    lower = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 0.0])  # column 4: a site forced in (fixed at 1)
    upper = np.ones(6)
    lo, up = reduced_cost_fixing(values, d, lower, upper, 110.0 - 100.0)
    # 0: opening it lifts the bound by 12 > 10: closed; 1: by 8, kept free; 2: closing it costs 15: held open;
    # 3: 5, free; 4: forced in, stays at 1 whatever its reduced cost; 5: fractional, free
    assert up.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert lo.tolist() == [0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    lo, up = reduced_cost_fixing(values, d, lower, upper, -1.0)  # the best plan below the bound: nothing
    assert (lo == lower).all() and (up == upper).all()
