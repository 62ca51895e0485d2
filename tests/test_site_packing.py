"""The sets of services a site can hold together (siting.model.rules.site_packings / define_site_packing).

Checked against brute force: every subset of a site's services enumerated with itertools, and
the linear relaxation over the sets against the best subset for random objectives (a linear
objective over the convex hull of a site's plans is optimal at one of them).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from siting.model.rules import (
    PACKING_MAX_SERVICES,
    define_area,
    define_link,
    define_site_packing,
    site_packings,
    stack_rows,
)


def _instance(seed: int, sites: int = 12, services: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random columns (site, floor area) and site floor areas; every service fits its site alone."""
    rng = np.random.default_rng(seed)
    x_site, x_area = [], []
    site_area = rng.uniform(300, 1500, sites)
    for j in range(sites):
        n = int(rng.integers(1, services + 1))
        x_site += [j] * n
        x_area += list(rng.uniform(0.05, 1.0, n) * site_area[j])
    return np.array(x_site), np.array(x_area), site_area


def _largest_by_brute_force(x_site: np.ndarray, x_area: np.ndarray, site_area: np.ndarray) -> set[frozenset[int]]:
    out: set[frozenset[int]] = set()
    for j in range(site_area.size):
        ks = np.flatnonzero(x_site == j).tolist()
        if x_area[ks].sum() <= site_area[j] + 1e-6:
            continue  # everything fits: nothing to add
        fits = [frozenset(c) for r in range(1, len(ks) + 1) for c in itertools.combinations(ks, r)
                if x_area[list(c)].sum() <= site_area[j] + 1e-6]
        out |= {s for s in fits if not any(s < t for t in fits)}
    return out


@pytest.mark.parametrize("seed", range(20))
def test_the_largest_sets_are_those_brute_force_finds(seed: int) -> None:
    x_site, x_area, site_area = _instance(seed)
    pack_site, members = site_packings(x_site, x_area, site_area)
    got = {frozenset(members[r].indices.tolist()) for r in range(members.shape[0])}
    assert got == _largest_by_brute_force(x_site, x_area, site_area)
    assert all(np.all(x_site[members[r].indices] == pack_site[r]) for r in range(members.shape[0]))
    assert len(got) == members.shape[0]  # no set twice


@pytest.mark.parametrize("seed", range(15))
def test_the_relaxation_over_the_sets_is_the_hull_of_the_site_plans(seed: int) -> None:
    """max c·x over link + floor area + sets (LP) equals the best subset that fits, site by site."""
    x_site, x_area, site_area = _instance(seed, sites=6, services=7)
    rng = np.random.default_rng(1000 + seed)
    K, m = x_site.size, site_area.size
    rows, n_sets = define_site_packing(x_site, x_area, site_area)
    sizes = {"x": K, "y": m, "pack": n_sets}
    A, _lo, hi, _ = stack_rows([define_link(x_site, m), define_area(x_site, x_area, site_area), rows], sizes)
    c = np.concatenate([rng.uniform(-0.2, 1.0, K), -rng.uniform(0.0, 0.5, m), np.zeros(n_sets)])
    bounds = [(0, 1)] * (K + m) + [(0, None)] * n_sets
    lp = linprog(-c, A_ub=sparse.csr_matrix(A), b_ub=hi, bounds=bounds, method="highs")
    assert lp.status == 0
    best = 0.0
    for j in range(m):
        ks = np.flatnonzero(x_site == j).tolist()
        site_best = 0.0  # the site left as it is
        for r in range(1, len(ks) + 1):
            for chosen in itertools.combinations(ks, r):
                if x_area[list(chosen)].sum() <= site_area[j] + 1e-6:
                    site_best = max(site_best, c[list(chosen)].sum() + c[K + j])
        best += site_best
    assert -lp.fun == pytest.approx(best, rel=1e-7, abs=1e-7)
    # without the sets the floor-area row alone may let a site hold fractions of services that do not fit
    A0, _lo0, hi0, _ = stack_rows([define_link(x_site, m), define_area(x_site, x_area, site_area)],
                                  {"x": K, "y": m})
    lp0 = linprog(-c[:K + m], A_ub=sparse.csr_matrix(A0), b_ub=hi0, bounds=[(0, 1)] * (K + m), method="highs")
    assert -lp0.fun >= best - 1e-7


def test_a_site_with_too_many_services_keeps_its_floor_area_row_alone() -> None:
    n = PACKING_MAX_SERVICES + 1
    x_site = np.zeros(n, dtype=np.int64)
    x_area = np.full(n, 100.0)
    pack_site, members = site_packings(x_site, x_area, np.array([250.0]))
    assert pack_site.size == 0 and members.shape == (0, n)
    rows, n_sets = define_site_packing(x_site[:4], x_area[:4], np.array([250.0]))
    assert n_sets == 6  # every pair of four services of 100 m² in 250 m²
    assert rows.n_rows == 4 + 1


def test_two_services_of_sixty_percent_each_count_once_not_one_and_two_thirds() -> None:
    """By hand: 100 m², two services of 60 m² worth 1 each; the floor-area row alone allows 5/6 + 5/6."""
    x_site, x_area, site_area = np.array([0, 0]), np.array([60.0, 60.0]), np.array([100.0])
    c = np.array([1.0, 1.0, 0.0])
    A0, _lo, hi0, _ = stack_rows([define_link(x_site, 1), define_area(x_site, x_area, site_area)], {"x": 2, "y": 1})
    without = linprog(-c, A_ub=sparse.csr_matrix(A0), b_ub=hi0, bounds=[(0, 1)] * 3, method="highs")
    assert -without.fun == pytest.approx(2 * 100 / 120)
    rows, n_sets = define_site_packing(x_site, x_area, site_area)
    A, _lo, hi, _ = stack_rows([define_link(x_site, 1), define_area(x_site, x_area, site_area), rows],
                               {"x": 2, "y": 1, "pack": n_sets})
    with_sets = linprog(-np.concatenate([c, np.zeros(n_sets)]), A_ub=sparse.csr_matrix(A), b_ub=hi,
                        bounds=[(0, 1)] * 3 + [(0, None)] * n_sets, method="highs")
    assert n_sets == 2 and -with_sets.fun == pytest.approx(1.0)
