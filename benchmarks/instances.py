"""Readers of the public facility-location benchmark instances, shared by tests and benchmarks.

The instances themselves are not part of ``siting``: they live in a folder beside the
checkout (``../shared/benchmarks/``, or wherever ``SITING_BENCHMARKS`` points) and are read
from a path given by the caller. Formats, sources and conventions:

* OR-Library p-median ``pmed1.txt`` … ``pmed40.txt`` (Beasley 1985): ``n m p``, then ``m``
  undirected edges ``i j cost`` (1-based). When an edge is listed more than once, the LAST
  occurrence wins (this is how the published optima were computed); distances are shortest
  paths over the graph; every vertex is a demand point of weight 1 and a candidate site.
  ``pmedopt.txt`` lists the proven optima.
* Capacitated p-median of São José dos Campos, ``SJC1.dat`` … ``SJC4b.dat`` (Lorena & Senne
  2004): ``n p``, then ``n`` lines ``x y capacity demand``. The cost of an assignment is the
  plain Euclidean distance (not weighted by demand); demand enters only the capacities.
* Maximal covering, São José dos Campos ``SJC324.txt`` … (Lorena & Pereira 2002): ``n 9999 p S``,
  then ``n`` lines ``x y demand``; every point is a demand point and a candidate site.
* Maximal covering, Cordeau, Furini & Ljubić (EJOR 2019) ``BDS1000.txt`` …: ``n_facilities
  n_customers``, then ``F idx x y cost`` and ``C idx x y demand`` lines.
* Maximal covering on graphs ``GR100.txt``, ``B700.txt`` …: ``n m ...``, then edges ``i j cost``
  whose ``k``-th line carries the demand of vertex ``k`` in a fourth field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import shortest_path

from siting.errors import DataError

#: Proven optima of the capacitated p-median instances of São José dos Campos.
SJC_CPMP_OPTIMA: dict[str, float] = {
    "SJC1": 17288.99, "SJC2": 33270.94, "SJC3a": 45335.16, "SJC3b": 40635.90,
    "SJC4a": 61925.51, "SJC4b": 52458.02,
}


@dataclass(frozen=True)
class PMedianInstance:
    """A (capacitated) p-median instance: every vertex is a demand point and a candidate site.

    Attributes
    ----------
    name
        Instance name (file stem).
    p
        Number of medians to open.
    cost
        Dense (demand × site) assignment cost.
    capacity, demand
        Per site capacity and per demand point demand, for capacitated instances (else ``None``).
    """

    name: str
    p: int
    cost: np.ndarray
    capacity: np.ndarray | None = None
    demand: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of vertices."""
        return int(self.cost.shape[0])


@dataclass(frozen=True)
class CoveringInstance:
    """A maximal covering instance in the plane.

    Attributes
    ----------
    name
        Instance name (file stem).
    demand_xy, demand
        Demand point coordinates (n × 2) and weights.
    site_xy, site_cost
        Candidate site coordinates (m × 2) and costs.
    """

    name: str
    demand_xy: np.ndarray
    demand: np.ndarray
    site_xy: np.ndarray
    site_cost: np.ndarray

    def within(self, radius: float) -> sparse.csr_matrix:
        """Boolean (demand × site) matrix: Euclidean distance at most ``radius``."""
        from scipy.spatial import cKDTree

        d = cKDTree(self.demand_xy).sparse_distance_matrix(cKDTree(self.site_xy), radius, output_type="ndarray")
        return sparse.csr_matrix((np.ones(d.size, dtype=bool), (d["i"], d["j"])),
                                 shape=(len(self.demand), len(self.site_cost)))


def shared_benchmarks_dir(default: Path | None = None) -> Path:
    """The shared benchmark folder: ``SITING_BENCHMARKS`` if set, else ``default``.

    Parameters
    ----------
    default
        Where to look without the environment variable (callers pass ``<checkout>/../shared/benchmarks``).
    """
    env = os.environ.get("SITING_BENCHMARKS")
    if env:
        return Path(env)
    return default if default is not None else Path("..") / "shared" / "benchmarks"


def _numbers(path: Path, what: str) -> list[list[str]]:
    """Non-empty lines of a text file split on whitespace; a clear error when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} file not found; check the path or set SITING_BENCHMARKS")
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def _ints(path: Path, row: list[str], count: int, line: int, what: str) -> list[int]:
    try:
        return [int(float(v)) for v in row[:count]]
    except (ValueError, IndexError):
        raise DataError(f"{path}, line {line}: expected {what}, got {' '.join(row)!r}") from None


def _table(path: Path, rows: list[list[str]], width: int, first_line: int, what: str) -> np.ndarray:
    """Rows of numbers of a fixed width; the first bad line is named."""
    out = np.empty((len(rows), width))
    for k, row in enumerate(rows):
        try:
            out[k] = [float(v) for v in row[:width]]
        except ValueError:
            raise DataError(f"{path}, line {first_line + k}: expected {what}, got {' '.join(row)!r}") from None
        if len(row) < width:
            raise DataError(f"{path}, line {first_line + k}: expected {what}, got {' '.join(row)!r}")
    return out


def _graph_distances(path: Path, n: int, edges: np.ndarray, connected: bool = True) -> np.ndarray:
    """All-pairs shortest paths of an undirected graph; a repeated edge keeps its LAST cost.

    With ``connected``, a disconnected graph is an error; otherwise unreachable pairs are ``inf``.
    """
    i = edges[:, 0].astype(np.int64) - 1
    j = edges[:, 1].astype(np.int64) - 1
    if i.size and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n):
        raise DataError(f"{path}: an edge names a vertex outside 1..{n}")
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    # first occurrence in the reversed list = last occurrence in the file
    _, rev_first = np.unique(key[::-1], return_index=True)
    last = key.size - 1 - rev_first
    keep = last[lo[last] != hi[last]]
    w = edges[keep, 2]
    g = sparse.csr_matrix((np.concatenate([w, w]), (np.concatenate([lo[keep], hi[keep]]),
                                                    np.concatenate([hi[keep], lo[keep]]))), shape=(n, n))
    dist = shortest_path(g, method="D", directed=False)
    if connected and not np.isfinite(dist).all():
        raise DataError(f"{path}: the graph is not connected")
    out: np.ndarray = dist
    return out


def read_orlib_pmed(path: Path | str) -> PMedianInstance:
    """Read an OR-Library p-median file (``pmedN.txt``)."""
    path = Path(path)
    rows = _numbers(path, "OR-Library p-median")
    if not rows:
        raise DataError(f"{path}: empty file; expected a first line 'n m p'")
    n, m, p = _ints(path, rows[0], 3, 1, "'n m p'")
    if len(rows) - 1 < m:
        raise DataError(f"{path}: the first line announces {m} edges but the file has {len(rows) - 1}")
    edges = _table(path, rows[1:m + 1], 3, 2, "an edge 'i j cost'")
    return PMedianInstance(path.stem, p, _graph_distances(path, n, edges))


def read_pmedopt(path: Path | str) -> dict[str, float]:
    """Read ``pmedopt.txt``: instance name → proven optimal objective."""
    path = Path(path)
    out = {}
    for row in _numbers(path, "pmedopt"):
        if len(row) >= 2 and row[0].lower().startswith("pmed"):
            try:
                out[row[0]] = float(row[1])
            except ValueError:
                continue
    if not out:
        raise DataError(f"{path}: no 'pmedN value' lines found")
    return out


def read_sjc_cpmp(path: Path | str) -> PMedianInstance:
    """Read a capacitated p-median file of São José dos Campos (``SJC1.dat`` …)."""
    path = Path(path)
    rows = _numbers(path, "SJC capacitated p-median")
    if not rows:
        raise DataError(f"{path}: empty file; expected a first line 'n p'")
    n, p = _ints(path, rows[0], 2, 1, "'n p'")
    if len(rows) - 1 < n:
        raise DataError(f"{path}: the first line announces {n} points but the file has {len(rows) - 1}")
    t = _table(path, rows[1:n + 1], 4, 2, "'x y capacity demand'")
    xy = t[:, :2]
    cost = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    return PMedianInstance(path.stem, p, cost, capacity=t[:, 2], demand=t[:, 3])


def read_mclp_sjc(path: Path | str) -> CoveringInstance:
    """Read a maximal covering file of São José dos Campos (``SJC324.txt`` …); sites cost 1."""
    path = Path(path)
    rows = _numbers(path, "SJC maximal covering")
    if not rows:
        raise DataError(f"{path}: empty file; expected a first line 'n 9999 p S'")
    (n,) = _ints(path, rows[0], 1, 1, "'n 9999 p S'")
    if len(rows) - 1 < n:
        raise DataError(f"{path}: the first line announces {n} points but the file has {len(rows) - 1}")
    t = _table(path, rows[1:n + 1], 3, 2, "'x y demand'")
    return CoveringInstance(path.stem, t[:, :2], t[:, 2], t[:, :2].copy(), np.ones(n))


def read_bds(path: Path | str) -> CoveringInstance:
    """Read a Cordeau–Furini–Ljubić maximal covering file (``BDS10000.txt`` …)."""
    path = Path(path)
    rows = _numbers(path, "BDS maximal covering")
    if not rows:
        raise DataError(f"{path}: empty file; expected a first line 'n_facilities n_customers'")
    nf, nc = _ints(path, rows[0], 2, 1, "'n_facilities n_customers'")
    f_rows = [r[2:] for r in rows[1:] if r[0] == "F"]
    c_rows = [r[2:] for r in rows[1:] if r[0] == "C"]
    if len(f_rows) != nf or len(c_rows) != nc:
        raise DataError(f"{path}: the first line announces {nf} facilities and {nc} customers but the file "
                        f"has {len(f_rows)} 'F' and {len(c_rows)} 'C' lines")
    f = _table(path, f_rows, 3, 2, "'F idx x y cost'")
    c = _table(path, c_rows, 3, 2 + nf, "'C idx x y demand'")
    return CoveringInstance(path.stem, c[:, :2], c[:, 2], f[:, :2], f[:, 2])


def read_mclp_graph(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Read a graph maximal covering file (``GR100.txt``, ``B700.txt``).

    Returns
    -------
    tuple of numpy.ndarray
        Shortest-path distances between vertices (same duplicate-edge convention as the
        p-median files; ``inf`` between vertices the graph does not connect) and the demand of
        each vertex.
    """
    path = Path(path)
    rows = _numbers(path, "graph maximal covering")
    if not rows:
        raise DataError(f"{path}: empty file; expected a first line 'n m ...'")
    n, m = _ints(path, rows[0], 2, 1, "'n m ...'")
    body = rows[1:m + 1]
    if len(body) < max(m, n):
        raise DataError(f"{path}: the first line announces {m} edges but the file has {len(body)}")
    edges = _table(path, body, 3, 2, "an edge 'i j cost'")
    demand = _table(path, [r[3:4] for r in body[:n]], 1, 2, "a demand in the fourth field")[:, 0]
    return _graph_distances(path, n, edges, connected=False), demand


__all__ = ["SJC_CPMP_OPTIMA", "CoveringInstance", "PMedianInstance", "read_bds", "read_mclp_graph",
           "read_mclp_sjc", "read_orlib_pmed", "read_pmedopt", "read_sjc_cpmp", "shared_benchmarks_dir"]
