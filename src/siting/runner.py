"""Run a scenario through every stage: scenario → district → walking → coverage → model → plan."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from siting.catalog import Catalogue, build_catalogue, default_catalogue
from siting.checks import key_problems, requirement_problems, snapping_problems
from siting.coverage import Coverage, able_hosts, build_coverage, straight_vs_network, walk_cutoff_m
from siting.distances import WalkDistances, WalkingTimes
from siting.district import District, load_district
from siting.errors import (
    CatalogueError,
    InfeasibleError,
    ScenarioError,
    SitingError,
    SolverError,
    raise_problems,
)
from siting.model.covering import PlanningRules, SiteData
from siting.model.structure import ShareTarget
from siting.objectives import objective_spec, optimize_objective
from siting.optimize import optimize_covering
from siting.plan import Plan, make_plan
from siting.scenario import Scenario
from siting.solvers import SolveOptions, SolveResult, Status, available_solvers, get_backend
from siting.walking.network import WalkingNetwork
from siting.walking.stage import district_reach, read_scenario_network
from siting.walking_objectives import break_tie, group_speeds, median_rules, optimize_median

T = TypeVar("T")


@dataclass(frozen=True)
class WalkingSummary:
    """How walking distances were obtained, for the report."""

    mode: str
    cutoff_m: float
    pairs_within_cutoff: int
    notes: tuple[str, ...] = ()
    straight_vs_network: tuple[dict[str, Any], ...] = ()
    snapping: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """Everything up to the model: what a solve needs, computed once (``network``: the walking
    network in the district's CRS, in network mode, for maps; ``distances``: the walking metres
    below the cutoff, for the walking-time objectives)."""

    scenario: Scenario
    catalogue: Catalogue
    district: District
    coverage: Coverage
    rules: PlanningRules
    walking: WalkingSummary
    timings: dict[str, float] = field(default_factory=dict)
    network: WalkingNetwork | None = None
    distances: WalkDistances | None = None


@dataclass(frozen=True)
class RunResult:
    """A finished run: the prepared data and the plan."""

    prepared: Prepared
    plan: Plan

    @property
    def scenario(self) -> Scenario:
        """The scenario that was run."""
        return self.prepared.scenario


def catalogue_for(scenario: Scenario) -> Catalogue:
    """The scenario's catalogue: defaults with its overrides, restricted to its services."""
    origin = str(scenario.source or scenario.name)
    return build_catalogue(scenario.catalogue.services, scenario.catalogue.age_groups,
                           services=scenario.services, origin=origin)


def planning_rules(scenario: Scenario, catalogue: Catalogue, district: District) -> PlanningRules:
    """Budget, weights and requirements as arrays; every key checked against the catalogue."""
    origin = str(scenario.source or scenario.name)
    problems: list[SitingError] = []
    services = catalogue.service_keys
    groups = catalogue.group_keys

    def keyed(values: dict[str, float], keys: tuple[str, ...], field_name: str, default: float) -> np.ndarray:
        for k in values:
            if k not in keys:
                problems.append(CatalogueError(
                    f"{origin}, field '{field_name}': unknown key '{k}'; known: {list(keys)}"))
        return np.array([float(values.get(k, default)) for k in keys])

    req = scenario.requirements
    sw = keyed(scenario.weights.services, services, "weights.services", 1.0)
    gw = keyed(scenario.weights.age_groups, groups, "weights.age_groups", 1.0)
    mins = keyed({k: float(v) for k, v in req.min_sites.items()}, services, "requirements.min_sites", 0)
    maxs = keyed({k: float(v) for k, v in req.max_sites.items()}, services, "requirements.max_sites", -1)
    site_index = {sid: j for j, sid in enumerate(district.sites.ids)}
    force_in = np.zeros(len(district.sites), dtype=bool)
    force_out = np.zeros(len(district.sites), dtype=bool)
    for name, ids, mask in (("force_in", req.force_in, force_in), ("force_out", req.force_out, force_out)):
        for sid in ids:
            if sid not in site_index:
                problems.append(ScenarioError(
                    f"{origin}, field 'requirements.{name}': site id '{sid}' is not in {scenario.data.sites}"))
            else:
                mask[site_index[sid]] = True
    both = np.flatnonzero(force_in & force_out)
    if both.size:
        problems.append(InfeasibleError(
            f"{origin}: site '{district.sites.ids[both[0]]}' is both in requirements.force_in and force_out; "
            f"keep it in one of them"))
    raise_problems(problems)
    return PlanningRules(
        budget=float(scenario.budget),
        service_area=np.array([s.floor_area_m2 for s in catalogue.services]),
        service_fitout=np.array([s.fitout_cost for s in catalogue.services]),
        service_weight=sw,
        group_weight=gw,
        min_sites=mins.astype(np.int64),
        max_sites=maxs.astype(np.int64),
        force_in=force_in,
        force_out=force_out,
    )


def check_requirements(scenario: Scenario, catalogue: Catalogue, district: District,
                       rules: PlanningRules) -> None:
    """Name the requirements that cannot hold, before any solve.

    Raises
    ------
    ValidationErrors or InfeasibleError
        One line per requirement that cannot be met, with the figures that show why
        (see :func:`siting.checks.requirement_problems`).
    """
    raise_problems(requirement_problems(str(scenario.source or scenario.name), catalogue, district, rules))


def prepare(scenario: Scenario) -> Prepared:
    """Read the data, compute walking distances and coverage; everything before the model.

    Raises
    ------
    SitingError
        Every problem found in the scenario and its files, listed at once as far as one stage
        allows: the catalogue, every data table and the network are all checked before
        anything is raised.
    """
    timings: dict[str, Any] = {}
    t = time.perf_counter()
    problems: list[SitingError] = []
    try:
        catalogue = catalogue_for(scenario)
    except SitingError as e:
        problems.append(e)
        catalogue = default_catalogue()  # to check the data all the same
    district = _collect(problems, load_district, scenario, catalogue)
    walking = scenario.walking
    net_files = scenario.data.network
    network = None
    if walking.mode == "network" and net_files is None:
        problems.append(ScenarioError(f"{scenario.source}, field 'walking.mode': 'network' needs 'data.network' "
                                      f"(nodes and edges files), or use mode 'euclidean'"))
    elif walking.mode == "network" and net_files is not None:
        network = _collect(problems, read_scenario_network, scenario,
                           district.crs if district is not None else "EPSG:4326")
    if district is None:
        problems += key_problems(scenario, catalogue)
    raise_problems(problems)
    assert district is not None
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    cutoff = walk_cutoff_m(catalogue)
    walked = district_reach(scenario, district, cutoff_m=cutoff, network=network)
    site_reach, exist_reach = walked.sites, walked.existing
    if walked.demand_offnet_m is not None and walked.dest_offnet_m is not None:
        data, m = scenario.data, len(district.sites)
        problems += snapping_problems(
            {"demand": (walked.demand_offnet_m, district.demand.ids, data.demand),
             "sites": (walked.dest_offnet_m[:m], district.sites.ids, data.sites),
             "existing": (walked.dest_offnet_m[m:], district.existing.ids, data.existing)},
            limit_m=walking.snap_limit_m, origin=str(scenario.source),
            network_file=Path(net_files.nodes or net_files.path or "") if net_files else None)
    timings["walking"] = time.perf_counter() - t
    t = time.perf_counter()
    coverage = build_coverage(district, catalogue, site_reach, exist_reach)
    timings["coverage"] = time.perf_counter() - t
    comparison: tuple[dict[str, Any], ...] = ()
    if walked.straight_sites is not None and walked.straight_existing is not None:
        straight = build_coverage(district, catalogue, walked.straight_sites, walked.straight_existing)
        comparison = straight_vs_network(coverage, straight, able_hosts(district, catalogue))
    rules = _collect(problems, planning_rules, scenario, catalogue, district)
    if rules is not None:
        problems += requirement_problems(str(scenario.source or scenario.name), catalogue, district, rules)
    raise_problems(problems)
    assert rules is not None
    notes = (*district.notes, *walked.notes)
    summary = WalkingSummary(walking.mode, cutoff, site_reach.nnz, notes, comparison, walked.counts)
    distances = WalkDistances(site_reach, exist_reach, district.existing.service)
    return Prepared(scenario, catalogue, district, coverage, rules, summary, timings, network, distances)


def _collect(problems: list[SitingError], step: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one checking step; on a user mistake record it and go on with the next step."""
    try:
        return step(*args, **kwargs)
    except SitingError as e:
        problems.append(e)
        return None


def solve_prepared(prepared: Prepared, *, rules: PlanningRules | None = None,
                   backend: str | None = None, progress: Callable[[str], None] | None = None) -> Plan:
    """Build the model, solve it, and read the plan.

    ``progress``, when given, is called with a short line after each step of the coverage
    optimizer (model size, heuristic plan, bound, result) — for a status line on long solves.
    """
    scenario = prepared.scenario
    rules = rules or prepared.rules
    opts = scenario.solver
    get_backend(backend or opts.backend)  # fail early with the alternatives named
    sites = prepared.district.sites
    objective = scenario.objective
    t0 = time.perf_counter()
    if objective.kind == "median":
        return _solve_median(prepared, rules, backend or opts.backend)
    if objective.kind != "coverage" or objective.floors or objective.targets:
        return _solve_objective(prepared, rules, backend or opts.backend)
    solution = optimize_covering(
        prepared.coverage, SiteData(sites.floor_area, sites.retrofit_cost, sites.allowed), rules,
        backend=backend or opts.backend,
        options=SolveOptions(time_limit_s=opts.time_limit_s, mip_gap=opts.mip_gap, threads=opts.threads,
                             seed=opts.seed, isolate=opts.isolate),
        progress=progress)
    result = solution.result
    if result.status is Status.INFEASIBLE:
        raise InfeasibleError(f"{scenario.source}: the requirements cannot all hold together "
                              f"(budget, min_sites, force_in); relax one of them")
    if result.status is Status.ERROR:
        raise SolverError(f"{scenario.source}: {result.message}; no plan was written. Run again, try another "
                          f"solver backend (installed: {available_solvers()}), or set solver.isolate: true "
                          f"to keep siting running when the solver crashes")
    if result.solution is None:
        raise SitingError(f"{scenario.source}: the solver found no plan ({result.status.value}: "
                          f"{result.message}); raise solver.time_limit_s or simplify the scenario")
    timings = {**prepared.timings, "model": solution.timings.get("build", 0.0)}
    hosts, result, walking = _break_tie(prepared, rules, backend or opts.backend, solution.hosts, result, timings,
                                        t0=t0)
    return make_plan(scenario.name, hosts, result, prepared.coverage, sites, prepared.catalogue, rules,
                     timings, walking_time=walking)


def _solve_objective(prepared: Prepared, rules: PlanningRules, backend: str) -> Plan:
    """Fairness, floors, least cost or capacity: see :mod:`siting.objectives`."""
    scenario = prepared.scenario
    origin = str(scenario.source or scenario.name)
    spec = objective_spec(scenario.objective, prepared.catalogue, prepared.coverage, origin=origin)
    opts = scenario.solver
    t0 = time.perf_counter()
    sites = prepared.district.sites
    solution = optimize_objective(
        prepared.coverage, SiteData(sites.floor_area, sites.retrofit_cost, sites.allowed), rules, spec,
        backend=backend, origin=origin,
        options=SolveOptions(time_limit_s=opts.time_limit_s, mip_gap=opts.mip_gap, threads=opts.threads,
                             seed=opts.seed))
    result = solution.result
    if result.solution is None:
        raise SitingError(f"{origin}: the solver found no plan ({result.status.value}: {result.message}); "
                          f"raise solver.time_limit_s or simplify the scenario")
    timings = {**prepared.timings, "model": solution.timings.get("build", 0.0)}
    hosts, result, walking = _break_tie(prepared, rules, backend, solution.hosts, result, timings, t0=t0,
                                        floors=spec.floors)
    if walking is not None:  # coverage with floors, then walking time: the plan reports its coverage
        return make_plan(scenario.name, hosts, result, prepared.coverage, sites, prepared.catalogue, rules,
                         timings, walking_time=walking)
    # least_cost: the scenario's budget is not a limit; the plan's cost is the budget needed
    return make_plan(scenario.name, solution.hosts, result, prepared.coverage, sites, prepared.catalogue, rules,
                     timings, objective=result.objective, objective_kind=spec.kind)


def _distances(prepared: Prepared) -> WalkDistances:
    if prepared.distances is None:
        raise SitingError(f"{prepared.scenario.source or prepared.scenario.name}: objective.kind median and "
                          f"objective.tie_break need the walking distances, which this run did not keep; "
                          f"prepare the scenario with siting.runner.prepare")
    return prepared.distances


def _solver_options(prepared: Prepared) -> SolveOptions:
    opts = prepared.scenario.solver
    return SolveOptions(time_limit_s=opts.time_limit_s, mip_gap=opts.mip_gap, threads=opts.threads, seed=opts.seed,
                        isolate=opts.isolate)


def _break_tie(prepared: Prepared, rules: PlanningRules, backend: str, hosts: np.ndarray, result: SolveResult,
               timings: dict[str, float], *, t0: float,
               floors: tuple[ShareTarget, ...] = ()) -> tuple[np.ndarray, SolveResult, WalkingTimes | None]:
    """``tie_break: walking_time``: among plans keeping the coverage found, the least walking time."""
    if prepared.scenario.objective.tie_break != "walking_time":
        return hosts, result, None
    sites = prepared.district.sites
    options = _solver_options(prepared)
    solution = break_tie(prepared.coverage, _distances(prepared), group_speeds(prepared.catalogue),
                         SiteData(sites.floor_area, sites.retrofit_cost, sites.allowed), rules, hosts, result,
                         floors=floors, backend=backend, options=options,
                         time_left_s=options.time_limit_s - (time.perf_counter() - t0))
    timings.update(solution.timings)
    return solution.hosts, solution.result, solution.walking


def _solve_median(prepared: Prepared, rules: PlanningRules, backend: str) -> Plan:
    """The least total weighted walking time: see :mod:`siting.walking_objectives`."""
    scenario = prepared.scenario
    origin = str(scenario.source or scenario.name)
    sites = prepared.district.sites
    site_data = SiteData(sites.floor_area, sites.retrofit_cost, sites.allowed)
    rules = median_rules(scenario.objective, prepared.catalogue, site_data, rules, origin=origin)
    solution = optimize_median(prepared.coverage, _distances(prepared), group_speeds(prepared.catalogue), site_data,
                               rules, backend=backend, options=_solver_options(prepared), origin=origin)
    timings = {**prepared.timings, "model": solution.timings.get("build", 0.0)}
    return make_plan(scenario.name, solution.hosts, solution.result, prepared.coverage, sites, prepared.catalogue,
                     rules, timings, objective=solution.objective, objective_kind="median",
                     walking_time=solution.walking)


def run_scenario(scenario: Scenario, *, backend: str | None = None,
                 progress: Callable[[str], None] | None = None) -> RunResult:
    """Run every stage of one scenario (``progress``: see :func:`solve_prepared`)."""
    prepared = prepare(scenario)
    return RunResult(prepared, solve_prepared(prepared, backend=backend, progress=progress))


__all__ = ["Prepared", "RunResult", "WalkingSummary", "catalogue_for", "check_requirements",
           "planning_rules", "prepare", "run_scenario", "solve_prepared"]
