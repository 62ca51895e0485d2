"""The optimizer's entry point: from coverage and rules to a plan assignment with proof.

Callers (the runner, sweeps, benchmarks) use :func:`optimize_covering`; how it gets there —
the model, reductions, heuristics, which backend — stays behind this one function.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from siting.coverage import Coverage
from siting.model.covering import PlanningRules, SiteData, build_covering_model
from siting.solvers import SolveOptions, SolveResult, solve


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
        Seconds per step (``build``, ``solve``, ...).
    """

    hosts: np.ndarray
    result: SolveResult
    stats: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def optimize_covering(coverage: Coverage, sites: SiteData, rules: PlanningRules, *, backend: str = "highs",
                      options: SolveOptions | None = None) -> CoveringSolution:
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
        Solver backend name (see :func:`siting.solvers.available_solvers`).
    options
        Time limit, gap, threads, seed.

    Returns
    -------
    CoveringSolution
        The assignment with status, objective, bound and gap.
    """
    t0 = time.perf_counter()
    model = build_covering_model(coverage, sites, rules)
    t1 = time.perf_counter()
    result = solve(model.milp, backend, options or SolveOptions())
    hosts = (model.hosts(result.solution) if result.solution is not None
             else np.zeros((model.n_sites, model.n_services), dtype=bool))
    return CoveringSolution(hosts, result, dict(model.stats), {"build": t1 - t0, **result.timings})
