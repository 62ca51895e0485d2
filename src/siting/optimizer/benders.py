"""Benders decomposition of budgeted covering: the coverage variables projected out.

With many demand points and few sites, most of a covering MILP is its coverage rows
``z_r ≤ Σ_{k ∈ N(r)} x_k``. For a fixed plan ``x̄`` the best ``z`` is known in closed form,
``z_r = min(1, (R x̄)_r)``, and so is the dual of that subproblem. Following Cordeau, Furini
& Ljubić (EJOR 2019), the rows are grouped (by service, and within a service by position
along a bandwidth-reducing order of the sites, so that a group is a neighbourhood), each group
``g`` gets one variable ``θ_g``, and the master problem over the site decisions only reads::

    maximise    Σ_g θ_g
    subject to  θ_g ≤ Σ_{r ∈ g, (R x̄)_r ≥ 1} w_r + Σ_k x_k Σ_{r ∈ g, (R x̄)_r < 1, r ∈ N(k)} w_r
                                                  (a Benders cut, for every point x̄ met)
                the site rows of the pattern formulation (:mod:`siting.model.patterns`)

A cut is exact at ``x̄`` and an over-estimate everywhere else, so the master is a relaxation:
its LP or MIP bound is a valid bound on the covering optimum at every moment, and every plan
it proposes is evaluated exactly.

The LP phase is Kelley's cutting-plane method stabilised by in-out separation (Ben-Ameur &
Neto): cuts are taken at a point between the master's solution and a stability centre that
starts at the heuristic plan. HiGHS's Python interface cannot add lazy constraints during
branch and bound, so the MIP phase iterates: the master MIP is solved with the best known plan
as its incumbent; each master incumbent found is evaluated exactly in a callback; when one
over-estimates its value the search is stopped, cuts at those points are added and the master
is solved again. The master's dual bound at every stop is a valid bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import reverse_cuthill_mckee

from siting.model.instance import CoveringInstance
from siting.model.patterns import Patterns, plan_constraints
from siting.solvers.highs import new_highs, run_highs, signalled

SAMPLE_NONZEROS = 2_000_000  # row_groups: coverage nonzeros read to order the columns


def row_groups(instance: CoveringInstance, rows_per_group: int = 400, max_groups: int = 64) -> np.ndarray:
    """Group index of every coverage row: by service, then by neighbourhood.

    Sites are ordered by reverse Cuthill–McKee on the site-overlap graph (sites reaching
    common rows sit close in the order; above :data:`SAMPLE_NONZEROS` coverage nonzeros the
    graph is read from every few rows); a row's position is the mean position of the columns
    reaching it, and each service's rows are cut into chunks of equal weight along it.
    """
    inst = instance
    R = inst.cover.astype(np.float64).tocsr()
    grp = np.zeros(inst.n_rows, dtype=np.int64)
    if inst.n_rows == 0:
        return grp
    # the order only needs which columns share rows: on a large district every few rows suffice
    stride = int(R.nnz // SAMPLE_NONZEROS) + 1 if R.nnz > SAMPLE_NONZEROS else 1
    sample = R if stride == 1 else R[::stride]
    overlap = (sample.T @ sample).tocsr()
    order = reverse_cuthill_mckee(overlap, symmetric_mode=True)
    rank = np.empty(inst.n_cols)
    rank[order] = np.arange(inst.n_cols)
    pos = (R @ rank) / np.maximum(R.getnnz(axis=1), 1)
    g0 = 0
    for s in range(inst.n_services):
        rows = np.flatnonzero(inst.row_service == s)
        if rows.size == 0:
            continue
        n_groups = int(np.clip(rows.size // rows_per_group, 1, max_groups))
        o = rows[np.argsort(pos[rows], kind="stable")]
        cw = np.cumsum(inst.weight[o])
        cw /= max(cw[-1], 1e-12)
        grp[o] = g0 + np.minimum((cw * n_groups).astype(np.int64), n_groups - 1)
        g0 += n_groups
    _, grp = np.unique(grp, return_inverse=True)  # no empty groups
    return grp.ravel()


@dataclass
class BendersReport:
    """What the decomposition did, for logs and benchmarks."""

    lp_bound: float = float("inf")
    lp_iterations: int = 0
    lp_seconds: float = 0.0
    mip_rounds: int = 0
    mip_seconds: float = 0.0
    cuts: int = 0
    groups: int = 0
    log: list[str] = field(default_factory=list)


class BendersCovering:
    """The Benders master of a covering instance, in one HiGHS model kept between solves.

    Parameters
    ----------
    instance
        The covering instance (coverage rows become cuts).
    patterns
        The sites' patterns (the master's site rows).
    groups
        Group of every coverage row (:func:`row_groups`).
    verbose
        Show HiGHS's log.
    """

    def __init__(self, instance: CoveringInstance, patterns: Patterns, groups: np.ndarray, *,
                 verbose: bool = False, threads: int = 1, seed: int = 0) -> None:
        import highspy

        self.inst = inst = instance
        self.pat = patterns
        self.R = inst.cover.astype(np.float64).tocsr()
        self.K, self.P = inst.n_cols, patterns.n
        self.G = int(groups.max()) + 1 if groups.size else 0
        self.group = groups
        self.group_matrix = sparse.csr_matrix((np.ones(inst.n_rows), (groups, np.arange(inst.n_rows))),
                                              shape=(self.G, inst.n_rows))
        self.group_weight = self.group_matrix @ inst.weight
        self.n_cuts = 0
        h = self.h = new_highs(verbose)
        h.setOptionValue("threads", int(threads))
        h.setOptionValue("random_seed", int(seed))
        K, P, G = self.K, self.P, self.G
        n = K + P + G
        self.theta = slice(K + P, n)
        inf = highspy.kHighsInf
        h.addVars(n, np.zeros(n), np.concatenate([np.ones(K + P), self.group_weight]))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.concatenate([np.zeros(K + P), np.ones(G)]))
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        A, lower, upper, _ = plan_constraints(inst, patterns, extra=G)
        lower = np.where(np.isfinite(lower), lower, -inf)
        upper = np.where(np.isfinite(upper), upper, inf)
        self._add_rows(A, lower, upper)
        self.base_rows = int(A.shape[0])
        self.integer_cols = np.arange(K + P, dtype=np.int32)
        self.deadline = np.inf
        self.lp_status = "not solved"
        self.last_lp_x: np.ndarray | None = None
        self._interrupt_when: Callable[[], bool] = lambda: False

        def interrupt(event: Any) -> None:
            # set the flag both ways: HiGHS keeps it from one run to the next
            event.interrupt(bool(time.perf_counter() >= self.deadline or self._interrupt_when() or signalled()))

        for callback in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
            callback.subscribe(interrupt)

    def _add_rows(self, A: sparse.csr_matrix, lower: np.ndarray, upper: np.ndarray) -> None:
        import highspy

        A = A.tocsr()
        A.sum_duplicates()
        A.eliminate_zeros()
        inf = highspy.kHighsInf
        self.h.addRows(A.shape[0], np.where(np.isfinite(lower), lower, -inf), np.where(np.isfinite(upper), upper, inf),
                       A.nnz, A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32),
                       A.data.astype(np.float64))

    def purge_cuts(self) -> int:
        """Drop the cuts whose slack is basic (they do not bind); returns how many were dropped."""
        import highspy

        h = self.h
        n_rows = h.getNumRow()
        if n_rows <= self.base_rows:
            return 0
        status = h.getBasis().row_status
        basic = np.array([status[i] == highspy.HighsBasisStatus.kBasic for i in range(self.base_rows, n_rows)])
        drop = np.flatnonzero(basic) + self.base_rows
        if drop.size:
            h.deleteRows(int(drop.size), drop.astype(np.int32))
        return int(drop.size)

    # -- the subproblem, in closed form -------------------------------------------------------
    def group_values(self, x: np.ndarray) -> np.ndarray:
        """Exact coverage value per group of a (possibly fractional) plan ``x``."""
        s = self.R @ x
        return np.asarray(self.group_matrix @ (self.inst.weight * np.minimum(s, 1.0)))

    def cuts_at(self, x: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, sparse.csr_matrix]:
        """Benders cuts at ``x`` for some groups: constants and coefficients (groups × columns)."""
        s = self.R @ x
        covered = s >= 1.0 - 1e-9
        w = self.inst.weight
        sel = self.group_matrix[groups]
        const = np.asarray(sel @ (w * covered))
        coef = (sel @ sparse.diags(w * ~covered) @ self.R).tocsr()
        return const, coef

    def add_cuts(self, x: np.ndarray, groups: np.ndarray) -> int:
        """Add the cuts at ``x`` for the given groups; returns how many were added."""
        if groups.size == 0:
            return 0
        const, coef = self.cuts_at(x, groups)
        n = self.K + self.P + self.G
        theta = sparse.csr_matrix((np.ones(groups.size), (np.arange(groups.size), self.K + self.P + groups)),
                                  shape=(groups.size, n))
        A = sparse.hstack([-coef, sparse.csr_matrix((groups.size, n - self.K))], format="csr") + theta
        self._add_rows(A, np.full(groups.size, -np.inf), const)
        self.n_cuts += int(groups.size)
        return int(groups.size)

    def solution_vector(self, x: np.ndarray) -> np.ndarray:
        """Master solution (x, u, θ) of an integer plan, θ its exact group values."""
        u = self.pat.of_hosts(self.inst.hosts(x))
        theta = self.group_values(x) * (1 - 1e-12)
        return np.concatenate([(np.asarray(x) > 0.5).astype(np.float64), u, theta])

    # -- LP phase -------------------------------------------------------------------------------
    def solve_lp(self, x_start: np.ndarray, *, deadline: float, stop_bound: float = -np.inf,
                 tolerance: float = 1e-4, alpha: float = 0.5, report: BendersReport | None = None,
                 max_iterations: int = 10_000, purge_every: int = 10) -> float:
        """Stabilised Kelley cutting planes on the master's LP relaxation.

        Parameters
        ----------
        x_start
            A feasible plan: the first stability centre (cuts are also taken there).
        deadline
            ``time.perf_counter()`` value at which to stop.
        stop_bound
            Stop as soon as the LP bound falls to this value (the plan is then proven good enough).
        tolerance
            Stop when the LP bound is within this relative distance of the best LP point.
        alpha
            Weight of the master's solution in the separation point.
        purge_every
            Every so many iterations, drop the cuts that do not bind (0: never).

        Returns
        -------
        float
            The LP bound (valid whenever the method stops).
        """
        report = report or BendersReport()
        t0 = time.perf_counter()
        h = self.h
        K, G = self.K, self.G
        tol_abs = 1e-7 * max(float(self.inst.weight.sum()), 1.0)
        x_in = np.asarray(x_start, dtype=np.float64).copy()
        self.add_cuts(x_in, np.arange(G))
        bound, best_point = np.inf, float(self.group_values(x_in).sum())
        self.deadline = deadline
        for it in range(max_iterations):
            run_highs(h)
            status = h.getModelStatus()
            if status == _status().kInfeasible:
                self.lp_status = "infeasible"
                break
            if time.perf_counter() >= deadline or status != _status().kOptimal:
                self.lp_status = "stopped"
                break
            self.lp_status = "optimal"
            sol = np.asarray(h.getSolution().col_value)
            bound = min(bound, float(h.getInfo().objective_function_value))
            x_out, theta = sol[:K], sol[self.theta]
            self.last_lp_x = x_out
            x_sep = alpha * x_out + (1 - alpha) * x_in
            const, coef = self.cuts_at(x_sep, np.arange(G))
            best_point = max(best_point, float(self.group_values(x_sep).sum()))
            violated = np.flatnonzero(theta > const + coef @ x_out + tol_abs)
            if violated.size:
                self.add_cuts(x_sep, violated)
            else:  # the cut at the separation point misses the master's point: move the centre
                x_in = x_sep
                out_values = self.group_values(x_out)
                best_point = max(best_point, float(out_values.sum()))
                violated = np.flatnonzero(theta > out_values + tol_abs)
                if violated.size == 0:  # converged: the master's value is the LP optimum
                    report.lp_iterations = it + 1
                    break
                self.add_cuts(x_out, violated)
            report.lp_iterations = it + 1
            if purge_every and (it + 1) % purge_every == 0:
                self.purge_cuts()
            if bound <= stop_bound or bound - best_point <= tolerance * max(abs(bound), 1.0):
                break
        report.lp_bound = min(report.lp_bound, bound)
        report.lp_seconds += time.perf_counter() - t0
        report.cuts = self.n_cuts
        report.log.append(f"LP: bound {bound:,.1f} after {report.lp_iterations} iterations, "
                          f"{self.n_cuts} cuts, {time.perf_counter() - t0:.1f} s")
        return bound

    # -- MIP phase ------------------------------------------------------------------------------
    def solve_mip(self, x_best: np.ndarray, *, deadline: float, gap: float, bound: float = np.inf,
                  improve: Callable[[np.ndarray], np.ndarray] | None = None,
                  report: BendersReport | None = None) -> tuple[np.ndarray, float, float]:
        """Iterate master MIPs until the best plan is proven within ``gap`` or the deadline.

        Parameters
        ----------
        x_best
            The best known plan (the master's incumbent).
        deadline
            ``time.perf_counter()`` value at which to stop.
        gap
            Relative gap at which to stop.
        bound
            A valid bound already known (the LP bound).
        improve
            Optional local search applied to every new plan the master proposes.

        Returns
        -------
        tuple
            The best plan, its value and the best bound.
        """
        import highspy

        report = report or BendersReport()
        t0 = time.perf_counter()
        h = self.h
        K = self.K
        x_best = (np.asarray(x_best) > 0.5).astype(np.float64)
        best = self.inst.value(x_best)
        h.changeColsIntegrality(self.integer_cols.size, self.integer_cols,
                                np.full(self.integer_cols.size, highspy.HighsVarType.kInteger))
        state: dict[str, Any] = {}

        def on_solution(event: Any) -> None:
            sol = np.asarray(event.data_out.mip_solution)
            x = (sol[:K] > 0.5).astype(np.float64)
            values = self.group_values(x)
            claimed = float(sol[self.theta].sum())
            state["points"].append((x, sol[self.theta].copy()))
            if values.sum() > state["best"] + 1e-9:
                state["best"], state["x"] = float(values.sum()), x
            if claimed > values.sum() + 1e-6 * max(abs(claimed), 1.0):
                state["violated"] += 1

        self.deadline = deadline
        self._interrupt_when = lambda: state["violated"] > 0
        h.cbMipImprovingSolution.subscribe(on_solution)
        try:
            while time.perf_counter() < deadline and not _within(best, bound, gap):
                state.update(points=[], violated=0, best=best, x=x_best)
                h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.01))
                h.setOptionValue("mip_rel_gap", gap / 2)
                h.setSolution(_solution(self.solution_vector(x_best)))
                run_highs(h)
                report.mip_rounds += 1
                info = h.getInfo()
                ms = h.getModelStatus()
                if ms == _status().kOptimal and state["violated"] == 0:
                    bound = min(bound, max(float(info.mip_dual_bound), state["best"]))
                elif np.isfinite(info.mip_dual_bound):
                    bound = min(bound, float(info.mip_dual_bound))
                if state["best"] > best:
                    best, x_best = state["best"], state["x"]
                    if improve is not None:
                        x_new = improve(x_best)
                        if self.inst.value(x_new) > best:
                            x_best, best = x_new, self.inst.value(x_new)
                new_cuts = 0
                for x, theta in state["points"]:
                    over = np.flatnonzero(theta > self.group_values(x) + 1e-7 * max(float(theta.sum()), 1.0))
                    new_cuts += self.add_cuts(x, over)
                if new_cuts == 0 and ms == _status().kOptimal:
                    break
                report.log.append(f"MIP round {report.mip_rounds}: best {best:,.1f}, bound {bound:,.1f}, "
                                  f"{state['violated']} over-estimated plans, {self.n_cuts} cuts")
        finally:
            h.cbMipImprovingSolution.unsubscribe(on_solution)
            self._interrupt_when = lambda: False
        report.mip_seconds += time.perf_counter() - t0
        report.cuts = self.n_cuts
        return x_best, best, max(bound, best)


def _within(value: float, bound: float, gap: float) -> bool:
    return bool(np.isfinite(bound) and bound - value <= max(gap * abs(value), 1e-6 * max(1.0, abs(value))))


def _status() -> Any:
    import highspy

    return highspy.HighsModelStatus


def _solution(values: np.ndarray) -> Any:
    import highspy

    sol = highspy.HighsSolution()
    sol.col_value = list(values)
    sol.value_valid = True
    return sol
