"""Walking along a street network, with slope (Tobler) and stairs.

The network is directed when node elevations are given: walking uphill is slower than
walking down. Edge costs are flat-equivalent metres: ``length / tobler_factor(slope)``, or
``length × stairs_factor`` on stairs (OSM ``highway=steps``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from siting import io
from siting.errors import DataError, SitingError, raise_problems, where
from siting.walking.reach import Reach

TOBLER_FLAT = 6.0 * np.exp(-3.5 * 0.05)


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
    """A walking network in a metric CRS.

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

    def edge_cost(self, *, slope: bool, stairs_factor: float) -> sparse.csr_matrix:
        """Directed graph of flat-equivalent metres, both directions of every edge."""
        u = np.concatenate([self.u, self.v])
        v = np.concatenate([self.v, self.u])
        length = np.concatenate([self.length, self.length])
        cost = length.astype(float).copy()
        if slope and self.elevation is not None:
            rise = self.elevation[v] - self.elevation[u]
            grade = np.divide(rise, length, out=np.zeros_like(length, dtype=float), where=length > 0)
            cost = length / tobler_factor(grade)
        if self.stairs.size:
            st = np.concatenate([self.stairs, self.stairs])
            cost = np.where(st, length * stairs_factor, cost)
        # a zero-length edge would vanish from a sparse matrix: give it a millimetre
        cost = np.maximum(cost, 1e-3)
        # parallel edges: keep the cheapest (building a csr matrix directly would sum them)
        key = u * self.n_nodes + v
        order = np.lexsort((cost, key))
        first = np.ones(key.size, dtype=bool)
        first[1:] = key[order][1:] != key[order][:-1]
        keep = order[first]
        return sparse.csr_matrix((cost[keep], (u[keep], v[keep])), shape=(self.n_nodes, self.n_nodes))


@dataclass(frozen=True)
class Snapping:
    """How points were attached to the network.

    Attributes
    ----------
    node
        Nearest node of each point.
    offset_m
        Straight-line distance from the point to its node.
    too_far
        Points further than the snapping limit (they reach nothing).
    """

    node: np.ndarray
    offset_m: np.ndarray
    too_far: np.ndarray


def snap(network: WalkingNetwork, points: np.ndarray, *, limit_m: float) -> Snapping:
    """Attach points to their nearest network node."""
    if len(points) == 0:
        return Snapping(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=bool))
    dist, node = cKDTree(network.xy).query(points)
    return Snapping(node.astype(np.int64), dist, dist > limit_m)


def network_reach(network: WalkingNetwork, origins: np.ndarray, destinations: np.ndarray, *,
                  cutoff_m: float, slope: bool = True, stairs_factor: float = 2.0,
                  snap_limit_m: float = 250.0, chunk: int = 256) -> tuple[Reach, Snapping, Snapping]:
    """Walking distances from origins to destinations along the network, below a cutoff.

    One shortest-path pass per chunk of destination nodes on the reversed graph (so that the
    distances run origin → destination, uphill and downhill as walked), with a cutoff; never
    all pairs.

    Parameters
    ----------
    network
        The walking network.
    origins, destinations
        Coordinates in metres.
    cutoff_m
        Longest flat-equivalent walk to record.
    slope, stairs_factor
        Tobler's slope factor on or off; time factor of stairs.
    snap_limit_m
        Points further than this from any node reach nothing and are reported.
    chunk
        Destination nodes per shortest-path pass (bounds memory).

    Returns
    -------
    tuple
        The :class:`Reach`, and the snapping of origins and of destinations.
    """
    graph_t = network.edge_cost(slope=slope, stairs_factor=stairs_factor).T.tocsr()
    so = snap(network, origins, limit_m=snap_limit_m)
    sd = snap(network, destinations, limit_m=snap_limit_m)
    n, m = len(origins), len(destinations)
    ok_o = ~so.too_far
    o_idx = np.flatnonzero(ok_o)
    o_nodes = so.node[o_idx]
    ok_d = np.flatnonzero(~sd.too_far)
    src_nodes, inverse = np.unique(sd.node[ok_d], return_inverse=True)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for start in range(0, src_nodes.size, chunk):
        block = src_nodes[start:start + chunk]
        dist = csgraph.dijkstra(graph_t, directed=True, indices=block, limit=cutoff_m)
        at_origins = dist[:, o_nodes]  # (block, origins)
        members = np.flatnonzero((inverse >= start) & (inverse < start + block.size))
        for_dest = at_origins[inverse[members] - start]  # (destinations in block, origins)
        total = for_dest + so.offset_m[o_idx][None, :] + sd.offset_m[ok_d[members]][:, None]
        di, oi = np.nonzero(total <= cutoff_m)
        rows.append(o_idx[oi])
        cols.append(ok_d[members][di])
        vals.append(total[di, oi])
    o = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    t = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    metres = np.concatenate(vals) if vals else np.zeros(0)
    order = np.lexsort((t, o))
    return Reach(o[order], t[order], metres[order], (n, m), cutoff_m), so, sd


def read_network_csv(nodes_path: Path, edges_path: Path, *, crs: str | None,
                     to_crs: str) -> WalkingNetwork:
    """Read a walking network from CSV node and edge tables.

    Parameters
    ----------
    nodes_path
        Columns ``id``, ``lon``/``lat`` (or ``x``/``y`` with ``crs``), optional ``elevation_m``.
    edges_path
        Columns ``u``, ``v`` (node ids), optional ``highway`` (``steps`` marks stairs) and
        ``length_m`` (else the straight length between the nodes).
    crs
        CRS of ``x``/``y`` node coordinates.
    to_crs
        The district's metric CRS.
    """
    nodes, edges = (_read_network_table(p, role) for p, role in ((nodes_path, "network nodes"),
                                                                 (edges_path, "network edges")))
    problems: list[SitingError] = []
    if {"lon", "lat"} <= set(nodes.columns):
        src, xcol, ycol = CRS.from_epsg(4326), "lon", "lat"
    elif {"x", "y"} <= set(nodes.columns) and crs:
        src, xcol, ycol = CRS.from_user_input(crs), "x", "y"
    else:
        problems.append(DataError(f"{where(nodes_path, column='lon/lat')}: no coordinate columns (the file has "
                                  f"{list(nodes.columns)}); give 'lon'/'lat' (or 'x'/'y' with data.crs)"))
    io.require_columns(nodes, ["id"], nodes_path, problems)
    io.require_columns(edges, ["u", "v"], edges_path, problems)
    raise_problems(problems)
    xs = io.numeric(nodes, xcol, nodes_path, problems=problems, what="a coordinate")
    ys = io.numeric(nodes, ycol, nodes_path, problems=problems, what="a coordinate")
    length_in = (io.numeric(edges, "length_m", edges_path, minimum=0, problems=problems, what="a length in metres")
                 if "length_m" in edges.columns else None)
    index = pd.Index(nodes["id"].astype(str).str.strip())
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        problems.append(DataError(f"{where(nodes_path, column='id')}: duplicate node id {dup!r}; ids must be unique"))
    raise_problems(problems)
    tx = Transformer.from_crs(src, CRS.from_user_input(to_crs), always_xy=True)
    x, y = tx.transform(xs, ys)
    xy = np.column_stack([x, y])
    u = index.get_indexer(pd.Index(edges["u"].astype(str).str.strip()))
    v = index.get_indexer(pd.Index(edges["v"].astype(str).str.strip()))
    bad = np.flatnonzero((u < 0) | (v < 0))
    if bad.size:
        r = int(bad[0])
        raise DataError(f"{where(edges_path, 'u/v', r + 1)}: node id not in {nodes_path.name}; "
                        f"every edge must join two listed nodes ({bad.size} edges in all)")
    length = length_in if length_in is not None else np.hypot(*(xy[u] - xy[v]).T)
    elevation = (io.numeric(nodes, "elevation_m", nodes_path, what="an elevation in metres")
                 if "elevation_m" in nodes.columns else None)
    stairs = (edges["highway"].astype(str).str.strip().eq("steps").to_numpy()
              if "highway" in edges.columns else np.zeros(len(edges), dtype=bool))
    return WalkingNetwork(xy, elevation, u.astype(np.int64), v.astype(np.int64), length, stairs)


def _read_network_table(path: Path, role: str) -> pd.DataFrame:
    """A network CSV table as text columns; a :class:`DataError` when missing, empty or unreadable."""
    if not path.is_file():
        raise DataError(f"{role} file {path} not found; fix 'data.network' in the scenario")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"{role} file {path} is empty; a walking network needs nodes and edges") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as e:
        raise DataError(f"{role} file {path} is not a readable UTF-8 CSV table: {e}") from None
    table.columns = [str(c).strip() for c in table.columns]
    if table.empty:
        what = "no edges; a walking network needs streets" if role.endswith("edges") else "no nodes"
        raise DataError(f"{role} file {path} has {what}")
    return table
