"""Capacitated covering: a facility serves only as many residents as its floor area allows.

A service placed at a site can serve ``capacity_s`` residents of its target bands (from the
catalogue's capacity norm: floor area ÷ building area per 1,000 target residents); a service
without a norm is not capacity-limited. Each coverage row ``r`` (a group of demand points of
one service that the same pairs reach, with ``N_r`` residents of the groups the service
serves) is served in part or in whole by the pairs that reach it.

Formulation (matrix form, solver-agnostic), over the site rules of
:mod:`siting.model.structure`::

    maximise    Σ_r w_r z_r                               weighted residents served
    subject to  z_r = Σ_{k ∈ N(r)} v_rk                   every row of a limited service   (assign)
                z_r ≤ Σ_{k ∈ N(r)} x_k                    for every row r                  (cover)
                Σ_r N_r v_rk ≤ capacity_s(k) x_k          every pair of a limited service  (capacity)
                site rules (link, area, budget, count)
                share_f ≥ floor_f                         every floor (optional)            (floor)
                x, y ∈ {0, 1},  0 ≤ z, v ≤ 1

``v_rk`` is the share of row ``r``'s residents served by pair ``k`` and ``z_r`` the share of
the row served at all, so residents may split between facilities (a building's residents go
to whichever facility has room). Residents already covered by an existing facility are
taken as served there (existing facilities are not capacity-limited in this model).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.milp import Sense
from siting.model.rules import PlanningRules, SiteData, site_bounds
from siting.model.structure import (
    Assembler,
    CoverRows,
    ShareTarget,
    SiteColumns,
    SitingModel,
    add_site_rules,
    cover_rows,
    share_terms,
    site_columns,
    weighted_row_values,
)


def assemble_capacitated(coverage: Coverage, sites: SiteData, rules: PlanningRules, service_capacity: np.ndarray,
                         *, floors: list[ShareTarget] | None = None) -> tuple[Assembler, SiteColumns, CoverRows]:
    """The columns (x, y, z, v) and rows (assign, cover, capacity, site rules, floors) of the module docstring.

    Shared by :func:`build_capacitated_model` and the standards-first model
    (:mod:`siting.model.standards`), which add their objectives.
    """
    cols = site_columns(sites, rules)
    rows = cover_rows(coverage, cols)
    K, m, nz = cols.n_pairs, cols.n_sites, rows.n_rows
    cap = np.asarray(service_capacity, dtype=float)
    limited_col = np.isfinite(cap[cols.x_service])
    R = rows.R.tocoo()
    order = np.lexsort((R.col, R.row))
    vr, vk = R.row[order].astype(np.int64), R.col[order].astype(np.int64)
    on = limited_col[vk]  # allocations only towards capacity-limited pairs
    vr, vk = vr[on], vk[on]
    nv = vr.size
    limited_rows = np.unique(vr)
    residents = np.asarray(rows.residents.sum(axis=1)).ravel()
    asm = Assembler()
    asm.columns("x", K)
    asm.columns("y", m)
    asm.columns("z", nz)
    asm.columns("v", nv)
    pick = sparse.csr_matrix((np.ones(limited_rows.size), (np.arange(limited_rows.size), limited_rows)),
                             shape=(limited_rows.size, nz))
    assign_v = sparse.csr_matrix((np.ones(nv), (np.searchsorted(limited_rows, vr), np.arange(nv))),
                                 shape=(limited_rows.size, nv))
    asm.add("assign", {"z": pick, "v": -assign_v}, 0.0, 0.0)
    asm.add("cover", {"z": sparse.identity(nz, format="csr"), "x": -rows.R}, -np.inf, 0.0)
    limited_k = np.flatnonzero(limited_col)
    use = sparse.csr_matrix((residents[vr], (np.searchsorted(limited_k, vk), np.arange(nv))),
                            shape=(limited_k.size, nv))
    take = sparse.csr_matrix((cap[cols.x_service[limited_k]], (np.arange(limited_k.size), limited_k)),
                             shape=(limited_k.size, K))
    asm.add("capacity", {"v": use, "x": -take}, -np.inf, 0.0)
    add_site_rules(asm, cols, sites, rules)
    if floors:
        coef, base, total = share_terms(rows, floors)
        need = np.array([f.share for f in floors]) * total - base
        asm.add("floor", {"z": coef}, need - 1e-6 * np.maximum(total, 1.0), np.inf)
    return asm, cols, rows


def build_capacitated_model(coverage: Coverage, sites: SiteData, rules: PlanningRules,
                            service_capacity: np.ndarray, *, floors: list[ShareTarget] | None = None) -> SitingModel:
    """Build the capacitated covering model (see the module docstring).

    Parameters
    ----------
    coverage, sites, rules
        Coverage matrices, candidate sites, budget and requirements.
    service_capacity
        Residents one instance of each service can serve (``inf``: not capacity-limited).
    floors
        Minimum shares of residents served, per age group or service × age group.

    Returns
    -------
    SitingModel
        The model; its objective is the weighted number of residents served within capacity.
    """
    asm, cols, rows = assemble_capacitated(coverage, sites, rules, service_capacity, floors=floors)
    y_lo, y_hi = site_bounds(rules)
    milp = asm.build("capacitated covering", Sense.MAXIMIZE, {"z": weighted_row_values(coverage, rules, rows)},
                     integer=("x", "y"), col_lower={"y": y_lo}, col_upper={"y": y_hi})
    stats = {"assignments": cols.n_pairs, "sites": cols.n_sites, "coverage_rows": rows.n_rows,
             "allocations": asm.col_sizes["v"], "rows": milp.n_rows, "nonzeros": int(milp.A.nnz)}
    return SitingModel(milp, cols, rows, "capacitated", stats)
