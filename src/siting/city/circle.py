"""The tasks of a city batch, one life circle each: prepare, solve at a price, describe the plan.

Every function here is a task of :mod:`siting.execution`: module-level, plain picklable
arguments, plain results. A prepared :class:`CircleModel` stays on the worker that made it
(the batch keeps it there and passes a handle to later rounds), so a round of the price
search only ships a price out and an assignment back.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from siting.city.files import Circles
from siting.coverage import Coverage
from siting.data.catalogue import Catalogue
from siting.data.district import District, Sites
from siting.data.scenario import NetworkFiles, Scenario
from siting.errors import SitingError
from siting.model.covering import CoveringModel, build_covering_model, weighted_new_coverage
from siting.model.priced import price_budget, with_budget
from siting.model.rules import PlanningRules, SiteData, plan_cost
from siting.pipeline import prepare_district, solver_options
from siting.pipeline.plan import assignment_table, coverage_table
from siting.solvers import SolveOptions, Status, solve
from siting.walking import WalkingNetwork
from siting.walking.readers import read_network


@dataclass(frozen=True)
class CircleTask:
    """What preparing one life circle needs, as plain data.

    Attributes
    ----------
    circle
        The circle's name.
    scenario
        The city scenario, with ``force_in``/``force_out`` reduced to this circle's sites.
    catalogue
        Services and age groups.
    district
        The circle's residential buildings and candidate sites, and every existing facility.
    """

    circle: str
    scenario: Scenario
    catalogue: Catalogue
    district: District


@dataclass(frozen=True)
class CircleModel:
    """A prepared life circle: coverage and the covering model built for the city budget."""

    circle: str
    district: District
    catalogue: Catalogue
    coverage: Coverage
    rules: PlanningRules
    covering: CoveringModel | None
    backend: str
    options: SolveOptions
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CircleInfo:
    """A life circle in figures (before any plan)."""

    circle: str
    n_demand: int
    population: float
    n_sites: int
    covered_before: float
    notes: tuple[str, ...]


@dataclass(frozen=True)
class PricedSolve:
    """One circle's plan at one price.

    Attributes
    ----------
    circle
        Which circle.
    round
        The round of the batch that found it.
    price
        The ``λ`` it was solved at (``nan`` for a top-up solve).
    budget
        The circle's own budget of a top-up solve (``inf`` for a priced solve).
    hosts
        Boolean (circle's sites × services).
    coverage
        Weighted residents newly covered (recomputed from the coverage matrices).
    cost
        Cost of the plan, yuan.
    value, bound
        The solver's objective of the plan (coverage − λ·cost when priced) and its proven bound.
    status
        How the solve ended.
    seconds
        Solve time.
    """

    circle: str
    round: int
    price: float
    budget: float
    hosts: np.ndarray
    coverage: float
    cost: float
    value: float
    bound: float
    status: Status
    seconds: float


@dataclass(frozen=True)
class CirclePlan:
    """The plan chosen for one circle, as tables.

    Attributes
    ----------
    circle, price
        Which circle, and the price its plan was found at.
    hosts
        Boolean (circle's sites × services).
    cost, objective
        Cost (yuan) and weighted new coverage.
    assignments
        One row per (site, service), with a ``circle`` column.
    coverage
        Residents covered before / after per service × age group, with a ``circle`` column.
    demand_share
        Per residential building of the circle, the share of its service needs covered after
        the plan (population weighted), for maps.
    demand_share_before
        The same before the plan (existing facilities only).
    """

    circle: str
    price: float
    hosts: np.ndarray
    cost: float
    objective: float
    assignments: pd.DataFrame
    coverage: pd.DataFrame
    demand_share: np.ndarray
    demand_share_before: np.ndarray | None = None


def _take_sites(sites: Sites, rows: np.ndarray) -> Sites:
    return Sites(sites.ids[rows], sites.names[rows], sites.kinds[rows], sites.xy[rows], sites.floor_area[rows],
                 sites.retrofit_cost[rows], sites.allowed[rows], sites.area_cost[rows])


def circle_task(scenario: Scenario, catalogue: Catalogue, district: District, circles: Circles, index: int,
                demand_rows: np.ndarray | None = None, site_rows: np.ndarray | None = None) -> CircleTask:
    """The task data of circle ``index``: its buildings and sites, every existing facility.

    ``demand_rows`` and ``site_rows`` (from :meth:`Circles.members`) save a pass over the whole
    city per circle when many circles are made at once.
    """
    d_rows = demand_rows if demand_rows is not None else np.flatnonzero(circles.demand == index)
    s_rows = site_rows if site_rows is not None else np.flatnonzero(circles.sites == index)
    demand = district.demand
    sites = _take_sites(district.sites, s_rows)
    ids = set(sites.ids.tolist())
    req = scenario.requirements
    local = req.model_copy(update={"force_in": [s for s in req.force_in if s in ids],
                                   "force_out": [s for s in req.force_out if s in ids]})
    cid = circles.ids[index]
    sub = District(f"{district.name}-{cid}", district.crs,
                   demand.take(d_rows),
                   sites, district.existing, district.service_keys, district.group_keys, costs=district.costs)
    return CircleTask(cid, scenario.model_copy(update={"requirements": local}), catalogue, sub)


@functools.lru_cache(maxsize=2)
def _network(files: NetworkFiles, crs: str | None, coordinates: str, to_crs: str) -> WalkingNetwork:
    """The walking network, read once per worker process."""
    return read_network(to_crs=to_crs, path=files.path, nodes=files.nodes, edges=files.edges, fmt=files.format,
                        layer=files.layer, crs=crs, coordinates=files.coordinates, default_coordinates=coordinates)


def prepare_circle(task: CircleTask, backend: str) -> CircleModel:
    """Walking distances, coverage and the covering model of one circle (a task function).

    The covering model is built with the whole city's budget, so that it leaves out only the
    conversions no plan of the city could afford.
    """
    scenario, catalogue, district = task.scenario, task.catalogue, task.district
    network = None
    files = scenario.data.network
    if scenario.walking_mode == "network" and files is not None and district.crs is not None:
        network = _network(files, scenario.data.crs, scenario.data.coordinates, district.crs)
    # walked, covered and checked as siting run prepares a district; the budget is the city's
    prepared = prepare_district(scenario, catalogue, district, network=network, budget_checked=False,
                                straight_line_comparison=False)
    coverage, rules, notes = prepared.coverage, prepared.rules, list(prepared.walking.notes[len(district.notes):])
    sites = district.sites
    covering = (build_covering_model(coverage, SiteData.of(sites), rules)
                if len(sites) else None)
    options = dataclasses.replace(solver_options(scenario), isolate=False)
    return CircleModel(task.circle, district, catalogue, coverage, rules, covering, backend, options, tuple(notes))


def circle_info(model: CircleModel) -> CircleInfo:
    """A circle's figures before any plan (a task function)."""
    w = np.array([model.rules.service_weight[s] * model.rules.group_weight[g] for s, g in model.coverage.pairs])
    return CircleInfo(model.circle, model.coverage.n_demand, float(model.coverage.population.sum()),
                      len(model.district.sites), float(w @ model.coverage.baseline_population()), model.notes)


def _solve(model: CircleModel, covering: CoveringModel, round_no: int, price: float, budget: float,
           t0: float) -> PricedSolve:
    result = solve(covering.milp, model.backend, model.options)
    if result.solution is None:
        raise SitingError(f"life circle {model.circle}: the solver found no plan in round {round_no} "
                          f"({result.status.value}: {result.message}); raise solver.time_limit_s or split the city "
                          f"into smaller circles")
    hosts = covering.hosts(result.solution)
    coverage = weighted_new_coverage(hosts, model.coverage, model.rules)
    cost = plan_cost(hosts, SiteData.of(model.district.sites), model.rules)
    value = coverage - (price * cost if np.isfinite(price) else 0.0)
    return PricedSolve(model.circle, round_no, price, budget, hosts, coverage, cost, value,
                       max(float(result.bound), value), result.status, time.perf_counter() - t0)


def _empty(model: CircleModel, round_no: int, price: float, budget: float) -> PricedSolve:
    hosts = np.zeros((0, len(model.catalogue.services)), dtype=bool)
    return PricedSolve(model.circle, round_no, price, budget, hosts, 0.0, 0.0, 0.0, 0.0, Status.OPTIMAL, 0.0)


def solve_circle(model: CircleModel, price: float, round_no: int = 0) -> PricedSolve:
    """Maximise the circle's coverage − ``price`` × cost, without a budget of its own (a task function)."""
    t0 = time.perf_counter()
    if model.covering is None:
        return _empty(model, round_no, price, np.inf)
    return _solve(model, price_budget(model.covering, price), round_no, price, np.inf, t0)


def top_up_circle(model: CircleModel, budget: float, round_no: int = 0) -> PricedSolve:
    """Maximise the circle's coverage within a budget of its own (a task function)."""
    t0 = time.perf_counter()
    if model.covering is None:
        return _empty(model, round_no, float("nan"), budget)
    return _solve(model, with_budget(model.covering, budget), round_no, float("nan"), budget, t0)


def describe_circle(model: CircleModel, hosts: np.ndarray, price: float) -> CirclePlan:
    """The chosen plan of a circle as tables (a task function)."""
    sites, coverage, catalogue, rules = model.district.sites, model.coverage, model.catalogue, model.rules
    assignments = assignment_table(hosts, sites, catalogue, rules)
    assignments.insert(0, "circle", model.circle)
    table = coverage_table(hosts, coverage, catalogue)
    table.insert(0, "circle", model.circle)
    return CirclePlan(model.circle, price, hosts, plan_cost(hosts, SiteData.of(sites), rules),
                      weighted_new_coverage(hosts, coverage, rules), assignments, table, needs_covered(coverage, hosts),
                      needs_covered(coverage, None))


def needs_covered(coverage: Coverage, hosts: np.ndarray | None) -> np.ndarray:
    """Per residential building, the share of its residents' service needs within reach (population weighted);
    ``hosts=None``: before any plan."""
    num = np.zeros(coverage.n_demand)
    den = np.zeros(coverage.n_demand)
    covered = list(coverage.baseline) if hosts is None else coverage.covered(hosts)
    for (_s, g), cov in zip(coverage.pairs, covered, strict=True):
        num += coverage.population[:, g] * cov
        den += coverage.population[:, g]
    out: np.ndarray = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return out


__all__ = ["CircleInfo", "CircleModel", "CirclePlan", "CircleTask", "PricedSolve", "circle_info", "circle_task",
           "describe_circle", "needs_covered", "prepare_circle", "solve_circle", "top_up_circle"]
