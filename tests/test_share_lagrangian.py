"""The Lagrangian bound of the fairest plan (max-min share) against independent truths.

Truths: the brute-force optimum of tiny random problems (every plan enumerated), with and without
floors; the LP relaxation of the whole max-min model with the sets of services each site can hold
(HiGHS), which the best prices reach when no count of sites per service limits the plan (and
which the volume algorithm, a heuristic for those prices, comes near).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from siting.model.fairness import age_group_shares, build_fairness_model
from siting.model.structure import ShareTarget, weighted_row_values
from siting.optimizer.share_lagrangian import ShareLagrangian, floors_bound, max_min_bound
from siting.solvers import Status
from siting.solvers.highs import solve_relaxation
from test_shared_optimizer import with_site_sets
from tiny_models import Tiny, covered, group_shares, make_tiny, plans, random_tiny, weighted_new


def _balance(t: Tiny) -> tuple[ShareTarget, ...]:
    tot = t.coverage.total_population()
    return tuple(s for s in age_group_shares(t.coverage) if tot[list(s.pairs)].sum() > 0)


def _floors(t: Tiny, seed: int) -> tuple[ShareTarget, ...]:
    """A floor on one service × group at half of what some plan reaches (so that a plan meets it)."""
    rng = np.random.default_rng(seed)
    some = list(plans(t))
    if not some:
        return ()
    hosts = some[int(rng.integers(len(some)))][0]
    p = int(rng.integers(len(t.coverage.pairs)))
    tot = t.coverage.total_population()[p]
    return (ShareTarget("floor", (p,), 0.5 * float(covered(t, hosts)[p]) / tot),) if tot > 0 else ()


def _fairest(t: Tiny, floors: tuple[ShareTarget, ...]) -> float | None:
    """The brute-force best smallest share among the plans meeting the floors."""
    tot = t.coverage.total_population()
    best = None
    for hosts, _cost in plans(t):
        cov = covered(t, hosts)
        if all(cov[list(f.pairs)].sum() >= f.share * tot[list(f.pairs)].sum() - 1e-9 for f in floors):
            value = float(group_shares(t, hosts).min())
            best = value if best is None else max(best, value)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_any_prices_bound_the_brute_force_fairest_plan(seed: int) -> None:
    t = random_tiny(seed)
    balance = _balance(t)
    floors = _floors(t, seed) if seed % 2 else ()
    expected = _fairest(t, floors)
    if expected is None or not balance:
        return
    model = build_fairness_model(t.coverage, t.sites, t.rules, balance=list(balance), floors=list(floors))
    lg = ShareLagrangian(model, t.sites, t.rules, balance, floors)
    rng = np.random.default_rng(seed)
    n_s = lg.n_shares
    for _ in range(20):
        u = np.concatenate([rng.uniform(0, 1.5, n_s), rng.uniform(0, 1, lg.n_rows) * rng.choice([0.0, 1.0, 3.0])])
        u[n_s:] *= lg.weights(u)
        for prices in (u, lg.project(u), lg.first_prices()):
            value, g, x, lam = lg.relax(prices)
            assert lam >= 0 and g.shape == prices.shape and x.shape == (model.cols.n_pairs,)
            assert value >= expected - 1e-9, (seed, prices)


@pytest.mark.parametrize("seed", range(30))
def test_the_volume_algorithm_lies_above_the_optimum_and_the_lp(seed: int) -> None:
    t = random_tiny(seed)
    balance = _balance(t)
    floors = _floors(t, seed) if seed % 3 == 0 else ()
    expected = _fairest(t, floors)
    if expected is None or not balance:
        return
    model = build_fairness_model(t.coverage, t.sites, t.rules, balance=list(balance), floors=list(floors))
    report = max_min_bound(model, t.sites, t.rules, balance, floors, target=expected,
                           deadline=time.perf_counter() + 2.0)
    assert report.bound >= expected - 1e-9
    lp = solve_relaxation(with_site_sets(model.milp, model.cols, t.sites.floor_area, t.rules.service_area),
                          deadline=time.perf_counter() + 30)
    assert lp.status is Status.OPTIMAL
    # a Lagrangian dual never lies below the LP of the model it relaxes (this one has more rows still)
    assert report.bound >= lp.objective - 1e-7


def _best_weighted(t: Tiny, floors: tuple[ShareTarget, ...]) -> float | None:
    """The brute-force most weighted coverage among the plans meeting the floors."""
    tot = t.coverage.total_population()
    values = [weighted_new(t, hosts) for hosts, _cost in plans(t)
              if all(covered(t, hosts)[list(f.pairs)].sum() >= f.share * tot[list(f.pairs)].sum() - 1e-9
                     for f in floors)]
    return max(values) if values else None


@pytest.mark.parametrize("seed", range(40))
def test_floors_any_prices_and_the_volume_algorithm_bound_the_brute_force_optimum(seed: int) -> None:
    t = random_tiny(seed)
    floors = _floors(t, seed)
    expected = _best_weighted(t, floors)
    if expected is None:
        return
    model = build_fairness_model(t.coverage, t.sites, t.rules, mode="floors", floors=list(floors))
    weight = weighted_row_values(t.coverage, t.rules, model.rows)
    lg = ShareLagrangian(model, t.sites, t.rules, (), floors, weight=weight)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        u = np.concatenate([rng.uniform(0, 2, lg.n_shares) * weight.sum(), rng.uniform(0, 1, lg.n_rows)])
        u[lg.n_shares:] *= lg.weights(u) * rng.choice([0.0, 1.0, 3.0])
        for prices in (u, lg.project(u), lg.first_prices()):
            assert lg.relax(prices)[0] >= expected - 1e-6, (seed, prices)
    report = floors_bound(model, t.sites, t.rules, floors, weight, target=expected, deadline=time.perf_counter() + 2.0)
    assert report.bound >= expected - 1e-6
    lp = solve_relaxation(with_site_sets(model.milp, model.cols, t.sites.floor_area, t.rules.service_area),
                          deadline=time.perf_counter() + 30)
    assert lp.status is Status.OPTIMAL
    assert report.bound >= lp.objective - 1e-6 * max(1.0, lp.objective)


def _medium(seed: int) -> Tiny:
    """Three services, three age groups, 30 sites, 400 demand points; no count of sites per service."""
    rng = np.random.default_rng(100 + seed)
    n, m, S, G = 400, 30, 3, 3
    pairs = [(s, g) for s in range(S) for g in range(G) if (s + g) % 3 != 2]
    xy, sxy = rng.random((n, 2)), rng.random((m, 2))
    near = np.hypot(*(xy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1)) < 0.22
    return make_tiny(pairs, rng.integers(0, 40, (n, G)).astype(float), [near & (rng.random((n, m)) < 0.9)
                                                                          for _ in pairs],
                     floor_area=rng.choice([150.0, 250.0, 400.0], m), retrofit_cost=rng.integers(2, 8, m) * 10.0,
                     allowed=rng.random((m, S)) < 0.85, service_area=np.array([100.0, 150.0, 200.0]),
                     service_fitout=np.array([5.0, 10.0, 0.0]), budget=160.0)


@pytest.mark.parametrize(("seed", "by_service", "within"), [(s, b, 0.015 if not b else 0.025)
                                                            for s in range(3) for b in (False, True)])
def test_the_volume_algorithm_converges_near_the_lp_bound(seed: int, by_service: bool, within: float) -> None:
    """The volume algorithm is a heuristic for the best prices: measured 0.2-1.0 % above the LP over
    the age groups (3 shares) and 0.8-2.1 % over the services × age groups (6), from 1.8 at the
    first prices; the tolerances say how near it must come."""
    t = _medium(seed)
    balance = tuple(age_group_shares(t.coverage, by_service=by_service))
    model = build_fairness_model(t.coverage, t.sites, t.rules, balance=list(balance))
    lp = solve_relaxation(with_site_sets(model.milp, model.cols, t.sites.floor_area, t.rules.service_area),
                          deadline=time.perf_counter() + 30)
    assert lp.status is Status.OPTIMAL
    report = max_min_bound(model, t.sites, t.rules, balance, target=0.97 * lp.objective,
                           deadline=time.perf_counter() + 10.0)
    assert lp.objective - 1e-7 <= report.bound <= lp.objective * (1 + within), (report.bound, lp.objective)
    assert report.average is not None and report.average.shape == (model.cols.n_pairs,)


def test_a_hand_case_reaches_its_fairest_plan() -> None:
    """By hand: one service for two age groups of 20 residents each; site 0 reaches 10 children,
    site 1 10 elderly, site 2 the other 10 of each; money for one site. Sites 0 and 1 leave a group
    at 0, site 2 covers half of each: 0.5. The LP gives 0.5 too (half of sites 0 and 1: 0.25), so
    the prices must bring the bound down to 0.5."""
    population = np.array([[10.0, 0.0], [0.0, 10.0], [10.0, 0.0], [0.0, 10.0]])
    reach = np.zeros((4, 3), dtype=bool)
    reach[0, 0] = reach[1, 1] = reach[2, 2] = reach[3, 2] = True
    t = make_tiny([(0, 0), (0, 1)], population, [reach, reach], floor_area=np.full(3, 100.0),
                  retrofit_cost=np.full(3, 10.0), allowed=np.ones((3, 1), dtype=bool), service_area=np.array([50.0]),
                  service_fitout=np.array([0.0]), budget=10.0)
    assert _fairest(t, ()) == pytest.approx(0.5)
    balance = _balance(t)
    model = build_fairness_model(t.coverage, t.sites, t.rules, balance=list(balance))
    report = max_min_bound(model, t.sites, t.rules, balance, target=0.45, deadline=time.perf_counter() + 2.0)
    assert 0.5 - 1e-9 <= report.bound <= 0.5 * 1.01
