"""What a run works out beyond its plan, for the report: ranked options and the budget frontier.

:func:`analysis_tasks` lists every re-solve the scenario's ``analysis`` section asks for (one
per option of the plan removed, one per perturbed-demand sample, one per frontier budget);
the caller runs them through :func:`siting.studies.resolve.solve_many` (with a progress bar) and
:func:`read_analysis` turns the results into a :class:`RunAnalysis`. :func:`analyse_run`
does both. Nothing here writes files or reads the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from siting.pipeline import Prepared, RunResult

if TYPE_CHECKING:  # the studies are imported when an analysis runs (a run without one needs only RunAnalysis)
    from siting.studies.ranking import Ranking, RankingSettings
    from siting.studies.resolve import OnDone, OnStart, SolveOutcome, SolveTask


@dataclass(frozen=True)
class RunAnalysis:
    """Ranked options and the coverage-vs-budget frontier of one run.

    Attributes
    ----------
    ranking
        Ranked options of the plan and the best options left out (``None`` when switched off).
    frontier
        One row per budget (the plan's own included), see :func:`siting.studies.sweep.frontier_table`.
    streets
        Street segments in the district's metres, shape (k, 2, 2), for the map; ``None``
        without a walking network.
    """

    ranking: Ranking | None = None
    frontier: pd.DataFrame | None = None
    streets: np.ndarray | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def ranking_settings(run: RunResult) -> RankingSettings:
    """The ranking settings of the run's scenario (perturbations seeded by the solver seed)."""
    from siting.studies.ranking import RankingSettings

    a = run.scenario.analysis
    return RankingSettings(samples=a.robustness_samples, perturbation=a.perturbation,
                           seed=run.scenario.solver.seed, alternatives=a.alternatives)


def frontier_budgets(run: RunResult) -> list[float]:
    """The budgets of the frontier other than the plan's own, ascending."""
    b = run.plan.budget
    return sorted({round(m * b, 2) for m in run.scenario.analysis.frontier if abs(m - 1.0) > 1e-9})


def analysis_tasks(run: RunResult, *, backend: str | None = None) -> list[SolveTask]:
    """Every re-solve the scenario's ``analysis`` section asks for.

    A frontier budget the plan fits in starts from the plan (a larger budget can only do better).
    """
    from siting.studies.ranking import ranking_tasks
    from siting.studies.resolve import SolveTask
    from siting.studies.sweep import budget_tasks

    tasks = []
    if run.scenario.analysis.ranking:
        tasks += ranking_tasks(run.prepared, run.plan, ranking_settings(run), backend=backend)
    tasks += [SolveTask(t.key, t.prepared, t.rules, t.backend, {**t.meta, "kind": "frontier"},
                        start=run.plan.hosts.copy() if t.prepared.rules.budget >= run.plan.cost else None)
              for t in budget_tasks(run.prepared, frontier_budgets(run), backend=backend)]
    return tasks


def read_analysis(run: RunResult, results: Sequence[SolveOutcome]) -> RunAnalysis:
    """Ranked options and frontier from the results of :func:`analysis_tasks`."""
    from siting.studies.ranking import rank_options
    from siting.studies.resolve import SolveOutcome
    from siting.studies.sweep import chosen_share, frontier_table

    own = SolveOutcome(f"budget={run.plan.budget:g}", run.plan.status, run.plan,
                     meta={"kind": "frontier", "overrides": {"budget": run.plan.budget}})
    frontier_results = sorted([*[r for r in results if r.meta.get("kind") == "frontier"], own],
                              key=lambda r: float(r.meta["overrides"]["budget"]))
    frontier = (frontier_table(frontier_results, run.prepared.catalogue.group_keys,
                               lower_is_better=run.plan.minimises)
                if len(frontier_results) > 1 else None)
    ranking = None
    if run.scenario.analysis.ranking:
        share = chosen_share(frontier_results) if frontier is not None else None
        ranking = rank_options(run.prepared, run.plan, [r for r in results if r.meta.get("kind") != "frontier"],
                               ranking_settings(run), sweep_share=share)
    notes = tuple(f"{r.key}: {r.message.splitlines()[0]}" for r in results if r.plan is None and r.message)
    return RunAnalysis(ranking, frontier, street_segments(run.prepared), notes)


def analyse_run(run: RunResult, *, backend: str | None = None, on_start: OnStart | None = None,
                on_done: OnDone | None = None) -> RunAnalysis:
    """Run every re-solve of the analysis and read the results."""
    from siting.studies.resolve import solve_many

    return read_analysis(run, solve_many(analysis_tasks(run, backend=backend), on_start=on_start, on_done=on_done))


def street_segments(prepared: Prepared) -> np.ndarray | None:
    """The walking network's edges as segments in the district's metres, for the map."""
    network = prepared.network
    if network is None:
        return None
    return np.stack([network.xy[network.u], network.xy[network.v]], axis=1)


__all__ = ["RunAnalysis", "analyse_run", "analysis_tasks", "frontier_budgets", "ranking_settings",
           "read_analysis", "street_segments"]
