"""Capacitated covering: a facility serves only as many residents as its floor area allows.

A service placed at a site can serve ``capacity_s = floor_area_s × residents_per_m2_s``
residents (both figures in the service catalogue). Each coverage row ``r`` (a group of demand
points of one service that the same pairs reach, with ``N_r`` residents of the groups the
service serves) is served in part or in whole by the pairs that reach it.

Formulation (matrix form, solver-agnostic), over the site rules of
:mod:`siting.model.structure`::

    maximise    Σ_r w_r z_r                               weighted residents served
    subject to  z_r = Σ_{k ∈ N(r)} v_rk                   for every row r       (assign)
                z_r ≤ Σ_{k ∈ N(r)} x_k                    for every row r       (cover)
                Σ_r N_r v_rk ≤ capacity_s(k) x_k          for every pair k      (capacity)
                site rules (link, area, budget, count)
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
    SitingModel,
    add_site_rules,
    cover_rows,
    site_columns,
    weighted_row_values,
)


def build_capacitated_model(coverage: Coverage, sites: SiteData, rules: PlanningRules,
                            service_capacity: np.ndarray) -> SitingModel:
    """Build the capacitated covering model (see the module docstring).

    Parameters
    ----------
    coverage, sites, rules
        Coverage matrices, candidate sites, budget and requirements.
    service_capacity
        Residents one instance of each service can serve (floor area × residents per m²).

    Returns
    -------
    SitingModel
        The model; its objective is the weighted number of residents served within capacity.
    """
    cols = site_columns(sites, rules)
    rows = cover_rows(coverage, cols)
    K, m, nz = cols.n_pairs, cols.n_sites, rows.n_rows
    R = rows.R.tocoo()
    order = np.lexsort((R.col, R.row))
    vr, vk = R.row[order].astype(np.int64), R.col[order].astype(np.int64)
    nv = vr.size
    residents = np.asarray(rows.residents.sum(axis=1)).ravel()
    asm = Assembler()
    asm.columns("x", K)
    asm.columns("y", m)
    asm.columns("z", nz)
    asm.columns("v", nv)
    asm.add("assign", {"z": sparse.identity(nz, format="csr"),
                       "v": -sparse.csr_matrix((np.ones(nv), (vr, np.arange(nv))), shape=(nz, nv))}, 0.0, 0.0)
    asm.add("cover", {"z": sparse.identity(nz, format="csr"), "x": -rows.R}, -np.inf, 0.0)
    cap = np.asarray(service_capacity, dtype=float)[cols.x_service]
    asm.add("capacity", {"v": sparse.csr_matrix((residents[vr], (vk, np.arange(nv))), shape=(K, nv)),
                         "x": -sparse.diags(cap, format="csr")}, -np.inf, 0.0)
    add_site_rules(asm, cols, sites, rules)
    y_lo, y_hi = site_bounds(rules)
    milp = asm.build("capacitated covering", Sense.MAXIMIZE, {"z": weighted_row_values(coverage, rules, rows)},
                     integer=("x", "y"), col_lower={"y": y_lo}, col_upper={"y": y_hi})
    stats = {"assignments": K, "sites": m, "coverage_rows": nz, "allocations": nv, "rows": milp.n_rows,
             "nonzeros": int(milp.A.nnz)}
    return SitingModel(milp, cols, rows, "capacitated", stats)
