"""Solve one prepared scenario in phases: the joint plan, the myopic plan, and what each phase holds.

:func:`solve_phased` builds the single-moment model of the scenario's objective (standards
first, or coverage), solves the myopic plan (each phase on its own, in order), then the joint
plan over every phase, warm-started with it (:mod:`siting.optimizer.phases`), and reads both
as :class:`PhasedPlan`: when each conversion is done, what each phase spends out of the money
it has (its budget and what earlier phases carried over — checked against the plan rules,
:func:`siting.model.rules.phased_violation`), and the plan as it stands at the end of each
phase (a :class:`~siting.pipeline.plan.Plan`: coverage, cost, assignments), from which the
outputs read coverage and compliance per phase.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from siting.errors import InfeasibleError, SitingError, SolverError
from siting.model.phases import PhasedProblem, PhaseRules, Schedule, schedule_violation
from siting.model.rules import SiteData, pair_costs, phase_spending, phased_violation
from siting.optimizer.objectives import check_shares, objective_spec
from siting.optimizer.phases import (
    PhasedSolution,
    coverage_problem,
    optimize_joint,
    optimize_myopic,
    served_by_phase,
    standards_problem,
)
from siting.optimizer.phases_large import optimize_joint_large, optimize_myopic_large
from siting.pipeline.plan import Plan, make_plan
from siting.pipeline.prepare import Prepared
from siting.pipeline.solve import solver_options
from siting.solvers import SolveResult, Status, available_solvers, get_backend
from siting.solvers.base import StageFigures

#: A covering model over the phases larger than this many nonzeros is solved by relaxation and kernel.
LARGE_NONZEROS = 600_000


@dataclass(frozen=True)
class PhasedPlan:
    """A plan in phases, in planners' terms.

    Attributes
    ----------
    how
        ``joint`` (every phase planned at once) or ``myopic`` (phase by phase).
    phases
        The phases.
    schedule
        When each site is converted and each service opens.
    plans
        The plan as it stands at the end of each phase (what is open by then, its coverage,
        its cost so far); ``final`` is the last.
    status, objective, bound, gap
        The main stage over time (``nan`` bound and gap for the myopic plan, which proves nothing).
    stages
        Every stage's figures over time.
    values
        Stage name → its value in each phase (unweighted).
    spend, money
        Per phase: what it spends, and what it may spend (its budget and what earlier phases
        carried over).
    coverage_years
        Per phase: residents × services within reach (existing facilities included) times the
        phase's years (discounted) — what residents enjoy.
    new_coverage_years
        The same for the residents newly within reach of the plan only.
    message, notes
        The solver's account; what a planner should know.
    """

    how: str
    phases: PhaseRules
    schedule: Schedule
    plans: tuple[Plan, ...]
    status: Status
    objective: float
    bound: float
    gap: float
    stages: tuple[StageFigures, ...]
    values: dict[str, np.ndarray]
    spend: np.ndarray
    money: np.ndarray
    coverage_years: np.ndarray
    new_coverage_years: np.ndarray
    message: str = ""
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def final(self) -> Plan:
        """The plan at the end of the last phase."""
        return self.plans[-1]

    def totals(self) -> dict[str, float]:
        """Each stage's value over time."""
        return {s.name: s.objective for s in self.stages}


@dataclass(frozen=True)
class PhasedOutcome:
    """The joint plan, the myopic one (``None`` when the myopic planner found none), and notes."""

    joint: PhasedPlan
    myopic: PhasedPlan | None
    notes: tuple[str, ...] = ()


def money_per_phase(phases: PhaseRules, spend: np.ndarray) -> np.ndarray:
    """What each phase may spend: its budget plus what the phase before left unspent and carried over."""
    money = np.zeros(phases.n_phases)
    left = 0.0
    for t in range(phases.n_phases):  # phases, not data
        money[t] = phases.budget[t] + (left if t > 0 and phases.carry[t - 1] else 0.0)
        left = money[t] - float(spend[t])
    return money


def phased_problem(prepared: Prepared, phases: PhaseRules) -> PhasedProblem:
    """The single-moment model of the scenario's objective, ready to expand over the phases."""
    scenario = prepared.scenario
    origin = str(scenario.source or scenario.name)
    sites = SiteData.of(prepared.district.sites)
    kind = scenario.objective.kind
    if kind == "coverage" and not scenario.objective.floors and scenario.objective.tie_break is None:
        return coverage_problem(prepared.coverage, sites, prepared.rules, phases,
                                min_conversions=bool(phases.min_conversions.any()))
    if kind != "standards":
        raise SitingError(f"{origin}, field 'objective': a plan in phases optimises 'standards' or 'coverage' "
                          f"(without floors or tie_break); remove 'phases:' or change the objective")
    spec = objective_spec(scenario.objective, prepared.catalogue, prepared.coverage, origin=origin)
    if spec.floors:
        check_shares(prepared.coverage, sites, prepared.rules, spec.floors, spec, origin)
    communities = np.unique(np.asarray(prepared.district.demand.communities).astype(str), return_inverse=True)[1]
    return standards_problem(prepared.coverage, prepared.catalogue, sites, prepared.rules,
                             capacity=scenario.objective.capacity, floors=spec.floors,
                             communities=communities.ravel().astype(np.int64))


def _coverage_years(prepared: Prepared, phases: PhaseRules, schedule: Schedule) -> tuple[np.ndarray, np.ndarray]:
    cov = prepared.coverage
    before = float(cov.baseline_population().sum())
    within = np.array([float(cov.covered_population(schedule.hosts(t)).sum()) for t in range(phases.n_phases)])
    return within * phases.weight, (within - before) * phases.weight


def read_phased(prepared: Prepared, phases: PhaseRules, problem: PhasedProblem, sol: PhasedSolution,
                how: str) -> PhasedPlan:
    """A solved plan in phases as :class:`PhasedPlan` (see the module docstring).

    Raises
    ------
    RuntimeError
        When the schedule breaks a plan rule or a phase spends more than it has: a bug, not
        a user mistake.
    """
    scenario, district = prepared.scenario, prepared.district
    sites, rules = SiteData.of(district.sites), prepared.rules
    sched = sol.schedule
    why = phased_violation(sched.site_phase, sched.pair_phase, sites, rules, phases.budget, phases.carry) \
        or schedule_violation(sched, phases)
    if why:
        raise RuntimeError(f"{scenario.name}: the {how} plan breaks a rule ({why}); please report this")
    spend = phase_spending(sched.site_phase, sched.pair_phase, sites.retrofit_cost, pair_costs(sites, rules),
                           phases.n_phases)
    money = money_per_phase(phases, spend)
    assert np.all(spend <= money * (1 + 1e-9) + 1e-6), (spend, money)  # the rows above, read as money in hand
    served = served_by_phase(problem, sol, prepared.coverage)
    kind = "standards" if problem.residents is not None else "coverage"
    main = problem.main
    given = np.cumsum(phases.budget)
    timings = {**prepared.timings, **sol.timings}
    plans = []
    for t in range(phases.n_phases):  # phases, not data
        converted = (sched.site_phase >= 0) & (sched.site_phase <= t)
        rules_t = dataclasses.replace(rules, budget=float(given[t]), force_in=converted)
        last = t == phases.n_phases - 1
        value = float(sol.values[main][t]) if main in sol.values else float("nan")
        result = sol.result if last else SolveResult(sol.result.status, sol.solution, value, float("nan"),
                                                     float("inf"), sol.result.solver)
        plan = make_plan(scenario.name, sched.hosts(t), result, prepared.coverage, district.sites, prepared.catalogue,
                         rules_t, timings, objective=sol.result.objective if last else value,
                         objective_kind=f"{kind}_phased" if last else kind,
                         stages=sol.stages if last else (), served=None if served is None else served[t])
        plans.append(dataclasses.replace(plan, budget=float(phases.budget.sum()) if last else float(given[t])))
    years, new_years = _coverage_years(prepared, phases, sched)
    return PhasedPlan(how, phases, sched, tuple(plans), sol.result.status, sol.result.objective, sol.result.bound,
                      sol.result.gap, sol.stages, sol.values, spend, money, years, new_years, sol.result.message,
                      sol.notes, dict(sol.timings))


def solve_phased(prepared: Prepared, *, backend: str | None = None, myopic: bool = True) -> PhasedOutcome:
    """The joint plan over the scenario's phases, and the myopic plan it is measured against.

    Each plan gets the scenario's ``solver.time_limit_s``. A scenario without ``phases:`` is
    planned as one phase with the whole budget.

    Raises
    ------
    InfeasibleError
        When the phases' requirements cannot all hold together.
    SolverError, SitingError
        When the solver fails or finds no plan in time.
    """
    scenario = prepared.scenario
    name = backend or scenario.solver.backend
    get_backend(name)
    phases = prepared.phases or PhaseRules.single(scenario.budget, len(prepared.district.sites))
    t0 = time.perf_counter()
    problem = phased_problem(prepared, phases)
    built = time.perf_counter() - t0
    options = solver_options(scenario)
    if is_large(problem, phases, name):  # coverage over time by relaxation and kernel
        sites = SiteData.of(prepared.district.sites)
        limited = bool(phases.min_conversions.any() or (phases.max_conversions >= 0).any())
        short = None
        if myopic:
            short = optimize_myopic(problem, phases, backend=name, options=options) if limited else \
                optimize_myopic_large(prepared.coverage, sites, prepared.rules, phases, backend=name, options=options)
        joint = optimize_joint_large(prepared.coverage, sites, prepared.rules, phases, backend=name, options=options,
                                     myopic=short)
        return conclude_phased(prepared, phases, problem, short, backend=name, model_s=built, joint=joint)
    short = optimize_myopic(problem, phases, backend=name, options=options) if myopic else None
    return conclude_phased(prepared, phases, problem, short, backend=name, model_s=built)


def is_large(problem: PhasedProblem, phases: PhaseRules, backend: str) -> bool:
    """Whether the coverage objective over these phases goes by relaxation and kernel
    (:mod:`siting.optimizer.phases_large`): a covering model of more than :data:`LARGE_NONZEROS` over the phases,
    on HiGHS."""
    return (problem.residents is None and backend == "highs"
            and int(problem.base.A.nnz) * phases.n_phases > LARGE_NONZEROS)


def conclude_phased(prepared: Prepared, phases: PhaseRules, problem: PhasedProblem, short: PhasedSolution | None,
                    *, backend: str, model_s: float = 0.0, joint: PhasedSolution | None = None) -> PhasedOutcome:
    """The joint plan, warm-started with the myopic plan ``short`` (when given), and both read as plans.

    ``joint``, when given, is the joint plan already solved (by relaxation and kernel).

    Raises
    ------
    InfeasibleError, SolverError, SitingError
        As :func:`solve_phased`.
    """
    scenario = prepared.scenario
    origin = str(scenario.source or scenario.name)
    if joint is None:
        joint = optimize_joint(problem, phases, backend=backend, options=solver_options(scenario), myopic=short)
    if not joint.has_plan:
        r = joint.result
        if r.status is Status.INFEASIBLE:
            raise InfeasibleError(f"{origin}: the phases' requirements cannot all hold together (each phase's money, "
                                  f"pilots, requirements.not_before, min_conversions / max_conversions, "
                                  f"requirements.min_sites, force_in); relax one of them")
        if r.status is Status.ERROR:
            raise SolverError(f"{origin}: {r.message}; no plan was written. Run again, or try another solver backend "
                              f"(installed: {available_solvers()})")
        raise SitingError(f"{origin}: no plan in phases was found within solver.time_limit_s; raise the time limit "
                          f"or plan fewer phases")
    joint = dataclasses.replace(joint, timings={**joint.timings, "model": model_s})
    notes: list[str] = []
    if short is not None and not short.has_plan:
        notes.append("the myopic planner, phase by phase, finds no plan that meets every requirement by the last "
                     "phase (" + "; ".join(short.notes) + "); the joint plan is not compared with it")
    mine = read_phased(prepared, phases, problem, short, "myopic") if short is not None and short.has_plan else None
    return PhasedOutcome(read_phased(prepared, phases, problem, joint, "joint"), mine, tuple(notes))


__all__ = ["LARGE_NONZEROS", "PhasedOutcome", "PhasedPlan", "conclude_phased", "is_large", "money_per_phase",
           "phased_problem", "read_phased", "solve_phased"]
