"""Plans in phases for districts too large for one model: coverage over time by relaxation and kernel.

For the coverage objective, what is open by the end of phase ``t`` is a plan of one moment that
spends at most the money given up to ``t``, ``C_t = B_1 + … + B_t`` (carried or not, no phase
spends money given later). Dropping the requirement that each phase keeps what the phase
before opened leaves one independent problem per phase, so

    Σ_t ω_t · U_t,   U_t a proven upper bound on the best plan of one moment with money C_t

bounds the best plan in phases from above. :func:`optimize_joint_large`:

1. solves each phase's plan of one moment with :func:`siting.optimizer.covering.optimize_covering`
   (the compact instance, its reductions, the heuristics, the Benders LP bound and the kernel
   search of the single-moment optimizer), money ``C_t``, sites not yet allowed left out,
   pilots converted, the requirements that hold by the end on the last phase only; each
   warm-started with the plan of the phase before, each aiming at a quarter of the gap target,
   the time (:data:`RELAXATION_SHARE` of the limit) shared in proportion to ``C_t`` (more money,
   more sites in play), what a phase leaves unused going to the next;
2. solves the phased model exactly (:func:`siting.optimizer.phases.optimize_joint`) over the
   *kernel*: the (site, service) pairs any of those plans uses, a small model;
3. reports the kernel's plan against the bound of step 1.

:func:`optimize_myopic_large` is the myopic planner at the same scale: phase ``t`` is a plan of
one moment over what is left — residents already reached count as covered, the sites already
converted cost nothing more to convert and keep the floor area their services leave, the
budget is the money the phase has — solved by ``optimize_covering`` too.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from siting.coverage import Coverage
from siting.model.phases import PhaseRules, Schedule
from siting.model.rules import PlanningRules, SiteData, pair_costs, phase_spending
from siting.optimizer.covering import optimize_covering
from siting.optimizer.phases import PhasedSolution, coverage_problem, optimize_joint, worse
from siting.solvers import SolveOptions, SolveResult, Status
from siting.solvers.base import StageFigures, relative_gap

#: Share of the time limit the phases' single-moment solves take (the kernel gets the rest).
RELAXATION_SHARE = 0.8
#: The phases' single-moment solves aim at this fraction of the gap target: their bounds add up.
RELAXATION_GAP = 0.25

Progress = Callable[[str], None]


def relaxed_rules(rules: PlanningRules, phases: PhaseRules, t: int) -> PlanningRules:
    """The rules a plan of one moment meets when it is what phases ``0..t`` have opened (module docstring)."""
    last = t == phases.n_phases - 1
    return dataclasses.replace(
        rules, budget=float(phases.budget[:t + 1].sum()),
        force_in=phases.pilot | (rules.force_in if last else False),
        force_out=rules.force_out | (phases.first_phase > t),
        min_sites=rules.min_sites if last else np.zeros_like(rules.min_sites))


def _left(deadline: float) -> float:
    return max(deadline - time.perf_counter(), 0.1)


def optimize_joint_large(coverage: Coverage, sites: SiteData, rules: PlanningRules, phases: PhaseRules, *,
                         backend: str = "highs", options: SolveOptions | None = None,
                         progress: Progress | None = None, myopic: PhasedSolution | None = None) -> PhasedSolution:
    """The joint plan of the coverage objective over the phases, by relaxation and kernel (module docstring).

    ``myopic``, the myopic plan, joins the kernel with its pairs and starts its solve: the joint
    plan is then never below it.

    Returns
    -------
    PhasedSolution
        The kernel's plan; its result's bound is the relaxation's, its status ``optimal`` when
        within the options' gap of it.
    """
    opts = options or SolveOptions()
    say = progress or (lambda _line: None)
    t0 = time.perf_counter()
    deadline = t0 + float(opts.time_limit_s)
    T = phases.n_phases
    hosts: list[np.ndarray] = []
    bounds = np.zeros(T)
    start: np.ndarray | None = None
    timings: dict[str, float] = {}
    money = np.cumsum(phases.budget)
    shares = money / money.sum() if money.sum() > 0 else np.full(T, 1.0 / T)  # more money, a larger model
    relax_end = deadline - (1 - RELAXATION_SHARE) * (deadline - t0)
    for t in range(T):  # phases, not data
        left_share = shares[t] / shares[t:].sum()  # what earlier phases left unused goes to later ones
        budget_s = left_share * _left(relax_end)
        ts = time.perf_counter()
        sol = optimize_covering(coverage, sites, relaxed_rules(rules, phases, t), backend=backend,
                                options=dataclasses.replace(opts, time_limit_s=max(budget_s, 0.5),
                                                            mip_gap=max(RELAXATION_GAP * opts.mip_gap, 1e-6)),
                                start=start)
        timings[f"relaxation_{phases.names[t]}"] = time.perf_counter() - ts
        r = sol.result
        if r.solution is None or not np.isfinite(r.bound):
            return _failed(r, timings, f"the plan of one moment with the money up to phase {phases.names[t]} "
                                       f"found nothing ({r.status.value})")
        hosts.append(sol.hosts)
        bounds[t] = r.bound
        start = sol.hosts
        say(f"phase {phases.names[t]} alone: {r.objective:,.1f}, bound {r.bound:,.1f} ({r.gap:.2%}), "
            f"{timings[f'relaxation_{phases.names[t]}']:.1f} s")
    bound = float(phases.weight @ bounds)
    kernel = np.logical_or.reduce(hosts) & sites.allowed
    if myopic is not None and myopic.has_plan:
        kernel |= myopic.schedule.final
    sub = SiteData(sites.floor_area, sites.retrofit_cost, kernel, sites.cost_per_m2)
    ts = time.perf_counter()
    problem = coverage_problem(coverage, sub, rules, phases, min_conversions=bool(phases.min_conversions.any()))
    warm = None
    if myopic is not None and myopic.has_plan:  # the myopic plan, read in the kernel's columns
        warm = dataclasses.replace(myopic, solution=problem.model(phases).solution_of(myopic.schedule))
    joint = optimize_joint(problem, phases, backend=backend,
                           options=dataclasses.replace(opts, time_limit_s=_left(deadline)), myopic=warm)
    timings["kernel"] = time.perf_counter() - ts
    say(f"kernel ({int(kernel.sum())} site-service pairs): {joint.result.objective:,.1f}, "
        f"{timings['kernel']:.1f} s")
    if not joint.has_plan:
        return _failed(joint.result, timings, "the kernel of the phases' plans holds no plan in phases")
    value = float(joint.result.objective)
    bound = max(bound, value)
    gap = relative_gap(value, bound)
    within = gap <= opts.mip_gap * 1.0001 + 1e-12
    status = Status.OPTIMAL if within else (Status.TIME_LIMIT if time.perf_counter() >= deadline - 0.5
                                            else Status.FEASIBLE)
    message = (f"relaxation: each phase alone with its money so far, bound {bound:,.1f}; kernel of "
               f"{int(kernel.sum())} site-service pairs solved in phases ({joint.result.status.value}); "
               f"gap {gap:.3%}")
    result = SolveResult(status, joint.solution, value, bound, gap, f"{joint.result.solver}; method relaxation+kernel",
                         {**joint.result.timings, "total": time.perf_counter() - t0}, message)
    name = next(iter(joint.values), "coverage")
    stages = (StageFigures(name, status, value, bound, gap),)
    timings["total"] = time.perf_counter() - t0
    return dataclasses.replace(joint, result=result, stages=stages, timings=timings,
                               notes=(*joint.notes, message))


def _failed(r: SolveResult, timings: dict[str, float], why: str) -> PhasedSolution:
    empty = Schedule(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.int64))
    fail = SolveResult(r.status if r.status is not Status.OPTIMAL else Status.ERROR, None, float("nan"),
                       float("nan"), float("inf"), r.solver, timings, why)
    return PhasedSolution(empty, None, fail, (), {}, timings, (why,))


def residual(coverage: Coverage, sites: SiteData, rules: PlanningRules, hosts: np.ndarray,
             converted: np.ndarray) -> tuple[Coverage, SiteData, PlanningRules]:
    """The problem of one moment over what is left after ``hosts`` (module docstring).

    Residents within reach of what is open count as covered; converted sites cost nothing more
    to convert and keep the floor area their services leave; open pairs are not offered again;
    the numbers of sites per service count what is open.
    """
    cov = dataclasses.replace(coverage, baseline=tuple(coverage.covered(hosts)))
    used_area = hosts.astype(float) @ rules.service_area
    left = SiteData(np.maximum(sites.floor_area - used_area, 0.0), np.where(converted, 0.0, sites.retrofit_cost),
                    sites.allowed & ~hosts, sites.cost_per_m2)
    count = hosts.sum(axis=0)
    out = dataclasses.replace(rules, min_sites=np.maximum(rules.min_sites - count, 0),
                              max_sites=np.where(rules.max_sites >= 0, np.maximum(rules.max_sites - count, 0), -1),
                              force_in=rules.force_in & ~converted)
    return cov, left, out


def optimize_myopic_large(coverage: Coverage, sites: SiteData, rules: PlanningRules, phases: PhaseRules, *,
                          backend: str = "highs", options: SolveOptions | None = None) -> PhasedSolution:
    """The myopic plan of the coverage objective at scale (module docstring); the phases share the time limit.

    Conversions per phase are not limited here (the model of one moment has no such rows):
    the caller uses the exact myopic planner when they are.
    """
    opts = options or SolveOptions()
    t0 = time.perf_counter()
    deadline = t0 + float(opts.time_limit_s)
    T, m, S = phases.n_phases, sites.floor_area.size, sites.allowed.shape[1]
    site_phase = np.full(m, -1, dtype=np.int64)
    pair_phase = np.full((m, S), -1, dtype=np.int64)
    status = Status.OPTIMAL
    pair_cost = pair_costs(sites, rules)
    left_over = 0.0
    solver = ""
    for t in range(T):  # phases, not data
        hosts = pair_phase >= 0
        converted = site_phase >= 0
        cov, left, step = residual(coverage, sites, rules, hosts, converted)
        money = float(phases.budget[t]) + (left_over if t > 0 and phases.carry[t - 1] else 0.0)
        last = t == T - 1
        step = dataclasses.replace(step, budget=max(money, 1e-9), force_in=(phases.pilot & ~converted) if t == 0 else
                                   (step.force_in if last else np.zeros(m, dtype=bool)),
                                   force_out=step.force_out | (phases.first_phase > t),
                                   min_sites=step.min_sites if last else np.zeros_like(step.min_sites))
        sol = optimize_covering(cov, left, step, backend=backend,
                                options=dataclasses.replace(opts, time_limit_s=max((deadline - time.perf_counter())
                                                                                   / (T - t), 0.5)))
        solver = sol.result.solver
        if sol.result.solution is None:
            why = f"the myopic plan stops in phase {phases.names[t]} ({sol.result.status.value})"
            return _failed(sol.result, {"total": time.perf_counter() - t0}, why)
        status = worse(status, sol.result.status)
        new = sol.hosts & ~hosts
        pair_phase[new] = t
        site_phase[(new.any(axis=1) | step.force_in) & ~converted] = t
        spent = phase_spending(site_phase, pair_phase, sites.retrofit_cost, pair_cost, T)[t]
        left_over = money - spent
    schedule = Schedule(site_phase, pair_phase)
    kernel = SiteData(sites.floor_area, sites.retrofit_cost, sites.allowed & (pair_phase >= 0), sites.cost_per_m2)
    model = coverage_problem(coverage, kernel, rules, phases, min_conversions=True).model(phases)
    solution = model.solution_of(schedule)
    values = {name: model.stage_values(name, solution) for name in model.per_phase}
    stages = tuple(StageFigures(name, status, float(c @ solution), float("nan"), float("nan"))
                   for name, c in model.objectives.items())
    result = SolveResult(status, solution, stages[0].objective, float("nan"), float("nan"), f"{solver}; myopic",
                         {"total": time.perf_counter() - t0}, "each phase alone, over what is left")
    return PhasedSolution(schedule, solution, result, stages, values, {"total": time.perf_counter() - t0}, (), model)


__all__ = ["RELAXATION_GAP", "RELAXATION_SHARE", "optimize_joint_large", "optimize_myopic_large", "relaxed_rules",
           "residual"]
