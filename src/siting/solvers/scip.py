"""SCIP through OR-Tools' model builder (``ortools-scip``), fed the model's arrays directly."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from siting.model.milp import MilpModel, Sense
from siting.solvers.base import SolveOptions, SolveResult, Status
from siting.solvers.common import contradictory_bounds, finish, infeasible_result, polish, stdout_silenced


class ScipBackend:
    """SCIP, as shipped inside the ``ortools`` wheel."""

    name = "ortools-scip"

    def available(self) -> bool:
        """True when OR-Tools imports and was built with SCIP."""
        try:
            from ortools.linear_solver.python import model_builder_helper as mbh
        except ImportError:
            return False
        return bool(mbh.ModelSolverHelper("scip").solver_is_supported())

    def solve(self, model: MilpModel, options: SolveOptions) -> SolveResult:
        """Solve with SCIP; see :class:`~siting.solvers.base.Backend`."""
        import ortools
        from ortools.linear_solver.python import model_builder_helper as mbh

        why = contradictory_bounds(model)
        if why:
            return infeasible_result(self.name, why)
        t0 = time.perf_counter()
        helper: Any = mbh.ModelBuilderHelper()  # its stubs misdeclare the array types
        f64 = np.float64
        helper.fill_model_from_sparse_data(
            np.asarray(model.col_lower, dtype=f64), np.asarray(model.col_upper, dtype=f64),
            np.asarray(model.objective, dtype=f64), np.asarray(model.row_lower, dtype=f64),
            np.asarray(model.row_upper, dtype=f64), model.A.tocsr().astype(f64))
        for j in np.flatnonzero(model.integer).tolist():
            helper.set_var_integrality(j, True)
        helper.set_maximize(model.sense is Sense.MAXIMIZE)
        helper.set_objective_offset(float(model.offset))
        if options.warm_start is not None:
            for j, v in enumerate(polish(model, options.warm_start).tolist()):
                helper.add_hint(j, v)
        solver = mbh.ModelSolverHelper("scip")
        solver.set_time_limit_in_seconds(float(options.time_limit_s))
        solver.enable_output(options.verbose)
        solver.set_solver_specific_parameters(
            f"limits/gap = {options.mip_gap}\nrandomization/randomseedshift = {int(options.seed)}\n"
            f"parallel/maxnthreads = {int(options.threads)}\n")
        t1 = time.perf_counter()
        with stdout_silenced(not options.verbose):
            solver.solve(helper)
        t2 = time.perf_counter()
        version = f"SCIP (OR-Tools {getattr(ortools, '__version__', '?')})"
        timings = {"translate": t1 - t0, "solve": t2 - t1}
        st = solver.status()
        S = mbh.SolveStatus
        has_sol = solver.has_solution()
        solution = np.asarray(solver.variable_values(), dtype=float) if has_sol else None
        bound = float(solver.best_objective_bound()) if has_sol or st == S.OPTIMAL else float("nan")
        timed_out = t2 - t1 >= 0.98 * options.time_limit_s
        if st == S.OPTIMAL:
            status = Status.OPTIMAL
        elif st == S.INFEASIBLE:
            status, solution = Status.INFEASIBLE, None
        elif st == S.FEASIBLE:
            status = Status.TIME_LIMIT if timed_out else Status.FEASIBLE
        elif timed_out and st in (S.NOT_SOLVED, S.UNKNOWN_STATUS, S.CANCELLED_BY_USER):
            status = Status.TIME_LIMIT
        else:
            status = Status.ERROR
        message = solver.status_string() or st.name.lower()
        if status is Status.INFEASIBLE:
            message = "the model is infeasible"
        return finish(model, options, status=status, solution=solution, bound=bound, solver=version,
                      timings=timings, message=message)
