"""Checks across stages, before any solve: points far from the network, requirements that cannot hold.

Each check returns the problems it finds (a list of :class:`~siting.errors.SitingError`), so
that the runner can list them together with every other problem of the scenario.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from siting.data.catalogue import Catalogue
from siting.data.district import District
from siting.data.scenario import Scenario
from siting.errors import CatalogueError, DataError, InfeasibleError, SitingError, rows_text
from siting.model.rules import PlanningRules, SiteData, pair_costs


def key_problems(scenario: Scenario, catalogue: Catalogue) -> list[SitingError]:
    """Service and age-group keys of the scenario's weights and requirements that the catalogue lacks.

    The runner's :func:`~siting.pipeline.planning_rules` checks the same keys along with the
    site ids; this check needs no data, so that it can be listed even when the data is broken.
    """
    origin = str(scenario.source or scenario.name)
    problems: list[SitingError] = []
    req = scenario.requirements
    for field, keys, known in (("weights.services", scenario.weights.services, catalogue.service_keys),
                               ("weights.age_groups", scenario.weights.age_groups, catalogue.group_keys),
                               ("requirements.min_sites", req.min_sites, catalogue.service_keys),
                               ("requirements.max_sites", req.max_sites, catalogue.service_keys)):
        problems += [CatalogueError(f"{origin}, field '{field}': unknown key '{k}'; known: {list(known)}")
                     for k in keys if k not in known]
    return problems


#: Points further than this many times ``walking.snap_limit_m`` from every network node are
#: taken as data mistakes (wrong coordinates, a network of another place); points between one
#: and this many times the limit are kept and reported in the notes: they reach nothing.
FAR_FACTOR = 4.0


def snapping_problems(offnet: dict[str, tuple[np.ndarray, np.ndarray, Path | None]], *, limit_m: float,
                      origin: str, network_file: Path | None) -> list[SitingError]:
    """Points so far from the walking network that their coordinates must be wrong.

    Parameters
    ----------
    offnet
        Per role (``demand``, ``sites``, ``existing``): the straight distance of each point to
        the nearest network node, the ids of the points and the file they came from.
    limit_m
        The scenario's ``walking.snap_limit_m``; points beyond ``FAR_FACTOR`` times it are
        problems (points between the limit and that are reported as notes by the walking stage).
    origin
        The scenario file, for messages.
    network_file
        The network's node file, for messages.

    Returns
    -------
    list
        One problem per table with far points; a single one naming the network when no
        demand point has a node within the snapping limit (a network of another place or CRS).
    """
    problems: list[SitingError] = []
    demand = offnet.get("demand")
    if demand is not None and len(demand[0]) and (demand[0] > limit_m).all():
        nearest = float(demand[0].min())
        return [DataError(
            f"{network_file}: the walking network has no node within {limit_m:g} m of any demand point "
            f"(the nearest is {nearest:,.0f} m away); is it the network of this district, in the right CRS? "
            f"(scenario {origin}, field 'data.network')")]
    reject_m = FAR_FACTOR * limit_m
    for role, (dist, ids, path) in offnet.items():
        far = np.flatnonzero(dist > reject_m)
        if not far.size:
            continue
        worst = float(dist[far].max())
        problems.append(DataError(
            f"{path}, {rows_text(far, ids)}: {far.size} {role} point(s) lie more than {reject_m:g} m "
            f"({FAR_FACTOR:g} × walking.snap_limit_m) from the walking network (up to {worst:,.0f} m), too far to "
            f"be a walk; extend the network to them, correct their coordinates, or raise 'walking.snap_limit_m' "
            f"in {origin} to at least {math.ceil(worst):d}"))
    return problems


def cheapest_conversion(district: District, rules: PlanningRules) -> tuple[float, int, int]:
    """The cheapest conversion any plan could make: (cost in yuan, site index, service index); inf when none."""
    sites = district.sites
    fits = sites.allowed & (sites.floor_area[:, None] >= rules.service_area[None, :]) & ~rules.force_out[:, None]
    conversion = np.where(fits, sites.retrofit_cost[:, None] + rules.service_fitout[None, :], np.inf)
    if not conversion.size or not np.isfinite(conversion).any():
        return np.inf, -1, -1
    j, s = np.unravel_index(int(np.argmin(conversion)), conversion.shape)
    return float(conversion[j, s]), int(j), int(s)


def budget_warning(origin: str, catalogue: Catalogue, district: District, rules: PlanningRules) -> str | None:
    """A warning when the budget is below every conversion: the plan is then empty (and optimal)."""
    cheapest, j, s = cheapest_conversion(district, rules)
    if not np.isfinite(cheapest) or cheapest <= rules.budget:
        return None
    return (f"warning: the budget of {rules.budget:,.0f} yuan ({origin}, field 'budget') is below the cheapest "
            f"conversion, {catalogue.services[s].name_zh} ({catalogue.services[s].key}) at site "
            f"{district.sites.ids[j]} for {cheapest:,.0f} yuan (retrofit {district.sites.retrofit_cost[j]:,.0f} + "
            f"fit-out {rules.service_fitout[s]:,.0f}): the plan converts nothing; raise the budget to at least "
            f"{cheapest:,.0f} yuan for a first conversion")


def requirement_problems(origin: str, catalogue: Catalogue, district: District,
                         rules: PlanningRules) -> list[SitingError]:
    """The requirements of a scenario that cannot hold, each with the figures that show why.

    Every check is a necessary condition (a valid lower bound on cost, an upper bound on the
    sites available), so a reported problem is always real: either no plan meets the
    requirements, or the only plan the budget allows converts nothing.

    Parameters
    ----------
    origin
        The scenario file, for messages.
    catalogue, district, rules
        Services in play, the district's sites and the scenario's rules as arrays.
    """
    sites = district.sites
    problems: list[SitingError] = []
    budget = rules.budget
    # fits[j, s]: site j can host service s (allowed, large enough, not forced out)
    fits = sites.allowed & (sites.floor_area[:, None] >= rules.service_area[None, :]) & ~rules.force_out[:, None]
    conversion = np.where(fits, sites.retrofit_cost[:, None] + pair_costs(SiteData.of(sites), rules), np.inf)
    cheapest = float(conversion.min()) if conversion.size else np.inf
    if not np.isfinite(cheapest):
        problems.append(InfeasibleError(
            f"{origin}: no site can host any service in play: every site is too small for the services it "
            f"allows, allows none of them, or is forced out; check 'allowed' and 'floor_area_m2' of "
            f"{district.name}'s sites, or the services in play"))
    elif cheapest > budget and rules.min_sites.sum() == 0 and not rules.force_in.any():
        pass  # the empty plan is the answer: budget_warning says so
    elif cheapest > budget:
        problems.append(InfeasibleError(
            f"{origin}, field 'budget': {budget:,.0f} yuan is below the cheapest conversion "
            f"({cheapest:,.0f} yuan), and the requirements ask for sites; raise the budget"))
    forced_cost = float(sites.retrofit_cost[rules.force_in].sum())
    if forced_cost > budget:
        forced = ", ".join(str(i) for i in sites.ids[rules.force_in][:5])
        problems.append(InfeasibleError(
            f"{origin}, field 'requirements.force_in': the forced sites ({forced}) cost {forced_cost:,.0f} yuan "
            f"to convert, more than the budget of {budget:,.0f} yuan; raise the budget or force fewer sites"))
    extra_retrofit = 0.0
    fitout = 0.0
    binding: list[str] = []
    for s, svc in enumerate(catalogue.services):
        need = int(rules.min_sites[s])
        if need <= 0:
            continue
        binding.append(f"min_sites.{svc.key} = {need}")
        fit = fits[:, s]
        if fit.sum() < need:
            largest = float(sites.floor_area[sites.allowed[:, s]].max()) if sites.allowed[:, s].any() else 0.0
            problems.append(InfeasibleError(
                f"{origin}, field 'requirements.min_sites.{svc.key}': at least {need} {svc.name_en} "
                f"need {svc.floor_area_m2:,.0f} m² each, but only {int(fit.sum())} allowed site(s) offer "
                f"that much (the largest allowed offers {largest:,.0f} m²); lower min_sites or allow more sites"))
            continue
        if 0 <= rules.max_sites[s] < need:
            problems.append(InfeasibleError(
                f"{origin}, field 'requirements.min_sites.{svc.key}': {need} exceeds "
                f"requirements.max_sites.{svc.key} = {rules.max_sites[s]}; make min_sites ≤ max_sites"))
        # sites still to convert for this service beyond the forced ones, cheapest first
        still = max(0, need - int((fit & rules.force_in).sum()))
        extra_retrofit = max(extra_retrofit, float(np.sort(sites.retrofit_cost[fit & ~rules.force_in])[:still].sum()))
        fitout += need * float(rules.service_fitout[s])
    lowest = forced_cost + extra_retrofit + fitout
    if binding and lowest > budget and forced_cost <= budget:
        what = ", ".join(binding) + (" and force_in" if rules.force_in.any() else "")
        problems.append(InfeasibleError(
            f"{origin}, field 'requirements': {what} cost at least {lowest:,.0f} yuan together (retrofit of the "
            f"forced sites {forced_cost:,.0f}, of the cheapest sites that fit {extra_retrofit:,.0f}, fit-out "
            f"{fitout:,.0f}), more than the budget of {budget:,.0f} yuan; raise the budget or relax them"))
    return problems
