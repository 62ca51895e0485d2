"""Marginal values of (site, service) columns for the greedy of each objective (:mod:`siting.optimizer.greedy`).

Each oracle keeps the state of the plan being built in arrays over the model's own rows and
computes the gain of every column with one or two sparse products per call:

- :class:`RowGains` — coverage rows with weights per lexicographic level and, for services with
  a capacity, the residents each facility can serve: a column's gain is the weight of the
  residents it reaches not yet served, scaled down to its capacity when it reaches more (an
  estimate: the residents a facility takes are spread over the rows it reaches). Weighted
  coverage, the capacitated objective and the standards' basic and quality stages;
- :class:`GapGains` — the standards' gaps: community × service gaps a column closes, a service
  the district lacks altogether counting more than all gaps together;
- :class:`StackedGains` — several oracles as successive levels (gaps, then basic, then quality);
- :class:`ShareGains` — shares of residents per group: the smallest share first (fairness:
  max-min), or the targets still short (least cost, :meth:`satisfied` once every target is met);
- :class:`WalkGains` — walking time saved (the p-median), over the recorded (demand point,
  service, site) walks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from siting.optimizer.greedy import Gains


class RowGains:
    """Weighted residents of coverage rows reached and not yet served, within each column's capacity.

    Parameters
    ----------
    R
        csr (rows × columns): the columns that reach each row.
    weights
        (levels × rows): weight of a whole row at each level.
    residents
        Residents of each row (for capacities).
    capacity
        Residents one facility of each column serves (``inf``: not capacity-limited).
    """

    def __init__(self, R: sparse.csr_matrix, weights: np.ndarray, residents: np.ndarray,
                 capacity: np.ndarray) -> None:
        self.R = sparse.csr_matrix(R, dtype=np.float64)
        self.RT = self.R.T.tocsr()
        self.W = np.atleast_2d(np.asarray(weights, dtype=float))
        self.N = np.asarray(residents, dtype=float)
        self.cap = np.asarray(capacity, dtype=float)
        self.left = np.ones(self.R.shape[0])  # share of each row's residents not yet served

    def _factor(self) -> np.ndarray:
        reach = self.RT @ (self.N * self.left)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(np.isfinite(self.cap), np.minimum(1.0, self.cap / np.maximum(reach, 1e-300)), 1.0)
        return np.asarray(f)

    def gains(self) -> np.ndarray:
        """(levels × columns) weight of the residents each column would serve."""
        out: np.ndarray = (self.RT @ (self.W * self.left[None, :]).T).T * self._factor()[None, :]
        return out

    def add(self, column: int) -> None:
        """The column serves its share of every row it reaches."""
        f = float(self._factor_of(column))
        rows = self.RT.indices[self.RT.indptr[column]:self.RT.indptr[column + 1]]
        self.left[rows] *= 1.0 - f

    def _factor_of(self, column: int) -> float:
        if not np.isfinite(self.cap[column]):
            return 1.0
        rows = self.RT.indices[self.RT.indptr[column]:self.RT.indptr[column + 1]]
        reach = float((self.N[rows] * self.left[rows]).sum())
        return min(1.0, float(self.cap[column]) / reach) if reach > 0 else 1.0

    def satisfied(self) -> bool:
        """Never: the greedy goes on while a gain is positive."""
        return False


class GapGains:
    """Community × service gaps closed (a service the whole district lacks counting more than every gap).

    Parameters
    ----------
    reach
        csr (gaps × columns): the columns that close each gap.
    lacking
        csr (services lacking × gaps): the gaps of each service no resident reaches yet.
    """

    def __init__(self, reach: sparse.csr_matrix, lacking: sparse.csr_matrix) -> None:
        self.reachT = sparse.csr_matrix(reach, dtype=np.float64).T.tocsr()
        self.lacking = sparse.csr_matrix(lacking, dtype=np.float64)
        self.open = np.ones(reach.shape[0])  # gaps not yet closed
        self.big = float(reach.shape[0] + 1)

    def gains(self) -> np.ndarray:
        """(1 × columns): gaps each column closes, plus ``big`` per service it brings to the district."""
        absent = (self.lacking @ (1.0 - self.open)) < 0.5  # services still absent
        gap_weight = self.open + self.big * (self.lacking.T @ absent.astype(float)) * self.open
        out: np.ndarray = (self.reachT @ gap_weight)[None, :]
        return out

    def add(self, column: int) -> None:
        """The gaps the column closes are closed."""
        self.open[self.reachT.indices[self.reachT.indptr[column]:self.reachT.indptr[column + 1]]] = 0.0

    def satisfied(self) -> bool:
        """Never."""
        return False


class StackedGains:
    """Several oracles as successive lexicographic levels."""

    def __init__(self, parts: Sequence[Gains]) -> None:
        self.parts = list(parts)

    def gains(self) -> np.ndarray:
        """Every part's levels, in order."""
        return np.vstack([p.gains() for p in self.parts])

    def add(self, column: int) -> None:
        """Tell every part."""
        for p in self.parts:
            p.add(column)

    def satisfied(self) -> bool:
        """Never."""
        return False


class ShareGains:
    """Covered shares of groups of residents: the smallest first (fairness), or the targets still short.

    Parameters
    ----------
    R
        csr (rows × columns): the columns that cover each row.
    residents
        csr (rows × shares): residents of each share in each row (newly covered when the row is).
    base, total
        Residents already covered and all residents, per share.
    need
        Residents each share must reach (least cost); ``None`` for max-min.
    weight
        Optional weight of each row for a second level (the weighted coverage among fairest plans).
    """

    def __init__(self, R: sparse.csr_matrix, residents: sparse.csr_matrix, base: np.ndarray, total: np.ndarray,
                 *, need: np.ndarray | None = None, weight: np.ndarray | None = None) -> None:
        self.R = sparse.csr_matrix(R, dtype=np.float64)
        self.RT = self.R.T.tocsr()
        self.P = sparse.csr_matrix(residents, dtype=np.float64)
        self.total = np.maximum(np.asarray(total, dtype=float), 1e-300)
        self.covered = np.asarray(base, dtype=float).copy()
        self.need = None if need is None else np.asarray(need, dtype=float)
        self.weight = weight
        self.open = np.ones(self.R.shape[0])  # rows not yet covered
        self.reached = np.asarray((self.RT @ self.P).toarray())  # columns × shares, uncovered rows only
        self.weighted = None if weight is None else np.asarray(self.RT @ weight)

    def gains(self) -> np.ndarray:
        """(levels × columns): share gained where it matters most; then (fairness) weighted coverage."""
        delta = self.reached / self.total[None, :]
        if self.need is not None:
            short = np.maximum(self.need - self.covered, 0.0) / self.total
            level0 = np.minimum(delta, short[None, :]).sum(axis=1)
            return np.asarray(level0[None, :])
        share = self.covered / self.total
        focus = (share <= share.min() + 1e-3).astype(float)  # the groups at (or near) the smallest share
        levels = [delta @ focus, delta @ np.exp(-50.0 * (share - share.min()))]
        if self.weighted is not None:
            levels.append(self.weighted)
        return np.vstack(levels)

    def add(self, column: int) -> None:
        """The rows the column reaches are covered (the gains of the columns reaching them drop)."""
        rows = self.RT.indices[self.RT.indptr[column]:self.RT.indptr[column + 1]]
        rows = rows[self.open[rows] > 0]
        if rows.size == 0:
            return
        self.covered += np.asarray(self.P[rows].sum(axis=0)).ravel()
        self.open[rows] = 0.0
        sub = self.R[rows]
        self.reached -= np.asarray((sub.T @ self.P[rows]).toarray())
        if self.weighted is not None and self.weight is not None:
            self.weighted = self.weighted - sub.T @ self.weight[rows]

    def satisfied(self) -> bool:
        """Every target met (least cost); never for max-min."""
        return self.need is not None and bool((self.covered >= self.need - 1e-9).all())


class WalkGains:
    """Weighted walking minutes saved: each walk drops to the new facility when it is nearer.

    Parameters
    ----------
    customer, column, metres, weight
        One entry per recorded walk: the (demand point, service) it belongs to, the column (a
        site hosting that service), the metres and the weighted minutes per metre of the walk.
    fallback
        Metres each customer walks without new facilities (nearest existing, or the cutoff).
    n_columns
        Number of columns.
    """

    def __init__(self, customer: np.ndarray, column: np.ndarray, metres: np.ndarray, weight: np.ndarray,
                 fallback: np.ndarray, n_columns: int) -> None:
        order = np.argsort(column, kind="stable")
        self.customer, self.column = customer[order], column[order]
        self.metres, self.weight = metres[order], weight[order]
        self.start = np.searchsorted(self.column, np.arange(n_columns + 1))
        self.current = np.asarray(fallback, dtype=float).copy()
        self.n = n_columns

    def gains(self) -> np.ndarray:
        """(1 × columns) weighted minutes each column would save."""
        saved = self.weight * np.maximum(self.current[self.customer] - self.metres, 0.0)
        return np.bincount(self.column, weights=saved, minlength=self.n)[None, :]

    def add(self, column: int) -> None:
        """The customers of the column walk to it where it is nearer."""
        lo, hi = self.start[column], self.start[column + 1]
        c = self.customer[lo:hi]
        self.current[c] = np.minimum(self.current[c], self.metres[lo:hi])

    def satisfied(self) -> bool:
        """Never."""
        return False


__all__ = ["GapGains", "RowGains", "ShareGains", "StackedGains", "WalkGains"]
