"""Planning objectives other than the main covering model: fairness, floors, least cost, capacity.

:func:`optimize_objective` builds the formulation a scenario's ``objective`` asks for (see
:mod:`siting.model.fairness`, :mod:`siting.model.least_cost`, :mod:`siting.model.capacitated`),
checks what can be checked before solving, solves it with the chosen backend and returns the
assignment with the figures to report. The main covering objective stays with
:func:`siting.optimizer.covering.optimize_covering`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from siting.coverage import Coverage
from siting.data.catalogue import Catalogue
from siting.data.scenario import Objective
from siting.errors import CatalogueError, InfeasibleError, ScenarioError, SitingError, ValidationErrors
from siting.model.capacitated import build_capacitated_model
from siting.model.rules import PlanningRules, SiteData, usable_start
from siting.model.structure import ShareTarget, SitingModel
from siting.optimizer.capacitated import optimize_capacitated
from siting.optimizer.deadline import Deadline, no_plan_reason
from siting.optimizer.generic import Progress
from siting.solvers import SolveOptions, SolveResult, Status, solve

KINDS = ("coverage", "fairness", "least_cost", "capacitated")


@dataclass(frozen=True)
class ObjectiveSpec:
    """What to optimise, as arrays and share targets (built from a scenario by the runner).

    Attributes
    ----------
    kind
        ``coverage`` (weighted coverage; with ``floors``, a floor per group), ``fairness``
        (max-min share), ``least_cost`` or ``capacitated``.
    by_service
        Fairness over service × age group pairs instead of age groups.
    floors
        Minimum covered shares (``coverage``, ``fairness``).
    targets
        Shares to reach at least cost (``least_cost``).
    service_capacity
        Residents one instance of each service serves (``capacitated``).
    field_of
        For messages: the scenario field of each floor / target label.
    """

    kind: str = "coverage"
    by_service: bool = False
    floors: tuple[ShareTarget, ...] = ()
    targets: tuple[ShareTarget, ...] = ()
    service_capacity: np.ndarray | None = None
    field_of: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectiveSolution:
    """An assignment and the figures to report for it.

    Attributes
    ----------
    hosts
        Boolean (sites × services) assignment.
    result
        Status, objective, bound, gap and timings as reported (for fairness: of the max-min stage).
    stats
        Model sizes.
    timings
        Seconds per step.
    """

    hosts: np.ndarray
    result: SolveResult
    stats: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def objective_spec(objective: Objective, catalogue: Catalogue, coverage: Coverage, *,
                   origin: str = "scenario") -> ObjectiveSpec:
    """Turn a scenario's ``objective`` into an :class:`ObjectiveSpec`, every key checked.

    Raises
    ------
    CatalogueError, ScenarioError or ValidationErrors
        Unknown services or age groups, a service that does not serve the group named, a
        field that does not apply to the kind, no capacity norm for the capacitated kind —
        one line each, naming the field and the fix. Age groups may be named by band or by a
        coarser group (``elderly``: the shares pool its bands).
    """
    problems: list[SitingError] = []
    services, groups = catalogue.service_keys, catalogue.group_keys
    pair_index = {(services[s], groups[g]): p for p, (s, g) in enumerate(coverage.pairs)}
    field_of: dict[str, str] = {}

    def bands(fld: str, group: str) -> tuple[str, ...]:
        try:
            return catalogue.groups_of(group)
        except CatalogueError as e:
            problems.append(CatalogueError(f"{origin}, field '{fld}.{group}': {e}"))
            return ()

    def pair_share(fld: str, service: str, group: str, share: float) -> ShareTarget | None:
        if service not in services:
            problems.append(CatalogueError(f"{origin}, field '{fld}': unknown service '{service}'; "
                                           f"services in play: {list(services)}"))
            return None
        chosen = bands(fld, group)
        if not chosen:
            return None
        pairs = tuple(pair_index[service, b] for b in chosen if (service, b) in pair_index)
        if not pairs:
            serves = list(catalogue.service(service).serves)
            problems.append(ScenarioError(f"{origin}, field '{fld}.{group}': {service} does not serve {group} "
                                          f"(it serves {serves}); remove it or pick one of those groups"))
            return None
        label = f"{service}/{group}"
        field_of[label] = f"{fld}.{group}"
        return ShareTarget(label, pairs, float(share))

    floors: list[ShareTarget] = []
    for key, val in objective.floors.items():
        if isinstance(val, dict):
            floors += [t for g, share in val.items()
                       if (t := pair_share(f"objective.floors.{key}", key, g, share)) is not None]
            continue
        if key not in groups and key not in catalogue.aggregates:
            problems.append(CatalogueError(
                f"{origin}, field 'objective.floors.{key}': '{key}' is not an age group; write "
                f"{{age_group: share}} or {{service: {{age_group: share}}}} (age groups: {list(groups)}, "
                f"or the coarser {sorted(catalogue.aggregates)})"))
            continue
        idx = {groups.index(b) for b in catalogue.groups_of(key)}
        pairs = tuple(p for p, (_s, pg) in enumerate(coverage.pairs) if pg in idx)
        if not pairs:
            problems.append(ScenarioError(f"{origin}, field 'objective.floors.{key}': no service in play "
                                          f"serves {key}; remove the floor"))
        else:
            field_of[key] = f"objective.floors.{key}"
            floors.append(ShareTarget(key, pairs, float(val)))
    targets = [t for key, val in objective.targets.items() for g, share in val.items()
               if (t := pair_share(f"objective.targets.{key}", key, g, share)) is not None]
    kind = objective.kind
    if targets and kind != "least_cost":
        problems.append(ScenarioError(f"{origin}, field 'objective.targets': targets apply to kind least_cost; "
                                      f"for a minimum share with kind {kind} use objective.floors"))
    if floors and kind in ("least_cost", "capacitated"):
        problems.append(ScenarioError(f"{origin}, field 'objective.floors': floors apply to kinds standards, "
                                      f"coverage and fairness; with least_cost write them as targets"))
    if kind == "least_cost" and not objective.targets:
        problems.append(ScenarioError(f"{origin}, field 'objective.targets': least_cost needs at least one target, "
                                      f"e.g. targets: {{elderly_day_care: {{elderly: 1.0}}}}"))
    capacity = None
    if kind == "standards" and objective.capacity:
        capacity = catalogue.service_capacity()
    if kind == "capacitated":
        capacity = catalogue.service_capacity()
        if not np.isfinite(capacity).any():
            problems.append(CatalogueError(
                f"{origin}: no service in play has a capacity norm, so the capacitated objective is the coverage "
                f"objective; set catalogue.services[...].m2_per_1000_target for the services whose places are "
                f"limited, or use kind coverage"))
    if problems:
        raise ValidationErrors(problems) if len(problems) > 1 else problems[0]
    return ObjectiveSpec(kind, objective.over == "services_age_groups", tuple(floors), tuple(targets), capacity,
                         field_of)


def check_shares(coverage: Coverage, sites: SiteData, rules: PlanningRules, shares: tuple[ShareTarget, ...],
                 spec: ObjectiveSpec, origin: str) -> None:
    """Name every floor or target no plan can reach, before solving.

    Raises
    ------
    InfeasibleError
        One line per share out of reach, with the best share possible.
    """
    from siting.model.least_cost import unreachable_targets  # the objectives' models: imported when used

    short = unreachable_targets(coverage, sites, rules, list(shares))
    if not short:
        return
    lines = [f"{origin}, field '{spec.field_of.get(s.target.label, s.target.label)}': "
             f"{s.target.share:.1%} of {s.target.label} cannot be reached by any plan — even converting every "
             f"allowed site covers {s.best_share:.1%} ({s.residents_out_of_reach:,.0f} residents are beyond the "
             f"walking limit of every allowed site and existing facility); lower the share or add sites nearer them"
             for s in short]
    raise InfeasibleError("\n".join(lines))


def _solve(model: SitingModel, backend: str, options: SolveOptions) -> SolveResult:
    return solve(model.milp, backend, options)


def _empty(model: SitingModel) -> np.ndarray:
    return np.zeros((model.cols.n_sites, model.cols.n_services), dtype=bool)


def optimize_objective(coverage: Coverage, sites: SiteData, rules: PlanningRules, spec: ObjectiveSpec, *,
                       backend: str = "highs", options: SolveOptions | None = None,
                       origin: str = "scenario", say: Progress | None = None,
                       start: np.ndarray | None = None) -> ObjectiveSolution:
    """Solve the scenario's objective.

    Parameters
    ----------
    coverage, sites, rules
        Coverage matrices, candidate sites, budget and requirements.
    spec
        What to optimise.
    backend
        Solver backend name.
    options
        Time limit, gap, threads, seed.
    origin
        The scenario file, for messages.
    say
        Progress lines of the shared optimizer (HiGHS).
    start
        A boolean (sites × services) plan close to the answer (a re-solve of the ranking: the plan
        without one option, the plan under perturbed demand) to start the shared optimizer from
        beside its greedy plan; one that breaks the plan rules is dropped. The other backends
        ignore it.

    Returns
    -------
    ObjectiveSolution
        The assignment with status, objective, bound and gap.

    Raises
    ------
    InfeasibleError
        A floor or target no plan can reach (named with the figures), or requirements that
        cannot hold together.
    """
    options = options or SolveOptions()
    t0 = time.perf_counter()
    if spec.kind in ("coverage", "fairness"):
        check_shares(coverage, sites, rules, spec.floors, spec, origin)
    elif spec.kind == "least_cost":
        if not spec.targets:
            raise InfeasibleError(f"{origin}, field 'objective.targets': least_cost needs at least one target, "
                                  f"e.g. targets: {{elderly_day_care: {{elderly: 1.0}}}}")
        check_shares(coverage, sites, rules, spec.targets, spec, origin)
    elif spec.kind == "capacitated":
        if spec.service_capacity is None:
            raise ValueError("the capacitated objective needs service capacities")
    else:
        raise ValueError(f"unknown objective kind {spec.kind!r}; known: {KINDS}")
    start = usable_start(start, sites, rules, budget=spec.kind != "least_cost")
    if backend == "highs" and not options.isolate:
        return _shared(coverage, sites, rules, spec, options, origin, Deadline(options.time_limit_s, t0), say,
                       start=start)
    from siting.model.fairness import age_group_shares, build_fairness_model
    from siting.model.least_cost import build_least_cost_model

    if spec.kind in ("coverage", "fairness"):
        mode = "floors" if spec.kind == "coverage" else "max_min"
        balance = age_group_shares(coverage, by_service=spec.by_service)
        model = build_fairness_model(coverage, sites, rules, mode=mode, balance=balance, floors=list(spec.floors))
    elif spec.kind == "least_cost":
        model = build_least_cost_model(coverage, sites, rules, list(spec.targets))
    else:
        assert spec.service_capacity is not None
        model = build_capacitated_model(coverage, sites, rules, spec.service_capacity)
    t1 = time.perf_counter()
    result = _solve(model, backend, options)
    timings = {"build": t1 - t0, **result.timings}
    if result.status is Status.INFEASIBLE:
        raise InfeasibleError(f"{origin}: {_no_plan_at_once(spec)}")
    hosts = model.hosts(result.solution) if result.solution is not None else _empty(model)
    if spec.kind == "fairness" and result.solution is not None:
        hosts, result, timings = _most_coverage_among_fairest(coverage, sites, rules, spec, model, result,
                                                             hosts, backend, options, timings, t0)
    return ObjectiveSolution(hosts, result, dict(model.stats), timings)


def _no_plan_at_once(spec: ObjectiveSpec) -> str:
    """The message of a model with no plan at all, naming the fields that may conflict."""
    asked = {"coverage": "floors", "fairness": "floors", "least_cost": "targets"}.get(spec.kind)
    extra = f", objective.{asked}" if asked and (spec.floors or spec.targets) else ""
    return (f"no plan meets every requirement at once (budget, requirements.min_sites, max_sites, force_in{extra}): "
            f"each floor or target is within walking reach of enough allowed sites, but not all of them together "
            f"within these limits; raise the budget or relax one of them")


def _fair_shares(coverage: Coverage, by_service: bool) -> tuple[ShareTarget, ...]:
    """The shares a fairness objective balances, those with residents only."""
    from siting.model.fairness import age_group_shares

    total = coverage.total_population()
    return tuple(t for t in age_group_shares(coverage, by_service=by_service) if total[list(t.pairs)].sum() > 0)


def _shared(coverage: Coverage, sites: SiteData, rules: PlanningRules, spec: ObjectiveSpec, options: SolveOptions,
            origin: str, deadline: Deadline, say: Progress | None = None,
            start: np.ndarray | None = None) -> ObjectiveSolution:
    """The objective through the shared optimizer (greedy, bound, kernel and neighbourhood search)."""
    from siting.optimizer.shares import ShareProblem, optimize_shares

    if spec.kind == "capacitated":
        assert spec.service_capacity is not None
        search = optimize_capacitated(coverage, sites, rules, spec.service_capacity, options, deadline=deadline,
                                      start=start, say=say)
        what = "capacitated covering"
    elif spec.kind == "least_cost":
        search = optimize_shares(coverage, sites, rules, ShareProblem("least_cost", targets=spec.targets), options,
                                 deadline=deadline, start=start, say=say)
        what = "least-cost covering"
    elif spec.kind == "fairness":
        balance = _fair_shares(coverage, spec.by_service)
        search = optimize_shares(coverage, sites, rules, ShareProblem("fairness", balance=balance, floors=spec.floors),
                                 options, deadline=deadline, start=start, say=say)
        what = "max-min share"
    else:
        search = optimize_shares(coverage, sites, rules, ShareProblem("floors", floors=spec.floors), options,
                                 deadline=deadline, start=start, say=say)
        what = "coverage with floors"
    result = search.result(f"{what}: greedy, bound, kernel and neighbourhood search")
    if search.best is None:
        if result.status is Status.INFEASIBLE:
            raise InfeasibleError(f"{origin}: {_no_plan_at_once(spec)}")
        requirements = "budget, min_sites, force_in" + (", floors" if spec.floors else "") + \
            (", targets" if spec.targets else "")
        raise SitingError(f"{origin}: {no_plan_reason(result.status, deadline.limit_s, requirements=requirements)}")
    hosts = search.best
    result = replace(result, solution=hosts.ravel().astype(float))
    timings = {"total": deadline.elapsed()}
    if spec.kind == "fairness":
        best = float(search.value)
        keep = tuple(replace(t, share=max(0.0, best - 1e-7)) for t in _fair_shares(coverage, spec.by_service))
        if deadline.usable() > 0.5:
            second = optimize_shares(coverage, sites, rules, ShareProblem("floors", floors=(*spec.floors, *keep)),
                                     options, deadline=deadline, start=hosts, say=say)
            if second.best is not None:
                hosts = second.best
                second_result = second.result("coverage among the fairest plans")
                result = replace(result, solution=hosts.ravel().astype(float), message="; ".join(filter(None, [
                    result.message, f"smallest covered share {best:.4f}, then the most weighted coverage among such "
                                    f"plans ({second_result.status.value}, gap {second_result.gap:.2%})"])))
    stats = {"plans_evaluated": search.report.evaluated, "kernel_rounds": search.report.kernel_rounds,
             "neighbourhood_rounds": search.report.lns_rounds}
    return ObjectiveSolution(hosts, result, stats, timings)


def _most_coverage_among_fairest(coverage: Coverage, sites: SiteData, rules: PlanningRules, spec: ObjectiveSpec,
                                 model: SitingModel, result: SolveResult, hosts: np.ndarray, backend: str,
                                 options: SolveOptions, timings: dict[str, float],
                                 t0: float) -> tuple[np.ndarray, SolveResult, dict[str, float]]:
    """Second stage: among plans keeping the smallest share found, the most weighted coverage."""
    from siting.model.fairness import age_group_shares, build_fairness_model

    best = float(result.objective)
    keep = [replace(t, share=max(0.0, best - 1e-7)) for t in age_group_shares(coverage, by_service=spec.by_service)]
    second = build_fairness_model(coverage, sites, rules, mode="floors", floors=[*spec.floors, *keep])
    left = options.time_limit_s - (time.perf_counter() - t0)
    if left <= 0.5:
        return hosts, result, timings
    r2 = _solve(second, backend, replace(options, time_limit_s=left))
    timings = {**timings, **{f"second_{k}": v for k, v in r2.timings.items()}}
    if r2.solution is None:
        return hosts, result, timings
    message = (f"{result.message}; smallest covered share {best:.4f}, then the most weighted coverage among "
               f"such plans ({r2.status.value}, gap {r2.gap:.2%})")
    return second.hosts(r2.solution), replace(result, message=message), timings
