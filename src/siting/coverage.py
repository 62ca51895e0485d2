"""Coverage: which demand points each site would cover, per service and age group.

For every service and every age group it serves, coverage is a boolean sparse matrix
demand × site: the site is within the service's walking limit at that group's speed.
Baseline coverage is what existing facilities already give. No solver code here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from siting.data.catalogue import Catalogue
from siting.data.district import District
from siting.walking import Reach


@dataclass(frozen=True)
class Coverage:
    """Who a site would cover, per (service, age group) the service serves.

    Attributes
    ----------
    service_keys, group_keys
        Catalogue order of services and age groups.
    pairs
        (service index, group index) of every served combination.
    reach
        Per pair, boolean csr matrix demand × site: within the walking limit.
    baseline
        Per pair, boolean array over demand: already covered by an existing facility.
    population
        Residents per demand point and age group, shape (n, groups).
    limit_m
        Per pair, the reach in flat-equivalent metres (:meth:`~siting.data.catalogue.Catalogue.reach_m`).
    need_weight
        Per demand point and service, the multiplier of its weight in the objective (the
        needs list, :mod:`siting.data.needs`), shape (n, services); ``None``: 1 everywhere.
        Shares of residents (the tables, the report) do not use it.
    """

    service_keys: tuple[str, ...]
    group_keys: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...]
    reach: tuple[sparse.csr_matrix, ...]
    baseline: tuple[np.ndarray, ...]
    population: np.ndarray
    limit_m: tuple[float, ...]
    need_weight: np.ndarray | None = None

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return int(self.population.shape[0])

    @property
    def n_sites(self) -> int:
        """Number of candidate sites."""
        return int(self.reach[0].shape[1]) if self.reach else 0

    def objective_population(self, p: int) -> np.ndarray:
        """Residents of pair ``p``'s age group per demand point, times the point's need weight for its service."""
        s, g = self.pairs[p]
        pop = self.population[:, g]
        if self.need_weight is None:
            return pop
        out: np.ndarray = pop * self.need_weight[:, s]
        return out

    def weighted_covered(self, hosts: np.ndarray) -> np.ndarray:
        """Per pair, residents covered (baseline included) times their need weights (:meth:`objective_population`)."""
        return np.array([self.objective_population(p)[cov].sum() for p, cov in enumerate(self.covered(hosts))])

    def weighted_baseline(self) -> np.ndarray:
        """Per pair, residents covered by existing facilities alone, times their need weights."""
        return np.array([self.objective_population(p)[base].sum() for p, base in enumerate(self.baseline)])

    def covered(self, hosts: np.ndarray) -> list[np.ndarray]:
        """Which demand points are covered per pair, baseline included.

        Parameters
        ----------
        hosts
            Boolean (sites × services): the plan's site–service assignments.

        Returns
        -------
        list of numpy.ndarray
            Per pair, a boolean array over demand points.
        """
        out = []
        for (s, _g), reach, base in zip(self.pairs, self.reach, self.baseline, strict=True):
            col = hosts[:, s].astype(np.int64)
            out.append(base | (reach @ col > 0))
        return out

    def covered_population(self, hosts: np.ndarray) -> np.ndarray:
        """Residents covered per pair (baseline included) under an assignment."""
        return np.array([self.population[cov, g].sum()
                         for (_s, g), cov in zip(self.pairs, self.covered(hosts), strict=True)])

    def baseline_population(self) -> np.ndarray:
        """Residents covered per pair by existing facilities alone."""
        return np.array([self.population[base, g].sum()
                         for (_s, g), base in zip(self.pairs, self.baseline, strict=True)])

    def total_population(self) -> np.ndarray:
        """Residents of the pair's age group, per pair."""
        return np.array([self.population[:, g].sum() for _s, g in self.pairs])


def walk_cutoff_m(catalogue: Catalogue) -> float:
    """Longest flat-equivalent walk any (service, age group) needs (see :meth:`Catalogue.reach_m`)."""
    return max(catalogue.reach_m(s, catalogue.group(g)) for s in catalogue.services for g in s.serves)


def build_coverage(district: District, catalogue: Catalogue, sites: Reach, existing: Reach) -> Coverage:
    """Coverage matrices from walking distances.

    Parameters
    ----------
    district
        The district (for population and the services of existing facilities).
    catalogue
        Services (walking limits) and age groups (speeds).
    sites
        Walking distances demand → candidate site.
    existing
        Walking distances demand → existing facility.

    Returns
    -------
    Coverage
        Sparse coverage per served (service, age group).
    """
    pairs = tuple(catalogue.served_pairs())
    reach, baseline, limits = [], [], []
    e_service = district.existing.service
    # pairs sharing a walking limit share one matrix
    site_within: dict[float, sparse.csr_matrix] = {}
    exist_within: dict[float, sparse.csr_matrix] = {}
    for s, g in pairs:
        limit = catalogue.reach_m(catalogue.services[s], catalogue.age_groups[g])
        if limit not in site_within:
            site_within[limit] = sites.within(limit)
            exist_within[limit] = existing.within(limit)
        reach.append(site_within[limit])
        mask = (e_service == s).astype(np.int64)
        baseline.append(exist_within[limit] @ mask > 0 if e_service.size else
                        np.zeros(len(district.demand), dtype=bool))
        limits.append(limit)
    return Coverage(
        service_keys=catalogue.service_keys,
        group_keys=catalogue.group_keys,
        pairs=pairs,
        reach=tuple(reach),
        baseline=tuple(np.asarray(b, dtype=bool) for b in baseline),
        population=district.demand.population,
        limit_m=tuple(limits),
        need_weight=district.demand.need_weight,
    )


def able_hosts(district: District, catalogue: Catalogue) -> np.ndarray:
    """Boolean (sites × services): every site that may host the service and has the floor area for it."""
    area = np.array([s.floor_area_m2 for s in catalogue.services])
    return np.asarray(district.sites.allowed & (district.sites.floor_area[:, None] >= area[None, :]))


def straight_vs_network(network: Coverage, straight: Coverage, hosts: np.ndarray) -> tuple[dict[str, Any], ...]:
    """Residents covered by straight line and along the network, per age group.

    Figures are residents × services, summed over the services that serve the group (as the
    coverage tables count them). ``existing``: covered by existing facilities;
    ``potential``: covered if every site able to host a service hosted it (the most any
    plan can reach).

    Parameters
    ----------
    network, straight
        Coverage from network walking and from straight-line distance (same district).
    hosts
        Boolean (sites × services) of the sites counted in ``potential``.

    Returns
    -------
    tuple of dict
        Per age group: ``age_group``, ``residents_x_services``, ``existing_straight``,
        ``existing_network``, ``potential_straight``, ``potential_network``.
    """
    groups = np.array([g for _s, g in network.pairs], dtype=np.int64)
    columns = {
        "residents_x_services": network.total_population(),
        "existing_straight": straight.baseline_population(),
        "existing_network": network.baseline_population(),
        "potential_straight": straight.covered_population(hosts),
        "potential_network": network.covered_population(hosts),
    }
    rows: list[dict[str, Any]] = []
    for g, key in enumerate(network.group_keys):
        sel = groups == g
        if not sel.any():
            continue
        rows.append({"age_group": key, **{k: float(v[sel].sum()) for k, v in columns.items()}})
    return tuple(rows)
