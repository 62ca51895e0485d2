"""Walking distances kept for the objectives that minimise walking time (the metres below the cutoff).

The walking stage records, for every demand point, the flat-equivalent metres to each
candidate site and existing facility within the cutoff (the longest walk any service and age
group needs). Coverage keeps only "within the limit or not"; the walking-time objectives (the
p-median and the walking-time tie-breaker) need the metres themselves.
:class:`WalkDistances` keeps them as the walking stage left them — no copy, no second walk.

**Walks beyond the cutoff.** No distance is known beyond the cutoff, so a resident with no
open facility of a service within it is counted as walking exactly the cutoff: every walk is
``min(metres to the nearest open facility, cutoff_m)``. That is a lower bound of the true walk,
the same for every plan that leaves the resident out of reach, so plans are still ranked by
the walks that can be measured; the residents so counted are reported per service × age group
(``residents_beyond_cutoff``), with those no plan can bring within reach
(``residents_out_of_reach``).

A walk of ``d`` flat-equivalent metres takes ``d / speed_g / 60`` minutes for age group ``g``
(slopes and stairs are already in the metres).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from siting.walking import Reach

BEYOND_CUTOFF = ("walks beyond the walking cutoff ({cutoff:,.0f} flat-equivalent metres, the longest walk any "
                 "service and age group needs) are counted as the cutoff itself, a lower bound")


@dataclass(frozen=True)
class WalkDistances:
    """Walking metres from demand points to candidate sites and existing facilities, below a cutoff.

    Attributes
    ----------
    sites
        Demand → candidate site (the walking stage's :class:`~siting.walking.Reach`).
    existing
        Demand → existing facility.
    existing_service
        Service index (catalogue order) of each existing facility; ``-1`` or out of range
        for a service not in play.
    """

    sites: Reach
    existing: Reach
    existing_service: np.ndarray

    @property
    def cutoff_m(self) -> float:
        """Longest walk recorded, in flat-equivalent metres."""
        return float(self.sites.cutoff_m)

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return int(self.sites.shape[0])

    def nearest_existing(self, n_services: int) -> np.ndarray:
        """Metres from each demand point to the nearest existing facility of each service.

        Returns
        -------
        numpy.ndarray
            Shape (demand points, services); ``inf`` where none lies within the cutoff.
        """
        n = self.n_demand
        out = np.full(n * n_services, np.inf)
        svc = np.asarray(self.existing_service, dtype=np.int64)[self.existing.destination]
        ok = (svc >= 0) & (svc < n_services)
        np.minimum.at(out, self.existing.origin[ok] * n_services + svc[ok], self.existing.metres[ok])
        return out.reshape(n, n_services)

    def nearest_open(self, hosts: np.ndarray) -> np.ndarray:
        """Metres from each demand point to the nearest open facility of each service.

        Parameters
        ----------
        hosts
            Boolean (sites × services): the plan. Existing facilities are open too.

        Returns
        -------
        numpy.ndarray
            Shape (demand points, services); ``inf`` where no open facility lies within the cutoff.
        """
        n_services = int(hosts.shape[1])
        out = self.nearest_existing(n_services).ravel()
        site, service = np.nonzero(hosts)
        # one pass over the recorded pairs per service a plan opens (services are few)
        for s in np.unique(service):
            on = np.zeros(hosts.shape[0], dtype=bool)
            on[site[service == s]] = True
            keep = on[self.sites.destination]
            np.minimum.at(out, self.sites.origin[keep] * n_services + s, self.sites.metres[keep])
        return out.reshape(-1, n_services)


def minutes_per_metre(speeds: np.ndarray) -> np.ndarray:
    """Minutes per flat-equivalent metre for each age group, from its speed in m/s."""
    out: np.ndarray = 1.0 / (60.0 * np.asarray(speeds, dtype=float))
    return out


def walk_weights(population: np.ndarray, pairs: Sequence[tuple[int, int]], speeds: np.ndarray,
                 service_weight: np.ndarray, group_weight: np.ndarray) -> np.ndarray:
    """Weighted minutes per metre of walk, per demand point and service.

    ``W[i, s] = Σ_g w_s w_g pop[i, g] / (60 v_g)`` over the age groups ``g`` service ``s``
    serves: a walk of ``d`` metres from point ``i`` to a facility of ``s`` costs ``W[i, s] d``
    weighted person-minutes. Every age group of a building walks to the same nearest facility
    (time is distance over speed), so one weight per point and service is enough.

    Returns
    -------
    numpy.ndarray
        Shape (demand points, services).
    """
    n = population.shape[0]
    n_services = len(service_weight)
    out = np.zeros((n, n_services))
    per_metre = minutes_per_metre(speeds)
    for s, g in pairs:
        out[:, s] += service_weight[s] * group_weight[g] * per_metre[g] * population[:, g]
    return out


def total_walking_minutes(hosts: np.ndarray, distances: WalkDistances, weights: np.ndarray) -> float:
    """Total weighted walking minutes of a plan (walks capped at the cutoff), from the distances alone."""
    capped = np.minimum(distances.nearest_open(hosts), distances.cutoff_m)
    return float((weights * capped).sum())
