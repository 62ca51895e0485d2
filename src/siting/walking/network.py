"""A walking network in metres, with slope (Tobler) and stairs.

The network is directed when node elevations are given: walking uphill is slower than
walking down. Edge costs are flat-equivalent metres: ``length / tobler_factor(slope)``, or
``length × stairs_factor`` on stairs (OSM ``highway=steps``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

TOBLER_FLAT = 6.0 * np.exp(-3.5 * 0.05)
MIN_COST_M = 1e-6  # a zero-cost arc would vanish from a sparse matrix: give it a micrometre


def tobler_factor(slope: np.ndarray | float) -> np.ndarray:
    """Walking speed relative to flat ground, from Tobler's hiking function.

    ``v = 6 exp(-3.5 |s + 0.05|)`` km/h with ``s`` = rise / run, scaled so that ``s = 0``
    gives 1: a group's speed on flat ground is its own catalogue speed.

    Parameters
    ----------
    slope
        Rise over run in the direction of walking (negative downhill).
    """
    s = np.asarray(slope, dtype=float)
    return np.asarray(6.0 * np.exp(-3.5 * np.abs(s + 0.05)) / TOBLER_FLAT)


@dataclass(frozen=True)
class WalkingNetwork:
    """A walking network in a metric CRS; every edge is a straight segment.

    Attributes
    ----------
    xy
        Node coordinates in metres, shape (nodes, 2).
    elevation
        Node elevation in metres, or ``None`` when unknown (then the network is undirected).
    u, v
        Edge end nodes (indices into ``xy``); every edge can be walked both ways.
    length
        Horizontal edge length in metres.
    stairs
        True where the edge is a flight of stairs.
    """

    xy: np.ndarray
    elevation: np.ndarray | None
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    stairs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.xy)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.u)

    def directed_costs(self, *, slope: bool, stairs_factor: float) -> tuple[np.ndarray, np.ndarray]:
        """Flat-equivalent metres of every edge walked u → v and v → u.

        Parameters
        ----------
        slope
            Apply Tobler's slope factor (when elevations are known).
        stairs_factor
            Time factor of stairs, applied instead of the slope factor.

        Returns
        -------
        tuple of numpy.ndarray
            ``(forward, backward)``, each of shape (edges,).
        """
        length = np.asarray(self.length, dtype=float)
        forward = length.copy()
        backward = length.copy()
        if slope and self.elevation is not None:
            rise = self.elevation[self.v] - self.elevation[self.u]
            grade = np.divide(rise, length, out=np.zeros_like(length), where=length > 0)
            forward = length / tobler_factor(grade)
            backward = length / tobler_factor(-grade)
        if self.stairs.size:
            forward = np.where(self.stairs, length * stairs_factor, forward)
            backward = np.where(self.stairs, length * stairs_factor, backward)
        return forward, backward

    def edge_cost(self, *, slope: bool, stairs_factor: float) -> sparse.csr_matrix:
        """Directed graph of flat-equivalent metres, both directions of every edge."""
        forward, backward = self.directed_costs(slope=slope, stairs_factor=stairs_factor)
        tail = np.concatenate([self.u, self.v])
        head = np.concatenate([self.v, self.u])
        return arcs_to_csr(tail, head, np.concatenate([forward, backward]), self.n_nodes)


def arcs_to_csr(tail: np.ndarray, head: np.ndarray, cost: np.ndarray, n: int) -> sparse.csr_matrix:
    """A sparse graph from arcs, keeping the cheapest of parallel arcs (a plain build would sum them).

    Self-loops are dropped; costs are floored at a micrometre so that no arc vanishes.
    """
    tail = np.asarray(tail, dtype=np.int64)
    head = np.asarray(head, dtype=np.int64)
    cost = np.maximum(np.asarray(cost, dtype=float), MIN_COST_M)
    loop = tail == head
    if loop.any():
        tail, head, cost = tail[~loop], head[~loop], cost[~loop]
    keep, cost = unique_min(tail * n + head, cost)
    tail, head = tail[keep], head[keep]
    # sorted by (tail, head): build the csr arrays directly
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
    graph = sparse.csr_matrix((cost, head, indptr), shape=(n, n))
    graph.has_sorted_indices = True
    return graph


def unique_min(key: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort by ``key`` and keep one entry per key, with the smallest value.

    Returns
    -------
    tuple of numpy.ndarray
        Positions (into the inputs) of one entry per distinct key, in key order, and the
        smallest value of each key.
    """
    order = np.argsort(key)
    sorted_key = key[order]
    start = np.ones(key.size, dtype=bool)
    start[1:] = sorted_key[1:] != sorted_key[:-1]
    first = np.flatnonzero(start)
    sorted_value = value[order]
    if first.size == key.size:
        return order, sorted_value
    return order[first], np.minimum.reduceat(sorted_value, first)
