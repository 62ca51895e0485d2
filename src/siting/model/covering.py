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
from siting.model.rules import (
    PlanningRules,
    RuleRows,
    SiteData,
    define_area,
    define_budget,
    define_link,
    define_site_counts,
    stack_rows,
)


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
    # cover: z_r - Σ x ≤ 0; then the plan rules (link, area, budget, count), built in siting.model.rules
    cover = RuleRows("cover", {"x": -inst.cover.astype(np.float64).tocsr(), "z": sparse.identity(nz, format="csr")},
                     np.full(nz, -np.inf), np.zeros(nz))
    blocks = [cover, define_link(x_site, m), define_area(x_site, inst.x_area, inst.site_area),
              define_budget(inst.x_cost, inst.site_cost, inst.budget),
              define_site_counts(x_service, inst.min_sites, inst.max_sites)]
    A, row_lower, row_upper, row_blocks = stack_rows(blocks, {"x": K, "y": m, "z": nz})
    col_lower = np.zeros(n_cols)
    col_lower[K:K + m] = inst.force_in.astype(float)
    col_upper = np.ones(n_cols)
    has_columns = np.bincount(x_site, minlength=m) > 0
    col_upper[K:K + m] = (has_columns | inst.force_in).astype(float)  # forced out: no columns, y = 0
    integer = np.zeros(n_cols, dtype=bool)
    integer[:K + m] = True
    objective = np.concatenate([np.zeros(K + m), inst.weight])
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


def weighted_new_coverage(hosts: np.ndarray, coverage: Coverage, rules: PlanningRules) -> float:
    """The covering objective of a plan: weighted residents it covers that existing facilities do not.

    Computed straight from the coverage matrices, independently of any solver's variables.
    """
    after = coverage.weighted_covered(hosts)
    before = coverage.weighted_baseline()
    w = np.array([rules.service_weight[s] * rules.group_weight[g] for s, g in coverage.pairs])
    return float(w @ (after - before))
