"""A bound for every objective without its full LP: Benders cuts over the plan columns, in closed form.

At district scale an objective's whole LP (hundreds of thousands of coverage, allocation or
walking rows) takes HiGHS minutes; the plan columns alone (``x`` per allowed (site, service)
pair, ``y`` per site) are a few thousand. Following the Benders decompositions of covering
(Cordeau, Furini & Ljubić, EJOR 2019) and of the p-median's radius formulation
(Duran-Mateluna, Alès & Elloumi, EJOR 2023), the rest is projected out: rows are grouped
(by term — an objective, an age group, a target — and by neighbourhood), each group ``h``
gets one variable ``θ_h`` for its value, and the master LP over ``x, y, θ`` (and the
objective's own columns, e.g. the smallest share) holds the plan rules of
:mod:`siting.model.rules`, the objective's rows over ``θ`` and, for every point ``x̄`` met, a
cut per group, exact at ``x̄`` and valid everywhere:

* coverage rows (:class:`CoverCuts`; value ``Σ_r W_r min(1, (R x)_r)``, concave)::

      θ_h ≤ Σ_{r ∈ h, (R x̄)_r ≥ 1} W_r + Σ_k x_k Σ_{r ∈ h, (R x̄)_r < 1, r ∈ N(k)} W_r

* walks (:class:`RadiusCuts`; value ``Σ_c W_c min(f_c, min_{k open} d_ck)``, convex), with
  ``D_c`` the distance at which the pairs nearest to ``c`` first add up to one at ``x̄``::

      θ_h ≥ Σ_{c ∈ h} W_c (D_c − Σ_{k : d_ck < D_c} (D_c − d_ck) x_k)

The master's LP optimum is a valid bound at every iteration (a relaxation of the LP of the
whole model); Kelley's method with in-out stabilisation (Ben-Ameur & Neto 2007) closes it on
the LP bound. Its ``x`` solution rates the pairs for the kernel search, its reduced costs fix
pairs that cannot be in a plan better than the best one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from siting.model.milp import Sense
from siting.model.rules import RuleRows, stack_rows
from siting.optimizer.cuts import CoverCuts, CutOracle, RadiusCuts, chunk, neighbourhood_order
from siting.solvers.highs import new_highs, run_highs, same_value, set_start, signalled


@dataclass
class Master:
    """The master problem's fixed part: columns, rows and objective over ``x, y, θ`` and the objective's own.

    Attributes
    ----------
    col_sizes
        Column blocks in order (``x``, ``y``, ``theta``, then any others).
    rows
        Row blocks (plan rules, the objective's rows over ``θ``).
    objective
        Objective coefficients per block.
    sense
        Maximise or minimise.
    col_lower, col_upper
        Bounds per block (default ``[0, 1]`` for ``x, y``, free for ``theta``, ``[0, ∞)`` for others).
    offset
        Constant added to the objective.
    evaluable
        ``θ`` appear in the objective only: the master's objective with every ``θ`` at its true
        value is the LP value of the master's point (the convergence test); false when rows
        over ``θ`` constrain the plan (targets, shares).
    """

    col_sizes: dict[str, int]
    rows: list[RuleRows]
    objective: dict[str, np.ndarray]
    sense: Sense
    col_lower: dict[str, np.ndarray] = field(default_factory=dict)
    col_upper: dict[str, np.ndarray] = field(default_factory=dict)
    offset: float = 0.0
    evaluable: bool = True


@dataclass
class CuttingReport:
    """What the cutting-plane phase did."""

    iterations: int = 0
    cuts: int = 0
    seconds: float = 0.0
    bound: float = float("nan")
    converged: bool = False
    x: np.ndarray | None = None
    reduced_costs: np.ndarray | None = None  # of the x and y columns at the last master LP
    plan: np.ndarray | None = None  # values of the x and y columns at the last master LP
    mip_rounds: int = 0
    infeasible: bool = False  # the master has no solution: neither has the problem
    log: list[str] = field(default_factory=list)


def _slices(col_sizes: dict[str, int]) -> dict[str, slice]:
    out, c0 = {}, 0
    for name, size in col_sizes.items():
        out[name] = slice(c0, c0 + size)
        c0 += size
    return out


class CuttingPlanes:
    """The master problem in HiGHS with its cuts: LP phase, then master MIP rounds.

    Parameters
    ----------
    master
        Columns, rows and objective without cuts.
    oracles
        Each oracle with the first of its ``θ`` columns (an offset within the ``theta`` block).
    threads, seed
        HiGHS settings.
    """

    def __init__(self, master: Master, oracles: list[tuple[CutOracle, int]], *, threads: int = 1,
                 seed: int = 0) -> None:
        import highspy

        self.master, self.oracles = master, oracles
        self.cs = _slices(master.col_sizes)
        n_cols = sum(master.col_sizes.values())
        A, lo, hi, _blocks = stack_rows(master.rows, master.col_sizes)
        c = np.zeros(n_cols)
        for b, v in master.objective.items():
            c[self.cs[b]] = v
        cl = np.zeros(n_cols)
        cu = np.ones(n_cols)
        for b in master.col_sizes:  # θ free, the objective's own columns non-negative
            if b == "theta":
                cl[self.cs[b]], cu[self.cs[b]] = -np.inf, np.inf
            elif b not in ("x", "y"):
                cu[self.cs[b]] = np.inf
        for b, v in master.col_lower.items():
            cl[self.cs[b]] = v
        for b, v in master.col_upper.items():
            cu[self.cs[b]] = v
        self.n_cols = n_cols
        self.c = c
        self.h = new_highs(False)
        self.h.setOptionValue("threads", int(threads))
        self.h.setOptionValue("random_seed", int(seed))
        self.inf = highspy.kHighsInf
        self.h.passModel(_lp(n_cols, c, cl, cu, A, lo, hi, master.sense, master.offset, self.inf))
        self.deadline = time.perf_counter()
        self.h.cbSimplexInterrupt.subscribe(self._interrupt)
        self.h.cbIpmInterrupt.subscribe(self._interrupt)
        self.h.cbMipInterrupt.subscribe(self._interrupt)
        self.maximize = master.sense is Sense.MAXIMIZE
        self.report = CuttingReport()

    def plan_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the plan columns (``x`` then ``y``) as the master holds them now."""
        lp = self.h.getLp()
        n = self.cs["y"].stop
        return np.asarray(lp.col_lower_[:n], dtype=float), np.asarray(lp.col_upper_[:n], dtype=float)

    def _agrees(self, h: Any, objective: float) -> bool:
        """True when HiGHS's objective is its solution's own value (within rounding)."""
        return same_value(float(self.c @ np.asarray(h.getSolution().col_value) + self.master.offset), objective)

    def _interrupt(self, event: Any) -> None:
        event.interrupt(bool(time.perf_counter() >= self.deadline or signalled()))

    def lp(self, *, start: np.ndarray | None, deadline: float, tolerance: float = 1e-4,
           cutoff: float | None = None) -> CuttingReport:
        """Kelley's method with in-out stabilisation on the master LP (module docstring).

        Parameters
        ----------
        start
            ``x`` of a known plan, the first stability centre (``None``: zeros).
        deadline
            ``time.perf_counter()`` value at which to stop (the bound so far stands).
        tolerance
            Stop when the LP bound and the value at the master's point agree to this relative gap.
        cutoff
            Stop as soon as the bound reaches this value (a branch-and-bound node that cannot
            hold a better plan than one of this value).

        Returns
        -------
        CuttingReport
            The bound (``nan`` when no master LP was solved), the master's last ``x``, reduced costs.
        """
        import highspy

        report, h, cs, master, oracles = self.report, self.h, self.cs, self.master, self.oracles
        t0 = time.perf_counter()
        self.deadline = deadline
        xs = cs["x"]
        K = xs.stop - xs.start
        center = np.zeros(K) if start is None else np.asarray(start, dtype=float)
        alpha = 0.5
        x_master: np.ndarray | None = None
        theta: np.ndarray | None = None
        history: list[float] = []
        first = report.cuts == 0
        while time.perf_counter() < deadline:
            points = [center] if x_master is None and first else \
                [alpha * x_master + (1 - alpha) * center, x_master] if x_master is not None else []
            added = 0
            for point in points:
                added = _add_cuts(h, oracles, cs, point, x_master, theta, self.inf, report)
                if added:
                    break
            if x_master is not None and not added:
                report.converged = True  # no cut separates the master's point: it is the LP optimum
                break
            run_highs(h)
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                report.infeasible = h.getModelStatus() == highspy.HighsModelStatus.kInfeasible
                break
            report.iterations += 1
            sol = h.getSolution()
            xv = np.asarray(sol.col_value)
            bound = float(h.getInfo().objective_function_value)
            report.bound = bound
            report.x = xv[xs].copy()
            report.reduced_costs = np.asarray(sol.col_dual)[: cs["y"].stop].copy()
            report.plan = xv[: cs["y"].stop].copy()
            x_master = xv[xs].copy()
            theta = xv
            history.append(bound)
            if cutoff is not None and (bound >= cutoff if not self.maximize else bound <= cutoff):
                break
            at = _value_at(master, oracles, cs, xv, x_master)
            text = f"cutting planes: iteration {report.iterations}, bound {bound:,.8g}"
            if at is not None:
                gap = abs(bound - at) / max(abs(at), 1e-9)
                text += f", value at the master's point {at:,.8g} (gap {gap:.4%})"
                if gap <= tolerance:
                    report.converged = True
                    report.log.append(text)
                    break
            report.log.append(text)
            if len(history) > 6 and abs(history[-6] - bound) <= 0.1 * tolerance * max(abs(bound), 1e-9):
                alpha = 1.0  # stalled: pure Kelley steps
            if center is not None:
                center = 0.5 * center + 0.5 * x_master
            first = False
        report.seconds += time.perf_counter() - t0
        return report

    def mip(self, *, start: np.ndarray | None, deadline: float, gap: float,
            value_of: Any, fix_zero: np.ndarray | None = None) -> tuple[np.ndarray | None, float]:
        """Master MIP rounds: solve, evaluate the master's plan exactly, cut it if it was under-rated, again.

        Parameters
        ----------
        start
            ``x`` of the best known plan (warm start).
        deadline
            ``time.perf_counter()`` value at which to stop.
        gap
            Relative gap at which a round may stop.
        value_of
            ``value_of(x)``: the exact objective of a 0/1 ``x`` (and it may keep the plan).
        fix_zero
            Columns of ``x`` to hold at zero (reduced-cost fixing).

        Returns
        -------
        x, bound
            The last master plan (``None`` without one) and the master MIP's bound, a valid
            bound of the whole problem (``nan`` without one).
        """
        import highspy

        h, cs = self.h, self.cs
        self.deadline = deadline
        xs, ys = cs["x"], cs["y"]
        n_int = ys.stop
        h.changeColsIntegrality(n_int, np.arange(n_int, dtype=np.int32),
                                np.array([highspy.HighsVarType.kInteger] * n_int))
        if fix_zero is not None and fix_zero.any():
            idx = (xs.start + np.flatnonzero(fix_zero)).astype(np.int32)
            h.changeColsBounds(idx.size, idx, np.zeros(idx.size), np.zeros(idx.size))
        h.setOptionValue("mip_rel_gap", float(gap))
        bound = float("nan")
        x_best: np.ndarray | None = None
        incumbent = start
        while time.perf_counter() < deadline:
            h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.01))
            if incumbent is not None:  # the plan's x; HiGHS completes y and θ
                given = np.full(self.n_cols, np.nan)
                given[xs] = incumbent
                set_start(h, given)
            run_highs(h)
            info = h.getInfo()
            if info.primal_solution_status == 2 and not self._agrees(h, info.objective_function_value):
                # HiGHS's presolved master reported a value its (postsolved) solution does not have (seen on
                # tiny walking-time masters with a site forced in): solved again without presolve
                h.setOptionValue("presolve", "off")
                h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.01))
                run_highs(h)
                h.setOptionValue("presolve", "choose")
                info = h.getInfo()
            if info.primal_solution_status != 2:
                self.report.infeasible = h.getModelStatus() == highspy.HighsModelStatus.kInfeasible
                break
            mb = float(info.mip_dual_bound)
            if np.isfinite(mb):  # every round's master is a relaxation: the tightest bound of any round holds
                bound = mb if not np.isfinite(bound) else (min(bound, mb) if self.maximize else max(bound, mb))
            xv = np.asarray(h.getSolution().col_value)
            x = np.round(xv[xs])
            true = float(value_of(x))
            x_best = x
            self.report.mip_rounds += 1
            master_value = float(self.c @ xv + self.master.offset)  # the solution's own value, not HiGHS's word
            under = (master_value > true + 1e-9 * max(abs(true), 1.0)) if self.maximize else \
                (master_value < true - 1e-9 * max(abs(true), 1.0))
            if not under:  # the master's plan is valued right: the master's bound is the problem's
                break
            added = _add_cuts(h, self.oracles, cs, x, x, xv, self.inf, self.report)
            if not added:
                break
            incumbent = x
        return x_best, bound


def reduced_cost_fixing(values: np.ndarray, reduced_costs: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                        slack: float, *, tolerance: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Columns an LP optimum holds at their bounds for every plan better than the best one (minimising sense).

    A column at its lower bound whose reduced cost ``d`` exceeds ``slack`` (the best plan's value
    less the LP bound) would lift the bound past the best plan if it moved up, so it stays at that
    bound; likewise a column at its upper bound with ``-d`` above ``slack``. A column fixed at a
    bound it cannot leave anyway (a site forced in sits at its lower bound 1) is left as it is.

    Parameters
    ----------
    values, reduced_costs
        The LP's column values and reduced costs (of a minimisation: negate them for a maximisation).
    lower, upper
        The columns' bounds in that LP.
    slack
        The best plan's value less the LP bound (nothing is fixed when negative).
    tolerance
        Distance to a bound within which a column counts as at it.

    Returns
    -------
    lower, upper
        The new bounds (copies).
    """
    lo, up = lower.copy(), upper.copy()
    if slack < 0:
        return lo, up
    at_lower = (values <= lower + tolerance) & (reduced_costs > slack)
    at_upper = (values >= upper - tolerance) & (-reduced_costs > slack)
    up[at_lower] = lo[at_lower]
    lo[at_upper] = up[at_upper]
    return lo, up


def _add_cuts(h: Any, oracles: list[tuple[CutOracle, int]], cs: dict[str, slice], point: np.ndarray,
              x_master: np.ndarray | None, solution: np.ndarray | None, inf: float,
              report: CuttingReport) -> int:
    """Add the cuts at ``point`` (all of them at first; later only those the master's point violates).

    Each oracle says which side its cuts bound ``θ`` from (:attr:`CutOracle.upper`); the master's
    sense does not decide it (least cost minimises a cost under coverage cut from above).
    """
    xs = cs["x"]
    idx_parts, val_parts, start_parts, lo_parts, hi_parts = [], [], [], [], []
    n_rows, n_entries = 0, 0
    for oracle, offset in oracles:
        _value, const, coef = oracle.cuts(point)
        coef = coef.tocsr()
        coef.sort_indices()
        G = oracle.n_groups
        theta_cols = cs["theta"].start + offset + np.arange(G)
        upper = oracle.upper
        keep = np.ones(G, dtype=bool)
        if x_master is not None and solution is not None:
            at = const + coef @ x_master
            th = solution[theta_cols]
            tol = 1e-7 * np.maximum(np.abs(at), 1.0)
            keep = th > at + tol if upper else th < at - tol
        rows = np.flatnonzero(keep)
        if rows.size == 0:
            continue
        sub = coef[rows]
        lens = np.diff(sub.indptr)
        idx = np.insert(xs.start + sub.indices, sub.indptr[:-1], theta_cols[rows])
        val = np.insert(-sub.data, sub.indptr[:-1], 1.0)
        idx_parts.append(idx)
        val_parts.append(val)
        start_parts.append(n_entries + sub.indptr[:-1] + np.arange(rows.size))
        n_entries += int(lens.sum()) + rows.size
        c = const[rows]
        lo_parts.append(np.full(rows.size, -inf) if upper else c)
        hi_parts.append(c if upper else np.full(rows.size, inf))
        n_rows += rows.size
    if n_rows == 0:
        return 0
    idx_all = np.concatenate(idx_parts).astype(np.int32)
    h.addRows(n_rows, np.concatenate(lo_parts), np.concatenate(hi_parts), idx_all.size,
              np.concatenate(start_parts).astype(np.int32), idx_all, np.concatenate(val_parts))
    report.cuts += n_rows
    return n_rows


def _value_at(master: Master, oracles: list[tuple[CutOracle, int]], cs: dict[str, slice], xv: np.ndarray,
              x: np.ndarray) -> float | None:
    """The master's objective with every ``θ`` at its true value at ``x`` (the LP value of that point)."""
    if not master.evaluable:
        return None
    v = xv.copy()
    for oracle, offset in oracles:
        value, _c, _k = oracle.cuts(x)
        start = cs["theta"].start + offset
        v[start:start + oracle.n_groups] = value
    total = master.offset
    for b, coef in master.objective.items():
        total += float(np.asarray(coef) @ v[cs[b]])
    return float(total)


def _lp(n_cols: int, c: np.ndarray, cl: np.ndarray, cu: np.ndarray, A: sparse.csr_matrix, lo: np.ndarray,
        hi: np.ndarray, sense: Sense, offset: float, inf: float) -> Any:
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = c
    lp.col_lower_ = np.where(np.isfinite(cl), cl, -inf)
    lp.col_upper_ = np.where(np.isfinite(cu), cu, inf)
    lp.row_lower_ = np.where(np.isfinite(lo), lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(hi), hi, inf)
    csc = A.tocsc()
    csc.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = A.shape[0]
    lp.sense_ = highspy.ObjSense.kMaximize if sense is Sense.MAXIMIZE else highspy.ObjSense.kMinimize
    lp.offset_ = float(offset)
    return lp


__all__ = ["CoverCuts", "CutOracle", "CuttingReport", "Master", "RadiusCuts", "chunk",
           "neighbourhood_order", "reduced_cost_fixing"]
