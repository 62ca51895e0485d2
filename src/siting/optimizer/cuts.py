"""The cuts of :mod:`siting.optimizer.cutting`: coverage rows and walks, in closed form, by groups.

* coverage rows (:class:`CoverCuts`; value ``Σ_r W_r min(1, (R x)_r)``, concave)::

      θ_h ≤ Σ_{r ∈ h, (R x̄)_r ≥ 1} W_r + Σ_k x_k Σ_{r ∈ h, (R x̄)_r < 1, r ∈ N(k)} W_r

* walks (:class:`RadiusCuts`; value ``Σ_c W_c min(f_c, min_{k open} d_ck)``, convex), with
  ``D_c`` the distance at which the pairs nearest to ``c`` first add up to one at ``x̄``::

      θ_h ≥ Σ_{c ∈ h} W_c (D_c − Σ_{k : d_ck < D_c} (D_c − d_ck) x_k)

Each is exact at ``x̄`` and valid at every other point (the value is concave, resp. convex,
and the cut is its supporting hyperplane there). Rows and customers are grouped by
neighbourhood (:func:`neighbourhood_order`, :func:`chunk`): one ``θ`` per group.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy import sparse


class CutOracle(Protocol):
    """Cuts of one family of groups: the value of each group at a point and a cut exact there."""

    @property
    def n_groups(self) -> int:
        """Number of groups (``θ`` columns)."""
        ...

    @property
    def upper(self) -> bool:
        """``True``: the cuts bound ``θ`` from above (a concave value); ``False``: from below (convex).

        A property of the value, not of the master's sense: least cost minimises a cost while its
        coverage ``θ`` is still cut from above.
        """
        ...

    def cuts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, sparse.csr_matrix]:
        """At column values ``x``: each group's value, and its cut ``θ_h (≤ or ≥) const_h + coef_h · x``."""
        ...


def neighbourhood_order(R: sparse.csr_matrix, n_columns: int, x_site: np.ndarray, n_sites: int) -> np.ndarray:
    """A position for every row along the sites ordered by overlap (reverse Cuthill–McKee), 0..1."""
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    to_site = sparse.csr_matrix((np.ones(n_columns), (np.arange(n_columns), x_site)), shape=(n_columns, n_sites))
    S = sparse.csr_matrix(R, dtype=np.float64) @ to_site
    S.data[:] = 1.0
    stride = int(S.nnz // 2_000_000) + 1
    sample = S[::stride]
    graph = (sample.T @ sample).tocsr()
    order = reverse_cuthill_mckee(graph, symmetric_mode=True)
    pos = np.empty(n_sites)
    pos[order] = np.arange(n_sites) / max(n_sites - 1, 1)
    counts = np.maximum(np.asarray(S.getnnz(axis=1)), 1)
    out: np.ndarray = (S @ pos) / counts
    return out


def chunk(position: np.ndarray, weight: np.ndarray, key: np.ndarray, per_key: int) -> np.ndarray:
    """Group index of each item: per ``key``, cut into ``per_key`` chunks of equal weight along ``position``."""
    out = np.zeros(position.size, dtype=np.int64)
    base = 0
    for k in np.unique(key):
        idx = np.flatnonzero(key == k)
        order = idx[np.lexsort((idx, position[idx]))]
        w = np.maximum(weight[order], 0.0)
        cum = np.cumsum(w) / max(float(w.sum()), 1e-300)
        n = int(min(per_key, idx.size))
        g = np.minimum((cum * n - 1e-12).astype(np.int64), n - 1) if n > 0 else np.zeros(idx.size, dtype=np.int64)
        g = np.maximum(g, 0)
        out[order] = base + g
        base += n
    return out


class CoverCuts:
    """Coverage-row groups: ``Σ_{r ∈ h} W_r min(1, (R x)_r)`` per group (module docstring).

    Parameters
    ----------
    R
        csr (rows × columns): the columns covering each row.
    weight
        (rows,): each row's weight in its group.
    group
        (rows,): each row's group, ``0 .. n_groups - 1``.
    n_groups
        Number of groups.
    """

    def __init__(self, R: sparse.csr_matrix, weight: np.ndarray, group: np.ndarray, n_groups: int) -> None:
        self.R = sparse.csr_matrix(R, dtype=np.float64)
        self.weight = np.asarray(weight, dtype=float)
        self.group = np.asarray(group, dtype=np.int64)
        self._n = int(n_groups)

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return self._n

    @property
    def upper(self) -> bool:
        """Coverage is concave: its cuts bound ``θ`` from above."""
        return True

    def cuts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, sparse.csr_matrix]:
        """Values, constants and coefficients at ``x`` (an upper cut: ``θ_h ≤ const + coef · x``)."""
        cov = self.R @ x
        value = np.bincount(self.group, weights=self.weight * np.minimum(cov, 1.0), minlength=self._n)
        full = cov >= 1.0 - 1e-9
        const = np.bincount(self.group, weights=self.weight * full, minlength=self._n)
        wu = np.where(full, 0.0, self.weight)
        keep = np.flatnonzero(wu != 0)
        G = sparse.csr_matrix((wu[keep], (self.group[keep], keep)), shape=(self._n, self.R.shape[0]))
        return value, const, (G @ self.R).tocsr()


class RadiusCuts:
    """Walking groups: ``Σ_{c ∈ h} W_c min(f_c, min_{k open} d_ck)`` per group (module docstring).

    Parameters
    ----------
    customer, column, metres
        One entry per recorded walk, sorted by customer then metres (customers ``0 .. C-1``).
    weight, fallback
        Per customer: weighted minutes per metre, and the walk without new facilities.
    group
        Per customer: its group.
    n_groups, n_columns
        Sizes.
    """

    def __init__(self, customer: np.ndarray, column: np.ndarray, metres: np.ndarray, weight: np.ndarray,
                 fallback: np.ndarray, group: np.ndarray, n_groups: int, n_columns: int) -> None:
        self.customer, self.column, self.metres = customer, column, metres
        self.weight = np.asarray(weight, dtype=float)
        self.fallback = np.asarray(fallback, dtype=float)
        self.group = np.asarray(group, dtype=np.int64)
        self._n, self.K = int(n_groups), int(n_columns)
        n = customer.size
        self.first = np.r_[True, customer[1:] != customer[:-1]] if n else np.zeros(0, dtype=bool)
        self.start = np.flatnonzero(self.first)
        self.entry_start = self.start[np.cumsum(self.first) - 1] if n else np.zeros(0, dtype=np.int64)

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return self._n

    @property
    def upper(self) -> bool:
        """Walking time is convex: its cuts bound ``θ`` from below."""
        return False

    def radius(self, x: np.ndarray) -> np.ndarray:
        """Per customer, ``D_c``: the distance at which its nearest pairs first add up to one (else ``f_c``)."""
        C = self.fallback.size
        cum = np.cumsum(x[self.column])
        before = np.where(self.entry_start > 0, cum[np.maximum(self.entry_start - 1, 0)], 0.0)
        reach = cum - before >= 1.0 - 1e-9
        D = self.fallback.copy()
        hit = np.flatnonzero(reach)
        if hit.size:  # the first entry of each customer where the pairs add up to one
            cust = self.customer[hit]
            firsts = np.r_[True, cust[1:] != cust[:-1]]
            D[cust[firsts]] = np.minimum(self.metres[hit[firsts]], self.fallback[cust[firsts]])
        return D[:C]

    def cuts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, sparse.csr_matrix]:
        """Values, constants and coefficients at ``x`` (a lower cut: ``θ_h ≥ const + coef · x``)."""
        D = self.radius(x)
        c = self.customer
        below = self.metres < D[c]
        amount = np.where(below, D[c] - self.metres, 0.0) * self.weight[c]
        const = np.bincount(self.group, weights=self.weight * D, minlength=self._n)
        keep = np.flatnonzero(amount > 0)
        coef = sparse.csr_matrix((-amount[keep], (self.group[c[keep]], self.column[keep])), shape=(self._n, self.K))
        coef.sum_duplicates()
        value = const + coef @ x
        return value, const, coef


__all__ = ["CoverCuts", "CutOracle", "RadiusCuts", "chunk", "neighbourhood_order"]
