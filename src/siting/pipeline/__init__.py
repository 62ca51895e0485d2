"""Stage 7, the pipeline of one scenario: prepare once (data → walking → coverage), then solve the
model as often as the studies above ask (:func:`solve_prepared`), and read the plan.

:mod:`~siting.pipeline.prepare`
    :func:`prepare`: read and check the data, walk, build coverage and the planning rules.
:mod:`~siting.pipeline.solve`
    :func:`solve_prepared`: the model only, objective by objective, through the optimizer;
    :func:`run_scenario`: both.
:mod:`~siting.pipeline.plan`
    :class:`Plan`: which site hosts which service, cost, coverage, status, bound and gap.
:mod:`~siting.pipeline.checks`
    Checks across stages before any solve.
"""

from siting.pipeline.plan import Plan
from siting.pipeline.prepare import (
    Prepared,
    WalkingSummary,
    catalogue_for,
    check_requirements,
    planning_rules,
    prepare,
    prepare_district,
)
from siting.pipeline.solve import RunResult, run_scenario, solve_prepared, solver_options

__all__ = ["Plan", "Prepared", "RunResult", "WalkingSummary", "catalogue_for", "check_requirements",
           "planning_rules", "prepare", "prepare_district", "run_scenario", "solve_prepared",
           "solver_options"]
