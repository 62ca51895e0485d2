"""p-median, capacitated or not: open p sites, assign every demand point, minimise total cost.

Formulation (matrix form, solver-agnostic)::

    minimise    Σ_(i,j) w_i d_ij x_ij  +  Σ_i w_i U u_i       weighted walking cost (+ unserved)
    subject to  Σ_j x_ij + u_i = 1                 for every demand point i   (assign)
                x_ij ≤ y_j                         for every allowed pair    (link)
                Σ_j y_j = p                        (or ≤ p)                   (count)
                Σ_i q_i x_ij ≤ Q_j y_j             for every site j           (capacity, optional)
                Σ_j Q_j y_j ≥ Σ_i q_i              (capacity cover, implied, tightens the LP)
                Σ_j c_j y_j ≤ B                    (budget, optional)
                y ∈ {0, 1};  x ∈ {0, 1} when capacitated (single sourcing), else 0 ≤ x ≤ 1;
                u ∈ [0, 1] only when an unserved cost U is given (else u is absent)

Only the allowed pairs ``(i, j)`` get a column: all pairs for a dense cost matrix, the
listed ones for a sparse one (e.g. pairs within walking reach). In the capacitated case a
pair whose demand exceeds the site's capacity is dropped, since it can never be used. The
uncapacitated model keeps ``x`` continuous: for fixed open sites every demand point goes to
its nearest open site, so an integral optimum exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from siting.model.milp import MilpModel, Sense


@dataclass(frozen=True)
class PMedianModel:
    """A built p-median model and what is needed to read its solution.

    Attributes
    ----------
    milp
        The matrix model.
    pair_demand, pair_site
        Demand point and site of each assignment column ``x``.
    n_demand, n_sites
        Sizes.
    stats
        Model sizes, for logs and benchmarks.
    """

    milp: MilpModel
    pair_demand: np.ndarray
    pair_site: np.ndarray
    n_demand: int
    n_sites: int
    stats: dict[str, int] = field(default_factory=dict)

    def open_sites(self, solution: np.ndarray) -> np.ndarray:
        """Boolean per site: opened."""
        out: np.ndarray = solution[self.milp.col_blocks["y"]] > 0.5
        return out

    def assignment(self, solution: np.ndarray) -> np.ndarray:
        """Per demand point, the site it is assigned to (largest share), or -1 when unserved."""
        x = solution[self.milp.col_blocks["x"]]
        best = np.full(self.n_demand, -1, dtype=np.int64)
        share = np.zeros(self.n_demand)
        order = np.argsort(x, kind="stable")
        best[self.pair_demand[order]] = self.pair_site[order]  # the largest share is written last
        share[self.pair_demand[order]] = x[order]
        best[share <= 0.5] = -1
        return best


def pmedian_pairs(cost: np.ndarray | sparse.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Allowed pairs of a cost matrix: every entry of a dense one, the stored entries of a sparse one.

    A sparse matrix keeps explicit zeros (a demand point at the site itself costs 0).
    """
    if sparse.issparse(cost):
        coo = sparse.coo_matrix(cost)
        order = np.lexsort((coo.col, coo.row))
        return (coo.row[order].astype(np.int64), coo.col[order].astype(np.int64),
                np.asarray(coo.data[order], dtype=float), coo.shape[0], coo.shape[1])
    dense = np.asarray(cost, dtype=float)
    n, m = dense.shape
    i, j = np.divmod(np.arange(n * m, dtype=np.int64), m)
    return i, j, dense.ravel(), n, m


def build_pmedian_model(cost: np.ndarray | sparse.spmatrix, p: int | None, *, weight: np.ndarray | None = None,
                        exactly_p: bool = True, capacity: np.ndarray | None = None,
                        demand: np.ndarray | None = None, open_cost: np.ndarray | None = None,
                        budget: float | None = None, unserved_cost: float | None = None,
                        force_open: np.ndarray | None = None,
                        force_closed: np.ndarray | None = None) -> PMedianModel:
    """Build the (capacitated) p-median model (see the module docstring).

    Parameters
    ----------
    cost
        Demand × site assignment cost ``d_ij`` (walking time or distance): dense (every pair
        allowed) or sparse (only the stored pairs allowed).
    p
        Number of sites to open (``None``: no count constraint).
    weight
        Weight ``w_i`` of each demand point (default 1).
    exactly_p
        Open exactly ``p`` sites (default) or at most ``p``.
    capacity, demand
        Site capacities ``Q_j`` and demands ``q_i``: both or neither. Given, every demand point
        is assigned whole to one site (single sourcing) within capacity.
    open_cost, budget
        Cost of opening each site and the budget: both or neither.
    unserved_cost
        Cost ``U`` per unit weight of leaving a demand point unassigned (default: every point
        must be assigned).
    force_open, force_closed
        Boolean per site: must / must not open.

    Returns
    -------
    PMedianModel
        The matrix model with what is needed to decode it.
    """
    pi, pj, d, n, m = pmedian_pairs(cost)
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
    if (capacity is None) != (demand is None):
        raise ValueError("give both capacity and demand, or neither")
    if (open_cost is None) != (budget is None):
        raise ValueError("give both open_cost and budget, or neither")
    capacitated = capacity is not None and demand is not None
    if capacitated:
        q = np.asarray(demand, dtype=float)
        Q = np.asarray(capacity, dtype=float)
        fits = q[pi] <= Q[pj] + 1e-9
        pi, pj, d = pi[fits], pj[fits], d[fits]
    K = pi.size
    with_u = unserved_cost is not None
    nu = n if with_u else 0
    n_cols = K + m + nu
    xs, ys, us = slice(0, K), slice(K, K + m), slice(K + m, n_cols)
    rows: list[sparse.csr_matrix] = []
    lower: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    names: list[tuple[str, int]] = []

    def add(name: str, block: sparse.spmatrix, lo: np.ndarray, hi: np.ndarray) -> None:
        rows.append(sparse.csr_matrix(block))
        lower.append(lo)
        upper.append(hi)
        names.append((name, block.shape[0]))

    kk = np.arange(K)
    # assign: Σ_j x_ij + u_i = 1
    assign = sparse.csr_matrix((np.ones(K), (pi, kk)), shape=(n, n_cols))
    if with_u:
        assign = assign + sparse.csr_matrix((np.ones(n), (np.arange(n), K + m + np.arange(n))), shape=(n, n_cols))
    add("assign", assign, np.ones(n), np.ones(n))
    # link: x_ij - y_j ≤ 0
    link = sparse.csr_matrix((np.concatenate([np.ones(K), -np.ones(K)]),
                              (np.concatenate([kk, kk]), np.concatenate([kk, K + pj]))), shape=(K, n_cols))
    add("link", link, np.full(K, -np.inf), np.zeros(K))
    if p is not None:
        count = sparse.csr_matrix((np.ones(m), (np.zeros(m, dtype=np.int64), K + np.arange(m))), shape=(1, n_cols))
        add("count", count, np.array([float(p) if exactly_p else -np.inf]), np.array([float(p)]))
    if capacitated:
        cap = sparse.csr_matrix((np.concatenate([q[pi], -Q]), (np.concatenate([pj, np.arange(m)]),
                                                               np.concatenate([kk, K + np.arange(m)]))),
                                shape=(m, n_cols))
        add("capacity", cap, np.full(m, -np.inf), np.zeros(m))
        cover = sparse.csr_matrix((Q, (np.zeros(m, dtype=np.int64), K + np.arange(m))), shape=(1, n_cols))
        add("capacity_cover", cover, np.array([float(q.sum()) if not with_u else -np.inf]), np.array([np.inf]))
    if open_cost is not None and budget is not None:
        bud = sparse.csr_matrix((np.asarray(open_cost, dtype=float), (np.zeros(m, dtype=np.int64),
                                                                       K + np.arange(m))), shape=(1, n_cols))
        add("budget", bud, np.array([-np.inf]), np.array([float(budget)]))
    A = sparse.vstack(rows, format="csr")
    row_blocks, r0 = {}, 0
    for name, size in names:
        row_blocks[name] = slice(r0, r0 + size)
        r0 += size
    objective = np.zeros(n_cols)
    objective[xs] = w[pi] * d
    if with_u:
        objective[us] = w * float(unserved_cost)  # type: ignore[arg-type]
    col_lower = np.zeros(n_cols)
    col_upper = np.ones(n_cols)
    if force_open is not None:
        col_lower[ys] = np.asarray(force_open, dtype=float)
    if force_closed is not None:
        col_upper[ys] = np.where(np.asarray(force_closed, dtype=bool), 0.0, 1.0)
    integer = np.zeros(n_cols, dtype=bool)
    integer[ys] = True
    if capacitated:
        integer[xs] = True
    milp = MilpModel(
        name="capacitated p-median" if capacitated else "p-median",
        sense=Sense.MINIMIZE, objective=objective, A=A,
        row_lower=np.concatenate(lower), row_upper=np.concatenate(upper),
        col_lower=col_lower, col_upper=col_upper, integer=integer,
        col_blocks={"x": xs, "y": ys, "u": us}, row_blocks=row_blocks)
    stats = {"pairs": K, "sites": m, "demand_points": n, "rows": milp.n_rows, "nonzeros": int(A.nnz)}
    return PMedianModel(milp, pi, pj, n, m, stats)
