"""p-median: published optima (OR-Library pmed1–10, SJC1–2 capacitated) and brute force."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from benchmarks.instances import SJC_CPMP_OPTIMA, read_orlib_pmed, read_pmedopt, read_sjc_cpmp
from benchmarks.pmedian import build_pmedian_model

from siting.solvers import SolveOptions, Status, solve


@pytest.mark.parametrize("k", range(1, 11))
def test_orlib_pmed_published_optimum(benchmarks_dir: Path, k: int) -> None:
    name = f"pmed{k}"
    inst = read_orlib_pmed(benchmarks_dir / "orlib-pmed" / f"{name}.txt")
    published = read_pmedopt(benchmarks_dir / "orlib-pmed" / "pmedopt.txt")[name]
    model = build_pmedian_model(inst.cost, inst.p)
    r = solve(model.milp, "highs", SolveOptions(time_limit_s=300, mip_gap=0.0))
    assert r.status is Status.OPTIMAL
    assert r.objective == pytest.approx(published, abs=1e-6)
    sites = np.flatnonzero(model.open_sites(r.solution))
    assert sites.size == inst.p
    # independent check: every vertex walks to its nearest open site
    assert inst.cost[:, sites].min(axis=1).sum() == pytest.approx(published, abs=1e-6)


@pytest.mark.parametrize("name", ["SJC1", "SJC2"])
def test_sjc_capacitated_published_optimum(benchmarks_dir: Path, name: str) -> None:
    inst = read_sjc_cpmp(benchmarks_dir / "sjc-cpmp" / f"{name}.dat")
    assert inst.capacity is not None and inst.demand is not None
    model = build_pmedian_model(inst.cost, inst.p, capacity=inst.capacity, demand=inst.demand)
    r = solve(model.milp, "highs", SolveOptions(time_limit_s=600, mip_gap=1e-7))
    assert r.status is Status.OPTIMAL
    assert r.objective == pytest.approx(SJC_CPMP_OPTIMA[name], abs=0.01)
    # independent check of the plan: p sites, single sourcing within capacity, the cost
    assign = model.assignment(r.solution)
    assert np.all(assign >= 0) and np.unique(assign).size == inst.p
    load = np.bincount(assign, weights=inst.demand, minlength=inst.n)
    assert np.all(load <= inst.capacity + 1e-6)
    assert inst.cost[np.arange(inst.n), assign].sum() == pytest.approx(SJC_CPMP_OPTIMA[name], abs=0.01)


def brute_pmedian(cost, p, capacity=None, demand=None, weight=None) -> float:
    """Enumerate every set of p sites and every single-source assignment (tiny cases only)."""
    n, m = cost.shape
    w = np.ones(n) if weight is None else weight
    best = np.inf
    for sites in itertools.combinations(range(m), p):
        if capacity is None:
            best = min(best, float(w @ cost[:, list(sites)].min(axis=1)))
            continue
        for assign in itertools.product(sites, repeat=n):
            a = np.array(assign)
            load = np.bincount(a, weights=demand, minlength=m)
            if np.all(load <= capacity + 1e-9):
                best = min(best, float(w @ cost[np.arange(n), a]))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_pmedian_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m, p = 6, 5, 1 + seed % 3
    cost = np.round(rng.uniform(0, 100, (n, m)), 1)
    w = rng.integers(1, 5, n).astype(float)
    model = build_pmedian_model(cost, p, weight=w)
    r = solve(model.milp, "highs", SolveOptions(mip_gap=0.0))
    assert r.objective == pytest.approx(brute_pmedian(cost, p, weight=w), abs=1e-6)
    demand = rng.integers(1, 6, n).astype(float)
    capacity = rng.integers(6, 14, m).astype(float)
    cap_model = build_pmedian_model(cost, p + 1, weight=w, capacity=capacity, demand=demand)
    expected = brute_pmedian(cost, p + 1, capacity, demand, w)
    r = solve(cap_model.milp, "highs", SolveOptions(mip_gap=0.0))
    if np.isinf(expected):
        assert r.status is Status.INFEASIBLE
    else:
        assert r.objective == pytest.approx(expected, abs=1e-6)
