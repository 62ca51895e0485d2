"""Standards first, then quality (规范达标、全龄友好): the default objective.

A district planner is accountable first for the basic services the standards require
(基础保障型, TD/T 1062-2021), for every age band they serve, and only then for the quality
services (品质提升型). The plan is found in up to three stages on one model
(:mod:`siting.model.standards`), lexicographically — each stage keeps the value of those before:

1. **gaps** (补短板): bring as many basic services as possible to the communities that have none
   within reach (a community × service counts once, whatever the number of residents reached);
2. **basic**: maximise ``Σ_s Σ_g w_s w_g · served_sg / target_s`` over the basic services ``s``,
   where ``served_sg`` is the number of residents of age band ``g`` newly served by the plan and
   ``target_s`` the whole target population of ``s`` (the residents of the bands it serves). Each
   service counts by the share of its own target population: a kindergarten for 3 % of the
   residents weighs as much as a canteen for 60 %. ``w_s``, ``w_g`` are the scenario's weights;
3. **quality**: the same measure over the quality services.

The gaps stage is this project's choice (the issue of a plan that leaves a basic service at 0 %
because another is cheaper per share): a planner defends "every basic service reaches every
community the ledger allows" before "the most coverage". Capacity-limited services (with a
capacity norm in the catalogue: kindergarten and childcare places, day-care places, canteen
seats) count only the residents their places serve; ``objective.capacity: false`` counts every
resident within reach instead. Floors (``objective.floors``) hold in every stage. Each stage is
solved to the scenario's gap and reports its own status, bound and gap; the plan reports the
basic stage's figures, and its status is the worst of the stages'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from siting.coverage import Coverage
from siting.data.catalogue import Catalogue
from siting.model.rules import PlanningRules, SiteData, usable_start
from siting.model.standards import StandardsModel, build_standards_model
from siting.model.structure import ShareTarget
from siting.optimizer.deadline import Deadline, stopped_at_limit
from siting.optimizer.generic import Progress
from siting.optimizer.stages import _whole_stage, served_by, solve_stage
from siting.solvers import SolveOptions, SolveResult, Status
from siting.solvers.base import StageFigures, relative_gap

#: The quality stage is skipped with less time left than this (the basic plan is kept).
MIN_STAGE_S = 0.5
#: How the time is shared between the stages (a stage that ends early leaves its time to the next).
#: The basic stage is the plan's figure and the one a review meets first; on the 20,000 × 1,000
#: district it needs about 85 s of 120 to come within 1 % (:mod:`siting.optimizer.stages`).
STAGE_SHARE = {"gaps": 0.15, "basic": 0.7, "quality": 0.15}
#: Statuses from best to worst, for the status of a plan solved in stages.
_ORDER = (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT, Status.INFEASIBLE, Status.ERROR)


@dataclass(frozen=True)
class StandardsWeights:
    """The weight of one resident of each (service, age group) coverage pair, per stage.

    Attributes
    ----------
    basic, quality
        Per coverage pair: ``w_s w_g / target_s`` for the services of that class, 0 for the others.
    target
        Per service: its target population (residents of the bands it serves).
    """

    basic: np.ndarray
    quality: np.ndarray
    target: np.ndarray


def standards_weights(coverage: Coverage, catalogue: Catalogue, rules: PlanningRules) -> StandardsWeights:
    """Per-pair weights of the two stages (see the module docstring)."""
    pairs = coverage.pairs
    totals = coverage.total_population()
    target = np.zeros(len(catalogue.services))
    for p, (s, _g) in enumerate(pairs):
        target[s] += totals[p]
    w = np.array([rules.service_weight[s] * rules.group_weight[g] / target[s] if target[s] > 0 else 0.0
                  for s, g in pairs])
    basic = np.array([catalogue.services[s].category == "basic" for s, _g in pairs], dtype=bool)
    return StandardsWeights(np.where(basic, w, 0.0), np.where(basic, 0.0, w), target)


@dataclass(frozen=True)
class StandardsSolution:
    """A plan of the standards-first objective and the figures of each stage.

    Attributes
    ----------
    hosts
        Boolean (sites × services) assignment.
    result
        The basic stage's objective, bound and gap, with the plan's status (the worse of the
        stages') and a message naming both stages.
    stages
        Per stage solved: name, status, objective, bound, gap.
    served
        Residents newly served per coverage pair (within capacity where the model counts it).
    stats, timings
        Model sizes; seconds per step.
    """

    hosts: np.ndarray
    result: SolveResult
    stages: tuple[StageFigures, ...]
    served: np.ndarray
    stats: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _worse(a: Status, b: Status) -> Status:
    return a if _ORDER.index(a) >= _ORDER.index(b) else b


def optimize_standards(coverage: Coverage, catalogue: Catalogue, sites: SiteData, rules: PlanningRules, *,
                       capacity: bool = True, floors: tuple[ShareTarget, ...] = (),
                       communities: np.ndarray | None = None, backend: str = "highs",
                       options: SolveOptions | None = None, say: Progress | None = None,
                       start: np.ndarray | None = None) -> StandardsSolution:
    """The standards-first plan: gaps, then basic services, then quality services (module docstring).

    Parameters
    ----------
    coverage, catalogue, sites, rules
        Coverage per (service, age group), the catalogue (classes and capacity norms),
        candidate sites, budget, weights and requirements.
    capacity
        Count capacity-limited services within their places (default) or every resident in reach.
    floors
        Minimum shares that hold in every stage.
    communities
        Community code of each demand point, for the gaps stage (``None``: the district is one
        community).
    backend, options
        Solver backend; time limit for all stages together, gap, threads, seed. With HiGHS each
        stage goes through the shared optimizer (:mod:`siting.optimizer.stages`); other backends
        get each stage's whole model.
    say
        Progress lines.
    start
        A boolean (sites × services) plan to start the first stage from instead of the greedy
        plan (a re-solve close to a known plan: the plan without one option, the plan under
        slightly different demand). It need not keep the rules; one that does not is dropped.

    Returns
    -------
    StandardsSolution
        The plan; ``result.solution`` is ``None`` when no plan was found (the caller says why).
    """
    opts = options or SolveOptions()
    deadline = Deadline(opts.time_limit_s)
    start = usable_start(start, sites, rules)  # None when it breaks the rules: the greedy plan instead
    weights = standards_weights(coverage, catalogue, rules)
    cap = catalogue.service_capacity() if capacity else np.full(len(catalogue.services), np.inf)
    codes = np.zeros(coverage.n_demand, dtype=np.int64) if communities is None else communities

    def build(s: SiteData) -> StandardsModel:
        return build_standards_model(coverage, s, rules, cap, basic=weights.basic, quality=weights.quality,
                                     communities=codes, floors=list(floors))

    built = build(sites)
    timings = {"build": deadline.elapsed()}
    empty = np.zeros((sites.floor_area.size, len(catalogue.services)), dtype=bool)
    stages: list[StageFigures] = []
    keeps: list[tuple[str, float]] = []
    hosts: np.ndarray | None = None
    status = Status.OPTIMAL
    reported: SolveResult | None = None
    notes: list[str] = []
    names = list(built.objectives) or ["basic"]
    shared = backend == "highs" and not opts.isolate
    for i, name in enumerate(names):
        if i > 0 and deadline.usable() < MIN_STAGE_S:
            status = _worse(status, Status.TIME_LIMIT)
            notes.append(f"no time was left for the {', '.join(names[i:])} stage(s); the plan is the "
                         f"{names[i - 1]} stage's")
            break
        t_stage = time.perf_counter()
        seconds = deadline.usable() * STAGE_SHARE[name] / sum(STAGE_SHARE[n] for n in names[i:])
        if shared:
            got = solve_stage(built, build, name, keeps, sites, rules, cap, opts, Deadline(seconds),
                              start=start if hosts is None else hosts, say=say)
        else:
            got = _whole_stage(built, name, keeps, start if hosts is None else hosts, backend,
                               replace(opts, time_limit_s=max(seconds, 0.1)))
        timings[name] = time.perf_counter() - t_stage
        if got.hosts is None:
            if hosts is None:  # the first stage found nothing: no plan at all
                return StandardsSolution(empty, replace(got.result, solution=None), (), np.zeros(len(coverage.pairs)),
                                         built.model.stats, timings)
            status = _worse(status, Status.TIME_LIMIT if got.result.status is not Status.ERROR else Status.ERROR)
            stages.append(StageFigures(name, got.result.status, float("nan"), float(got.result.bound), float("inf")))
            notes.append(f"the {name} stage found no plan ({got.result.status.value}); the plan is the "
                         f"{names[i - 1]} stage's")
            break
        r = got.result
        value = got.value + 0.0  # a solver's -0.0 reads as 0
        stages.append(StageFigures(name, r.status, value, float(r.bound) + 0.0, relative_gap(value, float(r.bound))))
        status = _worse(status, r.status)
        hosts = got.hosts
        keeps.append((name, got.value))
        if name == "basic" or reported is None:
            reported = r
    assert hosts is not None and reported is not None
    served = served_by(built, build, hosts, keeps, sites, coverage, cap, opts)
    main = next((s for s in stages if s.name == "basic"), stages[0])
    message = "; ".join([f"{s.name} stage: {s.status.value}, objective {s.objective:.6g}, bound {s.bound:.6g}, "
                         f"gap {s.gap:.3%}" for s in stages] + notes)
    if status is Status.TIME_LIMIT:
        message = f"{stopped_at_limit(opts.time_limit_s, 'the best plan found')}; {message}"
    result = SolveResult(status, hosts.ravel().astype(float), main.objective, main.bound, main.gap, reported.solver,
                         timings={**reported.timings}, message=message)
    timings["total"] = deadline.elapsed()
    return StandardsSolution(hosts, result, tuple(stages), served, {**built.model.stats}, timings)


__all__ = ["StandardsSolution", "StandardsWeights", "optimize_standards", "standards_weights"]
