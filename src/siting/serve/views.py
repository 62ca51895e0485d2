"""One preparation, many edits: the district walked once, seen under each edited scenario.

The workbench walks the district once, for the scenario's services (all of the catalogue's
when it names none) and up to the largest walking-limit scale it offers
(:func:`prepare_base`). An edit changes the scenario through
:func:`siting.data.overrides.apply_overrides` (the one way to change a scenario); the edited
scenario is then *viewed* on that preparation (:func:`edited_preparation`):

- budget, weights, forced sites: the planning rules are rebuilt
  (:func:`siting.pipeline.planning_rules`), nothing else;
- services in or out of play, a walking-limit scale, the services a site may host: the
  catalogue is rebuilt from the edited scenario (:func:`siting.pipeline.catalogue_for`), the
  district's columns are selected for it and coverage is rebuilt from the walking distances
  already computed (:func:`siting.coverage.build_coverage`) — no walk is repeated.

The coverage so obtained is the one ``siting run`` computes from the edited scenario: the
walking distances below a limit do not depend on how far beyond it the walk went.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from siting.coverage import build_coverage
from siting.data.district import District, Existing, site_services_allowed
from siting.data.overrides import WALK_LIMIT_SCALE, apply_overrides
from siting.data.scenario import Scenario
from siting.errors import ScenarioError
from siting.pipeline import Prepared, catalogue_for, check_requirements, planning_rules, prepare
from siting.walking import Reach
from siting.walking.distances import WalkDistances

#: The largest walking-limit scale a workbench offers unless told otherwise.
DEFAULT_MAX_WALK_SCALE = 1.5


def base_overrides(max_walk_scale: float) -> dict[str, object]:
    """Overrides under which the workbench prepares its district: every site free to host what its
    ledger allows, walked far enough for the largest walking-limit scale."""
    return {"requirements.site_services": {}, WALK_LIMIT_SCALE: float(max_walk_scale)}


def prepare_base(scenario: Scenario, *, max_walk_scale: float = DEFAULT_MAX_WALK_SCALE) -> Prepared:
    """Prepare the district once for every edit the workbench allows.

    Parameters
    ----------
    scenario
        The scenario the workbench starts from.
    max_walk_scale
        The largest walking-limit scale an edit may ask for: the district is walked to every
        service's limit × this factor.

    Raises
    ------
    SitingError
        Any problem of the scenario and its data, as ``siting run`` reports it.
    """
    if not max_walk_scale >= 1.0:
        raise ScenarioError(f"max_walk_scale {max_walk_scale:g}: give 1 or more (the scale the district is walked "
                            f"to; the edits may then scale the walking limits down to any factor and up to it)")
    wide = apply_overrides(scenario, base_overrides(max_walk_scale), label="the workbench's preparation")
    prepared = prepare(wide)
    if not prepared.district.located:
        raise ScenarioError(f"{scenario.source or scenario.name}: the workbench shows the plan on a map, and the "
                            f"tables have no coordinates (the walking costs come from data.cost_matrix); give demand, "
                            f"sites and existing facilities lon/lat or x/y columns, or use siting run")
    return prepared


def _existing_columns(reach: Reach, keep: np.ndarray) -> Reach:
    """The pairs whose destination (an existing facility) is kept, destinations renumbered."""
    new_index = np.cumsum(keep) - 1
    sel = keep[reach.destination]
    return Reach(reach.origin[sel], new_index[reach.destination[sel]], reach.metres[sel],
                 (reach.shape[0], int(keep.sum())), reach.cutoff_m)


def service_positions(keys: Sequence[str], among: Sequence[str]) -> np.ndarray:
    """Index in ``among`` of every key of ``keys``."""
    where = {k: i for i, k in enumerate(among)}
    return np.array([where[k] for k in keys], dtype=np.int64)


def edited_preparation(base: Prepared, scenario: Scenario) -> Prepared:
    """The base preparation seen under an edited scenario (see the module docstring).

    Parameters
    ----------
    base
        The preparation of :func:`prepare_base`.
    scenario
        The edited scenario (from :func:`siting.data.overrides.apply_overrides`).

    Raises
    ------
    ScenarioError or CatalogueError
        A service the base was not prepared for, a walking limit beyond the walked distances,
        an unknown key in the weights or requirements.
    InfeasibleError
        Requirements that cannot hold together (before any solve).
    """
    origin = str(scenario.source or scenario.name)
    catalogue = catalogue_for(scenario)
    base_keys = base.catalogue.service_keys
    missing = [k for k in catalogue.service_keys if k not in base_keys]
    if missing:
        raise ScenarioError(f"{origin}, field 'services': {missing} not prepared by this workbench; "
                            f"choose among {list(base_keys)}")
    distances = base.distances
    assert distances is not None  # prepare() always keeps them
    pos = service_positions(catalogue.service_keys, base_keys)
    d = base.district
    allowed = site_services_allowed(scenario, catalogue, d.sites.ids, d.sites.allowed[:, pos])
    new_index = np.full(len(base_keys), -1, dtype=np.int64)
    new_index[pos] = np.arange(pos.size)
    service = new_index[d.existing.service] if d.existing.service.size else d.existing.service
    keep = service >= 0
    existing = Existing(d.existing.ids[keep], d.existing.names[keep], service[keep], d.existing.xy[keep])
    district: District = dataclasses.replace(d, sites=dataclasses.replace(d.sites, allowed=allowed),
                                             existing=existing, service_keys=catalogue.service_keys)
    exist_reach = _existing_columns(distances.existing, keep)
    try:
        coverage = build_coverage(district, catalogue, distances.sites, exist_reach)
    except ValueError:
        raise ScenarioError(f"{origin}, field '{WALK_LIMIT_SCALE}': a walking limit beyond what this workbench "
                            f"walked ({distances.cutoff_m:,.0f} flat-equivalent metres); lower the scale or "
                            f"restart the workbench with a larger --max-walk-scale") from None
    rules = planning_rules(scenario, catalogue, district)
    check_requirements(scenario, catalogue, district, rules)
    return dataclasses.replace(base, scenario=scenario, catalogue=catalogue, district=district, coverage=coverage,
                               rules=rules, distances=WalkDistances(distances.sites, exist_reach, existing.service))


__all__ = ["DEFAULT_MAX_WALK_SCALE", "base_overrides", "edited_preparation", "prepare_base", "service_positions"]
