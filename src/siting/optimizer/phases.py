"""Plans in phases: the joint plan over every phase, and the short-sighted one, phase by phase.

The model is :mod:`siting.model.phases` over the single-moment model of the objective:

* ``standards`` (default): the standards-first model (:mod:`siting.model.standards`) with its
  three stages, each stage's value summed over the phases weighted by the phase's
  coverage-years — first the basic services every community lacks, brought as early as
  possible (gap-years); then the basic services' shares of their target populations served,
  summed over the years; then the quality services'. Lexicographic, as in a single-moment
  plan: each stage keeps the value of the stages before it;
* ``coverage``: weighted residents newly covered, summed over the years (coverage-years),
  on the compact covering model (:mod:`siting.model.instance`, identical rows merged, the
  exact reductions of :mod:`siting.model.reduce` where no phase rule tells sites apart).

:func:`optimize_joint` solves the whole model, stage after stage, each warm-started with the
stage before and — where it keeps the values kept so far and is better — with the myopic plan.
:func:`optimize_myopic` is the short-sighted planner: phase 1 optimised on its own, then phase 2
given phase 1, and so on (each phase's stages lexicographic); its plan is feasible for the joint
model, so with the joint model solved exactly the joint plan is never below it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.data.catalogue import Catalogue
from siting.model.covering import covering_milp
from siting.model.instance import covering_instance
from siting.model.milp import MilpModel
from siting.model.phases import PhasedModel, PhasedProblem, PhaseRules, Schedule, fix_columns
from siting.model.reduce import drop_useless_columns, merge_rows, reduce_instance
from siting.model.rules import PlanningRules, SiteData
from siting.model.standards import KEEP_TOL, build_standards_model, with_stage
from siting.model.structure import ShareTarget, plan_cost_vector
from siting.optimizer.stages import gain_question
from siting.optimizer.standards import standards_weights
from siting.solvers import SolveOptions, SolveResult, Status, solve
from siting.solvers.base import StageFigures, relative_gap
from siting.solvers.highs import SMALL_MODEL_NONZEROS

#: A later stage is skipped with less time left than this (the plan of the stage before is kept).
MIN_STAGE_S = 0.5
#: Statuses from best to worst.
_ORDER = (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT, Status.INFEASIBLE, Status.ERROR)


def worse(a: Status, b: Status) -> Status:
    """The worse of two statuses."""
    return a if _ORDER.index(a) >= _ORDER.index(b) else b


def standards_problem(coverage: Coverage, catalogue: Catalogue, sites: SiteData, rules: PlanningRules, *,
                      capacity: bool = True, floors: tuple[ShareTarget, ...] = (),
                      communities: np.ndarray | None = None) -> PhasedProblem:
    """The standards-first model of one moment, ready to expand over phases (stages gaps, basic, quality)."""
    weights = standards_weights(coverage, catalogue, rules)
    cap = catalogue.service_capacity() if capacity else np.full(len(catalogue.services), np.inf)
    codes = np.zeros(coverage.n_demand, dtype=np.int64) if communities is None else communities
    built = build_standards_model(coverage, sites, rules, cap, basic=weights.basic, quality=weights.quality,
                                  communities=codes, floors=list(floors))
    cols = built.cols
    x_cost, y_cost = plan_cost_vector(cols, sites, rules)
    objectives = built.objectives or {"basic": np.zeros(built.model.milp.n_cols)}
    limited = np.array([np.isfinite(cap[s]) for s, _g in coverage.pairs], dtype=bool)
    return PhasedProblem(built.model.milp, cols.x_site, cols.x_service, cols.n_sites, cols.n_services, x_cost, y_cost,
                         objectives, "basic" if "basic" in objectives else next(iter(objectives)),
                         dict(built.model.stats), residents=built.rows.residents, capacity_limited=limited)


def coverage_problem(coverage: Coverage, sites: SiteData, rules: PlanningRules, phases: PhaseRules, *,
                     min_conversions: bool = False) -> PhasedProblem:
    """The compact covering model of one moment, ready to expand over phases (one stage, ``coverage``).

    Dominated sites are removed only where no phase rule tells sites apart (no pilots, no first
    phases, no minimum of conversions per phase): moving a dominated site's services to its
    dominating site could otherwise break a phase rule.
    """
    instance = covering_instance(coverage, sites, rules)
    rules_apart = bool(phases.pilot.any() or (phases.first_phase > 0).any() or min_conversions)
    instance = merge_rows(drop_useless_columns(instance)) if rules_apart else reduce_instance(instance)
    cm = covering_milp(instance)
    return PhasedProblem(cm.milp, cm.x_site, cm.x_service, cm.n_sites, cm.n_services, instance.x_cost,
                         instance.site_cost, {"coverage": cm.milp.objective}, "coverage", dict(cm.stats))


@dataclass(frozen=True)
class PhasedSolution:
    """A plan in phases and the solver's account of it.

    Attributes
    ----------
    schedule
        When each site is converted and each service opens.
    solution
        The phased model's column values (``None`` without a plan).
    result
        The main stage's objective (summed over phases, weighted), bound and gap, with the
        plan's status (the worst of its solves) and a message naming every stage.
    stages
        Per stage: status, objective, bound, gap (over time).
    values
        Stage name → its value in each phase (unweighted).
    timings
        Seconds per step.
    notes
        What a planner should know (a stage skipped, the myopic plan kept...).
    model
        The phased model the solution belongs to.
    """

    schedule: Schedule
    solution: np.ndarray | None
    result: SolveResult
    stages: tuple[StageFigures, ...]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    model: PhasedModel | None = None

    @property
    def has_plan(self) -> bool:
        """True when a plan was found."""
        return self.solution is not None

    def totals(self) -> dict[str, float]:
        """Each stage's value over time (the stages' objectives)."""
        return {s.name: s.objective for s in self.stages}


def _empty_schedule(model: PhasedModel) -> Schedule:
    return Schedule(np.full(model.n_sites, -1, dtype=np.int64),
                    np.full((model.n_sites, model.n_services), -1, dtype=np.int64))


def _keeps_hold(keeps: list[tuple[np.ndarray, float]], x: np.ndarray) -> bool:
    return all(float(c @ x) >= v - KEEP_TOL * max(abs(v), 1.0) for c, v in keeps)


def solve_stages(milp: MilpModel, objectives: dict[str, np.ndarray], main: str, *, backend: str,
                 options: SolveOptions, start: np.ndarray | None = None,
                 deadline: float | None = None) -> tuple[np.ndarray | None, SolveResult, tuple[StageFigures, ...],
                                                         list[str]]:
    """Lexicographic stages on one model: each maximises its objective keeping the values before.

    Parameters
    ----------
    milp
        The model (its own objective unused).
    objectives
        Stage name → objective, in stage order.
    main
        The stage reported as the result's objective, bound and gap.
    backend, options
        Solver and its options (time limit for all stages together).
    start
        A feasible solution offered to every stage it keeps up with (the myopic plan).
    deadline
        A ``time.perf_counter()`` by which to stop (default: the options' time limit from now).

    Returns
    -------
    solution, result, stages, notes
        The last stage's solution (``None`` when the first stage found none), the main stage's
        figures with the worst status, every stage's figures, and notes.
    """
    t0 = time.perf_counter()
    end = deadline if deadline is not None else t0 + float(options.time_limit_s)
    stages: list[StageFigures] = []
    keeps: list[tuple[np.ndarray, float]] = []
    notes: list[str] = []
    solution: np.ndarray | None = None
    status, reported = Status.OPTIMAL, None
    names = list(objectives)
    for i, name in enumerate(names):
        c = objectives[name]
        left = end - time.perf_counter()
        if i > 0 and left < MIN_STAGE_S:
            status = worse(status, Status.TIME_LIMIT)
            notes.append(f"no time was left for the {', '.join(names[i:])} stage(s); the plan is the "
                         f"{names[i - 1]} stage's")
            break
        warm = solution
        if start is not None and _keeps_hold(keeps, start) and (warm is None or float(c @ start) > float(c @ warm)):
            warm = start
        stage = with_stage(milp, c, keeps, f"{milp.name}: {name}")
        stage_options = SolveOptions(time_limit_s=max(left, 0.1), mip_gap=options.mip_gap, threads=options.threads,
                                     seed=options.seed, warm_start=warm, isolate=options.isolate)
        if solution is not None and backend == "highs" and stage.A.nnz <= SMALL_MODEL_NONZEROS:
            asked = gain_question(stage, solution, stage_options, 0.3 * left)
            if asked is not None and asked.status is Status.INFEASIBLE:  # the stage's optimum is 0: proven
                stages.append(StageFigures(name, Status.OPTIMAL, float(c @ solution) + 0.0, 0.0, 0.0))
                keeps.append((c, 0.0))
                continue
            if asked is not None and asked.solution is not None and (warm is None or
                                                                     float(c @ asked.solution) > float(c @ warm)):
                stage_options = replace(stage_options, warm_start=asked.solution)
            stage_options = replace(stage_options, time_limit_s=max(end - time.perf_counter(), 0.1))  # after it
        r = solve(stage, backend, stage_options)
        if r.solution is None:
            if solution is None:
                return None, r, (), notes
            status = worse(status, Status.TIME_LIMIT if r.status is not Status.ERROR else Status.ERROR)
            stages.append(StageFigures(name, r.status, float("nan"), float(r.bound), float("inf")))
            notes.append(f"the {name} stage found no plan ({r.status.value}); the plan is the {names[i - 1]} stage's")
            break
        value, bound = float(c @ r.solution), float(r.bound)
        stages.append(StageFigures(name, r.status, value, bound, relative_gap(value, bound)))
        status = worse(status, r.status)
        solution = r.solution
        keeps.append((c, value))
        if name == main or reported is None:
            reported = r
    assert solution is not None and reported is not None
    head = next((s for s in stages if s.name == main), stages[0])
    message = "; ".join([f"{s.name} stage: {s.status.value}, objective {s.objective:.6g}, bound {s.bound:.6g}, "
                         f"gap {s.gap:.3%}" for s in stages] + notes)
    return solution, SolveResult(status, solution, head.objective, head.bound, head.gap, reported.solver,
                                 timings={**reported.timings, "total": time.perf_counter() - t0},
                                 message=message), tuple(stages), notes


def _solution(model: PhasedModel, solution: np.ndarray | None, result: SolveResult,
              stages: tuple[StageFigures, ...], timings: dict[str, float], notes: list[str]) -> PhasedSolution:
    if solution is None:
        return PhasedSolution(_empty_schedule(model), None, result, (), {}, timings, tuple(notes), model)
    values = {name: model.stage_values(name, solution) for name in model.per_phase}
    return PhasedSolution(model.schedule(solution), solution, result, stages, values, timings, tuple(notes), model)


def lexicographic_less(a: PhasedSolution, b: PhasedSolution, names: list[str]) -> bool:
    """True when plan ``a`` is below plan ``b`` in the stages' order (each within the keep tolerance)."""
    ta, tb = a.totals(), b.totals()
    for name in names:
        va, vb = ta.get(name, float("-inf")), tb.get(name, float("-inf"))
        tol = KEEP_TOL * max(abs(vb), 1.0) * 10
        if va < vb - tol:
            return True
        if va > vb + tol:
            return False
    return False


def optimize_joint(problem: PhasedProblem, phases: PhaseRules, *, backend: str = "highs",
                   options: SolveOptions | None = None, myopic: PhasedSolution | None = None) -> PhasedSolution:
    """The plan over every phase at once (module docstring).

    Parameters
    ----------
    problem
        The single-moment model and its stages.
    phases
        The phases.
    backend, options
        Solver; time limit for every stage together, gap, threads, seed.
    myopic
        The myopic plan (:func:`optimize_myopic`), offered to every stage as a warm start; when
        the joint solve ends below it (a time limit), the myopic plan is kept, with a note.
    """
    opts = options or SolveOptions()
    t0 = time.perf_counter()
    model = problem.model(phases)
    timings = {"build": time.perf_counter() - t0}
    start = myopic.solution if myopic is not None and myopic.has_plan else None
    if start is not None and start.size != model.milp.n_cols:
        start = None
    solution, result, stages, notes = solve_stages(model.milp, model.objectives, problem.main, backend=backend,
                                                   options=opts, start=start,
                                                   deadline=t0 + float(opts.time_limit_s))
    timings["solve"] = time.perf_counter() - t0 - timings["build"]
    joint = _solution(model, solution, result, stages, timings, notes)
    if myopic is not None and myopic.has_plan and (not joint.has_plan or
                                                   lexicographic_less(joint, myopic, list(model.objectives))):
        note = ("the joint solve ended below the myopic plan (" + result.status.value + "); the myopic plan is kept "
                "as the joint plan, with the joint solve's bound")
        bound = result.bound if np.isfinite(result.bound) else float("inf")
        head = myopic.result
        kept = SolveResult(worse(result.status, Status.FEASIBLE), myopic.solution, head.objective,
                           max(bound, head.objective), relative_gap(head.objective, max(bound, head.objective)),
                           result.solver, result.timings, f"{result.message}; {note}")
        return PhasedSolution(myopic.schedule, myopic.solution, kept, myopic.stages, myopic.values, timings,
                              (*joint.notes, note), model)
    return joint


def myopic_step(problem: PhasedProblem, phases: PhaseRules, t: int, done: np.ndarray | None, *,
                backend: str = "highs", options: SolveOptions | None = None,
                time_limit_s: float | None = None) -> tuple[np.ndarray | None, SolveResult, list[str]]:
    """Phase ``t`` of the myopic plan, the phases before fixed to ``done`` (see :func:`optimize_myopic`).

    Parameters
    ----------
    problem, phases
        The single-moment model and the phases.
    t
        The phase to plan (0-based).
    done
        The solution of phase ``t - 1``'s step (the columns of phases ``0..t-1``), ``None`` for ``t = 0``.
    backend, options
        Solver and its options.
    time_limit_s
        Seconds for this phase (default: the options' time limit).

    Returns
    -------
    solution, result, notes
        The columns of phases ``0..t`` (``None`` without a plan), the solve's figures and notes.
    """
    opts = options or SolveOptions()
    T = phases.n_phases
    step = problem.model(phases.first(t + 1), ends_plan=t == T - 1)
    milp = step.milp
    if done is not None:
        milp = fix_columns(milp, done, slice(0, t * step.n_base))
    own = {name: np.concatenate([np.zeros(t * step.n_base), c]) for name, c in step.per_phase.items()}
    start = np.concatenate([done, done[(t - 1) * step.n_base:]]) if done is not None else None
    limit = float(time_limit_s if time_limit_s is not None else opts.time_limit_s)
    sol, r, _stages, notes = solve_stages(milp, own, problem.main, backend=backend, options=opts, start=start,
                                          deadline=time.perf_counter() + max(limit, 0.1))
    return sol, r, notes


def myopic_solution(problem: PhasedProblem, phases: PhaseRules, steps: list[tuple[np.ndarray | None, SolveResult,
                                                                                   list[str]]],
                    seconds: float = float("nan")) -> PhasedSolution:
    """The myopic plan from its phases' steps (:func:`myopic_step`, in order; the last may have failed)."""
    model = problem.model(phases)
    status, notes, messages = Status.OPTIMAL, [], []
    for t, (sol, r, step_notes) in enumerate(steps):
        messages.append(f"phase {phases.names[t]}: {r.status.value}")
        notes += [f"phase {phases.names[t]}: {n}" for n in step_notes]
        if sol is None:
            why = "its requirements cannot hold" if r.status is Status.INFEASIBLE else r.status.value
            notes.append(f"the myopic plan stops in phase {phases.names[t]} ({why})")
            fail = SolveResult(r.status, None, float("nan"), float("nan"), float("inf"), r.solver,
                               message="; ".join(messages + notes))
            return _solution(model, None, fail, (), {"total": seconds}, notes)
        status = worse(status, r.status)
    done = steps[-1][0]
    assert done is not None and len(steps) == phases.n_phases
    stages = tuple(StageFigures(name, status, float(c @ done), float("nan"), float("nan"))
                   for name, c in model.objectives.items())
    head = next((s for s in stages if s.name == problem.main), stages[0])
    result = SolveResult(status, done, head.objective, float("nan"), float("nan"), steps[-1][1].solver,
                         message="; ".join(messages + notes))
    return _solution(model, done, result, stages, {"total": seconds}, notes)


def optimize_myopic(problem: PhasedProblem, phases: PhaseRules, *, backend: str = "highs",
                    options: SolveOptions | None = None) -> PhasedSolution:
    """The short-sighted plan: each phase optimised on its own, in order, given what is done before.

    Phase ``t`` maximises its own stages (lexicographically) with the money it has (its budget
    and what earlier phases carried over), keeping what earlier phases opened; the
    requirements that hold by the end (sites per service, floors, forced sites) bind the last
    phase. Its figures over time (``stages``) are the joint objectives evaluated on its plan;
    their bounds are ``nan`` (a myopic plan proves nothing about the joint optimum), and its
    status the worst of its phases' solves. The phases share the options' time limit.
    """
    opts = options or SolveOptions()
    t0 = time.perf_counter()
    deadline = t0 + float(opts.time_limit_s)
    T = phases.n_phases
    steps: list[tuple[np.ndarray | None, SolveResult, list[str]]] = []
    done: np.ndarray | None = None
    for t in range(T):  # phases, not data
        left = deadline - time.perf_counter()
        steps.append(myopic_step(problem, phases, t, done, backend=backend, options=opts,
                                 time_limit_s=max(left / (T - t), 0.1)))
        done = steps[-1][0]
        if done is None:
            break
    return myopic_solution(problem, phases, steps, time.perf_counter() - t0)


def served_by_phase(problem: PhasedProblem, plan: PhasedSolution, coverage: Coverage) -> list[np.ndarray] | None:
    """Residents newly served per coverage pair in each phase, within capacity (standards models only).

    ``None`` for models that do not count places (the covering model), or without a plan.
    """
    model, solution, schedule = plan.model, plan.solution, plan.schedule
    if problem.residents is None or problem.capacity_limited is None or model is None or solution is None:
        return None
    base_within = coverage.baseline_population()
    out = []
    for t in range(model.n_phases):  # phases, not data
        z = np.clip(solution[model.block("z", t)], 0.0, 1.0)
        from_model = np.asarray(sparse.csr_matrix(problem.residents).T @ z).ravel()
        within = coverage.covered_population(schedule.hosts(t)) - base_within
        out.append(np.where(problem.capacity_limited, np.minimum(from_model, within), within))
    return out


__all__ = ["PhasedSolution", "coverage_problem", "lexicographic_less", "myopic_solution", "myopic_step",
           "optimize_joint", "optimize_myopic", "served_by_phase", "solve_stages", "standards_problem", "worse"]
