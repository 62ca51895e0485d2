"""Prepare one scenario: read its data, walk, and compute coverage — everything before the model, done once."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from siting.coverage import Coverage, able_hosts, build_coverage, straight_vs_network, walk_cutoff_m
from siting.data.catalogue import Catalogue, build_catalogue, default_catalogue
from siting.data.district import District, load_district
from siting.data.scenario import Scenario
from siting.errors import (
    CatalogueError,
    InfeasibleError,
    ScenarioError,
    SitingError,
    raise_problems,
)
from siting.model.rules import PlanningRules
from siting.pipeline.checks import budget_warning, key_problems, requirement_problems, snapping_problems
from siting.pipeline.compliance import service_warnings
from siting.pipeline.phasing import phase_problems
from siting.walking.distances import WalkDistances
from siting.walking.network import WalkingNetwork
from siting.walking.stage import district_reach, read_scenario_network

if TYPE_CHECKING:
    from siting.model.phases import PhaseRules

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
    below the cutoff, for the walking-time objectives; ``phases``: the scenario's phases as
    arrays, ``None`` without ``phases:``)."""

    scenario: Scenario
    catalogue: Catalogue
    district: District
    coverage: Coverage
    rules: PlanningRules
    walking: WalkingSummary
    timings: dict[str, float] = field(default_factory=dict)
    network: WalkingNetwork | None = None
    distances: WalkDistances | None = None
    phases: PhaseRules | None = None


def catalogue_for(scenario: Scenario) -> Catalogue:
    """The scenario's catalogue: defaults with its overrides, restricted to its services."""
    origin = str(scenario.source or scenario.name)
    c = scenario.catalogue
    return build_catalogue(c.services, c.age_groups, services=scenario.services, origin=origin, replace=c.replace,
                           reference_speed_m_s=c.reference_speed_m_s)


def group_weights(weights: dict[str, float], catalogue: Catalogue, origin: str,
                  problems: list[SitingError]) -> np.ndarray:
    """Weight of each age band: a coarser group's weight (``elderly: 2``) applies to its bands; a band's own
    weight, when given too, wins."""
    out = np.ones(len(catalogue.group_keys))
    index = {g: i for i, g in enumerate(catalogue.group_keys)}
    for key in sorted(weights, key=lambda k: k in index):  # coarser groups first, then bands
        try:
            bands = catalogue.groups_of(key)
        except CatalogueError as e:
            problems.append(CatalogueError(f"{origin}, field 'weights.age_groups': {e}"))
            continue
        for b in bands:
            out[index[b]] = float(weights[key])
    return out


def planning_rules(scenario: Scenario, catalogue: Catalogue, district: District) -> PlanningRules:
    """Budget, weights and requirements as arrays; every key checked against the catalogue."""
    origin = str(scenario.source or scenario.name)
    problems: list[SitingError] = []
    services = catalogue.service_keys

    def keyed(values: dict[str, float], keys: tuple[str, ...], field_name: str, default: float) -> np.ndarray:
        for k in values:
            if k not in keys:
                problems.append(CatalogueError(
                    f"{origin}, field '{field_name}': unknown key '{k}'; known: {list(keys)}"))
        return np.array([float(values.get(k, default)) for k in keys])

    req = scenario.requirements
    sw = keyed(scenario.weights.services, services, "weights.services", 1.0)
    gw = group_weights(scenario.weights.age_groups, catalogue, origin, problems)
    mins = keyed({k: float(v) for k, v in req.min_sites.items()}, services, "requirements.min_sites", 0)
    maxs = keyed({k: float(v) for k, v in req.max_sites.items()}, services, "requirements.max_sites", -1)
    site_index = {sid: j for j, sid in enumerate(district.sites.ids)}
    force_in = np.zeros(len(district.sites), dtype=bool)
    force_out = np.zeros(len(district.sites), dtype=bool)
    for name, ids, mask in (("force_in", req.force_in, force_in), ("force_out", req.force_out, force_out)):
        for sid in ids:
            if sid not in site_index:
                problems.append(ScenarioError(
                    f"{origin}, field 'requirements.{name}': site id '{sid}' is not in {scenario.data.path('sites')}"))
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
        (see :func:`siting.pipeline.checks.requirement_problems`).
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
    mode = scenario.walking_mode  # 'matrix' with data.cost_matrix: no network is read
    net_files = scenario.data.network
    network = None
    if mode == "network" and net_files is None:
        problems.append(ScenarioError(f"{scenario.source}, field 'walking.mode': 'network' needs 'data.network' "
                                      f"(nodes and edges files), or use mode 'euclidean'"))
    elif mode == "network" and net_files is not None:
        network = _collect(problems, read_scenario_network, scenario,
                           district.crs if district is not None and district.crs is not None else "EPSG:4326")
    if district is None:
        problems += key_problems(scenario, catalogue)
    raise_problems(problems)
    assert district is not None
    timings["load"] = time.perf_counter() - t
    return prepare_district(scenario, catalogue, district, network=network, timings=timings)


def prepare_district(scenario: Scenario, catalogue: Catalogue, district: District, *,
                     network: WalkingNetwork | None = None, timings: dict[str, float] | None = None,
                     budget_checked: bool = True, straight_line_comparison: bool = True) -> Prepared:
    """Walk, build coverage and the planning rules of a loaded district: the stages after reading.

    :func:`prepare` reads a scenario's files and calls this; a city batch calls it on each
    life circle, so that a circle is prepared exactly as ``siting run`` prepares a district.

    Parameters
    ----------
    scenario, catalogue, district
        What to prepare.
    network
        The walking network in the district's CRS (``walking.mode: network``).
    timings
        Seconds of the stages already run, extended with ``walking`` and ``coverage``.
    budget_checked
        Check the requirements against the scenario's budget (a circle's budget is the city's,
        checked city-wide: ``False`` checks the circle's own requirements only).
    straight_line_comparison
        In network mode, also build straight-line coverage for the report's comparison.

    Raises
    ------
    SitingError
        Points too far from the network, unknown keys in the rules, requirements that cannot
        hold, listed at once.
    """
    problems: list[SitingError] = []
    timings = dict(timings or {})
    walking = scenario.walking
    net_files = scenario.data.network
    t = time.perf_counter()
    cutoff = walk_cutoff_m(catalogue)
    walked = district_reach(scenario, district, cutoff_m=cutoff, network=network)
    site_reach, exist_reach = walked.sites, walked.existing
    if walked.demand_offnet_m is not None and walked.dest_offnet_m is not None:
        data, m = scenario.data, len(district.sites)
        problems += snapping_problems(
            {"demand": (walked.demand_offnet_m, district.demand.ids, data.path("demand")),
             "sites": (walked.dest_offnet_m[:m], district.sites.ids, data.path("sites")),
             "existing": (walked.dest_offnet_m[m:], district.existing.ids, data.path("existing"))},
            limit_m=walking.snap_limit_m, origin=str(scenario.source),
            network_file=Path(net_files.nodes or net_files.path or "") if net_files else None)
    timings["walking"] = time.perf_counter() - t
    t = time.perf_counter()
    coverage = build_coverage(district, catalogue, site_reach, exist_reach)
    timings["coverage"] = time.perf_counter() - t
    comparison: tuple[dict[str, Any], ...] = ()
    if (straight_line_comparison and walked.straight_sites is not None
            and walked.straight_existing is not None):
        straight = build_coverage(district, catalogue, walked.straight_sites, walked.straight_existing)
        comparison = straight_vs_network(coverage, straight, able_hosts(district, catalogue))
    rules = _collect(problems, planning_rules, scenario, catalogue, district)
    if rules is not None:
        checked = rules if budget_checked else dataclasses.replace(rules, budget=np.inf)
        problems += requirement_problems(str(scenario.source or scenario.name), catalogue, district, checked)
    phases, phase_mistakes = phase_problems(scenario, district, rules)
    problems += phase_mistakes
    raise_problems(problems)
    assert rules is not None
    warning = budget_warning(str(scenario.source or scenario.name), catalogue, district, rules) \
        if budget_checked else None
    notes = (*((warning,) if warning else ()), *district.notes, *walked.notes,
             *service_warnings(district, coverage, catalogue))
    summary = WalkingSummary(scenario.walking_mode, cutoff, site_reach.nnz, notes, comparison, walked.counts)
    distances = WalkDistances(site_reach, exist_reach, district.existing.service)
    return Prepared(scenario, catalogue, district, coverage, rules, summary, timings, network, distances, phases)


def _collect(problems: list[SitingError], step: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one checking step; on a user mistake record it and go on with the next step."""
    try:
        return step(*args, **kwargs)
    except SitingError as e:
        problems.append(e)
        return None


__all__ = ["Prepared", "WalkingSummary", "catalogue_for", "check_requirements", "planning_rules", "prepare",
           "prepare_district"]
