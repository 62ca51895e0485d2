"""Reach from a cost matrix: the walking metres a scenario gives, in place of walking.

The data stage (:mod:`siting.data.cost_matrix`) reads and checks ``data.cost_matrix``; here its
pairs become :class:`~siting.walking.reach.Reach` triplets: renumbered to the district at hand
(a life circle holds part of the district; only the existing facilities of the services in
play are kept), cut at the walking cutoff and sorted by (origin, destination), all with array
operations.
"""

from __future__ import annotations

import numpy as np

from siting.data.cost_matrix import PairCosts
from siting.data.scenario import Scenario
from siting.walking.reach import Reach

#: The fields of ``walking:`` that a cost matrix makes moot.
WALKING_FIELDS = ("mode", "detour", "slope", "stairs_factor", "snap_limit_m", "snap_to")


def cost_reach(costs: PairCosts, origin_ids: np.ndarray, destination_ids: np.ndarray, *,
               cutoff_m: float) -> Reach:
    """The pairs of a cost matrix within ``cutoff_m``, as reach from ``origin_ids`` to ``destination_ids``.

    Parameters
    ----------
    costs
        Walking metres of the matrix's pairs.
    origin_ids, destination_ids
        The demand points and destinations (sites or existing facilities) of the district, in
        its order; pairs of other ids are left out.
    cutoff_m
        Longest walk to record.

    Returns
    -------
    Reach
        One entry per pair within the cutoff, sorted by (origin, destination).
    """
    origin, destination, metres = costs.renumbered(origin_ids, destination_ids)
    keep = metres <= cutoff_m
    origin, destination, metres = origin[keep], destination[keep], metres[keep]
    order = np.lexsort((destination, origin))
    return Reach(origin[order].astype(np.int64), destination[order].astype(np.int64), metres[order].astype(float),
                 (len(origin_ids), len(destination_ids)), cutoff_m)


def ignored_walking_note(scenario: Scenario) -> str | None:
    """The note for ``walking:`` fields or ``data.network`` a scenario sets that a cost matrix makes moot."""
    walking = scenario.walking
    moot = [f"walking.{f}" for f in WALKING_FIELDS if f in walking.model_fields_set
            and not (f == "mode" and walking.mode == "matrix")]
    if scenario.data.network is not None:
        moot.append("data.network")
    if not moot:
        return None
    return (f"{', '.join(moot)} {'is' if len(moot) == 1 else 'are'} not used: the walking costs come from "
            f"data.cost_matrix (walking.mode: matrix)")


__all__ = ["cost_reach", "ignored_walking_note"]
