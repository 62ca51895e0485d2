"""Budgeted multi-service maximal covering: which idle building hosts which services.

Formulation (matrix form, solver-agnostic)::

    maximise    Σ_r  w_r z_r                                  weighted newly covered residents
    subject to  z_r  ≤ Σ_{k ∈ N(r)} x_k          for every coverage row r
                x_k  ≤ y_j(k)                     a service needs its site converted
                Σ_{k at j} a_s(k) x_k ≤ F_j y_j   services fit the site's floor area
                Σ_j c_j y_j + Σ_k f_s(k) x_k ≤ B  retrofit once per site + fit-out per service
                min_s ≤ Σ_{k of s} x_k ≤ max_s    sites per service
                y_j = 1 (forced in),  y_j = 0 (forced out)
                x, y ∈ {0, 1},  0 ≤ z ≤ 1

``x_k`` is one allowed (site, service) pair, ``y_j`` converts site ``j``, and a coverage row
``r`` is a group of demand points of one service that the same candidate sites reach, not
already covered by an existing facility; its weight ``w_r`` sums residents × age-group weight
× service weight over the rows merged into it. Merging identical rows is exact: it changes
the size of the model, not its optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.instance import CoveringInstance, covering_instance
from siting.model.milp import MilpModel, Sense


@dataclass(frozen=True)
class PlanningRules:
    """The limits and weights of one planning question, as arrays.

    Attributes
    ----------
    budget
        Total budget in yuan.
    service_area
        Floor area each service needs (m²), per service.
    service_fitout
        Fit-out cost of each service (yuan), per service.
    service_weight, group_weight
        Objective weights per service and per age group.
    min_sites, max_sites
        Number of new sites per service: at least / at most (``max_sites`` < 0 means no limit).
    force_in, force_out
        Per site: must / must not be converted.
    """

    budget: float
    service_area: np.ndarray
    service_fitout: np.ndarray
    service_weight: np.ndarray
    group_weight: np.ndarray
    min_sites: np.ndarray
    max_sites: np.ndarray
    force_in: np.ndarray
    force_out: np.ndarray


@dataclass(frozen=True)
class SiteData:
    """What the model needs of the candidate sites."""

    floor_area: np.ndarray
    retrofit_cost: np.ndarray
    allowed: np.ndarray


@dataclass(frozen=True)
class CoveringModel:
    """A built covering model and what is needed to read its solution.

    Attributes
    ----------
    milp
        The matrix model.
    x_site, x_service
        Site and service index of each ``x`` column.
    n_sites, n_services
        Sizes of the assignment.
    baseline_value
        Weighted residents already covered by existing facilities (not in the objective).
    stats
        Sizes before and after reductions, for logs and benchmarks.
    """

    milp: MilpModel
    x_site: np.ndarray
    x_service: np.ndarray
    n_sites: int
    n_services: int
    baseline_value: float
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def x_cols(self) -> slice:
        """Columns of the (site, service) variables."""
        return self.milp.col_blocks["x"]

    @property
    def y_cols(self) -> slice:
        """Columns of the site-conversion variables."""
        return self.milp.col_blocks["y"]

    def hosts(self, solution: np.ndarray) -> np.ndarray:
        """Boolean (sites × services) assignment read from a solution vector."""
        out = np.zeros((self.n_sites, self.n_services), dtype=bool)
        on = solution[self.x_cols] > 0.5
        out[self.x_site[on], self.x_service[on]] = True
        return out

    def solution_from_hosts(self, hosts: np.ndarray, coverage_rows: bool = True) -> np.ndarray:
        """A full solution vector for an assignment (``z`` set to what it covers)."""
        x = np.zeros(self.milp.n_cols)
        xs = hosts[self.x_site, self.x_service].astype(float)
        x[self.x_cols] = xs
        y = np.zeros(self.n_sites)
        np.maximum.at(y, self.x_site, xs)
        x[self.y_cols] = y
        if coverage_rows:
            cover = self.milp.A[self.milp.row_blocks["cover"]][:, self.x_cols]
            x[self.milp.col_blocks["z"]] = np.minimum(cover.multiply(-1) @ xs, 1.0)
        return x


def build_covering_model(coverage: Coverage, sites: SiteData, rules: PlanningRules, *,
                         merge: bool = True) -> CoveringModel:
    """Build the budgeted multi-service covering model (see the module docstring).

    Parameters
    ----------
    coverage
        Coverage matrices per (service, age group).
    sites
        Floor area, retrofit cost and allowed services of the candidate sites.
    rules
        Budget, weights and requirements.
    merge
        Merge identical coverage rows (exact); ``False`` gives the plain formulation, one row
        per demand point × age group, which benchmarks compare against.

    Returns
    -------
    CoveringModel
        The matrix model with what is needed to decode it.
    """
    return covering_milp(covering_instance(coverage, sites, rules, merge=merge))


def plain_covering_model(coverage: Coverage, sites: SiteData, rules: PlanningRules) -> CoveringModel:
    """The straightforward formulation: one coverage row per demand point × age group.

    No merging and no reductions beyond leaving out what the coverage matrices already leave
    out (residents an existing facility covers, or no usable site reaches); floor-area rows,
    not patterns. This is what benchmarks compare the optimizer against.
    """
    return build_covering_model(coverage, sites, rules, merge=False)


def covering_milp(instance: CoveringInstance) -> CoveringModel:
    """The MILP of a compact covering instance (see the module docstring).

    Parameters
    ----------
    instance
        Columns, coverage rows and limits, possibly reduced.

    Returns
    -------
    CoveringModel
        The matrix model with what is needed to decode it.
    """
    inst = instance
    m, K, nz = inst.n_sites, inst.n_cols, inst.n_rows
    x_site, x_service = inst.x_site, inst.x_service
    n_cols = K + m + nz
    xs, ys, zs = slice(0, K), slice(K, K + m), slice(K + m, n_cols)
    Rx = inst.cover.astype(np.float64)
    # cover: z_r - Σ x ≤ 0
    cover = sparse.hstack([-Rx, sparse.csr_matrix((nz, m)), sparse.identity(nz, format="csr")], format="csr")
    # link: x_k - y_j ≤ 0
    eye_k = sparse.identity(K, format="csr")
    link = sparse.hstack([eye_k, -sparse.csr_matrix((np.ones(K), (np.arange(K), x_site)), shape=(K, m)),
                          sparse.csr_matrix((K, nz))], format="csr")
    # area: Σ a_s x - F_j y_j ≤ 0
    area = sparse.hstack([sparse.csr_matrix((inst.x_area, (x_site, np.arange(K))), shape=(m, K)),
                          -sparse.diags(inst.site_area, format="csr"),
                          sparse.csr_matrix((m, nz))], format="csr")
    # budget
    budget = sparse.csr_matrix(np.concatenate([inst.x_fitout, inst.site_cost, np.zeros(nz)])[None, :])
    # sites per service
    limited = np.flatnonzero((inst.min_sites > 0) | (inst.max_sites >= 0))
    count = sparse.csr_matrix((0, n_cols))
    if limited.size:
        sel = np.isin(x_service, limited)
        count = sparse.csr_matrix((np.ones(int(sel.sum())),
                                   (np.searchsorted(limited, x_service[sel]), np.flatnonzero(sel))),
                                  shape=(limited.size, n_cols))
    A = sparse.vstack([cover, link, area, budget, count], format="csr")
    inf = np.inf
    row_lower = np.concatenate([np.full(nz + K + m + 1, -inf), inst.min_sites[limited].astype(float)])
    row_upper = np.concatenate([np.zeros(nz + K + m), [inst.budget],
                                np.where(inst.max_sites[limited] >= 0, inst.max_sites[limited], inf)])
    col_lower = np.zeros(n_cols)
    col_lower[K:K + m] = inst.force_in.astype(float)
    col_upper = np.ones(n_cols)
    has_columns = np.bincount(x_site, minlength=m) > 0
    col_upper[K:K + m] = (has_columns | inst.force_in).astype(float)  # forced out: no columns, y = 0
    integer = np.zeros(n_cols, dtype=bool)
    integer[:K + m] = True
    objective = np.concatenate([np.zeros(K + m), inst.weight])
    r0 = 0
    row_blocks = {}
    for name, size in (("cover", nz), ("link", K), ("area", m), ("budget", 1), ("count", limited.size)):
        row_blocks[name] = slice(r0, r0 + size)
        r0 += size
    milp = MilpModel(
        name="budgeted multi-service covering",
        sense=Sense.MAXIMIZE,
        objective=objective,
        A=A,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=col_lower,
        col_upper=col_upper,
        integer=integer,
        col_blocks={"x": xs, "y": ys, "z": zs},
        row_blocks=row_blocks,
    )
    stats = {**inst.stats, "nonzeros": int(A.nnz)}
    return CoveringModel(milp, x_site, x_service, m, inst.n_services, inst.baseline_value, stats)
