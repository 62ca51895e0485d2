"""Solve one prepared scenario: the model only (objective by objective), then the plan; or run every stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from siting.data.scenario import Scenario
from siting.errors import (
    InfeasibleError,
    ScenarioError,
    SitingError,
    SolverError,
)
from siting.model.rules import PlanningRules, SiteData
from siting.model.structure import ShareTarget
from siting.optimizer.deadline import no_plan_reason
from siting.optimizer.objectives import check_shares, objective_spec, optimize_objective
from siting.optimizer.standards import optimize_standards
from siting.pipeline.plan import Plan, make_plan
from siting.pipeline.prepare import Prepared, prepare
from siting.solvers import SolveOptions, SolveResult, Status, available_solvers, get_backend

if TYPE_CHECKING:  # the coverage and walking-time optimizers are imported by the objectives that use them
    from siting.optimizer.walking import WalkingTimes
    from siting.walking.distances import WalkDistances

T = TypeVar("T")


@dataclass(frozen=True)
class RunResult:
    """A finished run: the prepared data and the plan."""

    prepared: Prepared
    plan: Plan

    @property
    def scenario(self) -> Scenario:
        """The scenario that was run."""
        return self.prepared.scenario


def solve_prepared(prepared: Prepared, *, rules: PlanningRules | None = None,
                   backend: str | None = None, progress: Callable[[str], None] | None = None,
                   start: np.ndarray | None = None) -> Plan:
    """Build the model, solve it, and read the plan.

    ``progress``, when given, is called with a short line after each step of the coverage
    optimizer, of a stage of the standards-first default or of another objective's search (model
    size, heuristic plan, bound, result) — for a status line on long solves.
    ``start``, a boolean (sites × services) plan, warm-starts the coverage optimizer (see
    :func:`siting.optimizer.covering.optimize_covering`), the standards-first default's first
    stage (:func:`siting.optimizer.standards.optimize_standards`), walking time
    (:func:`siting.optimizer.walking.optimize_median`) and the other objectives
    (:func:`siting.optimizer.objectives.optimize_objective`); a start that breaks the rules is dropped.
    """
    scenario = prepared.scenario
    if scenario.phases:
        raise ScenarioError(f"{scenario.source or scenario.name}, field 'phases': a plan in phases is made by "
                            f"'siting run' (siting.studies.phases.run_phased); this command plans one budget at one "
                            f"moment: remove 'phases:' (and 'pilots:') to use it")
    rules = rules or prepared.rules
    opts = scenario.solver
    get_backend(backend or opts.backend)  # fail early with the alternatives named
    sites = prepared.district.sites
    objective = scenario.objective
    t0 = time.perf_counter()
    if objective.kind == "median":
        return _solve_median(prepared, rules, backend or opts.backend, progress, start=start)
    if objective.kind == "standards":
        return _solve_standards(prepared, rules, backend or opts.backend, start=start, progress=progress)
    if objective.kind != "coverage" or objective.floors or objective.targets:
        return _solve_objective(prepared, rules, backend or opts.backend, progress, start=start)
    from siting.optimizer.covering import optimize_covering

    solution = optimize_covering(
        prepared.coverage, SiteData.of(sites), rules,
        backend=backend or opts.backend,
        options=solver_options(scenario), progress=progress, start=start)
    result = solution.result
    if result.solution is None or result.status in (Status.INFEASIBLE, Status.ERROR):
        raise _no_plan(str(scenario.source or scenario.name), result, opts.time_limit_s)
    timings = {**prepared.timings, "model": solution.timings.get("build", 0.0)}
    hosts, result, walking = _break_tie(prepared, rules, backend or opts.backend, solution.hosts, result, timings,
                                        t0=t0)
    return make_plan(scenario.name, hosts, result, prepared.coverage, sites, prepared.catalogue, rules,
                     timings, walking_time=walking)


def _solve_objective(prepared: Prepared, rules: PlanningRules, backend: str,
                     progress: Callable[[str], None] | None = None, *, start: np.ndarray | None = None) -> Plan:
    """Fairness, floors, least cost or capacity: see :mod:`siting.optimizer.objectives`."""
    scenario = prepared.scenario
    origin = str(scenario.source or scenario.name)
    spec = objective_spec(scenario.objective, prepared.catalogue, prepared.coverage, origin=origin)
    t0 = time.perf_counter()
    sites = prepared.district.sites
    solution = optimize_objective(
        prepared.coverage, SiteData.of(sites), rules, spec,
        backend=backend, origin=origin,
        options=solver_options(scenario), say=progress, start=start)
    result = solution.result
    if result.solution is None:
        raise _no_plan(origin, result, scenario.solver.time_limit_s)
    timings = {**prepared.timings, "model": solution.timings.get("build", 0.0)}
    hosts, result, walking = _break_tie(prepared, rules, backend, solution.hosts, result, timings, t0=t0,
                                        floors=spec.floors)
    if walking is not None:  # coverage with floors, then walking time: the plan reports its coverage
        return make_plan(scenario.name, hosts, result, prepared.coverage, sites, prepared.catalogue, rules,
                         timings, walking_time=walking)
    # least_cost: the scenario's budget is not a limit; the plan's cost is the budget needed
    return make_plan(scenario.name, solution.hosts, result, prepared.coverage, sites, prepared.catalogue, rules,
                     timings, objective=result.objective, objective_kind=spec.kind)


def _no_plan(origin: str, result: SolveResult, time_limit_s: float) -> SitingError:
    """The error for a solve that found no plan, in the planner's words (never the solver's)."""
    if result.status is Status.INFEASIBLE:
        return InfeasibleError(f"{origin}: the requirements cannot all hold together (budget, min_sites, force_in, "
                               f"floors); relax one of them")
    if result.status is Status.ERROR:
        return SolverError(f"{origin}: {result.message}; no plan was written. Run again, try another solver backend "
                           f"(installed: {available_solvers()}), or set solver.isolate: true to keep siting running "
                           f"when the solver crashes")
    return SitingError(f"{origin}: " + no_plan_reason(result.status, time_limit_s,
                                                       requirements="budget, min_sites, force_in, floors"))


def _solve_standards(prepared: Prepared, rules: PlanningRules, backend: str, *,
                     start: np.ndarray | None = None, progress: Callable[[str], None] | None = None) -> Plan:
    """Basic services first, then quality ones: see :mod:`siting.optimizer.standards`."""
    scenario = prepared.scenario
    origin = str(scenario.source or scenario.name)
    spec = objective_spec(scenario.objective, prepared.catalogue, prepared.coverage, origin=origin)
    sites = prepared.district.sites
    if spec.floors:
        check_shares(prepared.coverage, SiteData.of(sites), rules, spec.floors, spec, origin)
    communities = np.unique(np.asarray(prepared.district.demand.communities).astype(str), return_inverse=True)[1]
    solution = optimize_standards(prepared.coverage, prepared.catalogue, SiteData.of(sites), rules,
                                  capacity=scenario.objective.capacity, floors=spec.floors,
                                  communities=communities.ravel().astype(np.int64), backend=backend,
                                  options=solver_options(scenario), start=start, say=progress)
    if solution.result.solution is None:
        raise _no_plan(origin, solution.result, scenario.solver.time_limit_s)
    timings = {**prepared.timings, "model": solution.timings.get("build", 0.0)}
    return make_plan(scenario.name, solution.hosts, solution.result, prepared.coverage, sites, prepared.catalogue,
                     rules, timings, objective=solution.result.objective, objective_kind="standards",
                     stages=solution.stages, served=solution.served)


def _distances(prepared: Prepared) -> WalkDistances:
    if prepared.distances is None:
        raise SitingError(f"{prepared.scenario.source or prepared.scenario.name}: objective.kind median and "
                          f"objective.tie_break need the walking distances, which this run did not keep; "
                          f"prepare the scenario with siting.pipeline.prepare")
    return prepared.distances


def solver_options(scenario: Scenario) -> SolveOptions:
    """The scenario's ``solver`` section as the backends' options."""
    opts = scenario.solver
    return SolveOptions(time_limit_s=opts.time_limit_s, mip_gap=opts.mip_gap, threads=opts.threads, seed=opts.seed,
                        isolate=opts.isolate)


def _break_tie(prepared: Prepared, rules: PlanningRules, backend: str, hosts: np.ndarray, result: SolveResult,
               timings: dict[str, float], *, t0: float,
               floors: tuple[ShareTarget, ...] = ()) -> tuple[np.ndarray, SolveResult, WalkingTimes | None]:
    """``tie_break: walking_time``: among plans keeping the coverage found, the least walking time."""
    if prepared.scenario.objective.tie_break != "walking_time":
        return hosts, result, None
    from siting.optimizer.walking import break_tie, group_speeds

    sites = prepared.district.sites
    options = solver_options(prepared.scenario)
    solution = break_tie(prepared.coverage, _distances(prepared), group_speeds(prepared.catalogue),
                         SiteData.of(sites), rules, hosts, result,
                         floors=floors, backend=backend, options=options,
                         time_left_s=options.time_limit_s - (time.perf_counter() - t0))
    timings.update(solution.timings)
    return solution.hosts, solution.result, solution.walking


def _solve_median(prepared: Prepared, rules: PlanningRules, backend: str,
                  progress: Callable[[str], None] | None = None, *, start: np.ndarray | None = None) -> Plan:
    """The least total weighted walking time: see :mod:`siting.optimizer.walking`."""
    from siting.optimizer.walking import group_speeds, median_rules, optimize_median

    scenario = prepared.scenario
    origin = str(scenario.source or scenario.name)
    sites = prepared.district.sites
    site_data = SiteData.of(sites)
    rules = median_rules(scenario.objective, prepared.catalogue, site_data, rules, origin=origin)
    solution = optimize_median(prepared.coverage, _distances(prepared), group_speeds(prepared.catalogue), site_data,
                               rules, backend=backend, options=solver_options(prepared.scenario), origin=origin,
                               say=progress, start=start)
    timings = {**prepared.timings, "model": solution.timings.get("build", 0.0)}
    return make_plan(scenario.name, solution.hosts, solution.result, prepared.coverage, sites, prepared.catalogue,
                     rules, timings, objective=solution.objective, objective_kind="median",
                     walking_time=solution.walking)


def run_scenario(scenario: Scenario, *, backend: str | None = None,
                 progress: Callable[[str], None] | None = None) -> RunResult:
    """Run every stage of one scenario (``progress``: see :func:`solve_prepared`)."""
    prepared = prepare(scenario)
    return RunResult(prepared, solve_prepared(prepared, backend=backend, progress=progress))


__all__ = ["RunResult", "run_scenario", "solve_prepared", "solver_options"]
