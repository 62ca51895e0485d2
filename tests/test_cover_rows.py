"""The coverage rows of the formulations: demand points with the same reach merged, checked by hand.

The truth is a plain grouping in Python: per service, each kept demand point's set of columns as
a dictionary key, its residents per (service, age group) pair summed into the key's row. The
merged rows must be that grouping exactly — the same rows (as sets of columns, service by
service) and the same residents — and merging per service or in one call must give the same
model, row for row.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from scipy import sparse

from siting.coverage import Coverage
from siting.model.instance import merge_identical_rows
from siting.model.structure import cover_rows, site_columns
from test_optimizer import random_problem


def _naive(coverage: Coverage, x_site: np.ndarray, x_service: np.ndarray,
           weighted: bool) -> dict[tuple[int, frozenset[int]], np.ndarray]:
    """Per (service, set of columns): residents of every coverage pair (need-weighted when asked)."""
    P = len(coverage.pairs)
    out: dict[tuple[int, frozenset[int]], np.ndarray] = defaultdict(lambda: np.zeros(P))
    for p, (s, g) in enumerate(coverage.pairs):
        cols = {int(j): k for k, (j, ss) in enumerate(zip(x_site, x_service, strict=True)) if ss == s}
        reach = coverage.reach[p].toarray()
        pop = coverage.objective_population(p) if weighted else coverage.population[:, g]
        for i in range(coverage.n_demand):
            key = frozenset(cols[j] for j in np.flatnonzero(reach[i]) if j in cols)
            if key and not coverage.baseline[p][i] and coverage.population[i, g] > 0:
                out[(s, key)][p] += pop[i]
    return dict(out)


def _merged(R: sparse.csr_matrix, res: sparse.csr_matrix,
            x_service: np.ndarray) -> dict[tuple[int, frozenset[int]], np.ndarray]:
    out = {}
    dense = res.toarray()
    for r in range(R.shape[0]):
        cols = frozenset(int(k) for k in R[r].indices)
        key = (int(x_service[next(iter(cols))]), cols)
        assert key not in out, "two merged rows with the same reach"
        out[key] = dense[r]
    return out


@pytest.mark.parametrize("seed", range(25))
def test_merged_rows_are_the_plain_grouping(seed: int) -> None:
    coverage, sites, rules = random_problem(seed, n=14, m=5, services=3, groups=2)
    if seed % 2:  # need weights (the needs list): the weighted residents are merged the same way
        weights = np.random.default_rng(seed).choice([0.5, 1.0, 2.0], (coverage.n_demand, len(coverage.service_keys)))
        coverage = Coverage(coverage.service_keys, coverage.group_keys, coverage.pairs, coverage.reach,
                            coverage.baseline, coverage.population, coverage.limit_m, need_weight=weights)
    cols = site_columns(sites, rules)
    rows = cover_rows(coverage, cols)
    truth = _naive(coverage, cols.x_site, cols.x_service, weighted=False)
    got = _merged(rows.R, rows.residents, cols.x_service)
    assert got.keys() == truth.keys()
    for key, value in truth.items():
        np.testing.assert_allclose(got[key], value)
    if coverage.need_weight is not None:
        assert rows.weighted is not None
        truth_w = _naive(coverage, cols.x_site, cols.x_service, weighted=True)
        got_w = _merged(rows.R, rows.weighted, cols.x_service)
        assert got_w.keys() == truth_w.keys()
        for key, value in truth_w.items():
            np.testing.assert_allclose(got_w[key], value)


@pytest.mark.parametrize("seed", range(10))
def test_one_merge_over_segments_equals_one_merge_per_segment(seed: int) -> None:
    """The rows of each column segment, merged alone, give the same groups in the same order."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, 4)
    start = np.concatenate([[0], np.cumsum(sizes)])
    blocks = [sparse.csr_matrix(rng.random((int(rng.integers(3, 30)), int(k))) < 0.4) for k in sizes]
    blocks = [b[b.getnnz(axis=1) > 0] for b in blocks]
    R = sparse.block_diag(blocks, format="csr").astype(bool)
    first, group = merge_identical_rows(R, segment_start=start)
    row0, groups0 = 0, 0
    expected_first, expected_group = [], []
    for b in blocks:
        f, g = merge_identical_rows(b)
        expected_first.append(f + row0)
        expected_group.append(g + groups0)
        row0 += b.shape[0]
        groups0 += f.size
    np.testing.assert_array_equal(first, np.concatenate(expected_first))
    np.testing.assert_array_equal(group, np.concatenate(expected_group))
    assert ((R[first[group]] != R).getnnz(axis=1) == 0).all()
