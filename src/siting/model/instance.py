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
        instead of one per service in :func:`siting.model.structure.cover_rows`); only the rows
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
    blocks: list[sparse.csr_matrix] = []
    weights: list[np.ndarray] = []
    services: list[np.ndarray] = []
    rows_before = 0
    baseline_value = 0.0
    for s in range(S):
        sites_s = x_site[x_start[s]:x_start[s + 1]]
        parts, w = [], []
        for p, (ps, g) in enumerate(coverage.pairs):
            if ps != s:
                continue
            wt = float(rules.service_weight[s] * rules.group_weight[g])
            pop = coverage.population[:, g]
            weighted = coverage.objective_population(p)
            baseline_value += wt * float(weighted[coverage.baseline[p]].sum())
            if wt == 0 or sites_s.size == 0:
                continue
            R = coverage.reach[p][:, sites_s]
            keep = ~coverage.baseline[p] & (R.getnnz(axis=1) > 0) & (pop > 0)
            rows_before += int(keep.sum())
            parts.append(R[keep])
            w.append(weighted[keep] * wt)
        if not parts:
            continue
        R = sparse.vstack(parts, format="csr")
        wv = np.concatenate(w)
        if merge:
            first, group = merge_identical_rows(R)
            wv = np.bincount(group, weights=wv, minlength=first.size).astype(np.float64)
            R = R[first]
        Rg = R.tocoo()
        blocks.append(sparse.csr_matrix((np.ones(Rg.nnz, dtype=bool), (Rg.row, Rg.col + x_start[s])),
                                        shape=(R.shape[0], K)))
        weights.append(wv)
        services.append(np.full(R.shape[0], s, dtype=np.int64))
    cover = sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix((0, K), dtype=bool)
    cover.sort_indices()
    return CoveringInstance(
        cover=cover,
        weight=np.concatenate(weights) if weights else np.zeros(0),
        row_service=np.concatenate(services) if services else np.zeros(0, dtype=np.int64),
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
