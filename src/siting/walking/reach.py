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
    kept, which a sparse matrix would silently drop.

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
        """Boolean demand × destination matrix of pairs within ``metres``."""
        if metres > self.cutoff_m * (1 + 1e-12):
            raise ValueError(f"asked for {metres:.1f} m but distances were cut at {self.cutoff_m:.1f} m")
        keep = self.metres <= metres
        return sparse.csr_matrix(
            (np.ones(int(keep.sum()), dtype=bool), (self.origin[keep], self.destination[keep])),
            shape=self.shape,
        )

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
    order = np.lexsort((t, o))
    return Reach(o[order], t[order], metres[order], (n, m), cutoff_m)
