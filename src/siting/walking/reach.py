"""Sparse origin → destination walking distances with a cutoff, and the straight-line mode."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class Reach:
    """Walking distances from demand points to destinations, below a cutoff.

    Stored as triplets so that a zero distance (a resident living in the building itself) is
    kept, which a sparse matrix would silently drop; the builders here keep them sorted by
    (origin, destination), one entry per pair.

    Attributes
    ----------
    origin, destination
        Index of the demand point and of the destination (site or existing facility).
    metres
        Flat-equivalent walking metres (time × flat speed).
    shape
        (number of demand points, number of destinations).
    cutoff_m
        Pairs further than this were not recorded.
    """

    origin: np.ndarray
    destination: np.ndarray
    metres: np.ndarray
    shape: tuple[int, int]
    cutoff_m: float

    def within(self, metres: float) -> sparse.csr_matrix:
        """Boolean demand × destination matrix of pairs within ``metres``.

        The pairs are stored sorted by (origin, destination), so the matrix is assembled
        directly from arrays, without a sort.
        """
        if metres > self.cutoff_m * (1 + 1e-12):
            raise ValueError(f"asked for {metres:.1f} m but distances were cut at {self.cutoff_m:.1f} m")
        keep = self.metres <= metres
        origin, destination = self.origin[keep], self.destination[keep]
        if origin.size > 1 and not (np.all(origin[1:] >= origin[:-1])):
            order = np.lexsort((destination, origin))
            origin, destination = origin[order], destination[order]
        n = self.shape[0]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(origin, minlength=n), out=indptr[1:])
        out = sparse.csr_matrix((np.ones(int(indptr[-1]), dtype=bool), destination, indptr),
                                shape=self.shape)
        out.has_sorted_indices = bool(np.all(np.diff(destination)[np.diff(origin) == 0] > 0))
        return out

    def columns(self, start: int, stop: int) -> Reach:
        """The pairs whose destination lies in ``start:stop``, renumbered from 0."""
        keep = (self.destination >= start) & (self.destination < stop)
        return Reach(self.origin[keep], self.destination[keep] - start, self.metres[keep],
                     (self.shape[0], stop - start), self.cutoff_m)

    @property
    def nnz(self) -> int:
        """Number of recorded pairs."""
        return int(self.metres.size)


def euclidean_reach(origins: np.ndarray, destinations: np.ndarray, *, detour: float,
                    cutoff_m: float) -> Reach:
    """Straight-line distance × detour factor, for data without a walking network.

    Parameters
    ----------
    origins, destinations
        Coordinates in metres, shapes (n, 2) and (m, 2).
    detour
        Ratio of walking distance to straight-line distance (1.3 is a common urban figure).
    cutoff_m
        Longest walking distance to record.

    Returns
    -------
    Reach
        Pairs within ``cutoff_m`` walking metres.
    """
    n, m = len(origins), len(destinations)
    if n == 0 or m == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Reach(empty, empty, np.zeros(0), (n, m), cutoff_m)
    d = cKDTree(origins).sparse_distance_matrix(cKDTree(destinations), cutoff_m / detour,
                                               output_type="ndarray")
    # the 'ndarray' output keeps pairs at distance zero (a sparse matrix would drop them)
    o = d["i"].astype(np.int64)
    t = d["j"].astype(np.int64)
    metres = d["v"] * detour
    order = np.argsort(o * m + t)  # pairs are unique: one key each
    return Reach(o[order], t[order], metres[order], (n, m), cutoff_m)
