"""Large-neighbourhood search: re-optimise one neighbourhood of sites exactly, keep the rest.

A local search that moves one site at a time stops at plans a few per cent below the optimum:
closing two shops to pay for one larger building, or moving a service between sites, takes
several moves at once. Here a neighbourhood of sites — a seed site and the sites that reach
the most coverage rows in common with it, plus (in turn) the open sites far away whose budget
it may take — is set free, every other site keeps its state, and the subproblem is solved
exactly with the pattern formulation: its rows are only the rows the free sites reach and the
fixed sites do not already cover, merged again, so it is small. A better subproblem solution
is a better plan; the plan never gets worse. When a neighbourhood grows to hold every site,
its subproblem is the whole instance and its bound is a proof.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from siting.model.instance import CoveringInstance
from siting.model.patterns import pattern_milp
from siting.model.reduce import merge_rows
from siting.solvers.base import SolveOptions, Status
from siting.solvers.highs import HighsBackend


@dataclass
class LnsReport:
    """What the neighbourhood search did."""

    rounds: int = 0
    improved: int = 0
    seconds: float = 0.0
    proven_bound: float = float("inf")  # set when one subproblem held every site: a global bound


class SiteOverlap:
    """Sites × sites: weight of the coverage rows both sites reach (for any service), row by row.

    A row is computed when a neighbourhood first asks for it and kept: on a large district the
    whole matrix costs far more than the few hundred rows a search reads (the product of the
    coverage matrix with itself).
    """

    def __init__(self, instance: CoveringInstance) -> None:
        inst = instance
        R = inst.cover.astype(np.float64).tocsr()
        to_site = sparse.csr_matrix((np.ones(inst.n_cols), (np.arange(inst.n_cols), inst.x_site)),
                                    shape=(inst.n_cols, inst.n_sites))
        reach = (R @ to_site).tocsr()  # coverage rows × sites
        reach.data[:] = 1.0
        self.reach = reach
        self.rows_of = reach.T.tocsr()  # sites × coverage rows
        self.weight = np.asarray(inst.weight, dtype=np.float64)
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def row(self, site: int) -> tuple[np.ndarray, np.ndarray]:
        """The sites sharing rows with ``site`` (itself included) and the weight they share."""
        if site not in self._rows:
            rows = self.rows_of.indices[self.rows_of.indptr[site]:self.rows_of.indptr[site + 1]]
            shared = (sparse.csr_matrix(self.weight[rows][None, :]) @ self.reach[rows]).tocsr()
            shared.sort_indices()  # ties in shared weight: the lower site index first
            self._rows[site] = (shared.indices, shared.data)
        return self._rows[site]


def subproblem(instance: CoveringInstance, x: np.ndarray, free: np.ndarray) -> tuple[CoveringInstance, np.ndarray]:
    """The instance restricted to the columns of the ``free`` sites, the others fixed as in ``x``.

    Returns the subproblem and the indices of its columns in the full instance.
    """
    inst = instance
    x = np.asarray(x) > 0.5
    free_col = free[inst.x_site]
    fixed_x = x & ~free_col
    covered = inst.cover @ fixed_x.astype(np.float64) > 0.5
    cols = np.flatnonzero(free_col)
    rows = np.flatnonzero(~covered)
    cover = inst.cover[rows][:, cols].tocsr()
    open_fixed = inst.force_in.copy()
    open_fixed[inst.x_site[fixed_x]] = True
    open_fixed &= ~free
    forced_free = inst.force_in & free
    spent = float(inst.site_cost[open_fixed | forced_free].sum() + inst.x_cost[fixed_x].sum())
    count = np.bincount(inst.x_service[fixed_x], minlength=inst.n_services)
    site_cost = np.where(forced_free, 0.0, inst.site_cost)  # already paid
    sub = replace(inst, cover=cover, weight=inst.weight[rows], row_service=inst.row_service[rows],
                  x_site=inst.x_site[cols], x_service=inst.x_service[cols], x_cost=inst.x_cost[cols],
                  site_cost=site_cost,
                  force_in=np.zeros(inst.n_sites, dtype=bool), budget=inst.budget - spent,
                  min_sites=np.maximum(inst.min_sites - count, 0),
                  max_sites=np.where(inst.max_sites >= 0, inst.max_sites - count, -1), stats={})
    keep = cover.getnnz(axis=1) > 0
    sub = replace(sub, cover=cover[keep], weight=sub.weight[keep], row_service=sub.row_service[keep])
    return merge_rows(sub), cols


def neighbourhood(overlap: SiteOverlap, seed: int, size: int, open_: np.ndarray,
                  rng: np.random.Generator, far_open: int) -> np.ndarray:
    """The seed, the sites overlapping it most, and a few open sites elsewhere (budget to move)."""
    m = open_.size
    indices, shared = overlap.row(seed)
    order = indices[np.argsort(-shared, kind="stable")]
    free = np.zeros(m, dtype=bool)
    free[seed] = True
    free[order[:size]] = True
    others = np.flatnonzero(open_ & ~free)
    if others.size and far_open > 0:
        free[rng.choice(others, size=min(far_open, others.size), replace=False)] = True
    return free


def lns(instance: CoveringInstance, x: np.ndarray, *, time_limit_s: float, seed: int = 0,
        size: int = 40, far_open: int = 4, sub_time_s: float = 5.0, report: LnsReport | None = None,
        weights: np.ndarray | None = None, stop_value: float = np.inf) -> np.ndarray:
    """Improve a plan by solving neighbourhood subproblems exactly until the time is up.

    Parameters
    ----------
    instance
        The covering instance.
    x
        A feasible 0/1 column vector.
    time_limit_s
        Seconds to spend.
    seed
        Random seed (neighbourhoods are drawn at random, reproducibly).
    size
        Sites in the first neighbourhood (besides the far open ones); the size then adapts:
        it grows after a subproblem solved to optimality without gain (the neighbourhood was
        too small to find anything) and shrinks after one that ran out of time. Once it
        reaches every site the whole instance is tried as one subproblem; after that subproblem
        once runs out of time, only neighbourhoods are (a neighbourhood stops at the sites
        that share rows with its seed, however large the size).
    far_open
        Open sites elsewhere set free too, so that budget can move between areas.
    sub_time_s
        Time limit of one subproblem.
    weights
        Optional preference of seed sites (e.g. their LP value); uniform otherwise.
    stop_value
        Stop once the plan reaches this value (it is then proven good enough).

    Returns
    -------
    numpy.ndarray
        A plan at least as good as ``x``.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    report = report or LnsReport()
    inst = instance
    rng = np.random.default_rng(seed)
    x = (np.asarray(x) > 0.5).astype(np.float64)
    value = inst.value(x)
    overlap = SiteOverlap(inst)
    has_cols = np.bincount(inst.x_site, minlength=inst.n_sites) > 0
    p = has_cols.astype(float) if weights is None else np.where(has_cols, np.maximum(weights, 0) + 1e-3, 0.0)
    p = p / p.sum()
    backend = HighsBackend()
    n_sites = int(has_cols.sum())
    current = float(min(size, n_sites))
    margin = min(0.5, 0.05 * time_limit_s)
    whole = True  # try the whole instance as one subproblem, until it once runs out of time
    while time.perf_counter() < deadline - margin and value < stop_value:
        report.rounds += 1
        open_ = np.asarray(inst.hosts(x).any(axis=1), dtype=bool)
        if current >= n_sites and whole:
            free = has_cols.copy()
        else:
            free = neighbourhood(overlap, int(rng.choice(inst.n_sites, p=p)), int(current), open_, rng, far_open)
        everything = bool(free[has_cols].all())
        sub, cols = subproblem(inst, x, free)
        model = pattern_milp(sub)
        if model is None or sub.n_cols == 0:
            continue
        start = model.solution_of(x[cols])
        if model.covering.milp.violation(start) > 1e-6:  # the current plan must be a subproblem plan
            continue
        left = deadline - time.perf_counter()
        result = backend.solve(model.covering.milp, SolveOptions(
            time_limit_s=max(min(sub_time_s, left), 0.1), mip_gap=1e-6, warm_start=start, seed=report.rounds))
        if result.solution is None or result.status is Status.INFEASIBLE:
            continue
        trial = x.copy()
        trial[cols] = np.round(result.solution[model.covering.x_cols])
        v = inst.value(trial)
        if v > value + 1e-9 * max(abs(value), 1.0) and not inst.violation(trial):
            x, value = trial, v
            report.improved += 1
        elif result.status is Status.OPTIMAL:
            current = min(current * 1.1 + 1, max(n_sites, 1))
        if everything and result.status is Status.OPTIMAL:  # the whole instance, solved: nothing left to find
            report.proven_bound = max(float(result.bound), value)
            break
        if result.status is Status.TIME_LIMIT:
            current = max(current * 0.8, 8.0)
            whole = whole and not everything  # the whole instance is too hard: neighbourhoods only
    report.seconds += time.perf_counter() - t0
    return x
