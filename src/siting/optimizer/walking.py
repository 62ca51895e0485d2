"""Objectives that minimise walking time: the p-median, and walking time as a coverage tie-breaker.

``objective: {kind: median}`` chooses, per service, the sites (their number from
``objective.p`` or ``requirements.min_sites`` / ``max_sites``; budget and floor areas still
hold) that minimise the total weighted walking time of every age group to its nearest open
facility of that service, existing facilities included (:func:`optimize_median`).

``objective: {kind: coverage, tie_break: walking_time}`` first maximises coverage as usual,
then, among the plans that keep that coverage, minimises the same walking time
(:func:`break_tie`). The plan's status, bound and gap are those of the coverage stage; both
stages' figures are in the plan's message and in :class:`WalkingTimes`.

Walks beyond the walking cutoff count as the cutoff (see :mod:`siting.walking.distances`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from siting.coverage import Coverage
from siting.data.catalogue import Catalogue
from siting.data.scenario import Objective
from siting.errors import InfeasibleError, ScenarioError, SitingError, raise_problems
from siting.model.covering import weighted_new_coverage
from siting.model.median import build_median_model
from siting.model.rules import PlanningRules, SiteData
from siting.model.structure import ShareTarget
from siting.optimizer.deadline import no_plan_reason
from siting.optimizer.generic import Progress
from siting.optimizer.radius import optimize_walking
from siting.solvers import SolveOptions, SolveResult, Status, solve
from siting.solvers.base import StageFigures, relative_gap
from siting.walking.distances import (
    BEYOND_CUTOFF,
    WalkDistances,
    minutes_per_metre,
    total_walking_minutes,
    walk_weights,
)

MIN_STAGE_S = 0.5  # the tie-break stage is skipped with less time left than this


@dataclass(frozen=True)
class WalkingTimes:
    """Walking time of each age group to the nearest open facility of each service, under a plan.

    Attributes
    ----------
    table
        One row per (service, age group): ``residents``, ``person_minutes`` (walks capped at
        the cutoff), ``mean_minutes``, ``residents_beyond_cutoff`` (no open facility within the
        cutoff: counted at the cutoff) and ``residents_out_of_reach`` (no allowed site nor
        existing facility within the cutoff: no plan can change that).
    cutoff_m
        The cutoff, flat-equivalent metres.
    total_minutes
        Weighted person-minutes, the objective of the walking-time stage.
    stages
        The solves behind the plan (one for the p-median; coverage then walking time for the
        tie-breaker), each with status, objective, bound and gap.
    """

    table: pd.DataFrame
    cutoff_m: float
    total_minutes: float
    stages: tuple[StageFigures, ...] = field(default_factory=tuple)

    @property
    def treatment(self) -> str:
        """How walks beyond the cutoff are counted, in words."""
        return BEYOND_CUTOFF.format(cutoff=self.cutoff_m)


def walking_time_table(hosts: np.ndarray, distances: WalkDistances, population: np.ndarray,
                       pairs: Sequence[tuple[int, int]], speeds: np.ndarray, *, able: np.ndarray,
                       service_keys: Sequence[str], group_keys: Sequence[str]) -> pd.DataFrame:
    """Residents, person-minutes and mean minutes per (service, age group) under a plan.

    Parameters
    ----------
    hosts
        Boolean (sites × services): the plan.
    distances
        Walking metres below the cutoff.
    population
        Residents per demand point and age group.
    pairs
        (service, age group) pairs served.
    speeds
        Walking speed of each age group, m/s.
    able
        Boolean (sites × services): every site allowed to host the service (for
        ``residents_out_of_reach``).
    service_keys, group_keys
        Names, in catalogue order.
    """
    cutoff = distances.cutoff_m
    near = distances.nearest_open(hosts)
    beyond = ~np.isfinite(near)
    unreachable = ~np.isfinite(distances.nearest_open(able))
    capped = np.minimum(near, cutoff)
    per_metre = minutes_per_metre(speeds)
    rows = []
    for s, g in pairs:
        pop = population[:, g]
        residents = float(pop.sum())
        minutes = float(pop @ capped[:, s]) * per_metre[g]
        rows.append({
            "service": service_keys[s], "age_group": group_keys[g], "residents": round(residents, 1),
            "person_minutes": round(minutes, 2),
            "mean_minutes": round(minutes / residents, 3) if residents > 0 else 0.0,
            "residents_beyond_cutoff": round(float(pop[beyond[:, s]].sum()), 1),
            "residents_out_of_reach": round(float(pop[unreachable[:, s]].sum()), 1),
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class WalkingSolution:
    """A plan from a walking-time objective and the figures to report for it.

    Attributes
    ----------
    hosts
        Boolean (sites × services) assignment.
    result
        Status, bound, gap and message as reported: of the p-median solve, or of the
        coverage stage for the tie-breaker.
    objective
        The plan's objective recomputed from the distances (p-median: weighted walking
        minutes) or ``None`` (tie-breaker: the coverage, recomputed by the plan).
    walking
        Walking times per service × age group and the figures of every stage.
    stats, timings
        Model sizes; seconds per step.
    """

    hosts: np.ndarray
    result: SolveResult
    objective: float | None
    walking: WalkingTimes
    stats: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _able(sites: SiteData, rules: PlanningRules) -> np.ndarray:
    """Boolean (sites × services): allowed, large enough and not forced out."""
    out: np.ndarray = (sites.allowed & (sites.floor_area[:, None] + 1e-9 >= rules.service_area[None, :])
                       & ~rules.force_out[:, None])
    return out


def median_rules(objective: Objective, catalogue: Catalogue, sites: SiteData, rules: PlanningRules, *,
                 origin: str = "scenario") -> PlanningRules:
    """The rules with ``objective.p`` as the exact number of sites of each service named.

    Raises
    ------
    ScenarioError, InfeasibleError or ValidationErrors
        An unknown service, a ``p`` outside ``requirements.min_sites`` / ``max_sites``, or more
        sites than there are sites able to host the service — one line each.
    """
    problems: list[SitingError] = []
    services = catalogue.service_keys
    mins, maxs = rules.min_sites.copy(), rules.max_sites.copy()
    able = _able(sites, rules)
    for key, p in objective.p.items():
        fld = f"objective.p.{key}"
        if key not in services:
            problems.append(ScenarioError(f"{origin}, field '{fld}': unknown service '{key}'; "
                                          f"services in play: {list(services)}"))
            continue
        s = services.index(key)
        if p < rules.min_sites[s] or 0 <= rules.max_sites[s] < p:
            hi = "no limit" if rules.max_sites[s] < 0 else str(rules.max_sites[s])
            problems.append(ScenarioError(
                f"{origin}, field '{fld}': p = {p} lies outside requirements.min_sites / max_sites of {key} "
                f"({rules.min_sites[s]} to {hi}); change p or the requirements"))
            continue
        if p > int(able[:, s].sum()):
            problems.append(InfeasibleError(
                f"{origin}, field '{fld}': p = {p} {key} sites, but only {int(able[:, s].sum())} site(s) may host "
                f"it with its {rules.service_area[s]:,.0f} m² (allowed, large enough, not forced out); lower p "
                f"or allow more sites"))
            continue
        mins[s], maxs[s] = p, p
    raise_problems(problems)
    return replace(rules, min_sites=mins, max_sites=maxs)


def group_speeds(catalogue: Catalogue) -> np.ndarray:
    """Walking speed of each age group on flat ground, m/s, in catalogue order."""
    return np.array([g.speed_m_s for g in catalogue.age_groups])


def _weights(coverage: Coverage, speeds: np.ndarray, rules: PlanningRules) -> np.ndarray:
    w = walk_weights(coverage.population, coverage.pairs, speeds, rules.service_weight, rules.group_weight)
    return w if coverage.need_weight is None else w * coverage.need_weight


def walking_times(hosts: np.ndarray, coverage: Coverage, distances: WalkDistances, speeds: np.ndarray,
                  sites: SiteData, rules: PlanningRules, stages: tuple[StageFigures, ...] = ()) -> WalkingTimes:
    """Walking times of a plan per service × age group, from the distances alone."""
    table = walking_time_table(hosts, distances, coverage.population, coverage.pairs, speeds,
                               able=_able(sites, rules), service_keys=coverage.service_keys,
                               group_keys=coverage.group_keys)
    total = total_walking_minutes(hosts, distances, _weights(coverage, speeds, rules))
    return WalkingTimes(table, distances.cutoff_m, total, stages)


def _beyond_note(walking: WalkingTimes) -> str:
    t = walking.table
    beyond = float(t["residents_beyond_cutoff"].sum())
    out = float(t["residents_out_of_reach"].sum())
    return (f"{walking.treatment}: {beyond:,.0f} residents × services have no open facility within it, "
            f"{out:,.0f} of them beyond every allowed site and existing facility")


def optimize_median(coverage: Coverage, distances: WalkDistances, speeds: np.ndarray, sites: SiteData,
                    rules: PlanningRules, *, backend: str = "highs", options: SolveOptions | None = None,
                    origin: str = "scenario", say: Progress | None = None,
                    start: np.ndarray | None = None) -> WalkingSolution:
    """The plan with the least total weighted walking time (the multi-service p-median).

    Parameters
    ----------
    coverage
        Residents per demand point and the (service, age group) pairs served.
    distances
        Walking metres below the cutoff.
    speeds
        Walking speed of each age group on flat ground, m/s.
    sites, rules
        Candidate sites; budget and requirements, with the number of sites per service (see
        :func:`median_rules`).
    backend, options
        Solver backend and its limits.
    origin
        The scenario file, for messages.
    say
        Progress lines of the shared optimizer (HiGHS).
    start
        A boolean (sites × services) plan to start from beside the greedy plan (the shared
        optimizer only; one that breaks the rules, with the numbers of sites, is dropped).

    Raises
    ------
    InfeasibleError
        When no plan meets the numbers of sites, the budget and the requirements together.
    SitingError
        When the solver found no plan.
    """
    options = options or SolveOptions()
    t0 = time.perf_counter()
    if backend == "highs" and not options.isolate:
        return _median_search(coverage, distances, speeds, sites, rules, options, origin, say, start)
    model = build_median_model(coverage, distances, _weights(coverage, speeds, rules), sites, rules)
    build = time.perf_counter() - t0
    result = solve(model.milp, backend, options)
    if result.status is Status.INFEASIBLE:
        raise InfeasibleError(f"{origin}: {NO_PLAN_P}")
    if result.solution is None:
        raise SitingError(f"{origin}: {no_plan_reason(result.status, options.time_limit_s, requirements=P_FIELDS)}")
    hosts = model.hosts(result.solution)
    return _median_solution(hosts, result, coverage, distances, speeds, sites, rules, dict(model.stats),
                            {"build": build, **result.timings})


#: The fields a median plan's number of sites comes from, for messages.
P_FIELDS = "objective.p, requirements.min_sites / max_sites, budget, force_in"
NO_PLAN_P = ("no plan opens the numbers of sites asked for (objective.p, requirements.min_sites / max_sites) within "
             "the budget and the other requirements; raise the budget or ask for fewer sites")


def _median_solution(hosts: np.ndarray, result: SolveResult, coverage: Coverage, distances: WalkDistances,
                     speeds: np.ndarray, sites: SiteData, rules: PlanningRules, stats: dict[str, int],
                     timings: dict[str, float]) -> WalkingSolution:
    """The plan's walking times, its stage figures and the message."""
    walking = walking_times(hosts, coverage, distances, speeds, sites, rules)
    total = walking.total_minutes
    stage = StageFigures("walking_time", result.status, total, result.bound, relative_gap(total, result.bound))
    walking = replace(walking, stages=(stage,))
    lead = f"{result.message}; " if result.message else ""
    message = (f"{lead}least total weighted walking time {total:,.1f} person-minutes "
               f"(bound {result.bound:,.1f}); {_beyond_note(walking)}")
    return WalkingSolution(hosts, replace(result, message=message), total, walking, stats, timings)


def _median_search(coverage: Coverage, distances: WalkDistances, speeds: np.ndarray, sites: SiteData,
                   rules: PlanningRules, options: SolveOptions, origin: str,
                   say: Progress | None = None, start: np.ndarray | None = None) -> WalkingSolution:
    """The p-median through the shared optimizer (:func:`siting.optimizer.radius.optimize_walking`)."""
    run = optimize_walking(coverage, distances, _weights(coverage, speeds, rules), sites, rules, options, say=say,
                           start=start)
    search = run.search
    result = search.result("radius formulation: greedy, swaps, cutting planes, branch and bound")
    if search.best is None:
        if result.status is Status.INFEASIBLE:
            raise InfeasibleError(f"{origin}: {NO_PLAN_P}")
        raise SitingError(f"{origin}: {no_plan_reason(result.status, options.time_limit_s, requirements=P_FIELDS)}")
    hosts = search.best
    result = replace(result, solution=hosts.ravel().astype(float))
    return _median_solution(hosts, result, coverage, distances, speeds, sites, rules, run.stats,
                            {**run.timings, "total": search.deadline.elapsed()})


def break_tie(coverage: Coverage, distances: WalkDistances, speeds: np.ndarray, sites: SiteData,
              rules: PlanningRules, hosts: np.ndarray, result: SolveResult, *, floors: tuple[ShareTarget, ...] = (),
              backend: str = "highs", options: SolveOptions | None = None,
              time_left_s: float | None = None) -> WalkingSolution:
    """Among plans covering at least as much as ``hosts``, the one with the least walking time.

    Parameters
    ----------
    coverage, distances, speeds, sites, rules
        As for :func:`optimize_median`.
    hosts, result
        The coverage stage's plan and result.
    floors
        The coverage stage's floors, kept in the second stage.
    backend, options
        Solver backend and its limits.
    time_left_s
        Seconds left for the second stage (default: the whole time limit).

    Returns
    -------
    WalkingSolution
        The second stage's plan with the coverage stage's status, bound and gap — unless the
        second stage found no plan: then the coverage stage's plan, with the second stage's
        status (``time_limit`` or ``error``) and a message saying why.
    """
    options = options or SolveOptions()
    t0 = time.perf_counter()
    kept = weighted_new_coverage(hosts, coverage, rules)
    first = StageFigures("coverage", result.status, kept, result.bound, relative_gap(kept, result.bound))
    left = options.time_limit_s if time_left_s is None else time_left_s
    model = build_median_model(coverage, distances, _weights(coverage, speeds, rules), sites, rules,
                               keep_coverage=kept, floors=list(floors))
    build = time.perf_counter() - t0
    left -= build
    if left < MIN_STAGE_S:
        r2 = SolveResult(Status.TIME_LIMIT, None, float("nan"), float("nan"), float("inf"), result.solver,
                         message=f"no time left for it ({max(left, 0.0):.1f} s)")
    else:
        start = model.solution_from_hosts(hosts, rules.force_in)
        r2 = solve(model.milp, backend, replace(options, time_limit_s=left, warm_start=start))
    timings = {"second_build": build, **{f"second_{k}": v for k, v in r2.timings.items()}}
    new = model.hosts(r2.solution) if r2.solution is not None else None
    if new is not None and weighted_new_coverage(new, coverage, rules) < kept - 1e-6 * max(1.0, abs(kept)):
        new, r2 = None, replace(r2, status=Status.ERROR, message="its plan lost coverage (numerical trouble)")
    if new is None:
        status = r2.status if r2.status is Status.TIME_LIMIT else Status.ERROR
        walking = walking_times(hosts, coverage, distances, speeds, sites, rules)
        stages = (first, StageFigures("walking_time", r2.status, float("nan"), r2.bound, float("inf")))
        message = (f"{result.message}; the walking-time tie-break found no plan ({r2.status.value}: {r2.message}), "
                   f"so this is the coverage stage's plan, its walking time not minimised; {_beyond_note(walking)}")
        return WalkingSolution(hosts, replace(result, status=status, message=message), None,
                               replace(walking, stages=stages), dict(model.stats), timings)
    walking = walking_times(new, coverage, distances, speeds, sites, rules)
    total = walking.total_minutes
    second = StageFigures("walking_time", r2.status, total, r2.bound, relative_gap(total, r2.bound))
    message = (f"{result.message}; then, among plans covering at least {kept:,.1f} weighted residents, the least "
               f"total weighted walking time {total:,.1f} person-minutes ({r2.status.value}, bound {r2.bound:,.1f}, "
               f"gap {second.gap:.2%}); {_beyond_note(walking)}")
    return WalkingSolution(new, replace(result, message=message), None, replace(walking, stages=(first, second)),
                           dict(model.stats), timings)
