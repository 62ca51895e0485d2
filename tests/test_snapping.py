"""Snapping to edges, off-network walks, far points and cut-off parts reported, coverage per group speed."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml

import legacy_catalogue
from siting.coverage import build_coverage
from siting.data.catalogue import build_catalogue
from siting.data.district import Demand, District, Existing, Sites
from siting.data.scenario import load_scenario
from siting.errors import DataError, ScenarioError
from siting.pipeline import prepare, run_scenario
from siting.report import write_run_outputs
from siting.walking import WalkingNetwork, isolated_origins, network_reach, snap, tobler_factor
from siting.walking.snapping import _nearest_edges


def _line() -> WalkingNetwork:
    xy = np.array([[0.0, 0.0], [400.0, 0.0], [800.0, 0.0]])
    return WalkingNetwork(xy, None, np.array([0, 1]), np.array([1, 2]), np.array([400.0, 400.0]),
                          np.zeros(2, dtype=bool))


def test_point_joins_the_foot_of_its_edge_and_walks_the_offset() -> None:
    net = _line()
    s = snap(net, np.array([[100.0, 30.0], [900.0, 0.0]]), limit_m=150)
    assert s.edge.tolist() == [0, 1] and s.fraction == pytest.approx([0.25, 1.0])
    assert s.offset_m == pytest.approx([30.0, 100.0])
    reach, _, _ = network_reach(net, np.array([[100.0, 30.0]]), np.array([[700.0, -40.0]]), cutoff_m=2000)
    assert reach.metres[0] == pytest.approx(30 + 600 + 40)  # hand calculation
    node, _, _ = network_reach(net, np.array([[100.0, 30.0]]), np.array([[700.0, -40.0]]), cutoff_m=2000,
                               snap_to="node")
    assert node.metres[0] == pytest.approx(np.hypot(100, 30) + 800 + np.hypot(100, 40))


def test_same_edge_walk_is_direct() -> None:
    net = _line()
    reach, _, _ = network_reach(net, np.array([[150.0, 5.0]]), np.array([[250.0, -5.0]]), cutoff_m=1000)
    assert reach.metres[0] == pytest.approx(5 + 100 + 5)


def test_nearest_edge_is_exact_against_an_rtree() -> None:
    rng = np.random.default_rng(11)
    xy = rng.uniform(0, 3000, (300, 2))
    u = rng.integers(0, 300, 500)
    v = rng.integers(0, 300, 500)  # long edges in every direction force the exhaustive fallback
    net = WalkingNetwork(xy, None, u, v, np.hypot(*(xy[u] - xy[v]).T), np.zeros(500, dtype=bool))
    pts = rng.uniform(-200, 3200, (2000, 2))
    edge, _, offset = _nearest_edges(net, pts, 120.0)
    tree = shapely.STRtree(shapely.linestrings(np.stack([xy[u], xy[v]], axis=1)))
    (pi, _), dist = tree.query_nearest(shapely.points(pts), max_distance=120.0, return_distance=True,
                                       all_matches=False)
    truth = np.full(len(pts), np.inf)
    truth[pi] = dist
    assert np.array_equal(np.isfinite(truth), edge >= 0)
    assert np.allclose(offset[edge >= 0], truth[edge >= 0], atol=1e-9)


def test_off_network_points_with_slope_equal_networkx_on_split_edges() -> None:
    """Independent truth: split every edge at the feet of its points in networkx, then Dijkstra."""
    rng = np.random.default_rng(5)
    side = 8
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([jj.ravel() * 60.0, ii.ravel() * 60.0]) + rng.uniform(-8, 8, (side * side, 2))
    elev = rng.uniform(0, 12, side * side)
    idx = ii * side + jj
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    stairs = rng.random(u.size) < 0.1
    net = WalkingNetwork(xy, elev, u, v, np.hypot(*(xy[u] - xy[v]).T), stairs)
    origins = rng.uniform(0, 420, (25, 2))
    dests = rng.uniform(0, 420, (12, 2))
    reach, so, sd = network_reach(net, origins, dests, cutoff_m=500, stairs_factor=2.5, chunk=5)
    fwd, bwd = net.directed_costs(slope=True, stairs_factor=2.5)
    g = nx.DiGraph()
    cuts: dict[int, list[tuple[float, str, float, bool]]] = {}
    for k, (s, kind) in enumerate([(so, "o"), (sd, "d")]):
        del k
        for p in range(s.n_points):
            cuts.setdefault(int(s.edge[p]), []).append((float(s.fraction[p]), f"{kind}{p}", float(s.offset_m[p]),
                                                        kind == "o"))
    for e in range(net.n_edges):
        stops = [(0.0, f"n{u[e]}")] + [(t, f"f{name}") for t, name, _, _ in sorted(cuts.get(e, []))] + \
                [(1.0, f"n{v[e]}")]
        for (t0, a), (t1, b) in itertools.pairwise(stops):
            g.add_edge(a, b, w=(t1 - t0) * fwd[e])
            g.add_edge(b, a, w=(t1 - t0) * bwd[e])
        for _t, name, off, is_origin in cuts.get(e, []):
            if is_origin:
                g.add_edge(name, f"f{name}", w=off)
            else:
                g.add_edge(f"f{name}", name, w=off)
    got = {(int(a), int(b)): m for a, b, m in zip(reach.origin, reach.destination, reach.metres, strict=True)}
    checked = 0
    for i in range(len(origins)):
        truth = nx.single_source_dijkstra_path_length(g, f"o{i}", cutoff=500, weight="w")
        for j in range(len(dests)):
            if f"d{j}" in truth and truth[f"d{j}"] < 499.9:
                assert got[(i, j)] == pytest.approx(truth[f"d{j}"], abs=1e-6)
                checked += 1
            elif f"d{j}" not in truth:
                assert (i, j) not in got
    assert checked > 50


def test_far_points_and_cut_off_parts_are_reported_not_fatal() -> None:
    # two separate streets; the site is on the first one only
    xy = np.array([[0.0, 0.0], [300.0, 0.0], [0.0, 1000.0], [300.0, 1000.0]])
    net = WalkingNetwork(xy, None, np.array([0, 2]), np.array([1, 3]), np.array([300.0, 300.0]),
                         np.zeros(2, dtype=bool))
    demand = np.array([[100.0, 10.0], [100.0, 1010.0], [100.0, 600.0]])
    reach, so, sd = network_reach(net, demand, np.array([[200.0, -10.0]]), cutoff_m=1000, snap_limit_m=150)
    assert so.too_far.tolist() == [False, False, True]
    assert isolated_origins(net, so, sd).tolist() == [False, True, False]
    assert reach.origin.tolist() == [0]


def _flat_district(distances: list[float]) -> District:
    n = len(distances)
    return District("flat", "EPSG:32648",
                    Demand(np.array([f"D{i}" for i in range(n)], dtype=object),
                           np.column_stack([distances, np.zeros(n)]), np.ones((n, 3))),
                    Sites(np.array(["S0"], dtype=object), np.array(["s"], dtype=object), np.array([""], dtype=object),
                          np.zeros((1, 2)), np.array([1000.0]), np.array([1.0]), np.ones((1, 1), dtype=bool)),
                    Existing(np.array([], dtype=object), np.array([], dtype=object), np.zeros(0, dtype=np.int64),
                             np.zeros((0, 2))),
                    ("health_station",), ("children", "working", "elderly"))


def test_flat_walk_limit_is_each_groups_speed_and_slope_slows_it() -> None:
    catalogue = build_catalogue([legacy_catalogue.service("health_station")], legacy_catalogue.GROUPS,
                                replace=True)  # 5 minutes at each group's speed, all three groups
    limits = {g.key: 5 * 60 * g.speed_m_s for g in catalogue.age_groups}
    distances = [limits["elderly"] - 1, limits["elderly"] + 1, limits["working"] - 1, limits["working"] + 1]
    district = _flat_district(distances)
    xy = np.array([[0.0, 0.0], [1000.0, 0.0]])
    flat = WalkingNetwork(xy, np.zeros(2), np.array([0]), np.array([1]), np.array([1000.0]), np.zeros(1, dtype=bool))
    reach, _, _ = network_reach(flat, district.demand.xy, district.sites.xy, cutoff_m=400)
    cov = build_coverage(district, catalogue, reach, reach.columns(0, 0))
    by_group = {catalogue.group_keys[g]: r.toarray()[:, 0].tolist() for (_s, g), r in zip(cov.pairs, cov.reach,
                                                                                         strict=True)}
    assert by_group["elderly"] == [True, False, False, False]
    assert by_group["working"] == [True, True, True, False]
    # the same street rising 5 % towards the site: uphill walks take longer, fewer working-age are covered
    hill = WalkingNetwork(xy, np.array([50.0, 0.0]), np.array([0]), np.array([1]), np.array([1000.0]),
                          np.zeros(1, dtype=bool))
    up, _, _ = network_reach(hill, district.demand.xy, district.sites.xy, cutoff_m=500)
    assert up.metres == pytest.approx(np.array(distances) / tobler_factor(0.05))
    assert build_coverage(district, catalogue, up, up.columns(0, 0)).reach[1].toarray()[:, 0].tolist() == \
        [True, True, False, False]


def _write_network_scenario(folder: Path) -> Path:
    lon0, lat0 = 106.53, 29.578
    nodes = pd.DataFrame({"id": ["a", "b", "c", "d"], "lon": [lon0, lon0 + 0.004, lon0, lon0 + 0.004],
                          "lat": [lat0, lat0, lat0 + 0.01, lat0 + 0.01]})
    nodes.to_csv(folder / "nodes.csv", index=False)
    pd.DataFrame({"u": ["a", "c"], "v": ["b", "d"]}).to_csv(folder / "edges.csv", index=False)
    pd.DataFrame({"id": ["D0", "D1", "D2"], "lon": [lon0 + 0.001, lon0 + 0.001, lon0 + 0.001],
                  "lat": [lat0 + 0.0002, lat0 + 0.0102, lat0 + 0.005], "children": 10, "working": 30,
                  "elderly": 20}).to_csv(folder / "demand.csv", index=False)
    pd.DataFrame({"id": ["S0", "S1"], "lon": [lon0 + 0.003, lon0 + 0.002], "lat": [lat0 - 0.0002, lat0 + 0.004],
                  "floor_area_m2": [900, 900], "retrofit_cost": [100000, 100000]}).to_csv(folder / "sites.csv",
                                                                                        index=False)
    path = folder / "net.yaml"
    path.write_text(yaml.safe_dump({
        "name": "net", "budget": 5e6, "services": ["health_station", "canteen"],
        "data": {"demand": "demand.csv", "sites": "sites.csv",
                 "network": {"nodes": "nodes.csv", "edges": "edges.csv"}},
        "walking": {"mode": "network", "snap_limit_m": 150},
        **legacy_catalogue.scenario_fields(["health_station", "canteen"])}))
    return path


def test_run_reports_far_points_and_cut_off_demand(tmp_path: Path) -> None:
    run = run_scenario(load_scenario(_write_network_scenario(tmp_path)))
    notes = " ".join(run.prepared.walking.notes)
    assert "1 demand points (60 residents) are more than 150 m" in notes and "D2" in notes
    assert "1 candidate sites are more than 150 m" in notes and "S1" in notes
    assert "1 demand points (60 residents) lie on a part of the walking network" in notes and "D1" in notes
    out = write_run_outputs(run, tmp_path / "out")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["walking"]["snapping"] == {"demand_beyond_snap_limit": 1, "sites_beyond_snap_limit": 1,
                                              "existing_beyond_snap_limit": 0, "demand_cut_off_from_every_site": 1}
    rows = summary["walking"]["straight_vs_network"]["by_age_group"]
    assert [r["age_group"] for r in rows] == ["children", "working", "elderly"]
    for r in rows:  # a walk is never shorter than the straight line
        assert r["potential_network"] <= r["potential_straight"]
    assert "straight-vs-network" in (out / "report.html").read_text()


def test_network_scenario_fields_are_checked(tmp_path: Path) -> None:
    path = _write_network_scenario(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["data"]["network"]["path"] = "pyrosm:test_pbf"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ScenarioError, match="either 'path' or 'nodes' and 'edges'"):
        load_scenario(path)
    raw["data"]["network"] = {"path": "pyrosm:test_pbf"}
    path.write_text(yaml.safe_dump(raw))
    assert load_scenario(path).data.network.path == "pyrosm:test_pbf"  # type: ignore[union-attr]
    raw["data"]["network"] = {"path": "streets.gpkg", "layer": "walk"}
    path.write_text(yaml.safe_dump(raw))
    assert load_scenario(path).data.network.path == str(tmp_path / "streets.gpkg")  # type: ignore[union-attr]
    with pytest.raises(DataError, match=r"streets\.gpkg"):
        prepare(load_scenario(path))
