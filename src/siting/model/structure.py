"""Building blocks shared by the siting formulations other than the main covering model.

Every formulation here decides the same thing — which (site, service) pairs ``x`` are chosen
and which sites ``y`` are converted — under the same site rules; they differ in objective and
in what they ask of coverage. This module builds, from arrays and sparse matrices only:

* :func:`site_columns`: the allowed (site, service) pairs (allowed, fitting the floor area,
  not forced out, and — when a budget applies — affordable alone);
* :func:`cover_rows`: coverage rows per service, demand points with identical reach merged,
  keeping the residents of every (service, age group) pair in each merged row, so that
  shares per age group can be written as linear expressions;
* :class:`Assembler`: named column and row blocks stacked into a :class:`MilpModel`;
* :func:`add_site_rules`: the plan rules every siting formulation shares (link, area, budget,
  count), taken from their one home, :mod:`siting.model.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.instance import gather_rows, merge_identical_rows
from siting.model.milp import MilpModel, Sense
from siting.model.rules import (
    PlanningRules,
    RuleRows,
    SiteData,
    column_costs,
    define_area,
    define_budget,
    define_link,
    define_site_counts,
    pair_columns,
    stack_rows,
    usable_pairs,
)


@dataclass(frozen=True)
class SiteColumns:
    """The allowed (site, service) pairs, grouped by service, sites ascending within a service.

    Attributes
    ----------
    x_site, x_service
        Site and service of each pair (column ``x_k``).
    x_start
        Pairs of service ``s`` are ``x_start[s]:x_start[s + 1]``.
    n_sites, n_services
        Sizes of the assignment.
    """

    x_site: np.ndarray
    x_service: np.ndarray
    x_start: np.ndarray
    n_sites: int
    n_services: int

    @property
    def n_pairs(self) -> int:
        """Number of allowed (site, service) pairs."""
        return int(self.x_site.size)

    def hosts(self, x: np.ndarray) -> np.ndarray:
        """Boolean (sites × services) assignment from the ``x`` values."""
        out = np.zeros((self.n_sites, self.n_services), dtype=bool)
        on = x > 0.5
        out[self.x_site[on], self.x_service[on]] = True
        return out


def site_columns(sites: SiteData, rules: PlanningRules, *, budget: bool = True) -> SiteColumns:
    """The (site, service) pairs a plan may choose (:func:`siting.model.rules.usable_pairs`)."""
    usable = usable_pairs(sites, rules, budget=budget)
    x_site, x_service, x_start = pair_columns(usable)
    return SiteColumns(x_site, x_service, x_start, usable.shape[0], usable.shape[1])


@dataclass(frozen=True)
class CoverRows:
    """Coverage rows: groups of demand points of one service that the same pairs reach.

    Attributes
    ----------
    R
        Boolean csr (rows × pairs): which (site, service) pairs cover the row.
    residents
        csr (rows × coverage pairs): residents of each (service, age group) pair in the row,
        counting only demand points not already covered by an existing facility.
    baseline
        Residents already covered, per (service, age group) pair.
    total
        Residents of the pair's age group, per (service, age group) pair.
    weighted
        As ``residents``, times each demand point's need weight (the objective's residents);
        ``None`` when there are no need weights (then ``residents``).
    """

    R: sparse.csr_matrix
    residents: sparse.csr_matrix
    baseline: np.ndarray
    total: np.ndarray
    weighted: sparse.csr_matrix | None = None

    @property
    def n_rows(self) -> int:
        """Number of coverage rows."""
        return int(self.R.shape[0])


def cover_rows(coverage: Coverage, cols: SiteColumns) -> CoverRows:
    """Merge demand points with identical reach, per service, keeping residents per pair.

    The pairs' demand points are gathered as rows over the columns
    (:func:`~siting.model.instance.gather_rows`, as the coverage objective's instance is); one
    merge then groups identical rows service by service
    (:func:`~siting.model.instance.merge_identical_rows` with the services' column segments).
    """
    K = cols.n_pairs
    P = len(coverage.pairs)
    with_columns = [p for p, (s, _g) in enumerate(coverage.pairs) if cols.x_start[s + 1] > cols.x_start[s]]
    R, kept = gather_rows(coverage, cols.x_site, cols.x_service, (cols.n_sites, cols.n_services), with_columns)
    if R.shape[0] == 0:
        empty_res = sparse.csr_matrix((0, P))
        return CoverRows(sparse.csr_matrix((0, K)), empty_res, coverage.baseline_population(),
                         coverage.total_population(), empty_res.copy() if coverage.need_weight is not None else None)
    pops = [coverage.population[points, coverage.pairs[p][1]] for p, points in kept]
    wpops = [coverage.objective_population(p)[points] for p, points in kept]
    pair_of = [np.full(points.size, p) for p, points in kept]
    first, inverse = merge_identical_rows(R, segment_start=cols.x_start)
    Rg = R[first].tocoo()
    R_all = sparse.csr_matrix((np.ones(Rg.nnz), (Rg.row, Rg.col)), shape=(first.size, K))
    pair_col = np.concatenate(pair_of)
    res = sparse.csr_matrix((np.concatenate(pops), (inverse, pair_col)), shape=(first.size, P))
    weighted = None
    if coverage.need_weight is not None:
        weighted = sparse.csr_matrix((np.concatenate(wpops), (inverse, pair_col)), shape=(first.size, P))
    return CoverRows(R_all, res, coverage.baseline_population(), coverage.total_population(), weighted)


@dataclass
class Assembler:
    """Named column blocks and row blocks, stacked into one :class:`MilpModel`."""

    col_sizes: dict[str, int] = field(default_factory=dict)
    rows: list[RuleRows] = field(default_factory=list)

    def columns(self, name: str, size: int) -> None:
        """Add a block of ``size`` columns (in order)."""
        self.col_sizes[name] = int(size)

    def col_slices(self) -> dict[str, slice]:
        """Column range of every block."""
        out, c0 = {}, 0
        for name, size in self.col_sizes.items():
            out[name] = slice(c0, c0 + size)
            c0 += size
        return out

    @property
    def n_cols(self) -> int:
        """Total number of columns."""
        return sum(self.col_sizes.values())

    def add(self, name: str, parts: dict[str, sparse.spmatrix], lower: np.ndarray | float,
            upper: np.ndarray | float) -> None:
        """Add a row block: coefficient matrices per column block, and row bounds."""
        n = next(iter(parts.values())).shape[0]
        lo = np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy()
        self.rows.append(RuleRows(name, {k: sparse.csr_matrix(v) for k, v in parts.items()}, lo, hi))

    def add_rows(self, block: RuleRows) -> None:
        """Add a row block built by :mod:`siting.model.rules`."""
        self.rows.append(block)

    def build(self, name: str, sense: Sense, objective: dict[str, np.ndarray], *, integer: tuple[str, ...],
              col_lower: dict[str, np.ndarray] | None = None, col_upper: dict[str, np.ndarray] | None = None,
              implied_integer: tuple[str, ...] = (), offset: float = 0.0) -> MilpModel:
        """Stack the blocks into a model; columns default to ``[0, 1]``."""
        cs = self.col_slices()
        n_cols = self.n_cols
        A, row_lower, row_upper, row_blocks = stack_rows(self.rows, self.col_sizes)
        c = np.zeros(n_cols)
        for block, coef in objective.items():
            c[cs[block]] = coef
        cl, cu = np.zeros(n_cols), np.ones(n_cols)
        for block, values in (col_lower or {}).items():
            cl[cs[block]] = values
        for block, values in (col_upper or {}).items():
            cu[cs[block]] = values
        isint = np.zeros(n_cols, dtype=bool)
        for block in integer:
            isint[cs[block]] = True
        implied = np.zeros(n_cols, dtype=bool)
        for block in implied_integer:
            implied[cs[block]] = True
        return MilpModel(name=name, sense=sense, objective=c, A=A,
                         row_lower=row_lower, row_upper=row_upper,
                         col_lower=cl, col_upper=cu, integer=isint, offset=offset, col_blocks=cs,
                         row_blocks=row_blocks, implied_integer=implied if implied.any() else None)


def add_site_rules(asm: Assembler, cols: SiteColumns, sites: SiteData, rules: PlanningRules, *,
                   budget: bool = True) -> None:
    """Add the plan rules of :mod:`siting.model.rules`: link, area, budget (optional) and count rows."""
    asm.add_rows(define_link(cols.x_site, cols.n_sites))
    asm.add_rows(define_area(cols.x_site, rules.service_area[cols.x_service], sites.floor_area))
    if budget:
        fit, retro = plan_cost_vector(cols, sites, rules)
        asm.add_rows(define_budget(fit, retro, rules.budget))
    counts = define_site_counts(cols.x_service, rules.min_sites, rules.max_sites)
    if counts.n_rows:
        asm.add_rows(counts)


def covering_skeleton(coverage: Coverage, sites: SiteData, rules: PlanningRules, *,
                      budget: bool = True) -> tuple[Assembler, SiteColumns, CoverRows]:
    """The part every covering formulation shares: columns ``x``, ``y``, ``z``, the cover rows
    ``z_r ≤ Σ_{k ∈ N(r)} x_k`` and the plan rules (the budget row unless ``budget`` is false).

    Returns
    -------
    asm, cols, rows
        The assembler (formulations add their columns, rows and objective), the (site, service)
        pairs and the coverage rows.
    """
    cols = site_columns(sites, rules, budget=budget)
    rows = cover_rows(coverage, cols)
    asm = Assembler()
    asm.columns("x", cols.n_pairs)
    asm.columns("y", cols.n_sites)
    asm.columns("z", rows.n_rows)
    asm.add("cover", {"z": sparse.identity(rows.n_rows, format="csr"), "x": -rows.R}, -np.inf, 0.0)
    add_site_rules(asm, cols, sites, rules, budget=budget)
    return asm, cols, rows


def plan_cost_vector(cols: SiteColumns, sites: SiteData, rules: PlanningRules) -> tuple[np.ndarray, np.ndarray]:
    """Cost coefficients of the ``x`` (fit-out) and ``y`` (retrofit) columns."""
    return column_costs(cols.x_site, cols.x_service, sites, rules), sites.retrofit_cost.astype(float)


@dataclass(frozen=True)
class ShareTarget:
    """A covered share that a plan must reach (a floor or a target), or that is maximised.

    Attributes
    ----------
    label
        What it is about, in planners' words (``elderly``, ``elderly_day_care/elderly``).
    pairs
        Indices of the (service, age group) coverage pairs pooled in the share.
    share
        The share to reach, between 0 and 1 (unused where the share is maximised).
    """

    label: str
    pairs: tuple[int, ...]
    share: float = 0.0


def share_terms(rows: CoverRows, targets: list[ShareTarget]) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Covered residents of each share as linear expressions of the coverage variables ``z``.

    ``covered_t = base_t + Σ_r coef[t, r] z_r`` counts the residents of the target's pooled
    (service, age group) pairs within reach; its share is ``covered_t / total_t``. Rows stay
    in residents (not divided by the total) so that their coefficients remain whole numbers.

    Returns
    -------
    tuple
        ``coef`` (targets × rows, csr), ``base`` and ``total`` per target.
    """
    P = rows.total.size
    T = len(targets)
    sizes = [len(t.pairs) for t in targets]
    cols = (np.concatenate([np.asarray(t.pairs, dtype=np.int64) for t in targets]) if targets
            else np.zeros(0, dtype=np.int64))
    G = sparse.csr_matrix((np.ones(int(sum(sizes))), (np.repeat(np.arange(T), sizes), cols)), shape=(T, P))
    coef = (G @ rows.residents.T.tocsc()).tocsr()
    return sparse.csr_matrix(coef), G @ rows.baseline, G @ rows.total


@dataclass(frozen=True)
class SitingModel:
    """A built siting model (fairness, least cost, capacitated) and how to read it.

    Attributes
    ----------
    milp
        The matrix model.
    cols
        The (site, service) pairs behind the ``x`` columns.
    rows
        The coverage rows behind the ``z`` columns.
    kind
        Which formulation.
    stats
        Model sizes.
    """

    milp: MilpModel
    cols: SiteColumns
    rows: CoverRows
    kind: str
    stats: dict[str, int] = field(default_factory=dict)

    def hosts(self, solution: np.ndarray) -> np.ndarray:
        """Boolean (sites × services) assignment read from a solution vector."""
        return self.cols.hosts(solution[self.milp.col_blocks["x"]])


def weighted_row_values(coverage: Coverage, rules: PlanningRules, rows: CoverRows) -> np.ndarray:
    """Objective weight of each coverage row: residents × age-group weight × service weight × need weight."""
    w = np.array([rules.service_weight[s] * rules.group_weight[g] for s, g in coverage.pairs])
    out: np.ndarray = (rows.weighted if rows.weighted is not None else rows.residents) @ w
    return out
