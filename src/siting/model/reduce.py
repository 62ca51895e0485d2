"""Exact reductions of a covering instance: smaller model, same optimum.

- :func:`merge_rows`: coverage rows that the same columns reach become one row whose weight
  is their sum (already done per service when the instance is built; repeated after columns
  are removed, because rows that differed only in a removed column become identical).
- :func:`drop_useless_columns`: a (site, service) column that reaches no coverage row only
  costs money and floor area; it is dropped unless its service has a minimum number of sites.
- :func:`drop_dominated_sites`: site ``j`` is dominated by site ``i`` when ``i`` allows every
  service ``j`` allows, reaches every coverage row ``j`` reaches for each of them, costs no
  more to convert, and is large enough to host all of its usable services at once. Any plan
  that converts ``j`` then does at least as well by moving ``j``'s services to ``i`` (or
  dropping the ones ``i`` already hosts): the same services fit, the cost does not rise, the
  coverage does not shrink. The floor-area condition matters: without it, ``i`` might be too
  small to take ``j``'s services on top of its own. Services with a minimum number of sites
  are left alone (moving could lower their count), and sites forced in are kept. Among
  identical sites the first is kept.

Everything is computed with sparse products; no loop over pairs of sites.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from siting.model.instance import CoveringInstance, merge_identical_rows


def merge_rows(instance: CoveringInstance) -> CoveringInstance:
    """Merge identical coverage rows (exact; weights summed)."""
    inst = instance
    if inst.n_rows == 0:
        return inst
    first, group = merge_identical_rows(inst.cover)
    if first.size == inst.n_rows:
        return inst
    return replace(inst, cover=inst.cover[first].tocsr(),
                   weight=np.bincount(group, weights=inst.weight, minlength=first.size).astype(np.float64),
                   row_service=inst.row_service[first],
                   stats={**inst.stats, "coverage_rows": int(first.size),
                          "coverage_nonzeros": int(inst.cover[first].nnz)})


def drop_useless_columns(instance: CoveringInstance) -> CoveringInstance:
    """Drop columns that reach no coverage row (unless their service has a minimum)."""
    inst = instance
    reach = inst.cover.getnnz(axis=0) > 0
    keep = reach | (inst.min_sites[inst.x_service] > 0)
    if keep.all():
        return replace(inst, stats={**inst.stats, "useless_columns": 0})
    return inst.select_columns(keep, useless_columns=int((~keep).sum()))


def dominated_sites(instance: CoveringInstance) -> np.ndarray:
    """Boolean per site: dominated by another site (see the module docstring)."""
    inst = instance
    m, S = inst.n_sites, inst.n_services
    dominated = np.zeros(m, dtype=bool)
    if inst.n_cols == 0:
        return dominated
    usable = np.zeros((m, S), dtype=bool)
    usable[inst.x_site, inst.x_service] = True
    n_usable = usable.sum(axis=1)
    # a dominating site hosts all its usable services at once
    roomy = usable @ inst.service_area <= inst.site_area + 1e-9
    # a dominated site: not forced in, none of its services has a minimum
    has_min = (usable & (inst.min_sites > 0)[None, :]).any(axis=1)
    candidate = (n_usable > 0) & ~inst.force_in & ~has_min
    if not roomy.any() or not candidate.any():
        return dominated
    R = inst.cover.astype(np.float64).tocsc()
    degree = np.asarray(R.getnnz(axis=0))
    keys = []
    for s in range(S):
        cols = np.flatnonzero(inst.x_service == s)
        if cols.size == 0:
            continue
        Rs = R[:, cols]
        C = (Rs.T @ Rs).tocoo()  # C[a, b] = rows reached by both columns a and b
        a, b = C.row, C.col
        j, i = inst.x_site[cols[a]], inst.x_site[cols[b]]
        ok = ((C.data >= degree[cols[a]] - 0.5) & (degree[cols[a]] > 0) & (j != i)
              & candidate[j] & roomy[i])
        keys.append(j[ok].astype(np.int64) * m + i[ok])
    if not keys:
        return dominated
    pair, n_contained = np.unique(np.concatenate(keys), return_counts=True)
    j, i = pair // m, pair % m
    # every usable service of j contained in i's coverage, and i no dearer
    ok = (n_contained == n_usable[j]) & (inst.site_cost[i] <= inst.site_cost[j] + 1e-9)
    j, i = j[ok], i[ok]
    # mutual dominance (identical sites): keep the lower index
    back = np.isin(i * m + j, j * m + i)
    remove = ~back | (i < j)
    dominated[j[remove]] = True
    return dominated


def drop_dominated_sites(instance: CoveringInstance) -> CoveringInstance:
    """Remove the columns of dominated sites (see the module docstring)."""
    inst = instance
    dom = dominated_sites(inst)
    if not dom.any():
        return replace(inst, stats={**inst.stats, "dominated_sites": 0})
    return inst.select_columns(~dom[inst.x_site], dominated_sites=int(dom.sum()))


def reduce_instance(instance: CoveringInstance) -> CoveringInstance:
    """Every exact reduction, then rows merged again; sizes recorded in ``stats``."""
    inst = drop_useless_columns(instance)
    inst = drop_dominated_sites(inst)
    inst = merge_rows(inst)
    return replace(inst, stats={**inst.stats, "reduced_assignments": inst.n_cols,
                                "reduced_coverage_rows": inst.n_rows,
                                "reduced_coverage_nonzeros": int(inst.cover.nnz)})
