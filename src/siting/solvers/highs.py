"""HiGHS through highspy, fed the model's arrays directly (no per-variable Python objects)."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from siting.model.milp import MilpModel, Sense
from siting.solvers.base import SolveOptions, SolveResult, Status, clean_bound, relative_gap
from siting.solvers.common import stdout_silenced

_caught: list[int] = []  # signals caught during the current HiGHS run (see :func:`run_highs`)


def signalled() -> bool:
    """True when Ctrl-C (or SIGTERM) arrived during the current HiGHS run: interrupt callbacks stop it."""
    return bool(_caught)


def run_highs(h: Any) -> None:
    """``h.run()``, stopped by Ctrl-C or SIGTERM, which are raised again once HiGHS has returned.

    A ``KeyboardInterrupt`` raised inside a HiGHS callback is swallowed by highspy: the solve
    ends with an error status and the program goes on as if nothing was pressed. So while
    HiGHS runs, the Python handlers of SIGINT and SIGTERM are replaced by one that only notes
    the signal; the interrupt callbacks (:func:`stop_at`, the Benders master's) see it through
    :func:`signalled` and stop the solve; then the original handler is called (it raises).
    Outside the main thread signals cannot be handled, and the solve runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        h.run()
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    _caught.clear()
    for sig, handler in previous.items():
        if callable(handler):
            signal.signal(sig, lambda signum, _frame: _caught.append(signum))
    try:
        h.run()
    finally:
        for sig, handler in previous.items():
            if callable(handler):
                signal.signal(sig, handler)
        caught = list(_caught)
        _caught.clear()
    if caught:
        handler = previous[signal.Signals(caught[0])]
        if callable(handler):
            handler(caught[0], None)


def stop_at(h: Any, deadline: float) -> None:
    """Interrupt a HiGHS solve (simplex, interior point, branch and bound) at a wall-clock deadline.

    HiGHS's own ``time_limit`` is not checked everywhere; these callbacks are called often
    during every phase that can take long, so that a time limit is honoured within seconds.

    Parameters
    ----------
    h
        The ``highspy.Highs`` instance.
    deadline
        A ``time.perf_counter()`` value.
    """

    def interrupt(event: Any) -> None:
        event.interrupt(bool(time.perf_counter() >= deadline or signalled()))  # HiGHS keeps the flag between runs

    for callback in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
        callback.subscribe(interrupt)


def new_highs(verbose: bool = False) -> Any:
    """A ``highspy.Highs`` instance, quiet unless ``verbose``."""
    import highspy

    if verbose:
        return highspy.Highs()
    with stdout_silenced():
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
    return h


#: Models up to this many nonzeros are solved without restarts and without the RINS and RENS
#: sub-MIP heuristics, and those with an objective with a cut pool kept small
#: (:data:`SMALL_MODEL_POOL`): on small models (the default district's standards stages,
#: 3,000–4,000 nonzeros; maximal covering 2,000 × 200, 14,000) these cost more time than they save
#: (measured in alternating runs, docs/model.md). Larger models keep HiGHS's defaults. Branching on
#: pseudocosts from the first node instead of
#: strong branching is asked for by the caller (``SolveOptions.pseudocosts``): for every small
#: model it made maximal covering 2,000 × 200 about 30 % faster but the phased default scenario
#: then stopped at its time limit instead of proving its plan, so only the coverage optimizer's
#: whole-model solve and the later stages of small staged models ask for it.
SMALL_MODEL_NONZEROS = 20_000
SMALL_MODEL_OPTIONS: dict[str, bool] = {"mip_allow_restart": False, "mip_heuristic_run_rins": False,
                                        "mip_heuristic_run_rens": False}
#: The cut pool of small models with an objective: ``mip_pool_soft_limit`` 10 instead of 10,000 (past
#: it HiGHS ages its cuts faster, so cuts that stop binding leave the pool and each separation round
#: works on few of them). It took the gaps and basic stages of the default plan's 31 analysis
#: re-solves from 20.2 s to 13.2 s (two passes) and the five maximal covering 2,000 × 200 seeds from
#: 25.1 s to 17.8 s, every optimum the same; the feasibility questions (no objective: can a later
#: stage gain at all?) took longer with it (6.8 s against 5.4 s), so they keep HiGHS's pool.
SMALL_MODEL_POOL: dict[str, int] = {"mip_pool_soft_limit": 10}


class HighsBackend:
    """HiGHS MIP solver, the default backend."""

    name = "highs"

    def available(self) -> bool:
        """True when highspy imports."""
        try:
            import highspy  # noqa: F401
        except ImportError:
            return False
        return True

    def solve(self, model: MilpModel, options: SolveOptions) -> SolveResult:
        """Solve with HiGHS; see :class:`~siting.solvers.base.Backend`.

        A warm start may be partial: entries that are ``nan`` are left for HiGHS to complete
        (it fixes the integer columns given and solves for the rest).
        """
        import highspy

        t0 = time.perf_counter()
        h = new_highs(options.verbose)
        h.setOptionValue("time_limit", float(options.time_limit_s))
        stop_at(h, t0 + float(options.time_limit_s))
        h.setOptionValue("mip_rel_gap", float(options.mip_gap))
        h.setOptionValue("threads", int(options.threads))
        h.setOptionValue("random_seed", int(options.seed))
        if model.integer.any() and model.A.nnz <= SMALL_MODEL_NONZEROS:
            for name, value in SMALL_MODEL_OPTIONS.items():
                h.setOptionValue(name, value)
            if np.any(np.asarray(model.objective) != 0):
                for name, number in SMALL_MODEL_POOL.items():
                    h.setOptionValue(name, number)
        if options.pseudocosts and model.integer.any():
            h.setOptionValue("mip_pscost_minreliable", 0)
        if options.root_cuts_only and model.integer.any():
            h.setOptionValue("mip_allow_cut_separation_at_nodes", False)
        if options.start_given and options.warm_start is not None and model.integer.any():
            h.setOptionValue("mip_heuristic_run_root_reduced_cost", False)
        h.passModel(highs_lp(model))
        if options.warm_start is not None:
            set_start(h, options.warm_start)
        t1 = time.perf_counter()
        run_highs(h)
        t2 = time.perf_counter()
        ms = h.getModelStatus()
        info = h.getInfo()
        version = f"HiGHS {h.version()}"
        has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
        solution = np.array(h.getSolution().col_value) if has_sol else None
        objective = float(info.objective_function_value) if has_sol else float("nan")
        bound = float(info.mip_dual_bound) if model.integer.any() else objective
        notes: list[str] = []
        if solution is not None and model.integer.any() and not agrees(model, solution, objective):
            # HiGHS's presolve reported a value its (postsolved) solution does not reach: solved again without it
            first = (solution, value_of(model, solution))
            h.setOptionValue("presolve", "off")
            h.setOptionValue("time_limit", max(t0 + float(options.time_limit_s) - time.perf_counter(), 0.01))
            set_start(h, solution)
            run_highs(h)
            ms, info = h.getModelStatus(), h.getInfo()
            again = np.array(h.getSolution().col_value) if info.primal_solution_status == 2 else None
            if np.isfinite(info.mip_dual_bound):  # from the model as it is: the bound to trust
                bound = float(info.mip_dual_bound)
            if again is not None and _better(model, value_of(model, again), first[1]):
                solution, objective = again, value_of(model, again)
            else:  # the first solution, at its own value
                solution, objective = first
                ms = highspy.HighsModelStatus.kTimeLimit if ms != highspy.HighsModelStatus.kOptimal else ms
            notes.append("HiGHS's presolved model reported an objective its solution does not reach; solved "
                         "again without presolve")
            t2 = time.perf_counter()
        timings = {"translate": t1 - t0, "solve": t2 - t1}
        MS = highspy.HighsModelStatus
        message = h.modelStatusToString(ms)
        if ms == MS.kOptimal:
            status = Status.OPTIMAL
        elif ms == MS.kInfeasible:
            return SolveResult(Status.INFEASIBLE, None, float("nan"), float("nan"), float("inf"),
                               version, timings, "the model is infeasible")
        elif ms in (MS.kTimeLimit, MS.kInterrupt):
            status = Status.TIME_LIMIT
            message = stopped_message(options.time_limit_s, has_sol)  # not HiGHS's "Interrupted by user"
        elif has_sol:
            status = Status.FEASIBLE
        else:
            return SolveResult(Status.ERROR, None, float("nan"), bound, float("inf"), version, timings,
                               f"HiGHS ended with status {message}")
        bound = clean_bound(model, objective, bound)
        gap = relative_gap(objective, bound) if has_sol else float("inf")
        if status is Status.OPTIMAL and gap > options.mip_gap * 1.0001 + 1e-9:
            status = Status.FEASIBLE
        return SolveResult(status, solution, objective, bound, gap, version, timings, "; ".join([message, *notes]))


def value_of(model: MilpModel, solution: np.ndarray) -> float:
    """The objective of a solution vector, computed from the model (not the solver's word)."""
    return float(np.asarray(model.objective, dtype=np.float64) @ solution + model.offset)


def agrees(model: MilpModel, solution: np.ndarray, objective: float) -> bool:
    """True when a solver's objective is its solution's own value (see :func:`same_value`)."""
    return same_value(value_of(model, solution), objective)


def same_value(own: float, objective: float) -> bool:
    """True when a solution's own value and the solver's objective agree within rounding (1e-9, relative)."""
    return abs(own - objective) <= 1e-9 * max(1.0, abs(own), abs(objective))


def _better(model: MilpModel, a: float, b: float) -> bool:
    return a >= b if model.sense is Sense.MAXIMIZE else a <= b


def stopped_message(time_limit_s: float, has_plan: bool) -> str:
    """What a solve stopped at its time limit says, in the planner's words."""
    if has_plan:
        return f"stopped at the time limit ({time_limit_s:g} s) with the best plan found so far"
    return f"stopped at the time limit ({time_limit_s:g} s) before any plan was found"


def highs_lp(model: MilpModel) -> Any:
    """The model as a ``highspy.HighsLp`` (column-wise matrix, arrays handed over as they are)."""
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_ = model.n_cols
    lp.num_row_ = model.n_rows
    lp.col_cost_ = np.asarray(model.objective, dtype=np.float64)
    lp.col_lower_ = np.asarray(model.col_lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(model.col_upper, dtype=np.float64)
    lp.row_lower_ = np.where(np.isfinite(model.row_lower), model.row_lower, -highspy.kHighsInf)
    lp.row_upper_ = np.where(np.isfinite(model.row_upper), model.row_upper, highspy.kHighsInf)
    csc = model.A.tocsc()
    csc.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    lp.a_matrix_.num_col_ = model.n_cols
    lp.a_matrix_.num_row_ = model.n_rows
    if model.integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
                           for b in model.integer]
    lp.sense_ = highspy.ObjSense.kMaximize if model.sense is Sense.MAXIMIZE else highspy.ObjSense.kMinimize
    lp.offset_ = float(model.offset)
    return lp


def set_start(h: Any, start: np.ndarray) -> None:
    """Offer a start to HiGHS: the whole vector, or only its finite entries (HiGHS completes the rest)."""
    import highspy

    values = np.asarray(start, dtype=np.float64)
    given = np.isfinite(values)
    if given.all():
        sol = highspy.HighsSolution()
        sol.col_value = list(values)
        sol.value_valid = True
        h.setSolution(sol)
        return
    index = np.flatnonzero(given).astype(np.int32)
    h.setSolution(int(index.size), index, values[index])


@dataclass(frozen=True)
class Relaxation:
    """The LP relaxation of a model, as far as it got.

    Attributes
    ----------
    status
        ``optimal`` (solved), ``time_limit`` (stopped at the deadline: no bound) or ``error``.
    objective
        The LP optimum (a bound on the MILP optimum) when solved, else ``nan``.
    solution
        Column values of the LP optimum (``None`` unless solved).
    reduced_costs
        Reduced cost of every column at the LP optimum (``None`` unless solved).
    seconds
        Wall-clock time.
    """

    status: Status
    objective: float
    solution: np.ndarray | None
    reduced_costs: np.ndarray | None
    seconds: float


def solve_relaxation(model: MilpModel, *, deadline: float, threads: int = 1, seed: int = 0,
                     method: str = "choose", verbose: bool = False) -> Relaxation:
    """Solve the LP relaxation of ``model``, interrupted at ``deadline`` (a ``time.perf_counter()`` value).

    Parameters
    ----------
    model
        The model; its integrality is dropped.
    deadline
        Wall-clock end.
    threads, seed
        HiGHS settings.
    method
        HiGHS's ``solver`` option: ``choose``, ``simplex`` or ``ipm``.
    verbose
        Show HiGHS's log.
    """
    import highspy

    t0 = time.perf_counter()
    left = deadline - t0
    if left <= 0:
        return Relaxation(Status.TIME_LIMIT, float("nan"), None, None, 0.0)
    h = new_highs(verbose)
    h.setOptionValue("time_limit", float(left))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(seed))
    h.setOptionValue("solver", method)
    stop_at(h, deadline)
    lp = highs_lp(model)
    lp.integrality_ = []
    h.passModel(lp)
    run_highs(h)
    seconds = time.perf_counter() - t0
    ms = h.getModelStatus()
    MS = highspy.HighsModelStatus
    if ms == MS.kOptimal:
        sol = h.getSolution()
        return Relaxation(Status.OPTIMAL, float(h.getInfo().objective_function_value), np.array(sol.col_value),
                          np.array(sol.col_dual), seconds)
    if ms == MS.kInfeasible:
        return Relaxation(Status.INFEASIBLE, float("nan"), None, None, seconds)
    if ms in (MS.kTimeLimit, MS.kInterrupt):
        return Relaxation(Status.TIME_LIMIT, float("nan"), None, None, seconds)
    return Relaxation(Status.ERROR, float("nan"), None, None, seconds)
