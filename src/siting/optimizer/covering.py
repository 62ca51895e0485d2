"""The optimizer's entry point: from coverage and rules to a plan assignment with proof.

Callers (the runner, sweeps, benchmarks) use :func:`optimize_covering`; how it gets there —
the model, reductions, heuristics, which backend — stays behind this one function:

1. the compact instance (:mod:`siting.model.instance`): identical coverage rows merged,
   rows nobody can cover dropped; then the exact reductions of :mod:`siting.model.reduce`;
2. a greedy plan and local search (:mod:`siting.optimizer.heuristics`): a feasible plan in
   seconds, the floor of every answer;
3. one exact method, chosen by size (``method="auto"``) or by name:

   - ``direct``: the pattern formulation (:mod:`siting.model.patterns`) handed whole to the
     backend, warm-started with the heuristic plan — small and medium instances, and every
     backend other than HiGHS;
   - ``benders``: Benders decomposition (:mod:`siting.optimizer.benders`), LP phase then master
     MIP rounds — few sites and many coverage rows (the Cordeau–Furini–Ljubić regime);
   - ``kernel``: the Benders LP bound, then a search of the *kernel* — the columns the LP
     solution uses and those of the best plan, with rows merged again, a much smaller
     instance — by large-neighbourhood search (:mod:`siting.optimizer.lns`); then, with the
     time left, branch and bound on the whole model when it is of moderate size (to tighten
     the bound), else neighbourhood search over the whole instance. For large districts,
     whose full MILP no solver gets through in minutes: the bound is the LP bound;
   - ``lagrangian``: the same kernel search, bounded and guided by the Lagrangian relaxation of
     the coverage rows and the budget (:mod:`siting.optimizer.lagrangian`, the volume
     algorithm) instead of the Benders LP — the largest districts (from
     :data:`LAGRANGIAN_MIN_COLUMNS` columns), where each master LP of the Benders method takes
     tens of seconds, and smaller ones whose time limit is too short for the Benders LP to
     converge (:data:`LAGRANGIAN_SECONDS_PER_MILLION`).

Every answer carries the status, the objective, the best proven bound, the gap and timings; a
time limit is honoured (each phase works to one deadline, HiGHS is interrupted at it) and the
plan returned is never worse than the greedy one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from siting.coverage import Coverage
from siting.model.covering import covering_milp
from siting.model.instance import CoveringInstance, covering_instance
from siting.model.patterns import pattern_milp, site_patterns
from siting.model.reduce import merge_rows, reduce_instance
from siting.model.rules import PlanningRules, SiteData
from siting.optimizer.benders import BendersCovering, BendersReport, row_groups
from siting.optimizer.bounds import knapsack_bound
from siting.optimizer.heuristics import greedy, local_search
from siting.optimizer.lagrangian import lagrangian_bound
from siting.optimizer.lns import LnsReport, lns
from siting.solvers import SolveOptions, SolveResult, Status, solve
from siting.solvers.base import relative_gap
from siting.solvers.highs import new_highs

METHODS = ("auto", "direct", "benders", "kernel", "lagrangian")
DIRECT_MAX_NONZEROS = 60_000  # auto: hand the whole pattern model to the solver up to this size
#: The whole-model solve separates cutting planes at the root only (``SolveOptions.root_cuts_only``):
#: on maximal covering, uniform 2,000 × 200, p = 20, seed 0 (the hardest of seeds 0–4), 8.0 / 8.2 s
#: end to end against 12.6 / 13.4 s with cuts at every node, alternating; seeds 1–3 4–8 % slower
#: (4.99–5.84 s against 4.77–5.57 s), seed 4 the same; the same optima.
ROOT_CUTS_ONLY = True
#: The whole-model solve starts from the greedy and local search's plan and skips HiGHS's sub-MIP
#: on the root's reduced costs (``SolveOptions.start_given``): on the five seeds above, with the
#: small models' cut pool (:data:`siting.solvers.highs.SMALL_MODEL_POOL`), HiGHS's solve took
#: 6.1, 3.3–3.4, 1.4, 3.1 and 1.8 s against 6.8–7.1, 3.2–3.3, 1.9, 3.1 and 2.5 s, the same optima
#: (seed 0's sub-MIPs took 1.0 s of its 8.2 s before).
START_GIVEN = True
FINISH_MAX_NONZEROS = 300_000  # kernel method: finish with the whole model up to this size, else LNS
BENDERS_MAX_COLUMNS = 400  # auto: Benders master MIP rounds up to this many (site, service) columns
KERNEL_MAX_COLUMNS = 600  # kernel method: columns of the kernel
#: ``auto`` bounds large districts with the Lagrangian (:mod:`siting.optimizer.lagrangian`, method
#: ``lagrangian``) instead of the Benders LP (``kernel``) from this many site-service columns on,
#: for this share of the time left. Between the districts measured (docs/model.md): 2,962 columns
#: (20,000 × 1,000) better with the Benders LP, whose vertex picks a better kernel; 8,814
#: (100,000 × 3,000: 1 % proven in 61.7 s against 1.19 % at 300 s) and 32,618 (200,000 buildings)
#: better with the Lagrangian.
LAGRANGIAN_MIN_COLUMNS = 5_000
#: ... and on smaller ones when the time limit is short: under this many seconds per million
#: nonzeros of the model. The Benders LP needs about 25 s per million to converge on the 20,000 ×
#: 1,000 district (36–47 s for 1.6 million); there, gap at the limit with the Lagrangian / the
#: Benders LP, one run each: 10 s 2.34–2.39 % / 4.17–4.19 % (two each), 30 s 1.78 / 2.14 %, 60 s
#: 1.38 / 1.38 %, 120 s 1.25 % / proven 1 % at 76 s. Twice the LP's need: 82 s there.
LAGRANGIAN_SECONDS_PER_MILLION = 50.0
LAGRANGIAN_SHARE = 0.4
KERNEL_SHARE = 0.75  # kernel method: share of the time left after the LP spent in the kernel

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CoveringSolution:
    """An assignment and the solver's account of it.

    Attributes
    ----------
    hosts
        Boolean (sites × services): the chosen assignment (all False without a solution).
    result
        Status, objective, bound, gap and timings of the solve.
    stats
        Model sizes (before / after reductions).
    timings
        Seconds per step (``build``, ``heuristic``, ``solve``...).
    greedy_objective
        Value of the greedy plan (the floor of the answer; ``nan`` when greedy found none).
    """

    hosts: np.ndarray
    result: SolveResult
    stats: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    greedy_objective: float = float("nan")


def choose_method(instance: CoveringInstance, backend: str, time_limit_s: float = float("inf")) -> str:
    """The method ``auto`` picks for an instance and a time limit (see the module docstring)."""
    if backend != "highs":
        return "direct"
    nonzeros = int(instance.cover.nnz) + instance.n_rows
    if instance.n_cols <= BENDERS_MAX_COLUMNS and instance.n_rows > 10 * max(instance.n_cols, 1):
        return "benders"
    if nonzeros <= DIRECT_MAX_NONZEROS:
        return "direct"
    # the Lagrangian prices the budget, not the numbers of sites per service: without a budget that
    # binds, or with a limit on the number of sites, its bound would be loose
    budgeted = np.isfinite(instance.budget) and bool((instance.max_sites < 0).all())
    hurried = time_limit_s < LAGRANGIAN_SECONDS_PER_MILLION * nonzeros / 1e6
    return "lagrangian" if budgeted and (instance.n_cols >= LAGRANGIAN_MIN_COLUMNS or hurried) else "kernel"


def optimize_covering(coverage: Coverage, sites: SiteData, rules: PlanningRules, *, backend: str = "highs",
                      options: SolveOptions | None = None, method: str = "auto",
                      progress: Progress | None = None, start: np.ndarray | None = None) -> CoveringSolution:
    """Choose which site hosts which services to maximise weighted new coverage.

    Parameters
    ----------
    coverage
        Coverage matrices per (service, age group).
    sites
        Floor area, retrofit cost and allowed services of the candidate sites.
    rules
        Budget, weights and requirements.
    backend
        Solver backend name (see :func:`siting.solvers.available_solvers`); ``benders`` and
        ``kernel`` need HiGHS.
    options
        Time limit (for the whole optimisation), gap, threads, seed.
    method
        ``auto``, ``direct``, ``benders`` or ``kernel`` (module docstring).
    progress
        Called with a short line after each step (for logs and long runs).
    start
        Optional boolean (sites × services) plan to start from (a warm start, e.g. the plan
        before an edit): offered after the heuristic, kept when feasible and better; the pairs
        the rules no longer allow are dropped from it first.

    Returns
    -------
    CoveringSolution
        The assignment with status, objective, bound and gap.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    opts = options or SolveOptions()
    t0 = time.perf_counter()
    deadline = t0 + float(opts.time_limit_s)
    say = progress or (lambda _line: None)
    timings: dict[str, float] = {}
    instance = reduce_instance(covering_instance(coverage, sites, rules))
    timings["build"] = time.perf_counter() - t0
    say(f"model: {instance.n_cols} site-service columns, {instance.n_rows} coverage rows "
        f"({instance.stats.get('coverage_rows_before_merge', 0)} before merging), {timings['build']:.1f} s")
    run = _Run(instance, opts, backend, deadline, say, timings)
    run.bound = knapsack_bound(instance, run.patterns)
    run.heuristic()
    if start is not None and start.shape == (instance.n_sites, instance.n_services):
        run.offer(instance.columns_of(start))
    chosen = choose_method(instance, backend, float(opts.time_limit_s)) if method == "auto" else method
    if chosen != "direct" and backend != "highs":
        raise ValueError(f"method {chosen!r} needs the HiGHS backend, not {backend!r}")
    if instance.n_cols == 0 or (instance.n_rows == 0 and not (instance.min_sites > 0).any()):
        empty = np.zeros(instance.n_cols)  # nothing to gain: the empty plan, if the rules allow it
        run.infeasible = not run.offer(empty) and run.x_best is None
        run.bound = 0.0
    elif chosen == "direct":
        run.direct()
    elif chosen == "lagrangian":
        run.lagrangian_kernel()
    else:
        run.benders(kernel=chosen == "kernel")
    timings["total"] = time.perf_counter() - t0
    result = run.result(chosen)
    say(f"{result.status.value}: objective {result.objective:,.1f}, bound {result.bound:,.1f}, "
        f"gap {result.gap:.3%}, {timings['total']:.1f} s")
    x = run.x_best
    hosts = instance.hosts(x) if x is not None else np.zeros((instance.n_sites, instance.n_services), dtype=bool)
    stats = {**instance.stats, **run.stats}
    return CoveringSolution(hosts, result, stats, timings, run.greedy_value)


def within_gap(value: float, bound: float, gap: float) -> bool:
    """True when ``value`` is proven within ``gap`` of ``bound`` (or within HiGHS's absolute tolerance)."""
    if not (np.isfinite(value) and np.isfinite(bound)):
        return False
    return bool(relative_gap(value, bound) <= gap * 1.0001 + 1e-12 or bound - value <= 1e-6 * max(1.0, abs(value)))


class _Run:
    """The state of one optimisation: best plan, best bound, timings."""

    def __init__(self, instance: CoveringInstance, options: SolveOptions, backend: str, deadline: float,
                 say: Progress, timings: dict[str, float]) -> None:
        self.inst = instance
        self.opts = options
        self.backend = backend
        self.deadline = deadline
        self.say = say
        self.timings = timings
        self.x_best: np.ndarray | None = None
        self.best_value = float("-inf")
        self.greedy_value = float("nan")
        self.bound = float("inf")
        self.infeasible = False
        self.stopped = False  # a solver or the neighbourhood search stopped at its time limit
        self.error = ""  # a solver that crashed or failed: its message
        self.solver = "siting heuristics"
        self.stats: dict[str, int] = {}
        self.notes: list[str] = []
        self.patterns = site_patterns(instance)
        self.margin = min(0.5, 0.05 * float(options.time_limit_s))  # seconds kept back at the end

    def nonzeros(self) -> int:
        """Size of the whole model: coverage nonzeros plus rows."""
        return int(self.inst.cover.nnz) + self.inst.n_rows

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def offer(self, x: np.ndarray | None) -> bool:
        """Keep a plan if it is feasible and better than the best so far."""
        if x is None:
            return False
        x = (np.asarray(x) > 0.5).astype(np.float64)
        if self.inst.violation(x):
            return False
        v = self.inst.value(x)
        if v > self.best_value + 1e-9 * max(abs(v), 1.0) or self.x_best is None:
            self.x_best, self.best_value = x, v
            return True
        return False

    def proven(self) -> bool:
        return self.x_best is not None and within_gap(self.best_value, self.bound, self.opts.mip_gap)

    def heuristic(self) -> None:
        t = time.perf_counter()
        budget = max(self.left(), 0.0)
        x = greedy(self.inst, time_limit_s=0.15 * budget)
        if x is not None:
            self.offer(x)
            self.greedy_value = self.best_value
            self.offer(local_search(self.inst, x, time_limit_s=max(0.1 * budget, 0.05)))
        self.timings["heuristic"] = time.perf_counter() - t
        if x is None:
            self.say("greedy: the minimum numbers of sites cannot be met greedily; the solver decides")
        else:
            self.say(f"greedy {self.greedy_value:,.1f}, local search {self.best_value:,.1f}, "
                     f"{self.timings['heuristic']:.1f} s")

    # -- methods --------------------------------------------------------------------------------
    def direct(self) -> None:
        t = time.perf_counter()
        pm = pattern_milp(self.inst, self.patterns) if self.patterns is not None else None
        model = pm.covering if pm is not None else covering_milp(self.inst)
        start = None
        if self.x_best is not None:
            start = pm.solution_of(self.x_best) if pm is not None else model.solution_from_hosts(
                self.inst.hosts(self.x_best))
        self.timings["model"] = time.perf_counter() - t
        self.stats["nonzeros"] = int(model.milp.A.nnz)
        # the caller's options (threads, seed, isolation...) with the time left and the start plan;
        # branching on pseudocosts from the first node: strong branching took three quarters of
        # HiGHS's LP iterations on maximal covering (docs/model.md); the greedy and local search's plan
        # as the start, without HiGHS's own search on the root's reduced costs (START_GIVEN)
        opts = replace(self.opts, time_limit_s=max(self.left(), 0.01), warm_start=start, pseudocosts=True,
                       root_cuts_only=ROOT_CUTS_ONLY, start_given=START_GIVEN)
        result = solve(model.milp, self.backend, opts)
        self.timings["solve"] = result.timings.get("solve", time.perf_counter() - t)
        self.solver = result.solver
        if result.status is Status.INFEASIBLE:
            self.infeasible = self.x_best is None
            if not self.infeasible:  # the solver disagrees with a feasible plan: keep the plan, trust nothing
                self.notes.append("solver reported infeasible for a feasible plan")
            return
        self.stopped = self.stopped or result.status is Status.TIME_LIMIT
        if result.status is Status.ERROR:
            self.error = result.message or "the solver failed"
            return
        if result.solution is not None:
            self.offer(result.solution[model.x_cols])
        if np.isfinite(result.bound):
            self.bound = min(self.bound, result.bound)

    def benders(self, *, kernel: bool) -> None:
        t = time.perf_counter()
        inst = self.inst
        pat = self.patterns
        if pat is None or self.x_best is None:  # too many services to enumerate, or no start
            self.direct()
            return
        groups = row_groups(inst)
        master = BendersCovering(inst, pat, groups, verbose=self.opts.verbose, threads=self.opts.threads,
                                 seed=self.opts.seed)
        report = BendersReport(groups=master.G)
        self.timings["model"] = time.perf_counter() - t
        self.solver = f"HiGHS {master.h.version()} (Benders)"
        lp_deadline = time.perf_counter() + (0.4 if kernel else 0.5) * max(self.left(), 0.0)
        stop = self.best_value * (1 + self.opts.mip_gap)
        # dropping slack cuts speeds up the LP of large masters; the MIP rounds need every cut
        bound = master.solve_lp(self.x_best, deadline=lp_deadline, stop_bound=stop, report=report,
                                tolerance=min(1e-4, self.opts.mip_gap / 4), purge_every=3 if kernel else 0)
        if master.lp_status == "infeasible":
            self.infeasible = True
            return
        self.bound = min(self.bound, bound)
        self.timings["lp"] = report.lp_seconds
        self.say(report.log[-1])
        self.stats.update(benders_groups=report.groups, benders_lp_iterations=report.lp_iterations)
        if kernel:
            if not self.proven() and master.last_lp_x is not None:
                self.kernel(master.last_lp_x)
            self.finish(master.last_lp_x)
            return
        if not self.proven() and self.left() > self.margin and self.x_best is not None:
            x, _value, bound = master.solve_mip(
                self.x_best, deadline=self.deadline, gap=self.opts.mip_gap, bound=self.bound, report=report,
                improve=lambda v: local_search(inst, v, time_limit_s=max(min(2.0, 0.1 * self.left()), 0.05)))
            self.offer(x)
            self.bound = min(self.bound, bound)
            self.timings["mip"] = report.mip_seconds
            if report.log:
                self.say(report.log[-1])
        self.stats.update(benders_cuts=report.cuts, benders_mip_rounds=report.mip_rounds)

    def lagrangian_kernel(self) -> None:
        """The kernel method with the Lagrangian bound in place of the Benders LP (large districts)."""
        t = time.perf_counter()
        if self.x_best is None:  # no start plan: the solver decides
            self.direct()
            return
        report = lagrangian_bound(self.inst, self.patterns, target=self.best_value,
                                  deadline=t + LAGRANGIAN_SHARE * max(self.left(), 0.0),
                                  stop_bound=self.best_value * (1 + self.opts.mip_gap), progress=self.say)
        self.bound = min(self.bound, report.bound)
        self.solver = f"HiGHS {new_highs().version()} (Lagrangian bound)"
        self.timings["lagrangian"] = report.seconds
        self.stats.update(lagrangian_steps=report.iterations)
        self.say(report.log[-1])
        x_lp = report.average
        if not self.proven() and x_lp is not None:
            self.kernel(x_lp)
        self.finish(x_lp)

    def finish(self, x_lp: np.ndarray | None) -> None:
        """After the kernel search, the time left: branch and bound on a moderate model (to tighten
        the bound), else neighbourhood search over the whole instance."""
        if self.proven():
            return
        if self.left() <= 2 * self.margin:
            self.stopped = True  # no time for more: the plan so far, at the time limit
        elif self.nonzeros() <= FINISH_MAX_NONZEROS:
            self.direct()
        else:
            self.neighbourhoods(x_lp)

    def kernel(self, x_lp: np.ndarray) -> None:
        """Search the kernel: the columns the LP solution uses, and the best plan's.

        Rows merge again once the other columns are gone, so the kernel is a much smaller
        instance; a greedy plan and local search on it start a neighbourhood search whose
        subproblems solve in a fraction of a second.
        """
        t = time.perf_counter()
        inst = self.inst
        site_value = np.zeros(inst.n_sites)
        np.maximum.at(site_value, inst.x_site, x_lp)
        mine = np.asarray(self.x_best) > 0.5 if self.x_best is not None else np.zeros(inst.n_cols, dtype=bool)
        keep = mine
        for threshold in (0.05, 0.1, 0.2, 0.3, 0.5, 0.8):
            keep = mine | ((site_value[inst.x_site] > threshold) & (x_lp > 1e-3))
            if keep.sum() <= KERNEL_MAX_COLUMNS:
                break
        cols = np.flatnonzero(keep)
        if cols.size == 0:  # neither the relaxation nor the best plan opens anything: no kernel to search
            return
        sub = merge_rows(inst.select_columns(keep))
        budget = max(self.left(), 0.0)
        start = self.x_best[cols] if self.x_best is not None else None
        x_sub = greedy(sub, time_limit_s=0.05 * budget)
        if x_sub is not None:
            x_sub = local_search(sub, x_sub, time_limit_s=0.05 * budget)
            if start is None or sub.value(x_sub) > sub.value(start):
                start = x_sub
        if start is None:
            return
        report = LnsReport()
        x_sub = lns(sub, start, time_limit_s=KERNEL_SHARE * max(self.left(), 0.0), seed=self.opts.seed,
                    report=report, stop_value=self.bound / (1 + self.opts.mip_gap))
        if cols.size == inst.n_cols:  # the kernel is the whole instance
            self.bound = min(self.bound, report.proven_bound)
        x = np.zeros(inst.n_cols)
        x[cols] = x_sub
        self.offer(x)
        self.timings["kernel"] = time.perf_counter() - t
        self.stats.update(kernel_columns=int(cols.size), kernel_rows=sub.n_rows, kernel_lns_rounds=report.rounds,
                          kernel_lns_improvements=report.improved)
        self.say(f"kernel ({cols.size} columns, {sub.n_rows} rows): {self.best_value:,.1f} after "
                 f"{report.rounds} subproblems ({report.improved} improving), {self.timings['kernel']:.1f} s")

    def neighbourhoods(self, x_lp: np.ndarray | None) -> None:
        """Large-neighbourhood search over the whole instance with the time left."""
        t = time.perf_counter()
        inst = self.inst
        report = LnsReport()
        weights = None
        if x_lp is not None:
            weights = np.bincount(inst.x_site, weights=x_lp, minlength=inst.n_sites).astype(np.float64)
        assert self.x_best is not None
        x = lns(inst, self.x_best, time_limit_s=max(self.left() - self.margin, 0.0), seed=self.opts.seed,
                report=report, weights=weights, stop_value=self.bound / (1 + self.opts.mip_gap))
        self.offer(x)
        self.bound = min(self.bound, report.proven_bound)
        # the search runs to its deadline unless it proves the plan: then the time is up
        self.stopped = self.stopped or not self.proven()
        self.timings["lns"] = time.perf_counter() - t
        self.stats.update(lns_rounds=report.rounds, lns_improvements=report.improved)
        self.say(f"neighbourhood search: {self.best_value:,.1f} after {report.rounds} subproblems "
                 f"({report.improved} improving), {self.timings['lns']:.1f} s")

    # -- the answer -----------------------------------------------------------------------------
    def result(self, method: str) -> SolveResult:
        timings = dict(self.timings)
        solver = f"{self.solver}; method {method}"
        if self.infeasible and self.x_best is None:
            return SolveResult(Status.INFEASIBLE, None, float("nan"), float("nan"), float("inf"), solver, timings,
                               "the requirements cannot all hold together")
        if self.x_best is None:
            return SolveResult(Status.TIME_LIMIT if self.left() <= 0 else Status.ERROR, None, float("nan"),
                               self.bound, float("inf"), solver, timings, "no feasible plan found")
        value = self.best_value
        bound = max(self.bound, value) if np.isfinite(self.bound) else self.bound
        gap = relative_gap(value, bound)
        if self.error:  # the plan is the heuristic's; the run must not pass it off as the solver's
            return SolveResult(Status.ERROR, self.x_best, value, bound, gap, solver, timings,
                               f"{self.error}; the best plan found before is the heuristic's")
        if within_gap(value, bound, self.opts.mip_gap):
            status = Status.OPTIMAL
        elif self.left() <= self.margin or self.stopped:
            status = Status.TIME_LIMIT
        else:
            status = Status.FEASIBLE
        message = "; ".join([f"greedy {self.greedy_value:,.1f}", *self.notes])
        return SolveResult(status, self.x_best, value, bound, gap, solver, timings, message)
