"""The budgeted multi-service covering problem in compact array form, before any MILP.

A :class:`CoveringInstance` holds only what the optimizer needs: one column per allowed
(site, service) pair, the coverage rows over those columns with their weights, and the
sites' floor areas and costs. The MILP (:func:`instance_milp`), the heuristics and the
decomposition all read the same instance, so that a reduction applied to it (see
:mod:`siting.model.reduce`) holds for every method alike.

Coverage rows are built per service: every demand point × age group the service serves,
not already covered by an existing facility, reachable from at least one usable site and
with residents. Rows of one service that the same columns reach are merged into one row
whose weight is the sum of theirs (across age groups too); merging is exact — the check
compares every merged row with its representative, entry by entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.rules import (
    PlanningRules,
    SiteData,
    assignment_cost,
    column_costs,
    pair_columns,
    rule_violation,
    usable_pairs,
)


@dataclass(frozen=True)
class CoveringInstance:
    """Budgeted multi-service maximal covering, as arrays.

    Attributes
    ----------
    cover
        Boolean csr matrix, coverage rows × columns: the column's site would cover the row.
    weight
        Weight of each coverage row (residents × age-group weight × service weight × the
        rows' need weights, :attr:`siting.coverage.Coverage.need_weight`).
    row_service
        Service index of each coverage row.
    x_site, x_service
        Site and service index of each column (columns sorted by service, then site).
    site_area, site_cost
        Floor area (m²) and retrofit cost (yuan) of every site.
    service_area
        Floor area of every service.
    x_cost
        Cost of each column on top of its site's conversion: the service's fit-out and its
        floor area at the site's price per m² (:func:`siting.model.rules.column_costs`).
    force_in
        Sites that must be converted.
    budget
        Total budget (yuan).
    min_sites, max_sites
        Columns per service: at least / at most (``max_sites`` < 0: no limit).
    baseline_value
        Weighted residents already covered by existing facilities (not in the objective).
    stats
        Sizes before and after reductions.
    """

    cover: sparse.csr_matrix
    weight: np.ndarray
    row_service: np.ndarray
    x_site: np.ndarray
    x_service: np.ndarray
    site_area: np.ndarray
    site_cost: np.ndarray
    service_area: np.ndarray
    x_cost: np.ndarray
    force_in: np.ndarray
    budget: float
    min_sites: np.ndarray
    max_sites: np.ndarray
    baseline_value: float = 0.0
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def n_cols(self) -> int:
        """Number of (site, service) columns."""
        return int(self.x_site.size)

    @property
    def n_rows(self) -> int:
        """Number of coverage rows."""
        return int(self.weight.size)

    @property
    def n_sites(self) -> int:
        """Number of sites (all of them, also those without columns)."""
        return int(self.site_area.size)

    @property
    def n_services(self) -> int:
        """Number of services."""
        return int(self.service_area.size)

    @property
    def x_area(self) -> np.ndarray:
        """Floor area each column takes at its site."""
        return np.asarray(self.service_area[self.x_service], dtype=float)

    def value(self, x: np.ndarray) -> float:
        """Objective of a 0/1 column vector: weight of the coverage rows it reaches."""
        return float(self.weight @ (self.cover @ (np.asarray(x) > 0.5).astype(np.float64) > 0.5))

    def cost(self, x: np.ndarray) -> float:
        """Retrofit of every converted site (forced ones included) plus the fit-out of every column."""
        return assignment_cost(self.hosts(x), self.site_cost, self.pair_cost_matrix(), self.force_in)

    def pair_cost_matrix(self) -> np.ndarray:
        """(sites × services): the cost of each column at its place, 0 where no column is."""
        out = np.zeros((self.n_sites, self.n_services))
        out[self.x_site, self.x_service] = self.x_cost
        return out

    def violation(self, x: np.ndarray) -> str:
        """Why a 0/1 column vector is not a feasible plan ('' when it is): the plan rules of
        :mod:`siting.model.rules`, checked on the assignment the columns make."""
        return rule_violation(self.hosts(x), floor_area=self.site_area, site_cost=self.site_cost,
                              pair_cost=self.pair_cost_matrix(), service_area=self.service_area,
                              force_in=self.force_in, budget=self.budget, min_sites=self.min_sites,
                              max_sites=self.max_sites)

    def hosts(self, x: np.ndarray) -> np.ndarray:
        """Boolean (sites × services) assignment of a column vector."""
        out = np.zeros((self.n_sites, self.n_services), dtype=bool)
        on = np.asarray(x) > 0.5
        out[self.x_site[on], self.x_service[on]] = True
        return out

    def columns_of(self, hosts: np.ndarray) -> np.ndarray:
        """0/1 column vector of a (sites × services) assignment (pairs without a column are ignored)."""
        return np.asarray(hosts[self.x_site, self.x_service], dtype=np.float64)

    def select_columns(self, keep: np.ndarray, **stats: int) -> CoveringInstance:
        """The instance restricted to the columns where ``keep`` is true (rows nobody covers dropped)."""
        cover = self.cover[:, np.flatnonzero(keep)].tocsr()
        rows = np.flatnonzero(cover.getnnz(axis=1) > 0)
        return replace(self, cover=cover[rows], weight=self.weight[rows], row_service=self.row_service[rows],
                       x_site=self.x_site[keep], x_service=self.x_service[keep], x_cost=self.x_cost[keep],
                       stats={**self.stats, **stats})


def merge_identical_rows(R: sparse.csr_matrix, *,
                         segment_start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Group identical rows of a boolean csr matrix, without a Python loop over rows.

    Rows are hashed by two random projections and their length; every row is then compared
    entry by entry with its group's representative, and a row that differs (a hash
    collision, in practice never) becomes a group of its own. The grouping is therefore exact.

    Parameters
    ----------
    R
        The rows to group.
    segment_start
        Column segments ``segment_start[b]:segment_start[b + 1]`` (ascending, the last equal to
        the number of columns) whose rows are grouped as if each segment were merged on its own:
        every non-empty row must lie within one segment. The groups come segment by segment, in
        the order and with the representatives a separate call per segment gives (one call
        instead of one per service in :func:`covering_instance` and
        :func:`siting.model.structure.cover_rows`); only the rows
        split off after a hash collision come last, after every segment's groups.

    Returns
    -------
    first, group
        Index of the representative row of each group; group of each row.
    """
    R = R.tocsr().astype(bool)
    R.sum_duplicates()
    R.sort_indices()
    if R.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(20240607)
    if segment_start is None:
        H = rng.random((R.shape[1], 2)) + 1.0
        keys = np.column_stack([R.astype(np.float64) @ H, R.getnnz(axis=1).astype(np.float64)])
    else:  # each segment's columns get the weights a call on that segment alone draws
        bounds = np.asarray(segment_start, dtype=np.int64)
        seg_of_col = np.repeat(np.arange(bounds.size - 1), np.diff(bounds))
        local = np.arange(R.shape[1]) - bounds[seg_of_col]
        H = (rng.random((int(np.diff(bounds).max(initial=0)), 2)) + 1.0)[local]
        nnz = R.getnnz(axis=1)
        seg = np.zeros(R.shape[0])
        seg[nnz > 0] = seg_of_col[R.indices[R.indptr[:-1][nnz > 0]]]
        keys = np.column_stack([seg, R.astype(np.float64) @ H, nnz.astype(np.float64)])
    _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    differs = np.flatnonzero((R[first[group]] != R).getnnz(axis=1) > 0)
    if differs.size:  # a collision: give each differing row a group of its own
        group = group.copy()
        group[differs] = first.size + np.arange(differs.size)
        first = np.concatenate([first, differs])
    return first.astype(np.int64), group.astype(np.int64)


def gather_rows(coverage: Coverage, x_site: np.ndarray, x_service: np.ndarray, shape: tuple[int, int],
                pairs: Iterable[int]) -> tuple[sparse.csr_matrix, list[tuple[int, np.ndarray]]]:
    """The demand points of each listed (service, age group) pair as rows over the plan columns.

    A pair's point becomes a row when it is not covered already, has residents of the pair's age
    group, and a column of the pair's service reaches it; the row holds the columns that reach it.
    Rows come pair by pair, service by service (pairs of one service in the order given), so that
    :func:`merge_identical_rows` with the services' column segments merges them.

    Parameters
    ----------
    coverage
        Coverage per pair.
    x_site, x_service
        Site and service of each column.
    shape
        Numbers of sites and of services (the assignment the columns index).
    pairs
        The pairs to gather.

    Returns
    -------
    R, kept
        Boolean csr (rows × columns), and per gathered pair its demand points, in row order.
    """
    K = x_site.size
    col_of = np.full(shape, -1, dtype=np.int64)
    col_of[x_site, x_service] = np.arange(K)
    rows_of, cols_of, data_of = [], [], []
    kept: list[tuple[int, np.ndarray]] = []
    n_rows = 0
    for p in sorted(pairs, key=lambda q: coverage.pairs[q][0]):  # stable: within a service, as given
        s, g = coverage.pairs[p]
        reach = coverage.reach[p].tocsr()
        col = col_of[reach.indices, s]
        valid = col >= 0
        point = np.repeat(np.arange(reach.shape[0]), np.diff(reach.indptr))
        counts = np.bincount(point[valid], minlength=reach.shape[0])
        keep = ~coverage.baseline[p] & (counts > 0) & (coverage.population[:, g] > 0)
        points = np.flatnonzero(keep)
        if points.size == 0:
            continue
        take = valid & keep[point]
        rows_of.append((np.cumsum(keep) - 1 + n_rows)[point[take]])
        cols_of.append(col[take])
        data_of.append(reach.data[take])
        kept.append((p, points))
        n_rows += points.size
    if n_rows == 0:
        return sparse.csr_matrix((0, K), dtype=bool), kept
    R = sparse.csr_matrix((np.concatenate(data_of), (np.concatenate(rows_of), np.concatenate(cols_of))),
                          shape=(n_rows, K))
    return R, kept


def covering_instance(coverage: Coverage, sites: SiteData, rules: PlanningRules, *,
                      merge: bool = True) -> CoveringInstance:
    """Build the compact instance from coverage, sites and rules.

    Parameters
    ----------
    coverage
        Coverage matrices per (service, age group).
    sites
        Floor area, retrofit cost and allowed services of the candidate sites.
    rules
        Budget, weights and requirements.
    merge
        Merge coverage rows of one service that the same columns reach (exact). ``False``
        keeps one row per demand point × age group: the plain formulation.

    Returns
    -------
    CoveringInstance
        Columns for every usable (site, service) pair; coverage rows and their weights.
    """
    m = len(sites.floor_area)
    S = len(coverage.service_keys)
    x_site, x_service, x_start = pair_columns(usable_pairs(sites, rules))
    K = x_site.size
    pair_weight = [float(rules.service_weight[s] * rules.group_weight[g]) for s, g in coverage.pairs]
    baseline_value = sum(wt * float(coverage.objective_population(p)[coverage.baseline[p]].sum())
                         for p, wt in enumerate(pair_weight))
    counted = [p for p, (s, _g) in enumerate(coverage.pairs) if pair_weight[p] != 0 and x_start[s + 1] > x_start[s]]
    R, kept = gather_rows(coverage, x_site, x_service, (m, S), counted)
    rows_before = int(R.shape[0])
    wv = np.concatenate([coverage.objective_population(p)[points] * pair_weight[p] for p, points in kept]) \
        if kept else np.zeros(0)
    row_service = np.concatenate([np.full(points.size, coverage.pairs[p][0], dtype=np.int64)
                                  for p, points in kept]) if kept else np.zeros(0, dtype=np.int64)
    if merge and rows_before:
        first, group = merge_identical_rows(R, segment_start=x_start)
        wv = np.bincount(group, weights=wv, minlength=first.size).astype(np.float64)
        R, row_service = R[first], row_service[first]
    Rg = R.tocoo()
    cover = sparse.csr_matrix((np.ones(Rg.nnz, dtype=bool), (Rg.row, Rg.col)), shape=(R.shape[0], K))
    cover.sort_indices()
    return CoveringInstance(
        cover=cover,
        weight=wv,
        row_service=row_service,
        x_site=x_site.astype(np.int64),
        x_service=x_service.astype(np.int64),
        site_area=np.asarray(sites.floor_area, dtype=float),
        site_cost=np.asarray(sites.retrofit_cost, dtype=float),
        service_area=np.asarray(rules.service_area, dtype=float),
        x_cost=column_costs(x_site, x_service, sites, rules),
        force_in=np.asarray(rules.force_in, dtype=bool),
        budget=float(rules.budget),
        min_sites=np.asarray(rules.min_sites, dtype=np.int64),
        max_sites=np.asarray(rules.max_sites, dtype=np.int64),
        baseline_value=baseline_value,
        stats={"assignments": K, "sites": m, "coverage_rows_before_merge": rows_before,
               "coverage_rows": int(cover.shape[0]), "coverage_nonzeros": int(cover.nnz)},
    )
