"""PuLP with HiGHS (``pulp-highs``) or with the CBC that PuLP ships (``pulp-cbc``).

PuLP is a modelling layer with one Python object per variable and per constraint term, so
translating a model costs time in proportion to its non-zeros: these backends serve as an
independent second opinion on small and medium models, not as the fast path (that is the
direct ``highs`` backend, fed arrays).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from siting.model.milp import MilpModel, Sense
from siting.solvers.base import SolveOptions, SolveResult, Status
from siting.solvers.common import contradictory_bounds, finish, infeasible_result, polish, row_kinds, stdout_silenced


def _build(model: MilpModel, warm_start: np.ndarray | None) -> tuple[Any, list[Any]]:
    """The PuLP problem of a matrix model, and its variables in column order."""
    import pulp

    sense = pulp.LpMaximize if model.sense is Sense.MAXIMIZE else pulp.LpMinimize
    prob = pulp.LpProblem("siting", sense)
    width = len(str(max(model.n_cols - 1, 0)))
    cols = []
    for j in range(model.n_cols):
        lo, hi = model.col_lower[j], model.col_upper[j]
        cols.append(pulp.LpVariable(
            f"c{j:0{width}d}", lowBound=float(lo) if np.isfinite(lo) else None,
            upBound=float(hi) if np.isfinite(hi) else None,
            cat=pulp.LpInteger if model.integer[j] else pulp.LpContinuous))
    prob.addVariables(cols)
    nz = np.flatnonzero(model.objective)
    prob.setObjective(pulp.LpAffineExpression(
        [(cols[j], float(model.objective[j])) for j in nz], constant=float(model.offset)))
    A = model.A.tocsr()
    eq, has_lo, has_hi = row_kinds(model)
    for i in range(model.n_rows):
        start, end = A.indptr[i], A.indptr[i + 1]
        terms = [(cols[j], float(v)) for j, v in zip(A.indices[start:end], A.data[start:end], strict=True)]
        if eq[i]:
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintEQ,
                                                 rhs=float(model.row_lower[i])), name=f"r{i}e")
            continue
        if has_lo[i]:
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintGE,
                                                 rhs=float(model.row_lower[i])), name=f"r{i}l")
        if has_hi[i]:
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE,
                                                 rhs=float(model.row_upper[i])), name=f"r{i}u")
    if warm_start is not None:
        for var, value in zip(cols, polish(model, warm_start).tolist(), strict=True):
            var.setInitialValue(value)
    return prob, cols


def _cbc_log_figures(log: str) -> tuple[str, float]:
    """CBC's closing verdict (``Result - ...``) and its best bound, read from its log."""
    verdict = ""
    m = re.search(r"^Result - (.*)$", log, flags=re.MULTILINE)
    if m:
        verdict = m.group(1).strip()
    bound = float("nan")
    for pattern in (r"^Lower bound:\s*(\S+)", r"^Upper bound:\s*(\S+)"):
        m = re.search(pattern, log, flags=re.MULTILINE)
        if m:
            with contextlib.suppress(ValueError):
                bound = float(m.group(1))
    return verdict, bound


class PulpBackend:
    """A PuLP solver: ``pulp-highs`` or ``pulp-cbc``.

    Parameters
    ----------
    engine
        ``"highs"`` or ``"cbc"``.
    """

    def __init__(self, engine: str) -> None:
        if engine not in ("highs", "cbc"):
            raise ValueError(f"unknown PuLP engine {engine!r}")
        self.engine = engine
        self.name = f"pulp-{engine}"

    def available(self) -> bool:
        """True when PuLP imports and its engine works here."""
        try:
            import pulp
        except ImportError:
            return False
        solver = pulp.HiGHS(msg=False) if self.engine == "highs" else pulp.PULP_CBC_CMD(msg=False)
        return bool(solver.available())

    def solve(self, model: MilpModel, options: SolveOptions) -> SolveResult:
        """Solve through PuLP; see :class:`~siting.solvers.base.Backend`."""
        import pulp

        why = contradictory_bounds(model)
        if why:
            return infeasible_result(self.name, why)
        t0 = time.perf_counter()
        prob, cols = _build(model, options.warm_start)
        t1 = time.perf_counter()
        if self.engine == "highs":
            result = self._solve_highs(model, options, prob, cols)
        else:
            result = self._solve_cbc(model, options, prob, cols)
        status, solution, bound, message = result
        t2 = time.perf_counter()
        version = f"PuLP {pulp.__version__} / {self.engine.upper()}"
        return finish(model, options, status=status, solution=solution, bound=bound, solver=version,
                      timings={"translate": t1 - t0, "solve": t2 - t1}, message=message)

    def _solve_highs(self, model: MilpModel, options: SolveOptions, prob: Any,
                     cols: list[Any]) -> tuple[Status, np.ndarray | None, float, str]:
        import highspy
        import pulp

        warm = options.warm_start

        class _WarmHighs(pulp.HiGHS):
            """PuLP's HiGHS, handed the warm start before it runs."""

            def callSolver(self, lp: Any) -> None:  # noqa: N802 (PuLP's name)
                if warm is not None:
                    sol = highspy.HighsSolution()
                    values = np.zeros(len(cols))
                    for var, v in zip(cols, warm, strict=True):
                        values[var.index] = v
                    sol.col_value = list(values)
                    sol.value_valid = True
                    lp.solverModel.setSolution(sol)
                lp.solverModel.run()

        solver = _WarmHighs(msg=options.verbose, timeLimit=float(options.time_limit_s), gapRel=options.mip_gap,
                            threads=options.threads, random_seed=int(options.seed))
        with stdout_silenced(not options.verbose):
            prob.solve(solver)
        h = prob.solverModel
        info = h.getInfo()
        ms = h.getModelStatus()
        MS = highspy.HighsModelStatus
        has_sol = info.primal_solution_status == 2
        values = np.array(h.getSolution().col_value)
        solution = values[[var.index for var in cols]] if has_sol else None
        raw = float(info.mip_dual_bound) if model.integer.any() else float(info.objective_function_value)
        # PuLP hands HiGHS the objective without its constant, negated for a maximisation
        bound = (-raw if model.sense is Sense.MAXIMIZE else raw) + float(model.offset)
        text = h.modelStatusToString(ms)
        if ms == MS.kOptimal:
            return Status.OPTIMAL, solution, bound, text
        if ms in (MS.kInfeasible, MS.kUnboundedOrInfeasible):
            return Status.INFEASIBLE, None, float("nan"), "the model is infeasible"
        if ms in (MS.kTimeLimit, MS.kInterrupt):
            return Status.TIME_LIMIT, solution, bound, text
        if has_sol:
            return Status.FEASIBLE, solution, bound, text
        return Status.ERROR, None, bound, f"HiGHS through PuLP ended with status {text}"

    def _solve_cbc(self, model: MilpModel, options: SolveOptions, prob: Any,
                   cols: list[Any]) -> tuple[Status, np.ndarray | None, float, str]:
        import pulp

        with tempfile.TemporaryDirectory(prefix="siting-cbc-") as tmp:
            log_path = Path(tmp) / "cbc.log"
            solver = pulp.PULP_CBC_CMD(
                msg=False, timeLimit=float(options.time_limit_s), gapRel=options.mip_gap,
                threads=options.threads, warmStart=options.warm_start is not None, logPath=str(log_path),
                keepFiles=False, options=[f"randomCbcSeed {int(options.seed) + 1}"])
            failure = ""
            t0 = time.perf_counter()
            try:
                prob.solve(solver)
            except pulp.PulpSolverError as e:  # CBC wrote no solution file
                failure = str(e)
            ran_out = time.perf_counter() - t0 >= float(options.time_limit_s)
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
        if options.verbose:
            print(log)
        # CBC stopped by its time limit while still presolving may call the model infeasible: an
        # "infeasible" after the whole time limit is read as "stopped without a plan"
        without_plan = (Status.TIME_LIMIT, None, _cbc_log_figures(log)[1],
                        "stopped at the time limit before any plan was found")
        if failure:
            if re.search(r"time limit", log, flags=re.IGNORECASE) or ran_out:
                return without_plan
            if re.search(r"infeasible", log, flags=re.IGNORECASE):
                return Status.INFEASIBLE, None, float("nan"), "the model is infeasible"
            return Status.ERROR, None, float("nan"), f"CBC failed: {failure}; log: {log[-300:]}"
        verdict, bound = _cbc_log_figures(log)
        values = np.array([v.varValue if v.varValue is not None else np.nan for v in cols], dtype=float)
        has_sol = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) \
            and not np.isnan(values).any()
        solution = values if has_sol else None
        if np.isfinite(bound):
            # CBC reports the bound of the objective it minimised (PuLP negates a maximisation)
            if model.sense is Sense.MAXIMIZE:
                bound = -bound
            bound += float(model.offset)
        if prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
            if ran_out or "time" in verdict.lower():
                return without_plan
            return Status.INFEASIBLE, None, float("nan"), "the model is infeasible"
        if verdict.startswith("Optimal") and has_sol:
            return Status.OPTIMAL, solution, bound if np.isfinite(bound) else float("nan"), verdict
        if "time" in verdict.lower():
            return Status.TIME_LIMIT, solution, bound, verdict
        if has_sol:
            return Status.FEASIBLE, solution, bound, verdict or "stopped with a plan"
        return Status.ERROR, None, bound, f"CBC ended without a plan ({verdict or pulp.LpStatus[prob.status]})"
