"""The walking stage of a run: distances from every demand point to every site and facility.

From the scenario's cost matrix when it gives one (``data.cost_matrix``: nothing is walked),
along the walking network when it has one (with snapping reported), else by straight line ×
detour. With a network, the straight-line distances are computed too, so that the report can
show what the network costs in coverage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from siting.data.district import District
from siting.data.scenario import Scenario
from siting.errors import ScenarioError
from siting.walking.network import WalkingNetwork
from siting.walking.paths import isolated_origins, network_reach
from siting.walking.reach import Reach, euclidean_reach
from siting.walking.readers import read_network

LISTED = 5  # ids named in a note


@dataclass(frozen=True)
class DistrictReach:
    """Walking distances of a district.

    Attributes
    ----------
    sites, existing
        Demand → candidate site, demand → existing facility.
    straight_sites, straight_existing
        The same by straight line (no detour), in network mode only.
    notes
        What a planner should know: points far from the network, demand cut off from every
        site and facility.
    counts
        The same as numbers, for ``summary.json``.
    network_nodes, network_edges
        Size of the walking network (0 without one).
    demand_offnet_m, dest_offnet_m
        Straight distance from each demand point, and from each site then existing facility, to
        the nearest network node (network mode only), for the checks of far-away points.
    """

    sites: Reach
    existing: Reach
    straight_sites: Reach | None = None
    straight_existing: Reach | None = None
    notes: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    network_nodes: int = 0
    network_edges: int = 0
    demand_offnet_m: np.ndarray | None = None
    dest_offnet_m: np.ndarray | None = None


def _ids(ids: np.ndarray, mask: np.ndarray) -> str:
    chosen = [str(i) for i in ids[mask][:LISTED]]
    more = int(mask.sum()) - len(chosen)
    return ", ".join(chosen) + (f" and {more} more" if more > 0 else "")


def district_reach(scenario: Scenario, district: District, *, cutoff_m: float,
                   network: WalkingNetwork | None = None) -> DistrictReach:
    """Walking distances from demand points to sites and existing facilities, below ``cutoff_m``.

    Parameters
    ----------
    scenario
        For ``walking`` (mode, slope, stairs, snapping) and ``data.network``.
    district
        Demand, sites and existing facilities in metres, and the costs of ``data.cost_matrix``
        when the scenario gives one (then nothing is walked).
    cutoff_m
        Longest flat-equivalent walk any service and age group needs.
    network
        The walking network when already read (see :func:`read_scenario_network`).

    Raises
    ------
    ScenarioError
        When the network mode has no network to walk on.
    """
    walking = scenario.walking
    if district.costs is not None:
        from siting.walking.matrix import cost_reach, ignored_walking_note  # a cost matrix: nothing is walked

        d_ids = district.demand.ids
        note = ignored_walking_note(scenario)
        return DistrictReach(cost_reach(district.costs.sites, d_ids, district.sites.ids, cutoff_m=cutoff_m),
                             cost_reach(district.costs.existing, d_ids, district.existing.ids, cutoff_m=cutoff_m),
                             notes=(note,) if note else ())
    if walking.mode == "matrix":
        raise ScenarioError(f"{scenario.source}, field 'walking.mode': 'matrix' needs 'data.cost_matrix' (a demand "
                            f"x site cost table), or use mode 'euclidean' or 'network'")
    demand_xy = district.demand.xy
    m = len(district.sites)
    dest_xy = np.concatenate([district.sites.xy, district.existing.xy])
    k = len(dest_xy)
    if walking.mode != "network":
        both = euclidean_reach(demand_xy, dest_xy, detour=walking.detour, cutoff_m=cutoff_m)
        return DistrictReach(both.columns(0, m), both.columns(m, k))
    if network is None:
        assert district.crs is not None  # only a district given a cost matrix has no coordinates
        network = read_scenario_network(scenario, district.crs)
    both, snap_d, snap_k = network_reach(network, demand_xy, dest_xy, cutoff_m=cutoff_m, slope=walking.slope,
                                         stairs_factor=walking.stairs_factor, snap_limit_m=walking.snap_limit_m,
                                         snap_to=walking.snap_to)
    straight = euclidean_reach(demand_xy, dest_xy, detour=1.0, cutoff_m=cutoff_m)
    notes: list[str] = []
    people = district.demand.population.sum(axis=1)
    limit = f"{walking.snap_limit_m:g} m"
    far_d = snap_d.too_far
    if far_d.any():
        notes.append(f"{int(far_d.sum())} demand points ({people[far_d].sum():,.0f} residents) are more than {limit} "
                     f"from the walking network and reach nothing: {_ids(district.demand.ids, far_d)}; "
                     f"extend the network or raise walking.snap_limit_m")
    far_s, far_e = snap_k.too_far[:m], snap_k.too_far[m:]
    if far_s.any():
        notes.append(f"{int(far_s.sum())} candidate sites are more than {limit} from the walking network and "
                     f"cover no one: {_ids(district.sites.ids, far_s)}")
    if far_e.any():
        notes.append(f"{int(far_e.sum())} existing facilities are more than {limit} from the walking network and "
                     f"cover no one: {_ids(district.existing.ids, far_e)}")
    cut_off = isolated_origins(network, snap_d, snap_k)
    if cut_off.any():
        notes.append(f"{int(cut_off.sum())} demand points ({people[cut_off].sum():,.0f} residents) lie on a part "
                     f"of the walking network that no candidate site or existing facility is on, so no plan "
                     f"can cover them: {_ids(district.demand.ids, cut_off)}")
    counts = {"demand_beyond_snap_limit": int(far_d.sum()), "sites_beyond_snap_limit": int(far_s.sum()),
              "existing_beyond_snap_limit": int(far_e.sum()), "demand_cut_off_from_every_site": int(cut_off.sum())}
    tree = cKDTree(network.xy)
    return DistrictReach(both.columns(0, m), both.columns(m, k), straight.columns(0, m), straight.columns(m, k),
                         tuple(notes), counts, network.n_nodes, network.n_edges,
                         tree.query(demand_xy)[0] if len(demand_xy) else np.zeros(0),
                         tree.query(dest_xy)[0] if len(dest_xy) else np.zeros(0))


def read_scenario_network(scenario: Scenario, to_crs: str) -> WalkingNetwork:
    """Read the walking network a scenario names, in the district's metric CRS.

    Raises
    ------
    ScenarioError
        When the network mode has no network to walk on.
    DataError
        When the network files are missing or malformed.
    """
    files = scenario.data.network
    if files is None:
        raise ScenarioError(f"{scenario.source}, field 'walking.mode': 'network' needs 'data.network' "
                            f"(a network file in 'path', or 'nodes' and 'edges' CSV files), or use mode 'euclidean'")
    return read_network(to_crs=to_crs, path=files.path, nodes=files.nodes, edges=files.edges,
                        fmt=files.format, layer=files.layer, crs=scenario.data.crs,
                        coordinates=files.coordinates, default_coordinates=scenario.data.coordinates)
