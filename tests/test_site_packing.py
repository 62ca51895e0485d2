"""The patterns of a site written for the masters (siting.model.patterns.define_site_packing).

Checked against brute force: every subset of a site's services enumerated with itertools, and
the linear relaxation over the patterns against the best subset for random objectives (a linear
objective over the convex hull of a site's plans is optimal at one of them).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from siting.model.patterns import MAX_PATTERN_SERVICES, define_site_packing
from siting.model.rules import define_area, define_link, stack_rows


def _instance(seed: int, sites: int = 12, services: int = 6
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random columns (site, service), site and service floor areas; every column's service fits its site."""
    rng = np.random.default_rng(seed)
    service_area = rng.uniform(50, 600, services)
    site_area = rng.uniform(300, 1500, sites)
    usable = (rng.random((sites, services)) < 0.7) & (service_area[None, :] <= site_area[:, None])
    x_site, x_service = np.nonzero(usable)
    return x_site, x_service, site_area, service_area


def _fits(chosen: list[int], x_service: np.ndarray, service_area: np.ndarray, area: float) -> bool:
    return bool(service_area[x_service[chosen]].sum() <= area + 1e-9)


def _largest_by_brute_force(x_site: np.ndarray, x_service: np.ndarray, site_area: np.ndarray,
                            service_area: np.ndarray) -> set[frozenset[int]]:
    out: set[frozenset[int]] = set()
    for j in range(site_area.size):
        ks = np.flatnonzero(x_site == j).tolist()
        if _fits(ks, x_service, service_area, site_area[j]):
            continue  # everything fits: nothing to add
        fits = [frozenset(c) for r in range(1, len(ks) + 1) for c in itertools.combinations(ks, r)
                if _fits(list(c), x_service, service_area, site_area[j])]
        out |= {s for s in fits if not any(s < t for t in fits)}
    return out


def _sets_of(rows_pack: sparse.csr_matrix, rows_x: sparse.csr_matrix, n_col_rows: int) -> set[frozenset[int]]:
    """The columns of every λ, read back from the rows ``x_k − Σ_{T∋k} λ_T ≤ 0``."""
    col_of_row = rows_x[:n_col_rows].tocsr().indices  # one x per column row
    member = (-rows_pack[:n_col_rows]).tocsc()
    return {frozenset(col_of_row[member[:, t].indices].tolist()) for t in range(member.shape[1])}


@pytest.mark.parametrize("seed", range(20))
def test_the_patterns_written_are_those_brute_force_finds(seed: int) -> None:
    x_site, x_service, site_area, service_area = _instance(seed)
    rows, n_sets = define_site_packing(x_site, x_service, site_area, service_area)
    truth = _largest_by_brute_force(x_site, x_service, site_area, service_area)
    assert n_sets == len(truth)
    if n_sets == 0:
        return
    n_sites = int((rows.parts["y"].getnnz(axis=1) > 0).sum())
    got = _sets_of(rows.parts["pack"], rows.parts["x"], rows.n_rows - n_sites)
    assert got == truth
    # one row Σ_T λ_T ≤ y_j per site with patterns, each λ in exactly one such row
    assert np.all(rows.parts["pack"][rows.n_rows - n_sites:].sum(axis=0) == 1)


@pytest.mark.parametrize("seed", range(15))
def test_the_relaxation_over_the_patterns_is_the_hull_of_the_site_plans(seed: int) -> None:
    """max c·x over link + floor area + patterns (LP) equals the best subset that fits, site by site."""
    x_site, x_service, site_area, service_area = _instance(seed, sites=6, services=7)
    rng = np.random.default_rng(1000 + seed)
    K, m = x_site.size, site_area.size
    x_area = service_area[x_service]
    rows, n_sets = define_site_packing(x_site, x_service, site_area, service_area)
    blocks = [define_link(x_site, m), define_area(x_site, x_area, site_area)] + ([rows] if n_sets else [])
    A, _lo, hi, _ = stack_rows(blocks, {"x": K, "y": m, "pack": n_sets})
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
                if _fits(list(chosen), x_service, service_area, site_area[j]):
                    site_best = max(site_best, c[list(chosen)].sum() + c[K + j])
        best += site_best
    assert -lp.fun == pytest.approx(best, rel=1e-7, abs=1e-7)


def test_two_services_of_sixty_percent_each_count_once_not_one_and_two_thirds() -> None:
    """By hand: 100 m², two services of 60 m² worth 1 each; the floor-area row alone allows 5/6 + 5/6."""
    x_site, x_service = np.array([0, 0]), np.array([0, 1])
    site_area, service_area = np.array([100.0]), np.array([60.0, 60.0])
    c = np.array([1.0, 1.0, 0.0])
    base = [define_link(x_site, 1), define_area(x_site, service_area[x_service], site_area)]
    A0, _lo, hi0, _ = stack_rows(base, {"x": 2, "y": 1})
    without = linprog(-c, A_ub=sparse.csr_matrix(A0), b_ub=hi0, bounds=[(0, 1)] * 3, method="highs")
    assert -without.fun == pytest.approx(2 * 100 / 120)
    rows, n_sets = define_site_packing(x_site, x_service, site_area, service_area)
    A, _lo, hi, _ = stack_rows([*base, rows], {"x": 2, "y": 1, "pack": n_sets})
    with_sets = linprog(-np.concatenate([c, np.zeros(n_sets)]), A_ub=sparse.csr_matrix(A), b_ub=hi,
                        bounds=[(0, 1)] * 3 + [(0, None)] * n_sets, method="highs")
    assert n_sets == 2 and -with_sets.fun == pytest.approx(1.0)


def test_a_site_holding_everything_or_too_many_services_gets_no_rows() -> None:
    x_site, x_service = np.zeros(3, dtype=np.int64), np.arange(3)
    rows, n_sets = define_site_packing(x_site, x_service, np.array([1000.0]), np.array([100.0, 200.0, 300.0]))
    assert n_sets == 0 and rows.n_rows == 0
    n = MAX_PATTERN_SERVICES + 1
    rows, n_sets = define_site_packing(np.zeros(n, dtype=np.int64), np.arange(n), np.array([250.0]),
                                       np.full(n, 100.0))
    assert n_sets == 0 and rows.n_rows == 0
