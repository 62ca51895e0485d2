"""Capacity-limited coverage through the shared optimizer: greedy, cutting-plane bound, kernel and neighbourhoods.

Used by the ``capacitated`` objective and by each stage of the standards-first default (whose
basic and quality stages are the same model with other weights). The pieces:

- the greedy (:class:`~siting.optimizer.gains.RowGains`): weighted residents a facility reaches
  and has room for;
- the bound (:mod:`siting.optimizer.cutting`): the coverage rows projected out into
  neighbourhood groups, and the capacities written over the master's columns — the residents
  a group of rows gets served are at most the capacity of the facilities that reach it, and a
  service's residents at most the capacity of all its facilities::

      Σ_h share_hk ≤ cap_k x_k                 every capacity-limited column k
      θ_h ≤ ω_h Σ_k share_hk                   every group h of a capacity-limited service

  where ``share_hk ≥ 0`` is the part of facility ``k``'s places given to the rows of group ``h``
  it reaches and ``ω_h`` the largest weight per resident among those rows. Every plan's
  allocation gives such shares, so the master stays a relaxation and its LP optimum a bound —
  a weaker one than the whole LP's, which allocates places row by row rather than group by
  group (finer groups of capacity-limited services bring them closer).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.capacitated import build_capacitated_model
from siting.model.milp import Sense
from siting.model.rules import PlanningRules, RuleRows, SiteData
from siting.model.structure import CoverRows, SiteColumns, SitingModel
from siting.optimizer.cutting import CoverCuts, CutOracle, CuttingPlanes
from siting.optimizer.deadline import Deadline
from siting.optimizer.formulations import (
    BoundStep,
    SitingFormulation,
    bound_step,
    cover_groups,
    knapsack_bound,
    master_for,
    row_service,
    search_plan,
    site_reach,
)
from siting.optimizer.gains import RowGains
from siting.optimizer.generic import PlanSearch, Progress
from siting.optimizer.greedy import greedy_plan
from siting.solvers.base import SolveOptions


def row_residents(rows: CoverRows) -> np.ndarray:
    """Residents of each coverage row (all its (service, age group) pairs)."""
    return np.asarray(rows.residents.sum(axis=1)).ravel()


def capacity_gains(rows: CoverRows, cols: SiteColumns, weights: np.ndarray, capacity: np.ndarray) -> RowGains:
    """The greedy's oracle: ``weights`` (levels × rows), capacities per service."""
    return RowGains(rows.R, weights, row_residents(rows), np.asarray(capacity, dtype=float)[cols.x_service])


def capacity_rows(R: sparse.csr_matrix, cols: SiteColumns, weight: np.ndarray, residents: np.ndarray,
                  group: np.ndarray, n_groups: int, capacity: np.ndarray) -> tuple[int, list[RuleRows]]:
    """The capacity block of the module docstring: its number of ``share`` columns and its rows.

    ``share_hk`` is the capacity of facility ``k`` given to the rows of group ``h`` it reaches::

        Σ_h share_hk ≤ cap_k x_k                 every capacity-limited column k
        θ_h ≤ ω_h Σ_k share_hk                   every group h of a capacity-limited service
    """
    cap = np.asarray(capacity, dtype=float)[cols.x_service]
    svc = row_service(R, cols)
    limited_row = (svc >= 0) & np.isfinite(np.asarray(capacity, dtype=float)[np.maximum(svc, 0)])
    if not limited_row.any():
        return 0, []
    per = np.where(residents > 0, weight / np.maximum(residents, 1e-300), 0.0)
    omega = np.zeros(n_groups)
    np.maximum.at(omega, group[limited_row], per[limited_row])
    G = sparse.csr_matrix((np.ones(int(limited_row.sum())), (group[limited_row], np.flatnonzero(limited_row))),
                          shape=(n_groups, R.shape[0]))
    reach = (G @ sparse.csr_matrix(R, dtype=np.float64)).tocoo()
    ok = np.isfinite(cap[reach.col])
    h, k = reach.row[ok].astype(np.int64), reach.col[ok].astype(np.int64)
    n = h.size
    if n == 0:
        return 0, []
    ks = np.unique(k)
    give = sparse.csr_matrix((np.ones(n), (np.searchsorted(ks, k), np.arange(n))), shape=(ks.size, n))
    take = sparse.csr_matrix((cap[ks], (np.arange(ks.size), ks)), shape=(ks.size, cols.n_pairs))
    hs = np.unique(h)
    pick = sparse.csr_matrix((np.ones(hs.size), (np.arange(hs.size), hs)), shape=(hs.size, n_groups))
    gets = sparse.csr_matrix((omega[h], (np.searchsorted(hs, h), np.arange(n))), shape=(hs.size, n))
    return n, [RuleRows("capacity", {"share": give, "x": -take}, np.full(ks.size, -np.inf), np.zeros(ks.size)),
               RuleRows("capacity_group", {"theta": pick, "share": -gets}, np.full(hs.size, -np.inf),
                        np.zeros(hs.size))]


def coverage_bound(cols: SiteColumns, rows: CoverRows, sites: SiteData, rules: PlanningRules,
                   weight: np.ndarray, capacity: np.ndarray | None = None) -> BoundStep:
    """A bound step for :func:`~siting.optimizer.formulations.search_plan`: weighted coverage within capacity.

    Returns ``step(search, seconds)``: runs the cutting planes, tightens the search's bound by
    the master's LP optimum (plus nothing: rows no column reaches have no weight here) and
    returns the master's ``x`` as pair scores.
    """
    group, H = cover_groups(rows.R, cols, weight)
    oracle: CutOracle = CoverCuts(rows.R, weight, group, H)
    n_share, extra = 0, list[RuleRows]()
    if capacity is not None:
        n_share, extra = capacity_rows(rows.R, cols, weight, row_residents(rows), group, H, capacity)
    master = master_for(cols, sites, rules, Sense.MAXIMIZE, H, rows=extra,
                        extra={"share": n_share} if n_share else None, evaluable=not n_share)

    def step(search: PlanSearch, seconds: float) -> np.ndarray | None:
        start = None
        if search.best is not None:
            start = search.best[cols.x_site, cols.x_service].astype(float)
        planes = CuttingPlanes(master, [(oracle, 0)], threads=search.options.threads, seed=search.options.seed)
        return bound_step(search, planes, cols, seconds, start=start)

    return step




def optimize_capacitated(coverage: Coverage, sites: SiteData, rules: PlanningRules, capacity: np.ndarray,
                         options: SolveOptions, *, deadline: Deadline | None = None, start: np.ndarray | None = None,
                         say: Progress | None = None) -> PlanSearch:
    """The capacitated objective through the shared optimizer (module docstring); HiGHS only.

    Returns
    -------
    PlanSearch
        Its best plan, value and bound.
    """
    deadline = deadline or Deadline(options.time_limit_s)
    form = SitingFormulation(sites, rules, lambda s: build_capacitated_model(coverage, s, rules, capacity))
    full: SitingModel = form.build(form.allowed)  # type: ignore[assignment]
    weight = full.milp.objective[full.milp.col_blocks["z"]]
    hosts = greedy_plan(full.cols, sites, rules, capacity_gains(full.rows, full.cols, weight[None, :], capacity),
                        time_limit_s=deadline.share(0.1))
    starts = [h for h in (hosts, start) if h is not None]
    quick = knapsack_bound(full.rows.R, weight, full.cols, sites, rules, capacity=capacity,
                           residents=row_residents(full.rows))
    return search_plan(form, Sense.MAXIMIZE, deadline, options, full=full, starts=starts,
                       reach=site_reach(full.rows.R, full.cols),
                       bound=coverage_bound(full.cols, full.rows, sites, rules, weight, capacity), say=say,
                       quick_bound=quick)


__all__ = ["capacity_gains", "capacity_rows", "coverage_bound", "optimize_capacitated", "row_residents"]
