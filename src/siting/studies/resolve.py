"""Independent solves, one function: solve these tasks, return plain results.

Sweeps, scenario comparisons and the ranking of retrofit options all ask the same question
many times with small changes (another budget, another weight, one option forbidden, the
demand perturbed). Each question is a :class:`SolveTask`: a prepared district and the rules
to solve it under. :func:`solve_many` answers a list of them and reports each one as it
finishes; it is the only place that loops over solves, so that a distributed executor can
replace its loop with a parallel map (every task and result pickles) without the callers
changing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from siting.errors import InfeasibleError, SitingError, SolverUnavailableError
from siting.model.rules import PlanningRules
from siting.pipeline import Prepared, solve_prepared
from siting.pipeline.plan import Plan
from siting.solvers import Status


@dataclass(frozen=True)
class SolveTask:
    """One independent solve.

    Attributes
    ----------
    key
        Stable name of the task (``budget=2.4e+07``, ``without S03/canteen``...), unique in a batch.
    prepared
        District, coverage and catalogue to solve on (a variant may swap its coverage or sites).
    rules
        Budget, weights and requirements; the prepared scenario's own when ``None``.
    backend
        Solver backend; the scenario's when ``None``.
    meta
        Plain values describing the task (the sweep's overrides...), carried into the result.
    start
        A boolean (sites × services) plan close to the answer (the plan without the option a
        ranking removes...), to start the search from; ``None``: the optimizer's own start.
    """

    key: str
    prepared: Prepared
    rules: PlanningRules | None = None
    backend: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    start: np.ndarray | None = None


@dataclass(frozen=True)
class SolveOutcome:
    """What one task gave: a plan, or the reason there is none.

    Attributes
    ----------
    key, meta
        As in the task.
    status
        How the solve ended (``infeasible`` or ``error`` without a plan).
    plan
        The plan, or ``None``.
    message
        Why there is no plan (the user-facing error), empty otherwise.
    seconds
        Wall-clock seconds of the task.
    """

    key: str
    status: Status
    plan: Plan | None
    message: str = ""
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when a plan came back."""
        return self.plan is not None


def solve_task(task: SolveTask) -> SolveOutcome:
    """Solve one task; a problem of this task (infeasible requirements...) becomes a result, not an error.

    Raises
    ------
    SolverUnavailableError
        When the backend is not installed: that stops the whole batch, not one task.
    """
    t0 = time.perf_counter()
    try:
        plan = solve_prepared(task.prepared, rules=task.rules, backend=task.backend, start=task.start)
    except SolverUnavailableError:
        raise
    except InfeasibleError as e:
        return SolveOutcome(task.key, Status.INFEASIBLE, None, str(e), time.perf_counter() - t0, dict(task.meta))
    except SitingError as e:
        return SolveOutcome(task.key, Status.ERROR, None, str(e), time.perf_counter() - t0, dict(task.meta))
    return SolveOutcome(task.key, plan.status, plan, "", time.perf_counter() - t0, dict(task.meta))


OnStart = Callable[[int, SolveTask], None]
OnDone = Callable[[int, SolveOutcome], None]


def solve_many(tasks: Sequence[SolveTask], *, on_start: OnStart | None = None,
               on_done: OnDone | None = None, scheduler: str | None = None) -> list[SolveOutcome]:
    """Solve independent tasks and return their results in task order.

    Parameters
    ----------
    tasks
        The solves to run; none depends on another.
    on_start
        Called with ``(index, task)`` when a task starts (progress: what is running).
    on_done
        Called with ``(index, result)`` in this thread as each task finishes (progress, and a
        record of finished work so that an interrupted batch can resume).
    scheduler
        Where to run them (:mod:`siting.execution`): ``sync`` in this process, ``processes[:N]``
        local worker processes (the default, one per core), ``local[:N]`` a Dask LocalCluster,
        or the address of a Dask scheduler; ``None`` reads ``SITING_SCHEDULER``.

    Returns
    -------
    list of SolveOutcome
        One per task, in the order of ``tasks``.

    Raises
    ------
    SolverUnavailableError
        When the backend is not installed (that stops the whole batch, not one task).
    """
    from siting.execution import Task, resolve_scheduler, run_tasks

    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique in a batch")
    if len(tasks) <= 1 or resolve_scheduler(scheduler).kind == "sync":
        return _solve_here(tasks, on_start, on_done)
    started: set[str] = set()
    index = {k: i for i, k in enumerate(keys)}
    results: list[SolveOutcome | None] = [None] * len(tasks)

    def progress(state: Any) -> None:
        if on_start is None:
            return
        for key in state.running:
            if key not in started:
                started.add(key)
                on_start(index[key], tasks[index[key]])

    def finished(i: int, outcome: Any) -> None:
        if outcome.ok:
            result = outcome.value
        elif outcome.error_type == "SolverUnavailableError":
            raise SolverUnavailableError(outcome.error)
        else:  # the task itself failed (a dead worker after its retries, a bug): report, go on
            result = SolveOutcome(tasks[i].key, Status.ERROR, None, f"{outcome.error_type}: {outcome.error}",
                                outcome.seconds, dict(tasks[i].meta))
        results[i] = result
        if on_done is not None:
            on_done(i, result)

    run_tasks([Task(t.key, solve_task, (t,)) for t in tasks], scheduler=scheduler, progress=progress,
              on_result=finished)
    return [r for r in results if r is not None]


def _solve_here(tasks: Sequence[SolveTask], on_start: OnStart | None, on_done: OnDone | None) -> list[SolveOutcome]:
    """The tasks one after another in this process."""
    results: list[SolveOutcome] = []
    for i, task in enumerate(tasks):
        if on_start is not None:
            on_start(i, task)
        result = solve_task(task)
        if on_done is not None:
            on_done(i, result)
        results.append(result)
    return results


__all__ = ["OnDone", "OnStart", "SolveOutcome", "SolveTask", "solve_many", "solve_task"]
