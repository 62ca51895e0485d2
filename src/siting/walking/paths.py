"""Shortest walks from many demand points to many destinations, below a cutoff; never all pairs.

The search runs backwards from each destination (site or existing facility) over the
reversed graph, so that every recorded distance is walked from the demand point to the
destination, uphill and downhill as a resident would. A destination enters the graph as an
extra node, the source of its search, joined to the ends of its edge. Demand points stay out
of the graph (so no walk passes through a building, and the searches settle street nodes
only): a demand point's walk is the least, over the one or two nodes it joins (the ends of
its edge), of the walk to that node plus the node's distance to the destination, read off
each search afterwards. A demand point and a destination on the same edge also get the
direct walk along it.

Speed comes from searching small graphs. Every arc costs at least its straight length
divided by a ratio computed from the data (at most about 1.19 for Tobler's function on true
lengths), so nothing further than ``cutoff × ratio`` in a straight line from a destination
can be reached within the cutoff. Destinations are taken in spatial order, in batches; each
batch searches only the part of the graph within that radius of the batch, with SciPy's
compiled Dijkstra and its ``limit``. Time and memory grow with the size of the walking
areas, not with the size of the district.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from siting.walking.network import WalkingNetwork, arcs_to_csr
from siting.walking.reach import Reach
from siting.walking.snapping import SnapMode, Snapping, morton_key, snap


def _attachment_arcs(snapped: Snapping, node_ids: np.ndarray, forward: np.ndarray, backward: np.ndarray,
                     u: np.ndarray, v: np.ndarray, *, towards_point: bool) -> tuple[np.ndarray, ...]:
    """Arcs joining points to the network, in the direction of walking.

    ``towards_point`` gives arcs network → point (walking to a destination), otherwise
    point → network (walking away from a demand point). Returns ``(point, node, cost)``.
    """
    ok = np.flatnonzero(~snapped.too_far)
    on_edge = snapped.edge[ok] >= 0
    pe, pn = ok[on_edge], ok[~on_edge]
    e = snapped.edge[pe]
    t = snapped.fraction[pe]
    off = snapped.offset_m[pe]
    if towards_point:  # walk u → point covers t of the edge forwards; v → point covers 1 - t backwards
        cost_u, cost_v = t * forward[e], (1.0 - t) * backward[e]
    else:  # point → u walks t of the edge backwards; point → v walks 1 - t forwards
        cost_u, cost_v = t * backward[e], (1.0 - t) * forward[e]
    point = np.concatenate([pe, pe, pn])
    node = np.concatenate([u[e], v[e], snapped.node[pn]])
    cost = np.concatenate([off + cost_u, off + cost_v, snapped.offset_m[pn]])
    return node_ids[point], node, cost


def _same_edge_pairs(so: Snapping, sd: Snapping, forward: np.ndarray, backward: np.ndarray,
                     cutoff_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct walks along one edge between a demand point and a destination snapped to it."""
    o = np.flatnonzero(so.edge >= 0)
    d = np.flatnonzero(sd.edge >= 0)
    if o.size == 0 or d.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0)
    pairs = pd.DataFrame({"e": so.edge[o], "i": o}).merge(pd.DataFrame({"e": sd.edge[d], "j": d}), on="e")
    i = pairs["i"].to_numpy(dtype=np.int64)
    j = pairs["j"].to_numpy(dtype=np.int64)
    e = pairs["e"].to_numpy(dtype=np.int64)
    dt = sd.fraction[j] - so.fraction[i]
    along = np.where(dt >= 0, dt * forward[e], -dt * backward[e])
    cost = so.offset_m[i] + along + sd.offset_m[j]
    keep = cost <= cutoff_m
    return i[keep], j[keep], cost[keep]


def _subgraph(graph: sparse.csr_matrix, idx: np.ndarray, local: np.ndarray) -> sparse.csr_matrix:
    """The graph induced by the sorted node list ``idx``; ``local`` maps every node of ``idx`` to its
    position (set by the caller) and every other node to -1."""
    starts, ends = graph.indptr[idx], graph.indptr[idx + 1]
    counts = ends - starts
    total = int(counts.sum())
    # positions of the selected rows' entries, without a Python loop over rows
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    pos = np.arange(total) + offsets
    cols = local[graph.indices[pos]]
    keep = cols >= 0
    row = np.repeat(np.arange(idx.size), counts)[keep]
    indptr = np.zeros(idx.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=idx.size), out=indptr[1:])
    return sparse.csr_matrix((graph.data[pos][keep], cols[keep], indptr), shape=(idx.size, idx.size))


def network_reach(network: WalkingNetwork, origins: np.ndarray, destinations: np.ndarray, *,
                  cutoff_m: float, slope: bool = True, stairs_factor: float = 2.0,
                  snap_limit_m: float = 250.0, snap_to: SnapMode = "edge",
                  chunk: int = 32) -> tuple[Reach, Snapping, Snapping]:
    """Walking distances from origins to destinations along the network, below a cutoff.

    Parameters
    ----------
    network
        The walking network.
    origins, destinations
        Coordinates in metres (demand points; sites or facilities).
    cutoff_m
        Longest flat-equivalent walk to record.
    slope, stairs_factor
        Tobler's slope factor on or off; time factor of stairs.
    snap_limit_m
        Points further than this from the network reach nothing and are reported.
    snap_to
        ``edge`` (nearest point of the nearest edge) or ``node`` (nearest node).
    chunk
        Destinations per batch: each batch is one Dijkstra call on one subgraph.

    Returns
    -------
    tuple
        The :class:`Reach` (flat-equivalent metres, off-network walks included), and the
        snapping of origins and of destinations.
    """
    origins = np.asarray(origins, dtype=float).reshape(-1, 2)
    destinations = np.asarray(destinations, dtype=float).reshape(-1, 2)
    n, m, nn = len(origins), len(destinations), network.n_nodes
    both = snap(network, np.concatenate([origins, destinations]), limit_m=snap_limit_m, to=snap_to)
    so, sd = both.part(0, n), both.part(n, n + m)  # one index of the edges for both
    empty = np.zeros(0, dtype=np.int64)
    if n == 0 or m == 0 or so.too_far.all() or sd.too_far.all():
        return Reach(empty, empty, np.zeros(0), (n, m), cutoff_m), so, sd
    forward, backward = network.directed_costs(slope=slope, stairs_factor=stairs_factor)
    dest_id = nn + np.arange(m)
    # reversed graph: an arc a → b here is the walk b → a; the demand points are not in it (below)
    d_pt, d_node, d_cost = _attachment_arcs(sd, dest_id, forward, backward, network.u, network.v,
                                            towards_point=True)
    si, sj, s_cost = (_same_edge_pairs(so, sd, forward, backward, cutoff_m) if snap_to == "edge"
                      else (empty, empty, np.zeros(0)))
    tail = np.concatenate([network.v, network.u, d_pt])
    head = np.concatenate([network.u, network.v, d_node])
    cost = np.concatenate([forward, backward, d_cost])
    total = nn + m
    graph = arcs_to_csr(tail, head, cost, total + 1)  # one more node, without arcs: see ``outside`` below
    xy = np.concatenate([network.xy, destinations])
    # how much faster than its straight length any arc can be walked (about 1.19 at most)
    straight = np.hypot(*(xy[graph.indices] - xy[np.repeat(np.arange(total), np.diff(graph.indptr[:-1]))]).T)
    ratio = max(1.0, float(np.max(straight / graph.data, initial=0.0)))
    radius = cutoff_m * ratio * (1 + 1e-9) + 1e-6
    tree = cKDTree(xy)
    # a demand point leaves the network through its attachment arcs (point → node, one or two): its
    # walk to a destination is the least of (node → destination) + (point → node) over them, read off
    # the search's node distances afterwards, so that the searches settle network nodes only
    o_pt, o_node, o_cost = _attachment_arcs(so, np.arange(n), forward, backward, network.u, network.v,
                                            towards_point=False)
    end_node = np.full((n, 2), -1, dtype=np.int64)  # per demand point: the one or two nodes it walks to
    end_cost = np.full((n, 2), np.inf)
    order = np.argsort(o_pt, kind="stable")
    pt = o_pt[order]
    second = np.r_[False, pt[1:] == pt[:-1]].astype(np.int64)
    end_node[pt, second] = o_node[order]
    end_cost[pt, second] = o_cost[order]
    placed = np.flatnonzero(~so.too_far)
    origin_tree = cKDTree(origins[placed])
    reach_of_point = radius + float(np.max(so.offset_m[placed], initial=0.0)) + 1e-6
    sources = np.flatnonzero(~sd.too_far)
    sources = sources[np.argsort(morton_key(destinations[sources], cutoff_m / 2), kind="stable")]
    # every search also holds the node without arcs (``outside``, the last): its distance is inf, and the
    # ends of a demand point outside the search's region (or a missing second end, -1) map to it
    outside = np.array([total])
    local = np.full(total + 1, -1, dtype=np.int64)
    # each destination's pairs come out as one run, its demand points in increasing order (``near`` is
    # sorted and ``np.nonzero`` reads row by row); ``_by_origin`` turns the runs round without a sort
    rows: list[np.ndarray] = [empty]
    cols: list[np.ndarray] = [empty]
    vals: list[np.ndarray] = [np.zeros(0)]
    for start in range(0, sources.size, chunk):
        batch = sources[start:start + chunk]
        pts = destinations[batch]
        centre = (pts.min(axis=0) + pts.max(axis=0)) / 2
        spread = float(np.max(np.hypot(*(pts - centre).T)))
        near = placed[np.asarray(origin_tree.query_ball_point(centre, spread + reach_of_point, return_sorted=True),
                                 dtype=np.int64)]
        if near.size == 0:
            continue
        idx = np.concatenate([np.sort(np.asarray(tree.query_ball_point(centre, spread + radius), dtype=np.int64)),
                              outside])
        local[idx] = np.arange(idx.size)
        sub = _subgraph(graph, idx, local)
        at = local[end_node[near]]  # a missing end (-1) reads local[-1], the position of ``outside``
        at[at < 0] = idx.size - 1  # an end outside the region
        local[idx] = -1
        src_local = np.searchsorted(idx, dest_id[batch])
        dist = csgraph.dijkstra(sub, directed=True, indices=src_local, limit=cutoff_m)
        # only points with an end that some destination of the batch reaches (about 40 % of ``near``)
        reached = np.isfinite(dist).any(axis=0)
        hit = np.flatnonzero(reached[at[:, 0]] | reached[at[:, 1]])
        at, near = at[hit], near[hit]
        walk = np.minimum(dist[:, at[:, 0]] + end_cost[near, 0], dist[:, at[:, 1]] + end_cost[near, 1])
        b, k = np.nonzero(walk <= cutoff_m)
        rows.append(near[k])
        cols.append(batch[b])
        vals.append(walk[b, k])
    o, t, metres = _by_origin(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), n, m)
    o, t, metres = _with_direct_walks(o, t, metres, si, sj, s_cost, m)
    return Reach(o, t, metres, (n, m), cutoff_m), so, sd


def _by_origin(origin: np.ndarray, destination: np.ndarray, metres: np.ndarray, n: int,
               m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs sorted by (origin, destination), from pairs in one run per destination with origins increasing.

    The runs are put in destination order (a column-compressed matrix) and the matrix is turned
    round by SciPy's compressed transpose, which keeps each row's columns in order: no comparison
    sort over the pairs. Distances of zero stay (explicit entries).
    """
    total = origin.size
    if total == 0:
        return origin, destination, metres
    starts = np.flatnonzero(np.r_[True, destination[1:] != destination[:-1]])
    lengths = np.diff(np.r_[starts, total])
    runs = np.argsort(destination[starts])
    take = np.repeat(starts[runs] - np.r_[0, np.cumsum(lengths[runs])[:-1]], lengths[runs]) + np.arange(total)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(destination, minlength=m), out=indptr[1:])
    rows = sparse.csc_matrix((metres[take], origin[take], indptr), shape=(n, m)).tocsr()
    return (np.repeat(np.arange(n), np.diff(rows.indptr)), rows.indices.astype(np.int64),
            np.asarray(rows.data, dtype=float))


def _with_direct_walks(origin: np.ndarray, destination: np.ndarray, metres: np.ndarray, si: np.ndarray,
                       sj: np.ndarray, s_metres: np.ndarray,
                       m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the direct walks along a shared edge to pairs sorted by (origin, destination).

    A pair walked both ways keeps the shorter walk; the result stays sorted, one entry per pair.
    """
    if si.size == 0:
        return origin, destination, metres
    key = origin * m + destination
    s_key = si * m + sj
    order = np.argsort(s_key)
    si, sj, s_metres, s_key = si[order], sj[order], s_metres[order], s_key[order]
    at = np.searchsorted(key, s_key)
    known = at < key.size
    known[known] = key[at[known]] == s_key[known]
    metres = metres.copy()
    metres[at[known]] = np.minimum(metres[at[known]], s_metres[known])
    new = ~known
    return (np.insert(origin, at[new], si[new]), np.insert(destination, at[new], sj[new]),
            np.insert(metres, at[new], s_metres[new]))


def isolated_origins(network: WalkingNetwork, so: Snapping, sd: Snapping) -> np.ndarray:
    """Origins on a part of the network that no destination is on (they can reach none).

    Returns
    -------
    numpy.ndarray
        Boolean over origins; points beyond the snapping limit are not counted here.
    """
    if network.n_edges == 0:
        return np.zeros(so.n_points, dtype=bool)
    adj = sparse.coo_matrix((np.ones(network.n_edges), (network.u, network.v)),
                            shape=(network.n_nodes, network.n_nodes))
    _, label = csgraph.connected_components(adj, directed=False)
    served = np.zeros(int(label.max()) + 1, dtype=bool)
    served[label[sd.node[~sd.too_far]]] = True
    out = np.zeros(so.n_points, dtype=bool)
    ok = ~so.too_far
    out[ok] = ~served[label[so.node[ok]]]
    return out
