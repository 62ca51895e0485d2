"""A bound computed in milliseconds, so that every answer has a finite gap.

Relax the coverage rows with multipliers ``μ_r = w_r`` (Lagrangian relaxation): each column
is then worth the total weight of the rows it reaches, ``A_k = Σ_{r ∈ N(k)} w_r``, each site
the best pattern of its columns, ``V_j = max_T Σ_{k ∈ T} A_k``, and what remains is a knapsack
over sites with the budget. Its LP relaxation (sites by value per yuan, the last one
fractional) is an upper bound on the covering optimum; so is the total weight of all rows.
Fit-out costs and the numbers of sites per service are left out, which only loosens it. The
Benders LP bound is far tighter; this one exists for answers stopped before it.
"""

from __future__ import annotations

import numpy as np

from siting.model.instance import CoveringInstance
from siting.model.patterns import Patterns


def knapsack_bound(instance: CoveringInstance, patterns: Patterns | None = None) -> float:
    """Upper bound on the covering optimum (module docstring).

    Parameters
    ----------
    instance
        The covering instance.
    patterns
        The sites' patterns; without them a site is worth all its columns together.
    """
    inst = instance
    total = float(inst.weight.sum())
    if inst.n_cols == 0:
        return 0.0
    A = np.asarray(inst.cover.T.astype(np.float64) @ inst.weight)
    if patterns is not None and patterns.n:
        pv = patterns.link().T @ A
        V = np.zeros(inst.n_sites, dtype=np.float64)
        np.maximum.at(V, patterns.site, pv)
    else:
        V = np.bincount(inst.x_site, weights=A, minlength=inst.n_sites).astype(np.float64)
    forced = inst.force_in
    budget = inst.budget - float(inst.site_cost[forced].sum())
    fixed = float(V[forced].sum())
    v, c = V[~forced], inst.site_cost[~forced]
    free = v[c <= 0].sum()  # sites that cost nothing are simply taken
    v, c = v[c > 0], c[c > 0]
    order = np.argsort(-v / c, kind="stable")
    v, c = v[order], c[order]
    cum = np.cumsum(c)
    k = int(np.searchsorted(cum, budget, side="right"))  # the first k sites fit whole
    value = float(v[:k].sum())
    if k < v.size:
        value += float(v[k] * max(budget - (cum[k - 1] if k else 0.0), 0.0) / c[k])
    return float(min(total, fixed + free + value))


__all__ = ["knapsack_bound"]
