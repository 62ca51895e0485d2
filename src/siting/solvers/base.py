"""The one small interface every solver backend implements, and its typed result."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from siting.model.milp import MilpModel, Sense


class Status(StrEnum):
    """How a solve ended."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # stopped at the gap tolerance or another limit, with a plan
    TIME_LIMIT = "time_limit"  # stopped by the time limit; a plan when ``solution`` is set
    INFEASIBLE = "infeasible"
    ERROR = "error"


@dataclass(frozen=True)
class SolveOptions:
    """Limits and settings shared by every backend.

    Attributes
    ----------
    time_limit_s
        Wall-clock limit of the solver.
    mip_gap
        Relative gap at which to stop.
    threads
        Solver threads (1 for reproducible runs).
    seed
        Solver random seed.
    warm_start
        A feasible solution to start from, or ``None``. HiGHS also takes a partial one
        (``nan`` where a value is not given: it completes the rest); other backends ignore
        a partial start.
    verbose
        Show the solver's log.
    isolate
        Solve in a watched child process (:mod:`siting.solvers.isolated`): a crash or a hang
        past the time limit comes back as status ``error`` instead of taking siting down.
    pseudocosts
        Branch on pseudocost estimates from the first node instead of strong branching (HiGHS;
        other backends ignore it). Asked for by the coverage optimizer's whole-model solve, where
        strong branching took most of HiGHS's LP iterations (docs/model.md).
    root_cuts_only
        Separate cutting planes at the root node only, not at the nodes of the search tree
        (HiGHS; other backends ignore it). Asked for by the coverage optimizer's whole-model solve
        (docs/model.md).
    start_given
        The caller hands over a plan from its own search (``warm_start``): HiGHS's sub-MIP on the
        root's reduced costs, one more search for a first plan, is skipped (HiGHS; other backends
        ignore it). Asked for by the coverage optimizer's whole-model solve (docs/model.md).
    """

    time_limit_s: float = 60.0
    mip_gap: float = 1e-4
    threads: int = 1
    seed: int = 0
    warm_start: np.ndarray | None = None
    verbose: bool = False
    isolate: bool = False
    pseudocosts: bool = False
    root_cuts_only: bool = False
    start_given: bool = False


@dataclass(frozen=True)
class StageFigures:
    """One stage of a solve in several stages (lexicographic objectives, tie-breakers), as reported.

    Attributes
    ----------
    name
        The stage: ``basic`` then ``quality`` (standards first), ``coverage`` then
        ``walking_time`` (the tie-breaker), ``walking_time`` (the p-median)...
    status
        How that stage's solve ended.
    objective, bound, gap
        Its objective value, best proven bound and relative gap.
    """

    name: str
    status: Status
    objective: float
    bound: float
    gap: float


@dataclass(frozen=True)
class SolveResult:
    """What a solve returns: always a status, objective, bound and gap.

    Attributes
    ----------
    status
        How the solve ended.
    solution
        Column values, or ``None`` when no feasible solution was found.
    objective
        Objective of ``solution`` (``nan`` without one).
    bound
        Best proven bound on the optimum (upper for maximisation).
    gap
        ``|bound - objective| / max(|objective|, 1e-9)``; 0 when proven optimal.
    solver
        Backend name and version.
    timings
        Seconds per step (``build``, ``solve``...).
    message
        The solver's own words, when there are any worth keeping.
    """

    status: Status
    solution: np.ndarray | None
    objective: float
    bound: float
    gap: float
    solver: str
    timings: dict[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def has_solution(self) -> bool:
        """True when a feasible plan came back."""
        return self.solution is not None


def relative_gap(objective: float, bound: float) -> float:
    """Relative gap between a solution value and a bound (0 when they agree, inf from a zero value)."""
    if not np.isfinite(objective) or not np.isfinite(bound):
        return float("inf")
    diff = abs(bound - objective)
    if diff <= 1e-9 * max(1.0, abs(bound)):
        return 0.0
    if abs(objective) <= 1e-9:  # nothing achieved yet against a positive bound: no finite ratio
        return float("inf")
    return diff / abs(objective)


def clean_bound(model: MilpModel, objective: float, bound: float) -> float:
    """The bound, clipped so it never lies on the wrong side of the objective (numerical noise)."""
    if not np.isfinite(bound):
        return bound
    if model.sense is Sense.MAXIMIZE:
        return max(bound, objective) if np.isfinite(objective) else bound
    return min(bound, objective) if np.isfinite(objective) else bound


class Backend(Protocol):
    """A solver backend: translates a :class:`MilpModel` and solves it."""

    name: str

    def available(self) -> bool:
        """True when the backend's package is installed and works."""
        ...

    def solve(self, model: MilpModel, options: SolveOptions) -> SolveResult:
        """Solve the model."""
        ...
