"""Helpers shared by the backends: one way to turn a solver's outcome into a :class:`SolveResult`."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import numpy as np

from siting.model.milp import MilpModel, Sense
from siting.solvers.base import SolveOptions, SolveResult, Status, clean_bound, relative_gap


@contextlib.contextmanager
def stdout_silenced(active: bool = True) -> Iterator[None]:
    """Silence C-level stdout while a native solver prints banners or logs."""
    if not active:
        yield
        return
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # captured stdout without a descriptor
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def polish(model: MilpModel, solution: np.ndarray) -> np.ndarray:
    """Round integer columns and clip every column into its bounds (solver tolerances removed)."""
    x = np.asarray(solution, dtype=float).copy()
    x[model.integer] = np.round(x[model.integer])
    out: np.ndarray = np.clip(x, model.col_lower, model.col_upper)
    return out


def finish(model: MilpModel, options: SolveOptions, *, status: Status, solution: np.ndarray | None,
           bound: float, solver: str, timings: dict[str, float], message: str = "") -> SolveResult:
    """Assemble a :class:`SolveResult` the same way for every backend.

    The objective is recomputed from the solution (so that every backend reports it alike);
    the bound is clipped to the right side of it; a solve called optimal whose gap exceeds
    the requested one is reported as ``feasible``.

    Parameters
    ----------
    model
        The model that was solved.
    options
        The options of the solve (for the requested gap).
    status
        How the solver ended (``INFEASIBLE`` / ``ERROR`` when there is no plan).
    solution
        Column values, or ``None``.
    bound
        The solver's best bound (``nan`` when it gave none).
    solver
        Backend name and version.
    timings
        Seconds per step.
    message
        The solver's own words.
    """
    if solution is None or status in (Status.INFEASIBLE, Status.ERROR):
        gap = float("inf")
        return SolveResult(status, None, float("nan"), bound, gap, solver, timings, message)
    solution = polish(model, solution)
    objective = model.value(solution)
    if status is Status.OPTIMAL and not np.isfinite(bound):
        bound = objective  # proven optimal, and the solver gave no separate bound
    if not np.isfinite(bound):
        bound = float("inf") if model.sense is Sense.MAXIMIZE else float("-inf")
    bound = clean_bound(model, objective, bound)
    gap = relative_gap(objective, bound)
    if status is Status.OPTIMAL and gap > options.mip_gap * 1.0001 + 1e-9:
        status = Status.FEASIBLE
    return SolveResult(status, solution, objective, bound, gap, solver, timings, message)


def row_kinds(model: MilpModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of equality rows, rows with a finite lower bound, rows with a finite upper bound."""
    lo, hi = model.row_lower, model.row_upper
    eq = np.isfinite(lo) & np.isfinite(hi) & (lo == hi)
    return eq, np.isfinite(lo) & ~eq, np.isfinite(hi) & ~eq


def contradictory_bounds(model: MilpModel) -> str:
    """A description of the first column or row whose lower bound exceeds its upper bound, or ``""``.

    Some solvers refuse such a model as invalid instead of calling it infeasible.
    """
    bad = np.flatnonzero(model.col_lower > model.col_upper + 1e-9)
    if bad.size:
        return f"column {int(bad[0])} must lie in [{model.col_lower[bad[0]]:g}, {model.col_upper[bad[0]]:g}]"
    bad = np.flatnonzero(model.row_lower > model.row_upper + 1e-9)
    if bad.size:
        return f"row {int(bad[0])} must lie in [{model.row_lower[bad[0]]:g}, {model.row_upper[bad[0]]:g}]"
    return ""


def infeasible_result(solver: str, why: str) -> SolveResult:
    """The result of a model found infeasible before any solve."""
    return SolveResult(Status.INFEASIBLE, None, float("nan"), float("nan"), float("inf"), solver, {},
                       f"the model is infeasible: {why}")
