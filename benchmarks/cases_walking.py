"""Walking coverage at district scale: network distances and coverage matrices.

The work: demand points and candidate sites scattered over a jittered street grid with
hills (so the graph is directed) and some stairs; every demand point and site snapped to
its nearest edge; walking distances below a 15-minute cutoff at the fastest group's speed
(1,125 flat-equivalent metres); then the coverage matrices of the default catalogue (11
services, 3 age groups: children, working-age, elderly).

Compared side by side in one run, on the same graph and the same sites:

- ``siting``: :func:`siting.walking.network_reach` + :func:`siting.coverage.build_coverage`
  (the whole coverage build, snapping included);
- ``networkx``: one Dijkstra with cutoff per site on the same directed graph (distances to
  nodes only, no snapping, no coverage: less work than the whole build);
- ``scipy-full``: ``scipy.sparse.csgraph.dijkstra(limit=...)`` on the whole graph, in batches
  of 250 sites (its dense output for all sites at once would need sites × nodes × 8 bytes).
- ``siting before``, when ``SITING_BENCH_BEFORE`` names another checkout (a worktree of an
  earlier commit): the same whole build with that checkout's ``siting``, in a new process
  each repeat (one warm-up build, then one timed), alternating with the others.

Peak memory is the peak of Python-tracked allocations (NumPy arrays included) during the
build, measured in a separate pass from the timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from benchmarks.registry import ROOT, Context, Row, before_tree, case
from siting.coverage import build_coverage, walk_cutoff_m
from siting.data.catalogue import default_catalogue
from siting.data.district import Demand, District, Existing, Sites
from siting.walking import WalkingNetwork, network_reach

SPACING_M = 40.0


def grid_network(side: int, *, seed: int = 0) -> WalkingNetwork:
    """A jittered ``side × side`` street grid, 40 m apart, 8 % of links missing, hills and 2 % stairs."""
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([jj.ravel(), ii.ravel()]).astype(float) * SPACING_M
    xy += rng.uniform(-0.2 * SPACING_M, 0.2 * SPACING_M, xy.shape)
    idx = ii * side + jj
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.random(u.size) > 0.08
    u, v = u[keep].astype(np.int64), v[keep].astype(np.int64)
    elevation = 200 + 40 * np.sin(xy[:, 0] / 900.0) * np.cos(xy[:, 1] / 1300.0)
    return WalkingNetwork(xy, elevation, u, v, np.hypot(*(xy[u] - xy[v]).T), rng.random(u.size) < 0.02)


def district_on(network: WalkingNetwork, n_demand: int, n_sites: int, *, seed: int = 1) -> District:
    """Demand points and sites uniformly over the network's extent, all services allowed."""
    rng = np.random.default_rng(seed)
    cat = default_catalogue()
    lo, hi = network.xy.min(axis=0), network.xy.max(axis=0)
    groups = len(cat.group_keys)
    return District(
        "bench", "EPSG:32648",
        Demand(np.arange(n_demand).astype(str).astype(object), rng.uniform(lo, hi, (n_demand, 2)),
               rng.integers(0, 60, (n_demand, groups)).astype(float)),
        Sites(np.arange(n_sites).astype(str).astype(object), np.full(n_sites, "", dtype=object),
              np.full(n_sites, "", dtype=object), rng.uniform(lo, hi, (n_sites, 2)), np.full(n_sites, 2000.0),
              np.full(n_sites, 1e6), np.ones((n_sites, len(cat.service_keys)), dtype=bool)),
        Existing(np.array([], dtype=object), np.array([], dtype=object), np.zeros(0, dtype=np.int64),
                 np.zeros((0, 2))),
        cat.service_keys, cat.group_keys)


def coverage_build(network: WalkingNetwork, district: District) -> tuple[int, int]:
    """The whole coverage build; returns (pairs within the cutoff, nonzeros over all matrices)."""
    cat = default_catalogue()
    cutoff = walk_cutoff_m(cat)
    reach, _, _ = network_reach(network, district.demand.xy, district.sites.xy, cutoff_m=cutoff)
    cov = build_coverage(district, cat, reach, reach.columns(0, 0))
    return reach.nnz, sum(int(r.nnz) for r in cov.reach)


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = func()
    return time.perf_counter() - t, out


def peak_mb(func: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def networkx_seconds(network: WalkingNetwork, sources: np.ndarray, cutoff: float) -> float:
    """Per-source networkx Dijkstra with cutoff on the reversed graph (graph building not timed)."""
    import networkx as nx

    graph = network.edge_cost(slope=True, stairs_factor=2.0).T.tocsr().tocoo()
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(graph.row.tolist(), graph.col.tolist(), graph.data.tolist(), strict=True))
    t = time.perf_counter()
    for s in sources.tolist():
        nx.single_source_dijkstra_path_length(g, s, cutoff=cutoff, weight="weight")
    return time.perf_counter() - t


def scipy_full_seconds(network: WalkingNetwork, sources: np.ndarray, cutoff: float) -> float:
    graph = network.edge_cost(slope=True, stairs_factor=2.0).T.tocsr()
    t = time.perf_counter()
    for start in range(0, sources.size, 250):
        csgraph.dijkstra(graph, directed=True, indices=sources[start:start + 250], limit=cutoff)
    return time.perf_counter() - t


REPEATS = 3  # each method is timed this many times, alternating, and its best time is kept

_BEFORE_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
import siting
assert siting.__file__.startswith(sys.argv[2]), siting.__file__
from benchmarks.cases_walking import coverage_build, district_on, grid_network
network = grid_network(int(sys.argv[3]))
district = district_on(network, int(sys.argv[4]), int(sys.argv[5]))
coverage_build(network, district)  # warm-up, as the in-process timings have had theirs
t = time.perf_counter()
coverage_build(network, district)
print(time.perf_counter() - t)
"""


def before_seconds(tree: Path, side: int, n_demand: int, n_sites: int) -> float:
    """One coverage build (after a warm-up) with the ``siting`` of another checkout, in a new process."""
    src = tree / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", _BEFORE_SCRIPT, str(ROOT), str(src), str(side), str(n_demand),
                          str(n_sites)], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def compare(side: int, n_demand: int, n_sites: int) -> list[Row]:
    """Time siting's coverage build, networkx and scipy on the same work, best of :data:`REPEATS` each.

    The methods alternate (siting, networkx, scipy, siting, ...), so that a burst of load from
    elsewhere on a shared machine falls on all of them alike; the best time of each is kept.
    """
    network = grid_network(side)
    district = district_on(network, n_demand, n_sites)
    cutoff = walk_cutoff_m(default_catalogue())
    sources = np.unique(np.asarray(cKDTree(network.xy).query(district.sites.xy)[1]))  # sites' nearest nodes
    times: dict[str, list[float]] = {"siting": [], "networkx": [], "scipy": [], "before": []}
    before = before_tree()
    pairs = nnz = 0
    for _ in range(REPEATS):
        seconds, (pairs, nnz) = timed(lambda: coverage_build(network, district))
        times["siting"].append(seconds)
        if before:
            times["before"].append(before_seconds(before, side, n_demand, n_sites))
        times["networkx"].append(networkx_seconds(network, sources, cutoff))
        times["scipy"].append(scipy_full_seconds(network, sources, cutoff))
    memory = peak_mb(lambda: coverage_build(network, district))
    seconds, nx_s, sp_s = min(times["siting"]), min(times["networkx"]), min(times["scipy"])
    common = {"nodes": network.n_nodes, "demand": n_demand, "sites": n_sites, "repeats": REPEATS}
    previous: list[Row] = []
    if before:
        b_s = min(times["before"])
        previous = [{**common, "method": f"siting before ({before.name}; whole build, new process)",
                     "seconds": round(b_s, 3), "x_networkx": round(nx_s / b_s, 2)}]
    rows = [
        {**common, "method": "siting (whole coverage build)", "seconds": round(seconds, 3),
         "peak_mb": round(memory, 1), "pairs": pairs, "matrix_nnz": nnz, "x_networkx": round(nx_s / seconds, 2)},
        {**common, "method": "networkx Dijkstra per site (distances only)", "seconds": round(nx_s, 3),
         "x_networkx": 1.0},
        {**common, "method": "scipy dijkstra(limit) on the whole graph (distances only)", "seconds": round(sp_s, 3),
         "peak_mb": round(n_sites * network.n_nodes * 8 / 1e6, 1), "x_networkx": round(nx_s / sp_s, 2)},
    ]
    return rows[:1] + previous + rows[1:]


COLUMNS = ("method", "nodes", "demand", "sites", "repeats", "seconds", "peak_mb", "x_networkx", "pairs",
           "matrix_nnz")


@case("walking-coverage-small", suites=("quick",), columns=COLUMNS,
      title="Walking coverage, small: 10,000-node graph, 5,000 demand points, 200 sites, 15-minute cutoff")
def walking_small(ctx: Context) -> list[Row]:
    return compare(100, 5_000, 200)


@case("walking-coverage", suites=("full",), columns=COLUMNS,
      title="Walking coverage: 100,000-node graph, 50,000 demand points, 2,000 sites, 15-minute cutoff, 3 groups")
def walking_district(ctx: Context) -> list[Row]:
    return compare(316, 50_000, 2_000)


SCALE_COLUMNS = ("vary", "nodes", "demand", "sites", "seconds", "peak_mb", "pairs", "seconds_per_million_pairs")


def scale_row(vary: str, side: int, n_demand: int, n_sites: int) -> Row:
    network = grid_network(side)
    district = district_on(network, n_demand, n_sites)
    seconds, (pairs, _) = timed(lambda: coverage_build(network, district))
    memory = peak_mb(lambda: coverage_build(network, district))
    return {"vary": vary, "nodes": network.n_nodes, "demand": n_demand, "sites": n_sites,
            "seconds": round(seconds, 3), "peak_mb": round(memory, 1), "pairs": pairs,
            "seconds_per_million_pairs": round(seconds / max(pairs, 1) * 1e6, 3)}


@case("walking-scaling", suites=("full",), columns=SCALE_COLUMNS,
      title="Walking coverage: growth with the graph (constant densities) and with the number of sites")
def walking_scaling(ctx: Context) -> list[Row]:
    rows = []
    for side in (158, 224, 316, 447):  # 25k, 50k, 100k, 200k nodes; demand and sites at constant density
        share = side * side / (316 * 316)
        rows.append(scale_row("graph", side, int(50_000 * share), int(2_000 * share)))
    for n_sites in (500, 1_000, 2_000, 4_000):
        rows.append(scale_row("sites", 316, 50_000, n_sites))
    return rows
