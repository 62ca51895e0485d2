"""Real walking networks: pyrosm's Kotka extract against networkx, GraphML, line layers, CSV in GCJ-02."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyrosm
import pytest
import shapely
from pyproj import Geod, Transformer

from siting.data.coords import wgs84_to_gcj02
from siting.errors import DataError
from siting.walking import network_reach, read_network

UTM35 = "EPSG:32635"  # Kotka


@pytest.fixture(scope="module")
def kotka() -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Nodes and edges of the Kotka walking network, straight from pyrosm."""
    osm = pyrosm.OSM(pyrosm.get_data("test_pbf"))
    nodes, edges = osm.get_network(network_type="walking", nodes=True)
    return nodes, edges


def _project(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    tx = Transformer.from_crs("EPSG:4326", UTM35, always_xy=True)
    return np.column_stack(tx.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)))


def _check_against_networkx(reach_metres: dict[tuple[int, int], float], graph: nx.Graph, origins: np.ndarray,
                            destinations: np.ndarray, cutoff: float, tolerance: float) -> int:
    compared = 0
    for i, a in enumerate(origins):
        truth = nx.single_source_dijkstra_path_length(graph, a, cutoff=cutoff, weight="length")
        for j, b in enumerate(destinations):
            if b in truth and truth[b] < cutoff - 1:
                assert reach_metres[(i, j)] == pytest.approx(truth[b], abs=tolerance)
                compared += 1
            elif b not in truth:
                assert (i, j) not in reach_metres
    return compared


def test_pyrosm_extract_is_packaged_not_downloaded() -> None:
    path = Path(pyrosm.get_data("test_pbf"))
    assert path.is_file() and path.parent.name == "data" and "pyrosm" in path.parts


def test_kotka_travel_distances_equal_networkx_to_the_metre(kotka) -> None:  # type: ignore[no-untyped-def]
    nodes, edges = kotka
    # the truth: networkx on pyrosm's edge list, lengths on the WGS84 ellipsoid between the
    # edge's end nodes (pyrosm's edges are straight node-to-node segments)
    at = nodes.set_index("id")
    length = Geod(ellps="WGS84").inv(at.loc[edges["u"], "lon"].to_numpy(), at.loc[edges["u"], "lat"].to_numpy(),
                                     at.loc[edges["v"], "lon"].to_numpy(), at.loc[edges["v"], "lat"].to_numpy())[2]
    assert np.allclose(length, edges["length"], rtol=5e-3)  # pyrosm's spherical figure, for scale
    graph = nx.Graph()
    for a, b, ln in zip(edges["u"], edges["v"], length, strict=True):
        if not graph.has_edge(a, b) or graph[a][b]["length"] > ln:
            graph.add_edge(a, b, length=float(ln))
    net = read_network(path="pyrosm:test_pbf", to_crs=UTM35)
    assert net.n_nodes == len(nodes) and net.n_edges == len(edges)
    rng = np.random.default_rng(7)
    ids = np.array(sorted(graph.nodes))
    origins, destinations = rng.choice(ids, 80, replace=False), rng.choice(ids, 60, replace=False)
    o_xy = _project(at.loc[origins, "lon"], at.loc[origins, "lat"])
    d_xy = _project(at.loc[destinations, "lon"], at.loc[destinations, "lat"])
    reach, so, sd = network_reach(net, o_xy, d_xy, cutoff_m=4000.0, slope=False)
    assert np.all(so.offset_m < 1e-6) and np.all(sd.offset_m < 1e-6)
    got = {(int(a), int(b)): float(m) for a, b, m in zip(reach.origin, reach.destination, reach.metres, strict=True)}
    assert _check_against_networkx(got, graph, origins, destinations, 4000.0, tolerance=0.01) > 1000


def test_osmnx_graphml_with_curved_edges_equals_networkx(kotka, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ox = pytest.importorskip("osmnx")
    nodes, edges = kotka
    osm = pyrosm.OSM(pyrosm.get_data("test_pbf"))
    graph = osm.to_graph(nodes, edges, graph_type="networkx", retain_all=True)  # simplified: curved edges
    assert any(len(d["geometry"].coords) > 2 for *_, d in graph.edges(data=True))
    path = tmp_path / "kotka.graphml"
    ox.save_graphml(graph, path)
    net = read_network(path=path, to_crs=UTM35)
    rng = np.random.default_rng(3)
    ids = np.array(sorted(graph.nodes))
    origins, destinations = rng.choice(ids, 50, replace=False), rng.choice(ids, 40, replace=False)
    o_xy = _project([graph.nodes[i]["x"] for i in origins], [graph.nodes[i]["y"] for i in origins])
    d_xy = _project([graph.nodes[i]["x"] for i in destinations], [graph.nodes[i]["y"] for i in destinations])
    reach, _, _ = network_reach(net, o_xy, d_xy, cutoff_m=3000.0)
    got = {(int(a), int(b)): float(m) for a, b, m in zip(reach.origin, reach.destination, reach.metres, strict=True)}
    truth_graph = nx.Graph()
    for a, b, d in graph.edges(data=True):
        if not truth_graph.has_edge(a, b) or truth_graph[a][b]["length"] > d["length"]:
            truth_graph.add_edge(a, b, length=float(d["length"]))
    assert _check_against_networkx(got, truth_graph, origins, destinations, 3000.0, tolerance=0.01) > 300


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_line_layer_matches_the_pbf_network(kotka, tmp_path, suffix) -> None:  # type: ignore[no-untyped-def]
    _, edges = kotka
    path = tmp_path / f"streets{suffix}"
    edges[["highway", "geometry"]].to_file(path)
    lines = read_network(path=path, to_crs=UTM35)
    pbf = read_network(path="pyrosm:test_pbf", to_crs=UTM35)
    assert lines.n_edges == pbf.n_edges
    rng = np.random.default_rng(1)
    pts = pbf.xy[rng.choice(pbf.n_nodes, 40, replace=False)]
    a, _, _ = network_reach(lines, pts[:20], pts[20:], cutoff_m=3000.0)
    b, _, _ = network_reach(pbf, pts[:20], pts[20:], cutoff_m=3000.0)
    assert np.array_equal(a.origin, b.origin) and np.array_equal(a.destination, b.destination)
    assert np.allclose(a.metres, b.metres, atol=1e-6)  # both geodesic from the same geometry


def test_line_layer_with_z_is_directed(tmp_path: Path) -> None:
    tx = Transformer.from_crs(UTM35, "EPSG:4326", always_xy=True)
    x, y = tx.transform([500000.0, 500100.0, 500200.0], [6700000.0, 6700000.0, 6700000.0])
    gdf = gpd.GeoDataFrame({"highway": ["footway", "steps"]},
                           geometry=[shapely.LineString([(x[0], y[0], 0.0), (x[1], y[1], 10.0)]),
                                     shapely.LineString([(x[1], y[1], 10.0), (x[2], y[2], 10.0)])], crs="EPSG:4326")
    gdf.to_file(tmp_path / "hill.geojson")
    net = read_network(path=tmp_path / "hill.geojson", to_crs=UTM35)
    assert net.elevation is not None and net.stairs.tolist() == [False, True]
    start, end = np.array([[500000.0, 6700000.0]]), np.array([[500200.0, 6700000.0]])
    up, _, _ = network_reach(net, start, end, cutoff_m=2000, stairs_factor=2.0)
    down, _, _ = network_reach(net, end, start, cutoff_m=2000, stairs_factor=2.0)
    assert up.metres[0] > down.metres[0]


def test_csv_network_in_gcj02(tmp_path: Path) -> None:
    lon, lat = np.array([106.530, 106.531, 106.532]), np.array([29.578, 29.578, 29.579])
    glon, glat = wgs84_to_gcj02(lon, lat)
    pd.DataFrame({"u": ["a", "b"], "v": ["b", "c"]}).to_csv(tmp_path / "edges.csv", index=False)
    out = {}
    for datum, (x, y) in {"wgs84": (lon, lat), "gcj02": (glon, glat)}.items():
        pd.DataFrame({"id": ["a", "b", "c"], "lon": x, "lat": y}).to_csv(tmp_path / f"{datum}.csv", index=False)
        out[datum] = read_network(nodes=tmp_path / f"{datum}.csv", edges=tmp_path / "edges.csv",
                                  to_crs="EPSG:32648", default_coordinates=datum).xy
    assert np.max(np.hypot(*(out["wgs84"] - out["gcj02"]).T)) < 0.01


def test_reader_mistakes_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not an extract shipped with pyrosm"):
        read_network(path="pyrosm:china_latest", to_crs=UTM35)
    with pytest.raises(DataError, match="not found"):
        read_network(path=tmp_path / "missing.osm.pbf", to_crs=UTM35)
    with pytest.raises(DataError, match="always WGS84"):
        read_network(path="pyrosm:test_pbf", to_crs=UTM35, coordinates="gcj02")
    gpd.GeoDataFrame(geometry=[shapely.Point(26.9, 60.5)], crs="EPSG:4326").to_file(tmp_path / "pts.geojson")
    with pytest.raises(DataError, match="made of lines"):
        read_network(path=tmp_path / "pts.geojson", to_crs=UTM35)
    (tmp_path / "bad.graphml").write_text("<graphml><not-closed>")
    with pytest.raises(DataError, match="GraphML"):
        read_network(path=tmp_path / "bad.graphml", to_crs=UTM35)
    (tmp_path / "net.txt").write_text("x")
    with pytest.raises(DataError, match="format"):
        read_network(path=tmp_path / "net.txt", to_crs=UTM35)
