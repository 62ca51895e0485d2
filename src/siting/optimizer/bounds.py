"""A bound computed in milliseconds, so that every answer has a finite gap.

The Lagrangian bound of :mod:`siting.optimizer.lagrangian` at the prices ``μ_r = w_r``: each
column is then worth the total weight of the rows it reaches, each site the best pattern of its
columns, and what remains is a knapsack over sites with the budget, whose LP relaxation (sites
by value per yuan, the last one fractional) is an upper bound on the covering optimum; so is the
total weight of all rows. The numbers of sites per service are left out, which only loosens it.
The Benders LP bound and the volume algorithm's are far tighter; this one exists for answers
stopped before them.
"""

from __future__ import annotations

from siting.model.instance import CoveringInstance
from siting.model.patterns import Patterns
from siting.optimizer.lagrangian import CoveringLagrangian


def knapsack_bound(instance: CoveringInstance, patterns: Patterns | None = None) -> float:
    """Upper bound on the covering optimum (module docstring).

    Parameters
    ----------
    instance
        The covering instance.
    patterns
        The sites' patterns; without them a site is worth all its columns together.
    """
    total = float(instance.weight.sum())
    if instance.n_cols == 0:
        return 0.0
    lg = CoveringLagrangian(instance, patterns)
    return float(min(total, lg.bound(lg.w)[0]))


__all__ = ["knapsack_bound"]
