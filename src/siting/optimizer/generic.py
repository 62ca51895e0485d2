"""The search every objective shares: restricted models, kernel and neighbourhood search, one deadline.

Every formulation of :mod:`siting.model` decides the same thing — the ``x`` columns (a site
hosts a service) and ``y`` columns (a site is converted) of a :class:`~siting.model.structure.SiteColumns`
— and can be built over any subset of the allowed (site, service) pairs: fewer pairs, fewer
rows (coverage rows and walking levels merge again). A :class:`Formulation` is such a builder.
Over it, :class:`PlanSearch` keeps the best plan, its exact value and the best proven bound,
and runs, each to its share of one :class:`~siting.optimizer.deadline.Deadline`:

- :meth:`~PlanSearch.evaluate`: a plan's exact value — the model over that plan's pairs only,
  all of them fixed (a small LP: what the plan's facilities serve within capacity, the shares
  it reaches, the walks it shortens);
- :meth:`~PlanSearch.direct`: branch and bound on the whole model, warm-started with the best
  plan (small and medium models; its dual bound is a proof);
- :meth:`~PlanSearch.kernel`: kernel search (Angelelli, Mansini & Speranza 2010) — the pairs a
  bound's solution rates best and those of the best plan form a restricted model, solved
  exactly; buckets of the next-best pairs are added in turn while time is left;
- :meth:`~PlanSearch.neighbourhoods`: large-neighbourhood search — the pairs of a seed site and
  of the sites sharing the most rows with it are set free, every other pair of the best plan
  stays fixed, and the restricted model is solved exactly; the neighbourhood grows after a
  subproblem solved without gain and shrinks after one that ran out of time.

Every subproblem is handed to HiGHS warm-started with the best plan (a partial start: HiGHS
completes the continuous columns) and interrupted at its share of the deadline. A plan is
kept only when it is better than the best one so far; the answer is never worse than the
greedy plan the objective's optimizer starts from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from scipy import sparse

from siting.model.milp import MilpModel, Sense
from siting.model.structure import SiteColumns
from siting.optimizer.deadline import Deadline, stopped_at_limit
from siting.solvers.base import SolveOptions, SolveResult, Status, relative_gap
from siting.solvers.highs import HighsBackend

#: Above this many nonzeros the whole model is not handed to branch and bound.
DIRECT_MAX_NONZEROS = 150_000
#: Pairs in the first kernel, and in each bucket added to it.
KERNEL_PAIRS = 400
BUCKET_PAIRS = 150
#: Share of the kernel search's time left that each restricted solve but the last may take.
KERNEL_ROUND = 0.5
#: Sites set free in the first neighbourhood.
NEIGHBOURHOOD_SITES = 24

Progress = Callable[[str], None]


class Built(Protocol):
    """A model built over some pairs: its matrix form and its ``x`` columns."""

    @property
    def milp(self) -> MilpModel:
        """The matrix model (column blocks ``x`` and ``y`` at least)."""
        ...

    @property
    def cols(self) -> SiteColumns:
        """The (site, service) pairs behind the ``x`` columns."""
        ...


class Formulation(Protocol):
    """An objective's model, buildable over any subset of the allowed (site, service) pairs."""

    @property
    def allowed(self) -> np.ndarray:
        """Boolean (sites × services): every pair the whole model may choose."""
        ...

    def build(self, allowed: np.ndarray, fixed: np.ndarray | None = None) -> Built:
        """The model over the pairs ``allowed`` (a subset of :attr:`allowed`).

        ``fixed`` pairs (at sites none of whose pairs are free) will be held at 1: the model may
        leave them as columns (:func:`with_fixed` then fixes them) or absorb them.
        """
        ...

    def exact_value(self, hosts: np.ndarray) -> float | None:
        """A plan's value in closed form, or ``None`` when it takes a solve."""
        ...


def plan_start(built: Built, hosts: np.ndarray) -> np.ndarray:
    """A partial warm start of a plan: its ``x`` and ``y`` columns, ``nan`` elsewhere (HiGHS completes them)."""
    milp, cols = built.milp, built.cols
    out = np.full(milp.n_cols, np.nan)
    x = hosts[cols.x_site, cols.x_service].astype(float)
    xs, ys = milp.col_blocks["x"], milp.col_blocks["y"]
    out[xs] = x
    y = np.array(milp.col_lower[ys], dtype=float)
    np.maximum.at(y, cols.x_site, x)
    out[ys] = y
    return out


def with_fixed(built: Built, hosts: np.ndarray) -> MilpModel:
    """The model with every pair of ``hosts`` it has fixed to 1 (and their sites converted)."""
    milp, cols = built.milp, built.cols
    lower = milp.col_lower.copy()
    xs, ys = milp.col_blocks["x"], milp.col_blocks["y"]
    fixed = hosts[cols.x_site, cols.x_service]
    lower[xs] = np.maximum(lower[xs], fixed.astype(float))
    ylow = lower[ys].copy()
    np.maximum.at(ylow, cols.x_site, fixed.astype(float))
    lower[ys] = ylow
    return replace(milp, col_lower=lower)


def with_plan(built: Built, hosts: np.ndarray) -> MilpModel:
    """The model with every ``x`` and ``y`` column held at the plan's value (only its other columns free).

    The same problem as the model built over the plan's pairs alone with all of them fixed,
    without building it again: the solver's presolve removes the columns held at zero.
    """
    milp, cols = built.milp, built.cols
    x = hosts[cols.x_site, cols.x_service].astype(float)
    y = np.zeros(cols.n_sites)
    np.maximum.at(y, cols.x_site, x)
    lower, upper = milp.col_lower.copy(), milp.col_upper.copy()
    xs, ys = milp.col_blocks["x"], milp.col_blocks["y"]
    lower[xs] = upper[xs] = x
    lower[ys] = upper[ys] = y
    return replace(milp, col_lower=lower, col_upper=upper)


def hosts_of(built: Built, solution: np.ndarray) -> np.ndarray:
    """Boolean (sites × services) plan of a solution vector."""
    return built.cols.hosts(solution[built.milp.col_blocks["x"]])


def site_overlap(reach: sparse.csr_matrix, max_share: float = 0.1) -> sparse.csr_matrix:
    """Sites × sites: how many rows (demand groups, walks) two sites both reach.

    ``reach`` is (rows × sites); rows reaching more than ``max_share`` of the sites (the budget,
    counts) say nothing about neighbourhoods and are left out.
    """
    R = sparse.csr_matrix(reach, dtype=np.float64)
    R.data[:] = 1.0
    local = np.asarray(R.getnnz(axis=1)) <= max(2, max_share * R.shape[1])
    R = R[local]
    return (R.T @ R).tocsr()


@dataclass
class SearchReport:
    """What the search did (for the plan's stats)."""

    evaluated: int = 0
    kernel_rounds: int = 0
    kernel_improved: int = 0
    lns_rounds: int = 0
    lns_improved: int = 0
    notes: list[str] = field(default_factory=list)


class PlanSearch:
    """Best plan, its value and the best bound of one optimisation over a :class:`Formulation`.

    Parameters
    ----------
    form
        The objective's model builder.
    sense
        Maximise or minimise.
    deadline
        The one deadline of the optimisation.
    options
        Gap, threads, seed (the time limit is the deadline's).
    say
        Progress lines.
    """

    def __init__(self, form: Formulation, sense: Sense, deadline: Deadline, options: SolveOptions,
                 say: Progress | None = None) -> None:
        self.form = form
        self.sense = sense
        self.deadline = deadline
        self.options = options
        self.say = say or (lambda _line: None)
        self.best: np.ndarray | None = None
        self.value = -np.inf if sense is Sense.MAXIMIZE else np.inf
        self.bound = np.inf if sense is Sense.MAXIMIZE else -np.inf
        self.bound_source = "none"
        self.infeasible = False
        self.stopped = False
        self.error = ""
        self.solver = "HiGHS"
        self.report = SearchReport()
        self.backend = HighsBackend()
        self._overlap: sparse.csr_matrix | None = None

    # -- bookkeeping ---------------------------------------------------------------------------
    def better(self, value: float, than: float | None = None) -> bool:
        """True when ``value`` improves on ``than`` (default: the best value) beyond noise."""
        ref = self.value if than is None else than
        if not np.isfinite(value):
            return False
        if not np.isfinite(ref):
            return True
        tol = 1e-9 * max(abs(ref), 1.0)
        return bool(value > ref + tol) if self.sense is Sense.MAXIMIZE else bool(value < ref - tol)

    def offer(self, hosts: np.ndarray | None, value: float) -> bool:
        """Keep a plan (with its exact value) when it is better than the best so far."""
        if hosts is None or not self.better(value):
            return False
        self.best, self.value = np.asarray(hosts, dtype=bool).copy(), float(value)
        return True

    def tighten(self, bound: float, source: str) -> None:
        """Keep a proven bound when it is tighter."""
        if not np.isfinite(bound):
            return
        if (self.sense is Sense.MAXIMIZE and bound < self.bound) or (self.sense is Sense.MINIMIZE
                                                                      and bound > self.bound):
            self.bound, self.bound_source = float(bound), source

    def gap(self) -> float:
        """Relative gap of the best plan to the bound."""
        if self.best is None:
            return float("inf")
        b = max(self.bound, self.value) if self.sense is Sense.MAXIMIZE else min(self.bound, self.value)
        return relative_gap(self.value, b)

    def proven(self) -> bool:
        """True once the best plan is within the requested gap of the bound."""
        if self.best is None:
            return False
        b = self.bound
        close = abs(b - self.value) <= 1e-6 * max(1.0, abs(self.value))
        return bool(close or self.gap() <= self.options.mip_gap * 1.0001 + 1e-12)

    # -- solves --------------------------------------------------------------------------------
    def _solve(self, milp: MilpModel, seconds: float, start: np.ndarray | None, gap: float) -> SolveResult:
        opts = replace(self.options, time_limit_s=max(min(seconds, self.deadline.usable()), 0.05),
                       mip_gap=gap, warm_start=start, isolate=False)
        return self.backend.solve(milp, opts)

    def evaluate(self, hosts: np.ndarray, *, always: bool = False) -> float | None:
        """The exact value of a plan (``None`` when it breaks the objective's constraints, or no time).

        ``always``: evaluate even past the deadline (the start plan: a small LP over its own pairs,
        so that an answer always has a plan when one was found).
        """
        hosts = np.asarray(hosts, dtype=bool) & self.form.allowed
        closed = self.form.exact_value(hosts)
        if closed is not None:
            self.report.evaluated += 1
            return closed
        if self.deadline.expired() and not always:
            return None
        built = self.form.build(hosts)
        seconds = max(self.deadline.usable(), 5.0 if always else 0.05)
        opts = replace(self.options, time_limit_s=seconds, mip_gap=1e-9, warm_start=plan_start(built, hosts),
                       isolate=False)
        r = self.backend.solve(with_fixed(built, hosts), opts)
        self.report.evaluated += 1
        if r.solution is None:
            return None
        if not np.array_equal(hosts_of(built, r.solution), hosts):
            return None
        return float(r.objective)

    def solve_restricted(self, free: np.ndarray, fixed: np.ndarray, seconds: float) -> SolveResult | None:
        """Solve the model over ``free | fixed`` pairs with ``fixed`` pairs kept, from the best plan.

        A better plan found is kept. Returns the solver's result (``None`` without time).
        """
        if self.deadline.expired():
            return None
        allowed = (free | fixed) & self.form.allowed
        fixed = fixed & allowed
        built = self.form.build(allowed, fixed)
        start = plan_start(built, self.best) if self.best is not None else None
        r = self._solve(with_fixed(built, fixed), seconds, start, min(self.options.mip_gap, 1e-6))
        if r.solution is not None:
            self.offer(hosts_of(built, r.solution) | fixed, float(r.objective))
        if not fixed.any() and np.array_equal(allowed, self.form.allowed) and np.isfinite(r.bound) \
                and r.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT):
            self.tighten(float(r.bound), "branch and bound")  # the whole model: its bound is a proof
        return r

    def direct(self, built: Built | None = None, *, start: np.ndarray | None = None) -> None:
        """Branch and bound on the whole model with the time left, warm-started; its bound is a proof.

        ``start``: a (sites × services) plan to warm-start from instead of the best plan (HiGHS
        completes it, or drops it when it breaks a rule).
        """
        t = time.perf_counter()
        built = built or self.form.build(self.form.allowed)
        plan = self.best if start is None else np.asarray(start, dtype=bool) & self.form.allowed
        start = plan_start(built, plan) if plan is not None else None
        r = self._solve(built.milp, self.deadline.usable(), start, self.options.mip_gap)
        self.solver = r.solver
        if r.status is Status.INFEASIBLE:
            self.infeasible = self.best is None
            if self.best is not None:
                self.report.notes.append("the solver called the model infeasible although a plan was found")
            return
        if r.status is Status.ERROR:
            self.error = r.message or "the solver failed"
            return
        self.stopped = self.stopped or r.status is Status.TIME_LIMIT
        if r.solution is not None:
            self.offer(hosts_of(built, r.solution), float(r.objective))
        self.tighten(float(r.bound), "branch and bound")
        self.say(f"branch and bound on the whole model: {r.status.value}, {time.perf_counter() - t:.1f} s")

    def kernel(self, scores: np.ndarray, *, seconds: float, round_share: float = KERNEL_ROUND) -> None:
        """Kernel search: the best-rated pairs and the best plan's, then buckets of the next ones.

        Parameters
        ----------
        scores
            (sites × services): how promising each pair is (a bound's solution: LP values,
            Lagrangian reduced costs...); pairs with a score ≤ 0 are only added in buckets.
        seconds
            Time for the whole kernel search.
        round_share
            Share of the time left that each restricted solve but the last may take (the first
            one, over the best-rated pairs and the best plan, is where most is found).
        """
        end = self.deadline.until(seconds)
        allowed = self.form.allowed
        score = np.where(allowed, scores, -np.inf)
        order = np.argsort(-score, axis=None, kind="stable")
        order = order[np.isfinite(score.ravel()[order])]
        mine = self.best if self.best is not None else np.zeros_like(allowed)
        kernel = mine.copy()
        flat = kernel.ravel()
        positive = order[score.ravel()[order] > 0][:KERNEL_PAIRS]
        flat[positive] = True
        rest = order[~flat[order]]
        pos = 0
        while time.perf_counter() < end - 0.05 and not self.proven():
            self.report.kernel_rounds += 1
            before = self.value
            left = end - time.perf_counter()
            r = self.solve_restricted(kernel, np.zeros_like(kernel), left if pos >= rest.size else round_share * left)
            if r is None:
                break
            if self.better(self.value, before):
                self.report.kernel_improved += 1
            if pos >= rest.size:
                break
            bucket = rest[pos:pos + BUCKET_PAIRS]
            pos += bucket.size
            flat[bucket] = True
            if self.best is not None:
                kernel |= self.best

    def neighbourhoods(self, reach: sparse.csr_matrix, *, seconds: float, weights: np.ndarray | None = None,
                       sub_time_s: float = 10.0) -> None:
        """Large-neighbourhood search around the best plan (module docstring).

        Parameters
        ----------
        reach
            (rows × sites): the demand rows (or walks) each site reaches, for neighbourhoods.
        seconds
            Time for the whole search.
        weights
            Optional preference of seed sites (a bound's solution), uniform otherwise.
        sub_time_s
            Time limit of one subproblem.
        """
        if self.best is None:
            return
        end = self.deadline.until(seconds)
        if self._overlap is None:
            self._overlap = site_overlap(reach)
        overlap = self._overlap
        allowed = self.form.allowed
        has = allowed.any(axis=1)
        n_sites = int(has.sum())
        rng = np.random.default_rng(self.options.seed)
        p = has.astype(float) if weights is None else np.where(has, np.maximum(weights, 0) + 1e-3, 0.0)
        if p.sum() <= 0:
            return
        p = p / p.sum()
        size = float(min(NEIGHBOURHOOD_SITES, n_sites))
        whole_tried = False
        while time.perf_counter() < end - 0.05 and not self.proven():
            self.report.lns_rounds += 1
            seed = int(rng.choice(p.size, p=p))
            row = overlap.getrow(seed)
            near = row.indices[np.argsort(-row.data, kind="stable")][:int(size)]
            free_sites = np.zeros(allowed.shape[0], dtype=bool)
            free_sites[seed] = True
            free_sites[near] = True
            opened = np.flatnonzero(self.best.any(axis=1) & ~free_sites)
            if opened.size:  # a few open sites elsewhere, so that budget can move between areas
                free_sites[rng.choice(opened, size=min(3, opened.size), replace=False)] = True
            everything = bool(free_sites[has].all())
            if everything and whole_tried:
                size = max(size * 0.8, 4.0)
                continue
            whole_tried = whole_tried or everything
            free = allowed & free_sites[:, None]
            fixed = self.best & ~free_sites[:, None]
            before = self.value
            left = end - time.perf_counter()
            r = self.solve_restricted(free, fixed, min(sub_time_s, left))
            if r is None:
                break
            if self.better(self.value, before):
                self.report.lns_improved += 1
            elif r.status is Status.OPTIMAL:
                size = min(size * 1.25 + 1, n_sites)
            if everything and r.status is Status.OPTIMAL:
                self.tighten(float(r.bound), "branch and bound")  # the whole model, solved
                break
            if r.status is Status.TIME_LIMIT:
                size = max(size * 0.7, 4.0)

    # -- the answer ----------------------------------------------------------------------------
    def result(self, what: str) -> SolveResult:
        """The search's answer as a :class:`SolveResult` (``solution`` is ``None``: read :attr:`best`)."""
        timings = {"total": self.deadline.elapsed()}
        solver = f"{self.solver}; {what}"
        if self.best is None:
            status = Status.INFEASIBLE if self.infeasible else (Status.ERROR if self.error else Status.TIME_LIMIT)
            return SolveResult(status, None, float("nan"), float(self.bound), float("inf"), solver, timings,
                               self.error)
        value = self.value
        bound = self.bound
        if np.isfinite(bound):
            bound = max(bound, value) if self.sense is Sense.MAXIMIZE else min(bound, value)
        gap = relative_gap(value, bound)
        if self.error:
            return SolveResult(Status.ERROR, None, value, bound, gap, solver, timings,
                               f"{self.error}; the best plan found before is the heuristic's")
        notes = list(self.report.notes)
        if self.proven():
            status = Status.OPTIMAL
        elif self.stopped or self.deadline.usable() <= 0.05:
            status = Status.TIME_LIMIT
            notes.insert(0, stopped_at_limit(self.deadline.limit_s, f"the best plan found (gap {gap:.2%})"))
        else:
            status = Status.FEASIBLE
        return SolveResult(status, None, value, bound, gap, solver, timings, "; ".join(notes))


__all__ = ["DIRECT_MAX_NONZEROS", "Built", "Formulation", "PlanSearch", "SearchReport", "hosts_of", "plan_start",
           "site_overlap", "with_fixed"]
